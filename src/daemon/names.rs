//! File names and syslog idents that depend on `instance NAME`, `net_namespace NAME`
//! (or `-s NAME`) and `use_pid_dir`, as keepalived
//! 2.2.7 was observed to use them:
//!
//! ```text
//!                  nothing           instance I                   net_namespace N + instance I
//! pid files        /run/keepalived.pid /run/keepalived/keepalived_I.pid /run/keepalived/N/keepalived_I.pid
//! idents           Keepalived_vrrp   Keepalived_vrrp_I            Keepalived_vrrp_N_I
//! data_use_instance dumps            keepalived.I.data            keepalived.N_I.data
//! ```
//!
//! `use_pid_dir` alone moves the pid files to `/run/keepalived/`. `keepalived.stats` and
//! `keepalived.json` keep their names.
#![forbid(unsafe_code)]

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// Where pid files go without `use_pid_dir`.
pub const RUN_DIR: &str = "/run";
/// keepalived's pid directory (`/run/keepalived`).
pub const PID_DIR: &str = "/run/keepalived";

/// The root keywords (and `-s`) that name this keepalived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub namespace: Option<String>,
    pub instance: Option<String>,
    pub use_pid_dir: bool,
    /// `data_use_instance` (global_defs): dump file names carry the names too.
    pub data_use_instance: bool,
}

impl Names {
    /// `_N_I`, `_N`, `_I` or nothing.
    fn suffix(&self) -> String {
        let mut s = String::new();
        for part in [&self.namespace, &self.instance].into_iter().flatten() {
            s.push('_');
            s.push_str(part);
        }
        s
    }

    /// Whether anything changes the idents (keepalived then logs `Changing syslog ident`).
    pub fn named(&self) -> bool {
        self.namespace.is_some() || self.instance.is_some()
    }

    /// `Keepalived_vrrp` -> `Keepalived_vrrp_N_I`.
    pub fn ident(&self, base: &str) -> String {
        format!("{base}{}", self.suffix())
    }

    /// The directory of the pid files not given on the command line.
    pub fn pid_dir(&self) -> PathBuf {
        if !(self.use_pid_dir || self.named()) {
            return PathBuf::from(RUN_DIR);
        }
        let mut d = PathBuf::from(PID_DIR);
        if let Some(ns) = &self.namespace {
            d.push(ns);
        }
        d
    }

    /// `keepalived` -> `<pid_dir>/keepalived_I.pid`.
    pub fn pid_file(&self, stem: &str) -> PathBuf {
        let name = match &self.instance {
            Some(i) => format!("{stem}_{i}.pid"),
            None => format!("{stem}.pid"),
        };
        self.pid_dir().join(name)
    }

    /// `keepalived.data` -> `keepalived.N_I.data` with `data_use_instance`.
    pub fn data_file(&self, name: &str) -> String {
        let parts: Vec<&str> = [&self.namespace, &self.instance]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .collect();
        if !self.data_use_instance || parts.is_empty() {
            return name.to_owned();
        }
        let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
        format!("{stem}.{}.{ext}", parts.join("_"))
    }

    /// Our status file (keepalived has none): one per named keepalived, beside the pid
    /// directory so that a namespace's directory can still be removed when empty.
    pub fn status_file(&self) -> PathBuf {
        PathBuf::from(PID_DIR).join(format!("status{}.json", self.suffix()))
    }

    /// Creates the pid directory (0755, as keepalived) if pid files go there.
    pub fn create_pid_dir(&self) -> io::Result<()> {
        if self.pid_dir() == Path::new(RUN_DIR) {
            return Ok(());
        }
        for d in [PathBuf::from(PID_DIR), self.pid_dir()] {
            match fs::create_dir(&d) {
                Ok(()) => fs::set_permissions(&d, fs::Permissions::from_mode(0o755))?,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// At exit keepalived removes its pid directories if they are empty.
    pub fn remove_pid_dir(&self) {
        if self.pid_dir() == Path::new(RUN_DIR) {
            return;
        }
        let _ = fs::remove_dir(self.pid_dir());
        let _ = fs::remove_dir(PID_DIR);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(ns: Option<&str>, inst: Option<&str>, data: bool) -> Names {
        Names {
            namespace: ns.map(str::to_owned),
            instance: inst.map(str::to_owned),
            use_pid_dir: false,
            data_use_instance: data,
        }
    }

    #[test]
    fn observed_keepalived_names() {
        let plain = names(None, None, true);
        assert_eq!(plain.pid_file("vrrp"), Path::new("/run/vrrp.pid"));
        assert_eq!(plain.ident("Keepalived_vrrp"), "Keepalived_vrrp");
        assert_eq!(plain.data_file("keepalived.data"), "keepalived.data");
        assert!(!plain.named());

        let pid_dir = Names {
            use_pid_dir: true,
            ..Names::default()
        };
        assert_eq!(
            pid_dir.pid_file("keepalived"),
            Path::new("/run/keepalived/keepalived.pid")
        );

        let i = names(None, Some("I2"), true);
        assert_eq!(
            i.pid_file("keepalived"),
            Path::new("/run/keepalived/keepalived_I2.pid")
        );
        assert_eq!(i.ident("Keepalived"), "Keepalived_I2");
        assert_eq!(i.data_file("keepalived.data"), "keepalived.I2.data");
        assert_eq!(
            i.data_file("keepalived_parent.data"),
            "keepalived_parent.I2.data"
        );

        let n = names(Some("ns1"), None, false);
        assert_eq!(
            n.pid_file("vrrp"),
            Path::new("/run/keepalived/ns1/vrrp.pid")
        );
        assert_eq!(n.ident("Keepalived_vrrp"), "Keepalived_vrrp_ns1");
        assert_eq!(n.data_file("keepalived.data"), "keepalived.data");

        let ni = names(Some("ns1"), Some("I1"), true);
        assert_eq!(
            ni.pid_file("checkers"),
            Path::new("/run/keepalived/ns1/checkers_I1.pid")
        );
        assert_eq!(
            ni.ident("Keepalived_healthcheckers"),
            "Keepalived_healthcheckers_ns1_I1"
        );
        assert_eq!(ni.data_file("keepalived.data"), "keepalived.ns1_I1.data");
        assert_eq!(
            ni.status_file(),
            Path::new("/run/keepalived/status_ns1_I1.json")
        );
    }
}
