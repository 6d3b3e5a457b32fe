//! The `[replay]` section: a team's own log formats, kept beside its guard settings and chosen
//! with `pattern-guard replay --format NAME`.
//!
//! ```toml
//! [replay.formats.app-login]
//! prefix = '(?P<time>\S+ \S+) app\[\d+\]: '  # optional: what every line starts with, matched once
//! pattern = [                      # one regex or a list; the first that matches a line wins
//!   '^(?P<time>\S+ \S+) login failed user=(?P<target>\S+) ip=(?P<actor>\S+)',
//!   '^(?P<time>\S+ \S+) login locked ip=(?P<actor>\S+)',
//! ]
//! time_format = "%Y-%m-%d %H:%M:%S"  # strftime-style; default: RFC 3339, epoch, access-log, syslog
//! action = "login"                 # for lines without an `action` group (default "event")
//! target = "-"                     # for lines without a `target` group (default "-")
//! weight = 1                       # for lines without a `weight` group (default 1)
//! ```
//!
//! Named groups: `actor` (required), `time`, `action`, `target`, `weight` (see
//! `pattern_guard::input::pattern`). Plain data here; with the `input` feature the patterns and
//! the time format are compiled when the file is read, so a bad one is refused with its place.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Format names with a meaning of their own: a `[replay.formats]` table cannot take them.
pub const BUILT_IN_FORMATS: [&str; 8] = [
    "auto",
    "jsonl",
    "combined",
    "common",
    "sshd",
    "nginx-error",
    "apache-error",
    "regex",
];

/// The `[replay]` section, resolved.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct ReplaySettings {
    /// `[replay.formats.NAME]`, by name.
    pub formats: BTreeMap<String, FormatSpec>,
}

/// One `[replay.formats.NAME]` table.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct FormatSpec {
    /// Regexes with named groups, tried in order.
    pub patterns: Vec<String>,
    /// What every line starts with (groups other than `actor`); the patterns read the rest.
    pub prefix: Option<String>,
    /// strftime-style; `None`: RFC 3339, epoch seconds, access-log or syslog times.
    pub time_format: Option<String>,
    /// For lines without an `action` group.
    pub action: Option<String>,
    /// For lines without a `target` group.
    pub target: Option<String>,
    /// For lines without a `weight` group.
    pub weight: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReplay {
    #[serde(default)]
    formats: BTreeMap<String, toml::Spanned<RawFormat>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFormat {
    pattern: toml::Spanned<OneOrMany>,
    #[serde(default)]
    prefix: Option<toml::Spanned<String>>,
    #[serde(default)]
    time_format: Option<toml::Spanned<String>>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    weight: Option<toml::Spanned<f64>>,
}

impl RawReplay {
    pub fn resolve(self) -> Result<ReplaySettings, super::http::Refused> {
        let mut settings = ReplaySettings::default();
        for (name, raw) in self.formats {
            let span = raw.span();
            let raw = raw.into_inner();
            let key = |field: &str| format!("replay.formats.{}.{field}", super::quote_key(&name));
            if BUILT_IN_FORMATS.contains(&name.as_str()) {
                return Err((
                    format!("replay.formats.{name}"),
                    format!(
                        "`{name}` is a built-in format ({}); give yours another name",
                        BUILT_IN_FORMATS.join(", ")
                    ),
                    Some(span),
                ));
            }
            let pattern_span = raw.pattern.span();
            let patterns = match raw.pattern.into_inner() {
                OneOrMany::One(p) => vec![p],
                OneOrMany::Many(list) => list,
            };
            if patterns.is_empty() {
                let why = "needs at least one regex with a (?P<actor>...) group".to_string();
                return Err((key("pattern"), why, Some(pattern_span)));
            }
            #[cfg(feature = "input")]
            for (i, p) in patterns.iter().enumerate() {
                if let Err(why) = crate::input::Pattern::new(p) {
                    let why = format!("pattern {} of {}: {why}", i + 1, patterns.len());
                    return Err((key("pattern"), why, Some(pattern_span)));
                }
            }
            #[cfg(feature = "input")]
            if let Some(prefix) = &raw.prefix {
                let format =
                    crate::input::LineFormat::new(vec![
                        crate::input::Pattern::new("(?P<actor>x)").expect("a fixed pattern")
                    ])
                    .expect("one pattern");
                if let Err(why) = format.with_prefix(prefix.get_ref()) {
                    return Err((key("prefix"), why, Some(prefix.span())));
                }
            }
            if let Some(t) = &raw.time_format {
                #[cfg(feature = "input")]
                if let Err(why) = crate::input::TimeFormat::strftime(t.get_ref()) {
                    return Err((key("time_format"), why, Some(t.span())));
                }
                #[cfg(not(feature = "input"))]
                let _ = t;
            }
            if let Some(w) = &raw.weight {
                if !(w.get_ref().is_finite() && *w.get_ref() >= 0.0) {
                    let why = format!("must be a number >= 0, found {}", w.get_ref());
                    return Err((key("weight"), why, Some(w.span())));
                }
            }
            settings.formats.insert(
                name,
                FormatSpec {
                    patterns,
                    prefix: raw.prefix.map(toml::Spanned::into_inner),
                    time_format: raw.time_format.map(toml::Spanned::into_inner),
                    action: raw.action,
                    target: raw.target,
                    weight: raw.weight.map(toml::Spanned::into_inner),
                },
            );
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use crate::Config;

    #[test]
    fn formats_are_read_with_one_pattern_or_many() {
        let config = Config::from_toml_str(
            r#"
[replay.formats.one]
pattern = '^(?P<actor>\S+)'
[replay.formats.many]
pattern = ['^(?P<time>\S+) (?P<actor>\S+)', 'ip=(?P<actor>\S+)']
time_format = "%Y-%m-%d"
action = "login"
weight = 2
"#,
        )
        .unwrap();
        let f = &config.replay.formats;
        assert_eq!(f["one"].patterns.len(), 1);
        assert_eq!(f["many"].patterns.len(), 2);
        assert_eq!(f["many"].time_format.as_deref(), Some("%Y-%m-%d"));
        assert_eq!(
            (f["many"].action.as_deref(), f["many"].weight),
            (Some("login"), Some(2.0))
        );
    }

    fn refused(text: &str, says: &str) {
        let err = Config::from_toml_str(text).unwrap_err().to_string();
        assert!(
            err.contains(says) && err.starts_with("<string>:"),
            "{text}: {err}"
        );
    }

    #[test]
    fn bad_formats_are_refused_with_their_place() {
        refused(
            "[replay.formats.sshd]\npattern = '(?P<actor>x)'",
            "built-in format",
        );
        refused("[replay.formats.x]\npattern = []", "at least one regex");
        refused(
            "[replay.formats.x]\npattern = '(?P<actor>x)'\nweight = -1",
            ">= 0",
        );
        refused(
            "[replay.formats.x]\npattern = '(?P<actor>x)'\npatern = 1",
            "unknown field",
        );
    }

    /// With the `input` feature the regexes and the time format are compiled when read.
    #[cfg(feature = "input")]
    #[test]
    fn patterns_and_time_formats_are_compiled_when_read() {
        refused(
            "[replay.formats.x]\npattern = '(?P<time>x)'",
            "pattern 1 of 1",
        );
        refused(
            "[replay.formats.x]\npattern = '(?P<actor>x'",
            "unclosed group",
        );
        refused(
            "[replay.formats.x]\npattern = '(?P<actor>x)'\ntime_format = 'YYYY'",
            "no % field",
        );
        refused(
            "[replay.formats.x]\npattern = '(?P<actor>x)'\nprefix = '(?P<actor>y)'",
            "`actor`",
        );
    }
}
