//! VRRPv2 authentication: the PASS field and IPSEC-AH (RFC 2402).
//!
//! Both use the same 8-byte key: the configured password truncated to 8 bytes and NUL padded.
#![forbid(unsafe_code)]

use hmac::{Hmac, Mac};
use md5::Md5;

/// Length of the VRRPv2 authentication data field and of the AH key.
pub const AUTH_DATA_LEN: usize = 8;
/// Length of the AH header as keepalived sends it: 12 fixed bytes + 12-byte ICV.
pub const AH_HEADER_LEN: usize = 24;
/// Length of the truncated HMAC-MD5-96 ICV.
pub const ICV_LEN: usize = 12;
/// AH payload length field: (24 / 4) - 2 (RFC 2402).
pub const AH_PAYLOAD_LEN: u8 = 4;

/// The 8-byte authentication field for `password`: truncated to 8 bytes, NUL padded.
pub fn password_field(password: &str) -> [u8; AUTH_DATA_LEN] {
    let mut field = [0u8; AUTH_DATA_LEN];
    for (dst, src) in field.iter_mut().zip(password.as_bytes()) {
        *dst = *src;
    }
    field
}

/// Constant-time comparison (keepalived's `memcmp_constant_time`).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// AH header as carried between the IPv4 header and VRRP (RFC 2402).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Next Header   |  Payload Len  |          RESERVED             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Security Parameters Index (SPI)               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Sequence Number Field                      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |          Authentication Data (HMAC-MD5-96, 12 bytes)          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// keepalived uses SPI = the sender's IPv4 source address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AhHeader {
    pub next_header: u8,
    pub payload_len: u8,
    pub spi: [u8; 4],
    pub seq: u32,
    pub icv: [u8; ICV_LEN],
}

impl AhHeader {
    /// Parses the first [`AH_HEADER_LEN`] bytes; `None` if `buf` is shorter.
    pub fn parse(buf: &[u8]) -> Option<AhHeader> {
        let b: &[u8; AH_HEADER_LEN] = buf.get(..AH_HEADER_LEN)?.try_into().ok()?;
        let mut icv = [0u8; ICV_LEN];
        icv.copy_from_slice(&b[12..24]);
        Some(AhHeader {
            next_header: b[0],
            payload_len: b[1],
            spi: [b[4], b[5], b[6], b[7]],
            seq: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            icv,
        })
    }

    /// Writes the header into `buf[..AH_HEADER_LEN]`; `false` if `buf` is too short.
    pub fn emit(&self, buf: &mut [u8]) -> bool {
        let Some(b) = buf.get_mut(..AH_HEADER_LEN) else {
            return false;
        };
        b[0] = self.next_header;
        b[1] = self.payload_len;
        b[2] = 0;
        b[3] = 0;
        b[4..8].copy_from_slice(&self.spi);
        b[8..12].copy_from_slice(&self.seq.to_be_bytes());
        b[12..24].copy_from_slice(&self.icv);
        true
    }
}

/// HMAC-MD5-96 ICV of an AH-protected VRRP packet.
///
/// `packet` is the whole IPv4 packet: IPv4 header (`ihl` bytes), AH header, VRRP message.
/// The input to the MAC is a copy of the IPv4 header with TOS, flags/fragment offset and
/// header checksum zeroed (and the TTL too when `zero_ttl`, which keepalived does for unicast
/// instances), then the AH header with the ICV zeroed, then the VRRP message.
/// Returns `None` if `packet` is shorter than `ihl + AH_HEADER_LEN` or `ihl < 20`.
pub fn ah_icv(
    packet: &[u8],
    ihl: usize,
    key: &[u8; AUTH_DATA_LEN],
    zero_ttl: bool,
) -> Option<[u8; ICV_LEN]> {
    if ihl < 20 || packet.len() < ihl + AH_HEADER_LEN {
        return None;
    }
    // IPv4 options are at most 40 bytes: 60 + 24 fits the scratch buffer.
    let mut head = [0u8; 60 + AH_HEADER_LEN];
    let head = head.get_mut(..ihl + AH_HEADER_LEN)?;
    head.copy_from_slice(packet.get(..ihl + AH_HEADER_LEN)?);
    head[1] = 0; // TOS
    head[6] = 0; // flags + fragment offset
    head[7] = 0;
    head[10] = 0; // header checksum
    head[11] = 0;
    if zero_ttl {
        head[8] = 0;
    }
    for b in head.get_mut(ihl + 12..)? {
        *b = 0; // ICV
    }
    let mut mac = <Hmac<Md5> as Mac>::new_from_slice(key).ok()?;
    mac.update(head);
    mac.update(packet.get(ihl + AH_HEADER_LEN..)?);
    let digest = mac.finalize().into_bytes();
    let mut icv = [0u8; ICV_LEN];
    icv.copy_from_slice(digest.get(..ICV_LEN)?);
    Some(icv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_truncated_and_padded() {
        assert_eq!(password_field("secret12345"), *b"secret12");
        assert_eq!(password_field("ab"), *b"ab\0\0\0\0\0\0");
        assert_eq!(password_field(""), [0u8; 8]);
    }

    #[test]
    fn constant_time_compare() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn ah_header_round_trip() {
        let h = AhHeader {
            next_header: 112,
            payload_len: AH_PAYLOAD_LEN,
            spi: [192, 0, 2, 1],
            seq: 7,
            icv: [1; ICV_LEN],
        };
        let mut buf = [0u8; AH_HEADER_LEN];
        assert!(h.emit(&mut buf));
        assert_eq!(AhHeader::parse(&buf), Some(h));
        assert!(AhHeader::parse(&buf[..23]).is_none());
        assert!(!h.emit(&mut buf[..23]));
    }

    #[test]
    fn icv_needs_full_headers() {
        assert!(ah_icv(&[0u8; 43], 20, &[0; 8], false).is_none());
        assert!(ah_icv(&[0u8; 44], 16, &[0; 8], false).is_none());
        assert!(ah_icv(&[0u8; 44], 20, &[0; 8], false).is_some());
    }
}
