//! Differential log test: the same scenarios run with keepalived 2.2.7 and ours (`-D -l`,
//! each in a fresh test LAN), the logs normalised (timestamps, pids, paths, descriptors,
//! link-local addresses, CPU times) and compared line by line, order included. A line only
//! ours prints is allowed when README's "Log lines of ours only" lists it (with why).
//! Root and keepalived 2.2.7 are needed: loud skip, or failure under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;

use std::time::Duration;

use regex::Regex;
use support::netns::Lan;
use support::node_daemon::*;

const VIP: &str = "192.0.2.100";
const VIP2: &str = "192.0.2.101";

/// The log with keepalived's per-run values replaced.
fn normalise(log: &str, dir: &str) -> Vec<String> {
    let stamp = Regex::new(r"^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: ").unwrap();
    let subst: Vec<(Regex, &str)> = [
        (r" \(built for Linux [^)]*\)", ""),
        (r"^Command line: '[^']*'", "Command line: 'BIN'"),
        (r"pid=\d+", "pid=N"),
        (r"fd\(\d+,\d+\)", "fd(N,N)"),
        (r"fe80::[0-9a-f:]+", "fe80::X"),
        (
            r"used [\d.]+ user time, [\d.]+ system time",
            "used N user time, N system time",
        ),
        (
            r"used \(self/children\) [\d./]+ user time, [\d./]+ system time",
            "used (self/children) N user time, N system time",
        ),
        (
            r"user: [\d.]+/[\d.]+ system: [\d.]+/[\d.]+",
            "user: N/N system: N/N",
        ),
    ]
    .into_iter()
    .map(|(r, s)| (Regex::new(r).unwrap(), s))
    .collect();
    let mut lines: Vec<String> = Vec::new();
    for raw in log.lines() {
        let l = stamp.replace(raw, "").replace(dir, "DIR");
        // keepalived wraps long option lines; the binary's path changes where.
        if l.starts_with("  ") {
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(l.trim_start());
                continue;
            }
        }
        lines.push(l);
    }
    lines
        .into_iter()
        .map(|l| {
            subst
                .iter()
                .fold(l, |l, (r, s)| r.replace_all(&l, *s).into_owned())
        })
        .collect()
}

/// The lines README lists as ours only (backquoted, one bullet each).
fn ours_only() -> Vec<String> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("### Log lines of ours only")
        .nth(1)
        .expect("README has a `### Log lines of ours only` section");
    let section = section.split("\n#").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|l| l.strip_prefix("* `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect()
}

/// `Starting VRRP child process`, `Startup complete` and `Reload complete` come from
/// keepalived's parent among its child's lines at a place process scheduling decides:
/// they are compared apart, the rest in order.
fn split_parent(lines: Vec<String>) -> (Vec<String>, Vec<String>) {
    lines.into_iter().partition(|l| {
        l != "Startup complete"
            && l != "Reload complete"
            && !l.starts_with("Starting VRRP child process")
    })
}

/// Runs `scenario` with both daemons (each gets a fresh LAN of `nodes`) and compares the
/// logs of every daemon it returns.
fn compare(test: &str, nodes: usize, scenario: impl Fn(&Lan, bool) -> Vec<Daemon>) {
    if !real_or_skip(test) {
        return;
    }
    let mut runs = Vec::new();
    for real in [true, false] {
        let Some(lan) = lan_or_skip(test, nodes) else {
            return;
        };
        let mut ds = scenario(&lan, real);
        // (a stopped daemon has no pid: `kill 0` would hit the test's own group)
        for d in ds.iter_mut().filter(|d| d.child.is_some()) {
            d.stop();
        }
        let logs: Vec<(String, String)> = ds
            .iter()
            .map(|d| (d.log(), d.dir.path().display().to_string()))
            .collect();
        runs.push(logs);
    }
    let allowed = ours_only();
    let (real, ours) = (&runs[0], &runs[1]);
    for (n, ((rlog, rdir), (olog, odir))) in real.iter().zip(ours).enumerate() {
        let (r, rp) = split_parent(normalise(rlog, rdir));
        let (o, op) = split_parent(normalise(olog, odir));
        let o: Vec<String> = o
            .into_iter()
            .filter(|l| !allowed.iter().any(|a| l.contains(a.as_str())))
            .collect();
        assert_eq!(rp, op, "{test} daemon {n}: parent notices differ");
        if r != o {
            let mut diff = String::new();
            for i in 0..r.len().max(o.len()) {
                let (a, b) = (r.get(i), o.get(i));
                let mark = if a == b { ' ' } else { '!' };
                diff.push_str(&format!(
                    "{mark} {:<70} | {}\n",
                    a.map_or("", String::as_str),
                    b.map_or("", String::as_str)
                ));
            }
            panic!("{test} daemon {n}: keepalived 2.2.7 | ours\n{diff}");
        }
    }
}

fn vip(a: &str) -> String {
    format!("{a}/32")
}

/// One node: BACKUP at start, MASTER after the master-down timer, then SIGTERM.
#[test]
fn backup_to_master_and_stop() {
    compare("backup_to_master_and_stop", 1, |lan, real| {
        let d = Daemon::start(lan, 0, real, &conf(100, "", &[&vip(VIP)]));
        expect_master(lan, 0, &[0], VIP, 10, &[&d]);
        // the GARP rounds are done
        std::thread::sleep(Duration::from_millis(1500));
        vec![d]
    });
}

/// The address owner (priority 255) goes MASTER at once.
#[test]
fn owner_start_and_stop() {
    compare("owner_start_and_stop", 1, |lan, real| {
        let d = Daemon::start(lan, 0, real, &conf(255, "", &[&vip(VIP)]));
        expect_master(lan, 0, &[0], VIP, 10, &[&d]);
        std::thread::sleep(Duration::from_millis(1500));
        vec![d]
    });
}

/// Two nodes of the same daemon: the master stops, the backup takes over.
#[test]
fn failover_when_the_master_stops() {
    compare("failover_when_the_master_stops", 2, |lan, real| {
        let mut a = Daemon::start(lan, 0, real, &conf(150, "", &[&vip(VIP)]));
        std::thread::sleep(Duration::from_millis(300));
        let b = Daemon::start(lan, 1, real, &conf(100, "", &[&vip(VIP)]));
        expect_master(lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
        std::thread::sleep(Duration::from_millis(1500));
        a.stop();
        expect_master(lan, 1, &[0, 1], VIP, 10, &[&a, &b]);
        std::thread::sleep(Duration::from_millis(1500));
        vec![a, b]
    });
}

/// A reload adds a second instance, a second reload removes the first.
#[test]
#[ignore = "not at parity yet: at a reload a kept master logs `(VI_1) setting VIPs.` in \
            2.2.7 where ours logs the new instance's `removing VIPs.` and re-sends the kept \
            master's GARPs; ours adds `(VI_1) instance removed from the configuration`"]
fn reload_adds_and_removes_an_instance() {
    compare("reload_adds_and_removes_an_instance", 1, |lan, real| {
        let one = conf(255, "", &[&vip(VIP)]);
        let d = Daemon::start(lan, 0, real, &one);
        expect_master(lan, 0, &[0], VIP, 10, &[&d]);
        std::thread::sleep(Duration::from_millis(1500));
        let two = conf(255, "", &[&vip(VIP2)])
            .replace("global_defs {\n  router_id test\n}\n", "")
            .replace("VI_1", "VI_2")
            .replace("virtual_router_id 51", "virtual_router_id 52");
        d.write_conf(&format!("{one}{two}"));
        d.reload();
        assert!(wait_until(10, || has_addr(lan, 0, VIP2)), "{}", d.log());
        std::thread::sleep(Duration::from_millis(1500));
        d.write_conf(&format!("global_defs {{\n  router_id test\n}}\n{two}"));
        d.reload();
        assert!(wait_until(10, || !has_addr(lan, 0, VIP)), "{}", d.log());
        std::thread::sleep(Duration::from_millis(1500));
        vec![d]
    });
}

/// A `vrrp_script` with a weight fails, then succeeds again: the priority moves.
#[test]
#[ignore = "not at parity yet: keepalived 2.2.7 logs `Script user 'keepalived_script' does \
            not exist` and `SECURITY VIOLATION - scripts are being executed but \
            script_security not enabled.` at start; ours only under -t"]
fn script_weight_change() {
    compare("script_weight_change", 1, |lan, real| {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("down");
        let c = conf(150, "  track_script {\n    chk\n  }\n", &[&vip(VIP)]).replace(
            "vrrp_instance",
            &format!(
                "vrrp_script chk {{\n  script \"/usr/bin/test ! -e {}\"\n  interval 1\n  \
                 weight -20\n}}\nvrrp_instance",
                flag.display()
            ),
        );
        let d = Daemon::start(lan, 0, real, &c);
        expect_master(lan, 0, &[0], VIP, 10, &[&d]);
        std::thread::sleep(Duration::from_millis(1500));
        std::fs::write(&flag, "").unwrap();
        assert!(wait_until(10, || d.log().contains("failed")), "{}", d.log());
        std::thread::sleep(Duration::from_millis(500));
        std::fs::remove_file(&flag).unwrap();
        assert!(
            wait_until(10, || d.log().contains("succeeded")),
            "{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(500));
        // the script's path names the temporary directory: the same in both logs
        let mut d = d;
        d.stop();
        let log = d
            .log()
            .replace(&dir.path().display().to_string(), "SCRIPTDIR");
        std::fs::write(d.path("log"), log).unwrap();
        vec![d]
    });
}
