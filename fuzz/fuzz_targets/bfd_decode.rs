//! BFD control packets through parse; an accepted packet re-encodes to its mandatory section
//! (keepalived sends only that; a longer packet whose length field matches is accepted,
//! its tail ignored) and feeds a session without panic.
#![no_main]
use keepalived::bfd::packet::*;
use keepalived::bfd::session::{Instant, Params, Session, SplitMix64};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let c = match parse(data) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let mut head = [0u8; HEADER_LEN];
    head.copy_from_slice(&data[..HEADER_LEN]);
    head[3] = HEADER_LEN as u8;
    assert_eq!(c.encode(), head);
    let _ = check_ttl(true, data[2], 255, data[3] & 3);
    let mut rng = SplitMix64::new(u64::from(data[4]));
    let params = Params {
        min_rx: 10_000,
        min_tx: 10_000,
        idle_tx: 1_000_000,
        detect_mult: 3,
        passive: data[5] & 1 != 0,
    };
    let mut s = Session::new("f", params, &mut rng);
    let _ = s.start(Instant::ZERO, &mut rng);
    let _ = s.handle(Instant::ZERO, &c, &mut rng);
    if let Some(t) = s.next_deadline() {
        let _ = s.poll(t, &mut rng);
    }
});
