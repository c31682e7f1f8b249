//! One BFD session's asynchronous-mode state machine (RFC 5880 section 6.8), as keepalived
//! 2.2.7 runs it: no I/O and no clock. Received packets and the time go in
//! ([`Session::handle`], [`Session::poll`]); packets to send, state events for the other
//! children and log lines come out as [`Action`]s; [`Session::next_deadline`] says when to
//! call `poll` again. Tests run two sessions on a simulated link.
//!
//! keepalived's three timers are kept: the sender (every TX interval less 10-25 % jitter),
//! the expiry (detection time after the last packet; in Init it is not extended), and the
//! reset (detection time after going Down, the remote's variables are forgotten).
//! Intervals are microseconds, as on the wire.
#![forbid(unsafe_code)]

use std::time::Duration;

pub use crate::bfd::packet::{Control, Diag, State};
pub use crate::clock::Instant;
pub use crate::rng::SplitMix64;

/// A session's configured parameters (keepalived `bfd_instance`), in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    pub min_rx: u32,
    pub min_tx: u32,
    pub idle_tx: u32,
    pub detect_mult: u8,
    pub passive: bool,
}

/// How much `-D` a log line needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Detail {
    Always,
    /// `-D`.
    Detail,
    /// keepalived's extra detail (`-D` twice here).
    Extra,
}

/// Severity of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warning,
}

/// A log line in keepalived's wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: Level,
    pub detail: Detail,
    pub text: String,
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this control packet to the neighbor.
    Send(Control),
    /// Tell the VRRP child / checker: the session is Up, or no longer Up.
    Event {
        up: bool,
    },
    Log(LogLine),
}

/// The randomness a session needs (jitter, discriminators), injectable for tests.
pub trait Random {
    /// Uniform in `min..=max`.
    fn range(&mut self, min: u32, max: u32) -> u32;
    /// A new local discriminator: non-zero, and unique among the caller's sessions.
    fn discriminator(&mut self) -> u32;
}

/// The shared seeded generator is enough for jitter; discriminators it makes are non-zero
/// but their uniqueness is the caller's business.
impl Random for SplitMix64 {
    fn range(&mut self, min: u32, max: u32) -> u32 {
        if max <= min {
            return min;
        }
        let span = u64::from(max - min) + 1;
        min + (self.next_u64() % span) as u32
    }

    fn discriminator(&mut self) -> u32 {
        loop {
            let d = self.next_u64() as u32;
            if d != 0 {
                return d;
            }
        }
    }
}

/// One session.
#[derive(Debug, Clone)]
pub struct Session {
    pub name: String,
    pub params: Params,
    pub local_state: State,
    pub remote_state: State,
    pub local_discr: u32,
    pub remote_discr: u32,
    pub local_diag: Diag,
    pub remote_diag: Diag,
    pub remote_min_tx: u32,
    pub remote_min_rx: u32,
    pub remote_demand: bool,
    pub remote_detect_mult: u8,
    pub poll: bool,
    pub final_: bool,
    /// Negotiated intervals (µs).
    pub local_tx_intv: u32,
    pub remote_tx_intv: u32,
    /// Detection times (µs).
    pub local_detect_time: u64,
    pub remote_detect_time: u64,
    pub last_seen: Option<Instant>,
    next_tx: Option<Instant>,
    expire_at: Option<Instant>,
    reset_at: Option<Instant>,
}

fn us(v: u64) -> Duration {
    Duration::from_micros(v)
}

impl Session {
    /// A new session in Down with a fresh discriminator (keepalived `bfd_init_state`).
    pub fn new(name: &str, params: Params, rng: &mut dyn Random) -> Session {
        Session {
            name: name.to_owned(),
            params,
            local_state: State::Down,
            remote_state: State::Down,
            local_discr: rng.discriminator(),
            remote_discr: 0,
            local_diag: Diag::NoDiag,
            remote_diag: Diag::NoDiag,
            remote_min_tx: 0,
            remote_min_rx: 0,
            remote_demand: false,
            remote_detect_mult: 0,
            poll: false,
            final_: false,
            local_tx_intv: params.idle_tx,
            remote_tx_intv: 0,
            local_detect_time: 0,
            remote_detect_time: 0,
            last_seen: None,
            next_tx: None,
            expire_at: None,
            reset_at: None,
        }
    }

    /// Starts the session: its state goes to the other children, and unless passive, a
    /// first packet goes out at once and the sender runs.
    pub fn start(&mut self, now: Instant, rng: &mut dyn Random) -> Vec<Action> {
        let mut out = vec![self.event()];
        if !self.params.passive {
            out.push(self.send_now());
            self.schedule_sender(now, rng);
        }
        out
    }

    /// The sending socket cannot be opened (keepalived `bfd_state_admindown`): AdminDown,
    /// nothing sent, no detection; the caller retries the socket. No event goes out.
    pub fn admin_down(&mut self) -> Vec<Action> {
        self.local_state = State::AdminDown;
        self.local_diag = Diag::AdminDown;
        self.next_tx = None;
        self.expire_at = None;
        self.idle_tx_intv();
        vec![log(
            Level::Warning,
            Detail::Always,
            format!("({}) Entering AdminDown state", self.name),
        )]
    }

    /// The sending socket opened at last: by the minute's retry (keepalived
    /// `bfd_open_fd_out_thread`) the session is Down; opened for a packet of the peer, it is
    /// Init, and that packet is handled next (keepalived `bfd_handle_packet`). Either way the
    /// sender runs again unless passive.
    pub fn admin_up(&mut self, now: Instant, by_packet: bool, rng: &mut dyn Random) -> Vec<Action> {
        let mut out = Vec::new();
        if self.local_state != State::AdminDown {
            return out;
        }
        if by_packet {
            self.state_init(now, rng, &mut out);
        } else {
            self.local_state = State::Down;
        }
        if !self.params.passive && self.next_tx.is_none() {
            self.schedule_sender(now, rng);
        }
        out
    }

    /// A reload with new parameters keeps the state; a changed min_rx or min_tx starts a
    /// poll sequence (keepalived `bfd_complete_init`). The state goes to the other
    /// children again, as after keepalived's reload.
    pub fn reconfigure(&mut self, params: Params) -> Vec<Action> {
        let changed = params.min_rx != self.params.min_rx || params.min_tx != self.params.min_tx;
        self.params = params;
        let mut out = Vec::new();
        if changed {
            self.set_poll(&mut out);
        }
        out.push(self.event());
        out
    }

    /// When [`Session::poll`] must next run.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.next_tx, self.expire_at, self.reset_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the timers due at `now`, earliest first.
    pub fn poll(&mut self, now: Instant, rng: &mut dyn Random) -> Vec<Action> {
        let mut out = Vec::new();
        // Each firing moves its timer past `now` or clears it; the bound only guards
        // against a zero interval.
        for _ in 0..8 {
            let due = |t: Option<Instant>| t.filter(|t| *t <= now);
            let next = [
                (due(self.expire_at), 0),
                (due(self.reset_at), 1),
                (due(self.next_tx), 2),
            ]
            .into_iter()
            .filter_map(|(t, k)| t.map(|t| (t, k)))
            .min();
            match next {
                Some((_, 0)) => {
                    self.expire_at = None;
                    self.expire(now, rng, &mut out);
                }
                Some((_, 1)) => {
                    self.reset_at = None;
                    self.reset();
                }
                Some(_) => {
                    self.next_tx = None;
                    out.push(self.send_now());
                    self.schedule_sender(now, rng);
                }
                None => break,
            }
        }
        out
    }

    /// A packet that passed [`crate::bfd::packet::parse`] and was matched to this session
    /// (keepalived `bfd_handle_packet` after its lookup, TTL and auth checks).
    pub fn handle(&mut self, now: Instant, pkt: &Control, rng: &mut dyn Random) -> Vec<Action> {
        let mut out = Vec::new();
        let old_remote_rx = self.remote_min_rx;
        let old_remote_tx = self.remote_min_tx;
        let old_remote_mult = self.remote_detect_mult;
        let old_detect = self.local_detect_time;
        let old_local_tx = self.local_tx_intv;

        self.remote_discr = pkt.my_discr;
        self.remote_state = pkt.state;
        self.remote_diag = pkt.diag;
        self.remote_min_rx = pkt.required_min_rx;
        self.remote_min_tx = pkt.desired_min_tx;
        self.remote_demand = pkt.demand;
        self.remote_detect_mult = pkt.detect_mult;
        if pkt.final_ {
            self.poll = false;
        }
        // Intervals are renegotiated outside Up, or on a Poll or Final.
        if self.local_state != State::Up || pkt.poll || pkt.final_ {
            if self.remote_state == State::Up && matches!(self.local_state, State::Init | State::Up)
            {
                self.local_tx_intv = self.params.min_tx.max(self.remote_min_rx);
            } else {
                self.idle_tx_intv();
            }
            self.remote_tx_intv = self.params.min_rx.max(self.remote_min_tx);
        }
        self.local_detect_time =
            u64::from(self.remote_detect_mult) * u64::from(self.remote_tx_intv);
        self.remote_detect_time =
            u64::from(self.params.detect_mult) * u64::from(self.local_tx_intv);

        let changed = self.remote_min_rx != old_remote_rx
            || self.remote_min_tx != old_remote_tx
            || self.remote_detect_mult != old_remote_mult
            || self.local_tx_intv != old_local_tx;
        self.dump_timers(
            if changed {
                Detail::Detail
            } else {
                Detail::Extra
            },
            &mut out,
        );

        if self.local_tx_intv < old_local_tx && self.next_tx.is_some() {
            self.schedule_sender(now, rng);
        }
        if self.local_detect_time != old_detect {
            out.push(log(
                Level::Info,
                Detail::Always,
                format!(
                    "{:w$} Detection time is {} us (was {} us)",
                    "",
                    self.local_detect_time,
                    old_detect,
                    w = self.name.len() + 2
                ),
            ));
        }

        match (self.local_state, self.remote_state) {
            (l, State::AdminDown) if l != State::Down => {
                self.state_down(now, Diag::NeighborSignaledDown, rng, &mut out)
            }
            (State::Down, State::Down) => self.state_init(now, rng, &mut out),
            (State::Down, State::Init) => self.state_up(now, &mut out),
            (State::Init, State::Init | State::Up) => self.state_up(now, &mut out),
            (State::Up, State::Down) => {
                self.state_down(now, Diag::NeighborSignaledDown, rng, &mut out)
            }
            _ => {}
        }

        let both_up = self.local_state == State::Up && self.remote_state == State::Up;
        if self.remote_demand && both_up {
            self.next_tx = None;
        } else if self.next_tx.is_none() {
            self.schedule_sender(now, rng);
        }
        if pkt.poll {
            self.final_ = true;
            out.push(self.send_now());
        }
        self.last_seen = Some(now);
        if self.local_state == State::Up && self.expire_at.is_some() {
            self.expire_at = Some(now + us(self.local_detect_time));
        }
        out
    }

    /// The next packet; sending it clears Final (keepalived `bfd_build_packet` plus the
    /// sender thread).
    fn send_now(&mut self) -> Action {
        // Answering a Poll while wanting one: the new parameters ride on the Final.
        if self.poll && self.final_ {
            self.poll = false;
        }
        let c = Control {
            diag: self.local_diag,
            state: self.local_state,
            poll: self.poll,
            final_: self.final_,
            cplane: false,
            auth: false,
            demand: false,
            multipoint: false,
            detect_mult: self.params.detect_mult,
            my_discr: self.local_discr,
            your_discr: self.remote_discr,
            desired_min_tx: if self.local_state == State::Up {
                self.params.min_tx
            } else {
                self.params.idle_tx
            },
            required_min_rx: self.params.min_rx,
            required_min_echo_rx: 0,
        };
        self.final_ = false;
        Action::Send(c)
    }

    /// TX interval less keepalived's jitter: 10 % to 25 % (RFC 5880 6.8.7).
    fn schedule_sender(&mut self, now: Instant, rng: &mut dyn Random) {
        let jitter = rng.range(self.local_tx_intv / 10, self.local_tx_intv / 4);
        self.next_tx = Some(now + us(u64::from(self.local_tx_intv - jitter)));
    }

    fn idle_tx_intv(&mut self) {
        self.local_tx_intv = self.params.idle_tx.max(self.remote_min_rx);
    }

    fn event(&self) -> Action {
        Action::Event {
            up: self.local_state == State::Up,
        }
    }

    fn set_poll(&mut self, out: &mut Vec<Action>) {
        out.push(log(
            Level::Info,
            Detail::Detail,
            format!("({}) Starting poll sequence", self.name),
        ));
        if !self.final_ {
            self.poll = true;
        }
    }

    fn expire(&mut self, now: Instant, rng: &mut dyn Random, out: &mut Vec<Action>) {
        let dead = self
            .last_seen
            .map(|t| now.saturating_since(t))
            .unwrap_or_default()
            .as_micros() as u64;
        out.push(log(
            Level::Warning,
            if self.local_state == State::Up {
                Detail::Always
            } else {
                Detail::Extra
            },
            format!(
                "({}) Expired after {} ms ({} usec overdue)",
                self.name,
                dead / 1000,
                dead.saturating_sub(self.local_detect_time)
            ),
        ));
        self.remote_discr = 0;
        self.state_down(now, Diag::Expired, rng, out);
    }

    fn reset(&mut self) {
        self.local_state = State::Down;
        self.remote_state = State::Down;
        self.remote_discr = 0;
        self.remote_diag = Diag::NoDiag;
        self.remote_demand = false;
        self.poll = false;
        self.final_ = false;
        self.idle_tx_intv();
    }

    fn state_down(
        &mut self,
        now: Instant,
        diag: Diag,
        rng: &mut dyn Random,
        out: &mut Vec<Action>,
    ) {
        let was_up = self.local_state == State::Up;
        if was_up {
            self.local_discr = rng.discriminator();
        }
        out.push(log(
            Level::Warning,
            if was_up {
                Detail::Always
            } else {
                Detail::Extra
            },
            format!(
                "({}) Entering Down state (Local diagnostic - {}, Remote diagnostic - {})",
                self.name,
                diag.name(),
                self.remote_diag.name()
            ),
        ));
        self.local_state = State::Down;
        self.local_diag = diag;
        self.reset_at = Some(now + us(self.local_detect_time));
        if self.params.passive {
            self.next_tx = None;
        }
        self.idle_tx_intv();
        self.expire_at = None;
        if was_up && self.remote_state != State::AdminDown {
            out.push(self.event());
        }
    }

    fn state_rise(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.local_diag = Diag::NoDiag;
        out.push(log(
            Level::Info,
            if self.local_state == State::Up {
                Detail::Always
            } else {
                Detail::Extra
            },
            format!("({}) Entering {} state", self.name, self.local_state.name()),
        ));
        self.reset_at = None;
        if self.expire_at.is_none() {
            self.expire_at = Some(now + us(self.local_detect_time));
        }
    }

    fn state_up(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.local_state = State::Up;
        self.state_rise(now, out);
        if self.params.idle_tx != self.params.min_tx {
            self.set_poll(out);
        }
        out.push(self.event());
    }

    fn state_init(&mut self, now: Instant, rng: &mut dyn Random, out: &mut Vec<Action>) {
        self.local_state = State::Init;
        self.state_rise(now, out);
        if self.params.passive && self.next_tx.is_none() {
            self.schedule_sender(now, rng);
        }
    }

    /// keepalived's "Session parameters" table.
    fn dump_timers(&self, detail: Detail, out: &mut Vec<Action>) {
        let w = 2 + self.name.len();
        let up = self.local_state == State::Up;
        for text in [
            format!(
                "({}) ---------------< Session parameters >--------------",
                self.name
            ),
            format!(
                "{:w$}          min_tx  min_rx  tx_intv  mult  detect_time",
                ""
            ),
            format!(
                "{:w$} local  {:8} {:7} {:8} {:5} {:12}",
                "",
                if up {
                    self.params.min_tx
                } else {
                    self.params.idle_tx
                },
                self.params.min_rx,
                self.local_tx_intv,
                self.params.detect_mult,
                self.local_detect_time
            ),
            format!(
                "{:w$} remote {:8} {:7} {:8} {:5} {:12}",
                "",
                self.remote_min_tx,
                self.remote_min_rx,
                self.remote_tx_intv,
                self.remote_detect_mult,
                self.remote_detect_time
            ),
        ] {
            out.push(log(Level::Info, detail, text));
        }
    }
}

fn log(level: Level, detail: Detail, text: String) -> Action {
    Action::Log(LogLine {
        level,
        detail,
        text,
    })
}

#[cfg(test)]
mod tests;
