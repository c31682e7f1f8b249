//! The codec against bytes captured between keepalived 2.2.7's subagent and snmpd 5.9.3
//! (tests/data/agentx/keepalived-2.2.7.hex), round trips and hostile input.
#![allow(clippy::unwrap_used)]

use super::pdu::*;
use proptest::prelude::*;

fn captured() -> Vec<(String, Vec<u8>)> {
    let text = include_str!("../../tests/data/agentx/keepalived-2.2.7.hex");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (dir, hex) = l.split_once(' ').unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (dir.to_owned(), bytes)
        })
        .collect()
}

fn oid(s: &str) -> Oid {
    s.parse().unwrap()
}

#[test]
fn captured_pdus_decode_and_reencode() {
    for (dir, b) in captured() {
        let (m, n) = decode(&b).unwrap();
        assert_eq!(n, b.len(), "{dir} {m:?}");
        let again = encode(&m);
        assert_eq!(decode(&again).unwrap().0, m);
        // net-snmp marks an OID-valued varbind's include bit; ours is clear: only those
        // messages differ in bytes.
        if !matches!(m.pdu, Pdu::Notify { .. }) {
            assert_eq!(again, b, "{dir} {m:?}");
        }
    }
}

#[test]
fn captured_open_register_caps_and_notify() {
    let c = captured();
    let open = decode(&c[0].1).unwrap().0;
    assert_eq!(
        open.pdu,
        Pdu::Open {
            timeout: 1,
            id: oid("1.3.6.1.4.1.8072.3.2.10"),
            descr: b"Net-SNMP AgentX sub-agent".to_vec(),
        }
    );
    assert_eq!(open.flags, 0);
    let resp = decode(&c[1].1).unwrap().0;
    assert!(matches!(resp.pdu, Pdu::Response { error: 0, .. }));
    assert_eq!(resp.session_id, 8);
    let reg = decode(&c[2].1).unwrap().0;
    assert_eq!(
        reg.pdu,
        Pdu::Register {
            context: Some(vec![]),
            timeout: 255,
            priority: 127,
            range_subid: 0,
            subtree: oid("1.3.6.1.4.1.9586.100.5.1.1"),
            upper_bound: None,
        }
    );
    let caps = decode(&c[3].1).unwrap().0;
    assert_eq!(
        caps.pdu,
        Pdu::AddAgentCaps {
            context: None,
            id: oid("1.3.6.1.4.1.9586.100.5.1"),
            descr: b"The MIB module for Keepalived".to_vec(),
        }
    );
    let Pdu::Notify { varbinds, .. } = decode(&c[4].1).unwrap().0.pdu else {
        panic!("not a notify")
    };
    assert_eq!(varbinds[0].name, oid("1.3.6.1.2.1.1.3.0"));
    assert!(matches!(varbinds[0].value, Value::TimeTicks(_)));
    assert_eq!(varbinds[1].name, oid("1.3.6.1.6.3.1.1.4.1.0"));
    assert_eq!(
        varbinds[1].value,
        Value::ObjectId(oid("1.3.6.1.4.1.9586.100.5.2.10.0.2"))
    );
    assert_eq!(
        varbinds[2],
        VarBind {
            // 2.2.7 names the column, without the instance's index.
            name: oid("1.3.6.1.4.1.9586.100.5.2.3.1.2"),
            value: Value::OctetString(b"VI_2".to_vec()),
        }
    );
}

#[test]
fn truncation_is_incomplete_then_short() {
    let (_, b) = &captured()[4];
    for cut in 0..b.len() {
        match decode(&b[..cut]) {
            Err(DecodeError::Incomplete { .. }) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
    // A payload length that stops inside a varbind.
    let mut short = b[..HEADER_LEN + 8].to_vec();
    short[16..20].copy_from_slice(&8u32.to_le_bytes());
    assert_eq!(decode(&short), Err(DecodeError::Short));
}

#[test]
fn bad_lengths_and_huge_oids_are_refused() {
    let mut b = captured()[2].1.clone();
    b[16..20].copy_from_slice(&3u32.to_le_bytes());
    assert_eq!(decode(&b), Err(DecodeError::PayloadLength(3)));
    b[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(decode(&b), Err(DecodeError::PayloadLength(_))));
    // n_subid 200 with the 1.3.6.1.x prefix: over the 128 limit.
    let mut g = encode(&Message {
        flags: 0,
        session_id: 1,
        transaction_id: 2,
        packet_id: 3,
        pdu: Pdu::Get {
            context: None,
            ranges: vec![],
        },
    });
    g.extend_from_slice(&[200, 4, 0, 0]);
    g.extend(std::iter::repeat(0).take(800));
    g.extend_from_slice(&[0, 0, 0, 0]);
    let len = (g.len() - HEADER_LEN) as u32;
    g[16..20].copy_from_slice(&len.to_le_bytes());
    assert_eq!(decode(&g), Err(DecodeError::OidLength(205)));
    g[1] = 99;
    assert_eq!(decode(&g), Err(DecodeError::Type(99)));
    g[0] = 2;
    assert_eq!(decode(&g), Err(DecodeError::Version(2)));
}

fn arb_oid() -> impl Strategy<Value = Oid> {
    prop::collection::vec(any::<u32>(), 0..20).prop_map(Oid)
}

fn arb_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i32>().prop_map(Value::Integer),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::OctetString),
        Just(Value::Null),
        arb_oid().prop_map(Value::ObjectId),
        any::<[u8; 4]>().prop_map(Value::IpAddress),
        any::<u32>().prop_map(Value::Counter32),
        any::<u32>().prop_map(Value::Gauge32),
        any::<u32>().prop_map(Value::TimeTicks),
        any::<u64>().prop_map(Value::Counter64),
        Just(Value::NoSuchObject),
        Just(Value::NoSuchInstance),
        Just(Value::EndOfMibView),
    ]
}

fn arb_pdu() -> impl Strategy<Value = Pdu> {
    let vbs = prop::collection::vec(
        (arb_oid(), arb_value()).prop_map(|(name, value)| VarBind { name, value }),
        0..6,
    )
    .boxed();
    let ctx = prop::option::of(prop::collection::vec(any::<u8>(), 0..9)).boxed();
    let ranges = prop::collection::vec(
        (arb_oid(), any::<bool>(), arb_oid()).prop_map(|(start, include, end)| SearchRange {
            start,
            include,
            end,
        }),
        0..4,
    )
    .boxed();
    prop_oneof![
        (
            any::<u8>(),
            arb_oid(),
            prop::collection::vec(any::<u8>(), 0..30)
        )
            .prop_map(|(timeout, id, descr)| Pdu::Open { timeout, id, descr }),
        (ctx.clone(), ranges.clone())
            .prop_map(|(context, ranges)| Pdu::GetNext { context, ranges }),
        (ctx.clone(), any::<u16>(), any::<u16>(), ranges).prop_map(|(context, n, m, ranges)| {
            Pdu::GetBulk {
                context,
                non_repeaters: n,
                max_repetitions: m,
                ranges,
            }
        }),
        (ctx.clone(), vbs.clone())
            .prop_map(|(context, varbinds)| Pdu::Notify { context, varbinds }),
        (ctx, any::<u8>(), 1u8..10, arb_oid(), any::<u32>()).prop_map(
            |(context, p, r, subtree, u)| {
                Pdu::Register {
                    context,
                    timeout: 0,
                    priority: p,
                    range_subid: r,
                    subtree,
                    upper_bound: Some(u),
                }
            }
        ),
        (any::<u32>(), any::<u16>(), any::<u16>(), vbs).prop_map(|(t, e, i, varbinds)| {
            Pdu::Response {
                sys_uptime: t,
                error: e,
                index: i,
                varbinds,
            }
        }),
        Just(Pdu::CommitSet),
    ]
}

proptest! {
    #[test]
    fn round_trip(pdu in arb_pdu(), be in any::<bool>(), s in any::<u32>(), t in any::<u32>(), p in any::<u32>()) {
        let m = Message {
            flags: if be { flags::NETWORK_BYTE_ORDER } else { 0 },
            session_id: s,
            transaction_id: t,
            packet_id: p,
            pdu,
        };
        let b = encode(&m);
        prop_assert_eq!(decode(&b), Ok((m, b.len())));
    }

    #[test]
    fn decode_never_panics(b in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&b);
    }
}
