//! HTTP_GET / SSL_GET scheduling over the url list (keepalived 2.2.7's check_http.c
//! epilog): one url per attempt; the next url after
//! `delay_loop`; a failing url retried after `delay_before_retry` until `retry` is used
//! up, then the checker is down and that url is retried every
//! max(`delay_loop`, `delay_before_retry`); once it answers, every url is checked again
//! from the first and the checker comes up when all have passed. `fast_recovery` drops
//! the delay between urls before the first full pass and while recovering.
//!
//! Pure: [`step`] takes the state and one attempt's outcome and says what changes.
#![forbid(unsafe_code)]

use std::time::Duration;

/// Where one checker stands in its url list (keepalived's url_it, failed_url, retry_it,
/// has_run and is_up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlState {
    /// The url the next attempt fetches.
    pub url: usize,
    /// The url that took the checker down and has not answered since.
    pub failed: Option<usize>,
    pub retry_it: u32,
    /// A full pass or a failure has happened.
    pub has_run: bool,
    pub up: bool,
}

/// The checker's configuration as [`step`] needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlTiming {
    pub urls: usize,
    pub retry: u32,
    pub delay_loop: Duration,
    pub delay_before_retry: Duration,
    pub fast_recovery: bool,
}

/// A change of the checker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// "Remote Web server ... succeed on service." (also the first pass of a checker
    /// that starts up).
    Up,
    /// "HTTP_CHECK on service ... failed[ after N retries]."
    Down { retries: u32 },
}

/// What one attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub change: Option<Change>,
    /// The failure counts (retried or taking the checker down): keepalived logs its
    /// reason with `log_all_failures`. A failure while down is not counted.
    pub counted: bool,
    /// When the next attempt runs.
    pub delay: Duration,
}

/// Applies one attempt's outcome (`ok`: the url passed) to `s`.
pub fn step(s: &mut UrlState, t: &UrlTiming, ok: bool) -> Step {
    let urls = t.urls.max(1);
    // a failure while known down is not retried (keepalived's REGISTER_CHECKER_FAILED)
    let counted = !ok && (s.up || !s.has_run);
    let mut change = None;
    if ok {
        s.url += 1;
        s.retry_it = 0;
    } else if counted {
        s.has_run = true;
        s.retry_it += 1;
    }
    if ok && s.url >= urls && s.failed.is_none() {
        // every url passed
        if !s.up || !s.has_run {
            change = Some(Change::Up);
            s.up = true;
            s.has_run = true;
        }
        s.url = 0;
        s.retry_it = 0;
    } else if counted && s.retry_it > t.retry {
        if s.up {
            let retries = if t.retry > 0 { s.retry_it - 1 } else { 0 };
            change = Some(Change::Down { retries });
            s.up = false;
        }
        s.failed = Some(s.url);
    } else if ok && s.failed.is_some() {
        // the failed url answers again: check them all from the first
        s.failed = None;
        s.url = 0;
        s.retry_it = 0;
    }
    let mut delay = if ok {
        if !s.has_run {
            // before the first full pass a failure takes the checker down at once
            s.retry_it = t.retry;
        }
        t.delay_loop
    } else if s.failed.is_some() {
        t.delay_before_retry.max(t.delay_loop)
    } else {
        t.delay_before_retry
    };
    // keepalived also retries an uncounted failure at once while recovering, which spins
    // against a server that refuses at once; we wait delay_before_retry then
    let recovering = !s.up && s.failed.is_none() && (ok || counted);
    if t.fast_recovery && (!s.has_run || recovering) {
        delay = Duration::ZERO;
    }
    Step {
        change,
        counted,
        delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DL: Duration = Duration::from_secs(10);
    const DBR: Duration = Duration::from_secs(3);

    fn timing(urls: usize, retry: u32, fast: bool) -> UrlTiming {
        UrlTiming {
            urls,
            retry,
            delay_loop: DL,
            delay_before_retry: DBR,
            fast_recovery: fast,
        }
    }

    fn up() -> UrlState {
        UrlState {
            up: true,
            ..UrlState::default()
        }
    }

    /// Runs `outcomes`, returning (url fetched, delay after it, change) per attempt.
    fn run(
        s: &mut UrlState,
        t: &UrlTiming,
        outcomes: &[bool],
    ) -> Vec<(usize, Duration, Option<Change>)> {
        outcomes
            .iter()
            .map(|&ok| {
                let url = s.url;
                let st = step(s, t, ok);
                (url, st.delay, st.change)
            })
            .collect()
    }

    #[test]
    fn startup_checks_one_url_per_delay_loop() {
        let mut s = up();
        let got = run(&mut s, &timing(3, 1, false), &[true, true, true, true]);
        assert_eq!(
            got,
            vec![
                (0, DL, None),
                (1, DL, None),
                (2, DL, Some(Change::Up)),
                (0, DL, None),
            ]
        );
    }

    #[test]
    fn fast_recovery_startup_has_no_delay_between_urls() {
        let mut s = up();
        let got = run(&mut s, &timing(3, 1, true), &[true, true, true, true]);
        assert_eq!(
            got,
            vec![
                (0, Duration::ZERO, None),
                (1, Duration::ZERO, None),
                (2, DL, Some(Change::Up)),
                (0, DL, None),
            ]
        );
    }

    #[test]
    fn failure_retries_then_down_then_recovery_from_the_first_url() {
        for fast in [false, true] {
            let t = timing(2, 1, fast);
            let mut s = up();
            run(&mut s, &t, &[true, true]);
            assert!(s.has_run && s.up);
            // url 0 fails: one retry after delay_before_retry, then down
            let got = run(&mut s, &t, &[false, false, false]);
            assert_eq!(
                got,
                vec![
                    (0, DBR, None),
                    (0, DL, Some(Change::Down { retries: 1 })),
                    (0, DL, None),
                ]
            );
            // it answers: every url again from the first; fast_recovery does it at once
            let gap = if fast { Duration::ZERO } else { DL };
            let got = run(&mut s, &t, &[true, true, true]);
            assert_eq!(
                got,
                vec![(0, gap, None), (0, gap, None), (1, DL, Some(Change::Up))],
                "fast_recovery {fast}"
            );
        }
    }

    #[test]
    fn failure_while_recovering_waits_delay_before_retry() {
        for fast in [false, true] {
            let t = timing(2, 0, fast);
            let mut s = up();
            run(&mut s, &t, &[true, true, false]);
            assert!(!s.up && s.failed == Some(0));
            // the failed url answers, then url 0 fails again before the pass completes
            let got = run(&mut s, &t, &[true, false]);
            let gap = if fast { Duration::ZERO } else { DL };
            assert_eq!(got, vec![(0, gap, None), (0, DBR, None)]);
            assert!(!s.up && s.failed.is_none());
        }
    }

    #[test]
    fn startup_failure_after_a_passed_url_is_down_at_once() {
        let mut s = up();
        let got = run(&mut s, &timing(2, 2, false), &[true, false]);
        assert_eq!(
            got,
            vec![(0, DL, None), (1, DL, Some(Change::Down { retries: 2 }))]
        );
        assert_eq!(s.failed, Some(1));
    }

    #[test]
    fn first_failure_is_retried_and_retry_zero_logs_no_count() {
        let mut s = up();
        let got = run(&mut s, &timing(1, 0, false), &[false]);
        assert_eq!(got, vec![(0, DL, Some(Change::Down { retries: 0 }))]);
        let mut s = up();
        let got = run(&mut s, &timing(1, 2, false), &[false, false, false]);
        assert_eq!(
            got,
            vec![
                (0, DBR, None),
                (0, DBR, None),
                (0, DL, Some(Change::Down { retries: 2 }))
            ]
        );
    }

    #[test]
    fn alpha_checker_starts_down_and_comes_up_after_a_full_pass() {
        // alpha: down before any result; a failure is counted but changes nothing
        let t = timing(2, 0, false);
        let mut s = UrlState::default();
        let st = step(&mut s, &t, false);
        assert_eq!((st.change, st.counted, s.failed), (None, true, Some(0)));
        let got = run(&mut s, &t, &[true, true, true]);
        assert_eq!(
            got,
            vec![(0, DL, None), (0, DL, None), (1, DL, Some(Change::Up))]
        );
    }

    #[test]
    fn delay_while_down_is_the_longer_of_the_two() {
        let mut t = timing(1, 0, false);
        t.delay_before_retry = Duration::from_secs(30);
        let mut s = up();
        let st = step(&mut s, &t, false);
        assert_eq!(st.delay, Duration::from_secs(30));
        let st = step(&mut s, &t, false);
        assert!(!st.counted);
        assert_eq!(st.delay, Duration::from_secs(30));
    }
}
