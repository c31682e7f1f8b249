//! BFD end to end, in network namespaces on documentation addresses:
//! - interop with keepalived 2.2.7's BFD child, ours active and passive: the session comes
//!   up on both sides, the intervals are negotiated (each side sends at the slower of its
//!   min_tx and the peer's min_rx), tshark decodes every packet without expert warnings,
//!   and each side detects the other's death (kill -9) within multiplier x interval, plus
//!   one interval for the first Down packet to leave (measured on packet timestamps);
//! - interop with FRR's bfdd (standalone, its own config and sockets): up, then down both
//!   ways;
//! - track_bfd: killing the BFD peer moves the VIP to the backup, with the same notify
//!   sequence in ours as in 2.2.7; the weight variant;
//! - kill -9 of our BFD child: the parent respawns it and the session comes back.
//!
//! Every wait is bounded; daemons, captures and namespaces go with their Drop guards. Root,
//! tcpdump, tshark, /usr/sbin/keepalived (and FRR's bfdd for its test) are needed: loud
//! skip, or failure under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::interop;
use support::netns;
use support::node_daemon;

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use interop::*;
use netns::Lan;
use node_daemon::*;

/// A `bfd_instance` towards node `peer` (1-based address) from node `me`.
fn bfd_conf(name: &str, me: u8, peer: u8, ms: u32, passive: bool) -> String {
    format!(
        "bfd_instance {name} {{\n  neighbor_ip 192.0.2.{peer}\n  source_ip 192.0.2.{me}\n  \
         min_rx {ms}\n  min_tx {ms}\n  multiplier 3\n{}}}\n",
        if passive { "  passive\n" } else { "" }
    )
}

/// One decoded control packet.
#[derive(Debug, Clone)]
struct Pkt {
    t: f64,
    src: String,
    state: u8,
    diag: u8,
    poll: bool,
    fin: bool,
    min_tx: u32,
    ttl: u8,
    sport: u16,
}

fn hex_or_dec(s: &str) -> u64 {
    let s = s.trim();
    s.strip_prefix("0x")
        .map(|h| u64::from_str_radix(h, 16).unwrap_or(u64::MAX))
        .unwrap_or_else(|| s.parse().unwrap_or(u64::MAX))
}

fn packets(pcap: &Path) -> Vec<Pkt> {
    tshark_rows(
        pcap,
        "bfd",
        &[
            "frame.time_epoch",
            "ip.src",
            "bfd.sta",
            "bfd.diag",
            "bfd.flags.p",
            "bfd.flags.f",
            "bfd.desired_min_tx_interval",
            "ip.ttl",
            "udp.srcport",
        ],
    )
    .into_iter()
    .map(|r| Pkt {
        t: r[0].parse().unwrap(),
        src: r[1].clone(),
        state: hex_or_dec(&r[2]) as u8,
        diag: hex_or_dec(&r[3]) as u8,
        poll: hex_or_dec(&r[4]) == 1,
        fin: hex_or_dec(&r[5]) == 1,
        min_tx: hex_or_dec(&r[6]) as u32,
        ttl: hex_or_dec(&r[7]) as u8,
        sport: hex_or_dec(&r[8]) as u16,
    })
    .collect()
}

/// BFD frames tshark flags with an expert message (malformed, bad length...).
fn expert_warnings(pcap: &Path) -> Vec<Vec<String>> {
    tshark_rows(pcap, "bfd && _ws.expert", &["frame.number", "_ws.expert"])
}

const UP: u8 = 3;
const DOWN: u8 = 1;

/// How long after the peer's last packet `from` sent its first Down packet with diag 1
/// (detection expired), in seconds; `None` if it never did.
fn detection(pkts: &[Pkt], from: &str, peer: &str, after: f64) -> Option<f64> {
    let down = pkts
        .iter()
        .find(|p| p.src == from && p.t > after && p.state == DOWN && p.diag == 1)?;
    let last_peer = pkts
        .iter()
        .filter(|p| p.src == peer && p.t < down.t)
        .map(|p| p.t)
        .fold(f64::NAN, f64::max);
    Some(down.t - last_peer)
}

/// The gaps between `from`'s Up packets without Poll or Final, after `after`.
fn steady_gaps(pkts: &[Pkt], from: &str, after: f64) -> Vec<f64> {
    let ts: Vec<f64> = pkts
        .iter()
        .filter(|p| p.src == from && p.t > after && p.state == UP && !p.poll && !p.fin)
        .map(|p| p.t)
        .collect();
    ts.windows(2).map(|w| w[1] - w[0]).collect()
}

/// N of the first `Expired after N ms` line (0 if none).
fn expired_ms(log: &str) -> u64 {
    log.lines()
        .find_map(|l| l.split("Expired after ").nth(1))
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn up_count(d: &Daemon, name: &str) -> usize {
    d.log()
        .matches(&format!("({name}) Entering Up state"))
        .count()
}

fn bfd_pid(d: &Daemon) -> Option<i32> {
    fs::read_to_string(d.path("bfd.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// One direction of the keepalived 2.2.7 interop: ours on node 1 (100 ms), the real one on
/// node 2 (200 ms); `ours_passive` picks who waits.
fn keepalived_interop(ours_passive: bool) {
    let test = if ours_passive {
        "bfd keepalived interop (ours passive)"
    } else {
        "bfd keepalived interop (ours active)"
    };
    if !real_or_skip(test) || !tools_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cap = Capture::start(&lan, 0, "udp port 3784", dir.path(), "bfd");
    let mut ours = Daemon::start_all(&lan, 0, false, &bfd_conf("peer", 1, 2, 100, ours_passive));
    // The passive side is listening before the active one speaks.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut real = Daemon::start_all(&lan, 1, true, &bfd_conf("peer", 2, 1, 200, !ours_passive));
    let both_up = wait_until(20, || {
        up_count(&ours, "peer") == 1 && up_count(&real, "peer") == 1
    });
    assert!(both_up, "session not up\n{}", logs(&[&ours, &real]));
    // Let the poll sequences end and a few steady packets go.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let t_kill = kill9(&mut real);
    let expired = wait_until(10, || ours.log().contains("(peer) Expired after"));
    assert!(expired, "no expiry\n{}", ours.log());
    // Our Down packets must reach the capture before the peer restarts.
    std::thread::sleep(std::time::Duration::from_millis(1200));

    // The peer comes back; now ours dies and the real one must detect it.
    let mut real = Daemon::start_all(&lan, 1, true, &bfd_conf("peer", 2, 1, 200, !ours_passive));
    let up_again = wait_until(20, || {
        up_count(&ours, "peer") == 2 && up_count(&real, "peer") == 1
    });
    assert!(up_again, "session not up again\n{}", logs(&[&ours, &real]));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let t_kill_ours = kill9(&mut ours);
    let expired = wait_until(10, || real.log().contains("(peer) Expired after"));
    assert!(expired, "real did not expire\n{}", real.log());
    std::thread::sleep(std::time::Duration::from_millis(1200));
    real.stop();
    cap.stop();

    let pkts = packets(&cap.path);
    let (me, peer) = ("192.0.2.1", "192.0.2.2");
    // The passive side spoke only after hearing from the active one.
    let first = |who: &str| pkts.iter().find(|p| p.src == who).map(|p| p.t).unwrap();
    let (passive, active) = if ours_passive { (me, peer) } else { (peer, me) };
    assert!(
        first(passive) > first(active),
        "passive side spoke first: {pkts:?}"
    );
    // RFC 5881: TTL 255 and a source port from 49152-65535, both sides.
    for p in &pkts {
        assert_eq!(p.ttl, 255, "{p:?}");
        assert!(p.sport >= 49152, "{p:?}");
    }
    // Negotiated: both send every 200 ms less 10-25 % jitter once Up; each announces its
    // own min_tx while Up.
    let before_kill = |p: &&Pkt| p.t < t_kill;
    assert!(pkts
        .iter()
        .filter(before_kill)
        .any(|p| p.src == me && p.state == UP && p.min_tx == 100_000));
    assert!(pkts
        .iter()
        .filter(before_kill)
        .any(|p| p.src == peer && p.state == UP && p.min_tx == 200_000));
    // Going Up starts a poll sequence (idle_tx differs from min_tx; a side answering a
    // poll at that moment sends its parameters with the Final instead): every poll is
    // answered by a Final from the other side at once.
    let polls: Vec<&Pkt> = pkts.iter().filter(|p| p.poll).collect();
    assert!(!polls.is_empty(), "no poll sequence: {pkts:?}");
    for p in polls {
        let answered = pkts
            .iter()
            .any(|f| f.src != p.src && f.fin && f.t >= p.t && f.t - p.t < 0.1);
        assert!(answered, "poll not answered: {p:?}");
    }
    let up_at = pkts
        .iter()
        .filter(|p| p.src == me && p.state == UP)
        .map(|p| p.t)
        .next()
        .unwrap();
    let steady: Vec<f64> = steady_gaps(&pkts, me, up_at + 0.5)
        .into_iter()
        .filter(|g| *g < 1.0)
        .collect();
    assert!(steady.len() >= 4, "too few steady packets: {pkts:?}");
    // 150-200 ms by the jitter rule (RFC 5880 6.8.7: 75-100 % of the interval). Only the
    // lower bound is exact: a loaded host delays packets, it never sends them early; the
    // upper bound only catches a wrong interval (tests never assert on scheduling delays).
    for g in &steady {
        assert!(*g >= 0.140 && *g <= 0.6, "gap {g}: {steady:?}");
    }
    // Death detected in 3 x 200 ms after the last packet received, both ways. The active
    // side's first Down packet leaves within one more interval (measured on the capture);
    // a passive side falls silent when Down (keepalived stops its sender), so its own
    // `Expired after N ms` line tells.
    let (active_det, passive_ms) = if ours_passive {
        (
            detection(&pkts, peer, me, t_kill_ours),
            expired_ms(&ours.log()),
        )
    } else {
        (detection(&pkts, me, peer, t_kill), expired_ms(&real.log()))
    };
    let active_det = active_det.expect("the active side's Down packet");
    // not before 3 x 200 ms; a loose upper bound (see above)
    assert!(
        (0.58..=2.0).contains(&active_det),
        "active side detected in {active_det} s"
    );
    assert!(
        (595..=2000).contains(&passive_ms),
        "passive side expired after {passive_ms} ms"
    );
    assert!(
        !pkts
            .iter()
            .any(|p| p.src == passive && p.state == DOWN && p.diag == 1),
        "a passive side sent Down"
    );
    assert_eq!(expert_warnings(&cap.path), Vec::<Vec<String>>::new());
}

#[test]
fn keepalived_interop_ours_active() {
    keepalived_interop(false);
}

#[test]
fn keepalived_interop_ours_passive() {
    keepalived_interop(true);
}

/// A background process, killed with its process group on drop.
struct Bg(Option<Child>);

impl Bg {
    fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = c.wait();
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        self.kill();
    }
}

fn bfdd_path() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/lib/frr/bfdd");
    p.exists().then_some(p)
}

/// FRR's bfdd alone in node `i` with a peer towards `peer`, its sockets in `dir`.
fn start_bfdd(lan: &Lan, i: usize, peer: &str, me: &str, dir: &Path) -> Bg {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).unwrap();
    let conf = dir.join("bfdd.conf");
    fs::write(
        &conf,
        format!(
            "bfd\n peer {peer} local-address {me}\n  receive-interval 200\n  \
             transmit-interval 200\n  detect-multiplier 3\n !\n!\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&conf, fs::Permissions::from_mode(0o644)).unwrap();
    let log = fs::File::create(dir.join("bfdd.log")).unwrap();
    let mut c = Command::new("ip");
    c.args(["netns", "exec", &lan.nodes[i].ns])
        .arg(bfdd_path().unwrap())
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("bfdd.pid"))
        .arg("--vty_socket")
        .arg(dir)
        .arg("--bfdctl")
        .arg(dir.join("bfdd.sock"))
        .arg("-z")
        .arg(dir.join("zserv.api"))
        // FRR drops privileges to its own user (the vty group needs it).
        .args([
            "-u",
            "frr",
            "-g",
            "frr",
            "--log",
            "stdout",
            "-A",
            "127.0.0.1",
            "-P",
            "0",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut c, 0);
    Bg(Some(c.spawn().expect("spawn bfdd")))
}

#[test]
fn frr_bfdd_interop() {
    let test = "bfd FRR interop";
    if bfdd_path().is_none() {
        support::skip_or_fail(test, "FRR's bfdd is not installed (apt-get install frr)");
        return;
    }
    if !tools_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let frr_dir = tempfile::tempdir().unwrap();
    let mut cap = Capture::start(&lan, 0, "udp port 3784", dir.path(), "frr");
    let mut ours = Daemon::start_all(&lan, 0, false, &bfd_conf("frr", 1, 2, 100, false));
    let mut bfdd = start_bfdd(&lan, 1, "192.0.2.1", "192.0.2.2", frr_dir.path());
    let frr_log = || fs::read_to_string(frr_dir.path().join("bfdd.log")).unwrap_or_default();
    assert!(
        wait_until(20, || up_count(&ours, "frr") == 1),
        "not up\n{}\n{}",
        ours.log(),
        frr_log()
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // bfdd dies: we expire.
    bfdd.kill();
    let t_frr_dead = now_epoch();
    assert!(wait_until(10, || ours
        .log()
        .contains("(frr) Expired after")));
    // bfdd is back; then we die and bfdd must go Down (diag 1) on its own.
    let _ = fs::remove_file(frr_dir.path().join("bfdd.pid"));
    let _bfdd = start_bfdd(&lan, 1, "192.0.2.1", "192.0.2.2", frr_dir.path());
    assert!(
        wait_until(20, || up_count(&ours, "frr") == 2),
        "not up again\n{}\n{}",
        ours.log(),
        frr_log()
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let t_ours_dead = kill9(&mut ours);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    cap.stop();
    let pkts = packets(&cap.path);
    let (me, frr) = ("192.0.2.1", "192.0.2.2");
    assert!(pkts.iter().any(|p| p.src == frr && p.state == UP));
    assert!(pkts.iter().any(|p| p.src == me && p.state == UP));
    let ours_det = detection(&pkts, me, frr, t_frr_dead).expect("our Down packet");
    assert!((0.58..=2.0).contains(&ours_det), "ours: {ours_det}");
    let frr_det = detection(&pkts, frr, me, t_ours_dead).expect("FRR's Down packet");
    // FRR sends its Down at once; detection 3 x 200 ms (FRR's own min_rx).
    assert!((0.55..=2.0).contains(&frr_det), "frr: {frr_det}");
    assert_eq!(expert_warnings(&cap.path), Vec::<Vec<String>>::new());
}

/// A script appending its arguments to `log`.
fn recorder(path: &Path, log: &Path) {
    fs::write(
        path,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", log.display()),
    )
    .unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// How node 1 tracks its BFD session to node 3.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Tracking {
    /// `track_bfd` in the instance, the session reporting to VRRP (`vrrp`): FAULT.
    Fault,
    /// The session's own `weight -100`: priority 50, BACKUP.
    Weight,
    /// `track_bfd` in the instance's `vrrp_sync_group`: FAULT.
    Group,
    /// The session reports to the checker only (`checker`): the instance ignores it.
    CheckerOnly,
}

/// Node 1 (priority 150) tracks a BFD session to node 3; node 2 (100) is the backup;
/// node 3 runs keepalived 2.2.7's BFD only. Kills node 3 and returns node 1's notify
/// calls, once node 2 holds the VIP (node 1 with `CheckerOnly`, which must keep it).
fn track_bfd_failover(real: bool, how: Tracking) -> Vec<String> {
    let test = "bfd track_bfd failover";
    if !real_or_skip(test) {
        return Vec::new();
    }
    let Some(lan) = lan_or_skip(test, 3) else {
        return Vec::new();
    };
    let sdir = tempfile::tempdir().unwrap();
    fs::set_permissions(sdir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let calls = sdir.path().join("calls");
    let rec = sdir.path().join("rec.sh");
    recorder(&rec, &calls);
    let vip = "192.0.2.100";
    let session_extra = match how {
        Tracking::Fault => "  vrrp\n",
        Tracking::Weight => "  weight -100\n",
        Tracking::Group => "",
        Tracking::CheckerOnly => "  checker\n",
    };
    let bfd = format!(
        "bfd_instance peer3 {{\n  neighbor_ip 192.0.2.3\n  source_ip 192.0.2.1\n  \
         min_rx 100\n  min_tx 100\n  multiplier 3\n{session_extra}}}\n"
    );
    let track = if how == Tracking::Group {
        ""
    } else {
        "  track_bfd {\n    peer3\n  }\n"
    };
    let group = if how == Tracking::Group {
        "vrrp_sync_group G {\n  group {\n    VI_1\n  }\n  track_bfd {\n    peer3\n  }\n}\n"
    } else {
        ""
    };
    let notify = format!("  notify \"{}\"\n{track}", rec.display());
    let c1 = format!(
        "global_defs {{\n  script_user root\n}}\n{bfd}{group}{}",
        conf(150, &notify, &[&format!("{vip}/32")])
    );
    let d1 = Daemon::start_all(&lan, 0, real, &c1);
    let d2 = Daemon::start_with(&lan, 1, true, &conf(100, "", &[&format!("{vip}/32")]), &[]);
    let mut d3 = Daemon::start_all(&lan, 2, true, &bfd_conf("peer3", 3, 1, 100, false));
    let all = |d1: &Daemon, d2: &Daemon, d3: &Daemon| logs(&[d1, d2, d3]);
    assert!(
        wait_until(25, || has_addr(&lan, 0, vip) && !has_addr(&lan, 1, vip)),
        "node 1 should be master\n{}",
        all(&d1, &d2, &d3)
    );
    kill9(&mut d3);
    let line = "VRRP_Instance(VI_1) Tracked BFD instance peer3 is DOWN";
    if how == Tracking::CheckerOnly {
        // Well past the detection time: still master, no BFD line.
        std::thread::sleep(std::time::Duration::from_millis(2500));
        assert!(has_addr(&lan, 0, vip), "{}", all(&d1, &d2, &d3));
        assert!(!d1.log().contains(line), "{}", d1.log());
    } else {
        assert!(
            wait_until(15, || has_addr(&lan, 1, vip) && !has_addr(&lan, 0, vip)),
            "VIP should move to node 2\n{}",
            all(&d1, &d2, &d3)
        );
        assert!(d1.log().contains(line), "{}", d1.log());
    }
    if how == Tracking::Weight {
        assert!(!d1.log().contains("Entering FAULT STATE"), "{}", d1.log());
    }
    // Let the last notify run.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    fs::read_to_string(&calls)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Ours and keepalived 2.2.7 as node 1: the same notify calls; the last one is `last`.
fn track_bfd_as_keepalived(how: Tracking, last: &str) {
    let ours = track_bfd_failover(false, how);
    let real = track_bfd_failover(true, how);
    if real.is_empty() && ours.is_empty() {
        return;
    }
    assert_eq!(ours, real, "{how:?}");
    assert!(
        ours.last().is_some_and(|l| l.starts_with(last)),
        "{how:?}: {ours:?}"
    );
}

#[test]
fn track_bfd_fault_moves_vip_as_keepalived() {
    track_bfd_as_keepalived(Tracking::Fault, "INSTANCE VI_1 FAULT");
}

#[test]
fn track_bfd_weight_moves_vip_as_keepalived() {
    track_bfd_as_keepalived(Tracking::Weight, "INSTANCE VI_1 BACKUP");
}

#[test]
fn track_bfd_in_sync_group_moves_vip_as_keepalived() {
    track_bfd_as_keepalived(Tracking::Group, "INSTANCE VI_1 FAULT");
}

#[test]
fn track_bfd_of_checker_only_session_is_ignored_as_keepalived() {
    track_bfd_as_keepalived(Tracking::CheckerOnly, "INSTANCE VI_1 MASTER");
}

#[test]
fn killed_bfd_child_is_respawned_and_session_returns() {
    let test = "bfd child respawn";
    if !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    // Named by bfd_process_name (comm), as its respawned self.
    let named = format!(
        "global_defs {{\n  bfd_process_name ka_bfd\n}}\n{}",
        bfd_conf("peer", 1, 2, 100, false)
    );
    let ours = Daemon::start_all(&lan, 0, false, &named);
    let real = Daemon::start_all(&lan, 1, true, &bfd_conf("peer", 2, 1, 100, false));
    // Both ends Up first, so the real one has an Up session for the restart to take down.
    assert!(
        wait_until(20, || up_count(&ours, "peer") == 1
            && up_count(&real, "peer") == 1),
        "{}",
        logs(&[&ours, &real])
    );
    let old = bfd_pid(&ours).expect("bfd pid file");
    let comm = |pid: i32| fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm(old).trim(), "ka_bfd");
    assert!(ours
        .log()
        .contains(&format!("Starting BFD child process, pid={old}")));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        wait_until(20, || bfd_pid(&ours).is_some_and(|p| p != old)
            && up_count(&ours, "peer") == 2),
        "{}",
        logs(&[&ours, &real])
    );
    assert!(ours
        .log()
        .contains(&format!("BFD child process({old}) died: Respawning")));
    assert_eq!(comm(bfd_pid(&ours).unwrap()).trim(), "ka_bfd");
    // The real keepalived saw its neighbour's session restart (new discriminator).
    assert!(
        wait_until(30, || up_count(&real, "peer") >= 2),
        "{}",
        logs(&[&ours, &real])
    );
}

/// `neighbour_ip`, `ttl`, `max_hops`, `idle_tx`, `multiplier` and `hoplimit` on the wire
/// against keepalived 2.2.7, and a reload: ours sends TTL 200 and refuses the peer's TTL 150
/// while 150 + `max_hops` 40 < 200 (the IPv6 session, hop limit 100, comes up meanwhile);
/// reloaded with `max_hops` 60 the IPv4 session comes up and the IPv6 one stays up.
#[test]
fn bfd_keywords_on_the_wire_and_reload() {
    let test = "bfd keywords";
    if !real_or_skip(test) || !tools_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let ours_conf = |hops: u8| {
        format!(
            "bfd_instance kw {{\n  neighbour_ip 192.0.2.2\n  source_ip 192.0.2.1\n  \
             idle_tx 2000\n  min_rx 100\n  min_tx 100\n  multiplier 4\n  ttl 200\n  \
             max_hops {hops}\n}}\n\
             bfd_instance v6 {{\n  neighbor_ip 2001:db8::2\n  hoplimit 100\n  max_hops 40\n  \
             min_rx 100\n  min_tx 100\n}}\n"
        )
    };
    let real_conf = "bfd_instance kw {\n  neighbor_ip 192.0.2.1\n  source_ip 192.0.2.2\n  \
                     min_rx 100\n  min_tx 100\n  ttl 150\n  max_hops -1\n}\n\
                     bfd_instance v6 {\n  neighbor_ip 2001:db8::1\n  max_hops 40\n  \
                     min_rx 100\n  min_tx 100\n}\n";
    let dir = tempfile::tempdir().unwrap();
    let mut cap = Capture::start(&lan, 0, "udp port 3784", dir.path(), "kw");
    let ours = Daemon::start_all(&lan, 0, false, &ours_conf(40));
    let real = Daemon::start_all(&lan, 1, true, real_conf);
    assert!(
        wait_until(20, || up_count(&ours, "v6") == 1),
        "{}",
        logs(&[&ours, &real])
    );
    // Several of the peer's packets refused meanwhile.
    std::thread::sleep(std::time::Duration::from_millis(4500));
    assert_eq!(up_count(&ours, "kw"), 0, "{}", ours.log());
    assert!(
        ours.log().contains("Packet ttl(150) < 160 - discarding"),
        "{}",
        ours.log()
    );
    let t_reload = now_epoch();
    ours.write_conf(&ours_conf(60));
    ours.reload();
    assert!(
        wait_until(20, || up_count(&ours, "kw") == 1),
        "{}",
        logs(&[&ours, &real])
    );
    // our Up packets on the wire (tcpdump -U writes each packet as it comes; a loaded
    // host may take a while)
    assert!(
        wait_until(20, || packets(&cap.path)
            .iter()
            .any(|p| p.src == "192.0.2.1" && p.state == UP)),
        "no Up packet from us captured\n{}",
        ours.log()
    );
    // The reload kept the IPv6 session.
    assert_eq!(up_count(&ours, "v6"), 1, "{}", ours.log());
    cap.stop();
    let pkts = packets(&cap.path);
    let mine: Vec<&Pkt> = pkts.iter().filter(|p| p.src == "192.0.2.1").collect();
    assert!(mine.iter().all(|p| p.ttl == 200), "{mine:?}");
    // Down at the idle rate: 2 s less 10-25 % jitter, announcing idle_tx.
    let downs: Vec<&&Pkt> = mine.iter().filter(|p| p.t < t_reload).collect();
    assert!(downs.len() >= 2, "{downs:?}");
    for w in downs.windows(2) {
        let gap = w[1].t - w[0].t;
        assert!((1.45..=4.0).contains(&gap), "idle gap {gap}");
        assert_eq!((w[1].state, w[1].min_tx), (DOWN, 2_000_000));
    }
    let mults = tshark_rows(
        &cap.path,
        "bfd && ip.src == 192.0.2.1",
        &["bfd.detect_time_multiplier"],
    );
    assert!(mults.iter().all(|r| r[0] == "4"), "{mults:?}");
    assert!(mine.iter().any(|p| p.state == UP));
    let hlim = tshark_rows(&cap.path, "bfd && ipv6.src == 2001:db8::1", &["ipv6.hlim"]);
    assert!(
        !hlim.is_empty() && hlim.iter().all(|r| r[0] == "100"),
        "{hlim:?}"
    );
    assert_eq!(expert_warnings(&cap.path), Vec::<Vec<String>>::new());
}
