#![cfg(feature = "cli")] // the binary
//! The CLI against a shared store: a real `redis-server` on loopback per test, and state
//! directories standing for hosts.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;
#[path = "support/redis.rs"]
mod redis_server;
mod support;

use common::Reference;
use pattern_guard::{Config, Decision};
use redis_server::RedisServer;
use support::Fixture;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.demo");

/// The store's timeout in these tests (unless one tests timeouts): the machine runs many tests
/// at once, and a check that waits past the default 50 ms would fall back to the local history.
const STORE: &str = "\n[store]\ntimeout_ms = 5000\n";

/// The binary as one host: its own state directory, the shared store, a generous timeout
/// (`$PATTERN_GUARD_CONFIG`; a test's own `--config` replaces it).
fn host(fx: &Fixture, name: &str, url: &str) -> Command {
    let dir = fx.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    let config = fx.path("store.toml");
    if !config.exists() {
        std::fs::write(&config, STORE).unwrap();
    }
    let mut c = fx.std();
    c.env("PATTERN_GUARD_STATE_DIR", dir)
        .env("PATTERN_GUARD_STORE", url)
        .env("PATTERN_GUARD_CONFIG", config);
    c
}

/// guard.toml.demo with the tests' store timeout.
/// A config file `name` in the fixture: `guard`'s keys under `[guard]`, and the store's timeout.
fn guard_config(fx: &Fixture, name: &str, guard: &str) -> std::path::PathBuf {
    let path = fx.path(name);
    std::fs::write(&path, format!("[guard]\n{guard}{STORE}")).unwrap();
    path
}

fn demo(fx: &Fixture) -> String {
    let path = fx.path("demo.toml");
    if !path.exists() {
        let text = std::fs::read_to_string(DEMO).unwrap() + STORE;
        std::fs::write(&path, text).unwrap();
    }
    path.display().to_string()
}

/// Waits (at most 10 s) until `actor` has a running instance in the store, as another host's
/// `status` sees it.
fn wait_running(fx: &Fixture, url: &str, actor: &str) {
    let start = Instant::now();
    loop {
        let out = host(fx, "host-b", url)
            .args(["status", "--json", actor])
            .output()
            .unwrap();
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if rows[0]["running"].as_array().is_some_and(|r| !r.is_empty()) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{actor}'s first run never registered"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The state files in a state directory.
fn histories(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "state")
        })
        .count()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn runs_alternating_between_two_hosts_are_one_history() {
    let server = RedisServer::start();
    let url = server.url();
    let fx = Fixture::new();
    let mut seen = Vec::new();
    for i in 0..6 {
        let name = if i % 2 == 0 { "host-a" } else { "host-b" };
        let out = host(&fx, name, &url)
            .args(["--config", &demo(&fx), "--", "true"])
            .output()
            .unwrap();
        let err = stderr_of(&out);
        let decision = if err.contains("blocked") {
            "block"
        } else if err.contains("delaying") {
            "delay"
        } else if err.contains("warning") {
            "warn"
        } else {
            "allow"
        };
        seen.push((decision, out.status.code()));
    }
    assert_eq!(
        seen,
        [
            ("allow", Some(0)),
            ("allow", Some(0)),
            ("allow", Some(0)),
            ("warn", Some(0)),
            ("delay", Some(0)),
            ("block", Some(75)),
        ]
    );
    // Neither host's state directory holds a history: the store does.
    for name in ["host-a", "host-b"] {
        assert_eq!(
            histories(&fx.path(name)),
            0,
            "{name} kept a history locally"
        );
    }
    // status and reset work on the store.
    let out = host(&fx, "host-a", &url)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["actor"], "cli");
    assert_eq!(rows[0]["events_in_window"], 6);
    let out = host(&fx, "host-b", &url)
        .args(["reset", "cli"])
        .output()
        .unwrap();
    assert!(
        stderr_of(&out).contains("forgot actor 'cli'"),
        "{}",
        stderr_of(&out)
    );
    let out = host(&fx, "host-a", &url)
        .args(["--config", &demo(&fx), "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr_of(&out).is_empty(),
        "a fresh history allows: {}",
        stderr_of(&out)
    );
}

#[test]
fn eight_processes_checking_one_actor_lose_nothing_and_decide_as_one() {
    let server = RedisServer::start();
    let url = server.url();
    let fx = Fixture::new();
    let config = fx.write(
        "guard.toml",
        b"[guard]\nwindow_secs = 60\nburst_max_events = 100\nrepetition_max_count = 1000\n\
          [store]\ntimeout_ms = 5000\n",
    );
    let bin = env!("CARGO_BIN_EXE_pattern-guard");
    // Eight shell loops at once, each 50 `check`s with its own weight (to tell them apart in
    // the store's log), each printing one JSON line per check.
    let children: Vec<_> = (0..8)
        .map(|p| {
            let mut like = host(&fx, &format!("host-{p}"), &url);
            like.env("BIN", bin)
                .env("CONFIG", &config)
                .env("W", format!("1.0{p}"));
            in_shell(
                &like,
                "for i in $(seq 50); do \"$BIN\" --config \"$CONFIG\" check --actor fleet \
                 --weight \"$W\" --json; done",
            )
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut got: Vec<Vec<String>> = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success() || out.status.code().is_some());
        let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["decision"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(lines.len(), 50);
        got.push(lines);
    }
    // The store's log, in its order: each event's time and weight.
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let key = format!(
        "pattern-guard:{{{:016x}}}",
        xxhash_rust::xxh3::xxh3_64(b"fleet")
    );
    let seq: u64 = redis::cmd("HGET")
        .arg(&key)
        .arg("seq")
        .query(&mut conn)
        .unwrap();
    assert_eq!(seq, 400, "no event lost");
    let mut reference = Reference::new(Config::from_path(&config).unwrap());
    let mut expected: Vec<Vec<String>> = vec![Vec::new(); 8];
    let log: Vec<u8> = redis::cmd("GET")
        .arg(format!("{key}:log"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(log.len(), 400 * 41, "every event is in the log");
    for e in log.chunks_exact(41) {
        let us: u64 = std::str::from_utf8(&e[..16]).unwrap().parse().unwrap();
        let micros = u64::from_le_bytes(e[33..41].try_into().unwrap());
        let p = ((micros - 1_000_000) / 10_000) as usize;
        let ts = us * 1000;
        let d = reference
            .check("fleet", "run", "-", ts, micros as f64 / 1e6, ts)
            .decision;
        expected[p].push(
            match d {
                Decision::Allow => "allow",
                Decision::Warn => "warn",
                Decision::Delay(_) => "delay",
                Decision::Block => "block",
            }
            .to_string(),
        );
    }
    assert_eq!(got, expected);
    assert!(
        got.iter().flatten().any(|d| d != "allow"),
        "the shared burst was seen"
    );
}

/// `script` in `sh`, with the environment `like` would run with.
fn in_shell(like: &Command, script: &str) -> Command {
    let mut sh = Command::new("sh");
    sh.args(["-c", script]);
    for (k, v) in like.get_envs() {
        match v {
            Some(v) => sh.env(k, v),
            None => sh.env_remove(k),
        };
    }
    sh
}

/// A config with a short lease, for the overlap tests.
fn lease_config(fx: &Fixture) -> std::path::PathBuf {
    fx.write(
        "lease.toml",
        b"[store]\nlease_secs = 3\ntimeout_ms = 5000\n",
    )
}

/// `argv` run on host `name` as `actor` under `config`, one run at a time across hosts.
fn limited(
    fx: &Fixture,
    url: &str,
    config: &std::path::Path,
    name: &str,
    actor: &str,
    argv: &[&str],
) -> Command {
    let mut c = host(fx, name, url);
    c.arg("--config").arg(config);
    c.args(["--actor", actor, "--max-concurrent", "1", "--"])
        .args(argv);
    c
}

#[test]
fn max_concurrent_one_holds_across_hosts_and_a_killed_wrappers_lease_ends() {
    let server = RedisServer::start();
    let url = server.url();
    let fx = Fixture::new();
    let config = lease_config(&fx);
    let run = |name: &str, argv: &[&str]| limited(&fx, &url, &config, name, "nightly", argv);
    let mut first = run("host-a", &["sleep", "30.123"]).spawn().unwrap();
    // Wait until the first holds its lease.
    wait_running(&fx, &url, "nightly");
    let out = run("host-b", &["true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(75), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("already has 1 run(s)"),
        "{}",
        stderr_of(&out)
    );
    // The first wrapper dies without a word: its slot is free once its lease (3 s) ends.
    first.kill().unwrap();
    first.wait().unwrap();
    let killed = Instant::now();
    loop {
        let out = run("host-b", &["true"]).output().unwrap();
        if out.status.code() == Some(0) {
            break;
        }
        assert_eq!(out.status.code(), Some(75));
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "the lease never ended"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // A run that ends gives its lease back at once: the next starts without waiting.
    let out = run("host-a", &["true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    // The killed wrapper's command is still sleeping: end it.
    let _ = Command::new("pkill").args(["-f", "sleep 30.123"]).status();
}

#[test]
fn a_long_run_keeps_its_lease_past_its_length() {
    let server = RedisServer::start();
    let url = server.url();
    let fx = Fixture::new();
    let config = lease_config(&fx);
    let run = |name: &str, argv: &[&str]| limited(&fx, &url, &config, name, "long", argv);
    let first = run("host-a", &["sleep", "7"]).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(5));
    let out = run("host-b", &["true"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(75),
        "renewed past its 3 s: {}",
        stderr_of(&out)
    );
    let out = first.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_store_that_is_down_is_handled_as_on_error_says_and_never_hides_the_exit() {
    let mut server = RedisServer::start();
    let fx = Fixture::new();
    let with = |on_error: &str| {
        fx.write(
            &format!("{on_error}.toml"),
            format!("[store]\ntimeout_ms = 1000\non_error = \"{on_error}\"\n").as_bytes(),
        )
    };
    let url = format!("redis://:s3cret@127.0.0.1:{}/0", server.port);
    let run = |config: &std::path::Path, argv: &[&str]| {
        let mut c = host(&fx, "host", &url);
        c.env("PATTERN_GUARD_STORE", &url)
            .arg("--config")
            .arg(config)
            .arg("--")
            .args(argv);
        c
    };
    // A server with a password: ours is right.
    assert!(server
        .command("CONFIG SET requirepass s3cret\r\n")
        .unwrap()
        .starts_with("+OK"));
    let out = run(&with("local"), &["true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stderr_of(&out).is_empty(), "{}", stderr_of(&out));
    // Paused, then gone: each mode, within the timeout, in one line, without the password.
    for outage in ["paused", "killed"] {
        server.take_down(outage);
        for (mode, code) in [("local", 0), ("allow", 0), ("block", 75)] {
            let start = Instant::now();
            let out = run(&with(mode), &["sh", "-c", "exit 3"]).output().unwrap();
            let err = stderr_of(&out);
            let want = if code == 0 { 3 } else { code };
            assert_eq!(out.status.code(), Some(want), "{outage} {mode}: {err}");
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{outage} {mode}: hung"
            );
            assert!(err.contains("not answering"), "{outage} {mode}: {err}");
            assert!(
                err.contains(&format!("on_error = {mode}")),
                "{outage} {mode}: {err}"
            );
            assert!(!err.contains("s3cret"), "{err}");
        }
    }
    // --repeat: the outage is said once, not on every run.
    let out = host(&fx, "host", &url)
        .arg("--config")
        .arg(with("allow"))
        .args(["--repeat", "4", "--", "true"])
        .output()
        .unwrap();
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(err.matches("not answering").count(), 1, "{err}");
    // Local decisions come from the host's own history: it counts the runs made meanwhile.
    let local_runs = std::fs::read_dir(fx.path("host")).unwrap().count();
    assert!(
        local_runs > 0,
        "on_error = local kept the runs in the state directory"
    );
    // The server comes back: the store is used again.
    server.restart();
    assert!(server
        .command("CONFIG SET requirepass s3cret\r\n")
        .unwrap()
        .starts_with("+OK"));
    let out = run(&with("block"), &["true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stderr_of(&out).is_empty(), "{}", stderr_of(&out));
}

#[test]
fn the_store_is_killed_while_the_command_runs_and_its_status_is_kept() {
    let mut server = RedisServer::start();
    let url = server.url();
    let fx = Fixture::new();
    let config = fx.write("c.toml", b"[store]\ntimeout_ms = 2000\nlease_secs = 3\n");
    let child = host(&fx, "host", &url)
        .arg("--config")
        .arg(&config)
        .args(["--max-concurrent", "2", "--", "sh", "-c", "sleep 1; exit 7"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    server.kill();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
}

#[test]
fn passwords_never_show_in_status_config_check_or_errors() {
    let server = RedisServer::start();
    let fx = Fixture::new();
    let url = format!("redis://:s3cret@127.0.0.1:{}/0", server.port);
    for args in [
        vec!["status"],
        vec!["config", "check"],
        vec!["--", "true"],
        vec!["--store", "http://:s3cret@x", "status"],
    ] {
        let out = host(&fx, "host", &url)
            .env("PATTERN_GUARD_STORE", &url)
            .args(&args)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            stderr_of(&out),
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!all.contains("s3cret"), "{args:?}: {all}");
    }
    let out = host(&fx, "host", &url)
        .env("PATTERN_GUARD_STORE", &url)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(":***@127.0.0.1"));
    let out = fx
        .cmd()
        .env("PATTERN_GUARD_STORE", &url)
        .arg("--help")
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret"));
}

#[test]
fn repeat_check_at_and_status_work_against_the_store() {
    let server = RedisServer::start();
    let url = server.url();
    let fx = Fixture::new();
    // --repeat: six runs in one process, one history in the store.
    let out = host(&fx, "host-a", &url)
        .args(["--config", &demo(&fx), "--repeat", "6", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains("warning") && err.contains("delaying") && err.contains("blocked"),
        "{err}"
    );
    // A run stopped past its runtime is kept in the store, for status on another host.
    let out = host(&fx, "host-a", &url)
        .args([
            "--actor",
            "slow",
            "--max-runtime",
            "0.3",
            "--",
            "sleep",
            "5",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(124), "{}", stderr_of(&out));
    let out = host(&fx, "host-b", &url)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |actor: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["actor"] == actor)
            .unwrap_or_else(|| panic!("{actor} missing: {rows}"))
            .clone()
    };
    assert_eq!(row("cli")["events_in_window"], 6);
    assert_eq!(row("cli")["last_run_config"], demo(&fx).as_str());
    assert_eq!(row("slow")["last_stop"]["why"], "runtime", "{rows}");
    // check --at keeps the time given (an hour ago: outside a one-minute window).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let hour_ago = format!("{}", (now - 3600.0) as u64);
    let out = host(&fx, "host-b", &url)
        .args(["check", "--actor", "past", "--json", "--at", &hour_ago])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let out = host(&fx, "host-a", &url)
        .args(["status", "--json", "past"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows[0]["events_in_window"], 0,
        "the hour-old event is outside the window"
    );
    let last_seen = rows[0]["last_seen_unix"].as_f64().unwrap();
    assert!(
        (now - 3600.0 - last_seen).abs() < 60.0,
        "{last_seen} vs {now}"
    );
    // reset --all empties the store.
    let out = host(&fx, "host-a", &url)
        .args(["reset", "--all"])
        .output()
        .unwrap();
    assert!(
        stderr_of(&out).contains("forgot 3 actor(s)"),
        "{}",
        stderr_of(&out)
    );
}

/// `max_runtime = "auto"` learns from the runs of every host: each run's duration is added to
/// the store's list, the next run on any host reads it, and a hang is stopped at the limit.
#[test]
fn a_limit_learned_from_runs_on_two_hosts_stops_a_hang_on_either() {
    let server = RedisServer::start();
    let url = server.url();
    let fx = Fixture::new();
    let config = guard_config(
        &fx,
        "auto.toml",
        "burst_max_events = 1000\nrepetition_max_count = 1000\nkill_grace_secs = 1\n\
         max_runtime = \"auto\"\nruntime_min_runs = 4\nruntime_floor_secs = 0.5\n",
    );
    let run = |host_name: &str, script: &str| {
        let started = Instant::now();
        let out = host(&fx, host_name, &url)
            .arg("--config")
            .arg(&config)
            .args(["--actor", "job", "--", "sh", "-c", script])
            .output()
            .unwrap();
        (out.status.code(), stderr_of(&out), started.elapsed())
    };
    for i in 0..4 {
        let (code, err, _) = run(["host-a", "host-b"][i % 2], "sleep 0.2");
        assert_eq!(code, Some(0), "run {i}: {err}");
    }
    // Four runs, two on each host: the limit is learned from all four.
    let out = host(&fx, "host-a", &url)
        .arg("--config")
        .arg(&config)
        .args(["status", "--json", "job"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let typical = rows[0]["typical_run_secs"].as_f64().unwrap_or(-1.0);
    let limit = rows[0]["learned_max_runtime_secs"].as_f64().unwrap_or(-1.0);
    assert!((0.2..1.0).contains(&typical), "{rows}");
    assert!((0.5..3.0).contains(&limit), "{rows}");
    // A hang on the host that ran half of them is stopped at that limit.
    let (code, err, took) = run("host-b", "sleep 30");
    assert_eq!(code, Some(124), "{err}");
    assert!(took < Duration::from_secs(10), "stopped after {took:?}");
    assert!(err.contains("of the last 4 runs"), "{err}");
}

/// `--metrics-file` with a store counts the actor's runs on every host: each host writes its own
/// file, and each file's runs by decision hold the other host's runs too.
#[test]
fn the_metrics_file_counts_the_runs_of_every_host() {
    let server = RedisServer::start();
    let url = server.url();
    let fx = Fixture::new();
    let demo = demo(&fx);
    let files = [fx.path("a.prom"), fx.path("b.prom")];
    // guard.toml.demo: allow, allow, allow, warn, delay; runs by decision after each run.
    let after = [
        [1, 0, 0, 0],
        [2, 0, 0, 0],
        [3, 0, 0, 0],
        [3, 1, 0, 0],
        [3, 1, 1, 0],
    ];
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    for (i, want) in after.iter().enumerate() {
        let (name, file) = (["host-a", "host-b"][i % 2], &files[i % 2]);
        let before = command_calls(&mut conn);
        let out = host(&fx, name, &url)
            .args(["--config", &demo, "--actor", "job", "--metrics-file"])
            .arg(file)
            .args(["--", "true"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "run {i}: {}", stderr_of(&out));
        if i >= 2 {
            // Each host knows the seed by now: the check, and the call keeping the decision.
            let calls = command_calls(&mut conn);
            let evalsha = calls.get("evalsha").unwrap_or(&0) - before.get("evalsha").unwrap_or(&0);
            assert_eq!(evalsha, 2, "run {i}: {calls:?}");
        }
        let text = std::fs::read_to_string(file).unwrap();
        for (decision, n) in ["allow", "warn", "delay", "block"].iter().zip(want) {
            let series = format!(
                "pattern_guard_runs_in_window{{actor=\"job\",decision=\"{decision}\"}} {n}"
            );
            assert!(
                text.lines().any(|l| l == series),
                "run {i} on {name}: no `{series}` in\n{text}"
            );
        }
    }
}

#[test]
fn a_unix_socket_store_is_the_same_store() {
    let server = RedisServer::start();
    let fx = Fixture::new();
    let unix = format!("redis+unix://{}", server.socket().display());
    let out = host(&fx, "host", &unix)
        .args(["check", "--actor", "u"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stderr_of(&out).is_empty(), "{}", stderr_of(&out));
    let out = host(&fx, "host", &server.url())
        .args(["status", "--json", "u"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["events_in_window"], 1, "seen over TCP too");
}

#[test]
fn rediss_reaches_a_tls_server_whose_certificate_is_trusted() {
    let server = RedisServer::start_tls();
    let url = format!("rediss://127.0.0.1:{}/0", server.port);
    let fx = Fixture::new();
    let ca = server.ca.clone().unwrap();
    let check = |trusted: bool| {
        let mut c = host(&fx, "host", &url);
        if trusted {
            c.env("SSL_CERT_FILE", &ca);
        }
        c.args(["check", "--actor", "tls"]).output().unwrap()
    };
    let out = check(true);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(stderr_of(&out).is_empty(), "{}", stderr_of(&out));
    let out = host(&fx, "host", &url)
        .env("SSL_CERT_FILE", &ca)
        .args(["status", "--json", "tls"])
        .output()
        .unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        rows[0]["events_in_window"], 1,
        "the event is in the TLS store"
    );
    // An untrusted certificate is a store that cannot be used: said in one line.
    let out = check(false);
    assert!(
        stderr_of(&out).contains("certificate"),
        "{}",
        stderr_of(&out)
    );
}

/// `INFO commandstats` as (command, calls).
fn command_calls(conn: &mut redis::Connection) -> std::collections::BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO").arg("commandstats").query(conn).unwrap();
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_string(), calls))
        })
        .collect()
}

/// The script calls `action` makes to the server at `url`, checking it makes no other call a
/// client would (`INFO commandstats` also counts the commands scripts run inside the server).
/// One connection of the test's own for both readings: connecting counts commands too.
fn script_calls(url: &str, action: impl FnOnce()) -> u64 {
    let mut conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    let before = command_calls(&mut conn);
    action();
    let after = command_calls(&mut conn);
    let delta = |name: &str| after.get(name).unwrap_or(&0) - before.get(name).unwrap_or(&0);
    for other in [
        "eval",
        "get",
        "set",
        "client|setinfo",
        "hello",
        "script|load",
    ] {
        assert_eq!(delta(other), 0, "{other}: {after:?}");
    }
    delta("evalsha")
}

#[test]
fn a_cli_check_is_one_script_call_once_the_seed_is_known() {
    let server = RedisServer::start();
    let url = server.url();
    let fx = Fixture::new();
    let check = || {
        let out = host(&fx, "host", &url)
            .args(["check", "--actor", "one"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    };
    check(); // learns the store's seed and keeps it in the state directory
    assert_eq!(script_calls(&url, check), 1);
}

#[test]
fn on_overlap_wait_waits_for_the_other_hosts_run() {
    let server = RedisServer::start();
    let url = server.url();
    let fx = Fixture::new();
    let order = fx.path("order");
    let run = |name: &str, script: &str, wait: bool| {
        let mut c = host(&fx, name, &url);
        c.args(["--actor", "queue", "--max-concurrent", "1"]);
        if wait {
            c.args(["--on-overlap", "wait"]);
        }
        c.args(["--", "sh", "-c", script]).env("ORDER", &order);
        c
    };
    let first = run("host-a", "sleep 1; echo first >> \"$ORDER\"", false)
        .spawn()
        .unwrap();
    // Once the first holds the slot, the second waits for it, then runs.
    wait_running(&fx, &url, "queue");
    let second = run("host-b", "echo second >> \"$ORDER\"", true)
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(0), "{}", stderr_of(&second));
    assert!(
        stderr_of(&second).contains("waiting"),
        "{}",
        stderr_of(&second)
    );
    assert_eq!(first.wait_with_output().unwrap().status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&order).unwrap(), "first\nsecond\n");
}

/// What a wrapped run costs the store in calls once the seed is known: one script call without
/// anything to keep; under `max_runtime = "auto"`, two more after the run (the store's list of
/// durations is loaded, so another host's run meanwhile is kept, and written back with this
/// run's), as the README and docs/STORE.md say. `INFO commandstats` also counts the commands
/// the scripts run inside the server; the calls a client makes are the scripts themselves.
#[test]
fn a_run_that_keeps_its_duration_makes_two_more_calls() {
    let server = RedisServer::start();
    let url = server.url();
    let fx = Fixture::new();
    let calls_of_a_run = |actor: &str, auto: bool| {
        let runtime = if auto { "max_runtime = \"auto\"\n" } else { "" };
        let config = guard_config(
            &fx,
            &format!("{actor}.toml"),
            &format!("burst_max_events = 1000\nrepetition_max_count = 1000\n{runtime}"),
        );
        let run = || {
            let out = host(&fx, "host", &url)
                .arg("--config")
                .arg(&config)
                .args(["--actor", actor, "--", "true"])
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        };
        run(); // learns the store's seed; under "auto", the first duration is kept
        script_calls(&url, run)
    };
    assert_eq!(calls_of_a_run("plain", false), 1);
    assert_eq!(calls_of_a_run("auto", true), 3);
}
