//! PING_CHECK: one ICMP/ICMPv6 echo over a datagram ("ping")
//! socket, which needs no privilege when `net.ipv4.ping_group_range` allows the group;
//! the kernel fills in the identifier and checksum and filters replies by identifier.

use std::net::SocketAddr;

use socket2::{Protocol, Type};

use super::probe::{with_timeout, CheckResult, Target};

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;

/// An echo request with sequence `seq` and a fixed payload (id and checksum are the
/// kernel's on a ping socket).
pub fn echo_request(v6: bool, seq: u16) -> Vec<u8> {
    let mut p = vec![
        if v6 { ECHO_REQUEST_V6 } else { ECHO_REQUEST_V4 },
        0,
        0,
        0,
        0,
        0,
    ];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(b"keepalived-ping-check");
    p
}

/// Whether `reply` is the echo reply to `seq`.
pub fn is_reply(v6: bool, seq: u16, reply: &[u8]) -> bool {
    let want = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    reply.first() == Some(&want) && reply.get(6..8) == Some(&seq.to_be_bytes()[..])
}

/// Makes sure ping sockets are allowed for `gid` by widening
/// `net.ipv4.ping_group_range` of the current network namespace when needed, as
/// keepalived does. Returns whether the range was changed.
pub fn ensure_ping_group(gid: u32) -> std::io::Result<bool> {
    const PATH: &str = "/proc/sys/net/ipv4/ping_group_range";
    let cur = std::fs::read_to_string(PATH)?;
    let mut it = cur.split_whitespace().map(|v| v.parse::<u32>().ok());
    let (lo, hi) = match (it.next().flatten(), it.next().flatten()) {
        (Some(lo), Some(hi)) => (lo, hi),
        _ => (1, 0),
    };
    if lo <= gid && gid <= hi {
        return Ok(false);
    }
    // an empty range (lo > hi) becomes just gid; otherwise it is extended to gid
    let (nlo, nhi) = if lo > hi {
        (gid, gid)
    } else {
        (lo.min(gid), hi.max(gid))
    };
    std::fs::write(PATH, format!("{nlo}\t{nhi}\n"))?;
    Ok(true)
}

pub async fn check(target: &Target, seq: u16) -> CheckResult {
    let v6 = target.addr.is_ipv6();
    let proto = if v6 {
        Protocol::ICMPV6
    } else {
        Protocol::ICMPV4
    };
    let t = Target {
        addr: SocketAddr::new(target.addr.ip(), 0),
        ..target.clone()
    };
    let sock = match t.socket(Type::DGRAM, Some(proto)).and_then(|s| {
        s.connect(&t.addr.into())?;
        tokio::net::UdpSocket::from_std(s.into())
    }) {
        Ok(s) => s,
        Err(e) => return CheckResult::down(format!("socket error: {e}")),
    };
    let r = with_timeout(target.timeout, async {
        sock.send(&echo_request(v6, seq)).await?;
        let mut buf = vec![0u8; 2048];
        loop {
            let n = sock.recv(&mut buf).await?;
            if is_reply(v6, seq, buf.get(..n).unwrap_or_default()) {
                return Ok(());
            }
        }
    })
    .await;
    match r {
        Ok(()) => CheckResult::up(),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => CheckResult::down("timeout"),
        Err(e) => CheckResult::down(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_bytes() {
        let p = echo_request(false, 0x0102);
        assert_eq!(&p[..8], &[8, 0, 0, 0, 0, 0, 1, 2]);
        let mut r = p.clone();
        r[0] = 0;
        assert!(is_reply(false, 0x0102, &r));
        assert!(!is_reply(false, 0x0103, &r));
        assert!(!is_reply(true, 0x0102, &r));
        assert!(!is_reply(false, 1, &[0, 0]));
    }
}
