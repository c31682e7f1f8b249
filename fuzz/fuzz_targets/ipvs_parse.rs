//! Generic-netlink IPVS replies through our parser, as the checker reads kernel dumps:
//! never panics, and whatever parses re-emits to bytes that parse back to the same
//! message (unknown attributes: after one normalising round) (round trip, not just "no panic"); service and destination nests decode
//! into entries without panicking for either address family.
#![no_main]
use keepalived::ipvs::{DestEntry, Family, IpvsMessage, ServiceEntry};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(m) = IpvsMessage::from_genl_bytes(data) else {
        return;
    };
    if let Some(attrs) = m.service_attrs() {
        let _ = ServiceEntry::from_attrs(attrs);
    }
    if let Some(attrs) = m.dest_attrs() {
        let _ = DestEntry::from_attrs(attrs, Family::Inet);
        let _ = DestEntry::from_attrs(attrs, Family::Inet6);
    }
    let again = IpvsMessage::from_genl_bytes(&m.to_genl_bytes()).expect("re-emitted message parses");
    // Attributes we do not know keep their raw type, whose flag bits
    // (NLA_F_NESTED/NET_BYTEORDER) netlink-packet-utils normalises on the way out; we
    // never send such attributes back to the kernel. Known ones must round-trip exactly,
    // and the normalised form must be stable.
    if format!("{m:?}").contains("Other(") {
        let third =
            IpvsMessage::from_genl_bytes(&again.to_genl_bytes()).expect("second round parses");
        assert_eq!(third, again);
    } else {
        assert_eq!(again, m);
    }
});
