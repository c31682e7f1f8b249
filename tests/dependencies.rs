//! One major version of each crate we depend on directly: `cargo tree -d` lists no direct
//! dependency twice (what other crates pull in twice is theirs to fix).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The names in `[dependencies]` of Cargo.toml (a `package = "..."` rename counts as that
/// package).
fn direct_dependencies(manifest: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut inside = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            inside = line == "[dependencies]";
            continue;
        }
        if !inside || line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let renamed = value
            .split("package")
            .nth(1)
            .and_then(|rest| rest.split('"').nth(1));
        names.insert(renamed.unwrap_or(key.trim()).to_owned());
    }
    names
}

#[test]
fn one_version_of_each_direct_dependency() {
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).unwrap();
    let direct = direct_dependencies(&manifest);
    assert!(
        direct.contains("tokio") && direct.contains("nix"),
        "{direct:?}"
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["tree", "--locked", "-d", "-e", "normal,build"])
        .args(["--depth", "0", "--prefix", "none", "--format", "{p}"])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut versions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut f = line.split_whitespace();
        if let (Some(name), Some(version)) = (f.next(), f.next()) {
            versions
                .entry(name.to_owned())
                .or_default()
                .push(version.to_owned());
        }
    }
    let twice: Vec<_> = versions
        .iter()
        .filter(|(name, _)| direct.contains(*name))
        .collect();
    assert!(
        twice.is_empty(),
        "direct dependencies in two versions: {twice:?}"
    );
}

#[test]
fn renamed_dependencies_count_as_their_package() {
    let m = "[package]\nname = \"x\"\n[dependencies]\nfoo = \"1\"\nbar2 = { package = \"bar\", version = \"2\" }\n[dev-dependencies]\nbaz = \"1\"\n";
    let names: Vec<_> = direct_dependencies(m).into_iter().collect();
    assert_eq!(names, ["bar", "foo"]);
}
