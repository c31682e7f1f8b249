//! Sending gratuitous ARPs / unsolicited NAs with keepalived's per-interface minimum spacing
//! (`vrrp_garp_interval`, `vrrp_gna_interval`, keepalived-spec.md §5.7).
//!
//! With both intervals zero every burst goes out at once from the caller's task, as before.
//! Otherwise each interface gets its own task that sends the queued packets one by one, at
//! least the interval apart (keepalived queues them on the interface's `garp_delay` and a
//! timer thread drains the queue), so the VRRP I/O task is never held up by the spacing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::info;

use super::arp::{garp_frame, unsolicited_na_frame, PacketSocket};

/// One burst: `repeat` rounds of a GARP / NA for each of `addrs` (§5.7).
#[derive(Debug, Clone)]
pub struct GarpJob {
    pub iname: String,
    pub ifindex: u32,
    pub ifname: String,
    pub mac: [u8; 6],
    pub addrs: Vec<IpAddr>,
    pub repeat: u32,
}

/// Minimum spacing between two gratuitous packets on one interface.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spacing {
    pub arp: Duration,
    pub na: Duration,
}

/// Hands bursts to the socket, spacing them per interface.
pub struct GarpSender {
    sock: Rc<PacketSocket>,
    spacing: Spacing,
    queues: HashMap<u32, mpsc::UnboundedSender<GarpJob>>,
}

impl GarpSender {
    pub fn new(sock: PacketSocket, spacing: Spacing) -> Self {
        GarpSender {
            sock: Rc::new(sock),
            spacing,
            queues: HashMap::new(),
        }
    }

    /// Sends `job` now (no spacing), or queues it on its interface's task. Must run inside a
    /// tokio `LocalSet` when spacing is configured.
    pub async fn submit(&mut self, job: GarpJob) {
        log_burst(&job);
        if self.spacing == Spacing::default() {
            send_burst(&self.sock, &job, None).await;
            return;
        }
        let tx = self.queues.entry(job.ifindex).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::task::spawn_local(spaced_loop(rx, self.sock.clone(), self.spacing));
            tx
        });
        if let Err(mpsc::error::SendError(job)) = tx.send(job) {
            // The task is gone (runtime shutting down): send without spacing.
            send_burst(&self.sock, &job, None).await;
        }
    }
}

fn log_burst(job: &GarpJob) {
    if crate::log::detail() == 0 {
        return;
    }
    let (iname, ifname) = (&job.iname, &job.ifname);
    for a in &job.addrs {
        match a {
            IpAddr::V4(_) => {
                info!("({iname}) Sending/queueing gratuitous ARPs on {ifname} for {a}")
            }
            IpAddr::V6(_) => info!(
                "({iname}) Sending/queueing Unsolicited Neighbour Adverts on {ifname} for {a}"
            ),
        }
    }
}

/// Per-interface "next allowed" times of the spaced sender.
struct NextTimes {
    arp: Instant,
    na: Instant,
}

async fn spaced_loop(
    mut rx: mpsc::UnboundedReceiver<GarpJob>,
    sock: Rc<PacketSocket>,
    sp: Spacing,
) {
    let now = Instant::now();
    let mut next = NextTimes { arp: now, na: now };
    while let Some(job) = rx.recv().await {
        send_burst(&sock, &job, Some((sp, &mut next))).await;
    }
}

async fn send_burst(
    sock: &PacketSocket,
    job: &GarpJob,
    mut spaced: Option<(Spacing, &mut NextTimes)>,
) {
    let detail = crate::log::detail() > 0;
    let ifname = &job.ifname;
    let router = crate::net::sysctl::ipv6_forwarding(ifname);
    for _ in 0..job.repeat {
        for a in &job.addrs {
            if let Some((sp, next)) = spaced.as_mut() {
                let (slot, gap) = match a {
                    IpAddr::V4(_) => (&mut next.arp, sp.arp),
                    IpAddr::V6(_) => (&mut next.na, sp.na),
                };
                tokio::time::sleep_until(*slot).await;
                *slot = Instant::now() + gap;
            }
            let res = match a {
                IpAddr::V4(v4) => {
                    if detail {
                        info!("Sending gratuitous ARP on {ifname} for {a}");
                    }
                    sock.send(job.ifindex, &garp_frame(job.mac, *v4)).await
                }
                IpAddr::V6(v6) => {
                    if detail {
                        info!("Sending unsolicited Neighbour Advert on {ifname} for {a}");
                    }
                    sock.send(job.ifindex, &unsolicited_na_frame(job.mac, *v6, router))
                        .await
                }
            };
            if let Err(e) = res {
                info!(
                    "({}) Unable to send GARP/NA for {a} on {ifname}: {e}",
                    job.iname
                );
            }
        }
    }
}
