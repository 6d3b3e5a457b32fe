//! What each fuzz target checks, shared by the cargo-fuzz targets (`fuzz_targets/*.rs`) and by the
//! stable test that replays the checked-in corpus (`tests/fuzz_corpus.rs`). Every check must hold for
//! any input: no panic, and the stated property.
//!
//! The parsers and the state codec are the library's (`pattern_guard::input`,
//! `pattern_guard::journal`, both behind features the binary turns on), so the fuzzers test the
//! code the binary runs.

#![allow(dead_code)]

use std::time::{Duration, UNIX_EPOCH};

use pattern_guard::input::{self, time};
use pattern_guard::{journal, Combine, Config, Event, Guard, ManualClock};

#[path = "../tests/common/mod.rs"]
mod common;

/// Config text: parsing never panics; an accepted config builds a guard, and an error names a
/// place in the text.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::parse(text, "fuzz.toml") {
        Ok(config) => {
            let guard = Guard::from_config(config.clone()).expect("a parsed config is valid");
            let _ = config.settings_for("cli");
            guard.check(&guard.event("a", "b", "c"));
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.starts_with("fuzz.toml"), "{message}");
        }
    }
}

/// State files: decoding never panics; whatever loads re-encodes into a file that loads to the
/// same memory (and the same extra bytes, where the CLI keeps its running instances).
pub fn state(data: &[u8]) {
    let Ok(parsed) = journal::decode(data) else {
        return;
    };
    let guard = Guard::new();
    let Ok(applied) = parsed.apply(&guard) else {
        return;
    };
    let snapshot = guard.export();
    let bytes = journal::encode(&snapshot, &applied.extra).expect("a loaded state encodes");
    let again = Guard::new();
    let loaded = journal::decode(&bytes)
        .and_then(|j| j.apply(&again))
        .expect("a re-encoded state loads");
    assert_eq!(loaded.appended.0, 0);
    assert!(loaded.damaged_tail.is_none());
    assert!(loaded.unfinished_tail.is_none());
    assert_eq!(loaded.extra, applied.extra);
    assert_eq!(again.export(), snapshot);
}

/// Replay lines and times: parsers never panic, and a time that parses prints back to itself.
pub fn replay_line(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = input::parse_jsonl(text);
    for (drop_query, weight_from_size) in [(false, false), (true, true)] {
        if let Ok(e) = input::parse_combined(
            text,
            input::CombinedOptions {
                drop_query,
                weight_from_size,
            },
        ) {
            assert!(e.weight >= 0.0);
            assert!(!drop_query || !e.target.contains('?'));
        }
    }
    if let Ok(ns) = time::rfc3339(text) {
        let printed = time::format_rfc3339(ns);
        assert_eq!(
            time::rfc3339(&printed),
            Ok(ns / 1_000_000 * 1_000_000),
            "{text} -> {printed}"
        );
    }
    let _ = time::event_time(text);
}

/// Reads the fuzzer's bytes as small numbers; zeros once they run out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

const START: u64 = 1_700_000_000_000_000_000;
const ACTORS: [&str; 3] = ["user:1", "user:2", "svc:batch"];
const ACTIONS: [&str; 2] = ["GET", "POST"];
const TARGETS: [&str; 4] = ["/a", "/b", "/c", "/d"];

/// Event sequences: the engine agrees with the reference engine (tests/common) on every
/// detector's risk and observation, the raw and escalated risk, the level and the decision.
pub fn engine(data: &[u8]) {
    let mut d = Bytes(data);
    let mut config = Config::default();
    let g = &mut config.guard;
    g.burst_max_events = 1 + u64::from(d.u8() % 8);
    g.repetition_max_count = 1 + u64::from(d.u8() % 6);
    g.hopping_max_targets = 1 + u64::from(d.u8() % 5);
    g.weight_max_total = 1.0 + f64::from(d.u8()) / 8.0;
    g.window_secs = 1.0 + f64::from(d.u8()) / 4.0;
    let flags = d.u8();
    g.interval_secs = (flags & 1 != 0).then(|| 1.0 + f64::from(d.u8() % 5));
    g.interval_tolerance_ratio = f64::from(d.u8() % 50) / 100.0;
    g.regularity_max_cv = (flags & 2 != 0).then(|| 0.05 + f64::from(d.u8()) / 300.0);
    g.switching_max_count = (flags & 4 != 0).then(|| 1 + u64::from(d.u8() % 5));
    g.risk_combine = if flags & 8 != 0 {
        Combine::WeightedSum
    } else {
        Combine::Max
    };
    g.allow_below = 0.05 + f64::from(d.u8() % 35) / 100.0;
    g.warn_below = g.allow_below + f64::from(d.u8() % 30) / 100.0;
    g.delay_below = (g.warn_below + f64::from(d.u8() % 30) / 100.0).min(1.0);
    g.escalation_strikes = 1 + u64::from(d.u8() % 3);
    g.escalation_max_level = u64::from(d.u8() % 4);
    g.escalation_step = f64::from(d.u8() % 30) / 100.0;
    g.escalation_cooldown_secs = 1.0 + f64::from(d.u8() % 100);
    g.max_events_per_actor = Some(2 * g.burst_max_events + u64::from(d.u8() % 12));
    let Ok(guard) = Guard::from_config(config.clone()) else {
        return;
    };
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_nanos(START));
    let guard = guard.with_clock(clock.clone());
    let mut reference = common::Reference::new(config.clone());
    let mut now = START;
    let mut i = 0;
    while !d.is_empty() && i < 400 {
        i += 1;
        let op = d.u8();
        let (actor, action, target) = (
            ACTORS[usize::from(op % 3)],
            ACTIONS[usize::from(op >> 2 & 1)],
            TARGETS[usize::from(op >> 3 & 3)],
        );
        now += match op >> 5 {
            0 | 1 => 0,
            2..=4 => u64::from(d.u32() % 2_000_000_000),
            5 | 6 => u64::from(1 + d.u8() % 5) * 1_000_000_000,
            _ => u64::from(d.u32()) * 28,
        };
        clock.set(UNIX_EPOCH + Duration::from_nanos(now));
        // At or after the clock: late delivery past a sweep is the one documented approximation.
        let skew = if d.u8() % 5 == 0 {
            u64::from(d.u32()) * 40
        } else {
            0
        };
        let weight = match d.u8() % 10 {
            0..=5 => 1.0,
            6..=8 => f64::from(d.u8()) / 25.0,
            _ => [f64::NAN, -1.0, f64::INFINITY, 1e30][usize::from(d.u8() % 4)],
        };
        let ts = now.saturating_add(skew);
        let event = Event::new(actor, action, target, UNIX_EPOCH + Duration::from_nanos(ts))
            .with_weight(weight);
        let fast = guard.assess(&event);
        let slow = reference.check(actor, action, target, ts, weight, now);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 || (a - b).abs() <= 1e-9 * b.abs();
        for r in &fast.readings {
            let want = slow.risks.get(&r.detector).copied();
            assert!(
                want.is_some_and(|w| close(w, r.risk)),
                "event {i}: {} risk {} vs reference {want:?}",
                r.detector,
                r.risk
            );
            let obs = slow.observed[&r.detector];
            assert!(
                close(obs, r.observed),
                "event {i}: {} observed {} vs reference {obs}",
                r.detector,
                r.observed
            );
        }
        assert_eq!(fast.readings.len(), slow.risks.len(), "event {i}");
        assert!(close(fast.raw_risk, slow.raw_risk), "event {i}");
        assert_eq!(fast.escalation_level, slow.level, "event {i}");
        assert!(close(fast.risk, slow.risk), "event {i}");
        let s = config.settings_for(actor);
        let on_edge = [s.allow_below, s.warn_below, s.delay_below]
            .iter()
            .any(|&b| close(b, slow.risk));
        if !on_edge {
            assert_eq!(fast.decision, slow.decision, "event {i}");
        }
    }
}
