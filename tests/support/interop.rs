//! Helpers for the interoperability tests (tests/vrrp_interop.rs): packet captures with
//! tcpdump in a node's namespace, decoding them with tshark, keepalived.stats parsing,
//! and a crash (kill -9) of a `Daemon`. Include after `netns` and `node_daemon`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use super::netns::Lan;
use super::node_daemon::{wait_until, Daemon};
use crate::support;

/// Whether tcpdump and tshark are installed; skips loudly (fails under CI) when not.
pub fn tools_or_skip(test: &str) -> bool {
    for tool in ["tcpdump", "tshark"] {
        let ok = Command::new(tool)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            support::skip_or_fail(test, &format!("{tool} is not installed"));
            return false;
        }
    }
    true
}

/// Seconds since the epoch (CLOCK_REALTIME, the clock of pcap timestamps).
pub fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `aa:bb:cc:dd:ee:ff`, as tshark prints MACs.
pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// A tcpdump writing a pcap file in a node's namespace; killed on drop.
pub struct Capture {
    child: Option<Child>,
    pub path: PathBuf,
    err: PathBuf,
}

impl Capture {
    /// Starts capturing on node `node`'s eth0 with `filter` into `dir/name.pcap`; returns once
    /// tcpdump is listening.
    pub fn start(lan: &Lan, node: usize, filter: &str, dir: &Path, name: &str) -> Capture {
        let path = dir.join(format!("{name}.pcap"));
        let err = dir.join(format!("{name}.tcpdump.log"));
        let errf = fs::File::create(&err).expect("tcpdump log");
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &lan.nodes[node].ns])
            .args([
                "tcpdump", "-i", "eth0", "-U", "-n", "-s", "0", "-Z", "root", "-w",
            ])
            .arg(&path)
            .arg(filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(errf);
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let cap = Capture {
            child: Some(c.spawn().expect("spawn tcpdump")),
            path,
            err,
        };
        let listening = wait_until(10, || {
            fs::read_to_string(&cap.err).is_ok_and(|t| t.contains("listening on"))
        });
        assert!(
            listening,
            "tcpdump did not start: {}",
            fs::read_to_string(&cap.err).unwrap_or_default()
        );
        cap
    }

    /// Stops tcpdump (SIGTERM, bounded wait) so the file is complete.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // Let the last packets in flight reach the file.
            std::thread::sleep(Duration::from_millis(200));
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(5);
            while !matches!(c.try_wait(), Ok(Some(_))) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = killpg(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
            let _ = c.wait();
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = killpg(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
            let _ = c.wait();
        }
    }
}

/// `tshark -r pcap -Y filter -T fields -e ...`: one row per matching frame, one string per
/// field (several values of one field joined by ',').
pub fn tshark_rows(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    tshark_rows_of(pcap, filter, fields, true)
}

/// `tshark_rows` on a capture still being written: a cut-short last packet is no error.
pub fn tshark_rows_live(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    tshark_rows_of(pcap, filter, fields, false)
}

fn tshark_rows_of(pcap: &Path, filter: &str, fields: &[&str], strict: bool) -> Vec<Vec<String>> {
    let mut c = Command::new("tshark");
    c.arg("-n")
        .arg("-r")
        .arg(pcap)
        .args(["-Y", filter, "-T", "fields", "-E", "separator=|"]);
    for f in fields {
        c.args(["-e", f]);
    }
    let r = support::run_limited(&mut c, Duration::from_secs(60));
    assert!(
        r.code == Some(0) || (!strict && !r.timed_out),
        "tshark {filter}: {}",
        r.stderr
    );
    r.stdout
        .lines()
        .map(|l| l.split('|').map(str::to_owned).collect())
        .collect()
}

/// Gratuitous ARPs for `vip` (sender and target protocol address both the VIP, sender
/// hardware address = Ethernet source) or, for an IPv6 `vip`, unsolicited neighbour
/// advertisements (target = VIP, override flag, target link-layer option = Ethernet source):
/// (epoch time, sender MAC) of each. `live`: the capture is still being written.
pub fn announcements(pcap: &Path, vip: &str, live: bool) -> Vec<(f64, String)> {
    let (filter, fields) = if vip.contains(':') {
        (
            format!(
                "icmpv6.type == 136 && icmpv6.nd.na.target_address == {vip} && \
                 icmpv6.nd.na.flag.o == 1"
            ),
            ["frame.time_epoch", "eth.src", "icmpv6.opt.linkaddr"],
        )
    } else {
        (
            format!("arp && arp.src.proto_ipv4 == {vip} && arp.dst.proto_ipv4 == {vip}"),
            ["frame.time_epoch", "eth.src", "arp.src.hw_mac"],
        )
    };
    tshark_rows_of(pcap, &filter, &fields, !live)
        .iter()
        .filter(|r| r.len() == 3 && r[1] == r[2])
        .filter_map(|r| Some((r[0].parse().ok()?, r[1].clone())))
        .collect()
}

/// Frame times of the frames matching `filter`.
pub fn times(pcap: &Path, filter: &str) -> Vec<f64> {
    tshark_rows(pcap, filter, &["frame.time_epoch"])
        .iter()
        .filter_map(|r| r.first()?.parse().ok())
        .collect()
}

/// keepalived.stats of one instance as `"Section/Key" -> n` (`"Became master" -> n` for
/// the unsectioned lines).
pub fn parse_stats(text: &str, iname: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut section = String::new();
    let mut inside = false;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("VRRP Instance: ") {
            inside = name.trim() == iname;
            continue;
        }
        if !inside {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let Some((key, val)) = line.trim().split_once(':') else {
            continue;
        };
        let val = val.trim();
        if indent <= 2 && val.is_empty() {
            section = key.to_owned();
        } else if let Ok(n) = val.parse() {
            let k = if indent <= 2 {
                key.to_owned()
            } else {
                format!("{section}/{key}")
            };
            out.insert(k, n);
        }
    }
    out
}

/// Asks `d` for keepalived.stats (SIGUSR2) and returns VI_1's counters.
pub fn dump_stats(d: &Daemon) -> BTreeMap<String, u64> {
    let path = d.path("keepalived.stats");
    let _ = fs::remove_file(&path);
    d.signal(libc::SIGUSR2);
    let mut stats = BTreeMap::new();
    let ok = wait_until(5, || {
        stats = parse_stats(&fs::read_to_string(&path).unwrap_or_default(), "VI_1");
        stats.contains_key("Priority Zero/Sent")
    });
    assert!(
        ok,
        "no complete keepalived.stats from {} ({})\n{}",
        d.ns,
        if d.real { "real" } else { "ours" },
        d.log()
    );
    stats
}

/// The error counters of a stats dump that are not zero.
pub fn stats_errors(s: &BTreeMap<String, u64>) -> Vec<(String, u64)> {
    s.iter()
        .filter(|(k, &v)| {
            v != 0 && (k.starts_with("Packet Errors/") || k.starts_with("Authentication Errors/"))
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect()
}

/// Crashes the daemon: SIGKILL to its whole process group (parent and children, so nothing
/// sends a priority-0 advert or removes a VIP). Returns the epoch time right before the
/// signal.
pub fn kill9(d: &mut Daemon) -> f64 {
    let vrrp = d.vrrp_pid();
    let Some(mut c) = d.child.take() else {
        panic!("{} is not running", d.ns);
    };
    let t = now_epoch();
    let _ = killpg(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
    if let Some(p) = vrrp {
        let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
    }
    let _ = c.wait();
    // The killed VRRP child may linger as a zombie until reaped, which keepalived's "daemon
    // is already running" check counts as alive: clear the pid files, as a reboot would.
    for f in ["keepalived.pid", "vrrp.pid", "checkers.pid", "bfd.pid"] {
        let _ = fs::remove_file(d.path(f));
    }
    t
}

/// "ours" or "real", for test names and messages.
pub fn who(real: bool) -> &'static str {
    if real {
        "real"
    } else {
        "ours"
    }
}

/// Runs `f(false)` (ours) and `f(true)` (the real keepalived) on two threads; re-raises the
/// first panic once both are done.
pub fn ours_and_real(f: impl Fn(bool) + Sync) {
    let f = &f;
    let results: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = [false, true]
            .into_iter()
            .map(|real| s.spawn(move || f(real)))
            .collect();
        hs.into_iter().map(|h| h.join()).collect()
    });
    for r in results {
        if let Err(p) = r {
            std::panic::resume_unwind(p);
        }
    }
}
