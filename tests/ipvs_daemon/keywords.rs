//! Checker keywords whose effect shows in IPVS, in the scripts run, in the log and in the
//! mail sent, ours and keepalived 2.2.7 in the same scenario inside the VM:
//! * start-up (`alpha`, `delay_loop 3600`): `warmup` of a virtual server, of a real server
//!   and of a checker; HTTP_GET `fast_recovery` (three urls checked at once); url `regex`
//!   with `regex_options`, `regex_min_offset` and `regex_max_offset` (offsets count from the
//!   first byte of the response, as keepalived 2.2.7 matches the first read whole);
//! * running (`delay_loop 1`): `script_user`, MISC_CHECK `user` and `misc_dynamic`,
//!   `quorum`/`quorum_up`/`quorum_down` with `hysteresis`, `sorry_server_inhibit`,
//!   HTTP_GET `nb_get_retry` with `log_all_failures`, real server `notify_up`, `smtp_alert`
//!   of a virtual and of a real server, global `smtp_alert_checker`, MISC_CHECK
//!   `misc_timeout` (a hanging script is killed and logged as timed out);
//! * global `smtp_alert` alone: the quorum mail of a virtual server without a setting.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};

use super::globals::smtp_sink;
use super::*;

/// The HTTP server every HTTP_GET of these scenarios reaches through `connect_ip`.
const WEB: &str = "198.51.100.40";
/// The body of `/body`; the response's header before it is [`HEAD_LEN`] bytes long.
const BODY: &str = "xxxxKeepAlive-body";
const HEAD_LEN: usize = 39;
const SMTP_PORT: u16 = 2526;

/// A web server on `WEB:port` answering every path with 200 and `body`, headers and body
/// in one write (keepalived 2.2.7's regex then sees them in one buffer).
fn web(port: u16, body: &'static str) {
    let l = TcpListener::bind(format!("{WEB}:{port}")).expect("bind web");
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let mut c = c;
            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = request_head(&mut c);
            let resp = format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = c.write_all(resp.as_bytes());
        }
    });
}

/// One keepalived checker child (ours or 2.2.7) with its files in `dir`.
struct Ka {
    dir: PathBuf,
    child: Option<Child>,
}

impl Ka {
    fn start(real: bool, dir: &Path, conf: &str) -> Ka {
        std::fs::write(dir.join("keepalived.conf"), conf).expect("conf");
        let child = crate::keepalived_command(crate::keepalived_bin(real), None, dir)
            .args(["-n", "-l", "-C"])
            .spawn()
            .expect("spawn keepalived");
        Ka {
            dir: dir.to_owned(),
            child: Some(child),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }

    fn wait(&self, what: &str, mut f: impl FnMut(&str) -> bool) {
        let t = Instant::now();
        while !f(&self.log()) {
            assert!(
                t.elapsed() < BOUND,
                "timed out waiting for {what}\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }
}

impl Drop for Ka {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if std::thread::panicking() {
            eprintln!("---- keepalived log ----\n{}", self.log());
        }
    }
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kw-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

fn who(real: bool) -> &'static str {
    if real {
        "real"
    } else {
        "ours"
    }
}

/// The table once `ok` holds and it stays the same for a second.
fn settled(what: &str, ok: impl Fn(&BTreeSet<String>) -> bool) -> BTreeSet<String> {
    let mut last = BTreeSet::new();
    let mut same = 0;
    wait_for(what, || {
        let now = snapshot();
        same = if now == last { same + 1 } else { 0 };
        last = now;
        ok(&last) && same >= 5
    });
    last
}

fn has(t: &BTreeSet<String>, line: &str) -> bool {
    t.contains(line)
}

fn startup_conf() -> String {
    let http = |extra: &str, urls: &str| {
        format!(
            "        HTTP_GET {{\n            connect_ip {WEB}\n            connect_port 9202\n\
             {extra}{urls}        }}\n"
        )
    };
    let regex_rs = |rs: u8, url: &str| {
        format!(
            "    real_server 198.51.100.{rs} 80 {{\n{}    }}\n",
            http(
                "            log_all_failures\n",
                &format!("            url {{\n                path /body\n{url}            }}\n"),
            )
        )
    };
    let urls: String = (1..=3)
        .map(|i| format!("            url {{\n                path /{i}\n            }}\n"))
        .collect();
    let tcp = |extra: &str| {
        format!(
            "        TCP_CHECK {{\n{extra}            connect_ip {WEB}\n            \
             connect_port 9202\n        }}\n"
        )
    };
    format!(
        "virtual_server 192.0.2.140 80 {{
    delay_loop 3600
    alpha
    warmup 0
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.41 80 {{
{fast}    }}
{r45}{r46}{r47}{r48}{r49}{r50}}}
virtual_server 192.0.2.141 80 {{
    delay_loop 3600
    alpha
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.43 80 {{
        warmup 0
{tcp43}    }}
    real_server 198.51.100.44 80 {{
{tcp44}    }}
}}
",
        fast = http("            fast_recovery\n", &urls),
        // `KeepAlive` matches only without case
        r45 = regex_rs(
            45,
            "                regex keepalive\n                regex_options caseless\n"
        ),
        r46 = regex_rs(46, "                regex keepalive\n"),
        // "body" is at offset HEAD_LEN + 14 of the response, 14 of the body
        r47 = regex_rs(
            47,
            &format!(
                "                regex body\n                regex_min_offset {}\n",
                HEAD_LEN + 10
            )
        ),
        // "xxxx" starts the body, before the minimum offset
        r48 = regex_rs(
            48,
            &format!(
                "                regex xxxx\n                regex_min_offset {}\n",
                HEAD_LEN + 2
            )
        ),
        // "Keep" starts at HEAD_LEN + 4: one byte beyond the maximum offset
        r49 = regex_rs(
            49,
            &format!(
                "                regex Keep\n                regex_max_offset {}\n",
                HEAD_LEN + 3
            )
        ),
        // ... at the maximum offset: a match, though it ends beyond it
        r50 = regex_rs(
            50,
            &format!(
                "                regex Keep\n                regex_min_offset {}\n                \
                 regex_max_offset {}\n",
                HEAD_LEN,
                HEAD_LEN + 4
            )
        ),
        tcp43 = tcp(""),
        tcp44 = tcp("            warmup 0\n"),
    )
}

/// Start-up: which real servers their first checks bring in (`alpha`), every check being
/// due within the first second (`warmup 0`) and the next ones an hour later.
fn startup(real: bool) -> (BTreeSet<String>, usize) {
    let dir = fresh_dir(&format!("start-{}", who(real)));
    let mut ka = Ka::start(real, &dir, &startup_conf());
    let rs = |n: u8| format!("TCP 192.0.2.140:80 -> 198.51.100.{n}:80 w1");
    let want = [
        "TCP 192.0.2.140:80 rr".to_owned(),
        rs(41),
        rs(45),
        rs(47),
        rs(50),
        "TCP 192.0.2.141:80 rr".into(),
        "TCP 192.0.2.141:80 -> 198.51.100.43:80 w1".into(),
        "TCP 192.0.2.141:80 -> 198.51.100.44:80 w1".into(),
    ];
    settled(
        &format!("{}: the servers whose checks pass", who(real)),
        |t| want.iter().all(|l| t.contains(l)),
    );
    // the three that fail have been checked too (and logged: log_all_failures)
    let failed = "Regex match failed server [198.51.100.";
    ka.wait("three regex failures", |l| l.matches(failed).count() >= 3);
    let table = snapshot();
    let n = ka.log().matches(failed).count();
    ka.stop();
    let _ = std::fs::remove_dir_all(&dir);
    (table, n)
}

const EVENTS: &str = "events";
const USERS: &str = "users";

fn running_conf(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "global_defs {{
    router_id KW
    notification_email {{
        a@example.org
    }}
    notification_email_from ka@example.org
    smtp_server 127.0.0.1 {SMTP_PORT}
    smtp_connect_timeout 5
    smtp_alert
    smtp_alert_checker no
    script_user nobody
}}
virtual_server 192.0.2.142 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 5
    hysteresis 2
    quorum_up \"{d}/rec.sh qup\"
    quorum_down \"{d}/rec.sh qdown\"
    smtp_alert
    sorry_server 198.51.100.59 80
    sorry_server_inhibit
    real_server 198.51.100.51 80 {{
        weight 10
        MISC_CHECK {{
            misc_path \"{d}/dyn.sh\"
            misc_dynamic
            misc_timeout 10
        }}
    }}
}}
virtual_server 192.0.2.143 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.52 80 {{
        MISC_CHECK {{
            misc_path \"{d}/who.sh\"
            user root
            misc_timeout 10
        }}
    }}
    real_server 198.51.100.53 80 {{
        smtp_alert
        notify_up \"{d}/rec.sh up53\"
        HTTP_GET {{
            connect_ip {WEB}
            connect_port 9203
            nb_get_retry 2
            delay_before_retry 1
            log_all_failures
            url {{
                path /ok
            }}
        }}
    }}
    real_server 198.51.100.54 80 {{
        notify_up \"{d}/rec.sh up54\"
        TCP_CHECK {{
            connect_ip {WEB}
            connect_port 9203
            retry 0
        }}
    }}
}}
virtual_server 192.0.2.144 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.55 80 {{
        MISC_CHECK {{
            alpha
            misc_path \"{d}/slow.sh\"
            misc_timeout 1
        }}
    }}
}}
"
    )
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).expect("script");
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
}

/// What one daemon did in the running scenario.
#[derive(Debug, PartialEq, Eq)]
struct Running {
    tables: Vec<BTreeSet<String>>,
    /// The quorum scripts in order, then the notify_up scripts sorted.
    events: Vec<String>,
    users: BTreeSet<String>,
    http_lines: Vec<String>,
    subjects: Vec<String>,
}

/// Running: the misc_dynamic weight moves the virtual server's weight through its quorum
/// (5, hysteresis 2): 10 gains it, 4 keeps it, 1 loses it (the sorry server comes in), 10
/// gains it again (the sorry server stays, inhibited). The web server of the HTTP_GET and
/// TCP_CHECK goes away and comes back.
fn running(real: bool, subjects: &Arc<Mutex<Vec<String>>>) -> Running {
    if let Ok(mut v) = subjects.lock() {
        v.clear();
    }
    let dir = fresh_dir(&format!("run-{}", who(real)));
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod dir");
    for f in [EVENTS, USERS] {
        let p = dir.join(f);
        std::fs::write(&p, "").expect("notes");
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .expect("chmod notes");
    }
    let d = dir.display();
    write_exec(
        &dir.join("rec.sh"),
        &format!("#!/bin/sh\necho \"$(id -un) $*\" >> {d}/{EVENTS}\n"),
    );
    write_exec(
        &dir.join("dyn.sh"),
        &format!("#!/bin/sh\necho \"$(id -un) dyn\" >> {d}/{USERS}\nexit $(cat {d}/code)\n"),
    );
    write_exec(&dir.join("slow.sh"), "#!/bin/sh\nsleep 30\n");
    write_exec(
        &dir.join("who.sh"),
        &format!("#!/bin/sh\necho \"$(id -un) who\" >> {d}/{USERS}\nexit 0\n"),
    );
    let code = |c: u8| std::fs::write(dir.join("code"), format!("{c}\n")).expect("code");
    code(0);
    let mut web = RealServer::new(&format!("{WEB}:9203"), true);
    let mut ka = Ka::start(real, &dir, &running_conf(&dir));
    let events = || std::fs::read_to_string(dir.join(EVENTS)).unwrap_or_default();
    let vs = "TCP 192.0.2.142:80";
    let rs51 = |w: u32| format!("{vs} -> 198.51.100.51:80 w{w}");
    let mut tables = Vec::new();
    let name = who(real);
    tables.push(settled(&format!("{name}: weight 10, quorum"), |t| {
        has(t, &rs51(10)) && has(t, "TCP 192.0.2.143:80 -> 198.51.100.53:80 w1")
    }));
    ka.wait("the first web check", |l| {
        l.contains("Remote Web server [198.51.100.53]:tcp:80 succeed on service.")
    });
    // misc_timeout: the script is killed and the check logged as timed out
    let slow = format!(
        "Misc check for [[198.51.100.55]:tcp:80 VS [192.0.2.144]:tcp:80] by [{d}/slow.sh] \
         timed out with retry disabled."
    );
    ka.wait("the misc_timeout", |l| l.contains(&slow));
    code(6);
    tables.push(settled(&format!("{name}: weight 4"), |t| has(t, &rs51(4))));
    code(3);
    wait_for("qdown", || events().contains("qdown"));
    tables.push(settled(&format!("{name}: the sorry server"), |t| {
        t.iter().any(|l| l.contains("198.51.100.59:80"))
    }));
    code(0);
    wait_for("qup again", || events().matches("qup").count() >= 2);
    tables.push(settled(&format!("{name}: weight 10 again"), |t| {
        has(t, &rs51(10))
    }));
    web.stop();
    ka.wait("the web check down", |l| {
        l.contains("HTTP_CHECK on service [198.51.100.53]:tcp:80 failed after 2 retries.")
    });
    tables.push(settled(&format!("{name}: the web servers out"), |t| {
        !t.iter().any(|l| l.contains("198.51.100.53:80"))
            && !t.iter().any(|l| l.contains("198.51.100.54:80"))
    }));
    web.start();
    wait_for("up53", || {
        events().contains("up53") && events().contains("up54")
    });
    tables.push(settled(&format!("{name}: the web servers back"), |t| {
        has(t, "TCP 192.0.2.143:80 -> 198.51.100.53:80 w1")
    }));
    // the mail of the last change may still be on its way
    let mails = |n: usize| subjects.lock().map_or(0, |v| v.len()) >= n;
    wait_for("the mails", || mails(5));
    std::thread::sleep(Duration::from_secs(2));
    let log = ka.log();
    ka.stop();
    let users = std::fs::read_to_string(dir.join(USERS))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    // the web checker's real server's lines
    let http_lines = log
        .lines()
        .filter(|l| l.contains("[198.51.100.53]"))
        .map(|l| l.split_once(": ").map_or(l, |x| x.1).to_owned())
        .collect();
    let mut subjects = subjects.lock().map(|v| v.clone()).unwrap_or_default();
    subjects.sort();
    let (mut events, mut ups): (Vec<String>, Vec<String>) = events()
        .lines()
        .map(str::to_owned)
        .partition(|l| l.contains(" q"));
    ups.sort();
    events.extend(ups);
    let run = Running {
        tables,
        events,
        users,
        http_lines,
        subjects,
    };
    let _ = std::fs::remove_dir_all(&dir);
    run
}

/// Global `smtp_alert` alone: the virtual server without its own setting mails its
/// quorum loss (keepalived's default for a virtual server is no mail).
fn global_mail(real: bool, subjects: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    if let Ok(mut v) = subjects.lock() {
        v.clear();
    }
    let dir = fresh_dir(&format!("mail-{}", who(real)));
    let conf = format!(
        "global_defs {{
    router_id KW
    notification_email {{
        a@example.org
    }}
    notification_email_from ka@example.org
    smtp_server 127.0.0.1 {SMTP_PORT}
    smtp_alert
}}
virtual_server 192.0.2.144 80 {{
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.55 80 {{
        TCP_CHECK {{
            connect_ip {WEB}
            connect_port 9204
            retry 0
        }}
    }}
}}
"
    );
    let mut ka = Ka::start(real, &dir, &conf);
    wait_for("three mails", || {
        subjects.lock().map_or(0, |v| v.len()) >= 3
    });
    std::thread::sleep(Duration::from_secs(2));
    ka.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let mut v = subjects.lock().map(|v| v.clone()).unwrap_or_default();
    v.sort();
    v
}

#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_checker_keywords_as_keepalived() {
    let Some(_ipvs) = crate::fresh() else { return };
    lo_addrs(&[WEB]);
    web(9202, BODY);
    let subjects = smtp_sink(SMTP_PORT);
    let real_there = crate::have("keepalived");

    let (ours, failures) = startup(false);
    let rs = |n: u8| format!("TCP 192.0.2.140:80 -> 198.51.100.{n}:80 w1");
    for n in [46, 48, 49] {
        assert!(
            !ours.contains(&rs(n)),
            "198.51.100.{n} should fail: {ours:#?}"
        );
    }
    assert_eq!(failures, 3, "one logged failure per failing regex");

    let run = running(false, &subjects);
    let vs = "TCP 192.0.2.142:80";
    let t = &run.tables;
    // hysteresis: weight 4 is below the quorum but not below quorum - hysteresis
    assert!(
        !has(&t[1], &format!("{vs} -> 198.51.100.59:80 w1")),
        "{t:#?}"
    );
    assert!(
        has(&t[2], &format!("{vs} -> 198.51.100.59:80 w1")),
        "{t:#?}"
    );
    assert!(!t[2].iter().any(|l| l.contains("198.51.100.51")), "{t:#?}");
    // sorry_server_inhibit: the sorry server stays with weight 0
    assert!(
        has(&t[3], &format!("{vs} -> 198.51.100.59:80 w0")),
        "{t:#?}"
    );
    assert_eq!(
        run.events,
        [
            "nobody qup",
            "nobody qdown",
            "nobody qup",
            "nobody up53",
            "nobody up54"
        ]
    );
    assert_eq!(
        run.users,
        ["nobody dyn", "root who"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        "script_user for the misc_dynamic script, MISC_CHECK's user for the other"
    );
    let retries = run
        .http_lines
        .iter()
        .filter(|l| l.contains("server [198.51.100.53]:tcp:80."))
        .count();
    assert_eq!(retries, 3, "{:#?}", run.http_lines);
    let vsn = "[192.0.2.142]:tcp:80";
    let rsn = "[198.51.100.53]:tcp:80 of virtual server [192.0.2.143]:tcp:80";
    assert_eq!(
        run.subjects,
        [
            format!("[KW] Realserver {rsn} - DOWN"),
            format!("[KW] Realserver {rsn} - UP"),
            format!("[KW] Virtualserver {vsn} - DOWN"),
            format!("[KW] Virtualserver {vsn} - UP"),
            format!("[KW] Virtualserver {vsn} - UP"),
        ],
        "smtp_alert of the virtual and real server; none for the other real server \
         (smtp_alert_checker no)"
    );

    let mail = global_mail(false, &subjects);
    assert_eq!(
        mail,
        [
            "[KW] Realserver [198.51.100.55]:tcp:80 of virtual server [192.0.2.144]:tcp:80 - DOWN",
            "[KW] Virtualserver [192.0.2.144]:tcp:80 - DOWN",
            "[KW] Virtualserver [192.0.2.144]:tcp:80 - UP",
        ]
    );

    if !real_there {
        eprintln!("note: no keepalived 2.2.7 in the VM; ours checked alone");
        return;
    }
    let _ = crate::fresh();
    assert_eq!(
        startup(true),
        (ours, failures),
        "keepalived 2.2.7, then ours"
    );
    let _ = crate::fresh();
    assert_eq!(running(true, &subjects), run, "keepalived 2.2.7, then ours");
    let _ = crate::fresh();
    assert_eq!(
        global_mail(true, &subjects),
        mail,
        "keepalived 2.2.7, then ours"
    );
}
