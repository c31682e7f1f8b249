//! The sans-IO VRRP state machine of one instance.
//!
//! Events come in with the current time (`handle_*`), effects go out as [`Action`]s
//! (`poll_action`), and the next deadline is [`Machine::poll_timeout`]. No socket, no clock:
//! the glue in `instance.rs` does the I/O, tests drive a simulated clock.
//!
//! Timers live in one small table keyed by [`Timer`]. Two keepalived deadlines are *not*
//! wake-ups and so are kept as plain fields: the preempt-delay deadline is only compared
//! when a lower-priority advert arrives, and the GARP refresh is checked on each
//! advert tick (keepalived `vrrp_state_master_tx`).
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::clock::Instant;

/// VRRP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Version {
    /// RFC 3768.
    V2,
    /// RFC 5798.
    V3,
}

/// Instance states, plus the STOP pseudo-state used for shutdown notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum State {
    Init,
    Backup,
    Master,
    Fault,
    Stop,
}

impl State {
    /// The upper-case name keepalived uses in notifies and FIFOs.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stop => "STOP",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pure parameters of one instance that the machine needs; the glue maps the config
/// model to this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceConfig {
    /// Instance name, shown in logs as `(NAME)`.
    pub name: String,
    pub vrid: u8,
    pub version: Version,
    /// Configured (base) priority, 1..=255.
    pub priority: u8,
    /// `state MASTER` (explicit or derived from priority 255).
    pub wants_master: bool,
    pub advert_int: Duration,
    pub nopreempt: bool,
    /// Zero means no preempt delay.
    pub preempt_delay: Duration,
    pub accept: bool,
    /// Master-down interval in adverts (default 3).
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub garp_master_delay: Duration,
    pub garp_master_repeat: u32,
    /// Zero means no refresh.
    pub garp_master_refresh: Duration,
    pub garp_master_refresh_repeat: u32,
    pub garp_lower_prio_delay: Duration,
    pub garp_lower_prio_repeat: u32,
    /// `garp_extra_if`: a MASTER's extra GARP period (zero: none).
    pub garp_extra_if: Duration,
    /// Our advert source address, used for the equal-priority tie-break.
    pub src_addr: Option<IpAddr>,
    pub strict: bool,
    /// An IPv6 instance (only for the wording of its FAULT reasons).
    #[serde(default)]
    pub ipv6: bool,
    /// `timer_expired_backup` (keepalived 2.2.8, with `nopreempt`): the highest priority
    /// of the other routers. A MASTER that finds its last advert older than the quickest
    /// takeover by such a router (it was not scheduled in time) reverts to BACKUP instead
    /// of advertising again.
    #[serde(default)]
    pub timer_expired_backup: Option<u8>,
}

impl InstanceConfig {
    /// keepalived's defaults for a named instance.
    pub fn new(name: impl Into<String>, vrid: u8, priority: u8) -> InstanceConfig {
        InstanceConfig {
            name: name.into(),
            vrid,
            version: Version::V2,
            priority,
            wants_master: priority == PRIO_OWNER,
            advert_int: Duration::from_secs(1),
            nopreempt: false,
            preempt_delay: Duration::ZERO,
            accept: true,
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            garp_master_delay: Duration::from_secs(5),
            garp_master_repeat: 5,
            garp_master_refresh: Duration::ZERO,
            garp_master_refresh_repeat: 1,
            garp_extra_if: Duration::ZERO,
            garp_lower_prio_delay: Duration::from_secs(5),
            garp_lower_prio_repeat: 5,
            src_addr: None,
            strict: false,
            ipv6: false,
            timer_expired_backup: None,
        }
    }

    /// Applies the overrides keepalived makes at config time, so the
    /// machine never runs a contradictory combination. Logging them is the config's job.
    pub fn normalized(mut self) -> InstanceConfig {
        if self.priority == 0 {
            self.priority = 1;
        }
        if self.strict {
            self.down_timer_adverts = 3;
            self.lower_prio_no_advert = true;
            self.higher_prio_send_advert = false;
            self.garp_lower_prio_repeat = 0;
            self.garp_lower_prio_delay = Duration::ZERO;
            self.preempt_delay = Duration::ZERO;
        }
        self.down_timer_adverts = self.down_timer_adverts.clamp(1, 100);
        if self.wants_master || self.priority == PRIO_OWNER {
            self.nopreempt = false;
        }
        if self.wants_master || self.nopreempt || self.priority == PRIO_OWNER {
            self.preempt_delay = Duration::ZERO;
        }
        if !self.nopreempt {
            self.timer_expired_backup = None;
        }
        if self.advert_int.is_zero() {
            self.advert_int = Duration::from_secs(1);
        }
        self
    }
}

/// The address owner's priority.
pub const PRIO_OWNER: u8 = 255;

/// A received advertisement, already decoded and validated (checks passed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RxAdvert {
    /// IP source address of the packet.
    pub src: IpAddr,
    pub priority: u8,
    /// The advert's interval (v3: centiseconds field; v2: whole seconds).
    pub adver_int: Duration,
}

/// Why an instance is in FAULT (an unweighted tracker that is down).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FaultCause {
    /// Own or tracked interface down.
    Interface(String),
    /// Weight-0 `vrrp_script` failing.
    Script(String),
    /// Weight-0 `vrrp_script` that has not reported yet: keeps a starting instance in
    /// INIT (keepalived's `num_script_init`), and any other instance down.
    ScriptInit(String),
    /// `track_file` fault.
    File(String),
    /// `vrrp_track_process` fault.
    Process(String),
    /// `track_bfd` down.
    Bfd(String),
    /// Configured source address missing.
    SourceAddress,
    /// `unicast_src_ip` that no interface has: the unicast socket cannot bind it
    /// (keepalived: `(NAME): entering FAULT state (src address not configured)`).
    SourceNotConfigured,
    /// A configuration keepalived cannot run (`unicast_fault_no_peer` without peers):
    /// FAULT for good, without a reason line (keepalived's `num_config_faults`).
    Config,
    /// Anything else (named by the caller).
    Other(String),
}

/// A change of a tracked object, as seen by this instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrackChange {
    /// A weighted tracker's current contribution to the priority (0 = none).
    Weight { tracker: String, value: i32 },
    /// An unweighted tracker going bad (`active`) or recovering.
    Fault { cause: FaultCause, active: bool },
}

/// Every input of the machine as one value, so a run can be recorded as JSON lines and
/// replayed ([`Machine::handle`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    Advert(RxAdvert),
    Timeout,
    Track(TrackChange),
    Shutdown,
    Reload(InstanceConfig),
    /// The instance is gone from the configuration after a reload.
    Removed,
}

/// Effects for the glue to perform, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Send one advertisement with this priority (0 = release).
    SendAdvert { priority: u8 },
    /// Add VIPs, eVIPs, virtual routes and rules (the glue logs `(X) setting VIPs.`).
    AddVips,
    /// Remove VIPs, eVIPs, virtual routes and rules (the glue logs `(X) removing VIPs.`).
    RemoveVips,
    /// Send `repeat` rounds of gratuitous ARPs / unsolicited NAs for every VIP then eVIP.
    SendGarp { repeat: u32 },
    /// `garp_extra_if`: one gratuitous ARP / NA on each interface other than the
    /// instance's own that carries a VIP (keepalived's vrrp_send_vmac_update).
    SendExtraGarp,
    /// Run the notify scripts / FIFO / mail for a state change.
    Notify { state: State, priority: u8 },
    /// A MASTER received a lower-priority advert: `notify_master_rx_lower_pri` and the FIFO
    /// event `MASTER_RX_LOWER_PRI`.
    MasterRxLowerPri,
    /// A MASTER left a lower-priority advert unanswered (log, advert, GARPs, notify): it
    /// answered one less than an advert interval ago. keepalived answers every one, which
    /// turns a flood of them into a multicast flood; the glue counts these.
    LowerPrioUnanswered,
    /// The effective priority changed while MASTER or BACKUP: the FIFO events
    /// `MASTER_PRIORITY` / `BACKUP_PRIORITY` when `notify_priority_changes`.
    PriorityChanged { state: State, priority: u8 },
    /// Removed by a reload: notified as DELETED with `notify_deleted`, otherwise
    /// as FAULT unless the instance was in FAULT already (observed with keepalived 2.2.7).
    Removed { priority: u8, was_fault: bool },
    /// An INFO log line with keepalived's exact wording.
    Log(String),
    /// A line keepalived only logs with `-D` (detailed logging).
    Debug(String),
}

/// The timer table's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Timer {
    /// MASTER: next advertisement.
    Advert,
    /// BACKUP: master-down interval.
    MasterDown,
    /// MASTER: second GARP burst `garp_master_delay` after becoming master.
    GarpDelayed,
    /// MASTER: repeat of the lower-priority GARPs after `garp_lower_prio_delay`.
    GarpLowerPrio,
}

impl Timer {
    const ALL: [Timer; 4] = [
        Timer::MasterDown,
        Timer::Advert,
        Timer::GarpDelayed,
        Timer::GarpLowerPrio,
    ];

    fn index(self) -> usize {
        match self {
            Timer::Advert => 0,
            Timer::MasterDown => 1,
            Timer::GarpDelayed => 2,
            Timer::GarpLowerPrio => 3,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct TimerTable([Option<Instant>; 4]);

impl TimerTable {
    fn set(&mut self, t: Timer, at: Instant) {
        if let Some(slot) = self.0.get_mut(t.index()) {
            *slot = Some(at);
        }
    }
    fn stop(&mut self, t: Timer) {
        if let Some(slot) = self.0.get_mut(t.index()) {
            *slot = None;
        }
    }
    fn get(&self, t: Timer) -> Option<Instant> {
        self.0.get(t.index()).copied().flatten()
    }
    fn clear(&mut self) {
        self.0 = [None; 4];
    }
    fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }
}

/// The state machine of one VRRP instance.
#[derive(Debug, Clone)]
pub struct Machine {
    cfg: InstanceConfig,
    state: State,
    /// keepalived's `wantstate`: a sync-group member whose timer expired wants MASTER but
    /// may be held in BACKUP by its group.
    want: State,
    base_priority: u8,
    effective: u8,
    weights: BTreeMap<String, i32>,
    faults: BTreeSet<FaultCause>,
    master_adver_int: Duration,
    timers: TimerTable,
    /// None: not started; Some(t): lower-priority adverts accepted until t.
    preempt_until: Option<Instant>,
    garp_refresh_due: Option<Instant>,
    /// Next `garp_extra_if` round while MASTER.
    garp_extra_due: Option<Instant>,
    master: Option<(IpAddr, u8)>,
    sync_member: bool,
    /// When we last sent an advert as MASTER (for `timer_expired_backup`).
    last_advert: Option<Instant>,
    /// When we last answered a lower-priority advert (see [`Action::LowerPrioUnanswered`]).
    lower_answered: Option<Instant>,
    actions: VecDeque<Action>,
}

impl Machine {
    /// Starts an instance with no tracked object in trouble (startup).
    pub fn new(cfg: InstanceConfig, now: Instant) -> Machine {
        Machine::start(cfg, Vec::new(), now)
    }

    /// Starts an instance after the initial tracking evaluation (startup).
    pub fn start(
        cfg: InstanceConfig,
        initial: impl IntoIterator<Item = TrackChange>,
        now: Instant,
    ) -> Machine {
        let cfg = cfg.normalized();
        let mut m = Machine {
            state: State::Init,
            want: State::Backup,
            base_priority: cfg.priority,
            effective: cfg.priority,
            weights: BTreeMap::new(),
            faults: BTreeSet::new(),
            master_adver_int: cfg.advert_int,
            timers: TimerTable::default(),
            preempt_until: None,
            garp_refresh_due: None,
            garp_extra_due: None,
            master: None,
            sync_member: false,
            last_advert: None,
            lower_answered: None,
            actions: VecDeque::new(),
            cfg,
        };
        for change in initial {
            m.apply_track(change);
        }
        m.effective = m.compute_effective();
        if m.effective != m.base_priority {
            // keepalived 2.2.7 logs the initial tracker weights too (observed, track_file).
            let (base, eff) = (m.base_priority, m.effective);
            m.log(format!("Changing effective priority from {base} to {eff}"));
        }
        let only_pending = m
            .faults
            .iter()
            .all(|c| matches!(c, FaultCause::ScriptInit(_)));
        // Only weight-0 scripts not yet reported: held in INIT instead (below).
        let held = m.script_pending() && only_pending;
        let faulted = !m.faults.is_empty() && !held;
        // Only the unicast source missing: keepalived finds it when it opens the socket,
        // after the start-up lines, and logs it as a fault of a running instance.
        let src_only = m
            .faults
            .iter()
            .all(|c| matches!(c, FaultCause::SourceNotConfigured | FaultCause::Config))
            && m.faults.contains(&FaultCause::SourceNotConfigured);
        if faulted && src_only {
            let line = format!(
                "({}): entering FAULT state (src address not configured)",
                m.cfg.name
            );
            m.push(Action::Log(line));
            m.log("Entering FAULT STATE");
        } else if faulted {
            // Observed with keepalived 2.2.7: before the VIP clean-up, the cause (an
            // interface's, a missing address; trackers' lines come from vrrp::tracking),
            // then the state. A configuration fault alone logs neither.
            // One line per interface down (own, tracked), as keepalived logs each.
            let down: Vec<String> = m
                .faults
                .iter()
                .filter_map(|c| match c {
                    FaultCause::Interface(i) => Some(i.clone()),
                    _ => None,
                })
                .collect();
            for i in down {
                let line = format!(
                    "({}): entering FAULT state (interface {i} down)",
                    m.cfg.name
                );
                m.push(Action::Log(line));
            }
            if m.faults.contains(&FaultCause::SourceAddress) {
                let v = if m.cfg.ipv6 { 6 } else { 4 };
                m.log(format!(
                    "entering FAULT state (no IPv{v} address for interface)"
                ));
            }
            if m.faults.iter().any(|c| *c != FaultCause::Config) {
                m.log("entering FAULT state");
            }
        }
        // Clean up VIPs a crashed predecessor may have left behind.
        m.push(Action::RemoveVips);
        if held {
            // Observed with keepalived 2.2.7: no log and no notify until the weight-0
            // scripts have reported (then `Entering BACKUP STATE`, or FAULT silently).
            m.want = State::Init;
        } else if faulted {
            m.state = State::Fault;
            m.want = State::Fault;
            m.notify();
        } else if m.is_owner() {
            // keepalived arms a 1 µs down timer: MASTER at the next timeout, and only if
            // the sync group agrees.
            m.state = State::Backup;
            m.want = State::Backup;
            m.timers.set(Timer::MasterDown, now);
        } else {
            m.log("Entering BACKUP STATE (init)");
            m.state = State::Backup;
            m.want = State::Backup;
            m.arm_down_timer(now);
            m.notify();
        }
        m
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// keepalived's `wantstate`.
    pub fn want_state(&self) -> State {
        self.want
    }

    /// (state, wantstate) as keepalived's dumps show them: an instance held until its
    /// weight-0 scripts report is in FAULT there (silently), wanting BACKUP.
    pub fn reported_states(&self) -> (State, State) {
        if self.state == State::Init && self.script_pending() {
            (State::Fault, State::Backup)
        } else {
            (self.state, self.want)
        }
    }

    pub fn effective_priority(&self) -> u8 {
        self.effective
    }

    pub fn config(&self) -> &InstanceConfig {
        &self.cfg
    }

    /// Interval learnt from the current master (v3), else the configured one.
    pub fn master_adver_int(&self) -> Duration {
        self.master_adver_int
    }

    /// The last master heard from (address, priority), if any.
    pub fn master(&self) -> Option<(IpAddr, u8)> {
        self.master
    }

    /// Whether any fault cause is present.
    pub fn has_fault(&self) -> bool {
        !self.faults.is_empty()
    }

    /// The deadline of one timer (for tests and the status dump).
    pub fn timer(&self, t: Timer) -> Option<Instant> {
        self.timers.get(t)
    }

    /// The next instant at which [`Machine::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The next effect to perform.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Skew time: v2 (256-prio)/256 s, v3 (256-prio)*master_adver_int/256.
    pub fn skew(&self) -> Duration {
        self.skew_for(self.effective)
    }

    fn skew_for(&self, prio: u8) -> Duration {
        let factor = 256 - u32::from(prio);
        match self.cfg.version {
            Version::V2 => Duration::from_micros(u64::from(factor) * 1_000_000 / 256),
            Version::V3 => self.master_adver_int * factor / 256,
        }
    }

    /// Master-down interval: down_timer_adverts × master_adver_int + skew.
    pub fn master_down_interval(&self) -> Duration {
        self.master_adver_int * self.cfg.down_timer_adverts + self.skew()
    }

    /// Dispatches a recorded input to the matching `handle_*` verb.
    pub fn handle(&mut self, now: Instant, input: Input) {
        match input {
            Input::Advert(a) => self.handle_advert(now, a),
            Input::Timeout => self.handle_timeout(now),
            Input::Track(c) => self.handle_track(now, c),
            Input::Shutdown => self.handle_shutdown(now),
            Input::Reload(cfg) => self.handle_reload(now, cfg),
            Input::Removed => self.handle_removed(now),
        }
    }

    /// Fires every timer whose deadline is at or before `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_timer_expired(now);
        for t in Timer::ALL {
            match self.timers.get(t) {
                Some(at) if at <= now => {
                    self.timers.stop(t);
                    self.fire(now, t);
                }
                _ => {}
            }
        }
    }

    fn fire(&mut self, now: Instant, t: Timer) {
        match (t, self.state) {
            (Timer::MasterDown, State::Backup) => {
                self.debug("Receive advertisement timeout");
                self.want = State::Master;
                if self.sync_member {
                    // The group decides; re-arm so we check again if it says no
                    // (keepalived vrrp_sync_can_goto_master).
                    self.arm_down_timer(now);
                } else {
                    self.goto_master(now);
                }
            }
            (Timer::Advert, State::Master) => {
                self.last_advert = Some(now);
                self.push(Action::SendAdvert {
                    priority: self.effective,
                });
                if let Some(due) = self.garp_refresh_due {
                    if now >= due {
                        self.push(Action::SendGarp {
                            repeat: self.cfg.garp_master_refresh_repeat,
                        });
                        self.garp_refresh_due = Some(now + self.cfg.garp_master_refresh);
                    }
                }
                // keepalived checks the extra GARP timer on each advert, as the refresh.
                if let Some(due) = self.garp_extra_due {
                    if now > due {
                        self.push(Action::SendExtraGarp);
                        self.garp_extra_due = Some(now + self.cfg.garp_extra_if);
                    }
                }
                self.timers.set(Timer::Advert, now + self.cfg.advert_int);
            }
            (Timer::GarpDelayed, State::Master) => self.push(Action::SendGarp {
                repeat: self.cfg.garp_master_repeat,
            }),
            (Timer::GarpLowerPrio, State::Master) => self.push(Action::SendGarp {
                repeat: self.cfg.garp_lower_prio_repeat,
            }),
            // A timer left over from a state we have left: nothing to do.
            _ => {}
        }
    }

    /// `timer_expired_backup` (keepalived 2.2.8 vrrp.c `vrrp_thread_timeout_handler`): a
    /// MASTER whose last advert is older than 3 advert intervals plus the skew of the
    /// highest other priority was not scheduled in time, so another router has probably
    /// taken over; it goes BACKUP without another advert. Checked before timers and
    /// adverts, as keepalived does before running the late threads.
    fn check_timer_expired(&mut self, now: Instant) {
        let (Some(other), Some(sent), State::Master) =
            (self.cfg.timer_expired_backup, self.last_advert, self.state)
        else {
            return;
        };
        let factor = 256 - u32::from(other);
        let skew = match self.cfg.version {
            Version::V2 => Duration::from_micros(u64::from(factor) * 1_000_000 / 256),
            Version::V3 => self.cfg.advert_int * factor / 256,
        };
        if now < sent + self.cfg.advert_int * 3 + skew {
            return;
        }
        // how late the advert timer is, as keepalived reports its late thread
        let late = now.saturating_since(sent + self.cfg.advert_int);
        self.push(Action::Log(format!(
            "VRRP thread timer expired {}.{:06} seconds ago",
            late.as_secs(),
            late.subsec_micros()
        )));
        self.leave_master_to_backup(now, true);
    }

    /// Processes a validated advertisement.
    pub fn handle_advert(&mut self, now: Instant, adv: RxAdvert) {
        self.check_timer_expired(now);
        match self.state {
            State::Backup => self.backup_rx(now, adv),
            State::Master => self.master_rx(now, adv),
            // FAULT and INIT ignore adverts silently.
            State::Init | State::Fault | State::Stop => {}
        }
    }

    fn backup_rx(&mut self, now: Instant, adv: RxAdvert) {
        let preempt_delay = !self.cfg.preempt_delay.is_zero();
        if adv.priority == 0 {
            self.debug("Backup received priority 0 advertisement");
            self.timers.set(Timer::MasterDown, now + self.skew());
        } else if self.cfg.nopreempt
            || adv.priority >= self.effective
            || (preempt_delay && self.preempt_until.map_or(true, |t| t > now))
        {
            if self.cfg.version == Version::V3 && !adv.adver_int.is_zero() {
                self.master_adver_int = adv.adver_int;
            }
            self.master = Some((adv.src, adv.priority));
            if preempt_delay {
                if adv.priority >= self.effective {
                    self.preempt_until = None;
                } else if self.preempt_until.is_none() {
                    self.preempt_until = Some(now + self.cfg.preempt_delay);
                }
            }
            self.arm_down_timer(now);
            // Held in BACKUP by a sync group, we wanted MASTER; a master is back.
            self.want = State::Backup;
        } else {
            self.log(format!(
                "received lower priority ({}) advert from {} - discarding",
                adv.priority, adv.src
            ));
            // The down timer keeps running: that is how preemption happens.
        }
    }

    fn master_rx(&mut self, now: Instant, adv: RxAdvert) {
        let cmp = self.addr_cmp(adv.src);
        let higher = adv.priority > self.effective
            || (adv.priority == self.effective && cmp == std::cmp::Ordering::Greater);
        if adv.priority == 0 || (self.cfg.higher_prio_send_advert && higher) {
            self.last_advert = Some(now);
            self.push(Action::SendAdvert {
                priority: self.effective,
            });
            if adv.priority == 0 {
                self.debug("Master received priority 0 message");
                return;
            }
        }
        if adv.priority == self.effective {
            if cmp == std::cmp::Ordering::Equal {
                self.log("WARNING - equal priority advert received from remote host with our IP address.");
            } else if self.effective == PRIO_OWNER {
                self.log("CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority");
                self.effective = PRIO_OWNER - 1;
                self.base_priority = PRIO_OWNER - 1;
            }
        }
        let lower = adv.priority < self.effective
            || (adv.priority == self.effective && cmp == std::cmp::Ordering::Less);
        if lower {
            // One answer per advert interval: the sender hears our regular adverts anyway.
            if self
                .lower_answered
                .is_some_and(|t| now < t + self.cfg.advert_int)
            {
                self.push(Action::LowerPrioUnanswered);
                return;
            }
            self.lower_answered = Some(now);
            let suffix = if self.cfg.lower_prio_no_advert {
                ""
            } else {
                ", forcing new election"
            };
            self.log(format!(
                "Received advert from {} with lower priority {}, ours {}{}",
                adv.src, adv.priority, self.effective, suffix
            ));
            if !self.cfg.lower_prio_no_advert {
                self.last_advert = Some(now);
                self.push(Action::SendAdvert {
                    priority: self.effective,
                });
            }
            self.send_lower_prio_garps(now);
            self.push(Action::MasterRxLowerPri);
            return;
        }
        let higher = adv.priority > self.effective
            || (adv.priority == self.effective && cmp == std::cmp::Ordering::Greater);
        if higher {
            if adv.priority > self.effective {
                self.log(format!(
                    "Master received advert from {} with higher priority {}, ours {}",
                    adv.src, adv.priority, self.effective
                ));
            } else {
                self.log(format!(
                    "Master received advert from {} with same priority {} but higher IP address than ours",
                    adv.src, adv.priority
                ));
            }
            if self.cfg.version == Version::V3 && !adv.adver_int.is_zero() {
                self.master_adver_int = adv.adver_int;
            }
            self.master = Some((adv.src, adv.priority));
            self.leave_master_to_backup(now, true);
        }
    }

    /// The lower-priority GARPs of a MASTER; a sync group also calls this on the
    /// siblings of a member that received a lower-priority advert.
    pub fn send_lower_prio_garps(&mut self, now: Instant) {
        if self.state != State::Master || self.cfg.garp_lower_prio_repeat == 0 {
            return;
        }
        self.push(Action::SendGarp {
            repeat: self.cfg.garp_lower_prio_repeat,
        });
        if !self.cfg.garp_lower_prio_delay.is_zero() {
            self.timers
                .set(Timer::GarpLowerPrio, now + self.cfg.garp_lower_prio_delay);
        }
    }

    /// A tracked object changed: a weight contribution, or a fault cause on/off.
    pub fn handle_track(&mut self, now: Instant, change: TrackChange) {
        if self.state == State::Stop {
            return;
        }
        let had_fault = !self.faults.is_empty();
        // A configuration fault comes and goes with a reload: keepalived logs no FAULT line
        // and re-initialises the instance when it goes (observed).
        let config = matches!(
            &change,
            TrackChange::Fault {
                cause: FaultCause::Config,
                ..
            }
        );
        let fault_line = match &change {
            TrackChange::Fault {
                cause,
                active: true,
            } if !self.faults.contains(cause) => fault_log_line(cause),
            _ => None,
        };
        self.apply_track(change);
        self.update_priority(now, true);
        let has_fault = !self.faults.is_empty();
        if !had_fault && has_fault && matches!(self.state, State::Backup | State::Master) {
            if let Some(line) = fault_line {
                // keepalived writes these with a colon: `(X): entering FAULT state ...`.
                let line = format!("({}): {}", self.cfg.name, line);
                self.push(Action::Log(line));
            }
            self.goto_fault_logged(now, true, !config);
        } else if had_fault && !has_fault && self.state == State::Fault {
            self.leave_fault_with(now, true, if config { " (init)" } else { "" });
        } else if self.state == State::Init && !self.script_pending() {
            if has_fault {
                self.state = State::Fault;
                self.want = State::Fault;
                self.notify();
            } else {
                self.leave_fault(now, true);
            }
        }
    }

    /// A weight-0 script has not reported yet.
    fn script_pending(&self) -> bool {
        self.faults
            .iter()
            .any(|c| matches!(c, FaultCause::ScriptInit(_)))
    }

    fn apply_track(&mut self, change: TrackChange) {
        match change {
            TrackChange::Weight { tracker, value } => {
                if value == 0 {
                    self.weights.remove(&tracker);
                } else {
                    self.weights.insert(tracker, value);
                }
            }
            TrackChange::Fault { cause, active } => {
                if active {
                    self.faults.insert(cause);
                } else {
                    self.faults.remove(&cause);
                }
            }
        }
    }

    fn compute_effective(&self) -> u8 {
        if self.base_priority == PRIO_OWNER {
            return PRIO_OWNER;
        }
        let sum: i64 = self.weights.values().map(|&w| i64::from(w)).sum();
        let p = (i64::from(self.base_priority) + sum).clamp(1, i64::from(PRIO_OWNER - 1));
        u8::try_from(p).unwrap_or(PRIO_OWNER - 1)
    }

    fn update_priority(&mut self, now: Instant, report: bool) {
        let new = self.compute_effective();
        if new == self.effective {
            return;
        }
        let old = self.effective;
        self.log(format!("Changing effective priority from {old} to {new}"));
        let old_skew = self.skew_for(old);
        self.effective = new;
        if report && matches!(self.state, State::Master | State::Backup) {
            self.push(Action::PriorityChanged {
                state: self.state,
                priority: new,
            });
        }
        // A BACKUP's running timer moves by the skew difference.
        if self.state == State::Backup {
            if let Some(at) = self.timers.get(Timer::MasterDown) {
                let new_skew = self.skew_for(new);
                let at = if new_skew >= old_skew {
                    at + (new_skew - old_skew)
                } else {
                    at - (old_skew - new_skew)
                };
                self.timers.set(Timer::MasterDown, at.max(now));
            }
        }
    }

    /// Shutdown: a MASTER releases with priority 0 and removes its VIPs; every
    /// instance notifies STOP.
    pub fn handle_shutdown(&mut self, _now: Instant) {
        if self.state == State::Stop {
            return;
        }
        self.release();
        self.notify();
    }

    /// Leaves for STOP: a MASTER sends priority 0 and removes its VIPs; timers stop.
    fn release(&mut self) {
        if self.state == State::Master {
            self.push(Action::SendAdvert { priority: 0 });
            self.debug("sent 0 priority");
            self.push(Action::RemoveVips);
        }
        self.timers.clear();
        self.state = State::Stop;
        self.want = State::Stop;
    }

    /// Removal by a reload: a MASTER releases with priority 0 and removes its VIPs,
    /// as at shutdown, but the notification is [`Action::Removed`] (FAULT or DELETED).
    pub fn handle_removed(&mut self, _now: Instant) {
        if self.state == State::Stop {
            return;
        }
        let was_fault = self.state == State::Fault;
        self.release();
        self.push(Action::Removed {
            priority: self.effective,
            was_fault,
        });
    }

    /// Reload with the matched instance's new parameters: the state is kept, a
    /// MASTER advertises once before and re-asserts its VIPs after; a priority change is
    /// applied like a tracker change.
    pub fn handle_reload(&mut self, now: Instant, cfg: InstanceConfig) {
        if self.state == State::Stop {
            return;
        }
        let cfg = cfg.normalized();
        if self.state == State::Master {
            self.push(Action::SendAdvert {
                priority: self.effective,
            });
        }
        let int_changed = cfg.advert_int != self.cfg.advert_int;
        self.base_priority = cfg.priority;
        self.cfg = cfg;
        if int_changed && (self.cfg.version == Version::V2 || self.state != State::Backup) {
            self.master_adver_int = self.cfg.advert_int;
        }
        if self.cfg.preempt_delay.is_zero() {
            self.preempt_until = None;
        }
        if self.cfg.garp_master_refresh.is_zero() {
            self.garp_refresh_due = None;
        } else if self.state == State::Master && self.garp_refresh_due.is_none() {
            self.garp_refresh_due = Some(now + self.cfg.garp_master_refresh);
        }
        if self.cfg.garp_extra_if.is_zero() {
            self.garp_extra_due = None;
        } else if self.state == State::Master && self.garp_extra_due.is_none() {
            self.garp_extra_due = Some(now + self.cfg.garp_extra_if);
        }
        // Observed: a priority changed by reload is not reported on the FIFO.
        self.update_priority(now, false);
        if self.state == State::Master {
            self.push(Action::AddVips);
            if int_changed {
                self.timers.set(Timer::Advert, now + self.cfg.advert_int);
            }
        }
    }

    /// A manager's new base priority (SNMP set of vrrpInstanceBasePriority): the tracked
    /// weights stay, the effective priority follows, as keepalived does.
    pub fn set_base_priority(&mut self, now: Instant, priority: u8) {
        if self.state == State::Stop {
            return;
        }
        self.base_priority = priority;
        self.cfg.priority = priority;
        self.update_priority(now, true);
    }

    /// A manager's preemption switch (SNMP set of vrrpInstancePreempt).
    pub fn set_preempt(&mut self, preempt: bool) {
        self.cfg.nopreempt = !preempt;
    }

    // ---- transitions (used by the sync group too) ----

    /// MASTER transition: advert first so the old master drops its VIPs before our
    /// GARPs, then VIPs, GARP burst now and after `garp_master_delay`, notifies.
    fn goto_master(&mut self, now: Instant) {
        self.goto_master_inner(now, true);
    }

    fn goto_master_inner(&mut self, now: Instant, notify: bool) {
        self.last_advert = Some(now);
        self.push(Action::SendAdvert {
            priority: self.effective,
        });
        self.log("Entering MASTER STATE");
        self.push(Action::AddVips);
        self.push(Action::SendGarp {
            repeat: self.cfg.garp_master_repeat,
        });
        self.timers.clear();
        if !self.cfg.garp_master_delay.is_zero() {
            self.timers
                .set(Timer::GarpDelayed, now + self.cfg.garp_master_delay);
        }
        self.garp_refresh_due = if self.cfg.garp_master_refresh.is_zero() {
            None
        } else {
            Some(now + self.cfg.garp_master_refresh)
        };
        self.garp_extra_due = if self.cfg.garp_extra_if.is_zero() {
            None
        } else {
            Some(now + self.cfg.garp_extra_if)
        };
        self.timers.set(Timer::Advert, now + self.cfg.advert_int);
        self.state = State::Master;
        self.want = State::Master;
        self.master = None;
        if notify {
            self.notify();
        }
    }

    fn leave_master_to_backup(&mut self, now: Instant, notify: bool) {
        self.log("Entering BACKUP STATE");
        self.push(Action::RemoveVips);
        self.enter_backup(now, notify);
    }

    fn enter_backup(&mut self, now: Instant, notify: bool) {
        self.timers.clear();
        self.garp_refresh_due = None;
        self.garp_extra_due = None;
        self.preempt_until = None;
        self.state = State::Backup;
        self.want = State::Backup;
        self.arm_down_timer(now);
        if notify {
            self.notify();
        }
    }

    /// A member of a sync group that starts in FAULT follows it at start-up, with
    /// keepalived's start-up line (vrrp.c, `(NAME) entering FAULT state`) and notify.
    pub fn fault_at_start(&mut self) {
        if self.state == State::Fault {
            return;
        }
        self.log("entering FAULT state");
        self.timers.clear();
        self.garp_refresh_due = None;
        self.master = None;
        self.state = State::Fault;
        self.want = State::Fault;
        self.notify();
    }

    fn goto_fault(&mut self, now: Instant, notify: bool) {
        self.goto_fault_logged(now, notify, true);
    }

    fn goto_fault_logged(&mut self, _now: Instant, notify: bool, log: bool) {
        if log {
            self.log("Entering FAULT STATE");
        }
        if self.state == State::Master {
            self.push(Action::SendAdvert { priority: 0 });
            self.debug("sent 0 priority");
            self.push(Action::RemoveVips);
        }
        self.timers.clear();
        self.garp_refresh_due = None;
        self.garp_extra_due = None;
        self.master = None;
        self.state = State::Fault;
        self.want = State::Fault;
        if notify {
            self.notify();
        }
    }

    /// Leaving FAULT: BACKUP with a full down timer, or MASTER for an address owner
    /// that wants MASTER (keepalived `vrrp_state_leave_fault`).
    fn leave_fault(&mut self, now: Instant, notify: bool) {
        self.leave_fault_with(now, notify, "");
    }

    /// [`Machine::leave_fault`], with `suffix` after `Entering BACKUP STATE`.
    fn leave_fault_with(&mut self, now: Instant, notify: bool, suffix: &str) {
        self.master_adver_int = self.cfg.advert_int;
        if self.is_owner() && !self.sync_member {
            self.goto_master_inner(now, notify);
        } else {
            self.log(format!("Entering BACKUP STATE{suffix}"));
            self.enter_backup(now, notify);
            if self.is_owner() {
                self.timers.set(Timer::MasterDown, now);
            }
        }
    }

    fn is_owner(&self) -> bool {
        self.cfg.wants_master && self.base_priority == PRIO_OWNER
    }

    /// Marks this machine as a sync-group member: its master-down expiry only records that
    /// it wants MASTER, the group makes the transition.
    pub fn set_sync_member(&mut self, member: bool) {
        self.sync_member = member;
    }

    /// Moves to `target` on behalf of a sync group. `notify` is false when the instance
    /// merely follows its group. Returns whether the state changed.
    pub fn sync_to(&mut self, now: Instant, target: State, notify: bool) -> bool {
        if self.state == target || matches!(self.state, State::Stop | State::Init) {
            return false;
        }
        match target {
            State::Master => {
                // A member with its own fault stays in FAULT.
                if self.state == State::Fault && !self.faults.is_empty() {
                    return false;
                }
                self.goto_master_inner(now, notify);
            }
            State::Backup => match self.state {
                State::Master => self.leave_master_to_backup(now, notify),
                State::Fault if self.faults.is_empty() => {
                    self.master_adver_int = self.cfg.advert_int;
                    self.log("Entering BACKUP STATE");
                    self.enter_backup(now, notify);
                }
                _ => return false,
            },
            State::Fault => self.goto_fault(now, notify),
            State::Init | State::Stop => return false,
        }
        true
    }

    fn arm_down_timer(&mut self, now: Instant) {
        self.timers
            .set(Timer::MasterDown, now + self.master_down_interval());
    }

    /// Numeric comparison of the sender's address with ours; unknown or other
    /// family compares equal, as keepalived's `vrrp_saddr_cmp`.
    fn addr_cmp(&self, other: IpAddr) -> std::cmp::Ordering {
        match (other, self.cfg.src_addr) {
            (IpAddr::V4(a), Some(IpAddr::V4(b))) => u32::from(a).cmp(&u32::from(b)),
            (IpAddr::V6(a), Some(IpAddr::V6(b))) => u128::from(a).cmp(&u128::from(b)),
            _ => std::cmp::Ordering::Equal,
        }
    }

    fn notify(&mut self) {
        self.push(Action::Notify {
            state: self.state,
            priority: self.effective,
        });
    }

    fn push(&mut self, a: Action) {
        self.actions.push_back(a);
    }

    fn log(&mut self, line: impl fmt::Display) {
        let line = format!("({}) {}", self.cfg.name, line);
        self.push(Action::Log(line));
    }

    fn debug(&mut self, line: impl fmt::Display) {
        let line = format!("({}) {}", self.cfg.name, line);
        self.push(Action::Debug(line));
    }
}

/// The line keepalived logs when a tracker faults a running instance. Scripts, files,
/// processes and BFD sessions only go through `down_instance` (no cause line; keepalived
/// 2.2.7 logs one only at start-up, which `vrrp::tracking` does; for BFD, observed:
/// `Tracked BFD instance peerB is DOWN`, then `Entering FAULT STATE`); so do interfaces,
/// own or tracked (observed: `Netlink reports eth1 down`, then `Entering FAULT STATE`).
fn fault_log_line(cause: &FaultCause) -> Option<String> {
    Some(match cause {
        FaultCause::Interface(_)
        | FaultCause::Script(_)
        | FaultCause::ScriptInit(_)
        | FaultCause::File(_)
        | FaultCause::Process(_)
        | FaultCause::Bfd(_)
        | FaultCause::Config
        | FaultCause::SourceNotConfigured => return None,
        FaultCause::SourceAddress => "entering FAULT state (src address deleted)".to_string(),
        FaultCause::Other(s) => format!("entering FAULT state ({s})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ms(n: u64) -> Instant {
        Instant(Duration::from_millis(n))
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    fn cfg(prio: u8) -> InstanceConfig {
        let mut c = InstanceConfig::new("VI_1", 51, prio);
        c.src_addr = Some(ip(10));
        c
    }

    fn adv(last: u8, priority: u8) -> RxAdvert {
        RxAdvert {
            src: ip(last),
            priority,
            adver_int: Duration::from_secs(1),
        }
    }

    fn drain(m: &mut Machine) -> Vec<Action> {
        std::iter::from_fn(|| m.poll_action()).collect()
    }

    fn logs(actions: &[Action]) -> Vec<String> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Log(l) => Some(l.clone()),
                _ => None,
            })
            .collect()
    }

    fn log(s: &str) -> Action {
        Action::Log(s.to_string())
    }

    /// A BACKUP with priority `prio` that became MASTER at t=10 s, actions drained.
    fn master(c: InstanceConfig) -> Machine {
        let mut m = Machine::new(c, Instant::ZERO);
        m.handle_timeout(ms(10_000));
        assert_eq!(m.state(), State::Master);
        drain(&mut m);
        m
    }

    #[test]
    fn priority_changes_are_reported_in_master_and_backup_only() {
        let w = |v| TrackChange::Weight {
            tracker: "chk".into(),
            value: v,
        };
        let mut m = master(cfg(100));
        m.handle_track(ms(10_100), w(10));
        let a = drain(&mut m);
        assert!(a.contains(&Action::PriorityChanged {
            state: State::Master,
            priority: 110
        }));
        // No change, no event.
        m.handle_track(ms(10_200), w(10));
        assert!(drain(&mut m).is_empty());
        let mut b = Machine::new(cfg(100), Instant::ZERO);
        drain(&mut b);
        b.handle_track(ms(100), w(-20));
        assert!(drain(&mut b).contains(&Action::PriorityChanged {
            state: State::Backup,
            priority: 80
        }));
        let fault = TrackChange::Fault {
            cause: FaultCause::Script("x".into()),
            active: true,
        };
        b.handle_track(ms(200), fault);
        drain(&mut b);
        b.handle_track(ms(300), w(5));
        assert!(!drain(&mut b)
            .iter()
            .any(|a| matches!(a, Action::PriorityChanged { .. })));
    }

    #[test]
    fn removal_releases_a_master_and_reports_the_previous_fault() {
        let mut m = master(cfg(100));
        m.handle(ms(10_500), Input::Removed);
        assert_eq!(
            drain(&mut m),
            vec![
                Action::SendAdvert { priority: 0 },
                Action::Debug("(VI_1) sent 0 priority".into()),
                Action::RemoveVips,
                Action::Removed {
                    priority: 100,
                    was_fault: false
                },
            ]
        );
        assert_eq!(m.state(), State::Stop);
        assert_eq!(m.poll_timeout(), None);
        m.handle_removed(ms(10_600));
        assert!(drain(&mut m).is_empty());
        let mut f = Machine::start(
            cfg(100),
            [TrackChange::Fault {
                cause: FaultCause::Interface("eth0".into()),
                active: true,
            }],
            Instant::ZERO,
        );
        drain(&mut f);
        f.handle_removed(ms(5));
        assert_eq!(
            drain(&mut f),
            vec![Action::Removed {
                priority: 100,
                was_fault: true
            }]
        );
    }

    #[test]
    fn weight0_script_holds_init_until_it_reports() {
        let pending = |active| TrackChange::Fault {
            cause: FaultCause::ScriptInit("chk".into()),
            active,
        };
        // Success: INIT, then `Entering BACKUP STATE` (no "(init)") and its notify.
        let mut m = Machine::start(cfg(100), [pending(true)], Instant::ZERO);
        assert_eq!(m.state(), State::Init);
        assert_eq!(drain(&mut m), vec![Action::RemoveVips]);
        assert_eq!(m.poll_timeout(), None);
        m.handle_advert(ms(500), adv(2, 200));
        assert!(!m.sync_to(ms(600), State::Master, true));
        assert!(drain(&mut m).is_empty());
        m.handle_track(ms(2_000), pending(false));
        assert_eq!(m.state(), State::Backup);
        assert_eq!(
            drain(&mut m),
            vec![
                log("(VI_1) Entering BACKUP STATE"),
                Action::Notify {
                    state: State::Backup,
                    priority: 100
                },
            ]
        );
        assert_eq!(m.poll_timeout(), Some(ms(2_000) + m.master_down_interval()));
        // Failure: the script's fault comes first, then FAULT without a log line.
        let mut f = Machine::start(cfg(100), [pending(true)], Instant::ZERO);
        drain(&mut f);
        f.handle_track(
            ms(2_000),
            TrackChange::Fault {
                cause: FaultCause::Script("chk".into()),
                active: true,
            },
        );
        assert_eq!(f.state(), State::Init);
        f.handle_track(ms(2_000), pending(false));
        assert_eq!(f.state(), State::Fault);
        assert_eq!(
            drain(&mut f),
            vec![Action::Notify {
                state: State::Fault,
                priority: 100
            }]
        );
        // Another fault at start still gives FAULT at once.
        let down = TrackChange::Fault {
            cause: FaultCause::Interface("eth0".into()),
            active: true,
        };
        let mut i = Machine::start(cfg(100), [pending(true), down], Instant::ZERO);
        assert_eq!(i.state(), State::Fault);
        assert!(logs(&drain(&mut i)).contains(&"(VI_1) entering FAULT state".to_string()));
    }

    /// keepalived 2.2.8's `timer_expired_backup`: a MASTER scheduled too late to have kept
    /// the role goes BACKUP silently; on time, or without `nopreempt`, nothing changes.
    #[test]
    fn timer_expired_backup_reverts_a_late_master() {
        let mut c = cfg(150);
        c.nopreempt = true;
        c.timer_expired_backup = Some(254);
        let mut m = master(c.clone());
        // on time: an advert at 11 s
        m.handle_timeout(ms(11_000));
        assert_eq!(drain(&mut m), vec![Action::SendAdvert { priority: 150 }]);
        // the next one due at 12 s runs at 14.5 s: later than 11 + 3 + 2/256 s
        m.handle_timeout(ms(14_500));
        let a = drain(&mut m);
        assert_eq!(
            a,
            vec![
                log("VRRP thread timer expired 2.500000 seconds ago"),
                log("(VI_1) Entering BACKUP STATE"),
                Action::RemoveVips,
                Action::Notify {
                    state: State::Backup,
                    priority: 150
                },
            ],
            "{a:?}"
        );
        assert_eq!(m.state(), State::Backup);
        // a lower-priority master heard meanwhile is kept (nopreempt)
        m.handle_advert(ms(14_600), adv(20, 100));
        assert_eq!(m.state(), State::Backup);

        // a late advert received first has the same effect
        let mut m = master(c.clone());
        m.handle_advert(ms(14_500), adv(20, 100));
        assert_eq!(m.state(), State::Backup);

        // 2.9 s after the last advert is too soon for another router to have taken over
        let mut m = master(c.clone());
        m.handle_timeout(ms(12_900));
        assert_eq!(drain(&mut m), vec![Action::SendAdvert { priority: 150 }]);
        assert_eq!(m.state(), State::Master);

        // without nopreempt the keyword has no effect (keepalived resets it)
        c.nopreempt = false;
        let mut m = master(c);
        m.handle_timeout(ms(20_000));
        assert_eq!(m.state(), State::Master);
    }

    #[test]
    fn skew_and_down_interval_v2() {
        let m = Machine::new(cfg(150), Instant::ZERO);
        // (256-150)/256 s = 414.0625 ms; observed takeover 3.41 s.
        assert_eq!(m.skew(), Duration::from_micros(414_062));
        assert_eq!(m.master_down_interval(), Duration::from_micros(3_414_062));
        let m = Machine::new(cfg(90), Instant::ZERO);
        assert_eq!(m.skew(), Duration::from_micros(648_437));
    }

    #[test]
    fn skew_v3_scales_with_master_interval() {
        let mut c = cfg(100);
        c.version = Version::V3;
        c.advert_int = Duration::from_millis(500);
        let mut m = Machine::new(c, Instant::ZERO);
        assert_eq!(m.skew(), Duration::from_millis(500) * 156 / 256);
        // The backup adopts the master's interval (RFC 5798).
        m.handle_advert(
            ms(100),
            RxAdvert {
                src: ip(2),
                priority: 200,
                adver_int: Duration::from_secs(2),
            },
        );
        assert_eq!(m.master_adver_int(), Duration::from_secs(2));
        let down = Duration::from_secs(6) + Duration::from_secs(2) * 156 / 256;
        assert_eq!(m.poll_timeout(), Some(ms(100) + down));
    }

    #[test]
    fn startup_backup_init() {
        let mut m = Machine::new(cfg(100), ms(5));
        assert_eq!(m.state(), State::Backup);
        assert_eq!(
            drain(&mut m),
            vec![
                Action::RemoveVips,
                log("(VI_1) Entering BACKUP STATE (init)"),
                Action::Notify {
                    state: State::Backup,
                    priority: 100
                },
            ]
        );
        assert_eq!(m.poll_timeout(), Some(ms(5) + m.master_down_interval()));
    }

    #[test]
    fn state_master_below_255_still_starts_backup() {
        let mut c = cfg(200);
        c.wants_master = true;
        let m = Machine::new(c, Instant::ZERO);
        assert_eq!(m.state(), State::Backup);
        assert_eq!(
            m.poll_timeout(),
            Some(Instant::ZERO + m.master_down_interval())
        );
    }

    #[test]
    fn address_owner_goes_master_at_once() {
        let mut m = Machine::new(cfg(255), ms(7));
        assert_eq!(drain(&mut m), vec![Action::RemoveVips]);
        assert_eq!(m.poll_timeout(), Some(ms(7)));
        m.handle_timeout(ms(7));
        assert_eq!(
            drain(&mut m),
            vec![
                Action::Debug("(VI_1) Receive advertisement timeout".into()),
                Action::SendAdvert { priority: 255 },
                log("(VI_1) Entering MASTER STATE"),
                Action::AddVips,
                Action::SendGarp { repeat: 5 },
                Action::Notify {
                    state: State::Master,
                    priority: 255
                },
            ]
        );
    }

    #[test]
    fn startup_fault_reasons() {
        let f = |cause| TrackChange::Fault {
            cause,
            active: true,
        };
        // Every interface down and a missing address, each with its line (observed).
        let mut c = cfg(100);
        c.ipv6 = true;
        let causes = [
            f(FaultCause::Interface("eth0".into())),
            f(FaultCause::Interface("eth1".into())),
            f(FaultCause::SourceAddress),
        ];
        let mut m = Machine::start(c, causes, Instant::ZERO);
        assert_eq!(
            logs(&drain(&mut m)),
            vec![
                "(VI_1): entering FAULT state (interface eth0 down)",
                "(VI_1): entering FAULT state (interface eth1 down)",
                "(VI_1) entering FAULT state (no IPv6 address for interface)",
                "(VI_1) entering FAULT state",
            ]
        );
        // The unicast source no interface has: the running-instance wording.
        let mut m = Machine::start(
            cfg(100),
            [f(FaultCause::SourceNotConfigured)],
            Instant::ZERO,
        );
        assert_eq!(
            logs(&drain(&mut m)),
            vec![
                "(VI_1): entering FAULT state (src address not configured)",
                "(VI_1) Entering FAULT STATE",
            ]
        );
        // A configuration fault: FAULT (and its notify) without any line.
        let mut m = Machine::start(cfg(100), [f(FaultCause::Config)], Instant::ZERO);
        assert_eq!(m.state(), State::Fault);
        let acts = drain(&mut m);
        assert!(logs(&acts).is_empty(), "{acts:?}");
        assert!(acts.contains(&Action::Notify {
            state: State::Fault,
            priority: 100
        }));
    }

    #[test]
    fn startup_fault_init() {
        let fault = TrackChange::Fault {
            cause: FaultCause::Interface("eth0".into()),
            active: true,
        };
        let mut m = Machine::start(cfg(100), [fault.clone()], Instant::ZERO);
        assert_eq!(m.state(), State::Fault);
        // keepalived 2.2.7's lines (observed), before the VIP clean-up.
        let acts = drain(&mut m);
        assert_eq!(
            logs(&acts),
            vec![
                "(VI_1): entering FAULT state (interface eth0 down)",
                "(VI_1) entering FAULT state"
            ]
        );
        let remove = acts.iter().position(|a| *a == Action::RemoveVips);
        assert_eq!(remove, Some(2), "{acts:?}");
        assert_eq!(m.poll_timeout(), None);
        // Adverts are ignored in FAULT.
        m.handle_advert(ms(1), adv(2, 1));
        assert!(drain(&mut m).is_empty());
        m.handle_track(
            ms(2000),
            TrackChange::Fault {
                cause: FaultCause::Interface("eth0".into()),
                active: false,
            },
        );
        assert_eq!(m.state(), State::Backup);
        assert_eq!(logs(&drain(&mut m)), vec!["(VI_1) Entering BACKUP STATE"]);
        assert_eq!(m.poll_timeout(), Some(ms(2000) + m.master_down_interval()));
    }

    #[test]
    fn garp_extra_if_rounds_on_advert_ticks_while_master() {
        let mut c = cfg(100);
        c.garp_master_delay = Duration::ZERO;
        c.garp_extra_if = Duration::from_secs(2);
        let mut m = Machine::new(c, Instant::ZERO);
        drain(&mut m);
        let down = m.poll_timeout().unwrap_or(Instant::ZERO);
        m.handle_timeout(down);
        assert!(!drain(&mut m).contains(&Action::SendExtraGarp));
        let mut extra = vec![];
        let end = down + Duration::from_millis(6500);
        while let Some(t) = m.poll_timeout().filter(|&t| t <= end) {
            m.handle_timeout(t);
            if drain(&mut m).contains(&Action::SendExtraGarp) {
                extra.push(t.saturating_since(down));
            }
        }
        // Checked on each advert, strictly after the period (keepalived's timercmp `>`).
        assert_eq!(extra, vec![Duration::from_secs(3), Duration::from_secs(6)]);
        m.handle(
            end,
            Input::Track(TrackChange::Fault {
                cause: FaultCause::Interface("eth0".into()),
                active: true,
            }),
        );
        drain(&mut m);
        assert_eq!(m.garp_extra_due, None);
    }

    #[test]
    fn master_adverts_and_garp_schedule() {
        let mut c = cfg(100);
        c.garp_master_refresh = Duration::from_secs(3);
        c.garp_master_refresh_repeat = 2;
        let mut m = Machine::new(c, Instant::ZERO);
        drain(&mut m);
        let down = m.poll_timeout().unwrap_or(Instant::ZERO);
        m.handle_timeout(down);
        let a = drain(&mut m);
        assert_eq!(a.get(1), Some(&Action::SendAdvert { priority: 100 }));
        assert!(a.contains(&Action::SendGarp { repeat: 5 }));
        assert_eq!(
            m.timer(Timer::GarpDelayed),
            Some(down + Duration::from_secs(5))
        );
        let mut adverts = 0;
        let mut garps = vec![];
        let end = down + Duration::from_millis(6500);
        while let Some(t) = m.poll_timeout().filter(|&t| t <= end) {
            m.handle_timeout(t);
            for a in drain(&mut m) {
                match a {
                    Action::SendAdvert { priority: 100 } => adverts += 1,
                    Action::SendGarp { repeat } => garps.push((t.saturating_since(down), repeat)),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        assert_eq!(adverts, 6);
        // Refresh checked on the advert tick after 3 s, second burst at 5 s, refresh at 6 s.
        assert_eq!(
            garps,
            vec![
                (Duration::from_secs(3), 2),
                (Duration::from_secs(5), 5),
                (Duration::from_secs(6), 2)
            ]
        );
    }

    #[test]
    fn backup_priority_zero_sets_skew() {
        let mut m = Machine::new(cfg(90), Instant::ZERO);
        drain(&mut m);
        m.handle_advert(ms(1000), adv(2, 0));
        assert_eq!(
            m.poll_timeout(),
            Some(ms(1000) + Duration::from_micros(648_437))
        );
        m.handle_timeout(ms(1649));
        assert_eq!(m.state(), State::Master);
    }

    #[test]
    fn backup_accepts_equal_or_higher_any_address() {
        let mut m = Machine::new(cfg(100), Instant::ZERO);
        drain(&mut m);
        m.handle_advert(ms(1000), adv(1, 100));
        assert_eq!(m.poll_timeout(), Some(ms(1000) + m.master_down_interval()));
        assert_eq!(m.master(), Some((ip(1), 100)));
        assert!(drain(&mut m).is_empty());
    }

    #[test]
    fn backup_discards_lower_and_preempts() {
        let mut m = Machine::new(cfg(100), Instant::ZERO);
        drain(&mut m);
        m.handle_advert(ms(1000), adv(2, 120));
        let deadline = m.poll_timeout();
        m.handle_advert(ms(2000), adv(3, 90));
        assert_eq!(
            logs(&drain(&mut m)),
            vec!["(VI_1) received lower priority (90) advert from 192.0.2.3 - discarding"]
        );
        assert_eq!(m.poll_timeout(), deadline, "timer keeps running");
        m.handle_timeout(deadline.unwrap_or(Instant::ZERO));
        assert_eq!(m.state(), State::Master);
    }

    #[test]
    fn nopreempt_accepts_lower() {
        let mut c = cfg(200);
        c.nopreempt = true;
        let mut m = Machine::new(c, Instant::ZERO);
        drain(&mut m);
        for i in 1..20u64 {
            m.handle_advert(ms(i * 1000), adv(2, 50));
            m.handle_timeout(ms(i * 1000));
        }
        assert_eq!(m.state(), State::Backup);
        assert!(drain(&mut m).is_empty());
    }

    #[test]
    fn nopreempt_cleared_for_state_master() {
        let mut c = cfg(200);
        c.nopreempt = true;
        c.wants_master = true;
        c.preempt_delay = Duration::from_secs(3);
        let c = c.normalized();
        assert!(!c.nopreempt);
        assert!(c.preempt_delay.is_zero());
    }

    #[test]
    fn preempt_delay_accepts_lower_until_expiry() {
        let mut c = cfg(200);
        c.preempt_delay = Duration::from_secs(10);
        let mut m = Machine::new(c, Instant::ZERO);
        drain(&mut m);
        // First lower advert at 1 s starts the delay; accepted until 11 s.
        for s in 1..=10u64 {
            m.handle_advert(ms(s * 1000), adv(2, 100));
            m.handle_timeout(ms(s * 1000));
        }
        assert!(drain(&mut m).is_empty());
        let d = m.poll_timeout();
        assert_eq!(d, Some(ms(10_000) + m.master_down_interval()));
        m.handle_advert(ms(11_000), adv(2, 100));
        assert_eq!(
            logs(&drain(&mut m)),
            vec!["(VI_1) received lower priority (100) advert from 192.0.2.2 - discarding"]
        );
        assert_eq!(m.poll_timeout(), d);
        // A higher-priority advert stops the delay; the next lower one restarts it.
        m.handle_advert(ms(11_500), adv(3, 250));
        m.handle_advert(ms(12_000), adv(2, 100));
        assert!(drain(&mut m).is_empty());
    }

    #[test]
    fn master_yields_to_higher_priority() {
        let mut m = master(cfg(100));
        m.handle_advert(ms(10_500), adv(2, 150));
        assert_eq!(m.state(), State::Backup);
        assert_eq!(
            drain(&mut m),
            vec![
                log("(VI_1) Master received advert from 192.0.2.2 with higher priority 150, ours 100"),
                log("(VI_1) Entering BACKUP STATE"),
                Action::RemoveVips,
                Action::Notify {
                    state: State::Backup,
                    priority: 100
                },
            ]
        );
        assert_eq!(
            m.poll_timeout(),
            Some(ms(10_500) + m.master_down_interval())
        );
    }

    #[test]
    fn master_equal_priority_tie_break() {
        let mut m = master(cfg(100));
        m.handle_advert(ms(10_100), adv(9, 100));
        assert_eq!(m.state(), State::Master);
        assert_eq!(
            drain(&mut m),
            vec![
                log("(VI_1) Received advert from 192.0.2.9 with lower priority 100, ours 100, forcing new election"),
                Action::SendAdvert { priority: 100 },
                Action::SendGarp { repeat: 5 },
                Action::MasterRxLowerPri,
            ]
        );
        assert_eq!(m.timer(Timer::GarpLowerPrio), Some(ms(15_100)));
        m.handle_advert(ms(10_200), adv(11, 100));
        assert_eq!(m.state(), State::Backup);
        assert_eq!(
            logs(&drain(&mut m))[0],
            "(VI_1) Master received advert from 192.0.2.11 with same priority 100 but higher IP address than ours"
        );
    }

    #[test]
    fn tie_break_is_numeric_for_ipv4_and_ipv6() {
        let mut c = cfg(100);
        c.src_addr = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)));
        let mut m = master(c);
        // "192.0.2.9" > "192.0.2.100" as text, but lower as a number.
        m.handle_advert(ms(10_100), adv(9, 100));
        assert_eq!(m.state(), State::Master);

        let a = |s: &str| IpAddr::V6(s.parse::<Ipv6Addr>().unwrap_or(Ipv6Addr::UNSPECIFIED));
        let mut c = cfg(100);
        c.src_addr = Some(a("2001:db8::a"));
        let mut m = master(c);
        let rx = |src| RxAdvert {
            src,
            priority: 100,
            adver_int: Duration::from_secs(1),
        };
        m.handle_advert(ms(10_100), rx(a("2001:db8::9")));
        assert_eq!(m.state(), State::Master);
        m.handle_advert(ms(10_200), rx(a("2001:db8::1:0")));
        assert_eq!(m.state(), State::Backup);
    }

    /// 2,000 lower-priority adverts a second for 5 s at a MASTER (advert_int 1): one answer
    /// (log, advert, GARPs, notify) per advert interval, every other advert counted.
    #[test]
    fn lower_prio_flood_is_answered_once_per_advert_interval() {
        let mut m = master(cfg(100));
        let (mut adverts, mut answers, mut unanswered, mut garps, mut logged) = (0, 0, 0, 0, 0);
        let mut count = |m: &mut Machine| {
            for a in drain(m) {
                match a {
                    Action::SendAdvert { .. } => adverts += 1,
                    Action::MasterRxLowerPri => answers += 1,
                    Action::LowerPrioUnanswered => unanswered += 1,
                    Action::SendGarp { .. } => garps += 1,
                    Action::Log(_) => logged += 1,
                    _ => {}
                }
            }
        };
        let start = 10_000_000u64; // µs
        let flood = 10_000u64; // 5 s at one advert per 500 µs
        for k in 0..flood {
            let now = Instant(Duration::from_micros(start + k * 500));
            while m.poll_timeout().is_some_and(|t| t <= now) {
                let t = m.poll_timeout().unwrap_or(now);
                m.handle_timeout(t);
                count(&mut m);
            }
            m.handle_advert(now, adv(2, 50));
            count(&mut m);
        }
        assert_eq!(m.state(), State::Master);
        assert_eq!(answers, 5, "one answer per second");
        assert_eq!(logged, 5);
        assert_eq!(garps, 5);
        assert_eq!(answers + unanswered, flood);
        // 4 timer adverts (11 s to 14 s) and 5 answers; bound: seconds × (1 + 1/advert_int).
        assert_eq!(adverts, 9);
        // The next interval answers again.
        m.handle_advert(
            Instant(Duration::from_micros(start + flood * 500 + 1_000_000)),
            adv(2, 50),
        );
        assert!(drain(&mut m).contains(&Action::MasterRxLowerPri));
    }

    #[test]
    fn lower_prio_no_advert_and_higher_prio_send_advert() {
        let mut c = cfg(100);
        c.lower_prio_no_advert = true;
        c.higher_prio_send_advert = true;
        c.garp_lower_prio_repeat = 0;
        let mut m = master(c);
        m.handle_advert(ms(10_100), adv(2, 50));
        assert_eq!(
            drain(&mut m),
            vec![
                log("(VI_1) Received advert from 192.0.2.2 with lower priority 50, ours 100"),
                Action::MasterRxLowerPri,
            ]
        );
        m.handle_advert(ms(10_200), adv(2, 150));
        let a = drain(&mut m);
        assert_eq!(a.first(), Some(&Action::SendAdvert { priority: 100 }));
        assert_eq!(m.state(), State::Backup);
    }

    #[test]
    fn strict_forces_lower_prio_no_advert() {
        let mut c = cfg(100);
        c.strict = true;
        let mut m = master(c);
        m.handle_advert(ms(10_100), adv(2, 50));
        assert!(!drain(&mut m)
            .iter()
            .any(|a| matches!(a, Action::SendAdvert { .. })));
    }

    #[test]
    fn master_answers_priority_zero() {
        let mut m = master(cfg(100));
        m.handle_advert(ms(10_100), adv(2, 0));
        assert_eq!(
            drain(&mut m),
            vec![
                Action::SendAdvert { priority: 100 },
                Action::Debug("(VI_1) Master received priority 0 message".into()),
            ]
        );
        assert_eq!(m.state(), State::Master);
    }

    #[test]
    fn two_address_owners() {
        let mut m = Machine::new(cfg(255), Instant::ZERO);
        m.handle_timeout(Instant::ZERO);
        drain(&mut m);
        m.handle_advert(ms(100), adv(2, 255));
        let l = logs(&drain(&mut m));
        assert_eq!(l[0], "(VI_1) CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority");
        assert_eq!(m.effective_priority(), 254);
        assert_eq!(m.state(), State::Backup);
    }

    #[test]
    fn equal_priority_from_our_own_address_warns() {
        let mut m = master(cfg(100));
        m.handle_advert(ms(10_100), adv(10, 100));
        assert_eq!(
            logs(&drain(&mut m)),
            vec!["(VI_1) WARNING - equal priority advert received from remote host with our IP address."]
        );
        assert_eq!(m.state(), State::Master);
    }

    #[test]
    fn fault_from_master_and_back() {
        let mut m = master(cfg(100));
        let cause = FaultCause::Script("chk".into());
        m.handle_track(
            ms(11_000),
            TrackChange::Fault {
                cause: cause.clone(),
                active: true,
            },
        );
        assert_eq!(
            drain(&mut m),
            vec![
                log("(VI_1) Entering FAULT STATE"),
                Action::SendAdvert { priority: 0 },
                Action::Debug("(VI_1) sent 0 priority".into()),
                Action::RemoveVips,
                Action::Notify {
                    state: State::Fault,
                    priority: 100
                },
            ]
        );
        assert_eq!(m.poll_timeout(), None);
        m.handle_track(
            ms(12_000),
            TrackChange::Fault {
                cause,
                active: false,
            },
        );
        assert_eq!(m.state(), State::Backup);
        assert_eq!(
            m.poll_timeout(),
            Some(ms(12_000) + m.master_down_interval())
        );
    }

    #[test]
    fn owner_leaves_fault_as_master() {
        let mut m = Machine::new(cfg(255), Instant::ZERO);
        m.handle_timeout(Instant::ZERO);
        let cause = FaultCause::Interface("eth0".into());
        m.handle_track(
            ms(1),
            TrackChange::Fault {
                cause: cause.clone(),
                active: true,
            },
        );
        assert_eq!(m.state(), State::Fault);
        drain(&mut m);
        m.handle_track(
            ms(2),
            TrackChange::Fault {
                cause,
                active: false,
            },
        );
        assert_eq!(m.state(), State::Master);
        assert!(drain(&mut m).contains(&Action::AddVips));
    }

    #[test]
    fn initial_weights_are_logged_before_the_first_state() {
        let initial = [TrackChange::Weight {
            tracker: "tf1".into(),
            value: 3,
        }];
        let mut m = Machine::start(cfg(100), initial, Instant::ZERO);
        assert_eq!(m.effective_priority(), 103);
        let l = logs(&drain(&mut m));
        assert_eq!(l[0], "(VI_1) Changing effective priority from 100 to 103");
        assert!(l[1].contains("Entering BACKUP STATE (init)"), "{l:?}");
        let m = Machine::start(cfg(100), [], Instant::ZERO);
        assert!(!format!("{:?}", m.actions).contains("Changing"));
    }

    #[test]
    fn effective_priority_clamps_and_shifts_backup_timer() {
        let mut m = Machine::new(cfg(100), Instant::ZERO);
        drain(&mut m);
        let before = m.poll_timeout().unwrap_or(Instant::ZERO);
        m.handle_track(
            ms(500),
            TrackChange::Weight {
                tracker: "a".into(),
                value: 50,
            },
        );
        assert_eq!(m.effective_priority(), 150);
        assert_eq!(
            logs(&drain(&mut m)),
            vec!["(VI_1) Changing effective priority from 100 to 150"]
        );
        // Skew shrinks by 50/256 s.
        assert_eq!(
            m.poll_timeout(),
            Some(before - Duration::from_micros(195_313))
        );
        m.handle_track(
            ms(600),
            TrackChange::Weight {
                tracker: "b".into(),
                value: 500,
            },
        );
        assert_eq!(m.effective_priority(), 254);
        m.handle_track(
            ms(700),
            TrackChange::Weight {
                tracker: "b".into(),
                value: -900,
            },
        );
        assert_eq!(m.effective_priority(), 1);
        m.handle_track(
            ms(800),
            TrackChange::Weight {
                tracker: "b".into(),
                value: 0,
            },
        );
        assert_eq!(m.effective_priority(), 150);
        // Weighted changes never fault.
        assert_eq!(m.state(), State::Backup);

        let mut o = Machine::new(cfg(255), Instant::ZERO);
        o.handle_track(
            ms(1),
            TrackChange::Weight {
                tracker: "a".into(),
                value: -50,
            },
        );
        assert_eq!(o.effective_priority(), 255);
    }

    #[test]
    fn shutdown_master_releases() {
        let mut m = master(cfg(100));
        m.handle_shutdown(ms(20_000));
        assert_eq!(
            drain(&mut m),
            vec![
                Action::SendAdvert { priority: 0 },
                Action::Debug("(VI_1) sent 0 priority".into()),
                Action::RemoveVips,
                Action::Notify {
                    state: State::Stop,
                    priority: 100
                },
            ]
        );
        assert_eq!(m.poll_timeout(), None);
        let mut b = Machine::new(cfg(100), Instant::ZERO);
        drain(&mut b);
        b.handle_shutdown(ms(1));
        assert_eq!(
            drain(&mut b),
            vec![Action::Notify {
                state: State::Stop,
                priority: 100
            }]
        );
    }

    #[test]
    fn reload_keeps_state_and_applies_priority() {
        let mut m = master(cfg(100));
        let mut c = cfg(80);
        m.handle_reload(ms(10_300), c.clone());
        assert_eq!(m.state(), State::Master);
        assert_eq!(
            drain(&mut m),
            vec![
                Action::SendAdvert { priority: 100 },
                log("(VI_1) Changing effective priority from 100 to 80"),
                Action::AddVips,
            ]
        );
        // Next periodic advert carries the new priority.
        m.handle_timeout(ms(11_000));
        assert_eq!(drain(&mut m), vec![Action::SendAdvert { priority: 80 }]);
        // Unchanged reload of a BACKUP: nothing at all.
        let mut b = Machine::new(cfg(100), Instant::ZERO);
        drain(&mut b);
        let t = b.poll_timeout();
        c.priority = 100;
        b.handle_reload(ms(100), c);
        assert!(drain(&mut b).is_empty());
        assert_eq!(b.poll_timeout(), t);
    }

    #[test]
    fn inputs_and_actions_round_trip_as_json() {
        let inputs = vec![
            Input::Advert(adv(2, 100)),
            Input::Timeout,
            Input::Track(TrackChange::Fault {
                cause: FaultCause::Interface("eth0".into()),
                active: true,
            }),
            Input::Reload(cfg(100)),
            Input::Shutdown,
        ];
        for i in &inputs {
            let j = serde_json::to_string(i).unwrap_or_default();
            assert_eq!(serde_json::from_str::<Input>(&j).ok().as_ref(), Some(i));
        }
        // Replaying the same inputs gives the same actions.
        let run = || {
            let mut m = Machine::new(cfg(100), Instant::ZERO);
            let mut out = vec![];
            for (k, i) in inputs.iter().enumerate() {
                m.handle(ms(k as u64 * 4000), i.clone());
                out.extend(drain(&mut m));
            }
            serde_json::to_string(&out).unwrap_or_default()
        };
        assert_eq!(run(), run());
        assert!(run().contains("\"Notify\""));
    }
}
