//! The dashboard's modules import in one direction only (the order of `src/lib.rs`):
//! a module may use the modules before it, never one after it, so there is no cycle.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;

/// Lowest layer first.
const ORDER: &[&str] = &[
    "reply", "error", "icons", "routing", "settings", "auth", "cluster", "queue", "engine",
    "state", "openapi", "api", "http", "views", "seed", "app", "server",
];

fn rank(module: &str) -> usize {
    ORDER
        .iter()
        .position(|m| *m == module)
        .unwrap_or_else(|| panic!("module `{module}` is not in the layer order of this test"))
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The crate modules a file names in code (comments left out).
fn uses(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for marker in ["crate::", "$crate::"] {
            let mut rest = code;
            while let Some(i) = rest.find(marker) {
                rest = &rest[i + marker.len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        }
    }
    found
}

#[test]
fn modules_import_downward_only() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut wrong = Vec::new();
    for path in all {
        let rel = path.strip_prefix(&src).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for used in uses(&text) {
            if used == module {
                continue;
            }
            if ORDER.contains(&used.as_str()) && rank(&used) > rank(&module) {
                wrong.push(format!("{} uses crate::{used}", rel.display()));
            }
        }
        rank(&module);
    }
    assert!(
        wrong.is_empty(),
        "imports against the layer order:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn lib_declares_the_modules_in_layer_order() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|l| l.trim_end_matches(';'))
        .collect();
    assert_eq!(declared.len(), ORDER.len(), "{declared:?}");
    // within a numbered group of lib.rs rustfmt sorts alphabetically; across groups the
    // order must follow the layers
    for pair in declared.windows(2) {
        let (a, b) = (rank(pair[0]), rank(pair[1]));
        assert!(
            a < b || lib_group(&lib, pair[0]) == lib_group(&lib, pair[1]),
            "{} is declared before {} in lib.rs but sits above it",
            pair[0],
            pair[1]
        );
    }
}

/// The `// N` group a module is declared in.
fn lib_group(lib: &str, module: &str) -> String {
    let mut group = String::new();
    for line in lib.lines() {
        if let Some(g) = line.strip_prefix("// ") {
            group = g.to_string();
        }
        if line == format!("pub mod {module};") {
            return group;
        }
    }
    panic!("{module} not declared")
}

#[test]
fn views_run_no_hand_written_statements() {
    // views read and write through the engine (generic CRUD, visibility filters) or
    // through the typed queries of `app_models::dashboard`; a statement written by hand
    // in a view is the second data-access style this rule keeps out
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/views");
    let mut found = Vec::new();
    let mut all = Vec::new();
    files(&dir, &mut all);
    for path in all {
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for stmt in [
                "\"SELECT ",
                "\"INSERT ",
                "\"UPDATE ",
                "\"DELETE ",
                "sql_query(",
            ] {
                if code.contains(stmt) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "statements in views:\n{}",
        found.join("\n")
    );
}
