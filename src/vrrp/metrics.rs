//! The opt-in Prometheus/OpenMetrics endpoint (`metrics_address IP:PORT` in global_defs; not
//! in keepalived): instance state, effective priority, transitions, adverts and drops by
//! reason, served as text by the VRRP child that owns the data.

use std::fmt::Write as _;

use super::instance::Stats;
use super::machine::State;

/// Reads one counter from an instance's stats.
type Counter = fn(&Stats) -> u64;

/// One instance's numbers.
pub struct Row<'a> {
    pub name: &'a str,
    pub state: State,
    pub priority: u8,
    pub stats: &'a Stats,
}

pub(crate) fn state_code(s: State) -> u8 {
    // keepalived's numbering in keepalived.json; STOP after them
    match s {
        State::Init => 0,
        State::Backup => 1,
        State::Master => 2,
        State::Fault => 3,
        State::Stop => 4,
    }
}

/// The exposition text for the given instances.
pub fn render<'a>(rows: impl IntoIterator<Item = Row<'a>>) -> String {
    let rows: Vec<Row> = rows.into_iter().collect();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, f: &dyn Fn(&Row, &mut String)| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for r in &rows {
            f(r, &mut out);
        }
    };
    family(
        "keepalived_vrrp_state",
        "gauge",
        "Instance state: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 4 STOP.",
        &|r, o| {
            let _ = writeln!(
                o,
                "keepalived_vrrp_state{{instance=\"{}\"}} {}",
                r.name,
                state_code(r.state)
            );
        },
    );
    family(
        "keepalived_vrrp_effective_priority",
        "gauge",
        "Effective priority after tracking.",
        &|r, o| {
            let _ = writeln!(
                o,
                "keepalived_vrrp_effective_priority{{instance=\"{}\"}} {}",
                r.name, r.priority
            );
        },
    );
    let counters: [(&str, &str, Counter); 7] = [
        (
            "keepalived_vrrp_adverts_received_total",
            "Adverts received.",
            |s| s.advert_rcvd,
        ),
        ("keepalived_vrrp_adverts_sent_total", "Adverts sent.", |s| {
            s.advert_sent
        }),
        (
            "keepalived_vrrp_became_master_total",
            "Transitions to MASTER.",
            |s| s.become_master,
        ),
        (
            "keepalived_vrrp_released_master_total",
            "Transitions out of MASTER.",
            |s| s.release_master,
        ),
        (
            "keepalived_vrrp_priority_zero_received_total",
            "Priority 0 adverts received.",
            |s| s.pri_zero_rcvd,
        ),
        (
            "keepalived_vrrp_priority_zero_sent_total",
            "Priority 0 adverts sent.",
            |s| s.pri_zero_sent,
        ),
        (
            "keepalived_vrrp_lower_priority_unanswered_total",
            "Lower-priority adverts received as MASTER and left unanswered (one answer per advert interval).",
            |s| s.lower_prio_unanswered,
        ),
    ];
    for (name, help, get) in counters {
        family(name, "counter", help, &|r, o| {
            let _ = writeln!(o, "{name}{{instance=\"{}\"}} {}", r.name, get(r.stats));
        });
    }
    let reasons: [(&str, Counter); 8] = [
        ("packet_length", |s| s.packet_len_err),
        ("advert_interval", |s| s.advert_interval_err),
        ("ip_ttl", |s| s.ip_ttl_err),
        ("invalid_type", |s| s.invalid_type_rcvd),
        ("address_list", |s| s.addr_list_err),
        ("invalid_auth_type", |s| s.invalid_authtype),
        ("auth_type_mismatch", |s| s.authtype_mismatch),
        ("auth_failure", |s| s.auth_failure),
    ];
    family(
        "keepalived_vrrp_packet_errors_total",
        "counter",
        "Received adverts with errors, by keepalived's stats counter.",
        &|r, o| {
            for (reason, get) in reasons {
                let _ = writeln!(
                    o,
                    "keepalived_vrrp_packet_errors_total{{instance=\"{}\",reason=\"{reason}\"}} {}",
                    r.name,
                    get(r.stats)
                );
            }
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_state_priority_and_counters() {
        let stats = Stats {
            advert_rcvd: 7,
            auth_failure: 2,
            ..Default::default()
        };
        let t = render([Row {
            name: "VI_1",
            state: State::Master,
            priority: 150,
            stats: &stats,
        }]);
        assert!(
            t.contains("keepalived_vrrp_state{instance=\"VI_1\"} 2\n"),
            "{t}"
        );
        assert!(t.contains("keepalived_vrrp_effective_priority{instance=\"VI_1\"} 150\n"));
        assert!(t.contains("keepalived_vrrp_adverts_received_total{instance=\"VI_1\"} 7\n"));
        assert!(t.contains(
            "keepalived_vrrp_packet_errors_total{instance=\"VI_1\",reason=\"auth_failure\"} 2\n"
        ));
        assert!(t.contains("# TYPE keepalived_vrrp_adverts_sent_total counter\n"));
    }
}
