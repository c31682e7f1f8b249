//! global_defs settings of the checker child, ours and keepalived 2.2.7 (when the VM has
//! it) in the same scenario: `rs_init_notifies`, `no_checker_emails`,
//! `checker_log_all_failures`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use super::*;

const RS: &str = "198.51.100.21";

fn conf(dir: &Path) -> String {
    format!(
        "global_defs {{
  router_id R1
  notification_email {{
    a@example.org
  }}
  notification_email_from ka@example.org
  smtp_server 127.0.0.1 2525
  smtp_connect_timeout 5
  rs_init_notifies
  no_checker_emails
  checker_log_all_failures
}}
virtual_server 192.0.2.120 80 {{
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server {RS} 9021 {{
    smtp_alert
    notify_up \"{rec} up\"
    TCP_CHECK {{
      connect_timeout 1
      retry 1
      delay_before_retry 1
    }}
    TCP_CHECK {{
      connect_port 9022
      connect_timeout 1
    }}
  }}
}}
",
        rec = dir.join("rec.sh").display()
    )
}

/// A tiny SMTP sink on 127.0.0.1:`port` recording each mail's `Subject:`.
pub(super) fn smtp_sink(port: u16) -> Arc<Mutex<Vec<String>>> {
    let subjects = Arc::new(Mutex::new(Vec::new()));
    let out = subjects.clone();
    let l = TcpListener::bind(("127.0.0.1", port)).expect("bind smtp sink");
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let out = out.clone();
            std::thread::spawn(move || {
                let Ok(r) = c.try_clone() else { return };
                let _ = c.write_all(b"220 sink\r\n");
                let mut data = false;
                let (mut subject, mut in_subject): (Option<String>, bool) = (None, false);
                for line in BufReader::new(r).lines() {
                    let Ok(line) = line else { break };
                    let reply: &[u8] = if data {
                        // a folded header goes on with a line starting with a blank
                        let folded = line.starts_with([' ', '\t']);
                        if let (true, Some(s)) = (folded && in_subject, subject.as_mut()) {
                            s.push_str(&line);
                        } else if let Some(s) = subject.take() {
                            if let Ok(mut v) = out.lock() {
                                v.push(s);
                            }
                        }
                        in_subject &= folded;
                        if let Some(s) = line.strip_prefix("Subject: ") {
                            subject = Some(s.to_owned());
                            in_subject = true;
                        }
                        if line == "." {
                            data = false;
                            b"250 queued\r\n"
                        } else {
                            continue;
                        }
                    } else if line.eq_ignore_ascii_case("DATA") {
                        data = true;
                        b"354 go on\r\n"
                    } else if line.eq_ignore_ascii_case("QUIT") {
                        let _ = c.write_all(b"221 bye\r\n");
                        break;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = c.write_all(reply);
                }
            });
        }
    });
    subjects
}

struct Run {
    subjects: Vec<String>,
    log: String,
    notes: String,
}

/// One daemon through the scenario: both checkers up at start (the real server's notify
/// runs), the second checker down (the real server goes down: a mail), the first down
/// and back while the server stays down (no mail, its failure logged), the second back
/// (up again: a mail).
fn scenario(name: &str, bin: &str, subjects: &Arc<Mutex<Vec<String>>>) -> Run {
    if let Ok(mut v) = subjects.lock() {
        v.clear();
    }
    let dir = std::env::temp_dir().join(format!("chk-glob-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let notes = dir.join("notes");
    let rec = dir.join("rec.sh");
    std::fs::write(
        &rec,
        format!("#!/bin/sh\necho \"$@\" >> {}\n", notes.display()),
    )
    .expect("rec.sh");
    std::fs::set_permissions(&rec, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    std::fs::write(dir.join("keepalived.conf"), conf(&dir)).expect("conf");
    let mut first = RealServer::new(&format!("{RS}:9021"), false);
    let mut second = RealServer::new(&format!("{RS}:9022"), false);
    let log_path = dir.join("log");
    let mut child = crate::keepalived_command(bin, None, &dir)
        .args(["--dont-fork", "-l", "-C"])
        .spawn()
        .expect("spawn keepalived");
    let text = || std::fs::read_to_string(&log_path).unwrap_or_default();
    let mails = || subjects.lock().map(|v| v.len()).unwrap_or(0);
    // wait_for with the log on failure
    let wait_for = |what: &str, f: &mut dyn FnMut() -> bool| {
        let t = Instant::now();
        while !f() {
            assert!(
                t.elapsed() < BOUND,
                "timed out waiting for {what}\n{}",
                text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let up = set(&[
        "TCP 192.0.2.120:80 rr",
        &format!("TCP 192.0.2.120:80 -> {RS}:9021 w1"),
    ]);
    let down = set(&["TCP 192.0.2.120:80 rr"]);
    wait_table(&format!("{name}: the real server in"), &up);
    wait_for(&format!("{name}: the start-up notify"), &mut || {
        std::fs::read_to_string(&notes).is_ok_and(|n| n.contains("up"))
    });
    second.stop();
    wait_table(&format!("{name}: the real server out"), &down);
    wait_for(&format!("{name}: the DOWN mail"), &mut || mails() == 1);
    // The first checker must have run once (up) before its server goes: both checkers
    // make their first attempt in the same second as the second server's failure.
    let success = format!("TCP connection to [{RS}]:tcp:9021 success.");
    wait_for(&format!("{name}: the first checker up"), &mut || {
        text().contains(&success)
    });
    first.stop();
    let retried = format!("TCP_CHECK on service [{RS}]:tcp:9021 failed after 1 retries.");
    wait_for(&format!("{name}: {retried}"), &mut || {
        text().contains(&retried)
    });
    first.start();
    wait_for(&format!("{name}: the first checker back"), &mut || {
        text().matches(&success).count() >= 2
    });
    second.start();
    wait_table(&format!("{name}: the real server back"), &up);
    wait_for(&format!("{name}: the UP mail"), &mut || mails() >= 2);
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let run = Run {
        subjects: subjects.lock().map(|v| v.clone()).unwrap_or_default(),
        log: text(),
        notes: std::fs::read_to_string(&notes).unwrap_or_default(),
    };
    let _ = std::fs::remove_dir_all(&dir);
    run
}

#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_daemon_checker_globals() {
    let Some(_ipvs) = crate::fresh() else { return };
    lo_addrs(&[RS]);
    let subjects = smtp_sink(2525);
    let ours = scenario("ours", env!("CARGO_BIN_EXE_keepalived"), &subjects);
    let vs = "of virtual server [192.0.2.120]:tcp:80";
    assert_eq!(
        ours.subjects,
        [
            format!("[R1] Realserver [{RS}]:tcp:9021 {vs} - DOWN"),
            format!("[R1] Realserver [{RS}]:tcp:9021 {vs} - UP"),
        ],
        "{}",
        ours.log
    );
    assert_eq!(ours.notes, "up\nup\n", "{}", ours.log);
    // checker_log_all_failures: the failed attempt before the retry, while up
    let attempt = format!("TCP connection to [{RS}]:tcp:9021 failed.");
    assert!(ours.log.contains(&attempt), "{}", ours.log);
    let real_there = Command::new("sh")
        .args(["-c", "command -v keepalived >/dev/null"])
        .status()
        .is_ok_and(|s| s.success());
    if !real_there {
        eprintln!("note: no keepalived 2.2.7 in the VM; ours checked alone");
        return;
    }
    let _ = crate::fresh();
    let real = scenario("real", "keepalived", &subjects);
    assert_eq!(ours.subjects, real.subjects, "{}", real.log);
    assert_eq!(ours.notes, real.notes, "{}", real.log);
    assert!(real.log.contains(&attempt), "{}", real.log);
    // The two checkers' first results fall in the same second, in either order: the
    // attempts logged are compared, not their interleaving.
    let attempts = |log: &str| {
        let mut v = log
            .lines()
            .filter_map(|l| l.split_once(": TCP connection to ").map(|x| x.1.to_owned()))
            .collect::<Vec<_>>();
        v.sort();
        v
    };
    assert_eq!(
        attempts(&ours.log),
        attempts(&real.log),
        "{}\n{}",
        ours.log,
        real.log
    );
}
