//! The BFD child's `Service` (keepalived's `Keepalived_bfd`): moves bytes and time between
//! the sockets and the pure [`Table`]. One task per listening socket (3784, and 4784 while a
//! multihop session exists) feeds the table, one waits for the earliest session deadline;
//! packets are sent at once from the session's own socket. A reload keeps sessions of the
//! same name (state, discriminators, timers) and opens or closes listening sockets as needed.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use tracing::{error, info, warn};

use crate::bfd::event::{Event, EventSink};
use crate::bfd::packet::{PORT_MULTIHOP, PORT_SINGLE_HOP};
use crate::bfd::session::{Action, Detail, Instant, Level, State};
use crate::bfd::socket::{Listener, Sender};
use crate::bfd::table::Table;
use crate::config::model::vrrp::track::BfdInstance;
use crate::service::{ChildConfig, Service, ServiceError};

/// Largest datagram read; anything longer is not a control packet keepalived accepts.
const BUF_LEN: usize = 1024;
/// How often an AdminDown session retries its sending socket (keepalived: 60 s).
const RETRY_OPEN: std::time::Duration = std::time::Duration::from_secs(60);

struct Core {
    table: Table,
    senders: Vec<Option<Sender>>,
    /// Whether the last send of a session failed (logged once, as keepalived).
    send_error: Vec<bool>,
    /// When each AdminDown session next tries to open its socket.
    retry_at: Vec<Option<Instant>>,
    /// Draws the first source port tried for each sending socket.
    port_seed: u32,
    epoch: std::time::Instant,
    events: EventSink,
}

impl Core {
    fn now(&self) -> Instant {
        Instant(self.epoch.elapsed())
    }

    fn apply(&mut self, acts: Vec<(usize, Action)>) {
        for (i, a) in acts {
            match a {
                Action::Send(c) => self.send(i, &c.encode()),
                Action::Event { up } => {
                    if let Some(e) = self.table.entries.get(i) {
                        let ev = Event {
                            name: e.session.name.clone(),
                            up,
                            sent_us: crate::bfd::event::now_us(),
                        };
                        self.events.send(&ev, e.vrrp, e.checker);
                    }
                }
                Action::Log(l) => {
                    let shown = match l.detail {
                        Detail::Always => true,
                        Detail::Detail => crate::log::detail() > 0,
                        Detail::Extra => crate::log::detail() > 1,
                    };
                    if shown {
                        match l.level {
                            Level::Info => info!("{}", l.text),
                            Level::Warning => warn!("{}", l.text),
                        }
                    }
                }
            }
        }
    }

    fn send(&mut self, i: usize, buf: &[u8]) {
        let Some(Some(s)) = self.senders.get(i) else {
            return;
        };
        let res = s.send(buf);
        let failed = self.send_error.get(i).copied().unwrap_or(false);
        match res {
            Err(e) => {
                if !failed {
                    error!("sendto() error ({e})");
                    if let Some(entry) = self.table.entries.get(i) {
                        error!("({}) Error sending packet", entry.session.name);
                    }
                }
                if let Some(f) = self.send_error.get_mut(i) {
                    *f = true;
                }
            }
            Ok(_) => {
                if let Some(f) = self.send_error.get_mut(i) {
                    *f = false;
                }
            }
        }
    }

    /// Opens session `i`'s sending socket, logging why it cannot (keepalived's
    /// `bfd_open_fd_out` lines).
    fn open_sender(&mut self, i: usize) -> Option<Sender> {
        let e = self.table.entries.get(i)?;
        // keepalived draws the first source port at random and walks up from it while ports
        // are taken; a per-process sequence spreads the sessions the same way.
        self.port_seed = self
            .port_seed
            .wrapping_mul(1_103_515_245)
            .wrapping_add(12345);
        let first = 49152 + (self.port_seed >> 8) as u16 % 16384;
        let port = if e.multihop {
            PORT_MULTIHOP
        } else {
            PORT_SINGLE_HOP
        };
        match Sender::open(e.neighbor, port, e.source, e.ttl, first) {
            Ok(s) => Some(s),
            Err(err) => {
                error!("({}) {err}", e.session.name);
                None
            }
        }
    }

    /// (Re)opens every session's sending socket (keepalived reopens them at a reload). A
    /// session whose socket cannot be opened goes AdminDown and is retried every minute
    /// and when its peer's packets come.
    fn open_senders(&mut self) {
        let now = self.now();
        let n = self.table.entries.len();
        self.senders = (0..n).map(|_| None).collect();
        self.send_error = vec![false; n];
        self.retry_at = vec![None; n];
        for i in 0..n {
            match self.open_sender(i) {
                Some(s) => {
                    self.senders[i] = Some(s);
                    self.admin_up(i, now, false);
                }
                None => {
                    let e = &mut self.table.entries[i];
                    if e.session.local_state != State::AdminDown {
                        error!(
                            "({}) Unable to open output socket, disabling instance",
                            e.session.name
                        );
                        let acts = e.session.admin_down();
                        self.apply(acts.into_iter().map(|a| (i, a)).collect());
                    }
                    self.retry_at[i] = Some(now + RETRY_OPEN);
                }
            }
        }
    }

    fn admin_up(&mut self, i: usize, now: Instant, by_packet: bool) {
        let acts = self.table.admin_up(i, now, by_packet);
        self.apply(acts.into_iter().map(|a| (i, a)).collect());
    }

    /// Retries the sockets of AdminDown sessions that are due.
    fn retry_senders(&mut self, now: Instant) {
        for i in 0..self.retry_at.len() {
            if self.retry_at[i].is_some_and(|t| t <= now) {
                self.retry_sender(i, now, false);
            }
        }
    }

    fn retry_sender(&mut self, i: usize, now: Instant, by_packet: bool) {
        match self.open_sender(i) {
            Some(s) => {
                self.senders[i] = Some(s);
                self.retry_at[i] = None;
                self.admin_up(i, now, by_packet);
            }
            None => self.retry_at[i] = Some(now + RETRY_OPEN),
        }
    }

    /// The earliest session timer or socket retry.
    fn next_deadline(&self) -> Option<Instant> {
        self.retry_at
            .iter()
            .flatten()
            .copied()
            .chain(self.table.next_deadline())
            .min()
    }

    fn receive(&mut self, multihop: bool, d: crate::bfd::socket::Datagram, buf: &[u8]) {
        let now = self.now();
        // An AdminDown session tries its socket again when its peer speaks (keepalived).
        if let Some(i) = self.table.session_for(multihop, d.src, d.dst, buf) {
            if self.senders.get(i).is_some_and(Option::is_none) {
                self.retry_sender(i, now, true);
            }
        }
        match self
            .table
            .receive(now, multihop, d.src, d.sport, d.dst, d.ttl, buf)
        {
            Ok((i, acts)) => self.apply(acts.into_iter().map(|a| (i, a)).collect()),
            Err(why) => {
                if crate::log::detail() > 0 {
                    for line in why.to_string().lines() {
                        error!("{line}");
                    }
                }
            }
        }
    }
}

/// The task reading a listening socket (it owns the socket).
struct Listening {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The BFD child's service.
pub struct BfdService {
    dump_conf: bool,
    core: Option<Rc<RefCell<Core>>>,
    /// Single-hop (3784) and multihop (4784) listening sockets, open while needed.
    single: Option<Listening>,
    multi: Option<Listening>,
    wake: Rc<tokio::sync::Notify>,
    task: Option<tokio::task::JoinHandle<()>>,
    events: Option<EventSink>,
}

impl BfdService {
    /// `events`: where state changes go (the pipes to the VRRP child and the checker).
    pub fn new(dump_conf: bool, events: EventSink) -> BfdService {
        BfdService {
            dump_conf,
            core: None,
            single: None,
            multi: None,
            wake: Rc::new(tokio::sync::Notify::new()),
            task: None,
            events: Some(events),
        }
    }

    fn instances(cfg: &ChildConfig) -> &[BfdInstance] {
        &cfg.loaded.config.vrrp.bfd_instances
    }

    /// Opens the listening sockets the sessions need and closes the others (keepalived 2.2.8
    /// keeps an open one across a reload). Returns false when every needed one failed.
    fn listen(&mut self, instances: &[BfdInstance]) -> bool {
        let Some(core) = self.core.clone() else {
            return false;
        };
        let need_multi = instances.iter().any(|b| b.multihop);
        let need_single = instances.iter().any(|b| !b.multihop);
        let mut failed = 0;
        for (multihop, need) in [(false, need_single), (true, need_multi)] {
            let slot = if multihop {
                &mut self.multi
            } else {
                &mut self.single
            };
            if !need {
                *slot = None;
                continue;
            }
            if slot.is_some() {
                continue;
            }
            let port = if multihop {
                PORT_MULTIHOP
            } else {
                PORT_SINGLE_HOP
            };
            match Listener::open(port) {
                Ok(l) => {
                    let task = tokio::task::spawn_local(receive_loop(
                        core.clone(),
                        l,
                        multihop,
                        self.wake.clone(),
                    ));
                    *slot = Some(Listening { task });
                }
                Err(e) => {
                    error!("bind() error {} ({e})", e.raw_os_error().unwrap_or(0));
                    if multihop {
                        error!("Unable to open multihop listening socket");
                    } else {
                        error!("Unable to open listening socket");
                    }
                    failed += 1;
                }
            }
        }
        failed == 0 || failed < usize::from(need_single) + usize::from(need_multi)
    }
}

/// Reads one listening socket into the table, then wakes the timer task (deadlines move).
async fn receive_loop(
    core: Rc<RefCell<Core>>,
    listener: Listener,
    multihop: bool,
    wake: Rc<tokio::sync::Notify>,
) {
    let mut buf = vec![0u8; BUF_LEN];
    loop {
        let mut next = listener.recv(&mut buf).await;
        // Drain what is queued, bounded so timers are never starved.
        for _ in 0..64 {
            match next {
                Ok(Some(d)) => {
                    let len = d.len.min(buf.len());
                    core.borrow_mut()
                        .receive(multihop, d, buf.get(..len).unwrap_or_default());
                }
                Ok(None) => break,
                Err(e) => {
                    error!("recvmsg() error ({e})");
                    break;
                }
            }
            next = listener.try_recv(&mut buf);
        }
        wake.notify_one();
    }
}

/// Runs the sessions' timers.
async fn timer_loop(core: Rc<RefCell<Core>>, wake: Rc<tokio::sync::Notify>) {
    loop {
        let (deadline, epoch) = {
            let c = core.borrow();
            (c.next_deadline(), c.epoch)
        };
        let sleep = async {
            match deadline {
                Some(t) => {
                    tokio::time::sleep_until(tokio::time::Instant::from_std(epoch + t.0)).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep => {}
            _ = wake.notified() => {}
        }
        let mut c = core.borrow_mut();
        let now = c.now();
        c.retry_senders(now);
        let acts = c.table.poll(now);
        c.apply(acts);
    }
}

impl Service for BfdService {
    async fn start(&mut self, cfg: &ChildConfig) -> Result<(), ServiceError> {
        log_config(self.dump_conf, Self::instances(cfg));
        let epoch = std::time::Instant::now();
        let seed = u64::from(std::process::id()).rotate_left(32)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
        let core = Rc::new(RefCell::new(Core {
            table: Table::new(seed),
            senders: Vec::new(),
            send_error: Vec::new(),
            retry_at: Vec::new(),
            port_seed: std::process::id() ^ epoch.elapsed().subsec_nanos(),
            epoch,
            events: self.events.take().unwrap_or_default(),
        }));
        self.core = Some(core.clone());
        // There is no point staying alive without a listening socket (keepalived).
        if !self.listen(Self::instances(cfg)) {
            self.core = None;
            return Err(ServiceError::fatal("Unable to open listening socket"));
        }
        {
            // Sockets before the first packets: the table's start sends at once.
            let mut c = core.borrow_mut();
            let now = c.now();
            let (acts, _) = c.table.configure(now, Self::instances(cfg));
            c.open_senders();
            c.apply(acts);
        }
        self.task = Some(tokio::task::spawn_local(timer_loop(
            core,
            self.wake.clone(),
        )));
        Ok(())
    }

    async fn reload(&mut self, cfg: &ChildConfig) -> Result<(), ServiceError> {
        log_config(self.dump_conf, Self::instances(cfg));
        if let Some(core) = self.core.clone() {
            {
                let mut c = core.borrow_mut();
                let now = c.now();
                let (acts, _) = c.table.configure(now, Self::instances(cfg));
                c.open_senders();
                c.apply(acts);
            }
            self.listen(Self::instances(cfg));
        }
        self.wake.notify_one();
        Ok(())
    }

    async fn shutdown(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.single = None;
        self.multi = None;
        self.core = None;
    }

    fn data_dump(&self) -> String {
        let Some(core) = &self.core else {
            return String::new();
        };
        let c = core.borrow();
        let mut s = String::from("------< BFD Topology >------\n");
        for e in &c.table.entries {
            let b = &e.session;
            let p = &b.params;
            let _ = writeln!(s, " BFD Instance = {}", b.name);
            let _ = writeln!(s, "   Neighbor IP = {}", e.neighbor);
            if let Some(src) = e.source {
                let _ = writeln!(s, "   Source IP = {src}");
            }
            let _ = writeln!(s, "   Required min RX interval = {} us", p.min_rx);
            let _ = writeln!(s, "   Desired min TX interval = {} us", p.min_tx);
            let _ = writeln!(s, "   Desired idle TX interval = {} us", p.idle_tx);
            let _ = writeln!(s, "   Detection multiplier = {}", p.detect_mult);
            let ttl = if e.neighbor.is_ipv4() {
                "TTL"
            } else {
                "hoplimit"
            };
            let _ = writeln!(s, "   {ttl} = {}", e.ttl);
            let _ = writeln!(s, "   max_hops = {}", e.max_hops);
            let _ = writeln!(s, "   passive = {}", p.passive);
            let yn = |v: bool| if v { "Yes" } else { "No" };
            let _ = writeln!(s, "   send event to VRRP process = {}", yn(e.vrrp));
            let _ = writeln!(s, "   send event to checker process = {}", yn(e.checker));
            let _ = writeln!(s, "   local state = {}", b.local_state.name());
            let _ = writeln!(s, "   remote state = {}", b.remote_state.name());
            let _ = writeln!(s, "   local discriminator = 0x{:x}", b.local_discr);
            let _ = writeln!(s, "   remote discriminator = 0x{:x}", b.remote_discr);
            let _ = writeln!(s, "   local diag = {}", b.local_diag.name());
            let _ = writeln!(s, "   remote diag = {}", b.remote_diag.name());
            let _ = writeln!(s, "   remote min tx intv = {} us", b.remote_min_tx);
            let _ = writeln!(s, "   remote min rx intv = {} us", b.remote_min_rx);
            let _ = writeln!(s, "   remote detect multiplier = {}", b.remote_detect_mult);
            let _ = writeln!(
                s,
                "   {}poll, {}final",
                if b.poll { "" } else { "!" },
                if b.final_ { "" } else { "!" }
            );
            let _ = writeln!(s, "   local tx intv = {} us", b.local_tx_intv);
            let _ = writeln!(s, "   remote tx intv = {} us", b.remote_tx_intv);
            let _ = writeln!(s, "   local detection time = {} us", b.local_detect_time);
            let _ = writeln!(s, "   remote detection time = {} us", b.remote_detect_time);
        }
        s
    }

    fn stats_dump(&mut self, _clear: bool) -> String {
        String::new()
    }

    fn json_dump(&self) -> serde_json::Value {
        self.status()
    }

    fn status(&self) -> serde_json::Value {
        let Some(core) = &self.core else {
            return serde_json::Value::Null;
        };
        let c = core.borrow();
        let sessions: serde_json::Map<String, serde_json::Value> = c
            .table
            .entries
            .iter()
            .map(|e| {
                (
                    e.session.name.clone(),
                    serde_json::json!({
                        "neighbor": e.neighbor.to_string(),
                        "state": e.session.local_state.name(),
                        "remote_state": e.session.remote_state.name(),
                        "up": e.session.local_state == State::Up,
                        "detection_time_us": e.session.local_detect_time,
                    }),
                )
            })
            .collect();
        serde_json::json!({ "sessions": sessions })
    }
}

/// `-d`: the configuration in the log, line by line.
fn log_config(dump_conf: bool, instances: &[BfdInstance]) {
    if dump_conf {
        for line in dump_config(instances).lines() {
            info!("{line}");
        }
    }
}

/// The configuration as keepalived dumps it at start.
fn dump_config(instances: &[BfdInstance]) -> String {
    let mut s = String::from("------< BFD Topology >------\n");
    for b in instances {
        let _ = writeln!(s, " BFD Instance = {}", b.name);
        if let Some(n) = b.neighbor {
            let _ = writeln!(s, "   Neighbor IP = {n}");
        }
        if let Some(src) = b.source {
            let _ = writeln!(s, "   Source IP = {src}");
        }
        let _ = writeln!(s, "   Required min RX interval = {} us", b.min_rx_us);
        let _ = writeln!(s, "   Desired min TX interval = {} us", b.min_tx_us);
        let _ = writeln!(s, "   Desired idle TX interval = {} us", b.idle_tx_us);
        let _ = writeln!(s, "   Detection multiplier = {}", b.multiplier);
    }
    s
}
