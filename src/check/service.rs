//! The checker child's [`Service`]: creates the IPVS virtual
//! services, runs the checkers on the [`Manager`]'s schedule, feeds their results back and
//! performs what it decides (IPVS operations, logs, notify scripts, FIFO lines, mails).
//! Reload diffs the configuration and keeps what still exists; shutdown removes
//! exactly what we added (unless `-I`).
//!
//! The pure parts are [`services_of`] (a virtual server's kernel services), [`plan_reload`]
//! (which virtual and real servers survive a reload) and [`Table`] (what we installed, over
//! any [`Kernel`]). Everything else runs on the child's current-thread runtime; the shared
//! [`Core`] sits in a `RefCell` never borrowed across an `.await`.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::rc::Rc;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::autofw::AutoMarks;
use super::dispatch::{self, Env};
use super::manager::{timed, CheckerId, Globals, Instant, IpvsOp, Manager, Output};
use crate::config::host::RunAs;
use crate::config::model::check::{
    self as model, CheckConfig, Granularity, VirtualServer, VsAddr, VsgEntry,
};
use crate::config::model::global::{GlobalDefs, LvsFlushOnStop};
use crate::config::model::Script;
use crate::ipvs::msg::{
    IP_VS_SVC_F_ONEPACKET, IP_VS_SVC_F_PERSISTENT, IP_VS_SVC_F_SCHED1, IP_VS_SVC_F_SCHED2,
    IP_VS_SVC_F_SCHED3,
};
use crate::ipvs::{
    DaemonState, Dest, Family, Ipvs, IpvsError, Protocol, Service as IpvsService, SyncDaemon,
    Timeouts,
};
use crate::mail::MailConfig;
use crate::net::nft::ipvs::{IpvsFirewall, IpvsFwConfig};
use crate::notify::Fifo;
use crate::service::{ChildConfig, Service, ServiceError};

/// Concurrent checks (keepalived has no limit but its file descriptors).
const MAX_RUNNING: usize = 256;
/// The largest address range a `virtual_server_group` line expands to.
const MAX_RANGE: u128 = 256;

// ------------------------------------------------------------------ pure parts

/// The IPVS operations the service needs; [`Ipvs`] implements it, tests use a fake.
pub trait Kernel {
    fn add_service(&mut self, s: &IpvsService) -> Result<(), IpvsError>;
    fn edit_service(&mut self, s: &IpvsService) -> Result<(), IpvsError>;
    fn del_service(&mut self, s: &IpvsService) -> Result<(), IpvsError>;
    fn add_dest(&mut self, s: &IpvsService, d: &Dest) -> Result<(), IpvsError>;
    fn edit_dest(&mut self, s: &IpvsService, d: &Dest) -> Result<(), IpvsError>;
    fn del_dest(&mut self, s: &IpvsService, d: &Dest) -> Result<(), IpvsError>;
}

impl Kernel for Ipvs {
    fn add_service(&mut self, s: &IpvsService) -> Result<(), IpvsError> {
        Ipvs::add_service(self, s)
    }
    fn edit_service(&mut self, s: &IpvsService) -> Result<(), IpvsError> {
        Ipvs::edit_service(self, s)
    }
    fn del_service(&mut self, s: &IpvsService) -> Result<(), IpvsError> {
        Ipvs::del_service(self, s)
    }
    fn add_dest(&mut self, s: &IpvsService, d: &Dest) -> Result<(), IpvsError> {
        Ipvs::add_dest(self, s, d)
    }
    fn edit_dest(&mut self, s: &IpvsService, d: &Dest) -> Result<(), IpvsError> {
        Ipvs::edit_dest(self, s, d)
    }
    fn del_dest(&mut self, s: &IpvsService, d: &Dest) -> Result<(), IpvsError> {
        Ipvs::del_dest(self, s, d)
    }
}

/// No IPVS (no virtual server configured yet): every command fails.
fn absent() -> IpvsError {
    IpvsError::Init("IPVS is not initialised".to_owned())
}

impl Kernel for Option<Ipvs> {
    fn add_service(&mut self, s: &IpvsService) -> Result<(), IpvsError> {
        self.as_mut().ok_or_else(absent)?.add_service(s)
    }
    fn edit_service(&mut self, s: &IpvsService) -> Result<(), IpvsError> {
        self.as_mut().ok_or_else(absent)?.edit_service(s)
    }
    fn del_service(&mut self, s: &IpvsService) -> Result<(), IpvsError> {
        self.as_mut().ok_or_else(absent)?.del_service(s)
    }
    fn add_dest(&mut self, s: &IpvsService, d: &Dest) -> Result<(), IpvsError> {
        Kernel::add_dest(self.as_mut().ok_or_else(absent)?, s, d)
    }
    fn edit_dest(&mut self, s: &IpvsService, d: &Dest) -> Result<(), IpvsError> {
        Kernel::edit_dest(self.as_mut().ok_or_else(absent)?, s, d)
    }
    fn del_dest(&mut self, s: &IpvsService, d: &Dest) -> Result<(), IpvsError> {
        Kernel::del_dest(self.as_mut().ok_or_else(absent)?, s, d)
    }
}

fn proto_of(p: Option<model::Protocol>) -> Protocol {
    match p {
        Some(model::Protocol::Udp) => Protocol::Udp,
        Some(model::Protocol::Sctp) => Protocol::Sctp,
        _ => Protocol::Tcp,
    }
}

fn family_of(f: model::Family) -> Family {
    match f {
        model::Family::Inet => Family::Inet,
        model::Family::Inet6 => Family::Inet6,
    }
}

/// The addresses `first..=last` (at most [`MAX_RANGE`]; a reversed or mixed range is just
/// `first`).
fn range(first: IpAddr, last: IpAddr) -> Vec<IpAddr> {
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let (a, b) = (u32::from(a), u32::from(b));
            let n = u128::from(b.saturating_sub(a)).min(MAX_RANGE - 1) as u32;
            (0..=n)
                .map(|i| IpAddr::V4(a.saturating_add(i).into()))
                .collect()
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let (a, b) = (u128::from(a), u128::from(b));
            let n = b.saturating_sub(a).min(MAX_RANGE - 1);
            (0..=n)
                .map(|i| IpAddr::V6(a.saturating_add(i).into()))
                .collect()
        }
        _ => vec![first],
    }
}

/// The kernel services of a virtual server: one, or one per group entry address or fwmark
/// with the scheduler, flags and persistence of the configuration.
pub fn services_of(vs: &VirtualServer, cfg: &CheckConfig) -> Vec<IpvsService> {
    services_with(vs, cfg, None)
}

/// [`services_of`], with `auto` the `nftables_ipvs` mark of a group virtual server: then its
/// address entries become one fwmark service per family (IPv4 first), as keepalived's.
pub fn services_with(vs: &VirtualServer, cfg: &CheckConfig, auto: Option<u32>) -> Vec<IpvsService> {
    let sched = vs.scheduler.map_or("wlc", |s| s.name());
    let proto = proto_of(vs.protocol);
    // a fwmark service takes its family from ip_family, else its real servers
    let fw_family = vs
        .family
        .or_else(|| vs.real_servers.first().map(|r| model::Family::of(&r.ip)))
        .unwrap_or(model::Family::Inet);
    let mut v = match &vs.addr {
        VsAddr::Addr { ip, port } => vec![IpvsService::new(proto, *ip, *port, sched)],
        VsAddr::Fwmark(m) => vec![IpvsService::fwmark(family_of(fw_family), *m, sched)],
        VsAddr::Group(name) => cfg
            .group(name)
            .map(|g| {
                let mut marked: Vec<IpvsService> = Vec::new();
                if let Some(m) = auto {
                    for fam in [model::Family::Inet, model::Family::Inet6] {
                        let has = g.entries.iter().any(|e| {
                            matches!(e, VsgEntry::Addrs { first, .. } if model::Family::of(first) == fam)
                        });
                        if has {
                            marked.push(IpvsService::fwmark(family_of(fam), m, sched));
                        }
                    }
                }
                marked
                    .into_iter()
                    .chain(g.entries.iter().flat_map(|e| match e {
                        VsgEntry::Addrs { .. } if auto.is_some() => Vec::new(),
                        VsgEntry::Addrs { first, last, port } => range(*first, *last)
                            .into_iter()
                            .map(|a| IpvsService::new(proto, a, *port, sched))
                            .collect::<Vec<_>>(),
                        VsgEntry::Fwmark { mark, family } => vec![IpvsService::fwmark(
                            family_of(family.unwrap_or(fw_family)),
                            *mark,
                            sched,
                        )],
                    }))
                    .collect()
            })
            .unwrap_or_default(),
    };
    for s in &mut v {
        // the granularity and the engine go with persistence only (keepalived's
        // ipvs_set_srule)
        if vs.persistence_timeout > 0 {
            s.flags |= IP_VS_SVC_F_PERSISTENT;
            s.timeout = vs.persistence_timeout;
            match (vs.persistence_granularity, s.af) {
                (Some(Granularity::Netmask(m)), Family::Inet) => s.netmask = u32::from(m),
                (Some(Granularity::Prefix(p)), Family::Inet6) => s.netmask = u32::from(p),
                _ => {}
            }
            s.pe_name = vs.persistence_engine.clone();
        }
        let f = &vs.flags;
        for (on, bit) in [
            (f.one_packet, IP_VS_SVC_F_ONEPACKET),
            (f.sched1, IP_VS_SVC_F_SCHED1),
            (f.sched2, IP_VS_SVC_F_SCHED2),
            (f.sched3, IP_VS_SVC_F_SCHED3),
        ] {
            if on {
                s.flags |= bit;
            }
        }
    }
    v
}

/// The identity of a virtual server across a reload: its address and protocol.
/// keepalived's `WHAT healthchecker for service RS for VS X`, one line per timed checker.
fn log_per_checker(vs: &VirtualServer, what: &str) {
    for rs in &vs.real_servers {
        for _ in rs.checkers.iter().filter(|c| timed(&c.kind)) {
            info!(
                "{what} healthchecker for service {} for VS {}",
                vs.rs_display(rs),
                vs.display()
            );
        }
    }
}

fn vs_key(vs: &VirtualServer) -> (&VsAddr, Option<model::Protocol>) {
    (&vs.addr, vs.protocol)
}

/// What survives a reload: `vs` pairs (new index, old index) and `rs` pairs
/// ((new vs, new rs), (old vs, old rs)) of real servers whose checkers did not change.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    pub vs: Vec<(usize, usize)>,
    pub rs: Vec<((usize, usize), (usize, usize))>,
}

pub fn plan_reload(old: &CheckConfig, new: &CheckConfig) -> ReloadPlan {
    let mut plan = ReloadPlan::default();
    for (nv, nvs) in new.virtual_servers.iter().enumerate() {
        let Some(ov) = old
            .virtual_servers
            .iter()
            .position(|o| vs_key(o) == vs_key(nvs))
        else {
            continue;
        };
        plan.vs.push((nv, ov));
        let Some(ovs) = old.virtual_servers.get(ov) else {
            continue;
        };
        for (nr, nrs) in nvs.real_servers.iter().enumerate() {
            let found = ovs.real_servers.iter().position(|o| {
                o.ip == nrs.ip
                    && o.port == nrs.port
                    && o.checkers == nrs.checkers
                    && o.inhibit_on_failure == nrs.inhibit_on_failure
            });
            if let Some(or) = found {
                plan.rs.push(((nv, nr), (ov, or)));
            }
        }
    }
    plan
}

#[derive(Debug, Clone)]
struct Installed {
    svc: IpvsService,
    /// How logs name the virtual server and its real servers' protocol.
    vs_name: String,
    rs_proto: Option<model::Protocol>,
    dests: Vec<Dest>,
}

/// What we installed in IPVS (services and destinations), so that reload and shutdown
/// touch nothing else. `EEXIST` on add and `ENOENT` on delete are not errors.
#[derive(Debug, Default)]
pub struct Table {
    svcs: Vec<Installed>,
}

fn same_svc(a: &IpvsService, b: &IpvsService) -> bool {
    a.af == b.af && a.key == b.key
}

fn same_dest(a: &Dest, b: &Dest) -> bool {
    a.addr == b.addr && a.port == b.port
}

fn ok_or(r: Result<(), IpvsError>, tolerated: i32, log: &mut Vec<String>) -> bool {
    match r {
        Ok(()) => true,
        Err(e) if e.errno() == Some(tolerated) => true,
        Err(e) => {
            log.push(e.to_string());
            false
        }
    }
}

impl Table {
    /// The services we installed, with their destinations.
    pub fn entries(&self) -> impl Iterator<Item = (&IpvsService, &[Dest])> {
        self.svcs.iter().map(|i| (&i.svc, i.dests.as_slice()))
    }

    /// Makes the installed services exactly `want` (service, VS name, RS protocol):
    /// removes the others (with their destinations), edits changed ones, adds new ones.
    pub fn sync_services(
        &mut self,
        k: &mut impl Kernel,
        want: &[(IpvsService, String, Option<model::Protocol>)],
        log: &mut Vec<String>,
    ) {
        let mut kept = Vec::new();
        for i in std::mem::take(&mut self.svcs) {
            if want.iter().any(|(s, ..)| same_svc(s, &i.svc)) {
                kept.push(i);
            } else {
                // a removed virtual server is Manager::reload_removals' line; this is a
                // service its (group) virtual server no longer has
                if want.iter().any(|(_, n, _)| *n == i.vs_name) {
                    log.push(format!("Removing Virtual Server {}", i.vs_name));
                }
                ok_or(k.del_service(&i.svc), libc::ENOENT, log);
            }
        }
        for (s, name, proto) in want {
            match kept.iter_mut().find(|i| same_svc(&i.svc, s)) {
                Some(i) => {
                    if i.svc != *s && ok_or(k.edit_service(s), 0, log) {
                        i.svc = s.clone();
                    }
                    i.vs_name.clone_from(name);
                    i.rs_proto = *proto;
                }
                None => {
                    if ok_or(k.add_service(s), libc::EEXIST, log) {
                        kept.push(Installed {
                            svc: s.clone(),
                            vs_name: name.clone(),
                            rs_proto: *proto,
                            dests: Vec::new(),
                        });
                    }
                }
            }
        }
        self.svcs = kept;
    }

    fn get(&mut self, s: &IpvsService) -> Option<&mut Installed> {
        self.svcs.iter_mut().find(|i| same_svc(&i.svc, s))
    }

    /// Puts `d` in service `s` (an existing destination is edited only if it differs).
    pub fn put_dest(
        &mut self,
        k: &mut impl Kernel,
        s: &IpvsService,
        d: &Dest,
        log: &mut Vec<String>,
    ) {
        let Some(i) = self.get(s) else { return };
        match i.dests.iter_mut().find(|x| same_dest(x, d)) {
            Some(x) if x == d => {}
            Some(x) => {
                let r = match k.edit_dest(&i.svc, d) {
                    Err(e) if e.errno() == Some(libc::ENOENT) => k.add_dest(&i.svc, d),
                    r => r,
                };
                if ok_or(r, 0, log) {
                    *x = d.clone();
                }
            }
            None => {
                let r = match k.add_dest(&i.svc, d) {
                    Err(e) if e.errno() == Some(libc::EEXIST) => k.edit_dest(&i.svc, d),
                    r => r,
                };
                if ok_or(r, 0, log) {
                    i.dests.push(d.clone());
                }
            }
        }
    }

    pub fn del_dest(
        &mut self,
        k: &mut impl Kernel,
        s: &IpvsService,
        d: &Dest,
        log: &mut Vec<String>,
    ) {
        let Some(i) = self.get(s) else { return };
        if let Some(p) = i.dests.iter().position(|x| same_dest(x, d)) {
            if ok_or(k.del_dest(&i.svc, d), libc::ENOENT, log) {
                i.dests.remove(p);
            }
        }
    }

    /// Removes the destinations of `s` that are not in `keep` (address, port).
    pub fn prune_dests(
        &mut self,
        k: &mut impl Kernel,
        s: &IpvsService,
        keep: &[(IpAddr, u16)],
        log: &mut Vec<String>,
    ) {
        let Some(i) = self.get(s) else { return };
        let gone: Vec<Dest> = i
            .dests
            .iter()
            .filter(|d| !keep.contains(&(d.addr, d.port)))
            .cloned()
            .collect();
        // the lines are Manager::reload_removals'
        for d in gone {
            if ok_or(k.del_dest(&i.svc, &d), libc::ENOENT, log) {
                i.dests.retain(|x| !same_dest(x, &d));
            }
        }
    }

    /// Shutdown: each destination we set, then each service; with `keep_dests` the services only (`lvs_flush_on_stop VS`).
    pub fn release(&mut self, k: &mut impl Kernel, keep_dests: bool, log: &mut Vec<String>) {
        for i in std::mem::take(&mut self.svcs) {
            if !keep_dests {
                // the `Shutting down service` lines come from Manager::stop
                for d in &i.dests {
                    ok_or(k.del_dest(&i.svc, d), libc::ENOENT, log);
                }
            }
            ok_or(k.del_service(&i.svc), libc::ENOENT, log);
        }
    }
}

// ------------------------------------------------------------------ the running core

/// How notify scripts run: the default user (script security).
#[derive(Debug, Clone)]
struct Runner {
    default: Result<Option<RunAs>, String>,
}

impl Runner {
    fn of(g: &GlobalDefs) -> Runner {
        Runner {
            default: crate::script::default_run_as(
                g.script_user.as_ref(),
                g.enable_script_security,
            ),
        }
    }

    fn run(&self, sc: &Script) {
        let default = match (&self.default, &sc.user) {
            (Ok(d), _) => *d,
            (Err(_), Some(_)) => None,
            (Err(e), None) => {
                warn!("{e} - not running '{}'", sc.text);
                return;
            }
        };
        match crate::script::prepare(sc, default) {
            Ok(p) => crate::script::spawn_detached(&p),
            Err(e) => warn!("Cannot run notify script '{}': {e}", sc.text),
        }
    }
}

/// What keepalived 2.2.7's checker logs about script security at start and at each reload
/// (observed in the IPVS VM, before `Initializing ipvs`) when it will run scripts (MISC
/// checks, real server notifies, quorum scripts): the missing default user (`no_user`:
/// no `script_user` and no `keepalived_script`) and, with `enable_script_security` off,
/// the SECURITY VIOLATION warning (`true` = warning).
pub fn script_security_lines(
    c: &crate::config::model::Config,
    no_user: bool,
) -> Vec<(bool, String)> {
    use crate::config::model::check::checker::CheckerKind as K;
    let scripts = c.check.virtual_servers.iter().any(|vs| {
        vs.quorum_up.is_some()
            || vs.quorum_down.is_some()
            || vs.real_servers.iter().any(|rs| {
                rs.notify_up.is_some()
                    || rs.notify_down.is_some()
                    || rs.checkers.iter().any(|k| matches!(k.kind, K::Misc(_)))
            })
    });
    let mut v = Vec::new();
    if !scripts {
        return v;
    }
    if no_user {
        let u = crate::config::host::DEFAULT_SCRIPT_USER;
        v.push((false, format!("Script user '{u}' does not exist")));
    }
    if !c.global.enable_script_security {
        v.push((
            true,
            "SECURITY VIOLATION - check scripts are being executed but script_security not enabled."
                .to_owned(),
        ));
    }
    v
}

/// keepalived resolves each MISC_CHECK program to its real path when it loads the
/// configuration and names that in its log lines (observed: `/bin/sh -c true` logs as
/// `by [/usr/bin/sh]` where /bin is a link to usr/bin). A MISC_CHECK without `user` runs
/// as the default script user (`script_user`, else `keepalived_script` if it exists), as
/// keepalived's misc_end_handler sets it.
fn resolve_misc(cfg: &mut CheckConfig, g: &GlobalDefs) {
    use crate::config::model::check::checker::CheckerKind as K;
    let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    let default_user = match (&g.script_user, crate::script::default_run_as(None, false)) {
        (Some((u, grp)), _) => (Some(u.clone()), grp.clone()),
        (None, Ok(Some(_))) => (
            Some(crate::config::host::DEFAULT_SCRIPT_USER.to_owned()),
            None,
        ),
        (None, _) => (None, None),
    };
    for vs in &mut cfg.virtual_servers {
        for rs in &mut vs.real_servers {
            for c in &mut rs.checkers {
                if let K::Misc(m) = &mut c.kind {
                    if m.path.user.is_none() {
                        (m.path.user, m.path.group) = default_user.clone();
                    }
                    m.shown = m
                        .path
                        .argv
                        .first()
                        .and_then(|p| crate::config::host::resolve(p, &path))
                        .and_then(|p| std::fs::canonicalize(p).ok())
                        .map(|p| p.display().to_string());
                }
            }
        }
    }
}

fn log_script_security(c: &crate::config::model::Config) {
    let g = &c.global;
    let no_user = matches!(
        crate::script::default_run_as(g.script_user.as_ref(), g.enable_script_security),
        Ok(None)
    );
    for (warning, line) in script_security_lines(c, no_user) {
        if warning {
            warn!("{line}");
        } else {
            info!("{line}");
        }
    }
}

fn kind_name(k: &crate::config::model::check::checker::CheckerKind) -> &'static str {
    use crate::config::model::check::checker::CheckerKind as K;
    match k {
        K::Tcp => "TCP_CHECK",
        K::Http(_) => "HTTP_GET",
        K::Ssl(_) => "SSL_GET",
        K::Misc(_) => "MISC_CHECK",
        K::Smtp(_) => "SMTP_CHECK",
        K::Dns(_) => "DNS_CHECK",
        K::Udp(_) => "UDP_CHECK",
        K::Ping => "PING_CHECK",
        K::File(_) => "FILE_CHECK",
        K::Bfd(_) => "BFD_CHECK",
    }
}

fn globals_of(g: &GlobalDefs) -> Globals {
    Globals {
        smtp_alert_checker: g.smtp_alert_checker,
        smtp_alert: g.smtp_alert,
        checker_log_all_failures: g.checker_log_all_failures,
        no_checker_emails: g.no_checker_emails,
        rs_init_notifies: g.rs_init_notifies,
    }
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        ^ u64::from(std::process::id())
}

/// The checker child's state: configuration, decisions, what we installed.
pub struct Core {
    epoch: tokio::time::Instant,
    /// Bumped at every reload: results of checks started before are dropped.
    gen: u64,
    cfg: Rc<CheckConfig>,
    env: Rc<Env>,
    mgr: Manager,
    /// Opened with the first virtual server (keepalived's ipvs_start).
    ipvs: Option<Ipvs>,
    table: Table,
    /// The kernel services of each virtual server.
    vs_svcs: Vec<Vec<IpvsService>>,
    fifo: Option<Fifo>,
    mail: Option<MailConfig>,
    runner: Runner,
    /// Per virtual server: its checkers are suspended (`ha_suspend`, VIP absent).
    suspended: Vec<bool>,
    parked: Vec<CheckerId>,
    local: HashSet<IpAddr>,
    saved_timeouts: Option<Timeouts>,
    /// `lvs_sync_daemon` without an instance: we run its master and backup daemons.
    syncd: Option<SyncDaemon>,
    /// `nftables_ipvs` (table, priority) and `nftables_ipvs_start_fwmark`.
    nft_cfg: Option<(IpvsFwConfig, u32)>,
    /// The groups' automatic fwmarks.
    marks: AutoMarks,
    /// The `nftables_ipvs` table, once something was marked.
    nft_ipvs: Option<IpvsFirewall>,
    /// Due checks waiting for a worker ([`spawn_checks`]), in the order they came due.
    queue: VecDeque<CheckerId>,
    /// Worker tasks running checks from `queue`, at most [`MAX_RUNNING`].
    workers: usize,
    /// The due time the timer task sleeps until (`None`: no checker scheduled).
    armed: Option<Instant>,
}

fn nft_cfg_of(g: &GlobalDefs) -> Option<(IpvsFwConfig, u32)> {
    g.nftables_ipvs.as_ref().map(|t| {
        let c = IpvsFwConfig {
            table: t.clone(),
            priority: g.nftables_ipvs_priority,
            counters: g.nftables_counters,
        };
        (c, g.nftables_ipvs_start_fwmark)
    })
}

impl Core {
    fn now(&self) -> Instant {
        Instant(self.epoch.elapsed())
    }

    fn log(lines: Vec<String>) {
        for l in lines {
            info!("{l}");
        }
    }

    /// Creates/updates the services of the current configuration.
    fn sync_services(&mut self) {
        let start = self.nft_cfg.as_ref().map_or(0, |c| c.1);
        self.marks.assign(&self.cfg, self.nft_cfg.is_some(), start);
        self.sync_marking();
        self.vs_svcs = self
            .cfg
            .virtual_servers
            .iter()
            .map(|v| services_with(v, &self.cfg, self.marks.of(v)))
            .collect();
        let want: Vec<(IpvsService, String, Option<model::Protocol>)> = self
            .cfg
            .virtual_servers
            .iter()
            .zip(&self.vs_svcs)
            .flat_map(|(v, ss)| {
                let proto = if v.is_fwmark() { None } else { v.protocol };
                ss.iter()
                    .map(move |s| (s.clone(), v.display().to_string(), proto))
            })
            .collect();
        let mut log = Vec::new();
        self.table.sync_services(&mut self.ipvs, &want, &mut log);
        Self::log(log);
    }

    /// Puts the `nftables_ipvs` marking in step with the marks; a changed table name or
    /// priority, or no `nftables_ipvs` any more, removes the old table.
    fn sync_marking(&mut self) {
        let want = self.nft_cfg.as_ref().map(|c| c.0.clone());
        if self.nft_ipvs.as_ref().map(IpvsFirewall::config) != want.as_ref() {
            self.close_marking();
        }
        let Some(c) = want else { return };
        let fw = self.nft_ipvs.get_or_insert_with(|| IpvsFirewall::new(c));
        if let Err(e) = fw.set_entries(&self.marks.entries(&self.cfg)) {
            error!("nftables_ipvs: {e}");
        }
    }

    fn close_marking(&mut self) {
        if let Some(Err(e)) = self.nft_ipvs.take().as_mut().map(IpvsFirewall::close) {
            error!("nftables_ipvs: {e}");
        }
    }

    /// Performs what the manager decided.
    fn drain(&mut self) {
        while let Some(o) = self.mgr.poll_output() {
            match o {
                Output::Log(l) => info!("{l}"),
                Output::Ipvs(op) => self.apply(&op),
                Output::Script(s) => self.runner.run(&s),
                Output::Fifo(line) => {
                    if let Some(f) = &mut self.fifo {
                        f.write_line(&line);
                    }
                }
                Output::Mail { subject, body } => {
                    if let Some(m) = &self.mail {
                        let alert = crate::mail::Alert {
                            subject: format!("[{}] {subject}", m.router_id),
                            body,
                        };
                        // never waits: the send runs in its own task
                        drop(crate::mail::spawn_send(m.clone(), alert));
                    }
                }
            }
        }
    }

    fn apply(&mut self, op: &IpvsOp) {
        let (vs, dest, del) = match op {
            IpvsOp::AddDest { vs, dest } | IpvsOp::SetDest { vs, dest } => (*vs, dest, false),
            IpvsOp::DelDest { vs, dest } => (*vs, dest, true),
        };
        let svcs = self.vs_svcs.get(vs).cloned().unwrap_or_default();
        let mut log = Vec::new();
        for s in &svcs {
            if del {
                self.table.del_dest(&mut self.ipvs, s, dest, &mut log);
            } else {
                self.table.put_dest(&mut self.ipvs, s, dest, &mut log);
            }
        }
        Self::log(log);
    }

    /// The due checkers to run now; those of suspended virtual servers wait.
    fn take_due(&mut self) -> Vec<CheckerId> {
        let now = self.now();
        let mut run = Vec::new();
        for id in self.mgr.due(now) {
            if self.suspended.get(id.vs).copied().unwrap_or(false) {
                self.parked.push(id);
            } else {
                run.push(id);
            }
        }
        run
    }

    /// The VIP a `ha_suspend` virtual server waits for.
    fn vip(vs: &VirtualServer, cfg: &CheckConfig) -> Option<IpAddr> {
        match &vs.addr {
            VsAddr::Addr { ip, .. } => Some(*ip),
            VsAddr::Group(g) => cfg.group(g)?.entries.iter().find_map(|e| match e {
                VsgEntry::Addrs { first, .. } => Some(*first),
                VsgEntry::Fwmark { .. } => None,
            }),
            VsAddr::Fwmark(_) => None,
        }
    }

    /// keepalived's register_checkers_thread, at startup and after each reload: a line per
    /// scheduled checker, `Deactivating` for a suspended virtual server, then the BFD line
    /// (Debian's 2.2.7 is built with BFD; observed in the IPVS VM).
    fn log_activation(&self) {
        for (i, vs) in self.cfg.virtual_servers.iter().enumerate() {
            let susp = self.suspended.get(i).copied().unwrap_or(false);
            log_per_checker(vs, if susp { "Deactivating" } else { "Activating" });
        }
        info!("Activating BFD healthchecker");
    }

    /// Re-evaluates `ha_suspend`; returns parked checkers that may run now.
    /// `quiet` at startup and reload, where [`Core::log_activation`] says it instead.
    fn update_suspend(&mut self, quiet: bool) -> Vec<CheckerId> {
        let cfg = self.cfg.clone();
        let mut resumed = Vec::new();
        self.suspended.resize(cfg.virtual_servers.len(), false);
        for (i, vs) in cfg.virtual_servers.iter().enumerate() {
            let susp =
                vs.ha_suspend && Self::vip(vs, &cfg).is_some_and(|ip| !self.local.contains(&ip));
            let was = self.suspended.get(i).copied().unwrap_or(false);
            if susp != was && !quiet {
                // keepalived's update_checker_activity: a line per checker
                log_per_checker(vs, if susp { "Suspending" } else { "Activating" });
            }
            if let Some(s) = self.suspended.get_mut(i) {
                *s = susp;
            }
            if !susp {
                let (go, stay): (Vec<_>, Vec<_>) = self.parked.iter().partition(|id| id.vs == i);
                resumed.extend(go);
                self.parked = stay;
            }
        }
        resumed
    }

    fn status(&self) -> serde_json::Value {
        let vss: Vec<serde_json::Value> = self
            .cfg
            .virtual_servers
            .iter()
            .enumerate()
            .map(|(v, vs)| {
                let rss: Vec<serde_json::Value> = vs
                    .real_servers
                    .iter()
                    .enumerate()
                    .map(|(r, rs)| {
                        serde_json::json!({
                            "name": vs.rs_display(rs).to_string(),
                            "alive": self.mgr.is_alive(v, r),
                            "weight": self.mgr.effective_weight(v, r),
                        })
                    })
                    .collect();
                serde_json::json!({
                    "name": vs.display().to_string(),
                    "quorum_up": self.mgr.quorum_up(v),
                    "sorry_server_active": self.mgr.sorry_active(v),
                    "suspended": self.suspended.get(v).copied().unwrap_or(false),
                    "real_servers": rss,
                })
            })
            .collect();
        serde_json::json!({ "virtual_servers": vss })
    }

    /// [`Service::status_key`]: per virtual server its flags, per real server its weight
    /// and state - everything [`Core::status`] reports that is not configuration.
    fn status_key(&self) -> Vec<u64> {
        let mut k = Vec::new();
        for (v, vs) in self.cfg.virtual_servers.iter().enumerate() {
            k.push(
                u64::from(self.mgr.quorum_up(v))
                    | u64::from(self.mgr.sorry_active(v)) << 1
                    | u64::from(self.suspended.get(v).copied().unwrap_or(false)) << 2,
            );
            k.extend((0..vs.real_servers.len()).map(|r| {
                u64::from(self.mgr.effective_weight(v, r)) << 1 | u64::from(self.mgr.is_alive(v, r))
            }));
        }
        k
    }

    /// `keepalived_check.data` (SIGUSR1).
    fn data_dump(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "------< LVS Topology >------");
        for (v, vs) in self.cfg.virtual_servers.iter().enumerate() {
            let _ = writeln!(s, " VS = {}", vs.display());
            let _ = writeln!(
                s,
                "   delay_loop = {}, lvs_sched = {}",
                vs.delay_loop.as_secs(),
                vs.scheduler.map_or("wlc", |x| x.name())
            );
            let _ = writeln!(
                s,
                "   quorum = {}, hysteresis = {}, quorum state = {}",
                vs.quorum,
                vs.hysteresis,
                if self.mgr.quorum_up(v) { "UP" } else { "DOWN" }
            );
            if let Some(sorry) = &vs.sorry_server {
                let _ = writeln!(
                    s,
                    "   sorry server = [{}]:{}{}",
                    sorry.ip,
                    sorry.port,
                    if self.mgr.sorry_active(v) {
                        " (active)"
                    } else {
                        ""
                    }
                );
            }
            for (r, rs) in vs.real_servers.iter().enumerate() {
                let _ = writeln!(s, "   RS = {}", vs.rs_display(rs));
                let _ = writeln!(
                    s,
                    "     Alive = {}, Weight = {}",
                    if self.mgr.is_alive(v, r) { "yes" } else { "no" },
                    self.mgr.effective_weight(v, r)
                );
                for (i, c) in rs.checkers.iter().enumerate() {
                    let _ = writeln!(s, "     Keepalive method = {}", kind_name(&c.kind));
                    if let model::checker::CheckerKind::Http(h)
                    | model::checker::CheckerKind::Ssl(h) = &c.kind
                    {
                        let id = CheckerId {
                            vs: v,
                            rs: r,
                            checker: i,
                        };
                        let un = if h.fast_recovery { "" } else { "un" };
                        let _ = writeln!(s, "       Fast recovery {un}set");
                        if let Some(u) = self.mgr.failed_url_of(id).and_then(|u| h.urls.get(u)) {
                            let _ = writeln!(s, "       Failed URL = {}", u.path);
                        }
                    }
                }
            }
        }
        s
    }

    /// Prometheus text: real servers up/down and weights, and the kernel's IPVS counters
    /// (a failed IPVS dump leaves those out).
    fn metrics(&mut self) -> String {
        let mut s = String::from(
            "# HELP keepalived_up Status\n# TYPE keepalived_up gauge\nkeepalived_up 1\n",
        );
        let _ = writeln!(
            s,
            "# HELP keepalived_checker_real_server_up Real server alive (1) or down (0).\n\
             # TYPE keepalived_checker_real_server_up gauge"
        );
        let mut w = String::from(
            "# HELP keepalived_checker_real_server_weight Effective weight of the real server.\n\
             # TYPE keepalived_checker_real_server_weight gauge\n",
        );
        let mut q = String::from(
            "# HELP keepalived_checker_quorum_up Virtual server quorum up (1) or down (0).\n\
             # TYPE keepalived_checker_quorum_up gauge\n",
        );
        for (v, vs) in self.cfg.virtual_servers.iter().enumerate() {
            let vn = vs.display().to_string();
            let _ = writeln!(
                q,
                "keepalived_checker_quorum_up{{vs=\"{vn}\"}} {}",
                u8::from(self.mgr.quorum_up(v))
            );
            for (r, rs) in vs.real_servers.iter().enumerate() {
                let rn = vs.rs_display(rs);
                let _ = writeln!(
                    s,
                    "keepalived_checker_real_server_up{{vs=\"{vn}\",rs=\"{rn}\"}} {}",
                    u8::from(self.mgr.is_alive(v, r))
                );
                let _ = writeln!(
                    w,
                    "keepalived_checker_real_server_weight{{vs=\"{vn}\",rs=\"{rn}\"}} {}",
                    self.mgr.effective_weight(v, r)
                );
            }
        }
        let lvs = self.ipvs.as_mut().map(|k| {
            let services = k.services()?;
            let mut all = Vec::with_capacity(services.len());
            for e in services {
                let dests = k.dests(&e.service)?;
                all.push((e, dests));
            }
            Ok::<_, IpvsError>(super::lvs_metrics::render(&all))
        });
        let lvs = match lvs {
            Some(Ok(t)) => t,
            Some(Err(e)) => {
                tracing::debug!("metrics: IPVS dump failed: {e}");
                String::new()
            }
            None => String::new(),
        };
        s + &w + &q + &lvs
    }
}

// ------------------------------------------------------------------ the async shell

#[derive(Clone)]
struct Shared {
    core: Rc<RefCell<Core>>,
    wake: Rc<Notify>,
}

/// Queues due checks and starts workers for them: a bounded pool rather than one task
/// per check, so that a backlog (checks due faster than they complete) costs a queue
/// entry per check, not a waiting task (5,000 real servers).
fn spawn_checks(sh: &Shared, ids: Vec<CheckerId>) {
    let mut c = sh.core.borrow_mut();
    c.queue.extend(ids);
    // every worker is busy (an idle one ends): one more per queued check, up to the limit
    let more = MAX_RUNNING.saturating_sub(c.workers).min(c.queue.len());
    c.workers += more;
    for _ in 0..more {
        tokio::task::spawn_local(worker(sh.clone()));
    }
}

/// Runs queued checks one after the other until the queue is empty.
async fn worker(sh: Shared) {
    loop {
        let (id, url, gen, cfg, env) = {
            let mut c = sh.core.borrow_mut();
            let Some(id) = c.queue.pop_front() else {
                c.workers -= 1;
                return;
            };
            (id, c.mgr.url_of(id), c.gen, c.cfg.clone(), c.env.clone())
        };
        let Some(res) = dispatch::run(&env, &cfg, id, url).await else {
            continue;
        };
        let wake = {
            let mut c = sh.core.borrow_mut();
            if c.gen != gen {
                continue;
            }
            let now = c.now();
            c.mgr.handle_result(now, id, &res);
            c.drain();
            // the timer task needs waking only if this check is due before its deadline
            match (c.mgr.poll_timeout(), c.armed) {
                (Some(t), Some(a)) => t < a,
                (t, None) => t.is_some(),
                (None, Some(_)) => false,
            }
        };
        if wake {
            sh.wake.notify_one();
        }
    }
}

async fn timer_loop(sh: Shared) {
    loop {
        let ids = sh.core.borrow_mut().take_due();
        spawn_checks(&sh, ids);
        let (next, epoch) = {
            let mut c = sh.core.borrow_mut();
            let next = c.mgr.poll_timeout();
            c.armed = next;
            (next, c.epoch)
        };
        let sleep = async move {
            match next {
                Some(at) => tokio::time::sleep_until(epoch + at.0).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            _ = sh.wake.notified() => {}
        }
    }
}

async fn monitor_loop(mut mon: crate::net::Monitor, sh: Shared) {
    use crate::net::NetEvent;
    while let Some(ev) = mon.next().await {
        let resumed = {
            let mut c = sh.core.borrow_mut();
            // keepalived's update_checker_activity logs each address event with -D
            // (observed with 2.2.7)
            let (addr, added) = match ev {
                NetEvent::AddressAdded { addr, .. } => (addr, true),
                NetEvent::AddressRemoved { addr, .. } => (addr, false),
                _ => continue,
            };
            if crate::log::detail() > 0 || crate::log::address_changes() {
                let what = if added { "added" } else { "removed" };
                info!("Netlink reflector reports IP {addr} {what}");
            }
            if added {
                c.local.insert(addr);
            } else {
                c.local.remove(&addr);
            }
            c.update_suspend(false)
        };
        spawn_checks(&sh, resumed);
    }
}

/// BFD_CHECK: the BFD child's session states, fed to the manager (any configuration).
async fn bfd_loop(fd: std::os::fd::OwnedFd, sh: Shared) {
    let mut src = match crate::bfd::event::EventSource::new(fd) {
        Ok(s) => s,
        Err(e) => {
            warn!("Unable to read BFD events: {e}");
            return;
        }
    };
    loop {
        match src.next().await {
            Ok(evs) if !evs.is_empty() => {
                let mut c = sh.core.borrow_mut();
                for ev in evs {
                    if crate::log::detail() > 0 {
                        info!("{}", ev.received_line());
                    }
                    c.mgr.handle_bfd(&ev.name, ev.up);
                }
                c.drain();
            }
            _ => return,
        }
    }
}

/// FILE_CHECK: watches the checkers' track files ([`super::file::FileChecks`])
/// and feeds adjustment changes to the manager, until a reload replaces them.
fn spawn_file_checks(sh: &Shared, c: &crate::config::model::Config) -> Vec<JoinHandle<()>> {
    let gen = sh.core.borrow().gen;
    let sh = sh.clone();
    super::file::FileChecks::of(c).watch(move |id, adj| {
        let mut c = sh.core.borrow_mut();
        if c.gen != gen {
            return false;
        }
        c.mgr.handle_file(id, adj);
        c.drain();
        true
    })
}

/// The checker service.
pub struct CheckService {
    /// `-I`: leave IPVS as it is at shutdown.
    dont_release: bool,
    /// `-d`: log the data dump after loading.
    dump_conf: bool,
    run: Option<Running>,
    /// `net.ipv4.ping_group_range` as it was before we widened it for PING_CHECK.
    ping_range: Option<String>,
    /// The reading end of the BFD child's event pipe (BFD_CHECK).
    bfd_events: Option<std::os::fd::OwnedFd>,
}

struct Running {
    sh: Shared,
    tasks: Vec<JoinHandle<()>>,
    /// FILE_CHECK watches of the current configuration.
    file_tasks: Vec<JoinHandle<()>>,
    /// The address monitor runs (some virtual server has `ha_suspend`).
    watching: bool,
    flush_on_stop: LvsFlushOnStop,
}

impl CheckService {
    pub fn new(dont_release: bool, dump_conf: bool) -> Self {
        CheckService {
            dont_release,
            dump_conf,
            run: None,
            ping_range: None,
            bfd_events: None,
        }
    }

    /// Where the BFD child's session states arrive (keepalived's BFD checker event pipe).
    pub fn with_bfd_events(mut self, fd: Option<std::os::fd::OwnedFd>) -> Self {
        self.bfd_events = fd;
        self
    }

    fn log_dump(&self) {
        if self.dump_conf {
            for line in self.data_dump().lines() {
                info!("{line}");
            }
        }
    }
}

const PING_RANGE: &str = "/proc/sys/net/ipv4/ping_group_range";

/// PING_CHECK uses ping sockets: like keepalived, widen `net.ipv4.ping_group_range` to
/// our group when a ping checker is configured; `saved` keeps the old range, put back at
/// exit.
fn allow_ping(cfg: &CheckConfig, saved: &mut Option<String>) {
    let uses = cfg
        .virtual_servers
        .iter()
        .flat_map(|v| &v.real_servers)
        .flat_map(|r| &r.checkers)
        .any(|c| matches!(c.kind, model::checker::CheckerKind::Ping));
    if !uses || saved.is_some() {
        return;
    }
    let old = std::fs::read_to_string(PING_RANGE).ok();
    match super::ping::ensure_ping_group(nix::unistd::getegid().as_raw()) {
        Ok(true) => *saved = old,
        Ok(false) => {}
        Err(e) => warn!("Unable to set ping group range: {e}"),
    }
}

/// lvs_notify_fifo, else the shared notify_fifo.
fn fifo_of(g: &GlobalDefs) -> &crate::config::model::global::NotifyFifo {
    if g.lvs_notify_fifo.path.is_some() {
        &g.lvs_notify_fifo
    } else {
        &g.notify_fifo
    }
}

fn fifo_path(g: &GlobalDefs) -> Option<&str> {
    fifo_of(g).path.as_deref()
}

fn open_fifo(g: &GlobalDefs) -> Option<Fifo> {
    let nf = fifo_of(g);
    match Fifo::open_config(nf)? {
        Ok(f) => Some(f),
        Err(e) => {
            error!(
                "Unable to open notify FIFO {}: {e}",
                nf.path.as_deref().unwrap_or("")
            );
            None
        }
    }
}

fn lvs_timeouts(g: &GlobalDefs, ipvs: &mut Ipvs) -> Option<Timeouts> {
    let t = &g.lvs_timeouts;
    if t.tcp.is_none() && t.tcpfin.is_none() && t.udp.is_none() {
        return None;
    }
    let orig = ipvs.get_timeouts().ok()?;
    let new = Timeouts {
        tcp: t.tcp.unwrap_or(orig.tcp),
        tcp_fin: t.tcpfin.unwrap_or(orig.tcp_fin),
        udp: t.udp.unwrap_or(orig.udp),
    };
    if let Err(e) = ipvs.set_timeouts(&new) {
        error!("{e}");
    }
    Some(orig)
}

/// `lvs_sync_daemon` without an instance belongs to the checker, which runs both daemons
/// (keepalived 2.2.7, observed: sync id `id`, else 0; with an instance it is the VRRP
/// child's, src/vrrp/syncd.rs).
fn both_syncd(g: &GlobalDefs) -> Option<SyncDaemon> {
    let d = g
        .lvs_sync_daemon
        .as_ref()
        .filter(|d| d.vrrp_instance.is_none())?;
    Some(crate::ipvs::sync::daemon_of(d, d.sync_id.unwrap_or(0)))
}

/// Stops both sync daemons (errors ignored, as keepalived does), then with `start` starts
/// `d` as master and as backup.
fn run_both_syncd(ipvs: &mut Ipvs, d: &SyncDaemon, start: bool) {
    use crate::ipvs::sync::with_state;
    for s in [DaemonState::Master, DaemonState::Backup] {
        let _ = ipvs.stop_daemon(&with_state(d, s));
    }
    if start {
        for s in [DaemonState::Master, DaemonState::Backup] {
            if let Err(e) = ipvs.start_daemon(&with_state(d, s)) {
                error!("{e}");
            }
        }
    }
}

/// A missing IPVS is fatal to the checker (and to the VRRP child when a sync daemon follows
/// an instance).
fn open_ipvs() -> Result<Ipvs, ServiceError> {
    Ipvs::start().map_err(|e| ServiceError::fatal(e.to_string()))
}

/// `lvs_netlink_monitor_rcv_bufs[_force]` sizes the monitor's receive buffer.
fn monitor(g: &GlobalDefs) -> Option<crate::net::Monitor> {
    crate::net::Monitor::with_rcvbuf(crate::net::RcvBuf::configured(
        g.lvs_netlink_monitor_rcv_bufs.size,
        g.lvs_netlink_monitor_rcv_bufs.force,
    ))
    .map_err(|e| error!("Unable to watch addresses for ha_suspend: {e}"))
    .ok()
}

/// `lvs_netlink_cmd_rcv_bufs[_force]` sizes the command socket's receive buffer.
async fn local_addrs(g: &GlobalDefs) -> HashSet<IpAddr> {
    match crate::net::Netlink::with_rcvbuf(crate::net::RcvBuf::configured(
        g.lvs_netlink_cmd_rcv_bufs.size,
        g.lvs_netlink_cmd_rcv_bufs.force,
    )) {
        Ok(nl) => nl
            .addresses(None)
            .await
            .map(|v| v.into_iter().map(|a| a.addr).collect())
            .unwrap_or_default(),
        Err(_) => HashSet::new(),
    }
}

impl Service for CheckService {
    async fn start(&mut self, cfg: &ChildConfig) -> Result<(), ServiceError> {
        let c = &cfg.loaded.config;
        log_script_security(c);
        let mut ipvs = None;
        let mut saved_timeouts = None;
        // keepalived initialises IPVS only when virtual servers are configured
        if !c.check.virtual_servers.is_empty() {
            let mut k = open_ipvs()?;
            if c.global.lvs_flush {
                if let Err(e) = k.flush() {
                    error!("{e}");
                }
            }
            saved_timeouts = lvs_timeouts(&c.global, &mut k);
            if let Some(d) = both_syncd(&c.global) {
                run_both_syncd(&mut k, &d, true);
            }
            ipvs = Some(k);
        }
        let mut check = c.check.clone();
        resolve_misc(&mut check, &c.global);
        let check = Rc::new(check);
        let env = Env::new(&check, MAX_RUNNING).map_err(ServiceError::fatal)?;
        allow_ping(&check, &mut self.ping_range);
        let ha = check.virtual_servers.iter().any(|v| v.ha_suspend);
        // the monitor first, so that no address change falls between it and the dump
        // -a watches addresses too, only to log them.
        let mon = if ha || crate::log::address_changes() {
            monitor(&c.global)
        } else {
            None
        };
        let local = if ha {
            local_addrs(&c.global).await
        } else {
            HashSet::new()
        };
        let syncd = ipvs.as_ref().and(both_syncd(&c.global));
        let mut core = Core {
            epoch: tokio::time::Instant::now(),
            gen: 0,
            mgr: Manager::new(check.clone(), globals_of(&c.global), seed()),
            cfg: check,
            env: Rc::new(env),
            ipvs,
            table: Table::default(),
            vs_svcs: Vec::new(),
            fifo: open_fifo(&c.global),
            mail: MailConfig::from_global(&c.global),
            runner: Runner::of(&c.global),
            suspended: Vec::new(),
            parked: Vec::new(),
            local,
            saved_timeouts,
            syncd,
            nft_cfg: nft_cfg_of(&c.global),
            marks: AutoMarks::default(),
            nft_ipvs: None,
            queue: VecDeque::new(),
            workers: 0,
            armed: None,
        };
        // lvs_notify_fifo_script reads our FIFO; the shared notify_fifo's belongs
        // to the parent
        if let (Some(f), Some(sc)) = (&core.fifo, &c.global.lvs_notify_fifo.script) {
            if c.global.lvs_notify_fifo.path.is_some() {
                core.runner.run(&f.script_call(sc));
            }
        }
        core.update_suspend(true);
        core.sync_services();
        let now = core.now();
        core.mgr.start(now);
        core.drain();
        core.log_activation();
        let sh = Shared {
            core: Rc::new(RefCell::new(core)),
            wake: Rc::new(Notify::new()),
        };
        let mut tasks = vec![tokio::task::spawn_local(timer_loop(sh.clone()))];
        let watching = mon.is_some();
        if let Some(mon) = mon {
            tasks.push(tokio::task::spawn_local(monitor_loop(mon, sh.clone())));
        }
        if let Some(addr) = c.global.checker_metrics_address {
            match std::net::TcpListener::bind(addr).and_then(|l| {
                l.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(l)
            }) {
                Ok(listener) => {
                    let core = sh.core.clone();
                    let text: Rc<dyn Fn() -> String> = Rc::new(move || {
                        core.try_borrow_mut()
                            .map(|mut c| c.metrics())
                            .unwrap_or_default()
                    });
                    tasks.push(tokio::task::spawn_local(crate::metrics_http::serve(
                        listener, text,
                    )));
                }
                Err(e) => error!("Cannot serve metrics on {addr}: {e}"),
            }
        }
        let file_tasks = spawn_file_checks(&sh, c);
        if let Some(fd) = self.bfd_events.take() {
            tasks.push(tokio::task::spawn_local(bfd_loop(fd, sh.clone())));
        }
        self.run = Some(Running {
            sh,
            tasks,
            file_tasks,
            watching,
            flush_on_stop: c.global.lvs_flush_on_stop,
        });
        self.log_dump();
        Ok(())
    }

    async fn reload(&mut self, cfg: &ChildConfig) -> Result<(), ServiceError> {
        let Some(run) = &mut self.run else {
            return self.start(cfg).await;
        };
        let c = &cfg.loaded.config;
        log_script_security(c);
        let mut new = c.check.clone();
        resolve_misc(&mut new, &c.global);
        let new = Rc::new(new);
        let env = Env::new(&new, MAX_RUNNING).map_err(ServiceError::fatal)?;
        allow_ping(&new, &mut self.ping_range);
        let ha = new.virtual_servers.iter().any(|v| v.ha_suspend);
        let mon = if (ha || crate::log::address_changes()) && !run.watching {
            monitor(&c.global)
        } else {
            None
        };
        let local = if ha {
            local_addrs(&c.global).await
        } else {
            HashSet::new()
        };
        let opened = if new.virtual_servers.is_empty() {
            None
        } else if run.sh.core.borrow().ipvs.is_some() {
            // keepalived 2.2.7's checker at each reload (observed)
            info!(target: crate::log::SYSLOG_DEBUG, "Reinitializing ipvs");
            None
        } else {
            Some(open_ipvs()?)
        };
        let resumed = {
            let mut core = run.sh.core.borrow_mut();
            if opened.is_some() {
                core.ipvs = opened;
            }
            // the daemons restart only when their settings change
            let syncd = core.ipvs.as_ref().and(both_syncd(&c.global));
            if syncd != core.syncd {
                let old = core.syncd.take();
                if let (Some(k), Some(d)) = (core.ipvs.as_mut(), syncd.as_ref().or(old.as_ref())) {
                    run_both_syncd(k, d, syncd.is_some());
                }
                core.syncd = syncd;
            }
            let plan = plan_reload(&core.cfg, &new);
            Core::log(core.mgr.reload_removals(&new, &plan.vs));
            let mut mgr = Manager::new(new.clone(), globals_of(&c.global), seed());
            for &(v, ov) in &plan.vs {
                mgr.adopt_vs(&core.mgr, v, ov);
            }
            for &(n, o) in &plan.rs {
                mgr.adopt(&core.mgr, n, o);
            }
            core.mgr = mgr;
            core.cfg = new;
            core.env = Rc::new(env);
            core.gen += 1;
            core.mail = MailConfig::from_global(&c.global);
            core.runner = Runner::of(&c.global);
            // the same FIFO stays open (its reader keeps reading it)
            let path = fifo_path(&c.global).map(std::path::Path::new);
            if core.fifo.as_ref().map(Fifo::path) != path {
                core.fifo = None;
                core.fifo = open_fifo(&c.global);
            }
            core.parked.clear();
            // queued checks are of the old configuration: dropped like those in flight
            core.queue.clear();
            core.nft_cfg = nft_cfg_of(&c.global);
            if ha {
                core.local = local;
            }
            core.sync_services();
            // destinations that are no longer configured
            let cfg = core.cfg.clone();
            let mut log = Vec::new();
            for (v, vs) in cfg.virtual_servers.iter().enumerate() {
                let mut keep: Vec<(IpAddr, u16)> =
                    vs.real_servers.iter().map(|r| (r.ip, r.port)).collect();
                if let Some(s) = &vs.sorry_server {
                    keep.push((s.ip, if s.port == 0 { vs.port() } else { s.port }));
                }
                let svcs = core.vs_svcs.get(v).cloned().unwrap_or_default();
                for s in &svcs {
                    let core = &mut *core;
                    core.table.prune_dests(&mut core.ipvs, s, &keep, &mut log);
                }
            }
            Core::log(log);
            let now = core.now();
            core.mgr.start(now);
            core.drain();
            let resumed = core.update_suspend(true);
            core.log_activation();
            resumed
        };
        spawn_checks(&run.sh, resumed);
        if let Some(mon) = mon {
            run.watching = true;
            run.tasks
                .push(tokio::task::spawn_local(monitor_loop(mon, run.sh.clone())));
        }
        for t in run.file_tasks.drain(..) {
            t.abort();
        }
        run.file_tasks = spawn_file_checks(&run.sh, c);
        run.flush_on_stop = c.global.lvs_flush_on_stop;
        // the timer task picks up the new schedule
        run.sh.wake.notify_one();
        self.log_dump();
        Ok(())
    }

    async fn shutdown(&mut self) {
        if let Some(old) = self.ping_range.take() {
            if let Err(e) = std::fs::write(PING_RANGE, old) {
                warn!("Unable to restore ping group range: {e}");
            }
        }
        let Some(run) = self.run.take() else { return };
        for t in run.tasks.iter().chain(&run.file_tasks) {
            t.abort();
        }
        let mut core = run.sh.core.borrow_mut();
        let core = &mut *core;
        // the sync daemons stop even with -I (keepalived's checker_terminate_phase2)
        if let (Some(d), Some(k)) = (&core.syncd, core.ipvs.as_mut()) {
            run_both_syncd(k, d, false);
        }
        if self.dont_release {
            // keepalived 2.2.7 with -I leaves the nftables_ipvs table too (observed)
            return;
        }
        // omega: the down notifies of what goes away
        core.mgr
            .stop(matches!(run.flush_on_stop, LvsFlushOnStop::None));
        core.drain();
        let mut log = Vec::new();
        match run.flush_on_stop {
            LvsFlushOnStop::Full => {
                if let Some(Err(e)) = core.ipvs.as_mut().map(Ipvs::flush) {
                    log.push(e.to_string());
                }
            }
            LvsFlushOnStop::Vs => core.table.release(&mut core.ipvs, true, &mut log),
            LvsFlushOnStop::None => core.table.release(&mut core.ipvs, false, &mut log),
        }
        if let (Some(t), Some(k)) = (&core.saved_timeouts, core.ipvs.as_mut()) {
            if let Err(e) = k.set_timeouts(t) {
                log.push(e.to_string());
            }
        }
        Core::log(log);
        core.close_marking();
    }

    fn data_dump(&self) -> String {
        self.run
            .as_ref()
            .and_then(|r| r.sh.core.try_borrow().ok().map(|c| c.data_dump()))
            .unwrap_or_default()
    }

    fn stats_dump(&mut self, _clear: bool) -> String {
        String::new()
    }

    fn json_dump(&self) -> serde_json::Value {
        self.status()
    }

    fn status(&self) -> serde_json::Value {
        self.run
            .as_ref()
            .and_then(|r| r.sh.core.try_borrow().ok().map(|c| c.status()))
            .unwrap_or(serde_json::Value::Null)
    }

    fn status_key(&self) -> Option<Vec<u64>> {
        self.run
            .as_ref()
            .and_then(|r| r.sh.core.try_borrow().ok().map(|c| c.status_key()))
    }
}

#[cfg(test)]
mod tests;
