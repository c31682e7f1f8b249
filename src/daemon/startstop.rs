//! global_defs `startup_script` / `shutdown_script`: the parent runs the first before it
//! starts its children and the second once they have all gone, waiting for each (bounded
//! by `*_script_timeout`), as keepalived 2.2.7 does (keepalived.conf(5); observed: the
//! children start only after the startup script ended or was killed).
//!
//! The parent is single-threaded and has no runtime, so the wait is a poll(2) on a pidfd.

use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tracing::info;

use crate::config::host::{self, Vetting};
use crate::config::model::global::GlobalDefs;
use crate::config::model::Script;
use crate::script::{self, Prepared};

/// Which of the two scripts; its text is keepalived's "type" in its log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Startup,
    Shutdown,
}

impl Which {
    fn kind(self) -> &'static str {
        match self {
            Which::Startup => "startup script",
            Which::Shutdown => "shutdown script",
        }
    }
}

/// A start/stop script ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartStop {
    which: Which,
    prog: String,
    prepared: Prepared,
    timeout: Duration,
}

/// How a run ended, for the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signaled(i32),
    /// Timed out, then killed (`true`) or left running after every kill (`false`).
    TimedOut(bool),
    NotStarted,
}

/// The script of `which` in `g`, vetted as keepalived vets it (the default script user, the
/// file must exist, and with script security be safe); `None` when there is none or it is
/// refused (the refusal logged with keepalived's message).
pub fn from_config(g: &GlobalDefs, which: Which) -> Option<StartStop> {
    let (s, secs) = match which {
        Which::Startup => (g.startup_script.as_ref()?, g.startup_script_timeout),
        Which::Shutdown => (g.shutdown_script.as_ref()?, g.shutdown_script_timeout),
    };
    prepare(s, g, which, Duration::from_secs(u64::from(secs)))
}

/// keepalived's line when a start/stop script will run as root for want of the default
/// script user (observed, once, whatever the number of scripts).
pub fn note_default_user(g: &GlobalDefs) {
    if g.startup_script.is_none() && g.shutdown_script.is_none() {
        return;
    }
    if let Ok(None) = script::default_run_as(g.script_user.as_ref(), g.enable_script_security) {
        info!("Script user '{}' does not exist", host::DEFAULT_SCRIPT_USER);
    }
}

fn prepare(s: &Script, g: &GlobalDefs, which: Which, timeout: Duration) -> Option<StartStop> {
    let prog = s.argv.first()?.clone();
    // keepalived resolves the default user when it reads the line (the configuration
    // refuses the script when script security was already on without a default user),
    // so a later `enable_script_security` does not take root away.
    let me = host::RunAs {
        uid: nix::unistd::geteuid().as_raw(),
        gid: nix::unistd::getegid().as_raw(),
    };
    let default = script::default_run_as(g.script_user.as_ref(), false)
        .ok()?
        .or(Some(me));
    let path_var = std::env::var("PATH").unwrap_or_else(|_| String::from("/usr/bin:/bin"));
    let v = host::vet_script(
        s,
        default,
        g.enable_script_security,
        &path_var,
        host::lookup_user,
    );
    if let Some(msg) = crate::script::refusal(&prog, &v) {
        info!("{msg}");
        return None;
    }
    let run_as = match v {
        Vetting::Run { run_as, .. } => run_as,
        _ => me,
    };
    Some(StartStop {
        which,
        prog,
        prepared: Prepared {
            argv: script::exec_argv(&s.argv),
            run_as: Some(run_as).filter(|r| *r != me),
        },
        timeout,
    })
}

impl StartStop {
    /// Runs the script and waits for it, with keepalived's lines: `Running startup script
    /// PROG` (with -D), `startup script script failed, status N` (sic, keepalived 2.2.7),
    /// `... succeeded` (with -D), `startup script timed out`. At the timeout its process
    /// group gets SIGTERM, 2 s later SIGKILL, 2 s later SIGKILL again; 10 s after that
    /// the parent goes on without it.
    pub fn run(&self) -> Outcome {
        let kind = self.which.kind();
        let detail = crate::log::detail() > 0;
        if detail {
            let what = match self.which {
                Which::Startup => "startup",
                Which::Shutdown => "shutdown",
            };
            info!("Running {what} script {}", self.prog);
        }
        let Some((prog, args)) = self.prepared.argv.split_first() else {
            return Outcome::NotStarted;
        };
        let mut cmd = Command::new(prog);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if let Some(r) = self.prepared.run_as {
            cmd.gid(r.gid).uid(r.uid);
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                // keepalived's forked child logs the exec failure and exits 0.
                let errno = e.raw_os_error().unwrap_or(0);
                info!(
                    "Error exec-ing command '{}', error {}: {}",
                    prog,
                    errno,
                    nix::errno::Errno::from_raw(errno).desc()
                );
                if detail {
                    info!("{kind} script succeeded");
                }
                return Outcome::NotStarted;
            }
        };
        let pid = i32::try_from(child.id()).unwrap_or(0);
        let pidfd = pidfd_open(pid);
        let pg = Pid::from_raw(pid);
        let mut wait = |limit: Duration| -> Option<std::process::ExitStatus> {
            let end = Instant::now() + limit;
            loop {
                if let Ok(Some(st)) = child.try_wait() {
                    return Some(st);
                }
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return None;
                }
                wait_readable(pidfd.as_ref(), left);
            }
        };
        let status = match wait(self.timeout) {
            Some(st) => st,
            None => {
                info!("{kind} timed out");
                // keepalived's ladder: SIGTERM, then SIGKILL twice, 2 s apart, then 10 s.
                let steps = [
                    (Signal::SIGTERM, Duration::from_secs(2)),
                    (Signal::SIGKILL, Duration::from_secs(2)),
                    (Signal::SIGKILL, Duration::from_secs(10)),
                ];
                for (n, (sig, grace)) in steps.into_iter().enumerate() {
                    if n == 2 {
                        info!("{kind} (PID {pid}) failed to terminate after kill");
                    }
                    if killpg(pg, sig).is_err() {
                        info!("{kind} (PID {pid}) lost");
                        return Outcome::TimedOut(true);
                    }
                    if let Some(st) = wait(grace) {
                        if st.signal() == Some(libc::SIGTERM) {
                            // What the script forked dies with it.
                            let _ = killpg(pg, Signal::SIGKILL);
                        }
                        return Outcome::TimedOut(true);
                    }
                }
                return Outcome::TimedOut(false);
            }
        };
        match (status.code(), status.signal()) {
            (Some(0), _) => {
                if detail {
                    info!("{kind} script succeeded");
                }
                Outcome::Exited(0)
            }
            (Some(c), _) => {
                info!("{kind} script failed, status {c}");
                Outcome::Exited(c)
            }
            (None, Some(s)) => Outcome::Signaled(s),
            (None, None) => Outcome::Exited(0),
        }
    }
}

/// A pidfd for `pid` (Linux 5.3); `None` makes the wait poll every 50 ms instead.
fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Waits until the pidfd says the process ended, or `limit`.
fn wait_readable(fd: Option<&OwnedFd>, limit: Duration) {
    let ms = i32::try_from(limit.as_millis().saturating_add(1)).unwrap_or(i32::MAX);
    match fd {
        Some(fd) => {
            let mut p = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd that outlives the call.
            unsafe { libc::poll(&mut p, 1, ms) };
        }
        None => std::thread::sleep(Duration::from_millis(50).min(limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(cmd: &str, timeout: Duration) -> StartStop {
        StartStop {
            which: Which::Startup,
            prog: "/bin/sh".into(),
            prepared: Prepared {
                argv: vec!["/bin/sh".into(), "-c".into(), cmd.into()],
                run_as: None,
            },
            timeout,
        }
    }

    #[test]
    fn exit_status_is_reported() {
        let long = Duration::from_secs(30);
        assert_eq!(sh("exit 0", long).run(), Outcome::Exited(0));
        assert_eq!(sh("exit 3", long).run(), Outcome::Exited(3));
        assert_eq!(
            sh("kill -USR1 $$", long).run(),
            Outcome::Signaled(libc::SIGUSR1)
        );
    }

    #[test]
    fn a_script_past_its_timeout_is_killed_with_its_group() {
        let t = sh("sleep 60 & wait", Duration::from_millis(100)).run();
        assert_eq!(t, Outcome::TimedOut(true));
        // Ignoring SIGTERM only delays the SIGKILL.
        let t = sh(
            "trap '' TERM; sleep 60; sleep 60",
            Duration::from_millis(100),
        )
        .run();
        assert_eq!(t, Outcome::TimedOut(true));
    }
}
