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

use std::cell::{Cell, RefCell};

use nom::error::{Error, ErrorKind};
use nom::IResult;

use super::diagnostic::{Diagnostic, Diagnostics, KaClass, Severity};
use super::lexer::{is_ws, lex_lines, Tok, TokKind};
use super::preprocess::Line;

/// Blocks nested deeper than this are flattened (their braces are still counted), so a
/// hostile input cannot exhaust the stack.
const MAX_DEPTH: u32 = 64;

type In<'t> = &'t [Tok];

/// Parses preprocessed lines into statements: lexes them, then builds the tree.
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

/// The lexer's token as a tree [`Token`] (its text copied from `line`, the text of the
/// line it was lexed from).
fn token(t: &Tok, line: &str) -> Token {
    Token {
        text: t.text(line).to_owned(),
        span: t.span,
        quoted: t.quoted,
    }
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
    fn body<'t>(&self, mut i: In<'t>, depth: u32) -> IResult<In<'t>, (Vec<Node>, bool)> {
        // many0 over `element`, appending to one vector (no vector per statement).
        let mut nodes = Vec::new();
        loop {
            match self.element(i, depth, &mut nodes) {
                Ok((rest, ())) if rest.len() < i.len() => i = rest,
                Ok(_) | Err(nom::Err::Error(_)) => break,
                Err(e) => return Err(e),
            }
        }
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
            self.unclosed.set(Some((count, open.span)));
        }
        Ok((rest, nodes))
    }

    /// An end of line, a statement, a stray `{` block or a stray `}`; the statements
    /// found are appended to `out`.
    fn element<'t>(&self, i: In<'t>, depth: u32, out: &mut Vec<Node>) -> IResult<In<'t>, ()> {
        if let Ok((rest, _)) = kind(TokKind::Eol)(i) {
            return Ok((rest, ()));
        }
        match self.statement(i, depth) {
            Ok((rest, node)) => {
                out.push(node);
                return Ok((rest, ()));
            }
            Err(nom::Err::Error(_)) => {}
            Err(e) => return Err(e),
        }
        match self.stray_open(i, depth) {
            Ok((rest, nodes)) => {
                out.extend(nodes);
                return Ok((rest, ()));
            }
            Err(nom::Err::Error(_)) => {}
            Err(e) => return Err(e),
        }
        let (rest, nodes) = self.stray_close(i, depth)?;
        out.extend(nodes);
        Ok((rest, ()))
    }

    /// The text of a token's line.
    fn line_text(&self, t: &Tok) -> &'l str {
        self.lines.get(t.line).map_or("", |l| l.text.as_str())
    }

    /// `keyword args... [{ children }]`, the `{` on the same line or a later one.
    fn statement<'t>(&self, i: In<'t>, depth: u32) -> IResult<In<'t>, Node> {
        // (slices, not nom's many0: it allocates a vector even for nothing)
        let (kw, i) = match i.split_first() {
            Some((kw, rest)) if kw.kind == TokKind::Word => (kw, rest),
            _ => return fail(i),
        };
        let nargs = i.iter().take_while(|t| t.kind == TokKind::Word).count();
        let (args, i) = i.split_at(nargs);
        let raw_args = self.raw_args(kw, i.first());
        let (i, open) = if depth < MAX_DEPTH {
            let eols = i.iter().take_while(|t| t.kind == TokKind::Eol).count();
            match i.get(eols..).and_then(<[Tok]>::split_first) {
                Some((o, rest)) if o.kind == TokKind::Open => (rest, Some(o)),
                _ => (i, None),
            }
        } else {
            (i, None)
        };
        let (i, block) = match open {
            Some(o) => {
                let (i, children) = self.block(i, o, depth + 1)?;
                (
                    i,
                    Some(Block {
                        open: o.span,
                        children,
                    }),
                )
            }
            None => (i, None),
        };
        let text = self.line_text(kw);
        Ok((
            i,
            Node {
                keyword: token(kw, text),
                args: args.iter().map(|t| token(t, self.line_text(t))).collect(),
                raw_args,
                block,
            },
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
                    .at(o.span),
                );
            }
            return Ok((i, Vec::new()));
        }
        self.error(KaClass::UnexpectedBob, o.span, "Unexpected '{' - ignoring");
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
        self.error(KaClass::ExtraEob, c.span, "Extra '}' found");
        Ok((i, Vec::new()))
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
