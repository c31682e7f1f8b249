//! keepalived's process model: a parent
//! that validates the configuration, daemonizes, writes its pid file and supervises a VRRP
//! child and a checker child, forwarding signals and respawning them; each child runs a
//! [`Service`] on its own tokio runtime, built after the fork.
//!
//! ```text
//! parent.rs    synchronous loop: signalfd + children's "ready" pipe + respawn timers
//! child.rs     after fork: pid file, ident, runtime, the Service and its signals
//! backoff.rs   respawn delays          pidfile.rs  pid files
//! sections.rs  what the config holds   status.rs   /run/keepalived/status.json
//! dump.rs      signal dump files       sdnotify.rs systemd notifications
//! names.rs     instance/namespace names of pid files, dumps and idents; netns.rs setns
//! reload.rs    reload_check_config, reload_file, reload_time_file (the parent's)
//! sched.rs     nice, realtime, mlock, CPU affinity of the children (`vrrp_priority`...)
//! ```

pub mod backoff;
pub mod child;
pub mod dump;
pub mod names;
pub mod netns;
mod parent;
pub mod pidfile;
pub mod reload;
pub mod sched;
pub mod sdnotify;
pub mod signals;
pub mod startstop;
pub mod status;

use std::io::Read as _;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::{error, info, warn};

use crate::config::{self, KaClass, LoadOptions, Loaded};

pub use crate::config::sections::Sections;
pub use crate::service::{ChildConfig, Service, ServiceError};
pub use child::{EventPipes, Runner, ServiceEntry, Services};

/// What keepalived calls itself in its start and stop lines.
pub use crate::service::VERSION_BANNER;

pub use crate::service::exit;

/// Everything the daemon needs from the command line.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// `-f`.
    pub config_file: PathBuf,
    /// `-n`.
    pub dont_fork: bool,
    /// `-l`.
    pub log_console: bool,
    /// `-D` count.
    pub log_detail: u8,
    /// `-S`, a syslog facility number (default daemon = 3).
    pub log_facility: u8,
    /// `-G`.
    pub no_syslog: bool,
    /// `-R`.
    pub dont_respawn: bool,
    /// `-p`, `-r`, `-c`, `-b`.
    pub pid_file: PathBuf,
    pub vrrp_pid_file: PathBuf,
    pub checkers_pid_file: PathBuf,
    pub bfd_pid_file: PathBuf,
    /// Which of `-p`, `-r`, `-c`, `-b` were given: the others follow [`names::Names`].
    pub pid_files_given: [bool; 4],
    /// `-B`: no BFD child.
    pub no_bfd: bool,
    /// `-s NAME`: overrides the configuration's `net_namespace`.
    pub namespace_arg: Option<String>,
    /// `-x`: SNMP on, as the enable_snmp_* keywords.
    pub snmp: bool,
    /// `-A SOCKET`: the AgentX master's socket, over `snmp_socket`.
    pub snmp_agent_socket: Option<String>,
    /// Instance and namespace names (from the configuration, see [`Self::apply_config`]).
    pub names: names::Names,
    /// `process_name`: comm of the parent (the children inherit it unless they have theirs).
    pub process_name: Option<String>,
    /// `-P`: only the VRRP child; `-C`: only the checker; `--all`: both even without config.
    pub vrrp_only: bool,
    pub check_only: bool,
    pub all: bool,
    /// `-i`, `-e`.
    pub config_id: String,
    pub all_config: bool,
    /// `-V`, `-I`, `-X`: for the services.
    pub dont_release_vrrp: bool,
    pub dont_release_ipvs: bool,
    pub release_vips: bool,
    /// `-d`: children dump their configuration to the log after loading it.
    pub dump_conf: bool,
    /// The command line, for the `Command line:` log line.
    pub command_line: Vec<String>,
    /// The status file; `None` = `$KEEPALIVED_STATUS_FILE` or [`status::DEFAULT_PATH`].
    pub status_file: Option<PathBuf>,
    /// How long the parent waits for children to stop before SIGKILL (`child_wait_time`).
    pub child_wait_time: Duration,
    /// `vrrp_process_name` / `checker_process_name`: comm of the children. keepalived
    /// leaves it `keepalived` unless configured, so `None` keeps it.
    pub vrrp_process_name: Option<String>,
    pub checker_process_name: Option<String>,
    pub bfd_process_name: Option<String>,
    /// The syslog socket; `None` = `$KEEPALIVED_SYSLOG_SOCKET` or `/dev/log`.
    pub syslog_socket: Option<PathBuf>,
    /// `-u` was given: the configuration's `umask` is then ignored.
    pub umask_cmdline: bool,
    /// `-m` (or `-M`): no limit on core dump size.
    pub core_dump: bool,
    /// `-a`: the children log every address change.
    pub address_monitoring: bool,
    /// Command-line options accepted without effect, logged at start.
    pub startup_warnings: Vec<String>,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            config_file: PathBuf::from("/etc/keepalived/keepalived.conf"),
            dont_fork: false,
            log_console: false,
            log_detail: 0,
            log_facility: crate::log::FACILITY_DAEMON,
            no_syslog: false,
            dont_respawn: false,
            pid_file: PathBuf::from("/run/keepalived.pid"),
            vrrp_pid_file: PathBuf::from("/run/vrrp.pid"),
            checkers_pid_file: PathBuf::from("/run/checkers.pid"),
            bfd_pid_file: PathBuf::from("/run/bfd.pid"),
            pid_files_given: [false; 4],
            no_bfd: false,
            namespace_arg: None,
            snmp: false,
            snmp_agent_socket: None,
            names: names::Names::default(),
            process_name: None,
            vrrp_only: false,
            check_only: false,
            all: false,
            config_id: String::new(),
            all_config: false,
            dont_release_vrrp: false,
            dont_release_ipvs: false,
            release_vips: false,
            dump_conf: false,
            command_line: std::env::args().collect(),
            status_file: None,
            child_wait_time: Duration::from_secs(5),
            vrrp_process_name: None,
            checker_process_name: None,
            bfd_process_name: None,
            syslog_socket: None,
            umask_cmdline: false,
            core_dump: false,
            address_monitoring: false,
            startup_warnings: Vec::new(),
        }
    }
}

impl DaemonOptions {
    /// Takes from the configuration what shapes the process itself: instance and
    /// namespace names (pid files, idents, dump names), process names, `child_wait_time`.
    /// Run once at start: keepalived refuses to change these at a reload.
    pub fn apply_config(&mut self, c: &config::Config) {
        self.names = names::Names {
            namespace: self
                .namespace_arg
                .clone()
                .or_else(|| c.root.net_namespace.clone()),
            instance: c.root.instance.clone(),
            use_pid_dir: c.root.use_pid_dir,
            data_use_instance: c.global.data_use_instance,
        };
        let files = [
            (&mut self.pid_file, "keepalived"),
            (&mut self.vrrp_pid_file, "vrrp"),
            (&mut self.checkers_pid_file, "checkers"),
            (&mut self.bfd_pid_file, "bfd"),
        ];
        for ((file, stem), given) in files.into_iter().zip(self.pid_files_given) {
            if !given {
                *file = self.names.pid_file(stem);
            }
        }
        if self.status_file.is_none()
            && std::env::var_os(status::ENV_PATH).is_none()
            && self.names.named()
        {
            self.status_file = Some(self.names.status_file());
        }
        self.process_name = c.global.process_name.clone();
        self.vrrp_process_name = c.global.vrrp_process_name.clone();
        self.checker_process_name = c.global.checker_process_name.clone();
        self.bfd_process_name = c.global.bfd_process_name.clone();
        self.child_wait_time = Duration::from_secs(u64::from(c.root.child_wait_time));
    }

    /// The configuration's `umask`, unless `-u` set it (keepalived applies it as it reads
    /// the file, in the parent and in each child, at start and at every reload). `parent`:
    /// say so when the command line wins, as keepalived's parent does.
    pub fn apply_umask(&self, c: &config::Config, parent: bool) {
        if !c.global.umask_set {
            return;
        }
        if self.umask_cmdline {
            if parent {
                info!("umask command line option specified, ignoring config option");
            }
            return;
        }
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(c.global.umask));
    }

    /// The syslog ident of the parent (`None`) or a child.
    pub fn ident(&self, kind: Option<ChildKind>) -> String {
        self.names
            .ident(kind.map(ChildKind::ident).unwrap_or("Keepalived"))
    }

    /// A dump file's name (`data_use_instance` puts the names in the data files).
    pub fn dump_name(&self, name: &str) -> String {
        if name == dump::VRRP_STATS || name == dump::VRRP_JSON {
            return name.to_owned();
        }
        self.names.data_file(name)
    }

    pub fn status_path(&self) -> PathBuf {
        self.status_file
            .clone()
            .or_else(|| std::env::var_os(status::ENV_PATH).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(status::DEFAULT_PATH))
    }

    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            config_id: self.config_id.clone(),
            all_config: self.all_config,
            host: std::sync::Arc::new(config::host::SystemHost),
        }
    }

    /// Whether the configuration gives child `kind` something to run.
    pub fn wants(&self, kind: ChildKind, s: &Sections) -> bool {
        match kind {
            ChildKind::Vrrp => !self.check_only && (s.vrrp || self.all),
            ChildKind::Checker => !self.vrrp_only && (s.checker || self.all),
            // keepalived: `-P` / `-C` run only that child; `-B` none for BFD.
            ChildKind::Bfd => {
                !self.vrrp_only && !self.check_only && !self.no_bfd && (s.bfd || self.all)
            }
        }
    }
}

/// The children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChildKind {
    Vrrp,
    Checker,
    Bfd,
}

impl ChildKind {
    /// Start order (keepalived's): checker, VRRP, BFD.
    pub const ALL: [ChildKind; 3] = [ChildKind::Checker, ChildKind::Vrrp, ChildKind::Bfd];

    pub fn ident(self) -> &'static str {
        match self {
            ChildKind::Vrrp => "Keepalived_vrrp",
            ChildKind::Checker => "Keepalived_healthcheckers",
            ChildKind::Bfd => "Keepalived_bfd",
        }
    }

    /// As in `VRRP child process(N) died` / `Starting Healthcheck child process`.
    pub fn title(self) -> &'static str {
        match self {
            ChildKind::Vrrp => "VRRP",
            ChildKind::Checker => "Healthcheck",
            ChildKind::Bfd => "BFD",
        }
    }

    /// Key in the status file.
    pub fn key(self) -> &'static str {
        match self {
            ChildKind::Vrrp => "vrrp",
            ChildKind::Checker => "checker",
            ChildKind::Bfd => "bfd",
        }
    }

    /// Byte a child writes on the ready pipe.
    fn ready_byte(self) -> u8 {
        match self {
            ChildKind::Vrrp => b'V',
            ChildKind::Checker => b'C',
            ChildKind::Bfd => b'B',
        }
    }

    fn from_ready_byte(b: u8) -> Option<ChildKind> {
        match b {
            b'V' => Some(ChildKind::Vrrp),
            b'C' => Some(ChildKind::Checker),
            b'B' => Some(ChildKind::Bfd),
            _ => None,
        }
    }

    pub fn pid_file(self, o: &DaemonOptions) -> &Path {
        match self {
            ChildKind::Vrrp => &o.vrrp_pid_file,
            ChildKind::Checker => &o.checkers_pid_file,
            ChildKind::Bfd => &o.bfd_pid_file,
        }
    }
}

/// A configuration as the daemon sees it.
pub struct LoadedConfig {
    pub loaded: Loaded,
    pub sections: Sections,
}

/// Reads the configuration (the typed model and the root sections).
pub fn load_config(opts: &DaemonOptions) -> LoadedConfig {
    let lopts = opts.load_options();
    let (loaded, sections) = config::load_and_scan(&opts.config_file, &lopts, |lines| {
        Sections::scan(lines.iter().map(|l| l.text.as_str()))
    });
    LoadedConfig { loaded, sections }
}

/// The exit status for configuration errors keepalived does not survive (a
/// keyword missing its parameter stops keepalived with status 2); `None` = go on.
pub fn fatal_status(loaded: &Loaded) -> Option<i32> {
    loaded
        .diagnostics
        .items
        .iter()
        .any(|d| d.class == Some(KaClass::MissingParameter))
        .then_some(exit::CONFIG)
}

/// Why a reload must not apply this configuration: everything [`fatal_status`] refuses,
/// plus the errors that would make keepalived's VRRP child exit (duplicate VRID, missing
/// interface, ...). keepalived applies those and dies; we keep the running configuration.
/// `vrrp_wanted`: whether a VRRP child runs (not with `-C`).
pub fn reload_refusal(loaded: &Loaded, vrrp_wanted: bool) -> Option<String> {
    if fatal_status(loaded).is_some() {
        return Some("a keyword is missing its parameter".into());
    }
    loaded.config.vrrp.fatal.clone().filter(|_| vrrp_wanted)
}

/// Logs every diagnostic as one line (`file:line:col: severity: message`).
pub fn log_diagnostics(loaded: &Loaded) {
    for d in &loaded.diagnostics.items {
        let text = d.render(&loaded.sources);
        let line = text.lines().next().unwrap_or_default();
        match d.severity {
            config::Severity::Error => error!("{line}"),
            config::Severity::Warning => warn!("{line}"),
            config::Severity::Note => info!("{line}"),
        }
    }
}

/// Runs keepalived with these options and returns the process exit status. Without
/// `dont_fork`, the calling process returns 0 once the daemon has written its pid file.
pub fn run(opts: &DaemonOptions, services: Services) -> i32 {
    crate::log::init(
        &crate::log::LogOptions {
            console: opts.log_console,
            syslog: !opts.no_syslog,
            facility: opts.log_facility,
            detail: opts.log_detail,
            syslog_path: opts
                .syslog_socket
                .clone()
                .or_else(|| std::env::var_os("KEEPALIVED_SYSLOG_SOCKET").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("/dev/log")),
            journald: None,
        },
        "Keepalived",
    );
    crate::log::set_address_changes(opts.address_monitoring);
    info!("Starting {VERSION_BANNER}");
    if let Ok(u) = nix::sys::utsname::uname() {
        info!(
            "Running on {} {} {}",
            u.sysname().to_string_lossy(),
            u.release().to_string_lossy(),
            u.version().to_string_lossy()
        );
    }
    let cmd: Vec<String> = opts.command_line.iter().map(|a| format!("'{a}'")).collect();
    for l in option_lines("Command line", &cmd.join(" ")) {
        info!("{l}");
    }
    run_started(opts, services).0
}

/// keepalived's layout of a long option line: `NAME: ` then at most 100 - len(NAME)
/// bytes per line, cut at a space where there is one, continuation lines indented under
/// the text.
fn option_lines(name: &str, text: &str) -> Vec<String> {
    let max = 100usize.saturating_sub(name.len()).max(1);
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut p = 0;
    while p < b.len() {
        while b.get(p) == Some(&b' ') {
            p += 1;
        }
        if p >= b.len() {
            break;
        }
        let rest = &b[p..];
        let end = if rest.len() <= max || rest[max] == b' ' {
            rest.len().min(max)
        } else {
            match rest[..max].iter().rposition(|&c| c == b' ') {
                Some(i) if i > 0 => i,
                _ => max,
            }
        };
        let chunk = String::from_utf8_lossy(&rest[..end]);
        if out.is_empty() {
            out.push(format!("{name}: {chunk}"));
        } else {
            out.push(format!("{:w$}{chunk}", "", w = name.len() + 2));
        }
        p += end;
    }
    out
}

/// `-D`: keepalived names every file it reads (`Opening file '...'.`) before the
/// `Configuration file` line.
pub(super) fn log_config_files(loaded: &Loaded) {
    if crate::log::detail() > 0 {
        for f in &loaded.files {
            info!("Opening file '{}'.", f.display());
        }
    }
}

/// `-m` and `-M[PATN]`: RLIMIT_CORE unlimited (the children inherit it). keepalived 2.2.7
/// means `-M` to set the kernel's core_pattern too, but it writes the pattern after
/// reading the old one through the same descriptor, at an offset the kernel ignores:
/// observed, the pattern never changes (and nothing is logged). The pattern is the whole
/// machine's, so we leave it alone as well.
fn core_dump_init(opts: &DaemonOptions) {
    if opts.core_dump {
        use nix::sys::resource::{setrlimit, Resource, RLIM_INFINITY};
        if setrlimit(Resource::RLIMIT_CORE, RLIM_INFINITY, RLIM_INFINITY).is_err() {
            info!("Failed to set core file size");
        }
    }
}

/// Everything after the start lines; the flag is false in the process that daemonized
/// (it returns as soon as the daemon runs).
fn run_started(opts: &DaemonOptions, services: Services) -> (i32, bool) {
    let cfg = load_config(opts);
    log_config_files(&cfg.loaded);
    info!("Configuration file {}", opts.config_file.display());
    for w in &opts.startup_warnings {
        warn!("{w}");
    }
    core_dump_init(opts);
    opts.apply_umask(&cfg.loaded.config, true);
    let mut resolved = opts.clone();
    resolved.apply_config(&cfg.loaded.config);
    let opts = &resolved;
    if opts.names.named() {
        let ident = opts.ident(None);
        info!("Changing syslog ident to {ident}");
        crate::log::set_ident(&ident);
    }
    // keepalived enters the namespace before daemonizing, so the children's sockets
    // and netlink channels all live there (`net_namespace`).
    if let Some(ns) = &opts.names.namespace {
        if let Err(e) = netns::enter(ns) {
            error!("{e}");
            // Observed: keepalived 2.2.7 exits 0 here, after its usual last lines.
            error!("Unable to set network namespace {ns} - exiting");
            if crate::log::detail() > 0 {
                if let Some((user, system)) = cpu_usage() {
                    info!("CPU usage (self/children) user: {user} system: {system}");
                }
            }
            info!("Stopped {VERSION_BANNER}");
            return (exit::OK, true);
        }
    }
    // Another keepalived using these pid files?
    let mut files = vec![opts.pid_file.clone()];
    for k in ChildKind::ALL {
        if opts.wants(k, &cfg.sections) {
            files.push(k.pid_file(opts).to_path_buf());
        }
    }
    for f in &files {
        match pidfile::state(f) {
            pidfile::PidState::Running(_) => {
                info!("daemon is already running");
                return (exit::OK, true);
            }
            pidfile::PidState::Stale => {
                info!("Remove a zombie pid file {}", f.display());
                pidfile::remove(f);
            }
            pidfile::PidState::Absent => {}
        }
    }

    log_diagnostics(&cfg.loaded);
    if let Some(code) = fatal_status(&cfg.loaded) {
        error!("Configuration errors - keepalived cannot start");
        return (code, true);
    }

    let mut started_pipe = None;
    if !opts.dont_fork {
        match daemonize() {
            Ok(Daemonized::Original(mut r)) => {
                // Wait until the daemon has written its pid file (or died).
                // read_exact retries EINTR; EOF means the daemon died before that.
                let mut b = [0u8; 1];
                let code = match r.read_exact(&mut b) {
                    Ok(()) => exit::OK,
                    Err(_) => exit::FATAL,
                };
                return (code, false);
            }
            Ok(Daemonized::Daemon(w)) => started_pipe = Some(w),
            Err(e) => {
                error!("Unable to daemonize: {e}");
                return (exit::FATAL, true);
            }
        }
    }
    (parent::run(opts, services, cfg, started_pipe), true)
}

/// Gives the heap memory freed so far back to the kernel: glibc keeps freed blocks in
/// the middle of the heap (the parsed configuration, once dropped) as resident memory.
pub(crate) fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only reorganises the allocator's own free lists; it has no
    // preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// `a.uuuuuu/b.uuuuuu` user and system times of this process and its reaped children,
/// as keepalived prints them with -D.
pub(crate) fn cpu_usage() -> Option<(String, String)> {
    use nix::sys::resource::{getrusage, UsageWho};
    let me = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let ch = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
    let t = |tv: nix::sys::time::TimeVal| format!("{}.{:06}", tv.tv_sec(), tv.tv_usec());
    Some((
        format!("{}/{}", t(me.user_time()), t(ch.user_time())),
        format!("{}/{}", t(me.system_time()), t(ch.system_time())),
    ))
}

/// `a.uuuuuu` user and system times of this process alone (a child's `Stopped` line).
pub(crate) fn self_cpu_usage() -> Option<(String, String)> {
    use nix::sys::resource::{getrusage, UsageWho};
    let me = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let kids = getrusage(UsageWho::RUSAGE_CHILDREN).ok()?;
    let t = |tv: nix::sys::time::TimeVal| format!("{}.{:06}", tv.tv_sec(), tv.tv_usec());
    let zero = nix::sys::time::TimeVal::new(0, 0);
    // Observed (2.2.7): a process whose scripts used CPU time shows it after its own,
    // `(self/children) 0.000000/0.011440 user time, 0.005722/0.000000 system time`.
    if kids.user_time() == zero && kids.system_time() == zero {
        return Some((t(me.user_time()), t(me.system_time())));
    }
    Some((
        format!(
            "(self/children) {}/{}",
            t(me.user_time()),
            t(kids.user_time())
        ),
        format!("{}/{}", t(me.system_time()), t(kids.system_time())),
    ))
}

enum Daemonized {
    /// The process that ran the command: reads one byte once the daemon runs.
    Original(std::fs::File),
    /// The daemon: writes the byte.
    Daemon(OwnedFd),
}

/// Double fork, setsid, chdir /, standard streams to /dev/null.
fn daemonize() -> std::io::Result<Daemonized> {
    use nix::unistd::{fork, setsid, ForkResult};
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // SAFETY: no other thread exists yet (the parent never starts one), so the child
    // may run arbitrary code after fork.
    match unsafe { fork() }? {
        ForkResult::Parent { .. } => {
            drop(w);
            return Ok(Daemonized::Original(std::fs::File::from(r)));
        }
        ForkResult::Child => {}
    }
    drop(r);
    setsid()?;
    // SAFETY: as above, single-threaded.
    if let ForkResult::Parent { .. } = unsafe { fork() }? {
        std::process::exit(0);
    }
    std::env::set_current_dir("/")?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    nix::unistd::dup2_stdout(&null)?;
    nix::unistd::dup2_stderr(&null)?;
    Ok(Daemonized::Daemon(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Diagnostics, Severity};

    fn loaded_with(class: KaClass, severity: Severity) -> Loaded {
        let mut diagnostics = Diagnostics::new();
        diagnostics.push(config::Diagnostic::new(severity, Some(class), "x"));
        Loaded {
            diagnostics,
            ..Default::default()
        }
    }

    /// Observed (keepalived 2.2.7 -D): its command line cut at 86 bytes, on spaces.
    #[test]
    fn command_line_wraps_as_keepalived() {
        let cmd = "'/usr/sbin/keepalived' '--dont-fork' '-l' '-D' '-P' '-f' \
                   '/tmp/lp/real/k.conf' '-p' '/tmp/lp/real/k.pid' '-r' '/tmp/lp/real/v.pid' \
                   '-c' '/tmp/lp/real/c.pid' '-b' '/tmp/lp/real/b.pid'";
        assert_eq!(
            option_lines("Command line", cmd),
            [
                "Command line: '/usr/sbin/keepalived' '--dont-fork' '-l' '-D' '-P' '-f' \
                 '/tmp/lp/real/k.conf' '-p'",
                "              '/tmp/lp/real/k.pid' '-r' '/tmp/lp/real/v.pid' '-c' \
                 '/tmp/lp/real/c.pid' '-b'",
                "              '/tmp/lp/real/b.pid'",
            ]
        );
        assert_eq!(option_lines("Command line", "'x'"), ["Command line: 'x'"]);
    }

    #[test]
    fn only_missing_parameters_stop_keepalived() {
        assert_eq!(fatal_status(&Loaded::default()), None);
        let l = loaded_with(KaClass::MissingParameter, Severity::Error);
        assert_eq!(fatal_status(&l), Some(exit::CONFIG));
        // Unknown keywords and the like are logged and keepalived goes on.
        for c in [
            KaClass::UnknownKeyword,
            KaClass::GeneralError,
            KaClass::FileNotFound,
        ] {
            assert_eq!(fatal_status(&loaded_with(c, Severity::Error)), None);
        }
    }

    #[test]
    fn which_children_start() {
        let both = Sections {
            vrrp: true,
            checker: true,
            ..Default::default()
        };
        let none = Sections::default();
        let o = DaemonOptions::default();
        assert!(o.wants(ChildKind::Vrrp, &both) && o.wants(ChildKind::Checker, &both));
        assert!(!o.wants(ChildKind::Vrrp, &none) && !o.wants(ChildKind::Checker, &none));
        let p = DaemonOptions {
            vrrp_only: true,
            ..Default::default()
        };
        assert!(p.wants(ChildKind::Vrrp, &both) && !p.wants(ChildKind::Checker, &both));
        let c = DaemonOptions {
            check_only: true,
            all: true,
            ..Default::default()
        };
        assert!(!c.wants(ChildKind::Vrrp, &none) && c.wants(ChildKind::Checker, &none));
        // BFD: with a bfd_instance (or --all), not with -P, -C or -B.
        let bfd = Sections {
            bfd: true,
            ..Default::default()
        };
        assert!(o.wants(ChildKind::Bfd, &bfd) && !o.wants(ChildKind::Bfd, &none));
        assert!(!p.wants(ChildKind::Bfd, &bfd) && !c.wants(ChildKind::Bfd, &bfd));
        let b = DaemonOptions {
            no_bfd: true,
            ..Default::default()
        };
        assert!(!b.wants(ChildKind::Bfd, &bfd));
        let all = DaemonOptions {
            all: true,
            ..Default::default()
        };
        assert!(all.wants(ChildKind::Bfd, &none));
    }
}
