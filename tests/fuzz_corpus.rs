#![cfg(all(feature = "input", feature = "journal"))]
//! The fuzz targets' checks (fuzz/checks.rs) over the checked-in corpus (fuzz/corpus/TARGET/),
//! on stable Rust: every input the fuzzers kept, and every crash they found (added as a regression
//! input), still passes. Running the fuzzers themselves needs cargo-fuzz and a nightly toolchain:
//! see docs/RELIABILITY.md.

#[path = "../fuzz/checks.rs"]
mod checks;

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} is empty", dir.display());
    inputs
}

fn replay(target: &str, check: fn(&[u8])) {
    for (name, data) in corpus(target) {
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: {name} fails its check");
    }
}

#[test]
fn config_corpus() {
    replay("config", checks::config);
}

#[test]
fn state_corpus() {
    replay("state", checks::state);
}

#[test]
fn replay_line_corpus() {
    replay("replay_line", checks::replay_line);
}

#[test]
fn engine_corpus() {
    replay("engine", checks::engine);
}
