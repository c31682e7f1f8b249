//! Accepts and closes TCP connections on 0.0.0.0:PORT for every PORT given: the
//! listening real servers of benches/checker_scale.sh (one thread per port).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

use std::net::TcpListener;

fn main() {
    let ports: Vec<u16> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if ports.is_empty() {
        eprintln!("usage: accept_sink PORT...");
        std::process::exit(2);
    }
    let threads: Vec<_> = ports
        .into_iter()
        .map(|p| {
            let l = match TcpListener::bind(("0.0.0.0", p)) {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("accept_sink: bind {p}: {e}");
                    std::process::exit(1);
                }
            };
            std::thread::spawn(move || {
                for c in l.incoming() {
                    drop(c);
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}
