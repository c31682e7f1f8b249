//! Fault tests on our daemon: children killed with SIGKILL, link storms,
//! addresses and routes removed by hand, netlink floods, hanging notify scripts, a mute SMTP
//! server, a garbage config on SIGHUP. Each is bounded to a few seconds of faults and then
//! checks that the daemon converged back. Root is needed: loud skip, or failure under CI.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::hostile;
use support::netns;
use support::node_daemon;

use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use node_daemon::*;

const VIP: &str = "192.0.2.100";
const VIP2: &str = "192.0.2.101";

fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with('Z'))
    })
}

fn kill9(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

fn no_panic(d: &Daemon) {
    let log = d.log();
    assert!(!log.contains("panicked"), "panic in the log:\n{log}");
}

/// Kills (by pid) every process whose command line mentions `needle` (a unique temp path).
fn kill_mentioning(needle: &str) {
    let Ok(dir) = fs::read_dir("/proc") else {
        return;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(needle) {
            kill9(pid);
        }
    }
}

/// A child pid file that names a live process other than `old`.
fn wait_new_pid(d: &Daemon, file: &str, old: Option<i32>, secs: u64) -> Option<i32> {
    let mut got = None;
    wait_until(secs, || {
        got = fs::read_to_string(d.path(file))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .filter(|p| Some(*p) != old && alive(*p));
        got.is_some()
    });
    got
}

/// SIGKILL the VRRP child of the master while an attacker floods: the parent respawns it,
/// the backup covers the gap, and the master takes its VIP back (preemption).
#[test]
fn vrrp_child_killed_under_flood_respawns_and_retakes_vip() {
    let Some(lan) = lan_or_skip("vrrp_child_killed_under_flood", 3) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let a = Daemon::start(&lan, 0, false, &conf(200, "", &[&vip]));
    let b = Daemon::start(&lan, 1, false, &conf(100, "", &[&vip]));
    expect_master(&lan, 0, &[0, 1], VIP, 15, &[&a, &b]);
    let src = lan.nodes[2].v4;
    let vip4: Ipv4Addr = VIP.parse().expect("vip");
    let flood = lan.spawn_in(2, move || async move {
        hostile::flood("eth0", src, vip4, Duration::from_secs(8))
    });
    let old = a.vrrp_pid();
    let old_pid = old.expect("vrrp.pid");
    kill9(old_pid);
    let new = wait_new_pid(&a, "vrrp.pid", old, 10);
    assert!(new.is_some(), "VRRP child not respawned\n{}", a.log());
    assert!(a.log().contains("died: Respawning"), "{}", a.log());
    // The backup takes over while the new child starts, then node 0 preempts.
    expect_master(&lan, 0, &[0, 1], VIP, 20, &[&a, &b]);
    let sent: u64 = netns::join(flood).values().sum();
    assert!(sent > 0);
    no_panic(&a);
    no_panic(&b);
}

/// Like `Daemon::start` but with both children (the fixture passes `-P`, VRRP only).
fn start_with_checker(lan: &netns::Lan, node: usize, conf: &str) -> Daemon {
    let d = Daemon {
        child: None,
        dir: tempfile::tempdir().expect("tempdir"),
        ns: lan.nodes[node].ns.clone(),
        real: false,
        extra: Vec::new(),
        env: Vec::new(),
        vrrp_only: false,
    };
    d.write_conf(conf);
    let log = fs::File::create(d.path("log")).expect("log");
    let mut c = std::process::Command::new("ip");
    c.args(["netns", "exec", &d.ns])
        .arg(support::ours())
        .args(["--dont-fork", "--all", "-B", "-l", "-G", "-D", "-f"])
        .arg(d.path("keepalived.conf"))
        .arg("-p")
        .arg(d.path("keepalived.pid"))
        .arg("-r")
        .arg(d.path("vrrp.pid"))
        .arg("-c")
        .arg(d.path("checkers.pid"))
        .arg("-b")
        .arg(d.path("bfd.pid"))
        .env("TMPDIR", d.dir.path())
        .env("KEEPALIVED_STATUS_FILE", d.path("status.json"))
        .env_remove("NOTIFY_SOCKET")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    let mut d = d;
    d.child = Some(c.spawn().expect("spawn keepalived"));
    d
}

/// SIGKILL the checker child: it is respawned and VRRP is not disturbed. This host has no
/// IPVS (a checker with virtual servers exits FATAL here, as keepalived's does), so the
/// checker runs with none (`--all`); IPVS state across restarts is tested in the VM
/// (tests/ipvs.rs).
#[test]
fn checker_child_killed_is_respawned() {
    let Some(lan) = lan_or_skip("checker_child_killed", 1) else {
        return;
    };
    let a = start_with_checker(&lan, 0, &conf(200, "", &[&format!("{VIP}/32")]));
    let old = wait_new_pid(&a, "checkers.pid", None, 10);
    let Some(old) = old else {
        panic!("no checker child\n{}", a.log());
    };
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    let vrrp = a.vrrp_pid();
    kill9(old);
    let new = wait_new_pid(&a, "checkers.pid", Some(old), 10);
    assert!(new.is_some(), "checker child not respawned\n{}", a.log());
    // The VRRP side is not disturbed.
    assert_eq!(a.vrrp_pid(), vrrp);
    assert!(has_addr(&lan, 0, VIP));
    no_panic(&a);
}

/// 50 down/up cycles of the master's eth0 in about 5 s: the pair converges on one master.
#[test]
fn link_flap_storm_converges() {
    let Some(lan) = lan_or_skip("link_flap_storm_converges", 2) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let a = Daemon::start(&lan, 0, false, &conf(200, "", &[&vip]));
    let b = Daemon::start(&lan, 1, false, &conf(100, "", &[&vip]));
    expect_master(&lan, 0, &[0, 1], VIP, 15, &[&a, &b]);
    let ns = lan.nodes[0].ns.clone();
    let t0 = Instant::now();
    for _ in 0..50 {
        netns::must(&["ip", "-n", &ns, "link", "set", "eth0", "down"]);
        std::thread::sleep(Duration::from_millis(40));
        netns::must(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        std::thread::sleep(Duration::from_millis(40));
    }
    let storm = t0.elapsed();
    expect_master(&lan, 0, &[0, 1], VIP, 20, &[&a, &b]);
    // And it stays that way: one master, for a few adverts.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        has_addr(&lan, 0, VIP) && !has_addr(&lan, 1, VIP),
        "storm of {storm:?}\n{}",
        logs(&[&a, &b])
    );
    assert!(a.log().contains("Entering FAULT STATE"), "{}", a.log());
    no_panic(&a);
    no_panic(&b);
}

fn vip_route_conf() -> String {
    conf(
        200,
        "  virtual_routes {\n    198.51.100.0/24 via 192.0.2.254 dev eth0\n  }\n",
        &[&format!("{VIP}/32")],
    )
}

fn has_route(lan: &netns::Lan, i: usize) -> bool {
    lan.ip_json(i, &["route", "show", "198.51.100.0/24"])
        .as_array()
        .is_some_and(|a| !a.is_empty())
}

/// A VIP deleted by hand is restored; a virtual route deleted by hand is restored too
/// (checked against the real keepalived 2.2.7 in `real_route_removed_by_hand`).
#[test]
fn vip_and_route_removed_by_hand_are_restored() {
    let Some(lan) = lan_or_skip("vip_and_route_removed_by_hand", 1) else {
        return;
    };
    let a = Daemon::start(&lan, 0, false, &vip_route_conf());
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    assert!(wait_until(5, || has_route(&lan, 0)), "{}", a.log());
    lan.must(
        0,
        &["ip", "addr", "del", &format!("{VIP}/32"), "dev", "eth0"],
    );
    assert!(wait_until(5, || has_addr(&lan, 0, VIP)), "{}", a.log());
    lan.must(0, &["ip", "route", "del", "198.51.100.0/24"]);
    assert!(
        wait_until(5, || has_route(&lan, 0)),
        "route not restored\n{}",
        a.log()
    );
    no_panic(&a);
}

/// 500 addresses added and removed at once on the master's interface: no panic, the VIP
/// stays. Then a forced overrun of the monitor socket: the resync restores a VIP and a
/// virtual route deleted while events were being lost.
#[test]
fn address_storm_keeps_vips() {
    let Some(lan) = lan_or_skip("address_storm_keeps_vips", 1) else {
        return;
    };
    let a = Daemon::start(&lan, 0, false, &vip_route_conf());
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    let vrrp = a.vrrp_pid();
    let dir = tempfile::tempdir().expect("tempdir");
    let (add, del) = (dir.path().join("add"), dir.path().join("del"));
    let mut add_s = String::new();
    let mut del_s = String::new();
    for i in 0..500u32 {
        let a4 = format!("203.0.113.{}/32", i % 250 + 1);
        let a6 = format!("2001:db8:1::{:x}/128", i + 1);
        let (line, dev) = if i < 250 { (a4, "eth0") } else { (a6, "eth0") };
        add_s.push_str(&format!("addr add {line} dev {dev}\n"));
        del_s.push_str(&format!("addr del {line} dev {dev}\n"));
    }
    fs::write(&add, add_s).expect("write");
    fs::write(&del, del_s).expect("write");
    let ns = lan.nodes[0].ns.clone();
    for _ in 0..3 {
        netns::must(&["ip", "-n", &ns, "-batch", &add.to_string_lossy()]);
        netns::must(&["ip", "-n", &ns, "-batch", &del.to_string_lossy()]);
    }
    // VIP deleted in the middle of the storm too: the resync (or the event) restores it.
    netns::must(&["ip", "-n", &ns, "-batch", &add.to_string_lossy()]);
    lan.must(
        0,
        &["ip", "addr", "del", &format!("{VIP}/32"), "dev", "eth0"],
    );
    netns::must(&["ip", "-n", &ns, "-batch", &del.to_string_lossy()]);
    assert!(wait_until(5, || has_addr(&lan, 0, VIP)), "{}", a.log());
    // Now overrun the monitor socket for sure: freeze the VRRP child (a busy host), churn
    // thousands of netlink events, delete the VIP, thaw it. The child must notice the
    // overrun, resynchronise and put the VIP back.
    let pid = nix::unistd::Pid::from_raw(vrrp.expect("vrrp.pid"));
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP);
    let churn = std::panic::catch_unwind(|| {
        for _ in 0..10 {
            netns::must(&["ip", "-n", &ns, "-batch", &add.to_string_lossy()]);
            netns::must(&["ip", "-n", &ns, "-batch", &del.to_string_lossy()]);
        }
        // Deleted once the socket is full: this event is lost, only a resync finds it.
        lan.must(
            0,
            &["ip", "addr", "del", &format!("{VIP}/32"), "dev", "eth0"],
        );
        lan.must(0, &["ip", "route", "del", "198.51.100.0/24"]);
    });
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGCONT);
    churn.unwrap_or_else(|p| std::panic::resume_unwind(p));
    assert!(
        wait_until(10, || has_addr(&lan, 0, VIP)),
        "VIP not restored after the overrun\n{}",
        a.log()
    );
    assert!(
        wait_until(5, || has_route(&lan, 0)),
        "virtual route not restored after the overrun\n{}",
        a.log()
    );
    assert!(
        a.log()
            .contains("Netlink monitor overrun - events lost, resynchronising"),
        "no overrun seen (buffer too large for this churn?)\n{}",
        a.log()
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(a.vrrp_pid(), vrrp, "{}", a.log());
    assert!(vrrp.is_some_and(alive), "{}", a.log());
    assert!(has_addr(&lan, 0, VIP));
    let overruns = a.log().matches("Netlink monitor overrun").count();
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("address storm: {overruns} netlink overrun(s) seen and resynchronised\n")
            .as_bytes(),
    );
    no_panic(&a);
}

fn hanging_script(dir: &Path) -> String {
    let p = dir.join("hang.sh");
    fs::write(&p, "#!/bin/sh\nexec sleep 60\n").expect("write");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
    p.to_string_lossy().into_owned()
}

/// Notify scripts that never return do not hold up transitions or the stop.
#[test]
fn hanging_notify_script_does_not_block() {
    let Some(lan) = lan_or_skip("hanging_notify_script", 2) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let script = hanging_script(dir.path());
    let extra = format!("  notify \"{script}\"\n  notify_master \"{script}\"\n");
    let vip = format!("{VIP}/32");
    let mut a = Daemon::start(&lan, 0, false, &conf(200, &extra, &[&vip]));
    let b = Daemon::start(&lan, 1, false, &conf(100, &extra, &[&vip]));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        expect_master(&lan, 0, &[0, 1], VIP, 15, &[&a, &b]);
        let t = Instant::now();
        a.stop(); // panics after 10 s
        expect_master(&lan, 1, &[0, 1], VIP, 6, &[&a, &b]);
        t.elapsed()
    }));
    kill_mentioning(&script);
    let took = result.unwrap_or_else(|p| std::panic::resume_unwind(p));
    assert!(took < Duration::from_secs(10), "{took:?}");
    no_panic(&a);
}

/// An SMTP server that accepts and never answers: transitions stay on time.
#[test]
fn mute_smtp_server_does_not_delay_transitions() {
    let Some(lan) = lan_or_skip("mute_smtp_server", 2) else {
        return;
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let server = lan.spawn_in(0, move || async move {
        let l = std::net::TcpListener::bind("127.0.0.1:2525").expect("bind");
        l.set_nonblocking(true).expect("nonblocking");
        let mut held = Vec::new();
        while !stop2.load(Ordering::Relaxed) {
            if let Ok((c, _)) = l.accept() {
                held.push(c); // never written to
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        held.len()
    });
    let global = "global_defs {\n  router_id test\n  smtp_server 127.0.0.1 2525\n  \
                  smtp_connect_timeout 30\n  notification_email {\n    root@localhost\n  }\n  \
                  notification_email_from ka@localhost\n}\n";
    let vip = format!("{VIP}/32");
    let mk = |p: u8| {
        conf(p, "  smtp_alert\n", &[&vip]).replace("global_defs {\n  router_id test\n}\n", global)
    };
    let t0 = Instant::now();
    let mut a = Daemon::start(&lan, 0, false, &mk(200));
    let b = Daemon::start(&lan, 1, false, &mk(100));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        expect_master(&lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
        let to_master = t0.elapsed();
        let t = Instant::now();
        a.stop();
        expect_master(&lan, 1, &[0, 1], VIP, 6, &[&a, &b]);
        (to_master, t.elapsed())
    }));
    stop.store(true, Ordering::Relaxed);
    let held = netns::join(server);
    let (to_master, failover) = result.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "mute SMTP: master after {to_master:?}, failover {failover:?}, {held} SMTP connection(s) held\n"
        )
        .as_bytes(),
    );
    no_panic(&a);
    no_panic(&b);
}

/// A garbage config on SIGHUP is rejected and changes nothing; the next good one applies.
#[test]
fn garbage_config_on_sighup_changes_nothing() {
    garbage_reload(false);
}

/// The same on the real keepalived 2.2.7 (reference; run by hand).
#[test]
#[ignore = "reference run against the real keepalived; run by hand"]
fn real_garbage_config_on_sighup() {
    if real_or_skip("real_garbage_config_on_sighup") {
        garbage_reload(true);
    }
}

fn garbage_reload(real: bool) {
    let Some(lan) = lan_or_skip("garbage_config_on_sighup", 1) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let a = Daemon::start(&lan, 0, real, &conf(200, "", &[&vip]));
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    let vrrp = a.vrrp_pid();
    let mut garbage: Vec<u8> = (0..4000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    garbage.extend_from_slice(b"\nvrrp_instance VI_1 {\n  interface eth0\n");
    fs::write(a.path("keepalived.conf"), &garbage).expect("write");
    a.signal(libc::SIGHUP);
    let reloading = wait_until(5, || a.log().contains("Reloading"));
    if real {
        std::thread::sleep(Duration::from_secs(3));
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "real keepalived after a garbage SIGHUP: VIP held {}, parent alive {}, VRRP child {:?}\n{}",
                has_addr(&lan, 0, VIP),
                alive(a.pid()),
                hostile::vrrp_child(&a),
                a.log()
            )
            .as_bytes(),
        );
    }
    assert!(reloading, "{}", a.log());
    if !real {
        assert!(
            wait_until(5, || a.log().contains("New config failed validation")),
            "{}",
            a.log()
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    assert!(has_addr(&lan, 0, VIP), "{}", a.log());
    assert_eq!(a.vrrp_pid(), vrrp);
    assert_eq!(
        a.log().matches("Entering MASTER STATE").count(),
        1,
        "{}",
        a.log()
    );
    a.write_conf(&conf(200, "", &[&vip, &format!("{VIP2}/32")]));
    a.signal(libc::SIGHUP);
    assert!(
        wait_until(10, || has_addr(&lan, 0, VIP2) && has_addr(&lan, 0, VIP)),
        "{}",
        a.log()
    );
    assert_eq!(a.vrrp_pid(), vrrp);
    no_panic(&a);
}

/// What the real keepalived 2.2.7 does when a virtual route is deleted by hand (reference
/// for `vip_and_route_removed_by_hand_are_restored`).
#[test]
#[ignore = "reference run against the real keepalived; run by hand"]
fn real_route_removed_by_hand() {
    if !real_or_skip("real_route_removed_by_hand") {
        return;
    }
    let Some(lan) = lan_or_skip("real_route_removed_by_hand", 1) else {
        return;
    };
    let a = Daemon::start(&lan, 0, true, &vip_route_conf());
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    assert!(wait_until(5, || has_route(&lan, 0)), "{}", a.log());
    lan.must(0, &["ip", "route", "del", "198.51.100.0/24"]);
    let restored = wait_until(6, || has_route(&lan, 0));
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!(
            "real keepalived restores a deleted virtual route: {restored}\n{}",
            a.log()
        )
        .as_bytes(),
    );
    assert!(has_addr(&lan, 0, VIP));
}

// ---- FAULT reasons: ours and the real keepalived 2.2.7 in the same scenario ----

/// The FAULT lines of a log (instance and sync group lines naming FAULT, a fault state or
/// a disabled instance; and MASTER, which a faulted instance never reaches), without
/// timestamps.
fn fault_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once(": ").map(|(_, m)| m))
        .filter(|m| m.starts_with("(VI_") || m.starts_with("(VJ_") || m.starts_with("VRRP_Group("))
        .filter(|m| {
            m.contains("FAULT")
                || m.contains("fault state")
                || m.contains("- disabling")
                || m.contains("only supported on Ethernet")
                || m.contains("Entering MASTER STATE")
        })
        .filter(|m| !m.contains("notify"))
        .map(str::to_owned)
        .collect()
}

/// One scenario: `setup` prepares node `n` (before start), the daemon runs `conf` (with
/// `VRID` replaced per node so the two never interact), `act` acts on the running node,
/// and the run ends once the log holds `last`. Node 0 runs the real keepalived, node 1
/// ours; their FAULT lines must be the same, and include `expect`.
fn fault_reasons(
    test: &str,
    conf: &str,
    setup: impl Fn(&netns::Lan, usize),
    act: impl Fn(&netns::Lan, usize),
    last: &str,
    expect: &[&str],
) {
    if !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let mut ds = Vec::new();
    for (n, real) in [(0, true), (1, false)] {
        setup(&lan, n);
        let c = conf.replace("VRID", &(51 + n).to_string());
        ds.push(Daemon::start(&lan, n, real, &c));
    }
    for d in &ds {
        assert!(
            wait_until(30, || d.log().contains("Startup complete")),
            "no startup\n{}",
            logs(&[&ds[0], &ds[1]])
        );
    }
    for n in 0..2 {
        act(&lan, n);
    }
    for d in &ds {
        assert!(
            wait_until(30, || d.log().contains(last)),
            "no `{last}`\n{}",
            logs(&[&ds[0], &ds[1]])
        );
    }
    for d in &mut ds {
        d.stop();
    }
    let (real, ours) = (fault_lines(&ds[0].log()), fault_lines(&ds[1].log()));
    assert_eq!(ours, real, "\n{}", logs(&[&ds[0], &ds[1]]));
    for e in expect {
        assert!(ours.iter().any(|l| l == e), "no `{e}` in {ours:?}");
    }
}

fn fault_conf(extra: &str) -> String {
    format!(
        "global_defs {{\n  router_id test\n}}\n{extra}vrrp_instance VI_1 {{\n  state BACKUP\n  \
         interface eth0\n  virtual_router_id VRID\n  priority 100\n  advert_int 1\nINST  \
         virtual_ipaddress {{\n    192.0.2.1VRID/32\n  }}\n}}\n"
    )
}

fn nothing(_: &netns::Lan, _: usize) {}

#[test]
fn fault_reason_no_ipv4_address() {
    let conf = fault_conf("").replace("INST", "");
    fault_reasons(
        "fault_reason_no_ipv4_address",
        &conf,
        |lan, n| {
            lan.must(n, &["ip", "-4", "addr", "flush", "dev", "eth0"]);
        },
        |lan, n| {
            let a = format!("192.0.2.{}/24", n + 1);
            lan.must(n, &["ip", "addr", "add", &a, "dev", "eth0"]);
        },
        "(VI_1) Entering BACKUP STATE",
        &[
            "(VI_1) entering FAULT state (no IPv4 address for interface)",
            "(VI_1) entering FAULT state",
        ],
    );
}

#[test]
fn fault_reason_interfaces_down() {
    // Its own interface down at start, then a tracked one going down while running.
    let conf = fault_conf("").replace("INST", "  track_interface {\n    mv0\n  }\n");
    fault_reasons(
        "fault_reason_interfaces_down",
        &conf,
        |lan, n| {
            lan.must(
                n,
                &[
                    "ip", "link", "add", "mv0", "link", "eth0", "type", "macvlan",
                ],
            );
            lan.must(n, &["ip", "link", "set", "mv0", "up"]);
            lan.must(n, &["ip", "link", "set", "eth0", "down"]);
        },
        |lan, n| {
            lan.must(n, &["ip", "link", "set", "eth0", "up"]);
            assert!(wait_until(10, || lan
                .must(n, &["ip", "link", "show", "mv0"])
                .contains("state UP")));
            std::thread::sleep(Duration::from_millis(1500));
            lan.must(n, &["ip", "link", "set", "mv0", "down"]);
        },
        "(VI_1) Entering FAULT STATE",
        &[
            "(VI_1): entering FAULT state (interface eth0 down)",
            "(VI_1) entering FAULT state",
            "(VI_1) Entering FAULT STATE",
        ],
    );
}

#[test]
fn fault_reason_unicast_no_peer() {
    // `unicast_fault_no_peer` without peers (with another unicast keyword, VI_1, or alone,
    // VI_2): FAULT for good, without a reason line; the FAULT notify is the evidence.
    let dir = tempfile::tempdir().expect("tempdir");
    let mark = |who: &str| dir.path().join(format!("fault-{who}"));
    let touch = |who: &str| {
        format!(
            "  notify_fault \"/usr/bin/touch {}\"\n",
            mark(who).display()
        )
    };
    let vi2 = format!(
        "vrrp_instance VI_2 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 2VRID\n  \
         priority 100\n  unicast_fault_no_peer\n{}  virtual_ipaddress {{\n    192.0.2.2VRID/32\n  }}\n}}\n",
        touch("2-VRID")
    );
    let inst = format!(
        "  unicast_src_ip 192.0.2.99\n  unicast_fault_no_peer\n{}",
        touch("1-VRID")
    );
    let conf = fault_conf(&vi2).replace("INST", &inst);
    fault_reasons(
        "fault_reason_unicast_no_peer",
        &conf,
        nothing,
        |_, n| {
            for who in ["1", "2"] {
                let m = mark(&format!("{who}-{}", 51 + n));
                assert!(
                    wait_until(10, || m.exists()),
                    "no FAULT notify: {}",
                    m.display()
                );
            }
        },
        "Startup complete",
        &[],
    );
}

#[test]
fn fault_reason_trackers_and_sync_group() {
    // A track_file and a weight-0 tracked process faulting at start, and a sync group
    // whose other member follows.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("status");
    fs::write(&f, "1\n").expect("write status");
    let extra = format!(
        "vrrp_track_file tf {{\n  file {}\n  weight 0\n}}\n\
         vrrp_track_process tp {{\n  process no-such-process-anywhere\n  weight 0\n}}\n\
         vrrp_sync_group G {{\n  group {{\n    VI_1\n    VI_2\n  }}\n}}\n\
         vrrp_instance VI_2 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 2VRID\n  \
         priority 100\n  advert_int 1\n  track_process {{\n    tp\n  }}\n  \
         virtual_ipaddress {{\n    192.0.2.2VRID/32\n  }}\n}}\n",
        f.display()
    );
    let conf = fault_conf(&extra).replace("INST", "  track_file {\n    tf\n  }\n");
    fault_reasons(
        "fault_reason_trackers_and_sync_group",
        &conf,
        nothing,
        nothing,
        "Startup complete",
        &[
            "(VI_1): entering FAULT state (tracked file tf has status -254)",
            "(VI_2) entering FAULT state (tracked process tp quorum not achieved)",
        ],
    );
}

#[test]
fn fault_reason_scripts() {
    // A weight-0 script failing from the start, another failing once running.
    let dir = tempfile::tempdir().expect("tempdir");
    let flag = dir.path().join("ok-VRID");
    let extra = format!(
        "vrrp_script bad {{\n  script /bin/false\n  interval 1\n  weight 0\n}}\n\
         vrrp_script later {{\n  script \"/usr/bin/test -e {}\"\n  interval 1\n  weight 0\n}}\n\
         vrrp_instance VI_2 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 2VRID\n  \
         priority 100\n  advert_int 1\n  track_script {{\n    later\n  }}\n  \
         virtual_ipaddress {{\n    192.0.2.2VRID/32\n  }}\n}}\n",
        flag.display()
    );
    let conf = fault_conf(&extra)
        .replace(
            "  router_id test\n",
            "  router_id test\n  enable_script_security\n  script_user root\n",
        )
        .replace("INST", "  track_script {\n    bad\n  }\n");
    for vrid in [51, 52] {
        fs::write(dir.path().join(format!("ok-{vrid}")), "").expect("flag");
    }
    fault_reasons(
        "fault_reason_scripts",
        &conf,
        nothing,
        |_, n| {
            let _ = fs::remove_file(dir.path().join(format!("ok-{}", 51 + n)));
        },
        "(VI_2) Entering FAULT STATE",
        &["(VI_2) Entering FAULT STATE"],
    );
}

#[test]
fn fault_reason_unicast_src_not_configured() {
    // unicast_src_ip that no interface has: the socket cannot bind it.
    let conf = fault_conf("").replace(
        "INST",
        "  unicast_src_ip 198.51.100.77\n  unicast_peer {\n    192.0.2.9\n  }\n",
    );
    fault_reasons(
        "fault_reason_unicast_src_not_configured",
        &conf,
        nothing,
        nothing,
        "Startup complete",
        &["(VI_1): entering FAULT state (src address not configured)"],
    );
}

#[test]
fn fault_reason_no_multicast() {
    // An interface without IFF_MULTICAST and no unicast peers: keepalived disables the
    // instance (FAULT for good, its FAULT notify, never MASTER).
    let dir = tempfile::tempdir().expect("tempdir");
    let mark = |n: usize| dir.path().join(format!("fault-{}", 51 + n));
    let inst = format!(
        "  notify_fault \"/usr/bin/touch {}\"\n",
        dir.path().join("fault-VRID").display()
    );
    let conf = fault_conf("").replace("INST", &inst);
    fault_reasons(
        "fault_reason_no_multicast",
        &conf,
        |lan, n| {
            lan.must(n, &["ip", "link", "set", "eth0", "multicast", "off"]);
        },
        |_, n| assert!(wait_until(10, || mark(n).exists()), "no FAULT notify"),
        "Startup complete",
        &["(VI_1) interface eth0 does not support multicast, specify unicast peers - disabling"],
    );
}

#[test]
fn fault_reason_vmac_on_a_non_ethernet_interface() {
    // `use_vmac` on a tun device (no link layer): keepalived makes no VMAC and the
    // instance stays in FAULT.
    let conf = fault_conf("")
        .replace("INST", "  use_vmac\n")
        .replace("interface eth0", "interface tun0");
    fault_reasons(
        "fault_reason_vmac_on_a_non_ethernet_interface",
        &conf,
        |lan, n| {
            lan.must(n, &["ip", "tuntap", "add", "mode", "tun", "name", "tun0"]);
            let a = format!("198.51.100.{}/24", n + 1);
            lan.must(n, &["ip", "addr", "add", &a, "dev", "tun0"]);
            lan.must(n, &["ip", "link", "set", "tun0", "up"]);
        },
        nothing,
        "Startup complete",
        &["(VI_1): vmacs are only supported on Ethernet type interfaces"],
    );
}

#[test]
fn fault_reason_unicast_no_peer_by_reload() {
    // A reload adding `unicast_fault_no_peer` to an instance without peers faults it; the
    // next one without it brings it back (FAULT notify, then BACKUP and MASTER again).
    unicast_no_peer_by_reload("fault_reason_unicast_no_peer_by_reload", false);
}

#[test]
fn fault_reason_unicast_no_peer_by_reload_in_a_sync_group() {
    // The same for a sync group member. The member itself does what keepalived 2.2.7's
    // does; its group follows it to FAULT in ours, while 2.2.7 leaves the other member
    // MASTER (README, "How it differs").
    unicast_no_peer_by_reload(
        "fault_reason_unicast_no_peer_by_reload_in_a_sync_group",
        true,
    );
}

fn unicast_no_peer_by_reload(test: &str, grouped: bool) {
    if !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let rec = dir.path().join("rec.sh");
    fs::write(&rec, "#!/bin/sh\necho \"$*\" >> \"$0.$3.out\"\n").expect("rec");
    fs::set_permissions(&rec, fs::Permissions::from_mode(0o755)).expect("chmod");
    let conf = |n: usize, fault: bool| {
        let inst = format!(
            "  unicast_src_ip 192.0.2.{}\n{}  notify \"{} VI_{}\"\n",
            n + 1,
            if fault {
                "  unicast_fault_no_peer\n"
            } else {
                ""
            },
            rec.display(),
            n
        );
        let one = fault_conf("")
            .replace("INST", &inst)
            .replace("VRID", &(51 + n).to_string())
            .replace("vrrp_instance VI_1", &format!("vrrp_instance VI_{n}"));
        if !grouped {
            return one;
        }
        // A second member on VRID 61 + n (VIP 192.0.2.1(61 + n)), without the keyword.
        let other = fault_conf("")
            .replace("INST", &format!("  notify \"{} VJ_{n}\"\n", rec.display()))
            .replace("VRID", &(61 + n).to_string())
            .replace("vrrp_instance VI_1", &format!("vrrp_instance VJ_{n}"));
        let other = other.split_once("}\n").map_or("", |(_, rest)| rest);
        format!(
            "{one}{other}vrrp_sync_group G_{n} {{\n  group {{\n    VI_{n}\n    VJ_{n}\n  }}\n}}\n"
        )
    };
    let calls = |n: usize| {
        ["VI", "VJ"]
            .iter()
            .flat_map(|i| {
                fs::read_to_string(format!("{}.{i}_{n}.out", rec.display()))
                    .unwrap_or_default()
                    .lines()
                    .map(|l| l.replace(&format!("_{n}"), ""))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let mut ds: Vec<Daemon> = [(0, true), (1, false)]
        .into_iter()
        .map(|(n, real)| Daemon::start(&lan, n, real, &conf(n, false)))
        .collect();
    let vips = |n: usize| {
        let mut v = vec![format!("192.0.2.1{}", 51 + n)];
        if grouped {
            v.push(format!("192.0.2.1{}", 61 + n));
        }
        v
    };
    let all = |ds: &[Daemon]| logs(&ds.iter().collect::<Vec<_>>());
    // MASTER (multicast fallback), FAULT after the reload adding the keyword, MASTER
    // again after the one removing it.
    for (step, fault) in [(0, None), (1, Some(true)), (2, Some(false))] {
        for (k, d) in ds.iter().enumerate() {
            if let Some(f) = fault {
                d.write_conf(&conf(k, f));
                d.signal(libc::SIGHUP);
            }
        }
        let want_vip = fault != Some(true);
        for k in 0..2 {
            // node 0 runs keepalived 2.2.7: its other member keeps its VIP
            let want = |i: usize| want_vip || (k == 0 && i == 1);
            let ok = wait_until(20, || {
                vips(k)
                    .iter()
                    .enumerate()
                    .all(|(i, v)| has_addr(&lan, k, v) == want(i))
            });
            assert!(ok, "step {step:?} node {k}: VIPs {want_vip}\n{}", all(&ds));
        }
    }
    for d in &mut ds {
        d.stop();
    }
    let member = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .filter(|l| l.starts_with("VI ") || l.starts_with("(VI"))
            .collect()
    };
    assert_eq!(member(calls(1)), member(calls(0)), "\n{}", all(&ds));
    assert!(
        calls(1).iter().any(|c| c.contains("VI FAULT")),
        "{:?}",
        calls(1)
    );
    if grouped {
        assert!(
            calls(1).iter().any(|c| c.contains("VJ FAULT")),
            "{:?}",
            calls(1)
        );
        assert!(
            !calls(0).iter().any(|c| c.contains("VJ FAULT")),
            "{:?}",
            calls(0)
        );
    } else {
        assert_eq!(calls(1), calls(0), "\n{}", all(&ds));
    }
    let (real, ours) = (fault_lines(&ds[0].log()), fault_lines(&ds[1].log()));
    let norm = |v: Vec<String>, n: usize| -> Vec<String> {
        member(
            v.into_iter()
                .map(|l| l.replace(&format!("_{n}"), ""))
                .collect(),
        )
    };
    assert_eq!(norm(ours, 1), norm(real, 0), "\n{}", all(&ds));
}

#[test]
fn fault_reason_no_ipv6_address() {
    // An IPv6 instance on an interface without a link-local address.
    let conf = fault_conf("")
        .replace("INST", "")
        .replace("192.0.2.1VRID/32", "2001:db8::1:VRID/128");
    fault_reasons(
        "fault_reason_no_ipv6_address",
        &conf,
        |lan, n| {
            lan.must(
                n,
                &["ip", "-6", "addr", "flush", "dev", "eth0", "scope", "link"],
            );
        },
        |lan, n| {
            let a = format!("fe80::1:{}/64", n + 1);
            lan.must(n, &["ip", "addr", "add", &a, "dev", "eth0"]);
        },
        "(VI_1) Entering BACKUP STATE",
        &[
            "(VI_1) entering FAULT state (no IPv6 address for interface)",
            "(VI_1) entering FAULT state",
        ],
    );
}

#[test]
fn fault_reasons_in_keepalived_order() {
    // Several instances faulted at start by different reasons: keepalived logs every
    // interface's line first, then the trackers', each instance's missing address, and
    // last the instances' `entering FAULT state` lines.
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("status");
    fs::write(&f, "1\n").expect("write status");
    let inst = |name: &str, vrid: &str, extra: &str| {
        format!(
            "vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  \
             priority 100\n  advert_int 1\n{extra}  virtual_ipaddress {{\n    192.0.2.{vrid}/32\n  }}\n}}\n"
        )
    };
    let extra = format!(
        "vrrp_track_file tf {{\n  file {}\n  weight 0\n}}\n{}{}",
        f.display(),
        inst("VI_2", "1VRID", "  track_file {\n    tf\n  }\n"),
        inst("VI_3", "2VRID", "  track_interface {\n    mv0\n  }\n"),
    );
    let conf = fault_conf(&extra).replace("INST", "  track_interface {\n    mv1\n  }\n");
    fault_reasons(
        "fault_reasons_in_keepalived_order",
        &conf,
        |lan, n| {
            // mv1 first: keepalived goes by interface (index), then by instance
            for m in ["mv1", "mv0"] {
                lan.must(
                    n,
                    &["ip", "link", "add", m, "link", "eth0", "type", "macvlan"],
                );
            }
        },
        nothing,
        "Startup complete",
        &[
            "(VI_2): entering FAULT state (tracked file tf has status -254)",
            "(VI_3): entering FAULT state (interface mv0 down)",
        ],
    );
}
