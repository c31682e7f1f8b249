//! The small decoders of replies from the network not covered by the other targets: DNS
//! replies (DNS_CHECK), SMTP reply lines (SMTP_CHECK and alert mail) and the AH header of
//! VRRPv2 adverts. None may panic; the AH header re-encodes to its bytes (reserved zeroed)
//! and a DNS verdict only ever accepts a response to our id with rcode 0.
#![no_main]
use keepalived::check::{dns, smtp};
use keepalived::vrrp::auth::{ah_icv, AhHeader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => {
            let Some(query) = dns::build_query(0x1234, "example.com", 1) else {
                return;
            };
            if dns::check_reply(&query, rest).is_ok() {
                assert!(rest.len() >= 12);
                assert_eq!(&rest[..2], &[0x12, 0x34]);
                assert!(rest[2] & 0x80 != 0 && rest[3] & 0x0f == 0);
            }
        }
        1 => {
            let text = String::from_utf8_lossy(rest);
            for line in text.split("\r\n") {
                if let Some((code, last)) = smtp::parse_reply_line(line) {
                    assert!(code <= 999);
                    assert_eq!(last, line.as_bytes().get(3) != Some(&b'-'));
                }
            }
        }
        _ => {
            if let Some(h) = AhHeader::parse(rest) {
                let mut out = [0u8; 24];
                assert!(h.emit(&mut out));
                let mut want = [0u8; 24];
                want.copy_from_slice(&rest[..24]);
                want[2] = 0;
                want[3] = 0;
                assert_eq!(out, want);
            }
            let ihl = usize::from(rest.first().map_or(0, |b| b & 0x0f)) * 4;
            let _ = ah_icv(rest, ihl, &[7u8; 8], rest.len() % 2 == 0);
        }
    }
});
