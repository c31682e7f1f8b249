//! BFD control packets (RFC 5880 section 4.1): decoding with keepalived 2.2.7's sanity checks,
//! each refusal a typed [`DropReason`] carrying keepalived's log wording, and encoding.
//!
//! keepalived supports neither authentication nor the echo function: it sends the 24-byte
//! mandatory section only and refuses a packet whose length field differs from the bytes
//! received (so an authentication section is refused later, once the session is known, by
//! [`Control::check_auth`]).

use std::time::Duration;

/// Protocol version this implementation speaks.
pub const VERSION: u8 = 1;
/// Length of the mandatory section, the only one keepalived sends.
pub const HEADER_LEN: usize = 24;
/// UDP destination port of single-hop control packets (RFC 5881).
pub const PORT_SINGLE_HOP: u16 = 3784;
/// RFC 5883 multihop sessions (keepalived 2.2.8's `multihop`).
pub const PORT_MULTIHOP: u16 = 4784;
/// Source ports RFC 5881 asks for.
pub const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;
/// TTL (IPv4) sent by default and expected for a single hop (RFC 5881 GTSM).
pub const TTL_V4: u8 = 255;
/// Hop limit (IPv6) keepalived sends by default.
pub const HOPLIMIT_V6: u8 = 64;

/// Session state (`Sta`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum State {
    AdminDown = 0,
    Down = 1,
    Init = 2,
    Up = 3,
}

impl State {
    fn from_bits(v: u8) -> State {
        match v & 3 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }

    /// keepalived's name (`BFD_STATE_STR`).
    pub fn name(self) -> &'static str {
        match self {
            State::AdminDown => "AdminDown",
            State::Down => "Down",
            State::Init => "Init",
            State::Up => "Up",
        }
    }
}

/// Diagnostic code (`Diag`); keepalived refuses codes above 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Diag {
    NoDiag = 0,
    Expired = 1,
    EchoFailed = 2,
    NeighborSignaledDown = 3,
    ForwardingPlaneReset = 4,
    PathDown = 5,
    ConcatenatedPathDown = 6,
    AdminDown = 7,
    ReverseConcatenatedPathDown = 8,
}

impl Diag {
    fn from_code(v: u8) -> Option<Diag> {
        use Diag::*;
        Some(match v {
            0 => NoDiag,
            1 => Expired,
            2 => EchoFailed,
            3 => NeighborSignaledDown,
            4 => ForwardingPlaneReset,
            5 => PathDown,
            6 => ConcatenatedPathDown,
            7 => AdminDown,
            8 => ReverseConcatenatedPathDown,
            _ => return None,
        })
    }

    /// keepalived's wording (`BFD_DIAG_STR`).
    pub fn name(self) -> &'static str {
        use Diag::*;
        match self {
            NoDiag => "No Diagnostic",
            Expired => "Control Detection Time Expired",
            EchoFailed => "Echo Function Failed",
            NeighborSignaledDown => "Neighbor Signaled Session Down",
            ForwardingPlaneReset => "Forwarding Plane Reset",
            PathDown => "Path Down",
            ConcatenatedPathDown => "Concatenated Path Down",
            AdminDown => "Administratively Down",
            ReverseConcatenatedPathDown => "Reverse Concatenated Path Down",
        }
    }
}

/// The mandatory section of a control packet. Intervals are microseconds, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    pub diag: Diag,
    pub state: State,
    pub poll: bool,
    pub final_: bool,
    pub cplane: bool,
    pub auth: bool,
    pub demand: bool,
    pub multipoint: bool,
    pub detect_mult: u8,
    pub my_discr: u32,
    pub your_discr: u32,
    pub desired_min_tx: u32,
    pub required_min_rx: u32,
    pub required_min_echo_rx: u32,
}

/// Why a received packet is dropped. Order of the checks is keepalived's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    #[error("Packet is too small: {len} bytes")]
    TooShort { len: usize },
    #[error("Packet size mismatch: length field: {field} bytes, buffer size: {len} bytes")]
    Length { field: u8, len: usize },
    #[error("Packet is of unsupported version: {version}")]
    Version { version: u8 },
    #[error("Packet 'detection multiplier' field is zero")]
    DetectMultZero,
    #[error("Packet has 'multipoint' flag")]
    Multipoint,
    #[error("Packet 'my discriminator' field is zero")]
    MyDiscrZero,
    #[error(
        "Packet 'your discriminator' field is zero and 'state' field is not Down or AdminDown"
    )]
    YourDiscrZero,
    #[error("Packet has both poll and final  flags set")]
    PollAndFinal,
    #[error("Packet has invalid 'diag' field: {diag}")]
    Diag { diag: u8 },
    /// Generalized TTL Security Mechanism (RFC 5881), with keepalived's `max_hops`.
    #[error("Packet {}({ttl}) < {min} - discarding", if *.v4 { "ttl" } else { "hop_limit" })]
    Ttl { v4: bool, ttl: u8, min: i32 },
    /// The A bit: keepalived has no authentication.
    #[error("auth bit is set, but no authentication  is in use")]
    Auth,
}

/// Decodes and sanity-checks `buf`, a whole UDP payload.
pub fn parse(buf: &[u8]) -> Result<Control, DropReason> {
    if buf.len() < HEADER_LEN {
        return Err(DropReason::TooShort { len: buf.len() });
    }
    if usize::from(buf[3]) != buf.len() {
        return Err(DropReason::Length {
            field: buf[3],
            len: buf.len(),
        });
    }
    let version = buf[0] >> 5;
    if version != VERSION {
        return Err(DropReason::Version { version });
    }
    let word = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let flags = buf[1];
    let state = State::from_bits(flags >> 6);
    let poll = flags & 0x20 != 0;
    let final_ = flags & 0x10 != 0;
    let detect_mult = buf[2];
    let my_discr = word(4);
    let your_discr = word(8);
    if detect_mult == 0 {
        return Err(DropReason::DetectMultZero);
    }
    if flags & 0x01 != 0 {
        return Err(DropReason::Multipoint);
    }
    if my_discr == 0 {
        return Err(DropReason::MyDiscrZero);
    }
    if your_discr == 0 && !matches!(state, State::Down | State::AdminDown) {
        return Err(DropReason::YourDiscrZero);
    }
    if poll && final_ {
        return Err(DropReason::PollAndFinal);
    }
    let code = buf[0] & 0x1f;
    let diag = Diag::from_code(code).ok_or(DropReason::Diag { diag: code })?;
    Ok(Control {
        diag,
        state,
        poll,
        final_,
        cplane: flags & 0x08 != 0,
        auth: flags & 0x04 != 0,
        demand: flags & 0x02 != 0,
        multipoint: false,
        detect_mult,
        my_discr,
        your_discr,
        desired_min_tx: word(12),
        required_min_rx: word(16),
        required_min_echo_rx: word(20),
    })
}

/// The received TTL / hop limit against the session's `ttl` and `max_hops` (keepalived's
/// `bfd_check_packet_ttl`): `ttl + max_hops` must reach the configured `ttl`. `max_hops`
/// 255 (configured -1) disables the check; a TTL the kernel did not report (0) passes.
pub fn check_ttl(v4: bool, received: u8, ttl: u8, max_hops: u8) -> Result<(), DropReason> {
    if max_hops == u8::MAX || received == 0 {
        return Ok(());
    }
    if u16::from(max_hops) + u16::from(received) < u16::from(ttl) {
        return Err(DropReason::Ttl {
            v4,
            ttl: received,
            min: i32::from(ttl) - i32::from(max_hops),
        });
    }
    Ok(())
}

impl Control {
    /// The A bit, checked once the session is known (keepalived's order).
    pub fn check_auth(&self) -> Result<(), DropReason> {
        if self.auth {
            Err(DropReason::Auth)
        } else {
            Ok(())
        }
    }

    /// The 24-byte packet keepalived sends (no authentication section).
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0] = (VERSION << 5) | (self.diag as u8 & 0x1f);
        b[1] = ((self.state as u8) << 6)
            | u8::from(self.poll) << 5
            | u8::from(self.final_) << 4
            | u8::from(self.cplane) << 3
            | u8::from(self.auth) << 2
            | u8::from(self.demand) << 1
            | u8::from(self.multipoint);
        b[2] = self.detect_mult;
        b[3] = HEADER_LEN as u8;
        b[4..8].copy_from_slice(&self.my_discr.to_be_bytes());
        b[8..12].copy_from_slice(&self.your_discr.to_be_bytes());
        b[12..16].copy_from_slice(&self.desired_min_tx.to_be_bytes());
        b[16..20].copy_from_slice(&self.required_min_rx.to_be_bytes());
        b[20..24].copy_from_slice(&self.required_min_echo_rx.to_be_bytes());
        b
    }

    /// Desired min TX as a duration.
    pub fn desired_min_tx(&self) -> Duration {
        Duration::from_micros(u64::from(self.desired_min_tx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured with tcpdump from two keepalived 2.2.7 on a veth pair (192.0.2.1 min_rx/min_tx
    /// 100 ms, 192.0.2.2 200 ms, multiplier 3): the first packet (Down, your discriminator
    /// 0, idle TX 1 s), the Init answer, the Up with Poll after negotiation, its Final, and
    /// the Down after the peer was killed (diag 1, new discriminator).
    const KA_DOWN: [u8; 24] = [
        0x20, 0x40, 0x03, 0x18, 0x01, 0x2b, 0xb6, 0x2b, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x42,
        0x40, 0x00, 0x01, 0x86, 0xa0, 0x00, 0x00, 0x00, 0x00,
    ];
    const KA_INIT: [u8; 24] = [
        0x20, 0x80, 0x03, 0x18, 0x01, 0x2b, 0xb6, 0x2b, 0xb9, 0xc8, 0x27, 0x75, 0x00, 0x0f, 0x42,
        0x40, 0x00, 0x01, 0x86, 0xa0, 0x00, 0x00, 0x00, 0x00,
    ];
    const KA_UP_POLL: [u8; 24] = [
        0x20, 0xe0, 0x03, 0x18, 0xb9, 0xc8, 0x27, 0x75, 0x01, 0x2b, 0xb6, 0x2b, 0x00, 0x03, 0x0d,
        0x40, 0x00, 0x03, 0x0d, 0x40, 0x00, 0x00, 0x00, 0x00,
    ];
    const KA_UP_FINAL: [u8; 24] = [
        0x20, 0xd0, 0x03, 0x18, 0x01, 0x2b, 0xb6, 0x2b, 0xb9, 0xc8, 0x27, 0x75, 0x00, 0x01, 0x86,
        0xa0, 0x00, 0x01, 0x86, 0xa0, 0x00, 0x00, 0x00, 0x00,
    ];
    const KA_EXPIRED: [u8; 24] = [
        0x21, 0x40, 0x03, 0x18, 0x0d, 0x63, 0x57, 0x8a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x42,
        0x40, 0x00, 0x01, 0x86, 0xa0, 0x00, 0x00, 0x00, 0x00,
    ];

    /// Captured from FRR 8.4.4's bfdd (peer 192.0.2.1, 200 ms, multiplier 3) talking to
    /// keepalived 2.2.7: Init, Up with Poll, Up with Final; FRR announces echo RX 50 ms.
    const FRR_INIT: [u8; 24] = [
        0x20, 0x80, 0x03, 0x18, 0x36, 0xf2, 0x7d, 0xc3, 0x44, 0x5b, 0x46, 0x45, 0x00, 0x0f, 0x42,
        0x40, 0x00, 0x0f, 0x42, 0x40, 0x00, 0x00, 0xc3, 0x50,
    ];
    const FRR_UP_POLL: [u8; 24] = [
        0x20, 0xe0, 0x03, 0x18, 0x36, 0xf2, 0x7d, 0xc3, 0x44, 0x5b, 0x46, 0x45, 0x00, 0x03, 0x0d,
        0x40, 0x00, 0x03, 0x0d, 0x40, 0x00, 0x00, 0xc3, 0x50,
    ];
    const FRR_UP_FINAL: [u8; 24] = [
        0x20, 0xd0, 0x03, 0x18, 0x36, 0xf2, 0x7d, 0xc3, 0x44, 0x5b, 0x46, 0x45, 0x00, 0x03, 0x0d,
        0x40, 0x00, 0x03, 0x0d, 0x40, 0x00, 0x00, 0xc3, 0x50,
    ];

    #[test]
    fn frr_packets_decode_and_reencode() {
        let i = parse(&FRR_INIT).unwrap();
        assert_eq!(
            (i.state, i.detect_mult, i.required_min_echo_rx),
            (State::Init, 3, 50_000)
        );
        assert_eq!((i.my_discr, i.your_discr), (0x36f2_7dc3, 0x445b_4645));
        let p = parse(&FRR_UP_POLL).unwrap();
        assert!(p.poll && !p.final_ && p.state == State::Up);
        let f = parse(&FRR_UP_FINAL).unwrap();
        assert!(!f.poll && f.final_ && f.desired_min_tx == 200_000);
        for b in [FRR_INIT, FRR_UP_POLL, FRR_UP_FINAL] {
            assert_eq!(parse(&b).unwrap().encode(), b);
        }
    }

    fn sample() -> Control {
        Control {
            diag: Diag::NoDiag,
            state: State::Up,
            poll: true,
            final_: false,
            cplane: false,
            auth: false,
            demand: false,
            multipoint: false,
            detect_mult: 3,
            my_discr: 0x1234_5678,
            your_discr: 0x9abc_def0,
            desired_min_tx: 300_000,
            required_min_rx: 300_000,
            required_min_echo_rx: 0,
        }
    }

    #[test]
    fn keepalived_packets_decode_and_reencode() {
        let c = parse(&KA_DOWN).unwrap();
        assert_eq!(
            (c.state, c.diag, c.detect_mult),
            (State::Down, Diag::NoDiag, 3)
        );
        assert_eq!((c.my_discr, c.your_discr), (0x012b_b62b, 0));
        assert_eq!((c.desired_min_tx, c.required_min_rx), (1_000_000, 100_000));
        let i = parse(&KA_INIT).unwrap();
        assert_eq!((i.state, i.your_discr), (State::Init, 0xb9c8_2775));
        let p = parse(&KA_UP_POLL).unwrap();
        assert_eq!((p.state, p.poll, p.final_), (State::Up, true, false));
        assert_eq!((p.desired_min_tx, p.required_min_rx), (200_000, 200_000));
        let f = parse(&KA_UP_FINAL).unwrap();
        assert_eq!((f.state, f.poll, f.final_), (State::Up, false, true));
        let e = parse(&KA_EXPIRED).unwrap();
        assert_eq!(
            (e.state, e.diag, e.your_discr),
            (State::Down, Diag::Expired, 0)
        );
        for b in [KA_DOWN, KA_INIT, KA_UP_POLL, KA_UP_FINAL, KA_EXPIRED] {
            assert_eq!(parse(&b).unwrap().encode(), b);
        }
    }

    #[test]
    fn round_trip() {
        let c = sample();
        assert_eq!(parse(&c.encode()).unwrap(), c);
        for s in [State::AdminDown, State::Down, State::Init, State::Up] {
            let c = Control {
                state: s,
                poll: false,
                final_: true,
                diag: Diag::ReverseConcatenatedPathDown,
                ..sample()
            };
            assert_eq!(parse(&c.encode()).unwrap(), c);
        }
    }

    #[test]
    fn drops_in_keepalived_order() {
        let ok = sample().encode();
        assert_eq!(parse(&ok[..23]), Err(DropReason::TooShort { len: 23 }));
        let mut long = ok.to_vec();
        long.extend_from_slice(&[0; 4]);
        assert_eq!(parse(&long), Err(DropReason::Length { field: 24, len: 28 }));
        let with = |f: &dyn Fn(&mut [u8; 24])| {
            let mut b = ok;
            f(&mut b);
            parse(&b)
        };
        assert_eq!(
            with(&|b| b[0] = (2 << 5) | 1),
            Err(DropReason::Version { version: 2 })
        );
        assert_eq!(with(&|b| b[2] = 0), Err(DropReason::DetectMultZero));
        assert_eq!(with(&|b| b[1] |= 1), Err(DropReason::Multipoint));
        assert_eq!(with(&|b| b[4..8].fill(0)), Err(DropReason::MyDiscrZero));
        assert_eq!(with(&|b| b[8..12].fill(0)), Err(DropReason::YourDiscrZero));
        // Down with your discriminator 0 is the normal first packet.
        assert!(with(&|b| {
            b[8..12].fill(0);
            b[1] = (1 << 6) | (b[1] & 0x3f);
        })
        .is_ok());
        assert_eq!(with(&|b| b[1] |= 0x10), Err(DropReason::PollAndFinal));
        assert_eq!(
            with(&|b| b[0] = (1 << 5) | 9),
            Err(DropReason::Diag { diag: 9 })
        );
        // Version is checked before the multiplier.
        assert_eq!(
            with(&|b| {
                b[0] = 3 << 5;
                b[2] = 0
            }),
            Err(DropReason::Version { version: 3 })
        );
    }

    /// Found by fuzzing: a 28-byte packet whose length field says 28 is accepted (as
    /// keepalived and RFC 5880 6.8.6 do without the A bit); its tail is ignored.
    #[test]
    fn longer_packet_with_matching_length_is_accepted() {
        let b: [u8; 28] = [
            0x21, 0x40, 0x03, 0x1c, 0x0d, 0x00, 0x63, 0x00, 0x8a, 0x57, 0x00, 0x00, 0x00, 0x0f,
            0x42, 0x40, 0x00, 0x01, 0x01, 0x4c, 0x04, 0x5f, 0x04, 0x86, 0xa1, 0x00, 0x00, 0x00,
        ];
        let c = parse(&b).unwrap();
        assert_eq!((c.state, c.diag), (State::Down, Diag::Expired));
        assert_eq!(&c.encode()[4..], &b[4..24]);
    }

    #[test]
    fn auth_refused_after_lookup() {
        let c = parse(
            &Control {
                auth: true,
                ..sample()
            }
            .encode(),
        )
        .unwrap();
        assert_eq!(c.check_auth(), Err(DropReason::Auth));
        assert_eq!(sample().check_auth(), Ok(()));
    }

    #[test]
    fn ttl_security() {
        // Single hop: only 255 passes with max_hops 0.
        assert!(check_ttl(true, 255, 255, 0).is_ok());
        assert_eq!(
            check_ttl(true, 254, 255, 0),
            Err(DropReason::Ttl {
                v4: true,
                ttl: 254,
                min: 255
            })
        );
        assert!(check_ttl(true, 253, 255, 2).is_ok());
        assert!(check_ttl(true, 1, 255, 255).is_ok());
        assert!(check_ttl(false, 0, 64, 0).is_ok());
        assert_eq!(
            DropReason::Ttl {
                v4: false,
                ttl: 60,
                min: 64
            }
            .to_string(),
            "Packet hop_limit(60) < 64 - discarding"
        );
    }

    #[test]
    fn names() {
        assert_eq!(State::Init.name(), "Init");
        assert_eq!(Diag::Expired.name(), "Control Detection Time Expired");
        assert_eq!(
            DropReason::PollAndFinal.to_string(),
            "Packet has both poll and final  flags set"
        );
    }

    proptest::proptest! {
        /// What parses re-encodes to its mandatory section (a longer packet whose length
        /// field matches is accepted, its tail ignored); nothing panics.
        #[test]
        fn accepted_packets_round_trip(mut b in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            if let Some(l) = b.get_mut(3) {
                // Often a matching length field, so that parse gets past it.
                if *l & 1 == 0 {
                    *l = 0;
                }
            }
            let n = b.len() as u8;
            if let Some(l) = b.get_mut(3).filter(|l| **l == 0) {
                *l = n;
            }
            if let Ok(c) = parse(&b) {
                let mut head = [0u8; HEADER_LEN];
                head.copy_from_slice(&b[..HEADER_LEN]);
                head[3] = HEADER_LEN as u8;
                proptest::prop_assert_eq!(c.encode(), head);
            }
        }

        #[test]
        fn valid_headers_round_trip(mut b in proptest::array::uniform24(proptest::num::u8::ANY)) {
            b[0] = (1 << 5) | (b[0] % 9);
            b[1] &= !0x11;
            b[2] |= 1;
            b[3] = 24;
            b[4] |= 1;
            b[8] |= 1;
            let c = parse(&b).unwrap();
            proptest::prop_assert_eq!(c.encode(), b);
        }
    }
}
