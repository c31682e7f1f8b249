//! sync_group (to be written).
