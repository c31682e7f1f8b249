//! End to end, in network namespaces: global_defs `startup_script` / `shutdown_script`
//! and their timeouts, run by the parent (ours and the real keepalived 2.2.7 side by side,
//! the same expectations for both).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::node_daemon;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use node_daemon::*;

fn script(path: &Path, body: &str) {
    fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod script");
}

fn conf(globals: &str) -> String {
    format!(
        "global_defs {{\n  router_id test\n  enable_script_security\n  script_user root\n{globals}}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority 100\n  advert_int 1\n  virtual_ipaddress {{\n    192.0.2.200/24\n  }}\n}}\n"
    )
}

/// Index of the first log line containing `needle`.
fn at(log: &str, needle: &str) -> Option<usize> {
    log.lines().position(|l| l.contains(needle))
}

/// The startup script runs (with its arguments) before the VRRP child is started and its
/// failure is logged; the shutdown script runs once the children have gone.
fn start_and_stop(real: bool) {
    let test = if real {
        "start_stop_scripts_real"
    } else {
        "start_stop_scripts_ours"
    };
    if real && !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let trace = dir.path().join("trace");
    let vrrp_pid = dir.path().join("vrrp.pid.seen");
    let start = dir.path().join("start.sh");
    let stop = dir.path().join("stop.sh");
    // The startup script records whether any VRRP child exists yet (none should).
    script(
        &start,
        &format!(
            "echo \"start $*\" >> {t}\npgrep -f -P $PPID keepalived > {v} || true\nexit 3",
            t = trace.display(),
            v = vrrp_pid.display()
        ),
    );
    script(&stop, &format!("echo \"stop $*\" >> {}", trace.display()));
    let globals = format!(
        "  startup_script \"{} one two\"\n  shutdown_script {}\n",
        start.display(),
        stop.display()
    );
    let mut d = Daemon::start(&lan, 0, real, &conf(&globals));
    assert!(
        wait_until(30, || d.log().contains("Startup complete")),
        "no startup\n{}",
        d.log()
    );
    let log = d.log();
    let ran = at(&log, "Running startup script ").expect("-D line for the startup script");
    let failed = at(&log, "startup script script failed, status 3").expect("failure line");
    let child = at(&log, "Starting VRRP child process").expect("VRRP child");
    assert!(ran < failed && failed < child, "order:\n{log}");
    assert!(
        log.contains(&format!("Running startup script {}", start.display())),
        "{log}"
    );
    assert_eq!(
        fs::read_to_string(&vrrp_pid).unwrap_or_default().trim(),
        "",
        "a child existed while the startup script ran"
    );
    assert_eq!(
        fs::read_to_string(&trace).unwrap_or_default(),
        "start one two\n"
    );
    d.stop();
    let log = d.log();
    let stopping = at(&log, "Stopping").expect("Stopping");
    let ran = at(&log, "Running shutdown script ").expect("-D line for the shutdown script");
    let ok = at(&log, "shutdown script script succeeded").expect("-D success line");
    let stopped = at(&log, "Stopped Keepalived").expect("Stopped");
    assert!(stopping < ran && ran < ok && ok < stopped, "order:\n{log}");
    assert_eq!(
        fs::read_to_string(&trace).unwrap_or_default(),
        "start one two\nstop \n"
    );
}

#[test]
fn start_stop_scripts_ours() {
    start_and_stop(false);
}

#[test]
fn start_stop_scripts_real() {
    start_and_stop(true);
}

/// At `*_script_timeout` the script's process group is killed (SIGTERM, then SIGKILL for
/// one that ignores SIGTERM) and keepalived goes on: the children start, the daemon stops.
fn timeouts(real: bool) {
    let test = if real {
        "start_stop_timeouts_real"
    } else {
        "start_stop_timeouts_ours"
    };
    if real && !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let pids = dir.path().join("pids");
    let start = dir.path().join("start.sh");
    let stop = dir.path().join("stop.sh");
    // Each records its own pid and that of a background sleep it waits for.
    script(
        &start,
        &format!("sleep 300 &\necho $$ $! >> {}\nwait", pids.display()),
    );
    script(
        &stop,
        &format!(
            "trap '' TERM\nsleep 300 &\necho $$ $! >> {}\nwait",
            pids.display()
        ),
    );
    let globals = format!(
        "  startup_script {}\n  startup_script_timeout 1\n  shutdown_script {}\n  \
         shutdown_script_timeout 1\n",
        start.display(),
        stop.display()
    );
    let mut d = Daemon::start(&lan, 0, real, &conf(&globals));
    assert!(
        wait_until(30, || d.log().contains("Startup complete")),
        "no startup\n{}",
        d.log()
    );
    let log = d.log();
    let timed_out = at(&log, "startup script timed out").expect("timeout line");
    let child = at(&log, "Starting VRRP child process").expect("VRRP child");
    assert!(timed_out < child, "order:\n{log}");
    let dead = |line: &str| {
        line.split_whitespace()
            .all(|p| !Path::new(&format!("/proc/{p}")).exists())
    };
    let first = fs::read_to_string(&pids).unwrap_or_default();
    assert!(
        wait_until(10, || dead(first.lines().next().unwrap_or("x"))),
        "startup script or its sleep still alive: {first}"
    );
    d.stop();
    let log = d.log();
    assert!(log.contains("shutdown script timed out"), "{log}");
    assert!(log.contains("Stopped Keepalived"), "{log}");
    assert!(!log.contains("script failed"), "{log}");
    let all = fs::read_to_string(&pids).unwrap_or_default();
    assert_eq!(all.lines().count(), 2, "{all}");
    assert!(
        wait_until(10, || all.lines().all(dead)),
        "a script or its sleep survived: {all}"
    );
}

#[test]
fn start_stop_timeouts_ours() {
    timeouts(false);
}

#[test]
fn start_stop_timeouts_real() {
    timeouts(true);
}
