//! The layers hold: no two modules import each other, directly or round a longer loop. At
//! every level (the crate's top-level modules, then the children of each module directory),
//! a module's references to its siblings — `crate::a::b` paths and `super::b` — form a graph
//! without cycles. Comments are left out; `#[cfg(test)]` code counts too.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic here fails the run, not a daemon

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, as paths relative to `src/`.
fn sources(src: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            sources(src, &p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p.strip_prefix(src).unwrap().to_path_buf());
        }
    }
}

/// The module path of a file: `vrrp/machine.rs` -> [vrrp, machine], `ipvs/mod.rs` -> [ipvs].
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
    {
        parts.pop();
    }
    parts
}

/// The code of a file without `//` comments (doc comments included) and string contents.
fn code(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut kept = String::new();
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if !in_str && c == '/' && chars.get(i + 1) == Some(&'/') {
                break;
            }
            if c == '"' && prev != '\\' {
                in_str = !in_str;
            } else if !in_str {
                kept.push(c);
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
            i += 1;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// The identifiers following each occurrence of `prefix` (`crate::`, `super::`), with the
/// path segments after them: `crate::vrrp::machine::State` -> [vrrp, machine, State]. A
/// `{...}` group ends the path.
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        let before = code[..i].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        let mut segs = Vec::new();
        for seg in rest.split("::") {
            let id: String = seg
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if id.is_empty() {
                break;
            }
            let whole = id.len() == seg.len();
            segs.push(id);
            if !whole {
                break;
            }
        }
        out.push(segs);
    }
    out
}

/// Edges between sibling modules: (parent path, from child, to child).
fn edges(src: &Path) -> BTreeSet<(Vec<String>, String, String)> {
    let mut files = Vec::new();
    sources(src, src, &mut files);
    let mut set = BTreeSet::new();
    for rel in files {
        if rel.starts_with("bin") || rel == Path::new("main.rs") || rel == Path::new("lib.rs") {
            continue;
        }
        let me = module_of(&rel);
        let text = code(&std::fs::read_to_string(src.join(&rel)).unwrap());
        let mut targets: Vec<Vec<String>> = paths_after(&text, "crate::");
        for p in paths_after(&text, "super::") {
            // `super::x` from a/b/c.rs (module a::b::c) is a::b::x, one level up per
            // `super`. (Inside an inline `mod tests`, `super` is the file's own module:
            // its `super::*` adds no edge.)
            let mut base = me.clone();
            base.pop();
            let mut p = p;
            while p.first().is_some_and(|s| s == "super") {
                base.pop();
                p.remove(0);
            }
            base.extend(p);
            targets.push(base);
        }
        for t in targets {
            // The deepest common ancestor; the edge is between its two children.
            let common = me.iter().zip(&t).take_while(|(a, b)| a == b).count();
            if common < me.len() && common < t.len() {
                set.insert((me[..common].to_vec(), me[common].clone(), t[common].clone()));
            }
        }
    }
    set
}

/// The cycles of a graph, one per strongly connected component larger than one node.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's algorithm, iterative enough for a few dozen nodes.
    struct St<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<String, usize>,
        low: BTreeMap<String, usize>,
        stack: Vec<String>,
        on: BTreeSet<String>,
        n: usize,
        out: Vec<Vec<String>>,
    }
    fn visit(st: &mut St, v: &str) {
        st.index.insert(v.into(), st.n);
        st.low.insert(v.into(), st.n);
        st.n += 1;
        st.stack.push(v.into());
        st.on.insert(v.into());
        let next: Vec<String> = st.g.get(v).into_iter().flatten().cloned().collect();
        for w in next {
            if !st.index.contains_key(&w) {
                visit(st, &w);
                let l = st.low[&w].min(st.low[v]);
                st.low.insert(v.into(), l);
            } else if st.on.contains(&w) {
                let l = st.index[&w].min(st.low[v]);
                st.low.insert(v.into(), l);
            }
        }
        if st.low[v] == st.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = st.stack.pop() {
                st.on.remove(&w);
                let done = w == v;
                comp.push(w);
                if done {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                st.out.push(comp);
            }
        }
    }
    let mut st = St {
        g: graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        n: 0,
        out: Vec::new(),
    };
    let nodes: Vec<String> = graph.keys().cloned().collect();
    for v in nodes {
        if !st.index.contains_key(&v) {
            visit(&mut st, &v);
        }
    }
    st.out
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut levels: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    let all = edges(&src);
    assert!(
        all.iter()
            .any(|(p, a, b)| p.is_empty() && a == "vrrp" && b == "config"),
        "the scan sees vrrp's imports"
    );
    for (parent, a, b) in all {
        levels
            .entry(parent)
            .or_default()
            .entry(a)
            .or_default()
            .insert(b);
    }
    let mut found = Vec::new();
    for (parent, graph) in &levels {
        for c in cycles(graph) {
            let at = if parent.is_empty() {
                "crate".to_owned()
            } else {
                parent.join("::")
            };
            let loop_edges: Vec<String> = c
                .iter()
                .flat_map(|a| {
                    graph[a]
                        .iter()
                        .filter(|b| c.contains(b))
                        .map(move |b| format!("{a} -> {b}"))
                })
                .collect();
            found.push(format!("in {at}: {}", loop_edges.join(", ")));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn a_circle_is_found() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.into(), v.into_iter().map(String::from).collect()))
    .collect();
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c"]]);
}

#[test]
fn paths_are_read_from_code_only() {
    let c =
        code("use crate::vrrp::{a, b}; // crate::check::x\nlet s = \"crate::net\"; super::y::z();");
    assert_eq!(paths_after(&c, "crate::"), vec![vec!["vrrp".to_owned()]]);
    assert_eq!(
        paths_after(&c, "super::"),
        vec![vec!["y".to_owned(), "z".to_owned()]]
    );
}
