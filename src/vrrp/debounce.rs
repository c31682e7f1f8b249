//! `interface_up_down_delays { IF DOWN_DELAY [UP_DELAY] }`: link-flap damping, as
//! keepalived 2.2.7's update_interface_flags (keepalived_netlink.c). A change of an
//! interface's up state is held for its delay; a change back before it expires cancels it,
//! so the flap is never reported. Only an interface seen up once is delayed. Pure: the
//! service feeds link events and the time, and applies what comes out.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What to do with one link state report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Report it now.
    Apply,
    /// Held until its delay expires (keepalived's log line).
    Hold(String),
    /// Nothing to report (no change, or a pending one cancelled); the line to log, if any.
    Drop(Option<String>),
}

#[derive(Debug, Clone)]
struct Link {
    /// The flags and up state last reported.
    flags: u32,
    up: bool,
    seen_up: bool,
    /// (up, flags, when) of a held change.
    pending: Option<(bool, u32, Instant)>,
    name: String,
}

/// The per-interface damping state.
#[derive(Debug, Default)]
pub struct Debounce {
    /// Interface name -> (down delay, up delay).
    delays: HashMap<String, (Duration, Duration)>,
    links: HashMap<u32, Link>,
}

impl Debounce {
    pub fn new(delays: HashMap<String, (Duration, Duration)>) -> Self {
        Debounce {
            delays,
            links: HashMap::new(),
        }
    }

    /// The links as they are at start: (index, up, flags).
    pub fn seed(&mut self, links: impl IntoIterator<Item = (u32, bool, u32)>) {
        for (ifindex, up, flags) in links {
            self.links.insert(
                ifindex,
                Link {
                    flags,
                    up,
                    seen_up: up,
                    pending: None,
                    name: String::new(),
                },
            );
        }
    }

    /// Link `ifindex` (`name`) is now `up` with `flags`.
    pub fn on_change(
        &mut self,
        ifindex: u32,
        name: &str,
        up: bool,
        flags: u32,
        now: Instant,
    ) -> Verdict {
        let delays = self.delays.get(name).copied();
        // A link first seen now (created) is reported as it is.
        let Some(l) = self.links.get_mut(&ifindex) else {
            self.links.insert(
                ifindex,
                Link {
                    flags,
                    up,
                    seen_up: up,
                    pending: None,
                    name: name.to_owned(),
                },
            );
            return Verdict::Apply;
        };
        name.clone_into(&mut l.name);
        let mut line = None;
        if let Some((p_up, _, at)) = l.pending {
            if p_up == up {
                l.pending = Some((up, flags, at));
                return Verdict::Drop(None);
            }
            l.pending = None;
            // keepalived cancels silently when the flags are back to the reported ones.
            if flags != l.flags {
                line = Some(format!("Delay timer for {name} cancelled"));
            }
        }
        if up == l.up {
            return Verdict::Drop(line);
        }
        let delay = delays.map_or(Duration::ZERO, |(down, upd)| if up { upd } else { down });
        if l.seen_up && !delay.is_zero() {
            let from = l.flags;
            l.pending = Some((up, flags, now + delay));
            return Verdict::Hold(format!(
                "{name}: Adding flags change from {from:#x} to {flags:#x} delay by {}",
                delay.as_micros()
            ));
        }
        l.up = up;
        l.flags = flags;
        l.seen_up |= up;
        Verdict::Apply
    }

    /// New delays (reload); held changes keep their time.
    pub fn set_delays(&mut self, delays: HashMap<String, (Duration, Duration)>) {
        self.delays = delays;
    }

    /// The held changes due at `now`: (index, name, up), now reported.
    pub fn due(&mut self, now: Instant) -> Vec<(u32, String, bool)> {
        let mut out = Vec::new();
        for (&ifindex, l) in &mut self.links {
            if let Some((up, flags, at)) = l.pending {
                if at <= now {
                    l.pending = None;
                    l.up = up;
                    l.flags = flags;
                    l.seen_up |= up;
                    out.push((ifindex, l.name.clone(), up));
                }
            }
        }
        out.sort_unstable();
        out
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.links
            .values()
            .filter_map(|l| l.pending.map(|p| p.2))
            .min()
    }

    /// The link is gone: nothing of it is held any more.
    pub fn forget(&mut self, ifindex: u32) {
        self.links.remove(&ifindex);
    }
}

/// keepalived's check_debounce_timers: a delay must stay below `(down_timer_adverts - 1)`
/// adverts of every instance on the interface, or the peer would take over meanwhile; it
/// is cut to that less 1/256 of an advert. With `down_timer_adverts 1` delays are dropped.
/// Returns the adjusted delays and the lines keepalived logs.
pub fn clamp(
    mut delays: HashMap<String, (Duration, Duration)>,
    instances: &[(String, String, u32, Duration)],
) -> (HashMap<String, (Duration, Duration)>, Vec<String>) {
    let mut lines = Vec::new();
    for (iname, ifname, dta, adv) in instances {
        let Some(d) = delays.get_mut(ifname) else {
            continue;
        };
        if d.0.is_zero() && d.1.is_zero() {
            continue;
        }
        if *dta <= 1 {
            lines.push(format!(
                "{iname}: cannot use debounce timers with down_timer_adverts = 1 - resetting"
            ));
            *d = (Duration::ZERO, Duration::ZERO);
            continue;
        }
        let limit = *adv * (dta - 1);
        if d.0 >= limit || d.1 >= limit {
            let cut = limit.saturating_sub(*adv / 256);
            if d.0 >= limit {
                d.0 = cut;
            }
            if d.1 >= limit {
                d.1 = cut;
            }
            lines.push(format!(
                "{iname}: interface {ifname} debounce timer(s) not less that {} * advert_int - resetting",
                dta - 1
            ));
        }
    }
    (delays, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: u32 = 0x11043;
    const DOWN: u32 = 0x1003;

    fn deb() -> (Debounce, Instant) {
        let mut d = Debounce::new(HashMap::from([(
            "eth0".to_string(),
            (Duration::from_millis(1500), Duration::from_secs(1)),
        )]));
        d.seed([(2, true, UP)]);
        (d, Instant::now())
    }

    #[test]
    fn a_short_flap_is_never_reported() {
        let (mut d, t) = deb();
        assert_eq!(
            d.on_change(2, "eth0", false, DOWN, t),
            Verdict::Hold(
                "eth0: Adding flags change from 0x11043 to 0x1003 delay by 1500000".into()
            )
        );
        assert_eq!(d.next_deadline(), Some(t + Duration::from_millis(1500)));
        assert_eq!(
            d.on_change(2, "eth0", true, UP, t + Duration::from_millis(500)),
            Verdict::Drop(None)
        );
        assert_eq!(d.next_deadline(), None);
        assert!(d.due(t + Duration::from_secs(5)).is_empty());
    }

    #[test]
    fn a_lasting_change_is_reported_after_its_delay() {
        let (mut d, t) = deb();
        assert!(matches!(
            d.on_change(2, "eth0", false, DOWN, t),
            Verdict::Hold(_)
        ));
        assert!(d.due(t + Duration::from_secs(1)).is_empty());
        assert_eq!(
            d.due(t + Duration::from_millis(1500)),
            vec![(2, "eth0".to_string(), false)]
        );
        assert_eq!(
            d.on_change(2, "eth0", true, UP, t + Duration::from_secs(3)),
            Verdict::Hold(
                "eth0: Adding flags change from 0x1003 to 0x11043 delay by 1000000".into()
            )
        );
        assert_eq!(
            d.due(t + Duration::from_secs(4)),
            vec![(2, "eth0".to_string(), true)]
        );
    }

    #[test]
    fn undelayed_and_never_up_links_apply_at_once() {
        let (mut d, t) = deb();
        assert_eq!(d.on_change(3, "eth1", false, DOWN, t), Verdict::Apply);
        // a new eth0 (another index) never seen up: its first up is not delayed
        assert_eq!(d.on_change(9, "eth0", true, UP, t), Verdict::Apply);
        assert!(matches!(
            d.on_change(9, "eth0", false, DOWN, t),
            Verdict::Hold(_)
        ));
    }

    #[test]
    fn clamp_follows_the_down_timer() {
        let delays =
            HashMap::from([("eth0".to_string(), (Duration::from_secs(3), Duration::ZERO))]);
        let (d, lines) = clamp(
            delays.clone(),
            &[("VI_1".into(), "eth0".into(), 3, Duration::from_secs(1))],
        );
        assert_eq!(
            d["eth0"].0,
            Duration::from_secs(2) - Duration::from_secs(1) / 256
        );
        assert_eq!(
            lines,
            ["VI_1: interface eth0 debounce timer(s) not less that 2 * advert_int - resetting"]
        );
        let (d, lines) = clamp(
            delays,
            &[("VI_1".into(), "eth0".into(), 1, Duration::from_secs(1))],
        );
        assert_eq!(d["eth0"], (Duration::ZERO, Duration::ZERO));
        assert_eq!(lines.len(), 1);
    }
}
