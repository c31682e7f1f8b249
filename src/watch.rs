//! Watching the files whose content is a number: VRRP `track_file`s and the checker's
//! FILE_CHECK. inotify on the file's directory, as keepalived's track_file.c, or polling
//! where inotify cannot watch; a missing or unreadable file reads as 0.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::info;

use crate::config::model::vrrp::track::TrackFile;

/// Poll period for a tracked file whose directory cannot be watched with inotify.
pub const FILE_POLL: Duration = Duration::from_secs(1);

/// An inotify instance that tokio can poll.
struct Ino(Inotify);

impl AsRawFd for Ino {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Where [`watch_files`] delivers a file's value (read anew, 0 when gone); `false` stops
/// the watch.
pub type FileSink<K> = Rc<dyn Fn(&K, i64) -> bool>;

/// Why a tracked file cannot be watched (keepalived's init_track_files drops it, with
/// these lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unwatchable {
    /// "Track file directory for NAME does not exist - removing"
    NoDirectory,
    /// "track file NAME is not accessible - ignoring"
    Inaccessible,
}

impl Unwatchable {
    pub fn line(self, name: &dyn std::fmt::Display) -> String {
        match self {
            Unwatchable::NoDirectory => {
                format!("Track file directory for {name} does not exist - removing")
            }
            Unwatchable::Inaccessible => format!("track file {name} is not accessible - ignoring"),
        }
    }
}

/// The directory to watch and the name in it for a tracked file, symbolic links resolved
/// as keepalived's realpath() does: the file itself if it exists, else its directory.
pub fn watch_target(path: &Path) -> Result<(PathBuf, std::ffi::OsString), Unwatchable> {
    let split = |p: &Path| match (p.parent(), p.file_name()) {
        (Some(d), Some(b)) => Ok((d.to_path_buf(), b.to_os_string())),
        _ => Err(Unwatchable::Inaccessible),
    };
    match std::fs::canonicalize(path) {
        Ok(real) => split(&real),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let base = path.file_name().ok_or(Unwatchable::Inaccessible)?;
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            match std::fs::canonicalize(dir) {
                Ok(d) if d.is_dir() => Ok((d, base.to_os_string())),
                _ => Err(Unwatchable::NoDirectory),
            }
        }
        Err(_) => Err(Unwatchable::Inaccessible),
    }
}

/// Watches tracked files (keyed by `K`) through inotify on their directories, as
/// keepalived's track_file.c: a write (close after writing), a rename into place,
/// a rename away or a deletion makes the file be read again. A file whose directory does
/// not exist is dropped, as keepalived does (its value stays 0). Should inotify itself be
/// unavailable, files are polled every [`FILE_POLL`]. Shared by VRRP `track_file`s and the
/// checker's FILE_CHECK.
pub fn watch_files<K: std::fmt::Display + 'static>(
    files: Vec<(K, PathBuf)>,
    sink: FileSink<K>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC);
    let mut watched: Vec<(WatchDescriptor, std::ffi::OsString, K, PathBuf)> = Vec::new();
    let mut polled = Vec::new();
    let flags = AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_DELETE;
    for (key, path) in files {
        let (dir, base) = match watch_target(&path) {
            Ok(t) => t,
            Err(why) => {
                info!("{}", why.line(&key));
                continue;
            }
        };
        let real = dir.join(&base);
        match ino.as_ref().map(|i| i.add_watch(&dir, flags)) {
            Ok(Ok(wd)) => watched.push((wd, base, key, real)),
            _ => {
                info!(
                    "track_file {key}: cannot watch {} with inotify - polling",
                    dir.display()
                );
                polled.push((key, real));
            }
        }
    }
    for (key, path) in polled {
        let (ftx, mut frx) = mpsc::channel(4);
        let w = watch_file(path, FILE_POLL, ftx);
        let sink = sink.clone();
        tasks.push(tokio::task::spawn_local(async move {
            while let Some(value) = frx.recv().await {
                if !sink(&key, value) {
                    break;
                }
            }
            w.abort();
        }));
    }
    let Ok(ino) = ino else {
        return tasks;
    };
    if watched.is_empty() {
        return tasks;
    }
    // SAFETY: `Ino` owns the inotify descriptor, which stays open while the AsyncFd
    // holds it.
    let Ok(afd) = (unsafe { tokio::io::unix::AsyncFd::register(Ino(ino)) }) else {
        return tasks;
    };
    tasks.push(tokio::task::spawn_local(async move {
        loop {
            let Ok(mut guard) = afd.readable().await else {
                return;
            };
            match guard.get_inner().0.read_events() {
                Ok(evs) => {
                    for ev in evs {
                        let Some(n) = ev.name.as_ref() else { continue };
                        for (wd, base, key, path) in &watched {
                            if *wd == ev.wd && base == n && !sink(key, read_track_file(path)) {
                                return;
                            }
                        }
                    }
                }
                Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
                Err(e) => {
                    info!("track_file inotify read error: {e}");
                    return;
                }
            }
        }
    }));
    tasks
}

/// Parses a tracked file's content as keepalived does (leading integer, else 0).
pub fn parse_track_file(content: &str) -> i64 {
    let t = content.trim_start();
    let end = t
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(t.len(), |(i, _)| i);
    t.get(..end).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Reads a tracked file's value; a missing or unreadable file reads as 0.
pub fn read_track_file(path: &std::path::Path) -> i64 {
    std::fs::read_to_string(path).map_or(0, |s| parse_track_file(&s))
}

/// Creates the file of `init_file` if absent (or always with `overwrite`).
pub fn init_track_file(f: &TrackFile) -> std::io::Result<()> {
    let (Some(path), Some(init)) = (&f.path, f.init) else {
        return Ok(());
    };
    let p = std::path::Path::new(path);
    if init.overwrite || !p.exists() {
        std::fs::write(p, format!("{}\n", init.value))?;
    }
    Ok(())
}

/// Watches a tracked file by polling its content every `every`; sends each new value.
/// Ends when the receiver is dropped.
pub fn watch_file(
    path: std::path::PathBuf,
    every: Duration,
    tx: tokio::sync::mpsc::Sender<i64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = None;
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let v = tokio::fs::read_to_string(&path)
                .await
                .map_or(0, |s| parse_track_file(&s));
            if last != Some(v) {
                last = Some(v);
                if tx.send(v).await.is_err() {
                    return;
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_targets_resolve_links_and_need_the_directory() {
        let d = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(d.path()).unwrap();
        std::fs::create_dir(real.join("b")).unwrap();
        std::fs::write(real.join("b/f"), "1").unwrap();
        std::os::unix::fs::symlink(real.join("b/f"), real.join("link")).unwrap();
        // a link is watched where it points
        assert_eq!(
            watch_target(&real.join("link")),
            Ok((real.join("b"), "f".into()))
        );
        // a missing file in an existing directory is watched there
        assert_eq!(
            watch_target(&real.join("b/new")),
            Ok((real.join("b"), "new".into()))
        );
        assert_eq!(
            watch_target(&real.join("nodir/f")),
            Err(Unwatchable::NoDirectory)
        );
        // a path through a file
        assert_eq!(
            watch_target(&real.join("b/f/x")),
            Err(Unwatchable::Inaccessible)
        );
        assert_eq!(
            Unwatchable::NoDirectory.line(&"tf"),
            "Track file directory for tf does not exist - removing"
        );
    }

    #[test]
    fn numbers_as_keepalived_reads_them() {
        assert_eq!(parse_track_file(" 42\n"), 42);
        assert_eq!(parse_track_file("-7x"), -7);
        assert_eq!(parse_track_file("junk"), 0);
        assert_eq!(parse_track_file(""), 0);
    }
}
