//! VRRP wire features: IPsec AH authentication, VMAC interfaces, the GARP
//! schedule and `vrrp_startup_delay`, with our daemon and the real keepalived 2.2.7 in
//! namespaces of a test LAN. Every wait is bounded; daemons, captures and namespaces are
//! removed on drop (also on failure). Root is needed: loud skip, or failure under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::netns;
use support::node_daemon;
use support::wire;

use std::time::{Duration, Instant};

use node_daemon::*;
use wire::*;

const VIP: &str = "192.0.2.100";

const AH: &str = "  authentication {\n    auth_type AH\n    auth_pass ahsecret\n  }\n";

fn no_ah_errors(ds: &[&Daemon]) {
    for d in ds {
        let log = d.log();
        for bad in [
            "already processed",
            "IPSEC-AH : invalid",
            "auth type",
            "AH header",
        ] {
            assert!(!log.contains(bad), "`{bad}` logged\n{}", logs(ds));
        }
    }
}

/// (1) AH authentication between ours and the real keepalived, mastership both ways and
/// across restarts (keepalived keeps one sequence counter per instance, raised by every
/// accepted advert, so a restarted node continues above its peer's numbers).
#[test]
fn ah_interop_with_real_keepalived() {
    if !real_or_skip("ah_interop_with_real_keepalived") {
        return;
    }
    let Some(lan) = lan_or_skip("ah_interop_with_real_keepalived", 2) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let mut ours = Daemon::start(&lan, 0, false, &conf(150, AH, &[&vip]));
    let mut real = Daemon::start(&lan, 1, true, &conf(100, AH, &[&vip]));
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&ours, &real]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        has_addr(&lan, 0, VIP) && !has_addr(&lan, 1, VIP),
        "{}",
        logs(&[&ours, &real])
    );
    // Ours stops (priority 0 advert): the real one takes over at once.
    ours.stop();
    expect_master(&lan, 1, &[0, 1], VIP, 5, &[&ours, &real]);
    // Ours restarts from sequence 0, learns the real master's number, preempts.
    ours.spawn();
    expect_master(&lan, 0, &[0, 1], VIP, 12, &[&ours, &real]);
    std::thread::sleep(Duration::from_secs(2));
    assert!(has_addr(&lan, 0, VIP), "{}", logs(&[&ours, &real]));
    // The real one restarts too and stays BACKUP; then ours leaves for good.
    real.stop();
    real.spawn();
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        has_addr(&lan, 0, VIP) && !has_addr(&lan, 1, VIP),
        "{}",
        logs(&[&ours, &real])
    );
    ours.stop();
    expect_master(&lan, 1, &[0, 1], VIP, 5, &[&ours, &real]);
    no_ah_errors(&[&ours, &real]);
    assert!(
        real.log().contains("Entering MASTER STATE"),
        "{}",
        logs(&[&ours, &real])
    );
}

/// (1b) The other direction: the real keepalived is the higher priority; ours is BACKUP,
/// accepts its AH adverts (no takeover while it runs) and takes over when it stops.
#[test]
fn ah_real_master_ours_backup() {
    if !real_or_skip("ah_real_master_ours_backup") {
        return;
    }
    let Some(lan) = lan_or_skip("ah_real_master_ours_backup", 2) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let mut real = Daemon::start(&lan, 0, true, &conf(200, AH, &[&vip]));
    let ours = Daemon::start(&lan, 1, false, &conf(100, AH, &[&vip]));
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&real, &ours]);
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        has_addr(&lan, 0, VIP) && !has_addr(&lan, 1, VIP),
        "{}",
        logs(&[&real, &ours])
    );
    real.stop();
    expect_master(&lan, 1, &[0, 1], VIP, 5, &[&real, &ours]);
    assert!(
        ours.log()
            .contains("Backup received priority 0 advertisement"),
        "{}",
        logs(&[&real, &ours])
    );
    no_ah_errors(&[&real, &ours]);
}

/// (1c) Unicast AH (TTL zeroed in the ICV input) between ours and the real keepalived.
#[test]
fn ah_unicast_interop_with_real_keepalived() {
    if !real_or_skip("ah_unicast_interop_with_real_keepalived") {
        return;
    }
    let Some(lan) = lan_or_skip("ah_unicast_interop_with_real_keepalived", 2) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let uc = |me: &str, peer: &str| {
        format!("{AH}  unicast_src_ip {me}\n  unicast_peer {{\n    {peer}\n  }}\n")
    };
    let mut ours = Daemon::start(
        &lan,
        0,
        false,
        &conf(150, &uc("192.0.2.1", "192.0.2.2"), &[&vip]),
    );
    let real = Daemon::start(
        &lan,
        1,
        true,
        &conf(100, &uc("192.0.2.2", "192.0.2.1"), &[&vip]),
    );
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&ours, &real]);
    std::thread::sleep(Duration::from_secs(3));
    assert!(!has_addr(&lan, 1, VIP), "{}", logs(&[&ours, &real]));
    ours.stop();
    expect_master(&lan, 1, &[0, 1], VIP, 5, &[&ours, &real]);
    ours.spawn();
    expect_master(&lan, 0, &[0, 1], VIP, 12, &[&ours, &real]);
    no_ah_errors(&[&ours, &real]);
}

const VMAC4: &str = "00:00:5e:00:01:33"; // VRID 51

fn vmac_master(lan: &netns::Lan, master: usize, nodes: &[usize], secs: u64, ds: &[&Daemon]) {
    let ok = wait_until(secs, || {
        nodes
            .iter()
            .all(|&n| has_addr_on(lan, n, "vrrp.51", VIP) == (n == master))
    });
    assert!(
        ok,
        "node {master} should hold {VIP} on vrrp.51\n{}",
        logs(ds)
    );
    assert!(!has_addr(lan, master, VIP), "VIP on eth0\n{}", logs(ds));
}

/// (2) Two of ours with `use_vmac`: the macvlan `vrrp.51` (private, 00:00:5e:00:01:33) with
/// keepalived's sysctls; a client resolves the VIP to the virtual MAC; failover moves it; the
/// VMAC is removed at stop.
#[test]
fn vmac_ours_pair() {
    let Some(lan) = lan_or_skip("vmac_ours_pair", 3) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let mut a = Daemon::start(&lan, 0, false, &conf(150, "  use_vmac\n", &[&vip]));
    let b = Daemon::start(&lan, 1, false, &conf(100, "  use_vmac\n", &[&vip]));
    vmac_master(&lan, 0, &[0, 1], 10, &[&a, &b]);
    for n in [0, 1] {
        assert_eq!(
            link_details(&lan, n, "vrrp.51"),
            Some((VMAC4.to_owned(), "private".to_owned())),
            "{}",
            logs(&[&a, &b])
        );
        assert_eq!(sysctl(&lan, n, "net/ipv4/conf/vrrp.51/arp_ignore"), "1");
        assert_eq!(sysctl(&lan, n, "net/ipv4/conf/vrrp.51/rp_filter"), "0");
        assert_eq!(sysctl(&lan, n, "net/ipv4/conf/vrrp.51/accept_local"), "1");
        assert_eq!(sysctl(&lan, n, "net/ipv4/conf/eth0/arp_ignore"), "1");
        assert_eq!(sysctl(&lan, n, "net/ipv4/conf/eth0/arp_filter"), "1");
    }
    assert!(
        a.log()
            .contains("(VI_1): Success creating VMAC interface vrrp.51"),
        "{}",
        a.log()
    );
    // The fresh VMAC does not make the instance flap through FAULT at startup.
    assert!(!a.log().contains("FAULT"), "{}", a.log());
    assert_eq!(arp_answers(&lan, 2, VIP), [VMAC4], "{}", logs(&[&a, &b]));
    a.stop();
    vmac_master(&lan, 1, &[1], 5, &[&a, &b]);
    assert!(
        link_details(&lan, 0, "vrrp.51").is_none(),
        "VMAC left behind\n{}",
        a.log()
    );
    assert!(
        a.log()
            .contains("(VI_1) Success removing VMAC interface vrrp.51"),
        "{}",
        a.log()
    );
    // Restored at stop (the LAN starts with the kernel defaults).
    assert_eq!(sysctl(&lan, 0, "net/ipv4/conf/eth0/arp_ignore"), "0");
    assert_eq!(arp_answers(&lan, 2, VIP), [VMAC4], "{}", logs(&[&a, &b]));
    // Reload keeps the VMAC and the mastership.
    b.reload();
    assert!(has_addr_on(&lan, 1, "vrrp.51", VIP), "{}", b.log());
    assert!(link_details(&lan, 1, "vrrp.51").is_some(), "{}", b.log());
}

/// (2b) ours ↔ real keepalived, both with `use_vmac`: mastership both ways, the client always
/// resolves the VIP to the virtual MAC.
#[test]
fn vmac_interop_with_real_keepalived() {
    if !real_or_skip("vmac_interop_with_real_keepalived") {
        return;
    }
    let Some(lan) = lan_or_skip("vmac_interop_with_real_keepalived", 3) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let mut ours = Daemon::start(&lan, 0, false, &conf(150, "  use_vmac\n", &[&vip]));
    let real = Daemon::start(&lan, 1, true, &conf(100, "  use_vmac\n", &[&vip]));
    vmac_master(&lan, 0, &[0, 1], 10, &[&ours, &real]);
    std::thread::sleep(Duration::from_secs(3));
    vmac_master(&lan, 0, &[0, 1], 1, &[&ours, &real]);
    assert_eq!(
        arp_answers(&lan, 2, VIP),
        [VMAC4],
        "{}",
        logs(&[&ours, &real])
    );
    ours.stop();
    vmac_master(&lan, 1, &[0, 1], 5, &[&ours, &real]);
    assert_eq!(
        arp_answers(&lan, 2, VIP),
        [VMAC4],
        "{}",
        logs(&[&ours, &real])
    );
    ours.spawn();
    vmac_master(&lan, 0, &[0, 1], 12, &[&ours, &real]);
    assert_eq!(
        arp_answers(&lan, 2, VIP),
        [VMAC4],
        "{}",
        logs(&[&ours, &real])
    );
}

/// (3) GARP schedule after a takeover: a burst at once, again after `garp_master_delay`, then
/// every `garp_master_refresh`. With `vrrp_garp_interval` keepalived sends one packet per
/// address at once and keeps one more pending for the next slot (a pending address absorbs
/// further repeats): 2 per burst here (repeat 3 and refresh repeat 2), at least the interval
/// apart. Counted in a client namespace, for ours and (same expectations) for the real one.
#[test]
fn garp_schedule_after_takeover() {
    if !tcpdump_available() {
        support::skip_or_fail("garp_schedule_after_takeover", "tcpdump is not installed");
        return;
    }
    let Some(lan) = lan_or_skip("garp_schedule_after_takeover", 2) else {
        return;
    };
    let with_real = support::real_keepalived().is_some();
    for real in [false, true] {
        if real && !with_real {
            continue;
        }
        garp_schedule(&lan, real);
    }
}

fn garp_schedule(lan: &netns::Lan, real: bool) {
    let cap = Capture::start(lan, 1, "arp");
    let extra = "  garp_master_repeat 3\n  garp_master_delay 2\n  garp_master_refresh 4\n  \
                 garp_master_refresh_repeat 2\n";
    let c = conf(100, extra, &[&format!("{VIP}/32")]).replace(
        "router_id test\n",
        "router_id test\n  vrrp_garp_interval 0.25\n",
    );
    let mut d = Daemon::start(lan, 0, real, &c);
    assert!(
        wait_until(10, || has_addr(lan, 0, VIP)),
        "no takeover\n{}",
        d.log()
    );
    // Bursts at T, T+2 (delayed), T+4 (refresh), T+8 (refresh): wait past T+5.
    std::thread::sleep(Duration::from_millis(5600));
    let garps = cap.matching(&[&format!("who-has {VIP} "), &format!("tell {VIP},")]);
    let who = if real { "real" } else { "ours" };
    let dump = || format!("{who}\n{}\n{}", cap.text(), d.log());
    let Some(&(t0, _)) = garps.first() else {
        panic!("no GARP seen\n{}", dump());
    };
    let in_window = |a: f64, b: f64| -> Vec<f64> {
        garps
            .iter()
            .map(|g| g.0 - t0)
            .filter(|t| *t >= a && *t < b)
            .collect()
    };
    let first = in_window(0.0, 1.5);
    assert_eq!(first.len(), 2, "first burst\n{}", dump());
    for w in first.windows(2) {
        assert!(
            w[1] - w[0] >= 0.2,
            "vrrp_garp_interval not honoured\n{}",
            dump()
        );
    }
    assert_eq!(in_window(1.5, 3.5).len(), 2, "delayed burst\n{}", dump());
    assert_eq!(in_window(3.5, 5.0).len(), 2, "refresh\n{}", dump());
    // Every GARP carries eth0's MAC (no VMAC here).
    let mac = lan.mac(0);
    let mac = format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    );
    assert!(garps.iter().all(|g| g.1.contains(&mac)), "{}", dump());
    d.stop();
    assert!(wait_until(5, || !has_addr(lan, 0, VIP)), "{}", d.log());
}

/// (4) `vrrp_startup_delay`: keepalived's log line, and no advert (nor mastership) before the
/// delay even for an address owner (priority 255), which otherwise is MASTER at once. The
/// real keepalived is held to the same expectations.
#[test]
fn startup_delay_holds_everything() {
    if !tcpdump_available() {
        support::skip_or_fail("startup_delay_holds_everything", "tcpdump is not installed");
        return;
    }
    let Some(lan) = lan_or_skip("startup_delay_holds_everything", 2) else {
        return;
    };
    for real in [false, true] {
        if real && support::real_keepalived().is_none() {
            continue;
        }
        startup_delay(&lan, real);
    }
}

fn startup_delay(lan: &netns::Lan, real: bool) {
    let cap = Capture::start(lan, 1, "ip proto 112");
    let c = conf(255, "", &[&format!("{VIP}/32")]).replace(
        "router_id test\n",
        "router_id test\n  vrrp_startup_delay 4\n",
    );
    let started = epoch_now();
    let t = Instant::now();
    let mut d = Daemon::start(lan, 0, real, &c);
    assert!(
        wait_until(12, || has_addr(lan, 0, VIP)),
        "no MASTER after the delay\n{}",
        d.log()
    );
    assert!(
        t.elapsed() >= Duration::from_millis(3900),
        "MASTER before the delay\n{}",
        d.log()
    );
    assert!(
        d.log().contains("Delaying startup for 4 seconds"),
        "{}",
        d.log()
    );
    std::thread::sleep(Duration::from_millis(500));
    let adverts = cap.matching(&["VRRPv2"]);
    let first = adverts.first().map(|a| a.0 - started);
    assert!(
        first.is_some_and(|f| f >= 3.9),
        "first advert at {first:?} s\n{}\n{}",
        cap.text(),
        d.log()
    );
    d.stop();
    assert!(wait_until(5, || !has_addr(lan, 0, VIP)), "{}", d.log());
}

/// (2c) Adverts leave from the VMAC (source MAC 00:00:5e:00:01:33), or from the base
/// interface with `vmac_xmit_base`; the VIP is on the VMAC either way.
#[test]
fn vmac_advert_source_and_xmit_base() {
    if !tcpdump_available() {
        support::skip_or_fail(
            "vmac_advert_source_and_xmit_base",
            "tcpdump is not installed",
        );
        return;
    }
    let Some(lan) = lan_or_skip("vmac_advert_source_and_xmit_base", 2) else {
        return;
    };
    let mac = lan.mac(0);
    let eth0 = format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    );
    for (extra, src) in [
        ("  use_vmac\n", VMAC4.to_owned()),
        ("  use_vmac\n  vmac_xmit_base\n", eth0),
    ] {
        let cap = Capture::start(&lan, 1, "ip proto 112");
        let mut d = Daemon::start(&lan, 0, false, &conf(150, extra, &[&format!("{VIP}/32")]));
        vmac_master(&lan, 0, &[0], 10, &[&d]);
        std::thread::sleep(Duration::from_millis(1500));
        let adverts = cap.matching(&["VRRPv2", "192.0.2.1 > 224.0.0.18"]);
        assert!(!adverts.is_empty(), "{}\n{}", cap.text(), d.log());
        assert!(
            adverts
                .iter()
                .all(|a| a.1.contains(&format!(" {src} > 01:00:5e:00:00:12"))),
            "{extra}: adverts not from {src}\n{}\n{}",
            cap.text(),
            d.log()
        );
        d.stop();
        assert!(link_details(&lan, 0, "vrrp.51").is_none(), "{}", d.log());
    }
}

/// (2d) IPv6 (VRRPv3) pair of ours with `use_vmac`: the VIP moves between the VMACs
/// (00:00:5e:00:02:33).
#[test]
fn vmac_ipv6_pair() {
    let Some(lan) = lan_or_skip("vmac_ipv6_pair", 2) else {
        return;
    };
    let vip6 = "2001:db8::100";
    let extra = "  version 3\n  use_vmac\n";
    let mut a = Daemon::start(&lan, 0, false, &conf(150, extra, &[&format!("{vip6}/128")]));
    let b = Daemon::start(&lan, 1, false, &conf(100, extra, &[&format!("{vip6}/128")]));
    let on = |n: usize| has_addr_on(&lan, n, "vrrp.51", vip6);
    assert!(wait_until(12, || on(0) && !on(1)), "{}", logs(&[&a, &b]));
    assert_eq!(
        link_details(&lan, 0, "vrrp.51").map(|l| l.0).as_deref(),
        Some("00:00:5e:00:02:33")
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(on(0) && !on(1), "{}", logs(&[&a, &b]));
    a.stop();
    assert!(wait_until(6, || on(1)), "{}", logs(&[&a, &b]));
}
