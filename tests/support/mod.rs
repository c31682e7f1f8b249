//! Helpers shared by the integration tests: running binaries with a time limit, and
//! network namespaces that are removed even when a test panics.
#![allow(dead_code)]

pub mod hostile;
pub mod interop;
pub mod multi_lan;
pub mod netns;
pub mod node_daemon;
pub mod sockets;
pub mod vrrp_lan;
pub mod wire;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Our `keepalived` binary.
pub fn ours() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_keepalived"))
}

/// The reference keepalived 2.2.7 (Debian package), if installed.
pub fn real_keepalived() -> Option<PathBuf> {
    let p = PathBuf::from("/usr/sbin/keepalived");
    p.exists().then_some(p)
}

/// True when running under CI (`CI=true`): missing prerequisites then fail the test.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A test that cannot run here: fails under CI, else prints a loud skip message.
pub fn skip_or_fail(test: &str, why: &str) {
    if in_ci() {
        panic!("{test}: cannot run under CI: {why}");
    }
    // Straight to the stderr handle: the test harness captures eprintln!, not this.
    let bar = "!".repeat(72);
    let msg = format!(
        "\n{bar}\n!!! SKIPPED {test}: {why}\n!!! (set CI=true to make this a failure)\n{bar}\n"
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
}

/// Whether every program in `tools` is on PATH (or in /usr/sbin); else skips or fails.
pub fn programs_or_skip(test: &str, tools: &[&str]) -> bool {
    for tool in tools {
        let found = std::process::Command::new("sh")
            .args([
                "-c",
                &format!("command -v {tool} || test -x /usr/sbin/{tool}"),
            ])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            skip_or_fail(test, &format!("{tool} is not installed"));
            return false;
        }
    }
    true
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Result of a bounded run.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code; `None` when killed by a signal or by the time limit.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

/// Runs `cmd` with stdin closed, killing it after `limit`.
pub fn run_limited(cmd: &mut Command, limit: Duration) -> Run {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return Run {
                code: None,
                stdout: String::new(),
                stderr: format!("spawn failed: {e}"),
                timed_out: false,
            }
        }
    };
    let start = Instant::now();
    let mut timed_out = false;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                timed_out = true;
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(_) => break,
        }
    }
    let out: Output = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => {
            return Run {
                code: None,
                stdout: String::new(),
                stderr: format!("wait failed: {e}"),
                timed_out,
            }
        }
    };
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        timed_out,
    }
}

static NS_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A network namespace with veth interfaces, deleted on drop (also while unwinding).
pub struct NetNs {
    pub name: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let r = run_limited(Command::new("ip").args(args), Duration::from_secs(20));
    match r.code {
        Some(0) => Ok(()),
        _ => Err(format!("ip {}: {}", args.join(" "), r.stderr.trim())),
    }
}

impl NetNs {
    /// Creates `kv-<pid>-<n>` with `lo` up and one veth per name in `ifaces` (up). The
    /// first three get 192.0.2.1/24 + 2001:db8::1/64, 198.51.100.1/24 and 203.0.113.1/24.
    pub fn new(ifaces: &[String]) -> Result<NetNs, String> {
        let n = NS_COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("kv-{}-{n}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = NetNs { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"])?;
        let addrs: [&[&str]; 3] = [
            &["192.0.2.1/24", "2001:db8::1/64"],
            &["198.51.100.1/24"],
            &["203.0.113.1/24"],
        ];
        for (i, ifname) in ifaces.iter().enumerate() {
            let peer = format!("kvp{i}");
            ip(&[
                "-n", &ns.name, "link", "add", ifname, "type", "veth", "peer", "name", &peer,
            ])?;
            ip(&["-n", &ns.name, "link", "set", ifname, "up"])?;
            ip(&["-n", &ns.name, "link", "set", &peer, "up"])?;
            for a in addrs.get(i).copied().unwrap_or(&[]) {
                ip(&["-n", &ns.name, "addr", "add", a, "dev", ifname])?;
            }
        }
        Ok(ns)
    }

    /// A command run inside the namespace.
    pub fn command(&self, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).arg(program);
        c
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Interface names a configuration needs: eth0..eth3 plus every word that follows
/// `interface`, `dev`, `lvs_sync_daemon` or `lvs_sync_daemon_interface`, and the words of
/// `track_interface { ... }` blocks.
pub fn interfaces_named(text: &str) -> Vec<String> {
    let mut names: Vec<String> = (0..4).map(|i| format!("eth{i}")).collect();
    let mut add = |w: &str| {
        let ok = !w.is_empty()
            && w.len() <= 15
            && w != "lo"
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            && w.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if ok && !names.iter().any(|n| n == w) {
            names.push(w.to_owned());
        }
    };
    let mut in_track = false;
    for line in text.lines() {
        let line = line.split(['#', '!']).next().unwrap_or_default();
        let words: Vec<&str> = line.split_whitespace().collect();
        if in_track {
            if words.contains(&"}") {
                in_track = false;
            }
            if let Some(w) = words.first() {
                if *w != "}" {
                    add(w);
                }
            }
            continue;
        }
        for pair in words.windows(2) {
            if let ["interface" | "dev" | "lvs_sync_daemon" | "lvs_sync_daemon_interface", v] = pair
            {
                add(v);
            }
        }
        if words.first() == Some(&"track_interface") && !words.contains(&"}") {
            in_track = true;
        }
    }
    names
}
