//! Value readers shared by the `virtual_server`/`real_server` tables and the checker
//! tables: keepalived's ranges and its message wording for booleans and timers.
#![forbid(unsafe_code)]

use std::time::Duration;

use crate::config::model::{parse_bool, Ctx};
use crate::config::tree::Node;

/// Largest `<TIMER>` keepalived accepts for loop delays (its printed range).
pub const TIMER_MAX: f64 = 18_446_744_073_709.55;
/// Largest `connect_timeout` (µs in a u32).
pub const CONNECT_TIMEOUT_MAX: f64 = 4294.967295;
pub const TIMER_MIN: f64 = 0.000001;

/// An optional boolean (a bare keyword is true); a bad one is reported as `MSG VALUE`.
pub(super) fn bool_kw(node: &Node, ctx: &mut Ctx, msg: &str) -> Option<bool> {
    match node.arg(0) {
        None => Some(true),
        Some(t) => match parse_bool(&t.text) {
            Some(b) => Some(b),
            None => {
                ctx.error(t.span, format!("{msg} {}", t.text));
                None
            }
        },
    }
}

/// A `<TIMER>` in `[min, max]`; when it is refused, `msg` (with `{}` replaced by the
/// value) is reported as well.
pub(super) fn timer_kw(
    node: &Node,
    ctx: &mut Ctx,
    min: f64,
    max: f64,
    msg: Option<&str>,
) -> Option<Duration> {
    let d = ctx.timer(node, 0, min, max);
    if d.is_none() {
        if let (Some(m), Some(t)) = (msg, node.arg(0)) {
            ctx.error(t.span, m.replace("{}", &t.text));
        }
    }
    d
}
