//! MISC_CHECK: run `misc_path` with `misc_timeout`; exit 0 is
//! up, anything else down, except that with `misc_dynamic` 2..255 is up with the real
//! server weight set to status − 2. A script that times out is killed and counts as down.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use super::probe::CheckResult;
use crate::config::model::check::checker::MiscCheck;
use crate::config::model::Script;

/// The result for an exit status (`None` = killed by a signal or timed out).
pub fn result_of(status: Option<i32>, dynamic: bool) -> CheckResult {
    let mut r = match status {
        Some(0) => CheckResult::up(),
        Some(s @ 2..=255) if dynamic => CheckResult {
            up: true,
            weight: Some((s - 2) as u32),
            ..CheckResult::default()
        },
        Some(s) => CheckResult::down(format!("exited with status {s}")),
        None => CheckResult::down("timed out"),
    };
    r.exit_status = status;
    r
}

/// How a script run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    /// Killed by a signal we did not send.
    Signal(i32),
    /// Killed at `misc_timeout`.
    TimedOut,
}

/// The result of a run: keepalived's reasons, `timed out` alone when we killed it.
pub fn result_of_end(end: End, dynamic: bool) -> CheckResult {
    match end {
        End::Exited(s) => result_of(Some(s), dynamic),
        End::Signal(n) => CheckResult::down(format!("due to signal {n}")),
        End::TimedOut => result_of(None, dynamic),
    }
}

/// Runs `script` (argv already split), killing it after `timeout`.
pub async fn run_script(script: &Script, timeout: Duration) -> std::io::Result<End> {
    let Some((prog, args)) = script.argv.split_first() else {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "empty script",
        ));
    };
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        // its own process group, so a timeout kills what the script started too
        .process_group(0);
    if let Some(user) = &script.user {
        let u = nix::unistd::User::from_name(user)
            .ok()
            .flatten()
            .ok_or_else(|| std::io::Error::other(format!("unknown user {user}")))?;
        let gid = match &script.group {
            Some(g) => nix::unistd::Group::from_name(g)
                .ok()
                .flatten()
                .map(|g| g.gid)
                .ok_or_else(|| std::io::Error::other(format!("unknown group {g}")))?,
            None => u.gid,
        };
        cmd.uid(u.uid.as_raw()).gid(gid.as_raw());
    }
    let mut child = cmd.spawn()?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(st) => {
            let st = st?;
            Ok(match (st.code(), st.signal()) {
                (Some(c), _) => End::Exited(c),
                (None, Some(n)) => End::Signal(n),
                (None, None) => End::TimedOut,
            })
        }
        Err(_) => {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.kill().await;
            Ok(End::TimedOut)
        }
    }
}

pub async fn check(cfg: &MiscCheck, default_timeout: Duration) -> CheckResult {
    let timeout = cfg.timeout.unwrap_or(default_timeout);
    match run_script(&cfg.path, timeout).await {
        Ok(end) => result_of_end(end, cfg.dynamic),
        Err(e) => CheckResult::down(format!("cannot run script: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(cmd: &str) -> Script {
        Script {
            argv: crate::config::model::script::split_command(cmd),
            text: cmd.into(),
            user: None,
            group: None,
            span: crate::config::diagnostic::Span::default(),
        }
    }

    #[test]
    fn status_mapping() {
        assert!(result_of(Some(0), false).up);
        assert!(!result_of(Some(1), true).up);
        assert!(!result_of(Some(5), false).up);
        let r = result_of(Some(12), true);
        assert_eq!((r.up, r.weight, r.exit_status), (true, Some(10), Some(12)));
        assert_eq!(result_of(Some(2), true).weight, Some(0));
        assert!(!result_of(None, true).up);
    }

    #[tokio::test]
    async fn runs_and_times_out() {
        let s = script("/bin/sh -c 'exit 7'");
        assert_eq!(
            run_script(&s, Duration::from_secs(5)).await.ok(),
            Some(End::Exited(7))
        );
        let s = script("/bin/sh -c 'kill -TERM $$'");
        assert_eq!(
            run_script(&s, Duration::from_secs(5)).await.ok(),
            Some(End::Signal(15))
        );
        let s = script("/bin/sh -c 'sleep 5; exit 0'");
        assert_eq!(
            run_script(&s, Duration::from_millis(50)).await.ok(),
            Some(End::TimedOut)
        );
        let m = MiscCheck {
            path: script("/bin/true"),
            timeout: None,
            dynamic: false,
            shown: None,
        };
        assert!(check(&m, Duration::from_secs(5)).await.up);
    }
}
