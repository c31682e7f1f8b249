//! What the standard VRRP MIBs (RFC 2787, RFC 6527) show of an instance beyond keepalived's
//! statistics, and the notifications an instance raises for them: kept by the instance and
//! the engine, served and sent by `snmp_rfc`.

use std::net::IpAddr;
use std::time::SystemTime;

/// RFC 6527 `vrrpv3StatisticsNewMasterReason` values.
pub mod reason {
    pub const NOT_MASTER: i32 = 0;
    pub const PRIORITY: i32 = 1;
    pub const PREEMPTED: i32 = 2;
    pub const MASTER_NO_RESPONSE: i32 = 3;
}

/// RFC 6527 `vrrpv3StatisticsProtoErrReason` values.
pub mod proto_err {
    pub const IP_TTL: i32 = 1;
    pub const VERSION: i32 = 2;
    pub const CHECKSUM: i32 = 3;
}

/// RFC 2787 `vrrpTrapAuthErrorType` values.
pub mod auth_err {
    pub const INVALID_AUTH_TYPE: i32 = 1;
    pub const AUTH_TYPE_MISMATCH: i32 = 2;
    pub const AUTH_FAILURE: i32 = 3;
}

/// What the standard MIBs show of an instance beyond keepalived's statistics.
#[derive(Debug, Clone)]
pub struct RfcState {
    /// The last master heard (keepalived keeps it after taking over).
    pub master_saddr: Option<IpAddr>,
    pub master_reason: i32,
    /// Why the instance would become master next.
    pub next_master_reason: i32,
    pub proto_err_reason: i32,
    /// Adverts of the wrong version and with a bad checksum (the MIBs' global counters).
    pub vers_err: u64,
    pub chk_err: u64,
    /// When the instance started (the virtual router's up time).
    pub started: SystemTime,
}

impl RfcState {
    pub fn new(base_priority: u8) -> RfcState {
        RfcState {
            master_saddr: None,
            master_reason: reason::NOT_MASTER,
            // The address owner starts as master by preempting.
            next_master_reason: if base_priority == 255 {
                reason::PREEMPTED
            } else {
                reason::MASTER_NO_RESPONSE
            },
            proto_err_reason: 0,
            vers_err: 0,
            chk_err: 0,
            started: SystemTime::now(),
        }
    }
}

/// Where an instance's notification is about, taken from the instance when it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    pub ifindex: u32,
    pub vrid: u8,
    pub v6: bool,
    pub v3: bool,
    pub has_vips: bool,
    pub saddr: Option<IpAddr>,
}

/// A standard-MIB notification an instance raises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    NewMaster { at: Source, reason: i32 },
    AuthError { at: Source, src: IpAddr, kind: i32 },
    ProtoError { at: Source, reason: i32 },
}
