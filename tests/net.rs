//! End-to-end tests of src/net (netlink) and the VRRP sockets/GARP in network namespaces.
//! Each test builds its own LAN (tests/support/netns.rs); results are read back with `ip -j`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::time::Duration;

use futures::StreamExt;
use keepalived::net::addr::{IFA_F_NOPREFIXROUTE, RT_SCOPE_LINK};
use keepalived::net::{
    sysctl, AddrSpec, Monitor, NetEvent, Netlink, RouteKind, RouteSpec, RuleSpec,
};
use keepalived::vrrp::arp::{self, PacketSocket, ETH_P_ALL};
use keepalived::vrrp::socket::{SocketOptions, VrrpSocket, VRRP_GROUP_V4, VRRP_GROUP_V6};
use support::netns::{join, Lan};

const WAIT: Duration = Duration::from_secs(5);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn addr_entries(lan: &Lan, i: usize, family: &str) -> Vec<serde_json::Value> {
    let j = lan.ip_json(i, &[family, "addr", "show", "dev", "eth0"]);
    j[0]["addr_info"].as_array().cloned().unwrap_or_default()
}

#[test]
fn addresses_add_read_back_delete() {
    let Some(lan) = Lan::new(1) else { return };
    let (primary, ll) = lan.run_in(0, || async {
        let nl = Netlink::new().unwrap();
        let idx = nl.ifindex("eth0").await.unwrap();
        let mut v4 = AddrSpec::new(idx, ip("192.0.2.100"), 32);
        v4.label = Some("eth0:vip".into());
        v4.brd = Some(Ipv4Addr::new(192, 0, 2, 255));
        nl.add_address(&v4).await.unwrap();
        // Adding twice is not an error.
        nl.add_address(&v4).await.unwrap();
        let mut v6 = AddrSpec::new(idx, ip("2001:db8::100"), 64);
        v6.flags |= IFA_F_NOPREFIXROUTE;
        v6.preferred_lft = Some(0);
        nl.add_address(&v6).await.unwrap();
        let mut ll = AddrSpec::new(idx, ip("fe80::62"), 64);
        ll.scope = RT_SCOPE_LINK;
        nl.add_address(&ll).await.unwrap();
        let listed = nl.addresses(Some(idx)).await.unwrap();
        assert!(listed
            .iter()
            .any(|a| a.addr == ip("192.0.2.100") && a.label.as_deref() == Some("eth0:vip")));
        (
            nl.primary_ipv4(idx).await.unwrap(),
            nl.link_local_ipv6(idx).await.unwrap(),
        )
    });
    assert_eq!(primary, Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert!(ll.is_some_and(|a| a.segments()[0] == 0xfe80), "{ll:?}");

    let v4 = addr_entries(&lan, 0, "-4");
    let vip = v4
        .iter()
        .find(|a| a["local"] == "192.0.2.100")
        .expect("VIP listed");
    assert_eq!(vip["prefixlen"], 32);
    assert_eq!(vip["label"], "eth0:vip");
    assert_eq!(vip["broadcast"], "192.0.2.255");
    let v6 = addr_entries(&lan, 0, "-6");
    let vip6 = v6
        .iter()
        .find(|a| a["local"] == "2001:db8::100")
        .expect("IPv6 VIP listed");
    assert_eq!(vip6["nodad"], true);
    assert_eq!(vip6["noprefixroute"], true);
    assert_eq!(vip6["preferred_life_time"], 0);
    let ll6 = v6
        .iter()
        .find(|a| a["local"] == "fe80::62")
        .expect("link-local VIP listed");
    assert_eq!(ll6["scope"], "link");
    // No prefix route for the noprefixroute address.
    let routes = lan.ip_json(0, &["-6", "route", "show", "2001:db8::/64"]);
    assert_eq!(routes.as_array().map(Vec::len), Some(1), "{routes}");

    lan.run_in(0, || async {
        let nl = Netlink::new().unwrap();
        let idx = nl.ifindex("eth0").await.unwrap();
        for (a, p) in [("192.0.2.100", 32), ("2001:db8::100", 64), ("fe80::62", 64)] {
            let spec = AddrSpec::new(idx, ip(a), p);
            nl.delete_address(&spec).await.unwrap();
            // Deleting what is gone is not an error either.
            nl.delete_address(&spec).await.unwrap();
        }
        assert!(nl.ifindex("nosuchif0").await.is_err());
        // Real failures are reported with the kernel's errno.
        let err = nl
            .add_address(&AddrSpec::new(99_999, ip("192.0.2.7"), 32))
            .await
            .unwrap_err();
        assert_eq!(err.errno(), Some(libc::ENODEV), "{err}");
    });
    let all: Vec<_> = addr_entries(&lan, 0, "-4")
        .into_iter()
        .chain(addr_entries(&lan, 0, "-6"))
        .collect();
    for gone in ["192.0.2.100", "2001:db8::100", "fe80::62"] {
        assert!(
            !all.iter().any(|a| a["local"] == gone),
            "{gone} still there: {all:?}"
        );
    }
}

#[test]
fn routes_add_read_back_delete() {
    let Some(lan) = Lan::new(1) else { return };
    let specs = |idx: u32| {
        let mut gw = RouteSpec::new(ip("198.51.100.0"), 24);
        gw.via = Some(ip("192.0.2.254"));
        gw.table = 1000;
        gw.metric = Some(5);
        gw.src = Some(ip("192.0.2.1"));
        let mut bh = RouteSpec::new(ip("203.0.113.0"), 24);
        bh.kind = RouteKind::Blackhole;
        let mut un = RouteSpec::new(ip("203.0.113.128"), 25);
        un.kind = RouteKind::Unreachable;
        un.table = 1000;
        let mut onl = RouteSpec::new(ip("198.51.100.128"), 25);
        onl.via = Some(ip("203.0.113.1"));
        onl.oif = Some(idx);
        onl.onlink = true;
        let mut dev = RouteSpec::new(ip("198.51.100.64"), 26);
        dev.oif = Some(idx);
        let mut v6 = RouteSpec::new(ip("2001:db8:1::"), 48);
        v6.via = Some(ip("2001:db8::fe"));
        v6.metric = Some(7);
        vec![gw, bh, un, onl, dev, v6]
    };
    lan.run_in(0, move || async move {
        let nl = Netlink::new().unwrap();
        let idx = nl.ifindex("eth0").await.unwrap();
        for r in specs(idx) {
            nl.add_route(&r)
                .await
                .unwrap_or_else(|e| panic!("{r:?}: {e}"));
            nl.add_route(&r).await.unwrap();
        }
        let v4 = nl.routes(false).await.unwrap();
        assert!(v4
            .iter()
            .any(|r| r.table == 1000 && r.dst == Some(ip("198.51.100.0")) && r.metric == Some(5)));
    });
    let t1000 = lan.ip_json(0, &["route", "show", "table", "1000"]);
    let gw = t1000
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["dst"] == "198.51.100.0/24")
        .expect("gw route");
    assert_eq!(gw["gateway"], "192.0.2.254");
    assert_eq!(gw["metric"], 5);
    assert_eq!(gw["prefsrc"], "192.0.2.1");
    assert_eq!(gw["protocol"], "keepalived");
    assert!(t1000
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["dst"] == "203.0.113.128/25" && r["type"] == "unreachable"));
    let main = lan.ip_json(0, &["route", "show"]);
    let main = main.as_array().unwrap();
    assert!(main
        .iter()
        .any(|r| r["dst"] == "203.0.113.0/24" && r["type"] == "blackhole"));
    let onl = main
        .iter()
        .find(|r| r["dst"] == "198.51.100.128/25")
        .expect("onlink route");
    assert!(
        onl["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "onlink")),
        "{onl}"
    );
    let dev = main
        .iter()
        .find(|r| r["dst"] == "198.51.100.64/26")
        .expect("dev route");
    // keepalived sends scope universe unless `scope` is written (ip omits "global").
    assert_eq!(dev["scope"], serde_json::Value::Null);
    let v6 = lan.ip_json(0, &["-6", "route", "show", "2001:db8:1::/48"]);
    assert_eq!(v6[0]["gateway"], "2001:db8::fe");
    assert_eq!(v6[0]["metric"], 7);

    lan.run_in(0, move || async move {
        let nl = Netlink::new().unwrap();
        let idx = nl.ifindex("eth0").await.unwrap();
        for r in specs(idx) {
            nl.delete_route(&r)
                .await
                .unwrap_or_else(|e| panic!("{r:?}: {e}"));
            nl.delete_route(&r).await.unwrap();
        }
    });
    assert_eq!(
        lan.ip_json(0, &["route", "show", "table", "1000"]),
        serde_json::json!([])
    );
    let main = lan.ip_json(0, &["route", "show"]);
    assert!(
        !main.as_array().unwrap().iter().any(|r| r["dst"]
            .as_str()
            .is_some_and(|d| d.starts_with("198.51.100") || d.starts_with("203.0.113"))),
        "{main}"
    );
    assert_eq!(
        lan.ip_json(0, &["-6", "route", "show", "2001:db8:1::/48"]),
        serde_json::json!([])
    );
}

#[test]
fn rules_add_read_back_delete() {
    let Some(lan) = Lan::new(1) else { return };
    let specs = || {
        let mut a = RuleSpec::new(false);
        a.from = Some((ip("192.0.2.0"), 24));
        a.table = Some(1000);
        a.priority = Some(100);
        a.fwmark = Some(7);
        a.iif = Some("eth0".into());
        let mut b = RuleSpec::new(true);
        b.to = Some((ip("2001:db8:1::"), 48));
        b.table = Some(1001);
        b.priority = Some(101);
        let mut c = RuleSpec::new(false);
        c.to = Some((ip("203.0.113.0"), 24));
        c.priority = Some(102);
        c.action = keepalived::net::RuleAction::Blackhole;
        vec![a, b, c]
    };
    lan.run_in(0, move || async move {
        let nl = Netlink::new().unwrap();
        for r in specs() {
            nl.add_rule(&r)
                .await
                .unwrap_or_else(|e| panic!("{r:?}: {e}"));
            nl.add_rule(&r).await.unwrap();
        }
        assert!(nl.rule_priorities(false).await.unwrap().contains(&100));
    });
    let v4 = lan.ip_json(0, &["rule", "show"]);
    let a = v4
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["priority"] == 100)
        .expect("rule 100");
    assert_eq!(a["src"], "192.0.2.0");
    assert_eq!(a["srclen"], 24);
    assert_eq!(a["table"], "1000");
    assert_eq!(a["fwmark"], "0x7");
    assert_eq!(a["iif"], "eth0");
    assert_eq!(a["protocol"], "keepalived");
    let c = v4
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["priority"] == 102)
        .expect("rule 102");
    assert_eq!(c["action"], "blackhole");
    let v6 = lan.ip_json(0, &["-6", "rule", "show"]);
    let b = v6
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["priority"] == 101)
        .expect("rule 101");
    assert_eq!(b["dst"], "2001:db8:1::");
    assert_eq!(b["table"], "1001");

    lan.run_in(0, move || async move {
        let nl = Netlink::new().unwrap();
        for r in specs() {
            nl.delete_rule(&r).await.unwrap();
            nl.delete_rule(&r).await.unwrap();
        }
    });
    let left: Vec<_> = lan
        .ip_json(0, &["rule", "show"])
        .as_array()
        .unwrap()
        .iter()
        .chain(
            lan.ip_json(0, &["-6", "rule", "show"])
                .as_array()
                .unwrap()
                .iter(),
        )
        .map(|r| r["priority"].clone())
        .collect();
    assert!(
        !left.iter().any(|p| p == 100 || p == 101 || p == 102),
        "{left:?}"
    );
}

#[test]
fn vmac_create_reuse_sysctls_delete() {
    let Some(lan) = Lan::new(1) else { return };
    const MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x33];
    let (idx, again) = lan.run_in(0, || async {
        let nl = Netlink::new().unwrap();
        let parent = nl.ifindex("eth0").await.unwrap();
        let idx = nl.create_vmac(parent, "vrrp.51", MAC).await.unwrap();
        // Left down, so that sysctls are set before the kernel configures it.
        let l = nl.link_by_index(idx).await.unwrap().unwrap();
        assert!(!l.admin_up);
        sysctl::configure_vmac("vrrp.51").unwrap();
        nl.set_link_up(idx, true).await.unwrap();
        let again = nl.create_vmac(parent, "vrrp.51", MAC).await.unwrap();
        let l = nl.link_by_index(idx).await.unwrap().unwrap();
        assert_eq!(l.mac, Some(MAC));
        assert_eq!(l.kind.as_deref(), Some("macvlan"));
        assert_eq!(l.macvlan_private, Some(true));
        assert!(l.admin_up);
        // Not a macvlan: refused rather than reused.
        assert!(nl.create_vmac(parent, "lo", MAC).await.is_err());
        (idx, again)
    });
    assert_eq!(idx, again);
    let j = lan.ip_json(0, &["-d", "link", "show", "dev", "vrrp.51"]);
    assert_eq!(j[0]["address"], "00:00:5e:00:01:33");
    assert_eq!(j[0]["linkinfo"]["info_kind"], "macvlan");
    assert_eq!(j[0]["linkinfo"]["info_data"]["mode"], "private");
    assert_eq!(j[0]["link"], "eth0");
    assert!(
        j[0]["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "{j}"
    );
    for (key, want) in [
        ("arp_ignore", "1"),
        ("arp_filter", "1"),
        ("accept_local", "1"),
        ("rp_filter", "0"),
    ] {
        let got = lan.must(
            0,
            &["cat", &format!("/proc/sys/net/ipv4/conf/vrrp.51/{key}")],
        );
        assert_eq!(got.trim(), want, "{key}");
    }
    lan.run_in(0, move || async move {
        let nl = Netlink::new().unwrap();
        nl.delete_link(idx).await.unwrap();
        nl.delete_link(idx).await.unwrap();
        assert_eq!(nl.link_by_name("vrrp.51").await.unwrap(), None);
    });
    assert!(!lan
        .exec(0, &["ip", "link", "show", "dev", "vrrp.51"])
        .status
        .success());
}

#[test]
fn monitor_sees_external_address_removal_and_link_down() {
    let Some(lan) = Lan::new(1) else { return };
    lan.must(0, &["ip", "addr", "add", "192.0.2.200/32", "dev", "eth0"]);
    let ns = lan.nodes[0].ns.clone();
    let events = lan.run_in(0, move || async move {
        let nl = Netlink::new().unwrap();
        let mut mon = Monitor::new().unwrap();
        mon.seed(&nl.links().await.unwrap());
        let idx = nl.ifindex("eth0").await.unwrap();
        support::netns::must(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "del",
            "192.0.2.200/32",
            "dev",
            "eth0",
        ]);
        let mut seen = Vec::new();
        let removed = NetEvent::AddressRemoved {
            ifindex: idx,
            addr: ip("192.0.2.200"),
            prefix: 32,
        };
        while !seen.contains(&removed) {
            let ev = tokio::time::timeout(WAIT, mon.next())
                .await
                .expect("no address event")
                .unwrap();
            seen.push(ev);
        }
        support::netns::must(&["ip", "-n", &ns, "link", "set", "eth0", "down"]);
        let down = NetEvent::LinkDown {
            ifindex: idx,
            name: "eth0".into(),
        };
        while !seen.contains(&down) {
            let ev = tokio::time::timeout(WAIT, mon.next())
                .await
                .expect("no link event")
                .unwrap();
            seen.push(ev);
        }
        support::netns::must(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        let up = NetEvent::LinkUp {
            ifindex: idx,
            name: "eth0".into(),
        };
        while !seen.contains(&up) {
            let ev = tokio::time::timeout(WAIT, mon.next())
                .await
                .expect("no link-up event")
                .unwrap();
            seen.push(ev);
        }
        seen
    });
    // The interface went down once: exactly one LinkDown despite the other RTM_NEWLINKs.
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, NetEvent::LinkDown { .. }))
            .count(),
        1,
        "{events:?}"
    );
}

/// A 20-byte IPv4 header (TOS 0xc0, TTL 255, protocol 112) + payload, as keepalived builds it.
fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut p = vec![0x45, 0xc0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 255, 112, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

/// A VRRPv3-shaped advert: version 3 type 1, VRID 51, priority 100, 1 address, interval 100 cs.
const ADVERT: [u8; 12] = [0x31, 51, 100, 1, 0, 100, 0, 0, 192, 0, 2, 100];

/// Opens a receiver in node 1, then sends from node 0 until it reports, and returns what it saw.
fn exchange(
    lan: &Lan,
    ipv6: bool,
    group: Option<IpAddr>,
    dst: IpAddr,
) -> (keepalived::vrrp::socket::Received, Vec<u8>) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let local = if group.is_none() { Some(dst) } else { None };
    let rx = lan.spawn_in(1, move || async move {
        let o = SocketOptions {
            ifindex: 0,
            ifname: "eth0".into(),
            group,
            local,
            unicast_hops: None,
            rcvbuf: None,
        };
        let nl = Netlink::new().unwrap();
        let o = SocketOptions {
            ifindex: nl.ifindex("eth0").await.unwrap(),
            ..o
        };
        let sock = VrrpSocket::receiver(ipv6, &o).unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 1500];
        let r = tokio::time::timeout(WAIT, sock.recv(&mut buf))
            .await
            .expect("nothing received")
            .unwrap();
        (r.clone(), buf[..r.len].to_vec())
    });
    ready_rx.recv_timeout(WAIT).expect("receiver not ready");
    let src4 = lan.nodes[0].v4;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let done2 = done.clone();
    let tx = lan.spawn_in(0, move || async move {
        let nl = Netlink::new().unwrap();
        let idx = nl.ifindex("eth0").await.unwrap();
        let local = if ipv6 {
            nl.link_local_ipv6(idx).await.unwrap().map(IpAddr::V6)
        } else {
            None
        };
        let o = SocketOptions {
            ifindex: idx,
            ifname: "eth0".into(),
            group,
            local,
            unicast_hops: Some(255),
            rcvbuf: None,
        };
        let sock = VrrpSocket::sender(ipv6, &o).unwrap();
        let pkt = match dst {
            IpAddr::V4(d) => ipv4_packet(src4, d, &ADVERT),
            IpAddr::V6(_) => ADVERT.to_vec(),
        };
        // Resend a few times: the first may race with the receiver's group join.
        for _ in 0..20 {
            if done2.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            sock.send_to(&pkt, dst).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        local
    });
    let got = join(rx);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let local = join(tx);
    if ipv6 {
        assert_eq!(
            Some(got.0.src),
            local,
            "IPv6 source is the sender's link-local address"
        );
    }
    got
}

#[test]
fn vrrp_ipv4_multicast_exchange() {
    let Some(lan) = Lan::new(2) else { return };
    let g = IpAddr::V4(VRRP_GROUP_V4);
    let (r, bytes) = exchange(&lan, false, Some(g), g);
    assert_eq!(r.src, ip("192.0.2.1"));
    assert_eq!(r.dst, g);
    assert_eq!(r.ttl, 255);
    assert_eq!(bytes.len(), 32);
    assert_eq!(bytes[1], 0xc0, "TOS");
    assert_eq!(&bytes[20..], &ADVERT);
}

#[test]
fn vrrp_ipv4_unicast_exchange() {
    let Some(lan) = Lan::new(2) else { return };
    let peer = ip("192.0.2.2");
    let (r, bytes) = exchange(&lan, false, None, peer);
    assert_eq!(r.src, ip("192.0.2.1"));
    assert_eq!(r.dst, peer);
    assert_eq!(r.ttl, 255);
    assert_eq!(&bytes[20..], &ADVERT);
}

#[test]
fn vrrp_ipv6_multicast_exchange() {
    let Some(lan) = Lan::new(2) else { return };
    let g = IpAddr::V6(VRRP_GROUP_V6);
    let (r, bytes) = exchange(&lan, true, Some(g), g);
    assert_eq!(r.dst, g);
    assert_eq!(r.ttl, 255, "hop limit");
    assert_eq!(bytes.len(), ADVERT.len());
    assert_eq!(&bytes[..6], &ADVERT[..6]);
    assert_eq!(&bytes[8..], &ADVERT[8..]);
    // The kernel filled in the checksum (IPV6_CHECKSUM offset 6).
    assert_ne!(&bytes[6..8], &[0, 0]);
}

#[test]
fn vrrp_ipv6_unicast_exchange() {
    let Some(lan) = Lan::new(2) else { return };
    let peer = IpAddr::V6(lan.nodes[1].v6);
    let (r, bytes) = exchange(&lan, true, None, peer);
    assert_eq!(r.dst, peer);
    assert_eq!(r.ttl, 255, "unicast_ttl 255 honoured");
    assert_eq!(&bytes[8..], &ADVERT[8..]);
}

/// Sends `frame`-producing closure output from node 0 and waits in node 1 for a frame equal
/// to `want`.
fn see_frame(lan: &Lan, want: Vec<u8>, send: impl FnOnce(u32) -> Vec<u8> + Send + 'static) {
    let (ready_tx, ready_rx) = mpsc::channel();
    let rx = lan.spawn_in(1, move || async move {
        let nl = Netlink::new().unwrap();
        let idx = nl.ifindex("eth0").await.unwrap();
        let sock = PacketSocket::receiver(idx, ETH_P_ALL).unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [0u8; 2048];
        let found = tokio::time::timeout(WAIT, async {
            loop {
                let n = sock.recv(&mut buf).await.unwrap();
                if buf[..n] == want[..] {
                    return;
                }
            }
        })
        .await;
        assert!(found.is_ok(), "expected frame not seen");
    });
    ready_rx.recv_timeout(WAIT).expect("receiver not ready");
    lan.run_in(0, move || async move {
        let nl = Netlink::new().unwrap();
        let idx = nl.ifindex("eth0").await.unwrap();
        let frame = send(idx);
        let sock = PacketSocket::sender().unwrap();
        assert_eq!(sock.send(idx, &frame).await.unwrap(), frame.len());
    });
    join(rx);
}

#[test]
fn garp_and_na_seen_by_peer() {
    let Some(lan) = Lan::new(2) else { return };
    let mac = lan.mac(0);
    let vip4 = Ipv4Addr::new(192, 0, 2, 100);
    let garp = arp::garp_frame(mac, vip4).to_vec();
    see_frame(&lan, garp.clone(), move |_| garp);

    let vip6: Ipv6Addr = "2001:db8::100".parse().unwrap();
    // Forwarding off in a fresh namespace: no Router flag; the helper reads the sysctl in the
    // sender's namespace.
    let na = arp::unsolicited_na_frame(mac, vip6, false).to_vec();
    let want = na.clone();
    see_frame(&lan, want, move |_| {
        assert!(!sysctl::ipv6_forwarding("eth0"));
        na
    });
    lan.must(0, &["sysctl", "-qw", "net.ipv6.conf.eth0.forwarding=1"]);
    let na_r = arp::unsolicited_na_frame(mac, vip6, true).to_vec();
    see_frame(&lan, na_r.clone(), move |_| {
        assert!(sysctl::ipv6_forwarding("eth0"));
        na_r
    });
}

#[test]
fn garp_seen_by_tcpdump() {
    let Some(lan) = Lan::new(2) else { return };
    if std::process::Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_err()
    {
        support::skip_or_fail("garp_seen_by_tcpdump", "tcpdump is not installed");
        return;
    }
    let mut dump = lan.spawn(
        1,
        &["tcpdump", "-i", "eth0", "-n", "-l", "-c", "1", "-e", "arp"],
    );
    // tcpdump has no readiness signal; resend until it has captured one.
    let mac = lan.mac(0);
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        lan.run_in(0, move || async move {
            let nl = Netlink::new().unwrap();
            let idx = nl.ifindex("eth0").await.unwrap();
            let sock = PacketSocket::sender().unwrap();
            arp::send_garp(&sock, idx, mac, Ipv4Addr::new(192, 0, 2, 100))
                .await
                .unwrap();
        });
        if dump.try_wait().unwrap().is_some() || std::time::Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = dump.kill();
    let out = dump.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let src = keepalived::net::link::format_mac(&mac);
    assert!(
        text.contains(&format!("{src} > ff:ff:ff:ff:ff:ff, ethertype ARP")),
        "{text}"
    );
    assert!(
        text.contains(
            "Request who-has 192.0.2.100 (ff:ff:ff:ff:ff:ff) tell 192.0.2.100, length 28"
        ),
        "{text}"
    );
}

/// The real keepalived 2.2.7 (when installed) sends GARPs and NAs byte-identical to ours.
#[test]
fn keepalived_garp_and_na_match_our_frames() {
    let Some(lan) = Lan::new(2) else { return };
    if support::real_keepalived().is_none() {
        support::skip_or_fail(
            "keepalived_garp_and_na_match_our_frames",
            "keepalived 2.2.7 is not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(
        &conf,
        "vrrp_instance V4 {\n state MASTER\n interface eth0\n virtual_router_id 51\n \
         priority 200\n advert_int 1\n virtual_ipaddress { 192.0.2.100/32 }\n}\n\
         vrrp_instance V6 {\n state MASTER\n interface eth0\n virtual_router_id 52\n \
         priority 200\n advert_int 1\n virtual_ipaddress { 2001:db8::100/64 }\n}\n",
    )
    .unwrap();
    let mac = lan.mac(0);
    let want = [
        arp::garp_frame(mac, Ipv4Addr::new(192, 0, 2, 100)).to_vec(),
        arp::unsolicited_na_frame(mac, "2001:db8::100".parse().unwrap(), false).to_vec(),
    ];
    let (ready_tx, ready_rx) = mpsc::channel();
    let rx = lan.spawn_in(1, move || async move {
        let nl = Netlink::new().unwrap();
        let sock = PacketSocket::receiver(nl.ifindex("eth0").await.unwrap(), ETH_P_ALL).unwrap();
        ready_tx.send(()).unwrap();
        let mut seen = [false; 2];
        let mut buf = [0u8; 2048];
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while !seen.iter().all(|s| *s) {
                let n = sock.recv(&mut buf).await.unwrap();
                for (w, s) in want.iter().zip(seen.iter_mut()) {
                    *s |= buf[..n] == w[..];
                }
            }
        })
        .await;
        seen
    });
    ready_rx.recv_timeout(WAIT).expect("receiver not ready");
    let p = |s: &str| dir.path().join(s).display().to_string();
    let ka = Term(Some(lan.spawn(
        0,
        &[
            "/usr/sbin/keepalived",
            "-n",
            "-l",
            "-f",
            &p("keepalived.conf"),
            "-p",
            &p("k.pid"),
            "-r",
            &p("v.pid"),
        ],
    )));
    let seen = join(rx);
    let out = ka.stop();
    assert_eq!(
        seen,
        [true, true],
        "keepalived log:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stops a spawned daemon with SIGTERM (keepalived then stops its children and removes its
/// VIPs), also when the test panics.
struct Term(Option<std::process::Child>);

impl Term {
    fn stop(mut self) -> std::process::Output {
        let child = self.0.take().unwrap();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        child.wait_with_output().unwrap()
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = child.wait();
        }
    }
}

/// Our receive sockets accept the real keepalived's IPv4 and IPv6 multicast adverts, with the
/// header fields the VRRP checks need (TOS 0xc0, TTL/hop limit 255).
#[test]
fn keepalived_adverts_received_by_our_sockets() {
    let Some(lan) = Lan::new(2) else { return };
    if support::real_keepalived().is_none() {
        support::skip_or_fail(
            "keepalived_adverts_received_by_our_sockets",
            "keepalived 2.2.7 is not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("keepalived.conf"),
        "vrrp_instance V4 {\n state BACKUP\n interface eth0\n virtual_router_id 51\n \
         priority 200\n advert_int 1\n virtual_ipaddress { 192.0.2.100/32 }\n}\n\
         vrrp_instance V6 {\n state BACKUP\n interface eth0\n virtual_router_id 52\n \
         priority 200\n advert_int 1\n virtual_ipaddress { 2001:db8::100/64 }\n}\n",
    )
    .unwrap();
    let (ready_tx, ready_rx) = mpsc::channel();
    let rx = lan.spawn_in(1, move || async move {
        let nl = Netlink::new().unwrap();
        let idx = nl.ifindex("eth0").await.unwrap();
        let o = |g| SocketOptions {
            ifindex: idx,
            ifname: "eth0".into(),
            group: Some(g),
            local: None,
            unicast_hops: None,
            rcvbuf: None,
        };
        let s4 = VrrpSocket::receiver(false, &o(IpAddr::V4(VRRP_GROUP_V4))).unwrap();
        let s6 = VrrpSocket::receiver(true, &o(IpAddr::V6(VRRP_GROUP_V6))).unwrap();
        ready_tx.send(()).unwrap();
        let (mut b4, mut b6) = ([0u8; 1500], [0u8; 1500]);
        // Backups become master after the master-down interval (about 3.2 s).
        let long = Duration::from_secs(10);
        let r4 = tokio::time::timeout(long, s4.recv(&mut b4))
            .await
            .expect("no IPv4 advert")
            .unwrap();
        let r6 = tokio::time::timeout(long, s6.recv(&mut b6))
            .await
            .expect("no IPv6 advert")
            .unwrap();
        (
            r4.clone(),
            b4[..r4.len].to_vec(),
            r6.clone(),
            b6[..r6.len].to_vec(),
        )
    });
    ready_rx.recv_timeout(WAIT).expect("receiver not ready");
    let p = |s: &str| dir.path().join(s).display().to_string();
    let ka = Term(Some(lan.spawn(
        0,
        &[
            "/usr/sbin/keepalived",
            "-n",
            "-l",
            "-f",
            &p("keepalived.conf"),
            "-p",
            &p("k.pid"),
            "-r",
            &p("v.pid"),
        ],
    )));
    let (r4, p4, r6, p6) = join(rx);
    drop(ka);
    assert_eq!(
        (r4.src, r4.dst, r4.ttl),
        (ip("192.0.2.1"), IpAddr::V4(VRRP_GROUP_V4), 255)
    );
    assert_eq!(p4[1], 0xc0, "TOS");
    assert_eq!(p4[9], 112, "protocol");
    // VRRPv2 advert for VRID 51, priority 200, one address 192.0.2.100.
    assert_eq!(&p4[20..24], &[0x21, 51, 200, 1]);
    assert_eq!(&p4[28..32], &[192, 0, 2, 100]);
    assert_eq!(r6.dst, IpAddr::V6(VRRP_GROUP_V6));
    assert_eq!(r6.ttl, 255);
    assert!(
        matches!(r6.src, IpAddr::V6(a) if a.segments()[0] == 0xfe80),
        "{r6:?}"
    );
    // keepalived uses VRRPv3 for IPv6: version 3, type 1.
    assert_eq!(&p6[..4], &[0x31, 52, 200, 1]);
}

/// Multicast loop is off: a node does not receive its own adverts.
#[test]
fn own_multicast_adverts_not_looped_back() {
    let Some(lan) = Lan::new(2) else { return };
    let g = IpAddr::V4(VRRP_GROUP_V4);
    let src4 = lan.nodes[0].v4;
    let (own, peer) = {
        let (ready_tx, ready_rx) = mpsc::channel();
        let peer = lan.spawn_in(1, move || async move {
            let nl = Netlink::new().unwrap();
            let idx = nl.ifindex("eth0").await.unwrap();
            let o = SocketOptions {
                ifindex: idx,
                ifname: "eth0".into(),
                group: Some(g),
                local: None,
                unicast_hops: None,
                rcvbuf: None,
            };
            let r = VrrpSocket::receiver(false, &o).unwrap();
            ready_tx.send(()).unwrap();
            let mut buf = [0u8; 1500];
            tokio::time::timeout(WAIT, r.recv(&mut buf)).await.is_ok()
        });
        ready_rx.recv_timeout(WAIT).expect("peer not ready");
        let own = lan.run_in(0, move || async move {
            let nl = Netlink::new().unwrap();
            let idx = nl.ifindex("eth0").await.unwrap();
            let o = SocketOptions {
                ifindex: idx,
                ifname: "eth0".into(),
                group: Some(g),
                local: None,
                unicast_hops: None,
                rcvbuf: None,
            };
            let r = VrrpSocket::receiver(false, &o).unwrap();
            let s = VrrpSocket::sender(false, &o).unwrap();
            s.send_to(&ipv4_packet(src4, VRRP_GROUP_V4, &ADVERT), g)
                .await
                .unwrap();
            let mut buf = [0u8; 1500];
            // The peer gets it (checked below), so half a second is ample for a local copy.
            tokio::time::timeout(Duration::from_millis(500), r.recv(&mut buf))
                .await
                .is_ok()
        });
        (own, join(peer))
    };
    assert!(peer, "the peer received the advert");
    assert!(!own, "the sender's own receive socket got its advert back");
}

#[test]
fn nftables_firewall_builds_keepalived_layout_and_removes_it() {
    use keepalived::net::nft::{DropEntry, Family, Firewall, FwConfig, VmacEntry};
    let Some(lan) = Lan::new(1) else { return };
    let (tx, rx) = mpsc::channel();
    let h = lan.spawn_in(0, move || async move {
        let ifindex = Netlink::new().unwrap().ifindex("eth0").await.unwrap();
        let mut fw = Firewall::new(FwConfig::default());
        let e = |a: &str| DropEntry {
            addr: a.parse().unwrap(),
            ifindex,
            ifname: "eth0".into(),
        };
        fw.set_drops(
            "VI_1",
            vec![e("192.0.2.100"), e("fe80::52"), e("2001:db8::200")],
        )
        .unwrap();
        fw.set_vmacs(vec![VmacEntry {
            fam: Family::Ip,
            vmac: ifindex,
            base: 1,
        }])
        .unwrap();
        tx.send("set").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        fw.set_drops("VI_1", Vec::new()).unwrap();
        tx.send("empty").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        fw.close().unwrap();
    });
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "set");
    let full = lan.nft_ruleset(0);
    // What keepalived 2.2.7 lists for a MASTER with vrrp_strict (captured with its nft).
    for want in [
        "table ip keepalived {",
        "\tset vips {\n\t\ttype ipv4_addr\n\t\telements = { 192.0.2.100 }\n\t}",
        "\t\ttype filter hook output priority filter - 1; policy accept;",
        "\t\tip saddr @vips drop",
        "\t\tip daddr @vips drop",
        "\t\tip protocol igmp meta oifkind \"macvlan\" dup to ip daddr device oif map @vmac_map drop",
        "\tmap vmac_map {\n\t\ttype iface_index : iface_index\n\t\telements = { \"eth0\" : \"lo\" }\n\t}",
        "table ip6 keepalived {",
        "\t\telements = { 2001:db8::200 }",
        "\tset neighbor-discovery {\n\t\ttype icmpv6_type\n\t\tflags constant\n\t\telements = { nd-neighbor-solicit,\n\t\t\t     nd-neighbor-advert }\n\t}",
        "\tset vips_link_local {\n\t\ttype ipv6_addr . iface_index\n\t\telements = { fe80::52 . \"eth0\" }\n\t}",
        "\t\ticmpv6 type @neighbor-discovery accept\n\t\tip6 saddr fe80::/10 goto out_link_local\n\t\tip6 saddr @vips drop",
        "\t\ticmpv6 type @neighbor-discovery accept\n\t\tip6 daddr fe80::/10 goto in_link_local\n\t\tip6 daddr @vips drop",
        "\tchain in_link_local {\n\t\tip6 daddr . iif @vips_link_local drop\n\t}",
        "\tchain out_link_local {\n\t\tip6 saddr . oif @vips_link_local drop\n\t}",
    ] {
        assert!(full.contains(want), "missing {want:?} in\n{full}");
    }
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "empty");
    let empty = lan.nft_ruleset(0);
    assert!(!empty.contains("elements = { 192.0.2.100"), "{empty}");
    assert!(
        empty.contains("\tset vips {\n\t\ttype ipv4_addr\n\t}"),
        "{empty}"
    );
    join(h);
    assert_eq!(lan.nft_ruleset(0), "", "tables removed at close");
}

/// `nft list ruleset` of keepalived 2.2.7 for `nftables_ipvs` with group G1 (TCP:
/// 192.0.2.10-12 80, 192.0.2.20 80) and G2 (UDP: 2001:db8::10-12 53, 2001:db8::20 53,
/// 192.0.2.30/31 443), captured in the IPVS test VM (tests/ipvs.rs).
const KEEPALIVED_IPVS_RULESET: &str = "table ip keepalived_ipvs {
\tmap tcp_map {
\t\ttype ipv4_addr . inet_service : mark
\t\tflags interval
\t\telements = { 192.0.2.10-192.0.2.12 . 80 : 0x000003e8,
\t\t\t     192.0.2.20 . 80 : 0x000003e8 }
\t}
\tmap udp_map {
\t\ttype ipv4_addr . inet_service : mark
\t\tflags interval
\t\telements = { 192.0.2.30/31 . 443 : 0x000003e9 }
\t}
\tchain in {
\t\ttype filter hook input priority filter - 1; policy accept;
\t\tmeta mark set ip daddr . tcp dport map @tcp_map return
\t\tmeta mark set ip daddr . udp dport map @udp_map return
\t}
}
table ip6 keepalived_ipvs {
\tmap udp_map {
\t\ttype ipv6_addr . inet_service : mark
\t\tflags interval
\t\telements = { 2001:db8::10-2001:db8::12 . 53 : 0x000003e9,
\t\t\t     2001:db8::20 . 53 : 0x000003e9 }
\t}
\tchain in {
\t\ttype filter hook input priority filter - 1; policy accept;
\t\tmeta mark set ip6 daddr . udp dport map @udp_map return
\t}
}";

#[test]
fn nftables_ipvs_marks_group_ranges_as_keepalived() {
    use keepalived::net::nft::ipvs::{IpvsFirewall, IpvsFwConfig, MarkEntry, L4};
    let Some(lan) = Lan::new(1) else { return };
    let (tx, rx) = mpsc::channel();
    let (back_tx, back_rx) = mpsc::channel::<()>();
    let h = lan.spawn_in(0, move || async move {
        let e = |first: &str, last: &str, port, proto, mark| MarkEntry {
            first: first.parse().unwrap(),
            last: last.parse().unwrap(),
            port,
            proto,
            mark,
        };
        let all = vec![
            e("192.0.2.10", "192.0.2.12", 80, L4::Tcp, 1000),
            e("192.0.2.20", "192.0.2.20", 80, L4::Tcp, 1000),
            e("2001:db8::10", "2001:db8::12", 53, L4::Udp, 1001),
            e("2001:db8::20", "2001:db8::20", 53, L4::Udp, 1001),
            e("192.0.2.30", "192.0.2.31", 443, L4::Udp, 1001),
        ];
        let mut fw = IpvsFirewall::new(IpvsFwConfig::default());
        fw.set_entries(&all).unwrap();
        tx.send("set").unwrap();
        back_rx.recv().unwrap();
        // an entry removed and one added: only those elements change
        let mut less = all.clone();
        less.remove(1);
        less.push(e("192.0.2.21", "192.0.2.21", 80, L4::Tcp, 1000));
        fw.set_entries(&less).unwrap();
        tx.send("changed").unwrap();
        back_rx.recv().unwrap();
        fw.close().unwrap();
        // table name, priority and counters as configured
        let mut fw = IpvsFirewall::new(IpvsFwConfig {
            table: "mytab".into(),
            priority: 5,
            counters: true,
        });
        fw.set_entries(&all[..1]).unwrap();
        tx.send("counters").unwrap();
        back_rx.recv().unwrap();
        fw.close().unwrap();
    });
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "set");
    assert_eq!(lan.nft_ruleset(0), KEEPALIVED_IPVS_RULESET);
    let handles = lan.must(0, &["nft", "-a", "list", "table", "ip6", "keepalived_ipvs"]);
    back_tx.send(()).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "changed");
    let now = lan.nft_ruleset(0);
    assert!(
        now.contains("elements = { 192.0.2.10-192.0.2.12 . 80 : 0x000003e8,\n\t\t\t     192.0.2.21 . 80 : 0x000003e8 }"),
        "{now}"
    );
    assert_eq!(
        lan.must(0, &["nft", "-a", "list", "table", "ip6", "keepalived_ipvs"]),
        handles,
        "the untouched table keeps its handles"
    );
    back_tx.send(()).unwrap();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "counters");
    // keepalived 2.2.7 with nftables_ipvs mytab, nftables_ipvs_priority 5, nftables_counters
    assert_eq!(
        lan.nft_ruleset(0),
        "table ip mytab {
\tmap tcp_map {
\t\ttype ipv4_addr . inet_service : mark
\t\tflags interval
\t\tcounter
\t\telements = { 192.0.2.10-192.0.2.12 . 80 counter packets 0 bytes 0 : 0x000003e8 }
\t}
\tchain in {
\t\ttype filter hook input priority filter + 5; policy accept;
\t\tmeta mark set ip daddr . tcp dport map @tcp_map counter packets 0 bytes 0 return
\t}
}"
    );
    back_tx.send(()).unwrap();
    join(h);
    assert_eq!(lan.nft_ruleset(0), "", "tables removed at close");
}
