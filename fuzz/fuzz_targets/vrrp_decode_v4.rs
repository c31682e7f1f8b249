//! Full IPv4 VRRP packets through parse + validate; accepted adverts must re-encode to a
//! packet that validates to the same advert (round trip, not just "no panic").
#![no_main]
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use keepalived::vrrp::packet::*;
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 8] = *b"fuzzpw\0\0";

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, pkt)) = data.split_first() else {
        return;
    };
    let vips = [
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 101)),
    ];
    let peers = [UnicastPeer {
        addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        min_ttl: cfg & 0xc0,
        max_ttl: 255,
    }];
    let unicast = cfg & 0x08 != 0;
    let auth = match cfg & 0x03 {
        1 => ExpectAuth::Pass(KEY),
        2 => ExpectAuth::Ah {
            key: KEY,
            last_seq: 0,
        },
        _ => ExpectAuth::None,
    };
    let exp = Expect {
        version: if cfg & 0x04 != 0 { 3 } else { 2 },
        auth,
        adver_int: Duration::from_secs(1),
        vips: &vips,
        unicast_peers: if unicast { &peers } else { &[] },
        check_unicast_src: cfg & 0x10 != 0,
        skip_check_adv_addr: cfg & 0x20 != 0,
        last_master: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        strict: cfg & 0x20 == 0,
        unicast_checksum: UnicastChecksum::Detect,
        mcast_group4: MCAST_GROUP_V4,
        v3_checksum_as_v2: false,
    };
    let parsed = match parse(Received::V4(pkt)) {
        Ok(p) => p,
        Err(e) => {
            let _ = e.log_message("F");
            return;
        }
    };
    let _ = (parsed.vrid(), parsed.priority(), parsed.version());
    let ok = match validate(&parsed, &exp) {
        Ok(ok) => ok,
        Err(e) => {
            let _ = (e.log_message("F"), e.counter());
            return;
        }
    };
    let (Some(ip), IpAddr::V4(src), IpAddr::V4(dst)) = (parsed.ip, ok.src, ok.dst) else {
        panic!("IPv4 packet without IPv4 header");
    };
    let params = Ipv4Params {
        src,
        dst,
        id: ip.id,
        ttl: ip.ttl,
        fill_checksum: true,
        checksum_dst: None,
        v3_checksum_as_v2: false,
    };
    let ah = ok.ah_seq.map(|seq| AhParams {
        key: KEY,
        seq,
        zero_ttl: unicast,
    });
    let mut buf = vec![0u8; ok.advert.ipv4_len()];
    let n = ok
        .advert
        .emit_ipv4(&mut buf, &params, ah.as_ref())
        .expect("accepted advert re-encodes");
    assert_eq!(n, buf.len());
    let again = receive(Received::V4(&buf), &exp).expect("re-encoded advert validates");
    assert_eq!(again.advert, ok.advert);
    assert_eq!(again.addr_warning, ok.addr_warning);
});
