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
//! - `keys.rs`: every key, declared once: [`Settings`], [`Overrides`],
//!   [`KEYS`] and the range checks come from that one list; `docs/CONFIG.md` is checked against
//!   [`KEYS`] by a test;
//! - [`Range`]: the values a key accepts, for validation and docs alike;
//! - this module: reading TOML into a [`Config`] and validating it.
//!
//! Validation rejects unknown keys, wrong types and impossible values with the file, line and column
//! of the offending value. A configuration that fails validation never reaches a [`Guard`](crate::Guard).

use std::collections::BTreeMap;
use std::ops::Range as Span;
use std::path::Path;

use serde::Deserialize;

use crate::error::{ConfigError, Error};

mod http;
mod keys;
mod output;
mod range;
mod replay;
mod store;

pub use http::{canonical, Cidr, HttpKey, HttpSettings, UnknownKey};
pub use keys::{
    Combine, KeyDoc, MaxRuntime, OnOverlap, Overrides, Settings, DEFAULT_MAX_EVENTS, KEYS,
    MAX_EVENTS_CAP, MAX_SECS,
};
use keys::{Invalid, RawTable};
pub use output::{output_defaults, OutputDefault, OUTPUT_DEFAULTS, RUN_ONLY_KEYS};
pub use range::{Bound, Range};
pub use replay::{FormatSpec, ReplaySettings, BUILT_IN_FORMATS};
pub use store::{check_url, redact, OnError, StoreSettings, DEFAULT_PREFIX};

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
    /// The `[output]` table: the settings of the guard that watches a run's output (CLI
    /// `--watch-output`), with [`output_defaults`] where it sets nothing.
    pub output: Settings,
    /// `[output.actors."ID"]` tables, by actor id.
    pub output_actors: BTreeMap<String, Overrides>,
    /// The `[http]` table: how the HTTP layer (feature `tower`) keys and holds requests.
    pub http: HttpSettings,
    /// The `[store]` table: where histories are shared (Redis), and what a check does when it
    /// cannot answer.
    pub store: StoreSettings,
    /// The `[replay]` table: a team's own log formats (`[replay.formats.NAME]`).
    pub replay: ReplaySettings,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            guard: Settings::default(),
            max_actors: 100_000,
            actors: BTreeMap::new(),
            output: output_defaults(),
            output_actors: BTreeMap::new(),
            http: HttpSettings::default(),
            store: StoreSettings::default(),
            replay: ReplaySettings::default(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    #[serde(default)]
    guard: Option<RawTable>,
    #[serde(default)]
    output: Option<RawTable>,
    #[serde(default)]
    http: Option<http::RawHttp>,
    #[serde(default)]
    store: Option<store::RawStore>,
    #[serde(default)]
    replay: Option<replay::RawReplay>,
}

/// One section read: its settings and its actor tables.
type Section = (Settings, BTreeMap<String, Overrides>);

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
        if let Some(raw) = &doc.guard {
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
            (config.guard, config.actors) = section(raw, "guard", &Settings::default(), located)?;
        }
        if let Some(raw) = &doc.output {
            if let Some(max) = &raw.max_actors {
                let err = ConfigError::new(
                    Some("output.max_actors".into()),
                    "applies to the whole guard: set it in [guard]",
                );
                return Err(located(err, Some(max.span())));
            }
            for table in std::iter::once(raw).chain(raw.actors.iter().flat_map(|a| a.values())) {
                let (_, spans) = table.overrides();
                if let Some((key, span)) = spans.iter().find(|(k, _)| RUN_ONLY_KEYS.contains(k)) {
                    let err = ConfigError::new(
                        Some(format!("output.{key}")),
                        "steers runs, not their output: set it in [guard] or [guard.actors.\"ID\"]",
                    );
                    return Err(located(err, Some(span.clone())));
                }
            }
            (config.output, config.output_actors) =
                section(raw, "output", &output_defaults(), located)?;
        }
        if let Some(raw) = doc.http {
            config.http = raw
                .resolve()
                .map_err(|(key, why, span)| located(ConfigError::new(Some(key), why), span))?;
        }
        if let Some(raw) = doc.store {
            config.store = raw
                .resolve()
                .map_err(|(key, why, span)| located(ConfigError::new(Some(key), why), span))?;
        }
        if let Some(raw) = doc.replay {
            config.replay = raw
                .resolve()
                .map_err(|(key, why, span)| located(ConfigError::new(Some(key), why), span))?;
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
        validate_settings(&self.output)
            .map_err(|(key, msg)| ConfigError::new(Some(format!("output.{key}")), msg))?;
        for (id, overrides) in &self.output_actors {
            validate_settings(&overrides.apply_to(&self.output)).map_err(|(key, msg)| {
                ConfigError::new(Some(format!("output.actors.{}.{key}", quote_key(id))), msg)
            })?;
        }
        Ok(())
    }

    /// The configuration of the guard that watches a run's output: `[output]` as its `[guard]`,
    /// `[output.actors]` as its actors.
    pub fn output_config(&self) -> Config {
        Config {
            guard: self.output.clone(),
            max_actors: 16,
            actors: self.output_actors.clone(),
            ..Config::default()
        }
    }

    /// The effective settings for one actor: its overrides over `[guard]`.
    pub fn settings_for(&self, actor: &str) -> Settings {
        match self.actors.get(actor) {
            Some(overrides) => overrides.apply_to(&self.guard),
            None => self.guard.clone(),
        }
    }
}

/// Reads one section (`[guard]` or `[output]`) over `base`: its settings, then each actor table
/// over them, each validated; `located` places an error at the offending value.
fn section(
    raw: &RawTable,
    name: &str,
    base: &Settings,
    located: impl Fn(ConfigError, Option<Span<usize>>) -> ConfigError,
) -> Result<Section, ConfigError> {
    let (global, global_spans) = raw.overrides();
    let settings = global.apply_to(base);
    if let Err((key, msg)) = validate_settings(&settings) {
        let err = ConfigError::new(Some(format!("{name}.{key}")), msg);
        return Err(located(err, global_spans.get(key).cloned()));
    }
    let mut actors = BTreeMap::new();
    for (id, table_ref) in raw.actors.iter().flatten() {
        let prefix = format!("{name}.actors.{}", quote_key(id));
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
                format!("actor tables cannot nest: declare every actor as [{name}.actors.\"ID\"]"),
            );
            return Err(located(err, None));
        }
        let (overrides, spans) = table_ref.overrides();
        let effective = overrides.apply_to(&settings);
        if let Err((key, msg)) = validate_settings(&effective) {
            let (key_name, span) = match spans.get(key) {
                Some(span) => (format!("{prefix}.{key}"), Some(span.clone())),
                None => (
                    format!("{prefix}.{key} (inherited from {name}.{key})"),
                    // Not set anywhere: point at the actor table's first key.
                    global_spans
                        .get(key)
                        .or_else(|| spans.values().min_by_key(|r| r.start))
                        .cloned(),
                ),
            };
            return Err(located(ConfigError::new(Some(key_name), msg), span));
        }
        actors.insert(id.clone(), overrides);
    }
    Ok((settings, actors))
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

/// Checks one actor's resolved settings; returns the offending key and why.
fn validate_settings(s: &Settings) -> Result<(), Invalid> {
    keys::check_ranges(s)
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
    fn an_unset_event_cap_follows_burst_max_events_and_a_set_one_is_checked() {
        let c = Config::from_toml_str("[guard]\nburst_max_events = 100000\n").unwrap();
        assert_eq!(c.guard.max_events(), 200_000);
        assert_eq!(Config::default().guard.max_events(), DEFAULT_MAX_EVENTS);
        // Each actor follows its own burst limit, unless a cap is set where it inherits from.
        let c = Config::from_toml_str(
            "[guard]\nburst_max_events = 10\n[guard.actors.big]\nburst_max_events = 30000\n",
        )
        .unwrap();
        assert_eq!(c.settings_for("big").max_events(), 60_000);
        assert_eq!(c.settings_for("other").max_events(), DEFAULT_MAX_EVENTS);
        let e = err("[guard]\nburst_max_events = 100000\nmax_events_per_actor = 10000\n");
        assert_eq!(e.key.as_deref(), Some("guard.max_events_per_actor"));
        assert!(e.message.contains("2 * burst_max_events (200000)"), "{e}");
        // A limit so high no cap could hold twice it is refused on its own key.
        let e = err("[guard]\nburst_max_events = 60000000\n");
        assert_eq!(e.key.as_deref(), Some("guard.burst_max_events"));
        // Built in code, the same rule.
        let mut c = Config::default();
        c.guard.burst_max_events = 100_000;
        assert!(c.validate().is_ok());
        c.guard.max_events_per_actor = Some(150_000);
        assert!(c.validate().is_err());
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
