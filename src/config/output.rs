//! The `[output]` section: the settings of the guard that watches a command's output (the CLI's
//! `--watch-output`). It takes the same keys as `[guard]`, per actor too
//! (`[output.actors."ID"]`), but its built-in defaults are chosen for lines of output rather than
//! runs: [`OUTPUT_DEFAULTS`] lists each that differs and why, and is the one place they are set
//! (the defaults are read from it, `docs/CONFIG.md` prints it).

use std::fmt::Write;
use std::sync::OnceLock;

use super::keys::{RawTable, Settings};

/// A key whose `[output]` default differs from its `[guard]` default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputDefault {
    /// The key.
    pub key: &'static str,
    /// Its `[output]` default, as written in TOML.
    pub value: &'static str,
    /// Why.
    pub why: &'static str,
}

/// The `[output]` defaults that differ from `[guard]`'s.
pub const OUTPUT_DEFAULTS: &[OutputDefault] = &[
    OutputDefault {
        key: "window_secs",
        value: "60",
        why: "a loop shows within a minute; a line seen once a minute is not a storm",
    },
    OutputDefault {
        key: "repetition_max_count",
        value: "200",
        why: "the same line (after masking numbers, ids and times) up to 200 times a minute is \
              normal chatter; 260 warns, 320 delays, 370 stops the run",
    },
    OutputDefault {
        key: "risk_combine",
        value: "\"weighted_sum\"",
        why: "with the weights below, only repetition counts: a fast stream of varied lines \
              (a build, `find /`) is never a loop, however many lines it prints",
    },
    OutputDefault {
        key: "risk_weight_burst",
        value: "0.0",
        why: "lines per minute alone say nothing about a loop",
    },
    OutputDefault {
        key: "risk_weight_hopping",
        value: "0.0",
        why: "many distinct lines are the opposite of a loop",
    },
    OutputDefault {
        key: "risk_weight_weight",
        value: "0.0",
        why: "bytes of output alone say nothing about a loop",
    },
    OutputDefault {
        key: "burst_max_events",
        value: "10000",
        why: "reported only (weight 0); high so that it does not read as fired",
    },
    OutputDefault {
        key: "hopping_max_targets",
        value: "20000",
        why: "reported only (weight 0); as many as the lines remembered",
    },
    OutputDefault {
        key: "weight_max_total",
        value: "1e12",
        why: "reported only (weight 0)",
    },
    OutputDefault {
        key: "max_events_per_actor",
        value: "20000",
        why:
            "the memory bound: at most 20000 lines are remembered, as hashes (32 bytes each, plus \
              their counts), never as text; at this cap the whole watch adds about 2.2 MB \
              (scripts/bench-watch.sh measures it)",
    },
    OutputDefault {
        key: "escalation_max_level",
        value: "0",
        why:
            "the count itself speaks: a loop's lines are checked thousands of times a second, and \
              escalating on each would stop a loop long before its count says so",
    },
    OutputDefault {
        key: "delay_secs",
        value: "2.0",
        why: "throttling: the output is not read for 2 s, so the command blocks on its next write",
    },
    OutputDefault {
        key: "delay_max_secs",
        value: "30.0",
        why: "a throttle, not a sleep",
    },
];

/// Keys that steer runs, not output: refused in `[output]`.
pub const RUN_ONLY_KEYS: &[&str] = &[
    "watch_output",
    "max_runtime_secs",
    "kill_grace_secs",
    "max_concurrent",
    "on_overlap",
];

/// The `[output]` defaults: `[guard]`'s, with [`OUTPUT_DEFAULTS`] applied.
///
/// # Panics
/// Never in practice: [`OUTPUT_DEFAULTS`] is constant, and a unit test reads it.
pub fn output_defaults() -> &'static Settings {
    static DEFAULTS: OnceLock<Settings> = OnceLock::new();
    DEFAULTS.get_or_init(|| {
        let text = OUTPUT_DEFAULTS.iter().fold(String::new(), |mut text, d| {
            let _ = writeln!(text, "{} = {}", d.key, d.value);
            text
        });
        // The table is constant and a unit test parses it: this cannot fail at run time.
        let raw: RawTable = toml::from_str(&text).expect("OUTPUT_DEFAULTS is valid TOML");
        raw.overrides().0.apply_to(&Settings::default())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KEYS;

    #[test]
    fn every_output_default_is_a_valid_key_and_differs_from_guard() {
        let output = output_defaults();
        assert!(super::super::keys::check_ranges(output).is_ok());
        for d in OUTPUT_DEFAULTS {
            let key = KEYS.iter().find(|k| k.name == d.key).expect(d.key);
            assert_ne!(key.default, d.value, "{} differs from [guard]", d.key);
            assert!(!RUN_ONLY_KEYS.contains(&d.key));
        }
        assert_eq!(output.window_secs, 60.0);
        assert_eq!(output.repetition_max_count, 200);
        assert_eq!(output.max_events(), 20_000);
        assert_eq!(output.escalation_max_level, 0);
    }
}
