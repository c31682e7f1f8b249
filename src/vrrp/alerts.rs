//! The VRRP child's notify runtime: notify scripts of
//! instances and sync groups, the notify FIFOs and their reader scripts, SMTP alerts, and
//! script security at run time.
//!
//! The engine reports events to a [`Sink`]; the service gives it a [`Handle`] on the
//! runtime, installed at start and reload ([`Handle::install`]) and torn down at shutdown
//! ([`Handle::finish`]). The event functions never block: scripts are spawned, FIFO writes
//! are non-blocking and mail goes out from its own task.
//!
//! Order of one event (observed with keepalived 2.2.7): scripts (state script, then the
//! generic `notify`), the FIFO line, then the mail. On a group transition the members
//! notify first, then the group; at start the group's initial state comes first.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tracing::{info, warn};

use crate::config::host::{self, RunAs, Vetting, DEFAULT_SCRIPT_USER};
use crate::config::model::global::NotifyFifo;
use crate::config::model::vrrp::instance::{self as model, Notify};
use crate::config::model::{Config, Script};
use crate::mail::{self, MailConfig, MailGate};
use crate::notify::{self, Fifo, FifoEvent, NotifyState, Who};
use crate::script::{self, refusal, Prepared};

/// How long STOP-time scripts get before their process groups are SIGKILLed.
pub const STOP_BUDGET: Duration = Duration::from_secs(1);

/// A script's program, user and group: what its security verdict depends on.
type ScriptKey = (String, Option<String>, Option<String>);

/// A sync group's notify settings.
#[derive(Debug, Clone)]
struct GroupCfg {
    notify: Notify,
    smtp_alert: bool,
}

/// An open notify FIFO and the pid of its reader script.
#[derive(Debug)]
struct FifoRt {
    conf: NotifyFifo,
    fifo: Fifo,
    reader: Option<i32>,
}

/// Everything the notify machinery needs between events.
#[derive(Debug, Default)]
pub struct Alerts {
    security: bool,
    /// The default script user; `None` when there is none usable.
    default_user: Option<RunAs>,
    /// Scripts already vetted: `None` = refused (logged once).
    vetted: HashMap<ScriptKey, Option<Option<RunAs>>>,
    groups: HashMap<String, GroupCfg>,
    fifos: Vec<FifoRt>,
    mail: Option<MailConfig>,
    no_email_faults: bool,
    gates: HashMap<(&'static str, String), MailGate>,
    /// Some vetted script will run / one of them is insecure (for SECURITY VIOLATION).
    executed: bool,
    insecure_seen: bool,
    /// Process groups of STOP-time scripts still to reap at shutdown.
    stop_pgids: Vec<(i32, tokio::task::JoinHandle<()>)>,
}

/// Where the engine's notify events go: the runtime ([`Handle`]) in the daemon, a
/// recorder in tests.
pub trait Sink {
    /// An instance changed state (or, as MASTER, heard a lower priority).
    fn instance_event(&mut self, cfg: &model::Instance, ev: FifoEvent, priority: u8);
    /// A sync group changed state.
    fn group_event(&mut self, name: &str, state: super::machine::State);
    /// `fifo_write_vrrp_states_on_reload`: a group's unchanged state, on the FIFOs only.
    fn group_fifo_state(&mut self, name: &str, state: super::machine::State);
    /// A standard VRRP MIB notification (`snmp_rfc`); only SNMP hears of it.
    fn rfc_event(&mut self, _ev: &super::rfc_state::Event) {}
}

/// The VRRP child's notify runtime, shared by the service and the engine it feeds; empty
/// before [`Handle::install`] and after [`Handle::finish`] (events are then ignored).
#[derive(Clone, Default)]
pub struct Handle(Rc<RefCell<Option<Alerts>>>);

fn our_ids() -> RunAs {
    RunAs {
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
    }
}

/// The default script user as keepalived resolves it: `script_user`, else
/// `keepalived_script` if it exists, else ourselves — except with script security, where
/// the missing `keepalived_script` leaves no default. Logs keepalived's message when
/// `has_scripts` (observed at start, without -D: `Script user 'keepalived_script' does not
/// exist`).
pub fn default_user(c: &Config, has_scripts: bool) -> Option<RunAs> {
    match script::default_run_as(
        c.global.script_user.as_ref(),
        c.global.enable_script_security,
    ) {
        Ok(Some(r)) => Some(r),
        Ok(None) => {
            if has_scripts {
                info!("Script user '{DEFAULT_SCRIPT_USER}' does not exist");
            }
            Some(our_ids())
        }
        Err(e) => {
            warn!("{e}");
            None
        }
    }
}

impl Alerts {
    /// Builds the runtime from a configuration; `old` keeps FIFOs that did not change and
    /// the mail gates (a reload does not re-send an alert for an unchanged state).
    pub fn new(c: &Config, old: Option<Alerts>) -> Alerts {
        let mut a = Alerts {
            security: c.global.enable_script_security,
            default_user: None,
            no_email_faults: c.global.no_email_faults,
            mail: MailConfig::from_global(&c.global),
            ..Alerts::default()
        };
        let mut old_fifos = Vec::new();
        if let Some(mut o) = old {
            a.gates = std::mem::take(&mut o.gates);
            old_fifos = std::mem::take(&mut o.fifos);
            a.stop_pgids = std::mem::take(&mut o.stop_pgids);
        }
        // Vet every notify script once, as keepalived does when it loads the config, so a
        // refused script is logged at start rather than at each transition.
        let notify_set = |n: &'_ Notify| -> Vec<Script> {
            [&n.master, &n.backup, &n.fault, &n.stop, &n.generic]
                .into_iter()
                .flatten()
                .cloned()
                .collect()
        };
        let mut owned: Vec<Script> = Vec::new();
        for i in &c.vrrp.instances {
            owned.extend(notify_set(&i.notify));
            owned.extend(i.notify_master_rx_lower_pri.iter().cloned());
            owned.extend(i.notify_deleted_script.iter().cloned());
        }
        for g in &c.vrrp.sync_groups {
            owned.extend(notify_set(&g.notify));
            a.groups.insert(
                g.name.clone(),
                GroupCfg {
                    notify: g.notify.clone(),
                    smtp_alert: g.smtp_alert,
                },
            );
        }
        let has_scripts = !owned.is_empty()
            || [&c.global.notify_fifo, &c.global.vrrp_notify_fifo]
                .iter()
                .any(|f| f.path.is_some() && f.script.is_some());
        a.default_user = default_user(c, has_scripts);
        for s in &owned {
            a.prepared(s);
        }
        // FIFOs: `notify_fifo` then `vrrp_notify_fifo`; one path is used once.
        for (nf, what) in [
            (&c.global.notify_fifo, "notify"),
            (&c.global.vrrp_notify_fifo, "vrrp notify"),
        ] {
            let Some(path) = nf.path.as_deref() else {
                continue;
            };
            if a.fifos.iter().any(|f| f.conf.path.as_deref() == Some(path)) {
                info!("notify FIFO {path} has already been specified - ignoring");
                continue;
            }
            if let Some(k) = old_fifos.iter().position(|f| &f.conf == nf) {
                a.fifos.push(old_fifos.swap_remove(k));
                continue;
            }
            if let Some(f) = a.open_fifo(nf, what) {
                a.fifos.push(f);
            }
        }
        for f in old_fifos {
            stop_reader(&f);
        }
        // Observed at start with keepalived 2.2.7 (not only for `-t`).
        if a.executed && !a.security {
            let mut msg = String::from(
                "SECURITY VIOLATION - scripts are being executed but script_security not enabled.",
            );
            if a.insecure_seen {
                msg.push_str(" There are insecure scripts.");
            }
            warn!("{msg}");
        }
        a
    }

    /// Creates/opens one FIFO and starts its reader script.
    fn open_fifo(&mut self, nf: &NotifyFifo, what: &str) -> Option<FifoRt> {
        let path = nf.path.as_deref()?;
        // Owner: the configured user/group, else the default script user (observed:
        // `script_user nobody` gives `prw------- nobody nogroup`).
        let owner = match nf.user.as_deref() {
            Some(u) => host::lookup_user(u, nf.group.as_deref()),
            None => self.default_user,
        }
        .filter(|r| *r != our_ids())
        .map(|r| (r.uid, r.gid));
        let fifo = match Fifo::open(std::path::Path::new(path), owner) {
            Ok(f) => f,
            Err(e) => {
                warn!("Unable to open {what} fifo {path} - errno {e}");
                return None;
            }
        };
        let mut reader = None;
        if let Some(sc) = &nf.script {
            let call = fifo.script_call(sc);
            if let Some(p) = self.prepared(&call) {
                if let Some(mut child) = script::spawn(&p) {
                    reader = child.id().and_then(|id| i32::try_from(id).ok());
                    let what = what.to_owned();
                    tokio::spawn(async move {
                        let _ = child.wait().await;
                        info!("{what} fifo script terminated");
                    });
                }
            }
        }
        Some(FifoRt {
            conf: nf.clone(),
            fifo,
            reader,
        })
    }

    /// The vetted, prepared form of a script, or `None` if keepalived would refuse it
    /// (the refusal is logged the first time). The verdict depends only on the program
    /// and the user, so it is cached by those; the argv is built for each call.
    fn prepared(&mut self, s: &Script) -> Option<Prepared> {
        let prog = s.argv.first().map_or("", String::as_str);
        let key = (prog.to_owned(), s.user.clone(), s.group.clone());
        let run_as = match self.vetted.get(&key) {
            Some(v) => *v,
            None => {
                let v = self.vet(s, prog);
                self.vetted.insert(key, v);
                v
            }
        }?;
        Some(Prepared {
            argv: script::exec_argv(&s.argv),
            run_as: run_as.filter(|r| *r != our_ids()),
        })
    }

    /// `None`: refused (logged); `Some(user)`: may run as `user` (`None`: ourselves).
    fn vet(&mut self, s: &Script, prog: &str) -> Option<Option<RunAs>> {
        let path_var = std::env::var("PATH").unwrap_or_else(|_| String::from("/usr/bin:/bin"));
        let v = host::vet_script(
            s,
            self.default_user,
            self.security,
            &path_var,
            host::lookup_user,
        );
        if let Some(msg) = refusal(prog, &v) {
            warn!("{msg}");
            return None;
        }
        Some(match v {
            Vetting::Run {
                run_as, unsafe_why, ..
            } => {
                self.executed = true;
                if unsafe_why.is_some() {
                    self.insecure_seen = true;
                    warn!("Unsafe permissions found for script '{prog}'.");
                }
                Some(run_as)
            }
            _ => self.default_user,
        })
    }

    /// Runs the scripts of one event; STOP-time scripts are remembered for [`finish`].
    fn run(&mut self, calls: &[Script], stop: bool) {
        for sc in calls {
            let Some(p) = self.prepared(sc) else { continue };
            let Some(mut child) = script::spawn(&p) else {
                continue;
            };
            let pgid = child.id().and_then(|id| i32::try_from(id).ok());
            let reap = tokio::spawn(async move {
                let _ = child.wait().await;
            });
            match pgid {
                Some(pg) if stop => self.stop_pgids.push((pg, reap)),
                _ => {}
            }
        }
    }

    fn write_fifos(&mut self, line: &str) {
        for f in &mut self.fifos {
            f.fifo.write_line(line);
        }
    }

    fn mail(&mut self, who: Who, name: &str, state: NotifyState, enabled: bool) {
        let Some(cfg) = &self.mail else { return };
        // keepalived 2.2.7 sends no STOP mail at shutdown (observed: the process exits
        // before its mail thread runs), so neither do we.
        if !enabled || state == NotifyState::Stop {
            return;
        }
        let gate = self
            .gates
            .entry((who.as_str(), name.to_owned()))
            .or_insert_with(|| MailGate::new(self.no_email_faults));
        if !gate.should_send(state) {
            return;
        }
        let alert = match who {
            Who::Instance => mail::instance_alert(&cfg.router_id, name, state),
            Who::Group => mail::group_alert(&cfg.router_id, name, state),
        };
        drop(mail::spawn_send(cfg.clone(), alert));
    }

    /// An instance changed state (or, as MASTER, heard a lower priority).
    pub fn instance_event(&mut self, cfg: &model::Instance, ev: FifoEvent, priority: u8) {
        match ev {
            FifoEvent::State(state) => {
                let calls = notify::notify_calls(
                    &cfg.notify,
                    cfg.notify_deleted_script.as_ref(),
                    Who::Instance,
                    &cfg.name,
                    state,
                    priority,
                );
                self.run(&calls, state == NotifyState::Stop);
                self.write_fifos(&notify::fifo_line(Who::Instance, &cfg.name, ev, priority));
                self.mail(Who::Instance, &cfg.name, state, cfg.smtp_alert);
            }
            FifoEvent::MasterRxLowerPri => {
                if let Some(sc) = &cfg.notify_master_rx_lower_pri {
                    self.run(std::slice::from_ref(sc), false);
                }
                self.write_fifos(&notify::fifo_line(Who::Instance, &cfg.name, ev, priority));
            }
            FifoEvent::MasterPriority | FifoEvent::BackupPriority => {
                if cfg.notify_priority_changes {
                    self.write_fifos(&notify::fifo_line(Who::Instance, &cfg.name, ev, priority));
                }
            }
        }
    }

    /// A sync group changed state.
    pub fn group_event(&mut self, name: &str, state: NotifyState) {
        let Some(g) = self.groups.get(name).cloned() else {
            return;
        };
        let calls = notify::notify_calls(&g.notify, None, Who::Group, name, state, 0);
        self.run(&calls, state == NotifyState::Stop);
        self.write_fifos(&notify::fifo_line(
            Who::Group,
            name,
            FifoEvent::State(state),
            0,
        ));
        self.mail(Who::Group, name, state, g.smtp_alert);
    }
}

fn stop_reader(f: &FifoRt) {
    if let Some(pid) = f.reader {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGTERM);
    }
}

/// Maps a machine state to its notify spelling (`Init` is never notified).
pub fn notify_state(s: super::machine::State) -> Option<NotifyState> {
    use super::machine::State;
    match s {
        State::Master => Some(NotifyState::Master),
        State::Backup => Some(NotifyState::Backup),
        State::Fault => Some(NotifyState::Fault),
        State::Stop => Some(NotifyState::Stop),
        State::Init => None,
    }
}

impl Sink for Handle {
    fn instance_event(&mut self, cfg: &model::Instance, ev: FifoEvent, priority: u8) {
        if let Ok(mut a) = self.0.try_borrow_mut() {
            if let Some(a) = a.as_mut() {
                a.instance_event(cfg, ev, priority);
            }
        }
    }

    fn group_event(&mut self, name: &str, state: super::machine::State) {
        let Some(state) = notify_state(state) else {
            return;
        };
        if let Ok(mut a) = self.0.try_borrow_mut() {
            if let Some(a) = a.as_mut() {
                a.group_event(name, state);
            }
        }
    }

    fn group_fifo_state(&mut self, name: &str, state: super::machine::State) {
        let Some(state) = notify_state(state) else {
            return;
        };
        let line = notify::fifo_line(Who::Group, name, FifoEvent::State(state), 0);
        if let Ok(mut a) = self.0.try_borrow_mut() {
            if let Some(a) = a.as_mut() {
                a.write_fifos(&line);
            }
        }
    }
}

impl Handle {
    /// Installs (or, at reload, replaces) the runtime for a configuration.
    pub fn install(&self, c: &Config) {
        let old = self.0.borrow_mut().take();
        let new = Alerts::new(c, old);
        *self.0.borrow_mut() = Some(new);
    }

    /// At shutdown: gives STOP-time scripts [`STOP_BUDGET`] to finish, SIGKILLs the process
    /// groups of those still running, stops the FIFO readers and closes (and removes, if
    /// ours) the FIFOs.
    pub async fn finish(&self) {
        let Some(mut a) = self.0.borrow_mut().take() else {
            return;
        };
        let pending = std::mem::take(&mut a.stop_pgids);
        let deadline = tokio::time::Instant::now() + STOP_BUDGET;
        for (pg, mut reap) in pending {
            if tokio::time::timeout_at(deadline, &mut reap).await.is_err() {
                let _ = killpg(Pid::from_raw(pg), Signal::SIGKILL);
                let _ = tokio::time::timeout(Duration::from_millis(200), reap).await;
            }
        }
        for f in &a.fifos {
            stop_reader(f);
        }
        drop(a);
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

    #[test]
    fn refusals_use_keepalived_wording() {
        assert_eq!(
            refusal("/x.sh", &Vetting::Insecure("w".into())).as_deref(),
            Some("Unsafe permissions found for script '/x.sh' - disabling.")
        );
        assert_eq!(
            refusal("/x.sh", &Vetting::NoUser("u".into())).as_deref(),
            Some("Unable to set uid/gid for script '/x.sh'")
        );
        assert_eq!(
            refusal("/x.sh", &Vetting::NotFound).as_deref(),
            Some("check_script_secure could not find script '/x.sh' - disabling")
        );
        assert!(refusal("</dev/tcp/x/1", &Vetting::Redirect).is_none());
    }

    #[test]
    fn vetting_caches_and_refuses_missing_scripts() {
        let mut a = Alerts {
            default_user: Some(our_ids()),
            security: true,
            ..Alerts::default()
        };
        assert!(a.prepared(&sc(&["/nonexistent/notify.sh"])).is_none());
        assert_eq!(a.vetted.len(), 1);
        let p = a.prepared(&sc(&["/bin/true", "x"]));
        assert_eq!(
            p.map(|p| p.argv),
            Some(vec!["/bin/true".to_owned(), "x".to_owned()])
        );
        let mut none = Alerts::default();
        assert!(none.prepared(&sc(&["/bin/true"])).is_none());
    }

    #[test]
    fn states_map_to_notify_spelling() {
        use super::super::machine::State;
        assert_eq!(notify_state(State::Master), Some(NotifyState::Master));
        assert_eq!(notify_state(State::Stop), Some(NotifyState::Stop));
        assert_eq!(notify_state(State::Init), None);
    }
}
