//! Helpers of tests/vrrp_wire.rs: a tcpdump capture in one node of a `netns::Lan`, killed on
//! drop, and ARP/neighbour queries from a client node.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::netns::Lan;

/// `tcpdump -l -n -e -tt -i eth0 FILTER` running in a node, its text output in a file.
pub struct Capture {
    child: Option<Child>,
    out: tempfile::NamedTempFile,
}

impl Capture {
    pub fn start(lan: &Lan, node: usize, filter: &str) -> Capture {
        Capture::start_on(lan, node, "eth0", filter)
    }

    /// The same on interface `ifname` of the node.
    pub fn start_on(lan: &Lan, node: usize, ifname: &str, filter: &str) -> Capture {
        let out = tempfile::NamedTempFile::new().expect("capture file");
        let file = out.reopen().expect("capture file");
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &lan.nodes[node].ns])
            .args(["tcpdump", "-l", "-n", "-e", "-tt", "-i", ifname])
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

/// The MACs in the ARP replies node `client` receives for `ip` after flushing its neighbour
/// cache and sending it a UDP datagram (which triggers the resolution), lower case, captured
/// with tcpdump; empty after ~3 s without an answer. (The neighbour cache itself is not
/// asked: the target's own ARP request for the client, sourced from the VIP on the base
/// interface, may overwrite the entry.)
pub fn arp_answers(lan: &Lan, client: usize, ip: &str) -> Vec<String> {
    arp_answers_on(lan, client, "eth0", ip)
}

/// [`arp_answers`] through the client's interface `ifname`.
pub fn arp_answers_on(lan: &Lan, client: usize, ifname: &str, ip: &str) -> Vec<String> {
    let cap = Capture::start_on(lan, client, ifname, "arp");
    let _ = lan.exec(client, &["ip", "neigh", "flush", "dev", ifname]);
    let poke = format!("echo x > /dev/udp/{ip}/9");
    let _ = lan.exec(client, &["bash", "-c", &poke]);
    let pat = format!("Reply {ip} is-at ");
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        let macs: Vec<String> = cap
            .lines()
            .iter()
            .filter_map(|l| {
                let rest = &l[l.find(&pat)? + pat.len()..];
                Some(rest.split([',', ' ']).next()?.to_lowercase())
            })
            .collect();
        if !macs.is_empty() {
            std::thread::sleep(Duration::from_millis(200));
            return cap
                .lines()
                .iter()
                .filter_map(|l| {
                    let rest = &l[l.find(&pat)? + pat.len()..];
                    Some(rest.split([',', ' ']).next()?.to_lowercase())
                })
                .collect();
        }
    }
    Vec::new()
}

pub fn tcpdump_available() -> bool {
    Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether node `i` holds address `a` on interface `dev`.
pub fn has_addr_on(lan: &Lan, i: usize, dev: &str, a: &str) -> bool {
    let out = lan.exec(i, &["ip", "-j", "addr", "show", "dev", dev]);
    let Ok(j) = serde_json::from_slice::<serde_json::Value>(&out.stdout) else {
        return false;
    };
    j.as_array().is_some_and(|links| {
        links.iter().any(|l| {
            l["addr_info"]
                .as_array()
                .is_some_and(|ai| ai.iter().any(|x| x["local"] == a))
        })
    })
}

/// `ip -d -j link show dev NAME` in node `i`: (MAC, macvlan mode) when the link exists.
pub fn link_details(lan: &Lan, i: usize, name: &str) -> Option<(String, String)> {
    let out = lan.exec(i, &["ip", "-d", "-j", "link", "show", "dev", name]);
    if !out.status.success() {
        return None;
    }
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let l = j.as_array()?.first()?;
    let mac = l["address"].as_str()?.to_lowercase();
    let mode = l["linkinfo"]["info_data"]["mode"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    Some((mac, mode))
}

/// A sysctl of node `i` (`net/ipv4/conf/IF/KEY` style path under /proc/sys).
pub fn sysctl(lan: &Lan, i: usize, path: &str) -> String {
    let out = lan.exec(i, &["cat", &format!("/proc/sys/{path}")]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Seconds since the Unix epoch (tcpdump -tt timestamps use the same clock).
pub fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
