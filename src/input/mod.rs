//! Events from the logs people already have (cargo feature `input`): JSON Lines, the combined
//! (or common) access-log format, any format as regexes with named groups ([`LineFormat`]),
//! presets for sshd, nginx and Apache error logs ([`Preset`]), and the time formats they use
//! ([`time`]). Every parser borrows from the line: nothing is allocated for a well-formed event.
//! `pattern-guard replay` reads its input with these; a backend can use them to feed a guard
//! from a log it tails.
//!
//! # JSON Lines
//! One object per line:
//! ```json
//! {"actor": "10.0.0.7", "action": "GET", "target": "/login", "timestamp": "2026-11-24T10:00:00Z",
//!  "weight": 1, "metadata": {"status": "200"}}
//! ```
//! `actor`, `action`, `target` and `timestamp` are required; `weight` (default 1) and `metadata`
//! (an object; non-string values are kept as their JSON text) are optional; other fields are
//! ignored. `timestamp` is RFC 3339 (`2026-11-24T10:00:00Z`, `2026-11-24T11:00:00.250+01:00`; a
//! space may stand for the `T`) or a number of seconds since the Unix epoch; a number of 10^11 or
//! more is taken as milliseconds (10^11 seconds is the year 5138).
//!
//! Flat objects (string fields without escapes, integers, `true`, `false`, `null`) are read by
//! a small hand-written reader; anything else, and every error, by serde (`serde_json`), and a
//! test checks the two read every line alike.
//!
//! # Combined log format
//! What Apache (`LogFormat "%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\""`) and
//! nginx (`log_format combined`) write; the common log format (without referer and user agent)
//! is read too:
//! ```text
//! 203.0.113.9 - frank [24/Nov/2026:10:00:00 +0000] "GET /login?next=/ HTTP/1.1" 200 2326 "-" "curl/8.5"
//! ```
//! The actor is the client address, the action the method, the target the path (with its query
//! string unless dropped), the time the bracketed timestamp; the weight is 1, or the response size
//! in bytes when asked (`-` counts 0).
//!
//! ```
//! use pattern_guard::input::parse_jsonl;
//! use pattern_guard::Guard;
//!
//! let line = r#"{"actor": "10.0.0.7", "action": "GET", "target": "/login", "timestamp": 1700000000}"#;
//! let parsed = parse_jsonl(line).expect("a JSON Lines event");
//! let guard = Guard::new();
//! let decision = guard.check(&parsed.to_event());
//! assert_eq!(decision.name(), "allow");
//! ```

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use crate::event::Event;

mod combined;
mod flat_json;
mod jsonl;
pub mod pattern;
pub mod presets;
pub mod time;

pub use combined::{parse_combined, CombinedOptions};
pub use jsonl::parse_jsonl;
pub use pattern::{LineFormat, Pattern};
pub use presets::{recognize, Preset, Recognized};
pub use time::{TimeFormat, Years};

/// One event read from a line.
#[derive(Debug, PartialEq)]
pub struct ParsedEvent<'a> {
    /// Who acted.
    pub actor: Cow<'a, str>,
    /// What was done.
    pub action: Cow<'a, str>,
    /// What it was done to.
    pub target: Cow<'a, str>,
    /// When, in nanoseconds since the Unix epoch.
    pub ts: u64,
    /// Its cost (1 unless the line says otherwise).
    pub weight: f64,
    /// Tags carried along into logs.
    pub metadata: Vec<(String, String)>,
}

impl ParsedEvent<'_> {
    /// The engine's event, stamped with the line's own time: what `pattern-guard replay` and
    /// `pattern-guard check --at` both check.
    pub fn to_event(&self) -> Event<'_> {
        let mut event = Event::new(
            &*self.actor,
            &*self.action,
            &*self.target,
            UNIX_EPOCH + Duration::from_nanos(self.ts),
        )
        .with_weight(self.weight);
        if !self.metadata.is_empty() {
            event = event.with_metadata(self.metadata.iter().cloned());
        }
        event
    }
}
