//! The VRRP child's configuration (keepalived-spec.md §4.3-§4.10).
#![forbid(unsafe_code)]

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VrrpConfig {}

use super::{Config, Ctx, Kw};

/// Root-level keywords owned by this module.
pub static ROOT: &[Kw<Config>] = &[];

/// Defaults that depend on other settings, and cross-checks.
pub fn finish(_cfg: &mut Config, _ctx: &mut Ctx) {}
