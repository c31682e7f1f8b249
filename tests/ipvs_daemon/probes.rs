//! What the checkers send, seen from the servers, for our daemon and keepalived 2.2.7 in
//! the VM (keepalived needs IPVS to run its checker): the source address and port
//! (`bindto`, `bind_port`) and destination (`connect_ip`, `connect_port`) of TCP_CHECK and
//! of SMTP_CHECK's `host`, the request of each `http_protocol`, and which UDP_CHECK
//! replies pass `min_reply_length` / `max_reply_length`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{lo_addrs, request_head, set, snapshot, wait_for, wait_table, Daemon};

/// One check of each at start (warmup 0), then none for a minute.
const CONF: &str = r#"
virtual_server 192.0.2.130 80 {
    delay_loop 60
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.39 80 {
        TCP_CHECK {
            warmup 0
            connect_ip 198.51.100.30
            connect_port 9101
            bindto 198.51.100.31
            bind_port 40101
        }
        HTTP_GET {
            warmup 0
            connect_ip 198.51.100.30
            connect_port 9102
            http_protocol 1.1
            url {
                path /a
            }
        }
        HTTP_GET {
            warmup 0
            connect_ip 198.51.100.30
            connect_port 9102
            http_protocol 1.0C
            url {
                path /b
            }
        }
        SMTP_CHECK {
            warmup 0
            host {
                connect_ip 198.51.100.30
                connect_port 9103
                bindto 198.51.100.31
                bind_port 40103
            }
        }
    }
}
virtual_server 192.0.2.131 53 {
    delay_loop 60
    lb_algo rr
    lb_kind NAT
    protocol UDP
    real_server 198.51.100.37 53 {
        UDP_CHECK {
            warmup 0
            retry 0
            connect_ip 198.51.100.30
            connect_port 9104
            payload 70696e67
            require_reply 706f6e67
            min_reply_length 4
            max_reply_length 4
        }
    }
    real_server 198.51.100.38 53 {
        UDP_CHECK {
            warmup 0
            retry 0
            connect_ip 198.51.100.30
            connect_port 9104
            payload 70696e67
            require_reply 706f6e67
            min_reply_length 5
        }
    }
}
"#;

type Seen = Arc<Mutex<BTreeSet<String>>>;

/// The servers on 198.51.100.30, recording what they see; they run until the VM stops.
fn servers() -> Seen {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let l = TcpListener::bind("198.51.100.30:9101").expect("bind tcp");
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            if let Ok(p) = c.peer_addr() {
                s.lock().expect("seen").insert(format!("tcp from {p}"));
            }
        }
    });
    let s = seen.clone();
    let l = TcpListener::bind("198.51.100.30:9102").expect("bind http");
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
            let req = request_head(&mut c);
            let req = String::from_utf8_lossy(&req).replace("\r\n", "|");
            s.lock().expect("seen").insert(format!("http {req}"));
            let _ = c.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    let s = seen.clone();
    let l = TcpListener::bind("198.51.100.30:9103").expect("bind smtp");
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            if let Ok(p) = c.peer_addr() {
                s.lock().expect("seen").insert(format!("smtp from {p}"));
            }
            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
            let Ok(mut w) = c.try_clone() else { continue };
            let _ = w.write_all(b"220 mx ESMTP\r\n");
            for line in BufReader::new(c).lines() {
                let Ok(line) = line else { break };
                let reply: &[u8] = if line.starts_with("QUIT") {
                    b"221 bye\r\n"
                } else {
                    b"250 OK\r\n"
                };
                let _ = w.write_all(reply);
            }
        }
    });
    let u = UdpSocket::bind("198.51.100.30:9104").expect("bind udp");
    std::thread::spawn(move || {
        let mut b = [0u8; 1500];
        while let Ok((_, from)) = u.recv_from(&mut b) {
            let _ = u.send_to(b"pong", from);
        }
    });
    seen
}

/// The table once every check has run, and what the servers saw.
fn run<S: FnOnce()>(seen: &Seen, start: impl FnOnce() -> S) -> BTreeSet<String> {
    seen.lock().expect("seen").clear();
    let stop = start();
    wait_table(
        "the UDP server with a too short reply removed",
        &set(&[
            "TCP 192.0.2.130:80 rr",
            "TCP 192.0.2.130:80 -> 198.51.100.39:80 w1",
            "UDP 192.0.2.131:53 rr",
            "UDP 192.0.2.131:53 -> 198.51.100.37:53 w1",
        ]),
    );
    wait_for("a probe of each TCP checker", || {
        seen.lock().expect("seen").len() >= 4
    });
    let table = snapshot();
    stop();
    let mut got = seen.lock().expect("seen").clone();
    got.extend(table);
    got
}

#[test]
#[ignore = "runs inside the IPVS VM (ipvs_in_vm)"]
fn vm_probes_as_keepalived() {
    let Some(_ipvs) = crate::fresh() else { return };
    lo_addrs(&["198.51.100.30", "198.51.100.31"]);
    let seen = servers();
    let ours = run(&seen, || {
        let mut d = Daemon::start("probes", CONF);
        move || d.stop()
    });
    let want = set(&[
        "tcp from 198.51.100.31:40101",
        "smtp from 198.51.100.31:40103",
        "http GET /a HTTP/1.1|User-Agent: KeepAliveClient|Connection: close|Host: 198.51.100.30:9102||",
        "http GET /b HTTP/1.0|User-Agent: KeepAliveClient|Connection: close|Host: 198.51.100.30:9102||",
    ]);
    let table = set(&[
        "TCP 192.0.2.130:80 rr",
        "TCP 192.0.2.130:80 -> 198.51.100.39:80 w1",
        "UDP 192.0.2.131:53 rr",
        "UDP 192.0.2.131:53 -> 198.51.100.37:53 w1",
    ]);
    let mut all = want.clone();
    all.extend(table);
    assert_eq!(ours, all);
    if !crate::have("keepalived") {
        eprintln!("note: no keepalived 2.2.7 in the VM; not compared");
        return;
    }
    let dir = std::env::temp_dir().join(format!("probes-real-{}", std::process::id()));
    // other source ports: ours may still be in TIME_WAIT, and keepalived 2.2.7 binds
    // without SO_REUSEADDR ("Checker bind failed: Address already in use")
    let conf = CONF.replace("bind_port 401", "bind_port 402");
    let real = run(&seen, || crate::real_checker(&dir, &conf));
    let _ = std::fs::remove_dir_all(&dir);
    let real: BTreeSet<String> = real.iter().map(|l| l.replace(":402", ":401")).collect();
    assert_eq!(real, ours, "keepalived 2.2.7");
}
