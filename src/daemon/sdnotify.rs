//! systemd notifications, sent only when `NOTIFY_SOCKET` is set.
//! keepalived also requires pid 1 to be systemd; we do not, so a supervisor (or a test)
//! can provide the socket itself.
#![forbid(unsafe_code)]

use sd_notify::NotifyState;

/// The parent's notifier; children never notify (they unset `NOTIFY_SOCKET`).
#[derive(Debug, Clone, Copy)]
pub struct Notifier {
    enabled: bool,
}

impl Notifier {
    /// Enabled if `NOTIFY_SOCKET` is set now.
    pub fn from_env() -> Self {
        Notifier {
            enabled: std::env::var_os("NOTIFY_SOCKET").is_some_and(|s| !s.is_empty()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn send(&self, states: &[NotifyState]) {
        if self.enabled {
            if let Err(e) = sd_notify::notify(false, states) {
                tracing::debug!("sd_notify failed: {e}");
            }
        }
    }

    /// `READY=1\nMAINPID=<pid>`: every child has loaded its configuration.
    pub fn ready(&self) {
        self.send(&[NotifyState::Ready, NotifyState::MainPid(std::process::id())]);
    }

    pub fn reloading(&self) {
        self.send(&[NotifyState::Reloading]);
    }

    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping]);
    }

    /// `ERRNO=<n>` when a child exits with a permanent error.
    pub fn errno(&self, errno: u32) {
        self.send(&[NotifyState::Errno(errno)]);
    }
}
