//! The layout rules the project keeps, checked on its source: no import cycle among
//! the files of `tenure-node/src` and of `tenure-redis/src` (from their `crate::` and
//! `super::` paths), and no file of `crates/*/src` over 500 lines.
//!
//! A file's dependencies are the files its `crate::…` and `super::…` paths name
//! (in `use` lines and in code; comments are skipped). A path to an item the crate
//! root re-exports (`crate::SessionError`) counts as a path to the file that defines
//! it, and the crate root itself is no node: its re-exports are the crate's front,
//! not a dependency of the files behind it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 500;

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates/")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src` (`tenure/held.rs` -> `["tenure", "held"]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The code of a file without comments (line comments and doc comments).
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .filter(|l| !l.trim().is_empty())
}

/// Every `crate::a::b` or `super::a` path in `line`, as segments from the root.
fn paths_in(line: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (start, _) in line
        .match_indices("crate::")
        .chain(line.match_indices("super::"))
    {
        if start > 0 {
            let before = line.as_bytes()[start - 1];
            if before.is_ascii_alphanumeric() || before == b'_' || before == b':' {
                continue;
            }
        }
        let rest = &line[start..];
        let (mut base, rest): (Vec<String>, &str) = if let Some(r) = rest.strip_prefix("crate::") {
            (Vec::new(), r)
        } else {
            // `super` is the module that contains this one.
            let mut m = module.to_vec();
            m.pop();
            (m, &rest["super::".len()..])
        };
        let mut rest = rest;
        while let Some(r) = rest.strip_prefix("super::") {
            base.pop();
            rest = r;
        }
        // Segments up to the first non-identifier (a `{` group takes each member's
        // first segment).
        let ident = |s: &str| {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        };
        let mut segs = base.clone();
        let mut r = rest;
        let mut grouped = false;
        loop {
            let id = ident(r);
            if id.is_empty() {
                if let Some(group) = r.strip_prefix('{') {
                    grouped = true;
                    for member in group.split(',') {
                        let m = ident(member.trim());
                        if !m.is_empty() {
                            let mut p = segs.clone();
                            p.push(m);
                            out.push(p);
                        }
                    }
                }
                break;
            }
            segs.push(id.clone());
            r = &r[id.len()..];
            match r.strip_prefix("::") {
                Some(next) => r = next,
                None => break,
            }
        }
        if !grouped && !segs.is_empty() {
            out.push(segs);
        }
    }
    out
}

/// Which file a path from the root lands in: the longest prefix that is a module.
fn resolve(
    path: &[String],
    modules: &BTreeMap<Vec<String>, PathBuf>,
    reexports: &BTreeMap<String, Vec<String>>,
) -> Option<PathBuf> {
    if path.len() == 1 {
        if let Some(module) = reexports.get(&path[0]) {
            return modules.get(module).cloned();
        }
    }
    (1..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n]).cloned())
}

/// `pub use module::{A, B}` / `pub use module::A` in the crate root: item -> module.
fn root_reexports(root: &str) -> BTreeMap<String, Vec<String>> {
    let mut map = BTreeMap::new();
    for line in code_lines(root) {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let rest = rest.trim_end_matches(';');
        let (module, items) = match rest.find("::{") {
            Some(i) => (&rest[..i], rest[i + 3..].trim_end_matches('}')),
            None => match rest.rfind("::") {
                Some(i) => (&rest[..i], &rest[i + 2..]),
                None => continue,
            },
        };
        let module: Vec<String> = module
            .trim_start_matches("crate::")
            .split("::")
            .map(str::to_string)
            .collect();
        for item in items.split(',') {
            let item = item.split(" as ").last().unwrap_or("").trim();
            if !item.is_empty() {
                map.insert(item.to_string(), module.clone());
            }
        }
    }
    map
}

/// The dependency graph of one crate's files, keyed by path relative to `src`.
fn graph(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    let root = src.join("lib.rs");
    let reexports = root_reexports(&std::fs::read_to_string(&root).unwrap_or_default());
    let mut graph = BTreeMap::new();
    for file in &files {
        if *file == root {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("readable");
        let module = module_of(src, file);
        let mut deps = BTreeSet::new();
        for line in code_lines(&text) {
            for path in paths_in(line, &module) {
                if let Some(target) = resolve(&path, &modules, &reexports) {
                    if target != *file && target != root {
                        deps.insert(target.strip_prefix(src).unwrap().to_path_buf());
                    }
                }
            }
        }
        graph.insert(file.strip_prefix(src).unwrap().to_path_buf(), deps);
    }
    graph
}

/// A cycle in `graph`, if any, as the files on it.
fn find_cycle(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    fn visit(
        node: &PathBuf,
        graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        stack: &mut Vec<PathBuf>,
        done: &mut BTreeSet<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            return Some(stack[i..].to_vec());
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_import_cycle_among_the_files_of_tenure_node_and_tenure_redis() {
    for krate in ["tenure-node", "tenure-redis"] {
        let src = crates_dir().join(krate).join("src");
        let graph = graph(&src);
        assert!(graph.len() > 5, "{krate}: files found");
        let edges: usize = graph.values().map(BTreeSet::len).sum();
        assert!(edges > graph.len(), "{krate}: imports found: {graph:#?}");
        if let Some(cycle) = find_cycle(&graph) {
            panic!("{krate}: import cycle {cycle:?}\ngraph: {graph:#?}");
        }
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let mut g = BTreeMap::new();
    g.insert(
        PathBuf::from("a.rs"),
        BTreeSet::from([PathBuf::from("b.rs")]),
    );
    g.insert(
        PathBuf::from("b.rs"),
        BTreeSet::from([PathBuf::from("a.rs")]),
    );
    assert!(find_cycle(&g).is_some());
    let module = vec!["session".to_string(), "access".to_string()];
    assert_eq!(
        paths_in("use crate::session::{backing::Backing, slots};", &module),
        vec![
            vec!["session".to_string(), "backing".to_string()],
            vec!["session".to_string(), "slots".to_string()],
        ]
    );
    assert_eq!(
        paths_in("use super::Session;", &module),
        vec![vec!["session".to_string(), "Session".to_string()]]
    );
}

#[test]
fn no_source_file_is_over_500_lines() {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(crates_dir()).expect("crates/").flatten() {
        rust_files(&entry.path().join("src"), &mut files);
    }
    assert!(files.len() > 50, "sources found");
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).ok()?.lines().count();
            (n > MAX_LINES).then(|| format!("{} ({n} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "over {MAX_LINES} lines: {long:?}");
}
