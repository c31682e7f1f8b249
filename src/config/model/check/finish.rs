//! Defaults and cross-checks keepalived applies after reading the checker configuration.
#![forbid(unsafe_code)]

use crate::config::model::Ctx;

use super::checker::CheckerKind;
use super::{
    CheckConfig, Family, Forwarding, Protocol, Scheduler, VirtualServer, VsAddr,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_PERSISTENCE,
};

pub(super) fn finish(check: &mut CheckConfig, ctx: &mut Ctx) {
    let vss = std::mem::take(&mut check.virtual_servers);
    for mut vs in vss {
        if let VsAddr::Group(g) = &vs.addr {
            // keepalived -t is silent; the service would never be created
            if check.group(g).is_none() {
                ctx.lint(
                    vs.span,
                    format!("virtual server group {g} is not defined (or was removed)"),
                );
            }
        }
        service_defaults(&mut vs, ctx);
        real_servers(&mut vs, ctx);
        if vs.real_servers.is_empty() {
            ctx.error(
                vs.span,
                format!(
                    "Virtual server {} has no real servers - ignoring",
                    vs.display()
                ),
            );
            continue;
        }
        quorum(&mut vs, ctx);
        if vs.family.is_none() {
            // only fwmark services with tunnelled servers get here: the family of the
            // sorry/real servers when they agree, else IPv4 (keepalived's vs_end_handler)
            let fams: Vec<Family> = vs
                .sorry_server
                .iter()
                .map(|s| Family::of(&s.ip))
                .chain(vs.real_servers.iter().map(|r| Family::of(&r.ip)))
                .collect();
            let first = fams.first().copied().unwrap_or(Family::Inet);
            vs.family = Some(if fams.iter().all(|f| *f == first) {
                first
            } else {
                Family::Inet
            });
        }
        check.virtual_servers.push(vs);
    }
}

/// Protocol, scheduler, method and persistence defaults, with keepalived's messages.
fn service_defaults(vs: &mut VirtualServer, ctx: &mut Ctx) {
    if vs.is_fwmark() && vs.protocol.is_some() {
        ctx.warn(
            vs.span,
            format!(
                "Warning: Virtual server {}: protocol specified for fwmark - protocol will be ignored",
                vs.display()
            ),
        );
        vs.protocol = None;
    }
    if !vs.is_fwmark() && vs.protocol.is_none() {
        ctx.error(
            vs.span,
            format!(
                "Virtual server {}: no protocol set - defaulting to UDP",
                vs.display()
            ),
        );
        vs.protocol = Some(Protocol::Udp);
    }
    if vs.scheduler.is_none() {
        ctx.error(
            vs.span,
            format!(
                "Virtual server {}: no scheduler set, setting default 'wlc'",
                vs.display()
            ),
        );
        vs.scheduler = Some(Scheduler::Wlc);
    }
    if vs.method.is_none() {
        ctx.error(
            vs.span,
            format!(
                "Virtual server {}: no forwarding method set, setting default NAT",
                vs.display()
            ),
        );
        vs.method = Some(Forwarding::Nat);
    }
    if matches!(vs.addr, VsAddr::Addr { port: 0, .. }) && vs.persistence_timeout == 0 {
        ctx.error(
            vs.span,
            format!(
                "Virtual server {}: zero port only valid for persistent services - setting",
                vs.display()
            ),
        );
        vs.persistence_timeout = DEFAULT_PERSISTENCE;
    }
    if vs.flags.one_packet && vs.protocol != Some(Protocol::Udp) {
        ctx.error(
            vs.span,
            format!(
                "Virtual server {}: one packet scheduling requires UDP - resetting",
                vs.display()
            ),
        );
        vs.flags.one_packet = false;
    }
    if let Some(s) = &vs.sorry_server {
        let tunnelled = s.method.or(vs.method).is_some_and(|m| m.is_tunnel());
        let fam = super::Family::of(&s.ip);
        if !tunnelled && vs.family.is_some_and(|f| f != fam) {
            ctx.error(
                s.span,
                format!(
                    "Address family of virtual server and sorry server {} don't match - skipping sorry server.",
                    s.ip
                ),
            );
            vs.sorry_server = None;
        }
    }
}

/// Ports, inherited values, checker defaults, duplicates.
fn real_servers(vs: &mut VirtualServer, ctx: &mut Ctx) {
    let vs_port = vs.port();
    let vs_method = vs.method.unwrap_or(Forwarding::Nat);
    let mut rss = std::mem::take(&mut vs.real_servers);
    for rs in &mut rss {
        let method = *rs.method.get_or_insert(vs_method);
        if vs.is_fwmark() {
            if rs.port != 0 {
                ctx.warn(
                    rs.span,
                    format!(
                        "WARNING - fwmark virtual server {}, real server {} has port specified - clearing",
                        vs.display(),
                        vs.rs_display(rs)
                    ),
                );
                rs.port = 0;
            }
        } else if rs.port == 0 {
            rs.port = vs_port;
        } else if method != Forwarding::Nat && rs.port != vs_port {
            ctx.warn(
                rs.span,
                format!(
                    "WARNING - virtual server {} and real server {} ports don't match - resetting",
                    vs.display(),
                    vs.rs_display(rs)
                ),
            );
            rs.port = vs_port;
        }
        rs.weight.get_or_insert(vs.weight);
        rs.inhibit_on_failure.get_or_insert(vs.inhibit_on_failure);
        rs.alpha.get_or_insert(vs.alpha);
        if rs.virtualhost.is_none() {
            rs.virtualhost = vs.virtualhost.clone();
        }
        let rs_delay = *rs.delay_loop.get_or_insert(vs.delay_loop);
        let rs_retry = rs.retry.or(vs.retry);
        let rs_dbr = rs.delay_before_retry.or(vs.delay_before_retry);
        let rs_warmup = rs.warmup.or(vs.warmup);
        let rs_ct = rs.connect_timeout.or(vs.connect_timeout);
        let rs_alpha = rs.alpha.unwrap_or(false);
        for c in &mut rs.checkers {
            let (def_retry, def_dbr) = c.kind.retry_defaults();
            let t = &mut c.timing;
            let delay = *t.delay_loop.get_or_insert(rs_delay);
            t.retry = Some(t.retry.or(rs_retry).unwrap_or(def_retry));
            t.delay_before_retry =
                Some(t.delay_before_retry.or(rs_dbr).or(def_dbr).unwrap_or(delay));
            // warmup defaults to the checker's delay_loop
            t.warmup = Some(t.warmup.or(rs_warmup).unwrap_or(delay));
            t.connect_timeout = Some(
                t.connect_timeout
                    .or(rs_ct)
                    .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            );
            t.alpha.get_or_insert(rs_alpha);
            if let CheckerKind::Misc(m) = &mut c.kind {
                m.timeout.get_or_insert(delay);
            }
        }
    }
    // duplicate real servers: keepalived keeps the first
    // (a set, not a scan of `kept`: 1,000 real servers would cost 500,000 comparisons)
    let mut kept: Vec<super::RealServer> = Vec::with_capacity(rss.len());
    let mut seen = std::collections::HashSet::with_capacity(rss.len());
    for rs in rss {
        if !seen.insert((rs.ip, rs.port)) {
            ctx.error(
                rs.span,
                format!(
                    "VS {}: real server {} is duplicated - removing second rs",
                    vs.display(),
                    vs.rs_display(&rs)
                ),
            );
            continue;
        }
        kept.push(rs);
    }
    vs.real_servers = kept;
}

/// quorum capped to the total weight, hysteresis below quorum.
fn quorum(vs: &mut VirtualServer, ctx: &mut Ctx) {
    let total: u64 = vs
        .real_servers
        .iter()
        .map(|rs| u64::from(rs.weight_or(vs)))
        .sum();
    if u64::from(vs.quorum) > total {
        let t = total as u32;
        ctx.warn(
            vs.span,
            format!(
                "Warning - quorum {} for {} exceeds total weight of real servers {}, reducing quorum to {}",
                vs.quorum,
                vs.display(),
                total,
                t
            ),
        );
        vs.quorum = t;
    }
    if vs.hysteresis >= vs.quorum {
        // keepalived computes quorum - 1 in unsigned arithmetic: 0 wraps (observed).
        let h = vs.quorum.wrapping_sub(1);
        ctx.error(
            vs.span,
            format!(
                "Virtual server {}: hysteresis {} >= quorum {}; setting hysteresis to {}",
                vs.display(),
                vs.hysteresis,
                vs.quorum,
                h
            ),
        );
        vs.hysteresis = h;
    }
}
