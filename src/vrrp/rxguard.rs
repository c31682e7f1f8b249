//! Hostile-input accounting and limits for the VRRP receive path.
//!
//! * [`RxStats`]: every packet a VRRP socket delivers (or the kernel dropped on a full
//!   socket, reported by `SO_RXQ_OVFL`, or dropped by the socket's filter, rxfilter.rs) is
//!   counted once: `received = accepted + Σ drops`,
//!   drops keyed by a stable reason label. keepalived counts only some drops, per instance;
//!   this set also counts those that happen before an instance is found (unknown VRID,
//!   truncated packets, receive errors). Shown after the instances in `keepalived.stats`
//!   and as `keepalived_vrrp_rx_*` metrics (`to_json` for embedding elsewhere).
//! * [`log_allowed`]: keepalived logs every dropped packet; under a flood that costs more
//!   than the drop itself, so drop lines are limited per second and the rest summed up.
//! * [`RX_BATCH`]: the most packets one receive task handles per wake-up before it yields
//!   to the timer and I/O tasks, so a flood can never delay an advert by more than one batch.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use tracing::info;

use super::packet::DropReason;

/// Packets handled per wake-up of one receive task before yielding.
pub const RX_BATCH: usize = 32;

/// Kernel receive buffer asked for each VRRP receive socket (the kernel doubles it): about
/// 2,000 queued packets at ~1 KiB truesize, enough to ride out the scheduling gaps of a busy
/// host, small enough that a flood is shed by the kernel (and counted, `SO_RXQ_OVFL`) rather
/// than queueing stale packets: 2,000 packets are ~15 ms of our processing (debug build).
pub const RX_SOCKET_BUFFER: usize = 1024 * 1024;

/// Drop log lines allowed per second; the rest are counted and summarised.
pub const LOG_LINES_PER_SEC: u64 = 20;

/// Reason label of a packet the kernel dropped because the socket buffer was full.
pub const SOCKET_OVERFLOW: &str = "socket_overflow";
/// Reason label of a valid packet for a VRID no instance on that socket serves.
pub const UNKNOWN_VRID: &str = "unknown_vrid";
/// Reason label of a receive error (short or truncated datagram, missing ancillary data).
pub const RECEIVE_ERROR: &str = "receive_error";

/// The stable label of a drop reason (metrics `reason`, stats line, JSON key).
pub fn label(r: &DropReason) -> &'static str {
    use DropReason::*;
    match r {
        TooShort { .. } => "too_short",
        AhUnexpected => "ah_unexpected",
        AhMissing => "ah_missing",
        Length { .. } => "length",
        Ttl { .. } => "ttl",
        Version { .. } => "version",
        InvalidAuthType { .. } => "invalid_auth_type",
        AuthTypeMismatch { .. } => "auth_type_mismatch",
        BadPassword => "bad_password",
        AhNotVrrp { .. } => "ah_not_vrrp",
        AhIcv => "ah_icv",
        AhSpi { .. } => "ah_spi",
        AhSeq { .. } => "ah_seq",
        IntervalMismatch { .. } => "interval_mismatch",
        PacketType { .. } => "packet_type",
        AddrCount { .. } => "address_count",
        IpTotLen { .. } => "ip_total_length",
        Checksum { .. } => "checksum",
        CastMismatch { .. } => "cast_mismatch",
        AddrMissing { .. } => "address_missing",
        UnicastSource { .. } => "unicast_source",
        TtlRange { .. } => "ttl_range",
    }
}

/// Receive accounting over all VRRP sockets of the process.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RxStats {
    /// Packets read from the sockets plus packets the kernel dropped on a full socket.
    pub received: u64,
    /// Packets handed to an instance's state machine.
    pub accepted: u64,
    /// Dropped packets by reason label.
    pub drops: BTreeMap<&'static str, u64>,
    /// Of the drops, those the kernel's socket filter made (rxfilter.rs).
    pub kernel_filtered: u64,
}

impl RxStats {
    pub fn accept(&mut self) {
        self.received = self.received.saturating_add(1);
        self.accepted = self.accepted.saturating_add(1);
    }

    pub fn drop(&mut self, reason: &'static str) {
        self.drop_n(reason, 1);
    }

    pub fn drop_n(&mut self, reason: &'static str, n: u64) {
        if n == 0 {
            return;
        }
        self.received = self.received.saturating_add(n);
        let c = self.drops.entry(reason).or_default();
        *c = c.saturating_add(n);
    }

    /// `n` packets the kernel's socket filter dropped for `reason`.
    pub fn kernel_drop_n(&mut self, reason: &'static str, n: u64) {
        self.drop_n(reason, n);
        self.kernel_filtered = self.kernel_filtered.saturating_add(n);
    }

    pub fn dropped(&self) -> u64 {
        self.drops.values().fold(0, |a, b| a.saturating_add(*b))
    }

    /// The section after the instances in `keepalived.stats` (not in keepalived).
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "VRRP Receive:\n  Received: {}\n  Accepted: {}\n  Dropped: {}\n  \
             Dropped in kernel: {}\n",
            self.received,
            self.accepted,
            self.dropped(),
            self.kernel_filtered
        );
        for (k, v) in &self.drops {
            let _ = writeln!(s, "    {k}: {v}");
        }
        s
    }

    pub fn to_json(&self) -> serde_json::Value {
        let drops: serde_json::Map<String, serde_json::Value> = self
            .drops
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        serde_json::json!({
            "received": self.received,
            "accepted": self.accepted,
            "dropped": drops,
            "dropped_in_kernel": self.kernel_filtered,
        })
    }

    /// Prometheus text: `keepalived_vrrp_rx_packets_total` and
    /// `keepalived_vrrp_rx_dropped_total{reason=...}`.
    pub fn to_metrics(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP keepalived_vrrp_rx_packets_total VRRP packets received on all sockets, by outcome.\n\
             # TYPE keepalived_vrrp_rx_packets_total counter\n\
             keepalived_vrrp_rx_packets_total{{outcome=\"accepted\"}} {}\n\
             keepalived_vrrp_rx_packets_total{{outcome=\"dropped\"}} {}",
            self.accepted,
            self.dropped()
        );
        let _ = writeln!(
            o,
            "# HELP keepalived_vrrp_rx_dropped_total VRRP packets dropped, by reason (every socket, before and after instance lookup).\n\
             # TYPE keepalived_vrrp_rx_dropped_total counter"
        );
        for (k, v) in &self.drops {
            let _ = writeln!(o, "keepalived_vrrp_rx_dropped_total{{reason=\"{k}\"}} {v}");
        }
        let _ = writeln!(
            o,
            "# HELP keepalived_vrrp_rx_kernel_dropped_total VRRP packets the kernel's socket filter dropped (included in keepalived_vrrp_rx_dropped_total).\n\
             # TYPE keepalived_vrrp_rx_kernel_dropped_total counter\n\
             keepalived_vrrp_rx_kernel_dropped_total {}",
            self.kernel_filtered
        );
        o
    }
}

static LOG_WINDOW: AtomicU64 = AtomicU64::new(0);
static LOG_USED: AtomicU64 = AtomicU64::new(0);
static LOG_SUPPRESSED: AtomicU64 = AtomicU64::new(0);

fn seconds() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs()
}

/// Whether one more drop log line may be written now ([`LOG_LINES_PER_SEC`] per second).
/// When a new second starts after suppression, logs how many lines were left out.
pub fn log_allowed() -> bool {
    let now = seconds();
    if LOG_WINDOW.swap(now, Ordering::Relaxed) != now {
        LOG_USED.store(0, Ordering::Relaxed);
        let n = LOG_SUPPRESSED.swap(0, Ordering::Relaxed);
        if n > 0 {
            info!("VRRP receive: {n} packet drop messages suppressed (rate limit)");
        }
    }
    if LOG_USED.fetch_add(1, Ordering::Relaxed) < LOG_LINES_PER_SEC {
        true
    } else {
        LOG_SUPPRESSED.fetch_add(1, Ordering::Relaxed);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_packet_is_accounted() {
        let mut s = RxStats::default();
        s.accept();
        s.drop("checksum");
        s.drop(UNKNOWN_VRID);
        s.drop_n(SOCKET_OVERFLOW, 5);
        s.drop_n("ttl", 0);
        s.kernel_drop_n(UNKNOWN_VRID, 2);
        assert_eq!(s.received, 10);
        assert_eq!(s.accepted + s.dropped(), s.received);
        let t = s.to_text();
        assert!(t.starts_with(
            "VRRP Receive:\n  Received: 10\n  Accepted: 1\n  Dropped: 9\n  Dropped in kernel: 2\n"
        ));
        assert!(t.contains("    socket_overflow: 5\n"), "{t}");
        assert!(!t.contains("ttl"), "{t}");
        let m = s.to_metrics();
        assert!(m.contains("keepalived_vrrp_rx_dropped_total{reason=\"unknown_vrid\"} 3\n"));
        assert!(m.contains("keepalived_vrrp_rx_kernel_dropped_total 2\n"));
        assert!(m.contains("keepalived_vrrp_rx_packets_total{outcome=\"accepted\"} 1\n"));
        assert_eq!(s.to_json()["dropped"]["checksum"], 1);
    }

    #[test]
    fn labels_are_distinct() {
        let all = [
            DropReason::AhUnexpected,
            DropReason::AhMissing,
            DropReason::BadPassword,
            DropReason::AhIcv,
            DropReason::Ttl { ttl: 1 },
            DropReason::Checksum { version: 2 },
        ];
        let mut l: Vec<_> = all.iter().map(label).collect();
        l.sort_unstable();
        l.dedup();
        assert_eq!(l.len(), all.len());
    }

    #[test]
    fn drop_logging_is_limited() {
        let allowed = (0..1000).filter(|_| log_allowed()).count() as u64;
        // One window may straddle a second boundary: at most two windows' worth.
        assert!((1..=2 * LOG_LINES_PER_SEC).contains(&allowed), "{allowed}");
    }
}
