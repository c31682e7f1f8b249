//! Tracking in the running VRRP child: vrrp_script,
//! track_file and track_process change the effective priority or fault the instance. Our
//! daemon runs in namespaces of a test LAN; every wait is bounded; daemons, helper
//! processes and namespaces are removed on failure (Drop guards). Root is needed: loud skip,
//! or failure under CI=true.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::node_daemon;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use node_daemon::*;

const VIP: &str = "192.0.2.110";

/// A tempdir for scripts and flag files, readable by everyone (scripts may run as another
/// user).
fn workdir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("track-e2e")
        .tempdir()
        .expect("tempdir");
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    d
}

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write script");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
    p
}

fn instance(prio: u8, track: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 61\n  \
         priority {prio}\n  advert_int 1\n{track}  virtual_ipaddress {{\n    {VIP}/32\n  }}\n}}\n"
    )
}

fn has_log(d: &Daemon, line: &str) -> bool {
    d.log().contains(line)
}

fn wait_log(d: &Daemon, line: &str, secs: u64, ds: &[&Daemon]) {
    assert!(
        wait_until(secs, || has_log(d, line)),
        "expected log line {line:?}\n{}",
        logs(ds)
    );
}

/// Pids whose command line mentions `marker`.
fn procs_with(marker: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cl = fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cl).contains(marker) {
            out.push(pid);
        }
    }
    out
}

/// Kills, on drop, every process whose command line mentions the marker (a script's
/// children outlive a daemon killed by a failing test).
struct KillMarked(String);

impl Drop for KillMarked {
    fn drop(&mut self) {
        for pid in procs_with(&self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Kills a helper process on drop.
struct Helper(Child);

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A negative-weight script failing on the master moves mastership to the peer; after
/// `rise` successes the master preempts back.
#[test]
fn script_weight_moves_mastership() {
    let Some(lan) = lan_or_skip("script_weight_moves_mastership", 2) else {
        return;
    };
    let w = workdir();
    let flag = w.path().join("fail");
    let chk = write_script(
        w.path(),
        "chk.sh",
        &format!("test ! -e '{}'", flag.display()),
    );
    let scripts = format!(
        "vrrp_script chk {{\n  script \"{}\"\n  interval 1\n  weight -60\n  rise 2\n  fall 1\n}}\n",
        chk.display()
    );
    let track = "  track_script {\n    chk\n  }\n";
    let a = Daemon::start(&lan, 0, false, &(scripts + &instance(150, track)));
    let b = Daemon::start(&lan, 1, false, &instance(100, ""));
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
    wait_log(&a, "VRRP_Script(chk) succeeded", 5, &[&a, &b]);

    fs::write(&flag, "").expect("flag");
    wait_log(&a, "Script `chk` now returning 1", 5, &[&a, &b]);
    wait_log(
        &a,
        "VRRP_Script(chk) failed (exited with status 1)",
        5,
        &[&a, &b],
    );
    wait_log(
        &a,
        "(VI_1) Changing effective priority from 150 to 90",
        5,
        &[&a, &b],
    );
    expect_master(&lan, 1, &[0, 1], VIP, 10, &[&a, &b]);

    fs::remove_file(&flag).expect("unflag");
    wait_log(&a, "Script `chk` now returning 0", 5, &[&a, &b]);
    wait_log(
        &a,
        "(VI_1) Changing effective priority from 90 to 150",
        6,
        &[&a, &b],
    );
    expect_master(&lan, 0, &[0, 1], VIP, 10, &[&a, &b]);
}

/// A weight-0 script failing puts the instance in FAULT (VIP removed); `rise` successes
/// bring it back to MASTER. A reload keeps the script's state.
#[test]
fn script_weight0_faults_and_recovers() {
    let Some(lan) = lan_or_skip("script_weight0_faults_and_recovers", 1) else {
        return;
    };
    let w = workdir();
    let flag = w.path().join("fail");
    let chk = write_script(
        w.path(),
        "chk.sh",
        &format!("test ! -e '{}'", flag.display()),
    );
    let conf = format!(
        "vrrp_script chk {{\n  script \"{}\"\n  interval 1\n  rise 3\n}}\n{}",
        chk.display(),
        instance(150, "  track_script {\n    chk\n  }\n")
    );
    let a = Daemon::start(&lan, 0, false, &conf);
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    // held down until the script has answered, then BACKUP (keepalived: INIT, then BACKUP)
    assert!(
        !has_log(&a, "Entering BACKUP STATE (init)") && has_log(&a, "(VI_1) Entering BACKUP STATE"),
        "{}",
        a.log()
    );

    // SIGHUP: the OK script stays OK (no FAULT, still MASTER)
    a.signal(libc::SIGHUP);
    wait_log(
        &a,
        "VRRP_Script(chk) considered successful on reload",
        5,
        &[&a],
    );

    fs::write(&flag, "").expect("flag");
    wait_log(&a, "(VI_1) Entering FAULT STATE", 5, &[&a]);
    // keepalived 2.2.7 logs the cause only at start-up, not when a running script fails
    assert!(
        !has_log(&a, "entering FAULT state due to script chk"),
        "{}",
        a.log()
    );
    assert!(
        wait_until(3, || !has_addr(&lan, 0, VIP)),
        "VIP still there in FAULT\n{}",
        a.log()
    );
    fs::remove_file(&flag).expect("unflag");
    // rise 3: three successes, then BACKUP, then MASTER (no peer)
    wait_log(&a, "VRRP_Script(chk) succeeded", 8, &[&a]);
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
}

/// A hanging script is killed at its timeout (its whole process group: nothing is left in
/// /proc), counts as a failure, and shutdown kills a run in progress.
#[test]
fn hanging_script_is_killed_at_timeout() {
    let Some(lan) = lan_or_skip("hanging_script_is_killed_at_timeout", 1) else {
        return;
    };
    let w = workdir();
    // a copy of sleep whose command line names our unique directory
    let sleeper = w.path().join("hangsleep");
    fs::copy("/bin/sleep", &sleeper).expect("copy sleep");
    let marker = w.path().to_string_lossy().to_string();
    let _cleanup = KillMarked(marker.clone());
    let hang = write_script(
        w.path(),
        "hang.sh",
        &format!("'{}' 1000", sleeper.display()),
    );
    let notes = w.path().join("notes");
    let rec = write_script(
        w.path(),
        "rec.sh",
        &format!("echo \"$@\" >> '{}'", notes.display()),
    );
    let conf = format!(
        "vrrp_script hang {{\n  script \"{}\"\n  interval 3\n  timeout 1\n}}\n{}",
        hang.display(),
        instance(
            150,
            &format!(
                "  track_script {{\n    hang\n  }}\n  notify \"{}\"\n",
                rec.display()
            )
        )
    );
    let mut a = Daemon::start(&lan, 0, false, &conf);
    wait_log(&a, "VRRP_Script(hang) timed_out", 10, &[&a]);
    // From INIT (the script had not reported) to FAULT: keepalived logs no state line,
    // but notifies.
    assert!(
        wait_until(5, || fs::read_to_string(&notes)
            .unwrap_or_default()
            .contains("INSTANCE VI_1 FAULT 150")),
        "no FAULT notify\n{}",
        a.log()
    );
    // between runs (killed at 1 s, next run at 3 s) nothing of the script survives
    assert!(
        wait_until(6, || procs_with(&marker).is_empty()),
        "script processes left: {:?}\n{}",
        procs_with(&marker),
        a.log()
    );
    // shutdown while a run is in progress kills it
    assert!(
        wait_until(6, || !procs_with(&marker).is_empty()),
        "the script did not run again\n{}",
        a.log()
    );
    a.stop();
    assert!(
        wait_until(5, || procs_with(&marker).is_empty()),
        "script processes left after shutdown: {:?}",
        procs_with(&marker)
    );
    assert!(!has_addr(&lan, 0, VIP));
}

/// track_file: the value × weight moves the effective priority (seen in the log and the
/// data dump); a weight-0 file with a non-zero value faults.
#[test]
fn track_file_weights_and_faults() {
    let Some(lan) = lan_or_skip("track_file_weights_and_faults", 1) else {
        return;
    };
    let w = workdir();
    let f = w.path().join("prio");
    let z = w.path().join("down");
    let conf = format!(
        "track_file prio {{\n  file \"{}\"\n  weight 5\n  init_file 0 overwrite\n}}\n\
         track_file down {{\n  file \"{}\"\n  weight 0\n  init_file\n}}\n{}",
        f.display(),
        z.display(),
        instance(100, "  track_file {\n    prio\n    down\n  }\n")
    );
    let a = Daemon::start(&lan, 0, false, &conf);
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    fs::write(&f, "4\n").expect("write");
    wait_log(
        &a,
        "(VI_1) Changing effective priority from 100 to 120",
        5,
        &[&a],
    );
    // the data dump shows the effective priority and the file's value
    let data = a.path("keepalived.data");
    let _ = fs::remove_file(&data);
    a.signal(libc::SIGUSR1);
    assert!(
        wait_until(5, || fs::read_to_string(&data).is_ok_and(|s| s
            .contains("Effective priority = 120")
            && s.contains("Track file = prio"))),
        "{}",
        fs::read_to_string(&data).unwrap_or_default()
    );
    // a rename into place is seen too
    let tmp = w.path().join("prio.new");
    fs::write(&tmp, "-2\n").expect("write");
    fs::rename(&tmp, &f).expect("rename");
    wait_log(
        &a,
        "(VI_1) Changing effective priority from 120 to 90",
        5,
        &[&a],
    );

    fs::write(&z, "1\n").expect("write");
    wait_log(&a, "(VI_1): tracked file down now FAULT state", 5, &[&a]);
    wait_log(&a, "(VI_1) Entering FAULT STATE", 5, &[&a]);
    assert!(wait_until(3, || !has_addr(&lan, 0, VIP)), "{}", a.log());
    fs::write(&z, "0\n").expect("write");
    wait_log(
        &a,
        "(VI_1): tracked file down leaving FAULT state",
        5,
        &[&a],
    );
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
}

/// track_process: a process starting / stopping adds / removes its weight after `delay`;
/// with weight 0, the instance is in FAULT while the process is absent.
#[test]
fn track_process_quorum_with_delay() {
    let Some(lan) = lan_or_skip("track_process_quorum_with_delay", 1) else {
        return;
    };
    let w = workdir();
    // distinct names per run (comm holds 15 bytes)
    let id = std::process::id() % 100_000;
    let (pname, zname) = (format!("ktrkp{id}"), format!("ktrkz{id}"));
    let (pbin, zbin) = (w.path().join(&pname), w.path().join(&zname));
    fs::copy("/bin/sleep", &pbin).expect("copy");
    fs::copy("/bin/sleep", &zbin).expect("copy");
    let vi2 = "vrrp_instance VI_2 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 62\n  \
               priority 100\n  advert_int 1\n  track_process {\n    z\n  }\n  \
               virtual_ipaddress {\n    192.0.2.111/32\n  }\n}\n";
    let conf = format!(
        "vrrp_track_process p {{\n  process {pname}\n  weight 30\n  delay 3\n}}\n\
         vrrp_track_process z {{\n  process {zname}\n  weight 0\n}}\n{}{vi2}",
        instance(100, "  track_process {\n    p\n  }\n"),
    );
    let a = Daemon::start(&lan, 0, false, &conf);
    // z absent: VI_2 starts in FAULT
    wait_log(
        &a,
        "(VI_2) entering FAULT state (tracked process z quorum not achieved)",
        5,
        &[&a],
    );
    wait_log(&a, "(VI_2) entering FAULT state\n", 5, &[&a]);
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);

    let start = std::time::Instant::now();
    let p = Helper(
        Command::new(&pbin)
            .arg("1000")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    wait_log(&a, "Quorum gained for tracked process p", 8, &[&a]);
    assert!(
        start.elapsed() >= Duration::from_millis(2900),
        "delay 3 not honoured: {:?}\n{}",
        start.elapsed(),
        a.log()
    );
    wait_log(
        &a,
        "(VI_1) Changing effective priority from 100 to 130",
        3,
        &[&a],
    );
    drop(p);
    wait_log(&a, "Quorum lost for tracked process p", 8, &[&a]);
    wait_log(
        &a,
        "(VI_1) Changing effective priority from 130 to 100",
        3,
        &[&a],
    );

    let _z = Helper(
        Command::new(&zbin)
            .arg("1000")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    wait_log(&a, "Quorum gained for tracked process z", 5, &[&a]);
    assert!(
        wait_until(10, || has_addr(&lan, 0, "192.0.2.111")),
        "VI_2 did not become MASTER\n{}",
        a.log()
    );
}

/// A weight-0 script of one sync group member faults the whole group; it comes
/// back when the script succeeds again.
#[test]
fn script_fault_takes_the_sync_group_down() {
    let Some(lan) = lan_or_skip("script_fault_takes_the_sync_group_down", 1) else {
        return;
    };
    let w = workdir();
    let flag = w.path().join("fail");
    let chk = write_script(
        w.path(),
        "chk.sh",
        &format!("test ! -e '{}'", flag.display()),
    );
    let inst = |name: &str, vrid: u8, vip: &str, track: &str| {
        format!(
            "vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  \
             priority 150\n  advert_int 1\n{track}  virtual_ipaddress {{\n    {vip}/32\n  }}\n}}\n"
        )
    };
    let conf = format!(
        "vrrp_script chk {{\n  script \"{}\"\n  interval 1\n}}\n\
         vrrp_sync_group G1 {{\n  group {{\n    VI_A\n    VI_B\n  }}\n}}\n{}{}",
        chk.display(),
        inst(
            "VI_A",
            63,
            "192.0.2.120",
            "  track_script {\n    chk\n  }\n"
        ),
        inst("VI_B", 64, "192.0.2.121", "")
    );
    let a = Daemon::start(&lan, 0, false, &conf);
    assert!(
        wait_until(10, || has_addr(&lan, 0, "192.0.2.120")
            && has_addr(&lan, 0, "192.0.2.121")),
        "group not MASTER\n{}",
        a.log()
    );
    let synced = |d: &Daemon| {
        d.log()
            .matches("VRRP_Group(G1) Syncing instances to FAULT state")
            .count()
    };
    let before = synced(&a);
    fs::write(&flag, "").expect("flag");
    assert!(
        wait_until(5, || synced(&a) > before),
        "group not synced to FAULT\n{}",
        a.log()
    );
    assert!(
        wait_until(3, || !has_addr(&lan, 0, "192.0.2.120")
            && !has_addr(&lan, 0, "192.0.2.121")),
        "VIPs left in FAULT\n{}",
        a.log()
    );
    fs::remove_file(&flag).expect("unflag");
    assert!(
        wait_until(10, || has_addr(&lan, 0, "192.0.2.120")
            && has_addr(&lan, 0, "192.0.2.121")),
        "group did not recover\n{}",
        a.log()
    );
}

/// Reload: a removed script stops running and its weight goes; a new one starts.
#[test]
fn reload_stops_removed_and_starts_new_trackers() {
    let Some(lan) = lan_or_skip("reload_stops_removed_and_starts_new_trackers", 1) else {
        return;
    };
    let w = workdir();
    let runs = w.path().join("runs");
    let bad = write_script(
        w.path(),
        "bad.sh",
        &format!("echo x >> '{}'; exit 1", runs.display()),
    );
    let good = write_script(w.path(), "good.sh", "exit 0");
    let script = |name: &str, path: &Path, weight: i32| {
        format!(
            "vrrp_script {name} {{\n  script \"{}\"\n  interval 1\n  weight {weight}\n}}\n",
            path.display()
        )
    };
    let conf1 = format!(
        "{}{}",
        script("bad", &bad, -60),
        instance(150, "  track_script {\n    bad\n  }\n")
    );
    let a = Daemon::start(&lan, 0, false, &conf1);
    wait_log(
        &a,
        "(VI_1) Changing effective priority from 150 to 90",
        5,
        &[&a],
    );
    // an unchanged reload keeps the failing script failed (and its status not re-logged)
    a.signal(libc::SIGHUP);
    wait_log(
        &a,
        "VRRP_Script(bad) considered unsuccessful on reload",
        5,
        &[&a],
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        a.log().matches("Script `bad` now returning 1").count(),
        1,
        "{}",
        a.log()
    );
    assert!(
        !has_log(&a, "Changing effective priority from 90 to 150"),
        "{}",
        a.log()
    );
    let conf2 = format!(
        "{}{}",
        script("good", &good, 10),
        instance(150, "  track_script {\n    good\n  }\n")
    );
    a.write_conf(&conf2);
    a.signal(libc::SIGHUP);
    wait_log(&a, "VRRP_Script(good) succeeded", 5, &[&a]);
    wait_log(
        &a,
        "(VI_1) Changing effective priority from 90 to 150",
        5,
        &[&a],
    );
    wait_log(
        &a,
        "(VI_1) Changing effective priority from 150 to 160",
        5,
        &[&a],
    );
    // the removed script no longer runs
    let count = || fs::read_to_string(&runs).map_or(0, |s| s.lines().count());
    std::thread::sleep(Duration::from_millis(500));
    let before = count();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(count(), before, "removed script still runs\n{}", a.log());
}

/// A script runs as its `user`, directly (no shell for a `#!` script), in its own process
/// group.
#[test]
fn script_runs_as_its_user() {
    let Some(lan) = lan_or_skip("script_runs_as_its_user", 1) else {
        return;
    };
    let w = workdir();
    fs::set_permissions(w.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = w.path().join("who");
    let who = write_script(
        w.path(),
        "who.sh",
        &format!(
            "echo \"$(id -u) $$ $(ps -o pgid= -p $$ | tr -d ' ')\" > '{}'",
            out.display()
        ),
    );
    let conf = format!(
        "vrrp_script who {{\n  script \"{}\"\n  interval 1\n  user nobody\n}}\n{}",
        who.display(),
        instance(150, "  track_script {\n    who\n  }\n")
    );
    let a = Daemon::start(&lan, 0, false, &conf);
    wait_log(&a, "VRRP_Script(who) succeeded", 5, &[&a]);
    assert!(
        wait_until(5, || fs::read_to_string(&out).is_ok_and(|s| !s.is_empty())),
        "{}",
        a.log()
    );
    let line = fs::read_to_string(&out).unwrap_or_default();
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f.first(), Some(&"65534"), "not run as nobody: {line}");
    // the script's shell is its own process group leader
    assert_eq!(f.get(1), f.get(2), "not in its own process group: {line}");
}
