//! Routes: RTM_NEWROUTE / RTM_DELROUTE / RTM_GETROUTE (virtual_routes, static_routes).
//!
//! The message is built as keepalived 2.2.7 builds it (keepalived's vrrp_iproute.c,
//! `netlink_route`): scope universe unless configured, protocol keepalived unless
//! configured, metrics in one RTA_METRICS (with RTAX_LOCK only beside another metric),
//! multipath next hops in RTA_MULTIPATH, and the kernel's default "prepend" when neither
//! `add` nor `append` is configured.

use std::net::IpAddr;

use netlink_packet_core::{DefaultNla, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL};
pub use netlink_packet_route::route::RouteMetric;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteMplsTtlPropagation, RouteNextHop,
    RouteNextHopFlags, RoutePreference, RouteProtocol, RouteRealm, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::addr::{RT_SCOPE_NOWHERE, RT_SCOPE_UNIVERSE};
use super::{NetError, Netlink, Tolerate};

/// The main routing table.
pub const RT_TABLE_MAIN: u32 = 254;
/// `RTPROT_BOOT`, what `ip route add` uses when no protocol is given.
pub const RTPROT_BOOT: u8 = 3;
/// `RTPROT_KEEPALIVED`: keepalived 2.2.7 tags its routes and rules with it (observed:
/// `ip route` shows `proto keepalived`).
pub const RTPROT_KEEPALIVED: u8 = 18;
/// `RTAX_CC_ALGO`: the congestion control metric, a string the crate has no variant for.
const RTAX_CC_ALGO: u16 = 16;

/// Route type (`RTN_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RouteKind {
    #[default]
    Unicast,
    Local,
    Broadcast,
    Anycast,
    Multicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
    Nat,
    Xresolve,
}

impl RouteKind {
    fn to_nl(self) -> RouteType {
        match self {
            RouteKind::Unicast => RouteType::Unicast,
            RouteKind::Local => RouteType::Local,
            RouteKind::Broadcast => RouteType::Broadcast,
            RouteKind::Anycast => RouteType::Anycast,
            RouteKind::Multicast => RouteType::Multicast,
            RouteKind::Blackhole => RouteType::BlackHole,
            RouteKind::Unreachable => RouteType::Unreachable,
            RouteKind::Prohibit => RouteType::Prohibit,
            RouteKind::Throw => RouteType::Throw,
            RouteKind::Nat => RouteType::Nat,
            RouteKind::Xresolve => RouteType::ExternalResolve,
        }
    }
}

/// How a route is added when one to the same destination exists (`add`, `prepend`,
/// `append` of the route line; keepalived's default is the kernel's prepend).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AddMode {
    /// NLM_F_CREATE alone.
    #[default]
    Prepend,
    /// NLM_F_CREATE | NLM_F_EXCL.
    Add,
    /// NLM_F_CREATE | NLM_F_APPEND.
    Append,
}

/// One hop of a multipath route (`nexthop via IP dev IF weight N onlink realms R`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NextHop {
    pub via: Option<IpAddr>,
    pub oif: Option<u32>,
    /// `weight` as configured (1..=256); the kernel stores weight - 1.
    pub weight: Option<u16>,
    pub onlink: bool,
    /// RTA_FLOW (FROM << 16 | TO), sent when not 0.
    pub realms: u32,
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
    /// `RT_SCOPE_*`; `None` is universe, as keepalived sends (not iproute2's guess).
    pub scope: Option<u8>,
    /// `RTPROT_*` (default `RTPROT_KEEPALIVED`, as keepalived).
    pub protocol: u8,
    pub tos: u8,
    pub onlink: bool,
    pub mode: AddMode,
    /// RTA_METRICS entries (RTAX_LOCK excluded: see `lock`).
    pub metrics: Vec<RouteMetric>,
    /// The RTAX_LOCK mask, sent only beside another metric (as keepalived does).
    pub lock: u32,
    /// RTA_FLOW (FROM << 16 | TO), sent when not 0.
    pub realms: u32,
    /// RTA_EXPIRES (IPv6), seconds.
    pub expires: Option<u32>,
    /// RTA_PREF (IPv6 router preference).
    pub pref: Option<u8>,
    /// RTA_TTL_PROPAGATE: keepalived sends 1 for `enabled` and 0 for `disabled`.
    pub ttl_propagate: Option<u8>,
    /// RTA_MULTIPATH.
    pub nexthops: Vec<NextHop>,
}

/// The congestion control metric (`congctl NAME`), sent without a NUL as keepalived does.
pub fn congctl_metric(name: &str) -> RouteMetric {
    RouteMetric::Other(DefaultNla::new(RTAX_CC_ALGO, name.as_bytes().to_vec()))
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
            mode: AddMode::Prepend,
            metrics: Vec::new(),
            lock: 0,
            realms: 0,
            expires: None,
            pref: None,
            ttl_propagate: None,
            nexthops: Vec::new(),
        }
    }

    /// The netlink flags of an add (beyond REQUEST and ACK).
    fn add_flags(&self) -> u16 {
        NLM_F_CREATE
            | match self.mode {
                AddMode::Prepend => 0,
                AddMode::Add => NLM_F_EXCL,
                AddMode::Append => NLM_F_APPEND,
            }
    }

    fn message(&self, delete: bool) -> Result<RouteMessage, NetError> {
        let v4 = self.dst.is_ipv4();
        if self.prefix > if v4 { 32 } else { 128 } {
            return Err(NetError::Invalid(format!("route prefix /{}", self.prefix)));
        }
        let same_family = |ip: &IpAddr| ip.is_ipv4() == v4;
        let hops = self.nexthops.iter().filter_map(|n| n.via.as_ref());
        if !self
            .via
            .iter()
            .chain(self.src.iter())
            .chain(hops)
            .all(same_family)
        {
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
        h.protocol = RouteProtocol::from(self.protocol);
        if delete {
            // keepalived's delete: any scope, and the type only when one was written
            // (a unicast type matches the same routes as none).
            h.scope = RouteScope::from(self.scope.unwrap_or(RT_SCOPE_NOWHERE));
            if self.kind != RouteKind::Unicast {
                h.kind = self.kind.to_nl();
            }
        } else {
            h.scope = RouteScope::from(self.scope.unwrap_or(RT_SCOPE_UNIVERSE));
            h.kind = self.kind.to_nl();
        }
        if self.onlink {
            h.flags |= RouteFlags::Onlink;
        }
        let a = &mut m.attributes;
        // Tables above 255 only fit in RTA_TABLE.
        match u8::try_from(self.table) {
            Ok(t) => m.header.table = t,
            Err(_) => a.push(RouteAttribute::Table(self.table)),
        }
        a.push(RouteAttribute::Destination(RouteAddress::from(self.dst)));
        if let Some((ip, len)) = self.from {
            m.header.source_prefix_length = len;
            a.push(RouteAttribute::Source(RouteAddress::from(ip)));
        }
        if let Some(s) = self.src {
            a.push(RouteAttribute::PrefSource(RouteAddress::from(s)));
        }
        if let Some(g) = self.via {
            a.push(RouteAttribute::Gateway(RouteAddress::from(g)));
        }
        if let Some(o) = self.oif {
            a.push(RouteAttribute::Oif(o));
        }
        if let Some(p) = self.metric {
            a.push(RouteAttribute::Priority(p));
        }
        if self.realms != 0 {
            a.push(RouteAttribute::Realm(realm(self.realms)));
        }
        if let Some(e) = self.expires {
            a.push(RouteAttribute::Expires(e));
        }
        if let Some(p) = self.pref {
            a.push(RouteAttribute::Preference(RoutePreference::from(p)));
        }
        if let Some(t) = self.ttl_propagate {
            a.push(RouteAttribute::TtlPropagate(RouteMplsTtlPropagation::from(
                t,
            )));
        }
        if !self.metrics.is_empty() {
            let mut metrics = self.metrics.clone();
            if self.lock != 0 {
                metrics.push(RouteMetric::Lock(self.lock));
            }
            a.push(RouteAttribute::Metrics(metrics));
        }
        if !self.nexthops.is_empty() {
            a.push(RouteAttribute::MultiPath(
                self.nexthops.iter().map(NextHop::to_nl).collect(),
            ));
        }
        Ok(m)
    }
}

impl NextHop {
    fn to_nl(&self) -> RouteNextHop {
        let mut nh = RouteNextHop::default();
        if let Some(g) = self.via {
            nh.attributes
                .push(RouteAttribute::Gateway(RouteAddress::from(g)));
        }
        nh.interface_index = self.oif.unwrap_or(0);
        if let Some(w) = self.weight {
            nh.hops = u8::try_from(w.saturating_sub(1)).unwrap_or(u8::MAX);
        }
        if self.onlink {
            nh.flags |= RouteNextHopFlags::Onlink;
        }
        if self.realms != 0 {
            nh.attributes
                .push(RouteAttribute::Realm(realm(self.realms)));
        }
        nh
    }
}

/// RTA_FLOW as the crate's realm pair (FROM in the high 16 bits).
fn realm(v: u32) -> RouteRealm {
    RouteRealm {
        source: (v >> 16) as u16,
        destination: (v & 0xffff) as u16,
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
        self.ack(
            "add route",
            RouteNetlinkMessage::NewRoute(r.message(false)?),
            r.add_flags(),
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
    fn scope_table_and_flags_follow_keepalived() {
        let mut r = RouteSpec::new("198.51.100.0".parse().unwrap(), 24);
        r.oif = Some(3);
        r.table = 1000;
        let m = r.message(false).unwrap();
        // keepalived sends universe unless `scope` is written (not iproute2's link).
        assert_eq!(m.header.scope, RouteScope::Universe);
        assert_eq!(m.header.table, 0);
        assert_eq!(m.header.protocol, RouteProtocol::from(RTPROT_KEEPALIVED));
        assert!(m.attributes.contains(&RouteAttribute::Table(1000)));
        assert_eq!(r.add_flags(), NLM_F_CREATE);
        r.mode = AddMode::Add;
        assert_eq!(r.add_flags(), NLM_F_CREATE | NLM_F_EXCL);
        r.mode = AddMode::Append;
        assert_eq!(r.add_flags(), NLM_F_CREATE | NLM_F_APPEND);
        r.table = 100;
        r.via = Some("192.0.2.1".parse().unwrap());
        r.onlink = true;
        r.scope = Some(253);
        let m = r.message(false).unwrap();
        assert_eq!(m.header.table, 100);
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Table(_))));
        assert_eq!(m.header.scope, RouteScope::Link);
        assert!(m.header.flags.contains(RouteFlags::Onlink));
        // The delete keeps the protocol and a written scope, and names no unicast type.
        let d = r.message(true).unwrap();
        assert_eq!(d.header.protocol, RouteProtocol::from(RTPROT_KEEPALIVED));
        assert_eq!(d.header.scope, RouteScope::Link);
        assert_eq!(d.header.kind, RouteType::Unspec);
        r.scope = None;
        r.kind = RouteKind::Multicast;
        let d = r.message(true).unwrap();
        assert_eq!(d.header.scope, RouteScope::NoWhere);
        assert_eq!(d.header.kind, RouteType::Multicast);
    }

    #[test]
    fn every_route_type() {
        for (k, t) in [
            (RouteKind::Unicast, RouteType::Unicast),
            (RouteKind::Local, RouteType::Local),
            (RouteKind::Broadcast, RouteType::Broadcast),
            (RouteKind::Anycast, RouteType::Anycast),
            (RouteKind::Multicast, RouteType::Multicast),
            (RouteKind::Blackhole, RouteType::BlackHole),
            (RouteKind::Unreachable, RouteType::Unreachable),
            (RouteKind::Prohibit, RouteType::Prohibit),
            (RouteKind::Throw, RouteType::Throw),
            (RouteKind::Nat, RouteType::Nat),
            (RouteKind::Xresolve, RouteType::ExternalResolve),
        ] {
            let mut r = RouteSpec::new("2001:db8:1::".parse().unwrap(), 48);
            r.kind = k;
            let m = r.message(false).unwrap();
            assert_eq!(m.header.kind, t);
            assert_eq!(m.header.address_family, AddressFamily::Inet6);
        }
        let mut r = RouteSpec::new("2001:db8:1::".parse().unwrap(), 48);
        r.via = Some("192.0.2.1".parse().unwrap());
        assert!(r.message(false).is_err());
    }

    #[test]
    fn metrics_realms_and_ipv6_options() {
        let mut r = RouteSpec::new("198.51.100.0".parse().unwrap(), 24);
        // RTAX_LOCK alone is not sent (keepalived sends it only beside a metric).
        r.lock = 1 << 2;
        let m = r.message(false).unwrap();
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Metrics(_))));
        r.metrics = vec![RouteMetric::Mtu(1400), congctl_metric("reno")];
        r.realms = 1 << 16 | 2;
        let m = r.message(false).unwrap();
        assert!(m.attributes.contains(&RouteAttribute::Metrics(vec![
            RouteMetric::Mtu(1400),
            RouteMetric::Other(DefaultNla::new(RTAX_CC_ALGO, b"reno".to_vec())),
            RouteMetric::Lock(4),
        ])));
        assert!(m.attributes.contains(&RouteAttribute::Realm(RouteRealm {
            source: 1,
            destination: 2
        })));
        let mut r = RouteSpec::new("2001:db8:1::".parse().unwrap(), 48);
        r.expires = Some(1000);
        r.pref = Some(1);
        r.ttl_propagate = Some(0);
        let m = r.message(false).unwrap();
        for a in [
            RouteAttribute::Expires(1000),
            RouteAttribute::Preference(RoutePreference::High),
            RouteAttribute::TtlPropagate(RouteMplsTtlPropagation::Default),
        ] {
            assert!(m.attributes.contains(&a), "{a:?}");
        }
    }

    #[test]
    fn multipath_next_hops() {
        let mut r = RouteSpec::new("198.51.100.10".parse().unwrap(), 32);
        r.oif = Some(2);
        r.nexthops = vec![
            NextHop {
                via: Some("192.0.2.250".parse().unwrap()),
                oif: Some(2),
                weight: Some(2),
                ..Default::default()
            },
            NextHop {
                via: Some("203.0.113.251".parse().unwrap()),
                oif: Some(3),
                onlink: true,
                realms: 5,
                ..Default::default()
            },
        ];
        let m = r.message(false).unwrap();
        let hops = m
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::MultiPath(h) => Some(h.clone()),
                _ => None,
            })
            .expect("RTA_MULTIPATH");
        assert_eq!(hops.len(), 2);
        assert_eq!((hops[0].hops, hops[0].interface_index), (1, 2));
        assert_eq!(
            hops[0].attributes,
            [RouteAttribute::Gateway(RouteAddress::from(
                "192.0.2.250".parse::<IpAddr>().unwrap()
            ))]
        );
        assert_eq!((hops[1].hops, hops[1].interface_index), (0, 3));
        assert!(hops[1].flags.contains(RouteNextHopFlags::Onlink));
        assert!(hops[1]
            .attributes
            .contains(&RouteAttribute::Realm(RouteRealm {
                source: 0,
                destination: 5
            })));
        r.nexthops[1].via = Some("2001:db8::1".parse().unwrap());
        assert!(r.message(false).is_err());
    }
}
