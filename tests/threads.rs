//! One guard, many threads: checks, sweeps, evictions and whole-guard readers at once, held to
//! what one thread alone gets. Written for a store whose checks of known actors take no shard
//! lock (docs/ENGINE.md, "Thread scaling"); any store must pass them.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, UNIX_EPOCH};

use pattern_guard::{Assessment, Decision, Event, Guard, ManualClock};

const BASE: u64 = 1_800_000_000_000_000_000;

/// A small deterministic generator, so each thread's events are the same in every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// Thread `t`'s events: bursts and pauses over 40 live actors of its own (each seen again well
/// within the window, so never forgotten), and every fifth event a one-off actor stamped long
/// ago, which a sweep may forget as soon as it is checked.
fn events_of(t: usize) -> Vec<(String, &'static str, &'static str, u64)> {
    let mut rng = Lcg(t as u64 + 1);
    let mut ts = BASE;
    let mut out = Vec::new();
    for i in 0..6_000 {
        if i % 5 == 4 {
            let old = ts - 900 * 1_000_000_000;
            out.push((format!("t{t}:once:{i}"), "GET", "/", old));
            continue;
        }
        ts += rng.next(30) * 1_000_000;
        let actor = format!("t{t}:live:{}", rng.next(40));
        let action = ["GET", "POST"][rng.next(2) as usize];
        let target = ["/a", "/b", "/c", "/d", "/e"][rng.next(5) as usize];
        out.push((actor, action, target, ts));
    }
    out
}

const CONFIG: &str =
    "[guard]\nwindow_secs = 600\nburst_max_events = 60\nrepetition_max_count = 8\n\
                      escalation_cooldown_secs = 30\n";

fn guard(clock: &ManualClock) -> Guard {
    Guard::from_toml_str(CONFIG)
        .unwrap()
        .with_clock(clock.clone())
}

fn assess_all(
    guard: &Guard,
    events: &[(String, &'static str, &'static str, u64)],
) -> Vec<Assessment> {
    events
        .iter()
        .map(|(actor, action, target, ts)| {
            let at = UNIX_EPOCH + Duration::from_nanos(*ts);
            guard.assess(&Event::new(actor.as_str(), *action, *target, at))
        })
        .collect()
}

/// Reads the whole guard in a loop until `done` (at least once), checking that no actor is held
/// twice and that at most `limit` are held; returns how many reads it made.
fn reader(guard: &Arc<Guard>, done: &Arc<AtomicBool>, limit: usize) -> JoinHandle<usize> {
    let (guard, done) = (Arc::clone(guard), Arc::clone(done));
    std::thread::spawn(move || {
        let mut reads = 0;
        while !done.load(Ordering::Relaxed) || reads == 0 {
            let all = guard.actors(None);
            let ids: HashSet<&str> = all.iter().map(|a| a.actor.as_str()).collect();
            assert_eq!(ids.len(), all.len(), "an actor held twice");
            assert!(all.len() <= limit, "{} actors", all.len());
            assert!(guard.export().actors() <= limit);
            let stats = guard.stats();
            assert!(stats.actors <= limit, "{stats:?}");
            reads += 1;
        }
        reads
    })
}

#[test]
fn threads_on_their_own_actors_get_what_one_thread_alone_gets() {
    // The clock stands past every event: nothing is capped, and sweeps go by the events' times.
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_nanos(BASE + 3_600 * 1_000_000_000));
    let threads = 4;
    let shared = Arc::new(guard(&clock));
    let done = Arc::new(AtomicBool::new(false));
    // Whole-guard readers, locking every shard and slot in turn, while the checks run.
    let reader = reader(&shared, &done, threads * 6_000);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || assess_all(&shared, &events_of(t)))
        })
        .collect();
    let together: Vec<Vec<Assessment>> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    done.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);

    let mut unusual = 0;
    for (t, got) in together.iter().enumerate() {
        let alone = assess_all(&guard(&clock), &events_of(t));
        for (i, (got, want)) in got.iter().zip(&alone).enumerate() {
            assert_eq!(got, want, "thread {t}, event {i}");
        }
        unusual += alone
            .iter()
            .filter(|a| a.decision != Decision::Allow)
            .count();
    }
    // The sequences do exercise the detectors and escalation, and sweeps forgot one-off actors
    // while the checks ran (4 x 1,200 of them, and 160 live actors; about half are forgotten by
    // the end, as each shard sweeps about once in the run).
    assert!(unusual > 1_000, "only {unusual} unusual decisions");
    let actors = shared.stats().actors;
    assert!(
        actors < 160 + 4 * 1_200 - 1_000,
        "{actors} actors: the sweeps did not run"
    );
    for t in 0..threads {
        for a in 0..40 {
            assert!(shared.status(&format!("t{t}:live:{a}"), None).is_some());
        }
    }
}

#[test]
fn threads_over_a_small_cap_keep_it_and_lose_no_event_of_a_busy_actor() {
    let guard = Arc::new(
        Guard::from_toml_str(
            "[guard]\nmax_actors = 200\nburst_max_events = 100000\nmax_events_per_actor = 200000\n",
        )
        .unwrap(),
    );
    let done = Arc::new(AtomicBool::new(false));
    let reader = reader(&guard, &done, 200);
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let guard = Arc::clone(&guard);
            std::thread::spawn(move || {
                for i in 0..5_000 {
                    // 4 x 150 actors over a cap of 200: evictions all along.
                    let own = format!("t{t}:{}", i % 150);
                    guard.check(&guard.event(own.as_str(), "GET", "/"));
                    guard.check(&guard.event("busy", "GET", "/"));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    let stats = guard.stats();
    assert!(stats.actors <= 200, "{stats:?}");
    assert!(stats.evicted > 100, "{stats:?}");
    // The busy actor is always among the most recent, so never evicted: every one of its
    // 20,000 events, from four threads at once, is in its window.
    assert_eq!(guard.status("busy", None).unwrap().events, 20_000);
}
