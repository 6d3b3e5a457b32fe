//! Decisions and their explanations.
//!
//! A [`Decision`] is what the guard recommends; an [`Assessment`] says why: every configured
//! detector's observed figure, limit and risk, the combined risk, the escalation level, and for
//! delay and block, when the actor may act again.

use std::fmt;
use std::time::{Duration, SystemTime};

use crate::detectors::Reading;
use crate::policy::Policy;

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

/// The decision band a risk falls in; `level` (the escalation level) scales the delay.
pub(crate) fn band(policy: &Policy, risk: f64, level: u8) -> Decision {
    if risk < policy.allow_below {
        Decision::Allow
    } else if risk < policy.warn_below {
        Decision::Warn
    } else if risk < policy.delay_below {
        Decision::Delay(policy.delay(level))
    } else {
        Decision::Block
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

/// An allow at the epoch with no readings: a buffer for [`Guard::assess_into`](crate::Guard::assess_into).
impl Default for Assessment {
    fn default() -> Self {
        Assessment {
            decision: Decision::Allow,
            risk: 0.0,
            raw_risk: 0.0,
            escalation_level: 0,
            readings: Vec::new(),
            retry_after: None,
            at: std::time::UNIX_EPOCH,
        }
    }
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
