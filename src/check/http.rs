//! HTTP_GET and SSL_GET: one GET per `url`, the status code
//! checked against the url's set, the MD5 of the body against `digest`, the body against
//! `regex`. The response parser is pure and never panics ([`parse_response`]).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::probe::{with_timeout, CheckResult, Target};
use crate::config::model::check::checker::{HttpCheck, HttpProtocol, Url};
use crate::config::model::check::SslConfig;

/// Responses are read up to this size; keepalived also bounds its buffer.
pub const MAX_RESPONSE: usize = 4 * 1024 * 1024;

/// The request keepalived sends: `GET`, `User-Agent`, `Connection: close` for
/// 1.0C and 1.1, then `Host`.
pub fn build_request(path: &str, host: &str, proto: HttpProtocol) -> Vec<u8> {
    let (minor, close) = match proto {
        HttpProtocol::Http10 => (0, ""),
        HttpProtocol::Http10C => (0, "Connection: close\r\n"),
        HttpProtocol::Http11 => (1, "Connection: close\r\n"),
    };
    format!(
        "GET {path} HTTP/1.{minor}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: {host}\r\n\r\n"
    )
    .into_bytes()
}

/// The Host header: the virtualhost (url → checker → real server/VS, no port), else the
/// connect address and port, IPv6 in brackets.
pub fn host_header(vhost: Option<&str>, addr: SocketAddr) -> String {
    match vhost {
        Some(v) => v.to_owned(),
        None => match addr {
            SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        },
    }
}

/// A parsed HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    pub minor: u8,
    pub status: u16,
    pub headers: Vec<(&'a str, &'a str)>,
    /// Everything after the header block, bounded by Content-Length when given. This is
    /// what keepalived digests (it does not decode chunked bodies, and genhash agrees).
    pub body: &'a [u8],
    /// Whether the body is complete (Content-Length reached or the last chunk seen);
    /// without either the body ends at EOF, which the caller knows.
    pub complete: bool,
    /// The header block and the body as received: what keepalived's `regex` sees (it
    /// matches the first read whole, its offsets counting from the status line).
    pub raw: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The header block has not ended yet.
    Incomplete,
    /// Not an HTTP response.
    BadStatusLine,
    BadHeader,
}

/// Finds the end of the header block (`\r\n\r\n`, or bare `\n\n`): (header len, body start).
fn header_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < buf.len() {
        if buf.get(i) == Some(&b'\n') {
            if buf.get(i + 1) == Some(&b'\n') {
                return Some((i, i + 2));
            }
            if buf.get(i + 1) == Some(&b'\r') && buf.get(i + 2) == Some(&b'\n') {
                return Some((i, i + 3));
            }
        }
        i += 1;
    }
    None
}

/// Where the body starts (after the blank line ending the header block), if it has ended.
pub fn header_end_len(buf: &[u8]) -> Option<usize> {
    header_end(buf).map(|(_, b)| b)
}

/// Parses as much of a response as `buf` holds. Never panics.
pub fn parse_response(buf: &[u8]) -> Result<Response<'_>, ParseError> {
    let (hlen, bstart) = match header_end(buf) {
        Some(x) => x,
        None => {
            // reject garbage early so a read loop can stop
            let probe = buf.get(..buf.len().min(5)).unwrap_or_default();
            if !b"HTTP/".starts_with(probe) {
                return Err(ParseError::BadStatusLine);
            }
            return Err(ParseError::Incomplete);
        }
    };
    let head = std::str::from_utf8(buf.get(..hlen).unwrap_or_default())
        .map_err(|_| ParseError::BadHeader)?;
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().ok_or(ParseError::BadStatusLine)?;
    let (minor, status) = parse_status_line(status_line)?;
    let mut headers = Vec::new();
    for l in lines {
        if l.is_empty() {
            continue;
        }
        let (k, v) = l.split_once(':').ok_or(ParseError::BadHeader)?;
        headers.push((k.trim(), v.trim()));
    }
    let rest = buf.get(bstart..).unwrap_or_default();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    };
    let chunked = find("transfer-encoding").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("chunked"))
    });
    let (body, complete) = if chunked {
        match chunked_len(rest) {
            Some(n) => (rest.get(..n).unwrap_or(rest), true),
            None => (rest, false),
        }
    } else if let Some(cl) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if rest.len() >= cl {
            (rest.get(..cl).unwrap_or(rest), true)
        } else {
            (rest, false)
        }
    } else {
        (rest, false)
    };
    let raw = buf.get(..bstart + body.len()).unwrap_or(buf);
    Ok(Response {
        minor,
        status,
        headers,
        body,
        complete,
        raw,
    })
}

fn parse_status_line(l: &str) -> Result<(u8, u16), ParseError> {
    let rest = l.strip_prefix("HTTP/1.").ok_or(ParseError::BadStatusLine)?;
    let mut it = rest.splitn(3, ' ');
    let minor = it
        .next()
        .and_then(|m| m.parse::<u8>().ok())
        .ok_or(ParseError::BadStatusLine)?;
    let code = it.next().ok_or(ParseError::BadStatusLine)?;
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::BadStatusLine);
    }
    let status = code.parse::<u16>().map_err(|_| ParseError::BadStatusLine)?;
    Ok((minor, status))
}

/// The length of a complete chunked body (through the last chunk and its trailers), or
/// `None` if `b` does not hold it all yet or is malformed.
pub fn chunked_len(b: &[u8]) -> Option<usize> {
    let mut pos = 0usize;
    loop {
        let size;
        (size, pos) = chunk_header(b, pos)?;
        if size == 0 {
            // trailers until an empty line
            loop {
                let e = pos + b.get(pos..)?.iter().position(|&c| c == b'\n')?;
                let empty = b.get(pos..e)? == b"" || b.get(pos..e)? == b"\r";
                pos = e + 1;
                if empty {
                    return Some(pos);
                }
            }
        }
        pos = after_chunk_data(b, pos.checked_add(size)?)?;
    }
}

/// A chunk's size line at `pos`: the size and where its data starts.
fn chunk_header(b: &[u8], pos: usize) -> Option<(usize, usize)> {
    let line_end = pos + b.get(pos..)?.iter().position(|&c| c == b'\n')?;
    let line = std::str::from_utf8(b.get(pos..line_end)?).ok()?;
    let size_txt = line.trim_end_matches('\r').split(';').next()?.trim();
    let size = usize::from_str_radix(size_txt, 16).ok()?;
    Some((size, line_end + 1))
}

/// Skips the line end that follows a chunk's data ending at `pos`.
fn after_chunk_data(b: &[u8], pos: usize) -> Option<usize> {
    match b.get(pos..)? {
        [b'\r', b'\n', ..] => Some(pos + 2),
        [b'\n', ..] => Some(pos + 1),
        _ => None,
    }
}

/// Decodes a chunked body (for regex matching on the content); `None` if malformed.
pub fn dechunk(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        let size;
        (size, pos) = chunk_header(b, pos)?;
        if size == 0 {
            return Some(out);
        }
        let end = pos.checked_add(size)?;
        out.extend_from_slice(b.get(pos..end)?);
        pos = after_chunk_data(b, end)?;
    }
}

/// MD5 of `body` as 32 lower-case hex digits (genhash's output, `digest`'s format).
pub fn md5_hex(body: &[u8]) -> String {
    hex(&md5(body))
}

pub fn md5(body: &[u8]) -> [u8; 16] {
    Md5::digest(body).into()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// Compiles a url's regex with its `regex_options` (PCRE2 names; unknown ones ignored).
pub fn compile_regex(url: &Url) -> Option<regex::bytes::Regex> {
    let pat = url.regex.as_ref()?;
    let mut b = regex::bytes::RegexBuilder::new(pat);
    for o in &url.regex_options {
        match o.as_str() {
            "caseless" => b.case_insensitive(true),
            "multiline" => b.multi_line(true),
            "dotall" => b.dot_matches_new_line(true),
            "extended" => b.ignore_whitespace(true),
            "ungreedy" => b.swap_greed(true),
            _ => &mut b,
        };
    }
    b.build().ok()
}

/// Why a url failed, in keepalived's log words (`<reason> server <rs>.`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlFailure {
    Status,
    Digest,
    Regex,
}

impl UrlFailure {
    pub fn reason(self) -> &'static str {
        match self {
            UrlFailure::Status => "HTTP status code error to",
            UrlFailure::Digest => "MD5 digest error to",
            UrlFailure::Regex => "Regex match failed",
        }
    }
}

/// Checks one response against one url: status set, then digest, then regex.
pub fn check_url(
    url: &Url,
    regex: Option<&regex::bytes::Regex>,
    resp: &Response<'_>,
) -> Result<(), UrlFailure> {
    if !url.status_ok(resp.status) {
        return Err(UrlFailure::Status);
    }
    if let Some(d) = url.digest {
        if md5(resp.body) != d {
            return Err(UrlFailure::Digest);
        }
    }
    if let Some(re) = regex {
        // keepalived 2.2.7: the match starts at or after regex_min_offset and at or before
        // regex_max_offset (it may end beyond it); chunked bodies are not decoded
        let min = url.regex_min_offset.unwrap_or(0) as usize;
        let start = re
            .find_at(resp.raw, min.min(resp.raw.len()))
            .map(|m| m.start());
        let found = match (start, url.regex_max_offset) {
            (Some(s), Some(max)) => s <= max as usize,
            (s, _) => s.is_some(),
        };
        if found == url.regex_no_match {
            return Err(UrlFailure::Regex);
        }
    }
    Ok(())
}

/// Reads a whole response: until EOF, the body is complete, or the buffer is full.
async fn read_response<S: AsyncRead + Unpin>(s: &mut S) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        let n = match s.read(&mut chunk).await {
            Ok(n) => n,
            // servers that close without TLS close_notify: keep what we have
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !buf.is_empty() => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(buf);
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        match parse_response(&buf) {
            Ok(r) if r.complete => return Ok(buf),
            Err(ParseError::BadStatusLine) | Err(ParseError::BadHeader) => return Ok(buf),
            _ => {}
        }
        if buf.len() >= MAX_RESPONSE {
            return Ok(buf);
        }
    }
}

/// One GET over an established stream: the raw response bytes.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    request: &[u8],
) -> std::io::Result<Vec<u8>> {
    s.write_all(request).await?;
    s.flush().await?;
    read_response(s).await
}

/// TLS settings of SSL_GET: the root `SSL { }` block and SNI.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub config: Arc<rustls::ClientConfig>,
}

impl TlsSettings {
    /// Builds the client context: any server certificate is accepted unless `SSL { ca }`
    /// is given (keepalived's default context verifies nothing); `certificate`/`key` are
    /// presented as a client certificate.
    pub fn new(ssl: Option<&SslConfig>) -> Result<TlsSettings, String> {
        super::tls::client_config(ssl).map(|config| TlsSettings {
            config: Arc::new(config),
        })
    }
}

/// Why a GET failed: while connecting (TCP and TLS handshake) or while exchanging.
#[derive(Debug)]
pub enum FetchError {
    Connect(std::io::Error),
    Read(std::io::Error),
}

impl FetchError {
    /// keepalived's words for the failure (followed by ` server <rs>.`).
    pub fn reason(&self) -> &'static str {
        use std::io::ErrorKind as K;
        let timed_out = |e: &std::io::Error| e.kind() == K::TimedOut;
        // keepalived's connect_fail: the peer or the network refused the connection (its
        // socket error once the connection was under way); anything else before it is
        // under way (bind, device, mark) is connect_error
        let refused = |e: &std::io::Error| {
            matches!(
                e.kind(),
                K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::NetworkDown
            )
        };
        match self {
            FetchError::Connect(e) if timed_out(e) => "Timeout connecting",
            FetchError::Connect(e) if refused(e) => "Connection failed",
            FetchError::Connect(_) => "Error connecting",
            FetchError::Read(e) if timed_out(e) => "Timeout HTTP read",
            FetchError::Read(_) => "Read error with",
        }
    }
}

/// How an SSL_GET session is opened and closed: the context, the SNI name, and
/// `tls_compliant` (a close_notify alert at the end).
pub struct TlsUse<'a> {
    pub settings: &'a TlsSettings,
    pub sni: Option<&'a str>,
    pub close_notify: bool,
}

/// A GET of `path` against `target`, plain or TLS: the raw response. Connecting and
/// the exchange each get the target's timeout, as keepalived's connection_to.
pub async fn fetch(
    target: &Target,
    path: &str,
    host: &str,
    proto: HttpProtocol,
    tls: Option<TlsUse<'_>>,
) -> Result<Vec<u8>, FetchError> {
    let req = build_request(path, host, proto);
    let mut tcp = target.tcp_connect().await.map_err(FetchError::Connect)?;
    match tls {
        None => with_timeout(target.timeout, exchange(&mut tcp, &req))
            .await
            .map_err(FetchError::Read),
        Some(t) => {
            let mut s = with_timeout(
                target.timeout,
                super::tls::connect(t.settings.config.clone(), target.addr.ip(), t.sni, tcp),
            )
            .await
            .map_err(FetchError::Connect)?;
            let raw = with_timeout(target.timeout, exchange(&mut s, &req))
                .await
                .map_err(FetchError::Read)?;
            // keepalived 2.2.7 shuts the session down quietly (no alert); tls_compliant
            // (2.2.8) sends close_notify. Either way the result is already known.
            if t.close_notify {
                let _ = with_timeout(target.timeout, s.shutdown()).await;
            }
            Ok(raw)
        }
    }
}

/// One attempt of an HTTP_GET (`tls` = None) or SSL_GET check: url number `url` (the
/// manager walks the list, [`crate::check::manager::urls`]); an index past the end
/// checks the first.
pub async fn check(
    cfg: &HttpCheck,
    url: usize,
    rs_vhost: Option<&str>,
    target: &Target,
    tls: Option<&TlsSettings>,
    rs_name: &str,
) -> CheckResult {
    let Some(url) = cfg.urls.get(url).or(cfg.urls.first()) else {
        return CheckResult::down("no url");
    };
    let vhost = url
        .virtualhost
        .as_deref()
        .or(cfg.virtualhost.as_deref())
        .or(rs_vhost);
    let host = host_header(vhost, target.addr);
    let sni = if cfg.enable_sni { vhost } else { None };
    let raw = match fetch(
        target,
        &url.path,
        &host,
        cfg.protocol,
        tls.map(|settings| TlsUse {
            settings,
            sni,
            close_notify: cfg.tls_compliant || url.tls_compliant,
        }),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return CheckResult::down(format!("{} server {rs_name}.", e.reason())),
    };
    if raw.is_empty() {
        return CheckResult::down(format!("Read, no data received from  server {rs_name}."));
    }
    let resp = match parse_response(&raw) {
        Ok(r) => r,
        Err(_) => return CheckResult::down(format!("HTTP status code error to server {rs_name}.")),
    };
    let re = compile_regex(url);
    if let Err(f) = check_url(url, re.as_ref(), &resp) {
        return CheckResult::down(format!("{} server {rs_name}.", f.reason()));
    }
    let what = if url.regex.is_some() {
        "Regex match"
    } else if url.digest.is_some() {
        "MD5 digest"
    } else {
        "HTTP status code"
    };
    CheckResult {
        up: true,
        notes: vec![format!("{what} success to {rs_name} url({})", url.path)],
        ..CheckResult::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(path: &str) -> Url {
        Url {
            path: path.into(),
            ..Url::default()
        }
    }

    #[test]
    fn request_exact_bytes() {
        assert_eq!(
            build_request("/x", "10.0.0.1:80", HttpProtocol::Http10),
            b"GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 10.0.0.1:80\r\n\r\n"
        );
        assert_eq!(
            build_request("/", "www", HttpProtocol::Http11),
            b"GET / HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www\r\n\r\n"
        );
        assert!(
            String::from_utf8_lossy(&build_request("/", "h", HttpProtocol::Http10C)).starts_with(
                "GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\n"
            )
        );
    }

    #[test]
    fn host_rules() {
        let v4: SocketAddr = "192.0.2.1:8080".parse().unwrap();
        let v6: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
        assert_eq!(host_header(None, v4), "192.0.2.1:8080");
        assert_eq!(host_header(None, v6), "[2001:db8::1]:443");
        assert_eq!(host_header(Some("example.org"), v6), "example.org");
    }

    #[test]
    fn parse_simple_and_content_length() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA").unwrap();
        assert_eq!(
            (r.minor, r.status, r.body, r.complete),
            (1, 200, &b"hello"[..], true)
        );
        let r = parse_response(b"HTTP/1.0 404 Not Found\r\nContent-Length: 9\r\n\r\nhel").unwrap();
        assert_eq!((r.status, r.body, r.complete), (404, &b"hel"[..], false));
        let r = parse_response(b"HTTP/1.0 200\nServer: x\n\nbody").unwrap();
        assert_eq!((r.status, r.body), (200, &b"body"[..]));
        assert_eq!(r.headers, vec![("Server", "x")]);
    }

    #[test]
    fn parse_chunked() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n";
        let r = parse_response(raw).unwrap();
        assert!(r.complete);
        assert_eq!(dechunk(r.body).unwrap(), b"hello world");
        // partial chunked: not complete, body is what arrived
        let r = parse_response(&raw[..raw.len() - 7]).unwrap();
        assert!(!r.complete);
        assert_eq!(chunked_len(b"zz\r\n"), None);
        assert_eq!(chunked_len(b"ffffffffffffffffff\r\n"), None);
        assert_eq!(chunked_len(b"ffffffffffffffff\r\n"), None);
    }

    #[test]
    fn parse_partial_and_garbage() {
        assert_eq!(parse_response(b""), Err(ParseError::Incomplete));
        assert_eq!(parse_response(b"HTT"), Err(ParseError::Incomplete));
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nX: y"),
            Err(ParseError::Incomplete)
        );
        assert_eq!(
            parse_response(b"SSH-2.0-x\r\n"),
            Err(ParseError::BadStatusLine)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 2000 OK\r\n\r\n"),
            Err(ParseError::BadStatusLine)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 abc\r\n\r\n"),
            Err(ParseError::BadStatusLine)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nnocolon\r\n\r\n"),
            Err(ParseError::BadHeader)
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n\xff: x\r\n\r\n"),
            Err(ParseError::BadHeader)
        );
    }

    #[test]
    fn digest_and_status_ranges() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"hello\n"), "b1946ac92492d2347c6235b4d2611184");
        let mut u = url("/");
        let r = parse_response(b"HTTP/1.0 302 Found\r\n\r\nhello\n").unwrap();
        assert_eq!(check_url(&u, None, &r), Err(UrlFailure::Status));
        u.status_codes = vec![(200, 200), (300, 399)];
        assert_eq!(check_url(&u, None, &r), Ok(()));
        u.digest = Some(md5(b"hello\n"));
        assert_eq!(check_url(&u, None, &r), Ok(()));
        u.digest = Some(md5(b"other"));
        assert_eq!(check_url(&u, None, &r), Err(UrlFailure::Digest));
    }

    #[test]
    fn regex_match_and_no_match_with_offsets() {
        // "Healthy" starts at offset 27 of the response
        let r = parse_response(b"HTTP/1.0 200 OK\r\n\r\nstatus: Healthy").unwrap();
        let mut u = url("/");
        u.regex = Some("healthy".into());
        u.regex_options = vec!["caseless".into()];
        let re = compile_regex(&u).unwrap();
        assert_eq!(check_url(&u, Some(&re), &r), Ok(()));
        u.regex_no_match = true;
        assert_eq!(check_url(&u, Some(&re), &r), Err(UrlFailure::Regex));
        u.regex_no_match = false;
        u.regex_max_offset = Some(26);
        assert_eq!(check_url(&u, Some(&re), &r), Err(UrlFailure::Regex));
        u.regex_max_offset = Some(27);
        assert_eq!(check_url(&u, Some(&re), &r), Ok(()));
        u.regex_max_offset = None;
        u.regex_min_offset = Some(27);
        assert_eq!(check_url(&u, Some(&re), &r), Ok(()));
        u.regex_min_offset = Some(28);
        assert_eq!(check_url(&u, Some(&re), &r), Err(UrlFailure::Regex));
    }
}
