//! Signal numbers and masks. Real-time signals are not in
//! `nix::sys::signal::Signal`, so masks are built with libc.

use std::io;

use nix::sys::signal::{SigSet, SigmaskHow};

/// SIGRTMIN+2: write `keepalived.json`.
pub fn sig_json() -> i32 {
    libc::SIGRTMIN() + 2
}

/// SIGRTMAX-1: write and clear the VRRP stats.
pub fn sig_stats_clear() -> i32 {
    libc::SIGRTMAX() - 1
}

/// The signals the parent handles through its signalfd.
pub fn parent_signals() -> Vec<i32> {
    vec![
        libc::SIGHUP,
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGCHLD,
        sig_json(),
        sig_stats_clear(),
    ]
}

/// A signal set holding `sigs`.
pub fn set_of(sigs: &[i32]) -> SigSet {
    // SAFETY: sigemptyset/sigaddset only write into the local set; an invalid number is
    // rejected by sigaddset with EINVAL and leaves the set unchanged.
    unsafe {
        let mut raw: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut raw);
        for s in sigs {
            libc::sigaddset(&mut raw, *s);
        }
        SigSet::from_sigset_t_unchecked(raw)
    }
}

/// Blocks `set` in this (single-threaded) process.
pub fn block(set: &SigSet) -> io::Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_BLOCK, Some(set), None).map_err(io::Error::from)
}

/// Unblocks every signal (a child, once its handlers are installed).
pub fn unblock_all() -> io::Result<()> {
    nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(io::Error::from)
}

/// Sends signal number `sig` (real-time ones included) to `pid`.
pub fn send(pid: i32, sig: i32) -> io::Result<()> {
    if pid <= 0 {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    // SAFETY: kill(2) has no memory effects; pid > 0 so it never targets a group.
    let r = unsafe { libc::kill(pid, sig) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// strsignal(3) text of the usual signals, for `exited due to signal N (Killed)`.
pub fn describe(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "Hangup",
        libc::SIGINT => "Interrupt",
        libc::SIGQUIT => "Quit",
        libc::SIGILL => "Illegal instruction",
        libc::SIGTRAP => "Trace/breakpoint trap",
        libc::SIGABRT => "Aborted",
        libc::SIGBUS => "Bus error",
        libc::SIGFPE => "Floating point exception",
        libc::SIGKILL => "Killed",
        libc::SIGUSR1 => "User defined signal 1",
        libc::SIGSEGV => "Segmentation fault",
        libc::SIGUSR2 => "User defined signal 2",
        libc::SIGPIPE => "Broken pipe",
        libc::SIGALRM => "Alarm clock",
        libc::SIGTERM => "Terminated",
        libc::SIGXCPU => "CPU time limit exceeded",
        _ => "Unknown signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_keepalived_signum() {
        // keepalived --signum on glibc: JSON 36, STATS_CLEAR 63.
        assert_eq!(sig_json(), 36);
        assert_eq!(sig_stats_clear(), 63);
        let set = set_of(&parent_signals());
        assert!(set.contains(nix::sys::signal::Signal::SIGHUP));
        assert!(!set.contains(nix::sys::signal::Signal::SIGPIPE));
    }
}
