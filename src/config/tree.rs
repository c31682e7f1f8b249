//! The generic configuration tree: every statement is a keyword, its arguments and an
//! optional `{ ... }` block of child statements. Knows nothing of keyword meanings.
//!
//! keepalived's grammar (keepalived-spec.md §3.2): a statement is one logical line; `{`
//! opens a block (on the same or the next line), `}` closes it; text after `{` or `}` on
//! a line is processed as the next statement. Value blocks (`virtual_ipaddress { ... }`)
//! use the same shape: each line is a child whose keyword is the first word.
#![forbid(unsafe_code)]

use super::diagnostic::Span;

/// A word of the configuration with its position. `quoted` is true when the word was
/// written in double quotes (the quotes are not part of `text`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Token {
    pub text: String,
    pub span: Span,
    pub quoted: bool,
}

/// One statement: `keyword arg1 arg2 ... [{ children }]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Node {
    pub keyword: Token,
    pub args: Vec<Token>,
    /// The text of the line after the keyword, decommented and trimmed, quotes kept: script
    /// keywords (`notify`, `script`, `misc_path`, ...) re-tokenise it shell-style (§3.2).
    pub raw_args: String,
    pub block: Option<Block>,
}

/// A `{ ... }` block.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Block {
    /// Where the `{` is.
    pub open: Span,
    pub children: Vec<Node>,
}

impl Node {
    pub fn name(&self) -> &str {
        &self.keyword.text
    }

    pub fn arg(&self, i: usize) -> Option<&Token> {
        self.args.get(i)
    }

    pub fn children(&self) -> &[Node] {
        self.block
            .as_ref()
            .map(|b| b.children.as_slice())
            .unwrap_or(&[])
    }

    /// The span covering the keyword (used for most diagnostics).
    pub fn span(&self) -> Span {
        self.keyword.span
    }

    /// Every word of a list block (`group { VI_1 VI_2 }` over one or many lines), in order.
    pub fn block_words(&self) -> impl Iterator<Item = &Token> {
        self.children()
            .iter()
            .flat_map(|n| std::iter::once(&n.keyword).chain(n.args.iter()))
    }
}

use super::diagnostic::Diagnostics;
use super::preprocess::Line;

/// Parses preprocessed lines into statements.
pub fn parse_lines(_lines: &[Line], _diags: &mut Diagnostics) -> Vec<Node> {
    Vec::new()
}
