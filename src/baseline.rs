//! The baseline: each actor's own normal rate, learned, and how far the current rate stands
//! above it (the `baseline` detector, off unless `baseline_max_z` is set).
//!
//! Rules (docs/ENGINE.md has them too; `tests/common` is their oracle):
//! - Time is cut into buckets of `baseline_bucket_secs`, aligned to the Unix epoch. The figure is
//!   the count of the actor's events in the current bucket, the checked event included.
//! - When a bucket closes (the first event of a later bucket arrives) its count is learned,
//!   unless any of its events was warned, delayed or blocked: such a bucket is not learned at all
//!   (not even the events allowed before the first warning), so an attack never teaches the
//!   baseline and a warned actor's baseline does not move. Every bucket with no event in between
//!   is learned as a zero. Learning is an exponentially weighted moving
//!   mean and variance with weight `a = 2 / (baseline_min_samples + 1)` per bucket:
//!   `d = x - mean; mean += a * d; var = (1 - a) * (var + a * d^2)`; the first bucket sets the
//!   mean and a zero variance. `k` idle buckets in a row are learned at once, in closed form:
//!   `b = (1 - a)^k; var = b * (var + mean^2 * (1 - b)); mean = b * mean` (what `k` zero steps
//!   give), so a month of silence costs what one bucket does.
//! - Once `baseline_min_samples` buckets are learned, `spread = max(sqrt(var), sqrt(mean), 1)`
//!   (the floor: a perfectly regular actor, whose variance is zero, is not flagged for one extra
//!   event; `sqrt(mean)` is a Poisson count's own spread), `z = (count - mean) / spread`, and the
//!   risk is `(z - baseline_max_z) / baseline_max_z`, clipped to [0, `baseline_max_risk`] (1 by
//!   default; just below `warn_below` for a warn-only rollout). The limit reported is the count
//!   at which it fires, `mean + baseline_max_z * spread`.
//! - The static limits stay in force beside it: a slow ramp the baseline follows still meets
//!   `burst_max_events` and the rest.
//!
//! The current bucket is the one of the actor's newest event (its window keeps that time), so
//! the state is 24 bytes per actor, inline in its slot, allocated nowhere: the mean in an `f64`,
//! the variance stored as an `f32` (7 significant digits, plenty for a spread), three counters.
//! A check does a few float operations.

use crate::policy::Policy;

/// One actor's learned rate and its current bucket (the bucket of its newest event).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Baseline {
    pub mean: f64,
    /// Stored as `f32` (computed in `f64`): the state fits its slot's last 24 bytes.
    pub var: f32,
    /// Events in the current bucket, the checked one included; 0 before the first event.
    pub count: u32,
    /// Of those, the allowed ones (what the bucket will teach), or [`TAINTED`] once one was not.
    pub allowed: u32,
    /// Buckets learned (saturating).
    pub samples: u32,
}

/// `allowed` of a bucket with a warned, delayed or blocked event: it will not be learned.
pub(crate) const TAINTED: u32 = u32::MAX;

/// What the detector reads.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Figures {
    pub count: u64,
    pub mean: f64,
    pub var: f64,
    pub samples: u64,
}

impl Baseline {
    /// Counts an event at `now`, after the actor's previous newest event at `before`: moves to
    /// the bucket of `now` first, learning the buckets closed on the way.
    pub fn count(&mut self, before: u64, now: u64, policy: &Policy) {
        let bucket = policy.baseline_bucket;
        let to = bucket.div(now);
        // Most checks stay in their bucket: one division decides it.
        if self.count > 0 && before < to * bucket.get() {
            let from = bucket.div(before);
            let alpha = policy.baseline_alpha;
            if self.allowed != TAINTED {
                self.learn(f64::from(self.allowed), alpha);
            }
            self.learn_zeros(to - from - 1, alpha);
            self.count = 0;
            self.allowed = 0;
        }
        self.count = self.count.saturating_add(1);
    }

    /// The checked event was allowed: the bucket may learn from it.
    pub fn allowed(&mut self) {
        if self.allowed != TAINTED {
            self.allowed = (self.allowed + 1).min(TAINTED - 1);
        }
    }

    /// The checked event was warned, delayed or blocked: its bucket will not be learned.
    pub fn refused(&mut self) {
        self.allowed = TAINTED;
    }

    fn learn(&mut self, x: f64, alpha: f64) {
        if self.samples == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let d = x - self.mean;
            self.mean += alpha * d;
            self.var = ((1.0 - alpha) * (f64::from(self.var) + alpha * d * d)) as f32;
        }
        self.samples = self.samples.saturating_add(1);
    }

    /// `k` empty buckets, at once.
    fn learn_zeros(&mut self, k: u64, alpha: f64) {
        if k == 0 {
            return;
        }
        let mut k = k;
        if self.samples == 0 {
            self.learn(0.0, alpha);
            k -= 1;
        }
        let b = (1.0 - alpha).powf(k as f64);
        self.var = (b * (f64::from(self.var) + self.mean * self.mean * (1.0 - b))) as f32;
        self.mean *= b;
        self.samples = u32::try_from(u64::from(self.samples).saturating_add(k)).unwrap_or(u32::MAX);
    }

    pub fn figures(&self) -> Figures {
        Figures {
            count: u64::from(self.count),
            mean: self.mean,
            var: f64::from(self.var),
            samples: u64::from(self.samples),
        }
    }
}

/// The spread a count is measured in: the learned one, at least `sqrt(mean)` and 1.
pub(crate) fn spread(mean: f64, var: f64) -> f64 {
    // max(sqrt(var), sqrt(mean), 1) with one square root.
    var.max(mean).max(1.0).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn policy(bucket_secs: f64, min_samples: u64) -> Policy {
        Policy::new(Settings {
            baseline_max_z: Some(3.0),
            baseline_bucket_secs: bucket_secs,
            baseline_min_samples: min_samples,
            ..Settings::default()
        })
    }

    const S: u64 = 1_000_000_000;

    #[test]
    fn idle_buckets_at_once_equal_one_at_a_time() {
        let p = policy(1.0, 9);
        let mut fast = Baseline::default();
        let mut before = 0;
        for i in 0..20 {
            fast.count(before, i * S, &p);
            fast.allowed();
            before = i * S;
        }
        // 1,000 idle buckets, then an event: learned in one step.
        fast.count(before, 1_020 * S, &p);
        // The same, one bucket at a time: 19 buckets of one, the 20th of one, 1,000 zeros.
        let mut slow = Baseline::default();
        for _ in 0..20 {
            slow.learn(1.0, p.baseline_alpha);
        }
        for _ in 0..1_000 {
            slow.learn(0.0, p.baseline_alpha);
        }
        assert_eq!(fast.samples, slow.samples);
        assert!(
            (fast.mean - slow.mean).abs() < 1e-12,
            "{} vs {}",
            fast.mean,
            slow.mean
        );
        let (fv, sv) = (f64::from(fast.var), f64::from(slow.var));
        assert!((fv - sv).abs() <= 1e-6 * sv.max(1e-30), "{fv} vs {sv}");
        assert_eq!((fast.count, fast.allowed), (1, 0));
    }

    #[test]
    fn only_allowed_events_teach_and_a_steady_rate_is_learned() {
        let p = policy(10.0, 5);
        let mut b = Baseline::default();
        let mut before = 0;
        let mut at = |b: &mut Baseline, ts: u64| {
            b.count(before, ts, &p);
            before = ts;
        };
        // 10 buckets of 4 events, all allowed.
        for bucket in 0..10 {
            for e in 0..4 {
                at(&mut b, bucket * 10 * S + e * S);
                b.allowed();
            }
        }
        at(&mut b, 100 * S);
        assert!((b.mean - 4.0).abs() < 1e-9 && b.var < 1e-9, "{b:?}");
        // A bucket of 50 events, allowed but for the last one, teaches nothing at all.
        let learned = (b.mean, b.var, b.samples);
        for e in 1..50 {
            at(&mut b, 100 * S + e * 100_000_000);
            b.allowed();
        }
        b.refused();
        at(&mut b, 110 * S);
        assert_eq!((b.mean, b.var, b.samples), learned);
        assert_eq!(spread(4.0, 0.0), 2.0);
        assert_eq!(spread(0.0, 0.0), 1.0);
        assert_eq!(spread(4.0, 25.0), 5.0);
    }
}
