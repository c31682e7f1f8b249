//! The parent's respawn back-off: a child that ran more than
//! 60 s is restarted at once and the back-off resets; otherwise the delays are
//! 0, 1, 2, 4, 8, 16, 32, 60, 60, ... seconds.
#![forbid(unsafe_code)]

use std::time::Duration;

/// How long a child must have run for its death not to count as a quick failure.
pub const STABLE_RUN: Duration = Duration::from_secs(60);
/// The longest delay.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// Respawn state of one child.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    /// Quick deaths in a row.
    failures: u32,
}

impl Backoff {
    /// The delay before restarting a child that died after running for `ran_for`.
    pub fn next_delay(&mut self, ran_for: Duration) -> Duration {
        if ran_for > STABLE_RUN {
            self.failures = 0;
        }
        let d = delay_for(self.failures);
        self.failures = self.failures.saturating_add(1);
        d
    }
}

/// The delay after `n` quick deaths in a row.
pub fn delay_for(n: u32) -> Duration {
    match n {
        0 => Duration::ZERO,
        n => Duration::from_secs(1u64 << (n - 1).min(6)).min(MAX_DELAY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence() {
        let mut b = Backoff::default();
        let got: Vec<u64> = (0..10)
            .map(|_| b.next_delay(Duration::from_secs(1)).as_secs())
            .collect();
        assert_eq!(got, [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn resets_after_a_long_run() {
        let mut b = Backoff::default();
        for _ in 0..5 {
            b.next_delay(Duration::ZERO);
        }
        assert_eq!(b.next_delay(Duration::from_secs(61)), Duration::ZERO);
        assert_eq!(b.next_delay(Duration::from_secs(3)), Duration::from_secs(1));
        // Exactly 60 s is not "more than 60 s".
        assert_eq!(b.next_delay(STABLE_RUN), Duration::from_secs(2));
    }

    #[test]
    fn never_overflows() {
        assert_eq!(delay_for(u32::MAX), MAX_DELAY);
        let mut b = Backoff {
            failures: u32::MAX - 1,
        };
        b.next_delay(Duration::ZERO);
        assert_eq!(b.next_delay(Duration::ZERO), MAX_DELAY);
    }
}
