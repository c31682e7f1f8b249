//! Statement builders for the model's tests: `n("kw a b")`, blocks with `b(...)`, and a
//! build on the fixed host.
#![forbid(unsafe_code)]

use super::Config;
use crate::config::diagnostic::{Diagnostics, FileId, Span};
use crate::config::tree::{Block, Node, Token};

/// A test-only statement builder: `n("kw a b")`, with children via `b(...)`.
pub(crate) fn n(line: &str) -> Node {
    let mut col = 1;
    let mut toks = Vec::new();
    for w in line.split_whitespace() {
        let start = line[col - 1..].find(w).map(|p| p + col).unwrap_or(col);
        toks.push(Token {
            text: w.to_string(),
            span: Span::new(FileId(0), 1, start as u32, w.len() as u32),
            quoted: false,
        });
        col = start + w.len();
    }
    let mut it = toks.into_iter();
    let keyword = it.next().unwrap_or(Token {
        text: String::new(),
        span: Span::default(),
        quoted: false,
    });
    let raw = line.trim_start()[keyword.text.len()..].trim().to_string();
    Node {
        keyword,
        args: it.collect(),
        raw_args: raw,
        block: None,
    }
}

pub(crate) fn b(line: &str, children: Vec<Node>) -> Node {
    let mut node = n(line);
    node.block = Some(Block {
        open: Span::default(),
        children,
    });
    node
}

/// Builds a Config from root statements; returns it with the diagnostics.
pub(crate) fn build(nodes: &[Node]) -> (Config, Diagnostics) {
    let mut d = Diagnostics::new();
    let cfg = super::build(nodes, crate::config::env::fixed(), &mut d);
    (cfg, d)
}
