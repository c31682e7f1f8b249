//! End to end, in network namespaces: notify behaviour around priority changes and reloads.
//! Every scenario also runs against the real
//! keepalived 2.2.7, so the expectations are keepalived's own behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::netns;
use support::node_daemon;
use support::wire;

use std::fs;
use std::io::BufRead;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use node_daemon::*;

/// Lines read from a notify FIFO; the reader re-opens it after EOF (keepalived closes and
/// re-opens its FIFOs at reload) until dropped or 90 s.
struct FifoLines {
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FifoLines {
    fn new(path: PathBuf) -> FifoLines {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (out, halt) = (lines.clone(), stop.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(90);
            while !halt.load(Ordering::Relaxed) && Instant::now() < deadline {
                if !fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_fifo()) {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                // The daemon holds the FIFO open read-write: this open does not block
                // while it runs (and a FIFO left behind without a writer is not ours).
                let Ok(f) = fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&path)
                else {
                    continue;
                };
                let _ = nix::fcntl::fcntl(
                    &f,
                    nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::empty()),
                );
                for line in std::io::BufReader::new(f).lines() {
                    let Ok(line) = line else { break };
                    if let Ok(mut v) = out.lock() {
                        v.push(line);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        FifoLines { lines, stop }
    }

    fn get(&self) -> Vec<String> {
        self.lines.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn count(&self, l: &str) -> usize {
        self.get().iter().filter(|x| *x == l).count()
    }
}

impl Drop for FifoLines {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A world-traversable directory with a recorder script appending its arguments to `calls`.
fn script_dir() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let calls = dir.path().join("calls");
    let rec = dir.path().join("rec.sh");
    fs::write(
        &rec,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", calls.display()),
    )
    .expect("write script");
    fs::set_permissions(&rec, fs::Permissions::from_mode(0o755)).expect("chmod script");
    (dir, rec, calls)
}

fn read_lines(p: &Path) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn instance(name: &str, vrid: u8, prio: u8, vip: &str, extra: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  \
         priority {prio}\n  advert_int 1\n{extra}  virtual_ipaddress {{\n    {vip}/32\n  }}\n}}\n"
    )
}

const VIPS: [&str; 4] = ["192.0.2.100", "192.0.2.101", "192.0.2.102", "192.0.2.103"];

/// VI_1 (weighted script, `notify_deleted`, `notify_priority_changes`), VI_2 (plain) and
/// VI_3 in sync group G1, all with recording notify scripts.
fn full_conf(global: &str, rec: &Path, flag: &Path) -> String {
    let r = rec.display();
    format!(
        "global_defs {{\n  router_id test\n{global}}}\n\
         vrrp_script chk {{\n  script \"/bin/sh -c 'test -e {}'\"\n  interval 1\n  weight 10\n}}\n\
         vrrp_sync_group G1 {{\n  group {{\n    VI_3\n  }}\n  notify \"{r} g\"\n}}\n{}{}{}",
        flag.display(),
        instance(
            "VI_1",
            51,
            100,
            VIPS[0],
            &format!(
                "  notify_deleted\n  notify_priority_changes\n  notify \"{r} n1\"\n  \
                 track_script {{\n    chk\n  }}\n"
            )
        ),
        instance("VI_2", 52, 90, VIPS[1], &format!("  notify \"{r} n2\"\n")),
        instance("VI_3", 53, 90, VIPS[2], &format!("  notify \"{r} n3\"\n")),
    )
}

/// Start → MASTER everywhere; the weighted script's file appears and goes (VI_1
/// MASTER_PRIORITY 110 then 100 on the FIFO, no script call); an unchanged reload with
/// `fifo_write_vrrp_states_on_reload` (the group's state re-written, not the instances');
/// a reload that removes VI_1..VI_3 and G1 (VI_1 DELETED, VI_2 and VI_3 FAULT, nothing for
/// G1).
fn reload_and_priority(test: &str, real: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let (dir, rec, calls) = script_dir();
    let fifo = dir.path().join("vrrp.fifo");
    let flag = dir.path().join("up");
    let global = format!(
        "  vrrp_notify_fifo {}\n  fifo_write_vrrp_states_on_reload\n",
        fifo.display()
    );
    let conf = full_conf(&global, &rec, &flag);
    let lines = FifoLines::new(fifo.clone());
    let mut d = Daemon::start(&lan, 0, real, &conf);
    let ctx = |d: &Daemon| {
        format!(
            "calls: {:#?}\nfifo: {:#?}\n{}",
            read_lines(&calls),
            lines.get(),
            d.log()
        )
    };
    for v in &VIPS[..3] {
        expect_master(&lan, 0, &[0], v, 15, &[&d]);
    }
    assert!(
        wait_until(5, || lines.count("GROUP \"G1\" MASTER 0") == 1),
        "{}",
        ctx(&d)
    );
    // Priority changes: FIFO only.
    fs::write(&flag, "").expect("touch flag");
    assert!(
        wait_until(10, || lines.count("INSTANCE \"VI_1\" MASTER_PRIORITY 110")
            == 1),
        "{}",
        ctx(&d)
    );
    fs::remove_file(&flag).expect("rm flag");
    assert!(
        wait_until(10, || lines.count("INSTANCE \"VI_1\" MASTER_PRIORITY 100")
            == 1),
        "{}",
        ctx(&d)
    );
    assert!(
        !read_lines(&calls).iter().any(|l| l.contains("PRIORITY")),
        "{}",
        ctx(&d)
    );
    // Unchanged reload: the group's state is written again, the instances' are not.
    d.signal(libc::SIGHUP);
    assert!(
        wait_until(10, || lines.count("GROUP \"G1\" MASTER 0") == 2),
        "{}",
        ctx(&d)
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        lines.count("INSTANCE \"VI_1\" MASTER 100"),
        1,
        "{}",
        ctx(&d)
    );
    // Reload removing VI_1..VI_3 and G1.
    d.write_conf(&format!(
        "global_defs {{\n  router_id test\n{global}}}\n{}",
        instance("VI_4", 54, 90, VIPS[3], "")
    ));
    let before = read_lines(&calls).len();
    d.signal(libc::SIGHUP);
    let want_calls = [
        "n1 INSTANCE VI_1 DELETED 100",
        "n2 INSTANCE VI_2 FAULT 90",
        "n3 INSTANCE VI_3 FAULT 90",
    ];
    let want_fifo = [
        "INSTANCE \"VI_1\" DELETED 100",
        "INSTANCE \"VI_2\" FAULT 90",
        "INSTANCE \"VI_3\" FAULT 90",
    ];
    assert!(
        wait_until(10, || {
            let c = read_lines(&calls);
            want_calls.iter().all(|w| c.contains(&w.to_string()))
                && want_fifo.iter().all(|w| lines.count(w) == 1)
        }),
        "{}",
        ctx(&d)
    );
    expect_master(&lan, 0, &[0], VIPS[3], 15, &[&d]);
    for v in &VIPS[..3] {
        assert!(!has_addr(&lan, 0, v), "{v} left behind\n{}", ctx(&d));
    }
    // Nothing else for the removed instances, nothing at all for the removed group.
    let mut after: Vec<String> = read_lines(&calls).split_off(before);
    after.sort();
    assert_eq!(after, want_calls.to_vec(), "{}", ctx(&d));
    assert!(
        !lines
            .get()
            .iter()
            .any(|l| l.starts_with("GROUP \"G1\" STOP")),
        "{}",
        ctx(&d)
    );
    d.stop();
}

#[test]
fn reload_and_priority_notifies_ours() {
    reload_and_priority("reload_and_priority_notifies_ours", false);
}

#[test]
fn reload_and_priority_notifies_real_keepalived() {
    reload_and_priority("reload_and_priority_notifies_real_keepalived", true);
}

/// `smtp_alert`: keepalived greets with `HELO <smtp_helo_name>`, mails each transition and
/// sends no STOP mail at shutdown. `vrrp_wide`: the alert comes from global_defs
/// `smtp_alert_vrrp` instead of the instance's `smtp_alert`.
fn smtp_dialogue(test: &str, real: bool) {
    smtp_dialogue_with(test, real, false);
}

fn smtp_dialogue_with(test: &str, real: bool, vrrp_wide: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    let ok = std::process::Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        support::skip_or_fail(test, "/usr/bin/python3 with aiosmtpd is missing");
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let (dir, _rec, _calls) = script_dir();
    let mbox = dir.path().join("smtp.out");
    let mut server = lan.spawn(
        1,
        &[
            "sh",
            "-c",
            &format!(
                "exec /usr/bin/python3 -m aiosmtpd -n -d -l 192.0.2.2:2527 > {} 2>&1",
                mbox.display()
            ),
        ],
    );
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Kill(&mut server);
    let text = || fs::read_to_string(&mbox).unwrap_or_default();
    assert!(
        wait_until(10, || text().contains("listening")),
        "SMTP server did not start: {}",
        text()
    );
    let conf = format!(
        "global_defs {{\n  router_id R1\n  notification_email {{\n    a@example.org\n  }}\n  \
         notification_email_from ka@example.org\n  smtp_server 192.0.2.2 2527\n  \
         smtp_helo_name helo.example.org\n  smtp_connect_timeout 5\n{}}}\n{}",
        if vrrp_wide {
            "  smtp_alert no\n  smtp_alert_vrrp\n"
        } else {
            ""
        },
        instance(
            "VI_1",
            51,
            100,
            VIPS[0],
            if vrrp_wide { "" } else { "  smtp_alert\n" }
        )
    );
    let mut d = Daemon::start(&lan, 0, real, &conf);
    expect_master(&lan, 0, &[0], VIPS[0], 15, &[&d]);
    let master = "Subject: [R1] VRRP Instance VI_1 - Entering MASTER state";
    assert!(
        wait_until(15, || text().contains(master)),
        "{}\n{}",
        text(),
        d.log()
    );
    assert!(text().contains(">> b'HELO helo.example.org'"), "{}", text());
    assert!(!text().contains("EHLO"), "{}", text());
    assert!(
        wait_until(5, || d.log().contains("SMTP alert successfully sent.")),
        "{}",
        d.log()
    );
    d.stop();
    std::thread::sleep(Duration::from_secs(3));
    assert!(!text().contains("Stopping"), "{}", text());
}

#[test]
fn smtp_alert_says_helo_and_no_stop_mail_ours() {
    smtp_dialogue("smtp_alert_says_helo_and_no_stop_mail_ours", false);
}

#[test]
fn smtp_alert_says_helo_and_no_stop_mail_real_keepalived() {
    smtp_dialogue(
        "smtp_alert_says_helo_and_no_stop_mail_real_keepalived",
        true,
    );
}

#[test]
fn smtp_alert_vrrp_global_ours() {
    smtp_dialogue_with("smtp_alert_vrrp_global_ours", false, true);
}

#[test]
fn smtp_alert_vrrp_global_real_keepalived() {
    smtp_dialogue_with("smtp_alert_vrrp_global_real_keepalived", true, true);
}

/// A weight-0 `vrrp_script` that has not reported yet keeps the instance in INIT: no
/// `Entering FAULT STATE (init)` and no FAULT notify at start; its first result gives
/// `Entering BACKUP STATE` (success) or a silent FAULT with its notify (failure).
fn weight0_init(test: &str, real: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    for ok in [true, false] {
        let (dir, rec, calls) = script_dir();
        let flag = dir.path().join("up");
        if ok {
            fs::write(&flag, "").expect("touch flag");
        }
        let conf = format!(
            "global_defs {{\n  router_id test\n}}\n\
             vrrp_script chk {{\n  script \"/bin/sh -c 'sleep 2; test -e {}'\"\n  interval 5\n}}\n{}",
            flag.display(),
            instance(
                "VI_1",
                51,
                100,
                VIPS[0],
                &format!(
                    "  notify \"{} n1\"\n  track_script {{\n    chk\n  }}\n",
                    rec.display()
                )
            )
        );
        let mut d = Daemon::start(&lan, 0, real, &conf);
        let ctx = |d: &Daemon| format!("ok={ok} calls: {:#?}\n{}", read_lines(&calls), d.log());
        if ok {
            expect_master(&lan, 0, &[0], VIPS[0], 15, &[&d]);
            // The notify script runs after the VIPs are set: give it a moment.
            wait_until(5, || read_lines(&calls).len() >= 2);
            assert_eq!(
                read_lines(&calls),
                ["n1 INSTANCE VI_1 BACKUP 100", "n1 INSTANCE VI_1 MASTER 100"],
                "{}",
                ctx(&d)
            );
            assert!(
                d.log().contains("(VI_1) Entering BACKUP STATE\n"),
                "{}",
                ctx(&d)
            );
        } else {
            assert!(
                wait_until(10, || !read_lines(&calls).is_empty()),
                "{}",
                ctx(&d)
            );
            std::thread::sleep(Duration::from_secs(1));
            assert_eq!(
                read_lines(&calls),
                ["n1 INSTANCE VI_1 FAULT 100"],
                "{}",
                ctx(&d)
            );
            assert!(!has_addr(&lan, 0, VIPS[0]), "{}", ctx(&d));
        }
        assert!(!d.log().contains("Entering FAULT STATE"), "{}", ctx(&d));
        assert!(
            !d.log().contains("Entering BACKUP STATE (init)"),
            "{}",
            ctx(&d)
        );
        d.stop();
    }
}

#[test]
fn weight0_script_holds_init_until_it_reports_ours() {
    weight0_init("weight0_script_holds_init_until_it_reports_ours", false);
}

#[test]
fn weight0_script_holds_init_until_it_reports_real_keepalived() {
    weight0_init(
        "weight0_script_holds_init_until_it_reports_real_keepalived",
        true,
    );
}

/// `garp_group { garp_interval 0.25 interface eth0 }` spaces eth0's gratuitous ARPs as the
/// global `vrrp_garp_interval` would: with a repeat of 3, two packets per burst, at
/// least the interval apart.
fn garp_group_spacing(test: &str, real: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    if !wire::tcpdump_available() {
        support::skip_or_fail(test, "tcpdump is not installed");
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let cap = wire::Capture::start(&lan, 1, "arp");
    let vip = VIPS[0];
    let c = format!(
        "global_defs {{\n  router_id test\n}}\n\
         garp_group {{\n  garp_interval 0.25\n  interface eth0\n}}\n{}",
        instance(
            "VI_1",
            51,
            100,
            vip,
            "  garp_master_repeat 3\n  garp_master_delay 2\n"
        )
    );
    let mut d = Daemon::start(&lan, 0, real, &c);
    assert!(
        wait_until(10, || has_addr(&lan, 0, vip)),
        "no takeover\n{}",
        d.log()
    );
    std::thread::sleep(Duration::from_millis(3600));
    let garps = cap.matching(&[&format!("who-has {vip} "), &format!("tell {vip},")]);
    let dump = || format!("real={real}\n{}\n{}", cap.text(), d.log());
    let Some(&(t0, _)) = garps.first() else {
        panic!("no GARP seen\n{}", dump());
    };
    let in_window = |a: f64, b: f64| -> Vec<f64> {
        garps
            .iter()
            .map(|g| g.0 - t0)
            .filter(|t| *t >= a && *t < b)
            .collect()
    };
    let first = in_window(0.0, 1.5);
    assert_eq!(first.len(), 2, "first burst\n{}", dump());
    assert!(
        first[1] - first[0] >= 0.2,
        "interval not honoured\n{}",
        dump()
    );
    assert_eq!(in_window(1.5, 3.5).len(), 2, "delayed burst\n{}", dump());
    d.stop();
}

#[test]
fn garp_group_spaces_gratuitous_arps_ours() {
    garp_group_spacing("garp_group_spaces_gratuitous_arps_ours", false);
}

#[test]
fn garp_group_spaces_gratuitous_arps_real_keepalived() {
    garp_group_spacing("garp_group_spaces_gratuitous_arps_real_keepalived", true);
}

/// An IPv4 instance on a VMAC whose base interface has no IPv4 address at start is in
/// FAULT, and recovers (BACKUP, then MASTER on the VMAC) once the address is added.
fn vmac_late_address(test: &str, real: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    lan.must(0, &["ip", "-4", "addr", "flush", "dev", "eth0"]);
    let vip = VIPS[0];
    let c = format!(
        "global_defs {{\n  router_id test\n}}\n{}",
        instance("VI_1", 51, 100, vip, "  use_vmac\n")
    );
    let mut d = Daemon::start(&lan, 0, real, &c);
    assert!(
        wait_until(10, || wire::link_details(&lan, 0, "vrrp.51").is_some()),
        "no VMAC\n{}",
        d.log()
    );
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !wire::has_addr_on(&lan, 0, "vrrp.51", vip),
        "MASTER without a source address\n{}",
        d.log()
    );
    lan.must(0, &["ip", "addr", "add", "192.0.2.1/24", "dev", "eth0"]);
    assert!(
        wait_until(15, || wire::has_addr_on(&lan, 0, "vrrp.51", vip)),
        "no recovery once the address is there\n{}",
        d.log()
    );
    d.stop();
}

#[test]
fn vmac_instance_recovers_when_base_gets_an_address_ours() {
    vmac_late_address(
        "vmac_instance_recovers_when_base_gets_an_address_ours",
        false,
    );
}

#[test]
fn vmac_instance_recovers_when_base_gets_an_address_real_keepalived() {
    vmac_late_address(
        "vmac_instance_recovers_when_base_gets_an_address_real_keepalived",
        true,
    );
}

/// Links appearing, renamed and deleted while we run: keepalived 2.2.7 logs
/// `Interface name has changed from A to B` always and `Interface X added` / `deleted` with
/// -D (the test daemons run with -D). Ours and the real one must log the same lines.
fn interface_events(lan: &netns::Lan, real: bool) -> Vec<String> {
    let conf = format!(
        "global_defs {{\n  router_id test\n}}\n{}",
        instance("VI_1", 51, 100, VIPS[0], "")
    );
    let mut d = Daemon::start(lan, 0, real, &conf);
    assert!(
        wait_until(10, || d.log().contains("Entering BACKUP STATE")),
        "{}",
        d.log()
    );
    let step = |args: &[&str]| {
        lan.must(0, args);
        std::thread::sleep(Duration::from_millis(400));
    };
    step(&[
        "ip", "link", "add", "gx1", "type", "veth", "peer", "name", "gx2",
    ]);
    step(&["ip", "link", "set", "gx2", "name", "gx3"]);
    step(&["ip", "link", "del", "gx1"]);
    d.stop();
    d.log()
        .lines()
        .filter_map(|l| {
            l.split_once(": Interface ")
                .map(|x| format!("Interface {}", x.1))
        })
        .collect()
}

#[test]
fn interface_added_renamed_deleted_lines_as_keepalived() {
    let t = "interface_added_renamed_deleted_lines_as_keepalived";
    if !real_or_skip(t) {
        return;
    }
    let Some(lan) = lan_or_skip(t, 1) else { return };
    let real = interface_events(&lan, true);
    let ours = interface_events(&lan, false);
    let sorted = |mut v: Vec<String>| {
        // the two ends of a veth pair arrive in either order
        v.sort();
        v
    };
    assert!(
        real.contains(&"Interface name has changed from gx2 to gx3".to_string()),
        "{real:?}"
    );
    assert_eq!(sorted(ours), sorted(real));
}

/// Who gets `MASTER_PRIORITY` lines: an instance's own `notify_priority_changes`, else its
/// sync group's, else global_defs `vrrp_notify_priority_changes`. VI_1 (in G, which says
/// no) gets none; VI_2 (in G, its own yes) and VI_4 (no group, the global yes) get them.
/// (`sync_group_tracking_weight`: without it members' weighted trackers are dropped.)
fn priority_change_inheritance(test: &str, real: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let (dir, _rec, _calls) = script_dir();
    let fifo = dir.path().join("vrrp.fifo");
    let flag = dir.path().join("up");
    let track = "  track_script {\n    chk\n  }\n";
    let conf = format!(
        "global_defs {{\n  router_id test\n  vrrp_notify_fifo {}\n  vrrp_notify_priority_changes\n}}\n\
         vrrp_script chk {{\n  script \"/bin/sh -c 'test -e {}'\"\n  interval 1\n  weight 10\n}}\n\
         vrrp_sync_group G {{\n  group {{\n    VI_1\n    VI_2\n  }}\n  notify_priority_changes no\n  sync_group_tracking_weight\n}}\n{}{}{}",
        fifo.display(),
        flag.display(),
        instance("VI_1", 51, 100, VIPS[0], track),
        instance(
            "VI_2",
            52,
            100,
            VIPS[1],
            &format!("  notify_priority_changes\n{track}")
        ),
        instance("VI_4", 54, 100, VIPS[3], track),
    );
    let lines = FifoLines::new(fifo.clone());
    let d = Daemon::start(&lan, 0, real, &conf);
    for v in [VIPS[0], VIPS[1], VIPS[3]] {
        expect_master(&lan, 0, &[0], v, 15, &[&d]);
    }
    fs::write(&flag, "").expect("touch flag");
    let want = [
        "INSTANCE \"VI_2\" MASTER_PRIORITY 110",
        "INSTANCE \"VI_4\" MASTER_PRIORITY 110",
    ];
    assert!(
        wait_until(10, || want.iter().all(|w| lines.count(w) == 1)),
        "{:#?}\n{}",
        lines.get(),
        d.log()
    );
    // VI_1's change happened with the others' (same script run): nothing for it.
    assert!(
        !lines
            .get()
            .iter()
            .any(|l| l.contains("VI_1") && l.contains("PRIORITY")),
        "{:#?}",
        lines.get()
    );
}

#[test]
fn priority_change_inheritance_ours() {
    priority_change_inheritance("priority_change_inheritance_ours", false);
}

#[test]
fn priority_change_inheritance_real() {
    priority_change_inheritance("priority_change_inheritance_real", true);
}
