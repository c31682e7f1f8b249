//! Sending gratuitous ARPs / unsolicited NAs with keepalived's per-interface minimum spacing
//! (`vrrp_garp_interval`, `vrrp_gna_interval`).
//!
//! keepalived's semantics (vrrp_arp.c `send_gratuitous_arp`, vrrp_scheduler.c
//! `vrrp_arp_thread`), observed with 2.2.7: a packet goes out at once when the interface's
//! next allowed time (per family) has passed, which then moves `interval` ahead; otherwise the
//! address is marked pending — once: a second request for a pending address is absorbed. The
//! pending addresses are sent one per interval slot, and dropped when the address has been
//! removed from the host meanwhile (the instance left MASTER). So with an interval a burst of
//! `repeat` ≥ 2 yields two packets per address. With both intervals zero everything goes out
//! at once.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::info;

use super::arp::{garp_frame, unsolicited_na_frame, PacketSocket};

/// One burst: `repeat` rounds of a GARP / NA for each of `addrs`.
#[derive(Debug, Clone)]
pub struct GarpJob {
    pub iname: String,
    pub ifindex: u32,
    pub ifname: String,
    pub mac: [u8; 6],
    pub addrs: Vec<IpAddr>,
    pub repeat: u32,
}

/// Minimum spacing between two gratuitous packets on one interface: the global
/// `vrrp_garp_interval` / `vrrp_gna_interval`, or the interface's `garp_group`, whose
/// interfaces share one rate limit (keepalived gives them one `garp_delay`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spacing {
    pub arp: Duration,
    pub na: Duration,
    /// `garp_group`s: (interfaces, garp_interval, gna_interval); an unset interval is 0.
    pub groups: Vec<(Vec<String>, Duration, Duration)>,
}

/// Whose rate limit a packet counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    Interface(u32),
    Group(usize),
}

impl Spacing {
    /// The rate-limit slot (per family) of a packet on `ifname`, and its spacing.
    fn slot(&self, ifindex: u32, ifname: &str, a: &IpAddr) -> ((Slot, bool), Duration) {
        let group = self
            .groups
            .iter()
            .enumerate()
            .find(|(_, g)| g.0.iter().any(|i| i == ifname));
        let (slot, arp, na) = match group {
            Some((k, g)) => (Slot::Group(k), g.1, g.2),
            None => (Slot::Interface(ifindex), self.arp, self.na),
        };
        let gap = if a.is_ipv4() { arp } else { na };
        ((slot, a.is_ipv6()), gap)
    }
}

/// One packet to send.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Packet {
    ifindex: u32,
    ifname: String,
    iname: String,
    mac: [u8; 6],
    addr: IpAddr,
}

/// The spacing state (keepalived's `garp_delay` per interface and the pending flags).
#[derive(Debug, Default)]
struct Queue {
    /// (interface or garp_group, is IPv6) → the earliest time the next packet may go.
    next: HashMap<(Slot, bool), Instant>,
    pending: Vec<Packet>,
}

impl Queue {
    /// Packets of `job` to send now; the others become pending (once per address).
    fn admit(&mut self, job: &GarpJob, sp: &Spacing, now: Instant) -> Vec<Packet> {
        let mut out = Vec::new();
        for _ in 0..job.repeat {
            for a in &job.addrs {
                let p = Packet {
                    ifindex: job.ifindex,
                    ifname: job.ifname.clone(),
                    iname: job.iname.clone(),
                    mac: job.mac,
                    addr: *a,
                };
                let (key, gap) = sp.slot(job.ifindex, &job.ifname, a);
                let slot = self.next.entry(key).or_insert(now);
                if gap.is_zero() || now >= *slot {
                    if !gap.is_zero() {
                        *slot = now + gap;
                    }
                    out.push(p);
                } else if !self
                    .pending
                    .iter()
                    .any(|q| q.ifindex == p.ifindex && q.addr == p.addr)
                {
                    self.pending.push(p);
                }
            }
        }
        out
    }

    /// Pending packets whose slot has come (one per interface and family per slot).
    fn due(&mut self, sp: &Spacing, now: Instant) -> Vec<Packet> {
        let mut out = Vec::new();
        let mut keep = Vec::new();
        for p in std::mem::take(&mut self.pending) {
            let (key, gap) = sp.slot(p.ifindex, &p.ifname, &p.addr);
            let slot = self.next.entry(key).or_insert(now);
            if now >= *slot {
                *slot = now + gap;
                out.push(p);
            } else {
                keep.push(p);
            }
        }
        self.pending = keep;
        out
    }

    /// The earliest slot a pending packet waits for.
    fn wake_at(&self, sp: &Spacing) -> Option<Instant> {
        self.pending
            .iter()
            .filter_map(|p| {
                let (key, _) = sp.slot(p.ifindex, &p.ifname, &p.addr);
                self.next.get(&key).copied()
            })
            .min()
    }
}

/// Hands bursts to the socket, spacing them per interface.
pub struct GarpSender {
    sock: Rc<PacketSocket>,
    /// Shared with the service, which updates it at reload.
    spacing: Rc<RefCell<Spacing>>,
    queue: Rc<RefCell<Queue>>,
    wake: Rc<Notify>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl GarpSender {
    pub fn new(sock: PacketSocket, spacing: Rc<RefCell<Spacing>>) -> Self {
        GarpSender {
            sock: Rc::new(sock),
            spacing,
            queue: Rc::default(),
            wake: Rc::new(Notify::new()),
            task: None,
        }
    }

    /// Sends what `job` may send now and queues the rest. Must run inside a tokio
    /// `LocalSet` when spacing is configured (the pending packets have their own task).
    pub async fn submit(&mut self, job: GarpJob) {
        log_burst(&job);
        let now = Instant::now();
        let send = self
            .queue
            .borrow_mut()
            .admit(&job, &self.spacing.borrow(), now);
        if !self.queue.borrow().pending.is_empty() {
            if self.task.is_none() {
                self.task = Some(tokio::task::spawn_local(pending_loop(
                    self.sock.clone(),
                    self.spacing.clone(),
                    self.queue.clone(),
                    self.wake.clone(),
                )));
            }
            self.wake.notify_one();
        }
        for p in send {
            send_one(&self.sock, &p).await;
        }
    }

    /// The address left the host (pending GARPs of an instance leaving MASTER go).
    pub fn forget(&mut self, ifindex: u32, addr: IpAddr) {
        self.queue
            .borrow_mut()
            .pending
            .retain(|p| !(p.ifindex == ifindex && p.addr == addr));
    }
}

impl Drop for GarpSender {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn pending_loop(
    sock: Rc<PacketSocket>,
    sp: Rc<RefCell<Spacing>>,
    queue: Rc<RefCell<Queue>>,
    wake: Rc<Notify>,
) {
    loop {
        let at = queue.borrow().wake_at(&sp.borrow());
        match at {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = wake.notified() => continue,
                }
            }
            None => {
                wake.notified().await;
                continue;
            }
        }
        let due = queue.borrow_mut().due(&sp.borrow(), Instant::now());
        for p in due {
            send_one(&sock, &p).await;
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

async fn send_one(sock: &PacketSocket, p: &Packet) {
    let detail = crate::log::detail() > 0;
    let (ifname, a) = (&p.ifname, &p.addr);
    let res = match a {
        IpAddr::V4(v4) => {
            if detail {
                info!("Sending gratuitous ARP on {ifname} for {a}");
            }
            sock.send(p.ifindex, &garp_frame(p.mac, *v4)).await
        }
        IpAddr::V6(v6) => {
            if detail {
                info!("Sending unsolicited Neighbour Advert on {ifname} for {a}");
            }
            let router = crate::net::sysctl::ipv6_forwarding(ifname);
            sock.send(p.ifindex, &unsolicited_na_frame(p.mac, *v6, router))
                .await
        }
    };
    if let Err(e) = res {
        info!(
            "({}) Unable to send GARP/NA for {a} on {ifname}: {e}",
            p.iname
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(addrs: &[&str], repeat: u32) -> GarpJob {
        GarpJob {
            iname: "VI".into(),
            ifindex: 2,
            ifname: "eth0".into(),
            mac: [2, 0, 0, 0, 0, 1],
            addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
            repeat,
        }
    }

    #[test]
    fn no_interval_sends_everything() {
        let mut q = Queue::default();
        let now = Instant::now();
        let out = q.admit(
            &job(&["192.0.2.1", "2001:db8::1"], 3),
            &Spacing::default(),
            now,
        );
        assert_eq!(out.len(), 6);
        assert!(q.pending.is_empty());
    }

    #[test]
    fn interval_sends_one_and_keeps_one_pending_per_address() {
        let sp = &Spacing {
            arp: Duration::from_millis(250),
            na: Duration::ZERO,
            groups: Vec::new(),
        };
        let mut q = Queue::default();
        let t0 = Instant::now();
        let out = q.admit(&job(&["192.0.2.1", "192.0.2.2", "2001:db8::1"], 5), sp, t0);
        // IPv4: one at once, both addresses pending once; IPv6 unspaced: all five.
        assert_eq!(out.iter().filter(|p| p.addr.is_ipv4()).count(), 1);
        assert_eq!(out.iter().filter(|p| p.addr.is_ipv6()).count(), 5);
        assert_eq!(q.pending.len(), 2);
        assert!(q.due(sp, t0 + Duration::from_millis(100)).is_empty());
        let at = q.wake_at(sp).unwrap();
        assert_eq!(at, t0 + Duration::from_millis(250));
        assert_eq!(q.due(sp, at).len(), 1, "one per slot");
        assert_eq!(q.due(sp, at + Duration::from_millis(250)).len(), 1);
        assert!(q.pending.is_empty());
    }

    #[test]
    fn garp_group_interfaces_share_one_slot_with_their_own_interval() {
        let sp = &Spacing {
            arp: Duration::ZERO,
            na: Duration::ZERO,
            groups: vec![(
                vec!["eth0".into(), "eth1".into()],
                Duration::from_millis(500),
                Duration::ZERO,
            )],
        };
        let mut q = Queue::default();
        let t0 = Instant::now();
        // eth0 (ifindex 2) is in the group: one at once, the other address pending.
        let out = q.admit(&job(&["192.0.2.1", "192.0.2.2", "2001:db8::1"], 1), sp, t0);
        assert_eq!(out.len(), 2, "one IPv4 plus the unspaced NA");
        assert_eq!(q.pending.len(), 1);
        // eth1 shares the group's slot: nothing goes before the slot.
        let mut j = job(&["192.0.2.9"], 1);
        j.ifindex = 3;
        j.ifname = "eth1".into();
        assert!(q.admit(&j, sp, t0).is_empty());
        assert_eq!(q.wake_at(sp), Some(t0 + Duration::from_millis(500)));
        // An interface outside the group follows the (zero) global interval.
        j.ifindex = 4;
        j.ifname = "eth2".into();
        assert_eq!(q.admit(&j, sp, t0).len(), 1);
    }
}
