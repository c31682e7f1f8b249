//! The generic configuration tree: every statement is a keyword, its arguments and an
//! optional `{ ... }` block of child statements. Knows nothing of keyword meanings.
//!
//! keepalived's grammar: a statement is one logical line; `{`
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
    /// keywords (`notify`, `script`, `misc_path`,...) re-tokenise it shell-style.
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

use nom::combinator::{cond, iterator, map, opt, peek};
use nom::error::{Error, ErrorKind};
use nom::sequence::preceded;
use nom::{IResult, Needed, Parser};

use super::diagnostic::{Diagnostic, Diagnostics, KaClass, Severity};
use super::lexer::{is_ws_byte, lex_lines, Tok, TokKind};
use super::preprocess::Line;

/// Blocks nested deeper than this are flattened (their braces are still counted), so a
/// hostile input cannot exhaust the stack.
const MAX_DEPTH: u32 = 64;

/// Parses preprocessed lines into statements: lexes them, then builds the tree.
/// Brace errors are reported as keepalived does (`Extra '}' found`, `Unexpected '{' -
/// ignoring`, `There are N missing '}'s or extra '{'s`).
pub fn parse_lines(lines: &[Line], diags: &mut Diagnostics) -> Vec<Node> {
    let toks = lex_lines(lines, diags);
    parse_tokens(lines, &toks, diags)
}

/// Builds the tree from tokens made by [`lex_lines`] over `lines`.
pub fn parse_tokens(lines: &[Line], toks: &[Tok], diags: &mut Diagnostics) -> Vec<Node> {
    let g = Grammar { lines };
    let body = match g.body(Toks(toks), 0) {
        Ok((_, (body, _))) => body,
        // body() at depth 0 accepts every token, so this is unreachable in practice.
        Err(_) => Body::default(),
    };
    let left = body.left.map(|l| *l).unwrap_or_default();
    let mut warned_deep = false;
    for d in left.problems {
        // The flattening warning is given once, at the first flattened block.
        if d.message == DEEP_WARNING {
            if warned_deep {
                continue;
            }
            warned_deep = true;
        }
        diags.push(d);
    }
    if let Some(u) = left.unclosed {
        diags.push(
            Diagnostic::new(
                Severity::Error,
                Some(KaClass::MissingEob),
                format!(
                    "There are {} missing '}}'s or extra '{{'s",
                    u.count + u.deep
                ),
            )
            .at(u.open),
        );
    }
    body.nodes
}

/// Given at the first `{` of a block nested deeper than MAX_DEPTH.
const DEEP_WARNING: &str = "blocks nested deeper than 64 levels are flattened";

/// The tokens of the configuration as nom input.
#[derive(Debug, Clone, Copy)]
struct Toks<'t>(&'t [Tok]);

impl<'t> nom::Input for Toks<'t> {
    type Item = &'t Tok;
    type Iter = std::slice::Iter<'t, Tok>;
    type IterIndices = std::iter::Enumerate<Self::Iter>;

    fn input_len(&self) -> usize {
        self.0.len()
    }

    fn take(&self, index: usize) -> Self {
        Toks(self.0.get(..index).unwrap_or(self.0))
    }

    fn take_from(&self, index: usize) -> Self {
        Toks(self.0.get(index..).unwrap_or(&[]))
    }

    fn take_split(&self, index: usize) -> (Self, Self) {
        let (a, b) = self.0.split_at(index.min(self.0.len()));
        (Toks(b), Toks(a))
    }

    fn position<P: Fn(Self::Item) -> bool>(&self, predicate: P) -> Option<usize> {
        self.0.iter().position(predicate)
    }

    fn iter_elements(&self) -> Self::Iter {
        self.0.iter()
    }

    fn iter_indices(&self) -> Self::IterIndices {
        self.0.iter().enumerate()
    }

    fn slice_index(&self, count: usize) -> Result<usize, Needed> {
        if self.0.len() >= count {
            Ok(count)
        } else {
            Err(Needed::new(count - self.0.len()))
        }
    }
}

type Res<'t, O> = IResult<Toks<'t>, O>;

/// One token of kind `k`.
fn tok<'t>(k: TokKind) -> impl Fn(Toks<'t>) -> Res<'t, &'t Tok> {
    move |i: Toks<'t>| match i.0.split_first() {
        Some((t, rest)) if t.kind == k => Ok((Toks(rest), t)),
        _ => Err(nom::Err::Error(Error::new(i, ErrorKind::Tag))),
    }
}

/// Any token.
fn any_tok(i: Toks<'_>) -> Res<'_, &Tok> {
    match i.0.split_first() {
        Some((t, rest)) => Ok((Toks(rest), t)),
        None => Err(nom::Err::Error(Error::new(i, ErrorKind::Eof))),
    }
}

/// Any number of tokens of kind `k`.
fn many<'t>(k: TokKind) -> impl Fn(Toks<'t>) -> Res<'t, Toks<'t>> {
    // (take_while for a slice, without nom's generic input machinery)
    move |i: Toks<'t>| {
        let n = i.0.iter().take_while(|t| t.kind == k).count();
        let (run, rest) = i.0.split_at(n);
        Ok((Toks(rest), Toks(run)))
    }
}

/// Blocks still open at the end of the input.
#[derive(Debug, Clone, Copy)]
struct Unclosed {
    /// The depth of the innermost one.
    count: u32,
    /// Where the `{` of the outermost one is.
    open: Span,
    /// Braces of flattened blocks (beyond MAX_DEPTH) still open.
    deep: u32,
}

/// What a block body holds: its statements (with those of stray `{ }` blocks flattened
/// in), and what it leaves to the enclosing body.
#[derive(Debug, Default)]
struct Body {
    nodes: Vec<Node>,
    /// Boxed: rare, and a body stays two words as it travels through the parsers.
    left: Option<Box<Left>>,
}

impl Body {
    fn left(&mut self) -> &mut Left {
        self.left.get_or_insert_with(Box::default)
    }

    fn problem(&mut self, d: Diagnostic) {
        self.left().problems.push(d);
    }

    fn unclosed(&self) -> Option<Unclosed> {
        self.left.as_ref().and_then(|l| l.unclosed)
    }

    /// Takes what an inner block left (its problems come after those found so far).
    #[inline(always)]
    fn absorb(&mut self, left: Option<Box<Left>>) {
        if let Some(l) = left {
            let me = self.left();
            me.problems.extend(l.problems);
            me.unclosed = l.unclosed.or(me.unclosed);
        }
    }

    fn merge(&mut self, b: Body) {
        if self.nodes.is_empty() {
            self.nodes = b.nodes;
        } else {
            self.nodes.extend(b.nodes);
        }
        self.absorb(b.left);
    }
}

/// What a block leaves to the enclosing body: the problems found in it, in input order,
/// and the blocks open at the end of the input.
#[derive(Debug, Default)]
struct Left {
    problems: Vec<Diagnostic>,
    unclosed: Option<Unclosed>,
}

/// A statement as the grammar reads it: borrowed tokens (the [`Node`] and its strings
/// are made once, where the enclosing body stores it) and its block.
struct Stmt<'t> {
    keyword: &'t Tok,
    args: &'t [Tok],
    /// The token after the arguments (where `raw_args` ends when on the same line).
    next: Option<&'t Tok>,
    block: Option<(&'t Tok, Body)>,
}

/// One element of a block body (small: it is passed by value through the parsers).
enum Element<'t> {
    /// An end of line.
    Nothing,
    Stmt(Stmt<'t>),
    /// A `{` that follows no statement (reported, its contents kept in the enclosing block).
    Flat(&'t Tok, Body),
    /// A `}` with no block open.
    Problem(&'t Tok),
}

/// The lexer's token as a tree [`Token`] (its text copied from `line`, the text of the
/// line it was lexed from).
fn token(t: &Tok, line: &str) -> Token {
    Token {
        text: t.text(line).to_owned(),
        span: t.span,
        quoted: t.quoted,
    }
}

fn error(class: KaClass, t: &Tok, msg: &str) -> Diagnostic {
    Diagnostic::new(Severity::Error, Some(class), msg).at(t.span)
}

/// keepalived's grammar over the tokens of `lines`.
#[derive(Clone, Copy)]
struct Grammar<'l> {
    lines: &'l [Line],
}

impl<'l> Grammar<'l> {
    /// The statements of a block up to its `}` (consumed), or to the end of input; tells
    /// whether the `}` was found.
    fn body<'t>(self, i: Toks<'t>, depth: u32) -> Res<'t, (Body, bool)> {
        if depth >= MAX_DEPTH {
            return self.flat_body(i);
        }
        // many0 over `element`, appending to one body (no vector per element)
        let mut body = Body::default();
        let mut elements = iterator(i, |i| self.element(i, depth));
        for e in &mut elements {
            self.add(&mut body, e);
        }
        let (i, ()) = elements.finish()?;
        let (i, _) = many(TokKind::Eol)(i)?;
        let (i, close) = opt(tok(TokKind::Close)).parse(i)?;
        Ok((i, (body, close.is_some())))
    }

    /// A block body after its `{`; one left open is remembered for the final report.
    fn block<'t>(self, i: Toks<'t>, open: &Tok, depth: u32) -> Res<'t, Body> {
        let (i, (mut body, closed)) = self.body(i, depth)?;
        if !closed {
            // The innermost unclosed block gives the count, the outermost the position.
            let inner = body.unclosed();
            body.left().unclosed = Some(Unclosed {
                count: inner.map_or(depth, |u| u.count.max(depth)),
                open: open.span,
                deep: inner.map_or(0, |u| u.deep),
            });
        }
        Ok((i, body))
    }

    /// An end of line, a statement, a stray `{` block or a stray `}`: the alternatives
    /// start with different tokens, so the first one chooses (no failed attempts, and
    /// the large result is not passed through an `alt`).
    #[inline(always)]
    fn element<'t>(self, i: Toks<'t>, depth: u32) -> Res<'t, Element<'t>> {
        // (ends of lines are skipped here, not returned one by one: half the tokens)
        let (i, _) = many(TokKind::Eol)(i)?;
        let (_, first) = peek(any_tok).parse(i)?;
        match first.kind {
            TokKind::Eol => map(tok(TokKind::Eol), |_| Element::Nothing).parse(i),
            TokKind::Word => self.statement(i, depth),
            TokKind::Open => self.stray_open(i, depth),
            TokKind::Close => self.stray_close(i, depth),
        }
    }

    /// `keyword args... [{ children }]`, the `{` on the same line or a later one.
    fn statement<'t>(self, i: Toks<'t>, depth: u32) -> Res<'t, Element<'t>> {
        let (i, keyword) = tok(TokKind::Word)(i)?;
        let (i, args) = many(TokKind::Word)(i)?;
        let next = i.0.first();
        // (beyond MAX_DEPTH a `{` opens no block: flat_body counts it)
        let open_block = opt(preceded(many(TokKind::Eol), tok(TokKind::Open)));
        let (i, open) = cond(depth < MAX_DEPTH, open_block).parse(i)?;
        let (i, block) = match open.flatten() {
            Some(o) => {
                let (i, b) = self.block(i, o, depth + 1)?;
                (i, Some((o, b)))
            }
            None => (i, None),
        };
        let stmt = Stmt {
            keyword,
            args: args.0,
            next,
            block,
        };
        Ok((i, Element::Stmt(stmt)))
    }

    /// Stores an element in the body being read: a statement becomes a [`Node`].
    #[inline(always)]
    fn add(self, body: &mut Body, e: Element<'_>) {
        match e {
            Element::Nothing => {}
            Element::Stmt(s) => {
                let (block, left) = match s.block {
                    Some((o, b)) => (
                        Some(Block {
                            open: o.span,
                            children: b.nodes,
                        }),
                        b.left,
                    ),
                    None => (None, None),
                };
                body.nodes.push(Node {
                    keyword: token(s.keyword, self.line_text(s.keyword)),
                    args: s.args.iter().map(|t| token(t, self.line_text(t))).collect(),
                    raw_args: self.raw_args(s.keyword, s.next),
                    block,
                });
                body.absorb(left);
            }
            Element::Flat(o, b) => {
                body.problem(error(
                    KaClass::UnexpectedBob,
                    o,
                    "Unexpected '{' - ignoring",
                ));
                body.merge(b);
            }
            Element::Problem(c) => body.problem(error(KaClass::ExtraEob, c, "Extra '}' found")),
        }
    }

    /// A body at MAX_DEPTH: statements open no block, and braces are only counted (a
    /// loop, not recursion, so any depth of braces is read in constant stack).
    fn flat_body<'t>(self, mut i: Toks<'t>) -> Res<'t, (Body, bool)> {
        let mut body = Body::default();
        let mut deep = 0u32;
        loop {
            if let Ok((rest, _)) = tok(TokKind::Eol)(i) {
                i = rest;
            } else if let Ok((rest, e)) = self.statement(i, MAX_DEPTH) {
                self.add(&mut body, e);
                i = rest;
            } else if let Ok((rest, o)) = tok(TokKind::Open)(i) {
                if deep == 0 {
                    body.problem(Diagnostic::new(Severity::Warning, None, DEEP_WARNING).at(o.span));
                }
                deep = deep.saturating_add(1);
                i = rest;
            } else if let Ok((rest, _)) = tok(TokKind::Close)(i) {
                i = rest;
                if deep == 0 {
                    return Ok((i, (body, true)));
                }
                deep -= 1;
            } else {
                // The end of the input: the flattened braces still open are counted with
                // the unclosed blocks (block() sets the count and the position).
                if deep > 0 {
                    body.left().unclosed = Some(Unclosed {
                        count: 0,
                        open: Span::default(),
                        deep,
                    });
                }
                return Ok((i, (body, false)));
            }
        }
    }

    /// A `{` that follows no statement: keepalived ignores it (but still counts it).
    fn stray_open<'t>(self, i: Toks<'t>, depth: u32) -> Res<'t, Element<'t>> {
        let (i, o) = tok(TokKind::Open)(i)?;
        // Its contents still belong to the enclosing block.
        let (i, body) = self.block(i, o, depth + 1)?;
        Ok((i, Element::Flat(o, body)))
    }

    /// A `}` with no block open (at the top level; in a block it ends the block).
    fn stray_close<'t>(self, i: Toks<'t>, depth: u32) -> Res<'t, Element<'t>> {
        if depth > 0 {
            return Err(nom::Err::Error(Error::new(i, ErrorKind::Alt)));
        }
        let (i, c) = tok(TokKind::Close)(i)?;
        Ok((i, Element::Problem(c)))
    }

    /// The text of a token's line.
    fn line_text(self, t: &Tok) -> &'l str {
        self.lines.get(t.line).map_or("", |l| l.text.as_str())
    }

    /// The text after the keyword up to the next brace or the end of the line.
    fn raw_args(self, kw: &Tok, next: Option<&Tok>) -> String {
        let Some(line) = self.lines.get(kw.line) else {
            return String::new();
        };
        let end = next
            .filter(|t| t.line == kw.line)
            .map_or(line.text.len(), |t| t.start);
        let s = line.text.get(kw.end..end).unwrap_or("");
        // (bytes: the blanks are ASCII, so a cut never splits a character)
        let b = s.as_bytes();
        let from = b.iter().position(|&c| !is_ws_byte(c)).unwrap_or(b.len());
        let to = b
            .iter()
            .rposition(|&c| !is_ws_byte(c))
            .map_or(from, |z| z + 1);
        s.get(from..to).unwrap_or("").to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::preprocess::preprocess_str;
    use crate::config::{LoadOptions, SourceMap};
    use std::path::Path;

    fn parse(text: &str) -> (Vec<Node>, Diagnostics) {
        let mut sm = SourceMap::new();
        let mut files = Vec::new();
        let mut d = Diagnostics::new();
        let opts = LoadOptions {
            config_id: "n".into(),
            ..LoadOptions::default()
        };
        let lines = preprocess_str(
            text,
            Path::new("k.conf"),
            &opts,
            &mut sm,
            &mut files,
            &mut d,
        );
        let nodes = parse_lines(&lines, &mut d);
        (nodes, d)
    }

    fn ok(text: &str) -> Vec<Node> {
        let (n, d) = parse(text);
        assert!(d.items.is_empty(), "{:?}", d.items);
        n
    }

    /// `kw(args){children}` rendering for compact assertions.
    fn show(nodes: &[Node]) -> String {
        nodes
            .iter()
            .map(|n| {
                let mut s = n.name().to_owned();
                for a in &n.args {
                    s.push(' ');
                    s.push_str(&a.text);
                }
                if let Some(b) = &n.block {
                    s.push_str(&format!("{{{}}}", show(&b.children)));
                }
                s
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    #[test]
    fn blocks_on_one_or_many_lines() {
        let a = ok("global_defs { router_id X }\n");
        assert_eq!(show(&a), "global_defs{router_id X}");
        let b = ok("global_defs\n{\n  router_id X\n}\n");
        assert_eq!(show(&b), "global_defs{router_id X}");
        let c = ok("vrrp_instance VI_1 {\n virtual_ipaddress {\n  192.0.2.1/24 dev eth0\n  192.0.2.2\n }\n state MASTER }\nvrrp_script s { script \"/bin/true\" }\n");
        assert_eq!(
            show(&c),
            "vrrp_instance VI_1{virtual_ipaddress{192.0.2.1/24 dev eth0;192.0.2.2};state MASTER};vrrp_script s{script /bin/true}"
        );
        // Text after `}` is the next statement.
        let d = ok("a { b } c\n");
        assert_eq!(show(&d), "a{b};c");
        assert_eq!(show(&ok("a {}\n")), "a{}");
        assert!(ok("a\n").first().is_some_and(|n| n.block.is_none()));
    }

    #[test]
    fn list_blocks_give_all_words() {
        let n = ok("vrrp_sync_group G {\n group {\n  VI_1 VI_2\n  VI_3\n }\n}\n");
        let g = &n[0].children()[0];
        let w: Vec<_> = g.block_words().map(|t| t.text.as_str()).collect();
        assert_eq!(w, ["VI_1", "VI_2", "VI_3"]);
    }

    #[test]
    fn extra_close_brace() {
        let (n, d) = parse("a {\n}\n}\nb\n");
        assert_eq!(show(&n), "a{};b");
        assert_eq!(d.items.len(), 1);
        assert_eq!(d.items[0].message, "Extra '}' found");
        assert_eq!(d.items[0].class, Some(KaClass::ExtraEob));
        let sp = d.items[0].span.unwrap_or_default();
        assert_eq!((sp.line, sp.col), (3, 1));
    }

    #[test]
    fn missing_close_braces() {
        let (n, d) = parse("a {\n  b {\n    c\n");
        assert_eq!(show(&n), "a{b{c}}");
        assert_eq!(d.items.len(), 1);
        assert_eq!(d.items[0].message, "There are 2 missing '}'s or extra '{'s");
        assert_eq!(d.items[0].class, Some(KaClass::MissingEob));
        let sp = d.items[0].span.unwrap_or_default();
        assert_eq!((sp.line, sp.col), (1, 3));
    }

    #[test]
    fn unexpected_open_brace() {
        let (n, d) = parse("{\n a\n}\nb { c } {\n}\n");
        assert_eq!(show(&n), "a;b{c}");
        let msgs: Vec<_> = d
            .items
            .iter()
            .map(|d| (d.message.as_str(), d.class))
            .collect();
        assert_eq!(
            msgs,
            [
                ("Unexpected '{' - ignoring", Some(KaClass::UnexpectedBob)),
                ("Unexpected '{' - ignoring", Some(KaClass::UnexpectedBob))
            ]
        );
        let sp = d.items[1].span.unwrap_or_default();
        assert_eq!((sp.line, sp.col), (4, 9));
    }

    #[test]
    fn raw_args_keep_quotes() {
        let n = ok("vrrp_script s {\n  script \"/bin/echo 'a b'\" x  # c\n}\nnotify_master /x.sh \"q r\" {}\n");
        let s = &n[0].children()[0];
        assert_eq!(s.raw_args, "\"/bin/echo 'a b'\" x");
        assert_eq!(s.args[0].text, "/bin/echo 'a b'");
        assert_eq!(s.args[1].text, "x");
        assert_eq!(n[0].raw_args, "s");
        assert_eq!(n[1].raw_args, "/x.sh \"q r\"");
    }

    #[test]
    fn spans_point_into_the_original_line() {
        let n = ok("global_defs {\n\t  router_id  \"R 1\" \\#x\n}\n");
        let r = &n[0].children()[0];
        assert_eq!(
            (r.keyword.span.line, r.keyword.span.col, r.keyword.span.len),
            (2, 4, 9)
        );
        assert_eq!((r.args[0].span.col, r.args[0].span.len), (15, 5));
        // After a removed `\`, the column is still that of the original text.
        assert_eq!((r.args[1].text.as_str(), r.args[1].span.col), ("#x", 21));
        let b = n[0].block.as_ref().map(|b| b.open).unwrap_or_default();
        assert_eq!((b.line, b.col), (1, 13));
        // Substituted lines point at the start of the line.
        let n = ok("$V=abc\n  x $V\n");
        assert_eq!((n[0].args[0].span.line, n[0].args[0].span.col), (2, 3));
    }

    #[test]
    fn trailing_backslash_is_glued() {
        let n = ok("virtual_router_id \\\n51\n");
        assert_eq!(show(&n), "virtual_router_id\\;51");
    }

    #[test]
    fn undefined_braced_parameter_breaks_structure() {
        // `${X}` undefined is left as is and its braces split the line.
        let (n, d) = parse("a {\n b ${X}\n}\n");
        assert_eq!(show(&n), "a{b ${X}}");
        assert!(d.items.iter().all(|d| d.class != Some(KaClass::ExtraEob)));
        let (n, d) = parse("b ${X}\n");
        assert!(d.items.is_empty());
        assert_eq!(n[0].args[0].text, "$");
        assert_eq!(show(n[0].children()), "X");
    }

    #[test]
    fn flattened_blocks_warn_once_and_count_their_braces() {
        assert!(DEEP_WARNING.contains(&format!(" {MAX_DEPTH} ")));
        let mut text = "a {\n".repeat(70);
        text.push_str("{ b { c } } {\n");
        let (n, d) = parse(&text);
        let warned = d.items.iter().filter(|d| d.message == DEEP_WARNING).count();
        assert_eq!(warned, 1);
        // 64 blocks, and 7 flattened `{` (6 after `a`, one on the last line), are open.
        let last = d.items.last().map(|d| d.message.as_str());
        assert_eq!(last, Some("There are 71 missing '}'s or extra '{'s"));
        let sp = d.items.last().and_then(|d| d.span).unwrap_or_default();
        assert_eq!((sp.line, sp.col), (1, 3));
        assert_eq!(show(&n).matches('{').count(), 64);
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let text = "{".repeat(5000) + &"}".repeat(5000);
        let (n, d) = parse(&text);
        assert!(n.is_empty());
        assert!(d.items.iter().all(|d| d.class != Some(KaClass::MissingEob)));
        let text = "a {".repeat(300);
        let (_, d) = parse(&text);
        assert!(d
            .items
            .iter()
            .any(|d| d.message == "There are 300 missing '}'s or extra '{'s"));
    }

    #[test]
    fn every_sample_parses_without_tree_errors() {
        let dir = Path::new("/usr/share/doc/keepalived/samples");
        let Ok(rd) = std::fs::read_dir(dir) else {
            return; // keepalived's samples are not installed here.
        };
        let mut count = 0;
        for e in rd.flatten() {
            let p = e.path();
            if !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("keepalived.conf"))
            {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            let (n, d) = parse(&text);
            assert!(!n.is_empty(), "{}", p.display());
            let bad: Vec<_> = d.items.iter().filter(|d| d.class.is_some()).collect();
            assert!(bad.is_empty(), "{}: {:?}", p.display(), bad);
            count += 1;
        }
        assert!(count >= 20, "only {count} samples");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]
        #[test]
        fn never_panics(s in "[ -~\t\r\n{}\"#!$@~\\\\é]{0,400}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_structured(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("{".to_owned()),
                    proptest::strategy::Just("}".to_owned()),
                    proptest::strategy::Just("\n".to_owned()),
                    proptest::strategy::Just("\"".to_owned()),
                    proptest::strategy::Just("$A=".to_owned()),
                    proptest::strategy::Just("$A".to_owned()),
                    proptest::strategy::Just("${A}".to_owned()),
                    proptest::strategy::Just("~SEQ(i,3) ".to_owned()),
                    proptest::strategy::Just("~LST({a,b},{1,2}) ".to_owned()),
                    proptest::strategy::Just("\\".to_owned()),
                    proptest::strategy::Just("@n ".to_owned()),
                    "[a-z ]{1,6}",
                ],
                0..80,
            )
        ) {
            let _ = parse(&parts.concat());
        }
    }
}
