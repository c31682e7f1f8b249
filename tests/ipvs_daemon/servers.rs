//! Real servers for the UDP, DNS, SMTP, SSL and PING checkers in the VM: each runs in a
//! thread until dropped and answers right or wrong as its shared `good` flag says.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// A server thread with a right/wrong switch.
pub struct Toggle {
    good: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Toggle {
    fn spawn(f: impl FnOnce(Arc<AtomicBool>, Arc<AtomicBool>) + Send + 'static) -> Toggle {
        let good = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, s) = (good.clone(), stop.clone());
        Toggle {
            good,
            stop,
            thread: Some(std::thread::spawn(move || f(g, s))),
        }
    }

    /// Answer right (`true`) or wrong / not at all (`false`).
    pub fn set_good(&self, good: bool) {
        self.good.store(good, Ordering::Relaxed);
    }
}

impl Drop for Toggle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn udp(addr: &str) -> UdpSocket {
    let s = UdpSocket::bind(addr).expect("bind udp server");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    s
}

fn tcp(addr: &str) -> TcpListener {
    let l = TcpListener::bind(addr).expect("bind tcp server");
    l.set_nonblocking(true).expect("nonblocking");
    l
}

/// Accepts until stopped; `f` serves one connection (blocking, with timeouts).
fn accept_loop(l: TcpListener, stop: &AtomicBool, mut f: impl FnMut(TcpStream)) {
    while !stop.load(Ordering::Relaxed) {
        match l.accept() {
            Ok((c, _)) => {
                let _ = c.set_nonblocking(false);
                let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                f(c)
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// UDP: replies "pong" to anything when good, stays silent otherwise.
pub fn udp_pong(addr: &str) -> Toggle {
    let s = udp(addr);
    Toggle::spawn(move |good, stop| {
        let mut b = [0u8; 1500];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((_, from)) = s.recv_from(&mut b) {
                if good.load(Ordering::Relaxed) {
                    let _ = s.send_to(b"pong", from);
                }
            }
        }
    })
}

/// DNS: one A record with rcode 0 when good, SERVFAIL (2) otherwise.
pub fn dns(addr: &str) -> Toggle {
    let s = udp(addr);
    Toggle::spawn(move |good, stop| {
        let mut b = [0u8; 1500];
        while !stop.load(Ordering::Relaxed) {
            let Ok((n, from)) = s.recv_from(&mut b) else {
                continue;
            };
            if n < 12 {
                continue;
            }
            let rcode = if good.load(Ordering::Relaxed) { 0 } else { 2 };
            let mut r = b[..n].to_vec();
            r[2] = 0x81;
            r[3] = 0x80 | rcode;
            r[6..8].copy_from_slice(&1u16.to_be_bytes());
            r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1]);
            let _ = s.send_to(&r, from);
        }
    })
}

/// SMTP: a 220 banner and 250 to HELO when good, a 554 banner otherwise.
pub fn smtp(addr: &str) -> Toggle {
    let l = tcp(addr);
    Toggle::spawn(move |good, stop| {
        accept_loop(l, &stop, |mut c| {
            if !good.load(Ordering::Relaxed) {
                let _ = c.write_all(b"554 go away\r\n");
                return;
            }
            let _ = c.write_all(b"220 vm ESMTP\r\n");
            let Ok(r) = c.try_clone() else { return };
            let mut lines = BufReader::new(r);
            let mut line = String::new();
            while lines.read_line(&mut line).unwrap_or(0) > 0 {
                if line.starts_with("HELO") {
                    let _ = c.write_all(b"250 vm\r\n");
                } else {
                    // QUIT (or anything else): done, so that the next check is served
                    let _ = c.write_all(b"221 bye\r\n");
                    return;
                }
                line.clear();
            }
        })
    })
}

/// HTTPS with a self-signed certificate made now: 200 when good; when not good the
/// connection is closed before the handshake.
pub fn https(addr: &str) -> Toggle {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let cfg = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![ck.cert.der().clone()], key)
        .expect("server config"),
    );
    let l = tcp(addr);
    Toggle::spawn(move |good, stop| {
        accept_loop(l, &stop, |c| {
            if !good.load(Ordering::Relaxed) {
                return;
            }
            let Ok(conn) = rustls::ServerConnection::new(cfg.clone()) else {
                return;
            };
            let mut tls = rustls::StreamOwned::new(conn, c);
            let mut req = Vec::new();
            let mut b = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
                match tls.read(&mut b) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => req.extend_from_slice(&b[..n]),
                }
            }
            let _ = tls
                .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            tls.conn.send_close_notify();
            let _ = tls.flush();
        })
    })
}

/// Whether the kernel answers pings (`net.ipv4.icmp_echo_ignore_all`), for PING_CHECK.
pub fn answer_pings(yes: bool) {
    std::fs::write(
        "/proc/sys/net/ipv4/icmp_echo_ignore_all",
        if yes { "0\n" } else { "1\n" },
    )
    .expect("icmp_echo_ignore_all");
}
