//! The VRRP child's logic as a value: every instance and sync group, what the host and
//! the trackers report fed in as [`Event`]s with the time, the I/O to perform out as
//! [`Io`]. No socket, no task, no clock: the service ([`super::service`]) reads the host,
//! keeps the sockets and the time, and performs the I/O; the simulator runs engines on a
//! simulated LAN.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;

use tracing::info;

use super::alerts;
use super::instance::{
    addr_spec, identity, route_spec, rule_spec, track_change, AddrVmac, Globals, Identity,
    Instance, Io, Link, SockKey,
};
use super::machine::{self, Input, Machine, State};
use super::packet::{self, Received};
use super::rxguard::{self, RxStats};
use super::sync_group::{GroupAction, Members, SyncGroup};
use super::syncd;
use super::tracking::Target;
use super::vmac;
use crate::config::model::global::RxBufsPolicy;
use crate::config::model::vrrp::instance as model;
use crate::config::model::vrrp::track::TrackRef;
use crate::config::model::Config;
use crate::net::{self, nft, AddrInfo, AddrSpec, LinkInfo, RuleSpec};

/// The trackers' side the engine reads (vrrp_script, track_file, track_process): the
/// service's tracking runtime, or a stand-in in tests.
pub trait TrackState {
    /// The current state of what `target` tracks, as changes from "all fine".
    fn initial(&self, target: &Target) -> Vec<machine::TrackChange>;
    /// Takes a new configuration; returns the changes it makes to running targets.
    fn reload(&mut self, c: &Config) -> Vec<(Target, machine::TrackChange)>;
}

/// A reload's inputs for kept sync-group members, applied once the groups are rebuilt:
/// new machine parameters by instance name, and config faults.
type MemberUpdates = (Vec<(String, Input)>, Vec<(Target, machine::TrackChange)>);

/// What happens to the engine.
#[derive(Debug)]
pub enum Event<'a> {
    /// Time passed: the deadlines due (see [`Engine::poll_timeout`]) fire.
    Timeout,
    /// A packet received on the socket of `key`.
    Packet {
        key: &'a SockKey,
        rx: Received<'a>,
    },
    /// Tracker results.
    Tracking(Vec<(Target, machine::TrackChange)>),
    /// Netlink: a link is up or down (ignored for the interfaces linkbeat polls).
    Link {
        ifindex: u32,
        name: &'a str,
        up: bool,
    },
    /// Linkbeat polling: a polled link's new state.
    LinkPolled {
        ifindex: u32,
        name: &'a str,
        up: bool,
    },
    /// Netlink: a link changed its name.
    LinkRenamed {
        ifindex: u32,
        old: &'a str,
        name: &'a str,
    },
    AddressAdded {
        ifindex: u32,
        addr: IpAddr,
    },
    AddressRemoved {
        ifindex: u32,
        addr: IpAddr,
    },
    RouteRemoved(&'a net::route::RouteInfo),
}

impl Engine {
    /// An engine without instances yet (see [`Engine::start`]); `statics` are the static
    /// addresses, routes and rules of `c` ([`statics_of`]).
    pub fn new(
        c: &Config,
        ifmap: Rc<RefCell<HashMap<String, u32>>>,
        statics: Statics,
        syncd: Option<syncd::Syncd>,
        alerts: Box<dyn alerts::Sink>,
    ) -> Engine {
        Engine {
            instances: Vec::new(),
            ifmap,
            globals: globals_of(c),
            statics,
            groups: Vec::new(),
            hold_until: None,
            rx: RxStats::default(),
            syncd,
            rx_bufs: (
                c.global.vrrp_rx_bufs_policy,
                c.global.vrrp_rx_bufs_multiplier,
            ),
            polled: polled_links(c),
            alerts,
            vmac_fw: vmac_fw_of(c),
        }
    }

    /// `vrrp_startup_delay`, then the start's first I/O: the VMACs' firewall entries and
    /// the static addresses, routes and rules.
    pub fn start_io(&mut self, now: machine::Instant, c: &Config, h: &Host) -> Vec<Io> {
        if let Some(d) = c.global.vrrp_startup_delay {
            info!("Delaying startup for {} seconds", d.as_secs_f64());
            self.hold_until = Some(machine::Instant(now.0 + d));
        }
        self.vmac_fw = vmac_fw_of(c);
        let mut io = vec![Io::FirewallVmacs(self.vmac_entries(h))];
        io.extend(self.statics.0.iter().cloned().map(Io::AddAddr));
        io.extend(self.statics.1.iter().cloned().map(Io::AddRoute));
        io.extend(self.statics.2.iter().cloned().map(Io::AddRule));
        io
    }

    /// Builds the configured instances (their machines start at `now`).
    pub fn build_instances(
        &mut self,
        now: machine::Instant,
        c: &Config,
        h: &Host,
        tracked: &dyn TrackState,
    ) {
        let globals = self.globals.clone();
        for mi in &c.vrrp.instances {
            if let Some(i) = build(mi, h, &globals, &self.ifmap, now, tracked, group_of(c, mi)) {
                self.instances.push(i);
            }
        }
    }

    /// Builds the sync groups and performs the machines' first actions (remove leftover
    /// VIPs, notifies). The service opens the instances' sockets before.
    pub fn start(
        &mut self,
        now: machine::Instant,
        c: &Config,
        h: &Host,
        tracked: &dyn TrackState,
        io: &mut Vec<Io>,
    ) {
        self.build_groups(now, c, h, tracked, io);
        for i in &mut self.instances {
            if i.group.is_none() {
                i.drain(State::Init, io, &mut *self.alerts);
            }
        }
    }

    /// The earliest deadline of any machine (not before `vrrp_startup_delay` ends).
    pub fn poll_timeout(&self) -> Option<machine::Instant> {
        self.next_deadline()
    }

    /// One event at `now`; the I/O it needs is appended to `io`, in order. The sync daemon
    /// then follows its instance's state.
    pub fn handle(&mut self, now: machine::Instant, ev: Event<'_>, io: &mut Vec<Io>) {
        match ev {
            Event::Timeout => self.on_timeout(now, io),
            Event::Packet { key, rx } => {
                self.serve_due(now, io);
                self.on_packet(now, key, rx, io);
            }
            Event::Tracking(changes) => self.apply_tracking(now, changes, io),
            Event::Link { ifindex, name, up } => {
                if up {
                    self.ifmap.borrow_mut().insert(name.to_owned(), ifindex);
                }
                // keepalived ignores netlink for the interfaces linkbeat polls.
                if !self.polled.iter().any(|p| p == name) {
                    self.on_link(now, ifindex, name, up, io);
                }
            }
            Event::LinkPolled { ifindex, name, up } => {
                self.link_changed(now, ifindex, name, up, io)
            }
            Event::LinkRenamed { ifindex, old, name } => {
                let mut map = self.ifmap.borrow_mut();
                if map.get(old) == Some(&ifindex) {
                    map.remove(old);
                }
                map.insert(name.to_owned(), ifindex);
            }
            Event::AddressAdded { ifindex, addr } => self.on_address_added(now, ifindex, addr, io),
            Event::AddressRemoved { ifindex, addr } => self.on_address_removed(ifindex, addr, io),
            Event::RouteRemoved(r) => {
                for i in &mut self.instances {
                    i.on_route_removed(r, io);
                }
            }
        }
        self.syncd_step(io);
    }

    /// Shutdown: the sync daemon stops first (even with `dont_release`), then every
    /// instance releases (or, with `dont_release`, only notifies STOP), then the static
    /// addresses, routes and rules go.
    pub fn shutdown(&mut self, now: machine::Instant, dont_release: bool) -> Vec<Io> {
        let mut io = Vec::new();
        self.syncd_stop(&mut io);
        if dont_release {
            for i in &self.instances {
                super::instance::notify_hook(
                    &mut *self.alerts,
                    &i.cfg,
                    super::instance::NotifyEvent::State(State::Stop),
                    i.machine.effective_priority(),
                );
            }
        } else {
            self.shutdown_all(now, &mut io);
        }
        io.extend(self.statics.2.iter().cloned().map(Io::DelRule));
        io.extend(self.statics.1.iter().cloned().map(Io::DelRoute));
        io.extend(self.statics.0.iter().cloned().map(Io::DelAddr));
        io
    }

    /// The sync groups' names, in configuration order.
    pub fn group_names(&self) -> Vec<&str> {
        self.groups.iter().map(|g| g.name.as_str()).collect()
    }

    /// The sync groups' names and states.
    pub fn group_states(&self) -> Vec<(&str, State)> {
        self.groups
            .iter()
            .map(|g| (g.name.as_str(), g.sg.state()))
            .collect()
    }

    /// A reload: the decision part (what to add, remove and keep), without I/O. Instances
    /// are matched by identity, unchanged ones left alone; sync groups are kept when their
    /// names and member identities are unchanged; statics follow the new configuration.
    /// `h` is the host after the VMACs of `c` were made. Returns the I/O to perform, in order.
    pub fn reload(
        &mut self,
        now: machine::Instant,
        c: &Config,
        h: &Host,
        tracked: &mut dyn TrackState,
    ) -> Vec<Io> {
        self.vmac_fw = vmac_fw_of(c);
        let mut io = vec![Io::FirewallVmacs(self.vmac_entries(h))];
        *self.ifmap.borrow_mut() = h.ifmap();
        self.globals = globals_of(c);
        self.rx_bufs = (
            c.global.vrrp_rx_bufs_policy,
            c.global.vrrp_rx_bufs_multiplier,
        );
        self.syncd_reload(c, &mut io);
        let track_changes = tracked.reload(c);
        self.reload_statics(c, &mut io);
        let old_shape = self.group_shape();
        let keep_groups = self.release_groups(now, c, &old_shape, &mut io);
        let old_groups = std::mem::take(&mut self.groups);
        let (member_reloads, member_faults) =
            self.reload_instances(now, c, h, tracked, keep_groups, &mut io);
        if keep_groups {
            self.regroup(c, old_groups, &old_shape);
        } else {
            self.build_groups(now, c, h, tracked, &mut io);
        }
        // A kept group member's new parameters and config fault go through its group,
        // once regrouped.
        for (name, input) in member_reloads {
            if let Some(idx) = self.instances.iter().position(|i| i.cfg.name == name) {
                self.feed(idx, now, input, &mut io);
            }
        }
        self.apply_tracking(now, member_faults, &mut io);
        self.apply_tracking(now, track_changes, &mut io);
        skip_present(&mut io, &h.addrs);
        io
    }

    /// Statics: what went is removed, what is new added.
    fn reload_statics(&mut self, c: &Config, io: &mut Vec<Io>) {
        let new_statics = statics_of(c, &self.ifmap.borrow());
        let old = std::mem::replace(&mut self.statics, new_statics);
        let st = &self.statics;
        io.extend(missing(&old.2, &st.2).map(Io::DelRule));
        io.extend(missing(&old.1, &st.1).map(Io::DelRoute));
        io.extend(missing(&old.0, &st.0).map(Io::DelAddr));
        io.extend(missing(&st.0, &old.0).map(Io::AddAddr));
        io.extend(missing(&st.1, &old.1).map(Io::AddRoute));
        io.extend(missing(&st.2, &old.2).map(Io::AddRule));
    }

    /// Whether the sync groups stay: their names and member identities are unchanged.
    /// Otherwise every group member, old and new, starts afresh: the old groups stop here.
    fn release_groups(
        &mut self,
        now: machine::Instant,
        c: &Config,
        old_shape: &[(String, Vec<Identity>)],
        io: &mut Vec<Io>,
    ) -> bool {
        let globals = self.globals.clone();
        let new_shape: Vec<(String, Vec<Identity>)> = c
            .vrrp
            .sync_groups
            .iter()
            .map(|g| {
                let ids = g
                    .members
                    .iter()
                    .filter_map(|n| c.vrrp.instances.iter().find(|i| &i.name == n))
                    .filter(|i| i.vrid.is_some())
                    .map(|i| identity(i, &globals))
                    .collect();
                (g.name.clone(), ids)
            })
            .collect();
        let keep_groups = old_shape == new_shape;
        if !keep_groups {
            // Members gone from the config notify FAULT/DELETED, a group gone does not
            // notify at all (observed with keepalived 2.2.7).
            let new_ids: Vec<Identity> = c
                .vrrp
                .instances
                .iter()
                .filter(|i| i.vrid.is_some())
                .map(|i| identity(i, &globals))
                .collect();
            for (g, (name, ids)) in old_shape.iter().enumerate() {
                let gone: Vec<bool> = ids.iter().map(|id| !new_ids.contains(id)).collect();
                let group_gone = !new_shape.iter().any(|(n, _)| n == name);
                self.group_step(g, io, |sg, m| {
                    sg.handle_reload_removal(now, m, &gone, group_gone)
                });
            }
        }
        keep_groups
    }

    /// Matches the configured instances with the running ones by identity: unchanged ones
    /// are left alone, changed ones reloaded, others built (and removed ones released).
    /// With `keep_groups` the grouped instances keep their machines.
    fn reload_instances(
        &mut self,
        now: machine::Instant,
        c: &Config,
        h: &Host,
        tracked: &dyn TrackState,
        keep_groups: bool,
        io: &mut Vec<Io>,
    ) -> MemberUpdates {
        let globals = self.globals.clone();
        let mut member_reloads = Vec::new();
        let mut member_faults = Vec::new();
        let grouped: Vec<&str> = c
            .vrrp
            .sync_groups
            .iter()
            .flat_map(|g| g.members.iter().map(String::as_str))
            .collect();
        // Match instances by identity.
        let mut old_insts: Vec<Option<Instance>> = std::mem::take(&mut self.instances)
            .into_iter()
            .map(|i| (keep_groups || i.group.is_none()).then_some(i))
            .collect();
        let ifmap = self.ifmap.clone();
        // Old instances by identity, each list in reverse order so that `pop` takes the
        // first one (a scan per new instance is quadratic with hundreds of instances).
        let mut by_id: HashMap<Identity, Vec<usize>> = HashMap::new();
        for (k, o) in old_insts.iter().enumerate().rev() {
            if let Some(o) = o {
                by_id.entry(o.identity()).or_default().push(k);
            }
        }
        let mut next = Vec::new();
        for mi in &c.vrrp.instances {
            if mi.vrid.is_none() {
                continue;
            }
            let id = identity(mi, &globals);
            let fresh_member = !keep_groups && grouped.contains(&mi.name.as_str());
            let found = by_id
                .get_mut(&id)
                .and_then(Vec::pop)
                .and_then(|k| old_insts.get_mut(k))
                .and_then(Option::take);
            let kept = found.is_some() && !fresh_member;
            let faulted = kept.then(|| with_config_faults(mi, h));
            match (found, h.link_for(mi), faulted) {
                // Unchanged: nothing to do (no advert, no "setting VIPs", no netlink).
                (Some(o), Some(link), Some(f)) if o.unchanged_by(&f, &link) => {
                    next.push(o);
                }
                (Some(mut o), Some(link), Some(f)) => {
                    let was = o.cfg.permanent_fault;
                    let now_faulted = f.permanent_fault;
                    let input = o.reload(f, link, io);
                    // A configuration keepalived cannot run faults it (and a fixed one
                    // lets it go), as keepalived re-counts its config faults.
                    let fault = (was != now_faulted).then_some(machine::TrackChange::Fault {
                        cause: machine::FaultCause::Config,
                        active: now_faulted,
                    });
                    if o.group.is_none() {
                        o.drive(now, input, io, &mut *self.alerts);
                        if let Some(change) = fault {
                            o.drive(now, Input::Track(change), io, &mut *self.alerts);
                        }
                    } else {
                        // The group keeps the machine: the new parameters reach it through
                        // the group (a MASTER re-asserts its new VIP set there).
                        member_reloads.push((o.cfg.name.clone(), input));
                        if let Some(change) = fault {
                            member_faults.push((Target::Instance(o.cfg.name.clone()), change));
                        }
                    }
                    next.push(o);
                }
                (found, _, _) => {
                    // A kept group goes on driving its member's machine.
                    let mut group_machine = None;
                    match found {
                        Some(mut o) if o.group.is_none() => {
                            o.drive(now, Input::Shutdown, io, &mut *self.alerts);
                        }
                        Some(o) if keep_groups => group_machine = Some(o.machine),
                        _ => {}
                    }
                    if let Some(mut i) =
                        build(mi, h, &globals, &ifmap, now, tracked, group_of(c, mi))
                    {
                        if let Some(m) = group_machine {
                            i.machine = m;
                        } else if !grouped.contains(&mi.name.as_str()) {
                            i.drain(State::Init, io, &mut *self.alerts);
                        }
                        next.push(i);
                    }
                }
            }
        }
        // Instances gone from the config step down and lose their addresses.
        for mut o in old_insts.into_iter().flatten() {
            info!("({}) instance removed from the configuration", o.name());
            if o.group.is_none() {
                o.drive(now, Input::Removed, io, &mut *self.alerts);
            }
        }
        self.instances = next;
        (member_reloads, member_faults)
    }

    /// The kept sync groups over the reloaded instances (their indexes may have moved).
    fn regroup(
        &mut self,
        c: &Config,
        mut old_groups: Vec<GroupRt>,
        old_shape: &[(String, Vec<Identity>)],
    ) {
        for (g, x) in old_groups.iter_mut().enumerate() {
            let ids = old_shape.get(g).map(|s| s.1.clone()).unwrap_or_default();
            x.members = ids
                .iter()
                .filter_map(|id| self.instances.iter().position(|i| &i.identity() == id))
                .collect();
            for (k, &i) in x.members.iter().enumerate() {
                if let Some(inst) = self.instances.get_mut(i) {
                    inst.group = Some((g, k));
                }
            }
            if let Some(cg) = c.vrrp.sync_groups.iter().find(|cg| cg.name == x.name) {
                x.track = cg.track_interfaces.clone();
            }
        }
        self.groups = old_groups;
        if c.global.fifo_write_vrrp_states_on_reload {
            // keepalived 2.2.7 re-writes the groups' states only (observed).
            for x in &self.groups {
                self.alerts.group_fifo_state(&x.name, x.sg.state());
            }
        }
    }
}

/// `linkbeat_interfaces`, and the interfaces of instances with `linkbeat_use_polling` (or
/// the root-level one): polled each second instead of followed through netlink, as
/// keepalived's linkbeat does. An interface no instance or group uses is not polled.
pub fn polled_links(c: &Config) -> Vec<String> {
    let mut wanted: Vec<String> = c
        .statics
        .linkbeat_interfaces
        .iter()
        .map(|l| l.interface.clone())
        .collect();
    for i in &c.vrrp.instances {
        if i.linkbeat_use_polling || c.root.linkbeat_use_polling {
            wanted.extend(i.interface.clone());
        }
    }
    let used = |n: &str| {
        c.vrrp.instances.iter().any(|i| {
            i.interface.as_deref() == Some(n) || i.track_interfaces.iter().any(|t| t.name == n)
        }) || c
            .vrrp
            .sync_groups
            .iter()
            .any(|g| g.track_interfaces.iter().any(|t| t.name == n))
    };
    let mut out: Vec<String> = Vec::new();
    for n in wanted {
        if out.contains(&n) {
            continue;
        }
        if used(&n) {
            out.push(n);
        } else {
            info!("Turning off linkbeat for {n} since not used for tracking");
        }
    }
    out
}

pub type Statics = (Vec<AddrSpec>, Vec<net::RouteSpec>, Vec<RuleSpec>);

/// The state of every instance and sync group.
pub struct Engine {
    pub instances: Vec<Instance>,
    /// Interface names to indexes, shared with the instances.
    pub ifmap: Rc<RefCell<HashMap<String, u32>>>,
    pub globals: Globals,
    pub statics: Statics,
    groups: Vec<GroupRt>,
    /// `vrrp_startup_delay`: no machine timer fires before this, so nothing is sent
    /// and no instance leaves BACKUP; adverts received meanwhile are still processed.
    hold_until: Option<machine::Instant>,
    /// Every received packet, accepted or dropped by reason (rxguard.rs).
    pub rx: RxStats,
    /// The IPVS sync daemon following an instance (syncd.rs).
    syncd: Option<syncd::Syncd>,
    /// `vrrp_rx_bufs_policy` and `vrrp_rx_bufs_multiplier`, for receive sockets opened later.
    pub rx_bufs: (Option<RxBufsPolicy>, u32),
    /// Interfaces whose state the linkbeat task polls: netlink up/down of them is ignored.
    pub polled: Vec<String>,
    /// Where notify events go (notify scripts, FIFOs, mail).
    alerts: Box<dyn alerts::Sink>,
    /// The instances whose VMACs get a firewall IGMP/MLD entry, with its family.
    vmac_fw: Vec<(String, nft::Family)>,
}

impl Engine {
    /// The sync daemon commands for the linked instance's current state.
    pub fn syncd_step(&mut self, io: &mut Vec<Io>) {
        let Some(s) = &mut self.syncd else { return };
        let Some(state) = self
            .instances
            .iter()
            .find(|i| i.cfg.name == s.link.instance)
            .map(|i| i.machine.state())
        else {
            return;
        };
        io.extend(s.step(state).into_iter().map(Io::Syncd));
    }

    /// A reload keeps an unchanged link (and what runs); a changed one stops our daemon
    /// and starts over from the instance's state. (keepalived 2.2.7, observed: the same,
    /// plus `IPVS cmd IP_VS_SO_SET_STARTDAEMON(1163) error: Daemon has already run(17)`
    /// for an unchanged master, and a removed `lvs_sync_daemon` leaves its daemon running
    /// even after SIGTERM; ours is stopped.)
    fn syncd_reload(&mut self, c: &Config, io: &mut Vec<Io>) {
        let link = syncd::link_of(c);
        if link != Ok(None) {
            info!(target: crate::log::SYSLOG_DEBUG, "Reinitializing ipvs");
        }
        let link = link.unwrap_or_else(|line| {
            info!("{line}");
            None
        });
        if self.syncd.as_ref().map(|s| &s.link) == link.as_ref() {
            return;
        }
        if let Some(mut old) = self.syncd.take() {
            io.extend(old.release().into_iter().map(Io::Syncd));
        }
        self.syncd = link.map(syncd::Syncd::new);
    }

    /// At shutdown: the running sync daemon is stopped before the instances are released.
    pub fn syncd_stop(&mut self, io: &mut Vec<Io>) {
        let Some(s) = &mut self.syncd else { return };
        let state = self
            .instances
            .iter()
            .find(|i| i.cfg.name == s.link.instance)
            .map_or(State::Backup, |i| i.machine.state());
        io.extend(s.stop(state).into_iter().map(Io::Syncd));
    }

    pub fn next_deadline(&self) -> Option<machine::Instant> {
        self.instances
            .iter()
            .filter_map(|i| i.machine.poll_timeout())
            .min()
            .map(|t| self.hold_until.map_or(t, |h| t.max(h)))
    }

    pub fn on_timeout(&mut self, now: machine::Instant, io: &mut Vec<Io>) {
        for idx in 0..self.instances.len() {
            let due = self.instances.get(idx).is_some_and(|i| {
                i.group.is_none() && i.machine.poll_timeout().is_some_and(|t| t <= now)
            });
            if due {
                self.feed(idx, now, Input::Timeout, io);
            }
        }
        for g in 0..self.groups.len() {
            let due = self
                .groups
                .get(g)
                .and_then(|x| {
                    x.members
                        .iter()
                        .filter_map(|&i| self.instances.get(i)?.machine.poll_timeout())
                        .min()
                })
                .is_some_and(|t| t <= now);
            if due {
                self.group_step(g, io, |sg, m| sg.handle_timeout(now, m));
            }
        }
    }

    /// Feeds every instance the inputs `derive` finds for it.
    fn feed_each(
        &mut self,
        now: machine::Instant,
        io: &mut Vec<Io>,
        mut derive: impl FnMut(&mut Instance) -> Vec<Input>,
    ) {
        for idx in 0..self.instances.len() {
            let inputs = self
                .instances
                .get_mut(idx)
                .map(&mut derive)
                .unwrap_or_default();
            for input in inputs {
                self.feed(idx, now, input, io);
            }
        }
    }

    /// Sets instance `idx`'s base priority or preemption, as an SNMP manager may
    /// (`Some` each); the machine's queued actions (priority notifies) are performed.
    pub fn manager_set(
        &mut self,
        idx: usize,
        now: machine::Instant,
        priority: Option<u8>,
        preempt: Option<bool>,
        io: &mut Vec<Io>,
    ) {
        let Some(inst) = self.instances.get_mut(idx) else {
            return;
        };
        let before = inst.machine.state();
        if let Some(p) = priority {
            info!(
                "({}) base priority changed from {} to {} via SNMP.",
                inst.name(),
                inst.cfg.priority,
                p
            );
            inst.cfg.priority = p;
            inst.machine.set_base_priority(now, p);
        }
        if let Some(on) = preempt {
            let what = if on { "enabled" } else { "disabled" };
            info!("({}) preemption {what} with SNMP", inst.name());
            inst.cfg.nopreempt = !on;
            inst.machine.set_preempt(on);
        }
        inst.drain(before, io, &mut *self.alerts);
    }

    /// Routes one input to a solo instance's machine or to its sync group.
    pub fn feed(&mut self, idx: usize, now: machine::Instant, input: Input, io: &mut Vec<Io>) {
        let Some(inst) = self.instances.get_mut(idx) else {
            return;
        };
        let Some((g, member)) = inst.group else {
            inst.drive(now, input, io, &mut *self.alerts);
            return;
        };
        self.group_step(g, io, |sg, m| match input {
            Input::Advert(a) => sg.handle_advert(now, m, member, a),
            Input::Track(c) => sg.handle_track(now, m, member, c),
            Input::Timeout => sg.handle_timeout(now, m),
            Input::Shutdown | Input::Removed => sg.handle_shutdown(now, m),
            Input::Reload(cfg) => sg.handle_reload(now, m, member, cfg),
        });
    }

    /// Applies tracker changes to the instances and groups they name.
    pub fn apply_tracking(
        &mut self,
        now: machine::Instant,
        changes: Vec<(Target, machine::TrackChange)>,
        io: &mut Vec<Io>,
    ) {
        for (target, c) in changes {
            match target {
                Target::Instance(n) => {
                    if let Some(idx) = self.instances.iter().position(|i| i.cfg.name == n) {
                        self.feed(idx, now, Input::Track(c), io);
                    }
                }
                Target::Group(n) => {
                    if let Some(g) = self.groups.iter().position(|x| x.name == n) {
                        self.group_step(g, io, |sg, m| sg.handle_group_track(now, m, c));
                    }
                }
            }
        }
    }

    /// The members' states, to count their transitions after a group step.
    fn member_states(&self, g: usize) -> Vec<(usize, State)> {
        self.groups.get(g).map_or_else(Vec::new, |x| {
            x.members
                .iter()
                .filter_map(|&i| Some((i, self.instances.get(i)?.machine.state())))
                .collect()
        })
    }

    /// Runs one step of group `g` over its members' machines, then performs its actions.
    fn group_step(
        &mut self,
        g: usize,
        io: &mut Vec<Io>,
        step: impl FnOnce(&mut SyncGroup, &mut dyn Members),
    ) {
        let before = self.member_states(g);
        let Engine {
            groups, instances, ..
        } = self;
        let Some(x) = groups.get_mut(g) else { return };
        step(
            &mut x.sg,
            &mut GroupMembers {
                instances,
                idx: &x.members,
            },
        );
        self.settle_group(g, before, io);
    }

    /// Performs the group's actions and counts its members' transitions since `before`.
    fn settle_group(&mut self, g: usize, before: Vec<(usize, State)>, io: &mut Vec<Io>) {
        let Engine {
            groups,
            instances,
            alerts,
            ..
        } = self;
        let Some(x) = groups.get_mut(g) else { return };
        inherit_master_reason(instances, &before);
        while let Some(a) = x.sg.poll_action() {
            match a {
                GroupAction::Instance { member, action } => {
                    if let Some(inst) = x.members.get(member).and_then(|&i| instances.get_mut(i)) {
                        inst.perform(action, io, &mut **alerts);
                    }
                }
                GroupAction::Notify { state } => group_notify_hook(&mut **alerts, &x.name, state),
                GroupAction::Log(l) => super::startlog::line(&l),
            }
        }
        for (i, b) in before {
            if let Some(inst) = instances.get_mut(i) {
                inst.account(b);
            }
        }
    }

    pub fn shutdown_all(&mut self, now: machine::Instant, io: &mut Vec<Io>) {
        for idx in 0..self.instances.len() {
            if self.instances.get(idx).is_some_and(|i| i.group.is_none()) {
                self.feed(idx, now, Input::Shutdown, io);
            }
        }
        for g in 0..self.groups.len() {
            self.group_step(g, io, |sg, m| sg.handle_shutdown(now, m));
        }
    }

    /// Runs the machines whose deadline has passed: the receive tasks call this before
    /// each batch, so adverts go out on time under any receive load.
    pub fn serve_due(&mut self, now: machine::Instant, io: &mut Vec<Io>) {
        if self.next_deadline().is_some_and(|t| t <= now) {
            self.on_timeout(now, io);
        }
    }

    pub fn on_packet(
        &mut self,
        now: machine::Instant,
        key: &SockKey,
        rx: Received<'_>,
        io: &mut Vec<Io>,
    ) {
        let p = match packet::parse(rx) {
            Ok(p) => p,
            Err(reason) => {
                self.rx.drop(rxguard::label(&reason));
                if let Some(line) = reason.log_message("") {
                    if rxguard::log_allowed() {
                        info!("{line}");
                    }
                }
                return;
            }
        };
        let vrid = p.vrid();
        let src = p.src;
        let mine = |i: &Instance| &i.key == key && i.cfg.vrid == Some(vrid);
        // Unicast instances may share a VRID when their peers differ.
        let idx = self
            .instances
            .iter()
            .position(|i| mine(i) && i.cfg.unicast_peers.iter().any(|pe| pe.addr == src))
            .or_else(|| self.instances.iter().position(mine));
        let Some(idx) = idx else {
            self.rx.drop(rxguard::UNKNOWN_VRID);
            if self.globals.log_unknown_vrids && rxguard::log_allowed() {
                let ifname = self
                    .ifmap
                    .borrow()
                    .iter()
                    .find(|(_, i)| **i == key.ifindex)
                    .map(|(n, _)| n.clone())
                    .unwrap_or_default();
                info!("Unknown VRID({vrid}) received on interface({ifname}). ignoring...");
            } else if crate::log::detail() > 0 && rxguard::log_allowed() {
                info!("VRRP packet received for unknown VRID {vrid} from {src}");
            }
            return;
        };
        let Some(inst) = self.instances.get_mut(idx) else {
            return;
        };
        match inst.on_packet(&p) {
            Ok(input) => {
                self.rx.accept();
                self.feed(idx, now, input, io);
            }
            Err(reason) => {
                if let Some(ev) = inst.rfc_drop(&reason, p.src) {
                    self.alerts.rfc_event(&ev);
                }
                self.rx.drop(rxguard::label(&reason));
            }
        }
    }

    pub fn on_link(
        &mut self,
        now: machine::Instant,
        ifindex: u32,
        name: &str,
        up: bool,
        io: &mut Vec<Io>,
    ) {
        let tracked = self.instances.iter().any(|i| {
            (i.link.ifindex == ifindex && !i.cfg.dont_track_primary)
                || i.cfg.track_interfaces.iter().any(|t| t.name == name)
                || i.cfg.static_track_ifs.iter().any(|n| n == name)
                || i.link.addr_vmacs.iter().any(|v| v.name == name)
        }) || self
            .groups
            .iter()
            .any(|x| x.track.iter().any(|t| t.name == name));
        if tracked {
            info!("Netlink reports {name} {}", if up { "up" } else { "down" });
        }
        self.link_changed(now, ifindex, name, up, io);
    }

    /// A link's new state, however learnt (netlink, linkbeat polling), fed to the
    /// instances and groups that use it.
    pub fn link_changed(
        &mut self,
        now: machine::Instant,
        ifindex: u32,
        name: &str,
        up: bool,
        io: &mut Vec<Io>,
    ) {
        self.feed_each(now, io, |i| {
            if i.link.ifindex == ifindex {
                i.link.up = up;
            }
            i.on_link(ifindex, name, up)
        });
        for g in 0..self.groups.len() {
            let changes: Vec<_> = self
                .groups
                .get(g)
                .map(|x| {
                    x.track
                        .iter()
                        .filter(|t| t.name == name)
                        .filter_map(|t| track_change(t, up))
                        .collect()
                })
                .unwrap_or_default();
            for c in changes {
                self.group_step(g, io, |sg, m| sg.handle_group_track(now, m, c));
            }
        }
    }

    /// Whether an instance or sync group uses the link (its interface, a tracked one, a VMAC
    /// for its addresses).
    pub fn uses_link(&self, ifindex: u32, name: &str) -> bool {
        self.instances.iter().any(|i| {
            i.link.ifindex == ifindex
                || i.link.xmit_ifindex() == ifindex
                || i.cfg.track_interfaces.iter().any(|t| t.name == name)
                || i.cfg.static_track_ifs.iter().any(|n| n == name)
                || i.link.addr_vmacs.iter().any(|v| v.name == name)
        }) || self
            .groups
            .iter()
            .any(|x| x.track.iter().any(|t| t.name == name))
    }

    pub fn on_address_added(
        &mut self,
        now: machine::Instant,
        ifindex: u32,
        addr: IpAddr,
        io: &mut Vec<Io>,
    ) {
        self.feed_each(now, io, |i| i.on_address_added(ifindex, addr));
    }

    fn on_address_removed(&mut self, ifindex: u32, addr: IpAddr, io: &mut Vec<Io>) {
        for i in &mut self.instances {
            i.on_address_removed(ifindex, addr, io);
        }
        // Static addresses are re-added.
        for s in &self.statics.0 {
            if s.ifindex == ifindex && s.addr == addr {
                io.push(Io::AddAddr(s.clone()));
            }
        }
    }

    /// After a netlink overrun (events lost): replays the link changes the dump shows
    /// against `known`, and restores missing VIPs and static addresses.
    pub fn resync(
        &mut self,
        now: machine::Instant,
        known: &mut HashMap<u32, (String, bool)>,
        h: &Host,
        io: &mut Vec<Io>,
    ) {
        *self.ifmap.borrow_mut() = h.ifmap();
        for l in &h.links {
            let up = l.is_up();
            let before = known.insert(l.ifindex, (l.name.clone(), up));
            if before.map(|b| b.1) != Some(up) {
                self.on_link(now, l.ifindex, &l.name, up, io);
            }
        }
        let gone: Vec<(u32, String)> = known
            .iter()
            .filter(|(i, _)| !h.links.iter().any(|l| l.ifindex == **i))
            .map(|(i, (n, _))| (*i, n.clone()))
            .collect();
        for (i, n) in gone {
            known.remove(&i);
            self.on_link(now, i, &n, false, io);
        }
        let ifindexes: Vec<u32> = h.links.iter().map(|l| l.ifindex).collect();
        for idx in 0..self.instances.len() {
            let missing: Vec<IpAddr> = self
                .instances
                .get(idx)
                .map(|i| {
                    i.cfg
                        .vips
                        .iter()
                        .chain(i.cfg.evips.iter())
                        .map(|a| a.addr)
                        .filter(|a| !h.addrs.iter().any(|x| x.addr == *a))
                        .collect()
                })
                .unwrap_or_default();
            for a in missing {
                for &ifx in &ifindexes {
                    if let Some(i) = self.instances.get_mut(idx) {
                        i.on_address_removed(ifx, a, io);
                    }
                }
            }
        }
        for a in &h.addrs {
            self.on_address_added(now, a.ifindex, a.addr, io);
        }
        for st in &self.statics.0 {
            if !h
                .addrs
                .iter()
                .any(|x| x.ifindex == st.ifindex && x.addr == st.addr)
            {
                io.push(Io::AddAddr(st.clone()));
            }
        }
    }

    /// Builds the configured sync groups over the (fresh) instances in `members_of`.
    fn build_groups(
        &mut self,
        now: machine::Instant,
        c: &Config,
        h: &Host,
        tracked: &dyn TrackState,
        io: &mut Vec<Io>,
    ) {
        for cg in &c.vrrp.sync_groups {
            let members: Vec<usize> = cg
                .members
                .iter()
                .filter_map(|n| self.instances.iter().position(|i| &i.cfg.name == n))
                .filter(|&i| self.instances.get(i).is_some_and(|x| x.group.is_none()))
                .collect();
            if members.is_empty() {
                continue;
            }
            let g = self.groups.len();
            let mut before = Vec::new();
            for (k, &i) in members.iter().enumerate() {
                if let Some(inst) = self.instances.get_mut(i) {
                    before.push((i, inst.machine.state()));
                    inst.group = Some((g, k));
                }
            }
            let track: Vec<TrackRef> = cg.track_interfaces.clone();
            let initial = tracked.initial(&Target::Group(cg.name.clone()));
            let mut m = GroupMembers {
                instances: &mut self.instances,
                idx: &members,
            };
            let mut sg = SyncGroup::new_ranked(cg.name.clone(), &mut m, now, members.clone());
            for t in &track {
                if let Some(ch) = track_change(t, h.up(&t.name)) {
                    sg.handle_group_track(now, &mut m, ch);
                }
            }
            for ch in initial {
                sg.handle_group_track(now, &mut m, ch);
            }
            self.groups.push(GroupRt {
                name: cg.name.clone(),
                sg,
                members,
                track,
            });
            self.settle_group(g, before, io);
        }
    }

    /// The sync groups as (name, member identities), to decide whether a reload keeps them.
    pub fn group_shape(&self) -> Vec<(String, Vec<Identity>)> {
        self.groups
            .iter()
            .map(|x| {
                let ids = x
                    .members
                    .iter()
                    .filter_map(|&i| self.instances.get(i).map(Instance::identity))
                    .collect();
                (x.name.clone(), ids)
            })
            .collect()
    }
}

/// The machines of a group's members, lent from the instances for one group step.
struct GroupMembers<'a> {
    instances: &'a mut [Instance],
    /// Member `k` is `instances[idx[k]]`.
    idx: &'a [usize],
}

impl Members for GroupMembers<'_> {
    fn count(&self) -> usize {
        self.idx.len()
    }
    fn get(&self, k: usize) -> Option<&Machine> {
        let i = *self.idx.get(k)?;
        self.instances.get(i).map(|x| &x.machine)
    }
    fn get_mut(&mut self, k: usize) -> Option<&mut Machine> {
        let i = *self.idx.get(k)?;
        self.instances.get_mut(i).map(|x| &mut x.machine)
    }
}

/// A running sync group and the instances (indices into `Engine::instances`) it drives.
struct GroupRt {
    name: String,
    sg: SyncGroup,
    members: Vec<usize>,
    /// The group's own `track_interface` lines.
    track: Vec<TrackRef>,
}

/// The notify hook of a sync group; the runtime is [`super::alerts`].
/// keepalived's members synced to MASTER take the reason of the one that took over: the
/// reason an advert set (priority 0 heard, preemption) wins over the default (no response).
fn inherit_master_reason(instances: &mut [Instance], before: &[(usize, State)]) {
    use super::rfc_state::reason;
    let new: Vec<usize> = before
        .iter()
        .filter(|(i, b)| {
            *b != State::Master
                && instances
                    .get(*i)
                    .is_some_and(|x| x.machine.state() == State::Master)
        })
        .map(|(i, _)| *i)
        .collect();
    let trigger = new
        .iter()
        .filter_map(|&i| instances.get(i))
        .map(|x| x.rfc.next_master_reason)
        .find(|r| *r != reason::MASTER_NO_RESPONSE);
    if let Some(r) = trigger {
        for &i in &new {
            if let Some(x) = instances.get_mut(i) {
                x.rfc.next_master_reason = r;
            }
        }
    }
}

fn group_notify_hook(alerts: &mut dyn alerts::Sink, name: &str, state: State) {
    alerts.group_event(name, state);
}

pub fn globals_of(c: &Config) -> Globals {
    Globals {
        mcast_group4: c.global.vrrp_mcast_group4,
        mcast_group6: c.global.vrrp_mcast_group6,
        check_unicast_src: c.global.vrrp_check_unicast_src,
        strict: c.global.vrrp_strict,
        json_version: c.global.json_version,
        dynamic_interfaces: c.global.dynamic_interfaces,
        log_unknown_vrids: c.global.log_unknown_vrids,
    }
}

/// The host's links and addresses, as the service read them (netlink).
pub struct Host {
    pub links: Vec<LinkInfo>,
    pub addrs: Vec<AddrInfo>,
    /// The VMACs in place.
    pub vmacs: Vec<vmac::Plan>,
    /// The VMACs and ipvlans that could not be made: their instances stay in FAULT.
    pub failed: Vec<vmac::Plan>,
}

impl Host {
    pub fn ifmap(&self) -> HashMap<String, u32> {
        self.links
            .iter()
            .map(|l| (l.name.clone(), l.ifindex))
            .collect()
    }

    pub fn up(&self, name: &str) -> bool {
        self.links.iter().any(|l| l.name == name && l.is_up())
    }

    /// The instance's interface and advert source; `None` if the interface is gone.
    pub fn link_for(&self, c: &model::Instance) -> Option<Link> {
        let name = c.interface.as_deref()?;
        let base = self.links.iter().find(|l| l.name == name)?;
        let find = |p: &vmac::Plan| self.links.iter().find(|l| l.name == p.name);
        // With a VMAC the instance lives on it; adverts use the base when `xmit_base`, and
        // the IPv4 source is the base's address (the VMAC has none). An ipvlan has
        // its own address, the source of the adverts it carries.
        let own = self
            .vmacs
            .iter()
            .find(|p| p.iname == c.name && !p.for_addrs)
            .and_then(|p| Some((find(p)?, p)));
        let l = own.map_or(base, |v| v.0);
        let src_if = match own {
            Some((v, p)) if matches!(p.kind, vmac::Kind::Ipvlan { .. }) => v.ifindex,
            Some((v, p)) if !p.xmit_base && c.family == model::Family::V6 => v.ifindex,
            _ => base.ifindex,
        };
        let mine: Vec<AddrInfo> = self
            .addrs
            .iter()
            .filter(|a| a.ifindex == src_if)
            .cloned()
            .collect();
        let src = c.src_ip.or_else(|| match c.family {
            model::Family::V4 => net::addr::primary_ipv4(&mine).map(IpAddr::V4),
            model::Family::V6 => net::addr::link_local_ipv6(&mine).map(IpAddr::V6),
        });
        let addr_vmacs = self
            .vmacs
            .iter()
            .filter(|p| p.iname == c.name && p.for_addrs)
            .map(|p| AddrVmac {
                base: p.base.clone(),
                ipv6: p.ipv6,
                name: p.name.clone(),
                mac: p.mac,
            })
            .collect();
        Some(Link {
            ifindex: l.ifindex,
            ifname: l.name.clone(),
            mac: l.mac.unwrap_or([0; 6]),
            up: l.is_up(),
            src,
            xmit: own
                .filter(|v| v.1.xmit_base)
                .map(|_| (base.ifindex, base.name.clone())),
            addr_vmacs,
            vips_on_base: own.is_some_and(|v| matches!(v.1.kind, vmac::Kind::Ipvlan { .. })),
            missing: self
                .failed
                .iter()
                .find(|p| p.iname == c.name)
                .map(|p| p.name.clone()),
            src_unassigned: !c.unicast_peers.is_empty()
                && c.unicast_src_ip
                    .is_some_and(|a| !self.addrs.iter().any(|x| x.addr == a)),
            mtu: l.mtu,
        })
    }
}

pub fn statics_of(c: &Config, ifmap: &HashMap<String, u32>) -> Statics {
    let ifindex_of = |n: &str| ifmap.get(n).copied();
    // Without `dev`, a static address goes on `default_interface` (keepalived's `eth0`
    // when unset).
    let default_if = ifmap.get(c.global.default_ifname()).copied();
    let addrs = c
        .statics
        .addresses
        .iter()
        .filter_map(|a| {
            let s = addr_spec(a, default_if, &ifindex_of);
            if s.is_none() {
                info!("Static address {} has no usable interface", a.addr);
            }
            s
        })
        .collect();
    let routes = c
        .statics
        .routes
        .iter()
        .filter_map(|r| route_spec(r, &ifindex_of))
        .collect();
    let rules = c.statics.rules.iter().map(rule_spec).collect();
    (addrs, routes, rules)
}

/// `c` with `permanent_fault` set when keepalived would never run it, logging its lines as
/// keepalived's VRRP process does each time it reads the configuration: a unicast keyword
/// with `unicast_fault_no_peer` and no peers, a VMAC or ipvlan on a non-Ethernet
/// interface, or multicast on an interface without IFF_MULTICAST.
fn with_config_faults(c: &model::Instance, h: &Host) -> model::Instance {
    let mut cfg = c.clone();
    if c.permanent_fault {
        info!(
            "({}) Cannot use unicast without any peers - going to fault state",
            c.name
        );
    }
    let base = c
        .interface
        .as_deref()
        .and_then(|n| h.links.iter().find(|l| l.name == n));
    if (c.vmac.is_some() || c.ipvlan.is_some()) && base.is_some_and(|l| !l.ether) {
        info!(
            "({}): vmacs are only supported on Ethernet type interfaces",
            c.name
        );
        cfg.vmac = None;
        cfg.ipvlan = None;
        cfg.permanent_fault = true;
    }
    let no_mcast = base.is_some_and(|l| !l.multicast);
    if no_mcast && !c.is_unicast() {
        info!(
            "({}) interface {} does not support multicast, specify unicast peers - disabling",
            c.name,
            c.interface.as_deref().unwrap_or_default()
        );
        cfg.permanent_fault = true;
    }
    cfg
}

/// With `dynamic_interfaces`, the stand-in link of an instance whose interface does not
/// exist yet (index 0: no socket, no advert): it starts in FAULT, as keepalived 2.2.7 does,
/// until the interface is created (and its VMAC or ipvlan made on it).
fn awaited_link(c: &model::Instance, g: &Globals) -> Option<Link> {
    if !g.dynamic_interfaces {
        return None;
    }
    let name = c.interface.clone()?;
    info!("Configuration specifies interface {name} which doesn't currently exist - will use if created");
    Some(Link {
        ifindex: 0,
        ifname: name,
        mac: [0; 6],
        up: false,
        src: c.src_ip,
        xmit: None,
        addr_vmacs: Vec::new(),
        vips_on_base: false,
        missing: None,
        mtu: 0,
        src_unassigned: false,
    })
}

/// Builds the instance of `c`, or says why it cannot run.
/// The sync group instance `i` belongs to.
fn group_of<'a>(c: &'a Config, i: &model::Instance) -> Option<&'a str> {
    c.vrrp
        .sync_groups
        .iter()
        .find(|g| g.members.contains(&i.name))
        .map(|g| g.name.as_str())
}

fn build(
    c: &model::Instance,
    h: &Host,
    g: &Globals,
    ifmap: &Rc<RefCell<HashMap<String, u32>>>,
    now: machine::Instant,
    tracked: &dyn TrackState,
    group: Option<&str>,
) -> Option<Instance> {
    c.vrid?;
    let Some(link) = h.link_for(c).or_else(|| awaited_link(c, g)) else {
        info!("({}) Unknown interface!", c.name);
        return None;
    };
    // Without an address of the family the ipvlan gives no advert source: FAULT (as
    // keepalived, with its lines).
    if let (Some(p), None) = (&c.ipvlan, c.src_ip) {
        let v6 = |a: &str| a.split('/').next().is_some_and(|a| a.contains(':'));
        match p.addr.as_deref() {
            None if c.family == model::Family::V4 => info!(
                "({}) IPv4 ipvlan requires a source ip address to be configured. setting instance to fault state",
                c.name
            ),
            Some(a) if v6(a) != (c.family == model::Family::V6) => info!(
                "({}) IPv4 ipvlan address family does not match instance. setting instance to fault state",
                c.name
            ),
            _ => {}
        }
    }
    let cfg = with_config_faults(c, h);
    let up = |n: &str| h.up(n);
    // keepalived initialises a member's priority and faults from its sync group's
    // trackers too before it starts (`initialise_vrrp_tracking_priorities`): a group's
    // tracked BFD that is down starts the member in FAULT, not BACKUP then FAULT.
    let mut initial = tracked.initial(&Target::Instance(c.name.clone()));
    if let Some(gname) = group {
        initial.extend(tracked.initial(&Target::Group(gname.to_owned())));
    }
    Some(Instance::new(
        cfg,
        link,
        g.clone(),
        ifmap.clone(),
        &up,
        now,
        initial,
    ))
}

/// The items of `a` that `b` lacks, in `a`'s order.
fn missing<'a, T: PartialEq + Clone>(a: &'a [T], b: &'a [T]) -> impl Iterator<Item = T> + 'a {
    a.iter().filter(|x| !b.contains(x)).cloned()
}

/// Drops the additions of addresses the host already has (exclusive adds the kernel would
/// answer with EEXIST): a reload re-asserts every MASTER's VIPs, and 500 netlink round
/// trips would otherwise hold `Reload complete` back. An address deleted earlier in the
/// same batch is still added.
pub fn skip_present(io: &mut Vec<Io>, host: &[AddrInfo]) {
    type Key = (u32, IpAddr, u8, Option<IpAddr>);
    let mut present: std::collections::HashSet<Key> = host
        .iter()
        .map(|a| (a.ifindex, a.addr, a.prefix, a.peer))
        .collect();
    io.retain(|i| match i {
        Io::DelAddr(a) => {
            present.retain(|k| (k.0, k.1) != (a.ifindex, a.addr));
            true
        }
        Io::AddAddr(a) => !present.contains(&(a.ifindex, a.addr, a.prefix, a.peer)),
        _ => true,
    });
}

/// The firewall entries of the VMACs in place.
/// The instances of `c` whose VMACs get a firewall IGMP/MLD entry, with its family. With
/// `disable_local_igmp` an IPv4 VMAC sends no IGMP: no entry (keepalived's
/// firewall_add_vmac is skipped then).
fn vmac_fw_of(c: &Config) -> Vec<(String, nft::Family)> {
    c.vrrp
        .instances
        .iter()
        .filter_map(|i| match i.family {
            model::Family::V4 if c.global.disable_local_igmp => None,
            model::Family::V4 => Some((i.name.clone(), nft::Family::Ip)),
            model::Family::V6 => Some((i.name.clone(), nft::Family::Ip6)),
        })
        .collect()
}

impl Engine {
    /// The firewall entries of the VMACs in place on `h`.
    pub fn vmac_entries(&self, h: &Host) -> Vec<nft::VmacEntry> {
        h.vmacs
            .iter()
            .filter_map(|p| {
                let vmac = h.links.iter().find(|l| l.name == p.name)?.ifindex;
                let base = h.links.iter().find(|l| l.name == p.base)?.ifindex;
                let fam = self.vmac_fw.iter().find(|(n, _)| *n == p.iname)?.1;
                Some(nft::VmacEntry { fam, vmac, base })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::AddrInfo;

    fn info(ifindex: u32, addr: &str, prefix: u8) -> AddrInfo {
        AddrInfo {
            ifindex,
            addr: addr
                .parse()
                .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            prefix,
            peer: None,
            scope: 0,
            label: None,
            flags: 0,
        }
    }

    fn spec(ifindex: u32, addr: &str, prefix: u8) -> AddrSpec {
        let a = addr
            .parse()
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        AddrSpec::new(ifindex, a, prefix)
    }

    fn adds(io: &[Io]) -> Vec<String> {
        io.iter()
            .filter_map(|i| match i {
                Io::AddAddr(a) => Some(format!("{}/{}@{}", a.addr, a.prefix, a.ifindex)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn skip_present_drops_only_exact_existing_adds() {
        let host = [info(2, "198.51.100.1", 32), info(3, "203.0.113.1", 32)];
        let mut io = vec![
            Io::AddAddr(spec(2, "198.51.100.1", 32)), // present: dropped
            Io::AddAddr(spec(2, "198.51.100.2", 32)), // new: kept
            Io::AddAddr(spec(2, "198.51.100.1", 24)), // other prefix: kept
            Io::AddAddr(spec(2, "203.0.113.1", 32)),  // other interface: kept
            Io::DelAddr(spec(3, "203.0.113.1", 24)),  // deleted first ...
            Io::AddAddr(spec(3, "203.0.113.1", 32)),  // ... so re-added
        ];
        skip_present(&mut io, &host);
        assert_eq!(
            adds(&io),
            [
                "198.51.100.2/32@2",
                "198.51.100.1/24@2",
                "203.0.113.1/32@2",
                "203.0.113.1/32@3"
            ]
        );
        assert_eq!(io.len(), 5);
    }
}
