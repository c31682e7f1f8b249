//! The VRRP child's [`Service`]: builds the instances from the
//! configuration, runs one receive task per socket, a timer task on the machines'
//! deadlines, a netlink monitor task, and one I/O task that performs every instance's
//! [`Io`] in order. Reload keeps matched instances; shutdown releases.
//!
//! The logic is the [`Engine`] (engine.rs): this runtime reads the host, keeps the
//! sockets, the trackers and the time, feeds the engine events and performs the I/O it
//! returns. Everything runs on the child's current-thread runtime inside a `LocalSet`; the
//! shared engine sits in a `RefCell` that is never borrowed across an `.await`.
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::rc::Rc;

use futures::StreamExt;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tracing::info;

use super::alerts;
use super::arp::PacketSocket;
use super::dbus;
use super::debounce::{self, Debounce, Verdict};
use super::engine::{self, Engine, Event, Host, TrackState};
use super::garp::{GarpJob, GarpSender, Spacing};
use super::instance::{Instance, Io, SockKey};
use super::machine;
use super::packet::Received;
use super::rxfilter::RxFilter;
use super::rxguard::{self, RxStats};
use super::snmp;
use super::socket::{self, SocketOptions, VrrpSocket};
use super::syncd::{self, SyncdOp};
use super::tracking::{self, Target, Tracking};
use super::vmac;
use crate::agentx::pdu;
use crate::agentx::session::{self as agentx, Session};
use crate::config::model::vrrp::instance as model;
use crate::config::model::Config;
use crate::ipvs::Ipvs;
use crate::net::{self, nft, LinkInfo, Monitor, NetEvent, Netlink};
use crate::notify::FifoEvent;
use crate::service::{ChildConfig, Request, Service, ServiceError, VERSION_BANNER};

/// The VRRP service.
pub struct VrrpService {
    /// `-V`: leave VIPs and do not send priority 0 at shutdown.
    dont_release: bool,
    /// `-d`: log the data dump after loading.
    dump_conf: bool,
    run: Option<Running>,
    /// `-s NAME`: the namespace in the D-Bus object paths, over `net_namespace`.
    namespace_arg: Option<String>,
    /// `-x` (SNMP on, as the enable_snmp_* keywords) and `-A SOCKET` (over `snmp_socket`).
    snmp_option: bool,
    snmp_socket_arg: Option<String>,
    /// What the D-Bus methods ask of the runner (the dumps); the bus task holds a sender.
    requests: (
        mpsc::UnboundedSender<Request>,
        mpsc::UnboundedReceiver<Request>,
    ),
    /// The reading end of the BFD child's event pipe (`track_bfd`).
    bfd_events: Option<std::os::fd::OwnedFd>,
}

struct Running {
    engine: Rc<RefCell<Engine>>,
    sh: Shared,
    nl: Netlink,
    tasks: Vec<JoinHandle<()>>,
    io_task: JoinHandle<()>,
    /// The notify runtime, replaced at reload, finished at shutdown.
    alerts: alerts::Handle,
    /// Shared with the monitor task, which recreates VMACs deleted by hand; an async mutex
    /// because creating one awaits netlink.
    vmacs: SharedVmacs,
    /// `all.rp_filter` cleared for IPv4 VMACs, restored at stop.
    rp_filter: net::sysctl::RpFilter,
    /// `promote_secondaries` set on instances' interfaces, reset at stop.
    promote: net::sysctl::PromoteSecondaries,
    /// `disable_local_igmp`: the sysctl to put back at stop (keepalived reads the keyword at
    /// start only: a reload does not change it).
    local_igmp: net::sysctl::LocalIgmp,
    /// `vrrp_garp_interval` / `vrrp_gna_interval`, read by the GARP sender.
    spacing: Rc<RefCell<Spacing>>,
    /// `interface_up_down_delays`, applied by the monitor task.
    debounce: Rc<RefCell<Debounce>>,
    /// The engine's notifies reach the bus through it (empty without `enable_dbus`).
    bus_link: dbus::Link,
    bus: Option<BusRun>,
    /// The engine's notifies reach SNMP traps through it (empty without them).
    traps: snmp::Traps,
    snmp: Option<SnmpRun>,
}

/// The AgentX subagent and the task answering its questions from the engine.
struct SnmpRun {
    session: Session,
    answers: JoinHandle<()>,
    /// The configuration the objects are read from, replaced at reload.
    config: Rc<RefCell<Rc<Config>>>,
}

/// The D-Bus service and the task answering its questions.
struct BusRun {
    bus: dbus::Bus,
    answers: JoinHandle<()>,
}

/// The engine's notify sink: the notify runtime, then the bus (keepalived sends the
/// VrrpStatusChange signal with an instance's notifies).
struct Notifies {
    alerts: alerts::Handle,
    bus: dbus::Link,
    traps: snmp::Traps,
}

impl alerts::Sink for Notifies {
    fn instance_event(&mut self, cfg: &model::Instance, ev: FifoEvent, priority: u8) {
        self.alerts.instance_event(cfg, ev, priority);
        if let FifoEvent::State(st) = ev {
            self.bus.status(cfg, st);
            self.traps.instance(cfg, st);
        }
    }

    fn group_event(&mut self, name: &str, state: machine::State) {
        self.alerts.group_event(name, state);
        self.traps.group(name, state);
    }

    fn rfc_event(&mut self, ev: &crate::vrrp::snmp_rfc::Event) {
        self.traps.rfc(ev);
    }

    fn group_fifo_state(&mut self, name: &str, state: machine::State) {
        self.alerts.group_fifo_state(name, state);
    }
}

/// Answers the SNMP subagent from the engine; borrows it only between awaits.
async fn snmp_answers(
    mut rx: mpsc::UnboundedReceiver<agentx::Ask>,
    sh: Shared,
    config: Rc<RefCell<Rc<Config>>>,
) {
    while let Some(ask) = rx.recv().await {
        match ask {
            agentx::Ask::Snapshot(reply) => {
                let Ok(eng) = sh.engine.try_borrow() else {
                    continue;
                };
                let c = config.borrow().clone();
                let _ = reply.send(snmp::snapshot(&c, &eng, VERSION_BANNER));
            }
            agentx::Ask::Set {
                varbinds,
                commit,
                reply,
            } => {
                let Ok(eng) = sh.engine.try_borrow() else {
                    let _ = reply.send(Err((pdu::error::GEN_ERR, 0)));
                    continue;
                };
                let changes = snmp::test_set(&eng, &varbinds);
                drop(eng);
                let Ok(changes) = changes else {
                    let _ = reply.send(changes.map(|_| ()));
                    continue;
                };
                if commit {
                    let now = sh.now();
                    let mut io = Vec::new();
                    let mut eng = sh.engine.borrow_mut();
                    for ch in changes {
                        match ch {
                            snmp::Change::Priority(i, p) => {
                                eng.manager_set(i, now, Some(p), None, &mut io)
                            }
                            snmp::Change::Preempt(i, on) => {
                                eng.manager_set(i, now, None, Some(on), &mut io)
                            }
                        }
                    }
                    drop(eng);
                    sh.submit(io);
                }
                let _ = reply.send(Ok(()));
            }
        }
    }
}

/// Starts the AgentX subagent (`enable_snmp_vrrp`, `-x`) before the engine, so that the
/// start-up traps queue for the session; questions wait until `answer_snmp`.
fn start_snmp(c: &Config, traps: &snmp::Traps) -> Option<(Session, Asks)> {
    let agent = snmp::agent(c)?;
    info!("Starting SNMP subagent");
    let (ask_tx, ask_rx) = mpsc::unbounded_channel();
    let addr = agentx::Address::parse(c.global.snmp_socket.as_deref());
    let session = Session::start(agent, addr, ask_tx);
    traps.set(snmp::sender(c, session.notifier()));
    Some((session, ask_rx))
}

type Asks = mpsc::UnboundedReceiver<agentx::Ask>;

/// Answers the subagent's questions from the running engine.
fn answer_snmp(run: &Running, c: Config, session: Session, asks: Asks) -> SnmpRun {
    let config = Rc::new(RefCell::new(Rc::new(c)));
    let answers = tokio::task::spawn_local(snmp_answers(asks, run.sh.clone(), config.clone()));
    SnmpRun {
        session,
        answers,
        config,
    }
}

/// Answers the bus from the engine; borrows it only between awaits.
async fn bus_answers(mut rx: mpsc::UnboundedReceiver<dbus::Ask>, sh: Shared, paths: dbus::Paths) {
    while let Some(ask) = rx.recv().await {
        let Ok(eng) = sh.engine.try_borrow() else {
            continue;
        };
        let object = |i: &Instance| dbus::Object {
            path: paths.of(&i.cfg),
            name: i.name().to_owned(),
            state: i.machine.state(),
        };
        match ask {
            dbus::Ask::Objects(reply) => {
                let _ = reply.send(eng.instances.iter().map(object).collect());
            }
            dbus::Ask::Instance { path, reply } => {
                let found = eng.instances.iter().find(|i| paths.of(&i.cfg) == path);
                let _ = reply.send(found.map(object));
            }
            dbus::Ask::SendGarp { path, reply } => {
                let found = eng.instances.iter().find(|i| paths.of(&i.cfg) == path);
                let mut io = Vec::new();
                if let Some(i) = found {
                    info!("Sending garps on {} on DBus request", i.name());
                    i.garp_on_request(&mut io);
                }
                let _ = reply.send(found.map(|i| i.name().to_owned()));
                drop(eng);
                sh.submit(io);
            }
        }
    }
}

/// keepalived's linkbeat thread: each second, the polled interfaces' state (IFF_UP and
/// IFF_RUNNING; an absent one is down); a change is logged and applied.
async fn linkbeat_loop(sh: Shared, nl: Netlink, links: Vec<LinkInfo>) {
    let names = sh.engine.borrow().polled.clone();
    let state = |links: &[LinkInfo], n: &str| {
        links
            .iter()
            .find(|l| l.name == n)
            .map(|l| (l.ifindex, l.is_up()))
    };
    let mut last: HashMap<String, bool> = names
        .iter()
        .map(|n| (n.clone(), state(&links, n).is_some_and(|s| s.1)))
        .collect();
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let Ok(links) = nl.links().await else {
            continue;
        };
        let mut io = Vec::new();
        {
            let mut eng = sh.engine.borrow_mut();
            for n in &names {
                let now = state(&links, n);
                let up = now.is_some_and(|s| s.1);
                if last.insert(n.clone(), up) == Some(up) {
                    continue;
                }
                info!("Linkbeat reports {n} {}", if up { "up" } else { "down" });
                if let Some((ifindex, _)) = now {
                    let ev = Event::LinkPolled {
                        ifindex,
                        name: n,
                        up,
                    };
                    eng.handle(sh.now(), ev, &mut io);
                }
            }
        }
        sh.submit(io);
    }
}

/// `interface_up_down_delays`, cut to what the instances on each interface allow.
fn delays_of(c: &Config) -> HashMap<String, (std::time::Duration, std::time::Duration)> {
    let delays = c
        .statics
        .up_down_delays
        .iter()
        .map(|d| (d.interface.clone(), (d.down, d.up)))
        .collect();
    let insts: Vec<(String, String, u32, std::time::Duration)> = c
        .vrrp
        .instances
        .iter()
        .filter_map(|i| {
            Some((
                i.name.clone(),
                i.interface.clone()?,
                i.down_timer_adverts,
                i.advert_int,
            ))
        })
        .collect();
    let (delays, lines) = debounce::clamp(delays, &insts);
    for l in lines {
        info!("{l}");
    }
    delays
}

fn spacing_of(c: &Config) -> Spacing {
    Spacing {
        arp: c.global.vrrp_garp_interval,
        na: c.global.vrrp_gna_interval,
        groups: c
            .statics
            .garp_groups
            .iter()
            .map(|g| {
                (
                    g.interfaces.clone(),
                    g.garp_interval.unwrap_or_default(),
                    g.gna_interval.unwrap_or_default(),
                )
            })
            .collect(),
    }
}

/// What the tasks share.
#[derive(Clone)]
struct Shared {
    engine: Rc<RefCell<Engine>>,
    /// The engine's time zero.
    epoch: tokio::time::Instant,
    /// vrrp_script / track_file / track_process runtime.
    tracking: Rc<RefCell<Tracking>>,
    /// The sockets of the instances' keys; the engine names a key, never a socket.
    socks: Rc<RefCell<Sockets>>,
    io_tx: mpsc::UnboundedSender<Job>,
    wake: Rc<Notify>,
}

/// The VRRP sockets by key: one sender and one receive task each.
#[derive(Default)]
struct Sockets {
    senders: HashMap<SockKey, Rc<VrrpSocket>>,
    receivers: HashMap<SockKey, JoinHandle<()>>,
    /// The receive sockets' kernel filters (rxfilter.rs), with their socket.
    filters: HashMap<SockKey, (Rc<VrrpSocket>, RxFilter)>,
    /// A filter could not be set up: said once, the sockets work unfiltered.
    filter_failed: bool,
    /// The receive socket's descriptor of each receiver (`-D`'s sockpool line).
    rx_fds: HashMap<SockKey, i32>,
}

impl Sockets {
    /// Adds what the kernel filters dropped since the last call to the receive counters.
    fn sync_kernel_drops(&mut self, rx: &mut RxStats) {
        for (_, f) in self.filters.values_mut() {
            rx.kernel_drop_n(rxguard::UNKNOWN_VRID, f.take_dropped());
        }
    }

    /// Attaches or updates the kernel filter of `key`'s receive socket to accept `vrids`
    /// (`None`: no filter, see [`filter_vrids`]).
    fn filter(&mut self, key: &SockKey, sock: Option<&Rc<VrrpSocket>>, vrids: Option<Vec<u8>>) {
        let res = match (self.filters.get_mut(key), vrids) {
            (_, None) => return,
            (Some((sock, f)), Some(v)) => {
                if f.vrids() == v.as_slice() {
                    return;
                }
                f.update(&**sock, &v)
            }
            (None, Some(v)) => {
                let Some(sock) = sock else { return };
                match RxFilter::attach(&**sock, !key.ipv6, &v) {
                    Ok(f) => {
                        self.filters.insert(key.clone(), (sock.clone(), f));
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = res {
            if !std::mem::replace(&mut self.filter_failed, true) {
                info!("VRRP receive sockets work without kernel filter: {e}");
            }
        }
    }
}

/// The VRIDs `key`'s receive socket must deliver: all of them with `log_unknown_vrids`
/// (every foreign advert is logged; a reload may turn it off), `None` for AH sockets, which
/// get no filter (the VRID sits after the AH header).
fn filter_vrids(eng: &Engine, key: &SockKey) -> Option<Vec<u8>> {
    if key.ah {
        return None;
    }
    if eng.globals.log_unknown_vrids {
        return Some((0..=255).collect());
    }
    let mut v: Vec<u8> = eng
        .instances
        .iter()
        .filter(|i| &i.key == key)
        .filter_map(|i| i.cfg.vrid)
        .collect();
    v.sort_unstable();
    v.dedup();
    Some(v)
}

/// What the I/O task performs, in order: the engine's [`Io`], an advert the socket could
/// not take at once, and the runtime's own flush marker.
enum Job {
    Io(Io),
    Send {
        sock: Rc<VrrpSocket>,
        pkt: Vec<u8>,
        dst: IpAddr,
        iname: String,
    },
    /// Completes when everything queued before it is done.
    Flush(tokio::sync::oneshot::Sender<()>),
}

impl Shared {
    /// The engine's time.
    fn now(&self) -> machine::Instant {
        machine::Instant(self.epoch.elapsed())
    }

    /// Queues I/O for the I/O task and wakes the timer task (deadlines may have moved).
    /// Adverts go out at once when the socket takes them: queued behind hundreds of
    /// netlink address changes and GARPs (500 instances turning MASTER together), they
    /// would reach the peers after their master-down timers and start needless elections.
    fn submit(&self, mut io: Vec<Io>) {
        // every engine step ends here: the sync daemon follows its instance's state
        if let Ok(mut eng) = self.engine.try_borrow_mut() {
            eng.syncd_step(&mut io);
        }
        for i in io {
            let job = match i {
                Io::Send {
                    key,
                    pkt,
                    dst,
                    iname,
                } => match self.send_now(key, pkt, dst, iname) {
                    Some(job) => job,
                    None => continue,
                },
                other => Job::Io(other),
            };
            let _ = self.io_tx.send(job);
        }
        self.wake.notify_one();
    }

    /// Sends an advert if its socket takes it now; else the job that sends it later.
    fn send_now(&self, key: SockKey, pkt: Vec<u8>, dst: IpAddr, iname: String) -> Option<Job> {
        // Closed since the advert was built (its instance went): not sent.
        let sock = self.socks.borrow().senders.get(&key).cloned()?;
        match sock.try_send_to(&pkt, dst) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Some(Job::Send {
                sock,
                pkt,
                dst,
                iname,
            }),
            Err(e) => {
                log_send_error(&iname, &e);
                None
            }
            Ok(_) => None,
        }
    }
}

/// `-D`: what keepalived 2.2.7 logs once its instances are set up: each instance
/// interface's first IPv4 and first link-local IPv6 address (the first instance on it
/// only), then the shared GARP / NDISC channels the instances' families need.
fn log_channels(c: &crate::config::model::Config, h: &Host, garp: bool) {
    use crate::config::model::vrrp::Family;
    if crate::log::detail() == 0 {
        return;
    }
    log_assigned(c, h);
    let has = |f: Family| c.vrrp.instances.iter().any(|i| i.family == f);
    if has(Family::V4) && garp {
        info!("Registering gratuitous ARP shared channel");
    }
    if has(Family::V6) {
        info!("Registering gratuitous NDISC shared channel");
    }
}

/// `-D`, at start and at each reload (keepalived sets its instances on their interfaces
/// again): the first IPv4 and link-local IPv6 address of each instance's interface.
fn log_assigned(c: &crate::config::model::Config, h: &Host) {
    if crate::log::detail() == 0 {
        return;
    }
    let mut seen: Vec<&str> = Vec::new();
    for i in &c.vrrp.instances {
        let Some(name) = i.interface.as_deref() else {
            continue;
        };
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        let Some(link) = h.links.iter().find(|l| l.name == name) else {
            continue;
        };
        let on_link = || h.addrs.iter().filter(|a| a.ifindex == link.ifindex);
        let v4 = on_link().find(|a| a.addr.is_ipv4());
        let v6 = on_link().find(|a| match a.addr {
            IpAddr::V6(x) => x.segments()[0] & 0xffc0 == 0xfe80,
            IpAddr::V4(_) => false,
        });
        for a in v4.into_iter().chain(v6) {
            info!("Assigned address {} for interface {name}", a.addr);
        }
    }
}

/// keepalived's wording: `(VI_1): send advert error 19 (No such device)`.
fn log_send_error(iname: &str, e: &std::io::Error) {
    match e.raw_os_error() {
        Some(n) => info!(
            "({iname}): send advert error {n} ({})",
            nix::errno::Errno::from_raw(n).desc()
        ),
        None => info!("({iname}): send advert error ({e})"),
    }
}

type SharedVmacs = Rc<tokio::sync::Mutex<vmac::Vmacs>>;

impl VrrpService {
    pub fn new(dont_release: bool, dump_conf: bool) -> Self {
        VrrpService {
            dont_release,
            dump_conf,
            run: None,
            requests: mpsc::unbounded_channel(),
            namespace_arg: None,
            snmp_option: false,
            snmp_socket_arg: None,
            bfd_events: None,
        }
    }

    /// `-s NAME` (it overrides `net_namespace`).
    pub fn with_namespace_arg(mut self, ns: Option<String>) -> Self {
        self.namespace_arg = ns;
        self
    }

    /// Where the BFD child's session states arrive (keepalived's BFD vrrp event pipe).
    pub fn with_bfd_events(mut self, fd: Option<std::os::fd::OwnedFd>) -> Self {
        self.bfd_events = fd;
        self
    }

    /// `-x` and `-A SOCKET`.
    pub fn with_snmp_args(mut self, option: bool, socket: Option<String>) -> Self {
        self.snmp_option = option;
        self.snmp_socket_arg = socket;
        self
    }

    /// What the subagent registers and where it connects; `None` without SNMP. `-x`
    /// turns on what `enable_snmp_vrrp` does; `-A` names the socket before `snmp_socket`.
    fn snmp_config(&self, c: &Config) -> Option<Config> {
        let mut c = c.clone();
        if self.snmp_option {
            // -x turns on every MIB this build serves, as keepalived's.
            c.global.enable_snmp_vrrp = true;
            c.global.enable_snmp_rfcv2 = true;
            c.global.enable_snmp_rfcv3 = true;
        }
        if let Some(s) = &self.snmp_socket_arg {
            c.global.snmp_socket = Some(s.clone());
        }
        snmp::wanted(&c).then_some(c)
    }
}

/// Starts the D-Bus service (`enable_dbus`) on the running engine.
fn start_bus(
    run: &Running,
    c: &Config,
    namespace_arg: Option<&str>,
    requests: mpsc::UnboundedSender<Request>,
) -> BusRun {
    // `-s` overrides net_namespace in the paths too (keepalived's global_data).
    let ns = namespace_arg.or(c.root.net_namespace.as_deref());
    let paths = dbus::Paths::new(ns, c.root.instance.as_deref());
    let (ask_tx, ask_rx) = mpsc::unbounded_channel();
    let answers = tokio::task::spawn_local(bus_answers(ask_rx, run.sh.clone(), paths.clone()));
    let name = c
        .global
        .dbus_service_name
        .as_deref()
        .unwrap_or(dbus::SERVICE_NAME);
    let bus = dbus::Bus::start(name, paths, run.bus_link.clone(), ask_tx, requests);
    BusRun { bus, answers }
}

impl VrrpService {
    fn log_dump(&self) {
        if self.dump_conf {
            for line in self.data_dump().lines() {
                info!("{line}");
            }
        }
    }
}

async fn host(nl: &Netlink) -> Result<Host, ServiceError> {
    let links = nl
        .links()
        .await
        .map_err(|e| ServiceError::fatal(format!("Unable to read interfaces: {e}")))?;
    let addrs = nl
        .addresses(None)
        .await
        .map_err(|e| ServiceError::fatal(format!("Unable to read addresses: {e}")))?;
    Ok(Host {
        links,
        addrs,
        vmacs: Vec::new(),
        failed: Vec::new(),
    })
}

/// Creates the configured VMACs and re-reads the host when there are any.
async fn host_with_vmacs(
    nl: &Netlink,
    c: &Config,
    vmacs: &mut vmac::Vmacs,
) -> Result<Host, ServiceError> {
    let h = host(nl).await?;
    // keepalived makes no VMAC or ipvlan of its own on a non-Ethernet interface (the
    // instance faults: engine::with_config_faults)
    let plans: Vec<vmac::Plan> = vmac::plans(c)
        .into_iter()
        .filter(|p| p.for_addrs || !h.links.iter().any(|l| l.name == p.base && !l.ether))
        .collect();
    vmacs.want(&plans);
    if plans.is_empty() {
        vmacs.remove_unused(nl, &[]).await;
        return Ok(h);
    }
    let ok = vmacs.ensure(nl, &plans, &h.links).await;
    vmacs.remove_unused(nl, &ok).await;
    let mut h = host(nl).await?;
    // A plan in place may carry another name (an adopted macvlan): match by role.
    let role = |p: &vmac::Plan| (p.iname.clone(), p.for_addrs, p.base.clone(), p.ipv6);
    h.failed = plans
        .into_iter()
        .filter(|p| !ok.iter().any(|q| role(q) == role(p)))
        .filter(|p| h.links.iter().any(|l| l.name == p.base))
        .collect();
    h.vmacs = ok;
    Ok(h)
}

/// Opens the sockets of `key` that are missing; the receive task is spawned by the caller.
fn open_sockets(
    eng: &Engine,
    socks: &mut Sockets,
    key: &SockKey,
    ifname: &str,
    unicast_ttl: Option<u8>,
    src: Option<IpAddr>,
) -> Result<Option<Rc<VrrpSocket>>, std::io::Error> {
    let share: usize = eng
        .instances
        .iter()
        .filter(|i| &i.key == key)
        .map(|i| i.rx_buf_share(eng.rx_bufs.0, eng.rx_bufs.1))
        .sum();
    let opts = SocketOptions {
        ifindex: key.ifindex,
        ifname: ifname.to_owned(),
        group: key.group,
        local: key.unicast_src,
        unicast_hops: unicast_ttl.map(u32::from),
        rcvbuf: (share > 0).then_some(share),
    };
    if !socks.senders.contains_key(key) {
        // IPv6: the kernel builds the header, so bind the sender to our advert source
        // (a configured `mcast_src_ip` would otherwise lose to the link-local address).
        let send = SocketOptions {
            group: None,
            local: if key.ipv6 {
                src.or(key.unicast_src)
            } else {
                key.unicast_src
            },
            ..opts.clone()
        };
        let s = VrrpSocket::sender(key.ipv6, &send)?;
        socks.senders.insert(key.clone(), Rc::new(s));
    }
    if socks.receivers.contains_key(key) {
        return Ok(None);
    }
    let rx = if key.ah {
        VrrpSocket::receiver_ah(&opts)?
    } else {
        VrrpSocket::receiver(key.ipv6, &opts)?
    };
    Ok(Some(Rc::new(rx)))
}

/// Attaches sockets to every instance, spawning receive tasks for new ones, and closes the
/// sockets no instance uses any more.
fn wire_sockets(sh: &Shared) {
    let mut spawn = Vec::new();
    {
        let mut eng = sh.engine.borrow_mut();
        let mut socks = sh.socks.borrow_mut();
        type Want = (SockKey, String, Option<u8>, String, Option<IpAddr>);
        let keys: Vec<Want> = eng
            .instances
            .iter()
            .map(|i| {
                (
                    i.key.clone(),
                    i.link.xmit_ifname().to_owned(),
                    i.cfg.unicast_ttl,
                    i.cfg.name.clone(),
                    i.link.src,
                )
            })
            .collect();
        for (key, ifname, ttl, iname, src) in keys {
            // An interface still awaited (`dynamic_interfaces`) has no socket yet.
            if key.ifindex == 0 {
                continue;
            }
            // One receiver per key (sockpool): instances sharing an interface must not
            // each open one, or every advert reaches the engine once per instance.
            if spawn.iter().any(|(k, _)| k == &key) {
                continue;
            }
            match open_sockets(&eng, &mut socks, &key, &ifname, ttl, src) {
                Ok(Some(rx)) => spawn.push((key, rx)),
                Ok(None) => {}
                Err(e) => info!("({iname}) Unable to open VRRP socket on {ifname}: {e}"),
            }
        }
        let used: Vec<SockKey> = eng.instances.iter().map(|i| i.key.clone()).collect();
        socks.senders.retain(|k, _| used.contains(k));
        socks.rx_fds.retain(|k, _| used.contains(k));
        socks.receivers.retain(|k, t| {
            let keep = used.contains(k);
            if !keep {
                t.abort();
            }
            keep
        });
        // What a closing socket's filter dropped is counted before it goes.
        socks.sync_kernel_drops(&mut eng.rx);
        socks.filters.retain(|k, _| used.contains(k));
        let kept: Vec<SockKey> = socks.filters.keys().cloned().collect();
        for key in kept {
            let v = filter_vrids(&eng, &key);
            socks.filter(&key, None, v);
        }
        for (key, rx) in &spawn {
            let v = filter_vrids(&eng, key);
            socks.filter(key, Some(rx), v);
        }
        for i in &mut eng.instances {
            i.sock_open = socks.senders.contains_key(&i.key);
        }
    }
    for (key, sock) in spawn {
        sh.socks
            .borrow_mut()
            .rx_fds
            .insert(key.clone(), sock.raw_fd());
        let t = tokio::task::spawn_local(rx_loop(key.clone(), sock, sh.clone()));
        sh.socks.borrow_mut().receivers.insert(key, t);
    }
}

/// `-D`: every open socket, in the instances' order, as keepalived 2.2.7 lists its
/// sockpool once the start or a reload is done.
fn log_sockpool(sh: &Shared) {
    if crate::log::detail() == 0 {
        return;
    }
    let eng = sh.engine.borrow();
    let socks = sh.socks.borrow();
    let mut done: Vec<&SockKey> = Vec::new();
    for key in eng.instances.iter().map(|i| &i.key) {
        if done.contains(&key) || !socks.receivers.contains_key(key) {
            continue;
        }
        done.push(key);
        let fd = |m: Option<&i32>| m.map_or(-1, |f| *f);
        info!(
            "VRRP sockpool: [ifindex({:3}), family({}), proto({}), fd({},{}) {}, address({})]",
            key.ifindex,
            if key.ipv6 { "IPv6" } else { "IPv4" },
            if key.ah { 51 } else { 112 },
            fd(socks.rx_fds.get(key)),
            fd(socks.senders.get(key).map(|s| s.raw_fd()).as_ref()),
            if key.unicast_src.is_some() {
                "unicast"
            } else {
                "multicast"
            },
            key.group
                .or(key.unicast_src)
                .map_or_else(String::new, |a| a.to_string())
        );
    }
}

/// One socket's receive task: at most [`rxguard::RX_BATCH`] packets per wake-up, due
/// deadlines served before each batch, then a yield so the timer and I/O tasks run
/// (receiving must never delay sending).
async fn rx_loop(key: SockKey, sock: Rc<VrrpSocket>, sh: Shared) {
    let mut bufs = socket::RxBufs::new(rxguard::RX_BATCH);
    let mut overflow_seen = 0u32;
    loop {
        // The batch is received first and handled after, under one borrow of the engine
        // (it is never borrowed across an await): every packet is handled or counted.
        let mut batch: Vec<(std::io::Result<socket::Received>, Vec<u8>)> = Vec::new();
        let res = sock
            .recv_batch(&mut bufs, |r, data| {
                batch.push((r, data.to_vec()));
            })
            .await;
        let mut io = Vec::new();
        {
            let mut eng = sh.engine.borrow_mut();
            for (r, data) in batch {
                let now = sh.now();
                if io.is_empty() && eng.poll_timeout().is_some_and(|t| t <= now) {
                    eng.handle(now, Event::Timeout, &mut io);
                }
                let r = match r {
                    Ok(r) => r,
                    Err(e) => {
                        eng.rx.drop(rxguard::RECEIVE_ERROR);
                        if crate::log::detail() > 0 && rxguard::log_allowed() {
                            info!("VRRP receive error: {e}");
                        }
                        continue;
                    }
                };
                if let Some(n) = r.overflow {
                    // Cumulative per socket: count what the kernel shed since last time.
                    let shed = n.wrapping_sub(overflow_seen);
                    overflow_seen = n;
                    eng.rx.drop_n(rxguard::SOCKET_OVERFLOW, u64::from(shed));
                }
                let rx = match (r.src, r.dst) {
                    (IpAddr::V6(src), IpAddr::V6(dst)) => Received::V6 {
                        payload: &data,
                        src,
                        dst,
                        hop_limit: Some(r.ttl),
                    },
                    _ => Received::V4(&data),
                };
                eng.handle(now, Event::Packet { key: &key, rx }, &mut io);
            }
        }
        if let Err(e) = res {
            info!("VRRP receive error: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        sh.submit(io);
        tokio::task::yield_now().await;
    }
}

async fn timer_loop(sh: Shared) {
    loop {
        let (next, epoch) = {
            let eng = sh.engine.borrow();
            (eng.poll_timeout(), sh.epoch)
        };
        let sleep = async move {
            match next {
                Some(at) => tokio::time::sleep_until(epoch + at.0).await,
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = sleep => {
                let mut io = Vec::new();
                sh.engine.borrow_mut().handle(sh.now(), Event::Timeout, &mut io);
                sh.submit(io);
            }
            _ = sh.wake.notified() => {}
        }
    }
}

/// Reads the BFD child's events into the trackers' channel.
async fn bfd_loop(fd: std::os::fd::OwnedFd, tx: mpsc::UnboundedSender<tracking::Event>) {
    let mut src = match crate::bfd::event::EventSource::new(fd) {
        Ok(s) => s,
        Err(e) => {
            info!("Unable to read BFD events: {e}");
            return;
        }
    };
    loop {
        match src.next().await {
            Ok(evs) if !evs.is_empty() => {
                for ev in evs {
                    if crate::log::detail() > 0 {
                        info!("{}", ev.received_line());
                    }
                    let _ = tx.send(tracking::Event::Bfd {
                        name: ev.name,
                        up: ev.up,
                    });
                }
            }
            _ => return,
        }
    }
}

/// The metrics endpoint's text: the instances as the data and stats dumps show them, the
/// scripts, and the receive guard's counters.
fn metrics_text(e: &Engine, tr: &Tracking) -> String {
    use super::metrics::{render, Row, ScriptRow};
    let addr = |a: &crate::config::model::addr::AddressSpec| format!("{}/{}", a.addr, a.prefix);
    let rows = e.instances.iter().map(|i| Row {
        name: i.name(),
        intf: &i.link.ifname,
        vrid: i.cfg.vrid.unwrap_or(0),
        state: i.machine.reported_states().0,
        priority: i.machine.effective_priority(),
        garp_delay: i.cfg.garp_master_delay.as_secs(),
        vips: i.cfg.vips.iter().map(addr).collect(),
        evips: i.cfg.evips.iter().map(addr).collect(),
        stats: &i.stats,
    });
    let scripts: Vec<ScriptRow> = tr
        .script_states()
        .into_iter()
        .map(|(name, good, running)| ScriptRow {
            name,
            good,
            running,
        })
        .collect();
    let mut t = render(rows, &scripts);
    t.push_str(&e.rx.to_metrics());
    t
}

/// Feeds tracker results (and delayed process-quorum changes) to the engine.
async fn tracking_loop(mut rx: mpsc::UnboundedReceiver<tracking::Event>, sh: Shared) {
    loop {
        let next = sh.tracking.borrow().next_deadline();
        let sleep = async move {
            match next {
                Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
                None => std::future::pending::<()>().await,
            }
        };
        let changes = tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { return };
                sh.tracking.borrow_mut().on_event(ev, std::time::Instant::now())
            }
            _ = sleep => sh.tracking.borrow_mut().on_timeout(std::time::Instant::now()),
        };
        if !changes.is_empty() {
            let mut io = Vec::new();
            sh.engine
                .borrow_mut()
                .handle(sh.now(), Event::Tracking(changes), &mut io);
            sh.submit(io);
        }
    }
}

async fn monitor_loop(
    mut mon: Monitor,
    sh: Shared,
    nl: Netlink,
    links: Vec<LinkInfo>,
    vmacs: SharedVmacs,
    deb: Rc<RefCell<Debounce>>,
) {
    // Link states as last reported, to replay what an overrun hid.
    let mut known: HashMap<u32, (String, bool)> = links
        .iter()
        .map(|l| (l.ifindex, (l.name.clone(), l.is_up())))
        .collect();
    deb.borrow_mut()
        .seed(links.iter().map(|l| (l.ifindex, l.is_up(), l.flags)));
    // Link changes whose `interface_up_down_delays` delay has expired.
    let mut held: std::collections::VecDeque<NetEvent> = Default::default();
    loop {
        let (ev, timed) = match held.pop_front() {
            Some(ev) => (ev, true),
            None => {
                let next = deb.borrow().next_deadline();
                let sleep = async move {
                    match next {
                        Some(t) => {
                            tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    ev = mon.next() => match ev {
                        Some(ev) => (ev, false),
                        None => return,
                    },
                    _ = sleep => {
                        let due = deb.borrow_mut().due(std::time::Instant::now());
                        held.extend(due.into_iter().map(|(ifindex, name, up)| {
                            if up {
                                NetEvent::LinkUp { ifindex, name }
                            } else {
                                NetEvent::LinkDown { ifindex, name }
                            }
                        }));
                        continue;
                    }
                }
            }
        };
        if !timed {
            if let NetEvent::LinkUp { ifindex, name } | NetEvent::LinkDown { ifindex, name } = &ev {
                let up = matches!(ev, NetEvent::LinkUp { .. });
                let flags = mon.flags(*ifindex);
                let now = std::time::Instant::now();
                match deb.borrow_mut().on_change(*ifindex, name, up, flags, now) {
                    Verdict::Apply => {}
                    Verdict::Hold(line) => {
                        info!("{line}");
                        continue;
                    }
                    Verdict::Drop(line) => {
                        if let Some(line) = line {
                            info!("{line}");
                        }
                        continue;
                    }
                }
            }
        }
        if let NetEvent::LinkDeleted { ifindex, .. } = &ev {
            deb.borrow_mut().forget(*ifindex);
        }
        let mut io = Vec::new();
        if ev == NetEvent::Overrun {
            // ENOBUFS: events were lost. Re-read links and addresses and converge on them.
            info!("Netlink monitor overrun - events lost, resynchronising");
            let mut lost = Vec::new();
            match host(&nl).await {
                Ok(h) => {
                    mon.seed(&h.links);
                    // VMACs of ours deleted unseen are made again (below) as on a deletion.
                    lost = vmacs.lock().await.ours();
                    lost.retain(|(_, i)| !h.links.iter().any(|l| l.ifindex == *i));
                    // Both families read, or no route is judged missing.
                    let routes = match (nl.routes(false).await, nl.routes(true).await) {
                        (Ok(mut v4), Ok(v6)) => {
                            v4.extend(v6);
                            Some(v4)
                        }
                        _ => None,
                    };
                    let mut eng = sh.engine.borrow_mut();
                    eng.resync(sh.now(), &mut known, &h, &mut io);
                    if let Some(routes) = &routes {
                        for inst in &mut eng.instances {
                            inst.restore_missing_routes(routes, &mut io);
                        }
                    }
                }
                Err(e) => info!("Netlink resynchronisation failed: {e:?}"),
            }
            sh.submit(io);
            for (name, idx) in lost {
                // resync already reported the old link down: known no longer has it.
                known.insert(idx, (name.clone(), false));
                link_deleted(idx, &name, &mut mon, &mut known, &sh, &nl, &vmacs).await;
            }
            continue;
        }
        if let NetEvent::LinkUp { name, .. } | NetEvent::LinkDown { name, .. } = &ev {
            adopt_created(name, &sh, &nl, &vmacs).await;
        }
        if let NetEvent::LinkDeleted { ifindex, name } = &ev {
            link_deleted(*ifindex, name, &mut mon, &mut known, &sh, &nl, &vmacs).await;
            continue;
        }
        {
            let mut eng = sh.engine.borrow_mut();
            let now = sh.now();
            let up = matches!(ev, NetEvent::LinkUp { .. });
            match ev {
                NetEvent::LinkUp { ifindex, name } | NetEvent::LinkDown { ifindex, name } => {
                    log_added(&known, ifindex, &name);
                    known.insert(ifindex, (name.clone(), up));
                    let ev = Event::Link {
                        ifindex,
                        name: &name,
                        up,
                    };
                    eng.handle(now, ev, &mut io);
                }
                NetEvent::LinkRenamed { ifindex, old, name } => {
                    // keepalived 2.2.7 (observed): the rename always, `added` with -D.
                    info!("Interface name has changed from {old} to {name}");
                    if crate::log::detail() > 0 {
                        info!("Interface {name} added");
                    }
                    let up = known.get(&ifindex).is_some_and(|k| k.1);
                    known.insert(ifindex, (name.clone(), up));
                    let ev = Event::LinkRenamed {
                        ifindex,
                        old: &old,
                        name: &name,
                    };
                    eng.handle(now, ev, &mut io);
                }
                NetEvent::AddressAdded { ifindex, addr, .. } => {
                    log_address(&known, ifindex, addr, "added to");
                    eng.handle(now, Event::AddressAdded { ifindex, addr }, &mut io);
                }
                NetEvent::AddressRemoved { ifindex, addr, .. } => {
                    log_address(&known, ifindex, addr, "removed from");
                    eng.handle(now, Event::AddressRemoved { ifindex, addr }, &mut io);
                }
                NetEvent::RouteRemoved(r) => {
                    eng.handle(now, Event::RouteRemoved(&r), &mut io);
                }
                _ => {}
            }
        }
        sh.submit(io);
    }
}

/// `-a`: every address change on any interface, in keepalived's words.
fn log_address(
    known: &HashMap<u32, (String, bool)>,
    ifindex: u32,
    addr: std::net::IpAddr,
    what: &str,
) {
    if crate::log::address_changes() {
        let name = known.get(&ifindex).map_or("", |k| k.0.as_str());
        info!("Netlink reflector reports IP {addr} {what} {name}");
    }
}

/// `dynamic_interfaces`: instances waiting for interface `name` move onto it once it exists,
/// or onto their VMAC or ipvlan, made on it now as keepalived 2.2.7 does.
async fn adopt_created(name: &str, sh: &Shared, nl: &Netlink, vmacs: &SharedVmacs) {
    let (waiting, on_vmac) = {
        let eng = sh.engine.borrow();
        let mut w = eng.instances.iter().filter(|i| i.awaits_link(name));
        let on_vmac = w
            .clone()
            .any(|i| i.cfg.vmac.is_some() || i.cfg.ipvlan.is_some());
        (w.next().is_some(), on_vmac)
    };
    if !waiting {
        return;
    }
    let read = |r: Result<Host, ServiceError>| r.map_err(|e| info!("{e:?}")).ok();
    let Some(mut h) = read(host(nl).await) else {
        return;
    };
    if on_vmac {
        let mut v = vmacs.lock().await;
        v.make_on(nl, name, &h.links).await;
        let Some(again) = read(host(nl).await) else {
            return;
        };
        h = again;
        h.vmacs = v.in_place();
        h.failed = v.failed_on(name);
    }
    let mut io = Vec::new();
    {
        let mut eng = sh.engine.borrow_mut();
        *eng.ifmap.borrow_mut() = h.ifmap();
        let mut moved = Vec::new();
        for (k, i) in eng.instances.iter_mut().enumerate() {
            if !i.awaits_link(name) {
                continue;
            }
            let Some(link) = h.link_for(&i.cfg) else {
                continue;
            };
            if i.cfg.vmac.is_some() || i.cfg.ipvlan.is_some() {
                moved.extend(i.adopt_vmac_link(link).into_iter().map(|f| (k, f)));
            } else {
                i.adopt_link(link);
            }
        }
        let now = sh.now();
        for (k, input) in moved {
            eng.feed(k, now, input, &mut io);
        }
        if on_vmac {
            io.push(Io::FirewallVmacs(eng.vmac_entries(&h)));
        }
    }
    sh.submit(io);
    wire_sockets(sh);
}

/// keepalived logs a link it had not seen with -D (`Interface X added`, observed).
fn log_added(known: &HashMap<u32, (String, bool)>, ifindex: u32, name: &str) {
    if !known.contains_key(&ifindex) && crate::log::detail() > 0 {
        info!("Interface {name} added");
    }
}

/// A link went away: instances on it fault (unless its down was already seen); a
/// VMAC or ipvlan of ours is created again, as keepalived does, and the instances on it
/// move to the new index (the kernel's up event then clears their fault).
async fn link_deleted(
    ifindex: u32,
    name: &str,
    mon: &mut Monitor,
    known: &mut HashMap<u32, (String, bool)>,
    sh: &Shared,
    nl: &Netlink,
    vmacs: &SharedVmacs,
) {
    let was_up = known.remove(&ifindex).map_or(true, |k| k.1);
    let ours = vmacs.lock().await.ours_at(name, ifindex).is_some();
    let mut io = Vec::new();
    {
        let mut eng = sh.engine.borrow_mut();
        if was_up {
            eng.on_link(sh.now(), ifindex, name, false, &mut io);
        }
        if ours || crate::log::detail() > 0 || eng.uses_link(ifindex, name) {
            info!("Interface {name} deleted");
        }
        if eng.globals.dynamic_interfaces && !ours {
            let mut waiting = false;
            for i in &mut eng.instances {
                // a VMAC or ipvlan goes with its base: wait for the base
                let stacked = i.cfg.vmac.is_some() || i.cfg.ipvlan.is_some();
                let on_it = if stacked {
                    i.cfg.interface.as_deref() == Some(name)
                } else {
                    i.link.ifindex == ifindex
                };
                if on_it {
                    i.await_link();
                    waiting = true;
                }
            }
            if waiting {
                drop(eng);
                wire_sockets(sh);
            }
        }
    }
    sh.submit(io);
    if !ours {
        return;
    }
    let Some(new) = vmacs.lock().await.recreate(nl, name).await else {
        return;
    };
    // The queued events of the new link start from down: only its coming up is news.
    mon.assume_down(new);
    known.insert(new, (name.to_owned(), false));
    {
        let eng = sh.engine.borrow();
        eng.ifmap.borrow_mut().insert(name.to_owned(), new);
    }
    for i in &mut sh.engine.borrow_mut().instances {
        if i.link.ifindex == ifindex {
            i.relink(new);
        }
    }
    sh.submit(vec![Io::FirewallRelink(ifindex, new)]);
    wire_sockets(sh);
}

async fn io_loop(
    mut rx: mpsc::UnboundedReceiver<Job>,
    nl: Netlink,
    mut garp: Option<GarpSender>,
    mut ipvs: Option<Ipvs>,
    fw: nft::Firewall,
) {
    let mut fw = OffThread(Some(fw));
    while let Some(job) = rx.recv().await {
        match job {
            Job::Io(Io::Syncd(op)) => syncd_perform(op, &mut ipvs),
            Job::Io(io) => perform(io, &nl, garp.as_mut(), &mut fw).await,
            Job::Send {
                sock,
                pkt,
                dst,
                iname,
            } => {
                if let Err(e) = sock.send_to(&pkt, dst).await {
                    log_send_error(&iname, &e);
                }
            }
            Job::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// The firewall settings of `global_defs`.
fn firewall_config(c: &Config) -> nft::FwConfig {
    let g = &c.global;
    nft::FwConfig {
        table: g.nftables.clone().unwrap_or_else(|| "keepalived".into()),
        priority: g.nftables_priority,
        counters: g.nftables_counters,
        ll_by_name: !g.nftables_ifindex && c.vrrp.instances.iter().any(|i| i.dont_track_primary),
    }
}

/// The interfaces of the instances with `promote_secondaries` (a VMAC or ipvlan gets it
/// anyway, on the link itself).
fn promote_secondaries_ifaces(c: &Config) -> impl Iterator<Item = &str> {
    c.vrrp
        .instances
        .iter()
        .filter(|i| i.promote_secondaries && i.vmac.is_none() && i.ipvlan.is_none())
        .filter_map(|i| i.interface.as_deref())
}

/// Whether an IPv4 instance has a VMAC (then `all.rp_filter` is cleared).
fn has_ipv4_vmac(c: &Config) -> bool {
    c.vrrp
        .instances
        .iter()
        .any(|i| i.vmac.is_some() && i.family == model::Family::V4)
}

/// Whether any instance needs the firewall: a VMAC, or no_accept.
fn needs_firewall(c: &Config) -> bool {
    c.vrrp
        .instances
        .iter()
        .any(|i| i.vmac.is_some() || i.drops_vip_traffic())
}

/// One sync daemon command; the IPVS socket is opened on first use after a reload that
/// linked an instance.
fn syncd_perform(op: SyncdOp, ipvs: &mut Option<Ipvs>) {
    if ipvs.is_none() {
        match Ipvs::open() {
            Ok(k) => *ipvs = Some(k),
            Err(e) => {
                info!("{e}");
                return;
            }
        }
    }
    let Some(k) = ipvs.as_mut() else { return };
    let (res, quiet) = match &op {
        SyncdOp::Start(d) => (k.start_daemon(d), false),
        SyncdOp::Stop(d, quiet) => (k.stop_daemon(d), *quiet),
    };
    match res {
        // keepalived 2.2.7 logs nothing for stopping a daemon that is not running (observed)
        Err(e) if !quiet && !matches!(op, SyncdOp::Stop(..) if e.errno() == Some(libc::ESRCH)) => {
            info!("{e}")
        }
        _ => {}
    }
}

/// keepalived's VRRP-side set-up when `lvs_sync_daemon` names an instance (or an instance
/// has `lvs_sync_daemon_interface`): IPVS opened, daemons left by a crash stopped, then
/// the instance looked up.
type SyncdStart = (Option<syncd::Syncd>, Option<Ipvs>, Vec<Io>);

fn syncd_start(c: &Config) -> Result<SyncdStart, ServiceError> {
    let link = syncd::link_of(c);
    if link == Ok(None) {
        return Ok((None, None, Vec::new()));
    }
    let ipvs = Ipvs::start().map_err(|e| ServiceError::fatal(e.to_string()))?;
    let io = syncd::stop_both().into_iter().map(Io::Syncd).collect();
    let link = link.unwrap_or_else(|line| {
        info!("{line}");
        None
    });
    Ok((link.map(syncd::Syncd::new), Some(ipvs), io))
}

/// The firewall, driven on a blocking-pool thread: an nf_tables call waits for the
/// kernel's answer (up to 2 s when none comes), and the runtime's thread must stay free to
/// send the adverts. The I/O task awaits each call, so the host changes keep their order.
struct OffThread(Option<nft::Firewall>);

impl OffThread {
    async fn call(
        &mut self,
        f: impl FnOnce(&mut nft::Firewall) -> Result<(), nft::NftError> + Send + 'static,
    ) -> Result<(), String> {
        let Some(mut fw) = self.0.take() else {
            return Err("the firewall was lost".into());
        };
        let res = tokio::task::spawn_blocking(move || {
            let r = f(&mut fw);
            (fw, r)
        })
        .await;
        match res {
            Ok((fw, r)) => {
                self.0 = Some(fw);
                r.map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("the firewall was lost: {e}")),
        }
    }
}

async fn perform(io: Io, nl: &Netlink, garp: Option<&mut GarpSender>, fw: &mut OffThread) {
    match io {
        Io::Syncd(_) => {}
        Io::Firewall { iname, entries } => {
            let name = iname.clone();
            if let Err(e) = fw.call(move |fw| fw.set_drops(&name, entries)).await {
                info!("({iname}) Unable to update the firewall: {e}");
            }
        }
        Io::FirewallVmacs(v) => {
            if let Err(e) = fw.call(move |fw| fw.set_vmacs(v)).await {
                info!("Unable to update the VMAC firewall rules: {e}");
            }
        }
        Io::FirewallRelink(old, new) => {
            if let Err(e) = fw.call(move |fw| fw.relink_vmac(old, new)).await {
                info!("Unable to update the VMAC firewall rules: {e}");
            }
        }
        Io::FirewallClose => {
            if let Err(e) = fw.call(|fw| fw.close()).await {
                info!("Unable to remove the firewall tables: {e}");
            }
        }
        // Sent by the runtime (Shared::submit), which owns the sockets.
        Io::Send { .. } => {}
        Io::AddAddr(a) => {
            if let Err(e) = nl.add_address(&a).await {
                info!("Unable to add address {}/{}: {e}", a.addr, a.prefix);
            }
        }
        Io::DelAddr(a) => {
            if let Some(g) = garp {
                g.forget(a.ifindex, a.addr);
            }
            if let Err(e) = nl.delete_address(&a).await {
                info!("Unable to remove address {}/{}: {e}", a.addr, a.prefix);
            }
        }
        Io::AddRoute(r) => {
            if let Err(e) = nl.add_route(&r).await {
                info!("Unable to add route {}/{}: {e}", r.dst, r.prefix);
            }
        }
        Io::DelRoute(r) => {
            if let Err(e) = nl.delete_route(&r).await {
                info!("Unable to remove route {}/{}: {e}", r.dst, r.prefix);
            }
        }
        Io::AddRule(r) => {
            if let Err(e) = nl.add_rule(&r).await {
                info!("Unable to add rule: {e}");
            }
        }
        Io::DelRule(r) => {
            if let Err(e) = nl.delete_rule(&r).await {
                info!("Unable to remove rule: {e}");
            }
        }
        Io::Garp {
            iname,
            ifindex,
            ifname,
            mac,
            addrs,
            repeat,
        } => {
            // A VIP on another plain interface (`dev`): GARPs carry that interface's MAC.
            let mac = if mac == [0; 6] {
                match nl.link_by_index(ifindex).await {
                    Ok(Some(l)) => l.mac.unwrap_or(mac),
                    _ => mac,
                }
            } else {
                mac
            };
            if let Some(g) = garp {
                g.submit(GarpJob {
                    iname,
                    ifindex,
                    ifname,
                    mac,
                    addrs,
                    repeat,
                })
                .await;
            }
        }
    }
}

impl Running {
    async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let _ = self.sh.io_tx.send(Job::Flush(tx));
        let _ = rx.await;
    }
}

impl Service for VrrpService {
    async fn start(&mut self, cfg: &ChildConfig) -> Result<(), ServiceError> {
        let c = &cfg.loaded.config;
        if let Some(why) = &c.vrrp.fatal {
            return Err(ServiceError::config(why.clone()));
        }
        let nl = Netlink::with_rcvbuf(net::RcvBuf::configured(
            c.global.vrrp_netlink_cmd_rcv_bufs.size,
            c.global.vrrp_netlink_cmd_rcv_bufs.force,
        ))
        .map_err(|e| ServiceError::fatal(e.to_string()))?;
        if crate::log::detail() > 0 {
            info!("Registering Kernel netlink reflector");
            info!("Registering Kernel netlink command channel");
        }
        let alerts = alerts::Handle::default();
        alerts.install(c);
        let bus_link = dbus::Link::default();
        if needs_firewall(c) && c.global.nftables.is_none() {
            info!("use_vmac or no_accept/strict specified, but no firewall configured - using nftables");
        }
        let fw = nft::Firewall::new(firewall_config(c));
        let local_igmp = if c.global.disable_local_igmp {
            net::sysctl::LocalIgmp::disable()
        } else {
            Default::default()
        };
        let rp_filter = if has_ipv4_vmac(c) {
            net::sysctl::RpFilter::clear()
        } else {
            Default::default()
        };
        let mut promote = net::sysctl::PromoteSecondaries::default();
        promote.apply(promote_secondaries_ifaces(c));
        // VMACs first, so the monitor does not report their creation as link events.
        let mut vmacs = vmac::Vmacs::default();
        let made = host_with_vmacs(&nl, c, &mut vmacs).await?;
        let mut mon = Monitor::with_rcvbuf(net::RcvBuf::configured(
            c.global.vrrp_netlink_monitor_rcv_bufs.size,
            c.global.vrrp_netlink_monitor_rcv_bufs.force,
        ))
        .map_err(|e| ServiceError::fatal(e.to_string()))?;
        // Re-read once the monitor listens, so that nothing changes unseen in between.
        let mut h = host(&nl).await?;
        h.vmacs = made.vmacs;
        h.failed = made.failed;
        let vmacs = Rc::new(tokio::sync::Mutex::new(vmacs));
        mon.seed(&h.links);
        let spacing = Rc::new(RefCell::new(spacing_of(c)));
        let debounce = Rc::new(RefCell::new(Debounce::new(delays_of(c))));
        let garp = match PacketSocket::sender() {
            Ok(s) => Some(GarpSender::new(s, spacing.clone())),
            Err(e) => {
                info!("Unable to open the GARP socket: {e}");
                None
            }
        };
        let ifmap = Rc::new(RefCell::new(h.ifmap()));
        let statics = engine::statics_of(c, &ifmap.borrow());
        let (syncd, ipvs, mut io) = syncd_start(c)?;
        let (track_tx, track_rx) = mpsc::unbounded_channel();
        let bfd_task = self
            .bfd_events
            .take()
            .map(|fd| tokio::task::spawn_local(bfd_loop(fd, track_tx.clone())));
        let tracking = Tracking::start(c, track_tx);
        let epoch = tokio::time::Instant::now();
        let traps = snmp::Traps::default();
        let snmp_cfg = self.snmp_config(c);
        let snmp_start = snmp_cfg.as_ref().and_then(|sc| start_snmp(sc, &traps));
        let notifies = Notifies {
            alerts: alerts.clone(),
            bus: bus_link.clone(),
            traps: traps.clone(),
        };
        let mut eng = Engine::new(c, ifmap, statics, syncd, Box::new(notifies));
        let now = machine::Instant(epoch.elapsed());
        // Static addresses, routes and rules first.
        io.extend(eng.start_io(now, c, &h));
        log_channels(c, &h, garp.is_some());
        // The start-up FAULT lines come out in keepalived's order (vrrp::startlog).
        super::startlog::begin();
        tracking.log_start();
        eng.build_instances(now, c, &h, &tracking);
        let (io_tx, io_rx) = mpsc::unbounded_channel();
        let engine = Rc::new(RefCell::new(eng));
        let sh = Shared {
            engine: engine.clone(),
            epoch,
            tracking: Rc::new(RefCell::new(tracking)),
            socks: Rc::new(RefCell::new(Sockets::default())),
            io_tx,
            wake: Rc::new(Notify::new()),
        };
        wire_sockets(&sh);
        {
            // The machines' first actions: remove leftover VIPs, notifies.
            let tracking = sh.tracking.borrow();
            engine.borrow_mut().start(now, c, &h, &*tracking, &mut io);
            let names: Vec<&str> = c.vrrp.instances.iter().map(|i| i.name.as_str()).collect();
            let mut links: Vec<(u32, &str)> = h
                .links
                .iter()
                .map(|l| (l.ifindex, l.name.as_str()))
                .collect();
            links.sort_unstable();
            let ifaces: Vec<&str> = links.into_iter().map(|l| l.1).collect();
            super::startlog::flush(&names, &ifaces);
        }
        log_sockpool(&sh);
        let io_task = tokio::task::spawn_local(io_loop(io_rx, nl.clone(), garp, ipvs, fw));
        sh.submit(io);
        let mut tasks = vec![
            tokio::task::spawn_local(timer_loop(sh.clone())),
            tokio::task::spawn_local(monitor_loop(
                mon,
                sh.clone(),
                nl.clone(),
                h.links.clone(),
                vmacs.clone(),
                debounce.clone(),
            )),
            tokio::task::spawn_local(tracking_loop(track_rx, sh.clone())),
        ];
        tasks.extend(bfd_task);
        if !engine.borrow().polled.is_empty() {
            info!("Using MII-BMSR/ETHTOOL NIC polling thread(s)...");
            tasks.push(tokio::task::spawn_local(linkbeat_loop(
                sh.clone(),
                nl.clone(),
                h.links.clone(),
            )));
        }
        if let Some(addr) = c.global.metrics_address {
            match std::net::TcpListener::bind(addr).and_then(|l| {
                l.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(l)
            }) {
                Ok(listener) => {
                    let eng = engine.clone();
                    let socks = sh.socks.clone();
                    let tracking = sh.tracking.clone();
                    let text: Rc<dyn Fn() -> String> = Rc::new(move || {
                        if let (Ok(mut e), Ok(mut s)) =
                            (eng.try_borrow_mut(), socks.try_borrow_mut())
                        {
                            s.sync_kernel_drops(&mut e.rx);
                        }
                        let (Ok(e), Ok(tr)) = (eng.try_borrow(), tracking.try_borrow()) else {
                            return String::new();
                        };
                        metrics_text(&e, &tr)
                    });
                    tasks.push(tokio::task::spawn_local(crate::metrics_http::serve(
                        listener, text,
                    )));
                }
                Err(e) => tracing::error!("Cannot serve metrics on {addr}: {e}"),
            }
        }
        let mut run = Running {
            engine,
            sh,
            nl,
            tasks,
            io_task,
            vmacs,
            alerts,
            rp_filter,
            promote,
            local_igmp,
            spacing,
            debounce,
            bus_link,
            bus: None,
            traps,
            snmp: None,
        };
        if let (Some((session, asks)), Some(sc)) = (snmp_start, snmp_cfg) {
            run.snmp = Some(answer_snmp(&run, sc, session, asks));
        }
        if c.global.enable_dbus {
            run.bus = Some(start_bus(
                &run,
                c,
                self.namespace_arg.as_deref(),
                self.requests.0.clone(),
            ));
        }
        self.run = Some(run);
        self.log_dump();
        Ok(())
    }

    async fn reload(&mut self, cfg: &ChildConfig) -> Result<(), ServiceError> {
        let snmp_cfg = self.snmp_config(&cfg.loaded.config);
        let Some(run) = &mut self.run else {
            return self.start(cfg).await;
        };
        let c = &cfg.loaded.config;
        if let Some(why) = &c.vrrp.fatal {
            return Err(ServiceError::config(why.clone()));
        }
        if !run.rp_filter.active() && has_ipv4_vmac(c) {
            run.rp_filter = net::sysctl::RpFilter::clear();
        }
        run.promote.apply(promote_secondaries_ifaces(c));
        let h = host_with_vmacs(&run.nl, c, &mut *run.vmacs.lock().await).await?;
        log_assigned(c, &h);
        *run.spacing.borrow_mut() = spacing_of(c);
        run.debounce.borrow_mut().set_delays(delays_of(c));
        run.alerts.install(c);
        let now = run.sh.now();
        if let Some(b) = &run.bus {
            let paths = b.bus.paths();
            let before = run
                .engine
                .borrow()
                .instances
                .iter()
                .map(|i| paths.of(&i.cfg))
                .collect::<Vec<_>>();
            run.bus_link.hold(before);
        }
        let io = {
            let mut tracking = run.sh.tracking.borrow_mut();
            run.engine.borrow_mut().reload(now, c, &h, &mut *tracking)
        };
        wire_sockets(&run.sh);
        run.sh.submit(io);
        log_sockpool(&run.sh);
        run.flush().await;
        // keepalived keeps its subagent across reloads (it neither starts nor stops one
        // then); the objects and the traps follow the new configuration.
        if let (Some(s), Some(sc)) = (&run.snmp, snmp_cfg) {
            run.traps.set(snmp::sender(&sc, s.session.notifier()));
            *s.config.borrow_mut() = Rc::new(sc);
        }
        // keepalived starts or stops its D-Bus thread when enable_dbus appears or goes; a
        // kept bus follows the instances (the removed ones' notifies are already queued).
        match (run.bus.take(), c.global.enable_dbus) {
            (Some(b), true) => {
                b.bus.reloaded();
                run.bus = Some(b);
            }
            (Some(b), false) => {
                b.bus.stop().await;
                b.answers.abort();
            }
            (None, true) => {
                run.bus = Some(start_bus(
                    run,
                    c,
                    self.namespace_arg.as_deref(),
                    self.requests.0.clone(),
                ))
            }
            (None, false) => {}
        }
        self.log_dump();
        Ok(())
    }

    fn stop_first(&mut self) {
        let Some(run) = &self.run else { return };
        if self.dont_release {
            return;
        }
        let Ok(mut eng) = run.engine.try_borrow_mut() else {
            return;
        };
        // Each advert leaves as soon as it is built: the first backup need not wait for
        // the 500th packet.
        let mut io = Vec::new();
        for inst in &mut eng.instances {
            inst.release_first(&mut io);
            for i in io.drain(..) {
                if let Io::Send {
                    key,
                    pkt,
                    dst,
                    iname,
                } = i
                {
                    // A full socket: queued first, ahead of the shutdown's work.
                    if let Some(job) = run.sh.send_now(key, pkt, dst, iname) {
                        let _ = run.sh.io_tx.send(job);
                    }
                }
            }
        }
    }

    async fn shutdown(&mut self) {
        let Some(run) = self.run.take() else { return };
        for t in &run.tasks {
            t.abort();
        }
        run.sh.tracking.borrow_mut().stop();
        for t in run.sh.socks.borrow().receivers.values() {
            t.abort();
        }
        let mut io = run
            .engine
            .borrow_mut()
            .shutdown(run.sh.now(), self.dont_release);
        if !self.dont_release {
            io.push(Io::FirewallClose);
        }
        run.sh.submit(io);
        run.flush().await;
        run.io_task.abort();
        run.alerts.finish().await;
        // After the instances' STOP notifies: objects go, then VrrpStopped.
        if let Some(s) = run.snmp {
            run.traps.set(None);
            s.session.stop(std::time::Duration::from_secs(1)).await;
            s.answers.abort();
        }
        if let Some(b) = run.bus {
            b.bus.stop().await;
            b.answers.abort();
        }
        // VMACs go last, after the VIPs on them.
        run.vmacs.lock().await.remove_unused(&run.nl, &[]).await;
        let mut rp_filter = run.rp_filter;
        rp_filter.restore();
        let mut promote = run.promote;
        promote.restore();
        let mut local_igmp = run.local_igmp;
        local_igmp.restore();
    }

    fn data_dump(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "------< VRRP Topology >------");
        if let Some(run) = &self.run {
            if let (Ok(eng), Ok(tracking)) = (run.engine.try_borrow(), run.sh.tracking.try_borrow())
            {
                for i in &eng.instances {
                    s.push_str(&i.data_text());
                    s.push_str(&tracking.instance_text(i.name()));
                }
                s.push_str(&tracking.data_text());
            }
        }
        s
    }

    fn stats_dump(&mut self, clear: bool) -> String {
        let mut s = String::new();
        if let Some(run) = &self.run {
            if let Ok(mut eng) = run.engine.try_borrow_mut() {
                // Not in keepalived: read before a clear resets them (machine.rs,
                // Action::LowerPrioUnanswered).
                if let Ok(mut socks) = run.sh.socks.try_borrow_mut() {
                    socks.sync_kernel_drops(&mut eng.rx);
                }
                let mut unanswered = String::from("Lower Priority Adverts Unanswered:\n");
                for i in &mut eng.instances {
                    s.push_str(&i.stats.to_text(&i.cfg.name));
                    let _ = writeln!(
                        unanswered,
                        "  {}: {}",
                        i.cfg.name, i.stats.lower_prio_unanswered
                    );
                    if clear {
                        i.stats = Default::default();
                    }
                }
                s.push_str(&unanswered);
                // Not in keepalived: every socket's packets by outcome (rxguard.rs).
                s.push_str(&eng.rx.to_text());
                if clear {
                    eng.rx = RxStats::default();
                }
            }
        }
        s
    }

    async fn request(&mut self) -> Request {
        match self.requests.1.recv().await {
            Some(r) => r,
            // Never closed: the service holds a sender.
            None => std::future::pending().await,
        }
    }

    fn json_dump(&self) -> serde_json::Value {
        let Some(eng) = self.run.as_ref().and_then(|r| r.engine.try_borrow().ok()) else {
            return serde_json::Value::Array(Vec::new());
        };
        let list: Vec<serde_json::Value> = eng.instances.iter().map(Instance::to_json).collect();
        if eng.globals.json_version < 2 {
            return serde_json::Value::Array(list);
        }
        // keepalived 2.2.8's json_version 2: the instances are named, tracked processes
        // follow when there are any (vrrp_json.c)
        let mut top = serde_json::Map::new();
        top.insert("vrrp".into(), serde_json::Value::Array(list));
        let procs = self
            .run
            .as_ref()
            .and_then(|r| r.sh.tracking.try_borrow().ok())
            .map(|t| t.processes_json())
            .unwrap_or_default();
        if !procs.is_empty() {
            top.insert("track_process".into(), serde_json::Value::Array(procs));
        }
        serde_json::Value::Object(top)
    }

    fn status(&self) -> serde_json::Value {
        let Some(eng) = self.run.as_ref().and_then(|r| r.engine.try_borrow().ok()) else {
            return serde_json::json!({ "instances": [], "sync_groups": [] });
        };
        let names: Vec<&str> = eng.instances.iter().map(Instance::name).collect();
        let groups: Vec<&str> = eng.group_names();
        let states: serde_json::Map<String, serde_json::Value> = eng
            .instances
            .iter()
            .map(|i| {
                (
                    i.name().to_owned(),
                    serde_json::json!({
                        "state": i.machine.state().as_str(),
                        "priority": i.machine.effective_priority(),
                    }),
                )
            })
            .collect();
        serde_json::json!({ "instances": names, "sync_groups": groups, "states": states,
            "tracking": self.run.as_ref().and_then(|r| r.sh.tracking.try_borrow().ok())
                .map(|t| t.to_json()).unwrap_or_default() })
    }
}

impl TrackState for Tracking {
    fn initial(&self, target: &Target) -> Vec<machine::TrackChange> {
        Tracking::initial(self, target)
    }
    fn reload(&mut self, c: &Config) -> Vec<(Target, machine::TrackChange)> {
        Tracking::reload(self, c)
    }
}
