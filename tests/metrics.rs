//! The metrics endpoint (`metrics_address`, our extension) as Prometheus sees it: our daemon
//! in a namespace of a test LAN, its scrape checked by `promtool check metrics`, its numbers
//! compared with the SIGUSR2 stats dump, and a real `prometheus` server scraping a pair of
//! our daemons and answering a query for the master's state.
//!
//! `promtool` and `prometheus` come from the Debian package `prometheus` (.ci/run); without
//! them, or without root, the tests fail under CI=true and are skipped otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;

use std::fs;
use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::netns::Lan;
use support::node_daemon::*;
use support::{programs_or_skip, run_limited};

const VIP: &str = "192.0.2.100";
const PORT: u16 = 9650;

/// Our daemon's config: the endpoint on every address of the node, a script tracked.
fn metrics_conf(prio: u8, script: &str) -> String {
    conf(
        prio,
        "  track_script {\n    chk\n  }\n",
        &[&format!("{VIP}/32")],
    )
    .replacen(
        "router_id test\n",
        &format!("router_id test\n  metrics_address 0.0.0.0:{PORT}\n"),
        1,
    )
    .replacen(
        "vrrp_instance",
        &format!("vrrp_script chk {{\n  script \"{script}\"\n  interval 1\n}}\nvrrp_instance"),
        1,
    )
}

/// One HTTP/1.0 GET inside node `i`'s namespace; the whole answer (head and body).
fn http_get(lan: &Lan, i: usize, host: &str, port: u16, path: &str) -> String {
    let script = format!(
        "exec 3<>/dev/tcp/{host}/{port} || exit 1; \
         printf 'GET {path} HTTP/1.0\\r\\nHost: {host}\\r\\n\\r\\n' >&3; timeout 5 cat <&3"
    );
    let out = lan.exec(i, &["timeout", "10", "bash", "-c", &script]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// `Sent:` under `Advertisements:` in a keepalived.stats block.
fn stats_sent(stats: &str) -> u64 {
    let mut lines = stats.lines().skip_while(|l| l.trim() != "Advertisements:");
    lines
        .find_map(|l| l.trim().strip_prefix("Sent: ")?.parse().ok())
        .unwrap_or_else(|| panic!("no 'Sent:' in stats:\n{stats}"))
}

fn stats_dump(d: &Daemon) -> String {
    let _ = fs::remove_file(d.path("keepalived.stats"));
    d.signal(libc::SIGUSR2);
    let mut text = String::new();
    assert!(
        wait_until(10, || {
            text = fs::read_to_string(d.path("keepalived.stats")).unwrap_or_default();
            text.contains("Priority Zero:")
                && text.trim_end().ends_with(|c: char| c.is_ascii_digit())
        }),
        "no keepalived.stats\n{}",
        d.log()
    );
    text
}

fn script_file(dir: &std::path::Path) -> String {
    let p = dir.join("chk.sh");
    fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
    fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    p.display().to_string()
}

/// A scrape of the master passes `promtool check metrics` (no lint problem) and its numbers
/// are the stats dump's.
#[test]
fn scrape_passes_promtool_and_matches_the_stats_dump() {
    if !programs_or_skip(
        "scrape_passes_promtool_and_matches_the_stats_dump",
        &["promtool"],
    ) {
        return;
    }
    let Some(lan) = lan_or_skip("scrape_passes_promtool_and_matches_the_stats_dump", 1) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let a = Daemon::start(&lan, 0, false, &metrics_conf(150, &script_file(tmp.path())));
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    let state =
        "keepalived_vrrp_state{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",ip_address=\"192.0.2.100/32\"}";
    let good = "keepalived_script_status{name=\"chk\"}";
    let mut text = String::new();
    let ok = wait_until(15, || {
        text = http_get(&lan, 0, "127.0.0.1", PORT, "/metrics");
        sample(body(&text), state) == Some(2.0) && sample(body(&text), good) == Some(1.0)
    });
    assert!(ok, "metrics: {text}\n{}", a.log());
    assert!(text.starts_with("HTTP/1.0 200 OK"), "{text}");

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(body(&text).as_bytes())
        .unwrap();
    let out = promtool.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "promtool check metrics: {said}\n{}",
        body(&text)
    );

    // the counters are the stats dump's: between a dump before and one after the scrape
    let l = "{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"}";
    let before = stats_dump(&a);
    let m = body(&http_get(&lan, 0, "127.0.0.1", PORT, "/metrics")).to_owned();
    let after = stats_dump(&a);
    let sent = sample(&m, &format!("keepalived_advertisements_sent_total{l}")).expect(&m) as u64;
    assert!(
        (stats_sent(&before)..=stats_sent(&after)).contains(&sent),
        "sent {sent}, stats before:\n{before}\nafter:\n{after}"
    );
    assert!(sent > 0, "{m}");
    for (series, line) in [
        ("keepalived_become_master_total", "Became master: 1"),
        ("keepalived_release_master_total", "Released master: 0"),
    ] {
        let v = line.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
        assert!(after.contains(line), "{after}");
        assert_eq!(sample(&m, &format!("{series}{l}")), Some(v), "{m}");
    }
    assert_eq!(
        sample(&m, &format!("keepalived_vrrp_effective_priority{l}")),
        Some(150.0),
        "{m}"
    );
    assert_eq!(sample(&m, "keepalived_up"), Some(1.0), "{m}");
}

/// Kills the spawned process (and waits) however the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Debian's `prometheus` scrapes both daemons of a pair (from the master's namespace) and
/// its query API reports MASTER (2) for one and BACKUP (1) for the other.
#[test]
fn prometheus_scrapes_a_pair() {
    if !programs_or_skip("prometheus_scrapes_a_pair", &["prometheus"]) {
        return;
    }
    let Some(lan) = lan_or_skip("prometheus_scrapes_a_pair", 2) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let script = script_file(tmp.path());
    let a = Daemon::start(&lan, 0, false, &metrics_conf(150, &script));
    let b = Daemon::start(&lan, 1, false, &metrics_conf(100, &script));
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
    let (ma, mb) = (lan.nodes[0].v4, lan.nodes[1].v4);
    let cfg = tmp.path().join("prometheus.yml");
    fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: keepalived\n    static_configs:\n      \
             - targets: ['{ma}:{PORT}', '{mb}:{PORT}']\n"
        ),
    )
    .unwrap();
    let check = run_limited(
        Command::new("promtool").args(["check", "config"]).arg(&cfg),
        Duration::from_secs(30),
    );
    assert_eq!(check.code, Some(0), "{}{}", check.stdout, check.stderr);
    let web = "127.0.0.1:9090";
    let log = fs::File::create(tmp.path().join("prometheus.log")).unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", &lan.nodes[0].ns, "prometheus"])
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            tmp.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("spawn prometheus");
    let _prom = Killed(child);
    let plog = || fs::read_to_string(tmp.path().join("prometheus.log")).unwrap_or_default();

    // one result per target; the instance label is the target (the exporter's labels keep
    // the VRRP instance in iname)
    let mut answer = String::new();
    let mut states: Vec<(String, String)> = Vec::new();
    let ok = wait_until(60, || {
        answer = http_get(
            &lan,
            0,
            "127.0.0.1",
            9090,
            "/api/v1/query?query=keepalived_vrrp_state",
        );
        let Ok(v) = serde_json::from_str::<serde_json::Value>(body(&answer)) else {
            return false;
        };
        states = v["data"]["result"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|s| {
                        (
                            s["metric"]["instance"].as_str().unwrap_or("").to_owned(),
                            s["value"][1].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        states.len() == 2
    });
    assert!(ok, "prometheus query: {answer}\nlog:\n{}", plog());
    states.sort();
    assert_eq!(
        states,
        vec![
            (format!("{ma}:{PORT}"), "2".to_owned()),
            (format!("{mb}:{PORT}"), "1".to_owned()),
        ],
        "{answer}"
    );
    let v: serde_json::Value = serde_json::from_str(body(&answer)).unwrap();
    for s in v["data"]["result"].as_array().unwrap() {
        assert_eq!(s["metric"]["iname"], "VI_1", "{answer}");
        assert_eq!(s["metric"]["vrid"], "51", "{answer}");
        assert_eq!(s["metric"]["ip_address"], "192.0.2.100/32", "{answer}");
    }
}
