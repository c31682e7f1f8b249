//! A child process (VRRP or checker): after the fork it sets its parent-death signal,
//! ident, pid file and (optionally) process name, unsets `NOTIFY_SOCKET`, builds a tokio
//! current-thread runtime and runs its [`Service`], answering signals.

use std::io::Write as _;
use std::os::fd::OwnedFd;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tracing::{error, info};

use super::sched::{Plan, Sched};
use super::{dump, exit, pidfile, signals, status, ChildKind, DaemonOptions};
use crate::service::{Ask, ChildConfig, Service};

/// What the last status write saw: the service's key, or the whole detail without one.
#[derive(Default)]
struct LastStatus {
    key: Option<Vec<u64>>,
    detail: Option<serde_json::Value>,
}

impl LastStatus {
    /// The detail to write now (recorded as written).
    fn take<S: Service>(&mut self, svc: &S) -> serde_json::Value {
        self.key = svc.status_key();
        let now = svc.status();
        self.detail = self.key.is_none().then(|| now.clone());
        now
    }

    /// The detail to write if it changed since the last write.
    fn changed<S: Service>(&mut self, svc: &S) -> Option<serde_json::Value> {
        match svc.status_key() {
            Some(k) if self.key.as_ref() == Some(&k) => None,
            Some(_) => Some(self.take(svc)),
            None => {
                let now = svc.status();
                if self.detail.as_ref() == Some(&now) {
                    return None;
                }
                self.key = None;
                self.detail = Some(now.clone());
                Some(now)
            }
        }
    }
}

/// What each child runs, wired by the program (main.rs), so the process model names no
/// concrete service.
#[derive(Debug, Clone, Copy)]
pub struct Services {
    pub vrrp: ServiceEntry,
    pub checker: ServiceEntry,
    pub bfd: ServiceEntry,
}

/// Builds a child's service from its options and runs it with the [`Runner`].
pub type ServiceEntry = fn(Runner<'_>) -> i32;

/// The pipes the BFD child writes session state changes to and the VRRP child and the
/// checker read (keepalived's BFD event pipes), created by the parent before any fork so
/// that a respawned child finds them. Non-blocking, close-on-exec; `(read, write)`.
pub struct EventPipes {
    vrrp: Option<(OwnedFd, OwnedFd)>,
    checker: Option<(OwnedFd, OwnedFd)>,
}

impl EventPipes {
    pub fn open() -> EventPipes {
        let open = |what: &str| {
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(|e| error!("Unable to create BFD {what} event pipe: {e}"))
                .ok()
        };
        EventPipes {
            vrrp: open("vrrp"),
            checker: open("checker"),
        }
    }

    /// No pipes (tests).
    pub fn none() -> EventPipes {
        EventPipes {
            vrrp: None,
            checker: None,
        }
    }
}

/// A forked child, ready to run its service on a current-thread runtime.
pub struct Runner<'a> {
    kind: ChildKind,
    opts: &'a DaemonOptions,
    pipes: &'a EventPipes,
    ready: OwnedFd,
    rt: tokio::runtime::Runtime,
}

impl Runner<'_> {
    pub fn opts(&self) -> &DaemonOptions {
        self.opts
    }

    /// The BFD child's ends of the event pipes: (to VRRP, to the checker).
    pub fn bfd_event_writers(&self) -> (Option<OwnedFd>, Option<OwnedFd>) {
        let dup = |p: &Option<(OwnedFd, OwnedFd)>| p.as_ref().and_then(|p| p.1.try_clone().ok());
        (dup(&self.pipes.vrrp), dup(&self.pipes.checker))
    }

    /// This child's reading end of its BFD event pipe (VRRP or checker).
    pub fn bfd_event_reader(&self) -> Option<OwnedFd> {
        let p = match self.kind {
            ChildKind::Vrrp => &self.pipes.vrrp,
            ChildKind::Checker => &self.pipes.checker,
            ChildKind::Bfd => &None,
        };
        p.as_ref().and_then(|p| p.0.try_clone().ok())
    }

    /// Runs `svc` until the child stops; returns the exit status.
    pub fn run<S: Service>(self, svc: S) -> i32 {
        let local = tokio::task::LocalSet::new();
        local.block_on(&self.rt, run_service(self.kind, self.opts, svc, self.ready))
    }
}

/// Entry point of a freshly forked child; returns its exit status.
pub(super) fn main(
    kind: ChildKind,
    opts: &DaemonOptions,
    pipes: &EventPipes,
    services: Services,
    ready: OwnedFd,
    parent: i32,
) -> i32 {
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
    // The parent may have died before the prctl took effect.
    if nix::unistd::getppid().as_raw() != parent {
        return exit::OK;
    }
    crate::log::set_ident(&opts.ident(Some(kind)));
    std::env::remove_var("NOTIFY_SOCKET");
    let name = match kind {
        ChildKind::Vrrp => &opts.vrrp_process_name,
        ChildKind::Checker => &opts.checker_process_name,
        ChildKind::Bfd => &opts.bfd_process_name,
    };
    // Without its own name a child keeps the parent's (keepalived, or `process_name`).
    if let Some(n) = name.as_deref() {
        super::parent::set_comm(n);
    }
    let pid = std::process::id();
    if let Err(e) = pidfile::write(kind.pid_file(opts), pid) {
        error!(
            "Unable to write pid file {}: {e}",
            kind.pid_file(opts).display()
        );
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("Unable to start the runtime: {e}");
            return exit::FATAL;
        }
    };
    let entry = match kind {
        ChildKind::Vrrp => services.vrrp,
        ChildKind::Checker => services.checker,
        ChildKind::Bfd => services.bfd,
    };
    let code = entry(Runner {
        kind,
        opts,
        pipes,
        ready,
        rt,
    });
    pidfile::remove_if_owned(kind.pid_file(opts), pid);
    code
}

struct Signals {
    hup: Signal,
    term: Signal,
    int: Signal,
    usr1: Signal,
    usr2: Signal,
    json: Signal,
    stats_clear: Signal,
    /// RLIMIT_RTTIME's soft limit (`*_rlimit_rttime`) reached.
    xcpu: Signal,
}

fn install_signals() -> std::io::Result<Signals> {
    let s = |n: i32| signal(SignalKind::from_raw(n));
    Ok(Signals {
        hup: s(libc::SIGHUP)?,
        term: s(libc::SIGTERM)?,
        int: s(libc::SIGINT)?,
        usr1: s(libc::SIGUSR1)?,
        usr2: s(libc::SIGUSR2)?,
        json: s(signals::sig_json())?,
        stats_clear: s(signals::sig_stats_clear())?,
        xcpu: s(libc::SIGXCPU)?,
    })
}

/// Tells the parent this child has loaded its configuration.
fn send_ready(ready: &mut std::fs::File, kind: ChildKind) {
    let _ = ready.write_all(&[kind.ready_byte()]);
}

struct StatusWriter<'a> {
    opts: &'a DaemonOptions,
    kind: ChildKind,
    started: f64,
    reloads: u32,
}

impl StatusWriter<'_> {
    fn write(&self, state: &str, detail: serde_json::Value) {
        let e = status::ProcessStatus {
            pid: std::process::id(),
            state: state.to_owned(),
            started: self.started,
            updated: status::now(),
            reloads: self.reloads,
            config_file: self.opts.config_file.display().to_string(),
            detail,
        };
        if let Err(e) = status::update(&self.opts.status_path(), self.kind.key(), e) {
            tracing::debug!("Unable to write the status file: {e}");
        }
    }
}

/// Loads this child's configuration; `Err` = a status to exit with.
fn load(opts: &DaemonOptions) -> Result<ChildConfig, i32> {
    let c = super::load_config(opts);
    opts.apply_umask(&c.loaded.config, false);
    if let Some(code) = super::fatal_status(&c.loaded) {
        super::log_diagnostics(&c.loaded);
        return Err(code);
    }
    Ok(ChildConfig {
        loaded: c.loaded,
        sections: c.sections,
    })
}

/// The child's life: start, then signals until SIGTERM.
pub async fn run_service<S: Service>(
    kind: ChildKind,
    opts: &DaemonOptions,
    mut svc: S,
    ready: OwnedFd,
) -> i32 {
    let mut ready = std::fs::File::from(ready);
    let mut sigs = match install_signals() {
        Ok(s) => s,
        Err(e) => {
            error!("Unable to install signal handlers: {e}");
            return exit::FATAL;
        }
    };
    // The parent blocks its signals before forking; now that handlers exist, anything
    // pending is delivered to them.
    if let Err(e) = signals::unblock_all() {
        error!("Unable to unblock signals: {e}");
        return exit::FATAL;
    }
    let mut st = StatusWriter {
        opts,
        kind,
        started: status::now(),
        reloads: 0,
    };
    st.write("starting", serde_json::Value::Null);
    let cfg = match load(opts) {
        Ok(c) => c,
        Err(code) => return code,
    };
    if let Err(e) = svc.start(&cfg).await {
        error!("{}", e.message);
        return e.status;
    }
    let mut sched = Sched::default();
    sched.apply(&Plan::new(&cfg.loaded.config.global, kind));
    // The service keeps what it needs; the model, sources and diagnostics can go.
    drop(cfg);
    super::trim_heap();
    let mut last = LastStatus::default();
    st.write("running", last.take(&svc));
    send_ready(&mut ready, kind);
    let pid = std::process::id();
    // the detail changes with the service's state (real servers up/down...): refresh it
    let mut refresh = tokio::time::interval(std::time::Duration::from_secs(1));
    refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            due = refresh.tick() => {
                // A late tick means the runtime was starved (`max_auto_priority`).
                sched.timer_late(due.elapsed());
                if let Some(now) = last.changed(&svc) {
                    st.write("running", now);
                }
                // The startup parse leaves a heap several times what stays in use, and the
                // service's allocations keep touching its freed pages: giving them back
                // every second halves the checker's RSS at 5,000 real servers (21.7 ->
                // 12.8 MB, BENCHMARKS.md) for no measurable CPU.
                super::trim_heap();
            }
            _ = sigs.hup.recv() => {
                info!("Reloading");
                // keepalived reloads with standard scheduling, then applies the new settings.
                sched.reset();
                st.write("reloading", svc.status());
                match load(opts) {
                    Ok(cfg) => {
                        let res = svc.reload(&cfg).await;
                        match &res {
                            Err(e) if e.status == exit::CONFIG => sched.reapply(),
                            _ => sched.apply(&Plan::new(&cfg.loaded.config.global, kind)),
                        }
                        drop(cfg);
                        super::trim_heap();
                        if let Err(e) = res {
                            error!("{}", e.message);
                            // Services validate before applying anything: a configuration
                            // error (the file changed again after the parent checked it)
                            // leaves the running configuration in place.
                            if e.status != exit::CONFIG {
                                return e.status;
                            }
                            error!("New config failed validation - keeping the running configuration");
                        }
                    }
                    Err(code) => return code,
                }
                refresh.reset();
                st.reloads = st.reloads.saturating_add(1);
                // Ready first: the status file (lock, 50 kB of JSON, fdatasync) is not what
                // the parent's `Reload complete` waits for.
                send_ready(&mut ready, kind);
                st.write("running", last.take(&svc));
            }
            _ = sigs.xcpu.recv() => {
                let (title, process) = match kind {
                    ChildKind::Vrrp => ("VRRP", "vrrp"),
                    ChildKind::Checker => ("Checker", "checker"),
                    ChildKind::Bfd => ("BFD", "bfd"),
                };
                info!("{title} process has used too much CPU time, {process}_rlimit_rttime may need to be increased");
            }
            _ = sigs.term.recv() => { svc.stop_first(); break }
            _ = sigs.int.recv() => { svc.stop_first(); break }
            _ = sigs.usr1.recv() => {
                let (what, file) = match kind {
                    ChildKind::Vrrp => ("VRRP", dump::VRRP_DATA),
                    ChildKind::Checker => ("checker", dump::CHECK_DATA),
                    ChildKind::Bfd => ("BFD", dump::BFD_DATA),
                };
                info!("Printing {what} data for process({pid}) on signal");
                write_dump(&opts.dump_name(file), &svc.data_dump());
            }
            _ = sigs.usr2.recv(), if kind == ChildKind::Vrrp => {
                info!("Printing VRRP stats for process({pid}) on signal");
                write_dump(dump::VRRP_STATS, &svc.stats_dump(false));
            }
            _ = sigs.stats_clear.recv(), if kind == ChildKind::Vrrp => {
                info!("Printing and clearing VRRP stats for process({pid}) on signal");
                write_dump(dump::VRRP_STATS, &svc.stats_dump(true));
            }
            req = svc.request() => {
                // The service logged why (keepalived: `Printing VRRP data on DBus request`).
                match req.ask {
                    Ask::DataDump => {
                        let file = match kind {
                            ChildKind::Vrrp => dump::VRRP_DATA,
                            ChildKind::Checker => dump::CHECK_DATA,
                            ChildKind::Bfd => dump::BFD_DATA,
                        };
                        write_dump(&opts.dump_name(file), &svc.data_dump());
                    }
                    Ask::StatsDump { clear } => write_dump(dump::VRRP_STATS, &svc.stats_dump(clear)),
                }
                let _ = req.done.send(());
            }
            _ = sigs.json.recv(), if kind == ChildKind::Vrrp => {
                info!("Printing VRRP as json for process({pid}) on signal");
                let text = serde_json::to_string(&svc.json_dump()).unwrap_or_default();
                write_dump(dump::VRRP_JSON, &text);
            }
        }
    }
    st.write("stopping", svc.status());
    svc.shutdown().await;
    st.write("stopped", svc.status());
    // Observed (2.2.7 -D): `Stopped - used 0.002522 user time, 0.000000 system time`.
    match super::self_cpu_usage().filter(|_| crate::log::detail() > 0) {
        Some((user, system)) => info!("Stopped - used {user} user time, {system} system time"),
        None => info!("Stopped"),
    }
    exit::OK
}

fn write_dump(name: &str, content: &str) {
    if let Err(e) = dump::write(name, content) {
        error!("Unable to write {name}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::service::ServiceError;

    /// A service whose status is `detail`, with a key when `keyed`.
    struct Fake {
        detail: Cell<u32>,
        keyed: bool,
        built: Cell<u32>,
    }

    impl Service for Fake {
        async fn start(&mut self, _: &ChildConfig) -> Result<(), ServiceError> {
            Ok(())
        }
        async fn reload(&mut self, _: &ChildConfig) -> Result<(), ServiceError> {
            Ok(())
        }
        async fn shutdown(&mut self) {}
        fn data_dump(&self) -> String {
            String::new()
        }
        fn stats_dump(&mut self, _: bool) -> String {
            String::new()
        }
        fn json_dump(&self) -> serde_json::Value {
            self.status()
        }
        fn status(&self) -> serde_json::Value {
            self.built.set(self.built.get() + 1);
            serde_json::json!({ "n": self.detail.get() })
        }
        fn status_key(&self) -> Option<Vec<u64>> {
            self.keyed.then(|| vec![u64::from(self.detail.get())])
        }
    }

    fn fake(keyed: bool) -> Fake {
        Fake {
            detail: Cell::new(1),
            keyed,
            built: Cell::new(0),
        }
    }

    #[test]
    fn keyed_status_is_built_only_when_the_key_changes() {
        let svc = fake(true);
        let mut last = LastStatus::default();
        assert_eq!(last.take(&svc), serde_json::json!({ "n": 1 }));
        assert_eq!(last.changed(&svc), None);
        assert_eq!(last.changed(&svc), None);
        assert_eq!(svc.built.get(), 1);
        svc.detail.set(2);
        assert_eq!(last.changed(&svc), Some(serde_json::json!({ "n": 2 })));
        assert_eq!(last.changed(&svc), None);
        assert_eq!(svc.built.get(), 2);
    }

    #[test]
    fn unkeyed_status_is_compared_whole() {
        let svc = fake(false);
        let mut last = LastStatus::default();
        last.take(&svc);
        assert_eq!(last.changed(&svc), None);
        svc.detail.set(3);
        assert_eq!(last.changed(&svc), Some(serde_json::json!({ "n": 3 })));
        assert_eq!(last.changed(&svc), None);
    }
}
