//! Keyword tables of `SSL`, `virtual_server_group`, `virtual_server` and `real_server`.
//! Messages keep keepalived 2.2.7's wording.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::tree::{Node, Token};

use super::checker;
use super::value::{bool_kw, timer_kw, CONNECT_TIMEOUT_MAX, TIMER_MAX, TIMER_MIN};
use super::{
    Config, Family, Forwarding, Granularity, Protocol, RealServer, Scheduler, SorryServer,
    SslConfig, TunnelCsum, TunnelType, VirtualServer, VsAddr, VsGroup, VsgEntry,
    DEFAULT_PERSISTENCE,
};
use crate::config::model::{apply_block, parse_int, parse_sockaddr_ip, Ctx, Kw};

// ---------------------------------------------------------------------------------- SSL

pub fn ssl_block(cfg: &mut Config, node: &Node, ctx: &mut Ctx) {
    if cfg.check.ssl.is_some() {
        ctx.error(node.span(), "SSL context already specified - replacing");
    }
    let mut ssl = SslConfig::default();
    apply_block(&mut ssl, node.children(), SSL_KW, ctx);
    cfg.check.ssl = Some(ssl);
}

pub(crate) static SSL_KW: &[Kw<SslConfig>] = &[
    Kw::new("password", |s, n, c| s.password = c.string(n)),
    Kw::new("ca", |s, n, c| s.ca = c.string(n)),
    Kw::new("certificate", |s, n, c| s.certificate = c.string(n)),
    Kw::new("key", |s, n, c| s.key = c.string(n)),
];

// ---------------------------------------------------------------- virtual_server_group

pub fn vsg_block(cfg: &mut Config, node: &Node, ctx: &mut Ctx) {
    let Some(name) = ctx.string(node) else {
        return;
    };
    let mut g = VsGroup {
        name: name.clone(),
        entries: Vec::new(),
        span: node.span(),
    };
    for line in node.children() {
        if let Some(e) = vsg_entry(line, &name, ctx) {
            g.entries.push(e);
        }
    }
    let close = node.span();
    if g.entries.is_empty() {
        ctx.error(
            close,
            format!("virtual server group {name} has no entries - removing"),
        );
        return;
    }
    let has4 = g
        .entries
        .iter()
        .any(|e| matches!(e, VsgEntry::Addrs { first, .. } if first.is_ipv4()));
    let has6 = g
        .entries
        .iter()
        .any(|e| matches!(e, VsgEntry::Addrs { first, .. } if first.is_ipv6()));
    let bare_fwmark = g
        .entries
        .iter()
        .any(|e| matches!(e, VsgEntry::Fwmark { family: None, .. }));
    if has4 && has6 && bare_fwmark {
        ctx.error(
            close,
            format!(
                "virtual server group {name} cannot have IPv4, IPv6 and fwmark without family - removing"
            ),
        );
        return;
    }
    if cfg.check.group(&name).is_some() {
        ctx.lint(
            node.span(),
            format!("virtual server group {name} defined twice; the first definition is used"),
        );
    }
    cfg.check.groups.push(g);
}

/// One group line: `IP[-RANGE|/LEN] [PORT]` or `fwmark N [inet|inet6]`.
fn vsg_entry(line: &Node, group: &str, ctx: &mut Ctx) -> Option<VsgEntry> {
    let word = &line.keyword;
    if word.text == "fwmark" {
        let t = ctx.need(line, 0)?;
        let Some(mark) = ctx.int_token(t, 0, i64::from(u32::MAX)) else {
            ctx.error(
                t.span,
                format!(
                    "({group}): fwmark '{}' must be in [0, 4294967295] - ignoring",
                    t.text
                ),
            );
            return None;
        };
        let family = match line.arg(1).map(|t| t.text.as_str()) {
            None => None,
            Some("inet") => Some(Family::Inet),
            Some("inet6") => Some(Family::Inet6),
            Some(other) => {
                ctx.error(
                    line.span(),
                    format!(
                        "({group}): fwmark '{}' family {other} unknown - ignoring",
                        t.text
                    ),
                );
                return None;
            }
        };
        return Some(VsgEntry::Fwmark {
            mark: mark as u32,
            family,
        });
    }
    let port = match line.arg(0) {
        None => 0,
        Some(t) => match port0_token(t, ctx) {
            Some(p) => p,
            None => {
                ctx.error(
                    t.span,
                    format!(
                        "Invalid virtual server group IP address {} /port/{} - skipping",
                        word.text, t.text
                    ),
                );
                return None;
            }
        },
    };
    let bad = |ctx: &mut Ctx| {
        ctx.error(
            word.span,
            format!(
                "Invalid virtual server group IP address {} /port/{} - skipping",
                word.text,
                line.arg(0).map(|t| t.text.as_str()).unwrap_or("0")
            ),
        );
    };
    let text = word.text.as_str();
    if let Some((addr, len)) = text.split_once('/') {
        let (Ok(ip), Some(len)) = (addr.parse::<IpAddr>(), parse_int(len)) else {
            bad(ctx);
            return None;
        };
        let max = if ip.is_ipv4() { 32 } else { 128 };
        if !(0..=max).contains(&len) {
            ctx.error(word.span, format!("Invalid netmask - {text} - skipping"));
            return None;
        }
        // the address must be the network address of the prefix (observed)
        if prefix_first(ip, len as u32) != ip {
            ctx.error(
                word.span,
                format!("Address mask bits not empty - {text} - skipping"),
            );
            return None;
        }
        let last = prefix_last(ip, len as u32);
        return Some(VsgEntry::Addrs {
            first: ip,
            last,
            port,
        });
    }
    if let Some((addr, end)) = text.split_once('-') {
        let Ok(first) = addr.parse::<IpAddr>() else {
            bad(ctx);
            return None;
        };
        let last = match range_end(first, end) {
            Some(l) => l,
            None => {
                bad(ctx);
                return None;
            }
        };
        let short = !end.contains(['.', ':']);
        if short && last <= first {
            ctx.error(
                word.span,
                format!(
                    "Address range end is not greater than address range start - {text} - skipping"
                ),
            );
            return None;
        }
        if last < first {
            ctx.error(
                word.span,
                format!("Address range end is less than address range start - {text} - skipping"),
            );
            return None;
        }
        return Some(VsgEntry::Addrs { first, last, port });
    }
    match text.parse::<IpAddr>() {
        Ok(ip) => Some(VsgEntry::Addrs {
            first: ip,
            last: ip,
            port,
        }),
        Err(_) => {
            bad(ctx);
            None
        }
    }
}

/// The end of `a.b.c.d-e` / `a.b.c.d-a.b.c.e` / `x::y-z` (hex last group for IPv6).
fn range_end(first: IpAddr, end: &str) -> Option<IpAddr> {
    if let Ok(full) = end.parse::<IpAddr>() {
        return (full.is_ipv4() == first.is_ipv4()).then_some(full);
    }
    match first {
        IpAddr::V4(a) => {
            let v = parse_int(end)?;
            let o = a.octets();
            let v = u8::try_from(v).ok()?;
            Some(IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], v)))
        }
        IpAddr::V6(a) => {
            let v = u16::from_str_radix(end, 16).ok()?;
            let mut s = a.segments();
            s[7] = v;
            Some(IpAddr::V6(Ipv6Addr::from(s)))
        }
    }
}

/// The network address of `ip/len`.
fn prefix_first(ip: IpAddr, len: u32) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let host = u32::MAX.checked_shr(len).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & !host))
        }
        IpAddr::V6(a) => {
            let host = u128::MAX.checked_shr(len).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & !host))
        }
    }
}

/// The last address of the prefix `ip/len`.
fn prefix_last(ip: IpAddr, len: u32) -> IpAddr {
    match ip {
        IpAddr::V4(a) => {
            let host = u32::MAX.checked_shr(len).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) | host))
        }
        IpAddr::V6(a) => {
            let host = u128::MAX.checked_shr(len).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) | host))
        }
    }
}

/// A port 1..65535, reported as keepalived's number reader does.
fn port_token(t: &Token, ctx: &mut Ctx) -> Option<u16> {
    ctx.int_token(t, 1, 65535).map(|p| p as u16)
}

// ---------------------------------------------------------------------- virtual_server

fn vs_header(node: &Node, ctx: &mut Ctx) -> Option<VirtualServer> {
    let first = ctx.need(node, 0)?;
    let addr = match first.text.as_str() {
        "fwmark" => {
            let t = ctx.need(node, 1)?;
            match ctx.int_token(t, 0, i64::from(u32::MAX)) {
                // keepalived 2.2.7 turns fwmark 0 into a garbage address service
                Some(0) => {
                    ctx.error(t.span, "virtual server fwmark 0 is not usable - ignoring");
                    return None;
                }
                Some(m) => VsAddr::Fwmark(m as u32),
                None => {
                    ctx.error(
                        t.span,
                        format!(
                            "virtual server fwmark '{}' must be in [0, 4294967295] - ignoring",
                            t.text
                        ),
                    );
                    return None;
                }
            }
        }
        "group" => VsAddr::Group(ctx.need(node, 1)?.text.clone()),
        _ => {
            let port = match node.arg(1) {
                None => Some(0),
                Some(t) => port0_token(t, ctx),
            };
            match (parse_sockaddr_ip(&first.text).ok_or(()), port) {
                (Ok(ip), Some(port)) => VsAddr::Addr { ip, port },
                _ => {
                    ctx.error(
                        node.span(),
                        format!(
                            "Invalid virtual server IP address/port {}/{} - skipping",
                            first.text,
                            node.arg(1).map(|t| t.text.as_str()).unwrap_or("0")
                        ),
                    );
                    return None;
                }
            }
        }
    };
    Some(VirtualServer::new(addr, node.span()))
}

/// Port 0 or 1..65535 (0 means unset), reported as keepalived's number reader does.
fn port0_token(t: &Token, ctx: &mut Ctx) -> Option<u16> {
    if t.text == "0" {
        return Some(0);
    }
    port_token(t, ctx)
}

pub fn vs_block(cfg: &mut Config, node: &Node, ctx: &mut Ctx) {
    let Some(mut vs) = vs_header(node, ctx) else {
        return;
    };
    if let VsAddr::Addr { ip, .. } = &vs.addr {
        vs.family = Some(Family::of(ip));
    }
    // sized once (see model::build)
    vs.real_servers.reserve(
        node.children()
            .iter()
            .filter(|n| n.name() == "real_server")
            .count(),
    );
    apply_block(&mut vs, node.children(), VS_KW, ctx);
    cfg.check.virtual_servers.push(vs);
}

/// Parses `NAT|DR|TUN [type ipip|gue port N|gre] [nocsum|csum|remcsum]`; `what` names the
/// owner in the unknown-method message ("virtual server", "real server").
pub fn forwarding(node: &Node, ctx: &mut Ctx, what: &str) -> Option<Forwarding> {
    let m = ctx.need(node, 0)?;
    let base = match m.text.as_str() {
        "NAT" => Forwarding::Nat,
        "DR" => Forwarding::Dr,
        "TUN" => Forwarding::Tun {
            tunnel: TunnelType::Ipip,
            csum: None,
        },
        other => {
            ctx.error(
                m.span,
                format!("PARSER : unknown [{other}] routing method for {what}."),
            );
            return None;
        }
    };
    let mut tunnel = TunnelType::Ipip;
    let mut gue_port: Option<u16> = None;
    let mut csum = None;
    let mut i = 1;
    while let Some(t) = node.arg(i) {
        match t.text.as_str() {
            "type" => {
                i += 1;
                let ty = ctx.need(node, i)?;
                tunnel = match ty.text.as_str() {
                    "ipip" => TunnelType::Ipip,
                    "gue" => TunnelType::Gue { port: 0 },
                    "gre" => TunnelType::Gre,
                    other => {
                        ctx.error(ty.span, format!("Unknown tunnel type {other} - ignoring"));
                        return None;
                    }
                };
            }
            "port" => {
                i += 1;
                let p = ctx.need(node, i)?;
                match ctx.int_token(p, 1, 65535) {
                    Some(v) => gue_port = Some(v as u16),
                    None => {
                        ctx.error(
                            p.span,
                            format!("Invalid gue tunnel port {} for {what}.", p.text),
                        );
                        return None;
                    }
                }
            }
            "nocsum" => csum = Some(TunnelCsum::NoCsum),
            "csum" => csum = Some(TunnelCsum::Csum),
            "remcsum" => csum = Some(TunnelCsum::RemCsum),
            other => {
                ctx.error(t.span, format!("Unknown tunnel option {other} - ignoring"));
                return None;
            }
        }
        i += 1;
    }
    if matches!(tunnel, TunnelType::Gue { .. }) != gue_port.is_some() {
        ctx.error(
            node.span(),
            "gue tunnels require port, otherwise cannot have port.",
        );
        return None;
    }
    if let Some(p) = gue_port {
        tunnel = TunnelType::Gue { port: p };
    }
    if csum.is_some() && matches!(tunnel, TunnelType::Ipip) {
        ctx.error(node.span(), "ipip tunnels do not support checksum option.");
        return None;
    }
    match base {
        Forwarding::Tun { .. } => Some(Forwarding::Tun { tunnel, csum }),
        other => Some(other),
    }
}

fn u32_kw(node: &Node, ctx: &mut Ctx, min: i64) -> Option<u32> {
    let t = ctx.need(node, 0)?;
    if t.text.starts_with('-') {
        ctx.error(t.span, format!("negative number '{}'", t.text));
        return None;
    }
    ctx.int_token(t, min, i64::from(u32::MAX)).map(|v| v as u32)
}

fn sched_flag(vs: &mut VirtualServer, node: &Node, ctx: &mut Ctx) {
    let name = node.name();
    // sh-*, mh-* and hashed need the sh or mh scheduler; keepalived's message names only sh
    let needs_hash = matches!(
        name,
        "sh-port" | "sh-fallback" | "mh-port" | "mh-fallback" | "hashed"
    );
    if needs_hash && !matches!(vs.scheduler, Some(Scheduler::Sh | Scheduler::Mh)) {
        ctx.error(
            node.span(),
            format!("{name} only applies to sh scheduler - ignoring"),
        );
        return;
    }
    let f = &mut vs.flags;
    match name {
        "ops" => f.one_packet = true,
        "flag-1" | "sh-fallback" | "mh-fallback" => f.sched1 = true,
        "flag-2" | "sh-port" | "mh-port" => f.sched2 = true,
        "flag-3" => f.sched3 = true,
        _ => f.hashed = true,
    }
}

fn lb_algo(vs: &mut VirtualServer, node: &Node, ctx: &mut Ctx) {
    let Some(t) = ctx.need(node, 0) else {
        return;
    };
    match Scheduler::parse(&t.text) {
        Some(s) => vs.scheduler = Some(s),
        None => ctx.error(
            t.span,
            format!("Invalid lvs_scheduler '{}' - ignoring", t.text),
        ),
    }
}

fn lb_kind(vs: &mut VirtualServer, node: &Node, ctx: &mut Ctx) {
    if let Some(m) = forwarding(node, ctx, "virtual server") {
        vs.method = Some(m);
    }
}

fn protocol(vs: &mut VirtualServer, node: &Node, ctx: &mut Ctx) {
    let Some(t) = ctx.need(node, 0) else {
        return;
    };
    match t.text.to_ascii_uppercase().as_str() {
        "TCP" => vs.protocol = Some(Protocol::Tcp),
        "UDP" => vs.protocol = Some(Protocol::Udp),
        "SCTP" => vs.protocol = Some(Protocol::Sctp),
        _ => ctx.error(t.span, format!("Unknown protocol {} - ignoring", t.text)),
    }
}

fn persistence_timeout(vs: &mut VirtualServer, node: &Node, ctx: &mut Ctx) {
    // bare keyword = 360 s; otherwise 1 s.. 31 days
    let Some(t) = node.arg(0) else {
        vs.persistence_timeout = DEFAULT_PERSISTENCE;
        return;
    };
    match ctx.int_token(t, 1, 2_678_400) {
        Some(v) => vs.persistence_timeout = v as u32,
        None => ctx.error(t.span, "persistence_timeout invalid"),
    }
}

fn persistence_granularity(vs: &mut VirtualServer, node: &Node, ctx: &mut Ctx) {
    let Some(t) = ctx.need(node, 0) else {
        return;
    };
    let v6 = match vs.family {
        Some(f) => f == Family::Inet6,
        None => !t.text.contains('.'),
    };
    let g = if v6 {
        match ctx.int_token(t, 1, 128) {
            Some(p) => Some(Granularity::Prefix(p as u8)),
            None => {
                ctx.error(
                    t.span,
                    format!(
                        "Invalid IPv6 persistence_granularity specified - {}",
                        t.text
                    ),
                );
                None
            }
        }
    } else {
        // inet_aton() also takes a bare number as a whole address (`64` = 0.0.0.64)
        let parsed = t
            .text
            .parse::<Ipv4Addr>()
            .ok()
            .or_else(|| t.text.parse::<u32>().ok().map(Ipv4Addr::from));
        match parsed {
            Some(m) => {
                if u32::from(m).leading_ones() + u32::from(m).trailing_zeros() != 32 {
                    ctx.lint(
                        t.span,
                        format!(
                            "IPv4 persistence_granularity netmask is not solid - {}",
                            t.text
                        ),
                    );
                }
                Some(Granularity::Netmask(m))
            }
            None => {
                ctx.error(
                    t.span,
                    format!(
                        "Invalid IPv4 persistence_granularity specified - {}",
                        t.text
                    ),
                );
                None
            }
        }
    };
    if let Some(g) = g {
        vs.persistence_granularity = Some(g);
        // an unset family is taken from the granularity's form (observed)
        vs.family
            .get_or_insert(if v6 { Family::Inet6 } else { Family::Inet });
        // implies persistence
        if vs.persistence_timeout == 0 {
            vs.persistence_timeout = DEFAULT_PERSISTENCE;
        }
    }
}

fn quorum(vs: &mut VirtualServer, node: &Node, ctx: &mut Ctx) {
    let Some(t) = ctx.need(node, 0) else {
        return;
    };
    match ctx.int_token(t, 1, i64::from(u32::MAX)) {
        Some(v) => vs.quorum = v as u32,
        None => {
            ctx.error(
                t.span,
                format!(
                    "Quorum {} must be in [1, 4294967295]. Setting to 1.",
                    t.text
                ),
            );
            vs.quorum = 1;
        }
    }
}

fn hysteresis(vs: &mut VirtualServer, node: &Node, ctx: &mut Ctx) {
    let Some(t) = ctx.need(node, 0) else {
        return;
    };
    let v = if t.text.starts_with('-') {
        ctx.error(t.span, format!("negative number '{}'", t.text));
        None
    } else {
        ctx.int_token(t, 0, i64::from(u32::MAX))
    };
    match v {
        Some(v) => vs.hysteresis = v as u32,
        None => ctx.error(
            t.span,
            format!(
                "Hysteresis {} must be in [0, 4294967295] - ignoring",
                t.text
            ),
        ),
    }
}

fn sorry_server(vs: &mut VirtualServer, node: &Node, ctx: &mut Ctx) {
    let Some(t) = ctx.need(node, 0) else {
        return;
    };
    let port = match node.arg(1) {
        None => Some(0),
        Some(p) => port0_token(p, ctx),
    };
    let (Ok(ip), Some(port)) = (parse_sockaddr_ip(&t.text).ok_or(()), port) else {
        ctx.error(
            node.span(),
            format!("Invalid sorry server IP address {} - skipping", t.text),
        );
        return;
    };
    vs.sorry_server = Some(SorryServer {
        ip,
        port,
        inhibit: false,
        method: None,
        span: node.span(),
    });
}

fn ip_family(vs: &mut VirtualServer, node: &Node, ctx: &mut Ctx) {
    let Some(t) = ctx.need(node, 0) else {
        return;
    };
    let f = match t.text.as_str() {
        "inet" => Family::Inet,
        "inet6" => Family::Inet6,
        other => {
            ctx.error(t.span, format!("unknown address family {other}"));
            return;
        }
    };
    if vs.family.is_some_and(|cur| cur != f) {
        ctx.error(
            t.span,
            format!(
                "Virtual server specified family {} conflicts with server family",
                t.text
            ),
        );
        return;
    }
    vs.family = Some(f);
}

fn vs_weight(vs: &mut VirtualServer, node: &Node, ctx: &mut Ctx) {
    let Some(t) = ctx.need(node, 0) else {
        return;
    };
    match ctx.int_token(t, 1, i64::from(i32::MAX)) {
        Some(v) => vs.weight = v as u32,
        None => ctx.error(
            t.span,
            format!(
                "Virtual server weight {} is outside range 1-2147483647",
                t.text
            ),
        ),
    }
}

fn real_server(vs: &mut VirtualServer, node: &Node, ctx: &mut Ctx) {
    let Some(t) = ctx.need(node, 0) else {
        return;
    };
    let port = match node.arg(1) {
        None => Some(0),
        Some(p) => port0_token(p, ctx),
    };
    let (Ok(ip), Some(port)) = (parse_sockaddr_ip(&t.text).ok_or(()), port) else {
        ctx.error(
            node.span(),
            format!(
                "Invalid real server ip address/port {}/{} - skipping",
                t.text,
                node.arg(1).map(|p| p.text.as_str()).unwrap_or("0")
            ),
        );
        return;
    };
    let mut rs = RealServer::new(ip, port, node.span());
    apply_block(&mut rs, node.children(), RS_KW, ctx);
    // For tunnelled forwarding the families may differ.
    if !rs.method.is_some_and(|m| m.is_tunnel()) {
        let f = Family::of(&ip);
        match vs.family {
            None => vs.family = Some(f),
            Some(vf) if vf != f => {
                ctx.error(
                    node.span(),
                    format!(
                        "Address family of virtual server and real server {ip} don't match - skipping real server."
                    ),
                );
                return;
            }
            Some(_) => {}
        }
    }
    vs.real_servers.push(rs);
}

pub(crate) static VS_KW: &[Kw<VirtualServer>] = &[
    Kw::new("ip_family", ip_family),
    Kw::new("delay_loop", |vs, n, c| {
        if let Some(d) = timer_kw(
            n,
            c,
            TIMER_MIN,
            TIMER_MAX,
            Some("virtual server delay loop '{}' invalid - ignoring"),
        ) {
            vs.delay_loop = d;
        }
    }),
    Kw::new("delay_before_retry", |vs, n, c| {
        if let Some(d) = timer_kw(n, c, 0.0, TIMER_MAX, None) {
            vs.delay_before_retry = Some(d);
        }
    }),
    Kw::new("retry", |vs, n, c| match u32_kw(n, c, 1) {
        Some(v) => vs.retry = Some(v),
        None => {
            if let Some(t) = n.arg(0) {
                c.error(t.span, format!("retry value invalid - {}", t.text));
            }
        }
    }),
    Kw::new("warmup", |vs, n, c| {
        if let Some(d) = timer_kw(n, c, 0.0, TIMER_MAX, None) {
            vs.warmup = Some(d);
        }
    }),
    Kw::new("connect_timeout", |vs, n, c| {
        if let Some(d) = timer_kw(
            n,
            c,
            TIMER_MIN,
            CONNECT_TIMEOUT_MAX,
            Some("virtual server connect_timeout {} invalid - ignoring"),
        ) {
            vs.connect_timeout = Some(d);
        }
    }),
    Kw::new("lb_algo", lb_algo),
    Kw::new("lvs_sched", lb_algo),
    Kw::new("lb_kind", lb_kind),
    Kw::new("lvs_method", lb_kind),
    Kw::new("persistence_timeout", persistence_timeout),
    Kw::new("persistence_granularity", persistence_granularity),
    Kw::new("persistence_engine", |vs, n, c| {
        vs.persistence_engine = c.string(n)
    }),
    Kw::new("protocol", protocol),
    Kw::new("ha_suspend", |vs, _, _| vs.ha_suspend = true),
    Kw::new("smtp_alert", |vs, n, c| {
        if let Some(b) = bool_kw(n, c, "Invalid virtual_server smtp_alert parameter") {
            vs.smtp_alert = Some(b);
        }
    }),
    Kw::new("virtualhost", |vs, n, c| vs.virtualhost = c.string(n)),
    Kw::new("ops", sched_flag),
    Kw::new("flag-1", sched_flag),
    Kw::new("flag-2", sched_flag),
    Kw::new("flag-3", sched_flag),
    Kw::new("sh-port", sched_flag),
    Kw::new("sh-fallback", sched_flag),
    Kw::new("mh-port", sched_flag),
    Kw::new("mh-fallback", sched_flag),
    Kw::unimplemented(
        "hashed",
        "keepalived 2.2.7 sets no IPVS flag for it either (it only checks the scheduler)",
        sched_flag,
    ),
    Kw::new("inhibit_on_failure", |vs, n, c| {
        if let Some(b) = bool_kw(n, c, "Invalid inhibit_on_failure parameter") {
            vs.inhibit_on_failure = b;
        }
    }),
    Kw::new("alpha", |vs, n, c| {
        if let Some(b) = bool_kw(n, c, "Invalid alpha parameter") {
            vs.alpha = b;
        }
    }),
    Kw::new("omega", |vs, n, c| {
        if let Some(b) = bool_kw(n, c, "Invalid omega parameter") {
            vs.omega = b;
        }
    }),
    Kw::new("quorum_up", |vs, n, c| vs.quorum_up = c.script(n)),
    Kw::new("quorum_down", |vs, n, c| vs.quorum_down = c.script(n)),
    Kw::new("quorum", quorum),
    Kw::new("hysteresis", hysteresis),
    Kw::new("weight", vs_weight),
    Kw::new("sorry_server", sorry_server),
    Kw::new("sorry_server_inhibit", |vs, n, c| {
        match &mut vs.sorry_server {
            Some(s) => s.inhibit = true,
            None => c.error(
                n.span(),
                "Ignoring sorry_server inhibit used before or without sorry_server",
            ),
        }
    }),
    Kw::new("sorry_server_lvs_method", |vs, n, c| {
        if vs.sorry_server.is_none() {
            c.error(
                n.span(),
                "sorry_server forwarding used without sorry_server",
            );
            return;
        }
        let m = forwarding(n, c, "sorry server");
        if let (Some(s), Some(m)) = (&mut vs.sorry_server, m) {
            s.method = Some(m);
        }
    }),
    Kw::unimplemented("snmp_name", "SNMP is not built yet", |vs, n, c| {
        vs.snmp_name = c.string(n)
    }),
    Kw::new("real_server", real_server),
];

// ------------------------------------------------------------------------- real_server

fn rs_weight(rs: &mut RealServer, node: &Node, ctx: &mut Ctx) {
    let Some(t) = ctx.need(node, 0) else {
        return;
    };
    let v = if t.text.starts_with('-') {
        ctx.error(t.span, format!("negative number '{}'", t.text));
        None
    } else {
        ctx.int_token(t, 0, i64::from(i32::MAX))
    };
    match v {
        Some(v) => rs.weight = Some(v as u32),
        None => ctx.error(
            t.span,
            format!(
                "Real server weight {} is outside range 0-2147483647",
                t.text
            ),
        ),
    }
}

fn threshold(node: &Node, ctx: &mut Ctx) -> Option<u32> {
    let t = ctx.need(node, 0)?;
    let v = ctx.int_token(t, 0, i64::from(u32::MAX));
    if v.is_none() {
        ctx.error(
            t.span,
            format!(
                "Invalid real_server {} '{}' - ignoring",
                node.name(),
                t.text
            ),
        );
    }
    v.map(|v| v as u32)
}

pub(crate) static RS_KW: &[Kw<RealServer>] = &[
    Kw::new("weight", rs_weight),
    Kw::new("lvs_method", |rs, n, c| {
        if let Some(m) = forwarding(n, c, "real server") {
            rs.method = Some(m);
        }
    }),
    Kw::new("uthreshold", |rs, n, c| {
        if let Some(v) = threshold(n, c) {
            rs.uthreshold = v;
        }
    }),
    Kw::new("lthreshold", |rs, n, c| {
        if let Some(v) = threshold(n, c) {
            rs.lthreshold = v;
        }
    }),
    Kw::new("inhibit_on_failure", |rs, n, c| {
        if let Some(b) = bool_kw(n, c, "Invalid inhibit_on_failure parameter") {
            rs.inhibit_on_failure = Some(b);
        }
    }),
    Kw::new("notify_up", |rs, n, c| {
        if rs.notify_up.is_some() {
            c.error(n.span(), "notify_up script already specified - ignoring");
            return;
        }
        rs.notify_up = c.script(n);
    }),
    Kw::new("notify_down", |rs, n, c| {
        if rs.notify_down.is_some() {
            c.error(n.span(), "notify_down script already specified - ignoring");
            return;
        }
        rs.notify_down = c.script(n);
    }),
    Kw::new("alpha", |rs, n, c| {
        if let Some(b) = bool_kw(n, c, "Invalid alpha parameter") {
            rs.alpha = Some(b);
        }
    }),
    Kw::new("retry", |rs, n, c| match u32_kw(n, c, 1) {
        Some(v) => rs.retry = Some(v),
        None => {
            if let Some(t) = n.arg(0) {
                c.error(t.span, format!("retry value invalid - {}", t.text));
            }
        }
    }),
    Kw::new("delay_before_retry", |rs, n, c| {
        if let Some(d) = timer_kw(n, c, 0.0, TIMER_MAX, None) {
            rs.delay_before_retry = Some(d);
        }
    }),
    Kw::new("warmup", |rs, n, c| {
        if let Some(d) = timer_kw(n, c, 0.0, TIMER_MAX, None) {
            rs.warmup = Some(d);
        }
    }),
    Kw::new("connect_timeout", |rs, n, c| {
        if let Some(d) = timer_kw(
            n,
            c,
            TIMER_MIN,
            CONNECT_TIMEOUT_MAX,
            Some("real server connect_timeout {} invalid - ignoring"),
        ) {
            rs.connect_timeout = Some(d);
        }
    }),
    Kw::new("delay_loop", |rs, n, c| {
        if let Some(d) = timer_kw(
            n,
            c,
            TIMER_MIN,
            TIMER_MAX,
            Some("real server delay_loop '{}' invalid - ignoring"),
        ) {
            rs.delay_loop = Some(d);
        }
    }),
    Kw::new("smtp_alert", |rs, n, c| {
        if let Some(b) = bool_kw(n, c, "Invalid real_server smtp_alert parameter") {
            rs.smtp_alert = Some(b);
        }
    }),
    Kw::new("virtualhost", |rs, n, c| rs.virtualhost = c.string(n)),
    Kw::unimplemented("snmp_name", "SNMP is not built yet", |rs, n, c| {
        rs.snmp_name = c.string(n)
    }),
    Kw::new("TCP_CHECK", checker::tcp_check),
    Kw::new("HTTP_GET", checker::http_get),
    Kw::new("SSL_GET", checker::ssl_get),
    Kw::new("MISC_CHECK", checker::misc_check),
    Kw::new("SMTP_CHECK", checker::smtp_check),
    Kw::new("DNS_CHECK", checker::dns_check),
    Kw::new("UDP_CHECK", checker::udp_check),
    Kw::new("PING_CHECK", checker::ping_check),
    Kw::new("FILE_CHECK", checker::file_check),
    Kw::new("BFD_CHECK", checker::bfd_check),
];

// Used by the checker module for its own "invalid boolean" wording.
