//! What every command shares to speak: messages on stderr at the verbosity asked for, the
//! decision's reasons in words, durations as people write them, and an assessment as JSON.

use std::time::Duration;

use pattern_guard::{Assessment, Decision};
use serde_json::{json, Value};

/// Messages on stderr, prefixed `pattern-guard: `, at the level `-q` leaves.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    quiet: u8,
}

impl Printer {
    /// `quiet`: how many `-q` were given.
    pub fn new(quiet: u8) -> Self {
        Printer { quiet }
    }

    /// Whether `-q` was given: progress and notes stay silent.
    pub fn is_quiet(self) -> bool {
        self.quiet > 0
    }

    /// What is worth hearing when all goes well (warnings, delays, waits); silenced by `-q`.
    pub fn note(self, message: impl std::fmt::Display) {
        if self.quiet == 0 {
            say(message);
        }
    }

    /// What the user must hear (a refusal, a block); silenced only by `-qq`.
    pub fn alert(self, message: impl std::fmt::Display) {
        if self.quiet < 2 {
            say(message);
        }
    }

    /// A command's own result or an error: always printed. A method all the same, so a command
    /// that holds a printer says everything through it. (The supervisor's runaway and spawn
    /// messages, which `-q` never hides either, print directly: it holds no printer.)
    #[allow(clippy::unused_self)]
    pub fn always(self, message: impl std::fmt::Display) {
        say(message);
    }
}

/// Writes `pattern-guard: MESSAGE` and a newline on stderr in one write, so that it is not
/// split by the command's own stderr passing through at the same time (`--watch-output`).
pub fn say(message: impl std::fmt::Display) {
    use std::io::Write;
    let line = format!("pattern-guard: {message}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The detectors that fired, highest risk first, in words.
pub fn reasons(a: &Assessment) -> String {
    let r: Vec<String> = a.reasons().iter().map(ToString::to_string).collect();
    if r.is_empty() {
        "no detector fired".into()
    } else {
        r.join("; ")
    }
}

/// A delay decision's wait in seconds, for JSON output.
pub fn delay_secs(d: Decision) -> Option<f64> {
    match d {
        Decision::Delay(d) => Some(d.as_secs_f64()),
        _ => None,
    }
}

/// `check --json`'s object, also each actor's `next_run` in `status --json`.
pub fn assessment_json(actor: &str, a: &Assessment) -> Value {
    json!({
        "actor": actor,
        "decision": a.decision.name(),
        "delay_secs": delay_secs(a.decision),
        "risk": a.risk,
        "raw_risk": a.raw_risk,
        "escalation_level": a.escalation_level,
        "retry_after_secs": a.retry_after.map(|d| d.as_secs_f64()),
        "readings": a.readings.iter().map(|r| json!({
            "detector": r.detector.name(),
            "observed": r.observed,
            "limit": r.limit,
            "risk": r.risk,
        })).collect::<Vec<_>>(),
    })
}

/// `56s`, `2m5s`, `1h30m`, `250ms`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 && ms > 0 && d.as_secs() == 0 {
        return format!("{ms}ms");
    }
    let mut secs = d.as_secs() + u64::from(d.subsec_millis() >= 500);
    let (h, m) = (secs / 3600, (secs % 3600) / 60);
    secs %= 60;
    match (h, m, secs) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::human;
    use std::time::Duration;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(human(Duration::from_secs(56)), "56s");
        assert_eq!(human(Duration::from_secs(125)), "2m5s");
        assert_eq!(human(Duration::from_secs(5400)), "1h30m");
        assert_eq!(human(Duration::from_millis(250)), "250ms");
        assert_eq!(human(Duration::from_millis(1500)), "2s");
        assert_eq!(human(Duration::ZERO), "0s");
    }
}
