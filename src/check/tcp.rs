//! TCP_CHECK: a TCP connect within connect_timeout is success.

use super::probe::{CheckResult, Target};

/// Connects and closes at once.
pub async fn check(target: &Target) -> CheckResult {
    match target.tcp_connect().await {
        Ok(_) => CheckResult::up(),
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => CheckResult::down("timeout"),
        Err(_) => CheckResult::down("failed"),
    }
}
