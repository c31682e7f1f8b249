//! Tracker keywords of the VRRP child, ours and keepalived 2.2.7 side by side:
//! `vrrp_script`'s `init_fail` (each daemon in a LAN of its own) and `vrrp_track_process`'s
//! `quorum_max` and `terminate_delay` (in the host's namespace, on a veth pair each),
//! compared by the notifies, state and quorum lines and the VIP they hold.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::interop;
use support::netns;
use support::node_daemon;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

use interop::{ours_and_real, who};
use node_daemon::*;

const VIP: &str = "192.0.2.120";
const VIP2: &str = "192.0.2.121";

fn instance(track: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 71\n  \
         priority 100\n  advert_int 1\n{track}  virtual_ipaddress {{\n    {VIP}/32\n  }}\n}}\n"
    )
}

fn workdir() -> tempfile::TempDir {
    let d = tempfile::Builder::new()
        .prefix("trackkw")
        .tempdir()
        .expect("tempdir");
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    d
}

/// The lines of `log` (after the timestamp) that contain one of `keys`.
fn lines_with(log: &str, keys: &[&str]) -> Vec<String> {
    log.lines()
        .map(|l| l.split_once(": ").map_or(l, |x| x.1))
        .filter(|l| keys.iter().any(|k| l.contains(k)))
        .map(str::to_owned)
        .collect()
}

/// `init_fail` as keepalived 2.2.7 applies it: a track_script naming the script sets its
/// initial state back (vrrp_track.c), so the instance tracking it waits for the first
/// result exactly as the one tracking the same script without it: no FAULT notify before
/// (the script sleeps first), BACKUP then MASTER after.
#[test]
fn init_fail_as_keepalived() {
    let test = "init_fail_as_keepalived";
    if !real_or_skip(test) {
        return;
    }
    let seen = std::sync::Mutex::new(Vec::new());
    ours_and_real(|real| {
        let Some(lan) = lan_or_skip(test, 1) else {
            return;
        };
        let w = workdir();
        let chk = w.path().join("chk.sh");
        fs::write(&chk, "#!/bin/sh\nsleep 4\nexit 0\n").expect("script");
        fs::set_permissions(&chk, fs::Permissions::from_mode(0o755)).expect("chmod");
        let notes = w.path().join("notes");
        let rec = w.path().join("rec.sh");
        fs::write(
            &rec,
            format!("#!/bin/sh\necho \"$@\" >> '{}'\n", notes.display()),
        )
        .expect("script");
        fs::set_permissions(&rec, fs::Permissions::from_mode(0o755)).expect("chmod");
        let script = |name: &str, extra: &str| {
            format!(
                "vrrp_script {name} {{\n  script \"{}\"\n  interval 30\n  timeout 20\n{extra}}}\n",
                chk.display()
            )
        };
        let notify = format!("  notify \"{}\"\n", rec.display());
        let vi2 = instance(&format!("  track_script {{\n    plain\n  }}\n{notify}"))
            .replace("VI_1", "VI_2")
            .replace("virtual_router_id 71", "virtual_router_id 72")
            .replace(VIP, VIP2);
        let conf = format!(
            "{}{}{}{vi2}",
            script("failed", "  init_fail\n"),
            script("plain", ""),
            instance(&format!("  track_script {{\n    failed\n  }}\n{notify}")),
        );
        let d = Daemon::start(&lan, 0, real, &conf);
        let read = || fs::read_to_string(&notes).unwrap_or_default();
        assert!(
            wait_until(10, || d.log().contains("Startup complete")),
            "{}",
            d.log()
        );
        // the scripts are still sleeping: their first result is seconds away
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let data = d.path("keepalived.data");
        let _ = fs::remove_file(&data);
        d.signal(libc::SIGUSR1);
        let states: Vec<String> = settled_file(&data, 10)
            .lines()
            .map(str::trim)
            .filter(|l| {
                ["VRRP Instance = ", "State = ", "Wantstate = ", "Status = "]
                    .iter()
                    .any(|k| l.starts_with(k))
            })
            // the Interfaces section (2.2.7 only) has State lines too
            .take_while(|l| !l.starts_with("State = UP") && !l.starts_with("State = DOWN"))
            .map(str::to_owned)
            .collect();
        let before = read();
        assert_eq!(before, "", "{}\n{}", who(real), d.log());
        assert!(
            wait_until(20, || has_addr(&lan, 0, VIP) && has_addr(&lan, 0, VIP2)),
            "{}: not both MASTER\n{}",
            who(real),
            d.log()
        );
        assert!(
            wait_until(5, || read().lines().count() == 4),
            "{}: {}",
            who(real),
            read()
        );
        let vi = |n: &str| -> Vec<String> {
            read()
                .lines()
                .filter(|l| l.contains(n))
                .map(|l| l.replace(n, "VI"))
                .collect()
        };
        assert_eq!(vi("VI_1"), vi("VI_2"), "{}", who(real));
        let mut after: Vec<String> = read().lines().map(str::to_owned).collect();
        after.sort();
        seen.lock()
            .expect("seen")
            .push((real, before, after, states));
    });
    let mut seen = seen.into_inner().expect("seen");
    seen.sort();
    if let [(false, a, b, s), (true, c, e, t)] = seen.as_slice() {
        assert_eq!((a, b), (c, e), "ours, then keepalived 2.2.7");
        assert_eq!(
            s, t,
            "data dump before the first result: ours, then keepalived 2.2.7"
        );
    }
}

struct Procs(Vec<Child>);

impl Procs {
    fn spawn(&mut self, bin: &std::path::Path) {
        let c = Command::new(bin)
            .arg("1000")
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn");
        self.0.push(c);
    }

    /// Kills the oldest.
    fn kill_one(&mut self) {
        if !self.0.is_empty() {
            let mut c = self.0.remove(0);
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        while !self.0.is_empty() {
            self.kill_one();
        }
    }
}

/// A daemon (ours or keepalived 2.2.7) in the host's network namespace: keepalived reads
/// process events from the kernel's proc connector, which only the initial network
/// namespace has. Its instance runs on a veth pair of its own, removed on drop.
struct HostKa {
    child: Option<Child>,
    dir: tempfile::TempDir,
    ifname: String,
    real: bool,
}

impl HostKa {
    fn start(real: bool, ifname: &str, conf: &str) -> HostKa {
        let _ = Command::new("ip").args(["link", "del", ifname]).status();
        let peer = format!("{ifname}p");
        netns::must(&[
            "ip", "link", "add", ifname, "type", "veth", "peer", "name", &peer,
        ]);
        netns::must(&["ip", "link", "set", ifname, "up"]);
        netns::must(&["ip", "link", "set", &peer, "up"]);
        netns::must(&["ip", "addr", "add", "198.18.0.1/32", "dev", ifname]);
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("keepalived.conf"), conf).expect("conf");
        let log = fs::File::create(dir.path().join("log")).expect("log");
        let bin = if real {
            support::real_keepalived().expect("real keepalived")
        } else {
            support::ours()
        };
        let p = |f: &str| dir.path().join(f);
        let mut c = Command::new(bin);
        c.args(["--dont-fork", "-l", "-P", "-D", "-f"])
            .arg(p("keepalived.conf"))
            .arg("-p")
            .arg(p("keepalived.pid"))
            .arg("-r")
            .arg(p("vrrp.pid"))
            .arg("-c")
            .arg(p("checkers.pid"))
            .arg("-b")
            .arg(p("bfd.pid"))
            .env("TMPDIR", dir.path())
            .env("KEEPALIVED_STATUS_FILE", p("status.json"))
            .env_remove("NOTIFY_SOCKET")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        HostKa {
            child: Some(c.spawn().expect("spawn keepalived")),
            dir,
            ifname: ifname.to_owned(),
            real,
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn has_vip(&self) -> bool {
        let out = Command::new("ip")
            .args(["-o", "addr", "show", "dev", &self.ifname])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        out.contains(&format!(" {VIP}/32"))
    }

    fn wait_log(&self, what: &str, n: usize) {
        assert!(
            wait_until(20, || self.log().matches(what).count() >= n),
            "{}: no {n} × {what:?}\n{}",
            who(self.real),
            self.log()
        );
    }

    fn wait_vip(&self, held: bool) {
        assert!(
            wait_until(20, || self.has_vip() == held),
            "{}: VIP held should be {held}\n{}",
            who(self.real),
            self.log()
        );
    }
}

impl Drop for HostKa {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = c.wait();
        }
        if let Ok(p) = fs::read_to_string(self.dir.path().join("vrrp.pid")) {
            if let Ok(p) = p.trim().parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.ifname])
            .status();
    }
}

/// `quorum_max`: a second process loses the quorum (FAULT with weight 0); `terminate_delay`:
/// when the count drops, the loss waits that long, so a process replaced at once loses
/// nothing, while a process gone for good loses the quorum once the delay is over.
#[test]
fn track_process_quorum_max_and_terminate_delay_as_keepalived() {
    let test = "track_process_quorum_max_and_terminate_delay_as_keepalived";
    if !real_or_skip(test) || !netns::can_run() {
        return;
    }
    let seen = std::sync::Mutex::new(Vec::new());
    ours_and_real(|real| {
        let w = workdir();
        // names of its own per daemon (comm holds 15 bytes): both run at once
        let id = format!(
            "{}{}",
            if real { "r" } else { "o" },
            std::process::id() % 100_000
        );
        let name = format!("kq{id}");
        let bin = w.path().join(&name);
        fs::copy("/bin/sleep", &bin).expect("copy sleep");
        let ifname = format!("kwtp{id}");
        let conf = format!(
            "vrrp_track_process p {{\n  process {name}\n  quorum 1\n  quorum_max 1\n  \
             weight 0\n  terminate_delay 4\n}}\n{}",
            instance("  track_process {\n    p\n  }\n").replace("eth0", &ifname)
        );
        let mut procs = Procs(Vec::new());
        let d = HostKa::start(real, &ifname, &conf);
        d.wait_log(
            "(VI_1) entering FAULT state (tracked process p quorum not achieved)",
            1,
        );
        procs.spawn(&bin);
        d.wait_log("Quorum gained for tracked process p", 1);
        d.wait_vip(true);
        // quorum_max 1: two processes are too many
        procs.spawn(&bin);
        d.wait_log("Quorum lost for tracked process p", 1);
        d.wait_vip(false);
        // back to one: the quorum comes back (after the terminate delay)
        procs.kill_one();
        d.wait_log("Quorum gained for tracked process p", 2);
        d.wait_vip(true);
        // replaced at once: within terminate_delay nothing is lost
        procs.kill_one();
        procs.spawn(&bin);
        std::thread::sleep(std::time::Duration::from_secs(6));
        assert_eq!(
            d.log().matches("Quorum lost for tracked process p").count(),
            1,
            "{}: a replaced process lost the quorum\n{}",
            who(real),
            d.log()
        );
        // ... and gone for good: lost once the delay is over
        procs.kill_one();
        d.wait_log("Quorum lost for tracked process p", 2);
        d.wait_vip(false);
        // the quorum and state changes (not the notify lines: ours logs each run with -D)
        let lines = lines_with(&d.log(), &["Entering", "entering", "tracked process p"]);
        seen.lock().expect("seen").push((real, lines));
    });
    let mut seen = seen.into_inner().expect("seen");
    seen.sort();
    if let [(false, ours), (true, real)] = seen.as_slice() {
        assert_eq!(ours, real, "ours, then keepalived 2.2.7");
    }
}
