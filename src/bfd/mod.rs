//! BFD (RFC 5880 asynchronous mode, RFC 5881 single hop) as keepalived 2.2.7's BFD child
//! runs it.
//!
//! ```text
//! packet.rs   control packet codec, keepalived's checks as typed drops     (pure)
//! session.rs  one session's state machine: events + time in, actions out   (pure)
//! table.rs    all sessions: packet lookup, TTL/auth checks, reloads        (pure)
//! socket.rs   the listening socket (3784) and each session's sending socket
//! event.rs    state changes to the VRRP child and the checker (pipes)
//! service.rs  the BFD child's Service
//! ```

pub mod event;
pub mod packet;
pub mod service;
pub mod session;
pub mod socket;
pub mod table;
