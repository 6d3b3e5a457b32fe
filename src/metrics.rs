//! What the guard decided, through the [`metrics`](https://docs.rs/metrics) facade (cargo
//! feature `metrics`): any exporter works (Prometheus, `StatsD`, `OpenTelemetry`).
//!
//! | name | type | labels | what |
//! |---|---|---|---|
//! | `pattern_guard_decisions_total` | counter | `decision` (`allow`, `warn`, `delay`, `block`) | checks, by decision |
//! | `pattern_guard_detector_firings_total` | counter | `detector` (`burst`, `repetition`, ...) | checks on which a detector fired (its risk above zero) |
//! | `pattern_guard_risk` | histogram | none | the risk (after escalation, 0 to 1] of each check whose risk is above zero; checks at zero are `pattern_guard_decisions_total` minus its count |
//! | `pattern_guard_escalations_total` | counter | none | checks that raised their actor's escalation level |
//! | `pattern_guard_actors` | gauge | none | actors tracked (summed over the process's guards) |
//! | `pattern_guard_actors_evicted_total` | counter | none | actors dropped at the `max_actors` cap before their window passed |
//! | `pattern_guard_actor_decisions_total` | counter | `actor`, `decision` | the same as the first, only for the actors named with [`Guard::with_metrics_actors`] |
//!
//! Labels never carry actor names unless asked: an actor label is one series per client, and a
//! guard sees unbounded clients. [`Guard::with_metrics_actors`] names the few actors worth a
//! series of their own (a cron job, a known partner).
//!
//! The guard registers its handles at its first check: install the recorder before it (as the
//! `metrics` crate asks of every library that caches handles). A check of normal traffic then
//! costs one counter increment (two atomic additions with the Prometheus exporter); one with a
//! risk adds a histogram sample and one increment per detector that fired. docs/METRICS.md
//! has the measured cost.
//!
//! [`Guard::with_metrics_actors`]: crate::Guard::with_metrics_actors

use std::collections::HashMap;

use ::metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

use crate::check::Outcome;
use crate::decision::Decision;
use crate::detectors::Detector;

/// The names, for code that reads them back (tests, dashboards).
pub const DECISIONS: &str = "pattern_guard_decisions_total";
pub const FIRINGS: &str = "pattern_guard_detector_firings_total";
pub const RISK: &str = "pattern_guard_risk";
pub const ESCALATIONS: &str = "pattern_guard_escalations_total";
pub const ACTORS: &str = "pattern_guard_actors";
pub const EVICTED: &str = "pattern_guard_actors_evicted_total";
pub const ACTOR_DECISIONS: &str = "pattern_guard_actor_decisions_total";

const DECISION_NAMES: [&str; 4] = ["allow", "warn", "delay", "block"];

fn index(decision: Decision) -> usize {
    match decision {
        Decision::Allow => 0,
        Decision::Warn => 1,
        Decision::Delay(_) => 2,
        Decision::Block => 3,
    }
}

/// One guard's handles, registered with the recorder installed at its first check.
pub(crate) struct Handles {
    decisions: [Counter; 4],
    firings: Vec<Counter>,
    risk: Histogram,
    escalations: Counter,
    actors: Gauge,
    evicted: Counter,
    by_actor: HashMap<String, [Counter; 4]>,
}

impl Handles {
    pub fn new(actors: &[String]) -> Handles {
        let per_decision =
            |f: &dyn Fn(&'static str) -> Counter| -> [Counter; 4] { DECISION_NAMES.map(f) };
        Handles {
            decisions: per_decision(&|d| counter!(DECISIONS, "decision" => d)),
            firings: Detector::ALL
                .iter()
                .map(|d| counter!(FIRINGS, "detector" => d.name()))
                .collect(),
            risk: histogram!(RISK),
            escalations: counter!(ESCALATIONS),
            actors: gauge!(ACTORS),
            evicted: counter!(EVICTED),
            by_actor: actors
                .iter()
                .map(|a| {
                    let actor = a.clone();
                    (
                        a.clone(),
                        per_decision(&|d| {
                            counter!(ACTOR_DECISIONS, "actor" => actor.clone(), "decision" => d)
                        }),
                    )
                })
                .collect(),
        }
    }

    /// One check: its decision, the detectors that fired, its risk and whether it escalated.
    /// (The actors it added, swept or evicted are recorded by the store where that happens:
    /// [`Handles::actors`].)
    ///
    /// A check of normal traffic (no risk, nothing fired, no escalation, no series of its own)
    /// is a few tests and one counter increment; anything else goes out of line to
    /// [`Handles::check_unusual`].
    #[inline]
    pub fn check(&self, actor: &str, outcome: &Outcome) {
        if outcome.fired || outcome.risk > 0.0 || outcome.escalated || !self.by_actor.is_empty() {
            self.check_unusual(actor, outcome);
        } else {
            self.decisions[index(outcome.decision)].increment(1);
        }
    }

    /// [`Handles::check`] for a check with anything more than its decision to record.
    #[cold]
    #[inline(never)]
    fn check_unusual(&self, actor: &str, outcome: &Outcome) {
        let d = index(outcome.decision);
        self.decisions[d].increment(1);
        if outcome.fired {
            for (r, c) in outcome.readings.iter().zip(&self.firings) {
                if r.fired() {
                    c.increment(1);
                }
            }
        }
        // Only checks with a risk are sampled: the histogram is the costly handle.
        if outcome.risk > 0.0 {
            self.risk.record(outcome.risk);
        }
        if outcome.escalated {
            self.escalations.increment(1);
        }
        if !self.by_actor.is_empty() {
            if let Some(counters) = self.by_actor.get(actor) {
                counters[d].increment(1);
            }
        }
    }

    /// Actors came (positive) or went; `evicted` of them at the cap.
    pub fn actors(&self, change: i64, evicted: u64) {
        if change > 0 {
            self.actors.increment(change as f64);
        } else if change < 0 {
            self.actors.decrement((-change) as f64);
        }
        if evicted > 0 {
            self.evicted.increment(evicted);
        }
    }
}
