//! Root-level keywords and `global_defs` (keepalived-spec.md §4.1, §4.2).
#![forbid(unsafe_code)]

/// `global_defs { ... }`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
}

/// Keywords that stand at the root, outside any block (`net_namespace`, `instance`, ...).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RootOptions {}

use super::{Config, Ctx, Kw};

/// Root-level keywords owned by this module.
pub static ROOT: &[Kw<Config>] = &[];

/// Defaults that depend on other settings, and cross-checks.
pub fn finish(_cfg: &mut Config, _ctx: &mut Ctx) {}
