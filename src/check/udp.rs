//! UDP_CHECK: send `payload`; with `require_reply` a reply
//! must arrive and, when it gives data, match it (`x` nibbles are wildcards) within the
//! length limits; without it, only an ICMP unreachable (seen as ECONNREFUSED on a
//! connected socket) fails.

use std::io::ErrorKind;

use super::probe::{CheckResult, Target};
use crate::config::model::check::checker::UdpCheck;

/// Whether `reply` satisfies the check's length limits and `require_reply` pattern. As in
/// keepalived's check_udp_reply, both apply only when `require_reply` gives data, and only
/// the shorter of the reply and the pattern is compared.
pub fn reply_ok(cfg: &UdpCheck, reply: &[u8]) -> bool {
    let Some(pat) = cfg.require_reply.as_ref().filter(|p| !p.is_empty()) else {
        return true;
    };
    let len = reply.len() as u64;
    if len < u64::from(cfg.min_reply_length) || len > u64::from(cfg.max_reply_length) {
        return false;
    }
    pat.iter()
        .zip(reply)
        .all(|((v, mask), b)| b & mask == v & mask)
}

pub async fn check(cfg: &UdpCheck, target: &Target) -> CheckResult {
    let sock = match target.udp_connect() {
        Ok(s) => s,
        Err(_) => return CheckResult::down("socket error"),
    };
    // an empty payload still sends a datagram (keepalived sends one zero-length packet)
    if let Err(e) = sock.send(&cfg.payload).await {
        return CheckResult::down(format!("send failed: {e}"));
    }
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(target.timeout, sock.recv(&mut buf)).await {
        Ok(Ok(n)) => {
            if reply_ok(cfg, buf.get(..n).unwrap_or_default()) {
                CheckResult::up()
            } else {
                CheckResult::down("reply mismatch")
            }
        }
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => {
            CheckResult::down("port unreachable")
        }
        Ok(Err(e)) => CheckResult::down(format!("receive failed: {e}")),
        // no reply and no ICMP error: up unless a reply is required
        Err(_) if cfg.require_reply.is_none() => CheckResult::up(),
        Err(_) => CheckResult::down("timeout"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(req: Option<Vec<(u8, u8)>>, min: u32, max: u32) -> UdpCheck {
        UdpCheck {
            payload: vec![],
            require_reply: req,
            min_reply_length: min,
            max_reply_length: max,
        }
    }

    #[test]
    fn wildcard_matching_and_lengths() {
        // "4x" then "ff": the first byte's low nibble is a wildcard
        let c = cfg(Some(vec![(0x40, 0xf0), (0xff, 0xff)]), 0, 255);
        assert!(reply_ok(&c, &[0x4a, 0xff]));
        assert!(reply_ok(&c, &[0x41, 0xff, 0x00]));
        assert!(!reply_ok(&c, &[0x5a, 0xff]));
        assert!(!reply_ok(&c, &[0x4a, 0xfe]));
        // a shorter reply is compared over its own length (keepalived's check_udp_reply)
        assert!(reply_ok(&c, &[0x4a]));
        let c = cfg(Some(vec![(1, 0xff)]), 2, 3);
        assert!(!reply_ok(&c, &[1]));
        assert!(reply_ok(&c, &[1, 2]));
        assert!(!reply_ok(&c, &[1, 2, 3, 4]));
        // without reply data (no require_reply, or a bare one) the lengths do not matter
        assert!(reply_ok(&cfg(None, 2, 3), &[1]));
        assert!(reply_ok(&cfg(Some(Vec::new()), 2, 3), &[1, 2, 3, 4]));
    }
}
