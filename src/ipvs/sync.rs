//! The IPVS connection-sync daemon as `lvs_sync_daemon` configures it; the VRRP child
//! starts and stops it with an instance's state, the checker at start and shutdown.

use super::{DaemonState, SyncDaemon};
use crate::config::model::global::LvsSyncDaemon;

/// The kernel daemon for `lvs_sync_daemon` with sync id `id` (role: backup until set).
pub fn daemon_of(g: &LvsSyncDaemon, id: u8) -> SyncDaemon {
    let mut d = SyncDaemon::new(DaemonState::Backup, &g.interface, u32::from(id));
    d.sync_maxlen = g.maxlen;
    d.mcast_port = g.port;
    d.mcast_ttl = g.ttl;
    d.mcast_group = g.group;
    d
}

/// `d` with role `s`.
pub fn with_state(d: &SyncDaemon, s: DaemonState) -> SyncDaemon {
    let mut d = d.clone();
    d.state = s;
    d
}
