//! The parent: a plain synchronous loop (no runtime, no thread, so forking is safe) over
//! a signalfd, the children's "ready" pipe and respawn/stop timers.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd as _, OwnedFd};
use std::path::PathBuf;
use std::time::Instant;

use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};
use tracing::{debug, error, info, warn};

use super::backoff::Backoff;
use super::reload::{self as reload_cfg, TimeMonitor};
use super::sdnotify::Notifier;
use super::{
    child, dump, exit, load_config, log_diagnostics, pidfile, reload_refusal, signals, startstop,
    status, ChildKind, DaemonOptions, LoadedConfig, Sections, Services, VERSION_BANNER,
};

struct Slot {
    kind: ChildKind,
    pid: Option<i32>,
    started: Instant,
    backoff: Backoff,
    respawn_at: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Starting,
    Reloading,
    Running,
}

struct Parent<'a> {
    opts: &'a DaemonOptions,
    services: Services,
    pipes: child::EventPipes,
    notifier: Notifier,
    sections: Sections,
    slots: Vec<Slot>,
    sfd: Option<SignalFd>,
    ready_r: Option<std::fs::File>,
    ready_w: OwnedFd,
    /// Children whose "configuration loaded" we wait for.
    waiting: Vec<ChildKind>,
    phase: Phase,
    reload_queued: bool,
    /// Set once stopping: when to SIGKILL, and whether we did.
    stop: Option<(Instant, bool)>,
    exit_status: i32,
    started: f64,
    reloads: u32,
    /// Run after the children have gone, when stopping on SIGTERM/SIGINT.
    shutdown_script: Option<startstop::StartStop>,
    /// Whether this stop runs it (keepalived runs it only when stopped by a signal).
    stop_by_signal: bool,
    /// `reload_check_config`, `reload_file`, `reload_time_file` of the running config.
    reload_cfg: reload_cfg::Settings,
    /// `reload_time_file`'s watch.
    monitor: Option<TimeMonitor>,
    /// The `--config-test` process of `reload_check_config`, and when to give up on it.
    check: Option<(i32, Instant)>,
}

/// Runs the parent until it stops; returns the exit status.
pub(super) fn run(
    opts: &DaemonOptions,
    services: Services,
    cfg: LoadedConfig,
    started_pipe: Option<OwnedFd>,
) -> i32 {
    // The parent needs only the sections from here on; each child loads its own copy.
    // Dropped before the children are forked, so they do not inherit it either.
    let LoadedConfig { sections, loaded } = cfg;
    startstop::note_default_user(&loaded.config.global);
    let startup_script = startstop::from_config(&loaded.config.global, startstop::Which::Startup);
    let shutdown_script = startstop::from_config(&loaded.config.global, startstop::Which::Shutdown);
    let auto_priority = loaded.config.global.max_auto_priority.unwrap_or(0) != 0;
    let reload_settings = reload_cfg::Settings::new(&loaded.config.global, &opts.names);
    drop(loaded);
    super::trim_heap();
    let notifier = Notifier::from_env();
    let me = std::process::id();
    if let Some(n) = opts.process_name.as_deref() {
        set_comm(n);
    }
    if let Err(e) = opts.names.create_pid_dir() {
        error!("Unable to create {}: {e}", opts.names.pid_dir().display());
    }
    if let Err(e) = pidfile::write(&opts.pid_file, me) {
        error!("Unable to write pid file {}: {e}", opts.pid_file.display());
    }
    if !auto_priority {
        info!("NOTICE: setting config option max_auto_priority should result in better keepalived performance");
    }
    if let Some(w) = started_pipe {
        let _ = std::fs::File::from(w).write_all(b"1");
    }
    // Orphaned grandchildren (scripts) are ours to reap.
    let _ = nix::sys::prctl::set_child_subreaper(true);
    let set = signals::set_of(&signals::parent_signals());
    let sfd = match signals::block(&set).and_then(|()| {
        SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(std::io::Error::from)
    }) {
        Ok(s) => s,
        Err(e) => {
            error!("Unable to set up signal handling: {e}");
            pidfile::remove(&opts.pid_file);
            return exit::FATAL;
        }
    };
    let (ready_r, ready_w) =
        match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK) {
            Ok(p) => p,
            Err(e) => {
                error!("Unable to create a pipe: {e}");
                pidfile::remove(&opts.pid_file);
                return exit::FATAL;
            }
        };
    let mut p = Parent {
        opts,
        services,
        pipes: child::EventPipes::open(),
        notifier,
        sections,
        slots: ChildKind::ALL
            .iter()
            .map(|&kind| Slot {
                kind,
                pid: None,
                started: Instant::now(),
                backoff: Backoff::default(),
                respawn_at: None,
            })
            .collect(),
        sfd: Some(sfd),
        ready_r: Some(std::fs::File::from(ready_r)),
        ready_w,
        waiting: Vec::new(),
        phase: Phase::Starting,
        reload_queued: false,
        stop: None,
        exit_status: exit::OK,
        started: status::now(),
        reloads: 0,
        shutdown_script,
        stop_by_signal: false,
        reload_cfg: reload_settings,
        monitor: None,
        check: None,
    };
    // keepalived 2.2.7 starts its children once the startup script has ended (or was
    // killed at its timeout), whatever its exit status.
    if let Some(s) = startup_script {
        s.run();
    }
    p.start_children();
    p.start_monitor();
    p.write_status("running");
    p.main_loop()
}

impl Parent<'_> {
    fn start_children(&mut self) {
        let mut any = false;
        for k in ChildKind::ALL {
            if self.opts.wants(k, &self.sections) {
                any = true;
                self.spawn(k);
            }
        }
        if !any {
            warn!("Warning - keepalived has no configuration to run");
        }
        self.check_complete();
    }

    fn slot(&mut self, kind: ChildKind) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.kind == kind)
    }

    fn spawn(&mut self, kind: ChildKind) {
        let ready = match self.ready_w.try_clone() {
            Ok(fd) => fd,
            Err(e) => {
                error!("Unable to start {} child: {e}", kind.title());
                return;
            }
        };
        let parent = std::process::id() as i32;
        // SAFETY: the parent is single-threaded (no runtime, no thread), so the child
        // may run anything after fork.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                // The parent's ends are not the child's business.
                self.sfd.take();
                self.ready_r.take();
                let code = child::main(kind, self.opts, &self.pipes, self.services, ready, parent);
                std::process::exit(code);
            }
            Ok(ForkResult::Parent { child }) => {
                info!("Starting {} child process, pid={}", kind.title(), child);
                if let Some(s) = self.slot(kind) {
                    s.pid = Some(child.as_raw());
                    s.started = Instant::now();
                }
                if !self.waiting.contains(&kind) {
                    self.waiting.push(kind);
                }
                self.write_status("running");
            }
            Err(e) => error!("Unable to fork {} child: {e}", kind.title()),
        }
    }

    fn alive(&self) -> impl Iterator<Item = (ChildKind, i32)> + '_ {
        self.slots.iter().filter_map(|s| s.pid.map(|p| (s.kind, p)))
    }

    fn main_loop(&mut self) -> i32 {
        loop {
            if let Some((deadline, killed)) = self.stop {
                if self.alive().next().is_none() {
                    return self.finish();
                }
                if !killed && Instant::now() >= deadline {
                    let alive: Vec<_> = self.alive().collect();
                    for (kind, pid) in alive {
                        // keepalived names the child in lower case here (`vrrp`, `checker`).
                        warn!("{} process failed to die - forcing termination", kind.key());
                        let _ = signals::send(pid, libc::SIGKILL);
                    }
                    self.stop = Some((deadline, true));
                }
            }
            let now = Instant::now();
            for i in 0..self.slots.len() {
                let due = self
                    .slots
                    .get(i)
                    .and_then(|s| s.respawn_at)
                    .is_some_and(|t| t <= now);
                if due && self.stop.is_none() {
                    if let Some(s) = self.slots.get_mut(i) {
                        s.respawn_at = None;
                        let kind = s.kind;
                        self.spawn(kind);
                    }
                }
            }
            if self.stop.is_none()
                && self
                    .monitor
                    .as_mut()
                    .is_some_and(|m| m.fire(self.reload_cfg.repeat))
            {
                self.reload();
            }
            if let Some((pid, deadline)) = self.check {
                if Instant::now() >= deadline {
                    info!("config check timed out - killing pid {pid}");
                    let _ = signals::send(pid, libc::SIGKILL);
                    self.check = Some((pid, deadline + std::time::Duration::from_secs(3600)));
                }
            }
            let timeout = self.next_timeout();
            let inotify_fd = self.monitor.as_ref().map_or(-1, TimeMonitor::raw_fd);
            let (sig_ready, pipe_ready, inotify_ready) = {
                let (Some(sfd), Some(rr)) = (self.sfd.as_ref(), self.ready_r.as_ref()) else {
                    return exit::FATAL;
                };
                match poll3(sfd.as_raw_fd(), rr.as_raw_fd(), inotify_fd, timeout) {
                    Ok(r) => r,
                    Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                    Err(e) => {
                        error!("poll: {e}");
                        return exit::FATAL;
                    }
                }
            };
            if inotify_ready {
                if let Some(m) = self.monitor.as_mut() {
                    if !m.events() {
                        self.monitor = None;
                    }
                }
            }
            if pipe_ready {
                self.read_ready();
            }
            if sig_ready {
                self.read_signals();
            }
        }
    }

    /// Milliseconds until the next timer, or -1 (none).
    fn next_timeout(&self) -> i32 {
        let now = Instant::now();
        let mut next: Option<Instant> = self.slots.iter().filter_map(|s| s.respawn_at).min();
        if let Some((deadline, false)) = self.stop {
            next = Some(next.map_or(deadline, |n| n.min(deadline)));
        }
        let others = [
            self.monitor.as_ref().and_then(TimeMonitor::due),
            self.check.map(|(_, d)| d),
        ];
        for t in others.into_iter().flatten() {
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        match next {
            None => -1,
            // Round up so we do not spin just before the deadline.
            Some(t) => t
                .saturating_duration_since(now)
                .as_millis()
                .saturating_add(1)
                .min(60_000) as i32,
        }
    }

    fn read_ready(&mut self) {
        let mut buf = [0u8; 64];
        loop {
            let n = match self.ready_r.as_mut().map(|r| r.read(&mut buf)) {
                Some(Ok(n)) if n > 0 => n,
                _ => break,
            };
            for b in buf.iter().take(n) {
                if let Some(kind) = ChildKind::from_ready_byte(*b) {
                    self.waiting.retain(|k| *k != kind);
                }
            }
        }
        self.check_complete();
    }

    /// Every child has (re)loaded its configuration: `Startup complete` / `Reload complete`.
    fn check_complete(&mut self) {
        if !self.waiting.is_empty() || self.phase == Phase::Running || self.stop.is_some() {
            return;
        }
        match self.phase {
            Phase::Starting => info!("Startup complete"),
            Phase::Reloading => info!("Reload complete"),
            Phase::Running => {}
        }
        // Every process has read the files now (ours read them themselves).
        self.reload_cfg.remove_reload_file();
        self.phase = Phase::Running;
        self.notifier.ready();
        if std::mem::take(&mut self.reload_queued) {
            self.reload();
        }
    }

    fn read_signals(&mut self) {
        while let Some(Ok(Some(info))) = self.sfd.as_ref().map(|s| s.read_signal()) {
            let sig = info.ssi_signo as i32;
            match sig {
                libc::SIGCHLD => self.reap(),
                libc::SIGHUP => self.reload(),
                libc::SIGTERM | libc::SIGINT => {
                    if self.stop.is_none() {
                        self.stop_by_signal = true;
                    }
                    self.begin_stop(exit::OK)
                }
                libc::SIGUSR1 => {
                    self.data_dump();
                    self.forward(sig, &ChildKind::ALL);
                }
                libc::SIGUSR2 => self.forward(sig, &[ChildKind::Vrrp]),
                s if s == signals::sig_json() || s == signals::sig_stats_clear() => {
                    self.forward(sig, &[ChildKind::Vrrp])
                }
                _ => {}
            }
        }
    }

    fn forward(&self, sig: i32, to: &[ChildKind]) {
        for (kind, pid) in self.alive() {
            if to.contains(&kind) {
                let _ = signals::send(pid, sig);
            }
        }
    }

    fn reap(&mut self) {
        loop {
            let res = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG));
            if let (
                Some((check, _)),
                Ok(WaitStatus::Exited(pid, _) | WaitStatus::Signaled(pid, _, _)),
            ) = (self.check, &res)
            {
                if pid.as_raw() == check {
                    self.check_done(res.ok());
                    continue;
                }
            }
            match res {
                Ok(WaitStatus::Exited(pid, code)) => self.child_gone(pid.as_raw(), Ok(code)),
                Ok(WaitStatus::Signaled(pid, sig, _)) => {
                    self.child_gone(pid.as_raw(), Err(sig as i32))
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    /// A process ended: `status` is its exit code or the signal that killed it.
    fn child_gone(&mut self, pid: i32, status: Result<i32, i32>) {
        let Some(slot) = self.slots.iter_mut().find(|s| s.pid == Some(pid)) else {
            return; // a reparented orphan
        };
        slot.pid = None;
        let kind = slot.kind;
        let ran_for = slot.started.elapsed();
        self.waiting.retain(|k| *k != kind);
        if self.stop.is_some() {
            return;
        }
        let permanent = match status {
            Ok(exit::FATAL) => Some(("FATAL", libc::EINVAL)),
            Ok(exit::CONFIG) => Some(("CONFIG", libc::EINVAL)),
            Ok(exit::MISSING_PERMISSION) => Some(("missing permission", libc::EPERM)),
            _ => None,
        };
        if let (Some((what, errno)), Ok(code)) = (permanent, status) {
            error!("pid {pid} exited with permanent error {what}. Terminating");
            self.notifier.errno(errno as u32);
            self.begin_stop(code);
            return;
        }
        match status {
            Ok(code) => info!("pid {pid} exited with status {code}"),
            Err(libc::SIGKILL) => info!(
                "pid {pid} exited due to signal {} ({}) - has rlimit_rttime been exceeded?",
                libc::SIGKILL,
                signals::describe(libc::SIGKILL)
            ),
            Err(sig) => info!(
                "pid {pid} exited due to signal {sig} ({})",
                signals::describe(sig)
            ),
        }
        let title = kind.title();
        if self.opts.dont_respawn {
            info!("{title} child process({pid}) died: Exiting");
            self.begin_stop(exit::OK);
            return;
        }
        info!("{title} child process({pid}) died: Respawning");
        info!("  Please log an issue at https://github.com/acassen/keepalived/issues/");
        info!("  and include a full copy of your keepalived configuration files, and");
        info!("  copies of the keepalived system log entries around the time this happened");
        let Some(slot) = self.slot(kind) else { return };
        let delay = slot.backoff.next_delay(ran_for);
        slot.respawn_at = Some(Instant::now() + delay);
        info!(
            "Restart of {title} process delayed {} seconds to limit respawn rate",
            delay.as_secs()
        );
        self.check_complete();
    }

    /// SIGHUP: validate the new configuration in the parent; if keepalived
    /// could not run it, keep everything as it is.
    fn reload(&mut self) {
        if self.stop.is_some() {
            return;
        }
        if self.phase != Phase::Running {
            if crate::log::detail() > 0 {
                info!("Reload already in progress, request queued");
            }
            self.reload_queued = true;
            return;
        }
        if self.check.is_some() {
            self.reload_queued = true;
            return;
        }
        if self.reload_cfg.check_log.is_some() {
            self.start_check();
            return;
        }
        self.do_reload();
    }

    /// `reload_check_config`: runs `keepalived <same options> --config-test=LOG`; the
    /// reload goes ahead when it exits 0 ([`Self::check_done`]).
    fn start_check(&mut self) {
        let Some(log) = self.reload_cfg.check_log.clone() else {
            return;
        };
        if crate::log::detail() > 0 {
            info!("validate conf before Reload");
        }
        let exe = std::fs::read_link("/proc/self/exe")
            .map(|p| {
                // A binary replaced since start: the new one is fine.
                let s = p.to_string_lossy();
                PathBuf::from(s.strip_suffix(" (deleted)").unwrap_or(&s).to_owned())
            })
            .unwrap_or_else(|_| PathBuf::from("/proc/self/exe"));
        if let Err(e) = std::fs::OpenOptions::new()
            .write(true)
            .open(&log)
            .and_then(|f| f.set_len(0))
        {
            if e.kind() != std::io::ErrorKind::NotFound {
                info!(
                    "truncate of config check log {} failed ({}) - {e}",
                    log.display(),
                    e.raw_os_error().unwrap_or(0)
                );
            }
        }
        self.reload_cfg.create_reload_file();
        let mut cmd = std::process::Command::new(exe);
        cmd.args(self.opts.command_line.iter().skip(1))
            .arg(format!("--config-test={}", log.display()))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        match cmd.spawn() {
            // Reaped by `reap` (waitpid on any child), never through `Child`.
            Ok(child) => {
                let deadline = Instant::now() + std::time::Duration::from_secs(5);
                self.check = Some((child.id() as i32, deadline));
            }
            Err(_) => {
                info!("Could not run config-test");
                self.reload_cfg.remove_reload_file();
            }
        }
    }

    fn check_done(&mut self, status: Option<WaitStatus>) {
        self.check = None;
        self.reload_cfg.remove_reload_file();
        match status {
            Some(WaitStatus::Exited(_, 0)) => self.do_reload(),
            Some(WaitStatus::Exited(..)) => {
                let log = self.reload_cfg.check_log.clone().unwrap_or_default();
                info!(
                    "New config failed validation, see {} for details",
                    log.display()
                );
            }
            Some(WaitStatus::Signaled(pid, sig, _)) => info!(
                "pid {pid} exited due to signal {} ({})",
                sig as i32,
                signals::describe(sig as i32)
            ),
            _ => {}
        }
        if std::mem::take(&mut self.reload_queued) {
            self.reload();
        }
    }

    /// `reload_time_file`: (re)starts the watch from the running configuration.
    fn start_monitor(&mut self) {
        self.monitor = self
            .reload_cfg
            .time_file
            .as_deref()
            .and_then(TimeMonitor::start);
    }

    fn do_reload(&mut self) {
        info!("Reloading ...");
        // keepalived stops the reload timer while it reads the new configuration.
        self.monitor = None;
        let cfg = load_config(self.opts);
        super::log_config_files(&cfg.loaded);
        info!("Configuration file {}", self.opts.config_file.display());
        self.opts.apply_umask(&cfg.loaded.config, true);
        log_diagnostics(&cfg.loaded);
        // keepalived 2.2.7 lets its VRRP child exit on such a config and the whole daemon
        // stops, leaving VIPs in place (observed, tests/vrrp_faults.rs); we keep running.
        let vrrp_wanted = self.opts.wants(ChildKind::Vrrp, &cfg.sections);
        if let Some(why) = reload_refusal(&cfg.loaded, vrrp_wanted) {
            error!("New config failed validation - keeping the running configuration");
            error!("Reload refused: {why}");
            self.start_monitor();
            return;
        }
        // The names stay those of the start: pid files, idents and the namespace cannot move.
        let root = &cfg.loaded.config.root;
        if self.opts.namespace_arg.is_none() && root.net_namespace != self.opts.names.namespace {
            error!("Cannot change network namespace at a reload - please restart keepalived");
        }
        if root.instance != self.opts.names.instance {
            error!("Cannot change instance name at a reload - please restart keepalived");
        }
        self.notifier.reloading();
        self.phase = Phase::Reloading;
        self.reloads = self.reloads.saturating_add(1);
        self.sections = cfg.sections;
        // The startup script is not run again; the shutdown script is the new one.
        self.shutdown_script =
            startstop::from_config(&cfg.loaded.config.global, startstop::Which::Shutdown);
        self.reload_cfg = reload_cfg::Settings::new(&cfg.loaded.config.global, &self.opts.names);
        self.start_monitor();
        drop(cfg.loaded);
        super::trim_heap();
        let alive: Vec<_> = self.alive().collect();
        for (kind, pid) in alive {
            if signals::send(pid, libc::SIGHUP).is_ok() && !self.waiting.contains(&kind) {
                self.waiting.push(kind);
            }
        }
        // A child that had nothing to do may have something now.
        for k in ChildKind::ALL {
            let idle = self
                .slots
                .iter()
                .any(|s| s.kind == k && s.pid.is_none() && s.respawn_at.is_none());
            if idle && self.opts.wants(k, &self.sections) {
                self.spawn(k);
            }
        }
        self.write_status("running");
        self.check_complete();
    }

    fn begin_stop(&mut self, status: i32) {
        if self.stop.is_some() {
            return;
        }
        self.exit_status = status;
        info!("Stopping");
        for s in &mut self.slots {
            s.respawn_at = None;
        }
        // The children first: the VRRP child's priority-0 adverts must not wait for the
        // status file's fsync or systemd.
        let alive: Vec<_> = self.alive().collect();
        for (_, pid) in alive {
            let _ = signals::send(pid, libc::SIGTERM);
        }
        self.notifier.stopping();
        self.write_status("stopping");
        self.stop = Some((Instant::now() + self.opts.child_wait_time, false));
    }

    fn finish(&mut self) -> i32 {
        if self.stop_by_signal {
            if let Some(s) = self.shutdown_script.take() {
                s.run();
            }
        }
        for k in ChildKind::ALL {
            pidfile::remove(k.pid_file(self.opts));
        }
        pidfile::remove(&self.opts.pid_file);
        self.opts.names.remove_pid_dir();
        self.write_status("stopped");
        if crate::log::detail() > 0 {
            if let Some((user, system)) = super::cpu_usage() {
                info!("CPU usage (self/children) user: {user} system: {system}");
            }
        }
        info!("Stopped {VERSION_BANNER}");
        self.exit_status
    }

    fn data_dump(&self) {
        let pid = std::process::id();
        info!("Printing parent data for process({pid}) on signal");
        let mut s = String::new();
        let _ = writeln!(s, "------< Parent >------");
        let _ = writeln!(s, " Version = {VERSION_BANNER}");
        let _ = writeln!(s, " Pid = {pid}");
        let _ = writeln!(s, " Config file = {}", self.opts.config_file.display());
        let _ = writeln!(s, " Reloads = {}", self.reloads);
        for slot in &self.slots {
            match slot.pid {
                Some(p) => {
                    let _ = writeln!(s, " {} child = {p}", slot.kind.title());
                }
                None => {
                    let _ = writeln!(s, " {} child = not running", slot.kind.title());
                }
            }
        }
        let name = self.opts.dump_name(dump::PARENT_DATA);
        if let Err(e) = dump::write(&name, &s) {
            error!("Unable to write {name}: {e}");
        }
    }

    fn write_status(&self, state: &str) {
        let children: serde_json::Map<String, serde_json::Value> = self
            .alive()
            .map(|(k, p)| (k.key().to_owned(), serde_json::Value::from(p)))
            .collect();
        let e = status::ProcessStatus {
            pid: std::process::id(),
            state: state.to_owned(),
            started: self.started,
            updated: status::now(),
            reloads: self.reloads,
            config_file: self.opts.config_file.display().to_string(),
            detail: serde_json::json!({ "children": children }),
        };
        if let Err(e) = status::update(&self.opts.status_path(), "parent", e) {
            debug!("Unable to write the status file: {e}");
        }
    }
}

/// prctl(PR_SET_NAME): what `ps` shows as the command (`process_name`).
pub(super) fn set_comm(name: &str) {
    if let Ok(n) = std::ffi::CString::new(name) {
        let _ = nix::sys::prctl::set_name(&n);
    }
}

/// poll(2) on three descriptors (a negative one is not watched); returns which are
/// readable.
fn poll3(a: i32, b: i32, c: i32, timeout_ms: i32) -> std::io::Result<(bool, bool, bool)> {
    let fd = |fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let mut fds = [fd(a), fd(b), fd(c)];
    // SAFETY: `fds` is a valid array of 3 pollfd that outlives the call.
    let r = unsafe { libc::poll(fds.as_mut_ptr(), 3, timeout_ms) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((
        fds[0].revents != 0,
        fds[1].revents != 0,
        fds[2].revents != 0,
    ))
}
