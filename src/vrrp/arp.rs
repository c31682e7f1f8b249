//! Gratuitous ARP and unsolicited IPv6 Neighbour Advertisements,
//! sent as whole Ethernet frames over AF_PACKET like keepalived's vrrp_arp.c / vrrp_ndisc.c.
//!
//! The frame builders are pure; [`PacketSocket`] only moves bytes.

use std::io::{self, Read};
use std::mem::size_of;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;

use pnet::packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet::packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet::packet::icmpv6::ndp::{
    MutableNeighborAdvertPacket, NdpOption, NdpOptionTypes, NeighborAdvertFlags,
};
use pnet::packet::icmpv6::{self, Icmpv6Packet, Icmpv6Types};
use pnet::packet::ip::IpNextHeaderProtocols;
use pnet::packet::ipv6::MutableIpv6Packet;
use pnet::packet::{MutablePacket, Packet};
use pnet::util::MacAddr;
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
    let mac = MacAddr::from(mac);
    let mut f = [0u8; GARP_LEN];
    // The buffer has exactly the two headers' sizes, so both views exist.
    if let Some(mut eth) = MutableEthernetPacket::new(&mut f) {
        eth.set_destination(MacAddr::broadcast());
        eth.set_source(mac);
        eth.set_ethertype(EtherTypes::Arp);
        if let Some(mut arp) = MutableArpPacket::new(eth.payload_mut()) {
            arp.set_hardware_type(ArpHardwareTypes::Ethernet);
            arp.set_protocol_type(EtherTypes::Ipv4);
            arp.set_hw_addr_len(6);
            arp.set_proto_addr_len(4);
            arp.set_operation(ArpOperations::Request);
            arp.set_sender_hw_addr(mac);
            arp.set_sender_proto_addr(vip);
            arp.set_target_hw_addr(MacAddr::broadcast());
            arp.set_target_proto_addr(vip);
        }
    }
    f
}

/// An unsolicited Neighbour Advertisement (RFC 4861): from the VIP to ff02::1
/// (Ethernet 33:33:00:00:00:01, RFC 2464), hop limit 255, Override set, Router set when
/// `router` (IPv6 forwarding on the interface), Solicited clear, target = VIP, target
/// link-layer address option = `mac`.
pub fn unsolicited_na_frame(mac: [u8; 6], vip: Ipv6Addr, router: bool) -> [u8; NA_LEN] {
    const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    const NA_PAYLOAD: u16 = (NA_LEN - 14 - 40) as u16;
    let mac = MacAddr::from(mac);
    let mut f = [0u8; NA_LEN];
    // The buffer has exactly the headers' sizes, so every view exists.
    if let Some(mut eth) = MutableEthernetPacket::new(&mut f) {
        eth.set_destination(MacAddr::new(0x33, 0x33, 0, 0, 0, 1));
        eth.set_source(mac);
        eth.set_ethertype(EtherTypes::Ipv6);
        if let Some(mut ip) = MutableIpv6Packet::new(eth.payload_mut()) {
            ip.set_version(6);
            ip.set_payload_length(NA_PAYLOAD);
            ip.set_next_header(IpNextHeaderProtocols::Icmpv6);
            ip.set_hop_limit(255);
            ip.set_source(vip);
            ip.set_destination(ALL_NODES);
            if let Some(mut na) = MutableNeighborAdvertPacket::new(ip.payload_mut()) {
                na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
                let router = if router {
                    NeighborAdvertFlags::Router
                } else {
                    0
                };
                na.set_flags(router | NeighborAdvertFlags::Override);
                na.set_target_addr(vip);
                na.set_options(&[NdpOption {
                    option_type: NdpOptionTypes::TargetLLAddr,
                    length: 1,
                    data: mac.octets().to_vec(),
                }]);
            }
            if let Some(icmp) = Icmpv6Packet::new(ip.payload()) {
                let sum = icmpv6::checksum(&icmp, &vip, &ALL_NODES);
                if let Some(mut na) = MutableNeighborAdvertPacket::new(ip.payload_mut()) {
                    na.set_checksum(sum);
                }
            }
        }
    }
    f
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
        // The Router frame carries its own checksum, not the plain one's.
        let all_nodes: Ipv6Addr = "ff02::1".parse().unwrap();
        let icmp = Icmpv6Packet::new(&r[54..]).unwrap();
        let sum = icmpv6::checksum(&icmp, &vip, &all_nodes);
        assert_eq!(sum, u16::from_be_bytes([r[56], r[57]]));
        assert_ne!(r[56..58], f[56..58]);
    }
}
