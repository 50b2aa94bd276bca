//! The layering of the crate, checked from its sources: `src/server/` is a directed acyclic
//! graph of modules (no module imports one that imports it back), `metrics` imports nothing of
//! `server`, `scim` imports nothing else of the crate and `mapping` only `scim`. Run it alone with `cargo test --test architecture`.
//!
//! What counts as an import: every `crate::server::<module>` path (in `use` lines, brace lists
//! and inline paths) outside `//` comments, and `super::<module>` in a file directly under
//! `src/server/`. A module in a folder (`src/server/groups/…`) is one node, named for its
//! folder.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("readable source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The source of `path` without its `//` comments (line and doc comments).
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).expect("readable source file");
    text.lines()
        .map(|line| match line.find("//") {
            // Not inside a string literal holding a URL: good enough for this code base.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first path segment after each occurrence of `prefix` in `code`; a brace list after the
/// prefix (`prefix{a, b::c}`) gives each of its items' first segment.
fn segments_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let before_ok = rest[..at].chars().next_back().is_none_or(|c| !is_ident(c));
        rest = &rest[at + prefix.len()..];
        if !before_ok {
            continue;
        }
        if let Some(list) = rest.strip_prefix('{') {
            let end = list.find('}').unwrap_or(list.len());
            for item in list[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| is_ident(*c)).collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The crate's top-level modules a file uses (`crate::<module>`).
fn crate_imports(path: &Path) -> BTreeSet<String> {
    segments_after(&code(path), "crate::")
}

/// `src/server/` as a graph: module → the modules of `server` it imports.
fn server_graph() -> BTreeMap<String, BTreeSet<String>> {
    let server = src().join("server");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&server) {
        let rel = file.strip_prefix(&server).expect("under src/server");
        let first = rel
            .components()
            .next()
            .expect("a path")
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "mod" {
            continue;
        }
        let text = code(&file);
        let mut deps = segments_after(&text, "crate::server::");
        if rel.components().count() == 1 {
            deps.extend(segments_after(&text, "super::"));
        }
        deps.retain(|d| *d != module && d != "tests" && d != "super" && d != "self");
        graph.entry(module).or_default().extend(deps);
    }
    graph
}

/// A cycle of `graph`, if it has one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<String, Mark>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = path.iter().position(|n| n == node).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(node.to_string());
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.to_string(), Mark::Open);
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, marks, path) {
                return Some(cycle);
            }
        }
        path.pop();
        marks.insert(node.to_string(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(cycle);
        }
    }
    None
}

#[test]
fn the_server_modules_form_layers_without_cycles() {
    let graph = server_graph();
    assert!(graph.len() > 10, "the graph was read: {graph:?}");
    for (module, deps) in &graph {
        for d in deps {
            assert!(
                graph.contains_key(d),
                "{module} imports server::{d}, which is not a module of src/server"
            );
        }
    }
    if let Some(cycle) = find_cycle(&graph) {
        let shown: Vec<String> = graph
            .iter()
            .map(|(m, d)| format!("{m}: {}", d.iter().cloned().collect::<Vec<_>>().join(" ")))
            .collect();
        panic!(
            "src/server has an import cycle: {}\nthe graph:\n{}",
            cycle.join(" → "),
            shown.join("\n")
        );
    }
}

#[test]
fn metrics_takes_plain_labels_and_imports_nothing_of_server() {
    let imports = crate_imports(&src().join("metrics.rs"));
    assert!(
        !imports.contains("server"),
        "src/metrics.rs imports crate::server: {imports:?}"
    );
}

#[test]
fn scim_is_pure_and_mapping_sees_only_scim() {
    for file in rust_files(&src().join("scim")) {
        let imports = crate_imports(&file);
        let others: Vec<_> = imports.iter().filter(|m| *m != "scim").collect();
        assert!(
            others.is_empty(),
            "{} imports {others:?}: scim imports nothing else of the crate",
            file.display()
        );
    }
    let allowed = ["mapping", "scim"];
    for file in rust_files(&src().join("mapping")) {
        let imports = crate_imports(&file);
        let others: Vec<_> = imports
            .iter()
            .filter(|m| !allowed.contains(&m.as_str()))
            .collect();
        assert!(
            others.is_empty(),
            "{} imports {others:?}: mapping imports only scim",
            file.display()
        );
    }
}
