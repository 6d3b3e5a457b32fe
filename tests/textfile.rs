#![cfg(feature = "cli")] // the binary
//! `--metrics-file` and `status --prometheus`: the Prometheus text format, checked by a parser
//! of the exposition format (0.0.4) here, and the file's atomic replacement.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod support;
use support::Fixture;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.demo");

/// The samples of a text in the exposition format: (name, labels) -> value. Panics, saying
/// where, on anything the format does not allow: a sample whose family has no `# TYPE` before
/// it, a bad name or label, a value that is not a number, a missing final newline.
fn parse(text: &str) -> Samples {
    assert!(text.ends_with('\n'), "the text ends with a newline");
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.chars().enumerate().all(|(i, c)| {
                c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit())
            })
    };
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let at = format!("line {}: {line}", n + 1);
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kind, name, what) = (parts.next(), parts.next(), parts.next());
            assert!(name.is_some_and(name_ok), "{at}");
            match kind {
                Some("HELP") => assert!(what.is_some_and(|h| !h.is_empty()), "{at}"),
                Some("TYPE") => {
                    let t = what.unwrap_or_default();
                    assert!(
                        ["counter", "gauge", "histogram", "summary", "untyped"].contains(&t),
                        "{at}"
                    );
                    assert!(
                        typed
                            .insert(name.unwrap().to_string(), t.to_string())
                            .is_none(),
                        "{at}: typed twice"
                    );
                }
                _ => panic!("{at}: an unknown comment"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{at}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("{at}: not a number"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (
                name,
                rest.strip_suffix('}').unwrap_or_else(|| panic!("{at}")),
            ),
            None => (series, ""),
        };
        assert!(name_ok(name), "{at}");
        assert!(typed.contains_key(name), "{at}: no # TYPE before it");
        let mut map = BTreeMap::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (key, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("{at}"));
            assert!(name_ok(key), "{at}: label {key}");
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, c @ ('\\' | '"'))) => value.push(c),
                        _ => panic!("{at}: a bad escape"),
                    },
                    Some((i, '"')) => break i,
                    Some((_, c)) => value.push(c),
                    None => panic!("{at}: an unterminated label"),
                }
            };
            map.insert(key.to_string(), value);
            rest = &after[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
        assert!(
            samples.insert((name.to_string(), map), value).is_none(),
            "{at}: twice"
        );
    }
    samples
}

type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

fn get(s: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let key: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match s.get(&(name.to_string(), key)) {
        Some(v) => *v,
        None => panic!("no {name} {labels:?} in {s:?}"),
    }
}

#[test]
fn the_metrics_file_holds_the_last_run_and_the_runs_in_the_window() {
    let fx = Fixture::new();
    let file = fx.path("job.prom");
    let mut exits = Vec::new();
    for _ in 0..6 {
        let out = fx
            .cmd()
            .args([
                "--config",
                DEMO,
                "--actor",
                "cron:\"backup\"",
                "--metrics-file",
            ])
            .arg(&file)
            .args(["--", "sh", "-c", "exit 3"])
            .output()
            .unwrap();
        exits.push(out.status.code());
    }
    assert_eq!(
        exits,
        [Some(3), Some(3), Some(3), Some(3), Some(3), Some(75)]
    );
    let s = parse(&std::fs::read_to_string(&file).unwrap());
    let actor = ("actor", "cron:\"backup\"");
    assert_eq!(
        get(
            &s,
            "pattern_guard_last_run_decision",
            &[actor, ("decision", "block")]
        ),
        1.0
    );
    assert_eq!(
        get(
            &s,
            "pattern_guard_last_run_decision",
            &[actor, ("decision", "allow")]
        ),
        0.0
    );
    assert_eq!(
        get(&s, "pattern_guard_last_run_exit_status", &[actor]),
        75.0
    );
    assert_eq!(
        get(&s, "pattern_guard_last_run_duration_seconds", &[actor]),
        0.0
    );
    assert_eq!(get(&s, "pattern_guard_last_run_risk", &[actor]), 1.0);
    let runs = |d| {
        get(
            &s,
            "pattern_guard_runs_in_window",
            &[actor, ("decision", d)],
        )
    };
    assert_eq!(
        [runs("allow"), runs("warn"), runs("delay"), runs("block")],
        [3.0, 1.0, 1.0, 1.0]
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((now - get(&s, "pattern_guard_last_run_timestamp_seconds", &[actor])).abs() < 60.0);
}

#[test]
fn metrics_file_is_read_from_the_config_and_a_run_that_ran_has_its_exit_and_duration() {
    let fx = Fixture::new();
    let file = fx.path("from-config.prom");
    let config = fx.write(
        "guard.toml",
        format!("[guard]\nmetrics_file = {:?}\n", file.display().to_string()).as_bytes(),
    );
    let out = fx
        .cmd()
        .arg("--config")
        .arg(&config)
        .args(["--", "sh", "-c", "sleep 0.2; exit 4"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let s = parse(&std::fs::read_to_string(&file).unwrap());
    let actor = ("actor", "cli");
    assert_eq!(get(&s, "pattern_guard_last_run_exit_status", &[actor]), 4.0);
    assert!(get(&s, "pattern_guard_last_run_duration_seconds", &[actor]) >= 0.2);
    assert_eq!(
        get(
            &s,
            "pattern_guard_runs_in_window",
            &[actor, ("decision", "allow")]
        ),
        1.0
    );
    // [output] refuses it: it steers runs, not their output.
    let bad = fx.write("bad.toml", b"[output]\nmetrics_file = \"x.prom\"\n");
    let out = fx
        .cmd()
        .arg("--config")
        .arg(&bad)
        .args(["--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn a_reader_never_sees_a_partial_file_during_a_thousand_runs() {
    let fx = Fixture::new();
    let file = fx.path("busy.prom");
    let config = fx.write(
        "open.toml",
        b"[guard]\nburst_max_events = 100000\nrepetition_max_count = 100000\nweight_max_total = 1e12\n",
    );
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (done, file) = (Arc::clone(&done), file.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !done.load(Ordering::Relaxed) {
                if let Ok(text) = std::fs::read_to_string(&file) {
                    let s = parse(&text);
                    assert_eq!(s.len(), 12, "a whole file: {text}");
                    reads += 1;
                }
            }
            reads
        })
    };
    let out = fx
        .cmd()
        .arg("--config")
        .arg(&config)
        .arg("--metrics-file")
        .arg(&file)
        .args(["--repeat", "1000", "--", "true"])
        .output()
        .unwrap();
    done.store(true, Ordering::Relaxed);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reads = reader.join().unwrap();
    assert!(reads > 0, "the reader saw the file");
    let s = parse(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(
        get(
            &s,
            "pattern_guard_runs_in_window",
            &[("actor", "cli"), ("decision", "allow")]
        ),
        1000.0
    );
    let leftovers: Vec<_> = std::fs::read_dir(fx.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn status_prometheus_parses_and_shows_every_actor() {
    let fx = Fixture::new();
    for actor in ["a", "b\\c"] {
        for _ in 0..4 {
            fx.cmd()
                .args(["--config", DEMO, "--actor", actor, "--", "true"])
                .output()
                .unwrap();
        }
    }
    let out = fx
        .cmd()
        .args(["--config", DEMO, "status", "--prometheus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let s = parse(&String::from_utf8(out.stdout).unwrap());
    for actor in ["a", "b\\c"] {
        assert_eq!(
            get(&s, "pattern_guard_events_in_window", &[("actor", actor)]),
            4.0
        );
        assert_eq!(
            get(
                &s,
                "pattern_guard_next_run_decision",
                &[("actor", actor), ("decision", "delay")]
            ),
            1.0
        );
        assert_eq!(get(&s, "pattern_guard_running", &[("actor", actor)]), 0.0);
    }
}

/// `promtool` (Debian's `prometheus` package; scripts/test.sh installs it when missing).
fn promtool(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is needed: apt-get install prometheus (scripts/test.sh does)");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

#[test]
fn promtool_accepts_the_files_and_the_documented_alert_rules() {
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/alerts.yml");
    let out = promtool(&["check", "rules", rules], None);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let fx = Fixture::new();
    let file = fx.path("job.prom");
    for _ in 0..6 {
        fx.cmd()
            .args(["--config", DEMO, "--metrics-file"])
            .arg(&file)
            .args(["--", "true"])
            .output()
            .unwrap();
    }
    let status = fx
        .cmd()
        .args(["--config", DEMO, "status", "--prometheus"])
        .output()
        .unwrap();
    for text in [
        std::fs::read_to_string(&file).unwrap(),
        String::from_utf8(status.stdout).unwrap(),
    ] {
        let out = promtool(&["check", "metrics"], Some(&text));
        assert!(
            out.status.success(),
            "{text}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
