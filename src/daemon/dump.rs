//! Signal-triggered dump files (keepalived-spec.md §2.3): written in `$TMPDIR` if it is
//! set and absolute, else `/tmp`, mode 0600, never through a symlink.
#![forbid(unsafe_code)]

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::PathBuf;

pub const PARENT_DATA: &str = "keepalived_parent.data";
pub const VRRP_DATA: &str = "keepalived.data";
pub const VRRP_STATS: &str = "keepalived.stats";
pub const VRRP_JSON: &str = "keepalived.json";
pub const CHECK_DATA: &str = "keepalived_check.data";

/// The directory dump files go to.
pub fn dir() -> PathBuf {
    match std::env::var_os("TMPDIR").map(PathBuf::from) {
        Some(p) if p.is_absolute() => p,
        _ => PathBuf::from("/tmp"),
    }
}

/// Writes (truncates) a dump file and returns its path.
pub fn write(name: &str, content: &str) -> io::Result<PathBuf> {
    let path = dir().join(name);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)?;
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    f.write_all(content.as_bytes())?;
    Ok(path)
}
