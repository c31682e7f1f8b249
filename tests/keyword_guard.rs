//! The placebo guard: no keyword is accepted and silently ignored.
//!
//! Every keyword of every table of the configuration model is either
//! * applied, and `tests/keyword_effects.txt` names at least one test that shows its effect
//!   (a test outside the parser's own tests, whose body uses the keyword), or
//! * marked `Kw::not_implemented(why)`, so that `-t` and the daemon warn at each use, and
//!   listed in the README's differences from keepalived.
//!
//! A keyword added to a table without either fails here.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use keepalived::config::model::registry::keyword_tables;
use keepalived::config::model::Effect;

const EFFECTS: &str = "tests/keyword_effects.txt";
const NOT_IMPLEMENTED_SECTION: &str = "### Keywords accepted but not implemented";
const MAN_SECTION: &str = ".SS \"Keywords accepted but not implemented\"";

/// Files whose tests check parsing and `-t` verdicts, not what a keyword does.
const NOT_EFFECT_TESTS: &[&str] = &["src/config/model/", "tests/config_verdicts.rs"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `(block, keyword) -> [test]` from the effects file (`block<TAB>keyword<TAB>path::fn`).
fn effects() -> BTreeMap<(String, String), Vec<String>> {
    let text = std::fs::read_to_string(root().join(EFFECTS)).expect("read keyword_effects.txt");
    let mut map: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(
            f.len(),
            3,
            "{EFFECTS}:{}: want block<TAB>keyword<TAB>test",
            n + 1
        );
        map.entry((f[0].into(), f[1].into()))
            .or_default()
            .push(f[2].into());
    }
    map
}

/// The text of test function `name` in `src`: from its `fn` line to the next item.
fn fn_body<'a>(src: &'a str, name: &str) -> Option<&'a str> {
    let start = src
        .match_indices(&format!("fn {name}("))
        .map(|(i, _)| i)
        .find(|&i| i == 0 || src.as_bytes()[i - 1].is_ascii_whitespace())?;
    let rest = &src[start..];
    let end = rest
        .lines()
        .scan(0usize, |off, l| {
            let at = *off;
            *off += l.len() + 1;
            Some((at, l))
        })
        .skip(1)
        .find(|(_, l)| {
            let t = l.trim_start();
            t.starts_with("#[") || t.starts_with("fn ") || t.starts_with("async fn ")
        })
        .map_or(rest.len(), |(at, _)| at);
    Some(&rest[..end])
}

fn mentions(body: &str, word: &str) -> bool {
    body.match_indices(word).any(|(i, _)| {
        let b = body.as_bytes();
        let ok = |c: u8| !(c.is_ascii_alphanumeric() || c == b'_');
        (i == 0 || ok(b[i - 1])) && b.get(i + word.len()).map_or(true, |&c| ok(c))
    })
}

/// Why `test` (`path::fn`) cannot show `keyword`'s effect, if it cannot: the test must
/// exist, outside the parser's tests, in a file that uses the keyword (its configurations
/// are often built by helpers of the file or of `tests/support`).
fn check_test(test: &str, keyword: &str) -> Option<String> {
    let Some((path, name)) = test.rsplit_once("::") else {
        return Some(format!("`{test}` is not path::fn"));
    };
    if NOT_EFFECT_TESTS.iter().any(|p| path.starts_with(p)) {
        return Some(format!("{path} tests parsing, not effects"));
    }
    let Ok(src) = std::fs::read_to_string(root().join(path)) else {
        return Some(format!("no file {path}"));
    };
    if fn_body(&src, name).is_none() {
        return Some(format!("no fn {name} in {path}"));
    }
    let support = || {
        std::fs::read_dir(root().join("tests/support"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .any(|s| mentions(&s, keyword))
    };
    if mentions(&src, keyword) || (path.starts_with("tests/") && support()) {
        None
    } else {
        Some(format!("{path} never uses `{keyword}`"))
    }
}

#[test]
fn every_keyword_is_applied_and_tested_or_warned() {
    let effects = effects();
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let differences = readme
        .split(NOT_IMPLEMENTED_SECTION)
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap_or_else(|| panic!("README has no `{NOT_IMPLEMENTED_SECTION}` section"));
    let man = std::fs::read_to_string(root().join("man/keepalived.conf.5")).expect("man page");
    let man_section = man
        .split(MAN_SECTION)
        .nth(1)
        .and_then(|s| s.split("\n.SH").next())
        .unwrap_or_else(|| panic!("man/keepalived.conf.5 has no `{MAN_SECTION}`"));
    let mut known = BTreeSet::new();
    let mut problems = Vec::new();
    for t in keyword_tables() {
        for (kw, effect) in &t.keywords {
            let key = (t.block.to_string(), kw.to_string());
            known.insert(key.clone());
            let tests = effects.get(&key);
            match effect {
                Effect::Applied => match tests {
                    None => problems.push(format!(
                        "{}\t{kw}: applied but no effect test (add a line to {EFFECTS} or \
                         mark it Kw::not_implemented)",
                        t.block
                    )),
                    Some(tests) => {
                        for test in tests {
                            if let Some(why) = check_test(test, kw) {
                                problems.push(format!("{}\t{kw}: {why}", t.block));
                            }
                        }
                    }
                },
                Effect::NotImplemented(_) => {
                    if tests.is_some() {
                        problems.push(format!(
                            "{}\t{kw}: marked not implemented yet listed in {EFFECTS}",
                            t.block
                        ));
                    }
                    if !mentions(differences, kw) {
                        problems.push(format!(
                            "{}\t{kw}: not implemented, missing from README's differences",
                            t.block
                        ));
                    }
                    if !mentions(man_section, kw) {
                        problems.push(format!(
                            "{}\t{kw}: not implemented, missing from the man page's list",
                            t.block
                        ));
                    }
                }
            }
        }
    }
    for key in effects.keys() {
        if !known.contains(key) {
            problems.push(format!(
                "{}\t{}: in {EFFECTS} but in no table",
                key.0, key.1
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} keyword problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn not_implemented_keywords_warn_at_their_place() {
    // A not-implemented keyword through the whole -t path: the warning names it and its
    // place, and the verdict stays keepalived's (0). `enable_snmp_checker` waits for the
    // checker's SNMP objects: when they land, pick another keyword marked Kw::not_implemented.
    let kw = "enable_snmp_checker";
    let marked = keyword_tables().into_iter().any(|t| {
        t.block == "global_defs"
            && t.keywords
                .iter()
                .any(|(k, e)| *k == kw && matches!(e, Effect::NotImplemented(_)))
    });
    assert!(
        marked,
        "{kw} is no longer marked not implemented: pick another keyword"
    );
    let dir = tempdir();
    let conf = dir.join("k.conf");
    std::fs::write(&conf, format!("global_defs {{\n    {kw}\n}}\n")).expect("write config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keepalived"))
        .arg("-t")
        .arg("-f")
        .arg(&conf)
        .output()
        .expect("run keepalived -t");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    let want = format!(
        "{}:2:5: warning: '{kw}' is accepted but not implemented",
        conf.display()
    );
    assert!(text.contains(&want), "want {want:?} in:\n{text}");
    assert_eq!(out.status.code(), Some(0), "{text}");
}

fn tempdir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("kw-guard-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn unimplemented_options_warn() {
    let dir = tempdir();
    let conf = dir.join("opts.conf");
    std::fs::write(&conf, "global_defs {\n    router_id r\n}\n").expect("write config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keepalived"))
        .args([
            "-t",
            "-x",
            "-A",
            "/tmp/agentx",
            "-g",
            "--flush-log-file",
            "-f",
        ])
        .arg(&conf)
        .output()
        .expect("run keepalived -t");
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    for opt in ["-g/--log-file", "--flush-log-file"] {
        let want = format!("warning: option {opt} is accepted but not implemented");
        assert!(text.contains(&want), "want {want:?} in:\n{text}");
    }
    assert_eq!(out.status.code(), Some(0), "{text}");
}
