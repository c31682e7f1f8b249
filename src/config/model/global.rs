//! Root-level keywords and `global_defs`.
//!
//! Messages and their classes follow keepalived 2.2.7 (checked with `keepalived -t`):
//! value errors are `CONFIG_GENERAL_ERROR` and the keyword keeps its default; keywords
//! whose handler reads its value unconditionally are fatal when the value is missing.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::statics;
use super::{apply_block, parse_bool, parse_c_ulong, parse_int, Config, Ctx, Kw, Script};
use crate::config::diagnostic::{Diagnostic, KaClass, Severity};
use crate::config::env::DEFAULT_SCRIPT_USER;
use crate::config::tree::{Node, Token};

/// Where `smtp_server` points: an address, or a name resolved when mail is sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum SmtpServer {
    Addr(SocketAddr),
    Host { name: String, port: u16 },
}

/// A notify FIFO (`notify_fifo PATH [user [group]]`) and its optional reader script.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NotifyFifo {
    pub path: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub script: Option<Script>,
}

/// `lvs_sync_daemon IF [[inst] VRRP] [id N] [maxlen N] [port N] [ttl N] [group IP]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LvsSyncDaemon {
    pub interface: String,
    pub vrrp_instance: Option<String>,
    /// Defaults to the VRRP instance's VRID when `None`.
    pub sync_id: Option<u8>,
    pub maxlen: Option<u16>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    pub group: Option<IpAddr>,
}

/// `lvs_timeouts [tcp S] [tcpfin S] [udp S]` (seconds).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct LvsTimeouts {
    pub tcp: Option<u32>,
    pub tcpfin: Option<u32>,
    pub udp: Option<u32>,
}

/// `lvs_flush_on_stop [VS]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub enum LvsFlushOnStop {
    #[default]
    None,
    /// Flush the whole IPVS table.
    Full,
    /// Delete only the virtual servers we configured.
    Vs,
}

/// Scheduling settings of one child process (`vrrp_*`, `checker_*`, `bfd_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProcessSched {
    /// nice value, −20..19.
    pub priority: Option<i8>,
    pub no_swap: bool,
    /// SCHED_RR priority 1..99.
    pub rt_priority: Option<u8>,
    /// RLIMIT_RTTIME in µs (keepalived default 10000 when realtime is used).
    pub rlimit_rttime: Option<u64>,
    pub cpu_affinity: Vec<u32>,
}

/// `vrrp_rx_bufs_policy MTU|ADVERT|SIZE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum RxBufsPolicy {
    Mtu,
    Advert,
    Size(u32),
}

/// The netlink receive-buffer settings of one socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RcvBufs {
    pub size: Option<u32>,
    pub force: bool,
}

/// `global_defs { ... }`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<SmtpServer>,
    pub smtp_helo_name: Option<String>,
    pub smtp_connect_timeout: Duration,
    pub smtp_alert: Option<bool>,
    pub smtp_alert_vrrp: Option<bool>,
    pub smtp_alert_checker: Option<bool>,
    pub no_email_faults: bool,
    pub checker_log_all_failures: bool,
    pub script_user: Option<(String, Option<String>)>,
    pub enable_script_security: bool,
    pub startup_script: Option<Script>,
    pub startup_script_timeout: u32,
    pub shutdown_script: Option<Script>,
    pub shutdown_script_timeout: u32,
    pub notify_fifo: NotifyFifo,
    pub vrrp_notify_fifo: NotifyFifo,
    pub lvs_notify_fifo: NotifyFifo,
    pub vrrp_notify_priority_changes: bool,
    pub fifo_write_vrrp_states_on_reload: bool,
    /// See [`GlobalDefs::default_ifname`].
    pub default_interface: Option<String>,
    pub dynamic_interfaces: bool,
    pub allow_if_changes: bool,
    pub vrrp_mcast_group4: Ipv4Addr,
    pub vrrp_mcast_group6: Ipv6Addr,
    pub vrrp_version: u8,
    pub vrrp_garp_master_delay: Duration,
    pub vrrp_garp_master_repeat: u32,
    pub vrrp_garp_master_refresh: Duration,
    pub vrrp_garp_master_refresh_repeat: u32,
    /// `None` until `finish`, which copies `vrrp_garp_master_delay`.
    pub vrrp_garp_lower_prio_delay: Option<Duration>,
    /// `None` until `finish`, which copies `vrrp_garp_master_repeat`.
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    pub vrrp_garp_interval: Duration,
    pub vrrp_gna_interval: Duration,
    pub vrrp_min_garp: bool,
    pub vrrp_garp_extra_if: Option<u32>,
    pub vrrp_garp_extra_if_all: bool,
    pub vrrp_down_timer_adverts: u32,
    pub vrrp_lower_prio_no_advert: Option<bool>,
    pub vrrp_higher_prio_send_advert: Option<bool>,
    pub vrrp_check_unicast_src: bool,
    pub vrrp_skip_check_adv_addr: bool,
    pub vrrp_strict: bool,
    pub vrrp_startup_delay: Option<Duration>,
    pub log_unknown_vrids: bool,
    pub vmac_prefix: Option<String>,
    pub vmac_addr_prefix: Option<String>,
    /// nftables table for VRRP (`nftables [TABLE]`, or implied by `vrrp_iptables`).
    pub nftables: Option<String>,
    pub nftables_priority: i32,
    pub nftables_counters: bool,
    pub nftables_ifindex: bool,
    pub nftables_ipvs: Option<String>,
    pub nftables_ipvs_priority: i32,
    pub nftables_ipvs_start_fwmark: u32,
    pub vrrp_ipsets: Vec<String>,
    pub disable_local_igmp: bool,
    /// `v3_checksum_as_v2` (keepalived 2.2.8): the default of every instance.
    pub v3_checksum_as_v2: bool,
    pub lvs_timeouts: LvsTimeouts,
    pub lvs_flush: bool,
    pub lvs_flush_on_stop: LvsFlushOnStop,
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    pub vrrp_sched: ProcessSched,
    pub checker_sched: ProcessSched,
    pub bfd_sched: ProcessSched,
    pub max_auto_priority: Option<i32>,
    pub min_auto_priority_delay: Option<u32>,
    pub process_name: Option<String>,
    pub vrrp_process_name: Option<String>,
    pub checker_process_name: Option<String>,
    pub bfd_process_name: Option<String>,
    pub snmp_socket: Option<String>,
    pub enable_traps: bool,
    pub enable_snmp_vrrp: bool,
    pub enable_snmp_checker: bool,
    pub enable_snmp_rfcv2: bool,
    pub enable_snmp_rfcv3: bool,
    pub enable_dbus: bool,
    pub dbus_service_name: Option<String>,
    pub vrrp_netlink_cmd_rcv_bufs: RcvBufs,
    pub vrrp_netlink_monitor_rcv_bufs: RcvBufs,
    pub lvs_netlink_cmd_rcv_bufs: RcvBufs,
    pub lvs_netlink_monitor_rcv_bufs: RcvBufs,
    pub process_monitor_rcv_bufs: RcvBufs,
    pub vrrp_rx_bufs_policy: Option<RxBufsPolicy>,
    pub vrrp_rx_bufs_multiplier: u32,
    pub rs_init_notifies: bool,
    pub no_checker_emails: bool,
    /// File-creation mask (keepalived default 0177; the command line wins).
    pub umask: u32,
    pub umask_set: bool,
    pub random_seed: Option<u32>,
    pub reload_check_config: Option<String>,
    pub reload_time_file: Option<String>,
    pub reload_repeat: bool,
    pub reload_file: Option<String>,
    /// The raw `include_check` words; `Some(empty)` (bare keyword) means every check.
    /// The preprocessor acts on them.
    pub include_check: Option<Vec<String>>,
    pub tmp_config_directory: Option<String>,
    pub data_use_instance: bool,
    /// `json_version 1|2` (keepalived 2.2.8): 2 makes `keepalived.json` an object with the
    /// instances under `vrrp` and the tracked processes under `track_process`.
    pub json_version: u8,
    /// Our extension, not in keepalived: `metrics_address IP:PORT` opts in to a
    /// Prometheus endpoint on that address.
    pub metrics_address: Option<SocketAddr>,
    /// Our extension: `checker_metrics_address IP:PORT`, the checker child's endpoint.
    pub checker_metrics_address: Option<SocketAddr>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_helo_name: None,
            smtp_connect_timeout: Duration::from_secs(30),
            smtp_alert: None,
            smtp_alert_vrrp: None,
            smtp_alert_checker: None,
            no_email_faults: false,
            checker_log_all_failures: false,
            script_user: None,
            enable_script_security: false,
            startup_script: None,
            startup_script_timeout: 10,
            shutdown_script: None,
            shutdown_script_timeout: 10,
            notify_fifo: NotifyFifo::default(),
            vrrp_notify_fifo: NotifyFifo::default(),
            lvs_notify_fifo: NotifyFifo::default(),
            vrrp_notify_priority_changes: false,
            fifo_write_vrrp_states_on_reload: false,
            default_interface: None,
            dynamic_interfaces: false,
            allow_if_changes: false,
            vrrp_mcast_group4: Ipv4Addr::new(224, 0, 0, 18),
            vrrp_mcast_group6: Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12),
            vrrp_version: 2,
            vrrp_garp_master_delay: Duration::from_secs(5),
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh: Duration::ZERO,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_garp_interval: Duration::ZERO,
            vrrp_gna_interval: Duration::ZERO,
            vrrp_min_garp: false,
            vrrp_garp_extra_if: None,
            vrrp_garp_extra_if_all: false,
            vrrp_down_timer_adverts: 3,
            vrrp_lower_prio_no_advert: None,
            vrrp_higher_prio_send_advert: None,
            vrrp_check_unicast_src: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_strict: false,
            vrrp_startup_delay: None,
            log_unknown_vrids: false,
            vmac_prefix: None,
            vmac_addr_prefix: None,
            nftables: None,
            nftables_priority: -1,
            nftables_counters: false,
            nftables_ifindex: false,
            nftables_ipvs: None,
            nftables_ipvs_priority: -1,
            nftables_ipvs_start_fwmark: 1000,
            vrrp_ipsets: Vec::new(),
            disable_local_igmp: false,
            v3_checksum_as_v2: false,
            lvs_timeouts: LvsTimeouts::default(),
            lvs_flush: false,
            lvs_flush_on_stop: LvsFlushOnStop::None,
            lvs_sync_daemon: None,
            vrrp_sched: ProcessSched::default(),
            checker_sched: ProcessSched::default(),
            bfd_sched: ProcessSched::default(),
            max_auto_priority: None,
            min_auto_priority_delay: None,
            process_name: None,
            vrrp_process_name: None,
            checker_process_name: None,
            bfd_process_name: None,
            snmp_socket: None,
            enable_traps: false,
            enable_snmp_vrrp: false,
            enable_snmp_checker: false,
            enable_snmp_rfcv2: false,
            enable_snmp_rfcv3: false,
            enable_dbus: false,
            dbus_service_name: None,
            vrrp_netlink_cmd_rcv_bufs: RcvBufs::default(),
            vrrp_netlink_monitor_rcv_bufs: RcvBufs::default(),
            lvs_netlink_cmd_rcv_bufs: RcvBufs::default(),
            lvs_netlink_monitor_rcv_bufs: RcvBufs::default(),
            process_monitor_rcv_bufs: RcvBufs::default(),
            vrrp_rx_bufs_policy: None,
            vrrp_rx_bufs_multiplier: 3,
            rs_init_notifies: false,
            no_checker_emails: false,
            umask: 0o177,
            umask_set: false,
            random_seed: None,
            reload_check_config: None,
            reload_time_file: None,
            reload_repeat: false,
            reload_file: None,
            include_check: None,
            tmp_config_directory: None,
            data_use_instance: false,
            json_version: 1,
            metrics_address: None,
            checker_metrics_address: None,
        }
    }
}

impl GlobalDefs {
    /// The interface for static addresses without `dev`: `default_interface`, else
    /// keepalived's built-in `eth0`.
    pub fn default_ifname(&self) -> &str {
        self.default_interface.as_deref().unwrap_or("eth0")
    }
}

/// Keywords that stand at the root, outside any block (`net_namespace`, `instance`, ...).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RootOptions {
    pub net_namespace: Option<String>,
    /// `Some("")` means the default namespace (`net_namespace_ipvs` without a name).
    pub net_namespace_ipvs: Option<String>,
    pub namespace_with_ipsets: bool,
    pub instance: Option<String>,
    /// Also implied by `net_namespace` and `instance`.
    pub use_pid_dir: bool,
    pub child_wait_time: u32,
    pub linkbeat_use_polling: bool,
}

impl Default for RootOptions {
    fn default() -> Self {
        RootOptions {
            net_namespace: None,
            net_namespace_ipvs: None,
            namespace_with_ipsets: false,
            instance: None,
            use_pid_dir: false,
            child_wait_time: 5,
            linkbeat_use_polling: false,
        }
    }
}

/// Root-level keywords owned by this module.
pub static ROOT: &[Kw<Config>] = &[
    Kw::new("net_namespace", |c, n, ctx| {
        let Some(name) = n.arg(0) else {
            ctx.error(n.span(), "net_namespace name missing - ignoring");
            return;
        };
        if c.root.net_namespace.is_some() {
            ctx.error(
                n.span(),
                format!(
                    "Duplicate net_namespace definition {} - ignoring",
                    name.text
                ),
            );
        } else {
            c.root.net_namespace = Some(name.text.clone());
            c.root.use_pid_dir = true;
        }
    }),
    Kw::unimplemented(
        "net_namespace_ipvs",
        "IPVS is driven in the daemon's own network namespace",
        |c, n, ctx| {
            if c.root.net_namespace_ipvs.is_some() {
                let name = n.arg(0).map(|t| t.text.as_str()).unwrap_or("");
                ctx.error(
                    n.span(),
                    format!("Duplicate net_namespace_ipvs definition {name} - ignoring"),
                );
                return;
            }
            c.root.net_namespace_ipvs = Some(n.arg(0).map(|t| t.text.clone()).unwrap_or_default());
        },
    ),
    Kw::unimplemented(
        "namespace_with_ipsets",
        "no ipsets are used (the firewall is nftables)",
        |c, _, _| c.root.namespace_with_ipsets = true,
    ),
    Kw::new("use_pid_dir", |c, _, _| c.root.use_pid_dir = true),
    Kw::new("instance", |c, n, ctx| {
        let Some(name) = n.arg(0) else {
            ctx.error(n.span(), "instance name missing - ignoring");
            return;
        };
        if c.root.instance.is_some() {
            ctx.error(
                n.span(),
                format!("Duplicate instance definition {} - ignoring", name.text),
            );
        } else {
            c.root.instance = Some(name.text.clone());
            c.root.use_pid_dir = true;
        }
    }),
    Kw::new("child_wait_time", |c, n, ctx| {
        let Some(t) = ctx.need(n, 0) else { return };
        match num(ctx, t, 0, i64::from(u32::MAX)).map(|v| v as u32) {
            Some(v) => c.root.child_wait_time = v,
            None => ctx.error(t.span, format!("Invalid child_wait_time {}", t.text)),
        }
    }),
    Kw::new("linkbeat_use_polling", |c, _, _| {
        c.root.linkbeat_use_polling = true
    }),
    Kw::new("global_defs", |c, n, ctx| {
        apply_block(&mut c.global, n.children(), GLOBAL, ctx)
    }),
    Kw::new("static_ipaddress", |c, n, ctx| {
        statics::static_ipaddress(&mut c.statics, n, ctx)
    }),
    Kw::new("static_routes", |c, n, ctx| {
        statics::static_routes(&mut c.statics, n, ctx)
    }),
    Kw::new("static_rules", |c, n, ctx| {
        statics::static_rules(&mut c.statics, n, ctx)
    }),
    Kw::new("track_group", |c, n, ctx| {
        statics::track_group(&mut c.statics, n, ctx)
    }),
    Kw::new("linkbeat_interfaces", |c, n, ctx| {
        statics::linkbeat_interfaces(&mut c.statics, n, ctx)
    }),
    Kw::new("interface_up_down_delays", |c, n, ctx| {
        statics::interface_up_down_delays(&mut c.statics, n, ctx)
    }),
    Kw::new("garp_group", |c, n, ctx| {
        statics::garp_group(&mut c.statics, n, ctx)
    }),
];

type G = GlobalDefs;

/// A value-less flag keyword (keepalived ignores any argument).
macro_rules! flag {
    ($name:literal, $($field:ident).+) => {
        Kw::new($name, |g: &mut G, _n: &Node, _c: &mut Ctx| g.$($field).+ = true)
    };
}

/// An optional boolean stored as `bool` (bare keyword = true), with keepalived's message.
macro_rules! boolean {
    ($name:literal, $($field:ident).+) => {
        Kw::new($name, |g: &mut G, n: &Node, c: &mut Ctx| {
            if let Some(b) = opt_bool(n, c, $name) {
                g.$($field).+ = b;
            }
        })
    };
}

/// An optional boolean stored as `Option<bool>`.
macro_rules! tristate {
    ($name:literal, $field:ident) => {
        Kw::new($name, |g: &mut G, n: &Node, c: &mut Ctx| {
            if let Some(b) = opt_bool(n, c, $name) {
                g.$field = Some(b);
            }
        })
    };
}

/// `global_defs` keywords, as keepalived 2.2.7 (Debian build) accepts them.
pub static GLOBAL: &[Kw<GlobalDefs>] = &[
    Kw::new("router_id", |g, n, c| match n.arg(0) {
        Some(t) => g.router_id = Some(t.text.clone()),
        None => c.error(n.span(), "routerid name missing - ignoring"),
    }),
    // keepalived 1.x spelling; 2.2.7 says `Unknown keyword` (our lint only).
    Kw::deprecated("lvs_id", "router_id", |g, n, c| match n.arg(0) {
        Some(t) => g.router_id = Some(t.text.clone()),
        None => c.error(n.span(), "routerid name missing - ignoring"),
    }),
    Kw::new("notification_email", |g, n, c| {
        let words: Vec<String> = n.block_words().map(|t| t.text.clone()).collect();
        if words.is_empty() {
            c.error(n.span(), "Warning - empty notification_email block");
        }
        g.notification_email.extend(words);
    }),
    Kw::new("notification_email_from", |g, n, c| match n.arg(0) {
        Some(t) => g.notification_email_from = Some(t.text.clone()),
        None => c.error(n.span(), "emailfrom missing - ignoring"),
    }),
    Kw::new("smtp_server", smtp_server),
    Kw::new("smtp_helo_name", |g, n, _| {
        if let Some(t) = n.arg(0) {
            g.smtp_helo_name = Some(t.text.clone());
        }
    }),
    Kw::new("smtp_connect_timeout", |g, n, c| {
        let Some(t) = c.need(n, 0) else { return };
        match num(c, t, 0, i64::from(u32::MAX / 1_000_000)) {
            Some(0) => {
                c.error(
                    n.span(),
                    "smtp_conect_timeout must be greater than 0, setting to 1",
                );
                g.smtp_connect_timeout = Duration::from_secs(1);
            }
            Some(v) => g.smtp_connect_timeout = Duration::from_secs(v.unsigned_abs()),
            None => c.error(
                t.span,
                format!(
                    "smtp_connect_timeout '{}' must be in [0, {}] - ignoring",
                    t.text,
                    u32::MAX / 1_000_000
                ),
            ),
        }
    }),
    tristate!("smtp_alert", smtp_alert),
    tristate!("smtp_alert_vrrp", smtp_alert_vrrp),
    tristate!("smtp_alert_checker", smtp_alert_checker),
    flag!("no_email_faults", no_email_faults),
    boolean!("checker_log_all_failures", checker_log_all_failures),
    Kw::new("script_user", |g, n, c| {
        let Some(u) = n.arg(0) else {
            c.error(n.span(), "No script username specified");
            return;
        };
        // keepalived resolves the user (and group) while parsing.
        let user_ok = c.host.user_exists(&u.text);
        let group_ok = n.arg(1).map_or(true, |gr| c.host.group_exists(&gr.text));
        if !user_ok || !group_ok {
            c.error(n.span(), "Error setting global script uid/gid");
            return;
        }
        g.script_user = Some((u.text.clone(), n.arg(1).map(|t| t.text.clone())));
    }),
    flag!("enable_script_security", enable_script_security),
    Kw::new("startup_script", |g, n, c| {
        let refuse = no_default_script_user(g, c);
        startup_shutdown(&mut g.startup_script, refuse, n, c, "startup")
    }),
    Kw::new("shutdown_script", |g, n, c| {
        let refuse = no_default_script_user(g, c);
        startup_shutdown(&mut g.shutdown_script, refuse, n, c, "shutdown")
    }),
    Kw::new("startup_script_timeout", |g, n, c| {
        if let Some(v) = script_timeout(n, c, "startup") {
            g.startup_script_timeout = v;
        }
    }),
    Kw::new("shutdown_script_timeout", |g, n, c| {
        if let Some(v) = script_timeout(n, c, "shutdown") {
            g.shutdown_script_timeout = v;
        }
    }),
    Kw::new("notify_fifo", |g, n, c| fifo(&mut g.notify_fifo, n, c, "")),
    Kw::new("notify_fifo_script", |g, n, c| {
        fifo_script(&mut g.notify_fifo, n, c, "")
    }),
    Kw::new("vrrp_notify_fifo", |g, n, c| {
        fifo(&mut g.vrrp_notify_fifo, n, c, "vrrp_")
    }),
    Kw::new("vrrp_notify_fifo_script", |g, n, c| {
        fifo_script(&mut g.vrrp_notify_fifo, n, c, "vrrp_")
    }),
    Kw::new("lvs_notify_fifo", |g, n, c| {
        fifo(&mut g.lvs_notify_fifo, n, c, "lvs_")
    }),
    Kw::new("lvs_notify_fifo_script", |g, n, c| {
        fifo_script(&mut g.lvs_notify_fifo, n, c, "lvs_")
    }),
    Kw::new("vrrp_notify_priority_changes", |g, n, c| {
        if let Some(b) = opt_bool(n, c, "vrrp_notify_priority_changes") {
            g.vrrp_notify_priority_changes = b;
        }
    }),
    flag!(
        "fifo_write_vrrp_states_on_reload",
        fifo_write_vrrp_states_on_reload
    ),
    Kw::new("default_interface", |g, n, c| match n.arg(0) {
        Some(t) => g.default_interface = Some(t.text.clone()),
        None => c.error(n.span(), "default_interface requires interface name"),
    }),
    Kw::new("dynamic_interfaces", |g, n, c| {
        g.dynamic_interfaces = true;
        if let Some(t) = n.arg(0) {
            if t.text == "allow_if_changes" {
                c.not_implemented_at(
                    t.span,
                    "allow_if_changes",
                    "an interface re-created as another type is not followed",
                );
                g.allow_if_changes = true;
            } else {
                c.error(
                    t.span,
                    format!("Unknown dynamic_interfaces option '{}'", t.text),
                );
            }
        }
    }),
    Kw::new("vrrp_mcast_group4", |g, n, c| {
        let Some(t) = c.need(n, 0) else { return };
        match t.text.parse::<Ipv4Addr>() {
            Ok(a) if a.is_multicast() => g.vrrp_mcast_group4 = a,
            Err(_) if t.text.parse::<Ipv6Addr>().is_ok() => c.error(
                t.span,
                format!("vrrp_mcast_group4 [{}] is not IPv4. Skipping", t.text),
            ),
            Ok(_) => c.error(
                t.span,
                format!("vrrp_mcast_group4 [{}] is not multicast. Skipping", t.text),
            ),
            Err(_) => c.error(
                t.span,
                format!("Can't parse vrrp_mcast_group4 [{}]. Skipping", t.text),
            ),
        }
    }),
    Kw::new("vrrp_mcast_group6", |g, n, c| {
        let Some(t) = c.need(n, 0) else { return };
        match t.text.parse::<Ipv6Addr>() {
            Err(_) if t.text.parse::<Ipv4Addr>().is_ok() => c.error(
                t.span,
                format!("vrrp_mcast_group6 [{}] is not IPv6. Skipping", t.text),
            ),
            Ok(a) if a.is_multicast() => {
                // ff02::/16 is link-local scope; keepalived warns but uses it.
                if a.segments()[0] & 0x000f != 2 {
                    c.error(
                        t.span,
                        format!(
                            "vrrp_mcast_group6 [{}] should be link-local multicast.",
                            t.text
                        ),
                    );
                }
                g.vrrp_mcast_group6 = a;
            }
            Ok(_) => c.error(
                t.span,
                format!("vrrp_mcast_group6 [{}] is not multicast. Skipping", t.text),
            ),
            Err(_) => c.error(
                t.span,
                format!("Can't parse vrrp_mcast_group6 [{}]. Skipping", t.text),
            ),
        }
    }),
    Kw::new("vrrp_version", |g, n, c| match c.int(n, 0, 2, 3) {
        Some(v) => g.vrrp_version = v as u8,
        None if n.arg(0).is_some() => {
            c.error(n.span(), "VRRP Error: Version must be either 2 or 3")
        }
        None => {}
    }),
    Kw::new("vrrp_garp_master_delay", |g, n, c| {
        if let Some(v) = uint(
            n,
            c,
            0,
            u64::from(u32::MAX / 1_000_000),
            "vrrp_garp_master_delay '{}' invalid - ignoring",
        ) {
            g.vrrp_garp_master_delay = Duration::from_secs(v);
        }
    }),
    Kw::new("vrrp_garp_master_repeat", |g, n, c| {
        if let Some(v) = uint(
            n,
            c,
            0,
            u64::from(u32::MAX),
            "vrrp_garp_master_repeat '{}' invalid - ignoring",
        ) {
            g.vrrp_garp_master_repeat = at_least_one(v, n, c, "vrrp_garp_master_repeat");
        }
    }),
    Kw::new("vrrp_garp_master_refresh", |g, n, c| {
        match uint(
            n,
            c,
            0,
            u64::from(u32::MAX),
            "Invalid vrrp_garp_master_refresh '{}' - ignoring",
        ) {
            Some(v) => g.vrrp_garp_master_refresh = Duration::from_secs(v),
            // keepalived resets the refresh to off on a bad value
            None if n.arg(0).is_some() => g.vrrp_garp_master_refresh = Duration::ZERO,
            None => {}
        }
    }),
    Kw::new("vrrp_garp_master_refresh_repeat", |g, n, c| {
        if let Some(v) = uint(
            n,
            c,
            0,
            u64::from(u32::MAX),
            "vrrp_garp_master_refresh_repeat '{}' invalid - ignoring",
        ) {
            g.vrrp_garp_master_refresh_repeat =
                at_least_one(v, n, c, "vrrp_garp_master_refresh_repeat");
        }
    }),
    Kw::new("vrrp_garp_lower_prio_delay", |g, n, c| {
        if let Some(v) = uint(
            n,
            c,
            0,
            u64::from(u32::MAX / 1_000_000),
            "vrrp_garp_lower_prio_delay '{}' invalid - ignoring",
        ) {
            g.vrrp_garp_lower_prio_delay = Some(Duration::from_secs(v));
        }
    }),
    Kw::new("vrrp_garp_lower_prio_repeat", |g, n, c| {
        if let Some(v) = uint(
            n,
            c,
            0,
            i32::MAX as u64,
            "Invalid vrrp_garp_lower_prio_repeat '{}'",
        ) {
            g.vrrp_garp_lower_prio_repeat = Some(v as u32);
        }
    }),
    Kw::new("vrrp_garp_interval", |g, n, c| {
        if let Some(d) = interval(n, c, "vrrp_garp_interval", 0.000001, 1.0) {
            g.vrrp_garp_interval = d;
        }
    }),
    Kw::new("vrrp_gna_interval", |g, n, c| {
        if let Some(d) = interval(n, c, "vrrp_gna_interval", 0.000001, 1.0) {
            g.vrrp_gna_interval = d;
        }
    }),
    Kw::new("vrrp_min_garp", |g, n, c| {
        let Some(on) = opt_bool(n, c, "vrrp_min_garp") else {
            return;
        };
        g.vrrp_min_garp = on;
        // keepalived: one GARP, no repeat, no refresh, no delayed burst, without
        // overriding values set earlier (it compares with the defaults).
        if on {
            let d = GlobalDefs::default();
            if g.vrrp_garp_master_repeat == d.vrrp_garp_master_repeat {
                g.vrrp_garp_master_repeat = 1;
            }
            if g.vrrp_garp_master_refresh_repeat == d.vrrp_garp_master_refresh_repeat {
                g.vrrp_garp_master_refresh_repeat = 0;
            }
            if g.vrrp_garp_master_delay == d.vrrp_garp_master_delay {
                g.vrrp_garp_master_delay = Duration::ZERO;
            }
        }
    }),
    Kw::new("vrrp_garp_extra_if", garp_extra_if),
    Kw::new("vrrp_vmac_garp_intvl", |g, n, c| {
        c.ka_deprecated(
            n,
            "Keyword \"vrrp_vmac_garp_intvl\" is deprecated - please use \"vrrp_garp_extra_if\"",
        );
        garp_extra_if(g, n, c)
    }),
    Kw::new("vrrp_down_timer_adverts", |g, n, c| {
        let Some(t) = c.need(n, 0) else { return };
        match c.int_token(t, 1, 100) {
            Some(v) => g.vrrp_down_timer_adverts = v as u32,
            None => c.error(
                t.span,
                format!("Invalid vrrp_down_timer_adverts [1:100] '{}'", t.text),
            ),
        }
    }),
    tristate!("vrrp_lower_prio_no_advert", vrrp_lower_prio_no_advert),
    tristate!("vrrp_higher_prio_send_advert", vrrp_higher_prio_send_advert),
    flag!("vrrp_check_unicast_src", vrrp_check_unicast_src),
    flag!("vrrp_skip_check_adv_addr", vrrp_skip_check_adv_addr),
    flag!("vrrp_strict", vrrp_strict),
    Kw::new("vrrp_startup_delay", |g, n, c| {
        if let Some(d) = interval(n, c, "vrrp_startup_delay", 0.001, 60.0) {
            g.vrrp_startup_delay = Some(d);
        }
    }),
    flag!("log_unknown_vrids", log_unknown_vrids),
    Kw::new("vmac_prefix", |g, n, c| {
        let Some(t) = c.need(n, 0) else { return };
        if g.vmac_prefix.is_some() {
            c.error(
                t.span,
                format!(
                    "vmac prefix has already been specified - ignoring {}",
                    t.text
                ),
            );
        } else {
            g.vmac_prefix = Some(t.text.clone());
        }
    }),
    Kw::new("vmac_addr_prefix", |g, n, c| {
        let Some(t) = c.need(n, 0) else { return };
        if g.vmac_addr_prefix.is_some() {
            c.error(
                t.span,
                format!(
                    "vmac_addr prefix has already been specified - ignoring {}",
                    t.text
                ),
            );
        } else {
            g.vmac_addr_prefix = Some(t.text.clone());
        }
    }),
    Kw::new("vrrp_iptables", |g, n, c| {
        // Debian's build has no iptables: nftables table "keepalived" is used.
        c.error(n.span(), "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option");
        g.nftables = Some("keepalived".into());
        g.nftables_priority = -1;
    }),
    Kw::new("vrrp_ipsets", |g, n, c| {
        // Debian's keepalived is built without ipset support and rejects the keyword;
        // keep its verdict but say why.
        g.vrrp_ipsets = n.args.iter().map(|t| t.text.clone()).collect();
        c.diags.push(
            Diagnostic::new(
                Severity::Error,
                Some(KaClass::UnknownKeyword),
                format!("Unknown keyword '{}'", n.name()),
            )
            .at(n.span())
            .with_help("keepalived 2.2.7 as built by Debian has no ipset support; use `nftables`"),
        );
    }),
    Kw::new("nftables", |g, n, c| {
        if g.nftables.is_some() {
            c.error(n.span(), "nftables already specified - ignoring");
            return;
        }
        match n.arg(0) {
            Some(t) if t.text.len() >= 256 => {
                c.error(t.span, "nftables table name too long - ignoring")
            }
            Some(t) => g.nftables = Some(t.text.clone()),
            None => g.nftables = Some("keepalived".into()),
        }
        g.nftables_priority = -1;
    }),
    Kw::new("nftables_priority", |g, n, c| {
        let Some(t) = c.need(n, 0) else { return };
        match num(c, t, i64::from(i32::MIN), i64::from(i32::MAX)).map(|v| v as i32) {
            Some(v) => g.nftables_priority = v,
            None => c.error(
                t.span,
                format!("invalid nftables chain priority '{}'", t.text),
            ),
        }
    }),
    flag!("nftables_counters", nftables_counters),
    flag!("nftables_ifindex", nftables_ifindex),
    Kw::new("nftables_ipvs", |g, n, c| {
        if g.nftables_ipvs.is_some() {
            c.error(n.span(), "ipvs nftables already specified - ignoring");
            return;
        }
        match n.arg(0) {
            Some(t) if t.text.len() >= 256 => {
                c.error(t.span, "ipvs nftables table name too long - ignoring")
            }
            Some(t) => g.nftables_ipvs = Some(t.text.clone()),
            None => g.nftables_ipvs = Some("keepalived_ipvs".into()),
        }
        g.nftables_ipvs_priority = -1;
    }),
    Kw::new("nftables_ipvs_priority", |g, n, c| {
        let Some(t) = c.need(n, 0) else { return };
        match num(c, t, i64::from(i32::MIN), i64::from(i32::MAX)).map(|v| v as i32) {
            Some(v) => g.nftables_ipvs_priority = v,
            None => c.error(
                t.span,
                format!("invalid ipvs nftables chain priority '{}'", t.text),
            ),
        }
    }),
    Kw::new("nftables_ipvs_start_fwmark", |g, n, c| {
        let Some(t) = c.need(n, 0) else { return };
        match num(c, t, 0, i64::from(u32::MAX))
            .map(|v| v as u32)
            .filter(|v| *v >= 1)
        {
            Some(v) => g.nftables_ipvs_start_fwmark = v,
            None => c.error(
                t.span,
                format!("invalid ipvs nftables start_fwmark priority '{}'", t.text),
            ),
        }
    }),
    // keepalived checks /proc/sys/net/ipv4/igmp_link_local_mcast_reports when the
    // VRRP child starts; the model only records the wish.
    flag!("disable_local_igmp", disable_local_igmp),
    // keepalived 2.2.8 (ours only: 2.2.7 rejects it); takes no value in global_defs
    Kw::new("v3_checksum_as_v2", |g, n, c| {
        c.added_in_228(n);
        g.v3_checksum_as_v2 = true;
    }),
    Kw::new("lvs_timeouts", lvs_timeouts),
    flag!("lvs_flush", lvs_flush),
    Kw::new("lvs_flush_on_stop", lvs_flush_on_stop),
    // Deprecated after 2.1.5 but still accepted silently by 2.2.7.
    Kw::new("lvs_flush_onstop", lvs_flush_on_stop),
    Kw::new("lvs_sync_daemon", lvs_sync_daemon),
    // keepalived 1.x spelling (`lvs_sync_daemon_interface IF`); 2.2.7 rejects it.
    Kw::deprecated(
        "lvs_sync_daemon_interface",
        "lvs_sync_daemon",
        lvs_sync_daemon,
    ),
    Kw::new("vrrp_priority", |g, n, c| {
        g.vrrp_sched.priority = nice(n, c, "vrrp")
    }),
    Kw::new("checker_priority", |g, n, c| {
        g.checker_sched.priority = nice(n, c, "checker")
    }),
    Kw::new("bfd_priority", |g, n, c| {
        g.bfd_sched.priority = nice(n, c, "bfd")
    }),
    flag!("vrrp_no_swap", vrrp_sched.no_swap),
    flag!("checker_no_swap", checker_sched.no_swap),
    flag!("bfd_no_swap", bfd_sched.no_swap),
    Kw::new("vrrp_rt_priority", |g, n, c| {
        if let Some(p) = rt_priority(n, c, "vrrp") {
            g.vrrp_sched.rt_priority = Some(p);
        }
    }),
    Kw::new("checker_rt_priority", |g, n, c| {
        if let Some(p) = rt_priority(n, c, "checker") {
            g.checker_sched.rt_priority = Some(p);
        }
    }),
    Kw::new("bfd_rt_priority", |g, n, c| {
        if let Some(p) = rt_priority(n, c, "bfd") {
            g.bfd_sched.rt_priority = Some(p);
        }
    }),
    Kw::new("vrrp_rlimit_rttime", |g, n, c| {
        g.vrrp_sched.rlimit_rttime = rlimit(n, c, "vrrp")
    }),
    Kw::new("checker_rlimit_rttime", |g, n, c| {
        g.checker_sched.rlimit_rttime = rlimit(n, c, "checker")
    }),
    Kw::new("bfd_rlimit_rttime", |g, n, c| {
        g.bfd_sched.rlimit_rttime = rlimit(n, c, "bfd")
    }),
    Kw::new("vrrp_rlimit_rtime", |g, n, c| {
        g.vrrp_sched.rlimit_rttime = rlimit(n, c, "vrrp")
    }),
    Kw::new("checker_rlimit_rtime", |g, n, c| {
        g.checker_sched.rlimit_rttime = rlimit(n, c, "checker")
    }),
    Kw::new("bfd_rlimit_rtime", |g, n, c| {
        g.bfd_sched.rlimit_rttime = rlimit(n, c, "bfd")
    }),
    Kw::new("vrrp_cpu_affinity", |g, n, c| {
        g.vrrp_sched.cpu_affinity = cpus(n, c, "vrrp")
    }),
    Kw::new("checker_cpu_affinity", |g, n, c| {
        g.checker_sched.cpu_affinity = cpus(n, c, "checker")
    }),
    Kw::new("bfd_cpu_affinity", |g, n, c| {
        g.bfd_sched.cpu_affinity = cpus(n, c, "bfd")
    }),
    Kw::new("max_auto_priority", |g, n, c| {
        let Some(t) = n.arg(0) else {
            g.max_auto_priority = Some(99);
            return;
        };
        match num(c, t, -1, 99) {
            Some(v) => g.max_auto_priority = Some(v as i32),
            None => c.error(
                t.span,
                format!(
                    "max_auto_priority '{}' must be in [0, 99] (or -1 to disable) - ignoring",
                    t.text
                ),
            ),
        }
    }),
    Kw::new("min_auto_priority_delay", |g, n, c| {
        let Some(t) = n.arg(0) else {
            c.error(n.span(), "min_auto_priority_delay requires delay time");
            return;
        };
        match num(c, t, 1, 10_000_000) {
            Some(v) => g.min_auto_priority_delay = Some(v as u32),
            None => c.error(
                t.span,
                format!(
                    "min_auto_priority_delay '{}' must be in [1, 10000000] - ignoring",
                    t.text
                ),
            ),
        }
    }),
    Kw::new("process_names", |g, _, _| {
        g.vrrp_process_name = Some("keepalived_vrrp".into());
        g.checker_process_name = Some("keepalived_lvs".into());
        g.bfd_process_name = Some("keepalived_bfd".into());
    }),
    Kw::new("process_name", |g, n, c| {
        g.process_name = process_name(n, c).or(g.process_name.take())
    }),
    Kw::new("vrrp_process_name", |g, n, c| {
        g.vrrp_process_name = process_name(n, c).or(g.vrrp_process_name.take())
    }),
    Kw::new("checker_process_name", |g, n, c| {
        g.checker_process_name = process_name(n, c).or(g.checker_process_name.take())
    }),
    Kw::new("lvs_process_name", |g, n, c| {
        // keepalived logs this at INFO level only: our lint.
        c.lint(
            n.span(),
            "'lvs_process_name' is deprecated - please use 'checker_process_name'",
        );
        g.checker_process_name = process_name(n, c).or(g.checker_process_name.take())
    }),
    Kw::new("bfd_process_name", |g, n, c| {
        g.bfd_process_name = process_name(n, c).or(g.bfd_process_name.take())
    }),
    Kw::new("snmp_socket", |g, n, c| {
        if n.args.len() > 1 {
            c.error(
                n.span(),
                "Too many parameters specified for snmp_socket - ignoring",
            );
            return;
        }
        let Some(t) = n.arg(0) else {
            c.error(n.span(), "SNMP error : snmp socket name missing");
            return;
        };
        if let Some(old) = &g.snmp_socket {
            let msg = format!("SNMP socket already set to {old} - ignoring");
            c.error(t.span, msg);
            return;
        }
        g.snmp_socket = Some(t.text.clone());
    }),
    flag!("enable_traps", enable_traps),
    flag!("enable_snmp_vrrp", enable_snmp_vrrp),
    Kw::new("enable_snmp_keepalived", |g, n, c| {
        c.lint(
            n.span(),
            "keyword 'enable_snmp_keepalived' is deprecated, use 'enable_snmp_vrrp' instead",
        );
        g.enable_snmp_vrrp = true;
    }),
    flag!("enable_snmp_checker", enable_snmp_checker)
        .not_implemented("the checker's SNMP objects are not served yet"),
    Kw::new("enable_snmp_rfc", |g, _, _| {
        g.enable_snmp_rfcv2 = true;
        g.enable_snmp_rfcv3 = true;
    }),
    flag!("enable_snmp_rfcv2", enable_snmp_rfcv2),
    flag!("enable_snmp_rfcv3", enable_snmp_rfcv3),
    flag!("enable_dbus", enable_dbus),
    Kw::new("dbus_service_name", |g, n, c| match n.arg(0) {
        Some(t) => g.dbus_service_name = Some(t.text.clone()),
        None => c.error(n.span(), "dbus_service_name missing - ignoring"),
    }),
    Kw::new("vrrp_netlink_cmd_rcv_bufs", |g, n, c| {
        rcv_bufs(&mut g.vrrp_netlink_cmd_rcv_bufs, n, c, "vrrp_netlink_cmd")
    }),
    boolean!(
        "vrrp_netlink_cmd_rcv_bufs_force",
        vrrp_netlink_cmd_rcv_bufs.force
    ),
    Kw::new("vrrp_netlink_monitor_rcv_bufs", |g, n, c| {
        rcv_bufs(
            &mut g.vrrp_netlink_monitor_rcv_bufs,
            n,
            c,
            "vrrp_netlink_monitor",
        )
    }),
    boolean!(
        "vrrp_netlink_monitor_rcv_bufs_force",
        vrrp_netlink_monitor_rcv_bufs.force
    ),
    Kw::new("lvs_netlink_cmd_rcv_bufs", |g, n, c| {
        rcv_bufs(&mut g.lvs_netlink_cmd_rcv_bufs, n, c, "lvs_netlink_cmd")
    }),
    boolean!(
        "lvs_netlink_cmd_rcv_bufs_force",
        lvs_netlink_cmd_rcv_bufs.force
    ),
    Kw::new("lvs_netlink_monitor_rcv_bufs", |g, n, c| {
        rcv_bufs(
            &mut g.lvs_netlink_monitor_rcv_bufs,
            n,
            c,
            "lvs_netlink_monitor",
        )
    }),
    boolean!(
        "lvs_netlink_monitor_rcv_bufs_force",
        lvs_netlink_monitor_rcv_bufs.force
    ),
    Kw::unimplemented(
        "process_monitor_rcv_bufs",
        "processes are tracked by reading /proc, there is no process-event socket",
        |g, n, c| rcv_bufs(&mut g.process_monitor_rcv_bufs, n, c, "process_monitor"),
    ),
    boolean!(
        "process_monitor_rcv_bufs_force",
        process_monitor_rcv_bufs.force
    )
    .not_implemented("processes are tracked by reading /proc, there is no process-event socket"),
    Kw::new("vrrp_rx_bufs_policy", rx_bufs_policy),
    Kw::new("vrrp_rx_bufs_multiplier", |g, n, c| {
        if n.args.len() != 1 {
            c.error(n.span(), "Invalid vrrp_rx_bufs_multiplier");
            return;
        }
        let Some(t) = n.arg(0) else { return };
        match num(c, t, 0, i64::from(u32::MAX))
            .map(|v| v as u32)
            .filter(|v| *v >= 1)
        {
            Some(v) => g.vrrp_rx_bufs_multiplier = v,
            None => c.error(
                t.span,
                format!("Invalid vrrp_rx_bufs_multiplier {}", t.text),
            ),
        }
    }),
    boolean!("rs_init_notifies", rs_init_notifies),
    boolean!("no_checker_emails", no_checker_emails),
    Kw::new("umask", umask),
    Kw::unimplemented(
        "random_seed",
        "nothing draws from a seeded random generator yet",
        |g, n, c| {
            let Some(t) = c.need(n, 0) else { return };
            match num(c, t, 0, i64::from(u32::MAX)).map(|v| v as u32) {
                Some(v) => g.random_seed = Some(v),
                None => c.error(t.span, format!("random_seed {} invalid", t.text)),
            }
        },
    ),
    Kw::new("reload_check_config", |g, n, _| {
        g.reload_check_config = Some(
            n.arg(0)
                .map(|t| t.text.clone())
                .unwrap_or_else(|| "/dev/null".into()),
        );
    }),
    Kw::new("reload_time_file", |g, n, c| {
        match (n.args.len(), n.arg(0)) {
            (1, Some(t)) => g.reload_time_file = Some(t.text.clone()),
            _ => c.error(n.span(), "reload_time_file invalid"),
        }
    }),
    flag!("reload_repeat", reload_repeat),
    Kw::new("reload_file", |g, n, _| {
        g.reload_file = Some(
            n.arg(0)
                .map(|t| t.text.clone())
                .unwrap_or_else(|| "/run/keepalived.reload".into()),
        );
    }),
    Kw::new("include_check", include_check),
    Kw::unimplemented(
        "config_save_dir",
        "keepalived's copies of the configuration around reloads are not made",
        |_, n, c| {
            // Only the value's presence is checked, as keepalived does.
            let _ = c.need(n, 0);
        },
    ),
    Kw::unimplemented(
        "tmp_config_directory",
        "the children read the configuration files themselves, no copy is written",
        |g, n, c| {
            if g.tmp_config_directory.is_some() {
                c.error(
                    n.span(),
                    "tmp_config_directory already specified - ignoring",
                );
                return;
            }
            match n.arg(0) {
                Some(t) => g.tmp_config_directory = Some(t.text.clone()),
                None => c.error(n.span(), "tmp_config_directory missing directory name"),
            }
        },
    ),
    Kw::new("data_use_instance", |g, n, c| {
        // keepalived's message really says "date_use_instance".
        if let Some(t) = n.arg(0) {
            match parse_bool(&t.text) {
                Some(b) => g.data_use_instance = b,
                None => c.error(
                    t.span,
                    format!(
                        "Invalid value '{}' for global date_use_instance specified",
                        t.text
                    ),
                ),
            }
        } else {
            g.data_use_instance = true;
        }
    }),
    // keepalived 2.2.8 (ours only: 2.2.7 rejects it)
    Kw::new("json_version", |g, n, c| {
        c.added_in_228(n);
        let Some(t) = n.arg(0) else {
            c.error(n.span(), "json_version requires version");
            return;
        };
        match parse_int(&t.text) {
            Some(v @ 1..=2) => g.json_version = v as u8,
            _ => c.error(t.span, "Invalid JSON version"),
        }
    }),
    // Our extension (not keepalived): where to serve Prometheus metrics. Off by default.
    Kw::new("metrics_address", |g, n, c| {
        metrics_addr(&mut g.metrics_address, n, c, "metrics_address")
    }),
    Kw::new("checker_metrics_address", |g, n, c| {
        metrics_addr(
            &mut g.checker_metrics_address,
            n,
            c,
            "checker_metrics_address",
        )
    }),
];

/// `IP:PORT` of our metrics endpoints (a bad value is linted and ignored).
fn metrics_addr(slot: &mut Option<SocketAddr>, n: &Node, c: &mut Ctx, kw: &str) {
    let Some(t) = c.need(n, 0) else { return };
    match t.text.parse::<SocketAddr>() {
        Ok(a) => *slot = Some(a),
        Err(_) => c.lint(
            t.span,
            format!(
                "invalid {kw} '{}' (expected IP:PORT or [IPv6]:PORT) - ignoring",
                t.text
            ),
        ),
    }
}

/// `<BOOL>` (bare keyword = true) with the wording keepalived uses for that keyword.
fn opt_bool(n: &Node, c: &mut Ctx, name: &str) -> Option<bool> {
    let Some(t) = n.arg(0) else { return Some(true) };
    let r = parse_bool(&t.text);
    if r.is_none() {
        let short = [
            "checker_log_all_failures",
            "vrrp_min_garp",
            "vrrp_lower_prio_no_advert",
            "vrrp_higher_prio_send_advert",
        ];
        let msg = if short.contains(&name) {
            format!("Invalid value for {name} specified")
        } else {
            format!("Invalid value '{}' for global {name} specified", t.text)
        };
        c.error(t.span, msg);
    }
    r
}

/// An integer with keepalived's generic "invalid number"/"outside range" message; the
/// caller adds the keyword's own message on `None`.
fn num(c: &mut Ctx, t: &Token, min: i64, max: i64) -> Option<i64> {
    c.int_token(t, min, max)
}

/// An unsigned integer argument with keepalived's "invalid number" pre-message and the
/// handler's own message (`{}` stands for the value).
fn uint(n: &Node, c: &mut Ctx, min: u64, max: u64, msg: &str) -> Option<u64> {
    let t = c.need(n, 0)?;
    let v = c.int_token(t, min as i64, max as i64);
    if v.is_none() {
        c.error(t.span, msg.replace("{}", &t.text));
    }
    v.map(i64::unsigned_abs)
}

fn at_least_one(v: u64, n: &Node, c: &mut Ctx, name: &str) -> u32 {
    if v == 0 {
        c.error(
            n.span(),
            format!("{name} must be greater than 0, setting to 1"),
        );
        1
    } else {
        u32::try_from(v).unwrap_or(u32::MAX)
    }
}

/// A `<TIMER>` interval (`vrrp_garp_interval` etc.); keepalived notes "very large" values.
fn interval(n: &Node, c: &mut Ctx, name: &str, min: f64, large: f64) -> Option<Duration> {
    let t = c.need(n, 0)?;
    let d = c.timer_token(t, min, f64::from(u32::MAX / 1_000_000));
    match d {
        Some(d) => {
            if d.as_secs_f64() >= large {
                c.lint(
                    t.span,
                    format!("The {name} is very large - {} seconds", t.text),
                );
            }
            Some(d)
        }
        None => {
            c.error(t.span, format!("{name} '{}' is invalid", t.text));
            None
        }
    }
}

fn smtp_server(g: &mut G, n: &Node, c: &mut Ctx) {
    let Some(host) = c.need(n, 0) else { return };
    let port_text = n.arg(1).map(|t| t.text.as_str()).unwrap_or("25");
    let Some(port) = port_text.parse::<u16>().ok().filter(|p| *p != 0) else {
        c.error(
            n.span(),
            format!("Invalid smtp server {} {}", host.text, port_text),
        );
        return;
    };
    // keepalived takes an address literal (never one with '-' or '/'), else resolves the
    // name while parsing, and rejects the line when that fails (observed: `192.0.2.1/33`,
    // `300.1.1.1` -> `Invalid smtp server 300.1.1.1 25`, exit 5).
    let literal = if host.text.contains(['-', '/']) {
        None
    } else {
        host.text.parse::<IpAddr>().ok()
    };
    if literal.is_none() && !c.host.resolves(&host.text, port) {
        c.error(
            n.span(),
            format!("Invalid smtp server {} {}", host.text, port_text),
        );
        return;
    }
    g.smtp_server = Some(match literal {
        Some(ip) => SmtpServer::Addr(SocketAddr::new(ip, port)),
        // Resolved again when mail is sent, so a changed DNS entry is followed.
        None => SmtpServer::Host {
            name: host.text.clone(),
            port,
        },
    });
}

/// Script security is on, without `script_user` and without the `keepalived_script` user:
/// keepalived has no default user for a script read now.
fn no_default_script_user(g: &G, c: &Ctx) -> bool {
    g.enable_script_security && g.script_user.is_none() && !c.host.user_exists(DEFAULT_SCRIPT_USER)
}

fn startup_shutdown(
    slot: &mut Option<Script>,
    no_default_user: bool,
    n: &Node,
    c: &mut Ctx,
    kind: &str,
) {
    if slot.is_some() {
        c.error(n.span(), format!("{kind} script already specified"));
        return;
    }
    if n.arg(0).is_none() {
        c.error(n.span(), format!("{kind} script missing"));
        return;
    }
    // keepalived resolves the default script user while parsing the line: with script
    // security already on, no script_user and no keepalived_script user, the script is
    // refused (observed: exit 5; order-dependent, as in keepalived).
    if no_default_user {
        c.error(
            n.span(),
            format!("Unable to set default user {DEFAULT_SCRIPT_USER} for script"),
        );
    }
    match c.script(n).filter(|_| !no_default_user) {
        Some(s) => *slot = Some(s),
        None => c.error(n.span(), format!("Invalid {kind} script")),
    }
}

fn script_timeout(n: &Node, c: &mut Ctx, kind: &str) -> Option<u32> {
    let Some(t) = n.arg(0) else {
        c.error(n.span(), format!("{kind}_script_timeout requires value"));
        return None;
    };
    match num(c, t, 1, 1000) {
        Some(v) => Some(v as u32),
        None => {
            c.error(
                t.span,
                format!(
                    "{kind}_script_timeout '{}' must be in [1, 1000] - ignoring",
                    t.text
                ),
            );
            None
        }
    }
}

fn fifo(f: &mut NotifyFifo, n: &Node, c: &mut Ctx, kind: &str) {
    let Some(t) = n.arg(0) else {
        c.error(n.span(), format!("No {kind}notify_fifo name specified"));
        return;
    };
    if f.path.is_some() {
        c.error(
            n.span(),
            format!("{kind}notify_fifo already specified - ignoring {}", t.text),
        );
        return;
    }
    f.path = Some(t.text.clone());
    f.user = n.arg(1).map(|t| t.text.clone());
    f.group = n.arg(2).map(|t| t.text.clone());
}

fn fifo_script(f: &mut NotifyFifo, n: &Node, c: &mut Ctx, kind: &str) {
    let Some(t) = n.arg(0) else {
        c.error(n.span(), format!("No {kind}notify_fifo_script specified"));
        return;
    };
    if f.script.is_some() {
        c.error(
            n.span(),
            format!(
                "{kind}notify_fifo_script already specified - ignoring {}",
                t.text
            ),
        );
        return;
    }
    f.script = c.script(n);
}

fn garp_extra_if(g: &mut G, n: &Node, c: &mut Ctx) {
    let mut delay = 0;
    let mut all = false;
    for t in &n.args {
        if t.text == "all" {
            all = true;
            continue;
        }
        match num(c, t, 1, 86400) {
            Some(v) => delay = v as u32,
            None => {
                c.error(
                    t.span,
                    format!("{} '{}' invalid - ignoring", n.name(), t.text),
                );
                return;
            }
        }
    }
    if all {
        g.vrrp_garp_extra_if_all = true;
    }
    if delay == 0 {
        c.error(
            n.span(),
            format!("{} specified without time - ignoring", n.name()),
        );
        return;
    }
    g.vrrp_garp_extra_if = Some(delay);
}

fn lvs_timeouts(g: &mut G, n: &Node, c: &mut Ctx) {
    if n.args.len() < 2 {
        c.error(n.span(), "lvs_timeouts requires at least one option");
        return;
    }
    // 31 days, keepalived's LVS_MAX_TIMEOUT.
    const MAX: i64 = 86400 * 31;
    let mut i = 0;
    while let Some(t) = n.arg(i) {
        let slot = match t.text.as_str() {
            "tcp" => &mut g.lvs_timeouts.tcp,
            "tcpfin" => &mut g.lvs_timeouts.tcpfin,
            "udp" => &mut g.lvs_timeouts.udp,
            other => {
                c.error(
                    t.span,
                    format!("Unknown option {other} specified for lvs_timeouts"),
                );
                i += 1;
                continue;
            }
        };
        match n.arg(i + 1) {
            None => c.error(
                t.span,
                format!("No value specified for lvs_timeout {} - ignoring", t.text),
            ),
            Some(v) => match num(c, v, 0, MAX) {
                Some(x) => *slot = Some(x as u32),
                None => c.error(
                    v.span,
                    format!("Invalid lvs_timeout {} ({}) - ignoring", t.text, v.text),
                ),
            },
        }
        i += 2;
    }
}

fn lvs_flush_on_stop(g: &mut G, n: &Node, c: &mut Ctx) {
    match n.arg(0) {
        None => g.lvs_flush_on_stop = LvsFlushOnStop::Full,
        Some(t) if t.text == "VS" => g.lvs_flush_on_stop = LvsFlushOnStop::Vs,
        Some(t) => c.error(t.span, format!("Unknown lvs_flush_on_stop type {}", t.text)),
    }
}

fn lvs_sync_daemon(g: &mut G, n: &Node, c: &mut Ctx) {
    if let Some(d) = &g.lvs_sync_daemon {
        let msg = format!(
            "lvs_sync_daemon has already been specified as {} {} - ignoring",
            d.interface,
            d.vrrp_instance.as_deref().unwrap_or("")
        );
        c.error(n.span(), msg);
        return;
    }
    let Some(ifname) = n.arg(0) else {
        c.error(n.span(), "lvs_sync_daemon requires interface");
        return;
    };
    // IP_VS_IFNAME_MAXLEN is 16 including the NUL.
    if ifname.text.len() >= 16 {
        c.error(
            ifname.span,
            format!(
                "lvs_sync_daemon interface name '{}' too long - ignoring",
                ifname.text
            ),
        );
        return;
    }
    let mut d = LvsSyncDaemon {
        interface: ifname.text.clone(),
        ..Default::default()
    };
    let mut i = 1;
    while let Some(t) = n.arg(i) {
        let val = n.arg(i + 1);
        let missing = |c: &mut Ctx, what: &str| {
            c.error(
                t.span,
                format!("No value specified for lvs_sync_daemon {what} - ignoring"),
            )
        };
        match t.text.as_str() {
            "inst" => {
                match val {
                    Some(v) if d.vrrp_instance.is_none() => d.vrrp_instance = Some(v.text.clone()),
                    Some(_) => c.error(
                        t.span,
                        format!(
                            "lvs_sync_daemon vrrp instance has already been specified as {} - ignoring",
                            d.vrrp_instance.as_deref().unwrap_or("")
                        ),
                    ),
                    None => c.missing_word(n, i + 2),
                }
                i += 2;
            }
            "id" => {
                match val {
                    None => c.error(
                        t.span,
                        "No value specified for lvs_sync_daemon id, defaulting to vrid",
                    ),
                    Some(v) => match num(c, v, 0, 255) {
                        Some(x) => d.sync_id = Some(x as u8),
                        None => c.error(
                            v.span,
                            format!("Invalid syncid ({}) - defaulting to vrid", v.text),
                        ),
                    },
                }
                i += 2;
            }
            "maxlen" | "port" | "ttl" => {
                let what = t.text.as_str();
                let max = match what {
                    "maxlen" => 65535 - 20 - 8,
                    "port" => 65535,
                    _ => 255,
                };
                match val {
                    None => missing(c, what),
                    Some(v) => match num(c, v, 1, max) {
                        Some(x) => match what {
                            "maxlen" => d.maxlen = Some(x as u16),
                            "port" => d.port = Some(x as u16),
                            _ => d.ttl = Some(x as u8),
                        },
                        None => c.error(
                            v.span,
                            format!("Invalid lvs_sync_daemon {what} ({}) - ignoring", v.text),
                        ),
                    },
                }
                i += 2;
            }
            "group" => {
                match val {
                    None => missing(c, "group"),
                    Some(v) => match v.text.parse::<IpAddr>() {
                        Ok(a) if a.is_multicast() => d.group = Some(a),
                        Ok(_) => c.error(
                            v.span,
                            format!(
                                "lvs_sync_daemon group address {} is not multicast - ignoring",
                                v.text
                            ),
                        ),
                        Err(_) => c.error(
                            v.span,
                            format!("Invalid lvs_sync_daemon group ({}) - ignoring", v.text),
                        ),
                    },
                }
                i += 2;
            }
            // Old form `lvs_sync_daemon IF VRRP_INSTANCE [SYNC_ID]`.
            _ if i == 1 => {
                d.vrrp_instance = Some(t.text.clone());
                i += 1;
            }
            _ if i == 2 => {
                match num(c, t, 0, 255) {
                    Some(x) => {
                        c.error(
                            t.span,
                            "Please use keyword \"id\" before lvs_sync_daemon SYNCID",
                        );
                        d.sync_id = Some(x as u8);
                    }
                    None => c.error(
                        t.span,
                        format!("Invalid syncid ({}) - defaulting to vrid", t.text),
                    ),
                }
                i += 1;
            }
            other => {
                c.error(
                    t.span,
                    format!("Unknown option {other} specified for lvs_sync_daemon"),
                );
                i += 1;
            }
        }
    }
    g.lvs_sync_daemon = Some(d);
}

fn nice(n: &Node, c: &mut Ctx, process: &str) -> Option<i8> {
    let Some(t) = n.arg(0) else {
        c.error(n.span(), format!("No {process} process priority specified"));
        return None;
    };
    match c.int_token(t, -20, 19) {
        Some(v) => Some(v as i8),
        None => {
            c.error(
                t.span,
                format!("Invalid {process} process priority specified"),
            );
            None
        }
    }
}

fn rt_priority(n: &Node, c: &mut Ctx, process: &str) -> Option<u8> {
    let Some(t) = n.arg(0) else {
        c.error(
            n.span(),
            format!("No {process} process real-time priority specified"),
        );
        return None;
    };
    let Some(v) = parse_int(&t.text) else {
        c.error(
            t.span,
            format!("{process} process real-time priority '{}' invalid", t.text),
        );
        return None;
    };
    // SCHED_RR priorities on Linux are 1..99.
    Some(if v < 1 {
        c.error(
            t.span,
            format!(
                "{process} process real-time priority {v} less than minimum 1 - setting to minimum"
            ),
        );
        1
    } else if v > 99 {
        c.error(t.span, format!("{process} process real-time priority {v} greater than maximum 99 - setting to maximum"));
        99
    } else {
        v as u8
    })
}

fn rlimit(n: &Node, c: &mut Ctx, process: &str) -> Option<u64> {
    if n.name().ends_with("_rtime") {
        c.lint(
            n.span(),
            format!(
                "Keyword '{}' is deprecated - please use '{}rttime'",
                n.name(),
                n.name().trim_end_matches("rtime")
            ),
        );
    }
    let t = c.need(n, 0)?;
    match c.int_token(t, 1, i64::from(u32::MAX)) {
        // keepalived halves the limit elsewhere and needs a non-zero result.
        Some(v) => Some(v.unsigned_abs().max(2)),
        None => {
            c.error(
                t.span,
                format!("Invalid {process} real-time limit - {}", t.text),
            );
            None
        }
    }
}

fn cpus(n: &Node, c: &mut Ctx, process: &str) -> Vec<u32> {
    if n.args.is_empty() {
        c.error(n.span(), format!("No {process} cpu_id set specified"));
        return Vec::new();
    }
    let ncpu = std::thread::available_parallelism()
        .map(|n| n.get() as i64)
        .unwrap_or(1);
    let mut out = Vec::new();
    for t in &n.args {
        match c.int_token(t, 0, ncpu - 1) {
            Some(v) => out.push(v as u32),
            None => {
                c.error(
                    t.span,
                    format!("Invalid cpu_id:{} specified for {process} process", t.text),
                );
                return Vec::new();
            }
        }
    }
    out
}

fn process_name(n: &Node, c: &mut Ctx) -> Option<String> {
    let t = c.need(n, 0)?;
    // TASK_COMM_LEN is 16 including the NUL.
    if t.text.len() >= 16 {
        c.error(
            t.span,
            format!(
                "Process name {} more than 15 characters, truncating",
                t.text
            ),
        );
        let mut end = 15;
        while !t.text.is_char_boundary(end) {
            end -= 1;
        }
        return Some(t.text[..end].to_string());
    }
    Some(t.text.clone())
}

fn rcv_bufs(b: &mut RcvBufs, n: &Node, c: &mut Ctx, kind: &str) {
    let Some(t) = n.arg(0) else {
        c.error(n.span(), format!("{kind}_rcv_bufs size missing"));
        return;
    };
    match num(c, t, 0, i64::from(u32::MAX)).map(|v| v as u32) {
        // keepalived treats 0 as "not set".
        Some(0) => {}
        Some(v) => b.size = Some(v),
        None => c.error(t.span, format!("{kind}_rcv_bufs size ({}) invalid", t.text)),
    }
}

fn rx_bufs_policy(g: &mut G, n: &Node, c: &mut Ctx) {
    if n.args.is_empty() {
        c.error(n.span(), "vrrp_rx_bufs_policy missing");
        return;
    }
    // keepalived ORs the flags of every `vrrp_rx_bufs_policy` line together.
    let (mut mtu, mut advert, mut size) = match g.vrrp_rx_bufs_policy {
        Some(RxBufsPolicy::Mtu) => (true, false, None),
        Some(RxBufsPolicy::Advert) => (false, true, None),
        Some(RxBufsPolicy::Size(s)) => (false, false, Some(s)),
        None => (false, false, None),
    };
    for t in &n.args {
        if t.text.eq_ignore_ascii_case("MTU") {
            mtu = true;
        } else if t.text.eq_ignore_ascii_case("ADVERT") {
            advert = true;
        } else {
            match num(c, t, 0, i64::from(u32::MAX)).map(|v| v as u32) {
                Some(v) => size = Some(v),
                None => c.error(t.span, format!("Invalid vrrp_rx_bufs_policy {}", t.text)),
            }
        }
    }
    g.vrrp_rx_bufs_policy = match (size, mtu, advert) {
        (Some(s), m, a) => {
            if m || a {
                c.error(
                    n.span(),
                    "Cannot set vrrp_rx_bufs_policy size and policy, ignoring policy",
                );
            }
            Some(RxBufsPolicy::Size(s))
        }
        (None, true, a) => {
            if a {
                c.error(
                    n.span(),
                    "Cannot set both vrrp_rx_bufs_policy MTU and ADVERT, ignoring ADVERT",
                );
            }
            Some(RxBufsPolicy::Mtu)
        }
        (None, false, true) => Some(RxBufsPolicy::Advert),
        (None, false, false) => g.vrrp_rx_bufs_policy,
    };
}

/// `umask 0177` (any C base) or `umask IRUSR|IWGRP...`.
fn umask(g: &mut G, n: &Node, c: &mut Ctx) {
    let Some(first) = c.need(n, 0) else { return };
    if first.text.starts_with(|ch: char| ch.is_ascii_digit()) {
        if n.args.len() != 1 {
            c.error(n.span(), "Extra parameter(s) to umask option");
            return;
        }
        match parse_c_ulong(&first.text).filter(|v| *v & !0o777 == 0) {
            Some(v) => {
                g.umask = v as u32;
                g.umask_set = true;
            }
            None => c.error(first.span, format!("invalid umask value {}", first.text)),
        }
        return;
    }
    const BITS: [(&str, u32); 9] = [
        ("IRUSR", 0o400),
        ("IWUSR", 0o200),
        ("IXUSR", 0o100),
        ("IRGRP", 0o040),
        ("IWGRP", 0o020),
        ("IXGRP", 0o010),
        ("IROTH", 0o004),
        ("IWOTH", 0o002),
        ("IXOTH", 0o001),
    ];
    let mut bits = 0;
    let mut need_or = false;
    for t in &n.args {
        let mut p = t.text.as_str();
        while !p.is_empty() {
            if need_or {
                match p.strip_prefix('|') {
                    Some(rest) => {
                        need_or = false;
                        p = rest;
                        continue;
                    }
                    None => {
                        c.error(t.span, format!("Invalid umask syntax {}", t.text));
                        return;
                    }
                }
            }
            match BITS.iter().find(|(name, _)| p.starts_with(name)) {
                Some((name, b)) => {
                    bits |= b;
                    p = &p[name.len()..];
                    need_or = true;
                }
                None => {
                    c.error(t.span, format!("Unknown umask bit {p}"));
                    return;
                }
            }
        }
    }
    if !need_or {
        c.error(n.span(), "umask missing bit value");
        return;
    }
    g.umask = bits;
    g.umask_set = true;
}

/// `include_check [[+|-]read|match|wildcard_match|brace_match]...`.
fn include_check(g: &mut G, n: &Node, c: &mut Ctx) {
    const TYPES: [&str; 4] = ["read", "match", "wildcard_match", "brace_match"];
    let mut words = Vec::new();
    for t in &n.args {
        let w = t.text.trim_start_matches(['+', '-']);
        if TYPES.contains(&w) {
            words.push(t.text.clone());
        } else {
            c.error(
                t.span,
                format!("Unknown include_check type '{}' - ignoring", t.text),
            );
        }
    }
    g.include_check = Some(words);
}

/// Defaults that depend on other settings, and cross-checks.
pub fn finish(cfg: &mut Config, ctx: &mut Ctx) {
    let g = &mut cfg.global;
    let host = ctx.host.hostname();
    if g.router_id.is_none() {
        g.router_id = Some(host.clone());
    }
    // keepalived only computes the sender when mail can be sent.
    if g.smtp_server.is_some() {
        if g.notification_email_from.is_none() {
            let user = ctx.host.user_name().unwrap_or_else(|| "root".into());
            g.notification_email_from = Some(format!("{user}@{host}"));
        }
        if g.smtp_helo_name.is_none() {
            g.smtp_helo_name = Some(host);
        }
    }
    if g.vrrp_garp_lower_prio_delay.is_none() {
        g.vrrp_garp_lower_prio_delay = Some(g.vrrp_garp_master_delay);
    }
    if g.vrrp_garp_lower_prio_repeat.is_none() {
        g.vrrp_garp_lower_prio_repeat = Some(g.vrrp_garp_master_repeat);
    }
    // Whether the start/stop scripts are executed (SECURITY VIOLATION) depends on the
    // files: config::host checks them.
    statics::finish(cfg, ctx);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::diagnostic::Diagnostics;

    // (re-exported: tests outside the model build statements with them too)
    pub(crate) use crate::config::model::testutil::{b, build, n};

    fn global(lines: &[&str]) -> (GlobalDefs, Diagnostics) {
        let (cfg, d) = build(&[b("global_defs", lines.iter().map(|l| n(l)).collect())]);
        (cfg.global, d)
    }

    fn msgs(d: &Diagnostics) -> Vec<String> {
        d.items.iter().map(|x| x.message.clone()).collect()
    }

    #[test]
    fn defaults() {
        let (g, d) = global(&[]);
        assert_eq!(d.config_test_exit_code(), 0, "{:?}", msgs(&d));
        assert_eq!(g.router_id.as_deref(), Some("testhost"));
        assert_eq!(g.smtp_connect_timeout, Duration::from_secs(30));
        assert_eq!(g.vrrp_version, 2);
        assert_eq!(g.vrrp_mcast_group4, Ipv4Addr::new(224, 0, 0, 18));
        assert_eq!(g.vrrp_mcast_group6.to_string(), "ff02::12");
        assert_eq!(g.vrrp_garp_master_delay, Duration::from_secs(5));
        assert_eq!(g.vrrp_garp_master_repeat, 5);
        assert_eq!(g.vrrp_garp_lower_prio_delay, Some(Duration::from_secs(5)));
        assert_eq!(g.vrrp_garp_lower_prio_repeat, Some(5));
        assert_eq!(g.vrrp_garp_master_refresh_repeat, 1);
        assert_eq!(g.vrrp_down_timer_adverts, 3);
        assert_eq!(g.umask, 0o177);
        assert_eq!(g.startup_script_timeout, 10);
        assert_eq!(g.vrrp_rx_bufs_multiplier, 3);
        assert_eq!(g.nftables_ipvs_start_fwmark, 1000);
        assert!(g.notification_email_from.is_none());
        assert_eq!(g.default_ifname(), "eth0");
    }

    #[test]
    fn every_keyword_is_accepted() {
        let lines = [
            "router_id R1",
            "notification_email_from a@b",
            "smtp_server 192.0.2.1 2525",
            "smtp_helo_name helo",
            "smtp_connect_timeout 20",
            "smtp_alert",
            "smtp_alert_vrrp off",
            "smtp_alert_checker yes",
            "no_email_faults",
            "checker_log_all_failures",
            "script_user nobody nogroup",
            "enable_script_security",
            "startup_script /bin/true",
            "startup_script_timeout 20",
            "shutdown_script /bin/true",
            "shutdown_script_timeout 30",
            "notify_fifo /run/f",
            "notify_fifo_script /bin/true",
            "vrrp_notify_fifo /run/vf root",
            "vrrp_notify_fifo_script /bin/true",
            "lvs_notify_fifo /run/lf",
            "lvs_notify_fifo_script /bin/true",
            "vrrp_notify_priority_changes",
            "fifo_write_vrrp_states_on_reload",
            "default_interface eth1",
            "dynamic_interfaces allow_if_changes",
            "vrrp_mcast_group4 224.0.0.19",
            "vrrp_mcast_group6 ff02::13",
            "vrrp_version 3",
            "vrrp_garp_master_delay 10",
            "vrrp_garp_master_repeat 3",
            "vrrp_garp_master_refresh 60",
            "vrrp_garp_master_refresh_repeat 2",
            "vrrp_garp_lower_prio_delay 7",
            "vrrp_garp_lower_prio_repeat 4",
            "vrrp_garp_interval 0.001",
            "vrrp_gna_interval 0.000001",
            "vrrp_garp_extra_if all 30",
            "vrrp_down_timer_adverts 5",
            "vrrp_lower_prio_no_advert",
            "vrrp_higher_prio_send_advert false",
            "vrrp_check_unicast_src",
            "vrrp_skip_check_adv_addr",
            "vrrp_strict",
            "vrrp_startup_delay 5.5",
            "log_unknown_vrids",
            "vmac_prefix vr",
            "vmac_addr_prefix 02",
            "nftables",
            "nftables_priority -5",
            "nftables_counters",
            "nftables_ifindex",
            "nftables_ipvs ipvs_t",
            "nftables_ipvs_priority 5",
            "nftables_ipvs_start_fwmark 2000",
            "disable_local_igmp",
            "lvs_timeouts tcp 900 tcpfin 120 udp 300",
            "lvs_flush",
            "lvs_flush_on_stop VS",
            "lvs_sync_daemon eth0 inst VI_1 id 5 maxlen 1400 port 8848 ttl 2 group 224.0.0.81",
            "vrrp_priority -10",
            "checker_priority 5",
            "bfd_priority 0",
            "vrrp_no_swap",
            "checker_no_swap",
            "bfd_no_swap",
            "vrrp_rt_priority 50",
            "checker_rt_priority 1",
            "bfd_rt_priority 99",
            "vrrp_rlimit_rttime 20000",
            "checker_rlimit_rttime 1",
            "bfd_rlimit_rttime 5",
            "vrrp_cpu_affinity 0",
            "checker_cpu_affinity 0",
            "bfd_cpu_affinity 0",
            "max_auto_priority 50",
            "min_auto_priority_delay 2000",
            "process_names",
            "process_name ka",
            "vrrp_process_name kv",
            "checker_process_name kc",
            "bfd_process_name kb",
            "snmp_socket tcp:localhost:705",
            "enable_traps",
            "enable_snmp_vrrp",
            "enable_snmp_checker",
            "enable_snmp_rfc",
            "enable_snmp_rfcv2",
            "enable_snmp_rfcv3",
            "enable_dbus",
            "dbus_service_name org.x",
            "vrrp_netlink_cmd_rcv_bufs 1024",
            "vrrp_netlink_cmd_rcv_bufs_force",
            "vrrp_netlink_monitor_rcv_bufs 2048",
            "vrrp_netlink_monitor_rcv_bufs_force on",
            "lvs_netlink_cmd_rcv_bufs 1",
            "lvs_netlink_cmd_rcv_bufs_force",
            "lvs_netlink_monitor_rcv_bufs 1",
            "lvs_netlink_monitor_rcv_bufs_force",
            "process_monitor_rcv_bufs 1",
            "process_monitor_rcv_bufs_force",
            "vrrp_rx_bufs_policy MTU",
            "vrrp_rx_bufs_multiplier 4",
            "rs_init_notifies",
            "no_checker_emails",
            "umask IRUSR|IWUSR|IRGRP",
            "random_seed 42",
            "reload_check_config /tmp/log",
            "reload_time_file /tmp/t",
            "reload_repeat",
            "reload_file /tmp/r",
            "include_check read -match",
            "tmp_config_directory /tmp",
            "data_use_instance",
            "metrics_address 127.0.0.1:9650",
            "checker_metrics_address [::1]:9651",
        ];
        let (g, d) = global(&lines);
        assert_eq!(d.config_test_exit_code(), 0, "{:?}", msgs(&d));
        assert_eq!(g.router_id.as_deref(), Some("R1"));
        assert_eq!(
            g.smtp_server,
            Some(SmtpServer::Addr("192.0.2.1:2525".parse().unwrap()))
        );
        assert_eq!(g.smtp_connect_timeout, Duration::from_secs(20));
        assert_eq!(g.smtp_alert, Some(true));
        assert_eq!(g.smtp_alert_vrrp, Some(false));
        assert_eq!(
            g.script_user,
            Some(("nobody".into(), Some("nogroup".into())))
        );
        assert_eq!(
            g.startup_script.as_ref().map(|s| s.argv.clone()),
            Some(vec!["/bin/true".to_string()])
        );
        assert_eq!(g.startup_script_timeout, 20);
        assert_eq!(g.vrrp_notify_fifo.path.as_deref(), Some("/run/vf"));
        assert_eq!(g.vrrp_notify_fifo.user.as_deref(), Some("root"));
        assert!(g.notify_fifo.script.is_some());
        assert!(g.allow_if_changes && g.dynamic_interfaces);
        assert_eq!(g.vrrp_version, 3);
        assert_eq!(g.vrrp_garp_lower_prio_delay, Some(Duration::from_secs(7)));
        assert_eq!(g.vrrp_garp_lower_prio_repeat, Some(4));
        assert_eq!(g.vrrp_garp_interval, Duration::from_millis(1));
        assert_eq!(g.vrrp_gna_interval, Duration::from_micros(1));
        assert_eq!(g.vrrp_garp_extra_if, Some(30));
        assert!(g.vrrp_garp_extra_if_all);
        assert_eq!(g.vrrp_lower_prio_no_advert, Some(true));
        assert_eq!(g.vrrp_higher_prio_send_advert, Some(false));
        assert_eq!(g.vrrp_startup_delay, Some(Duration::from_millis(5500)));
        assert_eq!(g.nftables.as_deref(), Some("keepalived"));
        assert_eq!(g.nftables_priority, -5);
        assert_eq!(g.lvs_timeouts.tcpfin, Some(120));
        assert_eq!(g.lvs_flush_on_stop, LvsFlushOnStop::Vs);
        let s = g.lvs_sync_daemon.clone().unwrap();
        assert_eq!(s.vrrp_instance.as_deref(), Some("VI_1"));
        assert_eq!(
            (s.sync_id, s.maxlen, s.port, s.ttl),
            (Some(5), Some(1400), Some(8848), Some(2))
        );
        assert_eq!(g.vrrp_sched.priority, Some(-10));
        assert_eq!(g.vrrp_sched.rt_priority, Some(50));
        assert_eq!(g.checker_sched.rlimit_rttime, Some(2));
        assert_eq!(g.vrrp_sched.cpu_affinity, vec![0]);
        assert_eq!(g.process_name.as_deref(), Some("ka"));
        assert_eq!(g.checker_process_name.as_deref(), Some("kc"));
        assert!(g.enable_snmp_rfcv2 && g.enable_snmp_rfcv3);
        assert_eq!(
            g.vrrp_netlink_monitor_rcv_bufs,
            RcvBufs {
                size: Some(2048),
                force: true
            }
        );
        assert_eq!(g.vrrp_rx_bufs_policy, Some(RxBufsPolicy::Mtu));
        assert_eq!(g.umask, 0o640);
        assert_eq!(g.random_seed, Some(42));
        assert_eq!(g.include_check, Some(vec!["read".into(), "-match".into()]));
        assert_eq!(g.metrics_address, Some("127.0.0.1:9650".parse().unwrap()));
        assert_eq!(
            g.checker_metrics_address,
            Some("[::1]:9651".parse().unwrap())
        );
        assert_eq!(g.notification_email_from.as_deref(), Some("a@b"));
    }

    #[test]
    fn notification_email_block() {
        let (cfg, d) = build(&[b(
            "global_defs",
            vec![b("notification_email", vec![n("a@x"), n("b@y c@z")])],
        )]);
        assert_eq!(d.config_test_exit_code(), 0);
        assert_eq!(cfg.global.notification_email, ["a@x", "b@y", "c@z"]);
        let (_, d) = build(&[b("global_defs", vec![b("notification_email", vec![])])]);
        assert_eq!(msgs(&d), ["Warning - empty notification_email block"]);
    }

    #[test]
    fn range_errors_keep_defaults_or_clamp() {
        let cases: &[(&str, &str)] = &[
            (
                "smtp_connect_timeout 0",
                "smtp_conect_timeout must be greater than 0, setting to 1",
            ),
            (
                "vrrp_garp_master_repeat 0",
                "vrrp_garp_master_repeat must be greater than 0, setting to 1",
            ),
            (
                "vrrp_version 4",
                "VRRP Error: Version must be either 2 or 3",
            ),
            ("umask 0888", "invalid umask value 0888"),
            ("umask IRUSR|", "umask missing bit value"),
            ("umask IRUSR|IXXXX", "Unknown umask bit IXXXX"),
            (
                "vrrp_priority 30",
                "Invalid vrrp process priority specified",
            ),
            (
                "vrrp_rt_priority 100",
                "vrrp process real-time priority 100 greater than maximum 99 - setting to maximum",
            ),
            (
                "process_name abcdefghijklmnopqrstu",
                "Process name abcdefghijklmnopqrstu more than 15 characters, truncating",
            ),
            (
                "vrrp_mcast_group4 10.0.0.1",
                "vrrp_mcast_group4 [10.0.0.1] is not multicast. Skipping",
            ),
            (
                "vrrp_mcast_group6 ff05::12",
                "vrrp_mcast_group6 [ff05::12] should be link-local multicast.",
            ),
            ("vrrp_startup_delay 0", "vrrp_startup_delay '0' is invalid"),
            (
                "lvs_sync_daemon veth0 VI_1 5",
                "Please use keyword \"id\" before lvs_sync_daemon SYNCID",
            ),
            (
                "vrrp_down_timer_adverts x",
                "Invalid vrrp_down_timer_adverts [1:100] 'x'",
            ),
            (
                "dynamic_interfaces 1",
                "Unknown dynamic_interfaces option '1'",
            ),
            ("lvs_flush_on_stop 1", "Unknown lvs_flush_on_stop type 1"),
            (
                "include_check 1",
                "Unknown include_check type '1' - ignoring",
            ),
            (
                "vrrp_garp_extra_if",
                "vrrp_garp_extra_if specified without time - ignoring",
            ),
            ("router_id", "routerid name missing - ignoring"),
            (
                "startup_script_timeout 0",
                "startup_script_timeout '0' must be in [1, 1000] - ignoring",
            ),
            (
                "lvs_timeouts tcp",
                "lvs_timeouts requires at least one option",
            ),
            (
                "lvs_timeouts tcp 5 bogus 1",
                "Unknown option bogus specified for lvs_timeouts",
            ),
            (
                "max_auto_priority 100",
                "max_auto_priority '100' must be in [0, 99] (or -1 to disable) - ignoring",
            ),
            (
                "script_user nosuchuser_modelg",
                "Error setting global script uid/gid",
            ),
            (
                "script_user root nosuchgroup_modelg",
                "Error setting global script uid/gid",
            ),
            (
                "vrrp_mcast_group4 bogus",
                "Can't parse vrrp_mcast_group4 [bogus]. Skipping",
            ),
            (
                "vrrp_garp_extra_if 0",
                "vrrp_garp_extra_if '0' invalid - ignoring",
            ),
            ("nftables_priority x", "invalid nftables chain priority 'x'"),
            (
                "startup_script_timeout 1001",
                "number '1001' outside range [1, 1000]",
            ),
            (
                "smtp_server 192.0.2.1 99999",
                "Invalid smtp server 192.0.2.1 99999",
            ),
            (
                "smtp_alert maybe",
                "Invalid value 'maybe' for global smtp_alert specified",
            ),
        ];
        for (line, want) in cases {
            let (_, d) = global(&[line]);
            assert!(msgs(&d).iter().any(|m| m == want), "{line}: {:?}", msgs(&d));
            assert_eq!(d.config_test_exit_code(), 5, "{line}");
        }
        let (g, _) = global(&[
            "smtp_connect_timeout 0",
            "vrrp_garp_master_repeat 0",
            "vrrp_rt_priority 100",
            "process_name abcdefghijklmnopqrstu",
        ]);
        assert_eq!(g.smtp_connect_timeout, Duration::from_secs(1));
        assert_eq!(g.vrrp_garp_master_repeat, 1);
        assert_eq!(g.vrrp_sched.rt_priority, Some(99));
        assert_eq!(g.process_name.as_deref(), Some("abcdefghijklmno"));
        let (g, _) = global(&["vrrp_version 4", "umask 0888"]);
        assert_eq!(g.vrrp_version, 2);
        assert_eq!(g.umask, 0o177);
    }

    #[test]
    fn missing_parameters_are_fatal_where_keepalived_reads_blindly() {
        for kw in [
            "smtp_server",
            "smtp_connect_timeout",
            "vrrp_version",
            "vrrp_garp_interval",
            "vmac_prefix",
            "umask",
            "random_seed",
            "process_name",
            "config_save_dir",
        ] {
            let (_, d) = global(&[kw]);
            assert_eq!(d.config_test_exit_code(), 2, "{kw}");
        }
        for kw in [
            "smtp_helo_name",
            "smtp_alert",
            "max_auto_priority",
            "include_check",
            "lvs_flush_on_stop",
            "reload_check_config",
        ] {
            let (_, d) = global(&[kw]);
            assert_eq!(d.config_test_exit_code(), 0, "{kw}: {:?}", msgs(&d));
        }
    }

    #[test]
    fn accumulating_and_fatal_options() {
        let (g, d) = global(&[
            "vrrp_rx_bufs_policy 100 200",
            "vrrp_rx_bufs_policy MTU ADVERT",
        ]);
        assert_eq!(
            msgs(&d),
            ["Cannot set vrrp_rx_bufs_policy size and policy, ignoring policy"]
        );
        assert_eq!(g.vrrp_rx_bufs_policy, Some(RxBufsPolicy::Size(200)));
        let (_, d) = global(&["vrrp_rx_bufs_policy MTU", "vrrp_rx_bufs_policy ADVERT"]);
        assert_eq!(
            msgs(&d),
            ["Cannot set both vrrp_rx_bufs_policy MTU and ADVERT, ignoring ADVERT"]
        );
        let (_, d) = global(&["lvs_sync_daemon veth0 inst"]);
        assert_eq!(d.config_test_exit_code(), 2);
        assert_eq!(
            msgs(&d),
            ["*** Configuration line starting `lvs_sync_daemon` is missing a parameter after keyword `inst` at word position 4"]
        );
        let (_, d) = global(&["nftables", "nftables"]);
        assert_eq!(msgs(&d), ["nftables already specified - ignoring"]);
    }

    /// keepalived 2.2.8's `json_version` and `v3_checksum_as_v2` (2.2.7 rejects both).
    #[test]
    fn keepalived_228_keywords() {
        let (g, d) = global(&[]);
        assert_eq!(
            (g.json_version, g.v3_checksum_as_v2),
            (1, false),
            "{:?}",
            msgs(&d)
        );
        let (g, d) = global(&["json_version 2", "v3_checksum_as_v2"]);
        assert_eq!((g.json_version, g.v3_checksum_as_v2), (2, true));
        assert_eq!(d.config_test_exit_code(), 0, "{:?}", msgs(&d));
        assert_eq!(
            msgs(&d),
            [
                "'json_version' was added in keepalived 2.2.8; keepalived 2.2.7 rejects it",
                "'v3_checksum_as_v2' was added in keepalived 2.2.8; keepalived 2.2.7 rejects it"
            ]
        );
        for bad in ["json_version 3", "json_version 0", "json_version x"] {
            let (g, d) = global(&[bad]);
            assert_eq!(g.json_version, 1);
            assert_eq!(d.config_test_exit_code(), 5);
            assert!(msgs(&d).contains(&"Invalid JSON version".to_owned()));
        }
        let (_, d) = global(&["json_version"]);
        assert!(msgs(&d).contains(&"json_version requires version".to_owned()));
    }

    /// `keepalived -t` exit codes of one-line `global_defs` blocks (2.2.7).
    const KA_GLOBAL: &[&str] = &[
        "0 router_id r1 extra",
        "0 notification_email_from a@b",
        "0 smtp_server 192.0.2.1",
        "5 smtp_server 192.0.2.1 0",
        "0 smtp_server 2001:db8::1 587",
        "5 smtp_server 192.0.2.1/33",
        "5 smtp_server 300.1.1.1",
        "5 smtp_server [192.0.2.1]",
        "0 smtp_server localhost 587",
        "0 smtp_helo_name x",
        "0 smtp_connect_timeout 5",
        "5 smtp_connect_timeout -1",
        "5 smtp_connect_timeout x",
        "0 smtp_alert no",
        "5 smtp_alert_vrrp bogus",
        "0 no_email_faults",
        "0 checker_log_all_failures off",
        "5 checker_log_all_failures x",
        "0 script_user root",
        "0 script_user root root",
        "0 enable_script_security",
        // (exit 6 in keepalived: the SECURITY VIOLATION looks at the file, config::host)
        "0 startup_script /bin/true",
        "0 startup_script_timeout 5",
        "5 startup_script_timeout x",
        "5 shutdown_script_timeout 0",
        "0 notify_fifo /tmp/fifo",
        "0 notify_fifo_script /bin/true",
        "0 vrrp_notify_fifo /tmp/f2",
        "0 lvs_notify_fifo /tmp/f3",
        "0 vrrp_notify_priority_changes yes",
        "5 vrrp_notify_priority_changes x",
        "0 fifo_write_vrrp_states_on_reload",
        "0 default_interface veth0",
        "0 dynamic_interfaces",
        "0 dynamic_interfaces allow_if_changes",
        "0 vrrp_mcast_group4 224.0.0.100",
        "5 vrrp_mcast_group4 ff02::1",
        "0 vrrp_mcast_group6 ff02::100",
        "5 vrrp_mcast_group6 224.0.0.18",
        "0 vrrp_version 2",
        "5 vrrp_version x",
        "0 vrrp_garp_master_delay 0",
        "5 vrrp_garp_master_delay x",
        "0 vrrp_garp_master_repeat 2",
        "0 vrrp_garp_master_refresh 0",
        "5 vrrp_garp_master_refresh x",
        "5 vrrp_garp_master_refresh_repeat 0",
        "0 vrrp_garp_lower_prio_delay 3",
        "0 vrrp_garp_lower_prio_repeat 0",
        "5 vrrp_garp_lower_prio_repeat -1",
        "0 vrrp_garp_interval 0.5",
        "0 vrrp_garp_interval 5",
        "5 vrrp_garp_interval 0",
        "5 vrrp_garp_interval 0.0000001",
        "0 vrrp_gna_interval 0.01",
        "0 vrrp_min_garp",
        "0 vrrp_min_garp off",
        "5 vrrp_min_garp x",
        "0 vrrp_garp_extra_if 10",
        "5 vrrp_garp_extra_if all",
        "5 vrrp_garp_extra_if 86401",
        "5 vrrp_vmac_garp_intvl 10",
        "0 vrrp_down_timer_adverts 100",
        "5 vrrp_down_timer_adverts 101",
        "5 vrrp_lower_prio_no_advert x",
        "0 vrrp_higher_prio_send_advert true",
        "0 vrrp_check_unicast_src",
        "0 vrrp_skip_check_adv_addr",
        "0 vrrp_strict",
        "0 vrrp_startup_delay 0.001",
        "0 vrrp_startup_delay 100",
        "0 log_unknown_vrids",
        "0 vmac_prefix abc",
        "0 vmac_addr_prefix abc",
        "5 vrrp_iptables",
        "5 vrrp_iptables a b",
        "0 nftables mytable",
        "0 nftables_priority 5",
        "0 nftables_counters",
        "0 nftables_ifindex",
        "0 nftables_ipvs",
        "5 nftables_ipvs_priority x",
        "5 nftables_ipvs_start_fwmark 0",
        "0 disable_local_igmp",
        "0 lvs_timeouts tcp 1",
        "5 lvs_timeouts tcp x",
        "5 lvs_timeouts udp 2678401",
        "0 lvs_flush",
        "0 lvs_flush_on_stop",
        "0 lvs_flush_onstop VS",
        "0 lvs_sync_daemon veth0",
        "5 lvs_sync_daemon veth0 inst VI_1 id 300",
        "5 lvs_sync_daemon veth0 maxlen 0",
        "5 lvs_sync_daemon veth0 group 192.0.2.1",
        "5 lvs_sync_daemon veth0 group x",
        "5 lvs_sync_daemon veth0 port",
        "5 lvs_sync_daemon abcdefghijklmnopq",
        "5 lvs_sync_daemon veth0 VI_1 5 extra",
        "0 vrrp_priority -20",
        "5 vrrp_priority x",
        "0 checker_priority 19",
        "5 bfd_priority 20",
        "0 vrrp_no_swap",
        "5 vrrp_rt_priority 0",
        "5 vrrp_rt_priority x",
        "0 checker_rt_priority 50",
        "5 vrrp_rlimit_rttime 0",
        "0 vrrp_rlimit_rttime 1000",
        "0 vrrp_rlimit_rtime 1000",
        "0 vrrp_cpu_affinity 0 1",
        "5 vrrp_cpu_affinity x",
        "0 max_auto_priority -1",
        "5 max_auto_priority -2",
        "5 min_auto_priority_delay 0",
        "0 process_names",
        "0 process_name abcdefghijklmno",
        "0 lvs_process_name x",
        "5 snmp_socket a b",
        "0 snmp_socket udp:1.2.3.4:705",
        "0 enable_traps",
        "0 enable_snmp_keepalived",
        "0 enable_snmp_rfc",
        "0 enable_dbus",
        "0 dbus_service_name org.a",
        "0 vrrp_netlink_cmd_rcv_bufs 0",
        "5 vrrp_netlink_cmd_rcv_bufs x",
        "5 vrrp_netlink_cmd_rcv_bufs_force x",
        "0 lvs_netlink_monitor_rcv_bufs 100",
        "0 process_monitor_rcv_bufs_force off",
        "0 vrrp_rx_bufs_policy ADVERT",
        "0 vrrp_rx_bufs_policy mtu",
        "5 vrrp_rx_bufs_policy x",
        "5 vrrp_rx_bufs_multiplier 0",
        "5 vrrp_rx_bufs_multiplier 2 3",
        "0 rs_init_notifies",
        "5 no_checker_emails x",
        "0 umask 077",
        "5 umask 0777 1",
        "5 umask IRUSR IWUSR",
        "5 umask IRUSR|IWUSR|",
        "5 umask 1000",
        "0 random_seed 5",
        "5 random_seed -5",
        "0 reload_check_config",
        "0 reload_time_file /tmp/x",
        "5 reload_time_file",
        "0 reload_repeat",
        "0 reload_file",
        "0 include_check",
        "0 include_check +read -brace_match",
        "0 tmp_config_directory /tmp",
        "5 data_use_instance x",
        "0 data_use_instance no",
    ];

    #[test]
    fn verdicts_match_keepalived() {
        let mut wrong = Vec::new();
        for l in KA_GLOBAL {
            let (want, line) = l.split_at(1);
            let line = line.trim();
            let (_, d) = global(&[line]);
            let code = d.config_test_exit_code();
            if code.to_string() != want {
                wrong.push(format!(
                    "{line}: ours {code}, keepalived {want}: {:?}",
                    msgs(&d)
                ));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn umask_forms() {
        for (line, want) in [
            ("umask 0x1ff", 0o777),
            ("umask 022", 0o22),
            ("umask 18", 18),
            ("umask IRUSR | IWOTH", 0o402),
        ] {
            let (g, d) = global(&[line]);
            assert_eq!(d.config_test_exit_code(), 0, "{line}");
            assert_eq!(g.umask, want, "{line}");
        }
    }

    #[test]
    fn derived_defaults() {
        let (g, _) = global(&[
            "smtp_server localhost",
            "vrrp_garp_master_delay 2",
            "vrrp_garp_master_repeat 7",
        ]);
        let from = g.notification_email_from.unwrap();
        assert_eq!(from, "root@testhost");
        assert_eq!(g.vrrp_garp_lower_prio_delay, Some(Duration::from_secs(2)));
        assert_eq!(g.vrrp_garp_lower_prio_repeat, Some(7));
        assert_eq!(
            g.smtp_server,
            Some(SmtpServer::Host {
                name: "localhost".into(),
                port: 25
            })
        );
        let (g, _) = global(&["vrrp_min_garp"]);
        assert_eq!(g.vrrp_garp_master_repeat, 1);
        assert_eq!(g.vrrp_garp_master_delay, Duration::ZERO);
    }

    #[test]
    fn host_defaults_and_lookups_come_from_the_host_given() {
        let host = crate::config::env::FixedHost {
            hostname: "lb1".into(),
            user_name: Some("ka".into()),
            users: vec!["ka".into(), "keepalived_script".into()],
            groups: vec!["ops".into()],
            resolvable: vec!["mx.example".into()],
            ..Default::default()
        };
        let lines = [
            "smtp_server mx.example",
            "script_user ka ops",
            "enable_script_security",
            "startup_script /bin/true",
        ];
        let mut d = Diagnostics::new();
        let nodes = [b("global_defs", lines.iter().map(|l| n(l)).collect())];
        let g = crate::config::model::build(&nodes, &host, &mut d).global;
        assert_eq!(d.config_test_exit_code(), 0, "{:?}", msgs(&d));
        assert_eq!(g.router_id.as_deref(), Some("lb1"));
        assert_eq!(g.notification_email_from.as_deref(), Some("ka@lb1"));
        assert_eq!(g.smtp_helo_name.as_deref(), Some("lb1"));
        // The fixed default host knows none of these.
        let (_, d) = global(&lines);
        assert_eq!(
            msgs(&d),
            [
                "Invalid smtp server mx.example 25",
                "Error setting global script uid/gid",
                "Unable to set default user keepalived_script for script",
                "Invalid startup script"
            ]
        );
    }

    #[test]
    fn deprecated_and_rejected_spellings() {
        let (g, d) = global(&["lvs_id OLD", "lvs_sync_daemon_interface eth0"]);
        assert_eq!(g.router_id.as_deref(), Some("OLD"));
        assert_eq!(g.lvs_sync_daemon.map(|s| s.interface), Some("eth0".into()));
        assert_eq!(d.config_test_exit_code(), 0);
        assert_eq!(d.items.len(), 2);
        let (_, d) = global(&["vrrp_vmac_garp_intvl 10"]);
        assert_eq!(d.worst_class(), Some(KaClass::Deprecated));
        let (_, d) = global(&["vrrp_ipsets a"]);
        assert_eq!(d.worst_class(), Some(KaClass::UnknownKeyword));
        let (_, d) = global(&["vrrp_iptables"]);
        assert_eq!(d.config_test_exit_code(), 5);
    }

    #[test]
    fn root_verdicts_match_keepalived() {
        for (line, want) in [
            ("net_namespace", 5),
            ("net_namespace_ipvs", 0),
            ("instance", 5),
            ("child_wait_time", 2),
            ("child_wait_time x", 5),
            ("child_wait_time -1", 5),
            ("use_pid_dir x", 0),
            ("linkbeat_use_polling", 0),
            ("namespace_with_ipsets", 0),
        ] {
            let (_, d) = build(&[n(line)]);
            assert_eq!(d.config_test_exit_code(), want, "{line}");
        }
    }

    #[test]
    fn root_keywords() {
        let (cfg, d) = build(&[
            n("net_namespace blue"),
            n("net_namespace_ipvs"),
            n("namespace_with_ipsets"),
            n("instance i1"),
            n("child_wait_time 9"),
            n("linkbeat_use_polling"),
        ]);
        assert_eq!(d.config_test_exit_code(), 0);
        let r = cfg.root;
        assert_eq!(r.net_namespace.as_deref(), Some("blue"));
        assert_eq!(r.net_namespace_ipvs.as_deref(), Some(""));
        assert!(r.namespace_with_ipsets && r.use_pid_dir && r.linkbeat_use_polling);
        assert_eq!(r.instance.as_deref(), Some("i1"));
        assert_eq!(r.child_wait_time, 9);
        let (_, d) = build(&[n("instance a"), n("instance b")]);
        assert_eq!(msgs(&d), ["Duplicate instance definition b - ignoring"]);
        // root-only keywords are unknown inside global_defs
        for kw in [
            "net_namespace x",
            "instance x",
            "use_pid_dir",
            "child_wait_time 1",
            "linkbeat_use_polling",
        ] {
            let (_, d) = global(&[kw]);
            assert_eq!(d.worst_class(), Some(KaClass::UnknownKeyword), "{kw}");
        }
    }
}
