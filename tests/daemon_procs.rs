//! End to end, in network namespaces: how the daemon runs its processes — the VRRP
//! child's scheduling keywords (`vrrp_priority`, `vrrp_rt_priority`, `vrrp_no_swap`,
//! `vrrp_rlimit_rttime`, `vrrp_cpu_affinity`, `max_auto_priority`; the BFD child's
//! `bfd_*` equivalents), `umask`, reload
//! keywords and command-line options — each run against ours and the real keepalived
//! 2.2.7 side by side, comparing what is visible from outside (`/proc`, `chrt`,
//! `prlimit`, files, log lines).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::netns;
use support::node_daemon;

use std::fs;
use std::process::Command;
use std::time::Duration;

use node_daemon::*;

/// Both daemons of a test: ours on node 0, the real keepalived on node 1.
fn pair(test: &str, conf: &str, extra: &[&str]) -> Option<(netns::Lan, Daemon, Daemon)> {
    if !real_or_skip(test) {
        return None;
    }
    let lan = lan_or_skip(test, 2)?;
    let ours = Daemon::start_with(&lan, 0, false, conf, extra);
    let real = Daemon::start_with(&lan, 1, true, conf, extra);
    Some((lan, ours, real))
}

fn cmd_out(args: &[&str]) -> String {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// What the outside sees of a process's scheduling.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    nice: String,
    /// `chrt -p` without the pid: policy and priority.
    chrt: String,
    /// RLIMIT_RTTIME soft and hard.
    rttime: String,
    locked: bool,
    cpus: String,
}

fn seen(pid: i32) -> Seen {
    let p = pid.to_string();
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let locked = field("VmLck:")
        .split_whitespace()
        .next()
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|kb| kb > 0);
    Seen {
        nice: cmd_out(&["ps", "-o", "ni=", "-p", &p]).trim().to_owned(),
        chrt: cmd_out(&["chrt", "-p", &p]).replace(&format!("pid {p}'s "), ""),
        rttime: cmd_out(&[
            "prlimit",
            "--pid",
            &p,
            "--rttime",
            "--noheadings",
            "--raw",
            "-o",
            "SOFT,HARD",
        ])
        .trim()
        .to_owned(),
        locked,
        cpus: field("Cpus_allowed_list:"),
    }
}

/// The VRRP child's pid once its scheduling satisfies `ok`.
fn settled(d: &Daemon, ok: impl Fn(&Seen) -> bool) -> Seen {
    settled_child(d, "vrrp.pid", ok)
}

/// The scheduling of the child whose pid file is `pidfile`, once it satisfies `ok`.
fn settled_child(d: &Daemon, pidfile: &str, ok: impl Fn(&Seen) -> bool) -> Seen {
    let mut last = None;
    let done = wait_until(20, || {
        let Some(pid) = fs::read_to_string(d.path(pidfile))
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        else {
            return false;
        };
        let s = seen(pid);
        let good = ok(&s);
        last = Some(s);
        good
    });
    assert!(
        done,
        "{} child ({pidfile}) never reached the settings: {last:?}\n{}",
        if d.real { "real" } else { "our" },
        d.log()
    );
    last.unwrap_or_else(|| unreachable!())
}

fn with_globals(globals: &str) -> String {
    conf(100, "", &["192.0.2.100/32"])
        .replace("router_id test\n", &format!("router_id test\n{globals}"))
}

/// The last CPU (the affinity keyword takes CPU ids below the online count).
fn last_cpu() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        - 1
}

/// `vrrp_priority` (nice), `vrrp_no_swap` (mlockall) and `vrrp_cpu_affinity`, without
/// realtime: the RLIMIT_RTTIME stays as it was.
#[test]
fn nice_no_swap_and_affinity_as_keepalived() {
    let cpu = last_cpu();
    let conf = with_globals(&format!(
        "  vrrp_priority -5\n  vrrp_no_swap\n  vrrp_cpu_affinity {cpu}\n"
    ));
    let Some((_lan, ours, real)) = pair("nice_no_swap_and_affinity_as_keepalived", &conf, &[])
    else {
        return;
    };
    let want = |s: &Seen| s.nice == "-5" && s.locked && s.cpus == cpu.to_string();
    let a = settled(&ours, want);
    let b = settled(&real, want);
    assert_eq!(a, b, "ours vs keepalived 2.2.7");
    assert!(a.chrt.contains("SCHED_OTHER"), "{a:?}");
}

/// `vrrp_rt_priority`: SCHED_RR (reset on fork) and RLIMIT_RTTIME `vrrp_rlimit_rttime`,
/// soft limit half of it; without `vrrp_rlimit_rttime`, keepalived's 10000 µs.
#[test]
fn realtime_priority_and_rttime_limit_as_keepalived() {
    for (globals, rttime) in [
        (
            "  vrrp_rt_priority 20\n  vrrp_rlimit_rttime 50000\n",
            "25000 50000",
        ),
        ("  vrrp_rt_priority 7\n", "5000 10000"),
        // The old spelling, still accepted by keepalived 2.2.7.
        (
            "  vrrp_rt_priority 9\n  vrrp_rlimit_rtime 40000\n",
            "20000 40000",
        ),
    ] {
        let conf = with_globals(globals);
        let Some((_lan, ours, real)) = pair(
            "realtime_priority_and_rttime_limit_as_keepalived",
            &conf,
            &[],
        ) else {
            return;
        };
        // ps shows "-" as the nice value of a realtime process: read after the switch.
        let want = |s: &Seen| s.chrt.contains("SCHED_RR") && s.rttime == rttime && s.nice == "-";
        let a = settled(&ours, want);
        let b = settled(&real, want);
        assert_eq!(a, b, "ours vs keepalived 2.2.7 with {globals}");
        assert!(a.chrt.contains("SCHED_RESET_ON_FORK"), "{a:?}");
    }
}

/// The `bfd_*` equivalents in the BFD child (a `bfd_instance` makes it run): nice, locked
/// memory and affinity, then SCHED_RR with its RLIMIT_RTTIME.
#[test]
fn bfd_process_controls_as_keepalived() {
    let cpu = last_cpu();
    // (globals, realtime priority and RLIMIT_RTTIME when SCHED_RR is expected)
    for (globals, realtime) in [
        (
            format!("  bfd_priority -4\n  bfd_no_swap\n  bfd_cpu_affinity {cpu}\n"),
            None,
        ),
        (
            "  bfd_rt_priority 15\n  bfd_rlimit_rttime 60000\n".to_owned(),
            Some(("priority: 15", "30000 60000")),
        ),
        // The old spelling, still accepted by keepalived 2.2.7.
        (
            "  bfd_rt_priority 9\n  bfd_rlimit_rtime 40000\n".to_owned(),
            Some(("priority: 9", "20000 40000")),
        ),
    ] {
        let conf = with_globals(&globals)
            + "bfd_instance peer {\n  neighbor_ip 192.0.2.3\n  min_rx 1000\n  min_tx 1000\n}\n";
        if !real_or_skip("bfd_process_controls_as_keepalived") {
            return;
        }
        let Some(lan) = lan_or_skip("bfd_process_controls_as_keepalived", 2) else {
            return;
        };
        let ours = Daemon::start_all(&lan, 0, false, &conf);
        let real = Daemon::start_all(&lan, 1, true, &conf);
        let want = |s: &Seen| match realtime {
            // ps shows "-" as the nice value of a realtime process: read after the switch.
            Some((prio, rttime)) => {
                s.chrt.contains("SCHED_RR")
                    && s.chrt.contains(prio)
                    && s.rttime == rttime
                    && s.nice == "-"
            }
            None => s.nice == "-4" && s.locked && s.cpus == cpu.to_string(),
        };
        let a = settled_child(&ours, "bfd.pid", want);
        let b = settled_child(&real, "bfd.pid", want);
        assert_eq!(a, b, "ours vs keepalived 2.2.7 with {globals}");
        // The VRRP child keeps the default scheduling.
        let v = settled(&ours, |s| s.nice == "0");
        assert!(v.chrt.contains("SCHED_OTHER") && !v.locked, "{v:?}");
    }
}

/// `max_auto_priority`: a VRRP child whose timers run more than `min_auto_priority_delay`
/// late (here: stopped for a while) switches itself to SCHED_RR at the minimum priority.
#[test]
fn late_timers_raise_the_realtime_priority_as_keepalived() {
    let conf = with_globals("  max_auto_priority 10\n  min_auto_priority_delay 500000\n");
    let Some((_lan, ours, real)) = pair(
        "late_timers_raise_the_realtime_priority_as_keepalived",
        &conf,
        &[],
    ) else {
        return;
    };
    for d in [&ours, &real] {
        let s = settled(d, |s| s.chrt.contains("SCHED_OTHER"));
        assert!(!d
            .log()
            .contains("NOTICE: setting config option max_auto_priority"));
        assert!(wait_until(20, || d.log().contains("Entering BACKUP STATE")));
        let pid = d.vrrp_pid().unwrap_or(0);
        assert!(pid > 0 && s.rttime.split(' ').count() == 2);
        let nixpid = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::kill(nixpid, nix::sys::signal::Signal::SIGSTOP);
        // the stimulus: timers come due while the process cannot run
        std::thread::sleep(Duration::from_millis(2500));
        let _ = nix::sys::signal::kill(nixpid, nix::sys::signal::Signal::SIGCONT);
        let s = settled(d, |s| s.chrt.contains("SCHED_RR"));
        assert!(s.chrt.contains("priority: 1"), "{s:?}");
        assert_eq!(s.rttime, "5000 10000", "keepalived's default limit");
        let log = d.log();
        assert!(log.contains("A thread timer expired "), "{log}");
        assert!(log.contains("Set realtime priority 1"), "{log}");
    }
}

/// Without `max_auto_priority`, keepalived says at start it would help.
#[test]
fn notice_without_max_auto_priority() {
    let conf = with_globals("");
    let Some((_lan, ours, real)) = pair("notice_without_max_auto_priority", &conf, &[]) else {
        return;
    };
    let line = "NOTICE: setting config option max_auto_priority should result in better keepalived performance";
    for d in [&ours, &real] {
        assert!(wait_until(20, || d.log().contains(line)), "{}", d.log());
    }
}

fn mode(p: &std::path::Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p).ok().map(|m| m.permissions().mode() & 0o777)
}

/// `umask` (numeric or `IWOTH|IXOTH` bits) is the mask of the files the daemon creates
/// (here the SIGUSR1 dumps of the parent and the VRRP child); `-u` wins over it, which the
/// parent logs.
#[test]
fn umask_keyword_and_option_as_keepalived() {
    let cases: [(&str, &[&str], u32); 4] = [
        ("", &[], 0o600),
        ("  umask 0\n", &[], 0o666),
        ("  umask IWOTH|IXOTH\n", &[], 0o664),
        ("  umask 0\n", &["-u", "027"], 0o640),
    ];
    for (globals, extra, want) in cases {
        let conf = with_globals(globals);
        let Some((_lan, ours, real)) = pair("umask_keyword_and_option_as_keepalived", &conf, extra)
        else {
            return;
        };
        for d in [&ours, &real] {
            assert!(wait_until(20, || d.log().contains("Entering BACKUP STATE")));
            d.signal(libc::SIGUSR1);
            for f in ["keepalived_parent.data", "keepalived.data"] {
                let p = d.path(f);
                assert!(
                    wait_until(10, || mode(&p).is_some()),
                    "{f} not written\n{}",
                    d.log()
                );
                assert_eq!(
                    mode(&p),
                    Some(want),
                    "{f} of {} with {globals:?} {extra:?}",
                    if d.real { "keepalived 2.2.7" } else { "ours" }
                );
            }
            let ignored = d
                .log()
                .contains("umask command line option specified, ignoring config option");
            assert_eq!(
                ignored,
                !extra.is_empty() && !globals.is_empty(),
                "{}",
                d.log()
            );
        }
    }
}

/// Like [`pair`], each daemon with its own configuration (`conf(real)`).
fn pair_with(test: &str, conf: impl Fn(bool) -> String) -> Option<(netns::Lan, Daemon, Daemon)> {
    if !real_or_skip(test) {
        return None;
    }
    let lan = lan_or_skip(test, 2)?;
    let ours = Daemon::start_with(&lan, 0, false, &conf(false), &[]);
    let real = Daemon::start_with(&lan, 1, true, &conf(true), &[]);
    Some((lan, ours, real))
}

fn who(real: bool) -> &'static str {
    if real {
        "real"
    } else {
        "ours"
    }
}

/// `reload_file FILE`: the file an update process touches before a reload goes away
/// once keepalived has read the configuration, at start and at a reload.
#[test]
fn reload_file_goes_once_the_config_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |real: bool| dir.path().join(format!("{}.reload", who(real)));
    for real in [false, true] {
        fs::write(file(real), "updating\n").expect("reload file");
    }
    let conf = |real: bool| with_globals(&format!("  reload_file {}\n", file(real).display()));
    let Some((_lan, ours, real)) = pair_with("reload_file_goes_once_the_config_is_read", conf)
    else {
        return;
    };
    for d in [&ours, &real] {
        let f = file(d.real);
        assert!(
            wait_until(20, || !f.exists()),
            "{} kept {} at start\n{}",
            who(d.real),
            f.display(),
            d.log()
        );
        assert!(wait_until(20, || d.log().contains("Entering BACKUP STATE")));
        fs::write(&f, "updating\n").expect("reload file");
        d.signal(libc::SIGHUP);
        assert!(
            wait_until(20, || !f.exists()),
            "{} kept {} after a reload\n{}",
            who(d.real),
            f.display(),
            d.log()
        );
        assert!(
            wait_until(20, || d.log().contains("Reloading")),
            "{}",
            d.log()
        );
    }
}

/// `reload_check_config LOG`: a reload first runs `--config-test=LOG`; a configuration
/// it rejects is not loaded (`New config failed validation, see LOG for details`, the
/// problems in LOG); a good one is, and LOG is emptied first.
#[test]
fn reload_check_config_tests_the_new_config_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = |real: bool| dir.path().join(format!("{}.check", who(real)));
    let conf =
        |real: bool| with_globals(&format!("  reload_check_config {}\n", log(real).display()));
    let Some((_lan, ours, real)) =
        pair_with("reload_check_config_tests_the_new_config_first", conf)
    else {
        return;
    };
    for d in [&ours, &real] {
        assert!(wait_until(20, || d.log().contains("Entering BACKUP STATE")));
        let good = conf(d.real);
        let bad = good.replace("router_id test\n", "router_id test\n  bogus_keyword\n");
        d.write_conf(&bad);
        d.signal(libc::SIGHUP);
        let failed = format!(
            "New config failed validation, see {} for details",
            log(d.real).display()
        );
        assert!(
            wait_until(20, || d.log().contains(&failed)),
            "{}: no `{failed}`\n{}",
            who(d.real),
            d.log()
        );
        assert!(!d.log().contains("Reloading"), "{}", d.log());
        let text = fs::read_to_string(log(d.real)).unwrap_or_default();
        assert!(text.contains("bogus_keyword"), "{}: {text:?}", who(d.real));
        d.write_conf(&good);
        d.signal(libc::SIGHUP);
        assert!(
            wait_until(20, || d.log().contains("Reloading")),
            "{}",
            d.log()
        );
        assert_eq!(
            fs::read_to_string(log(d.real)).ok().as_deref(),
            Some(""),
            "{}",
            who(d.real)
        );
    }
}

/// `HH:MM:SS` `s` seconds from now, in local time (the daemons' time zone).
fn local_time_in(s: i64) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
        + s;
    cmd_out(&["date", "-d", &format!("@{t}"), "+%H:%M:%S"])
        .trim()
        .to_owned()
}

/// `reload_time_file FILE`: the time written in the file schedules a reload
/// (`Scheduling reload for ...`); the file is removed when it happens, or kept with
/// `reload_repeat` (a time alone then schedules the same time tomorrow).
#[test]
fn reload_time_file_schedules_a_reload() {
    for repeat in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = |real: bool| dir.path().join(format!("{}.time", who(real)));
        let conf = |real: bool| {
            with_globals(&format!(
                "  reload_time_file {}\n{}",
                file(real).display(),
                if repeat { "  reload_repeat\n" } else { "" }
            ))
        };
        let Some((_lan, ours, real)) = pair_with("reload_time_file_schedules_a_reload", conf)
        else {
            return;
        };
        for d in [&ours, &real] {
            assert!(wait_until(20, || d.log().contains("Entering BACKUP STATE")));
        }
        let when = local_time_in(3);
        for d in [&ours, &real] {
            fs::write(file(d.real), format!("{when}\n")).expect("time file");
        }
        for d in [&ours, &real] {
            let f = file(d.real);
            assert!(
                wait_until(20, || d.log().contains("Scheduling reload for ")),
                "{}\n{}",
                who(d.real),
                d.log()
            );
            assert!(
                wait_until(20, || d.log().contains("Reloading")),
                "{}\n{}",
                who(d.real),
                d.log()
            );
            if repeat {
                assert!(
                    wait_until(20, || d.log().matches("Scheduling reload for ").count()
                        == 2),
                    "{}\n{}",
                    who(d.real),
                    d.log()
                );
                assert!(f.exists());
            } else {
                assert!(wait_until(20, || !f.exists()), "{}", who(d.real));
            }
        }
    }
}

/// `-m`: the daemon and its children may dump cores of any size. `-M PATN` implies it;
/// keepalived 2.2.7 means it to set the kernel's core_pattern too, but observed it never
/// changes it (see `core_dump_init` in src/daemon/mod.rs), and neither do we.
#[test]
fn core_dump_options_as_keepalived() {
    let path = "/proc/sys/kernel/core_pattern";
    let before = fs::read_to_string(path).unwrap_or_default();
    for opt in ["-m", "-Mka_test_core.%p"] {
        let conf = with_globals("");
        let Some((_lan, ours, real)) = pair("core_dump_options_as_keepalived", &conf, &[opt])
        else {
            return;
        };
        for d in [&ours, &real] {
            assert!(wait_until(20, || d.log().contains("Entering BACKUP STATE")));
            for pid in [Some(d.pid()), d.vrrp_pid()].into_iter().flatten() {
                let core = cmd_out(&[
                    "prlimit",
                    "--pid",
                    &pid.to_string(),
                    "--core",
                    "--noheadings",
                    "--raw",
                    "-o",
                    "SOFT,HARD",
                ]);
                assert_eq!(core.trim(), "unlimited unlimited", "{} {opt}", who(d.real));
            }
            assert_eq!(fs::read_to_string(path).unwrap_or_default(), before);
        }
    }
}

/// `-a`: the VRRP child logs every address added to or removed from any interface.
#[test]
fn address_monitoring_logs_every_address_change() {
    let conf = with_globals("");
    let Some((lan, ours, real)) = pair(
        "address_monitoring_logs_every_address_change",
        &conf,
        &["-a"],
    ) else {
        return;
    };
    for (i, d) in [(0, &ours), (1, &real)] {
        assert!(wait_until(20, || d.log().contains("Entering BACKUP STATE")));
        lan.must(i, &["ip", "addr", "add", "198.51.100.7/32", "dev", "eth0"]);
        lan.must(i, &["ip", "addr", "del", "198.51.100.7/32", "dev", "eth0"]);
        for line in [
            "Netlink reflector reports IP 198.51.100.7 added to eth0",
            "Netlink reflector reports IP 198.51.100.7 removed from eth0",
        ] {
            assert!(
                wait_until(20, || d.log().contains(line)),
                "{}: no `{line}`\n{}",
                who(d.real),
                d.log()
            );
        }
    }
}
