//! The VRRP child's [`Service`]: builds the instances from the
//! configuration, runs one receive task per socket, a timer task on the machines'
//! deadlines, a netlink monitor task, and one I/O task that performs every instance's
//! [`Io`] in order. Reload keeps matched instances; shutdown releases.
//!
//! Everything runs on the child's current-thread runtime inside a `LocalSet`; the shared
//! [`Engine`] sits in a `RefCell` that is never borrowed across an `.await`.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::rc::Rc;

use futures::StreamExt;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tracing::info;

use super::alerts;
use super::arp::PacketSocket;
use super::debounce::{self, Debounce, Verdict};
use super::garp::{GarpJob, GarpSender, Spacing};
use super::instance::{
    addr_spec, identity, route_spec, rule_spec, track_change, AddrVmac, Globals, Identity,
    Instance, Io, Link, SockKey,
};
use super::machine::{self, Input, Machine, State};
use super::packet::{self, Received};
use super::rxguard::{self, RxStats};
use super::socket::{self, SocketOptions, VrrpSocket};
use super::sync_group::{GroupAction, Members, SyncGroup};
use super::syncd::{self, SyncdOp};
use super::tracking::{self, Target, Tracking};
use super::vmac;
use crate::check::ipvs::Ipvs;
use crate::config::model::global::RxBufsPolicy;
use crate::config::model::vrrp::instance as model;
use crate::config::model::vrrp::track::TrackRef;
use crate::config::model::Config;
use crate::daemon::{ChildConfig, Service, ServiceError};
use crate::net::{self, nft, AddrInfo, AddrSpec, LinkInfo, Monitor, NetEvent, Netlink, RuleSpec};

/// The VRRP service.
pub struct VrrpService {
    /// `-V`: leave VIPs and do not send priority 0 at shutdown.
    dont_release: bool,
    /// `-d`: log the data dump after loading.
    dump_conf: bool,
    run: Option<Running>,
}

struct Running {
    engine: Rc<RefCell<Engine>>,
    sh: Shared,
    nl: Netlink,
    tasks: Vec<JoinHandle<()>>,
    io_task: JoinHandle<()>,
    /// The notify runtime, replaced at reload, finished at shutdown.
    alerts: alerts::Handle,
    /// Shared with the monitor task, which recreates VMACs deleted by hand; an async mutex
    /// because creating one awaits netlink.
    vmacs: SharedVmacs,
    /// `all.rp_filter` cleared for IPv4 VMACs, restored at stop.
    rp_filter: net::sysctl::RpFilter,
    /// `promote_secondaries` set on instances' interfaces, reset at stop.
    promote: net::sysctl::PromoteSecondaries,
    /// `disable_local_igmp`: the sysctl to put back at stop (keepalived reads the keyword at
    /// start only: a reload does not change it).
    local_igmp: net::sysctl::LocalIgmp,
    /// `vrrp_garp_interval` / `vrrp_gna_interval`, read by the GARP sender.
    spacing: Rc<RefCell<Spacing>>,
    /// `interface_up_down_delays`, applied by the monitor task.
    debounce: Rc<RefCell<Debounce>>,
}

/// `linkbeat_interfaces`, and the interfaces of instances with `linkbeat_use_polling` (or
/// the root-level one): polled each second instead of followed through netlink, as
/// keepalived's linkbeat does. An interface no instance or group uses is not polled.
fn polled_links(c: &Config) -> Vec<String> {
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

/// keepalived's linkbeat thread: each second, the polled interfaces' state (IFF_UP and
/// IFF_RUNNING; an absent one is down); a change is logged and applied.
async fn linkbeat_loop(sh: Shared, nl: Netlink, links: Vec<LinkInfo>) {
    let names = sh.engine.borrow().polled.clone();
    let state = |links: &[LinkInfo], n: &str| {
        links
            .iter()
            .find(|l| l.name == n)
            .map(|l| (l.ifindex, l.is_up()))
    };
    let mut last: HashMap<String, bool> = names
        .iter()
        .map(|n| (n.clone(), state(&links, n).is_some_and(|s| s.1)))
        .collect();
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let Ok(links) = nl.links().await else {
            continue;
        };
        let mut io = Vec::new();
        {
            let mut eng = sh.engine.borrow_mut();
            for n in &names {
                let now = state(&links, n);
                let up = now.is_some_and(|s| s.1);
                if last.insert(n.clone(), up) == Some(up) {
                    continue;
                }
                info!("Linkbeat reports {n} {}", if up { "up" } else { "down" });
                if let Some((ifindex, _)) = now {
                    eng.link_changed(ifindex, n, up, &mut io);
                }
            }
        }
        sh.submit(io);
    }
}

/// `interface_up_down_delays`, cut to what the instances on each interface allow.
fn delays_of(c: &Config) -> HashMap<String, (std::time::Duration, std::time::Duration)> {
    let delays = c
        .statics
        .up_down_delays
        .iter()
        .map(|d| (d.interface.clone(), (d.down, d.up)))
        .collect();
    let insts: Vec<(String, String, u32, std::time::Duration)> = c
        .vrrp
        .instances
        .iter()
        .filter_map(|i| {
            Some((
                i.name.clone(),
                i.interface.clone()?,
                i.down_timer_adverts,
                i.advert_int,
            ))
        })
        .collect();
    let (delays, lines) = debounce::clamp(delays, &insts);
    for l in lines {
        info!("{l}");
    }
    delays
}

fn spacing_of(c: &Config) -> Spacing {
    Spacing {
        arp: c.global.vrrp_garp_interval,
        na: c.global.vrrp_gna_interval,
        groups: c
            .statics
            .garp_groups
            .iter()
            .map(|g| {
                (
                    g.interfaces.clone(),
                    g.garp_interval.unwrap_or_default(),
                    g.gna_interval.unwrap_or_default(),
                )
            })
            .collect(),
    }
}

/// What the tasks share.
#[derive(Clone)]
struct Shared {
    engine: Rc<RefCell<Engine>>,
    /// The sockets of the instances' keys; the engine names a key, never a socket.
    socks: Rc<RefCell<Sockets>>,
    io_tx: mpsc::UnboundedSender<Job>,
    wake: Rc<Notify>,
}

/// The VRRP sockets by key: one sender and one receive task each.
#[derive(Default)]
struct Sockets {
    senders: HashMap<SockKey, Rc<VrrpSocket>>,
    receivers: HashMap<SockKey, JoinHandle<()>>,
}

/// What the I/O task performs, in order: the engine's [`Io`], an advert the socket could
/// not take at once, and the runtime's own flush marker.
enum Job {
    Io(Io),
    Send {
        sock: Rc<VrrpSocket>,
        pkt: Vec<u8>,
        dst: IpAddr,
        iname: String,
    },
    /// Completes when everything queued before it is done.
    Flush(tokio::sync::oneshot::Sender<()>),
}

impl Shared {
    /// Queues I/O for the I/O task and wakes the timer task (deadlines may have moved).
    /// Adverts go out at once when the socket takes them: queued behind hundreds of
    /// netlink address changes and GARPs (500 instances turning MASTER together), they
    /// would reach the peers after their master-down timers and start needless elections.
    fn submit(&self, mut io: Vec<Io>) {
        // every engine step ends here: the sync daemon follows its instance's state
        if let Ok(mut eng) = self.engine.try_borrow_mut() {
            eng.syncd_step(&mut io);
        }
        for i in io {
            let job = match i {
                Io::Send {
                    key,
                    pkt,
                    dst,
                    iname,
                } => {
                    // Closed since the advert was built (its instance went): not sent.
                    let Some(sock) = self.socks.borrow().senders.get(&key).cloned() else {
                        continue;
                    };
                    match sock.try_send_to(&pkt, dst) {
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Job::Send {
                            sock,
                            pkt,
                            dst,
                            iname,
                        },
                        Err(e) => {
                            log_send_error(&iname, &e);
                            continue;
                        }
                        Ok(_) => continue,
                    }
                }
                other => Job::Io(other),
            };
            let _ = self.io_tx.send(job);
        }
        self.wake.notify_one();
    }
}

/// keepalived's wording: `(VI_1): send advert error 19 (No such device)`.
fn log_send_error(iname: &str, e: &std::io::Error) {
    match e.raw_os_error() {
        Some(n) => info!(
            "({iname}): send advert error {n} ({})",
            nix::errno::Errno::from_raw(n).desc()
        ),
        None => info!("({iname}): send advert error ({e})"),
    }
}

type Statics = (Vec<AddrSpec>, Vec<net::RouteSpec>, Vec<RuleSpec>);

type SharedVmacs = Rc<tokio::sync::Mutex<vmac::Vmacs>>;

/// The state of every instance and the sockets they use.
pub struct Engine {
    epoch: tokio::time::Instant,
    pub instances: Vec<Instance>,
    ifmap: Rc<RefCell<HashMap<String, u32>>>,
    globals: Globals,
    statics: Statics,
    groups: Vec<GroupRt>,
    /// vrrp_script / track_file / track_process runtime.
    tracking: Tracking,
    /// `vrrp_startup_delay`: no machine timer fires before this, so nothing is sent
    /// and no instance leaves BACKUP; adverts received meanwhile are still processed.
    hold_until: Option<machine::Instant>,
    /// Every received packet, accepted or dropped by reason (rxguard.rs).
    pub rx: RxStats,
    /// The IPVS sync daemon following an instance (syncd.rs).
    syncd: Option<syncd::Syncd>,
    /// `vrrp_rx_bufs_policy` and `vrrp_rx_bufs_multiplier`, for receive sockets opened later.
    rx_bufs: (Option<RxBufsPolicy>, u32),
    /// Interfaces whose state the linkbeat task polls: netlink up/down of them is ignored.
    polled: Vec<String>,
    /// Where notify events go (notify scripts, FIFOs, mail).
    alerts: Box<dyn alerts::Sink>,
}

impl Engine {
    /// The sync daemon commands for the linked instance's current state.
    fn syncd_step(&mut self, io: &mut Vec<Io>) {
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
            info!("Reinitializing ipvs");
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
    fn syncd_stop(&mut self, io: &mut Vec<Io>) {
        let Some(s) = &mut self.syncd else { return };
        let state = self
            .instances
            .iter()
            .find(|i| i.cfg.name == s.link.instance)
            .map_or(State::Backup, |i| i.machine.state());
        io.extend(s.stop(state).into_iter().map(Io::Syncd));
    }

    fn now(&self) -> machine::Instant {
        machine::Instant(self.epoch.elapsed())
    }

    fn next_deadline(&self) -> Option<machine::Instant> {
        self.instances
            .iter()
            .filter_map(|i| i.machine.poll_timeout())
            .min()
            .map(|t| self.hold_until.map_or(t, |h| t.max(h)))
    }

    fn on_timeout(&mut self, io: &mut Vec<Io>) {
        let now = self.now();
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

    /// Routes one input to a solo instance's machine or to its sync group.
    fn feed(&mut self, idx: usize, now: machine::Instant, input: Input, io: &mut Vec<Io>) {
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
            // SyncGroup has no reload verb: members keep their machine parameters.
            Input::Reload(_) => {}
        });
    }

    /// Applies tracker changes to the instances and groups they name.
    fn apply_tracking(&mut self, changes: Vec<(Target, machine::TrackChange)>, io: &mut Vec<Io>) {
        let now = self.now();
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

    fn shutdown_all(&mut self, io: &mut Vec<Io>) {
        let now = self.now();
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
    fn serve_due(&mut self, io: &mut Vec<Io>) {
        if self.next_deadline().is_some_and(|t| t <= self.now()) {
            self.on_timeout(io);
        }
    }

    fn on_packet(&mut self, key: &SockKey, rx: Received<'_>, io: &mut Vec<Io>) {
        let now = self.now();
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
            Err(reason) => self.rx.drop(rxguard::label(&reason)),
        }
    }

    fn on_link(&mut self, ifindex: u32, name: &str, up: bool, io: &mut Vec<Io>) {
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
        self.link_changed(ifindex, name, up, io);
    }

    /// A link's new state, however learnt (netlink, linkbeat polling), fed to the
    /// instances and groups that use it.
    fn link_changed(&mut self, ifindex: u32, name: &str, up: bool, io: &mut Vec<Io>) {
        let now = self.now();
        for idx in 0..self.instances.len() {
            let inputs = self
                .instances
                .get_mut(idx)
                .map(|i| {
                    if i.link.ifindex == ifindex {
                        i.link.up = up;
                    }
                    i.on_link(ifindex, name, up)
                })
                .unwrap_or_default();
            for input in inputs {
                self.feed(idx, now, input, io);
            }
        }
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
    fn uses_link(&self, ifindex: u32, name: &str) -> bool {
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

    fn on_address_added(&mut self, ifindex: u32, addr: IpAddr, io: &mut Vec<Io>) {
        let now = self.now();
        for idx in 0..self.instances.len() {
            let inputs = self
                .instances
                .get_mut(idx)
                .map(|i| i.on_address_added(ifindex, addr))
                .unwrap_or_default();
            for input in inputs {
                self.feed(idx, now, input, io);
            }
        }
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
    fn resync(&mut self, known: &mut HashMap<u32, (String, bool)>, h: &Host, io: &mut Vec<Io>) {
        *self.ifmap.borrow_mut() = h.ifmap();
        for l in &h.links {
            let up = l.is_up();
            let before = known.insert(l.ifindex, (l.name.clone(), up));
            if before.map(|b| b.1) != Some(up) {
                self.on_link(l.ifindex, &l.name, up, io);
            }
        }
        let gone: Vec<(u32, String)> = known
            .iter()
            .filter(|(i, _)| !h.links.iter().any(|l| l.ifindex == **i))
            .map(|(i, (n, _))| (*i, n.clone()))
            .collect();
        for (i, n) in gone {
            known.remove(&i);
            self.on_link(i, &n, false, io);
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
            self.on_address_added(a.ifindex, a.addr, io);
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
    fn build_groups(&mut self, c: &Config, h: &Host, io: &mut Vec<Io>) {
        let now = self.now();
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
            let initial = self.tracking.initial(&Target::Group(cg.name.clone()));
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
    fn group_shape(&self) -> Vec<(String, Vec<Identity>)> {
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
fn group_notify_hook(alerts: &mut dyn alerts::Sink, name: &str, state: State) {
    if crate::log::detail() > 0 {
        info!(
            "VRRP_Group({name}) notify: GROUP {name} {} 0",
            state.as_str()
        );
    }
    alerts.group_event(name, state);
}

impl VrrpService {
    pub fn new(dont_release: bool, dump_conf: bool) -> Self {
        VrrpService {
            dont_release,
            dump_conf,
            run: None,
        }
    }

    fn log_dump(&self) {
        if self.dump_conf {
            for line in self.data_dump().lines() {
                info!("{line}");
            }
        }
    }
}

fn globals_of(c: &Config) -> Globals {
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

/// The host's links and addresses, read before the engine is borrowed.
struct Host {
    links: Vec<LinkInfo>,
    addrs: Vec<AddrInfo>,
    /// The VMACs in place.
    vmacs: Vec<vmac::Plan>,
    /// The VMACs and ipvlans that could not be made: their instances stay in FAULT.
    failed: Vec<vmac::Plan>,
}

async fn host(nl: &Netlink) -> Result<Host, ServiceError> {
    let links = nl
        .links()
        .await
        .map_err(|e| ServiceError::fatal(format!("Unable to read interfaces: {e}")))?;
    let addrs = nl
        .addresses(None)
        .await
        .map_err(|e| ServiceError::fatal(format!("Unable to read addresses: {e}")))?;
    Ok(Host {
        links,
        addrs,
        vmacs: Vec::new(),
        failed: Vec::new(),
    })
}

/// Creates the configured VMACs and re-reads the host when there are any.
async fn host_with_vmacs(
    nl: &Netlink,
    c: &Config,
    vmacs: &mut vmac::Vmacs,
) -> Result<Host, ServiceError> {
    let h = host(nl).await?;
    let plans = vmac::plans(c);
    if plans.is_empty() {
        vmacs.remove_unused(nl, &[]).await;
        return Ok(h);
    }
    let ok = vmacs.ensure(nl, &plans, &h.links).await;
    vmacs.remove_unused(nl, &ok).await;
    let mut h = host(nl).await?;
    // A plan in place may carry another name (an adopted macvlan): match by role.
    let role = |p: &vmac::Plan| (p.iname.clone(), p.for_addrs, p.base.clone(), p.ipv6);
    h.failed = plans
        .into_iter()
        .filter(|p| !ok.iter().any(|q| role(q) == role(p)))
        .filter(|p| h.links.iter().any(|l| l.name == p.base))
        .collect();
    h.vmacs = ok;
    Ok(h)
}

impl Host {
    fn ifmap(&self) -> HashMap<String, u32> {
        self.links
            .iter()
            .map(|l| (l.name.clone(), l.ifindex))
            .collect()
    }

    fn up(&self, name: &str) -> bool {
        self.links.iter().any(|l| l.name == name && l.is_up())
    }

    /// The instance's interface and advert source; `None` if the interface is gone.
    fn link_for(&self, c: &model::Instance) -> Option<Link> {
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

fn statics_of(c: &Config, ifmap: &HashMap<String, u32>) -> Statics {
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
/// with `unicast_fault_no_peer` and no peers, or multicast on an interface without
/// IFF_MULTICAST.
fn with_config_faults(c: &model::Instance, h: &Host) -> model::Instance {
    let mut cfg = c.clone();
    if c.permanent_fault {
        info!(
            "({}) Cannot use unicast without any peers - going to fault state",
            c.name
        );
    }
    let no_mcast = c
        .interface
        .as_deref()
        .and_then(|n| h.links.iter().find(|l| l.name == n))
        .is_some_and(|l| !l.multicast);
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
/// until the interface is created. VMAC and ipvlan instances are not covered.
fn awaited_link(c: &model::Instance, g: &Globals) -> Option<Link> {
    if !g.dynamic_interfaces || c.vmac.is_some() || c.ipvlan.is_some() {
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
fn build(
    c: &model::Instance,
    h: &Host,
    g: &Globals,
    ifmap: &Rc<RefCell<HashMap<String, u32>>>,
    now: machine::Instant,
    tracking: &Tracking,
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
    Some(Instance::new(
        cfg,
        link,
        g.clone(),
        ifmap.clone(),
        &up,
        now,
        tracking.initial(&Target::Instance(c.name.clone())),
    ))
}

/// Drops the additions of addresses the host already has (exclusive adds the kernel would
/// answer with EEXIST): a reload re-asserts every MASTER's VIPs, and 500 netlink round
/// trips would otherwise hold `Reload complete` back. An address deleted earlier in the
/// same batch is still added.
fn skip_present(io: &mut Vec<Io>, host: &[AddrInfo]) {
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

/// Opens the sockets of `key` that are missing; the receive task is spawned by the caller.
fn open_sockets(
    eng: &Engine,
    socks: &mut Sockets,
    key: &SockKey,
    ifname: &str,
    unicast_ttl: Option<u8>,
    src: Option<IpAddr>,
) -> Result<Option<Rc<VrrpSocket>>, std::io::Error> {
    let share: usize = eng
        .instances
        .iter()
        .filter(|i| &i.key == key)
        .map(|i| i.rx_buf_share(eng.rx_bufs.0, eng.rx_bufs.1))
        .sum();
    let opts = SocketOptions {
        ifindex: key.ifindex,
        ifname: ifname.to_owned(),
        group: key.group,
        local: key.unicast_src,
        unicast_hops: unicast_ttl.map(u32::from),
        rcvbuf: (share > 0).then_some(share),
    };
    if !socks.senders.contains_key(key) {
        // IPv6: the kernel builds the header, so bind the sender to our advert source
        // (a configured `mcast_src_ip` would otherwise lose to the link-local address).
        let send = SocketOptions {
            group: None,
            local: if key.ipv6 {
                src.or(key.unicast_src)
            } else {
                key.unicast_src
            },
            ..opts.clone()
        };
        let s = VrrpSocket::sender(key.ipv6, &send)?;
        socks.senders.insert(key.clone(), Rc::new(s));
    }
    if socks.receivers.contains_key(key) {
        return Ok(None);
    }
    let rx = if key.ah {
        VrrpSocket::receiver_ah(&opts)?
    } else {
        VrrpSocket::receiver(key.ipv6, &opts)?
    };
    Ok(Some(Rc::new(rx)))
}

/// Attaches sockets to every instance, spawning receive tasks for new ones, and closes the
/// sockets no instance uses any more.
fn wire_sockets(sh: &Shared) {
    let mut spawn = Vec::new();
    {
        let mut eng = sh.engine.borrow_mut();
        let mut socks = sh.socks.borrow_mut();
        type Want = (SockKey, String, Option<u8>, String, Option<IpAddr>);
        let keys: Vec<Want> = eng
            .instances
            .iter()
            .map(|i| {
                (
                    i.key.clone(),
                    i.link.xmit_ifname().to_owned(),
                    i.cfg.unicast_ttl,
                    i.cfg.name.clone(),
                    i.link.src,
                )
            })
            .collect();
        for (key, ifname, ttl, iname, src) in keys {
            // An interface still awaited (`dynamic_interfaces`) has no socket yet.
            if key.ifindex == 0 {
                continue;
            }
            // One receiver per key (sockpool): instances sharing an interface must not
            // each open one, or every advert reaches the engine once per instance.
            if spawn.iter().any(|(k, _)| k == &key) {
                continue;
            }
            match open_sockets(&eng, &mut socks, &key, &ifname, ttl, src) {
                Ok(Some(rx)) => spawn.push((key, rx)),
                Ok(None) => {}
                Err(e) => info!("({iname}) Unable to open VRRP socket on {ifname}: {e}"),
            }
        }
        let used: Vec<SockKey> = eng.instances.iter().map(|i| i.key.clone()).collect();
        socks.senders.retain(|k, _| used.contains(k));
        socks.receivers.retain(|k, t| {
            let keep = used.contains(k);
            if !keep {
                t.abort();
            }
            keep
        });
        for i in &mut eng.instances {
            i.sock_open = socks.senders.contains_key(&i.key);
        }
    }
    for (key, sock) in spawn {
        if crate::log::detail() > 0 {
            info!(
                "VRRP sockpool: [ifindex({:3}), family({}), proto({}), {}, address({})]",
                key.ifindex,
                if key.ipv6 { "IPv6" } else { "IPv4" },
                if key.ah { 51 } else { 112 },
                if key.unicast_src.is_some() {
                    "unicast"
                } else {
                    "multicast"
                },
                key.group
                    .or(key.unicast_src)
                    .map_or_else(String::new, |a| a.to_string())
            );
        }
        let t = tokio::task::spawn_local(rx_loop(key.clone(), sock, sh.clone()));
        sh.socks.borrow_mut().receivers.insert(key, t);
    }
}

/// One socket's receive task: at most [`rxguard::RX_BATCH`] packets per wake-up, due
/// deadlines served before each batch, then a yield so the timer and I/O tasks run
/// (issue #9: receiving must never delay sending).
async fn rx_loop(key: SockKey, sock: Rc<VrrpSocket>, sh: Shared) {
    let mut buf = vec![0u8; 65536];
    let mut overflow_seen = 0u32;
    loop {
        // The batch is received first and handled after, under one borrow of the engine
        // (it is never borrowed across an await): every packet is handled or counted.
        let mut batch: Vec<(std::io::Result<socket::Received>, Vec<u8>)> = Vec::new();
        let res = sock
            .recv_batch(&mut buf, rxguard::RX_BATCH, |r, data| {
                batch.push((r, data.to_vec()));
            })
            .await;
        let mut io = Vec::new();
        {
            let mut eng = sh.engine.borrow_mut();
            for (r, data) in batch {
                if io.is_empty() {
                    eng.serve_due(&mut io);
                }
                let r = match r {
                    Ok(r) => r,
                    Err(e) => {
                        eng.rx.drop(rxguard::RECEIVE_ERROR);
                        if crate::log::detail() > 0 && rxguard::log_allowed() {
                            info!("VRRP receive error: {e}");
                        }
                        continue;
                    }
                };
                if let Some(n) = r.overflow {
                    // Cumulative per socket: count what the kernel shed since last time.
                    let shed = n.wrapping_sub(overflow_seen);
                    overflow_seen = n;
                    eng.rx.drop_n(rxguard::SOCKET_OVERFLOW, u64::from(shed));
                }
                let rx = match (r.src, r.dst) {
                    (IpAddr::V6(src), IpAddr::V6(dst)) => Received::V6 {
                        payload: &data,
                        src,
                        dst,
                        hop_limit: Some(r.ttl),
                    },
                    _ => Received::V4(&data),
                };
                eng.on_packet(&key, rx, &mut io);
            }
        }
        if let Err(e) = res {
            info!("VRRP receive error: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        sh.submit(io);
        tokio::task::yield_now().await;
    }
}

async fn timer_loop(sh: Shared) {
    loop {
        let (next, epoch) = {
            let eng = sh.engine.borrow();
            (eng.next_deadline(), eng.epoch)
        };
        let sleep = async move {
            match next {
                Some(at) => tokio::time::sleep_until(epoch + at.0).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = sleep => {
                let mut io = Vec::new();
                sh.engine.borrow_mut().on_timeout(&mut io);
                sh.submit(io);
            }
            _ = sh.wake.notified() => {}
        }
    }
}

/// Feeds tracker results (and delayed process-quorum changes) to the engine.
async fn tracking_loop(mut rx: mpsc::UnboundedReceiver<tracking::Event>, sh: Shared) {
    loop {
        let next = sh.engine.borrow().tracking.next_deadline();
        let sleep = async move {
            match next {
                Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                None => std::future::pending::<()>().await,
            }
        };
        let changes = tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { return };
                sh.engine.borrow_mut().tracking.on_event(ev, std::time::Instant::now())
            }
            _ = sleep => sh.engine.borrow_mut().tracking.on_timeout(std::time::Instant::now()),
        };
        if !changes.is_empty() {
            let mut io = Vec::new();
            sh.engine.borrow_mut().apply_tracking(changes, &mut io);
            sh.submit(io);
        }
    }
}

async fn monitor_loop(
    mut mon: Monitor,
    sh: Shared,
    nl: Netlink,
    links: Vec<LinkInfo>,
    vmacs: SharedVmacs,
    deb: Rc<RefCell<Debounce>>,
) {
    // Link states as last reported, to replay what an overrun hid.
    let mut known: HashMap<u32, (String, bool)> = links
        .iter()
        .map(|l| (l.ifindex, (l.name.clone(), l.is_up())))
        .collect();
    deb.borrow_mut()
        .seed(links.iter().map(|l| (l.ifindex, l.is_up(), l.flags)));
    // Link changes whose `interface_up_down_delays` delay has expired.
    let mut held: std::collections::VecDeque<NetEvent> = Default::default();
    loop {
        let (ev, timed) = match held.pop_front() {
            Some(ev) => (ev, true),
            None => {
                let next = deb.borrow().next_deadline();
                let sleep = async move {
                    match next {
                        Some(t) => {
                            tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    ev = mon.next() => match ev {
                        Some(ev) => (ev, false),
                        None => return,
                    },
                    _ = sleep => {
                        let due = deb.borrow_mut().due(std::time::Instant::now());
                        held.extend(due.into_iter().map(|(ifindex, name, up)| {
                            if up {
                                NetEvent::LinkUp { ifindex, name }
                            } else {
                                NetEvent::LinkDown { ifindex, name }
                            }
                        }));
                        continue;
                    }
                }
            }
        };
        if !timed {
            if let NetEvent::LinkUp { ifindex, name } | NetEvent::LinkDown { ifindex, name } = &ev {
                let up = matches!(ev, NetEvent::LinkUp { .. });
                let flags = mon.flags(*ifindex);
                let now = std::time::Instant::now();
                match deb.borrow_mut().on_change(*ifindex, name, up, flags, now) {
                    Verdict::Apply => {}
                    Verdict::Hold(line) => {
                        info!("{line}");
                        continue;
                    }
                    Verdict::Drop(line) => {
                        if let Some(line) = line {
                            info!("{line}");
                        }
                        continue;
                    }
                }
            }
        }
        if let NetEvent::LinkDeleted { ifindex, .. } = &ev {
            deb.borrow_mut().forget(*ifindex);
        }
        let mut io = Vec::new();
        if ev == NetEvent::Overrun {
            // ENOBUFS: events were lost. Re-read links and addresses and converge on them.
            info!("Netlink monitor overrun - events lost, resynchronising");
            let mut lost = Vec::new();
            match host(&nl).await {
                Ok(h) => {
                    mon.seed(&h.links);
                    // VMACs of ours deleted unseen are made again (below) as on a deletion.
                    lost = vmacs.lock().await.ours();
                    lost.retain(|(_, i)| !h.links.iter().any(|l| l.ifindex == *i));
                    // Both families read, or no route is judged missing.
                    let routes = match (nl.routes(false).await, nl.routes(true).await) {
                        (Ok(mut v4), Ok(v6)) => {
                            v4.extend(v6);
                            Some(v4)
                        }
                        _ => None,
                    };
                    let mut eng = sh.engine.borrow_mut();
                    eng.resync(&mut known, &h, &mut io);
                    if let Some(routes) = &routes {
                        for inst in &mut eng.instances {
                            inst.restore_missing_routes(routes, &mut io);
                        }
                    }
                }
                Err(e) => info!("Netlink resynchronisation failed: {e:?}"),
            }
            sh.submit(io);
            for (name, idx) in lost {
                // resync already reported the old link down: known no longer has it.
                known.insert(idx, (name.clone(), false));
                link_deleted(idx, &name, &mut mon, &mut known, &sh, &nl, &vmacs).await;
            }
            continue;
        }
        if let NetEvent::LinkUp { name, .. } | NetEvent::LinkDown { name, .. } = &ev {
            adopt_created(name, &sh, &nl).await;
        }
        if let NetEvent::LinkDeleted { ifindex, name } = &ev {
            link_deleted(*ifindex, name, &mut mon, &mut known, &sh, &nl, &vmacs).await;
            continue;
        }
        {
            let mut eng = sh.engine.borrow_mut();
            match ev {
                NetEvent::LinkUp { ifindex, name } => {
                    log_added(&known, ifindex, &name);
                    known.insert(ifindex, (name.clone(), true));
                    eng.ifmap.borrow_mut().insert(name.clone(), ifindex);
                    // keepalived ignores netlink for the interfaces linkbeat polls.
                    if !eng.polled.contains(&name) {
                        eng.on_link(ifindex, &name, true, &mut io);
                    }
                }
                NetEvent::LinkDown { ifindex, name } => {
                    log_added(&known, ifindex, &name);
                    known.insert(ifindex, (name.clone(), false));
                    if !eng.polled.contains(&name) {
                        eng.on_link(ifindex, &name, false, &mut io);
                    }
                }
                NetEvent::LinkRenamed { ifindex, old, name } => {
                    // keepalived 2.2.7 (observed): the rename always, `added` with -D.
                    info!("Interface name has changed from {old} to {name}");
                    if crate::log::detail() > 0 {
                        info!("Interface {name} added");
                    }
                    let up = known.get(&ifindex).is_some_and(|k| k.1);
                    known.insert(ifindex, (name.clone(), up));
                    let map = eng.ifmap.clone();
                    let mut map = map.borrow_mut();
                    if map.get(&old) == Some(&ifindex) {
                        map.remove(&old);
                    }
                    map.insert(name, ifindex);
                }
                NetEvent::AddressAdded { ifindex, addr, .. } => {
                    log_address(&known, ifindex, addr, "added to");
                    eng.on_address_added(ifindex, addr, &mut io);
                }
                NetEvent::AddressRemoved { ifindex, addr, .. } => {
                    log_address(&known, ifindex, addr, "removed from");
                    eng.on_address_removed(ifindex, addr, &mut io);
                }
                NetEvent::RouteRemoved(r) => {
                    for i in &mut eng.instances {
                        i.on_route_removed(&r, &mut io);
                    }
                }
                _ => {}
            }
        }
        sh.submit(io);
    }
}

/// `-a`: every address change on any interface, in keepalived's words.
fn log_address(
    known: &HashMap<u32, (String, bool)>,
    ifindex: u32,
    addr: std::net::IpAddr,
    what: &str,
) {
    if crate::log::address_changes() {
        let name = known.get(&ifindex).map_or("", |k| k.0.as_str());
        info!("Netlink reflector reports IP {addr} {what} {name}");
    }
}

/// `dynamic_interfaces`: instances waiting for interface `name` move onto it once it exists.
async fn adopt_created(name: &str, sh: &Shared, nl: &Netlink) {
    let waiting = sh
        .engine
        .borrow()
        .instances
        .iter()
        .any(|i| i.awaits_link(name));
    if !waiting {
        return;
    }
    let h = match host(nl).await {
        Ok(h) => h,
        Err(e) => {
            info!("{e:?}");
            return;
        }
    };
    {
        let mut eng = sh.engine.borrow_mut();
        *eng.ifmap.borrow_mut() = h.ifmap();
        for i in eng.instances.iter_mut().filter(|i| i.awaits_link(name)) {
            if let Some(link) = h.link_for(&i.cfg) {
                i.adopt_link(link);
            }
        }
    }
    wire_sockets(sh);
}

/// keepalived logs a link it had not seen with -D (`Interface X added`, observed).
fn log_added(known: &HashMap<u32, (String, bool)>, ifindex: u32, name: &str) {
    if !known.contains_key(&ifindex) && crate::log::detail() > 0 {
        info!("Interface {name} added");
    }
}

/// A link went away: instances on it fault (unless its down was already seen); a
/// VMAC or ipvlan of ours is created again, as keepalived does, and the instances on it
/// move to the new index (the kernel's up event then clears their fault).
async fn link_deleted(
    ifindex: u32,
    name: &str,
    mon: &mut Monitor,
    known: &mut HashMap<u32, (String, bool)>,
    sh: &Shared,
    nl: &Netlink,
    vmacs: &SharedVmacs,
) {
    let was_up = known.remove(&ifindex).map_or(true, |k| k.1);
    let ours = vmacs.lock().await.ours_at(name, ifindex).is_some();
    let mut io = Vec::new();
    {
        let mut eng = sh.engine.borrow_mut();
        if was_up {
            eng.on_link(ifindex, name, false, &mut io);
        }
        if ours || crate::log::detail() > 0 || eng.uses_link(ifindex, name) {
            info!("Interface {name} deleted");
        }
        if eng.globals.dynamic_interfaces && !ours {
            let mut waiting = false;
            for i in &mut eng.instances {
                if i.link.ifindex == ifindex && i.cfg.vmac.is_none() && i.cfg.ipvlan.is_none() {
                    i.await_link();
                    waiting = true;
                }
            }
            if waiting {
                drop(eng);
                wire_sockets(sh);
            }
        }
    }
    sh.submit(io);
    if !ours {
        return;
    }
    let Some(new) = vmacs.lock().await.recreate(nl, name).await else {
        return;
    };
    // The queued events of the new link start from down: only its coming up is news.
    mon.assume_down(new);
    known.insert(new, (name.to_owned(), false));
    {
        let eng = sh.engine.borrow();
        eng.ifmap.borrow_mut().insert(name.to_owned(), new);
    }
    for i in &mut sh.engine.borrow_mut().instances {
        if i.link.ifindex == ifindex {
            i.relink(new);
        }
    }
    sh.submit(vec![Io::FirewallRelink(ifindex, new)]);
    wire_sockets(sh);
}

async fn io_loop(
    mut rx: mpsc::UnboundedReceiver<Job>,
    nl: Netlink,
    mut garp: Option<GarpSender>,
    mut ipvs: Option<Ipvs>,
    fw: Rc<RefCell<nft::Firewall>>,
) {
    while let Some(job) = rx.recv().await {
        match job {
            Job::Io(Io::Syncd(op)) => syncd_perform(op, &mut ipvs),
            Job::Io(io) => perform(io, &nl, garp.as_mut(), &fw).await,
            Job::Send {
                sock,
                pkt,
                dst,
                iname,
            } => {
                if let Err(e) = sock.send_to(&pkt, dst).await {
                    log_send_error(&iname, &e);
                }
            }
            Job::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// The firewall settings of `global_defs`.
fn firewall_config(c: &Config) -> nft::FwConfig {
    let g = &c.global;
    nft::FwConfig {
        table: g.nftables.clone().unwrap_or_else(|| "keepalived".into()),
        priority: g.nftables_priority,
        counters: g.nftables_counters,
        ll_by_name: !g.nftables_ifindex && c.vrrp.instances.iter().any(|i| i.dont_track_primary),
    }
}

/// The interfaces of the instances with `promote_secondaries` (a VMAC or ipvlan gets it
/// anyway, on the link itself).
fn promote_secondaries_ifaces(c: &Config) -> impl Iterator<Item = &str> {
    c.vrrp
        .instances
        .iter()
        .filter(|i| i.promote_secondaries && i.vmac.is_none() && i.ipvlan.is_none())
        .filter_map(|i| i.interface.as_deref())
}

/// Whether an IPv4 instance has a VMAC (then `all.rp_filter` is cleared).
fn has_ipv4_vmac(c: &Config) -> bool {
    c.vrrp
        .instances
        .iter()
        .any(|i| i.vmac.is_some() && i.family == model::Family::V4)
}

/// Whether any instance needs the firewall: a VMAC, or no_accept.
fn needs_firewall(c: &Config) -> bool {
    c.vrrp
        .instances
        .iter()
        .any(|i| i.vmac.is_some() || i.drops_vip_traffic())
}

/// The firewall entries of the VMACs in place.
fn vmac_entries(c: &Config, h: &Host) -> Vec<nft::VmacEntry> {
    h.vmacs
        .iter()
        .filter_map(|p| {
            let vmac = h.links.iter().find(|l| l.name == p.name)?.ifindex;
            let base = h.links.iter().find(|l| l.name == p.base)?.ifindex;
            let inst = c.vrrp.instances.iter().find(|i| i.name == p.iname)?;
            // With `disable_local_igmp` an IPv4 VMAC sends no IGMP: no firewall entry
            // (keepalived's firewall_add_vmac is skipped then).
            if c.global.disable_local_igmp && inst.family == model::Family::V4 {
                return None;
            }
            let fam = match inst.family {
                model::Family::V4 => nft::Family::Ip,
                model::Family::V6 => nft::Family::Ip6,
            };
            Some(nft::VmacEntry { fam, vmac, base })
        })
        .collect()
}

/// One sync daemon command; the IPVS socket is opened on first use after a reload that
/// linked an instance.
fn syncd_perform(op: SyncdOp, ipvs: &mut Option<Ipvs>) {
    if ipvs.is_none() {
        match Ipvs::open() {
            Ok(k) => *ipvs = Some(k),
            Err(e) => {
                info!("{e}");
                return;
            }
        }
    }
    let Some(k) = ipvs.as_mut() else { return };
    let (res, quiet) = match &op {
        SyncdOp::Start(d) => (k.start_daemon(d), false),
        SyncdOp::Stop(d, quiet) => (k.stop_daemon(d), *quiet),
    };
    match res {
        // keepalived 2.2.7 logs nothing for stopping a daemon that is not running (observed)
        Err(e) if !quiet && !matches!(op, SyncdOp::Stop(..) if e.errno() == Some(libc::ESRCH)) => {
            info!("{e}")
        }
        _ => {}
    }
}

/// keepalived's VRRP-side set-up when `lvs_sync_daemon` names an instance (or an instance
/// has `lvs_sync_daemon_interface`): IPVS opened, daemons left by a crash stopped, then
/// the instance looked up.
type SyncdStart = (Option<syncd::Syncd>, Option<Ipvs>, Vec<Io>);

fn syncd_start(c: &Config) -> Result<SyncdStart, ServiceError> {
    let link = syncd::link_of(c);
    if link == Ok(None) {
        return Ok((None, None, Vec::new()));
    }
    let ipvs = crate::check::service::open_ipvs()?;
    let io = syncd::stop_both().into_iter().map(Io::Syncd).collect();
    let link = link.unwrap_or_else(|line| {
        info!("{line}");
        None
    });
    Ok((link.map(syncd::Syncd::new), Some(ipvs), io))
}

async fn perform(io: Io, nl: &Netlink, garp: Option<&mut GarpSender>, fw: &RefCell<nft::Firewall>) {
    match io {
        Io::Syncd(_) => {}
        Io::Firewall { iname, entries } => {
            if let Err(e) = fw.borrow_mut().set_drops(&iname, entries) {
                info!("({iname}) Unable to update the firewall: {e}");
            }
        }
        Io::FirewallVmacs(v) => {
            if let Err(e) = fw.borrow_mut().set_vmacs(v) {
                info!("Unable to update the VMAC firewall rules: {e}");
            }
        }
        Io::FirewallRelink(old, new) => {
            if let Err(e) = fw.borrow_mut().relink_vmac(old, new) {
                info!("Unable to update the VMAC firewall rules: {e}");
            }
        }
        Io::FirewallClose => {
            if let Err(e) = fw.borrow_mut().close() {
                info!("Unable to remove the firewall tables: {e}");
            }
        }
        // Sent by the runtime (Shared::submit), which owns the sockets.
        Io::Send { .. } => {}
        Io::AddAddr(a) => {
            if let Err(e) = nl.add_address(&a).await {
                info!("Unable to add address {}/{}: {e}", a.addr, a.prefix);
            }
        }
        Io::DelAddr(a) => {
            if let Some(g) = garp {
                g.forget(a.ifindex, a.addr);
            }
            if let Err(e) = nl.delete_address(&a).await {
                info!("Unable to remove address {}/{}: {e}", a.addr, a.prefix);
            }
        }
        Io::AddRoute(r) => {
            if let Err(e) = nl.add_route(&r).await {
                info!("Unable to add route {}/{}: {e}", r.dst, r.prefix);
            }
        }
        Io::DelRoute(r) => {
            if let Err(e) = nl.delete_route(&r).await {
                info!("Unable to remove route {}/{}: {e}", r.dst, r.prefix);
            }
        }
        Io::AddRule(r) => {
            if let Err(e) = nl.add_rule(&r).await {
                info!("Unable to add rule: {e}");
            }
        }
        Io::DelRule(r) => {
            if let Err(e) = nl.delete_rule(&r).await {
                info!("Unable to remove rule: {e}");
            }
        }
        Io::Garp {
            iname,
            ifindex,
            ifname,
            mac,
            addrs,
            repeat,
        } => {
            // A VIP on another plain interface (`dev`): GARPs carry that interface's MAC.
            let mac = if mac == [0; 6] {
                match nl.link_by_index(ifindex).await {
                    Ok(Some(l)) => l.mac.unwrap_or(mac),
                    _ => mac,
                }
            } else {
                mac
            };
            if let Some(g) = garp {
                g.submit(GarpJob {
                    iname,
                    ifindex,
                    ifname,
                    mac,
                    addrs,
                    repeat,
                })
                .await;
            }
        }
    }
}

impl Running {
    async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = self.sh.io_tx.send(Job::Flush(tx));
        let _ = rx.await;
    }
}

impl Service for VrrpService {
    async fn start(&mut self, cfg: &ChildConfig) -> Result<(), ServiceError> {
        let c = &cfg.loaded.config;
        if let Some(why) = &c.vrrp.fatal {
            return Err(ServiceError::config(why.clone()));
        }
        let nl = Netlink::with_rcvbuf(net::RcvBuf::configured(
            c.global.vrrp_netlink_cmd_rcv_bufs.size,
            c.global.vrrp_netlink_cmd_rcv_bufs.force,
        ))
        .map_err(|e| ServiceError::fatal(e.to_string()))?;
        let alerts = alerts::Handle::default();
        alerts.install(c);
        if needs_firewall(c) && c.global.nftables.is_none() {
            info!("use_vmac or no_accept/strict specified, but no firewall configured - using nftables");
        }
        let fw = Rc::new(RefCell::new(nft::Firewall::new(firewall_config(c))));
        let local_igmp = if c.global.disable_local_igmp {
            net::sysctl::LocalIgmp::disable()
        } else {
            Default::default()
        };
        let rp_filter = if has_ipv4_vmac(c) {
            net::sysctl::RpFilter::clear()
        } else {
            Default::default()
        };
        let mut promote = net::sysctl::PromoteSecondaries::default();
        promote.apply(promote_secondaries_ifaces(c));
        // VMACs first, so the monitor does not report their creation as link events.
        let mut vmacs = vmac::Vmacs::default();
        let made = host_with_vmacs(&nl, c, &mut vmacs).await?;
        let mut mon = Monitor::with_rcvbuf(net::RcvBuf::configured(
            c.global.vrrp_netlink_monitor_rcv_bufs.size,
            c.global.vrrp_netlink_monitor_rcv_bufs.force,
        ))
        .map_err(|e| ServiceError::fatal(e.to_string()))?;
        // Re-read once the monitor listens, so that nothing changes unseen in between.
        let mut h = host(&nl).await?;
        h.vmacs = made.vmacs;
        h.failed = made.failed;
        let vmacs = Rc::new(tokio::sync::Mutex::new(vmacs));
        mon.seed(&h.links);
        let spacing = Rc::new(RefCell::new(spacing_of(c)));
        let debounce = Rc::new(RefCell::new(Debounce::new(delays_of(c))));
        let garp = match PacketSocket::sender() {
            Ok(s) => Some(GarpSender::new(s, spacing.clone())),
            Err(e) => {
                info!("Unable to open the GARP socket: {e}");
                None
            }
        };
        let globals = globals_of(c);
        let ifmap = Rc::new(RefCell::new(h.ifmap()));
        let statics = statics_of(c, &ifmap.borrow());
        let (syncd, ipvs, mut io) = syncd_start(c)?;
        let (track_tx, track_rx) = mpsc::unbounded_channel();
        let mut eng = Engine {
            epoch: tokio::time::Instant::now(),
            instances: Vec::new(),
            ifmap: ifmap.clone(),
            globals: globals.clone(),
            statics,
            groups: Vec::new(),
            tracking: Tracking::start(c, track_tx),
            hold_until: None,
            rx: RxStats::default(),
            syncd,
            rx_bufs: (
                c.global.vrrp_rx_bufs_policy,
                c.global.vrrp_rx_bufs_multiplier,
            ),
            polled: polled_links(c),
            alerts: Box::new(alerts.clone()),
        };
        let now = eng.now();
        if let Some(d) = c.global.vrrp_startup_delay {
            info!("Delaying startup for {} seconds", d.as_secs_f64());
            eng.hold_until = Some(machine::Instant(now.0 + d));
        }
        io.push(Io::FirewallVmacs(vmac_entries(c, &h)));
        // Static addresses, routes and rules first.
        io.extend(eng.statics.0.iter().cloned().map(Io::AddAddr));
        io.extend(eng.statics.1.iter().cloned().map(Io::AddRoute));
        io.extend(eng.statics.2.iter().cloned().map(Io::AddRule));
        // The start-up FAULT lines come out in keepalived's order (vrrp::startlog).
        super::startlog::begin();
        eng.tracking.log_start();
        for mi in &c.vrrp.instances {
            if let Some(i) = build(mi, &h, &globals, &ifmap, now, &eng.tracking) {
                eng.instances.push(i);
            }
        }
        let (io_tx, io_rx) = mpsc::unbounded_channel();
        let engine = Rc::new(RefCell::new(eng));
        let sh = Shared {
            engine: engine.clone(),
            socks: Rc::new(RefCell::new(Sockets::default())),
            io_tx,
            wake: Rc::new(Notify::new()),
        };
        wire_sockets(&sh);
        {
            // The machines' first actions: remove leftover VIPs, notifies.
            let mut eng = engine.borrow_mut();
            eng.build_groups(c, &h, &mut io);
            let eng = &mut *eng;
            for i in &mut eng.instances {
                if i.group.is_none() {
                    i.drain(State::Init, &mut io, &mut *eng.alerts);
                }
            }
            let names: Vec<&str> = c.vrrp.instances.iter().map(|i| i.name.as_str()).collect();
            let mut links: Vec<(u32, &str)> = h
                .links
                .iter()
                .map(|l| (l.ifindex, l.name.as_str()))
                .collect();
            links.sort_unstable();
            let ifaces: Vec<&str> = links.into_iter().map(|l| l.1).collect();
            super::startlog::flush(&names, &ifaces);
        }
        let io_task = tokio::task::spawn_local(io_loop(io_rx, nl.clone(), garp, ipvs, fw));
        sh.submit(io);
        let mut tasks = vec![
            tokio::task::spawn_local(timer_loop(sh.clone())),
            tokio::task::spawn_local(monitor_loop(
                mon,
                sh.clone(),
                nl.clone(),
                h.links.clone(),
                vmacs.clone(),
                debounce.clone(),
            )),
            tokio::task::spawn_local(tracking_loop(track_rx, sh.clone())),
        ];
        if !engine.borrow().polled.is_empty() {
            info!("Using MII-BMSR/ETHTOOL NIC polling thread(s)...");
            tasks.push(tokio::task::spawn_local(linkbeat_loop(
                sh.clone(),
                nl.clone(),
                h.links.clone(),
            )));
        }
        if let Some(addr) = c.global.metrics_address {
            match std::net::TcpListener::bind(addr).and_then(|l| {
                l.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(l)
            }) {
                Ok(listener) => {
                    let eng = engine.clone();
                    let text: Rc<dyn Fn() -> String> = Rc::new(move || {
                        eng.try_borrow()
                            .map(|e| {
                                let mut t = super::metrics::render(e.instances.iter().map(|i| {
                                    super::metrics::Row {
                                        name: i.name(),
                                        state: i.machine.state(),
                                        priority: i.machine.effective_priority(),
                                        stats: &i.stats,
                                    }
                                }));
                                t.push_str(&e.rx.to_metrics());
                                t
                            })
                            .unwrap_or_default()
                    });
                    tasks.push(tokio::task::spawn_local(super::metrics::serve(
                        listener, text,
                    )));
                }
                Err(e) => tracing::error!("Cannot serve metrics on {addr}: {e}"),
            }
        }
        self.run = Some(Running {
            engine,
            sh,
            nl,
            tasks,
            io_task,
            vmacs,
            alerts,
            rp_filter,
            promote,
            local_igmp,
            spacing,
            debounce,
        });
        self.log_dump();
        Ok(())
    }

    async fn reload(&mut self, cfg: &ChildConfig) -> Result<(), ServiceError> {
        let Some(run) = &mut self.run else {
            return self.start(cfg).await;
        };
        let c = &cfg.loaded.config;
        if let Some(why) = &c.vrrp.fatal {
            return Err(ServiceError::config(why.clone()));
        }
        if !run.rp_filter.active() && has_ipv4_vmac(c) {
            run.rp_filter = net::sysctl::RpFilter::clear();
        }
        run.promote.apply(promote_secondaries_ifaces(c));
        let h = host_with_vmacs(&run.nl, c, &mut *run.vmacs.lock().await).await?;
        *run.spacing.borrow_mut() = spacing_of(c);
        run.debounce.borrow_mut().set_delays(delays_of(c));
        run.alerts.install(c);
        let globals = globals_of(c);
        let mut io = vec![Io::FirewallVmacs(vmac_entries(c, &h))];
        {
            let mut eng = run.engine.borrow_mut();
            *eng.ifmap.borrow_mut() = h.ifmap();
            eng.globals = globals.clone();
            eng.rx_bufs = (
                c.global.vrrp_rx_bufs_policy,
                c.global.vrrp_rx_bufs_multiplier,
            );
            eng.syncd_reload(c, &mut io);
            let track_changes = eng.tracking.reload(c);
            let now = eng.now();
            // Statics: remove what went, add what is new.
            let new_statics = statics_of(c, &eng.ifmap.borrow());
            let old = std::mem::replace(&mut eng.statics, new_statics);
            io.extend(
                old.2
                    .iter()
                    .filter(|r| !eng.statics.2.contains(r))
                    .cloned()
                    .map(Io::DelRule),
            );
            io.extend(
                old.1
                    .iter()
                    .filter(|r| !eng.statics.1.contains(r))
                    .cloned()
                    .map(Io::DelRoute),
            );
            io.extend(
                old.0
                    .iter()
                    .filter(|a| !eng.statics.0.contains(a))
                    .cloned()
                    .map(Io::DelAddr),
            );
            io.extend(
                eng.statics
                    .0
                    .iter()
                    .filter(|a| !old.0.contains(a))
                    .cloned()
                    .map(Io::AddAddr),
            );
            io.extend(
                eng.statics
                    .1
                    .iter()
                    .filter(|r| !old.1.contains(r))
                    .cloned()
                    .map(Io::AddRoute),
            );
            io.extend(
                eng.statics
                    .2
                    .iter()
                    .filter(|r| !old.2.contains(r))
                    .cloned()
                    .map(Io::AddRule),
            );
            // Sync groups are kept when their names and member identities are
            // unchanged; otherwise every group member, old and new, starts afresh.
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
            let old_shape = eng.group_shape();
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
                    eng.group_step(g, &mut io, |sg, m| {
                        sg.handle_reload_removal(now, m, &gone, group_gone)
                    });
                }
            }
            let mut old_groups = std::mem::take(&mut eng.groups);
            let grouped: Vec<&str> = c
                .vrrp
                .sync_groups
                .iter()
                .flat_map(|g| g.members.iter().map(String::as_str))
                .collect();
            // Match instances by identity.
            let mut old_insts: Vec<Option<Instance>> = std::mem::take(&mut eng.instances)
                .into_iter()
                .map(|i| (keep_groups || i.group.is_none()).then_some(i))
                .collect();
            let ifmap = eng.ifmap.clone();
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
                let faulted = kept.then(|| with_config_faults(mi, &h));
                match (found, h.link_for(mi), faulted) {
                    // Unchanged: nothing to do (no advert, no "setting VIPs", no netlink).
                    (Some(o), Some(link), Some(f)) if o.unchanged_by(&f, &link) => {
                        next.push(o);
                    }
                    (Some(mut o), Some(link), Some(f)) => {
                        let was = o.cfg.permanent_fault;
                        let now_faulted = f.permanent_fault;
                        let input = o.reload(f, link, &mut io);
                        if o.group.is_none() {
                            o.drive(now, input, &mut io, &mut *eng.alerts);
                            // A configuration keepalived cannot run faults it (and a fixed
                            // one lets it go), as keepalived re-counts its config faults.
                            if was != now_faulted {
                                let change = machine::TrackChange::Fault {
                                    cause: machine::FaultCause::Config,
                                    active: now_faulted,
                                };
                                o.drive(now, Input::Track(change), &mut io, &mut *eng.alerts);
                            }
                        } else if o.vips_set {
                            // The group keeps the machine; re-assert the (new) VIP set.
                            o.perform(machine::Action::AddVips, &mut io, &mut *eng.alerts);
                        }
                        next.push(o);
                    }
                    (found, _, _) => {
                        // A kept group goes on driving its member's machine.
                        let mut group_machine = None;
                        match found {
                            Some(mut o) if o.group.is_none() => {
                                o.drive(now, Input::Shutdown, &mut io, &mut *eng.alerts);
                            }
                            Some(o) if keep_groups => group_machine = Some(o.machine),
                            _ => {}
                        }
                        if let Some(mut i) = build(mi, &h, &globals, &ifmap, now, &eng.tracking) {
                            if let Some(m) = group_machine {
                                i.machine = m;
                            } else if !grouped.contains(&mi.name.as_str()) {
                                i.drain(State::Init, &mut io, &mut *eng.alerts);
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
                    o.drive(now, Input::Removed, &mut io, &mut *eng.alerts);
                }
            }
            eng.instances = next;
            if keep_groups {
                for (g, x) in old_groups.iter_mut().enumerate() {
                    let ids = old_shape.get(g).map(|s| s.1.clone()).unwrap_or_default();
                    x.members = ids
                        .iter()
                        .filter_map(|id| eng.instances.iter().position(|i| &i.identity() == id))
                        .collect();
                    for (k, &i) in x.members.iter().enumerate() {
                        if let Some(inst) = eng.instances.get_mut(i) {
                            inst.group = Some((g, k));
                        }
                    }
                    if let Some(cg) = c.vrrp.sync_groups.iter().find(|cg| cg.name == x.name) {
                        x.track = cg.track_interfaces.clone();
                    }
                }
                eng.groups = old_groups;
                if c.global.fifo_write_vrrp_states_on_reload {
                    // keepalived 2.2.7 re-writes the groups' states only (observed).
                    let eng = &mut *eng;
                    for x in &eng.groups {
                        eng.alerts.group_fifo_state(&x.name, x.sg.state());
                    }
                }
            } else {
                eng.build_groups(c, &h, &mut io);
            }
            eng.apply_tracking(track_changes, &mut io);
        }
        skip_present(&mut io, &h.addrs);
        wire_sockets(&run.sh);
        run.sh.submit(io);
        run.flush().await;
        self.log_dump();
        Ok(())
    }

    async fn shutdown(&mut self) {
        let Some(run) = self.run.take() else { return };
        for t in &run.tasks {
            t.abort();
        }
        let mut io = Vec::new();
        {
            let mut eng = run.engine.borrow_mut();
            eng.tracking.stop();
            for t in run.sh.socks.borrow().receivers.values() {
                t.abort();
            }
            // keepalived stops the sync daemon first, even with -V
            eng.syncd_stop(&mut io);
            if self.dont_release {
                let eng = &mut *eng;
                for i in &eng.instances {
                    super::instance::notify_hook(
                        &mut *eng.alerts,
                        &i.cfg,
                        super::instance::NotifyEvent::State(State::Stop),
                        i.machine.effective_priority(),
                    );
                }
            } else {
                eng.shutdown_all(&mut io);
            }
            // Static addresses, routes and rules go at stop.
            io.extend(eng.statics.2.iter().cloned().map(Io::DelRule));
            io.extend(eng.statics.1.iter().cloned().map(Io::DelRoute));
            io.extend(eng.statics.0.iter().cloned().map(Io::DelAddr));
        }
        if !self.dont_release {
            io.push(Io::FirewallClose);
        }
        run.sh.submit(io);
        run.flush().await;
        run.io_task.abort();
        run.alerts.finish().await;
        // VMACs go last, after the VIPs on them.
        run.vmacs.lock().await.remove_unused(&run.nl, &[]).await;
        let mut rp_filter = run.rp_filter;
        rp_filter.restore();
        let mut promote = run.promote;
        promote.restore();
        let mut local_igmp = run.local_igmp;
        local_igmp.restore();
    }

    fn data_dump(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "------< VRRP Topology >------");
        if let Some(run) = &self.run {
            if let Ok(eng) = run.engine.try_borrow() {
                for i in &eng.instances {
                    s.push_str(&i.data_text());
                    s.push_str(&eng.tracking.instance_text(i.name()));
                }
                s.push_str(&eng.tracking.data_text());
            }
        }
        s
    }

    fn stats_dump(&mut self, clear: bool) -> String {
        let mut s = String::new();
        if let Some(run) = &self.run {
            if let Ok(mut eng) = run.engine.try_borrow_mut() {
                for i in &mut eng.instances {
                    s.push_str(&i.stats.to_text(&i.cfg.name));
                    if clear {
                        i.stats = Default::default();
                    }
                }
                // Not in keepalived: every socket's packets by outcome (rxguard.rs).
                s.push_str(&eng.rx.to_text());
                if clear {
                    eng.rx = RxStats::default();
                }
            }
        }
        s
    }

    fn json_dump(&self) -> serde_json::Value {
        let Some(eng) = self.run.as_ref().and_then(|r| r.engine.try_borrow().ok()) else {
            return serde_json::Value::Array(Vec::new());
        };
        let list: Vec<serde_json::Value> = eng.instances.iter().map(Instance::to_json).collect();
        if eng.globals.json_version < 2 {
            return serde_json::Value::Array(list);
        }
        // keepalived 2.2.8's json_version 2: the instances are named, tracked processes
        // follow when there are any (vrrp_json.c)
        let mut top = serde_json::Map::new();
        top.insert("vrrp".into(), serde_json::Value::Array(list));
        let procs = eng.tracking.processes_json();
        if !procs.is_empty() {
            top.insert("track_process".into(), serde_json::Value::Array(procs));
        }
        serde_json::Value::Object(top)
    }

    fn status(&self) -> serde_json::Value {
        let Some(eng) = self.run.as_ref().and_then(|r| r.engine.try_borrow().ok()) else {
            return serde_json::json!({ "instances": [], "sync_groups": [] });
        };
        let names: Vec<&str> = eng.instances.iter().map(Instance::name).collect();
        let groups: Vec<&str> = eng.groups.iter().map(|g| g.name.as_str()).collect();
        let states: serde_json::Map<String, serde_json::Value> = eng
            .instances
            .iter()
            .map(|i| {
                (
                    i.name().to_owned(),
                    serde_json::json!({
                        "state": i.machine.state().as_str(),
                        "priority": i.machine.effective_priority(),
                    }),
                )
            })
            .collect();
        serde_json::json!({ "instances": names, "sync_groups": groups, "states": states,
            "tracking": eng.tracking.to_json() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
