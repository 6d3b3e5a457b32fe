#![cfg(feature = "metrics")] // the metrics the guard records
//! The guard's metrics through a debugging recorder (metrics-util): after a known sequence of
//! checks, every counter equals what the checks decided.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use pattern_guard::{Event, Guard, ManualClock};

/// Every series the recorder holds: (name, sorted labels) -> value.
type Series = BTreeMap<(String, Vec<(String, String)>), DebugValue>;

fn series(recorder: &DebuggingRecorder) -> Series {
    recorder
        .snapshotter()
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect();
            labels.sort();
            ((key.name().to_string(), labels), value)
        })
        .collect()
}

fn counter(s: &Series, name: &str, labels: &[(&str, &str)]) -> u64 {
    let labels = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match s.get(&(name.to_string(), labels)) {
        Some(DebugValue::Counter(n)) => *n,
        None => 0,
        Some(other) => panic!("{name} is not a counter: {other:?}"),
    }
}

const CONFIG: &str = "[guard]\nburst_max_events = 3\nescalation_strikes = 2\n";

/// Burst fires but weighs nothing: its firings happen at risk zero, and count all the same.
const WEIGHTLESS_BURST: &str = "[guard]\nburst_max_events = 3\nrisk_combine = \"weighted_sum\"\n\
                                risk_weight_burst = 0.0\nescalation_strikes = 2\n";

/// What a sequence of checks decided, as the test counted it from the assessments.
struct Made {
    decisions: BTreeMap<&'static str, u64>,
    escalations: u64,
    fired: BTreeMap<&'static str, u64>,
    at_risk: usize,
    /// Checks on which a detector fired and the risk stayed zero.
    fired_at_zero: usize,
    tracked: usize,
}

/// Forty checks by two actors, 700 ms apart, under `config`, recorded by `recorder`.
fn run(recorder: &DebuggingRecorder, config: &str) -> Made {
    metrics::with_local_recorder(recorder, || {
        let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let guard = Guard::from_toml_str(config)
            .unwrap()
            .with_clock(clock.clone());
        let mut made = Made {
            decisions: BTreeMap::new(),
            escalations: 0,
            fired: BTreeMap::new(),
            at_risk: 0,
            fired_at_zero: 0,
            tracked: 0,
        };
        for i in 0..40 {
            clock.advance(Duration::from_millis(700));
            let actor = if i % 4 == 0 { "calm" } else { "busy" };
            let level = |g: &Guard| g.status(actor, None).map_or(0, |s| s.escalation_level);
            let before = level(&guard);
            let a = guard.assess(&Event::new(actor, "GET", "/", clock.time()));
            made.escalations += u64::from(level(&guard) > before);
            for r in a.reasons() {
                *made.fired.entry(r.detector.name()).or_default() += 1;
            }
            made.at_risk += usize::from(a.risk > 0.0);
            made.fired_at_zero += usize::from(a.risk == 0.0 && !a.reasons().is_empty());
            *made.decisions.entry(a.decision.name()).or_default() += 1;
        }
        guard.reset("calm");
        made.tracked = guard.stats().actors;
        made
    })
}

/// Every series `recorder` holds equals what `made` counted.
fn assert_recorded(recorder: &DebuggingRecorder, made: &Made) {
    let s = series(recorder);
    for (decision, n) in &made.decisions {
        assert_eq!(
            counter(
                &s,
                "pattern_guard_decisions_total",
                &[("decision", decision)]
            ),
            *n,
            "{decision}: {s:?}"
        );
    }
    assert_eq!(
        counter(&s, "pattern_guard_escalations_total", &[]),
        made.escalations
    );
    // Every detector's firings, and none for a detector that never fired.
    assert!(made.fired.contains_key("burst"), "{:?}", made.fired);
    for d in pattern_guard::Detector::ALL {
        assert_eq!(
            counter(
                &s,
                "pattern_guard_detector_firings_total",
                &[("detector", d.name())]
            ),
            made.fired.get(d.name()).copied().unwrap_or(0),
            "{}: {:?}",
            d.name(),
            made.fired
        );
    }
    match s.get(&("pattern_guard_risk".to_string(), vec![])) {
        // One sample per check with a risk (the rest are the decisions' count minus these).
        Some(DebugValue::Histogram(samples)) => {
            assert_eq!(samples.len(), made.at_risk);
            assert!(samples
                .iter()
                .all(|r| r.into_inner() > 0.0 && r.into_inner() <= 1.0));
        }
        None => assert_eq!(made.at_risk, 0),
        other => panic!("the risk is not a histogram: {other:?}"),
    }
    match s.get(&("pattern_guard_actors".to_string(), vec![])) {
        Some(DebugValue::Gauge(n)) => assert_eq!(n.into_inner(), made.tracked as f64),
        other => panic!("no actors gauge: {other:?}"),
    }
    // No series carries an actor unless asked.
    assert!(s
        .keys()
        .all(|(_, labels)| labels.iter().all(|(k, _)| k != "actor")));
}

#[test]
fn counters_equal_the_decisions_made() {
    let recorder = DebuggingRecorder::new();
    let made = run(&recorder, CONFIG);
    assert!(
        made.decisions.len() >= 3,
        "the sequence walks the bands: {:?}",
        made.decisions
    );
    assert!(made.escalations > 0);
    assert!(made.at_risk > 0 && made.at_risk < 40, "{}", made.at_risk);
    assert_recorded(&recorder, &made);
}

#[test]
fn a_detector_firing_at_risk_zero_is_counted() {
    let recorder = DebuggingRecorder::new();
    let made = run(&recorder, WEIGHTLESS_BURST);
    assert!(made.fired_at_zero > 0, "burst never fired at risk zero");
    assert_recorded(&recorder, &made);
}

#[test]
fn evictions_are_counted_and_named_actors_get_series_of_their_own() {
    let recorder = DebuggingRecorder::new();
    let evicted = metrics::with_local_recorder(&recorder, || {
        let guard = Guard::from_toml_str("[guard]\nmax_actors = 64\n")
            .unwrap()
            .with_metrics_actors(["cron:backup"]);
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for i in 0..1000 {
            guard.check(&Event::new(format!("ip:{i}"), "GET", "/", t));
        }
        for _ in 0..5 {
            guard.check(&Event::new("cron:backup", "run", "-", t));
        }
        assert!(guard.stats().evicted > 0);
        guard.stats().evicted
    });
    let s = series(&recorder);
    assert_eq!(
        counter(&s, "pattern_guard_actors_evicted_total", &[]),
        evicted
    );
    let named = counter(
        &s,
        "pattern_guard_actor_decisions_total",
        &[("actor", "cron:backup"), ("decision", "allow")],
    ) + counter(
        &s,
        "pattern_guard_actor_decisions_total",
        &[("actor", "cron:backup"), ("decision", "warn")],
    );
    assert_eq!(named, 5, "{s:?}");
    let actors: Vec<&String> = s
        .keys()
        .flat_map(|(_, labels)| labels.iter().filter(|(k, _)| k == "actor").map(|(_, v)| v))
        .collect();
    assert!(actors.iter().all(|a| *a == "cron:backup"), "{actors:?}");
}

/// The actors gauge and the evictions counter, added up over snapshots: a snapshot of the
/// debugging recorder takes the values it reads (they start again from zero).
struct Totals<'a> {
    recorder: &'a DebuggingRecorder,
    actors: f64,
    evicted: u64,
}

impl Totals<'_> {
    fn actors(&mut self) -> f64 {
        let s = series(self.recorder);
        self.actors += match s.get(&("pattern_guard_actors".to_string(), vec![])) {
            Some(DebugValue::Gauge(n)) => n.into_inner(),
            None => 0.0,
            Some(other) => panic!("the actors gauge is not a gauge: {other:?}"),
        };
        self.evicted += counter(&s, "pattern_guard_actors_evicted_total", &[]);
        self.actors
    }
}

#[test]
fn the_actors_gauge_follows_sweeps_restores_merges_and_resets() {
    let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let config = "[guard]\nwindow_secs = 10\nmax_actors = 100\n";
    // A history of 150 actors, and a memory of it with ten more, made where no recorder is
    // installed (these guards record nothing: the gauge sums every guard that does).
    let history = Guard::from_toml_str("[guard]\nwindow_secs = 10\n")
        .unwrap()
        .with_clock(ManualClock::new(start));
    for i in 0..150 {
        history.check(&Event::new(format!("old:{i}"), "GET", "/", start));
    }
    let snapshot = history.export();
    let other = Guard::from_toml_str(config).unwrap();
    other.restore(&snapshot).unwrap();
    for i in 0..10 {
        other.check(&Event::new(format!("more:{i}"), "GET", "/", start));
    }
    let more = other.export();

    let recorder = DebuggingRecorder::new();
    let mut totals = Totals {
        recorder: &recorder,
        actors: 0.0,
        evicted: 0,
    };
    metrics::with_local_recorder(&recorder, || {
        let clock = ManualClock::new(start);
        let guard = Guard::from_toml_str(config)
            .unwrap()
            .with_clock(clock.clone());
        let tracked = |g: &Guard| g.stats().actors as f64;
        for i in 0..50 {
            guard.check(&Event::new(format!("early:{i}"), "GET", "/", clock.time()));
        }
        assert_eq!(totals.actors(), 50.0);

        // Their windows pass; the checks of five new actors run the sweeps that forget them.
        clock.advance(Duration::from_secs(60));
        for i in 0..300 {
            guard.check(&Event::new(
                format!("new:{}", i % 5),
                "GET",
                "/",
                clock.time(),
            ));
        }
        assert_eq!(tracked(&guard), 5.0, "the sweeps forgot the early actors");
        assert_eq!(totals.actors(), 5.0);

        // A restore of 150 actors under a cap of 100 evicts some of them on the way in.
        guard.restore(&snapshot).unwrap();
        assert!(guard.stats().evicted > 0);
        assert!(tracked(&guard) <= 100.0);
        assert_eq!(totals.actors(), tracked(&guard));

        // A merge of a memory with ten more actors (the same history, so the same hash seed).
        guard.merge(&more).unwrap();
        assert_eq!(totals.actors(), tracked(&guard));

        // Which actors the cap evicted depends on the hash seed: reset one that is tracked.
        let one = guard.actors(None).swap_remove(0).actor;
        assert!(guard.reset(&one));
        assert_eq!(totals.actors(), tracked(&guard));
        guard.reset_all();
        assert_eq!(totals.actors(), 0.0);
        assert_eq!(totals.evicted, guard.stats().evicted);
    });
}
