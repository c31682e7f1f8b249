//! IPVS over generic netlink (family "IPVS"): attributes
//! ([`attr`]), messages and typed values ([`msg`]), and a blocking client
//! ([`client`]).
#![forbid(unsafe_code)]

pub mod attr;
pub mod client;
pub mod msg;
pub mod sync;

pub use attr::{CmdAttr, DaemonAttr, DestAttr, Flags, Stats, SvcAttr};
pub use client::{Ipvs, IpvsError};
pub use msg::{
    DaemonState, Dest, DestEntry, Family, Fwd, Info, IpvsCmd, IpvsMessage, Protocol, Service,
    ServiceEntry, ServiceKey, SyncDaemon, Timeouts, TunnelType,
};

#[cfg(test)]
mod tests;
