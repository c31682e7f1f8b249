//! One running VRRP instance: its [`Machine`], the addresses and
//! sockets it uses, its statistics, and the translation of machine [`Action`]s into host I/O
//! ([`Io`]). Nothing here awaits: the service hands the [`Io`] list to its single I/O task,
//! which performs it in order, so a VIP removal can never overtake the addition before it.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use tracing::info;

use super::alerts::Sink;
use super::machine::{
    Action, FaultCause, Input, InstanceConfig, Machine, RxAdvert, State, TrackChange, Version,
};
use super::packet::{
    self, Advert, AhParams, AuthType, DropReason, Endpoints, Expect, ExpectAuth, Ipv4Params,
    Parsed, StatCounter, UnicastChecksum, UnicastPeer,
};
use crate::config::model::addr::{
    AddressSpec as ModelAddr, RouteMetrics, RouteMode, RouteSpec as ModelRoute, RouteType,
    RuleAction as ModelRuleAction, RuleSpec as ModelRule, LIFETIME_FOREVER,
};
use crate::config::model::global::RxBufsPolicy;
use crate::config::model::vrrp::instance as model;
use crate::config::model::vrrp::track::TrackRef;
use crate::net::{self, nft, AddrSpec, RouteKind, RuleAction, RuleSpec};

/// Where an instance's adverts travel: keepalived's sockpool key, without VMAC.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SockKey {
    pub ifindex: u32,
    pub ipv6: bool,
    /// Unicast source address; `None` for a multicast instance.
    pub unicast_src: Option<IpAddr>,
    /// The multicast group joined (multicast instances only).
    pub group: Option<IpAddr>,
    /// IPv4 AH instances receive on an IP protocol 51 socket.
    pub ah: bool,
}

/// keepalived's per-instance counters (`keepalived.stats` / json `stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub advert_rcvd: u64,
    pub advert_sent: u64,
    pub become_master: u64,
    pub release_master: u64,
    pub packet_len_err: u64,
    pub advert_interval_err: u64,
    pub ip_ttl_err: u64,
    pub invalid_type_rcvd: u64,
    pub addr_list_err: u64,
    pub invalid_authtype: u64,
    pub authtype_mismatch: u64,
    pub auth_failure: u64,
    pub pri_zero_rcvd: u64,
    pub pri_zero_sent: u64,
    /// Not in keepalived: lower-priority adverts a MASTER left unanswered (machine.rs,
    /// `Action::LowerPrioUnanswered`); shown after the instances in `keepalived.stats`.
    pub lower_prio_unanswered: u64,
}

impl Stats {
    fn bump(&mut self, c: StatCounter) {
        let slot = match c {
            StatCounter::PacketLenErr => &mut self.packet_len_err,
            StatCounter::IpTtlErr => &mut self.ip_ttl_err,
            StatCounter::InvalidTypeRcvd => &mut self.invalid_type_rcvd,
            StatCounter::AdvertIntervalErr => &mut self.advert_interval_err,
            StatCounter::AddrListErr => &mut self.addr_list_err,
            StatCounter::InvalidAuthtype => &mut self.invalid_authtype,
            StatCounter::AuthtypeMismatch => &mut self.authtype_mismatch,
            StatCounter::AuthFailure => &mut self.auth_failure,
        };
        *slot = slot.saturating_add(1);
    }

    /// The json `stats` object, keys in keepalived's order.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "advert_rcvd": self.advert_rcvd,
            "advert_sent": self.advert_sent,
            "become_master": self.become_master,
            "release_master": self.release_master,
            "packet_len_err": self.packet_len_err,
            "advert_interval_err": self.advert_interval_err,
            "ip_ttl_err": self.ip_ttl_err,
            "invalid_type_rcvd": self.invalid_type_rcvd,
            "addr_list_err": self.addr_list_err,
            "invalid_authtype": self.invalid_authtype,
            "authtype_mismatch": self.authtype_mismatch,
            "auth_failure": self.auth_failure,
            "pri_zero_rcvd": self.pri_zero_rcvd,
            "pri_zero_sent": self.pri_zero_sent,
        })
    }

    /// One instance's block of `keepalived.stats` (observed layout).
    pub fn to_text(&self, iname: &str) -> String {
        format!(
            "VRRP Instance: {iname}\n  Advertisements:\n    Received: {}\n    Sent: {}\n  \
             Became master: {}\n  Released master: {}\n  Packet Errors:\n    Length: {}\n    \
             TTL: {}\n    Invalid Type: {}\n    Advertisement Interval: {}\n    \
             Address List: {}\n  Authentication Errors:\n    Invalid Type: {}\n    \
             Type Mismatch: {}\n    Failure: {}\n  Priority Zero:\n    Received: {}\n    \
             Sent: {}\n",
            self.advert_rcvd,
            self.advert_sent,
            self.become_master,
            self.release_master,
            self.packet_len_err,
            self.ip_ttl_err,
            self.invalid_type_rcvd,
            self.advert_interval_err,
            self.addr_list_err,
            self.invalid_authtype,
            self.authtype_mismatch,
            self.auth_failure,
            self.pri_zero_rcvd,
            self.pri_zero_sent,
        )
    }
}

/// Host I/O an instance asks for, performed in order by the service's I/O task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Io {
    /// An advert for the socket of `key` (the service maps keys to its sockets).
    Send {
        key: SockKey,
        pkt: Vec<u8>,
        dst: IpAddr,
        iname: String,
    },
    AddAddr(AddrSpec),
    DelAddr(AddrSpec),
    AddRoute(net::RouteSpec),
    DelRoute(net::RouteSpec),
    AddRule(RuleSpec),
    DelRule(RuleSpec),
    /// `repeat` rounds of GARP / unsolicited NA for each address.
    Garp {
        iname: String,
        ifindex: u32,
        ifname: String,
        mac: [u8; 6],
        addrs: Vec<IpAddr>,
        repeat: u32,
    },
    /// The no_accept drop entries of an instance (empty when it leaves MASTER).
    Firewall {
        iname: String,
        entries: Vec<nft::DropEntry>,
    },
    /// The VMACs whose IGMP/MLD the firewall moves to their base interface.
    FirewallVmacs(Vec<nft::VmacEntry>),
    /// A VMAC was recreated: (old, new) interface index in the firewall's VMAC rules.
    FirewallRelink(u32, u32),
    /// Removes the firewall tables (shutdown).
    FirewallClose,
    /// An IPVS sync daemon command (`lvs_sync_daemon` following an instance, syncd.rs).
    Syncd(super::syncd::SyncdOp),
}

/// Settings from `global_defs` an instance needs.
#[derive(Debug, Clone)]
pub struct Globals {
    pub mcast_group4: Ipv4Addr,
    pub mcast_group6: Ipv6Addr,
    pub check_unicast_src: bool,
    pub strict: bool,
    /// `json_version` (keepalived 2.2.8): the layout of `keepalived.json`.
    pub json_version: u8,
    /// `dynamic_interfaces`: an instance whose interface is missing waits for it in FAULT.
    pub dynamic_interfaces: bool,
    /// `log_unknown_vrids`: adverts for a VRID no instance has are logged.
    pub log_unknown_vrids: bool,
}

/// What the host told us about the instance's interface at creation time.
#[derive(Debug, Clone)]
pub struct Link {
    pub ifindex: u32,
    pub ifname: String,
    pub mac: [u8; 6],
    pub up: bool,
    /// The advert source: configured, else primary IPv4 / link-local IPv6.
    pub src: Option<IpAddr>,
    /// With a VMAC `ifindex`/`ifname`/`mac` are the VMAC's; adverts use this
    /// (index, name) instead when they go out of the base interface (`vmac_xmit_base`).
    pub xmit: Option<(u32, String)>,
    /// VMACs carrying the instance's addresses of one family on one interface
    /// (`use_vmac_addr`, a VIP's `use_vmac`); their indexes are looked up by name, so a
    /// recreated one is found again.
    pub addr_vmacs: Vec<AddrVmac>,
    /// `use_ipvlan`: the VIPs stay on the base interface, adverts use the ipvlan (observed
    /// with keepalived 2.2.7).
    pub vips_on_base: bool,
    /// A VMAC or ipvlan of the instance that could not be made: it stays in FAULT, as in
    /// keepalived 2.2.7 (`Unable to create ipvlan interface vrrp.51`, then FAULT).
    pub missing: Option<String>,
    /// A unicast instance's `unicast_src_ip` that no interface has.
    pub src_unassigned: bool,
    /// The interface's MTU (`vrrp_rx_bufs_policy MTU`).
    pub mtu: u32,
}

/// A VMAC for addresses (see [`Link::addr_vmacs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrVmac {
    pub base: String,
    pub ipv6: bool,
    pub name: String,
    pub mac: [u8; 6],
}

impl Link {
    /// The interface adverts are sent and received on.
    pub fn xmit_ifindex(&self) -> u32 {
        self.xmit.as_ref().map_or(self.ifindex, |x| x.0)
    }

    pub fn xmit_ifname(&self) -> &str {
        self.xmit
            .as_ref()
            .map_or(self.ifname.as_str(), |x| x.1.as_str())
    }
}

/// The reload identity of an instance: VRID, family, interface (with the VMAC and
/// ipvlan settings appended), unicast flag and source, multicast group.
pub type Identity = (u8, bool, String, Option<IpAddr>, Option<IpAddr>);

/// One instance at run time.
pub struct Instance {
    pub cfg: model::Instance,
    pub machine: Machine,
    pub link: Link,
    pub key: SockKey,
    /// Whether the service has a send socket for `key` (without one no advert is built
    /// or counted).
    pub sock_open: bool,
    pub stats: Stats,
    /// What the standard VRRP MIBs show beyond `stats` (`snmp_rfc`).
    pub rfc: super::rfc_state::RfcState,
    pub last_transition: SystemTime,
    /// Whether our VIPs are (believed to be) on the host.
    pub vips_set: bool,
    /// Interface names to indexes, shared with the service (VIPs/routes with `dev`).
    pub ifmap: Rc<RefCell<HashMap<String, u32>>>,
    /// (sync group index, member index) when the instance is in a sync group; the group
    /// then feeds `machine` (lent to each group step), the instance never does.
    pub group: Option<(usize, usize)>,
    globals: Globals,
    /// Advert addresses: the VIPs of the instance's family, in config order.
    advert_addrs: Vec<IpAddr>,
    peers: Vec<UnicastPeer>,
    ip_id: u16,
    /// keepalived's single AH sequence counter: incremented per advert sent, raised to
    /// every accepted received sequence number, so a new master continues the old one's.
    ah_seq: u32,
    unicast_checksum: UnicastChecksum,
    /// The stop's priority-0 advert already went out ahead of the shutdown
    /// ([`Instance::release_first`]); the machine's release does not send it again.
    zero_sent: bool,
}

/// Maps the config model onto the machine's parameters.
pub fn machine_config(c: &model::Instance, src: Option<IpAddr>, strict: bool) -> InstanceConfig {
    let mut m = InstanceConfig::new(c.name.clone(), c.vrid.unwrap_or(0), c.priority);
    m.version = match c.version {
        model::Version::V2 => Version::V2,
        model::Version::V3 => Version::V3,
    };
    m.wants_master = c.state == model::State::Master;
    m.advert_int = c.advert_int;
    m.nopreempt = c.nopreempt;
    m.preempt_delay = c.preempt_delay;
    m.accept = c.accept;
    m.down_timer_adverts = c.down_timer_adverts;
    m.lower_prio_no_advert = c.lower_prio_no_advert;
    m.higher_prio_send_advert = c.higher_prio_send_advert;
    m.garp_master_delay = c.garp_master_delay;
    m.garp_master_repeat = c.garp_master_repeat;
    m.garp_master_refresh = c.garp_master_refresh;
    m.garp_master_refresh_repeat = c.garp_master_refresh_repeat;
    m.garp_lower_prio_delay = c.garp_lower_prio_delay;
    m.garp_lower_prio_repeat = c.garp_lower_prio_repeat;
    m.garp_extra_if = c.garp_extra_if.map_or(Duration::ZERO, |g| g.interval);
    m.src_addr = src;
    m.strict = c.strict || strict;
    m.ipv6 = c.family == model::Family::V6;
    m.timer_expired_backup = c.timer_expired_backup;
    m
}

/// The identity of a configured instance.
pub fn identity(c: &model::Instance, g: &Globals) -> Identity {
    let ipv6 = c.family == model::Family::V6;
    let unicast = !c.unicast_peers.is_empty();
    let group = if unicast { None } else { Some(group_of(c, g)) };
    let mut ifname = c.interface.clone().unwrap_or_default();
    if let Some(v) = &c.vmac {
        let _ = write!(
            ifname,
            " vmac {} {:?} {}",
            v.ifname.as_deref().unwrap_or(""),
            super::vmac::mac_for(c),
            c.vmac_xmit_base
        );
    }
    if let Some(v) = &c.ipvlan {
        let _ = write!(ifname, " ipvlan {v:?}");
    }
    (
        c.vrid.unwrap_or(0),
        ipv6,
        ifname,
        if unicast { c.src_ip } else { None },
        group,
    )
}

fn group_of(c: &model::Instance, g: &Globals) -> IpAddr {
    match (c.mcast_dst_ip, c.family) {
        (Some(a), _) => a,
        (None, model::Family::V4) => IpAddr::V4(g.mcast_group4),
        (None, model::Family::V6) => IpAddr::V6(g.mcast_group6),
    }
}

impl Instance {
    /// Where a standard-MIB notification of this instance is about: the base interface's
    /// ifIndex (`ifmap`: names to indexes), the VRID, family and version.
    pub fn rfc_source(
        &self,
        ifmap: &std::collections::HashMap<String, u32>,
    ) -> super::rfc_state::Source {
        use crate::config::model::vrrp::instance::{Family, Version};
        let cfg = &self.cfg;
        super::rfc_state::Source {
            name: cfg.name.clone(),
            ifindex: cfg
                .interface
                .as_deref()
                .and_then(|n| ifmap.get(n).copied())
                .unwrap_or(self.link.ifindex),
            vrid: cfg.vrid.unwrap_or(0),
            v6: cfg.family == Family::V6,
            v3: cfg.version == Version::V3,
            has_vips: !cfg.vips.is_empty(),
            saddr: self.link.src,
        }
    }

    /// Builds the instance; the machine starts now (it first removes the VIPs) with
    /// the `tracked` objects' current state.
    pub fn new(
        cfg: model::Instance,
        link: Link,
        globals: Globals,
        ifmap: Rc<RefCell<HashMap<String, u32>>>,
        up_of: &dyn Fn(&str) -> bool,
        now: super::machine::Instant,
        tracked: Vec<TrackChange>,
    ) -> Instance {
        let key = sock_key(&cfg, &link, &globals);
        // scripts, files, processes (vrrp::tracking) first, then interfaces
        let mut initial = tracked;
        if !link.up && !cfg.dont_track_primary {
            initial.push(TrackChange::Fault {
                cause: FaultCause::Interface(link.ifname.clone()),
                active: true,
            });
        }
        for t in &cfg.track_interfaces {
            initial.extend(track_change(t, up_of(&t.name)));
        }
        for name in &cfg.static_track_ifs {
            if !up_of(name) {
                initial.push(TrackChange::Fault {
                    cause: FaultCause::Interface(name.clone()),
                    active: true,
                });
            }
        }
        if let Some(name) = &link.missing {
            initial.push(TrackChange::Fault {
                cause: FaultCause::Interface(name.clone()),
                active: true,
            });
        }
        // keepalived tracks the VMACs of its addresses like its own interface (observed).
        for v in &link.addr_vmacs {
            if !up_of(&v.name) {
                initial.push(TrackChange::Fault {
                    cause: FaultCause::Interface(v.name.clone()),
                    active: true,
                });
            }
        }
        if link.src.is_none() {
            initial.push(TrackChange::Fault {
                cause: FaultCause::SourceAddress,
                active: true,
            });
        }
        if link.src_unassigned {
            initial.push(TrackChange::Fault {
                cause: FaultCause::SourceNotConfigured,
                active: true,
            });
        }
        // `unicast_fault_no_peer` without peers: keepalived never runs the instance.
        if cfg.permanent_fault {
            initial.push(TrackChange::Fault {
                cause: FaultCause::Config,
                active: true,
            });
        }
        let mcfg = machine_config(&cfg, link.src, globals.strict);
        let machine = Machine::start(mcfg, initial, now);
        let mut i = Instance {
            machine,
            key,
            sock_open: false,
            stats: Stats::default(),
            rfc: super::rfc_state::RfcState::new(cfg.priority),
            last_transition: SystemTime::now(),
            vips_set: false,
            ifmap,
            group: None,
            advert_addrs: Vec::new(),
            peers: Vec::new(),
            ip_id: 0,
            ah_seq: 0,
            unicast_checksum: UnicastChecksum::Detect,
            zero_sent: false,
            link,
            globals,
            cfg,
        };
        i.derive();
        i
    }

    /// Recomputes what depends on the config.
    fn derive(&mut self) {
        let v6 = self.cfg.family == model::Family::V6;
        self.advert_addrs = self
            .cfg
            .vips
            .iter()
            .map(|v| v.addr)
            .filter(|a| a.is_ipv6() == v6)
            .collect();
        self.peers = self
            .cfg
            .unicast_peers
            .iter()
            .map(|p| UnicastPeer {
                addr: p.addr,
                min_ttl: p.min_ttl.unwrap_or(0),
                max_ttl: p.max_ttl.unwrap_or(255),
            })
            .collect();
        self.unicast_checksum = match self.cfg.old_unicast_checksum {
            Some(true) => UnicastChecksum::Old,
            Some(false) => UnicastChecksum::Never,
            None => UnicastChecksum::Detect,
        };
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// This instance's share of its receive socket's buffer, as keepalived sums them per
    /// socket: `kernel_rx_buf_size`, else `vrrp_rx_bufs_policy` SIZE, ADVERT (multiplier
    /// times the advert's length) or MTU (multiplier times the MTU); 0 when none is set.
    pub fn rx_buf_share(&self, policy: Option<RxBufsPolicy>, multiplier: u32) -> usize {
        if let Some(k) = self.cfg.kernel_rx_buf_size {
            return usize::try_from(k).unwrap_or(usize::MAX);
        }
        let mult = multiplier as usize;
        match policy {
            None => 0,
            Some(RxBufsPolicy::Size(n)) => n as usize,
            Some(RxBufsPolicy::Advert) => {
                let v4 = self.cfg.family == model::Family::V4;
                let ah = self
                    .cfg
                    .auth
                    .as_ref()
                    .is_some_and(|a| a.kind == model::AuthType::Ah);
                // keepalived's vrrp_adv_len: header, addresses, v2 auth data, IPv4 (+AH)
                let mut len = 8 + self.advert_addrs.len() * if v4 { 4 } else { 16 };
                if v4 {
                    if self.cfg.version == model::Version::V2 {
                        len += 8;
                    }
                    len += 20;
                    if ah {
                        len += 24;
                    }
                }
                mult * len
            }
            Some(RxBufsPolicy::Mtu) => mult * self.link.mtu as usize,
        }
    }

    pub fn identity(&self) -> Identity {
        identity(&self.cfg, &self.globals)
    }

    fn strict(&self) -> bool {
        self.cfg.strict || self.globals.strict
    }

    /// Feeds a solo instance's machine and turns the resulting actions into I/O. (Members
    /// of a sync group are fed through their group by the service.)
    pub fn drive(
        &mut self,
        now: super::machine::Instant,
        input: Input,
        io: &mut Vec<Io>,
        alerts: &mut dyn Sink,
    ) -> State {
        let before = self.machine.state();
        self.machine.handle(now, input);
        self.drain(before, io, alerts);
        self.machine.state()
    }

    /// Performs the queued actions of the machine (in order).
    pub fn drain(&mut self, before: State, io: &mut Vec<Io>, alerts: &mut dyn Sink) {
        self.account(before);
        while let Some(a) = self.machine.poll_action() {
            self.perform(a, io, alerts);
        }
    }

    /// Counts a state change from `before` to the machine's current state (stats).
    pub fn account(&mut self, before: State) {
        let after = self.machine.state();
        if before != after {
            self.last_transition = SystemTime::now();
            if after == State::Master {
                self.stats.become_master = self.stats.become_master.saturating_add(1);
                self.rfc.master_reason = self.rfc.next_master_reason;
            } else if before == State::Master {
                self.stats.release_master = self.stats.release_master.saturating_add(1);
            }
        }
    }

    /// Performs one machine action.
    pub fn perform(&mut self, a: Action, io: &mut Vec<Io>, alerts: &mut dyn Sink) {
        match a {
            Action::SendAdvert { priority } => self.send_advert(priority, io),
            Action::AddVips => self.add_vips(io),
            Action::RemoveVips => self.remove_vips(io),
            Action::SendGarp { repeat } => self.garp(repeat, io),
            Action::SendExtraGarp => self.extra_garp(io),
            Action::Notify { state, priority } => {
                notify_hook(alerts, &self.cfg, NotifyEvent::State(state), priority);
                // keepalived sends the standard MIBs' new-master notifications after its own.
                if state == State::Master {
                    // A sync group's member notifies before its transition is counted.
                    self.rfc.master_reason = self.rfc.next_master_reason;
                    let at = self.rfc_source(&self.ifmap.borrow());
                    let reason = self.rfc.master_reason;
                    alerts.rfc_event(&super::rfc_state::Event::NewMaster { at, reason });
                }
            }
            Action::MasterRxLowerPri => notify_hook(
                alerts,
                &self.cfg,
                NotifyEvent::MasterRxLowerPri,
                self.machine.effective_priority(),
            ),
            Action::PriorityChanged { state, priority } => {
                notify_hook(alerts, &self.cfg, NotifyEvent::Priority(state), priority)
            }
            Action::Removed {
                priority,
                was_fault,
            } => {
                if self.cfg.notify_deleted {
                    notify_hook(alerts, &self.cfg, NotifyEvent::Deleted, priority);
                } else if !was_fault {
                    notify_hook(
                        alerts,
                        &self.cfg,
                        NotifyEvent::State(State::Fault),
                        priority,
                    );
                }
            }
            Action::LowerPrioUnanswered => {
                self.stats.lower_prio_unanswered =
                    self.stats.lower_prio_unanswered.saturating_add(1);
            }
            Action::Log(l) => super::startlog::line(&l),
            Action::Debug(l) => {
                if crate::log::detail() > 0 {
                    info!("{l}");
                }
            }
        }
    }

    /// At SIGTERM, before anything else: a MASTER's priority-0 advert, so the backups
    /// take over at once (keepalived sends it before logging, notifying or removing
    /// addresses). The machine's own release later skips it.
    pub fn release_first(&mut self, io: &mut Vec<Io>) {
        if self.machine.state() == State::Master && !self.zero_sent {
            self.send_advert(0, io);
            self.zero_sent = true;
        }
    }

    fn send_advert(&mut self, priority: u8, io: &mut Vec<Io>) {
        if !self.sock_open || (priority == 0 && self.zero_sent) {
            return;
        }
        let Some(src) = self.link.src else {
            return;
        };
        let v3 = self.cfg.version == model::Version::V3;
        let (auth_type, auth_data) = match (&self.cfg.auth, v3, src) {
            (Some(a), false, IpAddr::V4(_)) => (
                match a.kind {
                    model::AuthType::Pass => AuthType::Pass,
                    model::AuthType::Ah => AuthType::Ah,
                },
                match a.kind {
                    model::AuthType::Pass => pass_field(&a.pass),
                    model::AuthType::Ah => [0; 8],
                },
            ),
            _ => (AuthType::None, [0; 8]),
        };
        let adver_int = if v3 {
            u16::try_from(self.cfg.advert_int.as_millis() / 10)
                .unwrap_or(0x0fff)
                .min(0x0fff)
        } else {
            u16::try_from(self.cfg.advert_int.as_secs())
                .unwrap_or(255)
                .min(255)
        };
        let advert = Advert {
            version: if v3 { 3 } else { 2 },
            kind: packet::TYPE_ADVERT,
            vrid: self.cfg.vrid.unwrap_or(0),
            priority,
            adver_int,
            auth_type,
            auth_data,
            addresses: self.advert_addrs.clone(),
        };
        let dsts: Vec<IpAddr> = if self.peers.is_empty() {
            self.key.group.into_iter().collect()
        } else {
            self.peers.iter().map(|p| p.addr).collect()
        };
        // keepalived stops counting at 0xfffffffe (its "cycle" flag) rather than wrapping.
        if auth_type == AuthType::Ah && self.ah_seq <= 0xffff_fffd {
            self.ah_seq += 1;
        }
        let mut sent = false;
        for dst in dsts {
            let pkt = match (src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    // ID per advert from 1, skipping 0.
                    self.ip_id = self.ip_id.wrapping_add(1);
                    if self.ip_id == 0 {
                        self.ip_id = 1;
                    }
                    let unicast = !d.is_multicast();
                    let ip = Ipv4Params {
                        src: s,
                        dst: d,
                        id: self.ip_id,
                        ttl: if unicast {
                            self.cfg.unicast_ttl.unwrap_or(packet::VRRP_TTL)
                        } else {
                            packet::VRRP_TTL
                        },
                        fill_checksum: false,
                        checksum_dst: (v3
                            && unicast
                            && self.unicast_checksum == UnicastChecksum::Old)
                            .then_some(self.globals.mcast_group4),
                        v3_checksum_as_v2: self.cfg.v3_checksum_as_v2,
                    };
                    let ah = match &self.cfg.auth {
                        Some(a) if auth_type == AuthType::Ah => Some(AhParams {
                            key: pass_field(&a.pass),
                            seq: self.ah_seq,
                            zero_ttl: unicast,
                        }),
                        _ => None,
                    };
                    let mut buf = vec![0u8; advert.ipv4_len()];
                    match advert.emit_ipv4(&mut buf, &ip, ah.as_ref()) {
                        Ok(n) => {
                            buf.truncate(n);
                            buf
                        }
                        Err(e) => {
                            info!("({}) cannot build advert: {e}", self.cfg.name);
                            continue;
                        }
                    }
                }
                (IpAddr::V6(s), IpAddr::V6(d)) => {
                    let mut buf = vec![0u8; advert.vrrp_len(packet::Family::V6)];
                    match advert.emit_vrrp(&mut buf, &Endpoints::V6 { src: s, dst: d }) {
                        Ok(n) => {
                            buf.truncate(n);
                            buf
                        }
                        Err(e) => {
                            info!("({}) cannot build advert: {e}", self.cfg.name);
                            continue;
                        }
                    }
                }
                _ => continue,
            };
            sent = true;
            io.push(Io::Send {
                key: self.key.clone(),
                pkt,
                dst,
                iname: self.cfg.name.clone(),
            });
        }
        if sent {
            self.stats.advert_sent = self.stats.advert_sent.saturating_add(1);
            if priority == 0 {
                self.stats.pri_zero_sent = self.stats.pri_zero_sent.saturating_add(1);
            }
        }
    }

    /// The net specs of every VIP, eVIP, virtual route and rule.
    fn host_specs(&self) -> (Vec<AddrSpec>, Vec<net::RouteSpec>, Vec<RuleSpec>) {
        let map = self.ifmap.borrow();
        let ifindex_of = |n: &str| map.get(n).copied();
        let ifindex_of: &dyn Fn(&str) -> Option<u32> = &ifindex_of;
        let addrs = self
            .cfg
            .vips
            .iter()
            .chain(self.cfg.evips.iter())
            .filter_map(|a| self.vip_spec(a, &map))
            .collect();
        let routes = self
            .cfg
            .vroutes
            .iter()
            .filter_map(|r| route_spec(r, ifindex_of))
            .collect();
        let rules = self.cfg.vrules.iter().map(rule_spec).collect();
        (addrs, routes, rules)
    }

    /// The firewall's drop entries for our VIPs and eVIPs.
    fn drop_entries(&self, addrs: &[AddrSpec]) -> Vec<nft::DropEntry> {
        let map = self.ifmap.borrow();
        addrs
            .iter()
            .map(|a| nft::DropEntry {
                addr: a.addr,
                ifindex: a.ifindex,
                ifname: map
                    .iter()
                    .find(|(_, i)| **i == a.ifindex)
                    .map_or_else(|| self.link.ifname.clone(), |(n, _)| n.clone()),
            })
            .collect()
    }

    /// Where a VIP/eVIP goes: its VMAC for addresses when it has one (`use_vmac_addr`), else
    /// its `dev`, else the instance's interface (its VMAC), or with `use_ipvlan` the base.
    fn vip_spec(&self, a: &ModelAddr, map: &HashMap<String, u32>) -> Option<AddrSpec> {
        let v6 = a.addr.is_ipv6();
        let needs = super::vmac::addr_needs_vmac(&self.cfg, a);
        let vmac_of = |base: &str| {
            self.link
                .addr_vmacs
                .iter()
                .find(|v| needs && v.base == base && v.ipv6 == v6)
                .and_then(|v| map.get(&v.name).copied())
        };
        let own = self.cfg.interface.as_deref();
        let default_if = own.and_then(vmac_of).or_else(|| {
            if self.link.vips_on_base {
                own.and_then(|n| map.get(n).copied())
            } else {
                Some(self.link.ifindex)
            }
        });
        let ifindex_of = |n: &str| vmac_of(n).or_else(|| map.get(n).copied());
        addr_spec(a, default_if, &ifindex_of)
    }

    /// Whether the instance waits for its interface to be created (`dynamic_interfaces`).
    pub fn awaits_link(&self, name: &str) -> bool {
        self.link.ifindex == 0 && self.link.ifname == name
    }

    /// The awaited interface exists now (`dynamic_interfaces`): the instance moves onto it.
    /// Its state follows from the link and address events that come next.
    pub fn adopt_link(&mut self, link: Link) {
        self.link.ifindex = link.ifindex;
        self.link.mac = link.mac;
        self.key = sock_key(&self.cfg, &self.link, &self.globals);
    }

    /// The awaited interface exists now and carries the instance's VMAC or ipvlan, which
    /// becomes its link (`dynamic_interfaces`); the link's events come next. The fault of
    /// the awaited interface moves to the new link, down until its up event.
    pub fn adopt_vmac_link(&mut self, link: Link) -> Vec<Input> {
        let old = std::mem::replace(&mut self.link.ifname, link.ifname.clone());
        // the source comes with the base's address events, as for adopt_link
        self.link = Link {
            up: false,
            src: self.link.src,
            ..link
        };
        self.key = sock_key(&self.cfg, &self.link, &self.globals);
        let mut faults = Vec::new();
        if !self.cfg.dont_track_primary {
            faults.push((old, false));
            faults.push((self.link.ifname.clone(), true));
        }
        // a VMAC or ipvlan that could not be made keeps it in FAULT, as at start
        faults.extend(self.link.missing.clone().map(|m| (m, true)));
        faults
            .into_iter()
            .map(|(name, active)| {
                Input::Track(TrackChange::Fault {
                    cause: FaultCause::Interface(name),
                    active,
                })
            })
            .collect()
    }

    /// Its interface was deleted (`dynamic_interfaces`): wait for one of that name again
    /// (with a VMAC or ipvlan, for its base interface).
    pub fn await_link(&mut self) {
        if let Some(base) = self.cfg.interface.as_ref() {
            self.link.ifname = base.clone();
        }
        self.link.ifindex = 0;
        self.link.src = self.cfg.src_ip;
        self.key = sock_key(&self.cfg, &self.link, &self.globals);
    }

    /// The instance interface now has index `ifindex` (its VMAC was recreated).
    pub fn relink(&mut self, ifindex: u32) {
        self.link.ifindex = ifindex;
        self.key = sock_key(&self.cfg, &self.link, &self.globals);
    }

    fn add_vips(&mut self, io: &mut Vec<Io>) {
        let (addrs, routes, rules) = self.host_specs();
        if self.cfg.drops_vip_traffic() {
            // keepalived logs this with -D only (observed with 2.2.7), before the VIPs.
            if crate::log::detail() > 0 {
                info!("({}) setting firewall drop rule", self.cfg.name);
            }
            io.push(Io::Firewall {
                iname: self.cfg.name.clone(),
                entries: self.drop_entries(&addrs),
            });
        }
        // keepalived logs these with -D only (observed with 2.2.7).
        if crate::log::detail() > 0 {
            let name = &self.cfg.name;
            info!("({name}) setting VIPs.");
            if !self.cfg.evips.is_empty() {
                info!("({name}) setting E-VIPs.");
            }
        }
        io.extend(addrs.into_iter().map(Io::AddAddr));
        io.extend(routes.into_iter().map(Io::AddRoute));
        io.extend(rules.into_iter().map(Io::AddRule));
        self.vips_set = true;
    }

    fn remove_vips(&mut self, io: &mut Vec<Io>) {
        // -D only, also for the forced clean-up at startup (observed with 2.2.7).
        if crate::log::detail() > 0 {
            let name = &self.cfg.name;
            info!("({name}) removing VIPs.");
            if !self.cfg.evips.is_empty() {
                info!("({name}) removing E-VIPs.");
            }
        }
        let (addrs, routes, rules) = self.host_specs();
        io.extend(rules.into_iter().map(Io::DelRule));
        io.extend(routes.into_iter().map(Io::DelRoute));
        io.extend(addrs.into_iter().map(Io::DelAddr));
        if self.cfg.drops_vip_traffic() {
            if crate::log::detail() > 0 {
                info!("({}) removing firewall drop rule", self.cfg.name);
            }
            io.push(Io::Firewall {
                iname: self.cfg.name.clone(),
                entries: Vec::new(),
            });
        }
        self.vips_set = false;
    }

    /// GARP / unsolicited NA for the VIPs and eVIPs on the instance's interface, its VMACs
    /// for addresses, (ipvlan) its base and the other interfaces named by `dev`, one job
    /// per interface with its own MAC.
    fn garp(&self, repeat: u32, io: &mut Vec<Io>) {
        if repeat == 0 {
            return;
        }
        for (ifindex, ifname, mac, addrs) in self.garp_jobs() {
            io.push(Io::Garp {
                iname: self.cfg.name.clone(),
                ifindex,
                ifname,
                mac,
                addrs,
                repeat,
            });
        }
    }

    /// The D-Bus SendGarp method (keepalived's vrrp_send_link_update(vrrp, 1)): one GARP /
    /// NA per VIP and eVIP, only while they are set.
    pub fn garp_on_request(&self, io: &mut Vec<Io>) {
        if self.vips_set {
            self.garp(1, io);
        }
    }

    /// `garp_extra_if` (keepalived's vrrp_send_vmac_update): one GARP / NA, for the first
    /// address only, on each VMAC for addresses and, with `all`, each other interface
    /// carrying one; the instance's own interface only with `vmac_xmit_base`.
    fn extra_garp(&self, io: &mut Vec<Io>) {
        let all = self.cfg.garp_extra_if.is_some_and(|g| g.all);
        for (ifindex, ifname, mac, addrs) in self.garp_jobs() {
            let own = ifindex == self.link.ifindex;
            let vmac = self.link.addr_vmacs.iter().any(|v| v.name == ifname);
            if (own && self.link.xmit.is_none()) || (!own && !vmac && !all) {
                continue;
            }
            io.push(Io::Garp {
                iname: self.cfg.name.clone(),
                ifindex,
                ifname,
                mac,
                addrs: addrs.into_iter().take(1).collect(),
                repeat: 1,
            });
        }
    }

    /// The VIPs and eVIPs by interface: (index, name, MAC, addresses). Another plain
    /// interface's MAC is left zero for the GARP sender to look up.
    fn garp_jobs(&self) -> Vec<(u32, String, [u8; 6], Vec<IpAddr>)> {
        let map = self.ifmap.borrow();
        let base = self
            .cfg
            .interface
            .as_deref()
            .and_then(|n| map.get(n).map(|i| (*i, n)));
        let mut jobs: Vec<(u32, String, [u8; 6], Vec<IpAddr>)> = Vec::new();
        for a in self.cfg.vips.iter().chain(self.cfg.evips.iter()) {
            let Some(s) = self.vip_spec(a, &map) else {
                continue;
            };
            let target = if s.ifindex == self.link.ifindex {
                Some((self.link.ifname.clone(), self.link.mac))
            } else if let Some(v) = self
                .link
                .addr_vmacs
                .iter()
                .find(|v| map.get(&v.name) == Some(&s.ifindex))
            {
                Some((v.name.clone(), v.mac))
            } else if let Some(b) = base.filter(|b| self.link.vips_on_base && b.0 == s.ifindex) {
                // An ipvlan shares its base's MAC.
                Some((b.1.to_owned(), self.link.mac))
            } else {
                map.iter()
                    .find(|(_, i)| **i == s.ifindex)
                    .map(|(n, _)| (n.clone(), [0; 6]))
            };
            let Some((ifname, mac)) = target else {
                continue;
            };
            match jobs.iter_mut().find(|j| j.0 == s.ifindex) {
                Some(j) => j.3.push(a.addr),
                None => jobs.push((s.ifindex, ifname, mac, vec![a.addr])),
            }
        }
        jobs
    }

    /// Handles one received packet addressed to this instance's VRID.
    /// Validates an advert for this instance: the machine's input, or why it was dropped
    /// (already counted and logged here).
    pub fn on_packet(&mut self, p: &Parsed<'_>) -> Result<Input, DropReason> {
        let last_master = match self.machine.state() {
            State::Backup => self.machine.master().map(|m| m.0),
            _ => None,
        };
        let auth = match (&self.cfg.auth, self.cfg.version) {
            (Some(a), model::Version::V2) => match a.kind {
                model::AuthType::Pass => ExpectAuth::Pass(pass_field(&a.pass)),
                model::AuthType::Ah => ExpectAuth::Ah {
                    key: pass_field(&a.pass),
                    last_seq: self.ah_seq,
                },
            },
            _ => ExpectAuth::None,
        };
        let exp = Expect {
            version: self.cfg.version.number(),
            auth,
            adver_int: self.cfg.advert_int,
            vips: &self.advert_addrs,
            unicast_peers: &self.peers,
            check_unicast_src: self.cfg.check_unicast_src || self.globals.check_unicast_src,
            skip_check_adv_addr: self.cfg.skip_check_adv_addr,
            last_master,
            strict: self.strict(),
            unicast_checksum: self.unicast_checksum,
            mcast_group4: self.globals.mcast_group4,
            v3_checksum_as_v2: self.cfg.v3_checksum_as_v2,
        };
        let acc = match packet::validate(p, &exp) {
            Ok(a) => a,
            Err(reason) => {
                self.count_drop(&reason, true);
                return Err(reason);
            }
        };
        self.stats.advert_rcvd = self.stats.advert_rcvd.saturating_add(1);
        self.note_master(acc.src, acc.advert.priority);
        if let Some(w) = &acc.addr_warning {
            // Deliberate difference (packet.rs `Accepted::addr_warning`): counted and logged,
            // but the advert still takes part in the election.
            self.count_drop(w, false);
        }
        if let Some(seq) = acc.ah_seq {
            self.ah_seq = seq;
        }
        if acc.old_checksum_detected {
            self.unicast_checksum = UnicastChecksum::Old;
            info!(
                "({}) Setting unicast VRRPv3 checksum to old version",
                self.cfg.name
            );
        }
        if acc.advert.priority == 0 {
            self.stats.pri_zero_rcvd = self.stats.pri_zero_rcvd.saturating_add(1);
        }
        let adv = RxAdvert {
            src: acc.src,
            priority: acc.advert.priority,
            adver_int: acc.advert.interval(),
        };
        Ok(Input::Advert(adv))
    }

    /// What an accepted advert means for the standard MIBs (keepalived's backup and
    /// master advert handling): the master heard and why this instance would take over.
    fn note_master(&mut self, src: IpAddr, priority: u8) {
        use super::rfc_state::reason;
        let mine = self.machine.effective_priority();
        match self.machine.state() {
            State::Backup if priority == 0 => self.rfc.next_master_reason = reason::PRIORITY,
            State::Backup if self.cfg.nopreempt || priority >= mine => {
                self.rfc.master_saddr = Some(src);
                self.rfc.next_master_reason = reason::MASTER_NO_RESPONSE;
            }
            State::Backup => self.rfc.next_master_reason = reason::PREEMPTED,
            State::Master if priority > mine => self.rfc.master_saddr = Some(src),
            _ => {}
        }
    }

    /// The standard MIBs' notification for a dropped advert from `src`, if any, after
    /// counting what only they show.
    pub fn rfc_drop(
        &mut self,
        reason: &DropReason,
        src: IpAddr,
    ) -> Option<super::rfc_state::Event> {
        use super::rfc_state::{auth_err, proto_err, Event};
        let proto = |r: &mut Self, code: i32| {
            r.rfc.proto_err_reason = code;
            Some(code)
        };
        let (auth, proto) = match reason {
            DropReason::AhUnexpected
            | DropReason::AhMissing
            | DropReason::AuthTypeMismatch { .. } => (Some(auth_err::AUTH_TYPE_MISMATCH), None),
            DropReason::InvalidAuthType { .. } => (Some(auth_err::INVALID_AUTH_TYPE), None),
            DropReason::BadPassword
            | DropReason::AhIcv
            | DropReason::AhSpi { .. }
            | DropReason::AhSeq { .. } => (Some(auth_err::AUTH_FAILURE), None),
            DropReason::Ttl { .. } | DropReason::TtlRange { .. } => {
                (None, proto(self, proto_err::IP_TTL))
            }
            DropReason::Version { .. } => {
                self.rfc.vers_err = self.rfc.vers_err.saturating_add(1);
                (None, proto(self, proto_err::VERSION))
            }
            DropReason::Checksum { .. } => {
                self.rfc.chk_err = self.rfc.chk_err.saturating_add(1);
                (None, proto(self, proto_err::CHECKSUM))
            }
            _ => (None, None),
        };
        let at = self.rfc_source(&self.ifmap.borrow());
        match (auth, proto) {
            (Some(kind), _) => Some(Event::AuthError { at, src, kind }),
            (_, Some(reason)) => Some(Event::ProtoError { at, reason }),
            _ => None,
        }
    }

    fn count_drop(&mut self, reason: &DropReason, dropped: bool) {
        if let Some(c) = reason.counter() {
            self.stats.bump(c);
        }
        if dropped && reason.counts_as_received() {
            self.stats.advert_rcvd = self.stats.advert_rcvd.saturating_add(1);
        }
        // Rate-limited: a flood must not turn into a logging storm (rxguard.rs).
        if let Some(line) = reason.log_message(&self.cfg.name) {
            if super::rxguard::log_allowed() {
                info!("{line}");
            }
        }
    }

    /// Interface `name` (index `ifindex`) went up or down: the own interface faults
    /// the instance unless `dont_track_primary`; `track_interface` lines fault or weigh.
    pub fn on_link(&self, ifindex: u32, name: &str, up: bool) -> Vec<Input> {
        let mut changes = Vec::new();
        if ifindex == self.link.ifindex && !self.cfg.dont_track_primary {
            changes.push(TrackChange::Fault {
                cause: FaultCause::Interface(self.link.ifname.clone()),
                active: !up,
            });
        }
        for t in &self.cfg.track_interfaces {
            if t.name == name && !(ifindex == self.link.ifindex && t.name == self.link.ifname) {
                changes.extend(track_change(t, up));
            }
        }
        // The interface of a static entry of one of our track groups.
        if self.cfg.static_track_ifs.iter().any(|n| n == name) {
            changes.push(TrackChange::Fault {
                cause: FaultCause::Interface(name.to_owned()),
                active: !up,
            });
        }
        // A VMAC for addresses down faults the instance, as keepalived 2.2.7 does.
        if self.link.addr_vmacs.iter().any(|v| v.name == name) {
            changes.push(TrackChange::Fault {
                cause: FaultCause::Interface(name.to_owned()),
                active: !up,
            });
        }
        changes.into_iter().map(Input::Track).collect()
    }

    /// An address appeared: an instance without an advert source (FAULT since start)
    /// takes the interface's new primary IPv4 / link-local IPv6 address and recovers.
    pub fn on_address_added(&mut self, ifindex: u32, addr: IpAddr) -> Vec<Input> {
        if self.link.src.is_some() {
            return Vec::new();
        }
        // An IPv4 instance on a VMAC takes its source from the base interface.
        let base = self
            .cfg
            .interface
            .as_deref()
            .and_then(|n| self.ifmap.borrow().get(n).copied());
        let on_base = self.cfg.family == model::Family::V4 && base == Some(ifindex);
        if ifindex != self.link.ifindex && !on_base {
            return Vec::new();
        }
        let usable = match (self.cfg.family, addr) {
            (model::Family::V4, IpAddr::V4(_)) => true,
            (model::Family::V6, IpAddr::V6(a)) => a.segments()[0] & 0xffc0 == 0xfe80,
            _ => false,
        };
        if !usable {
            return Vec::new();
        }
        self.link.src = Some(addr);
        let mcfg = machine_config(&self.cfg, self.link.src, self.globals.strict);
        let change = TrackChange::Fault {
            cause: FaultCause::SourceAddress,
            active: false,
        };
        vec![Input::Reload(mcfg), Input::Track(change)]
    }

    /// A VIP of ours disappeared from the host: while MASTER, put it back.
    pub fn on_address_removed(&mut self, ifindex: u32, addr: IpAddr, io: &mut Vec<Io>) {
        if !self.vips_set || self.machine.state() != State::Master {
            return;
        }
        let lost: Vec<&ModelAddr> = self
            .cfg
            .vips
            .iter()
            .chain(self.cfg.evips.iter())
            .filter(|a| a.addr == addr && !a.no_track)
            .collect();
        let mut specs = Vec::new();
        for a in lost {
            if let Some(s) = self.vip_spec(a, &self.ifmap.borrow()) {
                if s.ifindex == ifindex {
                    specs.push(s);
                }
            }
        }
        if specs.is_empty() {
            return;
        }
        // With -a the service has logged it already.
        if crate::log::detail() > 0 && !crate::log::address_changes() {
            info!(
                "Netlink reflector reports IP {addr} removed from {}",
                self.link.ifname
            );
        }
        // keepalived drops to BACKUP and re-takes MASTER after the skew time, with
        // notifies; we re-add at once, without a state flap (our own wording).
        info!(
            "({}) VIP {addr} removed from {} - restoring",
            self.cfg.name, self.link.ifname
        );
        io.extend(specs.into_iter().map(Io::AddAddr));
        self.garp(self.cfg.garp_master_repeat, io);
    }

    /// A route was deleted: a MASTER's virtual route is put back at once.
    /// keepalived 2.2.7 drops to BACKUP and retakes MASTER to restore it (observed,
    /// tests/vrrp_faults.rs); as for VIPs we restore it without the state flap.
    pub fn on_route_removed(&mut self, r: &net::route::RouteInfo, io: &mut Vec<Io>) {
        self.restore_routes(|s| route_matches(s, r), io);
    }

    /// After a netlink overrun: puts back a MASTER's virtual routes missing from `present`.
    pub fn restore_missing_routes(&mut self, present: &[net::route::RouteInfo], io: &mut Vec<Io>) {
        self.restore_routes(|s| !present.iter().any(|r| route_matches(s, r)), io);
    }

    fn restore_routes(&mut self, lost: impl Fn(&net::RouteSpec) -> bool, io: &mut Vec<Io>) {
        if !self.vips_set || self.machine.state() != State::Master {
            return;
        }
        let (_, routes, _) = self.host_specs();
        for s in routes.into_iter().filter(|s| lost(s)) {
            info!(
                "({}) virtual route {}/{} removed - restoring",
                self.cfg.name, s.dst, s.prefix
            );
            io.push(Io::AddRoute(s));
        }
    }

    /// Whether a reload that matched this instance to `new` on `link` changes nothing:
    /// same configuration, same interface MAC and advert source. Such an instance is left
    /// alone (no machine input, no advert, no netlink work).
    pub fn unchanged_by(&self, new: &model::Instance, link: &Link) -> bool {
        self.cfg == *new
            && self.link.mac == link.mac
            && self.link.addr_vmacs == link.addr_vmacs
            && link.src.map_or(true, |s| self.link.src == Some(s))
    }

    /// A reload matched this instance to `new`: VIPs, routes and rules gone from the
    /// config are removed now; the machine re-adds the rest if MASTER.
    /// Returns the machine's reload input.
    pub fn reload(&mut self, new: model::Instance, link: Link, io: &mut Vec<Io>) -> Input {
        if self.vips_set {
            let (oa, or, ol) = self.host_specs();
            let old_cfg = std::mem::replace(&mut self.cfg, new);
            self.link.addr_vmacs = link.addr_vmacs;
            let (na, nr, nl) = self.host_specs();
            io.extend(ol.into_iter().filter(|r| !nl.contains(r)).map(Io::DelRule));
            io.extend(or.into_iter().filter(|r| !nr.contains(r)).map(Io::DelRoute));
            io.extend(oa.into_iter().filter(|a| !na.contains(a)).map(Io::DelAddr));
            // A master's drop set follows its new VIPs and accept mode.
            let entries = if self.cfg.drops_vip_traffic() {
                self.drop_entries(&na)
            } else {
                Vec::new()
            };
            io.push(Io::Firewall {
                iname: self.cfg.name.clone(),
                entries,
            });
            drop(old_cfg);
        } else {
            self.cfg = new;
            self.link.addr_vmacs = link.addr_vmacs;
        }
        self.link.mac = link.mac;
        if link.src.is_some() {
            self.link.src = link.src;
        }
        self.derive();
        // keepalived's reloaded instance forgets the master it heard (observed: the
        // RFC 2787 master address reads 0.0.0.0 after a reload), not its counters.
        self.rfc.master_saddr = None;
        let mcfg = machine_config(&self.cfg, self.link.src, self.globals.strict);
        Input::Reload(mcfg)
    }

    /// keepalived.data block of this instance (format not guaranteed upstream).
    pub fn data_text(&self) -> String {
        let m = &self.machine;
        let mut s = String::new();
        let _ = writeln!(s, " VRRP Instance = {}", self.cfg.name);
        let _ = writeln!(s, "   VRRP Version = {}", self.cfg.version.number());
        if self.cfg.family == model::Family::V6 {
            let _ = writeln!(s, "   Using Native IPv6");
        }
        let (state, want) = m.reported_states();
        let _ = writeln!(s, "   State = {}", state.as_str());
        let _ = writeln!(s, "   Wantstate = {}", want.as_str());
        if let Some((addr, prio)) = m.master() {
            let _ = writeln!(s, "   Master router = {addr}");
            let _ = writeln!(s, "   Master priority = {prio}");
        }
        let base = self.cfg.interface.as_deref().unwrap_or_default();
        let on_base = if self.cfg.vmac.is_some() && self.link.ifname != base {
            let x = self.link.xmit.is_some();
            let up = self.link.up;
            let _ = writeln!(
                s,
                "   Use VMAC, i/f name {}, is_up = {up}, xmit_base = {x}",
                self.link.ifname
            );
            Some("vmac")
        } else if let (Some(p), true) = (&self.cfg.ipvlan, self.link.vips_on_base) {
            let addr = p
                .addr
                .as_deref()
                .map_or_else(String::new, |a| format!(", i/f address = {a}"));
            let mode = match p.mode {
                Some(model::IpvlanMode::Private) => "private",
                Some(model::IpvlanMode::Vepa) => "vepa",
                _ => "bridge",
            };
            let _ = writeln!(
                s,
                "   Use IPVLAN, i/f {}, is_up = {}{addr}, type {mode}",
                self.link.ifname, self.link.up
            );
            Some("ipvlan")
        } else {
            None
        };
        if self.cfg.use_vmac_addr {
            let _ = writeln!(s, "   Use VMAC for VIPs on other interfaces");
        }
        match on_base {
            Some(kind) => {
                let _ = writeln!(s, "   Interface = {}, {kind} on {base}", self.link.ifname);
            }
            None => {
                let _ = writeln!(s, "   Interface = {}", self.link.ifname);
            }
        }
        if self.cfg.skip_check_adv_addr {
            let _ = writeln!(s, "   Skip checking advert IP addresses");
        }
        if let Some(src) = self.link.src {
            let _ = writeln!(s, "   Using src_ip = {src}");
        }
        // The advert and GARP settings as keepalived 2.2.7 lists them (whole seconds).
        let c = &self.cfg;
        for (what, v) in [
            ("Gratuitous ARP delay", c.garp_master_delay.as_secs()),
            ("Gratuitous ARP repeat", u64::from(c.garp_master_repeat)),
            ("Gratuitous ARP refresh", c.garp_master_refresh.as_secs()),
            (
                "Gratuitous ARP refresh repeat",
                u64::from(c.garp_master_refresh_repeat),
            ),
            (
                "Gratuitous ARP lower priority delay",
                c.garp_lower_prio_delay.as_secs(),
            ),
            (
                "Gratuitous ARP lower priority repeat",
                u64::from(c.garp_lower_prio_repeat),
            ),
            ("Down timer adverts", u64::from(c.down_timer_adverts)),
        ] {
            let _ = writeln!(s, "   {what} = {v}");
        }
        let _ = writeln!(
            s,
            "   Send advert after receive lower priority advert = {}",
            !c.lower_prio_no_advert
        );
        let _ = writeln!(
            s,
            "   Send advert after receive higher priority advert = {}",
            c.higher_prio_send_advert
        );
        let _ = writeln!(s, "   Virtual Router ID = {}", self.cfg.vrid.unwrap_or(0));
        let _ = writeln!(s, "   Priority = {}", self.cfg.priority);
        let _ = writeln!(s, "   Effective priority = {}", m.effective_priority());
        let _ = writeln!(s, "   Advert interval = {}", fmt_secs(self.cfg.advert_int));
        let _ = writeln!(
            s,
            "   Preempt = {}",
            if self.cfg.nopreempt {
                "disabled"
            } else {
                "enabled"
            }
        );
        // keepalived 2.2.8's lines for its new keywords, only when they are used
        if let Some(p) = self.cfg.timer_expired_backup {
            let _ = writeln!(s, "   Highest other priority = {p}");
        }
        if self.cfg.v3_checksum_as_v2 && self.cfg.version == model::Version::V3 {
            let _ = writeln!(s, "   VRRPv3 uses VRRPv2 checksum = enabled");
        }
        if self.cfg.no_virtual_ipaddress {
            let _ = writeln!(s, "   Suppress no VIPs warning");
        }
        // `debug` has no other effect in keepalived 2.2.7 than this line.
        if self.cfg.debug != 0 {
            let _ = writeln!(s, "   Debug level = {}", self.cfg.debug);
        }
        let _ = writeln!(s, "   Virtual IP ({}):", self.cfg.vips.len());
        for v in &self.cfg.vips {
            let _ = writeln!(s, "     {}/{} dev {}", v.addr, v.prefix, self.link.ifname);
        }
        if !self.peers.is_empty() {
            let _ = writeln!(s, "   Unicast Peer = {}", self.peers.len());
            for p in &self.peers {
                let _ = writeln!(s, "     {}", p.addr);
            }
        }
        s
    }

    /// keepalived.json element of this instance (keys).
    pub fn to_json(&self) -> serde_json::Value {
        let m = &self.machine;
        let state_num = |s: State| match s {
            State::Init => 0,
            State::Backup => 1,
            State::Master => 2,
            State::Fault => 3,
            State::Stop => 98,
        };
        let epoch = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64())
        };
        let vips: Vec<String> = self
            .cfg
            .vips
            .iter()
            .map(|v| format!("{}/{} dev {}", v.addr, v.prefix, self.link.ifname))
            .collect();
        let evips: Vec<String> = self
            .cfg
            .evips
            .iter()
            .map(|v| format!("{}/{}", v.addr, v.prefix))
            .collect();
        serde_json::json!({
            "data": {
                "iname": self.cfg.name,
                "dont_track_primary": u8::from(self.cfg.dont_track_primary),
                "skip_check_adv_addr": u8::from(self.cfg.skip_check_adv_addr),
                "strict_mode": u8::from(self.strict()),
                "vmac_ifname": if self.cfg.vmac.is_some() && self.cfg.interface.as_deref() != Some(self.link.ifname.as_str()) {
                    self.link.ifname.as_str()
                } else {
                    ""
                },
                "ifp_ifname": self.link.ifname,
                "master_priority": m.master().map_or(0, |x| x.1),
                "last_transition": epoch(self.last_transition),
                "garp_delay": self.cfg.garp_master_delay.as_secs(),
                "garp_refresh": self.cfg.garp_master_refresh.as_secs(),
                "garp_rep": self.cfg.garp_master_repeat,
                "garp_refresh_rep": self.cfg.garp_master_refresh_repeat,
                "garp_lower_prio_delay": self.cfg.garp_lower_prio_delay.as_secs(),
                "garp_lower_prio_rep": self.cfg.garp_lower_prio_repeat,
                "lower_prio_no_advert": u8::from(self.cfg.lower_prio_no_advert),
                "higher_prio_send_advert": u8::from(self.cfg.higher_prio_send_advert),
                "vrid": self.cfg.vrid.unwrap_or(0),
                "base_priority": self.cfg.priority,
                "effective_priority": m.effective_priority(),
                "vipset": self.vips_set,
                "promote_secondaries": self.cfg.promote_secondaries,
                "adver_int": self.cfg.advert_int.as_secs_f64(),
                "master_adver_int": m.master_adver_int().as_secs_f64(),
                "accept": u8::from(self.cfg.accept),
                "nopreempt": self.cfg.nopreempt,
                "preempt_delay": self.cfg.preempt_delay.as_secs(),
                "state": state_num(m.reported_states().0),
                "wantstate": state_num(m.reported_states().1),
                "version": self.cfg.version.number(),
                "smtp_alert": self.cfg.smtp_alert,
                "notify_deleted": self.cfg.notify_deleted,
                "auth_type": match self.cfg.auth.as_ref().map(|a| a.kind) {
                    None => 0,
                    Some(model::AuthType::Pass) => 1,
                    Some(model::AuthType::Ah) => 2,
                },
                "vips": vips,
                "evips": evips,
            },
            "stats": self.stats.to_json(),
        })
    }
}

fn fmt_secs(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} sec", d.as_secs())
    } else {
        format!("{} milli-sec", d.as_millis())
    }
}

fn pass_field(p: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (o, b) in out.iter_mut().zip(p.iter()) {
        *o = *b;
    }
    out
}

/// The effect of a tracked interface's state: weight 0 faults when down; otherwise a positive
/// weight counts while up and a negative one while down (`reverse` swaps up and down).
pub fn track_change(t: &TrackRef, up: bool) -> Option<TrackChange> {
    let w = t.weight_or(0);
    if w == 0 {
        // `reverse`: the instance is down while the interface is up
        return Some(TrackChange::Fault {
            cause: FaultCause::Interface(t.name.clone()),
            active: up == t.reverse,
        });
    }
    // keepalived (vrrp_track.c): a positive weight counts while the interface is up, a
    // negative one while it is down; `reverse` turns the weight's sign, not the state
    let value = match (up, w > 0) {
        (true, true) | (false, false) if t.reverse => -w,
        (true, true) | (false, false) => w,
        _ => 0,
    };
    Some(TrackChange::Weight {
        tracker: format!("interface {}", t.name),
        value,
    })
}

fn sock_key(c: &model::Instance, link: &Link, g: &Globals) -> SockKey {
    let ipv6 = c.family == model::Family::V6;
    let unicast = !c.unicast_peers.is_empty();
    SockKey {
        ifindex: link.xmit_ifindex(),
        ipv6,
        unicast_src: if unicast { link.src } else { None },
        group: if unicast { None } else { Some(group_of(c, g)) },
        ah: !ipv6
            && c.version == model::Version::V2
            && c.auth
                .as_ref()
                .is_some_and(|a| a.kind == model::AuthType::Ah),
    }
}

/// What a state change means for the notify machinery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyEvent {
    State(State),
    MasterRxLowerPri,
    /// The effective priority changed in this state (FIFO only).
    Priority(State),
    /// Removed by a reload with `notify_deleted`.
    Deleted,
}

/// The hook the notify scripts / FIFO / SMTP plug into through `alerts` (the runtime is
/// [`super::alerts`]).
pub fn notify_hook(alerts: &mut dyn Sink, cfg: &model::Instance, event: NotifyEvent, priority: u8) {
    let ev = match event {
        NotifyEvent::MasterRxLowerPri => crate::notify::FifoEvent::MasterRxLowerPri,
        // Only the FIFO hears of priority changes (observed: no script runs, no log).
        NotifyEvent::Priority(State::Master) => crate::notify::FifoEvent::MasterPriority,
        NotifyEvent::Priority(State::Backup) => crate::notify::FifoEvent::BackupPriority,
        NotifyEvent::Priority(_) => return,
        NotifyEvent::Deleted => {
            crate::notify::FifoEvent::State(crate::notify::NotifyState::Deleted)
        }
        NotifyEvent::State(s) => match super::alerts::notify_state(s) {
            Some(st) => crate::notify::FifoEvent::State(st),
            None => return,
        },
    };
    alerts.instance_event(cfg, ev, priority);
}

/// Whether a kernel route is the one a spec describes (destination, prefix, table).
fn route_matches(s: &net::RouteSpec, r: &net::route::RouteInfo) -> bool {
    s.prefix == r.prefix
        && s.table == r.table
        && r.dst.map_or(s.dst.is_unspecified(), |d| d == s.dst)
}

// ---- config model → net specs ----

/// A model address as a netlink address. `default_if` is the instance interface (VIPs) or
/// `None` (static addresses need `dev`). IPv6 /128 addresses get preferred_lft 0 unless
/// configured (keepalived's default), so they are never picked as source.
pub fn addr_spec(
    a: &ModelAddr,
    default_if: Option<u32>,
    ifindex_of: &dyn Fn(&str) -> Option<u32>,
) -> Option<AddrSpec> {
    let ifindex = match &a.dev {
        Some(d) => ifindex_of(d)?,
        None => default_if?,
    };
    let mut s = AddrSpec::new(ifindex, a.addr, a.prefix);
    s.peer = a.peer;
    s.brd = a.broadcast;
    s.scope = a.scope;
    s.label = a.label.clone();
    let mut flags = 0;
    if a.addr.is_ipv6() {
        if !a.dad {
            flags |= net::addr::IFA_F_NODAD;
        }
        if a.home {
            flags |= net::addr::IFA_F_HOMEADDRESS;
        }
        if a.mngtmpaddr {
            flags |= net::addr::IFA_F_MANAGETEMPADDR;
        }
    }
    if a.noprefixroute {
        flags |= net::addr::IFA_F_NOPREFIXROUTE;
    }
    if a.autojoin {
        flags |= net::addr::IFA_F_MCAUTOJOIN;
    }
    s.flags = flags;
    // keepalived sends a lifetime for IPv6 only (IPv4 addresses stay preferred whatever
    // `preferred_lft` says; observed), 0 by default for a /128 VIP or static address.
    s.preferred_lft = match a.preferred_lft {
        _ if a.addr.is_ipv4() => None,
        Some(LIFETIME_FOREVER) => None,
        Some(p) => Some(p),
        None if a.prefix == 128 => Some(0),
        None => None,
    };
    Some(s)
}

/// A model route as a netlink route, with every option keepalived 2.2.7 sends (its
/// vrrp_iproute.c); `None` when its `dev` or a next hop's `dev` is unknown.
pub fn route_spec(
    r: &ModelRoute,
    ifindex_of: &dyn Fn(&str) -> Option<u32>,
) -> Option<net::RouteSpec> {
    let mut s = net::RouteSpec::new(r.dst.addr, r.dst.len);
    s.kind = match r.rtype {
        RouteType::Unicast => RouteKind::Unicast,
        RouteType::Local => RouteKind::Local,
        RouteType::Broadcast => RouteKind::Broadcast,
        RouteType::Anycast => RouteKind::Anycast,
        RouteType::Multicast => RouteKind::Multicast,
        RouteType::Blackhole => RouteKind::Blackhole,
        RouteType::Unreachable => RouteKind::Unreachable,
        RouteType::Prohibit => RouteKind::Prohibit,
        RouteType::Throw => RouteKind::Throw,
        RouteType::Nat => RouteKind::Nat,
        RouteType::Xresolve => RouteKind::Xresolve,
    };
    s.table = r.table;
    s.metric = r.metric;
    s.via = r.via;
    s.src = r.src;
    s.from = r.from.map(|p| (p.addr, p.len));
    s.oif = match &r.dev {
        Some(d) => Some(ifindex_of(d)?),
        None => None,
    };
    s.scope = r.scope;
    if let Some(p) = r.protocol {
        s.protocol = p;
    }
    s.tos = r.tos.unwrap_or(0);
    s.onlink = r.onlink;
    s.mode = match r.mode {
        RouteMode::Prepend => net::route::AddMode::Prepend,
        RouteMode::Add => net::route::AddMode::Add,
        RouteMode::Append => net::route::AddMode::Append,
    };
    s.metrics = route_metrics(&r.metrics);
    s.lock = r.metrics.lock;
    s.realms = r.realms.unwrap_or(0);
    s.expires = r.expires;
    s.pref = r.pref;
    s.ttl_propagate = r.ttl_propagate.map(u8::from);
    s.nexthops = r
        .nexthops
        .iter()
        .map(|n| {
            Some(net::route::NextHop {
                via: n.via,
                oif: match &n.dev {
                    Some(d) => Some(ifindex_of(d)?),
                    None => None,
                },
                weight: n.weight,
                onlink: n.onlink,
                realms: n.realms.unwrap_or(0),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(s)
}

type MetricOf = fn(u32) -> net::route::RouteMetric;

/// The RTA_METRICS entries of a route, in keepalived's order (RTAX_LOCK apart).
fn route_metrics(m: &RouteMetrics) -> Vec<net::route::RouteMetric> {
    use net::route::RouteMetric as M;
    let mut v = Vec::new();
    if let Some(c) = &m.congctl {
        v.push(net::route::congctl_metric(c));
    }
    let all = [
        (m.rtt, M::Rtt as MetricOf),
        (m.rttvar, M::RttVar),
        (m.rto_min, M::RtoMin),
        (m.features_ecn.then_some(1), M::Features),
        (m.mtu, M::Mtu),
        (m.window, M::Window),
        (m.ssthresh, M::SsThresh),
        (m.cwnd, M::Cwnd),
        (m.advmss, M::Advmss),
        (m.reordering, M::Reordering),
        (m.hoplimit.map(u32::from), M::Hoplimit),
        (m.initcwnd, M::InitCwnd),
        (m.initrwnd, M::InitRwnd),
        (m.quickack.map(u32::from), M::QuickAck),
        (m.fastopen_no_cookie.map(u32::from), M::FastopenNoCookie),
    ];
    for (val, make) in all {
        if let Some(x) = val {
            v.push(make(x));
        }
    }
    v
}

/// A model rule as a netlink rule, with every option keepalived 2.2.7 sends (its
/// vrrp_iprule.c).
pub fn rule_spec(r: &ModelRule) -> RuleSpec {
    let mut s = RuleSpec::new(r.ipv6);
    s.from = r.from.map(|p| (p.addr, p.len));
    s.to = r.to.map(|p| (p.addr, p.len));
    match r.action {
        Some(ModelRuleAction::Table(t)) => {
            s.action = RuleAction::ToTable;
            s.table = Some(t);
        }
        Some(ModelRuleAction::Goto(p)) => s.action = RuleAction::Goto(p),
        Some(ModelRuleAction::Nop) => s.action = RuleAction::Nop,
        Some(ModelRuleAction::Blackhole) => s.action = RuleAction::Blackhole,
        Some(ModelRuleAction::Unreachable) => s.action = RuleAction::Unreachable,
        Some(ModelRuleAction::Prohibit) => s.action = RuleAction::Prohibit,
        Some(ModelRuleAction::L3mdev) => s.l3mdev = true,
        None => {}
    }
    s.priority = r.preference;
    s.iif = r.iif.clone();
    s.oif = r.oif.clone();
    s.tos = r.tos.unwrap_or(0);
    s.fwmark = r.fwmark;
    s.fwmask = r.fwmask;
    s.invert = r.invert;
    s.suppress_prefixlen = r.suppress_prefixlength;
    s.suppress_ifgroup = r.suppress_ifgroup;
    // Tracked rules carry keepalived's protocol (set by the parser); a `no_track` rule
    // without `protocol` sends none (observed: `proto unspec`).
    s.protocol = r.protocol;
    s.realms = r.realms.unwrap_or(0);
    s.uidrange = r.uidrange;
    s.sport = r.sport;
    s.dport = r.dport;
    s.ip_proto = r.ip_proto;
    s.tunnel_id = r.tunnel_id.unwrap_or(0);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_host_vip_is_deprecated_nodad() {
        let a = ModelAddr::new("2001:db8::64".parse().unwrap(), 128);
        let s = addr_spec(&a, Some(7), &|_| None).unwrap();
        assert_eq!(s.ifindex, 7);
        assert_eq!(s.preferred_lft, Some(0));
        assert_eq!(s.flags & net::addr::IFA_F_NODAD, net::addr::IFA_F_NODAD);
        let mut b = ModelAddr::new("2001:db8::64".parse().unwrap(), 64);
        b.preferred_lft = Some(LIFETIME_FOREVER);
        let s = addr_spec(&b, Some(7), &|_| None).unwrap();
        assert_eq!(s.preferred_lft, None);
        let mut v4 = ModelAddr::new("192.0.2.100".parse().unwrap(), 32);
        v4.preferred_lft = Some(0);
        let s = addr_spec(&v4, Some(7), &|_| None).unwrap();
        assert_eq!((s.flags, s.preferred_lft), (0, None));
        // A static address needs its device.
        assert!(addr_spec(&v4, None, &|_| None).is_none());
    }

    fn model_route(line: &str) -> ModelRoute {
        let mut d = crate::config::diagnostic::Diagnostics::new();
        let mut ctx = crate::config::model::Ctx::new(&mut d);
        let node = crate::config::model::global::tests::n(line);
        crate::config::model::addr::route_line(&node, &mut ctx).expect(line)
    }

    #[test]
    fn every_route_option_reaches_the_netlink_spec() {
        let ifx = |n: &str| match n {
            "eth0" => Some(2),
            "mv1" => Some(3),
            _ => None,
        };
        let r = model_route("anycast 198.51.100.0/24 via 192.0.2.254 dev eth0 mtu lock 1400 advmss 1300 rtt 300ms rttvar 250ms reordering 3 window 100 cwnd 10 ssthresh lock 5 rto_min 300ms initcwnd 10 initrwnd 11 features ecn quickack 1 hoplimit 64 congctl lock reno fastopen_no_cookie 1 realms 1/2 append");
        let s = route_spec(&r, &ifx).unwrap();
        use net::route::RouteMetric as M;
        assert_eq!(s.kind, RouteKind::Anycast);
        assert_eq!(s.mode, net::route::AddMode::Append);
        assert_eq!(s.realms, 1 << 16 | 2);
        assert_eq!(s.lock, 1 << 2 | 1 << 6 | 1 << 16);
        assert_eq!(
            s.metrics,
            [
                net::route::congctl_metric("reno"),
                M::Rtt(2400),
                M::RttVar(1000),
                M::RtoMin(300),
                M::Features(1),
                M::Mtu(1400),
                M::Window(100),
                M::SsThresh(5),
                M::Cwnd(10),
                M::Advmss(1300),
                M::Reordering(3),
                M::Hoplimit(64),
                M::InitCwnd(10),
                M::InitRwnd(11),
                M::QuickAck(1),
                M::FastopenNoCookie(1),
            ]
        );
        let r = model_route("198.51.100.10 dev eth0 nexthop via 192.0.2.250 dev eth0 weight 2 nexthop via 203.0.113.251 dev mv1 onlink realms 5");
        let s = route_spec(&r, &ifx).unwrap();
        assert_eq!(s.nexthops.len(), 2);
        assert_eq!(s.nexthops[1].oif, Some(3));
        assert_eq!((s.nexthops[0].weight, s.nexthops[1].realms), (Some(2), 5));
        let r = model_route("198.51.100.10 dev eth0 nexthop via 192.0.2.250 dev nosuch");
        assert!(route_spec(&r, &ifx).is_none());
        let r = model_route("2001:db8:1::/48 via 2001:db8::fe dev eth0 expires 1000 pref high ttl-propagate enabled");
        let s = route_spec(&r, &ifx).unwrap();
        assert_eq!(
            (s.expires, s.pref, s.ttl_propagate),
            (Some(1000), Some(1), Some(1))
        );
    }

    #[test]
    fn every_rule_option_reaches_the_netlink_spec() {
        let mut d = crate::config::diagnostic::Diagnostics::new();
        let mut ctx = crate::config::model::Ctx::new(&mut d);
        let mut rule = |l: &str| {
            let node = crate::config::model::global::tests::n(l);
            rule_spec(&crate::config::model::addr::rule_line(&node, &mut ctx).expect(l))
        };
        let s = rule("from 192.0.2.0/24 table 100 priority 100 sport 1000-2000 dport 80-80 uidrange 100-200 realms 3/4");
        assert_eq!((s.sport, s.dport), (Some((1000, 2000)), Some((80, 80))));
        assert_eq!((s.uidrange, s.realms), (Some((100, 200)), 3 << 16 | 4));
        assert_eq!(s.protocol, Some(net::route::RTPROT_KEEPALIVED));
        let s = rule("to 198.51.100.0/24 blackhole priority 202 no_track");
        assert_eq!(s.protocol, None);
        let s = rule("l3mdev priority 101");
        assert!(s.l3mdev);
        assert_eq!(s.table, None);
    }

    fn tref(name: &str, weight: Option<i32>, reverse: bool) -> TrackRef {
        TrackRef {
            name: name.into(),
            weight,
            reverse,
            span: Default::default(),
        }
    }

    #[test]
    fn tracked_interface_effects() {
        let fault = |active| {
            Some(TrackChange::Fault {
                cause: FaultCause::Interface("eth1".into()),
                active,
            })
        };
        let weight = |value| {
            Some(TrackChange::Weight {
                tracker: "interface eth1".into(),
                value,
            })
        };
        assert_eq!(track_change(&tref("eth1", None, false), false), fault(true));
        assert_eq!(
            track_change(&tref("eth1", Some(0), false), true),
            fault(false)
        );
        assert_eq!(
            track_change(&tref("eth1", Some(10), false), true),
            weight(10)
        );
        assert_eq!(
            track_change(&tref("eth1", Some(10), false), false),
            weight(0)
        );
        assert_eq!(
            track_change(&tref("eth1", Some(-10), false), false),
            weight(-10)
        );
        assert_eq!(
            track_change(&tref("eth1", Some(-10), false), true),
            weight(0)
        );
        // reverse turns the weight's sign (keepalived's weight_multiplier -1)
        assert_eq!(
            track_change(&tref("eth1", Some(-10), true), true),
            weight(0)
        );
        assert_eq!(
            track_change(&tref("eth1", Some(-10), true), false),
            weight(10)
        );
        assert_eq!(
            track_change(&tref("eth1", Some(10), true), true),
            weight(-10)
        );
        assert_eq!(
            track_change(&tref("eth1", Some(10), true), false),
            weight(0)
        );
        assert_eq!(track_change(&tref("eth1", None, true), true), fault(true));
        assert_eq!(track_change(&tref("eth1", None, true), false), fault(false));
    }

    #[test]
    fn stats_text_shape() {
        let s = Stats {
            advert_rcvd: 3,
            advert_sent: 24,
            become_master: 1,
            ..Stats::default()
        };
        let t = s.to_text("VI_1");
        assert!(t.starts_with("VRRP Instance: VI_1\n  Advertisements:\n    Received: 3\n    Sent: 24\n  Became master: 1\n"));
        assert_eq!(s.to_json()["advert_rcvd"], 3);
    }
}
