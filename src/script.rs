//! Running scripts as keepalived does: notify scripts
//! fire and forget, tracked scripts with a timeout and at most one run at a time.
//!
//! The child runs as the script's uid/gid (supplementary groups cleared by std when root
//! changes uid), in its own process group, with stdio on /dev/null and PDEATHSIG=SIGTERM.
//! The environment is inherited: keepalived 2.2.7 does not clean it (observed: a variable
//! set when starting keepalived is seen by notify and track scripts).
//!
//! PDEATHSIG fires when the *thread* that forked exits: spawn from a runtime thread that
//! lives as long as the daemon (the VRRP child's current-thread runtime), not from
//! `spawn_blocking`.

use std::io::Read;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::config::host::{lookup_user, resolve, RunAs, Vetting, DEFAULT_SCRIPT_USER};
use crate::config::model::Script;

/// How long a timed-out script gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(2);

/// How a script run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptResult {
    /// Exit status. An exec failure is reported as `Exited(0)`, as keepalived's forked child
    /// exits 0 when execve fails.
    Exited(i32),
    /// Killed by this signal (not by our timeout).
    Signaled(i32),
    /// Still running at the timeout: SIGTERM, then SIGKILL after [`KILL_GRACE`].
    TimedOut,
}

impl ScriptResult {
    fn from_status(st: ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match (st.code(), st.signal()) {
            (Some(c), _) => ScriptResult::Exited(c),
            (None, Some(s)) => ScriptResult::Signaled(s),
            (None, None) => ScriptResult::Exited(0),
        }
    }
}

/// A script ready to run: how to exec it and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The program and arguments passed to execve (for the shell: `/bin/sh -c CMD`).
    pub argv: Vec<String>,
    /// `None`: run as ourselves.
    pub run_as: Option<RunAs>,
}

/// Quotes one argument for `/bin/sh` the way keepalived builds its `system()` command.
pub fn shell_quote(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// Whether a file starts with `#!` or is an ELF binary, i.e. execve can run it directly.
pub fn directly_executable(path: &Path) -> bool {
    let mut head = [0u8; 4];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    let head = head.get(..n).unwrap_or(&[]);
    head.starts_with(b"#!") || head.starts_with(b"\x7fELF")
}

/// Builds the argv to execute: the words themselves when the program is `#!`/ELF, else
/// `/bin/sh -c` with every word single-quoted. `</dev/tcp/...` redirections always
/// go through the shell, unquoted as keepalived does.
pub fn exec_argv(words: &[String]) -> Vec<String> {
    let Some(prog) = words.first() else {
        return Vec::new();
    };
    if prog.starts_with("</") {
        return vec!["/bin/sh".into(), "-c".into(), words.join(" ")];
    }
    let path_var = std::env::var("PATH").unwrap_or_else(|_| String::from("/usr/bin:/bin"));
    let direct = resolve(prog, &path_var).is_some_and(|p| directly_executable(&p));
    if direct {
        words.to_vec()
    } else {
        let cmd: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
        vec!["/bin/sh".into(), "-c".into(), cmd.join(" ")]
    }
}

/// Resolves the user a script runs as: its own `user`/`group`, else `default`.
/// `Err` carries keepalived's message when the user does not exist.
pub fn run_as_for(
    user: Option<(&str, Option<&str>)>,
    default: Option<RunAs>,
    prog: &str,
) -> Result<Option<RunAs>, String> {
    match user {
        Some((u, g)) => lookup_user(u, g)
            .map(Some)
            .ok_or_else(|| format!("Unable to set uid/gid for script '{prog}'")),
        None => Ok(default),
    }
}

/// The default script user: `script_user` if configured, else
/// `keepalived_script` if that user exists, else ourselves (`None`). With
/// `enable_script_security` and neither, `Err` with keepalived's message (such scripts are
/// removed).
pub fn default_run_as(
    script_user: Option<&(String, Option<String>)>,
    script_security: bool,
) -> Result<Option<RunAs>, String> {
    use crate::config::host::DEFAULT_SCRIPT_USER;
    match script_user {
        Some((u, g)) => lookup_user(u, g.as_deref())
            .map(Some)
            .ok_or_else(|| String::from("Error setting global script uid/gid")),
        None => match lookup_user(DEFAULT_SCRIPT_USER, None) {
            Some(r) => Ok(Some(r)),
            None if script_security => Err(format!(
                "Unable to set default user {DEFAULT_SCRIPT_USER} for script"
            )),
            None => Ok(None),
        },
    }
}

/// Prepares a `vrrp_script`: its `user USER [GROUP]` line, else the default user.
pub fn prepare_vrrp_script(
    vs: &crate::config::model::vrrp::track::VrrpScript,
    default: Option<RunAs>,
) -> Result<Prepared, String> {
    let Some(script) = &vs.script else {
        return Err(format!(
            "No script set for vrrp_script {} - removing",
            vs.name
        ));
    };
    let prog = script.argv.first().map_or("", String::as_str);
    let user = vs
        .user
        .as_ref()
        .map(|(u, g)| (u.as_str(), g.as_deref()))
        .or_else(|| script.user.as_deref().map(|u| (u, script.group.as_deref())));
    Ok(Prepared {
        argv: exec_argv(&script.argv),
        run_as: run_as_for(user, default, prog)?,
    })
}

/// The timeout of a `vrrp_script`: its `timeout`, or its interval when 0.
pub fn vrrp_script_timeout(vs: &crate::config::model::vrrp::track::VrrpScript) -> Duration {
    if vs.timeout.is_zero() {
        vs.interval
    } else {
        vs.timeout
    }
}

/// Prepares a configured script (its own `user`/`group`, else `default`).
pub fn prepare(script: &Script, default: Option<RunAs>) -> Result<Prepared, String> {
    let prog = script.argv.first().map_or("", String::as_str);
    let user = script.user.as_deref().map(|u| (u, script.group.as_deref()));
    Ok(Prepared {
        argv: exec_argv(&script.argv),
        run_as: run_as_for(user, default, prog)?,
    })
}

/// Starts a prepared script. An exec failure is logged as keepalived logs it and returns
/// `None`: keepalived's child would have exited 0.
pub fn spawn(p: &Prepared) -> Option<Child> {
    let (prog, args) = p.argv.split_first()?;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(false);
    if let Some(r) = p.run_as {
        cmd.gid(r.gid).uid(r.uid);
    }
    // SAFETY: prctl(2) is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from)
        });
    }
    match cmd.spawn() {
        Ok(c) => Some(c),
        Err(e) => {
            let errno = e.raw_os_error().unwrap_or(0);
            tracing::warn!(
                "Error exec-ing command '{}', error {}: {}",
                prog,
                errno,
                nix::errno::Errno::from_raw(errno).desc()
            );
            None
        }
    }
}

/// Runs a prepared script to completion, killing its process group at `timeout`.
pub async fn run(p: &Prepared, timeout: Duration) -> ScriptResult {
    let Some(child) = spawn(p) else {
        return ScriptResult::Exited(0);
    };
    wait_with_timeout(child, timeout).await
}

/// Waits for a child; at `timeout` SIGTERMs its process group, SIGKILLs it after
/// [`KILL_GRACE`], and reports [`ScriptResult::TimedOut`].
pub async fn wait_with_timeout(mut child: Child, timeout: Duration) -> ScriptResult {
    let pgid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(st)) => ScriptResult::from_status(st),
        Ok(Err(_)) => ScriptResult::Exited(0),
        Err(_) => {
            if let Some(pg) = pgid {
                let _ = killpg(pg, Signal::SIGTERM);
            }
            if tokio::time::timeout(KILL_GRACE, child.wait())
                .await
                .is_err()
            {
                if let Some(pg) = pgid {
                    let _ = killpg(pg, Signal::SIGKILL);
                }
                let _ = child.wait().await;
            } else if let Some(pg) = pgid {
                // the leader died of SIGTERM; make sure what it forked dies too
                let _ = killpg(pg, Signal::SIGKILL);
            }
            ScriptResult::TimedOut
        }
    }
}

/// Starts a notify script and forgets it; the child is reaped in the background.
pub fn spawn_detached(p: &Prepared) {
    if let Some(mut child) = spawn(p) {
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
    }
}

/// Guards against overlapping runs of one tracked script.
#[derive(Debug, Clone, Default)]
pub struct RunSlot {
    busy: Arc<AtomicBool>,
}

/// Held while a run is active; dropping it frees the slot.
#[derive(Debug)]
pub struct RunGuard {
    busy: Arc<AtomicBool>,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        self.busy.store(false, Ordering::Release);
    }
}

impl RunSlot {
    pub fn new() -> Self {
        Self::default()
    }

    /// Claims the slot, or logs keepalived's message and returns `None` if the previous run
    /// of script `name` is still active.
    pub fn try_start(&self, name: &str) -> Option<RunGuard> {
        if self.busy.swap(true, Ordering::AcqRel) {
            tracing::warn!("Track script {name} is already running, expect idle - skipping run");
            return None;
        }
        Some(RunGuard {
            busy: Arc::clone(&self.busy),
        })
    }

    pub fn is_running(&self) -> bool {
        self.busy.load(Ordering::Acquire)
    }
}

/// Runs a tracked script unless its previous run is still active (then `None`).
pub async fn run_tracked(
    slot: &RunSlot,
    name: &str,
    p: &Prepared,
    timeout: Duration,
) -> Option<ScriptResult> {
    let _guard = slot.try_start(name)?;
    Some(run(p, timeout).await)
}

/// Runs a tracked script every `interval` and sends each result with its name; a tick
/// that finds the previous run still active is skipped with keepalived's message.
/// The first run starts at once. Ends when the receiver is dropped.
pub fn spawn_tracked_loop(
    name: String,
    p: Prepared,
    interval: Duration,
    timeout: Duration,
    tx: tokio::sync::mpsc::Sender<(String, ScriptResult)>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let slot = RunSlot::new();
        let p = Arc::new(p);
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if tx.is_closed() {
                return;
            }
            let Some(guard) = slot.try_start(&name) else {
                continue;
            };
            let (p, tx, name) = (Arc::clone(&p), tx.clone(), name.clone());
            tokio::spawn(async move {
                let r = run(&p, timeout).await;
                drop(guard);
                let _ = tx.send((name, r)).await;
            });
        }
    })
}

/// The message keepalived logs when it refuses a script, `None` when it may run.
pub fn refusal(prog: &str, v: &Vetting) -> Option<String> {
    match v {
        Vetting::Empty => Some(String::from("Empty notify script - ignoring")),
        Vetting::NoUser(_) => Some(format!("Unable to set uid/gid for script '{prog}'")),
        Vetting::NoDefaultUser => Some(format!(
            "Unable to set default user {DEFAULT_SCRIPT_USER} for script"
        )),
        Vetting::NotFound => Some(format!(
            "check_script_secure could not find script '{prog}' - disabling"
        )),
        Vetting::Insecure(_) => Some(format!(
            "Unsafe permissions found for script '{prog}' - disabling."
        )),
        Vetting::Redirect | Vetting::Run { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn quotes_for_the_shell() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn shebang_and_elf_exec_directly_others_via_shell() {
        let dir = tempfile::tempdir().unwrap();
        let sb = dir.path().join("sb");
        std::fs::write(&sb, "#!/bin/sh\nexit 0\n").unwrap();
        let plain = dir.path().join("plain");
        std::fs::write(&plain, "exit 0\n").unwrap();
        let sb_s = sb.to_string_lossy().to_string();
        let plain_s = plain.to_string_lossy().to_string();
        assert_eq!(exec_argv(&w(&[&sb_s, "x y"])), w(&[&sb_s, "x y"]));
        assert_eq!(
            exec_argv(&w(&[&plain_s, "x y"])),
            w(&["/bin/sh", "-c", &format!("'{plain_s}' 'x y'")])
        );
        assert_eq!(exec_argv(&w(&["/bin/true"])), w(&["/bin/true"]));
        assert_eq!(
            exec_argv(&w(&["</dev/tcp/127.0.0.1/80"])),
            w(&["/bin/sh", "-c", "</dev/tcp/127.0.0.1/80"])
        );
        assert!(exec_argv(&[]).is_empty());
    }

    #[test]
    fn unknown_user_is_refused_with_keepalived_text() {
        let e = run_as_for(Some(("no-such-user-xyz", None)), None, "/bin/true").unwrap_err();
        assert_eq!(e, "Unable to set uid/gid for script '/bin/true'");
        assert_eq!(run_as_for(None, None, "/bin/true"), Ok(None));
    }

    #[test]
    fn slot_refuses_overlap() {
        let s = RunSlot::new();
        let g = s.try_start("chk");
        assert!(g.is_some());
        assert!(s.try_start("chk").is_none());
        drop(g);
        assert!(!s.is_running());
        assert!(s.try_start("chk").is_some());
    }

    #[tokio::test]
    async fn results_exit_signal_exec_error() {
        let p = |a: &[&str]| Prepared {
            argv: w(a),
            run_as: None,
        };
        let t = Duration::from_secs(20);
        assert_eq!(
            run(&p(&["/bin/sh", "-c", "exit 3"]), t).await,
            ScriptResult::Exited(3)
        );
        assert_eq!(
            run(&p(&["/bin/sh", "-c", "kill -USR1 $$"]), t).await,
            ScriptResult::Signaled(10)
        );
        assert_eq!(
            run(&p(&["/nonexistent/prog"]), t).await,
            ScriptResult::Exited(0)
        );
    }

    #[test]
    fn vrrp_script_user_and_timeout() {
        use crate::config::diagnostic::Span;
        use crate::config::model::vrrp::track::VrrpScript;
        let mut vs = VrrpScript::new("chk", Span::default());
        assert!(prepare_vrrp_script(&vs, None)
            .unwrap_err()
            .contains("No script set for vrrp_script chk"));
        vs.script = Some(Script {
            argv: w(&["/bin/true"]),
            text: "/bin/true".into(),
            user: None,
            group: None,
            span: Span::default(),
        });
        let def = Some(RunAs { uid: 7, gid: 8 });
        assert_eq!(prepare_vrrp_script(&vs, def).unwrap().run_as, def);
        vs.user = Some(("root".into(), None));
        assert_eq!(
            prepare_vrrp_script(&vs, def).unwrap().run_as,
            Some(RunAs { uid: 0, gid: 0 })
        );
        assert_eq!(vrrp_script_timeout(&vs), Duration::from_secs(1));
        vs.timeout = Duration::from_secs(5);
        assert_eq!(vrrp_script_timeout(&vs), Duration::from_secs(5));
        let su = ("root".to_owned(), None);
        assert_eq!(
            default_run_as(Some(&su), true),
            Ok(Some(RunAs { uid: 0, gid: 0 }))
        );
        let bad = ("no-such-user-xyz".to_owned(), None);
        assert_eq!(
            default_run_as(Some(&bad), false),
            Err("Error setting global script uid/gid".into())
        );
    }
}
