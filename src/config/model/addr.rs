//! Address, route and rule lines (keepalived-spec.md §4.3, §4.10.2), shared by
//! `virtual_ipaddress`, `virtual_ipaddress_excluded`, `static_ipaddress`, `virtual_routes`,
//! `static_routes`, `virtual_rules` and `static_rules`.
#![forbid(unsafe_code)]

use crate::config::tree::Node;

use super::Ctx;

/// Where an address line is used: some options are allowed only in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrContext {
    /// `virtual_ipaddress` / `virtual_ipaddress_excluded` (allows `use_vmac`).
    Virtual,
    /// `static_ipaddress` (allows `track_group`).
    Static,
}

/// One address line: `ADDRESS[/PREFIX] [brd ..] [dev IF] [scope S] [label L] ...`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AddressSpec {
    pub addr: std::net::IpAddr,
    pub prefix: u8,
}

/// One route line (`ip route add` syntax).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteSpec {}

/// One rule line (`ip rule add` syntax).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RuleSpec {}

/// Parses an address line; `None` (after reporting why) when keepalived would ignore it.
pub fn address_line(_node: &Node, _ctx: &mut Ctx, _context: AddrContext) -> Option<AddressSpec> {
    None
}

/// Parses a route line; `None` (after reporting why) when keepalived would ignore it.
pub fn route_line(_node: &Node, _ctx: &mut Ctx) -> Option<RouteSpec> {
    None
}

/// Parses a rule line; `None` (after reporting why) when keepalived would ignore it.
pub fn rule_line(_node: &Node, _ctx: &mut Ctx) -> Option<RuleSpec> {
    None
}
