//! keepalived's order of the start-up FAULT lines. keepalived 2.2.7 logs them in passes
//! over every instance (vrrp_track.c `initialise_tracking_priorities`, then vrrp.c):
//! interfaces down, tracked files, tracked processes, each instance's missing address and
//! scripts (then its priority change), the sync groups, and last each faulted instance's
//! `(NAME) entering FAULT state`. Our instances and groups start one by one, so the VRRP
//! child collects the lines of its start and puts them in that order before logging them.

use std::cell::RefCell;

use tracing::info;

thread_local! {
    static CAPTURE: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// From now on, [`line`] collects instead of logging.
pub fn begin() {
    CAPTURE.with(|c| *c.borrow_mut() = Some(Vec::new()));
}

/// Logs `l`, or collects it during the start.
pub fn line(l: &str) {
    let kept = CAPTURE.with(|c| match c.borrow_mut().as_mut() {
        Some(v) => {
            v.push(l.to_owned());
            true
        }
        None => false,
    });
    if !kept {
        info!("{l}");
    }
}

/// Logs what was collected, in keepalived's order for the instances `names` (in
/// configuration order) and the interfaces `ifaces` (in index order), and stops
/// collecting.
pub fn flush(names: &[&str], ifaces: &[&str]) {
    let lines = CAPTURE.with(|c| c.borrow_mut().take()).unwrap_or_default();
    for l in order(lines, names, ifaces) {
        info!("{l}");
    }
}

/// Sorts start-up lines into keepalived's passes (interfaces down by interface, then by
/// instance); lines of no pass keep their order, after them.
pub fn order(lines: Vec<String>, names: &[&str], ifaces: &[&str]) -> Vec<String> {
    let rank = |l: &str| {
        l.strip_prefix('(')
            .and_then(|r| r.split_once(')'))
            .and_then(|(n, _)| names.iter().position(|x| *x == n))
            .unwrap_or(usize::MAX)
    };
    let iface = |l: &str| {
        l.split_once("(interface ")
            .and_then(|(_, r)| r.strip_suffix(" down)"))
            .and_then(|n| ifaces.iter().position(|x| *x == n))
            .unwrap_or(usize::MAX)
    };
    let mut keyed: Vec<((u8, usize, usize), usize, String)> = lines
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let r = rank(&l);
            let key = if l.contains("entering FAULT state (interface ") {
                (1, iface(&l), r)
            } else if l.contains("entering FAULT state (tracked file ") {
                (2, 0, 0)
            } else if l.contains("entering FAULT state (tracked process ") {
                (3, 0, 0)
            } else if l.contains("entering FAULT state (no IPv") {
                (4, r, 0)
            } else if l.contains("entering FAULT state due to script ") {
                (4, r, 1)
            } else if l.contains(") Changing effective priority from ") {
                (4, r, 2)
            } else if l.starts_with("VRRP_Group(") && l.ends_with(" to FAULT state") {
                (5, 0, 0)
            } else if l.ends_with(") entering FAULT state") {
                (6, r, 0)
            } else {
                (7, 0, 0)
            };
            (key, i, l)
        })
        .collect();
    keyed.sort_by_key(|(k, i, _)| (*k, *i));
    keyed.into_iter().map(|(_, _, l)| l).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_over_every_instance() {
        let got = order(
            [
                "(VI_2) entering FAULT state (tracked process p quorum not achieved)",
                "(VI_1): entering FAULT state (tracked file f has status -254)",
                "(VI_1): entering FAULT state (interface eth0 down)",
                "(VI_1) entering FAULT state",
                "(VI_1) removing VIPs.",
                "(VI_2) entering FAULT state (no IPv4 address for interface)",
                "(VI_2) entering FAULT state",
                "VRRP_Group(G): Syncing VI_1 to FAULT state",
                "(VI_3): entering FAULT state (interface eth1 down)",
                "(VI_2): entering FAULT state (interface eth0 down)",
            ]
            .map(String::from)
            .to_vec(),
            &["VI_1", "VI_2", "VI_3"],
            &["lo", "eth1", "eth0"],
        );
        assert_eq!(
            got,
            [
                "(VI_3): entering FAULT state (interface eth1 down)",
                "(VI_1): entering FAULT state (interface eth0 down)",
                "(VI_2): entering FAULT state (interface eth0 down)",
                "(VI_1): entering FAULT state (tracked file f has status -254)",
                "(VI_2) entering FAULT state (tracked process p quorum not achieved)",
                "(VI_2) entering FAULT state (no IPv4 address for interface)",
                "VRRP_Group(G): Syncing VI_1 to FAULT state",
                "(VI_1) entering FAULT state",
                "(VI_2) entering FAULT state",
                "(VI_1) removing VIPs.",
            ]
        );
    }
}
