//! The BFD child's UDP sockets, as keepalived opens them: a listening socket on port 3784
//! (single hop) and one on 4784 (RFC 5883 multihop) when a session needs it, each for both families (IPv6 with IPv4-mapped addresses, IPv4 alone when IPv6 is off) that
//! reports each packet's TTL / hop limit and destination, and one sending socket per
//! session, bound to its source address on a random port of 49152-65535 (RFC 5881) and
//! sending with the session's TTL.

use std::io::{self, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};

use nix::sys::socket::{self as nsock, sockopt, ControlMessageOwned, MsgFlags, SockaddrStorage};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;

use crate::bfd::packet::SOURCE_PORTS;

/// A datagram read from the listening socket.
#[derive(Debug, Clone, Copy)]
pub struct Datagram {
    pub len: usize,
    pub src: IpAddr,
    pub sport: u16,
    pub dst: Option<IpAddr>,
    /// 0 when the kernel gave none.
    pub ttl: u8,
}

/// The listening socket.
pub struct Listener {
    fd: AsyncFd<Socket>,
}

fn unmap(a: Ipv6Addr) -> IpAddr {
    match a.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(a),
    }
}

impl Listener {
    /// `[::]:port` (or `0.0.0.0:port` without IPv6).
    pub fn open(port: u16) -> io::Result<Listener> {
        let s = match Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP)) {
            Ok(s) => {
                s.set_only_v6(false)?;
                nsock::setsockopt(&s, sockopt::Ipv4RecvTtl, &true)?;
                nsock::setsockopt(&s, sockopt::Ipv6RecvHopLimit, &true)?;
                nsock::setsockopt(&s, sockopt::Ipv6RecvPacketInfo, &true)?;
                nsock::setsockopt(&s, sockopt::Ipv4PacketInfo, &true)?;
                let any = SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0));
                s.bind(&any.into())?;
                s
            }
            Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {
                let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
                nsock::setsockopt(&s, sockopt::Ipv4RecvTtl, &true)?;
                nsock::setsockopt(&s, sockopt::Ipv4PacketInfo, &true)?;
                let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
                s.bind(&any.into())?;
                s
            }
            Err(e) => return Err(e),
        };
        s.set_nonblocking(true)?;
        // SAFETY: the Socket owns a valid descriptor that nothing else closes or replaces
        // while the AsyncFd holds it.
        let fd = unsafe { AsyncFd::register(s)? };
        Ok(Listener { fd })
    }

    /// Waits until a datagram can be read, then reads it (`Ok(None)`: spurious wake-up).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Datagram>> {
        let mut guard = self.fd.readable().await?;
        match guard.try_io(|fd| recv_one(fd.get_ref(), buf)) {
            Ok(r) => r.map(Some),
            Err(_would_block) => Ok(None),
        }
    }

    /// Reads one more datagram without waiting (`Ok(None)`: nothing queued).
    pub fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<Datagram>> {
        match recv_one(self.fd.get_ref(), buf) {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn recv_one(sock: &Socket, buf: &mut [u8]) -> io::Result<Datagram> {
    use std::os::fd::AsRawFd as _;
    let mut cmsg = nix::cmsg_space!(
        libc::in6_pktinfo,
        libc::c_int,
        libc::in_pktinfo,
        libc::c_int
    );
    let mut iov = [IoSliceMut::new(buf)];
    let msg = nsock::recvmsg::<SockaddrStorage>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_DONTWAIT,
    )?;
    if msg.flags.contains(MsgFlags::MSG_TRUNC) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "recvmsg() message truncated",
        ));
    }
    let len = msg.bytes;
    let mut ttl = 0u8;
    let mut dst = None;
    for c in msg.cmsgs()? {
        match c {
            ControlMessageOwned::Ipv4Ttl(t) | ControlMessageOwned::Ipv6HopLimit(t) => {
                ttl = u8::try_from(t).unwrap_or(0)
            }
            ControlMessageOwned::Ipv6PacketInfo(pi) => {
                dst = Some(unmap(Ipv6Addr::from(pi.ipi6_addr.s6_addr)))
            }
            ControlMessageOwned::Ipv4PacketInfo(pi) => {
                dst = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(pi.ipi_addr.s_addr))))
            }
            _ => {}
        }
    }
    let (src, sport) = match msg.address {
        Some(a) if a.as_sockaddr_in6().is_some() => {
            let a6 = a.as_sockaddr_in6().map(|a| (a.ip(), a.port()));
            let (ip, port) = a6.unwrap_or((Ipv6Addr::UNSPECIFIED, 0));
            (unmap(ip), port)
        }
        Some(a) => match a.as_sockaddr_in() {
            Some(a4) => (IpAddr::V4(a4.ip()), a4.port()),
            None => return Err(io::Error::new(io::ErrorKind::InvalidData, "no source")),
        },
        None => return Err(io::Error::new(io::ErrorKind::InvalidData, "no source")),
    };
    Ok(Datagram {
        len,
        src,
        sport,
        dst,
        ttl,
    })
}

/// The range keepalived draws source ports from: `ip_local_port_range` clipped to
/// 49152-65535, or all of it when fewer than 1024 ports remain.
pub fn port_range(local_range: Option<(u32, u32)>) -> (u16, u16) {
    let (lo, hi) = local_range.unwrap_or((49152, 60999));
    let lo = lo.max(u32::from(*SOURCE_PORTS.start()));
    let hi = hi.min(u32::from(*SOURCE_PORTS.end()));
    if lo + 1023 > hi {
        return (*SOURCE_PORTS.start(), *SOURCE_PORTS.end());
    }
    (lo as u16, hi as u16)
}

fn local_port_range() -> Option<(u32, u32)> {
    let s = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = s.split_whitespace().map(str::parse::<u32>);
    match (it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(b))) if a > 0 && b > 0 => Some((a, b)),
        _ => None,
    }
}

/// Why a sending socket could not be opened; `Display` is keepalived's `socket() error (...)`.
#[derive(Debug, thiserror::Error)]
#[error("{step}() error ({})", nix::errno::Errno::from_raw(.source.raw_os_error().unwrap_or(0)).desc())]
pub struct OpenError {
    pub step: &'static str,
    #[source]
    pub source: io::Error,
}

fn at(step: &'static str) -> impl FnOnce(io::Error) -> OpenError {
    move |source| OpenError { step, source }
}

/// A session's sending socket.
pub struct Sender {
    sock: Socket,
    to: SockAddr,
}

impl Sender {
    /// Opens it towards `neighbor:port`; `first_port` is where the search for a free source
    /// port starts.
    pub fn open(
        neighbor: IpAddr,
        port: u16,
        source: Option<IpAddr>,
        ttl: u8,
        first_port: u16,
    ) -> Result<Sender, OpenError> {
        let domain = if neighbor.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(at("socket"))?;
        if let Some(src) = source {
            // Without a source address the kernel picks the port, possibly outside the
            // RFC range, as keepalived does.
            let (lo, hi) = port_range(local_port_range());
            let mut port = first_port.clamp(lo, hi);
            let start = port;
            loop {
                match sock.bind(&SocketAddr::new(src, port).into()) {
                    Ok(()) => break,
                    Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {
                        port = if port >= hi { lo } else { port + 1 };
                        if port == start {
                            return Err(at("bind")(e));
                        }
                    }
                    Err(e) => return Err(at("bind")(e)),
                }
            }
        }
        if neighbor.is_ipv4() {
            sock.set_ttl_v4(u32::from(ttl))
        } else {
            sock.set_unicast_hops_v6(u32::from(ttl))
        }
        .and_then(|()| sock.set_nonblocking(true))
        .map_err(at("setsockopt"))?;
        Ok(Sender {
            sock,
            to: SocketAddr::new(neighbor, port).into(),
        })
    }

    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.sock.send_to(buf, &self.to)
    }

    /// The bound source port (0 if unbound).
    pub fn local_port(&self) -> u16 {
        self.sock
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map_or(0, |a| a.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ports_follow_keepalived() {
        assert_eq!(port_range(Some((32768, 60999))), (49152, 60999));
        assert_eq!(port_range(Some((50000, 65535))), (50000, 65535));
        // Fewer than 1024 ports left: the whole RFC range.
        assert_eq!(port_range(Some((60500, 60999))), (49152, 65535));
        assert_eq!(port_range(None), (49152, 60999));
    }

    #[test]
    fn mapped_addresses_are_ipv4() {
        assert_eq!(
            unmap("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            unmap("2001:db8::1".parse().unwrap()),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }
}
