//! One keepalived process (ours or the real 2.2.7) per node of a `netns::Lan`, and the
//! polling helpers the end-to-end tests share. Part of the `support` module tree (`mod support;` in a test crate).
#![allow(dead_code)]

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::netns::Lan;
use crate::support;

/// One keepalived process (ours or the real one) in a node of the LAN.
pub struct Daemon {
    pub child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub ns: String,
    pub real: bool,
    pub extra: Vec<String>,
    /// Extra environment (`DBUS_SYSTEM_BUS_ADDRESS` of a test's private bus).
    pub env: Vec<(String, String)>,
    /// `-P` (the default): only the VRRP child; off, every child the config asks for.
    pub vrrp_only: bool,
}

impl Daemon {
    pub fn start(lan: &Lan, node: usize, real: bool, conf: &str) -> Daemon {
        Daemon::start_with(lan, node, real, conf, &[])
    }

    pub fn start_with(lan: &Lan, node: usize, real: bool, conf: &str, extra: &[&str]) -> Daemon {
        Daemon::launch(lan, node, real, conf, extra, &[], true)
    }

    /// As `start_with`, with extra environment variables.
    pub fn start_env(
        lan: &Lan,
        node: usize,
        real: bool,
        conf: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Daemon {
        Daemon::launch(lan, node, real, conf, extra, env, true)
    }

    /// Without `-P`: the BFD (and checker) child run too when the config has them.
    pub fn start_all(lan: &Lan, node: usize, real: bool, conf: &str) -> Daemon {
        Daemon::launch(lan, node, real, conf, &[], &[], false)
    }

    fn launch(
        lan: &Lan,
        node: usize,
        real: bool,
        conf: &str,
        extra: &[&str],
        env: &[(&str, &str)],
        vrrp_only: bool,
    ) -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = Daemon {
            child: None,
            dir,
            ns: lan.nodes[node].ns.clone(),
            real,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            vrrp_only,
        };
        d.write_conf(conf);
        let mut d = d;
        d.spawn();
        d
    }

    pub fn bin(&self) -> PathBuf {
        if self.real {
            support::real_keepalived().expect("real keepalived")
        } else {
            support::ours()
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write_conf(&self, conf: &str) {
        fs::write(self.path("keepalived.conf"), conf).expect("write conf");
    }

    pub fn spawn(&mut self) {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("log"))
            .expect("log file");
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns])
            .arg(self.bin())
            .args(["--dont-fork", "-l", "-G", "-D"])
            .args(self.vrrp_only.then_some("-P"))
            .arg("-f")
            .arg(self.path("keepalived.conf"))
            .arg("-p")
            .arg(self.path("keepalived.pid"))
            .arg("-r")
            .arg(self.path("vrrp.pid"))
            .arg("-c")
            .arg(self.path("checkers.pid"))
            .arg("-b")
            .arg(self.path("bfd.pid"))
            .args(&self.extra)
            .env("TMPDIR", self.dir.path())
            .env("KEEPALIVED_STATUS_FILE", self.path("status.json"))
            .env_remove("NOTIFY_SOCKET")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        self.child = Some(c.spawn().expect("spawn keepalived"));
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.path("log")).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    pub fn vrrp_pid(&self) -> Option<i32> {
        fs::read_to_string(self.path("vrrp.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// Sends a signal by number (real-time signals included) to the parent process.
    pub fn signal(&self, sig: i32) {
        // pid 0 would be `kill 0`: the whole process group, the test runner included.
        assert!(
            self.pid() > 0,
            "signal {sig} to a daemon that is not running"
        );
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cannot send signal {sig} to {}", self.pid());
    }

    /// SIGHUP, then waits (bounded) until the parent says every child has reloaded
    /// (`Reload complete`, ours and keepalived 2.2.7 alike).
    pub fn reload(&self) {
        let done = |log: &str| log.matches("Reload complete").count();
        let before = done(&self.log());
        self.signal(libc::SIGHUP);
        assert!(
            wait_until(20, || done(&self.log()) > before),
            "no reload:\n{}",
            self.log()
        );
    }

    /// SIGTERM and wait (bounded) for the process to exit.
    pub fn stop(&mut self) {
        if self.child.is_none() {
            return;
        }
        self.signal(libc::SIGTERM);
        if let Some(mut c) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                if Instant::now() > deadline {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(c.id() as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    let _ = c.wait();
                    panic!("keepalived did not stop; log:\n{}", self.log());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = c.wait();
            if let Some(p) = self.vrrp_pid() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// Whether node `i` holds address `a` on eth0.
pub fn has_addr(lan: &Lan, i: usize, a: &str) -> bool {
    let j = lan.ip_json(i, &["addr", "show", "dev", "eth0"]);
    j.as_array().is_some_and(|links| {
        links.iter().any(|l| {
            l["addr_info"]
                .as_array()
                .is_some_and(|ai| ai.iter().any(|x| x["local"] == a))
        })
    })
}

/// Polls `f` every 50 ms until it is true or `secs` elapsed.
pub fn wait_until(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The text of a dump file once its writer is done: keepalived writes its dumps piecemeal, so
/// the file must exist and read the same twice, 300 ms apart (empty if that never happens in
/// `secs`).
pub fn settled_file(path: &std::path::Path, secs: u64) -> String {
    let mut last: Option<String> = None;
    let mut text = String::new();
    wait_until(secs, || {
        let now = std::fs::read_to_string(path).ok();
        let same = now.is_some() && now == last;
        if same {
            text = now.clone().unwrap_or_default();
        } else {
            std::thread::sleep(Duration::from_millis(250));
        }
        last = now;
        same
    });
    text
}

pub fn logs(ds: &[&Daemon]) -> String {
    ds.iter()
        .map(|d| {
            format!(
                "===== {} ({}) =====\n{}",
                d.ns,
                if d.real { "real" } else { "ours" },
                d.log()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits until exactly node `master` of `nodes` holds `vip`.
pub fn expect_master(
    lan: &Lan,
    master: usize,
    nodes: &[usize],
    vip: &str,
    secs: u64,
    ds: &[&Daemon],
) {
    let ok = wait_until(secs, || {
        nodes
            .iter()
            .all(|&n| has_addr(lan, n, vip) == (n == master))
    });
    assert!(ok, "node {master} should hold {vip} alone\n{}", logs(ds));
}

pub fn conf(prio: u8, extra: &str, vips: &[&str]) -> String {
    let vips: String = vips.iter().map(|v| format!("    {v}\n")).collect();
    format!(
        "global_defs {{\n  router_id test\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority {prio}\n  advert_int 1\n{extra}  virtual_ipaddress {{\n{vips}  }}\n}}\n"
    )
}

pub fn lan_or_skip(test: &str, n: usize) -> Option<Lan> {
    if !support::is_root() {
        support::skip_or_fail(test, "needs root for network namespaces");
        return None;
    }
    Lan::new(n)
}

pub fn real_or_skip(test: &str) -> bool {
    if support::real_keepalived().is_none() {
        support::skip_or_fail(test, "/usr/sbin/keepalived (2.2.7) is not installed");
        return false;
    }
    true
}
