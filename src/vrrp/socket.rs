//! Raw IP protocol 112 sockets for VRRP adverts.
//!
//! IPv4: IP_HDRINCL, the caller gives the whole IPv4 packet and receives whole IPv4 packets
//! (keepalived builds its own header: TOS 0xc0, ID, TTL). IPv6: the kernel builds the header and
//! computes the checksum (IPV6_CHECKSUM offset 6); hop limit and destination come back as
//! ancillary data. One socket sends, another receives, as keepalived's sockpool does.

use std::io;
use std::io::IoSliceMut;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use nix::sys::socket::{self as nsock, sockopt, ControlMessageOwned, MsgFlags, SockaddrStorage};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// IANA protocol number of VRRP.
pub const IPPROTO_VRRP: i32 = 112;
/// IPsec AH (RFC 2402): VRRPv2 IPv4 adverts with `auth_type AH` travel inside it.
pub const IPPROTO_AH: i32 = 51;
/// RFC 3768/5798 multicast groups.
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TOS / traffic class keepalived uses (observed): DSCP CS6.
pub const VRRP_TOS: u32 = 0xc0;
/// Offset of the checksum in the VRRP header (RFC 5798).
const VRRP_CHECKSUM_OFFSET: i32 = 6;

/// Where a socket lives and what it talks to.
#[derive(Clone, Debug)]
pub struct SocketOptions {
    pub ifindex: u32,
    /// Interface name, for SO_BINDTODEVICE.
    pub ifname: String,
    /// Multicast group to join (receive) / send to; `None` for unicast.
    pub group: Option<IpAddr>,
    /// Local address: the unicast source to bind to (receive in unicast mode, and the IPv6
    /// source of sent adverts). IPv4 senders put the source in the header themselves.
    pub local: Option<IpAddr>,
    /// IPv6 unicast hop limit (`unicast_ttl`); `None` leaves the kernel default.
    pub unicast_hops: Option<u32>,
    /// Receive buffer asked by `kernel_rx_buf_size` / `vrrp_rx_bufs_policy` (set with
    /// SO_RCVBUF, as keepalived does); `None`: our bounded default (rxguard.rs).
    pub rcvbuf: Option<usize>,
}

/// One received advert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Bytes written to the buffer: the whole IPv4 packet, or the VRRP payload for IPv6.
    pub len: usize,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit (must be 255, RFC 5798).
    pub ttl: u8,
    pub ifindex: u32,
    /// The socket's cumulative count of packets the kernel dropped because the receive
    /// buffer was full (`SO_RXQ_OVFL`), when the kernel reported it.
    pub overflow: Option<u32>,
}

/// A non-blocking VRRP raw socket registered with tokio.
pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    ipv6: bool,
    ifindex: u32,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}

fn set_int_opt(sock: &Socket, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: a valid descriptor, a pointer to a live c_int and its exact size.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            (&value as *const i32).cast::<libc::c_void>(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl VrrpSocket {
    /// The descriptor (keepalived's sockpool line shows it).
    pub fn raw_fd(&self) -> i32 {
        self.fd.get_ref().as_raw_fd()
    }

    fn base(ipv6: bool, o: &SocketOptions, proto: i32) -> io::Result<Socket> {
        let domain = if ipv6 { Domain::IPV6 } else { Domain::IPV4 };
        let s = Socket::new(domain, Type::RAW.cloexec(), Some(Protocol::from(proto)))?;
        s.set_nonblocking(true)?;
        s.bind_device(Some(o.ifname.as_bytes()))?;
        if ipv6 {
            s.set_multicast_loop_v6(false)?;
            s.set_multicast_all_v6(false)?;
            s.set_tclass_v6(VRRP_TOS)?;
            set_int_opt(
                &s,
                libc::IPPROTO_IPV6,
                libc::IPV6_CHECKSUM,
                VRRP_CHECKSUM_OFFSET,
            )?;
        } else {
            s.set_multicast_loop_v4(false)?;
            s.set_multicast_all_v4(false)?;
            s.set_tos_v4(VRRP_TOS)?;
        }
        Ok(s)
    }

    fn wrap(s: Socket, ipv6: bool, ifindex: u32) -> io::Result<Self> {
        // SAFETY: the Socket owns a valid descriptor that nothing else closes or replaces
        // while the AsyncFd holds it.
        let fd = unsafe { AsyncFd::register(s)? };
        Ok(Self { fd, ipv6, ifindex })
    }

    fn check_family(ipv6: bool, o: &SocketOptions) -> io::Result<()> {
        if o.group
            .iter()
            .chain(o.local.iter())
            .any(|a| a.is_ipv6() != ipv6)
        {
            return Err(invalid("address family does not match the socket"));
        }
        if o.group.is_some_and(|g| !g.is_multicast()) {
            return Err(invalid("group is not a multicast address"));
        }
        Ok(())
    }

    /// A sending socket. Needs a tokio runtime.
    pub fn sender(ipv6: bool, o: &SocketOptions) -> io::Result<Self> {
        Self::check_family(ipv6, o)?;
        let s = Self::base(ipv6, o, IPPROTO_VRRP)?;
        if ipv6 {
            s.set_multicast_hops_v6(255)?;
            s.set_multicast_if_v6(o.ifindex)?;
            if let Some(h) = o.unicast_hops {
                s.set_unicast_hops_v6(h)?;
            }
            if let Some(IpAddr::V6(src)) = o.local {
                s.bind(&SockAddr::from(SocketAddrV6::new(
                    src,
                    0,
                    0,
                    scope_for(&src, o.ifindex),
                )))?;
            }
        } else {
            s.set_header_included_v4(true)?;
            s.set_multicast_ttl_v4(255)?;
        }
        Self::wrap(s, ipv6, o.ifindex)
    }

    /// A receiving socket: joins the group on the interface and binds to it (multicast), or
    /// binds to the local unicast address.
    pub fn receiver(ipv6: bool, o: &SocketOptions) -> io::Result<Self> {
        Self::receiver_proto(ipv6, o, IPPROTO_VRRP)
    }

    /// An IPv4 receiving socket for AH-wrapped VRRPv2 adverts (IP protocol 51):
    /// as [`VrrpSocket::receiver`], whole IPv4 packets with the AH header. (Sending needs no
    /// special socket: IPv4 senders write the header, protocol 51 included.)
    pub fn receiver_ah(o: &SocketOptions) -> io::Result<Self> {
        Self::receiver_proto(false, o, IPPROTO_AH)
    }

    fn receiver_proto(ipv6: bool, o: &SocketOptions, proto: i32) -> io::Result<Self> {
        Self::check_family(ipv6, o)?;
        let s = Self::base(ipv6, o, proto)?;
        // Bounded buffer, and the kernel's count of what overflowed it, so a flood is
        // shed early and every shed packet is still accounted (rxguard.rs).
        if let Some(n) = o.rcvbuf {
            s.set_recv_buffer_size(n)?;
        } else {
            let rcvbuf = i32::try_from(super::rxguard::RX_SOCKET_BUFFER).unwrap_or(i32::MAX);
            // SO_RCVBUFFORCE passes net.core.rmem_max (we run as root); SO_RCVBUF is capped.
            if set_int_opt(&s, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, rcvbuf).is_err() {
                s.set_recv_buffer_size(super::rxguard::RX_SOCKET_BUFFER)?;
            }
        }
        nsock::setsockopt(&s, sockopt::RxqOvfl, &1)?;
        let bind_to = o.group.or(o.local);
        if ipv6 {
            s.set_recv_hoplimit_v6(true)?;
            nsock::setsockopt(&s, sockopt::Ipv6RecvPacketInfo, &true)?;
            if let Some(IpAddr::V6(g)) = o.group {
                s.join_multicast_v6(&g, o.ifindex)?;
            }
            if let Some(IpAddr::V6(a)) = bind_to {
                s.bind(&SockAddr::from(SocketAddrV6::new(
                    a,
                    0,
                    0,
                    scope_for(&a, o.ifindex),
                )))?;
            }
        } else {
            nsock::setsockopt(&s, sockopt::Ipv4PacketInfo, &true)?;
            if let Some(IpAddr::V4(g)) = o.group {
                s.join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(o.ifindex))?;
            }
            if let Some(IpAddr::V4(a)) = bind_to {
                s.bind(&SockAddr::from(SocketAddrV4::new(a, 0)))?;
            }
        }
        Self::wrap(s, ipv6, o.ifindex)
    }

    pub fn is_ipv6(&self) -> bool {
        self.ipv6
    }

    /// Sends one advert to `dst` (a multicast group, or one unicast peer). IPv4: `pkt` is the
    /// whole IPv4 packet. Multicast goes with MSG_DONTROUTE.
    pub async fn send_to(&self, pkt: &[u8], dst: IpAddr) -> io::Result<usize> {
        let (to, flags) = self.dest(dst)?;
        self.fd
            .async_io(Interest::WRITABLE, |s| {
                s.send_to_with_flags(pkt, &to, flags)
            })
            .await
    }

    /// `send_to` without waiting: `WouldBlock` when the socket buffer is full.
    pub fn try_send_to(&self, pkt: &[u8], dst: IpAddr) -> io::Result<usize> {
        let (to, flags) = self.dest(dst)?;
        self.fd.get_ref().send_to_with_flags(pkt, &to, flags)
    }

    fn dest(&self, dst: IpAddr) -> io::Result<(SockAddr, i32)> {
        let to = match dst {
            IpAddr::V4(a) if !self.ipv6 => SockAddr::from(SocketAddrV4::new(a, 0)),
            IpAddr::V6(a) if self.ipv6 => {
                SockAddr::from(SocketAddrV6::new(a, 0, 0, scope_for(&a, self.ifindex)))
            }
            _ => return Err(invalid("destination family does not match the socket")),
        };
        let flags = if dst.is_multicast() {
            libc::MSG_DONTROUTE
        } else {
            0
        };
        Ok((to, flags))
    }

    /// Waits until the socket is readable, then reads what is queued with one `recvmmsg`
    /// (up to one packet per slot of `bufs`): `f` gets each result and its bytes (empty on
    /// error). Returns how many were handled; a receive task yields between batches so it
    /// cannot starve the timers.
    pub async fn recv_batch(
        &self,
        bufs: &mut RxBufs,
        mut f: impl FnMut(io::Result<Received>, &[u8]),
    ) -> io::Result<usize> {
        let (ipv6, ifindex) = (self.ipv6, self.ifindex);
        let mut guard = self.fd.readable().await?;
        match guard.try_io(|s| recv_many(s.get_ref().as_raw_fd(), ipv6, ifindex, bufs)) {
            Ok(Ok(got)) => {
                let n = got.len();
                for (slot, r) in got.into_iter().enumerate() {
                    let data = match &r {
                        Ok(r) => bufs
                            .slots
                            .get(slot)
                            .and_then(|b| b.get(..r.len))
                            .unwrap_or_default(),
                        Err(_) => &[],
                    };
                    f(r, data);
                }
                Ok(n)
            }
            Ok(Err(e)) => {
                f(Err(e), &[]);
                Ok(1)
            }
            Err(_would_block) => Ok(0),
        }
    }

    /// Receives one advert into `buf`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        let ipv6 = self.ipv6;
        let ifindex = self.ifindex;
        self.fd
            .async_io(Interest::READABLE, |s| {
                recv_one(s.as_raw_fd(), ipv6, ifindex, buf)
            })
            .await
    }
}

impl AsRawFd for VrrpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.get_ref().as_raw_fd()
    }
}

/// Link-local and link-scope multicast IPv6 addresses need the interface as scope id.
fn scope_for(a: &Ipv6Addr, ifindex: u32) -> u32 {
    let s0 = a.segments()[0];
    if s0 & 0xffc0 == 0xfe80 || s0 & 0xff0f == 0xff02 {
        ifindex
    } else {
        0
    }
}

/// The largest packet a batch slot holds: any valid advert (255 IPv6 addresses with an IPv6
/// and AH header are under 4.5 kB) fits; anything longer is a truncated receive error.
pub const RX_SLOT: usize = 8192;

/// One buffer per packet of a [`VrrpSocket::recv_batch`].
pub struct RxBufs {
    slots: Vec<Vec<u8>>,
}

impl RxBufs {
    pub fn new(n: usize) -> Self {
        RxBufs {
            slots: (0..n.max(1)).map(|_| vec![0u8; RX_SLOT]).collect(),
        }
    }
}

fn cmsg_space() -> Vec<u8> {
    nix::cmsg_space!(libc::in6_pktinfo, libc::c_int, libc::in_pktinfo, u32)
}

/// Reads up to one packet per slot with a single `recvmmsg`.
fn recv_many(
    fd: i32,
    ipv6: bool,
    ifindex: u32,
    bufs: &mut RxBufs,
) -> io::Result<Vec<io::Result<Received>>> {
    // Built for each call: the kernel shrinks the headers' control and address lengths to
    // what the last call used, and nix does not restore them.
    let mut hdrs =
        nsock::MultiHeaders::<SockaddrStorage>::preallocate(bufs.slots.len(), Some(cmsg_space()));
    let mut iovs: Vec<[IoSliceMut; 1]> = bufs
        .slots
        .iter_mut()
        .map(|b| [IoSliceMut::new(b)])
        .collect();
    let msgs = nsock::recvmmsg(fd, &mut hdrs, iovs.iter_mut(), MsgFlags::MSG_DONTWAIT, None)?;
    let mut out = Vec::new();
    for msg in msgs {
        let data = msg.iovs().next().unwrap_or_default();
        out.push(received(ipv6, ifindex, &msg, data));
    }
    Ok(out)
}

fn recv_one(fd: i32, ipv6: bool, ifindex: u32, buf: &mut [u8]) -> io::Result<Received> {
    let mut cmsg = cmsg_space();
    let mut iov = [IoSliceMut::new(buf)];
    let msg = nsock::recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())?;
    let data = msg.iovs().next().unwrap_or_default();
    received(ipv6, ifindex, &msg, data)
}

/// One received message as a [`Received`]; `data` is its bytes.
fn received(
    ipv6: bool,
    ifindex: u32,
    msg: &nsock::RecvMsg<'_, '_, SockaddrStorage>,
    data: &[u8],
) -> io::Result<Received> {
    if msg.flags.contains(MsgFlags::MSG_TRUNC) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "truncated VRRP packet",
        ));
    }
    let len = msg.bytes;
    let mut hops = None;
    let mut dst = None;
    let mut in_if = None;
    let mut overflow = None;
    for c in msg.cmsgs()? {
        match c {
            ControlMessageOwned::RxqOvfl(n) => overflow = Some(n),
            ControlMessageOwned::Ipv6HopLimit(h) => hops = u8::try_from(h).ok(),
            ControlMessageOwned::Ipv6PacketInfo(pi) => {
                dst = Some(IpAddr::V6(Ipv6Addr::from(pi.ipi6_addr.s6_addr)));
                in_if = Some(pi.ipi6_ifindex);
            }
            ControlMessageOwned::Ipv4PacketInfo(pi) => {
                in_if = u32::try_from(pi.ipi_ifindex).ok();
            }
            _ => {}
        }
    }
    let from = msg.address;
    let ifindex = in_if.unwrap_or(ifindex);
    if ipv6 {
        let src = from
            .as_ref()
            .and_then(|a| a.as_sockaddr_in6())
            .map(|a| IpAddr::V6(a.ip()))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no source address"))?;
        let (Some(ttl), Some(dst)) = (hops, dst) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "missing IPv6 ancillary data",
            ));
        };
        return Ok(Received {
            len,
            src,
            dst,
            ttl,
            ifindex,
            overflow,
        });
    }
    // IPv4 raw sockets deliver the header: TTL at 8, source at 12, destination at 16.
    let data = data.get(..len).unwrap_or_default();
    let quad = |r: std::ops::Range<usize>| {
        data.get(r)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|q| IpAddr::V4(q.into()))
    };
    let (Some(&ttl), Some(src), Some(dst)) = (data.get(8), quad(12..16), quad(16..20)) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "short IPv4 packet",
        ));
    };
    Ok(Received {
        len,
        src,
        dst,
        ttl,
        ifindex,
        overflow,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_ids() {
        assert_eq!(scope_for(&"fe80::1".parse().unwrap(), 4), 4);
        assert_eq!(scope_for(&VRRP_GROUP_V6, 4), 4);
        assert_eq!(scope_for(&"2001:db8::1".parse().unwrap(), 4), 0);
        assert_eq!(scope_for(&"ff05::12".parse().unwrap(), 4), 0);
    }

    #[test]
    fn family_checks() {
        let o = SocketOptions {
            ifindex: 1,
            ifname: "lo".into(),
            group: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            local: None,
            unicast_hops: None,
            rcvbuf: None,
        };
        assert!(VrrpSocket::check_family(false, &o).is_err());
        let o = SocketOptions {
            group: Some(IpAddr::V4(VRRP_GROUP_V4)),
            ..o
        };
        assert!(VrrpSocket::check_family(false, &o).is_ok());
        assert!(VrrpSocket::check_family(true, &o).is_err());
    }
}
