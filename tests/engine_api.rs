//! The library's behaviour as users rely on it, through the public API only.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pattern_guard::{Config, Decision, Detector, Error, Event, Guard, ManualClock, Overrides};

fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn demo_guard() -> (Guard, ManualClock) {
    let clock = ManualClock::new(start());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.demo");
    let guard = Guard::from_config_path(path)
        .unwrap()
        .with_clock(clock.clone());
    (guard, clock)
}

fn toml_guard(text: &str) -> (Guard, ManualClock) {
    let clock = ManualClock::new(start());
    (
        Guard::from_toml_str(text)
            .unwrap()
            .with_clock(clock.clone()),
        clock,
    )
}

fn names(ds: &[Decision]) -> Vec<&'static str> {
    ds.iter().map(Decision::name).collect()
}

#[test]
fn the_demo_config_walks_allow_warn_delay_block_as_the_seed_documents() {
    let (guard, clock) = demo_guard();
    let mut decisions = vec![];
    for i in 0..8 {
        clock.advance(Duration::from_secs(1));
        // Distinct targets, so only the burst detector speaks.
        let target = format!("/job/{i}");
        decisions.push(guard.check(&Event::new("cli", "run", target.as_str(), clock.time())));
    }
    assert_eq!(
        names(&decisions),
        ["allow", "allow", "allow", "warn", "delay", "block", "block", "block"]
    );
    assert_eq!(decisions[4], Decision::Delay(Duration::from_secs(1)));
}

#[test]
fn check_with_risk_returns_the_seed_formula_risk() {
    let (guard, clock) = demo_guard();
    let mut risks = vec![];
    for i in 0..6 {
        clock.advance(Duration::from_millis(10));
        let t = format!("/{i}");
        risks.push(
            guard
                .check_with_risk(&guard.event("u", "GET", t.as_str()))
                .1,
        );
    }
    let want = [0.0, 0.0, 0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0];
    for (got, want) in risks.iter().zip(want) {
        assert!((got - want).abs() < 1e-12, "{risks:?}");
    }
}

#[test]
fn guards_build_from_defaults_string_config_value_and_file() {
    assert_eq!(Guard::new().config(), &Config::default());
    assert_eq!(Guard::default().config().guard.burst_max_events, 100);
    let g = Guard::from_toml_str("[guard]\nburst_max_events = 7\n").unwrap();
    assert_eq!(g.config().guard.burst_max_events, 7);
    let mut c = Config::default();
    c.guard.burst_max_events = 9;
    assert_eq!(
        Guard::from_config(c)
            .unwrap()
            .config()
            .guard
            .burst_max_events,
        9
    );
    let mut bad = Config::default();
    bad.guard.warn_below = 0.1;
    match Guard::from_config(bad) {
        Err(Error::Config(e)) => assert_eq!(e.key.as_deref(), Some("guard.warn_below")),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn config_file_errors_name_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("guard.toml");
    std::fs::write(&path, "[guard]\nwindow_secs = 60\nburst_max_events = 0\n").unwrap();
    let err = Guard::from_config_path(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}:3:20: `guard.burst_max_events`: must be at least 1, found 0",
            path.display()
        )
    );
    let missing = Guard::from_config_path(dir.path().join("nope.toml")).unwrap_err();
    assert!(matches!(missing, Error::ReadConfig { .. }), "{missing}");
    assert!(missing.to_string().contains("nope.toml"), "{missing}");
}

#[test]
fn per_actor_overrides_apply_to_that_actor_only_and_inherit_the_rest() {
    let (guard, clock) = toml_guard(
        "[guard]\nburst_max_events = 2\ndelay_secs = 3\n[guard.actors.\"svc:big\"]\nburst_max_events = 50\n",
    );
    let mut small = vec![];
    let mut big = vec![];
    for i in 0..4 {
        clock.advance(Duration::from_secs(1));
        let t = format!("/{i}");
        small.push(guard.check(&guard.event("user:1", "GET", t.as_str())));
        big.push(guard.check(&guard.event("svc:big", "GET", t.as_str())));
    }
    assert_eq!(names(&small), ["allow", "allow", "warn", "block"]);
    assert_eq!(names(&big), ["allow"; 4]);
}

#[test]
fn repetition_hopping_weight_and_interval_each_fire_on_their_own() {
    let (guard, clock) = toml_guard(
        "[guard]\nburst_max_events = 1000\nmax_events_per_actor = 2000\nrepetition_max_count = 2\n\
         hopping_max_targets = 3\nweight_max_total = 10\ninterval_secs = 10\ninterval_min_samples = 3\n",
    );
    let fired = |a: &pattern_guard::Assessment| a.reasons().first().map(|r| r.detector);

    // Repetition: the same (action, target) four times.
    let mut last = None;
    for _ in 0..4 {
        clock.advance(Duration::from_secs(1));
        last = Some(guard.assess(&guard.event("rep", "GET", "/same")));
    }
    let a = last.unwrap();
    assert_eq!(fired(&a), Some(Detector::Repetition));
    assert_eq!(a.decision, Decision::Block, "4 vs max 2: risk 1.0");

    // Hopping: five distinct targets.
    for t in ["/1", "/2", "/3", "/4"] {
        clock.advance(Duration::from_secs(1));
        guard.check(&guard.event("hop", "GET", t));
    }
    let a = guard.assess(&guard.event("hop", "GET", "/5"));
    assert_eq!(fired(&a), Some(Detector::Hopping));
    assert!((a.risk - 2.0 / 3.0).abs() < 1e-12, "{a}");

    // Weight: 12 in a window of max 10.
    let a = guard.assess(&guard.event("cost", "POST", "/upload").with_weight(12.0));
    assert_eq!(fired(&a), Some(Detector::Weight));
    assert!((a.risk - 0.2).abs() < 1e-12, "{a}");

    // Interval: a bot ticking every 10s (±1s) on different targets.
    let mut a = None;
    for (i, jitter) in [0i64, 300, -500, 200, 0].iter().enumerate() {
        clock.advance(Duration::from_secs(10));
        let t = clock.time() + Duration::from_millis(500)
            - Duration::from_millis((500 - jitter) as u64);
        let target = format!("/{}", i % 2);
        a = Some(guard.assess(&Event::new("bot", "GET", target.as_str(), t)));
    }
    let a = a.unwrap();
    assert_eq!(fired(&a), Some(Detector::Interval), "{a}");
    assert_eq!(a.decision, Decision::Block);
}

#[test]
fn regularity_detects_pacing_without_a_configured_period() {
    let (guard, clock) =
        toml_guard("[guard]\nregularity_max_cv = 0.05\nregularity_min_samples = 5\n");
    let mut decisions = vec![];
    for _ in 0..8 {
        clock.advance(Duration::from_millis(7_300));
        decisions.push(guard.assess(&guard.event("metronome", "GET", "/x")));
    }
    let last = decisions.last().unwrap();
    assert_eq!(last.reasons()[0].detector, Detector::Regularity);
    assert_eq!(last.reasons()[0].observed, 0.0);
    assert!(
        decisions[..5].iter().all(|a| a.decision == Decision::Allow),
        "needs 5 gaps first"
    );
    // A human: irregular gaps never fire.
    for ms in [800, 12_000, 3_100, 45_000, 2_000, 9_000, 600, 20_000] {
        clock.advance(Duration::from_millis(ms));
        let a = guard.assess(&guard.event("human", "GET", "/x"));
        assert_eq!(a.decision, Decision::Allow, "{a}");
    }
}

#[test]
fn weighted_sum_adds_moderate_signals() {
    let (guard, clock) = toml_guard(
        "[guard]\nrisk_combine = \"weighted_sum\"\nburst_max_events = 4\nhopping_max_targets = 4\nmax_events_per_actor = 8\n",
    );
    let mut a = None;
    for i in 0..5 {
        clock.advance(Duration::from_secs(1));
        let t = format!("/{i}");
        a = Some(guard.assess(&guard.event("u", "GET", t.as_str())));
    }
    let a = a.unwrap();
    // burst 5/4 -> 0.25, hopping 5/4 -> 0.25: max would allow, the sum warns.
    assert!((a.raw_risk - 0.5).abs() < 1e-12, "{a}");
    assert_eq!(a.decision, Decision::Warn);
}

#[test]
fn assessment_explains_every_configured_detector_and_when_to_retry() {
    let (guard, clock) =
        toml_guard("[guard]\nwindow_secs = 10\nburst_max_events = 3\nescalation_max_level = 0\n");
    let mut a = None;
    for i in 0..6 {
        clock.advance(Duration::from_secs(1));
        let t = format!("/{i}");
        a = Some(guard.assess(&guard.event("u", "GET", t.as_str())));
    }
    let a = a.unwrap();
    assert_eq!(a.decision, Decision::Block);
    let detectors: Vec<Detector> = a.readings.iter().map(|r| r.detector).collect();
    assert_eq!(
        detectors,
        [
            Detector::Burst,
            Detector::Repetition,
            Detector::Hopping,
            Detector::Weight
        ],
        "interval, regularity and switching are off unless configured"
    );
    let burst = a.readings[0];
    assert_eq!((burst.observed, burst.limit, burst.risk), (6.0, 3.0, 1.0));
    let text = a.to_string();
    assert!(
        text.starts_with("block (risk 1.00): burst: 6 events in the window (max 3), risk 1.00"),
        "{text}"
    );

    // Not blocked again needs risk < 0.85 with the next event: at most 5 in the window, so the 2
    // oldest (t=1s, t=2s) must expire: at t=2s+10s = 12s, that is 6s after t=6s.
    assert_eq!(a.retry_after, Some(Duration::from_secs(6)));
    let snapshot = guard.export();
    let probe = |at: SystemTime| {
        let g = Guard::from_toml_str(
            "[guard]\nwindow_secs = 10\nburst_max_events = 3\nescalation_max_level = 0\n",
        )
        .unwrap()
        .with_clock(ManualClock::new(at));
        g.restore(&snapshot).unwrap();
        g.check(&Event::new("u", "GET", "/next", at))
    };
    let retry_at = a.retry_at().unwrap();
    assert_eq!(probe(retry_at - Duration::from_nanos(1)), Decision::Block);
    assert_ne!(probe(retry_at), Decision::Block);
}

#[test]
fn escalation_climbs_for_repeat_offenders_and_cools_down() {
    let cfg = "[guard]\nwindow_secs = 10\nburst_max_events = 10\nmax_events_per_actor = 20\n\
               escalation_strikes = 2\nescalation_step = 0.2\nescalation_cooldown_secs = 60\n";
    let (guard, clock) = toml_guard(cfg);
    // 14 events in one second: risks 0.1 .. 0.4; warn from 0.3 (13th) on.
    let mut last = None;
    for i in 0..16 {
        clock.advance(Duration::from_millis(50));
        let t = format!("/{i}");
        last = Some(guard.assess(&guard.event("u", "GET", t.as_str())));
    }
    let a = last.unwrap();
    // 16 events: raw 0.6 (delay); strikes from events 13, 14, 15 -> level 1 -> 0.8 still delay.
    assert_eq!(a.escalation_level, 1);
    assert!(
        (a.raw_risk - 0.6).abs() < 1e-12 && (a.risk - 0.8).abs() < 1e-12,
        "{a}"
    );
    assert_eq!(
        a.decision,
        Decision::Delay(Duration::from_secs(10)),
        "delay_secs 5 * 2^1"
    );

    // 4 strikes = level 2. Each quiet minute lowers one level.
    clock.advance(Duration::from_secs(61));
    let status = guard.status("u", None).unwrap();
    assert_eq!((status.escalation_level, status.events), (1, 0));
    assert_eq!(
        status.cool_down_in,
        Duration::from_secs(59),
        "level 0 at 120.8s"
    );
    clock.advance(Duration::from_secs(60));
    assert_eq!(guard.status("u", None).unwrap().escalation_level, 0);
    let a = guard.assess(&guard.event("u", "GET", "/again"));
    assert_eq!((a.decision, a.escalation_level), (Decision::Allow, 0));
}

#[test]
fn out_of_order_duplicate_and_far_future_timestamps_are_handled() {
    let (guard, clock) = toml_guard("[guard]\nwindow_secs = 10\nburst_max_events = 100\n");
    let t = clock.time();
    guard.check(&Event::new("u", "GET", "/", t));
    // Late by 30s: counted at the actor's newest time, not dropped and not expired on arrival.
    let late = guard.assess(&Event::new("u", "GET", "/", t - Duration::from_secs(30)));
    assert_eq!(late.at, t);
    assert_eq!(late.readings[0].observed, 2.0);
    // Duplicate timestamp: a distinct event.
    let dup = guard.assess(&Event::new("u", "GET", "/", t));
    assert_eq!(dup.readings[0].observed, 3.0);
    // A year ahead: capped at clock + 60s, so the window is not wiped for good.
    let future = guard.assess(&Event::new(
        "u",
        "GET",
        "/",
        t + Duration::from_secs(365 * 86_400),
    ));
    assert_eq!(future.at, t + Duration::from_secs(60));
    // The epoch and pre-epoch times do not panic.
    guard.check(&Event::new("old", "GET", "/", UNIX_EPOCH));
    guard.check(&Event::new(
        "older",
        "GET",
        "/",
        UNIX_EPOCH - Duration::from_secs(5),
    ));
}

#[test]
fn bad_weights_count_as_zero_and_huge_ones_saturate() {
    let (guard, _clock) = toml_guard("[guard]\nweight_max_total = 10\n");
    for w in [f64::NAN, f64::NEG_INFINITY, -3.0, 0.0] {
        let a = guard.assess(&guard.event("w", "GET", "/").with_weight(w));
        assert_eq!(a.readings.last().unwrap().observed, 0.0, "weight {w}");
    }
    let a = guard.assess(&guard.event("w", "GET", "/").with_weight(f64::INFINITY));
    assert_eq!(a.readings.last().unwrap().observed, 1e12);
    assert_eq!(a.decision, Decision::Block);
}

#[test]
fn metadata_is_kept_on_the_event() {
    let tags: HashMap<String, String> = [("region".to_string(), "eu".to_string())].into();
    let e = Event::new("u", "GET", "/", start())
        .with_weight(5.0)
        .with_metadata(tags)
        .with_metadata([("trace", "abc")]);
    assert_eq!(e.weight(), 5.0);
    assert_eq!(e.metadata().get("region").map(String::as_str), Some("eu"));
    assert_eq!(e.metadata().len(), 2);
    assert_eq!(Guard::new().check(&e), Decision::Allow);
    // Events compare and print by their tags, however few were given.
    let plain = Event::new("u", "GET", "/", start());
    let no_tags: [(&str, &str); 0] = [];
    assert_eq!(plain.clone().with_metadata(no_tags), plain);
    assert!(plain.metadata().is_empty());
    assert_ne!(plain.clone().with_metadata([("trace", "abc")]), plain);
    assert_eq!(
        format!("{:?}", e.clone().into_owned()),
        format!("{e:?}"),
        "an owned copy prints the same"
    );
    assert!(
        format!("{e:?}").contains(r#"metadata: {"region": "eu", "trace": "abc"}"#),
        "{e:?}"
    );
    assert!(format!("{plain:?}").contains("metadata: {}"), "{plain:?}");
}

#[test]
fn one_actor_sending_a_million_events_stays_within_its_cap() {
    let (guard, clock) =
        toml_guard("[guard]\nburst_max_events = 100\nmax_events_per_actor = 500\n");
    let mut bytes_after_first_cap = 0;
    for i in 0..1_000_000u32 {
        if i % 1000 == 0 {
            clock.advance(Duration::from_millis(1));
        }
        let target = format!("/{}", i % 4096);
        guard.check(&Event::new("flood", "GET", target.as_str(), clock.time()));
        if i == 10_000 {
            bytes_after_first_cap = guard.stats().heap_bytes;
        }
    }
    let stats = guard.stats();
    assert_eq!((stats.actors, stats.events), (1, 500));
    assert!(
        stats.heap_bytes <= bytes_after_first_cap * 2,
        "memory grew from {bytes_after_first_cap} to {} bytes",
        stats.heap_bytes
    );
}

#[test]
fn a_client_polling_one_route_keeps_a_quarter_of_the_memory_an_event() {
    // 40,000 events each: one actor polls one route; the other alternates two routes, so its
    // events must be kept whole. Both read back whole (the snapshot holds every event).
    let config = "[guard]\nwindow_secs = 3600\nburst_max_events = 50000\n\
                  repetition_max_count = 50000\nweight_max_total = 1e9\n\
                  max_events_per_actor = 100000\n";
    let heap = |targets: &[&str]| {
        let (guard, clock) = toml_guard(config);
        let empty = guard.stats().heap_bytes;
        for i in 0..40_000usize {
            clock.advance(Duration::from_millis(50));
            let target = targets[i % targets.len()];
            let event = Event::new("client", "GET", target, clock.time());
            assert_eq!(guard.check(&event), Decision::Allow);
        }
        let stats = guard.stats();
        assert_eq!(stats.events, 40_000);
        let snapshot = guard.export();
        assert_eq!(snapshot.events(), 40_000);
        (stats.heap_bytes - empty) as f64 / 40_000.0
    };
    let polling = heap(&["/items/{id}"]);
    let mixed = heap(&["/items/{id}", "/cart"]);
    assert!(
        polling < 14.0,
        "{polling:.1} bytes an event polling one route"
    );
    assert!(mixed > 30.0, "{mixed:.1} bytes an event on two routes");
}

#[test]
fn actors_whose_window_passed_are_dropped() {
    let (guard, clock) = toml_guard("[guard]\nwindow_secs = 1\nescalation_max_level = 0\n");
    for i in 0..5000 {
        let actor = format!("ip:{i}");
        guard.check(&guard.event(actor.as_str(), "GET", "/"));
    }
    assert_eq!(guard.stats().actors, 5000);
    clock.advance(Duration::from_secs(2));
    // Each shard sweeps after four times as many checks as it holds actors: 60,000 is plenty.
    for i in 0..60_000 {
        let actor = format!("late:{}", i % 3000);
        guard.check(&guard.event(actor.as_str(), "GET", "/"));
    }
    let stats = guard.stats();
    assert_eq!(stats.actors, 3000, "every expired actor swept: {stats:?}");
    assert!(guard.status("late:2999", None).is_some());
}

#[test]
fn the_actor_cap_evicts_the_least_recently_active() {
    let (guard, clock) = toml_guard("[guard]\nmax_actors = 1000\n");
    guard.check(&guard.event("vip", "GET", "/"));
    for i in 0..10_000 {
        clock.advance(Duration::from_millis(1));
        let actor = format!("ip:{i}");
        guard.check(&guard.event(actor.as_str(), "GET", "/"));
        if i % 100 == 0 {
            guard.check(&guard.event("vip", "GET", "/"));
        }
    }
    let stats = guard.stats();
    assert!(stats.actors <= 1000, "{stats:?}");
    assert!(stats.evicted >= 9000, "{stats:?}");
    assert!(
        guard.status("vip", None).is_some(),
        "the active actor survives"
    );
    assert!(
        guard.status("ip:9999", None).is_some(),
        "the newest actor survives"
    );
    assert!(
        guard.status("ip:0", None).is_none(),
        "the oldest actor was evicted"
    );
    // The count covers the guard's life: a reset or a restore does not clear it.
    let evicted = stats.evicted;
    guard.restore(&guard.export()).unwrap();
    guard.reset_all();
    assert_eq!(guard.stats().evicted, evicted);
}

#[test]
fn megabyte_actor_ids_are_stored_bounded_and_stay_distinct() {
    let guard =
        Guard::from_toml_str("[guard]\nburst_max_events = 1\nmax_events_per_actor = 2\n").unwrap();
    let a = "a".repeat(1 << 20);
    let b = format!("{}b", "a".repeat((1 << 20) - 1));
    guard.check(&guard.event(a.as_str(), "GET", "/"));
    assert_eq!(
        guard.check(&guard.event(b.as_str(), "GET", "/")),
        Decision::Allow
    );
    assert_eq!(
        guard.check(&guard.event(a.as_str(), "GET", "/")),
        Decision::Block
    );
    let status = guard.status(&a, None).unwrap();
    assert!(
        status.actor.len() <= pattern_guard::MAX_ACTOR_BYTES,
        "{}",
        status.actor.len()
    );
    assert!(guard.stats().heap_bytes < 64 * 1024);
    let huge_target = "t".repeat(1 << 20);
    guard.check(&guard.event("c", huge_target.as_str(), huge_target.as_str()));
}

#[test]
fn export_and_restore_carry_windows_and_escalation_across_guards() {
    let text = "[guard]\nburst_max_events = 3\n";
    let (first, clock) = toml_guard(text);
    for i in 0..5 {
        clock.advance(Duration::from_secs(1));
        let t = format!("/{i}");
        first.check(&first.event("cli", "run", t.as_str()));
    }
    let json = serde_json::to_string(&first.export()).unwrap();

    let second = Guard::from_toml_str(text)
        .unwrap()
        .with_clock(clock.clone());
    let snapshot: pattern_guard::Snapshot = serde_json::from_str(&json).unwrap();
    assert_eq!((snapshot.actors(), snapshot.events()), (1, 5));
    second.restore(&snapshot).unwrap();
    clock.advance(Duration::from_secs(1));
    let a_first = first.assess(&first.event("cli", "run", "/5"));
    let a_second = second.assess(&second.event("cli", "run", "/5"));
    assert_eq!(
        a_second, a_first,
        "a restored guard continues exactly where the first was"
    );
    assert_eq!(a_second.decision, Decision::Block);
    assert_eq!(a_second.escalation_level, 0);
    assert_eq!(second.export(), first.export());
}

#[test]
fn restore_under_an_edited_config_recomputes_the_window() {
    let (first, clock) = toml_guard("[guard]\nwindow_secs = 100\nburst_max_events = 3\n");
    for _ in 0..6 {
        clock.advance(Duration::from_secs(10));
        first.check(&first.event("cli", "run", "x"));
    }
    let second = Guard::from_toml_str("[guard]\nwindow_secs = 25\nburst_max_events = 3\n")
        .unwrap()
        .with_clock(clock.clone());
    second.restore(&first.export()).unwrap();
    assert_eq!(
        second.status("cli", None).unwrap().events,
        3,
        "only the last 25s are kept"
    );
}

#[test]
fn snapshots_of_an_unknown_format_or_with_damaged_hashes_are_refused() {
    let guard = Guard::new();
    guard.check(&guard.event("u", "GET", "/"));
    let mut value: serde_json::Value = serde_json::to_value(guard.export()).unwrap();
    value["format"] = 99.into();
    let future: pattern_guard::Snapshot = serde_json::from_value(value.clone()).unwrap();
    let err = guard.restore(&future).unwrap_err().to_string();
    assert!(err.contains("format 99"), "{err}");
    value["format"] = pattern_guard::SNAPSHOT_FORMAT.into();
    value["actors"][0]["hashes"][0] = serde_json::json!(u64::MAX);
    let damaged: pattern_guard::Snapshot = serde_json::from_value(value).unwrap();
    assert!(guard
        .restore(&damaged)
        .unwrap_err()
        .to_string()
        .contains("damaged"));
    assert_eq!(
        guard.stats().events,
        1,
        "a refused snapshot leaves the memory as it was"
    );
}

#[test]
fn reset_forgets_one_actor_or_all() {
    let guard = Guard::new();
    guard.check(&guard.event("a", "GET", "/"));
    guard.check(&guard.event("b", "GET", "/"));
    assert!(guard.reset("a"));
    assert!(!guard.reset("a"));
    assert!(guard.status("a", None).is_none());
    assert_eq!(guard.actors(None).len(), 1);
    guard.reset_all();
    assert_eq!(guard.stats().actors, 0);
}

#[test]
fn many_threads_share_one_guard_and_no_event_is_lost() {
    let guard = Arc::new(
        Guard::from_toml_str("[guard]\nburst_max_events = 100000\nmax_events_per_actor = 200000\n")
            .unwrap(),
    );
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let guard = Arc::clone(&guard);
            std::thread::spawn(move || {
                for i in 0..5000 {
                    let own = format!("t{t}:{}", i % 10);
                    guard.check(&guard.event(own.as_str(), "GET", "/"));
                    guard.check(&guard.event("shared", "GET", "/"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = guard.stats();
    assert_eq!(stats.actors, 81);
    assert_eq!(stats.events, 80_000);
    assert_eq!(guard.status("shared", None).unwrap().events, 40_000);
}

#[test]
fn config_overrides_built_in_code_work_like_toml_ones() {
    let mut config = Config::default();
    config.guard.burst_max_events = 2;
    let mut o = Overrides::default();
    o.burst_max_events = Some(4);
    config.actors.insert("svc".into(), o);
    let guard = Guard::from_config(config).unwrap();
    let svc: Vec<Decision> = (0..6)
        .map(|_| guard.check(&guard.event("svc", "GET", "/x")))
        .collect();
    let user: Vec<Decision> = (0..3)
        .map(|_| guard.check(&guard.event("user", "GET", "/x")))
        .collect();
    // svc: max 4, so the 6th event is risk 0.5 (warn); user: max 2, so the 3rd is 0.5.
    assert_eq!(
        names(&svc),
        ["allow", "allow", "allow", "allow", "allow", "warn"]
    );
    assert_eq!(names(&user), ["allow", "allow", "warn"]);
}

#[test]
fn preview_predicts_the_next_check_and_records_nothing() {
    let (guard, clock) = demo_guard();
    assert!(guard.preview("cli", None).is_none(), "unknown actor");
    for _ in 0..4 {
        clock.advance(Duration::from_secs(1));
        guard.check(&guard.event("cli", "run", "backup.sh"));
    }
    clock.advance(Duration::from_secs(1));
    let before = guard.export();
    let preview = guard.preview("cli", None).unwrap();
    assert_eq!(guard.export(), before, "a preview records nothing");
    assert_eq!(preview.decision.name(), "delay", "{preview}");
    let real = guard.assess(&guard.event("cli", "run", "backup.sh"));
    assert_eq!(
        preview, real,
        "the preview is exactly what the next check gets"
    );
}

#[test]
fn snapshots_with_cut_short_padded_or_mangled_events_are_refused_whole() {
    let guard = Guard::new();
    for path in ["/a", "/b", "/a"] {
        guard.check(&guard.event("u", "GET", path));
    }
    let good: serde_json::Value = serde_json::to_value(guard.export()).unwrap();
    let packed: Vec<u8> = serde_json::from_value(good["actors"][0]["packed"].clone()).unwrap();
    let mangle = |bytes: Vec<u8>| {
        let mut v = good.clone();
        v["actors"][0]["packed"] = serde_json::json!(bytes);
        serde_json::from_value::<pattern_guard::Snapshot>(v).unwrap()
    };
    let cut = mangle(packed[..packed.len() - 1].to_vec());
    let padded = mangle([packed.clone(), vec![0]].concat());
    let mut bad_tag = packed.clone();
    bad_tag[0] = 0xff;
    let bad_tag = mangle(bad_tag);
    let fresh = Guard::new();
    fresh.check(&fresh.event("other", "GET", "/"));
    for (snapshot, says) in [
        (cut, "cut short"),
        (padded, "bytes after"),
        (bad_tag, "invalid tag"),
    ] {
        let err = fresh.restore(&snapshot).unwrap_err().to_string();
        assert!(err.contains(says) && err.contains("damaged"), "{err}");
        let err = fresh.merge(&snapshot).unwrap_err().to_string();
        assert!(err.contains(says), "{err}");
        assert_eq!(
            fresh.actors(None).len(),
            1,
            "a refused snapshot changes nothing"
        );
    }
    fresh.restore(&mangle(packed)).unwrap();
    assert_eq!(fresh.status("u", None).unwrap().events, 3);
}

#[test]
fn a_million_distinct_actors_in_a_minute_stay_under_the_actor_cap() {
    let mut config = Config::default();
    config.max_actors = 10_000;
    let start = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let clock = ManualClock::new(start);
    let guard = Guard::from_config(config)
        .unwrap()
        .with_clock(clock.clone());
    let mut peak = 0;
    for i in 0..1_000_000u64 {
        let at = start + Duration::from_micros(i * 60);
        if i % 1000 == 0 {
            clock.set(at);
        }
        guard.check(&Event::new(
            format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
            "GET",
            "/",
            at,
        ));
        if i % 50_000 == 0 {
            peak = peak.max(guard.stats().heap_bytes);
        }
    }
    let stats = guard.stats();
    assert!(stats.actors <= 10_000, "{stats:?}");
    assert!(stats.evicted >= 990_000, "{stats:?}");
    // 10,000 actors of one event each, in tables that never grow past the cap.
    assert!(
        peak.max(stats.heap_bytes) < 16 << 20,
        "{peak} bytes at the peak"
    );
}

#[test]
fn megabyte_actor_and_target_strings_are_stored_bounded() {
    let guard = Guard::new();
    let actor = "x".repeat(5 << 20);
    let target = "y".repeat(5 << 20);
    for _ in 0..3 {
        guard.check(&guard.event(&actor, "GET", &target));
    }
    let status = guard.status(&actor, None).unwrap();
    assert_eq!(status.events, 3);
    assert!(
        status.actor.len() <= pattern_guard::MAX_ACTOR_BYTES + 32,
        "{}",
        status.actor.len()
    );
    assert!(guard.stats().heap_bytes < 64 << 10, "{:?}", guard.stats());
    let snapshot = serde_json::to_vec(&guard.export()).unwrap();
    assert!(snapshot.len() < 4096, "{} bytes", snapshot.len());
    // NUL bytes and odd characters are just bytes of an id.
    guard.check(&guard.event("nul\0actor", "GET\0", "/\0"));
    assert_eq!(guard.status("nul\0actor", None).unwrap().events, 1);
}
