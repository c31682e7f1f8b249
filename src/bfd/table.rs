//! All sessions of the BFD child (keepalived's `bfd_data`), still pure: building them from
//! the configuration (a reload keeps a session of the same name, its state and timers),
//! matching a received packet to its session (your discriminator, or the addresses while
//! it is zero), the TTL and authentication checks, and unique discriminators.

use std::net::IpAddr;

use crate::bfd::packet::{self, DropReason, HOPLIMIT_V6, TTL_V4};
use crate::bfd::session::{Action, Instant, Params, Random, Session, SplitMix64};
use crate::config::model::vrrp::track::BfdInstance;

/// One configured session and where it sends.
#[derive(Debug, Clone)]
pub struct Entry {
    pub neighbor: IpAddr,
    pub source: Option<IpAddr>,
    /// TTL / hop limit sent, and the GTSM reference for received packets.
    pub ttl: u8,
    /// 255: no TTL check (`max_hops -1`).
    pub max_hops: u8,
    /// RFC 5883: sends to and listens on port 4784.
    pub multihop: bool,
    /// Which children hear about state changes.
    pub vrrp: bool,
    pub checker: bool,
    pub session: Session,
}

/// Why a received packet went nowhere; `Display` is keepalived's `-D` line(s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discard {
    /// Failed the sanity checks.
    Bogus { reason: DropReason, from: String },
    /// No session has this discriminator (or these addresses).
    NoSession { from: String, your_discr: u32 },
    /// Matched a session but failed its TTL or authentication check.
    Refused { reason: DropReason, from: String },
    /// Matched a session that has no sending socket (AdminDown).
    AdminDown { from: String },
}

impl std::fmt::Display for Discard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Discard::Bogus { reason, from } => {
                write!(f, "{reason}\nDiscarding bogus packet from {from}")
            }
            Discard::NoSession { from, your_discr } => write!(
                f,
                "Discarding packet from {from} (session is not found - your discriminator field is 0x{your_discr:08x})"
            ),
            Discard::Refused {
                reason: DropReason::Auth,
                from,
            } => write!(f, "Discarding packet from {from} ({})", DropReason::Auth),
            Discard::Refused { reason, .. } => write!(f, "{reason}"),
            Discard::AdminDown { from } => write!(
                f,
                "Discarding packet from {from} (session is in AdminDown state)"
            ),
        }
    }
}

/// keepalived's `[addr]:port`.
pub fn addr_pair(addr: IpAddr, port: u16) -> String {
    format!("[{addr}]:{port}")
}

/// The sessions, and the generator for their jitter and discriminators.
pub struct Table {
    pub entries: Vec<Entry>,
    rng: SplitMix64,
}

/// Draws discriminators no other session uses (keepalived `bfd_get_random_discr`).
struct Unique<'a> {
    rng: &'a mut SplitMix64,
    taken: Vec<u32>,
}

impl Random for Unique<'_> {
    fn range(&mut self, min: u32, max: u32) -> u32 {
        Random::range(self.rng, min, max)
    }
    fn discriminator(&mut self) -> u32 {
        loop {
            let d = self.rng.discriminator();
            if !self.taken.contains(&d) {
                self.taken.push(d);
                return d;
            }
        }
    }
}

/// Which children hear about a session: those named by `vrrp` / `checker`, both when
/// neither is.
pub fn event_targets(b: &BfdInstance) -> (bool, bool) {
    (b.vrrp || !b.checker, b.checker || !b.vrrp)
}

/// A configured instance's effective values: keepalived's defaults (TTL 255 for IPv4,
/// hop limit 64 for IPv6) and its cap of `max_hops` at the TTL.
pub fn params_of(b: &BfdInstance) -> Option<(IpAddr, Params, u8, u8)> {
    let neighbor = b.neighbor?;
    let ttl = b.ttl.unwrap_or(if neighbor.is_ipv4() {
        TTL_V4
    } else {
        HOPLIMIT_V6
    });
    let max_hops = b.max_hops.unwrap_or(u8::MAX).min(ttl);
    let params = Params {
        min_rx: b.min_rx_us,
        min_tx: b.min_tx_us,
        idle_tx: b.idle_tx_us,
        detect_mult: b.multiplier,
        passive: b.passive,
    };
    Some((neighbor, params, ttl, max_hops))
}

impl Table {
    pub fn new(seed: u64) -> Table {
        Table {
            entries: Vec::new(),
            rng: SplitMix64::new(seed),
        }
    }

    fn unique(&mut self) -> (Unique<'_>, &mut Vec<Entry>) {
        let taken = self.entries.iter().map(|e| e.session.local_discr).collect();
        (
            Unique {
                rng: &mut self.rng,
                taken,
            },
            &mut self.entries,
        )
    }

    /// Applies a configuration: sessions of known names keep their state (new parameters
    /// may start a poll sequence), new ones start, vanished ones go. Returns the actions per
    /// session index in the new table; a kept session's index is also in `kept`.
    pub fn configure(
        &mut self,
        now: Instant,
        instances: &[BfdInstance],
    ) -> (Vec<(usize, Action)>, Vec<usize>) {
        let mut old: Vec<Entry> = std::mem::take(&mut self.entries);
        let mut out = Vec::new();
        let mut kept = Vec::new();
        let mut fresh = Vec::new();
        for b in instances {
            let Some((neighbor, params, ttl, max_hops)) = params_of(b) else {
                continue;
            };
            let prev = old
                .iter()
                .position(|e| e.session.name == b.name)
                .map(|i| old.swap_remove(i));
            let idx = self.entries.len();
            let entry = match prev {
                Some(mut e) => {
                    for a in e.session.reconfigure(params) {
                        out.push((idx, a));
                    }
                    e.neighbor = neighbor;
                    e.source = b.source;
                    e.ttl = ttl;
                    e.max_hops = max_hops;
                    e.multihop = b.multihop;
                    (e.vrrp, e.checker) = event_targets(b);
                    kept.push(idx);
                    e
                }
                None => {
                    fresh.push(idx);
                    // Unique among the sessions kept so far (those left in `old` go).
                    let (mut r, _) = self.unique();
                    let (vrrp, checker) = event_targets(b);
                    Entry {
                        neighbor,
                        source: b.source,
                        ttl,
                        max_hops,
                        multihop: b.multihop,
                        vrrp,
                        checker,
                        session: Session::new(&b.name, params, &mut r),
                    }
                }
            };
            self.entries.push(entry);
        }
        for idx in fresh {
            let (mut r, entries) = self.unique();
            for a in entries[idx].session.start(now, &mut r) {
                out.push((idx, a));
            }
        }
        (out, kept)
    }

    /// A UDP payload received from `src:sport` on `dst` with TTL / hop limit `ttl` (0 if
    /// the kernel gave none), on the multihop port or the single-hop one: only sessions of
    /// that kind match. Returns the session's index and its actions.
    #[allow(clippy::too_many_arguments)]
    pub fn receive(
        &mut self,
        now: Instant,
        multihop: bool,
        src: IpAddr,
        sport: u16,
        dst: Option<IpAddr>,
        ttl: u8,
        buf: &[u8],
    ) -> Result<(usize, Vec<Action>), Discard> {
        let from = addr_pair(src, sport);
        let pkt = packet::parse(buf).map_err(|reason| Discard::Bogus {
            reason,
            from: from.clone(),
        })?;
        let idx = self
            .find(multihop, src, dst, pkt.your_discr)
            .ok_or(Discard::NoSession {
                from: from.clone(),
                your_discr: pkt.your_discr,
            })?;
        let e = &self.entries[idx];
        packet::check_ttl(src.is_ipv4(), ttl, e.ttl, e.max_hops)
            .and_then(|()| pkt.check_auth())
            .map_err(|reason| Discard::Refused {
                reason,
                from: from.clone(),
            })?;
        if e.session.local_state == packet::State::AdminDown {
            return Err(Discard::AdminDown { from });
        }
        let (mut r, entries) = self.unique();
        let acts = entries[idx].session.handle(now, &pkt, &mut r);
        Ok((idx, acts))
    }

    /// The session a packet is for: by your discriminator, or by the addresses while it is
    /// zero; only sessions of the port it came to.
    fn find(&self, multihop: bool, src: IpAddr, dst: Option<IpAddr>, your: u32) -> Option<usize> {
        self.entries.iter().position(|e| {
            e.multihop == multihop
                && if your == 0 {
                    e.neighbor == src && (e.source.is_none() || dst.is_none() || e.source == dst)
                } else {
                    e.session.local_discr == your
                }
        })
    }

    /// The session a datagram would go to, before any check (`None` if it matches none or
    /// is no control packet): the service first retries an AdminDown session's socket.
    pub fn session_for(
        &self,
        multihop: bool,
        src: IpAddr,
        dst: Option<IpAddr>,
        buf: &[u8],
    ) -> Option<usize> {
        let pkt = packet::parse(buf).ok()?;
        self.find(multihop, src, dst, pkt.your_discr)
    }

    /// Session `i`'s sending socket is open again: out of AdminDown (see
    /// [`Session::admin_up`]).
    pub fn admin_up(&mut self, i: usize, now: Instant, by_packet: bool) -> Vec<Action> {
        let (mut r, entries) = self.unique();
        entries
            .get_mut(i)
            .map(|e| e.session.admin_up(now, by_packet, &mut r))
            .unwrap_or_default()
    }

    /// Runs every session's due timers.
    pub fn poll(&mut self, now: Instant) -> Vec<(usize, Action)> {
        let (mut r, entries) = self.unique();
        let mut out = Vec::new();
        for (i, e) in entries.iter_mut().enumerate() {
            if e.session.next_deadline().is_some_and(|t| t <= now) {
                out.extend(e.session.poll(now, &mut r).into_iter().map(|a| (i, a)));
            }
        }
        out
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries
            .iter()
            .filter_map(|e| e.session.next_deadline())
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bfd::packet::State;
    use crate::config::diagnostic::Span;
    use std::time::Duration;

    fn inst(name: &str, nbr: &str, min: u32) -> BfdInstance {
        let mut b = BfdInstance::new(name, Span::default());
        b.neighbor = Some(nbr.parse().unwrap());
        b.min_rx_us = min * 1000;
        b.min_tx_us = min * 1000;
        b.max_hops = Some(0);
        b
    }

    fn sent(acts: &[(usize, Action)]) -> Vec<(usize, packet::Control)> {
        acts.iter()
            .filter_map(|(i, a)| match a {
                Action::Send(c) => Some((*i, *c)),
                _ => None,
            })
            .collect()
    }

    /// A peer's first packet: Down, your discriminator 0, 1 s / 100 ms.
    fn peer_down(my_discr: u32) -> packet::Control {
        packet::Control {
            diag: packet::Diag::NoDiag,
            state: State::Down,
            poll: false,
            final_: false,
            cplane: false,
            auth: false,
            demand: false,
            multipoint: false,
            detect_mult: 3,
            my_discr,
            your_discr: 0,
            desired_min_tx: 1_000_000,
            required_min_rx: 100_000,
            required_min_echo_rx: 0,
        }
    }

    #[test]
    fn lookup_by_address_then_discriminator() {
        let mut t = Table::new(1);
        let (acts, kept) = t.configure(
            Instant::ZERO,
            &[inst("a", "192.0.2.2", 100), inst("b", "192.0.2.3", 100)],
        );
        assert!(kept.is_empty());
        assert_eq!(sent(&acts).len(), 2);
        assert_ne!(
            t.entries[0].session.local_discr,
            t.entries[1].session.local_discr
        );
        // The peer of "b" says Down with your discriminator 0: matched by address.
        let mut peer = peer_down(77);
        let src: IpAddr = "192.0.2.3".parse().unwrap();
        let (i, _) = t
            .receive(
                Instant(Duration::from_millis(10)),
                false,
                src,
                49152,
                None,
                255,
                &peer.encode(),
            )
            .unwrap();
        assert_eq!(i, 1);
        assert_eq!(t.entries[1].session.local_state, State::Init);
        // Now with our discriminator: found by it, whatever the address.
        peer.state = State::Init;
        peer.your_discr = t.entries[1].session.local_discr;
        let (i, _) = t
            .receive(
                Instant(Duration::from_millis(20)),
                false,
                src,
                49152,
                None,
                255,
                &peer.encode(),
            )
            .unwrap();
        assert_eq!(i, 1);
        assert_eq!(t.entries[1].session.local_state, State::Up);
        // Unknown discriminator, unknown address, TTL 254, auth bit.
        peer.your_discr = 12345;
        assert_eq!(
            t.receive(Instant::ZERO, false, src, 5, None, 255, &peer.encode())
                .unwrap_err()
                .to_string(),
            "Discarding packet from [192.0.2.3]:5 (session is not found - your discriminator field is 0x00003039)"
        );
        peer.your_discr = 0;
        peer.state = State::Down;
        assert!(matches!(
            t.receive(
                Instant::ZERO,
                false,
                "192.0.2.9".parse().unwrap(),
                5,
                None,
                255,
                &peer.encode()
            ),
            Err(Discard::NoSession { .. })
        ));
        // The same packet on the multihop port: no multihop session.
        assert!(matches!(
            t.receive(Instant::ZERO, true, src, 5, None, 255, &peer.encode()),
            Err(Discard::NoSession { .. })
        ));
        assert!(matches!(
            t.receive(Instant::ZERO, false, src, 5, None, 254, &peer.encode()),
            Err(Discard::Refused {
                reason: DropReason::Ttl { .. },
                ..
            })
        ));
        peer.auth = true;
        assert!(matches!(
            t.receive(Instant::ZERO, false, src, 5, None, 255, &peer.encode()),
            Err(Discard::Refused {
                reason: DropReason::Auth,
                ..
            })
        ));
        assert_eq!(
            t.receive(Instant::ZERO, false, src, 5, None, 255, &[0u8; 3])
                .unwrap_err()
                .to_string(),
            "Packet is too small: 3 bytes\nDiscarding bogus packet from [192.0.2.3]:5"
        );
    }

    #[test]
    fn admin_down_discards_until_the_socket_opens() {
        let mut t = Table::new(3);
        t.configure(Instant::ZERO, &[inst("a", "192.0.2.2", 100)]);
        let acts = t.entries[0].session.admin_down();
        assert!(matches!(&acts[..], [Action::Log(l)] if l.text == "(a) Entering AdminDown state"));
        assert_eq!(t.entries[0].session.next_deadline(), None);
        let peer = peer_down(9);
        let src: IpAddr = "192.0.2.2".parse().unwrap();
        let buf = peer.encode();
        assert_eq!(t.session_for(false, src, None, &buf), Some(0));
        assert_eq!(
            t.receive(Instant::ZERO, false, src, 7, None, 255, &buf)
                .unwrap_err()
                .to_string(),
            "Discarding packet from [192.0.2.2]:7 (session is in AdminDown state)"
        );
        // Opened for that packet: Init, sending again, and the packet is handled.
        t.admin_up(0, Instant::ZERO, true);
        assert_eq!(t.entries[0].session.local_state, State::Init);
        assert!(t.entries[0].session.next_deadline().is_some());
        assert!(t
            .receive(Instant::ZERO, false, src, 7, None, 255, &buf)
            .is_ok());
        // By the minute's retry: Down.
        t.entries[0].session.admin_down();
        t.admin_up(0, Instant::ZERO, false);
        assert_eq!(t.entries[0].session.local_state, State::Down);
    }

    #[test]
    fn reload_keeps_sessions_by_name() {
        let mut t = Table::new(2);
        t.configure(
            Instant::ZERO,
            &[inst("a", "192.0.2.2", 100), inst("b", "192.0.2.3", 100)],
        );
        let discr_b = t.entries[1].session.local_discr;
        t.entries[1].session.local_state = State::Up;
        let (acts, kept) = t.configure(
            Instant(Duration::from_secs(1)),
            &[inst("b", "192.0.2.3", 300), inst("c", "192.0.2.4", 100)],
        );
        assert_eq!(kept, [0]);
        assert_eq!(t.entries.len(), 2);
        assert_eq!(t.entries[0].session.local_discr, discr_b);
        assert_eq!(t.entries[0].session.local_state, State::Up);
        // Timers changed: poll sequence; the new session starts sending.
        assert!(t.entries[0].session.poll);
        assert_eq!(sent(&acts), [(1, sent(&acts)[0].1)]);
        assert_eq!(t.entries[1].session.name, "c");
    }

    #[test]
    fn effective_ttl_and_max_hops() {
        let mut b = inst("a", "2001:db8::1", 10);
        let (_, p, ttl, hops) = params_of(&b).unwrap();
        assert_eq!((ttl, hops, p.min_rx, p.idle_tx), (64, 0, 10_000, 1_000_000));
        b.max_hops = None;
        assert_eq!(params_of(&b).unwrap().3, 64);
        let b = inst("a", "192.0.2.1", 10);
        assert_eq!(params_of(&b).unwrap().2, 255);
    }
}
