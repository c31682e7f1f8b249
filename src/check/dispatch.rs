//! Runs one attempt of a configured checker under the
//! concurrency limit: the bridge between the manager's [`CheckerId`]s and the checker
//! modules.

use std::sync::atomic::{AtomicU16, Ordering};

use super::http::TlsSettings;
use super::manager::CheckerId;
use super::probe::{CheckResult, Limiter, Target};
use crate::config::model::check::checker::{CheckerKind, Connection};
use crate::config::model::check::{CheckConfig, DEFAULT_DELAY_LOOP};

/// What running checks needs besides the configuration.
#[derive(Debug)]
pub struct Env {
    /// The SSL_GET context, built once from the root `SSL { }` block.
    pub tls: Option<TlsSettings>,
    pub limiter: Limiter,
    seq: AtomicU16,
}

impl Env {
    /// `max_running` bounds concurrent checks; the TLS context is built only when some
    /// checker needs it.
    pub fn new(cfg: &CheckConfig, max_running: usize) -> Result<Env, String> {
        let needs_tls = cfg
            .virtual_servers
            .iter()
            .flat_map(|v| v.real_servers.iter())
            .flat_map(|r| r.checkers.iter())
            .any(|c| matches!(c.kind, CheckerKind::Ssl(_)));
        let tls = if needs_tls {
            Some(TlsSettings::new(cfg.ssl.as_ref())?)
        } else {
            None
        };
        Ok(Env {
            tls,
            limiter: Limiter::new(max_running),
            seq: AtomicU16::new(1),
        })
    }

    fn next_seq(&self) -> u16 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }
}

/// One attempt of checker `id` (`url`: the HTTP_GET / SSL_GET url to fetch,
/// [`super::manager::Manager::url_of`]); `None` for event-driven checkers (FILE_CHECK,
/// BFD_CHECK) and unknown ids.
pub async fn run(env: &Env, cfg: &CheckConfig, id: CheckerId, url: usize) -> Option<CheckResult> {
    let vs = cfg.virtual_servers.get(id.vs)?;
    let rs = vs.real_servers.get(id.rs)?;
    let chk = rs.checkers.get(id.checker)?;
    let target = Target::of(vs, rs, chk);
    // only HTTP_GET / SSL_GET log with it: not formatted for every other check. It is
    // keepalived's FMT_CHK, the real server's name, not the address checked (`connect_ip`,
    // `connect_port`).
    let rs_name = || vs.rs_display(rs).to_string();
    // each checker's future is boxed when it starts: a check waiting for a permit then
    // holds a few words, not the largest checker's state (5,000 waiting checks)
    let f = async {
        match &chk.kind {
            CheckerKind::Tcp => Some(Box::pin(super::tcp::check(&target)).await),
            CheckerKind::Http(h) => Some(
                Box::pin(super::http::check(
                    h,
                    url,
                    rs.virtualhost.as_deref(),
                    &target,
                    None,
                    &rs_name(),
                ))
                .await,
            ),
            CheckerKind::Ssl(h) => match &env.tls {
                Some(t) => Some(
                    Box::pin(super::http::check(
                        h,
                        url,
                        rs.virtualhost.as_deref(),
                        &target,
                        Some(t),
                        &rs_name(),
                    ))
                    .await,
                ),
                None => Some(CheckResult::down("no SSL context")),
            },
            CheckerKind::Misc(m) => Some(
                Box::pin(super::misc::check(
                    m,
                    chk.timing.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP),
                ))
                .await,
            ),
            CheckerKind::Smtp(s) => {
                // the old `host { }` sub-blocks, and the checker's own connection when one
                // of its keywords is set (keepalived's check_smtp.c makes a checker of
                // each): every one must answer
                let own = (s.hosts.is_empty() || chk.conn != Connection::default())
                    .then(|| target.clone());
                let hosts = s
                    .hosts
                    .iter()
                    .map(|h| Target::with_conn(rs, h, chk.timing.connect_timeout));
                for t in own.into_iter().chain(hosts) {
                    let r = Box::pin(super::smtp::check(&s.helo_name, &t)).await;
                    if !r.up {
                        return Some(r);
                    }
                }
                Some(CheckResult::up())
            }
            CheckerKind::Dns(d) => {
                Some(Box::pin(super::dns::check(d, &target, env.next_seq())).await)
            }
            CheckerKind::Udp(u) => Some(Box::pin(super::udp::check(u, &target)).await),
            CheckerKind::Ping => Some(Box::pin(super::ping::check(&target, env.next_seq())).await),
            CheckerKind::File(_) | CheckerKind::Bfd(_) => None,
        }
    };
    env.limiter.run(f).await
}
