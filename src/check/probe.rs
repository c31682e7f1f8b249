//! What every health checker shares: the resolved target of a
//! check (connect address, bind options, timeout), the result handed to the manager, and
//! the socket set-up (`bindto`, `bind_port`, `bind_if` = SO_BINDTODEVICE, `fwmark` = SO_MARK).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::sync::Semaphore;

use crate::config::model::check::checker::{Checker, Connection};
use crate::config::model::check::{RealServer, VirtualServer, DEFAULT_CONNECT_TIMEOUT};

/// Where and how one check connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `connect_ip`/`connect_port`, else the real server's address.
    pub addr: SocketAddr,
    /// `bindto` / `bind_port` (port 0 = any).
    pub bind: Option<SocketAddr>,
    pub bind_if: Option<String>,
    pub fwmark: Option<u32>,
    /// `connect_timeout`: the budget of one attempt, connect and exchange together.
    pub timeout: Duration,
}

impl Target {
    /// A target for `addr` with no bind options.
    pub fn new(addr: SocketAddr, timeout: Duration) -> Target {
        Target {
            addr,
            bind: None,
            bind_if: None,
            fwmark: None,
            timeout,
        }
    }

    /// The target of `checker` of `rs` (connection options override the real server's).
    pub fn of(_vs: &VirtualServer, rs: &RealServer, checker: &Checker) -> Target {
        Target::with_conn(rs, &checker.conn, checker.timing.connect_timeout)
    }

    /// As [`Target::of`] for an explicit connection block (SMTP_CHECK `host { }`).
    pub fn with_conn(rs: &RealServer, conn: &Connection, timeout: Option<Duration>) -> Target {
        let ip = conn.connect_ip.unwrap_or(rs.ip);
        let port = conn.connect_port.unwrap_or(rs.port);
        let bind = match (conn.bindto, conn.bind_port) {
            (Some(ip), p) => Some(SocketAddr::new(ip, p.unwrap_or(0))),
            (None, Some(p)) => Some(SocketAddr::new(unspecified(&ip), p)),
            (None, None) => None,
        };
        Target {
            addr: SocketAddr::new(ip, port),
            bind,
            bind_if: conn.bind_if.clone(),
            fwmark: conn.fwmark,
            timeout: timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        }
    }

    /// `[ip]:proto:port` as keepalived names the checked service in its logs.
    pub fn display(&self, proto: &str) -> String {
        format!("[{}]:{}:{}", self.addr.ip(), proto, self.addr.port())
    }

    /// A socket of `ty` for this target with the bind options applied, non-blocking.
    pub fn socket(&self, ty: Type, proto: Option<Protocol>) -> io::Result<Socket> {
        let domain = Domain::for_address(self.addr);
        // non-blocking and close-on-exec from socket(2) itself: two to three system calls
        // fewer per check
        let s = Socket::new(domain, ty.nonblocking().cloexec(), proto)?;
        if let Some(mark) = self.fwmark {
            s.set_mark(mark)?;
        }
        if let Some(dev) = &self.bind_if {
            s.bind_device(Some(dev.as_bytes()))?;
        }
        if let Some(b) = self.bind {
            if b.port() != 0 {
                s.set_reuse_address(true)?;
            }
            s.bind(&b.into())?;
        }
        Ok(s)
    }

    /// A TCP connection, bounded by the target's timeout.
    pub async fn tcp_connect(&self) -> io::Result<TcpStream> {
        let s = self.socket(Type::STREAM, Some(Protocol::TCP))?;
        let sock = TcpSocket::from_std_stream(s.into());
        with_timeout(self.timeout, sock.connect(self.addr)).await
    }

    /// A connected UDP socket.
    pub fn udp_connect(&self) -> io::Result<UdpSocket> {
        let s = self.socket(Type::DGRAM, Some(Protocol::UDP))?;
        s.connect(&self.addr.into())?;
        UdpSocket::from_std(s.into())
    }
}

fn unspecified(like: &IpAddr) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

/// Runs `f` for at most `d`; running out is `ErrorKind::TimedOut`.
pub async fn with_timeout<T>(
    d: Duration,
    f: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match tokio::time::timeout(d, f).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "timeout")),
    }
}

/// The outcome of one attempt of one checker, handed to the manager.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckResult {
    pub up: bool,
    /// Why it failed, in keepalived's words (`HTTP status code error`, `timeout`, ...).
    pub reason: Option<String>,
    /// MISC_CHECK: the script's exit status (`None` when killed or timed out).
    pub exit_status: Option<i32>,
    /// MISC_CHECK with `misc_dynamic`: the new weight (status − 2).
    pub weight: Option<u32>,
    /// Lines the checker logs on its own (url successes while down, per-attempt detail).
    pub notes: Vec<String>,
}

impl CheckResult {
    pub fn up() -> CheckResult {
        CheckResult {
            up: true,
            ..CheckResult::default()
        }
    }

    pub fn down(reason: impl Into<String>) -> CheckResult {
        CheckResult {
            up: false,
            reason: Some(reason.into()),
            ..CheckResult::default()
        }
    }
}

/// Bounds how many checks run at once: each check holds a permit while it runs.
#[derive(Debug, Clone)]
pub struct Limiter(Arc<Semaphore>);

impl Limiter {
    pub fn new(n: usize) -> Limiter {
        Limiter(Arc::new(Semaphore::new(n.max(1))))
    }

    /// Runs `f` once a permit is free.
    pub async fn run<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        // the semaphore is never closed, so acquire cannot fail; run anyway if it did
        let _permit = self.0.acquire().await.ok();
        f.await
    }
}
