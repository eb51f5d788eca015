//! The shape of the code, checked: every source file opens with a doc
//! comment and stays small (source files at most 500 lines, test files at
//! most 600), no two modules import each other (directly or in a circle),
//! and the folders of each binary depend on each other in one direction
//! only, the one the README's Layout section shows. A change that breaks
//! these either moves code to where it belongs or updates the layers here
//! and in the README, on purpose.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use dbdump_tests::workspace_root;

const MAX_SOURCE_LINES: usize = 500;
const MAX_TEST_LINES: usize = 600;

/// Each binary's top-level modules, lowest layer first: a module may use
/// modules of lower layers (and its own folder), never of its own layer or
/// a higher one.
const PULLER_LAYERS: &[&[&str]] = &[
    &["config", "sql"],
    &["source"],
    &["observe"],
    &["apply"],
    &["converge", "schema"],
    &["pass"],
    &["main"],
];
const SERVER_LAYERS: &[&[&str]] = &[
    &["config", "error", "sql"],
    &["edge"],
    &["inspect"],
    &["horizon"],
    &["source"],
    &["streams"],
    &["api"],
    &["main"],
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src` (`apply/mod.rs` -> `apply`,
/// `apply/stream.rs` -> `apply::stream`, `main.rs` -> `main`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of `text` without comments, so that a doc comment naming
/// `crate::x` is no import.
fn code_only(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn identifier(b: &[u8], mut i: usize) -> (String, usize) {
    let start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    (String::from_utf8_lossy(&b[start..i]).into_owned(), i)
}

fn skip_space(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Reads the path after `crate::` at `i` into `out` (a `{…}` group gives
/// one path per item); returns where it ends.
fn read_path(b: &[u8], mut i: usize, prefix: &str, out: &mut Vec<String>) -> usize {
    let mut path = prefix.to_string();
    loop {
        i = skip_space(b, i);
        if i < b.len() && b[i] == b'{' {
            i += 1;
            loop {
                i = skip_space(b, i);
                if i >= b.len() || b[i] == b'}' {
                    return i + 1;
                }
                if b[i] == b',' {
                    i += 1;
                    continue;
                }
                i = read_path(b, i, &path, out);
                // Skip `as name` and anything else up to the next item.
                while i < b.len() && b[i] != b',' && b[i] != b'}' {
                    i += 1;
                }
            }
        }
        let (name, next) = identifier(b, i);
        if name.is_empty() {
            out.push(path.trim_end_matches("::").to_string());
            return next;
        }
        i = next;
        if name != "self" {
            path.push_str(&name);
        }
        if b[i..].starts_with(b"::") {
            path.push_str("::");
            i += 2;
        } else {
            out.push(path.trim_end_matches("::").to_string());
            return i;
        }
    }
}

/// Every `crate::` path `text` names.
fn crate_paths(text: &str) -> Vec<String> {
    let code = code_only(text);
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        let preceded = start > 0 && (b[start - 1].is_ascii_alphanumeric() || b[start - 1] == b'_');
        from = start + "crate::".len();
        if !preceded {
            from = read_path(b, from, "", &mut out).max(from);
        }
    }
    out
}

/// The longest module of `modules` that `path` starts with.
fn resolve<'a>(modules: &'a BTreeSet<String>, path: &str) -> Option<&'a String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .find_map(|n| modules.get(&parts[..n].join("::")))
}

/// Module -> the modules it uses, for the crate whose sources are in `src`.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let texts: BTreeMap<String, String> = files
        .iter()
        .map(|f| {
            (
                module_of(src, f),
                std::fs::read_to_string(f).expect("readable source"),
            )
        })
        .collect();
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    texts
        .iter()
        .map(|(m, text)| {
            let used = crate_paths(text)
                .iter()
                .filter_map(|p| resolve(&modules, p))
                .filter(|u| *u != m && !m.starts_with(&format!("{u}::")))
                .cloned()
                .collect();
            (m.clone(), used)
        })
        .collect()
}

/// A circle through `start`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, start: &str) -> Option<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if walk(graph, start, next, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.to_string()];
    walk(graph, start, start, &mut path, &mut BTreeSet::new()).then_some(path)
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

fn check_crate(name: &str, layers: Option<&[&[&str]]>) -> Vec<String> {
    let src = workspace_root().join(name).join("src");
    let graph = imports(&src);
    let mut problems = Vec::new();
    let mut told: BTreeSet<BTreeSet<String>> = BTreeSet::new();
    for m in graph.keys() {
        if let Some(c) = circle(&graph, m) {
            if told.insert(c.iter().cloned().collect()) {
                problems.push(format!(
                    "{name}: modules import each other: {}",
                    c.join(" -> ")
                ));
            }
        }
    }
    let Some(layers) = layers else {
        return problems;
    };
    let layer_of = |m: &str| layers.iter().position(|l| l.contains(&top(m)));
    for (m, used) in &graph {
        let Some(mine) = layer_of(m) else {
            problems.push(format!(
                "{name}: module `{m}` is in no layer of tests/tests/layout.rs"
            ));
            continue;
        };
        for u in used.iter().filter(|u| top(u) != top(m)) {
            if layer_of(u).is_none_or(|theirs| theirs >= mine) {
                problems.push(format!(
                    "{name}: `{m}` uses `{u}`, which is not below it (see the README's Layout)"
                ));
            }
        }
    }
    problems
}

#[test]
fn folders_depend_one_way_and_nothing_imports_itself_back() {
    let mut problems = check_crate("puller", Some(PULLER_LAYERS));
    problems.extend(check_crate("server", Some(SERVER_LAYERS)));
    problems.extend(check_crate("shared", None));
    problems.dedup();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn files_are_small_and_say_what_they_are_for() {
    let root = workspace_root();
    let mut problems = Vec::new();
    for (dir, limit) in [
        ("puller/src", MAX_SOURCE_LINES),
        ("server/src", MAX_SOURCE_LINES),
        ("shared/src", MAX_SOURCE_LINES),
        ("tests/src", MAX_TEST_LINES),
        ("tests/tests", MAX_TEST_LINES),
    ] {
        let mut files = Vec::new();
        rust_files(&root.join(dir), &mut files);
        for f in files {
            let text = std::fs::read_to_string(&f).expect("readable source");
            let shown = f.strip_prefix(&root).unwrap_or(&f).display().to_string();
            let lines = text.lines().count();
            if lines > limit {
                problems.push(format!("{shown}: {lines} lines, more than {limit}"));
            }
            if !text.starts_with("//!") {
                problems.push(format!("{shown}: does not open with a //! doc comment"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_import_reader_sees_groups_renames_and_comments() {
    let text = "//! see crate::nothing\nuse crate::a::{b, c::{self, D}, e as f};\nfn x() { crate::g::h(); }\n// crate::i\n";
    let mut paths = crate_paths(text);
    paths.sort();
    assert_eq!(paths, ["a::b", "a::c", "a::c::D", "a::e", "g::h"]);
}
