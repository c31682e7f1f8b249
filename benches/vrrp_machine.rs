//! Machine events per second: adverts handled by a BACKUP and a
//! MASTER, and advert-timer ticks of a MASTER, with their actions drained as the glue would.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use keepalived::vrrp::machine::{InstanceConfig, Instant, Machine, RxAdvert, State};

const EVENTS: u64 = 1000;

fn cfg(prio: u8) -> InstanceConfig {
    let mut c = InstanceConfig::new("VI_1", 51, prio);
    c.src_addr = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)));
    c
}

fn adv(priority: u8) -> RxAdvert {
    RxAdvert {
        src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)),
        priority,
        adver_int: Duration::from_secs(1),
    }
}

fn drain(m: &mut Machine) -> usize {
    let mut n = 0;
    while let Some(a) = m.poll_action() {
        black_box(a);
        n += 1;
    }
    n
}

fn master(now: Instant) -> Machine {
    let mut m = Machine::new(cfg(150), Instant::ZERO);
    m.handle_timeout(now);
    assert_eq!(m.state(), State::Master);
    drain(&mut m);
    m
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("vrrp_machine");
    g.throughput(Throughput::Elements(EVENTS));

    // The common case: a BACKUP accepting its master's adverts (timer reset, no log).
    g.bench_function("backup_accept_advert", |b| {
        let mut m = Machine::new(cfg(100), Instant::ZERO);
        drain(&mut m);
        let mut t = Duration::ZERO;
        b.iter(|| {
            for _ in 0..EVENTS {
                t += Duration::from_secs(1);
                m.handle_advert(Instant(t), black_box(adv(200)));
                black_box(m.poll_timeout());
                drain(&mut m);
            }
        })
    });

    // A BACKUP discarding lower-priority adverts (formats a log line each time).
    g.bench_function("backup_discard_lower", |b| {
        let mut m = Machine::new(cfg(100), Instant::ZERO);
        drain(&mut m);
        b.iter(|| {
            for _ in 0..EVENTS {
                m.handle_advert(Instant(Duration::from_millis(1)), black_box(adv(50)));
                drain(&mut m);
            }
        })
    });

    // A MASTER's advert timer: tick, send advert, re-arm.
    g.bench_function("master_advert_timeout", |b| {
        let mut t = Duration::from_secs(10);
        let mut m = master(Instant(t));
        b.iter(|| {
            for _ in 0..EVENTS {
                t += Duration::from_secs(1);
                m.handle_timeout(Instant(t));
                black_box(m.poll_timeout());
                drain(&mut m);
            }
        })
    });

    // A MASTER answering a priority-0 advert (send at once, stay MASTER).
    g.bench_function("master_rx_priority0", |b| {
        let mut m = master(Instant(Duration::from_secs(10)));
        b.iter(|| {
            for _ in 0..EVENTS {
                m.handle_advert(Instant(Duration::from_secs(10)), black_box(adv(0)));
                drain(&mut m);
            }
        })
    });

    // A full election cycle: BACKUP → timeout → MASTER → higher advert → BACKUP.
    g.bench_function("election_cycle", |b| {
        let mut m = Machine::new(cfg(100), Instant::ZERO);
        drain(&mut m);
        let mut t = Duration::ZERO;
        b.iter(|| {
            for _ in 0..EVENTS / 2 {
                t += Duration::from_secs(10);
                m.handle_timeout(Instant(t));
                drain(&mut m);
                m.handle_advert(Instant(t), black_box(adv(200)));
                drain(&mut m);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
