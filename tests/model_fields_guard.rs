//! The second half of the placebo guard: a field of the configuration model that nothing
//! outside `src/config/` reads is a value parsed and dropped. Each such field must be listed
//! in `tests/model_fields_unread.txt` with why: a keyword marked not implemented (which
//! warns, checked against the keyword tables), or a field the model itself consumes (a
//! default copied into instances, a span kept for diagnostics).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use keepalived::config::model::registry::keyword_tables;
use keepalived::config::model::Effect;

const LIST: &str = "tests/model_fields_unread.txt";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let b = text.as_bytes();
        (i == 0 || !is_ident(b[i - 1])) && b.get(i + word.len()).map_or(true, |&c| !is_ident(c))
    })
}

/// `(struct, field)` of every `pub` field of every `pub struct` in the model's sources.
fn model_fields() -> BTreeSet<(String, String)> {
    let mut files = Vec::new();
    rust_files(&root().join("src/config/model"), &mut files);
    let mut out = BTreeSet::new();
    for f in files {
        let src = std::fs::read_to_string(&f).expect("read model source");
        let mut current: Option<String> = None;
        for line in src.lines() {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix("pub struct ") {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric()).collect();
                current = rest.trim_end().ends_with('{').then_some(name);
                continue;
            }
            if line.starts_with('}') {
                current = None;
            }
            if let (Some(s), Some(rest)) = (&current, t.strip_prefix("pub ")) {
                if let Some((field, _)) = rest.split_once(':') {
                    if field.bytes().all(is_ident) {
                        out.insert((s.clone(), field.to_string()));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_model_field_is_read_or_listed() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let outside: Vec<String> = files
        .iter()
        .filter(|p| !p.starts_with(root().join("src/config")))
        .map(|p| std::fs::read_to_string(p).expect("read source"))
        .collect();
    let not_implemented: BTreeSet<&str> = keyword_tables()
        .into_iter()
        .flat_map(|t| t.keywords)
        .filter(|(_, e)| matches!(e, Effect::NotImplemented(_)))
        .map(|(k, _)| k)
        .collect();

    let text = std::fs::read_to_string(root().join(LIST)).expect("read the unread-fields list");
    let mut listed: BTreeMap<(String, String), String> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, why) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("{LIST}:{}: want Struct.field<TAB>why", n + 1));
        let (s, f) = key
            .split_once('.')
            .unwrap_or_else(|| panic!("{LIST}:{}: want Struct.field", n + 1));
        listed.insert((s.into(), f.into()), why.into());
    }

    let mut problems = Vec::new();
    let fields = model_fields();
    for (s, f) in &fields {
        let read = outside.iter().any(|src| has_word(src, f));
        match (read, listed.get(&(s.clone(), f.clone()))) {
            (false, None) => problems.push(format!(
                "{s}.{f}: parsed but read by nothing outside src/config/ (apply it, or mark its \
                 keyword not implemented and list it in {LIST})"
            )),
            (true, Some(_)) => problems.push(format!("{s}.{f}: read now, remove it from {LIST}")),
            (false, Some(why)) => {
                if let Some(kw) = why.strip_prefix("warned: ") {
                    if !not_implemented.contains(kw.trim()) {
                        problems.push(format!("{s}.{f}: `{kw}` is not marked not implemented"));
                    }
                } else if !why.starts_with("model: ") {
                    problems.push(format!(
                        "{s}.{f}: why must be `warned: KEYWORD` or `model: ...`"
                    ));
                }
            }
            (true, None) => {}
        }
    }
    for (s, f) in listed.keys() {
        if !fields.contains(&(s.clone(), f.clone())) {
            problems.push(format!("{s}.{f}: listed in {LIST} but not a model field"));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
