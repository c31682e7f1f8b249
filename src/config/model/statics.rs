//! Root-level blocks of the VRRP child that are not instances: `static_ipaddress`, `static_routes`, `static_rules`, `track_group`,
//! `linkbeat_interfaces`, `interface_up_down_delays` and `garp_group`.
//!
//! Interface existence is not checked here (the model is pure); the VRRP child checks it
//! against the live interface list, as keepalived does.
#![forbid(unsafe_code)]

use std::time::Duration;

use super::addr::{self, AddrContext, AddressSpec, RouteSpec, RuleSpec};
use super::{apply_block, Config, Ctx, Kw};
use crate::config::diagnostic::Span;
use crate::config::tree::Node;

/// `track_group NAME { group { VI_1 VI_2 } }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TrackGroup {
    pub name: String,
    pub instances: Vec<String>,
    pub span: Span,
}

/// How link state is read for a `linkbeat_interfaces` entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub enum LinkbeatMethod {
    /// MII ioctl then ethtool then `SIOCGIFFLAGS`, whichever works (keepalived's default).
    #[default]
    Auto,
    Mii,
    Ethtool,
    Ioctl,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LinkbeatInterface {
    pub interface: String,
    pub method: LinkbeatMethod,
}

/// `IFNAME down_delay [up_delay]` (an omitted up delay is 0 in 2.2.7).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpDownDelay {
    pub interface: String,
    pub down: Duration,
    pub up: Duration,
}

/// `garp_group { garp_interval T gna_interval T interface IF | interfaces { ... } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GarpGroup {
    pub garp_interval: Option<Duration>,
    pub gna_interval: Option<Duration>,
    pub interfaces: Vec<String>,
}

/// Everything this module parses.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct StaticConfig {
    pub addresses: Vec<AddressSpec>,
    pub routes: Vec<RouteSpec>,
    pub rules: Vec<RuleSpec>,
    pub track_groups: Vec<TrackGroup>,
    pub linkbeat_interfaces: Vec<LinkbeatInterface>,
    pub up_down_delays: Vec<UpDownDelay>,
    pub garp_groups: Vec<GarpGroup>,
    /// How many static rules got a preference assigned by us (keepalived counts down
    /// from 16384 over all rules; `virtual_rules` continue from here).
    pub auto_rule_preferences: u32,
}

impl StaticConfig {
    pub fn track_group(&self, name: &str) -> Option<&TrackGroup> {
        self.track_groups.iter().find(|t| t.name == name)
    }
}

pub(crate) fn static_ipaddress(s: &mut StaticConfig, n: &Node, ctx: &mut Ctx) {
    for line in n.children() {
        if let Some(a) = addr::address_line(line, ctx, AddrContext::Static) {
            s.addresses.push(a);
        }
    }
}

pub(crate) fn static_routes(s: &mut StaticConfig, n: &Node, ctx: &mut Ctx) {
    for line in n.children() {
        if let Some(r) = addr::route_line(line, ctx) {
            s.routes.push(r);
        }
    }
}

pub(crate) fn static_rules(s: &mut StaticConfig, n: &Node, ctx: &mut Ctx) {
    for line in n.children() {
        if let Some(r) = addr::rule_line(line, ctx) {
            s.rules.push(r);
        }
    }
}

pub(crate) static TRACK_GROUP: &[Kw<TrackGroup>] = &[Kw::new("group", |t, n, _| {
    t.instances.extend(n.block_words().map(|w| w.text.clone()));
})];

pub(crate) fn track_group(s: &mut StaticConfig, n: &Node, ctx: &mut Ctx) {
    let Some(name) = n.arg(0) else {
        ctx.error(n.span(), "track_group must have a name - skipping");
        return;
    };
    if s.track_group(&name.text).is_some() {
        ctx.error(
            name.span,
            format!("track_group {} already defined", name.text),
        );
        return;
    }
    let mut tg = TrackGroup {
        name: name.text.clone(),
        instances: Vec::new(),
        span: n.span(),
    };
    apply_block(&mut tg, n.children(), TRACK_GROUP, ctx);
    s.track_groups.push(tg);
}

pub(crate) fn linkbeat_interfaces(s: &mut StaticConfig, n: &Node, ctx: &mut Ctx) {
    for line in n.children() {
        let method = match (line.args.len(), line.arg(0)) {
            (0, _) | (_, None) => Some(LinkbeatMethod::Auto),
            (1, Some(t)) => match t.text.as_str() {
                "MII" => Some(LinkbeatMethod::Mii),
                "ETHTOOL" => Some(LinkbeatMethod::Ethtool),
                "IOCTL" => Some(LinkbeatMethod::Ioctl),
                _ => None,
            },
            _ => None,
        };
        match method {
            Some(method) => s.linkbeat_interfaces.push(LinkbeatInterface {
                interface: line.name().to_string(),
                method,
            }),
            None => {
                let word = line.arg(0).map(|t| t.text.as_str()).unwrap_or("");
                ctx.error(
                    line.span(),
                    format!("extra characters {word} in linkbeat interface"),
                );
            }
        }
    }
}

pub(crate) fn interface_up_down_delays(s: &mut StaticConfig, n: &Node, ctx: &mut Ctx) {
    for line in n.children() {
        // keepalived silently ignores a line without a delay.
        let Some(down) = line.arg(0) else { continue };
        let Some(down) = ctx.timer_token(down, 0.0, 255.0) else {
            continue;
        };
        let up = match line.arg(1) {
            Some(t) => match ctx.timer_token(t, 0.0, 255.0) {
                Some(d) => d,
                None => continue,
            },
            None => Duration::ZERO,
        };
        s.up_down_delays.push(UpDownDelay {
            interface: line.name().to_string(),
            down,
            up,
        });
    }
}

struct GarpCtx<'a> {
    group: GarpGroup,
    /// Interfaces already in another group.
    taken: &'a [String],
}

fn garp_interval(node: &Node, ctx: &mut Ctx) -> Option<Duration> {
    let t = ctx.need(node, 0)?;
    let d = ctx.timer_token(t, 0.0, f64::from(u32::MAX / 1_000_000))?;
    if d >= Duration::from_secs(1) {
        ctx.lint(
            t.span,
            format!("The {} is very large - {} seconds", node.name(), t.text),
        );
    }
    Some(d)
}

fn garp_add_if(g: &mut GarpCtx<'_>, t: &crate::config::tree::Token, ctx: &mut Ctx) {
    if g.taken.contains(&t.text) || g.group.interfaces.contains(&t.text) {
        ctx.error(
            t.span,
            format!("garp_group already specified for {} - ignoring", t.text),
        );
    } else {
        g.group.interfaces.push(t.text.clone());
    }
}

pub(crate) fn garp_group(s: &mut StaticConfig, n: &Node, ctx: &mut Ctx) {
    let taken: Vec<String> = s
        .garp_groups
        .iter()
        .flat_map(|g| g.interfaces.iter().cloned())
        .collect();
    let mut g = GarpCtx {
        group: GarpGroup::default(),
        taken: &taken,
    };
    // Matched here rather than through a `Kw` table: the handlers need `taken`.
    for child in n.children() {
        match child.name() {
            "garp_interval" => g.group.garp_interval = garp_interval(child, ctx),
            "gna_interval" => g.group.gna_interval = garp_interval(child, ctx),
            "interface" => {
                if let Some(t) = ctx.need(child, 0) {
                    garp_add_if(&mut g, t, ctx);
                }
            }
            "interfaces" => {
                for t in child.block_words() {
                    garp_add_if(&mut g, t, ctx);
                }
            }
            _ => ctx.unknown_keyword(
                child,
                ["garp_interval", "gna_interval", "interface", "interfaces"],
            ),
        }
    }
    let g = g.group;
    if g.garp_interval.is_none() && g.gna_interval.is_none() {
        // keepalived 2.2.7 always prints group number 0 here.
        ctx.error(
            n.span(),
            "garp group 0 does not have any delay set - removing",
        );
        return;
    }
    s.garp_groups.push(g);
}

/// Cross-checks once every root block is read: `track_group` references.
pub(crate) fn finish(cfg: &mut Config, ctx: &mut Ctx) {
    let s = &mut cfg.statics;
    let known: Vec<String> = s.track_groups.iter().map(|t| t.name.clone()).collect();
    let mut check = |tg: &mut Option<String>, span: Span| {
        if let Some(name) = tg {
            if !known.contains(name) {
                ctx.error(span, format!("track_group {name} not found"));
                *tg = None;
            }
        }
    };
    for a in &mut s.addresses {
        check(&mut a.track_group, a.span);
    }
    for r in &mut s.routes {
        check(&mut r.track_group, r.span);
    }
    for r in &mut s.rules {
        check(&mut r.track_group, r.span);
    }
    let mut next = 16384;
    addr::assign_missing_preferences(s.rules.iter_mut(), &mut next, ctx);
    s.auto_rule_preferences = 16384 - next;
    static_track_interfaces(cfg);
}

/// Each instance of a static entry's `track_group` tracks that entry's interface (the
/// address's `dev`, the route's `dev`, the rule's `iif`), unless the entry is `no_track`
/// (keepalived's vrrp_static_track.c).
fn static_track_interfaces(cfg: &mut Config) {
    let s = &cfg.statics;
    let entries = s
        .addresses
        .iter()
        .map(|a| (&a.track_group, a.no_track, &a.dev))
        .chain(
            s.routes
                .iter()
                .map(|r| (&r.track_group, r.no_track, &r.dev)),
        )
        .chain(s.rules.iter().map(|r| (&r.track_group, r.no_track, &r.iif)));
    let mut pairs: Vec<(String, String)> = Vec::new();
    for (group, no_track, dev) in entries {
        let (Some(g), false, Some(dev)) = (group, no_track, dev) else {
            continue;
        };
        for inst in s
            .track_group(g)
            .map(|t| t.instances.as_slice())
            .unwrap_or(&[])
        {
            pairs.push((inst.clone(), dev.clone()));
        }
    }
    for i in &mut cfg.vrrp.instances {
        for (inst, dev) in &pairs {
            if *inst == i.name && !i.static_track_ifs.contains(dev) {
                i.static_track_ifs.push(dev.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostic::KaClass;
    use crate::config::model::testutil::{b, build, n};

    fn msgs(d: &crate::config::diagnostic::Diagnostics) -> Vec<String> {
        d.items.iter().map(|x| x.message.clone()).collect()
    }

    #[test]
    fn track_groups() {
        let (cfg, d) = build(&[
            b("track_group TG", vec![b("group", vec![n("VI_1 VI_2")])]),
            b("track_group TG", vec![]),
            b("track_group", vec![]),
            b(
                "static_ipaddress",
                vec![
                    n("192.0.2.9/24 dev veth0 track_group TG"),
                    n("192.0.2.10 dev veth0 track_group NOPE"),
                ],
            ),
        ]);
        assert_eq!(
            msgs(&d),
            [
                "track_group TG already defined",
                "track_group must have a name - skipping",
                "track_group NOPE not found"
            ]
        );
        assert_eq!(cfg.statics.track_groups[0].instances, ["VI_1", "VI_2"]);
        assert_eq!(cfg.statics.addresses[0].track_group.as_deref(), Some("TG"));
        assert_eq!(cfg.statics.addresses[1].track_group, None);
        let (_, d) = build(&[b("track_group X", vec![n("bogus")])]);
        assert_eq!(d.worst_class(), Some(KaClass::UnknownKeyword));
    }

    #[test]
    fn linkbeat_and_delays() {
        let (cfg, d) = build(&[
            b(
                "linkbeat_interfaces",
                vec![
                    n("veth0 MII"),
                    n("veth1"),
                    n("veth2 BOGUS"),
                    n("veth3 ETHTOOL x"),
                ],
            ),
            b(
                "interface_up_down_delays",
                vec![
                    n("veth0 5"),
                    n("veth1 2 3.5"),
                    n("veth2 300"),
                    n("veth3 x"),
                    n("veth4"),
                ],
            ),
        ]);
        assert_eq!(
            msgs(&d),
            [
                "extra characters BOGUS in linkbeat interface",
                "extra characters ETHTOOL in linkbeat interface",
                "number '300' outside range [0, 255]",
                "invalid number 'x'",
            ]
        );
        let s = cfg.statics;
        assert_eq!(s.linkbeat_interfaces.len(), 2);
        assert_eq!(s.linkbeat_interfaces[0].method, LinkbeatMethod::Mii);
        assert_eq!(s.linkbeat_interfaces[1].method, LinkbeatMethod::Auto);
        assert_eq!(
            s.up_down_delays,
            [
                UpDownDelay {
                    interface: "veth0".into(),
                    down: Duration::from_secs(5),
                    up: Duration::ZERO
                },
                UpDownDelay {
                    interface: "veth1".into(),
                    down: Duration::from_secs(2),
                    up: Duration::from_millis(3500)
                },
            ]
        );
    }

    #[test]
    fn garp_groups() {
        let (cfg, d) = build(&[
            b(
                "garp_group",
                vec![
                    n("garp_interval 2"),
                    n("gna_interval 0.5"),
                    n("interface veth0"),
                    b("interfaces", vec![n("veth1 veth2")]),
                    n("bogus"),
                ],
            ),
            b("garp_group", vec![n("interface veth0")]),
            b(
                "garp_group",
                vec![n("garp_interval 0.1"), n("interface veth0")],
            ),
        ]);
        let m = msgs(&d);
        assert!(m.contains(&"Unknown keyword 'bogus'".to_string()), "{m:?}");
        assert!(m.contains(&"garp_group already specified for veth0 - ignoring".to_string()));
        assert!(m.contains(&"garp group 0 does not have any delay set - removing".to_string()));
        let g = &cfg.statics.garp_groups;
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].interfaces, ["veth0", "veth1", "veth2"]);
        assert_eq!(g[0].gna_interval, Some(Duration::from_millis(500)));
        assert!(g[1].interfaces.is_empty());
    }

    #[test]
    fn static_blocks_collect_lines() {
        let (cfg, d) = build(&[
            b(
                "static_ipaddress",
                vec![n("192.0.2.1/24 dev veth0"), n("x.y")],
            ),
            b(
                "static_routes",
                vec![n("198.51.100.0/24 via 192.0.2.254 dev veth0")],
            ),
            b(
                "static_rules",
                vec![n("from 192.0.2.0/24 table 100 priority 10")],
            ),
        ]);
        assert_eq!(msgs(&d), ["VRRP parsed invalid IP x.y. skipping IP..."]);
        assert_eq!(cfg.statics.addresses.len(), 1);
        assert_eq!(cfg.statics.routes.len(), 1);
        assert_eq!(cfg.statics.rules.len(), 1);
    }
}
