//! Gratuitous ARP and unsolicited IPv6 Neighbour Advertisements,
//! sent as whole Ethernet frames over AF_PACKET like keepalived's vrrp_arp.c / vrrp_ndisc.c.
//!
//! The frame builders are pure; [`PacketSocket`] only moves bytes.

use std::io::{self, Read};
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use socket2::{Domain, Protocol, SockAddr, SockAddrStorage, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

pub const ETH_P_ALL: u16 = 0x0003;
pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IPV6: u16 = 0x86dd;

/// Length of a gratuitous ARP frame: Ethernet header (14) + ARP for IPv4 over Ethernet (28).
pub const GARP_LEN: usize = 42;
/// Length of an unsolicited NA frame: Ethernet (14) + IPv6 (40) + NA (24) + TLLA option (8).
pub const NA_LEN: usize = 86;

/// A gratuitous ARP: an Ethernet-broadcast ARP request whose sender and target protocol
/// addresses are both the VIP, sender hardware address `mac`, target hardware address all ones
/// (as keepalived's send_gratuitous_arp_immediate).
pub fn garp_frame(mac: [u8; 6], vip: Ipv4Addr) -> [u8; GARP_LEN] {
    let mut f = [0u8; GARP_LEN];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    // RFC 826: hardware type Ethernet (1), protocol IPv4, lengths 6 and 4, op request (1).
    f[14..16].copy_from_slice(&1u16.to_be_bytes());
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes());
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes());
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&vip.octets());
    f[32..38].copy_from_slice(&[0xff; 6]);
    f[38..42].copy_from_slice(&vip.octets());
    f
}

/// An unsolicited Neighbour Advertisement (RFC 4861): from the VIP to ff02::1
/// (Ethernet 33:33:00:00:00:01, RFC 2464), hop limit 255, Override set, Router set when
/// `router` (IPv6 forwarding on the interface), Solicited clear, target = VIP, target
/// link-layer address option = `mac`.
pub fn unsolicited_na_frame(mac: [u8; 6], vip: Ipv6Addr, router: bool) -> [u8; NA_LEN] {
    const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut f = [0u8; NA_LEN];
    f[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    // IPv6 header: version 6, traffic class 0, flow label 0.
    f[14] = 0x60;
    f[18..20].copy_from_slice(&32u16.to_be_bytes());
    f[20] = 58; // ICMPv6
    f[21] = 255;
    f[22..38].copy_from_slice(&vip.octets());
    f[38..54].copy_from_slice(&ALL_NODES.octets());
    // ICMPv6 NA: type 136, code 0, checksum, R|S|O flags, reserved, target.
    f[54] = 136;
    f[58] = if router { 0x80 } else { 0 } | 0x20;
    f[62..78].copy_from_slice(&vip.octets());
    // Option 2 (target link-layer address), length 1 (8 octets).
    f[78] = 2;
    f[79] = 1;
    f[80..86].copy_from_slice(&mac);
    let sum = icmpv6_checksum(&vip, &ALL_NODES, &f[54..86]);
    f[56..58].copy_from_slice(&sum.to_be_bytes());
    f
}

/// The ICMPv6 checksum (RFC 4443) of `msg` (its checksum field zero) with the RFC 8200
///  pseudo-header.
pub fn icmpv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, msg: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    let mut add = |b: &[u8]| {
        for c in b.chunks(2) {
            let hi = u64::from(c.first().copied().unwrap_or(0)) << 8;
            let lo = u64::from(c.get(1).copied().unwrap_or(0));
            sum += hi | lo;
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&(msg.len() as u32).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(msg);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Builds a `sockaddr_ll` for `ifindex` and `protocol` (host order).
fn link_addr(ifindex: u32, protocol: u16) -> io::Result<SockAddr> {
    let ifindex = i32::try_from(ifindex)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"))?;
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: sockaddr_ll fits in sockaddr_storage (view_as checks it); the zeroed storage is a
    // valid sockaddr_ll, and the length passed is exactly that struct's.
    unsafe {
        let ll = storage.view_as::<libc::sockaddr_ll>();
        ll.sll_family = libc::AF_PACKET as u16;
        ll.sll_protocol = protocol.to_be();
        ll.sll_ifindex = ifindex;
        Ok(SockAddr::new(
            storage,
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        ))
    }
}

/// An AF_PACKET raw socket: unbound for sending frames on any interface (keepalived's shared
/// GARP/NA channel), or bound to one interface and protocol for receiving.
pub struct PacketSocket {
    fd: AsyncFd<Socket>,
}

impl PacketSocket {
    /// A socket for sending only (protocol 0 receives nothing). Needs a tokio runtime.
    pub fn sender() -> io::Result<Self> {
        Self::open(0)
    }

    /// A socket receiving every frame of `protocol` (host order; [`ETH_P_ALL`] for all) on
    /// interface `ifindex`.
    pub fn receiver(ifindex: u32, protocol: u16) -> io::Result<Self> {
        let s = Self::open(protocol)?;
        s.fd.get_ref().bind(&link_addr(ifindex, protocol)?)?;
        Ok(s)
    }

    fn open(protocol: u16) -> io::Result<Self> {
        let sock = Socket::new(
            Domain::PACKET,
            Type::RAW.cloexec(),
            Some(Protocol::from(i32::from(protocol.to_be()))),
        )?;
        sock.set_nonblocking(true)?;
        // SAFETY: the Socket owns a valid descriptor that nothing else closes or replaces
        // while the AsyncFd holds it.
        let fd = unsafe { AsyncFd::register(sock)? };
        Ok(Self { fd })
    }

    /// Sends one complete Ethernet frame out of `ifindex`.
    pub async fn send(&self, ifindex: u32, frame: &[u8]) -> io::Result<usize> {
        let to = link_addr(ifindex, 0)?;
        self.fd
            .async_io(Interest::WRITABLE, |s| s.send_to(frame, &to))
            .await
    }

    /// Receives one frame (with its Ethernet header).
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd
            .async_io(Interest::READABLE, |mut s| s.read(buf))
            .await
    }

    pub fn as_raw_fd(&self) -> i32 {
        self.fd.get_ref().as_raw_fd()
    }
}

/// Sends a gratuitous ARP for `vip` on `ifindex` from `mac`.
pub async fn send_garp(
    sock: &PacketSocket,
    ifindex: u32,
    mac: [u8; 6],
    vip: Ipv4Addr,
) -> io::Result<()> {
    sock.send(ifindex, &garp_frame(mac, vip)).await.map(|_| ())
}

/// Sends an unsolicited NA for `vip` on `ifindex` from `mac`; the Router flag follows the
/// interface's IPv6 forwarding sysctl.
pub async fn send_unsolicited_na(
    sock: &PacketSocket,
    ifindex: u32,
    ifname: &str,
    mac: [u8; 6],
    vip: Ipv6Addr,
) -> io::Result<()> {
    let router = crate::net::sysctl::ipv6_forwarding(ifname);
    sock.send(ifindex, &unsolicited_na_frame(mac, vip, router))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x33];

    #[test]
    fn garp_bytes() {
        let f = garp_frame(MAC, Ipv4Addr::new(192, 0, 2, 100));
        #[rustfmt::skip]
        let want: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x33, 0x08, 0x06,
            0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
            0x00, 0x00, 0x5e, 0x00, 0x01, 0x33, 192, 0, 2, 100,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 192, 0, 2, 100,
        ];
        assert_eq!(f, want);
    }

    #[test]
    fn na_bytes() {
        let vip: Ipv6Addr = "2001:db8::64".parse().unwrap();
        let f = unsolicited_na_frame(MAC, vip, false);
        #[rustfmt::skip]
        let want: [u8; 86] = [
            0x33, 0x33, 0, 0, 0, 1, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x33, 0x86, 0xdd,
            0x60, 0, 0, 0, 0, 32, 58, 255,
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64,
            0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
            136, 0, 0x9b, 0x32, 0x20, 0, 0, 0,
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64,
            2, 1, 0x00, 0x00, 0x5e, 0x00, 0x01, 0x33,
        ];
        assert_eq!(f, want);
        let r = unsolicited_na_frame(MAC, vip, true);
        assert_eq!(r[58], 0xa0);
        // Verifying over the whole message, checksum included, yields zero.
        assert_eq!(
            icmpv6_checksum(&vip, &"ff02::1".parse().unwrap(), &r[54..]),
            0
        );
        assert_eq!(
            icmpv6_checksum(&vip, &"ff02::1".parse().unwrap(), &f[54..]),
            0
        );
    }

    #[test]
    fn checksum_odd_length() {
        // ::1 twice (2) + length 3 + next header 58 + 0x0102 + 0x0300 (padded) = 0x0441.
        let a = Ipv6Addr::LOCALHOST;
        assert_eq!(icmpv6_checksum(&a, &a, &[1, 2, 3]), !0x0441);
    }
}
