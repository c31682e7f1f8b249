//! SMTP_CHECK: a `220` banner, `HELO name` answered by `250`,
//! then `QUIT`.

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::probe::{with_timeout, CheckResult, Target};

/// The reply code of a complete SMTP reply, reading continuation lines (`250-...`).
/// Returns `None` on EOF or a malformed line.
async fn reply<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<u16>> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        match parse_reply_line(&line) {
            Some((code, true)) => return Ok(Some(code)),
            Some((_, false)) => continue,
            None => return Ok(None),
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

pub async fn check(helo: &str, target: &Target) -> CheckResult {
    let r = with_timeout(target.timeout, async {
        let tcp = target.tcp_connect().await?;
        let (rd, mut wr) = tcp.into_split();
        let mut rd = BufReader::new(rd);
        if reply(&mut rd).await? != Some(220) {
            return Ok(Err("Bad server greeting"));
        }
        wr.write_all(format!("HELO {helo}\r\n").as_bytes()).await?;
        if reply(&mut rd).await? != Some(250) {
            return Ok(Err("Bad HELO response"));
        }
        wr.write_all(b"QUIT\r\n").await?;
        let _ = reply(&mut rd).await;
        Ok(Ok(()))
    })
    .await;
    match r {
        Ok(Ok(())) => CheckResult::up(),
        Ok(Err(why)) => CheckResult::down(why),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => CheckResult::down("Timeout"),
        Err(_) => CheckResult::down("Error connecting"),
    }
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
