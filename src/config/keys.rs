//! Every configuration key, declared once in the `settings!` table: its type, default, range
//! and meaning. The resolved [`Settings`], the per-actor [`Overrides`], the TOML reader's raw
//! table, the range checks and the [`KEYS`] documentation table are all generated from it, so
//! they cannot drift apart.
//!
//! Adding a key: one entry in the table (and, for a detector's limit, its use in `policy.rs`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::range::{Bound, Range};

/// Where each key's value sits in the TOML text, for error locations.
pub(super) type Spans = BTreeMap<&'static str, std::ops::Range<usize>>;
/// A key that failed validation, and why.
pub(super) type Invalid = (&'static str, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    /// The highest single detector risk.
    #[default]
    Max,
    /// `min(1, sum of risk_weight_<detector> * risk)`: moderate signals from several detectors add up.
    WeightedSum,
}

/// What the CLI does when a job is already running `max_concurrent` times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnOverlap {
    /// Do not start another run: exit as blocked (75).
    #[default]
    Refuse,
    /// Wait until a run ends, then start.
    Wait,
}

/// How the CLI limits a run's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxRuntime {
    /// `max_runtime_secs`, if set.
    #[default]
    Fixed,
    /// Learned from the job's recent runs (`runtime_*` keys), `max_runtime_secs` a ceiling.
    Auto,
}

/// The documentation of one configuration key, as listed in `docs/CONFIG.md`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyDoc {
    /// The key's name, as written in TOML.
    pub name: &'static str,
    /// Its TOML type and the values it accepts: what validation enforces and the docs print.
    pub range: Range,
    /// Its default, as written in TOML (`unset` for off).
    pub default: &'static str,
    /// What it means.
    pub doc: &'static str,
    /// Whether `[guard.actors."ID"]` may override it.
    pub per_actor: bool,
}

macro_rules! settings {
    ($( $(#[doc = $doc:literal])+ $name:ident : $ty:ty = $default:expr ; $range:expr, $defname:literal; )+) => {
        /// Every per-actor setting, resolved: the `[guard]` values with an actor's overrides applied.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[non_exhaustive]
        pub struct Settings {
            $( $(#[doc = $doc])+ pub $name: $ty, )+
        }

        impl Settings {
            /// The events kept per actor: `max_events_per_actor`, or when unset
            /// [`DEFAULT_MAX_EVENTS`], raised to `2 * burst_max_events` when that is more.
            pub fn max_events(&self) -> u64 {
                self.max_events_per_actor.unwrap_or_else(|| {
                    DEFAULT_MAX_EVENTS.max(self.burst_max_events.saturating_mul(2))
                })
            }
        }

        impl Default for Settings {
            fn default() -> Self {
                Settings { $( $name: $default, )+ }
            }
        }

        /// The keys one `[guard.actors."ID"]` table sets; `None` inherits the `[guard]` value.
        #[derive(Debug, Clone, Default, PartialEq)]
        #[non_exhaustive]
        pub struct Overrides {
            $( $(#[doc = $doc])+ pub $name: Option<$ty>, )+
        }

        impl Overrides {
            /// `base` with every key this table sets replaced.
            pub fn apply_to(&self, base: &Settings) -> Settings {
                Settings { $( $name: self.$name.clone().unwrap_or_else(|| base.$name.clone()), )+ }
            }
        }

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct RawTable {
            $( #[serde(default)] $name: Option<Spanned<$ty>>, )+
            #[serde(default)]
            pub(super) max_actors: Option<Spanned<u64>>,
            #[serde(default)]
            pub(super) actors: Option<BTreeMap<String, RawTable>>,
        }

        impl RawTable {
            pub(super) fn overrides(&self) -> (Overrides, Spans) {
                let mut spans = Spans::new();
                $( if let Some(v) = &self.$name { spans.insert(stringify!($name), v.span()); } )+
                (Overrides { $( $name: self.$name.as_ref().map(|v| v.get_ref().clone()), )+ }, spans)
            }
        }

        /// Every configuration key with its type, default and meaning.
        pub const KEYS: &[KeyDoc] = &[
            $( KeyDoc { name: stringify!($name), range: $range, default: $defname,
                        doc: concat!($($doc, "\n"),+), per_actor: true }, )+
            KeyDoc { name: "max_actors", range: Range::at_least(1), default: "100000",
                     doc: " Most actors tracked at once (whole guard; `[guard]` only). At the cap, actors whose \
                            window has passed are dropped first, then the least recently active.\n",
                     per_actor: false },
        ];

        /// A key's value as a number, for the ranges; NaN for a key that is unset or not a number.
        fn number_of(s: &Settings, key: &str) -> f64 {
            match key {
                $( stringify!($name) => s.$name.as_number().unwrap_or(f64::NAN), )+
                _ => f64::NAN,
            }
        }

        /// Checks every key against its range: fixed bounds first (so a key that is impossible
        /// on its own is named, not a key bounded by it), then bounds set by other keys.
        pub(super) fn check_ranges(s: &Settings) -> Result<(), Invalid> {
            for relative in [false, true] {
                $( if let Some(v) = s.$name.as_number() {
                    let range: Range = $range;
                    let other = |k: &str| if relative { number_of(s, k) } else { f64::NAN };
                    range.check(v, other).map_err(|why| (stringify!($name), why))?;
                } )+
            }
            Ok(())
        }
    };
}

/// A setting's value as a number, when it has one.
trait AsNumber {
    fn as_number(&self) -> Option<f64>;
}

impl AsNumber for u64 {
    fn as_number(&self) -> Option<f64> {
        Some(*self as f64)
    }
}

impl AsNumber for f64 {
    fn as_number(&self) -> Option<f64> {
        Some(*self)
    }
}

impl<T: AsNumber> AsNumber for Option<T> {
    fn as_number(&self) -> Option<f64> {
        self.as_ref().and_then(AsNumber::as_number)
    }
}

impl AsNumber for Combine {
    fn as_number(&self) -> Option<f64> {
        None
    }
}

impl AsNumber for String {
    fn as_number(&self) -> Option<f64> {
        None
    }
}

impl AsNumber for bool {
    fn as_number(&self) -> Option<f64> {
        None
    }
}

impl AsNumber for MaxRuntime {
    fn as_number(&self) -> Option<f64> {
        None
    }
}

impl AsNumber for OnOverlap {
    fn as_number(&self) -> Option<f64> {
        None
    }
}

/// Seconds: more than 0, at most a year.
const SECS: Range = Range::number(Bound::Value(0.0), Bound::Value(MAX_SECS), (false, true));
/// Seconds: 0 or more, at most a year.
const SECS_OR_ZERO: Range = Range::number(Bound::Value(0.0), Bound::Value(MAX_SECS), (true, true));
/// A fraction from 0 to 1, both included.
const UNIT: Range = Range::number(Bound::Value(0.0), Bound::Value(1.0), (true, true));
/// A risk weight.
const RISK_WEIGHT: Range = Range::number(Bound::Value(0.0), Bound::Value(1e6), (true, true));

settings! {
    /// Length of the sliding window, in seconds: an event counts while it is younger than this.
    window_secs: f64 = 300.0; SECS, "300";
    /// Burst: events in the window above which risk rises; risk = (events - max) / max, clipped to [0, 1].
    burst_max_events: u64 = 100; Range::integer(Bound::Value(1.0), Some(Bound::Value((MAX_EVENTS_CAP / 2) as f64))), "100";
    /// Repetition: how often the same (action, target) may occur in the window; risk as for burst.
    repetition_max_count: u64 = 10; Range::at_least(1), "10";
    /// Hopping: distinct targets allowed in the window; risk as for burst.
    hopping_max_targets: u64 = 50; Range::at_least(1), "50";
    /// Switching: changes of target between consecutive events allowed in the window; unset = off.
    switching_max_count: Option<u64> = None; Range::at_least(1), "unset";
    /// Weight: sum of event weights (cost) allowed in the window; risk as for burst.
    weight_max_total: f64 = 1000.0; Range::number_from(0.0, false), "1000.0";
    /// Interval: the fixed period, in seconds, that marks bot-like pacing; unset = off.
    /// Risk = fraction of the window's gaps within `interval_tolerance_ratio` of it.
    interval_secs: Option<f64> = None; SECS, "unset";
    /// Interval: a gap matches when |gap - `interval_secs`| <= ratio * `interval_secs`.
    interval_tolerance_ratio: f64 = 0.2; Range::number(Bound::Value(0.0), Bound::Value(1.0), (true, false)), "0.2";
    /// Interval: gaps needed in the window before the interval detector speaks.
    interval_min_samples: u64 = 4; Range::at_least(1), "4";
    /// Regularity: automatic detection of machine-regular pacing with no configured period. Fires when
    /// the coefficient of variation (std dev / mean) of the window's gaps is below this; risk =
    /// 1 - cv / `regularity_max_cv`. Unset = off (cron jobs are regular by design).
    regularity_max_cv: Option<f64> = None; Range::number(Bound::Value(0.0), Bound::Value(10.0), (false, true)), "unset";
    /// Regularity: gaps needed in the window before the regularity detector speaks.
    regularity_min_samples: u64 = 8; Range::at_least(2), "8";
    /// Baseline: an actor's own normal, learned. Risk rises when its events in the current bucket
    /// stand more than this many spreads above the mean it learned (risk = (z - this) / this,
    /// clipped to [0, 1]). Learns only from allowed events; the static limits stay in force.
    /// Unset = off.
    baseline_max_z: Option<f64> = None; Range::number(Bound::Value(0.0), Bound::Value(1000.0), (false, true)), "unset";
    /// Baseline: the bucket, in seconds: the rate learned is events per bucket.
    baseline_bucket_secs: f64 = 60.0; SECS, "60";
    /// Baseline: buckets learned before it speaks; also the span of its moving average (each
    /// bucket weighs 2 / (this + 1)).
    baseline_min_samples: u64 = 30; Range::integer(Bound::Value(1.0), Some(Bound::Value(1e6))), "30";
    /// Baseline: the highest risk it may give. Just below `warn_below` (say 0.59) it can warn
    /// but never delay or block on its own: the warn-only rollout (docs/ENGINE.md).
    baseline_max_risk: f64 = 1.0; UNIT, "1.0";
    /// How detector risks combine: `"max"` (the highest) or `"weighted_sum"` (min(1, sum of weight * risk)).
    risk_combine: Combine = Combine::Max; Range::choice(&["max", "weighted_sum"]), "\"max\"";
    /// Weight of the burst risk under `"weighted_sum"`.
    risk_weight_burst: f64 = 1.0; RISK_WEIGHT, "1.0";
    /// Weight of the repetition risk under `"weighted_sum"`.
    risk_weight_repetition: f64 = 1.0; RISK_WEIGHT, "1.0";
    /// Weight of the interval risk under `"weighted_sum"`.
    risk_weight_interval: f64 = 1.0; RISK_WEIGHT, "1.0";
    /// Weight of the regularity risk under `"weighted_sum"`.
    risk_weight_regularity: f64 = 1.0; RISK_WEIGHT, "1.0";
    /// Weight of the hopping risk under `"weighted_sum"`.
    risk_weight_hopping: f64 = 1.0; RISK_WEIGHT, "1.0";
    /// Weight of the switching risk under `"weighted_sum"`.
    risk_weight_switching: f64 = 1.0; RISK_WEIGHT, "1.0";
    /// Weight of the weight (cost) risk under `"weighted_sum"`.
    risk_weight_weight: f64 = 1.0; RISK_WEIGHT, "1.0";
    /// Weight of the baseline risk under `"weighted_sum"`.
    risk_weight_baseline: f64 = 1.0; RISK_WEIGHT, "1.0";
    /// Risk below this is allowed.
    allow_below: f64 = 0.3; UNIT, "0.3";
    /// Risk from `allow_below` up to this warns.
    warn_below: f64 = 0.6; Range::number(Bound::Key("allow_below"), Bound::Value(1.0), (true, true)), "0.6";
    /// Risk from `warn_below` up to this delays; from here on, block.
    delay_below: f64 = 0.85; Range::number(Bound::Key("warn_below"), Bound::Value(1.0), (true, true)), "0.85";
    /// Delay recommended at escalation level 0, in seconds.
    delay_secs: f64 = 5.0; Range::number(Bound::Value(0.0), Bound::Key("delay_max_secs"), (true, true)), "5.0";
    /// Longest delay ever recommended, whatever the escalation, in seconds.
    delay_max_secs: f64 = 300.0; SECS_OR_ZERO, "300.0";
    /// Escalation: non-allow decisions (warn, delay, block) that raise an actor one level.
    escalation_strikes: u64 = 3; Range::at_least(1), "3";
    /// Escalation: highest level; 0 turns escalation off.
    escalation_max_level: u64 = 3; Range::integer(Bound::Value(0.0), Some(Bound::Value(10.0))), "3";
    /// Escalation: risk added per level to a risk that is already at or above `allow_below`.
    escalation_step: f64 = 0.15; UNIT, "0.15";
    /// Escalation: every full period this long without a non-allow decision lowers the level by one.
    escalation_cooldown_secs: f64 = 300.0; SECS, "300.0";
    /// Escalation: each level multiplies the delay by this (capped by `delay_max_secs`).
    escalation_delay_factor: f64 = 2.0; Range::number(Bound::Value(1.0), Bound::Value(1000.0), (true, true)), "2.0";
    /// Memory cap: events kept per actor. Past it the oldest are forgotten early. At least
    /// 2 * `burst_max_events`, so a capped actor's burst risk is already 1.0 and no decision changes
    /// under `"max"`. Unset = 10000, or 2 * `burst_max_events` when that is more (it follows the
    /// actor's own `burst_max_events`); a value set too small is an error.
    max_events_per_actor: Option<u64> = None; Range::integer(Bound::Twice("burst_max_events"), Some(Bound::Value(MAX_EVENTS_CAP as f64))), "unset";
    /// Timestamps further than this ahead of the guard's clock are taken as clock + this, so one bad
    /// timestamp cannot wipe an actor's window.
    future_tolerance_secs: f64 = 60.0; SECS_OR_ZERO, "60.0";
    /// CLI: a wrapped command running longer than this many seconds is a runaway: SIGTERM to its
    /// process group (exit 124), then SIGKILL after `kill_grace_secs` (exit 137). Unset = no limit;
    /// `--max-runtime` overrides.
    max_runtime_secs: Option<f64> = None; SECS, "unset";
    /// CLI: `"auto"` learns each job's limit from its own recent runs: after `runtime_min_runs`
    /// completed runs, `runtime_factor` x their 90th percentile, at least `runtime_floor_secs`
    /// (`max_runtime_secs`, if set, stays a ceiling and applies before); `--max-runtime auto`
    /// overrides. `"fixed"`: `max_runtime_secs` only.
    max_runtime: MaxRuntime = MaxRuntime::Fixed; Range::choice(&["fixed", "auto"]), "\"fixed\"";
    /// CLI, `max_runtime = "auto"`: completed runs needed before a limit is learned.
    runtime_min_runs: u64 = 5; Range::integer(Bound::Value(1.0), Some(Bound::Value(20.0))), "5";
    /// CLI, `max_runtime = "auto"`: the learned limit is this times the 90th percentile of the
    /// recent durations.
    runtime_factor: f64 = 3.0; Range::number(Bound::Value(1.0), Bound::Value(1000.0), (true, true)), "3.0";
    /// CLI, `max_runtime = "auto"`: the learned limit is never below this, in seconds.
    runtime_floor_secs: f64 = 10.0; SECS_OR_ZERO, "10.0";
    /// CLI: seconds between SIGTERM and SIGKILL when stopping a runaway; `--kill-after` overrides.
    kill_grace_secs: f64 = 10.0; SECS_OR_ZERO, "10.0";
    /// CLI overlap: most runs of one actor's job at once (counted across invocations, crashed
    /// wrappers ignored); unset = no limit. `--max-concurrent` overrides.
    max_concurrent: Option<u64> = None; Range::at_least(1), "unset";
    /// CLI overlap: at `max_concurrent`, `"refuse"` (exit 75) or `"wait"` for a run to end.
    on_overlap: OnOverlap = OnOverlap::Refuse; Range::choice(&["refuse", "wait"]), "\"refuse\"";
    /// CLI: watch the command's output for loops: each line is an event for a per-run guard set
    /// by `[output]` (see "Watching output" below); `--watch-output` overrides. Off: the command
    /// keeps the terminal and nothing changes.
    watch_output: bool = false; Range::boolean(), "false";
    /// CLI: after each run, write the actor's last run (time, decision, risk, exit status,
    /// duration) and its runs by decision in the window to this file, in the Prometheus text
    /// format, atomically, for `node_exporter`'s textfile collector; `--metrics-file` overrides.
    metrics_file: Option<String> = None; Range::path(), "unset";
}

/// Longest window, delay and cool-down accepted: one year, in seconds.
pub const MAX_SECS: f64 = 31_536_000.0;
/// The most events one actor may hold (`max_events_per_actor`).
pub const MAX_EVENTS_CAP: u64 = 100_000_000;
/// `max_events_per_actor` when unset and `2 * burst_max_events` is smaller.
pub const DEFAULT_MAX_EVENTS: u64 = 10_000;
