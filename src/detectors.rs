//! The detectors: from a window's figures to one risk per detector, and their combination.
//!
//! | detector   | observed                                  | risk                                   |
//! |------------|-------------------------------------------|----------------------------------------|
//! | burst      | events in the window                      | `(observed - max) / max`, in [0, 1]    |
//! | repetition | occurrences of this (action, target)      | as burst                               |
//! | interval   | fraction of gaps within tolerance of the period | the fraction, once `interval_min_samples` gaps |
//! | regularity | coefficient of variation of the gaps      | `1 - cv / regularity_max_cv`, in [0, 1], once `regularity_min_samples` gaps |
//! | hopping    | distinct targets                          | as burst                               |
//! | switching  | target changes between consecutive events | as burst                               |
//! | weight     | total weight                              | as burst                               |
//!
//! Every count includes the event being checked. Interval, regularity and switching are off until
//! configured; the others are on with the documented defaults.

use crate::clock::secs_to_nanos;
use crate::config::{Combine, Settings};
use crate::decision::{Decision, Detector, Reading};
use crate::window::Figures;
use std::time::Duration;

/// One actor's settings, compiled for the hot path.
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
    burst_max: f64,
    repetition_max: f64,
    hopping_max: f64,
    /// 0 when switching is off.
    switching_max: f64,
    weight_max: f64,
    interval_min_samples: u64,
    regularity_min_samples: u64,
    /// 0 when regularity is off.
    regularity_max_cv: f64,
    allow_below: f64,
    warn_below: f64,
    delay_below: f64,
    pub escalation_step: f64,
    pub strikes_per_level: u32,
    pub max_strikes: u32,
    combine: Combine,
    /// The delay at each escalation level.
    delays: [Duration; 11],
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
        let levels = u32::try_from(s.escalation_max_level.min(10)).unwrap_or(10);
        let delays = std::array::from_fn(|level| {
            let secs = s.delay_secs * s.escalation_delay_factor.powi(level as i32);
            Duration::from_secs_f64(secs.min(s.delay_max_secs).max(0.0))
        });
        Policy {
            window_ns: secs_to_nanos(s.window_secs).max(1),
            max_events: usize::try_from(s.max_events_per_actor).unwrap_or(usize::MAX),
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

    /// Whether a detector is configured for this actor (and so reported).
    pub fn enabled(&self, detector: Detector) -> bool {
        match detector {
            Detector::Interval => self.interval_ns.is_some(),
            Detector::Regularity => self.regularity_max_cv > 0.0,
            Detector::Switching => self.switching_max > 0.0,
            _ => true,
        }
    }

    fn risk_weight(&self, detector: Detector) -> f64 {
        let s = &self.settings;
        match detector {
            Detector::Burst => s.risk_weight_burst,
            Detector::Repetition => s.risk_weight_repetition,
            Detector::Interval => s.risk_weight_interval,
            Detector::Regularity => s.risk_weight_regularity,
            Detector::Hopping => s.risk_weight_hopping,
            Detector::Switching => s.risk_weight_switching,
            Detector::Weight => s.risk_weight_weight,
        }
    }

    pub fn allow_below(&self) -> f64 {
        self.allow_below
    }

    pub fn delay_below(&self) -> f64 {
        self.delay_below
    }

    pub fn burst_max(&self) -> f64 {
        self.burst_max
    }

    pub fn combine(&self) -> Combine {
        self.combine
    }

    /// The decision band a risk falls in; `level` scales the delay.
    pub fn band(&self, risk: f64, level: u8) -> Decision {
        if risk < self.allow_below {
            Decision::Allow
        } else if risk < self.warn_below {
            Decision::Warn
        } else if risk < self.delay_below {
            Decision::Delay(self.delay(level))
        } else {
            Decision::Block
        }
    }

    /// `delay_secs * escalation_delay_factor ^ level`, at most `delay_max_secs`.
    pub fn delay(&self, level: u8) -> Duration {
        self.delays[usize::from(level).min(self.delays.len() - 1)]
    }
}

/// `(observed - max) / max`, clipped to [0, 1].
#[inline]
pub(crate) fn ratio_risk(observed: f64, max: f64) -> f64 {
    ((observed - max) / max).clamp(0.0, 1.0)
}

/// Weight in micro-units as a weight.
pub(crate) fn weight_units(micros: u128) -> f64 {
    micros as f64 / 1e6
}

/// Every detector's reading, in [`Detector::ALL`] order.
pub(crate) fn readings(policy: &Policy, f: &Figures) -> [Reading; 7] {
    let p = policy;
    let counted = |detector, observed: u64, max: f64| Reading {
        detector,
        observed: observed as f64,
        limit: max,
        risk: if max > 0.0 {
            ratio_risk(observed as f64, max)
        } else {
            0.0
        },
        samples: 0,
    };
    let interval = match p.interval_ns {
        Some(_) if f.gaps >= p.interval_min_samples => {
            let fraction = f.interval_hits as f64 / f.gaps as f64;
            Reading {
                detector: Detector::Interval,
                observed: fraction,
                limit: p.settings.interval_secs.unwrap_or(0.0),
                risk: fraction,
                samples: f.gaps,
            }
        }
        _ => Reading {
            detector: Detector::Interval,
            observed: 0.0,
            limit: 0.0,
            risk: 0.0,
            samples: f.gaps,
        },
    };
    let weight = weight_units(f.weight_total);
    [
        counted(Detector::Burst, f.events, p.burst_max),
        counted(Detector::Repetition, f.key_count, p.repetition_max),
        interval,
        regularity(p, f),
        counted(Detector::Hopping, f.distinct_targets, p.hopping_max),
        counted(Detector::Switching, f.switches, p.switching_max),
        Reading {
            detector: Detector::Weight,
            observed: weight,
            limit: p.weight_max,
            risk: ratio_risk(weight, p.weight_max),
            samples: 0,
        },
    ]
}

/// Coefficient of variation of the gaps; risk once enough non-zero-mean samples.
fn regularity(p: &Policy, f: &Figures) -> Reading {
    let silent = Reading {
        detector: Detector::Regularity,
        observed: 0.0,
        limit: p.regularity_max_cv,
        risk: 0.0,
        samples: 0,
    };
    if p.regularity_max_cv <= 0.0 {
        return silent;
    }
    if f.gaps < p.regularity_min_samples || f.gap_sum == 0 {
        // Too few gaps, or all at one instant: that is a burst, not pacing.
        return Reading {
            samples: if f.gap_sum == 0 { 0 } else { f.gaps },
            ..silent
        };
    }
    // cv = sqrt(n * sum(g^2) - sum(g)^2) / sum(g). The difference is taken in exact integers:
    // in floating point it cancels, and perfectly regular gaps would show a cv of about 1e-8.
    let (n, sum) = (u128::from(f.gaps), u128::from(f.gap_sum));
    let cv = match n.checked_mul(f.gap_sq_sum) {
        Some(scaled) => (scaled.saturating_sub(sum * sum) as f64).sqrt() / f.gap_sum as f64,
        // Only for gaps so uneven that n * sum(g^2) passes 2^128: no cancellation to fear there.
        None => {
            let mean = f.gap_sum as f64 / f.gaps as f64;
            let variance = (f.gap_sq_sum as f64 / f.gaps as f64 - mean * mean).max(0.0);
            variance.sqrt() / mean
        }
    };
    Reading {
        observed: cv,
        risk: (1.0 - cv / p.regularity_max_cv).clamp(0.0, 1.0),
        samples: f.gaps,
        ..silent
    }
}

/// The combined risk of an actor's readings.
pub(crate) fn combine(policy: &Policy, readings: &[Reading]) -> f64 {
    match policy.combine {
        Combine::Max => readings.iter().fold(0.0, |m: f64, r| m.max(r.risk)),
        Combine::WeightedSum => readings
            .iter()
            .map(|r| policy.risk_weight(r.detector) * r.risk)
            .sum::<f64>()
            .min(1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> Figures {
        Figures {
            events: 1,
            key_count: 1,
            distinct_targets: 1,
            switches: 0,
            interval_hits: 0,
            gaps: 0,
            gap_sum: 0,
            gap_sq_sum: 0,
            weight_total: 1_000_000,
        }
    }

    fn reading(policy: &Policy, f: &Figures, d: Detector) -> Reading {
        readings(policy, f)
            .into_iter()
            .find(|r| r.detector == d)
            .unwrap()
    }

    #[test]
    fn burst_risk_follows_the_seed_formula() {
        let p = Policy::new(Settings {
            burst_max_events: 3,
            ..Settings::default()
        });
        let risks: Vec<f64> = (1..=7)
            .map(|n| {
                reading(
                    &p,
                    &Figures {
                        events: n,
                        ..figures()
                    },
                    Detector::Burst,
                )
                .risk
            })
            .collect();
        assert_eq!(risks[..3], [0.0, 0.0, 0.0]);
        assert!((risks[3] - 1.0 / 3.0).abs() < 1e-12);
        assert!((risks[4] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(risks[5..], [1.0, 1.0]);
        let bands: Vec<&str> = risks.iter().map(|&r| p.band(r, 0).name()).collect();
        assert_eq!(
            bands,
            ["allow", "allow", "allow", "warn", "delay", "block", "block"]
        );
    }

    #[test]
    fn repetition_hopping_weight_and_switching_use_their_own_limits() {
        let p = Policy::new(Settings {
            repetition_max_count: 2,
            hopping_max_targets: 4,
            weight_max_total: 10.0,
            switching_max_count: Some(5),
            ..Settings::default()
        });
        let f = Figures {
            key_count: 3,
            distinct_targets: 6,
            weight_total: 15_000_000,
            switches: 10,
            ..figures()
        };
        assert_eq!(reading(&p, &f, Detector::Repetition).risk, 0.5);
        assert_eq!(reading(&p, &f, Detector::Hopping).risk, 0.5);
        assert_eq!(reading(&p, &f, Detector::Weight).risk, 0.5);
        assert_eq!(reading(&p, &f, Detector::Weight).observed, 15.0);
        assert_eq!(reading(&p, &f, Detector::Switching).risk, 1.0);
    }

    #[test]
    fn switching_is_silent_unless_configured() {
        let p = Policy::new(Settings::default());
        let f = Figures {
            switches: 1000,
            ..figures()
        };
        assert_eq!(reading(&p, &f, Detector::Switching).risk, 0.0);
        assert!(!p.enabled(Detector::Switching));
    }

    #[test]
    fn interval_risk_is_the_fraction_of_matching_gaps_after_min_samples() {
        let p = Policy::new(Settings {
            interval_secs: Some(10.0),
            interval_min_samples: 4,
            ..Settings::default()
        });
        assert!(p.interval_hit(secs_to_nanos(8.0)));
        assert!(p.interval_hit(secs_to_nanos(12.0)));
        assert!(!p.interval_hit(secs_to_nanos(12.001)));
        let few = Figures {
            gaps: 3,
            interval_hits: 3,
            ..figures()
        };
        assert_eq!(reading(&p, &few, Detector::Interval).risk, 0.0);
        let enough = Figures {
            gaps: 4,
            interval_hits: 3,
            ..figures()
        };
        assert_eq!(reading(&p, &enough, Detector::Interval).risk, 0.75);
    }

    #[test]
    fn regularity_fires_on_low_spread_only() {
        let p = Policy::new(Settings {
            regularity_max_cv: Some(0.1),
            regularity_min_samples: 2,
            ..Settings::default()
        });
        // Gaps 10s and 10s: cv 0, risk 1.
        let even = Figures {
            gaps: 2,
            gap_sum: 20,
            gap_sq_sum: 200,
            ..figures()
        };
        let r = reading(&p, &even, Detector::Regularity);
        assert_eq!((r.observed, r.risk), (0.0, 1.0));
        // Nine equal gaps of about 1.37 s in nanoseconds: still exactly 0 (the fuzzer found the
        // floating-point variance giving 2.4e-8 here).
        let g: u64 = 1_373_789_829;
        let long_even = Figures {
            gaps: 9,
            gap_sum: 9 * g,
            gap_sq_sum: 9 * u128::from(g) * u128::from(g),
            ..figures()
        };
        let r = reading(&p, &long_even, Detector::Regularity);
        assert_eq!((r.observed, r.risk), (0.0, 1.0));
        // Gaps 1 and 19: cv 0.9, silent.
        let uneven = Figures {
            gaps: 2,
            gap_sum: 20,
            gap_sq_sum: 1 + 361,
            ..figures()
        };
        let r = reading(&p, &uneven, Detector::Regularity);
        assert!((r.observed - 0.9).abs() < 1e-12);
        assert_eq!(r.risk, 0.0);
        // All at one instant: a burst, not pacing.
        let instant = Figures {
            gaps: 5,
            ..figures()
        };
        assert_eq!(reading(&p, &instant, Detector::Regularity).risk, 0.0);
    }

    #[test]
    fn weighted_sum_adds_weighted_risks_up_to_one() {
        let p = Policy::new(Settings {
            risk_combine: Combine::WeightedSum,
            risk_weight_burst: 0.5,
            ..Settings::default()
        });
        let rs = [
            Reading {
                detector: Detector::Burst,
                observed: 0.0,
                limit: 0.0,
                risk: 0.4,
                samples: 0,
            },
            Reading {
                detector: Detector::Hopping,
                observed: 0.0,
                limit: 0.0,
                risk: 0.3,
                samples: 0,
            },
        ];
        assert!((combine(&p, &rs) - 0.5).abs() < 1e-12);
        let max = Policy::new(Settings::default());
        assert_eq!(combine(&max, &rs), 0.4);
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
