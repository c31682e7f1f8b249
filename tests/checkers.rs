//! Health checkers against real servers started by each test on 127.0.0.1 (ping inside
//! a private network namespace): up, down and timeout cases; genhash against `md5sum`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use keepalived::check::dispatch::{self, Env};
use keepalived::check::http::{self, TlsSettings};
use keepalived::check::manager::CheckerId;
use keepalived::check::probe::Target;
use keepalived::check::{dns, misc, ping, smtp, tcp, udp};
use keepalived::config::model::check::checker::{
    DnsCheck, DnsType, HttpCheck, HttpProtocol, MiscCheck, UdpCheck, Url,
};
use keepalived::config::model::check::SslConfig;
use keepalived::config::{load_str, LoadOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

const SHORT: Duration = Duration::from_millis(300);

fn target(addr: SocketAddr) -> Target {
    Target::new(addr, Duration::from_secs(3))
}

/// A port nothing listens on (bound then released).
async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

async fn read_request<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Vec<u8> {
    let mut req = Vec::new();
    let mut b = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut b).await {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&b[..n]),
        }
    }
    req
}

/// An HTTP server answering every connection with `response` (`None`: never answer);
/// each request is sent on the returned channel.
async fn http_server(response: Option<Vec<u8>>) -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let resp = response.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let req = read_request(&mut s).await;
                let _ = tx.send(req);
                match resp {
                    Some(r) => {
                        let _ = s.write_all(&r).await;
                        let _ = s.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    (addr, rx)
}

fn ok_response(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/html\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

fn http_cfg(urls: Vec<Url>) -> HttpCheck {
    HttpCheck {
        urls,
        ..HttpCheck::default()
    }
}

fn url(path: &str) -> Url {
    Url {
        path: path.into(),
        ..Url::default()
    }
}

#[tokio::test]
async fn tcp_up_down_and_timeout() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    assert!(tcp::check(&target(l.local_addr().unwrap())).await.up);
    let r = tcp::check(&target(closed_port().await)).await;
    assert!(!r.up);
    // a full accept queue drops SYNs: the connect times out
    let full = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let s = socket2::Socket::from(full);
    s.listen(0).unwrap();
    let addr: SocketAddr = s.local_addr().unwrap().as_socket().unwrap();
    let mut hold = Vec::new();
    for _ in 0..4 {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        sock.set_nonblocking(true).unwrap();
        let _ = sock.connect(&addr.into());
        hold.push(sock);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r = tcp::check(&Target::new(addr, SHORT)).await;
    assert_eq!((r.up, r.reason.as_deref()), (false, Some("timeout")));
}

#[tokio::test]
async fn http_get_status_digest_host_and_timeout() {
    let body = b"<html>hello</html>\n";
    let (addr, mut reqs) = http_server(Some(ok_response(body))).await;
    let mut u = url("/index.html");
    u.digest = Some(http::md5(body));
    let r = http::check(
        &http_cfg(vec![u.clone()]),
        0,
        None,
        &target(addr),
        None,
        "rs",
    )
    .await;
    assert!(r.up, "{r:?}");
    assert_eq!(
        reqs.recv().await.unwrap(),
        format!(
            "GET /index.html HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 127.0.0.1:{}\r\n\r\n",
            addr.port()
        )
        .into_bytes()
    );
    // virtualhost from the real server, HTTP/1.1
    let mut cfg = http_cfg(vec![url("/")]);
    cfg.protocol = HttpProtocol::Http11;
    assert!(
        http::check(&cfg, 0, Some("www.example.org"), &target(addr), None, "rs")
            .await
            .up
    );
    assert_eq!(
        reqs.recv().await.unwrap(),
        b"GET / HTTP/1.1\r\nUser-Agent: KeepAliveClient\r\nConnection: close\r\nHost: www.example.org\r\n\r\n"
    );
    // wrong digest
    u.digest = Some(http::md5(b"other"));
    let r = http::check(
        &http_cfg(vec![u]),
        0,
        None,
        &target(addr),
        None,
        "[127.0.0.1]:tcp:80",
    )
    .await;
    assert_eq!(
        r.reason.as_deref(),
        Some("MD5 digest error to server [127.0.0.1]:tcp:80.")
    );
    // status codes
    let (addr404, _r) = http_server(Some(b"HTTP/1.0 404 Not Found\r\n\r\nnope".to_vec())).await;
    let r = http::check(
        &http_cfg(vec![url("/")]),
        0,
        None,
        &target(addr404),
        None,
        "rs",
    )
    .await;
    assert_eq!(
        r.reason.as_deref(),
        Some("HTTP status code error to server rs.")
    );
    let mut u404 = url("/");
    u404.status_codes = vec![(400, 404)];
    assert!(
        http::check(&http_cfg(vec![u404]), 0, None, &target(addr404), None, "rs")
            .await
            .up
    );
    // connection refused, no answer (timeout), empty answer
    let r = http::check(
        &http_cfg(vec![url("/")]),
        0,
        None,
        &target(closed_port().await),
        None,
        "rs",
    )
    .await;
    // keepalived 2.2.7's words for a refused connection (tests/ipvs_daemon/keywords.rs)
    assert_eq!(r.reason.as_deref(), Some("Connection failed server rs."));
    let (silent, _r) = http_server(None).await;
    let r = http::check(
        &http_cfg(vec![url("/")]),
        0,
        None,
        &Target::new(silent, SHORT),
        None,
        "rs",
    )
    .await;
    assert_eq!(r.reason.as_deref(), Some("Timeout HTTP read server rs."));
    let (empty, _r) = http_server(Some(Vec::new())).await;
    let r = http::check(
        &http_cfg(vec![url("/")]),
        0,
        None,
        &target(empty),
        None,
        "rs",
    )
    .await;
    assert!(!r.up);
}

#[tokio::test]
async fn http_chunked_and_regex() {
    let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n6\r\npedia \r\n0\r\n\r\n".to_vec();
    let (addr, _r) = http_server(Some(raw)).await;
    let up = |regex: &str, no_match: bool| {
        let mut u = url("/");
        u.regex = Some(regex.into());
        u.regex_no_match = no_match;
        let cfg = http_cfg(vec![u]);
        async move {
            http::check(&cfg, 0, None, &target(addr), None, "rs")
                .await
                .up
        }
    };
    assert!(up("pedia", false).await);
    assert!(!up("pedia", true).await);
    // keepalived 2.2.7 matches the bytes as received: the chunk framing splits the word
    assert!(!up("Wikipedia", false).await);
}

struct TlsServer {
    addr: SocketAddr,
    sni: mpsc::UnboundedReceiver<Option<String>>,
    cert_pem: String,
}

async fn tls_server(body: &'static [u8]) -> TlsServer {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_pem = ck.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![ck.cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                let _ = tx.send(tls.get_ref().1.server_name().map(str::to_owned));
                read_request(&mut tls).await;
                let _ = tls.write_all(&ok_response(body)).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TlsServer {
        addr,
        sni: rx,
        cert_pem,
    }
}

#[tokio::test]
async fn ssl_get_any_certificate_sni_and_ca() {
    let body: &[u8] = b"secure\n";
    let mut srv = tls_server(body).await;
    let tls = TlsSettings::new(None).unwrap();
    let mut u = url("/");
    u.digest = Some(http::md5(body));
    let mut cfg = http_cfg(vec![u]);
    let r = http::check(&cfg, 0, None, &target(srv.addr), Some(&tls), "rs").await;
    assert!(r.up, "{r:?}");
    assert_eq!(srv.sni.recv().await.unwrap(), None);
    cfg.enable_sni = true;
    cfg.virtualhost = Some("localhost".into());
    assert!(
        http::check(&cfg, 0, None, &target(srv.addr), Some(&tls), "rs")
            .await
            .up
    );
    assert_eq!(srv.sni.recv().await.unwrap().as_deref(), Some("localhost"));
    // with SSL { ca }: the certificate must verify for the name used
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &srv.cert_pem).unwrap();
    let strict = TlsSettings::new(Some(&SslConfig {
        ca: Some(ca.to_string_lossy().into_owned()),
        ..SslConfig::default()
    }))
    .unwrap();
    assert!(
        http::check(&cfg, 0, None, &target(srv.addr), Some(&strict), "rs")
            .await
            .up
    );
    cfg.enable_sni = false;
    assert!(
        !http::check(&cfg, 0, None, &target(srv.addr), Some(&strict), "rs")
            .await
            .up
    );
    // a plain HTTP server is not a TLS server
    let (plain, _r) = http_server(Some(ok_response(b"x"))).await;
    assert!(
        !http::check(&cfg, 0, None, &Target::new(plain, SHORT), Some(&tls), "rs")
            .await
            .up
    );
}

async fn smtp_server(
    banner: &'static str,
    helo_reply: &'static str,
) -> (SocketAddr, mpsc::UnboundedReceiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut r = tokio::io::BufReader::new(r);
                let _ = w.write_all(banner.as_bytes()).await;
                let mut line = String::new();
                use tokio::io::AsyncBufReadExt;
                while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                    let _ = tx.send(line.clone());
                    let reply = if line.starts_with("HELO") {
                        helo_reply
                    } else {
                        "221 bye\r\n"
                    };
                    let _ = w.write_all(reply.as_bytes()).await;
                    line.clear();
                }
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn smtp_banner_helo_quit() {
    let (addr, mut lines) = smtp_server("220 mx ESMTP\r\n", "250-mx\r\n250 OK\r\n").await;
    assert!(
        smtp::check("smtpchecker.keepalived.org", &target(addr))
            .await
            .up
    );
    assert_eq!(
        lines.recv().await.unwrap(),
        "HELO smtpchecker.keepalived.org\r\n"
    );
    assert_eq!(lines.recv().await.unwrap(), "QUIT\r\n");
    let (bad, _l) = smtp_server("554 go away\r\n", "250 OK\r\n").await;
    assert!(!smtp::check("h", &target(bad)).await.up);
    let (nohelo, _l) = smtp_server("220 ok\r\n", "500 what\r\n").await;
    assert!(!smtp::check("h", &target(nohelo)).await.up);
    assert!(!smtp::check("h", &target(closed_port().await)).await.up);
}

async fn udp_server(reply: Option<&'static [u8]>) -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut b = [0u8; 1500];
        while let Ok((n, from)) = s.recv_from(&mut b).await {
            let out = reply.unwrap_or(&b[..n]).to_vec();
            let _ = s.send_to(&out, from).await;
        }
    });
    addr
}

async fn closed_udp_port() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.local_addr().unwrap()
}

#[tokio::test]
async fn udp_echo_reply_matching_and_unreachable() {
    let echo = udp_server(None).await;
    let mut cfg = UdpCheck {
        payload: b"ping".to_vec(),
        require_reply: Some(vec![(b'p', 0xff), (0x60, 0xf0)]),
        min_reply_length: 0,
        max_reply_length: 255,
    };
    assert!(udp::check(&cfg, &target(echo)).await.up);
    cfg.require_reply = Some(vec![(b'x', 0xff)]);
    assert!(!udp::check(&cfg, &target(echo)).await.up);
    // the 4-byte echo is longer than max_reply_length
    cfg.require_reply = Some(vec![(b'p', 0xff)]);
    cfg.max_reply_length = 2;
    cfg.min_reply_length = 1;
    assert!(!udp::check(&cfg, &target(echo)).await.up);
    // without reply data the lengths do not matter (keepalived's check_udp_reply)
    cfg.require_reply = None;
    assert!(udp::check(&cfg, &target(echo)).await.up);
    // ICMP port unreachable is a failure; silence is success without require_reply
    let plain = UdpCheck {
        payload: b"x".to_vec(),
        require_reply: None,
        min_reply_length: 0,
        max_reply_length: 255,
    };
    let r = udp::check(&plain, &Target::new(closed_udp_port().await, SHORT)).await;
    assert_eq!(r.reason.as_deref(), Some("port unreachable"));
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    assert!(udp::check(&plain, &Target::new(addr, SHORT)).await.up);
    let need = UdpCheck {
        require_reply: Some(vec![(0, 0)]),
        ..plain
    };
    assert!(!udp::check(&need, &Target::new(addr, SHORT)).await.up);
}

/// A DNS responder: answers every query with one A record and `rcode`.
async fn dns_server(rcode: u8) -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = s.local_addr().unwrap();
    tokio::spawn(async move {
        let mut b = [0u8; 1500];
        while let Ok((n, from)) = s.recv_from(&mut b).await {
            let mut r = b[..n].to_vec();
            r[2] = 0x81;
            r[3] = 0x80 | rcode;
            r[6..8].copy_from_slice(&1u16.to_be_bytes());
            r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
            let _ = s.send_to(&r, from).await;
        }
    });
    addr
}

#[tokio::test]
async fn dns_query_and_reply() {
    let cfg = DnsCheck {
        qtype: DnsType::A,
        name: "www.example.org".into(),
    };
    assert!(dns::check(&cfg, &target(dns_server(0).await), 77).await.up);
    let r = dns::check(&cfg, &target(dns_server(3).await), 78).await;
    assert_eq!(
        r.reason.as_deref(),
        Some("read error occurred. (rcode = 3)")
    );
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let r = dns::check(&cfg, &Target::new(silent.local_addr().unwrap(), SHORT), 79).await;
    assert_eq!(r.reason.as_deref(), Some("read timeout from socket"));
}

#[test]
fn ping_in_a_private_namespace() {
    // a thread in its own network namespace: ping sockets allowed only there
    let h = std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let st = std::process::Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .unwrap();
        assert!(st.success());
        assert!(ping::ensure_ping_group(0).unwrap());
        assert!(!ping::ensure_ping_group(0).unwrap());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let up = ping::check(&target("127.0.0.1:0".parse().unwrap()), 1).await;
            assert!(up.up, "{up:?}");
            let up6 = ping::check(&target("[::1]:0".parse().unwrap()), 2).await;
            assert!(up6.up, "{up6:?}");
            // no route in this namespace
            let down = ping::check(&Target::new("192.0.2.1:0".parse().unwrap(), SHORT), 3).await;
            assert!(!down.up);
        });
    });
    h.join().unwrap();
}

#[tokio::test]
async fn misc_exit_codes_and_timeout() {
    let script = |cmd: &str| MiscCheck {
        path: keepalived::config::model::Script {
            argv: keepalived::config::model::script::split_command(cmd),
            text: cmd.into(),
            user: None,
            group: None,
            span: Default::default(),
        },
        timeout: Some(Duration::from_secs(5)),
        dynamic: true,
        shown: None,
    };
    assert!(misc::check(&script("/bin/sh -c 'exit 0'"), SHORT).await.up);
    assert!(!misc::check(&script("/bin/sh -c 'exit 1'"), SHORT).await.up);
    let r = misc::check(&script("/bin/sh -c 'exit 9'"), SHORT).await;
    assert_eq!((r.up, r.weight), (true, Some(7)));
    let mut slow = script("/bin/sleep 10");
    slow.timeout = Some(SHORT);
    let r = misc::check(&slow, SHORT).await;
    assert_eq!((r.up, r.exit_status), (false, None));
    assert!(!misc::check(&script("/nonexistent/script"), SHORT).await.up);
}

#[tokio::test]
async fn dispatch_from_a_configuration() {
    let (http_addr, _r) = http_server(Some(ok_response(b"ok"))).await;
    let tcp_l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let text = format!(
        "virtual_server 192.0.2.100 80 {{
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 127.0.0.1 {hp} {{
    HTTP_GET {{
      url {{
        path /
        status_code 200
      }}
      connect_timeout 2
    }}
    TCP_CHECK {{
      connect_port {tp}
    }}
    TCP_CHECK {{
      connect_port {cp}
    }}
  }}
}}
",
        hp = http_addr.port(),
        tp = tcp_l.local_addr().unwrap().port(),
        cp = closed_port().await.port(),
    );
    let loaded = load_str(&text, Path::new("/t.conf"), &LoadOptions::default());
    let cfg = loaded.config.check;
    let env = Env::new(&cfg, 4).unwrap();
    let id = |checker| CheckerId {
        vs: 0,
        rs: 0,
        checker,
    };
    assert!(dispatch::run(&env, &cfg, id(0), 0).await.unwrap().up);
    assert!(dispatch::run(&env, &cfg, id(1), 0).await.unwrap().up);
    assert!(!dispatch::run(&env, &cfg, id(2), 0).await.unwrap().up);
    assert!(dispatch::run(&env, &cfg, id(3), 0).await.is_none());
}

#[test]
fn genhash_matches_md5sum_of_the_served_body() {
    let body: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
    // the server runs on its own thread while genhash runs as a child process
    let (tx, rx) = std::sync::mpsc::channel();
    let served = body.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let (addr, _r) = http_server(Some(ok_response(&served))).await;
            let closed = closed_port().await;
            tx.send((addr, closed)).unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
    });
    let (addr, closed) = rx.recv().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("body");
    std::fs::write(&f, &body).unwrap();
    let md5sum = std::process::Command::new("md5sum")
        .arg(&f)
        .output()
        .unwrap();
    let want = String::from_utf8(md5sum.stdout).unwrap();
    let want = want.split_whitespace().next().unwrap().to_owned();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_genhash"))
        .args([
            "-s",
            "127.0.0.1",
            "-p",
            &addr.port().to_string(),
            "-u",
            "/f",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("{want}\n"));
    let v = std::process::Command::new(env!("CARGO_BIN_EXE_genhash"))
        .args([
            "-s",
            "127.0.0.1",
            "-p",
            &addr.port().to_string(),
            "-u",
            "/f",
            "-v",
        ])
        .output()
        .unwrap();
    let v = String::from_utf8(v.stdout).unwrap();
    assert!(v.contains("[    HTTP Header Buffer    ]"));
    assert!(v.contains(&format!(
        "[ HTML hash final resulting ]-----------------------\n{want}\n"
    )));
    assert!(v.contains("Global response time for [/f] = "));
    // nothing listening: keepalived's message, exit 0
    let port = closed.port().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_genhash"))
        .args(["-s", "127.0.0.1", "-p", &port, "-u", "/"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "Connection failed\n"
    );
    assert_eq!(out.status.code(), Some(0));
}

/// The next change a FILE_CHECK watch reports (bounded wait).
async fn next(
    rx: &mut mpsc::UnboundedReceiver<(CheckerId, Option<i64>)>,
) -> (CheckerId, Option<i64>) {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("no FILE_CHECK change")
        .expect("watch ended")
}

/// FILE_CHECK follows its track file with inotify: a write, a rename into place, a
/// deletion and a file created later are seen as they happen; a file whose directory does
/// not exist at start is dropped (keepalived: "Track file directory for tf_c does not
/// exist - removing", observed).
#[tokio::test]
async fn file_check_follows_writes_renames_deletes_and_late_files() {
    use keepalived::check::file::FileChecks;
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("sub/c"),
    );
    std::fs::write(&a, "1\n").unwrap();
    let text = format!(
        "
track_file tf_a {{
  file \"{}\"
  weight 2
}}
track_file tf_b {{
  file \"{}\"
  weight 0
}}
track_file tf_c {{
  file \"{}\"
}}
virtual_server 192.0.2.100 80 {{
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.1 80 {{
    FILE_CHECK {{
      track_file tf_a
    }}
    FILE_CHECK {{
      track_file tf_b
    }}
    FILE_CHECK {{
      track_file tf_c
    }}
  }}
}}
",
        a.display(),
        b.display(),
        c.display()
    );
    let loaded = load_str(&text, Path::new("/t.conf"), &LoadOptions::default());
    let id = |checker| CheckerId {
        vs: 0,
        rs: 0,
        checker,
    };
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let _tasks =
                FileChecks::of(&loaded.config).watch(move |id, adj| tx.send((id, adj)).is_ok());
            // the values at start: a missing file reads 0; a file without its directory
            // is dropped, as keepalived does
            let mut first = vec![next(&mut rx).await, next(&mut rx).await];
            first.sort_by_key(|(id, _)| *id);
            assert_eq!(first, vec![(id(0), Some(2)), (id(1), Some(0))]);
            std::fs::write(&a, "5\n").unwrap();
            assert_eq!(next(&mut rx).await, (id(0), Some(10)));
            let tmp = dir.path().join("a.tmp");
            std::fs::write(&tmp, "3\n").unwrap();
            std::fs::rename(&tmp, &a).unwrap();
            assert_eq!(next(&mut rx).await, (id(0), Some(6)));
            std::fs::remove_file(&a).unwrap();
            assert_eq!(next(&mut rx).await, (id(0), Some(0)));
            // created later; weight 0: a non-zero value is a failure
            std::fs::write(&b, "1\n").unwrap();
            assert_eq!(next(&mut rx).await, (id(1), None));
            std::fs::write(&b, "0\n").unwrap();
            assert_eq!(next(&mut rx).await, (id(1), Some(0)));
            // the directory appearing later changes nothing (keepalived dropped the file);
            // the last poll period has passed when b's change arrives
            std::fs::create_dir(dir.path().join("sub")).unwrap();
            std::fs::write(&c, "7\n").unwrap();
            tokio::time::sleep(keepalived::watch::FILE_POLL * 2).await;
            std::fs::write(&b, "2\n").unwrap();
            assert_eq!(next(&mut rx).await, (id(1), None));
            assert!(rx.try_recv().is_err());
        })
        .await;
}

/// One attempt fetches the url the manager asks for (it walks the list, one per attempt).
#[tokio::test]
async fn http_get_fetches_the_given_url() {
    let (addr, mut reqs) = http_server(Some(ok_response(b"x"))).await;
    let cfg = http_cfg(vec![url("/a"), url("/b")]);
    for (i, path) in [(1, "/b"), (0, "/a")] {
        let r = http::check(&cfg, i, None, &target(addr), None, "rs").await;
        assert_eq!(
            r.notes,
            vec![format!("HTTP status code success to rs url({path})")]
        );
        let req = reqs.recv().await.unwrap();
        assert!(req.starts_with(format!("GET {path} ").as_bytes()));
    }
}

/// Accepts any client certificate, but checks the handshake signatures, so a client that
/// completes the handshake holds the certificate's private key; `record` gets each
/// certificate presented.
#[derive(Debug)]
struct AnyClient {
    prov: Arc<rustls::crypto::CryptoProvider>,
    mandatory: bool,
    record: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

impl rustls::server::danger::ClientCertVerifier for AnyClient {
    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        &[]
    }

    // a checker without SSL { certificate } is let in too, unless `mandatory`
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn verify_client_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        if let Some(r) = &self.record {
            let _ = r.send(end_entity.to_vec());
        }
        Ok(rustls::server::danger::ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.prov.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.prov.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.prov
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// How an SSL_GET session ended, seen by the server: the client certificate it presented,
/// and whether the client sent a TLS close_notify before closing.
#[derive(Debug)]
struct Ending {
    client_cert: Option<Vec<u8>>,
    close_notify: bool,
}

/// A TLS server asking for a client certificate; one [`Ending`] per session.
async fn tls_server_watching_the_end() -> (SocketAddr, mpsc::UnboundedReceiver<Ending>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let prov = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(prov.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(Arc::new(AnyClient {
            prov,
            mandatory: false,
            record: None,
        }))
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(s).await else {
                    return;
                };
                let client_cert = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.to_vec());
                read_request(&mut tls).await;
                let _ = tls.write_all(&ok_response(b"ok\n")).await;
                let _ = tls.flush().await;
                // rustls reads a clean EOF (Ok(0)) only after the peer's close_notify
                let mut rest = Vec::new();
                let close_notify =
                    tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut rest))
                        .await
                        .is_ok_and(|r| r.is_ok());
                let _ = tx.send(Ending {
                    client_cert,
                    close_notify,
                });
            });
        }
    });
    (addr, rx)
}

/// Whether `openssl` can run here (it makes the encrypted keys); under CI it must.
fn openssl_or_skip(test: &str) -> bool {
    let ok = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        support::skip_or_fail(test, "openssl is missing (apt-get install openssl)");
    }
    ok
}

/// A self-signed client certificate and its private key encrypted with `pass`
/// (`ENCRYPTED PRIVATE KEY`, AES-256-CBC, what OpenSSL 3 writes), in `dir`.
fn encrypted_client_key(dir: &Path, pass: &str) -> (String, String) {
    let (cert, key) = (dir.join("client.pem"), dir.join("client.key"));
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args([
            "ec_paramgen_curve:prime256v1",
            "-days",
            "1",
            "-subj",
            "/CN=client",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-passout", &format!("pass:{pass}")])
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(
        text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"),
        "{text}"
    );
    (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    )
}

/// SSL { password } opens the encrypted key of SSL { key }: the checker presents the
/// client certificate and proves it holds the key. A wrong or missing password is a
/// context error, as keepalived's `SSL error : Cant load key file...`.
#[tokio::test]
async fn ssl_password_decrypts_the_client_key() {
    if !openssl_or_skip("ssl_password_decrypts_the_client_key") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = encrypted_client_key(dir.path(), "s3cret pass");
    // `openssl req` encrypts with 3DES; an AES-256 copy, as `openssl genpkey -aes256` makes
    let aes = dir.path().join("client-aes.key");
    let out = std::process::Command::new("openssl")
        .args([
            "pkey",
            "-in",
            &key,
            "-passin",
            "pass:s3cret pass",
            "-aes256",
        ])
        .args(["-passout", "pass:s3cret pass", "-out"])
        .arg(&aes)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let aes = aes.to_string_lossy().into_owned();
    let ssl = |password: Option<&str>| SslConfig {
        password: password.map(str::to_owned),
        certificate: Some(cert.clone()),
        key: Some(key.clone()),
        ..SslConfig::default()
    };
    let (addr, mut ends) = tls_server_watching_the_end().await;
    let tls = TlsSettings::new(Some(&ssl(Some("s3cret pass")))).unwrap();
    let r = http::check(
        &http_cfg(vec![url("/")]),
        0,
        None,
        &target(addr),
        Some(&tls),
        "rs",
    )
    .await;
    assert!(r.up, "{r:?}");
    let end = ends.recv().await.unwrap();
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read_to_string(&cert).unwrap();
    let der = rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(end.client_cert.as_deref(), Some(der.as_ref()));
    let tls = TlsSettings::new(Some(&SslConfig {
        key: Some(aes),
        ..ssl(Some("s3cret pass"))
    }))
    .unwrap();
    let r = http::check(
        &http_cfg(vec![url("/")]),
        0,
        None,
        &target(addr),
        Some(&tls),
        "rs",
    )
    .await;
    assert!(r.up, "{r:?}");
    assert_eq!(
        ends.recv().await.unwrap().client_cert.as_deref(),
        Some(der.as_ref())
    );

    let wrong = TlsSettings::new(Some(&ssl(Some("nope")))).unwrap_err();
    assert!(wrong.contains("cannot decrypt the key"), "{wrong}");
    let none = TlsSettings::new(Some(&ssl(None))).unwrap_err();
    assert!(none.contains("encrypted and SSL has no password"), "{none}");
}

/// SSL_GET `tls_compliant` (keepalived 2.2.8): the session ends with a close_notify alert;
/// without it (keepalived 2.2.7's quiet shutdown) the connection just closes. The url's
/// own `tls_compliant` does the same for that url.
#[tokio::test]
async fn ssl_get_tls_compliant_sends_close_notify() {
    let (addr, mut ends) = tls_server_watching_the_end().await;
    let tls = TlsSettings::new(None).unwrap();
    let mut cfg = http_cfg(vec![url("/")]);
    let r = http::check(&cfg, 0, None, &target(addr), Some(&tls), "rs").await;
    assert!(r.up, "{r:?}");
    assert!(!ends.recv().await.unwrap().close_notify);
    cfg.tls_compliant = true;
    let r = http::check(&cfg, 0, None, &target(addr), Some(&tls), "rs").await;
    assert!(r.up, "{r:?}");
    assert!(ends.recv().await.unwrap().close_notify);
    cfg.tls_compliant = false;
    cfg.urls[0].tls_compliant = true;
    assert!(
        http::check(&cfg, 0, None, &target(addr), Some(&tls), "rs")
            .await
            .up
    );
    assert!(ends.recv().await.unwrap().close_notify);
    // from a configuration: the checker's and the url's keyword, SSL_GET only
    let conf = "virtual_server 192.0.2.1 443 {\n  protocol TCP\n  real_server 192.0.2.2 443 {\n    SSL_GET {\n      tls_compliant\n      url {\n        path /\n        tls_compliant no\n      }\n    }\n  }\n}\n";
    let loaded = load_str(conf, Path::new("k.conf"), &LoadOptions::default());
    let vs = &loaded.config.check.virtual_servers[0];
    let c = &vs.real_servers[0].checkers[0];
    match &c.kind {
        keepalived::config::model::check::checker::CheckerKind::Ssl(h) => {
            assert!(h.tls_compliant && !h.urls[0].tls_compliant)
        }
        other => panic!("{other:?}"),
    }
    assert!(
        loaded
            .diagnostics
            .items
            .iter()
            .all(|d| d.class.is_none() || !d.message.contains("tls_compliant")),
        "{:?}",
        loaded.diagnostics.items
    );
    let http_get = conf.replace("SSL_GET", "HTTP_GET");
    let loaded = load_str(&http_get, Path::new("k.conf"), &LoadOptions::default());
    assert!(loaded
        .diagnostics
        .items
        .iter()
        .any(|d| d.message == "Unknown keyword 'tls_compliant'"));
}

/// Whether this host can run the namespace tests (root, `ip`, `nft`); under `CI=true` a
/// missing one fails, elsewhere the test is skipped loudly.
fn can_run_netns() -> bool {
    let has = |cmd: &str, arg: &str| {
        std::process::Command::new(cmd)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let why = if !nix::unistd::geteuid().is_root() {
        "not root"
    } else if !has("ip", "-V") {
        "no `ip` command"
    } else if !has("nft", "-v") {
        "no `nft` command"
    } else {
        return true;
    };
    support::skip_or_fail(
        "namespace checker test",
        &format!("needs root, ip and nft ({why})"),
    );
    false
}

/// Runs `f` on a thread of its own in a private network namespace: `lo` up with `addrs`,
/// a veth pair `v0`/`v1` up without addresses, and the shell commands `setup`.
fn in_private_netns<F, Fut>(addrs: &[&str], setup: &str, f: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let mut cmds = vec!["ip link set lo up".to_owned()];
    cmds.extend(addrs.iter().map(|a| format!("ip addr add {a}/32 dev lo")));
    cmds.push("ip link add v0 type veth peer name v1".into());
    cmds.push("ip link set v0 up && ip link set v1 up".into());
    cmds.push(setup.to_owned());
    let h = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        for c in &cmds {
            let st = std::process::Command::new("sh")
                .args(["-c", c])
                .status()
                .unwrap();
            assert!(st.success(), "{c}");
        }
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f());
    });
    h.join().unwrap();
}

/// `f`, or a panic naming `what` after 10 s.
async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .unwrap_or_else(|_| panic!("no {what} within 10 s"))
}

/// A TCP server that records the peer of each connection and closes it.
async fn tcp_peers(bind: &str) -> (SocketAddr, mpsc::UnboundedReceiver<SocketAddr>) {
    let l = TcpListener::bind(bind).await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((_, peer)) = l.accept().await {
            let _ = tx.send(peer);
        }
    });
    (addr, rx)
}

/// An HTTP server answering 200 that records each request's peer and bytes.
async fn http_requests(bind: &str) -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let l = TcpListener::bind(bind).await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let req = read_request(&mut s).await;
            let _ = tx.send(req);
            let _ = s.write_all(&ok_response(b"ok")).await;
            let _ = s.shutdown().await;
        }
    });
    (addr, rx)
}

/// An SMTP server that greets, accepts HELO and QUIT, and records each session's peer.
async fn smtp_peers(bind: &str) -> (SocketAddr, mpsc::UnboundedReceiver<SocketAddr>) {
    let l = TcpListener::bind(bind).await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((s, peer)) = l.accept().await {
            let _ = tx.send(peer);
            tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let (r, mut w) = s.into_split();
                let mut r = tokio::io::BufReader::new(r);
                let _ = w.write_all(b"220 mx ESMTP\r\n").await;
                let mut line = String::new();
                while r.read_line(&mut line).await.unwrap_or(0) > 0 {
                    let _ = w.write_all(b"250 OK\r\n").await;
                    line.clear();
                }
            });
        }
    });
    (addr, rx)
}

/// The connection keywords of a configuration, probe by probe, in a private namespace:
/// `connect_ip` takes the check to another address than the real server's, `bindto` and
/// `bind_port` are the source the server sees, `bind_if` sends through that interface
/// (`v0` leads nowhere), `fwmark` marks the packets (an nftables rule refuses unmarked
/// ones); SMTP_CHECK's `host` blocks carry them too; `http_protocol` sets the request
/// line; UDP_CHECK's reply lengths bound a reply that must match `require_reply`.
/// (keepalived 2.2.7 cannot run its checker on this host: it needs IPVS.)
#[test]
fn connection_keywords_reach_the_wire() {
    if !can_run_netns() {
        return;
    }
    // the SMTP port is known only inside; the rule refuses unmarked connection requests
    // (not the server's SYN-ACKs) to any port of 192.0.2.4, the SMTP server's address
    let nft = "nft -f - <<'EOF'
table inet kw {
  chain out {
    type filter hook output priority 0;
    ip daddr 192.0.2.4 tcp flags & (syn | ack) == syn meta mark != 7 reject with tcp reset
  }
}
EOF";
    in_private_netns(&["192.0.2.2", "192.0.2.3", "192.0.2.4"], nft, || async {
        let (tcp, mut tcp_peer) = tcp_peers("192.0.2.3:0").await;
        let (http, mut reqs) = http_requests("192.0.2.3:0").await;
        let (smtp, mut smtp_peer) = smtp_peers("192.0.2.4:0").await;
        let pong = UdpSocket::bind("192.0.2.3:0").await.unwrap();
        let udp = pong.local_addr().unwrap();
        tokio::spawn(async move {
            let mut b = [0u8; 1500];
            while let Ok((_, from)) = pong.recv_from(&mut b).await {
                let _ = pong.send_to(b"pong", from).await;
            }
        });
        let (tp, hp, sp, up) = (tcp.port(), http.port(), smtp.port(), udp.port());
        let udp_check = |lengths: &str| {
            format!(
                    "UDP_CHECK {{\n connect_ip 192.0.2.3\n connect_port {up}\n connect_timeout 2\n payload 70696e67\n require_reply 706f6e67\n {lengths}\n }}"
                )
        };
        let text = format!(
            "virtual_server 192.0.2.100 80 {{
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.9 80 {{
    connect_timeout 2
    TCP_CHECK {{
      connect_ip 192.0.2.3
      connect_port {tp}
      bindto 192.0.2.2
      bind_port 40001
      bind_if lo
    }}
    TCP_CHECK {{
      connect_ip 192.0.2.3
      connect_port {tp}
      bind_if v0
      connect_timeout 1
    }}
    TCP_CHECK {{
      connect_port {tp}
    }}
    HTTP_GET {{
      connect_ip 192.0.2.3
      connect_port {hp}
      http_protocol 1.1
      url {{
        path /a
      }}
    }}
    HTTP_GET {{
      connect_ip 192.0.2.3
      connect_port {hp}
      http_protocol 1.0C
      url {{
        path /b
      }}
    }}
    HTTP_GET {{
      connect_ip 192.0.2.3
      connect_port {hp}
      url {{
        path /c
      }}
    }}
    SMTP_CHECK {{
      host {{
        connect_ip 192.0.2.4
        connect_port {sp}
        bindto 192.0.2.2
        bind_port 40025
        bind_if lo
        fwmark 7
      }}
    }}
    SMTP_CHECK {{
      host {{
        connect_ip 192.0.2.4
        connect_port {sp}
      }}
    }}
    SMTP_CHECK {{
      host {{
        connect_ip 192.0.2.4
        connect_port {sp}
        fwmark 7
      }}
      host {{
        connect_ip 192.0.2.4
        connect_port {sp}
        fwmark 7
        bind_if v0
      }}
    }}
    {u1}
    {u2}
    {u3}
    SMTP_CHECK {{
      connect_ip 192.0.2.4
      connect_port {sp}
      host {{
        connect_ip 192.0.2.4
        connect_port {sp}
        fwmark 7
      }}
    }}
  }}
}}
",
            u1 = udp_check("min_reply_length 5"),
            u2 = udp_check("max_reply_length 3"),
            u3 = udp_check("min_reply_length 4\n max_reply_length 4"),
        );
        let loaded = load_str(&text, Path::new("/t.conf"), &LoadOptions::default());
        // only keepalived's line for each SMTP_CHECK with host blocks (not a config error)
        let msgs: Vec<&str> = loaded
            .diagnostics
            .items
            .iter()
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(
            msgs,
            ["The SMTP_CHECK host block is deprecated. Please define additional checkers."; 4],
            "{:?}",
            loaded.diagnostics.items
        );
        let cfg = loaded.config.check;
        let env = Env::new(&cfg, 4).unwrap();
        let run = |checker| {
            let id = CheckerId {
                vs: 0,
                rs: 0,
                checker,
            };
            let (env, cfg) = (&env, &cfg);
            async move {
                within("a check", dispatch::run(env, cfg, id, 0))
                    .await
                    .unwrap()
                    .up
            }
        };
        // TCP_CHECK: connect_ip, bindto, bind_port; bind_if v0 fails; the real
        // server's own address is unreachable here
        assert!(run(0).await);
        assert_eq!(
            within("the TCP peer", tcp_peer.recv()).await.unwrap(),
            "192.0.2.2:40001".parse().unwrap()
        );
        assert!(!run(1).await);
        assert!(!run(2).await);
        // HTTP_GET: the request line and Connection header of each http_protocol
        let req = |path: &str, proto: &str, close: &str| {
            format!(
                    "GET {path} HTTP/{proto}\r\nUser-Agent: KeepAliveClient\r\n{close}Host: 192.0.2.3:{hp}\r\n\r\n"
                )
        };
        let close = "Connection: close\r\n";
        for (i, want) in [
            req("/a", "1.1", close),
            req("/b", "1.0", close),
            req("/c", "1.0", ""),
        ]
        .into_iter()
        .enumerate()
        {
            assert!(run(3 + i).await);
            let got =
                String::from_utf8(within("the HTTP request", reqs.recv()).await.unwrap()).unwrap();
            assert_eq!(got, want);
        }
        // SMTP_CHECK host: every connection keyword; unmarked is refused; every
        // host must answer
        assert!(run(6).await);
        assert_eq!(
            within("the SMTP peer", smtp_peer.recv()).await.unwrap(),
            "192.0.2.2:40025".parse().unwrap()
        );
        assert!(!run(7).await);
        assert!(!run(8).await);
        within("the first host", smtp_peer.recv()).await.unwrap();
        // UDP_CHECK: "pong" is 4 bytes
        assert!(!run(9).await);
        assert!(!run(10).await);
        assert!(run(11).await);
    });
}

/// `SSL { certificate; key }`: SSL_GET presents the certificate, signing with the key
/// read from its own file; without `key` the key is looked for in the certificate file
/// (keepalived's SSL_CTX_use_PrivateKey_file on the certificate), here in vain.
#[tokio::test]
async fn ssl_get_presents_the_client_certificate_and_key() {
    let server = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let client = rcgen::generate_simple_self_signed(vec!["client".to_string()]).unwrap();
    let prov = Arc::new(rustls::crypto::ring::default_provider());
    let (tx, mut presented) = mpsc::unbounded_channel();
    let cfg = rustls::ServerConfig::builder_with_provider(prov.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(Arc::new(AnyClient {
            prov,
            mandatory: true,
            record: Some(tx),
        }))
        .with_single_cert(
            vec![server.cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(server.key_pair.serialize_der().into()),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(s).await {
                    read_request(&mut tls).await;
                    let _ = tls.write_all(&ok_response(b"ok")).await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("client.pem"), dir.path().join("client.key"));
    std::fs::write(&cert, client.cert.pem()).unwrap();
    std::fs::write(&key, client.key_pair.serialize_pem()).unwrap();
    let conf = |ssl: &str| {
        format!(
            "SSL {{\n  certificate {}\n  {ssl}\n}}\nvirtual_server 192.0.2.100 443 {{\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 127.0.0.1 {port} {{\n    SSL_GET {{\n      url {{\n        path /\n      }}\n    }}\n  }}\n}}\n",
            cert.display()
        )
    };
    let loaded = load_str(
        &conf(&format!("key {}", key.display())),
        Path::new("/t.conf"),
        &LoadOptions::default(),
    );
    let cfg = loaded.config.check;
    let env = Env::new(&cfg, 1).unwrap();
    let id = CheckerId {
        vs: 0,
        rs: 0,
        checker: 0,
    };
    let r = dispatch::run(&env, &cfg, id, 0).await.unwrap();
    assert!(r.up, "{r:?}");
    assert_eq!(presented.recv().await.unwrap(), client.cert.der().to_vec());
    let without = load_str(&conf(""), Path::new("/t.conf"), &LoadOptions::default());
    assert!(Env::new(&without.config.check, 1).is_err());
}
