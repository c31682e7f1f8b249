//! Our keepalived's checker child against a real IPVS (inside the VM): real servers are
//! tiny std::net servers on 198.51.100.0/24 addresses added to `lo`; results are read with
//! Debian's `ipvsadm -Ln`, our log and our status file.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod globals;
pub mod keywords;
pub mod nft;
pub mod probes;
pub mod servers;

/// How long any expected change may take under software emulation.
const BOUND: Duration = Duration::from_secs(60);

/// A real server: plain TCP (accept and close) or HTTP (200 "ok").
pub struct RealServer {
    addr: SocketAddr,
    http: bool,
    run: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl RealServer {
    pub fn new(addr: &str, http: bool) -> RealServer {
        let mut r = RealServer {
            addr: addr.parse().expect("addr"),
            http,
            run: None,
        };
        r.start();
        r
    }

    pub fn start(&mut self) {
        if self.run.is_some() {
            return;
        }
        let l = TcpListener::bind(self.addr).expect("bind real server");
        l.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let (s, http) = (stop.clone(), self.http);
        let h = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((c, _)) => serve(c, http),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        self.run = Some((stop, h));
    }

    /// Closes the listener: connections are refused.
    pub fn stop(&mut self) {
        if let Some((s, h)) = self.run.take() {
            s.store(true, Ordering::Relaxed);
            let _ = h.join();
        }
    }
}

impl Drop for RealServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An HTTP request up to its blank line (at most 8 KiB, or what came before EOF or an error).
pub fn request_head(c: &mut impl Read) -> Vec<u8> {
    let mut req = Vec::new();
    let mut b = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 8192 {
        match c.read(&mut b) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&b[..n]),
        }
    }
    req
}

fn serve(mut c: TcpStream, http: bool) {
    if !http {
        return;
    }
    let _ = c.set_nonblocking(false);
    let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = request_head(&mut c);
    let _ = c.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
}

/// Adds `addrs` to `lo` (inside the VM only).
pub fn lo_addrs(addrs: &[&str]) {
    for a in addrs {
        let _ = Command::new("ip")
            .args(["addr", "add", &format!("{a}/32"), "dev", "lo"])
            .status();
    }
}

/// `ipvsadm -Ln` as a set of lines: `TCP 192.0.2.1:80 wrr` and
/// `TCP 192.0.2.1:80 -> 198.51.100.1:8001 w2` (the forwarding method is left out: IPVS
/// shows local real servers as `Local`).
pub fn snapshot() -> BTreeSet<String> {
    let out = Command::new("ipvsadm")
        .arg("-Ln")
        .output()
        .expect("ipvsadm");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut set = BTreeSet::new();
    let mut svc = String::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["->", addr, _fwd, w, ..] if *addr != "RemoteAddress:Port" => {
                set.insert(format!("{svc} -> {addr} w{w}"));
            }
            [p @ ("TCP" | "UDP" | "SCTP" | "FWM"), a, sched, ..] => {
                svc = format!("{p} {a}");
                set.insert(format!("{svc} {sched}"));
            }
            _ => {}
        }
    }
    set
}

pub fn set(lines: &[&str]) -> BTreeSet<String> {
    lines.iter().map(|s| (*s).to_owned()).collect()
}

/// Polls `f` until it holds, at most [`BOUND`].
pub fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < BOUND, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits until `ipvsadm -Ln` shows exactly `want`.
pub fn wait_table(what: &str, want: &BTreeSet<String>) {
    let t = Instant::now();
    loop {
        let got = snapshot();
        if &got == want {
            return;
        }
        assert!(
            t.elapsed() < BOUND,
            "timed out waiting for {what}:\n got {got:#?}\nwant {want:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Our keepalived, checker child only, in the foreground with its own files.
pub struct Daemon {
    dir: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    pub fn start(name: &str, conf: &str) -> Daemon {
        Daemon::start_with(name, conf, None, &["-C"])
    }

    /// Like [`Daemon::start`], in network namespace `netns` (if any) with `mode` (e.g.
    /// `-P` for the VRRP child only, nothing for both children) instead of `-C`.
    pub fn start_with(name: &str, conf: &str, netns: Option<&str>, mode: &[&str]) -> Daemon {
        Daemon::start_as(false, name, conf, netns, mode)
    }

    /// As `start_with`, ours (`real == false`) or keepalived 2.2.7.
    pub fn start_as(
        real: bool,
        name: &str,
        conf: &str,
        netns: Option<&str>,
        mode: &[&str],
    ) -> Daemon {
        let dir = std::env::temp_dir().join(format!("chk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("tmpdir");
        std::fs::write(dir.join("keepalived.conf"), conf).expect("conf");
        let child = crate::keepalived_command(crate::keepalived_bin(real), netns, &dir)
            .args(["--dont-fork", "-l", "-G"])
            .args(mode)
            .env("TMPDIR", &dir)
            .spawn()
            .expect("spawn keepalived");
        Daemon {
            dir,
            child: Some(child),
        }
    }

    pub fn path(&self, f: &str) -> PathBuf {
        self.dir.join(f)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("log")).unwrap_or_default()
    }

    pub fn wait_log(&self, needle: &str) {
        wait_for(needle, || self.log().contains(needle));
    }

    pub fn conf(&self, conf: &str) {
        std::fs::write(self.path("keepalived.conf"), conf).expect("conf");
    }

    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args([&format!("-{sig}"), &c.id().to_string()])
                .status();
        }
    }

    /// The checker child's entry in the status file.
    pub fn status(&self) -> serde_json::Value {
        std::fs::read_to_string(self.path("status.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .map(|v| v["processes"]["checker"].clone())
            .unwrap_or(serde_json::Value::Null)
    }

    /// SIGHUP, then waits until the checker has reloaded once more.
    pub fn reload(&self) {
        let n = self.status()["reloads"].as_u64().unwrap_or(0);
        self.signal("HUP");
        wait_for("the reload", || {
            let s = self.status();
            s["reloads"].as_u64().unwrap_or(0) > n && s["state"] == "running"
        });
    }

    /// SIGTERM and wait for the exit.
    pub fn stop(&mut self) {
        self.signal("TERM");
        if let Some(mut c) = self.child.take() {
            let t = Instant::now();
            loop {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                if t.elapsed() > BOUND {
                    let _ = c.kill();
                    let _ = c.wait();
                    panic!("keepalived did not stop:\n{}", self.log());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

impl Drop for Daemon {
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

/// An HTTP GET of `path` on `addr`; the body.
pub fn http_get(addr: &str, path: &str) -> String {
    let Ok(mut c) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(c, "GET {path} HTTP/1.0\r\n\r\n");
    let mut s = String::new();
    let _ = c.read_to_string(&mut s);
    s
}

/// What is waiting in a FIFO (non-blocking read).
pub fn read_fifo(path: &str) -> String {
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(mut f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    else {
        return String::new();
    };
    let mut buf = vec![0u8; 65536];
    let n = f.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(buf.get(..n).unwrap_or_default()).into_owned()
}
