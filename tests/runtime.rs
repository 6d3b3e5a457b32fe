#![cfg(feature = "cli")] // runs the binary, which needs the `cli` feature
//! `max_runtime = "auto"` / `--max-runtime auto`: limits learned from a job's own runs, through
//! the real binary and real processes.

use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;

mod support;
use support::Fixture;

/// Under `config`, runs `sh -c script` as actor `job`; the exit code, stderr and time taken.
fn run(
    f: &Fixture,
    config: &std::path::Path,
    args: &[&str],
    script: &str,
) -> (i32, String, Duration) {
    let started = Instant::now();
    let out = f
        .std()
        .args(["--config"])
        .arg(config)
        .args(["--actor", "job"])
        .args(args)
        .args(["--", "sh", "-c", script])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

/// Limits that stay out of the way of a job run a dozen times in a row.
const QUIET: &str =
    "[guard]\nburst_max_events = 1000\nrepetition_max_count = 1000\nkill_grace_secs = 1\n";

/// `status --json` under `config`: one row per actor.
fn status_json(f: &Fixture, config: &std::path::Path) -> Value {
    let out = f
        .cmd()
        .arg("--config")
        .arg(config)
        .args(["status", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_job_that_hangs_is_stopped_by_the_limit_its_own_runs_taught() {
    let f = Fixture::new();
    let config = f.write(
        "guard.toml",
        format!(
            "{QUIET}max_runtime = \"auto\"\nmax_runtime_secs = 600\nruntime_floor_secs = 0.5\n"
        )
        .as_bytes(),
    );
    // Before runtime_min_runs (5) runs nothing is learned: a run of any length is let be.
    for i in 0..10 {
        let (code, err, _) = run(&f, &config, &[], "sleep 0.2");
        assert_eq!(code, 0, "run {i}: {err}");
    }
    // Then it hangs: stopped at 3 x p90 (about 0.6 s), far before the explicit 600 s.
    let (code, err, took) = run(&f, &config, &[], "sleep 30");
    assert_eq!(code, 124, "{err}");
    assert!(took < Duration::from_secs(10), "stopped after {took:?}");
    assert!(
        err.contains("ran past its maximum runtime") && err.contains("learned: 3 x p90"),
        "{err}"
    );
    assert!(err.contains("of the last 10 runs"), "{err}");
    // status shows the typical run and the learned limit.
    let rows = status_json(&f, &config);
    let typical = rows[0]["typical_run_secs"].as_f64().unwrap();
    let limit = rows[0]["learned_max_runtime_secs"].as_f64().unwrap();
    assert!((0.2..1.0).contains(&typical), "{rows}");
    assert!((0.5..3.0).contains(&limit), "{rows}");
    f.cmd()
        .args(["--config"])
        .arg(&config)
        .arg("status")
        .assert()
        .success()
        .stdout(
            predicate::str::contains("job: typical run")
                .and(predicate::str::contains("learned limit")),
        );
}

#[test]
fn varied_but_normal_durations_are_never_stopped() {
    let f = Fixture::new();
    let config = f.write(
        "guard.toml",
        format!("{QUIET}runtime_floor_secs = 0\nruntime_min_runs = 3\n").as_bytes(),
    );
    // 0.05 s to 0.4 s in no order, with the flag instead of the key.
    for (i, secs) in [
        0.05, 0.3, 0.1, 0.4, 0.2, 0.05, 0.35, 0.15, 0.4, 0.1, 0.25, 0.4,
    ]
    .iter()
    .enumerate()
    {
        let (code, err, _) = run(
            &f,
            &config,
            &["--max-runtime", "auto"],
            &format!("sleep {secs}"),
        );
        assert_eq!(code, 0, "run {i} ({secs} s): {err}");
    }
}

#[test]
fn a_stopped_run_does_not_teach_and_a_bad_flag_is_refused() {
    let f = Fixture::new();
    let config = f.write(
        "guard.toml",
        format!("{QUIET}runtime_floor_secs = 0\nruntime_min_runs = 2\n").as_bytes(),
    );
    // Two short runs, then one stopped at the explicit limit: it is not a duration to learn.
    for _ in 0..2 {
        assert_eq!(
            run(&f, &config, &["--max-runtime", "auto"], "sleep 0.1").0,
            0
        );
    }
    let (code, err, _) = run(&f, &config, &["--max-runtime", "auto"], "sleep 30");
    assert_eq!(code, 124, "{err}");
    let rows = status_json(&f, &config);
    assert!(
        rows[0]["typical_run_secs"].as_f64().unwrap() < 1.0,
        "{rows}"
    );
    f.cmd()
        .args(["--max-runtime", "soon", "--", "true"])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("or auto"));
    let bad = f.write("bad.toml", b"[guard]\nmax_runtime = \"sometimes\"\n");
    f.cmd()
        .args(["--config"])
        .arg(&bad)
        .args(["--", "true"])
        .assert()
        .code(125)
        .stderr(
            predicate::str::contains("bad.toml:2:")
                .and(predicate::str::contains("expected `fixed` or `auto`")),
        );
}
