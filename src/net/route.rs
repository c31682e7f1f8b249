//! Routes: RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE (spec §5.10, virtual_routes).

use std::net::IpAddr;

use rtnetlink::packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use super::addr::{RT_SCOPE_HOST, RT_SCOPE_LINK, RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE};
use super::{NetError, Netlink, Tolerate};

/// The main routing table.
pub const RT_TABLE_MAIN: u32 = 254;
/// `RTPROT_BOOT`, what `ip route add` uses when no protocol is given.
pub const RTPROT_BOOT: u8 = 3;
/// `RTPROT_KEEPALIVED`: keepalived 2.2.7 tags its routes and rules with it (observed:
/// `ip route` shows `proto keepalived`).
pub const RTPROT_KEEPALIVED: u8 = 18;

/// Route type (`RTN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RouteKind {
    #[default]
    Unicast,
    Local,
    Broadcast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
}

impl RouteKind {
    fn to_nl(self) -> RouteType {
        match self {
            RouteKind::Unicast => RouteType::Unicast,
            RouteKind::Local => RouteType::Local,
            RouteKind::Broadcast => RouteType::Broadcast,
            RouteKind::Blackhole => RouteType::BlackHole,
            RouteKind::Unreachable => RouteType::Unreachable,
            RouteKind::Prohibit => RouteType::Prohibit,
            RouteKind::Throw => RouteType::Throw,
        }
    }
}

/// A route to add or delete. The family is that of `dst`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    pub dst: IpAddr,
    pub prefix: u8,
    pub kind: RouteKind,
    /// Routing table (`RT_TABLE_MAIN` by default).
    pub table: u32,
    /// `metric` / `preference` (RTA_PRIORITY).
    pub metric: Option<u32>,
    /// Gateway (`via`).
    pub via: Option<IpAddr>,
    /// Preferred source (`src`, RTA_PREFSRC).
    pub src: Option<IpAddr>,
    /// Source prefix (IPv6 `from`, RTA_SRC).
    pub from: Option<(IpAddr, u8)>,
    /// Output interface (`dev`).
    pub oif: Option<u32>,
    /// `RT_SCOPE_*`; `None` picks what iproute2 picks (link for a gatewayless unicast route,
    /// host for local, universe otherwise).
    pub scope: Option<u8>,
    /// `RTPROT_*` (default `RTPROT_KEEPALIVED`, as keepalived).
    pub protocol: u8,
    pub tos: u8,
    pub onlink: bool,
    /// NLM_F_APPEND instead of the default prepend (keepalived's `append`, spec §5.10).
    pub append: bool,
}

impl RouteSpec {
    pub fn new(dst: IpAddr, prefix: u8) -> Self {
        Self {
            dst,
            prefix,
            kind: RouteKind::Unicast,
            table: RT_TABLE_MAIN,
            metric: None,
            via: None,
            src: None,
            from: None,
            oif: None,
            scope: None,
            protocol: RTPROT_KEEPALIVED,
            tos: 0,
            onlink: false,
            append: false,
        }
    }

    fn effective_scope(&self) -> u8 {
        if let Some(s) = self.scope {
            return s;
        }
        match self.kind {
            RouteKind::Local => RT_SCOPE_HOST,
            RouteKind::Broadcast => RT_SCOPE_LINK,
            RouteKind::Unicast if self.via.is_none() && self.oif.is_some() => RT_SCOPE_LINK,
            _ => RT_SCOPE_UNIVERSE,
        }
    }

    fn message(&self, delete: bool) -> Result<RouteMessage, NetError> {
        let v4 = self.dst.is_ipv4();
        if self.prefix > if v4 { 32 } else { 128 } {
            return Err(NetError::Invalid(format!("route prefix /{}", self.prefix)));
        }
        let same_family = |ip: &IpAddr| ip.is_ipv4() == v4;
        if !self.via.iter().chain(self.src.iter()).all(same_family) {
            return Err(NetError::Invalid(format!(
                "mixed address families in route to {}",
                self.dst
            )));
        }
        let mut m = RouteMessage::default();
        let h = &mut m.header;
        h.address_family = if v4 {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        h.destination_prefix_length = self.prefix;
        h.tos = self.tos;
        // Tables above 255 only fit in RTA_TABLE (as iproute2 does).
        h.table = u8::try_from(self.table).unwrap_or(0);
        h.kind = self.kind.to_nl();
        if delete {
            // Wildcards for the kernel's match: any protocol, any scope.
            h.protocol = RouteProtocol::Unspec;
            h.scope = RouteScope::from(RT_SCOPE_NOWHERE);
        } else {
            h.protocol = RouteProtocol::from(self.protocol);
            h.scope = RouteScope::from(self.effective_scope());
        }
        if self.onlink {
            h.flags |= RouteFlags::Onlink;
        }
        let a = &mut m.attributes;
        a.push(RouteAttribute::Table(self.table));
        if self.prefix > 0 || !delete {
            a.push(RouteAttribute::Destination(RouteAddress::from(self.dst)));
        }
        if let Some((ip, len)) = self.from {
            m.header.source_prefix_length = len;
            a.push(RouteAttribute::Source(RouteAddress::from(ip)));
        }
        if let Some(g) = self.via {
            a.push(RouteAttribute::Gateway(RouteAddress::from(g)));
        }
        if let Some(s) = self.src {
            a.push(RouteAttribute::PrefSource(RouteAddress::from(s)));
        }
        if let Some(o) = self.oif {
            a.push(RouteAttribute::Oif(o));
        }
        if let Some(p) = self.metric {
            a.push(RouteAttribute::Priority(p));
        }
        Ok(m)
    }
}

/// A route read back from the kernel (main fields only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    pub dst: Option<IpAddr>,
    pub prefix: u8,
    pub table: u32,
    pub oif: Option<u32>,
    pub via: Option<IpAddr>,
    pub metric: Option<u32>,
    pub kind: u8,
}

impl RouteInfo {
    pub fn from_message(m: &RouteMessage) -> Self {
        let mut r = RouteInfo {
            dst: None,
            prefix: m.header.destination_prefix_length,
            table: u32::from(m.header.table),
            oif: None,
            via: None,
            metric: None,
            kind: u8::from(m.header.kind),
        };
        for a in &m.attributes {
            match a {
                RouteAttribute::Destination(d) => r.dst = ip_of(d),
                RouteAttribute::Gateway(g) => r.via = ip_of(g),
                RouteAttribute::Table(t) => r.table = *t,
                RouteAttribute::Oif(o) => r.oif = Some(*o),
                RouteAttribute::Priority(p) => r.metric = Some(*p),
                _ => {}
            }
        }
        r
    }
}

fn ip_of(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

impl Netlink {
    /// Adds a route; an identical route already present is success.
    pub async fn add_route(&self, r: &RouteSpec) -> Result<(), NetError> {
        let flags = NLM_F_CREATE | if r.append { NLM_F_APPEND } else { NLM_F_EXCL };
        self.ack(
            "add route",
            RouteNetlinkMessage::NewRoute(r.message(false)?),
            flags,
            Tolerate::Exists,
        )
        .await
    }

    /// Deletes a route; already gone is success.
    pub async fn delete_route(&self, r: &RouteSpec) -> Result<(), NetError> {
        self.ack(
            "delete route",
            RouteNetlinkMessage::DelRoute(r.message(true)?),
            0,
            Tolerate::Missing,
        )
        .await
    }

    /// Routes of one family (`ipv6` true for IPv6), all tables.
    pub async fn routes(&self, ipv6: bool) -> Result<Vec<RouteInfo>, NetError> {
        let mut m = RouteMessage::default();
        m.header.address_family = if ipv6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        let msgs = self
            .dump("list routes", RouteNetlinkMessage::GetRoute(m))
            .await?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => Some(RouteInfo::from_message(r)),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_and_table_follow_iproute2() {
        let mut r = RouteSpec::new("198.51.100.0".parse().unwrap(), 24);
        r.oif = Some(3);
        r.table = 1000;
        let m = r.message(false).unwrap();
        assert_eq!(m.header.scope, RouteScope::Link);
        assert_eq!(m.header.table, 0);
        assert!(m.attributes.contains(&RouteAttribute::Table(1000)));
        r.via = Some("192.0.2.1".parse().unwrap());
        r.onlink = true;
        let m = r.message(false).unwrap();
        assert_eq!(m.header.scope, RouteScope::Universe);
        assert!(m.header.flags.contains(RouteFlags::Onlink));
        let d = r.message(true).unwrap();
        assert_eq!(d.header.protocol, RouteProtocol::Unspec);
        assert_eq!(d.header.scope, RouteScope::NoWhere);
    }

    #[test]
    fn blackhole_and_family_mismatch() {
        let mut r = RouteSpec::new("2001:db8:1::".parse().unwrap(), 48);
        r.kind = RouteKind::Blackhole;
        let m = r.message(false).unwrap();
        assert_eq!(m.header.kind, RouteType::BlackHole);
        assert_eq!(m.header.address_family, AddressFamily::Inet6);
        r.via = Some("192.0.2.1".parse().unwrap());
        assert!(r.message(false).is_err());
    }
}
