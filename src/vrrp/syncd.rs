//! The IPVS connection-sync daemon that follows a VRRP instance (`lvs_sync_daemon IF inst
//! VI`, or the deprecated `lvs_sync_daemon_interface IF` inside `VI`: the VRRP child runs the master daemon while VI is MASTER and the backup daemon
//! otherwise, stopping the other one at each change, and stops the running one at shutdown.
//! Without an instance the checker runs both (`src/check/service.rs`).
//!
//! keepalived 2.2.7, observed in the IPVS test VM: the backup daemon starts when the
//! instance enters BACKUP at startup; the sync id is the `id`, else the VRID (global form)
//! or 0 (per-instance form); an unknown instance clears the setting with
//! `Unable to find vrrp instance VI for lvs_syncd - clearing lvs_syncd config`.

use crate::config::model::Config;
use crate::ipvs::sync::{daemon_of, with_state};
use crate::ipvs::{DaemonState, SyncDaemon};

use super::machine::State;

/// Which daemon keepalived starts (stopping the other) when the linked instance goes from
/// `before` (None: not seen yet, i.e. startup) to `after`; None leaves the daemons as they
/// are (BACKUP <-> FAULT, or no change).
pub fn transition(before: Option<State>, after: State) -> Option<DaemonState> {
    match (before, after) {
        (Some(State::Master), State::Master) => None,
        (_, State::Master) => Some(DaemonState::Master),
        // vrrp_state_leave_master
        (Some(State::Master), State::Backup | State::Fault) => Some(DaemonState::Backup),
        // vrrp_init_state
        (None | Some(State::Init), State::Backup | State::Fault) => Some(DaemonState::Backup),
        _ => None,
    }
}

/// The other role.
pub fn other(s: DaemonState) -> DaemonState {
    match s {
        DaemonState::Master => DaemonState::Backup,
        DaemonState::Backup => DaemonState::Master,
    }
}

/// A daemon command for the I/O task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncdOp {
    Start(SyncDaemon),
    /// Stops the daemon with that role; `quiet`: errors are not logged (keepalived's
    /// `ignore_error`).
    Stop(SyncDaemon, bool),
}

/// The instance the daemon follows and the daemon's settings (`state` is set per command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub instance: String,
    pub daemon: SyncDaemon,
}

/// Resolves the configured link: the global `lvs_sync_daemon` naming an instance, else the
/// first instance with `lvs_sync_daemon_interface`. Err: the log line for an instance that
/// does not exist. A global `lvs_sync_daemon` without an instance belongs to the checker
/// (and makes keepalived ignore `lvs_sync_daemon_interface`, parsed after it).
pub fn link_of(c: &Config) -> Result<Option<Link>, String> {
    if let Some(g) = &c.global.lvs_sync_daemon {
        let Some(name) = &g.vrrp_instance else {
            return Ok(None);
        };
        let Some(vrid) = c
            .vrrp
            .instances
            .iter()
            .find(|i| &i.name == name)
            .map(|i| i.vrid.unwrap_or(0))
        else {
            return Err(format!(
                "Unable to find vrrp instance {name} for lvs_syncd - clearing lvs_syncd config"
            ));
        };
        return Ok(Some(Link {
            instance: name.clone(),
            daemon: daemon_of(g, g.sync_id.unwrap_or(vrid)),
        }));
    }
    Ok(c.vrrp.instances.iter().find_map(|i| {
        i.lvs_sync_daemon_interface.as_ref().map(|ifname| Link {
            instance: i.name.clone(),
            daemon: SyncDaemon::new(DaemonState::Backup, ifname, 0),
        })
    }))
}

/// The run-time side: what the instance was last seen in and whether we stopped for good.
#[derive(Debug)]
pub struct Syncd {
    pub link: Link,
    seen: Option<State>,
    /// The role started last (what runs, as far as we know).
    running: Option<DaemonState>,
    stopped: bool,
}

impl Syncd {
    pub fn new(link: Link) -> Self {
        Syncd {
            link,
            seen: None,
            running: None,
            stopped: false,
        }
    }

    /// The commands for the instance's current state (ipvs_syncd_master/backup).
    pub fn step(&mut self, state: State) -> Vec<SyncdOp> {
        if self.stopped {
            return Vec::new();
        }
        let before = self.seen.replace(state);
        let Some(start) = transition(before, state) else {
            return Vec::new();
        };
        self.running = Some(start);
        vec![
            SyncdOp::Stop(with_state(&self.link.daemon, other(start)), false),
            SyncdOp::Start(with_state(&self.link.daemon, start)),
        ]
    }

    /// At shutdown: stops the daemon of the instance's current state (errors ignored), and
    /// nothing more afterwards.
    pub fn stop(&mut self, state: State) -> Vec<SyncdOp> {
        if self.stopped {
            return Vec::new();
        }
        self.stopped = true;
        let role = if state == State::Master {
            DaemonState::Master
        } else {
            DaemonState::Backup
        };
        vec![SyncdOp::Stop(with_state(&self.link.daemon, role), true)]
    }

    /// Stops whatever we started (a reload that drops or changes the link).
    pub fn release(&mut self) -> Vec<SyncdOp> {
        self.stopped = true;
        self.running
            .take()
            .map(|r| SyncdOp::Stop(with_state(&self.link.daemon, r), true))
            .into_iter()
            .collect()
    }
}

/// keepalived's startup clean-up of daemons left by a crash: both stopped, errors ignored.
pub fn stop_both() -> Vec<SyncdOp> {
    [DaemonState::Master, DaemonState::Backup]
        .into_iter()
        .map(|s| SyncdOp::Stop(SyncDaemon::new(s, "", 0), true))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use DaemonState::{Backup as B, Master as M};

    #[test]
    fn transitions_follow_keepalived() {
        // startup: BACKUP (init) starts the backup daemon
        assert_eq!(transition(None, State::Backup), Some(B));
        assert_eq!(transition(Some(State::Init), State::Backup), Some(B));
        assert_eq!(transition(None, State::Fault), Some(B));
        assert_eq!(transition(None, State::Init), None);
        // becoming MASTER from anything
        for b in [
            None,
            Some(State::Init),
            Some(State::Backup),
            Some(State::Fault),
        ] {
            assert_eq!(transition(b, State::Master), Some(M), "{b:?}");
        }
        // leaving MASTER
        assert_eq!(transition(Some(State::Master), State::Backup), Some(B));
        assert_eq!(transition(Some(State::Master), State::Fault), Some(B));
        // nothing else changes the daemons
        assert_eq!(transition(Some(State::Master), State::Master), None);
        assert_eq!(transition(Some(State::Backup), State::Backup), None);
        assert_eq!(transition(Some(State::Backup), State::Fault), None);
        assert_eq!(transition(Some(State::Fault), State::Backup), None);
        assert_eq!(transition(Some(State::Master), State::Stop), None);
    }

    fn link() -> Link {
        Link {
            instance: "VI_1".into(),
            daemon: SyncDaemon::new(B, "eth0", 51),
        }
    }

    fn d(s: DaemonState) -> SyncDaemon {
        SyncDaemon::new(s, "eth0", 51)
    }

    #[test]
    fn steps_stop_the_other_then_start() {
        let mut s = Syncd::new(link());
        assert_eq!(
            s.step(State::Backup),
            vec![SyncdOp::Stop(d(M), false), SyncdOp::Start(d(B))]
        );
        assert!(s.step(State::Backup).is_empty());
        assert_eq!(
            s.step(State::Master),
            vec![SyncdOp::Stop(d(B), false), SyncdOp::Start(d(M))]
        );
        assert!(s.step(State::Master).is_empty());
        assert_eq!(
            s.step(State::Backup),
            vec![SyncdOp::Stop(d(M), false), SyncdOp::Start(d(B))]
        );
        assert!(s.step(State::Fault).is_empty());
    }

    #[test]
    fn stop_is_final() {
        let mut s = Syncd::new(link());
        s.step(State::Master);
        assert_eq!(s.stop(State::Master), vec![SyncdOp::Stop(d(M), true)]);
        // the shutdown's own MASTER -> STOP change starts nothing
        assert!(s.step(State::Backup).is_empty());
        assert!(s.stop(State::Backup).is_empty());
        let mut s = Syncd::new(link());
        s.step(State::Backup);
        assert_eq!(s.stop(State::Backup), vec![SyncdOp::Stop(d(B), true)]);
    }

    #[test]
    fn release_stops_what_runs() {
        let mut s = Syncd::new(link());
        assert!(s.release().is_empty());
        let mut s = Syncd::new(link());
        s.step(State::Master);
        assert_eq!(s.release(), vec![SyncdOp::Stop(d(M), true)]);
        assert!(s.step(State::Backup).is_empty());
    }

    fn config(text: &str) -> Config {
        crate::config::load_str(
            text,
            std::path::Path::new("/t.conf"),
            &crate::config::LoadOptions::default(),
        )
        .config
    }

    #[test]
    fn link_resolution() {
        let inst = "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 51\n priority 100\n virtual_ipaddress { 192.0.2.100 }\n";
        let c = config(&format!(
            "global_defs {{\n lvs_sync_daemon eth1 inst VI_1 maxlen 1000 port 8849 ttl 3 group 224.0.0.82\n}}\n{inst}}}\n"
        ));
        let l = link_of(&c).expect("found").expect("linked");
        assert_eq!(l.instance, "VI_1");
        let mut want = SyncDaemon::new(B, "eth1", 51);
        want.sync_maxlen = Some(1000);
        want.mcast_port = Some(8849);
        want.mcast_ttl = Some(3);
        want.mcast_group = Some("224.0.0.82".parse().expect("ip"));
        assert_eq!(l.daemon, want);
        let c = config(&format!(
            "global_defs {{\n lvs_sync_daemon eth1 VI_1 id 7\n}}\n{inst}}}\n"
        ));
        assert_eq!(link_of(&c).expect("ok").expect("linked").daemon.sync_id, 7);
        // no instance: the checker's
        let c = config(&format!(
            "global_defs {{\n lvs_sync_daemon eth1\n}}\n{inst} lvs_sync_daemon_interface eth2\n}}\n"
        ));
        assert_eq!(link_of(&c), Ok(None));
        let c = config(&format!(
            "global_defs {{\n lvs_sync_daemon eth1 inst NOPE\n}}\n{inst}}}\n"
        ));
        assert_eq!(
            link_of(&c),
            Err(
                "Unable to find vrrp instance NOPE for lvs_syncd - clearing lvs_syncd config"
                    .into()
            )
        );
        // the deprecated form: sync id 0 (observed)
        let c = config(&format!("{inst} lvs_sync_daemon_interface eth2\n}}\n"));
        let l = link_of(&c).expect("ok").expect("linked");
        assert_eq!(l.instance, "VI_1");
        assert_eq!(l.daemon, SyncDaemon::new(B, "eth2", 0));
        let c = config(&format!("{inst}}}\n"));
        assert_eq!(link_of(&c), Ok(None));
    }
}
