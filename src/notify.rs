//! Notify scripts and notify FIFOs for VRRP state changes.
//!
//! [`notify_calls`] and [`fifo_line`] are pure; [`Fifo`] owns a notify FIFO.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::Mode;

use crate::config::model::vrrp::instance::Notify;
use crate::config::model::Script;

/// Who changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Instance,
    Group,
}

impl Who {
    pub fn as_str(self) -> &'static str {
        match self {
            Who::Instance => "INSTANCE",
            Who::Group => "GROUP",
        }
    }
}

/// A state as notify scripts and FIFOs spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
    Deleted,
}

impl NotifyState {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
            NotifyState::Deleted => "DELETED",
        }
    }
}

/// The scripts to run for one state change, in keepalived's order: the
/// state-specific script with only its configured arguments, then the generic `notify`
/// with `INSTANCE|GROUP name STATE priority` appended (groups: priority 0).
/// `deleted` is `notify_deleted`'s script; without it a deletion runs nothing specific.
pub fn notify_calls(
    notify: &Notify,
    deleted: Option<&Script>,
    who: Who,
    name: &str,
    state: NotifyState,
    priority: u8,
) -> Vec<Script> {
    let mut out = Vec::new();
    let specific = match state {
        NotifyState::Master => notify.master.as_ref(),
        NotifyState::Backup => notify.backup.as_ref(),
        NotifyState::Fault => notify.fault.as_ref(),
        NotifyState::Stop => notify.stop.as_ref(),
        NotifyState::Deleted => deleted,
    };
    if let Some(s) = specific {
        out.push(s.clone());
    }
    if let Some(g) = &notify.generic {
        let mut s = g.clone();
        let prio = if who == Who::Group { 0 } else { priority };
        s.argv.extend([
            who.as_str().to_owned(),
            name.to_owned(),
            state.as_str().to_owned(),
            prio.to_string(),
        ]);
        out.push(s);
    }
    out
}

/// One event on a VRRP notify FIFO.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FifoEvent {
    State(NotifyState),
    /// A MASTER received a lower-priority advert.
    MasterRxLowerPri,
    /// `notify_priority_changes`: the effective priority changed while MASTER.
    MasterPriority,
    /// `notify_priority_changes`: the effective priority changed while BACKUP.
    BackupPriority,
}

impl FifoEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            FifoEvent::State(s) => s.as_str(),
            FifoEvent::MasterRxLowerPri => "MASTER_RX_LOWER_PRI",
            FifoEvent::MasterPriority => "MASTER_PRIORITY",
            FifoEvent::BackupPriority => "BACKUP_PRIORITY",
        }
    }
}

/// `INSTANCE "VI_1" MASTER 150\n` / `GROUP "G1" BACKUP 0\n`.
pub fn fifo_line(who: Who, name: &str, ev: FifoEvent, priority: u8) -> String {
    let prio = if who == Who::Group { 0 } else { priority };
    format!("{} \"{}\" {} {}\n", who.as_str(), name, ev.as_str(), prio)
}

/// An open notify FIFO. Removed on drop only if we created it.
#[derive(Debug)]
pub struct Fifo {
    path: PathBuf,
    file: File,
    created: bool,
}

impl Fifo {
    /// Creates the FIFO if absent (mode 0644 under the umask, then chowned to `owner`),
    /// and opens it O_RDWR|O_NONBLOCK so writes never block and lines are buffered even
    /// without a reader.
    pub fn open(path: &Path, owner: Option<(u32, u32)>) -> std::io::Result<Fifo> {
        let mut created = false;
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_fifo() => {}
            Ok(_) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a FIFO", path.display()),
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                nix::unistd::mkfifo(path, Mode::from_bits_truncate(0o644))?;
                created = true;
                if let Some((uid, gid)) = owner {
                    nix::unistd::chown(
                        path,
                        Some(nix::unistd::Uid::from_raw(uid)),
                        Some(nix::unistd::Gid::from_raw(gid)),
                    )?;
                }
            }
            Err(e) => return Err(e),
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path);
        match file {
            Ok(file) => Ok(Fifo {
                path: path.to_owned(),
                file,
                created,
            }),
            Err(e) => {
                if created {
                    let _ = std::fs::remove_file(path);
                }
                Err(e)
            }
        }
    }

    /// Opens the FIFO of a `notify_fifo PATH [USER [GROUP]]` line; `None` if unset.
    pub fn open_config(
        nf: &crate::config::model::global::NotifyFifo,
    ) -> Option<std::io::Result<Fifo>> {
        let path = nf.path.as_deref()?;
        let owner = nf
            .user
            .as_deref()
            .and_then(|u| crate::config::host::lookup_user(u, nf.group.as_deref()))
            .map(|r| (r.uid, r.gid));
        Some(Fifo::open(Path::new(path), owner))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn created(&self) -> bool {
        self.created
    }

    /// Writes one line; a full pipe loses the line (logged) rather than blocking VRRP.
    pub fn write_line(&mut self, line: &str) {
        if let Err(e) = self.file.write_all(line.as_bytes()) {
            tracing::warn!(
                "Write to notify FIFO {} failed - {}",
                self.path.display(),
                e
            );
        }
    }

    /// The FIFO's reader script with the FIFO path appended.
    pub fn script_call(&self, script: &Script) -> Script {
        let mut s = script.clone();
        s.argv.push(self.path.to_string_lossy().into_owned());
        s
    }
}

impl Drop for Fifo {
    fn drop(&mut self) {
        if self.created {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostic::Span;

    fn sc(argv: &[&str]) -> Script {
        Script {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            text: argv.join(" "),
            user: None,
            group: None,
            span: Span::default(),
        }
    }

    fn argvs(v: Vec<Script>) -> Vec<Vec<String>> {
        v.into_iter().map(|s| s.argv).collect()
    }

    #[test]
    fn specific_then_generic() {
        let n = Notify {
            master: Some(sc(&["/m.sh", "master2"])),
            backup: None,
            fault: Some(sc(&["/f.sh"])),
            stop: None,
            generic: Some(sc(&["/n.sh", "node2"])),
        };
        assert_eq!(
            argvs(notify_calls(
                &n,
                None,
                Who::Instance,
                "VI_1",
                NotifyState::Master,
                100
            )),
            vec![
                vec!["/m.sh", "master2"],
                vec!["/n.sh", "node2", "INSTANCE", "VI_1", "MASTER", "100"]
            ]
        );
        assert_eq!(
            argvs(notify_calls(
                &n,
                None,
                Who::Group,
                "G1",
                NotifyState::Backup,
                100
            )),
            vec![vec!["/n.sh", "node2", "GROUP", "G1", "BACKUP", "0"]]
        );
        let d = sc(&["/d.sh"]);
        assert_eq!(
            argvs(notify_calls(
                &n,
                Some(&d),
                Who::Instance,
                "VI_1",
                NotifyState::Deleted,
                0
            )),
            vec![
                vec!["/d.sh"],
                vec!["/n.sh", "node2", "INSTANCE", "VI_1", "DELETED", "0"]
            ]
        );
        assert!(notify_calls(
            &Notify::default(),
            None,
            Who::Instance,
            "x",
            NotifyState::Stop,
            1
        )
        .is_empty());
    }

    #[test]
    fn fifo_lines() {
        assert_eq!(
            fifo_line(
                Who::Instance,
                "VI_1",
                FifoEvent::State(NotifyState::Master),
                150
            ),
            "INSTANCE \"VI_1\" MASTER 150\n"
        );
        assert_eq!(
            fifo_line(Who::Group, "G1", FifoEvent::State(NotifyState::Backup), 150),
            "GROUP \"G1\" BACKUP 0\n"
        );
        assert_eq!(
            fifo_line(Who::Instance, "VI_1", FifoEvent::MasterRxLowerPri, 150),
            "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150\n"
        );
        assert_eq!(
            fifo_line(Who::Instance, "VI_1", FifoEvent::BackupPriority, 90),
            "INSTANCE \"VI_1\" BACKUP_PRIORITY 90\n"
        );
        assert_eq!(FifoEvent::MasterPriority.as_str(), "MASTER_PRIORITY");
    }
}
