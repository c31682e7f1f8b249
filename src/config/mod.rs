//! The keepalived.conf language: files → preprocessed lines → tokens → generic tree →
//! typed model, with diagnostics that name `file:line:col`.
//!
//! ```text
//! preprocess.rs  include (globs), $NAME parameters, @id conditions, ~SEQ/~LST  -> Line
//! lexer.rs       words, "quoted strings", { }, # and ! comments               -> Tok
//! tree.rs        nom parser: statements and blocks                            -> Node
//! model/         keyword tables per block, defaults, ranges, cross-checks     -> Config
//! ```
//!
//! What the model needs to know of the machine (users, host name, iproute2 names) it asks
//! an [`env::HostEnv`] given in [`LoadOptions`]; `host.rs` answers for the real machine
//! and holds the checks `-t` makes there after parsing.
#![forbid(unsafe_code)]

pub mod diagnostic;
pub mod env;
pub mod host;
pub mod lexer;
pub mod model;
pub mod preprocess;
pub mod sections;
pub mod tree;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use diagnostic::{Diagnostic, Diagnostics, KaClass, Severity, SourceMap, Span};
pub use env::{FixedHost, HostEnv};
pub use model::Config;
pub use tree::Node;

/// How to read a configuration.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `-i/--config-id`: the id matched by `@id` lines (default: host name up to the first dot).
    pub config_id: String,
    /// `-e/--all-config`: every include problem, and a missing main file, is an error.
    pub all_config: bool,
    /// The machine the model asks about users, table names and host names: the daemon and
    /// `-t` give `host::SystemHost`.
    pub host: Arc<dyn HostEnv>,
}

impl Default for LoadOptions {
    /// No config id, includes as keepalived reads them, and the fixed host of
    /// [`FixedHost::default`] (tests, tools): the result does not depend on the machine.
    fn default() -> Self {
        LoadOptions {
            config_id: String::new(),
            all_config: false,
            host: Arc::new(FixedHost::default()),
        }
    }
}

/// The result of reading a configuration: the model (with keepalived's defaults for
/// whatever was wrong), every diagnostic, and the files read.
#[derive(Debug, Default)]
pub struct Loaded {
    pub config: Config,
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
    /// Every file that was read, main file first.
    pub files: Vec<PathBuf>,
}

/// Reads, preprocesses, parses and types the configuration at `path`.
pub fn load(path: &Path, opts: &LoadOptions) -> Loaded {
    load_and_scan(path, opts, |_| ()).0
}

/// Like [`load`], also giving `scan` the preprocessed lines (the daemon finds its
/// sections there without preprocessing the files a second time).
pub fn load_and_scan<T>(
    path: &Path,
    opts: &LoadOptions,
    scan: impl FnOnce(&[preprocess::Line]) -> T,
) -> (Loaded, T) {
    let mut loaded = Loaded::default();
    let lines = preprocess::preprocess_file(
        path,
        opts,
        &mut loaded.sources,
        &mut loaded.files,
        &mut loaded.diagnostics,
    );
    let found = scan(&lines);
    (finish_load(lines, opts.host.as_ref(), loaded), found)
}

/// Like [`load`], for a configuration held in memory (`name` is used in diagnostics and
/// to resolve relative includes).
pub fn load_str(text: &str, name: &Path, opts: &LoadOptions) -> Loaded {
    let mut loaded = Loaded::default();
    let lines = preprocess::preprocess_str(
        text,
        name,
        opts,
        &mut loaded.sources,
        &mut loaded.files,
        &mut loaded.diagnostics,
    );
    finish_load(lines, opts.host.as_ref(), loaded)
}

/// Set by `keepalived -t`, which exits right after one load: the intermediate lines and
/// tree are then not freed piece by piece (a tenth of the time on large configurations).
static EXIT_AFTER_LOAD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Tells [`load`] that the process exits after it (see `EXIT_AFTER_LOAD`).
pub fn set_exit_after_load(on: bool) {
    EXIT_AFTER_LOAD.store(on, std::sync::atomic::Ordering::Relaxed);
}

fn finish_load(lines: Vec<preprocess::Line>, host: &dyn HostEnv, mut loaded: Loaded) -> Loaded {
    let nodes = tree::parse_lines(&lines, &mut loaded.diagnostics);
    loaded.config = model::build(&nodes, host, &mut loaded.diagnostics);
    if EXIT_AFTER_LOAD.load(std::sync::atomic::Ordering::Relaxed) {
        std::mem::forget(nodes);
        std::mem::forget(lines);
    }
    loaded
}
