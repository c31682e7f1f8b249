//! IPVS generic-netlink attributes (linux/include/uapi/linux/ip_vs.h).
//!
//! Every nest keeps attributes it does not know as `Other(DefaultNla)`, so a
//! newer kernel's additions round-trip and malformed input is an error, never a
//! panic.

use netlink_packet_core::{
    emit_u16, emit_u16_be, emit_u32, parse_string, parse_u16, parse_u16_be, parse_u32, parse_u64,
    parse_u8, DecodeError, DefaultNla, Emitable, Nla, NlaBuffer, NlasIterator, Parseable,
    NLA_F_NESTED,
};

// IPVS_CMD_ATTR_*
pub const IPVS_CMD_ATTR_SERVICE: u16 = 1;
pub const IPVS_CMD_ATTR_DEST: u16 = 2;
pub const IPVS_CMD_ATTR_DAEMON: u16 = 3;
pub const IPVS_CMD_ATTR_TIMEOUT_TCP: u16 = 4;
pub const IPVS_CMD_ATTR_TIMEOUT_TCP_FIN: u16 = 5;
pub const IPVS_CMD_ATTR_TIMEOUT_UDP: u16 = 6;

// IPVS_SVC_ATTR_*
pub const IPVS_SVC_ATTR_AF: u16 = 1;
pub const IPVS_SVC_ATTR_PROTOCOL: u16 = 2;
pub const IPVS_SVC_ATTR_ADDR: u16 = 3;
pub const IPVS_SVC_ATTR_PORT: u16 = 4;
pub const IPVS_SVC_ATTR_FWMARK: u16 = 5;
pub const IPVS_SVC_ATTR_SCHED_NAME: u16 = 6;
pub const IPVS_SVC_ATTR_FLAGS: u16 = 7;
pub const IPVS_SVC_ATTR_TIMEOUT: u16 = 8;
pub const IPVS_SVC_ATTR_NETMASK: u16 = 9;
pub const IPVS_SVC_ATTR_STATS: u16 = 10;
pub const IPVS_SVC_ATTR_PE_NAME: u16 = 11;
pub const IPVS_SVC_ATTR_STATS64: u16 = 12;

// IPVS_DEST_ATTR_*
pub const IPVS_DEST_ATTR_ADDR: u16 = 1;
pub const IPVS_DEST_ATTR_PORT: u16 = 2;
pub const IPVS_DEST_ATTR_FWD_METHOD: u16 = 3;
pub const IPVS_DEST_ATTR_WEIGHT: u16 = 4;
pub const IPVS_DEST_ATTR_U_THRESH: u16 = 5;
pub const IPVS_DEST_ATTR_L_THRESH: u16 = 6;
pub const IPVS_DEST_ATTR_ACTIVE_CONNS: u16 = 7;
pub const IPVS_DEST_ATTR_INACT_CONNS: u16 = 8;
pub const IPVS_DEST_ATTR_PERSIST_CONNS: u16 = 9;
pub const IPVS_DEST_ATTR_STATS: u16 = 10;
pub const IPVS_DEST_ATTR_ADDR_FAMILY: u16 = 11;
pub const IPVS_DEST_ATTR_STATS64: u16 = 12;
pub const IPVS_DEST_ATTR_TUN_TYPE: u16 = 13;
pub const IPVS_DEST_ATTR_TUN_PORT: u16 = 14;
pub const IPVS_DEST_ATTR_TUN_FLAGS: u16 = 15;

// IPVS_DAEMON_ATTR_*
pub const IPVS_DAEMON_ATTR_STATE: u16 = 1;
pub const IPVS_DAEMON_ATTR_MCAST_IFN: u16 = 2;
pub const IPVS_DAEMON_ATTR_SYNC_ID: u16 = 3;
pub const IPVS_DAEMON_ATTR_SYNC_MAXLEN: u16 = 4;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP: u16 = 5;
pub const IPVS_DAEMON_ATTR_MCAST_GROUP6: u16 = 6;
pub const IPVS_DAEMON_ATTR_MCAST_PORT: u16 = 7;
pub const IPVS_DAEMON_ATTR_MCAST_TTL: u16 = 8;

// IPVS_INFO_ATTR_* (top level of the GET_INFO reply only: they reuse the
// numbers of IPVS_CMD_ATTR_SERVICE/DEST, so parsing depends on the command).
pub const IPVS_INFO_ATTR_VERSION: u16 = 1;
pub const IPVS_INFO_ATTR_CONN_TAB_SIZE: u16 = 2;

/// Parses every attribute of `buf` with `f`; malformed buffers are errors.
pub(crate) fn parse_nlas<T>(
    buf: &[u8],
    f: impl Fn(&NlaBuffer<&[u8]>) -> Result<T, DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    NlasIterator::new(buf)
        .map(|nla| nla.and_then(|nla| f(&nla)))
        .collect()
}

fn emitted<T: Nla>(nlas: &[T]) -> Vec<u8> {
    let mut out = vec![0u8; nlas.buffer_len()];
    nlas.emit(&mut out);
    out
}

/// A NUL-terminated string as the kernel wants it (`NLA_NUL_STRING`).
fn cstr_len(s: &str) -> usize {
    s.len() + 1
}

fn emit_cstr(s: &str, buf: &mut [u8]) {
    let n = s.len().min(buf.len());
    buf[..n].copy_from_slice(&s.as_bytes()[..n]);
    if let Some(last) = buf.get_mut(n) {
        *last = 0;
    }
}

/// `struct ip_vs_flags { __u32 flags; __u32 mask; }`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub flags: u32,
    pub mask: u32,
}

impl Flags {
    fn parse(b: &[u8]) -> Result<Self, DecodeError> {
        let flags = b
            .get(0..4)
            .ok_or_else(|| DecodeError::from("ip_vs_flags too short"))?;
        let mask = b
            .get(4..8)
            .ok_or_else(|| DecodeError::from("ip_vs_flags too short"))?;
        Ok(Flags {
            flags: parse_u32(flags)?,
            mask: parse_u32(mask)?,
        })
    }
}

/// IPVS_STATS_ATTR_* values (u32 in `STATS`, u64 in `STATS64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

impl Stats {
    fn fields(&self) -> [u64; 10] {
        [
            self.conns,
            self.inpkts,
            self.outpkts,
            self.inbytes,
            self.outbytes,
            self.cps,
            self.inpps,
            self.outpps,
            self.inbps,
            self.outbps,
        ]
    }

    fn field_mut(&mut self, kind: u16) -> Option<&mut u64> {
        Some(match kind {
            1 => &mut self.conns,
            2 => &mut self.inpkts,
            3 => &mut self.outpkts,
            4 => &mut self.inbytes,
            5 => &mut self.outbytes,
            6 => &mut self.cps,
            7 => &mut self.inpps,
            8 => &mut self.outpps,
            9 => &mut self.inbps,
            10 => &mut self.outbps,
            _ => return None,
        })
    }

    /// Parses a stats nest; each value may be 4 or 8 bytes, PAD and unknown
    /// attributes are skipped.
    fn parse(buf: &[u8]) -> Result<Self, DecodeError> {
        let mut s = Stats::default();
        for nla in NlasIterator::new(buf) {
            let nla = nla?;
            let v = nla.value();
            let value = match v.len() {
                4 => u64::from(parse_u32(v)?),
                8 => parse_u64(v)?,
                _ => continue,
            };
            if let Some(f) = s.field_mut(nla.kind()) {
                *f = value;
            }
        }
        Ok(s)
    }

    /// The nest as the kernel lays it out: every value u64 in `STATS64`; in `STATS`,
    /// INBYTES/OUTBYTES u64 and the rest u32 (a value that does not fit, which only a
    /// hand-made message can hold, stays u64 so nothing is lost; found by fuzzing).
    fn nlas(&self, wide: bool) -> Vec<DefaultNla> {
        (1u16..)
            .zip(self.fields())
            .map(|(kind, v)| {
                let narrow = !wide && !matches!(kind, 4 | 5);
                let value = match u32::try_from(v) {
                    Ok(n) if narrow => n.to_ne_bytes().to_vec(),
                    _ => v.to_ne_bytes().to_vec(),
                };
                DefaultNla::new(kind, value)
            })
            .collect()
    }

    fn value_len(&self, wide: bool) -> usize {
        self.nlas(wide).as_slice().buffer_len()
    }

    fn emit(&self, wide: bool, buf: &mut [u8]) {
        self.nlas(wide).as_slice().emit(buf);
    }
}

/// Attributes nested in `IPVS_CMD_ATTR_SERVICE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SvcAttr {
    Af(u16),
    Protocol(u16),
    /// Raw `union nf_inet_addr` bytes (16 in kernel replies, 4 or 16 sent).
    Addr(Vec<u8>),
    /// Host-order port (network order on the wire).
    Port(u16),
    Fwmark(u32),
    SchedName(String),
    Flags(Flags),
    Timeout(u32),
    /// Raw netmask bytes: an IPv4 mask in network order, or an IPv6 prefix
    /// length as a host-order u32 (that is how the kernel and ipvsadm use it).
    Netmask([u8; 4]),
    Stats(Stats),
    PeName(String),
    Stats64(Stats),
    Other(DefaultNla),
}

impl Nla for SvcAttr {
    fn value_len(&self) -> usize {
        use SvcAttr::*;
        match self {
            Af(_) | Protocol(_) | Port(_) => 2,
            Addr(a) => a.len(),
            Fwmark(_) | Timeout(_) | Netmask(_) => 4,
            SchedName(s) | PeName(s) => cstr_len(s),
            Flags(_) => 8,
            Stats(s) => s.value_len(false),
            Stats64(s) => s.value_len(true),
            Other(o) => o.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use SvcAttr::*;
        match self {
            Af(_) => IPVS_SVC_ATTR_AF,
            Protocol(_) => IPVS_SVC_ATTR_PROTOCOL,
            Addr(_) => IPVS_SVC_ATTR_ADDR,
            Port(_) => IPVS_SVC_ATTR_PORT,
            Fwmark(_) => IPVS_SVC_ATTR_FWMARK,
            SchedName(_) => IPVS_SVC_ATTR_SCHED_NAME,
            Flags(_) => IPVS_SVC_ATTR_FLAGS,
            Timeout(_) => IPVS_SVC_ATTR_TIMEOUT,
            Netmask(_) => IPVS_SVC_ATTR_NETMASK,
            Stats(_) => IPVS_SVC_ATTR_STATS | NLA_F_NESTED,
            PeName(_) => IPVS_SVC_ATTR_PE_NAME,
            Stats64(_) => IPVS_SVC_ATTR_STATS64 | NLA_F_NESTED,
            Other(o) => o.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        use SvcAttr::*;
        match self {
            Af(v) | Protocol(v) => emit_u16(buf, *v).unwrap_or_default(),
            Port(p) => emit_u16_be(buf, *p).unwrap_or_default(),
            Addr(a) => buf.copy_from_slice(a),
            Fwmark(v) | Timeout(v) => emit_u32(buf, *v).unwrap_or_default(),
            Netmask(m) => buf.copy_from_slice(m),
            SchedName(s) | PeName(s) => emit_cstr(s, buf),
            Flags(f) => {
                emit_u32(&mut buf[..4], f.flags).unwrap_or_default();
                emit_u32(&mut buf[4..8], f.mask).unwrap_or_default();
            }
            Stats(s) => s.emit(false, buf),
            Stats64(s) => s.emit(true, buf),
            Other(o) => o.emit_value(buf),
        }
    }
}

impl SvcAttr {
    pub(crate) fn parse(nla: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        let v = nla.value();
        Ok(match nla.kind() {
            IPVS_SVC_ATTR_AF => SvcAttr::Af(parse_u16(v)?),
            IPVS_SVC_ATTR_PROTOCOL => SvcAttr::Protocol(parse_u16(v)?),
            IPVS_SVC_ATTR_ADDR => SvcAttr::Addr(v.to_vec()),
            IPVS_SVC_ATTR_PORT => SvcAttr::Port(parse_u16_be(v)?),
            IPVS_SVC_ATTR_FWMARK => SvcAttr::Fwmark(parse_u32(v)?),
            IPVS_SVC_ATTR_SCHED_NAME => SvcAttr::SchedName(parse_string(v)?),
            IPVS_SVC_ATTR_FLAGS => SvcAttr::Flags(Flags::parse(v)?),
            IPVS_SVC_ATTR_TIMEOUT => SvcAttr::Timeout(parse_u32(v)?),
            IPVS_SVC_ATTR_NETMASK => SvcAttr::Netmask(
                v.try_into()
                    .map_err(|_| DecodeError::from("IPVS netmask is not 4 bytes"))?,
            ),
            IPVS_SVC_ATTR_STATS => SvcAttr::Stats(Stats::parse(v)?),
            IPVS_SVC_ATTR_PE_NAME => SvcAttr::PeName(parse_string(v)?),
            IPVS_SVC_ATTR_STATS64 => SvcAttr::Stats64(Stats::parse(v)?),
            _ => SvcAttr::Other(DefaultNla::parse(nla)?),
        })
    }
}

/// Attributes nested in `IPVS_CMD_ATTR_DEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestAttr {
    Addr(Vec<u8>),
    Port(u16),
    FwdMethod(u32),
    Weight(u32),
    UThresh(u32),
    LThresh(u32),
    ActiveConns(u32),
    InactConns(u32),
    PersistConns(u32),
    Stats(Stats),
    AddrFamily(u16),
    Stats64(Stats),
    TunType(u8),
    TunPort(u16),
    TunFlags(u16),
    Other(DefaultNla),
}

impl Nla for DestAttr {
    fn value_len(&self) -> usize {
        use DestAttr::*;
        match self {
            Addr(a) => a.len(),
            Port(_) | AddrFamily(_) | TunPort(_) | TunFlags(_) => 2,
            FwdMethod(_) | Weight(_) | UThresh(_) | LThresh(_) | ActiveConns(_) | InactConns(_)
            | PersistConns(_) => 4,
            Stats(s) => s.value_len(false),
            Stats64(s) => s.value_len(true),
            TunType(_) => 1,
            Other(o) => o.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use DestAttr::*;
        match self {
            Addr(_) => IPVS_DEST_ATTR_ADDR,
            Port(_) => IPVS_DEST_ATTR_PORT,
            FwdMethod(_) => IPVS_DEST_ATTR_FWD_METHOD,
            Weight(_) => IPVS_DEST_ATTR_WEIGHT,
            UThresh(_) => IPVS_DEST_ATTR_U_THRESH,
            LThresh(_) => IPVS_DEST_ATTR_L_THRESH,
            ActiveConns(_) => IPVS_DEST_ATTR_ACTIVE_CONNS,
            InactConns(_) => IPVS_DEST_ATTR_INACT_CONNS,
            PersistConns(_) => IPVS_DEST_ATTR_PERSIST_CONNS,
            Stats(_) => IPVS_DEST_ATTR_STATS | NLA_F_NESTED,
            AddrFamily(_) => IPVS_DEST_ATTR_ADDR_FAMILY,
            Stats64(_) => IPVS_DEST_ATTR_STATS64 | NLA_F_NESTED,
            TunType(_) => IPVS_DEST_ATTR_TUN_TYPE,
            TunPort(_) => IPVS_DEST_ATTR_TUN_PORT,
            TunFlags(_) => IPVS_DEST_ATTR_TUN_FLAGS,
            Other(o) => o.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        use DestAttr::*;
        match self {
            Addr(a) => buf.copy_from_slice(a),
            Port(p) | TunPort(p) => emit_u16_be(buf, *p).unwrap_or_default(),
            AddrFamily(v) | TunFlags(v) => emit_u16(buf, *v).unwrap_or_default(),
            FwdMethod(v) | Weight(v) | UThresh(v) | LThresh(v) | ActiveConns(v) | InactConns(v)
            | PersistConns(v) => emit_u32(buf, *v).unwrap_or_default(),
            Stats(s) => s.emit(false, buf),
            Stats64(s) => s.emit(true, buf),
            TunType(t) => buf[0] = *t,
            Other(o) => o.emit_value(buf),
        }
    }
}

impl DestAttr {
    pub(crate) fn parse(nla: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        let v = nla.value();
        Ok(match nla.kind() {
            IPVS_DEST_ATTR_ADDR => DestAttr::Addr(v.to_vec()),
            IPVS_DEST_ATTR_PORT => DestAttr::Port(parse_u16_be(v)?),
            IPVS_DEST_ATTR_FWD_METHOD => DestAttr::FwdMethod(parse_u32(v)?),
            IPVS_DEST_ATTR_WEIGHT => DestAttr::Weight(parse_u32(v)?),
            IPVS_DEST_ATTR_U_THRESH => DestAttr::UThresh(parse_u32(v)?),
            IPVS_DEST_ATTR_L_THRESH => DestAttr::LThresh(parse_u32(v)?),
            IPVS_DEST_ATTR_ACTIVE_CONNS => DestAttr::ActiveConns(parse_u32(v)?),
            IPVS_DEST_ATTR_INACT_CONNS => DestAttr::InactConns(parse_u32(v)?),
            IPVS_DEST_ATTR_PERSIST_CONNS => DestAttr::PersistConns(parse_u32(v)?),
            IPVS_DEST_ATTR_STATS => DestAttr::Stats(Stats::parse(v)?),
            IPVS_DEST_ATTR_ADDR_FAMILY => DestAttr::AddrFamily(parse_u16(v)?),
            IPVS_DEST_ATTR_STATS64 => DestAttr::Stats64(Stats::parse(v)?),
            IPVS_DEST_ATTR_TUN_TYPE => DestAttr::TunType(parse_u8(v)?),
            IPVS_DEST_ATTR_TUN_PORT => DestAttr::TunPort(parse_u16_be(v)?),
            IPVS_DEST_ATTR_TUN_FLAGS => DestAttr::TunFlags(parse_u16(v)?),
            _ => DestAttr::Other(DefaultNla::parse(nla)?),
        })
    }
}

/// Attributes nested in `IPVS_CMD_ATTR_DAEMON`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonAttr {
    State(u32),
    McastIfn(String),
    SyncId(u32),
    SyncMaxlen(u16),
    McastGroup([u8; 4]),
    McastGroup6([u8; 16]),
    McastPort(u16),
    McastTtl(u8),
    Other(DefaultNla),
}

impl Nla for DaemonAttr {
    fn value_len(&self) -> usize {
        use DaemonAttr::*;
        match self {
            State(_) | SyncId(_) | McastGroup(_) => 4,
            McastIfn(s) => cstr_len(s),
            SyncMaxlen(_) | McastPort(_) => 2,
            McastGroup6(_) => 16,
            McastTtl(_) => 1,
            Other(o) => o.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use DaemonAttr::*;
        match self {
            State(_) => IPVS_DAEMON_ATTR_STATE,
            McastIfn(_) => IPVS_DAEMON_ATTR_MCAST_IFN,
            SyncId(_) => IPVS_DAEMON_ATTR_SYNC_ID,
            SyncMaxlen(_) => IPVS_DAEMON_ATTR_SYNC_MAXLEN,
            McastGroup(_) => IPVS_DAEMON_ATTR_MCAST_GROUP,
            McastGroup6(_) => IPVS_DAEMON_ATTR_MCAST_GROUP6,
            McastPort(_) => IPVS_DAEMON_ATTR_MCAST_PORT,
            McastTtl(_) => IPVS_DAEMON_ATTR_MCAST_TTL,
            Other(o) => o.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        use DaemonAttr::*;
        match self {
            State(v) | SyncId(v) => emit_u32(buf, *v).unwrap_or_default(),
            McastIfn(s) => emit_cstr(s, buf),
            SyncMaxlen(v) => emit_u16(buf, *v).unwrap_or_default(),
            McastGroup(a) => buf.copy_from_slice(a),
            McastGroup6(a) => buf.copy_from_slice(a),
            // Host order, unlike the other ports (ip_vs_ctl.c nla_get_u16).
            McastPort(p) => emit_u16(buf, *p).unwrap_or_default(),
            McastTtl(t) => buf[0] = *t,
            Other(o) => o.emit_value(buf),
        }
    }
}

impl DaemonAttr {
    pub(crate) fn parse(nla: &NlaBuffer<&[u8]>) -> Result<Self, DecodeError> {
        let v = nla.value();
        let bad = |what: &str| DecodeError::from(format!("bad IPVS daemon {what}"));
        Ok(match nla.kind() {
            IPVS_DAEMON_ATTR_STATE => DaemonAttr::State(parse_u32(v)?),
            IPVS_DAEMON_ATTR_MCAST_IFN => DaemonAttr::McastIfn(parse_string(v)?),
            IPVS_DAEMON_ATTR_SYNC_ID => DaemonAttr::SyncId(parse_u32(v)?),
            IPVS_DAEMON_ATTR_SYNC_MAXLEN => DaemonAttr::SyncMaxlen(parse_u16(v)?),
            IPVS_DAEMON_ATTR_MCAST_GROUP => {
                DaemonAttr::McastGroup(v.try_into().map_err(|_| bad("group"))?)
            }
            IPVS_DAEMON_ATTR_MCAST_GROUP6 => {
                DaemonAttr::McastGroup6(v.try_into().map_err(|_| bad("group6"))?)
            }
            IPVS_DAEMON_ATTR_MCAST_PORT => DaemonAttr::McastPort(parse_u16(v)?),
            IPVS_DAEMON_ATTR_MCAST_TTL => DaemonAttr::McastTtl(parse_u8(v)?),
            _ => DaemonAttr::Other(DefaultNla::parse(nla)?),
        })
    }
}

/// First-level attributes of an IPVS message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdAttr {
    Service(Vec<SvcAttr>),
    Dest(Vec<DestAttr>),
    Daemon(Vec<DaemonAttr>),
    TimeoutTcp(u32),
    TimeoutTcpFin(u32),
    TimeoutUdp(u32),
    /// `IPVS_INFO_ATTR_VERSION` (GET_INFO reply only).
    InfoVersion(u32),
    /// `IPVS_INFO_ATTR_CONN_TAB_SIZE` (GET_INFO reply only).
    InfoConnTabSize(u32),
    Other(DefaultNla),
}

impl Nla for CmdAttr {
    fn value_len(&self) -> usize {
        use CmdAttr::*;
        match self {
            Service(v) => v.as_slice().buffer_len(),
            Dest(v) => v.as_slice().buffer_len(),
            Daemon(v) => v.as_slice().buffer_len(),
            TimeoutTcp(_) | TimeoutTcpFin(_) | TimeoutUdp(_) | InfoVersion(_)
            | InfoConnTabSize(_) => 4,
            Other(o) => o.value_len(),
        }
    }

    fn kind(&self) -> u16 {
        use CmdAttr::*;
        match self {
            Service(_) => IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED,
            Dest(_) => IPVS_CMD_ATTR_DEST | NLA_F_NESTED,
            Daemon(_) => IPVS_CMD_ATTR_DAEMON | NLA_F_NESTED,
            TimeoutTcp(_) => IPVS_CMD_ATTR_TIMEOUT_TCP,
            TimeoutTcpFin(_) => IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
            TimeoutUdp(_) => IPVS_CMD_ATTR_TIMEOUT_UDP,
            InfoVersion(_) => IPVS_INFO_ATTR_VERSION,
            InfoConnTabSize(_) => IPVS_INFO_ATTR_CONN_TAB_SIZE,
            Other(o) => o.kind(),
        }
    }

    fn emit_value(&self, buf: &mut [u8]) {
        use CmdAttr::*;
        match self {
            Service(v) => buf.copy_from_slice(&emitted(v)),
            Dest(v) => buf.copy_from_slice(&emitted(v)),
            Daemon(v) => buf.copy_from_slice(&emitted(v)),
            TimeoutTcp(t) | TimeoutTcpFin(t) | TimeoutUdp(t) | InfoVersion(t)
            | InfoConnTabSize(t) => emit_u32(buf, *t).unwrap_or_default(),
            Other(o) => o.emit_value(buf),
        }
    }
}

impl CmdAttr {
    /// `info`: the message is a GET_INFO request or its SET_INFO reply, where
    /// attributes 1 and 2 are `IPVS_INFO_ATTR_*`.
    pub(crate) fn parse(nla: &NlaBuffer<&[u8]>, info: bool) -> Result<Self, DecodeError> {
        let v = nla.value();
        Ok(match nla.kind() {
            IPVS_INFO_ATTR_VERSION if info => CmdAttr::InfoVersion(parse_u32(v)?),
            IPVS_INFO_ATTR_CONN_TAB_SIZE if info => CmdAttr::InfoConnTabSize(parse_u32(v)?),
            IPVS_CMD_ATTR_SERVICE => CmdAttr::Service(parse_nlas(v, SvcAttr::parse)?),
            IPVS_CMD_ATTR_DEST => CmdAttr::Dest(parse_nlas(v, DestAttr::parse)?),
            IPVS_CMD_ATTR_DAEMON => CmdAttr::Daemon(parse_nlas(v, DaemonAttr::parse)?),
            IPVS_CMD_ATTR_TIMEOUT_TCP => CmdAttr::TimeoutTcp(parse_u32(v)?),
            IPVS_CMD_ATTR_TIMEOUT_TCP_FIN => CmdAttr::TimeoutTcpFin(parse_u32(v)?),
            IPVS_CMD_ATTR_TIMEOUT_UDP => CmdAttr::TimeoutUdp(parse_u32(v)?),
            _ => CmdAttr::Other(DefaultNla::parse(nla)?),
        })
    }
}
