//! What the `metrics` feature costs a check, in one run: the same loop (checks over 10,000
//! actors with the clock advancing, the engine's steady case) timed
//!   - as built (without the feature: "off"; with it: no recorder installed, every handle a no-op),
//!   - and, with the feature, after installing the Prometheus recorder
//!     (metrics-exporter-prometheus), with a guard built after it.
//!
//! `bash scripts/bench-metrics.sh` runs it both ways and prints the differences;
//! `cargo bench --bench metrics_cost [--features metrics]` runs one.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pattern_guard::{Event, Guard};

const ACTORS: u64 = 10_000;
/// Each actor's events go to targets among these.
const TARGETS: u64 = 100;
const CHECKS: u64 = 2_000_000;
const ROUNDS: usize = 7;
/// Normal traffic: 1,000 checks a second over 10,000 actors and 100 targets, nobody near a limit
/// (the risk is zero); `HOT` gives every check a risk (everyone over the burst limit).
const CONFIG: &str = "[guard]\n";
const HOT: &str = "[guard]\nburst_max_events = 2\n";

fn at(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_nanos(ns)
}

/// One round: nanoseconds per check over CHECKS checks, the clock going on from `now`.
fn round(guard: &Guard, actors: &[String], targets: &[String], now: &mut u64) -> f64 {
    let start = Instant::now();
    for i in 0..CHECKS {
        *now += 1_000_000; // 1,000 checks a second, spread over the actors
        let pick = i.wrapping_mul(2_654_435_761);
        let actor = &actors[(pick % ACTORS) as usize];
        let target = &targets[(pick / ACTORS % TARGETS) as usize];
        let event = Event::new(actor.as_str(), "GET", target.as_str(), at(*now));
        std::hint::black_box(guard.check(&event));
    }
    start.elapsed().as_nanos() as f64 / CHECKS as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Nanoseconds per check of each guard (the median of ROUNDS rounds), the guards taking turns
/// round by round so the host's drift hits them alike.
fn per_check(guards: &[&Guard]) -> Vec<f64> {
    let actors: Vec<String> = (0..ACTORS).map(|i| format!("user:{i}")).collect();
    let targets: Vec<String> = (0..TARGETS).map(|i| format!("/items/{i}")).collect();
    let mut now = vec![0u64; guards.len()];
    let mut times = vec![Vec::new(); guards.len()];
    for _ in 0..ROUNDS {
        for (g, guard) in guards.iter().enumerate() {
            times[g].push(round(guard, &actors, &targets, &mut now[g]));
        }
    }
    times.into_iter().map(median).collect()
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("metrics_cost: bench");
        return;
    }
    for (config, case) in [(CONFIG, ""), (HOT, ", every check at risk")] {
        let plain = Guard::from_toml_str(config).unwrap();
        // Two guards take turns in every build, so each round starts with the same caches.
        #[cfg(not(feature = "metrics"))]
        {
            let other = Guard::from_toml_str(config).unwrap();
            let t = per_check(&[&plain, &other]);
            println!("metrics off{case}: {:.1} ns per check", t[0]);
        }
        #[cfg(feature = "metrics")]
        {
            if config == CONFIG {
                let probe = Guard::from_toml_str(config).unwrap();
                let a = probe.assess(&Event::new("user:1", "GET", "/items/1", at(1)));
                assert_eq!(a.risk, 0.0, "normal traffic is not at risk");
            }
            // The Prometheus recorder, scoped to the guard that registers its handles with it.
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let exported = metrics::with_local_recorder(&recorder, || {
                let g = Guard::from_toml_str(config).unwrap();
                g.check(&Event::new("warm-up", "GET", "/", at(0)));
                g
            });
            let t = per_check(&[&plain, &exported]);
            println!("metrics on, no recorder{case}: {:.1} ns per check", t[0]);
            println!(
                "metrics on, Prometheus recorder{case}: {:.1} ns per check ({:+.1} ns)",
                t[1],
                t[1] - t[0]
            );
            let text = handle.render();
            assert!(text.contains("pattern_guard_decisions_total"), "{text}");
        }
    }
}
