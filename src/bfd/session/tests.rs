//! Two sessions on a simulated link with a simulated clock.

use super::*;
use crate::bfd::packet;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

fn params(min: u32, mult: u8) -> Params {
    Params {
        min_rx: min * 1000,
        min_tx: min * 1000,
        idle_tx: 1_000_000,
        detect_mult: mult,
        passive: false,
    }
}

/// What happened on the link, per side.
#[derive(Default)]
struct Trace {
    /// (time, sender side, packet)
    sent: Vec<(Instant, usize, Control)>,
    events: Vec<(Instant, usize, bool)>,
    logs: Vec<(usize, String)>,
}

struct Link {
    s: [Session; 2],
    rng: SplitMix64,
    now: Instant,
    /// A side that is dead neither sends nor receives.
    alive: [bool; 2],
    latency: Duration,
    in_flight: Vec<(Instant, usize, Control)>,
    trace: Trace,
}

impl Link {
    fn new(a: Params, b: Params, seed: u64) -> Link {
        let mut rng = SplitMix64::new(seed);
        let s = [
            Session::new("a", a, &mut rng),
            Session::new("b", b, &mut rng),
        ];
        Link {
            s,
            rng,
            now: Instant::ZERO,
            alive: [true, true],
            latency: ms(1),
            in_flight: Vec::new(),
            trace: Trace::default(),
        }
    }

    fn apply(&mut self, side: usize, acts: Vec<Action>) {
        for a in acts {
            match a {
                Action::Send(c) => {
                    // Every packet we send must pass the receiver's checks.
                    assert_eq!(packet::parse(&c.encode()), Ok(c));
                    self.trace.sent.push((self.now, side, c));
                    if self.alive[side] {
                        self.in_flight.push((self.now + self.latency, 1 - side, c));
                    }
                }
                Action::Event { up } => self.trace.events.push((self.now, side, up)),
                Action::Log(l) => self.trace.logs.push((side, l.text)),
            }
        }
    }

    fn start(&mut self, side: usize) {
        let acts = self.s[side].start(self.now, &mut self.rng);
        self.apply(side, acts);
    }

    /// Runs until `until`, delivering packets and firing timers in time order.
    fn run(&mut self, until: Instant) {
        loop {
            let timers = (0..2)
                .filter(|&i| self.alive[i])
                .filter_map(|i| self.s[i].next_deadline().map(|t| (t, i)))
                .min();
            let packet = self
                .in_flight
                .iter()
                .enumerate()
                .min_by_key(|(_, p)| p.0)
                .map(|(k, p)| (p.0, k));
            let next = match (timers, packet) {
                (Some(t), Some(p)) if p.0 <= t.0 => Err(p),
                (Some(t), _) => Ok(t),
                (None, Some(p)) => Err(p),
                (None, None) => break,
            };
            let at = match next {
                Ok((t, _)) | Err((t, _)) => t,
            };
            if at > until {
                break;
            }
            self.now = at.max(self.now);
            match next {
                Ok((_, side)) => {
                    let acts = self.s[side].poll(self.now, &mut self.rng);
                    self.apply(side, acts);
                }
                Err((_, k)) => {
                    let (_, to, c) = self.in_flight.remove(k);
                    if self.alive[to] {
                        let acts = self.s[to].handle(self.now, &c, &mut self.rng);
                        self.apply(to, acts);
                    }
                }
            }
        }
        self.now = until;
    }

    fn sent_by(&self, side: usize, from: Instant) -> Vec<(Instant, Control)> {
        self.trace
            .sent
            .iter()
            .filter(|(t, s, _)| *s == side && *t >= from)
            .map(|(t, _, c)| (*t, *c))
            .collect()
    }
}

#[test]
fn two_sessions_come_up_and_negotiate() {
    for seed in 0..50 {
        let mut l = Link::new(params(100, 3), params(200, 3), seed);
        l.start(0);
        l.start(1);
        l.run(Instant(ms(5000)));
        assert_eq!(l.s[0].local_state, State::Up, "seed {seed}");
        assert_eq!(l.s[1].local_state, State::Up, "seed {seed}");
        // Each side sends at the slower of its min_tx and the peer's min_rx: 200 ms.
        assert_eq!(l.s[0].local_tx_intv, 200_000);
        assert_eq!(l.s[1].local_tx_intv, 200_000);
        assert_eq!(l.s[0].local_detect_time, 600_000);
        assert_eq!(l.s[1].local_detect_time, 600_000);
        assert_eq!(l.s[0].remote_discr, l.s[1].local_discr);
        // One Up event each, nothing else after start's Down.
        let mut ev: Vec<_> = l.trace.events.iter().map(|e| (e.1, e.2)).collect();
        ev.sort();
        assert_eq!(
            ev,
            [(0, false), (0, true), (1, false), (1, true)],
            "seed {seed}"
        );
        // Steady state: gaps between 75 % and 90 % of the 200 ms interval, poll over.
        let tail = l.sent_by(0, Instant(ms(4000)));
        assert!(tail.len() >= 5);
        for w in tail.windows(2) {
            let gap = w[1].0.saturating_since(w[0].0);
            assert!(gap >= ms(150) && gap <= ms(180), "gap {gap:?} seed {seed}");
            assert!(!w[1].1.poll && !w[1].1.final_);
            assert_eq!(w[1].1.desired_min_tx, 100_000);
        }
    }
}

#[test]
fn poll_answered_with_final_and_sequence_ends() {
    let mut l = Link::new(params(100, 3), params(200, 3), 7);
    l.start(0);
    l.start(1);
    l.run(Instant(ms(5000)));
    // Going Up with idle_tx != min_tx starts a poll; each poll is answered by a Final and
    // the poller stops polling once it sees it.
    let polls: Vec<_> = l.trace.sent.iter().filter(|p| p.2.poll).collect();
    let finals: Vec<_> = l.trace.sent.iter().filter(|p| p.2.final_).collect();
    assert!(!polls.is_empty());
    assert!(!finals.is_empty());
    for (t, side, _) in &finals {
        assert!(polls.iter().any(|(pt, ps, _)| pt <= t && ps != side));
    }
    assert!(!l.s[0].poll && !l.s[1].poll);
    assert!(l
        .trace
        .logs
        .iter()
        .any(|(_, t)| t == "(a) Starting poll sequence"));
}

#[test]
fn peer_death_detected_in_detection_time() {
    for seed in 0..50 {
        let mut l = Link::new(params(100, 3), params(200, 3), seed);
        l.start(0);
        l.start(1);
        l.run(Instant(ms(3000)));
        assert_eq!(l.s[0].local_state, State::Up);
        l.alive[1] = false;
        let death = l.now;
        l.run(Instant(ms(5000)));
        assert_eq!(l.s[0].local_state, State::Down);
        assert_eq!(l.s[0].local_diag, Diag::Expired);
        let (t_down, _, up) = *l.trace.events.iter().rev().find(|e| e.1 == 0).unwrap();
        assert!(!up);
        // Detection = 3 x 200 ms after the last packet received, which was at most one
        // interval before the death.
        let last_rx = l.s[0].last_seen.unwrap();
        assert_eq!(t_down.saturating_since(last_rx), ms(600), "seed {seed}");
        assert!(t_down.saturating_since(death) <= ms(600), "seed {seed}");
        // Down packets go out at the idle rate (1 s less jitter), new discriminator.
        let after = l.sent_by(0, t_down);
        assert!(after
            .iter()
            .all(|p| p.1.state == State::Down && p.1.diag == Diag::Expired));
        assert!(after
            .iter()
            .all(|p| p.1.your_discr == 0 && p.1.desired_min_tx == 1_000_000));
        assert!(l
            .trace
            .logs
            .iter()
            .any(|(s, t)| *s == 0 && t.starts_with("(a) Expired after 6")));
    }
}

#[test]
fn session_comes_back_after_peer_restart() {
    let mut l = Link::new(params(50, 5), params(50, 5), 3);
    l.start(0);
    l.start(1);
    l.run(Instant(ms(3000)));
    l.alive[1] = false;
    l.run(Instant(ms(6000)));
    assert_eq!(l.s[0].local_state, State::Down);
    // The peer restarts from scratch.
    l.alive[1] = true;
    l.s[1] = Session::new("b", params(50, 5), &mut l.rng);
    l.start(1);
    l.run(Instant(ms(12000)));
    assert_eq!(l.s[0].local_state, State::Up);
    assert_eq!(l.s[1].local_state, State::Up);
    let ups = l.trace.events.iter().filter(|e| e.1 == 0 && e.2).count();
    assert_eq!(ups, 2);
}

#[test]
fn passive_waits_for_the_peer() {
    let mut p = params(100, 3);
    p.passive = true;
    let mut l = Link::new(p, params(100, 3), 11);
    l.start(0);
    l.run(Instant(ms(5000)));
    // Alone, a passive session sends nothing.
    assert!(l.sent_by(0, Instant::ZERO).is_empty());
    assert_eq!(l.s[0].next_deadline(), None);
    l.start(1);
    l.run(Instant(ms(10000)));
    assert_eq!(l.s[0].local_state, State::Up);
    assert_eq!(l.s[1].local_state, State::Up);
    // Both passive: nobody ever speaks.
    let mut l = Link::new(p, p, 12);
    l.start(0);
    l.start(1);
    l.run(Instant(ms(5000)));
    assert!(l.trace.sent.is_empty());
}

#[test]
fn peer_signalled_down() {
    let mut l = Link::new(params(100, 3), params(100, 3), 5);
    l.start(0);
    l.start(1);
    l.run(Instant(ms(3000)));
    // b's packets say Down (as after its reset): a goes Down with diag 3.
    let mut c = match l.s[1].send_now() {
        Action::Send(c) => c,
        _ => unreachable!(),
    };
    c.state = State::Down;
    let acts = l.s[0].handle(l.now, &c, &mut l.rng);
    assert_eq!(l.s[0].local_state, State::Down);
    assert_eq!(l.s[0].local_diag, Diag::NeighborSignaledDown);
    assert!(acts.contains(&Action::Event { up: false }));
    assert!(acts.iter().any(|a| matches!(a, Action::Log(l) if l.text
        == "(a) Entering Down state (Local diagnostic - Neighbor Signaled Session Down, Remote diagnostic - No Diagnostic)")));
}

#[test]
fn parameter_change_by_poll_sequence() {
    let mut l = Link::new(params(100, 3), params(100, 3), 9);
    l.start(0);
    l.start(1);
    l.run(Instant(ms(3000)));
    assert_eq!(l.s[1].local_detect_time, 300_000);
    // a reloads with slower timers: it polls, b answers Final, both renegotiate.
    let acts = l.s[0].reconfigure(params(300, 4));
    assert!(l.s[0].poll);
    l.apply(0, acts);
    let from = l.now;
    l.run(Instant(ms(6000)));
    assert!(l.sent_by(0, from).iter().any(|p| p.1.poll));
    assert!(l.sent_by(1, from).iter().any(|p| p.1.final_));
    assert!(!l.s[0].poll);
    assert_eq!(l.s[0].local_state, State::Up);
    // b must now send at a's min_rx, and detects a's death in 4 x 300 ms.
    assert_eq!(l.s[1].local_tx_intv, 300_000);
    assert_eq!(l.s[1].local_detect_time, 1_200_000);
    // a receives at its own min_rx now: 3 x 300 ms.
    assert_eq!(l.s[0].local_detect_time, 900_000);
    // No flap.
    assert_eq!(l.trace.events.iter().filter(|e| !e.2).count(), 2);
    assert!(l
        .trace
        .logs
        .iter()
        .any(|(s, t)| *s == 1 && t == "    Detection time is 1200000 us (was 300000 us)"));
}

#[test]
fn timer_dump_has_keepalived_layout() {
    let mut l = Link::new(params(100, 3), params(200, 3), 1);
    l.start(0);
    l.start(1);
    l.run(Instant(ms(5000)));
    let a: Vec<_> = l
        .trace
        .logs
        .iter()
        .filter(|x| x.0 == 0)
        .map(|x| x.1.as_str())
        .collect();
    // As keepalived 2.2.7 printed them for "peerB" (indent = name + 2).
    assert!(a.contains(&"(a) ---------------< Session parameters >--------------"));
    assert!(a.contains(&"             min_tx  min_rx  tx_intv  mult  detect_time"));
    assert!(a.contains(&"    local    100000  100000   200000     3       600000"));
    assert!(a.contains(&"    remote   200000  200000   200000     3       600000"));
}
