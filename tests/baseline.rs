//! The baseline detector in the scenarios it is for, through the public API: a jump from an
//! actor's own normal, a population with its own rates and a daily swing, a slow ramp, and an
//! attack that must not teach it.

use std::time::{Duration, UNIX_EPOCH};

use pattern_guard::{Assessment, Config, Decision, Detector, Event, Guard, ManualClock};

const T0: u64 = 1_795_478_400; // 2026-11-24T00:00:00Z, a bucket boundary for every bucket size used

/// A guard with the baseline on and static limits far away (unless a test sets them).
fn guard(edit: impl FnOnce(&mut Config)) -> (Guard, ManualClock) {
    let mut c = Config::default();
    let g = &mut c.guard;
    g.window_secs = 60.0;
    g.burst_max_events = 100_000;
    g.repetition_max_count = 100_000;
    g.weight_max_total = 1e12;
    g.baseline_max_z = Some(4.0);
    g.baseline_bucket_secs = 60.0;
    g.baseline_min_samples = 30;
    edit(&mut c);
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(T0));
    (
        Guard::from_config(c).unwrap().with_clock(clock.clone()),
        clock,
    )
}

fn at(guard: &Guard, clock: &ManualClock, actor: &str, nanos: u64) -> Assessment {
    let t = UNIX_EPOCH + Duration::from_nanos(nanos);
    clock.set(t);
    guard.assess(&Event::new(actor, "GET", "/", t))
}

fn baseline(a: &Assessment) -> pattern_guard::Reading {
    *a.readings
        .iter()
        .find(|r| r.detector == Detector::Baseline)
        .expect("the baseline is reported")
}

const S: u64 = 1_000_000_000;

/// xorshift64*: a seeded source for Poisson traffic.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Knuth's method: fine for the small means used here.
    fn poisson(&mut self, mean: f64) -> u64 {
        let limit = (-mean).exp();
        let (mut k, mut p) = (0, self.unit());
        while p > limit {
            k += 1;
            p *= self.unit();
        }
        k
    }
}

/// One event a second for an hour, then twenty a second: flagged within the first bucket of the
/// jump, with the learned figures in the assessment.
#[test]
fn a_jump_from_a_steady_rate_is_flagged_within_its_first_bucket() {
    let (g, clock) = guard(|_| {});
    for s in 0..3600 {
        let a = at(&g, &clock, "api", (T0 + s) * S);
        assert_eq!(a.decision, Decision::Allow, "second {s}: {a:?}");
    }
    let jump = T0 + 3600;
    let mut flagged = None;
    for i in 0..20 * 60 {
        let ns = jump * S + i * S / 20;
        let a = at(&g, &clock, "api", ns);
        if a.decision != Decision::Allow {
            flagged = Some((ns, a));
            break;
        }
    }
    let (ns, a) = flagged.expect("the jump is flagged");
    eprintln!(
        "first refusal {:.2} s into the jump",
        (ns - jump * S) as f64 / 1e9
    );
    assert!(
        ns < (jump + 60) * S,
        "flagged {} s into the jump",
        ns / S - jump
    );
    let r = baseline(&a);
    assert!(r.risk >= 0.3, "{r:?}");
    let learned = r.learned.expect("figures once learned");
    assert!((learned.mean - 60.0).abs() < 1.0, "{learned:?}");
    assert!(learned.z > 4.0, "{learned:?}");
    assert_eq!(r.samples, 60);
    assert!(a.reasons().iter().any(|r| r.detector == Detector::Baseline));
}

/// 1,000 actors, each at its own Poisson rate (1 to 10 events a bucket) with a 2x daily swing,
/// for a day of five-minute buckets: few of their events are warned.
#[test]
fn a_population_with_its_own_rates_and_a_daily_swing_is_rarely_warned() {
    let (g, clock) = guard(|c| {
        c.guard.baseline_bucket_secs = 300.0;
        c.guard.window_secs = 300.0;
    });
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let actors: Vec<(String, f64)> = (0..1000)
        .map(|i| (format!("user:{i}"), 1.0 + 9.0 * rng.unit()))
        .collect();
    let (mut events, mut warned, mut actors_warned) = (0u64, 0u64, 0u64);
    let mut ever = vec![false; actors.len()];
    for bucket in 0..288u64 {
        // A swing between 2/3 and 4/3 of the actor's rate over the day: 2x peak to trough.
        let day = bucket as f64 / 288.0 * std::f64::consts::TAU;
        let swing = 1.0 + (day.sin() / 3.0);
        let start = T0 + bucket * 300;
        let mut sends: Vec<(u64, usize)> = Vec::new();
        for (i, (_, rate)) in actors.iter().enumerate() {
            for _ in 0..rng.poisson(rate * swing) {
                sends.push((start * S + (rng.unit() * 300.0 * S as f64) as u64, i));
            }
        }
        sends.sort_unstable();
        for (ns, i) in sends {
            let a = at(&g, &clock, &actors[i].0, ns);
            events += 1;
            if a.decision != Decision::Allow {
                warned += 1;
                if !ever[i] {
                    ever[i] = true;
                    actors_warned += 1;
                }
            }
        }
    }
    let share = warned as f64 / events as f64;
    eprintln!(
        "{events} events, {warned} not allowed ({:.3}%), {actors_warned} of 1000 actors ever",
        share * 100.0
    );
    assert!(events > 1_000_000 / 2, "{events}");
    assert!(share <= 0.01, "{:.3}% of events warned", share * 100.0);
}

/// 10% more a day for a month: the baseline follows the ramp, and it is the static limit that
/// ends it.
#[test]
fn a_slow_ramp_ends_at_the_static_limit() {
    let (g, clock) = guard(|c| {
        c.guard.burst_max_events = 10; // per 60 s window
    });
    let mut first_refusal = None;
    'days: for day in 0..30u64 {
        let per_minute = 1.1f64.powi(day as i32);
        for minute in 0..1440u64 {
            // The day's rate, spread evenly (a fraction carried from minute to minute).
            let start = (day * 1440 + minute) as f64 * per_minute;
            let n = ((start + per_minute).floor() - start.floor()) as u64;
            for e in 0..n {
                let ns = (T0 + (day * 1440 + minute) * 60) * S + e * 60 * S / n.max(1);
                let a = at(&g, &clock, "ramp", ns);
                if a.decision != Decision::Allow {
                    first_refusal = Some((day, a));
                    break 'days;
                }
            }
        }
    }
    let (day, a) = first_refusal.expect("the static limit ends the ramp");
    eprintln!("first refusal on day {day}: {a:?}");
    assert!(day >= 20, "refused on day {day}");
    let burst = a
        .readings
        .iter()
        .find(|r| r.detector == Detector::Burst)
        .unwrap();
    assert!(burst.risk >= 0.3, "the burst limit refuses: {a:?}");
    assert!(
        baseline(&a).risk < 0.3,
        "the baseline followed the ramp: {a:?}"
    );
}

/// A warned actor's baseline does not move: the flood's bucket teaches nothing.
#[test]
fn an_attack_does_not_teach_the_baseline() {
    let (g, clock) = guard(|_| {});
    for m in 0..60u64 {
        for e in 0..6 {
            at(&g, &clock, "svc", (T0 + m * 60 + e * 10) * S);
        }
    }
    // The first event of minute 60: minute 59 learned.
    let before = baseline(&at(&g, &clock, "svc", (T0 + 3600) * S));
    // A flood in minute 60: warned after a while, blocked later.
    let mut refused = 0;
    for e in 1..600u64 {
        let a = at(&g, &clock, "svc", (T0 + 3600) * S + e * 100_000_000);
        refused += u64::from(a.decision != Decision::Allow);
    }
    assert!(refused > 500, "{refused}");
    // Minute 61: the flood's bucket was not learned.
    let after = baseline(&at(&g, &clock, "svc", (T0 + 3660) * S));
    let (b, a) = (before.learned.unwrap(), after.learned.unwrap());
    assert_eq!(
        (b.mean, b.spread, before.samples),
        (a.mean, a.spread, after.samples)
    );
    // The same minute without the flood would have taught it: one more bucket learned.
    let (quiet, qc) = guard(|_| {});
    for m in 0..61u64 {
        for e in 0..6 {
            at(&quiet, &qc, "svc", (T0 + m * 60 + e * 10) * S);
        }
    }
    let taught = baseline(&at(&quiet, &qc, "svc", (T0 + 3660) * S));
    assert_eq!(taught.samples, after.samples + 1);
}

/// The baseline survives a snapshot and a restore: the CLI learns across invocations.
#[test]
fn the_learned_baseline_survives_export_and_restore() {
    let (g, clock) = guard(|_| {});
    for s in 0..1800 {
        at(&g, &clock, "job", (T0 + s) * S);
    }
    let snapshot = g.export();
    let bytes = snapshot.to_bytes();
    let restored = pattern_guard::Snapshot::decode(&mut &bytes[..]).unwrap();
    let (g2, clock2) = guard(|_| {});
    g2.restore(&restored).unwrap();
    let a = baseline(&at(&g, &clock, "job", (T0 + 1800) * S));
    let b = baseline(&at(&g2, &clock2, "job", (T0 + 1800) * S));
    assert_eq!(a, b);
    assert_eq!(a.samples, 30);
}
