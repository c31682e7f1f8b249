//! The process model where names and namespaces matter:
//! `instance NAME`, `net_namespace NAME` / `-s`, `data_use_instance`, and SIGTERM with VIPs.
//! Pid files of a named keepalived go to /run/keepalived, so each daemon here runs in a
//! private mount namespace with a tmpfs on /run/keepalived (read through /proc/PID/root);
//! VIPs only ever appear in node namespaces of a test LAN. Root is needed: loud skip, or
//! failure under CI=true. Every wait is bounded; Drop guards kill what was started.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::netns;
use support::node_daemon;

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use node_daemon::*;

const VIP: &str = "192.0.2.100";

/// A keepalived run as `sh -c 'mount tmpfs on /run/keepalived; keepalived -n ...'` in a
/// private mount namespace (optionally inside a node's network namespace). After the
/// daemon exits, the shell records its status in `rc` and what is left in `after`.
struct Isolated {
    dir: tempfile::TempDir,
    sh: Option<Child>,
}

impl Isolated {
    fn start(bin: &Path, in_netns: Option<&str>, conf: &str, extra: &[&str]) -> Isolated {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("keepalived.conf"), conf).expect("conf");
        let d = dir.path().display().to_string();
        let script = format!(
            "mkdir -p /run/keepalived && mount -t tmpfs kdtest /run/keepalived || exit 99\n\
             \"$@\" 2>{d}/log\n\
             echo $? >{d}/rc.tmp\n\
             find /run/keepalived -mindepth 1 | sort >{d}/after\n\
             mv {d}/rc.tmp {d}/rc\n"
        );
        let mut c = match in_netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, "unshare"]);
                c
            }
            None => Command::new("unshare"),
        };
        c.args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
            .arg(bin)
            .args(["-n", "-l", "-D", "-f"])
            .arg(dir.path().join("keepalived.conf"))
            .args(extra)
            .env("TMPDIR", dir.path())
            .env("KEEPALIVED_SYSLOG_SOCKET", dir.path().join("devlog"))
            .env_remove("KEEPALIVED_STATUS_FILE")
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let sh = c.spawn().expect("spawn unshare");
        Isolated { dir, sh: Some(sh) }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        fs::read_to_string(self.path("log")).unwrap_or_default()
    }

    fn sh_pid(&self) -> i32 {
        self.sh.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// A file of /run/keepalived as the daemon sees it.
    fn run_file(&self, rel: &str) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root/run/keepalived/{rel}", self.sh_pid()))
    }

    fn wait_pid_file(&self, rel: &str) -> i32 {
        let mut pid = None;
        let ok = wait_until(20, || {
            pid = fs::read_to_string(self.run_file(rel))
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok());
            pid.is_some()
        });
        assert!(
            ok,
            "no pid file /run/keepalived/{rel}; log:\n{}",
            self.log()
        );
        pid.unwrap_or_default()
    }

    /// Waits for the daemon's exit status and what it left in /run/keepalived.
    fn wait_exit(&mut self) -> (i32, String) {
        let ok = wait_until(20, || self.path("rc").exists());
        assert!(ok, "keepalived did not exit; log:\n{}", self.log());
        if let Some(mut c) = self.sh.take() {
            let _ = c.wait();
        }
        let rc = fs::read_to_string(self.path("rc")).unwrap_or_default();
        let after = fs::read_to_string(self.path("after")).unwrap_or_default();
        (rc.trim().parse().unwrap_or(-1), after)
    }
}

impl Drop for Isolated {
    fn drop(&mut self) {
        if let Some(mut c) = self.sh.take() {
            let _ = killpg(Pid::from_raw(c.id() as i32), Signal::SIGKILL);
            let _ = c.wait();
        }
    }
}

/// Collects syslog datagrams sent to `<dir>/devlog` until `Stopped Keepalived` (bounded).
fn syslog_reader(dir: &Path) -> std::thread::JoinHandle<Vec<String>> {
    let sock = UnixDatagram::bind(dir.join("devlog")).expect("bind devlog");
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .expect("timeout");
    std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(40) {
            if let Ok(n) = sock.recv(&mut buf) {
                let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = line.contains("]: Stopped Keepalived");
                got.push(line);
                if done {
                    break;
                }
            }
        }
        got
    })
}

fn sigterm(pid: i32) {
    assert!(
        kill(Pid::from_raw(pid), Signal::SIGTERM).is_ok(),
        "cannot signal {pid}"
    );
}

fn signal(pid: i32, sig: i32) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot send {sig} to {pid}");
}

fn root_or_skip(test: &str) -> bool {
    if !support::is_root() {
        support::skip_or_fail(test, "needs root for mount and network namespaces");
        return false;
    }
    true
}

fn named_conf(root: &str, vip: bool) -> String {
    let vips = if vip {
        format!("  virtual_ipaddress {{\n    {VIP}/32\n  }}\n")
    } else {
        String::new()
    };
    format!(
        "{root}\nglobal_defs {{\n  data_use_instance\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority 150\n  advert_int 1\n{vips}}}\n"
    )
}

/// `instance I1`: pid files `/run/keepalived/{keepalived,vrrp,checkers}_I1.pid`, idents
/// `Keepalived_I1`, `Keepalived_vrrp_I1`, `Keepalived_healthcheckers_I1`, and with
/// `data_use_instance` the data dumps `keepalived.I1.data` / `keepalived_parent.I1.data`
/// (stats keep their name), as keepalived 2.2.7 does. A keepalived named I2 runs beside
/// it; a second I1 says `daemon is already running`. SIGTERM removes the pid files.
#[test]
fn instance_names_pid_files_idents_and_dumps() {
    let test = "instance_names_pid_files_idents_and_dumps";
    if !root_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let ns = lan.nodes[0].ns.clone();
    let mut ka = Isolated::start(
        &support::ours(),
        Some(&ns),
        &named_conf("instance I1", false),
        &["--all"],
    );
    let reader = syslog_reader(ka.dir.path());
    let parent = ka.wait_pid_file("keepalived_I1.pid");
    let vrrp = ka.wait_pid_file("vrrp_I1.pid");
    let checker = ka.wait_pid_file("checkers_I1.pid");
    assert!(
        wait_until(20, || ka.log().contains("Startup complete")),
        "{}",
        ka.log()
    );
    assert!(
        ka.log().contains("Changing syslog ident to Keepalived_I1"),
        "{}",
        ka.log()
    );

    // A second keepalived in the same /run: another name runs beside, the same refuses.
    let second = |conf: &str, dir: &Path| {
        let f = dir.join("second.conf");
        fs::write(&f, conf).expect("conf");
        let mut c = Command::new("nsenter");
        c.arg("-t")
            .arg(ka.sh_pid().to_string())
            .args(["-m", "-n"])
            .arg(support::ours())
            .args(["-n", "-l", "-D", "-P", "-f"])
            .arg(&f)
            .env("TMPDIR", dir)
            .env("KEEPALIVED_STATUS_FILE", dir.join("status2.json"))
            .stdin(Stdio::null());
        c
    };
    let other = tempfile::tempdir().expect("tempdir");
    let same = support::run_limited(
        &mut second(&named_conf("instance I1", false), other.path()),
        Duration::from_secs(20),
    );
    assert_eq!(same.code, Some(0), "{}", same.stderr);
    assert!(
        same.stderr.contains("daemon is already running"),
        "{}",
        same.stderr
    );
    let mut beside = second(&named_conf("instance I2", false), other.path());
    beside.stderr(Stdio::null()).stdout(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut beside, 0);
    let mut i2 = beside.spawn().expect("spawn I2");
    let i2_pid = wait_until(20, || ka.run_file("keepalived_I2.pid").exists())
        .then(|| fs::read_to_string(ka.run_file("keepalived_I2.pid")).unwrap_or_default());
    let i2_ok = i2_pid.is_some() && wait_until(20, || ka.run_file("vrrp_I2.pid").exists());
    let _ = kill(Pid::from_raw(i2.id() as i32), Signal::SIGTERM);
    let stopped = wait_until(20, || matches!(i2.try_wait(), Ok(Some(_))));
    if !stopped {
        let _ = killpg(Pid::from_raw(i2.id() as i32), Signal::SIGKILL);
        let _ = i2.wait();
    }
    assert!(i2_ok, "instance I2 did not start beside I1");
    assert!(stopped, "instance I2 did not stop");
    assert!(!ka.run_file("keepalived_I2.pid").exists());
    assert!(
        ka.run_file("keepalived_I1.pid").exists(),
        "I2 removed I1's pid file"
    );

    // Dumps.
    signal(parent, libc::SIGUSR1);
    signal(parent, libc::SIGUSR2);
    for f in [
        "keepalived.I1.data",
        "keepalived_parent.I1.data",
        "keepalived_check.I1.data",
        "keepalived.stats",
    ] {
        assert!(
            wait_until(10, || ka.path(f).exists()),
            "no {f}; log:\n{}",
            ka.log()
        );
    }
    assert!(!ka.path("keepalived.data").exists());

    sigterm(parent);
    let (rc, after) = ka.wait_exit();
    assert_eq!(rc, 0, "{}", ka.log());
    // Only our status file stays (keepalived has none).
    assert_eq!(
        after.lines().filter(|l| !l.contains("/status")).count(),
        0,
        "left behind: {after}"
    );
    assert!(after.contains("/run/keepalived/status_I1.json"), "{after}");
    let got = reader.join().expect("reader");
    let all = got.join("\n");
    for want in [
        format!(" Keepalived[{parent}]: Starting Keepalived v2.2.7"),
        format!(" Keepalived[{parent}]: Changing syslog ident to Keepalived_I1"),
        format!(" Keepalived_I1[{parent}]: Startup complete"),
        format!(" Keepalived_vrrp_I1[{vrrp}]: "),
        format!(" Keepalived_healthcheckers_I1[{checker}]: "),
        format!(" Keepalived_I1[{parent}]: Stopped Keepalived v2.2.7"),
    ] {
        assert!(all.contains(&want), "missing `{want}` in:\n{all}");
    }
}

/// `net_namespace NS`: started in the host's network namespace, keepalived joins NS
/// before forking, so the VIP appears in NS; pid files in `/run/keepalived/NS/`, idents
/// `Keepalived_vrrp_NS`. SIGTERM: VIP gone, pid files and directory gone, exit 0.
#[test]
fn net_namespace_runs_everything_in_the_namespace() {
    let test = "net_namespace_runs_everything_in_the_namespace";
    if !root_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let ns = lan.nodes[0].ns.clone();
    let mut ka = Isolated::start(
        &support::ours(),
        None,
        &named_conf(&format!("net_namespace {ns}"), true),
        &["-P"],
    );
    let reader = syslog_reader(ka.dir.path());
    let parent = ka.wait_pid_file(&format!("{ns}/keepalived.pid"));
    let vrrp = ka.wait_pid_file(&format!("{ns}/vrrp.pid"));
    assert!(
        wait_until(15, || has_addr(&lan, 0, VIP)),
        "VIP not added in {ns}; log:\n{}",
        ka.log()
    );
    // Both processes are in the node's namespace.
    // /run/netns/NS is a bind mount of the namespace: its inode is the namespace's.
    let ino = std::os::unix::fs::MetadataExt::ino(
        &fs::metadata(format!("/run/netns/{ns}")).expect("netns"),
    );
    let node_ns = Some(PathBuf::from(format!("net:[{ino}]")));
    for p in [parent, vrrp] {
        let theirs = fs::read_link(format!("/proc/{p}/ns/net")).ok();
        assert!(theirs.is_some() && theirs == node_ns, "pid {p} not in {ns}");
    }
    sigterm(parent);
    let (rc, after) = ka.wait_exit();
    assert_eq!(rc, 0, "{}", ka.log());
    assert!(!has_addr(&lan, 0, VIP), "VIP left after SIGTERM");
    assert!(
        !after.contains(&format!("/run/keepalived/{ns}")),
        "left behind: {after}"
    );
    let all = reader.join().expect("reader").join("\n");
    for want in [
        format!("Changing syslog ident to Keepalived_{ns}"),
        format!(" Keepalived_vrrp_{ns}[{vrrp}]: (VI_1) Entering MASTER STATE"),
        format!(" Keepalived_{ns}[{parent}]: Stopped Keepalived v2.2.7"),
    ] {
        assert!(all.contains(&want), "missing `{want}` in:\n{all}");
    }
}

/// A missing namespace: keepalived 2.2.7 logs `Failed to open /run/netns/NAME` and
/// `Unable to set network namespace NAME - exiting`, and exits 0 (observed). `-s` names
/// the namespace the same way.
#[test]
fn missing_namespace_exits() {
    let test = "missing_namespace_exits";
    if !root_or_skip(test) {
        return;
    }
    let name = format!("kdmissing{}", std::process::id());
    for (root, extra) in [
        (format!("net_namespace {name}"), vec![]),
        (String::new(), vec!["-s", name.as_str()]),
    ] {
        let mut ka = Isolated::start(&support::ours(), None, &named_conf(&root, true), &extra);
        let (rc, after) = ka.wait_exit();
        let log = ka.log();
        assert_eq!(rc, 0, "{log}");
        for want in [
            format!("Changing syslog ident to Keepalived_{name}"),
            format!("Failed to open /run/netns/{name}"),
            format!("Unable to set network namespace {name} - exiting"),
            "Stopped Keepalived v2.2.7".to_owned(),
        ] {
            assert!(log.contains(&want), "missing `{want}` in:\n{log}");
        }
        assert!(!log.contains("Starting VRRP child"), "{log}");
        assert_eq!(after.trim(), "", "left behind: {after}");
    }
}

/// The real keepalived 2.2.7 with the same configuration puts its pid files and dumps
/// under the same names as ours.
#[test]
fn real_keepalived_uses_the_same_names() {
    let test = "real_keepalived_uses_the_same_names";
    if !root_or_skip(test) || !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let ns = lan.nodes[0].ns.clone();
    let conf = named_conf(&format!("net_namespace {ns}\ninstance I9"), false);
    let mut seen = Vec::new();
    for bin in [support::real_keepalived().expect("real"), support::ours()] {
        let mut ka = Isolated::start(&bin, None, &conf, &["-P"]);
        let parent = ka.wait_pid_file(&format!("{ns}/keepalived_I9.pid"));
        ka.wait_pid_file(&format!("{ns}/vrrp_I9.pid"));
        signal(parent, libc::SIGUSR1);
        let ok = wait_until(10, || {
            ka.path("keepalived.I9.data").exists()
                || ka
                    .path(format!("keepalived.{ns}_I9.data").as_str())
                    .exists()
        });
        assert!(ok, "{}: no data dump; log:\n{}", bin.display(), ka.log());
        // The parent's dump is written too; give it the same time.
        wait_until(5, || {
            ka.path(&format!("keepalived_parent.{ns}_I9.data")).exists()
        });
        let mut dumps: Vec<String> = fs::read_dir(ka.dir.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".data"))
            .collect();
        dumps.sort();
        let live: Vec<String> = {
            let mut v: Vec<String> = fs::read_dir(ka.run_file(&ns))
                .expect("pid dir")
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        sigterm(parent);
        let (rc, after) = ka.wait_exit();
        assert_eq!(rc, 0, "{}", ka.log());
        let after: Vec<&str> = after.lines().filter(|l| !l.contains("/status")).collect();
        seen.push((live, dumps, after.join(",")));
    }
    assert_eq!(seen[0], seen[1], "real (left) and ours (right) differ");
    assert_eq!(
        seen[0].0,
        vec!["keepalived_I9.pid".to_owned(), "vrrp_I9.pid".to_owned()]
    );
}

/// `use_pid_dir`: an unnamed keepalived puts its pid files in /run/keepalived instead of
/// /run, ours as keepalived 2.2.7 (each in a private mount namespace, the daemon in a
/// node's network namespace); SIGTERM removes them.
#[test]
fn use_pid_dir_as_keepalived() {
    let test = "use_pid_dir_as_keepalived";
    if !root_or_skip(test) || !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let ns = lan.nodes[0].ns.clone();
    let conf = named_conf("use_pid_dir", false);
    let mut seen = Vec::new();
    for bin in [support::real_keepalived().expect("real"), support::ours()] {
        let mut ka = Isolated::start(&bin, Some(&ns), &conf, &["-P"]);
        let parent = ka.wait_pid_file("keepalived.pid");
        ka.wait_pid_file("vrrp.pid");
        let mut live: Vec<String> = fs::read_dir(ka.run_file(""))
            .expect("pid dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            // our status file (KEEPALIVED_STATUS_FILE unset) is no keepalived file
            .filter(|n| !n.starts_with("status"))
            .collect();
        live.sort();
        sigterm(parent);
        let (rc, after) = ka.wait_exit();
        assert_eq!(rc, 0, "{}", ka.log());
        let after: Vec<&str> = after.lines().filter(|l| !l.contains("/status")).collect();
        seen.push((live, after.join(",")));
    }
    assert_eq!(seen[0], seen[1], "real (left) and ours (right) differ");
    assert_eq!(
        seen[0].0,
        vec!["keepalived.pid".to_owned(), "vrrp.pid".to_owned()]
    );
}

/// A reload cannot rename keepalived: it logs keepalived's lines, goes on with the reload
/// and keeps its pid files and idents.
#[test]
fn reload_cannot_change_names() {
    let test = "reload_cannot_change_names";
    if !root_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let ns = lan.nodes[0].ns.clone();
    let mut ka = Isolated::start(
        &support::ours(),
        Some(&ns),
        &named_conf("instance A1", false),
        &["-P"],
    );
    let parent = ka.wait_pid_file("keepalived_A1.pid");
    assert!(
        wait_until(20, || ka.log().contains("Startup complete")),
        "{}",
        ka.log()
    );
    fs::write(
        ka.path("keepalived.conf"),
        named_conf(&format!("instance B1\nnet_namespace {ns}"), false),
    )
    .expect("conf");
    signal(parent, libc::SIGHUP);
    assert!(
        wait_until(20, || ka.log().contains("Reload complete")),
        "{}",
        ka.log()
    );
    let log = ka.log();
    for want in [
        "Cannot change network namespace at a reload - please restart keepalived",
        "Cannot change instance name at a reload - please restart keepalived",
    ] {
        assert!(log.contains(want), "missing `{want}` in:\n{log}");
    }
    assert!(ka.run_file("keepalived_A1.pid").exists());
    assert!(ka.run_file("vrrp_A1.pid").exists());
    assert!(!ka.run_file(&ns).exists());
    sigterm(parent);
    let (rc, after) = ka.wait_exit();
    assert_eq!(rc, 0, "{}", ka.log());
    assert!(!after.contains(".pid"), "left behind: {after}");
}

/// Lines of `ip monitor` in node `i` while `f` runs (the monitor gets time to start and
/// to print what follows).
fn monitor_during(lan: &netns::Lan, i: usize, what: &[&str], f: impl FnOnce()) -> String {
    let mut args = vec!["ip", "monitor"];
    args.extend_from_slice(what);
    let mon = lan.spawn(i, &args);
    std::thread::sleep(Duration::from_millis(500));
    f();
    std::thread::sleep(Duration::from_millis(1500));
    let mut mon = mon;
    let _ = mon.kill();
    let out = mon.wait_with_output().expect("ip monitor");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// SIGHUP with an unchanged configuration: `ip monitor` in the node sees no address or
/// route deleted, and no instance changes state.
#[test]
fn reload_of_unchanged_config_changes_nothing() {
    let Some(lan) = lan_or_skip("reload_of_unchanged_config_changes_nothing", 1) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let a = Daemon::start(&lan, 0, false, &conf(150, "", &[&vip]));
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    let before = a.log().matches(" STATE").count();
    let events = monitor_during(&lan, 0, &["address", "route", "link"], || {
        a.signal(libc::SIGHUP);
        assert!(
            wait_until(10, || a.log().contains("Reload complete")),
            "{}",
            a.log()
        );
    });
    assert!(
        !events.lines().any(|l| l.starts_with("Deleted")),
        "deleted during reload:\n{events}\n{}",
        a.log()
    );
    assert!(has_addr(&lan, 0, VIP), "{}", a.log());
    assert_eq!(
        a.log().matches(" STATE").count(),
        before,
        "state changed on reload:\n{}",
        a.log()
    );
}

/// SIGTERM on a master: the VIP is deleted (seen by `ip monitor`), the pid files are
/// removed and keepalived exits 0.
#[test]
fn sigterm_removes_vips_and_pid_files_and_exits_0() {
    let Some(lan) = lan_or_skip("sigterm_removes_vips_and_pid_files_and_exits_0", 1) else {
        return;
    };
    let vip = format!("{VIP}/32");
    let mut a = Daemon::start(&lan, 0, false, &conf(150, "", &[&vip]));
    expect_master(&lan, 0, &[0], VIP, 10, &[&a]);
    assert!(a.path("keepalived.pid").exists() && a.path("vrrp.pid").exists());
    let mut code = None;
    let events = monitor_during(&lan, 0, &["address"], || {
        a.signal(libc::SIGTERM);
        if let Some(c) = a.child.as_mut() {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(15) {
                if let Ok(Some(st)) = c.try_wait() {
                    code = st.code();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    });
    assert_eq!(code, Some(0), "{}", a.log());
    a.child = None;
    assert!(
        events
            .lines()
            .any(|l| l.starts_with("Deleted") && l.contains(VIP)),
        "no VIP deletion seen:\n{events}"
    );
    assert!(!has_addr(&lan, 0, VIP));
    for f in ["keepalived.pid", "vrrp.pid"] {
        assert!(!a.path(f).exists(), "{f} left behind");
    }
}
