//! `/run/keepalived/status.json` (not in keepalived): what each process is doing, for
//! monitoring without parsing logs. Each process owns one entry of `processes` and
//! rewrites it under an exclusive `flock` on `<file>.lock`; the file is replaced
//! atomically (write to a temporary file, then rename), so readers never see half a file.
//!
//! Shape (version 1):
//! ```json
//! {
//!   "version": 1,
//!   "keepalived": "Keepalived v2.2.7 (01/16,2022)",
//!   "updated": 1763771373.25,
//!   "processes": {
//!     "parent":  {"pid": 10, "state": "running", "started": 1763771370.0,
//!                 "updated": 1763771373.25, "reloads": 0,
//!                 "config_file": "/etc/keepalived/keepalived.conf",
//!                 "detail": {"children": {"vrrp": 11, "checker": 12}}},
//!     "vrrp":    {"pid": 11, "state": "running", ..., "detail": {"instances": ["VI_1"], ...}},
//!     "checker": {"pid": 12, "state": "running", ..., "detail": {"virtual_servers": [...]}}
//!   }
//! }
//! ```
//! `state` is one of `starting`, `running`, `reloading`, `stopping`, `stopped`.
//! `detail` belongs to the process's service and may grow keys.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

/// The default location.
pub const DEFAULT_PATH: &str = "/run/keepalived/status.json";
/// Environment variable overriding the location (tests, unprivileged runs).
pub const ENV_PATH: &str = "KEEPALIVED_STATUS_FILE";

/// The whole file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Status {
    pub version: u32,
    pub keepalived: String,
    pub updated: f64,
    pub processes: BTreeMap<String, ProcessStatus>,
}

/// One process's entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ProcessStatus {
    pub pid: u32,
    pub state: String,
    pub started: f64,
    pub updated: f64,
    pub reloads: u32,
    pub config_file: String,
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// Seconds since the epoch, as a float.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Replaces the entry `name` of the status file at `path`.
pub fn update(path: &Path, name: &str, entry: ProcessStatus) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            fs::create_dir_all(dir)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
        }
    }
    let lock_path = lock_path(path);
    let lock_file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&lock_path)?;
    let _lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, e)| io::Error::from_raw_os_error(e as i32))?;
    let mut status = fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Status>(&b).ok())
        .unwrap_or_else(|| Status {
            version: 1,
            keepalived: String::new(),
            updated: 0.0,
            processes: BTreeMap::new(),
        });
    status.version = 1;
    status.keepalived = super::VERSION_BANNER.to_owned();
    status.updated = entry.updated;
    status.processes.insert(name.to_owned(), entry);
    let text = serde_json::to_string_pretty(&status).map_err(io::Error::other)?;
    let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
    {
        let mut f: File = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&tmp)?;
        // The daemon's umask (0177) must not hide the file from monitoring tools.
        f.set_permissions(fs::Permissions::from_mode(0o644))?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_data()?;
    }
    fs::rename(&tmp, path)
}

fn lock_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

/// Reads the file (for tests and tools).
pub fn read(path: &Path) -> io::Result<Status> {
    let b = fs::read(path)?;
    serde_json::from_slice(&b).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: u32, state: &str) -> ProcessStatus {
        ProcessStatus {
            pid,
            state: state.into(),
            started: 1.5,
            updated: 2.5,
            reloads: 0,
            config_file: "/etc/keepalived/keepalived.conf".into(),
            detail: serde_json::json!({"instances": ["VI_1"]}),
        }
    }

    #[test]
    fn entries_are_merged_and_shape_is_stable() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("run/status.json");
        update(&p, "parent", entry(10, "running")).unwrap();
        update(&p, "vrrp", entry(11, "starting")).unwrap();
        update(&p, "vrrp", entry(11, "running")).unwrap();
        let s = read(&p).unwrap();
        assert_eq!(s.processes.len(), 2);
        assert_eq!(s.processes["vrrp"].state, "running");
        assert_eq!(s.processes["parent"].pid, 10);
        let v: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        assert_eq!(v["version"], 1);
        assert!(v["keepalived"]
            .as_str()
            .unwrap()
            .starts_with("Keepalived v"));
        let keys: Vec<&str> = v["processes"]["vrrp"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "config_file",
                "detail",
                "pid",
                "reloads",
                "started",
                "state",
                "updated"
            ]
        );
        assert_eq!(v["processes"]["vrrp"]["detail"]["instances"][0], "VI_1");
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.iter().all(|n| !n.contains("tmp")), "{names:?}");
    }

    #[test]
    fn garbage_is_replaced() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("status.json");
        fs::write(&p, "{not json").unwrap();
        update(&p, "checker", entry(12, "running")).unwrap();
        assert_eq!(read(&p).unwrap().processes.len(), 1);
    }
}
