//! IPv6 VRRP payloads (with ancillary src/dst/hop limit) through parse + validate; accepted
//! adverts must re-encode to a payload that validates to the same advert.
#![no_main]
use std::net::{IpAddr, Ipv6Addr};
use std::time::Duration;

use keepalived::vrrp::packet::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 19 {
        return;
    }
    let (head, payload) = data.split_at(19);
    let cfg = head[0];
    let hop_limit = (cfg & 0x80 != 0).then_some(head[1]);
    let mut s = [0u8; 16];
    s.copy_from_slice(&head[3..19]);
    let src = Ipv6Addr::from(s);
    let peer = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);
    let unicast = cfg & 0x08 != 0;
    let dst = if head[2] & 1 != 0 {
        MCAST_GROUP_V6
    } else {
        peer
    };
    let vips = [
        IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x62)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x62)),
    ];
    let peers = [UnicastPeer {
        addr: IpAddr::V6(src),
        min_ttl: head[2] & 0xf0,
        max_ttl: 255,
    }];
    let exp = Expect {
        version: if cfg & 0x04 != 0 { 3 } else { 2 },
        auth: if cfg & 0x01 != 0 {
            ExpectAuth::Pass(*b"fuzzpw\0\0")
        } else {
            ExpectAuth::None
        },
        adver_int: Duration::from_secs(1),
        vips: &vips,
        unicast_peers: if unicast { &peers } else { &[] },
        check_unicast_src: cfg & 0x10 != 0,
        skip_check_adv_addr: cfg & 0x20 != 0,
        last_master: None,
        strict: cfg & 0x40 != 0,
        unicast_checksum: UnicastChecksum::Detect,
        mcast_group4: MCAST_GROUP_V4,
        v3_checksum_as_v2: false,
    };
    let rx = Received::V6 {
        payload,
        src,
        dst,
        hop_limit,
    };
    let ok = match receive(rx, &exp) {
        Ok(ok) => ok,
        Err(e) => {
            let _ = (e.log_message("F"), e.counter(), e.counts_as_received());
            return;
        }
    };
    let mut buf = vec![0u8; ok.advert.vrrp_len(Family::V6)];
    let n = ok
        .advert
        .emit_vrrp(&mut buf, &Endpoints::V6 { src, dst })
        .expect("accepted advert re-encodes");
    assert_eq!(n, buf.len());
    // The kernel would have verified the checksum: ours must sum to zero.
    let again = receive(
        Received::V6 {
            payload: &buf,
            src,
            dst,
            hop_limit,
        },
        &exp,
    )
    .expect("re-encoded advert validates");
    assert_eq!(again.advert, ok.advert);
});
