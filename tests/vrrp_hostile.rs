//! Hostile LAN test: a master and a backup on a bridge, and an attacker
//! node flooding protocol 112 with nine kinds of bad or foreign packets as fast as one thread
//! can (`HOSTILE_SECS`, default 10). The master must stay master with its adverts on time,
//! and its receive counters must account for what it was sent, by reason.
//!
//! `real_keepalived_under_attack` (ignored; run by hand) puts the real keepalived 2.2.7 in
//! the same place and reports what happens. Root is needed: loud skip, or failure under CI.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::hostile;
use support::netns;
use support::node_daemon;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use hostile::*;
use node_daemon::*;

const VIP: &str = "192.0.2.100";

fn secs() -> u64 {
    std::env::var("HOSTILE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
}

fn say(s: &str) {
    // Straight to stderr: visible with --nocapture and in CI logs alike.
    let _ = writeln!(std::io::stderr(), "{s}");
}

struct Outcome {
    dur: f64,
    sent: BTreeMap<&'static str, u64>,
    /// Polls (every ~200 ms) where the master lacked the VIP or the backup held it.
    bad_polls: Vec<String>,
    master_stats: (String, String),
    backup_stats: (String, String),
    master_cpu: f64,
    backup_cpu: f64,
    logs: String,
    backup_took_over: bool,
    metrics: String,
    master_left: bool,
}

fn attack(real: bool) -> Option<Outcome> {
    let lan = lan_or_skip("vrrp_hostile", 3)?;
    let auth = format!(
        "  authentication {{\n    auth_type PASS\n    auth_pass {}\n  }}\n",
        String::from_utf8_lossy(PASS)
    );
    let vip = format!("{VIP}/32");
    let mut mconf = conf(200, &auth, &[&vip]);
    if !real {
        // Ours only (keepalived rejects the keyword): metrics read during the attack.
        mconf = mconf.replace(
            "router_id test\n",
            "router_id test\n  metrics_address 127.0.0.1:9650\n",
        );
    }
    let m = Daemon::start(&lan, 0, real, &mconf);
    let b = Daemon::start(&lan, 1, real, &conf(100, &auth, &[&vip]));
    expect_master(&lan, 0, &[0, 1], VIP, 15, &[&m, &b]);
    std::thread::sleep(Duration::from_millis(1500));
    let m_before = stats_text(&m);
    let b_before = stats_text(&b);
    let (mpid, bpid) = (vrrp_child(&m), vrrp_child(&b));
    let m_cpu0 = mpid.map_or(0.0, cpu_secs);
    let b_cpu0 = bpid.map_or(0.0, cpu_secs);

    let dur = Duration::from_secs(secs());
    let src = lan.nodes[2].v4;
    let vip4: Ipv4Addr = VIP.parse().expect("vip");
    let started = Instant::now();
    let h = lan.spawn_in(2, move || async move { flood("eth0", src, vip4, dur) });
    let mut bad_polls = Vec::new();
    while !h.is_finished() {
        let (mh, bh) = (has_addr(&lan, 0, VIP), has_addr(&lan, 1, VIP));
        if !mh || bh {
            bad_polls.push(format!(
                "t={:.1}s master has VIP: {mh}, backup has VIP: {bh}",
                started.elapsed().as_secs_f64()
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let sent = netns::join(h);
    let elapsed = started.elapsed().as_secs_f64();
    let m_cpu = mpid.map_or(0.0, cpu_secs) - m_cpu0;
    let b_cpu = bpid.map_or(0.0, cpu_secs) - b_cpu0;
    // Let the sockets drain before reading the counters.
    std::thread::sleep(Duration::from_millis(500));
    let metrics = if real {
        String::new()
    } else {
        lan.run_in(0, || async {
            use std::io::{Read, Write};
            let mut c = std::net::TcpStream::connect("127.0.0.1:9650").expect("metrics");
            c.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            c.write_all(b"GET /metrics HTTP/1.0\r\n\r\n")
                .expect("write");
            let mut t = String::new();
            let _ = c.read_to_string(&mut t);
            t
        })
    };
    let m_after = stats_text(&m);
    let b_after = stats_text(&b);
    let logs = logs(&[&m, &b]);
    Some(Outcome {
        dur: elapsed,
        sent,
        bad_polls,
        master_stats: (m_before, m_after),
        backup_stats: (b_before, b_after),
        master_cpu: m_cpu,
        backup_cpu: b_cpu,
        backup_took_over: b.log().contains("Entering MASTER STATE"),
        metrics,
        master_left: m.log().matches("Entering MASTER STATE").count() != 1
            || m.log().contains("Entering BACKUP STATE") && {
                // The start-up BACKUP precedes the one MASTER entry; any later one is a loss.
                let l = m.log();
                l.rfind("Entering BACKUP STATE") > l.find("Entering MASTER STATE")
            },
        logs,
    })
}

/// Prints the outcome; returns (packets sent, adverts the backup received, adverts the
/// master sent).
fn report(who: &str, o: &Outcome) -> (u64, u64, u64) {
    let total: u64 = o.sent.values().sum();
    say(&format!(
        "=== {who}: {total} hostile packets in {:.1} s ({:.0}/s) ===",
        o.dur,
        total as f64 / o.dur
    ));
    for (k, v) in &o.sent {
        say(&format!("  sent {k:<26} {v}"));
    }
    let adv = |t: &(String, String)| {
        instance_counter(&t.1, "Advertisements:", "Received").saturating_sub(instance_counter(
            &t.0,
            "Advertisements:",
            "Received",
        ))
    };
    let sent_adv = |t: &(String, String)| {
        instance_counter(&t.1, "Advertisements:", "Sent").saturating_sub(instance_counter(
            &t.0,
            "Advertisements:",
            "Sent",
        ))
    };
    let errs = |t: &(String, String)| instance_errors(&t.1).saturating_sub(instance_errors(&t.0));
    say(&format!(
        "  master: adverts sent {}, instance error counters +{}, CPU {:.2} s ({:.0}% of one core)",
        sent_adv(&o.master_stats),
        errs(&o.master_stats),
        o.master_cpu,
        100.0 * o.master_cpu / o.dur
    ));
    say(&format!(
        "  backup: master adverts received {}, instance error counters +{}, CPU {:.2} s ({:.0}%)",
        adv(&o.backup_stats),
        errs(&o.backup_stats),
        o.backup_cpu,
        100.0 * o.backup_cpu / o.dur
    ));
    say(&format!(
        "  VIP polls wrong: {} ; backup entered MASTER: {} ; master lost mastership: {}",
        o.bad_polls.len(),
        o.backup_took_over,
        o.master_left
    ));
    for p in o.bad_polls.iter().take(5) {
        say(&format!("    {p}"));
    }
    (total, adv(&o.backup_stats), sent_adv(&o.master_stats))
}

fn rx_delta(t: &(String, String)) -> Rx {
    let a = rx_section(&t.0).unwrap_or_default();
    let b = rx_section(&t.1).unwrap_or_else(|| panic!("no VRRP Receive section:\n{}", t.1));
    let mut d = Rx {
        received: b.received - a.received,
        accepted: b.accepted - a.accepted,
        drops: BTreeMap::new(),
    };
    for (k, v) in b.drops {
        let before = a.drops.get(&k).copied().unwrap_or(0);
        d.drops.insert(k, v - before);
    }
    d
}

/// Ours as master and backup under the flood.
#[test]
fn ours_keep_mastership_under_attack() {
    let Some(o) = attack(false) else { return };
    let (total, backup_adverts, master_sent) = report("ours", &o);
    let rx = rx_delta(&o.master_stats);
    say(&format!(
        "  master rx: received {} accepted {} dropped {} {:?}",
        rx.received,
        rx.accepted,
        rx.dropped(),
        rx.drops
    ));
    let brx = rx_delta(&o.backup_stats);
    say(&format!(
        "  backup rx: received {} accepted {} dropped {} {:?}",
        brx.received,
        brx.accepted,
        brx.dropped(),
        brx.drops
    ));
    assert!(
        total > 1000,
        "the attacker sent almost nothing: {:?}",
        o.sent
    );
    assert!(
        o.bad_polls.is_empty() && !o.backup_took_over && !o.master_left,
        "mastership moved: {:?}\n{}",
        o.bad_polls,
        o.logs
    );
    // advert_int 1: the master sends one advert a second whatever it receives (2 of slack
    // for the edges): receiving never delays sending.
    let want = (o.dur as u64).saturating_sub(2);
    assert!(
        master_sent >= want,
        "master sent {master_sent} adverts in {:.1} s\n{}",
        o.dur,
        o.logs
    );
    // On the wire the backup must see them too. It shares the flood, and its own socket
    // sheds packets (counted as socket_overflow) while it waits for a CPU on a loaded host,
    // so a few adverts may go the same way: at most a quarter, never three in a row (the
    // mastership checks above).
    assert!(
        backup_adverts * 4 >= want * 3,
        "backup got {backup_adverts} adverts in {:.1} s\n{}",
        o.dur,
        o.logs
    );
    // Every packet the master's sockets saw is accounted: accepted + drops = received.
    assert_eq!(rx.accepted + rx.dropped(), rx.received, "{rx:?}");
    // Nothing the attacker sends is a valid advert for VRID 51.
    assert_eq!(rx.accepted, 0, "{rx:?}");
    // The kernel may lose a few packets before any socket sees them (veth backlog:
    // netdev_max_backlog); socket-buffer overflows are counted (socket_overflow).
    assert!(
        rx.dropped() as f64 >= 0.95 * total as f64,
        "master accounted {} of {total} packets: {rx:?}",
        rx.dropped()
    );
    // The same counters on the metrics endpoint, read after the run.
    assert!(
        o.metrics
            .contains("keepalived_vrrp_rx_dropped_total{reason=\"unknown_vrid\"} ")
            && o.metrics
                .contains("keepalived_vrrp_state{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",ip_address=\"192.0.2.100/32\"} 2\n"),
        "{}",
        o.metrics
    );
    for kind in [
        "bad_password",
        "ttl",
        "checksum",
        "too_short",
        "unknown_vrid",
    ] {
        assert!(
            rx.drops.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} drops: {rx:?}"
        );
    }
    assert!(
        o.master_cpu < o.dur,
        "master VRRP child used {:.2} s CPU in {:.1} s",
        o.master_cpu,
        o.dur
    );
}

/// The same attack on the real keepalived 2.2.7 (master and backup): reports, does not
/// judge (its master stops advertising under this load).
#[test]
#[ignore = "comparison with the real keepalived; run by hand: --ignored --nocapture"]
fn real_keepalived_under_attack() {
    if !real_or_skip("real_keepalived_under_attack") {
        return;
    }
    let Some(o) = attack(true) else { return };
    let (total, _, _) = report("real keepalived 2.2.7", &o);
    assert!(
        total > 1000,
        "the attacker sent almost nothing: {:?}",
        o.sent
    );
    say(&format!("  master stats after:\n{}", o.master_stats.1));
}
