//! BFD (RFC 5880 asynchronous mode, RFC 5881 single hop) as keepalived 2.2.7's BFD child
//! runs it: the control packet codec and the per-session state machine, both pure.

pub mod packet;
pub mod session;
pub mod table;
