//! The lexer (keepalived-spec.md §3.1, §3.2).
#![forbid(unsafe_code)]
