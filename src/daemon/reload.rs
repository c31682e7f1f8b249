//! The parent's reload helpers from `global_defs` (man keepalived.conf(5)):
//! `reload_check_config [LOG]` (a reload first runs `keepalived --config-test=LOG` with the
//! same command line and goes ahead only if it exits 0), `reload_file [FILE]` (removed
//! once the configuration files have been read, so that an update process can wait for
//! it), and `reload_time_file FILE` / `reload_repeat` (a reload at the time written in the
//! file, watched with inotify). Times are parsed as keepalived's reload_monitor.c does.

use std::os::fd::{AsFd as _, AsRawFd as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tracing::info;

use super::names::Names;
use crate::config::model::global::GlobalDefs;

/// What the running configuration says about reloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// `reload_check_config`: the `--config-test` log file.
    pub check_log: Option<PathBuf>,
    pub reload_file: Option<PathBuf>,
    pub time_file: Option<PathBuf>,
    pub repeat: bool,
}

/// The model's name for a bare `reload_file`.
const DEFAULT_RELOAD_FILE: &str = "/run/keepalived.reload";

impl Settings {
    pub fn new(g: &GlobalDefs, names: &Names) -> Settings {
        let reload_file = g.reload_file.as_deref().map(|f| {
            // A bare `reload_file` lives next to the parent's pid file.
            if f == DEFAULT_RELOAD_FILE && (names.named() || names.use_pid_dir) {
                names.pid_file("keepalived").with_extension("reload")
            } else {
                PathBuf::from(f)
            }
        });
        Settings {
            check_log: g.reload_check_config.as_deref().map(PathBuf::from),
            reload_file,
            time_file: g.reload_time_file.as_deref().map(PathBuf::from),
            repeat: g.reload_repeat,
        }
    }

    /// Creates (or truncates) the reload file, rw-r--r-- whatever the umask.
    pub fn create_reload_file(&self) {
        let Some(f) = &self.reload_file else { return };
        use std::os::unix::fs::OpenOptionsExt as _;
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        let mask = old.bits() & !0o044;
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
        let res = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(f);
        nix::sys::stat::umask(old);
        if let Err(e) = res {
            info!(
                "Failed to create reload file ({}) {} - {e}",
                f.display(),
                e.raw_os_error().unwrap_or(0)
            );
        }
    }

    pub fn remove_reload_file(&self) {
        if let Some(f) = &self.reload_file {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// Why a reload time was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not a time (already logged with the details).
    #[error("Invalid reload time '{0}' specified - ignoring")]
    Invalid(String),
    #[error("Reload date/time is in the past - ignoring")]
    Past,
}

/// A reload time: when, and whether the text had a date (then the file goes after the
/// reload even with `reload_repeat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadTime {
    pub at: i64,
    pub dated: bool,
}

/// `HH:MM:SS`, `YY-MM-DD HH:MM:SS` or `YYYY-MM-DD HH:MM:SS`, local time or UTC with a
/// final `Z`; a time alone that has passed today means tomorrow. `now`: seconds since
/// the epoch. Logs keepalived's line for each refusal.
pub fn parse_time(text: &str, now: i64) -> Result<ReloadTime, TimeError> {
    let invalid = || TimeError::Invalid(text.to_owned());
    let (body, utc) = match text.strip_suffix('Z') {
        Some(b) => (b, true),
        None => (text, false),
    };
    if ![8, 17, 19].contains(&body.len()) {
        info!("Reload time {text} format is incorrect - ignoring");
        return Err(invalid());
    }
    let mut tm = broken_down(now, utc);
    let fields = match parse_fields(body) {
        Some(f) => f,
        None => {
            info!("Reload date/time {text} invalid - ignoring");
            return Err(invalid());
        }
    };
    if let Some((y, m, d)) = fields.date {
        tm.tm_year = y - 1900;
        tm.tm_mon = m - 1;
        tm.tm_mday = d;
    }
    (tm.tm_hour, tm.tm_min, tm.tm_sec) = fields.time;
    tm.tm_isdst = -1;
    let mut norm = tm;
    let t = to_epoch(&mut norm, utc);
    if (
        tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
    ) != (
        norm.tm_year,
        norm.tm_mon,
        norm.tm_mday,
        norm.tm_hour,
        norm.tm_min,
        norm.tm_sec,
    ) {
        info!("Reload time {text} is not valid - ignoring");
        return Err(invalid());
    }
    let mut at = t;
    if at <= now {
        if fields.date.is_some() {
            info!("Reload time {text} is in the past - ignoring");
            return Err(TimeError::Past);
        }
        norm.tm_mday += 1;
        norm.tm_isdst = -1;
        at = to_epoch(&mut norm, utc);
    }
    Ok(ReloadTime {
        at,
        dated: fields.date.is_some(),
    })
}

struct Fields {
    date: Option<(i32, i32, i32)>,
    time: (i32, i32, i32),
}

fn parse_fields(s: &str) -> Option<Fields> {
    let num = |t: &str| -> Option<i32> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (Some(d), t),
        None => (None, s),
    };
    let hms: Vec<&str> = time.split(':').collect();
    let [h, m, sec] = hms.as_slice() else {
        return None;
    };
    let (h, m, sec) = (num(h)?, num(m)?, num(sec)?);
    if h > 23 || m > 59 || sec > 61 {
        return None;
    }
    let date = match date {
        None => None,
        Some(d) => {
            let ymd: Vec<&str> = d.split('-').collect();
            let [y, mo, dd] = ymd.as_slice() else {
                return None;
            };
            let mut year = num(y)?;
            if y.len() == 2 {
                // strptime's %y: 69-99 are 19xx, 00-68 20xx.
                year += if year >= 69 { 1900 } else { 2000 };
            }
            let (mo, dd) = (num(mo)?, num(dd)?);
            if !(1..=12).contains(&mo) || !(1..=31).contains(&dd) {
                return None;
            }
            Some((year, mo, dd))
        }
    };
    Some(Fields {
        date,
        time: (h, m, sec),
    })
}

fn broken_down(t: i64, utc: bool) -> libc::tm {
    let secs = t as libc::time_t;
    // SAFETY: the *_r functions only write into the zeroed `tm` we own.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if utc {
            libc::gmtime_r(&secs, &mut tm);
        } else {
            libc::localtime_r(&secs, &mut tm);
        }
        tm
    }
}

/// mktime/timegm, normalising `tm` as they do.
// time_t is i64 here, not on every target.
#[allow(clippy::useless_conversion)]
fn to_epoch(tm: &mut libc::tm, utc: bool) -> i64 {
    // SAFETY: both read and normalise the `tm` we own.
    i64::from(unsafe {
        if utc {
            libc::timegm(tm)
        } else {
            libc::mktime(tm)
        }
    })
}

/// `%Y-%m-%d %H:%M:%S` in local time, as keepalived logs reload times.
pub fn format_time(t: i64) -> String {
    let tm = broken_down(t, false);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

fn epoch_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `reload_time_file`: watches the file (and its directory, for creation and removal)
/// and keeps the reload time it says.
pub struct TimeMonitor {
    inotify: Inotify,
    file: PathBuf,
    name: std::ffi::OsString,
    dir_wd: WatchDescriptor,
    file_wd: Option<WatchDescriptor>,
    /// The scheduled reload (epoch seconds) and whether its text had a date.
    scheduled: Option<ReloadTime>,
}

impl TimeMonitor {
    /// Starts watching `file` and reads it if it exists; `None` if its directory cannot be
    /// watched (logged).
    pub fn start(file: &Path) -> Option<TimeMonitor> {
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("/"),
        };
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK).ok()?;
        let dir_wd = match inotify.add_watch(
            &dir,
            AddWatchFlags::IN_CREATE
                | AddWatchFlags::IN_DELETE
                | AddWatchFlags::IN_MOVED_TO
                | AddWatchFlags::IN_MOVED_FROM
                | AddWatchFlags::IN_DELETE_SELF
                | AddWatchFlags::IN_MOVE_SELF,
        ) {
            Ok(wd) => wd,
            Err(_) => {
                info!(
                    "Unable to monitor reload timer file directory {}- ignoring",
                    dir.display()
                );
                return None;
            }
        };
        let mut m = TimeMonitor {
            inotify,
            file: file.to_path_buf(),
            name: file.file_name().unwrap_or_default().to_owned(),
            dir_wd,
            file_wd: None,
            scheduled: None,
        };
        m.watch_file();
        Some(m)
    }

    pub fn raw_fd(&self) -> i32 {
        self.inotify.as_fd().as_raw_fd()
    }

    fn watch_file(&mut self) {
        self.file_wd = self
            .inotify
            .add_watch(&self.file, AddWatchFlags::IN_CLOSE_WRITE)
            .ok();
        if self.file_wd.is_some() {
            self.read_file();
        }
    }

    /// Handles the pending inotify events. `false`: the directory went away and the
    /// monitor stopped (drop it).
    pub fn events(&mut self) -> bool {
        while let Ok(evs) = self.inotify.read_events() {
            if evs.is_empty() {
                break;
            }
            for ev in evs {
                if Some(ev.wd) == self.file_wd && ev.mask.contains(AddWatchFlags::IN_CLOSE_WRITE) {
                    self.read_file();
                }
                if ev.wd != self.dir_wd {
                    continue;
                }
                if ev
                    .mask
                    .intersects(AddWatchFlags::IN_DELETE_SELF | AddWatchFlags::IN_MOVE_SELF)
                {
                    self.cancel(true);
                    info!("Directory of reload timer file has disappeared. Monitoring stopped.");
                    return false;
                }
                if ev.name.as_deref() != Some(self.name.as_os_str()) {
                    continue;
                }
                if ev
                    .mask
                    .intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO)
                {
                    self.watch_file();
                } else if ev
                    .mask
                    .intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM)
                {
                    if let Some(wd) = self.file_wd.take() {
                        let _ = self.inotify.rm_watch(wd);
                    }
                    self.cancel(true);
                }
            }
        }
        true
    }

    fn cancel(&mut self, log: bool) {
        if let Some(t) = self.scheduled.take() {
            if log {
                info!("Cancelling reload scheduled for {}", format_time(t.at));
            }
        }
    }

    fn read_file(&mut self) {
        // keepalived reads the first line, at most 20 characters; nothing to read cancels.
        let line = std::fs::read(&self.file)
            .ok()
            .filter(|b| !b.is_empty())
            .map(|b| {
                let first: Vec<u8> = b.into_iter().take(20).take_while(|&c| c != b'\n').collect();
                String::from_utf8_lossy(&first).into_owned()
            });
        let Some(line) = line else {
            self.cancel(true);
            return;
        };
        let t = match parse_time(&line, epoch_now()) {
            Ok(t) => t,
            Err(e) => {
                info!("{e}");
                self.cancel(true);
                return;
            }
        };
        match self.scheduled {
            Some(old) if old.at == t.at => {}
            Some(old) => info!(
                "Reload time updated from {} to {}",
                format_time(old.at),
                format_time(t.at)
            ),
            None => info!("Scheduling reload for {}", format_time(t.at)),
        }
        self.scheduled = Some(t);
    }

    /// When the reload is due, as an `Instant`.
    pub fn due(&self) -> Option<Instant> {
        let t = self.scheduled?;
        let wait = u64::try_from(t.at - epoch_now()).unwrap_or(0);
        Some(Instant::now() + Duration::from_secs(wait))
    }

    /// Whether the reload time has come; if so the file is removed (unless it says a time
    /// alone and `repeat`) and the schedule cleared.
    pub fn fire(&mut self, repeat: bool) -> bool {
        let Some(t) = self.scheduled else {
            return false;
        };
        if epoch_now() < t.at {
            return false;
        }
        self.scheduled = None;
        if !repeat || t.dated {
            let _ = std::fs::remove_file(&self.file);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-01-02 03:04:05 UTC
    const NOW: i64 = 1_767_323_045;

    #[test]
    fn utc_times_and_dates() {
        let t = parse_time("03:04:06Z", NOW).unwrap();
        assert_eq!((t.at, t.dated), (NOW + 1, false));
        // passed today: tomorrow
        let t = parse_time("03:04:05Z", NOW).unwrap();
        assert_eq!(t.at, NOW + 86_400);
        let t = parse_time("2026-01-02 03:05:05Z", NOW).unwrap();
        assert_eq!((t.at, t.dated), (NOW + 60, true));
        let t = parse_time("26-01-03 03:04:05Z", NOW).unwrap();
        assert_eq!(t.at, NOW + 86_400);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            parse_time("2026-01-02 03:04:04Z", NOW),
            Err(TimeError::Past)
        );
        for bad in [
            "3:04:05",
            "",
            "25:00:00",
            "2026-02-30 00:00:00Z",
            "ab:cd:ef",
        ] {
            assert!(
                matches!(parse_time(bad, NOW), Err(TimeError::Invalid(_))),
                "{bad}"
            );
        }
    }
}
