//! The opt-in Prometheus endpoint (`metrics_address IP:PORT` in global_defs; not in
//! keepalived), served as text by the VRRP child that owns the data.
//!
//! The series are those of the keepalived-exporter (mehdy/keepalived-exporter) that dashboards
//! already read: same names, label names and values, computed from the counters the SIGUSR2
//! stats dump prints and the fields the SIGUSR1 data dump prints (the exporter parses those
//! files). Beside them, our own `keepalived_vrrp_effective_priority`. Labels are `iname`,
//! `intf`, `vrid` as the exporter's, not `instance`, which Prometheus reserves for the target.

use std::fmt::Write as _;

use super::instance::Stats;
use super::machine::State;
use crate::metrics_http::{head, label};

/// Reads one counter from an instance's stats.
type Counter = fn(&Stats) -> u64;

/// Reads one flag of a script.
type ScriptFlag = fn(&ScriptRow) -> bool;

/// One instance's numbers.
pub struct Row<'a> {
    pub name: &'a str,
    /// The interface the data dump prints (`Interface = `, and each VIP's `dev`).
    pub intf: &'a str,
    pub vrid: u8,
    /// The state the data dump reports.
    pub state: State,
    pub priority: u8,
    /// `Gratuitous ARP delay` of the data dump, in seconds.
    pub garp_delay: u64,
    /// The virtual addresses as `ADDR/PREFIX`.
    pub vips: Vec<String>,
    /// The excluded virtual addresses as `ADDR/PREFIX`.
    pub evips: Vec<String>,
    pub stats: &'a Stats,
}

/// One `vrrp_script`, as the data dump's `Status` and `State` lines show it.
pub struct ScriptRow<'a> {
    pub name: &'a str,
    pub good: bool,
    pub running: bool,
}

pub(crate) fn state_code(s: State) -> u8 {
    // the exporter's numbering (INIT, BACKUP, MASTER, FAULT); STOP after them
    match s {
        State::Init => 0,
        State::Backup => 1,
        State::Master => 2,
        State::Fault => 3,
        State::Stop => 4,
    }
}

/// The exporter's per-instance counters: name, help and the stats field (SIGUSR2 dump).
const COUNTERS: [(&str, &str, Counter); 15] = [
    (
        "keepalived_advertisements_received_total",
        "Advertisements received",
        |s| s.advert_rcvd,
    ),
    (
        "keepalived_advertisements_sent_total",
        "Advertisements sent",
        |s| s.advert_sent,
    ),
    ("keepalived_become_master_total", "Became master", |s| {
        s.become_master
    }),
    ("keepalived_release_master_total", "Released master", |s| {
        s.release_master
    }),
    (
        "keepalived_packet_length_errors_total",
        "Packet length errors",
        |s| s.packet_len_err,
    ),
    (
        "keepalived_advertisements_interval_errors_total",
        "Advertisement interval errors",
        |s| s.advert_interval_err,
    ),
    ("keepalived_ip_ttl_errors_total", "TTL errors", |s| {
        s.ip_ttl_err
    }),
    (
        "keepalived_invalid_type_received_total",
        "Invalid type errors",
        |s| s.invalid_type_rcvd,
    ),
    (
        "keepalived_address_list_errors_total",
        "Address list errors",
        |s| s.addr_list_err,
    ),
    (
        "keepalived_authentication_invalid_total",
        "Authentication invalid",
        |s| s.invalid_authtype,
    ),
    (
        "keepalived_authentication_mismatch_total",
        "Authentication mismatch",
        |s| s.authtype_mismatch,
    ),
    (
        "keepalived_authentication_failure_total",
        "Authentication failure",
        |s| s.auth_failure,
    ),
    (
        "keepalived_priority_zero_received_total",
        "Priority zero received",
        |s| s.pri_zero_rcvd,
    ),
    (
        "keepalived_priority_zero_sent_total",
        "Priority zero sent",
        |s| s.pri_zero_sent,
    ),
    // Ours: no exporter has it (keepalived answers every one).
    (
        "keepalived_vrrp_lower_priority_unanswered_total",
        "Lower-priority adverts received as MASTER and left unanswered (one answer per advert interval)",
        |s| s.lower_prio_unanswered,
    ),
];

/// The exposition text for the given instances and scripts.
pub fn render<'a>(rows: impl IntoIterator<Item = Row<'a>>, scripts: &[ScriptRow]) -> String {
    let rows: Vec<Row> = rows.into_iter().collect();
    let mut out = String::new();
    // the endpoint answers only while the VRRP child runs
    head(&mut out, "keepalived_up", "gauge", "Status");
    out.push_str("keepalived_up 1\n");
    let common = |r: &Row| {
        format!(
            "iname=\"{}\",intf=\"{}\",vrid=\"{}\"",
            label(r.name),
            label(r.intf),
            r.vrid
        )
    };
    // one sample per address, as the exporter; an instance without addresses has one with
    // an empty ip_address
    head(&mut out, "keepalived_vrrp_state", "gauge", "State of vrrp");
    for r in &rows {
        let empty = [String::new()];
        let vips = if r.vips.is_empty() {
            &empty[..]
        } else {
            &r.vips[..]
        };
        for ip in vips {
            let _ = writeln!(
                out,
                "keepalived_vrrp_state{{{},ip_address=\"{}\"}} {}",
                common(r),
                label(ip),
                state_code(r.state)
            );
        }
    }
    if rows.iter().any(|r| !r.evips.is_empty()) {
        head(
            &mut out,
            "keepalived_vrrp_excluded_state",
            "gauge",
            "State of vrrp with excluded VIP",
        );
        for r in &rows {
            for ip in &r.evips {
                let _ = writeln!(
                    out,
                    "keepalived_vrrp_excluded_state{{{},ip_address=\"{}\"}} {}",
                    common(r),
                    label(ip),
                    state_code(r.state)
                );
            }
        }
    }
    // a configured delay, but a counter in the exporter: kept so
    head(
        &mut out,
        "keepalived_gratuitous_arp_delay_total",
        "counter",
        "Gratuitous ARP delay",
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "keepalived_gratuitous_arp_delay_total{{{}}} {}",
            common(r),
            r.garp_delay
        );
    }
    for (name, help, get) in COUNTERS {
        head(&mut out, name, "counter", help);
        for r in &rows {
            let _ = writeln!(out, "{name}{{{}}} {}", common(r), get(r.stats));
        }
    }
    head(
        &mut out,
        "keepalived_vrrp_effective_priority",
        "gauge",
        "Effective priority after tracking.",
    );
    for r in &rows {
        let _ = writeln!(
            out,
            "keepalived_vrrp_effective_priority{{{}}} {}",
            common(r),
            r.priority
        );
    }
    // the exporter's numbering: BAD 0, GOOD 1; idle 0, running 1
    let families: [(&str, &str, ScriptFlag); 2] = [
        ("keepalived_script_status", "Tracker Script Status", |s| {
            s.good
        }),
        ("keepalived_script_state", "Tracker Script State", |s| {
            s.running
        }),
    ];
    for (name, help, get) in families {
        if scripts.is_empty() {
            break;
        }
        head(&mut out, name, "gauge", help);
        for s in scripts {
            let _ = writeln!(
                out,
                "{name}{{name=\"{}\"}} {}",
                label(s.name),
                u8::from(get(s))
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(stats: &'a Stats, vips: &[&str]) -> Row<'a> {
        Row {
            name: "VI_1",
            intf: "eth0",
            vrid: 51,
            state: State::Master,
            priority: 150,
            garp_delay: 5,
            vips: vips.iter().map(|s| (*s).to_owned()).collect(),
            evips: Vec::new(),
            stats,
        }
    }

    #[test]
    fn renders_the_exporters_series_from_the_stats() {
        let stats = Stats {
            advert_rcvd: 7,
            advert_sent: 8,
            become_master: 1,
            release_master: 2,
            packet_len_err: 3,
            advert_interval_err: 4,
            ip_ttl_err: 5,
            invalid_type_rcvd: 6,
            addr_list_err: 9,
            invalid_authtype: 10,
            authtype_mismatch: 11,
            auth_failure: 12,
            pri_zero_rcvd: 13,
            pri_zero_sent: 14,
            lower_prio_unanswered: 15,
        };
        let mut r = row(&stats, &["10.0.0.1/32", "10.0.0.2/24"]);
        r.evips = vec!["10.9.0.1/32".to_owned()];
        let t = render(
            [r],
            &[ScriptRow {
                name: "chk",
                good: true,
                running: false,
            }],
        );
        let l = "iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"";
        for want in [
            "keepalived_up 1".to_owned(),
            format!("keepalived_vrrp_state{{{l},ip_address=\"10.0.0.1/32\"}} 2"),
            format!("keepalived_vrrp_state{{{l},ip_address=\"10.0.0.2/24\"}} 2"),
            format!("keepalived_vrrp_excluded_state{{{l},ip_address=\"10.9.0.1/32\"}} 2"),
            format!("keepalived_gratuitous_arp_delay_total{{{l}}} 5"),
            format!("keepalived_advertisements_received_total{{{l}}} 7"),
            format!("keepalived_advertisements_sent_total{{{l}}} 8"),
            format!("keepalived_become_master_total{{{l}}} 1"),
            format!("keepalived_release_master_total{{{l}}} 2"),
            format!("keepalived_packet_length_errors_total{{{l}}} 3"),
            format!("keepalived_advertisements_interval_errors_total{{{l}}} 4"),
            format!("keepalived_ip_ttl_errors_total{{{l}}} 5"),
            format!("keepalived_invalid_type_received_total{{{l}}} 6"),
            format!("keepalived_address_list_errors_total{{{l}}} 9"),
            format!("keepalived_authentication_invalid_total{{{l}}} 10"),
            format!("keepalived_authentication_mismatch_total{{{l}}} 11"),
            format!("keepalived_authentication_failure_total{{{l}}} 12"),
            format!("keepalived_priority_zero_received_total{{{l}}} 13"),
            format!("keepalived_priority_zero_sent_total{{{l}}} 14"),
            format!("keepalived_vrrp_lower_priority_unanswered_total{{{l}}} 15"),
            format!("keepalived_vrrp_effective_priority{{{l}}} 150"),
            "keepalived_script_status{name=\"chk\"} 1".to_owned(),
            "keepalived_script_state{name=\"chk\"} 0".to_owned(),
        ] {
            assert!(t.contains(&format!("{want}\n")), "{want}\n{t}");
        }
        assert!(t.contains("# TYPE keepalived_advertisements_sent_total counter\n"));
        assert!(t.contains("# TYPE keepalived_vrrp_state gauge\n"));
        // every family once, each sample after its TYPE line
        let types: Vec<&str> = t.lines().filter(|l| l.starts_with("# TYPE ")).collect();
        let mut uniq = types.clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(types.len(), uniq.len(), "{t}");
    }

    #[test]
    fn instance_without_addresses_has_one_state_sample() {
        let stats = Stats::default();
        let mut r = row(&stats, &[]);
        r.state = State::Backup;
        let t = render([r], &[]);
        assert!(t.contains(
            "keepalived_vrrp_state{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",ip_address=\"\"} 1\n"
        ));
        assert!(!t.contains("keepalived_vrrp_excluded_state"));
        assert!(!t.contains("keepalived_script_status"));
    }
}
