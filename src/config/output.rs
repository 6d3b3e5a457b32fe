//! The `[output]` section: the settings of the guard that watches a command's output (the CLI's
//! `--watch-output`). It takes the same keys as `[guard]`, per actor too
//! (`[output.actors."ID"]`), but its built-in defaults are chosen for lines of output rather than
//! runs: [`OUTPUT_DEFAULTS`] lists each that differs and why, and is the one place they are set
//! (the defaults are read from it, `docs/CONFIG.md` prints it).

use super::keys::{Combine, Settings};

/// A key whose `[output]` default differs from its `[guard]` default.
#[derive(Debug, Clone, Copy)]
pub struct OutputDefault {
    /// The key.
    pub key: &'static str,
    /// Its `[output]` default, as written in TOML (a test reads it and checks it is `set`'s).
    pub value: &'static str,
    /// Why.
    pub why: &'static str,
    /// Sets it (so the defaults are built without reading TOML at start-up).
    set: fn(&mut Settings),
}

/// One entry per key: `key = typed value, "as TOML", "why";`.
macro_rules! output_defaults {
    ($( $key:ident = $value:expr, $text:literal, $why:literal; )+) => {
        /// The `[output]` defaults that differ from `[guard]`'s.
        pub const OUTPUT_DEFAULTS: &[OutputDefault] = &[
            $( OutputDefault {
                key: stringify!($key),
                value: $text,
                why: $why,
                set: |s| s.$key = $value,
            }, )+
        ];
    };
}

output_defaults! {
    window_secs = 60.0, "60",
        "a loop shows within a minute; a line seen once a minute is not a storm";
    repetition_max_count = 200, "200",
        "the same line (after masking numbers, ids and times) up to 200 times a minute is \
         normal chatter; 260 warns, 320 delays, 370 stops the run";
    risk_combine = Combine::WeightedSum, "\"weighted_sum\"",
        "with the weights below, only repetition counts: a fast stream of varied lines \
         (a build, `find /`) is never a loop, however many lines it prints";
    risk_weight_burst = 0.0, "0.0", "lines per minute alone say nothing about a loop";
    risk_weight_hopping = 0.0, "0.0", "many distinct lines are the opposite of a loop";
    risk_weight_weight = 0.0, "0.0", "bytes of output alone say nothing about a loop";
    burst_max_events = 10_000, "10000",
        "reported only (weight 0); high so that it does not read as fired";
    hopping_max_targets = 20_000, "20000",
        "reported only (weight 0); as many as the lines remembered";
    weight_max_total = 1e12, "1e12", "reported only (weight 0)";
    max_events_per_actor = Some(20_000), "20000",
        "the memory bound: at most 20000 lines are remembered, as hashes (32 bytes each, plus \
         their counts), never as text; at this cap the whole watch adds about 2.2 MB \
         (scripts/bench-watch.sh measures it)";
    escalation_max_level = 0, "0",
        "the count itself speaks: a loop's lines are checked thousands of times a second, and \
         escalating on each would stop a loop long before its count says so";
    delay_secs = 2.0, "2.0",
        "throttling: the output is not read for 2 s, so the command blocks on its next write";
    delay_max_secs = 30.0, "30.0", "a throttle, not a sleep";
}

/// Keys that steer runs, not output: refused in `[output]`.
pub const RUN_ONLY_KEYS: &[&str] = &[
    "watch_output",
    "max_runtime_secs",
    "max_runtime",
    "runtime_min_runs",
    "runtime_factor",
    "runtime_floor_secs",
    "kill_grace_secs",
    "max_concurrent",
    "on_overlap",
    "metrics_file",
];

/// The `[output]` defaults: `[guard]`'s, with [`OUTPUT_DEFAULTS`] applied.
pub fn output_defaults() -> Settings {
    let mut settings = Settings::default();
    for d in OUTPUT_DEFAULTS {
        (d.set)(&mut settings);
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KEYS;

    #[test]
    fn every_output_default_is_a_valid_key_and_differs_from_guard() {
        // Each entry's TOML text sets what its `set` sets.
        for d in OUTPUT_DEFAULTS {
            let raw: super::super::keys::RawTable =
                toml::from_str(&format!("{} = {}", d.key, d.value)).unwrap();
            let mut set = Settings::default();
            (d.set)(&mut set);
            assert_eq!(
                raw.overrides().0.apply_to(&Settings::default()),
                set,
                "{}",
                d.key
            );
        }
        let output = output_defaults();
        assert!(super::super::keys::check_ranges(&output).is_ok());
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
