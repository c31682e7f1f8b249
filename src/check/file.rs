//! FILE_CHECK: the number in a tracked file, times the
//! checker's weight (negated with `reverse`), adjusts the real server's weight; a
//! result at or below INT32_MIN takes the real server down. The file is watched with
//! inotify as VRRP's track files are.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use tokio::task::JoinHandle;
use tracing::warn;

use super::manager::CheckerId;
use crate::config::model::check::checker::{CheckerKind, FileCheck};
use crate::config::model::Config;
use crate::watch::{init_track_file, read_track_file, watch_files, watch_target, FileSink};

/// One FILE_CHECK following a track file.
#[derive(Debug, Clone)]
struct Follower {
    id: CheckerId,
    cfg: FileCheck,
    /// The track_file's own weight (when the checker gives none).
    file_weight: i32,
    /// The adjustment last reported.
    last: Option<Option<i64>>,
}

/// The FILE_CHECKs of a configuration: each track file they name is watched once (as
/// keepalived's track_file.c does, with the VRRP side's [`watch_files`]) and a new value
/// becomes each following checker's adjustment.
#[derive(Debug, Default)]
pub struct FileChecks {
    files: Vec<(String, PathBuf)>,
    followers: Vec<(String, Follower)>,
}

impl FileChecks {
    /// The FILE_CHECKs of `c`; creates the files of `init_file` track files.
    pub fn of(c: &Config) -> FileChecks {
        let mut fc = FileChecks::default();
        for (v, vs) in c.check.virtual_servers.iter().enumerate() {
            for (r, rs) in vs.real_servers.iter().enumerate() {
                for (i, chk) in rs.checkers.iter().enumerate() {
                    let CheckerKind::File(f) = &chk.kind else {
                        continue;
                    };
                    let Some(tf) = c.vrrp.track_files.iter().find(|t| t.name == f.track_file)
                    else {
                        warn!("FILE_CHECK: unknown track_file {}", f.track_file);
                        continue;
                    };
                    let Some(path) = tf.path.as_ref() else {
                        continue;
                    };
                    if !fc.files.iter().any(|(n, _)| *n == tf.name) {
                        if let Err(e) = init_track_file(tf) {
                            warn!("Unable to initialise track file {path}: {e}");
                        }
                        fc.files.push((tf.name.clone(), PathBuf::from(path)));
                    }
                    let mut cfg = f.clone();
                    cfg.reverse = cfg.reverse || (cfg.weight.is_none() && tf.weight_reverse);
                    let id = CheckerId {
                        vs: v,
                        rs: r,
                        checker: i,
                    };
                    fc.followers.push((
                        tf.name.clone(),
                        Follower {
                            id,
                            cfg,
                            file_weight: tf.weight,
                            last: None,
                        },
                    ));
                }
            }
        }
        fc
    }

    /// Track file `name` now holds `value`: the checkers whose adjustment changed, with
    /// the new one (`None` = down).
    pub fn update(&mut self, name: &str, value: i64) -> Vec<(CheckerId, Option<i64>)> {
        let mut out = Vec::new();
        for (n, f) in &mut self.followers {
            if n != name {
                continue;
            }
            let adj = adjustment(&f.cfg, f.file_weight, value);
            if f.last != Some(adj) {
                f.last = Some(adj);
                out.push((f.id, adj));
            }
        }
        out
    }

    /// Watches the files and hands every changed adjustment to `apply` (at once for the
    /// current values, then on each change); `apply` returning `false` ends the watch.
    /// Runs on the current `LocalSet`.
    pub fn watch(
        self,
        apply: impl Fn(CheckerId, Option<i64>) -> bool + 'static,
    ) -> Vec<JoinHandle<()>> {
        if self.files.is_empty() {
            return Vec::new();
        }
        let files = self.files.clone();
        let state = Rc::new(RefCell::new(self));
        let st = state.clone();
        let sink: FileSink<String> = Rc::new(move |name: &String, value| {
            let changes = st.borrow_mut().update(name, value);
            changes.into_iter().all(|(id, adj)| apply(id, adj))
        });
        // watch first, then read: a write in between is not lost. A file keepalived
        // drops (no directory) leaves its checkers as they start.
        let tasks = watch_files(files.clone(), sink.clone());
        for (name, path) in &files {
            if watch_target(path).is_ok() && !sink(name, read_track_file(path)) {
                break;
            }
        }
        tasks
    }
}

/// The weight adjustment for `value` with the checker's weight (`file_weight` = the
/// track_file's own weight when the checker gives none); `None` = real server down.
/// Weight 0 means "any non-zero value is a failure", as for VRRP track files.
pub fn adjustment(cfg: &FileCheck, file_weight: i32, value: i64) -> Option<i64> {
    let w = i64::from(cfg.weight.unwrap_or(file_weight));
    if w == 0 {
        return if value == 0 { Some(0) } else { None };
    }
    let adj = value.saturating_mul(if cfg.reverse { -w } else { w });
    if adj <= i64::from(i32::MIN) {
        None
    } else {
        Some(adj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fc(w: Option<i32>, reverse: bool) -> FileCheck {
        FileCheck {
            track_file: "f".into(),
            weight: w,
            reverse,
        }
    }

    #[test]
    fn values_and_adjustments() {
        assert_eq!(adjustment(&fc(Some(2), false), 1, 5), Some(10));
        assert_eq!(adjustment(&fc(Some(2), true), 1, 5), Some(-10));
        assert_eq!(adjustment(&fc(None, false), 3, -1), Some(-3));
        assert_eq!(adjustment(&fc(Some(0), false), 1, 0), Some(0));
        assert_eq!(adjustment(&fc(Some(0), false), 1, 1), None);
        assert_eq!(
            adjustment(&fc(Some(1), false), 1, i64::from(i32::MIN)),
            None
        );
        assert_eq!(adjustment(&fc(Some(1), false), 1, i64::MAX), Some(i64::MAX));
    }
}
