//! The `pattern-guard` command.
//!
//! This release ships the engine (the `pattern_guard` library, its examples and benchmarks). The
//! command wrapper described in CONTRACT section 5 (`pattern-guard -- COMMAND`, state between
//! runs, supervision) is the next milestone; until it lands the binary says so and exits 125,
//! the code for "pattern-guard itself failed", rather than run a command unguarded.

use std::process::ExitCode;

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        Some("--version" | "-V") => {
            println!("pattern-guard {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!(
                "pattern-guard: the command wrapper is not in this release yet; \
                 use the library (see README.md), or try: cargo run --example burst_demo"
            );
            ExitCode::from(125)
        }
    }
}
