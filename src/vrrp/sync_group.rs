//! Sync groups: several instances that change state together.
//!
//! [`SyncGroup`] is the only one to feed its member [`Machine`]s events (they are lent to
//! each step through [`Members`]; the instances own them), so it sees each member's
//! transition as it happens and drags the others along, as keepalived's `vrrp_sync.c` does:
//! * MASTER only if every member wants MASTER; a member whose down timer expires while
//!   another does not stays BACKUP (wanting MASTER) and re-arms its timer;
//! * one member to BACKUP or FAULT takes the others along;
//! * the group notifies on its own state changes, followers do not notify.
#![forbid(unsafe_code)]

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::machine::{Action, InstanceConfig, Instant, Machine, RxAdvert, State, TrackChange};

/// Effects of a group: its members' actions (tagged with the member index) and its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupAction {
    /// An action of member `member` (index into the group's [`Members`]).
    Instance { member: usize, action: Action },
    /// Group notify (`GROUP <name> <state> 0`, group notify_* scripts, FIFO, mail).
    Notify { state: State },
    /// A group log line with keepalived's wording.
    Log(String),
}

/// The member machines of a group, in member order, owned by the caller (the engine's
/// instances) and lent to each step.
pub trait Members {
    fn count(&self) -> usize;
    fn get(&self, k: usize) -> Option<&Machine>;
    fn get_mut(&mut self, k: usize) -> Option<&mut Machine>;
}

impl Members for Vec<Machine> {
    fn count(&self) -> usize {
        self.len()
    }
    fn get(&self, k: usize) -> Option<&Machine> {
        self.as_slice().get(k)
    }
    fn get_mut(&mut self, k: usize) -> Option<&mut Machine> {
        self.as_mut_slice().get_mut(k)
    }
}

/// A running sync group.
#[derive(Debug, Clone)]
pub struct SyncGroup {
    name: String,
    state: State,
    actions: VecDeque<GroupAction>,
}

impl SyncGroup {
    /// Takes freshly started members (their startup actions are passed through) and sets
    /// the group's initial state: FAULT if any member is in FAULT (the others follow),
    /// else BACKUP (groups in BACKUP/FAULT notify at start).
    pub fn new(name: impl Into<String>, m: &mut dyn Members, now: Instant) -> SyncGroup {
        let rank = (0..m.count()).collect();
        SyncGroup::new_ranked(name, m, now, rank)
    }

    /// [`SyncGroup::new`] where `rank[k]` is member `k`'s place among all instances (the
    /// configuration's order, which keepalived's start-up FAULT lines follow).
    pub fn new_ranked(
        name: impl Into<String>,
        m: &mut dyn Members,
        now: Instant,
        rank: Vec<usize>,
    ) -> SyncGroup {
        let mut g = SyncGroup {
            name: name.into(),
            state: State::Backup,
            actions: VecDeque::new(),
        };
        for i in 0..m.count() {
            if let Some(x) = m.get_mut(i) {
                x.set_sync_member(true);
            }
            g.drain(now, m, i);
        }
        let by_rank = |k: &usize| rank.get(*k).copied().unwrap_or(usize::MAX);
        let first = (0..m.count())
            .filter(|&k| m.get(k).is_some_and(|x| x.state() == State::Fault))
            .min_by_key(by_rank);
        if let Some(first) = first {
            g.fault_at_start(m, first, &rank);
        }
        g.state = if any(m, |x| x.state() == State::Fault) {
            State::Fault
        } else {
            State::Backup
        };
        // keepalived notifies the group's initial state before its members' (observed on
        // the FIFO: `GROUP "G1" BACKUP 0` precedes `INSTANCE "VI_1" BACKUP 100`).
        let first_member_notify = g
            .actions
            .iter()
            .position(|a| {
                matches!(
                    a,
                    GroupAction::Instance {
                        action: Action::Notify { .. },
                        ..
                    }
                )
            })
            .unwrap_or(g.actions.len());
        g.actions
            .insert(first_member_notify, GroupAction::Notify { state: g.state });
        g
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The earliest deadline of any member.
    pub fn poll_timeout(&self, m: &dyn Members) -> Option<Instant> {
        (0..m.count())
            .filter_map(|k| m.get(k).and_then(Machine::poll_timeout))
            .min()
    }

    pub fn poll_action(&mut self) -> Option<GroupAction> {
        self.actions.pop_front()
    }

    /// An advert for member `member`.
    pub fn handle_advert(
        &mut self,
        now: Instant,
        m: &mut dyn Members,
        member: usize,
        adv: RxAdvert,
    ) {
        if let Some(x) = m.get_mut(member) {
            x.handle_advert(now, adv);
            self.after(now, m, member);
        }
    }

    /// A tracker change for one member.
    pub fn handle_track(
        &mut self,
        now: Instant,
        m: &mut dyn Members,
        member: usize,
        change: TrackChange,
    ) {
        if let Some(x) = m.get_mut(member) {
            x.handle_track(now, change);
            self.after(now, m, member);
        }
    }

    /// A reload gave a member new parameters (priority, intervals...): its machine takes
    /// them as a solo instance's does, and the group follows what that changes.
    pub fn handle_reload(
        &mut self,
        now: Instant,
        m: &mut dyn Members,
        member: usize,
        cfg: InstanceConfig,
    ) {
        if let Some(x) = m.get_mut(member) {
            x.handle_reload(now, cfg);
            self.after(now, m, member);
        }
    }

    /// A group-level tracker (`track_*` inside `vrrp_sync_group`) applies to every member.
    pub fn handle_group_track(&mut self, now: Instant, m: &mut dyn Members, change: TrackChange) {
        for i in 0..m.count() {
            if let Some(x) = m.get_mut(i) {
                x.handle_track(now, change.clone());
                self.after(now, m, i);
            }
        }
    }

    /// Fires every member timer that is due.
    pub fn handle_timeout(&mut self, now: Instant, m: &mut dyn Members) {
        for i in 0..m.count() {
            let due = m
                .get(i)
                .and_then(Machine::poll_timeout)
                .is_some_and(|t| t <= now);
            if let Some(x) = m.get_mut(i).filter(|_| due) {
                x.handle_timeout(now);
                self.after(now, m, i);
            }
        }
    }

    /// Shutdown: every member stops, then the group notifies STOP.
    pub fn handle_shutdown(&mut self, now: Instant, m: &mut dyn Members) {
        for i in 0..m.count() {
            if let Some(x) = m.get_mut(i) {
                x.handle_shutdown(now);
            }
            self.drain(now, m, i);
        }
        if self.state != State::Stop {
            self.state = State::Stop;
            self.actions
                .push_back(GroupAction::Notify { state: State::Stop });
        }
    }

    /// A reload that changes the groups: members in `gone` were removed from the
    /// configuration (notified FAULT/DELETED), the others stop; the group notifies STOP
    /// only if it still exists (observed: keepalived 2.2.7 sends no notify for a removed
    /// group).
    pub fn handle_reload_removal(
        &mut self,
        now: Instant,
        m: &mut dyn Members,
        gone: &[bool],
        group_gone: bool,
    ) {
        for i in 0..m.count() {
            if let Some(x) = m.get_mut(i) {
                if gone.get(i).copied().unwrap_or(false) {
                    x.handle_removed(now);
                } else {
                    x.handle_shutdown(now);
                }
            }
            self.drain(now, m, i);
        }
        if self.state != State::Stop {
            self.state = State::Stop;
            if !group_gone {
                self.actions
                    .push_back(GroupAction::Notify { state: State::Stop });
            }
        }
    }

    /// Passes member `i`'s actions through, then applies the group rules to its new state.
    fn after(&mut self, now: Instant, m: &mut dyn Members, i: usize) {
        self.drain(now, m, i);
        let Some(x) = m.get(i) else {
            return;
        };
        let (state, want) = (x.state(), x.want_state());
        match state {
            State::Fault if self.state != State::Fault => {
                self.sync_all(now, m, Some(i), State::Fault);
                self.set_state(State::Fault);
            }
            State::Backup => {
                // Left MASTER, or the last fault cleared: everyone to BACKUP.
                let all_clear = !any(m, Machine::has_fault);
                if self.state == State::Master || (self.state == State::Fault && all_clear) {
                    self.sync_all(now, m, Some(i), State::Backup);
                    self.set_state(State::Backup);
                } else if want == State::Master && self.can_goto_master(m, i) {
                    if let Some(x) = m.get_mut(i) {
                        x.sync_to(now, State::Master, true);
                    }
                    self.drain(now, m, i);
                    self.sync_all(now, m, Some(i), State::Master);
                    self.set_state(State::Master);
                }
            }
            State::Master if self.state != State::Master => {
                self.sync_all(now, m, Some(i), State::Master);
                self.set_state(State::Master);
            }
            _ => {}
        }
    }

    /// keepalived `vrrp_sync_can_goto_master`: the group is MASTER already, or every other
    /// member wants MASTER too.
    fn can_goto_master(&self, m: &dyn Members, i: usize) -> bool {
        self.state == State::Master
            || (0..m.count())
                .all(|j| j == i || m.get(j).is_some_and(|x| x.want_state() == State::Master))
    }

    /// keepalived's start-up order (vrrp_track.c, vrrp.c): the members' reasons, then
    /// `VRRP_Group(G): Syncing FIRST to FAULT state` naming the first member found in
    /// FAULT, then `(NAME) entering FAULT state` for every member, in `rank` order.
    fn fault_at_start(&mut self, m: &mut dyn Members, first: usize, rank: &[usize]) {
        let name = m
            .get(first)
            .map(|x| x.config().name.clone())
            .unwrap_or_default();
        for j in 0..m.count() {
            if let Some(x) = m.get_mut(j) {
                x.fault_at_start();
            }
            self.drain_plain(m, j);
        }
        let line = |a: &GroupAction| match a {
            GroupAction::Instance {
                action: Action::Log(l),
                ..
            } => Some(l.clone()),
            _ => None,
        };
        let is_bare =
            |a: &GroupAction| line(a).is_some_and(|l| l.ends_with(") entering FAULT state"));
        let is_reason = |a: &GroupAction| {
            line(a).is_some_and(|l| {
                l.contains("entering FAULT state (") || l.contains("entering FAULT state due to")
            })
        };
        let all: Vec<GroupAction> = self.actions.drain(..).collect();
        let at = all
            .iter()
            .position(|a| is_bare(a) || is_reason(a))
            .unwrap_or(all.len());
        let (mut reasons, mut bare, mut rest) = (Vec::new(), Vec::new(), Vec::new());
        for a in all {
            if is_reason(&a) {
                reasons.push(a);
            } else if is_bare(&a) {
                bare.push(a);
            } else {
                rest.push(a);
            }
        }
        bare.sort_by_key(|a| match a {
            GroupAction::Instance { member, .. } => {
                rank.get(*member).copied().unwrap_or(usize::MAX)
            }
            _ => usize::MAX,
        });
        let tail = rest.split_off(at.min(rest.len()));
        self.actions.extend(rest);
        self.actions.extend(reasons);
        self.actions.push_back(GroupAction::Log(format!(
            "VRRP_Group({}): Syncing {name} to FAULT state",
            self.name
        )));
        self.actions.extend(bare);
        self.actions.extend(tail);
    }

    fn sync_all(
        &mut self,
        now: Instant,
        m: &mut dyn Members,
        except: Option<usize>,
        target: State,
    ) {
        self.actions.push_back(GroupAction::Log(format!(
            "VRRP_Group({}) Syncing instances to {} state",
            self.name, target
        )));
        for j in 0..m.count() {
            if Some(j) == except {
                continue;
            }
            if let Some(x) = m.get_mut(j) {
                x.sync_to(now, target, true);
            }
            self.drain(now, m, j);
        }
    }

    fn set_state(&mut self, s: State) {
        if self.state != s {
            self.state = s;
            self.actions.push_back(GroupAction::Notify { state: s });
        }
    }

    /// Moves member `i`'s queued actions to the group queue; a MASTER that heard a
    /// lower-priority advert makes its siblings send their lower-priority GARPs too.
    fn drain(&mut self, now: Instant, m: &mut dyn Members, i: usize) {
        let mut lower_prio = false;
        while let Some(action) = m.get_mut(i).and_then(Machine::poll_action) {
            lower_prio |= action == Action::MasterRxLowerPri;
            self.actions
                .push_back(GroupAction::Instance { member: i, action });
        }
        if lower_prio {
            for j in 0..m.count() {
                if j == i {
                    continue;
                }
                if let Some(x) = m.get_mut(j) {
                    x.send_lower_prio_garps(now);
                }
                self.drain_plain(m, j);
            }
        }
    }

    fn drain_plain(&mut self, m: &mut dyn Members, j: usize) {
        while let Some(action) = m.get_mut(j).and_then(Machine::poll_action) {
            self.actions
                .push_back(GroupAction::Instance { member: j, action });
        }
    }
}

/// Whether some member satisfies `f`.
fn any(m: &dyn Members, f: impl Fn(&Machine) -> bool) -> bool {
    (0..m.count()).any(|k| m.get(k).is_some_and(&f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::machine::{FaultCause, InstanceConfig};
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    fn ms(n: u64) -> Instant {
        Instant(Duration::from_millis(n))
    }

    /// A group with the machines it drives (the engine keeps them in its instances).
    struct Owned {
        sg: SyncGroup,
        ms: Vec<Machine>,
    }

    impl Owned {
        fn new(ms: Vec<Machine>) -> Owned {
            let mut ms = ms;
            let sg = SyncGroup::new("G1", &mut ms, Instant::ZERO);
            Owned { sg, ms }
        }
        fn members(&self) -> &[Machine] {
            &self.ms
        }
        fn state(&self) -> State {
            self.sg.state()
        }
        fn poll_action(&mut self) -> Option<GroupAction> {
            self.sg.poll_action()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.sg.poll_timeout(&self.ms)
        }
        fn handle_advert(&mut self, now: Instant, k: usize, a: RxAdvert) {
            self.sg.handle_advert(now, &mut self.ms, k, a)
        }
        fn handle_track(&mut self, now: Instant, k: usize, c: TrackChange) {
            self.sg.handle_track(now, &mut self.ms, k, c)
        }
        fn handle_timeout(&mut self, now: Instant) {
            self.sg.handle_timeout(now, &mut self.ms)
        }
        fn handle_shutdown(&mut self, now: Instant) {
            self.sg.handle_shutdown(now, &mut self.ms)
        }
        fn handle_reload_removal(&mut self, now: Instant, gone: &[bool], group_gone: bool) {
            self.sg
                .handle_reload_removal(now, &mut self.ms, gone, group_gone)
        }
    }

    fn group(prio_a: u8, prio_b: u8) -> Owned {
        let a = Machine::new(InstanceConfig::new("VI_A", 1, prio_a), Instant::ZERO);
        let b = Machine::new(InstanceConfig::new("VI_B", 2, prio_b), Instant::ZERO);
        Owned::new(vec![a, b])
    }

    fn drain(g: &mut Owned) -> Vec<GroupAction> {
        std::iter::from_fn(|| g.poll_action()).collect()
    }

    /// Log lines (instance and group) in order.
    fn logs(a: &[GroupAction]) -> Vec<String> {
        a.iter()
            .filter_map(|a| match a {
                GroupAction::Log(l)
                | GroupAction::Instance {
                    action: Action::Log(l),
                    ..
                } => Some(l.clone()),
                _ => None,
            })
            .collect()
    }

    fn notifies(a: &[GroupAction]) -> Vec<String> {
        a.iter()
            .filter_map(|a| match a {
                GroupAction::Notify { state } => Some(format!("GROUP {state}")),
                GroupAction::Instance {
                    member,
                    action: Action::Notify { state, .. },
                } => Some(format!("{member} {state}")),
                _ => None,
            })
            .collect()
    }

    fn adv(priority: u8) -> RxAdvert {
        RxAdvert {
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
            priority,
            adver_int: Duration::from_secs(1),
        }
    }

    fn run_until(g: &mut Owned, end: Instant) {
        while let Some(t) = g.poll_timeout().filter(|&t| t <= end) {
            g.handle_timeout(t);
        }
    }

    #[test]
    fn master_only_when_all_want_it() {
        // A has the shorter down timer; B keeps hearing a master, so A is held back.
        let mut g = group(200, 100);
        let start = drain(&mut g);
        assert_eq!(
            notifies(&start),
            vec!["GROUP BACKUP", "0 BACKUP", "1 BACKUP"]
        );
        for s in 1..=8u64 {
            g.handle_advert(ms(s * 1000), 1, adv(150));
            run_until(&mut g, ms(s * 1000));
        }
        assert_eq!(g.members()[0].state(), State::Backup);
        assert_eq!(g.members()[0].want_state(), State::Master);
        assert!(
            g.members()[0].poll_timeout().is_some(),
            "held member re-arms"
        );
        drain(&mut g);
        // The master of B goes away: B times out and the whole group goes MASTER.
        run_until(&mut g, ms(20_000));
        assert_eq!(g.state(), State::Master);
        assert!(g.members().iter().all(|m| m.state() == State::Master));
        let a = drain(&mut g);
        let l = logs(&a);
        assert_eq!(
            l,
            vec![
                "(VI_B) Entering MASTER STATE",
                "VRRP_Group(G1) Syncing instances to MASTER state",
                "(VI_A) Entering MASTER STATE",
            ]
        );
        // B notifies, A only follows: no instance notify for A.
        assert_eq!(notifies(&a), vec!["1 MASTER", "0 MASTER", "GROUP MASTER"]);
    }

    #[test]
    fn one_member_fault_takes_all_and_recovers_to_backup() {
        let mut g = group(150, 150);
        run_until(&mut g, ms(10_000));
        assert_eq!(g.state(), State::Master);
        drain(&mut g);
        let cause = FaultCause::Script("chk".into());
        g.handle_track(
            ms(10_100),
            0,
            TrackChange::Fault {
                cause: cause.clone(),
                active: true,
            },
        );
        let a = drain(&mut g);
        assert_eq!(
            logs(&a),
            vec![
                "(VI_A) Entering FAULT STATE",
                "VRRP_Group(G1) Syncing instances to FAULT state",
                "(VI_B) Entering FAULT STATE",
            ]
        );
        // Both members release with priority 0.
        let zero = a
            .iter()
            .filter(|x| {
                matches!(
                    x,
                    GroupAction::Instance {
                        action: Action::SendAdvert { priority: 0 },
                        ..
                    }
                )
            })
            .count();
        assert_eq!(zero, 2);
        assert_eq!(notifies(&a), vec!["0 FAULT", "1 FAULT", "GROUP FAULT"]);
        assert!(g.members().iter().all(|m| m.state() == State::Fault));
        g.handle_track(
            ms(12_000),
            0,
            TrackChange::Fault {
                cause,
                active: false,
            },
        );
        let a = drain(&mut g);
        assert_eq!(
            logs(&a),
            vec![
                "(VI_A) Entering BACKUP STATE",
                "VRRP_Group(G1) Syncing instances to BACKUP state",
                "(VI_B) Entering BACKUP STATE",
            ]
        );
        assert_eq!(g.state(), State::Backup);
    }

    #[test]
    fn one_member_to_backup_takes_the_others() {
        let mut g = group(100, 100);
        run_until(&mut g, ms(10_000));
        assert_eq!(g.state(), State::Master);
        drain(&mut g);
        g.handle_advert(ms(10_500), 1, adv(200));
        assert!(g.members().iter().all(|m| m.state() == State::Backup));
        let a = drain(&mut g);
        assert_eq!(
            logs(&a)[1..],
            [
                "(VI_B) Entering BACKUP STATE",
                "VRRP_Group(G1) Syncing instances to BACKUP state",
                "(VI_A) Entering BACKUP STATE",
            ]
        );
        assert_eq!(notifies(&a), vec!["1 BACKUP", "0 BACKUP", "GROUP BACKUP"]);
    }

    #[test]
    fn lower_prio_advert_makes_siblings_garp() {
        let mut g = group(100, 100);
        run_until(&mut g, ms(10_000));
        drain(&mut g);
        g.handle_advert(ms(10_500), 0, adv(50));
        let garps: Vec<usize> = drain(&mut g)
            .iter()
            .filter_map(|a| match a {
                GroupAction::Instance {
                    member,
                    action: Action::SendGarp { .. },
                } => Some(*member),
                _ => None,
            })
            .collect();
        assert_eq!(garps, vec![0, 1]);
    }

    #[test]
    fn reload_removal_notifies_removed_members_and_a_surviving_group() {
        let mut g = group(100, 90);
        drain(&mut g);
        g.handle_reload_removal(ms(1), &[true, false], true);
        let a = drain(&mut g);
        assert_eq!(notifies(&a), vec!["1 STOP"]);
        assert!(a.iter().any(|x| matches!(
            x,
            GroupAction::Instance {
                member: 0,
                action: Action::Removed { .. }
            }
        )));
        let mut g = group(100, 90);
        drain(&mut g);
        g.handle_reload_removal(ms(1), &[false, false], false);
        assert_eq!(
            notifies(&drain(&mut g)),
            vec!["0 STOP", "1 STOP", "GROUP STOP"]
        );
    }

    #[test]
    fn startup_with_faulty_member_and_shutdown() {
        let a = Machine::start(
            InstanceConfig::new("VI_A", 1, 100),
            [TrackChange::Fault {
                cause: FaultCause::Interface("eth1".into()),
                active: true,
            }],
            Instant::ZERO,
        );
        let b = Machine::new(InstanceConfig::new("VI_B", 2, 100), Instant::ZERO);
        let mut g = Owned::new(vec![a, b]);
        assert_eq!(g.state(), State::Fault);
        assert!(g.members().iter().all(|m| m.state() == State::Fault));
        // keepalived 2.2.7's start-up wording and order (observed, tests/vrrp_faults.rs).
        let lines: Vec<String> = logs(&drain(&mut g))
            .into_iter()
            .filter(|l| l.contains("FAULT"))
            .collect();
        assert_eq!(
            lines,
            vec![
                "(VI_A): entering FAULT state (interface eth1 down)",
                "VRRP_Group(G1): Syncing VI_A to FAULT state",
                "(VI_A) entering FAULT state",
                "(VI_B) entering FAULT state",
            ]
        );
        g.handle_shutdown(ms(1));
        assert_eq!(
            notifies(&drain(&mut g)),
            vec!["0 STOP", "1 STOP", "GROUP STOP"]
        );
    }
}
