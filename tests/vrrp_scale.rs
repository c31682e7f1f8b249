//! Scale convergence: two nodes with 500 VRRP instances each (2 interfaces ×
//! VRIDs 1..250, one VIP each), started together, every instance `state BACKUP` and the
//! priorities arranged so that node A should own half the VRIDs and node B the other half.
//! Every instance must reach its expected state within 2 × the master-down interval plus
//! a slack (below), and nothing may flip during a further observation window.
//!
//! `real_keepalived_scale_500` (ignored; `cargo test --test vrrp_scale -- --ignored
//! --nocapture`) runs the same configuration with the real keepalived 2.2.7 and reports
//! flips and the VIP split.
//!
//! Root is needed (network namespaces): loud skip, or failure under CI=true. Daemons are
//! killed and namespaces deleted on drop, also on failure.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::multi_lan;
use support::node_daemon;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use multi_lan::MultiLan;
use node_daemon::{logs, Daemon};

const LINKS: usize = 2;
const VRIDS: u8 = 250;
const PRIO_OWNER: u32 = 200;
const PRIO_OTHER: u32 = 100;
/// advert_int 1: the backup's master-down interval is 3 × 1 s + skew (RFC 5798).
const MASTER_DOWN: Duration = Duration::from_millis(3000 + 1000 * (256 - PRIO_OTHER as u64) / 256);
/// Slack on top of 2 × master-down, counted from the spawn of the daemons: start-up of two
/// debug-build daemons parsing 500 instances and dumping the host's addresses, on a 2-core
/// machine shared with ~8 busy builds, where a scheduling stall of a few seconds is common.
const SLACK: Duration = Duration::from_secs(8);
/// After settling, nothing may change for this long (≈ 3 master-down intervals).
const OBSERVE: Duration = Duration::from_secs(10);

/// The VIP of VRID `v` on `eth<link>`: 198.51.100.v on eth0, 203.0.113.v on eth1.
fn vip(link: usize, v: u8) -> String {
    let net = ["198.51.100", "203.0.113"][link];
    format!("{net}.{v}")
}

fn name(link: usize, v: u8) -> String {
    format!("I{link}_{v}")
}

/// Node (0 = A, 1 = B) that should be MASTER of VRID `v` on `eth<link>`.
fn owner(link: usize, v: u8) -> usize {
    (usize::from(v) + link) % 2
}

fn all() -> impl Iterator<Item = (usize, u8)> {
    (0..LINKS).flat_map(|l| (1..=VRIDS).map(move |v| (l, v)))
}

/// The configuration of node `node`, for ours and the real keepalived alike.
fn scale_conf(node: usize) -> String {
    let mut s = format!("global_defs {{\n  router_id scale{node}\n}}\n\n");
    for (l, v) in all() {
        let prio = if owner(l, v) == node {
            PRIO_OWNER
        } else {
            PRIO_OTHER
        };
        s.push_str(&format!(
            "vrrp_instance {} {{\n  state BACKUP\n  interface eth{l}\n  virtual_router_id {v}\n  \
             priority {prio}\n  advert_int 1\n  virtual_ipaddress {{\n    {}/32\n  }}\n}}\n",
            name(l, v),
            vip(l, v)
        ));
    }
    s
}

/// `(instance, state)` for every "(X) Entering S STATE" line of a log, in order.
fn transitions(log: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in log.lines() {
        let Some(at) = line.find(") Entering ") else {
            continue;
        };
        let Some(open) = line.get(..at).and_then(|h| h.rfind('(')) else {
            continue;
        };
        let inst = line.get(open + 1..at).unwrap_or_default();
        let state = line
            .get(at + ") Entering ".len()..)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_default();
        out.push((inst.to_owned(), state.to_owned()));
    }
    out
}

/// The VIPs of this test that node `i` holds.
fn vips_held(lan: &MultiLan, i: usize) -> BTreeSet<String> {
    lan.addrs(i)
        .into_iter()
        .filter(|a| a.starts_with("198.51.100.") || a.starts_with("203.0.113."))
        .collect()
}

fn expected_vips(node: usize) -> BTreeSet<String> {
    all()
        .filter(|&(l, v)| owner(l, v) == node)
        .map(|(l, v)| vip(l, v))
        .collect()
}

/// Per node: the instances whose last logged state is MASTER.
fn masters(d: &Daemon) -> BTreeSet<String> {
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    for (i, s) in transitions(&d.log()) {
        last.insert(i, s);
    }
    last.into_iter()
        .filter(|(_, s)| s == "MASTER")
        .map(|(i, _)| i)
        .collect()
}

fn expected_masters(node: usize) -> BTreeSet<String> {
    all()
        .filter(|&(l, v)| owner(l, v) == node)
        .map(|(l, v)| name(l, v))
        .collect()
}

/// Whether both nodes hold exactly their VIPs and log exactly their masters.
fn settled(lan: &MultiLan, ds: &[&Daemon; 2]) -> bool {
    (0..2).all(|n| vips_held(lan, n) == expected_vips(n) && masters(ds[n]) == expected_masters(n))
}

struct Outcome {
    /// Time from spawn until settled, if it did within the limit.
    settle: Option<Duration>,
    /// Transitions logged by each node before settling (or until the limit).
    before: [usize; 2],
    /// Transitions logged during the observation window.
    after: [usize; 2],
    /// VIPs each node held at the end, and how many of them belong to the other node.
    held: [usize; 2],
    misplaced: [usize; 2],
}

/// Starts both nodes together and watches them settle, then observes.
fn run(lan: &MultiLan, real: bool, limit: Duration) -> (Outcome, [Daemon; 2]) {
    let (ca, cb) = (scale_conf(0), scale_conf(1));
    let t0 = Instant::now();
    let a = lan.daemon(0, real, &ca, &[]);
    let b = lan.daemon(1, real, &cb, &[]);
    let mut settle = None;
    while t0.elapsed() < limit {
        if settled(lan, &[&a, &b]) {
            settle = Some(t0.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let count = |d: &Daemon| transitions(&d.log()).len();
    let before = [count(&a), count(&b)];
    let end = Instant::now() + OBSERVE;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(500));
    }
    let after = [count(&a) - before[0], count(&b) - before[1]];
    let mut held = [0; 2];
    let mut misplaced = [0; 2];
    for n in 0..2 {
        let h = vips_held(lan, n);
        held[n] = h.len();
        misplaced[n] = h.difference(&expected_vips(n)).count();
    }
    (
        Outcome {
            settle,
            before,
            after,
            held,
            misplaced,
        },
        [a, b],
    )
}

fn report(who: &str, o: &Outcome) -> String {
    format!(
        "{who}: settled after {:?} (limit 2×{MASTER_DOWN:?} + {SLACK:?}); transitions logged \
         before settling A={} B={} (750 each without flips: 500 BACKUP (init) + 250 MASTER); during the next {OBSERVE:?} \
         A={} B={}; VIPs held A={} B={} (expected 250 each), misplaced A={} B={}",
        o.settle,
        o.before[0],
        o.before[1],
        o.after[0],
        o.after[1],
        o.held[0],
        o.held[1],
        o.misplaced[0],
        o.misplaced[1],
    )
}

fn write_stderr(s: &str) {
    // The test harness captures eprintln!, not the stderr handle.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{s}\n").as_bytes());
}

/// Copies the daemons' logs to `<target>/tmp/vrrp_scale_<who>_{A,B}.log` for inspection.
fn keep_logs(who: &str, ds: &[&Daemon; 2]) {
    for (d, n) in ds.iter().zip(["A", "B"]) {
        let p = format!("{}/vrrp_scale_{who}_{n}.log", env!("CARGO_TARGET_TMPDIR"));
        let _ = std::fs::write(&p, d.log());
    }
}

/// Ours: 2 × 500 instances settle within 2 × master-down (+ slack) and stay put.
#[test]
fn ours_500_instances_settle_and_stay() {
    let Some(lan) = MultiLan::new("ours_500_instances_settle_and_stay", 2, LINKS) else {
        return;
    };
    let limit = 2 * MASTER_DOWN + SLACK;
    let (o, [a, b]) = run(&lan, false, limit);
    let r = report("ours", &o);
    write_stderr(&r);
    keep_logs("ours", &[&a, &b]);
    let tail = |d: &Daemon| {
        let l = d.log();
        let lines: Vec<&str> = l.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    };
    assert!(
        o.settle.is_some(),
        "{r}\nA masters {} of {}, B masters {} of {}\n--- A tail:\n{}\n--- B tail:\n{}",
        masters(&a).intersection(&expected_masters(0)).count(),
        expected_masters(0).len(),
        masters(&b).intersection(&expected_masters(1)).count(),
        expected_masters(1).len(),
        tail(&a),
        tail(&b)
    );
    assert_eq!(o.after, [0, 0], "state flips after settling: {r}");
    assert_eq!(o.held, [250, 250], "{r}");
    assert_eq!(o.misplaced, [0, 0], "{r}");
    assert!(settled(&lan, &[&a, &b]), "{r}\n{}", logs(&[&a, &b]));
}

/// The real keepalived 2.2.7 on the same configuration: reports how it fares (the issue
/// says it never settles). Ignored: it takes ~30 s and asserts only that it ran.
#[test]
#[ignore]
fn real_keepalived_scale_500() {
    if support::real_keepalived().is_none() {
        support::skip_or_fail(
            "real_keepalived_scale_500",
            "/usr/sbin/keepalived is not installed",
        );
        return;
    }
    let Some(lan) = MultiLan::new("real_keepalived_scale_500", 2, LINKS) else {
        return;
    };
    let (o, [a, b]) = run(&lan, true, 2 * MASTER_DOWN + SLACK);
    write_stderr(&report("keepalived 2.2.7", &o));
    keep_logs("real", &[&a, &b]);
    // It must at least have run every instance on both nodes.
    for (n, d) in [&a, &b].into_iter().enumerate() {
        let seen: BTreeSet<String> = transitions(&d.log()).into_iter().map(|t| t.0).collect();
        assert_eq!(
            seen.len(),
            500,
            "node {n} did not run 500 instances:\n{}",
            d.log()
        );
    }
}

#[test]
fn transitions_parses_both_daemons_lines() {
    let log = "Keepalived_vrrp[12]: (I0_1) Entering BACKUP STATE (init)\n\
               (I1_250) Entering MASTER STATE\nother (x) line\n";
    assert_eq!(
        transitions(log),
        vec![
            ("I0_1".into(), "BACKUP".into()),
            ("I1_250".into(), "MASTER".into())
        ]
    );
    assert_eq!(expected_vips(0).len(), 250);
    assert!(expected_vips(0).is_disjoint(&expected_vips(1)));
}
