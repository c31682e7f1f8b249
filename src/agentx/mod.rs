//! An AgentX (RFC 2741) subagent: the PDU codec and the session with the master agent
//! (snmpd). Knows nothing of VRRP or the checker: the children hand it the subtrees to
//! register and answer its questions from their own state.

pub mod pdu;
pub mod session;
#[cfg(test)]
mod tests;
