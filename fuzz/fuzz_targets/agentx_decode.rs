//! AgentX PDUs from the master agent through our decoder (the subagent reads whatever
//! snmpd, or anything listening on the socket, sends): never panics, never allocates
//! beyond the bytes given, and whatever decodes re-encodes to bytes that decode to the
//! same message.
#![no_main]
use keepalived::agentx::pdu;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok((m, n)) = pdu::decode(data) else {
        return;
    };
    assert!(n <= data.len());
    let again = pdu::encode(&m);
    assert_eq!(pdu::decode(&again).expect("re-encoded message decodes"), (m, again.len()));
});
