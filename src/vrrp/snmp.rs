//! The VRRP child's SNMP objects (KEEPALIVED-MIB: the global scalars, the sync group,
//! sync group member, instance and address tables) and traps, served through the AgentX session of
//! `crate::agentx` (`enable_snmp_vrrp`, `enable_traps`, `snmp_socket`); a manager may set an
//! instance's base priority and preemption, as with keepalived. Objects are built
//! from the engine between its steps (`snapshot`), so the session never borrows it.

use super::engine::Engine;
use super::machine::State;
use super::snmp_registrations as reg;
use super::snmp_rfc as rfc;
use crate::agentx::pdu::{Oid, Value, VarBind};
use crate::agentx::session::{Agent, Notifier, Tree};
use crate::config::model::addr::AddressSpec;
use crate::config::model::global::{LvsFlushOnStop, SmtpServer};
use crate::config::model::vrrp::instance::{AuthType, Notify, State as CfgState};
use crate::config::model::{self, Config, Script};
use crate::notify::NotifyState;
use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;

const TRUE: i32 = 1;
const FALSE: i32 = 2;

fn truth(b: bool) -> Value {
    Value::Integer(if b { TRUE } else { FALSE })
}

fn int(v: i64) -> Value {
    Value::Integer(v as i32)
}

fn text(s: &str) -> Value {
    Value::OctetString(s.as_bytes().to_vec())
}

fn oid(root: &[u32], more: &[u32]) -> Oid {
    Oid::new(root).child(more)
}

/// Whether the VRRP child runs a subagent: any of its MIBs is served.
pub fn wanted(c: &Config) -> bool {
    let g = &c.global;
    g.enable_snmp_vrrp || g.enable_snmp_rfcv2 || g.enable_snmp_rfcv3
}

/// What to register, as keepalived 2.2.7's VRRP child does; `None` without
/// `enable_snmp_vrrp`, `enable_snmp_rfcv2` or `enable_snmp_rfcv3`.
pub fn agent(c: &Config) -> Option<Agent> {
    if !wanted(c) {
        return None;
    }
    let g = &c.global;
    let mut a = Agent {
        registrations: Vec::new(),
        caps: Vec::new(),
    };
    // keepalived leaves the global objects to the checker when it runs with
    // the checker SNMP keyword; ours serves no checker objects yet, so this child keeps them.
    let mut module = |root: &[u32], objects: &[&[u32]], descr: &str| {
        a.registrations.extend(objects.iter().map(|s| oid(root, s)));
        a.caps
            .push((Oid::new(root), format!("The MIB module for {descr}")));
    };
    if g.enable_snmp_vrrp {
        module(reg::GLOBAL_ROOT, reg::GLOBAL, "Keepalived");
        module(
            reg::KEEPALIVED_VRRP_ROOT,
            reg::KEEPALIVED_VRRP,
            "KEEPALIVED-VRRP",
        );
    }
    if g.enable_snmp_rfcv2 {
        module(reg::V2_ROOT, reg::V2_OBJECTS, "VRRP");
    }
    if g.enable_snmp_rfcv3 {
        module(reg::V3_ROOT, reg::V3_OBJECTS, "VRRPV3");
    }
    Some(a)
}

/// keepalived's default router_id: the host name.
pub fn router_id(c: &Config) -> String {
    c.global.router_id.clone().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_default()
    })
}

/// A script as keepalived shows it (`cmd_str_r`): each word in single quotes, the program
/// by its resolved path.
pub fn script_text(s: &Script) -> String {
    let mut words = Vec::with_capacity(s.argv.len());
    for (i, w) in s.argv.iter().enumerate() {
        let w = if i == 0 { resolve(w) } else { w.clone() };
        if i == 0 && (w.starts_with('<') || w.starts_with('>')) {
            words.push(w);
        } else {
            words.push(format!("'{w}'"));
        }
    }
    words.join(" ")
}

fn resolve(prog: &str) -> String {
    let found = if prog.contains('/') {
        Some(std::path::PathBuf::from(prog))
    } else {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(prog))
                .find(|f| f.is_file())
        })
    };
    found
        .and_then(|f| std::fs::canonicalize(f).ok())
        .map_or_else(|| prog.to_owned(), |p| p.to_string_lossy().into_owned())
}

/// keepalived's VRRP state numbers (init 0, backup 1, master 2, fault 3).
fn state_num(s: State) -> i64 {
    i64::from(super::metrics::state_code(s))
}

fn configured_state(s: CfgState) -> i64 {
    match s {
        CfgState::Backup => 1,
        CfgState::Master => 2,
    }
}

fn notify_scripts(n: &Notify) -> [(u32, Option<&Script>); 5] {
    [
        (22, n.master.as_ref()),
        (23, n.backup.as_ref()),
        (24, n.fault.as_ref()),
        (25, n.stop.as_ref()),
        (26, n.generic.as_ref()),
    ]
}

/// The global scalars (KEEPALIVED-MIB `global`).
fn global(c: &Config, t: &mut Tree, version: &str) {
    let g = &c.global;
    let r = reg::GLOBAL_ROOT;
    let mut put = |s: &[u32], v: Value| {
        t.insert(oid(r, s), v);
    };
    put(&[1, 0], text(version));
    put(&[2, 0], text(&router_id(c)));
    let (atype, addr, port) = match &g.smtp_server {
        Some(SmtpServer::Addr(a)) => match a.ip() {
            IpAddr::V4(v4) => (1, v4.octets().to_vec(), a.port()),
            IpAddr::V6(v6) => (2, v6.octets().to_vec(), a.port()),
        },
        Some(SmtpServer::Host { port, .. }) => (2, vec![0; 4], *port),
        None => (2, vec![0; 4], 0),
    };
    put(&[3, 1, 0], int(atype));
    put(&[3, 2, 0], Value::OctetString(addr));
    let timeout = if g.smtp_server.is_some() {
        g.smtp_connect_timeout.as_secs() as u32
    } else {
        0
    };
    put(&[3, 3, 0], Value::Gauge32(timeout));
    if let Some(from) = &g.notification_email_from {
        put(&[3, 4, 0], text(from));
    }
    for (i, e) in g.notification_email.iter().enumerate() {
        put(&[3, 5, 1, 2, i as u32 + 1], text(e));
    }
    put(&[3, 6, 0], Value::Gauge32(u32::from(port)));
    put(&[3, 7, 0], truth(!g.no_email_faults));
    let tri = |v: Option<bool>| int(v.map_or(3, |b| if b { 1 } else { 2 }));
    put(&[3, 8, 0], tri(g.smtp_alert));
    put(&[3, 9, 0], tri(g.smtp_alert_vrrp));
    put(&[3, 10, 0], tri(g.smtp_alert_checker));
    put(&[4, 0], truth(g.enable_traps));
    put(
        &[5, 0],
        int(if c.root.linkbeat_use_polling { 2 } else { 1 }),
    );
    put(&[6, 0], truth(g.lvs_flush));
    // IPVS counters are read as 64-bit values.
    put(&[7, 0], truth(true));
    put(&[8, 0], text(c.root.net_namespace.as_deref().unwrap_or("")));
    put(&[9, 0], truth(g.enable_dbus));
    put(&[10, 0], truth(g.dynamic_interfaces));
    let flush = match g.lvs_flush_on_stop {
        LvsFlushOnStop::Full => 1,
        LvsFlushOnStop::None => 2,
        LvsFlushOnStop::Vs => 3,
    };
    put(&[11, 0], int(flush));
}

/// Every object of the VRRP child now.
pub fn snapshot(c: &Config, eng: &Engine, version: &str) -> Tree {
    let mut t = Tree::new();
    if c.global.enable_snmp_rfcv2 {
        rfc::v2_objects(c, eng, &mut t);
    }
    if c.global.enable_snmp_rfcv3 {
        rfc::v3_objects(eng, &mut t);
    }
    if !c.global.enable_snmp_vrrp {
        return t;
    }
    global(c, &mut t, version);
    let r = reg::KEEPALIVED_VRRP_ROOT;
    // vrrpSyncGroupTable and vrrpSyncGroupMemberTable (indexes from 1, config order).
    let states = eng.group_states();
    for (gi, g) in c.vrrp.sync_groups.iter().enumerate() {
        let i = gi as u32 + 1;
        let state = states
            .iter()
            .find(|(n, _)| *n == g.name)
            .map_or(State::Init, |(_, s)| *s);
        t.insert(oid(r, &[1, 1, 2, i]), text(&g.name));
        t.insert(oid(r, &[1, 1, 3, i]), int(state_num(state)));
        t.insert(oid(r, &[1, 1, 4, i]), truth(g.smtp_alert));
        t.insert(oid(r, &[1, 1, 5, i]), truth(any_notify(&g.notify)));
        for (col, s) in notify_scripts(&g.notify) {
            let col = match col {
                22 => 6,
                23 => 7,
                24 => 8,
                25 => 11,
                _ => 9,
            };
            if let Some(s) = s {
                t.insert(oid(r, &[1, 1, col, i]), text(&script_text(s)));
            }
        }
        t.insert(oid(r, &[1, 1, 10, i]), truth(g.tracking_weight));
        for (mi, m) in g.members.iter().enumerate() {
            t.insert(oid(r, &[2, 1, 2, i, mi as u32 + 1]), text(m));
        }
    }
    addresses(c, eng, &mut t);
    tracked(c, eng, &mut t);
    // vrrpInstanceTable.
    let syncd = c.global.lvs_sync_daemon.as_ref();
    for (ii, inst) in eng.instances.iter().enumerate() {
        let i = ii as u32 + 1;
        let cfg = &inst.cfg;
        let m = &inst.machine;
        let mut put = |col: u32, v: Value| {
            t.insert(oid(r, &[3, 1, col, i]), v);
        };
        let v3 = cfg.version == model::vrrp::instance::Version::V3;
        put(2, text(&cfg.name));
        put(3, Value::Gauge32(u32::from(cfg.vrid.unwrap_or(0))));
        put(4, int(state_num(m.state())));
        put(5, int(configured_state(cfg.state)));
        put(6, int(state_num(m.want_state())));
        put(7, int(i64::from(cfg.priority)));
        put(8, int(i64::from(m.effective_priority())));
        put(9, truth(inst.vips_set));
        put(10, text(&inst.link.ifname));
        put(11, truth(!cfg.track_interfaces.is_empty()));
        let adv = if v3 {
            cfg.advert_int.as_millis() / 10
        } else {
            u128::from(cfg.advert_int.as_secs())
        };
        put(12, Value::Gauge32(adv as u32));
        put(13, truth(!cfg.nopreempt));
        put(14, Value::Gauge32(cfg.preempt_delay.as_secs() as u32));
        let auth = match (&cfg.auth, v3) {
            (Some(a), false) => match a.kind {
                AuthType::Pass => 1,
                AuthType::Ah => 2,
            },
            _ => 0,
        };
        put(15, int(auth));
        let linked = syncd.is_some_and(|s| s.vrrp_instance.as_deref() == Some(&cfg.name));
        put(16, truth(linked));
        if let (true, Some(s)) = (linked, syncd) {
            put(17, text(&s.interface));
        }
        if let Some(g) = &cfg.sync_group {
            put(18, text(g));
        }
        put(19, Value::Gauge32(cfg.garp_master_delay.as_secs() as u32));
        put(20, truth(cfg.smtp_alert));
        put(21, truth(any_notify(&cfg.notify)));
        for (col, s) in notify_scripts(&cfg.notify) {
            if let Some(s) = s {
                put(col, text(&script_text(s)));
            }
        }
        put(27, if v3 { truth(cfg.accept) } else { int(0) });
        put(28, truth(cfg.promote_secondaries));
        put(29, truth(cfg.linkbeat_use_polling));
        put(30, int(if v3 { 3 } else { 2 }));
        if let Some(s) = &cfg.notify_master_rx_lower_pri {
            put(31, text(&script_text(s)));
        }
        if let Some(s) = &cfg.notify_deleted_script {
            put(32, text(&script_text(s)));
        }
        put(33, truth(cfg.notify_deleted));
        if cfg.unicast_peers.is_empty() {
            let dst = cfg.mcast_dst_ip.unwrap_or(match cfg.family {
                model::vrrp::instance::Family::V6 => IpAddr::V6(c.global.vrrp_mcast_group6),
                _ => IpAddr::V4(c.global.vrrp_mcast_group4),
            });
            let (ty, bytes) = match dst {
                IpAddr::V4(a) => (1, a.octets().to_vec()),
                IpAddr::V6(a) => (2, a.octets().to_vec()),
            };
            put(34, int(ty));
            put(35, Value::OctetString(bytes));
        }
    }
    t
}

/// vrrpTrackedInterfaceTable and vrrpTrackedScriptTable, indexed (instance, position):
/// each instance's track_interface and track_script lines with the weight in effect.
fn tracked(c: &Config, eng: &Engine, t: &mut Tree) {
    let r = reg::KEEPALIVED_VRRP_ROOT;
    for (ii, inst) in eng.instances.iter().enumerate() {
        let i = ii as u32 + 1;
        for (k, tr) in inst.cfg.track_interfaces.iter().enumerate() {
            let n = k as u32 + 1;
            t.insert(oid(r, &[4, 1, 1, i, n]), text(&tr.name));
            t.insert(oid(r, &[4, 1, 2, i, n]), int(i64::from(tr.weight_or(0))));
            t.insert(oid(r, &[4, 1, 3, i, n]), truth(tr.reverse));
        }
        for (k, tr) in inst.cfg.track_scripts.iter().enumerate() {
            let n = k as u32 + 1;
            let own = c.vrrp.scripts.iter().find(|s| s.name == tr.name);
            let weight = tr.weight_or(own.map_or(0, |s| s.weight));
            let reverse = tr.reverse || own.is_some_and(|s| s.weight_reverse);
            t.insert(oid(r, &[5, 1, 2, i, n]), text(&tr.name));
            t.insert(oid(r, &[5, 1, 3, i, n]), int(i64::from(weight)));
            t.insert(oid(r, &[5, 1, 4, i, n]), truth(reverse));
        }
    }
}

/// keepalived's `snmp_scope`: rtnetlink scopes as the MIB's IPv6 scope numbers.
fn scope(spec: &AddressSpec) -> i64 {
    let s = match spec.addr {
        IpAddr::V6(a) if a.segments()[0] & 0xffc0 == 0xfe80 => 253,
        _ => spec.scope,
    };
    match s {
        0 => 14,
        254 => 1,
        253 => 2,
        200 => 5,
        _ => 0,
    }
}

/// vrrpAddressTable, indexed (owner, n): the static addresses under owner 0, then each
/// instance's VIPs and eVIPs numbered on from 1. Like 2.2.7, only the first instance's VIPs
/// are shown as advertised.
fn addresses(c: &Config, eng: &Engine, t: &mut Tree) {
    let r = reg::KEEPALIVED_VRRP_ROOT;
    let ifmap = eng.ifmap.borrow();
    let mut row = |owner: u32, n: u32, a: &AddressSpec, ifname: &str, set: bool, adv: bool| {
        let mut put = |col: u32, v: Value| {
            t.insert(oid(r, &[6, 1, col, owner, n]), v);
        };
        let (ty, bytes) = match a.addr {
            IpAddr::V4(v) => (1, v.octets().to_vec()),
            IpAddr::V6(v) => (2, v.octets().to_vec()),
        };
        put(2, int(ty));
        put(3, Value::OctetString(bytes));
        if a.addr.is_ipv4() {
            let brd = a.broadcast.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED);
            put(4, Value::OctetString(brd.octets().to_vec()));
        }
        put(5, Value::Gauge32(u32::from(a.prefix)));
        put(6, int(scope(a)));
        put(7, int(i64::from(ifmap.get(ifname).copied().unwrap_or(0))));
        put(8, text(ifname));
        if let Some(l) = &a.label {
            put(9, text(l));
        }
        put(10, truth(set));
        put(11, truth(adv));
        if let Some(p) = a.peer {
            let b = match p {
                IpAddr::V4(v) => v.octets().to_vec(),
                IpAddr::V6(v) => v.octets().to_vec(),
            };
            put(12, Value::OctetString(b));
        }
    };
    for (k, a) in c.statics.addresses.iter().enumerate() {
        row(
            0,
            k as u32 + 1,
            a,
            a.dev.as_deref().unwrap_or(""),
            true,
            false,
        );
    }
    for (ii, inst) in eng.instances.iter().enumerate() {
        let vips = inst.cfg.vips.iter().map(|a| (a, ii == 0));
        let evips = inst.cfg.evips.iter().map(|a| (a, false));
        for (n, (a, adv)) in vips.chain(evips).enumerate() {
            let ifname = a.dev.as_deref().unwrap_or(&inst.link.ifname);
            row(ii as u32 + 1, n as u32 + 1, a, ifname, inst.vips_set, adv);
        }
    }
}

fn any_notify(n: &Notify) -> bool {
    n.master.is_some()
        || n.backup.is_some()
        || n.fault.is_some()
        || n.stop.is_some()
        || n.generic.is_some()
}

/// What a manager may change (keepalived's writable instance objects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// vrrpInstanceBasePriority of the instance at this position.
    Priority(usize, u8),
    /// vrrpInstancePreempt.
    Preempt(usize, bool),
}

/// A Set's test phase: the changes it asks for, or the SNMP error and the 1-based varbind
/// it is about. Like 2.2.7, a priority is taken from the value's low byte (0 refused).
pub fn test_set(eng: &Engine, varbinds: &[VarBind]) -> Result<Vec<Change>, (u16, u16)> {
    use crate::agentx::pdu::error;
    let column = oid(reg::KEEPALIVED_VRRP_ROOT, &[3, 1]);
    let mut out = Vec::new();
    for (k, vb) in varbinds.iter().enumerate() {
        let at = k as u16 + 1;
        let rest = vb.name.0.get(column.0.len()..).unwrap_or(&[]);
        let (col, row) = match (vb.name.starts_with(&column), rest) {
            (true, [col, row]) => (*col, *row as usize),
            _ => return Err((error::NOT_WRITABLE, at)),
        };
        if !matches!(col, 7 | 13) {
            return Err((error::NOT_WRITABLE, at));
        }
        let Value::Integer(v) = vb.value else {
            return Err((error::WRONG_TYPE, at));
        };
        if row == 0 || row > eng.instances.len() {
            return Err((error::NOT_WRITABLE, at));
        }
        out.push(match (col, v) {
            (7, v) if v & 0xff != 0 => Change::Priority(row - 1, (v & 0xff) as u8),
            (13, 1) => Change::Preempt(row - 1, true),
            (13, 2) => Change::Preempt(row - 1, false),
            _ => return Err((error::WRONG_VALUE, at)),
        });
    }
    Ok(out)
}

/// keepalived's trap state numbers: 0-3 as the tables, stop 5, deleted 6.
fn trap_state(s: NotifyState) -> i32 {
    match s {
        NotifyState::Backup => 1,
        NotifyState::Master => 2,
        NotifyState::Fault => 3,
        NotifyState::Stop => 5,
        NotifyState::Deleted => 6,
    }
}

/// `vrrpInstanceStateChange`. Like 2.2.7, the objects are named by their column, without
/// the instance's index.
pub fn instance_trap(
    router_id: &str,
    cfg: &model::vrrp::instance::Instance,
    st: NotifyState,
) -> (Oid, Vec<VarBind>) {
    let r = reg::KEEPALIVED_VRRP_ROOT;
    let vbs = vec![
        VarBind {
            name: oid(r, &[3, 1, 2]),
            value: text(&cfg.name),
        },
        VarBind {
            name: oid(r, &[3, 1, 4]),
            value: Value::Integer(trap_state(st)),
        },
        VarBind {
            name: oid(r, &[3, 1, 5]),
            value: int(configured_state(cfg.state)),
        },
        VarBind {
            name: oid(reg::GLOBAL_ROOT, &[2, 0]),
            value: text(router_id),
        },
    ];
    (oid(r, &[10, 0, 2]), vbs)
}

/// `vrrpSyncGroupStateChange`.
pub fn group_trap(router_id: &str, name: &str, st: State) -> (Oid, Vec<VarBind>) {
    let r = reg::KEEPALIVED_VRRP_ROOT;
    let state = match st {
        State::Stop => 5,
        s => state_num(s) as i32,
    };
    let vbs = vec![
        VarBind {
            name: oid(r, &[1, 1, 2]),
            value: text(name),
        },
        VarBind {
            name: oid(r, &[1, 1, 3]),
            value: Value::Integer(state),
        },
        VarBind {
            name: oid(reg::GLOBAL_ROOT, &[2, 0]),
            value: text(router_id),
        },
    ];
    (oid(r, &[10, 0, 1]), vbs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn scripts_shown_as_keepalived_quotes_them() {
        let s = Script {
            argv: vec!["/bin/sh".into(), "-c".into(), "exit 0".into()],
            text: String::new(),
            user: None,
            group: None,
            span: Default::default(),
        };
        let shown = script_text(&s);
        assert!(shown.ends_with("' '-c' 'exit 0'"), "{shown}");
        assert!(shown.starts_with('\''));
    }

    #[test]
    fn each_mib_registered_by_its_keyword() {
        let mut c = Config::default();
        assert!(agent(&c).is_none());
        c.global.enable_snmp_rfcv2 = true;
        let a = agent(&c).unwrap();
        assert!(a
            .registrations
            .iter()
            .all(|o| o.to_string().starts_with(".1.3.6.1.2.1.68.")));
        assert_eq!(a.caps.len(), 1);
        assert_eq!(a.caps[0].1, "The MIB module for VRRP");
        c.global.enable_snmp_vrrp = true;
        c.global.enable_snmp_rfcv3 = true;
        let descrs: Vec<String> = agent(&c).unwrap().caps.into_iter().map(|x| x.1).collect();
        let want = ["Keepalived", "KEEPALIVED-VRRP", "VRRP", "VRRPV3"]
            .map(|m| format!("The MIB module for {m}"));
        assert_eq!(descrs, want);
    }

    #[test]
    fn traps_carry_keepalived_objects() {
        let (trap, vbs) = group_trap("r1", "G1", State::Master);
        assert_eq!(trap.to_string(), ".1.3.6.1.4.1.9586.100.5.2.10.0.1");
        assert_eq!(vbs[1].value, Value::Integer(2));
        let (_, vbs) = group_trap("r1", "G1", State::Stop);
        assert_eq!(vbs[1].value, Value::Integer(5));
        assert_eq!(vbs[2].name.to_string(), ".1.3.6.1.4.1.9586.100.5.1.2.0");
    }
}

/// Where the engine's notifies become traps: empty without `enable_traps` or before the
/// session starts.
#[derive(Clone, Default)]
pub struct Traps(Rc<RefCell<Option<Sender>>>);

/// The session's notifier, the router_id and which MIBs' traps go out.
pub struct Sender {
    n: Notifier,
    rid: String,
    keepalived: bool,
    rfc: rfc::Gates,
}

/// What sends traps for this configuration, or `None` (keepalived's conditions:
/// `enable_traps` and the MIB's own keyword).
pub fn sender(c: &Config, n: Notifier) -> Option<Sender> {
    let g = &c.global;
    g.enable_traps.then(|| Sender {
        n,
        rid: router_id(c),
        keepalived: g.enable_snmp_vrrp,
        rfc: rfc::Gates {
            v2: g.enable_snmp_rfcv2,
            v3: g.enable_snmp_rfcv3,
        },
    })
}

impl Traps {
    /// Sends traps through this sender, or none.
    pub fn set(&self, to: Option<Sender>) {
        *self.0.borrow_mut() = to;
    }

    /// The standard MIBs' notifications.
    pub fn rfc(&self, ev: &rfc::Event) {
        let Some(s) = &*self.0.borrow() else {
            return;
        };
        let mut out = vec![rfc::notification(s.rfc, ev)];
        if let rfc::Event::NewMaster { at, reason } = ev {
            out.push(rfc::new_master_v3(s.rfc, at, *reason));
        }
        for (trap, vbs, line) in out.into_iter().flatten() {
            if crate::log::detail() > 0 {
                tracing::info!("{line}");
            }
            s.n.notify(trap, vbs);
        }
    }

    pub fn instance(&self, cfg: &model::vrrp::instance::Instance, st: NotifyState) {
        if let Some(Sender {
            n,
            rid,
            keepalived: true,
            ..
        }) = &*self.0.borrow()
        {
            if crate::log::detail() > 0 {
                tracing::info!("({}) Sending SNMP notification", cfg.name);
            }
            let (trap, vbs) = instance_trap(rid, cfg, st);
            n.notify(trap, vbs);
        }
    }

    pub fn group(&self, name: &str, st: State) {
        if let Some(Sender {
            n,
            rid,
            keepalived: true,
            ..
        }) = &*self.0.borrow()
        {
            if crate::log::detail() > 0 {
                tracing::info!("VRRP_Group({name}): Sending SNMP notification");
            }
            let (trap, vbs) = group_trap(rid, name, st);
            n.notify(trap, vbs);
        }
    }
}
