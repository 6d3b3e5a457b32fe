//! Configuration: the TOML schema, its defaults and its validation.
//!
//! ```toml
//! [guard]                      # global defaults
//! window_secs = 60
//! burst_max_events = 30
//!
//! [guard.actors."svc:billing"] # one actor: overrides what it sets, inherits every other key
//! burst_max_events = 300
//! ```
//!
//! Every key is declared once, in the `settings!` table below; the resolved [`Settings`], the
//! per-actor [`Overrides`], the TOML reader and the [`KEYS`] documentation table are all generated
//! from that one list, so they cannot drift apart. `docs/CONFIG.md` is checked against [`KEYS`] by a
//! test.
//!
//! Validation rejects unknown keys, wrong types and impossible values with the file, line and column
//! of the offending value. A configuration that fails validation never reaches a [`Guard`](crate::Guard).

use std::collections::BTreeMap;
use std::ops::Range as Span;
use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{ConfigError, Error};

mod range;

pub use range::{Bound, Range};

/// How the detectors' risks are combined into one risk.
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
        struct RawTable {
            $( #[serde(default)] $name: Option<Spanned<$ty>>, )+
            #[serde(default)]
            max_actors: Option<Spanned<u64>>,
            #[serde(default)]
            actors: Option<BTreeMap<String, RawTable>>,
        }

        impl RawTable {
            fn overrides(&self) -> (Overrides, Spans) {
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
        fn check_ranges(s: &Settings) -> Result<(), Invalid> {
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
    burst_max_events: u64 = 100; Range::at_least(1), "100";
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
    /// Memory cap: events kept per actor. Past it the oldest are forgotten early. Must be at least
    /// 2 * `burst_max_events`, so a capped actor's burst risk is already 1.0 and no decision changes
    /// under `"max"`.
    max_events_per_actor: u64 = 10_000; Range::integer(Bound::Twice("burst_max_events"), Some(Bound::Value(MAX_EVENTS_CAP as f64))), "10000";
    /// Timestamps further than this ahead of the guard's clock are taken as clock + this, so one bad
    /// timestamp cannot wipe an actor's window.
    future_tolerance_secs: f64 = 60.0; SECS_OR_ZERO, "60.0";
    /// CLI: a wrapped command running longer than this many seconds is a runaway: SIGTERM to its
    /// process group (exit 124), then SIGKILL after `kill_grace_secs` (exit 137). Unset = no limit;
    /// `--max-runtime` overrides.
    max_runtime_secs: Option<f64> = None; SECS, "unset";
    /// CLI: seconds between SIGTERM and SIGKILL when stopping a runaway; `--kill-after` overrides.
    kill_grace_secs: f64 = 10.0; SECS_OR_ZERO, "10.0";
    /// CLI overlap: most runs of one actor's job at once (counted across invocations, crashed
    /// wrappers ignored); unset = no limit. `--max-concurrent` overrides.
    max_concurrent: Option<u64> = None; Range::at_least(1), "unset";
    /// CLI overlap: at `max_concurrent`, `"refuse"` (exit 75) or `"wait"` for a run to end.
    on_overlap: OnOverlap = OnOverlap::Refuse; Range::choice(&["refuse", "wait"]), "\"refuse\"";
}

/// Longest window, delay and cool-down accepted: one year, in seconds.
pub const MAX_SECS: f64 = 31_536_000.0;
const MAX_EVENTS_CAP: u64 = 100_000_000;

type Spans = BTreeMap<&'static str, Span<usize>>;

/// A whole configuration: global settings, the actor cap and per-actor overrides.
///
/// Build one from TOML ([`Config::from_path`], [`Config::from_toml_str`]) or in code from
/// [`Config::default`]; [`Guard::from_config`](crate::Guard::from_config) validates it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// The `[guard]` table: defaults for every actor.
    pub guard: Settings,
    /// Most actors tracked at once.
    pub max_actors: u64,
    /// `[guard.actors."ID"]` tables, by actor id.
    pub actors: BTreeMap<String, Overrides>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            guard: Settings::default(),
            max_actors: 100_000,
            actors: BTreeMap::new(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    #[serde(default)]
    guard: Option<RawTable>,
}

impl Config {
    /// Reads and validates a TOML file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Config, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Config::parse(&text, &path.display().to_string())?)
    }

    /// Parses and validates TOML text; errors name `<string>` as the file.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "<string>")
    }

    /// Parses and validates TOML text; `origin` names it in errors (a path, or `<stdin>`).
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let located = |err: ConfigError, span: Option<Span<usize>>| locate(err, text, origin, span);
        let doc: RawDocument = toml::from_str(text).map_err(|e| {
            let err = ConfigError::new(None, e.message().trim_end().to_string());
            located(err, e.span())
        })?;
        let mut config = Config::default();
        let Some(raw) = doc.guard else {
            return Ok(config);
        };
        let (global, global_spans) = raw.overrides();
        config.guard = global.apply_to(&config.guard);
        if let Some(max) = &raw.max_actors {
            config.max_actors = *max.get_ref();
            if config.max_actors == 0 {
                let err = ConfigError::new(
                    Some("guard.max_actors".into()),
                    "must be at least 1 (it caps how many actors are tracked at once)",
                );
                return Err(located(err, Some(max.span())));
            }
        }
        if let Err((key, msg)) = validate_settings(&config.guard) {
            let err = ConfigError::new(Some(format!("guard.{key}")), msg);
            return Err(located(err, global_spans.get(key).cloned()));
        }
        for (id, table_ref) in raw.actors.iter().flatten() {
            let prefix = format!("guard.actors.{}", quote_key(id));
            if let Some(max) = &table_ref.max_actors {
                let err = ConfigError::new(
                    Some(format!("{prefix}.max_actors")),
                    "applies to the whole guard, not one actor: set it in [guard]",
                );
                return Err(located(err, Some(max.span())));
            }
            if table_ref.actors.is_some() {
                let err = ConfigError::new(
                    Some(format!("{prefix}.actors")),
                    "actor tables cannot nest: declare every actor as [guard.actors.\"ID\"]",
                );
                return Err(located(err, None));
            }
            let (overrides, spans) = table_ref.overrides();
            let effective = overrides.apply_to(&config.guard);
            if let Err((key, msg)) = validate_settings(&effective) {
                let (key_name, span) = match spans.get(key) {
                    Some(span) => (format!("{prefix}.{key}"), Some(span.clone())),
                    None => (
                        format!("{prefix}.{key} (inherited from guard.{key})"),
                        // Not set anywhere: point at the actor table's first key.
                        global_spans
                            .get(key)
                            .or_else(|| spans.values().min_by_key(|r| r.start))
                            .cloned(),
                    ),
                };
                return Err(located(ConfigError::new(Some(key_name), msg), span));
            }
            config.actors.insert(id.clone(), overrides);
        }
        Ok(config)
    }

    /// Checks every rule the TOML reader checks, for a `Config` built in code.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_actors == 0 {
            return Err(ConfigError::new(
                Some("guard.max_actors".into()),
                "must be at least 1 (it caps how many actors are tracked at once)",
            ));
        }
        validate_settings(&self.guard)
            .map_err(|(key, msg)| ConfigError::new(Some(format!("guard.{key}")), msg))?;
        for (id, overrides) in &self.actors {
            validate_settings(&overrides.apply_to(&self.guard)).map_err(|(key, msg)| {
                ConfigError::new(Some(format!("guard.actors.{}.{key}", quote_key(id))), msg)
            })?;
        }
        Ok(())
    }

    /// The effective settings for one actor: its overrides over `[guard]`.
    pub fn settings_for(&self, actor: &str) -> Settings {
        match self.actors.get(actor) {
            Some(overrides) => overrides.apply_to(&self.guard),
            None => self.guard.clone(),
        }
    }
}

fn quote_key(id: &str) -> String {
    let bare = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        id.to_string()
    } else {
        format!("{id:?}")
    }
}

fn locate(
    mut err: ConfigError,
    text: &str,
    origin: &str,
    span: Option<Span<usize>>,
) -> ConfigError {
    err.origin = Some(origin.to_string());
    if let Some(span) = span {
        let (line, column) = line_column(text, span.start);
        err.line = Some(line);
        err.column = Some(column);
    }
    err
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

type Invalid = (&'static str, String);

/// Checks one actor's resolved settings; returns the offending key and why.
fn validate_settings(s: &Settings) -> Result<(), Invalid> {
    check_ranges(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> ConfigError {
        Config::from_toml_str(text).expect_err("config should be rejected")
    }

    #[test]
    fn empty_text_gives_the_documented_defaults() {
        let config = Config::from_toml_str("").unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.guard.window_secs, 300.0);
        assert_eq!(config.guard.burst_max_events, 100);
        assert_eq!(config.guard.repetition_max_count, 10);
        assert_eq!(config.guard.hopping_max_targets, 50);
        assert_eq!(config.guard.weight_max_total, 1000.0);
        assert_eq!(config.guard.interval_secs, None);
        assert_eq!(config.guard.interval_tolerance_ratio, 0.2);
        assert_eq!(config.guard.risk_combine, Combine::Max);
        assert_eq!(
            (
                config.guard.allow_below,
                config.guard.warn_below,
                config.guard.delay_below
            ),
            (0.3, 0.6, 0.85)
        );
        assert_eq!(config.guard.delay_secs, 5.0);
    }

    #[test]
    fn integers_are_accepted_for_seconds_and_floats() {
        let c = Config::from_toml_str("[guard]\nwindow_secs = 60\nweight_max_total = 5\n").unwrap();
        assert_eq!(c.guard.window_secs, 60.0);
        assert_eq!(c.guard.weight_max_total, 5.0);
    }

    #[test]
    fn actor_overrides_inherit_every_unset_key_from_guard() {
        let c = Config::from_toml_str(
            "[guard]\nwindow_secs = 60\nburst_max_events = 7\ndelay_secs = 2\n\
             [guard.actors.\"svc:a\"]\nburst_max_events = 20\n",
        )
        .unwrap();
        let a = c.settings_for("svc:a");
        assert_eq!(a.burst_max_events, 20);
        assert_eq!(
            a.window_secs, 60.0,
            "inherited from [guard], not the built-in 300"
        );
        assert_eq!(a.delay_secs, 2.0);
        assert_eq!(c.settings_for("other").burst_max_events, 7);
    }

    #[test]
    fn unknown_key_is_rejected_with_line_and_column() {
        let e = err("[guard]\nwindow_secs = 60\nburst_max = 3\n");
        assert_eq!(e.origin.as_deref(), Some("<string>"));
        assert_eq!(e.line, Some(3));
        assert_eq!(e.column, Some(1));
        assert!(e.message.contains("unknown field `burst_max`"), "{e}");
        assert!(e.to_string().starts_with("<string>:3:1: "), "{e}");
    }

    #[test]
    fn unknown_section_is_rejected() {
        let e = err("[gaurd]\nwindow_secs = 1\n");
        assert_eq!(e.line, Some(1));
        assert!(e.message.contains("unknown field `gaurd`"), "{e}");
    }

    #[test]
    fn wrong_type_is_rejected_with_location() {
        let e = err("[guard]\nburst_max_events = \"ten\"\n");
        assert_eq!((e.line, e.column), (Some(2), Some(20)));
        assert!(e.message.contains("invalid type"), "{e}");
        let e = err("[guard]\nburst_max_events = 2.5\n");
        assert_eq!(e.line, Some(2));
        let e = err("[guard]\nburst_max_events = -1\n");
        assert_eq!(e.line, Some(2));
        let e = err("[guard]\nrisk_combine = \"mean\"\n");
        assert!(e.message.contains("unknown variant `mean`"), "{e}");
    }

    #[test]
    fn zero_and_negative_limits_are_rejected() {
        for (text, key) in [
            ("burst_max_events = 0", "guard.burst_max_events"),
            ("repetition_max_count = 0", "guard.repetition_max_count"),
            ("hopping_max_targets = 0", "guard.hopping_max_targets"),
            ("weight_max_total = 0", "guard.weight_max_total"),
            ("weight_max_total = -5.0", "guard.weight_max_total"),
            ("window_secs = 0", "guard.window_secs"),
            ("window_secs = 1e12", "guard.window_secs"),
            ("interval_secs = -1", "guard.interval_secs"),
            (
                "interval_tolerance_ratio = 1.0",
                "guard.interval_tolerance_ratio",
            ),
            ("delay_secs = -1", "guard.delay_secs"),
            ("delay_secs = 400", "guard.delay_secs"),
            ("max_actors = 0", "guard.max_actors"),
            ("escalation_max_level = 11", "guard.escalation_max_level"),
            ("max_events_per_actor = 150", "guard.max_events_per_actor"),
            ("weight_max_total = nan", "guard.weight_max_total"),
            ("window_secs = inf", "guard.window_secs"),
        ] {
            let e = err(&format!("[guard]\n{text}\n"));
            assert_eq!(e.key.as_deref(), Some(key), "{text}: {e}");
            assert_eq!(e.line, Some(2), "{text}: {e}");
        }
    }

    #[test]
    fn bands_out_of_order_are_rejected() {
        let e = err("[guard]\nallow_below = 0.5\nwarn_below = 0.4\n");
        assert_eq!(e.key.as_deref(), Some("guard.warn_below"));
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("out of order"), "{e}");
        let e = err("[guard]\ndelay_below = 0.5\n");
        assert_eq!(e.key.as_deref(), Some("guard.delay_below"));
    }

    #[test]
    fn actor_table_errors_name_the_actor_and_its_line() {
        let e = err(
            "[guard]\nwindow_secs = 60\n\n[guard.actors.\"ip:1.2.3.4\"]\nburst_max_events = 0\n",
        );
        assert_eq!(
            e.key.as_deref(),
            Some("guard.actors.\"ip:1.2.3.4\".burst_max_events")
        );
        assert_eq!(e.line, Some(5));
        let e = err("[guard.actors.a]\nmax_actors = 5\n");
        assert!(e.message.contains("whole guard"), "{e}");
        let e = err("[guard.actors.a]\nbogus = 5\n");
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn an_inherited_value_made_impossible_by_an_override_points_at_guard() {
        let e = err("[guard]\nwarn_below = 0.5\n[guard.actors.a]\ndelay_below = 0.4\n");
        assert_eq!(e.line, Some(4));
        let e = err("[guard]\nburst_max_events = 10\nmax_events_per_actor = 20\n[guard.actors.a]\nburst_max_events = 11\n");
        assert!(e.key.unwrap().contains("inherited"));
    }

    #[test]
    fn validate_catches_impossible_values_built_in_code() {
        let mut c = Config::default();
        assert!(c.validate().is_ok());
        c.guard.allow_below = f64::NAN;
        let e = c.validate().unwrap_err();
        assert_eq!(e.key.as_deref(), Some("guard.allow_below"));
        assert_eq!(
            e.to_string(),
            "`guard.allow_below`: must be a finite number, found NaN"
        );
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncdé\nx", 7), (2, 4));
        assert_eq!(line_column("ab\ncdé\nx", 8), (3, 1));
        assert_eq!(line_column("ab", 99), (1, 3));
    }
}
