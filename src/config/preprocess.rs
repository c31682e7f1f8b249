//! The preprocessor: reads the main file and its
//! includes, removes comments, applies `@id` conditions, `$NAME=` definitions and their
//! substitution, `~SEQ`/`~LST` generators, and yields logical lines with their origin.
//!
//! The order of the steps follows keepalived 2.2.7's `read_line()`: a raw line is
//! decommented; a line inside a multi-line definition is appended to it; otherwise the
//! line goes round a loop of `@id` check, `$NAME=` definition, `~SEQ`/`~LST`, and
//! parameter substitution (substituted text is decommented again), and a resulting
//! `include*` line opens files. Lines produced by generators and multi-line parameters
//! are taken before further file lines, most recently started first.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::diagnostic::{Diagnostic, Diagnostics, FileId, KaClass, Severity, SourceMap, Span};
use super::LoadOptions;

/// One logical line after preprocessing, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub file: FileId,
    /// 1-based line number in `file`.
    pub line: u32,
    /// 1-based column (in characters) of the original line where `text` starts.
    pub col: u32,
    /// True when `text` is the original line's text from `col` on, except for the escape
    /// backslashes listed in `removed`; false for text produced by substitution or
    /// generators (token positions then point at `col`).
    pub exact: bool,
    /// Byte offsets in `text` before which one escaping `\` was removed (`\#`, `\!`).
    pub removed: Vec<u32>,
}

impl Line {
    /// The 1-based column in the original line of the character at byte `off` of `text`.
    pub fn col_of(&self, off: usize) -> u32 {
        if !self.exact {
            return self.col;
        }
        let prefix = self.text.get(..off).unwrap_or(&self.text);
        let chars = if prefix.is_ascii() {
            prefix.len()
        } else {
            prefix.chars().count()
        } as u32;
        let shifted = self.removed.iter().filter(|&&r| (r as usize) < off).count() as u32;
        self.col + chars + shifted
    }
}

/// keepalived's line buffer size (`MAXBUF`): a substitution may not make a line longer.
const MAX_LINE: usize = 1024;
/// Include nesting limit: keepalived has none and loops until it runs out of files.
const MAX_INCLUDE_DEPTH: usize = 32;
/// Upper bound on lines produced (generators can multiply lines without end).
const MAX_OUTPUT_LINES: usize = 500_000;
/// Upper bound on the text produced: half a million generated lines of a full line
/// buffer each would otherwise take gigabytes once split into words. Five times the
/// largest configuration we know of in the field (37,000 real servers, about 3 MiB) fits.
const MAX_OUTPUT_BYTES: usize = 16 << 20;
/// Upper bound on substitutions in one line (`$A=$A` would never end).
const MAX_SUBSTITUTIONS: usize = 4096;
/// Generators (`~SEQ`, `~LST`, multi-line parameters) nested deeper than this are refused:
/// a parameter whose lines use itself would otherwise grow without bound.
const MAX_GEN_DEPTH: usize = 64;
/// Lines read or generated before preprocessing gives up (hostile nesting of `~SEQ`).
const MAX_PROCESSED_LINES: usize = 1_000_000;
/// Substitutions in the whole configuration before `$NAME` expansion stops: a parameter
/// that expands to itself would otherwise cost MAX_SUBSTITUTIONS on every generated line.
const MAX_TOTAL_SUBSTITUTIONS: usize = 500_000;

// include check bits (keepalived's INCLUDE_R/M/W/B),.
const INC_R: u8 = 1;
const INC_M: u8 = 2;
const INC_W: u8 = 4;
const INC_B: u8 = 8;
const INC_ALL: u8 = INC_R | INC_M | INC_W | INC_B;

/// Reads the main configuration file and everything it includes.
pub fn preprocess_file(
    path: &Path,
    opts: &LoadOptions,
    sources: &mut SourceMap,
    files: &mut Vec<PathBuf>,
    diags: &mut Diagnostics,
) -> Vec<Line> {
    // Unlike keepalived (which logs and exits 0), an unreadable main file is an error.
    match std::fs::metadata(path) {
        Ok(md) => {
            if !is_regular_non_exec(&md) {
                diags.error(
                    KaClass::FileNotFound,
                    None,
                    format!(
                        "Configuration file '{}' is not a regular non-executable file - skipping",
                        path.display()
                    ),
                );
                return Vec::new();
            }
        }
        Err(e) => {
            diags.error(
                KaClass::FileNotFound,
                None,
                format!(
                    "Configuration file '{}' cannot be read: {}",
                    path.display(),
                    e
                ),
            );
            return Vec::new();
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            preprocess_str(&text, path, opts, sources, files, diags)
        }
        Err(e) => {
            diags.error(
                KaClass::FileNotFound,
                None,
                format!(
                    "Configuration file '{}' cannot be read: {}",
                    path.display(),
                    e
                ),
            );
            Vec::new()
        }
    }
}

/// Preprocesses `text` as the main file named `name` (used in diagnostics and to resolve
/// relative includes and `${_PWD}`).
pub fn preprocess_str(
    text: &str,
    name: &Path,
    opts: &LoadOptions,
    sources: &mut SourceMap,
    files: &mut Vec<PathBuf>,
    diags: &mut Diagnostics,
) -> Vec<Line> {
    let mut pp = Pre::new(opts, sources, files, diags);
    pp.push_file(name, text, pp.include_check);
    pp.run();
    pp.out
}

fn is_regular_non_exec(md: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    md.is_file() && md.permissions().mode() & 0o111 == 0
}

// ------------------------------------------------------------------------------------
// Comment removal
// ------------------------------------------------------------------------------------

/// A decommented line: the text, how many bytes of leading blanks were dropped, where
/// escape backslashes were removed, and whether a double quote was left open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decommented {
    pub text: String,
    pub lead: usize,
    pub removed: Vec<u32>,
    pub unterminated: bool,
}

/// keepalived's `decomment()`: drops leading blanks, an unquoted `#`/`!` and what follows,
/// the `\` of `\#`/`\!` outside quotes and trailing blanks; a final `\` is kept, glued to
/// the text before it (it is not a continuation).
pub fn decomment(line: &str) -> Decommented {
    let lead = line.len() - line.trim_start_matches([' ', '\t']).len();
    let src = &line.as_bytes()[lead..];
    // Most lines have nothing to remove but trailing blanks.
    if !src.iter().any(|c| matches!(c, b'"' | b'\\' | b'#' | b'!')) {
        let text = line.get(lead..).unwrap_or("").trim_end_matches([' ', '\t']);
        return Decommented {
            text: text.to_owned(),
            lead,
            removed: Vec::new(),
            unterminated: false,
        };
    }
    let mut out: Vec<u8> = Vec::with_capacity(src.len());
    let mut removed = Vec::new();
    let mut quote = false;
    let mut comment_at: Option<usize> = None;
    let mut cont = false;
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        match c {
            b'"' => {
                if comment_at.is_none() {
                    quote = !quote;
                }
                out.push(c);
                i += 1;
            }
            b'\\' => {
                match src.get(i + 1) {
                    Some(&n) => {
                        if !quote && (n == b'#' || n == b'!') {
                            removed.push(out.len() as u32);
                            out.push(n);
                        } else {
                            out.push(c);
                            out.push(n);
                        }
                        i += 2;
                    }
                    None => {
                        cont = true;
                        i += 1;
                    }
                }
                continue;
            }
            b'#' | b'!' => {
                if !quote && comment_at.is_none() {
                    comment_at = Some(out.len());
                }
                out.push(c);
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    if let Some(at) = comment_at {
        out.truncate(at);
    }
    while matches!(out.last(), Some(b' ' | b'\t')) {
        out.pop();
    }
    if cont {
        out.push(b'\\');
    }
    removed.retain(|&r| (r as usize) < out.len());
    Decommented {
        // Only ASCII bytes were removed or moved, so the text stays valid UTF-8.
        text: String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        lead,
        removed,
        unterminated: quote,
    }
}

// ------------------------------------------------------------------------------------
// Parameters
// ------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    Pwd,
    Instance,
    Random,
}

#[derive(Debug, Clone)]
struct Def {
    /// The value; a multi-line value has several lines.
    lines: Vec<String>,
    multiline: bool,
    builtin: Option<Builtin>,
}

fn is_name_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// A parameter reference found at a `$`: the name, the byte length of the reference
/// after the `$`, and `_RANDOM`-style numeric parameters.
struct Reference<'a> {
    name: &'a str,
    len: usize,
    params: Option<&'a str>,
    at_end: bool,
}

/// keepalived's `find_definition()` lexical part: `$NAME` followed by blank, `,`, `)` or
/// end of line, or `${NAME}` / `${NAME 1 2}` anywhere.
fn parse_reference(s: &str) -> Option<Reference<'_>> {
    let b = s.as_bytes();
    let braces = b.first() == Some(&b'{');
    let start = usize::from(braces);
    if !b.get(start).copied().is_some_and(is_name_start) {
        return None;
    }
    let mut p = start + 1;
    while b.get(p).copied().is_some_and(is_name_char) {
        p += 1;
    }
    let name = s.get(start..p)?;
    if braces {
        let mut pstart = None;
        let mut pend = p;
        while let Some(&c) = b.get(p) {
            if c == b' ' || c.is_ascii_digit() {
                if c != b' ' {
                    pstart.get_or_insert(p);
                    pend = p;
                }
                p += 1;
            } else {
                break;
            }
        }
        if pstart.is_some() && pend + 1 != p {
            return None;
        }
        if b.get(p) != Some(&b'}') {
            return None;
        }
        let params = pstart.and_then(|ps| s.get(ps..=pend));
        Some(Reference {
            name,
            len: p + 1,
            params,
            at_end: p + 1 == b.len(),
        })
    } else {
        match b.get(p) {
            None | Some(b' ' | b'\t' | b',' | b')') => Some(Reference {
                name,
                len: p,
                params: None,
                at_end: p == b.len(),
            }),
            _ => None,
        }
    }
}

/// C `strtol(s, &end, 0)`: leading blanks, sign, `0x` hex, leading-`0` octal. Returns the
/// value (saturated) and the bytes consumed (0 when there is no number).
fn strtol0(s: &str) -> (i64, usize) {
    let b = s.as_bytes();
    let mut i = 0;
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)) {
        i += 1;
    }
    let mut neg = false;
    if let Some(&c) = b.get(i) {
        if c == b'+' || c == b'-' {
            neg = c == b'-';
            i += 1;
        }
    }
    let (radix, mut j) = if b.get(i) == Some(&b'0')
        && matches!(b.get(i + 1), Some(b'x' | b'X'))
        && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, i + 2)
    } else if b.get(i) == Some(&b'0') {
        (8, i)
    } else {
        (10, i)
    };
    let digits_start = j;
    let mut v: i64 = 0;
    while let Some(d) = b.get(j).and_then(|&c| (c as char).to_digit(radix)) {
        v = v.saturating_mul(radix as i64).saturating_add(d as i64);
        j += 1;
    }
    if j == digits_start {
        return (0, 0);
    }
    (if neg { v.saturating_neg() } else { v }, j)
}

// ------------------------------------------------------------------------------------
// Generators and multi-line expansions
// ------------------------------------------------------------------------------------

#[derive(Debug)]
enum GenKind {
    Seq {
        var: String,
        next: i64,
        step: i64,
        last: i64,
        hex: bool,
    },
    Lst {
        vars: Vec<String>,
        sets: Vec<Vec<String>>,
        idx: usize,
    },
    Multi {
        lines: std::collections::VecDeque<String>,
    },
}

#[derive(Debug)]
struct Gen {
    kind: GenKind,
    text: String,
    file: FileId,
    line: u32,
}

// ------------------------------------------------------------------------------------
// The preprocessor state
// ------------------------------------------------------------------------------------

struct FileCtx {
    id: FileId,
    /// The file's text, shared with the raw lines handed out (no string per line).
    text: std::rc::Rc<str>,
    /// Byte offset of the next line; `None` once the last one was read.
    pos: Option<usize>,
    /// Lines read so far (the 1-based number of the last one).
    next: usize,
    dir: PathBuf,
    sav_include_check: u8,
}

struct Pre<'a> {
    opts: &'a LoadOptions,
    sources: &'a mut SourceMap,
    files: &'a mut Vec<PathBuf>,
    diags: &'a mut Diagnostics,
    out: Vec<Line>,
    stack: Vec<FileCtx>,
    gens: Vec<Gen>,
    defs: HashMap<String, Def>,
    include_check: u8,
    /// Name of the multi-line definition being read, if any.
    multiline_def: Option<String>,
    config_id: Option<String>,
    rng: u64,
    overflowed: bool,
    /// Bytes of text in `out` (see MAX_OUTPUT_BYTES).
    out_bytes: usize,
    /// The "nested too deep" error is given once.
    gen_depth_reported: bool,
    /// Substitutions done so far (see MAX_TOTAL_SUBSTITUTIONS).
    total_subst: usize,
    /// Set when a line's substitution had to be cut short (stops the re-check loop).
    subst_stuck: bool,
}

/// A raw line: a line of a file (its text and byte range), or generated text.
enum Raw {
    File(std::rc::Rc<str>, usize, usize),
    Gen(String),
}

/// Where the current raw line came from.
#[derive(Clone, Copy)]
struct Origin {
    file: FileId,
    line: u32,
    col: u32,
    exact: bool,
}

impl<'a> Pre<'a> {
    fn new(
        opts: &'a LoadOptions,
        sources: &'a mut SourceMap,
        files: &'a mut Vec<PathBuf>,
        diags: &'a mut Diagnostics,
    ) -> Self {
        let mut defs = HashMap::new();
        let builtin = |b: Option<Builtin>, v: &str| Def {
            lines: vec![v.to_owned()],
            multiline: false,
            builtin: b,
        };
        defs.insert("_PWD".to_owned(), builtin(Some(Builtin::Pwd), ""));
        defs.insert("_INSTANCE".to_owned(), builtin(Some(Builtin::Instance), ""));
        defs.insert("_RANDOM".to_owned(), builtin(Some(Builtin::Random), ""));
        defs.insert("_HASH".to_owned(), builtin(None, "#"));
        defs.insert("_BANG".to_owned(), builtin(None, "!"));
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9e37_79b9_7f4a_7c15);
        Pre {
            opts,
            sources,
            files,
            diags,
            out: Vec::new(),
            stack: Vec::new(),
            gens: Vec::new(),
            defs,
            include_check: if opts.all_config { INC_ALL } else { 0 },
            multiline_def: None,
            config_id: None,
            rng: seed | 1,
            overflowed: false,
            out_bytes: 0,
            gen_depth_reported: false,
            total_subst: 0,
            subst_stuck: false,
        }
    }

    fn push_file(&mut self, path: &Path, text: &str, sav: u8) {
        let id = self.sources.add(path, text);
        self.files.push(path.to_path_buf());
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        self.stack.push(FileCtx {
            id,
            text: std::rc::Rc::from(text),
            pos: Some(0),
            next: 0,
            dir,
            sav_include_check: sav,
        });
    }

    fn config_id(&mut self) -> String {
        if let Some(id) = &self.config_id {
            return id.clone();
        }
        let id = if self.opts.config_id.is_empty() {
            nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .map(|h| h.split('.').next().unwrap_or("").to_owned())
                .unwrap_or_default()
        } else {
            self.opts.config_id.clone()
        };
        self.config_id = Some(id.clone());
        id
    }

    fn current_dir(&self) -> PathBuf {
        self.stack
            .last()
            .map(|f| f.dir.clone())
            .unwrap_or_else(|| PathBuf::from("."))
    }

    fn error(&mut self, class: KaClass, o: Origin, msg: String) {
        self.diags
            .error(class, Some(Span::new(o.file, o.line, o.col, 1)), msg);
    }

    fn lint(&mut self, o: Origin, msg: String) {
        self.diags
            .lint(Some(Span::new(o.file, o.line, o.col, 1)), msg);
    }

    /// keepalived's `file_config_error()`: an include problem is an error only when the
    /// check is enabled (by the include variant, `include_check` or `-e`). keepalived then
    /// refuses the configuration and `-t` exits 6 (observed), which is the exit code our
    /// `SecurityError` class maps to.
    fn include_problem(&mut self, o: Origin, kind: u8, include_type: u8, msg: String) -> bool {
        if (self.include_check | include_type) & kind != 0 {
            self.diags.push(
                Diagnostic::new(Severity::Error, Some(KaClass::SecurityError), msg)
                    .at(Span::new(o.file, o.line, o.col, 1)),
            );
            true
        } else {
            self.lint(o, msg);
            false
        }
    }

    /// The next raw line: from the most recent generator, else from the current file.
    fn next_raw(&mut self) -> Option<(Raw, Origin)> {
        loop {
            if let Some(g) = self.gens.last_mut() {
                let o = Origin {
                    file: g.file,
                    line: g.line,
                    col: 1,
                    exact: false,
                };
                match &mut g.kind {
                    GenKind::Seq {
                        var,
                        next,
                        step,
                        last,
                        hex,
                    } => {
                        let val = if *hex {
                            format!("{:x}", *next as u64)
                        } else {
                            next.to_string()
                        };
                        let var = var.clone();
                        let text = g.text.clone();
                        let cur = *next;
                        let (n, over) = cur.overflowing_add(*step);
                        *next = n;
                        if over || (*step > 0 && n > *last) || (*step < 0 && n < *last) {
                            self.gens.pop();
                        }
                        self.set_def(&var, val);
                        return Some((Raw::Gen(text), o));
                    }
                    GenKind::Lst { vars, sets, idx } => {
                        let pairs: Vec<(String, String)> = match sets.get(*idx) {
                            Some(set) => vars
                                .iter()
                                .cloned()
                                .zip(set.iter().cloned().chain(std::iter::repeat(String::new())))
                                .collect(),
                            None => Vec::new(),
                        };
                        *idx += 1;
                        let done = *idx >= sets.len();
                        let text = g.text.clone();
                        if done {
                            self.gens.pop();
                        }
                        for (k, v) in pairs {
                            self.set_def(&k, v);
                        }
                        return Some((Raw::Gen(text), o));
                    }
                    GenKind::Multi { lines } => match lines.pop_front() {
                        Some(l) => {
                            if lines.is_empty() {
                                self.gens.pop();
                            }
                            return Some((Raw::Gen(l), o));
                        }
                        None => {
                            self.gens.pop();
                            continue;
                        }
                    },
                }
            }
            let f = self.stack.last_mut()?;
            match f.pos {
                Some(start) => {
                    // The file splits at every '\n' (a final one is followed by an empty
                    // line).
                    let rest = f.text.get(start..).unwrap_or("");
                    let (end, pos) = match rest.find('\n') {
                        Some(k) => (start + k, Some(start + k + 1)),
                        None => (f.text.len(), None),
                    };
                    f.pos = pos;
                    f.next += 1;
                    let o = Origin {
                        file: f.id,
                        line: f.next as u32,
                        col: 1,
                        exact: true,
                    };
                    return Some((Raw::File(f.text.clone(), start, end), o));
                }
                None => {
                    if let Some(done) = self.stack.pop() {
                        // include_check is restored when the file ends.
                        self.include_check = done.sav_include_check;
                    }
                }
            }
        }
    }

    fn set_def(&mut self, name: &str, value: String) {
        self.defs.insert(
            name.to_owned(),
            Def {
                lines: vec![value],
                multiline: false,
                builtin: None,
            },
        );
    }

    fn emit(&mut self, text: String, o: Origin, lead: usize, removed: Vec<u32>) {
        let too_big = if self.out.len() >= MAX_OUTPUT_LINES {
            Some(format!("more than {MAX_OUTPUT_LINES} lines"))
        } else if self.out_bytes + text.len() > MAX_OUTPUT_BYTES {
            Some(format!("more than {} MiB of text", MAX_OUTPUT_BYTES >> 20))
        } else {
            None
        };
        if let Some(what) = too_big {
            if !self.overflowed {
                self.overflowed = true;
                self.error(
                    KaClass::GeneralError,
                    o,
                    format!("Configuration produces {what} - truncated"),
                );
            }
            return;
        }
        self.out_bytes += text.len();
        // Lines changed by substitution point at their first non-blank character.
        let col = o.col + lead as u32;
        self.out.push(Line {
            text,
            file: o.file,
            line: o.line,
            col,
            exact: o.exact,
            removed,
        });
    }

    /// Starts a generator unless that nests too deep (reported once per attempt).
    fn push_gen(&mut self, g: Gen) {
        if self.gens.len() >= MAX_GEN_DEPTH {
            if std::mem::replace(&mut self.gen_depth_reported, true) {
                return;
            }
            let o = Origin {
                file: g.file,
                line: g.line,
                col: 1,
                exact: false,
            };
            self.error(
                KaClass::GeneralError,
                o,
                format!(
                    "~SEQ/~LST/parameter expansion nested deeper than {MAX_GEN_DEPTH} - ignoring"
                ),
            );
            return;
        }
        self.gens.push(g);
    }

    fn run(&mut self) {
        let mut processed = 0usize;
        while let Some((raw, o)) = self.next_raw() {
            if self.overflowed {
                break;
            }
            processed += 1;
            if processed > MAX_PROCESSED_LINES {
                self.error(
                    KaClass::GeneralError,
                    o,
                    format!(
                        "Configuration expands to more than {MAX_PROCESSED_LINES} lines - stopping"
                    ),
                );
                break;
            }
            let (mut buf, lead, mut removed, mut exact) = match raw {
                Raw::File(text, a, b) => {
                    let trimmed = text.get(a..b).unwrap_or("").trim_end_matches(['\n', '\r']);
                    if trimmed.is_empty() {
                        // A truly empty line ends a multi-line definition.
                        self.end_multiline_def();
                        continue;
                    }
                    let d = decomment(trimmed);
                    if d.unterminated {
                        self.error(
                            KaClass::UnmatchedQuote,
                            o,
                            format!("Unterminated quote '{}'", d.text),
                        );
                    }
                    // Leading blanks are counted in characters for the column.
                    let lead_chars = trimmed.get(..d.lead).map_or(0, |s| s.chars().count());
                    (d.text, lead_chars, d.removed, true)
                }
                Raw::Gen(raw) => (raw, 0, Vec::new(), false),
            };
            if buf.is_empty() {
                continue;
            }
            if self.multiline_def.is_some() {
                self.continue_multiline_def(&buf);
                continue;
            }
            let o = Origin { exact, ..o };
            // The @id / definition / generator / substitution loop of read_line().
            let mut skip = false;
            let mut o_lead = lead;
            loop {
                let mut recheck = false;
                if buf.starts_with('@') {
                    let (rev, ofs) = if buf.as_bytes().get(1) == Some(&b'^') {
                        (true, 2)
                    } else {
                        (false, 1)
                    };
                    let rest = buf.get(ofs..).unwrap_or("");
                    let Some(sp) = rest.find([' ', '\t']) else {
                        skip = true;
                        break;
                    };
                    let id = rest.get(..sp).unwrap_or("");
                    let matched = id == self.config_id();
                    if matched == rev {
                        skip = true;
                        break;
                    }
                    let after = rest.get(sp..).unwrap_or("");
                    let trimmed = after.trim_start_matches([' ', '\t']);
                    let cut = buf.len() - trimmed.len();
                    if exact {
                        o_lead += buf.get(..cut).map_or(0, |s| s.chars().count());
                        removed = removed
                            .iter()
                            .filter(|&&r| r as usize >= cut)
                            .map(|&r| r - cut as u32)
                            .collect();
                    }
                    buf = trimmed.to_owned();
                }
                if buf.starts_with('$') && self.check_definition(&buf) {
                    skip = true;
                    break;
                }
                if buf.starts_with("~SEQ") || buf.starts_with("~LST") {
                    let ok = if buf.as_bytes().get(1) == Some(&b'S') {
                        self.add_seq(&buf, o)
                    } else {
                        self.add_lst(&buf, o)
                    };
                    if !ok {
                        let what = if buf.as_bytes().get(1) == Some(&b'S') {
                            "~SEQ"
                        } else {
                            "~LST"
                        };
                        self.error(
                            KaClass::GeneralError,
                            o,
                            format!("Invalid {what} specification '{buf}'"),
                        );
                    }
                    skip = true;
                    break;
                }
                if buf.starts_with('~') {
                    break;
                }
                if buf.contains('$') {
                    match self.replace_params(&buf, o) {
                        Some(new) => {
                            let d = decomment(&new);
                            buf = d.text;
                            exact = false;
                            removed.clear();
                            if (buf.starts_with('@') || buf.contains('$'))
                                && !std::mem::take(&mut self.subst_stuck)
                            {
                                recheck = true;
                            }
                        }
                        None => break,
                    }
                }
                if !recheck {
                    break;
                }
            }
            if skip || buf.is_empty() {
                continue;
            }
            let o = Origin { exact, ..o };
            if self.check_include(&buf, o) {
                continue;
            }
            if first_word(&buf) == "include_check" {
                self.apply_include_check(&buf);
            }
            self.emit(buf, o, o_lead, removed);
        }
        if let Some(name) = self.multiline_def.take() {
            self.finish_multiline(&name);
        }
    }

    // --- definitions ---------------------------------------------------------------

    /// keepalived's `check_definition()`: `$NAME=VALUE` (no blanks before `=`).
    fn check_definition(&mut self, buf: &str) -> bool {
        let b = buf.as_bytes();
        if !b.get(1).copied().is_some_and(is_name_start) {
            return false;
        }
        let mut p = 2;
        while let Some(&c) = b.get(p) {
            if c == b'=' {
                break;
            }
            if !is_name_char(c) {
                return false;
            }
            p += 1;
        }
        if b.get(p) != Some(&b'=') {
            return false;
        }
        let name = buf.get(1..p).unwrap_or("").to_owned();
        let value = buf
            .get(p + 1..)
            .unwrap_or("")
            .trim_start_matches([' ', '\t']);
        let def = if let Some(v) = value.strip_suffix('\\') {
            let first = v.trim_end_matches([' ', '\t']);
            self.multiline_def = Some(name.clone());
            Def {
                lines: if first.is_empty() {
                    Vec::new()
                } else {
                    vec![first.to_owned()]
                },
                multiline: true,
                builtin: None,
            }
        } else {
            Def {
                lines: vec![value.to_owned()],
                multiline: false,
                builtin: None,
            }
        };
        self.defs.insert(name, def);
        true
    }

    fn continue_multiline_def(&mut self, buf: &str) {
        let Some(name) = self.multiline_def.clone() else {
            return;
        };
        let (text, more) = match buf.strip_suffix('\\') {
            Some(v) => (v.trim_end_matches([' ', '\t']), true),
            None => (buf, false),
        };
        if let Some(def) = self.defs.get_mut(&name) {
            // Blank lines inside the definition are dropped.
            if !text.is_empty() {
                def.lines.push(text.to_owned());
            }
        }
        if !more {
            self.multiline_def = None;
            self.finish_multiline(&name);
        }
    }

    fn end_multiline_def(&mut self) {
        if let Some(name) = self.multiline_def.take() {
            self.finish_multiline(&name);
        }
    }

    fn finish_multiline(&mut self, name: &str) {
        if let Some(def) = self.defs.get_mut(name) {
            if def.lines.is_empty() {
                def.multiline = false;
                def.lines.push(String::new());
            }
        }
    }

    fn builtin_value(&mut self, b: Builtin, params: Option<&str>) -> String {
        match b {
            Builtin::Pwd => {
                let d = self.current_dir();
                let abs = if d.is_absolute() {
                    d
                } else {
                    std::env::current_dir().map(|c| c.join(&d)).unwrap_or(d)
                };
                let abs = abs.canonicalize().unwrap_or(abs);
                abs.display().to_string()
            }
            Builtin::Instance => self.config_id(),
            Builtin::Random => {
                let mut min: u64 = 0;
                let mut max: u64 = 32767;
                if let Some(p) = params {
                    let mut it = p.split(' ').filter(|s| !s.is_empty());
                    if let Some(a) = it.next() {
                        min = a.parse().unwrap_or(0);
                    }
                    if let Some(b) = it.next() {
                        max = b.parse().unwrap_or(32767);
                    }
                }
                if max < min {
                    std::mem::swap(&mut min, &mut max);
                }
                // xorshift64: any PRNG will do (keepalived uses random()).
                self.rng ^= self.rng << 13;
                self.rng ^= self.rng >> 7;
                self.rng ^= self.rng << 17;
                let span = max - min;
                let v = if span == u64::MAX {
                    self.rng
                } else {
                    min + self.rng % (span + 1)
                };
                v.to_string()
            }
        }
    }

    /// keepalived's `replace_param()`: substitutes every known reference, re-scanning the
    /// substituted text (so values may refer to other parameters). Returns None when
    /// nothing was substituted.
    fn replace_params(&mut self, buf: &str, o: Origin) -> Option<String> {
        let mut s = buf.to_owned();
        let mut pos = 0;
        let mut found = false;
        let mut count = 0;
        while let Some(rel) = s.get(pos..).and_then(|t| t.find('$')) {
            let at = pos + rel;
            let after = s.get(at + 1..).unwrap_or("");
            if after.is_empty() {
                break;
            }
            let Some(r) = parse_reference(after) else {
                pos = at + 1;
                continue;
            };
            let Some(def) = self.defs.get(r.name) else {
                pos = at + 1;
                continue;
            };
            if def.multiline && !r.at_end {
                pos = at + 1;
                continue;
            }
            if r.params.is_some() && def.builtin != Some(Builtin::Random) {
                pos = at + 1;
                continue;
            }
            count += 1;
            self.total_subst += 1;
            if self.total_subst > MAX_TOTAL_SUBSTITUTIONS {
                if self.total_subst == MAX_TOTAL_SUBSTITUTIONS + 1 {
                    self.error(
                        KaClass::GeneralError,
                        o,
                        format!(
                            "More than {MAX_TOTAL_SUBSTITUTIONS} parameter substitutions - no more are done"
                        ),
                    );
                }
                self.subst_stuck = true;
                return found.then_some(s);
            }
            if count > MAX_SUBSTITUTIONS {
                self.lint(
                    o,
                    format!("Parameter substitution on line '{buf}' does not terminate - stopped"),
                );
                self.subst_stuck = true;
                return found.then_some(s);
            }
            let (value, rest) = match def.builtin {
                Some(b) => {
                    let params = r.params.map(str::to_owned);
                    (self.builtin_value(b, params.as_deref()), Vec::new())
                }
                None => {
                    let mut it = def.lines.iter();
                    let first = it.next().cloned().unwrap_or_default();
                    let rest: Vec<String> = if def.multiline {
                        it.cloned().collect()
                    } else {
                        Vec::new()
                    };
                    (first, rest)
                }
            };
            let new_len = s.len() - (r.len + 1) + value.len();
            if new_len >= MAX_LINE {
                self.lint(
                    o,
                    format!(
                        "Parameter substitution on line '{s}' would exceed maximum line length"
                    ),
                );
                return found.then_some(s);
            }
            found = true;
            let tail = s.get(at + 1 + r.len..).unwrap_or("").to_owned();
            s.truncate(at);
            s.push_str(&value);
            s.push_str(&tail);
            if !rest.is_empty() {
                self.push_gen(Gen {
                    kind: GenKind::Multi {
                        lines: rest.into_iter().collect(),
                    },
                    text: String::new(),
                    file: o.file,
                    line: o.line,
                });
            }
            if value.trim_start_matches([' ', '\t']).starts_with('~') {
                break;
            }
        }
        found.then_some(s)
    }

    // --- ~SEQ / ~LST -----------------------------------------------------------------

    fn add_seq(&mut self, buf: &str, o: Origin) -> bool {
        let b = buf.as_bytes();
        let mut p = 4;
        let hex = b.get(p) == Some(&b'x');
        if hex {
            p += 1;
        }
        p += span_blank(&b[p.min(b.len())..]);
        if b.get(p) != Some(&b'(') {
            return false;
        }
        p += 1;
        p += span_blank(&b[p.min(b.len())..]);
        let var_start = p;
        while let Some(&c) = b.get(p) {
            if matches!(c, b' ' | b'\t' | b',' | b')') {
                break;
            }
            p += 1;
        }
        let var = buf.get(var_start..p).unwrap_or("").to_owned();
        p += span_blank(&b[p.min(b.len())..]);
        if p >= b.len() || b.get(p) == Some(&b')') || var.is_empty() {
            self.error(
                KaClass::GeneralError,
                o,
                format!("Invalid ~SEQ definition '{buf}'"),
            );
            return false;
        }
        p += 1;
        p += span_blank(&b[p.min(b.len())..]);
        let Some(end_rel) = buf.get(p..).and_then(|t| t.find(')')) else {
            self.error(
                KaClass::GeneralError,
                o,
                format!("Invalid ~SEQ definition '{buf}'"),
            );
            return false;
        };
        let end_seq = p + end_rel;
        // seq_buf holds 3 numbers with separators (64 bytes).
        if end_seq + 1 - p + 1 > 64 {
            self.error(
                KaClass::GeneralError,
                o,
                format!("~SEQ parameter strings too long '{buf}'"),
            );
            return false;
        }
        let params_raw = buf.get(p..=end_seq).unwrap_or(")").to_owned();
        let gens_before = self.gens.len();
        let params = self.replace_params(&params_raw, o).unwrap_or(params_raw);
        if self.gens.len() > gens_before {
            self.gens.truncate(gens_before);
            self.error(
                KaClass::GeneralError,
                o,
                format!("~SEQ parameter is multiline definition '{buf}'"),
            );
            return false;
        }
        let invalid_def = |me: &mut Self| {
            me.error(
                KaClass::GeneralError,
                o,
                format!("Invalid ~SEQ definition '{buf}'"),
            );
            false
        };
        let (one, n) = strtol0(&params);
        let mut q = n;
        let pb = params.as_bytes();
        q += span_blank(&pb[q.min(pb.len())..]);
        let (start, step, end);
        if pb.get(q) == Some(&b')') {
            end = one;
            step = if end < 1 { -1 } else { 1 };
            start = if end < 0 { -1 } else { 1 };
        } else {
            if pb.get(q) != Some(&b',') {
                return invalid_def(self);
            }
            let (two, n2) = strtol0(params.get(q + 1..).unwrap_or(""));
            q += 1 + n2;
            q += span_blank(&pb[q.min(pb.len())..]);
            if pb.get(q) == Some(&b')') {
                start = one;
                end = two;
                step = if start <= end { 1 } else { -1 };
            } else {
                if pb.get(q) != Some(&b',') {
                    return invalid_def(self);
                }
                let (three, n3) = strtol0(params.get(q + 1..).unwrap_or(""));
                q += 1 + n3;
                q += span_blank(&pb[q.min(pb.len())..]);
                if pb.get(q) != Some(&b')') {
                    return invalid_def(self);
                }
                start = one;
                step = two;
                end = three;
                if step == 0 || (start < end && step < 0) || (start > end && step > 0) {
                    self.error(
                        KaClass::GeneralError,
                        o,
                        format!("Invalid ~SEQ values '{buf}'"),
                    );
                    return false;
                }
            }
        }
        if hex && (start < 0 || end < 0) {
            self.error(
                KaClass::GeneralError,
                o,
                format!("~SEQx is only valid for positive numbers '{buf}'"),
            );
            return false;
        }
        let mut t = end_seq + 1;
        t += span_blank(&b[t.min(b.len())..]);
        let text = buf.get(t..).unwrap_or("").to_owned();
        self.push_gen(Gen {
            kind: GenKind::Seq {
                var,
                next: start,
                step,
                last: end,
                hex,
            },
            text,
            file: o.file,
            line: o.line,
        });
        true
    }

    fn add_lst(&mut self, buf: &str, o: Origin) -> bool {
        let b = buf.as_bytes();
        let mut p = 4;
        let blank = |p: &mut usize| *p += span_blank(&b[(*p).min(b.len())..]);
        blank(&mut p);
        if b.get(p) != Some(&b'(') {
            return false;
        }
        p += 1;
        blank(&mut p);
        let mut end_char = b',';
        if b.get(p) == Some(&b'{') {
            end_char = b'}';
            p += 1;
            blank(&mut p);
        }
        let mut vars = Vec::new();
        loop {
            let s = p;
            while let Some(&c) = b.get(p) {
                if matches!(c, b' ' | b'\t' | b',' | b'}') {
                    break;
                }
                p += 1;
            }
            vars.push(buf.get(s..p).unwrap_or("").to_owned());
            blank(&mut p);
            if b.get(p) == Some(&end_char) {
                break;
            }
            if b.get(p) != Some(&b',') {
                return false;
            }
            p += 1;
            blank(&mut p);
        }
        if b.get(p) == Some(&b'}') {
            p += 1;
            blank(&mut p);
        }
        if b.get(p) != Some(&b',') {
            return false;
        }
        p += 1;
        blank(&mut p);
        let num_vars = vars.len() - 1;
        let mut sets = Vec::new();
        loop {
            let mut end_char = b',';
            if b.get(p) == Some(&b'{') {
                end_char = b'}';
                p += 1;
                blank(&mut p);
            }
            let mut values = Vec::new();
            let mut num_values = 0;
            loop {
                let s = p;
                while let Some(&c) = b.get(p) {
                    if matches!(c, b' ' | b'\t' | b',' | b'}' | b')') {
                        break;
                    }
                    p += 1;
                }
                values.push(buf.get(s..p).unwrap_or("").to_owned());
                blank(&mut p);
                let c = b.get(p).copied();
                if c == Some(end_char) || (c == Some(b')') && end_char == b',') {
                    break;
                }
                if c != Some(b',') {
                    return false;
                }
                p += 1;
                blank(&mut p);
                num_values += 1;
                if num_values > num_vars {
                    self.error(
                        KaClass::GeneralError,
                        o,
                        format!("~LST specification has too many values '{buf}'"),
                    );
                    return false;
                }
            }
            // Missing values are blank.
            values.resize(vars.len(), String::new());
            sets.push(values);
            if b.get(p) == Some(&b'}') && end_char == b'}' {
                p += 1;
                blank(&mut p);
            }
            if b.get(p) == Some(&b')') {
                break;
            }
            if b.get(p) != Some(&b',') {
                return false;
            }
            p += 1;
            blank(&mut p);
        }
        p += 1;
        blank(&mut p);
        let text = buf.get(p.min(buf.len())..).unwrap_or("").to_owned();
        self.push_gen(Gen {
            kind: GenKind::Lst { vars, sets, idx: 0 },
            text,
            file: o.file,
            line: o.line,
        });
        true
    }

    // --- include ---------------------------------------------------------------------

    fn apply_include_check(&mut self, buf: &str) {
        let words: Vec<&str> = buf.split_ascii_whitespace().skip(1).collect();
        if words.is_empty() {
            self.include_check = INC_ALL;
            return;
        }
        for w in words {
            let (neg, name) = match w.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, w.strip_prefix('+').unwrap_or(w)),
            };
            let bit = match name {
                "read" => INC_R,
                "match" => INC_M,
                "wildcard_match" => INC_W,
                "brace_match" => INC_B,
                _ => continue,
            };
            if neg {
                self.include_check &= !bit;
            } else {
                self.include_check |= bit;
            }
        }
    }

    /// keepalived's `is_include()`/`check_include()`.
    fn check_include(&mut self, buf: &str, o: Origin) -> bool {
        let b = buf.as_bytes();
        if !buf.starts_with("include") || b.len() <= 7 {
            return false;
        }
        let (include_type, rest) = if b[7].is_ascii_whitespace() {
            (0, buf.get(8..).unwrap_or(""))
        } else if b.get(8).is_some_and(u8::is_ascii_whitespace) && b"rmwba".contains(&b[7]) {
            let t = match b[7] {
                b'r' => INC_R,
                b'a' => INC_ALL,
                b'w' => INC_R | INC_M | INC_W,
                b'm' => INC_R | INC_M,
                _ => INC_R | INC_B,
            };
            (t, buf.get(9..).unwrap_or(""))
        } else {
            return false;
        };
        let pattern = rest.trim_start_matches([' ', '\t']).to_owned();
        self.open_glob(&pattern, include_type, o);
        true
    }

    fn open_glob(&mut self, pattern: &str, include_type: u8, o: Origin) {
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.lint(
                o,
                format!(
                    "include nesting deeper than {MAX_INCLUDE_DEPTH} files (include loop?) - skipping '{pattern}'"
                ),
            );
            return;
        }
        let base = self.current_dir();
        let g = glob_with_braces(pattern, &base);
        if g.paths.is_empty() {
            if g.missing {
                let kind = if has_brace(pattern) { INC_B } else { INC_M };
                self.include_problem(
                    o,
                    kind,
                    include_type,
                    format!("Config files missing '{pattern}'."),
                );
            } else if g.wildcards && (self.include_check | include_type) & INC_W != 0 {
                self.include_problem(
                    o,
                    INC_W,
                    include_type,
                    format!("No config files matched '{pattern}'."),
                );
            }
            return;
        }
        if g.missing {
            let fatal = self.include_problem(
                o,
                INC_B,
                include_type,
                format!("Some config files missing: \"{pattern}\"."),
            );
            if fatal {
                return;
            }
        }
        let sav = self.include_check;
        // Files are read in glob order: push them in reverse so the first is on top.
        let mut to_push = Vec::new();
        for (path, shown) in g.paths {
            if shown.ends_with('/') {
                self.include_problem(
                    o,
                    INC_R,
                    include_type,
                    format!("Configuration file '{shown}' is a directory - skipping"),
                );
                continue;
            }
            match std::fs::metadata(&path) {
                Ok(md) if is_regular_non_exec(&md) => {}
                _ => {
                    self.include_problem(
                        o,
                        INC_R,
                        include_type,
                        format!(
                            "Configuration file '{shown}' is not a regular non-executable file - skipping"
                        ),
                    );
                    continue;
                }
            }
            match std::fs::read(&path) {
                Ok(bytes) => to_push.push((path, String::from_utf8_lossy(&bytes).into_owned())),
                Err(e) => {
                    self.include_problem(
                        o,
                        INC_R,
                        include_type,
                        format!("Configuration file '{shown}' open problem ({e}) - skipping"),
                    );
                }
            }
        }
        for (path, text) in to_push.into_iter().rev() {
            self.push_file(&path, &text, sav);
        }
    }
}

fn span_blank(b: &[u8]) -> usize {
    b.iter().take_while(|&&c| c == b' ' || c == b'\t').count()
}

fn first_word(s: &str) -> &str {
    s.split_ascii_whitespace().next().unwrap_or("")
}

fn has_brace(p: &str) -> bool {
    let b = p.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 1;
        } else if b[i] == b'{' {
            return true;
        }
        i += 1;
    }
    false
}

/// Expands `{a,b}` alternatives (GLOB_BRACE), outermost first, left to right.
pub fn expand_braces(p: &str) -> Vec<String> {
    let b = p.as_bytes();
    // Find the first top-level '{' with a matching '}' and a ',' or not.
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'{' {
            let mut depth = 0;
            let mut j = i;
            let mut commas = vec![];
            while j < b.len() {
                match b[j] {
                    b'\\' => {
                        j += 1;
                    }
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => commas.push(j),
                    _ => {}
                }
                j += 1;
            }
            if j >= b.len() {
                // No closing brace: taken literally.
                return vec![p.to_owned()];
            }
            let pre = &p[..i];
            let post = &p[j + 1..];
            let mut alts = Vec::new();
            let mut s = i + 1;
            for c in commas.iter().copied().chain(std::iter::once(j)) {
                alts.push(&p[s..c]);
                s = c + 1;
            }
            let mut out = Vec::new();
            for a in alts {
                for e in expand_braces(&format!("{pre}{a}{post}")) {
                    out.push(e);
                }
                if out.len() > 4096 {
                    break;
                }
            }
            return out;
        }
        i += 1;
    }
    vec![p.to_owned()]
}

struct GlobResult {
    /// (path to open, path as keepalived shows it)
    paths: Vec<(PathBuf, String)>,
    /// A literal path or a directory to search did not exist (GLOB_ALTDIRFUNC counts).
    missing: bool,
    wildcards: bool,
}

fn glob_with_braces(pattern: &str, base: &Path) -> GlobResult {
    let mut res = GlobResult {
        paths: Vec::new(),
        missing: false,
        wildcards: false,
    };
    for alt in expand_braces(pattern) {
        let full = if Path::new(&alt).is_absolute() {
            PathBuf::from(&alt)
        } else {
            base.join(&alt)
        };
        let full_s = full.to_string_lossy().into_owned();
        let wild = alt.contains(['*', '?', '[']);
        if !wild {
            match std::fs::symlink_metadata(&full) {
                Ok(md) => {
                    let shown = if md.is_dir() {
                        format!("{alt}/")
                    } else {
                        alt.clone()
                    };
                    res.paths.push((full, shown));
                }
                Err(_) => res.missing = true,
            }
            continue;
        }
        res.wildcards = true;
        // A missing directory before the first wildcard component counts as missing.
        let fixed: PathBuf = full
            .components()
            .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
            .collect();
        if !fixed.as_os_str().is_empty() && !fixed.is_dir() {
            res.missing = true;
            continue;
        }
        let opts = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: true,
        };
        let Ok(paths) = glob::glob_with(&full_s, opts) else {
            continue;
        };
        let base_s = base.to_string_lossy().into_owned();
        for p in paths.flatten() {
            let mut shown = if Path::new(&alt).is_absolute() {
                p.to_string_lossy().into_owned()
            } else {
                p.strip_prefix(&base_s)
                    .map(|r| r.to_string_lossy().into_owned())
                    .unwrap_or_else(|_| p.to_string_lossy().into_owned())
            };
            if p.is_dir() {
                shown.push('/');
            }
            res.paths.push((p, shown));
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn opts(id: &str) -> LoadOptions {
        LoadOptions {
            config_id: id.to_owned(),
            ..LoadOptions::default()
        }
    }

    fn run_at(text: &str, name: &Path, o: &LoadOptions) -> (Vec<Line>, Diagnostics, Vec<PathBuf>) {
        let mut sm = SourceMap::new();
        let mut files = Vec::new();
        let mut d = Diagnostics::new();
        let lines = preprocess_str(text, name, o, &mut sm, &mut files, &mut d);
        (lines, d, files)
    }

    fn run(text: &str) -> (Vec<String>, Diagnostics) {
        let (l, d, _) = run_at(text, Path::new("/nonexistent-dir/k.conf"), &opts("node1"));
        (l.into_iter().map(|l| l.text).collect(), d)
    }

    fn texts(text: &str) -> Vec<String> {
        let (t, d) = run(text);
        assert!(d.items.is_empty(), "unexpected diagnostics: {:?}", d.items);
        t
    }

    #[test]
    fn decomment_rules() {
        assert_eq!(decomment("  \tab c  # x").text, "ab c");
        assert_eq!(decomment("a ! b").text, "a");
        assert_eq!(decomment(r"a\#b \!c").text, "a#b !c");
        assert_eq!(decomment(r#"x "a # b" # c"#).text, r#"x "a # b""#);
        // Single quotes do not protect.
        assert_eq!(decomment("x 'a # b'").text, "x 'a");
        // Inside double quotes, \# is kept as is.
        assert_eq!(decomment(r#""a\#b""#).text, r#""a\#b""#);
        // A final backslash stays glued to the last word.
        assert_eq!(
            decomment("virtual_router_id \\").text,
            "virtual_router_id\\"
        );
        assert_eq!(decomment("foo # comment \\").text, "foo\\");
        let d = decomment(r#"a "b c"#);
        assert!(d.unterminated);
        let d = decomment(r"  a\#b");
        assert_eq!((d.lead, d.removed.clone()), (2, vec![1]));
    }

    #[test]
    fn lines_keep_numbers_and_columns() {
        let (lines, d, _) = run_at(
            "a\r\n\n  # only comment\n\t  b c \r\n",
            Path::new("k.conf"),
            &opts("x"),
        );
        assert!(d.items.is_empty());
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].text.as_str(), lines[0].line, lines[0].col),
            ("a", 1, 1)
        );
        assert_eq!(
            (lines[1].text.as_str(), lines[1].line, lines[1].col),
            ("b c", 4, 4)
        );
        assert_eq!(lines[1].col_of(2), 6);
        let l = Line {
            removed: vec![1],
            ..lines[1].clone()
        };
        assert_eq!((l.col_of(1), l.col_of(2)), (5, 7));
    }

    #[test]
    fn unterminated_quote_is_reported() {
        let (t, d) = run("router_id \"abc\n");
        assert_eq!(t, ["router_id \"abc"]);
        assert_eq!(d.items.len(), 1);
        assert_eq!(d.items[0].class, Some(KaClass::UnmatchedQuote));
        assert_eq!(d.items[0].message, "Unterminated quote 'router_id \"abc'");
        assert_eq!(d.items[0].span.map(|s| s.line), Some(1));
    }

    #[test]
    fn definitions_and_substitution() {
        let t = texts(
            "$A=1\n$B= x $A\nv $A ${A}2 $A, ($A) $Ab $B\n$A=9\nw $B\n$NOPE=\nu $UNDEF ${UNDEF} $NOPE.\n",
        );
        assert_eq!(t[0], "v 1 12 1, (1) $Ab x 1");
        // Substitution happens at use time: later redefinitions take effect.
        assert_eq!(t[1], "w x 9");
        assert_eq!(t[2], "u $UNDEF ${UNDEF} $NOPE.");
        // Blanks before '=' make it an ordinary line.
        assert_eq!(texts("$A =1\n"), ["$A =1"]);
    }

    #[test]
    fn substituted_text_is_decommented_again() {
        assert_eq!(texts("$C=a # b\nx $C y\n"), ["x a y"]);
        assert_eq!(texts("$C=a \\# b\nx $C y\n"), ["x a"]);
        assert_eq!(texts("x \"${_HASH}\" ${_BANG} z\n"), ["x \"#\""]);
    }

    #[test]
    fn self_reference_terminates() {
        let (t, d) = run("$A=$A\nx $A\n");
        assert_eq!(t, ["x $A"]);
        assert!(d.items.iter().all(|d| d.class.is_none()));
    }

    #[test]
    fn multiline_definition() {
        let t = texts("$M=l1 a \\\n  l2 \\\n\\\n  l3\nstart\n$M\nend\n");
        assert_eq!(t, ["start", "l1 a", "l2", "l3", "end"]);
        // Only expanded as the last thing on a line.
        assert_eq!(texts("$M=a\\\nb\nx $M y\n"), ["x $M y"]);
        // An empty line ends the definition.
        assert_eq!(texts("$M=a\\\n\nb\n$M\n"), ["b", "a"]);
    }

    #[test]
    fn builtins() {
        assert_eq!(texts("id ${_INSTANCE}\n"), ["id node1"]);
        for _ in 0..50 {
            let t = texts("r ${_RANDOM 5 7}\n");
            let v: u32 = t[0].trim_start_matches("r ").parse().unwrap_or(0);
            assert!((5..=7).contains(&v), "{v}");
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (l, _, _) = run_at("p ${_PWD}\n", &dir.path().join("k.conf"), &opts("x"));
        let canon = dir.path().canonicalize().unwrap_or_default();
        assert_eq!(l[0].text, format!("p {}", canon.display()));
        assert!(!l[0].exact);
    }

    #[test]
    fn conditional_lines() {
        let t =
            texts("@node1 a 1\n@node2 b 2\n@^node2 c 3\n@^node1 d 4\n@node1\n@node1 $P=7\ne $P\n");
        assert_eq!(t, ["a 1", "c 3", "e 7"]);
        let (l, _, _) = run_at("@node1  kw x\n", Path::new("k"), &opts("node1"));
        assert_eq!((l[0].text.as_str(), l[0].col), ("kw x", 9));
    }

    #[test]
    fn generated_text_is_bounded() {
        // 3^12 lines of 800 bytes: gigabytes once lexed, unless cut short here.
        let text = format!("{}{}\n", "~SEQ(i,3) ".repeat(12), vec!["a"; 400].join(" "));
        let (lines, diags) = run(&text);
        assert!(lines.iter().map(String::len).sum::<usize>() <= MAX_OUTPUT_BYTES);
        assert!(!lines.is_empty());
        assert!(
            diags
                .items
                .iter()
                .any(|d| d.message.contains("produces more than 16 MiB of text")),
            "{diags:?}"
        );
    }

    #[test]
    fn references_need_a_terminator() {
        // `$i.` is not a reference (keepalived accepts blank, `,`, `)` or end after it).
        assert_eq!(texts("$i=1\nv $i.x $i-y ${i}.z\n"), ["v $i.x $i-y 1.z"]);
    }

    #[test]
    fn sequences() {
        assert_eq!(texts("~SEQ(i, 3) a$i\n"), ["a1", "a2", "a3"]);
        assert_eq!(texts("~SEQ(i, -2) a$i\n"), ["a-1", "a-2"]);
        assert_eq!(texts("~SEQ(i,5,3) a$i\n"), ["a5", "a4", "a3"]);
        assert_eq!(texts("~SEQ(i, 0, 5, 12) a$i\n"), ["a0", "a5", "a10"]);
        assert_eq!(texts("~SEQx(i, 9, 3, 16) a$i\n"), ["a9", "ac", "af"]);
        assert_eq!(texts("$N=2\n~SEQ(i, $N) a$i\n"), ["a1", "a2"]);
        assert_eq!(
            texts("~SEQ(i, 2) ~SEQ(j, 2) v ${i}.$j\n"),
            ["v 1.1", "v 1.2", "v 2.1", "v 2.2"]
        );
        let (t, d) = run("~SEQ(i, 1, -1, 5) a$i\n");
        assert!(t.is_empty());
        assert!(d.items.iter().any(
            |d| d.message == "Invalid ~SEQ values '~SEQ(i, 1, -1, 5) a$i'"
                && d.class == Some(KaClass::GeneralError)
        ));
        let (_, d) = run("~SEQx(i, -3) a$i\n");
        assert!(d
            .items
            .iter()
            .any(|d| d.message.starts_with("~SEQx is only valid")));
        let (_, d) = run("~SEQ(i, 0, 0, 5) a$i\n~SEQ(i) x\n~SEQ(i, 1\n");
        assert_eq!(
            d.items
                .iter()
                .filter(|d| d.class == Some(KaClass::GeneralError))
                .count(),
            6
        );
    }

    #[test]
    fn lists() {
        assert_eq!(texts("~LST(v, a, b, c) x $v\n"), ["x a", "x b", "x c"]);
        assert_eq!(
            texts("~LST({a,b}, {1,2}, {3}, {5,6}) ${a}-${b}.\n"),
            ["1-2.", "3-.", "5-6."]
        );
        assert_eq!(
            texts("~SEQ(i, 2) ~LST(v, x, y) ${i}$v\n"),
            ["1x", "1y", "2x", "2y"]
        );
        let (_, d) = run("~LST({a}, {1,2}) x\n");
        assert!(d
            .items
            .iter()
            .any(|d| d.message.starts_with("~LST specification has too many")));
    }

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        let mut f = std::fs::File::create(&p).unwrap_or_else(|e| panic!("{e}"));
        f.write_all(text.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        p
    }

    #[test]
    fn include_relative_glob_and_braces() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir(dir.path().join("sub")).unwrap_or_else(|e| panic!("{e}"));
        write(
            &dir.path().join("sub"),
            "b.conf",
            "from_b\ninclude ../c.conf\n",
        );
        write(&dir.path().join("sub"), "a.conf", "from_a\n");
        write(dir.path(), "c.conf", "from_c\n");
        write(dir.path(), "x.inc", "from_x\n");
        write(dir.path(), "y.inc", "from_y\n");
        let main = write(
            dir.path(),
            "k.conf",
            "first\ninclude sub/*.conf\nincludem {x,y}.inc\nlast\n",
        );
        let mut sm = SourceMap::new();
        let mut files = Vec::new();
        let mut d = Diagnostics::new();
        let lines = preprocess_file(&main, &opts("x"), &mut sm, &mut files, &mut d);
        assert!(d.items.is_empty(), "{:?}", d.items);
        let t: Vec<_> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            t,
            ["first", "from_a", "from_b", "from_c", "from_x", "from_y", "last"]
        );
        assert_eq!(files.len(), 6);
        assert_eq!(sm.len(), 6);
        // Lines keep their own file and line number.
        assert_eq!(lines[3].line, 1);
        assert_eq!(
            sm.path(lines[3].file),
            Some(dir.path().join("sub/../c.conf").as_path())
        );
        assert_eq!(lines[6].line, 4);
    }

    #[test]
    fn include_problems() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let name = dir.path().join("k.conf");
        // Plain include of a missing file: only a message, the verdict stays 0.
        let (_, d, _) = run_at("include nothere.conf\n", &name, &opts("x"));
        assert_eq!(d.items.len(), 1);
        assert_eq!(d.items[0].message, "Config files missing 'nothere.conf'.");
        assert_eq!(d.config_test_exit_code(), 0);
        // A wildcard that matches nothing is silent unless checked.
        let (_, d, _) = run_at("include none*.conf\n", &name, &opts("x"));
        assert!(d.items.is_empty());
        let (_, d, _) = run_at("includew none*.conf\n", &name, &opts("x"));
        assert_eq!(d.items[0].message, "No config files matched 'none*.conf'.");
        assert_eq!(d.config_test_exit_code(), 6);
        // includea and -e make a missing file fatal (keepalived -t exits 6).
        let (_, d, _) = run_at("includea nothere.conf\n", &name, &opts("x"));
        assert_eq!(d.config_test_exit_code(), 6);
        let all = LoadOptions {
            config_id: "x".into(),
            all_config: true,
            ..LoadOptions::default()
        };
        let (_, d, _) = run_at("include nothere.conf\n", &name, &all);
        assert_eq!(d.config_test_exit_code(), 6);
        // include_check in global_defs turns the checks on (and the line is kept).
        let (l, d, _) = run_at(
            "global_defs {\ninclude_check\n}\ninclude nothere.conf\n",
            &name,
            &opts("x"),
        );
        assert_eq!(l.len(), 3);
        assert_eq!(d.config_test_exit_code(), 6);
        let (_, d, _) = run_at(
            "include_check -match\ninclude nothere.conf\n",
            &name,
            &opts("x"),
        );
        assert_eq!(d.config_test_exit_code(), 0);
    }

    #[test]
    fn executable_include_is_skipped() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let x = write(dir.path(), "x1.conf", "secret\n");
        std::fs::set_permissions(&x, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        write(dir.path(), "x2.conf", "ok\n");
        let (l, d, files) = run_at("include x*.conf\n", &dir.path().join("k.conf"), &opts("x"));
        assert_eq!(
            l.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
            ["ok"]
        );
        assert_eq!(
            d.items[0].message,
            "Configuration file 'x1.conf' is not a regular non-executable file - skipping"
        );
        assert_eq!(d.config_test_exit_code(), 0);
        assert_eq!(files.len(), 2);
    }

    #[test]
    fn include_loop_terminates() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write(dir.path(), "loop.conf", "x\ninclude loop.conf\n");
        let (l, d, _) = run_at(
            "include loop.conf\n",
            &dir.path().join("k.conf"),
            &opts("x"),
        );
        assert_eq!(l.len(), MAX_INCLUDE_DEPTH - 1);
        assert!(d.items.iter().any(|d| d.message.contains("include loop")));
        assert_eq!(d.config_test_exit_code(), 0);
    }

    #[test]
    fn main_file_problems() {
        use std::os::unix::fs::PermissionsExt;
        let mut sm = SourceMap::new();
        let mut files = Vec::new();
        let mut d = Diagnostics::new();
        let p = Path::new("/nonexistent-dir/keepalived.conf");
        let l = preprocess_file(p, &opts("x"), &mut sm, &mut files, &mut d);
        assert!(l.is_empty());
        assert_eq!(d.items[0].class, Some(KaClass::FileNotFound));
        assert!(d.items[0]
            .message
            .starts_with("Configuration file '/nonexistent-dir/keepalived.conf' cannot be read: "));
        assert_ne!(d.config_test_exit_code(), 0);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let x = write(dir.path(), "k.conf", "global_defs {\n}\n");
        std::fs::set_permissions(&x, std::fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut d = Diagnostics::new();
        let l = preprocess_file(&x, &opts("x"), &mut sm, &mut files, &mut d);
        assert!(l.is_empty());
        assert!(d.items[0]
            .message
            .ends_with("is not a regular non-executable file - skipping"));
        assert_eq!(d.items[0].class, Some(KaClass::FileNotFound));
    }

    #[test]
    fn brace_expansion() {
        assert_eq!(
            expand_braces("a{b,c}d{1,2}"),
            ["abd1", "abd2", "acd1", "acd2"]
        );
        assert_eq!(expand_braces("a{b,{c,e}}"), ["ab", "ac", "ae"]);
        assert_eq!(expand_braces("a{b"), ["a{b"]);
    }

    #[test]
    fn strtol_like_c() {
        assert_eq!(strtol0(" 12)"), (12, 3));
        assert_eq!(strtol0("-0x1f,"), (-31, 5));
        assert_eq!(strtol0("010"), (8, 3));
        assert_eq!(strtol0(")"), (0, 0));
    }
}
