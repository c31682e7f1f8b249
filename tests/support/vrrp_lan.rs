//! A deterministic simulated LAN segment for `vrrp::machine` (no sockets, no clock).
//!
//! Routers are [`Machine`]s; an advert sent by one is delivered to every other router after
//! a random latency, unless lost or cut off by a partition. Time jumps from one event to the
//! next (a queued delivery/disruption or a machine's `poll_timeout`), as in quinn-proto's
//! `Pair` and smoltcp's simulator. Everything random comes from one seeded [`SplitMix64`].
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use keepalived::vrrp::machine::{Action, InstanceConfig, Instant, Machine, RxAdvert, State};

pub use keepalived::rng::SplitMix64;

/// The address of router `i` (192.0.2.0/24, documentation range).
pub fn addr(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, (i + 1) as u8))
}

#[derive(Debug, Clone)]
enum Event {
    Deliver { to: usize, adv: RxAdvert },
}

/// One router on the segment.
pub struct Router {
    pub cfg: InstanceConfig,
    pub machine: Option<Machine>,
    pub owns_vips: bool,
    pub side: u8,
    pub transitions: u32,
}

impl Router {
    pub fn alive(&self) -> bool {
        self.machine.is_some()
    }
    pub fn state(&self) -> Option<State> {
        self.machine.as_ref().map(Machine::state)
    }
}

/// A dual-ownership episode: two routers held the VIPs at once, on a connected segment.
#[derive(Debug, Clone, Copy)]
pub struct DualEpisode {
    pub since: Instant,
    pub until: Instant,
}

/// The simulated segment.
pub struct Lan {
    pub now: Instant,
    pub routers: Vec<Router>,
    pub rng: SplitMix64,
    pub loss: f64,
    pub latency: (Duration, Duration),
    pub partitioned: bool,
    /// When the segment last became whole (start, or a heal).
    pub connected_since: Instant,
    queue: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    events: Vec<Option<Event>>,
    seq: u64,
    dual_since: Option<Instant>,
    pub dual_episodes: Vec<DualEpisode>,
    pub trace: bool,
    pub log: Vec<String>,
    /// Events processed so far; a run stops (and `storm` is set) past `budget`, so a
    /// broken machine that ping-pongs adverts in zero time fails instead of hanging.
    pub steps: u64,
    pub budget: u64,
    pub storm: bool,
}

impl Lan {
    pub fn new(cfgs: Vec<InstanceConfig>, rng: SplitMix64, latency: (Duration, Duration)) -> Lan {
        let mut lan = Lan {
            now: Instant::ZERO,
            routers: cfgs
                .into_iter()
                .map(|cfg| Router {
                    cfg,
                    machine: None,
                    owns_vips: false,
                    side: 0,
                    transitions: 0,
                })
                .collect(),
            rng,
            loss: 0.0,
            latency,
            partitioned: false,
            connected_since: Instant::ZERO,
            queue: BinaryHeap::new(),
            events: Vec::new(),
            seq: 0,
            dual_since: None,
            dual_episodes: Vec::new(),
            trace: false,
            log: Vec::new(),
            steps: 0,
            budget: 500_000,
            storm: false,
        };
        for i in 0..lan.routers.len() {
            lan.start(i);
        }
        lan
    }

    /// (Re)starts router `i`'s VRRP instance.
    pub fn start(&mut self, i: usize) {
        let now = self.now;
        if let Some(r) = self.routers.get_mut(i) {
            r.machine = Some(Machine::new(r.cfg.clone(), now));
        }
        self.pump(i);
    }

    /// Power-off: the instance and its addresses vanish, nothing is sent.
    pub fn crash(&mut self, i: usize) {
        if let Some(r) = self.routers.get_mut(i) {
            r.machine = None;
            r.owns_vips = false;
        }
        self.note(format!("crash {i}"));
        self.check_dual();
    }

    /// Clean shutdown (priority-0 advert).
    pub fn shutdown(&mut self, i: usize) {
        let now = self.now;
        if let Some(m) = self.routers.get_mut(i).and_then(|r| r.machine.as_mut()) {
            m.handle_shutdown(now);
        }
        self.pump(i);
        if let Some(r) = self.routers.get_mut(i) {
            r.machine = None;
            r.owns_vips = false;
        }
        self.check_dual();
    }

    /// Splits the segment in two random halves.
    pub fn partition(&mut self) {
        for i in 0..self.routers.len() {
            let side = self.rng.range(0, 1) as u8;
            if let Some(r) = self.routers.get_mut(i) {
                r.side = side;
            }
        }
        self.partitioned = true;
        self.dual_since = None;
        self.note("partition".into());
    }

    pub fn heal(&mut self) {
        for r in &mut self.routers {
            r.side = 0;
        }
        if self.partitioned {
            self.partitioned = false;
            self.connected_since = self.now;
            self.check_dual();
        }
        self.note("heal".into());
    }

    /// Runs the segment until `end`.
    pub fn run_until(&mut self, end: Instant) {
        loop {
            let next_timer = self
                .routers
                .iter()
                .filter_map(|r| r.machine.as_ref().and_then(Machine::poll_timeout))
                .min();
            let next_event = self.queue.peek().map(|Reverse((t, _, _))| *t);
            let next = match (next_timer, next_event) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > end {
                break;
            }
            self.steps += 1;
            if self.steps > self.budget {
                self.storm = true;
                break;
            }
            self.now = self.now.max(next);
            if next_event == Some(next) {
                if let Some(Reverse((_, _, idx))) = self.queue.pop() {
                    if let Some(ev) = self.events.get_mut(idx).and_then(Option::take) {
                        self.dispatch(ev);
                    }
                }
            } else {
                for i in 0..self.routers.len() {
                    let now = self.now;
                    let due = self.routers[i]
                        .machine
                        .as_ref()
                        .and_then(Machine::poll_timeout)
                        .is_some_and(|t| t <= now);
                    if due {
                        if let Some(m) = self.routers[i].machine.as_mut() {
                            m.handle_timeout(now);
                        }
                        self.pump(i);
                    }
                }
            }
        }
        self.now = self.now.max(end);
    }

    fn dispatch(&mut self, ev: Event) {
        match ev {
            Event::Deliver { to, adv } => {
                let now = self.now;
                if let Some(m) = self.routers.get_mut(to).and_then(|r| r.machine.as_mut()) {
                    m.handle_advert(now, adv);
                }
                self.pump(to);
            }
        }
    }

    /// Performs router `i`'s queued actions.
    fn pump(&mut self, i: usize) {
        while let Some(action) = self.routers[i]
            .machine
            .as_mut()
            .and_then(Machine::poll_action)
        {
            match action {
                Action::SendAdvert { priority } => {
                    let adv = RxAdvert {
                        src: addr(i),
                        priority,
                        adver_int: self.routers[i].cfg.advert_int,
                    };
                    for to in 0..self.routers.len() {
                        if to == i
                            || !self.routers[to].alive()
                            || self.routers[to].side != self.routers[i].side
                            || self.rng.chance(self.loss)
                        {
                            continue;
                        }
                        let at = self.now + self.rng.duration(self.latency.0, self.latency.1);
                        self.events.push(Some(Event::Deliver { to, adv }));
                        self.seq += 1;
                        self.queue
                            .push(Reverse((at, self.seq, self.events.len() - 1)));
                    }
                }
                Action::AddVips => {
                    self.routers[i].owns_vips = true;
                    self.check_dual();
                }
                Action::RemoveVips => {
                    self.routers[i].owns_vips = false;
                    self.check_dual();
                }
                Action::Notify { .. } => self.routers[i].transitions += 1,
                Action::Log(l) => self.note(format!("{i}: {l}")),
                Action::Removed { .. } => self.routers[i].transitions += 1,
                Action::SendGarp { .. }
                | Action::SendExtraGarp
                | Action::MasterRxLowerPri
                | Action::LowerPrioUnanswered
                | Action::PriorityChanged { .. }
                | Action::Debug(_) => {}
            }
        }
    }

    fn check_dual(&mut self) {
        let owners = self.routers.iter().filter(|r| r.owns_vips).count();
        match (owners >= 2, self.dual_since) {
            (true, None) if !self.partitioned => self.dual_since = Some(self.now),
            (false, Some(since)) => {
                self.dual_episodes.push(DualEpisode {
                    since: since.max(self.connected_since),
                    until: self.now,
                });
                self.dual_since = None;
            }
            _ => {}
        }
    }

    /// Closes an open dual-ownership episode at the current time (for the final check).
    pub fn open_dual(&self) -> Option<DualEpisode> {
        self.dual_since.map(|since| DualEpisode {
            since: since.max(self.connected_since),
            until: self.now,
        })
    }

    pub fn masters(&self) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&i| self.routers[i].state() == Some(State::Master))
            .collect()
    }

    fn note(&mut self, line: String) {
        if self.trace {
            let line = format!("{:>10.3} {line}", self.now.0.as_secs_f64());
            eprintln!("{line}");
            self.log.push(line);
        }
    }
}
