//! The documentation is kept in step with the code.
//!
//! `docs/CONFIG.md` holds a table generated from `pattern_guard::KEYS` between two markers. When a
//! key is added or changed, this test fails and prints the fresh table; `UPDATE_DOCS=1 cargo test
//! --test docs` writes it in place.

use std::fmt::Write;

use pattern_guard::{Config, KEYS, OUTPUT_DEFAULTS};

const BEGIN: &str = "<!-- keys:begin (generated from pattern_guard::KEYS; UPDATE_DOCS=1 cargo test --test docs) -->";
const END: &str = "<!-- keys:end -->";
const OUTPUT_BEGIN: &str = "<!-- output-defaults:begin (generated from pattern_guard::OUTPUT_DEFAULTS; UPDATE_DOCS=1 cargo test --test docs) -->";
const OUTPUT_END: &str = "<!-- output-defaults:end -->";

fn table() -> String {
    let mut out =
        String::from("| key | type | default | per actor | meaning |\n|---|---|---|---|---|\n");
    for k in KEYS {
        let doc = k.doc.split_whitespace().collect::<Vec<_>>().join(" ");
        let _ = writeln!(
            out,
            "| `{}` | {} | `{}` | {} | {} |",
            k.name,
            k.range.to_string().replace('|', "\\|"),
            k.default,
            if k.per_actor { "yes" } else { "no" },
            doc.replace('|', "\\|")
        );
    }
    out
}

/// The `[output]` defaults that differ from `[guard]`'s, and why.
fn output_table() -> String {
    let mut out =
        String::from("| key | `[output]` default | `[guard]` default | why |\n|---|---|---|---|\n");
    for d in OUTPUT_DEFAULTS {
        let guard = KEYS.iter().find(|k| k.name == d.key).expect(d.key).default;
        let why = d.why.split_whitespace().collect::<Vec<_>>().join(" ");
        let _ = writeln!(
            out,
            "| `{}` | `{}` | `{guard}` | {} |",
            d.key,
            d.value,
            why.replace('|', "\\|")
        );
    }
    out
}

/// Checks (or with `UPDATE_DOCS`, rewrites) the text between two markers of docs/CONFIG.md.
fn check_generated(begin: &str, end: &str, fresh: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/CONFIG.md");
    let text = std::fs::read_to_string(path).expect("docs/CONFIG.md exists");
    let (start, stop) = (
        text.find(begin).expect("begin marker") + begin.len(),
        text.find(end).expect("end marker"),
    );
    let fresh = format!("\n{fresh}");
    if text[start..stop] != fresh {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(
                path,
                format!("{}{}{}", &text[..start], fresh, &text[stop..]),
            )
            .unwrap();
        } else {
            panic!("docs/CONFIG.md is out of date; run UPDATE_DOCS=1 cargo test --test docs. Fresh table:\n{fresh}");
        }
    }
}

#[test]
fn config_md_lists_every_key_as_the_code_defines_it() {
    check_generated(BEGIN, END, &table());
}

#[test]
fn config_md_lists_the_output_defaults_as_the_code_defines_them() {
    check_generated(OUTPUT_BEGIN, OUTPUT_END, &output_table());
}

#[test]
fn every_documented_output_default_is_the_real_default() {
    let config = Config::default();
    for d in OUTPUT_DEFAULTS {
        let text = format!("[output]\n{} = {}\n", d.key, d.value);
        let parsed = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{}: {e}", d.key));
        assert_eq!(parsed, config, "documented [output] default of {}", d.key);
    }
}

#[test]
fn every_documented_default_is_the_real_default() {
    for k in KEYS.iter().filter(|k| k.default != "unset") {
        let text = format!("[guard]\n{} = {}\n", k.name, k.default);
        let parsed = Config::from_toml_str(&text).unwrap_or_else(|e| panic!("{}: {e}", k.name));
        assert_eq!(
            parsed,
            Config::default(),
            "documented default of {}",
            k.name
        );
    }
}

#[test]
fn every_key_is_accepted_in_guard_and_per_actor_where_documented() {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.example"))
            .unwrap();
    Config::parse(&example, "guard.toml.example").expect("the example config is valid");
    Config::from_path(concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.demo"))
        .expect("the demo config is valid");
    for k in KEYS {
        let value = match k.default {
            "unset" if k.name == "regularity_max_cv" => "0.1",
            "unset" if k.name == "max_events_per_actor" => "1000",
            "unset" if k.name == "metrics_file" => "\"/var/lib/node_exporter/textfile/job.prom\"",
            "unset" => "5",
            d => d,
        };
        let text = format!("[guard.actors.\"x\"]\n{} = {}\n", k.name, value);
        assert_eq!(
            Config::from_toml_str(&text).is_ok(),
            k.per_actor,
            "{} per actor",
            k.name
        );
        assert!(
            example.contains(k.name),
            "guard.toml.example mentions {}",
            k.name
        );
    }
}

/// Every fixed bound the docs print is the bound validation enforces: a value at a closed end is
/// accepted, at an open end or just outside refused, naming the key.
#[test]
fn every_documented_range_is_the_enforced_range() {
    let verdict = |key: &str, value: String| -> bool {
        let text = format!("[guard]\n{key} = {value}\n");
        match Config::from_toml_str(&text) {
            Ok(_) => true,
            // A value this key accepts may still upset a key bounded by it (warn_below = 1 is
            // above the default delay_below): only an error naming this key refuses it.
            Err(e) => e.key.as_deref() != Some(&format!("guard.{key}")),
        }
    };
    let mut probed = 0;
    for k in KEYS {
        let integer = k.range.type_name() == "integer";
        let show = |v: f64| {
            if integer {
                format!("{}", v as i64)
            } else {
                format!("{v:?}")
            }
        };
        let step = |v: f64| {
            if integer {
                1.0
            } else {
                (v.abs() * 1e-6).max(1e-3)
            }
        };
        if let Some((min, closed)) = k.range.min_value() {
            assert_eq!(
                verdict(k.name, show(min)),
                closed,
                "{} = {min} ({})",
                k.name,
                k.range
            );
            if min > 0.0 || !integer {
                assert!(
                    !verdict(k.name, show(min - step(min))),
                    "{} below {min}",
                    k.name
                );
            }
            assert!(
                verdict(k.name, show(min + step(min))),
                "{} above {min}",
                k.name
            );
            probed += 1;
        }
        if let Some((max, closed)) = k.range.max_value() {
            assert_eq!(
                verdict(k.name, show(max)),
                closed,
                "{} = {max} ({})",
                k.name,
                k.range
            );
            assert!(
                !verdict(k.name, show(max + step(max))),
                "{} above {max}",
                k.name
            );
            assert!(
                verdict(k.name, show(max - step(max))),
                "{} below {max}",
                k.name
            );
            probed += 1;
        }
    }
    assert!(probed >= 40, "probed only {probed} bounds");
}
