//! The preprocessor (keepalived-spec.md §3.1, §3.3-§3.6).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use super::diagnostic::{Diagnostics, FileId, SourceMap};
use super::LoadOptions;

/// One logical line after preprocessing, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub text: String,
    pub file: FileId,
    /// 1-based line number in `file`.
    pub line: u32,
}

pub fn preprocess_file(
    path: &Path,
    opts: &LoadOptions,
    sources: &mut SourceMap,
    files: &mut Vec<PathBuf>,
    diags: &mut Diagnostics,
) -> Vec<Line> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    preprocess_str(&text, path, opts, sources, files, diags)
}

pub fn preprocess_str(
    text: &str,
    name: &Path,
    _opts: &LoadOptions,
    sources: &mut SourceMap,
    files: &mut Vec<PathBuf>,
    _diags: &mut Diagnostics,
) -> Vec<Line> {
    let file = sources.add(name, text);
    files.push(name.to_path_buf());
    text.lines()
        .enumerate()
        .map(|(i, l)| Line {
            text: l.to_owned(),
            file,
            line: i as u32 + 1,
        })
        .collect()
}
