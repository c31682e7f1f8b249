//! `keepalived`: command line, `-t` config test and the daemon.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};

use keepalived::bfd::event::EventSink;
use keepalived::bfd::service::BfdService;
use keepalived::check::service::CheckService;
use keepalived::cli::{self, Command, Options};
use keepalived::config::{self, Diagnostic, KaClass, LoadOptions, Severity};
use keepalived::daemon::{self, DaemonOptions, Runner, Services};
use keepalived::vrrp::service::VrrpService;

fn main() {
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let prog = argv.first().map(String::as_str).unwrap_or("keepalived");
    let args = argv.get(1..).unwrap_or_default();
    // genhash is the same program under another name.
    if Path::new(prog).file_name().and_then(|n| n.to_str()) == Some("genhash") {
        std::process::exit(cli::genhash_main(args, prog, false));
    }
    // The cwd at start resolves a relative -f before anything changes directory.
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let code = match cli::parse(prog, args, &cwd) {
        Command::Exit {
            stdout,
            stderr,
            code,
        } => {
            print!("{stdout}");
            eprint!("{stderr}");
            code
        }
        Command::Genhash { args, stderr } => {
            eprint!("{stderr}");
            cli::genhash_main(&args, prog, true)
        }
        Command::Run {
            options,
            stdout,
            stderr,
        } => {
            print!("{stdout}");
            eprint!("{stderr}");
            run(&options)
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// The children's work: the VRRP engine and the checkers.
const SERVICES: Services = Services {
    vrrp: vrrp_child,
    checker: checker_child,
    bfd: bfd_child,
};

fn vrrp_child(child: Runner<'_>) -> i32 {
    let o = child.opts();
    let svc = VrrpService::new(o.dont_release_vrrp, o.dump_conf)
        .with_namespace_arg(o.namespace_arg.clone())
        .with_snmp_args(o.snmp, o.snmp_agent_socket.clone())
        .with_bfd_events(child.bfd_event_reader());
    child.run(svc)
}

fn checker_child(child: Runner<'_>) -> i32 {
    let o = child.opts();
    let svc = CheckService::new(o.dont_release_ipvs, o.dump_conf)
        .with_bfd_events(child.bfd_event_reader());
    child.run(svc)
}

fn bfd_child(child: Runner<'_>) -> i32 {
    let (vrrp, checker) = child.bfd_event_writers();
    let svc = BfdService::new(child.opts().dump_conf, EventSink::new(vrrp, checker));
    child.run(svc)
}

/// The config id: `-i`, else the host name up to the first dot.
fn config_id(opts: &Options) -> String {
    if let Some(id) = &opts.config_id {
        return id.clone();
    }
    nix::unistd::gethostname()
        .ok()
        .map(|h| h.to_string_lossy().into_owned())
        .map(|h| h.split('.').next().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

/// `-f` may be a glob: the first match is used. `None` when nothing matches.
fn resolve_config(path: &Path) -> Option<PathBuf> {
    let s = path.to_string_lossy();
    if s.contains(['*', '?', '[']) {
        let mut matches = glob::glob(&s).ok()?.filter_map(Result::ok);
        let first = matches.next()?;
        if matches.next().is_some() {
            eprintln!(
                "Multiple config files match '{s}' - using '{}'",
                first.display()
            );
        }
        return Some(first);
    }
    path.exists().then(|| path.to_path_buf())
}

fn run(opts: &Options) -> i32 {
    let Some(path) = resolve_config(&opts.config_file) else {
        // keepalived -t exits 0 here (4 with -e); a missing config is never what the user
        // meant, so we say it plainly and fail (exit 4, keepalived's "file not found" class).
        let msg = format!(
            "Config files missing '{}'.\nerror: configuration file {} does not exist\n",
            opts.config_file.display(),
            opts.config_file.display()
        );
        emit(opts, &msg);
        return 4;
    };
    if opts.config_test.is_none() {
        let mut d = daemon_options(opts, path);
        d.startup_warnings = keepalived::cli::unimplemented_options(opts);
        return daemon::run(&d, SERVICES);
    }
    let load_opts = LoadOptions {
        config_id: config_id(opts),
        all_config: opts.all_config,
        host: std::sync::Arc::new(config::host::SystemHost),
    };
    // -t exits after this one load (see config::set_exit_after_load).
    config::set_exit_after_load(true);
    let mut loaded = config::load(&path, &load_opts);
    if opts.config_test.is_some() && opts.log_facility_given {
        // Observed: keepalived 2.2.7 -t exits 5 whenever -S is given, silently.
        loaded.diagnostics.push(Diagnostic::new(
            Severity::Warning,
            Some(KaClass::Warning),
            "-S/--log-facility is counted as a configuration warning by keepalived -t \
             (exit 5); test without it",
        ));
    }
    for w in keepalived::cli::unimplemented_options(opts) {
        loaded.diagnostics.lint(None, w);
    }
    if opts.config_test.is_some() {
        // keepalived -t also checks what the config names on this host
        config::host::check_config(&loaded.config, &mut loaded.diagnostics);
    }
    let rendered = loaded.diagnostics.render_all(&loaded.sources);
    emit(opts, &rendered);
    if opts.config_test.is_some() {
        if opts.dump_conf {
            match serde_json::to_string_pretty(&loaded.config) {
                Ok(json) => println!("{json}"),
                Err(e) => eprintln!("error: cannot dump the configuration: {e}"),
            }
        }
        let code = loaded.diagnostics.config_test_exit_code();
        // The process exits now: freeing the whole model piece by piece is wasted time.
        std::mem::forget(loaded);
        return code;
    }
    0
}

/// The daemon's options from the command line.
fn daemon_options(opts: &Options, config_file: PathBuf) -> DaemonOptions {
    // keepalived runs with umask 0177 unless -u says otherwise.
    let mask = opts.umask.unwrap_or(0o177);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    DaemonOptions {
        config_file,
        dont_fork: opts.dont_fork,
        log_console: opts.log_console,
        log_detail: opts.log_detail,
        // cli gives syslog's LOG_* value (facility << 3); the daemon wants the number.
        log_facility: opts
            .log_facility
            .and_then(|f| u8::try_from(f >> 3).ok())
            .unwrap_or(keepalived::log::FACILITY_DAEMON),
        no_syslog: opts.no_syslog,
        dont_respawn: opts.dont_respawn,
        pid_file: opts.pid_file.clone(),
        vrrp_pid_file: opts.vrrp_pid_file.clone(),
        checkers_pid_file: opts.checkers_pid_file.clone(),
        bfd_pid_file: opts.bfd_pid_file.clone(),
        pid_files_given: opts.pid_files_given,
        no_bfd: opts.no_bfd,
        namespace_arg: opts.namespace.clone(),
        snmp: opts.snmp,
        snmp_agent_socket: opts.snmp_agent_socket.clone(),
        vrrp_only: opts.vrrp_only,
        check_only: opts.check_only,
        all: opts.all_children,
        config_id: config_id(opts),
        all_config: opts.all_config,
        dont_release_vrrp: opts.dont_release_vrrp,
        dont_release_ipvs: opts.dont_release_ipvs,
        release_vips: opts.release_vips,
        dump_conf: opts.dump_conf,
        umask_cmdline: opts.umask.is_some(),
        // -M implies -m (and, like keepalived 2.2.7, leaves core_pattern as it is).
        core_dump: opts.core_dump || opts.core_dump_pattern.is_some(),
        address_monitoring: opts.address_monitoring,
        ..DaemonOptions::default()
    }
}

/// Diagnostics go to stderr, or are appended to `-t`'s LOGFILE.
fn emit(opts: &Options, text: &str) {
    if text.is_empty() {
        return;
    }
    let log = opts.config_test.as_ref().and_then(|t| t.log_file.as_ref());
    if let Some(file) = log {
        let res = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .and_then(|mut f| f.write_all(text.as_bytes()));
        if let Err(e) = res {
            eprintln!("cannot write to {}: {e}", file.display());
            eprint!("{text}");
        }
    } else {
        eprint!("{text}");
    }
}
