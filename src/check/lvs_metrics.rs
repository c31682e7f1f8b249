//! The LVS series of the checker child's metrics endpoint (`checker_metrics_address`, our
//! extension): the kernel's IPVS counters of every virtual service and real server, under the
//! names, labels and values of gen2brain/keepalived_exporter (`keepalived_lvs_vip_*`,
//! `keepalived_lvs_rs_*`), so its dashboards keep working.
//!
//! That exporter types them as counters without the `_total` suffix the exposition format's
//! lint asks of counters; they are typed `untyped` here, which keeps the names and lets
//! `promtool check metrics` pass (queries such as `rate()` do not depend on the type).

use std::fmt::Write as _;

use crate::ipvs::{DestEntry, ServiceEntry, ServiceKey, Stats};
use crate::metrics_http::{head, label};

/// Reads one counter of the kernel's stats.
type Counter = fn(&Stats) -> u64;

const FIELDS: [(&str, &str, Counter); 5] = [
    ("in_packets", "in packets", |s| s.inpkts),
    ("out_packets", "out packets", |s| s.outpkts),
    ("in_bytes", "in bytes", |s| s.inbytes),
    ("out_bytes", "out bytes", |s| s.outbytes),
    ("conn", "connections", |s| s.conns),
];

/// The exporter's `vip` label and `proto` label of a service: `ADDR:PORT` (IPv6 without
/// brackets, as Go prints it) and the protocol number. A fwmark service has no address,
/// port or protocol in the kernel's reply; the exporter prints `<nil>:0` for every one of
/// them, which would make their series collide: `fwmark:N` names each instead.
fn vip_labels(key: &ServiceKey) -> (String, u16) {
    match key {
        ServiceKey::Addr {
            protocol,
            addr,
            port,
        } => (format!("{addr}:{port}"), protocol.to_raw()),
        ServiceKey::Fwmark(m) => (format!("fwmark:{m}"), 0),
    }
}

/// The text for the kernel's services and their destinations.
pub fn render(services: &[(ServiceEntry, Vec<DestEntry>)]) -> String {
    let mut out = String::new();
    for (field, help, get) in FIELDS {
        let name = format!("keepalived_lvs_vip_{field}");
        head(&mut out, &name, "untyped", &format!("VIP {help}"));
        for (s, _) in services {
            let (vip, proto) = vip_labels(&s.service.key);
            let _ = writeln!(
                out,
                "{name}{{addr=\"{}\",proto=\"{proto}\"}} {}",
                label(&vip),
                get(&s.stats)
            );
        }
    }
    for (field, help, get) in FIELDS {
        let name = format!("keepalived_lvs_rs_{field}");
        head(&mut out, &name, "untyped", &format!("RS {help}"));
        for (s, dests) in services {
            let (vip, proto) = vip_labels(&s.service.key);
            for d in dests {
                let _ = writeln!(
                    out,
                    "{name}{{vip=\"{}\",addr=\"{}:{}\",proto=\"{proto}\"}} {}",
                    label(&vip),
                    d.dest.addr,
                    d.dest.port,
                    get(&d.stats)
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::{Dest, Family, Fwd, Protocol, Service};

    fn stats(base: u64) -> Stats {
        Stats {
            conns: base,
            inpkts: base + 1,
            outpkts: base + 2,
            inbytes: base + 3,
            outbytes: base + 4,
            ..Default::default()
        }
    }

    fn service(key: ServiceKey, af: Family) -> Service {
        Service {
            af,
            key,
            sched_name: "wlc".into(),
            flags: 0,
            timeout: 0,
            netmask: 0,
            pe_name: None,
        }
    }

    fn dest(addr: &str, port: u16, s: Stats) -> DestEntry {
        DestEntry {
            dest: Dest {
                addr: addr.parse().unwrap(),
                port,
                fwd: Fwd::Masq,
                weight: 1,
                u_thresh: 0,
                l_thresh: 0,
            },
            active_conns: 0,
            inact_conns: 0,
            persist_conns: 0,
            stats: s,
        }
    }

    #[test]
    fn renders_the_exporters_lvs_series_from_kernel_counters() {
        let v4 = ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: "192.0.2.100".parse().unwrap(),
            port: 80,
        };
        let v6 = ServiceKey::Addr {
            protocol: Protocol::Udp,
            addr: "2001:db8::1".parse().unwrap(),
            port: 53,
        };
        let t = render(&[
            (
                ServiceEntry {
                    service: service(v4, Family::Inet),
                    stats: stats(10),
                },
                vec![dest("198.51.100.2", 8080, stats(20))],
            ),
            (
                ServiceEntry {
                    service: service(v6, Family::Inet6),
                    stats: stats(30),
                },
                vec![dest("2001:db8::2", 53, stats(40))],
            ),
            (
                ServiceEntry {
                    service: service(ServiceKey::Fwmark(7), Family::Inet),
                    stats: stats(50),
                },
                Vec::new(),
            ),
        ]);
        for want in [
            "keepalived_lvs_vip_conn{addr=\"192.0.2.100:80\",proto=\"6\"} 10",
            "keepalived_lvs_vip_in_packets{addr=\"192.0.2.100:80\",proto=\"6\"} 11",
            "keepalived_lvs_vip_out_packets{addr=\"192.0.2.100:80\",proto=\"6\"} 12",
            "keepalived_lvs_vip_in_bytes{addr=\"192.0.2.100:80\",proto=\"6\"} 13",
            "keepalived_lvs_vip_out_bytes{addr=\"192.0.2.100:80\",proto=\"6\"} 14",
            "keepalived_lvs_rs_conn{vip=\"192.0.2.100:80\",addr=\"198.51.100.2:8080\",proto=\"6\"} 20",
            "keepalived_lvs_rs_out_bytes{vip=\"192.0.2.100:80\",addr=\"198.51.100.2:8080\",proto=\"6\"} 24",
            "keepalived_lvs_vip_in_packets{addr=\"2001:db8::1:53\",proto=\"17\"} 31",
            "keepalived_lvs_rs_in_bytes{vip=\"2001:db8::1:53\",addr=\"2001:db8::2:53\",proto=\"17\"} 43",
            "keepalived_lvs_vip_conn{addr=\"fwmark:7\",proto=\"0\"} 50",
        ] {
            assert!(t.contains(&format!("{want}\n")), "{want}\n{t}");
        }
        assert!(t.contains("# TYPE keepalived_lvs_rs_conn untyped\n"), "{t}");
    }
}
