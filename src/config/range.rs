//! The values each configuration key accepts, declared once beside the key (in the `settings!`
//! table) and used both to validate a configuration and to document it (`docs/CONFIG.md`'s key
//! table prints [`Range`]'s `Display`; a test probes every documented bound).

use std::fmt;

/// One end of a [`Range`].
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Bound {
    /// A fixed value.
    Value(f64),
    /// Another key's value (in the same actor's effective settings).
    Key(&'static str),
    /// Twice another key's value.
    Twice(&'static str),
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Value(v) => write!(f, "{v}"),
            Bound::Key(k) => f.write_str(k),
            Bound::Twice(k) => write!(f, "2 * {k}"),
        }
    }
}

/// The values a key accepts: its TOML type and, for numbers, its bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    kind: Kind,
    /// The lowest value and whether it is itself allowed.
    min: Option<(Bound, bool)>,
    /// The highest value and whether it is itself allowed.
    max: Option<(Bound, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Integer,
    Number,
    Choice(&'static [&'static str]),
    Boolean,
    Path,
}

impl Range {
    /// An integer of at least `min`.
    pub const fn at_least(min: u64) -> Range {
        Range::integer(Bound::Value(min as f64), None)
    }

    /// An integer from `min` up to `max`, both included.
    pub const fn integer(min: Bound, max: Option<Bound>) -> Range {
        Range {
            kind: Kind::Integer,
            min: Some((min, true)),
            max: match max {
                Some(b) => Some((b, true)),
                None => None,
            },
        }
    }

    /// A number from `min` (included when `closed`) with no upper bound.
    pub const fn number_from(min: f64, closed: bool) -> Range {
        Range {
            kind: Kind::Number,
            min: Some((Bound::Value(min), closed)),
            max: None,
        }
    }

    /// A number between `min` and `max`; `closed` says which ends are included.
    pub const fn number(min: Bound, max: Bound, closed: (bool, bool)) -> Range {
        Range {
            kind: Kind::Number,
            min: Some((min, closed.0)),
            max: Some((max, closed.1)),
        }
    }

    /// One of these strings (checked by the TOML reader).
    pub const fn choice(names: &'static [&'static str]) -> Range {
        Range {
            kind: Kind::Choice(names),
            min: None,
            max: None,
        }
    }

    /// `true` or `false` (checked by the TOML reader).
    pub const fn boolean() -> Range {
        Range {
            kind: Kind::Boolean,
            min: None,
            max: None,
        }
    }

    /// The TOML type: `integer`, `number`, `string` or `boolean`.
    /// A file path (no bounds).
    pub const fn path() -> Range {
        Range {
            kind: Kind::Path,
            min: None,
            max: None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::Choice(_) | Kind::Path => "string",
            Kind::Boolean => "boolean",
        }
    }

    /// The lowest value, when it is a fixed number, and whether it is itself allowed.
    pub fn min_value(&self) -> Option<(f64, bool)> {
        match self.min {
            Some((Bound::Value(v), closed)) => Some((v, closed)),
            _ => None,
        }
    }

    /// The highest value, when it is a fixed number, and whether it is itself allowed.
    pub fn max_value(&self) -> Option<(f64, bool)> {
        match self.max {
            Some((Bound::Value(v), closed)) => Some((v, closed)),
            _ => None,
        }
    }

    /// The bounds alone: `>= 1`, `in (0, 31536000]`, `in [allow_below, 1]`.
    fn bounds(&self) -> String {
        match (self.min, self.max) {
            (Some((lo, lc)), Some((hi, hc))) => format!(
                "in {}{lo}, {hi}{}",
                if lc { '[' } else { '(' },
                if hc { ']' } else { ')' }
            ),
            (Some((lo, lc)), None) => format!("{} {lo}", if lc { ">=" } else { ">" }),
            (None, Some((hi, hc))) => format!("{} {hi}", if hc { "<=" } else { "<" }),
            (None, None) => String::new(),
        }
    }

    /// Checks `value`; `other` gives another key's value for [`Bound::Key`] and
    /// [`Bound::Twice`]. `Err` says what was expected, in words for the user.
    pub(crate) fn check(&self, value: f64, other: impl Fn(&str) -> f64) -> Result<(), String> {
        if !value.is_finite() {
            return Err(format!("must be a finite number, found {value}"));
        }
        let resolve = |b: Bound| match b {
            Bound::Value(v) => v,
            Bound::Key(k) => other(k),
            Bound::Twice(k) => 2.0 * other(k),
        };
        let below = self.min.is_some_and(|(b, closed)| {
            let lo = resolve(b);
            value < lo || (!closed && value == lo)
        });
        let above = self.max.is_some_and(|(b, closed)| {
            let hi = resolve(b);
            value > hi || (!closed && value == hi)
        });
        let violated = match (below, above) {
            (true, _) => self.min,
            (_, true) => self.max,
            _ => return Ok(()),
        };
        let is_min = below;
        Err(match violated {
            Some((Bound::Key(k), closed)) => {
                let op = match (is_min, closed) {
                    (true, true) => ">=",
                    (true, false) => ">",
                    (false, true) => "<=",
                    (false, false) => "<",
                };
                format!(
                    "out of order with {k}: must be {op} {k} ({}), found {value}",
                    other(k)
                )
            }
            Some((Bound::Twice(k), _)) => format!(
                "must be at least 2 * {k} ({}), found {value}; raise it or lower {k}",
                2.0 * other(k)
            ),
            Some((bound, _)) if self.kind == Kind::Integer => {
                let word = if is_min { "least" } else { "most" };
                format!("must be at {word} {}, found {value}", resolve(bound))
            }
            _ => format!("must be {}, found {value}", self.bounds()),
        })
    }
}

impl fmt::Display for Range {
    /// As `docs/CONFIG.md` shows it: `number in (0, 31536000]`, `"max" | "weighted_sum"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Kind::Choice(names) = self.kind {
            let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
            return f.write_str(&quoted.join(" | "));
        }
        if let Kind::Boolean = self.kind {
            return f.write_str("boolean");
        }
        if let Kind::Path = self.kind {
            return f.write_str("path");
        }
        write!(f, "{} {}", self.type_name(), self.bounds())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> f64 {
        unreachable!()
    }

    #[test]
    fn ranges_read_as_the_docs_print_them() {
        assert_eq!(Range::at_least(1).to_string(), "integer >= 1");
        let secs = Range::number(Bound::Value(0.0), Bound::Value(31_536_000.0), (false, true));
        assert_eq!(secs.to_string(), "number in (0, 31536000]");
        assert_eq!(Range::number_from(0.0, false).to_string(), "number > 0");
        let band = Range::number(Bound::Key("allow_below"), Bound::Value(1.0), (true, true));
        assert_eq!(band.to_string(), "number in [allow_below, 1]");
        assert_eq!(
            Range::choice(&["max", "weighted_sum"]).to_string(),
            "\"max\" | \"weighted_sum\""
        );
    }

    #[test]
    fn checks_honour_open_and_closed_ends() {
        let r = Range::number(Bound::Value(0.0), Bound::Value(1.0), (true, false));
        assert!(r.check(0.0, none).is_ok());
        assert!(r.check(0.5, none).is_ok());
        assert_eq!(
            r.check(1.0, none).unwrap_err(),
            "must be in [0, 1), found 1"
        );
        assert_eq!(
            r.check(-0.1, none).unwrap_err(),
            "must be in [0, 1), found -0.1"
        );
        assert_eq!(
            r.check(f64::NAN, none).unwrap_err(),
            "must be a finite number, found NaN"
        );
        assert_eq!(
            Range::at_least(1).check(0.0, none).unwrap_err(),
            "must be at least 1, found 0"
        );
        let level = Range::integer(Bound::Value(0.0), Some(Bound::Value(10.0)));
        assert_eq!(
            level.check(11.0, none).unwrap_err(),
            "must be at most 10, found 11"
        );
    }

    #[test]
    fn bounds_from_other_keys_name_them() {
        let band = Range::number(Bound::Key("allow_below"), Bound::Value(1.0), (true, true));
        let e = band.check(0.2, |_| 0.3).unwrap_err();
        assert_eq!(
            e,
            "out of order with allow_below: must be >= allow_below (0.3), found 0.2"
        );
        let cap = Range::integer(Bound::Twice("burst_max_events"), None);
        let e = cap.check(150.0, |_| 100.0).unwrap_err();
        assert!(
            e.starts_with("must be at least 2 * burst_max_events (200)"),
            "{e}"
        );
    }
}
