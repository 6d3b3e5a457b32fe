//! One actor's settings, compiled for the hot path.
//!
//! [`Settings`] is what the user wrote (seconds as floats, optional keys); a [`Policy`] is what a
//! check reads: nanoseconds, limits as floats ready to divide by, the escalation's strike counts
//! and the delay at every level, computed once per actor configuration when the guard is built.
//! Every module of the engine reads a `Policy`; it depends only on the configuration.

use std::time::Duration;

use crate::clock::secs_to_nanos;
use crate::config::{Combine, Settings};

/// The highest escalation level a configuration may ask for (`escalation_max_level`).
pub(crate) const MAX_LEVEL: usize = 10;

/// One actor's settings, compiled.
///
/// Every number a check reads sits in the first fields (`repr(C)` keeps them together, about
/// three cache lines), so a check over many actors does not pull the whole [`Settings`] into
/// cache; `settings` itself is read only for reports and `weighted_sum` weights.
#[derive(Debug, Clone, PartialEq)]
#[repr(C)]
pub(crate) struct Policy {
    pub window_ns: u64,
    pub max_events: usize,
    /// Inclusive bounds of a matching gap, nanoseconds, when `interval_secs` is set.
    pub interval_ns: Option<(u64, u64)>,
    pub future_ns: u64,
    pub cooldown_ns: u64,
    pub burst_max: f64,
    pub repetition_max: f64,
    pub hopping_max: f64,
    /// 0 when switching is off.
    pub switching_max: f64,
    pub weight_max: f64,
    pub interval_min_samples: u64,
    pub regularity_min_samples: u64,
    /// 0 when regularity is off.
    pub regularity_max_cv: f64,
    /// 0 when the baseline is off.
    pub baseline_max_z: f64,
    pub baseline_bucket: crate::divisor::Divisor,
    /// Weight of each new bucket in the baseline's moving mean and variance.
    pub baseline_alpha: f64,
    pub baseline_max_risk: f64,
    pub allow_below: f64,
    pub warn_below: f64,
    pub delay_below: f64,
    pub escalation_step: f64,
    pub strikes_per_level: u32,
    pub max_strikes: u32,
    pub combine: Combine,
    /// The delay at each escalation level.
    delays: [Duration; MAX_LEVEL + 1],
    pub settings: Settings,
}

impl Policy {
    pub fn new(settings: Settings) -> Self {
        let s = &settings;
        let interval_ns = s.interval_secs.map(|p| {
            let tol = p * s.interval_tolerance_ratio;
            (secs_to_nanos(p - tol), secs_to_nanos(p + tol))
        });
        let strikes_per_level = u32::try_from(s.escalation_strikes)
            .unwrap_or(u32::MAX)
            .max(1);
        let levels = u32::try_from(s.escalation_max_level.min(MAX_LEVEL as u64)).unwrap_or(0);
        let delays = std::array::from_fn(|level| {
            let secs = s.delay_secs * s.escalation_delay_factor.powi(level as i32);
            Duration::from_secs_f64(secs.min(s.delay_max_secs).max(0.0))
        });
        Policy {
            window_ns: secs_to_nanos(s.window_secs).max(1),
            max_events: usize::try_from(s.max_events()).unwrap_or(usize::MAX),
            interval_ns,
            future_ns: secs_to_nanos(s.future_tolerance_secs),
            cooldown_ns: secs_to_nanos(s.escalation_cooldown_secs).max(1),
            burst_max: s.burst_max_events as f64,
            repetition_max: s.repetition_max_count as f64,
            hopping_max: s.hopping_max_targets as f64,
            switching_max: s.switching_max_count.map_or(0.0, |m| m as f64),
            weight_max: s.weight_max_total,
            interval_min_samples: s.interval_min_samples,
            regularity_min_samples: s.regularity_min_samples,
            regularity_max_cv: s.regularity_max_cv.unwrap_or(0.0),
            baseline_max_z: s.baseline_max_z.unwrap_or(0.0),
            baseline_bucket: crate::divisor::Divisor::new(secs_to_nanos(s.baseline_bucket_secs)),
            baseline_alpha: 2.0 / (s.baseline_min_samples as f64 + 1.0),
            baseline_max_risk: s.baseline_max_risk,
            allow_below: s.allow_below,
            warn_below: s.warn_below,
            delay_below: s.delay_below,
            escalation_step: s.escalation_step,
            strikes_per_level,
            max_strikes: strikes_per_level.saturating_mul(levels),
            combine: s.risk_combine,
            delays,
            settings,
        }
    }

    /// Whether a gap matches the configured period.
    #[inline]
    pub fn interval_hit(&self, gap: u64) -> bool {
        matches!(self.interval_ns, Some((lo, hi)) if gap >= lo && gap <= hi)
    }

    /// `delay_secs * escalation_delay_factor ^ level`, at most `delay_max_secs`.
    pub fn delay(&self, level: u8) -> Duration {
        self.delays[usize::from(level).min(self.delays.len() - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_bounds_are_inclusive() {
        let p = Policy::new(Settings {
            interval_secs: Some(10.0),
            ..Settings::default()
        });
        assert!(p.interval_hit(secs_to_nanos(8.0)));
        assert!(p.interval_hit(secs_to_nanos(12.0)));
        assert!(!p.interval_hit(secs_to_nanos(12.001)));
        assert!(!Policy::new(Settings::default()).interval_hit(secs_to_nanos(10.0)));
    }

    #[test]
    fn delay_grows_with_level_up_to_the_cap() {
        let p = Policy::new(Settings {
            delay_secs: 5.0,
            escalation_delay_factor: 2.0,
            delay_max_secs: 30.0,
            ..Settings::default()
        });
        let secs: Vec<u64> = (0..4).map(|l| p.delay(l).as_secs()).collect();
        assert_eq!(secs, [5, 10, 20, 30]);
    }
}
