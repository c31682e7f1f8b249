//! DNS_CHECK: one UDP query of `type` for `name`; the reply
//! must carry our id, be a response (QR) with RCODE 0, echo the question and hold at
//! least one answer. A small codec (RFC 1035): only what the check needs.

use super::probe::{CheckResult, Target};
use crate::config::model::check::checker::{DnsCheck, DnsType};

pub fn qtype_code(t: DnsType) -> u16 {
    match t {
        DnsType::A => 1,
        DnsType::Ns => 2,
        DnsType::Cname => 5,
        DnsType::Soa => 6,
        DnsType::Mx => 15,
        DnsType::Txt => 16,
        DnsType::Aaaa => 28,
    }
}

/// Encodes `name` as labels (RFC 1035); `None` for an empty or over-long label.
pub fn encode_name(name: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if !trimmed.is_empty() {
        for label in trimmed.split('.') {
            let len = u8::try_from(label.len())
                .ok()
                .filter(|l| (1..=63).contains(l))?;
            out.push(len);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    (out.len() <= 255).then_some(out)
}

/// A query with recursion desired, class IN.
pub fn build_query(id: u16, name: &str, qtype: u16) -> Option<Vec<u8>> {
    let mut q = Vec::with_capacity(32);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QD=1
    q.extend_from_slice(&encode_name(name)?);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    Some(q)
}

/// Why a datagram is not the answer, as keepalived's check_dns.c sorts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError {
    /// Shorter than a header, another id, or not a response: keepalived keeps waiting.
    Ignored,
    /// A response with a non-zero rcode: the check fails.
    Rcode(u8),
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Checks a reply against the query it answers (the query's bytes). As keepalived 2.2.7:
/// any response with our id and rcode 0 is a success, whatever its sections hold. Never
/// panics.
pub fn check_reply(query: &[u8], reply: &[u8]) -> Result<(), ReplyError> {
    let (Some(id), Some(flags)) = (be16(reply, 0), be16(reply, 2)) else {
        return Err(ReplyError::Ignored);
    };
    if reply.len() < 12 || Some(id) != be16(query, 0) || flags & 0x8000 == 0 {
        return Err(ReplyError::Ignored);
    }
    match (flags & 0x000f) as u8 {
        0 => Ok(()),
        rcode => Err(ReplyError::Rcode(rcode)),
    }
}

pub async fn check(cfg: &DnsCheck, target: &Target, id: u16) -> CheckResult {
    let Some(query) = build_query(id, &cfg.name, qtype_code(cfg.qtype)) else {
        return CheckResult::down("invalid name");
    };
    let sock = match target.udp_connect() {
        Ok(s) => s,
        Err(_) => return CheckResult::down("socket error"),
    };
    let r = super::probe::with_timeout(target.timeout, async {
        if sock.send(&query).await.is_err() {
            return Ok(Err("failed to write socket.".to_owned()));
        }
        let mut buf = vec![0u8; 65536];
        loop {
            let n = match sock.recv(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let errno = e.raw_os_error().unwrap_or(0);
                    let text = nix::errno::Errno::from_raw(errno).desc();
                    return Ok(Err(format!(
                        "failed to read socket; errno {errno} ({text})"
                    )));
                }
            };
            let reply = buf.get(..n).unwrap_or_default();
            match check_reply(&query, reply) {
                Ok(()) => return Ok(Ok(())),
                // keepalived waits on for its answer
                Err(ReplyError::Ignored) => continue,
                Err(ReplyError::Rcode(rc)) => {
                    return Ok(Err(format!("read error occurred. (rcode = {rc})")))
                }
            }
        }
    })
    .await;
    // the reasons are keepalived's words (its log line is `DNS_CHECK (server) REASON`)
    match r {
        Ok(Ok(())) => CheckResult::up(),
        Ok(Err(why)) => CheckResult::down(why),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            CheckResult::down("read timeout from socket")
        }
        Err(e) => CheckResult::down(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_bytes() {
        let q = build_query(0x1234, "example.org.", 6).unwrap();
        assert_eq!(
            q,
            [
                0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p',
                b'l', b'e', 3, b'o', b'r', b'g', 0, 0, 6, 0, 1
            ]
        );
        assert_eq!(
            build_query(1, ".", 6).unwrap().get(12..),
            Some(&[0u8, 0, 6, 0, 1][..])
        );
        assert!(build_query(1, "a..b", 1).is_none());
        assert!(encode_name(&"a".repeat(64)).is_none());
    }

    fn reply_for(q: &[u8], flags: u16, an: u16) -> Vec<u8> {
        let mut r = q.to_vec();
        r[2..4].copy_from_slice(&flags.to_be_bytes());
        r[6..8].copy_from_slice(&an.to_be_bytes());
        // one A answer: pointer to the name, type A, class IN, ttl, 4 bytes
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
        r
    }

    #[test]
    fn reply_checks() {
        let q = build_query(0x1234, "example.org.", 6).unwrap();
        assert_eq!(check_reply(&q, &reply_for(&q, 0x8180, 1)), Ok(()));
        // keepalived 2.2.7 looks at the id, QR and the rcode only
        assert_eq!(check_reply(&q, &reply_for(&q, 0x8180, 0)), Ok(()));
        assert_eq!(
            check_reply(&q, &reply_for(&q, 0x0180, 1)),
            Err(ReplyError::Ignored)
        );
        assert_eq!(
            check_reply(&q, &reply_for(&q, 0x8183, 1)),
            Err(ReplyError::Rcode(3))
        );
        let mut other = reply_for(&q, 0x8180, 1);
        other[0] ^= 0xff;
        assert_eq!(check_reply(&q, &other), Err(ReplyError::Ignored));
        assert_eq!(check_reply(&q, &q[..5]), Err(ReplyError::Ignored));
        assert_eq!(check_reply(&q, &[]), Err(ReplyError::Ignored));
    }
}
