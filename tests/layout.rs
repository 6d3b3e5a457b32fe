//! The source layout keeps its promises (docs/ARCHITECTURE.md): the library's modules depend on
//! each other one way (no import cycle), and no CLI module reaches back into the items of its
//! parent module (children use their siblings, parents use their children). Test modules are
//! left out: a test may use anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A file's text without its `#[cfg(test)]` modules (they come last, by convention here).
fn code(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match text.find("#[cfg(test)]\nmod ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Every `crate::NAME` a file mentions, NAME being a module of the library.
fn crate_deps(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if modules.contains(&name) {
            deps.insert(name);
        }
    }
    deps
}

/// The `.rs` files under `dir`, at any depth (`input/time/by_hand.rs` belongs to `input`).
fn rs_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rs_files(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            files.push(path);
        }
    }
    files
}

fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn library_modules_depend_one_way() {
    // A module is `src/NAME.rs` or `src/NAME/` (all its files count as the module); `cli` is
    // the binary's and checked below.
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for entry in fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() && name != "cli" {
            for inner in rs_files(&path) {
                files.push((name.clone(), inner));
            }
        } else if path.extension().is_some_and(|x| x == "rs") && !["lib", "main"].contains(&&*name)
        {
            files.push((name, path));
        }
    }
    let modules: BTreeSet<String> = files.iter().map(|(n, _)| n.clone()).collect();
    assert!(modules.len() >= 10, "found only {modules:?}");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, path) in &files {
        let deps = graph.entry(name.clone()).or_default();
        deps.extend(crate_deps(&code(path), &modules));
        deps.remove(name);
    }
    assert_eq!(
        find_cycle(&graph),
        None,
        "an import cycle; graph: {graph:#?}"
    );
    // The check can fail: a made-up cycle is found.
    let mut broken = graph.clone();
    broken.get_mut("clock").unwrap().insert("guard".into());
    assert!(find_cycle(&broken).is_some());
}

/// Names of the items a module file itself defines (not its submodules).
fn defined_items(text: &str) -> BTreeSet<String> {
    let mut items = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim_start();
        let line = line
            .strip_prefix("pub(crate) ")
            .or_else(|| line.strip_prefix("pub(super) "))
            .or_else(|| line.strip_prefix("pub "))
            .unwrap_or(line);
        let line = line.strip_prefix("async ").unwrap_or(line);
        for kw in [
            "fn ", "struct ", "enum ", "const ", "static ", "type ", "trait ",
        ] {
            if let Some(rest) = line.strip_prefix(kw) {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    items.insert(name);
                }
            }
        }
    }
    items
}

/// The first path segment after every `prefix` (`super::`, `crate::cli::`), looking inside
/// `super::{a, b::c}` groups.
fn names_after(text: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        rest = &rest[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut start) = (0, 0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        names.push(ident(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.push(ident(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            names.push(ident(rest));
        }
    }
    names
}

#[test]
fn super_paths_are_read_inside_groups() {
    let text = "use super::{args::{A, B}, Failure};\nsuper::human(d);\ncrate::cli::run()";
    assert_eq!(names_after(text, "super::"), ["args", "Failure", "human"]);
    assert_eq!(names_after(text, "crate::cli::"), ["run"]);
}

/// Every `mod.rs` under `dir`, with the files of its child modules.
fn module_dirs(dir: &Path, out: &mut Vec<(PathBuf, String, Vec<PathBuf>)>) {
    let mut children = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            module_dirs(&path, out);
            children.push(path.join("mod.rs"));
        } else if path.extension().is_some_and(|x| x == "rs")
            && path.file_name().is_some_and(|n| n != "mod.rs")
        {
            children.push(path);
        }
    }
    let path = dir
        .strip_prefix(src())
        .unwrap()
        .to_string_lossy()
        .replace('/', "::");
    out.push((dir.join("mod.rs"), format!("crate::{path}::"), children));
}

#[test]
fn cli_modules_never_reach_back_into_their_parent() {
    let mut dirs = Vec::new();
    module_dirs(&src().join("cli"), &mut dirs);
    let mut checked = 0;
    for (parent, module_path, children) in dirs {
        let items = defined_items(&code(&parent));
        for child in children {
            let text = code(&child);
            let mut names = names_after(&text, "super::");
            names.extend(names_after(&text, &module_path));
            for name in names {
                assert!(
                    !items.contains(&name),
                    "{} uses `{name}`, an item of its parent {}: move it to a module of its own",
                    child.display(),
                    parent.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 8, "checked only {checked} files");
}
