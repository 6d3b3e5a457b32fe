#![cfg(feature = "redis")] // the shared store
//! The shared store (`pattern_guard::shared`) against a real `redis-server` on loopback: every
//! test starts its own server (or uses its own key prefix) and never contacts anything else.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pattern_guard::shared::SharedGuard;
use pattern_guard::{Config, Decision, Event, Guard, ManualClock, OnError, StoreSettings};

mod common;
#[path = "support/redis.rs"]
mod redis_server;

use common::Reference;
use redis_server::RedisServer;

const CONFIG: &str =
    "[guard]\nwindow_secs = 60\nburst_max_events = 40\nrepetition_max_count = 1000\n";

fn settings(server: &RedisServer, prefix: &str) -> StoreSettings {
    let mut s = StoreSettings::default();
    s.url = Some(server.url());
    s.prefix = prefix.into();
    s.timeout_ms = 500;
    s
}

fn shared(server: &RedisServer, prefix: &str) -> SharedGuard {
    shared_with(server, prefix, CONFIG)
}

/// A process's guard on the store under `config`.
fn shared_with(server: &RedisServer, prefix: &str, config: &str) -> SharedGuard {
    let guard = Guard::from_toml_str(config).unwrap();
    SharedGuard::new(guard, &settings(server, prefix)).unwrap()
}

/// The log of `actor` as the store holds it, in its order: (time in ns, weight in millionths).
/// Events are 41-byte entries (16 digits of microseconds, a space, the two hashes and the
/// weight) in the string beside the actor's hash.
fn store_log(server: &RedisServer, prefix: &str, actor: &str) -> Vec<(u64, u64)> {
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let key = format!(
        "{prefix}{{{:016x}}}",
        xxhash_rust::xxh3::xxh3_64(actor.as_bytes())
    );
    let (first, lfirst): (u64, u64) = redis::cmd("HMGET")
        .arg(&key)
        .arg("first")
        .arg("lfirst")
        .query(&mut conn)
        .unwrap();
    let log: Vec<u8> = redis::cmd("GET")
        .arg(format!("{key}:log"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(log.len() % 41, 0);
    log.chunks_exact(41)
        .skip((first - lfirst) as usize)
        .map(|e| {
            let us: u64 = std::str::from_utf8(&e[..16]).unwrap().parse().unwrap();
            (us * 1000, u64::from_le_bytes(e[33..41].try_into().unwrap()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_processes_on_one_actor_lose_nothing_and_decide_as_one_guard() {
    let server = RedisServer::start();
    let prefix = "eight:";
    // Eight guards, each with its own memory (as eight processes would have), one actor; each
    // caller's events carry its own weight, so the store's log tells whose each event was.
    let mut tasks = Vec::new();
    for caller in 0..8u64 {
        let guard = shared(&server, prefix);
        tasks.push(tokio::spawn(async move {
            let weight = 1.0 + caller as f64 / 100.0;
            let mut decisions = Vec::new();
            for _ in 0..50 {
                let event = guard
                    .guard()
                    .event("api:key", "GET", "/items")
                    .with_weight(weight);
                decisions.push(guard.assess(&event).await.decision);
            }
            assert!(guard.store_up());
            decisions
        }));
    }
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }
    let log = store_log(&server, prefix, "api:key");
    assert_eq!(log.len(), 400, "every event is in the store");
    // The reference engine, fed the same events in the store's order.
    let mut reference = Reference::new(Config::from_toml_str(CONFIG).unwrap());
    let mut expected: Vec<Vec<Decision>> = vec![Vec::new(); 8];
    for (ts, micros) in &log {
        let caller = ((micros - 1_000_000) / 10_000) as usize;
        let weight = *micros as f64 / 1e6;
        let d = reference
            .check("api:key", "GET", "/items", *ts, weight, *ts)
            .decision;
        expected[caller].push(d);
    }
    assert_eq!(got, expected);
    let blocked = got
        .iter()
        .flatten()
        .filter(|d| **d == Decision::Block)
        .count();
    assert!(blocked > 0, "the shared burst was seen: {got:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clocks_five_seconds_apart_decide_as_one_guard() {
    let server = RedisServer::start();
    let prefix = "skew:";
    let now = SystemTime::now();
    let store = |offset: Duration, ahead: bool| {
        let clock = ManualClock::new(if ahead { now + offset } else { now - offset });
        let guard = Guard::from_toml_str(CONFIG).unwrap().with_clock(clock);
        SharedGuard::new(guard, &settings(&server, prefix)).unwrap()
    };
    let (early, late) = (
        store(Duration::ZERO, true),
        store(Duration::from_secs(5), true),
    );
    let mut got = Vec::new();
    for i in 0..60 {
        let g = if i % 2 == 0 { &early } else { &late };
        let event = g.guard().event("cron:sync", "run", "-");
        got.push(g.assess(&event).await.decision);
    }
    let log = store_log(&server, prefix, "cron:sync");
    let mut reference = Reference::new(Config::from_toml_str(CONFIG).unwrap());
    let expected: Vec<Decision> = log
        .iter()
        .map(|(ts, _)| {
            reference
                .check("cron:sync", "run", "-", *ts, 1.0, *ts)
                .decision
        })
        .collect();
    assert_eq!(
        got, expected,
        "both hosts' events are stamped by the store's clock"
    );
    // Explicit times are kept (within the future tolerance): an hour ago stays an hour ago.
    let hour_ago = now - Duration::from_secs(3600);
    let a = early
        .assess_at(&Event::new("cron:past", "run", "-", hour_ago))
        .await;
    let at = a.at.duration_since(UNIX_EPOCH).unwrap().as_micros();
    assert_eq!(at, hour_ago.duration_since(UNIX_EPOCH).unwrap().as_micros());
}

/// Checks `n` events of a fresh actor and returns the decisions and the longest call.
async fn burst(guard: &SharedGuard, actor: &str, n: usize) -> (Vec<Decision>, Duration) {
    let mut longest = Duration::ZERO;
    let mut decisions = Vec::new();
    for _ in 0..n {
        let start = Instant::now();
        decisions.push(
            guard
                .assess(&guard.guard().event(actor, "GET", "/"))
                .await
                .decision,
        );
        longest = longest.max(start.elapsed());
    }
    (decisions, longest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_killed_paused_and_back_is_handled_as_on_error_says() {
    let mut server = RedisServer::start();
    let guard_with = |on_error: OnError| {
        let mut s = settings(&server, "faults:");
        s.timeout_ms = 300;
        s.on_error = on_error;
        SharedGuard::new(Guard::from_toml_str(CONFIG).unwrap(), &s).unwrap()
    };
    let (local, allow, block) = (
        guard_with(OnError::Local),
        guard_with(OnError::Allow),
        guard_with(OnError::Block),
    );
    for g in [&local, &allow, &block] {
        // Connected and the script loaded (a loaded machine may need a probe or two).
        let start = Instant::now();
        burst(g, "warm", 1).await;
        while !g.store_up() {
            assert!(start.elapsed() < Duration::from_secs(20), "never connected");
            tokio::time::sleep(Duration::from_millis(50)).await;
            burst(g, "warm", 1).await;
        }
    }
    // One guard alone, for what a burst of 60 comes to (no timing detector is configured: the
    // decisions depend on the counts alone).
    let alone = Guard::from_toml_str(CONFIG).unwrap();
    let sixty: Vec<Decision> = (0..60)
        .map(|_| alone.check(&alone.event("x", "GET", "/")))
        .collect();
    assert_ne!(sixty[59], Decision::Allow);
    // No call waits much past the 300 ms timeout, however the store fails. (The bound allows
    // for a loaded machine; without the timeout a paused server would hang a call forever.)
    let bound = Duration::from_secs(2);
    for outage in ["paused", "killed"] {
        server.take_down(outage);
        let (d, longest) = burst(&local, &format!("{outage}:local"), 60).await;
        assert!(longest < bound, "{outage}: a call took {longest:?}");
        assert!(!local.store_up());
        assert_eq!(d, sixty, "{outage}: local memory still sees the burst");
        let (d, longest) = burst(&allow, &format!("{outage}:allow"), 60).await;
        assert!(
            longest < bound && d.iter().all(|d| *d == Decision::Allow),
            "{outage}: {d:?}"
        );
        let (d, longest) = burst(&block, &format!("{outage}:block"), 3).await;
        assert!(
            longest < bound && d.iter().all(|d| *d == Decision::Block),
            "{outage}: {d:?}"
        );
    }
    // Back: each guard probes within its back-off (at most 5 s) and uses the store again.
    server.restart();
    for g in [&local, &allow, &block] {
        let start = Instant::now();
        while !g.store_up() {
            assert!(start.elapsed() < Duration::from_secs(20), "not recovered");
            tokio::time::sleep(Duration::from_millis(50)).await;
            burst(g, "probe", 1).await;
        }
    }
    // Shared again: a burst split between two guards is seen whole.
    let (a, _) = burst(&allow, "after", 30).await;
    let (b, _) = burst(&block, "after", 30).await;
    assert_eq!([a, b].concat(), sixty);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_of_another_type_or_a_bad_url_is_an_error_not_a_panic() {
    let server = RedisServer::start();
    let guard = shared(&server, "typed:");
    let key = format!("typed:{{{:016x}}}", xxhash_rust::xxh3::xxh3_64(b"actor"));
    assert!(server
        .command(&format!("SET {key} oops\r\n"))
        .unwrap()
        .starts_with("+OK"));
    let a = guard
        .assess(&guard.guard().event("actor", "GET", "/"))
        .await;
    assert_eq!(
        a.decision,
        Decision::Allow,
        "on_error = local decides alone"
    );
    assert!(!guard.store_up());
    let mut s = StoreSettings::default();
    s.url = Some("http://user:s3cret@example.com".into());
    let err = SharedGuard::new(Guard::new(), &s).unwrap_err().to_string();
    assert!(err.contains("redis://") && !err.contains("s3cret"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_process_rebuilds_a_trimmed_log_and_escalation_exactly() {
    let server = RedisServer::start();
    let prefix = "trim:";
    let config = "[guard]\nwindow_secs = 2\nburst_max_events = 10\nrepetition_max_count = 1000\n\
                  escalation_cooldown_secs = 600\n";
    let open = || shared_with(&server, prefix, config);
    let alone = Guard::from_toml_str(config).unwrap();
    // Events an hour ago, 50 ms apart (explicit times: the store keeps them), so the 2 s window
    // passes many times over and the log is trimmed behind the checkpoints.
    let t0 = SystemTime::now() - Duration::from_secs(3600);
    let event = |i: u64| Event::new("batch", "POST", "/jobs", t0 + Duration::from_millis(50 * i));
    let first = open();
    for i in 0..400 {
        let a = first.assess_at(&event(i)).await;
        let b = alone.assess(&event(i));
        assert_eq!(
            (a.decision, a.escalation_level),
            (b.decision, b.escalation_level),
            "event {i}"
        );
    }
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let key = format!("{prefix}{{{:016x}}}", xxhash_rust::xxh3::xxh3_64(b"batch"));
    let fields: usize = redis::cmd("HLEN").arg(&key).query(&mut conn).unwrap();
    assert!(
        fields < 60,
        "the log keeps the window (40 events), not all 400: {fields} fields"
    );
    // A new process (its own memory) continues exactly where the first left off.
    let second = open();
    let mut levels = 0;
    for i in 400..450 {
        let a = second.assess_at(&event(i)).await;
        let b = alone.assess(&event(i));
        assert_eq!(
            (a.decision, a.escalation_level),
            (b.decision, b.escalation_level),
            "event {i}"
        );
        levels += u32::from(b.escalation_level);
    }
    assert!(levels > 0, "escalation carried over the trimmed events");
}

/// The learned baseline travels in the store's checkpoints: a new process, rebuilding from a
/// trimmed log, reads the baseline exactly as one guard that saw every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_process_rebuilds_the_learned_baseline_from_the_checkpoint() {
    let server = RedisServer::start();
    let prefix = "baseline:";
    let config = "[guard]\nwindow_secs = 2\nburst_max_events = 1000\nrepetition_max_count = 1000\n\
                  baseline_max_z = 3\nbaseline_bucket_secs = 1\nbaseline_min_samples = 5\n";
    let open = || shared_with(&server, prefix, config);
    let alone = Guard::from_toml_str(config).unwrap();
    let t0 = SystemTime::now() - Duration::from_secs(3600);
    let baseline = |a: &pattern_guard::Assessment| {
        a.readings
            .iter()
            .find(|r| r.detector == pattern_guard::Detector::Baseline)
            .copied()
            .unwrap()
    };
    // 20 events a second for 20 s: the baseline learns 20 per bucket.
    let steady = |i: u64| Event::new("api", "GET", "/", t0 + Duration::from_millis(50 * i));
    let first = open();
    for i in 0..400 {
        let a = first.assess_at(&steady(i)).await;
        assert_eq!(
            baseline(&a),
            baseline(&alone.assess(&steady(i))),
            "event {i}"
        );
    }
    // A new process, then a jump to 100 a second: both flag it with the same figures.
    let second = open();
    let mut fired = 0;
    for i in 0..100 {
        let e = Event::new(
            "api",
            "GET",
            "/",
            t0 + Duration::from_millis(20_000 + 10 * i),
        );
        let (a, b) = (second.assess_at(&e).await, alone.assess(&e));
        assert_eq!(baseline(&a), baseline(&b), "event {i} after the jump");
        assert_eq!(a.decision, b.decision, "event {i} after the jump");
        fired += u32::from(baseline(&b).fired());
    }
    assert!(fired > 0, "the jump was flagged");
    assert!(baseline(&alone.assess(&steady(10_000))).samples > 15);
}
