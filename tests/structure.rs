//! The shape of the source: no import circle between the library's
//! modules, and no file or function longer than a reader can hold.
//!
//! The modules are read from their `use` lines and paths (`crate::a::b`,
//! `super::b`), comments left out: the top-level modules, with `engine`
//! split into the run loop (`engine`), its plan (`engine::plan`) and the
//! two engines (`engine::cpu`, `engine::gpu`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file under src/ (`engine/cpu/mod.rs`: engine, cpu).
fn module_of(rel: &Path) -> Vec<String> {
    let mut segs: Vec<String> = rel
        .with_extension("")
        .iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    if segs.last().is_some_and(|s| s == "mod" || s == "lib") {
        segs.pop();
    }
    segs
}

/// The node of the graph a module path belongs to.
fn node(segs: &[String]) -> String {
    match segs {
        [e, sub, ..] if e == "engine" && ["cpu", "gpu", "plan"].contains(&sub.as_str()) => {
            format!("engine::{sub}")
        }
        // crate::Error and other re-exports at the root
        [first, ..] if first.starts_with(char::is_uppercase) => "lib".into(),
        [first, ..] => first.clone(),
        [] => "lib".into(),
    }
}

/// Each code line's text without its comment, up to the file's unit tests
/// (`#[cfg(test)]`, which the library does not import).
fn code(text: &str) -> String {
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths `text` refers to from module `here`: `crate::a::b`,
/// `crate::{a, b::c}`, `super::a`.
fn references(text: &str, here: &[String]) -> Vec<Vec<String>> {
    let ident = |s: &str| -> Vec<String> {
        s.split("::")
            .map(|p| p.trim().to_string())
            .take_while(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .collect()
    };
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    for (i, _) in text.match_indices("crate::") {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
            continue;
        }
        let rest = &text[i + 7..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                out.push(ident(item));
            }
        } else {
            out.push(ident(rest));
        }
    }
    // super:: is the parent module (of a mod.rs: of its directory's module)
    let parent: Vec<String> = here[..here.len().saturating_sub(1)].to_vec();
    for (i, _) in text.match_indices("super::") {
        if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
            continue;
        }
        let rest = &text[i + 7..];
        let items: Vec<Vec<String>> = match rest.strip_prefix('{') {
            Some(group) => {
                let end = group.find('}').unwrap_or(group.len());
                group[..end].split(',').map(ident).collect()
            }
            None => vec![ident(rest)],
        };
        for item in items {
            let mut full = parent.clone();
            full.extend(item);
            out.push(full);
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Every edge between two nodes, with a file that makes it.
fn graph() -> BTreeMap<String, BTreeMap<String, String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap().to_path_buf();
        if rel == Path::new("main.rs") {
            continue; // the binary, above the library
        }
        let here = module_of(&rel);
        let from = node(&here);
        let text = code(&std::fs::read_to_string(&f).unwrap());
        g.entry(from.clone()).or_default();
        for r in references(&text, &here) {
            let to = node(&r);
            if to != from && to != "lib" {
                g.entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_insert_with(|| rel.display().to_string());
            }
        }
    }
    g
}

/// A circle of `g`, if there is one.
fn find_circle(g: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeMap<String, String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flat_map(|e| e.keys()) {
            match state.get(m).copied().unwrap_or(0) {
                1 => {
                    let start = path.iter().position(|p| p == m).unwrap();
                    let mut c = path[start..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, g, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_modules_import_each_other_without_a_circle() {
    let g = graph();
    // the reader finds edges: the engines depend on the network and the plan
    for (from, to) in [
        ("engine::cpu", "network"),
        ("engine::gpu", "engine::plan"),
        ("config", "network"),
        ("run", "engine"),
    ] {
        assert!(
            g.get(from).is_some_and(|e| e.contains_key(to)),
            "{from} -> {to} not found: the reader is broken"
        );
    }
    if let Some(c) = find_circle(&g) {
        let steps: Vec<String> = c
            .windows(2)
            .map(|w| format!("{} -> {} ({})", w[0], w[1], g[&w[0]][&w[1]]))
            .collect();
        panic!("import circle:\n  {}", steps.join("\n  "));
    }
    // the two engines are independent of each other
    for (a, b) in [
        ("engine::gpu", "engine::cpu"),
        ("engine::cpu", "engine::gpu"),
    ] {
        assert!(!g[a].contains_key(b), "{a} imports {b} ({})", g[a][b]);
    }
}

#[test]
fn the_circle_finder_finds_circles() {
    let mut g: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (a, b) in [("a", "b"), ("b", "c"), ("c", "d")] {
        g.entry(a.into())
            .or_default()
            .insert(b.into(), String::new());
    }
    assert_eq!(find_circle(&g), None);
    g.entry("d".into())
        .or_default()
        .insert("b".into(), String::new());
    assert_eq!(find_circle(&g).unwrap(), ["b", "c", "d", "b"]);
}

/// Lines of each function of `text` (a `fn` at some indentation to the
/// first `}` at that indentation): (name, first line, length).
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let indent = &l[..l.len() - t.len()];
        let t = t
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub(super) ")
            .trim_start_matches("pub ");
        let Some(rest) = t.strip_prefix("fn ") else {
            continue;
        };
        if l.trim_end().ends_with(';') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let close = format!("{indent}}}");
        if let Some(k) = lines[i + 1..].iter().position(|x| *x == close) {
            out.push((name, i + 1, k + 2));
        }
    }
    out
}

#[test]
fn no_source_file_is_above_800_lines_and_no_function_above_150() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "tests", "examples", "python/src"] {
        rust_files(&root.join(dir), &mut files);
    }
    let mut long = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let rel = f.strip_prefix(root).unwrap().display().to_string();
        let n = text.lines().count();
        if n > 800 {
            long.push(format!("{rel}: {n} lines"));
        }
        for (name, line, len) in functions(&text) {
            if len > 150 {
                long.push(format!("{rel}:{line}: fn {name} is {len} lines"));
            }
        }
    }
    assert!(long.is_empty(), "too long:\n  {}", long.join("\n  "));
}

#[test]
fn the_length_reader_measures_functions() {
    let text =
        "fn a() {\n    x;\n}\n\n    pub fn b(\n        y: u32,\n    ) {\n        z;\n    }\n";
    assert_eq!(
        functions(text),
        [("a".to_string(), 1, 3), ("b".to_string(), 5, 5)]
    );
}

#[test]
fn the_library_reads_no_environment_variable() {
    // the NACC_* knobs are parsed once, by the binary (src/main.rs), into
    // nacc::tuning::Tuning
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut readers = Vec::new();
    for f in files {
        if f.ends_with("main.rs") {
            continue;
        }
        let text = code(&std::fs::read_to_string(&f).unwrap());
        for pat in ["env::var(", "env::var_os(", "env::vars("] {
            if text.contains(pat) {
                readers.push(format!("{} ({pat})", f.display()));
            }
        }
    }
    assert!(
        readers.is_empty(),
        "the library reads the environment: {readers:?}"
    );
    assert!(
        std::fs::read_to_string(src.join("main.rs"))
            .unwrap()
            .contains("Tuning::from_vars")
    );
}
