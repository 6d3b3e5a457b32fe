//! Engine figures in a user's build: 10,000 actors each sending about one event a minute (every
//! detector at its default, the guard on the system clock), against governor's keyed
//! `check_key` on the same keys, in one run. Best of seven rounds of 200,000 checks each.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::time::{Duration, Instant, SystemTime};

use governor::{Quota, RateLimiter};
use pattern_guard::{Event, Guard};

const ACTORS: usize = 10_000;
const TARGETS: usize = 64;

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

fn main() {
    let actors: Vec<String> = (0..ACTORS).map(|i| format!("user:{i}")).collect();
    let targets: Vec<String> = (0..TARGETS).map(|i| format!("/api/items/{i}")).collect();
    // Events 6 ms apart round robin: each actor sends one a minute. Stamped from two days ago
    // on, so they stay behind the system clock for the whole run.
    let start = SystemTime::now() - Duration::from_secs(2 * 86_400);
    let guard = Guard::new();
    let mut i = 0usize;
    let mut check = || {
        i += 1;
        let ts = start + Duration::from_millis(6 * i as u64);
        let event = Event::new(
            actors[i % ACTORS].as_str(),
            "GET",
            targets[i % TARGETS].as_str(),
            ts,
        );
        black_box(guard.check(&event));
    };
    let limiter = RateLimiter::keyed(Quota::per_second(NonZeroU32::new(1_000_000).unwrap()));
    let mut j = 0usize;
    let mut governor = || {
        j += 1;
        black_box(limiter.check_key(&actors[j % ACTORS]).is_ok());
    };
    for _ in 0..100_000 {
        check();
        governor();
    }
    let ours = ns_per(7, 200_000, &mut check);
    let theirs = ns_per(7, 200_000, &mut governor);
    println!(
        "user build (default release profile, system clock), 10,000 actors, one event per actor per minute: \
         pattern-guard {ours:.1} ns, governor check_key {theirs:.1} ns: {:.2}x (goal <= 3x)",
        ours / theirs
    );
}
