//! What VRRP keywords do, seen from outside, each scenario run with ours and with the real
//! keepalived 2.2.7 (same expectations, on two LANs at once):
//! - `advert_reactions`: a node injects crafted adverts (one lower or higher priority advert
//!   to masters, streams to backups) and the daemon's reactions are read from its log and a
//!   capture: `lower_prio_no_advert`, `strict_mode`, `garp_lower_prio_repeat`,
//!   `garp_lower_prio_delay`, `higher_prio_send_advert`, `down_timer_adverts`, `preempt`
//!   after `nopreempt`, `skip_check_adv_addr`, `check_unicast_src`, each next to an instance
//!   without the keyword;
//! - `wire_addresses`: groups, sources, destinations and checksums of the adverts
//!   (`vrrp_mcast_group4`, `vrrp_mcast_group6`, `mcast_dst_ip`, `mcast_src_ip`,
//!   `old_unicast_checksum`), `vrrp_check_unicast_src`, `promote_secondaries`, `vmac_prefix`,
//!   `debug`, `dont_track_primary`;
//! - `alerts_fifo_and_tracking`: `vrrp_track_file`, `no_email_faults`, `lvs_id`,
//!   `notify_fifo`, `notify_fifo_script`, `sync_group_tracking_weight`, `global_tracking`,
//!   `child_wait_time`;
//! - `firewall_keywords`: the nftables rulesets of `vrrp_iptables`, `vrrp_ipsets`,
//!   `nftables_priority`, `nftables_ifindex`;
//! - `na_spacing`: `vrrp_gna_interval`, and a `garp_group`'s `gna_interval` and `interfaces`;
//! - `track_process_matching`: `param_match`, `full_command`, `fork_delay` (what is read from
//!   the file is compared with 2.2.7's data dump; the matching is ours only: keepalived
//!   tracks no process outside the initial network namespace).
//!
//! Every wait is bounded; daemons, captures and namespaces are removed by Drop guards even on
//! failure. Root, tcpdump, tshark and /usr/sbin/keepalived are needed: loud skip, or failure
//! under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::interop;
use support::netns;
use support::node_daemon;
use support::wire;

use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interop::*;
use keepalived::vrrp::packet::{Advert, AuthType, Ipv4Params};
use netns::Lan;
use node_daemon::*;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The injecting node's own address, and an address no node has.
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const STRANGER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 9);
const NODE0: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

/// VIP 192.0.2.(100 + n) of instance VI_n.
fn vip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 100 + n)
}

/// A VRRPv2 advert without authentication (advert_int 1) from `src` to `dst`, as a raw IPv4
/// packet.
fn advert(vrid: u8, priority: u8, src: Ipv4Addr, dst: Ipv4Addr, vips: &[Ipv4Addr]) -> Vec<u8> {
    advert_v(2, vrid, priority, src, dst, vips)
}

/// The same in VRRP `version` (3: advert_int 1 s too).
fn advert_v(
    version: u8,
    vrid: u8,
    priority: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    vips: &[Ipv4Addr],
) -> Vec<u8> {
    let a = Advert {
        version,
        kind: 1,
        vrid,
        priority,
        adver_int: if version == 2 { 1 } else { 100 },
        auth_type: AuthType::None,
        auth_data: [0; 8],
        addresses: vips.iter().map(|v| IpAddr::V4(*v)).collect(),
    };
    let mut buf = vec![0u8; 256];
    let ip = Ipv4Params {
        src,
        dst,
        id: 1,
        ttl: 255,
        fill_checksum: true,
        checksum_dst: None,
        v3_checksum_as_v2: false,
    };
    let len = a.emit_ipv4(&mut buf, &ip, None).expect("emit advert");
    buf.truncate(len);
    buf
}

/// (destination, packet) pairs.
type Packets = Vec<(Ipv4Addr, Vec<u8>)>;

fn raw_socket() -> Socket {
    let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).expect("raw socket");
    s.set_header_included_v4(true).expect("IP_HDRINCL");
    s.bind_device(Some(b"eth0")).expect("SO_BINDTODEVICE");
    s.set_multicast_ttl_v4(255).expect("mcast ttl");
    s.set_multicast_loop_v4(false).expect("mcast loop");
    s
}

fn send_all(s: &Socket, pkts: &[(Ipv4Addr, Vec<u8>)]) {
    for (dst, p) in pkts {
        let to = SockAddr::from(SocketAddrV4::new(*dst, 0));
        s.send_to(p, &to).expect("send advert");
    }
}

/// Sends `pkts` once from node `node`; returns the (pcap clock) time just before.
fn inject(lan: &Lan, node: usize, pkts: Packets) -> f64 {
    let t = now_epoch();
    lan.run_in(node, move || async move { send_all(&raw_socket(), &pkts) });
    t
}

/// Adverts sent from node `node` every half second (what a master at advert_int 1 would
/// send, twice over) until dropped; the packets can be swapped on the way.
struct Stream {
    pkts: Arc<Mutex<Packets>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Stream {
    fn start(lan: &Lan, node: usize, pkts: Packets) -> Stream {
        let pkts = Arc::new(Mutex::new(pkts));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (pkts.clone(), stop.clone());
        let thread = lan.spawn_in(node, move || async move {
            let sock = raw_socket();
            while !s.load(Ordering::SeqCst) {
                let now: Packets = p.lock().map(|v| v.clone()).unwrap_or_default();
                send_all(&sock, &now);
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Stream {
            pkts,
            stop,
            thread: Some(thread),
        }
    }

    fn set(&self, pkts: Packets) {
        if let Ok(mut p) = self.pkts.lock() {
            *p = pkts;
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One instance VI_n (VRID 50 + n, VIP 192.0.2.(100 + n)/32) on eth0 with `extra` lines; no
/// delayed GARP burst after becoming master, so that only reactions to adverts send GARPs.
fn instance(n: u8, prio: u8, extra: &str) -> String {
    format!(
        "vrrp_instance VI_{n} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {}\n  \
         priority {prio}\n  advert_int 1\n  garp_master_delay 0\n{extra}  virtual_ipaddress {{\n    {}/32\n  }}\n}}\n",
        50 + n,
        vip(n)
    )
}

/// Byte offset of the `nth` (from 1) occurrence of `pat` in `log`.
fn nth_at(log: &str, pat: &str, nth: usize) -> Option<usize> {
    log.match_indices(pat).nth(nth - 1).map(|(i, _)| i)
}

/// The log lines containing `pat`.
fn lines_with<'a>(log: &'a str, pat: &str) -> Vec<&'a str> {
    log.lines().filter(|l| l.contains(pat)).collect()
}

/// (time, sender MAC) of the gratuitous ARPs for VI_n's VIP in `pcap`.
fn garps(pcap: &std::path::Path, n: u8) -> Vec<f64> {
    announcements(pcap, &vip(n).to_string(), true)
        .into_iter()
        .map(|(t, _)| t)
        .collect()
}

/// Bursts of `ts` (sorted): runs of times less than a second apart, as (first time, count).
fn bursts(ts: &[f64]) -> Vec<(f64, usize)> {
    let mut out: Vec<(f64, usize)> = Vec::new();
    let mut last = f64::NEG_INFINITY;
    for &t in ts {
        match out.last_mut() {
            Some(b) if t - last < 1.0 => b.1 += 1,
            _ => out.push((t, 1)),
        }
        last = t;
    }
    out
}

/// A master (priority 200) and backups (priority 100) facing crafted adverts from node 1:
/// * one advert of priority 100 to four masters: with `lower_prio_no_advert` or `strict_mode`
///   the master logs without ", forcing new election" (and does not answer); with
///   `garp_lower_prio_repeat 2` / `garp_lower_prio_delay 2` it sends 2 gratuitous ARPs at once
///   and 2 more after 2 s, where the defaults are 5 and 5 more after 5 s (strict mode: none);
/// * one advert of priority 250 to two masters: with `higher_prio_send_advert` the master
///   answers with an advert of its own before it yields; with `down_timer_adverts 1` it takes
///   the mastership back before the one waiting the default 3 adverts;
/// * a stream of priority 50 to two backups: `nopreempt` then `preempt` preempts, `nopreempt`
///   alone stays backup;
/// * a stream of priority 200 whose address list then goes wrong: with `skip_check_adv_addr`
///   the backup keeps accepting its master without a word, without it logs the missing
///   address at each advert (and keepalived takes over);
/// * a unicast stream of priority 200 from an address that is no `unicast_peer`: rejected
///   with `check_unicast_src` (the backup takes over), accepted without.
#[test]
fn advert_reactions() {
    ours_and_real(|real| {
        let test = format!("advert_reactions_{}", who(real));
        if real && !real_or_skip(&test) {
            return;
        }
        if !tools_or_skip(&test) {
            return;
        }
        let Some(lan) = lan_or_skip(&test, 2) else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let peer2 = "  unicast_peer {\n    192.0.2.2\n  }\n";
        let conf = [
            "global_defs {\n  router_id test\n}\n".to_owned(),
            instance(1, 200, "  lower_prio_no_advert\n"),
            instance(2, 200, "  strict_mode\n"),
            instance(
                3,
                200,
                "  garp_lower_prio_repeat 2\n  garp_lower_prio_delay 2\n",
            ),
            instance(4, 200, ""),
            instance(
                5,
                200,
                "  higher_prio_send_advert\n  down_timer_adverts 1\n",
            ),
            instance(6, 200, ""),
            instance(7, 100, "  nopreempt\n  preempt\n"),
            instance(8, 100, "  nopreempt\n"),
            instance(9, 100, "  skip_check_adv_addr\n"),
            instance(10, 100, ""),
            instance(11, 100, &format!("{peer2}  check_unicast_src\n")),
            instance(12, 100, peer2),
        ]
        .concat();
        let mcast =
            |n: u8, prio: u8, vips: &[Ipv4Addr]| (GROUP, advert(50 + n, prio, PEER, GROUP, vips));
        let streams = |wrong: bool| -> Packets {
            let listed = |n: u8| if wrong { vip(99) } else { vip(n) };
            vec![
                mcast(7, 50, &[vip(7)]),
                mcast(8, 50, &[vip(8)]),
                mcast(9, 200, &[listed(9)]),
                mcast(10, 200, &[listed(10)]),
                (NODE0, advert(61, 200, STRANGER, NODE0, &[vip(11)])),
                (NODE0, advert(62, 200, STRANGER, NODE0, &[vip(12)])),
            ]
        };
        let mut cap = Capture::start(&lan, 1, "proto 112 or arp", dir.path(), "node1");
        let stream = Stream::start(&lan, 1, streams(false));
        let d = Daemon::start(&lan, 0, real, &conf);
        let masters = [1u8, 2, 3, 4, 5, 6, 7, 11];
        let entered = |n: u8| format!("(VI_{n}) Entering MASTER STATE");
        assert!(
            wait_until(20, || {
                let log = d.log();
                masters.iter().all(|&n| log.contains(&entered(n)))
            }),
            "{test}: not all of {masters:?} became master\n{}",
            d.log()
        );
        // VI_8 hears the same stream as VI_7 and would have become master at the same time.
        let log = d.log();
        for n in [8u8, 12] {
            assert!(
                !log.contains(&entered(n)),
                "{test}: VI_{n} became master\n{log}"
            );
        }
        assert!(
            log.contains("(VI_11) unicast source address 192.0.2.9 not a unicast peer"),
            "{test}\n{log}"
        );
        assert!(
            !log.contains("(VI_12) unicast source address"),
            "{test}\n{log}"
        );

        // The master of VI_9 and VI_10 drops a VIP from its adverts: VI_10 logs it at each
        // advert, VI_9 (skip_check_adv_addr) no longer checks its known master. keepalived
        // also drops the advert, so that VI_10 takes over; ours keeps electing with it (see
        // the README's differences).
        stream.set(streams(true));
        let missing = "(VI_10) ip address associated with VRID 60 not present in MASTER advert: \
                       192.0.2.110";
        assert!(
            wait_until(10, || {
                let log = d.log();
                log.matches(missing).count() >= 3 && (!real || log.contains(&entered(10)))
            }),
            "{test}: VI_10 did not see the wrong address list\n{}",
            d.log()
        );
        let log = d.log();
        assert!(!log.contains(&entered(9)), "{test}: VI_9 took over\n{log}");
        assert!(
            !log.contains("(VI_9) ip address associated"),
            "{test}\n{log}"
        );

        // One lower priority advert to VI_1..VI_4, one higher to VI_5 and VI_6.
        let t0 = inject(
            &lan,
            1,
            (1..=4)
                .map(|n| mcast(n, 100, &[vip(n)]))
                .chain((5..=6).map(|n| mcast(n, 250, &[vip(n)])))
                .collect(),
        );
        let lower = |n: u8| {
            format!("(VI_{n}) Received advert from 192.0.2.2 with lower priority 100, ours 200")
        };
        assert!(
            wait_until(10, || {
                let log = d.log();
                (1..=4).all(|n| log.contains(&lower(n)))
                    && [5u8, 6]
                        .iter()
                        .all(|&n| nth_at(&log, &entered(n), 2).is_some())
            }),
            "{test}: no reaction to the injected adverts\n{}",
            d.log()
        );
        let log = d.log();
        for (n, election) in [(1u8, false), (2, false), (3, true), (4, true)] {
            let l = lines_with(&log, &lower(n));
            assert!(
                l.iter()
                    .all(|l| l.ends_with(", forcing new election") == election),
                "{test}: VI_{n}: {l:?}"
            );
        }
        // down_timer_adverts 1: VI_5 is back before VI_6.
        assert!(
            nth_at(&log, &entered(5), 2) < nth_at(&log, &entered(6), 2),
            "{test}: VI_5 not master again first\n{log}"
        );

        // VI_4's delayed burst comes 5 s after the advert: then all bursts are in.
        let mut seen = Vec::new();
        assert!(
            wait_until(12, || {
                seen = garps(&cap.path, 4);
                bursts(&seen.iter().copied().filter(|t| *t > t0).collect::<Vec<_>>()).len() >= 2
            }),
            "{test}: VI_4's lower priority GARPs: {seen:?}"
        );
        cap.stop();
        let after = |n: u8| {
            let v: Vec<f64> = garps(&cap.path, n)
                .into_iter()
                .filter(|t| *t > t0)
                .collect();
            bursts(&v)
        };
        let (b3, b4) = (after(3), after(4));
        assert_eq!(
            b3.iter().map(|b| b.1).collect::<Vec<_>>(),
            [2, 2],
            "{test}: VI_3 {b3:?}"
        );
        assert_eq!(
            b4.iter().map(|b| b.1).collect::<Vec<_>>(),
            [5, 5],
            "{test}: VI_4 {b4:?}"
        );
        assert!(b3[1].0 < b4[1].0, "{test}: {b3:?} {b4:?}");
        assert!(after(2).is_empty(), "{test}: strict VI_2 sent GARPs");

        // VI_5 answered the higher priority advert before yielding, VI_6 did not: their
        // adverts after the injected one (its capture time).
        let adverts = |vrid: u8, src: &str| -> Vec<(f64, String)> {
            tshark_rows(
                &cap.path,
                &format!("vrrp.virt_rtr_id == {vrid} && ip.src == {src}"),
                &["frame.time_epoch", "vrrp.prio"],
            )
            .into_iter()
            .filter_map(|r| Some((r.first()?.parse().ok()?, r.get(1)?.clone())))
            .filter(|(t, _)| *t >= t0)
            .collect()
        };
        for (vrid, answers) in [(55u8, true), (56, false)] {
            let injected = adverts(vrid, "192.0.2.2");
            let Some(&(ti, _)) = injected.first() else {
                panic!("{test}: injected advert for VRID {vrid} not captured");
            };
            let mine: Vec<_> = adverts(vrid, "192.0.2.1")
                .into_iter()
                .filter(|(t, _)| *t >= ti)
                .collect();
            let answered = mine
                .first()
                .is_some_and(|(t, p)| *t < ti + 0.5 && p == "200");
            assert_eq!(
                answered, answers,
                "{test}: VRID {vrid} after the higher advert at {ti}: {mine:?}"
            );
        }
        drop(stream);
    });
}

/// Where the adverts go, read from a capture in node 1: `vrrp_mcast_group4` and
/// `vrrp_mcast_group6` move the default groups, `mcast_dst_ip` one instance's, `mcast_src_ip`
/// picks the source; `old_unicast_checksum` computes a VRRPv3 unicast checksum over the
/// multicast group (the checksums must equal the real keepalived's, the instance without it
/// differs). Then `vrrp_check_unicast_src` (global) rejects a unicast advert from a stranger,
/// `promote_secondaries` sets the sysctl, `vmac_prefix` names the VMAC, `debug` shows in the
/// SIGUSR1 dump, and with eth0 down only the `dont_track_primary` instance stays out of FAULT.
#[test]
fn wire_addresses() {
    let seen: Mutex<Vec<(bool, Vec<String>)>> = Mutex::new(Vec::new());
    ours_and_real(|real| {
        let test = format!("wire_addresses_{}", who(real));
        if real && !real_or_skip(&test) {
            return;
        }
        if !tools_or_skip(&test) {
            return;
        }
        let Some(lan) = lan_or_skip(&test, 2) else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        lan.must(0, &["ip", "addr", "add", "192.0.2.201/24", "dev", "eth0"]);
        let promote = || {
            lan.must(
                0,
                &["sysctl", "-n", "net.ipv4.conf.eth0.promote_secondaries"],
            )
            .trim()
            .to_owned()
        };
        assert_eq!(promote(), "0", "{test}: promote_secondaries already set");
        let peer2 = "  version 3\n  unicast_peer {\n    192.0.2.2\n  }\n";
        let conf = [
            "global_defs {\n  router_id test\n  vrrp_mcast_group4 224.0.0.19\n  \
             vrrp_mcast_group6 ff02::13\n  vrrp_check_unicast_src\n  vmac_prefix vx\n}\n"
                .to_owned(),
            instance(
                1,
                200,
                "  mcast_src_ip 192.0.2.201\n  promote_secondaries\n  debug 2\n",
            ),
            instance(2, 200, "  version 3\n").replace("192.0.2.102/32", "2001:db8::102/128"),
            instance(3, 200, "  mcast_dst_ip 224.0.0.20\n  dont_track_primary\n"),
            instance(4, 200, &format!("{peer2}  old_unicast_checksum\n")),
            instance(5, 200, peer2),
            instance(6, 200, "  use_vmac\n"),
        ]
        .concat();
        let mut cap = Capture::start(&lan, 1, "proto 112 or ip6", dir.path(), "node1");
        let d = Daemon::start(&lan, 0, real, &conf);
        let entered = |n: u8| format!("(VI_{n}) Entering MASTER STATE");
        assert!(
            wait_until(20, || {
                let log = d.log();
                (1..=6).all(|n| log.contains(&entered(n)))
            }),
            "{test}: not all masters\n{}",
            d.log()
        );
        // A stranger's unicast advert of higher priority: rejected, VI_5 stays master.
        inject(
            &lan,
            1,
            vec![(NODE0, advert_v(3, 55, 250, STRANGER, NODE0, &[vip(5)]))],
        );
        assert!(
            wait_until(5, || d.log().contains(
                "(VI_5) unicast source address 192.0.2.9 not a unicast peer"
            )),
            "{test}\n{}",
            d.log()
        );
        assert_eq!(promote(), "1", "{test}: promote_secondaries");
        assert!(
            wire::link_details(&lan, 0, "vx.56").is_some(),
            "{test}: no VMAC vx.56\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(1500));
        cap.stop();
        let mut rows: Vec<String> = tshark_rows(
            &cap.path,
            "vrrp",
            &[
                "vrrp.virt_rtr_id",
                "ip.src",
                "ip.dst",
                "ipv6.dst",
                "vrrp.checksum",
            ],
        )
        .into_iter()
        .filter(|r| r.get(1).map(String::as_str) != Some("192.0.2.9"))
        .map(|mut r| {
            // An IPv6 checksum covers the link-local source, which differs between LANs.
            if r.get(3).is_some_and(|a| !a.is_empty()) {
                r.truncate(4);
            }
            r.join(" ")
        })
        .collect();
        rows.sort();
        rows.dedup();
        for want in [
            "51 192.0.2.201 224.0.0.19  ",
            "53 192.0.2.1 224.0.0.20  ",
            "54 192.0.2.1 192.0.2.2  ",
            "55 192.0.2.1 192.0.2.2  ",
            "56 192.0.2.1 224.0.0.19  ",
        ] {
            assert!(
                rows.iter().any(|r| r.starts_with(want)),
                "{test}: no advert {want:?} in {rows:?}"
            );
        }
        assert!(
            rows.iter().any(|r| r == "52   ff02::13"),
            "{test}: {rows:?}"
        );
        let sum = |vrid: &str| {
            rows.iter()
                .find(|r| r.starts_with(vrid))
                .and_then(|r| r.split(' ').nth(4))
                .map(str::to_owned)
        };
        assert_ne!(sum("54 "), sum("55 "), "{test}: {rows:?}");

        // debug only shows in the dump.
        let data = d.path("keepalived.data");
        let _ = std::fs::remove_file(&data);
        d.signal(libc::SIGUSR1);
        assert!(
            wait_until(5, || std::fs::read_to_string(&data)
                .is_ok_and(|t| t.contains("   Debug level = 2"))),
            "{test}: {}",
            std::fs::read_to_string(&data).unwrap_or_default()
        );

        lan.must(0, &["ip", "link", "set", "eth0", "down"]);
        assert!(
            wait_until(10, || d.log().contains("(VI_1) Entering FAULT STATE")),
            "{test}\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(500));
        let log = d.log();
        assert!(
            !log.contains("(VI_3) Entering FAULT STATE"),
            "{test}: dont_track_primary\n{log}"
        );
        if let Ok(mut s) = seen.lock() {
            s.push((real, rows));
        }
    });
    let seen = seen.into_inner().unwrap_or_default();
    if let [(_, a), (_, b)] = seen.as_slice() {
        assert_eq!(a, b, "ours and the real keepalived send differently");
    }
}

/// `sh -c CMD` in node `i`, killed on drop.
struct Bg(std::process::Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bg(lan: &Lan, i: usize, cmd: &str) -> Bg {
    let child = std::process::Command::new("ip")
        .args(["netns", "exec", &lan.nodes[i].ns, "sh", "-c", cmd])
        .env("PYTHONUNBUFFERED", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn background process");
    Bg(child)
}

fn aiosmtpd_or_skip(test: &str) -> bool {
    let ok = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        support::skip_or_fail(
            test,
            "/usr/bin/python3 with aiosmtpd (Debian python3-aiosmtpd) is missing",
        );
    }
    ok
}

fn read(p: &std::path::Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// One file tracked with the old spelling `vrrp_track_file` drives everything:
/// * VI_1 (weight 0) goes to FAULT and back: with `no_email_faults` its mails (to an SMTP
///   server in node 1) say MASTER, BACKUP, MASTER but never FAULT; their subjects carry
///   `lvs_id` (ours: keepalived 2.2.7 does not know the keyword any more);
/// * `notify_fifo` receives the state lines, read by the `notify_fifo_script` it starts;
/// * in a sync group with `sync_group_tracking_weight` (or the deprecated `global_tracking`)
///   the file's weight changes the member's priority; in one without, the member drops the
///   weighted file at start and ignores it;
/// * at the end the VRRP child is frozen: with `child_wait_time 1` the parent kills it after a
///   second (the default would wait 5).
#[test]
fn alerts_fifo_and_tracking() {
    ours_and_real(|real| {
        let test = format!("alerts_fifo_and_tracking_{}", who(real));
        if real && !real_or_skip(&test) {
            return;
        }
        if !aiosmtpd_or_skip(&test) {
            return;
        }
        let Some(lan) = lan_or_skip(&test, 2) else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let p = |n: &str| dir.path().join(n);
        let mbox = p("smtp.out");
        let _server = bg(
            &lan,
            1,
            &format!(
                "exec /usr/bin/python3 -m aiosmtpd -n -d -l 192.0.2.2:2525 > {} 2>&1",
                mbox.display()
            ),
        );
        assert!(
            wait_until(10, || read(&mbox).contains("listening")),
            "SMTP server did not start: {}",
            read(&mbox)
        );
        let tracked = p("tracked");
        std::fs::write(&tracked, "0\n").expect("write tracked file");
        let script = p("fifo.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nwhile read -r l; do echo \"$l\" >> {}; done < \"$1\"\n",
                p("fifo.out").display()
            ),
        )
        .expect("write script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod script");
        let track = |w: u8| format!("  track_file {{\n    tf weight {w}\n  }}\n");
        let conf = [
            format!(
                "global_defs {{\n  lvs_id R1\n  notification_email {{\n    a@example.org\n  }}\n  \
                 notification_email_from ka@example.org\n  smtp_server 192.0.2.2 2525\n  \
                 no_email_faults\n  notify_fifo {}\n  notify_fifo_script {}\n}}\n\
                 child_wait_time 1\n\
                 vrrp_track_file tf {{\n  file {}\n}}\n",
                p("notify.fifo").display(),
                script.display(),
                tracked.display()
            ),
            "vrrp_sync_group G1 {\n  group {\n    VI_2\n    VI_3\n  }\n  \
             sync_group_tracking_weight\n}\n\
             vrrp_sync_group G2 {\n  group {\n    VI_4\n    VI_5\n  }\n  global_tracking\n}\n\
             vrrp_sync_group G3 {\n  group {\n    VI_6\n    VI_7\n  }\n}\n"
                .to_owned(),
            instance(1, 200, &format!("  smtp_alert\n{}", track(0))),
            instance(2, 100, &track(10)),
            instance(3, 100, ""),
            instance(4, 100, &track(10)),
            instance(5, 100, ""),
            instance(6, 100, &track(10)),
            instance(7, 100, ""),
        ]
        .concat();
        let mut d = Daemon::start(&lan, 0, real, &conf);
        let entered = |n: u8| format!("(VI_{n}) Entering MASTER STATE");
        assert!(
            wait_until(20, || {
                let log = d.log();
                (1..=7).all(|n| log.contains(&entered(n)))
            }),
            "{test}: not all masters\n{}",
            d.log()
        );
        let subject = if real {
            "] VRRP Instance VI_1 - Entering MASTER state"
        } else {
            "Subject: [R1] VRRP Instance VI_1 - Entering MASTER state"
        };
        assert!(
            wait_until(10, || read(&mbox).contains(subject)),
            "{test}: {}\n{}",
            read(&mbox),
            d.log()
        );
        let fifo_line = "INSTANCE \"VI_1\" MASTER 200";
        assert!(
            wait_until(10, || read(&p("fifo.out")).contains(fifo_line)),
            "{test}: fifo script saw {:?}\n{}",
            read(&p("fifo.out")),
            d.log()
        );

        std::fs::write(&tracked, "2\n").expect("write tracked file");
        let fault = |n: u8| format!("(VI_{n}) Entering FAULT STATE");
        assert!(
            wait_until(10, || {
                let log = d.log();
                log.contains(&fault(1))
                    && log.contains("(VI_2) Changing effective priority from 100 to 120")
                    && log.contains("(VI_4) Changing effective priority from 100 to 120")
            }),
            "{test}\n{}",
            d.log()
        );
        let log = d.log();
        for n in 2..=7 {
            assert!(!log.contains(&fault(n)), "{test}: VI_{n} in FAULT\n{log}");
        }
        assert!(
            log.contains("(VI_6) ignoring tracked file tf with weight 10 due to SYNC group")
                && !log.contains("(VI_6) Changing effective priority"),
            "{test}\n{log}"
        );
        assert!(
            wait_until(5, || read(&p("fifo.out"))
                .contains("INSTANCE \"VI_1\" FAULT 200")),
            "{test}: {:?}",
            read(&p("fifo.out"))
        );
        std::fs::write(&tracked, "0\n").expect("write tracked file");
        assert!(
            wait_until(15, || read(&mbox).matches(subject).count() >= 2),
            "{test}: {}\n{}",
            read(&mbox),
            d.log()
        );
        let mails = read(&mbox);
        assert!(
            mails.contains("VRRP Instance VI_1 - Entering BACKUP state"),
            "{test}: {mails}"
        );
        assert!(!mails.contains("FAULT"), "{test}: {mails}");
        if real {
            assert!(
                d.log().contains("Unknown keyword 'lvs_id'"),
                "{test}\n{}",
                d.log()
            );
        }

        // child_wait_time: a frozen VRRP child is killed a second after SIGTERM.
        let Some(vrrp) = d.vrrp_pid() else {
            panic!("{test}: no vrrp pid\n{}", d.log());
        };
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(vrrp),
            nix::sys::signal::Signal::SIGSTOP,
        );
        d.signal(libc::SIGTERM);
        let mut child = d.child.take().expect("daemon process");
        let exited = wait_until(4, || matches!(child.try_wait(), Ok(Some(_))));
        if !exited {
            let _ = child.kill();
        }
        let _ = child.wait();
        assert!(exited, "{test}: still waiting for its child\n{}", d.log());
        assert!(
            d.log()
                .contains("vrrp process failed to die - forcing termination"),
            "{test}\n{}",
            d.log()
        );
    });
}

fn nft_or_skip(test: &str) -> bool {
    if std::process::Command::new("nft")
        .arg("--version")
        .output()
        .is_err()
    {
        support::skip_or_fail(test, "nft (Debian package nftables) is not installed");
        return false;
    }
    true
}

/// Counter values change with traffic; the layout must not.
fn without_counters(s: &str) -> String {
    s.lines()
        .map(|l| match l.find(" counter packets ") {
            Some(i) => {
                let rest = &l[i + 17..];
                let after = rest.find(" bytes ").map_or("", |j| &rest[j + 7..]);
                let after = after.split_once(' ').map_or("", |x| x.1);
                format!("{} counter {}", &l[..i], after)
            }
            None => l.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The firewall keywords, by the nftables ruleset of a `no_accept` master (the same as
/// keepalived 2.2.7's): `vrrp_iptables` means table `keepalived` at priority -1 in Debian's
/// build (which has no iptables), `vrrp_ipsets` is an unknown keyword there; `nftables` with
/// `nftables_priority -5` moves the chains, `nftables_ifindex` keys the link-local VIPs of a
/// `dont_track_primary` instance by interface index (else by name).
#[test]
fn firewall_keywords() {
    let seen: Mutex<Vec<(bool, Vec<String>)>> = Mutex::new(Vec::new());
    ours_and_real(|real| {
        let test = format!("firewall_keywords_{}", who(real));
        if real && !real_or_skip(&test) {
            return;
        }
        if !nft_or_skip(&test) {
            return;
        }
        let Some(lan) = lan_or_skip(&test, 1) else {
            return;
        };
        let mut rulesets = Vec::new();
        for global in [
            "  vrrp_iptables\n  vrrp_ipsets keepalived\n",
            "  nftables\n  nftables_priority -5\n  nftables_ifindex\n",
        ] {
            let mut conf = format!(
                "global_defs {{\n  router_id test\n{global}}}\n{}",
                instance(1, 200, "  no_accept\n")
            );
            if global.contains("nftables_ifindex") {
                // Link-local VIPs of a dont_track_primary instance: keyed by interface index
                // only with nftables_ifindex.
                conf += &instance(2, 200, "  version 3\n  no_accept\n  dont_track_primary\n")
                    .replace("192.0.2.102/32", "fe80::102/64");
            }
            let mut d = Daemon::start(&lan, 0, real, &conf);
            assert!(
                wait_until(15, || has_addr(&lan, 0, &vip(1).to_string())),
                "{test}: not master\n{}",
                d.log()
            );
            let ok = wait_until(5, || {
                let r = lan.nft_ruleset(0);
                r.contains(&vip(1).to_string())
                    && (!global.contains("nftables_ifindex") || r.contains("fe80::102"))
            });
            assert!(ok, "{test}: no VIP rules\n{}", lan.nft_ruleset(0));
            let rules = without_counters(&lan.nft_ruleset(0));
            d.stop();
            let log = d.log();
            if global.contains("vrrp_iptables") {
                for want in [
                    "iptables not supported, using nftables instead. Please replace \
                     'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option",
                    "Unknown keyword 'vrrp_ipsets'",
                ] {
                    assert!(log.contains(want), "{test}: no {want:?}\n{log}");
                }
                assert!(
                    rules.contains("table ip keepalived {")
                        && rules.contains("hook input priority filter - 1;"),
                    "{test}: {rules}"
                );
            } else {
                assert!(
                    rules.contains("hook input priority filter - 5;")
                        && rules.contains("type ipv6_addr . iface_index"),
                    "{test}: {rules}"
                );
            }
            rulesets.push(rules);
            assert_eq!(lan.nft_ruleset(0), "", "{test}: tables left behind\n{log}");
        }
        if let Ok(mut s) = seen.lock() {
            s.push((real, rulesets));
        }
    });
    let seen = seen.into_inner().unwrap_or_default();
    if let [(_, a), (_, b)] = seen.as_slice() {
        assert_eq!(a, b, "ours and the real keepalived's rulesets differ");
    }
}

/// Unsolicited neighbour advertisements spaced by `vrrp_gna_interval` (global) or by a
/// `garp_group`'s `gna_interval` for its `interfaces`: of the 3 NAs of a takeover
/// (`garp_master_repeat 3`), one goes at once and one more waits for the next slot (the rest
/// is absorbed, as keepalived does), at least the interval apart.
#[test]
fn na_spacing() {
    ours_and_real(|real| {
        let test = format!("na_spacing_{}", who(real));
        if real && !real_or_skip(&test) {
            return;
        }
        if !tools_or_skip(&test) {
            return;
        }
        let Some(lan) = lan_or_skip(&test, 2) else {
            return;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        let vip6 = "2001:db8::101";
        for (i, spacing) in [
            "global_defs {\n  router_id test\n  vrrp_gna_interval 0.6\n}\n",
            "global_defs {\n  router_id test\n}\n\
             garp_group {\n  gna_interval 0.6\n  interfaces {\n    eth0\n  }\n}\n",
        ]
        .into_iter()
        .enumerate()
        {
            let conf = format!(
                "{spacing}{}",
                instance(1, 200, "  version 3\n  garp_master_repeat 3\n")
                    .replace("192.0.2.101/32", &format!("{vip6}/128"))
            );
            let mut cap = Capture::start(&lan, 1, "icmp6", dir.path(), &format!("na{i}"));
            let mut d = Daemon::start(&lan, 0, real, &conf);
            assert!(
                wait_until(15, || has_addr(&lan, 0, vip6)),
                "{test}: not master\n{}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(2000));
            cap.stop();
            d.stop();
            let nas: Vec<f64> = announcements(&cap.path, vip6, false)
                .into_iter()
                .map(|(t, _)| t)
                .collect();
            assert_eq!(nas.len(), 2, "{test} ({spacing}): {nas:?}\n{}", d.log());
            assert!(nas[1] - nas[0] >= 0.5, "{test} ({spacing}): {nas:?}");
        }
    });
}

/// A process (a copy of sleep) started by hand, a tracker per way of matching it, each the
/// only (weight 0) tracked object of an instance: `param_match initial` matches the
/// process's longer parameter list where the default exact match does not; `full_command`
/// matches the full path in argv[0] where the default (the 15-byte comm) does not; with
/// `fork_delay 2` quorum comes after the tracker without it. Ours only: keepalived 2.2.7 in
/// a network namespace cannot listen to process events ("Failed to set/clear process event
/// listen - errno 111") and never sees the process.
#[test]
fn track_process_matching() {
    let test = "track_process_matching";
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("kpm{}", std::process::id() % 100_000);
    let bin = dir.path().join(&name);
    std::fs::copy("/bin/sleep", &bin).expect("copy sleep");
    let path = bin.display().to_string();
    // Each tracker and whether it matches `BIN 1000 77 5` (keepalived.conf(5): partial = the
    // first n parameters match exactly, initial = the last may be longer, `param_match`
    // alone = no parameters; a path without parameters matches only with full_command).
    let trackers = [
        (
            format!("process {path} 1000 7\n  param_match initial"),
            true,
        ),
        (
            format!("process {path} 1000 7\n  param_match partial"),
            false,
        ),
        (
            format!("process {path} 1000 77\n  param_match partial"),
            true,
        ),
        (format!("process {path} 1000 77"), false),
        (format!("process {path}\n  param_match"), false),
        (format!("process {path}\n  full_command"), true),
        (format!("process {path}"), false),
        (format!("process {name}\n  fork_delay 2"), true),
        (format!("process {name}"), true),
        (format!("process {path} 1000 77 5"), true),
        (format!("process {path}\n  param_match partial"), true),
        (format!("process {path} 100\n  param_match initial"), true),
    ];
    let mut conf = String::from("global_defs {\n  router_id test\n}\n");
    for (i, (t, _)) in trackers.iter().enumerate() {
        let n = i as u8 + 1;
        conf += &format!("vrrp_track_process P{n} {{\n  {t}\n}}\n");
        conf += &instance(n, 100, &format!("  track_process {{\n    P{n}\n  }}\n"));
    }
    let all = 1..=trackers.len() as u8;
    let expected: Vec<u8> = all
        .clone()
        .filter(|&n| trackers[n as usize - 1].1)
        .collect();
    let spawn = || {
        std::process::Command::new(&bin)
            .args(["1000", "77", "5"])
            .stdin(std::process::Stdio::null())
            .spawn()
            .expect("spawn tracked process")
    };
    // keepalived learns of processes from the proc connector, which speaks only to the
    // initial network namespace ("Failed to set/clear process event listen"): in a test's
    // namespace it tracks nothing, so only what it read from the file is compared.
    let mut dumps = Vec::new();
    for real in [false, true] {
        let d = Daemon::start(&lan, 0, real, &conf);
        let fault = |n: u8| format!("(VI_{n}) entering FAULT state");
        let ok = wait_until(10, || {
            let log = d.log();
            all.clone().all(|n| log.contains(&fault(n)))
        });
        assert!(ok, "{test} (real: {real})\n{}", d.log());
        dumps.push(track_process_dump(&d));
    }
    assert_eq!(
        dumps[0], dumps[1],
        "{test}: data dumps (ours, keepalived 2.2.7)"
    );

    // The matching itself, ours only (keepalived.conf(5) and the tracker's unit tests).
    let d = Daemon::start(&lan, 0, false, &conf);
    let fault = |n: u8| format!("(VI_{n}) entering FAULT state");
    assert!(
        wait_until(10, || {
            let log = d.log();
            all.clone().all(|n| log.contains(&fault(n)))
        }),
        "{test}: not all in FAULT\n{}",
        d.log()
    );
    let mut p = spawn();
    let gained = |n: u8| format!("Quorum gained for tracked process P{n}\n");
    let ok = wait_until(10, || {
        let log = d.log();
        expected.iter().all(|&n| log.contains(&gained(n)))
    });
    // one more scan so that a wrong match has time to show
    std::thread::sleep(Duration::from_secs(1));
    let _ = p.kill();
    let _ = p.wait();
    let log = d.log();
    assert!(ok, "{test}\n{log}");
    for n in all.filter(|n| !expected.contains(n)) {
        assert!(!log.contains(&gained(n)), "{test}: P{n} matched\n{log}");
    }
    assert!(
        nth_at(&log, &gained(9), 1) < nth_at(&log, &gained(8), 1),
        "{test}: fork_delay\n{log}"
    );
}

/// The `vrrp_track_process` lines of a SIGUSR1 data dump that say what is matched.
fn track_process_dump(d: &Daemon) -> Vec<String> {
    let data = d.path("keepalived.data");
    let _ = std::fs::remove_file(&data);
    d.signal(libc::SIGUSR1);
    let text = settled_file(&data, 10);
    let keys = [
        "VRRP Track process = ",
        "Process = ",
        "Parameters = ",
        "Param match",
    ];
    text.lines()
        .map(str::trim)
        .filter(|l| keys.iter().any(|k| l.starts_with(k)))
        .map(str::to_owned)
        .collect()
}

/// The instance lines of a SIGUSR1 data dump whose key is in `keys`, per instance.
fn dump_lines(d: &Daemon, keys: &[&str]) -> Vec<String> {
    let data = d.path("keepalived.data");
    let _ = std::fs::remove_file(&data);
    d.signal(libc::SIGUSR1);
    let text = settled_file(&data, 10);
    // keepalived's global section repeats some keys: instances only
    text.lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("VRRP Instance = "))
        .filter(|l| l.starts_with("VRRP Instance = ") || keys.iter().any(|k| l.starts_with(k)))
        .map(str::to_owned)
        .collect()
}

/// The global_defs defaults of instance settings (`vrrp_version`, `vrrp_garp_master_*`,
/// `vrrp_garp_lower_prio_*`, `vrrp_down_timer_adverts`, `vrrp_lower_prio_no_advert`,
/// `vrrp_higher_prio_send_advert`, `vrrp_skip_check_adv_addr`) reach the instances, and an
/// instance with `native_ipv6` is IPv6 (keepalived 2.2.7 refuses a VRRPv3 instance without
/// addresses, the one case where the keyword alone would choose the family): the data dump
/// shows the same values as keepalived 2.2.7's for the same file. (What each instance setting does is
/// shown by its own test.)
#[test]
fn global_vrrp_defaults_reach_the_instances() {
    let test = "global_vrrp_defaults_reach_the_instances";
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    if !real_or_skip(test) {
        return;
    }
    let conf = "global_defs {\n  router_id t\n  vrrp_version 3\n  vrrp_garp_master_delay 7\n  \
        vrrp_garp_master_repeat 4\n  vrrp_garp_master_refresh 30\n  \
        vrrp_garp_master_refresh_repeat 2\n  vrrp_garp_lower_prio_delay 6\n  \
        vrrp_garp_lower_prio_repeat 3\n  vrrp_down_timer_adverts 5\n  \
        vrrp_lower_prio_no_advert\n  vrrp_higher_prio_send_advert\n  \
        vrrp_skip_check_adv_addr\n}\n\
        vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
        priority 100\n  advert_int 1\n  virtual_ipaddress {\n    192.0.2.100/32\n  }\n}\n\
        vrrp_instance VI_2 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 52\n  \
        priority 100\n  advert_int 1\n  native_ipv6\n  virtual_ipaddress {\n    2001:db8::100/64\n  }\n}\n";
    let keys = [
        "VRRP Version",
        "Using Native IPv6",
        "Skip checking advert IP addresses",
        "Gratuitous ARP",
        "Down timer adverts",
        "Send advert after receive",
    ];
    let mut seen = Vec::new();
    for real in [false, true] {
        let mut d = Daemon::start(&lan, 0, real, conf);
        assert!(
            wait_until(20, || d.log().contains("(VI_2) Entering BACKUP STATE")),
            "{test}: real {real}\n{}",
            d.log()
        );
        seen.push(dump_lines(&d, &keys));
        d.stop();
    }
    let want = [
        "VRRP Version = 3",
        "Gratuitous ARP delay = 7",
        "Gratuitous ARP repeat = 4",
        "Gratuitous ARP refresh = 30",
        "Gratuitous ARP refresh repeat = 2",
        "Gratuitous ARP lower priority delay = 6",
        "Gratuitous ARP lower priority repeat = 3",
        "Down timer adverts = 5",
        "Send advert after receive lower priority advert = false",
        "Send advert after receive higher priority advert = true",
        "Skip checking advert IP addresses",
    ];
    for w in want {
        assert!(
            seen[0].iter().any(|l| l == w),
            "{test}: want {w:?}: {:#?}",
            seen[0]
        );
    }
    let v6 = seen[0]
        .iter()
        .skip_while(|l| !l.ends_with("VI_2"))
        .any(|l| l == "Using Native IPv6");
    assert!(v6, "{test}: {:#?}", seen[0]);
    assert_eq!(seen[0], seen[1], "{test}: ours, then keepalived 2.2.7");
}
