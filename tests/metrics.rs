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

#[test]
fn counters_equal_the_decisions_made() {
    let recorder = DebuggingRecorder::new();
    let (decisions, escalations, fired, at_risk, tracked) =
        metrics::with_local_recorder(&recorder, || {
            let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
            let guard = Guard::from_toml_str(CONFIG)
                .unwrap()
                .with_clock(clock.clone());
            let mut decisions: BTreeMap<&str, u64> = BTreeMap::new();
            let (mut escalations, mut at_risk) = (0, 0);
            let mut fired: BTreeMap<&str, u64> = BTreeMap::new();
            for i in 0..40 {
                clock.advance(Duration::from_millis(700));
                let actor = if i % 4 == 0 { "calm" } else { "busy" };
                let level = |g: &Guard| g.status(actor, None).map_or(0, |s| s.escalation_level);
                let before = level(&guard);
                let a = guard.assess(&Event::new(actor, "GET", "/", clock.time()));
                escalations += u64::from(level(&guard) > before);
                for r in a.reasons() {
                    *fired.entry(r.detector.name()).or_default() += 1;
                }
                at_risk += usize::from(a.risk > 0.0);
                *decisions.entry(a.decision.name()).or_default() += 1;
            }
            guard.reset("calm");
            (decisions, escalations, fired, at_risk, guard.stats().actors)
        });
    let s = series(&recorder);
    for (decision, n) in &decisions {
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
    assert!(
        decisions.len() >= 3,
        "the sequence walks the bands: {decisions:?}"
    );
    assert_eq!(
        counter(&s, "pattern_guard_escalations_total", &[]),
        escalations
    );
    assert!(escalations > 0);
    // Every detector's firings, and none for a detector that never fired.
    assert!(fired.contains_key("burst"), "{fired:?}");
    for d in pattern_guard::Detector::ALL {
        assert_eq!(
            counter(
                &s,
                "pattern_guard_detector_firings_total",
                &[("detector", d.name())]
            ),
            fired.get(d.name()).copied().unwrap_or(0),
            "{}: {fired:?}",
            d.name()
        );
    }
    match s.get(&("pattern_guard_risk".to_string(), vec![])) {
        Some(DebugValue::Histogram(samples)) => {
            // One sample per check with a risk (the rest are the decisions' count minus these).
            assert_eq!(samples.len(), at_risk);
            assert!(at_risk > 0 && at_risk < 40, "{at_risk}");
            assert!(samples
                .iter()
                .all(|r| r.into_inner() > 0.0 && r.into_inner() <= 1.0));
        }
        other => panic!("no risk histogram: {other:?}"),
    }
    match s.get(&("pattern_guard_actors".to_string(), vec![])) {
        Some(DebugValue::Gauge(n)) => assert_eq!(n.into_inner(), tracked as f64),
        other => panic!("no actors gauge: {other:?}"),
    }
    // No series carries an actor unless asked.
    assert!(s
        .keys()
        .all(|(_, labels)| labels.iter().all(|(k, _)| k != "actor")));
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
