//! Signal-triggered dump files: written in `$TMPDIR` if it is
//! set and absolute, else `/tmp`, mode 0666 less the umask (keepalived's default umask
//! 0177 gives 0600), never through a symlink.
#![forbid(unsafe_code)]

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

pub const PARENT_DATA: &str = "keepalived_parent.data";
pub const VRRP_DATA: &str = "keepalived.data";
pub const VRRP_STATS: &str = "keepalived.stats";
pub const VRRP_JSON: &str = "keepalived.json";
pub const CHECK_DATA: &str = "keepalived_check.data";
pub const BFD_DATA: &str = "keepalived_bfd.data";

/// The directory dump files go to.
pub fn dir() -> PathBuf {
    match std::env::var_os("TMPDIR").map(PathBuf::from) {
        Some(p) if p.is_absolute() => p,
        _ => PathBuf::from("/tmp"),
    }
}

/// Writes a dump file and returns its path. The content goes to a temporary file that is
/// then renamed, so a reader woken by the log line never sees a half-written file.
pub fn write(name: &str, content: &str) -> io::Result<PathBuf> {
    write_in(&dir(), name, content)
}

fn write_in(dir: &Path, name: &str, content: &str) -> io::Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let res = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o666)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        f.write_all(content.as_bytes())?;
        fs::rename(&tmp, &path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res.map(|()| path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    /// This process's umask, without changing it.
    fn umask() -> u32 {
        fs::read_to_string("/proc/self/status")
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("Umask:"))
            .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
            .unwrap()
    }

    #[test]
    fn replaces_a_symlink_instead_of_following_it() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("target");
        fs::write(&target, "keep").unwrap();
        std::os::unix::fs::symlink(&target, d.path().join(VRRP_STATS)).unwrap();
        let p = write_in(d.path(), VRRP_STATS, "stats\n").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "stats\n");
        assert_eq!(fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o666 & !umask()
        );
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 2);
    }
}
