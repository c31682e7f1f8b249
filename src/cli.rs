//! keepalived 2.2's command line and genhash's, parsed by clap.
//!
//! keepalived parses with `getopt_long`, and scripts depend on its exact behaviour: options
//! are handled in order (`-v`, `-h` and `--signum` act and exit on the spot), bad options
//! are all reported before exiting 1, long names may be abbreviated to any unambiguous
//! prefix, optional arguments must be attached (`-tFILE`, `--config-test=FILE`), a required
//! argument may be the next word even if it starts with `-`, and words that are not options
//! are collected and reported as `Unexpected argument(s): ...`.
//!
//! The option tables below are turned into a clap [`clap::Command`] (builder API), and clap
//! does the parsing: permutation, clusters, abbreviations (`infer_long_args`), values that
//! start with `-` (`allow_hyphen_values`), attached-only optional values (`require_equals`),
//! `-D` counting, and the order of everything (`ArgMatches::indices_of`). getopt's ways that
//! clap has no setting for are bridged as follows:
//! - a short pre-pass (`prepass`) rewrites the attached argument of a short option
//!   `-tFILE` / `-f=x` to clap's `-t=FILE` / `-f==x` (clap would read `-tFILE` as a cluster
//!   and strip the `=` of `-f=x`), and cuts the command line at `-T`, whose following words
//!   belong to genhash;
//! - clap stops at the first error while getopt reports every bad option and goes on: each
//!   error is located (the shortest prefix of the words that gives the same error), turned
//!   into keepalived's message, and the bad word or letter is replaced by a hidden marker
//!   flag of its own; clap then parses again, and the markers' indices put the messages in
//!   order among the options;
//! - keepalived refuses an empty value given to a long option (`--use-file=`) but takes one
//!   given to the short form (`-f ''`): the two spellings are two clap arguments.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use clap::builder::{NonEmptyStringValueParser, ValueParser};
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches};

/// Whether an option takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    None,
    Required,
    /// Only when attached: `-tFILE` or `--config-test=FILE`.
    Optional,
}

/// What an option without argument does, for clap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    /// Sets something; only whether it was given matters.
    Set,
    /// Counted (`-DD`).
    Count,
    /// Acts when met (`-v`, `-h`): every occurrence is kept, for its position.
    Act,
    /// The words after it are another program's (`-T`).
    Rest,
}

/// One option of a getopt_long table.
#[derive(Debug, Clone, Copy)]
pub struct OptSpec {
    pub short: Option<char>,
    pub long: Option<&'static str>,
    pub arg: Arg,
    flag: Flag,
}

impl OptSpec {
    const fn new(short: Option<char>, long: Option<&'static str>, arg: Arg) -> Self {
        OptSpec {
            short,
            long,
            arg,
            flag: Flag::Set,
        }
    }

    const fn with(self, flag: Flag) -> Self {
        OptSpec { flag, ..self }
    }
}

/// One thing the command line said, in command-line order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    /// An option of the table (by index) with its argument (`""` when none; the count for
    /// a counted flag).
    Opt(usize, String),
    /// A bad option: keepalived's whole message line, without the newline.
    Bad(String),
}

/// The clap id of the positional words.
const WORDS: &str = "+";
/// First hidden marker letter (Unicode private use area), one per bad option.
const MARKER_BASE: u32 = 0xE000;
const MARKER_MAX: usize = 0x1000;

fn marker_char(k: usize) -> Option<char> {
    u32::try_from(k)
        .ok()
        .filter(|_| k < MARKER_MAX)
        .and_then(|k| char::from_u32(MARKER_BASE + k))
}

fn marker_id(k: usize) -> String {
    format!("!{k}")
}

/// The clap ids of table entry `i`: one, or, when the long and short spellings must differ
/// (`split`, required arguments only), `(long, short)`.
fn ids(i: usize, spec: &OptSpec, split: bool) -> Vec<String> {
    if split && spec.arg == Arg::Required && spec.short.is_some() && spec.long.is_some() {
        vec![format!("{i}l"), format!("{i}s")]
    } else {
        vec![format!("{i}")]
    }
}

/// Table index of a clap id from [`ids`].
fn index_of_id(id: &str) -> Option<usize> {
    id.trim_end_matches(['l', 's']).parse().ok()
}

/// The clap command for `table`, with `markers` marker flags. `split`: keepalived refuses
/// an empty argument given to a long option but not one given to a short option.
fn command(table: &[OptSpec], split: bool, markers: usize) -> clap::Command {
    let mut cmd = clap::Command::new("getopt")
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        .disable_help_subcommand(true)
        .infer_long_args(true)
        .args_override_self(true);
    for (i, spec) in table.iter().enumerate() {
        let ids = ids(i, spec, split);
        for (n, id) in ids.iter().enumerate() {
            let mut a = clap::Arg::new(id.clone());
            // With two ids the first is the long spelling, the second the short one.
            if ids.len() == 1 || n == 0 {
                if let Some(l) = spec.long {
                    a = a.long(l);
                }
            }
            if ids.len() == 1 || n == 1 {
                if let Some(c) = spec.short {
                    a = a.short(c);
                }
            }
            a = match spec.arg {
                // getopt takes the next word whatever it looks like (`-f -t`: file `-t`).
                Arg::Required => a
                    .action(ArgAction::Append)
                    .num_args(1)
                    .allow_hyphen_values(true)
                    .value_parser(if split && n == 0 && spec.long.is_some() {
                        ValueParser::from(NonEmptyStringValueParser::new())
                    } else {
                        ValueParser::string()
                    }),
                Arg::Optional => a
                    .action(ArgAction::Append)
                    .num_args(0..=1)
                    .require_equals(true)
                    .default_missing_value("")
                    .value_parser(ValueParser::string()),
                Arg::None => match spec.flag {
                    Flag::Set | Flag::Rest => a.action(ArgAction::SetTrue),
                    Flag::Count => a.action(ArgAction::Count),
                    // Kept per occurrence (Append) so the first one acts; a value
                    // (`--version=x`) is an error, as for any flag.
                    Flag::Act => a
                        .action(ArgAction::Append)
                        .num_args(0..=1)
                        .require_equals(true)
                        .default_missing_value("")
                        .value_parser(|v: &str| {
                            if v.is_empty() {
                                Ok(String::new())
                            } else {
                                Err("takes no value")
                            }
                        }),
                },
            };
            cmd = cmd.arg(a);
        }
    }
    cmd = cmd.arg(
        clap::Arg::new(WORDS)
            .action(ArgAction::Append)
            .value_parser(ValueParser::string()),
    );
    for k in 0..markers {
        if let Some(c) = marker_char(k) {
            cmd = cmd.arg(
                clap::Arg::new(marker_id(k))
                    .short(c)
                    .action(ArgAction::SetTrue)
                    .hide(true),
            );
        }
    }
    cmd
}

/// The long option `name` names, as getopt_long and clap's `infer_long_args` find it: the
/// exact name, else the only one it is a prefix of.
fn find_long<'a>(table: &'a [OptSpec], name: &str) -> Option<&'a OptSpec> {
    if let Some(s) = table.iter().find(|o| o.long == Some(name)) {
        return Some(s);
    }
    let mut found = table
        .iter()
        .filter(|o| o.long.is_some_and(|l| l.starts_with(name)));
    match (found.next(), found.next()) {
        (Some(s), None) => Some(s),
        _ => None,
    }
}

/// Where a [`Flag::Rest`] option cut the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cut {
    /// The words after it (the rest of its cluster first, as `-LETTERS`).
    rest: Vec<String>,
    /// It was not the very first thing on the command line.
    not_first: bool,
}

/// The getopt steps clap cannot be told about (see the module doc): walks the words as
/// getopt does, only to know which words are values; rewrites a short option's attached
/// argument as `-x=ARG` (clap strips one `=`, so `-f=x` keeps its `=`), and cuts the
/// words at a [`Flag::Rest`] option. Everything else is left to clap.
fn prepass(table: &[OptSpec], args: &[String]) -> (Vec<String>, Option<Cut>) {
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.iter().enumerate();
    while let Some((at, word)) = it.next() {
        if word == "--" {
            out.push(word.clone());
            out.extend(it.map(|(_, w)| w.clone()));
            break;
        }
        if let Some(body) = word.strip_prefix("--") {
            out.push(word.clone());
            if body.contains('=') {
                continue;
            }
            match find_long(table, body) {
                Some(s) if s.flag == Flag::Rest => {
                    let rest = it.map(|(_, w)| w.clone()).collect();
                    let not_first = at > 0;
                    return (out, Some(Cut { rest, not_first }));
                }
                Some(s) if s.arg == Arg::Required => out.extend(it.next().map(|(_, w)| w.clone())),
                _ => {}
            }
            continue;
        }
        if word.len() < 2 || !word.starts_with('-') {
            out.push(word.clone());
            continue;
        }
        let mut rewritten = None;
        for (pos, c) in word.char_indices().skip(1) {
            let Some(spec) = table.iter().find(|o| o.short == Some(c)) else {
                continue;
            };
            let end = pos + c.len_utf8();
            let (head, tail) = (
                word.get(..end).unwrap_or(word),
                word.get(end..).unwrap_or(""),
            );
            if spec.flag == Flag::Rest {
                out.push(head.to_owned());
                let mut rest: Vec<String> = Vec::new();
                if !tail.is_empty() {
                    rest.push(format!("-{tail}"));
                }
                rest.extend(it.map(|(_, w)| w.clone()));
                let not_first = at > 0 || pos > 1;
                return (out, Some(Cut { rest, not_first }));
            }
            if spec.arg == Arg::None {
                continue;
            }
            if tail.is_empty() {
                out.push(word.clone());
                if spec.arg == Arg::Required {
                    out.extend(it.next().map(|(_, w)| w.clone()));
                }
            } else {
                out.push(format!("{head}={tail}"));
            }
            rewritten = Some(());
            break;
        }
        if rewritten.is_none() {
            out.push(word.clone());
        }
    }
    (out, None)
}

/// What identifies a clap error, to find the word that causes it.
fn error_key(e: &clap::Error) -> (ErrorKind, Option<String>, Option<String>) {
    let ctx = |k| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    (
        e.kind(),
        ctx(ContextKind::InvalidArg),
        ctx(ContextKind::InvalidValue),
    )
}

/// The message for clap's error `e` caused by `word`, and what replaces `word` so that clap
/// goes on (`marker` stands for the bad option). `None` if the error is not a getopt one.
fn repair(
    built: &clap::Command,
    table: &[OptSpec],
    e: &clap::Error,
    word: &str,
    marker: char,
) -> Option<(Option<String>, String, bool)> {
    let (kind, arg, value) = error_key(e);
    let arg = arg?;
    let long_word = word.starts_with("--");
    let whole = format!("-{marker}");
    // The table entry of the argument clap names (`--use-file <...>` and the like).
    let spec = || {
        built
            .get_arguments()
            .find(|a| a.to_string() == arg)
            .and_then(|a| index_of_id(a.get_id().as_str()))
            .and_then(|i| table.get(i))
    };
    // `word` with its first `c` after the dash replaced by `with`.
    let replace_letter = |c: char, with: &str| {
        let (pos, _) = word.char_indices().skip(1).find(|&(_, x)| x == c)?;
        let end = pos + c.len_utf8();
        Some(format!(
            "{}{with}{}",
            word.get(..pos)?,
            word.get(end..).unwrap_or("")
        ))
    };
    match kind {
        ErrorKind::UnknownArgument if long_word => {
            Some((Some(format!("Unknown option {word}")), whole, false))
        }
        ErrorKind::UnknownArgument => {
            let c = arg.strip_prefix('-')?.chars().next()?;
            let fixed = replace_letter(c, &marker.to_string())?;
            Some((Some(format!("Unknown option -{c}")), fixed, false))
        }
        // `--vrrp=x`: a value given to a flag.
        ErrorKind::TooManyValues => Some((Some(format!("Unknown option {word}")), whole, false)),
        ErrorKind::InvalidValue if value.as_deref() == Some("") => {
            let spec = spec()?;
            if long_word {
                let msg = format!("Missing parameter for option --{}", spec.long?);
                // `--signum ''`: the empty word was its value.
                Some((Some(msg), whole, !word.contains('=')))
            } else {
                // Only at the end of the words: the letter is the cluster's last.
                let c = spec.short?;
                let fixed = replace_letter(c, &marker.to_string())?;
                Some((
                    Some(format!("Missing parameter for option -{c}")),
                    fixed,
                    false,
                ))
            }
        }
        // `-v=x` / `--version=x`: getopt acts on `-v` and never reads the rest;
        // `--version=x` is an unknown option.
        ErrorKind::InvalidValue | ErrorKind::ValueValidation if long_word => {
            Some((Some(format!("Unknown option {word}")), whole, false))
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let c = spec()?.short?;
            let (pos, _) = word.char_indices().skip(1).find(|&(_, x)| x == c)?;
            Some((None, word.get(..pos + c.len_utf8())?.to_owned(), false))
        }
        _ => None,
    }
}

/// getopt_long over `args` (program name excluded), done by clap: the options and bad
/// options in order, the words that are not options, and where a [`Flag::Rest`] option cut
/// the command line.
fn getopt(table: &[OptSpec], split: bool, args: &[String]) -> (Vec<Ev>, Vec<String>, Option<Cut>) {
    let (mut words, cut) = prepass(table, args);
    let mut bad: Vec<String> = Vec::new();
    // Each round turns one error into a marker: at most one per letter of the words.
    let rounds = words.iter().map(|w| w.chars().count() + 1).sum::<usize>() + 1;
    for _ in 0..rounds {
        let cmd = command(table, split, bad.len());
        let e = match cmd.clone().try_get_matches_from(&words) {
            Ok(m) => return (events(table, split, &m, &bad), rest(&m), cut),
            Err(e) => e,
        };
        // clap stops at the first bad word: the shortest prefix that still gives this
        // error ends with it (a shorter one parses, as a pending option always takes the
        // next word). Scanned from the end, as a prefix that ends with an option missing
        // its value may give the same error: quadratic in the number of words, which is
        // fine for a command line.
        let key = error_key(&e);
        let mut k = words.len();
        while k > 1
            && cmd
                .clone()
                .try_get_matches_from(words.get(..k - 1).unwrap_or_default())
                .err()
                .is_some_and(|e2| error_key(&e2) == key)
        {
            k -= 1;
        }
        let mut built = cmd.clone();
        built.build();
        let p = k.saturating_sub(1);
        let fix = match (words.get(p), marker_char(bad.len())) {
            (Some(word), Some(marker)) => repair(&built, table, &e, word, marker)
                .filter(|(_, replacement, _)| replacement != word),
            _ => None,
        };
        let Some((msg, replacement, with_value)) = fix else {
            // Not a getopt error (cannot happen with our tables), or a flood of them.
            let msg = e
                .kind()
                .as_str()
                .unwrap_or("invalid command line")
                .to_owned();
            return (vec![Ev::Bad(msg)], Vec::new(), None);
        };
        if let Some(w) = words.get_mut(p) {
            *w = replacement;
        }
        if with_value && p + 1 < words.len() {
            words.remove(p + 1);
        }
        if let Some(m) = msg {
            bad.push(m);
        }
    }
    (
        vec![Ev::Bad(String::from("too many errors"))],
        Vec::new(),
        None,
    )
}

/// The options and marked bad options of `m`, in command-line order.
fn events(table: &[OptSpec], split: bool, m: &ArgMatches, bad: &[String]) -> Vec<Ev> {
    let mut evs: Vec<(usize, Ev)> = Vec::new();
    for (i, spec) in table.iter().enumerate() {
        for id in ids(i, spec, split) {
            if m.value_source(&id) != Some(ValueSource::CommandLine) {
                continue;
            }
            match (spec.arg, spec.flag) {
                (Arg::None, Flag::Count) => {
                    let at = m.index_of(&id).unwrap_or(0);
                    evs.push((at, Ev::Opt(i, m.get_count(&id).to_string())));
                }
                (Arg::None, Flag::Set | Flag::Rest) => {
                    let at = m.index_of(&id).unwrap_or(0);
                    evs.push((at, Ev::Opt(i, String::new())));
                }
                _ => {
                    let values = m.get_many::<String>(&id).into_iter().flatten();
                    let at = m.indices_of(&id).into_iter().flatten();
                    evs.extend(at.zip(values).map(|(at, v)| (at, Ev::Opt(i, v.clone()))));
                }
            }
        }
    }
    for (k, msg) in bad.iter().enumerate() {
        if let Some(at) = m.index_of(&marker_id(k)) {
            evs.push((at, Ev::Bad(msg.clone())));
        }
    }
    evs.sort_by_key(|(at, _)| *at);
    evs.into_iter().map(|(_, e)| e).collect()
}

/// The words that were not options.
fn rest(m: &ArgMatches) -> Vec<String> {
    m.get_many::<String>(WORDS)
        .into_iter()
        .flatten()
        .cloned()
        .collect()
}

/// Default configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/keepalived/keepalived.conf";

/// `-t/--config-test[=LOGFILE]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigTest {
    /// Append diagnostics to this file instead of stderr.
    pub log_file: Option<PathBuf>,
}

/// Options we accept for compatibility without acting on them: `-t` and the daemon print
/// one warning per option given, as for configuration keywords without effect.
pub fn unimplemented_options(o: &Options) -> Vec<String> {
    let mut out = Vec::new();
    let mut say = |given: bool, opt: &str, why: &str| {
        if given {
            out.push(format!(
                "option {opt} is accepted but not implemented: {why}; it has no effect"
            ));
        }
    };
    say(
        o.log_file.is_some(),
        "-g/--log-file",
        "logs go to syslog, the journal or the console",
    );
    say(
        o.flush_log_file,
        "--flush-log-file",
        "there is no log file to flush",
    );
    out
}

/// Everything keepalived's command line can say, for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-f`: absolute (relative paths are resolved against the cwd at start). May be a glob.
    pub config_file: PathBuf,
    pub vrrp_only: bool,
    pub check_only: bool,
    pub no_bfd: bool,
    /// `--all`
    pub all_children: bool,
    pub log_console: bool,
    /// `-D`, countable.
    pub log_detail: u8,
    /// `-S`: syslog facility code (LOG_DAEMON is 3<<3, LOG_USER 1<<3, LOG_LOCALn (16+n)<<3).
    pub log_facility: Option<i32>,
    /// `-S` was given, valid or not: keepalived 2.2.7's `-t` then exits at least 5
    /// (observed; it prints nothing about it).
    pub log_facility_given: bool,
    /// `-g[FILE]`; `Some(None)` means the default name.
    pub log_file: Option<Option<PathBuf>>,
    pub flush_log_file: bool,
    pub no_syslog: bool,
    pub umask: Option<u32>,
    pub release_vips: bool,
    pub dont_release_vrrp: bool,
    pub dont_release_ipvs: bool,
    pub dont_respawn: bool,
    pub dont_fork: bool,
    pub dump_conf: bool,
    pub pid_file: PathBuf,
    pub vrrp_pid_file: PathBuf,
    pub checkers_pid_file: PathBuf,
    pub bfd_pid_file: PathBuf,
    /// Which pid files were given on the command line (they then win over `instance` names).
    pub pid_files_given: [bool; 4],
    pub address_monitoring: bool,
    pub snmp: bool,
    pub snmp_agent_socket: Option<String>,
    pub namespace: Option<String>,
    pub core_dump: bool,
    /// `-M[PATN]`; `Some(None)` means the default pattern `core`.
    pub core_dump_pattern: Option<Option<String>>,
    pub all_config: bool,
    pub config_id: Option<String>,
    pub config_test: Option<ConfigTest>,
    pub config_fd: Option<i32>,
    /// Words that were not options (already reported on stdout).
    pub unexpected: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            config_file: PathBuf::from(DEFAULT_CONFIG),
            vrrp_only: false,
            check_only: false,
            no_bfd: false,
            all_children: false,
            log_console: false,
            log_detail: 0,
            log_facility: None,
            log_facility_given: false,
            log_file: None,
            flush_log_file: false,
            no_syslog: false,
            umask: None,
            release_vips: false,
            dont_release_vrrp: false,
            dont_release_ipvs: false,
            dont_respawn: false,
            dont_fork: false,
            dump_conf: false,
            pid_file: PathBuf::from("/run/keepalived.pid"),
            vrrp_pid_file: PathBuf::from("/run/vrrp.pid"),
            checkers_pid_file: PathBuf::from("/run/checkers.pid"),
            bfd_pid_file: PathBuf::from("/run/bfd.pid"),
            pid_files_given: [false; 4],
            address_monitoring: false,
            snmp: false,
            snmp_agent_socket: None,
            namespace: None,
            core_dump: false,
            core_dump_pattern: None,
            all_config: false,
            config_id: None,
            config_test: None,
            config_fd: None,
            unexpected: Vec::new(),
        }
    }
}

/// What to do after reading the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run (the daemon, or the config test when `config_test` is set), after printing the
    /// messages that do not stop keepalived (`Unexpected argument(s)`, `Invalid log facility`).
    Run {
        options: Box<Options>,
        stdout: String,
        stderr: String,
    },
    /// Print and exit: `-v`, `-h`, `--signum`, bad options.
    Exit {
        stdout: String,
        stderr: String,
        code: i32,
    },
    /// `-T/--genhash`: genhash with the words after it.
    Genhash { args: Vec<String>, stderr: String },
}

#[derive(Clone, Copy)]
enum K {
    UseFile,
    Vrrp,
    Check,
    NoBfd,
    All,
    LogConsole,
    LogDetail,
    LogFacility,
    LogFile,
    FlushLogFile,
    NoSyslog,
    Umask,
    ReleaseVips,
    DontReleaseVrrp,
    DontReleaseIpvs,
    DontRespawn,
    DontFork,
    DumpConf,
    Pid,
    VrrpPid,
    CheckersPid,
    BfdPid,
    Genhash,
    AddressMonitoring,
    Snmp,
    SnmpAgentSocket,
    Namespace,
    CoreDump,
    CoreDumpPattern,
    AllConfig,
    ConfigId,
    Signum,
    ConfigTest,
    ConfigFd,
    Version,
    Help,
}

/// keepalived's options (order as in its help).
const OPTIONS: &[(OptSpec, K)] = &[
    (
        OptSpec::new(Some('f'), Some("use-file"), Arg::Required),
        K::UseFile,
    ),
    (OptSpec::new(Some('P'), Some("vrrp"), Arg::None), K::Vrrp),
    (OptSpec::new(Some('C'), Some("check"), Arg::None), K::Check),
    (OptSpec::new(Some('B'), Some("no_bfd"), Arg::None), K::NoBfd),
    (OptSpec::new(None, Some("all"), Arg::None), K::All),
    (
        OptSpec::new(Some('l'), Some("log-console"), Arg::None),
        K::LogConsole,
    ),
    (
        OptSpec::new(Some('D'), Some("log-detail"), Arg::None).with(Flag::Count),
        K::LogDetail,
    ),
    (
        OptSpec::new(Some('S'), Some("log-facility"), Arg::Required),
        K::LogFacility,
    ),
    (
        OptSpec::new(Some('g'), Some("log-file"), Arg::Optional),
        K::LogFile,
    ),
    (
        OptSpec::new(None, Some("flush-log-file"), Arg::None),
        K::FlushLogFile,
    ),
    (
        OptSpec::new(Some('G'), Some("no-syslog"), Arg::None),
        K::NoSyslog,
    ),
    (
        OptSpec::new(Some('u'), Some("umask"), Arg::Required),
        K::Umask,
    ),
    (
        OptSpec::new(Some('X'), Some("release-vips"), Arg::None),
        K::ReleaseVips,
    ),
    (
        OptSpec::new(Some('V'), Some("dont-release-vrrp"), Arg::None),
        K::DontReleaseVrrp,
    ),
    (
        OptSpec::new(Some('I'), Some("dont-release-ipvs"), Arg::None),
        K::DontReleaseIpvs,
    ),
    (
        OptSpec::new(Some('R'), Some("dont-respawn"), Arg::None),
        K::DontRespawn,
    ),
    (
        OptSpec::new(Some('n'), Some("dont-fork"), Arg::None),
        K::DontFork,
    ),
    (
        OptSpec::new(Some('d'), Some("dump-conf"), Arg::None),
        K::DumpConf,
    ),
    (OptSpec::new(Some('p'), Some("pid"), Arg::Required), K::Pid),
    (
        OptSpec::new(Some('r'), Some("vrrp_pid"), Arg::Required),
        K::VrrpPid,
    ),
    (
        OptSpec::new(Some('T'), Some("genhash"), Arg::None).with(Flag::Rest),
        K::Genhash,
    ),
    (
        OptSpec::new(Some('c'), Some("checkers_pid"), Arg::Required),
        K::CheckersPid,
    ),
    (
        OptSpec::new(Some('a'), Some("address-monitoring"), Arg::None),
        K::AddressMonitoring,
    ),
    (
        OptSpec::new(Some('b'), Some("bfd_pid"), Arg::Required),
        K::BfdPid,
    ),
    (OptSpec::new(Some('x'), Some("snmp"), Arg::None), K::Snmp),
    (
        OptSpec::new(Some('A'), Some("snmp-agent-socket"), Arg::Required),
        K::SnmpAgentSocket,
    ),
    (
        OptSpec::new(Some('s'), Some("namespace"), Arg::Required),
        K::Namespace,
    ),
    (
        OptSpec::new(Some('m'), Some("core-dump"), Arg::None),
        K::CoreDump,
    ),
    (
        OptSpec::new(Some('M'), Some("core-dump-pattern"), Arg::Optional),
        K::CoreDumpPattern,
    ),
    (
        OptSpec::new(Some('e'), Some("all-config"), Arg::None),
        K::AllConfig,
    ),
    (
        OptSpec::new(Some('i'), Some("config-id"), Arg::Required),
        K::ConfigId,
    ),
    (OptSpec::new(None, Some("signum"), Arg::Required), K::Signum),
    (
        OptSpec::new(Some('t'), Some("config-test"), Arg::Optional),
        K::ConfigTest,
    ),
    (
        OptSpec::new(None, Some("config-fd"), Arg::Required),
        K::ConfigFd,
    ),
    (
        OptSpec::new(Some('v'), Some("version"), Arg::None).with(Flag::Act),
        K::Version,
    ),
    (
        OptSpec::new(Some('h'), Some("help"), Arg::None).with(Flag::Act),
        K::Help,
    ),
];

/// The option table, for tools that list keepalived's options.
pub fn option_specs() -> Vec<OptSpec> {
    OPTIONS.iter().map(|(s, _)| *s).collect()
}

/// Reads keepalived's command line. `prog` is argv[0] (shown in usage texts, as keepalived
/// does), `args` the rest; `cwd` resolves a relative `-f` (pass the cwd at start, before
/// any chdir).
pub fn parse(prog: &str, args: &[String], cwd: &Path) -> Command {
    let table: Vec<OptSpec> = option_specs();
    // keepalived refuses an empty argument only in the long spelling (`--pid=`, not `-p ''`).
    let (events, rest, cut) = getopt(&table, true, args);
    let mut o = Options::default();
    let mut stderr = String::new();
    let mut bad = false;
    for ev in events {
        let (idx, v) = match ev {
            Ev::Bad(msg) => {
                stderr.push_str(&msg);
                stderr.push('\n');
                bad = true;
                continue;
            }
            Ev::Opt(i, v) => (i, v),
        };
        let Some((_, kind)) = OPTIONS.get(idx) else {
            continue;
        };
        match kind {
            K::UseFile => o.config_file = cwd.join(&v),
            K::Vrrp => o.vrrp_only = true,
            K::Check => o.check_only = true,
            K::NoBfd => o.no_bfd = true,
            K::All => o.all_children = true,
            K::LogConsole => o.log_console = true,
            K::LogDetail => o.log_detail = v.parse().unwrap_or(u8::MAX),
            K::LogFacility => {
                o.log_facility_given = true;
                match parse_facility(&v) {
                    Some(f) => o.log_facility = Some(f),
                    None => stderr.push_str(&format!("Invalid log facility '{v}'\n")),
                }
            }
            K::LogFile => o.log_file = Some((!v.is_empty()).then(|| cwd.join(&v))),
            K::FlushLogFile => o.flush_log_file = true,
            K::NoSyslog => o.no_syslog = true,
            K::Umask => match parse_c_long(&v).and_then(|m| u32::try_from(m).ok()) {
                Some(m) if m <= 0o777 => o.umask = Some(m),
                _ => stderr.push_str(&format!("Invalid --umask option {v}\n")),
            },
            K::ReleaseVips => o.release_vips = true,
            K::DontReleaseVrrp => o.dont_release_vrrp = true,
            K::DontReleaseIpvs => o.dont_release_ipvs = true,
            K::DontRespawn => o.dont_respawn = true,
            K::DontFork => o.dont_fork = true,
            K::DumpConf => o.dump_conf = true,
            K::Pid => {
                o.pid_file = cwd.join(&v);
                o.pid_files_given[0] = true;
            }
            K::VrrpPid => {
                o.vrrp_pid_file = cwd.join(&v);
                o.pid_files_given[1] = true;
            }
            K::CheckersPid => {
                o.checkers_pid_file = cwd.join(&v);
                o.pid_files_given[2] = true;
            }
            K::BfdPid => {
                o.bfd_pid_file = cwd.join(&v);
                o.pid_files_given[3] = true;
            }
            K::Genhash => {
                // Everything after -T belongs to genhash; -T should come first.
                let Cut { rest, not_first } = cut.unwrap_or(Cut {
                    rest: Vec::new(),
                    not_first: false,
                });
                if not_first {
                    stderr.push_str(
                        "Warning -- `-T` not used as first option, previous options ignored\n",
                    );
                }
                return Command::Genhash { args: rest, stderr };
            }
            K::AddressMonitoring => o.address_monitoring = true,
            K::Snmp => o.snmp = true,
            K::SnmpAgentSocket => o.snmp_agent_socket = Some(v),
            K::Namespace => o.namespace = Some(v),
            K::CoreDump => o.core_dump = true,
            K::CoreDumpPattern => o.core_dump_pattern = Some((!v.is_empty()).then_some(v)),
            K::AllConfig => o.all_config = true,
            K::ConfigId => o.config_id = Some(v),
            K::Signum => {
                return match signum(&v) {
                    Some(num) => Command::Exit {
                        stdout: format!("{num}\n"),
                        stderr,
                        code: 0,
                    },
                    None => Command::Exit {
                        stdout: String::new(),
                        stderr: stderr + &format!("Unknown sigfunc {v}\n"),
                        code: 1,
                    },
                };
            }
            K::ConfigTest => {
                o.config_test = Some(ConfigTest {
                    log_file: (!v.is_empty()).then(|| cwd.join(&v)),
                });
                // -t implies --dont-fork, --dont-respawn, --no-syslog.
                o.dont_fork = true;
                o.dont_respawn = true;
                o.no_syslog = true;
            }
            K::ConfigFd => o.config_fd = v.parse().ok(),
            K::Version => {
                return Command::Exit {
                    stdout: String::new(),
                    stderr: stderr + &version_banner(),
                    code: 0,
                }
            }
            K::Help => {
                return Command::Exit {
                    stdout: String::new(),
                    stderr: stderr + &usage(prog),
                    code: 0,
                }
            }
        }
    }
    let mut stdout = String::new();
    if !rest.is_empty() {
        // keepalived prints each word followed by a space.
        stdout.push_str("Unexpected argument(s): ");
        for w in &rest {
            stdout.push_str(w);
            stdout.push(' ');
        }
        stdout.push('\n');
    }
    if bad {
        return Command::Exit {
            stdout,
            stderr,
            code: 1,
        };
    }
    o.unexpected = rest;
    Command::Run {
        options: Box::new(o),
        stdout,
        stderr,
    }
}

/// `-S`: `0`-`7` (LOG_LOCALn), `local0`-`local7`, `user`, `daemon`.
fn parse_facility(s: &str) -> Option<i32> {
    const LOCAL0: i32 = 16 << 3;
    let local = |n: &str| {
        n.parse::<i32>()
            .ok()
            .filter(|n| (0..=7).contains(n) && s.len() <= 6)
            .map(|n| LOCAL0 + (n << 3))
    };
    match s {
        "user" => Some(1 << 3),
        "daemon" => Some(3 << 3),
        _ if s.len() == 1 => local(s),
        _ => s.strip_prefix("local").and_then(local),
    }
}

/// C's `strtol(s, NULL, 0)` for a whole word: `0x` hex, leading `0` octal, else decimal.
fn parse_c_long(s: &str) -> Option<i64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(body.get(1..)?, 8).ok()?
    } else {
        body.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// `--signum=SIGFUNC`: the signal the daemon handles for each function. The
/// real-time ones are computed at run time, as glibc reserves some of them.
pub fn signum(name: &str) -> Option<i32> {
    Some(match name {
        "STOP" => libc::SIGTERM,
        "RELOAD" => libc::SIGHUP,
        "DATA" => libc::SIGUSR1,
        "STATS" => libc::SIGUSR2,
        "STATS_CLEAR" => libc::SIGRTMAX() - 1,
        "JSON" => libc::SIGRTMIN() + 2,
        _ => return None,
    })
}

/// The keepalived version we behave as.
pub const KEEPALIVED_VERSION: &str = "2.2.7";

/// `-v`: keepalived's banner, line for line, naming this implementation.
pub fn version_banner() -> String {
    let uname = nix::sys::utsname::uname().ok();
    let running = match &uname {
        Some(u) => format!(
            "{} {} {}",
            u.sysname().to_string_lossy(),
            u.release().to_string_lossy(),
            u.version().to_string_lossy()
        ),
        None => String::from("Linux (unknown)"),
    };
    let distro = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                .map(|v| v.trim_matches('"').to_owned())
        })
        .unwrap_or_else(|| String::from("unknown"));
    let profile = if cfg!(debug_assertions) {
        "dev"
    } else {
        "release"
    };
    format!(
        "Keepalived v{KEEPALIVED_VERSION} (01/16,2022), keepalived-rs v{}\n\
         \n\
         Copyright(C) 2001-2022 Alexandre Cassen, <acassen@gmail.com>\n\
         \n\
         Built with Rust for {} {}\n\
         Running on {running}\n\
         Distro: {distro}\n\
         \n\
         configure options: cargo build (profile {profile})\n\
         \n\
         Config options:  VRRP VRRP_AUTH LVS JSON INIT=systemd SYSTEMD_NOTIFY\n\
         \n\
         System options:  MEMFD_CREATE IPV6_MULTICAST_ALL SO_MARK\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH,
    )
}

/// `-h`: usage in keepalived's layout, every option listed.
pub fn usage(prog: &str) -> String {
    format!(
        "Usage: {prog} [OPTION...]\n{}",
        "  -f, --use-file=FILE          Use the specified configuration file
                                default '/etc/keepalived/keepalived.conf'
  -P, --vrrp                   Only run with VRRP subsystem
  -C, --check                  Only run with Health-checker subsystem
  -B, --no_bfd                 Don't run BFD subsystem
      --all                    Force all child processes to run, even if have no configuration
  -l, --log-console            Log messages to local console
  -D, --log-detail             Detailed log messages (twice for more)
  -S, --log-facility=([0-7]|local[0-7]|user|daemon)
                               Set syslog facility to LOG_LOCAL[0-7], user or daemon (default)
  -g, --log-file[=FILE]        Also log to FILE (default /tmp/keepalived.log)
      --flush-log-file         Flush the log file after each write
  -G, --no-syslog              Don't log via syslog
  -u, --umask=MASK             umask for file creation (in numeric form)
  -X, --release-vips           Drop VIP on transition from signal.
  -V, --dont-release-vrrp      Don't remove VRRP VIPs and VROUTEs on daemon stop
  -I, --dont-release-ipvs      Don't remove IPVS topology on daemon stop
  -R, --dont-respawn           Don't respawn child processes
  -n, --dont-fork              Don't fork the daemon process
  -d, --dump-conf              Dump the configuration data
  -p, --pid=FILE               Use specified pidfile for parent process
  -r, --vrrp_pid=FILE          Use specified pidfile for VRRP child process
  -T, --genhash                Enter into genhash utility mode (this should be the first option used).
  -c, --checkers_pid=FILE      Use specified pidfile for checkers child process
  -a, --address-monitoring     Report all address additions/deletions notified via netlink
  -b, --bfd_pid=FILE           Use specified pidfile for BFD child process
  -x, --snmp                   Enable SNMP subsystem
  -A, --snmp-agent-socket=FILE Use the specified socket for master agent
  -s, --namespace=NAME         Run in network namespace NAME (overrides config)
  -m, --core-dump              Produce core dump if terminate abnormally
  -M, --core-dump-pattern[=PATN]
                               Also set /proc/sys/kernel/core_pattern to PATN (default 'core')
  -e, --all-config             Error if any configuration file missing (same as includet)
  -i, --config-id id           Skip any configuration lines beginning '@' that don't match id
                                or any lines beginning @^ that do match.
                                The config-id defaults to the node name if option not used
      --signum=SIGFUNC         Return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON
  -t, --config-test[=LOG_FILE] Check the configuration for obvious errors, output to
                                stderr by default
  -v, --version                Display the version number
  -h, --help                   Display this help message
"
    )
}

/// genhash's options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GenhashOptions {
    pub server: Option<std::net::IpAddr>,
    pub port: Option<u16>,
    pub url: Option<String>,
    pub use_ssl: bool,
    pub use_sni: bool,
    pub virtualhost: Option<String>,
    /// `1.0`, `1.0c` or `1.1`.
    pub protocol: String,
    pub timeout: Option<u32>,
    pub fwmark: Option<u32>,
    pub verbose: bool,
}

const GENHASH: &[OptSpec] = &[
    OptSpec::new(Some('s'), Some("server"), Arg::Required),
    OptSpec::new(Some('p'), Some("port"), Arg::Required),
    OptSpec::new(Some('u'), Some("url"), Arg::Required),
    OptSpec::new(Some('S'), Some("use-ssl"), Arg::None),
    OptSpec::new(Some('I'), Some("use-sni"), Arg::None),
    OptSpec::new(Some('V'), Some("use-virtualhost"), Arg::Required),
    OptSpec::new(Some('P'), Some("protocol"), Arg::Required),
    OptSpec::new(Some('t'), Some("timeout"), Arg::Required),
    OptSpec::new(Some('m'), Some("fwmark"), Arg::Required),
    OptSpec::new(Some('v'), Some("verbose"), Arg::None),
    OptSpec::new(Some('h'), Some("help"), Arg::None),
];

/// genhash's usage text (`prog` is `genhash` or `keepalived --genhash`).
pub fn genhash_usage(prog: &str) -> String {
    format!(
        "Usage: {prog} COMMAND [OPTIONS]
Commands:
   -s server-address -p port -u url
   -S -s server-address -p port -u url
   -h

Options:
Either long or short options are allowed.
   --use-ssl         -S       Use SSL connection to remote server.
   --use-sni         -I       Use SNI during SSL handshake (uses virtualhost setting; see -V).
   --server          -s       Use the specified remote server address.
   --port            -p       Use the specified remote server port.
   --url             -u       Use the specified remote server url.
   --use-virtualhost -V       Use the specified virtualhost in GET query.
   --verbose         -v       Use verbose mode output.
   --help            -h       Display this short inlined help screen.
   --fwmark          -m       Use the specified FW mark.
   --protocol        -P       Use the specified HTTP protocol - '1.0', 1.0c', '1.1'.
                                1.0c means 1.0 with 'Connection: close'
   --timeout         -t       Timeout in seconds
"
    )
}

/// Why genhash's command line was refused: getopt's messages (`Unknown option -z`,
/// `Missing parameter for option -s`; keepalived prints them only in `-T` mode) and the
/// message about a value. Usage follows; genhash then exits 1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GenhashError {
    pub getopt: String,
    pub message: String,
}

/// Reads genhash's command line (`-h` and incomplete commands are errors without message).
pub fn parse_genhash(args: &[String]) -> Result<GenhashOptions, GenhashError> {
    // genhash takes empty arguments in both spellings (`--server=`).
    let (events, rest, _) = getopt(GENHASH, false, args);
    let mut o = GenhashOptions {
        protocol: String::from("1.0"),
        ..GenhashOptions::default()
    };
    let mut err = GenhashError::default();
    let mut help = false;
    for ev in events {
        let (idx, v) = match ev {
            Ev::Opt(i, v) => (i, v),
            Ev::Bad(msg) => {
                err.getopt.push_str(&msg);
                err.getopt.push('\n');
                continue;
            }
        };
        // A bad value stops genhash at once, after the getopt messages so far.
        let mut fail = |message: String| {
            err.message = message;
            Err(std::mem::take(&mut err))
        };
        match idx {
            0 => match v.parse() {
                Ok(a) => o.server = Some(a),
                Err(_) => return fail(format!("server should be an IP, not {v}\n")),
            },
            1 => match v.parse::<u16>() {
                Ok(p) if p > 0 => o.port = Some(p),
                _ => return fail(format!("invalid port number '{v}'\n")),
            },
            2 => o.url = Some(v),
            3 => o.use_ssl = true,
            4 => o.use_sni = true,
            5 => o.virtualhost = Some(v),
            6 => match v.as_str() {
                "1.0" | "1.0c" | "1.1" => o.protocol = v,
                _ => return fail(format!("invalid HTTP protocol version '{v}'\n")),
            },
            7 => match v.parse() {
                Ok(t) => o.timeout = Some(t),
                Err(_) => return fail(format!("invalid timeout '{v}'\n")),
            },
            8 => match v.parse() {
                Ok(m) => o.fwmark = Some(m),
                Err(_) => return fail(format!("invalid fwmark '{v}'\n")),
            },
            9 => o.verbose = true,
            _ => help = true,
        }
    }
    if !err.getopt.is_empty() || help {
        return Err(err);
    }
    if !rest.is_empty() {
        err.message = format!("Unexpected argument(s): {}\n", rest.join(" "));
        return Err(err);
    }
    if o.server.is_none() || o.port.is_none() || o.url.is_none() {
        return Err(err);
    }
    Ok(o)
}

/// genhash mode: parses the options and performs the request (exit 0, as keepalived). `prog` is argv[0]; `via_keepalived` is true
/// for `keepalived -T` (usage then says `PROG --genhash`, and getopt errors are shown).
pub fn genhash_main(args: &[String], prog: &str, via_keepalived: bool) -> i32 {
    match parse_genhash(args) {
        Err(e) => {
            let (shown_prog, getopt) = if via_keepalived {
                (format!("{prog} --genhash"), e.getopt.as_str())
            } else {
                (prog.to_owned(), "")
            };
            eprint!("{getopt}{}{}", e.message, genhash_usage(&shown_prog));
        }
        Ok(o) => return run_genhash(&o),
    }
    1
}

/// Runs genhash's request (src/check/genhash.rs) for parsed options.
fn run_genhash(o: &GenhashOptions) -> i32 {
    use crate::check::genhash::{run, Request};
    use crate::config::model::check::checker::HttpProtocol;
    let (Some(ip), Some(port), Some(path)) = (o.server, o.port, o.url.clone()) else {
        return 1;
    };
    let req = Request {
        addr: std::net::SocketAddr::new(ip, port),
        path,
        ssl: o.use_ssl,
        sni: o.use_sni,
        virtualhost: o.virtualhost.clone(),
        protocol: match o.protocol.as_str() {
            "1.0c" => HttpProtocol::Http10C,
            "1.1" => HttpProtocol::Http11,
            _ => HttpProtocol::Http10,
        },
        timeout: std::time::Duration::from_secs(u64::from(o.timeout.unwrap_or(5).max(1))),
        fwmark: o.fwmark,
        verbose: o.verbose,
    };
    run(&req, &mut std::io::stdout(), &mut std::io::stderr())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Command {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse("keepalived", &v, Path::new("/cwd"))
    }

    fn opts(args: &[&str]) -> Options {
        match run(args) {
            Command::Run { options, .. } => *options,
            other => panic!("expected Run, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let o = opts(&[]);
        assert_eq!(o.config_file, Path::new(DEFAULT_CONFIG));
        assert_eq!(o.pid_file, Path::new("/run/keepalived.pid"));
        assert_eq!(o.vrrp_pid_file, Path::new("/run/vrrp.pid"));
        assert_eq!(o.checkers_pid_file, Path::new("/run/checkers.pid"));
        assert_eq!(o.bfd_pid_file, Path::new("/run/bfd.pid"));
        assert!(o.config_test.is_none());
    }

    #[test]
    fn relative_file_and_clusters() {
        let o = opts(&["-Dnlf", "k.conf", "-DD", "-t"]);
        assert_eq!(o.config_file, Path::new("/cwd/k.conf"));
        assert_eq!(o.log_detail, 3);
        assert!(o.dont_fork && o.log_console);
        assert_eq!(o.config_test, Some(ConfigTest { log_file: None }));
        let o = opts(&["-f/abs.conf"]);
        assert_eq!(o.config_file, Path::new("/abs.conf"));
    }

    #[test]
    fn optional_arguments_only_attached() {
        let o = opts(&["-tlog", "-Mpat"]);
        assert_eq!(
            o.config_test.and_then(|t| t.log_file),
            Some("/cwd/log".into())
        );
        assert_eq!(o.core_dump_pattern, Some(Some("pat".into())));
        let o = opts(&["--config-test=/l", "--core-dump-pattern"]);
        assert_eq!(o.config_test.and_then(|t| t.log_file), Some("/l".into()));
        assert_eq!(o.core_dump_pattern, Some(None));
        let o = opts(&["-t", "x"]);
        assert_eq!(o.config_test.and_then(|t| t.log_file), None);
        assert_eq!(o.unexpected, vec!["x"]);
    }

    #[test]
    fn required_argument_takes_next_word() {
        let o = opts(&["--use-file", "-t"]);
        assert_eq!(o.config_file, Path::new("/cwd/-t"));
        assert!(o.config_test.is_none());
    }

    #[test]
    fn errors_collected_then_exit_1() {
        match run(&["-z", "--foo", "-f"]) {
            Command::Exit { stderr, code, .. } => {
                assert_eq!(code, 1);
                assert_eq!(
                    stderr,
                    "Unknown option -z\nUnknown option --foo\nMissing parameter for option -f\n"
                );
            }
            other => panic!("{other:?}"),
        }
        match run(&["--use-file="]) {
            Command::Exit { stderr, code, .. } => {
                assert_eq!(code, 1);
                assert_eq!(stderr, "Missing parameter for option --use-file\n");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn abbreviations_like_getopt_long() {
        assert!(matches!(run(&["--ver"]), Command::Exit { code: 0, .. }));
        // ambiguous: dump-conf, dont-fork, dont-release-*, dont-respawn
        match run(&["--d"]) {
            Command::Exit { stderr, code, .. } => {
                assert_eq!(code, 1);
                assert_eq!(stderr, "Unknown option --d\n");
            }
            other => panic!("{other:?}"),
        }
        // exact match wins over longer names
        assert!(opts(&["--all"]).all_children);
        assert!(opts(&["--vrrp"]).vrrp_only);
        match run(&["--help=x"]) {
            Command::Exit { stderr, .. } => assert_eq!(stderr, "Unknown option --help=x\n"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn immediate_actions_in_order() {
        match run(&["--foo", "-v"]) {
            Command::Exit { stderr, code, .. } => {
                assert_eq!(code, 0);
                assert!(stderr.starts_with("Unknown option --foo\nKeepalived v2.2.7"));
            }
            other => panic!("{other:?}"),
        }
        match run(&["-hv"]) {
            Command::Exit { stderr, .. } => assert!(stderr.starts_with("Usage: keepalived")),
            other => panic!("{other:?}"),
        }
        match run(&["--signum=STOP", "--foo"]) {
            Command::Exit { stdout, code, .. } => {
                assert_eq!((stdout.as_str(), code), ("15\n", 0));
            }
            other => panic!("{other:?}"),
        }
    }

    fn exit(args: &[&str]) -> (String, String, i32) {
        match run(args) {
            Command::Exit {
                stdout,
                stderr,
                code,
            } => (stdout, stderr, code),
            other => panic!("expected Exit, got {other:?}"),
        }
    }

    #[test]
    fn first_action_wins_and_bad_options_keep_their_place() {
        let banner = version_banner();
        let help = usage("keepalived");
        assert_eq!(exit(&["-v", "-h", "-v"]).1, banner);
        assert_eq!(exit(&["-h", "-v", "-h"]).1, help);
        assert_eq!(exit(&["-v", "--signum=STOP", "-v"]).1, banner);
        assert_eq!(
            exit(&["--foo", "-vh"]).1,
            format!("Unknown option --foo\n{banner}")
        );
        assert_eq!(
            exit(&["-z-v"]).1,
            format!("Unknown option -z\nUnknown option --\n{banner}")
        );
        // `-v=x` acts as -v; `--version=x` is unknown
        assert_eq!(exit(&["-t", "-v=x"]).1, banner);
        assert_eq!(
            exit(&["--version=x", "--he"]).1,
            format!("Unknown option --version=x\n{help}")
        );
        let (_, err, code) = exit(&["-Dnz", "--x", "-e", "-y", "--use-file"]);
        assert_eq!(code, 1);
        assert_eq!(
            err,
            "Unknown option -z\nUnknown option --x\nUnknown option -y\n\
             Missing parameter for option --use-file\n"
        );
    }

    #[test]
    fn empty_arguments_long_refused_short_taken() {
        let (out, err, code) = exit(&["--signum", ""]);
        assert_eq!((out.as_str(), code), ("", 1));
        assert_eq!(err, "Missing parameter for option --signum\n");
        assert_eq!(
            exit(&["--us="]).1,
            "Missing parameter for option --use-file\n"
        );
        let o = opts(&["-p", "", "-i", ""]);
        assert!(o.pid_files_given[0]);
        assert_eq!(o.config_id.as_deref(), Some(""));
        assert!(o.unexpected.is_empty());
        // `-f=x` keeps the `=`, as getopt does
        assert_eq!(opts(&["-f=x"]).config_file, Path::new("/cwd/=x"));
        assert_eq!(opts(&["-Dfv"]).config_file, Path::new("/cwd/v"));
        let o = opts(&["-t", "--", "-z", "x"]);
        assert_eq!(o.unexpected, vec!["-z", "x"]);
    }

    #[test]
    fn genhash_cut() {
        match run(&["-Tn", "-h"]) {
            Command::Genhash { args, stderr } => {
                assert_eq!(args, vec!["-n", "-h"]);
                assert!(stderr.is_empty());
            }
            other => panic!("{other:?}"),
        }
        match run(&["-zT", "-h"]) {
            Command::Genhash { args, stderr } => {
                assert_eq!(args, vec!["-h"]);
                assert_eq!(
                    stderr,
                    "Unknown option -z\n\
                     Warning -- `-T` not used as first option, previous options ignored\n"
                );
            }
            other => panic!("{other:?}"),
        }
        // a value, not the switch
        assert_eq!(opts(&["-f", "-T"]).config_file, Path::new("/cwd/-T"));
        assert_eq!(exit(&["--genhash=x"]).1, "Unknown option --genhash=x\n");
    }

    #[test]
    fn signums() {
        assert_eq!(signum("STOP"), Some(15));
        assert_eq!(signum("RELOAD"), Some(1));
        assert_eq!(signum("DATA"), Some(10));
        assert_eq!(signum("STATS"), Some(12));
        assert_eq!(signum("STATS_CLEAR"), Some(libc::SIGRTMAX() - 1));
        assert_eq!(signum("JSON"), Some(libc::SIGRTMIN() + 2));
        assert_eq!(signum("TDUMP"), None);
        assert_eq!(signum("stop"), None);
    }

    #[test]
    fn genhash_switch() {
        match run(&["-T", "-s", "192.0.2.1"]) {
            Command::Genhash { args, stderr } => {
                assert_eq!(args, vec!["-s", "192.0.2.1"]);
                assert!(stderr.is_empty());
            }
            other => panic!("{other:?}"),
        }
        match run(&["-n", "--genhash", "-h"]) {
            Command::Genhash { args, stderr } => {
                assert_eq!(args, vec!["-h"]);
                assert!(stderr.contains("not used as first option"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn facilities_and_umask() {
        assert_eq!(parse_facility("daemon"), Some(24));
        assert_eq!(parse_facility("user"), Some(8));
        assert_eq!(parse_facility("local3"), Some((16 + 3) << 3));
        assert_eq!(parse_facility("7"), Some((16 + 7) << 3));
        assert_eq!(parse_facility("8"), None);
        assert_eq!(parse_facility("local8"), None);
        assert_eq!(parse_c_long("0x1ff"), Some(0x1ff));
        assert_eq!(parse_c_long("0177"), Some(0o177));
        assert_eq!(parse_c_long("18"), Some(18));
        assert_eq!(parse_c_long("abc"), None);
        assert_eq!(opts(&["-u", "022"]).umask, Some(0o22));
        assert_eq!(opts(&["-u", "abc"]).umask, None);
    }

    #[test]
    fn genhash_options() {
        let a = |v: &[&str]| -> Vec<String> { v.iter().map(|s| s.to_string()).collect() };
        let o = parse_genhash(&a(&[
            "-s",
            "192.0.2.1",
            "-p",
            "80",
            "-u",
            "/",
            "-P",
            "1.1",
            "-S",
        ]));
        let o = o.unwrap_or_default();
        assert_eq!(o.port, Some(80));
        assert_eq!(o.protocol, "1.1");
        assert!(o.use_ssl);
        let msg = |v: &[&str]| parse_genhash(&a(v)).err().map(|e| e.message);
        assert_eq!(
            msg(&["-s", "x", "-p", "80", "-u", "/"]),
            Some("server should be an IP, not x\n".into())
        );
        assert_eq!(msg(&["-s", "192.0.2.1"]), Some(String::new()));
        assert_eq!(msg(&["-h"]), Some(String::new()));
        assert_eq!(
            msg(&["-p", "99999", "-s", "192.0.2.1", "-u", "/"]),
            Some("invalid port number '99999'\n".into())
        );
        let e = parse_genhash(&a(&["-z", "-s", "x", "-p", "80"]))
            .err()
            .unwrap_or_default();
        assert_eq!(e.getopt, "Unknown option -z\n");
        assert_eq!(e.message, "server should be an IP, not x\n");
        assert_eq!(
            msg(&["--server=", "-p", "80", "-u", "/"]),
            Some("server should be an IP, not \n".into())
        );
        let e = parse_genhash(&a(&["-z", "-y", "-s"]))
            .err()
            .unwrap_or_default();
        assert_eq!(
            e.getopt,
            "Unknown option -z\nUnknown option -y\nMissing parameter for option -s\n"
        );
    }
}
