//! The documentation is kept in step with the code.
//!
//! `docs/CONFIG.md` holds a table generated from `pattern_guard::KEYS` between two markers. When a
//! key is added or changed, this test fails and prints the fresh table; `UPDATE_DOCS=1 cargo test
//! --test docs` writes it in place.

use pattern_guard::{Config, KEYS};

const BEGIN: &str = "<!-- keys:begin (generated from pattern_guard::KEYS; UPDATE_DOCS=1 cargo test --test docs) -->";
const END: &str = "<!-- keys:end -->";

fn table() -> String {
    let mut out =
        String::from("| key | type | default | per actor | meaning |\n|---|---|---|---|---|\n");
    for k in KEYS {
        let doc = k.doc.split_whitespace().collect::<Vec<_>>().join(" ");
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} | {} |\n",
            k.name,
            k.kind.replace('|', "\\|"),
            k.default,
            if k.per_actor { "yes" } else { "no" },
            doc.replace('|', "\\|")
        ));
    }
    out
}

#[test]
fn config_md_lists_every_key_as_the_code_defines_it() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/CONFIG.md");
    let text = std::fs::read_to_string(path).expect("docs/CONFIG.md exists");
    let (start, end) = (
        text.find(BEGIN).expect("begin marker") + BEGIN.len(),
        text.find(END).expect("end marker"),
    );
    let fresh = format!("\n{}", table());
    if text[start..end] != fresh {
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(path, format!("{}{}{}", &text[..start], fresh, &text[end..])).unwrap();
        } else {
            panic!("docs/CONFIG.md is out of date; run UPDATE_DOCS=1 cargo test --test docs. Fresh table:\n{fresh}");
        }
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
