//! Whole VRRP engines ([`Engine`]) on a simulated LAN: every node runs the engine the
//! daemon runs, built from a keepalived configuration, fed its adverts, link events,
//! tracker results and reloads with the simulated time; its I/O is performed on a
//! simulated host (addresses) and wire (adverts to the other nodes after a latency, maybe
//! lost). Thousands of seeded scenarios (sync groups, reloads that change priorities, add
//! or drop the sync group or an instance, tracker faults, link events, crashes) are checked
//! against:
//! * after convergence, exactly one MASTER per VRID, its VIPs on its node only, and the
//!   members of a sync group in one state on each node;
//! * never a VIP on two nodes for longer than the protocol's window (master down interval,
//!   plus one advert interval and the wire's latency);
//! * a reload with an unchanged configuration performs nothing (no address, advert or
//!   notify; the VMAC firewall set, unchanged, is restated) and changes no state.
//!
//! A failing seed is printed; rerun it alone with `VRRP_ENGINE_SIM_SEED=<seed>`.
//! `VRRP_ENGINE_SIM_SCENARIOS=<n>` changes the number of scenarios per test (default 250).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use super::alerts::Sink;
use super::engine::{self, Engine, Event, Host, TrackState};
use super::instance::{Io, SockKey};
use super::machine::{FaultCause, Instant, State, TrackChange};
use super::packet::Received;
use super::tracking::Target;
use crate::config::model::vrrp::instance as model;
use crate::config::model::Config;
use crate::config::LoadOptions;
use crate::net::{AddrInfo, LinkInfo};
use crate::notify::FifoEvent;

type Rng = crate::rng::SplitMix64;

/// The notify events of one node, as text.
#[derive(Clone, Default)]
struct Recorder(Rc<RefCell<Vec<String>>>);

impl Sink for Recorder {
    fn instance_event(&mut self, cfg: &model::Instance, ev: FifoEvent, priority: u8) {
        self.0
            .borrow_mut()
            .push(format!("INSTANCE {} {} {priority}", cfg.name, ev.as_str()));
    }
    fn group_event(&mut self, name: &str, state: State) {
        self.0.borrow_mut().push(format!("GROUP {name} {state}"));
    }
    fn group_fifo_state(&mut self, name: &str, state: State) {
        self.0
            .borrow_mut()
            .push(format!("GROUP FIFO {name} {state}"));
    }
}

/// A node's trackers: a weight-0 script `chk` per instance, failing or not.
#[derive(Default)]
struct Trackers {
    failing: BTreeSet<String>,
}

fn script_fault(active: bool) -> TrackChange {
    TrackChange::Fault {
        cause: FaultCause::Script("chk".into()),
        active,
    }
}

impl TrackState for Trackers {
    fn initial(&self, target: &Target) -> Vec<TrackChange> {
        match target {
            Target::Instance(n) if self.failing.contains(n) => vec![script_fault(true)],
            _ => Vec::new(),
        }
    }
    fn reload(&mut self, _: &Config) -> Vec<(Target, TrackChange)> {
        Vec::new()
    }
}

/// One instance of the scenario (the same on every node but for the priority).
#[derive(Clone)]
struct InstSpec {
    name: String,
    vrid: u8,
    vip: Ipv4Addr,
    /// Per node.
    priority: Vec<u8>,
    nopreempt: bool,
    unicast: bool,
}

/// The scenario's configuration, as keepalived.conf text per node.
#[derive(Clone)]
struct Topology {
    nodes: usize,
    insts: Vec<InstSpec>,
    /// Per node: whether a sync group holds all its instances.
    grouped: Vec<bool>,
    /// Per node: the instances its configuration leaves out (reloaded without them).
    absent: Vec<BTreeSet<String>>,
    advert: u64,
}

fn node_addr(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 1 + n as u8)
}

impl Topology {
    fn conf(&self, node: usize) -> String {
        let mut s = format!("global_defs {{\n  router_id node{node}\n}}\n");
        let absent = self.absent.get(node).cloned().unwrap_or_default();
        let present = || self.insts.iter().filter(|i| !absent.contains(&i.name));
        if self.grouped.get(node).copied().unwrap_or(false) && present().count() > 0 {
            let names: Vec<&str> = present().map(|i| i.name.as_str()).collect();
            let _ = writeln!(
                s,
                "vrrp_sync_group G1 {{\n  group {{\n    {}\n  }}\n}}",
                names.join("\n    ")
            );
        }
        for i in present() {
            let _ = write!(
                s,
                "vrrp_instance {} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {}\n  \
                 priority {}\n  advert_int {}\n{}  virtual_ipaddress {{\n    {}/32\n  }}\n",
                i.name,
                i.vrid,
                i.priority.get(node).copied().unwrap_or(100),
                self.advert,
                if i.nopreempt { "  nopreempt\n" } else { "" },
                i.vip,
            );
            if i.unicast {
                let _ = writeln!(s, "  unicast_src_ip {}", node_addr(node));
                let peers: Vec<String> = (0..self.nodes)
                    .filter(|&m| m != node)
                    .map(|m| node_addr(m).to_string())
                    .collect();
                let _ = writeln!(s, "  unicast_peer {{\n    {}\n  }}", peers.join("\n    "));
            }
            s.push_str("}\n");
        }
        s
    }

    fn random(rng: &mut Rng, group_chance: f64) -> Topology {
        let nodes = rng.range(2, 5) as usize;
        let count = rng.range(1, 3) as usize;
        let insts = (0..count)
            .map(|k| InstSpec {
                name: format!("VI_{}", k + 1),
                vrid: 51 + k as u8,
                vip: Ipv4Addr::new(10, 0, 0, 1 + k as u8),
                priority: (0..nodes).map(|_| rng.range(1, 254) as u8).collect(),
                nopreempt: rng.chance(0.15),
                unicast: rng.chance(0.2),
            })
            .collect();
        let group = count > 1 && rng.chance(group_chance);
        Topology {
            nodes,
            insts,
            grouped: vec![group; nodes],
            absent: vec![BTreeSet::new(); nodes],
            advert: 1,
        }
    }
}

fn config_of(text: &str) -> Config {
    let loaded = crate::config::load_str(text, Path::new("/sim.conf"), &LoadOptions::default());
    assert!(loaded.config.vrrp.fatal.is_none(), "bad config:\n{text}");
    loaded.config
}

/// One simulated host running keepalived's VRRP engine (or crashed: `eng` is `None`).
struct Node {
    eng: Option<Engine>,
    conf: String,
    link_up: bool,
    /// The addresses on eth0 besides the node's own (the VIPs it holds).
    vips: BTreeSet<IpAddr>,
    trackers: Trackers,
    alerts: Recorder,
}

const ETH0: u32 = 2;

impl Node {
    fn host(&self, n: usize) -> Host {
        let link = |ifindex: u32, name: &str, up: bool| LinkInfo {
            ifindex,
            name: name.into(),
            mac: Some([2, 0, 0, 0, ifindex as u8, n as u8]),
            mtu: 1500,
            admin_up: true,
            running: up,
            multicast: true,
            ether: true,
            kind: None,
            parent: None,
            macvlan_private: None,
            flags: 0,
        };
        let addr = |addr: IpAddr, prefix: u8| AddrInfo {
            ifindex: ETH0,
            addr,
            prefix,
            peer: None,
            scope: 0,
            label: None,
            flags: 0,
        };
        let mut addrs = vec![addr(IpAddr::V4(node_addr(n)), 24)];
        addrs.extend(self.vips.iter().map(|a| addr(*a, 32)));
        Host {
            links: vec![link(1, "lo", true), link(ETH0, "eth0", self.link_up)],
            addrs,
            vmacs: Vec::new(),
            failed: Vec::new(),
        }
    }

    fn states(&self) -> Vec<(String, u8, State)> {
        self.eng.as_ref().map_or_else(Vec::new, |e| {
            e.instances
                .iter()
                .map(|i| {
                    (
                        i.cfg.name.clone(),
                        i.cfg.vrid.unwrap_or(0),
                        i.machine.state(),
                    )
                })
                .collect()
        })
    }
}

/// An advert on the wire.
struct Frame {
    to: usize,
    key: SockKey,
    pkt: Vec<u8>,
}

/// What a scenario does at a time.
#[derive(Debug, Clone)]
enum Act {
    Link(usize, bool),
    Script(usize, String, bool),
    /// Reload with the same configuration: nothing may happen.
    ReloadSame(usize),
    /// Reload with new priorities for the node.
    ReloadPriorities(usize, Vec<u8>),
    /// Reload with or without the sync group.
    ReloadGroup(usize, bool),
    /// Reload without the instance, or with it again.
    ReloadInstance(usize, String, bool),
    Crash(usize),
    Boot(usize),
    /// Packet loss on or off.
    Loss(f64),
}

struct Lan {
    topo: Topology,
    nodes: Vec<Node>,
    now: Instant,
    wire: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    frames: HashMap<u64, Frame>,
    seq: u64,
    rng: Rng,
    latency: (u64, u64),
    loss: f64,
    /// Since when each VIP has been on more than one node.
    shared_since: BTreeMap<IpAddr, Instant>,
    /// The longest time a VIP was on two nodes.
    worst_shared: Duration,
    trace: Vec<String>,
}

impl Lan {
    fn new(topo: Topology, rng: Rng, latency: (u64, u64)) -> Lan {
        let nodes = (0..topo.nodes)
            .map(|n| Node {
                eng: None,
                conf: topo.conf(n),
                link_up: true,
                vips: BTreeSet::new(),
                trackers: Trackers::default(),
                alerts: Recorder::default(),
            })
            .collect();
        Lan {
            topo,
            nodes,
            now: Instant::ZERO,
            wire: BinaryHeap::new(),
            frames: HashMap::new(),
            seq: 0,
            rng,
            latency,
            loss: 0.0,
            shared_since: BTreeMap::new(),
            worst_shared: Duration::ZERO,
            trace: Vec::new(),
        }
    }

    /// Starts the engine of node `n` as the service does.
    fn boot(&mut self, n: usize) {
        let now = self.now;
        let node = &mut self.nodes[n];
        let c = config_of(&node.conf);
        let h = node.host(n);
        let ifmap = Rc::new(RefCell::new(h.ifmap()));
        let statics = engine::statics_of(&c, &ifmap.borrow());
        let mut eng = Engine::new(&c, ifmap, statics, None, Box::new(node.alerts.clone()));
        let mut io = eng.start_io(now, &c, &h);
        eng.build_instances(now, &c, &h, &node.trackers);
        for i in &mut eng.instances {
            i.sock_open = i.key.ifindex != 0;
        }
        eng.start(now, &c, &h, &node.trackers, &mut io);
        node.eng = Some(eng);
        self.perform(n, io);
    }

    /// Performs a node's I/O: addresses on its host, adverts on the wire.
    fn perform(&mut self, n: usize, io: Vec<Io>) {
        for i in io {
            match i {
                Io::AddAddr(a) if a.ifindex == ETH0 => {
                    self.nodes[n].vips.insert(a.addr);
                }
                Io::DelAddr(a) if a.ifindex == ETH0 => {
                    self.nodes[n].vips.remove(&a.addr);
                }
                Io::Send { key, pkt, dst, .. } => self.transmit(n, key, pkt, dst),
                _ => {}
            }
        }
        self.check_shared();
    }

    fn transmit(&mut self, from: usize, key: SockKey, pkt: Vec<u8>, dst: IpAddr) {
        if !self.nodes[from].link_up {
            return;
        }
        for to in 0..self.nodes.len() {
            let unicast_to_other = !dst.is_multicast() && dst != IpAddr::V4(node_addr(to));
            if to == from || unicast_to_other || self.rng.chance(self.loss) {
                continue;
            }
            let at = Instant(self.now.0 + self.rng.ms(self.latency.0, self.latency.1));
            self.seq += 1;
            // The receiving socket: a unicast one is bound to the receiver's address.
            let mut key = key.clone();
            if key.unicast_src.is_some() {
                key.unicast_src = Some(IpAddr::V4(node_addr(to)));
            }
            self.frames.insert(
                self.seq,
                Frame {
                    to,
                    key,
                    pkt: pkt.clone(),
                },
            );
            self.wire.push(Reverse((at, self.seq, to)));
        }
    }

    fn check_shared(&mut self) {
        let mut holders: BTreeMap<IpAddr, usize> = BTreeMap::new();
        for node in &self.nodes {
            for a in &node.vips {
                *holders.entry(*a).or_default() += 1;
            }
        }
        let now = self.now;
        self.shared_since
            .retain(|a, _| holders.get(a).is_some_and(|&c| c > 1));
        for (a, c) in holders {
            if c > 1 {
                let since = *self.shared_since.entry(a).or_insert(now);
                self.worst_shared = self.worst_shared.max(now.0.saturating_sub(since.0));
            }
        }
    }

    fn handle(&mut self, n: usize, ev: Event<'_>) {
        let now = self.now;
        let mut io = Vec::new();
        if let Some(e) = self.nodes[n].eng.as_mut() {
            e.handle(now, ev, &mut io);
        }
        self.perform(n, io);
    }

    fn act(&mut self, a: &Act) {
        self.trace.push(format!("{:?} {a:?}", self.now.0));
        match a {
            Act::Link(n, up) => {
                let node = &mut self.nodes[*n];
                if node.link_up == *up {
                    return;
                }
                node.link_up = *up;
                self.handle(
                    *n,
                    Event::Link {
                        ifindex: ETH0,
                        name: "eth0",
                        up: *up,
                    },
                );
            }
            Act::Script(n, inst, fail) => {
                let node = &mut self.nodes[*n];
                let changed = if *fail {
                    node.trackers.failing.insert(inst.clone())
                } else {
                    node.trackers.failing.remove(inst)
                };
                if changed {
                    let ch = vec![(Target::Instance(inst.clone()), script_fault(*fail))];
                    self.handle(*n, Event::Tracking(ch));
                }
            }
            Act::ReloadSame(n) => self.reload(*n, true),
            Act::ReloadPriorities(n, prios) => {
                for (i, p) in self.topo.insts.iter_mut().zip(prios) {
                    if let Some(x) = i.priority.get_mut(*n) {
                        *x = *p;
                    }
                }
                self.nodes[*n].conf = self.topo.conf(*n);
                self.reload(*n, false);
            }
            Act::ReloadGroup(n, on) => {
                if let Some(g) = self.topo.grouped.get_mut(*n) {
                    *g = *on;
                }
                self.nodes[*n].conf = self.topo.conf(*n);
                self.reload(*n, false);
            }
            Act::ReloadInstance(n, name, present) => {
                if let Some(a) = self.topo.absent.get_mut(*n) {
                    if *present {
                        a.remove(name);
                    } else {
                        a.insert(name.clone());
                    }
                }
                self.nodes[*n].conf = self.topo.conf(*n);
                self.reload(*n, false);
            }
            Act::Crash(n) => {
                let node = &mut self.nodes[*n];
                // The host goes down with keepalived: its addresses go too.
                node.eng = None;
                node.vips.clear();
            }
            Act::Boot(n) => {
                if self.nodes[*n].eng.is_none() {
                    self.boot(*n);
                }
            }
            Act::Loss(p) => self.loss = *p,
        }
    }

    /// Reloads node `n` with its (maybe new) configuration, as the service does.
    fn reload(&mut self, n: usize, same: bool) {
        let now = self.now;
        let node = &mut self.nodes[n];
        let c = config_of(&node.conf);
        let h = node.host(n);
        let Some(eng) = node.eng.as_mut() else { return };
        let before: Vec<State> = eng.instances.iter().map(|i| i.machine.state()).collect();
        let alerts = node.alerts.0.borrow().len();
        let io = eng.reload(now, &c, &h, &mut node.trackers);
        for i in &mut eng.instances {
            i.sock_open = i.key.ifindex != 0;
        }
        if same {
            let after: Vec<State> = eng.instances.iter().map(|i| i.machine.state()).collect();
            let acted: Vec<&Io> = io
                .iter()
                .filter(|i| !matches!(i, Io::FirewallVmacs(v) if v.is_empty()))
                .collect();
            assert!(acted.is_empty(), "unchanged reload performed {acted:?}");
            assert_eq!(before, after, "unchanged reload changed states");
            let notified = &node.alerts.0.borrow()[alerts..];
            assert!(
                notified.is_empty(),
                "unchanged reload notified {notified:?}"
            );
        }
        self.perform(n, io);
    }

    /// Runs until `end`, performing the actions of `plan` (sorted by time) on the way.
    fn run_until(&mut self, end: Instant, plan: &mut Vec<(Instant, Act)>) {
        let mut spins = 0u32;
        loop {
            let next_wire = self.wire.peek().map(|r| r.0 .0);
            let next_timer = self
                .nodes
                .iter()
                .filter_map(|n| n.eng.as_ref().and_then(Engine::poll_timeout))
                .min();
            let next_act = plan.first().map(|p| p.0);
            let Some(t) = [next_wire, next_timer, next_act]
                .into_iter()
                .flatten()
                .min()
                .filter(|t| *t <= end)
            else {
                self.now = end;
                self.check_shared();
                return;
            };
            if t <= self.now {
                spins += 1;
                assert!(spins < 100_000, "no progress at {:?}", self.now.0);
            } else {
                spins = 0;
            }
            self.now = self.now.max(t);
            if next_act == Some(t) {
                let (_, a) = plan.remove(0);
                self.act(&a);
                continue;
            }
            if next_wire == Some(t) {
                let Some(Reverse((_, seq, to))) = self.wire.pop() else {
                    continue;
                };
                let Some(f) = self.frames.remove(&seq) else {
                    continue;
                };
                if self.nodes[to].link_up && self.nodes[f.to].eng.is_some() {
                    self.handle(
                        f.to,
                        Event::Packet {
                            key: &f.key,
                            rx: Received::V4(&f.pkt),
                        },
                    );
                }
                continue;
            }
            for n in 0..self.nodes.len() {
                let due = self.nodes[n]
                    .eng
                    .as_ref()
                    .and_then(Engine::poll_timeout)
                    .is_some_and(|d| d <= self.now);
                if due {
                    self.handle(n, Event::Timeout);
                }
            }
        }
    }

    /// The protocol's window for a VIP on two nodes: a master down interval (three
    /// adverts and the skew, at most one advert), one advert interval more, the latency.
    fn window(&self) -> Duration {
        let adv = Duration::from_secs(self.topo.advert);
        adv * 5 + Duration::from_millis(self.latency.1 * 2)
    }

    /// The promises of a converged LAN (every node booted, links up, scripts fine).
    fn check_converged(&self) -> Result<(), String> {
        for i in &self.topo.insts {
            let masters: Vec<usize> = (0..self.nodes.len())
                .filter(|&n| {
                    self.nodes[n]
                        .states()
                        .iter()
                        .any(|(name, _, s)| *name == i.name && *s == State::Master)
                })
                .collect();
            if masters.len() != 1 {
                return Err(format!("{}: masters on nodes {masters:?}", i.name));
            }
            let holders: Vec<usize> = (0..self.nodes.len())
                .filter(|&n| self.nodes[n].vips.contains(&IpAddr::V4(i.vip)))
                .collect();
            if holders != masters {
                return Err(format!(
                    "{}: VIP {} on nodes {holders:?}, master {masters:?}",
                    i.name, i.vip
                ));
            }
        }
        for (n, node) in self.nodes.iter().enumerate() {
            if self.topo.grouped.get(n).copied().unwrap_or(false) {
                let mut states: Vec<State> = node.states().iter().map(|s| s.2).collect();
                states.dedup();
                if states.len() > 1 {
                    return Err(format!("node {n}: group members in {states:?}"));
                }
            }
        }
        Ok(())
    }

    fn report(&self) -> String {
        let mut s = String::new();
        for (n, node) in self.nodes.iter().enumerate() {
            let _ = writeln!(
                s,
                "node {n}: link {} states {:?} vips {:?}",
                node.link_up,
                node.states(),
                node.vips
            );
        }
        let _ = writeln!(s, "actions:");
        for t in &self.trace {
            let _ = writeln!(s, "  {t}");
        }
        s
    }
}

/// Which events a test's scenarios draw from.
#[derive(Clone, Copy)]
struct Mix {
    group_chance: f64,
    links: bool,
    scripts: bool,
    reloads: bool,
    crashes: bool,
}

fn at(secs_ms: u64) -> Instant {
    Instant(Duration::from_millis(secs_ms))
}

/// One seeded scenario: boot, a few random disturbances, then everything healed and the
/// promises checked once the protocol had time to converge.
fn scenario(seed: u64, mix: Mix) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let topo = Topology::random(&mut rng, mix.group_chance);
    let latency = (rng.range(0, 5), rng.range(5, 40));
    let loss = if rng.chance(0.3) { 0.05 } else { 0.0 };
    let nodes = topo.nodes;
    let grouped = topo.grouped.first().copied().unwrap_or(false);
    let names: Vec<String> = topo.insts.iter().map(|i| i.name.clone()).collect();
    let mut plan: Vec<(Instant, Act)> = Vec::new();
    // Boots spread over the first seconds.
    for n in 0..nodes {
        plan.push((at(rng.range(0, 3000)), Act::Boot(n)));
    }
    plan.push((at(0), Act::Loss(loss)));
    let mut t = 15_000;
    for _ in 0..rng.range(2, 8) {
        t += rng.range(500, 8000);
        let n = rng.range(0, nodes as u64 - 1) as usize;
        let mut kinds = Vec::new();
        if mix.links {
            kinds.push(0);
        }
        if mix.scripts {
            kinds.push(1);
        }
        if mix.reloads {
            kinds.extend([2, 3, 5, 6]);
        }
        if mix.crashes {
            kinds.push(4);
        }
        let kind = kinds[rng.range(0, kinds.len() as u64 - 1) as usize];
        let back = t + rng.range(300, 10_000);
        match kind {
            0 => {
                plan.push((at(t), Act::Link(n, false)));
                plan.push((at(back), Act::Link(n, true)));
            }
            1 => {
                let i = names[rng.range(0, names.len() as u64 - 1) as usize].clone();
                plan.push((at(t), Act::Script(n, i.clone(), true)));
                plan.push((at(back), Act::Script(n, i, false)));
            }
            2 => plan.push((at(t), Act::ReloadSame(n))),
            3 => {
                let prios = names.iter().map(|_| rng.range(1, 254) as u8).collect();
                plan.push((at(t), Act::ReloadPriorities(n, prios)));
            }
            4 => {
                plan.push((at(t), Act::Crash(n)));
                plan.push((at(back), Act::Boot(n)));
            }
            5 => {
                plan.push((at(t), Act::ReloadGroup(n, !grouped)));
                plan.push((at(back), Act::ReloadGroup(n, grouped)));
            }
            _ => {
                let i = names[rng.range(0, names.len() as u64 - 1) as usize].clone();
                plan.push((at(t), Act::ReloadInstance(n, i.clone(), false)));
                plan.push((at(back), Act::ReloadInstance(n, i, true)));
            }
        }
    }
    plan.sort_by_key(|p| p.0);
    let last = plan.last().map_or(0, |p| p.0 .0.as_millis() as u64);
    // Healed: no loss; every node up, scripts fine (the plan ends them so).
    let heal = last + 1000;
    plan.push((at(heal), Act::Loss(0.0)));
    let mut lan = Lan::new(topo, Rng::new(seed ^ 0x5eed), latency);
    lan.run_until(at(heal + 30_000), &mut plan);
    let window = lan.window();
    let fail = |m: String| format!("{m}\n{}", lan.report());
    if lan.worst_shared > window {
        return Err(fail(format!(
            "a VIP was on two nodes for {:?} (window {window:?})",
            lan.worst_shared
        )));
    }
    lan.check_converged().map_err(fail)?;
    // A reload of the unchanged configuration on every node, once converged.
    for n in 0..nodes {
        lan.act(&Act::ReloadSame(n));
    }
    lan.run_until(at(heal + 40_000), &mut Vec::new());
    lan.check_converged()
        .map_err(|m| format!("after unchanged reloads: {m}\n{}", lan.report()))
}

fn run(name: &str, mix: Mix, base: u64) {
    let one: Option<u64> = std::env::var("VRRP_ENGINE_SIM_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    let count: u64 = std::env::var("VRRP_ENGINE_SIM_SCENARIOS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(250);
    let seeds: Vec<u64> = match one {
        Some(s) => vec![s],
        None => (0..count).map(|k| base + k).collect(),
    };
    for seed in seeds {
        // A panic (an engine assertion, an unchanged reload acting) names its seed too.
        let r = std::panic::catch_unwind(|| scenario(seed, mix));
        match r {
            Ok(Ok(())) => {}
            Ok(Err(m)) => panic!("{name}: seed {seed} (VRRP_ENGINE_SIM_SEED={seed}): {m}"),
            Err(_) => panic!("{name}: seed {seed} panicked (VRRP_ENGINE_SIM_SEED={seed})"),
        }
    }
}

#[test]
fn sync_groups_converge() {
    let mix = Mix {
        group_chance: 1.0,
        links: true,
        scripts: true,
        reloads: false,
        crashes: true,
    };
    run("sync_groups_converge", mix, 1_000_000);
}

#[test]
fn reloads_converge_and_unchanged_reload_does_nothing() {
    let mix = Mix {
        group_chance: 0.4,
        links: false,
        scripts: false,
        reloads: true,
        crashes: false,
    };
    run("reloads", mix, 2_000_000);
}

#[test]
fn tracking_faults_converge() {
    let mix = Mix {
        group_chance: 0.3,
        links: false,
        scripts: true,
        reloads: false,
        crashes: false,
    };
    run("tracking", mix, 3_000_000);
}

#[test]
fn link_events_converge() {
    let mix = Mix {
        group_chance: 0.3,
        links: true,
        scripts: false,
        reloads: false,
        crashes: true,
    };
    run("links", mix, 4_000_000);
}

#[test]
fn everything_at_once() {
    let mix = Mix {
        group_chance: 0.5,
        links: true,
        scripts: true,
        reloads: true,
        crashes: true,
    };
    run("everything", mix, 5_000_000);
}
