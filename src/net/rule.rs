//! Policy routing rules: RTM_NEWRULE / RTM_DELRULE / RTM_GETRULE (virtual_rules,
//! static_rules), built as keepalived 2.2.7 builds them (keepalived's vrrp_iprule.c,
//! `netlink_rule`): a table in the header when it fits, FRA_TABLE otherwise, no table for
//! `l3mdev`, and FRA_PROTOCOL only when the rule is tracked or a protocol was written.

use std::net::IpAddr;

use netlink_packet_core::{DefaultNla, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::{RouteProtocol, RouteRealm};
use netlink_packet_route::rule::{
    RuleAction as NlAction, RuleAttribute, RuleFlags, RuleMessage, RulePortRange, RuleUidRange,
};
use netlink_packet_route::{AddressFamily, IpProtocol, RouteNetlinkMessage};

use super::{NetError, Netlink, Tolerate};

/// FRA_TUN_ID (linux/fib_rules.h).
const FRA_TUN_ID: u16 = 12;

/// What a matching rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RuleAction {
    /// Look up `table`.
    #[default]
    ToTable,
    /// Continue at the rule with this priority.
    Goto(u32),
    Nop,
    Blackhole,
    Unreachable,
    Prohibit,
}

/// A rule to add or delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    pub ipv6: bool,
    pub from: Option<(IpAddr, u8)>,
    pub to: Option<(IpAddr, u8)>,
    pub table: Option<u32>,
    pub priority: Option<u32>,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub tos: u8,
    pub action: RuleAction,
    /// `not`.
    pub invert: bool,
    pub suppress_prefixlen: Option<u32>,
    pub suppress_ifgroup: Option<u32>,
    /// Look up the table of the packet's L3 master device (no table of its own).
    pub l3mdev: bool,
    /// FRA_PROTOCOL (default `RTPROT_KEEPALIVED`, as keepalived 2.2.7 does for tracked
    /// rules; `None` sends none, the kernel's unspec).
    pub protocol: Option<u8>,
    /// FRA_FLOW (FROM << 16 | TO), sent when not 0.
    pub realms: u32,
    /// FRA_UID_RANGE.
    pub uidrange: Option<(u32, u32)>,
    /// FRA_SPORT_RANGE.
    pub sport: Option<(u16, u16)>,
    /// FRA_DPORT_RANGE.
    pub dport: Option<(u16, u16)>,
    /// FRA_IP_PROTO.
    pub ip_proto: Option<u8>,
    /// FRA_TUN_ID, sent when not 0.
    pub tunnel_id: u64,
}

impl RuleSpec {
    pub fn new(ipv6: bool) -> Self {
        Self {
            ipv6,
            from: None,
            to: None,
            table: None,
            priority: None,
            fwmark: None,
            fwmask: None,
            iif: None,
            oif: None,
            tos: 0,
            action: RuleAction::ToTable,
            invert: false,
            suppress_prefixlen: None,
            suppress_ifgroup: None,
            l3mdev: false,
            protocol: Some(super::route::RTPROT_KEEPALIVED),
            realms: 0,
            uidrange: None,
            sport: None,
            dport: None,
            ip_proto: None,
            tunnel_id: 0,
        }
    }

    fn message(&self) -> Result<RuleMessage, NetError> {
        let max = if self.ipv6 { 128 } else { 32 };
        for (ip, len) in self.from.iter().chain(self.to.iter()) {
            if ip.is_ipv6() != self.ipv6 || *len > max {
                return Err(NetError::Invalid(format!("rule prefix {ip}/{len}")));
            }
        }
        for name in self.iif.iter().chain(self.oif.iter()) {
            if name.is_empty() || name.len() > 15 {
                return Err(NetError::Invalid(format!("interface name {name:?}")));
            }
        }
        let mut m = RuleMessage::default();
        let h = &mut m.header;
        h.family = if self.ipv6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        h.tos = self.tos;
        h.action = match self.action {
            RuleAction::ToTable => NlAction::ToTable,
            RuleAction::Goto(_) => NlAction::Goto,
            RuleAction::Nop => NlAction::Nop,
            RuleAction::Blackhole => NlAction::Blackhole,
            RuleAction::Unreachable => NlAction::Unreachable,
            RuleAction::Prohibit => NlAction::Prohibit,
        };
        if self.invert {
            h.flags |= RuleFlags::Invert;
        }
        let a = &mut m.attributes;
        // A table only for a table lookup; an unset one is main (as `ip rule` defaults).
        if self.action == RuleAction::ToTable && !self.l3mdev {
            let t = self
                .table
                .filter(|t| *t != 0)
                .unwrap_or(super::route::RT_TABLE_MAIN);
            match u8::try_from(t) {
                Ok(t) => m.header.table = t,
                Err(_) => a.push(RuleAttribute::Table(t)),
            }
        }
        if let Some((ip, len)) = self.from {
            m.header.src_len = len;
            a.push(RuleAttribute::Source(ip));
        }
        if let Some((ip, len)) = self.to {
            m.header.dst_len = len;
            a.push(RuleAttribute::Destination(ip));
        }
        if let Some(p) = self.priority {
            a.push(RuleAttribute::Priority(p));
        }
        if let Some(f) = self.fwmark {
            a.push(RuleAttribute::FwMark(f));
        }
        if let Some(f) = self.fwmask {
            a.push(RuleAttribute::FwMask(f));
        }
        if self.realms != 0 {
            a.push(RuleAttribute::Realm(RouteRealm {
                source: (self.realms >> 16) as u16,
                destination: (self.realms & 0xffff) as u16,
            }));
        }
        if let Some(s) = self.suppress_prefixlen {
            a.push(RuleAttribute::SuppressPrefixLen(s));
        }
        if let Some(s) = self.suppress_ifgroup {
            a.push(RuleAttribute::SuppressIfGroup(s));
        }
        if let Some(i) = &self.iif {
            a.push(RuleAttribute::Iifname(i.clone()));
        }
        if let Some(o) = &self.oif {
            a.push(RuleAttribute::Oifname(o.clone()));
        }
        if self.tunnel_id != 0 {
            // Big-endian on the wire; the crate's TunId is too narrow for it.
            a.push(RuleAttribute::Other(DefaultNla::new(
                FRA_TUN_ID,
                self.tunnel_id.to_be_bytes().to_vec(),
            )));
        }
        if let Some((start, end)) = self.uidrange {
            a.push(RuleAttribute::UidRange(RuleUidRange { start, end }));
        }
        if self.l3mdev {
            a.push(RuleAttribute::L3MDev(true));
        }
        if let Some(p) = self.protocol {
            a.push(RuleAttribute::Protocol(RouteProtocol::from(p)));
        }
        if let Some(p) = self.ip_proto {
            a.push(RuleAttribute::IpProtocol(IpProtocol::from(p)));
        }
        if let Some((start, end)) = self.sport {
            a.push(RuleAttribute::SourcePortRange(RulePortRange { start, end }));
        }
        if let Some((start, end)) = self.dport {
            a.push(RuleAttribute::DestinationPortRange(RulePortRange {
                start,
                end,
            }));
        }
        if let RuleAction::Goto(target) = self.action {
            a.push(RuleAttribute::Goto(target));
        }
        Ok(m)
    }
}

impl Netlink {
    /// Adds a rule; an identical rule already present is success.
    pub async fn add_rule(&self, r: &RuleSpec) -> Result<(), NetError> {
        self.ack(
            "add rule",
            RouteNetlinkMessage::NewRule(r.message()?),
            NLM_F_CREATE | NLM_F_EXCL,
            Tolerate::Exists,
        )
        .await
    }

    /// Deletes a rule; already gone is success.
    pub async fn delete_rule(&self, r: &RuleSpec) -> Result<(), NetError> {
        self.ack(
            "delete rule",
            RouteNetlinkMessage::DelRule(r.message()?),
            0,
            Tolerate::Missing,
        )
        .await
    }

    /// The priorities of a family's rules, in kernel order.
    pub async fn rule_priorities(&self, ipv6: bool) -> Result<Vec<u32>, NetError> {
        let mut m = RuleMessage::default();
        m.header.family = if ipv6 {
            AddressFamily::Inet6
        } else {
            AddressFamily::Inet
        };
        let msgs = self
            .dump("list rules", RouteNetlinkMessage::GetRule(m))
            .await?;
        Ok(msgs
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRule(r) => Some(
                    r.attributes
                        .iter()
                        .find_map(|a| match a {
                            RuleAttribute::Priority(p) => Some(*p),
                            _ => None,
                        })
                        .unwrap_or(0),
                ),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_message_fields() {
        let mut r = RuleSpec::new(false);
        r.from = Some(("192.0.2.0".parse().unwrap(), 24));
        r.priority = Some(100);
        r.table = Some(1000);
        r.fwmark = Some(7);
        r.iif = Some("eth0".into());
        r.invert = true;
        let m = r.message().unwrap();
        assert_eq!(m.header.src_len, 24);
        assert_eq!(m.header.table, 0);
        assert_eq!(m.header.action, NlAction::ToTable);
        assert!(m.header.flags.contains(RuleFlags::Invert));
        assert!(m.attributes.contains(&RuleAttribute::Table(1000)));
        assert!(m.attributes.contains(&RuleAttribute::FwMark(7)));
        r.from = Some(("2001:db8::".parse().unwrap(), 64));
        assert!(r.message().is_err());
    }

    #[test]
    fn port_uid_realm_ranges_and_protocol() {
        let mut r = RuleSpec::new(false);
        r.table = Some(100);
        r.priority = Some(100);
        r.sport = Some((1000, 2000));
        r.dport = Some((80, 80));
        r.uidrange = Some((100, 200));
        r.realms = 3 << 16 | 4;
        r.protocol = None;
        r.ip_proto = Some(6);
        r.tunnel_id = 5;
        let m = r.message().unwrap();
        assert!(m
            .attributes
            .contains(&RuleAttribute::IpProtocol(IpProtocol::Tcp)));
        assert!(m.attributes.contains(&RuleAttribute::Other(DefaultNla::new(
            FRA_TUN_ID,
            vec![0, 0, 0, 0, 0, 0, 0, 5]
        ))));
        assert_eq!(m.header.table, 100);
        for a in [
            RuleAttribute::SourcePortRange(RulePortRange {
                start: 1000,
                end: 2000,
            }),
            RuleAttribute::DestinationPortRange(RulePortRange { start: 80, end: 80 }),
            RuleAttribute::UidRange(RuleUidRange {
                start: 100,
                end: 200,
            }),
            RuleAttribute::Realm(RouteRealm {
                source: 3,
                destination: 4,
            }),
        ] {
            assert!(m.attributes.contains(&a), "{a:?}");
        }
        // A table under 256 goes in the header only, as keepalived sends it.
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, RuleAttribute::Table(_) | RuleAttribute::Protocol(_))));
    }

    #[test]
    fn l3mdev_has_no_table() {
        let mut r = RuleSpec::new(false);
        r.l3mdev = true;
        r.priority = Some(101);
        let m = r.message().unwrap();
        assert_eq!(m.header.action, NlAction::ToTable);
        assert_eq!(m.header.table, 0);
        assert!(m.attributes.contains(&RuleAttribute::L3MDev(true)));
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, RuleAttribute::Table(_))));
    }

    #[test]
    fn goto_has_no_default_table() {
        let mut r = RuleSpec::new(true);
        r.action = RuleAction::Goto(500);
        let m = r.message().unwrap();
        assert!(m.attributes.contains(&RuleAttribute::Goto(500)));
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, RuleAttribute::Table(_))));
    }
}
