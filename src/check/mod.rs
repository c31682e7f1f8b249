//! The checker side: IPVS virtual servers and health checks.

pub mod ipvs;
