//! A LAN of network namespaces for end-to-end tests.
//!
//! `Lan::new(n)` builds a bridge in its own namespace and `n` node namespaces, each with a
//! veth `eth0` plugged into the bridge and addresses 192.0.2.N/24 and 2001:db8::N/64 (N from 1),
//! DAD disabled so every address is usable at once. Names are unique per process and call
//! (`knet<pid>x<counter>...`), so tests can run in parallel. Dropping the `Lan` deletes every
//! namespace (and with them the links), also when the test panicked.
//!
//! Tests need root: without it they skip loudly, except under `CI=true` where they fail.
#![allow(dead_code)]

use std::fs::File;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One node of the LAN.
#[derive(Clone, Debug)]
pub struct Node {
    pub ns: String,
    pub ifname: String,
    pub v4: Ipv4Addr,
    pub v6: Ipv6Addr,
}

pub struct Lan {
    pub bridge_ns: String,
    pub nodes: Vec<Node>,
}

/// Whether root-only tests can run here; panics under CI=true when they cannot.
pub fn can_run() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let has_ip = Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if root && has_ip {
        return true;
    }
    let why = if root { "no `ip` command" } else { "not root" };
    super::skip_or_fail(
        "namespace test",
        &format!("needs root and iproute2 ({why})"),
    );
    false
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    out
}

/// Runs a command and panics with its stderr when it fails.
pub fn must(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Lan {
    /// Builds the LAN, or returns `None` (after saying so) when the test must be skipped.
    pub fn new(n: usize) -> Option<Lan> {
        if !can_run() {
            return None;
        }
        let c = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = format!("knet{}x{}", std::process::id(), c);
        let bridge_ns = format!("{base}br");
        // Construct before creating anything so Drop cleans up after a failure half-way.
        let mut lan = Lan {
            bridge_ns: bridge_ns.clone(),
            nodes: Vec::new(),
        };
        must(&["ip", "netns", "add", &bridge_ns]);
        must(&[
            "ip",
            "-n",
            &bridge_ns,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "forward_delay",
            "0",
            "mcast_snooping",
            "0",
        ]);
        must(&["ip", "-n", &bridge_ns, "link", "set", "br0", "up"]);
        for i in 1..=n {
            let ns = format!("{base}n{i}");
            must(&["ip", "netns", "add", &ns]);
            lan.nodes.push(Node {
                ns: ns.clone(),
                ifname: "eth0".into(),
                v4: Ipv4Addr::new(192, 0, 2, i as u8),
                v6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i as u16),
            });
            for key in ["all", "default"] {
                must(&[
                    "ip",
                    "netns",
                    "exec",
                    &ns,
                    "sysctl",
                    "-qw",
                    &format!("net.ipv6.conf.{key}.accept_dad=0"),
                ]);
            }
            let port = format!("p{i}");
            must(&[
                "ip", "-n", &bridge_ns, "link", "add", &port, "type", "veth", "peer", "name",
                "eth0", "netns", &ns,
            ]);
            must(&[
                "ip", "-n", &bridge_ns, "link", "set", &port, "master", "br0", "up",
            ]);
            must(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            must(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                "net.ipv6.conf.eth0.accept_dad=0",
            ]);
            must(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
            must(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("192.0.2.{i}/24"),
                "dev",
                "eth0",
            ]);
            must(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("2001:db8::{i}/64"),
                "dev",
                "eth0",
                "nodad",
            ]);
        }
        lan.wait_ready();
        Some(lan)
    }

    /// Waits until every eth0 is up with a usable (non-tentative) link-local address.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for i in 0..self.nodes.len() {
            loop {
                let j = self.ip_json(i, &["-6", "addr", "show", "dev", "eth0", "scope", "link"]);
                let ok = j.as_array().and_then(|a| a.first()).is_some_and(|l| {
                    l["operstate"] == "UP"
                        && l["addr_info"].as_array().is_some_and(|ai| {
                            ai.iter()
                                .any(|a| a["tentative"].is_null() && a["local"].is_string())
                        })
                });
                if ok {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} never became ready: {j}",
                    self.nodes[i].ns
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Runs a command inside node `i`'s namespace and returns its output.
    pub fn exec(&self, i: usize, args: &[&str]) -> Output {
        let mut all = vec!["ip", "netns", "exec", &self.nodes[i].ns];
        all.extend_from_slice(args);
        run(&all)
    }

    /// Like `exec`, panicking on failure; returns stdout.
    pub fn must(&self, i: usize, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", &self.nodes[i].ns];
        all.extend_from_slice(args);
        must(&all)
    }

    /// Spawns a process inside node `i`'s namespace.
    pub fn spawn(&self, i: usize, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.nodes[i].ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {args:?}: {e}"))
    }

    /// `nft list ruleset` in node `i` without blank lines, for comparing layouts.
    pub fn nft_ruleset(&self, i: usize) -> String {
        self.must(i, &["nft", "list", "ruleset"])
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `ip -j ARGS` in node `i`, parsed.
    pub fn ip_json(&self, i: usize, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["ip", "-n", &self.nodes[i].ns, "-j"];
        all.extend_from_slice(args);
        let out = must(&all);
        if out.trim().is_empty() {
            return serde_json::Value::Array(Vec::new());
        }
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from {all:?}: {e}: {out}"))
    }

    /// Runs `f` on a new thread that has entered node `i`'s network namespace, inside a tokio
    /// current-thread runtime (sockets and netlink connections made there belong to the node).
    pub fn spawn_in<F, Fut, R>(&self, i: usize, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = R>,
        R: Send + 'static,
    {
        let path = format!("/run/netns/{}", self.nodes[i].ns);
        std::thread::spawn(move || {
            let file = File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET)
                .unwrap_or_else(|e| panic!("setns {path}: {e}"));
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("runtime: {e}"));
            rt.block_on(f())
        })
    }

    /// `spawn_in` and wait; a panic inside is re-raised here.
    pub fn run_in<F, Fut, R>(&self, i: usize, f: F) -> R
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = R>,
        R: Send + 'static,
    {
        join(self.spawn_in(i, f))
    }

    /// The MAC address of node `i`'s eth0.
    pub fn mac(&self, i: usize) -> [u8; 6] {
        let j = self.ip_json(i, &["link", "show", "dev", "eth0"]);
        let text = j[0]["address"]
            .as_str()
            .unwrap_or_else(|| panic!("no address in {j}"));
        let mut mac = [0u8; 6];
        for (m, part) in mac.iter_mut().zip(text.split(':')) {
            *m = u8::from_str_radix(part, 16).unwrap_or_else(|e| panic!("bad MAC {text}: {e}"));
        }
        mac
    }
}

/// Joins a thread, re-raising its panic.
pub fn join<R>(h: JoinHandle<R>) -> R {
    match h.join() {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for n in &self.nodes {
            let _ = run(&["ip", "netns", "del", &n.ns]);
        }
        let _ = run(&["ip", "netns", "del", &self.bridge_ns]);
    }
}
