//! The lexer: one preprocessed line → words and braces.
//!
//! keepalived splits a line at the first `{` or `}` outside double quotes (the text after
//! the brace is processed as the next line), then splits each piece into words on
//! whitespace; a `"` starts a word that runs to the next `"` (quotes removed, no escapes:
//! `"a \"b\""` is the word `a \` — observed with `keepalived -d`), and an unquoted word
//! also ends at a `"`.
#![forbid(unsafe_code)]

use nom::branch::alt;
use nom::bytes::complete::{take_till1, take_until, take_while};
use nom::character::complete::char as ch;
use nom::combinator::map;
use nom::sequence::delimited;
use nom::{IResult, Parser};

use super::diagnostic::{Diagnostics, KaClass, Span};
use super::preprocess::Line;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokKind {
    Word,
    /// `{`
    Open,
    /// `}`
    Close,
    /// End of a logical line.
    Eol,
}

/// A token with its byte range in the line text (`raw_args` is sliced from it). It owns
/// no text: the tree copies each word once, from the line (see [`Tok::text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tok {
    pub kind: TokKind,
    pub span: Span,
    /// The word was written in double quotes.
    pub quoted: bool,
    /// Index of the line in the slice given to [`lex_lines`].
    pub line: usize,
    pub start: usize,
    pub end: usize,
}

impl Tok {
    /// The token's text in `line` (the text of the line it was lexed from): the word
    /// without its quotes, `{`, `}`, or nothing for `Eol`.
    pub fn text<'l>(&self, line: &'l str) -> &'l str {
        let (a, b) = if self.quoted {
            (self.start + 1, self.end.saturating_sub(1))
        } else {
            (self.start, self.end)
        };
        line.get(a..b).unwrap_or("")
    }
}

/// keepalived's WHITE_SPACE: space, tab, FF, NL, CR, VT.
pub fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\x0c' | '\n' | '\r' | '\x0b')
}

/// [`is_ws`] for a byte of UTF-8 text (the blanks are ASCII).
pub fn is_ws_byte(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\x0c' | b'\n' | b'\r' | b'\x0b')
}

/// What [`lexeme`] reads: a brace or a word (quoted or not).
enum Lexeme {
    Brace(TokKind),
    Word { quoted: bool },
}

/// A brace, or a word: quoted (`"..."`, quotes dropped, braces kept) or bare (up to a
/// blank, `"` or brace). It fails only at an unmatched `"`.
fn lexeme(i: &str) -> IResult<&str, Lexeme> {
    alt((
        map(ch('{'), |_| Lexeme::Brace(TokKind::Open)),
        map(ch('}'), |_| Lexeme::Brace(TokKind::Close)),
        map(quoted, |_| Lexeme::Word { quoted: true }),
        map(
            take_till1(|c| is_ws(c) || matches!(c, '"' | '{' | '}')),
            |_| Lexeme::Word { quoted: false },
        ),
    ))
    .parse(i)
}

/// `"..."`: the text between the quotes.
fn quoted(i: &str) -> IResult<&str, &str> {
    delimited(ch('"'), take_until("\""), ch('"')).parse(i)
}

fn blanks(i: &str) -> IResult<&str, &str> {
    take_while(is_ws).parse(i)
}

/// Tokenises every line; each line ends with an `Eol` token.
pub fn lex_lines(lines: &[Line], diags: &mut Diagnostics) -> Vec<Tok> {
    let mut out = Vec::with_capacity(lines.len() * 4);
    for (idx, line) in lines.iter().enumerate() {
        lex_line(line, idx, &mut out, diags);
    }
    out
}

/// Tokenises one line, appending to `out`.
pub fn lex_line(line: &Line, idx: usize, out: &mut Vec<Tok>, diags: &mut Diagnostics) {
    let text = line.text.as_str();
    // The byte offset in `text` of a slice of it.
    let at = |sub: &str| sub.as_ptr() as usize - text.as_ptr() as usize;
    let mk = |kind, start: usize, end: usize, quoted: bool, width: usize| Tok {
        kind,
        span: Span::new(line.file, line.line, line.col_of(start), width as u32),
        quoted,
        line: idx,
        start,
        end,
    };
    // Where the current piece (the text after the last brace) starts.
    let mut piece = 0;
    let mut rest = text;
    loop {
        rest = blanks(rest).map_or(rest, |(r, _)| r);
        if rest.is_empty() {
            break;
        }
        let start = at(rest);
        match lexeme(rest) {
            Ok((r, Lexeme::Brace(kind))) => {
                out.push(mk(kind, start, start + 1, false, 1));
                piece = start + 1;
                rest = r;
            }
            Ok((r, Lexeme::Word { quoted })) => {
                let end = at(r);
                let width = text.get(start..end).map_or(1, |s| {
                    if s.is_ascii() {
                        s.len()
                    } else {
                        s.chars().count()
                    }
                });
                out.push(mk(TokKind::Word, start, end, quoted, width));
                rest = r;
            }
            Err(_) => {
                // An unmatched `"`: it hides every later brace, so the piece runs to the
                // end of the line; keepalived reports it and drops the rest of the piece.
                let p = text.get(piece..).unwrap_or("");
                diags.error(
                    KaClass::UnmatchedQuote,
                    Some(Span::new(line.file, line.line, line.col_of(start), 1)),
                    format!("Unmatched quote: '{}'", p.trim_matches(is_ws)),
                );
                break;
            }
        }
    }
    out.push(Tok {
        kind: TokKind::Eol,
        span: Span::new(line.file, line.line, line.col_of(text.len()), 1),
        quoted: false,
        line: idx,
        start: text.len(),
        end: text.len(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostic::FileId;

    fn line(text: &str) -> Line {
        Line {
            text: text.to_owned(),
            file: FileId(0),
            line: 7,
            col: 3,
            exact: true,
            removed: Vec::new(),
        }
    }

    /// A token with its text, as the tree copies it.
    struct Word {
        text: String,
        span: Span,
        quoted: bool,
    }

    fn lex(text: &str) -> (Vec<Word>, Diagnostics) {
        let mut d = Diagnostics::new();
        let mut out = Vec::new();
        lex_line(&line(text), 0, &mut out, &mut d);
        let words = out
            .iter()
            .map(|t| Word {
                text: t.text(text).to_owned(),
                span: t.span,
                quoted: t.quoted,
            })
            .collect();
        (words, d)
    }

    fn kinds(text: &str) -> Vec<TokKind> {
        let mut out = Vec::new();
        lex_line(&line(text), 0, &mut out, &mut Diagnostics::new());
        out.iter().map(|t| t.kind).collect()
    }

    fn words(text: &str) -> Vec<(TokKind, String)> {
        kinds(text)
            .into_iter()
            .zip(lex(text).0)
            .map(|(k, t)| (k, t.text))
            .collect()
    }

    #[test]
    fn splits_words_on_all_whitespace() {
        let w = words("a\tb\x0bc\x0cd  e");
        let texts: Vec<_> = w.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["a", "b", "c", "d", "e", ""]);
        assert_eq!(w.last().map(|x| x.0), Some(TokKind::Eol));
    }

    #[test]
    fn quoted_words_keep_blanks_and_drop_quotes() {
        let (t, d) = lex(r#"notify "/bin/echo a b" x"#);
        assert!(d.items.is_empty());
        assert_eq!(t[1].text, "/bin/echo a b");
        assert!(t[1].quoted);
        assert_eq!(t[2].text, "x");
        assert!(!t[2].quoted);
    }

    #[test]
    fn backslash_quote_is_not_an_escape() {
        // keepalived -d shows `router_id "a \"b\" c"` as Router ID = `a \`.
        let w = words(r#"router_id "a \"b\" c""#);
        let texts: Vec<_> = w.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["router_id", "a \\", "b\\", " c", ""]);
    }

    #[test]
    fn unquoted_word_ends_at_quote() {
        let w = words(r#"a"b c"d"#);
        let texts: Vec<_> = w.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["a", "b c", "d", ""]);
    }

    #[test]
    fn braces_split_outside_quotes_only() {
        let w = words(r#"global_defs { router_id "x{y}" }"#);
        let kinds: Vec<_> = w.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [
                TokKind::Word,
                TokKind::Open,
                TokKind::Word,
                TokKind::Word,
                TokKind::Close,
                TokKind::Eol
            ]
        );
        assert_eq!(w[3].1, "x{y}");
        // A brace glued to a word still splits it.
        let w = words("a{b}c");
        let texts: Vec<_> = w.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["a", "{", "b", "}", "c", ""]);
    }

    #[test]
    fn unmatched_quote_is_reported() {
        let (t, d) = lex(r#"a "b c"#);
        assert_eq!(t[0].text, "a");
        assert_eq!(t.len(), 2);
        assert_eq!(d.items.len(), 1);
        assert_eq!(d.items[0].class, Some(KaClass::UnmatchedQuote));
        assert_eq!(d.items[0].message, "Unmatched quote: 'a \"b c'");
        // An unmatched quote hides later braces, as in keepalived.
        let w = words(r#"a "b { c"#);
        assert!(w.iter().all(|(k, _)| *k != TokKind::Open));
    }

    #[test]
    fn spans_are_columns_in_the_original_line() {
        // The line text starts at column 3 of the file line.
        let (t, _) = lex(r#"kw "q s" x{"#);
        assert_eq!((t[0].span.line, t[0].span.col), (7, 3));
        assert_eq!(t[0].span.len, 2);
        assert_eq!(t[1].span.col, 6);
        assert_eq!(t[1].span.len, 5);
        assert_eq!(t[2].span.col, 12);
        assert_eq!(kinds(r#"kw "q s" x{"#)[3], TokKind::Open);
        assert_eq!(t[3].span.col, 13);
    }

    #[test]
    fn removed_escapes_shift_columns() {
        let mut l = line("a#b c");
        l.removed = vec![1];
        let mut d = Diagnostics::new();
        let mut out = Vec::new();
        lex_line(&l, 0, &mut out, &mut d);
        assert_eq!(out[0].text("a#b c"), "a#b");
        assert_eq!(out[1].span.col, 3 + 5);
    }

    #[test]
    fn non_ascii_columns_count_characters() {
        let (t, _) = lex("é x");
        assert_eq!(t[1].span.col, 5);
    }
}
