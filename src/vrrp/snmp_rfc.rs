//! The standard VRRP MIBs keepalived 2.2.7 serves beside its own: RFC 2787's VRRP-MIB
//! (`enable_snmp_rfcv2`, VRRPv2 IPv4 instances) and RFC 6527's VRRPv3-MIB
//! (`enable_snmp_rfcv3`; like Debian's build, which answers VRRPv3 queries for VRRPv2
//! instances too), with their notifications. Both list only instances with a virtual
//! address, indexed by the base interface's ifIndex and the VRID; all objects are read-only.

use super::engine::Engine;
use super::instance::Instance;
use super::machine::State;
use crate::agentx::pdu::{Oid, Value, VarBind};
use crate::agentx::session::Tree;
use crate::config::model::{self, Config};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::SystemTime;

use super::snmp_registrations::{V2_ROOT, V3_ROOT};

pub use super::rfc_state::{auth_err, proto_err, reason, Event, RfcState, Source};

/// RFC 2787 lists VRRPv2 IPv4 instances with a virtual address.
fn suits_v2(s: &Source) -> bool {
    !s.v3 && !s.v6 && s.has_vips
}

/// RFC 6527 lists every instance with a virtual address.
fn suits_v3(s: &Source) -> bool {
    s.has_vips
}

/// RFC states: initialize 1, backup 2, master 3 (fault shows as initialize).
fn rfc_state(s: State) -> i32 {
    match s {
        State::Backup => 2,
        State::Master => 3,
        _ => 1,
    }
}

fn oid(root: &[u32], more: &[u32]) -> Oid {
    Oid::new(root).child(more)
}

fn truth(b: bool) -> Value {
    Value::Integer(if b { 1 } else { 2 })
}

fn c32(v: u64) -> Value {
    Value::Counter32(v as u32)
}

fn v4(a: Option<IpAddr>) -> [u8; 4] {
    match a {
        Some(IpAddr::V4(a)) => a.octets(),
        _ => Ipv4Addr::UNSPECIFIED.octets(),
    }
}

fn bytes(a: Option<IpAddr>, v6: bool) -> Vec<u8> {
    match (a, v6) {
        (Some(IpAddr::V4(a)), false) => a.octets().to_vec(),
        (Some(IpAddr::V6(a)), true) => a.octets().to_vec(),
        (_, false) => Ipv4Addr::UNSPECIFIED.octets().to_vec(),
        (_, true) => Ipv6Addr::UNSPECIFIED.octets().to_vec(),
    }
}

/// The virtual router's up time in centiseconds: 0 unless backup or master.
fn uptime(inst: &Instance) -> u32 {
    match inst.machine.state() {
        State::Backup | State::Master => {
            let d = SystemTime::now()
                .duration_since(inst.rfc.started)
                .unwrap_or_default();
            (d.as_millis() / 10) as u32
        }
        _ => 0,
    }
}

/// RFC 2787's objects.
pub fn v2_objects(c: &Config, eng: &Engine, t: &mut Tree) {
    let r = V2_ROOT;
    t.insert(oid(r, &[1, 1, 0]), Value::Integer(2));
    t.insert(oid(r, &[1, 2, 0]), truth(c.global.enable_traps));
    let ifmap = eng.ifmap.borrow();
    let (mut chk, mut vers) = (0, 0);
    let listed: Vec<_> = eng
        .instances
        .iter()
        .map(|i| (i, i.rfc_source(&ifmap)))
        .filter(|(_, s)| suits_v2(s))
        .collect();
    // keepalived 2.2.7's row search for these two tables skips every instance once a row
    // index is given, so a walk shows only the first row (lowest ifIndex and VRID).
    let first = listed.iter().map(|(_, s)| (s.ifindex, s.vrid)).min();
    for (inst, s) in listed {
        chk += inst.rfc.chk_err;
        vers += inst.rfc.vers_err;
        let idx = [s.ifindex, u32::from(s.vrid)];
        let cfg = &inst.cfg;
        for a in &cfg.vips {
            if let IpAddr::V4(a) = a.addr {
                t.insert(
                    oid(r, &[1, 4, 1, 2])
                        .child(&idx)
                        .child(&octets(&a.octets())),
                    Value::Integer(1),
                );
            }
        }
        if first != Some((s.ifindex, s.vrid)) {
            continue;
        }
        let st = &inst.stats;
        let mut put = |col: &[u32], v: Value| {
            t.insert(oid(r, col).child(&idx), v);
        };
        put(&[1, 3, 1, 2], Value::OctetString(inst.link.mac.to_vec()));
        put(
            &[1, 3, 1, 3],
            Value::Integer(rfc_state(inst.machine.state())),
        );
        put(&[1, 3, 1, 4], Value::Integer(1));
        put(&[1, 3, 1, 5], Value::Integer(i32::from(cfg.priority)));
        put(&[1, 3, 1, 6], Value::Integer(cfg.vips.len() as i32));
        put(&[1, 3, 1, 7], Value::IpAddress(v4(inst.rfc.master_saddr)));
        put(&[1, 3, 1, 8], Value::IpAddress(v4(inst.link.src)));
        let auth = match &cfg.auth {
            None => 1,
            Some(a) => match a.kind {
                model::vrrp::instance::AuthType::Pass => 2,
                model::vrrp::instance::AuthType::Ah => 3,
            },
        };
        put(&[1, 3, 1, 9], Value::Integer(auth));
        put(
            &[1, 3, 1, 11],
            Value::Integer(cfg.advert_int.as_secs() as i32),
        );
        put(&[1, 3, 1, 12], truth(!cfg.nopreempt));
        put(&[1, 3, 1, 13], Value::TimeTicks(uptime(inst)));
        put(&[1, 3, 1, 14], Value::Integer(1));
        put(&[1, 3, 1, 15], Value::Integer(1));
        let counters = [
            st.become_master,
            st.advert_rcvd,
            st.advert_interval_err,
            st.auth_failure,
            st.ip_ttl_err,
            st.pri_zero_rcvd,
            st.pri_zero_sent,
            st.invalid_type_rcvd,
            st.addr_list_err,
            st.invalid_authtype,
            st.authtype_mismatch,
            st.packet_len_err,
        ];
        for (col, v) in (1..).zip(counters) {
            t.insert(oid(r, &[2, 4, 1, col]).child(&idx), c32(v));
        }
    }
    t.insert(oid(r, &[2, 1, 0]), c32(chk));
    t.insert(oid(r, &[2, 2, 0]), c32(vers));
    // keepalived never counts VRID errors.
    t.insert(oid(r, &[2, 3, 0]), c32(0));
}

fn octets(b: &[u8]) -> Vec<u32> {
    b.iter().map(|x| u32::from(*x)).collect()
}

/// RFC 6527's objects.
pub fn v3_objects(eng: &Engine, t: &mut Tree) {
    let r = V3_ROOT;
    let ifmap = eng.ifmap.borrow();
    let (mut chk, mut vers) = (0, 0);
    for inst in &eng.instances {
        let s = inst.rfc_source(&ifmap);
        if !suits_v3(&s) {
            continue;
        }
        chk += inst.rfc.chk_err;
        vers += inst.rfc.vers_err;
        let idx = [s.ifindex, u32::from(s.vrid), if s.v6 { 2 } else { 1 }];
        let cfg = &inst.cfg;
        let st = &inst.stats;
        let state = inst.machine.state();
        let primary = bytes(inst.link.src, s.v6);
        let mut put = |col: &[u32], v: Value| {
            t.insert(oid(r, col).child(&idx), v);
        };
        let master = if state == State::Master {
            primary.clone()
        } else {
            bytes(inst.rfc.master_saddr, s.v6)
        };
        put(&[1, 1, 1, 1, 3], Value::OctetString(master));
        put(&[1, 1, 1, 1, 4], Value::OctetString(primary));
        put(&[1, 1, 1, 1, 5], Value::OctetString(inst.link.mac.to_vec()));
        put(&[1, 1, 1, 1, 6], Value::Integer(rfc_state(state)));
        put(&[1, 1, 1, 1, 7], Value::Gauge32(u32::from(cfg.priority)));
        put(&[1, 1, 1, 1, 8], Value::Integer(cfg.vips.len() as i32));
        let centis = (cfg.advert_int.as_millis() / 10) as u32;
        put(&[1, 1, 1, 1, 9], Value::Integer(centis as i32));
        put(&[1, 1, 1, 1, 10], truth(!cfg.nopreempt));
        put(&[1, 1, 1, 1, 11], truth(cfg.accept));
        put(&[1, 1, 1, 1, 12], Value::TimeTicks(uptime(inst)));
        put(&[1, 1, 1, 1, 13], Value::Integer(1));
        for a in &cfg.vips {
            let b = match a.addr {
                IpAddr::V4(a) if !s.v6 => a.octets().to_vec(),
                IpAddr::V6(a) if s.v6 => a.octets().to_vec(),
                _ => continue,
            };
            t.insert(
                oid(r, &[1, 1, 2, 1, 2]).child(&idx).child(&octets(&b)),
                Value::Integer(1),
            );
        }
        let mut put = |col: u32, v: Value| {
            t.insert(oid(r, &[1, 2, 5, 1, col]).child(&idx), v);
        };
        put(1, c32(st.become_master));
        put(2, Value::Integer(inst.rfc.master_reason));
        put(3, Value::Counter64(st.advert_rcvd));
        put(4, Value::Counter64(st.advert_interval_err));
        put(5, Value::Counter64(st.ip_ttl_err));
        put(6, Value::Integer(inst.rfc.proto_err_reason));
        put(7, Value::Counter64(st.pri_zero_rcvd));
        put(8, Value::Counter64(st.pri_zero_sent));
        put(9, Value::Counter64(st.invalid_type_rcvd));
        put(10, Value::Counter64(st.addr_list_err));
        put(11, Value::Counter64(st.packet_len_err));
        // Discontinuities are not tracked (0, as keepalived).
        put(12, Value::TimeTicks(0));
        put(13, Value::Gauge32(centis * 10));
    }
    t.insert(oid(r, &[1, 2, 1, 0]), Value::Counter64(chk));
    t.insert(oid(r, &[1, 2, 2, 0]), Value::Counter64(vers));
    t.insert(oid(r, &[1, 2, 3, 0]), Value::Counter64(0));
    t.insert(oid(r, &[1, 2, 4, 0]), Value::TimeTicks(0));
}

/// Which standard MIBs' notifications go out (`enable_traps` with the MIB's keyword).
#[derive(Debug, Clone, Copy, Default)]
pub struct Gates {
    pub v2: bool,
    pub v3: bool,
}

/// The notification for `ev` (name, varbinds) if its MIB sends it, with the `-D` line.
pub fn notification(g: Gates, ev: &Event) -> Option<(Oid, Vec<VarBind>, String)> {
    let vb = |name: Oid, value: Value| VarBind { name, value };
    match ev {
        Event::NewMaster { at, .. } => {
            // RFC 6527's is built by `new_master_v3`.
            if !g.v2 || !suits_v2(at) {
                return None;
            }
            let idx = [at.ifindex, u32::from(at.vrid)];
            Some((
                oid(V2_ROOT, &[0, 1]),
                vec![vb(
                    oid(V2_ROOT, &[1, 3, 1, 7]).child(&idx),
                    Value::IpAddress(v4(at.saddr)),
                )],
                format!("({}) Sending SNMP notification vrrpTrapNewMaster", at.name),
            ))
        }
        Event::AuthError { at, src, kind } => {
            if !g.v2 || !suits_v2(at) {
                return None;
            }
            let idx = [at.ifindex, u32::from(at.vrid)];
            Some((
                oid(V2_ROOT, &[0, 2]),
                vec![
                    vb(
                        oid(V2_ROOT, &[1, 5]).child(&idx),
                        Value::IpAddress(v4(Some(*src))),
                    ),
                    vb(oid(V2_ROOT, &[1, 6]).child(&idx), Value::Integer(*kind)),
                ],
                format!(
                    "({}) Sending SNMP notification vrrpTrapAuthFailure",
                    at.name
                ),
            ))
        }
        Event::ProtoError { at, reason } => {
            if !g.v3 || !suits_v3(at) {
                return None;
            }
            let idx = [at.ifindex, u32::from(at.vrid), if at.v6 { 2 } else { 1 }];
            Some((
                oid(V3_ROOT, &[0, 2]),
                vec![vb(
                    oid(V3_ROOT, &[1, 2, 5, 1, 6]).child(&idx),
                    Value::Integer(*reason),
                )],
                format!("({}) Sending SNMP notification vrrpTrapProtoError", at.name),
            ))
        }
    }
}

/// RFC 6527's `vrrpv3NewMaster` for a new master.
pub fn new_master_v3(g: Gates, at: &Source, reason: i32) -> Option<(Oid, Vec<VarBind>, String)> {
    if !g.v3 || !suits_v3(at) {
        return None;
    }
    let idx = [at.ifindex, u32::from(at.vrid), if at.v6 { 2 } else { 1 }];
    Some((
        oid(V3_ROOT, &[0, 1]),
        vec![
            VarBind {
                name: oid(V3_ROOT, &[1, 1, 1, 1, 3]).child(&idx),
                value: Value::OctetString(bytes(at.saddr, at.v6)),
            },
            VarBind {
                name: oid(V3_ROOT, &[1, 2, 5, 1, 2]).child(&idx),
                value: Value::Integer(reason),
            },
        ],
        format!(
            "({}) Sending SNMP notification vrrpv3NotifyNewMaster, reason {reason}",
            at.name
        ),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn at(v3: bool, v6: bool) -> Source {
        Source {
            name: "VI_1".into(),
            ifindex: 2,
            vrid: 51,
            v6,
            v3,
            has_vips: true,
            saddr: Some(if v6 {
                "fe80::1".parse().unwrap()
            } else {
                "192.0.2.1".parse().unwrap()
            }),
        }
    }

    const BOTH: Gates = Gates { v2: true, v3: true };

    #[test]
    fn new_master_goes_to_each_mib_that_lists_the_instance() {
        let ev = Event::NewMaster {
            at: at(false, false),
            reason: reason::PRIORITY,
        };
        let (trap, vbs, line) = notification(BOTH, &ev).unwrap();
        assert_eq!(trap.to_string(), ".1.3.6.1.2.1.68.0.1");
        assert_eq!(vbs[0].name.to_string(), ".1.3.6.1.2.1.68.1.3.1.7.2.51");
        assert_eq!(vbs[0].value, Value::IpAddress([192, 0, 2, 1]));
        assert_eq!(line, "(VI_1) Sending SNMP notification vrrpTrapNewMaster");
        // Off without its keyword, and RFC 2787 has no VRRPv3 or IPv6 instances.
        assert!(notification(
            Gates {
                v2: false,
                v3: true
            },
            &ev
        )
        .is_none());
        for (v3, v6) in [(true, false), (false, true)] {
            let ev = Event::NewMaster {
                at: at(v3, v6),
                reason: 1,
            };
            assert!(notification(BOTH, &ev).is_none());
        }
        let (trap, vbs, line) = new_master_v3(BOTH, &at(true, true), reason::PREEMPTED).unwrap();
        assert_eq!(trap.to_string(), ".1.3.6.1.2.1.207.0.1");
        assert!(vbs[0]
            .name
            .to_string()
            .starts_with(".1.3.6.1.2.1.207.1.1.1.1.3.2.51.2"));
        assert_eq!(vbs[1].name.to_string(), ".1.3.6.1.2.1.207.1.2.5.1.2.2.51.2");
        assert_eq!(vbs[1].value, Value::Integer(2));
        assert!(line.ends_with("vrrpv3NotifyNewMaster, reason 2"), "{line}");
        assert!(new_master_v3(
            Gates {
                v2: true,
                v3: false
            },
            &at(true, false),
            1
        )
        .is_none());
    }

    #[test]
    fn error_notifications_name_their_kind() {
        let src: IpAddr = "192.0.2.2".parse().unwrap();
        let ev = Event::AuthError {
            at: at(false, false),
            src,
            kind: auth_err::AUTH_FAILURE,
        };
        let (trap, vbs, _) = notification(BOTH, &ev).unwrap();
        assert_eq!(trap.to_string(), ".1.3.6.1.2.1.68.0.2");
        assert_eq!(vbs[0].name.to_string(), ".1.3.6.1.2.1.68.1.5.2.51");
        assert_eq!(vbs[0].value, Value::IpAddress([192, 0, 2, 2]));
        assert_eq!(vbs[1].value, Value::Integer(3));
        let ev = Event::ProtoError {
            at: at(true, false),
            reason: proto_err::VERSION,
        };
        let (trap, vbs, _) = notification(BOTH, &ev).unwrap();
        assert_eq!(trap.to_string(), ".1.3.6.1.2.1.207.0.2");
        assert_eq!(vbs[0].name.to_string(), ".1.3.6.1.2.1.207.1.2.5.1.6.2.51.1");
        assert!(notification(
            Gates {
                v2: true,
                v3: false
            },
            &ev
        )
        .is_none());
        // An instance without a VIP is in neither MIB.
        let mut bare = at(false, false);
        bare.has_vips = false;
        let ev = Event::ProtoError {
            at: bare,
            reason: 1,
        };
        assert!(notification(BOTH, &ev).is_none());
    }

    #[test]
    fn states_as_the_rfcs_number_them() {
        let got: Vec<i32> = [
            State::Init,
            State::Backup,
            State::Master,
            State::Fault,
            State::Stop,
        ]
        .into_iter()
        .map(rfc_state)
        .collect();
        assert_eq!(got, [1, 2, 3, 1, 1]);
    }
}
