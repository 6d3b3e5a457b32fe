//! What the `metrics` feature costs a check, in one run. Three workloads over 10,000 actors:
//!
//! - `engine`: the engine bench's own check (`benches/engine.rs`, "check over 10,000 actors"):
//!   actors in turn, one event each a minute (6 ms apart), 64 targets, the clock far ahead, every
//!   check allowed at risk zero;
//! - `normal`: 1,000 checks a second to actors and targets (100) picked at random, risk zero;
//! - `hot`: every check at risk (`burst_max_events = 2`), so each records a histogram sample
//!   and its detectors' firings.
//!
//! Each is timed
//!   - as built (without the feature: "off"; with it: no recorder installed, every handle a no-op),
//!   - and, with the feature, with a guard whose handles are the Prometheus recorder's
//!     (metrics-exporter-prometheus). Its upkeep (which drains the histogram's buffered samples,
//!     as a server runs it every few seconds) runs between rounds, outside the timing.
//!
//! `bash scripts/bench-metrics.sh` runs it both ways and prints the differences;
//! `cargo bench --bench metrics_cost [--features metrics]` runs one.
//!
//! `--paired` (one workload, with `--only`) is for the script's paired run: the process builds
//! and warms its guards, then times one short round of each guard for every line it reads on
//! stdin and prints the times on one line (`off T T_second_guard` or `on T_no_recorder
//! T_prometheus`), so two builds held in memory can take turns many times a second and be
//! compared pair by pair.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pattern_guard::{Event, Guard, ManualClock};

const ACTORS: u64 = 10_000;
/// Checks per round and rounds; `--checks N --rounds N` change them (for counting
/// instructions with callgrind: `--only engine --alone --rounds 1 --checks 200000`).
const CHECKS: u64 = 2_000_000;
const ROUNDS: usize = 7;
/// The engine bench's start time (ns since the epoch) and its number of targets.
const START: u64 = 1_700_000_000_000_000_000;
const ENGINE_TARGETS: u64 = 64;
/// Normal traffic's targets.
const TARGETS: u64 = 100;

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    Engine,
    Normal,
    Hot,
}

impl Workload {
    /// Its name for `--only`.
    fn name(self) -> &'static str {
        match self {
            Workload::Engine => "engine",
            Workload::Normal => "normal",
            Workload::Hot => "hot",
        }
    }

    /// How the script finds the workload's lines.
    fn label(self) -> &'static str {
        match self {
            Workload::Engine => "engine bench's check",
            Workload::Normal => "normal traffic",
            Workload::Hot => "every check at risk",
        }
    }

    fn guard(self) -> Guard {
        match self {
            // The engine bench's clock: far ahead, so the future-timestamp cap stays out of the way.
            Workload::Engine => Guard::new().with_clock(ManualClock::new(
                UNIX_EPOCH + Duration::from_nanos(START) + Duration::from_secs(1_000_000),
            )),
            Workload::Normal => Guard::from_toml_str("[guard]\n").unwrap(),
            Workload::Hot => Guard::from_toml_str("[guard]\nburst_max_events = 2\n").unwrap(),
        }
    }

    /// A guard whose handles are `recorder`'s: registered by a first check made with it as the
    /// local recorder.
    #[cfg(feature = "metrics")]
    fn exported_guard(self, recorder: &metrics_exporter_prometheus::PrometheusRecorder) -> Guard {
        metrics::with_local_recorder(recorder, || {
            let g = self.guard();
            let (_, _, ts) = self.event(0);
            g.check(&Event::new("warm-up", "GET", "/", ts));
            g
        })
    }

    /// The `i`th event's actor, target and time.
    fn event(self, i: u64) -> (u64, u64, SystemTime) {
        if self == Workload::Engine {
            let ts = UNIX_EPOCH + Duration::from_nanos(START + i * 6_000_000);
            return (i % ACTORS, i % ENGINE_TARGETS, ts);
        }
        // 1,000 checks a second, spread over the actors.
        let pick = i.wrapping_mul(2_654_435_761);
        let ts = UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(i);
        (pick % ACTORS, pick / ACTORS % TARGETS, ts)
    }
}

/// One round: nanoseconds per check over CHECKS checks, the events going on from `next`.
#[inline(never)]
fn round(guard: &Guard, workload: Workload, names: &Names, next: &mut u64, checks: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..checks {
        *next += 1;
        let (actor, target, ts) = workload.event(*next);
        let event = Event::new(
            names.actors[actor as usize].as_str(),
            "GET",
            names.targets[target as usize].as_str(),
            ts,
        );
        std::hint::black_box(guard.check(&event));
    }
    start.elapsed().as_nanos() as f64 / checks as f64
}

struct Names {
    actors: Vec<String>,
    targets: Vec<String>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn names() -> Names {
    Names {
        actors: (0..ACTORS).map(|i| format!("user:{i}")).collect(),
        targets: (0..TARGETS).map(|i| format!("/api/items/{i}")).collect(),
    }
}

/// `--paired`: a round of each guard per line read on stdin, the times printed on one line.
fn paired(opts: &Opts) {
    use std::io::{BufRead, Write};
    let workload = [Workload::Engine, Workload::Normal, Workload::Hot]
        .into_iter()
        .find(|w| opts.only.as_deref() == Some(w.name()))
        .expect("--paired needs --only engine, normal or hot");
    let names = names();
    let plain = workload.guard();
    #[cfg(feature = "metrics")]
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    #[cfg(feature = "metrics")]
    let handle = recorder.handle();
    #[cfg(feature = "metrics")]
    let exported = workload.exported_guard(&recorder);
    #[cfg(feature = "metrics")]
    let (guards, label) = ([&plain, &exported], "on");
    // Two guards in every build, as in the rounds above, so each holds as much memory.
    #[cfg(not(feature = "metrics"))]
    let other = workload.guard();
    #[cfg(not(feature = "metrics"))]
    let (guards, label) = ([&plain, &other], "off");
    let mut next = [0u64; 2];
    // Warm-up: every actor in every guard, twice.
    for (g, guard) in guards.iter().enumerate() {
        round(guard, workload, &names, &mut next[g], 2 * ACTORS);
    }
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
        let mut times = Vec::new();
        for (g, guard) in guards.iter().enumerate() {
            times.push(round(guard, workload, &names, &mut next[g], opts.checks));
            #[cfg(feature = "metrics")]
            handle.run_upkeep();
        }
        writeln!(out, "{label} {:.2} {:.2}", times[0], times[1])
            .and_then(|()| out.flush())
            .expect("stdout");
    }
}

/// Nanoseconds per check of each guard (the median of ROUNDS rounds), the guards taking turns
/// round by round so the host's drift hits them alike; `between` runs after each round.
fn per_check(guards: &[&Guard], workload: Workload, opts: &Opts, between: &dyn Fn()) -> Vec<f64> {
    let names = names();
    let mut next = vec![0u64; guards.len()];
    let mut times = vec![Vec::new(); guards.len()];
    for _ in 0..opts.rounds {
        for (g, guard) in guards.iter().enumerate() {
            times[g].push(round(guard, workload, &names, &mut next[g], opts.checks));
            between();
        }
    }
    times.into_iter().map(median).collect()
}

struct Opts {
    only: Option<String>,
    /// Only the guard as built (no recorder), for counting its instructions.
    alone: bool,
    /// Rounds on demand, for the script's paired run.
    paired: bool,
    rounds: usize,
    checks: u64,
}

fn opts() -> Opts {
    let mut opts = Opts {
        only: None,
        alone: false,
        paired: false,
        rounds: ROUNDS,
        checks: CHECKS,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the option");
        match arg.as_str() {
            "--only" => opts.only = Some(value()),
            "--alone" => opts.alone = true,
            "--paired" => opts.paired = true,
            "--rounds" => opts.rounds = value().parse().expect("--rounds N"),
            "--checks" => opts.checks = value().parse().expect("--checks N"),
            _ => {} // cargo bench's own (--bench)
        }
    }
    opts
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("metrics_cost: bench");
        return;
    }
    let opts = opts();
    if opts.paired {
        paired(&opts);
        return;
    }
    for workload in [Workload::Engine, Workload::Normal, Workload::Hot] {
        if opts.only.as_ref().is_some_and(|o| o != workload.name()) {
            continue;
        }
        let case = workload.label();
        let plain = workload.guard();
        if opts.alone {
            let t = per_check(&[&plain], workload, &opts, &|| ());
            println!("as built, alone, {case}: {:.1} ns per check", t[0]);
            continue;
        }
        if workload != Workload::Hot {
            let (actor, target, ts) = workload.event(1);
            let probe = workload.guard();
            let (actor, target) = (format!("user:{actor}"), format!("/api/items/{target}"));
            let event = Event::new(&actor, "GET", &target, ts);
            assert_eq!(probe.assess(&event).risk, 0.0, "{case} is not at risk");
        }
        // Two guards take turns in every build, so each round starts with the same caches.
        #[cfg(not(feature = "metrics"))]
        {
            let other = workload.guard();
            let t = per_check(&[&plain, &other], workload, &opts, &|| ());
            println!("metrics off, {case}: {:.1} ns per check", t[0]);
        }
        #[cfg(feature = "metrics")]
        {
            // The Prometheus recorder, scoped to the guard that registers its handles with it.
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let exported = workload.exported_guard(&recorder);
            let t = per_check(&[&plain, &exported], workload, &opts, &|| {
                handle.run_upkeep();
            });
            println!("metrics on, no recorder, {case}: {:.1} ns per check", t[0]);
            println!(
                "metrics on, Prometheus recorder, {case}: {:.1} ns per check ({:+.1} ns)",
                t[1],
                t[1] - t[0]
            );
            let text = handle.render();
            assert!(text.contains("pattern_guard_decisions_total"), "{text}");
        }
    }
    #[cfg(feature = "metrics")]
    if !opts.alone && opts.only.as_deref().is_none_or(|o| o == "engine") {
        increment_alone(&opts);
    }
}

/// For context: what one increment of a Prometheus counter handle costs by itself, in a loop
/// that does nothing else (the exporter's share of a check's metrics, with nothing of ours).
#[cfg(feature = "metrics")]
fn increment_alone(opts: &Opts) {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let counter = metrics::with_local_recorder(&recorder, || metrics::counter!("alone_total"));
    let noop = metrics::Counter::noop();
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..opts.rounds {
        for (i, c) in [&noop, &counter].into_iter().enumerate() {
            let start = Instant::now();
            for _ in 0..opts.checks {
                std::hint::black_box(c).increment(1);
            }
            times[i].push(start.elapsed().as_nanos() as f64 / opts.checks as f64);
        }
    }
    let [noop, prom] = times.map(median);
    println!(
        "for context, a counter increment alone: Prometheus {prom:.1} ns per increment, \
         a no-op handle {noop:.1} ns"
    );
}
