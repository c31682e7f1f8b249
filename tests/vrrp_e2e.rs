//! VRRP on the wire and on the host: our daemon, and the real
//! keepalived 2.2.7, run in namespaces of a test LAN (`support::netns::Lan`). Each test is
//! bounded by deadlines; daemons are killed and namespaces deleted on failure (Drop guards).
//! Root is needed: loud skip, or failure under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::node_daemon;

use std::fs;

use std::process::Command;
use std::time::Duration;

use node_daemon::*;

const VIP: &str = "192.0.2.100";
const VIP2: &str = "192.0.2.101";
const VIP6: &str = "2001:db8::100";

/// (1) Two of our daemons: election, takeover on SIGTERM, preemption on restart.
#[test]
fn ours_pair_failover_and_preempt() {
    let Some(lan) = lan_or_skip("ours_pair_failover_and_preempt", 2) else {
        return;
    };
    let mut a = Daemon::start(&lan, 0, false, &conf(150, "", &[&format!("{VIP}/32")]));
    let b = Daemon::start(&lan, 1, false, &conf(100, "", &[&format!("{VIP}/32")]));
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
    assert!(
        a.log().contains("(VI_1) Entering MASTER STATE"),
        "{}",
        a.log()
    );
    assert!(a.log().contains("(VI_1) setting VIPs."), "{}", a.log());
    a.stop();
    // The master released with priority 0 and removed its VIP; the peer takes over fast.
    assert!(a.log().contains("(VI_1) removing VIPs."), "{}", a.log());
    expect_master(&lan, 1, &[0, 1], VIP, 5, &[&a, &b]);
    a.spawn();
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
    assert!(
        b.log().contains("(VI_1) Entering BACKUP STATE"),
        "{}",
        logs(&[&a, &b])
    );
}

/// (2) Interop with the real keepalived 2.2.7: VRRPv2 with PASS authentication, then v3;
/// mastership in both directions.
#[test]
fn interop_with_real_keepalived() {
    if !real_or_skip("interop_with_real_keepalived") {
        return;
    }
    let Some(lan) = lan_or_skip("interop_with_real_keepalived", 2) else {
        return;
    };
    let v2 = "  authentication {\n    auth_type PASS\n    auth_pass secret12\n  }\n";
    let v3 = "  version 3\n";
    for extra in [v2, v3] {
        let vip = format!("{VIP}/32");
        // Ours higher: ours MASTER, real BACKUP.
        let mut ours = Daemon::start(&lan, 0, false, &conf(150, extra, &[&vip]));
        let real = Daemon::start(&lan, 1, true, &conf(100, extra, &[&vip]));
        expect_master(&lan, 0, &[0, 1], VIP, 10, &[&ours, &real]);
        // Stay stable for a few adverts: the real one must accept ours (no auth/addr errors).
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            has_addr(&lan, 0, VIP) && !has_addr(&lan, 1, VIP),
            "{}",
            logs(&[&ours, &real])
        );
        // Ours stops: the real one takes over.
        ours.stop();
        expect_master(&lan, 1, &[0, 1], VIP, 6, &[&ours, &real]);
        drop(real);
        drop(ours);
        // Wait for the killed real keepalived's VIP to be gone.
        let _ = lan.exec(1, &["ip", "addr", "del", &vip, "dev", "eth0"]);

        // Real higher: real MASTER, ours BACKUP, then ours takes over when it stops.
        let ours = Daemon::start(&lan, 0, false, &conf(100, extra, &[&vip]));
        let mut real = Daemon::start(&lan, 1, true, &conf(150, extra, &[&vip]));
        expect_master(&lan, 1, &[0, 1], VIP, 10, &[&ours, &real]);
        std::thread::sleep(Duration::from_secs(2));
        assert!(
            has_addr(&lan, 1, VIP) && !has_addr(&lan, 0, VIP),
            "{}",
            logs(&[&ours, &real])
        );
        let errors = [
            "invalid passwd",
            "wrong version",
            "Invalid VRRPv",
            "received an unexpected",
            "not present in MASTER advert",
            "interval mismatch",
        ];
        for e in errors {
            assert!(!ours.log().contains(e), "ours logged {e}:\n{}", ours.log());
            assert!(!real.log().contains(e), "real logged {e}:\n{}", real.log());
        }
        real.stop();
        expect_master(&lan, 0, &[0, 1], VIP, 6, &[&ours, &real]);
        drop(ours);
        let _ = lan.exec(0, &["ip", "addr", "del", &vip, "dev", "eth0"]);
    }
}

/// (3) A VIP deleted by hand on the master is restored.
#[test]
fn deleted_vip_is_restored() {
    let Some(lan) = lan_or_skip("deleted_vip_is_restored", 1) else {
        return;
    };
    let a = Daemon::start(&lan, 0, false, &conf(150, "", &[&format!("{VIP}/32")]));
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    lan.must(
        0,
        &["ip", "addr", "del", &format!("{VIP}/32"), "dev", "eth0"],
    );
    assert!(
        wait_until(5, || has_addr(&lan, 0, VIP)),
        "VIP not restored\n{}",
        a.log()
    );
}

/// (4) SIGHUP with an unchanged config removes nothing; adding a VIP adds it.
#[test]
fn reload_keeps_state_and_adds_vip() {
    let Some(lan) = lan_or_skip("reload_keeps_state_and_adds_vip", 1) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let a = Daemon::start(&lan, 0, false, &conf(150, "", &[&vip]));
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    // Watch address events while reloading.
    let mut mon = lan.spawn(0, &["ip", "monitor", "address"]);
    std::thread::sleep(Duration::from_millis(300));
    a.signal(libc::SIGHUP);
    assert!(
        wait_until(5, || a.log().matches("Reloading").count() >= 1),
        "{}",
        a.log()
    );
    // Some time for a removal to show up, if any; the VIP must never go away.
    let held = (0..20).all(|_| {
        std::thread::sleep(Duration::from_millis(100));
        has_addr(&lan, 0, VIP)
    });
    let _ = mon.kill();
    let out = mon.wait_with_output().expect("ip monitor");
    let events = String::from_utf8_lossy(&out.stdout);
    assert!(held, "VIP lost on reload\n{}", a.log());
    assert!(
        !events
            .lines()
            .any(|l| l.starts_with("Deleted") && l.contains(VIP)),
        "VIP removed during reload: {events}\n{}",
        a.log()
    );
    assert!(!a.log().contains("Entering BACKUP STATE\n"), "{}", a.log());
    // Adding a VIP.
    a.write_conf(&conf(150, "", &[&vip, &format!("{VIP2}/32")]));
    a.signal(libc::SIGHUP);
    assert!(
        wait_until(5, || has_addr(&lan, 0, VIP2)),
        "new VIP not added\n{}",
        a.log()
    );
    assert!(has_addr(&lan, 0, VIP));
    // Removing it again.
    a.write_conf(&conf(150, "", &[&vip]));
    a.signal(libc::SIGHUP);
    assert!(
        wait_until(5, || !has_addr(&lan, 0, VIP2)),
        "removed VIP still there\n{}",
        a.log()
    );
    assert!(has_addr(&lan, 0, VIP));
}

/// SIGHUP with the instance removed from the config: the master steps down (priority 0,
/// VIP removed) and the peer takes over.
#[test]
fn reload_removing_instance_steps_down() {
    let Some(lan) = lan_or_skip("reload_removing_instance_steps_down", 2) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let a = Daemon::start(&lan, 0, false, &conf(150, "", &[&vip]));
    let b = Daemon::start(&lan, 1, false, &conf(100, "", &[&vip]));
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
    let vip2 = format!("{VIP2}/32");
    a.write_conf(&conf(150, "", &[&vip2]).replace("virtual_router_id 51", "virtual_router_id 52"));
    a.signal(libc::SIGHUP);
    // VRID 51 is gone (a new VRID 52 instance starts); the peer takes VRID 51's VIP over
    // right after the priority-0 advert.
    assert!(
        wait_until(6, || has_addr(&lan, 1, VIP)),
        "peer did not take over\n{}",
        logs(&[&a, &b])
    );
    assert!(!has_addr(&lan, 0, VIP), "{}", logs(&[&a, &b]));
    assert!(
        b.log().contains("Backup received priority 0 advertisement"),
        "{}",
        b.log()
    );
}

/// `-V`: SIGTERM leaves the VIPs in place and sends no priority 0.
#[test]
fn dont_release_keeps_vips() {
    let Some(lan) = lan_or_skip("dont_release_keeps_vips", 1) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let mut a = Daemon::start_with(&lan, 0, false, &conf(150, "", &[&vip]), &["-V"]);
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    a.stop();
    assert!(has_addr(&lan, 0, VIP), "{}", a.log());
    assert!(!a.log().contains("sent 0 priority"), "{}", a.log());
}

/// (5) The stats dump counts received adverts.
#[test]
fn stats_dump_counts_adverts() {
    let Some(lan) = lan_or_skip("stats_dump_counts_adverts", 2) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let a = Daemon::start(&lan, 0, false, &conf(150, "", &[&vip]));
    let b = Daemon::start(&lan, 1, false, &conf(100, "", &[&vip]));
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
    std::thread::sleep(Duration::from_secs(2));
    let stats = b.path("keepalived.stats");
    let _ = fs::remove_file(&stats);
    b.signal(libc::SIGUSR2);
    assert!(
        wait_until(5, || stats.exists()),
        "no stats file\n{}",
        b.log()
    );
    let text = fs::read_to_string(&stats).expect("stats");
    let received: u64 = text
        .lines()
        .skip_while(|l| !l.contains("Advertisements:"))
        .nth(1)
        .and_then(|l| l.trim().strip_prefix("Received: "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad stats:\n{text}"));
    assert!(received >= 2, "{text}");
    assert!(text.starts_with("VRRP Instance: VI_1\n"), "{text}");
    // The data dump names the instance and its state.
    let data = b.path("keepalived.data");
    b.signal(libc::SIGUSR1);
    assert!(wait_until(5, || data.exists()), "no data file\n{}", b.log());
    let text = fs::read_to_string(&data).expect("data");
    assert!(text.contains(" VRRP Instance = VI_1\n"), "{text}");
    assert!(text.contains("   State = BACKUP\n"), "{text}");
    // And the master's JSON dump shows it as MASTER with adverts sent.
    let json = a.path("keepalived.json");
    a.signal(libc::SIGRTMIN() + 2);
    assert!(wait_until(5, || json.exists()), "no json\n{}", a.log());
    let j: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json).expect("json")).expect("json");
    assert_eq!(j[0]["data"]["iname"], "VI_1", "{j}");
    assert_eq!(j[0]["data"]["state"], 2, "{j}");
    assert!(
        j[0]["stats"]["advert_sent"].as_u64().unwrap_or(0) >= 2,
        "{j}"
    );
}

/// (6) An IPv6 VRRPv3 pair.
#[test]
fn ipv6_v3_pair() {
    let Some(lan) = lan_or_skip("ipv6_v3_pair", 2) else {
        return;
    };
    let vip = format!("{VIP6}/128");
    let extra = "  version 3\n  advert_int 0.2\n";
    let c = |p| conf(p, extra, &[&vip]).replace("  advert_int 1\n", "");
    let mut a = Daemon::start(&lan, 0, false, &c(150));
    let b = Daemon::start(&lan, 1, false, &c(100));
    expect_master(&lan, 0, &[0, 1], VIP6, 10, &[&a, &b]);
    // A /128 VIP is added deprecated (preferred_lft 0) so it is never a source address.
    let j = lan.ip_json(0, &["-6", "addr", "show", "dev", "eth0"]);
    let vip_info = j[0]["addr_info"]
        .as_array()
        .and_then(|ai| ai.iter().find(|x| x["local"] == VIP6).cloned())
        .unwrap_or_else(|| panic!("no VIP in {j}"));
    assert_eq!(vip_info["preferred_life_time"], 0, "{vip_info}");
    assert_eq!(vip_info["prefixlen"], 128, "{vip_info}");
    a.stop();
    expect_master(&lan, 1, &[0, 1], VIP6, 5, &[&a, &b]);
}

/// The master's interface going down puts it in FAULT; the peer takes over; back up, the
/// higher priority pre-empts again.
#[test]
fn interface_down_faults_master() {
    let Some(lan) = lan_or_skip("interface_down_faults_master", 2) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let a = Daemon::start(&lan, 0, false, &conf(150, "", &[&vip]));
    let b = Daemon::start(&lan, 1, false, &conf(100, "", &[&vip]));
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
    lan.must(0, &["ip", "link", "set", "eth0", "down"]);
    assert!(
        wait_until(5, || a.log().contains("(VI_1) Entering FAULT STATE")),
        "{}",
        a.log()
    );
    expect_master(&lan, 1, &[1], VIP, 6, &[&a, &b]);
    lan.must(0, &["ip", "link", "set", "eth0", "up"]);
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
}

/// A sync group: one member's tracked interface down faults the whole group, so the peer
/// takes both VIPs; back up, both return together.
#[test]
fn sync_group_moves_together() {
    let Some(lan) = lan_or_skip("sync_group_moves_together", 2) else {
        return;
    };
    // A second, down, interface on node 0 for VI_2 to track.
    lan.must(
        0,
        &[
            "ip", "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
        ],
    );
    let group = |prio: u8, track: &str| {
        format!(
            "vrrp_sync_group G1 {{\n  group {{\n    VI_1\n    VI_2\n  }}\n}}\n\
             vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
             priority {prio}\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP}/32\n  }}\n}}\n\
             vrrp_instance VI_2 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 52\n  \
             priority {prio}\n  advert_int 1\n{track}  virtual_ipaddress {{\n    {VIP2}/32\n  }}\n}}\n"
        )
    };
    let a = Daemon::start(
        &lan,
        0,
        false,
        &group(150, "  track_interface {\n    trk0\n  }\n"),
    );
    let b = Daemon::start(&lan, 1, false, &group(100, ""));
    expect_master(&lan, 1, &[0, 1], VIP, 10, &[&a, &b]);
    expect_master(&lan, 1, &[0, 1], VIP2, 2, &[&a, &b]);
    lan.must(0, &["ip", "link", "set", "trk0", "up"]);
    lan.must(0, &["ip", "link", "set", "trk1", "up"]);
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
    expect_master(&lan, 0, &[0, 1], VIP2, 2, &[&a, &b]);
    assert!(
        a.log()
            .contains("VRRP_Group(G1) Syncing instances to MASTER state"),
        "{}",
        a.log()
    );
    // A reload with the same groups keeps them MASTER with their VIPs.
    a.signal(libc::SIGHUP);
    let held = (0..20).all(|_| {
        std::thread::sleep(Duration::from_millis(100));
        has_addr(&lan, 0, VIP) && has_addr(&lan, 0, VIP2) && !has_addr(&lan, 1, VIP)
    });
    assert!(held, "group lost mastership on reload\n{}", logs(&[&a, &b]));
    lan.must(0, &["ip", "link", "set", "trk0", "down"]);
    expect_master(&lan, 1, &[0, 1], VIP, 6, &[&a, &b]);
    expect_master(&lan, 1, &[0, 1], VIP2, 2, &[&a, &b]);
}

/// (7) A unicast pair.
#[test]
fn unicast_pair() {
    let Some(lan) = lan_or_skip("unicast_pair", 2) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let uc = |me: &str, peer: &str| {
        format!("  unicast_src_ip {me}\n  unicast_peer {{\n    {peer}\n  }}\n")
    };
    let mut a = Daemon::start(
        &lan,
        0,
        false,
        &conf(150, &uc("192.0.2.1", "192.0.2.2"), &[&vip]),
    );
    let b = Daemon::start(
        &lan,
        1,
        false,
        &conf(100, &uc("192.0.2.2", "192.0.2.1"), &[&vip]),
    );
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(!has_addr(&lan, 1, VIP), "{}", logs(&[&a, &b]));
    a.stop();
    expect_master(&lan, 1, &[0, 1], VIP, 5, &[&a, &b]);
}

/// kill -9 of the VRRP child: the parent respawns it and the new child takes back the VIP
/// (issue "The daemon").
#[test]
fn killed_vrrp_child_is_respawned_and_retakes_vip() {
    let Some(lan) = lan_or_skip("killed_vrrp_child_is_respawned_and_retakes_vip", 1) else {
        return;
    };
    let a = Daemon::start(&lan, 0, false, &conf(150, "", &[&format!("{VIP}/32")]));
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    let old = a.vrrp_pid().expect("vrrp pid file");
    let ok = Command::new("kill")
        .args(["-KILL", &old.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "cannot kill the VRRP child {old}");
    assert!(
        wait_until(10, || a.vrrp_pid().is_some_and(|p| p != old)),
        "no respawned VRRP child\n{}",
        a.log()
    );
    assert!(
        a.log().contains("died: Respawning"),
        "no respawn line\n{}",
        a.log()
    );
    assert!(
        wait_until(15, || a
            .log()
            .matches("(VI_1) Entering MASTER STATE")
            .count()
            >= 2
            && has_addr(&lan, 0, VIP)),
        "the respawned child did not take back the VIP\n{}",
        a.log()
    );
}

/// The opt-in metrics endpoint (`metrics_address`, our extension) serves the instance's
/// state, priority and advert counters.
#[test]
fn metrics_endpoint_serves_instance_state() {
    let Some(lan) = lan_or_skip("metrics_endpoint_serves_instance_state", 1) else {
        return;
    };
    let c = conf(150, "", &[&format!("{VIP}/32")]).replacen(
        "router_id test\n",
        "router_id test\n  metrics_address 127.0.0.1:9650\n",
        1,
    );
    let a = Daemon::start(&lan, 0, false, &c);
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    let scrape = || {
        let out = lan.exec(
            0,
            &[
                "bash",
                "-c",
                "exec 3<>/dev/tcp/127.0.0.1/9650; printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3; timeout 5 cat <&3",
            ],
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    const L: &str = "iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"";
    let mut text = String::new();
    let ok = wait_until(10, || {
        text = scrape();
        text.contains(&format!(
            "keepalived_vrrp_state{{{L},ip_address=\"{VIP}/32\"}} 2"
        ))
    });
    assert!(ok, "metrics: {text}\n{}", a.log());
    assert!(text.starts_with("HTTP/1.0 200 OK"), "{text}");
    assert!(
        text.contains(&format!("keepalived_vrrp_effective_priority{{{L}}} 150")),
        "{text}"
    );
    assert!(
        text.contains(&format!("keepalived_advertisements_sent_total{{{L}}}")),
        "{text}"
    );
}

/// Notify scripts run in keepalived's order with keepalived's arguments:
/// the state script with only its own arguments, then `notify` with INSTANCE name STATE prio.
#[test]
fn notify_scripts_run_on_transitions() {
    let Some(lan) = lan_or_skip("notify_scripts_run_on_transitions", 1) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("calls");
    let script = dir.path().join("n.sh");
    fs::write(
        &script,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", out.display()),
    )
    .expect("write script");
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let extra = format!(
        "  notify \"{s}\"\n  notify_master \"{s} master\"\n",
        s = script.display()
    );
    let mut a = Daemon::start(&lan, 0, false, &conf(150, &extra, &[&format!("{VIP}/32")]));
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    let read = || fs::read_to_string(&out).unwrap_or_default();
    assert!(
        wait_until(5, || read().contains("INSTANCE VI_1 MASTER 150")),
        "calls: {}\n{}",
        read(),
        a.log()
    );
    a.stop();
    assert!(
        wait_until(5, || read().contains("INSTANCE VI_1 STOP 150")
            || read().contains("INSTANCE VI_1 STOP 0")),
        "calls: {}\n{}",
        read(),
        a.log()
    );
    let calls = read();
    let lines: Vec<&str> = calls.lines().collect();
    assert!(lines.contains(&"INSTANCE VI_1 BACKUP 150"), "{calls}");
    assert!(lines.contains(&"master"), "{calls}");
}

/// SIGTERM: the master's priority-0 advert is the first thing on the wire, ahead of its
/// STOP notify (here a script sending a UDP datagram), in ours as in keepalived 2.2.7.
#[test]
fn stop_sends_priority_zero_before_notify() {
    if !real_or_skip("stop_sends_priority_zero_before_notify") {
        return;
    }
    if !support::wire::tcpdump_available() {
        support::skip_or_fail("stop_sends_priority_zero_before_notify", "needs tcpdump");
        return;
    }
    for real in [false, true] {
        let Some(lan) = lan_or_skip("stop_sends_priority_zero_before_notify", 2) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("notify.sh");
        fs::write(
            &script,
            "#!/bin/bash\n[ \"$3\" = STOP ] && echo stop > /dev/udp/192.0.2.2/9999\nexit 0\n",
        )
        .unwrap();
        Command::new("chmod")
            .arg("755")
            .arg(&script)
            .status()
            .unwrap();
        let extra = format!("  notify {}\n", script.display());
        let mut a = Daemon::start(&lan, 0, real, &conf(150, &extra, &[&format!("{VIP}/32")]));
        expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
        let cap = support::wire::Capture::start(&lan, 0, "ip proto 112 or udp port 9999");
        a.stop();
        let seen = |cap: &support::wire::Capture| {
            let zero = cap.matching(&["prio 0"]).first().map(|m| m.0);
            let udp = cap.matching(&[".9999:"]).first().map(|m| m.0);
            (zero, udp)
        };
        assert!(
            wait_until(5, || matches!(seen(&cap), (Some(_), Some(_)))),
            "real={real}: no priority-0 advert or no notify datagram\n{}\n{}",
            cap.text(),
            a.log()
        );
        let (zero, udp) = seen(&cap);
        assert!(
            zero <= udp,
            "real={real}: the STOP notify went out before the priority-0 advert\n{}",
            cap.text()
        );
    }
}
