//! The checker side: IPVS virtual servers and health checks.
//!
//! `manager` holds the decisions (pure); `probe` what checkers share; one module per
//! checker type performs a single attempt and returns a [`probe::CheckResult`].

pub mod autofw;
pub mod dispatch;
pub mod dns;
pub mod file;
pub mod genhash;
pub mod http;
pub mod lvs_metrics;
pub mod manager;
pub mod misc;
pub mod ping;
pub mod probe;
pub mod service;
pub mod smtp;
pub mod tcp;
pub mod tls;
pub mod udp;
