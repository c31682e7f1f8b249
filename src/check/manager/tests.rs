//! Decisions driven through a simulated clock: configurations are read by the real
//! loader, results are injected, outputs compared line by line.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::config::{load_str, LoadOptions};

fn manager(text: &str) -> Manager {
    let loaded = load_str(text, Path::new("/t.conf"), &LoadOptions::default());
    Manager::new(Rc::new(loaded.config.check), Globals::default(), 42)
}

fn at(s: u64) -> Instant {
    Instant(Duration::from_secs(s))
}

const ID: CheckerId = CheckerId {
    vs: 0,
    rs: 0,
    checker: 0,
};

fn rs(n: usize) -> CheckerId {
    CheckerId {
        vs: 0,
        rs: n,
        checker: 0,
    }
}

fn drain(m: &mut Manager) -> Vec<Output> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

fn logs(m: &mut Manager) -> Vec<String> {
    drain(m)
        .into_iter()
        .filter_map(|o| match o {
            Output::Log(l) => Some(l),
            _ => None,
        })
        .collect()
}

/// IPVS operations as short strings: `add 192.0.2.1:80 w1`, `set ... w0`, `del ...`.
fn ops(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Ipvs(IpvsOp::AddDest { dest, .. }) => {
                Some(format!("add {}:{} w{}", dest.addr, dest.port, dest.weight))
            }
            Output::Ipvs(IpvsOp::SetDest { dest, .. }) => {
                Some(format!("set {}:{} w{}", dest.addr, dest.port, dest.weight))
            }
            Output::Ipvs(IpvsOp::DelDest { dest, .. }) => {
                Some(format!("del {}:{}", dest.addr, dest.port))
            }
            _ => None,
        })
        .collect()
}

fn ok() -> CheckResult {
    CheckResult::up()
}

fn fail() -> CheckResult {
    CheckResult::down("failed")
}

const TCP_ONE: &str = "
virtual_server 192.0.2.100 80 {
  delay_loop 10
  lb_algo rr
  lb_kind NAT
  protocol TCP
  warmup 0
  real_server 192.0.2.1 80 {
    notify_down /bin/down.sh
    TCP_CHECK {
      connect_timeout 2
      retry 1
      delay_before_retry 3
    }
  }
}
";

#[test]
fn startup_adds_alive_servers_and_schedules_checks() {
    let mut m = manager(TCP_ONE);
    m.start(at(0));
    let out = drain(&mut m);
    assert_eq!(ops(&out), ["add 192.0.2.1:80 w1"]);
    // keepalived's BOOTSTRAP_DELAY: the first check a second after the start
    assert_eq!(m.poll_timeout(), Some(at(1)));
    assert!(m.due(at(0)).is_empty());
    assert_eq!(m.due(at(1)), vec![ID]);
    // a due checker is not due again until its result arrives
    assert_eq!(m.poll_timeout(), None);
    m.handle_result(at(0), ID, &ok());
    assert_eq!(
        logs(&mut m),
        ["TCP connection to [192.0.2.1]:tcp:80 success."]
    );
    assert_eq!(m.poll_timeout(), Some(at(10)));
}

#[test]
fn retry_then_down_notifies_and_recovery() {
    let mut m = manager(TCP_ONE);
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(0), ID, &ok());
    drain(&mut m);
    // retry 1: once the checker has run, a failure only schedules a retry
    m.handle_result(at(0), ID, &fail());
    assert!(drain(&mut m).is_empty());
    assert_eq!(m.poll_timeout(), Some(at(3)));
    assert!(m.is_alive(0, 0));
    m.handle_result(at(3), ID, &fail());
    let out = drain(&mut m);
    assert_eq!(ops(&out), ["del 192.0.2.1:80"]);
    assert_eq!(
        out[0],
        Output::Log("TCP_CHECK on service [192.0.2.1]:tcp:80 failed after 1 retries.".into())
    );
    assert!(out.contains(&Output::Log(
        "Removing service [192.0.2.1]:tcp:80 from VS [192.0.2.100]:tcp:80".into()
    )));
    assert!(out.contains(&Output::Log(
        "Lost quorum 1-0=1 > 0 for VS [192.0.2.100]:tcp:80".into()
    )));
    assert!(out.contains(&Output::Fifo(
        "RS [192.0.2.1]:tcp:80 [192.0.2.100]:tcp:80 DOWN\n".into()
    )));
    assert!(out.contains(&Output::Fifo("VS [192.0.2.100]:tcp:80 DOWN\n".into())));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Script(s) if s.text == "/bin/down.sh")));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Mail { subject, body }
        if subject == "Realserver [192.0.2.1]:tcp:80 of virtual server [192.0.2.100]:tcp:80 - DOWN"
        && body == "=> TCP CHECK failed on service <=")));
    assert!(!m.is_alive(0, 0));
    assert_eq!(m.poll_timeout(), Some(at(13)));
    // while down keepalived still alternates retry and delay_loop, silently
    m.handle_result(at(13), ID, &fail());
    assert_eq!(m.poll_timeout(), Some(at(16)));
    m.handle_result(at(16), ID, &fail());
    assert_eq!(m.poll_timeout(), Some(at(26)));
    assert!(drain(&mut m).is_empty());
    // recovery
    m.handle_result(at(26), ID, &ok());
    let out = drain(&mut m);
    assert_eq!(ops(&out), ["add 192.0.2.1:80 w1"]);
    assert_eq!(
        out[0],
        Output::Log("TCP connection to [192.0.2.1]:tcp:80 success.".into())
    );
    assert!(out.contains(&Output::Log(
        "Adding service [192.0.2.1]:tcp:80 to VS [192.0.2.100]:tcp:80".into()
    )));
    assert!(out.contains(&Output::Log(
        "Gained quorum 1+0=1 <= 1 for VS [192.0.2.100]:tcp:80".into()
    )));
    assert_eq!(m.poll_timeout(), Some(at(36)));
}

/// keepalived presets retry_it to retry (observed with 2.2.7): before any result one
/// failure takes the server down, and the line has no retry count for TCP_CHECK (HTTP_GET
/// and MISC_CHECK print their configured retries).
#[test]
fn the_first_failure_is_enough() {
    let mut m = manager(TCP_ONE);
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(0), ID, &fail());
    let out = drain(&mut m);
    assert_eq!(ops(&out), ["del 192.0.2.1:80"]);
    assert_eq!(
        out.iter()
            .filter_map(|o| match o {
                Output::Log(l) => Some(l.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>(),
        [
            "TCP_CHECK on service [192.0.2.1]:tcp:80 failed.",
            "Removing service [192.0.2.1]:tcp:80 from VS [192.0.2.100]:tcp:80",
            "Lost quorum 1-0=1 > 0 for VS [192.0.2.100]:tcp:80",
        ]
    );
    // alpha: the first failure is logged too (the server was never added)
    let mut m = manager(&TCP_ONE.replace("warmup 0", "warmup 0\n  alpha"));
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(0), ID, &fail());
    assert_eq!(
        logs(&mut m),
        ["TCP_CHECK on service [192.0.2.1]:tcp:80 failed."]
    );
    // MISC_CHECK with retry 2
    let misc = "
virtual_server 192.0.2.22 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.1 8022 {
    MISC_CHECK {
      misc_path /bin/false
      retry 2
    }
  }
}
";
    let mut m = manager(misc);
    m.start(at(0));
    drain(&mut m);
    let res = super::super::misc::result_of(Some(1), false);
    m.handle_result(at(0), ID, &res);
    assert_eq!(
        logs(&mut m),
        [
            "Misc check for [[198.51.100.1]:tcp:8022 VS [192.0.2.22]:tcp:80] by [/bin/false] failed after 2 retries (exited with status 1).",
            "Removing service [198.51.100.1]:tcp:8022 from VS [192.0.2.22]:tcp:80",
            "Lost quorum 1-0=1 > 0 for VS [192.0.2.22]:tcp:80",
        ]
    );
    // with log_all_failures, an up server: the scheduled check announces the retries,
    // each retry but the last says which it was (keepalived's check_misc.c)
    let mut m = manager(&misc.replace("retry 2", "retry 2\n      log_all_failures"));
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(0), ID, &ok());
    let _ = logs(&mut m);
    let prefix = "Misc check for [[198.51.100.1]:tcp:8022 VS [192.0.2.22]:tcp:80] by [/bin/false]";
    let mut seen = Vec::new();
    for (t, end) in [
        (10, super::super::misc::End::Exited(3)),
        (11, super::super::misc::End::Signal(9)),
        (12, super::super::misc::End::TimedOut),
    ] {
        m.handle_result(at(t), ID, &super::super::misc::result_of_end(end, false));
        seen.extend(logs(&mut m).into_iter().filter(|l| l.starts_with(prefix)));
    }
    let seen: Vec<String> = seen
        .iter()
        .map(|l| l.trim_start_matches(prefix).to_owned())
        .collect();
    assert_eq!(
        seen,
        [
            " failed, will do 2 retries (exited with status 3).",
            " failed on retry 1/2 (due to signal 9).",
            " timed out after 2 retries.",
        ]
    );
    // retry 0
    let mut m = manager(&misc.replace("retry 2", "retry 0"));
    m.start(at(0));
    drain(&mut m);
    m.handle_result(
        at(0),
        ID,
        &super::super::misc::result_of_end(super::super::misc::End::TimedOut, false),
    );
    assert_eq!(
        logs(&mut m).first().map(String::as_str),
        Some(format!("{prefix} timed out with retry disabled.").as_str())
    );
}

#[test]
fn a_first_success_confirms_silently_only_after_logging() {
    let mut m = manager(TCP_ONE);
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(0), ID, &ok());
    assert_eq!(
        logs(&mut m),
        ["TCP connection to [192.0.2.1]:tcp:80 success."]
    );
    m.handle_result(at(10), ID, &ok());
    assert!(drain(&mut m).is_empty());
}

#[test]
fn a_success_between_failures_resets_the_retry_count() {
    let mut m = manager(TCP_ONE);
    m.start(at(0));
    m.handle_result(at(0), ID, &ok());
    m.handle_result(at(10), ID, &fail());
    m.handle_result(at(13), ID, &ok());
    m.handle_result(at(23), ID, &fail());
    assert!(m.is_alive(0, 0));
    assert_eq!(m.poll_timeout(), Some(at(26)));
}

#[test]
fn alpha_servers_start_failed_and_inhibit_sets_weight_zero() {
    let mut m = manager(
        "
virtual_server 192.0.2.100 80 {
  lb_algo rr
  lb_kind DR
  protocol TCP
  alpha
  inhibit_on_failure
  real_server 192.0.2.1 80 {
    weight 3
    TCP_CHECK {
    }
  }
}
",
    );
    m.start(at(0));
    let out = drain(&mut m);
    // inhibited and failed: in the pool at weight 0; quorum down at startup is silent
    // without a sorry server
    assert_eq!(ops(&out), ["add 192.0.2.1:80 w0"]);
    assert!(!out.iter().any(|o| matches!(o, Output::Log(_))));
    assert!(!m.quorum_up(0));
    m.handle_result(at(1), ID, &ok());
    let out = drain(&mut m);
    assert_eq!(ops(&out), ["set 192.0.2.1:80 w3"]);
    assert!(out.contains(&Output::Log(
        "Enabling service [192.0.2.1]:tcp:80 of VS [192.0.2.100]:tcp:80".into()
    )));
    assert!(m.quorum_up(0));
    // up then failing twice (retry 1 default): disabled, weight 0, not removed
    m.handle_result(at(2), ID, &fail());
    m.handle_result(at(3), ID, &fail());
    let out = drain(&mut m);
    assert_eq!(ops(&out), ["set 192.0.2.1:80 w0"]);
    assert!(out.contains(&Output::Log(
        "Disabling service [192.0.2.1]:tcp:80 of VS [192.0.2.100]:tcp:80".into()
    )));
}

const SORRY: &str = "
virtual_server 192.0.2.100 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  quorum 2
  hysteresis 1
  quorum_up /bin/qup
  quorum_down /bin/qdown
  sorry_server 192.0.2.50 8080
  real_server 192.0.2.1 80 {
    TCP_CHECK {
      retry 0
    }
  }
  real_server 192.0.2.2 80 {
    TCP_CHECK {
      retry 0
    }
  }
  real_server 192.0.2.3 80 {
    TCP_CHECK {
      retry 0
    }
  }
}
";

#[test]
fn quorum_hysteresis_and_sorry_server() {
    let mut m = manager(SORRY);
    m.start(at(0));
    assert_eq!(
        ops(&drain(&mut m)),
        [
            "add 192.0.2.1:80 w1",
            "add 192.0.2.2:80 w1",
            "add 192.0.2.3:80 w1"
        ]
    );
    for n in 0..3 {
        m.handle_result(at(0), rs(n), &ok());
    }
    drain(&mut m);
    // W=2 and W=1 are within the hysteresis band (lost only below 2-1=1)
    m.handle_result(at(1), rs(0), &fail());
    m.handle_result(at(1), rs(1), &fail());
    let out = drain(&mut m);
    assert_eq!(ops(&out), ["del 192.0.2.1:80", "del 192.0.2.2:80"]);
    assert!(m.quorum_up(0));
    m.handle_result(at(2), rs(2), &fail());
    let out = drain(&mut m);
    assert_eq!(ops(&out), ["del 192.0.2.3:80", "add 192.0.2.50:8080 w1"]);
    let l: Vec<String> = out
        .iter()
        .filter_map(|o| match o {
            Output::Log(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        l,
        [
            "TCP_CHECK on service [192.0.2.3]:tcp:80 failed.",
            "Removing service [192.0.2.3]:tcp:80 from VS [192.0.2.100]:tcp:80",
            "Lost quorum 2-1=1 > 0 for VS [192.0.2.100]:tcp:80",
            "Adding sorry server [192.0.2.50]:tcp:8080 to VS [192.0.2.100]:tcp:80",
            "Removing alive servers from the pool for VS [192.0.2.100]:tcp:80",
        ]
    );
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Script(s) if s.text == "/bin/qdown")));
    assert!(m.sorry_active(0));
    // W=1, 2: below quorum+hysteresis=3: recorded, not pushed to IPVS
    m.handle_result(at(3), rs(0), &ok());
    m.handle_result(at(3), rs(1), &ok());
    let out = drain(&mut m);
    assert!(ops(&out).is_empty());
    assert!(out.contains(&Output::Log(
        "Adding service [192.0.2.1]:tcp:80 to VS [192.0.2.100]:tcp:80".into()
    )));
    assert!(!m.quorum_up(0));
    m.handle_result(at(4), rs(2), &ok());
    let out = drain(&mut m);
    assert_eq!(
        ops(&out),
        [
            "del 192.0.2.50:8080",
            "add 192.0.2.1:80 w1",
            "add 192.0.2.2:80 w1",
            "add 192.0.2.3:80 w1"
        ]
    );
    assert!(out.contains(&Output::Log(
        "Gained quorum 2+1=3 <= 3 for VS [192.0.2.100]:tcp:80".into()
    )));
    assert!(out.contains(&Output::Log(
        "Removing sorry server [192.0.2.50]:tcp:8080 from VS [192.0.2.100]:tcp:80".into()
    )));
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Script(s) if s.text == "/bin/qup")));
    assert!(!m.sorry_active(0));
}

#[test]
fn startup_without_quorum_uses_the_sorry_server_directly() {
    let mut m = manager(
        &SORRY
            .replace("quorum 2", "quorum 3")
            .replace("hysteresis 1", "alpha"),
    );
    m.start(at(0));
    let out = drain(&mut m);
    assert_eq!(ops(&out), ["add 192.0.2.50:8080 w1"]);
    assert!(out.contains(&Output::Log(
        "Starting with quorum down 3-0=3 > 0 for VS [192.0.2.100]:tcp:80".into()
    )));
    // alpha: the first failure confirms the down state and runs the notifies
    m.handle_result(at(1), rs(0), &fail());
    let out = drain(&mut m);
    assert!(out.contains(&Output::Fifo(
        "RS [192.0.2.1]:tcp:80 [192.0.2.100]:tcp:80 DOWN\n".into()
    )));
    assert!(ops(&out).is_empty());
}

#[test]
fn misc_dynamic_weight_and_file_check() {
    let mut m = manager(
        "
virtual_server 192.0.2.100 80 {
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.1 80 {
    weight 4
    MISC_CHECK {
      misc_path \"/bin/check arg\"
      misc_dynamic
    }
    FILE_CHECK {
      track_file tf
      weight 2
    }
  }
}
",
    );
    m.start(at(0));
    assert_eq!(ops(&drain(&mut m)), ["add 192.0.2.1:80 w4"]);
    let r = super::super::misc::result_of(Some(12), true);
    m.handle_result(at(1), ID, &r);
    let out = drain(&mut m);
    assert_eq!(ops(&out), ["set 192.0.2.1:80 w10"]);
    // keepalived names the program only (args[0])
    assert!(out.contains(&Output::Log(
        "Misc check for [[192.0.2.1]:tcp:80 VS [192.0.2.100]:tcp:80] by [/bin/check] succeeded."
            .into()
    )));
    assert!(out.contains(&Output::Log(
        "Changing weight from 4 to 10 for active service [192.0.2.1]:tcp:80 of VS [192.0.2.100]:tcp:80".into()
    )));
    let file = CheckerId {
        vs: 0,
        rs: 0,
        checker: 1,
    };
    m.handle_file(file, Some(-3));
    assert_eq!(ops(&drain(&mut m)), ["set 192.0.2.1:80 w7"]);
    assert_eq!(m.effective_weight(0, 0), 7);
    // a file value that takes the server down
    m.handle_file(file, None);
    assert_eq!(ops(&drain(&mut m)), ["del 192.0.2.1:80"]);
    assert!(!m.is_alive(0, 0));
    // misc with retry 0 (its default): a failure while up is final at once
    let mut m2 = manager(
        "
virtual_server 192.0.2.100 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.1 80 {
    MISC_CHECK {
      misc_path /bin/x
    }
  }
}
",
    );
    m2.start(at(0));
    m2.handle_result(at(0), ID, &ok());
    drain(&mut m2);
    m2.handle_result(at(60), ID, &super::super::misc::result_of(Some(1), false));
    assert_eq!(
        logs(&mut m2)[0],
        "Misc check for [[192.0.2.1]:tcp:80 VS [192.0.2.100]:tcp:80] by [/bin/x] failed with retry disabled (exited with status 1)."
    );
}

#[test]
fn warmup_spreads_the_first_checks() {
    let mut m = manager(&TCP_ONE.replace("warmup 0", "warmup 5"));
    m.start(at(100));
    let t = m.poll_timeout().unwrap();
    assert!(t >= at(101) && t <= at(106));
}

#[test]
fn sorry_server_inhibit_and_weights_while_sorry_serves() {
    let text = SORRY
        .replace("hysteresis 1", "hysteresis 0")
        .replace("8080\n", "8080\n  sorry_server_inhibit\n")
        .replace("quorum 2", "quorum 3");
    let mut m = manager(&text);
    m.start(at(0));
    // the inhibited sorry server is added at weight 0 after the quorum check
    assert_eq!(
        ops(&drain(&mut m)),
        [
            "add 192.0.2.1:80 w1",
            "add 192.0.2.2:80 w1",
            "add 192.0.2.3:80 w1",
            "add 192.0.2.50:8080 w0"
        ]
    );
    m.handle_result(at(0), rs(0), &fail());
    let out = drain(&mut m);
    assert_eq!(
        ops(&out),
        [
            "del 192.0.2.1:80",
            "del 192.0.2.2:80",
            "del 192.0.2.3:80",
            "set 192.0.2.50:8080 w1"
        ]
    );
    assert!(out.contains(&Output::Log(
        "Enabling sorry server [192.0.2.50]:tcp:8080 to VS [192.0.2.100]:tcp:80".into()
    )));
    m.handle_result(at(1), rs(0), &ok());
    let out = drain(&mut m);
    assert_eq!(
        ops(&out),
        [
            "set 192.0.2.50:8080 w0",
            "add 192.0.2.1:80 w1",
            "add 192.0.2.2:80 w1",
            "add 192.0.2.3:80 w1"
        ]
    );
    assert!(out.contains(&Output::Log(
        "Disabling sorry server [192.0.2.50]:tcp:8080 from VS [192.0.2.100]:tcp:80".into()
    )));
    assert!(out.contains(&Output::Log(
        "Adding alive servers to the pool for VS [192.0.2.100]:tcp:80".into()
    )));
}

#[test]
fn misc_dynamic_status_zero_restores_the_configured_weight() {
    let mut m = manager(
        "
virtual_server 192.0.2.100 80 {
  lb_algo wrr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.1 80 {
    weight 4
    MISC_CHECK {
      misc_path /bin/c
      misc_dynamic
    }
  }
}
",
    );
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(0), ID, &super::super::misc::result_of(Some(2), true));
    assert_eq!(ops(&drain(&mut m)), ["set 192.0.2.1:80 w0"]);
    m.handle_result(at(60), ID, &super::super::misc::result_of(Some(0), true));
    assert_eq!(ops(&drain(&mut m)), ["set 192.0.2.1:80 w4"]);
    assert_eq!(m.effective_weight(0, 0), 4);
}

#[test]
fn omega_runs_down_notifies_at_stop() {
    let conf = TCP_ONE.replace("warmup 0", "warmup 0\n  omega\n  quorum_down /bin/qdown");
    let mut m = manager(&conf);
    m.start(at(0));
    drain(&mut m);
    m.stop(true);
    let out = drain(&mut m);
    assert_eq!(
        out.iter()
            .filter_map(|o| match o {
                Output::Fifo(l) => Some(l.as_str()),
                Output::Script(s) => Some(s.text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>(),
        [
            "RS [192.0.2.1]:tcp:80 [192.0.2.100]:tcp:80 DOWN\n",
            "/bin/down.sh",
            "VS [192.0.2.100]:tcp:80 DOWN\n",
            "/bin/qdown",
        ]
    );
    assert!(
        ops(&out).is_empty(),
        "the service removes the servers itself"
    );
    // lvs_flush_on_stop: only the virtual server's notifies
    let mut m = manager(&conf);
    m.start(at(0));
    drain(&mut m);
    m.stop(false);
    let out = drain(&mut m);
    assert_eq!(out.len(), 2, "{out:?}");
    // without omega nothing runs: the shutdown line only
    let mut m = manager(TCP_ONE);
    m.start(at(0));
    drain(&mut m);
    m.stop(true);
    assert_eq!(
        drain(&mut m),
        [Output::Log(
            "Shutting down service [192.0.2.1]:tcp:80 from VS [192.0.2.100]:tcp:80".to_owned()
        )]
    );
}

/// keepalived 2.2.7 (observed in the IPVS VM): at startup every virtual server whose live
/// weight reaches quorum + hysteresis logs `Gained quorum` (its set_quorum_states runs
/// before any real server is alive), with or without checkers; the quorum_up notifies run
/// and the mail says `Starting with quorum up`.
#[test]
fn startup_logs_gained_quorum_when_the_weight_reaches_it() {
    let conf = "
global_defs {
  smtp_alert
}
virtual_server_group G1 {
  192.0.2.1 80
}
virtual_server group G1 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  quorum_up /bin/qup
  real_server 198.51.100.1 9001 {
    weight 1
  }
  real_server 198.51.100.2 9002 {
    weight 2
  }
}
virtual_server 192.0.2.4 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  quorum 2
  hysteresis 1
  real_server 198.51.100.1 9001 {
    weight 3
  }
}
virtual_server 192.0.2.5 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  quorum 2
  hysteresis 1
  real_server 198.51.100.1 9001 {
    weight 2
  }
}
virtual_server 192.0.2.20 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  alpha
  real_server 198.51.100.1 8020 {
    TCP_CHECK {
    }
  }
}
";
    let loaded = load_str(conf, Path::new("/t.conf"), &LoadOptions::default());
    let g = Globals {
        smtp_alert: Some(true),
        ..Globals::default()
    };
    let mut m = Manager::new(Rc::new(loaded.config.check), g, 42);
    m.start(at(0));
    let out = drain(&mut m);
    let lines: Vec<&str> = out
        .iter()
        .filter_map(|o| match o {
            Output::Log(l) | Output::Fifo(l) => Some(l.as_str()),
            Output::Script(s) => Some(s.text.as_str()),
            Output::Mail { body, .. } => Some(body.as_str()),
            Output::Ipvs(_) => None,
        })
        .collect();
    // W=2 < Q+H=3 without a sorry server, and the alpha server not yet up: silent
    assert_eq!(
        lines,
        [
            "Gained quorum 1+0=1 <= 3 for VS [G1]:0",
            "VS [G1]:0 UP\n",
            "/bin/qup",
            "=> Starting with quorum up 1+0=1 <= 3 <=",
            "Gained quorum 2+1=3 <= 3 for VS [192.0.2.4]:tcp:80",
            "VS [192.0.2.4]:tcp:80 UP\n",
            "=> Starting with quorum up 2+1=3 <= 3 <=",
        ]
    );
    assert!(m.quorum_up(0) && m.quorum_up(1));
    assert!(!m.quorum_up(2) && !m.quorum_up(3));
}

/// keepalived 2.2.7's clear_service_rs at SIGTERM (observed): a line for every real
/// server, in IPVS or not, `(inhibited) ` for an inhibited failed one; none for the sorry
/// server.
#[test]
fn shutdown_logs_every_real_server() {
    let conf = "
virtual_server 192.0.2.10 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  quorum 2
  sorry_server 198.51.100.9 9009
  real_server 198.51.100.1 8001 {
    TCP_CHECK {
    }
  }
  real_server 198.51.100.2 8002 {
    TCP_CHECK {
    }
  }
  real_server 198.51.100.5 8005 {
    inhibit_on_failure
    TCP_CHECK {
    }
  }
}
";
    let mut m = manager(conf);
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(1), rs(1), &fail());
    m.handle_result(at(1), rs(2), &fail());
    drain(&mut m);
    m.stop(true);
    assert_eq!(
        logs(&mut m),
        [
            "Shutting down service [198.51.100.1]:tcp:8001 from VS [192.0.2.10]:tcp:80",
            "Shutting down service [198.51.100.2]:tcp:8002 from VS [192.0.2.10]:tcp:80",
            "Shutting down (inhibited) service [198.51.100.5]:tcp:8005 from VS [192.0.2.10]:tcp:80",
        ]
    );
    // lvs_flush_on_stop: no line
    let mut m = manager(conf);
    m.start(at(0));
    drain(&mut m);
    m.stop(false);
    assert!(logs(&mut m).is_empty());
}

fn http_two_urls(fast: bool) -> String {
    format!(
        "
virtual_server 192.0.2.100 80 {{
  delay_loop 10
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.1 80 {{
    HTTP_GET {{
      url {{
        path /a
      }}
      url {{
        path /b
      }}
      retry 1
      delay_before_retry 3
      warmup 0
      {}
    }}
  }}
}}
",
        if fast { "fast_recovery" } else { "" }
    )
}

/// Lines with the second they happened at.
type Timed = Vec<(u64, String)>;

/// Drives the checker on the simulated clock until `until`: the server answers every url
/// except while `down(t)`. Returns each attempt as (time, url) and the IPVS operations
/// with the time they happened; times count from the first check (one BOOTSTRAP_DELAY
/// after the start, warmup 0).
fn drive_http(
    m: &mut Manager,
    until: u64,
    down: impl Fn(u64) -> bool,
) -> (Vec<(u64, usize)>, Timed) {
    let (mut checks, mut ipvs) = (Vec::new(), Vec::new());
    m.start(at(0));
    drain(m);
    while let Some(t) = m.poll_timeout() {
        let s = t.0.as_secs() - BOOTSTRAP_DELAY.as_secs();
        if s > until {
            break;
        }
        for id in m.due(t) {
            let url = m.url_of(id);
            checks.push((s, url));
            let res = if down(s) { fail() } else { ok() };
            m.handle_result(t, id, &res);
        }
        for op in ops(&drain(m)) {
            ipvs.push((s, op));
        }
    }
    (checks, ipvs)
}

#[test]
fn http_urls_one_per_delay_loop_and_recovery_waits_between_urls() {
    let mut m = manager(&http_two_urls(false));
    // fails from 20 s to 35 s
    let (checks, ipvs) = drive_http(&mut m, 80, |t| (20..=35).contains(&t));
    assert_eq!(
        checks,
        vec![
            (0, 0),
            (10, 1),
            (20, 0),
            (23, 0), // retry after delay_before_retry, then down
            (33, 0),
            (43, 0), // answers again: every url from the first, delay_loop apart
            (53, 0),
            (63, 1),
            (73, 0),
        ]
    );
    assert_eq!(
        ipvs,
        vec![
            (23, "del 192.0.2.1:80".to_owned()),
            (63, "add 192.0.2.1:80 w1".to_owned())
        ]
    );
}

#[test]
fn http_fast_recovery_brings_the_server_back_when_it_answers() {
    let mut m = manager(&http_two_urls(true));
    let (checks, ipvs) = drive_http(&mut m, 80, |t| (20..=35).contains(&t));
    assert_eq!(
        checks,
        vec![
            (0, 0),
            (0, 1), // no delay before the first full pass
            (10, 0),
            (20, 1),
            (23, 1), // down after one retry
            (33, 1),
            (43, 1), // answers: the urls again at once
            (43, 0),
            (43, 1),
            (53, 0),
            (63, 1),
            (73, 0),
        ]
    );
    assert_eq!(
        ipvs,
        vec![
            (23, "del 192.0.2.1:80".to_owned()),
            (43, "add 192.0.2.1:80 w1".to_owned())
        ]
    );
}

#[test]
fn http_startup_logs_success_after_the_last_url() {
    let mut m = manager(&http_two_urls(true));
    m.start(at(0));
    drain(&mut m);
    let name = "[192.0.2.1]:tcp:80";
    m.handle_result(at(0), ID, &ok());
    assert_eq!(logs(&mut m), Vec::<String>::new());
    assert_eq!(m.url_of(ID), 1);
    m.handle_result(at(0), ID, &ok());
    assert_eq!(
        logs(&mut m),
        vec![format!("Remote Web server {name} succeed on service.")]
    );
    // before the first full pass, a failure after a passed url takes it down at once
    let mut m = manager(&http_two_urls(false));
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(0), ID, &ok());
    m.handle_result(at(10), ID, &fail());
    assert_eq!(
        logs(&mut m).first(),
        Some(&format!(
            "HTTP_CHECK on service {name} failed after 1 retries."
        ))
    );
    assert!(!m.is_alive(0, 0));
    // the dump's "Failed URL" (/b), retried until it answers
    assert_eq!((m.failed_url_of(ID), m.url_of(ID)), (Some(1), 1));
    m.handle_result(at(20), ID, &ok());
    assert_eq!((m.failed_url_of(ID), m.url_of(ID)), (None, 0));
}

/// keepalived 2.2.7's reload (observed): a kept real server whose weight changed logs
/// `Changing weight from A to B for [in]active service ...` (update_svr_wgt), an unchanged
/// one nothing, and a kept virtual server no quorum line.
#[test]
fn reload_logs_changed_weights() {
    let conf = |w: u32| {
        format!(
            "
virtual_server 192.0.2.10 80 {{
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.1 8001 {{
    weight {w}
    TCP_CHECK {{
    }}
  }}
  real_server 198.51.100.2 8002 {{
    weight {w}
    TCP_CHECK {{
    }}
  }}
  real_server 198.51.100.3 8003 {{
    TCP_CHECK {{
    }}
  }}
}}
"
        )
    };
    let mut old = manager(&conf(1));
    old.start(at(0));
    old.handle_result(at(1), rs(0), &ok());
    old.handle_result(at(1), rs(1), &fail());
    old.handle_result(at(1), rs(2), &ok());
    drain(&mut old);
    let mut m = manager(&conf(2));
    m.adopt_vs(&old, 0, 0);
    for r in 0..3 {
        m.adopt(&old, (0, r), (0, r));
    }
    m.start(at(5));
    assert_eq!(
        logs(&mut m),
        [
            "Changing weight from 1 to 2 for active service [198.51.100.1]:tcp:8001 of VS [192.0.2.10]:tcp:80",
            "Changing weight from 1 to 2 for inactive service [198.51.100.2]:tcp:8002 of VS [192.0.2.10]:tcp:80",
        ]
    );
}

/// keepalived 2.2.7's clear_diff_services at a reload (observed in the IPVS VM): in the
/// old order, a removed real server's `service RS no longer exist` then its `Removing
/// service` (if in IPVS), a removed virtual server's `Removing Virtual Server` (`... Group
/// [G]` for a group) then each of its real servers in IPVS.
#[test]
fn reload_removal_lines() {
    let old_conf = "
virtual_server_group G6 {
  192.0.2.61 80
}
virtual_server group G6 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.1 9001 {
  }
}
virtual_server 192.0.2.60 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.1 9001 {
  }
  real_server 198.51.100.2 9002 {
  }
  real_server 198.51.100.3 9003 {
    inhibit_on_failure
    TCP_CHECK {
    }
  }
}
virtual_server 192.0.2.62 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.1 9001 {
  }
}
";
    let new_conf = "
virtual_server 192.0.2.60 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.1 9001 {
  }
}
";
    let mut old = manager(old_conf);
    old.start(at(0));
    old.handle_result(
        at(1),
        CheckerId {
            vs: 1,
            rs: 2,
            checker: 0,
        },
        &fail(),
    );
    drain(&mut old);
    let new = load_str(new_conf, Path::new("/t.conf"), &LoadOptions::default()).config;
    assert_eq!(
        old.reload_removals(&new.check, &[(0, 1)]),
        [
            "Removing Virtual Server Group [G6]",
            "Removing service [198.51.100.1]:tcp:9001 from VS [G6]:0",
            "service [198.51.100.2]:tcp:9002 no longer exist",
            "Removing service [198.51.100.2]:tcp:9002 from VS [192.0.2.60]:tcp:80",
            "service [198.51.100.3]:tcp:9003 no longer exist",
            "Removing (inhibited) service [198.51.100.3]:tcp:9003 from VS [192.0.2.60]:tcp:80",
            "Removing Virtual Server [192.0.2.62]:tcp:80",
            "Removing service [198.51.100.1]:tcp:9001 from VS [192.0.2.62]:tcp:80",
        ]
    );
}

fn with_globals(text: &str, g: Globals) -> Manager {
    let loaded = load_str(text, Path::new("/t.conf"), &LoadOptions::default());
    Manager::new(Rc::new(loaded.config.check), g, 42)
}

fn mails(out: &[Output]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Output::Mail { subject, body } => Some(format!("{subject}: {body}")),
            _ => None,
        })
        .collect()
}

const TWO_CHECKERS: &str = "
virtual_server 192.0.2.100 80 {
  delay_loop 10
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.1 80 {
    smtp_alert
    notify_up /bin/up.sh
    TCP_CHECK {
    }
    TCP_CHECK {
      connect_port 81
    }
  }
}
";

/// keepalived 2.2.7 (check_tcp.c): with `no_checker_emails`, a checker changing state
/// mails only when its real server changes with it (down at the first failed checker, up
/// when the last one recovers).
#[test]
fn no_checker_emails_mails_only_real_server_changes() {
    let second = CheckerId {
        vs: 0,
        rs: 0,
        checker: 1,
    };
    for quiet in [false, true] {
        let g = Globals {
            no_checker_emails: quiet,
            ..Globals::default()
        };
        let mut m = with_globals(TWO_CHECKERS, g);
        m.start(at(0));
        drain(&mut m);
        let mut step = |t: u64, id: CheckerId, up: bool| {
            m.handle_result(at(t), id, &if up { ok() } else { fail() });
            mails(&drain(&mut m)).len()
        };
        let counts = [
            step(1, ID, false),
            step(1, second, false),
            step(12, ID, true),
            step(12, second, true),
        ];
        let want = if quiet { [1, 0, 0, 1] } else { [1, 1, 1, 1] };
        assert_eq!(counts, want, "quiet={quiet}");
    }
}

/// `rs_init_notifies`: real servers up at start run their up notifies (ipwrapper.c).
#[test]
fn rs_init_notifies_at_start() {
    for on in [false, true] {
        let g = Globals {
            rs_init_notifies: on,
            ..Globals::default()
        };
        let mut m = with_globals(TWO_CHECKERS, g);
        m.start(at(0));
        let out = drain(&mut m);
        let notes: Vec<String> = out
            .iter()
            .filter_map(|o| match o {
                Output::Fifo(l) if l.starts_with("RS ") => Some(l.clone()),
                Output::Script(s) => Some(s.text.clone()),
                _ => None,
            })
            .collect();
        if on {
            assert_eq!(
                notes,
                [
                    "RS [192.0.2.1]:tcp:80 [192.0.2.100]:tcp:80 UP\n",
                    "/bin/up.sh"
                ]
            );
        } else {
            assert!(notes.is_empty(), "{notes:?}");
        }
    }
}

/// `checker_log_all_failures` makes every checker log its failures as its own
/// `log_all_failures` would.
#[test]
fn checker_log_all_failures_is_every_checkers_log_all_failures() {
    let own = TCP_ONE.replace("retry 1\n", "retry 1\n      log_all_failures\n");
    let run = |text: &str, g: Globals| {
        let mut m = with_globals(text, g);
        m.start(at(0));
        m.handle_result(at(1), ID, &ok());
        drain(&mut m);
        m.handle_result(at(11), ID, &fail());
        logs(&mut m)
    };
    let global = Globals {
        checker_log_all_failures: true,
        ..Globals::default()
    };
    let by_checker = run(&own, Globals::default());
    assert!(!by_checker.is_empty());
    assert_eq!(run(TCP_ONE, global), by_checker);
    assert!(run(TCP_ONE, Globals::default()).is_empty());
}

/// `log_all_failures`: as keepalived 2.2.7's check_tcp.c, each failure of an up TCP_CHECK
/// is logged with its cause, the last one before the epilog's line too; none once down.
#[test]
fn log_all_failures_logs_each_failure_while_up() {
    let conf = TCP_ONE.replace("retry 1", "retry 1\n      log_all_failures");
    let mut m = manager(&conf);
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(1), ID, &ok());
    drain(&mut m);
    m.handle_result(at(11), ID, &CheckResult::down("timeout"));
    assert_eq!(
        logs(&mut m),
        ["TCP connection to [192.0.2.1]:tcp:80 timeout."]
    );
    m.handle_result(at(14), ID, &fail());
    let lines = logs(&mut m);
    assert_eq!(
        lines[..2],
        [
            "TCP connection to [192.0.2.1]:tcp:80 failed.",
            "TCP_CHECK on service [192.0.2.1]:tcp:80 failed after 1 retries.",
        ]
    );
    // down: its failures are not logged
    m.handle_result(at(24), ID, &fail());
    m.handle_result(at(27), ID, &fail());
    assert!(logs(&mut m).is_empty());
    // without the keyword a retried failure is silent
    let mut m = manager(TCP_ONE);
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(1), ID, &ok());
    drain(&mut m);
    m.handle_result(at(11), ID, &CheckResult::down("timeout"));
    assert!(logs(&mut m).is_empty());
}

/// `nb_get_retry`, the old spelling of HTTP_GET's `retry`: two retries before the server
/// is removed, and the line counts them.
#[test]
fn nb_get_retry_sets_the_http_retries() {
    let conf = http_two_urls(false).replace("retry 1", "nb_get_retry 2");
    let mut m = manager(&conf);
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(1), ID, &ok());
    m.handle_result(at(11), ID, &ok());
    drain(&mut m);
    for t in [21, 24] {
        m.handle_result(at(t), ID, &fail());
        assert!(ops(&drain(&mut m)).is_empty(), "retried at {t}");
    }
    m.handle_result(at(27), ID, &fail());
    let out = drain(&mut m);
    assert_eq!(ops(&out), ["del 192.0.2.1:80"]);
    assert!(out.contains(&Output::Log(
        "HTTP_CHECK on service [192.0.2.1]:tcp:80 failed after 2 retries.".into()
    )));
}

#[test]
fn dns_check_lines_as_keepalived() {
    // check_dns.c: no line for a success; each failure with log_all_failures in the
    // server's words, the last one once, with its retries
    let conf = "
virtual_server 192.0.2.53 53 {
  lb_algo rr
  lb_kind NAT
  protocol UDP
  real_server 198.51.100.53 53 {
    DNS_CHECK {
      retry 1
      log_all_failures
    }
  }
}
";
    let mut m = manager(conf);
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(0), ID, &ok());
    assert!(
        !logs(&mut m).iter().any(|l| l.starts_with("DNS_CHECK")),
        "a success is not logged"
    );
    let down = CheckResult::down("read timeout from socket");
    m.handle_result(at(10), ID, &down);
    m.handle_result(at(20), ID, &down);
    let dns: Vec<String> = logs(&mut m)
        .into_iter()
        .filter(|l| l.starts_with("DNS_CHECK"))
        .collect();
    assert_eq!(
        dns,
        [
            "DNS_CHECK ([198.51.100.53]:udp:53) read timeout from socket",
            "DNS_CHECK ([198.51.100.53]:udp:53) read timeout from socket after 1 retries",
        ]
    );
}

#[test]
fn smtp_check_lines_as_keepalived() {
    // check_smtp.c: each failure with log_all_failures, the last one always, as
    // "SMTP_CHECK <what> from server [ip]:port", with no summary line
    let conf = "
virtual_server 192.0.2.25 25 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 198.51.100.25 25 {
    SMTP_CHECK {
      retry 1
      log_all_failures
    }
  }
}
";
    let mut m = manager(conf);
    m.start(at(0));
    drain(&mut m);
    m.handle_result(at(0), ID, &ok());
    let _ = logs(&mut m);
    let down = CheckResult::down("Bad greeting banner from server [198.51.100.25]:25");
    m.handle_result(at(10), ID, &down);
    m.handle_result(at(20), ID, &down);
    let smtp: Vec<String> = logs(&mut m)
        .into_iter()
        .filter(|l| l.contains("SMTP"))
        .collect();
    assert_eq!(
        smtp,
        [
            "SMTP_CHECK Bad greeting banner from server [198.51.100.25]:25",
            "SMTP_CHECK Bad greeting banner from server [198.51.100.25]:25",
        ]
    );
}

#[test]
fn bfd_check_follows_its_session() {
    let mut m = manager(
        "
bfd_instance b1 {
  neighbor_ip 192.0.2.1
}
virtual_server 192.0.2.100 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 192.0.2.1 80 {
    BFD_CHECK {
      name b1
    }
  }
  real_server 192.0.2.2 80 {
    BFD_CHECK {
      name other
    }
  }
  real_server 192.0.2.3 80 {
    BFD_CHECK {
      name b1
      alpha
    }
  }
}
",
    );
    m.start(at(0));
    // With alpha a BFD_CHECK starts failed: that server waits for its session.
    assert_eq!(
        ops(&drain(&mut m)),
        ["add 192.0.2.1:80 w1", "add 192.0.2.2:80 w1"]
    );
    // Another session's events change nothing.
    m.handle_bfd("b2", false);
    assert!(drain(&mut m).is_empty());
    m.handle_bfd("b1", false);
    let out = drain(&mut m);
    assert_eq!(ops(&out), ["del 192.0.2.1:80"]);
    assert!(out.contains(&Output::Log(
        "BFD check of [b1] RS([192.0.2.1]:tcp:80) is DOWN".into()
    )));
    assert!(out.contains(&Output::Log(
        "BFD check of [b1] RS([192.0.2.3]:tcp:80) is DOWN".into()
    )));
    // The same state again: nothing (it has run).
    m.handle_bfd("b1", false);
    assert!(drain(&mut m).is_empty());
    m.handle_bfd("b1", true);
    assert_eq!(
        ops(&drain(&mut m)),
        ["add 192.0.2.1:80 w1", "add 192.0.2.3:80 w1"]
    );
    assert!(m.is_alive(0, 0) && m.is_alive(0, 2));
}
