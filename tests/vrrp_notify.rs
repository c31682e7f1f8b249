//! End to end, in network namespaces: the VRRP child's notify scripts (instances and sync
//! groups), notify FIFO, SMTP alerts and script security.
//! The sequence tests also run against the real keepalived 2.2.7, so the expectations are
//! keepalived's own behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;
use support::netns;
use support::node_daemon;

use std::fs;
use std::io::BufRead;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netns::Lan;
use node_daemon::*;

/// A background process in a node, killed (with its process group) on drop.
struct Bg(Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `sh -c CMD` in node `i` with stdio on /dev/null (CMD redirects what it wants).
fn bg(lan: &Lan, i: usize, cmd: &str) -> Bg {
    let child = Command::new("ip")
        .args(["netns", "exec", &lan.nodes[i].ns, "sh", "-c", cmd])
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn background process");
    Bg(child)
}

/// A directory any user can traverse, holding root-owned scripts, and a sticky
/// world-writable `out/` where scripts (whatever their user) record what they saw.
fn script_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod dir");
    let out = dir.path().join("out");
    fs::create_dir(&out).expect("mkdir out");
    fs::set_permissions(&out, fs::Permissions::from_mode(0o1777)).expect("chmod out");
    (dir, out)
}

/// A `#!/bin/sh` script appending its arguments (and, with `uid`, `id -u`) to `log`.
fn recorder(path: &Path, log: &Path, uid: bool, mode: u32) {
    let extra = if uid { "uid=$(id -u) " } else { "" };
    fs::write(
        path,
        format!("#!/bin/sh\necho \"{extra}$*\" >> {}\n", log.display()),
    )
    .expect("write script");
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod script");
}

fn read_lines(p: &Path) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Reads a notify FIFO from a thread once the daemon has created it, until EOF (the
/// daemon closed it) or 90 s.
fn fifo_reader(path: PathBuf) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let out = lines.clone();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(90);
        while !fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_fifo()) {
            if Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // The daemon holds the FIFO open read-write, so this open does not block.
        let Ok(f) = fs::File::open(&path) else { return };
        for line in std::io::BufReader::new(f).lines() {
            let Ok(line) = line else { return };
            if let Ok(mut v) = out.lock() {
                v.push(line);
            }
            if Instant::now() > deadline {
                return;
            }
        }
    });
    lines
}

fn snapshot(l: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    l.lock().map(|v| v.clone()).unwrap_or_default()
}

/// The states in `lines` of entity `tag` (`INSTANCE "VI_1"`, `GROUP "G1"`), in order.
fn states_of(lines: &[String], tag: &str) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l.strip_prefix(tag))
        .map(|rest| rest.trim().to_owned())
        .collect()
}

const VIP1: &str = "192.0.2.100";
const VIP2: &str = "192.0.2.101";

fn group_conf(global: &str, p1: u8, p2: u8, notify1: &str, gnotify: &str) -> String {
    format!(
        "global_defs {{\n  router_id test\n{global}}}\n\
         vrrp_sync_group G1 {{\n  group {{\n    VI_1\n    VI_2\n  }}\n{gnotify}}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority {p1}\n  advert_int 1\n{notify1}  virtual_ipaddress {{\n    {VIP1}/32\n  }}\n}}\n\
         vrrp_instance VI_2 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 52\n  \
         priority {p2}\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP2}/32\n  }}\n}}\n"
    )
}

/// BACKUP (start) → MASTER → BACKUP (a higher peer) → FAULT (link down) → BACKUP (link up)
/// → STOP, for an instance and its sync group: every script call, and the FIFO lines in
/// keepalived's format and order.
fn sequence(test: &str, real: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let (dir, out) = script_dir();
    let calls = out.join("calls");
    let rec = dir.path().join("rec.sh");
    recorder(&rec, &calls, false, 0o755);
    let fifo = dir.path().join("vrrp.fifo");
    let r = rec.display();
    let notify1 = format!(
        "  notify_master \"{r} imaster\"\n  notify_backup \"{r} ibackup\"\n  \
         notify_fault \"{r} ifault\"\n  notify_stop \"{r} istop\"\n  notify \"{r} inotify\"\n"
    );
    let gnotify = format!(
        "  notify_master \"{r} gmaster\"\n  notify_backup \"{r} gbackup\"\n  \
         notify_fault \"{r} gfault\"\n  notify_stop \"{r} gstop\"\n  notify \"{r} gnotify\"\n"
    );
    let global = format!("  vrrp_notify_fifo {}\n", fifo.display());
    let fifo_lines = fifo_reader(fifo.clone());
    let mut a = Daemon::start(
        &lan,
        0,
        real,
        &group_conf(&global, 100, 90, &notify1, &gnotify),
    );
    let ctx = |a: &Daemon, peer: Option<&Daemon>| {
        format!(
            "calls: {:#?}\nfifo: {:#?}\n{}\n{}",
            read_lines(&calls),
            snapshot(&fifo_lines),
            a.log(),
            peer.map(Daemon::log).unwrap_or_default()
        )
    };
    let fifo_has = |l: &str| snapshot(&fifo_lines).iter().filter(|x| *x == l).count();

    // 1. MASTER (after BACKUP at start).
    expect_master(&lan, 0, &[0, 1], VIP1, 15, &[&a]);
    assert!(
        wait_until(5, || fifo_has("GROUP \"G1\" MASTER 0") == 1),
        "{}",
        ctx(&a, None)
    );
    // 2. A higher-priority peer: BACKUP.
    let b = Daemon::start(&lan, 1, false, &group_conf("", 200, 190, "", ""));
    expect_master(&lan, 1, &[0, 1], VIP1, 15, &[&a, &b]);
    assert!(
        wait_until(5, || fifo_has("GROUP \"G1\" BACKUP 0") == 2),
        "{}",
        ctx(&a, Some(&b))
    );
    // 3. Link down: FAULT; 4. link up: BACKUP again.
    lan.must(0, &["ip", "link", "set", "eth0", "down"]);
    assert!(
        wait_until(5, || fifo_has("GROUP \"G1\" FAULT 0") == 1),
        "{}",
        ctx(&a, Some(&b))
    );
    lan.must(0, &["ip", "link", "set", "eth0", "up"]);
    assert!(
        wait_until(10, || fifo_has("GROUP \"G1\" BACKUP 0") == 3),
        "{}",
        ctx(&a, Some(&b))
    );
    // 5. Shutdown: STOP.
    a.stop();
    let want_calls = |c: &[String]| c.iter().filter(|l| l.contains("STOP")).count() == 2;
    assert!(
        wait_until(5, || want_calls(&read_lines(&calls))),
        "{}",
        ctx(&a, Some(&b))
    );
    assert!(
        wait_until(5, || fifo_has("GROUP \"G1\" STOP 0") == 1),
        "{}",
        ctx(&a, Some(&b))
    );
    let seq = ["BACKUP", "MASTER", "BACKUP", "FAULT", "BACKUP", "STOP"];
    let lines = snapshot(&fifo_lines);
    let with_prio = |p: u8| seq.iter().map(|s| format!("{s} {p}")).collect::<Vec<_>>();
    assert_eq!(
        states_of(&lines, "INSTANCE \"VI_1\""),
        with_prio(100),
        "{lines:#?}"
    );
    assert_eq!(
        states_of(&lines, "INSTANCE \"VI_2\""),
        with_prio(90),
        "{lines:#?}"
    );
    assert_eq!(
        states_of(&lines, "GROUP \"G1\""),
        with_prio(0),
        "{lines:#?}"
    );
    // At start the group comes first; on every later change it follows its members.
    let pos = |l: &str, nth: usize| lines.iter().enumerate().filter(|(_, x)| *x == l).nth(nth);
    let (g0, _) = pos("GROUP \"G1\" BACKUP 0", 0).expect("group backup");
    let (i0, _) = pos("INSTANCE \"VI_1\" BACKUP 100", 0).expect("instance backup");
    assert!(g0 < i0, "{lines:#?}");
    for (g, i) in [
        ("GROUP \"G1\" MASTER 0", "INSTANCE \"VI_1\" MASTER 100"),
        ("GROUP \"G1\" FAULT 0", "INSTANCE \"VI_1\" FAULT 100"),
        ("GROUP \"G1\" STOP 0", "INSTANCE \"VI_1\" STOP 100"),
    ] {
        let (g, _) = pos(g, 0).expect("group line");
        let (i, _) = pos(i, 0).expect("instance line");
        assert!(i < g, "{lines:#?}");
    }
    // Scripts run concurrently (keepalived does not wait for them): compare as multisets.
    let mut got = read_lines(&calls);
    got.sort();
    let mut want: Vec<String> = Vec::new();
    for s in seq {
        let lower = s.to_lowercase();
        want.push(format!("i{lower}"));
        want.push(format!("inotify INSTANCE VI_1 {s} 100"));
        want.push(format!("g{lower}"));
        want.push(format!("gnotify GROUP G1 {s} 0"));
    }
    want.sort();
    assert_eq!(got, want, "{}", ctx(&a, Some(&b)));
    // The FIFO keepalived created is removed at exit.
    assert!(
        wait_until(3, || !fifo.exists()),
        "FIFO left behind\n{}",
        a.log()
    );
}

#[test]
fn notify_scripts_and_fifo_follow_instance_and_group_ours() {
    sequence(
        "notify_scripts_and_fifo_follow_instance_and_group_ours",
        false,
    );
}

#[test]
fn notify_scripts_and_fifo_follow_instance_and_group_real_keepalived() {
    sequence(
        "notify_scripts_and_fifo_follow_instance_and_group_real_keepalived",
        true,
    );
}

fn mail_global(port: u16, timeout: u32) -> String {
    format!(
        "  notification_email {{\n    a@example.org\n    b@example.org\n  }}\n  \
         notification_email_from ka@example.org\n  smtp_server 192.0.2.2 {port}\n  \
         smtp_helo_name helo.example.org\n  smtp_connect_timeout {timeout}\n  router_id R1\n"
    )
}

fn mail_conf(port: u16, timeout: u32) -> String {
    format!(
        "global_defs {{\n{}}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n  \
         priority 100\n  advert_int 1\n  smtp_alert\n  virtual_ipaddress {{\n    {VIP1}/32\n  }}\n}}\n",
        mail_global(port, timeout)
    )
}

fn python_or_skip(test: &str, module: &str) -> bool {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        support::skip_or_fail(
            test,
            &format!("/usr/bin/python3 with {module} (Debian python3-aiosmtpd) is missing"),
        );
    }
    ok
}

/// `smtp_alert` on an instance and on its sync group: the alerts reach a real SMTP server
/// (aiosmtpd) with keepalived's sender, recipients, HELO name, subjects and bodies.
fn smtp_alerts(test: &str, real: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    if !python_or_skip(test, "aiosmtpd") {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let (_dir, out) = script_dir();
    let mbox = out.join("smtp.out");
    let _server = bg(
        &lan,
        1,
        &format!(
            "exec /usr/bin/python3 -m aiosmtpd -n -d -l 192.0.2.2:2525 > {} 2>&1",
            mbox.display()
        ),
    );
    assert!(
        wait_until(10, || fs::read_to_string(&mbox)
            .unwrap_or_default()
            .contains("listening")),
        "SMTP server did not start: {}",
        fs::read_to_string(&mbox).unwrap_or_default()
    );
    let c = group_conf(
        &mail_global(2525, 5),
        100,
        90,
        "  smtp_alert\n",
        "  smtp_alert\n",
    )
    .replace("  router_id test\n", "");
    let a = Daemon::start(&lan, 0, real, &c);
    expect_master(&lan, 0, &[0], VIP1, 15, &[&a]);
    let text = || fs::read_to_string(&mbox).unwrap_or_default();
    let subjects = [
        "Subject: [R1] VRRP Instance VI_1 - Entering MASTER state",
        "Subject: [R1] VRRP Group G1 - Entering MASTER state",
    ];
    assert!(
        wait_until(15, || subjects.iter().all(|s| text().contains(s))),
        "{}\n{}",
        text(),
        a.log()
    );
    let t = text();
    for want in [
        "Subject: [R1] VRRP Instance VI_1 - Entering BACKUP state",
        "Subject: [R1] VRRP Group G1 - Entering BACKUP state",
        "sender: ka@example.org",
        "recip: a@example.org",
        "recip: b@example.org",
        "helo.example.org",
        "From: ka@example.org",
        "To: a@example.org, b@example.org",
        "X-Mailer: Keepalived",
        "=> VRRP Instance is now owning VRRP VIPs <=",
        "=> All VRRP group instances are now in MASTER state <=",
    ] {
        assert!(t.contains(want), "missing {want:?} in\n{t}\n{}", a.log());
    }
    // VI_2 has no smtp_alert (nor does global_defs).
    assert!(!t.contains("VRRP Instance VI_2"), "{t}");
    assert!(
        wait_until(5, || a.log().contains("SMTP alert successfully sent.")),
        "{}",
        a.log()
    );
}

#[test]
fn smtp_alert_reaches_a_real_smtp_server_ours() {
    smtp_alerts("smtp_alert_reaches_a_real_smtp_server_ours", false);
}

#[test]
fn smtp_alert_reaches_a_real_smtp_server_real_keepalived() {
    smtp_alerts(
        "smtp_alert_reaches_a_real_smtp_server_real_keepalived",
        true,
    );
}

/// An SMTP server that accepts the connection and never answers costs a log line only.
fn silent_smtp(test: &str, real: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    // Accepts TCP connections (the kernel does, from the backlog) and never says a word.
    let _server = bg(
        &lan,
        1,
        "exec /usr/bin/python3 -c 'import socket,time\n\
         s=socket.socket()\ns.bind((\"192.0.2.2\",2526))\ns.listen(16)\ntime.sleep(120)'",
    );
    let started = Instant::now();
    assert!(
        wait_until(10, || lan
            .must(1, &["ss", "-ltn"])
            .contains("192.0.2.2:2526")),
        "silent server did not listen"
    );
    let a = Daemon::start(&lan, 0, real, &mail_conf(2526, 3));
    // The BACKUP alert at start hangs on the silent server; VRRP must not notice.
    expect_master(&lan, 0, &[0], VIP1, 10, &[&a]);
    assert!(
        wait_until(20, || a.log().contains(
            "Timeout reading data to remote SMTP server [192.0.2.2]:2526."
        )),
        "{}",
        a.log()
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        a.log()
            .contains("Remote SMTP server [192.0.2.2]:2526 connected."),
        "{}",
        a.log()
    );
    assert!(a.log().contains("Entering MASTER STATE"), "{}", a.log());
}

#[test]
fn silent_smtp_server_does_not_delay_vrrp_ours() {
    silent_smtp("silent_smtp_server_does_not_delay_vrrp_ours", false);
}

#[test]
fn silent_smtp_server_does_not_delay_vrrp_real_keepalived() {
    silent_smtp(
        "silent_smtp_server_does_not_delay_vrrp_real_keepalived",
        true,
    );
}

/// `enable_script_security` with `script_user root`: a world-writable script and a script
/// in a directory other users can write are refused with keepalived's message and never
/// run; the safe one runs.
fn unsafe_scripts(test: &str, real: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let (dir, out) = script_dir();
    let calls = out.join("calls");
    let ww = dir.path().join("world-writable.sh");
    recorder(&ww, &calls, false, 0o755);
    // chmod 0777 under the umask: set explicitly.
    fs::set_permissions(&ww, fs::Permissions::from_mode(0o777)).expect("chmod");
    let open_dir = dir.path().join("open");
    fs::create_dir(&open_dir).expect("mkdir");
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o777)).expect("chmod");
    let in_open = open_dir.join("in-open-dir.sh");
    recorder(&in_open, &calls, false, 0o755);
    let safe = dir.path().join("safe.sh");
    recorder(&safe, &calls, false, 0o755);
    let extra = format!(
        "  notify_master \"{} ww\"\n  notify_backup \"{} open\"\n  notify \"{} safe\"\n",
        ww.display(),
        in_open.display(),
        safe.display()
    );
    let c = conf(100, &extra, &[&format!("{VIP1}/32")]).replace(
        "router_id test\n",
        "router_id test\n  enable_script_security\n  script_user root\n",
    );
    let mut a = Daemon::start(&lan, 0, real, &c);
    expect_master(&lan, 0, &[0], VIP1, 15, &[&a]);
    assert!(
        wait_until(5, || read_lines(&calls)
            .contains(&"safe INSTANCE VI_1 MASTER 100".to_owned())),
        "{:?}\n{}",
        read_lines(&calls),
        a.log()
    );
    a.stop();
    let log = a.log();
    for s in [&ww, &in_open] {
        let msg = format!(
            "Unsafe permissions found for script '{}' - disabling.",
            s.display()
        );
        assert!(log.contains(&msg), "missing {msg:?}\n{log}");
    }
    let got = read_lines(&calls);
    assert!(
        got.iter().all(|l| l.starts_with("safe ")),
        "an unsafe script ran: {got:?}"
    );
}

#[test]
fn unsafe_notify_scripts_are_refused_ours() {
    unsafe_scripts("unsafe_notify_scripts_are_refused_ours", false);
}

#[test]
fn unsafe_notify_scripts_are_refused_real_keepalived() {
    unsafe_scripts("unsafe_notify_scripts_are_refused_real_keepalived", true);
}

/// `script_user nobody`: notify scripts and the FIFO reader script run as nobody, the
/// FIFO is created `prw-------` owned by nobody.
fn script_user_nobody(test: &str, real: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let Some(nobody) = nix::unistd::User::from_name("nobody").ok().flatten() else {
        support::skip_or_fail(test, "no user nobody");
        return;
    };
    let (dir, out) = script_dir();
    let calls = out.join("calls");
    let rec = dir.path().join("rec.sh");
    recorder(&rec, &calls, true, 0o755);
    let fifo = dir.path().join("n.fifo");
    let reader = dir.path().join("reader.sh");
    fs::write(
        &reader,
        format!(
            "#!/bin/sh\necho \"reader uid=$(id -u) $*\" >> {c}\nwhile read l; do echo \"fifo $l\" >> {c}; done < \"$1\"\n",
            c = calls.display()
        ),
    )
    .expect("write reader");
    fs::set_permissions(&reader, fs::Permissions::from_mode(0o755)).expect("chmod");
    let extra = format!("  notify \"{}\"\n", rec.display());
    let c = conf(100, &extra, &[&format!("{VIP1}/32")]).replace(
        "router_id test\n",
        &format!(
            "router_id test\n  enable_script_security\n  script_user nobody\n  \
             vrrp_notify_fifo {}\n  vrrp_notify_fifo_script {}\n",
            fifo.display(),
            reader.display()
        ),
    );
    let mut a = Daemon::start(&lan, 0, real, &c);
    expect_master(&lan, 0, &[0], VIP1, 15, &[&a]);
    let uid = nobody.uid.as_raw();
    let want = format!("uid={uid} INSTANCE VI_1 MASTER 100");
    assert!(
        wait_until(5, || read_lines(&calls).contains(&want)),
        "{:?}\n{}",
        read_lines(&calls),
        a.log()
    );
    let m = fs::symlink_metadata(&fifo).expect("FIFO exists");
    assert!(m.file_type().is_fifo());
    assert_eq!(m.mode() & 0o777, 0o600, "FIFO mode");
    assert_eq!(m.uid(), uid, "FIFO owner");
    let got = read_lines(&calls);
    assert!(
        got.contains(&format!("reader uid={uid} {}", fifo.display())),
        "{got:?}"
    );
    assert!(
        wait_until(5, || read_lines(&calls)
            .contains(&"fifo INSTANCE \"VI_1\" MASTER 100".to_owned())),
        "{:?}\n{}",
        read_lines(&calls),
        a.log()
    );
    assert!(
        got.iter()
            .all(|l| !l.starts_with("uid=") || l.starts_with(&format!("uid={uid} "))),
        "{got:?}"
    );
    a.stop();
}

#[test]
fn script_user_nobody_runs_scripts_as_nobody_ours() {
    script_user_nobody("script_user_nobody_runs_scripts_as_nobody_ours", false);
}

#[test]
fn script_user_nobody_runs_scripts_as_nobody_real_keepalived() {
    script_user_nobody(
        "script_user_nobody_runs_scripts_as_nobody_real_keepalived",
        true,
    );
}

/// A MASTER hearing a lower priority (a peer that never hears it: node 0 sends its
/// unicast adverts to an absent peer, node 1 sends its own to node 0) runs
/// `notify_master_rx_lower_pri` (configured arguments only) and writes
/// `MASTER_RX_LOWER_PRI` on the FIFO.
fn rx_lower_pri(test: &str, real: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 2) else {
        return;
    };
    let (dir, out) = script_dir();
    let calls = out.join("calls");
    let rec = dir.path().join("rec.sh");
    recorder(&rec, &calls, false, 0o755);
    let fifo = dir.path().join("rx.fifo");
    let fifo_lines = fifo_reader(fifo.clone());
    let extra = format!(
        "  notify_master_rx_lower_pri \"{} rxlow\"\n  unicast_peer {{\n    192.0.2.9\n  }}\n",
        rec.display()
    );
    let c = conf(200, &extra, &[&format!("{VIP1}/32")]).replace(
        "router_id test\n",
        &format!("router_id test\n  vrrp_notify_fifo {}\n", fifo.display()),
    );
    let a = Daemon::start(&lan, 0, real, &c);
    expect_master(&lan, 0, &[0, 1], VIP1, 15, &[&a]);
    let b = Daemon::start(
        &lan,
        1,
        false,
        &conf(
            100,
            "  unicast_peer {\n    192.0.2.1\n  }\n",
            &[&format!("{VIP1}/32")],
        ),
    );
    let line = "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 200".to_owned();
    assert!(
        wait_until(10, || snapshot(&fifo_lines).contains(&line)
            && read_lines(&calls).contains(&"rxlow".to_owned())),
        "calls {:?}\nfifo {:?}\n{}",
        read_lines(&calls),
        snapshot(&fifo_lines),
        logs(&[&a, &b])
    );
    assert!(has_addr(&lan, 0, VIP1), "{}", logs(&[&a, &b]));
}

#[test]
fn master_rx_lower_pri_notifies_ours() {
    rx_lower_pri("master_rx_lower_pri_notifies_ours", false);
}

#[test]
fn master_rx_lower_pri_notifies_real_keepalived() {
    rx_lower_pri("master_rx_lower_pri_notifies_real_keepalived", true);
}

/// Without `enable_script_security` an insecure notify script still runs, and the start
/// logs keepalived's warnings.
fn insecure_without_security(test: &str, real: bool) {
    if real && !real_or_skip(test) {
        return;
    }
    let Some(lan) = lan_or_skip(test, 1) else {
        return;
    };
    let (dir, out) = script_dir();
    let calls = out.join("calls");
    let ww = dir.path().join("ww.sh");
    recorder(&ww, &calls, false, 0o755);
    fs::set_permissions(&ww, fs::Permissions::from_mode(0o777)).expect("chmod");
    let extra = format!("  notify_master \"{} ran\"\n", ww.display());
    let mut a = Daemon::start(&lan, 0, real, &conf(100, &extra, &[&format!("{VIP1}/32")]));
    expect_master(&lan, 0, &[0], VIP1, 15, &[&a]);
    assert!(
        wait_until(5, || read_lines(&calls).contains(&"ran".to_owned())),
        "{}",
        a.log()
    );
    a.stop();
    let log = a.log();
    for want in [
        format!("Unsafe permissions found for script '{}'.", ww.display()),
        "SECURITY VIOLATION - scripts are being executed but script_security not enabled. \
         There are insecure scripts."
            .to_owned(),
    ] {
        assert!(log.contains(&want), "missing {want:?}\n{log}");
    }
}

#[test]
fn insecure_script_runs_with_a_warning_without_security_ours() {
    insecure_without_security(
        "insecure_script_runs_with_a_warning_without_security_ours",
        false,
    );
}

#[test]
fn insecure_script_runs_with_a_warning_without_security_real_keepalived() {
    insecure_without_security(
        "insecure_script_runs_with_a_warning_without_security_real_keepalived",
        true,
    );
}
