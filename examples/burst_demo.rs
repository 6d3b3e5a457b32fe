//! Burst demo: one actor sends 8 events a second apart under `guard.toml.demo`
//! (`burst_max_events = 3`): allow x3, warn, delay, block x3.
//!
//! ```text
//! cargo run --example burst_demo
//! RUST_LOG=info cargo run --example burst_demo    # also the guard's own log lines
//! ```

use std::time::{Duration, SystemTime};

use pattern_guard::{Guard, ManualClock};
use tracing_subscriber::EnvFilter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        // Colours for a terminal only: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.demo");
    // A manual clock: the demo shows eight seconds of traffic without waiting eight seconds.
    let clock = ManualClock::new(SystemTime::now());
    let guard = Guard::from_config_path(config)?.with_clock(clock.clone());

    println!("burst demo: {config}, burst_max_events = 3, one event per second");
    for i in 1..=8 {
        let target = format!("/api/items/{i}");
        let assessment = guard.assess(&guard.event("user:123", "GET", target.as_str()));
        let why = assessment
            .reasons()
            .first()
            .map_or_else(|| "within limits".into(), ToString::to_string);
        let retry = match assessment.retry_after {
            Some(d) => format!(" (retry in {:.0}s)", d.as_secs_f64()),
            None => String::new(),
        };
        println!(
            "event {i}: {:<12} risk {:.2}  {why}{retry}",
            assessment.decision.to_string(),
            assessment.risk
        );
        clock.advance(Duration::from_secs(1));
    }
    Ok(())
}
