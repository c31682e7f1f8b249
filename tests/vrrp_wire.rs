//! VRRP wire features (issue #5): IPsec AH authentication, VMAC interfaces, the GARP
//! schedule and `vrrp_startup_delay`, with our daemon and the real keepalived 2.2.7 in
//! namespaces of a test LAN. Every wait is bounded; daemons, captures and namespaces are
//! removed on drop (also on failure). Root is needed: loud skip, or failure under CI=true.

#[path = "support/netns.rs"]
mod netns;
#[path = "support/node_daemon.rs"]
mod node_daemon;
mod support;
#[path = "support/wire.rs"]
mod wire;

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
