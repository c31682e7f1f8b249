//! Checks that look at the host, as `keepalived -t` does after parsing:
//! interfaces named by the configuration exist, scripts exist and are safe to run.
//!
//! These take plain inputs so they do not depend on the shape of the typed model. What the
//! real keepalived 2.2.7 `-t` reports (verified in a network namespace):
//! * `vrrp_instance` on a missing interface: `WARNING - interface X for vrrp_instance Y
//!   doesn't exist` (exit 5); on a loopback interface: `(Y) cannot use a loopback
//!   interface (lo) for vrrp - ignoring` (exit 5); a missing `track_interface`: `(Y)
//!   tracked interface X doesn't exist`; a missing `dev X` of an address: `WARNING -
//!   interface X for ip address A doesn't exist` (both exit 5; loopback is fine there).
//! * track scripts (`vrrp_script`, checker scripts) that cannot be found are removed:
//!   `Disabling track script X since not found/accessible` (exit 5); with
//!   `enable_script_security`, insecure ones too: `Disabling track script X due to
//!   insecure` (exit 5); a `user` that does not exist: `Unable to set uid/gid for script
//!   'P'` (exit 5); without a usable default user: `Unable to set default user for vrrp
//!   script X - removing` (exit 5).
//! * `Unable to set default user keepalived_script for script` (exit 5) once, at the first
//!   script of any kind that needs the default user while script security is on and
//!   neither `script_user` nor the `keepalived_script` user exists.
//! * notify scripts that are missing, insecure or have an unknown user are dropped
//!   silently (so we only lint), and then do not count as executed.
//! * `"</dev/tcp/..."` redirections are neither checked nor counted as executed.
//! * any script that will run while `enable_script_security` is off: `SECURITY VIOLATION -
//!   scripts are being executed but script_security not enabled.` (exit 6), with ` There
//!   are insecure scripts.` appended when one is insecure.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::net::if_::InterfaceFlags;

use super::diagnostic::{Diagnostic, Diagnostics, KaClass, Severity, Span};
use super::env::HostEnv;
use super::model::parse_c_ulong;
use super::model::script::Script;

pub use super::env::DEFAULT_SCRIPT_USER;

/// The machine this process runs on, as the configuration model asks about it (each
/// question is answered from the system databases and files when asked).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemHost;

impl HostEnv for SystemHost {
    fn hostname(&self) -> String {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .or_else(|| {
                std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .ok()
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| "localhost".into())
    }

    fn user_name(&self) -> Option<String> {
        nix::unistd::User::from_uid(nix::unistd::geteuid())
            .ok()
            .flatten()
            .map(|u| u.name)
    }

    fn user_exists(&self, name: &str) -> bool {
        matches!(nix::unistd::User::from_name(name), Ok(Some(_)))
    }

    fn group_exists(&self, name: &str) -> bool {
        matches!(nix::unistd::Group::from_name(name), Ok(Some(_)))
    }

    /// Reads `/etc/iproute2/<file>` (and `<file>.d/*.conf`): lines `NUMBER NAME`.
    fn iproute2_id(&self, file: &str, name: &str) -> Option<u32> {
        let mut paths = vec![PathBuf::from(format!("/etc/iproute2/{file}"))];
        if let Ok(rd) = std::fs::read_dir(format!("/etc/iproute2/{file}.d")) {
            paths.extend(
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "conf")),
            );
        }
        for p in paths {
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("");
                let mut it = line.split_whitespace();
                if let (Some(num), Some(n)) = (it.next(), it.next()) {
                    if n == name {
                        if let Some(v) = parse_c_ulong(num).and_then(|v| u32::try_from(v).ok()) {
                            return Some(v);
                        }
                    }
                }
            }
        }
        None
    }

    /// `/etc/protocols`: `NAME NUMBER [ALIAS...]`.
    fn ip_protocol(&self, name: &str) -> Option<u8> {
        let text = std::fs::read_to_string("/etc/protocols").ok()?;
        text.lines()
            .map(|l| l.split('#').next().unwrap_or(""))
            .find_map(|l| {
                let mut it = l.split_whitespace();
                let first = it.next()?;
                let num = it.next()?;
                (first == name || it.any(|alias| alias == name))
                    .then(|| num.parse::<u8>().ok())
                    .flatten()
            })
    }

    /// getaddrinfo, as keepalived's `domain_stosockaddr`.
    fn resolves(&self, name: &str, port: u16) -> bool {
        use std::net::ToSocketAddrs as _;
        (name, port)
            .to_socket_addrs()
            .is_ok_and(|mut a| a.next().is_some())
    }
}

/// `global_defs` settings that decide how scripts are run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptSecurity {
    /// `enable_script_security`
    pub enabled: bool,
    /// `script_user USER [GROUP]`
    pub script_user: Option<(String, Option<String>)>,
    /// Where `script_user` is written, for its diagnostic.
    pub script_user_span: Option<Span>,
}

/// What a script is used for: keepalived treats them differently when they are unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind<'a> {
    /// `vrrp_script NAME` (or a checker's script): removed with a reported error.
    Track { name: &'a str },
    /// `notify*` scripts: dropped silently by keepalived.
    Notify,
}

/// One script of the configuration and its use.
#[derive(Debug, Clone, Copy)]
pub struct ScriptUse<'a> {
    pub script: &'a Script,
    pub kind: ScriptKind<'a>,
}

/// Where an interface is named; keepalived words each case differently (observed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfaceRole<'a> {
    /// `interface X` of `vrrp_instance NAME` (loopback is refused there).
    Instance(&'a str),
    /// `track_interface { X }` of `vrrp_instance NAME`.
    Tracked(&'a str),
    /// `ADDRESS dev X` in an address block (`virtual_ipaddress`, `static_ipaddress`, ...),
    /// with the address as written.
    Address(&'a str),
    /// Anything else (e.g. `vrrp_sync_group`, `lvs_sync_daemon`), named for the message.
    Other(&'a str),
}

/// One interface named by the configuration.
#[derive(Debug, Clone, Copy)]
pub struct IfaceUse<'a> {
    pub name: &'a str,
    pub span: Span,
    pub role: IfaceRole<'a>,
}

/// The host's interfaces (in the current network namespace) and their flags.
pub fn host_interfaces() -> HashMap<String, InterfaceFlags> {
    let mut out: HashMap<String, InterfaceFlags> = HashMap::new();
    if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
        for a in addrs {
            *out.entry(a.interface_name)
                .or_insert(InterfaceFlags::empty()) |= a.flags;
        }
    }
    out
}

/// Reports interfaces that do not exist, and loopback used by a VRRP instance.
/// With `dynamic_interfaces` a missing interface is awaited, not an error (keepalived 2.2.7
/// `-t` exits 0 and logs `Configuration specifies interface X which doesn't currently exist
/// - will use if created`).
pub fn check_interfaces<'a>(
    uses: impl IntoIterator<Item = IfaceUse<'a>>,
    dynamic: bool,
    diags: &mut Diagnostics,
) {
    let host = host_interfaces();
    let mut told: Vec<&str> = Vec::new();
    let mut present = Vec::new();
    for u in uses {
        if !dynamic || host.contains_key(u.name) {
            present.push(u);
        } else if !told.contains(&u.name) {
            told.push(u.name);
            diags.lint(
                Some(u.span),
                format!(
                    "Configuration specifies interface {} which doesn't currently exist - will use if created",
                    u.name
                ),
            );
        }
    }
    check_interfaces_in(present, &host, diags);
}

/// [`check_interfaces`] against a given interface list.
pub fn check_interfaces_in<'a>(
    uses: impl IntoIterator<Item = IfaceUse<'a>>,
    host: &HashMap<String, InterfaceFlags>,
    diags: &mut Diagnostics,
) {
    for u in uses {
        match host.get(u.name) {
            None => {
                let n = u.name;
                let (msg, help) = match u.role {
                    IfaceRole::Instance(i) => (
                        format!("WARNING - interface {n} for vrrp_instance {i} doesn't exist"),
                        true,
                    ),
                    IfaceRole::Tracked(i) => {
                        (format!("({i}) tracked interface {n} doesn't exist"), false)
                    }
                    IfaceRole::Address(a) => (
                        format!("WARNING - interface {n} for ip address {a} doesn't exist"),
                        true,
                    ),
                    IfaceRole::Other(o) => (
                        format!("WARNING - interface {n} for {o} doesn't exist"),
                        true,
                    ),
                };
                let mut d =
                    Diagnostic::new(Severity::Error, Some(KaClass::Warning), msg).at(u.span);
                if help {
                    d = d.with_help("Non-existent interface specified in configuration");
                }
                diags.push(d);
            }
            Some(flags) if flags.contains(InterfaceFlags::IFF_LOOPBACK) => {
                if let IfaceRole::Instance(inst) = u.role {
                    diags.error(
                        KaClass::GeneralError,
                        Some(u.span),
                        format!(
                            "({inst}) cannot use a loopback interface ({}) for vrrp - ignoring",
                            u.name
                        ),
                    );
                }
            }
            Some(_) => {}
        }
    }
}

/// The user and group a script runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

/// Looks up `user` (and `group`, else the user's primary group) in the system databases.
pub fn lookup_user(user: &str, group: Option<&str>) -> Option<RunAs> {
    let u = nix::unistd::User::from_name(user).ok().flatten()?;
    let gid = match group {
        Some(g) => nix::unistd::Group::from_name(g)
            .ok()
            .flatten()?
            .gid
            .as_raw(),
        None => u.gid.as_raw(),
    };
    Some(RunAs {
        uid: u.uid.as_raw(),
        gid,
    })
}

/// Checks every script as keepalived does before running anything.
pub fn check_scripts<'a>(
    scripts: impl IntoIterator<Item = ScriptUse<'a>>,
    security: &ScriptSecurity,
    diags: &mut Diagnostics,
) {
    let path_var = std::env::var("PATH").unwrap_or_else(|_| String::from("/usr/bin:/bin"));
    check_scripts_with(scripts, security, &path_var, lookup_user, diags);
}

/// [`check_scripts`] with an explicit PATH and user lookup (for tests).
fn check_scripts_with<'a>(
    scripts: impl IntoIterator<Item = ScriptUse<'a>>,
    security: &ScriptSecurity,
    path_var: &str,
    lookup: fn(&str, Option<&str>) -> Option<RunAs>,
    diags: &mut Diagnostics,
) {
    // The default user: script_user, else keepalived_script if it exists, else root —
    // except that with script security and no script_user, keepalived refuses to fall back
    // to root.
    let mut default_user: Option<RunAs> = None;
    let mut default_user_error = false;
    match &security.script_user {
        Some((u, g)) => match lookup(u, g.as_deref()) {
            Some(r) => default_user = Some(r),
            None => {
                default_user_error = true;
                diags.error(
                    KaClass::GeneralError,
                    security.script_user_span,
                    "Error setting global script uid/gid",
                );
            }
        },
        None => match lookup(DEFAULT_SCRIPT_USER, None) {
            Some(r) => default_user = Some(r),
            None if security.enabled => default_user_error = true,
            None => default_user = Some(RunAs { uid: 0, gid: 0 }),
        },
    }

    let mut executed = false;
    let mut insecure_seen = false;
    let mut default_user_reported = false;
    for su in scripts {
        let s = su.script;
        let prog = s.argv.first().map_or("", String::as_str);
        match vet_script(s, default_user, security.enabled, path_var, lookup) {
            // `"</dev/tcp/host/port"`: a shell redirection, run via the shell.
            // Observed: these do not count as scripts being executed for SECURITY VIOLATION.
            Vetting::Empty | Vetting::Redirect => {}
            Vetting::NoUser(u) => report(
                diags,
                su.kind,
                s.span,
                format!("Unable to set uid/gid for script '{prog}'"),
                format!("user '{u}' (or its group) does not exist; the script is removed"),
            ),
            Vetting::NoDefaultUser => {
                // Reported once, at the first script that needs the default user, whatever
                // its kind (observed: a lone notify_master makes -t exit 5).
                if default_user_error && security.script_user.is_none() && !default_user_reported {
                    default_user_reported = true;
                    diags.error(
                        KaClass::GeneralError,
                        Some(s.span),
                        format!("Unable to set default user {DEFAULT_SCRIPT_USER} for script"),
                    );
                }
                match su.kind {
                    ScriptKind::Track { name } => diags.push(
                        Diagnostic::new(
                            Severity::Error,
                            Some(KaClass::GeneralError),
                            format!("Unable to set default user for vrrp script {name} - removing"),
                        )
                        .at(s.span)
                        .with_help(format!(
                            "user '{DEFAULT_SCRIPT_USER}' does not exist: add `script_user USER` \
                             to global_defs or create the user"
                        )),
                    ),
                    ScriptKind::Notify => diags.lint(
                        Some(s.span),
                        format!(
                            "Unable to set default user for script {prog} - it will not be run"
                        ),
                    ),
                }
            }
            Vetting::NotFound => match su.kind {
                ScriptKind::Track { name } => diags.push(
                    Diagnostic::new(
                        Severity::Error,
                        Some(KaClass::GeneralError),
                        format!("Disabling track script {name} since not found/accessible"),
                    )
                    .at(s.span)
                    .with_help(format!(
                        "check_script_secure could not find script '{prog}'"
                    )),
                ),
                ScriptKind::Notify => diags.lint(
                    Some(s.span),
                    format!("check_script_secure could not find script '{prog}' - disabling"),
                ),
            },
            Vetting::Insecure(why) => {
                let msg = format!("Unsafe permissions found for script '{prog}' - disabling");
                match su.kind {
                    ScriptKind::Track { name } => diags.push(
                        Diagnostic::new(
                            Severity::Error,
                            Some(KaClass::GeneralError),
                            format!("Disabling track script {name} due to insecure"),
                        )
                        .at(s.span)
                        .with_help(format!("{msg}: {why}")),
                    ),
                    ScriptKind::Notify => diags.lint(Some(s.span), format!("{msg}: {why}")),
                }
            }
            Vetting::Run {
                path,
                run_as,
                unsafe_why,
            } => {
                if !prog.contains('/') {
                    diags.lint(
                        Some(s.span),
                        format!(
                            "WARNING - script '{prog}' resolved by path search to '{}'. Please \
                             specify full path.",
                            path.display()
                        ),
                    );
                }
                if let Some(why) = unsafe_why {
                    insecure_seen = true;
                    diags.lint(
                        Some(s.span),
                        format!("Unsafe permissions found for script '{prog}': {why}"),
                    );
                }
                if run_as.uid == 0 {
                    lint_file(&path, prog, run_as, s.span, diags);
                }
                executed = true;
            }
        }
    }
    if executed && !security.enabled {
        let mut msg = String::from(
            "SECURITY VIOLATION - scripts are being executed but script_security not enabled.",
        );
        if insecure_seen {
            msg.push_str(" There are insecure scripts.");
        }
        diags.push(
            Diagnostic::new(Severity::Warning, Some(KaClass::SecurityError), msg)
                .with_help("add `enable_script_security` (and `script_user USER`) to global_defs"),
        );
    }
}

/// What keepalived decides about one script before running it. The `-t`
/// checks above and the VRRP child's notify machinery both use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vetting {
    /// No words at all.
    Empty,
    /// `"</dev/tcp/..."`: a shell redirection, run via the shell without file checks.
    Redirect,
    /// The script's own `user` (or group) does not exist.
    NoUser(String),
    /// No usable default user (script security on, no `script_user`, no `keepalived_script`).
    NoDefaultUser,
    /// Not found (bare names: not in PATH).
    NotFound,
    /// Run as root but unsafe while script security is on: disabled.
    Insecure(String),
    /// May run, as `run_as`; `unsafe_why` when it is unsafe but script security is off.
    Run {
        path: PathBuf,
        run_as: RunAs,
        unsafe_why: Option<String>,
    },
}

/// Decides about one script: its own `user`/`group`, else `default_user` (`None`: no
/// usable default); then it must exist and, when run as root, be safe.
pub fn vet_script(
    s: &Script,
    default_user: Option<RunAs>,
    security_enabled: bool,
    path_var: &str,
    lookup: fn(&str, Option<&str>) -> Option<RunAs>,
) -> Vetting {
    let Some(prog) = s.argv.first() else {
        return Vetting::Empty;
    };
    if prog.starts_with("</") {
        return Vetting::Redirect;
    }
    let run_as = match &s.user {
        Some(u) => match lookup(u, s.group.as_deref()) {
            Some(r) => r,
            None => return Vetting::NoUser(u.clone()),
        },
        None => match default_user {
            Some(r) => r,
            None => return Vetting::NoDefaultUser,
        },
    };
    let Some(path) = resolve(prog, path_var) else {
        return Vetting::NotFound;
    };
    let unsafe_why = if run_as.uid == 0 {
        insecure_reason(&path)
    } else {
        None
    };
    match unsafe_why {
        Some(why) if security_enabled => Vetting::Insecure(why),
        unsafe_why => Vetting::Run {
            path,
            run_as,
            unsafe_why,
        },
    }
}

/// A problem keepalived reports for track scripts and is silent about for notify scripts.
fn report(diags: &mut Diagnostics, kind: ScriptKind, span: Span, msg: String, help: String) {
    match kind {
        ScriptKind::Track { .. } => diags.push(
            Diagnostic::new(Severity::Error, Some(KaClass::GeneralError), msg)
                .at(span)
                .with_help(help),
        ),
        ScriptKind::Notify => diags.lint(Some(span), msg),
    }
}

/// Our own warnings about a script run as root: not executable, no `#!` line.
fn lint_file(path: &Path, prog: &str, run_as: RunAs, span: Span, diags: &mut Diagnostics) {
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    if meta.permissions().mode() & 0o111 == 0 {
        diags.lint(
            Some(span),
            format!(
                "WARNING - script '{prog}' is not executable for uid:gid {}:{} - disabling.",
                run_as.uid, run_as.gid
            ),
        );
        return;
    }
    let mut head = [0u8; 2];
    let has_shebang = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
        .is_ok()
        && &head == b"#!";
    let is_elf = std::fs::read(path)
        .map(|b| b.starts_with(b"\x7fELF"))
        .unwrap_or(false);
    if !has_shebang && !is_elf {
        diags.lint(
            Some(span),
            format!("Please add a #! shebang to script {prog}"),
        );
    }
}

/// A path as given, or a bare name looked up in PATH (executable regular files only).
pub fn resolve(prog: &str, path_var: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        return p.exists().then_some(p);
    }
    path_var
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(prog))
        .find(|p| {
            std::fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Why a script run as root is unsafe, if it is: the file and every directory above it
/// must be owned by root and not writable by others or by a non-root group; directories
/// with the sticky bit are exempt.
pub fn insecure_reason(path: &Path) -> Option<String> {
    let real = std::fs::canonicalize(path).ok()?;
    let mut cur: Option<&Path> = Some(real.as_path());
    while let Some(p) = cur {
        let meta = std::fs::metadata(p).ok()?;
        let mode = meta.mode();
        let is_dir = meta.is_dir();
        let sticky = is_dir && mode & 0o1000 != 0;
        if meta.uid() != 0 {
            return Some(format!("'{}' is owned by uid {}", p.display(), meta.uid()));
        }
        if !sticky {
            if mode & 0o002 != 0 {
                return Some(format!("'{}' is writable by others", p.display()));
            }
            if mode & 0o020 != 0 && meta.gid() != 0 {
                return Some(format!(
                    "'{}' is writable by group {}",
                    p.display(),
                    meta.gid()
                ));
            }
        }
        cur = p.parent();
    }
    None
}

/// Runs every host check on a loaded configuration: the interfaces it names and the
/// scripts it runs (what `keepalived -t` checks beyond the syntax).
pub fn check_config(cfg: &super::Config, diags: &mut Diagnostics) {
    check_interfaces(config_interfaces(cfg), cfg.global.dynamic_interfaces, diags);
    let security = ScriptSecurity {
        enabled: cfg.global.enable_script_security,
        script_user: cfg.global.script_user.clone(),
        script_user_span: None,
    };
    let host = host_interfaces();
    check_default_interface(cfg, &host, diags);
    check_vrf(cfg, &host, diags);
    check_link_blocks(cfg, &host, diags);
    let owned = config_scripts(cfg);
    check_scripts(
        owned.iter().map(|(script, track)| ScriptUse {
            script,
            kind: match track {
                Some(name) => ScriptKind::Track { name },
                None => ScriptKind::Notify,
            },
        }),
        &security,
        diags,
    );
    check_checker_scripts(cfg, diags);
    check_start_stop_scripts(&cfg.global, diags);
}

/// global_defs `startup_script` / `shutdown_script`, which the parent runs: keepalived
/// vets them like the others (a missing or, with script security, unsafe one is dropped
/// without a word) and reports `SECURITY VIOLATION - start/shutdown scripts ...` (exit 6)
/// when one will run while script security is off.
fn check_start_stop_scripts(g: &super::model::global::GlobalDefs, diags: &mut Diagnostics) {
    let path_var = std::env::var("PATH").unwrap_or_else(|_| String::from("/usr/bin:/bin"));
    let default = match &g.script_user {
        Some((u, gr)) => lookup_user(u, gr.as_deref()),
        None => lookup_user(DEFAULT_SCRIPT_USER, None).or(Some(RunAs { uid: 0, gid: 0 })),
    };
    let (mut executed, mut insecure, mut span) = (false, false, None);
    for s in [&g.startup_script, &g.shutdown_script]
        .into_iter()
        .flatten()
    {
        let v = vet_script(s, default, g.enable_script_security, &path_var, lookup_user);
        if let Vetting::Run { unsafe_why, .. } = v {
            executed = true;
            insecure |= unsafe_why.is_some();
            span = span.or(Some(s.span));
        }
    }
    if executed && !g.enable_script_security {
        let mut msg = String::from(
            "SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled.",
        );
        if insecure {
            msg.push_str(" There are insecure scripts.");
        }
        let mut d = Diagnostic::new(Severity::Error, Some(KaClass::SecurityError), msg)
            .with_help("add `enable_script_security` (and `script_user USER`) to global_defs");
        if let Some(sp) = span {
            d = d.at(sp);
        }
        diags.push(d);
    }
}

/// A static address without `dev` goes on `default_interface` (else `eth0`); keepalived
/// 2.2.7 refuses the configuration when that interface does not exist (`-t` exits 4),
/// unless `dynamic_interfaces` lets it wait.
fn check_default_interface(
    cfg: &super::Config,
    host: &HashMap<String, InterfaceFlags>,
    diags: &mut Diagnostics,
) {
    let name = cfg.global.default_ifname();
    if cfg.global.dynamic_interfaces || host.contains_key(name) {
        return;
    }
    for a in cfg.statics.addresses.iter().filter(|a| a.dev.is_none()) {
        diags.push(
            Diagnostic::new(
                Severity::Error,
                Some(KaClass::Fatal),
                format!(
                    "Static address {}/{} requires either an interface or default interface must exist",
                    a.addr, a.prefix
                ),
            )
            .at(a.span)
            .with_help("Non-existent interface specified in configuration"),
        );
    }
}

/// `interface_up_down_delays` and `linkbeat_interfaces` on a missing interface: keepalived
/// 2.2.7 refuses the configuration (`-t` exits 4) unless `dynamic_interfaces`.
fn check_link_blocks(
    cfg: &super::Config,
    host: &HashMap<String, InterfaceFlags>,
    diags: &mut Diagnostics,
) {
    if cfg.global.dynamic_interfaces {
        return;
    }
    let s = &cfg.statics;
    let named = s
        .up_down_delays
        .iter()
        .map(|d| (&d.interface, "up/down delay"))
        .chain(
            s.linkbeat_interfaces
                .iter()
                .map(|l| (&l.interface, "linkbeat interface")),
        );
    for (n, what) in named {
        if !host.contains_key(n.as_str()) {
            diags.error(
                KaClass::Fatal,
                None,
                format!("unknown interface {n} specified for {what}"),
            );
        }
    }
}

/// An instance's `vrf` (keepalived 2.2.7 vrrp_vrf_handler, vrrp_complete_instance): a
/// missing VRF device is reported, a loopback one ignored, and an existing one cleared
/// again when the instance has an interface (which 2.2.7 requires): `vrf` never applies.
fn check_vrf(cfg: &super::Config, host: &HashMap<String, InterfaceFlags>, diags: &mut Diagnostics) {
    for i in &cfg.vrrp.instances {
        let Some(vrf) = &i.vrf else { continue };
        let name = &i.name;
        match host.get(vrf.as_str()) {
            None if cfg.global.dynamic_interfaces => {}
            None => diags.push(
                Diagnostic::new(
                    Severity::Error,
                    Some(KaClass::Warning),
                    format!("({name}) WARNING - VRF interface {vrf} doesn't exist"),
                )
                .at(i.span)
                .with_help("Non-existent interface specified in configuration"),
            ),
            Some(flags) if flags.contains(InterfaceFlags::IFF_LOOPBACK) => diags.error(
                KaClass::GeneralError,
                Some(i.span),
                format!("({name}) cannot use a loopback interface ({vrf}) for VRF - ignoring"),
            ),
            Some(_) if i.interface.is_some() => diags.error(
                KaClass::GeneralError,
                Some(i.span),
                format!("({name}) vrf can only be specified without interface - clearing"),
            ),
            Some(_) => {}
        }
    }
}

/// Every interface the configuration names, with its role.
pub fn config_interfaces(cfg: &super::Config) -> Vec<IfaceUse<'_>> {
    fn addr_uses(a: &super::model::addr::AddressSpec) -> Option<(&str, Span)> {
        a.dev.as_deref().map(|d| (d, a.span))
    }
    let mut out = Vec::new();
    for inst in &cfg.vrrp.instances {
        if let Some(ifname) = &inst.interface {
            out.push(IfaceUse {
                name: ifname,
                span: inst.span,
                role: IfaceRole::Instance(&inst.name),
            });
        }
        for t in &inst.track_interfaces {
            out.push(IfaceUse {
                name: &t.name,
                span: t.span,
                role: IfaceRole::Tracked(&inst.name),
            });
        }
        for a in inst.vips.iter().chain(inst.evips.iter()) {
            if let Some((name, span)) = addr_uses(a) {
                out.push(IfaceUse {
                    name,
                    span,
                    role: IfaceRole::Address("address"),
                });
            }
        }
    }
    for a in &cfg.statics.addresses {
        if let Some((name, span)) = addr_uses(a) {
            out.push(IfaceUse {
                name,
                span,
                role: IfaceRole::Address("static address"),
            });
        }
    }
    out
}

/// Every script the configuration runs; `Some(name)` for track/check scripts, `None` for
/// notify scripts. vrrp_script users come from the block's `user` keyword, not from words
/// after the script (keepalived reads them that way, observed).
pub fn config_scripts(cfg: &super::Config) -> Vec<(Script, Option<String>)> {
    let mut out: Vec<(Script, Option<String>)> = Vec::new();
    for vs in &cfg.vrrp.scripts {
        if let Some(sc) = &vs.script {
            let mut sc = sc.clone();
            sc.user = vs.user.as_ref().map(|(u, _)| u.clone());
            sc.group = vs.user.as_ref().and_then(|(_, g)| g.clone());
            out.push((sc, Some(vs.name.clone())));
        }
    }
    let notify_set = |n: &super::model::vrrp::instance::Notify| -> Vec<Script> {
        [&n.master, &n.backup, &n.fault, &n.stop, &n.generic]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    };
    for inst in &cfg.vrrp.instances {
        out.extend(notify_set(&inst.notify).into_iter().map(|s| (s, None)));
        for s in [
            &inst.notify_deleted_script,
            &inst.notify_master_rx_lower_pri,
        ]
        .into_iter()
        .flatten()
        {
            out.push((s.clone(), None));
        }
    }
    for g in &cfg.vrrp.sync_groups {
        out.extend(notify_set(&g.notify).into_iter().map(|s| (s, None)));
    }
    // keepalived -t does not look at the checker's scripts (observed: a MISC_CHECK whose
    // script is missing, without script security, passes); [`check_checker_scripts`] lints.
    out
}

/// Our own lint for checker scripts that cannot run: keepalived -t is silent about them,
/// so this never changes the verdict.
pub fn check_checker_scripts(cfg: &super::Config, diags: &mut Diagnostics) {
    for s in cfg.check.scripts() {
        let Some(prog) = s.argv.first() else { continue };
        let path = Path::new(prog);
        if path.is_absolute() && !path.exists() {
            diags.lint(
                Some(s.span),
                format!("check script '{prog}' does not exist: the check will fail"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn script(text: &str) -> Script {
        Script {
            argv: crate::config::model::script::split_command(text),
            text: text.to_owned(),
            user: None,
            group: None,
            span: Span::default(),
        }
    }

    fn root_only(user: &str, _g: Option<&str>) -> Option<RunAs> {
        (user == "root").then_some(RunAs { uid: 0, gid: 0 })
    }

    fn with_ks(user: &str, _g: Option<&str>) -> Option<RunAs> {
        match user {
            "root" => Some(RunAs { uid: 0, gid: 0 }),
            DEFAULT_SCRIPT_USER => Some(RunAs { uid: 999, gid: 999 }),
            _ => None,
        }
    }

    fn secure_root() -> ScriptSecurity {
        ScriptSecurity {
            enabled: true,
            script_user: Some(("root".into(), None)),
            script_user_span: None,
        }
    }

    fn run(uses: &[ScriptUse], sec: &ScriptSecurity) -> Diagnostics {
        let mut d = Diagnostics::new();
        check_scripts_with(
            uses.iter().copied(),
            sec,
            "/usr/bin:/bin",
            root_only,
            &mut d,
        );
        d
    }

    fn track<'a>(s: &'a Script) -> ScriptUse<'a> {
        ScriptUse {
            script: s,
            kind: ScriptKind::Track { name: "chk" },
        }
    }

    fn notify(s: &Script) -> ScriptUse<'_> {
        ScriptUse {
            script: s,
            kind: ScriptKind::Notify,
        }
    }

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    #[test]
    fn secure_script_with_security_is_clean() {
        let s = script("/bin/true");
        let d = run(&[track(&s), notify(&s)], &secure_root());
        assert_eq!(d.config_test_exit_code(), 0, "{d:?}");
    }

    #[test]
    fn scripts_without_security_are_a_violation() {
        let s = script("/bin/true");
        let d = run(&[notify(&s)], &ScriptSecurity::default());
        assert_eq!(d.config_test_exit_code(), 6);
        assert!(d.items.iter().any(|x| x.message
            == "SECURITY VIOLATION - scripts are being executed but script_security not enabled."));
        // a missing notify script is dropped silently and runs nothing
        let s = script("/nonexistent/notify.sh");
        let d = run(&[notify(&s)], &ScriptSecurity::default());
        assert_eq!(d.config_test_exit_code(), 0);
        // a missing track script is reported; the violation still wins (6)
        let t = script("/nonexistent/chk.sh");
        let n = script("/bin/true");
        let d = run(&[track(&t), notify(&n)], &ScriptSecurity::default());
        assert_eq!(d.config_test_exit_code(), 6);
        assert!(d
            .items
            .iter()
            .any(|x| x.message == "Disabling track script chk since not found/accessible"));
    }

    #[test]
    fn missing_track_script_is_disabled() {
        let s = script("/nonexistent/x arg");
        let d = run(&[track(&s)], &secure_root());
        assert_eq!(d.config_test_exit_code(), 5);
        let s = script("no-such-command-anywhere");
        let d = run(&[track(&s)], &secure_root());
        assert_eq!(d.config_test_exit_code(), 5);
    }

    #[test]
    fn bare_names_resolved_by_path_with_a_lint() {
        let s = script("true");
        let d = run(&[track(&s)], &secure_root());
        assert_eq!(d.config_test_exit_code(), 0);
        assert!(d.items.iter().any(|x| x.class.is_none()
            && x.message
                .starts_with("WARNING - script 'true' resolved by path search to")));
    }

    #[test]
    fn shell_redirections_are_not_files() {
        let s = script("</dev/tcp/127.0.0.1/80");
        let d = run(&[track(&s)], &secure_root());
        assert_eq!(d.config_test_exit_code(), 0);
        // and do not count as executed scripts
        let d = run(&[track(&s)], &ScriptSecurity::default());
        assert_eq!(d.config_test_exit_code(), 0);
    }

    #[test]
    fn insecure_directories_and_files() {
        if !is_root() {
            eprintln!("not root: ownership checks skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let file = dir.path().join("chk.sh");
        fs::write(&file, "#!/bin/sh\nexit 0\n").unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&file, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(insecure_reason(&file), None);
        let s = script(&file.to_string_lossy());
        assert_eq!(run(&[track(&s)], &secure_root()).config_test_exit_code(), 0);

        // others may write the directory: insecure
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o777))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(insecure_reason(&file).is_some_and(|r| r.contains("writable by others")));
        let d = run(&[track(&s)], &secure_root());
        assert_eq!(d.config_test_exit_code(), 5);
        assert!(d
            .items
            .iter()
            .any(|x| x.message == "Disabling track script chk due to insecure"));
        // notify scripts are dropped silently
        assert_eq!(
            run(&[notify(&s)], &secure_root()).config_test_exit_code(),
            0
        );
        // without security: the violation mentions the insecure script
        let d = run(&[track(&s)], &ScriptSecurity::default());
        assert_eq!(d.config_test_exit_code(), 6);
        assert!(d
            .items
            .iter()
            .any(|x| x.message.ends_with("There are insecure scripts.")));

        // the sticky bit exempts a directory (like /tmp)
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o1777))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(insecure_reason(&file), None);
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));

        // group-writable: fine for group root, insecure for another group
        fs::set_permissions(&file, fs::Permissions::from_mode(0o775))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(insecure_reason(&file), None);
        nix::unistd::chown(&file, None, Some(nix::unistd::Gid::from_raw(65534)))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(insecure_reason(&file).is_some_and(|r| r.contains("writable by group")));
        // owned by another user
        fs::set_permissions(&file, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        nix::unistd::chown(&file, Some(nix::unistd::Uid::from_raw(65534)), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(insecure_reason(&file).is_some_and(|r| r.contains("owned by uid 65534")));
    }

    #[test]
    fn non_executable_and_shebang_are_lints_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let a = dir.path().join("noexec.sh");
        fs::write(&a, "#!/bin/sh\n").unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&a, fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
        let b = dir.path().join("noshebang.sh");
        fs::write(&b, "exit 0\n").unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&b, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let (sa, sb) = (script(&a.to_string_lossy()), script(&b.to_string_lossy()));
        let d = run(&[track(&sa), track(&sb)], &secure_root());
        assert_eq!(d.config_test_exit_code(), 0);
        if is_root() {
            assert!(d
                .items
                .iter()
                .any(|x| x.message.contains("is not executable")));
            assert!(d
                .items
                .iter()
                .any(|x| x.message.contains("Please add a #! shebang")));
        }
    }

    #[test]
    fn default_user_rules() {
        let s = script("/bin/true");
        // security on, no script_user, no keepalived_script user: track scripts removed
        let sec = ScriptSecurity {
            enabled: true,
            ..ScriptSecurity::default()
        };
        let d = run(&[track(&s)], &sec);
        assert_eq!(d.config_test_exit_code(), 5);
        assert!(d
            .items
            .iter()
            .any(|x| x.message == "Unable to set default user for vrrp script chk - removing"));
        // a notify script alone: the missing default user is still reported
        let d = run(&[notify(&s)], &sec);
        assert_eq!(d.config_test_exit_code(), 5);
        assert!(d
            .items
            .iter()
            .any(|x| x.message == "Unable to set default user keepalived_script for script"));
        // an explicit user that does not exist removes a track script (reported) and a
        // notify script (silently)
        let mut t = script("/bin/true");
        t.user = Some("nosuchuser".into());
        let d = run(&[track(&t)], &secure_root());
        assert_eq!(d.config_test_exit_code(), 5);
        assert!(d
            .items
            .iter()
            .any(|x| x.message == "Unable to set uid/gid for script '/bin/true'"));
        assert_eq!(
            run(&[notify(&t)], &secure_root()).config_test_exit_code(),
            0
        );
        // with keepalived_script present, it is the default user: no root checks
        let mut d = Diagnostics::new();
        check_scripts_with([track(&s)], &sec, "/bin", with_ks, &mut d);
        assert_eq!(d.config_test_exit_code(), 0);
        // a script_user that does not exist
        let sec = ScriptSecurity {
            enabled: true,
            script_user: Some(("nosuchuser".into(), None)),
            script_user_span: None,
        };
        let d = run(&[track(&s)], &sec);
        assert!(d
            .items
            .iter()
            .any(|x| x.message == "Error setting global script uid/gid"));
        assert_eq!(d.config_test_exit_code(), 5);
    }

    #[test]
    fn interfaces() {
        let mut host = HashMap::new();
        host.insert(
            "lo".to_owned(),
            InterfaceFlags::IFF_LOOPBACK | InterfaceFlags::IFF_UP,
        );
        host.insert("eth0".to_owned(), InterfaceFlags::IFF_UP);
        let sp = Span::default();
        let uses = [
            IfaceUse {
                name: "eth0",
                span: sp,
                role: IfaceRole::Instance("VI_1"),
            },
            // loopback is fine for tracking and addresses (observed)
            IfaceUse {
                name: "lo",
                span: sp,
                role: IfaceRole::Tracked("VI_1"),
            },
            IfaceUse {
                name: "lo",
                span: sp,
                role: IfaceRole::Address("192.0.2.100/24"),
            },
        ];
        let mut d = Diagnostics::new();
        check_interfaces_in(uses, &host, &mut d);
        assert!(d.items.is_empty(), "{d:?}");
        let bad = [
            IfaceUse {
                name: "eth9",
                span: sp,
                role: IfaceRole::Instance("VI_1"),
            },
            IfaceUse {
                name: "lo",
                span: sp,
                role: IfaceRole::Instance("VI_2"),
            },
            IfaceUse {
                name: "eth7",
                span: sp,
                role: IfaceRole::Tracked("VI_1"),
            },
            IfaceUse {
                name: "eth8",
                span: sp,
                role: IfaceRole::Address("192.0.2.100/24"),
            },
        ];
        let mut d = Diagnostics::new();
        check_interfaces_in(bad, &host, &mut d);
        assert_eq!(d.items.len(), 4);
        assert_eq!(
            d.items.get(2).map(|x| x.message.as_str()),
            Some("(VI_1) tracked interface eth7 doesn't exist")
        );
        assert_eq!(
            d.items.get(3).map(|x| x.message.as_str()),
            Some("WARNING - interface eth8 for ip address 192.0.2.100/24 doesn't exist")
        );
        assert_eq!(
            d.items.first().map(|x| x.message.as_str()),
            Some("WARNING - interface eth9 for vrrp_instance VI_1 doesn't exist")
        );
        assert_eq!(
            d.items.get(1).map(|x| x.message.as_str()),
            Some("(VI_2) cannot use a loopback interface (lo) for vrrp - ignoring")
        );
        assert_eq!(d.config_test_exit_code(), 5);
        // the live host has a loopback interface
        assert!(host_interfaces()
            .values()
            .any(|f| f.contains(InterfaceFlags::IFF_LOOPBACK)));
    }
}
