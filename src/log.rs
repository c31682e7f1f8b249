//! Logging as keepalived does it: syslog with the process ident
//! (`Keepalived`, `Keepalived_vrrp`, `Keepalived_healthcheckers`) and pid, facility from
//! `-S` (default daemon); `-l` duplicates every line to stderr as `<ctime>: <message>`;
//! journald instead of syslog when started by systemd; `-G` disables syslog.
//!
//! Use the `tracing` macros (`info!("Stopping")`). The ident can change after a fork
//! ([`set_ident`]), so one global subscriber serves the parent and its children.

use std::fmt::Write as _;
use std::io::Write as _;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Where journald listens for native messages.
const JOURNALD_SOCKET: &str = "/run/systemd/journal/socket";

/// Target of lines keepalived logs at LOG_DEBUG whatever `-D` says ("Initializing ipvs"):
/// `info!(target: log::SYSLOG_DEBUG, ...)` is always logged, with syslog severity debug.
pub const SYSLOG_DEBUG: &str = "keepalived::syslog_debug";

/// syslog facility `daemon` (LOG_DAEMON >> 3).
pub const FACILITY_DAEMON: u8 = 3;

static DETAIL: AtomicU8 = AtomicU8::new(0);
static ADDRESS_CHANGES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `-a`: log every address added or removed (keepalived's `Netlink reflector reports IP`).
pub fn address_changes() -> bool {
    ADDRESS_CHANGES.load(Ordering::Relaxed)
}

pub fn set_address_changes(on: bool) {
    ADDRESS_CHANGES.store(on, Ordering::Relaxed);
}
static IDENT: RwLock<String> = RwLock::new(String::new());

/// `-D` given `n` times: callers log their "detailed" lines when this is > 0.
pub fn detail() -> u8 {
    DETAIL.load(Ordering::Relaxed)
}

/// The current syslog ident.
pub fn ident() -> String {
    match IDENT.read() {
        Ok(g) if !g.is_empty() => g.clone(),
        _ => "Keepalived".to_owned(),
    }
}

/// Changes the ident of every later line (a child after its fork).
pub fn set_ident(ident: &str) {
    if let Ok(mut g) = IDENT.write() {
        *g = ident.to_owned();
    }
    if let Ok(j) = JOURNALD.lock() {
        if let Some(j) = j.as_ref() {
            j.set_ident(ident);
        }
    }
}

/// Where log lines go.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// `-l`: also to stderr.
    pub console: bool,
    /// `-G` clears it.
    pub syslog: bool,
    /// `-S`: syslog facility number 0..=23 (default daemon = 3).
    pub facility: u8,
    /// `-D` count.
    pub detail: u8,
    /// The syslog socket (default `/dev/log`).
    pub syslog_path: PathBuf,
    /// Use journald rather than syslog; `None` = when started by systemd
    /// (`JOURNAL_STREAM` or `INVOCATION_ID` set).
    pub journald: Option<bool>,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            console: false,
            syslog: true,
            facility: FACILITY_DAEMON,
            detail: 0,
            syslog_path: PathBuf::from("/dev/log"),
            journald: None,
        }
    }
}

/// Parses `-S`: `0`-`7` (local0-7), `local0`-`local7`, `user`, `daemon`.
pub fn parse_facility(s: &str) -> Option<u8> {
    match s {
        "user" => Some(1),
        "daemon" => Some(FACILITY_DAEMON),
        _ => {
            let n = s.strip_prefix("local").unwrap_or(s);
            match n.as_bytes() {
                [d @ b'0'..=b'7'] => Some(16 + (d - b'0')),
                _ => None,
            }
        }
    }
}

/// Installs the global subscriber. Later calls (tests) are ignored.
pub fn init(opts: &LogOptions, ident: &str) {
    DETAIL.store(opts.detail, Ordering::Relaxed);
    if let Ok(mut g) = IDENT.write() {
        *g = ident.to_owned();
    }
    // A JOURNAL_STREAM inherited outside systemd's reach must not send lines nowhere.
    let use_journald = opts.syslog
        && opts.journald.unwrap_or_else(|| {
            (std::env::var_os("JOURNAL_STREAM").is_some()
                || std::env::var_os("INVOCATION_ID").is_some())
                && std::path::Path::new(JOURNALD_SOCKET).exists()
        });
    let mut syslog = None;
    if opts.syslog && !use_journald {
        syslog = Some(Mutex::new(SyslogSink {
            path: opts.syslog_path.clone(),
            sock: None,
        }));
    }
    if use_journald {
        if let Some(slot) = JournaldSlot::new(ident, opts.facility) {
            if let Ok(mut j) = JOURNALD.lock() {
                *j = Some(slot);
            }
        }
    }
    let max = if opts.detail > 0 {
        Level::DEBUG
    } else {
        Level::INFO
    };
    let layer = KaLayer {
        console: opts.console,
        facility: opts.facility,
        syslog,
        max,
    };
    let sub = tracing_subscriber::registry()
        .with(layer)
        .with(JournaldForward);
    let _ = tracing::subscriber::set_global_default(sub);
}

static JOURNALD: Mutex<Option<JournaldSlot>> = Mutex::new(None);

struct JournaldSlot {
    inner: RwLock<tracing_journald::Layer>,
    /// for [`SYSLOG_DEBUG`] lines: INFO recorded as PRIORITY 7
    debug: RwLock<tracing_journald::Layer>,
    facility: u8,
}

impl JournaldSlot {
    fn new(ident: &str, facility: u8) -> Option<JournaldSlot> {
        Some(JournaldSlot {
            inner: RwLock::new(journald_layer(ident, facility, false)?),
            debug: RwLock::new(journald_layer(ident, facility, true)?),
            facility,
        })
    }

    fn set_ident(&self, ident: &str) {
        for (slot, debug) in [(&self.inner, false), (&self.debug, true)] {
            if let Some(l) = journald_layer(ident, self.facility, debug) {
                if let Ok(mut g) = slot.write() {
                    *g = l;
                }
            }
        }
    }

    fn layer(
        &self,
        event: &Event<'_>,
    ) -> Option<std::sync::RwLockReadGuard<'_, tracing_journald::Layer>> {
        if event.metadata().target() == SYSLOG_DEBUG {
            self.debug.read().ok()
        } else {
            self.inner.read().ok()
        }
    }
}

/// A journald layer whose records carry what keepalived's syslog(3) lines get from
/// journald: the ident, `SYSLOG_FACILITY` and the syslog severity as `PRIORITY` (the
/// crate's default maps INFO to notice, 5; keepalived's lines are LOG_INFO, 6).
fn journald_layer(ident: &str, facility: u8, debug: bool) -> Option<tracing_journald::Layer> {
    use tracing_journald::{Priority, PriorityMappings};
    let l = tracing_journald::layer().ok()?;
    Some(
        l.with_syslog_identifier(ident.to_owned())
            .with_priority_mappings(PriorityMappings {
                error: Priority::Error,
                warn: Priority::Warning,
                info: if debug {
                    Priority::Debug
                } else {
                    Priority::Informational
                },
                debug: Priority::Debug,
                trace: Priority::Debug,
            })
            .with_custom_fields([("SYSLOG_FACILITY", facility.to_string())]),
    )
}

/// Forwards to the journald layer if one is configured (its ident changes after a fork).
struct JournaldForward;

impl<S> Layer<S> for JournaldForward
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if let Ok(j) = JOURNALD.lock() {
            if let Some(l) = j.as_ref().and_then(|s| s.inner.read().ok()) {
                l.on_new_span(attrs, id, ctx);
            }
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Ok(j) = JOURNALD.lock() {
            if let Some(l) = j.as_ref().and_then(|s| s.inner.read().ok()) {
                l.on_record(id, values, ctx);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if (*event.metadata().level() > Level::INFO && detail() == 0) || foreign(event) {
            return;
        }
        if let Ok(j) = JOURNALD.lock() {
            if let Some(l) = j.as_ref().and_then(|s| s.layer(event)) {
                l.on_event(event, ctx);
            }
        }
    }
}

/// A library's own tracing (the D-Bus crates): not keepalived's log lines.
fn foreign(event: &Event<'_>) -> bool {
    let t = event.metadata().target();
    t.starts_with("zbus") || t.starts_with("zvariant")
}

struct SyslogSink {
    path: PathBuf,
    sock: Option<UnixDatagram>,
}

impl SyslogSink {
    /// Sends one datagram, reconnecting once if syslogd was restarted. The socket is
    /// non-blocking: a stuck syslog daemon loses lines rather than freezing keepalived.
    fn send(&mut self, msg: &[u8]) {
        for _ in 0..2 {
            if self.sock.is_none() {
                self.sock = UnixDatagram::unbound()
                    .and_then(|s| s.set_nonblocking(true).map(|()| s))
                    .ok();
            }
            let Some(s) = &self.sock else { return };
            match s.send_to(msg, &self.path) {
                Ok(_) => return,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(_) => self.sock = None,
            }
        }
    }
}

struct KaLayer {
    console: bool,
    facility: u8,
    syslog: Option<Mutex<SyslogSink>>,
    max: Level,
}

impl<S: Subscriber> Layer<S> for KaLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = *event.metadata().level();
        if level > self.max || foreign(event) {
            return;
        }
        let mut v = MessageVisitor::default();
        event.record(&mut v);
        let msg = v.finish();
        let now = SystemTime::now();
        if self.console {
            let line = format!("{}: {}\n", ctime(now), msg);
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
        if let Some(sink) = &self.syslog {
            let sev = if event.metadata().target() == SYSLOG_DEBUG {
                7
            } else {
                severity(level)
            };
            let pri = u32::from(self.facility) * 8 + sev;
            let line = rfc3164(pri, now, &ident(), std::process::id(), &msg);
            if let Ok(mut s) = sink.lock() {
                s.send(line.as_bytes());
            }
        }
    }
}

/// syslog severity of a tracing level (keepalived logs most lines at LOG_INFO).
fn severity(l: Level) -> u32 {
    match l {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
    fields: String,
}

impl MessageVisitor {
    fn finish(self) -> String {
        if self.fields.is_empty() {
            self.message
        } else if self.message.is_empty() {
            self.fields.trim_start().to_owned()
        } else {
            self.message + &self.fields
        }
    }
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={}", field.name(), value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={:?}", field.name(), value);
        }
    }
}

/// Broken-down local time.
struct Tm {
    year: i32,
    mon: usize,
    mday: i32,
    wday: usize,
    hour: i32,
    min: i32,
    sec: i32,
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn local_tm(t: SystemTime) -> Tm {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    // SAFETY: localtime_r only writes into the zeroed `tm` we own; `secs` is a valid time_t.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&secs, &mut tm);
        tm
    };
    Tm {
        year: tm.tm_year + 1900,
        mon: usize::try_from(tm.tm_mon).unwrap_or(0).min(11),
        mday: tm.tm_mday,
        wday: usize::try_from(tm.tm_wday).unwrap_or(0).min(6),
        hour: tm.tm_hour,
        min: tm.tm_min,
        sec: tm.tm_sec,
    }
}

/// `Sat Nov 21 22:45:21 2026`, as `%c` in the C locale (keepalived's `-l` prefix).
pub fn ctime(t: SystemTime) -> String {
    let tm = local_tm(t);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        DAYS[tm.wday], MONTHS[tm.mon], tm.mday, tm.hour, tm.min, tm.sec, tm.year
    )
}

/// One RFC 3164 datagram as glibc's syslog(3) sends it to /dev/log (no host name):
/// `<PRI>Mmm dd hh:mm:ss ident[pid]: message`.
pub fn rfc3164(pri: u32, t: SystemTime, ident: &str, pid: u32, msg: &str) -> String {
    let tm = local_tm(t);
    format!(
        "<{}>{} {:2} {:02}:{:02}:{:02} {}[{}]: {}",
        pri, MONTHS[tm.mon], tm.mday, tm.hour, tm.min, tm.sec, ident, pid, msg
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn facilities() {
        assert_eq!(parse_facility("daemon"), Some(3));
        assert_eq!(parse_facility("user"), Some(1));
        assert_eq!(parse_facility("local0"), Some(16));
        assert_eq!(parse_facility("7"), Some(23));
        assert_eq!(parse_facility("local8"), None);
        assert_eq!(parse_facility("+1"), None);
        assert_eq!(parse_facility("kern"), None);
    }

    #[test]
    fn framing() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let line = rfc3164(30, t, "Keepalived_vrrp", 42, "Stopped");
        assert!(line.starts_with("<30>"), "{line}");
        assert!(line.ends_with(" Keepalived_vrrp[42]: Stopped"), "{line}");
        // `Mmm dd hh:mm:ss` is 15 characters.
        let stamp = &line[4..19];
        assert_eq!(stamp.len(), 15);
        assert!(MONTHS.contains(&&stamp[..3]), "{stamp}");
        let c = ctime(t);
        assert_eq!(c.len(), 24, "{c}");
        assert!(c.ends_with("2023"), "{c}");
    }

    #[test]
    fn syslog_sink_sends_datagrams() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let rx = UnixDatagram::bind(&path).unwrap();
        let mut sink = SyslogSink { path, sock: None };
        sink.send(b"<30>hello");
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"<30>hello");
        // A full queue drops lines instead of blocking the daemon.
        for _ in 0..10_000 {
            sink.send(b"<30>flood");
        }
    }

    #[test]
    fn syslog_debug_lines_have_debug_severity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let rx = UnixDatagram::bind(&path).unwrap();
        let layer = KaLayer {
            console: false,
            facility: FACILITY_DAEMON,
            syslog: Some(Mutex::new(SyslogSink { path, sock: None })),
            max: Level::INFO,
        };
        let sub = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(sub, || {
            tracing::info!("Stopping");
            tracing::info!(target: SYSLOG_DEBUG, "Initializing ipvs");
        });
        let mut buf = [0u8; 256];
        let mut got = Vec::new();
        for _ in 0..2 {
            let n = rx.recv(&mut buf).unwrap();
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        // daemon (3) * 8 + info (6) / debug (7), as keepalived's syslog(3) lines
        assert!(
            got[0].starts_with("<30>") && got[0].ends_with(": Stopping"),
            "{got:?}"
        );
        assert!(
            got[1].starts_with("<31>") && got[1].ends_with(": Initializing ipvs"),
            "{got:?}"
        );
    }
}
