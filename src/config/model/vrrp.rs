//! The VRRP child's configuration: the root keywords
//! `vrrp_script`, `track_file`, `vrrp_track_process`, `vrrp_sync_group`, `vrrp_instance`,
//! `bfd_instance`, and in [`finish`] the defaults that depend on other settings and the
//! cross-checks keepalived makes when it completes its instances.
#![forbid(unsafe_code)]

pub mod instance;
pub mod track;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use crate::config::diagnostic::Span;
use crate::config::tree::Node;

use super::{apply_block, parse_bool, Config, Ctx, Kw};

pub use instance::{
    Auth, AuthType, Family, GarpExtraIf, Instance, Ipvlan, IpvlanMode, Notify, State, UnicastPeer,
    Version, Vmac,
};
pub use track::{
    BfdInstance, ParamMatch, TrackFile, TrackFileInit, TrackKind, TrackProcess, TrackRef,
    VrrpScript,
};

/// Everything the VRRP child runs from.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct VrrpConfig {
    pub scripts: Vec<VrrpScript>,
    pub track_files: Vec<TrackFile>,
    pub track_processes: Vec<TrackProcess>,
    pub sync_groups: Vec<SyncGroup>,
    pub instances: Vec<Instance>,
    pub bfd_instances: Vec<BfdInstance>,
    /// Set when keepalived's VRRP child would refuse this configuration and exit (missing
    /// VRID, no interface, a VRRPv3/strict instance without VIPs, duplicate VRID:).
    pub fatal: Option<String>,
}

/// `vrrp_sync_group NAME {... }`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SyncGroup {
    pub name: String,
    pub span: Span,
    /// Member instance names, as configured; unknown ones are dropped by `finish`.
    pub members: Vec<String>,
    #[serde(skip)]
    member_spans: Vec<Span>,
    /// Whether a `group { }` block was seen.
    #[serde(skip)]
    group_seen: bool,
    pub track_interfaces: Vec<TrackRef>,
    pub track_scripts: Vec<TrackRef>,
    pub track_files: Vec<TrackRef>,
    pub track_processes: Vec<TrackRef>,
    pub track_bfds: Vec<TrackRef>,
    pub notify: Notify,
    pub smtp_alert: bool,
    #[serde(skip)]
    smtp_alert_set: Option<bool>,
    /// `None`: not set; members without their own setting inherit it when set.
    pub notify_priority_changes: Option<bool>,
    /// `sync_group_tracking_weight` (or deprecated `global_tracking`): keep members' weights.
    pub tracking_weight: bool,
}

impl SyncGroup {
    pub fn new(name: &str, span: Span) -> Self {
        SyncGroup {
            name: name.to_owned(),
            span,
            members: Vec::new(),
            member_spans: Vec::new(),
            group_seen: false,
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            track_bfds: Vec::new(),
            notify: Notify::default(),
            smtp_alert: false,
            smtp_alert_set: None,
            notify_priority_changes: None,
            tracking_weight: false,
        }
    }
}

pub(crate) static SYNC_GROUP_KW: &[Kw<SyncGroup>] = &[
    Kw::new("group", |g, n, ctx| {
        if g.group_seen {
            ctx.error(
                n.span(),
                format!("Group list already specified for sync group {}", g.name),
            );
            return;
        }
        g.group_seen = true;
        for t in n.block_words() {
            g.members.push(t.text.clone());
            g.member_spans.push(t.span);
        }
        if g.members.is_empty() {
            ctx.error(
                n.span(),
                format!("Warning - sync group {} has empty group block", g.name),
            );
        }
    }),
    Kw::new("track_interface", |g, n, ctx| {
        let v = track::track_block(n, TrackKind::Interface, &g.name, ctx);
        g.track_interfaces.extend(v);
    }),
    Kw::new("track_script", |g, n, ctx| {
        let v = track::track_block(n, TrackKind::Script, &g.name, ctx);
        g.track_scripts.extend(v);
    }),
    Kw::new("track_file", |g, n, ctx| {
        let v = track::track_block(n, TrackKind::File, &g.name, ctx);
        g.track_files.extend(v);
    }),
    Kw::new("track_process", |g, n, ctx| {
        let v = track::track_block(n, TrackKind::Process, &g.name, ctx);
        g.track_processes.extend(v);
    }),
    Kw::new("track_bfd", |g, n, ctx| {
        let v = track::track_block(n, TrackKind::Bfd, &g.name, ctx);
        g.track_bfds.extend(v);
    }),
    Kw::new("notify_backup", |g, n, ctx| {
        instance::notify_kw(&mut g.notify, &g.name, n, ctx, true)
    }),
    Kw::new("notify_master", |g, n, ctx| {
        instance::notify_kw(&mut g.notify, &g.name, n, ctx, true)
    }),
    Kw::new("notify_fault", |g, n, ctx| {
        instance::notify_kw(&mut g.notify, &g.name, n, ctx, true)
    }),
    Kw::new("notify_stop", |g, n, ctx| {
        instance::notify_kw(&mut g.notify, &g.name, n, ctx, true)
    }),
    Kw::new("notify", |g, n, ctx| {
        instance::notify_kw(&mut g.notify, &g.name, n, ctx, true)
    }),
    Kw::new("smtp_alert", |g, n, ctx| match n.arg(0) {
        None => g.smtp_alert_set = Some(true),
        Some(t) => match parse_bool(&t.text) {
            Some(b) => g.smtp_alert_set = Some(b),
            None => ctx.error(
                t.span,
                format!("Invalid vrrp_group smtp_alert parameter {}", t.text),
            ),
        },
    }),
    Kw::new("notify_priority_changes", |g, n, ctx| match n.arg(0) {
        None => g.notify_priority_changes = Some(true),
        Some(t) => match parse_bool(&t.text) {
            Some(b) => g.notify_priority_changes = Some(b),
            None => ctx.error(
                t.span,
                format!(
                    "({}) Invalid value '{}' for sync group notify_priority_changes specified",
                    g.name, t.text
                ),
            ),
        },
    }),
    Kw::new("sync_group_tracking_weight", |g, _n, _ctx| {
        g.tracking_weight = true
    }),
    Kw::new("global_tracking", |g, n, ctx| {
        ctx.error(
            n.span(),
            format!(
                "({}) global_tracking is deprecated. Use track_interface/script/file on the sync group",
                g.name
            ),
        );
        g.tracking_weight = true;
    }),
];

/// The block's name (`vrrp_instance NAME {`): exactly one word, else keepalived skips it.
fn block_name<'n>(node: &'n Node, ctx: &mut Ctx, msg: &str) -> Option<&'n str> {
    if node.args.len() != 1 {
        ctx.error(node.span(), msg);
        return None;
    }
    node.arg(0).map(|t| t.text.as_str())
}

fn root_instance(cfg: &mut Config, node: &Node, ctx: &mut Ctx) {
    let Some(name) = block_name(node, ctx, "vrrp_instance must have a name") else {
        return;
    };
    // Names of generated configurations differ mostly at their end: comparing the last
    // byte first skips most full comparisons (this check is quadratic in the instances).
    let last = name.as_bytes().last();
    if cfg
        .vrrp
        .instances
        .iter()
        .any(|i| i.name.as_bytes().last() == last && i.name == name)
    {
        ctx.error(node.span(), format!("vrrp instance {name} already defined"));
        return;
    }
    let mut inst = Instance::new(name, node.span());
    apply_block(&mut inst, node.children(), instance::INSTANCE_KW, ctx);
    let i = &mut inst;
    resolve_refs(
        &cfg.vrrp,
        &i.name,
        [
            (&mut i.track_scripts, TrackKind::Script),
            (&mut i.track_files, TrackKind::File),
            (&mut i.track_processes, TrackKind::Process),
            (&mut i.track_bfds, TrackKind::Bfd),
        ],
        ctx,
    );
    cfg.vrrp.instances.push(inst);
}

fn root_sync_group(cfg: &mut Config, node: &Node, ctx: &mut Ctx) {
    let Some(name) = block_name(node, ctx, "vrrp_sync_group must have a name - skipping") else {
        return;
    };
    if cfg.vrrp.sync_groups.iter().any(|g| g.name == name) {
        ctx.error(
            node.span(),
            format!("vrrp sync group {name} already defined"),
        );
        return;
    }
    let mut g = SyncGroup::new(name, node.span());
    apply_block(&mut g, node.children(), SYNC_GROUP_KW, ctx);
    let gr = &mut g;
    resolve_refs(
        &cfg.vrrp,
        &gr.name,
        [
            (&mut gr.track_scripts, TrackKind::Script),
            (&mut gr.track_files, TrackKind::File),
            (&mut gr.track_processes, TrackKind::Process),
            (&mut gr.track_bfds, TrackKind::Bfd),
        ],
        ctx,
    );
    cfg.vrrp.sync_groups.push(g);
}

/// The name of a `vrrp_script`-like block: keepalived reads it unchecked, so a missing
/// name is its fatal "missing a parameter" (observed `-t` exit 2).
fn object_name<'n>(node: &'n Node, ctx: &mut Ctx) -> Option<&'n str> {
    ctx.need(node, 0).map(|t| t.text.as_str())
}

fn root_script(cfg: &mut Config, node: &Node, ctx: &mut Ctx) {
    let Some(name) = object_name(node, ctx) else {
        return;
    };
    let mut s = VrrpScript::new(name, node.span());
    apply_block(&mut s, node.children(), track::SCRIPT_KW, ctx);
    if s.script.is_none() {
        ctx.error(
            node.span(),
            format!("No script set for vrrp_script {name} - removing"),
        );
        return;
    }
    if cfg.vrrp.scripts.iter().any(|o| o.name == name) {
        // keepalived keeps both and finds the first by name: the later one is dead
        ctx.lint(
            node.span(),
            format!("vrrp_script {name} defined twice; the first definition is used"),
        );
    }
    cfg.vrrp.scripts.push(s);
}

fn root_track_file(cfg: &mut Config, node: &Node, ctx: &mut Ctx) {
    if node.name() == "vrrp_track_file" {
        // keepalived only logs this: `-t` exits 0 (observed)
        ctx.lint(
            node.span(),
            "\"vrrp_track_file\" is deprecated, please use \"track_file\"",
        );
    }
    let Some(name) = object_name(node, ctx) else {
        return;
    };
    let mut f = TrackFile::new(name, node.span());
    apply_block(&mut f, node.children(), track::TRACK_FILE_KW, ctx);
    if f.path.is_none() {
        ctx.error(
            node.span(),
            format!("No file set for track_file {name} - ignoring"),
        );
        return;
    }
    cfg.vrrp.track_files.push(f);
}

fn root_track_process(cfg: &mut Config, node: &Node, ctx: &mut Ctx) {
    let Some(name) = object_name(node, ctx) else {
        return;
    };
    let mut p = TrackProcess::new(name, node.span());
    apply_block(&mut p, node.children(), track::TRACK_PROCESS_KW, ctx);
    if p.process.is_empty() {
        ctx.error(
            node.span(),
            format!("track process '{name}' process name not specified"),
        );
        return;
    }
    cfg.vrrp.track_processes.push(p);
}

fn root_bfd(cfg: &mut Config, node: &Node, ctx: &mut Ctx) {
    let Some(name) = object_name(node, ctx) else {
        return;
    };
    if cfg.vrrp.bfd_instances.iter().any(|b| b.name == name) {
        ctx.error(node.span(), format!("BFD {name} already specified"));
        return;
    }
    let mut b = BfdInstance::new(name, node.span());
    apply_block(&mut b, node.children(), track::BFD_KW, ctx);
    match (b.neighbor, b.source) {
        (None, _) => {
            ctx.error(
                node.span(),
                format!("Configuration error: BFD instance {name} has no neighbor address set, disabling instance"),
            );
            return;
        }
        (Some(n), Some(s)) if n.is_ipv4() != s.is_ipv4() => {
            ctx.error(
                node.span(),
                format!("Configuration error: BFD instance {name} source address {s} and neighbor address {n} are not of the same family, disabling instance"),
            );
            return;
        }
        _ => {}
    }
    // keepalived's find_bfd_by_addr: one session per neighbour (and port), unless both
    // name different source addresses.
    let clash = cfg.vrrp.bfd_instances.iter().any(|o| {
        o.neighbor == b.neighbor
            && o.multihop == b.multihop
            && (o.source.is_none() || b.source.is_none() || o.source == b.source)
    });
    if clash {
        let n = b.neighbor.map(|a| a.to_string()).unwrap_or_default();
        let what = match b.source {
            Some(s) => format!("duplicate source/neighbor address {s}/{n}"),
            None => format!("duplicate neighbor address {n}"),
        };
        ctx.error(
            node.span(),
            format!("Configuration error: BFD instance {name} has {what}, ignoring instance"),
        );
        return;
    }
    let ttl = b.ttl.unwrap_or(if b.neighbor.is_some_and(|n| n.is_ipv4()) {
        255
    } else {
        64
    });
    if b.max_hops.unwrap_or(u8::MAX) > ttl {
        ctx.error(
            node.span(),
            format!("BFD instance {name}: max_hops exceeds ttl/hoplimit - setting to ttl/hoplimit"),
        );
        b.max_hops = Some(ttl);
    }
    cfg.vrrp.bfd_instances.push(b);
}

/// Root-level keywords owned by this module.
pub static ROOT: &[Kw<Config>] = &[
    Kw::new("vrrp_script", root_script),
    Kw::new("track_file", root_track_file),
    Kw::new("vrrp_track_file", root_track_file),
    Kw::new("vrrp_track_process", root_track_process),
    Kw::new("vrrp_sync_group", root_sync_group),
    Kw::new("vrrp_instance", root_instance),
    Kw::new("bfd_instance", root_bfd),
];

/// The `global_defs` values that give instances their defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalVrrpDefaults {
    pub vrrp_version: Version,
    pub strict: bool,
    pub garp_master_delay: Duration,
    pub garp_master_repeat: u32,
    pub garp_master_refresh: Duration,
    pub garp_master_refresh_repeat: u32,
    /// `None`: same as the master delay / repeat.
    pub garp_lower_prio_delay: Option<Duration>,
    pub garp_lower_prio_repeat: Option<u32>,
    pub garp_extra_if: Option<GarpExtraIf>,
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub skip_check_adv_addr: bool,
    pub check_unicast_src: bool,
    pub smtp_alert: Option<bool>,
    pub smtp_alert_vrrp: Option<bool>,
    pub notify_priority_changes: bool,
    pub v3_checksum_as_v2: bool,
}

impl Default for GlobalVrrpDefaults {
    fn default() -> Self {
        GlobalVrrpDefaults {
            vrrp_version: Version::V2,
            strict: false,
            garp_master_delay: Duration::from_secs(5),
            garp_master_repeat: 5,
            garp_master_refresh: Duration::ZERO,
            garp_master_refresh_repeat: 1,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            garp_extra_if: None,
            down_timer_adverts: 3,
            lower_prio_no_advert: false,
            higher_prio_send_advert: false,
            skip_check_adv_addr: false,
            check_unicast_src: false,
            smtp_alert: None,
            smtp_alert_vrrp: None,
            notify_priority_changes: false,
            v3_checksum_as_v2: false,
        }
    }
}

/// The instance defaults that `global_defs` sets.
pub fn global_vrrp_defaults(cfg: &Config) -> GlobalVrrpDefaults {
    let g = &cfg.global;
    let d = GlobalVrrpDefaults::default();
    // vrrp_min_garp already lowered the values not set before it (global.rs), as
    // keepalived's handler does; a value set after it stands.
    let (master_delay, master_repeat) = (g.vrrp_garp_master_delay, g.vrrp_garp_master_repeat);
    GlobalVrrpDefaults {
        vrrp_version: if g.vrrp_version == 3 {
            Version::V3
        } else {
            Version::V2
        },
        strict: g.vrrp_strict,
        garp_master_delay: master_delay,
        garp_master_repeat: master_repeat,
        garp_master_refresh: g.vrrp_garp_master_refresh,
        garp_master_refresh_repeat: g.vrrp_garp_master_refresh_repeat,
        garp_lower_prio_delay: g.vrrp_garp_lower_prio_delay,
        garp_lower_prio_repeat: g.vrrp_garp_lower_prio_repeat,
        garp_extra_if: g.vrrp_garp_extra_if.map(|secs| GarpExtraIf {
            all: g.vrrp_garp_extra_if_all,
            interval: Duration::from_secs(u64::from(secs)),
        }),
        down_timer_adverts: g.vrrp_down_timer_adverts,
        lower_prio_no_advert: g
            .vrrp_lower_prio_no_advert
            .unwrap_or(d.lower_prio_no_advert),
        higher_prio_send_advert: g
            .vrrp_higher_prio_send_advert
            .unwrap_or(d.higher_prio_send_advert),
        skip_check_adv_addr: g.vrrp_skip_check_adv_addr,
        check_unicast_src: g.vrrp_check_unicast_src,
        smtp_alert: g.smtp_alert,
        smtp_alert_vrrp: g.smtp_alert_vrrp,
        notify_priority_changes: g.vrrp_notify_priority_changes,
        v3_checksum_as_v2: g.v3_checksum_as_v2,
    }
}

/// Defaults that depend on other settings, and cross-checks.
pub fn finish(cfg: &mut Config, ctx: &mut Ctx) {
    let g = global_vrrp_defaults(cfg);
    let v = &mut cfg.vrrp;
    build_sync_groups(v, ctx);
    for idx in 0..v.instances.len() {
        if v.fatal.is_some() {
            // keepalived stops completing instances at its first fatal error
            break;
        }
        let sync = v.instances[idx]
            .sync_group
            .as_ref()
            .and_then(|name| v.sync_groups.iter().find(|s| &s.name == name))
            .map(|s| !s.tracking_weight);
        // An instance's own setting, else its sync group's, else the global one (vrrp.c).
        let group_npc = v.instances[idx]
            .sync_group
            .as_ref()
            .and_then(|name| v.sync_groups.iter().find(|s| &s.name == name))
            .and_then(|s| s.notify_priority_changes);
        let tracked = (v.scripts.as_slice(), v.track_files.as_slice());
        if let Some(inst) = v.instances.get_mut(idx) {
            if let Err(msg) = complete_instance(inst, &g, sync, tracked, ctx) {
                v.fatal = Some(msg);
            }
            if let (None, Some(b)) = (inst.set.notify_priority_changes, group_npc) {
                inst.notify_priority_changes = b;
            }
        }
    }
    if v.fatal.is_none() {
        check_duplicate_vrids(v, ctx);
    }
    finish_sync_groups(v, &g, ctx);
    drop_unused_scripts(v, ctx);
    // keepalived numbers rules without a preference in one sequence (statics first here)
    let mut next = 16384u32.saturating_sub(cfg.statics.auto_rule_preferences);
    for inst in &mut cfg.vrrp.instances {
        super::addr::assign_missing_preferences(inst.vrules.iter_mut(), &mut next, ctx);
    }
}

/// Drops `track_*` lines that name objects not defined *above* them: keepalived looks
/// them up while parsing, so a `vrrp_script` after its instance is "not found" (observed).
fn resolve_refs(
    v: &VrrpConfig,
    owner: &str,
    refs: [(&mut Vec<TrackRef>, TrackKind); 4],
    ctx: &mut Ctx,
) {
    for (list, kind) in refs {
        let (what, known): (&str, Vec<&str>) = match kind {
            TrackKind::Script => (
                "track script",
                v.scripts.iter().map(|x| x.name.as_str()).collect(),
            ),
            TrackKind::File => (
                "track file",
                v.track_files.iter().map(|x| x.name.as_str()).collect(),
            ),
            TrackKind::Process => (
                "track process",
                v.track_processes.iter().map(|x| x.name.as_str()).collect(),
            ),
            TrackKind::Bfd => (
                "track bfd",
                v.bfd_instances.iter().map(|x| x.name.as_str()).collect(),
            ),
            TrackKind::Interface => continue,
        };
        list.retain(|r| {
            let found = known.contains(&r.name.as_str());
            if !found {
                ctx.error(
                    r.span,
                    format!("({owner}) {what} {} not found, ignoring...", r.name),
                );
            }
            found
        });
    }
}

/// Resolves sync group members (keepalived's `vrrp_sync_set_group`).
fn build_sync_groups(v: &mut VrrpConfig, ctx: &mut Ctx) {
    let mut member_of: HashMap<String, String> = HashMap::new();
    let mut keep = Vec::new();
    for mut g in std::mem::take(&mut v.sync_groups) {
        if !g.group_seen {
            ctx.error(
                g.span,
                format!("Sync group {} has no virtual router(s). removing", g.name),
            );
            continue;
        }
        let mut members = Vec::new();
        for (name, span) in g.members.iter().zip(g.member_spans.iter()) {
            if !v.instances.iter().any(|i| &i.name == name) {
                ctx.error(
                    *span,
                    format!(
                        "Virtual router {} specified in sync group {} doesn't exist - ignoring",
                        name, g.name
                    ),
                );
                continue;
            }
            if member_of.contains_key(name) || members.contains(name) {
                ctx.error(
                    *span,
                    format!(
                        "Virtual router {} cannot exist in more than one sync group; ignoring {}",
                        name, g.name
                    ),
                );
                continue;
            }
            members.push(name.clone());
        }
        if members.is_empty() {
            ctx.error(
                g.span,
                format!(
                    "Sync group {}, no matching virtual router found in group declaration - removing",
                    g.name
                ),
            );
            continue;
        }
        if members.len() == 1 {
            ctx.error(
                g.span,
                format!(
                    "Sync group {} has only 1 virtual router(s) - this probably isn't what you want",
                    g.name
                ),
            );
        }
        let owners = v
            .instances
            .iter()
            .filter(|i| members.contains(&i.name))
            .filter(|i| i.set.priority == Some(255))
            .count();
        if owners != 0 && owners != members.len() {
            // keepalived -t stays silent here (observed); the daemon logs it later
            ctx.lint(
                g.span,
                format!(
                    "Sync group {} has some member(s) as address owner and some not as address owner. This won't work.",
                    g.name
                ),
            );
        }
        for m in &members {
            member_of.insert(m.clone(), g.name.clone());
        }
        g.members = members;
        g.member_spans.clear();
        keep.push(g);
    }
    v.sync_groups = keep;
    for i in &mut v.instances {
        i.sync_group = member_of.get(&i.name).cloned();
    }
}

fn is_link_local(a: &IpAddr) -> bool {
    match a {
        IpAddr::V6(v) => v.segments()[0] & 0xffc0 == 0xfe80,
        IpAddr::V4(_) => false,
    }
}

/// keepalived's `vrrp_complete_instance` (in its order), minus what needs the host.
/// `sync_no_weight` is `Some(true)` for a member of a group without
/// `sync_group_tracking_weight`. `Err` = the VRRP child would exit.
fn complete_instance(
    i: &mut Instance,
    g: &GlobalVrrpDefaults,
    sync_no_weight: Option<bool>,
    (scripts, files): (&[VrrpScript], &[TrackFile]),
    ctx: &mut Ctx,
) -> Result<(), String> {
    let name = i.name.clone();
    let at = i.span;
    i.strict = i.set.strict.unwrap_or(g.strict);
    i.family = if i.set.native_ipv6 {
        Family::V6
    } else {
        i.vips
            .first()
            .map(|a| Family::of(&a.addr))
            .or(i.src_ip.as_ref().map(Family::of))
            .or(i.unicast_peers.first().map(|p| Family::of(&p.addr)))
            .unwrap_or(Family::V4)
    };
    // IPv6 means VRRPv3 (RFC 5798); only strict mode overrides an explicit `version 2`
    i.version = match (i.family, i.set.version) {
        (Family::V6, Some(Version::V2)) if i.strict => {
            ctx.error(
                i.set.version_span.unwrap_or(at),
                format!("({name}) cannot use IPv6 with VRRP version 2; setting version 3"),
            );
            Version::V3
        }
        (Family::V6, None) => Version::V3,
        (_, Some(v)) => v,
        (Family::V4, None) => g.vrrp_version,
    };
    if i.family == Family::V6 && i.version == Version::V2 {
        ctx.lint(
            i.set.version_span.unwrap_or(at),
            format!("({name}) VRRP version 2 is not defined for IPv6 (RFC 3768); use version 3"),
        );
    }
    // keepalived 2.2.8's no_virtual_ipaddress: no VIPs is intended, except in strict mode
    i.no_virtual_ipaddress = match i.set.no_virtual_ipaddress {
        Some(span) if i.strict => {
            ctx.warn(
                span,
                format!("({name}) no_virtual_ipaddress and strict mode incompatible, clearing no_virtual_ipaddress"),
            );
            false
        }
        Some(_) => true,
        None => false,
    };
    if i.vips.is_empty() && !i.no_virtual_ipaddress {
        if i.version == Version::V3 || i.family == Family::V6 || i.strict {
            let msg = format!("({name}) No VIP specified; at least one is required");
            ctx.error(at, msg.clone());
            return Err(msg);
        }
        // keepalived 2.2.7 reports it twice (an error, then a warning): `-t` exits 5
        ctx.error(
            at,
            format!("({name}) No VIP specified; at least one is sensible"),
        );
    }
    i.v3_checksum_as_v2 = i.set.v3_checksum_as_v2.unwrap_or(g.v3_checksum_as_v2);

    // `state MASTER` without a priority makes the address owner
    i.priority = match i.set.priority {
        Some(p) => p,
        None if i.set.state == Some(State::Master) => 255,
        None => 100,
    };
    i.state = match i.set.state {
        None if i.priority == 255 => State::Master,
        None => State::Backup,
        Some(s) => {
            let owner_state = if i.priority == 255 {
                State::Master
            } else {
                State::Backup
            };
            if i.strict && s != owner_state {
                ctx.error(
                    i.set.state_span.unwrap_or(at),
                    format!("({name}) State MASTER must match being address owner"),
                );
                owner_state
            } else {
                s
            }
        }
    };

    let auth_at = i.set.auth_span.unwrap_or(at);
    i.auth = match i.set.auth_type {
        None => None,
        Some(_) if i.strict => {
            ctx.error(
                auth_at,
                format!("({name}) Strict mode does not support authentication. Ignoring."),
            );
            None
        }
        Some(_) if i.version == Version::V3 => {
            ctx.error(
                auth_at,
                format!("({name}) VRRP version 3 does not support authentication. Ignoring."),
            );
            None
        }
        Some(_) if i.set.auth_pass.as_ref().map_or(true, |p| p.is_empty()) => {
            ctx.error(
                auth_at,
                format!("({name}) Authentication specified but no password given. Ignoring"),
            );
            None
        }
        Some(AuthType::Ah) if i.family == Family::V6 => {
            ctx.error(
                auth_at,
                format!("({name}) Cannot use AH authentication with IPv6. ignoring"),
            );
            None
        }
        Some(kind) => {
            if kind == AuthType::Ah && i.state == State::Master && i.priority != 255 {
                // an AH backup needs the master's sequence number before taking over
                ctx.error(
                    auth_at,
                    format!("({name}) Initial state master is incompatible with AH authentication - clearing"),
                );
                i.state = State::Backup;
            }
            Some(Auth {
                kind,
                pass: i.set.auth_pass.clone().unwrap_or_default(),
            })
        }
    };

    if i.vrid.is_none() {
        let msg = format!("({name}) the virtual router id must be set");
        ctx.error(at, msg.clone());
        return Err(msg);
    }
    if i.interface.is_none() {
        // 2.2.7 requires an interface even for unicast
        let msg = format!("({name}) Unknown interface!");
        ctx.error(at, msg.clone());
        return Err(msg);
    }

    // unicast keywords without any peer
    if let (Some(kw_at), false) = (i.set.unicast_keyword, i.is_unicast()) {
        if i.unicast_fault_no_peer {
            // keepalived -t reports nothing here (observed exit 0): the instance just stays FAULT
            ctx.lint(
                kw_at,
                format!("({name}) Cannot use unicast without any peers - going to fault state"),
            );
            i.permanent_fault = true;
        } else {
            ctx.error(
                kw_at,
                format!("({name}) A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration."),
            );
        }
    }
    if let (Some(ttl_at), false) = (i.set.unicast_ttl_span, i.is_unicast()) {
        ctx.error(
            ttl_at,
            format!("({name}): Cannot use unicast_ttl without unicast peers - resetting"),
        );
        i.unicast_ttl = None;
    }
    if i.is_unicast() && i.mcast_dst_ip.is_some() {
        ctx.error(
            at,
            format!("({name}) multicast destination specified with unicast - ignoring"),
        );
        i.mcast_dst_ip = None;
    }
    if i.is_unicast() {
        if let Some(src) = i.unicast_src_ip {
            if i.unicast_peers.iter().any(|p| p.addr == src) {
                ctx.lint(
                    at,
                    format!("({name}) unicast_src_ip {src} is also listed as a unicast_peer"),
                );
            }
        }
    }

    // an IPv6 multicast instance should advertise a link-local VIP first
    if i.family == Family::V6 && !i.is_unicast() {
        if let Some(first) = i.vips.first() {
            if !is_link_local(&first.addr) {
                let first_at = i.vip_lines.first().copied().unwrap_or(at);
                if i.strict {
                    ctx.error(
                        first_at,
                        format!("({name}) the first IPv6 VIP address must be link local"),
                    );
                } else {
                    // keepalived -t says nothing here (observed)
                    ctx.lint(
                        first_at,
                        format!("({name}) the first IPv6 VIP address should be link local"),
                    );
                }
            }
        }
    }

    if i.priority == 255 && i.nopreempt {
        ctx.error(
            i.set.nopreempt_span.unwrap_or(at),
            format!("({name}) nopreempt is incompatible with priority 255. resetting nopreempt"),
        );
        i.nopreempt = false;
    }
    if i.state == State::Master {
        if i.nopreempt {
            ctx.error(
                i.set.nopreempt_span.unwrap_or(at),
                format!("({name}) Warning - nopreempt will not work with initial state MASTER - clearing"),
            );
            i.nopreempt = false;
        }
        if !i.preempt_delay.is_zero() {
            ctx.error(
                i.set.preempt_delay_span.unwrap_or(at),
                format!("({name}) Warning - preempt delay will not work with initial state MASTER - clearing"),
            );
            i.preempt_delay = Duration::ZERO;
        }
    }
    if !i.preempt_delay.is_zero() {
        let pd_at = i.set.preempt_delay_span.unwrap_or(at);
        if i.strict {
            ctx.error(
                pd_at,
                format!("({name}) preempt_delay is incompatible with strict mode - resetting"),
            );
            i.preempt_delay = Duration::ZERO;
        }
        if i.nopreempt && !i.preempt_delay.is_zero() {
            ctx.error(
                pd_at,
                format!("({name}) preempt_delay is incompatible with nopreempt mode - resetting"),
            );
            i.preempt_delay = Duration::ZERO;
        }
    }

    // accept mode defaults off only in strict mode
    i.accept = i.set.accept.unwrap_or(!i.strict);
    if i.accept && i.priority != 255 && i.strict && i.version == Version::V2 {
        ctx.error(
            at,
            format!("({name}) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting"),
        );
        i.accept = false;
    }

    if i.strict && !i.accept && i.priority != 255 {
        // the most common surprise with vrrp_strict (the Debian sample enables it)
        ctx.lint(
            at,
            format!("({name}) strict mode without 'accept': this node will drop traffic addressed to the VIPs while MASTER"),
        );
    }

    let lp_rep = g.garp_lower_prio_repeat.unwrap_or(g.garp_master_repeat);
    let lp_delay = g.garp_lower_prio_delay.unwrap_or(g.garp_master_delay);
    i.garp_lower_prio_repeat = match i.set.garp_lower_prio_repeat {
        None if i.strict => 0,
        None => lp_rep,
        Some(r) if i.strict && r != 0 => {
            ctx.error(
                at,
                format!("({name}) Strict mode requires no repeat garps. resetting"),
            );
            0
        }
        Some(r) => r,
    };
    i.garp_lower_prio_delay = match i.set.garp_lower_prio_delay {
        None if i.strict => Duration::ZERO,
        None => lp_delay,
        Some(d) if i.strict && !d.is_zero() => {
            ctx.error(
                at,
                format!("({name}) Strict mode requires no repeat garp delay. resetting"),
            );
            Duration::ZERO
        }
        Some(d) => d,
    };
    i.lower_prio_no_advert = match i.set.lower_prio_no_advert {
        None => i.strict || g.lower_prio_no_advert,
        Some(false) if i.strict => {
            ctx.error(
                at,
                format!("({name}) Strict mode requires no lower priority advert. resetting"),
            );
            true
        }
        Some(b) => b,
    };
    i.higher_prio_send_advert = match i.set.higher_prio_send_advert {
        None => !i.strict && g.higher_prio_send_advert,
        Some(true) if i.strict => {
            ctx.error(
                at,
                format!(
                    "({name}) strict mode requires higher_prio_send_advert to be clear. resetting"
                ),
            );
            false
        }
        Some(b) => b,
    };
    i.down_timer_adverts = match i.set.down_timer_adverts {
        None => {
            if i.strict {
                3
            } else {
                g.down_timer_adverts
            }
        }
        Some(d) if i.strict && d != 3 => {
            ctx.error(
                at,
                format!("({name}) down_timer_adverts is incompatible with strict mode - resetting"),
            );
            3
        }
        Some(d) => d,
    };
    if i.timer_expired_backup.is_some() && !i.nopreempt {
        ctx.error(
            i.set.timer_expired_backup_span.unwrap_or(at),
            format!("({name}) expired_timer_backup requires nopreempt - resetting"),
        );
        i.timer_expired_backup = None;
    }
    i.garp_master_delay = i.set.garp_master_delay.unwrap_or(g.garp_master_delay);
    i.garp_master_repeat = i.set.garp_master_repeat.unwrap_or(g.garp_master_repeat);
    i.garp_master_refresh = i.set.garp_master_refresh.unwrap_or(g.garp_master_refresh);
    i.garp_master_refresh_repeat = i
        .set
        .garp_master_refresh_repeat
        .unwrap_or(g.garp_master_refresh_repeat);
    i.garp_extra_if = i.set.garp_extra_if.or(g.garp_extra_if);
    i.skip_check_adv_addr = i.set.skip_check_adv_addr.unwrap_or(g.skip_check_adv_addr);
    i.check_unicast_src |= g.check_unicast_src;
    i.smtp_alert = i
        .set
        .smtp_alert
        .or(g.smtp_alert_vrrp)
        .or(g.smtp_alert)
        .unwrap_or(false);
    i.notify_priority_changes = i
        .set
        .notify_priority_changes
        .unwrap_or(g.notify_priority_changes);

    i.advert_int = resolve_advert_int(i, ctx);

    if i.unicast_src_ip.is_none() && i.src_ip.is_none() {
        i.track_src_ip = false;
    }

    // VMAC options
    if let Some(vmac) = &mut i.vmac {
        if i.strict && vmac.mac.is_some() {
            ctx.error(
                at,
                format!("({name}): cannot specify MAC address with strict mode - clearing"),
            );
            vmac.mac = None;
        }
        if i.is_unicast() && !i.vmac_xmit_base {
            ctx.error(
                at,
                format!("({name}) unicast with use_vmac requires vmac_xmit_base - setting"),
            );
            i.vmac_xmit_base = true;
        }
        if i.strict && i.vmac_xmit_base {
            ctx.error(
                at,
                format!("({name}) xmit_base is incompatible with strict mode - resetting"),
            );
            i.vmac_xmit_base = false;
        }
    }
    if (i.vmac.is_some() || i.ipvlan.is_some()) && i.promote_secondaries {
        ctx.error(
            at,
            format!("({name}) promote_secondaries is automatically set for vmacs - ignoring"),
        );
        i.promote_secondaries = false;
    }
    if let Some(own) = i.interface.clone() {
        i.track_interfaces.retain(|t| {
            if t.name == own {
                ctx.error(
                    t.span,
                    format!("({name}) Ignoring track_interface {own} since own interface"),
                );
            }
            t.name != own
        });
    }
    if i.vmac_xmit_base && i.vmac.is_none() {
        ctx.error(
            at,
            format!("({name}) vmac_xmit_base is only valid with a vmac"),
        );
        i.vmac_xmit_base = false;
    }

    // weights are neutralised in sync groups and for the address owner
    let in_sync = sync_no_weight == Some(true);
    if in_sync || i.priority == 255 {
        let why = if in_sync {
            "SYNC group"
        } else {
            "address owner"
        };
        let why_ = if in_sync {
            "SYNC group"
        } else {
            "address_owner"
        };
        i.track_interfaces.retain_mut(|t| {
            if t.weight.unwrap_or(0) == 0 {
                return true;
            }
            let w = if in_sync { "weight " } else { "" };
            ctx.error(
                t.span,
                format!(
                    "({name}) ignoring {} tracked interface {w}due to {why}",
                    t.name
                ),
            );
            t.weight = Some(0);
            in_sync
        });
        i.track_scripts.retain(|t| {
            let own = scripts
                .iter()
                .find(|s| s.name == t.name)
                .map_or(0, |s| s.weight);
            if t.weight_or(own) == 0 {
                return true;
            }
            ctx.error(
                t.span,
                format!(
                    "({name}) ignoring tracked script {} with weights due to {why_}",
                    t.name
                ),
            );
            false
        });
        i.track_files.retain_mut(|t| {
            let own = files.iter().find(|f| f.name == t.name).map_or(1, |f| f.weight);
            match t.weight_or(own) {
            // 1 is the file's default weight: keepalived takes it as "unweighted"
            1 => {
                ctx.error(
                    t.span,
                    format!("({name}) ignoring weight from tracked file {} due to {why_}. specify weight 0", t.name),
                );
                t.weight = Some(0);
                true
            }
            0 => true,
            w => {
                ctx.error(
                    t.span,
                    format!("({name}) ignoring tracked file {} with weight {w} due to {why_}", t.name),
                );
                false
            }
        }});
        i.track_bfds.retain(|t| match t.weight {
            None | Some(0) => true,
            Some(w) => {
                ctx.error(
                    t.span,
                    format!(
                        "({name}) ignoring tracked bfd {} with weight {w} due to {why_}",
                        t.name
                    ),
                );
                false
            }
        });
    }
    Ok(())
}

/// How many VIPs fit in one advert on an interface of this MTU (at most 255).
pub fn max_vips_per_advert(i: &Instance, mtu: u32) -> usize {
    // Ethernet + IP + VRRP headers (+ the v2 auth field, + AH), as keepalived counts them
    let (hdr, addr_len) = match i.family {
        Family::V4 => {
            let mut h = 14 + 20 + 8;
            if i.version == Version::V2 {
                h += 8;
                if i.auth.as_ref().is_some_and(|a| a.kind == AuthType::Ah) {
                    h += 24;
                }
            }
            (h, 4)
        }
        Family::V6 => (14 + 40 + 8, 16),
    };
    let room = usize::try_from(mtu.saturating_sub(hdr)).unwrap_or(0) / addr_len;
    room.min(255)
}

/// Moves the VIPs that do not fit in an advert to the eVIPs, as keepalived does; for the
/// host-check pass, which knows the interface's MTU.
pub fn cap_vips(i: &mut Instance, mtu: u32, ctx: &mut Ctx) {
    let max = max_vips_per_advert(i, mtu);
    if i.vips.len() > max {
        ctx.error(
            i.span,
            format!(
                "({}) Number of VIPs ({}) exceeds maximum/space available in packet (max {} addresses) - excess moved to eVIPs",
                i.name,
                i.vips.len(),
                max
            ),
        );
        let extra = i.vips.split_off(max);
        i.evips.extend(extra);
    }
}

///  advert_int: v2 whole seconds below 256, v3 centiseconds below 40.96 s.
fn resolve_advert_int(i: &Instance, ctx: &mut Ctx) -> Duration {
    let name = &i.name;
    let at = i.span;
    let d = i.set.advert_int.unwrap_or(Duration::from_secs(1));
    let us = d.as_micros();
    match i.version {
        Version::V2 => {
            if us >= 256 * 1_000_000 {
                ctx.error(
                    at,
                    format!("({name}) VRRPv2 advertisement interval {:.2}s is out of range. Must be less than 256s. Setting to 255s", d.as_secs_f64()),
                );
                Duration::from_secs(255)
            } else if us % 1_000_000 != 0 {
                ctx.error(
                    at,
                    format!("({name}) VRRPv2 advertisement interval {:.6}s must be an integer. rounding", d.as_secs_f64()),
                );
                let secs = ((us + 500_000) / 1_000_000).max(1);
                Duration::from_secs(u64::try_from(secs).unwrap_or(255))
            } else {
                d
            }
        }
        Version::V3 => {
            if us >= 4096 * 10_000 {
                ctx.error(
                    at,
                    format!("({name}) VRRPv3 advertisement interval {:.2}s is out of range. Must be less than 40.96s. Setting to 40.95s", d.as_secs_f64()),
                );
                Duration::from_millis(40_950)
            } else if us % 10_000 != 0 {
                ctx.error(
                    at,
                    format!("({name}) VRRPv3 advertisement interval {:.6}s must be in units of 10ms - rounding", d.as_secs_f64()),
                );
                let cs = ((us + 5_000) / 10_000).max(1);
                Duration::from_millis(u64::try_from(cs * 10).unwrap_or(40_950))
            } else {
                d
            }
        }
    }
}

/// one VRID per interface and family (multicast), else the child exits.
fn check_duplicate_vrids(v: &mut VrrpConfig, ctx: &mut Ctx) {
    // Only instances with the same VRID and interface can clash: pair those up (in the
    // order of a scan of every pair) instead of comparing all n² pairs.
    let mut same: std::collections::HashMap<(Option<u8>, Option<&str>), Vec<usize>> =
        std::collections::HashMap::new();
    for (i, x) in v.instances.iter().enumerate() {
        same.entry((x.vrid, x.interface.as_deref()))
            .or_default()
            .push(i);
    }
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for g in same.values() {
        for (k, &a) in g.iter().enumerate() {
            pairs.extend(g.get(k + 1..).unwrap_or_default().iter().map(|&b| (a, b)));
        }
    }
    drop(same);
    pairs.sort_unstable();
    {
        for (a, b) in pairs {
            let (Some(x), Some(y)) = (v.instances.get(a), v.instances.get(b)) else {
                continue;
            };
            if x.vrid != y.vrid || x.interface != y.interface {
                continue;
            }
            // unicast instances are told apart by their peers (observed: no error)
            if x.is_unicast()
                && y.is_unicast()
                && !x
                    .unicast_peers
                    .iter()
                    .any(|p| y.unicast_peers.iter().any(|q| q.addr == p.addr))
            {
                continue;
            }
            let ifname = x.interface.clone().unwrap_or_default();
            let vrid = x.vrid.unwrap_or(0);
            if x.family != y.family {
                ctx.lint(
                    y.span,
                    format!(
                        "({}) VRID {} is also used by {} on {} for the other address family; some routers cannot tell them apart",
                        y.name, vrid, x.name, ifname
                    ),
                );
                continue;
            }
            let msg = format!(
                "{} and {} both use VRID {} with IPv{} on interface {}",
                x.name,
                y.name,
                vrid,
                x.family.number(),
                ifname
            );
            ctx.error(y.span, msg.clone());
            v.fatal = Some(msg);
            return;
        }
    }
}

/// Group-level weights with an address-owner member, and group defaults.
fn finish_sync_groups(v: &mut VrrpConfig, g: &GlobalVrrpDefaults, ctx: &mut Ctx) {
    for sg in &mut v.sync_groups {
        let owner = v
            .instances
            .iter()
            .any(|i| sg.members.contains(&i.name) && i.priority == 255);
        if owner {
            let gname = sg.name.clone();
            for t in &mut sg.track_scripts {
                let own = v
                    .scripts
                    .iter()
                    .find(|s| s.name == t.name)
                    .map_or(0, |s| s.weight);
                if t.weight_or(own) != 0 {
                    ctx.error(t.span, format!("({gname}) Cannot have weighted track script '{}' with member having priority 255 - clearing weight", t.name));
                    t.weight = Some(0);
                }
            }
            for t in &mut sg.track_files {
                if t.weight_or(1) != 0 {
                    ctx.error(t.span, format!("({gname}) Cannot have weighted track file '{}' with member having priority 255 - setting weight 0", t.name));
                    t.weight = Some(0);
                }
            }
            for t in &mut sg.track_processes {
                let own = v
                    .track_processes
                    .iter()
                    .find(|p| p.name == t.name)
                    .map_or(0, |p| p.weight);
                if t.weight_or(own) != 0 {
                    ctx.error(t.span, format!("({gname}) Cannot have weighted track process '{}' with member having priority 255 - setting weight 0", t.name));
                    t.weight = Some(0);
                }
            }
            for t in &mut sg.track_bfds {
                if t.weight.unwrap_or(0) != 0 {
                    ctx.error(t.span, format!("({gname}) Cannot have weighted track bfd '{}' with member having priority 255 - setting weight 0", t.name));
                    t.weight = Some(0);
                }
            }
            for t in &mut sg.track_interfaces {
                if t.weight.unwrap_or(0) != 0 {
                    ctx.error(t.span, format!("({gname}) Cannot have weighted track interface '{}' with member having priority 255 - clearing weight", t.name));
                    t.weight = Some(0);
                }
            }
        }
        // the same object tracked by a member and by its group
        for i in v.instances.iter().filter(|i| sg.members.contains(&i.name)) {
            for t in &sg.track_interfaces {
                if i.track_interfaces.iter().any(|x| x.name == t.name) {
                    ctx.error(
                        t.span,
                        format!("({}) track_interface {} is configured on VRRP instance and sync group. Remove vrrp instance or sync group config", i.name, t.name),
                    );
                }
            }
            let pairs = [
                ("track_script", &sg.track_scripts, &i.track_scripts),
                ("track_file", &sg.track_files, &i.track_files),
                ("track_process", &sg.track_processes, &i.track_processes),
                ("track_bfd", &sg.track_bfds, &i.track_bfds),
            ];
            for (what, group, own) in pairs {
                for t in group
                    .iter()
                    .filter(|t| own.iter().any(|x| x.name == t.name))
                {
                    // keepalived only logs these (observed `-t` exit 0)
                    ctx.lint(
                        t.span,
                        format!("({}) {what} {} is configured on VRRP instance and sync group. Remove vrrp instance config", i.name, t.name),
                    );
                }
            }
        }
        sg.smtp_alert = sg
            .smtp_alert_set
            .or(g.smtp_alert_vrrp)
            .or(g.smtp_alert)
            .unwrap_or(false);
    }
}

/// keepalived removes scripts no instance or group tracks. `-t` stops before that check,
/// so the message does not change its verdict: it is our lint with keepalived's words.
fn drop_unused_scripts(v: &mut VrrpConfig, ctx: &mut Ctx) {
    let used = |name: &str| {
        v.instances
            .iter()
            .flat_map(|i| i.track_scripts.iter())
            .chain(v.sync_groups.iter().flat_map(|g| g.track_scripts.iter()))
            .any(|t| t.name == name)
    };
    let mut keep = Vec::new();
    for s in std::mem::take(&mut v.scripts) {
        if used(&s.name) {
            keep.push(s);
        } else {
            ctx.lint(s.span, format!("Warning - script {} is not used", s.name));
        }
    }
    v.scripts = keep;
}
