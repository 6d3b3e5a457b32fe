//! Engine benchmarks. One run measures every figure the engine promises and prints a summary:
//!
//! - ns per check with 100, 10,000 and 1,000,000 events in one actor's window (O(1): flat);
//! - ns per check over 10,000 actors, against governor's keyed `check_key` on the same keys;
//! - the speed-up over the reference engine (tests/common) at 1,000 events per window;
//! - throughput with 2 threads on distinct actors against 1 thread;
//! - the size and restore time of a 10,000-event snapshot (the CLI's state);
//! - heap bytes per idle actor and per event held (and per event of a window of one key at
//!   weight 1, kept as times alone), and 1,000,000 actors in total.
//!
//! ```text
//! cargo bench --bench engine                 # criterion statistics, then the summary
//! cargo bench --bench engine -- --summary    # the summary only (about a minute)
//! cargo bench --bench engine -- --scaling    # the two-thread figures only
//! cargo bench --bench engine -- --scaling --pairs 10   # one and two threads taking turns,
//!                                            # medians with 95% intervals (about 45 s)
//! ```
//!
//! Ratios are measured in the same run, so they hold on a shared, noisy machine where absolute
//! figures do not.

#[path = "../tests/common/mod.rs"]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use criterion::{BenchmarkId, Criterion, Throughput};
use governor::{Quota, RateLimiter};
use pattern_guard::{Config, Event, Guard, ManualClock};

/// Counts live heap bytes, to measure memory per actor and per event.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)] // a counting allocator for the memory figures: it only forwards to System
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const START: u64 = 1_700_000_000_000_000_000;
const TARGETS: usize = 64;

fn at(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}

fn targets() -> Vec<String> {
    (0..TARGETS).map(|i| format!("/api/items/{i}")).collect()
}

/// One actor holding `events` in its window at steady state: every check pushes one event and the
/// cap drops the oldest, so the window stays exactly this full.
struct Deep {
    guard: Guard,
    targets: Vec<String>,
    t: u64,
    i: usize,
}

/// A guard whose actors keep `events` events: a year's window, capped at `events`.
fn deep_config(events: u64) -> Config {
    let mut c = Config::default();
    c.guard.window_secs = 31_536_000.0;
    c.guard.burst_max_events = events / 2;
    c.guard.max_events_per_actor = Some(events);
    c.max_actors = 16;
    c
}

impl Deep {
    fn new(events: u64) -> Deep {
        let c = deep_config(events);
        let clock = ManualClock::new(at(START + 10 * 31_536_000_000_000_000));
        let mut deep = Deep {
            guard: Guard::from_config(c).unwrap().with_clock(clock),
            targets: targets(),
            t: START,
            i: 0,
        };
        for _ in 0..events {
            deep.check();
        }
        deep
    }

    #[inline]
    fn check(&mut self) {
        self.t += 1_000;
        self.i += 1;
        let e = Event::new(
            "actor",
            "GET",
            self.targets[self.i % TARGETS].as_str(),
            at(self.t),
        );
        black_box(self.guard.check(&e));
    }
}

/// 10,000 actors, every detector at its default, in one of two regimes:
/// - steady: each actor sends one event a minute (events 6 ms apart, round robin), so each holds
///   about 5 events in its 300 s window and is allowed: the keyed-limiter workload;
/// - flood: events stamped with the wall clock as fast as the loop runs, so every actor is far
///   over its burst limit, blocked, and its window keeps growing.
struct Wide {
    guard: Guard,
    actors: Vec<String>,
    targets: Vec<String>,
    steady: bool,
    i: usize,
}

impl Wide {
    /// The steady workload under `config` (its clock far ahead, as in `new`).
    fn with_config(actors: usize, config: Config) -> Wide {
        let guard = Guard::from_config(config)
            .unwrap()
            .with_clock(ManualClock::new(at(START + 1_000_000 * 1_000_000_000)));
        Wide {
            guard,
            actors: (0..actors).map(|i| format!("user:{i}")).collect(),
            targets: targets(),
            steady: true,
            i: 0,
        }
    }

    fn new(actors: usize, steady: bool) -> Wide {
        let guard = if steady {
            // Synthetic time runs ahead of the wall clock: a clock far ahead keeps the
            // future-timestamp cap out of the way.
            Guard::new().with_clock(ManualClock::new(at(START + 1_000_000 * 1_000_000_000)))
        } else {
            Guard::new()
        };
        Wide {
            guard,
            actors: (0..actors).map(|i| format!("user:{i}")).collect(),
            targets: targets(),
            steady,
            i: 0,
        }
    }

    #[inline]
    fn check(&mut self) {
        self.i += 1;
        let actor = &self.actors[self.i % self.actors.len()];
        let target = &self.targets[self.i % TARGETS];
        let ts = if self.steady {
            at(START + self.i as u64 * 6_000_000)
        } else {
            SystemTime::now()
        };
        let e = Event::new(actor.as_str(), "GET", target.as_str(), ts);
        black_box(self.guard.check(&e));
    }
}

struct Governor {
    limiter: governor::DefaultKeyedRateLimiter<String>,
    keys: Vec<String>,
    i: usize,
}

impl Governor {
    fn new(actors: usize) -> Governor {
        Governor {
            limiter: RateLimiter::keyed(Quota::per_second(NonZeroU32::new(1_000_000).unwrap())),
            keys: (0..actors).map(|i| format!("user:{i}")).collect(),
            i: 0,
        }
    }

    #[inline]
    fn check(&mut self) {
        self.i += 1;
        black_box(
            self.limiter
                .check_key(&self.keys[self.i % self.keys.len()])
                .is_ok(),
        );
    }
}

/// The fast engine and the reference engine on the same stream: 1,000 events per window.
struct PerWindow {
    guard: Guard,
    clock: ManualClock,
    reference: common::Reference,
    targets: Vec<String>,
    t: u64,
    i: usize,
}

impl PerWindow {
    fn config() -> Config {
        let mut c = Config::default();
        c.guard.window_secs = 1.0; // one event per millisecond: 1,000 in the window
        c.guard.burst_max_events = 2_000;
        c.guard.max_events_per_actor = Some(4_000);
        c.guard.interval_secs = Some(0.001);
        c.guard.regularity_max_cv = Some(0.1);
        c.guard.switching_max_count = Some(500);
        c
    }

    fn new() -> PerWindow {
        let clock = ManualClock::new(at(START));
        let mut p = PerWindow {
            guard: Guard::from_config(Self::config())
                .unwrap()
                .with_clock(clock.clone()),
            clock,
            reference: common::Reference::new(Self::config()),
            targets: targets(),
            t: START,
            i: 0,
        };
        for _ in 0..2_000 {
            p.step();
            p.fast();
            p.slow();
        }
        p
    }

    fn step(&mut self) {
        self.t += 1_000_000;
        self.i += 1;
        self.clock.set(at(self.t));
    }

    #[inline]
    fn fast(&mut self) {
        let target = self.targets[self.i % TARGETS].as_str();
        black_box(
            self.guard
                .check(&Event::new("actor", "GET", target, at(self.t))),
        );
    }

    fn slow(&mut self) {
        let target = &self.targets[self.i % TARGETS];
        black_box(
            self.reference
                .check("actor", "GET", target, self.t, 1.0, self.t),
        );
    }
}

fn criterion_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("check/window");
    group.throughput(Throughput::Elements(1));
    for events in [100u64, 10_000, 1_000_000] {
        let mut deep = Deep::new(events);
        group.bench_function(BenchmarkId::from_parameter(events), |b| {
            b.iter(|| deep.check());
        });
    }
    group.finish();

    let mut group = c.benchmark_group("check/10k-actors");
    group.throughput(Throughput::Elements(1));
    let mut wide = Wide::new(10_000, true);
    group.bench_function("pattern-guard/steady", |b| b.iter(|| wide.check()));
    let mut flood = Wide::new(10_000, false);
    group.bench_function("pattern-guard/flood", |b| b.iter(|| flood.check()));
    let mut gov = Governor::new(10_000);
    group.bench_function("governor", |b| b.iter(|| gov.check()));
    group.finish();

    let mut group = c.benchmark_group("check/1k-per-window");
    let mut pw = PerWindow::new();
    group.bench_function("engine", |b| {
        b.iter(|| {
            pw.step();
            pw.fast();
        });
    });
    let mut pw = PerWindow::new();
    group.bench_function("reference", |b| {
        b.iter(|| {
            pw.step();
            pw.slow();
        });
    });
    group.finish();
}

/// The steady 10,000-actor check with the baseline detector off and on (`baseline_max_z = 4`,
/// 60 s buckets), alternating round by round: the medians.
fn baseline_cost() -> (f64, f64) {
    let mut on_config = Config::default();
    on_config.guard.baseline_max_z = Some(4.0);
    let mut off = Wide::with_config(10_000, Config::default());
    let mut on = Wide::with_config(10_000, on_config);
    for _ in 0..100_000 {
        off.check();
        on.check();
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        a.push(ns_per(1, 200_000, || off.check()));
        b.push(ns_per(1, 200_000, || on.check()));
    }
    (median(&mut a), median(&mut b))
}

/// Best (lowest) ns per call over `rounds` rounds of `n` calls: the least disturbed by noise.
fn ns_per(rounds: usize, n: usize, mut f: impl FnMut()) -> f64 {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            start.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Operations per second over `threads` threads, each calling `work(thread, round)`, which does
/// `per_thread` operations: one warm-up round, then the best of five.
fn per_second<W>(threads: usize, per_thread: usize, work: W) -> f64
where
    W: Fn(usize, u64) + Send + Sync + 'static,
{
    let work = Arc::new(work);
    let run = |round: u64| {
        let barrier = Arc::new(std::sync::Barrier::new(threads + 1));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (work, barrier) = (work.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    work(t, round);
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for h in handles {
            h.join().unwrap();
        }
        start.elapsed()
    };
    run(0);
    let best = (1..=5).map(run).min().unwrap();
    (threads * per_thread) as f64 / best.as_secs_f64()
}

/// Checks per second over `threads` threads, each on its own 5,000 actors: steady (one event
/// per actor per minute, synthetic time) or flood (wall-clock stamps, every actor blocked).
fn throughput(threads: usize, per_thread: usize, steady: bool) -> f64 {
    throughput_in(threads, per_thread, steady, 1)
}

/// [`throughput`] with each thread checking its own guard: nothing at all shared between the
/// threads, the same instructions and memory as the shared guard's checks. What the machine
/// itself makes of two threads doing this work, the ceiling for any store.
fn throughput_apart(threads: usize, per_thread: usize) -> f64 {
    throughput_in(threads, per_thread, true, threads)
}

/// [`throughput`] over `guards` guards, thread `t` checking guard `t % guards`.
fn throughput_in(threads: usize, per_thread: usize, steady: bool, guards: usize) -> f64 {
    let guards: Arc<Vec<Guard>> = Arc::new(
        (0..guards)
            .map(|_| {
                if steady {
                    Guard::new().with_clock(ManualClock::new(at(START + 1_000_000 * 1_000_000_000)))
                } else {
                    Guard::new()
                }
            })
            .collect(),
    );
    let actors: Arc<Vec<String>> =
        Arc::new((0..threads * 5_000).map(|i| format!("user:{i}")).collect());
    // Each thread's synthetic time is its own: its actors age with its own checks alone, so
    // each is seen once a minute whatever the other thread does. (One shared timeline, caught
    // up every 4,096 checks, made a thread the host paused for 2 ms jump 20,000 ticks, four
    // minutes, on resuming: its actors, a minute old, then passed the window and were
    // forgotten, 7,300-12,500 of them a two-thread run on one guard, 0-650 on a guard each,
    // and added back, each add locking a whole shard: a cost no deployment on a real clock
    // has.) The lanes keep the threads' times apart: a thread's actors are in its own lanes.
    per_second(threads, per_thread, move |t, round| {
        let own = &actors[t * 5_000..(t + 1) * 5_000];
        let guard = &guards[t % guards.len()];
        let mut tick = round * per_thread as u64;
        for i in 0..per_thread {
            tick += 1;
            let ts = if steady {
                at(START + tick * 12_000_000)
            } else {
                SystemTime::now()
            };
            let e = Event::new(own[i % own.len()].as_str(), "GET", "/x", ts);
            black_box(guard.check(&e));
        }
    })
}

/// Checks per second over `threads` threads that all check the same `threads` x 5,000 actors
/// (the steady workload, each thread starting at its own place in the list), so every actor's
/// checks come from every thread: a server whose workers take requests from any client.
fn throughput_shared(threads: usize, per_thread: usize) -> f64 {
    let guard =
        Arc::new(Guard::new().with_clock(ManualClock::new(at(START + 1_000_000 * 1_000_000_000))));
    let n = threads * 5_000;
    let actors: Arc<Vec<String>> = Arc::new((0..n).map(|i| format!("user:{i}")).collect());
    let timeline = Arc::new(AtomicU64::new(0));
    per_second(threads, per_thread, move |t, round| {
        let mut tick = round * per_thread as u64;
        for i in 0..per_thread {
            if i % 4096 == 0 {
                tick = tick.max(timeline.fetch_max(tick, Ordering::Relaxed));
            }
            tick += 1;
            let actor = &actors[(i + t * n / threads) % n];
            let e = Event::new(actor.as_str(), "GET", "/x", at(START + tick * 12_000_000));
            black_box(guard.check(&e));
        }
    })
}

/// governor's keyed `check_key` per second over `threads` threads, each on its own 5,000 keys.
fn governor_throughput(threads: usize) -> f64 {
    let limiter = Arc::new(Governor::new(0).limiter);
    let keys: Arc<Vec<String>> =
        Arc::new((0..threads * 5_000).map(|i| format!("user:{i}")).collect());
    let per_thread = 2_000_000;
    per_second(threads, per_thread, move |t, _| {
        let own = &keys[t * 5_000..(t + 1) * 5_000];
        for i in 0..per_thread {
            black_box(limiter.check_key(&own[i % own.len()]).is_ok());
        }
    })
}

/// Operations per second of a loop that shares nothing (hashing its own counter) on `threads`
/// threads: the machine's own ceiling for scaling.
fn ceiling(threads: usize) -> f64 {
    let per_thread = 5_000_000;
    per_second(threads, per_thread, move |t, _| {
        let mut h = t as u64;
        for i in 0..per_thread as u64 {
            h = xxhash_rust::xxh3::xxh3_64_with_seed(&i.to_le_bytes(), h);
        }
        black_box(h);
    })
}

/// Operations per second of a loop that shares nothing and touches no memory but keeps the
/// core's arithmetic units busy (six independent chains of adds, xors and shifts, as a check's
/// instructions do), on `threads` threads: context for work bound by its instruction count, where
/// two vCPUs may share a core's execution units. LLVM's code for it runs slower per iteration
/// than the same loop in C, so it may not fill the core; the ceiling that counts is
/// [`throughput_apart`], the checks themselves with nothing shared.
fn alu_ceiling(threads: usize) -> f64 {
    let per_thread = 50_000_000;
    per_second(threads, per_thread, move |t, _| {
        let mut s = [t as u64 + 1, 2, 3, 4, 5, 6];
        for i in 0..per_thread as u64 {
            s[0] = s[0].wrapping_add(i);
            s[1] ^= s[0];
            s[2] = s[2].wrapping_add(s[1] >> 3);
            s[3] ^= i.wrapping_mul(3);
            s[4] = s[4].wrapping_add(s[3]);
            s[5] ^= s[4] << 1;
        }
        black_box(s);
    })
}

/// Operations per second of a loop that shares nothing but memory bandwidth and cache: each
/// thread reads and writes random 64-byte lines of its own `bytes`-byte array (the size of the
/// guard's memory for its actors). The ceiling for work that lives in memory, as a check does.
fn memory_ceiling(threads: usize, bytes: usize) -> f64 {
    let per_thread = 5_000_000;
    let arrays: Arc<Vec<std::sync::Mutex<Vec<u64>>>> = Arc::new(
        (0..threads)
            .map(|_| std::sync::Mutex::new(vec![1u64; bytes / 8]))
            .collect(),
    );
    per_second(threads, per_thread, move |t, _| {
        let mut a = arrays[t]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let lines = a.len() / 8;
        let mut x = t as u64 + 1;
        for _ in 0..per_thread {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % lines as u64) as usize * 8;
            a[i] = a[i].wrapping_add(x);
        }
        black_box(a[0]);
    })
}

/// Heap bytes per actor of a default guard whose 5,000 actors hold five events each (as in the
/// steady throughput run).
fn heap_per_actor_estimate() -> usize {
    let before = LIVE.load(Ordering::Relaxed);
    let guard = Guard::new().with_clock(ManualClock::new(at(START + 1_000)));
    for round in 0..5u64 {
        for a in 0..5_000u64 {
            let e = Event::new(format!("user:{a}"), "GET", "/x", at(START + round * 60 + a));
            black_box(guard.check(&e));
        }
    }
    let bytes = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    drop(guard);
    bytes / 5_000
}

/// Heap held by a default guard after one actor sends 10,000 and then 10,000,000 events.
fn flood_one_actor() -> (f64, f64) {
    let before = LIVE.load(Ordering::Relaxed);
    let guard = Guard::new().with_clock(ManualClock::new(at(START + 1_000_000 * 1_000_000_000)));
    let targets = targets();
    let mut after_10k = 0.0;
    for i in 0..10_000_000u64 {
        let e = Event::new(
            "flood",
            "GET",
            targets[(i % 64) as usize].as_str(),
            at(START + i * 1_000),
        );
        black_box(guard.check(&e));
        if i == 9_999 {
            after_10k = (LIVE.load(Ordering::Relaxed) - before) as f64;
        }
    }
    let after = (LIVE.load(Ordering::Relaxed) - before) as f64;
    drop(guard);
    (after_10k, after)
}

fn memory() -> (f64, f64, f64) {
    let mut c = Config::default();
    c.max_actors = 2_000_000;
    let before = LIVE.load(Ordering::Relaxed);
    let guard = Guard::from_config(c).unwrap();
    let now = SystemTime::now();
    for i in 0..1_000_000 {
        let actor = format!("user:{i}");
        guard.check(&Event::new(actor.as_str(), "GET", "/api/items/1", now));
    }
    let actors_bytes = (LIVE.load(Ordering::Relaxed) - before) as f64;
    drop(guard);

    let before = LIVE.load(Ordering::Relaxed);
    let deep = Deep::new(1_000_001);
    let per_event = (LIVE.load(Ordering::Relaxed) - before) as f64 / 1_000_001.0;
    drop(deep);
    (
        actors_bytes / 1e6,
        per_event,
        actors_bytes / (1024.0 * 1024.0),
    )
}

/// Heap bytes per event held by one actor whose 1,000,000 events all have one action and
/// target and weight 1 (a client polling one route): kept as times alone.
fn per_event_one_key() -> f64 {
    let events = 1_000_000u64;
    let before = LIVE.load(Ordering::Relaxed);
    let guard = Guard::from_config(deep_config(events))
        .unwrap()
        .with_clock(ManualClock::new(at(START + 31_536_000_000_000_000)));
    for i in 0..events {
        black_box(guard.check(&Event::new(
            "poller",
            "GET",
            "/items/17",
            at(START + i * 1_000),
        )));
    }
    let bytes = (LIVE.load(Ordering::Relaxed) - before) as f64;
    drop(guard);
    bytes / events as f64
}

/// Throughput on one and two threads, beside what the machine itself scales to (one run; for
/// alternating rounds with intervals, `--scaling --pairs N`).
fn scaling() {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let one = throughput(1, 1_000_000, true);
    let two = throughput(2, 1_000_000, true);
    println!(
        "throughput, one event per actor per minute: 1 thread {:.2} M checks/s, 2 threads {:.2} M checks/s",
        one / 1e6,
        two / 1e6
    );
    println!(
        "  scaling: {:.2}x (goal >= 1.6x; {cores} cores here)",
        two / one
    );
    println!(
        "  2 threads on the same 10,000 actors (each actor's checks from both): {:.2} M checks/s",
        throughput_shared(2, 1_000_000) / 1e6
    );
    println!(
        "  2 threads each on a guard of its own (nothing shared: the ceiling for any store): {:.2}x",
        throughput_apart(2, 1_000_000) / one
    );
    println!(
        "  for context on this machine: a loop sharing nothing {:.2}x (one dependent chain), {:.2}x (six independent chains), governor check_key {:.2}x",
        ceiling(2) / ceiling(1),
        alu_ceiling(2) / alu_ceiling(1),
        governor_throughput(2) / governor_throughput(1)
    );
    let bytes = heap_per_actor_estimate() * 5_000;
    println!(
        "  a loop sharing nothing but touching its own {:.1} MB at random (a thread's actors' memory): {:.2}x",
        bytes as f64 / 1e6,
        memory_ceiling(2, bytes) / memory_ceiling(1, bytes)
    );
    let one = throughput(1, 1_000_000, false);
    let two = throughput(2, 1_000_000, false);
    println!(
        "  flood: 1 thread {:.2} M/s, 2 threads {:.2} M/s, scaling {:.2}x",
        one / 1e6,
        two / 1e6,
        two / one
    );
}

/// `--scaling --pairs N`: N rounds, each measuring one thread and then two (the order
/// alternating from round to round) for the shared guard, for a guard per thread and for the
/// arithmetic loop, so the host's slow and fast minutes fall on both sides of every ratio; the
/// medians with their 95% intervals.
fn scaling_pairs(pairs: usize) {
    let mut rows = Vec::new();
    for p in 0..pairs {
        let measure = |two: bool| {
            if two {
                (
                    throughput(2, 1_000_000, true),
                    throughput_apart(2, 1_000_000),
                    alu_ceiling(2),
                )
            } else {
                let one = throughput(1, 1_000_000, true);
                (one, one, alu_ceiling(1))
            }
        };
        let (one, two) = if p % 2 == 0 {
            let one = measure(false);
            (one, measure(true))
        } else {
            let two = measure(true);
            (measure(false), two)
        };
        let row = [two.0 / one.0, two.1 / one.1, two.2 / one.2];
        println!(
            "pair {:2}: 1 thread {:.2} M checks/s, 2 threads {:.2} M/s ({:.2}x), a guard each {:.2} M/s ({:.2}x); six-chain loop {:.2}x",
            p + 1,
            one.0 / 1e6,
            two.0 / 1e6,
            row[0],
            two.1 / 1e6,
            row[1],
            row[2]
        );
        rows.push(row);
    }
    let names = [
        "2 threads on one guard, their own actors (goal >= 1.6x)",
        "2 threads each on a guard of its own (nothing shared)",
        "the six-chain arithmetic loop (nothing shared, no memory)",
    ];
    for (i, name) in names.iter().enumerate() {
        let column: Vec<f64> = rows.iter().map(|r| r[i]).collect();
        let (median, lo, hi) = median_interval(&column);
        println!("{name}: median {median:.2}x (95% interval {lo:.2}-{hi:.2}x)");
    }
    let shared_over_apart: Vec<f64> = rows.iter().map(|r| r[0] / r[1]).collect();
    let (median, lo, hi) = median_interval(&shared_over_apart);
    println!(
        "one guard's two threads over a guard each: median {:.0}% (95% interval {:.0}-{:.0}%)",
        median * 100.0,
        lo * 100.0,
        hi * 100.0
    );
}

/// The median of `v` (sorted in place).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The median of `values` and its 95% interval: the medians of 2,000 resamples drawn with
/// replacement (a bootstrap, fixed seed, as `scripts/median_interval.py`).
fn median_interval(values: &[f64]) -> (f64, f64, f64) {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut meds: Vec<f64> = (0..2_000)
        .map(|_| {
            let mut draw: Vec<f64> = (0..values.len())
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    values[(x % values.len() as u64) as usize]
                })
                .collect();
            median(&mut draw)
        })
        .collect();
    meds.sort_by(f64::total_cmp);
    (median(&mut values.to_vec()), meds[50], meds[1_949])
}

fn summary() {
    println!("\n== pattern-guard engine summary (one run) ==");
    let mut window_ns = vec![];
    for events in [100u64, 10_000, 1_000_000] {
        let mut deep = Deep::new(events);
        let ns = ns_per(7, 200_000, || deep.check());
        println!("check, {events:>9} events in the window: {ns:8.1} ns");
        window_ns.push(ns);
    }
    let spread = window_ns.iter().copied().fold(0.0, f64::max)
        / window_ns.iter().copied().fold(f64::INFINITY, f64::min);
    println!("  spread max/min: {spread:.2}x (goal <= 2x)");

    let mut wide = Wide::new(10_000, true);
    let mut flood = Wide::new(10_000, false);
    let mut gov = Governor::new(10_000);
    for _ in 0..100_000 {
        wide.check();
        gov.check();
    }
    let ours = ns_per(7, 200_000, || wide.check());
    let theirs = ns_per(7, 200_000, || gov.check());
    let flooded = ns_per(7, 200_000, || flood.check());
    println!("check over 10,000 actors, one event per actor per minute: pattern-guard {ours:.1} ns, governor check_key {theirs:.1} ns");
    println!(
        "  ratio: {:.2}x governor's time (goal <= 3x), every detector on",
        ours / theirs
    );
    println!("  flood (every actor blocked, windows growing, wall-clock stamps): {flooded:.1} ns = {:.2}x governor", flooded / theirs);
    let (off, on) = baseline_cost();
    println!(
        "  baseline detector: off {off:.1} ns, on {on:.1} ns ({:+.1}%, goal <= +10%; median of 7 alternating rounds)",
        (on / off - 1.0) * 100.0
    );

    let mut pw = PerWindow::new();
    let fast = ns_per(5, 20_000, || {
        pw.step();
        pw.fast();
    });
    let mut pw = PerWindow::new();
    let slow = ns_per(3, 2_000, || {
        pw.step();
        pw.slow();
    });
    println!("1,000 events per window: engine {fast:.1} ns, reference {slow:.1} ns");
    println!("  speed-up: {:.0}x (goal >= 100x)", slow / fast);

    scaling();

    let (heap_small, heap_large) = flood_one_actor();
    println!(
        "one actor sending 10,000,000 events (defaults, cap 10,000): heap {:.0} KiB after 10,000 events, {:.0} KiB after 10,000,000",
        heap_small / 1024.0,
        heap_large / 1024.0
    );
    let (per_actor, per_event, total_mib) = memory();
    println!("memory: {per_actor:.0} bytes per idle actor (1 event), {per_event:.1} bytes per event held");
    println!(
        "  one actor's 1,000,000 events of one action and target, weight 1 (a client polling one route): {:.1} bytes an event",
        per_event_one_key()
    );
    println!("  1,000,000 actors: {total_mib:.0} MiB of heap (goal < 512 MiB)");
    let (restore_us, bytes_per_event) = snapshot_of_a_repeated_command();
    println!(
        "snapshot of one actor's 10,000 events (a repeated command, as the CLI keeps): {bytes_per_event:.1} bytes an event (Snapshot::to_bytes), restore {restore_us:.0} us"
    );
}

/// The CLI's case: one actor repeating one command 10,000 times about 1.7 ms apart. Returns the
/// best restore time in microseconds and the encoded size per event.
fn snapshot_of_a_repeated_command() -> (f64, f64) {
    let mut c = Config::default();
    c.guard.window_secs = 3600.0;
    c.guard.burst_max_events = 100_000;
    c.guard.max_events_per_actor = Some(200_000);
    let guard = Guard::from_config(c.clone()).unwrap();
    for i in 0..10_000u64 {
        let ts = at(START + i * 1_700_000 + (i * 7919) % 300_000);
        guard.check(&Event::new("cli", "run", "true", ts));
    }
    let snapshot = guard.export();
    let bytes = snapshot.to_bytes().len();
    let mut best = f64::INFINITY;
    for _ in 0..50 {
        let fresh = Guard::from_config(c.clone()).unwrap();
        let t = Instant::now();
        fresh.restore(black_box(&snapshot)).unwrap();
        best = best.min(t.elapsed().as_secs_f64() * 1e6);
    }
    (best, bytes as f64 / 10_000.0)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not, and then criterion runs
    // each benchmark once as a smoke test and the (slow) summary is skipped.
    let benching = std::env::args().any(|a| a == "--bench");
    let summary_only = std::env::args().any(|a| a == "--summary");
    // `cargo bench --bench engine -- --baseline-cost`: only the baseline detector's cost.
    if std::env::args().any(|a| a == "--baseline-cost") {
        let (off, on) = baseline_cost();
        println!(
            "baseline detector, 10,000 actors: off {off:.1} ns, on {on:.1} ns ({:+.1}%, goal <= +10%)",
            (on / off - 1.0) * 100.0
        );
        return;
    }
    // `cargo bench --bench engine -- --scaling`: only the two-thread scaling figures.
    // With `--pairs N`: N alternating rounds of one and two threads, medians and intervals.
    if std::env::args().any(|a| a == "--scaling") {
        let args: Vec<String> = std::env::args().collect();
        match args.iter().position(|a| a == "--pairs") {
            Some(i) => {
                let pairs = args
                    .get(i + 1)
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| {
                        eprintln!("--pairs takes a number of rounds, such as --pairs 10");
                        std::process::exit(2)
                    });
                scaling_pairs(pairs);
            }
            None => scaling(),
        }
        return;
    }
    if !summary_only {
        let mut c = Criterion::default()
            .configure_from_args()
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        criterion_benches(&mut c);
        c.final_summary();
    }
    if benching {
        summary();
    }
}
