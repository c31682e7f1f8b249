//! End to end: notify scripts really run with keepalived's argument vectors, tracked
//! scripts time out, FIFO readers see the lines, SMTP alerts reach a tiny SMTP server and
//! dead servers cost only a log line.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

mod support;

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keepalived::config::diagnostic::Span;
use keepalived::config::host::RunAs;
use keepalived::config::model::global::SmtpServer;
use keepalived::config::model::script::split_command;
use keepalived::config::model::vrrp::instance::Notify;
use keepalived::config::model::vrrp::track::{ParamMatch, TrackProcess};
use keepalived::config::model::Script;
use keepalived::mail::{self, MailConfig, SendOutcome};
use keepalived::notify::{self, FifoEvent, NotifyState, Who};
use keepalived::script::{self, Prepared, RunSlot, ScriptResult};
use keepalived::vrrp::track;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

fn script(text: &str) -> Script {
    Script {
        argv: split_command(text),
        text: text.to_owned(),
        user: None,
        group: None,
        span: Span::default(),
    }
}

fn write_exec(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A script that appends its arguments, `|`-separated, as one line of `log`.
fn recorder(dir: &Path, name: &str, shebang: bool, log: &Path) -> PathBuf {
    let p = dir.join(name);
    let body = format!(
        "{}for a in \"$@\"; do printf '%s|' \"$a\"; done >> '{}'\necho >> '{}'\n",
        if shebang { "#!/bin/sh\n" } else { "" },
        log.display(),
        log.display()
    );
    write_exec(&p, &body);
    p
}

fn lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Captures log lines written through `tracing` on this thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let me = self.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || me.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(sub)
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn notify_scripts_get_keepalived_argument_vectors() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls.log");
    let rec = recorder(dir.path(), "rec.sh", true, &log);
    // no shebang: run through /bin/sh with single-quoted words
    let plain = recorder(dir.path(), "plain", false, &log);
    let r = rec.display();
    let n = Notify {
        master: Some(script(&format!("{r} master2"))),
        backup: Some(script(&format!("{} \"it's b\"", plain.display()))),
        fault: None,
        stop: Some(script(&format!("{r} stop"))),
        generic: Some(script(&format!("{r} node2"))),
    };
    let events = [
        (Who::Instance, "VI_1", NotifyState::Backup, 100),
        (Who::Instance, "VI_1", NotifyState::Master, 100),
        (Who::Group, "G1", NotifyState::Master, 100),
        (Who::Instance, "VI_1", NotifyState::Fault, 90),
        (Who::Instance, "VI_1", NotifyState::Stop, 90),
    ];
    for (who, name, state, prio) in events {
        for s in notify::notify_calls(&n, None, who, name, state, prio) {
            let p = script::prepare(&s, None).unwrap();
            // run one at a time so the log order is the call order
            assert_eq!(
                script::run(&p, Duration::from_secs(30)).await,
                ScriptResult::Exited(0)
            );
        }
    }
    assert_eq!(
        lines(&log),
        vec![
            "it's b|",
            "node2|INSTANCE|VI_1|BACKUP|100|",
            "master2|",
            "node2|INSTANCE|VI_1|MASTER|100|",
            "master2|",
            "node2|GROUP|G1|MASTER|0|",
            "node2|INSTANCE|VI_1|FAULT|90|",
            "stop|",
            "node2|INSTANCE|VI_1|STOP|90|",
        ]
    );

    // fire and forget, as notify scripts are run
    let p = script::prepare(&script(&format!("{r} detached")), None).unwrap();
    script::spawn_detached(&p);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lines(&log).iter().any(|l| l == "detached|") {
        assert!(Instant::now() < deadline, "detached notify never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn hanging_scripts_are_killed_at_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pidf = dir.path().join("bg.pid");
    let hang = dir.path().join("hang.sh");
    // a background child in the same process group, and a leader that ignores SIGTERM:
    // only the SIGKILL 2 s later ends it
    write_exec(
        &hang,
        &format!(
            "#!/bin/sh\nsleep 300 &\necho $! > '{}'\ntrap '' TERM\nwhile :; do sleep 1; done\n",
            pidf.display()
        ),
    );
    let p = script::prepare(&script(&hang.display().to_string()), None).unwrap();
    let slot = RunSlot::new();
    let cap = Captured::default();
    let _g = cap.install();
    let run = script::run_tracked(&slot, "chk", &p, Duration::from_millis(500));
    let second = async {
        // the first run is active: a second one is skipped
        tokio::time::sleep(Duration::from_millis(200)).await;
        script::run_tracked(&slot, "chk", &p, Duration::from_secs(1)).await
    };
    let (r1, r2) = tokio::join!(run, second);
    assert_eq!(r1, Some(ScriptResult::TimedOut));
    assert_eq!(r2, None);
    assert!(cap
        .text()
        .contains("Track script chk is already running, expect idle - skipping run"));
    assert!(!slot.is_running());
    let bg: i32 = std::fs::read_to_string(&pidf)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // gone, or a zombie waiting for a reaper that is not us
        let st = std::fs::read_to_string(format!("/proc/{bg}/stat")).unwrap_or_default();
        let state = st
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .chars()
            .next();
        if st.is_empty() || state == Some('Z') {
            break;
        }
        assert!(Instant::now() < deadline, "background child {bg} survived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // a plain script that overruns its timeout is also reported as timed out
    let p = Prepared {
        argv: vec!["/bin/sleep".into(), "300".into()],
        run_as: None,
    };
    assert_eq!(
        script::run(&p, Duration::from_millis(100)).await,
        ScriptResult::TimedOut
    );
}

#[tokio::test]
async fn exec_failure_counts_as_success_with_log_line() {
    let cap = Captured::default();
    let _g = cap.install();
    let p = script::prepare(&script("/nonexistent/dir/chk.sh a"), None).unwrap();
    // the path does not resolve, so keepalived would run it via the shell; exec it
    // directly to reproduce the execve failure
    let direct = Prepared {
        argv: vec!["/nonexistent/dir/chk.sh".into()],
        run_as: None,
    };
    assert_eq!(
        script::run(&direct, Duration::from_secs(5)).await,
        ScriptResult::Exited(0)
    );
    assert!(
        cap.text()
            .contains("Error exec-ing command '/nonexistent/dir/chk.sh', error 2: "),
        "{}",
        cap.text()
    );
    // through the shell, the shell's own 127 is what the script returns
    assert_eq!(
        script::run(&p, Duration::from_secs(5)).await,
        ScriptResult::Exited(127)
    );
}

#[tokio::test]
async fn scripts_run_as_their_user_in_their_own_process_group() {
    if !support::is_root() {
        support::skip_or_fail(
            "scripts_run_as_their_user_in_their_own_process_group",
            "needs root to switch uid",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = dir.path().join("id.out");
    let sh = dir.path().join("id.sh");
    write_exec(
        &sh,
        &format!(
            "#!/bin/sh\n{{ id -u; id -g; id -G; ps -o pgid= -p $$; echo $$; }} > '{}'\n",
            out.display()
        ),
    );
    let p = Prepared {
        argv: vec![sh.display().to_string()],
        run_as: Some(RunAs {
            uid: 65534,
            gid: 65534,
        }),
    };
    assert_eq!(
        script::run(&p, Duration::from_secs(30)).await,
        ScriptResult::Exited(0)
    );
    let l = lines(&out);
    assert_eq!(l.first().map(String::as_str), Some("65534"));
    assert_eq!(l.get(1).map(String::as_str), Some("65534"));
    // supplementary groups cleared: only the primary group remains
    assert_eq!(l.get(2).map(String::as_str), Some("65534"));
    assert_eq!(
        l.get(3).map(|s| s.trim().to_owned()),
        l.get(4).cloned(),
        "script is not a process group leader"
    );
}

#[test]
fn fifo_buffers_lines_for_a_late_reader_and_is_removed_if_ours() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.fifo");
    let mut f = notify::Fifo::open(&path, Some((0, 0))).unwrap();
    assert!(f.created());
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_fifo());
    let umask = {
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
        nix::sys::stat::umask(old);
        old.bits()
    };
    assert_eq!(meta.permissions().mode() & 0o777, 0o644 & !umask);
    // written before anyone reads: buffered, never blocking
    f.write_line(&notify::fifo_line(
        Who::Instance,
        "VI_1",
        FifoEvent::State(NotifyState::Master),
        150,
    ));
    f.write_line(&notify::fifo_line(
        Who::Group,
        "G1",
        FifoEvent::State(NotifyState::Backup),
        150,
    ));
    f.write_line(&notify::fifo_line(
        Who::Instance,
        "VI_1",
        FifoEvent::MasterRxLowerPri,
        150,
    ));
    let mut r = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = r.read(&mut buf).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&buf[..n]),
        "INSTANCE \"VI_1\" MASTER 150\nGROUP \"G1\" BACKUP 0\nINSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150\n"
    );
    let reader = script("/usr/local/bin/fifo-reader --x");
    assert_eq!(
        f.script_call(&reader).argv,
        vec![
            "/usr/local/bin/fifo-reader".to_owned(),
            "--x".to_owned(),
            path.display().to_string()
        ]
    );
    // a full pipe loses lines instead of blocking
    let long = "x".repeat(8192);
    for _ in 0..64 {
        f.write_line(&long);
    }
    drop(f);
    assert!(!path.exists(), "our FIFO is removed at exit");

    // a FIFO that was already there is left alone
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let f = notify::Fifo::open(&path, None).unwrap();
    assert!(!f.created());
    drop(f);
    assert!(path.exists());
    // a regular file is refused
    let reg = dir.path().join("regular");
    std::fs::write(&reg, "").unwrap();
    assert!(notify::Fifo::open(&reg, None).is_err());
}

#[tokio::test]
async fn track_file_watcher_sees_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prio");
    std::fs::write(&path, "5\n").unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    let h = keepalived::watch::watch_file(path.clone(), Duration::from_millis(20), tx);
    assert_eq!(rx.recv().await, Some(5));
    std::fs::write(&path, "-12\n").unwrap();
    assert_eq!(rx.recv().await, Some(-12));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(rx.recv().await, Some(0));
    drop(rx);
    h.abort();
}

#[test]
fn track_process_scan_counts_matching_processes() {
    let marker = format!("{}", 900_000 + std::process::id() % 99_999);
    let mut tp = TrackProcess::new("sleeper", Span::default());
    tp.process = vec!["sleep".into(), marker.clone()];
    tp.full_command = true;
    tp.param_match = ParamMatch::Exact;
    let tps = [tp];
    assert_eq!(track::scan_processes(Path::new("/proc"), &tps), vec![0]);
    let mut kids: Vec<_> = (0..2)
        .map(|_| {
            std::process::Command::new("sleep")
                .arg(&marker)
                .spawn()
                .unwrap()
        })
        .collect();
    let mut pt = track::ProcessTracker::new(&tps[0]);
    pt.init(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    let change = loop {
        let n = track::scan_processes(Path::new("/proc"), &tps)[0];
        if n == 2 {
            break pt.on_count(n, Instant::now());
        }
        assert!(Instant::now() < deadline, "saw {n} sleepers");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        change,
        Some((true, "Quorum gained for tracked process sleeper".to_owned()))
    );
    for k in &mut kids {
        k.kill().unwrap();
        k.wait().unwrap();
    }
    assert_eq!(track::scan_processes(Path::new("/proc"), &tps), vec![0]);
}

/// What the fake SMTP server saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    helo: String,
    from: String,
    rcpt: Vec<String>,
    data: String,
}

/// Serves one SMTP session: 220, 250 to EHLO/HELO/MAIL/RCPT, 354 to DATA, 250, 221.
async fn smtp_once(l: TcpListener) -> Seen {
    let (s, _) = l.accept().await.unwrap();
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    let mut seen = Seen::default();
    w.write_all(b"220 test ESMTP\r\n").await.unwrap();
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).await.unwrap() == 0 {
            return seen;
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            seen.helo = cmd.get(5..).unwrap_or("").to_owned();
            w.write_all(b"250 test\r\n").await.unwrap();
        } else if upper.starts_with("MAIL FROM:") {
            seen.from = cmd.get(10..).unwrap_or("").to_owned();
            w.write_all(b"250 ok\r\n").await.unwrap();
        } else if upper.starts_with("RCPT TO:") {
            seen.rcpt.push(cmd.get(8..).unwrap_or("").to_owned());
            w.write_all(b"250 ok\r\n").await.unwrap();
        } else if upper == "DATA" {
            w.write_all(b"354 go ahead\r\n").await.unwrap();
            loop {
                line.clear();
                r.read_line(&mut line).await.unwrap();
                if line == ".\r\n" || line.is_empty() {
                    break;
                }
                seen.data.push_str(&line);
            }
            w.write_all(b"250 queued\r\n").await.unwrap();
        } else if upper == "QUIT" {
            w.write_all(b"221 bye\r\n").await.unwrap();
            return seen;
        } else {
            w.write_all(b"502 unknown\r\n").await.unwrap();
        }
    }
}

fn mail_cfg(addr: std::net::SocketAddr, timeout: Duration) -> MailConfig {
    MailConfig {
        server: SmtpServer::Addr(addr),
        helo: "lb1.example.org".into(),
        from: "keepalived@lb1.example.org".into(),
        to: vec!["ops@example.org".into(), "noc@example.org".into()],
        router_id: "LB1".into(),
        connect_timeout: timeout,
    }
}

#[tokio::test]
async fn smtp_alert_reaches_the_server() {
    let cap = Captured::default();
    let _g = cap.install();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let server = tokio::spawn(smtp_once(l));
    let cfg = mail_cfg(addr, Duration::from_secs(20));
    let alert = mail::instance_alert(&cfg.router_id, "VI_1", NotifyState::Master);
    let out = mail::spawn_send(cfg, alert).await.unwrap();
    assert_eq!(out, SendOutcome::Sent);
    let seen = server.await.unwrap();
    assert_eq!(seen.helo, "lb1.example.org");
    assert_eq!(seen.from, "<keepalived@lb1.example.org>");
    assert_eq!(seen.rcpt, vec!["<ops@example.org>", "<noc@example.org>"]);
    let d = &seen.data;
    assert!(d.contains("From: keepalived@lb1.example.org\r\n"), "{d}");
    assert!(
        d.contains("To: ops@example.org, noc@example.org\r\n"),
        "{d}"
    );
    assert!(
        d.contains("Subject: [LB1] VRRP Instance VI_1 - Entering MASTER state\r\n"),
        "{d}"
    );
    assert!(d.contains("X-Mailer: Keepalived\r\n"), "{d}");
    assert!(d.contains("\r\nDate: "), "{d}");
    assert!(
        d.contains("\r\n\r\n=> VRRP Instance is now owning VRRP VIPs <=\r\n"),
        "{d}"
    );
    // keepalived logs the success only with -D (detail is off here).
    assert!(!cap.text().contains("SMTP alert successfully sent."));
}

#[tokio::test]
async fn silent_smtp_server_times_out_without_blocking() {
    let cap = Captured::default();
    let _g = cap.install();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    // accepts, never answers
    let holder = tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(120)).await;
        drop(s);
    });
    let cfg = mail_cfg(addr, Duration::from_millis(300));
    let alert = mail::group_alert(&cfg.router_id, "G1", NotifyState::Fault);
    let h = mail::spawn_send(cfg, alert);
    // the caller keeps running while the alert is pending
    let mut ticks = 0;
    while !h.is_finished() {
        ticks += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ticks > 0);
    assert_eq!(h.await.unwrap(), SendOutcome::Timeout);
    assert!(
        cap.text().contains(&format!(
            "Timeout reading data to remote SMTP server [127.0.0.1]:{}.",
            addr.port()
        )),
        "{}",
        cap.text()
    );
    holder.abort();
}

#[tokio::test]
async fn closed_smtp_port_gives_connection_error() {
    let cap = Captured::default();
    let _g = cap.install();
    // Bound but not listening: connections are refused, and the port stays ours so a
    // parallel test's listener cannot take it over.
    let closed = tokio::net::TcpSocket::new_v4().unwrap();
    closed.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = closed.local_addr().unwrap();
    let cfg = mail_cfg(addr, Duration::from_secs(5));
    let alert = mail::instance_alert(&cfg.router_id, "VI_1", NotifyState::Backup);
    let out = mail::spawn_send(cfg, alert).await.unwrap();
    assert!(matches!(out, SendOutcome::Error(_)), "{out:?}");
    assert!(
        cap.text().contains(&format!(
            "SMTP connection ERROR to [127.0.0.1]:{}.",
            addr.port()
        )),
        "{}",
        cap.text()
    );
}

#[tokio::test]
async fn tracked_script_loop_feeds_the_tracker_and_skips_overlapping_runs() {
    let cap = Captured::default();
    let _g = cap.install();
    let dir = tempfile::tempdir().unwrap();
    let chk = dir.path().join("chk.sh");
    write_exec(&chk, "#!/bin/sh\nsleep 0.35\nexit 3\n");
    let mut vs = keepalived::config::model::vrrp::track::VrrpScript::new("chk", Span::default());
    vs.script = Some(script(&chk.display().to_string()));
    vs.timeout = Duration::from_secs(10);
    vs.fall = 2;
    let p = script::prepare_vrrp_script(&vs, None).unwrap();
    assert_eq!(script::vrrp_script_timeout(&vs), Duration::from_secs(10));
    let (tx, mut rx) = tokio::sync::mpsc::channel(8);
    // ticks every 100 ms while each run takes 350 ms
    let h = script::spawn_tracked_loop(
        "chk".into(),
        p,
        Duration::from_millis(100),
        script::vrrp_script_timeout(&vs),
        tx,
    );
    let mut t = track::ScriptTracker::new(&vs);
    let mut logs = Vec::new();
    let mut changes = Vec::new();
    for _ in 0..2 {
        let (name, r) = rx.recv().await.unwrap();
        assert_eq!(name, "chk");
        assert_eq!(r, ScriptResult::Exited(3));
        let (c, l) = t.on_result(r);
        changes.push(c);
        logs.extend(l);
    }
    h.abort();
    assert_eq!(changes, vec![Some(false), None]);
    assert_eq!(
        logs,
        vec![
            "Script `chk` now returning 3",
            "VRRP_Script(chk) failed (exited with status 3)"
        ]
    );
    assert!(cap
        .text()
        .contains("Track script chk is already running, expect idle - skipping run"));
}

#[test]
fn scripts_get_sigterm_when_the_spawning_thread_dies() {
    let dir = tempfile::tempdir().unwrap();
    let pidf = dir.path().join("pid");
    let sh = dir.path().join("wait.sh");
    write_exec(
        &sh,
        &format!(
            "#!/bin/sh\necho $$ > '{}'\nexec sleep 300\n",
            pidf.display()
        ),
    );
    let p = Prepared {
        argv: vec![sh.display().to_string()],
        run_as: None,
    };
    let pid = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let child = script::spawn(&p).expect("spawned");
            let pid = child.id().unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::fs::read_to_string(&pidf).map_or(true, |s| s.trim().is_empty()) {
                assert!(Instant::now() < deadline, "script never started");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            std::mem::forget(child);
            pid
        })
    })
    .join()
    .unwrap();
    // the thread that forked is gone: PDEATHSIG=SIGTERM ends the script
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = st
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .chars()
            .next();
        if st.is_empty() || state == Some('Z') {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "script {pid} outlived its parent thread"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(pid as i32),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
}
