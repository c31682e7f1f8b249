//! Tracked objects: `vrrp_script`, `track_file`, `vrrp_track_process`, `bfd_instance`
//! and the `track_*` reference blocks that instances
//! and sync groups use to name them.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::time::Duration;

use crate::config::diagnostic::Span;
use crate::config::model::{parse_bool, parse_int, parse_timer, Ctx, Kw, Script};
use crate::config::tree::{Node, Token};

/// `vrrp_script NAME {... }`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VrrpScript {
    pub name: String,
    /// `None` when no `script` line was given: the script is removed in `finish`.
    pub script: Option<Script>,
    /// Whole seconds in 2.2.7 (default 1).
    pub interval: Duration,
    /// 0 = use the interval.
    pub timeout: Duration,
    pub weight: i32,
    pub weight_reverse: bool,
    pub rise: u32,
    pub fall: u32,
    /// `user USER [GROUP]`.
    pub user: Option<(String, Option<String>)>,
    pub init_fail: bool,
    pub span: Span,
}

impl VrrpScript {
    pub fn new(name: &str, span: Span) -> Self {
        VrrpScript {
            name: name.to_owned(),
            script: None,
            interval: Duration::from_secs(1),
            timeout: Duration::ZERO,
            weight: 0,
            weight_reverse: false,
            rise: 1,
            fall: 1,
            user: None,
            init_fail: false,
            span,
        }
    }
}

/// keepalived's `TIMER_MAX_SEC` (UINT_MAX µs expressed in seconds).
const SCRIPT_MAX_SECS: i64 = 4294;

pub(crate) static SCRIPT_KW: &[Kw<VrrpScript>] = &[
    Kw::new("script", |s, n, ctx| {
        if let Some(sc) = ctx.script(n) {
            s.script = Some(sc);
        }
    }),
    Kw::new("interval", |s, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(0) => {
                ctx.error(
                    t.span,
                    format!(
                        "({}): vrrp script interval must be greater than 0, setting to 1",
                        s.name
                    ),
                );
                s.interval = Duration::from_secs(1);
            }
            Some(v) if (1..=SCRIPT_MAX_SECS).contains(&v) => {
                s.interval = Duration::from_secs(v.unsigned_abs())
            }
            _ => ctx.error(
                t.span,
                format!(
                    "({}): vrrp script interval '{}' must be between 1 and {} - ignoring",
                    s.name, t.text, SCRIPT_MAX_SECS
                ),
            ),
        }
    }),
    Kw::new("timeout", |s, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(0) => {
                ctx.error(
                    t.span,
                    format!(
                        "({}): vrrp script timeout must be greater than 0, setting to 1",
                        s.name
                    ),
                );
                s.timeout = Duration::from_secs(1);
            }
            Some(v) if (1..=SCRIPT_MAX_SECS).contains(&v) => {
                s.timeout = Duration::from_secs(v.unsigned_abs())
            }
            _ => ctx.error(
                t.span,
                format!(
                    "({}): vrrp script timeout '{}' invalid - ignoring",
                    s.name, t.text
                ),
            ),
        }
    }),
    Kw::new("weight", |s, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        let bad = format!(
            "vrrp_script {} weight {} must be in [-253, 253]",
            s.name, t.text
        );
        let name = s.name.clone();
        if let Some((w, rev)) = weight_line(t, n, ctx, 253, bad, |o| {
            format!("vrrp_script {name} unknown weight option {o}")
        }) {
            s.weight = w;
            s.weight_reverse |= rev;
        }
    }),
    Kw::new("rise", |s, n, ctx| {
        if let Some(v) = rise_fall(ctx, n, &s.name, "rise") {
            s.rise = v;
        } else {
            s.rise = 1;
        }
    }),
    Kw::new("fall", |s, n, ctx| {
        if let Some(v) = rise_fall(ctx, n, &s.name, "fall") {
            s.fall = v;
        } else {
            s.fall = 1;
        }
    }),
    Kw::new("user", |s, n, ctx| {
        if let Some(u) = ctx.string(n) {
            s.user = Some((u, n.arg(1).map(|g| g.text.clone())));
        }
    }),
    Kw::new("init_fail", |s, _n, _ctx| s.init_fail = true),
];

fn rise_fall(ctx: &mut Ctx, n: &Node, name: &str, what: &str) -> Option<u32> {
    let t = ctx.need(n, 0)?;
    match parse_int(&t.text) {
        Some(v) if (1..=i64::from(i32::MAX)).contains(&v) => u32::try_from(v).ok(),
        _ => {
            ctx.error(
                t.span,
                format!(
                    "({}): vrrp script {} value '{}' invalid, defaulting to 1",
                    name, what, t.text
                ),
            );
            None
        }
    }
}

/// `track_file NAME {... }`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrackFile {
    pub name: String,
    pub path: Option<String>,
    /// −254..254, default 1.
    pub weight: i32,
    pub weight_reverse: bool,
    /// `init_file [VALUE] [overwrite]`: create the file with VALUE (default 0).
    pub init: Option<TrackFileInit>,
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TrackFileInit {
    pub value: i64,
    pub overwrite: bool,
}

impl TrackFile {
    pub fn new(name: &str, span: Span) -> Self {
        TrackFile {
            name: name.to_owned(),
            path: None,
            weight: 1,
            weight_reverse: false,
            init: None,
            span,
        }
    }
}

pub(crate) static TRACK_FILE_KW: &[Kw<TrackFile>] = &[
    Kw::new("file", |f, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        if f.path.is_some() {
            ctx.error(
                t.span,
                format!(
                    "File already set for track file {} - ignoring {}",
                    f.name, t.text
                ),
            );
            return;
        }
        f.path = Some(t.text.clone());
    }),
    Kw::new("weight", |f, n, ctx| {
        let Some(t) = n.arg(0) else {
            ctx.error(
                n.span(),
                format!("No weight specified for track file {} - ignoring", f.name),
            );
            return;
        };
        let bad = format!(
            "Weight ({}) for track_file {} must be between [-254..254] inclusive. Ignoring...",
            t.text, f.name
        );
        let name = f.name.clone();
        if let Some((w, rev)) = weight_line(t, n, ctx, 254, bad, |o| {
            format!("track_file {name} unknown weight option {o}")
        }) {
            f.weight = w;
            f.weight_reverse |= rev;
        }
    }),
    Kw::new("init_file", |f, n, ctx| {
        let mut init = TrackFileInit {
            value: 0,
            overwrite: false,
        };
        for t in &n.args {
            if t.text == "overwrite" {
                init.overwrite = true;
            } else if let Some(v) = parse_int(&t.text) {
                init.value = v;
            } else {
                ctx.error(
                    t.span,
                    format!("Track file {} init value {} is invalid", f.name, t.text),
                );
            }
        }
        f.init = Some(init);
    }),
];

/// How `vrrp_track_process` matches a process's parameters (keepalived.conf(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ParamMatch {
    /// No parameters given and no `param_match`: the parameters are not looked at.
    None,
    /// Every argument equal, no more and no fewer (the default when arguments are given;
    /// `param_match` alone: the process must have no arguments).
    Exact,
    /// `param_match initial`: the first arguments equal the configured ones, except that
    /// the last configured one need only begin the process's argument.
    Initial,
    /// `param_match partial`: the first arguments equal the configured ones.
    Partial,
}

/// `vrrp_track_process NAME {... }`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TrackProcess {
    pub name: String,
    /// Process name followed by its arguments (if any).
    pub process: Vec<String>,
    pub param_match: ParamMatch,
    pub full_command: bool,
    /// −254..254; 0 in 2.2.7's code (the man page says 1).
    pub weight: i32,
    pub weight_reverse: bool,
    pub quorum: u32,
    pub quorum_max: Option<u32>,
    pub delay: Duration,
    pub terminate_delay: Duration,
    pub fork_delay: Duration,
    pub span: Span,
}

impl TrackProcess {
    pub fn new(name: &str, span: Span) -> Self {
        TrackProcess {
            name: name.to_owned(),
            process: Vec::new(),
            param_match: ParamMatch::None,
            full_command: false,
            weight: 0,
            weight_reverse: false,
            quorum: 1,
            quorum_max: None,
            delay: Duration::ZERO,
            terminate_delay: Duration::ZERO,
            fork_delay: Duration::ZERO,
            span,
        }
    }
}

fn process_delay(p: &mut TrackProcess, n: &Node, ctx: &mut Ctx, prefix: &str) -> Option<Duration> {
    let t = ctx.need(n, 0)?;
    match parse_timer(&t.text) {
        Ok(d) if d >= Duration::from_micros(1) && d <= Duration::from_secs(3600) => Some(d),
        _ => {
            ctx.error(
                t.span,
                format!(
                    "{}delay ({}) for vrrp_track_process {} must be between [0.000001..3600] inclusive. Ignoring...",
                    prefix, t.text, p.name
                ),
            );
            None
        }
    }
}

pub(crate) static TRACK_PROCESS_KW: &[Kw<TrackProcess>] = &[
    Kw::new("process", |p, n, ctx| {
        if !p.process.is_empty() {
            let text = n.arg(0).map_or("", |t| t.text.as_str());
            ctx.error(
                n.span(),
                format!(
                    "Process already set for track process {} - ignoring {}",
                    p.name, text
                ),
            );
            return;
        }
        if ctx.need(n, 0).is_none() {
            return;
        }
        p.process = n.args.iter().map(|t| t.text.clone()).collect();
        if p.process.len() > 1 {
            // arguments imply matching the full command line
            p.full_command = true;
            if p.param_match == ParamMatch::None {
                p.param_match = ParamMatch::Exact;
            }
        }
    }),
    Kw::new("param_match", |p, n, ctx| {
        let mode = match n.arg(0).map(|t| (t, t.text.as_str())) {
            None => ParamMatch::Exact,
            Some((_, "initial")) => ParamMatch::Initial,
            Some((_, "partial")) => ParamMatch::Partial,
            Some((t, other)) => {
                ctx.error(
                    t.span,
                    format!("Invalid param_match type {other} - ignoring"),
                );
                return;
            }
        };
        p.param_match = mode;
        p.full_command = true;
    }),
    Kw::new("weight", |p, n, ctx| {
        let Some(t) = n.arg(0) else {
            ctx.error(
                n.span(),
                format!(
                    "No weight specified for track process {} - ignoring",
                    p.name
                ),
            );
            return;
        };
        let bad = format!(
            "Weight ({}) for vrrp_track_process {} must be between [-254..254] inclusive. Ignoring...",
            t.text, p.name
        );
        let name = p.name.clone();
        if let Some((w, rev)) = weight_line(t, n, ctx, 254, bad, |o| {
            format!("vrrp_track_process {name} unknown weight option {o}")
        }) {
            p.weight = w;
            p.weight_reverse |= rev;
        }
    }),
    Kw::new("quorum", |p, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(v) if (1..=65535).contains(&v) => {
                let v = v as u32;
                if p.quorum_max.is_some_and(|m| v > m) {
                    ctx.error(t.span, "Quorum is greater than quorum_max - ignoring");
                } else {
                    p.quorum = v;
                }
            }
            _ => ctx.error(
                t.span,
                format!(
                    "Quorum ({}) for vrrp_track_process {} must be between [1..65535] inclusive. Ignoring...",
                    t.text, p.name
                ),
            ),
        }
    }),
    Kw::new("quorum_max", |p, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(v) if (0..=65535).contains(&v) => {
                let v = v as u32;
                if v < p.quorum {
                    ctx.error(t.span, "quorum_max is less than quorum - ignoring");
                } else {
                    p.quorum_max = Some(v);
                }
            }
            _ => ctx.error(
                t.span,
                format!(
                    "quorum_max ({}) for vrrp_track_process {} must be between [0..65535] inclusive. Ignoring...",
                    t.text, p.name
                ),
            ),
        }
    }),
    Kw::new("delay", |p, n, ctx| {
        if let Some(d) = process_delay(p, n, ctx, "") {
            p.delay = d;
        }
    }),
    Kw::new("terminate_delay", |p, n, ctx| {
        if let Some(d) = process_delay(p, n, ctx, "terminate_") {
            p.terminate_delay = d;
        }
    }),
    Kw::new("fork_delay", |p, n, ctx| {
        if let Some(d) = process_delay(p, n, ctx, "fork_") {
            p.fork_delay = d;
        }
    }),
    Kw::new("full_command", |p, _n, _ctx| p.full_command = true),
];

/// `bfd_instance NAME {... }`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BfdInstance {
    pub name: String,
    pub neighbor: Option<IpAddr>,
    pub source: Option<IpAddr>,
    /// Microseconds (configured in milliseconds with up to 3 decimals).
    pub min_rx_us: u32,
    pub min_tx_us: u32,
    pub idle_tx_us: u32,
    pub multiplier: u8,
    pub passive: bool,
    /// `None` = 255 (IPv4) / 64 (IPv6 hop limit), resolved by family.
    pub ttl: Option<u8>,
    /// keepalived's default is 0 (single hop: only the full TTL passes); `max_hops -1`
    /// (`None`) turns the TTL check off.
    pub max_hops: Option<u8>,
    /// RFC 5883 multihop: port 4784 instead of 3784 (keepalived 2.2.8's `multihop`).
    pub multihop: bool,
    pub weight: i32,
    pub weight_reverse: bool,
    /// `vrrp` / `checker`: which children are told about this session.
    pub vrrp: bool,
    pub checker: bool,
    pub span: Span,
}

impl BfdInstance {
    pub fn new(name: &str, span: Span) -> Self {
        BfdInstance {
            name: name.to_owned(),
            neighbor: None,
            source: None,
            min_rx_us: 10_000,
            min_tx_us: 10_000,
            idle_tx_us: 1_000_000,
            multiplier: 5,
            passive: false,
            ttl: None,
            max_hops: Some(0),
            multihop: false,
            weight: 0,
            weight_reverse: false,
            vrrp: false,
            checker: false,
            span,
        }
    }
}

/// Milliseconds with up to 3 decimals, as microseconds (keepalived's
/// `read_decimal_unsigned_strvec` with shift 3): `Err` = not a number; the flag says a 4th
/// decimal was rounded.
fn ms_with_3_decimals(s: &str) -> Result<(u64, bool), ()> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return Err(());
    }
    let too_many = frac.len() > 3;
    let round = too_many && frac.as_bytes()[3] >= b'5';
    let mut v: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| ())?
    };
    for i in 0..3 {
        let d = frac.as_bytes().get(i).map_or(0, |c| u64::from(c - b'0'));
        v = v.checked_mul(10).and_then(|v| v.checked_add(d)).ok_or(())?;
    }
    Ok((v + u64::from(round), too_many))
}

/// `min_rx`, `min_tx`, `idle_tx`: within `[min_ms, 4294967]` ms, in microseconds.
fn bfd_interval(b: &BfdInstance, n: &Node, ctx: &mut Ctx, what: &str, min_ms: u32) -> Option<u32> {
    let t = ctx.need(n, 0)?;
    let max_ms = u32::MAX / 1000;
    let (lo, hi) = (u64::from(min_ms) * 1000, u64::from(max_ms) * 1000);
    let ok = if t.text.starts_with('-') {
        ctx.error(t.span, format!("negative number '{}'", t.text));
        None
    } else {
        match ms_with_3_decimals(&t.text) {
            Err(()) => {
                ctx.error(t.span, format!("invalid number '{}'", t.text));
                None
            }
            Ok((v, too_many)) => {
                if too_many {
                    ctx.error(
                        t.span,
                        format!("number '{}' has too many decimal places", t.text),
                    );
                }
                if (lo..=hi).contains(&v) {
                    u32::try_from(v).ok()
                } else {
                    ctx.error(
                        t.span,
                        format!(
                            "number '{}' outside range [{min_ms}.000, {max_ms}.000]",
                            t.text
                        ),
                    );
                    None
                }
            }
        }
    };
    if ok.is_none() {
        ctx.error(
            t.span,
            format!(
                "Configuration error: BFD instance {} {what} value {} is not valid (must be in range [{min_ms}-{max_ms}]), ignoring",
                b.name, t.text
            ),
        );
    }
    ok
}

fn bfd_neighbor(b: &mut BfdInstance, n: &Node, ctx: &mut Ctx) {
    let Some(t) = ctx.need(n, 0) else { return };
    match t.text.parse::<IpAddr>() {
        Ok(a) => b.neighbor = Some(a),
        Err(_) => ctx.error(
            t.span,
            format!(
                "Configuration error: BFD instance {} has malformed neighbor address {}, ignoring instance",
                b.name, t.text
            ),
        ),
    }
}

fn bfd_ttl(b: &mut BfdInstance, n: &Node, ctx: &mut Ctx) {
    let Some(t) = ctx.need(n, 0) else { return };
    match parse_int(&t.text) {
        Some(v) if (1..=255).contains(&v) => b.ttl = Some(v as u8),
        _ => ctx.error(
            t.span,
            format!(
                "Configuration error: BFD instance {} ttl/hoplimit value {} not valid (must be in range [1-255]), ignoring",
                b.name, t.text
            ),
        ),
    }
}

pub(crate) static BFD_KW: &[Kw<BfdInstance>] = &[
    Kw::new("neighbor_ip", bfd_neighbor),
    Kw::new("neighbour_ip", bfd_neighbor),
    Kw::new("source_ip", |b, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match t.text.parse::<IpAddr>() {
            Ok(a) => b.source = Some(a),
            Err(_) => ctx.error(
                t.span,
                format!(
                    "Configuration error: BFD instance {} has malformed source address {}, ignoring",
                    b.name, t.text
                ),
            ),
        }
    }),
    Kw::new("min_rx", |b, n, ctx| {
        if let Some(v) = bfd_interval(b, n, ctx, "min_rx", 1) {
            b.min_rx_us = v;
        }
    }),
    Kw::new("min_tx", |b, n, ctx| {
        if let Some(v) = bfd_interval(b, n, ctx, "min_tx", 1) {
            b.min_tx_us = v;
        }
    }),
    Kw::new("idle_tx", |b, n, ctx| {
        // RFC 5880: not less than one second while not Up.
        if let Some(v) = bfd_interval(b, n, ctx, "idle_tx", 1000) {
            b.idle_tx_us = v;
        }
    }),
    Kw::new("multiplier", |b, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(v) if (1..=255).contains(&v) => b.multiplier = v as u8,
            _ => ctx.error(
                t.span,
                format!(
                    "Configuration error: BFD instance {} multiplier value {} not valid (must be in range [1-255]), ignoring",
                    b.name, t.text
                ),
            ),
        }
    }),
    Kw::new("passive", |b, _n, _ctx| b.passive = true),
    Kw::new("ttl", bfd_ttl),
    Kw::new("hoplimit", bfd_ttl),
    Kw::new("max_hops", |b, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match parse_int(&t.text) {
            Some(v) if (-1..=255).contains(&v) => {
                b.max_hops = if v < 0 { None } else { Some(v as u8) }
            }
            _ => ctx.error(
                t.span,
                format!(
                    "Configuration error: BFD instance {} max_hops value {} not valid (must be in range [-1-255]), ignoring",
                    b.name, t.text
                ),
            ),
        }
    }),
    Kw::new("multihop", |b, n, ctx| match n.arg(0) {
        None => b.multihop = true,
        Some(t) => match parse_bool(&t.text) {
            Some(v) => b.multihop = v,
            None => ctx.error(
                t.span,
                format!(
                    "Configuration error: BFD instance {} multihop setting not valid - {}",
                    b.name, t.text
                ),
            ),
        },
    }),
    Kw::new("weight", |b, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        let bad = format!(
            "Configuration error: BFD instance {} weight value {} not valid (must be in range [-253-253]), ignoring",
            b.name, t.text
        );
        let name = b.name.clone();
        if let Some((w, rev)) = weight_line(t, n, ctx, 253, bad, |o| {
            format!("Configuration error: BFD instance {name} unknown weight option {o}")
        }) {
            b.weight = w;
            b.weight_reverse |= rev;
        }
    }),
    Kw::new("vrrp", |b, _n, _ctx| b.vrrp = true),
    Kw::new("checker", |b, _n, _ctx| b.checker = true),
];

/// What kind of object a `track_*` line names (for messages and lookup).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TrackKind {
    Interface,
    Script,
    File,
    Process,
    Bfd,
}

/// One line of a `track_interface` / `track_script` / `track_file` / `track_process` /
/// `track_bfd` block: `NAME [weight W [reverse|noreverse]]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrackRef {
    pub name: String,
    /// `None`: use the tracked object's own weight (interfaces: 0).
    pub weight: Option<i32>,
    pub reverse: bool,
    pub span: Span,
}

impl TrackRef {
    /// The weight in effect: the line's, or the object's own default.
    pub fn weight_or(&self, own: i32) -> i32 {
        self.weight.unwrap_or(own)
    }
}

/// Parses the lines of a `track_*` block; `owner` is the instance or group name.
pub(crate) fn track_block(
    node: &Node,
    kind: TrackKind,
    owner: &str,
    ctx: &mut Ctx,
) -> Vec<TrackRef> {
    let mut out: Vec<TrackRef> = Vec::new();
    for line in node.children() {
        let name = line.name();
        if out.iter().any(|r| r.name == name) {
            let what = match kind {
                TrackKind::Interface => "track_interface",
                TrackKind::Script => "track_script",
                TrackKind::File => "track_file",
                TrackKind::Process => "track_process",
                TrackKind::Bfd => "track_bfd",
            };
            ctx.error(
                line.span(),
                format!("({owner}) duplicate {what} {name} - ignoring"),
            );
            continue;
        }
        if let Some(r) = track_line(line, kind, owner, ctx) {
            out.push(r);
        }
    }
    out
}

fn track_line(line: &Node, kind: TrackKind, owner: &str, ctx: &mut Ctx) -> Option<TrackRef> {
    let name = line.name();
    let mut r = TrackRef {
        name: name.to_owned(),
        weight: None,
        reverse: false,
        span: line.span(),
    };
    let args: &[Token] = &line.args;
    let Some(first) = args.first() else {
        return Some(r);
    };
    if first.text != "weight" {
        let msg = match kind {
            TrackKind::Interface => {
                format!(
                    "({owner}) unknown track_interface {name} option {} - ignoring",
                    first.text
                )
            }
            TrackKind::Script => format!(
                "({owner}) unknown track script option {} - ignoring",
                first.text
            ),
            TrackKind::File => format!(
                "({owner}) unknown track file option {} - ignoring",
                first.text
            ),
            TrackKind::Process => {
                format!(
                    "({owner}) unknown track process option {} - ignoring",
                    first.text
                )
            }
            TrackKind::Bfd => format!(
                "({owner}) unknown track bfd {name} option {} - ignoring",
                first.text
            ),
        };
        ctx.error(first.span, msg);
        return Some(r);
    }
    let Some(wt) = args.get(1) else {
        let what = match kind {
            TrackKind::Interface => "track_interface",
            TrackKind::Script => "track script",
            TrackKind::File => "track file",
            TrackKind::Process => "track process",
            TrackKind::Bfd => "track bfd",
        };
        ctx.error(
            first.span,
            format!("({owner}) weight without value specified for {what} {name} - ignoring"),
        );
        return Some(r);
    };
    let limit: i64 = match kind {
        TrackKind::File | TrackKind::Process => 254,
        _ => 253,
    };
    let w = match parse_int(&wt.text) {
        // interfaces: ±254 is accepted as ±253 with an error
        Some(v) if kind == TrackKind::Interface && v.abs() == 254 => {
            ctx.error(
                wt.span,
                format!("({owner}) weight for {name} cannot be +/-254. Setting to +/-253"),
            );
            v.signum() * 253
        }
        Some(v) if (-limit..=limit).contains(&v) => v,
        _ => {
            let msg = match kind {
                TrackKind::Interface => format!(
                    "({owner}) weight {} for {name} must be between [-253..253] inclusive. Ignoring...",
                    wt.text
                ),
                TrackKind::Script => format!(
                    "({owner}) track script {name}: weight must be between [-253..253] inclusive, ignoring..."
                ),
                TrackKind::File => format!(
                    "({owner}) weight for track file {name} must be in [-254..254] inclusive. Ignoring..."
                ),
                TrackKind::Process => format!(
                    "({owner}) weight for track process {name} must be in [-254..254] inclusive. Ignoring..."
                ),
                TrackKind::Bfd => format!(
                    "({owner}) weight for track bfd {name} must be in [-253..253] inclusive. Ignoring..."
                ),
            };
            ctx.error(wt.span, msg);
            return Some(r);
        }
    };
    r.weight = Some(w as i32);
    match args.get(2).map(|t| t.text.as_str()) {
        None | Some("noreverse") => {}
        Some("reverse") => r.reverse = true,
        Some(other) => {
            let span = args.get(2).map_or(line.span(), |t| t.span);
            let what = match kind {
                TrackKind::Interface => "track_interace",
                TrackKind::Script => "track_script",
                TrackKind::File => "track file",
                TrackKind::Process => "track_process",
                TrackKind::Bfd => "track bfd",
            };
            ctx.error(
                span,
                format!("({owner}) unknown {what} {name} weight option {other} - ignoring"),
            );
        }
    }
    Some(r)
}
/// The `weight W [reverse]` line of a tracked object, W within ±`limit`. Returns the weight
/// and whether `reverse` was given; a bad W is reported with `bad` (and the line ignored),
/// an unknown option with `bad_option` (the weight still applies), as keepalived does.
fn weight_line(
    t: &Token,
    n: &Node,
    ctx: &mut Ctx,
    limit: i64,
    bad: String,
    bad_option: impl FnOnce(&str) -> String,
) -> Option<(i32, bool)> {
    let w = match parse_int(&t.text) {
        Some(v) if (-limit..=limit).contains(&v) => v as i32,
        _ => {
            ctx.error(t.span, bad);
            return None;
        }
    };
    let reverse = match n.arg(1) {
        None => false,
        Some(o) if o.text == "reverse" => true,
        Some(o) => {
            ctx.error(o.span, bad_option(&o.text));
            false
        }
    };
    Some((w, reverse))
}
