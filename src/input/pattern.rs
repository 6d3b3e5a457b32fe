//! Any log line format, as regexes with named groups (what `replay --format regex --pattern`
//! and the [presets](super::presets) read with).
//!
//! A [`LineFormat`] is a list of [`Pattern`]s; for each line the first that matches makes the
//! event. Its named groups are the event's fields:
//!
//! | group | |
//! |---|---|
//! | `actor` | required: who acted (an address, a user) |
//! | `time` | when, read by the format's [`TimeFormat`]; a pattern without it stamps each event with the time it is read (for lines read live) |
//! | `action` | what was done; else the pattern's literal, else the format's, else `event` |
//! | `target` | what it was done to; else the pattern's literal, else the format's, else `-` |
//! | `weight` | its cost, a number >= 0; else the literal, else 1 |
//!
//! Any other group name is refused (a typo like `(?P<host>...)` would otherwise read nothing);
//! use `(?:...)` for groups that only group. A group that takes no part in the match counts as
//! absent.
//!
//! A prefix ([`LineFormat::with_prefix`]) is what every line starts with (a syslog header), matched
//! once before the patterns, which read the rest; its groups count where a pattern has none.
//!
//! Patterns run over the line's bytes: `(?-u)` (ASCII-only classes, a smaller and faster
//! automaton) is allowed; matched text is taken back from the line at character boundaries.
//!
//! A line no pattern matches is *not an event* (an sshd log is mostly lines that are not
//! failures); a line a pattern matches whose time or weight cannot be read is *malformed*.
//! [`LineFormat::parse`] tells them apart.
//!
//! ```
//! use pattern_guard::input::{LineFormat, Pattern, Years};
//!
//! let format = LineFormat::new(vec![Pattern::new(
//!     r"^(?P<time>\S+) login failed for (?P<target>\S+) from (?P<actor>\S+)$",
//! )?])?
//! .with_action("login");
//! let mut years = Years::now();
//! let line = "2026-11-24T10:00:00Z login failed for root from 203.0.113.9";
//! let event = format.parse(line, &mut years)?.expect("an event");
//! assert_eq!((&*event.actor, &*event.action, &*event.target), ("203.0.113.9", "login", "root"));
//! assert!(format.parse("2026-11-24T10:00:01Z server started", &mut years)?.is_none());
//! # Ok::<(), String>(())
//! ```

use std::borrow::Cow;
use std::time::{SystemTime, UNIX_EPOCH};

use regex::bytes::Regex;
use regex_automata::meta;
use regex_automata::util::syntax;

use super::time::{TimeFormat, Years};
use super::ParsedEvent;

/// The group names a pattern may use.
pub const GROUPS: [&str; 5] = ["actor", "time", "action", "target", "weight"];

/// One regex, with literals for the fields it has no group for.
#[derive(Debug, Clone)]
pub struct Pattern {
    regex: Regex,
    time: Option<usize>,
    action: Option<usize>,
    target: Option<usize>,
    weight: Option<usize>,
    actor: usize,
    literal_action: Option<String>,
    literal_target: Option<String>,
}

impl Pattern {
    /// Compiles `regex`; the error is the regex's own (with a caret under where it is wrong),
    /// or names the group that is missing or unknown.
    pub fn new(regex: &str) -> Result<Pattern, String> {
        let compiled = Regex::new(regex).map_err(|e| e.to_string())?;
        let index = |name: &str| compiled.capture_names().position(|n| n == Some(name));
        for name in compiled.capture_names().flatten() {
            if !GROUPS.contains(&name) {
                return Err(format!(
                    "named group `{name}` is not one of {}: name the fields the event needs, \
                     and write (?:...) for groups that only group",
                    GROUPS.join(", ")
                ));
            }
        }
        let actor = index("actor").ok_or_else(|| {
            "has no (?P<actor>...) group: the actor (who acted: an address, a user) is required"
                .to_string()
        })?;
        Ok(Pattern {
            time: index("time"),
            action: index("action"),
            target: index("target"),
            weight: index("weight"),
            actor,
            regex: compiled,
            literal_action: None,
            literal_target: None,
        })
    }

    /// The action when the pattern has no `action` group (or it took no part in the match).
    #[must_use]
    pub fn with_action(mut self, action: &str) -> Pattern {
        self.literal_action = Some(action.to_string());
        self
    }

    /// The target when the pattern has no `target` group (or it took no part in the match).
    #[must_use]
    pub fn with_target(mut self, target: &str) -> Pattern {
        self.literal_target = Some(target.to_string());
        self
    }

    /// Whether the pattern reads a time from the line.
    pub fn has_time(&self) -> bool {
        self.time.is_some()
    }

    /// The regex as written.
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }
}

/// Groups of a prefix: what every line of a format starts with.
#[derive(Debug, Clone)]
struct Prefix {
    regex: meta::Regex,
    time: Option<usize>,
    action: Option<usize>,
    target: Option<usize>,
    weight: Option<usize>,
}

/// Compiles patterns into one engine over bytes (`(?-u)` classes allowed, as logs are ASCII
/// where it matters); matched text is taken back from the line at its character boundaries.
fn engine(patterns: &[String]) -> Result<meta::Regex, String> {
    meta::Builder::new()
        .syntax(syntax::Config::new().utf8(false))
        .build_many(patterns)
        .map_err(|e| e.to_string())
}

/// A log format: patterns tried in order, the time format, literal defaults.
#[derive(Debug, Clone)]
pub struct LineFormat {
    patterns: Vec<Pattern>,
    /// All patterns as one regex: one search finds the first that matches and its groups.
    engine: meta::Regex,
    /// What lines start with, matched first; the patterns then read the rest of the line.
    prefix: Option<Prefix>,
    time: TimeFormat,
    action: String,
    target: String,
    weight: f64,
}

impl LineFormat {
    /// A format of `patterns`, the first that matches a line winning.
    pub fn new(patterns: Vec<Pattern>) -> Result<LineFormat, String> {
        if patterns.is_empty() {
            return Err("a format needs at least one pattern".into());
        }
        // A multi-pattern search reports the leftmost match, ties going to the earlier pattern.
        // Anchoring every pattern at the line's start (an unanchored one behind a lazy `.*?`)
        // makes them all tie, so the first pattern that matches anywhere wins.
        let anchored: Vec<String> = patterns
            .iter()
            .map(|p| {
                let re = p.as_str();
                if re.starts_with('^') {
                    re.to_string()
                } else {
                    format!("^(?s:.*?)(?:{re})")
                }
            })
            .collect();
        Ok(LineFormat {
            engine: engine(&anchored)?,
            patterns,
            prefix: None,
            time: TimeFormat::auto(),
            action: "event".into(),
            target: "-".into(),
            weight: 1.0,
        })
    }

    /// Lines start with `regex` (matched at the start of the line; no `actor` group), and the
    /// patterns read what follows it, their `^` anchoring at its end: a syslog header, say,
    /// written once instead of in every pattern (and matched once). A line the prefix does not
    /// match is not an event; a field the pattern has no group for comes from the prefix's.
    pub fn with_prefix(mut self, regex: &str) -> Result<LineFormat, String> {
        let check = Regex::new(regex).map_err(|e| e.to_string())?;
        let index = |name: &str| check.capture_names().position(|n| n == Some(name));
        for name in check.capture_names().flatten() {
            if !GROUPS[1..].contains(&name) {
                return Err(format!(
                    "prefix: named group `{name}` is not one of {} (the actor comes from the \
                     patterns)",
                    GROUPS[1..].join(", ")
                ));
            }
        }
        self.prefix = Some(Prefix {
            regex: engine(&[format!("^(?:{regex})")])?,
            time: index("time"),
            action: index("action"),
            target: index("target"),
            weight: index("weight"),
        });
        Ok(self)
    }

    /// How the `time` group is read (default: [`TimeFormat::auto`]).
    #[must_use]
    pub fn with_time_format(mut self, time: TimeFormat) -> LineFormat {
        self.time = time;
        self
    }

    /// The action where neither the line nor the pattern gives one.
    #[must_use]
    pub fn with_action(mut self, action: &str) -> LineFormat {
        action.clone_into(&mut self.action);
        self
    }

    /// The target where neither the line nor the pattern gives one.
    #[must_use]
    pub fn with_target(mut self, target: &str) -> LineFormat {
        target.clone_into(&mut self.target);
        self
    }

    /// The weight where the line gives none.
    #[must_use]
    pub fn with_weight(mut self, weight: f64) -> LineFormat {
        self.weight = weight;
        self
    }

    /// Whether every pattern reads a time (else events are stamped when read: only for live
    /// input).
    pub fn has_time(&self) -> bool {
        self.prefix.as_ref().is_some_and(|p| p.time.is_some())
            || self.patterns.iter().all(Pattern::has_time)
    }

    /// The patterns, in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// The event on `line`: `Ok(None)` when no pattern matches (not an event), `Err(why)` when
    /// one matches but its time or weight cannot be read (malformed). `years` gives year-less
    /// times their year and carries it from line to line.
    pub fn parse<'l>(
        &'l self,
        line: &'l str,
        years: &mut Years,
    ) -> Result<Option<ParsedEvent<'l>>, String> {
        let (start, head) = match &self.prefix {
            None => (0, None),
            Some(prefix) => {
                let mut caps = prefix.regex.create_captures();
                prefix.regex.captures(line.as_bytes(), &mut caps);
                match caps.get_match() {
                    Some(m) => (m.end(), Some((prefix, caps))),
                    None => return Ok(None),
                }
            }
        };
        let rest = &line.as_bytes()[start..];
        let mut caps = self.engine.create_captures();
        self.engine.captures(rest, &mut caps);
        let Some(id) = caps.pattern() else {
            return Ok(None);
        };
        let p = &self.patterns[id.as_usize()];
        // A field's text: the pattern's group, else the prefix's.
        let group =
            |mine: Option<usize>, prefix: fn(&Prefix) -> Option<usize>| -> Option<&'l str> {
                let span = mine
                    .and_then(|i| caps.get_group(i))
                    .map(|s| start + s.start..start + s.end);
                let span = span.or_else(|| {
                    let (pre, caps) = head.as_ref()?;
                    caps.get_group(prefix(pre)?).map(|s| s.range())
                })?;
                line.get(span)
            };
        let actor = group(Some(p.actor), |_| None).unwrap_or_default();
        if actor.is_empty() {
            return Err("the actor group matched nothing".into());
        }
        let ts = match group(p.time, |pre| pre.time) {
            Some(text) => self.time.parse(text, years)?,
            None if p.time.is_some()
                || head.as_ref().is_some_and(|(pre, _)| pre.time.is_some()) =>
            {
                return Err("the time group matched nothing".into())
            }
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        };
        let weight = match group(p.weight, |pre| pre.weight) {
            Some(text) => match text.trim().parse::<f64>() {
                Ok(w) if w.is_finite() && w >= 0.0 => w,
                _ => return Err(format!("weight {text:?} is not a number >= 0")),
            },
            None => self.weight,
        };
        let field = |text: Option<&'l str>, literal: &'l Option<String>, default: &'l str| {
            Cow::Borrowed(match text {
                Some(t) if !t.is_empty() => t,
                _ => literal.as_deref().unwrap_or(default),
            })
        };
        Ok(Some(ParsedEvent {
            actor: Cow::Borrowed(actor),
            action: field(
                group(p.action, |pre| pre.action),
                &p.literal_action,
                &self.action,
            ),
            target: field(
                group(p.target, |pre| pre.target),
                &p.literal_target,
                &self.target,
            ),
            ts,
            weight,
            metadata: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_names_what_is_wrong_with_it() {
        let err = Pattern::new(r"(?P<actor>\S+").unwrap_err();
        assert!(err.contains("unclosed group") && err.contains('^'), "{err}");
        let err = Pattern::new(r"(?P<time>\S+) (?P<host>\S+)").unwrap_err();
        assert!(
            err.contains("`host`") && err.contains("actor, time"),
            "{err}"
        );
        let err = Pattern::new(r"(?P<time>\S+) (\S+)").unwrap_err();
        assert!(err.contains("(?P<actor>...)"), "{err}");
        assert!(LineFormat::new(Vec::new()).is_err());
    }

    #[test]
    fn the_first_matching_pattern_wins_and_literals_fill_the_rest() {
        let format = LineFormat::new(vec![
            Pattern::new(r"^(?P<time>\S+) deny (?P<actor>\S+)$")
                .unwrap()
                .with_action("deny"),
            Pattern::new(r"^(?P<time>\S+) (?P<action>\w+) (?P<actor>\S+) (?P<target>\S+)(?: x(?P<weight>\S+))?$")
                .unwrap(),
        ])
        .unwrap()
        .with_target("all");
        let mut years = Years::now();
        let e = format
            .parse("2026-11-24T10:00:00Z deny 10.0.0.1", &mut years)
            .unwrap()
            .unwrap();
        assert_eq!(
            (&*e.actor, &*e.action, &*e.target, e.weight),
            ("10.0.0.1", "deny", "all", 1.0)
        );
        let e = format
            .parse("1700000000 get 10.0.0.2 /a x2.5", &mut years)
            .unwrap()
            .unwrap();
        assert_eq!(
            (&*e.action, &*e.target, e.weight, e.ts),
            ("get", "/a", 2.5, 1_700_000_000_000_000_000)
        );
        assert!(format.parse("hello", &mut years).unwrap().is_none());
        let err = format
            .parse("1700000000 get 10.0.0.2 /a x-1", &mut years)
            .unwrap_err();
        assert!(err.contains("weight \"-1\""), "{err}");
        let err = format.parse("noon deny 10.0.0.1", &mut years).unwrap_err();
        assert!(err.contains("--time-format"), "{err}");
    }

    #[test]
    fn a_pattern_without_time_stamps_the_event_when_read() {
        let format = LineFormat::new(vec![Pattern::new(r"^(?P<actor>\S+) hit$").unwrap()]).unwrap();
        assert!(!format.has_time());
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let e = format.parse("u1 hit", &mut Years::now()).unwrap().unwrap();
        assert!(e.ts >= before);
        assert_eq!((&*e.action, &*e.target), ("event", "-"));
    }

    #[test]
    fn a_prefix_is_matched_once_and_lends_its_groups() {
        let format = LineFormat::new(vec![
            Pattern::new(r"^deny (?P<actor>\S+)$")
                .unwrap()
                .with_action("deny"),
            Pattern::new(r"^(?P<action>\w+) (?P<actor>\S+) at (?P<time>\S+)$").unwrap(),
        ])
        .unwrap()
        .with_prefix(r"(?P<time>\d+) (?P<target>\w+): ")
        .unwrap();
        assert!(format.has_time());
        let mut years = Years::now();
        let e = format
            .parse("1700000000 fw: deny 10.0.0.1", &mut years)
            .unwrap()
            .unwrap();
        assert_eq!(
            (&*e.actor, &*e.action, &*e.target),
            ("10.0.0.1", "deny", "fw")
        );
        assert_eq!(e.ts, 1_700_000_000_000_000_000);
        // The pattern's own time wins over the prefix's.
        let e = format
            .parse("1700000000 fw: get 10.0.0.2 at 1700000005", &mut years)
            .unwrap()
            .unwrap();
        assert_eq!(e.ts, 1_700_000_005_000_000_000);
        // Patterns anchor at the prefix's end; a line without the prefix is not an event.
        assert!(format
            .parse("x 1700000000 fw: deny 10.0.0.1", &mut years)
            .unwrap()
            .is_none());
        assert!(format.parse("deny 10.0.0.1", &mut years).unwrap().is_none());
        let one = || LineFormat::new(vec![Pattern::new("(?P<actor>x)").unwrap()]).unwrap();
        assert!(one()
            .with_prefix("(?P<actor>y)")
            .unwrap_err()
            .contains("`actor`"));
        assert!(one()
            .with_prefix("(unclosed")
            .unwrap_err()
            .contains("unclosed"));
    }
}
