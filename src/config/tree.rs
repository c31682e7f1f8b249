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

use std::cell::{Cell, RefCell};

use nom::branch::alt;
use nom::combinator::{map, opt};
use nom::error::{Error, ErrorKind};
use nom::multi::many0;
use nom::sequence::{pair, preceded};
use nom::IResult;

use super::diagnostic::{Diagnostic, Diagnostics, KaClass, Severity};
use super::lexer::{is_ws, lex_lines, Tok, TokKind};
use super::preprocess::Line;

/// Blocks nested deeper than this are flattened (their braces are still counted), so a
/// hostile input cannot exhaust the stack.
const MAX_DEPTH: u32 = 64;

type In<'t> = &'t [Tok];

/// Parses preprocessed lines into statements (§3.2): lexes them, then builds the tree.
/// Brace errors are reported as keepalived does (`Extra '}' found`, `Unexpected '{' -
/// ignoring`, `There are N missing '}'s or extra '{'s`).
pub fn parse_lines(lines: &[Line], diags: &mut Diagnostics) -> Vec<Node> {
    let toks = lex_lines(lines, diags);
    parse_tokens(lines, &toks, diags)
}

/// Builds the tree from tokens made by [`lex_lines`] over `lines`.
pub fn parse_tokens(lines: &[Line], toks: &[Tok], diags: &mut Diagnostics) -> Vec<Node> {
    let p = TreeParser {
        lines,
        diags: RefCell::new(Vec::new()),
        deep: Cell::new(0),
        unclosed: Cell::new(None),
        warned_deep: Cell::new(false),
    };
    let nodes = match p.body(toks, 0) {
        Ok((_, (nodes, _))) => nodes,
        // body() at depth 0 accepts every token, so this is unreachable in practice.
        Err(_) => Vec::new(),
    };
    let mut found = p.diags.into_inner();
    if let Some((depth, span)) = p.unclosed.get() {
        let n = depth + p.deep.get();
        found.push(
            Diagnostic::new(
                Severity::Error,
                Some(KaClass::MissingEob),
                format!("There are {n} missing '}}'s or extra '{{'s"),
            )
            .at(span),
        );
    } else if p.deep.get() > 0 {
        found.push(Diagnostic::new(
            Severity::Error,
            Some(KaClass::MissingEob),
            format!("There are {} missing '}}'s or extra '{{'s", p.deep.get()),
        ));
    }
    for d in found {
        diags.push(d);
    }
    nodes
}

/// One token of the given kind.
fn kind<'t>(k: TokKind) -> impl Fn(In<'t>) -> IResult<In<'t>, &'t Tok> {
    move |i: In<'t>| match i.split_first() {
        Some((t, rest)) if t.kind == k => Ok((rest, t)),
        _ => Err(nom::Err::Error(Error::new(i, ErrorKind::Tag))),
    }
}

fn fail<T>(i: In<'_>) -> IResult<In<'_>, T> {
    Err(nom::Err::Error(Error::new(i, ErrorKind::Alt)))
}

struct TreeParser<'l> {
    lines: &'l [Line],
    diags: RefCell<Vec<Diagnostic>>,
    /// Braces opened beyond MAX_DEPTH and not yet closed.
    deep: Cell<u32>,
    /// Number of blocks, and `{` of the outermost one, still open at end of input.
    unclosed: Cell<Option<(u32, Span)>>,
    warned_deep: Cell<bool>,
}

impl<'l> TreeParser<'l> {
    fn error(&self, class: KaClass, span: Span, msg: &str) {
        self.diags
            .borrow_mut()
            .push(Diagnostic::new(Severity::Error, Some(class), msg).at(span));
    }

    /// The statements of a block up to its `}` (consumed), or to the end of input; tells
    /// whether the `}` was found.
    fn body<'t>(&self, i: In<'t>, depth: u32) -> IResult<In<'t>, (Vec<Node>, bool)> {
        let (i, items) = many0(|i| self.element(i, depth))(i)?;
        let nodes: Vec<Node> = items.into_iter().flatten().collect();
        match i.split_first() {
            Some((t, rest)) if t.kind == TokKind::Close => Ok((rest, (nodes, true))),
            _ => Ok((i, (nodes, false))),
        }
    }

    /// A block body after its `{`; an unclosed one is remembered for the final report.
    fn block<'t>(&self, i: In<'t>, open: &Tok, depth: u32) -> IResult<In<'t>, Vec<Node>> {
        let (rest, (nodes, closed)) = self.body(i, depth)?;
        if !closed {
            // The innermost unclosed block gives the count, the outermost the position.
            let count = self.unclosed.get().map_or(depth, |(n, _)| n.max(depth));
            self.unclosed.set(Some((count, open.token.span)));
        }
        Ok((rest, nodes))
    }

    fn element<'t>(&self, i: In<'t>, depth: u32) -> IResult<In<'t>, Vec<Node>> {
        alt((
            map(kind(TokKind::Eol), |_| Vec::new()),
            |i| self.statement(i, depth),
            |i| self.stray_open(i, depth),
            |i| self.stray_close(i, depth),
        ))(i)
    }

    /// `keyword args... [{ children }]`, the `{` on the same line or a later one.
    fn statement<'t>(&self, i: In<'t>, depth: u32) -> IResult<In<'t>, Vec<Node>> {
        let (i, (kw, args)) = pair(kind(TokKind::Word), many0(kind(TokKind::Word)))(i)?;
        let raw_args = self.raw_args(kw, i.first());
        let (i, open) = if depth < MAX_DEPTH {
            opt(preceded(many0(kind(TokKind::Eol)), kind(TokKind::Open)))(i)?
        } else {
            (i, None)
        };
        let (i, block) = match open {
            Some(o) => {
                let (i, children) = self.block(i, o, depth + 1)?;
                (
                    i,
                    Some(Block {
                        open: o.token.span,
                        children,
                    }),
                )
            }
            None => (i, None),
        };
        Ok((
            i,
            vec![Node {
                keyword: kw.token.clone(),
                args: args.into_iter().map(|t| t.token.clone()).collect(),
                raw_args,
                block,
            }],
        ))
    }

    /// The text after the keyword up to the next brace or the end of the line.
    fn raw_args(&self, kw: &Tok, next: Option<&Tok>) -> String {
        let Some(line) = self.lines.get(kw.line) else {
            return String::new();
        };
        let end = next
            .filter(|t| t.line == kw.line)
            .map_or(line.text.len(), |t| t.start);
        line.text
            .get(kw.end..end)
            .unwrap_or("")
            .trim_matches(is_ws)
            .to_owned()
    }

    /// A `{` that follows no statement: keepalived ignores it (but still counts it).
    fn stray_open<'t>(&self, i: In<'t>, depth: u32) -> IResult<In<'t>, Vec<Node>> {
        let (i, o) = kind(TokKind::Open)(i)?;
        if depth >= MAX_DEPTH {
            self.deep.set(self.deep.get() + 1);
            if !self.warned_deep.replace(true) {
                self.diags.borrow_mut().push(
                    Diagnostic::new(
                        Severity::Warning,
                        None,
                        format!("blocks nested deeper than {MAX_DEPTH} levels are flattened"),
                    )
                    .at(o.token.span),
                );
            }
            return Ok((i, Vec::new()));
        }
        self.error(
            KaClass::UnexpectedBob,
            o.token.span,
            "Unexpected '{' - ignoring",
        );
        // Its contents still belong to the enclosing block.
        self.block(i, o, depth + 1)
    }

    /// A `}` closing a flattened over-deep block, or one with no block open.
    fn stray_close<'t>(&self, i: In<'t>, depth: u32) -> IResult<In<'t>, Vec<Node>> {
        if self.deep.get() > 0 {
            let (i, _) = kind(TokKind::Close)(i)?;
            self.deep.set(self.deep.get() - 1);
            return Ok((i, Vec::new()));
        }
        if depth > 0 {
            return fail(i);
        }
        let (i, c) = kind(TokKind::Close)(i)?;
        self.error(KaClass::ExtraEob, c.token.span, "Extra '}' found");
        Ok((i, Vec::new()))
    }
}
