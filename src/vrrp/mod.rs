//! VRRP (RFC 3768 v2, RFC 5798 v3): wire format, state machine, sync groups.

pub mod machine;
pub mod packet;
pub mod sync_group;
pub mod track;
