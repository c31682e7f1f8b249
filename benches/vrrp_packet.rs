//! VRRP advert codec: decode+validate and encode of a 20-address advert (ns/packet).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keepalived::vrrp::auth::password_field;
use keepalived::vrrp::packet::*;

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn vips4() -> Vec<IpAddr> {
    (0..20u8)
        .map(|i| IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100 + i)))
        .collect()
}

fn vips6() -> Vec<IpAddr> {
    (0..20u16)
        .map(|i| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100 + i)))
        .collect()
}

fn advert(version: u8, auth_type: AuthType, addresses: Vec<IpAddr>) -> Advert {
    Advert {
        version,
        kind: TYPE_ADVERT,
        vrid: 51,
        priority: 100,
        adver_int: if version == 2 { 1 } else { 100 },
        auth_type,
        auth_data: if auth_type == AuthType::Pass {
            password_field("secret12")
        } else {
            [0; 8]
        },
        addresses,
    }
}

fn expect(version: u8, auth: ExpectAuth, vips: &[IpAddr]) -> Expect<'_> {
    Expect {
        version,
        auth,
        adver_int: Duration::from_secs(1),
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

fn bench(c: &mut Criterion) {
    let ip = Ipv4Params {
        src: SRC,
        dst: MCAST_GROUP_V4,
        id: 1,
        ttl: 255,
        fill_checksum: false,
        checksum_dst: None,
        v3_checksum_as_v2: false,
    };
    let key = password_field("secret12");
    let v4 = vips4();
    let v6 = vips6();
    let mut g = c.benchmark_group("vrrp_packet_20_addrs");
    g.throughput(Throughput::Elements(1));

    let cases = [
        ("v2_none", 2, AuthType::None, ExpectAuth::None),
        ("v2_pass", 2, AuthType::Pass, ExpectAuth::Pass(key)),
        (
            "v2_ah",
            2,
            AuthType::Ah,
            ExpectAuth::Ah { key, last_seq: 0 },
        ),
        ("v3_ipv4", 3, AuthType::None, ExpectAuth::None),
    ];
    for (name, version, at, ea) in cases {
        let a = advert(version, at, v4.clone());
        let ah = AhParams {
            key,
            seq: 1,
            zero_ttl: false,
        };
        let mut buf = vec![0u8; a.ipv4_len()];
        a.emit_ipv4(&mut buf, &ip, Some(&ah)).expect("encodes");
        let exp = expect(version, ea, &v4);
        assert!(receive(Received::V4(&buf), &exp).is_ok());
        g.bench_function(format!("{name}/decode_validate"), |b| {
            b.iter(|| receive(Received::V4(black_box(&buf)), black_box(&exp)))
        });
        let mut out = vec![0u8; a.ipv4_len()];
        g.bench_function(format!("{name}/encode"), |b| {
            b.iter(|| black_box(&a).emit_ipv4(&mut out, &ip, Some(&ah)))
        });
    }

    let a6 = advert(3, AuthType::None, v6.clone());
    let ep = Endpoints::V6 {
        src: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1),
        dst: MCAST_GROUP_V6,
    };
    let mut buf6 = vec![0u8; a6.vrrp_len(Family::V6)];
    a6.emit_vrrp(&mut buf6, &ep).expect("encodes");
    let exp6 = expect(3, ExpectAuth::None, &v6);
    let src = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
    let dst = MCAST_GROUP_V6;
    g.bench_function("v3_ipv6/decode_validate", |b| {
        b.iter(|| {
            receive(
                Received::V6 {
                    payload: black_box(&buf6),
                    src,
                    dst,
                    hop_limit: Some(255),
                },
                black_box(&exp6),
            )
        })
    });
    let mut out6 = vec![0u8; a6.vrrp_len(Family::V6)];
    g.bench_function("v3_ipv6/encode", |b| {
        b.iter(|| black_box(&a6).emit_vrrp(&mut out6, &ep))
    });
    let a2 = advert(2, AuthType::None, v4.clone());
    let mut msg = vec![0u8; a2.vrrp_len(Family::V4)];
    a2.emit_vrrp(
        &mut msg,
        &Endpoints::V4 {
            src: SRC,
            dst: MCAST_GROUP_V4,
        },
    )
    .expect("encodes");
    g.bench_function("v2_none/update_priority", |b| {
        b.iter(|| update_priority(black_box(&mut msg), 99))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
