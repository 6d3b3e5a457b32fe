#![cfg(feature = "cli")] // runs the binary, which needs the `cli` feature
//! `pattern-guard replay` through the real binary, on small handwritten inputs.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::process::{Command as Std, Stdio};
use std::time::Duration;

use predicates::prelude::*;
use serde_json::Value;

mod support;
use support::Fixture;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.demo");
const T0: u64 = 1_795_514_400; // 2026-11-24T10:00:00Z

impl Fixture {
    /// `replay ARGS --json`, parsed; asserts success.
    fn summary(&self, args: &[&str]) -> Value {
        let out = self
            .cmd()
            .args(["--config", DEMO, "replay", "--json"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn jsonl(actor: &str, target: &str, secs: u64) -> String {
    format!(r#"{{"actor":"{actor}","action":"run","target":"{target}","timestamp":{secs}}}"#)
}

fn decisions(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_demo_config_over_eight_events_one_second_apart_walks_allow_warn_delay_block() {
    let f = Fixture::new();
    let lines: Vec<String> = (0..8).map(|i| jsonl("cli", "true", T0 + i)).collect();
    let input = f.write("events.jsonl", lines.join("\n").as_bytes());
    let out = f.path("decisions.jsonl");
    let summary = f.summary(&[
        input.to_str().unwrap(),
        "--decisions",
        out.to_str().unwrap(),
    ]);
    let got: Vec<String> = decisions(&out)
        .iter()
        .map(|d| d["decision"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        got,
        ["allow", "allow", "allow", "warn", "delay", "block", "block", "block"]
    );
    assert_eq!(
        summary["decisions"],
        serde_json::json!({"allow": 3, "warn": 1, "delay": 1, "block": 3})
    );
    let top = &summary["top"][0];
    assert_eq!(top["actor"], "cli");
    assert_eq!(top["first"]["warn"], "2026-11-24T10:00:03.000Z");
    assert_eq!(top["first"]["block"], "2026-11-24T10:00:05.000Z");
    assert_eq!(top["detectors"][0], "burst");
    assert_eq!(top["sparkline"].as_str().unwrap().chars().count(), 8);
}

#[test]
fn bad_jsonl_lines_are_counted_with_their_line_numbers_and_the_rest_replayed() {
    let f = Fixture::new();
    let mut text = Vec::new();
    writeln!(text, "{}", jsonl("a", "/x", T0 + 10)).unwrap();
    writeln!(text, "{{not json").unwrap();
    writeln!(text).unwrap();
    writeln!(text, r#"{{"actor":"a","action":"run","timestamp":1}}"#).unwrap();
    text.extend_from_slice(b"{\"actor\":\"\xff\"}\n");
    writeln!(text, "{}", jsonl("a", "/x", T0 + 5)).unwrap(); // out of order
    writeln!(
        text,
        r#"{{"actor":"b","action":"run","target":"/y","timestamp":"2026-11-24T10:00:20Z"}}"#
    )
    .unwrap();
    write!(text, "{}", jsonl("b", "/y", T0 + 21)).unwrap(); // no newline at the end
    let input = f.write("mixed.jsonl", &text);
    let s = f.summary(&[input.to_str().unwrap()]);
    assert_eq!(s["lines"], 8);
    assert_eq!(s["events"], 4);
    assert_eq!(s["rejected"], 3);
    assert_eq!(s["out_of_order"], 1);
    let first: Vec<(u64, String)> = s["rejected_first"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["line"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(first.len(), 3);
    assert_eq!(first[0].0, 2);
    assert!(first[0].1.contains("not a JSON object"), "{first:?}");
    assert_eq!(first[1].0, 4);
    assert!(first[1].1.contains("missing field `target`"), "{first:?}");
    assert_eq!(first[2].0, 5);
    assert!(first[2].1.contains("not UTF-8"), "{first:?}");
    assert_eq!(s["last_event"], "2026-11-24T10:00:21.000Z");

    // The text summary names them too.
    f.cmd()
        .args(["replay", input.to_str().unwrap()])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("3 rejected")
                .and(predicate::str::contains("line 2: not a JSON object"))
                .and(predicate::str::contains("1 out of order")),
        );
}

#[test]
fn strict_makes_the_first_bad_line_fatal_with_its_number() {
    let f = Fixture::new();
    let text = format!(
        "{}\n{}\nnot json\n",
        jsonl("a", "/", T0),
        jsonl("a", "/", T0 + 1)
    );
    let input = f.write("bad.jsonl", text.as_bytes());
    f.cmd()
        .args(["replay", "--strict", input.to_str().unwrap()])
        .assert()
        .code(125)
        .stdout("")
        .stderr(predicate::str::contains("bad.jsonl:3: not a JSON object"));
}

/// Replay checks its lines in batches: a bad line in the middle of one is still reported in line
/// order among the others, and `--strict` stops after exactly the lines before it.
#[test]
fn bad_lines_inside_a_batch_keep_their_order_and_strict_stops_right_before_them() {
    let f = Fixture::new();
    let long = format!(
        r#"{{"actor":"x","action":"run","target":"{}","timestamp":{T0}}}"#,
        "y".repeat(1 << 20)
    );
    let text: Vec<String> = (1..=150u64)
        .map(|n| match n {
            // 70 is held in the second batch when the over-long 80 is found.
            70 | 120 => "not json".to_string(),
            80 => long.clone(),
            _ => jsonl(&format!("user:{}", n % 9), "/", T0 + n),
        })
        .collect();
    let input = f.write("mixed.jsonl", text.join("\n").as_bytes());
    let out = f.path("decisions.jsonl");
    let s = f.summary(&[
        input.to_str().unwrap(),
        "--decisions",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        (s["lines"].as_u64(), s["events"].as_u64()),
        (Some(150), Some(147))
    );
    let rejected: Vec<u64> = s["rejected_first"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(rejected, [70, 80, 120]);
    let lines: Vec<u64> = decisions(&out)
        .iter()
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (1..=150).filter(|n| ![70, 80, 120].contains(n)).collect();
    assert_eq!(lines, want);

    f.cmd()
        .args(["replay", "--strict", "--decisions"])
        .arg(&out)
        .arg(&input)
        .assert()
        .code(125)
        .stderr(predicate::str::contains(
            "mixed.jsonl:70: not a JSON object",
        ));
    let lines: Vec<u64> = decisions(&out)
        .iter()
        .map(|d| d["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, (1..70).collect::<Vec<_>>());
}

#[test]
fn combined_logs_replay_with_query_and_size_options() {
    let f = Fixture::new();
    let mut text = String::new();
    for i in 0..6 {
        writeln!(
            text,
            "198.51.100.7 - - [24/Nov/2026:10:00:0{i} +0000] \"GET /search?q={i} HTTP/1.1\" 200 {} \"-\" \"bot\"",
            100 * (i + 1)
        )
        .unwrap();
    }
    text.push_str("192.0.2.1 - - [24/Nov/2026:10:00:09 +0000] \"-\" 400 0 \"-\" \"-\"\n");
    text.push_str(
        "192.0.2.1 - - [24/Nov/2026:10:00:10 +0000] \"GET / HTTP/1.1\" 200 - \"-\" \"x\"",
    );
    let input = f.write("access.log", text.as_bytes());
    let out = f.path("d.jsonl");
    let s = f.summary(&[
        input.to_str().unwrap(),
        "--decisions",
        out.to_str().unwrap(),
    ]);
    assert_eq!(s["format"], "combined", "sniffed from the first line");
    assert_eq!(
        (s["events"].as_u64(), s["rejected"].as_u64()),
        (Some(7), Some(1))
    );
    assert!(s["rejected_first"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("not METHOD PATH"));
    let d = decisions(&out);
    assert_eq!(d[0]["actor"], "198.51.100.7");
    assert_eq!(d[0]["action"], "GET");
    assert_eq!(d[0]["target"], "/search?q=0");
    assert_eq!(d[0]["timestamp"], "2026-11-24T10:00:00.000Z");

    f.summary(&[
        "--format",
        "combined",
        "--drop-query",
        input.to_str().unwrap(),
        "--decisions",
        out.to_str().unwrap(),
    ]);
    assert!(decisions(&out)
        .iter()
        .take(6)
        .all(|d| d["target"] == "/search"));

    // Weighted by size: 100 + 200 + ... past the demo's weight_max_total of 1000 by the 4th.
    f.summary(&[
        "--weight-from-size",
        input.to_str().unwrap(),
        "--decisions",
        out.to_str().unwrap(),
    ]);
    let fired: Vec<bool> = decisions(&out)
        .iter()
        .take(6)
        .map(|d| d["fired"].as_array().unwrap().iter().any(|x| x == "weight"))
        .collect();
    assert_eq!(fired, [false, false, false, false, true, true]);
}

#[test]
fn empty_input_gives_an_empty_summary() {
    let f = Fixture::new();
    let input = f.write("empty.jsonl", b"");
    let s = f.summary(&[input.to_str().unwrap()]);
    assert_eq!(
        (s["lines"].as_u64(), s["events"].as_u64()),
        (Some(0), Some(0))
    );
    f.cmd()
        .args(["replay", "-"])
        .write_stdin("")
        .assert()
        .success()
        .stdout(predicate::str::contains("0 events"));
    f.cmd()
        .args(["replay", "no-such-file.jsonl"])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("cannot read no-such-file.jsonl"));
}

#[test]
fn replay_and_check_decide_the_same_events_alike() {
    let f = Fixture::new();
    let times: Vec<u64> = vec![0, 1, 1, 2, 4, 4, 9, 30, 31, 95];
    let lines: Vec<String> = times.iter().map(|t| jsonl("job", "sync", T0 + t)).collect();
    let input = f.write("e.jsonl", lines.join("\n").as_bytes());
    let out = f.path("d.jsonl");
    f.summary(&[
        input.to_str().unwrap(),
        "--decisions",
        out.to_str().unwrap(),
    ]);
    let replayed = decisions(&out);
    for (t, r) in times.iter().zip(&replayed) {
        let o = f
            .cmd()
            .args([
                "--config", DEMO, "check", "--actor", "job", "--target", "sync", "--json",
            ])
            .args(["--at", &(T0 + t).to_string()])
            .output()
            .unwrap();
        let live: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(live["decision"], r["decision"], "at +{t}s");
        assert_eq!(live["risk"], r["risk"], "at +{t}s");
        assert_eq!(live["escalation_level"], r["escalation_level"], "at +{t}s");
    }
}

#[test]
fn explain_prints_one_actors_timeline_with_reasons() {
    let f = Fixture::new();
    let mut lines: Vec<String> = (0..5).map(|i| jsonl("noisy", "/x", T0 + i)).collect();
    lines.push(jsonl("quiet", "/y", T0 + 6));
    let input = f.write("e.jsonl", lines.join("\n").as_bytes());
    f.cmd()
        .args(["--config", DEMO, "replay", "--explain", "noisy"])
        .arg(&input)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("2026-11-24T10:00:03.000Z  line 4  run /x  warn  risk 0.33")
                .and(predicate::str::contains(
                    "burst: 4 events in the window (max 3)",
                ))
                .and(predicate::str::contains("/y  ").not()),
        );
    let s = f.summary(&["--explain", "noisy", input.to_str().unwrap()]);
    let timeline = s["explain"].as_array().unwrap();
    assert_eq!(timeline.len(), 5);
    assert_eq!(timeline[4]["decision"], "delay");
}

#[test]
fn ctrl_c_prints_the_summary_so_far() {
    let f = Fixture::new();
    let mut child = Std::new(env!("CARGO_BIN_EXE_pattern-guard"))
        .args(["--config", DEMO, "replay", "-"])
        .env("PATTERN_GUARD_STATE_DIR", f.path("state"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..10 {
        writeln!(stdin, "{}", jsonl("a", "/", T0 + i)).unwrap();
    }
    stdin.flush().unwrap();
    // The pipe stays open: replay is waiting for more when the signal comes.
    std::thread::sleep(Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{text}");
    assert!(text.contains("interrupted after line 10"), "{text}");
    assert!(text.contains("10 events"), "{text}");
}

#[test]
fn lines_over_a_mebibyte_are_rejected_by_number_and_the_rest_replayed() {
    let f = Fixture::new();
    let long = format!(
        r#"{{"actor":"{}","action":"run","target":"/","timestamp":{T0}}}"#,
        "x".repeat(3 << 19)
    );
    let text = format!(
        "{}\n{long}\n{}\n{long}",
        jsonl("a", "/", T0),
        jsonl("a", "/", T0 + 1)
    );
    let input = f.write("long.jsonl", text.as_bytes());
    let s = f.summary(&[input.to_str().unwrap()]);
    assert_eq!(
        (s["lines"].as_u64(), s["events"].as_u64()),
        (Some(4), Some(2))
    );
    let rejected: Vec<(u64, &str)> = s["rejected_first"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        [(2, "longer than 1 MiB"), (4, "longer than 1 MiB")]
    );
    f.cmd()
        .args(["replay", "--strict"])
        .arg(&input)
        .assert()
        .code(125)
        .stderr(predicate::str::contains("long.jsonl:2: longer than 1 MiB"));
}

/// With the baseline on, replay shows per actor what it learned and where it fired.
#[test]
fn replay_shows_what_the_baseline_learned_and_where_it_fired() {
    let f = Fixture::new();
    let config = f.write(
        "guard.toml",
        b"[guard]\nburst_max_events = 100000\nrepetition_max_count = 100000\nweight_max_total = 1e12\n\
          baseline_max_z = 4\nbaseline_bucket_secs = 60\nbaseline_min_samples = 30\n",
    );
    // One event a second for an hour, then twenty a second for a minute.
    let mut lines: Vec<String> = (0..3600).map(|s| jsonl("api", "/", T0 + s)).collect();
    lines.extend((0..1200).map(|i| {
        format!(
            r#"{{"actor":"api","action":"run","target":"/","timestamp":{}}}"#,
            (T0 + 3600) as f64 + f64::from(i) / 20.0
        )
    }));
    let input = f.write("events.jsonl", lines.join("\n").as_bytes());
    let out = f
        .cmd()
        .args(["--config"])
        .arg(&config)
        .args(["replay", "--json"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = &s["top"][0]["baseline"];
    assert!(
        (b["learned_mean"].as_f64().unwrap() - 60.0).abs() < 1.0,
        "{b}"
    );
    assert_eq!(b["buckets"], 60);
    assert!(b["fired_events"].as_u64().unwrap() > 0, "{b}");
    let first = b["first_fired"].as_str().unwrap();
    assert!(first.starts_with("2026-11-24T11:00:0"), "{first}");
    let text = f
        .cmd()
        .args(["--config"])
        .arg(&config)
        .arg("replay")
        .arg(&input)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("baseline: learned 60.0"), "{text}");
}
