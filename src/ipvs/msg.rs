//! IPVS generic-netlink messages and the typed service/destination/daemon
//! values built from them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_packet_core::{DecodeError, Emitable, ParseableParametrized};
use netlink_packet_generic::{GenlFamily, GenlHeader};

use super::attr::{parse_nlas, CmdAttr, DaemonAttr, DestAttr, Flags, Stats, SvcAttr};

/// Generic-netlink family name and version (`IPVS_GENL_NAME`, `IPVS_GENL_VERSION`).
pub const IPVS_GENL_NAME: &str = "IPVS";
pub const IPVS_GENL_VERSION: u8 = 1;

pub const AF_INET: u16 = libc::AF_INET as u16;
pub const AF_INET6: u16 = libc::AF_INET6 as u16;

// Service flags (IP_VS_SVC_F_*).
pub const IP_VS_SVC_F_PERSISTENT: u32 = 0x0001;
pub const IP_VS_SVC_F_HASHED: u32 = 0x0002;
pub const IP_VS_SVC_F_ONEPACKET: u32 = 0x0004;
pub const IP_VS_SVC_F_SCHED1: u32 = 0x0008;
pub const IP_VS_SVC_F_SCHED2: u32 = 0x0010;
pub const IP_VS_SVC_F_SCHED3: u32 = 0x0020;

// Forwarding methods (IP_VS_CONN_F_*).
pub const IP_VS_CONN_F_FWD_MASK: u32 = 0x0007;
pub const IP_VS_CONN_F_MASQ: u32 = 0;
pub const IP_VS_CONN_F_LOCALNODE: u32 = 1;
pub const IP_VS_CONN_F_TUNNEL: u32 = 2;
pub const IP_VS_CONN_F_DROUTE: u32 = 3;

// Tunnel encapsulation flags (IP_VS_TUNNEL_ENCAP_FLAG_*).
pub const IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM: u16 = 0;
pub const IP_VS_TUNNEL_ENCAP_FLAG_CSUM: u16 = 1;
pub const IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM: u16 = 2;

/// IPVS_CMD_* commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpvsCmd {
    NewService,
    SetService,
    DelService,
    GetService,
    NewDest,
    SetDest,
    DelDest,
    GetDest,
    NewDaemon,
    DelDaemon,
    GetDaemon,
    SetConfig,
    GetConfig,
    SetInfo,
    GetInfo,
    Zero,
    Flush,
    Other(u8),
}

impl From<IpvsCmd> for u8 {
    fn from(c: IpvsCmd) -> u8 {
        use IpvsCmd::*;
        match c {
            NewService => 1,
            SetService => 2,
            DelService => 3,
            GetService => 4,
            NewDest => 5,
            SetDest => 6,
            DelDest => 7,
            GetDest => 8,
            NewDaemon => 9,
            DelDaemon => 10,
            GetDaemon => 11,
            SetConfig => 12,
            GetConfig => 13,
            SetInfo => 14,
            GetInfo => 15,
            Zero => 16,
            Flush => 17,
            Other(n) => n,
        }
    }
}

impl From<u8> for IpvsCmd {
    fn from(n: u8) -> IpvsCmd {
        use IpvsCmd::*;
        match n {
            1 => NewService,
            2 => SetService,
            3 => DelService,
            4 => GetService,
            5 => NewDest,
            6 => SetDest,
            7 => DelDest,
            8 => GetDest,
            9 => NewDaemon,
            10 => DelDaemon,
            11 => GetDaemon,
            12 => SetConfig,
            13 => GetConfig,
            14 => SetInfo,
            15 => GetInfo,
            16 => Zero,
            17 => Flush,
            n => Other(n),
        }
    }
}

/// One IPVS generic-netlink message: a command and its attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpvsMessage {
    pub cmd: IpvsCmd,
    pub attrs: Vec<CmdAttr>,
}

impl IpvsMessage {
    pub fn new(cmd: IpvsCmd, attrs: Vec<CmdAttr>) -> Self {
        IpvsMessage { cmd, attrs }
    }

    /// The attributes of the first `IPVS_CMD_ATTR_SERVICE` nest, if any.
    pub fn service_attrs(&self) -> Option<&[SvcAttr]> {
        self.attrs.iter().find_map(|a| match a {
            CmdAttr::Service(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The attributes of the first `IPVS_CMD_ATTR_DEST` nest, if any.
    pub fn dest_attrs(&self) -> Option<&[DestAttr]> {
        self.attrs.iter().find_map(|a| match a {
            CmdAttr::Dest(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// The attributes of the first `IPVS_CMD_ATTR_DAEMON` nest, if any.
    pub fn daemon_attrs(&self) -> Option<&[DaemonAttr]> {
        self.attrs.iter().find_map(|a| match a {
            CmdAttr::Daemon(v) => Some(v.as_slice()),
            _ => None,
        })
    }

    /// Serializes the generic-netlink payload (genl header + attributes).
    pub fn to_genl_bytes(&self) -> Vec<u8> {
        let header = GenlHeader {
            cmd: self.command(),
            version: self.version(),
        };
        let mut out = vec![0u8; header.buffer_len() + self.buffer_len()];
        let (h, rest) = out.split_at_mut(header.buffer_len());
        header.emit(h);
        self.emit(rest);
        out
    }

    /// Parses a generic-netlink payload (genl header + attributes).
    pub fn from_genl_bytes(buf: &[u8]) -> Result<Self, DecodeError> {
        let header = GenlHeader::parse(buf)?;
        let rest = buf.get(4..).unwrap_or_default();
        Self::parse_with_param(rest, header)
    }
}

impl GenlFamily for IpvsMessage {
    fn family_name() -> &'static str {
        IPVS_GENL_NAME
    }

    fn command(&self) -> u8 {
        self.cmd.into()
    }

    fn version(&self) -> u8 {
        IPVS_GENL_VERSION
    }
}

impl Emitable for IpvsMessage {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMessage {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> Result<Self, DecodeError> {
        let cmd = IpvsCmd::from(header.cmd);
        let info = matches!(cmd, IpvsCmd::GetInfo | IpvsCmd::SetInfo);
        Ok(IpvsMessage {
            cmd,
            attrs: parse_nlas(buf, |nla| CmdAttr::parse(nla, info))?,
        })
    }
}

/// Address family of a service or destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Inet,
    Inet6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Inet,
            IpAddr::V6(_) => Family::Inet6,
        }
    }

    pub fn to_af(self) -> u16 {
        match self {
            Family::Inet => AF_INET,
            Family::Inet6 => AF_INET6,
        }
    }

    pub fn from_af(af: u16) -> Option<Family> {
        match af {
            AF_INET => Some(Family::Inet),
            AF_INET6 => Some(Family::Inet6),
            _ => None,
        }
    }
}

/// Virtual service protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
    Other(u16),
}

impl Protocol {
    pub fn to_raw(self) -> u16 {
        match self {
            Protocol::Tcp => libc::IPPROTO_TCP as u16,
            Protocol::Udp => libc::IPPROTO_UDP as u16,
            Protocol::Sctp => libc::IPPROTO_SCTP as u16,
            Protocol::Other(n) => n,
        }
    }

    pub fn from_raw(n: u16) -> Protocol {
        match i32::from(n) {
            libc::IPPROTO_TCP => Protocol::Tcp,
            libc::IPPROTO_UDP => Protocol::Udp,
            libc::IPPROTO_SCTP => Protocol::Sctp,
            _ => Protocol::Other(n),
        }
    }
}

/// How a virtual service is identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKey {
    Addr {
        protocol: Protocol,
        addr: IpAddr,
        port: u16,
    },
    Fwmark(u32),
}

/// An IPVS virtual service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub af: Family,
    pub key: ServiceKey,
    pub sched_name: String,
    /// IP_VS_SVC_F_* (the kernel's own `HASHED` is dropped from dumps).
    pub flags: u32,
    /// Persistence timeout in seconds (0: not persistent).
    pub timeout: u32,
    /// IPv4: the persistence mask as a number (0xffff_ff00 for /24); IPv6:
    /// the prefix length.
    pub netmask: u32,
    pub pe_name: Option<String>,
}

fn addr_bytes(addr: &IpAddr) -> Vec<u8> {
    // union nf_inet_addr is 16 bytes; libipvs always sends all of it.
    let mut b = vec![0u8; 16];
    match addr {
        IpAddr::V4(a) => b[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => b.copy_from_slice(&a.octets()),
    }
    b
}

fn parse_addr(af: Family, b: &[u8]) -> Result<IpAddr, DecodeError> {
    match af {
        Family::Inet => {
            let o: [u8; 4] = b
                .get(..4)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| DecodeError::from("IPVS IPv4 address too short"))?;
            Ok(IpAddr::V4(Ipv4Addr::from(o)))
        }
        Family::Inet6 => {
            let o: [u8; 16] = b
                .get(..16)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| DecodeError::from("IPVS IPv6 address too short"))?;
            Ok(IpAddr::V6(Ipv6Addr::from(o)))
        }
    }
}

impl Service {
    /// A service on `protocol addr:port` with scheduler `sched` and the
    /// kernel's defaults (not persistent, full netmask).
    pub fn new(protocol: Protocol, addr: IpAddr, port: u16, sched: &str) -> Self {
        let af = Family::of(&addr);
        Service {
            af,
            key: ServiceKey::Addr {
                protocol,
                addr,
                port,
            },
            sched_name: sched.to_string(),
            flags: 0,
            timeout: 0,
            netmask: Self::full_netmask(af),
            pe_name: None,
        }
    }

    /// A firewall-mark service.
    pub fn fwmark(af: Family, mark: u32, sched: &str) -> Self {
        Service {
            af,
            key: ServiceKey::Fwmark(mark),
            sched_name: sched.to_string(),
            flags: 0,
            timeout: 0,
            netmask: Self::full_netmask(af),
            pe_name: None,
        }
    }

    pub fn full_netmask(af: Family) -> u32 {
        match af {
            Family::Inet => u32::MAX,
            Family::Inet6 => 128,
        }
    }

    fn netmask_bytes(&self) -> [u8; 4] {
        match self.af {
            Family::Inet => self.netmask.to_be_bytes(),
            Family::Inet6 => self.netmask.to_ne_bytes(),
        }
    }

    /// Just the attributes that identify the service (DEL_SERVICE, GET_DEST...).
    pub fn key_attrs(&self) -> Vec<SvcAttr> {
        let mut v = vec![SvcAttr::Af(self.af.to_af())];
        match self.key {
            ServiceKey::Addr {
                protocol,
                addr,
                port,
            } => {
                v.push(SvcAttr::Protocol(protocol.to_raw()));
                v.push(SvcAttr::Addr(addr_bytes(&addr)));
                v.push(SvcAttr::Port(port));
            }
            ServiceKey::Fwmark(m) => v.push(SvcAttr::Fwmark(m)),
        }
        v
    }

    /// All attributes (NEW_SERVICE / SET_SERVICE).
    pub fn to_attrs(&self) -> Vec<SvcAttr> {
        let mut v = self.key_attrs();
        v.push(SvcAttr::SchedName(self.sched_name.clone()));
        if let Some(pe) = &self.pe_name {
            v.push(SvcAttr::PeName(pe.clone()));
        }
        // All flags are ours to set, as libipvs does (mask ~0).
        v.push(SvcAttr::Flags(Flags {
            flags: self.flags,
            mask: u32::MAX,
        }));
        v.push(SvcAttr::Timeout(self.timeout));
        v.push(SvcAttr::Netmask(self.netmask_bytes()));
        v
    }

    /// Builds a service from a kernel dump (or our own message). Missing
    /// identity attributes are an error; missing others take kernel defaults.
    pub fn from_attrs(attrs: &[SvcAttr]) -> Result<Self, DecodeError> {
        let mut af = None;
        let (mut protocol, mut addr, mut port, mut fwmark) = (None, None, None, None);
        let mut sched_name = String::new();
        let (mut flags, mut timeout, mut netmask, mut pe_name) = (0, 0, None, None);
        for a in attrs {
            match a {
                SvcAttr::Af(v) => af = Some(*v),
                SvcAttr::Protocol(v) => protocol = Some(*v),
                SvcAttr::Addr(v) => addr = Some(v.as_slice()),
                SvcAttr::Port(v) => port = Some(*v),
                SvcAttr::Fwmark(v) => fwmark = Some(*v),
                SvcAttr::SchedName(v) => sched_name = v.clone(),
                SvcAttr::Flags(f) => flags = f.flags & !IP_VS_SVC_F_HASHED,
                SvcAttr::Timeout(v) => timeout = *v,
                SvcAttr::Netmask(v) => netmask = Some(*v),
                SvcAttr::PeName(v) => pe_name = Some(v.clone()),
                SvcAttr::Stats(_) | SvcAttr::Stats64(_) | SvcAttr::Other(_) => {}
            }
        }
        let af = af
            .and_then(Family::from_af)
            .ok_or_else(|| DecodeError::from("IPVS service without a known address family"))?;
        let key = match (fwmark, protocol, addr, port) {
            (Some(m), _, _, _) if m != 0 => ServiceKey::Fwmark(m),
            (_, Some(p), Some(a), Some(port)) => ServiceKey::Addr {
                protocol: Protocol::from_raw(p),
                addr: parse_addr(af, a)?,
                port,
            },
            _ => return Err(DecodeError::from("IPVS service without address or fwmark")),
        };
        let netmask = match (netmask, af) {
            (Some(b), Family::Inet) => u32::from_be_bytes(b),
            (Some(b), Family::Inet6) => u32::from_ne_bytes(b),
            (None, af) => Self::full_netmask(af),
        };
        Ok(Service {
            af,
            key,
            sched_name,
            flags,
            timeout,
            netmask,
            pe_name,
        })
    }
}

/// A service as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    pub service: Service,
    /// Prefers the 64-bit counters when the kernel sends them.
    pub stats: Stats,
}

impl ServiceEntry {
    pub fn from_attrs(attrs: &[SvcAttr]) -> Result<Self, DecodeError> {
        let mut stats = Stats::default();
        let mut have64 = false;
        for a in attrs {
            match a {
                SvcAttr::Stats64(s) => {
                    stats = *s;
                    have64 = true;
                }
                SvcAttr::Stats(s) if !have64 => stats = *s,
                _ => {}
            }
        }
        Ok(ServiceEntry {
            service: Service::from_attrs(attrs)?,
            stats,
        })
    }
}

/// Tunnel encapsulation (IP_VS_CONN_F_TUNNEL_TYPE_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TunnelType {
    Ipip,
    Gue,
    Gre,
    Other(u8),
}

impl TunnelType {
    pub fn to_raw(self) -> u8 {
        match self {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
            TunnelType::Other(n) => n,
        }
    }

    pub fn from_raw(n: u8) -> Self {
        match n {
            0 => TunnelType::Ipip,
            1 => TunnelType::Gue,
            2 => TunnelType::Gre,
            n => TunnelType::Other(n),
        }
    }
}

/// Forwarding method of a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fwd {
    /// NAT.
    Masq,
    Local,
    /// Direct routing.
    Route,
    /// `port` is the GUE port; `flags` are IP_VS_TUNNEL_ENCAP_FLAG_*.
    Tunnel {
        tun_type: TunnelType,
        port: u16,
        flags: u16,
    },
    Other(u32),
}

impl Fwd {
    pub fn to_raw(self) -> u32 {
        match self {
            Fwd::Masq => IP_VS_CONN_F_MASQ,
            Fwd::Local => IP_VS_CONN_F_LOCALNODE,
            Fwd::Route => IP_VS_CONN_F_DROUTE,
            Fwd::Tunnel { .. } => IP_VS_CONN_F_TUNNEL,
            Fwd::Other(n) => n,
        }
    }
}

/// An IPVS destination (real server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dest {
    pub addr: IpAddr,
    pub port: u16,
    pub fwd: Fwd,
    pub weight: u32,
    pub u_thresh: u32,
    pub l_thresh: u32,
}

impl Dest {
    pub fn new(addr: IpAddr, port: u16, fwd: Fwd, weight: u32) -> Self {
        Dest {
            addr,
            port,
            fwd,
            weight,
            u_thresh: 0,
            l_thresh: 0,
        }
    }

    /// The destination's own family (may differ from the service's for
    /// tunnels).
    pub fn af(&self) -> Family {
        Family::of(&self.addr)
    }

    /// Just the attributes that identify it (DEL_DEST).
    pub fn key_attrs(&self) -> Vec<DestAttr> {
        vec![
            DestAttr::AddrFamily(self.af().to_af()),
            DestAttr::Addr(addr_bytes(&self.addr)),
            DestAttr::Port(self.port),
        ]
    }

    /// All attributes (NEW_DEST / SET_DEST).
    pub fn to_attrs(&self) -> Vec<DestAttr> {
        let mut v = self.key_attrs();
        v.push(DestAttr::FwdMethod(self.fwd.to_raw()));
        if let Fwd::Tunnel {
            tun_type,
            port,
            flags,
        } = self.fwd
        {
            v.push(DestAttr::TunType(tun_type.to_raw()));
            v.push(DestAttr::TunPort(port));
            v.push(DestAttr::TunFlags(flags));
        }
        v.push(DestAttr::Weight(self.weight));
        v.push(DestAttr::UThresh(self.u_thresh));
        v.push(DestAttr::LThresh(self.l_thresh));
        v
    }

    /// `svc_af` is used when the kernel does not report the destination's
    /// own family (kernels before 4.2).
    pub fn from_attrs(attrs: &[DestAttr], svc_af: Family) -> Result<Self, DecodeError> {
        let (mut addr, mut port, mut fwd, mut af) = (None, 0, 0, None);
        let (mut weight, mut u_thresh, mut l_thresh) = (0, 0, 0);
        let (mut tun_type, mut tun_port, mut tun_flags) = (0, 0, 0);
        for a in attrs {
            match a {
                DestAttr::Addr(v) => addr = Some(v.as_slice()),
                DestAttr::Port(v) => port = *v,
                DestAttr::FwdMethod(v) => fwd = *v,
                DestAttr::Weight(v) => weight = *v,
                DestAttr::UThresh(v) => u_thresh = *v,
                DestAttr::LThresh(v) => l_thresh = *v,
                DestAttr::AddrFamily(v) => af = Family::from_af(*v),
                DestAttr::TunType(v) => tun_type = *v,
                DestAttr::TunPort(v) => tun_port = *v,
                DestAttr::TunFlags(v) => tun_flags = *v,
                _ => {}
            }
        }
        let addr = addr.ok_or_else(|| DecodeError::from("IPVS destination without address"))?;
        let addr = parse_addr(af.unwrap_or(svc_af), addr)?;
        let fwd = match fwd & IP_VS_CONN_F_FWD_MASK {
            IP_VS_CONN_F_MASQ => Fwd::Masq,
            IP_VS_CONN_F_LOCALNODE => Fwd::Local,
            IP_VS_CONN_F_DROUTE => Fwd::Route,
            IP_VS_CONN_F_TUNNEL => Fwd::Tunnel {
                tun_type: TunnelType::from_raw(tun_type),
                port: tun_port,
                flags: tun_flags,
            },
            n => Fwd::Other(n),
        };
        Ok(Dest {
            addr,
            port,
            fwd,
            weight,
            u_thresh,
            l_thresh,
        })
    }
}

/// A destination as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestEntry {
    pub dest: Dest,
    pub active_conns: u32,
    pub inact_conns: u32,
    pub persist_conns: u32,
    pub stats: Stats,
}

impl DestEntry {
    pub fn from_attrs(attrs: &[DestAttr], svc_af: Family) -> Result<Self, DecodeError> {
        let mut e = DestEntry {
            dest: Dest::from_attrs(attrs, svc_af)?,
            active_conns: 0,
            inact_conns: 0,
            persist_conns: 0,
            stats: Stats::default(),
        };
        let mut have64 = false;
        for a in attrs {
            match a {
                DestAttr::ActiveConns(v) => e.active_conns = *v,
                DestAttr::InactConns(v) => e.inact_conns = *v,
                DestAttr::PersistConns(v) => e.persist_conns = *v,
                DestAttr::Stats64(s) => {
                    e.stats = *s;
                    have64 = true;
                }
                DestAttr::Stats(s) if !have64 => e.stats = *s,
                _ => {}
            }
        }
        Ok(e)
    }
}

/// Sync daemon role (IP_VS_STATE_*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DaemonState {
    Master,
    Backup,
}

impl DaemonState {
    pub fn to_raw(self) -> u32 {
        match self {
            DaemonState::Master => 1,
            DaemonState::Backup => 2,
        }
    }

    pub fn from_raw(n: u32) -> Option<Self> {
        match n {
            1 => Some(DaemonState::Master),
            2 => Some(DaemonState::Backup),
            _ => None,
        }
    }
}

/// An IPVS connection-sync daemon (`lvs_sync_daemon`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncDaemon {
    pub state: DaemonState,
    pub mcast_ifn: String,
    pub sync_id: u32,
    pub sync_maxlen: Option<u16>,
    pub mcast_group: Option<IpAddr>,
    pub mcast_port: Option<u16>,
    pub mcast_ttl: Option<u8>,
}

impl SyncDaemon {
    pub fn new(state: DaemonState, mcast_ifn: &str, sync_id: u32) -> Self {
        SyncDaemon {
            state,
            mcast_ifn: mcast_ifn.to_string(),
            sync_id,
            sync_maxlen: None,
            mcast_group: None,
            mcast_port: None,
            mcast_ttl: None,
        }
    }

    pub fn to_attrs(&self) -> Vec<DaemonAttr> {
        let mut v = vec![
            DaemonAttr::State(self.state.to_raw()),
            DaemonAttr::McastIfn(self.mcast_ifn.clone()),
            DaemonAttr::SyncId(self.sync_id),
        ];
        if let Some(m) = self.sync_maxlen {
            v.push(DaemonAttr::SyncMaxlen(m));
        }
        match self.mcast_group {
            Some(IpAddr::V4(a)) => v.push(DaemonAttr::McastGroup(a.octets())),
            Some(IpAddr::V6(a)) => v.push(DaemonAttr::McastGroup6(a.octets())),
            None => {}
        }
        if let Some(p) = self.mcast_port {
            v.push(DaemonAttr::McastPort(p));
        }
        if let Some(t) = self.mcast_ttl {
            v.push(DaemonAttr::McastTtl(t));
        }
        v
    }

    pub fn from_attrs(attrs: &[DaemonAttr]) -> Result<Self, DecodeError> {
        let mut state = None;
        let mut d = SyncDaemon::new(DaemonState::Master, "", 0);
        for a in attrs {
            match a {
                DaemonAttr::State(s) => state = DaemonState::from_raw(*s),
                DaemonAttr::McastIfn(s) => d.mcast_ifn = s.clone(),
                DaemonAttr::SyncId(v) => d.sync_id = *v,
                DaemonAttr::SyncMaxlen(v) => d.sync_maxlen = Some(*v),
                DaemonAttr::McastGroup(a) => d.mcast_group = Some(IpAddr::from(*a)),
                DaemonAttr::McastGroup6(a) => d.mcast_group = Some(IpAddr::from(*a)),
                DaemonAttr::McastPort(v) => d.mcast_port = Some(*v),
                DaemonAttr::McastTtl(v) => d.mcast_ttl = Some(*v),
                DaemonAttr::Other(_) => {}
            }
        }
        d.state = state.ok_or_else(|| DecodeError::from("IPVS daemon without a known state"))?;
        Ok(d)
    }
}

/// Connection timeouts in seconds (`lvs_timeouts`); 0 leaves one unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

impl Timeouts {
    pub fn to_attrs(&self) -> Vec<CmdAttr> {
        vec![
            CmdAttr::TimeoutTcp(self.tcp),
            CmdAttr::TimeoutTcpFin(self.tcp_fin),
            CmdAttr::TimeoutUdp(self.udp),
        ]
    }

    pub fn from_attrs(attrs: &[CmdAttr]) -> Self {
        let mut t = Timeouts::default();
        for a in attrs {
            match a {
                CmdAttr::TimeoutTcp(v) => t.tcp = *v,
                CmdAttr::TimeoutTcpFin(v) => t.tcp_fin = *v,
                CmdAttr::TimeoutUdp(v) => t.udp = *v,
                _ => {}
            }
        }
        t
    }
}

/// GET_INFO reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Info {
    /// IP_VS_VERSION_CODE, e.g. 0x010201 for 1.2.1.
    pub version: u32,
    pub conn_tab_size: u32,
}

impl Info {
    pub fn from_attrs(attrs: &[CmdAttr]) -> Self {
        let mut i = Info::default();
        for a in attrs {
            match a {
                CmdAttr::InfoVersion(v) => i.version = *v,
                CmdAttr::InfoConnTabSize(v) => i.conn_tab_size = *v,
                _ => {}
            }
        }
        i
    }

    /// "1.2.1", as ipvsadm prints it.
    pub fn version_string(&self) -> String {
        let v = self.version;
        format!("{}.{}.{}", (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff)
    }
}
