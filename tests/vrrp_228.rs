//! End to end, in network namespaces: the keywords keepalived 2.2.8 added that we apply
//! (keepalived 2.2.7, installed here, rejects them): `v3_checksum_as_v2` on the wire (tshark)
//! and against a real 2.2.7 peer, `no_virtual_ipaddress`, `json_version 2` and
//! `timer_expired_backup`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::interop;
use support::netns;
use support::node_daemon;

use std::path::Path;
use std::process::Command;

use interop::{tools_or_skip, Capture};
use node_daemon::*;

const VIP: &str = "192.0.2.100";

/// A VRRPv3 IPv4 instance (advert_int 1) with `extra` lines and VIP `VIP` unless
/// `vips` is false.
fn v3_conf(global: &str, prio: u8, extra: &str, vips: bool) -> String {
    let vips = if vips {
        format!("  virtual_ipaddress {{\n    {VIP}/32\n  }}\n")
    } else {
        String::new()
    };
    format!(
        "global_defs {{\n  router_id test\n{global}}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         version 3\n  priority {prio}\n  advert_int 1\n{extra}{vips}}}\n"
    )
}

/// tshark's verdict on each VRRP checksum of `pcap` sent from `src` (1 good, 0 bad), with
/// Wireshark's `vrrp.v3_checksum_as_in_v2` preference set to `as_v2`.
fn checksum_verdicts(pcap: &Path, src: &str, as_v2: bool) -> Vec<String> {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(pcap)
        .args([
            "-o",
            &format!(
                "vrrp.v3_checksum_as_in_v2:{}",
                if as_v2 { "TRUE" } else { "FALSE" }
            ),
        ])
        .args(["-Y", &format!("vrrp && ip.src == {src}")])
        .args(["-T", "fields", "-e", "vrrp.checksum.status"])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `v3_checksum_as_v2`: our adverts carry the checksum without the IPv4 pseudo-header
/// (tshark agrees only with its "as in v2" preference); we still accept a real 2.2.7
/// master's standard adverts (we stay BACKUP), and 2.2.7, which has no such option,
/// rejects ours (`Invalid VRRPv3 checksum`) as keepalived 2.2.8 without it would.
#[test]
fn v3_checksum_as_v2_on_the_wire_and_with_keepalived_227() {
    const T: &str = "v3_checksum_as_v2_on_the_wire_and_with_keepalived_227";
    if !netns::can_run() || !real_or_skip(T) || !tools_or_skip(T) {
        return;
    }
    let Some(lan) = lan_or_skip(T, 2) else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cap = Capture::start(&lan, 1, "ip proto 112", dir.path(), "adverts");
    let real = Daemon::start(&lan, 1, true, &v3_conf("", 200, "", true));
    let mut ours = Daemon::start(
        &lan,
        0,
        false,
        &v3_conf("", 100, "  v3_checksum_as_v2\n", true),
    );
    // the real 2.2.7 master's standard adverts are accepted: we stay BACKUP
    expect_master(&lan, 1, &[0, 1], VIP, 20, &[&ours, &real]);
    // 2 s of adverts, then our node takes over: the real one is stopped
    let heard = wait_until(10, || ours.log().contains("(VI_1) Entering BACKUP STATE"));
    assert!(heard, "{}", logs(&[&ours, &real]));
    let mut real = real;
    real.stop();
    expect_master(&lan, 0, &[0, 1], VIP, 20, &[&ours, &real]);
    // a real 2.2.7 backup rejects our adverts
    let real = Daemon::start(&lan, 1, true, &v3_conf("", 50, "", true));
    let rejected = wait_until(20, || real.log().contains("(VI_1) Invalid VRRPv3 checksum"));
    assert!(rejected, "{}", logs(&[&ours, &real]));
    assert!(
        !ours.log().contains("Invalid VRRPv3 checksum"),
        "{}",
        ours.log()
    );
    let me = lan.nodes[0].v4.to_string();
    let sent = || {
        interop::tshark_rows_live(
            &cap.path,
            &format!("vrrp && ip.src == {me}"),
            &["vrrp.prio"],
        )
        .len()
    };
    assert!(wait_until(10, || sent() >= 3), "{}", logs(&[&ours, &real]));
    // The global_defs form gives every instance the same default.
    ours.stop();
    let invalid = || real.log().matches("Invalid VRRPv3 checksum").count();
    let before = invalid();
    let mut ours = Daemon::start(
        &lan,
        0,
        false,
        &v3_conf("  v3_checksum_as_v2\n", 100, "", true),
    );
    let rejected = wait_until(20, || invalid() > before);
    assert!(rejected, "global form: {}", logs(&[&ours, &real]));
    ours.stop();
    drop(real);
    cap.stop();

    let them = lan.nodes[1].v4.to_string();
    let ours_v2 = checksum_verdicts(&cap.path, &me, true);
    assert!(
        ours_v2.len() >= 2 && ours_v2.iter().all(|v| v == "1"),
        "{ours_v2:?}"
    );
    let ours_std = checksum_verdicts(&cap.path, &me, false);
    assert!(ours_std.iter().all(|v| v == "0"), "{ours_std:?}");
    let real_std = checksum_verdicts(&cap.path, &them, false);
    assert!(
        real_std.len() >= 2 && real_std.iter().all(|v| v == "1"),
        "{real_std:?}"
    );
}

/// `no_virtual_ipaddress` with VRRPv3: no `No VIP specified` error, the instance runs and
/// elects a master whose adverts carry no address.
#[test]
fn no_virtual_ipaddress_runs_an_instance_without_vips() {
    const T: &str = "no_virtual_ipaddress_runs_an_instance_without_vips";
    if !netns::can_run() || !tools_or_skip(T) {
        return;
    }
    let Some(lan) = lan_or_skip(T, 2) else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cap = Capture::start(&lan, 1, "ip proto 112", dir.path(), "adverts");
    let conf = |prio| v3_conf("", prio, "  no_virtual_ipaddress\n", false);
    let a = Daemon::start(&lan, 0, false, &conf(150));
    let b = Daemon::start(&lan, 1, false, &conf(100));
    let ok = wait_until(20, || {
        a.log().contains("(VI_1) Entering MASTER STATE")
            && b.log().contains("(VI_1) Entering BACKUP STATE")
    });
    assert!(ok, "{}", logs(&[&a, &b]));
    // the master keeps advertising and the backup stays so
    let rows = || interop::tshark_rows_live(&cap.path, "vrrp", &["ip.src", "vrrp.addr_count"]);
    let adverts = wait_until(10, || rows().len() >= 3);
    assert!(adverts, "{:?}", rows());
    cap.stop();
    let rows = interop::tshark_rows(&cap.path, "vrrp", &["ip.src", "vrrp.addr_count"]);
    let me = lan.nodes[0].v4.to_string();
    assert!(
        rows.iter().all(|r| r == &[me.clone(), "0".into()]),
        "{rows:?}"
    );
    for d in [&a, &b] {
        assert!(!d.log().contains("No VIP specified"), "{}", d.log());
        assert!(!d.log().contains("Entering FAULT"), "{}", d.log());
    }
    assert!(!b.log().contains("Entering MASTER STATE"), "{}", b.log());
}

/// `json_version 2`: `keepalived.json` is an object with the instances under `vrrp` and
/// the tracked processes under `track_process`, with keepalived 2.2.8's keys; without it
/// (or with 1) it stays 2.2.7's array.
#[test]
fn json_version_2_names_the_instances_and_adds_tracked_processes() {
    const T: &str = "json_version_2_names_the_instances_and_adds_tracked_processes";
    if !netns::can_run() {
        return;
    }
    let Some(lan) = lan_or_skip(T, 1) else { return };
    let tp = "vrrp_track_process sleeper {\n  process sleep 1000\n  weight 10\n  quorum 1\n  delay 0.5\n}\n";
    let extra = "  track_process {\n    sleeper\n  }\n";
    let conf = |g: &str| {
        format!(
            "{tp}{}",
            v3_conf(g, 150, extra, true).replace("version 3\n", "")
        )
    };
    let json = |d: &Daemon| -> serde_json::Value {
        let path = d.path("keepalived.json");
        let _ = std::fs::remove_file(&path);
        d.signal(libc::SIGRTMIN() + 2);
        assert!(
            wait_until(10, || path.exists()),
            "no keepalived.json\n{}",
            d.log()
        );
        let mut v = serde_json::Value::Null;
        let parsed = wait_until(5, || {
            std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .map(|j| v = j)
                .is_some()
        });
        assert!(parsed, "{:?}", std::fs::read_to_string(&path));
        v
    };
    let mut d1 = Daemon::start(&lan, 0, false, &conf(""));
    assert!(wait_until(20, || has_addr(&lan, 0, VIP)), "{}", d1.log());
    let v1 = json(&d1);
    assert!(v1.as_array().is_some_and(|a| a.len() == 1), "{v1}");
    d1.stop();

    let d2 = Daemon::start(&lan, 0, false, &conf("  json_version 2\n"));
    assert!(wait_until(20, || has_addr(&lan, 0, VIP)), "{}", d2.log());
    let v2 = json(&d2);
    let inst = &v2["vrrp"];
    assert!(inst.as_array().is_some_and(|a| a.len() == 1), "{v2}");
    assert_eq!(inst[0]["data"]["iname"], "VI_1", "{v2}");
    let p = &v2["track_process"][0];
    assert_eq!(p["process"], "sleeper", "{v2}");
    assert_eq!(p["parameters"], "1000", "{v2}");
    assert_eq!(p["param_match"], "exact", "{v2}");
    assert_eq!(p["min_processes"], 1, "{v2}");
    assert!(p.get("max_processes").is_none(), "{v2}");
    assert_eq!(p["current_processes"], 0, "{v2}");
    assert_eq!(p["have_quorum"], false, "{v2}");
    assert_eq!(p["weight"], 10, "{v2}");
    assert_eq!(p["terminate_delay"], 0.5, "{v2}");
    assert_eq!(p["fork_delay"], 0.5, "{v2}");
    assert_eq!(p["fork_delay_timer_running"], false, "{v2}");
    assert_eq!(p["terminate_delay_timer_running"], false, "{v2}");
    assert_eq!(p["full_command"], true, "{v2}");
}

/// `timer_expired_backup` with `nopreempt`: a MASTER frozen (SIGSTOP) long enough for the
/// backup to take over goes BACKUP when it runs again, without advertising, so the new
/// master keeps the VIP; without the keyword it would advertise its higher priority and
/// take the VIP back.
#[test]
fn timer_expired_backup_yields_after_a_freeze() {
    const T: &str = "timer_expired_backup_yields_after_a_freeze";
    if !netns::can_run() {
        return;
    }
    let Some(lan) = lan_or_skip(T, 2) else { return };
    for keyword in [true, false] {
        let extra = if keyword {
            "  nopreempt\n  timer_expired_backup\n"
        } else {
            "  nopreempt\n"
        };
        let a = Daemon::start(
            &lan,
            0,
            false,
            &v3_conf("", 150, extra, true).replace("version 3\n", ""),
        );
        expect_master(&lan, 0, &[0, 1], VIP, 20, &[&a]);
        let b = Daemon::start(
            &lan,
            1,
            false,
            &v3_conf("", 100, "", true).replace("version 3\n", ""),
        );
        assert!(
            wait_until(20, || b.log().contains("(VI_1) Entering BACKUP STATE")),
            "{}",
            logs(&[&a, &b])
        );
        let vrrp = a.vrrp_pid().expect("vrrp pid");
        let pid = nix::unistd::Pid::from_raw(vrrp);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).expect("SIGSTOP");
        // the backup takes over while A is frozen
        let took = wait_until(20, || has_addr(&lan, 1, VIP));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT).expect("SIGCONT");
        assert!(took, "{}", logs(&[&a, &b]));
        if keyword {
            expect_master(&lan, 1, &[0, 1], VIP, 20, &[&a, &b]);
            assert!(
                wait_until(10, || a.log().contains("VRRP thread timer expired")),
                "{}",
                logs(&[&a, &b])
            );
            // and it stays so for several advert intervals
            let kept = !wait_until(4, || has_addr(&lan, 0, VIP) || !has_addr(&lan, 1, VIP));
            assert!(kept, "{}", logs(&[&a, &b]));
        } else {
            expect_master(&lan, 0, &[0, 1], VIP, 20, &[&a, &b]);
            assert!(
                !a.log().contains("VRRP thread timer expired"),
                "{}",
                a.log()
            );
        }
        drop(a);
        drop(b);
        // the frozen daemon's VIP may be left behind by the kill: clean up for the next round
        let _ = lan.exec(
            0,
            &["ip", "addr", "del", &format!("{VIP}/32"), "dev", "eth0"],
        );
        let _ = lan.exec(
            1,
            &["ip", "addr", "del", &format!("{VIP}/32"), "dev", "eth0"],
        );
    }
}
