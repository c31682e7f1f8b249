//! Time `config::load_str` on two large generated configurations: 1,000 VRRP instances,
//! and 20 virtual servers with 1,000 real servers each (TCP_CHECK). With
//! `BENCH_CONFIG_OUT=DIR`, the two files are also written to DIR (`vrrp_1000.conf`,
//! `lvs_20x1000.conf`) so the real keepalived can be timed on the same input. The VRRP
//! instances use interfaces `lexb0`..`lexb3` (250 VRIDs each). `config_tree` times the
//! lexer and the tree alone on the same files, preprocessed once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon
use std::fmt::Write as _;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use keepalived::config::preprocess::preprocess_str;
use keepalived::config::tree::parse_lines;
use keepalived::config::{load_str, Diagnostics, LoadOptions, SourceMap};

fn vrrp_config(n: usize) -> String {
    let mut s = String::with_capacity(n * 400);
    s.push_str("global_defs {\n  router_id bench\n}\n\n");
    s.push_str("vrrp_script chk {\n  script \"/bin/true\"\n  interval 2\n}\n\n");
    for i in 0..n {
        let host = i % 250 + 1;
        let _ = write!(
            s,
            "vrrp_instance VI_{i} {{\n\
             \x20 state BACKUP\n\
             \x20 interface lexb{iface}\n\
             \x20 virtual_router_id {vrid}\n\
             \x20 priority 100\n\
             \x20 advert_int 1\n\
             \x20 authentication {{\n\
             \x20   auth_type PASS\n\
             \x20   auth_pass secret{vrid}\n\
             \x20 }}\n\
             \x20 virtual_ipaddress {{\n\
             \x20   198.51.100.{host}/32\n\
             \x20   203.0.113.{host}/32\n\
             \x20 }}\n\
             \x20 track_script {{\n\
             \x20   chk\n\
             \x20 }}\n\
             }}\n\n",
            iface = i / 250,
            vrid = i % 250 + 1,
        );
    }
    s
}

fn lvs_config(vs: usize, rs: usize) -> String {
    let mut s = String::with_capacity(vs * rs * 120);
    s.push_str("global_defs {\n  router_id bench\n}\n\n");
    for v in 0..vs {
        let _ = write!(
            s,
            "virtual_server 2001:db8::{:x} 80 {{\n  delay_loop 6\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n\n",
            v + 1
        );
        for r in 0..rs {
            let _ = write!(
                s,
                "  real_server 2001:db8:1:{:x}::{:x} 80 {{\n    weight 1\n    TCP_CHECK {{\n      connect_timeout 3\n    }}\n  }}\n",
                v + 1,
                r + 1
            );
        }
        s.push_str("}\n\n");
    }
    s
}

fn bench(c: &mut Criterion) {
    let vrrp = vrrp_config(1000);
    let lvs = lvs_config(20, 1000);
    if let Ok(dir) = std::env::var("BENCH_CONFIG_OUT") {
        let dir = Path::new(&dir);
        let _ = std::fs::create_dir_all(dir);
        for (name, text) in [("vrrp_1000.conf", &vrrp), ("lvs_20x1000.conf", &lvs)] {
            if let Err(e) = std::fs::write(dir.join(name), text) {
                eprintln!("cannot write {}: {e}", dir.join(name).display());
            }
        }
    }
    let opts = LoadOptions {
        config_id: "bench".into(),
        all_config: false,
        host: std::sync::Arc::new(keepalived::config::host::SystemHost),
    };
    let name = Path::new("/etc/keepalived/keepalived.conf");
    let mut g = c.benchmark_group("config_load_str");
    g.sample_size(10);
    g.bench_function("vrrp_1000_instances", |b| {
        b.iter(|| load_str(&vrrp, name, &opts))
    });
    g.bench_function("lvs_20x1000_real_servers", |b| {
        b.iter(|| load_str(&lvs, name, &opts))
    });
    g.finish();
    // The lexer and the tree alone, on the preprocessed lines.
    let mut g = c.benchmark_group("config_tree");
    g.sample_size(20);
    for (id, text) in [
        ("vrrp_1000_instances", &vrrp),
        ("lvs_20x1000_real_servers", &lvs),
    ] {
        let mut d = Diagnostics::new();
        let lines = preprocess_str(
            text,
            name,
            &opts,
            &mut SourceMap::new(),
            &mut Vec::new(),
            &mut d,
        );
        g.bench_function(id, |b| {
            b.iter(|| parse_lines(&lines, &mut Diagnostics::new()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
