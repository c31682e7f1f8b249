//! VRRP (RFC 3768 v2, RFC 5798 v3): wire format, state machine, sync groups.

pub mod alerts;
pub mod arp;
pub mod auth;
pub mod dbus;
pub mod debounce;
pub mod engine;
pub mod garp;
pub mod instance;
pub mod machine;
pub mod metrics;
pub mod packet;
pub mod rfc_state;
pub mod rxfilter;
pub mod rxguard;
pub mod service;
#[cfg(test)]
mod sim;
pub mod snmp;
pub mod snmp_registrations;
pub mod snmp_rfc;
pub mod socket;
pub mod startlog;
pub mod sync_group;
pub mod syncd;
pub mod track;
pub mod tracking;
pub mod vmac;
