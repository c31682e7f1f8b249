//! VRRP advertisements on the wire: encode, decode, checksums and receive validation
//! (RFC 3768 for VRRPv2, RFC 5798 for VRRPv3).
//!
//! Contract (as smoltcp's `wire`): [`parse`] and [`Advert::decode`] never panic on any input;
//! the `emit_*` functions never panic and only fail (with [`EmitError`]) when the buffer is
//! shorter than the length they advertise ([`Advert::vrrp_len`], [`Advert::ipv4_len`]) or the
//! advert cannot be represented. Receive validation ([`validate`]) reproduces keepalived's
//! `vrrp_check_packet` in its order, each drop a [`DropReason`] that names its statistics
//! counter and keepalived's log line.
#![forbid(unsafe_code)]

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::auth::{self, AhHeader, AH_HEADER_LEN, AH_PAYLOAD_LEN, AUTH_DATA_LEN};

/// IP protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// IP protocol number of IPSEC-AH.
pub const IPPROTO_AH: u8 = 51;
/// Fixed VRRP header length (both versions).
pub const HEADER_LEN: usize = 8;
/// IPv4 header length as keepalived sends it (no options).
pub const IPV4_HEADER_LEN: usize = 20;
/// TTL / hop limit required on multicast adverts (RFC 5798).
pub const VRRP_TTL: u8 = 255;
/// TOS keepalived sets: internetwork control.
pub const VRRP_TOS: u8 = 0xc0;
/// VRRP packet type "advertisement", the only one defined.
pub const TYPE_ADVERT: u8 = 1;
/// Default IPv4 multicast group.
pub const MCAST_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// Default IPv6 multicast group.
pub const MCAST_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

/// Address family of an advert (decides address size and checksum rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    /// Size of one address in the advert.
    pub fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }
}

/// VRRPv2 authentication type (RFC 3768; AH from RFC 2338). Unknown values round-trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthType {
    None,
    Pass,
    Ah,
    Other(u8),
}

impl AuthType {
    /// Wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            AuthType::None => 0,
            AuthType::Pass => 1,
            AuthType::Ah => 2,
            AuthType::Other(v) => v,
        }
    }
}

impl From<u8> for AuthType {
    fn from(v: u8) -> Self {
        match v {
            0 => AuthType::None,
            1 => AuthType::Pass,
            2 => AuthType::Ah,
            v => AuthType::Other(v),
        }
    }
}

/// A VRRP advertisement, either version.
///
/// VRRPv2 (RFC 3768):
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Auth Type   |   Adver Int   |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         IP Address (1)                        |
/// |                            .....                              |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Authentication Data (1)                   |
/// |                     Authentication Data (2)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// VRRPv3 (RFC 5798), no authentication data:
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |(rsvd) |     Max Adver Int     |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       IPvX Address(es)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// keepalived also sends v2 over IPv6 (no authentication data there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advert {
    /// 2 or 3 (other values are decoded as-is so validation can report them).
    pub version: u8,
    /// Packet type, 1 = advertisement.
    pub kind: u8,
    pub vrid: u8,
    pub priority: u8,
    /// Raw interval field: v2 whole seconds (8 bits), v3 centiseconds (12 bits).
    pub adver_int: u16,
    /// v2 only (IPv4); `AuthType::None` for v3.
    pub auth_type: AuthType,
    /// v2 over IPv4 only; zeros otherwise.
    pub auth_data: [u8; AUTH_DATA_LEN],
    /// VIPs in the order sent; all of one family.
    pub addresses: Vec<IpAddr>,
}

/// Why an advert could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitError {
    /// The buffer is shorter than the advertised length.
    BufferTooShort { needed: usize, got: usize },
    /// More than 255 addresses.
    TooManyAddresses,
    /// An address of the other family than the packet's.
    AddressFamily,
    /// Interval does not fit its field (v2 > 255 s, v3 > 4095 cs).
    Interval,
    /// `auth_type` is AH but no [`AhParams`] were given.
    MissingAhParams,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::BufferTooShort { needed, got } => {
                write!(f, "buffer too short: need {needed} bytes, got {got}")
            }
            EmitError::TooManyAddresses => f.write_str("more than 255 addresses"),
            EmitError::AddressFamily => f.write_str("address family mismatch"),
            EmitError::Interval => f.write_str("advert interval out of range"),
            EmitError::MissingAhParams => f.write_str("AH advert without AH parameters"),
        }
    }
}

impl std::error::Error for EmitError {}

/// Addresses used for the checksum pseudo-header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoints {
    V4 { src: Ipv4Addr, dst: Ipv4Addr },
    V6 { src: Ipv6Addr, dst: Ipv6Addr },
}

impl Endpoints {
    pub fn family(&self) -> Family {
        match self {
            Endpoints::V4 { .. } => Family::V4,
            Endpoints::V6 { .. } => Family::V6,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Internet checksum (RFC 1071) and incremental update (RFC 1624)
// ---------------------------------------------------------------------------------------------

/// One's-complement sum of `data` (odd trailing byte padded with zero) added to `acc`.
/// The result is partially folded (at most 0x1fffe), so callers may add a few small words.
pub fn checksum_acc(data: &[u8], acc: u32) -> u32 {
    // Folding whenever the top half is in use keeps every addition below 2^32.
    let fold = |a: u32| (a & 0xffff) + (a >> 16);
    let mut acc = fold(fold(acc));
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
        if acc > 0xffff_0000 {
            acc = fold(acc);
        }
    }
    if let [last] = chunks.remainder() {
        acc = fold(acc) + (u32::from(*last) << 8);
    }
    fold(fold(acc))
}

/// Folds an accumulated sum into the 16-bit complemented checksum.
pub fn checksum_fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Internet checksum of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    checksum_fold(checksum_acc(data, 0))
}

/// RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')` for one changed 16-bit word.
pub fn checksum_update(old_checksum: u16, old_word: u16, new_word: u16) -> u16 {
    let acc = u32::from(!old_checksum) + u32::from(!old_word) + u32::from(new_word);
    checksum_fold(acc)
}

fn pseudo_header_acc(ep: &Endpoints, len: usize) -> u32 {
    match ep {
        // RFC 5798: src, dst, zero, protocol, VRRP length.
        Endpoints::V4 { src, dst } => {
            let acc = checksum_acc(&src.octets(), 0);
            let acc = checksum_acc(&dst.octets(), acc);
            acc + u32::from(IPPROTO_VRRP) + (len as u32 & 0xffff)
        }
        // RFC 8200: src, dst, 32-bit length, 3 zero bytes, next header.
        Endpoints::V6 { src, dst } => {
            let acc = checksum_acc(&src.octets(), 0);
            let acc = checksum_acc(&dst.octets(), acc);
            let acc = checksum_acc(&(len as u32).to_be_bytes(), acc);
            acc + u32::from(IPPROTO_VRRP)
        }
    }
}

/// The checksum a VRRP message must carry (computed with its checksum field taken as zero).
///
/// v2 over IPv4: plain checksum of the message including the 8 auth bytes; v3 over IPv4: with
/// the IPv4 pseudo-header; IPv6 (any version): with the IPv6 pseudo-header, which is what the
/// kernel fills in (IPV6_CHECKSUM offset 6).
pub fn vrrp_checksum(msg: &[u8], ep: &Endpoints) -> u16 {
    vrrp_checksum_with(msg, ep, false)
}

/// [`vrrp_checksum`], or with `v3_as_v2` a VRRPv3 IPv4 message summed without the
/// pseudo-header, as VRRPv2 does (keepalived 2.2.8's `v3_checksum_as_v2`, for routers that
/// read RFC 5798 that way).
pub fn vrrp_checksum_with(msg: &[u8], ep: &Endpoints, v3_as_v2: bool) -> u16 {
    let version = msg.first().map_or(0, |b| b >> 4);
    let acc = match ep {
        Endpoints::V4 { .. } if version == 2 || v3_as_v2 => 0,
        _ => pseudo_header_acc(ep, msg.len()),
    };
    let acc = checksum_acc(msg.get(..6).unwrap_or(msg), acc);
    checksum_fold(checksum_acc(msg.get(8..).unwrap_or(&[]), acc))
}

/// Sets the priority of an already-encoded VRRP message, updating its checksum incrementally
/// as keepalived does. For AH packets the ICV must be recomputed afterwards
/// ([`seal_ah`]). Returns `false` (and changes nothing) if `msg` is shorter than the header.
pub fn update_priority(msg: &mut [u8], priority: u8) -> bool {
    let Some(h) = msg.get_mut(..HEADER_LEN) else {
        return false;
    };
    let old_word = u16::from_be_bytes([h[2], h[3]]);
    let new_word = u16::from_be_bytes([priority, h[3]]);
    let old_sum = u16::from_be_bytes([h[6], h[7]]);
    let sum = checksum_update(old_sum, old_word, new_word);
    h[2] = priority;
    h[6..8].copy_from_slice(&sum.to_be_bytes());
    true
}

// ---------------------------------------------------------------------------------------------
// The VRRP message
// ---------------------------------------------------------------------------------------------

impl Advert {
    /// Interval as a duration: seconds for v2, centiseconds for v3.
    pub fn interval(&self) -> Duration {
        if self.version == 2 {
            Duration::from_secs(u64::from(self.adver_int))
        } else {
            Duration::from_millis(u64::from(self.adver_int) * 10)
        }
    }

    /// Whether this message carries the 8 authentication bytes (v2 over IPv4).
    fn has_auth_data(version: u8, family: Family) -> bool {
        version == 2 && family == Family::V4
    }

    /// Length of the VRRP message for this advert when sent over `family`.
    pub fn vrrp_len(&self, family: Family) -> usize {
        let auth = if Self::has_auth_data(self.version, family) {
            AUTH_DATA_LEN
        } else {
            0
        };
        HEADER_LEN + self.addresses.len() * family.addr_len() + auth
    }

    /// Length of the full IPv4 packet (20-byte header, AH when `auth_type` is AH).
    pub fn ipv4_len(&self) -> usize {
        let ah = if self.auth_type == AuthType::Ah {
            AH_HEADER_LEN
        } else {
            0
        };
        IPV4_HEADER_LEN + ah + self.vrrp_len(Family::V4)
    }

    /// Encodes the VRRP message with its checksum (see [`vrrp_checksum`]) into `buf`.
    /// Returns the length written ([`Advert::vrrp_len`]).
    pub fn emit_vrrp(&self, buf: &mut [u8], ep: &Endpoints) -> Result<usize, EmitError> {
        self.emit_vrrp_with(buf, ep, false)
    }

    /// [`Advert::emit_vrrp`] with the checksum of [`vrrp_checksum_with`].
    fn emit_vrrp_with(
        &self,
        buf: &mut [u8],
        ep: &Endpoints,
        v3_as_v2: bool,
    ) -> Result<usize, EmitError> {
        let family = ep.family();
        let len = self.vrrp_len(family);
        let got = buf.len();
        let out = buf
            .get_mut(..len)
            .ok_or(EmitError::BufferTooShort { needed: len, got })?;
        let naddr = u8::try_from(self.addresses.len()).map_err(|_| EmitError::TooManyAddresses)?;
        out[0] = (self.version << 4) | (self.kind & 0x0f);
        out[1] = self.vrid;
        out[2] = self.priority;
        out[3] = naddr;
        if self.version == 2 {
            out[4] = self.auth_type.to_u8();
            out[5] = u8::try_from(self.adver_int).map_err(|_| EmitError::Interval)?;
        } else {
            if self.adver_int > 0x0fff {
                return Err(EmitError::Interval);
            }
            out[4..6].copy_from_slice(&self.adver_int.to_be_bytes());
        }
        out[6] = 0;
        out[7] = 0;
        let alen = family.addr_len();
        for (slot, addr) in out[HEADER_LEN..]
            .chunks_exact_mut(alen)
            .zip(&self.addresses)
        {
            match (addr, family) {
                (IpAddr::V4(a), Family::V4) => slot.copy_from_slice(&a.octets()),
                (IpAddr::V6(a), Family::V6) => slot.copy_from_slice(&a.octets()),
                _ => return Err(EmitError::AddressFamily),
            }
        }
        if Self::has_auth_data(self.version, family) {
            let at = HEADER_LEN + self.addresses.len() * alen;
            out[at..].copy_from_slice(&self.auth_data);
        }
        let sum = vrrp_checksum_with(out, ep, v3_as_v2);
        out[6..8].copy_from_slice(&sum.to_be_bytes());
        Ok(len)
    }

    /// Decodes a complete VRRP message (no trailing bytes, addresses of `family`).
    /// Never panics; does not check the checksum or any field value.
    pub fn decode(msg: &[u8], family: Family) -> Result<Advert, DecodeError> {
        let h: &[u8; HEADER_LEN] = msg
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or(DecodeError::Truncated)?;
        let version = h[0] >> 4;
        let naddr = usize::from(h[3]);
        let auth_len = if Self::has_auth_data(version, family) {
            AUTH_DATA_LEN
        } else {
            0
        };
        let expected = HEADER_LEN + naddr * family.addr_len() + auth_len;
        if msg.len() != expected {
            return Err(DecodeError::Length {
                len: msg.len(),
                expected,
            });
        }
        let (auth_type, adver_int) = if version == 2 {
            (AuthType::from(h[4]), u16::from(h[5]))
        } else {
            // RFC 5798: the 4 reserved bits are ignored on receipt.
            (AuthType::None, u16::from_be_bytes([h[4], h[5]]) & 0x0fff)
        };
        let body = &msg[HEADER_LEN..];
        let addresses = body
            .chunks_exact(family.addr_len())
            .take(naddr)
            .filter_map(|c| match family {
                Family::V4 => <[u8; 4]>::try_from(c).ok().map(IpAddr::from),
                Family::V6 => <[u8; 16]>::try_from(c).ok().map(IpAddr::from),
            })
            .collect();
        let mut auth_data = [0u8; AUTH_DATA_LEN];
        if auth_len > 0 {
            if let Some(a) = msg.get(msg.len().saturating_sub(AUTH_DATA_LEN)..) {
                auth_data.copy_from_slice(a);
            }
        }
        Ok(Advert {
            version,
            kind: h[0] & 0x0f,
            vrid: h[1],
            priority: h[2],
            adver_int,
            auth_type,
            auth_data,
            addresses,
        })
    }

    /// Encodes the full IPv4 packet keepalived sends with IP_HDRINCL, plus the AH
    /// header and ICV when `auth_type` is AH (`ah` must then be `Some`).
    /// Returns the length written ([`Advert::ipv4_len`]).
    pub fn emit_ipv4(
        &self,
        buf: &mut [u8],
        ip: &Ipv4Params,
        ah: Option<&AhParams>,
    ) -> Result<usize, EmitError> {
        let len = self.ipv4_len();
        let got = buf.len();
        let out = buf
            .get_mut(..len)
            .ok_or(EmitError::BufferTooShort { needed: len, got })?;
        let total_len = u16::try_from(len).map_err(|_| EmitError::TooManyAddresses)?;
        let with_ah = self.auth_type == AuthType::Ah;
        if with_ah && ah.is_none() {
            return Err(EmitError::MissingAhParams);
        }
        let vrrp_at = IPV4_HEADER_LEN + if with_ah { AH_HEADER_LEN } else { 0 };
        let ep = Endpoints::V4 {
            src: ip.src,
            dst: ip.checksum_dst.unwrap_or(ip.dst),
        };
        self.emit_vrrp_with(&mut out[vrrp_at..], &ep, ip.v3_checksum_as_v2)?;
        let h = &mut out[..IPV4_HEADER_LEN];
        h[0] = 0x45;
        h[1] = VRRP_TOS;
        h[2..4].copy_from_slice(&total_len.to_be_bytes());
        h[4..6].copy_from_slice(&ip.id.to_be_bytes());
        h[6] = 0; // DF clear, no fragment offset
        h[7] = 0;
        h[8] = ip.ttl;
        h[9] = if with_ah { IPPROTO_AH } else { IPPROTO_VRRP };
        h[10] = 0;
        h[11] = 0;
        h[12..16].copy_from_slice(&ip.src.octets());
        h[16..20].copy_from_slice(&ip.dst.octets());
        if ip.fill_checksum {
            let sum = internet_checksum(h);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
        }
        if with_ah {
            let Some(&AhParams { key, seq, zero_ttl }) = ah else {
                return Err(EmitError::MissingAhParams);
            };
            let header = AhHeader {
                next_header: IPPROTO_VRRP,
                payload_len: AH_PAYLOAD_LEN,
                spi: ip.src.octets(),
                seq,
                icv: [0; auth::ICV_LEN],
            };
            header.emit(&mut out[IPV4_HEADER_LEN..]);
            seal_ah(out, &key, zero_ttl);
        }
        Ok(len)
    }
}

/// IPv4 header values for [`Advert::emit_ipv4`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Params {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// keepalived: per-advert counter starting at 1, skipping 0.
    pub id: u16,
    /// 255, or `unicast_ttl` for unicast.
    pub ttl: u8,
    /// Fill in the IPv4 header checksum (the kernel does it for IP_HDRINCL sockets).
    pub fill_checksum: bool,
    /// v3 only: use this pseudo-header destination instead of `dst` (keepalived's
    /// `old_unicast_checksum`, which uses the multicast group).
    pub checksum_dst: Option<Ipv4Addr>,
    /// v3 only: no pseudo-header in the checksum (`v3_checksum_as_v2`, keepalived 2.2.8).
    pub v3_checksum_as_v2: bool,
}

/// AH values for [`Advert::emit_ipv4`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AhParams {
    /// The NUL-padded 8-byte password ([`auth::password_field`]).
    pub key: [u8; AUTH_DATA_LEN],
    /// Sequence number, first sent = 1.
    pub seq: u32,
    /// Zero the TTL in the ICV input (keepalived does so for unicast instances).
    pub zero_ttl: bool,
}

/// Recomputes the ICV of a complete IPv4+AH+VRRP `packet` in place (after e.g.
/// [`update_priority`] or a TTL change). Returns `false` if the packet is too short.
pub fn seal_ah(packet: &mut [u8], key: &[u8; AUTH_DATA_LEN], zero_ttl: bool) -> bool {
    let ihl = packet.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
    let Some(icv) = auth::ah_icv(packet, ihl, key, zero_ttl) else {
        return false;
    };
    match packet.get_mut(ihl + 12..ihl + AH_HEADER_LEN) {
        Some(slot) => {
            slot.copy_from_slice(&icv);
            true
        }
        None => false,
    }
}

/// Why a VRRP message could not be decoded structurally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the 8-byte header.
    Truncated,
    /// Length does not match the address count.
    Length { len: usize, expected: usize },
}

// ---------------------------------------------------------------------------------------------
// Received packets
// ---------------------------------------------------------------------------------------------

/// The fields of the IPv4 header that validation uses.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |    TOS=0xc0   |          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  TTL=255      | Protocol 112/51|         Header Checksum      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Header {
    /// Header length in bytes (IHL × 4).
    pub ihl: usize,
    pub tos: u8,
    pub total_len: u16,
    pub id: u16,
    pub flags_frag: u16,
    pub ttl: u8,
    pub protocol: u8,
    pub checksum: u16,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
}

impl Ipv4Header {
    fn parse(buf: &[u8]) -> Option<Ipv4Header> {
        let h: &[u8; IPV4_HEADER_LEN] = buf.get(..IPV4_HEADER_LEN)?.try_into().ok()?;
        Some(Ipv4Header {
            ihl: usize::from(h[0] & 0x0f) * 4,
            tos: h[1],
            total_len: u16::from_be_bytes([h[2], h[3]]),
            id: u16::from_be_bytes([h[4], h[5]]),
            flags_frag: u16::from_be_bytes([h[6], h[7]]),
            ttl: h[8],
            protocol: h[9],
            checksum: u16::from_be_bytes([h[10], h[11]]),
            src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
            dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
        })
    }
}

/// A packet as the receive socket delivers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received<'a> {
    /// IPv4 raw socket: the whole IPv4 packet.
    V4(&'a [u8]),
    /// IPv6 raw socket: the VRRP payload, with addresses and hop limit from ancillary data
    /// (`None` if the kernel gave no hop limit; keepalived's -1 skips the TTL checks).
    V6 {
        payload: &'a [u8],
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: Option<u8>,
    },
}

/// A received packet whose headers are present (keepalived's `vrrp_get_header`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    pub family: Family,
    /// The whole packet (IPv4) or payload (IPv6).
    pub raw: &'a [u8],
    pub ip: Option<Ipv4Header>,
    pub ah: Option<AhHeader>,
    /// Offset of the VRRP message in `raw`.
    pub vrrp_offset: usize,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: Option<u8>,
}

impl Parsed<'_> {
    fn vrrp(&self) -> &[u8] {
        self.raw.get(self.vrrp_offset..).unwrap_or(&[])
    }

    /// VRRP version nibble (headers are known to be present).
    pub fn version(&self) -> u8 {
        self.vrrp().first().map_or(0, |b| b >> 4)
    }

    /// The VRID, to find the receiving instance before [`validate`].
    pub fn vrid(&self) -> u8 {
        self.vrrp().get(1).copied().unwrap_or(0)
    }

    /// The priority field.
    pub fn priority(&self) -> u8 {
        self.vrrp().get(2).copied().unwrap_or(0)
    }

    /// Whether the IPv4 header checksum verifies (the kernel already checked it on receive;
    /// keepalived sends 0 and lets the kernel fill it). `false` for IPv6.
    pub fn ip_checksum_ok(&self) -> bool {
        match self.ip {
            Some(ip) => self
                .raw
                .get(..ip.ihl)
                .is_some_and(|h| internet_checksum(h) == 0),
            None => false,
        }
    }

    fn naddr(&self) -> usize {
        usize::from(self.vrrp().get(3).copied().unwrap_or(0))
    }
}

/// Checks that the headers are present (IPv4 header, AH header if protocol is AH, the 8-byte
/// VRRP header) — anything shorter is [`DropReason::TooShort`].
pub fn parse(rx: Received<'_>) -> Result<Parsed<'_>, DropReason> {
    match rx {
        Received::V4(raw) => {
            let too_short = DropReason::TooShort {
                family: Family::V4,
                ah: false,
                len: raw.len(),
            };
            let ip = Ipv4Header::parse(raw).ok_or(too_short.clone())?;
            // keepalived trusts the kernel's IHL; an IHL below 5 cannot come from a raw
            // socket and is treated as a truncated header.
            if ip.ihl < IPV4_HEADER_LEN || raw.len() < ip.ihl + HEADER_LEN {
                return Err(too_short);
            }
            let (ah, vrrp_offset) = if ip.protocol == IPPROTO_AH {
                let ah = raw
                    .get(ip.ihl..)
                    .and_then(AhHeader::parse)
                    .filter(|_| raw.len() >= ip.ihl + AH_HEADER_LEN + HEADER_LEN)
                    .ok_or(DropReason::TooShort {
                        family: Family::V4,
                        ah: true,
                        len: raw.len(),
                    })?;
                (Some(ah), ip.ihl + AH_HEADER_LEN)
            } else {
                (None, ip.ihl)
            };
            Ok(Parsed {
                family: Family::V4,
                raw,
                ip: Some(ip),
                ah,
                vrrp_offset,
                src: IpAddr::V4(ip.src),
                dst: IpAddr::V4(ip.dst),
                ttl: Some(ip.ttl),
            })
        }
        Received::V6 {
            payload,
            src,
            dst,
            hop_limit,
        } => {
            if payload.len() < HEADER_LEN {
                return Err(DropReason::TooShort {
                    family: Family::V6,
                    ah: false,
                    len: payload.len(),
                });
            }
            Ok(Parsed {
                family: Family::V6,
                raw: payload,
                ip: None,
                ah: None,
                vrrp_offset: 0,
                src: IpAddr::V6(src),
                dst: IpAddr::V6(dst),
                ttl: hop_limit,
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation (keepalived's vrrp_check_packet)
// ---------------------------------------------------------------------------------------------

/// Authentication the receiving instance is configured with (VRRPv2 only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectAuth {
    None,
    /// The NUL-padded 8-byte password.
    Pass([u8; AUTH_DATA_LEN]),
    /// The NUL-padded 8-byte key and the highest sequence number accepted so far.
    Ah {
        key: [u8; AUTH_DATA_LEN],
        last_seq: u32,
    },
}

impl ExpectAuth {
    fn auth_type(&self) -> AuthType {
        match self {
            ExpectAuth::None => AuthType::None,
            ExpectAuth::Pass(_) => AuthType::Pass,
            ExpectAuth::Ah { .. } => AuthType::Ah,
        }
    }
}

/// A unicast peer with its accepted TTL range (`min_ttl`/`max_ttl`, default 0-255).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    pub min_ttl: u8,
    pub max_ttl: u8,
}

/// VRRPv3 unicast IPv4 checksum compatibility (`old_unicast_checksum`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnicastChecksum {
    /// Pseudo-header dst is the packet's dst; if that fails but the multicast group works,
    /// accept and report [`Accepted::old_checksum_detected`].
    Detect,
    /// `old_unicast_checksum never`: only the packet's dst.
    Never,
    /// `old_unicast_checksum` (or already detected): the multicast group.
    Old,
}

/// What the receiving instance expects.
#[derive(Clone, Copy, Debug)]
pub struct Expect<'a> {
    pub version: u8,
    pub auth: ExpectAuth,
    /// Configured advert interval (v2 adverts must match it in whole seconds).
    pub adver_int: Duration,
    /// The instance's VIPs (`virtual_ipaddress`), in config order.
    pub vips: &'a [IpAddr],
    /// Unicast peers; empty means a multicast instance.
    pub unicast_peers: &'a [UnicastPeer],
    /// `check_unicast_src` or global `vrrp_check_unicast_src`.
    pub check_unicast_src: bool,
    pub skip_check_adv_addr: bool,
    /// With `skip_check_adv_addr`, the address checks (15, 16) are skipped for adverts from
    /// this source: the current master's address in BACKUP state; `None` in MASTER state,
    /// where keepalived always checks (`vrrp_state_backup` vs `vrrp_state_master_rx`).
    pub last_master: Option<IpAddr>,
    pub strict: bool,
    pub unicast_checksum: UnicastChecksum,
    /// `vrrp_mcast_group4` (for the old unicast checksum).
    pub mcast_group4: Ipv4Addr,
    /// `v3_checksum_as_v2` (keepalived 2.2.8): a VRRPv3 IPv4 checksum without the
    /// pseudo-header is valid too.
    pub v3_checksum_as_v2: bool,
}

/// A statistics counter of keepalived that a drop increments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatCounter {
    PacketLenErr,
    IpTtlErr,
    InvalidTypeRcvd,
    /// Present in keepalived's stats output but never incremented by 2.2.7's receive path.
    AdvertIntervalErr,
    AddrListErr,
    InvalidAuthtype,
    AuthtypeMismatch,
    AuthFailure,
}

impl StatCounter {
    /// keepalived's JSON/stats key.
    pub fn name(self) -> &'static str {
        match self {
            StatCounter::PacketLenErr => "packet_len_err",
            StatCounter::IpTtlErr => "ip_ttl_err",
            StatCounter::InvalidTypeRcvd => "invalid_type_rcvd",
            StatCounter::AdvertIntervalErr => "advert_interval_err",
            StatCounter::AddrListErr => "addr_list_err",
            StatCounter::InvalidAuthtype => "invalid_authtype",
            StatCounter::AuthtypeMismatch => "authtype_mismatch",
            StatCounter::AuthFailure => "auth_failure",
        }
    }
}

/// Why a received advert is not used, in the order keepalived checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Headers incomplete (before the instance is known).
    TooShort {
        family: Family,
        ah: bool,
        len: usize,
    },
    /// 1. IPv4 protocol is AH but the instance does not use AH.
    AhUnexpected,
    /// 1. The instance uses AH but the packet has none.
    AhMissing,
    /// 2. Received length differs from the length implied by the address count.
    Length { len: usize, expected: usize },
    /// 3. Multicast: TTL / hop limit not 255.
    Ttl { ttl: u8 },
    /// 4. VRRP version differs from the configured one.
    Version { received: u8, expected: u8 },
    /// 5. v2 auth type not 0, 1 or 2.
    InvalidAuthType { auth_type: u8 },
    /// 6. v2 auth type differs from the configured one.
    AuthTypeMismatch { received: u8, expected: u8 },
    /// 7. PASS: wrong password.
    BadPassword,
    /// 8. AH header protects another protocol: ignored silently.
    AhNotVrrp { next_header: u8 },
    /// 8. AH ICV does not verify.
    AhIcv,
    /// 8. AH SPI is not the source address (raw host-order values as keepalived logs them).
    AhSpi { saddr: u32, spi: u32 },
    /// 8. AH sequence number not above the last one accepted.
    AhSeq { seq: u32, local: u32 },
    /// 9. v2 interval differs from the configured one.
    IntervalMismatch { mine_secs: u64, received: u8 },
    /// 10. Packet type is not advertisement.
    PacketType { kind: u8 },
    /// 11. Address count differs from the configured VIP count.
    AddrCount { received: u8, expected: usize },
    /// 12. IPv4 total length differs from the bytes received.
    IpTotLen { tot_len: u16, received: usize },
    /// 13. Bad VRRP checksum (IPv4; the kernel checks IPv6).
    Checksum { version: u8 },
    /// 14. Multicast packet for a unicast instance or the reverse.
    CastMismatch { expected_multicast: bool },
    /// 15. A configured VIP is missing from the advert.
    AddrMissing { vrid: u8, addr: IpAddr },
    /// 16. Source is not a configured unicast peer.
    UnicastSource { src: IpAddr },
    /// 16. TTL outside the peer's min/max range.
    TtlRange { ttl: u8, min: u8, max: u8 },
}

impl DropReason {
    /// The keepalived statistics counter this drop increments, if any.
    pub fn counter(&self) -> Option<StatCounter> {
        use DropReason::*;
        match self {
            AhUnexpected | AhMissing | AuthTypeMismatch { .. } => {
                Some(StatCounter::AuthtypeMismatch)
            }
            Length { .. } | IpTotLen { .. } => Some(StatCounter::PacketLenErr),
            Ttl { .. } | TtlRange { .. } => Some(StatCounter::IpTtlErr),
            InvalidAuthType { .. } => Some(StatCounter::InvalidAuthtype),
            BadPassword | AhIcv | AhSpi { .. } | AhSeq { .. } => Some(StatCounter::AuthFailure),
            PacketType { .. } => Some(StatCounter::InvalidTypeRcvd),
            AddrCount { .. } | CastMismatch { .. } | AddrMissing { .. } => {
                Some(StatCounter::AddrListErr)
            }
            // keepalived counts these only in SNMP-only counters (vers_err, chk_err) or not
            // at all. The v2 interval mismatch does NOT bump advert_interval_err in 2.2.7
            // (observed: 3 such adverts left "Advertisement Interval: 0" in keepalived.stats).
            TooShort { .. }
            | IntervalMismatch { .. }
            | Version { .. }
            | AhNotVrrp { .. }
            | Checksum { .. }
            | UnicastSource { .. } => None,
        }
    }

    /// keepalived counts `advert_rcvd` for packets that pass check 14 even if a later
    /// address check drops them.
    pub fn counts_as_received(&self) -> bool {
        matches!(
            self,
            DropReason::AddrMissing { .. }
                | DropReason::UnicastSource { .. }
                | DropReason::TtlRange { .. }
        )
    }

    /// keepalived's log line (INFO) for this drop, `None` for the silent AH case.
    pub fn log_message(&self, iname: &str) -> Option<String> {
        use DropReason::*;
        Some(match self {
            TooShort { family, ah, len } => format!(
                "{} VRRP packet {}too short - {len} bytes",
                family.name(),
                if *ah { "with AH " } else { "" }
            ),
            AhUnexpected => format!("({iname}) Received AH header but auth type not AH"),
            AhMissing => format!("({iname}) No AH header but auth type is AH"),
            Length { len, expected } => format!(
                "({iname}) vrrp packet too {}, length {len} and expect {expected}",
                if len > expected { "long" } else { "short" }
            ),
            Ttl { ttl } => {
                format!("({iname}) invalid TTL/HL. Received {ttl} and expect {VRRP_TTL}")
            }
            Version { received, expected } => {
                format!("({iname}) wrong version. Received {received} and expect {expected}")
            }
            InvalidAuthType { auth_type } => format!("({iname}) Invalid auth type: {auth_type}"),
            AuthTypeMismatch { received, expected } => {
                format!("({iname}) received a {received} auth, expecting {expected}!")
            }
            BadPassword => format!("({iname}) received an invalid passwd!"),
            AhNotVrrp { .. } => return None,
            AhIcv => format!(
                "({iname}) IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !"
            ),
            AhSpi { saddr, spi } => {
                format!("IPSEC AH : invalid IPSEC SPI value. {saddr} and expect {spi}")
            }
            AhSeq { seq, local } => format!(
                "({iname}) IPSEC-AH : sequence number {seq} already processed. Packet dropped. Local({local})"
            ),
            IntervalMismatch {
                mine_secs,
                received,
            } => format!(
                "({iname}) advertisement interval mismatch mine={mine_secs} sec rcv'd={received} sec"
            ),
            PacketType { kind } => {
                format!("({iname}) Invalid packet type. {kind} and expect {TYPE_ADVERT}")
            }
            AddrCount { received, expected } => format!(
                "({iname}) received an unexpected ip number count {received}, expected {expected}!"
            ),
            IpTotLen { tot_len, received } => format!(
                "({iname}) ip_tot_len mismatch against received length. {tot_len} and received {received}"
            ),
            Checksum { version } => format!("({iname}) Invalid VRRPv{version} checksum"),
            CastMismatch { expected_multicast } => {
                let (want, got) = if *expected_multicast {
                    ("mult", "un")
                } else {
                    ("un", "mult")
                };
                format!("({iname}) Expected {want}icast packet but received {got}icast packet")
            }
            AddrMissing { vrid, addr } => format!(
                "({iname}) ip address associated with VRID {vrid} not present in MASTER advert: {addr}"
            ),
            UnicastSource { src } => {
                format!("({iname}) unicast source address {src} not a unicast peer")
            }
            TtlRange { ttl, min, max } => {
                format!("({iname}) TTL/HL {ttl} not in range {min} - {max}")
            }
        })
    }
}

/// A validated advert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    pub advert: Advert,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: Option<u8>,
    /// AH sequence number: the caller stores it as its new `last_seq`.
    pub ah_seq: Option<u32>,
    /// Address-list mismatch (`AddrCount` / `AddrMissing`) tolerated outside strict mode.
    ///
    /// DELIBERATE DIFFERENCE from keepalived, which drops such adverts: a VIP list that
    /// differs between the nodes (typically during a rolling config change) must not make a
    /// backup ignore its master and take over too, splitting the pair. The mismatch is still
    /// counted (`addr_list_err`) and logged by the caller via [`DropReason::log_message`],
    /// but the advert takes part in the election. With `vrrp_strict` it is dropped as
    /// keepalived does. The remaining checks (unicast source/TTL) still ran.
    pub addr_warning: Option<DropReason>,
    /// v3 unicast checksum only verified with the multicast group as pseudo-header dst: the
    /// caller switches the instance to the old algorithm and logs
    /// `(X) Setting unicast VRRPv3 checksum to old version`.
    pub old_checksum_detected: bool,
}

/// Whether a VRRP message's checksum verifies without any pseudo-header.
fn sum_ok_plain(vrrp: &[u8]) -> bool {
    checksum_fold(checksum_acc(vrrp, 0)) == 0
}

/// Validates a parsed packet for the instance described by `exp` (in keepalived's
/// order). Never panics.
pub fn validate(p: &Parsed<'_>, exp: &Expect<'_>) -> Result<Accepted, DropReason> {
    let is_unicast = !exp.unicast_peers.is_empty();
    let vrrp = p.vrrp();
    let version = p.version();
    let naddr = p.naddr();

    // 1. AH present iff configured (IPv4). AH is IPv4-only: an IPv6 instance configured
    // with AH can never receive a valid packet.
    let mut expected_len = match p.ip {
        Some(ip) => {
            let has_ah = ip.protocol == IPPROTO_AH;
            let want_ah = matches!(exp.auth, ExpectAuth::Ah { .. });
            if has_ah != want_ah {
                return Err(if has_ah {
                    DropReason::AhUnexpected
                } else {
                    DropReason::AhMissing
                });
            }
            ip.ihl + if want_ah { AH_HEADER_LEN } else { 0 }
        }
        None if matches!(exp.auth, ExpectAuth::Ah { .. }) => return Err(DropReason::AhMissing),
        None => 0,
    };

    // 2. Length implied by the packet's own version and address count.
    expected_len += HEADER_LEN + naddr * p.family.addr_len();
    if Advert::has_auth_data(version, p.family) {
        expected_len += AUTH_DATA_LEN;
    }
    if p.raw.len() != expected_len {
        return Err(DropReason::Length {
            len: p.raw.len(),
            expected: expected_len,
        });
    }
    let advert = Advert::decode(vrrp, p.family).map_err(|_| DropReason::Length {
        len: p.raw.len(),
        expected: expected_len,
    })?;

    // 3. TTL 255 for multicast.
    if let (false, Some(ttl)) = (is_unicast, p.ttl) {
        if ttl != VRRP_TTL {
            return Err(DropReason::Ttl { ttl });
        }
    }

    // 4. Version.
    if version != exp.version {
        return Err(DropReason::Version {
            received: version,
            expected: exp.version,
        });
    }

    let mut ah_seq = None;
    if version == 2 {
        // 5. Known auth type.
        let pkt_auth = advert.auth_type;
        if let AuthType::Other(v) = pkt_auth {
            return Err(DropReason::InvalidAuthType { auth_type: v });
        }
        // 6. Auth type as configured.
        if pkt_auth != exp.auth.auth_type() {
            return Err(DropReason::AuthTypeMismatch {
                received: pkt_auth.to_u8(),
                expected: exp.auth.auth_type().to_u8(),
            });
        }
        match exp.auth {
            ExpectAuth::None => {}
            // 7. Password (constant time).
            ExpectAuth::Pass(pw) => {
                let got = vrrp.get(vrrp.len().saturating_sub(AUTH_DATA_LEN)..);
                if !got.is_some_and(|g| auth::ct_eq(g, &pw)) {
                    return Err(DropReason::BadPassword);
                }
            }
            // 8. AH.
            ExpectAuth::Ah { key, last_seq } => {
                let (Some(ah), Some(ip)) = (p.ah, p.ip) else {
                    return Err(DropReason::AhMissing);
                };
                if ah.next_header != IPPROTO_VRRP {
                    return Err(DropReason::AhNotVrrp {
                        next_header: ah.next_header,
                    });
                }
                let icv = auth::ah_icv(p.raw, ip.ihl, &key, is_unicast);
                if !icv.is_some_and(|icv| auth::ct_eq(&icv, &ah.icv)) {
                    return Err(DropReason::AhIcv);
                }
                if ah.spi != ip.src.octets() {
                    // keepalived prints the raw network-order words with %u.
                    return Err(DropReason::AhSpi {
                        saddr: u32::from_ne_bytes(ip.src.octets()),
                        spi: u32::from_ne_bytes(ah.spi),
                    });
                }
                if ah.seq <= last_seq {
                    return Err(DropReason::AhSeq {
                        seq: ah.seq,
                        local: last_seq,
                    });
                }
                ah_seq = Some(ah.seq);
            }
        }
        // 9. v2 interval must equal ours: two masters with different intervals would both
        // stay master (keepalived drops it).
        if exp.adver_int != Duration::from_secs(u64::from(advert.adver_int)) {
            return Err(DropReason::IntervalMismatch {
                mine_secs: exp.adver_int.as_secs(),
                received: u8::try_from(advert.adver_int).unwrap_or(u8::MAX),
            });
        }
    }

    // 10. Type.
    if advert.kind != TYPE_ADVERT {
        return Err(DropReason::PacketType { kind: advert.kind });
    }

    // skip_check_adv_addr skips the address checks for adverts from the current master.
    let check_vip_addr = !(exp.skip_check_adv_addr && exp.last_master == Some(p.src));

    // 11. Address count. (See `Accepted::addr_warning` for why this is not fatal.)
    let mut addr_warning = None;
    if check_vip_addr && naddr != exp.vips.len() {
        let reason = DropReason::AddrCount {
            received: u8::try_from(naddr).unwrap_or(u8::MAX),
            expected: exp.vips.len(),
        };
        if exp.strict {
            return Err(reason);
        }
        addr_warning = Some(reason);
    }

    // 12. IPv4 total length.
    if let Some(ip) = p.ip {
        if usize::from(ip.total_len) != p.raw.len() {
            return Err(DropReason::IpTotLen {
                tot_len: ip.total_len,
                received: p.raw.len(),
            });
        }
    }

    // 13. Checksum (IPv4 only; the kernel verifies IPv6).
    let mut old_checksum_detected = false;
    if let Some(ip) = p.ip {
        // As keepalived: the sum over everything including the checksum field must be 0.
        let sum_ok = |dst: Ipv4Addr| {
            let acc = if version == 3 {
                pseudo_header_acc(&Endpoints::V4 { src: ip.src, dst }, vrrp.len())
            } else {
                0
            };
            checksum_fold(checksum_acc(vrrp, acc)) == 0
        };
        // DELIBERATE DIFFERENCE: keepalived 2.2.8 checks no checksum at all for such an
        // instance (vrrp.c); both forms are accepted here, so peers with and without
        // `v3_checksum_as_v2` interoperate, and a corrupted advert is still dropped.
        let ok = if version == 3 && exp.v3_checksum_as_v2 && sum_ok_plain(vrrp) {
            true
        } else if version == 3 {
            let dst = match exp.unicast_checksum {
                UnicastChecksum::Old if is_unicast => exp.mcast_group4,
                _ => ip.dst,
            };
            if sum_ok(dst) {
                true
            } else if is_unicast
                && exp.unicast_checksum == UnicastChecksum::Detect
                && dst != exp.mcast_group4
                && sum_ok(exp.mcast_group4)
            {
                old_checksum_detected = true;
                true
            } else {
                false
            }
        } else {
            sum_ok(ip.dst)
        };
        if !ok {
            return Err(DropReason::Checksum { version });
        }
    }

    // 14. Multicast iff no unicast peers.
    let dst_multicast = p.dst.is_multicast();
    if dst_multicast == is_unicast {
        return Err(DropReason::CastMismatch {
            expected_multicast: !is_unicast,
        });
    }

    if check_vip_addr {
        // 15. Every configured VIP present.
        if let Some(missing) = exp.vips.iter().find(|v| !advert.addresses.contains(v)) {
            let reason = DropReason::AddrMissing {
                vrid: advert.vrid,
                addr: *missing,
            };
            if exp.strict {
                return Err(reason);
            }
            addr_warning.get_or_insert(reason);
        }

        // 16. Unicast source is a peer and its TTL in range.
        if is_unicast && exp.check_unicast_src {
            let Some(peer) = exp.unicast_peers.iter().find(|u| u.addr == p.src) else {
                return Err(DropReason::UnicastSource { src: p.src });
            };
            if let Some(ttl) = p.ttl {
                if ttl < peer.min_ttl || ttl > peer.max_ttl {
                    return Err(DropReason::TtlRange {
                        ttl,
                        min: peer.min_ttl,
                        max: peer.max_ttl,
                    });
                }
            }
        }
    }

    Ok(Accepted {
        advert,
        src: p.src,
        dst: p.dst,
        ttl: p.ttl,
        ah_seq,
        addr_warning,
        old_checksum_detected,
    })
}

/// [`parse`] then [`validate`].
pub fn receive(rx: Received<'_>, exp: &Expect<'_>) -> Result<Accepted, DropReason> {
    validate(&parse(rx)?, exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_acc_never_overflows() {
        let ones = vec![0xffu8; 70_001];
        let acc = checksum_acc(&ones, u32::MAX);
        assert!(acc <= 0x1fffe);
        // 70_001 bytes of 0xff: 35_000 words of 0xffff plus 0xff00 fold to 0xff00 + carry.
        assert_eq!(checksum_fold(acc), !0xff00);
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071: 0001 f203 f4f5 f6f7 sums to ddf2, checksum 220d.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum_fold(checksum_acc(&data, 0)), !0xddf2);
        assert_eq!(internet_checksum(&data), 0x220d);
        // Odd length pads with zero.
        assert_eq!(internet_checksum(&[0xff]), !0xff00);
    }

    #[test]
    fn incremental_update_equals_recompute() {
        let mut data = [0x21u8, 0x33, 0x64, 0x01, 0x01, 0x01, 0, 0, 10, 9, 0, 100];
        let sum = internet_checksum(&data);
        for new in [0u8, 1, 0x7f, 0xfe, 0xff] {
            let old_word = u16::from_be_bytes([data[2], data[3]]);
            let mut d2 = data;
            d2[2] = new;
            let new_word = u16::from_be_bytes([d2[2], d2[3]]);
            let inc = checksum_update(sum, old_word, new_word);
            // Both forms verify (one's complement has two zeros).
            d2[6..8].copy_from_slice(&inc.to_be_bytes());
            assert_eq!(checksum_fold(checksum_acc(&d2, 0)), 0, "prio {new}");
        }
        data[6..8].copy_from_slice(&sum.to_be_bytes());
        assert_eq!(internet_checksum(&data), 0);
    }

    #[test]
    fn parse_rejects_short_headers_without_panicking() {
        for n in 0..40 {
            let buf = vec![0x45u8; n];
            let _ = parse(Received::V4(&buf));
        }
        let mut ihl_small = [0u8; 40];
        ihl_small[0] = 0x41;
        assert!(matches!(
            parse(Received::V4(&ihl_small)),
            Err(DropReason::TooShort { .. })
        ));
    }

    #[test]
    fn interval_helper() {
        let mut a = Advert {
            version: 3,
            kind: 1,
            vrid: 1,
            priority: 1,
            adver_int: 150,
            auth_type: AuthType::None,
            auth_data: [0; 8],
            addresses: vec![],
        };
        assert_eq!(a.interval(), Duration::from_millis(1500));
        a.version = 2;
        a.adver_int = 3;
        assert_eq!(a.interval(), Duration::from_secs(3));
    }
}
