//! The checker child's configuration.
//!
//! `parse` holds the keyword tables of `virtual_server_group`, `virtual_server`,
//! `real_server` and `SSL`; `checker` those of the checker blocks; `finish` applies the
//! defaults and cross-checks keepalived runs after reading the file.
#![forbid(unsafe_code)]

pub mod checker;
mod finish;
pub mod parse;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::config::diagnostic::Span;

use super::{Config, Ctx, Kw, Script};

pub use checker::{Checker, CheckerKind};

/// Everything the checker child runs from.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckConfig {
    /// The root `SSL { }` block; `None` means the default TLS context.
    pub ssl: Option<SslConfig>,
    pub groups: Vec<VsGroup>,
    pub virtual_servers: Vec<VirtualServer>,
}

impl CheckConfig {
    pub fn group(&self, name: &str) -> Option<&VsGroup> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Every script the checker child may run (for the script-security check).
    pub fn scripts(&self) -> impl Iterator<Item = &Script> {
        self.virtual_servers.iter().flat_map(|vs| {
            vs.quorum_up
                .iter()
                .chain(vs.quorum_down.iter())
                .chain(vs.real_servers.iter().flat_map(|rs| {
                    rs.notify_up.iter().chain(rs.notify_down.iter()).chain(
                        rs.checkers.iter().filter_map(|c| match &c.kind {
                            CheckerKind::Misc(m) => Some(&m.path),
                            _ => None,
                        }),
                    )
                }))
        })
    }
}

/// `SSL { password ca certificate key }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SslConfig {
    pub password: Option<String>,
    pub ca: Option<String>,
    pub certificate: Option<String>,
    pub key: Option<String>,
}

/// An address family given with `ip_family` or `fwmark N inet|inet6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Family {
    Inet,
    Inet6,
}

impl Family {
    pub fn of(ip: &IpAddr) -> Family {
        if ip.is_ipv4() {
            Family::Inet
        } else {
            Family::Inet6
        }
    }
}

/// `virtual_server_group NAME {... }`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VsGroup {
    pub name: String,
    pub entries: Vec<VsgEntry>,
    pub span: Span,
}

/// One line of a virtual server group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum VsgEntry {
    /// `IP [PORT]`, `IP-RANGE [PORT]`, `IP/LEN [PORT]`: addresses `first..=last`
    /// (equal for a single address); port 0 when not given.
    Addrs {
        first: IpAddr,
        last: IpAddr,
        port: u16,
    },
    /// `fwmark N [inet|inet6]`.
    Fwmark { mark: u32, family: Option<Family> },
}

/// The header of a `virtual_server`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub enum VsAddr {
    Addr { ip: IpAddr, port: u16 },
    Fwmark(u32),
    Group(String),
}

/// IPVS service protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// IPVS schedulers keepalived 2.2.7 accepts (`lb_algo` / `lvs_sched`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Scheduler {
    Rr,
    Wrr,
    Lc,
    Wlc,
    Lblc,
    Lblcr,
    Sh,
    Mh,
    Dh,
    Fo,
    Ovf,
    Sed,
    Nq,
    Twos,
}

impl Scheduler {
    pub const ALL: [Scheduler; 14] = [
        Scheduler::Rr,
        Scheduler::Wrr,
        Scheduler::Lc,
        Scheduler::Wlc,
        Scheduler::Lblc,
        Scheduler::Lblcr,
        Scheduler::Sh,
        Scheduler::Mh,
        Scheduler::Dh,
        Scheduler::Fo,
        Scheduler::Ovf,
        Scheduler::Sed,
        Scheduler::Nq,
        Scheduler::Twos,
    ];

    /// The kernel's scheduler name.
    pub fn name(self) -> &'static str {
        match self {
            Scheduler::Rr => "rr",
            Scheduler::Wrr => "wrr",
            Scheduler::Lc => "lc",
            Scheduler::Wlc => "wlc",
            Scheduler::Lblc => "lblc",
            Scheduler::Lblcr => "lblcr",
            Scheduler::Sh => "sh",
            Scheduler::Mh => "mh",
            Scheduler::Dh => "dh",
            Scheduler::Fo => "fo",
            Scheduler::Ovf => "ovf",
            Scheduler::Sed => "sed",
            Scheduler::Nq => "nq",
            Scheduler::Twos => "twos",
        }
    }

    pub fn parse(s: &str) -> Option<Scheduler> {
        Scheduler::ALL.into_iter().find(|x| x.name() == s)
    }
}

/// Tunnel encapsulation of `TUN` forwarding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TunnelType {
    Ipip,
    Gue { port: u16 },
    Gre,
}

/// Tunnel checksum option (`nocsum|csum|remcsum`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TunnelCsum {
    NoCsum,
    Csum,
    RemCsum,
}

/// Forwarding method (`lb_kind` / `lvs_method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Forwarding {
    Nat,
    Dr,
    Tun {
        tunnel: TunnelType,
        csum: Option<TunnelCsum>,
    },
}

impl Forwarding {
    pub fn is_tunnel(&self) -> bool {
        matches!(self, Forwarding::Tun { .. })
    }
}

/// `persistence_granularity`: an IPv4 netmask or an IPv6 prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Granularity {
    Netmask(std::net::Ipv4Addr),
    Prefix(u8),
}

/// IPVS service flags set by `ops`, `flag-N`, `sh-*`, `mh-*`, `hashed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SchedFlags {
    /// `ops`: one-packet scheduling (UDP only).
    pub one_packet: bool,
    /// IP_VS_SVC_F_SCHED1 (`flag-1`, `sh-fallback`, `mh-fallback`).
    pub sched1: bool,
    /// IP_VS_SVC_F_SCHED2 (`flag-2`, `sh-port`, `mh-port`).
    pub sched2: bool,
    /// IP_VS_SVC_F_SCHED3 (`flag-3`).
    pub sched3: bool,
    /// `hashed`: accepted, no effect.
    pub hashed: bool,
}

/// The sorry server of a virtual server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SorryServer {
    pub ip: IpAddr,
    pub port: u16,
    pub inhibit: bool,
    /// `sorry_server_lvs_method`; `None` = the virtual server's method.
    pub method: Option<Forwarding>,
    pub span: Span,
}

/// `virtual_server`. After `finish`, `protocol`, `scheduler` and `method` hold
/// keepalived's defaults where they were not configured.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VirtualServer {
    pub addr: VsAddr,
    pub protocol: Option<Protocol>,
    pub scheduler: Option<Scheduler>,
    pub method: Option<Forwarding>,
    /// Seconds; 0 = not persistent.
    pub persistence_timeout: u32,
    pub persistence_granularity: Option<Granularity>,
    pub persistence_engine: Option<String>,
    pub delay_loop: Duration,
    pub connect_timeout: Option<Duration>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub warmup: Option<Duration>,
    pub inhibit_on_failure: bool,
    pub alpha: bool,
    pub omega: bool,
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_up: Option<Script>,
    pub quorum_down: Option<Script>,
    pub sorry_server: Option<SorryServer>,
    /// Default real server weight.
    pub weight: u32,
    pub ha_suspend: bool,
    /// `None` = use `smtp_alert_checker` / `smtp_alert` of global_defs.
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
    pub family: Option<Family>,
    pub flags: SchedFlags,
    pub snmp_name: Option<String>,
    pub real_servers: Vec<RealServer>,
    pub span: Span,
}

pub const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// `persistence_timeout` without a value, and the timeout forced by port 0.
pub const DEFAULT_PERSISTENCE: u32 = 360;

impl VirtualServer {
    pub fn new(addr: VsAddr, span: Span) -> Self {
        VirtualServer {
            addr,
            protocol: None,
            scheduler: None,
            method: None,
            persistence_timeout: 0,
            persistence_granularity: None,
            persistence_engine: None,
            delay_loop: DEFAULT_DELAY_LOOP,
            connect_timeout: None,
            retry: None,
            delay_before_retry: None,
            warmup: None,
            inhibit_on_failure: false,
            alpha: false,
            omega: false,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            sorry_server: None,
            weight: 1,
            ha_suspend: false,
            smtp_alert: None,
            virtualhost: None,
            family: None,
            flags: SchedFlags::default(),
            snmp_name: None,
            real_servers: Vec::new(),
            span,
        }
    }

    /// The port of an address or group service (0 for fwmark).
    pub fn port(&self) -> u16 {
        match self.addr {
            VsAddr::Addr { port, .. } => port,
            _ => 0,
        }
    }

    pub fn is_fwmark(&self) -> bool {
        matches!(self.addr, VsAddr::Fwmark(_))
    }

    /// How keepalived names this service in logs: `[ip]:tcp:port`, `FWM n`, `[group]:port`.
    pub fn display(&self) -> VsDisplay<'_> {
        VsDisplay(self)
    }

    /// The name of a real server of this service in logs: `[ip]:tcp:port`.
    pub fn rs_display(&self, rs: &RealServer) -> SvcDisplay {
        SvcDisplay {
            ip: rs.ip,
            protocol: self.proto_for_log(),
            port: rs.port,
        }
    }

    /// Whether quorum changes send mail: the VS setting, else global_defs
    /// `smtp_alert_checker`, else `smtp_alert`, else off.
    pub fn smtp_alert_effective(&self, checker: Option<bool>, global: Option<bool>) -> bool {
        self.smtp_alert.or(checker).or(global).unwrap_or(false)
    }

    fn proto_for_log(&self) -> Option<Protocol> {
        if self.is_fwmark() {
            None
        } else {
            self.protocol
        }
    }
}

/// `[ip]:proto:port` as keepalived logs a service address (`none` without a protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SvcDisplay {
    pub ip: IpAddr,
    pub protocol: Option<Protocol>,
    pub port: u16,
}

impl fmt::Display for SvcDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}]:{}:{}",
            self.ip,
            self.protocol.map(Protocol::as_str).unwrap_or("none"),
            self.port
        )
    }
}

/// See [`VirtualServer::display`].
pub struct VsDisplay<'a>(&'a VirtualServer);

impl fmt::Display for VsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vs = self.0;
        match &vs.addr {
            VsAddr::Addr { ip, port } => SvcDisplay {
                ip: *ip,
                protocol: vs.protocol,
                port: *port,
            }
            .fmt(f),
            VsAddr::Fwmark(m) => write!(f, "FWM {m}"),
            VsAddr::Group(g) => write!(f, "[{g}]:{}", vs.port()),
        }
    }
}

/// `real_server IP [PORT] { ... }`. After `finish`, the inherited values are resolved.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RealServer {
    pub ip: IpAddr,
    /// 0 when not given (then the VS port).
    pub port: u16,
    /// `None` until `finish`: the VS `weight`.
    pub weight: Option<u32>,
    pub method: Option<Forwarding>,
    pub inhibit_on_failure: Option<bool>,
    pub notify_up: Option<Script>,
    pub notify_down: Option<Script>,
    pub uthreshold: u32,
    pub lthreshold: u32,
    pub alpha: Option<bool>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub warmup: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub delay_loop: Option<Duration>,
    /// `None` = global setting, else true (the real-server default differs from the VS one).
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
    pub snmp_name: Option<String>,
    pub checkers: Vec<Checker>,
    pub span: Span,
}

impl RealServer {
    pub fn new(ip: IpAddr, port: u16, span: Span) -> Self {
        RealServer {
            ip,
            port,
            weight: None,
            method: None,
            inhibit_on_failure: None,
            notify_up: None,
            notify_down: None,
            uthreshold: 0,
            lthreshold: 0,
            alpha: None,
            retry: None,
            delay_before_retry: None,
            warmup: None,
            connect_timeout: None,
            delay_loop: None,
            smtp_alert: None,
            virtualhost: None,
            snmp_name: None,
            checkers: Vec::new(),
            span,
        }
    }

    /// Whether RS state changes send mail: as for the VS, but on by default.
    pub fn smtp_alert_effective(&self, checker: Option<bool>, global: Option<bool>) -> bool {
        self.smtp_alert.or(checker).or(global).unwrap_or(true)
    }

    /// The effective weight (the VS default applies when not configured).
    pub fn weight_or(&self, vs: &VirtualServer) -> u32 {
        self.weight.unwrap_or(vs.weight)
    }
}

/// Root-level keywords owned by this module.
pub static ROOT: &[Kw<Config>] = &[
    Kw::new("SSL", parse::ssl_block),
    Kw::new("virtual_server_group", parse::vsg_block),
    Kw::new("virtual_server", parse::vs_block),
];

/// Defaults that depend on other settings, and cross-checks.
pub fn finish(cfg: &mut Config, ctx: &mut Ctx) {
    finish::finish(&mut cfg.check, ctx);
}
