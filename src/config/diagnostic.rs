//! Errors and warnings about a configuration, with `file:line:col` positions.
//!
//! Every diagnostic carries two judgements:
//! * `severity`: what *we* call it (error, warning, note), shown to the user;
//! * `class`: how keepalived 2.2.7 would classify the same problem (its `config_err_t`),
//!   or `None` for our own extra lints that keepalived does not report. The `-t` exit
//!   code is derived from the classes only, so a config that
//!   the real keepalived accepts is never rejected by ours because we are stricter.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Index of a file in a [`SourceMap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct FileId(pub u32);

/// A position in a configuration file: 1-based line and column (in characters), and a
/// length in characters for the caret underline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Span {
    pub file: FileId,
    pub line: u32,
    pub col: u32,
    pub len: u32,
}

impl Span {
    pub fn new(file: FileId, line: u32, col: u32, len: u32) -> Self {
        Span {
            file,
            line,
            col,
            len,
        }
    }
}

/// The files read while loading a configuration, kept for rendering diagnostics.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

#[derive(Debug, Clone)]
struct SourceFile {
    path: PathBuf,
    text: String,
    /// Byte offset of the start of each line (one string, not one per line).
    starts: Vec<u32>,
}

impl SourceMap {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a file's text and returns its id.
    pub fn add(&mut self, path: &Path, text: &str) -> FileId {
        let id = FileId(self.files.len() as u32);
        // The lines of `str::lines`: no empty line after a final newline.
        let mut starts = vec![0u32];
        starts.extend(
            text.match_indices('\n')
                .map(|(i, _)| i + 1)
                .filter(|&i| i < text.len())
                .map(|i| i as u32),
        );
        if text.is_empty() {
            starts.clear();
        }
        self.files.push(SourceFile {
            path: path.to_path_buf(),
            text: text.to_owned(),
            starts,
        });
        id
    }

    pub fn path(&self, id: FileId) -> Option<&Path> {
        self.files.get(id.0 as usize).map(|f| f.path.as_path())
    }

    /// The text of a 1-based line of a file, as it is on disk.
    pub fn line(&self, id: FileId, line: u32) -> Option<&str> {
        let f = self.files.get(id.0 as usize)?;
        let k = (line as usize).checked_sub(1)?;
        let start = *f.starts.get(k)? as usize;
        let end = f.starts.get(k + 1).map_or(f.text.len(), |&e| e as usize);
        let l = f.text.get(start..end)?;
        // as `str::lines`: "\n" or "\r\n" ends a line
        Some(match l.strip_suffix('\n') {
            Some(l) => l.strip_suffix('\r').unwrap_or(l),
            None => l,
        })
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// keepalived 2.2.7's `config_err_t`, in its order (the worst one decides `-t`'s exit code),
/// plus `MissingParameter`, which keepalived treats as fatal (exit 2) on the spot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum KaClass {
    FileNotFound,
    BadIf,
    Fatal,
    MultipleFiles,
    UnknownKeyword,
    UnexpectedBob,
    MissingBob,
    UnmatchedQuote,
    MissingEob,
    ExtraEob,
    GeneralError,
    Warning,
    Deprecated,
    SecurityError,
    /// `*** Configuration line starting 'X' is missing a parameter ...`: keepalived exits 2.
    MissingParameter,
}

/// One message about the configuration.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub class: Option<KaClass>,
    pub message: String,
    pub span: Option<Span>,
    /// e.g. "did you mean `interval`?"
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(severity: Severity, class: Option<KaClass>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            class,
            message: message.into(),
            span: None,
            help: None,
        }
    }

    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col: error: message`, the source line, a caret under the culprit and help.
    pub fn render(&self, sources: &SourceMap) -> String {
        let mut out = String::new();
        match self.span {
            Some(sp) => {
                let path = sources
                    .path(sp.file)
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "<config>".into());
                let _ = writeln!(
                    out,
                    "{}:{}:{}: {}: {}",
                    path,
                    sp.line,
                    sp.col,
                    self.severity.as_str(),
                    self.message
                );
                if let Some(text) = sources.line(sp.file, sp.line) {
                    let num = sp.line.to_string();
                    let pad = " ".repeat(num.len());
                    let shown: String = text.replace('\t', " ");
                    let _ = writeln!(out, "{pad} |");
                    let _ = writeln!(out, "{num} | {shown}");
                    let col = sp.col.max(1) as usize - 1;
                    let _ = writeln!(
                        out,
                        "{pad} | {}{}",
                        " ".repeat(col),
                        "^".repeat(sp.len.max(1) as usize)
                    );
                }
            }
            None => {
                let _ = writeln!(out, "{}: {}", self.severity.as_str(), self.message);
            }
        }
        if let Some(h) = &self.help {
            let _ = writeln!(out, "  = help: {h}");
        }
        out
    }
}

/// The diagnostics of one load, in the order they were found.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    /// An error that keepalived reports with the given class.
    pub fn error(&mut self, class: KaClass, span: Option<Span>, message: impl Into<String>) {
        let mut d = Diagnostic::new(Severity::Error, Some(class), message);
        d.span = span;
        self.push(d);
    }

    /// A warning that keepalived reports too (with the given class).
    pub fn warning(&mut self, class: KaClass, span: Option<Span>, message: impl Into<String>) {
        let mut d = Diagnostic::new(Severity::Warning, Some(class), message);
        d.span = span;
        self.push(d);
    }

    /// Our own lint: keepalived says nothing, so it never changes the verdict.
    pub fn lint(&mut self, span: Option<Span>, message: impl Into<String>) {
        let mut d = Diagnostic::new(Severity::Warning, None, message);
        d.span = span;
        self.push(d);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// The worst keepalived class seen, if any.
    pub fn worst_class(&self) -> Option<KaClass> {
        self.items.iter().filter_map(|d| d.class).max()
    }

    /// The exit code keepalived 2.2.7's `-t` gives for these diagnostics:
    /// 0 none, 2 missing parameter, 4 file-not-found/bad-interface/fatal class,
    /// 5 any other error or warning, 6 security.
    pub fn config_test_exit_code(&self) -> i32 {
        if self
            .items
            .iter()
            .any(|d| d.class == Some(KaClass::MissingParameter))
        {
            return 2;
        }
        match self.worst_class() {
            None => 0,
            Some(KaClass::FileNotFound | KaClass::BadIf | KaClass::Fatal) => 4,
            Some(KaClass::SecurityError) => 6,
            Some(KaClass::MissingParameter) => 2,
            Some(_) => 5,
        }
    }

    pub fn render_all(&self, sources: &SourceMap) -> String {
        self.items.iter().map(|d| d.render(sources)).collect()
    }
}

/// The closest candidate to `word` (Levenshtein distance at most a third of its length,
/// and at least 1), for "did you mean" hints.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_lines_are_those_of_str_lines() {
        for text in [
            "",
            "\n",
            "a",
            "a\n",
            "a\r\nb\r\n",
            "a\n\nb",
            "x\r",
            "é\nü\n\n",
        ] {
            let mut sm = SourceMap::new();
            let id = sm.add(std::path::Path::new("f"), text);
            let want: Vec<&str> = text.lines().collect();
            let got: Vec<&str> = (1..=want.len() as u32 + 1)
                .map_while(|n| sm.line(id, n))
                .collect();
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn suggests_close_keywords() {
        let kws = ["interval", "timeout", "weight", "rise", "fall"];
        assert_eq!(suggest("intervall", kws), Some("interval"));
        assert_eq!(suggest("wieght", kws), Some("weight"));
        assert_eq!(suggest("completely_else", kws), None);
    }

    #[test]
    fn exit_codes_follow_worst_class() {
        let mut d = Diagnostics::new();
        assert_eq!(d.config_test_exit_code(), 0);
        d.lint(None, "ours only");
        assert_eq!(d.config_test_exit_code(), 0);
        d.error(KaClass::BadIf, None, "no such interface");
        assert_eq!(d.config_test_exit_code(), 4);
        d.warning(KaClass::Warning, None, "a warning");
        assert_eq!(d.config_test_exit_code(), 5);
        d.error(KaClass::SecurityError, None, "insecure");
        assert_eq!(d.config_test_exit_code(), 6);
        d.error(KaClass::MissingParameter, None, "missing");
        assert_eq!(d.config_test_exit_code(), 2);
    }

    #[test]
    fn renders_caret_under_span() {
        let mut sm = SourceMap::new();
        let f = sm.add(
            Path::new("/etc/k.conf"),
            "vrrp_script chk {\n  intervall 2\n}\n",
        );
        let d = Diagnostic::new(
            Severity::Error,
            Some(KaClass::UnknownKeyword),
            "unknown keyword `intervall`",
        )
        .at(Span::new(f, 2, 3, 9))
        .with_help("did you mean `interval`?");
        let r = d.render(&sm);
        assert!(r.starts_with("/etc/k.conf:2:3: error: unknown keyword `intervall`\n"));
        assert!(r.contains("2 |   intervall 2\n"));
        assert!(r.contains("  |   ^^^^^^^^^\n"));
        assert!(r.contains("= help: did you mean `interval`?"));
    }
}
