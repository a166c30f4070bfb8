//! The layers of `src/` point one way (docs/design.md, "Layers").
//!
//! Each file's `crate::…` and `super::…` paths are read (comments left out) and resolved to the
//! module they name. A module may use its own ancestors and descendants, any module of a layer
//! listed before its own, and modules of its own folder as long as the folder's modules form no
//! cycle among themselves. Only the `worker` layer may name the Workers runtime's crates.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Lowest first: a layer may use the ones before it, never one after it.
const LAYERS: &[&str] = &[
    "base",
    "crypto",
    "records",
    "trace",
    "interceptors",
    "authz",
    "gateway",
    "worker",
];

/// The runtime's crates: only `worker` may name them.
const RUNTIME_CRATES: &[&str] = &["worker", "js_sys", "web_sys", "wasm_bindgen"];

/// The module path of a file under `src/` (`interceptors/jwt/mod.rs` → `interceptors::jwt`).
fn module_of(rel: &str) -> Option<String> {
    let rel = rel.strip_suffix(".rs")?;
    if rel == "lib" {
        return Some(String::new());
    }
    if rel.starts_with("bin/") || rel == "main" {
        return None;
    }
    let rel = rel.strip_suffix("/mod").unwrap_or(rel);
    Some(rel.replace('/', "::"))
}

/// The code of a file without comments (line comments, doc comments, block comments).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("//") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
        } else if let Some(r) = rest.strip_prefix("'\"'") {
            // The character literal '"' opens no string.
            rest = r;
        } else if rest.starts_with('"') {
            // A string literal: skipped whole, so a "//" inside it is not a comment.
            let bytes = rest.as_bytes();
            let mut i = 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            rest = rest.get(i + 1..).unwrap_or("");
            out.push_str("\"\"");
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// The paths after `crate::` and `super::` in `code`, as segment lists.
fn paths(code: &str, anchor: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = code[at..].find(anchor) {
        let start = at + i;
        at = start + anchor.len();
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut segs = Vec::new();
        let mut rest = &code[at..];
        loop {
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end == 0 {
                break;
            }
            segs.push(rest[..end].to_string());
            match rest[end..].strip_prefix("::") {
                Some(r) => rest = r,
                None => break,
            }
        }
        found.push(segs);
    }
    found
}

fn parent(m: &str) -> &str {
    m.rsplit_once("::").map_or("", |(p, _)| p)
}

fn is_ancestor_or_self(a: &str, b: &str) -> bool {
    a.is_empty() || a == b || b.starts_with(&format!("{a}::"))
}

/// The deepest module named by `segs` under `base`.
fn resolve(modules: &BTreeSet<String>, base: &str, segs: &[String]) -> String {
    let mut best = base.to_string();
    let mut cur = base.to_string();
    for s in segs {
        cur = if cur.is_empty() {
            s.clone()
        } else {
            format!("{cur}::{s}")
        };
        if modules.contains(&cur) {
            best = cur.clone();
        } else {
            break;
        }
    }
    best
}

/// Every violation of the layer rules in a crate given as (path under src/, text) pairs.
fn violations(files: &[(String, String)]) -> Vec<String> {
    let mut modules = BTreeSet::new();
    for (rel, _) in files {
        if let Some(m) = module_of(rel) {
            modules.insert(m);
        }
    }
    let rank = |m: &str| {
        let top = m.split("::").next().unwrap_or("");
        LAYERS.iter().position(|l| *l == top)
    };
    let mut problems = Vec::new();
    // For each folder, the edges between its children.
    let mut edges: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for (rel, text) in files {
        let Some(m) = module_of(rel) else { continue };
        if !m.is_empty() && rank(&m).is_none() {
            problems.push(format!(
                "src/{rel}: module {m} is in no layer; put it in one of {LAYERS:?}"
            ));
            continue;
        }
        let code = strip_comments(text);
        if code.contains("crate::{") {
            problems.push(format!(
                "src/{rel}: `crate::{{…}}` hides which modules are used; write one path each"
            ));
        }
        let top = m.split("::").next().unwrap_or("");
        if top != "worker" && !m.is_empty() {
            for c in RUNTIME_CRATES {
                for p in paths(&code, &format!("{c}::")) {
                    let _ = p;
                    problems.push(format!(
                        "src/{rel}: names `{c}::`; only the worker layer may use the runtime"
                    ));
                }
            }
        }
        let mut targets = Vec::new();
        for segs in paths(&code, "crate::") {
            targets.push(resolve(&modules, "", &segs));
        }
        for segs in paths(&code, "super::") {
            let mut base = parent(&m).to_string();
            let mut segs = &segs[..];
            while segs.first().is_some_and(|s| s == "super") {
                base = parent(&base).to_string();
                segs = &segs[1..];
            }
            targets.push(resolve(&modules, &base, segs));
        }
        for t in targets {
            if is_ancestor_or_self(&t, &m) || is_ancestor_or_self(&m, &t) {
                continue;
            }
            let (rm, rt) = (rank(&m), rank(&t));
            if rm != rt {
                if rt > rm {
                    problems.push(format!(
                        "src/{rel}: {m} uses {t}, a layer above it ({} comes after {})",
                        t.split("::").next().unwrap_or(""),
                        top
                    ));
                }
                continue;
            }
            // Same layer: an edge between the two children of their common ancestor.
            let (a, b): (Vec<&str>, Vec<&str>) = (m.split("::").collect(), t.split("::").collect());
            let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
            let folder = a[..common].join("::");
            let (from, to) = (a[common].to_string(), b[common].to_string());
            edges.entry(folder).or_default().insert((from, to));
        }
    }
    for (folder, es) in &edges {
        if let Some(cycle) = find_cycle(es) {
            problems.push(format!(
                "modules of {} form a cycle: {}",
                if folder.is_empty() { "src" } else { folder },
                cycle.join(" → ")
            ));
        }
    }
    problems
}

/// A cycle in a directed graph, if there is one.
fn find_cycle(edges: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in edges {
        next.entry(a).or_default().push(b);
    }
    fn visit<'a>(
        n: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(n, 1);
        stack.push(n);
        for &m in next.get(n).map(Vec::as_slice).unwrap_or(&[]) {
            match state.get(m).copied().unwrap_or(0) {
                1 => {
                    let i = stack.iter().position(|x| *x == m).unwrap_or(0);
                    let mut c: Vec<String> = stack[i..].iter().map(|s| s.to_string()).collect();
                    c.push(m.to_string());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, next, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for &n in next.keys() {
        if state.get(n).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, &next, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn read_tree(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            read_tree(&p, root, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&p).unwrap()));
        }
    }
}

#[test]
fn the_layers_of_src_point_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    read_tree(&root, &root, &mut files);
    assert!(files.len() > 30, "read {} files", files.len());
    let problems = violations(&files);
    assert!(
        problems.is_empty(),
        "layer rules broken (docs/design.md, Layers):\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_top_level_folder_is_a_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut layers: Vec<String> = LAYERS.iter().map(|s| s.to_string()).collect();
    layers.sort();
    assert_eq!(dirs, layers);
}

fn tree(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect()
}

#[test]
fn the_check_sees_upward_uses_cycles_and_runtime_names() {
    let ok = tree(&[
        ("lib.rs", "pub mod base; pub mod crypto;"),
        ("base/mod.rs", "pub mod a; pub mod b;"),
        (
            "base/a.rs",
            "use crate::base::b::X; // crate::crypto::k in a comment",
        ),
        (
            "base/b.rs",
            "pub struct X; const S: &str = \"crate::crypto::k\";",
        ),
        ("crypto/mod.rs", "pub mod k;"),
        (
            "crypto/k.rs",
            "use crate::base::a; use super::super::base::b;",
        ),
    ]);
    assert_eq!(violations(&ok), Vec::<String>::new());

    let upward = tree(&[
        ("base/mod.rs", "pub mod a;"),
        ("base/a.rs", "use crate::crypto::k::Key;"),
        ("crypto/mod.rs", "pub mod k;"),
        ("crypto/k.rs", ""),
    ]);
    let v = violations(&upward);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("base::a uses crypto::k"), "{v:?}");

    let cycle = tree(&[
        ("crypto/mod.rs", "pub mod a; pub mod b; pub mod c;"),
        ("crypto/a.rs", "use crate::crypto::b::X;"),
        ("crypto/b.rs", "use super::c::Y;"),
        ("crypto/c.rs", "fn f() { crate::crypto::a::g() }"),
    ]);
    let v = violations(&cycle);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("modules of crypto form a cycle"), "{v:?}");

    let parent_child = tree(&[
        (
            "interceptors/mod.rs",
            "pub mod jwt; use crate::interceptors::jwt::verify::J;",
        ),
        (
            "interceptors/jwt/mod.rs",
            "pub mod verify; use super::Call;",
        ),
        (
            "interceptors/jwt/verify.rs",
            "use crate::interceptors::Need;",
        ),
    ]);
    assert_eq!(violations(&parent_child), Vec::<String>::new());

    let runtime = tree(&[
        ("records/mod.rs", "fn f(x: js_sys::Object) {}"),
        (
            "worker/mod.rs",
            "fn f(x: js_sys::Object) { crate::records::f() }",
        ),
    ]);
    let v = violations(&runtime);
    assert_eq!(v.len(), 1, "{v:?}");
    assert!(v[0].contains("js_sys"), "{v:?}");

    let stray = tree(&[("misc/mod.rs", "")]);
    assert_eq!(violations(&stray).len(), 1);
}
