//! Pid files as keepalived writes them: decimal pid and `\n`,
//! mode 0644, opened with O_NOFOLLOW; a file naming a live process means "already running",
//! one naming a dead process is a zombie and is removed.
#![forbid(unsafe_code)]

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// What a pid file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidState {
    /// No file, or nothing usable in it.
    Absent,
    /// Names a process that exists.
    Running(i32),
    /// Names a process that does not exist (or garbage).
    Stale,
}

/// Writes `pid\n` to `path` (0644, not following a symlink), creating the directory.
pub fn write(path: &Path, pid: u32) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            fs::create_dir_all(dir)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
        }
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    // The umask may have cleared bits of the creation mode.
    f.set_permissions(fs::Permissions::from_mode(0o644))?;
    f.write_all(format!("{pid}\n").as_bytes())
}

/// Reads the pid a file holds, if any.
pub fn read(path: &Path) -> Option<i32> {
    let text = fs::read_to_string(path).ok()?;
    text.trim().parse::<i32>().ok().filter(|p| *p > 0)
}

/// True if a process with this pid exists (EPERM means it exists but is not ours).
pub fn alive(pid: i32) -> bool {
    match kill(Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == Errno::EPERM,
    }
}

/// Checks a pid file.
pub fn state(path: &Path) -> PidState {
    if fs::symlink_metadata(path).is_err() {
        return PidState::Absent;
    }
    match read(path) {
        Some(pid) if alive(pid) && pid != std::process::id() as i32 => PidState::Running(pid),
        _ => PidState::Stale,
    }
}

/// Removes a pid file, ignoring a missing one.
pub fn remove(path: &Path) {
    let _ = fs::remove_file(path);
}

/// Removes the file only if it still names `pid` (a respawned child may own it now).
pub fn remove_if_owned(path: &Path, pid: u32) {
    if read(path) == Some(pid as i32) {
        remove(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn write_read_mode() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub/k.pid");
        write(&p, 1234).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "1234\n");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(read(&p), Some(1234));
        write(&p, 5).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "5\n");
    }

    #[test]
    fn refuses_symlink() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("target");
        fs::write(&target, "x").unwrap();
        let p = d.path().join("k.pid");
        symlink(&target, &p).unwrap();
        assert!(write(&p, 1).is_err());
        assert_eq!(fs::read_to_string(&target).unwrap(), "x");
    }

    #[test]
    fn states() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k.pid");
        assert_eq!(state(&p), PidState::Absent);
        // pid 1 always exists.
        write(&p, 1).unwrap();
        assert_eq!(state(&p), PidState::Running(1));
        // Our own pid is not "another keepalived".
        write(&p, std::process::id()).unwrap();
        assert_eq!(state(&p), PidState::Stale);
        fs::write(&p, "garbage\n").unwrap();
        assert_eq!(state(&p), PidState::Stale);
        // A pid above pid_max cannot exist.
        fs::write(&p, "2147483646\n").unwrap();
        assert_eq!(state(&p), PidState::Stale);
        remove_if_owned(&p, 7);
        assert!(p.exists());
        write(&p, 7).unwrap();
        remove_if_owned(&p, 7);
        assert!(!p.exists());
    }
}
