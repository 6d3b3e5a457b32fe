//! The window's own tests: its figures against recounts from its records, in both layouts.

use super::*;
use crate::config::Settings;

/// The figures recounted from the records, as the detectors need them.
fn recount(w: &Window, key: u64) -> (u64, u64, u64) {
    recount_records(&w.records().collect::<Vec<_>>(), key)
}

/// Occurrences of `key`, distinct targets and target switches in `records`.
fn recount_records(records: &[Record], key: u64) -> (u64, u64, u64) {
    let key_count = records.iter().filter(|r| r.key == key).count() as u64;
    let mut targets: Vec<u64> = records.iter().map(|r| r.target).collect();
    targets.sort_unstable();
    targets.dedup();
    let switches = records
        .windows(2)
        .filter(|p| p[0].target != p[1].target)
        .count();
    (key_count, targets.len() as u64, switches as u64)
}

fn record(ts: u64, i: u64) -> Record {
    Record {
        ts,
        key: i % 5,
        target: TARGET_BIT | (i % 3),
        weight: 1_000_000,
    }
}

/// A 10 s window holding at most 400 records.
fn ten_seconds() -> Policy {
    Policy::new(Settings {
        window_secs: 10.0,
        max_events_per_actor: Some(400),
        burst_max_events: 200,
        ..Settings::default()
    })
}

/// The figures after pushing `rec` (which returned `key_count`) equal a recount.
fn assert_counts(window: &Window, rec: &Record, key_count: u32, at: &str) {
    let f = window.figures(key_count);
    assert_eq!(
        (f.key_count, f.distinct_targets, f.switches),
        recount(window, rec.key),
        "{at}: {} records, mapped {}",
        window.len(),
        window.mapped()
    );
}

#[test]
fn counts_stay_exact_as_a_window_grows_past_small_and_shrinks_back() {
    let policy = ten_seconds();
    let mut window = Window::new();
    let mut ts = 0;
    let mut i = 0u64;
    // Bursts of 1 to 30 events 0.1 s apart, then quiet spells that expire some or all.
    for round in 0..60u64 {
        for _ in 0..=(round * 7 % 30) {
            ts += 100_000_000;
            i = i
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let rec = record(ts, i >> 33);
            window.expire(ts, &policy);
            let key_count = window.push(rec, &policy);
            assert_counts(&window, &rec, key_count, &format!("round {round}"));
        }
        ts += 1_000_000_000 * (round % 12);
    }
    // A restore into an empty window ends where the same pushes would.
    let mut restored = Window::new();
    restored.extend(window.records().collect::<Vec<_>>().into_iter(), &policy);
    let last = *window.newest_record().as_ref().unwrap();
    let f = restored.figures(0);
    assert_eq!((f.distinct_targets, f.switches), {
        let (_, d, s) = recount(&window, last.key);
        (d, s)
    });
    assert_eq!(restored.mapped(), restored.len() > SMALL);
    // A window that empties gives its count map back.
    assert!(window.mapped(), "the last burst left a mapped window");
    window.expire(ts + 3_600_000_000_000, &policy);
    assert_eq!((window.len(), window.mapped()), (0, false));
    assert_eq!(window.heap_bytes(), std::mem::size_of::<Record>());
}

/// Every figure recomputed from the records a window should hold.
fn model_figures(records: &[Record], key: u64) -> (u64, u64, u64, u128, u128, u64) {
    let (key_count, targets, switches) = recount_records(records, key);
    let gaps = records.windows(2).map(|p| u128::from(p[1].ts - p[0].ts));
    let weight = records.iter().map(|r| u128::from(r.weight)).sum();
    (
        key_count,
        targets,
        switches,
        gaps.map(|g| g * g).sum(),
        weight,
        records.len() as u64,
    )
}

#[test]
fn records_read_back_whole_in_both_layouts() {
    let policy = ten_seconds();
    let mut window = Window::new();
    let mut model: Vec<Record> = Vec::new();
    let (mut ts, mut x) = (0u64, 7u64);
    let (mut compact_steps, mut expansions) = (0, 0);
    // Long runs of one key at weight 1 (kept as times), broken now and then by another
    // key or another weight; pauses that expire part or all of the window; the cap.
    for step in 0..30_000u64 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let r = x >> 33;
        ts += match r % 1000 {
            0..=4 => 6_000_000_000,
            _ => 1_000_000 + r % 200_000_000,
        };
        let odd_key = r % 499 == 0;
        let rec = Record {
            ts,
            key: if odd_key { r % 3 } else { 7 },
            target: TARGET_BIT | if odd_key { r % 2 } else { 7 },
            weight: if r % 503 == 0 { 2_500_000 } else { WEIGHT_ONE },
        };
        let was_compact = window.compact;
        window.expire(ts, &policy);
        let key_count = window.push(rec, &policy);
        expansions += usize::from(was_compact && !window.compact);
        compact_steps += usize::from(window.compact);
        model.retain(|m| m.ts + policy.window_ns > ts);
        if model.len() >= policy.max_events {
            model.drain(..=model.len() - policy.max_events);
        }
        model.push(rec);
        let held: Vec<Record> = window.records().collect();
        assert_eq!(held, model, "step {step}");
        assert_eq!(window.newest_record(), model.last().copied());
        assert_eq!(window.get(0), model.first().copied());
        let f = window.figures(key_count);
        assert_eq!(
            (
                f.key_count,
                f.distinct_targets,
                f.switches,
                f.gap_sq_sum,
                f.weight_total,
                f.events
            ),
            model_figures(&model, rec.key),
            "step {step}, compact {}",
            window.compact
        );
        if window.compact {
            assert_eq!(window.heap_bytes(), window.records.heap_bytes());
            assert!(model.iter().all(|m| m.weight == WEIGHT_ONE && m.key == 7));
        }
    }
    assert!(
        compact_steps > 10_000 && expansions > 20,
        "the layouts were exercised: {compact_steps} compact steps, {expansions} expansions"
    );
}

#[test]
fn a_window_of_one_key_at_weight_one_keeps_a_quarter_of_the_memory() {
    let policy = ten_seconds();
    let (mut unit, mut weighted) = (Window::new(), Window::new());
    for i in 1..=400 {
        let rec = Record {
            ts: i * 10_000_000,
            key: 7,
            target: TARGET_BIT | 7,
            weight: WEIGHT_ONE,
        };
        unit.push(rec, &policy);
        weighted.push(
            Record {
                weight: 1 + i % 2 * WEIGHT_ONE,
                ..rec
            },
            &policy,
        );
    }
    assert!(unit.compact && !weighted.compact);
    assert_eq!((unit.len(), weighted.len()), (400, 400));
    assert!(
        unit.heap_bytes() * 4 <= weighted.heap_bytes(),
        "{} against {}",
        unit.heap_bytes(),
        weighted.heap_bytes()
    );
    assert!(unit.heap_bytes() <= 2 * 400 * 8, "{}", unit.heap_bytes());
}

#[test]
fn a_window_of_one_key_keeps_no_map_until_another_key_arrives() {
    let policy = ten_seconds();
    let one = |ts| Record {
        ts,
        key: 7,
        target: TARGET_BIT | 7,
        weight: 1_000_000,
    };
    let mut window = Window::new();
    let mut ts = 0;
    // Rounds of one key at 0.1 s, each ending with a different key or not, and pauses that
    // expire part of the window (it slides while uniform) or all of it.
    for round in 0..40u64 {
        let uniform_run = 5 + round * 13 % 90;
        for i in 0..uniform_run {
            ts += 100_000_000;
            window.expire(ts, &policy);
            let key_count = window.push(one(ts), &policy);
            assert_counts(
                &window,
                &one(ts),
                key_count,
                &format!("round {round}, push {i}"),
            );
            if window.records().all(|r| r.key == 7) {
                assert!(
                    !window.mapped(),
                    "round {round}: {} records of one key kept a map",
                    window.len()
                );
            }
        }
        if round % 3 == 0 {
            ts += 100_000_000;
            let other = Record {
                key: round % 4,
                target: TARGET_BIT | (round % 2),
                ..one(ts)
            };
            window.expire(ts, &policy);
            let key_count = window.push(other, &policy);
            assert_counts(
                &window,
                &other,
                key_count,
                &format!("round {round}, other key"),
            );
            assert_eq!(window.mapped(), window.len() > SMALL, "round {round}");
        }
        ts += 1_000_000_000 * (round % 14);
        window.expire(ts, &policy);
    }
    // A restored window of one key keeps no map, and counts on as the original does.
    let mut window = Window::new();
    window.extend((1..=100).map(|i| one(i * 100_000_000)), &policy);
    assert_eq!((window.len(), window.mapped()), (100, false));
    window.expire(10_100_000_000, &policy);
    let key_count = window.push(one(10_100_000_000), &policy);
    assert_counts(&window, &one(10_100_000_000), key_count, "after restore");
    assert_eq!(key_count, 100, "one expired, one pushed");
}
