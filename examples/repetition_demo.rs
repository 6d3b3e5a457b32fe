//! Repetition demo: the same (action, target) over and over, under `guard.toml.demo`
//! (`repetition_max_count = 2`), beside a client that varies its targets.
//!
//! ```text
//! cargo run --example repetition_demo
//! ```

use std::time::{Duration, SystemTime};

use pattern_guard::{Detector, Guard, ManualClock};
use tracing_subscriber::EnvFilter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        // Colours for a terminal only: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.demo");
    let clock = ManualClock::new(SystemTime::now());
    let guard = Guard::from_config_path(config)?.with_clock(clock.clone());

    println!("repetition demo: {config}, repetition_max_count = 2");
    println!("a retry loop hammering POST /api/login, one event every 10s:");
    for i in 1..=5 {
        let a = guard.assess(&guard.event("script:retry", "POST", "/api/login"));
        let rep = a
            .readings
            .iter()
            .find(|r| r.detector == Detector::Repetition);
        println!(
            "  attempt {i}: {:<12} risk {:.2}  ({})",
            a.decision.to_string(),
            a.risk,
            rep.map(ToString::to_string).unwrap_or_default()
        );
        clock.advance(Duration::from_secs(10));
    }
    println!("a client reading different pages, one every 30s:");
    for (i, page) in ["/a", "/b", "/a", "/c", "/b"].iter().enumerate() {
        let a = guard.assess(&guard.event("user:7", "GET", *page));
        println!(
            "  request {}: {:<12} risk {:.2}  GET {page}",
            i + 1,
            a.decision.to_string(),
            a.risk
        );
        clock.advance(Duration::from_secs(30));
    }
    Ok(())
}
