//! AgentX PDUs (RFC 2741 section 6): a 20-byte header, then the payload in the byte order
//! the header's NETWORK_BYTE_ORDER flag names. Decoding never trusts a length: every count
//! is checked against the bytes left and against the RFC's limits before anything is
//! allocated.

use thiserror::Error;

/// AgentX protocol version 1, the only one.
pub const VERSION: u8 = 1;
/// Header length in bytes.
pub const HEADER_LEN: usize = 20;
/// The most sub-identifiers an object identifier may carry (RFC 2578 section 3.5).
pub const MAX_SUBIDS: usize = 128;
/// The largest payload we accept; snmpd's own limit is far below it.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// Header flags (RFC 2741 section 6.1).
pub mod flags {
    pub const INSTANCE_REGISTRATION: u8 = 0x01;
    pub const NEW_INDEX: u8 = 0x02;
    pub const ANY_INDEX: u8 = 0x04;
    pub const NON_DEFAULT_CONTEXT: u8 = 0x08;
    pub const NETWORK_BYTE_ORDER: u8 = 0x10;
}

/// Response `res.error` values used by a subagent (RFC 2741 section 6.2.16, SNMP errors).
pub mod error {
    pub const NO_ERROR: u16 = 0;
    pub const GEN_ERR: u16 = 5;
    pub const NO_ACCESS: u16 = 6;
    pub const WRONG_TYPE: u16 = 7;
    pub const WRONG_VALUE: u16 = 10;
    pub const COMMIT_FAILED: u16 = 14;
    pub const NOT_WRITABLE: u16 = 17;
    pub const PROCESSING_ERROR: u16 = 268;
}

/// Close reasons (RFC 2741 section 6.2.2).
pub mod close {
    pub const OTHER: u8 = 1;
    pub const PARSE_ERROR: u8 = 2;
    pub const PROTOCOL_ERROR: u8 = 3;
    pub const TIMEOUTS: u8 = 4;
    pub const SHUTDOWN: u8 = 5;
    pub const BY_MANAGER: u8 = 6;
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the header or its payload length announce; more may come.
    #[error("truncated PDU: {need} bytes needed, {have} available")]
    Incomplete { need: usize, have: usize },
    #[error("unsupported AgentX version {0}")]
    Version(u8),
    #[error("unknown PDU type {0}")]
    Type(u8),
    #[error("payload length {0} is not a multiple of 4 or too large")]
    PayloadLength(u32),
    #[error("PDU payload ends inside a field")]
    Short,
    #[error("object identifier with {0} sub-identifiers")]
    OidLength(usize),
    #[error("unknown varbind type {0}")]
    ValueType(u16),
    #[error("{0} trailing bytes after the PDU's fields")]
    Trailing(usize),
}

/// An object identifier.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid(pub Vec<u32>);

impl Oid {
    pub fn new(subids: &[u32]) -> Self {
        Oid(subids.to_vec())
    }

    /// This identifier followed by `more`.
    pub fn child(&self, more: &[u32]) -> Self {
        let mut v = self.0.clone();
        v.extend_from_slice(more);
        Oid(v)
    }

    pub fn starts_with(&self, prefix: &Oid) -> bool {
        self.0.starts_with(&prefix.0)
    }

    pub fn is_null(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Oid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for s in &self.0 {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Oid {
    type Err = std::num::ParseIntError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim_start_matches('.')
            .split('.')
            .filter(|p| !p.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<u32>, _>>()
            .map(Oid)
    }
}

/// A varbind's value (RFC 2741 section 5.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Integer(i32),
    OctetString(Vec<u8>),
    Null,
    ObjectId(Oid),
    IpAddress([u8; 4]),
    Counter32(u32),
    Gauge32(u32),
    TimeTicks(u32),
    Opaque(Vec<u8>),
    Counter64(u64),
    NoSuchObject,
    NoSuchInstance,
    EndOfMibView,
}

impl Value {
    fn tag(&self) -> u16 {
        match self {
            Value::Integer(_) => 2,
            Value::OctetString(_) => 4,
            Value::Null => 5,
            Value::ObjectId(_) => 6,
            Value::IpAddress(_) => 64,
            Value::Counter32(_) => 65,
            Value::Gauge32(_) => 66,
            Value::TimeTicks(_) => 67,
            Value::Opaque(_) => 68,
            Value::Counter64(_) => 70,
            Value::NoSuchObject => 128,
            Value::NoSuchInstance => 129,
            Value::EndOfMibView => 130,
        }
    }

    /// Whether `other` has this value's SNMP type (for a Set's wrongType check).
    pub fn same_type(&self, other: &Value) -> bool {
        self.tag() == other.tag()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarBind {
    pub name: Oid,
    pub value: Value,
}

/// A Get/GetNext range: `start` (inclusive when `include`) up to `end` (exclusive; empty =
/// unbounded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchRange {
    pub start: Oid,
    pub include: bool,
    pub end: Oid,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pdu {
    Open {
        timeout: u8,
        id: Oid,
        descr: Vec<u8>,
    },
    Close {
        reason: u8,
    },
    Register {
        context: Option<Vec<u8>>,
        timeout: u8,
        priority: u8,
        range_subid: u8,
        subtree: Oid,
        upper_bound: Option<u32>,
    },
    Unregister {
        context: Option<Vec<u8>>,
        priority: u8,
        range_subid: u8,
        subtree: Oid,
        upper_bound: Option<u32>,
    },
    Get {
        context: Option<Vec<u8>>,
        ranges: Vec<SearchRange>,
    },
    GetNext {
        context: Option<Vec<u8>>,
        ranges: Vec<SearchRange>,
    },
    GetBulk {
        context: Option<Vec<u8>>,
        non_repeaters: u16,
        max_repetitions: u16,
        ranges: Vec<SearchRange>,
    },
    TestSet {
        context: Option<Vec<u8>>,
        varbinds: Vec<VarBind>,
    },
    CommitSet,
    UndoSet,
    CleanupSet,
    Notify {
        context: Option<Vec<u8>>,
        varbinds: Vec<VarBind>,
    },
    Ping {
        context: Option<Vec<u8>>,
    },
    IndexAllocate {
        context: Option<Vec<u8>>,
        varbinds: Vec<VarBind>,
    },
    IndexDeallocate {
        context: Option<Vec<u8>>,
        varbinds: Vec<VarBind>,
    },
    AddAgentCaps {
        context: Option<Vec<u8>>,
        id: Oid,
        descr: Vec<u8>,
    },
    RemoveAgentCaps {
        context: Option<Vec<u8>>,
        id: Oid,
    },
    Response {
        sys_uptime: u32,
        error: u16,
        index: u16,
        varbinds: Vec<VarBind>,
    },
}

impl Pdu {
    /// The header's type byte.
    pub fn type_byte(&self) -> u8 {
        match self {
            Pdu::Open { .. } => 1,
            Pdu::Close { .. } => 2,
            Pdu::Register { .. } => 3,
            Pdu::Unregister { .. } => 4,
            Pdu::Get { .. } => 5,
            Pdu::GetNext { .. } => 6,
            Pdu::GetBulk { .. } => 7,
            Pdu::TestSet { .. } => 8,
            Pdu::CommitSet => 9,
            Pdu::UndoSet => 10,
            Pdu::CleanupSet => 11,
            Pdu::Notify { .. } => 12,
            Pdu::Ping { .. } => 13,
            Pdu::IndexAllocate { .. } => 14,
            Pdu::IndexDeallocate { .. } => 15,
            Pdu::AddAgentCaps { .. } => 16,
            Pdu::RemoveAgentCaps { .. } => 17,
            Pdu::Response { .. } => 18,
        }
    }

    fn context(&self) -> Option<&Vec<u8>> {
        match self {
            Pdu::Register { context, .. }
            | Pdu::Unregister { context, .. }
            | Pdu::Get { context, .. }
            | Pdu::GetNext { context, .. }
            | Pdu::GetBulk { context, .. }
            | Pdu::TestSet { context, .. }
            | Pdu::Notify { context, .. }
            | Pdu::Ping { context }
            | Pdu::IndexAllocate { context, .. }
            | Pdu::IndexDeallocate { context, .. }
            | Pdu::AddAgentCaps { context, .. }
            | Pdu::RemoveAgentCaps { context, .. } => context.as_ref(),
            _ => None,
        }
    }
}

/// A whole message: the header's fields and the PDU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Header flags other than NON_DEFAULT_CONTEXT, which follows the PDU's context.
    pub flags: u8,
    pub session_id: u32,
    pub transaction_id: u32,
    pub packet_id: u32,
    pub pdu: Pdu,
}

struct Writer {
    buf: Vec<u8>,
    be: bool,
}

impl Writer {
    fn u8s(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    fn u16(&mut self, v: u16) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.u8s(&b);
    }
    fn u32(&mut self, v: u32) {
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.u8s(&b);
    }
    fn u64(&mut self, v: u64) {
        // RFC 2741 5.4: a Counter64 is two 32-bit words, the high one first in the
        // message's byte order.
        let b = if self.be {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        };
        self.u8s(&b);
    }
    /// The compact form: the 1.3.6.1.x prefix becomes `prefix` x when x fits a byte.
    fn oid(&mut self, oid: &Oid, include: bool) {
        let s = &oid.0;
        let (prefix, rest) = if s.len() > 4 && s[..4] == [1, 3, 6, 1] && (1..=255).contains(&s[4]) {
            (s[4] as u8, &s[5..])
        } else {
            (0, &s[..])
        };
        self.u8s(&[rest.len() as u8, prefix, u8::from(include), 0]);
        for &x in rest {
            self.u32(x);
        }
    }
    fn octets(&mut self, b: &[u8]) {
        self.u32(b.len() as u32);
        self.u8s(b);
        let pad = (4 - b.len() % 4) % 4;
        self.u8s(&[0; 3][..pad]);
    }
    fn varbind(&mut self, vb: &VarBind) {
        self.u16(vb.value.tag());
        self.u16(0);
        self.oid(&vb.name, false);
        match &vb.value {
            Value::Integer(v) => self.u32(*v as u32),
            Value::Counter32(v) | Value::Gauge32(v) | Value::TimeTicks(v) => self.u32(*v),
            Value::Counter64(v) => self.u64(*v),
            Value::OctetString(b) | Value::Opaque(b) => self.octets(b),
            Value::IpAddress(a) => self.octets(a),
            Value::ObjectId(o) => self.oid(o, false),
            Value::Null | Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView => {}
        }
    }
    fn ranges(&mut self, rs: &[SearchRange]) {
        for r in rs {
            self.oid(&r.start, r.include);
            self.oid(&r.end, false);
        }
    }
}

/// Encodes a message; the payload's byte order follows `flags`' NETWORK_BYTE_ORDER.
pub fn encode(m: &Message) -> Vec<u8> {
    let be = m.flags & flags::NETWORK_BYTE_ORDER != 0;
    let mut w = Writer {
        buf: Vec::with_capacity(64),
        be,
    };
    let mut fl = m.flags & !flags::NON_DEFAULT_CONTEXT;
    if m.pdu.context().is_some() {
        fl |= flags::NON_DEFAULT_CONTEXT;
    }
    w.u8s(&[VERSION, m.pdu.type_byte(), fl, 0]);
    w.u32(m.session_id);
    w.u32(m.transaction_id);
    w.u32(m.packet_id);
    w.u32(0); // patched below
    if let Some(c) = m.pdu.context() {
        w.octets(c);
    }
    match &m.pdu {
        Pdu::Open { timeout, id, descr } => {
            w.u8s(&[*timeout, 0, 0, 0]);
            w.oid(id, false);
            w.octets(descr);
        }
        Pdu::Close { reason } => w.u8s(&[*reason, 0, 0, 0]),
        Pdu::Register {
            timeout,
            priority,
            range_subid,
            subtree,
            upper_bound,
            ..
        } => {
            w.u8s(&[*timeout, *priority, *range_subid, 0]);
            w.oid(subtree, false);
            if let (Some(u), true) = (upper_bound, *range_subid != 0) {
                w.u32(*u);
            }
        }
        Pdu::Unregister {
            priority,
            range_subid,
            subtree,
            upper_bound,
            ..
        } => {
            w.u8s(&[0, *priority, *range_subid, 0]);
            w.oid(subtree, false);
            if let (Some(u), true) = (upper_bound, *range_subid != 0) {
                w.u32(*u);
            }
        }
        Pdu::Get { ranges, .. } | Pdu::GetNext { ranges, .. } => w.ranges(ranges),
        Pdu::GetBulk {
            non_repeaters,
            max_repetitions,
            ranges,
            ..
        } => {
            w.u16(*non_repeaters);
            w.u16(*max_repetitions);
            w.ranges(ranges);
        }
        Pdu::TestSet { varbinds, .. }
        | Pdu::Notify { varbinds, .. }
        | Pdu::IndexAllocate { varbinds, .. }
        | Pdu::IndexDeallocate { varbinds, .. } => {
            for vb in varbinds {
                w.varbind(vb);
            }
        }
        Pdu::CommitSet | Pdu::UndoSet | Pdu::CleanupSet | Pdu::Ping { .. } => {}
        Pdu::AddAgentCaps { id, descr, .. } => {
            w.oid(id, false);
            w.octets(descr);
        }
        Pdu::RemoveAgentCaps { id, .. } => w.oid(id, false),
        Pdu::Response {
            sys_uptime,
            error,
            index,
            varbinds,
        } => {
            w.u32(*sys_uptime);
            w.u16(*error);
            w.u16(*index);
            for vb in varbinds {
                w.varbind(vb);
            }
        }
    }
    let len = (w.buf.len() - HEADER_LEN) as u32;
    let b = if be {
        len.to_be_bytes()
    } else {
        len.to_le_bytes()
    };
    w.buf[16..20].copy_from_slice(&b);
    w.buf
}

struct Reader<'a> {
    b: &'a [u8],
    be: bool,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.b.len() < n {
            return Err(DecodeError::Short);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8x4(&mut self) -> Result<[u8; 4], DecodeError> {
        let s = self.take(4)?;
        Ok([s[0], s[1], s[2], s[3]])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let s = self.take(2)?;
        let a = [s[0], s[1]];
        Ok(if self.be {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        })
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let a = self.u8x4()?;
        Ok(if self.be {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(if self.be {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        })
    }
    /// An OID and its include bit.
    fn oid(&mut self, limit: bool) -> Result<(Oid, bool), DecodeError> {
        let [n, prefix, include, _] = self.u8x4()?;
        let n = n as usize;
        let total = n + if prefix != 0 { 5 } else { 0 };
        if limit && total > MAX_SUBIDS {
            return Err(DecodeError::OidLength(total));
        }
        if self.b.len() < n * 4 {
            return Err(DecodeError::Short);
        }
        let mut v = Vec::with_capacity(total);
        if prefix != 0 {
            v.extend_from_slice(&[1, 3, 6, 1, u32::from(prefix)]);
        }
        for _ in 0..n {
            v.push(self.u32()?);
        }
        Ok((Oid(v), include != 0))
    }
    fn octets(&mut self) -> Result<Vec<u8>, DecodeError> {
        let len = self.u32()? as usize;
        if len > self.b.len() {
            return Err(DecodeError::Short);
        }
        let v = self.take(len)?.to_vec();
        self.take((4 - len % 4) % 4)?;
        Ok(v)
    }
    fn varbind(&mut self) -> Result<VarBind, DecodeError> {
        let tag = self.u16()?;
        self.u16()?;
        let (name, _) = self.oid(true)?;
        let value = match tag {
            2 => Value::Integer(self.u32()? as i32),
            4 => Value::OctetString(self.octets()?),
            5 => Value::Null,
            6 => Value::ObjectId(self.oid(true)?.0),
            64 => {
                let o = self.octets()?;
                let a: [u8; 4] = o.try_into().map_err(|_| DecodeError::Short)?;
                Value::IpAddress(a)
            }
            65 => Value::Counter32(self.u32()?),
            66 => Value::Gauge32(self.u32()?),
            67 => Value::TimeTicks(self.u32()?),
            68 => Value::Opaque(self.octets()?),
            70 => Value::Counter64(self.u64()?),
            128 => Value::NoSuchObject,
            129 => Value::NoSuchInstance,
            130 => Value::EndOfMibView,
            t => return Err(DecodeError::ValueType(t)),
        };
        Ok(VarBind { name, value })
    }
    fn varbinds(&mut self) -> Result<Vec<VarBind>, DecodeError> {
        let mut v = Vec::new();
        while !self.b.is_empty() {
            v.push(self.varbind()?);
        }
        Ok(v)
    }
    fn ranges(&mut self) -> Result<Vec<SearchRange>, DecodeError> {
        let mut v = Vec::new();
        while !self.b.is_empty() {
            let (start, include) = self.oid(true)?;
            let (end, _) = self.oid(true)?;
            v.push(SearchRange {
                start,
                include,
                end,
            });
        }
        Ok(v)
    }
}

/// How many bytes the message at the start of `b` takes, once its header is complete.
pub fn frame_len(b: &[u8]) -> Result<usize, DecodeError> {
    if b.len() < HEADER_LEN {
        return Err(DecodeError::Incomplete {
            need: HEADER_LEN,
            have: b.len(),
        });
    }
    if b[0] != VERSION {
        return Err(DecodeError::Version(b[0]));
    }
    let l = [b[16], b[17], b[18], b[19]];
    let len = if b[2] & flags::NETWORK_BYTE_ORDER != 0 {
        u32::from_be_bytes(l)
    } else {
        u32::from_le_bytes(l)
    };
    if len % 4 != 0 || len as usize > MAX_PAYLOAD {
        return Err(DecodeError::PayloadLength(len));
    }
    Ok(HEADER_LEN + len as usize)
}

/// Decodes the message at the start of `b`; returns it and the bytes it took.
pub fn decode(b: &[u8]) -> Result<(Message, usize), DecodeError> {
    let total = frame_len(b)?;
    if b.len() < total {
        return Err(DecodeError::Incomplete {
            need: total,
            have: b.len(),
        });
    }
    let fl = b[2];
    let be = fl & flags::NETWORK_BYTE_ORDER != 0;
    let mut h = Reader {
        b: &b[4..HEADER_LEN],
        be,
    };
    let session_id = h.u32()?;
    let transaction_id = h.u32()?;
    let packet_id = h.u32()?;
    let mut r = Reader {
        b: &b[HEADER_LEN..total],
        be,
    };
    let ty = b[1];
    let has_context = fl & flags::NON_DEFAULT_CONTEXT != 0;
    let mut context = || -> Result<Option<Vec<u8>>, DecodeError> {
        if has_context {
            r.octets().map(Some)
        } else {
            Ok(None)
        }
    };
    let pdu = match ty {
        1 => {
            let [timeout, ..] = r.u8x4()?;
            let (id, _) = r.oid(true)?;
            Pdu::Open {
                timeout,
                id,
                descr: r.octets()?,
            }
        }
        2 => Pdu::Close {
            reason: r.u8x4()?[0],
        },
        3 | 4 => {
            let context = context()?;
            let [timeout, priority, range_subid, _] = r.u8x4()?;
            let (subtree, _) = r.oid(true)?;
            let upper_bound = if range_subid != 0 {
                Some(r.u32()?)
            } else {
                None
            };
            if ty == 3 {
                Pdu::Register {
                    context,
                    timeout,
                    priority,
                    range_subid,
                    subtree,
                    upper_bound,
                }
            } else {
                Pdu::Unregister {
                    context,
                    priority,
                    range_subid,
                    subtree,
                    upper_bound,
                }
            }
        }
        5 => Pdu::Get {
            context: context()?,
            ranges: r.ranges()?,
        },
        6 => Pdu::GetNext {
            context: context()?,
            ranges: r.ranges()?,
        },
        7 => {
            let context = context()?;
            let non_repeaters = r.u16()?;
            let max_repetitions = r.u16()?;
            Pdu::GetBulk {
                context,
                non_repeaters,
                max_repetitions,
                ranges: r.ranges()?,
            }
        }
        8 => Pdu::TestSet {
            context: context()?,
            varbinds: r.varbinds()?,
        },
        9 => Pdu::CommitSet,
        10 => Pdu::UndoSet,
        11 => Pdu::CleanupSet,
        12 => Pdu::Notify {
            context: context()?,
            varbinds: r.varbinds()?,
        },
        13 => Pdu::Ping {
            context: context()?,
        },
        14 => Pdu::IndexAllocate {
            context: context()?,
            varbinds: r.varbinds()?,
        },
        15 => Pdu::IndexDeallocate {
            context: context()?,
            varbinds: r.varbinds()?,
        },
        16 => {
            let context = context()?;
            let (id, _) = r.oid(true)?;
            Pdu::AddAgentCaps {
                context,
                id,
                descr: r.octets()?,
            }
        }
        17 => {
            let context = context()?;
            Pdu::RemoveAgentCaps {
                context,
                id: r.oid(true)?.0,
            }
        }
        18 => {
            let sys_uptime = r.u32()?;
            let error = r.u16()?;
            let index = r.u16()?;
            Pdu::Response {
                sys_uptime,
                error,
                index,
                varbinds: r.varbinds()?,
            }
        }
        t => return Err(DecodeError::Type(t)),
    };
    if !r.b.is_empty() {
        return Err(DecodeError::Trailing(r.b.len()));
    }
    Ok((
        Message {
            flags: fl & !flags::NON_DEFAULT_CONTEXT,
            session_id,
            transaction_id,
            packet_id,
            pdu,
        },
        total,
    ))
}
