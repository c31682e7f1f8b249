//! Address, route and rule lines, shared by
//! `virtual_ipaddress`, `virtual_ipaddress_excluded`, `static_ipaddress`, `virtual_routes`,
//! `static_routes`, `virtual_rules` and `static_rules`.
//!
//! Values are kept in the form netlink wants (numeric table, scope, protocol, realms,
//! metrics), so the netlink layer programs them without further parsing. Messages are
//! keepalived 2.2.7's, checked with `keepalived -t`. Interface names are not checked
//! here: keepalived checks them against the live interface list when the VRRP child
//! starts, and so does ours.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr};

use crate::config::diagnostic::Span;
use crate::config::tree::{Node, Token};

use super::Ctx;
use crate::config::env::HostEnv;

/// Where an address line is used: some options are allowed only in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrContext {
    /// `virtual_ipaddress` / `virtual_ipaddress_excluded` (allows `use_vmac`).
    Virtual,
    /// `static_ipaddress` (allows `track_group`).
    Static,
}

/// `RT_SCOPE_UNIVERSE`, the scope of `scope global`.
pub const SCOPE_GLOBAL: u8 = 0;
/// `RT_TABLE_MAIN`.
pub const TABLE_MAIN: u32 = 254;
/// `RTPROT_KEEPALIVED`: routes keepalived tracks carry this protocol.
pub const PROTO_KEEPALIVED: u8 = 18;
/// `INFINITY_LIFE_TIME`, what `preferred_lft forever` means to the kernel.
pub const LIFETIME_FOREVER: u32 = u32::MAX;

/// One address line: `ADDRESS[/PREFIX] [brd ..] [dev IF] [scope S] [label L] ...`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AddressSpec {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
    /// IPv4 broadcast (`brd IP`, or computed for `brd +` / `brd -`).
    pub broadcast: Option<Ipv4Addr>,
    pub dev: Option<String>,
    /// rtnetlink scope (`RT_SCOPE_*`); IPv4 only, default global (0).
    pub scope: u8,
    /// IPv4 only, at most 15 characters.
    pub label: Option<String>,
    pub peer: Option<IpAddr>,
    /// `home` (IFA_F_HOMEADDRESS, IPv6).
    pub home: bool,
    /// `-nodad`: IPv6 VIPs are added with NODAD unless this re-enables DAD.
    pub dad: bool,
    pub mngtmpaddr: bool,
    pub noprefixroute: bool,
    pub autojoin: bool,
    pub no_track: bool,
    /// Seconds; `forever` is [`LIFETIME_FOREVER`]; `None` = keepalived's default (0 for
    /// IPv6 /128 VIPs, else forever).
    pub preferred_lft: Option<u32>,
    /// VIP only: add on the instance's VMAC interface.
    pub use_vmac: bool,
    /// Static only.
    pub track_group: Option<String>,
    pub span: Span,
}

impl AddressSpec {
    /// An address with every option at keepalived's default.
    pub fn new(addr: IpAddr, prefix: u8) -> Self {
        AddressSpec {
            addr,
            prefix,
            broadcast: None,
            dev: None,
            scope: 0,
            label: None,
            peer: None,
            home: false,
            dad: false,
            mngtmpaddr: false,
            noprefixroute: false,
            autojoin: false,
            no_track: false,
            preferred_lft: None,
            use_vmac: false,
            track_group: None,
            span: Span::default(),
        }
    }
}

/// The kind of route (`RTN_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RouteType {
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

impl RouteType {
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "unicast" => RouteType::Unicast,
            "local" => RouteType::Local,
            "broadcast" => RouteType::Broadcast,
            "anycast" => RouteType::Anycast,
            "multicast" => RouteType::Multicast,
            "blackhole" => RouteType::Blackhole,
            "unreachable" => RouteType::Unreachable,
            "prohibit" => RouteType::Prohibit,
            "throw" => RouteType::Throw,
            "nat" => RouteType::Nat,
            "xresolve" => RouteType::Xresolve,
            _ => return None,
        })
    }

    /// The rtnetlink `RTN_*` value.
    pub fn rtn(self) -> u8 {
        match self {
            RouteType::Unicast => 1,
            RouteType::Local => 2,
            RouteType::Broadcast => 3,
            RouteType::Anycast => 4,
            RouteType::Multicast => 5,
            RouteType::Blackhole => 6,
            RouteType::Unreachable => 7,
            RouteType::Prohibit => 8,
            RouteType::Throw => 9,
            RouteType::Nat => 10,
            RouteType::Xresolve => 11,
        }
    }
}

/// An address with a prefix length (`0.0.0.0/0` for `default`/`any`/`all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Prefix {
    pub addr: IpAddr,
    pub len: u8,
}

/// The `RTAX_*` metrics of a route. `lock` is the RTAX_LOCK bit mask.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RouteMetrics {
    pub mtu: Option<u32>,
    pub advmss: Option<u32>,
    /// Kernel units (ms × 8 for a value with a unit, raw × 8 otherwise, as `ip` does).
    pub rtt: Option<u32>,
    pub rttvar: Option<u32>,
    pub reordering: Option<u32>,
    pub window: Option<u32>,
    pub cwnd: Option<u32>,
    pub ssthresh: Option<u32>,
    pub rto_min: Option<u32>,
    pub initcwnd: Option<u32>,
    pub initrwnd: Option<u32>,
    pub hoplimit: Option<u8>,
    pub features_ecn: bool,
    pub fastopen_no_cookie: Option<bool>,
    pub quickack: Option<bool>,
    /// Congestion control algorithm (`congctl [lock] NAME`).
    pub congctl: Option<String>,
    pub lock: u32,
}

/// One `nexthop via IP dev IF weight N [onlink] [realms A/B]` of a multipath route.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NextHop {
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    /// 1..256 as configured (the kernel stores weight − 1).
    pub weight: Option<u16>,
    pub onlink: bool,
    pub realms: Option<u32>,
}

/// One route line (`ip route add` syntax).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteSpec {
    pub ipv6: bool,
    pub rtype: RouteType,
    pub dst: Prefix,
    /// The destination as written (keepalived's messages use it).
    pub dst_text: String,
    /// `src IP` (preferred source).
    pub src: Option<IpAddr>,
    /// `from P/L` (IPv6 source routing).
    pub from: Option<Prefix>,
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    pub table: u32,
    pub metric: Option<u32>,
    pub scope: Option<u8>,
    /// `RTPROT_KEEPALIVED` for tracked routes (keepalived forces it).
    pub protocol: Option<u8>,
    pub tos: Option<u8>,
    pub metrics: RouteMetrics,
    /// `realms FROM/TO` as the kernel's RTA_FLOW (FROM << 16 | TO).
    pub realms: Option<u32>,
    pub onlink: bool,
    pub nexthops: Vec<NextHop>,
    pub vrf: Option<String>,
    /// `add`, `prepend` (the default) or `append`: the last one written wins.
    pub mode: RouteMode,
    /// IPv6 only: route lifetime in seconds.
    pub expires: Option<u32>,
    /// IPv6 only: router preference (`low` 3, `medium` 0, `high` 1, or a number).
    pub pref: Option<u8>,
    pub ttl_propagate: Option<bool>,
    pub no_track: bool,
    pub track_group: Option<String>,
    pub span: Span,
}

/// How a route is added next to others to the same destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub enum RouteMode {
    /// The kernel's default, keepalived's traditional behaviour.
    #[default]
    Prepend,
    /// Fails if a route with the same key exists (iproute2's default).
    Add,
    Append,
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RuleAction {
    Table(u32),
    Goto(u32),
    Nop,
    Blackhole,
    Unreachable,
    Prohibit,
    /// `l3mdev`: look up the table of the L3 master device.
    L3mdev,
}

/// One rule line (`ip rule add` syntax).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleSpec {
    pub ipv6: bool,
    pub invert: bool,
    pub from: Option<Prefix>,
    pub to: Option<Prefix>,
    pub action: Option<RuleAction>,
    /// `None` when not configured: keepalived then assigns one (see
    /// [`assign_missing_preferences`]).
    pub preference: Option<u32>,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub tos: Option<u8>,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    pub realms: Option<u32>,
    pub suppress_prefixlength: Option<u32>,
    pub suppress_ifgroup: Option<u32>,
    pub uidrange: Option<(u32, u32)>,
    pub protocol: Option<u8>,
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
    /// `ipproto NUMBER|NAME` (FRA_IP_PROTO).
    pub ip_proto: Option<u8>,
    /// `tunnel-id N` (FRA_TUN_ID).
    pub tunnel_id: Option<u64>,
    pub no_track: bool,
    pub track_group: Option<String>,
    pub span: Span,
}

/// The words of a line: the keyword (first word) and its arguments.
fn words(node: &Node) -> Vec<&Token> {
    std::iter::once(&node.keyword)
        .chain(node.args.iter())
        .collect()
}

/// Word `i` or the fatal missing-parameter report.
fn word<'a>(ctx: &mut Ctx, node: &Node, w: &[&'a Token], i: usize) -> Option<&'a Token> {
    let t = w.get(i).copied();
    if t.is_none() {
        ctx.missing_word(node, i);
    }
    t
}

/// `strtoul(s, .., 0)`: decimal, `0x` hex or `0` octal.
fn c_uint(s: &str) -> Option<u64> {
    super::parse_c_ulong(s)
}

/// `ADDR[/LEN]` as keepalived's `parse_ipaddress` reads it: errors are reported and the
/// address skipped; an out-of-range prefix falls back to the full length.
fn parse_ip_prefix(ctx: &mut Ctx, t: &Token) -> Option<(IpAddr, Option<u8>)> {
    let (a, p) = match t.text.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (t.text.as_str(), None),
    };
    let Ok(addr) = a.parse::<IpAddr>() else {
        ctx.error(
            t.span,
            format!("VRRP parsed invalid IP {}. skipping IP...", t.text),
        );
        return None;
    };
    let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        None => None,
        Some(p) => match super::parse_int(p) {
            Some(v) if (0..=i64::from(max)).contains(&v) => Some(v as u8),
            other => {
                if other.is_some() {
                    ctx.error(t.span, format!("number '{p}' outside range [0, {max}]"));
                } else {
                    ctx.error(t.span, format!("invalid number '{p}'"));
                }
                ctx.error(
                    t.span,
                    format!(
                        "Invalid address prefix len {p} for address {} - using {max}",
                        t.text
                    ),
                );
                Some(max)
            }
        },
    };
    Some((addr, prefix))
}

/// Parses an address line; `None` (after reporting why) when keepalived would ignore it.
pub fn address_line(node: &Node, ctx: &mut Ctx, context: AddrContext) -> Option<AddressSpec> {
    let w = words(node);
    let first = &node.keyword;
    let (addr, prefix) = parse_ip_prefix(ctx, first)?;
    let v4 = addr.is_ipv4();
    let mut a = AddressSpec {
        addr,
        prefix: prefix.unwrap_or(if v4 { 32 } else { 128 }),
        broadcast: None,
        dev: None,
        scope: SCOPE_GLOBAL,
        label: None,
        peer: None,
        home: false,
        dad: false,
        mngtmpaddr: false,
        noprefixroute: false,
        autojoin: false,
        no_track: false,
        preferred_lft: None,
        use_vmac: false,
        track_group: None,
        span: node.span(),
    };
    let name = &first.text;
    let mut i = 1;
    while let Some(opt) = w.get(i) {
        let val = w.get(i + 1).copied();
        let takes_value = matches!(
            opt.text.as_str(),
            "dev" | "scope" | "broadcast" | "brd" | "label" | "peer" | "preferred_lft"
        ) || (context == AddrContext::Static && opt.text == "track_group");
        if takes_value && val.is_none() {
            ctx.error(
                opt.span,
                format!("No {} parameter specified for {name}", opt.text),
            );
            break;
        }
        let v = val.map(|t| t.text.as_str()).unwrap_or("");
        match opt.text.as_str() {
            "dev" => {
                if a.dev.is_some() {
                    ctx.error(
                        opt.span,
                        format!("Cannot specify ipaddress device more than once for {name}"),
                    );
                } else {
                    a.dev = Some(v.to_string());
                }
            }
            "scope" => {
                if !v4 {
                    ctx.error(
                        opt.span,
                        format!(
                            "Cannot specify scope for IPv6 addresses ({name}) - ignoring scope"
                        ),
                    );
                } else {
                    match scope_value(ctx.host, v) {
                        Some(s) => a.scope = s,
                        None => ctx.error(
                            opt.span,
                            format!("Invalid scope '{v}' specified for {name} - ignoring"),
                        ),
                    }
                }
            }
            "broadcast" | "brd" => {
                let Some(brd) = broadcast(v, a.addr, a.prefix) else {
                    if v4 && (v == "+" || v == "-") {
                        ctx.error(
                            opt.span,
                            format!("Address prefix length {} too long for broadcast", a.prefix),
                        );
                        i += 2;
                        continue;
                    }
                    ctx.error(
                        opt.span,
                        format!("VRRP is trying to assign invalid broadcast {v}. skipping VIP..."),
                    );
                    return None;
                };
                a.broadcast = Some(brd);
            }
            "label" => {
                if v4 {
                    a.label = Some(v.to_string());
                } else {
                    ctx.error(
                        opt.span,
                        format!(
                            "Cannot specify label for IPv6 addresses ({name}) - ignoring label"
                        ),
                    );
                }
            }
            "peer" => match val.and_then(|t| parse_ip_prefix(ctx, t)) {
                Some((p, None)) if p.is_ipv4() == v4 => a.peer = Some(p),
                Some((_, None)) => ctx.error(
                    opt.span,
                    format!("Peer address {v} does not match address family"),
                ),
                Some((_, Some(_))) => {
                    ctx.error(
                        opt.span,
                        format!("VRRP parsed invalid IP {v}. skipping IP..."),
                    );
                    ctx.error(opt.span, format!("Invalid peer address {v}"));
                }
                None => ctx.error(opt.span, format!("Invalid peer address {v}")),
            },
            "preferred_lft" => {
                if v == "forever" {
                    a.preferred_lft = Some(LIFETIME_FOREVER);
                } else {
                    match val.and_then(|t| ctx.int_token(t, 0, i64::from(u32::MAX))) {
                        Some(n) => a.preferred_lft = Some(n as u32),
                        None => ctx.error(opt.span, format!("preferred_lft {v} is invalid")),
                    }
                }
            }
            "track_group" if context == AddrContext::Static => {
                if a.track_group.is_some() {
                    ctx.error(opt.span, format!("track_group {v} is a duplicate"));
                } else {
                    a.track_group = Some(v.to_string());
                }
            }
            _ => {
                match (opt.text.as_str(), context) {
                    ("home", _) => a.home = true,
                    ("-nodad", _) => a.dad = true,
                    ("mngtmpaddr", _) => a.mngtmpaddr = true,
                    ("noprefixroute", _) => a.noprefixroute = true,
                    ("autojoin", _) => a.autojoin = true,
                    ("no_track", _) => a.no_track = true,
                    ("use_vmac", AddrContext::Virtual) => a.use_vmac = true,
                    (other, _) => ctx.error(
                        opt.span,
                        format!("Unknown configuration entry '{other}' for ip address - ignoring"),
                    ),
                }
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    if let Some(l) = &a.label {
        // IFNAMSIZ - 1
        if l.len() > 15 {
            ctx.error(
                node.span(),
                format!("Address label {l} is longer than maximum length 15 - removing address"),
            );
            return None;
        }
    }
    Some(a)
}

/// `brd IP|+|-` for an IPv4 address; `None` when invalid or the prefix is too long.
fn broadcast(v: &str, addr: IpAddr, prefix: u8) -> Option<Ipv4Addr> {
    let IpAddr::V4(a) = addr else { return None };
    let host_mask = u32::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
    match v {
        "+" | "-" if prefix > 30 => None,
        "+" => Some(Ipv4Addr::from(u32::from(a) | host_mask)),
        "-" => Some(Ipv4Addr::from(u32::from(a) & !host_mask)),
        _ => v.parse().ok(),
    }
}

/// A number (any C base) up to `max`, or a name from the built-ins or iproute2's file.
fn table_value(
    host: &dyn HostEnv,
    v: &str,
    builtins: &[(&str, u32)],
    file: &str,
    max: u32,
) -> Option<u32> {
    if let Some(n) = c_uint(v) {
        return u32::try_from(n).ok().filter(|n| *n <= max);
    }
    builtins
        .iter()
        .find(|(n, _)| *n == v)
        .map(|(_, x)| *x)
        .or_else(|| host.iproute2_id(file, v))
        .filter(|n| *n <= max)
}

/// Route table `ID|NAME`.
pub fn route_table(host: &dyn HostEnv, v: &str) -> Option<u32> {
    table_value(
        host,
        v,
        &[
            ("unspec", 0),
            ("default", 253),
            ("main", 254),
            ("local", 255),
        ],
        "rt_tables",
        u32::MAX,
    )
}

/// `scope global|site|link|host|nowhere|NUMBER`.
pub fn scope_value(host: &dyn HostEnv, v: &str) -> Option<u8> {
    table_value(
        host,
        v,
        &[
            ("global", 0),
            ("universe", 0),
            ("site", 200),
            ("link", 253),
            ("host", 254),
            ("nowhere", 255),
        ],
        "rt_scopes",
        255,
    )
    .map(|s| s as u8)
}

/// Route protocol `NUMBER|NAME`.
pub fn protocol_value(host: &dyn HostEnv, v: &str) -> Option<u8> {
    table_value(
        host,
        v,
        &[
            ("unspec", 0),
            ("redirect", 1),
            ("kernel", 2),
            ("boot", 3),
            ("static", 4),
            ("gated", 8),
            ("ra", 9),
            ("mrt", 10),
            ("zebra", 11),
            ("bird", 12),
            ("dnrouted", 13),
            ("xorp", 14),
            ("ntk", 15),
            ("dhcp", 16),
            ("keepalived", 18),
            ("babel", 42),
            ("bgp", 186),
            ("isis", 187),
            ("ospf", 188),
            ("rip", 189),
            ("eigrp", 192),
        ],
        "rt_protos",
        255,
    )
    .map(|s| s as u8)
}

/// `tos`/`dsfield` value.
fn dsfield_value(host: &dyn HostEnv, v: &str) -> Option<u8> {
    table_value(host, v, &[], "rt_dsfield", 255).map(|s| s as u8)
}

/// `realms [FROM/]TO` → FROM << 16 | TO.
fn realms_value(host: &dyn HostEnv, v: &str) -> Option<u32> {
    let realm = |s: &str| table_value(host, s, &[("unknown", 0)], "rt_realms", 0xffff);
    match v.split_once('/') {
        Some((f, t)) => Some(realm(f)? << 16 | realm(t)?),
        None => realm(v),
    }
}

/// The kernel keeps TCP RTO between 0.2 s and 120 s (keepalived's RTT_MIN_MS/RTT_MAX_MS).
const RTT_MIN_MS: u64 = 200;
const RTT_MAX_MS: u64 = 120_000;

/// `rtt`/`rttvar`/`rto_min` as keepalived 2.2.7's `get_time_rtt` reads them: a bare number
/// is in kernel units (1/`mult` ms) as is; with `s|sec|secs` or `ms|msec|msecs` (any case,
/// decimals allowed up to the millisecond) it is converted by `mult`. The result is clamped
/// to 0.2 s..120 s, with keepalived's log line. `None` when keepalived rejects it.
fn time_rtt(v: &str, mult: u64) -> Option<(u32, Option<String>)> {
    let lower = v.to_ascii_lowercase();
    let (num, raw, shift) = match lower.find('s') {
        None => (lower.as_str(), true, 0),
        Some(p) => {
            if !matches!(&lower[p..], "s" | "sec" | "secs") {
                return None;
            }
            match lower[..p].strip_suffix('m') {
                Some(n) => (n, false, 0),
                None => (&lower[..p], false, 3),
            }
        }
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > shift || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: u64 = int.parse().ok()?;
    for i in 0..shift {
        let d = frac.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
        n = n.checked_mul(10)?.checked_add(d)?;
    }
    if n > RTT_MAX_MS * mult {
        return None;
    }
    if !raw {
        n *= mult;
    }
    let mut note = None;
    if n > RTT_MAX_MS * mult {
        note = Some(format!(
            "rtt value {v} exceeds maximum {}s, resetting",
            RTT_MAX_MS / 1000
        ));
        n = RTT_MAX_MS * mult;
    } else if n < RTT_MIN_MS * mult {
        note = Some(format!(
            "rtt value {v} below minimum {RTT_MIN_MS}ms, resetting"
        ));
        n = RTT_MIN_MS * mult;
    }
    Some((u32::try_from(n).ok()?, note))
}

/// `default`, `any`, `all` or `ADDR[/LEN]` (full length when no `/`).
fn route_prefix(ctx: &mut Ctx, t: &Token, quiet: bool) -> Option<(Prefix, Option<bool>)> {
    match t.text.as_str() {
        "default" | "any" | "all" => {
            return Some((
                Prefix {
                    addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    len: 0,
                },
                None,
            ))
        }
        "default6" => {
            return Some((
                Prefix {
                    addr: IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
                    len: 0,
                },
                Some(true),
            ))
        }
        _ => {}
    }
    if quiet
        && t.text
            .split('/')
            .next()
            .and_then(|a| a.parse::<IpAddr>().ok())
            .is_none()
    {
        return None;
    }
    let (addr, len) = parse_ip_prefix(ctx, t)?;
    let full = if addr.is_ipv4() { 32 } else { 128 };
    Some((
        Prefix {
            addr,
            len: len.unwrap_or(full),
        },
        Some(addr.is_ipv6()),
    ))
}

/// Sets or checks the family of a route/rule; false (after reporting) on a mix.
/// An address of a route line (`src`, `via`, nexthop `via`): reported as keepalived does
/// when it is not an address (`what` names it) or its family differs from the route's.
fn route_addr(ctx: &mut Ctx, v: &Token, fam: &mut Option<bool>, what: &str) -> Option<IpAddr> {
    let Ok(a) = v.text.parse::<IpAddr>() else {
        ctx.error(
            v.span,
            format!("VRRP parsed invalid IP {}. skipping IP...", v.text),
        );
        ctx.error(v.span, format!("{what} {}", v.text));
        return None;
    };
    if !family(fam, Some(a.is_ipv6())) {
        ctx.error(v.span, "Cannot mix IPv4 and IPv6 addresses for route");
        return None;
    }
    Some(a)
}

fn family(cur: &mut Option<bool>, v6: Option<bool>) -> bool {
    match (*cur, v6) {
        (_, None) => true,
        (None, v) => {
            *cur = v;
            true
        }
        (Some(a), Some(b)) => a == b,
    }
}

/// A `u32` value with keepalived's `get_u32` messages (`msg` has `{}` for the value).
fn u32_val(ctx: &mut Ctx, t: &Token, max: u32, msg: &str) -> Option<u32> {
    match super::parse_int(&t.text) {
        Some(v) if (0..=i64::from(max)).contains(&v) => Some(v as u32),
        Some(_) => {
            ctx.error(
                t.span,
                format!("number '{}' outside range [0, {max}]", t.text),
            );
            ctx.error(t.span, msg.replace("{}", &t.text));
            None
        }
        None => {
            ctx.error(t.span, format!("invalid number '{}'", t.text));
            ctx.error(t.span, msg.replace("{}", &t.text));
            None
        }
    }
}

/// Parses a route line; `None` (after reporting why) when keepalived would ignore it.
pub fn route_line(node: &Node, ctx: &mut Ctx) -> Option<RouteSpec> {
    let w = words(node);
    let mut r = RouteSpec {
        ipv6: false,
        rtype: RouteType::Unicast,
        dst: Prefix {
            addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            len: 0,
        },
        dst_text: String::new(),
        src: None,
        from: None,
        via: None,
        dev: None,
        table: TABLE_MAIN,
        metric: None,
        scope: None,
        protocol: None,
        tos: None,
        metrics: RouteMetrics::default(),
        realms: None,
        onlink: false,
        nexthops: Vec::new(),
        vrf: None,
        mode: RouteMode::Prepend,
        expires: None,
        pref: None,
        ttl_propagate: None,
        no_track: false,
        track_group: None,
        span: node.span(),
    };
    let mut fam: Option<bool> = None;
    let mut have_dst = false;
    let mut or_nexthops = false;
    let mix = |ctx: &mut Ctx, t: &Token| {
        ctx.error(t.span, "Cannot mix IPv4 and IPv6 addresses for route");
    };
    let mut i = 0;
    while let Some(&t) = w.get(i) {
        let kw = t.text.as_str();
        // Metrics that take `[lock] N`.
        let lockable = |k: &str| -> Option<u32> {
            Some(match k {
                "mtu" => 2,
                "advmss" => 8,
                "rtt" => 4,
                "rttvar" => 5,
                "reordering" => 9,
                "cwnd" => 7,
                "ssthresh" => 6,
                "rto_min" => 13,
                _ => return None,
            })
        };
        match kw {
            // keepalived 2.2.7 advances past the word after `inet`/`inet6` too (its loop
            // increments twice), so `inet6 default ...` loses `default`; we do the same
            // to give the same verdict.
            "inet" | "inet6" => {
                if !family(&mut fam, Some(kw == "inet6")) {
                    ctx.error(
                        t.span,
                        if kw == "inet6" {
                            "inet6 specified for IPv4 route"
                        } else {
                            "inet specified for IPv6 route"
                        },
                    );
                    return None;
                }
                i += 1;
            }
            "src" => {
                let v = word(ctx, node, &w, i + 1)?;
                r.src = Some(route_addr(ctx, v, &mut fam, "invalid route src address")?);
                i += 1;
            }
            "via" | "gw" => {
                if kw == "gw" {
                    ctx.error(
                        t.span,
                        "\"gw\" for routes is deprecated. Please use \"via\"",
                    );
                }
                let mut v = word(ctx, node, &w, i + 1)?;
                if v.text == "inet" || v.text == "inet6" {
                    i += 1;
                    v = word(ctx, node, &w, i + 1)?;
                }
                r.via = Some(route_addr(ctx, v, &mut fam, "invalid route via address")?);
                i += 1;
            }
            "from" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some((p, v6)) = route_prefix(ctx, v, false) else {
                    ctx.error(v.span, format!("invalid route from address {}", v.text));
                    return None;
                };
                if v6 != Some(true) {
                    ctx.error(
                        v.span,
                        format!("route from address only supported with IPv6 ({})", v.text),
                    );
                    return None;
                }
                if !family(&mut fam, v6) {
                    mix(ctx, v);
                    return None;
                }
                r.from = Some(p);
                i += 1;
            }
            "tos" | "dsfield" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some(x) = dsfield_value(ctx.host, &v.text) else {
                    ctx.error(v.span, format!("TOS value {} is invalid", v.text));
                    return None;
                };
                r.tos = Some(x);
                i += 1;
            }
            "table" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some(x) = route_table(ctx.host, &v.text) else {
                    ctx.error(
                        v.span,
                        format!("Routing table {} not found for route", v.text),
                    );
                    return None;
                };
                r.table = x;
                i += 1;
            }
            "protocol" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some(x) = protocol_value(ctx.host, &v.text) else {
                    ctx.error(
                        v.span,
                        format!("Protocol {} not found or invalid for route", v.text),
                    );
                    return None;
                };
                r.protocol = Some(x);
                i += 1;
            }
            "scope" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some(x) = scope_value(ctx.host, &v.text) else {
                    ctx.error(
                        v.span,
                        format!("Scope {} not found or invalid for route", v.text),
                    );
                    return None;
                };
                r.scope = Some(x);
                i += 1;
            }
            "metric" | "priority" | "preference" => {
                let v = word(ctx, node, &w, i + 1)?;
                r.metric = Some(u32_val(
                    ctx,
                    v,
                    u32::MAX,
                    "Invalid metric {} specified for route",
                )?);
                i += 1;
            }
            "dev" | "oif" => {
                let v = word(ctx, node, &w, i + 1)?;
                r.dev = Some(v.text.clone());
                i += 1;
            }
            "onlink" => r.onlink = true,
            "hoplimit" => {
                let v = word(ctx, node, &w, i + 1)?;
                r.metrics.hoplimit =
                    Some(u32_val(ctx, v, 255, "Invalid hoplimit {} specified for route")? as u8);
                i += 1;
            }
            k if lockable(k).is_some() => {
                let bit = lockable(k).unwrap_or(0);
                let mut v = word(ctx, node, &w, i + 1)?;
                if v.text == "lock" {
                    r.metrics.lock |= 1 << bit;
                    i += 1;
                    v = word(ctx, node, &w, i + 1)?;
                }
                let val = match k {
                    "rtt" | "rttvar" | "rto_min" => {
                        let what = if k == "rto_min" { "rto_min value" } else { k };
                        let mult = match k {
                            "rtt" => 8,
                            "rttvar" => 4,
                            _ => 1,
                        };
                        match time_rtt(&v.text, mult) {
                            Some((n, note)) => {
                                // A log line in keepalived, not a config error.
                                if let Some(note) = note {
                                    ctx.lint(v.span, note);
                                }
                                Some(n)
                            }
                            None => None,
                        }
                        .or_else(|| {
                            let msg = if k == "rto_min" {
                                format!("Invalid {what} {} specified for route", v.text)
                            } else {
                                format!("Invalid {what} {} for route", v.text)
                            };
                            ctx.error(v.span, msg);
                            None
                        })?
                    }
                    _ => {
                        let label = match k {
                            "mtu" => "MTU".to_string(),
                            "advmss" => "advmss".to_string(),
                            "reordering" => "reordering value".to_string(),
                            other => format!("{other} value"),
                        };
                        u32_val(
                            ctx,
                            v,
                            u32::MAX,
                            &format!("Invalid {label} {{}} specified for route"),
                        )?
                    }
                };
                let m = &mut r.metrics;
                *match k {
                    "mtu" => &mut m.mtu,
                    "advmss" => &mut m.advmss,
                    "rtt" => &mut m.rtt,
                    "rttvar" => &mut m.rttvar,
                    "reordering" => &mut m.reordering,
                    "cwnd" => &mut m.cwnd,
                    "ssthresh" => &mut m.ssthresh,
                    _ => &mut m.rto_min,
                } = Some(val);
                i += 1;
            }
            "window" | "initcwnd" | "initrwnd" => {
                let v = word(ctx, node, &w, i + 1)?;
                let val = u32_val(
                    ctx,
                    v,
                    u32::MAX,
                    &format!("Invalid {kw} value {{}} specified for route"),
                )?;
                let m = &mut r.metrics;
                *match kw {
                    "window" => &mut m.window,
                    "initcwnd" => &mut m.initcwnd,
                    _ => &mut m.initrwnd,
                } = Some(val);
                i += 1;
            }
            "realms" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some(x) = realms_value(ctx.host, &v.text) else {
                    ctx.error(v.span, format!("Invalid realms {} for route", v.text));
                    return None;
                };
                if fam == Some(true) {
                    ctx.error(v.span, "realms are only valid for IPv4");
                    return None;
                }
                fam = Some(false);
                r.realms = Some(x);
                i += 1;
            }
            "features" => {
                let v = word(ctx, node, &w, i + 1)?;
                if v.text == "ecn" {
                    r.metrics.features_ecn = true;
                } else {
                    ctx.error(v.span, format!("feature {} not supported", v.text));
                }
                i += 1;
            }
            "fastopen_no_cookie" => {
                let v = word(ctx, node, &w, i + 1)?;
                let x = u32_val(
                    ctx,
                    v,
                    1,
                    "Invalid fastopen_no_cookie value {} specified for route",
                )?;
                r.metrics.fastopen_no_cookie = Some(x != 0);
                i += 1;
            }
            "vrf" => {
                let v = word(ctx, node, &w, i + 1)?;
                // This host's kernel has no VRF device type to test it on.
                ctx.not_implemented_at(t.span, "vrf", "routes are not put in a VRF's table");
                r.vrf = Some(v.text.clone());
                i += 1;
            }
            "add" => r.mode = RouteMode::Add,
            "prepend" => r.mode = RouteMode::Prepend,
            "append" => r.mode = RouteMode::Append,
            "as" => {
                if w.get(i + 1).is_some_and(|t| t.text == "to") {
                    i += 1;
                }
                ctx.error(t.span, "\"as to\" for MPLS only - ignoring");
            }
            "expires" => {
                let v = word(ctx, node, &w, i + 1)?;
                if fam == Some(false) {
                    ctx.error(v.span, "expires is only valid for IPv6");
                    return None;
                }
                fam = Some(true);
                r.expires = Some(u32_val(
                    ctx,
                    v,
                    u32::MAX,
                    "Invalid expires time {} specified for route",
                )?);
                i += 1;
            }
            "pref" => {
                let v = word(ctx, node, &w, i + 1)?;
                if fam == Some(false) {
                    ctx.error(v.span, "pref is only valid for IPv6");
                    return None;
                }
                fam = Some(true);
                // ICMPV6_ROUTER_PREF_* values.
                r.pref = Some(match v.text.as_str() {
                    "low" => 3,
                    "medium" => 0,
                    "high" => 1,
                    _ => u32_val(ctx, v, 255, "Invalid pref value {} specified for route")? as u8,
                });
                i += 1;
            }
            "quickack" => {
                let v = word(ctx, node, &w, i + 1)?;
                let x = u32_val(ctx, v, 1, "Invalid quickack value {} specified for route")?;
                r.metrics.quickack = Some(x != 0);
                i += 1;
            }
            "congctl" => {
                let mut v = word(ctx, node, &w, i + 1)?;
                if v.text == "lock" {
                    // RTAX_CC_ALGO
                    r.metrics.lock |= 1 << 16;
                    i += 1;
                    v = word(ctx, node, &w, i + 1)?;
                }
                r.metrics.congctl = Some(v.text.clone());
                i += 1;
            }
            "ttl-propagate" => {
                let v = word(ctx, node, &w, i + 1)?;
                match v.text.as_str() {
                    "enabled" => r.ttl_propagate = Some(true),
                    "disabled" => r.ttl_propagate = Some(false),
                    other => {
                        // keepalived still sends the attribute, with 0.
                        r.ttl_propagate = Some(false);
                        ctx.error(
                            v.span,
                            format!("ttl-propagate value {other} not recognised"),
                        )
                    }
                }
                i += 1;
            }
            "or" => {
                ctx.error(
                    t.span,
                    "\"or\" for routes is deprecated. Please use \"nexthop\"",
                );
                let v = word(ctx, node, &w, i + 1)?;
                if or_nexthops {
                    ctx.error(
                        v.span,
                        "\"or\" route already specified - ignoring subsequent",
                    );
                    i += 2;
                    continue;
                }
                let Ok(a) = v.text.parse::<IpAddr>() else {
                    ctx.error(v.span, format!("Invalid \"or\" address {}", v.text));
                    return None;
                };
                r.nexthops.push(NextHop {
                    via: r.via.take(),
                    ..Default::default()
                });
                r.nexthops.push(NextHop {
                    via: Some(a),
                    ..Default::default()
                });
                or_nexthops = true;
                i += 1;
            }
            "nexthop" => {
                if or_nexthops {
                    ctx.error(t.span, "Cannot specify nexthops with \"or\" route");
                } else {
                    nexthops(node, &w, i, &mut r, &mut fam, ctx)?;
                    break;
                }
            }
            "no_track" => r.no_track = true,
            "track_group" => {
                let v = word(ctx, node, &w, i + 1)?;
                if r.track_group.is_some() {
                    ctx.error(v.span, format!("track_group {} is a duplicate", v.text));
                    break;
                }
                r.track_group = Some(v.text.clone());
                i += 1;
            }
            _ => {
                let mut j = i;
                if kw == "to" {
                    j += 1;
                }
                if let Some(ty) = w.get(j).and_then(|t| RouteType::from_name(&t.text)) {
                    r.rtype = ty;
                    j += 1;
                }
                let d = word(ctx, node, &w, j)?;
                let Some((p, v6)) = route_prefix(ctx, d, false) else {
                    ctx.error(d.span, format!("unknown route keyword {}", d.text));
                    return None;
                };
                if !family(&mut fam, v6) {
                    ctx.error(
                        d.span,
                        format!("Cannot mix IPv4 and IPv6 addresses for route ({})", d.text),
                    );
                    return None;
                }
                r.dst = p;
                r.dst_text = d.text.clone();
                have_dst = true;
                i = j;
            }
        }
        i += 1;
    }
    if !have_dst {
        ctx.error(node.span(), "Route must have a destination");
        return None;
    }
    if !r.no_track {
        if r.protocol.is_some_and(|p| p != PROTO_KEEPALIVED) {
            ctx.error(
                node.span(),
                format!("Route cannot be tracked if protocol is not RTPROT_KEEPALIVED({PROTO_KEEPALIVED}), resetting protocol"),
            );
        }
        r.protocol = Some(PROTO_KEEPALIVED);
        if r.dev.is_none() {
            ctx.error(
                node.span(),
                format!(
                    "Warning - cannot track route {} with no interface specified, not tracking",
                    r.dst_text
                ),
            );
            r.no_track = true;
        }
    }
    if r.track_group.is_some() && r.dev.is_none() {
        ctx.error(
            node.span(),
            "Static route cannot have track group if no oif specified",
        );
        r.track_group = None;
    }
    r.ipv6 = fam.unwrap_or(false);
    if r.ipv6 && r.dst.len == 0 && r.dst.addr.is_ipv4() {
        r.dst.addr = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);
    }
    Some(r)
}

/// `nexthop via IP dev IF weight N onlink realms R ...` from word `i` (a `nexthop`).
fn nexthops(
    node: &Node,
    w: &[&Token],
    mut i: usize,
    r: &mut RouteSpec,
    fam: &mut Option<bool>,
    ctx: &mut Ctx,
) -> Option<()> {
    while w.get(i).is_some_and(|t| t.text == "nexthop") {
        i += 1;
        let mut nh = NextHop::default();
        while let Some(&t) = w.get(i) {
            match t.text.as_str() {
                "via" => {
                    let mut v = word(ctx, node, w, i + 1)?;
                    if v.text == "inet" || v.text == "inet6" {
                        i += 1;
                        v = word(ctx, node, w, i + 1)?;
                    }
                    nh.via = Some(route_addr(ctx, v, fam, "Invalid nexthop via address")?);
                    i += 1;
                }
                "dev" => {
                    nh.dev = Some(word(ctx, node, w, i + 1)?.text.clone());
                    i += 1;
                }
                "weight" => {
                    let v = word(ctx, node, w, i + 1)?;
                    match super::parse_int(&v.text).filter(|x| (1..=256).contains(x)) {
                        Some(x) => nh.weight = Some(x as u16),
                        None => {
                            ctx.error(
                                v.span,
                                format!("Invalid weight {} specified for route", v.text),
                            );
                            return None;
                        }
                    }
                    i += 1;
                }
                "onlink" => nh.onlink = true,
                "realms" => {
                    let v = word(ctx, node, w, i + 1)?;
                    let Some(x) = realms_value(ctx.host, &v.text) else {
                        ctx.error(v.span, format!("Invalid realms {} for route", v.text));
                        return None;
                    };
                    if *fam == Some(true) {
                        ctx.error(v.span, "realms are only supported for IPv4");
                        return None;
                    }
                    *fam = Some(false);
                    nh.realms = Some(x);
                    i += 1;
                }
                _ => break,
            }
            i += 1;
        }
        r.nexthops.push(nh);
    }
    if let Some(t) = w.get(i) {
        ctx.error(
            t.span,
            format!("Route has trailing nonsense after nexthops - {}", t.text),
        );
        return None;
    }
    Some(())
}

/// `ipproto`: a decimal number up to 127 or a name of /etc/protocols (keepalived's
/// `inet_proto_a2n`, which uses getprotobyname).
fn ip_proto_value(host: &dyn HostEnv, v: &str) -> Option<u8> {
    if v.is_empty() || v.starts_with('-') {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<u8>().ok().filter(|n| *n <= 127);
    }
    host.ip_protocol(v)
}

/// `A-B` (both required, as keepalived 2.2.7 reads port ranges and uid ranges).
fn range<T: TryFrom<u64>>(v: &str) -> Option<(T, T)> {
    let (a, b) = v.split_once('-')?;
    let a = T::try_from(a.parse::<u64>().ok()?).ok()?;
    let b = T::try_from(b.parse::<u64>().ok()?).ok()?;
    Some((a, b))
}

/// Parses a rule line; `None` (after reporting why) when keepalived would ignore it.
pub fn rule_line(node: &Node, ctx: &mut Ctx) -> Option<RuleSpec> {
    let w = words(node);
    let mut r = RuleSpec {
        ipv6: false,
        invert: false,
        from: None,
        to: None,
        action: None,
        preference: None,
        iif: None,
        oif: None,
        tos: None,
        fwmark: None,
        fwmask: None,
        realms: None,
        suppress_prefixlength: None,
        suppress_ifgroup: None,
        uidrange: None,
        protocol: None,
        sport: None,
        dport: None,
        ip_proto: None,
        tunnel_id: None,
        no_track: false,
        track_group: None,
        span: node.span(),
    };
    let mut fam: Option<bool> = None;
    let set_action = |r: &mut RuleSpec, a: RuleAction, t: &Token, ctx: &mut Ctx| -> Option<()> {
        if r.action.is_some() {
            // keepalived's wording differs by which keyword comes second.
            let list = if matches!(a, RuleAction::Table(_)) {
                "table/nop/goto/blackhole/prohibit/unreachable"
            } else {
                "table/nop/goto/blackhole/prohibit/unreachable/l3mdev"
            };
            ctx.error(
                t.span,
                format!("Cannot specify more than one of {list} for rule"),
            );
            return None;
        }
        r.action = Some(a);
        Some(())
    };
    let mut i = 0;
    while let Some(&t) = w.get(i) {
        let kw = t.text.as_str();
        match kw {
            "not" => r.invert = true,
            // The same double step as for routes (keepalived 2.2.7).
            "inet" | "inet6" => {
                if !family(&mut fam, Some(kw == "inet6")) {
                    ctx.error(t.span, "rule specification has mixed IPv4 and IPv6");
                    return None;
                }
                i += 1;
            }
            "from" | "to" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some((p, v6)) = route_prefix(ctx, v, false) else {
                    ctx.error(v.span, format!("Invalid rule {kw} address {}", v.text));
                    return None;
                };
                if !family(&mut fam, v6) {
                    ctx.error(v.span, "rule specification has mixed IPv4 and IPv6");
                    return None;
                }
                if kw == "from" {
                    r.from = Some(p);
                } else {
                    r.to = Some(p);
                }
                i += 1;
            }
            "table" | "lookup" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some(x) = route_table(ctx.host, &v.text) else {
                    ctx.error(
                        v.span,
                        format!("Routing table {} not found for rule", v.text),
                    );
                    return None;
                };
                set_action(&mut r, RuleAction::Table(x), t, ctx)?;
                i += 1;
            }
            "preference" | "priority" | "order" => {
                let v = word(ctx, node, &w, i + 1)?;
                r.preference = Some(u32_val(
                    ctx,
                    v,
                    u32::MAX,
                    &format!("Invalid rule preference {kw} specified"),
                )?);
                i += 1;
            }
            "tos" | "dsfield" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some(x) = dsfield_value(ctx.host, &v.text) else {
                    ctx.error(v.span, format!("TOS value {} is invalid", v.text));
                    return None;
                };
                r.tos = Some(x);
                i += 1;
            }
            "fwmark" => {
                let v = word(ctx, node, &w, i + 1)?;
                let (m, mask) = match v.text.split_once('/') {
                    Some((m, k)) => (m, Some(k)),
                    None => (v.text.as_str(), None),
                };
                let parse = |s: &str| c_uint(s).and_then(|x| u32::try_from(x).ok());
                match (parse(m), mask.map(parse)) {
                    (Some(m), None) => r.fwmark = Some(m),
                    (Some(m), Some(Some(k))) => {
                        r.fwmark = Some(m);
                        r.fwmask = Some(k);
                    }
                    _ => {
                        ctx.error(v.span, format!("Invalid rule fwmark {} specified", v.text));
                        return None;
                    }
                }
                i += 1;
            }
            "realms" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some(x) = realms_value(ctx.host, &v.text) else {
                    ctx.error(v.span, format!("invalid realms {} for rule", v.text));
                    return None;
                };
                r.realms = Some(x);
                i += 1;
            }
            "goto" => {
                let v = word(ctx, node, &w, i + 1)?;
                let x = u32_val(ctx, v, u32::MAX, "Invalid target goto specified")?;
                set_action(&mut r, RuleAction::Goto(x), t, ctx)?;
                i += 1;
            }
            "nop" => set_action(&mut r, RuleAction::Nop, t, ctx)?,
            "suppress_prefixlength" | "sup_pl" => {
                let v = word(ctx, node, &w, i + 1)?;
                r.suppress_prefixlength = Some(u32_val(
                    ctx,
                    v,
                    u32::MAX,
                    "Invalid suppress_prefixlength {} specified",
                )?);
                i += 1;
            }
            "suppress_ifgroup" | "sup_group" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some(x) = table_value(ctx.host, &v.text, &[("default", 0)], "group", u32::MAX)
                else {
                    ctx.error(v.span, format!("suppress_group {} is invalid", v.text));
                    return None;
                };
                r.suppress_ifgroup = Some(x);
                i += 1;
            }
            "dev" | "iif" => {
                r.iif = Some(word(ctx, node, &w, i + 1)?.text.clone());
                i += 1;
            }
            "oif" => {
                r.oif = Some(word(ctx, node, &w, i + 1)?.text.clone());
                i += 1;
            }
            "uidrange" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some(x) = range::<u32>(&v.text) else {
                    ctx.error(v.span, format!("Invalid uidrange {kw} specified"));
                    return None;
                };
                r.uidrange = Some(x);
                i += 1;
            }
            "l3mdev" => {
                if r.action.is_some() {
                    ctx.error(t.span, "Cannot specify l3mdev with other action");
                    return None;
                }
                r.action = Some(RuleAction::L3mdev);
            }
            "protocol" => {
                let v = word(ctx, node, &w, i + 1)?;
                // A number only; a bad one is reported and the rule kept (keepalived).
                match super::parse_int(&v.text).filter(|x| (0..=255).contains(x)) {
                    Some(x) => r.protocol = Some(x as u8),
                    None => {
                        ctx.error(v.span, format!("invalid number '{}'", v.text));
                        ctx.error(v.span, format!("Invalid protocol {}", v.text));
                    }
                }
                i += 1;
            }
            "ipproto" => {
                let v = word(ctx, node, &w, i + 1)?;
                match ip_proto_value(ctx.host, &v.text) {
                    Some(x) => r.ip_proto = Some(x),
                    None => ctx.error(v.span, format!("Invalid ipproto {}", v.text)),
                }
                i += 1;
            }
            "tunnel-id" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some(x) = c_uint(&v.text) else {
                    ctx.error(v.span, format!("invalid number '{}'", v.text));
                    ctx.error(v.span, format!("Invalid tunnel-id {kw} specified"));
                    return None;
                };
                r.tunnel_id = Some(x);
                i += 1;
            }
            "sport" | "dport" => {
                let v = word(ctx, node, &w, i + 1)?;
                let Some(x) = range::<u16>(&v.text) else {
                    ctx.error(v.span, format!("invalid {kw} range {}", v.text));
                    return None;
                };
                if kw == "sport" {
                    r.sport = Some(x);
                } else {
                    r.dport = Some(x);
                }
                i += 1;
            }
            "no_track" => r.no_track = true,
            "track_group" => {
                let v = word(ctx, node, &w, i + 1)?;
                if r.track_group.is_some() {
                    ctx.error(v.span, format!("track_group {} is a duplicate", v.text));
                    break;
                }
                r.track_group = Some(v.text.clone());
                i += 1;
            }
            _ => {
                let mut j = i;
                if kw == "type" {
                    j += 1;
                }
                let name = word(ctx, node, &w, j)?;
                match RouteType::from_name(&name.text) {
                    Some(RouteType::Blackhole) => {
                        set_action(&mut r, RuleAction::Blackhole, t, ctx)?
                    }
                    Some(RouteType::Unreachable) => {
                        set_action(&mut r, RuleAction::Unreachable, t, ctx)?
                    }
                    Some(RouteType::Prohibit) => set_action(&mut r, RuleAction::Prohibit, t, ctx)?,
                    Some(_) => {
                        ctx.error(name.span, format!("Invalid rule action {}", name.text));
                        return None;
                    }
                    None => {
                        ctx.error(name.span, format!("Unknown rule option {}", name.text));
                        return None;
                    }
                }
                i = j;
            }
        }
        i += 1;
    }
    // Tracked rules carry keepalived's protocol, as tracked routes do.
    if !r.no_track {
        if r.protocol.is_some_and(|p| p != PROTO_KEEPALIVED) {
            ctx.error(
                node.span(),
                format!("Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED({PROTO_KEEPALIVED}), resetting protocol"),
            );
        }
        r.protocol = Some(PROTO_KEEPALIVED);
    }
    r.ipv6 = fam.unwrap_or(false);
    Some(r)
}

/// keepalived gives rules without a preference one, counting down from 16384 in file
/// order, with an error. `next` carries the count between calls (start at 16384).
pub fn assign_missing_preferences<'a>(
    rules: impl IntoIterator<Item = &'a mut RuleSpec>,
    next: &mut u32,
    ctx: &mut Ctx,
) {
    for r in rules {
        if r.preference.is_none() {
            ctx.error(
                r.span,
                format!(
                    "Rule has no preference specified - setting to {next}. This is probably not what you want."
                ),
            );
            r.preference = Some(*next);
            *next = next.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostic::Diagnostics;
    use crate::config::model::testutil::n;

    fn addr(line: &str, c: AddrContext) -> (Option<AddressSpec>, Vec<String>, i32) {
        let mut d = Diagnostics::new();
        let a = address_line(&n(line), &mut Ctx::new(&mut d), c);
        let m = d.items.iter().map(|x| x.message.clone()).collect();
        (a, m, d.config_test_exit_code())
    }

    fn ok_addr(line: &str) -> AddressSpec {
        let (a, m, code) = addr(line, AddrContext::Virtual);
        assert_eq!(code, 0, "{line}: {m:?}");
        a.unwrap()
    }

    fn route(line: &str) -> (Option<RouteSpec>, Vec<String>, i32) {
        let mut d = Diagnostics::new();
        let a = route_line(&n(line), &mut Ctx::new(&mut d));
        let m = d.items.iter().map(|x| x.message.clone()).collect();
        (a, m, d.config_test_exit_code())
    }

    fn ok_route(line: &str) -> RouteSpec {
        let (r, m, code) = route(line);
        assert_eq!(code, 0, "{line}: {m:?}");
        r.unwrap()
    }

    fn rule(line: &str) -> (Option<RuleSpec>, Vec<String>, i32) {
        let mut d = Diagnostics::new();
        let a = rule_line(&n(line), &mut Ctx::new(&mut d));
        let m = d.items.iter().map(|x| x.message.clone()).collect();
        (a, m, d.config_test_exit_code())
    }

    #[test]
    fn table_names_come_from_the_host_given() {
        let mut host = crate::config::env::FixedHost::default();
        host.iproute2.push(("rt_tables".into(), "isp2".into(), 102));
        host.iproute2.push(("rt_protos".into(), "lab".into(), 99));
        host.protocols.push(("sctp".into(), 132));
        let line = n("198.51.100.1 dev veth0 table isp2 protocol lab no_track");
        let mut d = Diagnostics::new();
        let r = route_line(&line, &mut Ctx::with_host(&mut d, &host));
        assert!(d.items.is_empty(), "{:?}", d.items);
        assert_eq!(r.map(|r| (r.table, r.protocol)), Some((102, Some(99))));
        let line = n("from 192.0.2.1 table isp2 ipproto sctp");
        let r = rule_line(&line, &mut Ctx::with_host(&mut d, &host));
        assert!(d.items.is_empty(), "{:?}", d.items);
        assert_eq!(r.and_then(|r| r.ip_proto), Some(132));
        // The fixed default host has no table files.
        let (_, m, _) = route("198.51.100.1 dev veth0 table isp2");
        assert_eq!(m, ["Routing table isp2 not found for route"]);
    }

    #[test]
    fn address_defaults() {
        let a = ok_addr("192.0.2.61");
        assert_eq!(
            (a.addr, a.prefix, a.scope),
            ("192.0.2.61".parse().unwrap(), 32, 0)
        );
        assert_eq!(a.dev, None);
        let a = ok_addr("2001:db8::5");
        assert_eq!(a.prefix, 128);
        assert!(!a.dad);
        let a = ok_addr("fe80::62/64 -nodad");
        assert_eq!(a.prefix, 64);
        assert!(a.dad);
    }

    #[test]
    fn address_full_line() {
        let a = ok_addr("192.0.2.1/24 brd 192.0.2.255 dev veth0 scope link label veth0:vip peer 192.0.2.9 home mngtmpaddr noprefixroute autojoin no_track preferred_lft forever use_vmac");
        assert_eq!(a.prefix, 24);
        assert_eq!(a.broadcast, Some(Ipv4Addr::new(192, 0, 2, 255)));
        assert_eq!(a.dev.as_deref(), Some("veth0"));
        assert_eq!(a.scope, 253);
        assert_eq!(a.label.as_deref(), Some("veth0:vip"));
        assert_eq!(a.peer, Some("192.0.2.9".parse().unwrap()));
        assert!(
            a.home && a.mngtmpaddr && a.noprefixroute && a.autojoin && a.no_track && a.use_vmac
        );
        assert_eq!(a.preferred_lft, Some(LIFETIME_FOREVER));
        for (s, v) in [
            ("global", 0),
            ("site", 200),
            ("host", 254),
            ("nowhere", 255),
            ("7", 7),
        ] {
            assert_eq!(ok_addr(&format!("192.0.2.1 scope {s}")).scope, v);
        }
        assert_eq!(
            ok_addr("192.0.2.1 preferred_lft 30").preferred_lft,
            Some(30)
        );
    }

    #[test]
    fn address_broadcast_plus_minus() {
        assert_eq!(
            ok_addr("192.0.2.77/24 brd +").broadcast,
            Some(Ipv4Addr::new(192, 0, 2, 255))
        );
        assert_eq!(
            ok_addr("192.0.2.77/24 brd -").broadcast,
            Some(Ipv4Addr::new(192, 0, 2, 0))
        );
        assert_eq!(
            ok_addr("192.0.2.5/30 broadcast +").broadcast,
            Some(Ipv4Addr::new(192, 0, 2, 7))
        );
        let (a, m, _) = addr("192.0.2.11/31 brd +", AddrContext::Static);
        assert_eq!(m, ["Address prefix length 31 too long for broadcast"]);
        assert_eq!(a.unwrap().broadcast, None);
        let (a, m, _) = addr("192.0.2.11 brd -", AddrContext::Static);
        assert_eq!(m, ["Address prefix length 32 too long for broadcast"]);
        assert!(a.is_some());
        let (a, m, _) = addr("192.0.2.13 brd 2001:db8::1", AddrContext::Static);
        assert_eq!(
            m,
            ["VRRP is trying to assign invalid broadcast 2001:db8::1. skipping VIP..."]
        );
        assert!(a.is_none());
        let (a, _, _) = addr("2001:db8::1/64 brd +", AddrContext::Static);
        assert!(a.is_none());
    }

    #[test]
    fn address_errors() {
        let cases: &[(&str, &str, bool)] = &[
            ("x.y", "VRRP parsed invalid IP x.y. skipping IP...", false),
            ("192.0.2.2/33", "Invalid address prefix len 33 for address 192.0.2.2/33 - using 32", true),
            ("192.0.2.3 bogus", "Unknown configuration entry 'bogus' for ip address - ignoring", true),
            ("2001:db8::2 label foo", "Cannot specify label for IPv6 addresses (2001:db8::2) - ignoring label", true),
            ("2001:db8::1/64 scope link", "Cannot specify scope for IPv6 addresses (2001:db8::1/64) - ignoring scope", true),
            ("192.0.2.4 brd", "No brd parameter specified for 192.0.2.4", true),
            ("192.0.2.4 dev", "No dev parameter specified for 192.0.2.4", true),
            ("192.0.2.5 scope 300", "Invalid scope '300' specified for 192.0.2.5 - ignoring", true),
            ("192.0.2.6 scope xx", "Invalid scope 'xx' specified for 192.0.2.6 - ignoring", true),
            ("192.0.2.7 dev veth0 preferred_lft x", "preferred_lft x is invalid", true),
            ("192.0.2.8 peer 2001:db8::1", "Peer address 2001:db8::1 does not match address family", true),
            ("192.0.2.9 peer 192.0.2.10/24", "Invalid peer address 192.0.2.10/24", true),
            ("192.0.2.11 dev veth0 dev veth1", "Cannot specify ipaddress device more than once for 192.0.2.11", true),
            ("192.0.2.12 label veth0:abcdefghijklmnopq", "Address label veth0:abcdefghijklmnopq is longer than maximum length 15 - removing address", false),
            ("192.0.2.14 use_vmac", "Unknown configuration entry 'use_vmac' for ip address - ignoring", true),
        ];
        for (line, want, kept) in cases {
            let (a, m, code) = addr(line, AddrContext::Static);
            assert!(m.iter().any(|x| x == want), "{line}: {m:?}");
            assert_eq!(code, 5, "{line}");
            assert_eq!(a.is_some(), *kept, "{line}");
        }
        // track_group is a static-only option
        let (_, m, _) = addr("192.0.2.1 track_group G", AddrContext::Virtual);
        assert_eq!(
            m,
            [
                "Unknown configuration entry 'track_group' for ip address - ignoring",
                "Unknown configuration entry 'G' for ip address - ignoring"
            ]
        );
        let (a, m, _) = addr("192.0.2.1 track_group G", AddrContext::Static);
        assert!(m.is_empty());
        assert_eq!(a.unwrap().track_group.as_deref(), Some("G"));
        // label of exactly 15 characters is fine
        assert_eq!(
            ok_addr("192.0.2.1 label abcdefghijklmno").label.as_deref(),
            Some("abcdefghijklmno")
        );
        let (a, _, _) = addr("192.0.2.2/33", AddrContext::Static);
        assert_eq!(a.map(|a| a.prefix), Some(32));
    }

    #[test]
    fn routes_basic() {
        let r = ok_route("198.51.100.0/24 via 192.0.2.254 dev veth0");
        assert_eq!(
            r.dst,
            Prefix {
                addr: "198.51.100.0".parse().unwrap(),
                len: 24
            }
        );
        assert_eq!(r.via, Some("192.0.2.254".parse().unwrap()));
        assert_eq!(r.dev.as_deref(), Some("veth0"));
        assert_eq!(r.table, TABLE_MAIN);
        assert_eq!(r.protocol, Some(PROTO_KEEPALIVED));
        assert!(!r.no_track && !r.ipv6);
        assert_eq!(r.rtype, RouteType::Unicast);
        let r = ok_route("2001:db8:1::/48 via 2001:db8::fe dev veth0");
        assert!(r.ipv6);
        assert_eq!(r.dst.len, 48);
        for (w, t) in [
            ("blackhole", RouteType::Blackhole),
            ("unreachable", RouteType::Unreachable),
            ("prohibit", RouteType::Prohibit),
            ("throw", RouteType::Throw),
        ] {
            let r = ok_route(&format!("{w} 198.51.100.1 no_track"));
            assert_eq!(r.rtype, t);
            assert_eq!(r.dst.len, 32);
        }
        for d in ["default", "any", "all"] {
            let r = ok_route(&format!("{d} via 192.0.2.254 dev veth0"));
            assert_eq!(r.dst.len, 0);
            assert_eq!(r.dst_text, d);
        }
        let r = ok_route("default via 2001:db8::fe dev veth0");
        assert!(r.ipv6);
        assert_eq!(r.dst.addr, "::".parse::<IpAddr>().unwrap());
        let r = ok_route("198.51.100.1 via 192.0.2.254 dev veth0 table 100 metric 5");
        assert_eq!((r.table, r.metric), (100, Some(5)));
        assert_eq!(ok_route("198.51.100.1 dev veth0 table local").table, 255);
        assert_eq!(
            ok_route("198.51.100.1 dev veth0 priority 7").metric,
            Some(7)
        );
        let r = ok_route("to unicast 198.51.100.1 dev veth0 append vrf red");
        assert_eq!(r.mode, RouteMode::Append);
        assert_eq!(
            ok_route("198.51.100.1 dev veth0 append add").mode,
            RouteMode::Add
        );
        assert_eq!(
            ok_route("198.51.100.1 dev veth0 add prepend").mode,
            RouteMode::Prepend
        );
        assert_eq!(r.vrf.as_deref(), Some("red"));
    }

    #[test]
    fn routes_all_options() {
        let r = ok_route("198.51.100.5 dev veth0 src 192.0.2.1 metric 10 scope link protocol keepalived tos 0x10 mtu lock 1400 advmss 1300 rtt 10 rttvar 5 reordering 3 window 100 cwnd 10 ssthresh lock 5 realms 1/2 rto_min 20ms initcwnd 10 initrwnd 11 features ecn fastopen_no_cookie 1 hoplimit 64 onlink");
        assert_eq!(r.src, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(r.scope, Some(253));
        assert_eq!(r.tos, Some(0x10));
        let m = &r.metrics;
        assert_eq!(m.mtu, Some(1400));
        assert_eq!(m.advmss, Some(1300));
        // Below 200 ms: raised to it (kernel units: rtt 1/8 ms, rttvar 1/4 ms).
        assert_eq!(m.rtt, Some(1600));
        assert_eq!(m.rttvar, Some(800));
        assert_eq!(m.rto_min, Some(200));
        assert_eq!(
            (m.reordering, m.window, m.cwnd, m.ssthresh),
            (Some(3), Some(100), Some(10), Some(5))
        );
        assert_eq!(
            (m.initcwnd, m.initrwnd, m.hoplimit),
            (Some(10), Some(11), Some(64))
        );
        assert!(m.features_ecn);
        assert_eq!(m.fastopen_no_cookie, Some(true));
        assert_eq!(m.lock, 1 << 2 | 1 << 6);
        assert_eq!(r.realms, Some(1 << 16 | 2));
        assert!(r.onlink);
    }

    #[test]
    fn rtt_units_as_keepalived() {
        // Observed with keepalived 2.2.7: `rtt 300ms` shows as 300ms, `rtt 10` as 200ms
        // with "rtt value 10 below minimum 200ms, resetting".
        assert_eq!(time_rtt("300ms", 8), Some((2400, None)));
        assert_eq!(time_rtt("250MS", 4), Some((1000, None)));
        assert_eq!(time_rtt("1.5s", 8), Some((12000, None)));
        assert_eq!(time_rtt("2secs", 1), Some((2000, None)));
        assert_eq!(time_rtt("4000", 8), Some((4000, None)));
        assert_eq!(
            time_rtt("10", 8),
            Some((
                1600,
                Some("rtt value 10 below minimum 200ms, resetting".into())
            ))
        );
        assert_eq!(
            time_rtt("200s", 8),
            Some((
                960_000,
                Some("rtt value 200s exceeds maximum 120s, resetting".into())
            ))
        );
        // Past the maximum before conversion: rejected.
        assert_eq!(time_rtt("200s", 1), None);
        for bad in ["10x", "s", "1.5ms", "10mss", "1e3", "", "-5"] {
            assert_eq!(time_rtt(bad, 8), None, "{bad}");
        }
    }

    #[test]
    fn routes_nexthops() {
        let r = ok_route("198.51.100.6 dev veth0 nexthop via 192.0.2.250 dev veth0 weight 2 nexthop via 192.0.2.251 dev veth1 onlink");
        assert_eq!(r.nexthops.len(), 2);
        assert_eq!(r.nexthops[0].weight, Some(2));
        assert_eq!(r.nexthops[1].dev.as_deref(), Some("veth1"));
        assert!(r.nexthops[1].onlink);
        let (r, m, _) = route("198.51.100.1 dev veth0 nexthop via 192.0.2.3 weight 0");
        assert!(r.is_none());
        assert_eq!(m, ["Invalid weight 0 specified for route"]);
        let (r, m, _) = route("198.51.100.12 gw 192.0.2.254 or 192.0.2.1 dev veth0");
        assert_eq!(
            m,
            [
                "\"gw\" for routes is deprecated. Please use \"via\"",
                "\"or\" for routes is deprecated. Please use \"nexthop\""
            ]
        );
        assert_eq!(r.unwrap().nexthops.len(), 2);
    }

    #[test]
    fn route_errors() {
        let cases: &[(&str, &str, bool)] = &[
            ("blackhole 198.51.100.1", "Warning - cannot track route 198.51.100.1 with no interface specified, not tracking", true),
            ("198.51.100.5 dev veth0 protocol static", "Route cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting protocol", true),
            ("198.51.100.7 via 2001:db8::fe", "Cannot mix IPv4 and IPv6 addresses for route", false),
            ("198.51.100.8 bogus 1", "unknown route keyword bogus", false),
            ("198.51.100.9 table xyz via 192.0.2.254", "Routing table xyz not found for route", false),
            ("198.51.100.10/33 via 192.0.2.254 dev veth0", "Invalid address prefix len 33 for address 198.51.100.10/33 - using 32", true),
            ("198.51.100.11 via 192.0.2.254 metric x", "Invalid metric x specified for route", false),
            ("inet6 default via 2001:db8::fe dev veth0", "Route must have a destination", false),
            ("198.51.100.15 via 192.0.2.254 scope 999", "Scope 999 not found or invalid for route", false),
            ("198.51.100.17 via 192.0.2.254 tos 300", "TOS value 300 is invalid", false),
            ("198.51.100.19 via 192.0.2.254 protocol bogus", "Protocol bogus not found or invalid for route", false),
            ("198.51.100.20 dev veth0 features foo", "feature foo not supported", true),
            ("2001:db8::/64 dev veth0 realms 1", "realms are only valid for IPv4", false),
            ("198.51.100.1 dev veth0 track_group G", "", true),
            ("198.51.100.1 track_group G no_track", "Static route cannot have track group if no oif specified", true),
            ("198.51.100.1 dev veth0 from 192.0.2.0/24", "route from address only supported with IPv6 (192.0.2.0/24)", false),
        ];
        for (line, want, kept) in cases {
            let (r, m, code) = route(line);
            if want.is_empty() {
                assert_eq!(code, 0, "{line}: {m:?}");
            } else {
                assert!(m.iter().any(|x| x == want), "{line}: {m:?}");
                assert_eq!(code, 5, "{line}");
            }
            assert_eq!(r.is_some(), *kept, "{line}: {m:?}");
        }
        let (r, m, code) = route("198.51.100.1 via");
        assert!(r.is_none());
        assert_eq!(code, 2);
        assert_eq!(m, ["*** Configuration line starting `198.51.100.1` is missing a parameter after keyword `via` at word position 3"]);
        let (r, _, _) = route("198.51.100.1 dev veth0 protocol static");
        assert_eq!(r.unwrap().protocol, Some(PROTO_KEEPALIVED));
        let (r, _, _) = route("198.51.100.1 protocol static no_track");
        assert_eq!(r.unwrap().protocol, Some(4));
    }

    #[test]
    fn rules() {
        let (r, m, code) = rule("from 192.0.2.1 iif veth0 oif veth1 tos 0x10 preference 10 realms 1/2 suppress_prefixlength 8 suppress_ifgroup 1 uidrange 100-200 protocol 4 sport 1-100 dport 80-80 table 100 no_track");
        assert_eq!(code, 0, "{m:?}");
        let r = r.unwrap();
        assert_eq!(
            r.from,
            Some(Prefix {
                addr: "192.0.2.1".parse().unwrap(),
                len: 32
            })
        );
        assert_eq!(r.iif.as_deref(), Some("veth0"));
        assert_eq!(r.oif.as_deref(), Some("veth1"));
        assert_eq!(
            (r.tos, r.preference, r.realms),
            (Some(16), Some(10), Some(1 << 16 | 2))
        );
        assert_eq!(
            (r.suppress_prefixlength, r.suppress_ifgroup),
            (Some(8), Some(1))
        );
        assert_eq!(r.uidrange, Some((100, 200)));
        assert_eq!((r.sport, r.dport), (Some((1, 100)), Some((80, 80))));
        assert_eq!(r.protocol, Some(4));
        assert_eq!(r.action, Some(RuleAction::Table(100)));

        let (r, m, code) = rule("from 192.0.2.1 table 100 ipproto tcp tunnel-id 0x10 priority 5");
        assert_eq!(code, 0, "{m:?}");
        let r = r.unwrap();
        assert_eq!((r.ip_proto, r.tunnel_id), (Some(6), Some(16)));
        let (r, m, _) = rule("from 192.0.2.1 table 100 ipproto 200 protocol static priority 5");
        assert_eq!(
            m,
            [
                "Invalid ipproto 200",
                "invalid number 'static'",
                "Invalid protocol static"
            ]
        );
        assert_eq!(r.map(|r| r.ip_proto), Some(None));

        let (r, _, code) = rule("not from all fwmark 0x10/0xff lookup main priority 5");
        assert_eq!(code, 0);
        let r = r.unwrap();
        assert!(r.invert);
        assert_eq!(r.from.map(|p| p.len), Some(0));
        assert_eq!((r.fwmark, r.fwmask), (Some(16), Some(255)));
        assert_eq!(r.action, Some(RuleAction::Table(254)));
        for (w, a) in [
            ("blackhole", RuleAction::Blackhole),
            ("prohibit", RuleAction::Prohibit),
            ("unreachable", RuleAction::Unreachable),
            ("nop", RuleAction::Nop),
            ("goto 20", RuleAction::Goto(20)),
            ("l3mdev", RuleAction::L3mdev),
        ] {
            let (r, m, code) = rule(&format!("from 192.0.2.0/24 priority 5 {w}"));
            assert_eq!(code, 0, "{w}: {m:?}");
            assert_eq!(r.unwrap().action, Some(a));
        }
        let (r, _, _) = rule("to 2001:db8::/32 table 100 priority 1");
        assert!(r.unwrap().ipv6);
    }

    #[test]
    fn rule_errors() {
        let cases: &[(&str, &str)] = &[
            ("from 192.0.2.1 ip_proto tcp table 100", "Unknown rule option ip_proto"),
            ("from 192.0.2.1 tunnel-id x table 100", "Invalid tunnel-id tunnel-id specified"),
            ("inet6 from 2001:db8::/32 table 100", "Unknown rule option 2001:db8::/32"),
            ("from 192.0.2.0/24 bogus", "Unknown rule option bogus"),
            ("from 192.0.2.0/24 table foo", "Routing table foo not found for rule"),
            ("from 192.0.2.0/24 to 2001:db8::/32 table 100", "rule specification has mixed IPv4 and IPv6"),
            ("from 192.0.2.0/24 nat 192.0.2.5 table 100", "Invalid rule action nat"),
            ("from 192.0.2.0/24 type unicast table 100", "Invalid rule action unicast"),
            ("from 192.0.2.0/24 table 100 pref 1", "Unknown rule option pref"),
            ("from 192.0.2.0/24 priority 5 table 5 nop", "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable/l3mdev for rule"),
            ("from 192.0.2.0/24 priority 5 sport 80", "invalid sport range 80"),
        ];
        for (line, want) in cases {
            let (r, m, code) = rule(line);
            assert!(m.iter().any(|x| x == want), "{line}: {m:?}");
            assert_eq!(code, 5, "{line}");
            assert!(r.is_none(), "{line}");
        }
        let (_, _, code) = rule("from");
        assert_eq!(code, 2);
    }

    /// `keepalived -t` exit codes of single-line `static_routes`, `static_rules` and
    /// `static_ipaddress` blocks (2.2.7, in a netns where veth0 exists).
    const KA_ROUTES: &[&str] = &[
        "0 198.51.100.0/24 via 192.0.2.254 dev veth0",
        "0 198.51.100.0/24 dev veth0",
        "0 blackhole 198.51.100.1 no_track",
        "0 unreachable 198.51.100.2/32 dev veth0",
        "0 default via 192.0.2.254 dev veth0 table 100",
        "0 any via 192.0.2.254 dev veth0",
        "0 2001:db8:1::/48 via 2001:db8::fe dev veth0",
        "0 2001:db8:1::/48 dev veth0 from 2001:db8:2::/64",
        "0 198.51.100.5 dev veth0 src 192.0.2.1 metric 10 scope link tos 0x10 mtu lock 1400 advmss 1300 rtt 10 rttvar 5 reordering 3 window 100 cwnd 10 ssthresh lock 5 realms 1/2 rto_min 20 initcwnd 10 initrwnd 10 features ecn fastopen_no_cookie 1 hoplimit 64 onlink",
        "0 198.51.100.6 dev veth0 nexthop via 192.0.2.250 dev veth0 weight 2 nexthop via 192.0.2.251 dev veth0",
        "5 198.51.100.6 dev veth0 nexthop via 192.0.2.250 dev veth0 bogus",
        "0 198.51.100.7 dev veth0 rtt 10ms",
        "0 198.51.100.7 dev veth0 rtt 2s",
        "5 198.51.100.7 dev veth0 rtt 10x",
        "5 198.51.100.8 dev veth0 hoplimit 256",
        "5 198.51.100.8 dev veth0 fastopen_no_cookie 2",
        "0 198.51.100.9 dev veth0 table 4294967295",
        "0 198.51.100.9 dev veth0 table main",
        "0 198.51.100.9 dev veth0 table local",
        "0 198.51.100.9 dev veth0 table default",
        "5 198.51.100.10 dev veth0 protocol 200",
        "5 198.51.100.10 dev veth0 protocol 256 no_track",
        "0 198.51.100.10 dev veth0 protocol zebra no_track",
        "0 198.51.100.11 dev veth0 scope host",
        "0 198.51.100.11 dev veth0 scope 255",
        "0 198.51.100.12 dev veth0 realms 5",
        "5 198.51.100.12 dev veth0 realms 65536",
        "5 198.51.100.13 dev veth0 metric 0x10",
        "0 198.51.100.14 dev veth0 to 198.51.100.15",
        "0 to 198.51.100.16 dev veth0",
        "0 local 198.51.100.17 dev veth0",
        "0 198.51.100.18 dev veth0 mtu 1500 mtu 1400",
        "0 198.51.100.19 dev veth0 inet 192.0.2.1",
        "5 inet6 2001:db8::/64 dev veth0",
        "5 2001:db8::/64 dev veth0 realms 1/2",
        "0 198.51.100.20 via inet 192.0.2.254 dev veth0",
        "0 198.51.100.22 dev veth0 onlink append",
        "0 198.51.100.22 dev veth0 add",
        "0 198.51.100.22 dev veth0 prepend",
        "0 198.51.100.22 dev veth0 rtt 10 rttvar 1.5s rto_min 300MS",
        "5 198.51.100.23 dev veth0 tos 256",
        "5 198.51.100.24 dev veth0 window x",
        "5 198.51.100.25 dev veth0 or 192.0.2.3",
        "5 198.51.100.26 via 192.0.2.1 dev veth0 expires 10",
        "5 198.51.100.27 via 192.0.2.1 dev veth0 pref high",
        "5 198.51.100.28/33 dev veth0",
    ];
    const KA_RULES: &[&str] = &[
        "0 from 192.0.2.0/24 table 100 priority 1",
        "0 to 198.51.100.0/24 lookup main priority 2",
        "0 from all fwmark 0x10/0xff table 100 priority 3",
        "0 from 192.0.2.1 iif veth0 table 100 priority 4",
        "0 from 192.0.2.1 oif veth0 table 100 priority 5",
        "0 from 192.0.2.1 tos 0x10 table 100 priority 6",
        "0 from 192.0.2.1 realms 1/2 table 100 priority 7",
        "0 from 192.0.2.1 goto 20 priority 8",
        "0 from 192.0.2.1 table 100 suppress_prefixlength 8 priority 9",
        "0 from 192.0.2.1 table 100 suppress_ifgroup 1 priority 10",
        "0 from 192.0.2.1 table 100 uidrange 100-200 priority 11",
        "0 l3mdev priority 12",
        "5 from 192.0.2.1 table 100 protocol 4 priority 13",
        "0 from 192.0.2.1 table 100 sport 1-100 priority 14",
        "0 from 192.0.2.1 table 100 dport 80-80 priority 15",
        "5 from 192.0.2.1 table 100 tun_id 5 priority 16",
        "0 from 192.0.2.1 table 100 tunnel-id 5 priority 16",
        "0 from 192.0.2.1 table 100 ipproto tcp priority 16",
        "0 from 192.0.2.1 table 100 ipproto 17 priority 16",
        "0 from 192.0.2.1 table 100 protocol 4 no_track priority 16",
        "0 from 2001:db8::/32 table 100 priority 17",
        "0 not from 192.0.2.1 table 100 priority 18",
        "0 from 192.0.2.1 blackhole priority 19",
        "0 from 192.0.2.1 prohibit priority 20",
        "0 from 192.0.2.1 unreachable priority 21",
        "0 from 192.0.2.1 table 100 preference 22",
        "0 from 192.0.2.1 table 100 order 23",
        "0 from 192.0.2.1 nop priority 24",
        "0 from 192.0.2.1 table 100 priority 25 no_track",
        "0 from 192.0.2.1 table 100 dev veth0 priority 26",
        "0 from 192.0.2.1 table 100 fwmark 16 priority 27",
        "5 from 192.0.2.1 table 100 uidrange 5 priority 28",
        "5 from 192.0.2.1 table 100 priority x",
        "5 from 192.0.2.1 table 100 tos 300 priority 29",
        "5 from 192.0.2.1 table 100 protocol bogus priority 30",
        "0 from 192.0.2.1 table 100 suppress_prefixlength 200 priority 31",
        "5 from 192.0.2.1/33 table 100 priority 32",
        "5 from bogus table 100 priority 33",
        "0 from 192.0.2.1 to 192.0.2.2 table 100 priority 34",
        "5 from 192.0.2.1 goto x priority 35",
        "5 from 192.0.2.1 table 100 priority 36 realms 70000",
        "5 from 192.0.2.1 table 100 priority 37 fwmark x",
        "5 from 192.0.2.1 table 100 priority 38 tun_id x",
        "0 from 192.0.2.1 table 100 priority 39 sup_pl 5",
        "5 from 192.0.2.1 table 100 priority 40 type blackhole",
        "5 from 192.0.2.1 priority 41 blackhole table 100",
        "0 from 192.0.2.1 table 100 priority 42 dport 90-80",
    ];
    const KA_ADDRS: &[&str] = &[
        "0 192.0.2.1/24 dev veth0",
        "0 192.0.2.1/24 dev veth0 brd 192.0.2.255",
        "0 192.0.2.2/24 dev veth0 broadcast +",
        "0 192.0.2.3 dev veth0 scope host",
        "0 192.0.2.4 dev veth0 label veth0:1",
        "0 2001:db8::9/64 dev veth0",
        "0 2001:db8::9/64 dev veth0 home mngtmpaddr noprefixroute autojoin -nodad preferred_lft 0",
        "0 192.0.2.5 dev veth0 preferred_lft 4294967295",
        "5 192.0.2.5 dev veth0 preferred_lft 4294967296",
        "0 192.0.2.6 dev veth0 peer 192.0.2.7",
        "0 192.0.2.6 dev veth0 no_track",
        "0 192.0.2.8 dev veth0 label abcdefghijklmno",
        "5 192.0.2.8 dev veth0 label abcdefghijklmnop",
        "0 192.0.2.9/0 dev veth0",
        "5 192.0.2.9/x dev veth0",
        "5 192.0.2.9/-1 dev veth0",
        "5 2001:db8::10/129 dev veth0",
        "5 192.0.2.10 dev veth0 scope -1",
        "5 192.0.2.11 dev veth0 brd x",
    ];

    #[test]
    fn verdicts_match_keepalived() {
        let mut wrong = Vec::new();
        for (lines, kind) in [(KA_ROUTES, 0), (KA_RULES, 1), (KA_ADDRS, 2)] {
            for l in lines {
                let (want, line) = l.split_at(1);
                let line = line.trim();
                let code = match kind {
                    0 => route(line).2,
                    1 => rule(line).2,
                    _ => addr(line, AddrContext::Static).2,
                };
                if code.to_string() != want {
                    wrong.push(format!("{line}: ours {code}, keepalived {want}"));
                }
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn rule_preferences_are_assigned_in_order() {
        let mut d = Diagnostics::new();
        let mut ctx = Ctx::new(&mut d);
        let mut rules: Vec<RuleSpec> = [
            "from 192.0.2.0/24 table 100",
            "to 192.0.2.0/24 table 100 priority 5",
            "from 192.0.2.1 table 100",
        ]
        .iter()
        .filter_map(|l| rule_line(&n(l), &mut ctx))
        .collect();
        let mut next = 16384;
        assign_missing_preferences(rules.iter_mut(), &mut next, &mut ctx);
        assert_eq!(
            rules.iter().map(|r| r.preference).collect::<Vec<_>>(),
            [Some(16384), Some(5), Some(16383)]
        );
        assert_eq!(d.items[0].message, "Rule has no preference specified - setting to 16384. This is probably not what you want.");
    }
}
