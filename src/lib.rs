//! keepalived-rs: a drop-in replacement for keepalived (VRRP + IPVS health checking).

pub mod cli;
pub mod config;
pub mod net;
pub mod vrrp;
