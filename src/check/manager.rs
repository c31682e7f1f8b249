//! The checker child's decisions, with no sockets
//! and no clock: check results and track-file values in, IPVS operations, log lines,
//! scripts, FIFO lines and mails out.
//!
//! * [`Manager::start`] adds the services' destinations as keepalived does at startup.
//! * [`Manager::poll_timeout`] / [`Manager::due`] say which checkers to run and when
//!   (`warmup`, `delay_loop`, `delay_before_retry`).
//! * [`Manager::handle_result`] applies retry/alpha semantics, takes real servers up and
//!   down, changes weights (MISC_CHECK `misc_dynamic`), evaluates quorum with hysteresis
//!   and swaps the sorry server in and out.
//! * [`Manager::poll_output`] drains what to do.
#![forbid(unsafe_code)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use super::probe::CheckResult;
pub use crate::clock::Instant;
use crate::config::model::check::checker::CheckerKind;
use crate::config::model::check::{
    CheckConfig, Forwarding, RealServer, SvcDisplay, TunnelCsum, TunnelType, VsAddr,
};
use crate::config::model::Script;
use crate::ipvs::{Dest, Fwd, TunnelType as IpvsTunnel};

/// One checker: virtual server, real server and checker indices in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckerId {
    pub vs: usize,
    pub rs: usize,
    pub checker: usize,
}

/// A change to one IPVS service (`vs` indexes `CheckConfig::virtual_servers`; a group
/// service applies it to each of its kernel services).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IpvsOp {
    AddDest { vs: usize, dest: Dest },
    SetDest { vs: usize, dest: Dest },
    DelDest { vs: usize, dest: Dest },
}

/// Something the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A log line (keepalived's wording).
    Log(String),
    Ipvs(IpvsOp),
    /// Run a notify/quorum script.
    Script(Script),
    /// A line for `lvs_notify_fifo` / `notify_fifo` (with its newline).
    Fifo(String),
    /// An smtp_alert mail; the mailer prefixes the subject with `[router_id] `.
    Mail {
        subject: String,
        body: String,
    },
}

/// global_defs settings the decisions depend on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Globals {
    pub smtp_alert_checker: Option<bool>,
    pub smtp_alert: Option<bool>,
    /// `checker_log_all_failures`: every checker logs as with its `log_all_failures`.
    pub checker_log_all_failures: bool,
    /// `no_checker_emails`: a checker's mail only when its real server changes state.
    pub no_checker_emails: bool,
    /// `rs_init_notifies`: real servers up at start run their notifies (script, FIFO).
    pub rs_init_notifies: bool,
}

#[derive(Debug, Clone)]
struct CheckerState {
    up: bool,
    has_run: bool,
    retry_it: u32,
    next: Option<Instant>,
    /// FILE_CHECK weight adjustment.
    adjust: i64,
    /// Timed checkers are scheduled; FILE_CHECK and BFD_CHECK are event driven.
    timed: bool,
    /// HTTP_GET / SSL_GET: the url to fetch next and the one that failed.
    url: usize,
    failed_url: Option<usize>,
}

#[derive(Debug, Clone)]
struct RsState {
    alive: bool,
    /// Present in IPVS (alive, or inhibited at weight 0).
    set: bool,
    /// The configured weight, or the MISC_CHECK dynamic one.
    base_weight: u32,
    failed: u32,
    checkers: Vec<CheckerState>,
    /// Reload: the effective weight before it, for keepalived's `Changing weight` line.
    prev_weight: Option<u32>,
}

#[derive(Debug, Clone)]
struct VsState {
    quorum_up: bool,
    /// The sorry server serves (keepalived's ISALIVE(s_svr)).
    sorry_active: bool,
    /// The sorry server is in IPVS (possibly at weight 0 with `sorry_server_inhibit`).
    sorry_set: bool,
    /// Kept across a reload ([`Manager::adopt_vs`]).
    adopted: bool,
    rss: Vec<RsState>,
}

/// The decision core of the checker child.
#[derive(Debug, Clone)]
pub struct Manager {
    /// The configuration, shared with the service (5,000 real servers are megabytes).
    cfg: Rc<CheckConfig>,
    globals: Globals,
    state: Vec<VsState>,
    out: VecDeque<Output>,
    rng: u64,
    /// Due times of the scheduled checkers, earliest first: an entry counts only while it
    /// equals the checker's `next` (stale ones are dropped when they come up), so that
    /// [`Manager::due`] and [`Manager::poll_timeout`] cost O(log n), not a scan of every
    /// checker at each wakeup (thousands of real servers).
    sched: BinaryHeap<Reverse<(Instant, CheckerId)>>,
}

/// keepalived's register_checkers_thread starts each checker this long (plus its random
/// warmup) after startup (observed with 2.2.7: the first results come a second after).
const BOOTSTRAP_DELAY: Duration = Duration::from_secs(1);

/// A checker keepalived schedules itself (it has a `launch`); FILE_CHECK and BFD_CHECK
/// are event driven.
pub fn timed(kind: &CheckerKind) -> bool {
    !matches!(kind, CheckerKind::File(_) | CheckerKind::Bfd(_))
}

/// IPVS forwarding of a configured method.
pub fn fwd_of(m: Forwarding) -> Fwd {
    match m {
        Forwarding::Nat => Fwd::Masq,
        Forwarding::Dr => Fwd::Route,
        Forwarding::Tun { tunnel, csum } => {
            let (tun_type, port) = match tunnel {
                TunnelType::Ipip => (IpvsTunnel::Ipip, 0),
                TunnelType::Gue { port } => (IpvsTunnel::Gue, port),
                TunnelType::Gre => (IpvsTunnel::Gre, 0),
            };
            let flags = match csum {
                None | Some(TunnelCsum::NoCsum) => 0,
                Some(TunnelCsum::Csum) => 1,
                Some(TunnelCsum::RemCsum) => 2,
            };
            Fwd::Tunnel {
                tun_type,
                port,
                flags,
            }
        }
    }
}

impl Manager {
    /// A manager for the (finished) configuration. `seed` drives the warmup jitter.
    pub fn new(cfg: Rc<CheckConfig>, globals: Globals, seed: u64) -> Manager {
        let state = cfg
            .virtual_servers
            .iter()
            .map(|vs| VsState {
                quorum_up: true,
                sorry_active: false,
                sorry_set: false,
                adopted: false,
                rss: vs
                    .real_servers
                    .iter()
                    .map(|rs| {
                        let checkers: Vec<CheckerState> = rs
                            .checkers
                            .iter()
                            .map(|c| CheckerState {
                                // alpha: start failed until the first success (a
                                // BFD_CHECK's own `alpha`: until its session is Up)
                                up: match &c.kind {
                                    CheckerKind::Bfd(b) => !b.alpha,
                                    k => !(timed(k) && c.timing.alpha.unwrap_or(false)),
                                },
                                has_run: false,
                                // keepalived presets retry_it: before the first result
                                // one failure is enough (observed with 2.2.7: `TCP_CHECK
                                // on service ... failed.` at the first attempt)
                                retry_it: c.timing.retry.unwrap_or(0),
                                next: None,
                                adjust: 0,
                                timed: timed(&c.kind),
                                url: 0,
                                failed_url: None,
                            })
                            .collect();
                        let failed = checkers.iter().filter(|c| !c.up).count() as u32;
                        RsState {
                            alive: failed == 0,
                            set: false,
                            base_weight: rs.weight_or(vs),
                            failed,
                            checkers,
                            prev_weight: None,
                        }
                    })
                    .collect(),
            })
            .collect();
        Manager {
            cfg,
            globals,
            state,
            out: VecDeque::new(),
            rng: seed | 1,
            sched: BinaryHeap::new(),
        }
    }

    fn jitter(&mut self, max: Duration) -> Duration {
        // xorshift64: warmup only needs spreading, not quality
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let ms = max.as_millis() as u64;
        if ms == 0 {
            Duration::ZERO
        } else {
            Duration::from_millis(self.rng % (ms + 1))
        }
    }

    fn log(&mut self, s: String) {
        self.out.push_back(Output::Log(s));
    }

    /// Reload: real server `rs` of virtual server `vs` takes over the state of
    /// `old`'s (`ovs`, `ors`) (its checkers must be identical); its weight comes from the
    /// new configuration. With `vs_too`, the quorum and sorry-server state is kept as well.
    /// Call before [`Manager::start`], which then re-emits only what is needed.
    pub fn adopt(&mut self, old: &Manager, (vs, rs): (usize, usize), (ovs, ors): (usize, usize)) {
        let Some(o) = old.state.get(ovs).and_then(|v| v.rss.get(ors)).cloned() else {
            return;
        };
        let configured = self
            .cfg
            .virtual_servers
            .get(vs)
            .and_then(|v| v.real_servers.get(rs).map(|r| r.weight_or(v)));
        if let Some(st) = self.rs_state_mut(vs, rs) {
            if st.checkers.len() != o.checkers.len() {
                return;
            }
            let base = configured.unwrap_or(o.base_weight);
            *st = o;
            st.base_weight = base;
            st.prev_weight = Some(old.effective_weight(ovs, ors));
        }
    }

    /// Reload: keeps the quorum and sorry-server state of `old`'s virtual server `ovs`.
    pub fn adopt_vs(&mut self, old: &Manager, vs: usize, ovs: usize) {
        let Some(o) = old.state.get(ovs) else { return };
        let (q, a, s) = (o.quorum_up, o.sorry_active, o.sorry_set);
        if let Some(st) = self.state.get_mut(vs) {
            st.quorum_up = q;
            st.sorry_active = a;
            st.sorry_set = s;
            st.adopted = true;
        }
    }

    /// Startup: destinations of alive real servers (inhibited failed ones at weight
    /// 0), quorum, sorry server, and the first check of every checker within `warmup`.
    /// After [`Manager::adopt`], adopted real servers keep their state and schedule.
    pub fn start(&mut self, now: Instant) {
        for v in 0..self.cfg.virtual_servers.len() {
            if self.state.get(v).is_some_and(|s| s.adopted) {
                self.resume_vs(v, now);
                continue;
            }
            // init_service_rs: alive servers in, inhibited failed ones at weight 0
            for r in 0..self.rs_count(v) {
                if self.rs_alive(v, r) {
                    self.ipvs_add(v, r, self.effective_weight(v, r));
                    if self.globals.rs_init_notifies {
                        self.rs_notifies(v, r);
                    }
                } else if self.rs_inhibit(v, r) {
                    self.ipvs_add(v, r, 0);
                }
            }
            // keepalived's set_quorum_states runs before any real server is alive, so
            // every virtual server starts down; update_quorum_state(init) then logs
            // `Gained quorum` when W >= Q+H, and a quorum still down only with a sorry
            // server (observed with 2.2.7)
            let w = self.live_weight(v);
            let (q, h) = self.q_h(v);
            if let Some(st) = self.state.get_mut(v) {
                st.quorum_up = false;
            }
            if w >= q + h {
                self.gain_quorum(v, w, true);
            } else if self.has_sorry(v) {
                self.lose_quorum(v, w, true);
            }
            if self.sorry_inhibit(v) && !self.state.get(v).is_some_and(|s| s.sorry_set) {
                let d = self.sorry_dest(v, 0);
                self.out
                    .push_back(Output::Ipvs(IpvsOp::AddDest { vs: v, dest: d }));
                if let Some(st) = self.state.get_mut(v) {
                    st.sorry_set = true;
                }
            }
            for r in 0..self.rs_count(v) {
                for c in 0..self.checker_count(v, r) {
                    let warm = self.checker_cfg(v, r, c).and_then(|c| c.timing.warmup);
                    let delay = BOOTSTRAP_DELAY + self.jitter(warm.unwrap_or(Duration::ZERO));
                    if let Some(cs) = self.cs_mut(CheckerId {
                        vs: v,
                        rs: r,
                        checker: c,
                    }) {
                        if cs.timed {
                            cs.next = Some(now + delay);
                        }
                    }
                }
            }
        }
        self.rebuild_sched();
    }

    /// Refills [`Manager::sched`] from every checker's `next`.
    fn rebuild_sched(&mut self) {
        self.sched.clear();
        for (vi, vs) in self.state.iter().enumerate() {
            for (ri, rs) in vs.rss.iter().enumerate() {
                for (ci, c) in rs.checkers.iter().enumerate() {
                    if let Some(t) = c.next {
                        let id = CheckerId {
                            vs: vi,
                            rs: ri,
                            checker: ci,
                        };
                        self.sched.push(Reverse((t, id)));
                    }
                }
            }
        }
    }

    /// [`Manager::start`] for a virtual server kept across a reload: re-emits the
    /// destinations that should be in IPVS (the caller skips those already there),
    /// re-evaluates quorum for changed weights, and schedules checkers not yet scheduled.
    fn resume_vs(&mut self, v: usize, now: Instant) {
        let sorry = self.sorry_active(v);
        for r in 0..self.rs_count(v) {
            // init_service_rs: update_svr_wgt for a reloaded server whose weight changed
            let prev = self.rs_state_mut(v, r).and_then(|x| x.prev_weight.take());
            let new = self.effective_weight(v, r);
            if let Some(old) = prev.filter(|&p| p != new) {
                self.log_weight(v, r, old, new);
            }
            let set = self
                .state
                .get(v)
                .and_then(|x| x.rss.get(r))
                .is_some_and(|x| x.set);
            if sorry {
                continue;
            }
            if self.rs_alive(v, r) {
                self.ipvs_add(v, r, self.effective_weight(v, r));
            } else if self.rs_inhibit(v, r) {
                self.ipvs_add(v, r, 0);
            } else if set {
                self.ipvs_del(v, r);
            }
        }
        if sorry {
            let d = self.sorry_dest(v, 1);
            self.out
                .push_back(Output::Ipvs(IpvsOp::AddDest { vs: v, dest: d }));
        } else if self.sorry_inhibit(v) {
            let d = self.sorry_dest(v, 0);
            self.out
                .push_back(Output::Ipvs(IpvsOp::AddDest { vs: v, dest: d }));
            if let Some(st) = self.state.get_mut(v) {
                st.sorry_set = true;
            }
        }
        self.update_quorum(v);
        for r in 0..self.rs_count(v) {
            for c in 0..self.checker_count(v, r) {
                let warm = self.checker_cfg(v, r, c).and_then(|c| c.timing.warmup);
                let delay = BOOTSTRAP_DELAY + self.jitter(warm.unwrap_or(Duration::ZERO));
                let id = CheckerId {
                    vs: v,
                    rs: r,
                    checker: c,
                };
                if let Some(cs) = self.cs_mut(id) {
                    // a check in flight at the reload is dropped: schedule it again
                    if cs.timed && cs.next.is_none() {
                        cs.next = Some(now + delay);
                    }
                }
            }
        }
    }

    /// The next time a checker is due.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((t, id))) = self.sched.peek().copied() {
            if self.cs(id).is_some_and(|c| c.next == Some(t)) {
                return Some(t);
            }
            self.sched.pop();
        }
        None
    }

    /// The checkers due at `now`; they are not rescheduled until their result arrives.
    pub fn due(&mut self, now: Instant) -> Vec<CheckerId> {
        let mut v = Vec::new();
        while let Some(Reverse((t, id))) = self.sched.peek().copied() {
            if t > now {
                break;
            }
            self.sched.pop();
            if let Some(c) = self.cs_mut(id) {
                if c.next == Some(t) {
                    c.next = None;
                    v.push(id);
                }
            }
        }
        // configuration order, as a scan would give
        v.sort_unstable();
        v
    }

    /// The result of one attempt of a timed checker (keepalived's tcp_epilog and
    /// misc_check_child_thread, retry semantics).
    pub fn handle_result(&mut self, now: Instant, id: CheckerId, res: &CheckResult) {
        // a handle on the shared configuration, so that `chk` outlives `&mut self` calls
        // without copying the checker at every result
        let cfg = Rc::clone(&self.cfg);
        let Some(chk) = cfg
            .virtual_servers
            .get(id.vs)
            .and_then(|v| v.real_servers.get(id.rs))
            .and_then(|r| r.checkers.get(id.checker))
        else {
            return;
        };
        let Some(cs) = self.cs(id).cloned() else {
            return;
        };
        let retry = chk.timing.retry.unwrap_or(0);
        let delay_loop = chk.timing.delay_loop.unwrap_or(Duration::from_secs(60));
        let dbr = chk.timing.delay_before_retry.unwrap_or(delay_loop);
        if !cs.up {
            for n in &res.notes {
                self.log(n.clone());
            }
        }
        let next = if let CheckerKind::Http(h) | CheckerKind::Ssl(h) = &chk.kind {
            let t = urls::UrlTiming {
                urls: h.urls.len(),
                retry,
                delay_loop,
                delay_before_retry: dbr,
                fast_recovery: h.fast_recovery,
            };
            self.url_result(id, &chk.kind, &cs, &t, res)
        } else if let CheckerKind::Misc(m) = &chk.kind {
            self.misc_result(id, m, &cs, retry, res);
            if cs.up && !res.up && self.cs(id).is_some_and(|c| c.retry_it > 0) {
                dbr
            } else {
                delay_loop
            }
        } else {
            // keepalived logs each failed attempt of a checker that is up, before its
            // verdict, with `log_all_failures` or `checker_log_all_failures` (check_tcp.c
            // and the others; observed: nothing while the checker is down).
            let logs_all = chk.timing.log_all_failures || self.globals.checker_log_all_failures;
            // DNS_CHECK and SMTP_CHECK log each failure in the server's words, the last
            // one once (check_dns.c, check_smtp.c)
            let own_words = matches!(chk.kind, CheckerKind::Dns(_) | CheckerKind::Smtp(_));
            let last_try = own_words && cs.retry_it >= retry;
            if !res.up && cs.up && logs_all && !last_try {
                self.log_failure_detail(&chk.kind, id, res);
            }
            if res.up || cs.retry_it >= retry {
                if let Some(c) = self.cs_mut(id) {
                    c.retry_it = 0;
                }
                if res.up && (!cs.up || !cs.has_run) {
                    self.log_transition(&chk.kind, true, id, 0);
                    self.update_checker(id, true, res);
                } else if !res.up && (cs.up || !cs.has_run) {
                    if own_words {
                        let reason = res.reason.as_deref().unwrap_or("failed");
                        let line = if matches!(chk.kind, CheckerKind::Smtp(_)) {
                            format!("SMTP_CHECK {reason}")
                        } else {
                            let name = self.chk_display(id);
                            let after = if cs.has_run {
                                format!(" after {retry} retries")
                            } else {
                                String::new()
                            };
                            format!("DNS_CHECK ({name}) {reason}{after}")
                        };
                        self.log(line);
                    } else {
                        let n = if cs.has_run { retry } else { 0 };
                        self.log_transition(&chk.kind, false, id, n);
                    }
                    self.update_checker(id, false, res);
                }
                delay_loop
            } else {
                // keepalived retries even while down or before the first result
                if let Some(c) = self.cs_mut(id) {
                    c.retry_it += 1;
                }
                dbr
            }
        };
        let walks_urls = matches!(chk.kind, CheckerKind::Http(_) | CheckerKind::Ssl(_));
        if let Some(c) = self.cs_mut(id) {
            // an HTTP checker has run after its first full pass or failure (url_result)
            c.has_run |= !walks_urls;
            c.next = Some(now + next);
            self.sched.push(Reverse((now + next, id)));
        }
    }

    /// HTTP_GET / SSL_GET: one url's result ([`urls::step`]); returns the delay to the
    /// next attempt.
    fn url_result(
        &mut self,
        id: CheckerId,
        kind: &CheckerKind,
        cs: &CheckerState,
        t: &urls::UrlTiming,
        res: &CheckResult,
    ) -> Duration {
        let mut st = urls::UrlState {
            url: cs.url,
            failed: cs.failed_url,
            retry_it: cs.retry_it,
            has_run: cs.has_run,
            up: cs.up,
        };
        let step = urls::step(&mut st, t, res.up);
        if step.counted
            && self
                .checker_cfg(id.vs, id.rs, id.checker)
                .is_some_and(|c| c.timing.log_all_failures)
            || self.globals.checker_log_all_failures
        {
            self.log_failure_detail(kind, id, res);
        }
        match step.change {
            Some(urls::Change::Up) => {
                self.log_transition(kind, true, id, 0);
                self.update_checker(id, true, res);
            }
            Some(urls::Change::Down { retries }) => {
                self.log_transition(kind, false, id, retries);
                self.update_checker(id, false, res);
            }
            None => {}
        }
        if let Some(c) = self.cs_mut(id) {
            c.url = st.url;
            c.failed_url = st.failed;
            c.retry_it = st.retry_it;
            c.has_run = st.has_run;
        }
        step.delay
    }

    /// The url the next attempt of HTTP_GET / SSL_GET checker `id` fetches.
    pub fn url_of(&self, id: CheckerId) -> usize {
        self.cs(id).map_or(0, |c| c.url)
    }

    /// The url that took HTTP_GET / SSL_GET checker `id` down, while it still fails.
    pub fn failed_url_of(&self, id: CheckerId) -> Option<usize> {
        self.cs(id).and_then(|c| c.failed_url)
    }

    /// MISC_CHECK's own result handling: dynamic weights, retries only while up.
    fn misc_result(
        &mut self,
        id: CheckerId,
        m: &crate::config::model::check::checker::MiscCheck,
        cs: &CheckerState,
        retry: u32,
        res: &CheckResult,
    ) {
        let subject = self.misc_subject(id);
        if res.up {
            if m.dynamic {
                // 2..255 sets status - 2; 0 restores the configured weight
                let configured = self
                    .rs_cfg(id.vs, id.rs)
                    .map_or(1, |r| r.weight.unwrap_or(1));
                self.set_base_weight(id.vs, id.rs, res.weight.unwrap_or(configured));
            }
            if !cs.up || !cs.has_run {
                self.log(format!(
                    "Misc check for [{subject}] by [{}] succeeded.",
                    shown_prog(m)
                ));
                self.update_checker(id, true, res);
            }
            if let Some(c) = self.cs_mut(id) {
                c.retry_it = 0;
            }
        } else if cs.up || !cs.has_run {
            if cs.retry_it < retry {
                if let Some(c) = self.cs_mut(id) {
                    c.retry_it += 1;
                }
                let logs_all = self
                    .checker_cfg(id.vs, id.rs, id.checker)
                    .is_some_and(|c| c.timing.log_all_failures)
                    || self.globals.checker_log_all_failures;
                if logs_all {
                    // keepalived: the scheduled check announces the retries, then each
                    // failed retry but the last says which it was
                    let n = cs.retry_it + 1;
                    let tail = if n == 1 {
                        format!(", will do {retry} {}", retries(retry))
                    } else {
                        format!(" on retry {}/{retry}", n - 1)
                    };
                    let (how, why) = misc_failure(res);
                    self.log(format!(
                        "Misc check for [{subject}] by [{}] {how}{tail}{why}.",
                        shown_prog(m),
                    ));
                }
            } else {
                if let Some(c) = self.cs_mut(id) {
                    c.retry_it = 0;
                }
                let tail = match retry {
                    0 => " with retry disabled".to_owned(),
                    n => format!(" after {n} {}", retries(n)),
                };
                let (how, why) = misc_failure(res);
                self.log(format!(
                    "Misc check for [{subject}] by [{}] {how}{tail}{why}.",
                    shown_prog(m),
                ));
                self.update_checker(id, false, res);
            }
        }
    }

    /// A FILE_CHECK's new adjustment (`None` = the file says down).
    pub fn handle_file(&mut self, id: CheckerId, adjust: Option<i64>) {
        let res = match adjust {
            Some(_) => CheckResult::up(),
            None => CheckResult::down("track file"),
        };
        if let Some(a) = adjust {
            let old = self.effective_weight(id.vs, id.rs);
            if let Some(cs) = self.cs_mut(id) {
                cs.adjust = a;
            }
            self.weight_changed(id.vs, id.rs, old);
        }
        self.update_checker(id, adjust.is_some(), &res);
    }

    /// BFD session `name` is Up or not (from the BFD child): every BFD_CHECK naming it
    /// whose state differs, or that has not run yet, follows (keepalived
    /// `bfd_check_handle_event`).
    pub fn handle_bfd(&mut self, name: &str, up: bool) {
        let cfg = Rc::clone(&self.cfg);
        for (v, vs) in cfg.virtual_servers.iter().enumerate() {
            for (r, rs) in vs.real_servers.iter().enumerate() {
                for (i, c) in rs.checkers.iter().enumerate() {
                    let CheckerKind::Bfd(b) = &c.kind else {
                        continue;
                    };
                    if b.name != name {
                        continue;
                    }
                    let id = CheckerId {
                        vs: v,
                        rs: r,
                        checker: i,
                    };
                    let Some(cs) = self.cs(id) else { continue };
                    if cs.up == up && cs.has_run {
                        continue;
                    }
                    self.log(format!(
                        "BFD check of [{name}] RS({}) is {}",
                        self.rs_name(v, r),
                        if up { "UP" } else { "DOWN" }
                    ));
                    self.handle_event(id, up);
                    if let Some(cs) = self.cs_mut(id) {
                        cs.has_run = true;
                    }
                }
            }
        }
    }

    /// An event-driven checker (BFD_CHECK) going up or down.
    pub fn handle_event(&mut self, id: CheckerId, up: bool) {
        let res = if up {
            CheckResult::up()
        } else {
            CheckResult::down("BFD down")
        };
        self.update_checker(id, up, &res);
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        let o = self.out.pop_front();
        // startup queues an output per real server: do not keep that capacity for good
        if o.is_none() && self.out.capacity() > 64 {
            self.out = VecDeque::new();
        }
        o
    }

    /// keepalived's clear_services at shutdown: for virtual servers with `omega`,
    /// every real server in IPVS and alive goes down with its notifies (script, FIFO line,
    /// `=> Shutting down <=` mail), then the quorum-down notifies run. With
    /// `lvs_flush_on_stop` (`rs_too` false) keepalived runs only the virtual server's.
    ///
    /// Without `lvs_flush_on_stop`, every configured real server (set or not, the sorry
    /// server excepted) gets `Shutting down [(inhibited) ]service RS from VS X` first, as
    /// keepalived's clear_service_rs logs them (observed with 2.2.7).
    pub fn stop(&mut self, rs_too: bool) {
        for vs in 0..self.cfg.virtual_servers.len() {
            let omega = self.cfg.virtual_servers.get(vs).is_some_and(|v| v.omega);
            if !omega && !rs_too {
                continue;
            }
            for rs in 0..self.rs_count(vs) {
                if rs_too {
                    let inhibited = self.rs_inhibit(vs, rs) && !self.rs_alive(vs, rs);
                    self.log(format!(
                        "Shutting down {}service {} from VS {}",
                        if inhibited { "(inhibited) " } else { "" },
                        self.rs_name(vs, rs),
                        self.vs_name(vs)
                    ));
                }
                let Some(st) = self.rs_state_mut(vs, rs) else {
                    continue;
                };
                if !omega || !rs_too || !st.set || !st.alive {
                    continue;
                }
                st.alive = false;
                st.set = false;
                self.rs_notifies(vs, rs);
                let mail = self.rs_cfg(vs, rs).is_some_and(|r| {
                    r.smtp_alert_effective(self.globals.smtp_alert_checker, self.globals.smtp_alert)
                });
                if mail {
                    self.out.push_back(Output::Mail {
                        subject: format!(
                            "Realserver {} of virtual server {} - DOWN",
                            self.rs_name(vs, rs),
                            self.vs_name(vs)
                        ),
                        body: "=> Shutting down <=".to_owned(),
                    });
                }
            }
            if !omega {
                continue;
            }
            if let Some(st) = self.state.get_mut(vs) {
                st.quorum_up = false;
            }
            self.quorum_notify(vs, false, "Shutting down");
        }
    }

    /// Reload, on the old manager: keepalived 2.2.7's clear_diff_services lines (observed)
    /// for what `new` no longer has, in the old order. `kept` pairs (new, old) virtual
    /// servers; a real server is kept if its address and port remain.
    pub fn reload_removals(&self, new: &CheckConfig, kept: &[(usize, usize)]) -> Vec<String> {
        let mut v = Vec::new();
        for (ov, old) in self.cfg.virtual_servers.iter().enumerate() {
            let nvs = kept
                .iter()
                .find(|&&(_, o)| o == ov)
                .and_then(|&(n, _)| new.virtual_servers.get(n));
            if nvs.is_none() {
                v.push(match &old.addr {
                    VsAddr::Group(g) => format!("Removing Virtual Server Group [{g}]"),
                    _ => format!("Removing Virtual Server {}", self.vs_name(ov)),
                });
            }
            for (r, rs) in old.real_servers.iter().enumerate() {
                if let Some(n) = nvs {
                    if n.real_servers
                        .iter()
                        .any(|x| x.ip == rs.ip && x.port == rs.port)
                    {
                        continue;
                    }
                    v.push(format!("service {} no longer exist", self.rs_name(ov, r)));
                }
                let st = self.state.get(ov).and_then(|s| s.rss.get(r));
                if st.is_some_and(|x| x.set) {
                    let inhibited = self.rs_inhibit(ov, r) && !self.rs_alive(ov, r);
                    v.push(format!(
                        "Removing {}service {} from VS {}",
                        if inhibited { "(inhibited) " } else { "" },
                        self.rs_name(ov, r),
                        self.vs_name(ov)
                    ));
                }
            }
        }
        v
    }

    pub fn is_alive(&self, vs: usize, rs: usize) -> bool {
        self.rs_alive(vs, rs)
    }

    pub fn quorum_up(&self, vs: usize) -> bool {
        self.state.get(vs).is_some_and(|s| s.quorum_up)
    }

    pub fn sorry_active(&self, vs: usize) -> bool {
        self.state.get(vs).is_some_and(|s| s.sorry_active)
    }

    /// The weight the real server has (or would have) in IPVS when alive.
    pub fn effective_weight(&self, vs: usize, rs: usize) -> u32 {
        let Some(st) = self.state.get(vs).and_then(|v| v.rss.get(rs)) else {
            return 0;
        };
        let adj: i64 = st.checkers.iter().map(|c| c.adjust).sum();
        (i64::from(st.base_weight) + adj).clamp(0, i64::from(i32::MAX)) as u32
    }

    // ------------------------------------------------------------------ internals

    fn cs(&self, id: CheckerId) -> Option<&CheckerState> {
        self.state
            .get(id.vs)?
            .rss
            .get(id.rs)?
            .checkers
            .get(id.checker)
    }

    fn cs_mut(&mut self, id: CheckerId) -> Option<&mut CheckerState> {
        self.state
            .get_mut(id.vs)?
            .rss
            .get_mut(id.rs)?
            .checkers
            .get_mut(id.checker)
    }

    fn rs_state_mut(&mut self, vs: usize, rs: usize) -> Option<&mut RsState> {
        self.state.get_mut(vs)?.rss.get_mut(rs)
    }

    fn rs_count(&self, vs: usize) -> usize {
        self.state.get(vs).map_or(0, |v| v.rss.len())
    }

    fn checker_count(&self, vs: usize, rs: usize) -> usize {
        self.state
            .get(vs)
            .and_then(|v| v.rss.get(rs))
            .map_or(0, |r| r.checkers.len())
    }

    fn rs_cfg(&self, vs: usize, rs: usize) -> Option<&RealServer> {
        self.cfg.virtual_servers.get(vs)?.real_servers.get(rs)
    }

    fn checker_cfg(
        &self,
        vs: usize,
        rs: usize,
        c: usize,
    ) -> Option<&crate::config::model::check::Checker> {
        self.rs_cfg(vs, rs)?.checkers.get(c)
    }

    fn rs_alive(&self, vs: usize, rs: usize) -> bool {
        self.state
            .get(vs)
            .and_then(|v| v.rss.get(rs))
            .is_some_and(|r| r.alive)
    }

    fn rs_inhibit(&self, vs: usize, rs: usize) -> bool {
        self.rs_cfg(vs, rs)
            .and_then(|r| r.inhibit_on_failure)
            .unwrap_or(false)
    }

    fn q_h(&self, vs: usize) -> (i64, i64) {
        self.cfg
            .virtual_servers
            .get(vs)
            .map_or((1, 0), |v| (i64::from(v.quorum), i64::from(v.hysteresis)))
    }

    /// W: the sum of the effective weights of alive real servers.
    fn live_weight(&self, vs: usize) -> i64 {
        (0..self.rs_count(vs))
            .filter(|&r| self.rs_alive(vs, r))
            .map(|r| i64::from(self.effective_weight(vs, r)))
            .sum()
    }

    fn vs_name(&self, vs: usize) -> String {
        self.cfg
            .virtual_servers
            .get(vs)
            .map(|v| v.display().to_string())
            .unwrap_or_default()
    }

    fn rs_name(&self, vs: usize, rs: usize) -> String {
        match (self.cfg.virtual_servers.get(vs), self.rs_cfg(vs, rs)) {
            (Some(v), Some(r)) => v.rs_display(r).to_string(),
            _ => String::new(),
        }
    }

    /// keepalived's FMT_CHK: the checker's connect address in the VS protocol.
    fn chk_display(&self, id: CheckerId) -> String {
        match (
            self.cfg.virtual_servers.get(id.vs),
            self.rs_cfg(id.vs, id.rs),
            self.checker_cfg(id.vs, id.rs, id.checker),
        ) {
            // keepalived's FMT_CHK is the real server's name, whatever the checker
            // connects to (observed: a `connect_port 9022` TCP_CHECK of RS :9021 logs
            // `TCP_CHECK on service [..]:tcp:9021 failed.`).
            (Some(v), Some(r), Some(_)) => v.rs_display(r).to_string(),
            _ => String::new(),
        }
    }

    fn misc_subject(&self, id: CheckerId) -> String {
        format!("{} VS {}", self.rs_name(id.vs, id.rs), self.vs_name(id.vs))
    }

    fn dest(&self, vs: usize, rs: usize, weight: u32) -> Option<Dest> {
        let v = self.cfg.virtual_servers.get(vs)?;
        let r = self.rs_cfg(vs, rs)?;
        let m = r.method.or(v.method).unwrap_or(Forwarding::Nat);
        let mut d = Dest::new(r.ip, r.port, fwd_of(m), weight);
        d.u_thresh = r.uthreshold;
        d.l_thresh = r.lthreshold;
        Some(d)
    }

    fn sorry_dest(&self, vs: usize, weight: u32) -> Dest {
        let v = self.cfg.virtual_servers.get(vs);
        let s = v.and_then(|v| v.sorry_server.as_ref());
        let (ip, port, m) = match (v, s) {
            (Some(v), Some(s)) => (
                s.ip,
                if s.port == 0 { v.port() } else { s.port },
                s.method.or(v.method).unwrap_or(Forwarding::Nat),
            ),
            _ => (
                std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                0,
                Forwarding::Nat,
            ),
        };
        Dest::new(ip, port, fwd_of(m), weight)
    }

    fn sorry_name(&self, vs: usize) -> String {
        let d = self.sorry_dest(vs, 0);
        match self
            .cfg
            .virtual_servers
            .get(vs)
            .and_then(|v| v.real_servers.first())
        {
            Some(r) => SvcDisplay {
                ip: d.addr,
                port: d.port,
                ..self
                    .cfg
                    .virtual_servers
                    .get(vs)
                    .map(|v| v.rs_display(r))
                    .unwrap_or(SvcDisplay {
                        ip: d.addr,
                        protocol: None,
                        port: d.port,
                    })
            }
            .to_string(),
            None => format!("[{}]:{}", d.addr, d.port),
        }
    }

    fn ipvs_add(&mut self, vs: usize, rs: usize, weight: u32) {
        if let Some(d) = self.dest(vs, rs, weight) {
            self.out
                .push_back(Output::Ipvs(IpvsOp::AddDest { vs, dest: d }));
            if let Some(st) = self.rs_state_mut(vs, rs) {
                st.set = true;
            }
        }
    }

    fn ipvs_set(&mut self, vs: usize, rs: usize, weight: u32) {
        if let Some(d) = self.dest(vs, rs, weight) {
            self.out
                .push_back(Output::Ipvs(IpvsOp::SetDest { vs, dest: d }));
        }
    }

    fn ipvs_del(&mut self, vs: usize, rs: usize) {
        if let Some(d) = self.dest(vs, rs, 0) {
            self.out
                .push_back(Output::Ipvs(IpvsOp::DelDest { vs, dest: d }));
            if let Some(st) = self.rs_state_mut(vs, rs) {
                st.set = false;
            }
        }
    }

    /// keepalived's update_svr_checker_state: counts failed checkers, and the real server
    /// follows (alive when none failed). A first result that confirms the initial
    /// state of an alpha checker, or a failure, still runs the real server's notifies.
    fn update_checker(&mut self, id: CheckerId, up: bool, res: &CheckResult) {
        let Some(cs) = self.cs(id).cloned() else {
            return;
        };
        let alpha = self
            .checker_cfg(id.vs, id.rs, id.checker)
            .and_then(|c| c.timing.alpha)
            .unwrap_or(false);
        if cs.up == up {
            if !cs.has_run && (alpha || !up) {
                self.rs_notifies(id.vs, id.rs);
            }
            return;
        }
        if let Some(c) = self.cs_mut(id) {
            c.up = up;
        }
        let Some(st) = self.rs_state_mut(id.vs, id.rs) else {
            return;
        };
        if up {
            st.failed = st.failed.saturating_sub(1);
        } else {
            st.failed += 1;
        }
        let alive = st.failed == 0;
        let cfg = Rc::clone(&self.cfg);
        // With no_checker_emails, only a change of the real server's state is mailed.
        let mail = !self.globals.no_checker_emails || alive != self.rs_alive(id.vs, id.rs);
        if let Some(c) = cfg
            .virtual_servers
            .get(id.vs)
            .and_then(|v| v.real_servers.get(id.rs))
            .and_then(|r| r.checkers.get(id.checker))
            .filter(|_| mail)
        {
            self.mail_rs(id, &c.kind, up, res);
        }
        if alive != self.rs_alive(id.vs, id.rs) {
            self.rs_state(id.vs, id.rs, alive);
        }
    }

    /// keepalived's do_rs_notifies: the notify script and the FIFO line.
    fn rs_notifies(&mut self, vs: usize, rs: usize) {
        let alive = self.rs_alive(vs, rs);
        let (rsn, vsn) = (self.rs_name(vs, rs), self.vs_name(vs));
        let word = if alive { "UP" } else { "DOWN" };
        self.out
            .push_back(Output::Fifo(format!("RS {rsn} {vsn} {word}\n")));
        if let Some(s) = self.rs_cfg(vs, rs).and_then(|r| {
            if alive {
                r.notify_up.clone()
            } else {
                r.notify_down.clone()
            }
        }) {
            self.out.push_back(Output::Script(s));
        }
    }

    /// keepalived's perform_svr_state.
    fn rs_state(&mut self, vs: usize, rs: usize, alive: bool) {
        let inhibit = self.rs_inhibit(vs, rs);
        let (rsn, vsn) = (self.rs_name(vs, rs), self.vs_name(vs));
        let sorry = self.sorry_active(vs);
        let set = self
            .state
            .get(vs)
            .and_then(|v| v.rss.get(rs))
            .is_some_and(|r| r.set);
        if alive {
            if inhibit {
                self.log(format!("Enabling service {rsn} of VS {vsn}"));
            } else {
                self.log(format!("Adding service {rsn} to VS {vsn}"));
            }
            // while the sorry server serves, changes are recorded only
            if !sorry {
                let w = self.effective_weight(vs, rs);
                if set {
                    self.ipvs_set(vs, rs, w);
                } else {
                    self.ipvs_add(vs, rs, w);
                }
            }
        } else {
            if inhibit {
                self.log(format!("Disabling service {rsn} of VS {vsn}"));
            } else {
                self.log(format!("Removing service {rsn} from VS {vsn}"));
            }
            if !sorry && set {
                if inhibit {
                    self.ipvs_set(vs, rs, 0);
                } else {
                    self.ipvs_del(vs, rs);
                }
            }
        }
        if let Some(st) = self.rs_state_mut(vs, rs) {
            st.alive = alive;
        }
        self.rs_notifies(vs, rs);
        self.update_quorum(vs);
    }

    fn set_base_weight(&mut self, vs: usize, rs: usize, w: u32) {
        let old = self.effective_weight(vs, rs);
        if let Some(st) = self.rs_state_mut(vs, rs) {
            st.base_weight = w;
        }
        self.weight_changed(vs, rs, old);
    }

    fn log_weight(&mut self, vs: usize, rs: usize, old: u32, new: u32) {
        self.log(format!(
            "Changing weight from {old} to {new} for {}active service {} of VS {}",
            if self.rs_alive(vs, rs) { "" } else { "in" },
            self.rs_name(vs, rs),
            self.vs_name(vs)
        ));
    }

    /// keepalived's update_svr_wgt: log, SET_DEST if in the pool, re-evaluate quorum.
    fn weight_changed(&mut self, vs: usize, rs: usize, old: u32) {
        let new = self.effective_weight(vs, rs);
        if new == old {
            return;
        }
        let alive = self.rs_alive(vs, rs);
        self.log_weight(vs, rs, old, new);
        let set = self
            .state
            .get(vs)
            .and_then(|v| v.rss.get(rs))
            .is_some_and(|r| r.set);
        if alive && set && !self.sorry_active(vs) {
            self.ipvs_set(vs, rs, new);
        }
        self.update_quorum(vs);
    }

    /// keepalived's update_quorum_state: the threshold is quorum − hysteresis
    /// while up and quorum + hysteresis while down.
    fn update_quorum(&mut self, vs: usize) {
        let w = self.live_weight(vs);
        let (q, h) = self.q_h(vs);
        if self.quorum_up(vs) {
            if w == 0 || w < q - h {
                self.lose_quorum(vs, w, false);
            }
        } else if w >= q + h {
            self.gain_quorum(vs, w, false);
        }
    }

    fn has_sorry(&self, vs: usize) -> bool {
        self.cfg
            .virtual_servers
            .get(vs)
            .is_some_and(|v| v.sorry_server.is_some())
    }

    fn sorry_inhibit(&self, vs: usize) -> bool {
        self.cfg
            .virtual_servers
            .get(vs)
            .and_then(|v| v.sorry_server.as_ref())
            .is_some_and(|s| s.inhibit)
    }

    /// keepalived's perform_quorum_state: alive servers out of or back into the pool.
    fn pool(&mut self, vs: usize, add: bool) {
        let vsn = self.vs_name(vs);
        self.log(format!(
            "{} the pool for VS {vsn}",
            if add {
                "Adding alive servers to"
            } else {
                "Removing alive servers from"
            }
        ));
        for r in 0..self.rs_count(vs) {
            if !self.rs_alive(vs, r) {
                continue;
            }
            let set = self
                .state
                .get(vs)
                .and_then(|v| v.rss.get(r))
                .is_some_and(|x| x.set);
            // ipvs_cmd turns ADD of a set inhibited server into EDIT, DEL into weight 0
            match (add, set, self.rs_inhibit(vs, r)) {
                (true, true, _) => self.ipvs_set(vs, r, self.effective_weight(vs, r)),
                (true, false, _) => self.ipvs_add(vs, r, self.effective_weight(vs, r)),
                (false, true, true) => self.ipvs_set(vs, r, 0),
                (false, true, false) => self.ipvs_del(vs, r),
                (false, false, _) => {}
            }
        }
    }

    /// Quorum lost, or (`init`) down at startup with a sorry server to add.
    fn lose_quorum(&mut self, vs: usize, w: i64, init: bool) {
        let (q, h) = self.q_h(vs);
        // keepalived prints the threshold it compared with: Q+H at startup (Q-H label)
        let t = if init { q + h } else { q - h };
        let vsn = self.vs_name(vs);
        if let Some(st) = self.state.get_mut(vs) {
            st.quorum_up = false;
        }
        let what = if init {
            "Starting with quorum down"
        } else {
            "Lost quorum"
        };
        self.log(format!("{what} {q}-{h}={t} > {w} for VS {vsn}"));
        if self.has_sorry(vs) && !self.sorry_active(vs) {
            let inhibit = self.sorry_inhibit(vs);
            let sn = self.sorry_name(vs);
            self.log(format!(
                "{} sorry server {sn} to VS {vsn}",
                if inhibit { "Enabling" } else { "Adding" }
            ));
            self.pool(vs, false);
            let d = self.sorry_dest(vs, 1);
            let set = self.state.get(vs).is_some_and(|s| s.sorry_set);
            let op = if set {
                IpvsOp::SetDest { vs, dest: d }
            } else {
                IpvsOp::AddDest { vs, dest: d }
            };
            self.out.push_back(Output::Ipvs(op));
            if let Some(st) = self.state.get_mut(vs) {
                st.sorry_active = true;
                st.sorry_set = true;
            }
        }
        let mail = format!("{what} {q}+{h}={t} <= {w}");
        self.quorum_notify(vs, false, &mail);
    }

    /// Quorum gained, or (`init`) up at startup (keepalived logs `Gained quorum` for both;
    /// only the mail says `Starting with quorum up`).
    fn gain_quorum(&mut self, vs: usize, w: i64, init: bool) {
        let (q, h) = self.q_h(vs);
        let t = q + h;
        let vsn = self.vs_name(vs);
        if let Some(st) = self.state.get_mut(vs) {
            st.quorum_up = true;
        }
        self.log(format!("Gained quorum {q}+{h}={t} <= {w} for VS {vsn}"));
        if self.sorry_active(vs) {
            let inhibit = self.sorry_inhibit(vs);
            let sn = self.sorry_name(vs);
            self.log(format!(
                "{} sorry server {sn} from VS {vsn}",
                if inhibit { "Disabling" } else { "Removing" }
            ));
            let d = self.sorry_dest(vs, 0);
            let op = if inhibit {
                IpvsOp::SetDest { vs, dest: d }
            } else {
                IpvsOp::DelDest { vs, dest: d }
            };
            self.out.push_back(Output::Ipvs(op));
            if let Some(st) = self.state.get_mut(vs) {
                st.sorry_active = false;
                st.sorry_set = inhibit;
            }
            self.pool(vs, true);
        }
        let what = if init {
            "Starting with quorum up"
        } else {
            "Gained quorum"
        };
        self.quorum_notify(vs, true, &format!("{what} {q}+{h}={t} <= {w}"));
    }

    fn quorum_notify(&mut self, vs: usize, up: bool, line: &str) {
        let vsn = self.vs_name(vs);
        let word = if up { "UP" } else { "DOWN" };
        self.out
            .push_back(Output::Fifo(format!("VS {vsn} {word}\n")));
        let (script, mail) = match self.cfg.virtual_servers.get(vs) {
            Some(v) => (
                if up {
                    v.quorum_up.clone()
                } else {
                    v.quorum_down.clone()
                },
                v.smtp_alert_effective(self.globals.smtp_alert_checker, self.globals.smtp_alert),
            ),
            None => (None, false),
        };
        if let Some(s) = script {
            self.out.push_back(Output::Script(s));
        }
        if mail {
            // do_vs_notifies prints "Q+H=T <= W" for both directions
            self.out.push_back(Output::Mail {
                subject: format!("Virtualserver {vsn} - {word}"),
                body: format!("=> {line} <="),
            });
        }
    }

    fn mail_rs(&mut self, id: CheckerId, kind: &CheckerKind, up: bool, res: &CheckResult) {
        let on = self.rs_cfg(id.vs, id.rs).is_some_and(|r| {
            r.smtp_alert_effective(self.globals.smtp_alert_checker, self.globals.smtp_alert)
        });
        if !on {
            return;
        }
        let body = match (kind, up) {
            (CheckerKind::Tcp, true) => "=> TCP CHECK succeed on service <=".to_owned(),
            (CheckerKind::Tcp, false) => "=> TCP CHECK failed on service <=".to_owned(),
            (CheckerKind::Misc(_), true) => "=> MISC CHECK succeeded on service <=".to_owned(),
            (CheckerKind::Misc(_), false) => "=> MISC CHECK failed on service <=".to_owned(),
            (CheckerKind::Dns(_), true) => "=> DNS_CHECK: succeed on service <=".to_owned(),
            (CheckerKind::Dns(_), false) => "=> DNS_CHECK: failed on service <=".to_owned(),
            (CheckerKind::Ping, true) => "=> ICMP CHECK succeed on service <=".to_owned(),
            (CheckerKind::Ping, false) => "=> ICMP CHECK failed on service <=".to_owned(),
            (CheckerKind::Udp(_), true) => "=> UDP CHECK succeed on service <=".to_owned(),
            (CheckerKind::Udp(_), false) => "=> UDP CHECK failed on service <=".to_owned(),
            (CheckerKind::Bfd(b), true) => {
                format!("=> BFD CHECK {} succeeded on service <=", b.name)
            }
            (CheckerKind::Bfd(b), false) => format!("=> BFD CHECK {} failed on service <=", b.name),
            (_, true) => "=> CHECK succeed on service <=".to_owned(),
            (CheckerKind::Http(_) | CheckerKind::Ssl(_), false) => {
                "=> CHECK failed on service : HTTP request failed <=".to_owned()
            }
            // SMTP_CHECK: the failure in full, its server included (check_smtp.c)
            (_, false) => match &res.reason {
                Some(r) => format!("=> CHECK failed on service : {r} <="),
                None => "=> CHECK failed on service <=".to_owned(),
            },
        };
        self.out.push_back(Output::Mail {
            subject: format!(
                "Realserver {} of virtual server {} - {}",
                self.rs_name(id.vs, id.rs),
                self.vs_name(id.vs),
                if up { "UP" } else { "DOWN" }
            ),
            body,
        });
    }

    /// The checker's own up/down line (checker rows; keepalived 2.2.7's strings).
    /// The checker's up/down line; the name is formatted only here, not at every result.
    fn log_transition(&mut self, kind: &CheckerKind, up: bool, id: CheckerId, retries: u32) {
        let name = self.chk_display(id);
        let after = |what: &str, of: &str| {
            if retries > 0 {
                format!("{what} on service {name}{of} failed after {retries} retries.")
            } else {
                format!("{what} on service {name} failed.")
            }
        };
        let line = match (kind, up) {
            (CheckerKind::Tcp, true) => format!("TCP connection to {name} success."),
            (CheckerKind::Tcp, false) => after("TCP_CHECK", ""),
            (CheckerKind::Http(_) | CheckerKind::Ssl(_), true) => {
                format!("Remote Web server {name} succeed on service.")
            }
            // SSL_GET shares HTTP_GET's code and words
            (CheckerKind::Http(_) | CheckerKind::Ssl(_), false) => after("HTTP_CHECK", ""),
            (CheckerKind::Smtp(_), true) => {
                format!("Remote SMTP server {name} succeed on service.")
            }
            (CheckerKind::Smtp(_), false) => after("SMTP_CHECK", ""),
            // keepalived logs no DNS_CHECK success; its failures are logged by the caller
            (CheckerKind::Dns(_), true) => return,
            (CheckerKind::Dns(_), false) => format!("DNS_CHECK ({name}) failed"),
            (CheckerKind::Udp(_), true) => format!("UDP connection to {name} success."),
            (CheckerKind::Udp(_), false) => after("UDP_CHECK", ""),
            (CheckerKind::Ping, true) => format!("ICMP connection to {name} success."),
            (CheckerKind::Ping, false) => after("ICMP CHECK", ""),
            (CheckerKind::Misc(_) | CheckerKind::File(_) | CheckerKind::Bfd(_), _) => return,
        };
        self.log(line);
    }

    /// Per-attempt failure detail (`log_all_failures`).
    fn log_failure_detail(&mut self, kind: &CheckerKind, id: CheckerId, res: &CheckResult) {
        let name = self.chk_display(id);
        let reason = res.reason.clone().unwrap_or_else(|| "failed".to_owned());
        let line = match kind {
            CheckerKind::Tcp => format!("TCP connection to {name} {reason}."),
            CheckerKind::Http(_) | CheckerKind::Ssl(_) => reason,
            CheckerKind::Dns(_) => format!("DNS_CHECK ({name}) {reason}"),
            CheckerKind::Smtp(_) => format!("SMTP_CHECK {reason}"),
            _ => format!("{name}: {reason}"),
        };
        self.log(line);
    }
}

/// keepalived prints the script's program only (args[0]), as resolved at load time.
fn shown_prog(m: &crate::config::model::check::checker::MiscCheck) -> &str {
    m.shown
        .as_deref()
        .or(m.path.argv.first().map(String::as_str))
        .unwrap_or(&m.path.text)
}

/// How a MISC_CHECK run failed, in keepalived's words: `timed out` when killed at its
/// timeout, else `failed` and the reason in parentheses (exit status, signal).
fn misc_failure(res: &CheckResult) -> (&'static str, String) {
    match res.reason.as_deref() {
        Some("timed out") => ("timed out", String::new()),
        Some(r) => ("failed", format!(" ({r})")),
        None => ("failed", String::new()),
    }
}

fn retries(n: u32) -> &'static str {
    if n == 1 {
        "retry"
    } else {
        "retries"
    }
}

pub mod urls;

#[cfg(test)]
mod tests;
