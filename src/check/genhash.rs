//! genhash: one GET exactly as HTTP_GET/SSL_GET sends it, then
//! the MD5 of the body as 32 lower-case hex digits; `-v` adds keepalived's hex dumps.
//! Like keepalived 2.2.7 it exits 0 even when the request fails (observed).

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::http::{self, header_end_len, md5, TlsSettings};
use super::probe::Target;
use crate::config::model::check::checker::HttpProtocol;

/// What genhash needs (the command line is parsed by `cli::parse_genhash`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub addr: SocketAddr,
    pub path: String,
    pub ssl: bool,
    pub sni: bool,
    pub virtualhost: Option<String>,
    pub protocol: HttpProtocol,
    pub timeout: Duration,
    pub fwmark: Option<u32>,
    pub verbose: bool,
}

/// keepalived's dump_buffer: `NNNN ` decimal offsets, ` xx` bytes, ` -` after the
/// eighth, then the printable ASCII of each full line of 16.
pub fn dump_buffer(b: &[u8]) -> String {
    let mut s = String::new();
    let total = b.len().div_ceil(16) * 16;
    for i in 0..total {
        if i % 16 == 0 {
            s.push_str(&format!("{:04} ", i & 0xffff));
        }
        match b.get(i) {
            Some(x) => s.push_str(&format!(" {x:02x}")),
            None => s.push_str("   "),
        }
        if (i + 1) % 8 == 0 {
            if (i + 1) % 16 != 0 {
                s.push_str(" -");
            } else {
                s.push_str("   ");
                for j in (i + 1 - 16)..=i {
                    s.push(match b.get(j) {
                        Some(&c) if (0x20..=0x7e).contains(&c) => c as char,
                        Some(_) => '.',
                        None => ' ',
                    });
                }
                s.push('\n');
            }
        }
    }
    s
}

fn delim(title: &str) -> String {
    format!("-----------------------[{title}]-----------------------\n")
}

/// The text genhash prints for a response (`elapsed` for `-v`).
pub fn render(raw: &[u8], path: &str, verbose: bool, elapsed: Duration) -> String {
    let (hlen, body) = match header_end_len(raw) {
        Some(n) => (n, raw.get(n..).unwrap_or_default()),
        None => (raw.len(), &[][..]),
    };
    let digest = md5(body);
    let hexd = http::hex(&digest);
    if !verbose {
        return format!("{hexd}\n");
    }
    let head = raw.get(..hlen).unwrap_or_default();
    let mut s = String::new();
    s.push_str(&delim("    HTTP Header Buffer    "));
    s.push_str(&dump_buffer(head));
    s.push_str(&delim(" HTTP Header Ascii Buffer "));
    s.push_str(&String::from_utf8_lossy(head));
    s.push('\n');
    s.push_str(&delim("        HTML Buffer        "));
    s.push_str(&dump_buffer(body));
    s.push('\n');
    s.push_str(&delim("    HTML hash resulting    "));
    s.push_str(&dump_buffer(&digest));
    s.push_str(&delim(" HTML hash final resulting "));
    s.push_str(&hexd);
    s.push_str("\n\n");
    s.push_str(&format!(
        "Global response time for [{path}] = {} usecs\n",
        elapsed.as_micros()
    ));
    s
}

/// Performs the request and writes what keepalived's genhash writes. Returns the exit code.
pub fn run(req: &Request, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(err, "genhash: {e}");
            return 1;
        }
    };
    let tls = if req.ssl {
        match TlsSettings::new(None) {
            Ok(t) => Some(t),
            Err(e) => {
                let _ = writeln!(err, "SSL context: {e}");
                return 1;
            }
        }
    } else {
        None
    };
    let mut target = Target::new(req.addr, req.timeout);
    target.fwmark = req.fwmark;
    let host = http::host_header(req.virtualhost.as_deref(), req.addr);
    let sni = if req.sni {
        req.virtualhost.as_deref()
    } else {
        None
    };
    let started = Instant::now();
    let res = rt.block_on(async {
        // connect failures and read failures are reported differently (observed)
        let conn = super::probe::with_timeout(req.timeout, target.tcp_connect()).await;
        let mut tcp = match conn {
            Ok(t) => t,
            Err(_) => return Err(Fail::Connect),
        };
        let request = http::build_request(&req.path, &host, req.protocol);
        let r = super::probe::with_timeout(req.timeout, async {
            match &tls {
                None => http::exchange(&mut tcp, &request).await,
                Some(t) => {
                    let mut s =
                        super::tls::connect(t.config.clone(), req.addr.ip(), sni, tcp).await?;
                    http::exchange(&mut s, &request).await
                }
            }
        })
        .await;
        match r {
            Ok(b) if b.is_empty() => Err(Fail::NoData),
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(Fail::Timeout),
            Err(_) => Err(Fail::NoData),
        }
    });
    match res {
        Ok(raw) => {
            let _ =
                out.write_all(render(&raw, &req.path, req.verbose, started.elapsed()).as_bytes());
        }
        Err(Fail::Connect) => {
            let _ = writeln!(out, "Connection failed");
        }
        Err(Fail::Timeout) => {
            let _ = writeln!(err, "Timeout WEB read");
        }
        Err(Fail::NoData) => {
            let _ = writeln!(err, "no data received from remote webserver");
        }
    }
    let _ = out.flush();
    0
}

enum Fail {
    Connect,
    Timeout,
    NoData,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_matches_keepalived() {
        // lines captured from keepalived 2.2.7 genhash -v
        assert_eq!(
            dump_buffer(b"hello world\n"),
            "0000  68 65 6c 6c 6f 20 77 6f - 72 6c 64 0a               hello world.    \n"
        );
        let d = dump_buffer(b"HTTP/1.0 200 OK\r\nab");
        assert_eq!(
            d,
            "0000  48 54 54 50 2f 31 2e 30 - 20 32 30 30 20 4f 4b 0d   HTTP/1.0 200 OK.\n\
             0016  0a 61 62                -                           .ab             \n"
        );
        assert_eq!(dump_buffer(b""), "");
    }

    #[test]
    fn render_plain_and_verbose() {
        let raw = b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n";
        assert_eq!(
            render(raw, "/", false, Duration::ZERO),
            "6f5902ac237024bdd0c176cb93063dc4\n"
        );
        let v = render(raw, "/i", true, Duration::from_micros(7));
        assert!(v.starts_with(
            "-----------------------[    HTTP Header Buffer    ]-----------------------\n0000 "
        ));
        assert!(
            v.contains("Content-Length: 12\r\n\r\n\n-----------------------[        HTML Buffer")
        );
        assert!(v.ends_with(
            "-----------------------[ HTML hash final resulting ]-----------------------\n\
             6f5902ac237024bdd0c176cb93063dc4\n\nGlobal response time for [/i] = 7 usecs\n"
        ));
    }
}
