//! Helpers of tests/vrrp_wire.rs: a tcpdump capture in one node of a `netns::Lan`, killed on
//! drop, and ARP/neighbour queries from a client node.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::netns::Lan;

/// `tcpdump -l -n -e -tt -i eth0 FILTER` running in a node, its text output in a file.
pub struct Capture {
    child: Option<Child>,
    out: tempfile::NamedTempFile,
}

impl Capture {
    pub fn start(lan: &Lan, node: usize, filter: &str) -> Capture {
        let out = tempfile::NamedTempFile::new().expect("capture file");
        let file = out.reopen().expect("capture file");
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &lan.nodes[node].ns])
            .args(["tcpdump", "-l", "-n", "-e", "-tt", "-i", "eth0"])
            .args(filter.split_whitespace())
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::null());
        let child = c.spawn().expect("spawn tcpdump");
        // tcpdump needs a moment to attach its filter.
        std::thread::sleep(Duration::from_millis(700));
        Capture {
            child: Some(child),
            out,
        }
    }

    /// The lines captured so far.
    pub fn lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.out.path())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// (timestamp in seconds, line) of the captured lines that contain every one of `pats`.
    pub fn matching(&self, pats: &[&str]) -> Vec<(f64, String)> {
        self.lines()
            .into_iter()
            .filter(|l| pats.iter().all(|p| l.contains(p)))
            .filter_map(|l| {
                let ts = l.split_whitespace().next()?.parse::<f64>().ok()?;
                Some((ts, l))
            })
            .collect()
    }

    pub fn text(&self) -> String {
        self.lines().join("\n")
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The MAC node `client` resolves `ip` to by ARP (the neighbour cache is flushed first and a
/// UDP datagram triggers the resolution), lower case; `None` after ~2 s without an answer.
pub fn neighbour_mac(lan: &Lan, client: usize, ip: &str) -> Option<String> {
    let _ = lan.exec(client, &["ip", "neigh", "flush", "dev", "eth0"]);
    let poke = format!("echo x > /dev/udp/{ip}/9");
    for _ in 0..20 {
        let _ = lan.exec(client, &["bash", "-c", &poke]);
        std::thread::sleep(Duration::from_millis(100));
        let j = lan.ip_json(client, &["neigh", "show", "dev", "eth0", "to", ip]);
        let mac = j.as_array().and_then(|a| {
            a.iter()
                .find_map(|n| n["lladdr"].as_str().map(str::to_lowercase))
        });
        if mac.is_some() {
            return mac;
        }
    }
    None
}

pub fn tcpdump_available() -> bool {
    Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
