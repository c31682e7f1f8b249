//! `vrrp_instance NAME {... }`: the keyword table. Values
//! whose default depends on other settings stay `None` in [`Configured`] until
//! `vrrp::finish` resolves them.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::time::Duration;

use crate::config::diagnostic::Span;
use crate::config::model::addr::{self, AddrContext, AddressSpec, RouteSpec, RuleSpec};
use crate::config::model::{parse_bool, parse_int, parse_timer, Ctx, Kw, Script};
use crate::config::tree::Node;

use super::track::{track_block, TrackKind, TrackRef};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum State {
    Master,
    Backup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(a: &IpAddr) -> Family {
        match a {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    pub fn number(self) -> u8 {
        match self {
            Family::V4 => 4,
            Family::V6 => 6,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum AuthType {
    /// Cleartext password (VRRPv2 only).
    Pass,
    /// IPsec AH (IPv4 VRRPv2 only).
    Ah,
}

/// `authentication { auth_type ..; auth_pass .. }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Auth {
    pub kind: AuthType,
    /// At most 8 bytes (longer passwords are truncated, as keepalived does).
    pub pass: Vec<u8>,
}

/// `unicast_peer { IP [min_ttl N] [max_ttl N] }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
    pub span: Span,
}

/// `use_vmac [IFNAME] [MAC]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Vmac {
    pub ifname: Option<String>,
    /// 6 octets, or 5 octets to which the VRID is appended.
    pub mac: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum IpvlanMode {
    Bridge,
    Private,
    Vepa,
}

/// `use_ipvlan [IFNAME] [IP[/LEN]] [bridge|private|vepa]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Ipvlan {
    pub ifname: Option<String>,
    pub addr: Option<String>,
    pub mode: Option<IpvlanMode>,
}

/// `garp_extra_if [all] SECS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct GarpExtraIf {
    pub all: bool,
    pub interval: Duration,
}

/// The notify scripts of an instance or a sync group.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Notify {
    pub master: Option<Script>,
    pub backup: Option<Script>,
    pub fault: Option<Script>,
    pub stop: Option<Script>,
    /// The generic script, called with `INSTANCE|GROUP name state priority` appended.
    pub generic: Option<Script>,
}

/// Settings as written, before `finish` resolves defaults that depend on other settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Configured {
    pub state: Option<State>,
    pub state_span: Option<Span>,
    pub priority: Option<u8>,
    pub advert_int: Option<Duration>,
    pub version: Option<Version>,
    pub version_span: Option<Span>,
    pub native_ipv6: bool,
    pub strict: Option<bool>,
    pub accept: Option<bool>,
    pub skip_check_adv_addr: Option<bool>,
    pub garp_master_delay: Option<Duration>,
    pub garp_master_repeat: Option<u32>,
    pub garp_master_refresh: Option<Duration>,
    pub garp_master_refresh_repeat: Option<u32>,
    pub garp_lower_prio_delay: Option<Duration>,
    pub garp_lower_prio_repeat: Option<u32>,
    pub garp_extra_if: Option<GarpExtraIf>,
    pub down_timer_adverts: Option<u32>,
    pub lower_prio_no_advert: Option<bool>,
    pub higher_prio_send_advert: Option<bool>,
    pub smtp_alert: Option<bool>,
    pub notify_priority_changes: Option<bool>,
    /// `authentication` block seen with an `auth_type` but maybe no password.
    pub auth_type: Option<AuthType>,
    pub auth_pass: Option<Vec<u8>>,
    pub auth_span: Option<Span>,
    /// A unicast keyword (`unicast_src_ip`, `unicast_peer`, `check_unicast_src`) was used.
    pub unicast_keyword: Option<Span>,
    pub unicast_ttl_span: Option<Span>,
    pub nopreempt_span: Option<Span>,
    pub preempt_delay_span: Option<Span>,
    /// `v3_checksum_as_v2 [BOOL]` (keepalived 2.2.8); `None`: the global_defs default.
    pub v3_checksum_as_v2: Option<bool>,
    /// `no_virtual_ipaddress` (keepalived 2.2.8): no VIPs is intended.
    pub no_virtual_ipaddress: Option<Span>,
    pub timer_expired_backup_span: Option<Span>,
}

/// One `vrrp_instance`, with every default resolved after `vrrp::finish`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Instance {
    pub name: String,
    pub span: Span,
    /// Initial (wanted) state.
    pub state: State,
    pub interface: Option<String>,
    /// `None` only in a configuration that keepalived rejects.
    pub vrid: Option<u8>,
    pub priority: u8,
    pub advert_int: Duration,
    pub version: Version,
    pub family: Family,
    pub auth: Option<Auth>,
    pub vips: Vec<AddressSpec>,
    pub evips: Vec<AddressSpec>,
    pub vroutes: Vec<RouteSpec>,
    pub vrules: Vec<RuleSpec>,
    /// Where each `virtual_ipaddress` line was (also lines addr.rs rejected).
    pub vip_lines: Vec<Span>,
    pub evip_lines: Vec<Span>,
    pub nopreempt: bool,
    pub preempt_delay: Duration,
    pub track_interfaces: Vec<TrackRef>,
    /// Interfaces of static addresses, routes (`dev`) and rules (`iif`) whose
    /// `track_group` lists this instance: keepalived 2.2.7 faults the instance while one
    /// is down (its vrrp_static_track.c), without listing them as tracked interfaces.
    pub static_track_ifs: Vec<String>,
    pub track_scripts: Vec<TrackRef>,
    pub track_files: Vec<TrackRef>,
    pub track_processes: Vec<TrackRef>,
    pub track_bfds: Vec<TrackRef>,
    pub dont_track_primary: bool,
    pub unicast_src_ip: Option<IpAddr>,
    /// `mcast_src_ip` (or `unicast_src_ip`): the advert source address.
    pub src_ip: Option<IpAddr>,
    pub unicast_peers: Vec<UnicastPeer>,
    pub mcast_dst_ip: Option<IpAddr>,
    pub unicast_ttl: Option<u8>,
    pub unicast_fault_no_peer: bool,
    /// Set by `finish` when keepalived would keep the instance in FAULT for good.
    pub permanent_fault: bool,
    pub check_unicast_src: bool,
    /// `old_unicast_checksum`: `Some(true)` force old, `Some(false)` never, `None` detect.
    pub old_unicast_checksum: Option<bool>,
    /// `v3_checksum_as_v2` (keepalived 2.2.8): VRRPv3 IPv4 checksums without the
    /// pseudo-header, as VRRPv2 computes them.
    pub v3_checksum_as_v2: bool,
    /// `no_virtual_ipaddress` (keepalived 2.2.8), kept only when valid (not strict).
    pub no_virtual_ipaddress: bool,
    /// `timer_expired_backup [PRIO]` (keepalived 2.2.8): the highest priority of the other
    /// routers; with `nopreempt`, a master whose timers ran too late to have kept the
    /// role reverts to BACKUP. `None` when unset (or reset by `finish`).
    pub timer_expired_backup: Option<u8>,
    pub track_src_ip: bool,
    pub vmac: Option<Vmac>,
    pub vmac_xmit_base: bool,
    pub use_vmac_addr: bool,
    pub ipvlan: Option<Ipvlan>,
    pub vrf: Option<String>,
    pub accept: bool,
    pub strict: bool,
    pub skip_check_adv_addr: bool,
    pub promote_secondaries: bool,
    pub garp_master_delay: Duration,
    pub garp_master_repeat: u32,
    pub garp_master_refresh: Duration,
    pub garp_master_refresh_repeat: u32,
    pub garp_lower_prio_delay: Duration,
    pub garp_lower_prio_repeat: u32,
    pub garp_extra_if: Option<GarpExtraIf>,
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub notify: Notify,
    pub notify_deleted: bool,
    pub notify_deleted_script: Option<Script>,
    pub notify_master_rx_lower_pri: Option<Script>,
    pub notify_priority_changes: bool,
    pub smtp_alert: bool,
    pub kernel_rx_buf_size: Option<u64>,
    pub debug: u8,
    pub linkbeat_use_polling: bool,
    pub lvs_sync_daemon_interface: Option<String>,
    /// The sync group this instance belongs to (set by `finish`).
    pub sync_group: Option<String>,
    #[serde(skip)]
    pub set: Configured,
}

impl Instance {
    /// Traffic to and from the VIPs is dropped while MASTER (`no_accept`, the default under
    /// `vrrp_strict`); an address owner always accepts.
    pub fn drops_vip_traffic(&self) -> bool {
        !self.accept && self.priority != 255
    }

    pub fn new(name: &str, span: Span) -> Self {
        Instance {
            name: name.to_owned(),
            span,
            state: State::Backup,
            interface: None,
            vrid: None,
            priority: 100,
            advert_int: Duration::from_secs(1),
            version: Version::V2,
            family: Family::V4,
            auth: None,
            vips: Vec::new(),
            evips: Vec::new(),
            vroutes: Vec::new(),
            vrules: Vec::new(),
            vip_lines: Vec::new(),
            evip_lines: Vec::new(),
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            track_interfaces: Vec::new(),
            static_track_ifs: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            track_bfds: Vec::new(),
            dont_track_primary: false,
            unicast_src_ip: None,
            src_ip: None,
            unicast_peers: Vec::new(),
            mcast_dst_ip: None,
            unicast_ttl: None,
            unicast_fault_no_peer: false,
            permanent_fault: false,
            check_unicast_src: false,
            old_unicast_checksum: None,
            v3_checksum_as_v2: false,
            no_virtual_ipaddress: false,
            timer_expired_backup: None,
            track_src_ip: false,
            vmac: None,
            vmac_xmit_base: false,
            use_vmac_addr: false,
            ipvlan: None,
            vrf: None,
            accept: true,
            strict: false,
            skip_check_adv_addr: false,
            promote_secondaries: false,
            garp_master_delay: Duration::from_secs(5),
            garp_master_repeat: 5,
            garp_master_refresh: Duration::ZERO,
            garp_master_refresh_repeat: 1,
            garp_lower_prio_delay: Duration::from_secs(5),
            garp_lower_prio_repeat: 5,
            garp_extra_if: None,
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            notify: Notify::default(),
            notify_deleted: false,
            notify_deleted_script: None,
            notify_master_rx_lower_pri: None,
            notify_priority_changes: false,
            smtp_alert: false,
            kernel_rx_buf_size: None,
            debug: 0,
            linkbeat_use_polling: false,
            lvs_sync_daemon_interface: None,
            sync_group: None,
            set: Configured::default(),
        }
    }

    /// Unicast mode: at least one peer.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    /// The family known so far from VIPs, source address, peers or `native_ipv6`.
    fn known_family(&self) -> Option<Family> {
        if self.set.native_ipv6 {
            return Some(Family::V6);
        }
        self.vips
            .first()
            .map(|v| Family::of(&v.addr))
            .or(self.src_ip.as_ref().map(Family::of))
            .or(self.unicast_peers.first().map(|p| Family::of(&p.addr)))
    }
}

/// An optional boolean with keepalived's per-keyword message on a bad value.
fn opt_bool(i: &Instance, n: &Node, ctx: &mut Ctx, what: &str) -> Option<bool> {
    match n.arg(0) {
        None => Some(true),
        Some(t) => match parse_bool(&t.text) {
            Some(b) => Some(b),
            None => {
                ctx.error(
                    t.span,
                    format!("({}) invalid {} {} specified", i.name, what, t.text),
                );
                None
            }
        },
    }
}

/// A whole-seconds value (`garp_master_delay`...) as keepalived reads it.
fn secs(i: &Instance, n: &Node, ctx: &mut Ctx, msg: impl Fn(&str, &str) -> String) -> Option<u64> {
    let t = ctx.need(n, 0)?;
    match parse_int(&t.text) {
        Some(v) if (0..=i64::from(u32::MAX / 1_000_000)).contains(&v) => Some(v.unsigned_abs()),
        _ => {
            ctx.error(t.span, msg(&i.name, &t.text));
            None
        }
    }
}

/// A repeat count: 0 → 1 with an error for the master repeats.
fn repeat(i: &Instance, n: &Node, ctx: &mut Ctx, what: &str, zero_to_one: bool) -> Option<u32> {
    let t = ctx.need(n, 0)?;
    match parse_int(&t.text) {
        Some(0) if zero_to_one => {
            ctx.error(
                t.span,
                format!(
                    "({}): {} must be greater than 0, setting to 1",
                    i.name, what
                ),
            );
            Some(1)
        }
        Some(v) if (0..=i64::from(u32::MAX)).contains(&v) => u32::try_from(v).ok(),
        _ => {
            ctx.error(
                t.span,
                format!("({}): {} '{}' invalid - ignoring", i.name, what, t.text),
            );
            None
        }
    }
}

fn notify_slot(
    slot: &mut Option<Script>,
    owner: &str,
    what: &str,
    n: &Node,
    ctx: &mut Ctx,
    group: bool,
) {
    if slot.is_some() {
        let text = n.arg(0).map_or("", |t| t.text.as_str());
        let msg = if group {
            format!("vrrp group {owner}: {what} script already specified - ignoring {text}")
        } else {
            format!("({owner}) {what} script already specified - ignoring {text}")
        };
        ctx.error(n.span(), msg);
        return;
    }
    if let Some(s) = ctx.script(n) {
        *slot = Some(s);
    }
}

pub(crate) fn notify_kw(notify: &mut Notify, owner: &str, n: &Node, ctx: &mut Ctx, group: bool) {
    let (slot, what) = match n.name() {
        "notify_master" => (&mut notify.master, "notify_master"),
        "notify_backup" => (&mut notify.backup, "notify_backup"),
        "notify_fault" => (&mut notify.fault, "notify_fault"),
        "notify_stop" => (&mut notify.stop, "notify_stop"),
        _ => (&mut notify.generic, "notify"),
    };
    notify_slot(slot, owner, what, n, ctx, group);
}

fn parse_mac(s: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(5..=6).contains(&parts.len()) {
        return None;
    }
    parts
        .iter()
        .map(|p| {
            if p.is_empty() || p.len() > 2 {
                None
            } else {
                u8::from_str_radix(p, 16).ok()
            }
        })
        .collect()
}

fn vip_block(i: &mut Instance, n: &Node, ctx: &mut Ctx, excluded: bool) {
    for line in n.children() {
        let spec = addr::address_line(line, ctx, AddrContext::Virtual);
        if excluded {
            i.evip_lines.push(line.span());
            if let Some(s) = spec {
                i.evips.push(s);
            }
            continue;
        }
        i.vip_lines.push(line.span());
        let Some(s) = spec else { continue };
        // all VIPs share the instance family; eVIPs may mix
        if let Some(f) = i.known_family() {
            if f != Family::of(&s.addr) {
                ctx.error(
                    line.span(),
                    format!(
                        "({}): address family must match VRRP instance [{}] - ignoring",
                        i.name,
                        line.name()
                    ),
                );
                continue;
            }
        }
        i.vips.push(s);
    }
}

fn src_ip(i: &mut Instance, n: &Node, ctx: &mut Ctx) -> Option<IpAddr> {
    let t = ctx.need(n, 0)?;
    let Some(a) = crate::config::model::parse_sockaddr_ip(&t.text) else {
        ctx.error(
            t.span,
            format!(
                "Configuration error: VRRP instance[{}] malformed src address[{}]. Skipping...",
                i.name, t.text
            ),
        );
        return None;
    };
    if i.known_family().is_some_and(|f| f != Family::of(&a)) {
        ctx.error(
            t.span,
            format!(
                "Configuration error: VRRP instance[{}] and src address[{}] MUST be of the same family !!! Skipping...",
                i.name, t.text
            ),
        );
        return None;
    }
    Some(a)
}

fn unicast_peers(i: &mut Instance, n: &Node, ctx: &mut Ctx) {
    i.set.unicast_keyword.get_or_insert(n.span());
    for line in n.children() {
        let Some(a) = crate::config::model::parse_sockaddr_ip(line.name()) else {
            ctx.error(
                line.span(),
                format!(
                    "Configuration error: VRRP instance[{}] malformed unicast peer address[{}]. Skipping...",
                    i.name,
                    line.name()
                ),
            );
            continue;
        };
        if i.known_family().is_some_and(|f| f != Family::of(&a)) {
            ctx.error(
                line.span(),
                format!(
                    "Configuration error: VRRP instance[{}] and unicast peer address[{}] MUST be of the same family !!! Skipping...",
                    i.name,
                    line.name()
                ),
            );
            continue;
        }
        let mut peer = UnicastPeer {
            addr: a,
            min_ttl: None,
            max_ttl: None,
            span: line.span(),
        };
        let mut k = 0;
        while let Some(opt) = line.arg(k) {
            let slot = match opt.text.as_str() {
                "min_ttl" => &mut peer.min_ttl,
                "max_ttl" => &mut peer.max_ttl,
                other => {
                    ctx.error(
                        opt.span,
                        format!("({}) unknown unicast_peer option {}", i.name, other),
                    );
                    k += 1;
                    continue;
                }
            };
            match line.arg(k + 1) {
                Some(v) => match parse_int(&v.text) {
                    Some(x) if (0..=255).contains(&x) => *slot = Some(x as u8),
                    _ => ctx.error(
                        v.span,
                        format!(
                            "({}): TTL '{}' not valid - must be between 0 & 255",
                            i.name, v.text
                        ),
                    ),
                },
                None => ctx.error(
                    opt.span,
                    format!("({}) {} is missing a value", i.name, opt.text),
                ),
            }
            k += 2;
        }
        if let (Some(lo), Some(hi)) = (peer.min_ttl, peer.max_ttl) {
            if lo > hi {
                ctx.error(
                    line.span(),
                    format!(
                        "({}) min_ttl {} > max_ttl {} - all packets will be discarded",
                        i.name, lo, hi
                    ),
                );
            }
        }
        i.unicast_peers.push(peer);
    }
}

fn auth_block(i: &mut Instance, n: &Node, ctx: &mut Ctx) {
    i.set.auth_span = Some(n.span());
    for line in n.children() {
        match line.name() {
            "auth_type" => {
                let Some(t) = ctx.need(line, 0) else { continue };
                match t.text.as_str() {
                    "PASS" => i.set.auth_type = Some(AuthType::Pass),
                    "AH" => i.set.auth_type = Some(AuthType::Ah),
                    other => ctx.error(
                        t.span,
                        format!("({}) unknown authentication type '{}'", i.name, other),
                    ),
                }
            }
            "auth_pass" => {
                let Some(t) = ctx.need(line, 0) else { continue };
                let mut pass = t.text.as_bytes().to_vec();
                if pass.len() > 8 {
                    // keepalived truncates; a PASS field holds 8 bytes
                    ctx.error(t.span, "Truncating auth_pass to 8 characters");
                    pass.truncate(8);
                }
                i.set.auth_pass = Some(pass);
            }
            _ => ctx.unknown_keyword(line, ["auth_type", "auth_pass"]),
        }
    }
}

fn garp_extra_if(i: &mut Instance, n: &Node, ctx: &mut Ctx) {
    let mut args = n.args.iter();
    let mut all = false;
    let mut t = args.next();
    if t.is_some_and(|t| t.text == "all") {
        all = true;
        t = args.next();
    }
    let Some(t) = t else {
        ctx.error(
            n.span(),
            format!(
                "({}): {} specified without time - ignoring",
                i.name,
                n.name()
            ),
        );
        return;
    };
    match parse_int(&t.text) {
        Some(v) if (1..=86400).contains(&v) => {
            i.set.garp_extra_if = Some(GarpExtraIf {
                all,
                interval: Duration::from_secs(v.unsigned_abs()),
            })
        }
        _ => ctx.error(
            t.span,
            format!("({}): {} '{}' invalid - ignoring", i.name, n.name(), t.text),
        ),
    }
}

/// Every keyword keepalived 2.2.7 accepts in `vrrp_instance`.
pub(crate) static INSTANCE_KW: &[Kw<Instance>] = &[
    Kw::new("use_vmac", |i, n, ctx| {
        let mut v = Vmac::default();
        for t in &n.args {
            if let Some(mac) = parse_mac(&t.text) {
                if v.mac.is_some() {
                    ctx.error(t.span, "VMAC interface address already specified");
                } else if mac.first().is_some_and(|b| b & 1 == 1) {
                    ctx.error(
                        t.span,
                        format!("VMAC MAC address is multicast {} - ignoring", t.text),
                    );
                } else if mac.starts_with(&[0, 0, 0x5e, 0, 1])
                    || mac.starts_with(&[0, 0, 0x5e, 0, 2])
                {
                    ctx.error(
                        t.span,
                        format!(
                            "VMAC MAC address not allowed to be RFC5798 address ({}) - ignoring",
                            t.text
                        ),
                    );
                } else {
                    v.mac = Some(mac);
                }
            } else if t.text.contains(':') && !t.text.contains('.') {
                ctx.error(t.span, format!("VMAC invalid MAC address {}", t.text));
            } else if v.ifname.is_some() {
                ctx.error(t.span, "VMAC interface name already specified");
            } else if t.text.len() > 15 || t.text.contains('/') || t.text.contains(' ') {
                ctx.error(
                    t.span,
                    format!(
                        "VMAC interface name '{}' too long or invalid characters - ignoring",
                        t.text
                    ),
                );
            } else {
                v.ifname = Some(t.text.clone());
            }
        }
        i.vmac = Some(v);
    }),
    Kw::new("vmac_xmit_base", |i, _n, _ctx| i.vmac_xmit_base = true),
    Kw::new("use_vmac_addr", |i, _n, _ctx| i.use_vmac_addr = true),
    Kw::new("use_ipvlan", |i, n, ctx| {
        if i.ipvlan.is_some() {
            ctx.error(
                n.span(),
                format!("({}) use_ipvlan already specified", i.name),
            );
            return;
        }
        let mut v = Ipvlan::default();
        for t in &n.args {
            let mode = match t.text.as_str() {
                "bridge" => Some(IpvlanMode::Bridge),
                "private" => Some(IpvlanMode::Private),
                "vepa" => Some(IpvlanMode::Vepa),
                _ => None,
            };
            if let Some(m) = mode {
                if v.mode.is_some() {
                    ctx.error(
                        t.span,
                        format!(
                            "({}) ipvlan type already specified - ignoring '{}'",
                            i.name, t.text
                        ),
                    );
                } else {
                    v.mode = Some(m);
                }
            } else if t
                .text
                .split('/')
                .next()
                .is_some_and(|a| a.parse::<IpAddr>().is_ok())
            {
                if v.addr.is_some() {
                    ctx.error(
                        t.span,
                        format!(
                            "({}) ipvlan address already specified - ignoring '{}'",
                            i.name, t.text
                        ),
                    );
                } else {
                    v.addr = Some(t.text.clone());
                }
            } else if v.ifname.is_some() {
                ctx.error(
                    t.span,
                    format!(
                        "({}) IPVLAN interface already specified - ignoring '{}'",
                        i.name, t.text
                    ),
                );
            } else if t.text.len() > 15 {
                ctx.error(
                    t.span,
                    format!(
                        "({}) IPVLAN interface name '{}' too long - ignoring",
                        i.name, t.text
                    ),
                );
            } else {
                v.ifname = Some(t.text.clone());
            }
        }
        i.ipvlan = Some(v);
    }),
    Kw::new("unicast_peer", unicast_peers),
    Kw::new("unicast_fault_no_peer", |i, n, _ctx| {
        // A unicast keyword itself (keepalived's vrrp_parser.c): alone, it faults too.
        i.set.unicast_keyword.get_or_insert(n.span());
        i.unicast_fault_no_peer = true
    }),
    Kw::new("old_unicast_checksum", |i, n, ctx| match n.arg(0) {
        None => i.old_unicast_checksum = Some(true),
        Some(t) if t.text == "never" => i.old_unicast_checksum = Some(false),
        Some(t) => ctx.error(
            t.span,
            format!(
                "({}) Unknown old_unicast_chksum mode {} - ignoring",
                i.name, t.text
            ),
        ),
    }),
    // keepalived 2.2.8 (ours only: 2.2.7 rejects it)
    Kw::new("v3_checksum_as_v2", |i, n, ctx| {
        ctx.added_in_228(n);
        if let Some(b) = opt_bool(i, n, ctx, "v3_checksum_as_v2") {
            i.set.v3_checksum_as_v2 = Some(b);
        }
    }),
    Kw::new("native_ipv6", |i, n, ctx| {
        if i.known_family() == Some(Family::V4) {
            ctx.error(
                n.span(),
                format!(
                    "({}) Cannot specify native_ipv6 with IPv4 addresses",
                    i.name
                ),
            );
            return;
        }
        i.set.native_ipv6 = true;
    }),
    Kw::new("state", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match t.text.as_str() {
            "MASTER" => i.set.state = Some(State::Master),
            "BACKUP" => {
                if i.set.state == Some(State::Master) {
                    ctx.error(
                        t.span,
                        format!(
                            "({}) state previously set as MASTER - ignoring BACKUP",
                            i.name
                        ),
                    );
                    return;
                }
                i.set.state = Some(State::Backup);
            }
            other => {
                ctx.error(
                    t.span,
                    format!(
                        "({}) unknown state '{}', defaulting to BACKUP",
                        i.name, other
                    ),
                );
                i.set.state = Some(State::Backup);
            }
        }
        i.set.state_span = Some(n.span());
    }),
    Kw::new("interface", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        if t.text.len() > 15 {
            ctx.error(
                t.span,
                format!("Interface name '{}' too long - ignoring", t.text),
            );
            return;
        }
        i.interface = Some(t.text.clone());
    }),
    Kw::new("dont_track_primary", |i, _n, _ctx| {
        i.dont_track_primary = true
    }),
    Kw::new("track_interface", |i, n, ctx| {
        let v = track_block(n, TrackKind::Interface, &i.name, ctx);
        i.track_interfaces.extend(v);
    }),
    Kw::new("track_script", |i, n, ctx| {
        let v = track_block(n, TrackKind::Script, &i.name, ctx);
        i.track_scripts.extend(v);
    }),
    Kw::new("track_file", |i, n, ctx| {
        let v = track_block(n, TrackKind::File, &i.name, ctx);
        i.track_files.extend(v);
    }),
    Kw::new("track_process", |i, n, ctx| {
        let v = track_block(n, TrackKind::Process, &i.name, ctx);
        i.track_processes.extend(v);
    }),
    Kw::new("track_bfd", |i, n, ctx| {
        let v = track_block(n, TrackKind::Bfd, &i.name, ctx);
        i.track_bfds.extend(v);
    }),
    Kw::new("mcast_src_ip", |i, n, ctx| {
        if let Some(a) = src_ip(i, n, ctx) {
            i.src_ip = Some(a);
        }
    }),
    Kw::new("unicast_src_ip", |i, n, ctx| {
        i.set.unicast_keyword.get_or_insert(n.span());
        if let Some(a) = src_ip(i, n, ctx) {
            i.src_ip = Some(a);
            i.unicast_src_ip = Some(a);
        }
    }),
    Kw::new("mcast_dst_ip", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        let Some(a) = crate::config::model::parse_sockaddr_ip(&t.text) else {
            ctx.error(
                t.span,
                format!(
                    "({}) malformed mcast dest address {}. Skipping...",
                    i.name, t.text
                ),
            );
            return;
        };
        if i.known_family().is_some_and(|f| f != Family::of(&a)) {
            ctx.error(
                t.span,
                format!(
                    "({}) mcast dest address {} MUST match VRRP instance family. Skipping...",
                    i.name, t.text
                ),
            );
            return;
        }
        let ok = match a {
            IpAddr::V4(v) => v.is_multicast(),
            // IPv6 groups must be link-local scope: ffX2::
            IpAddr::V6(v) => v.octets()[0] == 0xff && v.octets()[1] & 0x0f == 2,
        };
        if !ok {
            let extra = if a.is_ipv6() { " link-local" } else { "" };
            ctx.error(
                t.span,
                format!(
                    "({}) mcast_dst_ip {} not{} multicast. Skipping...",
                    i.name, t.text, extra
                ),
            );
            return;
        }
        i.mcast_dst_ip = Some(a);
    }),
    Kw::unimplemented(
        "track_src_ip",
        "keepalived 2.2.7 never acts on it either (observed)",
        |i, _n, _ctx| i.track_src_ip = true,
    ),
    Kw::new("virtual_router_id", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(v) if (1..=255).contains(&v) => i.vrid = Some(v as u8),
            _ => ctx.error(
                t.span,
                format!(
                    "({}): VRID '{}' not valid - must be between 1 & 255",
                    i.name, t.text
                ),
            ),
        }
    }),
    Kw::new("version", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(2) => i.set.version = Some(Version::V2),
            Some(3) => i.set.version = Some(Version::V3),
            _ => {
                ctx.error(
                    t.span,
                    format!("({}): Version must be either 2 or 3", i.name),
                );
                return;
            }
        }
        i.set.version_span = Some(n.span());
    }),
    Kw::new("unicast_ttl", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(v) if (0..=255).contains(&v) => {
                i.unicast_ttl = Some(v as u8);
                i.set.unicast_ttl_span = Some(n.span());
            }
            _ => ctx.error(
                t.span,
                format!(
                    "({}): TTL '{}' not valid - must be between 0 & 255",
                    i.name, t.text
                ),
            ),
        }
    }),
    Kw::new("check_unicast_src", |i, n, _ctx| {
        // counts as a unicast keyword for the "no peers" check (observed)
        i.set.unicast_keyword.get_or_insert(n.span());
        i.check_unicast_src = true;
    }),
    Kw::new("priority", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(v) if (1..=255).contains(&v) => i.set.priority = Some(v as u8),
            _ => {
                ctx.error(
                    t.span,
                    format!(
                        "({}) Priority not valid! must be between 1 & 255. Using default 100",
                        i.name
                    ),
                );
                i.set.priority = Some(100);
            }
        }
    }),
    Kw::new("advert_int", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_timer(&t.text) {
            Ok(d) if d >= Duration::from_millis(10) && d <= Duration::from_secs(255) => {
                i.set.advert_int = Some(d)
            }
            _ => ctx.error(
                t.span,
                format!(
                    "({}) Advert interval ({}) not valid! Must be > 0 - ignoring",
                    i.name, t.text
                ),
            ),
        }
    }),
    Kw::new("virtual_ipaddress", |i, n, ctx| vip_block(i, n, ctx, false)),
    Kw::new("virtual_ipaddress_excluded", |i, n, ctx| {
        vip_block(i, n, ctx, true)
    }),
    // keepalived 2.2.8 (ours only: 2.2.7 rejects it)
    Kw::new("no_virtual_ipaddress", |i, n, ctx| {
        ctx.added_in_228(n);
        i.set.no_virtual_ipaddress = Some(n.span());
    }),
    Kw::new("promote_secondaries", |i, _n, _ctx| {
        i.promote_secondaries = true
    }),
    Kw::new("virtual_routes", |i, n, ctx| {
        for line in n.children() {
            if let Some(r) = addr::route_line(line, ctx) {
                i.vroutes.push(r);
            }
        }
    }),
    Kw::new("virtual_rules", |i, n, ctx| {
        for line in n.children() {
            if let Some(r) = addr::rule_line(line, ctx) {
                i.vrules.push(r);
            }
        }
    }),
    Kw::new("accept", |i, _n, _ctx| i.set.accept = Some(true)),
    Kw::new("no_accept", |i, _n, _ctx| i.set.accept = Some(false)),
    Kw::new("skip_check_adv_addr", |i, n, ctx| {
        if let Some(b) = opt_bool(i, n, ctx, "skip_check_adv_addr") {
            i.set.skip_check_adv_addr = Some(b);
        }
    }),
    Kw::new("strict_mode", |i, n, ctx| {
        if let Some(b) = opt_bool(i, n, ctx, "strict_mode") {
            i.set.strict = Some(b);
        }
    }),
    Kw::new("preempt", |i, _n, _ctx| {
        // a no-op kept for old configurations: clears nopreempt
        i.nopreempt = false;
        i.set.nopreempt_span = None;
    }),
    Kw::new("nopreempt", |i, n, _ctx| {
        i.nopreempt = true;
        i.set.nopreempt_span = Some(n.span());
    }),
    Kw::new("preempt_delay", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_timer(&t.text) {
            Ok(d) if d <= Duration::from_secs(1000) => {
                i.preempt_delay = d;
                i.set.preempt_delay_span = Some(n.span());
            }
            _ => {
                ctx.error(
                    t.span,
                    format!(
                        "({}) Preempt_delay not valid! must be between 0-1000",
                        i.name
                    ),
                );
                i.preempt_delay = Duration::ZERO;
            }
        }
    }),
    Kw::new("debug", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(v) if (0..=4).contains(&v) => i.debug = v as u8,
            _ => ctx.error(
                t.span,
                format!(
                    "({}) Debug value '{}' not valid; must be between 0-4",
                    i.name, t.text
                ),
            ),
        }
    }),
    Kw::new("notify_backup", |i, n, ctx| {
        notify_kw(&mut i.notify, &i.name, n, ctx, false)
    }),
    Kw::new("notify_master", |i, n, ctx| {
        notify_kw(&mut i.notify, &i.name, n, ctx, false)
    }),
    Kw::new("notify_fault", |i, n, ctx| {
        notify_kw(&mut i.notify, &i.name, n, ctx, false)
    }),
    Kw::new("notify_stop", |i, n, ctx| {
        notify_kw(&mut i.notify, &i.name, n, ctx, false)
    }),
    Kw::new("notify", |i, n, ctx| {
        notify_kw(&mut i.notify, &i.name, n, ctx, false)
    }),
    Kw::new("notify_deleted", |i, n, ctx| {
        if i.notify_deleted {
            let text = n.arg(0).map_or("", |t| t.text.as_str());
            ctx.error(
                n.span(),
                format!(
                    "({}) notify_deleted already specified - ignoring {}",
                    i.name, text
                ),
            );
            return;
        }
        i.notify_deleted = true;
        if n.arg(0).is_some() {
            i.notify_deleted_script = ctx.script(n);
        }
    }),
    Kw::new("notify_master_rx_lower_pri", |i, n, ctx| {
        notify_slot(
            &mut i.notify_master_rx_lower_pri,
            &i.name,
            "notify_master_rx_lower_pri",
            n,
            ctx,
            false,
        )
    }),
    Kw::new("smtp_alert", |i, n, ctx| match n.arg(0) {
        None => i.set.smtp_alert = Some(true),
        Some(t) => match parse_bool(&t.text) {
            Some(b) => i.set.smtp_alert = Some(b),
            None => ctx.error(
                t.span,
                format!("Invalid vrrp_instance smtp_alert parameter {}", t.text),
            ),
        },
    }),
    Kw::new("notify_priority_changes", |i, n, ctx| match n.arg(0) {
        None => i.set.notify_priority_changes = Some(true),
        Some(t) => match parse_bool(&t.text) {
            Some(b) => i.set.notify_priority_changes = Some(b),
            None => ctx.error(
                t.span,
                format!(
                    "({}) Invalid value '{}' for notify_priority_changes specified",
                    i.name, t.text
                ),
            ),
        },
    }),
    Kw::new("authentication", auth_block),
    Kw::new("garp_master_delay", |i, n, ctx| {
        if let Some(v) = secs(i, n, ctx, |name, v| {
            format!("({name}): garp_master_delay '{v}' invalid - ignoring")
        }) {
            i.set.garp_master_delay = Some(Duration::from_secs(v));
        }
    }),
    Kw::new("garp_master_repeat", |i, n, ctx| {
        if let Some(v) = repeat(i, n, ctx, "garp_master_repeat", true) {
            i.set.garp_master_repeat = Some(v);
        }
    }),
    Kw::new("garp_master_refresh", |i, n, ctx| {
        if let Some(v) = secs(i, n, ctx, |name, v| {
            format!("({name}): Invalid garp_master_refresh '{v}' - ignoring")
        }) {
            i.set.garp_master_refresh = Some(Duration::from_secs(v));
        }
    }),
    Kw::new("garp_master_refresh_repeat", |i, n, ctx| {
        if let Some(v) = repeat(i, n, ctx, "garp_master_refresh_repeat", true) {
            i.set.garp_master_refresh_repeat = Some(v);
        }
    }),
    Kw::new("garp_lower_prio_delay", |i, n, ctx| {
        if let Some(v) = secs(i, n, ctx, |name, v| {
            format!("({name}): garp_lower_prio_delay '{v}' invalid - ignoring")
        }) {
            i.set.garp_lower_prio_delay = Some(Duration::from_secs(v));
        }
    }),
    Kw::new("garp_lower_prio_repeat", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(v) if (0..=i64::from(u32::MAX)).contains(&v) => {
                i.set.garp_lower_prio_repeat = Some(v as u32)
            }
            _ => ctx.error(
                t.span,
                format!("({}): Invalid garp_lower_prio_repeat '{}'", i.name, t.text),
            ),
        }
    }),
    Kw::new("down_timer_adverts", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(v) if (1..=100).contains(&v) => i.set.down_timer_adverts = Some(v as u32),
            _ => ctx.error(
                t.span,
                format!(
                    "({}): Invalid down_timer_adverts [1:100] '{}'",
                    i.name, t.text
                ),
            ),
        }
    }),
    // keepalived 2.2.8 (ours only: 2.2.7 rejects it)
    Kw::new("timer_expired_backup", |i, n, ctx| {
        ctx.added_in_228(n);
        // without a value: 254, the quickest another router can take over
        let prio = match n.arg(0) {
            None => 254,
            Some(t) => match parse_int(&t.text) {
                Some(v) if (1..=254).contains(&v) => v as u8,
                _ => {
                    // keepalived's message, its stray space included
                    ctx.error(
                        t.span,
                        format!(
                            "({}) timer_expired _backup highest_other_priority not valid! must be between 1 & 254",
                            i.name
                        ),
                    );
                    return;
                }
            },
        };
        i.timer_expired_backup = Some(prio);
        i.set.timer_expired_backup_span = Some(n.span());
    }),
    Kw::new("lower_prio_no_advert", |i, n, ctx| {
        if let Some(b) = opt_bool(i, n, ctx, "lower_prio_no_advert") {
            i.set.lower_prio_no_advert = Some(b);
        }
    }),
    Kw::new("higher_prio_send_advert", |i, n, ctx| {
        if let Some(b) = opt_bool(i, n, ctx, "higher_prio_send_advert") {
            i.set.higher_prio_send_advert = Some(b);
        }
    }),
    Kw::new("kernel_rx_buf_size", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(v) if v > 0 => i.kernel_rx_buf_size = Some(v.unsigned_abs()),
            _ => ctx.error(
                t.span,
                format!("({}) invalid kernel_rx_buf_size specified", i.name),
            ),
        }
    }),
    Kw::new("vrf", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        if t.text.len() > 15 {
            ctx.error(
                t.span,
                format!(
                    "({}) VRF interface name '{}' too long - ignoring",
                    i.name, t.text
                ),
            );
        } else if i.interface.is_some() {
            ctx.error(
                t.span,
                format!(
                    "({}) Cannot specify VRF interface and interface - ignoring",
                    i.name
                ),
            );
        } else if let Some(old) = &i.vrf {
            ctx.error(
                t.span,
                format!(
                    "({}) VRF interface already specified as '{}' - ignoring",
                    i.name, old
                ),
            );
        } else {
            i.vrf = Some(t.text.clone());
        }
    }),
    Kw::new("garp_extra_if", garp_extra_if),
    Kw::new("vmac_garp_intvl", |i, n, ctx| {
        ctx.ka_deprecated(
            n,
            "Keyword \"vmac_garp_intvl\" is deprecated - please use \"garp_extra_if\"",
        );
        garp_extra_if(i, n, ctx);
    }),
    Kw::new("linkbeat_use_polling", |i, n, ctx| {
        ctx.error(
            n.span(),
            format!(
                "({}) 'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block",
                i.name
            ),
        );
        i.linkbeat_use_polling = true;
    }),
    Kw::new("lvs_sync_daemon_interface", |i, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        if let Some(old) = &i.lvs_sync_daemon_interface {
            ctx.error(
                t.span,
                format!(
                    "({}) lvs_sync_daemon_interface has already been specified as {} - ignoring",
                    i.name, old
                ),
            );
            return;
        }
        ctx.error(
            n.span(),
            format!(
                "({}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated. Please use global lvs_sync_daemon",
                i.name
            ),
        );
        i.lvs_sync_daemon_interface = Some(t.text.clone());
    }),
];
