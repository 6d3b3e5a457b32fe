//! The reference engine: every detector recomputed from the raw events, the obvious slow way.
//!
//! It keeps every event of every actor with its strings, and on each check rebuilds the window by
//! filtering on time, then counts with plain loops. It is the oracle the property tests hold the
//! fast engine to. It shares no code with the engine: only the documented rules.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use pattern_guard::{Combine, Config, Decision, Detector, Settings};

const NS: f64 = 1e9;

fn nanos(secs: f64) -> u64 {
    let n = (secs * NS).round();
    if n <= 0.0 {
        0
    } else if n >= u64::MAX as f64 {
        u64::MAX
    } else {
        n as u64
    }
}

#[derive(Debug, Clone)]
struct RefEvent {
    ts: u64,
    action: String,
    target: String,
    micros: u64,
}

#[derive(Debug, Default)]
struct RefActor {
    events: Vec<RefEvent>,
    strikes: u64,
    since: u64,
    /// Baseline: events, allowed events, and whether one was not allowed, per bucket index.
    buckets: BTreeMap<u64, (u64, u64, bool)>,
}

/// What the reference engine decided for one event.
#[derive(Debug, Clone, PartialEq)]
pub struct RefOutcome {
    pub decision: Decision,
    pub risk: f64,
    pub raw_risk: f64,
    pub level: u8,
    pub risks: BTreeMap<Detector, f64>,
    pub observed: BTreeMap<Detector, f64>,
}

pub struct Reference {
    config: Config,
    actors: HashMap<String, RefActor>,
}

impl Reference {
    pub fn new(config: Config) -> Self {
        Reference {
            config,
            actors: HashMap::new(),
        }
    }

    // One function on purpose: the oracle spells out every step of a check where it can be read
    // against docs/ENGINE.md in one go.
    #[allow(clippy::too_many_lines)]
    pub fn check(
        &mut self,
        actor: &str,
        action: &str,
        target: &str,
        ts: u64,
        weight: f64,
        clock_now: u64,
    ) -> RefOutcome {
        let s: Settings = self.config.settings_for(actor);
        let state = self.actors.entry(actor.to_string()).or_default();
        let mut ts = ts.min(clock_now.saturating_add(nanos(s.future_tolerance_secs)));
        if let Some(last) = state.events.last() {
            ts = ts.max(last.ts);
        }
        let micros = if weight.is_nan() || weight <= 0.0 {
            0
        } else {
            (weight.min(1e12) * 1e6).round() as u64
        };
        state.events.push(RefEvent {
            ts,
            action: action.into(),
            target: target.into(),
            micros,
        });

        // The window: events younger than window_secs, at most max_events_per_actor of the newest.
        let window_ns = nanos(s.window_secs).max(1);
        let mut window: Vec<&RefEvent> = state
            .events
            .iter()
            .filter(|e| e.ts.saturating_add(window_ns) > ts)
            .collect();
        let cap = s.max_events() as usize;
        if window.len() > cap {
            window.drain(..window.len() - cap);
        }

        let ratio = |observed: f64, max: f64| ((observed - max) / max).clamp(0.0, 1.0);
        let mut risks = BTreeMap::new();
        let mut observed = BTreeMap::new();
        let mut put = |d, o: f64, r: f64| {
            observed.insert(d, o);
            risks.insert(d, r);
        };

        let n = window.len() as f64;
        put(Detector::Burst, n, ratio(n, s.burst_max_events as f64));

        let same = window
            .iter()
            .filter(|e| e.action == action && e.target == target)
            .count() as f64;
        put(
            Detector::Repetition,
            same,
            ratio(same, s.repetition_max_count as f64),
        );

        let targets: BTreeSet<&str> = window.iter().map(|e| e.target.as_str()).collect();
        let distinct = targets.len() as f64;
        put(
            Detector::Hopping,
            distinct,
            ratio(distinct, s.hopping_max_targets as f64),
        );

        let switches = window
            .windows(2)
            .filter(|p| p[0].target != p[1].target)
            .count() as f64;
        if let Some(max) = s.switching_max_count {
            put(Detector::Switching, switches, ratio(switches, max as f64));
        }

        // u128: 19 events at the largest weight (10^12, 10^18 micro-units) already pass u64.
        let total: u128 = window.iter().map(|e| u128::from(e.micros)).sum();
        let total = total as f64 / 1e6;
        put(Detector::Weight, total, ratio(total, s.weight_max_total));

        let gaps: Vec<u64> = window.windows(2).map(|p| p[1].ts - p[0].ts).collect();
        if let Some(period) = s.interval_secs {
            let tol = period * s.interval_tolerance_ratio;
            let (lo, hi) = (nanos(period - tol), nanos(period + tol));
            if gaps.len() as u64 >= s.interval_min_samples {
                let hits = gaps.iter().filter(|&&g| g >= lo && g <= hi).count();
                let fraction = hits as f64 / gaps.len() as f64;
                put(Detector::Interval, fraction, fraction);
            } else {
                put(Detector::Interval, 0.0, 0.0);
            }
        }
        if let Some(max_cv) = s.regularity_max_cv {
            let sum: u64 = gaps.iter().sum();
            if (gaps.len() as u64) < s.regularity_min_samples || sum == 0 {
                put(Detector::Regularity, 0.0, 0.0);
            } else {
                let mean = sum as f64 / gaps.len() as f64;
                let var = gaps.iter().map(|&g| (g as f64 - mean).powi(2)).sum::<f64>()
                    / gaps.len() as f64;
                let cv = var.sqrt() / mean;
                put(
                    Detector::Regularity,
                    cv,
                    (1.0 - cv / max_cv).clamp(0.0, 1.0),
                );
            }
        }

        // Baseline: relearn every closed bucket from the first, one at a time (idle ones as zeros),
        // then measure the current bucket's count in spreads.
        if let Some(max_z) = s.baseline_max_z {
            let bucket_ns = nanos(s.baseline_bucket_secs).max(1);
            let current = ts / bucket_ns;
            state.buckets.entry(current).or_default().0 += 1;
            let first = *state.buckets.keys().next().unwrap();
            let alpha = 2.0 / (s.baseline_min_samples as f64 + 1.0);
            let (mut mean, mut var, mut samples) = (0.0f64, 0.0f32, 0u64);
            for b in first..current {
                let bucket = state.buckets.get(&b).copied().unwrap_or_default();
                if bucket.2 {
                    continue; // a bucket with a warned, delayed or blocked event teaches nothing
                }
                let x = bucket.1 as f64;
                if samples == 0 {
                    (mean, var) = (x, 0.0);
                } else {
                    let d = x - mean;
                    mean += alpha * d;
                    var = ((1.0 - alpha) * (f64::from(var) + alpha * d * d)) as f32;
                }
                samples += 1;
            }
            let count = state.buckets[&current].0 as f64;
            if samples >= s.baseline_min_samples {
                let spread = f64::from(var).sqrt().max(mean.sqrt()).max(1.0);
                let z = (count - mean) / spread;
                put(
                    Detector::Baseline,
                    count,
                    ((z - max_z) / max_z)
                        .clamp(0.0, 1.0)
                        .min(s.baseline_max_risk),
                );
            } else {
                put(Detector::Baseline, count, 0.0);
            }
        }

        let raw_risk = match s.risk_combine {
            Combine::Max => risks.values().fold(0.0f64, |a, &b| a.max(b)),
            Combine::WeightedSum => {
                let weight_of = |d: &Detector| match d {
                    Detector::Burst => s.risk_weight_burst,
                    Detector::Repetition => s.risk_weight_repetition,
                    Detector::Interval => s.risk_weight_interval,
                    Detector::Regularity => s.risk_weight_regularity,
                    Detector::Hopping => s.risk_weight_hopping,
                    Detector::Switching => s.risk_weight_switching,
                    Detector::Weight => s.risk_weight_weight,
                    Detector::Baseline => s.risk_weight_baseline,
                    _ => unreachable!(),
                };
                risks
                    .iter()
                    .map(|(d, r)| weight_of(d) * r)
                    .sum::<f64>()
                    .min(1.0)
            }
        };

        // Escalation, one cool-down period at a time.
        let cooldown = nanos(s.escalation_cooldown_secs).max(1);
        let max_strikes = s.escalation_strikes * s.escalation_max_level;
        while state.strikes > 0 && ts >= state.since + cooldown {
            state.strikes = state.strikes.saturating_sub(s.escalation_strikes);
            state.since += cooldown;
        }
        let level = (state.strikes.min(max_strikes) / s.escalation_strikes) as u8;
        let risk = if level > 0 && raw_risk >= s.allow_below {
            (raw_risk + f64::from(level) * s.escalation_step).min(1.0)
        } else {
            raw_risk
        };
        let decision = if risk < s.allow_below {
            Decision::Allow
        } else if risk < s.warn_below {
            Decision::Warn
        } else if risk < s.delay_below {
            let secs = (s.delay_secs * s.escalation_delay_factor.powi(i32::from(level)))
                .min(s.delay_max_secs);
            Decision::Delay(std::time::Duration::from_secs_f64(secs))
        } else {
            Decision::Block
        };
        if s.baseline_max_z.is_some() {
            let bucket_ns = nanos(s.baseline_bucket_secs).max(1);
            let bucket = state.buckets.entry(ts / bucket_ns).or_default();
            if decision == Decision::Allow {
                bucket.1 += 1;
            } else {
                bucket.2 = true;
            }
        }
        if decision != Decision::Allow {
            state.strikes = (state.strikes + 1).min(max_strikes);
            state.since = ts;
        }
        // Events that left the window (by time or by the cap) can never return: later events are
        // never older than this one. Forget them, so the reference stays usable in benchmarks.
        state.events.retain(|e| e.ts.saturating_add(window_ns) > ts);
        if state.events.len() > cap {
            state.events.drain(..state.events.len() - cap);
        }
        RefOutcome {
            decision,
            risk,
            raw_risk,
            level,
            risks,
            observed,
        }
    }
}
