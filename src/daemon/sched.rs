//! How a child process is scheduled, as keepalived does it (its lib/process.c; man
//! keepalived.conf(5), `vrrp_priority` ... `min_auto_priority_delay`): nice value, SCHED_RR
//! priority with an RLIMIT_RTTIME guard, locked memory and CPU affinity, applied once the
//! configuration is loaded and undone while a reload runs; and the automatic switch to
//! realtime when the child's timers run late (`max_auto_priority`).
//!
//! The decisions ([`Plan`], [`next_auto_priority`], [`Plan::late`]) are pure; [`Sched`]
//! performs them on the calling thread (the child's main thread, whose settings every
//! thread it creates afterwards inherits).

use std::time::Duration;

use tracing::{info, warn};

use super::ChildKind;
use crate::config::model::global::{GlobalDefs, ProcessSched};

/// keepalived's RLIMIT_RTTIME when realtime is used without `*_rlimit_rttime` (µs).
pub const RLIMIT_RTTIME_DEFAULT: u64 = 10_000;
/// keepalived's `min_auto_priority_delay` default (µs).
pub const MIN_AUTO_PRIORITY_DELAY_DEFAULT: u32 = 1_000_000;
/// `sched_get_priority_min(SCHED_RR)` on Linux.
const RR_MIN: u32 = 1;

/// What one child is asked to do, from `global_defs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// nice value; 0 leaves it (keepalived skips a zero priority).
    pub nice: i32,
    /// SCHED_RR priority; 0 = none.
    pub rt_priority: u32,
    /// RLIMIT_RTTIME (hard; the soft limit is half, for a SIGXCPU warning first).
    pub rlimit_rttime: u64,
    pub no_swap: bool,
    pub cpus: Vec<u32>,
    /// Ceiling of the automatic realtime priority; 0 = never raised.
    pub max_auto_priority: u32,
    /// How late a timer must be before the priority is raised.
    pub min_auto_priority_delay: Duration,
    /// `vrrp` / `checker`, as in keepalived's messages.
    pub process: &'static str,
    /// `VRRP` / `Checker`.
    pub title: &'static str,
}

impl Plan {
    pub fn new(g: &GlobalDefs, kind: ChildKind) -> Plan {
        let (s, process, title): (&ProcessSched, _, _) = match kind {
            ChildKind::Vrrp => (&g.vrrp_sched, "vrrp", "VRRP"),
            ChildKind::Checker => (&g.checker_sched, "checker", "Checker"),
            ChildKind::Bfd => (&g.bfd_sched, "bfd", "BFD"),
        };
        Plan {
            nice: s.priority.map_or(0, i32::from),
            rt_priority: s.rt_priority.map_or(0, u32::from),
            rlimit_rttime: s.rlimit_rttime.unwrap_or(RLIMIT_RTTIME_DEFAULT),
            no_swap: s.no_swap,
            cpus: s.cpu_affinity.clone(),
            // -1 disables, as does the default 0.
            max_auto_priority: g
                .max_auto_priority
                .and_then(|p| u32::try_from(p).ok())
                .unwrap_or(0),
            min_auto_priority_delay: Duration::from_micros(u64::from(
                g.min_auto_priority_delay
                    .unwrap_or(MIN_AUTO_PRIORITY_DELAY_DEFAULT),
            )),
            process,
            title,
        }
    }

    /// Whether a timer `lateness` after its deadline calls for a higher priority
    /// (keepalived: strictly more than `min_auto_priority_delay`).
    pub fn late(&self, lateness: Duration) -> bool {
        self.max_auto_priority > 0 && lateness > self.min_auto_priority_delay
    }
}

/// The realtime priority after one more late timer: the minimum SCHED_RR priority first,
/// then one more each time up to `max`; `None` when it stays.
pub fn next_auto_priority(cur: u32, max: u32) -> Option<u32> {
    if max == 0 || (cur > 0 && cur >= max) {
        return None;
    }
    Some(if cur > 0 { cur + 1 } else { RR_MIN })
}

/// keepalived's `%ld.%6.6ld` seconds.
pub fn format_lateness(d: Duration) -> String {
    format!("{}.{:06}", d.as_secs(), d.subsec_micros())
}

/// The settings applied to this process, so that a reload can undo them.
#[derive(Debug, Default)]
pub struct Sched {
    cur_rt: u32,
    cur_rlimit: u64,
    /// RLIMIT_RTTIME to use when the priority is raised automatically.
    auto_rlimit: u64,
    orig_rlimit: Option<(u64, u64)>,
    orig_nice: Option<i32>,
    niced: bool,
    locked: bool,
    plan: Option<Plan>,
}

impl Sched {
    /// Applies `plan` (after the configuration is loaded, at start and after a reload).
    pub fn apply(&mut self, plan: &Plan) {
        if plan.rt_priority > 0 {
            self.set_realtime(plan.rt_priority, plan.rlimit_rttime);
        } else {
            if plan.nice != 0 {
                self.set_nice(plan.nice);
            }
            self.auto_rlimit = plan.rlimit_rttime;
        }
        if plan.no_swap {
            lock_memory();
            self.locked = true;
        }
        if !plan.cpus.is_empty() {
            let mut set = nix::sched::CpuSet::new();
            let ok = plan.cpus.iter().all(|&c| set.set(c as usize).is_ok())
                && nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set).is_ok();
            if !ok {
                warn!(
                    "unable to set cpu affinity to {} process ({})",
                    plan.process,
                    std::io::Error::last_os_error()
                );
            }
        }
        self.plan = Some(plan.clone());
    }

    /// Back to standard scheduling (a reload runs without realtime, as in keepalived).
    pub fn reset(&mut self) {
        if self.cur_rt > 0 {
            let sp = libc::sched_param { sched_priority: 0 };
            // SAFETY: sched_setscheduler reads the sched_param we own; pid 0 is this thread.
            if unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER, &sp) } != 0 {
                warn!("child process: cannot reset realtime scheduling");
            } else {
                self.cur_rt = 0;
                if self.cur_rlimit > 0 {
                    if let Some((soft, hard)) = self.orig_rlimit {
                        if nix::sys::resource::setrlimit(
                            nix::sys::resource::Resource::RLIMIT_RTTIME,
                            soft,
                            hard,
                        )
                        .is_err()
                        {
                            warn!("child process cannot reset realtime rlimit");
                        }
                    }
                    self.cur_rlimit = 0;
                }
            }
        }
        if self.niced {
            if let Some(orig) = self.orig_nice {
                if set_priority(orig).is_err() {
                    info!(
                        "Unable to reset process priority - {}",
                        std::io::Error::last_os_error()
                    );
                } else {
                    self.niced = false;
                }
            }
        }
        if self.locked {
            // SAFETY: munlockall has no arguments and only changes page locking.
            unsafe { libc::munlockall() };
            self.locked = false;
        }
    }

    /// A timer fired `lateness` after its deadline: with `max_auto_priority`, raise the
    /// realtime priority one step (keepalived's scheduler does it after each late wake-up).
    pub fn timer_late(&mut self, lateness: Duration) {
        let Some(plan) = self.plan.as_ref().filter(|p| p.late(lateness)) else {
            return;
        };
        info!(
            "A thread timer expired {} seconds ago",
            format_lateness(lateness)
        );
        let Some(next) = next_auto_priority(self.cur_rt, plan.max_auto_priority) else {
            return;
        };
        let rlimit = if self.cur_rlimit > 0 {
            0
        } else {
            self.auto_rlimit
        };
        self.set_realtime(next, rlimit);
        // keepalived counts the step (and says so) even if the kernel refused it.
        self.cur_rt = next;
        info!("Set realtime priority {next}");
    }

    /// SCHED_RR at `priority` (reset on fork: scripts run as normal processes), then
    /// RLIMIT_RTTIME `rlimit` µs (soft half of it) unless 0.
    fn set_realtime(&mut self, priority: u32, rlimit: u64) {
        let sp = libc::sched_param {
            sched_priority: i32::try_from(priority).unwrap_or(i32::MAX),
        };
        // SAFETY: sched_setscheduler reads the sched_param we own; pid 0 is this thread.
        let r =
            unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &sp) };
        if r != 0 {
            warn!("child process: cannot raise priority");
            return;
        }
        self.cur_rt = priority;
        if rlimit == 0 {
            return;
        }
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        if self.orig_rlimit.is_none() {
            self.orig_rlimit = getrlimit(Resource::RLIMIT_RTTIME).ok();
        }
        if setrlimit(Resource::RLIMIT_RTTIME, rlimit / 2, rlimit).is_err() {
            warn!("child process cannot set realtime rlimit");
        } else {
            self.cur_rlimit = rlimit;
        }
    }

    fn set_nice(&mut self, nice: i32) {
        if self.orig_nice.is_none() {
            // SAFETY: getpriority only reads this process's nice value.
            self.orig_nice = Some(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) });
        }
        match set_priority(nice) {
            Ok(()) => self.niced = true,
            Err(e) => info!("Unable to set process priority to {nice} - {e}"),
        }
    }

    /// Applies the last plan again (a reload that kept the running configuration).
    pub fn reapply(&mut self) {
        if let Some(p) = self.plan.take() {
            self.apply(&p);
        }
    }
}

fn set_priority(nice: i32) -> std::io::Result<()> {
    // SAFETY: setpriority only changes this thread's nice value.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// mlockall, pages locked as they are touched (keepalived also reserves 4 kB of stack).
fn lock_memory() {
    // SAFETY: mlockall has no pointer arguments; it only changes page locking.
    let r = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT) };
    if r == -1 {
        info!(
            "Unable to lock process in memory - {}",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_priority_steps_from_the_minimum_to_the_ceiling() {
        assert_eq!(next_auto_priority(0, 0), None);
        assert_eq!(next_auto_priority(0, 3), Some(1));
        assert_eq!(next_auto_priority(1, 3), Some(2));
        assert_eq!(next_auto_priority(3, 3), None);
        // a configured realtime priority above the ceiling stays
        assert_eq!(next_auto_priority(50, 3), None);
    }

    #[test]
    fn plan_defaults_and_lateness() {
        let mut g = GlobalDefs::default();
        let p = Plan::new(&g, ChildKind::Vrrp);
        assert_eq!((p.nice, p.rt_priority, p.max_auto_priority), (0, 0, 0));
        assert_eq!(p.rlimit_rttime, RLIMIT_RTTIME_DEFAULT);
        assert!(!p.late(Duration::from_secs(5)));
        g.max_auto_priority = Some(-1);
        assert!(!Plan::new(&g, ChildKind::Vrrp).late(Duration::from_secs(5)));
        g.max_auto_priority = Some(10);
        g.checker_sched.priority = Some(-5);
        let p = Plan::new(&g, ChildKind::Checker);
        assert_eq!((p.nice, p.process), (-5, "checker"));
        assert!(!p.late(Duration::from_secs(1)));
        assert!(p.late(Duration::from_micros(1_000_001)));
        g.min_auto_priority_delay = Some(200_000);
        assert!(Plan::new(&g, ChildKind::Vrrp).late(Duration::from_millis(201)));
    }

    #[test]
    fn lateness_as_keepalived_prints_it() {
        assert_eq!(
            format_lateness(Duration::from_micros(2_300_000)),
            "2.300000"
        );
        assert_eq!(
            format_lateness(Duration::from_micros(1_000_042)),
            "1.000042"
        );
    }
}
