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

use regex::{Captures, Regex, RegexSet};

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

/// A log format: patterns tried in order, the time format, literal defaults.
#[derive(Debug, Clone)]
pub struct LineFormat {
    patterns: Vec<Pattern>,
    /// All patterns at once: one pass over a line finds which match.
    set: Option<RegexSet>,
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
        let set = if patterns.len() > 1 {
            Some(RegexSet::new(patterns.iter().map(Pattern::as_str)).map_err(|e| e.to_string())?)
        } else {
            None
        };
        Ok(LineFormat {
            patterns,
            set,
            time: TimeFormat::auto(),
            action: "event".into(),
            target: "-".into(),
            weight: 1.0,
        })
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
        self.patterns.iter().all(Pattern::has_time)
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
        let found = match &self.set {
            None => self.patterns[0]
                .regex
                .captures(line)
                .map(|c| (&self.patterns[0], c)),
            Some(set) => set.matches(line).iter().next().and_then(|i| {
                let p = &self.patterns[i];
                p.regex.captures(line).map(|c| (p, c))
            }),
        };
        let Some((p, caps)) = found else {
            return Ok(None);
        };
        self.event(p, &caps, line, years).map(Some)
    }

    fn event<'l>(
        &'l self,
        p: &'l Pattern,
        caps: &Captures<'l>,
        line: &'l str,
        years: &mut Years,
    ) -> Result<ParsedEvent<'l>, String> {
        let group = |i: Option<usize>| i.and_then(|i| caps.get(i)).map(|m| m.as_str());
        let actor = group(Some(p.actor)).unwrap_or_default();
        if actor.is_empty() {
            return Err("the actor group matched nothing".into());
        }
        let ts = match group(p.time) {
            Some(text) => self.time.parse(text, years)?,
            None if p.time.is_some() => return Err("the time group matched nothing".into()),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        };
        let weight = match group(p.weight) {
            Some(text) => match text.trim().parse::<f64>() {
                Ok(w) if w.is_finite() && w >= 0.0 => w,
                _ => return Err(format!("weight {text:?} is not a number >= 0")),
            },
            None => self.weight,
        };
        let field = |i: Option<usize>, literal: &'l Option<String>, default: &'l str| {
            Cow::Borrowed(match i.and_then(|i| caps.get(i)) {
                Some(m) if !m.is_empty() => &line[m.range()],
                _ => literal.as_deref().unwrap_or(default),
            })
        };
        Ok(ParsedEvent {
            actor: Cow::Borrowed(actor),
            action: field(p.action, &p.literal_action, &self.action),
            target: field(p.target, &p.literal_target, &self.target),
            ts,
            weight,
            metadata: Vec::new(),
        })
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
}
