//! keepalived-rs: a drop-in replacement for keepalived (VRRP + IPVS health checking).

pub mod agentx;
pub mod bfd;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod ipvs;
pub mod log;
pub mod mail;
pub mod metrics_http;
pub mod net;
pub mod notify;
pub mod rng;
pub mod script;
pub mod service;
pub mod vrrp;
pub mod watch;
