//! The process model end to end: the real binary, temporary pid
//! files, dump directory and status file. Nothing here needs root: `-G` keeps syslog out
//! and the default service touches no network.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

#[allow(clippy::collapsible_match)]
mod support;

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

const CONF: &str = r#"
global_defs {
    router_id daemon_test
}
vrrp_instance VI_1 {
    state BACKUP
    interface lo
    virtual_router_id 51
    priority 100
    advert_int 1
    # No VIP: these tests run in the host's namespace, where we must not add addresses.
}
"#;

/// Generous: the machine is shared and loaded; tests normally take well under a second.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One keepalived under test, in its own temporary directory. Dropping it kills the whole
/// process group, so a failing test leaves nothing behind.
struct Ka {
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Process group to kill on drop.
    pgid: Option<i32>,
}

impl Ka {
    fn new(conf: &str) -> Ka {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("keepalived.conf"), conf).expect("write conf");
        Ka {
            dir,
            child: None,
            pgid: None,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut c = Command::new(support::ours());
        if !extra.contains(&"-S") {
            c.arg("-G");
        }
        // --all with the VRRP configuration: the checker child runs without virtual
        // servers, so without IPVS, which this host's kernel may lack (a configured
        // virtual server would make it fatal)
        let conf = fs::read_to_string(self.path("keepalived.conf")).unwrap_or_default();
        if conf.contains("vrrp_instance") {
            c.arg("--all");
        }
        // --all also starts the BFD child, which would listen on port 3784 of the host.
        if conf.contains("vrrp_instance") || extra.contains(&"--all") {
            c.arg("-B");
        }
        c.arg("-f")
            .arg(self.path("keepalived.conf"))
            .arg("-p")
            .arg(self.path("keepalived.pid"))
            .arg("-r")
            .arg(self.path("vrrp.pid"))
            .arg("-c")
            .arg(self.path("checkers.pid"))
            .arg("-b")
            .arg(self.path("bfd.pid"))
            .args(extra)
            .env("TMPDIR", self.dir.path())
            .env("KEEPALIVED_STATUS_FILE", self.path("status.json"))
            .env_remove("NOTIFY_SOCKET")
            .env_remove("JOURNAL_STREAM")
            .env_remove("INVOCATION_ID")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        c
    }

    /// `-n -l` in its own process group, stderr to `log`.
    fn foreground(&mut self, extra: &[&str], env: &[(&str, &Path)]) {
        let log = fs::File::create(self.path("log")).expect("log file");
        let mut c = self.command(extra);
        c.args(["-n", "-l"]).stderr(log).process_group(0);
        for (k, v) in env {
            c.env(k, v);
        }
        let child = c.spawn().expect("spawn keepalived");
        self.pgid = Some(child.id() as i32);
        self.child = Some(child);
    }

    fn log(&self) -> String {
        fs::read_to_string(self.path("log")).unwrap_or_default()
    }

    fn wait_log(&self, needle: &str) -> String {
        let log = wait_for(|| {
            let l = self.log();
            l.contains(needle).then_some(l)
        });
        log.unwrap_or_else(|| panic!("no `{needle}` in the log:\n{}", self.log()))
    }

    fn pid_file(&self, name: &str) -> Option<i32> {
        fs::read_to_string(self.path(name))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Waits for a pid file naming a live process (other than `not`).
    fn wait_pid(&self, name: &str, not: Option<i32>) -> i32 {
        wait_for(|| self.pid_file(name).filter(|p| Some(*p) != not && alive(*p)))
            .unwrap_or_else(|| panic!("no live pid in {name}; log:\n{}", self.log()))
    }

    fn parent_pid(&self) -> i32 {
        match &self.child {
            Some(c) => c.id() as i32,
            None => self.wait_pid("keepalived.pid", None),
        }
    }

    fn signal(&self, sig: i32) {
        let pid = self.parent_pid();
        assert!(send(pid, sig), "cannot signal {pid}");
    }

    /// Waits for the foreground parent to exit and returns its status.
    fn wait_exit(&mut self) -> i32 {
        let Some(child) = self.child.as_mut() else {
            panic!("not a foreground keepalived")
        };
        let start = Instant::now();
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                self.pgid = None;
                return st.code().unwrap_or(-1);
            }
            assert!(
                start.elapsed() < TIMEOUT,
                "keepalived did not exit:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Ka {
    fn drop(&mut self) {
        if let Some(g) = self.pgid {
            let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn send(pid: i32, sig: i32) -> bool {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success())
}

fn alive(pid: i32) -> bool {
    // A zombie still "exists" for kill(0); look at its state too.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    kill(Pid::from_raw(pid), None).is_ok() && !matches!(state, Some('Z') | None)
}

/// recv(2) that retries EINTR (a frozen and thawed test process gets it with a timeout).
fn recv(sock: &UnixDatagram, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match sock.recv(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

fn wait_for<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() > TIMEOUT {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let stat = fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.split(' ').nth(1))
            .and_then(|s| s.parse::<i32>().ok());
        if ppid == Some(pid) && alive(p) {
            out.push(p);
        }
    }
    out.sort_unstable();
    out
}

#[test]
fn daemonizes_with_three_processes_and_stops_on_sigterm() {
    let mut ka = Ka::new(CONF);
    // `keepalived -D -f /abs/path.conf` returns once the daemon runs.
    let st = ka
        .command(&["-D"])
        .stderr(Stdio::null())
        .status()
        .expect("run");
    assert_eq!(st.code(), Some(0));
    // The command returned once the daemon wrote its pid file.
    let parent = ka.pid_file("keepalived.pid").expect("parent pid file");
    // Double fork + setsid: the daemon is in a new session, whose leader has exited.
    let pgid = nix::unistd::getpgid(Some(Pid::from_raw(parent))).expect("pgid");
    ka.pgid = Some(pgid.as_raw());
    let sid = nix::unistd::getsid(Some(Pid::from_raw(parent))).expect("sid");
    assert_eq!(sid, pgid);
    assert_ne!(Some(sid), nix::unistd::getsid(None).ok());
    assert!(alive(parent));
    let vrrp = ka.wait_pid("vrrp.pid", None);
    let checker = ka.wait_pid("checkers.pid", None);
    let mut expected = vec![vrrp, checker];
    expected.sort_unstable();
    assert_eq!(children_of(parent), expected);
    // Daemonized: cwd /.
    assert_eq!(
        fs::read_link(format!("/proc/{parent}/cwd")).ok(),
        Some(PathBuf::from("/"))
    );
    let mode = fs::metadata(ka.path("keepalived.pid")).expect("meta");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o644
    );
    assert_eq!(
        fs::read_to_string(ka.path("keepalived.pid")).ok(),
        Some(format!("{parent}\n"))
    );

    assert!(send(parent, libc::SIGTERM));
    let gone = wait_for(|| (!alive(parent) && !alive(vrrp) && !alive(checker)).then_some(()));
    assert!(gone.is_some(), "processes survived SIGTERM");
    for f in ["keepalived.pid", "vrrp.pid", "checkers.pid"] {
        assert!(!ka.path(f).exists(), "{f} left behind");
    }
    ka.pgid = None;
}

#[test]
fn foreground_logs_keepalived_lines_and_exits_0() {
    let mut ka = Ka::new(CONF);
    ka.foreground(&[], &[]);
    let log = ka.wait_log("Startup complete");
    let conf = ka.path("keepalived.conf");
    for line in [
        "Starting Keepalived v2.2.7".to_owned(),
        "Running on Linux ".to_owned(),
        "Command line: '".to_owned(),
        format!("Configuration file {}", conf.display()),
        "Starting Healthcheck child process, pid=".to_owned(),
        "Starting VRRP child process, pid=".to_owned(),
    ] {
        assert!(log.contains(&line), "missing `{line}` in:\n{log}");
    }
    // `<ctime>: <message>`, e.g. `Sat Nov 21 22:45:21 2026: Stopping`.
    let first = log.lines().next().unwrap_or_default();
    let (stamp, msg) = first.split_once(": ").expect("timestamp");
    assert_eq!(stamp.len(), 24, "{first}");
    assert!(msg.starts_with("Starting Keepalived"), "{first}");
    let vrrp = ka.wait_pid("vrrp.pid", None);
    assert!(log.contains(&format!("Starting VRRP child process, pid={vrrp}")));

    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);
    let log = ka.log();
    assert!(log.contains(": Stopping\n"), "{log}");
    assert!(log.contains("Stopped Keepalived v2.2.7"), "{log}");
    for f in ["keepalived.pid", "vrrp.pid", "checkers.pid"] {
        assert!(!ka.path(f).exists(), "{f} left behind");
    }
    assert!(!alive(vrrp));
}

#[test]
fn killed_vrrp_child_is_respawned() {
    let mut ka = Ka::new(CONF);
    ka.foreground(&[], &[]);
    ka.wait_log("Startup complete");
    let old = ka.wait_pid("vrrp.pid", None);
    let checker = ka.wait_pid("checkers.pid", None);
    assert!(send(old, libc::SIGKILL));
    let new = ka.wait_pid("vrrp.pid", Some(old));
    assert_ne!(new, old);
    let log = ka.wait_log(&format!("Starting VRRP child process, pid={new}"));
    for line in [
        format!("pid {old} exited due to signal 9 (Killed) - has rlimit_rttime been exceeded?"),
        format!("VRRP child process({old}) died: Respawning"),
        "Restart of VRRP process delayed 0 seconds to limit respawn rate".to_owned(),
    ] {
        assert!(log.contains(&line), "missing `{line}` in:\n{log}");
    }
    // The other child was not touched.
    assert_eq!(ka.pid_file("checkers.pid"), Some(checker));
    assert!(alive(checker));
    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);
}

#[test]
fn dont_respawn_stops_everything() {
    let mut ka = Ka::new(CONF);
    ka.foreground(&["-R"], &[]);
    ka.wait_log("Startup complete");
    let vrrp = ka.wait_pid("vrrp.pid", None);
    let checker = ka.wait_pid("checkers.pid", None);
    assert!(send(vrrp, libc::SIGKILL));
    assert_eq!(ka.wait_exit(), 0);
    let log = ka.log();
    assert!(
        log.contains(&format!("VRRP child process({vrrp}) died: Exiting")),
        "{log}"
    );
    assert!(!alive(checker));
}

/// The config with a keyword missing its parameter, which stops keepalived
/// (exit 2), or `None` (after a loud skip) while the config pipeline does not report it yet.
fn broken_conf(test: &str) -> Option<String> {
    let broken = CONF.replace("priority 100", "priority");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.conf");
    fs::write(&path, &broken).expect("write");
    let out = Command::new(support::ours())
        .arg("-t")
        .arg("-f")
        .arg(&path)
        .output()
        .expect("keepalived -t");
    if out.status.code() != Some(2) {
        support::skip_or_fail(
            test,
            "`keepalived -t` does not report a missing parameter yet (config parser missing)",
        );
        return None;
    }
    Some(broken)
}

#[test]
fn refuses_to_start_with_a_missing_parameter() {
    let Some(broken) = broken_conf("refuses_to_start_with_a_missing_parameter") else {
        return;
    };
    let mut ka = Ka::new(&broken);
    ka.foreground(&[], &[]);
    assert_eq!(ka.wait_exit(), 2);
    assert!(!ka.path("keepalived.pid").exists());
    assert!(!ka.log().contains("Starting VRRP child"), "{}", ka.log());
}

#[test]
fn reload_with_a_broken_config_keeps_the_children() {
    let Some(broken) = broken_conf("reload_with_a_broken_config_keeps_the_children") else {
        return;
    };
    let mut ka = Ka::new(CONF);
    ka.foreground(&[], &[]);
    ka.wait_log("Startup complete");
    let vrrp = ka.wait_pid("vrrp.pid", None);
    let checker = ka.wait_pid("checkers.pid", None);
    fs::write(ka.path("keepalived.conf"), broken).expect("write");
    ka.signal(libc::SIGHUP);
    let log = ka.wait_log("New config failed validation");
    assert!(log.contains("Reloading ..."), "{log}");
    assert!(
        log.contains("priority"),
        "the error names the keyword:\n{log}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(!ka.log().contains("Reload complete"));
    assert!(alive(vrrp) && alive(checker));
    assert_eq!(ka.pid_file("vrrp.pid"), Some(vrrp));
    assert_eq!(ka.pid_file("checkers.pid"), Some(checker));

    // A good config is then reloaded by the same children.
    fs::write(ka.path("keepalived.conf"), CONF).expect("write");
    ka.signal(libc::SIGHUP);
    ka.wait_log("Reload complete");
    assert_eq!(ka.pid_file("vrrp.pid"), Some(vrrp));
    assert_eq!(ka.pid_file("checkers.pid"), Some(checker));
    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);
}

/// keepalived 2.2.7 applies a configuration whose VRRP part it cannot run (here a duplicate
/// VRID) and its VRRP child dies; we refuse the reload and keep running (a documented
/// improvement).
#[test]
fn reload_with_a_duplicate_vrid_keeps_running() {
    let mut ka = Ka::new(CONF);
    ka.foreground(&[], &[]);
    ka.wait_log("Startup complete");
    let vrrp = ka.wait_pid("vrrp.pid", None);
    let dup = format!(
        "{CONF}\nvrrp_instance VI_2 {{\n    state BACKUP\n    interface lo\n    \
         virtual_router_id 51\n    priority 90\n}}\n"
    );
    fs::write(ka.path("keepalived.conf"), dup).expect("write");
    ka.signal(libc::SIGHUP);
    let log = ka.wait_log("Reload refused");
    assert!(log.contains("both use VRID 51"), "{log}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(alive(vrrp), "{}", ka.log());
    assert_eq!(ka.pid_file("vrrp.pid"), Some(vrrp));
    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);
}

#[test]
fn good_reload_is_forwarded() {
    let mut ka = Ka::new(CONF);
    ka.foreground(&[], &[]);
    ka.wait_log("Startup complete");
    let vrrp = ka.wait_pid("vrrp.pid", None);
    fs::write(ka.path("keepalived.conf"), CONF.replace("VI_1", "VI_2")).expect("write");
    ka.signal(libc::SIGHUP);
    let log = ka.wait_log("Reload complete");
    assert!(log.contains("Reloading ..."), "{log}");
    assert_eq!(ka.pid_file("vrrp.pid"), Some(vrrp));
    // The child applied the new config: its status names the new instance.
    let st = wait_for(|| {
        let s = fs::read_to_string(ka.path("status.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&s).ok()?;
        (v["processes"]["vrrp"]["detail"]["instances"][0] == "VI_2"
            && v["processes"]["vrrp"]["reloads"] == 1)
            .then_some(v)
    });
    assert!(st.is_some(), "status not updated");
    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);
}

#[test]
fn dump_signals_write_files_in_tmpdir() {
    let mut ka = Ka::new(CONF);
    ka.foreground(&[], &[]);
    ka.wait_log("Startup complete");
    let vrrp = ka.wait_pid("vrrp.pid", None);
    let parent = ka.parent_pid();

    ka.signal(libc::SIGUSR2);
    ka.wait_log(&format!(
        "Printing VRRP stats for process({vrrp}) on signal"
    ));
    let stats = wait_for(|| fs::read_to_string(ka.path("keepalived.stats")).ok())
        .expect("keepalived.stats");
    assert!(
        stats.starts_with("VRRP Instance: VI_1\n  Advertisements:\n"),
        "{stats}"
    );

    ka.signal(libc::SIGRTMIN() + 2);
    ka.wait_log(&format!(
        "Printing VRRP as json for process({vrrp}) on signal"
    ));
    let json: serde_json::Value = wait_for(|| {
        serde_json::from_str(&fs::read_to_string(ka.path("keepalived.json")).ok()?).ok()
    })
    .expect("keepalived.json");
    assert_eq!(json[0]["data"]["iname"], "VI_1");
    assert_eq!(json[0]["stats"]["advert_rcvd"], 0);
    let mode = fs::metadata(ka.path("keepalived.json")).expect("meta");
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );

    ka.signal(libc::SIGUSR1);
    ka.wait_log(&format!(
        "Printing parent data for process({parent}) on signal"
    ));
    ka.wait_log(&format!("Printing VRRP data for process({vrrp}) on signal"));
    ka.wait_log("Printing checker data for process(");
    for f in [
        "keepalived_parent.data",
        "keepalived.data",
        "keepalived_check.data",
    ] {
        assert!(
            wait_for(|| ka.path(f).exists().then_some(())).is_some(),
            "no {f}"
        );
    }
    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);
}

#[test]
fn notify_socket_gets_ready_and_stopping() {
    let mut ka = Ka::new(CONF);
    let sock_path = ka.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind");
    sock.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    ka.foreground(&[], &[("NOTIFY_SOCKET", &sock_path)]);
    let mut buf = [0u8; 512];
    let n = recv(&sock, &mut buf).expect("READY");
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    let parent = ka.parent_pid();
    assert_eq!(msg, format!("READY=1\nMAINPID={parent}\n"));
    // READY comes only after the children loaded their configuration.
    assert!(ka.log().contains("Startup complete"));

    ka.signal(libc::SIGHUP);
    let n = recv(&sock, &mut buf).expect("RELOADING");
    assert_eq!(&buf[..n], b"RELOADING=1\n");
    let n = recv(&sock, &mut buf).expect("READY after reload");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("READY=1\n"));

    ka.signal(libc::SIGTERM);
    let n = recv(&sock, &mut buf).expect("STOPPING");
    assert_eq!(&buf[..n], b"STOPPING=1\n");
    assert_eq!(ka.wait_exit(), 0);
}

#[test]
fn second_instance_refuses_and_zombie_pid_file_is_removed() {
    let mut ka = Ka::new(CONF);
    // A pid file naming a dead process is removed.
    fs::write(ka.path("keepalived.pid"), "2147483646\n").expect("write");
    ka.foreground(&[], &[]);
    let log = ka.wait_log("Startup complete");
    let zombie = format!(
        "Remove a zombie pid file {}",
        ka.path("keepalived.pid").display()
    );
    assert!(log.contains(&zombie), "{log}");

    let out = ka
        .command(&["-n", "-l"])
        .stderr(Stdio::piped())
        .output()
        .expect("second run");
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("daemon is already running"), "{err}");
    assert!(!err.contains("Stopped"), "{err}");
    // The first one is untouched.
    assert_eq!(ka.pid_file("keepalived.pid"), Some(ka.parent_pid()));
    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);
}

#[test]
fn vrrp_only_and_empty_config() {
    let mut ka = Ka::new(CONF);
    ka.foreground(&["-P"], &[]);
    ka.wait_log("Startup complete");
    let vrrp = ka.wait_pid("vrrp.pid", None);
    assert_eq!(children_of(ka.parent_pid()), vec![vrrp]);
    assert!(!ka.path("checkers.pid").exists());
    let st = wait_for(|| {
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(ka.path("status.json")).ok()?).ok()?;
        (v["processes"]["vrrp"]["state"] == "running").then_some(v)
    })
    .expect("status.json");
    assert_eq!(st["processes"]["vrrp"]["pid"], vrrp);
    assert_eq!(st["processes"]["parent"]["pid"], ka.parent_pid());
    assert!(st["processes"].get("checker").is_none());
    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);

    let mut ka = Ka::new("global_defs {\n    router_id empty\n}\n");
    ka.foreground(&[], &[]);
    let log = ka.wait_log("Startup complete");
    assert!(
        log.contains("Warning - keepalived has no configuration to run"),
        "{log}"
    );
    assert!(children_of(ka.parent_pid()).is_empty());
    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);
}

#[test]
fn syslog_datagrams_carry_each_process_ident() {
    let mut ka = Ka::new(CONF);
    let sock_path = ka.path("devlog");
    let sock = UnixDatagram::bind(&sock_path).expect("bind");
    // Read as it comes: the daemon drops lines when the socket queue is full.
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 2048];
        let start = Instant::now();
        while start.elapsed() < TIMEOUT {
            if let Ok(n) = recv(&sock, &mut buf) {
                let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = line.contains("]: Stopped Keepalived");
                got.push(line);
                if done {
                    break;
                }
            }
        }
        got
    });
    ka.foreground(
        &["-S", "local3", "-D"],
        &[("KEEPALIVED_SYSLOG_SOCKET", &sock_path)],
    );
    ka.wait_log("Startup complete");
    let parent = ka.parent_pid();
    let vrrp = ka.wait_pid("vrrp.pid", None);
    let checker = ka.wait_pid("checkers.pid", None);
    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);
    let got = reader.join().expect("reader");
    let all = got.join("\n");
    // local3 = 19, info = 6: <158>; `Mmm dd hh:mm:ss ident[pid]: message`.
    for want in [
        format!(" Keepalived[{parent}]: Starting Keepalived v2.2.7"),
        format!(" Keepalived[{parent}]: Startup complete"),
        format!(" Keepalived_vrrp[{vrrp}]: Stopped - used "),
        format!(" Keepalived_healthcheckers[{checker}]: Stopped - used "),
        format!(" Keepalived[{parent}]: CPU usage (self/children) user: "),
        format!(" Keepalived[{parent}]: Stopped Keepalived v2.2.7"),
    ] {
        let found = got
            .iter()
            .any(|l| l.starts_with("<158>") && l.contains(&want));
        assert!(found, "missing `<158>...{want}` in:\n{all}");
    }
    // A child's own times only: `Stopped - used 0.002522 user time, 0.000000 system time`.
    assert!(
        got.iter()
            .filter(|l| l.contains("Stopped - used "))
            .all(|l| l.ends_with(" system time") && !l.contains('/')),
        "{all}"
    );
    // Every line (warnings about the config included) is in facility local3.
    let pri = |l: &str| -> Option<u32> { l.strip_prefix('<')?.split_once('>')?.0.parse().ok() };
    assert!(
        got.iter().all(|l| pri(l).is_some_and(|p| p / 8 == 19)),
        "{all}"
    );
}

#[test]
fn child_config_error_is_permanent_and_stops_keepalived() {
    let Some(broken) = broken_conf("child_config_error_is_permanent_and_stops_keepalived") else {
        return;
    };
    let mut ka = Ka::new(CONF);
    let sock_path = ka.path("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind");
    sock.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    ka.foreground(&[], &[("NOTIFY_SOCKET", &sock_path)]);
    let mut buf = [0u8; 512];
    let n = recv(&sock, &mut buf).expect("READY");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("READY=1\n"));
    let old = ka.wait_pid("vrrp.pid", None);
    // The respawned child re-reads the (now broken) configuration and exits 2.
    fs::write(ka.path("keepalived.conf"), broken).expect("write");
    assert!(send(old, libc::SIGKILL));
    assert_eq!(ka.wait_exit(), 2);
    let log = ka.log();
    assert!(
        log.contains("exited with permanent error CONFIG. Terminating"),
        "{log}"
    );
    let n = recv(&sock, &mut buf).expect("ERRNO");
    assert_eq!(&buf[..n], format!("ERRNO={}\n", libc::EINVAL).as_bytes());
    let n = recv(&sock, &mut buf).expect("STOPPING");
    assert_eq!(&buf[..n], b"STOPPING=1\n");
    for f in ["keepalived.pid", "vrrp.pid", "checkers.pid"] {
        assert!(!ka.path(f).exists(), "{f} left behind");
    }
}

#[test]
fn check_only_and_all() {
    let mut ka = Ka::new(CONF);
    ka.foreground(&["-C"], &[]);
    ka.wait_log("Startup complete");
    let checker = ka.wait_pid("checkers.pid", None);
    assert_eq!(children_of(ka.parent_pid()), vec![checker]);
    assert!(!ka.path("vrrp.pid").exists());
    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);

    // --all starts both children even without anything for them to do (and the BFD
    // child, which `command` turns off with -B here).
    let mut ka = Ka::new("global_defs {\n    router_id empty\n}\n");
    ka.foreground(&["--all"], &[]);
    let log = ka.wait_log("Startup complete");
    assert!(!log.contains("no configuration to run"), "{log}");
    let vrrp = ka.wait_pid("vrrp.pid", None);
    let checker = ka.wait_pid("checkers.pid", None);
    let mut want = vec![vrrp, checker];
    want.sort_unstable();
    assert_eq!(children_of(ka.parent_pid()), want);
    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);
}

fn comm(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// What `ps` shows, as keepalived 2.2.7 was observed: all three processes
/// are `keepalived` by default; `process_name` renames the parent (and the children,
/// which inherit it), `vrrp_process_name` / `checker_process_name` rename a child,
/// `process_names` gives `keepalived_vrrp` / `keepalived_lvs`. The command line stays.
#[test]
fn process_titles() {
    let cases: [(&str, [&str; 3]); 5] = [
        ("", ["keepalived", "keepalived", "keepalived"]),
        (
            "process_names",
            ["keepalived", "keepalived_vrrp", "keepalived_lvs"],
        ),
        ("process_name ka_main", ["ka_main", "ka_main", "ka_main"]),
        (
            "process_name ka_main\n    vrrp_process_name ka_v\n    checker_process_name ka_c",
            ["ka_main", "ka_v", "ka_c"],
        ),
        // the old spelling of checker_process_name
        (
            "lvs_process_name ka_l",
            ["keepalived", "keepalived", "ka_l"],
        ),
    ];
    for (kw, want) in cases {
        let conf = CONF.replace(
            "router_id daemon_test",
            &format!("router_id daemon_test\n    {kw}"),
        );
        let mut ka = Ka::new(&conf);
        ka.foreground(&[], &[]);
        ka.wait_log("Startup complete");
        let pids = [
            ka.parent_pid(),
            ka.wait_pid("vrrp.pid", None),
            ka.wait_pid("checkers.pid", None),
        ];
        let got = pids.map(comm);
        assert_eq!(got, want, "with `{kw}`");
        let cmdline = fs::read(format!("/proc/{}/cmdline", pids[1])).unwrap_or_default();
        assert!(
            String::from_utf8_lossy(&cmdline).contains("keepalived.conf"),
            "command line changed"
        );
        ka.signal(libc::SIGTERM);
        assert_eq!(ka.wait_exit(), 0);
    }
}

/// `lvs_notify_fifo_script`: the checker child starts it with its `lvs_notify_fifo` as
/// argument, for it to read the FIFO.
#[test]
fn lvs_notify_fifo_script_reads_the_checker_fifo() {
    let probe = Ka::new("");
    let (fifo, out, script) = (
        probe.path("lvs.fifo"),
        probe.path("reader.out"),
        probe.path("reader.sh"),
    );
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"started $1\" >> {out}\ncat \"$1\" >> {out}\n",
            out = out.display()
        ),
    )
    .expect("write script");
    fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let conf = CONF.replace(
        "router_id daemon_test",
        &format!(
            "router_id daemon_test\n    lvs_notify_fifo {}\n    lvs_notify_fifo_script {}",
            fifo.display(),
            script.display()
        ),
    );
    fs::write(probe.path("keepalived.conf"), conf).expect("write conf");
    let mut ka = probe;
    ka.foreground(&[], &[]);
    ka.wait_log("Startup complete");
    let want = format!("started {}\n", fifo.display());
    let seen = wait_for(|| fs::read_to_string(&out).ok().filter(|t| t.contains(&want)));
    assert!(
        seen.is_some(),
        "the FIFO script did not start:\n{}",
        ka.log()
    );
    ka.signal(libc::SIGTERM);
    assert_eq!(ka.wait_exit(), 0);
}
