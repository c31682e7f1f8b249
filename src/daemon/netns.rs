//! `net_namespace NAME` / `-s NAME`: keepalived joins `/run/netns/NAME` (as made by
//! `ip netns add`) before it daemonizes, so both children run there.
#![forbid(unsafe_code)]

use std::path::PathBuf;

use nix::sched::{setns, CloneFlags};

/// Where `ip netns` keeps its namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// Joins network namespace `name`; `Err` carries keepalived's log line.
pub fn enter(name: &str) -> Result<(), String> {
    let path = PathBuf::from(NETNS_DIR).join(name);
    let f = std::fs::File::open(&path).map_err(|_| format!("Failed to open {}", path.display()))?;
    setns(&f, CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("setns() failed with error {}", e as i32))
}
