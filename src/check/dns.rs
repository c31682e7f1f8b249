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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyError {
    Short,
    WrongId,
    NotResponse,
    Rcode(u8),
    QuestionMismatch,
    NoAnswer,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Checks a reply against the query it answers (the query's bytes). Never panics.
pub fn check_reply(query: &[u8], reply: &[u8]) -> Result<(), ReplyError> {
    let id = be16(reply, 0).ok_or(ReplyError::Short)?;
    let flags = be16(reply, 2).ok_or(ReplyError::Short)?;
    let qd = be16(reply, 4).ok_or(ReplyError::Short)?;
    let an = be16(reply, 6).ok_or(ReplyError::Short)?;
    if reply.len() < 12 {
        return Err(ReplyError::Short);
    }
    if Some(id) != be16(query, 0) {
        return Err(ReplyError::WrongId);
    }
    if flags & 0x8000 == 0 {
        return Err(ReplyError::NotResponse);
    }
    let rcode = (flags & 0x000f) as u8;
    if rcode != 0 {
        return Err(ReplyError::Rcode(rcode));
    }
    // the question section follows the header verbatim (names in questions are
    // uncompressed in practice; compare case-insensitively as RFC 4343 asks)
    let question = query.get(12..).ok_or(ReplyError::Short)?;
    let echoed = reply
        .get(12..12 + question.len())
        .ok_or(ReplyError::Short)?;
    if qd != 1 || !question.eq_ignore_ascii_case(echoed) {
        return Err(ReplyError::QuestionMismatch);
    }
    if an == 0 {
        return Err(ReplyError::NoAnswer);
    }
    Ok(())
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
        sock.send(&query).await?;
        let mut buf = vec![0u8; 65536];
        loop {
            let n = sock.recv(&mut buf).await?;
            let reply = buf.get(..n).unwrap_or_default();
            // a stray datagram with another id: keep waiting for ours
            match check_reply(&query, reply) {
                Err(ReplyError::WrongId) => continue,
                other => return Ok(other),
            }
        }
    })
    .await;
    match r {
        Ok(Ok(())) => CheckResult::up(),
        Ok(Err(e)) => CheckResult::down(format!("{e:?}")),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => CheckResult::down("timeout"),
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
        let q = build_query(7, "Example.org", 1).unwrap();
        assert_eq!(check_reply(&q, &reply_for(&q, 0x8180, 1)), Ok(()));
        let mut upper = reply_for(&q, 0x8180, 1);
        upper[13] = b'e';
        assert_eq!(check_reply(&q, &upper), Ok(()));
        assert_eq!(
            check_reply(&q, &reply_for(&q, 0x0180, 1)),
            Err(ReplyError::NotResponse)
        );
        assert_eq!(
            check_reply(&q, &reply_for(&q, 0x8183, 1)),
            Err(ReplyError::Rcode(3))
        );
        assert_eq!(
            check_reply(&q, &reply_for(&q, 0x8180, 0)),
            Err(ReplyError::NoAnswer)
        );
        let mut other = reply_for(&q, 0x8180, 1);
        other[1] = 8;
        assert_eq!(check_reply(&q, &other), Err(ReplyError::WrongId));
        assert_eq!(check_reply(&q, &q[..5]), Err(ReplyError::Short));
        let mut bad_q = reply_for(&q, 0x8180, 1);
        bad_q[14] = b'z';
        assert_eq!(check_reply(&q, &bad_q), Err(ReplyError::QuestionMismatch));
        assert_eq!(check_reply(&q, &[]), Err(ReplyError::Short));
    }
}
