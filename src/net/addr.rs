//! Interface addresses: RTM_NEWADDR / RTM_DELADDR / RTM_GETADDR.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope, CacheInfo,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{NetError, Netlink, Tolerate};

/// `IFA_F_*` flag bits (linux/if_addr.h).
pub const IFA_F_SECONDARY: u32 = 0x01;
pub const IFA_F_NODAD: u32 = 0x02;
pub const IFA_F_DADFAILED: u32 = 0x08;
pub const IFA_F_HOMEADDRESS: u32 = 0x10;
pub const IFA_F_DEPRECATED: u32 = 0x20;
pub const IFA_F_TENTATIVE: u32 = 0x40;
pub const IFA_F_PERMANENT: u32 = 0x80;
pub const IFA_F_MANAGETEMPADDR: u32 = 0x100;
pub const IFA_F_NOPREFIXROUTE: u32 = 0x200;
pub const IFA_F_MCAUTOJOIN: u32 = 0x400;

/// `RT_SCOPE_*` values (linux/rtnetlink.h).
pub const RT_SCOPE_UNIVERSE: u8 = 0;
pub const RT_SCOPE_SITE: u8 = 200;
pub const RT_SCOPE_LINK: u8 = 253;
pub const RT_SCOPE_HOST: u8 = 254;
pub const RT_SCOPE_NOWHERE: u8 = 255;

/// Lifetime value meaning "forever".
pub const INFINITY_LIFE_TIME: u32 = u32::MAX;

/// An address to add to or delete from an interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrSpec {
    pub ifindex: u32,
    pub addr: IpAddr,
    pub prefix: u8,
    /// Point-to-point peer (`peer`); the prefix then applies to the peer.
    pub peer: Option<IpAddr>,
    /// IPv4 broadcast address (`brd`).
    pub brd: Option<Ipv4Addr>,
    /// `RT_SCOPE_*`.
    pub scope: u8,
    /// IPv4 label (`eth0:vip`); at most 15 bytes and must start with the interface name.
    pub label: Option<String>,
    /// `IFA_F_*` bits.
    pub flags: u32,
    /// Preferred lifetime in seconds; `None` is forever.
    pub preferred_lft: Option<u32>,
}

impl AddrSpec {
    /// A plain address: scope global; IPv6 gets `IFA_F_NODAD` (VIPs: keepalived adds
    /// IPv6 addresses with NODAD unless `-nodad`).
    pub fn new(ifindex: u32, addr: IpAddr, prefix: u8) -> Self {
        let flags = if addr.is_ipv6() { IFA_F_NODAD } else { 0 };
        Self {
            ifindex,
            addr,
            prefix,
            peer: None,
            brd: None,
            scope: RT_SCOPE_UNIVERSE,
            label: None,
            flags,
            preferred_lft: None,
        }
    }

    fn message(&self) -> Result<AddressMessage, NetError> {
        let max = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix > max {
            return Err(NetError::Invalid(format!(
                "prefix /{} for {}",
                self.prefix, self.addr
            )));
        }
        let mut m = AddressMessage::default();
        m.header.family = family_of(&self.addr);
        m.header.prefix_len = self.prefix;
        m.header.scope = AddressScope::from(self.scope);
        m.header.index = self.ifindex;
        m.header.flags = AddressHeaderFlags::from_bits_truncate((self.flags & 0xff) as u8);
        let attrs = &mut m.attributes;
        // IFA_LOCAL is our address; IFA_ADDRESS is the peer for point-to-point (as iproute2).
        attrs.push(AddressAttribute::Local(self.addr));
        attrs.push(AddressAttribute::Address(self.peer.unwrap_or(self.addr)));
        if let (Some(b), IpAddr::V4(_)) = (self.brd, self.addr) {
            attrs.push(AddressAttribute::Broadcast(b));
        }
        if let (Some(l), IpAddr::V4(_)) = (&self.label, self.addr) {
            if l.is_empty() || l.len() > 15 {
                return Err(NetError::Invalid(format!("label {l:?}")));
            }
            attrs.push(AddressAttribute::Label(l.clone()));
        }
        if self.flags > 0xff {
            attrs.push(AddressAttribute::Flags(AddressFlags::from_bits_retain(
                self.flags,
            )));
        }
        if let Some(p) = self.preferred_lft {
            let mut ci = CacheInfo::default();
            ci.ifa_preferred = p;
            ci.ifa_valid = INFINITY_LIFE_TIME;
            attrs.push(AddressAttribute::CacheInfo(ci));
        }
        Ok(m)
    }
}

/// An address read back from the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddrInfo {
    pub ifindex: u32,
    pub addr: IpAddr,
    pub prefix: u8,
    pub peer: Option<IpAddr>,
    pub scope: u8,
    pub label: Option<String>,
    pub flags: u32,
}

impl AddrInfo {
    pub fn is_secondary(&self) -> bool {
        self.flags & IFA_F_SECONDARY != 0
    }
    pub fn is_tentative(&self) -> bool {
        self.flags & IFA_F_TENTATIVE != 0
    }

    /// Decodes an RTM_NEWADDR/RTM_DELADDR body; `None` for families other than IPv4/IPv6.
    pub fn from_message(m: &AddressMessage) -> Option<Self> {
        let mut local = None;
        let mut address = None;
        let mut label = None;
        let mut flags = u32::from(m.header.flags.bits());
        for a in &m.attributes {
            match a {
                AddressAttribute::Local(ip) => local = Some(*ip),
                AddressAttribute::Address(ip) => address = Some(*ip),
                AddressAttribute::Label(l) => label = Some(l.clone()),
                AddressAttribute::Flags(f) => flags = f.bits(),
                _ => {}
            }
        }
        // As iproute2: IFA_LOCAL is the address when present, IFA_ADDRESS then the peer.
        let (addr, peer) = match (local, address) {
            (Some(l), Some(a)) if l != a => (l, Some(a)),
            (Some(l), _) => (l, None),
            (None, Some(a)) => (a, None),
            (None, None) => return None,
        };
        Some(Self {
            ifindex: m.header.index,
            addr,
            prefix: m.header.prefix_len,
            peer,
            scope: u8::from(m.header.scope),
            label,
            flags,
        })
    }
}

fn family_of(ip: &IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

impl Netlink {
    /// Adds an address; already present is success.
    pub async fn add_address(&self, a: &AddrSpec) -> Result<(), NetError> {
        let m = a.message()?;
        self.ack(
            "add address",
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_EXCL,
            Tolerate::Exists,
        )
        .await
    }

    /// Adds or updates an address (`ip addr replace`).
    pub async fn replace_address(&self, a: &AddrSpec) -> Result<(), NetError> {
        let m = a.message()?;
        self.ack(
            "replace address",
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_CREATE | NLM_F_REPLACE,
            Tolerate::Nothing,
        )
        .await
    }

    /// Deletes an address; already gone is success.
    pub async fn delete_address(&self, a: &AddrSpec) -> Result<(), NetError> {
        let mut m = a.message()?;
        // Lifetimes and flags are irrelevant for a delete and a label would have to match.
        m.attributes
            .retain(|x| matches!(x, AddressAttribute::Local(_) | AddressAttribute::Address(_)));
        self.ack(
            "delete address",
            RouteNetlinkMessage::DelAddress(m),
            0,
            Tolerate::Missing,
        )
        .await
    }

    /// All IPv4 and IPv6 addresses, or those of one interface.
    pub async fn addresses(&self, ifindex: Option<u32>) -> Result<Vec<AddrInfo>, NetError> {
        let msgs = self
            .dump(
                "list addresses",
                RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            )
            .await?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => AddrInfo::from_message(a),
                _ => None,
            })
            .filter(|a| ifindex.map_or(true, |i| a.ifindex == i))
            .collect())
    }

    /// The interface's primary IPv4 address: the first non-secondary one (the
    /// default advert source).
    pub async fn primary_ipv4(&self, ifindex: u32) -> Result<Option<Ipv4Addr>, NetError> {
        Ok(primary_ipv4(&self.addresses(Some(ifindex)).await?))
    }

    /// The interface's first link-local IPv6 address that has finished DAD.
    pub async fn link_local_ipv6(&self, ifindex: u32) -> Result<Option<Ipv6Addr>, NetError> {
        Ok(link_local_ipv6(&self.addresses(Some(ifindex)).await?))
    }
}

/// First non-secondary IPv4 address in kernel order.
pub fn primary_ipv4(addrs: &[AddrInfo]) -> Option<Ipv4Addr> {
    addrs.iter().find_map(|a| match a.addr {
        IpAddr::V4(v4) if !a.is_secondary() => Some(v4),
        _ => None,
    })
}

/// First usable (not tentative, not DAD-failed) fe80::/10 address.
pub fn link_local_ipv6(addrs: &[AddrInfo]) -> Option<Ipv6Addr> {
    addrs.iter().find_map(|a| match a.addr {
        IpAddr::V6(v6)
            if v6.segments()[0] & 0xffc0 == 0xfe80
                && a.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) == 0 =>
        {
            Some(v6)
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_carries_everything() {
        let mut a = AddrSpec::new(7, "192.0.2.10".parse().unwrap(), 24);
        a.brd = Some("192.0.2.255".parse().unwrap());
        a.label = Some("eth0:vip".into());
        a.scope = RT_SCOPE_LINK;
        a.flags |= IFA_F_NOPREFIXROUTE;
        a.preferred_lft = Some(0);
        let m = a.message().unwrap();
        assert_eq!(m.header.index, 7);
        assert_eq!(m.header.prefix_len, 24);
        assert_eq!(m.header.scope, AddressScope::Link);
        assert!(m
            .attributes
            .contains(&AddressAttribute::Label("eth0:vip".into())));
        assert!(m
            .attributes
            .contains(&AddressAttribute::Flags(AddressFlags::Noprefixroute)));
        let back = AddrInfo::from_message(&m).unwrap();
        assert_eq!(back.addr, a.addr);
        assert_eq!(back.peer, None);
        assert_eq!(back.flags, IFA_F_NOPREFIXROUTE);
    }

    #[test]
    fn ipv6_defaults_to_nodad_and_rejects_bad_prefix() {
        let a = AddrSpec::new(1, "2001:db8::1".parse().unwrap(), 64);
        assert_eq!(a.flags, IFA_F_NODAD);
        let m = a.message().unwrap();
        assert_eq!(m.header.flags, AddressHeaderFlags::Nodad);
        let bad = AddrSpec::new(1, "192.0.2.1".parse().unwrap(), 33);
        assert!(bad.message().is_err());
    }

    #[test]
    fn primary_and_link_local_selection() {
        let mk = |addr: &str, flags| AddrInfo {
            ifindex: 1,
            addr: addr.parse().unwrap(),
            prefix: 24,
            peer: None,
            scope: 0,
            label: None,
            flags,
        };
        let list = vec![
            mk("fe80::1", IFA_F_TENTATIVE),
            mk("192.0.2.1", 0),
            mk("192.0.2.2", IFA_F_SECONDARY),
            mk("2001:db8::1", 0),
            mk("fe80::2", IFA_F_PERMANENT),
        ];
        assert_eq!(primary_ipv4(&list), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(primary_ipv4(&list[2..]), None);
        assert_eq!(link_local_ipv6(&list), Some("fe80::2".parse().unwrap()));
    }
}
