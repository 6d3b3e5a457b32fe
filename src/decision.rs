//! Decisions and their explanations.
//!
//! A [`Decision`] is what the guard recommends; an [`Assessment`] says why: every configured
//! detector's observed figure, limit and risk, the combined risk, the escalation level, and for
//! delay and block, when the actor may act again.

use std::fmt;
use std::time::{Duration, SystemTime};

/// The guard's recommendation. The library never enforces it: the caller acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Normal behaviour: go ahead.
    Allow,
    /// Unusual: go ahead, but worth a log line.
    Warn,
    /// Suspicious: go ahead after waiting this long.
    Delay(Duration),
    /// Abusive: do not go ahead.
    Block,
}

impl Decision {
    /// 0 for allow, 1 warn, 2 delay, 3 block: how severe, whatever the delay's length.
    pub fn severity(&self) -> u8 {
        match self {
            Decision::Allow => 0,
            Decision::Warn => 1,
            Decision::Delay(_) => 2,
            Decision::Block => 3,
        }
    }

    /// The lower-case name: `allow`, `warn`, `delay` or `block`.
    pub fn name(&self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Warn => "warn",
            Decision::Delay(_) => "delay",
            Decision::Block => "block",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Delay(d) => write!(f, "delay {:.3}s", d.as_secs_f64()),
            other => f.write_str(other.name()),
        }
    }
}

/// The detectors, each computed per actor over that actor's sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Detector {
    /// Too many events in the window.
    Burst,
    /// The same (action, target) too often.
    Repetition,
    /// Gaps close to the configured fixed period (`interval_secs`).
    Interval,
    /// Machine-regular gaps with no configured period (low spread of the gaps).
    Regularity,
    /// Too many distinct targets.
    Hopping,
    /// Too many changes of target between consecutive events.
    Switching,
    /// Sum of event weights (cost) too high.
    Weight,
}

impl Detector {
    /// Every detector, in report order.
    pub const ALL: [Detector; 7] = [
        Detector::Burst,
        Detector::Repetition,
        Detector::Interval,
        Detector::Regularity,
        Detector::Hopping,
        Detector::Switching,
        Detector::Weight,
    ];

    /// The lower-case name used in config keys, logs and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Detector::Burst => "burst",
            Detector::Repetition => "repetition",
            Detector::Interval => "interval",
            Detector::Regularity => "regularity",
            Detector::Hopping => "hopping",
            Detector::Switching => "switching",
            Detector::Weight => "weight",
        }
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

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
    /// Sample count behind `observed` where it needs one (gaps, for interval and regularity); `0`
    /// means too few samples to speak, and then risk is 0.
    pub samples: u64,
}

impl Reading {
    /// Whether this detector contributed any risk.
    pub fn fired(&self) -> bool {
        self.risk > 0.0
    }
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (o, l) = (self.observed, self.limit);
        match self.detector {
            Detector::Burst => write!(f, "burst: {o} events in the window (max {l})")?,
            Detector::Repetition => {
                write!(f, "repetition: same action and target {o} times (max {l})")?
            }
            Detector::Interval => write!(
                f,
                "interval: {:.0}% of {} gaps match the {l}s period",
                o * 100.0,
                self.samples
            )?,
            Detector::Regularity => write!(
                f,
                "regularity: gap spread (cv) {o:.3} over {} gaps (fires below {l})",
                self.samples
            )?,
            Detector::Hopping => write!(f, "hopping: {o} distinct targets (max {l})")?,
            Detector::Switching => write!(f, "switching: {o} target changes (max {l})")?,
            Detector::Weight => write!(f, "weight: total {o} (max {l})")?,
        }
        write!(f, ", risk {:.2}", self.risk)
    }
}

/// Everything about one check: the decision and why.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Assessment {
    /// The recommendation.
    pub decision: Decision,
    /// The risk the decision was made from: the combined risk, raised by escalation.
    pub risk: f64,
    /// The combined detector risk before escalation.
    pub raw_risk: f64,
    /// The actor's escalation level when the event arrived (0 = none).
    pub escalation_level: u8,
    /// One reading per configured detector (interval and regularity appear only when configured,
    /// switching only when `switching_max_count` is set).
    pub readings: Vec<Reading>,
    /// For delay, the delay; for block, how long until an event of this actor would no longer be
    /// blocked if it sends nothing meanwhile (exact when only the burst detector holds it above the
    /// block band, otherwise the time until its whole current window has passed, an upper bound).
    pub retry_after: Option<Duration>,
    /// The engine time of the event (its timestamp, after out-of-order and future handling).
    pub at: SystemTime,
}

impl Assessment {
    /// The readings that contributed risk, highest first.
    pub fn reasons(&self) -> Vec<Reading> {
        let mut fired: Vec<Reading> = self
            .readings
            .iter()
            .copied()
            .filter(Reading::fired)
            .collect();
        fired.sort_by(|a, b| b.risk.total_cmp(&a.risk));
        fired
    }

    /// When the actor may act again: `at + retry_after`.
    pub fn retry_at(&self) -> Option<SystemTime> {
        self.retry_after.map(|d| self.at + d)
    }
}

impl fmt::Display for Assessment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (risk {:.2}", self.decision, self.risk)?;
        if self.escalation_level > 0 {
            write!(
                f,
                ", raw {:.2}, escalation level {}",
                self.raw_risk, self.escalation_level
            )?;
        }
        f.write_str(")")?;
        let reasons = self.reasons();
        for (i, r) in reasons.iter().enumerate() {
            f.write_str(if i == 0 { ": " } else { "; " })?;
            write!(f, "{r}")?;
        }
        Ok(())
    }
}
