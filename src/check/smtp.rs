//! SMTP_CHECK: a `220` banner, `HELO name` answered by `250`,
//! then `QUIT`.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::probe::{with_timeout, CheckResult, Target};

/// The reply code of a complete SMTP reply, reading continuation lines (`250-...`).
/// Returns `None` on EOF, code 0 for a line without a code (keepalived reads its status
/// as 0, a bad reply).
async fn reply<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<u16>> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        match parse_reply_line(&line) {
            Some((code, true)) => return Ok(Some(code)),
            Some((_, false)) => continue,
            None => return Ok(Some(0)),
        }
    }
}

/// `(code, last)` of one reply line: `250 ok` is last, `250-ext` continues.
pub fn parse_reply_line(line: &str) -> Option<(u16, bool)> {
    let code = line.get(..3)?;
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let code = code.parse().ok()?;
    let last = !matches!(line.as_bytes().get(3), Some(b'-'));
    Some((code, last))
}

/// One SMTP dialogue; the failure is keepalived's reason (check_smtp.c), naming the server
/// as `[ip]:port`. Each step has the connect timeout, as keepalived times each read and
/// write.
pub async fn check(helo: &str, target: &Target) -> CheckResult {
    match dialogue(helo, target).await {
        Ok(()) => CheckResult::up(),
        Err(why) => CheckResult::down(why),
    }
}

async fn dialogue(helo: &str, target: &Target) -> Result<(), String> {
    let server = match target.addr {
        std::net::SocketAddr::V4(a) => format!("[{}]:{}", a.ip(), a.port()),
        std::net::SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    };
    let timed_out = |e: &std::io::Error| e.kind() == std::io::ErrorKind::TimedOut;
    let tcp = target.tcp_connect().await.map_err(|e| {
        if timed_out(&e) {
            format!("Connection timeout to server {server}")
        } else {
            format!("Error connecting to server {server}")
        }
    })?;
    let (rd, mut wr) = tcp.into_split();
    let mut rd = BufReader::new(rd);
    let t = target.timeout;
    let read = |r: std::io::Result<Option<u16>>| match r {
        Ok(Some(code)) => Ok(Some(code)),
        Ok(None) => Ok(None),
        Err(e) if timed_out(&e) => Err(format!("Read timeout from server {server}")),
        Err(_) => Err(format!("Read failure from server {server}")),
    };
    let write_err = |e: std::io::Error| {
        if timed_out(&e) {
            format!("Write timeout to server {server}")
        } else {
            format!("Write failure to server {server}")
        }
    };
    // end of stream before a reply: keepalived's read fails
    let eof = || format!("Read failure from server {server}");
    match read(with_timeout(t, reply(&mut rd)).await)? {
        Some(220) => {}
        Some(_) => return Err(format!("Bad greeting banner from server {server}")),
        None => return Err(eof()),
    }
    let hello = format!("HELO {helo}\r\n");
    with_timeout(t, wr.write_all(hello.as_bytes()))
        .await
        .map_err(write_err)?;
    match read(with_timeout(t, reply(&mut rd)).await)? {
        Some(250) => {}
        Some(_) => return Err(format!("Bad HELO response from server {server}")),
        None => return Err(eof()),
    }
    with_timeout(t, wr.write_all(b"QUIT\r\n"))
        .await
        .map_err(write_err)?;
    let _ = with_timeout(t, reply(&mut rd)).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_lines() {
        assert_eq!(parse_reply_line("220 mx ESMTP\r\n"), Some((220, true)));
        assert_eq!(parse_reply_line("250-PIPELINING\r\n"), Some((250, false)));
        assert_eq!(parse_reply_line("250\r\n"), Some((250, true)));
        assert_eq!(parse_reply_line("2x0 no"), None);
        assert_eq!(parse_reply_line("25"), None);
    }
}
