//! keepalived 2.2 command line (to be written).
