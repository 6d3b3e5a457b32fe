//! One check of one actor, under its lane lock: the heart of the pipeline.
//!
//! ```text
//! record -> cap future time, no going back -> expire -> push -> readings -> combine
//!        -> cool down, escalate -> band -> strike
//! ```
//!
//! [`observe`] runs it on an actor's memory; the guard calls it for checks and, on a copy, for
//! previews, so the two cannot disagree. Nothing here knows about shards, ids or hashing.

use std::fmt;
use std::time::Duration;

use crate::clock::from_nanos;
use crate::config::Combine;
use crate::decision::{band, Assessment, Decision};
use crate::detectors::{self, ratio_risk, Detector, Readings};
use crate::escalation::Escalation;
use crate::store::ActorState;
use crate::window::Record;

pub(crate) struct Outcome {
    pub decision: Decision,
    pub risk: f64,
    raw_risk: f64,
    pub level: u8,
    /// This check's strike raised the actor's escalation level (read by the metrics).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub escalated: bool,
    /// Some reading fired (read by the metrics, which skip the readings when none did).
    #[cfg(feature = "metrics")]
    pub fired: bool,
    pub readings: Readings,
    /// Only filled in when asked to explain.
    retry_after: Option<Duration>,
    at: u64,
    /// Which readings the actor's policy reports (in [`Detector::ALL`] order); only filled in
    /// when asked to explain, so a plain check never computes it.
    reported: [bool; Detector::COUNT],
}

impl Outcome {
    pub fn into_assessment(self) -> Assessment {
        let mut out = Assessment {
            decision: self.decision,
            risk: self.risk,
            raw_risk: self.raw_risk,
            escalation_level: self.level,
            readings: Vec::with_capacity(Detector::COUNT),
            retry_after: self.retry_after,
            at: from_nanos(self.at),
        };
        self.write_into(&mut out);
        out
    }

    /// Fills `out` in place, reusing its readings' buffer.
    pub fn write_into(self, out: &mut Assessment) {
        out.decision = self.decision;
        out.risk = self.risk;
        out.raw_risk = self.raw_risk;
        out.escalation_level = self.level;
        out.readings.clear();
        out.readings.extend(
            self.readings
                .into_iter()
                .zip(self.reported)
                .filter_map(|(r, shown)| shown.then_some(r)),
        );
        out.retry_after = self.retry_after;
        out.at = from_nanos(self.at);
    }
}

/// The per-actor heart of a check, under the actor's lane lock.
pub(crate) fn observe(
    state: &mut ActorState,
    mut record: Record,
    clock_now: u64,
    explain: bool,
) -> Outcome {
    // Borrow the fields apart: cloning the policy Arc would bounce its shared refcount between
    // every thread on every check.
    let ActorState {
        policy,
        window,
        escalation,
        baseline,
    } = state;
    record.ts = record.ts.min(clock_now.saturating_add(policy.future_ns));
    if let Some(newest) = window.newest_ts() {
        record.ts = record.ts.max(newest);
    }
    let before = window.last_ts();
    let now = record.ts;
    window.expire(now, policy);
    let key_count = window.push(record, policy);

    let mut figures = window.figures(key_count);
    let learning = policy.baseline_max_z > 0.0;
    if learning {
        baseline.count(before, now, policy);
        figures.baseline = baseline.figures();
    }
    let readings = detectors::readings(policy, &figures);
    let raw_risk = detectors::combine(policy, &readings);
    #[cfg(feature = "metrics")]
    let fired = detectors::any_fired(policy, &readings, raw_risk);
    escalation.cool_down(now, policy);
    let level = escalation.level(policy);
    let risk = Escalation::raise(raw_risk, level, policy);
    let decision = band(policy, risk, level);
    let mut escalated = false;
    if learning {
        if decision == Decision::Allow {
            baseline.allowed();
        } else {
            baseline.refused();
        }
    }
    if decision != Decision::Allow {
        escalation.strike(now, policy);
        escalated = escalation.level(policy) > level;
    }
    let retry_after = match decision {
        Decision::Delay(d) => Some(d),
        Decision::Block if explain => Some(block_retry_after(state, &readings, now)),
        _ => None,
    };
    let reported = if explain {
        std::array::from_fn(|i| Detector::ALL[i].enabled(&state.policy))
    } else {
        [false; Detector::COUNT]
    };
    Outcome {
        decision,
        risk,
        raw_risk,
        level,
        escalated,
        #[cfg(feature = "metrics")]
        fired,
        readings,
        retry_after,
        at: now,
        reported,
    }
}

/// How long until the next event of this actor would not be blocked, if it sends nothing meanwhile.
///
/// The next event is not blocked when its raw risk is below `allow_below` or below
/// `delay_below - level * step`. When only the burst detector stands at or above that, the answer
/// is exact: the time at which enough of the window's oldest events have expired. Otherwise it is
/// the time at which the whole window has passed, an upper bound.
fn block_retry_after(state: &ActorState, readings: &Readings, now: u64) -> Duration {
    let policy = &state.policy;
    let level = state.escalation.level(policy);
    let threshold = policy
        .allow_below
        .max(policy.delay_below - f64::from(level) * policy.escalation_step);
    let window_passes = state
        .window
        .newest_ts()
        .map_or(now, |ts| ts.saturating_add(policy.window_ns));
    let burst_only = policy.combine == Combine::Max
        && readings
            .iter()
            .all(|r| r.detector == Detector::Burst || r.risk < threshold);
    let exact = if burst_only && threshold > 0.0 {
        let max = policy.burst_max;
        // Largest count (the next event included) whose burst risk is below the threshold.
        let mut allowed = (max * (1.0 + threshold)).floor() as u64;
        while allowed > 0 && ratio_risk(allowed as f64, max) >= threshold {
            allowed -= 1;
        }
        while ratio_risk((allowed + 1) as f64, max) < threshold {
            allowed += 1;
        }
        let may_remain = usize::try_from(allowed.saturating_sub(1)).unwrap_or(usize::MAX);
        let len = state.window.len();
        if len <= may_remain {
            Some(now)
        } else {
            state
                .window
                .get(len - may_remain - 1)
                .map(|r| r.ts.saturating_add(policy.window_ns))
        }
    } else {
        None
    };
    Duration::from_nanos(exact.unwrap_or(window_passes).saturating_sub(now))
}

pub(crate) struct Reasons<'a>(pub &'a Readings);

impl fmt::Display for Reasons<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for r in self.0.iter().filter(|r| r.fired()) {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{r}")?;
        }
        Ok(())
    }
}
