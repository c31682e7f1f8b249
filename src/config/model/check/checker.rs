//! Checker blocks of a `real_server`.
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::time::Duration;

use crate::config::diagnostic::Span;
use crate::config::model::{apply_block, parse_bool, parse_int, Ctx, Kw, Script};
use crate::config::tree::Node;

use super::value::{bool_kw, timer_kw, CONNECT_TIMEOUT_MAX, TIMER_MAX, TIMER_MIN};
use super::RealServer;

/// One health checker of a real server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Checker {
    pub kind: CheckerKind,
    pub conn: Connection,
    pub timing: Timing,
    pub span: Span,
}

/// Where a checker connects (`connect_ip` ... `fwmark`); unset = the real server's.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Connection {
    pub connect_ip: Option<IpAddr>,
    pub connect_port: Option<u16>,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    pub bind_if: Option<String>,
    /// SO_MARK of the checker socket.
    pub fwmark: Option<u32>,
}

/// Timers and retry policy. `None` before `finish`: inherited from RS, VS, then the
/// checker type's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Timing {
    pub connect_timeout: Option<Duration>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub warmup: Option<Duration>,
    pub delay_loop: Option<Duration>,
    pub alpha: Option<bool>,
    pub log_all_failures: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum CheckerKind {
    Tcp,
    Http(HttpCheck),
    Ssl(HttpCheck),
    Misc(MiscCheck),
    Smtp(SmtpCheck),
    Dns(DnsCheck),
    Udp(UdpCheck),
    Ping,
    File(FileCheck),
    Bfd(BfdCheck),
}

impl CheckerKind {
    /// keepalived's per-type `retry` and `delay_before_retry` defaults; `None` delay =
    /// the checker's delay_loop (DNS_CHECK).
    pub fn retry_defaults(&self) -> (u32, Option<Duration>) {
        match self {
            CheckerKind::Http(_) | CheckerKind::Ssl(_) => (1, Some(Duration::from_secs(3))),
            CheckerKind::Misc(_) => (0, Some(Duration::from_secs(1))),
            CheckerKind::Dns(_) => (3, None),
            _ => (1, Some(Duration::from_secs(1))),
        }
    }
}

/// `HTTP_GET` / `SSL_GET`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HttpCheck {
    pub urls: Vec<Url>,
    pub protocol: HttpProtocol,
    pub virtualhost: Option<String>,
    pub fast_recovery: bool,
    pub enable_sni: bool,
    /// SSL_GET `tls_compliant` (keepalived 2.2.8): end the session with a TLS
    /// close_notify alert (keepalived 2.2.7 shuts down quietly, without one).
    pub tls_compliant: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub enum HttpProtocol {
    #[default]
    Http10,
    /// 1.0 with `Connection: close`.
    Http10C,
    Http11,
}

/// A `url { }` block.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Url {
    pub path: String,
    pub digest: Option<[u8; 16]>,
    /// Inclusive ranges; empty = 200-299.
    pub status_codes: Vec<(u16, u16)>,
    pub virtualhost: Option<String>,
    pub regex: Option<String>,
    pub regex_no_match: bool,
    pub regex_options: Vec<String>,
    pub regex_min_offset: Option<u32>,
    pub regex_max_offset: Option<u32>,
    pub regex_stack: Option<(u32, u32)>,
    /// SSL_GET url `tls_compliant` (keepalived 2.2.8), as the checker's, for this url.
    pub tls_compliant: bool,
    pub span: Span,
}

impl Url {
    pub fn status_ok(&self, code: u16) -> bool {
        if self.status_codes.is_empty() {
            (200..300).contains(&code)
        } else {
            self.status_codes
                .iter()
                .any(|(a, b)| (*a..=*b).contains(&code))
        }
    }
}

/// `MISC_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MiscCheck {
    pub path: Script,
    /// `None` before `finish`, then the checker's delay_loop.
    pub timeout: Option<Duration>,
    pub dynamic: bool,
    /// The program as keepalived 2.2.7 names it in its log lines: its real path (resolved
    /// on the host by the checker service), `None` for the first word as configured.
    pub shown: Option<String>,
}

/// `SMTP_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SmtpCheck {
    pub helo_name: String,
    /// Old `host { }` sub-blocks, each its own connection (keepalived 2.2 still accepts).
    pub hosts: Vec<Connection>,
}

pub const DEFAULT_HELO: &str = "smtpchecker.keepalived.org";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum DnsType {
    A,
    Ns,
    Cname,
    Soa,
    Mx,
    Txt,
    Aaaa,
}

/// `DNS_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DnsCheck {
    pub qtype: DnsType,
    pub name: String,
}

/// `UDP_CHECK`. `require_reply` holds (value, mask) per byte; `x` nibbles have mask 0.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UdpCheck {
    pub payload: Vec<u8>,
    pub require_reply: Option<Vec<(u8, u8)>>,
    pub min_reply_length: u32,
    pub max_reply_length: u32,
}

/// `FILE_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FileCheck {
    pub track_file: String,
    /// `None` = the track_file's own weight.
    pub weight: Option<i32>,
    pub reverse: bool,
}

/// `BFD_CHECK`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BfdCheck {
    pub name: String,
    pub alpha: bool,
}

/// A checker while its block is read: the kind-specific part is built as it goes.
pub(crate) struct Building {
    conn: Connection,
    timing: Timing,
    http: HttpCheck,
    misc_path: Option<Script>,
    misc_timeout: Option<Duration>,
    misc_dynamic: bool,
    misc_user: Option<(String, Option<String>)>,
    helo: Option<String>,
    hosts: Vec<Connection>,
    dns_type: DnsType,
    dns_name: Option<String>,
    udp: UdpCheck,
    track_file: Option<String>,
    file_weight: Option<(i32, bool)>,
    bfd_name: Option<String>,
    bfd_alpha: bool,
    /// An SSL_GET (`tls_compliant` is known there only).
    ssl: bool,
}

impl Building {
    fn new() -> Self {
        Building {
            conn: Connection::default(),
            timing: Timing::default(),
            http: HttpCheck::default(),
            misc_path: None,
            misc_timeout: None,
            misc_dynamic: false,
            misc_user: None,
            helo: None,
            hosts: Vec::new(),
            dns_type: DnsType::Soa,
            dns_name: None,
            udp: UdpCheck {
                payload: Vec::new(),
                require_reply: None,
                min_reply_length: 0,
                max_reply_length: 255,
            },
            track_file: None,
            file_weight: None,
            bfd_name: None,
            bfd_alpha: false,
            ssl: false,
        }
    }
}

// ------------------------------------------------------------------ common keywords

fn port_kw(node: &Node, ctx: &mut Ctx, what: &str) -> Option<u16> {
    let t = ctx.need(node, 0)?;
    let v = ctx.int_token(t, 1, 65535);
    if v.is_none() {
        ctx.error(t.span, format!("Invalid checker {what} '{}'", t.text));
    }
    v.map(|v| v as u16)
}

fn ip_kw(node: &Node, ctx: &mut Ctx) -> Option<IpAddr> {
    let t = ctx.need(node, 0)?;
    match crate::config::model::parse_sockaddr_ip(&t.text) {
        Some(a) => Some(a),
        None => {
            ctx.error(
                t.span,
                format!("Invalid {} address {} - ignoring", node.name(), t.text),
            );
            None
        }
    }
}

macro_rules! conn_kws {
    ($t:ty, $get:expr) => {
        [
            Kw::<$t>::new("connect_ip", |b, n, c| {
                if let Some(a) = ip_kw(n, c) {
                    $get(b).connect_ip = Some(a);
                }
            }),
            Kw::<$t>::new("connect_port", |b, n, c| {
                if let Some(p) = port_kw(n, c, "connect_port") {
                    $get(b).connect_port = Some(p);
                }
            }),
            Kw::<$t>::new("bindto", |b, n, c| {
                if let Some(a) = ip_kw(n, c) {
                    $get(b).bindto = Some(a);
                }
            }),
            Kw::<$t>::new("bind_port", |b, n, c| {
                if let Some(p) = port_kw(n, c, "bind_port") {
                    $get(b).bind_port = Some(p);
                }
            }),
            Kw::<$t>::new("bind_if", |b, n, c| $get(b).bind_if = c.string(n)),
            Kw::<$t>::new("fwmark", |b, n, c| {
                if let Some(v) = conn_u32(n, c, "fwmark") {
                    $get(b).fwmark = Some(v);
                }
            }),
        ]
    };
}

fn host_conn(b: &mut Connection) -> &mut Connection {
    b
}

fn building_conn(b: &mut Building) -> &mut Connection {
    &mut b.conn
}

pub(crate) static HOST_KW: [Kw<Connection>; 6] = conn_kws!(Connection, host_conn);
pub(crate) static CONN_KW: [Kw<Building>; 6] = conn_kws!(Building, building_conn);

pub(crate) static TIMING_KW: &[Kw<Building>] = &[
    Kw::new("connect_timeout", |b, n, c| {
        if let Some(d) = timer_kw(
            n,
            c,
            TIMER_MIN,
            CONNECT_TIMEOUT_MAX,
            Some("connect_timeout {} invalid - ignoring"),
        ) {
            b.timing.connect_timeout = Some(d);
        }
    }),
    Kw::new("retry", retry),
    Kw::new("delay_before_retry", |b, n, c| {
        if let Some(d) = timer_kw(n, c, 0.0, TIMER_MAX, None) {
            b.timing.delay_before_retry = Some(d);
        }
    }),
    Kw::new("warmup", |b, n, c| {
        if let Some(d) = timer_kw(n, c, 0.0, TIMER_MAX, None) {
            b.timing.warmup = Some(d);
        }
    }),
    Kw::new("delay_loop", |b, n, c| {
        if let Some(d) = timer_kw(
            n,
            c,
            TIMER_MIN,
            TIMER_MAX,
            Some("delay_loop '{}' is invalid - ignoring"),
        ) {
            b.timing.delay_loop = Some(d);
        }
    }),
    Kw::new("alpha", |b, n, c| {
        if let Some(v) = bool_kw(n, c, "Invalid alpha parameter") {
            b.timing.alpha = Some(v);
        }
    }),
    Kw::new("log_all_failures", |b, n, c| {
        if let Some(v) = bool_kw(n, c, "Invalid log_all_failures parameter") {
            b.timing.log_all_failures = v;
        }
    }),
];

fn retry(b: &mut Building, n: &Node, c: &mut Ctx) {
    if let Some(v) = conn_u32(n, c, "retry") {
        b.timing.retry = Some(v);
    }
}

/// An unsigned checker value, with keepalived's "Invalid X connection value" follow-up.
fn conn_u32(n: &Node, c: &mut Ctx, what: &str) -> Option<u32> {
    let t = c.need(n, 0)?;
    let v = c.int_token(t, 0, i64::from(u32::MAX));
    if v.is_none() {
        c.error(
            t.span,
            format!("Invalid {what} connection value '{}'", t.text),
        );
    }
    v.map(|v| v as u32)
}

/// Runs `nodes` through the common tables plus the checker's own `table`.
fn apply_checker(
    b: &mut Building,
    nodes: &[Node],
    table: &[Kw<Building>],
    conn: bool,
    ctx: &mut Ctx,
) {
    for node in nodes {
        // MISC_CHECK has the timing keywords but no connection ones, connect_timeout
        // included (verified with keepalived 2.2.7 -t)
        let timing = TIMING_KW
            .iter()
            .filter(|k| conn || k.name != "connect_timeout");
        let pick = table
            .iter()
            .chain(timing.clone())
            .chain(CONN_KW.iter().filter(|_| conn))
            .find(|k| k.name == node.name());
        match pick {
            Some(kw) => kw.run(b, node, ctx),
            None => {
                let names = table
                    .iter()
                    .chain(timing)
                    .chain(CONN_KW.iter().filter(|_| conn))
                    .map(|k| k.name);
                ctx.unknown_keyword(node, names);
            }
        }
    }
}

fn push(rs: &mut RealServer, b: Building, kind: CheckerKind, node: &Node) {
    // most real servers have one checker: a first push would reserve four (a checker is
    // ~300 bytes; 5,000 real servers)
    rs.checkers.reserve_exact(1);
    rs.checkers.push(Checker {
        kind,
        conn: b.conn,
        timing: b.timing,
        span: node.span(),
    });
}

// ------------------------------------------------------------------------- TCP / PING

pub fn tcp_check(rs: &mut RealServer, node: &Node, ctx: &mut Ctx) {
    let mut b = Building::new();
    apply_checker(&mut b, node.children(), &[], true, ctx);
    push(rs, b, CheckerKind::Tcp, node);
}

pub fn ping_check(rs: &mut RealServer, node: &Node, ctx: &mut Ctx) {
    let mut b = Building::new();
    apply_checker(&mut b, node.children(), &[], true, ctx);
    push(rs, b, CheckerKind::Ping, node);
}

// ----------------------------------------------------------------------- HTTP / SSL

pub(crate) static HTTP_KW: &[Kw<Building>] = &[
    Kw::new("url", url_block),
    Kw::new("http_protocol", |b, n, c| {
        let Some(t) = c.need(n, 0) else {
            return;
        };
        b.http.protocol = match t.text.as_str() {
            "1.0" => HttpProtocol::Http10,
            "1.0C" | "1.0c" => HttpProtocol::Http10C,
            "1.1" => HttpProtocol::Http11,
            other => {
                c.error(t.span, format!("Invalid http_protocol version {other}"));
                return;
            }
        };
    }),
    Kw::new("virtualhost", |b, n, c| b.http.virtualhost = c.string(n)),
    Kw::new("fast_recovery", |b, n, c| {
        if let Some(v) = bool_kw(n, c, "Invalid fast_recovery parameter") {
            b.http.fast_recovery = v;
        }
    }),
    Kw::new("enable_sni", |b, n, c| {
        if let Some(v) = bool_kw(n, c, "Invalid enable_sni parameter") {
            b.http.enable_sni = v;
        }
    }),
    // keepalived 2.2.8, SSL_GET only (ours only: 2.2.7 rejects it)
    Kw::new("tls_compliant", |b, n, c| {
        if !b.ssl {
            let names = HTTP_KW
                .iter()
                .map(|k| k.name)
                .filter(|k| *k != "tls_compliant");
            c.unknown_keyword(n, names);
            return;
        }
        c.added_in_228(n);
        if let Some(v) = tls_compliant(n, c) {
            b.http.tls_compliant = v;
        }
    }),
    // keepalived 2.2.7 still accepts it, with its own deprecation warning.
    Kw::new("nb_get_retry", |b, n, c| {
        c.ka_deprecated(n, "nb_get_retry is deprecated - please use 'retry'");
        retry(b, n, c);
    }),
];

/// `tls_compliant [BOOL]` with keepalived 2.2.8's message.
fn tls_compliant(n: &Node, c: &mut Ctx) -> Option<bool> {
    let Some(t) = n.arg(0) else { return Some(true) };
    let v = parse_bool(&t.text);
    if v.is_none() {
        c.error(t.span, format!("Invalid tls_compliant option {}", t.text));
    }
    v
}

fn http_common(rs: &mut RealServer, node: &Node, ctx: &mut Ctx, ssl: bool) {
    let mut b = Building::new();
    b.ssl = ssl;
    apply_checker(&mut b, node.children(), HTTP_KW, true, ctx);
    if b.http.urls.is_empty() {
        ctx.error(
            node.span(),
            "HTTP/SSL_GET checker has no urls specified - ignoring",
        );
        return;
    }
    let http = std::mem::take(&mut b.http);
    let kind = if ssl {
        CheckerKind::Ssl(http)
    } else {
        CheckerKind::Http(http)
    };
    push(rs, b, kind, node);
}

pub fn http_get(rs: &mut RealServer, node: &Node, ctx: &mut Ctx) {
    http_common(rs, node, ctx, false);
}

pub fn ssl_get(rs: &mut RealServer, node: &Node, ctx: &mut Ctx) {
    http_common(rs, node, ctx, true);
}

/// A `url { }` block. Without `path` keepalived 2.2.7 logs "has no path - ignoring" and
/// then crashes; we report the error and drop the url.
fn url_block(b: &mut Building, node: &Node, ctx: &mut Ctx) {
    let mut u = UrlB(
        Url {
            span: node.span(),
            ..Url::default()
        },
        false,
        b.ssl,
    );
    apply_block(&mut u, node.children(), URL_KW, ctx);
    let UrlB(url, has_path, _) = u;
    if !has_path {
        ctx.error(
            node.span(),
            "HTTP/SSL_GET checker url has no path - ignoring",
        );
        return;
    }
    b.http.urls.push(url);
}

/// A url being read, whether it had a `path`, and whether it is an SSL_GET's.
pub(crate) struct UrlB(Url, bool, bool);

pub(crate) static URL_KW: &[Kw<UrlB>] = &[
    Kw::new("path", |u, n, c| {
        if let Some(p) = c.string(n) {
            u.0.path = p;
            u.1 = true;
        }
    }),
    Kw::new("digest", |u, n, c| {
        let Some(t) = c.need(n, 0) else {
            return;
        };
        if let Some(d) = digest(&t.text, t.span, c) {
            u.0.digest = Some(d);
        }
    }),
    Kw::new("status_code", |u, n, c| {
        for t in &n.args {
            match status_range(&t.text) {
                Some(r) => u.0.status_codes.push(r),
                None => c.error(t.span, format!("Invalid HTTP_GET status code '{}'", t.text)),
            }
        }
        if n.args.is_empty() {
            c.missing_param(n, 1);
        }
    }),
    Kw::new("virtualhost", |u, n, c| u.0.virtualhost = c.string(n)),
    Kw::new("regex", |u, n, c| u.0.regex = c.string(n)),
    Kw::new("regex_no_match", |u, _, _| u.0.regex_no_match = true),
    Kw::new("regex_options", |u, n, _| {
        u.0.regex_options
            .extend(n.args.iter().map(|t| t.text.clone()))
    }),
    Kw::new("regex_min_offset", |u, n, c| {
        if let Some(v) = c.int(n, 0, 0, i64::from(u32::MAX)) {
            u.0.regex_min_offset = Some(v as u32);
        }
    }),
    Kw::new("regex_max_offset", |u, n, c| {
        if let Some(v) = c.int(n, 0, 0, i64::from(u32::MAX)) {
            u.0.regex_max_offset = Some(v as u32);
        }
    }),
    Kw::unimplemented(
        "regex_stack",
        "the regex engine has no JIT stack to size",
        |u, n, c| {
            let Some(start) = c.int(n, 0, 0, i64::from(u32::MAX)) else {
                return;
            };
            let max = match n.arg(1) {
                Some(t) => match c.int_token(t, 0, i64::from(u32::MAX)) {
                    Some(v) => v,
                    None => return,
                },
                None => start,
            };
            u.0.regex_stack = Some((start as u32, max as u32));
        },
    ),
    // keepalived 2.2.8, SSL_GET only (ours only: 2.2.7 rejects it)
    Kw::new("tls_compliant", |u, n, c| {
        if !u.2 {
            let names = URL_KW
                .iter()
                .map(|k| k.name)
                .filter(|k| *k != "tls_compliant");
            c.unknown_keyword(n, names);
            return;
        }
        c.added_in_228(n);
        if let Some(v) = tls_compliant(n, c) {
            u.0.tls_compliant = v;
        }
    }),
];

/// `N` or `A-B`, within 100..=599.
fn status_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (parse_int(a)?, parse_int(b)?),
        None => {
            let v = parse_int(s)?;
            (v, v)
        }
    };
    let ok = |v: i64| (100..=599).contains(&v);
    (ok(a) && ok(b) && a <= b).then_some((a as u16, b as u16))
}

fn digest(s: &str, span: Span, ctx: &mut Ctx) -> Option<[u8; 16]> {
    if s.len() != 32 {
        ctx.error(
            span,
            format!(
                "digest '{s}' character length should be 32 rather than {}",
                s.chars().count()
            ),
        );
        return None;
    }
    let mut out = [0u8; 16];
    let bytes = s.as_bytes();
    for (i, o) in out.iter_mut().enumerate() {
        let pair = bytes.get(2 * i..2 * i + 2)?;
        let txt = std::str::from_utf8(pair).ok();
        match txt.and_then(|p| u8::from_str_radix(p, 16).ok()) {
            Some(v) => *o = v,
            None => {
                ctx.error(
                    span,
                    format!(
                        "Unable to interpret hex digit in '{}' at offset {}/{}",
                        txt.unwrap_or("?"),
                        2 * i,
                        2 * i + 1
                    ),
                );
                return None;
            }
        }
    }
    Some(out)
}

// ------------------------------------------------------------------------------- MISC

pub(crate) static MISC_KW: &[Kw<Building>] = &[
    Kw::new("misc_path", |b, n, c| b.misc_path = c.script(n)),
    Kw::new("misc_timeout", |b, n, c| {
        // integer seconds; 0 means "use the default" (accepted silently by 2.2.7)
        let Some(t) = c.need(n, 0) else {
            return;
        };
        match c.int_token(t, 0, i64::from(u32::MAX)) {
            Some(v) => b.misc_timeout = (v > 0).then(|| Duration::from_secs(v as u64)),
            None => c.error(t.span, format!("Invalid misc_timeout value '{}'", t.text)),
        }
    }),
    Kw::new("misc_dynamic", |b, n, _| {
        // 2.2.7 takes no value and ignores any given
        let _ = n;
        b.misc_dynamic = true;
    }),
    Kw::new("user", |b, n, c| {
        if let Some(u) = c.string(n) {
            b.misc_user = Some((u, n.arg(1).map(|g| g.text.clone())));
        }
    }),
];

pub fn misc_check(rs: &mut RealServer, node: &Node, ctx: &mut Ctx) {
    let mut b = Building::new();
    apply_checker(&mut b, node.children(), MISC_KW, false, ctx);
    let Some(mut path) = b.misc_path.take() else {
        ctx.error(
            node.span(),
            "No script path has been specified for MISC_CHECKER - skipping",
        );
        return;
    };
    if let Some((u, g)) = b.misc_user.take() {
        path.user = Some(u);
        path.group = g;
    }
    let kind = CheckerKind::Misc(MiscCheck {
        path,
        timeout: b.misc_timeout,
        dynamic: b.misc_dynamic,
        shown: None,
    });
    push(rs, b, kind, node);
}

// ------------------------------------------------------------------------------- SMTP

pub(crate) static SMTP_KW: &[Kw<Building>] = &[
    Kw::new("helo_name", |b, n, c| match n.arg(0) {
        Some(t) => b.helo = Some(t.text.clone()),
        None => c.error(n.span(), "SMTP_CHECK helo name missing"),
    }),
    Kw::new("host", |b, n, c| {
        let mut h = Connection::default();
        apply_block(&mut h, n.children(), &HOST_KW, c);
        b.hosts.push(h);
    }),
];

pub fn smtp_check(rs: &mut RealServer, node: &Node, ctx: &mut Ctx) {
    let mut b = Building::new();
    apply_checker(&mut b, node.children(), SMTP_KW, true, ctx);
    if !b.hosts.is_empty() {
        ctx.note(
            node.span(),
            "The SMTP_CHECK host block is deprecated. Please define additional checkers.",
        );
    }
    let kind = CheckerKind::Smtp(SmtpCheck {
        helo_name: b.helo.take().unwrap_or_else(|| DEFAULT_HELO.to_owned()),
        hosts: std::mem::take(&mut b.hosts),
    });
    push(rs, b, kind, node);
}

// -------------------------------------------------------------------------------- DNS

pub(crate) static DNS_KW: &[Kw<Building>] = &[
    Kw::new("type", |b, n, c| {
        let Some(t) = c.need(n, 0) else {
            return;
        };
        b.dns_type = match t.text.to_ascii_uppercase().as_str() {
            "A" => DnsType::A,
            "NS" => DnsType::Ns,
            "CNAME" => DnsType::Cname,
            "SOA" => DnsType::Soa,
            "MX" => DnsType::Mx,
            "TXT" => DnsType::Txt,
            "AAAA" => DnsType::Aaaa,
            _ => {
                c.error(
                    t.span,
                    format!("Unknown DNS check type {} - ignoring", t.text),
                );
                return;
            }
        };
    }),
    Kw::new("name", |b, n, c| b.dns_name = c.string(n)),
];

pub fn dns_check(rs: &mut RealServer, node: &Node, ctx: &mut Ctx) {
    let mut b = Building::new();
    apply_checker(&mut b, node.children(), DNS_KW, true, ctx);
    let kind = CheckerKind::Dns(DnsCheck {
        qtype: b.dns_type,
        name: b.dns_name.take().unwrap_or_else(|| ".".to_owned()),
    });
    push(rs, b, kind, node);
}

// -------------------------------------------------------------------------------- UDP

/// Hex bytes; with `wild`, `x`/`X` nibbles match anything (mask 0).
fn hex_masked(s: &str, wild: bool) -> Option<Vec<(u8, u8)>> {
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if s.is_empty() || s.len() % 2 != 0 {
        return None;
    }
    let nib = |c: u8| -> Option<(u8, u8)> {
        match c {
            b'x' | b'X' if wild => Some((0, 0)),
            _ => (c as char).to_digit(16).map(|d| (d as u8, 0xf)),
        }
    };
    s.as_bytes()
        .chunks(2)
        .map(|p| match p {
            [h, l] => {
                let (hv, hm) = nib(*h)?;
                let (lv, lm) = nib(*l)?;
                Some(((hv << 4) | lv, (hm << 4) | lm))
            }
            _ => None,
        })
        .collect()
}

pub(crate) static UDP_KW: &[Kw<Building>] = &[
    Kw::new("payload", |b, n, c| {
        let Some(t) = c.need(n, 0) else {
            return;
        };
        match hex_masked(&t.text, false) {
            Some(v) => b.udp.payload = v.into_iter().map(|(v, _)| v).collect(),
            None => c.error(t.span, "Invalid hex string for UDP_CHECK payload"),
        }
    }),
    Kw::new("require_reply", |b, n, c| match n.arg(0) {
        None => b.udp.require_reply = Some(Vec::new()),
        Some(t) => match hex_masked(&t.text, true) {
            Some(v) => b.udp.require_reply = Some(v),
            None => c.error(t.span, "Invalid hex string for UDP_CHECK require_reply"),
        },
    }),
    Kw::new("min_reply_length", |b, n, c| {
        if let Some(v) = c.int(n, 0, 0, 65535) {
            b.udp.min_reply_length = v as u32;
        }
    }),
    Kw::new("max_reply_length", |b, n, c| {
        if let Some(v) = c.int(n, 0, 0, 65535) {
            b.udp.max_reply_length = v as u32;
        }
    }),
];

pub fn udp_check(rs: &mut RealServer, node: &Node, ctx: &mut Ctx) {
    let mut b = Building::new();
    apply_checker(&mut b, node.children(), UDP_KW, true, ctx);
    if b.udp.min_reply_length > b.udp.max_reply_length {
        ctx.error(
            node.span(),
            format!(
                "UDP_CHECK min_reply length {} > max_reply_length {} - will always fail",
                b.udp.min_reply_length, b.udp.max_reply_length
            ),
        );
    }
    let kind = CheckerKind::Udp(b.udp.clone());
    push(rs, b, kind, node);
}

// ------------------------------------------------------------------------- FILE / BFD

fn apply_plain(b: &mut Building, node: &Node, table: &[Kw<Building>], ctx: &mut Ctx) {
    apply_block(b, node.children(), table, ctx);
}

pub(crate) static FILE_KW: &[Kw<Building>] = &[
    Kw::new("track_file", |b, n, c| b.track_file = c.string(n)),
    Kw::new("weight", |b, n, c| {
        let Some(w) = c.int(n, 0, -i64::from(i32::MAX), i64::from(i32::MAX)) else {
            return;
        };
        let reverse = match n.arg(1).map(|t| t.text.as_str()) {
            None => false,
            Some("reverse") => true,
            Some(other) => {
                c.error(
                    n.span(),
                    format!("unknown track_file weight option {other}"),
                );
                return;
            }
        };
        b.file_weight = Some((w as i32, reverse));
    }),
];

/// `FILE_CHECK`. That `track_file` names a defined `track_file` block is checked by the
/// VRRP/track-file owner (keepalived: "track_file X not found").
pub fn file_check(rs: &mut RealServer, node: &Node, ctx: &mut Ctx) {
    let mut b = Building::new();
    apply_plain(&mut b, node, FILE_KW, ctx);
    let Some(track_file) = b.track_file.take() else {
        ctx.error(
            node.span(),
            "FILE_CHECK has no track_file specified - ignoring",
        );
        return;
    };
    let kind = CheckerKind::File(FileCheck {
        track_file,
        weight: b.file_weight.map(|w| w.0),
        reverse: b.file_weight.is_some_and(|w| w.1),
    });
    push(rs, b, kind, node);
}

pub(crate) static BFD_KW: &[Kw<Building>] = &[
    Kw::new("name", |b, n, c| b.bfd_name = c.string(n)),
    Kw::new("alpha", |b, n, c| {
        if let Some(v) = bool_kw(n, c, "Invalid alpha parameter") {
            b.bfd_alpha = v;
        }
    }),
];

pub fn bfd_check(rs: &mut RealServer, node: &Node, ctx: &mut Ctx) {
    let mut b = Building::new();
    apply_plain(&mut b, node, BFD_KW, ctx);
    let Some(name) = b.bfd_name.take() else {
        ctx.error(
            node.span(),
            format!(
                "([{}]:{}) No name has been specified for BFD_CHECKER - skipping",
                rs.ip, rs.port
            ),
        );
        return;
    };
    let kind = CheckerKind::Bfd(BfdCheck {
        name,
        alpha: b.bfd_alpha,
    });
    push(rs, b, kind, node);
}
