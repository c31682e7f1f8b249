//! HTTP responses through the checker's parser: never panics, and what it accepts is
//! consistent: the body is a slice of the input after the header block, a complete
//! chunked body decodes, and re-serialising status line + headers + body parses back
//! to the same response (round trip, not just "no panic").
#![no_main]
use keepalived::check::http::{chunked_len, dechunk, header_end_len, parse_response};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = chunked_len(data);
    let _ = dechunk(data);
    let Ok(r) = parse_response(data) else {
        return;
    };
    // any three digits are a status (keepalived reads the number as is)
    assert!(r.status <= 999);
    let start = header_end_len(data).expect("accepted without a header end");
    let rest = &data[start..];
    assert!(rest.starts_with(r.body));
    let chunked = r.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding")
            && v.split(',').any(|t| t.trim().eq_ignore_ascii_case("chunked"))
    });
    if chunked && r.complete {
        assert!(dechunk(r.body).is_some());
        assert_eq!(chunked_len(r.body), Some(r.body.len()));
    }
    // round trip through a canonical form
    let mut canon = format!("HTTP/1.{} {:03} X\r\n", r.minor, r.status).into_bytes();
    for (k, v) in &r.headers {
        canon.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    canon.extend_from_slice(b"\r\n");
    canon.extend_from_slice(r.body);
    let again = parse_response(&canon).expect("canonical form must parse");
    assert_eq!(again.status, r.status);
    assert_eq!(again.minor, r.minor);
    assert_eq!(again.headers, r.headers);
    assert_eq!(again.body, r.body);
    assert_eq!(again.complete, r.complete);
});
