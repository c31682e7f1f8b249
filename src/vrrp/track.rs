//! Tracker state for `vrrp_script`, `track_file` and `vrrp_track_process`, and how an
//! instance combines them.
//!
//! The core is pure: results and readings come in, state changes and log lines come out.
//! A small reader at the end ([`scan_processes`]) does the I/O for the caller; tracked files
//! are read by [`crate::watch`].
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::model::vrrp::track::{
    ParamMatch, TrackFile, TrackProcess, TrackRef, VrrpScript,
};
use crate::script::ScriptResult;

/// Where a script stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptStatus {
    /// Not reported yet (without `init_fail`): counts neither as up nor as down for
    /// weighted tracking; a weight-0 tracker holds the instance down until it reports.
    Init,
    Ok,
    Failed,
}

/// The result counter of one `vrrp_script`: 0..rise+fall−1, OK when ≥ rise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptTracker {
    pub name: String,
    pub weight: i32,
    pub reverse: bool,
    rise: u32,
    fall: u32,
    counter: u32,
    last_status: i32,
    status: ScriptStatus,
}

impl ScriptTracker {
    pub fn new(s: &VrrpScript) -> Self {
        let rise = s.rise.max(1);
        let fall = s.fall.max(1);
        ScriptTracker {
            name: s.name.clone(),
            weight: s.weight,
            reverse: s.weight_reverse,
            rise,
            fall,
            counter: if s.init_fail { 0 } else { rise - 1 },
            last_status: 0,
            status: if s.init_fail {
                ScriptStatus::Failed
            } else {
                ScriptStatus::Init
            },
        }
    }

    pub fn status(&self) -> ScriptStatus {
        self.status
    }

    /// keepalived's `result` counter (the data dump's `Result`).
    pub fn counter(&self) -> u32 {
        self.counter
    }

    /// Whether the script currently counts as up.
    pub fn is_ok(&self) -> bool {
        self.status == ScriptStatus::Ok
    }

    /// After a reload keepalived keeps a script that was OK as OK.
    pub fn considered_successful_on_reload(&mut self) -> String {
        self.counter = self.rise + self.fall - 1;
        self.status = ScriptStatus::Ok;
        format!("VRRP_Script({}) considered successful on reload", self.name)
    }

    /// After a reload keepalived keeps a script that was failing as failed.
    pub fn considered_unsuccessful_on_reload(&mut self) -> String {
        self.counter = 0;
        self.status = ScriptStatus::Failed;
        format!(
            "VRRP_Script({}) considered unsuccessful on reload",
            self.name
        )
    }

    /// Keeps the last exit status of the same script before a reload, so that an unchanged
    /// status is not logged again (`Script ... now returning N`).
    pub fn keep_last_status(&mut self, old: &ScriptTracker) {
        self.last_status = old.last_status;
    }

    /// Feeds one run's result. Returns the log lines and, when the script changed between
    /// up and down, its new state (`true` = up).
    pub fn on_result(&mut self, r: ScriptResult) -> (Option<bool>, Vec<String>) {
        let mut logs = Vec::new();
        let top = self.rise + self.fall - 1;
        let was_init = self.status == ScriptStatus::Init;
        let failure_text = match r {
            ScriptResult::Exited(code) => {
                if code != self.last_status {
                    logs.push(format!("Script `{}` now returning {}", self.name, code));
                }
                self.last_status = code;
                if code == 0 {
                    if self.counter < self.rise - 1 {
                        self.counter += 1;
                    } else if self.counter != top || self.status != ScriptStatus::Ok {
                        let changed = self.status != ScriptStatus::Ok;
                        self.counter = top;
                        if changed {
                            logs.push(format!("VRRP_Script({}) succeeded", self.name));
                            self.status = ScriptStatus::Ok;
                            return (Some(true), logs);
                        }
                    }
                    return (None, logs);
                }
                format!("failed (exited with status {code})")
            }
            ScriptResult::Signaled(sig) => format!("failed (due to signal {sig})"),
            ScriptResult::TimedOut => String::from("timed_out"),
        };
        if self.counter > self.rise {
            self.counter -= 1;
            return (None, logs);
        }
        self.counter = 0;
        if self.status == ScriptStatus::Ok || was_init {
            logs.push(format!("VRRP_Script({}) {}", self.name, failure_text));
            self.status = ScriptStatus::Failed;
            return (Some(false), logs);
        }
        (None, logs)
    }
}

/// Contribution of an up/down tracker with `weight`: applied while
/// `up == (weight > 0)`, negated by `reverse`.
pub fn weighted(up: bool, weight: i32, reverse: bool) -> i32 {
    let mult = if reverse { -1 } else { 1 };
    if weight != 0 && up == (weight > 0) {
        weight * mult
    } else {
        0
    }
}

/// Whether a weight-0 tracker faults the instance: when down (with reverse: when up).
pub fn weight0_fault(up: bool, reverse: bool) -> bool {
    up == reverse
}

/// `track_file` status: value × weight (× −1 reversed), capped to [−254, 253].
/// `None` = FAULT.
pub fn track_file_status(value: i64, weight: i32, reverse: bool) -> Option<i32> {
    if weight == 0 {
        // weight 0: any non-zero value faults (reverse: zero faults)
        return ((value != 0) == reverse).then_some(0);
    }
    let mult: i64 = if reverse { -1 } else { 1 };
    let v = value
        .saturating_mul(i64::from(weight))
        .saturating_mul(mult)
        .clamp(-254, 253);
    (v > -254).then_some(v as i32)
}

/// The current value of one `track_file`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTracker {
    pub name: String,
    pub weight: i32,
    pub reverse: bool,
    pub value: i64,
}

impl FileTracker {
    pub fn new(f: &TrackFile) -> Self {
        FileTracker {
            name: f.name.clone(),
            weight: f.weight,
            reverse: f.weight_reverse,
            value: f.init.map_or(0, |i| i.value),
        }
    }

    /// Records a new value; returns whether it changed.
    pub fn set(&mut self, value: i64) -> bool {
        std::mem::replace(&mut self.value, value) != value
    }
}

/// Whether a process's comm / argv matches a `vrrp_track_process`. The parameter rules are
/// keepalived's, which compares the NUL-separated argument bytes: `partial` wants the
/// configured arguments (each with its NUL) as a prefix, `initial` the same but one byte
/// shorter, so the last configured argument may be the start of a longer one.
pub fn process_matches(tp: &TrackProcess, comm: &str, cmdline: &[String]) -> bool {
    let Some((name, params)) = tp.process.split_first() else {
        return false;
    };
    if !tp.full_command {
        // /proc/PID/comm holds at most 15 bytes of the name
        let n = name.as_bytes();
        let short = n.get(..15).unwrap_or(n);
        return comm.as_bytes() == short;
    }
    let Some((prog, args)) = cmdline.split_first() else {
        return false;
    };
    if prog != name {
        return false;
    }
    let first_equal = |n: usize| {
        args.len() >= params.len() && args.iter().zip(params).take(n).all(|(a, p)| a == p)
    };
    match tp.param_match {
        ParamMatch::None => true,
        ParamMatch::Exact => args == params,
        ParamMatch::Partial => first_equal(params.len()),
        ParamMatch::Initial => match params.split_last() {
            None => true,
            Some((last, _)) => {
                let i = params.len() - 1;
                first_equal(i) && args.get(i).is_some_and(|a| a.starts_with(last.as_str()))
            }
        },
    }
}

/// Quorum state of one `vrrp_track_process`, with the fork/terminate delays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessTracker {
    pub name: String,
    pub weight: i32,
    pub reverse: bool,
    quorum: u32,
    quorum_max: Option<u32>,
    fork_delay: Duration,
    terminate_delay: Duration,
    count: u32,
    up: bool,
    /// A change waiting for its delay: (new state, when).
    pending: Option<(bool, Instant)>,
}

impl ProcessTracker {
    pub fn new(tp: &TrackProcess) -> Self {
        let or_delay = |d: Duration| if d.is_zero() { tp.delay } else { d };
        ProcessTracker {
            name: tp.name.clone(),
            weight: tp.weight,
            reverse: tp.weight_reverse,
            quorum: tp.quorum,
            quorum_max: tp.quorum_max,
            fork_delay: or_delay(tp.fork_delay),
            terminate_delay: or_delay(tp.terminate_delay),
            count: 0,
            up: false,
            pending: None,
        }
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// The quorum state a delayed change is waiting to set (`fork_delay` when `true`,
    /// `terminate_delay` when `false`).
    pub fn pending_change(&self) -> Option<bool> {
        self.pending.map(|(up, _)| up)
    }

    fn in_quorum(&self, n: u32) -> bool {
        n >= self.quorum && self.quorum_max.map_or(true, |m| n <= m)
    }

    /// Initial state from the first scan: no delay, no log.
    pub fn init(&mut self, count: u32) {
        self.count = count;
        self.up = self.in_quorum(count);
        self.pending = None;
    }

    /// A new count of matching processes. Returns the new state and its log line when the
    /// quorum changes now; a delayed change waits for [`Self::handle_timeout`].
    pub fn on_count(&mut self, count: u32, now: Instant) -> Option<(bool, String)> {
        self.count = count;
        let want = self.in_quorum(count);
        if want == self.up {
            self.pending = None;
            return None;
        }
        if self.pending.is_some_and(|(s, _)| s == want) {
            return None;
        }
        let delay = if want {
            self.fork_delay
        } else {
            self.terminate_delay
        };
        if delay.is_zero() {
            self.pending = None;
            return Some(self.flip(want));
        }
        self.pending = Some((want, now + delay));
        None
    }

    /// When the pending delayed change is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.map(|(_, t)| t)
    }

    pub fn handle_timeout(&mut self, now: Instant) -> Option<(bool, String)> {
        match self.pending {
            Some((want, t)) if now >= t => {
                self.pending = None;
                Some(self.flip(want))
            }
            _ => None,
        }
    }

    fn flip(&mut self, up: bool) -> (bool, String) {
        self.up = up;
        let what = if up { "gained" } else { "lost" };
        (
            up,
            format!("Quorum {what} for tracked process {}", self.name),
        )
    }
}

/// All trackers of the VRRP child, by name.
#[derive(Debug, Clone, Default)]
pub struct Trackers {
    pub scripts: HashMap<String, ScriptTracker>,
    pub files: HashMap<String, FileTracker>,
    pub processes: HashMap<String, ProcessTracker>,
}

/// What the trackers of one instance amount to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackSummary {
    /// A weight-0 tracker is down (or up, reversed), or a track_file reached −254.
    pub fault: bool,
    /// Some weight-0 script has not reported yet (keepalived holds the instance in INIT).
    pub init: bool,
    /// Sum of weighted contributions, to add to the base priority.
    pub weight: i32,
}

impl Trackers {
    pub fn new(scripts: &[VrrpScript], files: &[TrackFile], processes: &[TrackProcess]) -> Self {
        Trackers {
            // keepalived 2.2.7 resets `init_fail` when a track_script names the script
            // (vrrp_track.c sets its init state back to INIT), and a script nothing tracks
            // affects nothing: the instance waits for the first result either way
            scripts: scripts
                .iter()
                .map(|s| {
                    let s = VrrpScript {
                        init_fail: false,
                        ..s.clone()
                    };
                    (s.name.clone(), ScriptTracker::new(&s))
                })
                .collect(),
            files: files
                .iter()
                .map(|f| (f.name.clone(), FileTracker::new(f)))
                .collect(),
            processes: processes
                .iter()
                .map(|p| (p.name.clone(), ProcessTracker::new(p)))
                .collect(),
        }
    }

    /// Combines an instance's (or sync group's) tracker references into fault and weight.
    /// A reference's own `weight`/`reverse` override the object's (track_*); names
    /// that are not tracked here are skipped.
    pub fn summarize(
        &self,
        scripts: &[TrackRef],
        files: &[TrackRef],
        processes: &[TrackRef],
    ) -> TrackSummary {
        let mut s = TrackSummary::default();
        for r in scripts {
            let Some(t) = self.scripts.get(&r.name) else {
                continue;
            };
            let (w, rev) = ref_weight(r, t.weight, t.reverse);
            match t.status {
                ScriptStatus::Init if w == 0 => s.init = true,
                ScriptStatus::Init => {}
                st => add(&mut s, st == ScriptStatus::Ok, w, rev),
            }
        }
        for r in files {
            let Some(t) = self.files.get(&r.name) else {
                continue;
            };
            let (w, rev) = ref_weight(r, t.weight, t.reverse);
            match track_file_status(t.value, w, rev) {
                Some(v) => s.weight = s.weight.saturating_add(v),
                None => s.fault = true,
            }
        }
        for r in processes {
            let Some(t) = self.processes.get(&r.name) else {
                continue;
            };
            let (w, rev) = ref_weight(r, t.weight, t.reverse);
            add(&mut s, t.up, w, rev);
        }
        s
    }
}

fn ref_weight(r: &TrackRef, own: i32, own_reverse: bool) -> (i32, bool) {
    match r.weight {
        Some(w) => (w, r.reverse),
        None => (own, own_reverse),
    }
}

fn add(s: &mut TrackSummary, up: bool, w: i32, rev: bool) {
    if w == 0 {
        s.fault |= weight0_fault(up, rev);
    } else {
        s.weight = s.weight.saturating_add(weighted(up, w, rev));
    }
}

/// Effective priority from base and tracker weight: clamp to 1..254, 255 stays.
pub fn effective_priority(base: u8, weight: i32) -> u8 {
    if base == 255 {
        return 255;
    }
    (i32::from(base).saturating_add(weight)).clamp(1, 254) as u8
}

// ---- I/O helpers -------------------------------------------------------------------------

/// Counts the processes matching each tracker, from `/proc` (or another procfs root).
pub fn scan_processes(proc_root: &std::path::Path, tps: &[TrackProcess]) -> Vec<u32> {
    let mut counts = vec![0u32; tps.len()];
    let Ok(dir) = std::fs::read_dir(proc_root) else {
        return counts;
    };
    for e in dir.flatten() {
        let fname = e.file_name();
        if !fname.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let p = e.path();
        let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
        let comm = comm.trim_end_matches('\n');
        let cmdline: Vec<String> = std::fs::read(p.join("cmdline"))
            .map(|b| {
                b.split(|&c| c == 0)
                    .filter(|s| !s.is_empty())
                    .map(|s| String::from_utf8_lossy(s).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        for (n, tp) in counts.iter_mut().zip(tps) {
            if process_matches(tp, comm, &cmdline) {
                *n += 1;
            }
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostic::Span;

    fn script(rise: u32, fall: u32, init_fail: bool) -> ScriptTracker {
        let mut s = VrrpScript::new("chk", Span::default());
        s.rise = rise;
        s.fall = fall;
        s.init_fail = init_fail;
        ScriptTracker::new(&s)
    }

    #[test]
    fn one_success_makes_a_fresh_script_ok() {
        let mut t = script(1, 1, false);
        assert_eq!(t.status(), ScriptStatus::Init);
        let (c, logs) = t.on_result(ScriptResult::Exited(0));
        assert_eq!(c, Some(true));
        assert_eq!(logs, vec!["VRRP_Script(chk) succeeded"]);
    }

    #[test]
    fn first_failure_of_a_fresh_script_is_reported() {
        let mut t = script(2, 2, false);
        let (c, logs) = t.on_result(ScriptResult::Exited(1));
        assert_eq!(c, Some(false));
        assert_eq!(
            logs,
            vec![
                "Script `chk` now returning 1",
                "VRRP_Script(chk) failed (exited with status 1)"
            ]
        );
    }

    #[test]
    fn rise_and_fall_count() {
        let mut t = script(2, 3, true);
        assert_eq!(t.status(), ScriptStatus::Failed);
        assert_eq!(t.on_result(ScriptResult::Exited(0)).0, None);
        assert_eq!(t.on_result(ScriptResult::Exited(0)).0, Some(true));
        // fall 3: three failures in a row to go down
        assert_eq!(t.on_result(ScriptResult::Exited(2)).0, None);
        assert_eq!(t.on_result(ScriptResult::Signaled(9)).0, None);
        let (c, logs) = t.on_result(ScriptResult::TimedOut);
        assert_eq!(c, Some(false));
        assert_eq!(logs, vec!["VRRP_Script(chk) timed_out"]);
        let mut t = script(1, 1, false);
        t.on_result(ScriptResult::Exited(0));
        let (c, logs) = t.on_result(ScriptResult::Signaled(15));
        assert_eq!(c, Some(false));
        assert_eq!(logs, vec!["VRRP_Script(chk) failed (due to signal 15)"]);
        // a success in the middle resets the fall count
        let mut t = script(1, 2, false);
        t.on_result(ScriptResult::Exited(0));
        assert_eq!(t.on_result(ScriptResult::Exited(1)).0, None);
        let (c, logs) = t.on_result(ScriptResult::Exited(0));
        assert_eq!(c, None);
        assert_eq!(logs, vec!["Script `chk` now returning 0"]);
        assert_eq!(t.on_result(ScriptResult::Exited(1)).0, None);
        assert_eq!(t.on_result(ScriptResult::Exited(1)).0, Some(false));
    }

    #[test]
    fn reload_keeps_state_and_last_status() {
        let mut old = script(2, 2, false);
        old.on_result(ScriptResult::Exited(3));
        let mut t = script(2, 2, false);
        t.keep_last_status(&old);
        assert_eq!(
            t.considered_unsuccessful_on_reload(),
            "VRRP_Script(chk) considered unsuccessful on reload"
        );
        assert_eq!(t.status(), ScriptStatus::Failed);
        // same status as before the reload: not logged again; rise 2 from 0
        assert_eq!(t.on_result(ScriptResult::Exited(3)), (None, vec![]));
        assert_eq!(t.on_result(ScriptResult::Exited(0)).0, None);
        assert_eq!(t.on_result(ScriptResult::Exited(0)).0, Some(true));
        let mut t = script(2, 2, false);
        assert_eq!(
            t.considered_successful_on_reload(),
            "VRRP_Script(chk) considered successful on reload"
        );
        assert!(t.is_ok());
    }

    #[test]
    fn weights_and_reverse() {
        assert_eq!(weighted(true, 10, false), 10);
        assert_eq!(weighted(false, 10, false), 0);
        assert_eq!(weighted(false, -10, false), -10);
        assert_eq!(weighted(true, -10, false), 0);
        assert_eq!(weighted(true, 10, true), -10);
        assert_eq!(weighted(false, -10, true), 10);
        assert!(weight0_fault(false, false));
        assert!(!weight0_fault(true, false));
        assert!(weight0_fault(true, true));
    }

    #[test]
    fn track_file_values() {
        assert_eq!(track_file_status(5, 2, false), Some(10));
        assert_eq!(track_file_status(5, 2, true), Some(-10));
        assert_eq!(track_file_status(200, 2, false), Some(253));
        assert_eq!(track_file_status(-127, 2, false), None);
        assert_eq!(track_file_status(-126, 2, false), Some(-252));
        assert_eq!(track_file_status(i64::MAX, 254, false), Some(253));
        assert_eq!(track_file_status(3, 0, false), None);
        assert_eq!(track_file_status(0, 0, false), Some(0));
        assert_eq!(track_file_status(0, 0, true), None);
    }

    fn tp(process: &[&str], pm: ParamMatch, full: bool) -> TrackProcess {
        let mut t = TrackProcess::new("p", Span::default());
        t.process = process.iter().map(|s| s.to_string()).collect();
        t.param_match = pm;
        t.full_command = full;
        t
    }

    #[test]
    fn process_matching() {
        let cl = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let t = tp(&["nginx"], ParamMatch::Exact, false);
        assert!(process_matches(&t, "nginx", &cl(&["/usr/sbin/nginx"])));
        assert!(!process_matches(&t, "nginx2", &cl(&[])));
        let long = tp(&["averyveryverylongname"], ParamMatch::Exact, false);
        assert!(process_matches(&long, "averyveryverylo", &[]));
        let t = tp(&["/usr/bin/x", "-a", "b"], ParamMatch::Exact, true);
        assert!(process_matches(&t, "x", &cl(&["/usr/bin/x", "-a", "b"])));
        assert!(!process_matches(
            &t,
            "x",
            &cl(&["/usr/bin/x", "-a", "b", "c"])
        ));
        // keepalived.conf(5): partial = the first n parameters match exactly; initial = the
        // last one may be longer; `param_match` alone = no parameters at all.
        let x = |a: &[&'static str]| [&["/usr/bin/x"], a].concat();
        let t = tp(&["/usr/bin/x", "-a", "7"], ParamMatch::Partial, true);
        assert!(process_matches(&t, "x", &cl(&x(&["-a", "7", "b"]))));
        assert!(process_matches(&t, "x", &cl(&x(&["-a", "7"]))));
        assert!(!process_matches(&t, "x", &cl(&x(&["-a", "77"]))));
        assert!(!process_matches(&t, "x", &cl(&x(&["b", "-a", "7"]))));
        let t = tp(&["/usr/bin/x", "-a", "7"], ParamMatch::Initial, true);
        assert!(process_matches(&t, "x", &cl(&x(&["-a", "77", "b"]))));
        assert!(process_matches(&t, "x", &cl(&x(&["-a", "7"]))));
        assert!(!process_matches(&t, "x", &cl(&x(&["-ab", "7"]))));
        assert!(!process_matches(&t, "x", &cl(&x(&["-a"]))));
        let t = tp(&["/usr/bin/x"], ParamMatch::Exact, true);
        assert!(process_matches(&t, "x", &cl(&x(&[]))));
        assert!(!process_matches(&t, "x", &cl(&x(&["-a"]))));
        for pm in [ParamMatch::None, ParamMatch::Partial, ParamMatch::Initial] {
            let t = tp(&["/usr/bin/x"], pm, true);
            assert!(process_matches(&t, "x", &cl(&x(&["-a"]))), "{pm:?}");
            assert!(!process_matches(&t, "x", &cl(&["/usr/bin/y"])), "{pm:?}");
        }
    }

    #[test]
    fn quorum_with_delays() {
        let mut t = tp(&["x"], ParamMatch::Exact, false);
        t.quorum = 2;
        t.quorum_max = Some(3);
        t.terminate_delay = Duration::from_secs(5);
        let mut p = ProcessTracker::new(&t);
        p.init(1);
        assert!(!p.is_up());
        let now = Instant::now();
        let (up, log) = p.on_count(2, now).unwrap();
        assert!(up);
        assert_eq!(log, "Quorum gained for tracked process p");
        assert_eq!(p.on_count(4, now), None);
        assert_eq!(p.poll_timeout(), Some(now + Duration::from_secs(5)));
        // back within quorum before the delay: nothing happens
        assert_eq!(p.on_count(3, now), None);
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(p.on_count(0, now), None);
        assert_eq!(p.handle_timeout(now + Duration::from_secs(4)), None);
        let (up, log) = p.handle_timeout(now + Duration::from_secs(5)).unwrap();
        assert!(!up);
        assert_eq!(log, "Quorum lost for tracked process p");
    }

    #[test]
    fn summary_combines_refs() {
        let mut s1 = VrrpScript::new("s_w", Span::default());
        s1.weight = 20;
        let s0 = VrrpScript::new("s_0", Span::default());
        let mut f = TrackFile::new("f", Span::default());
        f.weight = 3;
        let mut p = TrackProcess::new("p", Span::default());
        p.weight = -15;
        let mut tr = Trackers::new(&[s1, s0], &[f], &[p]);
        let r = |n: &str, w: Option<i32>, rev: bool| TrackRef {
            name: n.into(),
            weight: w,
            reverse: rev,
            span: Span::default(),
        };
        let scripts = [r("s_w", None, false), r("s_0", None, false)];
        let files = [r("f", None, false)];
        let procs = [r("p", None, false)];
        let s = tr.summarize(&scripts, &files, &procs);
        assert!(s.init && !s.fault);
        assert_eq!(s.weight, -15);
        for t in tr.scripts.values_mut() {
            t.on_result(ScriptResult::Exited(0));
        }
        if let Some(f) = tr.files.get_mut("f") {
            f.set(4);
        }
        let s = tr.summarize(&scripts, &files, &procs);
        assert_eq!(
            s,
            TrackSummary {
                fault: false,
                init: false,
                weight: 20 + 12 - 15
            }
        );
        // the reference's own weight and reverse win
        let s = tr.summarize(
            &[r("s_w", Some(5), true)],
            &[r("f", Some(-100), false)],
            &[],
        );
        assert!(s.fault);
        assert_eq!(s.weight, -5);
        if let Some(t) = tr.scripts.get_mut("s_0") {
            t.on_result(ScriptResult::Exited(1));
        }
        assert!(tr.summarize(&scripts, &[], &[]).fault);
        assert_eq!(effective_priority(100, 200), 254);
        assert_eq!(effective_priority(100, -200), 1);
        assert_eq!(effective_priority(255, -50), 255);
    }
}
