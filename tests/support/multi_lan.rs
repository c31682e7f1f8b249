//! Nodes joined by several LANs: `MultiLan::new(nodes, links)` builds one namespace holding
//! `links` bridges (`br0`..) and `nodes` node namespaces, each with veths `eth0`..`eth<links-1>`,
//! `ethJ` plugged into `brJ`. Node N (from 1) has 192.0.2.(16·J + N)/28 on `ethJ`, so every
//! link is its own subnet of the documentation range (at most 15 links and 14 nodes). Names
//! are unique per process and call (`kml<pid>x<counter>...`); dropping the `MultiLan`
//! deletes every namespace (and with them the links), also when the test panicked.
//! Include after `support`, `netns` and `node_daemon`.
#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::netns::must;
use super::node_daemon::Daemon;
use crate::support;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub struct MultiLan {
    pub bridge_ns: String,
    /// One namespace name per node.
    pub nodes: Vec<String>,
    pub links: usize,
}

impl MultiLan {
    /// Builds the LANs, or returns `None` after a loud skip (a failure under `CI=true`)
    /// when this is not root.
    pub fn new(test: &str, nodes: usize, links: usize) -> Option<MultiLan> {
        assert!(
            (1..=15).contains(&links) && (1..=14).contains(&nodes),
            "at most 15 links and 14 nodes"
        );
        if !support::is_root() {
            support::skip_or_fail(test, "needs root for network namespaces");
            return None;
        }
        let c = COUNTER.fetch_add(1, Ordering::SeqCst);
        let base = format!("kml{}x{c}", std::process::id());
        // Constructed first so that Drop removes whatever was made before a failure.
        let mut lan = MultiLan {
            bridge_ns: format!("{base}br"),
            nodes: Vec::new(),
            links,
        };
        must(&["ip", "netns", "add", &lan.bridge_ns]);
        let br = lan.bridge_ns.clone();
        for j in 0..links {
            let b = format!("br{j}");
            must(&[
                "ip",
                "-n",
                &br,
                "link",
                "add",
                &b,
                "type",
                "bridge",
                "forward_delay",
                "0",
                "mcast_snooping",
                "0",
            ]);
            must(&["ip", "-n", &br, "link", "set", &b, "up"]);
        }
        for n in 1..=nodes {
            let ns = format!("{base}n{n}");
            must(&["ip", "netns", "add", &ns]);
            lan.nodes.push(ns.clone());
            must(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            for j in 0..links {
                let port = format!("p{n}l{j}");
                let eth = format!("eth{j}");
                must(&[
                    "ip", "-n", &br, "link", "add", &port, "type", "veth", "peer", "name", &eth,
                    "netns", &ns,
                ]);
                must(&[
                    "ip",
                    "-n",
                    &br,
                    "link",
                    "set",
                    &port,
                    "master",
                    &format!("br{j}"),
                    "up",
                ]);
                must(&["ip", "-n", &ns, "link", "set", &eth, "up"]);
                let addr = format!("{}/28", Self::node_addr(n - 1, j));
                must(&["ip", "-n", &ns, "addr", "add", &addr, "dev", &eth]);
            }
        }
        lan.wait_up();
        Some(lan)
    }

    /// The IPv4 address of node `node` (from 0) on `eth<link>`.
    pub fn node_addr(node: usize, link: usize) -> String {
        format!("192.0.2.{}", 16 * link + node + 1)
    }

    fn wait_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        for i in 0..self.nodes.len() {
            for j in 0..self.links {
                let dev = format!("eth{j}");
                loop {
                    let v = self.ip_json(i, &["link", "show", "dev", &dev]);
                    if v[0]["operstate"] == "UP" {
                        break;
                    }
                    assert!(Instant::now() < deadline, "{dev} of node {i} never came up");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// `ip -j ARGS` in node `i`, parsed.
    pub fn ip_json(&self, i: usize, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["ip", "-n", &self.nodes[i], "-j"];
        all.extend_from_slice(args);
        let out = must(&all);
        if out.trim().is_empty() {
            return serde_json::Value::Array(Vec::new());
        }
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON from {all:?}: {e}: {out}"))
    }

    /// Every address (without prefix) on any interface of node `i`.
    pub fn addrs(&self, i: usize) -> Vec<String> {
        let v = self.ip_json(i, &["addr", "show"]);
        let mut out = Vec::new();
        for l in v.as_array().map(Vec::as_slice).unwrap_or_default() {
            for a in l["addr_info"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if let Some(s) = a["local"].as_str() {
                    out.push(s.to_owned());
                }
            }
        }
        out
    }

    /// Starts ours (`real == false`) or the real keepalived in node `i` (see `Daemon`).
    pub fn daemon(&self, i: usize, real: bool, conf: &str, extra: &[&str]) -> Daemon {
        let mut d = Daemon {
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
            ns: self.nodes[i].clone(),
            real,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            env: Vec::new(),
            vrrp_only: true,
        };
        d.write_conf(conf);
        d.spawn();
        d
    }
}

impl Drop for MultiLan {
    fn drop(&mut self) {
        for ns in self.nodes.iter().chain(std::iter::once(&self.bridge_ns)) {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stdin(std::process::Stdio::null())
                .output();
        }
    }
}
