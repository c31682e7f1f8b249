//! Runs the VRRP child's trackers: one loop per
//! `vrrp_script`, an inotify watch for `track_file`s, a periodic `/proc` scan for
//! `vrrp_track_process`. Their results come back as [`Event`]s; [`Tracking::on_event`] turns
//! them, with the pure trackers of [`super::track`], into `TrackChange`s for the instances
//! and sync groups that reference them.
//!
//! BFD sessions (`track_bfd`) are not run here: the BFD child reports their state through
//! its event pipe, which the service turns into [`Event::Bfd`].
//!
//! Weighted trackers are keyed in the machine as `script NAME`, `file NAME`, `process NAME`,
//! `bfd NAME`; weight-0 ones fault with `FaultCause::{Script,File,Process,Bfd}`. Every change is idempotent
//! (the machine ignores a weight or fault it already has), so a reload simply re-sends the
//! current state of every reference and clears the references that went away.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::info;

use super::machine::{FaultCause, TrackChange};
use super::track::{
    scan_processes, track_file_status, weight0_fault, weighted, ScriptStatus, ScriptTracker,
    Trackers,
};
use crate::config::model::vrrp::track::{
    ParamMatch, TrackFile, TrackProcess, TrackRef, VrrpScript,
};
use crate::config::model::Config;
use crate::script::{self, Prepared, RunSlot, ScriptResult};
use crate::watch::{init_track_file, read_track_file, watch_files, FileSink};

/// How often `/proc` is scanned for tracked processes (we do not use the proc connector).
pub const PROCESS_SCAN: Duration = Duration::from_millis(500);

/// Who a change is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Instance(String),
    /// A sync group: the change applies to every member.
    Group(String),
}

/// A result from one of the tracker tasks. `gen` tells results of a previous configuration
/// (before a reload) apart; they are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Script {
        gen: u64,
        name: String,
        result: ScriptResult,
    },
    File {
        gen: u64,
        name: String,
        value: i64,
    },
    /// Matching process counts, in the order of the configured `vrrp_track_process`es.
    Processes {
        gen: u64,
        counts: Vec<u32>,
    },
    /// A BFD session is Up or not (from the BFD child; outlives reloads).
    Bfd {
        name: String,
        up: bool,
    },
}

/// The `track_*` references of one instance or sync group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Refs {
    scripts: Vec<TrackRef>,
    files: Vec<TrackRef>,
    processes: Vec<TrackRef>,
    bfds: Vec<TrackRef>,
}

/// The runtime of every tracker of the VRRP child.
pub struct Tracking {
    pub trackers: Trackers,
    scripts: Vec<VrrpScript>,
    files: Vec<TrackFile>,
    processes: Vec<TrackProcess>,
    owners: Vec<(Target, Refs)>,
    gen: u64,
    tx: mpsc::UnboundedSender<Event>,
    tasks: Vec<JoinHandle<()>>,
    /// Process groups of running scripts, by (generation, script name).
    running: Rc<RefCell<HashMap<(u64, String), i32>>>,
    /// Scripts as prepared (argv, user), for the data dump.
    prepared: HashMap<String, Prepared>,
    /// Owners whose start-up fault lines were logged for this configuration.
    init_logged: RefCell<std::collections::HashSet<Target>>,
    /// BFD sessions the VRRP child hears about: their own weight and reverse.
    bfds: HashMap<String, (i32, bool)>,
    /// Last state reported per BFD session; down until the BFD child says Up, and kept
    /// across reloads (keepalived `clear_diff_bfd`).
    bfd_up: HashMap<String, bool>,
    /// Members of each sync group, for the per-instance BFD lines.
    group_members: HashMap<String, Vec<String>>,
}

fn owners_of(c: &Config) -> Vec<(Target, Refs)> {
    let inst = c.vrrp.instances.iter().map(|i| {
        (
            Target::Instance(i.name.clone()),
            Refs {
                scripts: i.track_scripts.clone(),
                files: i.track_files.clone(),
                processes: i.track_processes.clone(),
                bfds: i.track_bfds.clone(),
            },
        )
    });
    let groups = c.vrrp.sync_groups.iter().map(|g| {
        (
            Target::Group(g.name.clone()),
            Refs {
                scripts: g.track_scripts.clone(),
                files: g.track_files.clone(),
                processes: g.track_processes.clone(),
                bfds: g.track_bfds.clone(),
            },
        )
    });
    inst.chain(groups).collect()
}

fn ref_weight(r: &TrackRef, own: i32, own_reverse: bool) -> (i32, bool) {
    match r.weight {
        Some(w) => (w, r.reverse),
        None => (own, own_reverse),
    }
}

/// The change an up/down tracker makes for one reference.
fn up_down_change(key: String, cause: FaultCause, up: bool, w: i32, rev: bool) -> Vec<TrackChange> {
    if w == 0 {
        vec![TrackChange::Fault {
            cause,
            active: weight0_fault(up, rev),
        }]
    } else {
        vec![TrackChange::Weight {
            tracker: key,
            value: weighted(up, w, rev),
        }]
    }
}

/// What script `t` means for reference `r`. Before its first result a weighted
/// script counts for nothing, and a weight-0 one holds the instance in INIT (keepalived's
/// `num_script_init`, [`FaultCause::ScriptInit`]); its first result clears that, after
/// setting the script's own fault if it failed, so the instance goes straight to FAULT.
pub fn script_change(t: &ScriptTracker, r: &TrackRef) -> Vec<TrackChange> {
    let (w, rev) = ref_weight(r, t.weight, t.reverse);
    let pending = FaultCause::ScriptInit(t.name.clone());
    if t.status() == ScriptStatus::Init {
        if w != 0 {
            return Vec::new();
        }
        return vec![TrackChange::Fault {
            cause: pending,
            active: true,
        }];
    }
    let mut out = up_down_change(
        format!("script {}", t.name),
        FaultCause::Script(t.name.clone()),
        t.is_ok(),
        w,
        rev,
    );
    if w == 0 {
        out.push(TrackChange::Fault {
            cause: pending,
            active: false,
        });
    }
    out
}

/// What a track_file's value means for reference `r`: weight, or FAULT.
pub fn file_change(
    name: &str,
    value: i64,
    own: i32,
    own_rev: bool,
    r: &TrackRef,
) -> Vec<TrackChange> {
    let (w, rev) = ref_weight(r, own, own_rev);
    let status = track_file_status(value, w, rev);
    vec![
        TrackChange::Weight {
            tracker: format!("file {name}"),
            value: status.unwrap_or(0),
        },
        TrackChange::Fault {
            cause: FaultCause::File(name.to_owned()),
            active: status.is_none(),
        },
    ]
}

/// keepalived's `initialise_tracking_priorities` lines (vrrp_track.c), in its order:
/// files, processes, then scripts.
fn initial_fault_lines(trackers: &Trackers, target: &Target, refs: &Refs) -> Vec<String> {
    let (Target::Instance(name) | Target::Group(name)) = target;
    let mut out = Vec::new();
    for r in &refs.files {
        if let Some(t) = trackers.files.get(&r.name) {
            let (w, rev) = ref_weight(r, t.weight, t.reverse);
            if track_file_status(t.value, w, rev).is_none() {
                let status = if w == 0 {
                    -254
                } else {
                    t.value
                        .saturating_mul(i64::from(w))
                        .saturating_mul(if rev { -1 } else { 1 })
                };
                out.push(format!(
                    "({name}): entering FAULT state (tracked file {} has status {status})",
                    t.name
                ));
            }
        }
    }
    for r in &refs.processes {
        if let Some(t) = trackers.processes.get(&r.name) {
            let (w, rev) = ref_weight(r, t.weight, t.reverse);
            if w == 0 && weight0_fault(t.is_up(), rev) {
                out.push(format!(
                    "({name}) entering FAULT state (tracked process {} quorum not achieved)",
                    t.name
                ));
            }
        }
    }
    for r in &refs.scripts {
        if let Some(t) = trackers.scripts.get(&r.name) {
            let (w, rev) = ref_weight(r, t.weight, t.reverse);
            if w == 0 && t.status() != ScriptStatus::Init && weight0_fault(t.is_ok(), rev) {
                out.push(format!(
                    "({name}): entering FAULT state due to script {}",
                    t.name
                ));
            }
        }
    }
    out
}

/// keepalived's `-D` lines when a track_file's new value moves an instance into or out of
/// FAULT (track_file.c `process_update_vrrp_track_file_status`).
fn file_fault_lines(
    owners: &[(Target, Refs)],
    name: &str,
    before: i64,
    after: i64,
    own: i32,
    own_rev: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for (target, refs) in owners {
        let (Target::Instance(iname) | Target::Group(iname)) = target;
        for r in refs.files.iter().filter(|r| r.name == name) {
            let (w, rev) = ref_weight(r, own, own_rev);
            let was = track_file_status(before, w, rev).is_none();
            let is = track_file_status(after, w, rev).is_none();
            if is && !was {
                out.push(format!("({iname}): tracked file {name} now FAULT state"));
            } else if was && !is {
                out.push(format!(
                    "({iname}): tracked file {name} leaving FAULT state"
                ));
            }
        }
    }
    out
}

/// Changes that undo everything a reference could have set.
fn clear_changes(kind: &str, name: &str) -> Vec<TrackChange> {
    let cause = match kind {
        "script" => FaultCause::Script(name.to_owned()),
        "file" => FaultCause::File(name.to_owned()),
        "bfd" => FaultCause::Bfd(name.to_owned()),
        _ => FaultCause::Process(name.to_owned()),
    };
    vec![
        TrackChange::Weight {
            tracker: format!("{kind} {name}"),
            value: 0,
        },
        TrackChange::Fault {
            cause,
            active: false,
        },
    ]
}

impl Tracking {
    /// Builds the trackers of `c` (reading files and `/proc` once for their initial state)
    /// and starts their tasks, which send to `tx`.
    pub fn start(c: &Config, tx: mpsc::UnboundedSender<Event>) -> Tracking {
        let mut t = Tracking {
            trackers: Trackers::default(),
            scripts: Vec::new(),
            files: Vec::new(),
            processes: Vec::new(),
            owners: Vec::new(),
            gen: 0,
            tx,
            tasks: Vec::new(),
            running: Rc::new(RefCell::new(HashMap::new())),
            prepared: HashMap::new(),
            init_logged: RefCell::default(),
            bfds: HashMap::new(),
            bfd_up: HashMap::new(),
            group_members: HashMap::new(),
        };
        t.load(c, None);
        t
    }

    /// Reload: stops every task and starts the new configuration's trackers. A
    /// script that still exists keeps its state (OK: `considered successful on reload`);
    /// files and processes are read afresh. Returns the changes that bring every instance
    /// and group up to date (including clearing references that were removed); apply them
    /// after the instances have been rebuilt.
    pub fn reload(&mut self, c: &Config) -> Vec<(Target, TrackChange)> {
        self.stop();
        let old = std::mem::take(&mut self.trackers);
        let old_owners = std::mem::take(&mut self.owners);
        self.load(c, Some(&old));
        let mut out = Vec::new();
        for (target, refs) in &self.owners {
            self.log_initial(target, refs);
            if let Some((_, before)) = old_owners.iter().find(|(t, _)| t == target) {
                let lists = [
                    ("script", &before.scripts, &refs.scripts),
                    ("file", &before.files, &refs.files),
                    ("process", &before.processes, &refs.processes),
                    ("bfd", &before.bfds, &refs.bfds),
                ];
                for (kind, was, now) in lists {
                    for r in was.iter().filter(|r| !now.iter().any(|n| n.name == r.name)) {
                        out.extend(
                            clear_changes(kind, &r.name)
                                .into_iter()
                                .map(|c| (target.clone(), c)),
                        );
                    }
                }
            }
            out.extend(
                self.changes_for(refs)
                    .into_iter()
                    .map(|c| (target.clone(), c)),
            );
        }
        out
    }

    fn load(&mut self, c: &Config, old: Option<&Trackers>) {
        self.gen = self.gen.wrapping_add(1);
        self.owners = owners_of(c);
        self.init_logged.borrow_mut().clear();
        self.files = c.vrrp.track_files.clone();
        self.processes = c.vrrp.track_processes.clone();
        // Only sessions that report to the VRRP child can be tracked here.
        self.bfds = c
            .vrrp
            .bfd_instances
            .iter()
            .filter(|b| crate::bfd::table::event_targets(b).0)
            .map(|b| (b.name.clone(), (b.weight, b.weight_reverse)))
            .collect();
        self.bfd_up.retain(|n, _| self.bfds.contains_key(n));
        self.group_members = c
            .vrrp
            .sync_groups
            .iter()
            .map(|g| (g.name.clone(), g.members.clone()))
            .collect();
        self.prepared.clear();
        // without a usable default user, only scripts with their own `user` run
        let default_user = script::default_run_as(
            c.global.script_user.as_ref(),
            c.global.enable_script_security,
        );
        if let (Err(e), false) = (&default_user, c.vrrp.scripts.is_empty()) {
            info!("{e}");
        }
        let mut scripts = Vec::new();
        for vs in &c.vrrp.scripts {
            let own_user =
                vs.user.is_some() || vs.script.as_ref().is_some_and(|s| s.user.is_some());
            let def = match &default_user {
                Ok(d) => *d,
                Err(_) if own_user => None,
                Err(_) => continue,
            };
            match script::prepare_vrrp_script(vs, def) {
                Ok(p) => {
                    self.prepared.insert(vs.name.clone(), p);
                    scripts.push(vs.clone());
                }
                Err(e) => info!("{e}"),
            }
        }
        self.scripts = scripts;
        let mut trackers = Trackers::new(&self.scripts, &self.files, &self.processes);
        for vs in &self.scripts {
            let (Some(was), Some(t)) = (
                old.and_then(|o| o.scripts.get(&vs.name)),
                trackers.scripts.get_mut(&vs.name),
            ) else {
                continue;
            };
            t.keep_last_status(was);
            match was.status() {
                ScriptStatus::Ok => info!("{}", t.considered_successful_on_reload()),
                // a failing script stays failed until it reaches `rise` again
                ScriptStatus::Failed => info!("{}", t.considered_unsuccessful_on_reload()),
                ScriptStatus::Init => {}
            }
        }
        for f in &self.files {
            // keepalived creates a missing file, but never overwrites one on reload
            let mut f0 = f.clone();
            if let (Some(i), true) = (f0.init.as_mut(), old.is_some()) {
                i.overwrite = false;
            }
            if init_track_file(&f0).is_err() {
                info!("Unable to initialise track file {}", f.name);
            }
            if let (Some(path), Some(t)) = (&f.path, trackers.files.get_mut(&f.name)) {
                t.set(read_track_file(Path::new(path)));
            }
        }
        if !self.processes.is_empty() {
            let counts = scan_processes(Path::new("/proc"), &self.processes);
            for (tp, n) in self.processes.iter().zip(counts) {
                if let Some(t) = trackers.processes.get_mut(&tp.name) {
                    t.init(n);
                }
            }
        }
        self.trackers = trackers;
        self.spawn_tasks();
    }

    fn spawn_tasks(&mut self) {
        for vs in &self.scripts {
            let Some(p) = self.prepared.get(&vs.name) else {
                continue;
            };
            self.tasks.push(spawn_script_loop(
                vs.name.clone(),
                p.clone(),
                vs.interval.max(Duration::from_secs(1)),
                script::vrrp_script_timeout(vs),
                self.gen,
                self.tx.clone(),
                self.running.clone(),
            ));
        }
        let files: Vec<(String, PathBuf)> = self
            .files
            .iter()
            .filter_map(|f| f.path.as_ref().map(|p| (f.name.clone(), PathBuf::from(p))))
            .collect();
        if !files.is_empty() {
            let (gen, tx) = (self.gen, self.tx.clone());
            let send: FileSink<String> = Rc::new(move |name: &String, value| {
                tx.send(Event::File {
                    gen,
                    name: name.clone(),
                    value,
                })
                .is_ok()
            });
            self.tasks.extend(watch_files(files, send));
        }
        if !self.processes.is_empty() {
            self.tasks.push(spawn_process_scan(
                self.processes.clone(),
                self.gen,
                self.tx.clone(),
            ));
        }
    }

    /// Stops every task and kills the scripts still running (shutdown, reload).
    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
        for (_, pg) in self.running.borrow_mut().drain() {
            let _ = killpg(Pid::from_raw(pg), Signal::SIGKILL);
        }
    }

    /// The current changes of every reference in `refs` (an instance's initial tracking).
    fn changes_for(&self, refs: &Refs) -> Vec<TrackChange> {
        let mut out = Vec::new();
        for r in &refs.scripts {
            if let Some(t) = self.trackers.scripts.get(&r.name) {
                out.extend(script_change(t, r));
            }
        }
        for r in &refs.files {
            if let Some(t) = self.trackers.files.get(&r.name) {
                out.extend(file_change(&t.name, t.value, t.weight, t.reverse, r));
            }
        }
        for r in &refs.processes {
            if let Some(t) = self.trackers.processes.get(&r.name) {
                let (w, rev) = ref_weight(r, t.weight, t.reverse);
                out.extend(up_down_change(
                    format!("process {}", t.name),
                    FaultCause::Process(t.name.clone()),
                    t.is_up(),
                    w,
                    rev,
                ));
            }
        }
        for r in &refs.bfds {
            if let Some(&(own, own_rev)) = self.bfds.get(&r.name) {
                let (w, rev) = ref_weight(r, own, own_rev);
                let up = self.bfd_up.get(&r.name).copied().unwrap_or(false);
                out.extend(up_down_change(
                    format!("bfd {}", r.name),
                    FaultCause::Bfd(r.name.clone()),
                    up,
                    w,
                    rev,
                ));
            }
        }
        out
    }

    /// The initial tracking of instance or group `target` (for `Machine::start`); logs
    /// keepalived's start-up lines for the trackers that fault it.
    pub fn initial(&self, target: &Target) -> Vec<TrackChange> {
        let Some((_, refs)) = self.owners.iter().find(|(t, _)| t == target) else {
            return Vec::new();
        };
        self.log_initial(target, refs);
        self.changes_for(refs)
    }

    /// Logs every owner's start-up fault lines at once in keepalived's order
    /// (`initialise_tracking_priorities`): each track_file's owners, then each tracked
    /// process's, then each owner's scripts; `initial` then logs nothing more for them.
    pub fn log_start(&self) {
        let one = |target: &Target, refs: Refs| {
            for line in initial_fault_lines(&self.trackers, target, &refs) {
                super::startlog::line(&line);
            }
        };
        for f in &self.files {
            for (target, refs) in &self.owners {
                for r in refs.files.iter().filter(|r| r.name == f.name) {
                    let files = vec![r.clone()];
                    one(
                        target,
                        Refs {
                            files,
                            ..Refs::default()
                        },
                    );
                }
            }
        }
        for p in &self.processes {
            for (target, refs) in &self.owners {
                for r in refs.processes.iter().filter(|r| r.name == p.name) {
                    let processes = vec![r.clone()];
                    one(
                        target,
                        Refs {
                            processes,
                            ..Refs::default()
                        },
                    );
                }
            }
        }
        for (target, refs) in &self.owners {
            let scripts = refs.scripts.clone();
            one(
                target,
                Refs {
                    scripts,
                    ..Refs::default()
                },
            );
            self.init_logged.borrow_mut().insert(target.clone());
        }
    }

    /// keepalived logs the start-up fault lines for every instance at start and reload.
    fn log_initial(&self, target: &Target, refs: &Refs) {
        if self.init_logged.borrow_mut().insert(target.clone()) {
            for line in initial_fault_lines(&self.trackers, target, refs) {
                info!("{line}");
            }
        }
    }

    /// The changes of one tracker for everyone who references it.
    fn fan_out(&self, kind: &str, name: &str) -> Vec<(Target, TrackChange)> {
        let mut out = Vec::new();
        for (target, refs) in &self.owners {
            let list = match kind {
                "script" => &refs.scripts,
                "file" => &refs.files,
                "bfd" => &refs.bfds,
                _ => &refs.processes,
            };
            for r in list.iter().filter(|r| r.name == name) {
                let one = Refs {
                    bfds: if kind == "bfd" {
                        vec![r.clone()]
                    } else {
                        Vec::new()
                    },
                    scripts: if kind == "script" {
                        vec![r.clone()]
                    } else {
                        Vec::new()
                    },
                    files: if kind == "file" {
                        vec![r.clone()]
                    } else {
                        Vec::new()
                    },
                    processes: if kind == "process" {
                        vec![r.clone()]
                    } else {
                        Vec::new()
                    },
                };
                out.extend(
                    self.changes_for(&one)
                        .into_iter()
                        .map(|c| (target.clone(), c)),
                );
            }
        }
        out
    }

    /// Feeds a task's result; returns the changes to apply. Logs keepalived's lines.
    pub fn on_event(&mut self, ev: Event, now: Instant) -> Vec<(Target, TrackChange)> {
        match ev {
            Event::Script { gen, name, result } if gen == self.gen => {
                let Some(t) = self.trackers.scripts.get_mut(&name) else {
                    return Vec::new();
                };
                let (changed, logs) = t.on_result(result);
                for l in logs {
                    info!("{l}");
                }
                if changed.is_some() {
                    self.fan_out("script", &name)
                } else {
                    Vec::new()
                }
            }
            Event::File { gen, name, value } if gen == self.gen => {
                let Some(t) = self.trackers.files.get_mut(&name) else {
                    return Vec::new();
                };
                let (before, own, own_rev) = (t.value, t.weight, t.reverse);
                if !t.set(value) {
                    return Vec::new();
                }
                if crate::log::detail() > 0 {
                    for line in file_fault_lines(&self.owners, &name, before, value, own, own_rev) {
                        info!("{line}");
                    }
                }
                self.fan_out("file", &name)
            }
            Event::Processes { gen, counts } if gen == self.gen => {
                let mut flipped = Vec::new();
                for (tp, n) in self.processes.iter().zip(counts) {
                    if let Some(t) = self.trackers.processes.get_mut(&tp.name) {
                        if let Some((_, line)) = t.on_count(n, now) {
                            info!("{line}");
                            flipped.push(tp.name.clone());
                        }
                    }
                }
                flipped
                    .iter()
                    .flat_map(|n| self.fan_out("process", n))
                    .collect()
            }
            Event::Bfd { name, up } => {
                if !self.bfds.contains_key(&name)
                    || self.bfd_up.get(&name).copied().unwrap_or(false) == up
                {
                    return Vec::new();
                }
                self.bfd_up.insert(name.clone(), up);
                for line in self.bfd_lines(&name, up) {
                    info!("{line}");
                }
                self.fan_out("bfd", &name)
            }
            _ => Vec::new(),
        }
    }

    /// keepalived's line for each instance tracking BFD session `name`, directly or
    /// through its sync group (`vrrp_handle_bfd_event`).
    fn bfd_lines(&self, name: &str, up: bool) -> Vec<String> {
        let mut out = Vec::new();
        let state = if up { "UP" } else { "DOWN" };
        for (target, refs) in &self.owners {
            if !refs.bfds.iter().any(|r| r.name == name) {
                continue;
            }
            let members = match target {
                Target::Instance(i) => vec![i.clone()],
                Target::Group(g) => self.group_members.get(g).cloned().unwrap_or_default(),
            };
            for i in members {
                out.push(format!(
                    "VRRP_Instance({i}) Tracked BFD instance {name} is {state}"
                ));
            }
        }
        out
    }

    /// When a delayed process quorum change is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.trackers
            .processes
            .values()
            .filter_map(|p| p.poll_timeout())
            .min()
    }

    /// Applies the process quorum changes whose delay has passed.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<(Target, TrackChange)> {
        let mut flipped = Vec::new();
        for t in self.trackers.processes.values_mut() {
            if let Some((_, line)) = t.handle_timeout(now) {
                info!("{line}");
                flipped.push(t.name.clone());
            }
        }
        flipped.sort();
        flipped
            .iter()
            .flat_map(|n| self.fan_out("process", n))
            .collect()
    }

    /// An instance's `Tracked scripts :` etc. lines of keepalived.data.
    pub fn instance_text(&self, name: &str) -> String {
        let mut s = String::new();
        let target = Target::Instance(name.to_owned());
        let Some((_, refs)) = self.owners.iter().find(|(t, _)| *t == target) else {
            return s;
        };
        let weight_of = |r: &TrackRef, own: Option<(i32, bool)>| {
            let (w, rev) = own.map_or((r.weight.unwrap_or(0), r.reverse), |(w, rev)| {
                ref_weight(r, w, rev)
            });
            format!("{w}{}", if rev { " reverse" } else { "" })
        };
        if !refs.scripts.is_empty() {
            let _ = writeln!(s, "   Tracked scripts :");
        }
        for r in &refs.scripts {
            let own = self
                .trackers
                .scripts
                .get(&r.name)
                .map(|t| (t.weight, t.reverse));
            let _ = writeln!(s, "     {} weight {}", r.name, weight_of(r, own));
        }
        if !refs.files.is_empty() {
            let _ = writeln!(s, "   Tracked files :");
        }
        for r in &refs.files {
            let own = self
                .trackers
                .files
                .get(&r.name)
                .map(|t| (t.weight, t.reverse));
            let _ = writeln!(s, "     {}, weight {}", r.name, weight_of(r, own));
        }
        if !refs.processes.is_empty() {
            let _ = writeln!(s, "   Tracked processes :");
        }
        for r in &refs.processes {
            let own = self
                .trackers
                .processes
                .get(&r.name)
                .map(|t| (t.weight, t.reverse));
            let _ = writeln!(s, "     {}, weight {}", r.name, weight_of(r, own));
        }
        s
    }

    /// `   Tracking instances :` and one line per instance / group tracking `name`.
    fn tracking_lines(&self, s: &mut String, kind: &str, name: &str, own: (i32, bool)) {
        let mut lines = Vec::new();
        for (target, refs) in &self.owners {
            let (Target::Instance(n) | Target::Group(n)) = target;
            let list = match kind {
                "script" => &refs.scripts,
                "file" => &refs.files,
                _ => &refs.processes,
            };
            for r in list.iter().filter(|r| r.name == name) {
                let (w, rev) = ref_weight(r, own.0, own.1);
                lines.push(format!(
                    "     {n}, weight {w}{}",
                    if rev { " reverse" } else { "" }
                ));
            }
        }
        if !lines.is_empty() {
            let _ = writeln!(s, "   Tracking instances :");
            for l in lines {
                let _ = writeln!(s, "{l}");
            }
        }
    }

    /// The scripts of this generation running now.
    fn running_scripts(&self) -> Vec<String> {
        self.running
            .borrow()
            .keys()
            .filter(|(g, _)| *g == self.gen)
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// Each `vrrp_script`'s name, whether the data dump shows it `GOOD` and `running`.
    pub fn script_states(&self) -> Vec<(&str, bool, bool)> {
        let running = self.running_scripts();
        self.scripts
            .iter()
            .filter_map(|vs| {
                let t = self.trackers.scripts.get(&vs.name)?;
                Some((
                    vs.name.as_str(),
                    t.status() == ScriptStatus::Ok,
                    running.contains(&vs.name),
                ))
            })
            .collect()
    }

    /// The `------< VRRP Scripts >------`, `Track files` and `Track processes` sections of
    /// keepalived.data (vrrp_data.c layout).
    pub fn data_text(&self) -> String {
        let mut s = String::new();
        let running = self.running_scripts();
        if !self.scripts.is_empty() {
            let _ = writeln!(s, "------< VRRP Scripts >------");
        }
        for vs in &self.scripts {
            let Some(t) = self.trackers.scripts.get(&vs.name) else {
                continue;
            };
            let _ = writeln!(s, " VRRP Script = {}", vs.name);
            if let Some(sc) = &vs.script {
                let words: Vec<String> = sc.argv.iter().map(|w| script::shell_quote(w)).collect();
                let _ = writeln!(s, "   Command = {}", words.join(" "));
            }
            let _ = writeln!(s, "   Interval = {} sec", vs.interval.as_secs());
            let _ = writeln!(s, "   Timeout = {} sec", vs.timeout.as_secs());
            let _ = writeln!(
                s,
                "   Weight = {}{}",
                vs.weight,
                if vs.weight_reverse { " reverse" } else { "" }
            );
            let _ = writeln!(s, "   Rise = {}", vs.rise);
            let _ = writeln!(s, "   Fall = {}", vs.fall);
            let _ = writeln!(s, "   Result = {}", t.counter());
            // keepalived: GOOD once the result reaches rise, else BAD (also before the
            // first result)
            let good = t.status() == ScriptStatus::Ok;
            let _ = writeln!(s, "   Status = {}", if good { "GOOD" } else { "BAD" });
            if let Some(r) = self.prepared.get(&vs.name).and_then(|p| p.run_as) {
                let _ = writeln!(s, "   Script uid:gid = {}:{}", r.uid, r.gid);
            } else {
                let _ = writeln!(
                    s,
                    "   Script uid:gid = {}:{}",
                    nix::unistd::getuid(),
                    nix::unistd::getgid()
                );
            }
            self.tracking_lines(&mut s, "script", &vs.name, (vs.weight, vs.weight_reverse));
            let state = if running.contains(&vs.name) {
                "running"
            } else {
                "idle"
            };
            let _ = writeln!(s, "   State = {state}");
        }
        if !self.files.is_empty() {
            let _ = writeln!(s, "------< VRRP Track files >------");
        }
        for f in &self.files {
            let Some(t) = self.trackers.files.get(&f.name) else {
                continue;
            };
            let _ = writeln!(s, " Track file = {}", f.name);
            let _ = writeln!(s, "   File = {}", f.path.as_deref().unwrap_or(""));
            let _ = writeln!(s, "   Status = {}", t.value);
            let _ = writeln!(
                s,
                "   Weight = {}{}",
                f.weight,
                if f.weight_reverse { " reverse" } else { "" }
            );
            self.tracking_lines(&mut s, "file", &f.name, (f.weight, f.weight_reverse));
        }
        if !self.processes.is_empty() {
            let _ = writeln!(s, "------< VRRP Track processes >------");
        }
        for p in &self.processes {
            let Some(t) = self.trackers.processes.get(&p.name) else {
                continue;
            };
            let or_delay = |d: Duration| if d.is_zero() { p.delay } else { d };
            let _ = writeln!(s, " VRRP Track process = {}", p.name);
            let _ = writeln!(s, "   Process = {}", p.process.first().map_or("", |n| n));
            if let Some(params) = p.process.get(1..).filter(|a| !a.is_empty()) {
                let _ = writeln!(s, "   Parameters = {}", params.join(" "));
            }
            let mode = match p.param_match {
                ParamMatch::None => None,
                ParamMatch::Exact => Some(""),
                ParamMatch::Partial => Some(" = partial"),
                ParamMatch::Initial => Some(" = initial"),
            };
            if let Some(mode) = mode {
                let _ = writeln!(s, "   Param match{mode}");
            }
            let _ = writeln!(s, "   Min processes = {}", p.quorum);
            if let Some(m) = p.quorum_max {
                let _ = writeln!(s, "   Max processes = {m}");
            }
            let _ = writeln!(s, "   Current processes = {}", t.count());
            let _ = writeln!(s, "   Have quorum = {}", t.is_up());
            let _ = writeln!(
                s,
                "   Weight = {}{}",
                p.weight,
                if p.weight_reverse { " reverse" } else { "" }
            );
            let _ = writeln!(
                s,
                "   Terminate delay = {:.6}s",
                or_delay(p.terminate_delay).as_secs_f64()
            );
            let _ = writeln!(
                s,
                "   Fork delay = {:.6}s",
                or_delay(p.fork_delay).as_secs_f64()
            );
            let _ = writeln!(s, "   Full command = {}", p.full_command);
            self.tracking_lines(&mut s, "process", &p.name, (p.weight, p.weight_reverse));
        }
        s
    }

    /// The `track_process` array of keepalived 2.2.8's `keepalived.json` version 2, with
    /// its keys (vrrp_json.c).
    pub fn processes_json(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for p in &self.processes {
            let Some(t) = self.trackers.processes.get(&p.name) else {
                continue;
            };
            let or_delay = |d: Duration| if d.is_zero() { p.delay } else { d };
            let params = p.process.get(1..).unwrap_or_default();
            let mut o = serde_json::Map::new();
            o.insert("process".into(), p.name.clone().into());
            if !params.is_empty() {
                o.insert("parameters".into(), params.join(" ").into());
            }
            let mode = match p.param_match {
                ParamMatch::None => "none",
                ParamMatch::Exact => "exact",
                ParamMatch::Partial => "partial",
                ParamMatch::Initial => "initial",
            };
            o.insert("param_match".into(), mode.into());
            o.insert("min_processes".into(), p.quorum.into());
            if let Some(m) = p.quorum_max {
                o.insert("max_processes".into(), m.into());
            }
            o.insert("current_processes".into(), t.count().into());
            o.insert("have_quorum".into(), t.is_up().into());
            let w = if p.weight_reverse {
                -p.weight
            } else {
                p.weight
            };
            o.insert("weight".into(), w.into());
            o.insert(
                "terminate_delay".into(),
                or_delay(p.terminate_delay).as_secs_f64().into(),
            );
            o.insert(
                "fork_delay".into(),
                or_delay(p.fork_delay).as_secs_f64().into(),
            );
            let pending = t.pending_change();
            o.insert(
                "fork_delay_timer_running".into(),
                (pending == Some(true)).into(),
            );
            o.insert(
                "terminate_delay_timer_running".into(),
                (pending == Some(false)).into(),
            );
            o.insert("full_command".into(), p.full_command.into());
            out.push(serde_json::Value::Object(o));
        }
        out
    }

    /// The trackers' state for the status file / JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let scripts: serde_json::Map<String, serde_json::Value> = self
            .trackers
            .scripts
            .iter()
            .map(|(n, t)| {
                let st = match t.status() {
                    ScriptStatus::Init => "INIT",
                    ScriptStatus::Ok => "GOOD",
                    ScriptStatus::Failed => "BAD",
                };
                (n.clone(), serde_json::json!(st))
            })
            .collect();
        let files: serde_json::Map<String, serde_json::Value> = self
            .trackers
            .files
            .iter()
            .map(|(n, t)| (n.clone(), serde_json::json!(t.value)))
            .collect();
        let procs: serde_json::Map<String, serde_json::Value> = self
            .trackers
            .processes
            .iter()
            .map(|(n, t)| {
                (
                    n.clone(),
                    serde_json::json!({ "count": t.count(), "quorum": t.is_up() }),
                )
            })
            .collect();
        serde_json::json!({ "scripts": scripts, "files": files, "processes": procs })
    }
}

impl Drop for Tracking {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs one `vrrp_script` every `interval` (the first run at once); at most one run at a
/// time; a run still going at `timeout` has its process group killed.
fn spawn_script_loop(
    name: String,
    p: Prepared,
    interval: Duration,
    timeout: Duration,
    gen: u64,
    tx: mpsc::UnboundedSender<Event>,
    running: Rc<RefCell<HashMap<(u64, String), i32>>>,
) -> JoinHandle<()> {
    tokio::task::spawn_local(async move {
        let slot = RunSlot::new();
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(guard) = slot.try_start(&name) else {
                continue;
            };
            let Some(child) = script::spawn(&p) else {
                // keepalived's forked child exits 0 when execve fails
                drop(guard);
                let result = ScriptResult::Exited(0);
                let _ = tx.send(Event::Script {
                    gen,
                    name: name.clone(),
                    result,
                });
                continue;
            };
            let key = (gen, name.clone());
            if let Some(pg) = child.id().and_then(|id| i32::try_from(id).ok()) {
                running.borrow_mut().insert(key.clone(), pg);
            }
            let (tx, running) = (tx.clone(), running.clone());
            tokio::task::spawn_local(async move {
                let result = script::wait_with_timeout(child, timeout).await;
                running.borrow_mut().remove(&key);
                drop(guard);
                let _ = tx.send(Event::Script {
                    gen,
                    name: key.1,
                    result,
                });
            });
        }
    })
}

/// Scans `/proc` every [`PROCESS_SCAN`] and sends the counts.
fn spawn_process_scan(
    tps: Vec<TrackProcess>,
    gen: u64,
    tx: mpsc::UnboundedSender<Event>,
) -> JoinHandle<()> {
    tokio::task::spawn_local(async move {
        let tps = std::sync::Arc::new(tps);
        let mut tick = tokio::time::interval(PROCESS_SCAN);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let t = tps.clone();
            let Ok(counts) =
                tokio::task::spawn_blocking(move || scan_processes(Path::new("/proc"), &t)).await
            else {
                continue;
            };
            if tx.send(Event::Processes { gen, counts }).is_err() {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostic::Span;

    fn r(name: &str, weight: Option<i32>, reverse: bool) -> TrackRef {
        TrackRef {
            name: name.into(),
            weight,
            reverse,
            span: Span::default(),
        }
    }

    fn script(weight: i32) -> ScriptTracker {
        let mut s = VrrpScript::new("chk", Span::default());
        s.weight = weight;
        ScriptTracker::new(&s)
    }

    #[test]
    fn script_changes_follow_weight_rules() {
        let mut t = script(-20);
        assert!(script_change(&t, &r("chk", None, false)).is_empty());
        t.on_result(ScriptResult::Exited(1));
        assert_eq!(
            script_change(&t, &r("chk", None, false)),
            vec![TrackChange::Weight {
                tracker: "script chk".into(),
                value: -20
            }]
        );
        // weight 0: held in INIT until the first result, whatever `reverse` says
        let pending = |active| TrackChange::Fault {
            cause: FaultCause::ScriptInit("chk".into()),
            active,
        };
        for rev in [false, true] {
            assert_eq!(
                script_change(&script(0), &r("chk", None, rev)),
                vec![pending(true)]
            );
        }
        // the reference's weight 0 wins: a failing script faults, then is no longer pending
        assert_eq!(
            script_change(&t, &r("chk", Some(0), false)),
            vec![
                TrackChange::Fault {
                    cause: FaultCause::Script("chk".into()),
                    active: true
                },
                pending(false)
            ]
        );
        t.on_result(ScriptResult::Exited(0));
        assert_eq!(
            script_change(&t, &r("chk", None, false)),
            vec![TrackChange::Weight {
                tracker: "script chk".into(),
                value: 0
            }]
        );
        // weight 0 reversed: an OK script faults
        assert_eq!(
            script_change(&t, &r("chk", Some(0), true)),
            vec![
                TrackChange::Fault {
                    cause: FaultCause::Script("chk".into()),
                    active: true
                },
                pending(false)
            ]
        );
    }

    #[test]
    fn file_changes_weigh_or_fault() {
        let w = |v: i32| TrackChange::Weight {
            tracker: "file f".into(),
            value: v,
        };
        let f = |a: bool| TrackChange::Fault {
            cause: FaultCause::File("f".into()),
            active: a,
        };
        assert_eq!(
            file_change("f", 5, 2, false, &r("f", None, false)),
            vec![w(10), f(false)]
        );
        assert_eq!(
            file_change("f", 5, 2, false, &r("f", Some(-3), false)),
            vec![w(-15), f(false)]
        );
        assert_eq!(
            file_change("f", 1, 0, false, &r("f", None, false)),
            vec![w(0), f(true)]
        );
        assert_eq!(
            file_change("f", 0, 0, false, &r("f", None, false)),
            vec![w(0), f(false)]
        );
        assert_eq!(
            file_change("f", -200, 2, false, &r("f", None, false)),
            vec![w(0), f(true)]
        );
        assert_eq!(clear_changes("file", "f"), vec![w(0), f(false)]);
    }

    #[test]
    fn file_fault_lines_cross_minus_254() {
        let owners = vec![(
            Target::Instance("VI_1".into()),
            Refs {
                files: vec![r("down", None, false)],
                ..Refs::default()
            },
        )];
        assert_eq!(
            file_fault_lines(&owners, "down", 0, 1, 0, false),
            vec!["(VI_1): tracked file down now FAULT state"]
        );
        assert_eq!(
            file_fault_lines(&owners, "down", 1, 0, 0, false),
            vec!["(VI_1): tracked file down leaving FAULT state"]
        );
        assert!(file_fault_lines(&owners, "down", 1, 2, 0, false).is_empty());
        assert!(file_fault_lines(&owners, "other", 0, 1, 0, false).is_empty());
    }

    #[test]
    fn start_up_fault_lines() {
        let mut s = VrrpScript::new("chk", Span::default());
        s.init_fail = true;
        let mut f = TrackFile::new("f", Span::default());
        f.weight = 0;
        let p = TrackProcess::new("p", Span::default());
        let mut tr = Trackers::new(&[s], &[f], &[p]);
        if let Some(t) = tr.files.get_mut("f") {
            t.set(3);
        }
        let refs = Refs {
            scripts: vec![r("chk", None, false)],
            files: vec![r("f", None, false), r("f", Some(-100), false)],
            processes: vec![r("p", None, false)],
            bfds: Vec::new(),
        };
        assert_eq!(
            initial_fault_lines(&tr, &Target::Instance("VI_1".into()), &refs),
            vec![
                "(VI_1): entering FAULT state (tracked file f has status -254)",
                "(VI_1): entering FAULT state (tracked file f has status -300)",
                "(VI_1) entering FAULT state (tracked process p quorum not achieved)",
                // no line for chk: keepalived 2.2.7 drops init_fail of a tracked script
            ]
        );
    }

    #[test]
    fn process_changes() {
        assert_eq!(
            up_down_change(
                "process p".into(),
                FaultCause::Process("p".into()),
                false,
                0,
                false
            ),
            vec![TrackChange::Fault {
                cause: FaultCause::Process("p".into()),
                active: true
            }]
        );
        assert_eq!(
            up_down_change(
                "process p".into(),
                FaultCause::Process("p".into()),
                true,
                15,
                false
            ),
            vec![TrackChange::Weight {
                tracker: "process p".into(),
                value: 15
            }]
        );
    }
}

#[cfg(test)]
mod bfd_tests {
    use super::*;
    use crate::config::{load_str, LoadOptions};

    fn config(text: &str) -> Config {
        load_str(text, Path::new("/t.conf"), &LoadOptions::default()).config
    }

    const CONF: &str = "
bfd_instance b {
  neighbor_ip 192.0.2.2
  weight 10
}
bfd_instance c {
  neighbor_ip 192.0.2.3
  checker
}
vrrp_sync_group G {
  group {
    VI_2
  }
  track_bfd {
    b weight -5
  }
}
vrrp_instance VI_1 {
  interface lo
  virtual_router_id 1
  priority 100
  track_bfd {
    b weight 0
    c
  }
  virtual_ipaddress {
    192.0.2.100
  }
}
vrrp_instance VI_2 {
  interface lo
  virtual_router_id 2
  priority 100
  track_bfd {
    b
  }
  virtual_ipaddress {
    192.0.2.101
  }
}
";

    fn ch(t: &str, c: TrackChange) -> (Target, TrackChange) {
        (Target::Instance(t.into()), c)
    }

    #[test]
    fn bfd_events_fault_or_weigh() {
        let c = config(CONF);
        let (tx, _rx) = mpsc::unbounded_channel();
        let mut t = Tracking::start(&c, tx);
        let fault = |active| TrackChange::Fault {
            cause: FaultCause::Bfd("b".into()),
            active,
        };
        let w = |value| TrackChange::Weight {
            tracker: "bfd b".into(),
            value,
        };
        // Down until told otherwise: weight 0 faults; a positive weight adds nothing, a
        // negative one applies. "c" reports to the checker only: not trackable here.
        assert_eq!(t.initial(&Target::Instance("VI_1".into())), [fault(true)]);
        assert_eq!(t.initial(&Target::Instance("VI_2".into())), [w(0)]);
        assert_eq!(t.initial(&Target::Group("G".into())), [w(-5)]);
        let now = Instant::now();
        let up = t.on_event(
            Event::Bfd {
                name: "b".into(),
                up: true,
            },
            now,
        );
        assert_eq!(
            up,
            [
                ch("VI_1", fault(false)),
                ch("VI_2", w(10)),
                (Target::Group("G".into()), w(0)),
            ]
        );
        assert_eq!(
            t.bfd_lines("b", true),
            [
                "VRRP_Instance(VI_1) Tracked BFD instance b is UP",
                "VRRP_Instance(VI_2) Tracked BFD instance b is UP",
                "VRRP_Instance(VI_2) Tracked BFD instance b is UP",
            ]
        );
        // The same state again changes nothing; unknown sessions are ignored.
        let again = Event::Bfd {
            name: "b".into(),
            up: true,
        };
        assert!(t.on_event(again, now).is_empty());
        let c_up = Event::Bfd {
            name: "c".into(),
            up: true,
        };
        assert!(t.on_event(c_up, now).is_empty());
        // A reload keeps the state.
        let changes = t.reload(&c);
        assert!(changes.contains(&ch("VI_1", fault(false))));
        assert!(changes.contains(&ch("VI_2", w(10))));
    }
}
