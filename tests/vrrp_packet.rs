//! VRRP packets captured from keepalived 2.2.7 (tests/data/vrrp/README.md): decode them to the
//! right fields, validate them as the receiving instance would, and re-encode them to the
//! identical bytes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use keepalived::vrrp::auth::password_field;
use keepalived::vrrp::packet::*;
use proptest::prelude::*;

fn load(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/vrrp/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let hex: String = text.split_whitespace().collect();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn v4(a: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, a))
}

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const LL_A: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0xa);

fn expect<'a>(version: u8, auth: ExpectAuth, secs_cs: Duration, vips: &'a [IpAddr]) -> Expect<'a> {
    Expect {
        version,
        auth,
        adver_int: secs_cs,
        vips,
        unicast_peers: &[],
        check_unicast_src: false,
        skip_check_adv_addr: false,
        last_master: None,
        strict: false,
        unicast_checksum: UnicastChecksum::Detect,
        mcast_group4: MCAST_GROUP_V4,
        v3_checksum_as_v2: false,
    }
}

fn advert(version: u8, vrid: u8, prio: u8, int: u16, addrs: Vec<IpAddr>) -> Advert {
    Advert {
        version,
        kind: TYPE_ADVERT,
        vrid,
        priority: prio,
        adver_int: int,
        auth_type: AuthType::None,
        auth_data: [0; 8],
        addresses: addrs,
    }
}

fn ipp(dst: Ipv4Addr, id: u16) -> Ipv4Params {
    Ipv4Params {
        src: SRC,
        dst,
        id,
        ttl: 255,
        fill_checksum: true,
        checksum_dst: None,
        v3_checksum_as_v2: false,
    }
}

fn encode_v4(a: &Advert, ip: &Ipv4Params, ah: Option<&AhParams>) -> Vec<u8> {
    let mut buf = vec![0u8; a.ipv4_len()];
    assert_eq!(a.emit_ipv4(&mut buf, ip, ah), Ok(a.ipv4_len()));
    buf
}

/// Splits a captured IPv6 packet into what the receive socket hands us.
fn v6_received(pkt: &[u8]) -> Received<'_> {
    let src: [u8; 16] = pkt[8..24].try_into().unwrap();
    let dst: [u8; 16] = pkt[24..40].try_into().unwrap();
    assert_eq!(pkt[6], 112, "next header");
    Received::V6 {
        payload: &pkt[40..],
        src: src.into(),
        dst: dst.into(),
        hop_limit: Some(pkt[7]),
    }
}

#[test]
fn v2_none() {
    let pkt = load("v2_none");
    let vips = [v4(100), v4(101)];
    let ok = receive(
        Received::V4(&pkt),
        &expect(2, ExpectAuth::None, Duration::from_secs(1), &vips),
    )
    .unwrap();
    let want = advert(2, 51, 100, 1, vips.to_vec());
    assert_eq!(ok.advert, want);
    assert_eq!(ok.advert.interval(), Duration::from_secs(1));
    assert_eq!((ok.src, ok.ttl, ok.addr_warning), (v4(1), Some(255), None));
    let parsed = parse(Received::V4(&pkt)).unwrap();
    assert!(parsed.ip_checksum_ok());
    assert_eq!(
        (parsed.vrid(), parsed.priority(), parsed.version()),
        (51, 100, 2)
    );
    let ip = parsed.ip.unwrap();
    assert_eq!(
        (ip.tos, ip.id, ip.flags_frag, ip.protocol),
        (0xc0, 1, 0, 112)
    );
    let unsummed = encode_v4(
        &want,
        &Ipv4Params {
            fill_checksum: false,
            ..ipp(MCAST_GROUP_V4, 1)
        },
        None,
    );
    assert_eq!(&unsummed[10..12], &[0, 0]);
    assert!(!parse(Received::V4(&unsummed)).unwrap().ip_checksum_ok());
    assert_eq!(encode_v4(&want, &ipp(MCAST_GROUP_V4, 1), None), pkt);
    // The priority-0 advert sent at shutdown (IP ID 7).
    let prio0 = load("v2_none_prio0");
    let a0 = Advert {
        priority: 0,
        ..want
    };
    assert_eq!(encode_v4(&a0, &ipp(MCAST_GROUP_V4, 7), None), prio0);
}

#[test]
fn incremental_priority_update_matches_keepalived() {
    for (name, hdr) in [
        ("v2_none", 20),
        ("v2_pass", 20),
        ("v3_ipv4", 20),
        ("v3_unicast", 20),
        ("v3_ipv6", 40),
    ] {
        let pkt = load(name);
        let zero = load(&format!("{name}_prio0"));
        let mut msg = pkt[hdr..].to_vec();
        assert!(update_priority(&mut msg, 0));
        assert_eq!(msg, zero[hdr..], "{name}");
    }
    assert!(!update_priority(&mut [0u8; 7], 1));
}

#[test]
fn v2_pass() {
    let pkt = load("v2_pass");
    let vips = [v4(110)];
    let pw = password_field("secret12");
    let exp = expect(2, ExpectAuth::Pass(pw), Duration::from_secs(2), &vips);
    let ok = receive(Received::V4(&pkt), &exp).unwrap();
    let want = Advert {
        auth_type: AuthType::Pass,
        auth_data: pw,
        ..advert(2, 52, 150, 2, vips.to_vec())
    };
    assert_eq!(ok.advert, want);
    assert_eq!(encode_v4(&want, &ipp(MCAST_GROUP_V4, 1), None), pkt);

    let wrong = expect(
        2,
        ExpectAuth::Pass(password_field("secret13")),
        Duration::from_secs(2),
        &vips,
    );
    let err = receive(Received::V4(&pkt), &wrong).unwrap_err();
    assert_eq!(err, DropReason::BadPassword);
    assert_eq!(
        err.log_message("VI_1").unwrap(),
        "(VI_1) received an invalid passwd!"
    );
    assert_eq!(err.counter().map(StatCounter::name), Some("auth_failure"));

    let none = expect(2, ExpectAuth::None, Duration::from_secs(2), &vips);
    let err = receive(Received::V4(&pkt), &none).unwrap_err();
    assert_eq!(
        err,
        DropReason::AuthTypeMismatch {
            received: 1,
            expected: 0
        }
    );
    assert_eq!(
        err.log_message("X").unwrap(),
        "(X) received a 1 auth, expecting 0!"
    );
    assert_eq!(
        err.counter().map(StatCounter::name),
        Some("authtype_mismatch")
    );

    let slow = expect(2, ExpectAuth::Pass(pw), Duration::from_secs(1), &vips);
    let err = receive(Received::V4(&pkt), &slow).unwrap_err();
    assert_eq!(
        err.log_message("X").unwrap(),
        "(X) advertisement interval mismatch mine=1 sec rcv'd=2 sec"
    );
    // keepalived 2.2.7 does not count it (observed in keepalived.stats).
    assert_eq!(err.counter(), None);
}

#[test]
fn v2_ah() {
    let key = password_field("ahpass");
    let vips = [v4(120), v4(121)];
    let want = Advert {
        auth_type: AuthType::Ah,
        ..advert(2, 53, 200, 1, vips.to_vec())
    };
    for (name, seq, prio) in [
        ("v2_ah", 1, 200),
        ("v2_ah_seq2", 2, 200),
        ("v2_ah_prio0", 7, 0),
    ] {
        let pkt = load(name);
        let exp = expect(
            2,
            ExpectAuth::Ah {
                key,
                last_seq: seq - 1,
            },
            Duration::from_secs(1),
            &vips,
        );
        let ok = receive(Received::V4(&pkt), &exp).unwrap();
        let a = Advert {
            priority: prio,
            ..want.clone()
        };
        assert_eq!(ok.advert, a);
        assert_eq!(ok.ah_seq, Some(seq));
        let ah = AhParams {
            key,
            seq,
            zero_ttl: false,
        };
        assert_eq!(
            encode_v4(&a, &ipp(MCAST_GROUP_V4, seq as u16), Some(&ah)),
            pkt,
            "{name}"
        );

        // Replay, wrong key, mutated packet, no AH expected.
        let replay = Expect {
            auth: ExpectAuth::Ah { key, last_seq: seq },
            ..exp
        };
        let err = receive(Received::V4(&pkt), &replay).unwrap_err();
        assert_eq!(err, DropReason::AhSeq { seq, local: seq });
        assert_eq!(
            err.log_message("X").unwrap(),
            format!("(X) IPSEC-AH : sequence number {seq} already processed. Packet dropped. Local({seq})")
        );
        let bad_key = Expect {
            auth: ExpectAuth::Ah {
                key: password_field("ahpasS"),
                last_seq: 0,
            },
            ..exp
        };
        assert_eq!(
            receive(Received::V4(&pkt), &bad_key),
            Err(DropReason::AhIcv)
        );
        let mut mutated = pkt.clone();
        let last = mutated.len() - 9;
        mutated[last] ^= 1; // inside the last VIP
        assert_eq!(
            receive(Received::V4(&mutated), &exp),
            Err(DropReason::AhIcv)
        );
        // TOS and TTL are mutable fields: not covered by the ICV, but the TTL is still
        // checked (multicast).
        let mut tos = pkt.clone();
        tos[1] = 0;
        assert!(receive(Received::V4(&tos), &exp).is_ok());
        let none = expect(2, ExpectAuth::None, Duration::from_secs(1), &vips);
        assert_eq!(
            receive(Received::V4(&pkt), &none),
            Err(DropReason::AhUnexpected)
        );
    }
    // An AH-expecting instance receiving a plain advert.
    let plain = load("v2_none");
    let exp = expect(
        2,
        ExpectAuth::Ah { key, last_seq: 0 },
        Duration::from_secs(1),
        &vips,
    );
    let err = receive(Received::V4(&plain), &exp).unwrap_err();
    assert_eq!(
        err.log_message("X").unwrap(),
        "(X) No AH header but auth type is AH"
    );
}

#[test]
fn v2_unicast_ah_zeroes_ttl_in_icv() {
    let pkt = load("v2_unicast_ah");
    let key = password_field("unipw");
    let vips = [v4(141)];
    let peers = [UnicastPeer {
        addr: IpAddr::V4(SRC),
        min_ttl: 0,
        max_ttl: 255,
    }];
    let exp = Expect {
        unicast_peers: &peers,
        check_unicast_src: true,
        ..expect(
            2,
            ExpectAuth::Ah { key, last_seq: 0 },
            Duration::from_secs(1),
            &vips,
        )
    };
    let ok = receive(Received::V4(&pkt), &exp).unwrap();
    let a = Advert {
        auth_type: AuthType::Ah,
        ..advert(2, 71, 120, 1, vips.to_vec())
    };
    assert_eq!(ok.advert, a);
    // TTL is not covered for unicast.
    let mut ttl = pkt.clone();
    ttl[8] = 64;
    ttl[10..12].copy_from_slice(&[0, 0]);
    assert!(receive(Received::V4(&ttl), &exp).is_ok());
    let ah = AhParams {
        key,
        seq: 1,
        zero_ttl: true,
    };
    assert_eq!(encode_v4(&a, &ipp(PEER, 1), Some(&ah)), pkt);
    // The same packet checked as if multicast-keyed (TTL included) fails.
    let ah_mc = AhParams {
        zero_ttl: false,
        ..ah
    };
    assert_ne!(encode_v4(&a, &ipp(PEER, 1), Some(&ah_mc)), pkt);
}

#[test]
fn v3_ipv4() {
    let pkt = load("v3_ipv4");
    let vips = [v4(130), v4(131)];
    // v3 interval differences are not an error (the backup adopts the master's).
    let exp = expect(3, ExpectAuth::None, Duration::from_secs(1), &vips);
    let ok = receive(Received::V4(&pkt), &exp).unwrap();
    let want = advert(3, 60, 150, 50, vips.to_vec());
    assert_eq!(ok.advert, want);
    assert_eq!(ok.advert.interval(), Duration::from_millis(500));
    assert_eq!(encode_v4(&want, &ipp(MCAST_GROUP_V4, 1), None), pkt);

    let v2 = expect(2, ExpectAuth::None, Duration::from_secs(1), &vips);
    let err = receive(Received::V4(&pkt), &v2).unwrap_err();
    assert_eq!(
        err.log_message("VI_1").unwrap(),
        "(VI_1) wrong version. Received 3 and expect 2"
    );
    let mut bad = pkt.clone();
    bad[27] ^= 0x40;
    let err = receive(Received::V4(&bad), &exp).unwrap_err();
    assert_eq!(err.log_message("X").unwrap(), "(X) Invalid VRRPv3 checksum");
}

#[test]
fn v3_ipv6() {
    let pkt = load("v3_ipv6");
    let vips = [
        "fe80::62".parse::<IpAddr>().unwrap(),
        "2001:db8::62".parse().unwrap(),
    ];
    let exp = expect(3, ExpectAuth::None, Duration::from_secs(1), &vips);
    let ok = receive(v6_received(&pkt), &exp).unwrap();
    let want = advert(3, 62, 150, 100, vips.to_vec());
    assert_eq!(ok.advert, want);
    assert_eq!(ok.src, IpAddr::V6(LL_A));
    let mut buf = vec![0u8; want.vrrp_len(Family::V6)];
    let ep = Endpoints::V6 {
        src: LL_A,
        dst: MCAST_GROUP_V6,
    };
    assert_eq!(want.emit_vrrp(&mut buf, &ep), Ok(buf.len()));
    assert_eq!(buf, pkt[40..]);

    // Hop limit must be 255 for multicast.
    let Received::V6 {
        payload, src, dst, ..
    } = v6_received(&pkt)
    else {
        unreachable!()
    };
    let rx = Received::V6 {
        payload,
        src,
        dst,
        hop_limit: Some(1),
    };
    let err = receive(rx, &exp).unwrap_err();
    assert_eq!(
        err.log_message("X").unwrap(),
        "(X) invalid TTL/HL. Received 1 and expect 255"
    );
    assert_eq!(err.counter().map(StatCounter::name), Some("ip_ttl_err"));
}

#[test]
fn v2_unicast() {
    let pkt = load("v2_unicast");
    let vips = [v4(140)];
    let peers = [UnicastPeer {
        addr: IpAddr::V4(SRC),
        min_ttl: 0,
        max_ttl: 255,
    }];
    let exp = Expect {
        unicast_peers: &peers,
        ..expect(2, ExpectAuth::None, Duration::from_secs(1), &vips)
    };
    let ok = receive(Received::V4(&pkt), &exp).unwrap();
    let want = advert(2, 70, 120, 1, vips.to_vec());
    assert_eq!(ok.advert, want);
    assert_eq!(encode_v4(&want, &ipp(PEER, 1), None), pkt);

    // Multicast instance receiving a unicast advert.
    let mc = expect(2, ExpectAuth::None, Duration::from_secs(1), &vips);
    let err = receive(Received::V4(&pkt), &mc).unwrap_err();
    assert_eq!(
        err.log_message("X").unwrap(),
        "(X) Expected multicast packet but received unicast packet"
    );
    assert_eq!(err.counter().map(StatCounter::name), Some("addr_list_err"));

    // check_unicast_src: unknown source, TTL range.
    let other = [UnicastPeer {
        addr: v4(9),
        ..peers[0]
    }];
    let strict_src = Expect {
        unicast_peers: &other,
        check_unicast_src: true,
        ..exp
    };
    let err = receive(Received::V4(&pkt), &strict_src).unwrap_err();
    assert_eq!(
        err.log_message("X").unwrap(),
        "(X) unicast source address 192.0.2.1 not a unicast peer"
    );
    let ranged = [UnicastPeer {
        min_ttl: 10,
        max_ttl: 64,
        ..peers[0]
    }];
    let ttl_range = Expect {
        unicast_peers: &ranged,
        check_unicast_src: true,
        ..exp
    };
    let err = receive(Received::V4(&pkt), &ttl_range).unwrap_err();
    assert_eq!(
        err.log_message("X").unwrap(),
        "(X) TTL/HL 255 not in range 10 - 64"
    );
    // ...but not checked for the current master with skip_check_adv_addr.
    let skip = Expect {
        skip_check_adv_addr: true,
        last_master: Some(IpAddr::V4(SRC)),
        ..ttl_range
    };
    assert!(receive(Received::V4(&pkt), &skip).is_ok());
}

#[test]
fn v3_unicast_checksum_uses_peer_and_detects_old_algorithm() {
    let pkt = load("v3_unicast");
    let vips = [v4(142)];
    let peers = [UnicastPeer {
        addr: IpAddr::V4(SRC),
        min_ttl: 0,
        max_ttl: 255,
    }];
    let exp = Expect {
        unicast_peers: &peers,
        ..expect(3, ExpectAuth::None, Duration::from_secs(1), &vips)
    };
    let ok = receive(Received::V4(&pkt), &exp).unwrap();
    let want = advert(3, 72, 130, 100, vips.to_vec());
    assert_eq!(ok.advert, want);
    assert!(!ok.old_checksum_detected);
    assert_eq!(encode_v4(&want, &ipp(PEER, 1), None), pkt);

    // A keepalived <= 1.3.6 peer: pseudo-header dst = multicast group.
    let old_ip = Ipv4Params {
        checksum_dst: Some(MCAST_GROUP_V4),
        ..ipp(PEER, 1)
    };
    let old = encode_v4(&want, &old_ip, None);
    assert_ne!(old, pkt);
    let ok = receive(Received::V4(&old), &exp).unwrap();
    assert!(ok.old_checksum_detected);
    let never = Expect {
        unicast_checksum: UnicastChecksum::Never,
        ..exp
    };
    assert_eq!(
        receive(Received::V4(&old), &never),
        Err(DropReason::Checksum { version: 3 })
    );
    let forced = Expect {
        unicast_checksum: UnicastChecksum::Old,
        ..exp
    };
    assert!(receive(Received::V4(&old), &forced).is_ok());
    assert!(receive(Received::V4(&pkt), &forced).is_err());
}

/// keepalived 2.2.8's `v3_checksum_as_v2`: a VRRPv3 IPv4 checksum over the message alone,
/// as VRRPv2 computes it (no pseudo-header); such an instance accepts both forms.
#[test]
fn v3_checksum_as_v2_leaves_out_the_pseudo_header() {
    let vips = [v4(100)];
    let a = advert(3, 51, 100, 100, vips.to_vec());
    let as_v2 = Ipv4Params {
        v3_checksum_as_v2: true,
        ..ipp(MCAST_GROUP_V4, 1)
    };
    let pkt = encode_v4(&a, &as_v2, None);
    // version 3 / advert, VRID 51, priority 100, 1 address, 100 cs, checksum, 192.0.2.100:
    // ~(0x3133 + 0x6401 + 0x0064 + 0xc000 + 0x0264) = 0xa802
    assert_eq!(
        &pkt[20..],
        &[0x31, 0x33, 0x64, 0x01, 0x00, 0x64, 0xa8, 0x02, 192, 0, 2, 100]
    );
    let standard = encode_v4(&a, &ipp(MCAST_GROUP_V4, 1), None);
    assert_ne!(standard[26..28], pkt[26..28]);
    // the rest of the packet is the same
    assert_eq!(standard[..26], pkt[..26]);

    let exp = expect(3, ExpectAuth::None, Duration::from_secs(1), &vips);
    assert_eq!(
        receive(Received::V4(&pkt), &exp),
        Err(DropReason::Checksum { version: 3 })
    );
    let exp_v2 = Expect {
        v3_checksum_as_v2: true,
        ..exp
    };
    assert_eq!(receive(Received::V4(&pkt), &exp_v2).unwrap().advert, a);
    assert_eq!(receive(Received::V4(&standard), &exp_v2).unwrap().advert, a);
    // a corrupted advert is still dropped (keepalived 2.2.8 would take it)
    let mut bad = pkt.clone();
    bad[27] ^= 1;
    assert_eq!(
        receive(Received::V4(&bad), &exp_v2),
        Err(DropReason::Checksum { version: 3 })
    );
    // the incremental priority update keeps it valid
    let mut lower = pkt.clone();
    assert!(update_priority(&mut lower[20..], 0));
    assert_eq!(
        receive(Received::V4(&lower), &exp_v2)
            .unwrap()
            .advert
            .priority,
        0
    );
    assert!(receive(Received::V4(&lower), &exp).is_err());
    // VRRPv2 and IPv6 are unchanged by the flag
    let v2 = advert(2, 51, 100, 1, vips.to_vec());
    assert_eq!(
        encode_v4(&v2, &as_v2, None),
        encode_v4(&v2, &ipp(MCAST_GROUP_V4, 1), None)
    );
}

/// Every drop in 's order, from mutations of one good v2 packet.
#[test]
fn drop_reasons_in_order() {
    let pkt = load("v2_none");
    let vips = [v4(100), v4(101)];
    let exp = expect(2, ExpectAuth::None, Duration::from_secs(1), &vips);
    let check = |p: &[u8], e: &Expect<'_>, log: &str, counter: Option<&str>| {
        let err = receive(Received::V4(p), e).unwrap_err();
        assert_eq!(err.log_message("X").as_deref(), Some(log), "{err:?}");
        assert_eq!(err.counter().map(StatCounter::name), counter, "{err:?}");
    };
    check(
        &pkt[..27],
        &exp,
        "IPv4 VRRP packet too short - 27 bytes",
        None,
    );
    let mut ah_short = pkt.clone();
    ah_short[9] = IPPROTO_AH;
    check(
        &ah_short[..40],
        &exp,
        "IPv4 VRRP packet with AH too short - 40 bytes",
        None,
    );
    check(
        &pkt[..43],
        &exp,
        "(X) vrrp packet too short, length 43 and expect 44",
        Some("packet_len_err"),
    );
    let mut long = pkt.clone();
    long.push(0);
    check(
        &long,
        &exp,
        "(X) vrrp packet too long, length 45 and expect 44",
        Some("packet_len_err"),
    );
    let mut ttl = pkt.clone();
    ttl[8] = 254;
    check(
        &ttl,
        &exp,
        "(X) invalid TTL/HL. Received 254 and expect 255",
        Some("ip_ttl_err"),
    );
    let mut auth = pkt.clone();
    auth[24] = 3;
    check(
        &auth,
        &exp,
        "(X) Invalid auth type: 3",
        Some("invalid_authtype"),
    );
    let mut kind = pkt.clone();
    kind[20] = 0x22;
    check(
        &kind,
        &exp,
        "(X) Invalid packet type. 2 and expect 1",
        Some("invalid_type_rcvd"),
    );
    let mut totlen = pkt.clone();
    totlen[3] = 45;
    check(
        &totlen,
        &exp,
        "(X) ip_tot_len mismatch against received length. 45 and received 44",
        Some("packet_len_err"),
    );
    let mut sum = pkt.clone();
    sum[26] ^= 1;
    check(&sum, &exp, "(X) Invalid VRRPv2 checksum", None);

    // Address list: strict drops, otherwise a warning on an accepted advert.
    let one = [v4(100)];
    let exp_one = expect(2, ExpectAuth::None, Duration::from_secs(1), &one);
    let strict = Expect {
        strict: true,
        ..exp_one
    };
    check(
        &pkt,
        &strict,
        "(X) received an unexpected ip number count 2, expected 1!",
        Some("addr_list_err"),
    );
    let ok = receive(Received::V4(&pkt), &exp_one).unwrap();
    assert_eq!(
        ok.addr_warning,
        Some(DropReason::AddrCount {
            received: 2,
            expected: 1
        })
    );
    let other = [v4(100), v4(102)];
    let exp_other = expect(2, ExpectAuth::None, Duration::from_secs(1), &other);
    let ok = receive(Received::V4(&pkt), &exp_other).unwrap();
    let warn = ok.addr_warning.unwrap();
    assert_eq!(
        warn.log_message("X").unwrap(),
        "(X) ip address associated with VRID 51 not present in MASTER advert: 192.0.2.102"
    );
    assert!(warn.counts_as_received());
    let strict_other = Expect {
        strict: true,
        ..exp_other
    };
    check(
        &pkt,
        &strict_other,
        "(X) ip address associated with VRID 51 not present in MASTER advert: 192.0.2.102",
        Some("addr_list_err"),
    );
    // skip_check_adv_addr with the same master: no address checks at all.
    let skip = Expect {
        strict: true,
        skip_check_adv_addr: true,
        last_master: Some(v4(1)),
        ..exp_other
    };
    assert!(receive(Received::V4(&pkt), &skip)
        .unwrap()
        .addr_warning
        .is_none());
}

#[test]
fn emit_errors_never_panic() {
    let a = advert(2, 1, 100, 1, vec![v4(1)]);
    let ep = Endpoints::V4 {
        src: SRC,
        dst: MCAST_GROUP_V4,
    };
    for n in 0..a.vrrp_len(Family::V4) {
        assert_eq!(
            a.emit_vrrp(&mut vec![0; n], &ep),
            Err(EmitError::BufferTooShort { needed: 20, got: n })
        );
    }
    let six = Endpoints::V6 {
        src: LL_A,
        dst: MCAST_GROUP_V6,
    };
    assert_eq!(
        a.emit_vrrp(&mut [0; 64], &six),
        Err(EmitError::AddressFamily)
    );
    let many = advert(3, 1, 100, 100, vec![v4(1); 256]);
    assert_eq!(
        many.emit_vrrp(&mut vec![0; 2048], &ep),
        Err(EmitError::TooManyAddresses)
    );
    let slow = advert(3, 1, 100, 4096, vec![]);
    assert_eq!(slow.emit_vrrp(&mut [0; 8], &ep), Err(EmitError::Interval));
    let ah = Advert {
        auth_type: AuthType::Ah,
        ..advert(2, 1, 100, 1, vec![])
    };
    assert_eq!(
        ah.emit_ipv4(&mut [0; 64], &ipp(PEER, 1), None),
        Err(EmitError::MissingAhParams)
    );
    let slow2 = advert(2, 1, 100, 256, vec![]);
    assert_eq!(slow2.emit_vrrp(&mut [0; 16], &ep), Err(EmitError::Interval));
}

fn arb_advert() -> impl Strategy<Value = (Advert, bool)> {
    (
        prop_oneof![Just(2u8), Just(3u8)],
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
        prop_oneof![Just(0u8), Just(1u8)],
        any::<[u8; 8]>(),
        any::<bool>(),
        prop::collection::vec(any::<[u8; 16]>(), 0..40),
    )
        .prop_map(|(version, vrid, priority, int, auth, data, v6, raw)| {
            let addresses = raw
                .into_iter()
                .map(|o| {
                    if v6 {
                        IpAddr::from(o)
                    } else {
                        IpAddr::from([o[0], o[1], o[2], o[3]])
                    }
                })
                .collect();
            let (adver_int, auth_type, auth_data) = if version == 2 {
                let pass = auth == 1 && !v6;
                (
                    int % 256,
                    if pass { AuthType::Pass } else { AuthType::None },
                    if pass { data } else { [0; 8] },
                )
            } else {
                (int % 4096, AuthType::None, [0; 8])
            };
            (
                Advert {
                    version,
                    kind: TYPE_ADVERT,
                    vrid,
                    priority,
                    adver_int,
                    auth_type,
                    auth_data,
                    addresses,
                },
                v6,
            )
        })
}

proptest! {
    #[test]
    fn round_trip_validates((a, v6) in arb_advert(), prio in any::<u8>(), id in 1u16..) {
        let auth = match a.auth_type {
            AuthType::Pass => ExpectAuth::Pass(a.auth_data),
            _ => ExpectAuth::None,
        };
        let int = if a.version == 2 { a.interval() } else { Duration::from_secs(1) };
        let exp = Expect { strict: true, ..expect(a.version, auth, int, &a.addresses) };
        if v6 {
            let ep = Endpoints::V6 { src: LL_A, dst: MCAST_GROUP_V6 };
            let mut buf = vec![0u8; a.vrrp_len(Family::V6)];
            prop_assert_eq!(a.emit_vrrp(&mut buf, &ep), Ok(buf.len()));
            let rx = Received::V6 { payload: &buf, src: LL_A, dst: MCAST_GROUP_V6, hop_limit: Some(255) };
            let ok = receive(rx, &exp).unwrap();
            prop_assert_eq!(&ok.advert, &a);
            // The kernel's IPv6 checksum: the whole message with pseudo-header sums to 0.
            let mut again = buf.clone();
            prop_assert!(update_priority(&mut again, prio));
            let b = Advert { priority: prio, ..a.clone() };
            let mut fresh = vec![0u8; b.vrrp_len(Family::V6)];
            b.emit_vrrp(&mut fresh, &ep).unwrap();
            prop_assert_eq!(again, fresh);
        } else {
            let buf = encode_v4(&a, &ipp(MCAST_GROUP_V4, id), None);
            let ok = receive(Received::V4(&buf), &exp).unwrap();
            prop_assert_eq!(&ok.advert, &a);
            // Incremental priority update gives the same bytes as a fresh encode.
            let mut again = buf.clone();
            prop_assert!(update_priority(&mut again[20..], prio));
            let b = Advert { priority: prio, ..a.clone() };
            prop_assert_eq!(again, encode_v4(&b, &ipp(MCAST_GROUP_V4, id), None));
        }
    }

    #[test]
    fn ah_round_trip(vips in prop::collection::vec(any::<[u8; 4]>(), 0..20), seq in 1u32.., pw in "[a-z]{0,10}", unicast in any::<bool>()) {
        let key = password_field(&pw);
        let vips: Vec<IpAddr> = vips.into_iter().map(IpAddr::from).collect();
        let a = Advert { auth_type: AuthType::Ah, ..advert(2, 9, 100, 1, vips.clone()) };
        let dst = if unicast { PEER } else { MCAST_GROUP_V4 };
        let buf = encode_v4(&a, &ipp(dst, 3), Some(&AhParams { key, seq, zero_ttl: unicast }));
        let peers = [UnicastPeer { addr: IpAddr::V4(SRC), min_ttl: 0, max_ttl: 255 }];
        let exp = Expect {
            unicast_peers: if unicast { &peers } else { &[] },
            ..expect(2, ExpectAuth::Ah { key, last_seq: seq - 1 }, Duration::from_secs(1), &vips)
        };
        let ok = receive(Received::V4(&buf), &exp).unwrap();
        prop_assert_eq!(ok.advert, a);
        prop_assert_eq!(ok.ah_seq, Some(seq));
    }

    #[test]
    fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200), v6 in any::<bool>()) {
        let vips = [v4(1)];
        let exp = expect(2, ExpectAuth::Pass(*b"abcdefgh"), Duration::from_secs(1), &vips);
        let rx = if v6 {
            Received::V6 { payload: &bytes, src: LL_A, dst: MCAST_GROUP_V6, hop_limit: None }
        } else {
            Received::V4(&bytes)
        };
        if let Err(e) = receive(rx, &exp) {
            let _ = e.log_message("X");
        }
        let _ = Advert::decode(&bytes, Family::V4);
        let _ = Advert::decode(&bytes, Family::V6);
    }
}
