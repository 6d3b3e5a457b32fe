//! The detectors: from a window's figures to one reading (observed, limit, risk) per detector,
//! and the readings combined into one risk.
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
//! | baseline   | events in the current bucket (`baseline_bucket_secs`) | `(z - max_z) / max_z`, in [0, 1], once `baseline_min_samples` buckets learned (see `baseline.rs`) |
//!
//! Every count includes the event being checked. Interval, regularity, switching and baseline
//! are off until configured; the others are on with the documented defaults.
//!
//! # Adding a detector
//! Every detector is one entry of the `detectors!` table below: its name, its `risk_weight_*`
//! key, when it is on, how it reads the window's [`Figures`] and how its reading reads in a
//! sentence. The [`Detector`] enum, [`Detector::ALL`], the readings array, the risk weights and
//! the reports are generated from it. Beside the entry a new detector needs its figure (kept
//! running in `window/mod.rs`), its limit (a key in `config.rs`'s `settings!` table, compiled in
//! `policy.rs`), its `risk_weight_<name>` key, and its oracle in `tests/common`.

use std::fmt;

use crate::config::{Combine, Settings};
use crate::hash::weight_units;
use crate::policy::Policy;
use crate::window::Figures;

/// One detector's view of one check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Which detector.
    pub detector: Detector,
    /// What it observed in the window, the current event included: events (burst), occurrences of
    /// this (action, target) (repetition), fraction of matching gaps (interval), coefficient of
    /// variation of the gaps (regularity), distinct targets (hopping), target changes (switching),
    /// total weight (weight).
    pub observed: f64,
    /// The configured limit it is compared with.
    pub limit: f64,
    /// Its risk, in [0, 1].
    pub risk: f64,
    /// Sample count behind `observed` where it needs one (gaps, for interval and regularity;
    /// buckets learned, for baseline); too few samples to speak means a risk of 0.
    pub samples: u64,
    /// The baseline's learned figures (`None` for the other detectors).
    pub learned: Option<Learned>,
}

/// What the baseline detector learned of an actor, beside its reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Learned {
    /// The learned mean count per bucket.
    pub mean: f64,
    /// The spread the count is measured in (learned, at least `sqrt(mean)` and 1).
    pub spread: f64,
    /// How many spreads the current count stands above the mean.
    pub z: f64,
}

impl Reading {
    /// Whether this detector contributed any risk.
    pub fn fired(&self) -> bool {
        self.risk > 0.0
    }
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.detector.describe(self, f)?;
        write!(f, ", risk {:.2}", self.risk)
    }
}

/// How a detector reads a window: `(detector, policy, figures) -> reading`.
type Read = fn(Detector, &Policy, &Figures) -> Reading;
/// How a reading reads in a sentence (before its `, risk R`).
type Describe = fn(&Reading, &mut fmt::Formatter<'_>) -> fmt::Result;

macro_rules! detectors {
    ($(
        $(#[doc = $doc:literal])+
        $variant:ident {
            name: $name:literal,
            risk_weight: $weight:ident,
            enabled: $enabled:expr,
            read: $read:expr,
            describe: $describe:expr $(,)?
        }
    )+) => {
        /// The detectors, each computed per actor over that actor's sliding window.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Detector {
            $( $(#[doc = $doc])+ $variant, )+
        }

        impl Detector {
            /// Every detector, in report order.
            pub const ALL: &'static [Detector] = &[$( Detector::$variant ),+];

            /// How many detectors there are.
            pub(crate) const COUNT: usize = [$( Detector::$variant ),+].len();

            /// The lower-case name used in config keys, logs and JSON.
            pub fn name(&self) -> &'static str {
                match self { $( Detector::$variant => $name, )+ }
            }

            /// The detector with this name.
            pub fn from_name(name: &str) -> Option<Detector> {
                match name { $( $name => Some(Detector::$variant), )+ _ => None }
            }

            /// Its weight under `risk_combine = "weighted_sum"` (`risk_weight_<name>`).
            pub(crate) fn risk_weight(self, s: &Settings) -> f64 {
                match self { $( Detector::$variant => s.$weight, )+ }
            }

            /// Whether it is configured for an actor (and so reported).
            pub(crate) fn enabled(self, policy: &Policy) -> bool {
                match self {
                    $( Detector::$variant => {
                        let enabled: fn(&Policy) -> bool = $enabled;
                        enabled(policy)
                    } )+
                }
            }

            fn describe(self, r: &Reading, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $( Detector::$variant => {
                        let describe: Describe = $describe;
                        describe(r, f)
                    } )+
                }
            }
        }

        /// Every detector's reading, in [`Detector::ALL`] order.
        ///
        /// Always in line (the check is its one caller): built out of line, its 576 bytes of
        /// readings were copied into the check's outcome, which a user's build (no LTO) did
        /// once the `metrics` feature grew the check (docs/METRICS.md, "What it costs").
        #[inline(always)]
        pub(crate) fn readings(policy: &Policy, figures: &Figures) -> Readings {
            [$( {
                let read: Read = $read;
                read(Detector::$variant, policy, figures)
            } ),+]
        }
    };
}

/// One reading per detector, in [`Detector::ALL`] order.
pub(crate) type Readings = [Reading; Detector::COUNT];

detectors! {
    /// Too many events in the window.
    Burst {
        name: "burst",
        risk_weight: risk_weight_burst,
        enabled: |_| true,
        read: |d, p, f| counted(d, f.events, p.burst_max),
        describe: |r, f| write!(f, "burst: {} events in the window (max {})", r.observed, r.limit),
    }
    /// The same (action, target) too often.
    Repetition {
        name: "repetition",
        risk_weight: risk_weight_repetition,
        enabled: |_| true,
        read: |d, p, f| counted(d, f.key_count, p.repetition_max),
        describe: |r, f| {
            write!(f, "repetition: same action and target {} times (max {})", r.observed, r.limit)
        },
    }
    /// Gaps close to the configured fixed period (`interval_secs`).
    Interval {
        name: "interval",
        risk_weight: risk_weight_interval,
        enabled: |p| p.interval_ns.is_some(),
        read: interval,
        describe: |r, f| {
            write!(f, "interval: {:.0}% of {} gaps match the {}s period", r.observed * 100.0, r.samples, r.limit)
        },
    }
    /// Machine-regular gaps with no configured period (low spread of the gaps).
    Regularity {
        name: "regularity",
        risk_weight: risk_weight_regularity,
        enabled: |p| p.regularity_max_cv > 0.0,
        read: regularity,
        describe: |r, f| {
            write!(f, "regularity: gap spread (cv) {:.3} over {} gaps (fires below {})", r.observed, r.samples, r.limit)
        },
    }
    /// Too many distinct targets.
    Hopping {
        name: "hopping",
        risk_weight: risk_weight_hopping,
        enabled: |_| true,
        read: |d, p, f| counted(d, f.distinct_targets, p.hopping_max),
        describe: |r, f| write!(f, "hopping: {} distinct targets (max {})", r.observed, r.limit),
    }
    /// Too many changes of target between consecutive events.
    Switching {
        name: "switching",
        risk_weight: risk_weight_switching,
        enabled: |p| p.switching_max > 0.0,
        read: |d, p, f| counted(d, f.switches, p.switching_max),
        describe: |r, f| write!(f, "switching: {} target changes (max {})", r.observed, r.limit),
    }
    /// Sum of event weights (cost) too high.
    Weight {
        name: "weight",
        risk_weight: risk_weight_weight,
        enabled: |_| true,
        read: |d, p, f| {
            let weight = weight_units(f.weight_total);
            Reading { detector: d, observed: weight, limit: p.weight_max, risk: ratio_risk(weight, p.weight_max), samples: 0, learned: None }
        },
        describe: |r, f| write!(f, "weight: total {} (max {})", r.observed, r.limit),
    }
    /// More events in the current bucket than the actor's own learned normal.
    Baseline {
        name: "baseline",
        risk_weight: risk_weight_baseline,
        enabled: |p| p.baseline_max_z > 0.0,
        read: baseline,
        describe: |r, f| match r.learned {
            Some(l) => write!(
                f,
                "baseline: {} events this bucket, learned {:.1} ± {:.1} over {} buckets (z {:.1}, fires above {:.1})",
                r.observed, l.mean, l.spread, r.samples, l.z, r.limit
            ),
            None => write!(f, "baseline: {} events this bucket, {} buckets learned", r.observed, r.samples),
        },
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `(observed - max) / max`, clipped to [0, 1].
#[inline]
pub(crate) fn ratio_risk(observed: f64, max: f64) -> f64 {
    ((observed - max) / max).clamp(0.0, 1.0)
}

/// A count against its limit; silent when the limit is 0 (the detector is off).
fn counted(detector: Detector, observed: u64, max: f64) -> Reading {
    Reading {
        detector,
        observed: observed as f64,
        limit: max,
        risk: if max > 0.0 {
            ratio_risk(observed as f64, max)
        } else {
            0.0
        },
        samples: 0,
        learned: None,
    }
}

/// The bucket's count against the learned mean, in spreads; silent until enough buckets.
fn baseline(detector: Detector, p: &Policy, f: &Figures) -> Reading {
    let b = f.baseline;
    let max_z = p.baseline_max_z;
    let silent = Reading {
        detector,
        observed: b.count as f64,
        limit: 0.0,
        risk: 0.0,
        samples: b.samples,
        learned: None,
    };
    if max_z <= 0.0 || b.samples < p.settings.baseline_min_samples {
        return silent;
    }
    let spread = crate::baseline::spread(b.mean, b.var);
    let z = (b.count as f64 - b.mean) / spread;
    Reading {
        limit: b.mean + max_z * spread,
        risk: ((z - max_z) / max_z).clamp(0.0, p.baseline_max_risk),
        learned: Some(Learned {
            mean: b.mean,
            spread,
            z,
        }),
        ..silent
    }
}

/// The fraction of gaps matching the period, once enough gaps.
fn interval(detector: Detector, p: &Policy, f: &Figures) -> Reading {
    if p.interval_ns.is_none() || f.gaps < p.interval_min_samples {
        return Reading {
            detector,
            observed: 0.0,
            limit: 0.0,
            risk: 0.0,
            samples: f.gaps,
            learned: None,
        };
    }
    let fraction = f.interval_hits as f64 / f.gaps as f64;
    Reading {
        detector,
        observed: fraction,
        limit: p.settings.interval_secs.unwrap_or(0.0),
        risk: fraction,
        samples: f.gaps,
        learned: None,
    }
}

/// Coefficient of variation of the gaps; risk once enough non-zero-mean samples.
fn regularity(detector: Detector, p: &Policy, f: &Figures) -> Reading {
    let silent = Reading {
        detector,
        observed: 0.0,
        limit: p.regularity_max_cv,
        risk: 0.0,
        samples: 0,
        learned: None,
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
    let cv = if let Some(scaled) = n.checked_mul(f.gap_sq_sum) {
        (scaled.saturating_sub(sum * sum) as f64).sqrt() / f.gap_sum as f64
    } else {
        // Only for gaps so uneven that n * sum(g^2) passes 2^128: no cancellation to fear there.
        let mean = f.gap_sum as f64 / f.gaps as f64;
        let variance = (f.gap_sq_sum as f64 / f.gaps as f64 - mean * mean).max(0.0);
        variance.sqrt() / mean
    };
    Reading {
        observed: cv,
        risk: (1.0 - cv / p.regularity_max_cv).clamp(0.0, 1.0),
        samples: f.gaps,
        ..silent
    }
}

/// Whether any of `readings` fired, given their combined risk `raw`: under `max` the combined
/// risk says so (it is the highest reading's); a weighted sum can hide a reading of weight zero.
#[cfg(feature = "metrics")]
pub(crate) fn any_fired(policy: &Policy, readings: &[Reading], raw: f64) -> bool {
    match policy.combine {
        Combine::Max => raw > 0.0,
        Combine::WeightedSum => readings.iter().any(Reading::fired),
    }
}

/// The combined risk of an actor's readings.
pub(crate) fn combine(policy: &Policy, readings: &[Reading]) -> f64 {
    match policy.combine {
        Combine::Max => readings.iter().fold(0.0, |m: f64, r| m.max(r.risk)),
        Combine::WeightedSum => readings
            .iter()
            .map(|r| r.detector.risk_weight(&policy.settings) * r.risk)
            .sum::<f64>()
            .min(1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KEYS;
    use crate::decision::band;

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
            baseline: crate::baseline::Figures::default(),
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
        let bands: Vec<&str> = risks.iter().map(|&r| band(&p, r, 0).name()).collect();
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
        assert!(!Detector::Switching.enabled(&p));
    }

    #[test]
    fn interval_risk_is_the_fraction_of_matching_gaps_after_min_samples() {
        let p = Policy::new(Settings {
            interval_secs: Some(10.0),
            interval_min_samples: 4,
            ..Settings::default()
        });
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
                learned: None,
            },
            Reading {
                detector: Detector::Hopping,
                observed: 0.0,
                limit: 0.0,
                risk: 0.3,
                samples: 0,
                learned: None,
            },
        ];
        assert!((combine(&p, &rs) - 0.5).abs() < 1e-12);
        let max = Policy::new(Settings::default());
        assert_eq!(combine(&max, &rs), 0.4);
    }

    #[test]
    fn every_detector_has_its_name_and_its_risk_weight_key() {
        let weight_keys: Vec<&str> = KEYS
            .iter()
            .filter_map(|k| k.name.strip_prefix("risk_weight_"))
            .collect();
        let names: Vec<&str> = Detector::ALL.iter().map(Detector::name).collect();
        assert_eq!(
            weight_keys, names,
            "one risk_weight_<name> key per detector, in order"
        );
        assert_eq!(Detector::ALL.len(), Detector::COUNT);
        for &d in Detector::ALL {
            assert_eq!(Detector::from_name(d.name()), Some(d));
            let toml = format!("[guard]\nrisk_weight_{} = 0.25\n", d.name());
            let c = crate::Config::from_toml_str(&toml).unwrap();
            assert_eq!(d.risk_weight(&c.guard), 0.25, "{d}");
            assert_eq!(d.risk_weight(&Settings::default()), 1.0);
        }
        assert_eq!(Detector::from_name("nope"), None);
    }
}
