//! A hostile node for the VRRP robustness tests: a raw IPv4 socket with IP_HDRINCL (so TTL,
//! checksums and lengths are ours to break) sending bad or foreign adverts round-robin as
//! fast as it can, counting what it sent per kind. Plus readers for the daemons' stats
//! dumps and CPU time. Include after `netns` and `node_daemon`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use keepalived::vrrp::packet::{Advert, AuthType, Ipv4Params};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::node_daemon::{wait_until, Daemon};

/// The VRID the defenders run.
pub const VRID: u8 = 51;
/// Their PASS password (the "bad checksum" kind knows it, to get past the password check).
pub const PASS: &[u8; 8] = b"secret12";
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

/// The nine kinds of hostile packets.
pub const KINDS: [&str; 9] = [
    "bad_password",
    "bad_ttl",
    "bad_checksum",
    "truncated",
    "wrong_vrid_high_priority",
    "random_bytes",
    "other_vrids",
    "wrong_version",
    "auth_type_mismatch",
];

/// A tiny xorshift generator: reproducible "random bytes" without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn advert(
    vrid: u8,
    priority: u8,
    version: u8,
    auth: AuthType,
    pass: &[u8; 8],
    vip: Ipv4Addr,
) -> Advert {
    Advert {
        version,
        kind: 1,
        vrid,
        priority,
        adver_int: if version == 2 { 1 } else { 100 },
        auth_type: if version == 2 { auth } else { AuthType::None },
        auth_data: if version == 2 { *pass } else { [0; 8] },
        addresses: vec![IpAddr::V4(vip)],
    }
}

/// Builds packet number `n` of kind `k` (index into [`KINDS`]) from `src`.
pub fn build(k: usize, n: u64, src: Ipv4Addr, vip: Ipv4Addr, rng_seed: u64) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let ip = |ttl: u8| Ipv4Params {
        src,
        dst: GROUP,
        id: (n as u16).max(1),
        ttl,
        fill_checksum: true,
        checksum_dst: None,
        v3_checksum_as_v2: false,
    };
    let emit = |a: Advert, ttl: u8, buf: &mut Vec<u8>| {
        let len = a.emit_ipv4(buf, &ip(ttl), None).expect("emit");
        buf.truncate(len);
    };
    match k {
        0 => emit(
            advert(VRID, 254, 2, AuthType::Pass, b"wrongpw!", vip),
            255,
            &mut buf,
        ),
        1 => emit(
            advert(VRID, 254, 2, AuthType::Pass, PASS, vip),
            64,
            &mut buf,
        ),
        2 => {
            emit(
                advert(VRID, 254, 2, AuthType::Pass, PASS, vip),
                255,
                &mut buf,
            );
            // The VRRP checksum sits at bytes 6-7 of the VRRP header.
            buf[20 + 6] ^= 0x5a;
        }
        3 => {
            emit(
                advert(VRID, 254, 2, AuthType::Pass, PASS, vip),
                255,
                &mut buf,
            );
            buf.truncate(20 + 4);
        }
        4 => emit(
            advert(VRID + 1, 254, 2, AuthType::Pass, PASS, vip),
            255,
            &mut buf,
        ),
        5 => {
            let mut rng = Rng(rng_seed ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            emit(
                advert(VRID, 254, 2, AuthType::Pass, PASS, vip),
                255,
                &mut buf,
            );
            let len = 20 + (rng.next() % 64) as usize;
            buf.resize(len, 0);
            for b in buf.iter_mut().skip(20) {
                *b = rng.next() as u8;
            }
        }
        6 => {
            // VRIDs 1..=255 in turn, never ours.
            let mut v = (n % 255) as u8 + 1;
            if v == VRID {
                v = 255;
            }
            emit(advert(v, 100, 2, AuthType::Pass, PASS, vip), 255, &mut buf);
        }
        7 => emit(
            advert(VRID, 254, 3, AuthType::None, PASS, vip),
            255,
            &mut buf,
        ),
        _ => emit(
            advert(VRID, 254, 2, AuthType::None, &[0; 8], vip),
            255,
            &mut buf,
        ),
    }
    buf
}

/// The flood's pace. Unpaced, the rate followed the machine's load (35k to 178k packets/s
/// seen): past what a debug build's receiver drains, the kernel sheds genuine adverts with
/// the rest, whatever the daemon does. A fixed rate keeps the test about our behaviour; it
/// is still 60,000 times the one advert a second the instances exchange.
pub const FLOOD_RATE: u64 = 60_000;

/// Sends all kinds round-robin on `ifname` for `secs` at [`FLOOD_RATE`]; returns what went
/// out per kind. Must run inside the attacker's namespace.
pub fn flood(
    ifname: &str,
    src: Ipv4Addr,
    vip: Ipv4Addr,
    dur: Duration,
) -> BTreeMap<&'static str, u64> {
    // Prebuild a rotation of packets so the loop measures sending, not building.
    let pkts: Vec<(usize, Vec<u8>)> = (0..KINDS.len() * 64)
        .map(|i| {
            let k = i % KINDS.len();
            (
                k,
                build(
                    k,
                    (i / KINDS.len()) as u64 * 7 + i as u64,
                    src,
                    vip,
                    0x1234_5678,
                ),
            )
        })
        .collect();
    let sent = send_paced(ifname, &pkts, FLOOD_RATE, dur);
    KINDS
        .iter()
        .enumerate()
        .map(|(k, name)| (*name, sent.get(&k).copied().unwrap_or(0)))
        .collect()
}

/// A valid advert for [`VRID`] (right password, TTL 255) with priority `priority`.
pub fn genuine(priority: u8, n: u64, src: Ipv4Addr, vip: Ipv4Addr) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let ip = Ipv4Params {
        src,
        dst: GROUP,
        id: (n as u16).max(1),
        ttl: 255,
        fill_checksum: true,
        checksum_dst: None,
        v3_checksum_as_v2: false,
    };
    let a = advert(VRID, priority, 2, AuthType::Pass, PASS, vip);
    let len = a.emit_ipv4(&mut buf, &ip, None).expect("emit");
    buf.truncate(len);
    buf
}

/// Sends `pkts` (kind, bytes) in turn on `ifname` at `rate` packets a second for `dur`
/// (IP_HDRINCL, multicast to [`GROUP`]); returns what went out per kind. Must run inside
/// the sender's namespace.
pub fn send_paced(
    ifname: &str,
    pkts: &[(usize, Vec<u8>)],
    rate: u64,
    dur: Duration,
) -> BTreeMap<usize, u64> {
    let s = raw_sender(ifname);
    let to = SockAddr::from(SocketAddrV4::new(GROUP, 0));
    let mut sent = BTreeMap::new();
    let start = Instant::now();
    let end = start + dur;
    let burst = (rate / 200).clamp(1, 256) as usize;
    let mut i = 0usize;
    while !pkts.is_empty() && Instant::now() < end {
        let due = start + Duration::from_secs_f64(i as f64 / rate as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        for _ in 0..burst {
            let (k, p) = &pkts[i % pkts.len()];
            i += 1;
            // ENOBUFS and friends: the kernel refused it, it never reached the wire.
            if s.send_to(p, &to).is_ok() {
                *sent.entry(*k).or_insert(0) += 1;
            }
        }
    }
    sent
}

/// The receive section of our stats dump.
#[derive(Debug, Default, Clone)]
pub struct Rx {
    pub received: u64,
    pub accepted: u64,
    pub drops: BTreeMap<String, u64>,
}

impl Rx {
    pub fn dropped(&self) -> u64 {
        self.drops.values().sum()
    }
}

/// One dump of `keepalived.stats` (SIGUSR2), waited for (bounded).
pub fn stats_text(d: &Daemon) -> String {
    let p = d.path("keepalived.stats");
    let _ = fs::remove_file(&p);
    d.signal(libc::SIGUSR2);
    assert!(
        wait_until(10, || fs::read_to_string(&p).is_ok_and(|t| !t.is_empty())),
        "no stats dump\n{}",
        d.log()
    );
    // The file is renamed into place whole; a short settle guards the real keepalived.
    std::thread::sleep(Duration::from_millis(100));
    fs::read_to_string(&p).unwrap_or_default()
}

/// A counter under a section of one instance's block, e.g. ("Advertisements:", "Received").
pub fn instance_counter(text: &str, section: &str, name: &str) -> u64 {
    text.lines()
        .skip_while(|l| l.trim() != section)
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .find_map(|l| {
            l.trim()
                .strip_prefix(&format!("{name}: "))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Sum of every instance error counter keepalived keeps (Packet/Authentication errors).
pub fn instance_errors(text: &str) -> u64 {
    let mut sum = 0;
    let mut on = false;
    for l in text.lines() {
        let t = l.trim();
        if t == "Packet Errors:" || t == "Authentication Errors:" {
            on = true;
            continue;
        }
        if !l.starts_with("    ") {
            on = false;
            continue;
        }
        if on {
            sum += t
                .rsplit(": ")
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    sum
}

/// Parses our "VRRP Receive:" section.
pub fn rx_section(text: &str) -> Option<Rx> {
    let mut rx = Rx::default();
    let mut lines = text.lines().skip_while(|l| *l != "VRRP Receive:");
    lines.next()?;
    for l in lines {
        let t = l.trim();
        let Some((k, v)) = t.split_once(": ") else {
            continue;
        };
        let Ok(v) = v.parse::<u64>() else { continue };
        match (l.starts_with("    "), k) {
            (false, "Received") => rx.received = v,
            (false, "Accepted") => rx.accepted = v,
            (false, _) => {}
            (true, k) => {
                rx.drops.insert(k.to_owned(), v);
            }
        }
    }
    Some(rx)
}

/// utime + stime of a process, in seconds.
pub fn cpu_secs(pid: i32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |x| x.1);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    ticks as f64 / clk_tck()
}

fn clk_tck() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The VRRP child of a daemon: ours writes `vrrp.pid`; the real one is found as the child
/// of the parent whose command line is keepalived (it also writes `-r` when asked).
pub fn vrrp_child(d: &Daemon) -> Option<i32> {
    if let Some(p) = d.vrrp_pid() {
        return Some(p);
    }
    let children = fs::read_to_string(format!("/proc/{0}/task/{0}/children", d.pid())).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

/// The raw IPv4 protocol 112 socket the senders use (IP_HDRINCL, bound to `ifname`).
fn raw_sender(ifname: &str) -> Socket {
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).expect("raw socket");
    s.set_header_included_v4(true).expect("IP_HDRINCL");
    s.bind_device(Some(ifname.as_bytes()))
        .expect("SO_BINDTODEVICE");
    s.set_multicast_ttl_v4(255).expect("mcast ttl");
    s.set_multicast_loop_v4(false).expect("mcast loop");
    s
}

/// As [`send_paced`] as fast as one thread goes: 64 packets per `sendmmsg`.
pub fn send_unpaced(
    ifname: &str,
    pkts: &[(usize, Vec<u8>)],
    dur: Duration,
) -> BTreeMap<usize, u64> {
    use nix::sys::socket::{sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrIn};
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;
    const N: usize = 64;
    let s = raw_sender(ifname);
    let to = SockaddrIn::from(SocketAddrV4::new(GROUP, 0));
    let addrs = vec![Some(to); N];
    let mut sent = BTreeMap::new();
    let end = Instant::now() + dur;
    let mut i = 0usize;
    while !pkts.is_empty() && Instant::now() < end {
        let batch: Vec<[IoSlice; 1]> = (0..N)
            .map(|j| [IoSlice::new(&pkts[(i + j) % pkts.len()].1)])
            .collect();
        let mut hdrs = MultiHeaders::<SockaddrIn>::preallocate(N, None);
        let none: [ControlMessage; 0] = [];
        // ENOBUFS and friends: the kernel refused them, they never reached the wire.
        let n = sendmmsg(
            s.as_raw_fd(),
            &mut hdrs,
            &batch,
            &addrs,
            none,
            MsgFlags::empty(),
        )
        .map_or(0, |r| r.count());
        for j in 0..n {
            *sent.entry(pkts[(i + j) % pkts.len()].0).or_insert(0) += 1;
        }
        i += n.max(1);
    }
    sent
}
