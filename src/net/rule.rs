//! Policy routing rules: RTM_NEWRULE / RTM_DELRULE / RTM_GETRULE (spec §5.10, virtual_rules).

use std::net::IpAddr;

use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use rtnetlink::packet_route::route::RouteProtocol;
use rtnetlink::packet_route::rule::{
    RuleAction as NlAction, RuleAttribute, RuleFlags, RuleMessage,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{NetError, Netlink, Tolerate};

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
    pub l3mdev: bool,
    /// FRA_PROTOCOL (default `RTPROT_KEEPALIVED`, as keepalived 2.2.7 does).
    pub protocol: Option<u8>,
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
        // iproute2 defaults an action-less add to the main table.
        let table = match (self.table, self.action) {
            (Some(t), _) => Some(t),
            (None, RuleAction::ToTable) => Some(super::route::RT_TABLE_MAIN),
            (None, _) => None,
        };
        if let Some(t) = table {
            m.header.table = u8::try_from(t).unwrap_or(0);
            a.push(RuleAttribute::Table(t));
        }
        if let RuleAction::Goto(target) = self.action {
            a.push(RuleAttribute::Goto(target));
        }
        if let Some(f) = self.fwmark {
            a.push(RuleAttribute::FwMark(f));
        }
        if let Some(f) = self.fwmask {
            a.push(RuleAttribute::FwMask(f));
        }
        if let Some(i) = &self.iif {
            a.push(RuleAttribute::Iifname(i.clone()));
        }
        if let Some(o) = &self.oif {
            a.push(RuleAttribute::Oifname(o.clone()));
        }
        if let Some(s) = self.suppress_prefixlen {
            a.push(RuleAttribute::SuppressPrefixLen(s));
        }
        if let Some(s) = self.suppress_ifgroup {
            a.push(RuleAttribute::SuppressIfGroup(s));
        }
        if self.l3mdev {
            a.push(RuleAttribute::L3MDev(true));
        }
        if let Some(p) = self.protocol {
            a.push(RuleAttribute::Protocol(RouteProtocol::from(p)));
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
