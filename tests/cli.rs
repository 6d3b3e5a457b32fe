#![cfg(feature = "cli")] // runs the binary, which needs the `cli` feature
//! The `pattern-guard` binary as users run it: each test has its own state and config dirs.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command as Std, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;

mod support;
use support::Fixture;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.demo");

impl Fixture {
    fn demo(&self) -> Command {
        let mut c = self.cmd();
        c.args(["--config", DEMO]);
        c
    }

    /// `status ACTOR --json` under the config at `config`, parsed.
    fn status_json(&self, config: &Path, actor: &str) -> serde_json::Value {
        let out = self
            .cmd()
            .arg("--config")
            .arg(config)
            .args(["status", actor, "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn write_config(&self, text: &str) -> PathBuf {
        let p = self.path("guard.toml");
        std::fs::write(&p, text).unwrap();
        p
    }
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

fn wait_for(path: &Path) -> String {
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if text.ends_with('\n') {
                return text;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn separate_invocations_walk_allow_warn_delay_block_as_the_seed_says() {
    let f = Fixture::new();
    for _ in 0..3 {
        f.demo().args(["--", "true"]).assert().success().stderr("");
    }
    f.demo().args(["--", "true"]).assert().success().stderr(
        predicate::str::starts_with("pattern-guard: warning: ")
            .and(predicate::str::contains("burst: 4 events")),
    );
    f.demo()
        .args(["--", "true"])
        .assert()
        .success()
        .stderr(predicate::str::starts_with(
            "pattern-guard: delaying 'true' by 1s",
        ));
    f.demo().args(["--", "true"]).assert().code(75).stderr(
        predicate::str::starts_with("pattern-guard: blocked 'true'")
            .and(predicate::str::contains("it may run again in"))
            .and(predicate::function(|s: &str| s.lines().count() == 1)),
    );
}

#[test]
fn repeat_runs_each_iteration_as_an_event_and_stops_at_block() {
    let f = Fixture::new();
    f.demo()
        .args([
            "--repeat",
            "5",
            "--",
            "sh",
            "-c",
            "echo run $PATTERN_GUARD_ITERATION",
        ])
        .assert()
        .success()
        .stdout("run 1\nrun 2\nrun 3\nrun 4\nrun 5\n");
    // The same history: the next run is the 6th event, blocked.
    let f = Fixture::new();
    f.demo()
        .args([
            "--repeat",
            "8",
            "--",
            "sh",
            "-c",
            "echo run $PATTERN_GUARD_ITERATION",
        ])
        .assert()
        .code(75)
        .stdout("run 1\nrun 2\nrun 3\nrun 4\nrun 5\n");
}

#[test]
fn a_blocked_command_is_never_spawned() {
    let f = Fixture::new();
    for _ in 0..5 {
        f.demo().args(["--", "true"]).assert().success();
    }
    let marker = f.path("ran");
    f.demo()
        .args(["--", "touch"])
        .arg(&marker)
        .assert()
        .code(75);
    assert!(!marker.exists(), "the blocked command ran");
}

#[test]
fn the_delay_happens_before_the_child_starts() {
    let f = Fixture::new();
    for _ in 0..4 {
        f.demo().args(["--", "true"]).assert().success();
    }
    let out = f
        .demo()
        .args(["--", "sh", "-c", "echo child-started >&2"])
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8(out).unwrap();
    let delay = err.find("delaying").expect("a delay line");
    let child = err.find("child-started").expect("the child ran");
    assert!(delay < child, "{err}");
}

#[test]
fn a_runaway_child_and_its_grandchild_are_stopped() {
    let f = Fixture::new();
    let pids = f.path("pids");
    let script = format!(
        "sleep 300 & echo $! > {p}.tmp; echo $$ >> {p}.tmp; mv {p}.tmp {p}; wait",
        p = pids.display()
    );
    f.cmd()
        .args([
            "--max-runtime",
            "1s",
            "--kill-after",
            "5s",
            "--",
            "sh",
            "-c",
            &script,
        ])
        .assert()
        .code(124)
        .stderr(predicate::str::contains(
            "ran past its maximum runtime of 1s; sending SIGTERM",
        ));
    let pids: Vec<i32> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    for pid in pids {
        assert!(!alive(pid), "process {pid} survived the stop");
    }
}

#[test]
fn a_child_ignoring_sigterm_is_killed_after_the_grace_period() {
    let f = Fixture::new();
    f.cmd()
        .args([
            "--max-runtime",
            "500ms",
            "--kill-after",
            "500ms",
            "--",
            "sh",
            "-c",
            "trap '' TERM; sleep 60",
        ])
        .assert()
        .code(137)
        .stderr(predicate::str::contains("sending SIGKILL"));
}

#[test]
fn max_runtime_comes_from_per_actor_config_too() {
    let f = Fixture::new();
    let cfg =
        f.write_config("[guard.actors.\"nightly\"]\nmax_runtime_secs = 0.5\nkill_grace_secs = 1\n");
    f.cmd()
        .arg("--config")
        .arg(&cfg)
        .args(["--actor", "nightly", "--", "sleep", "30"])
        .assert()
        .code(124);
}

/// Also with the output watched: the command's last words pass through the watch.
#[test]
fn signals_to_pattern_guard_reach_the_child() {
    for flags in [&[][..], &["--watch-output"]] {
        let f = Fixture::new();
        let ready = f.path("ready");
        let script = format!(
            "trap 'echo got-term; exit 7' TERM; echo up > {}; while :; do sleep 0.05; done",
            ready.display()
        );
        let child = Std::new(env!("CARGO_BIN_EXE_pattern-guard"))
            .env("PATTERN_GUARD_STATE_DIR", f.state())
            .env("XDG_CONFIG_HOME", f.path("config"))
            .args(flags)
            .args(["--", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for(&ready);
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(7),
            "the child's own exit code after handling TERM {flags:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "got-term\n",
            "{flags:?}"
        );
    }
}

#[test]
fn exit_codes_follow_the_contract() {
    let f = Fixture::new();
    f.cmd().args(["--", "sh", "-c", "exit 3"]).assert().code(3);
    f.cmd()
        .args(["--", "sh", "-c", "kill -USR1 $$"])
        .assert()
        .code(128 + 10);
    f.cmd()
        .args(["--", "no-such-command-here"])
        .assert()
        .code(127)
        .stderr(predicate::str::starts_with(
            "pattern-guard: cannot run 'no-such-command-here'",
        ));
    let not_exec = f.path("script.txt");
    std::fs::write(&not_exec, "echo hi").unwrap();
    f.cmd().arg("--").arg(&not_exec).assert().code(126);
    f.cmd().arg("--no-such-flag").assert().code(125);
    f.cmd()
        .args(["--repeat", "0", "--", "true"])
        .assert()
        .code(125);
    f.cmd()
        .args(["--max-runtime", "soon", "--", "true"])
        .assert()
        .code(125);
    f.cmd()
        .assert()
        .code(125)
        .stderr(predicate::str::contains("nothing to run"));
    f.cmd()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"));
    f.cmd()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::starts_with("pattern-guard "));
    let f = Fixture::new();
    for _ in 0..5 {
        f.demo().args(["--", "true"]).assert().success();
    }
    f.demo()
        .args(["--block-exit-code", "99", "--", "true"])
        .assert()
        .code(99);
}

#[test]
fn a_bad_config_fails_with_its_location_and_runs_nothing() {
    let f = Fixture::new();
    let cfg = f.write_config("[guard]\nwindow_secs = 60\nburst_max_events = 0\n");
    let marker = f.path("ran");
    f.cmd()
        .arg("--config")
        .arg(&cfg)
        .args(["--", "touch"])
        .arg(&marker)
        .assert()
        .code(125)
        .stderr(format!(
            "pattern-guard: {}:3:20: `guard.burst_max_events`: must be at least 1, found 0\n",
            cfg.display()
        ));
    assert!(!marker.exists());
    f.cmd()
        .args(["--config", "/nonexistent/guard.toml", "--", "true"])
        .assert()
        .code(125)
        .stderr(predicate::str::contains(
            "cannot read config file /nonexistent/guard.toml",
        ));
}

#[test]
fn the_users_config_file_is_found_without_flags() {
    let f = Fixture::new();
    let dir = f.path("config").join("pattern-guard");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("guard.toml"),
        "[guard]\nburst_max_events = 1\nmax_events_per_actor = 2\n",
    )
    .unwrap();
    f.cmd().args(["--", "true"]).assert().success();
    f.cmd().args(["--", "true"]).assert().code(75);
    f.cmd()
        .args(["config", "check", "--actor", "cli"])
        .assert()
        .success()
        .stdout(predicate::str::contains("burst_max_events = 1"));
}

#[test]
fn a_corrupt_state_is_set_aside_reported_and_replaced() {
    let f = Fixture::new();
    f.cmd().args(["--", "true"]).assert().success();
    let state = std::fs::read_dir(f.state())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "state"))
        .unwrap();
    std::fs::write(&state, b"PGSTATE1 this is not a real state file at all").unwrap();
    f.cmd().args(["--", "true"]).assert().success().stderr(
        predicate::str::contains("was unreadable")
            .and(predicate::str::contains("kept it as"))
            .and(predicate::function(|s: &str| s.lines().count() == 1)),
    );
    let kept = std::fs::read_dir(f.state())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains(".bad-")
        })
        .count();
    assert_eq!(kept, 1);
    f.cmd().args(["--", "true"]).assert().success().stderr("");
}

/// Three runs of `true` under a fixture, and the state file they wrote.
fn three_runs(f: &Fixture) -> (PathBuf, PathBuf) {
    let config = f.write_config("[guard]\nburst_max_events = 100\n");
    for _ in 0..3 {
        guarded_true(f, &config).assert().success().stderr("");
    }
    let state = std::fs::read_dir(f.state())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "state"))
        .unwrap();
    (config, state)
}

fn guarded_true(f: &Fixture, config: &Path) -> Command {
    let mut c = f.cmd();
    c.arg("--config").arg(config).args(["--", "true"]);
    c
}

fn kept_aside(f: &Fixture) -> Vec<PathBuf> {
    std::fs::read_dir(f.state())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".bad-"))
        .collect()
}

#[test]
fn a_damaged_last_record_is_dropped_reported_and_kept_the_rest_survives() {
    let f = Fixture::new();
    let (config, state) = three_runs(&f);
    // A disk fault: the third run's record is all there, its last byte wrong.
    let mut bytes = std::fs::read(&state).unwrap();
    *bytes.last_mut().unwrap() ^= 0x40;
    std::fs::write(&state, &bytes).unwrap();
    guarded_true(&f, &config).assert().success().stderr(
        predicate::str::contains("were damaged")
            .and(predicate::str::contains("checksum"))
            .and(predicate::str::contains("kept it as"))
            .and(predicate::function(|s: &str| s.lines().count() == 1)),
    );
    let json = f.status_json(&config, "cli");
    assert_eq!(
        json[0]["events_in_window"], 3,
        "two runs before the damage and the one after: {json}"
    );
    let kept = kept_aside(&f);
    assert_eq!(kept.len(), 1);
    assert_eq!(std::fs::read(&kept[0]).unwrap(), bytes);
    guarded_true(&f, &config).assert().success().stderr("");
}

#[test]
fn a_save_cut_short_by_a_killed_run_is_the_old_state_quietly() {
    let f = Fixture::new();
    let (config, state) = three_runs(&f);
    // What a run SIGKILLed inside its one `write` leaves: the kernel copies a write a page at a
    // time and stops between pages, so the third run's record ends early.
    let bytes = std::fs::read(&state).unwrap();
    std::fs::write(&state, &bytes[..bytes.len() - 3]).unwrap();
    guarded_true(&f, &config).assert().success().stderr("");
    assert!(kept_aside(&f).is_empty(), "nothing was damaged");
    let json = f.status_json(&config, "cli");
    assert_eq!(
        json[0]["events_in_window"], 3,
        "the two runs saved before the cut one, and the run after: {json}"
    );
    // That save rewrote the file without the cut bytes: the next run appends to a whole file.
    guarded_true(&f, &config).assert().success().stderr("");
    assert_eq!(f.status_json(&config, "cli")[0]["events_in_window"], 4);
    // Cut again: -v says what was dropped.
    let bytes = std::fs::read(&state).unwrap();
    std::fs::write(&state, &bytes[..bytes.len() - 1]).unwrap();
    f.cmd()
        .arg("-v")
        .arg("--config")
        .arg(&config)
        .args(["--", "true"])
        .assert()
        .success()
        .stderr(predicate::str::contains("dropped an unfinished save"));
    assert_eq!(f.status_json(&config, "cli")[0]["events_in_window"], 4);
    assert!(kept_aside(&f).is_empty());
}

#[test]
fn without_xdg_runtime_dir_state_goes_to_a_private_fallback() {
    let f = Fixture::new();
    let tmp = f.path("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let actor = format!("fallback-test-{}", std::process::id());
    f.cmd()
        .env_remove("PATTERN_GUARD_STATE_DIR")
        .env_remove("XDG_RUNTIME_DIR")
        .env("TMPDIR", &tmp)
        .args(["--actor", &actor, "--", "true"])
        .assert()
        .success();
    let uid = nix::unistd::geteuid().as_raw();
    let candidates = [
        PathBuf::from(format!("/run/user/{uid}/pattern-guard")),
        tmp.join(format!("pattern-guard-{uid}")),
    ];
    let used = candidates
        .iter()
        .find(|d| {
            std::fs::read_dir(d).is_ok_and(|mut it| {
                it.any(|e| e.unwrap().file_name().to_string_lossy().starts_with(&actor))
            })
        })
        .expect("a state file in /run/user/UID or $TMPDIR/pattern-guard-UID");
    assert_eq!(
        std::fs::metadata(used).unwrap().permissions().mode() & 0o777,
        0o700
    );
    f.cmd()
        .env_remove("PATTERN_GUARD_STATE_DIR")
        .env_remove("XDG_RUNTIME_DIR")
        .env("TMPDIR", &tmp)
        .args(["reset", &actor])
        .assert()
        .success();
}

#[test]
fn xdg_runtime_dir_holds_the_state_in_a_private_directory() {
    let f = Fixture::new();
    let runtime = f.path("runtime");
    std::fs::create_dir(&runtime).unwrap();
    f.cmd()
        .env_remove("PATTERN_GUARD_STATE_DIR")
        .env("XDG_RUNTIME_DIR", &runtime)
        .args(["--", "true"])
        .assert()
        .success();
    let dir = runtime.join("pattern-guard");
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        2,
        "a state file and its lock file"
    );
}

#[test]
fn twenty_concurrent_invocations_lose_no_event() {
    let f = Fixture::new();
    let cfg = f.write_config(
        "[guard]\nburst_max_events = 1000\nrepetition_max_count = 1000\nmax_events_per_actor = 2000\n",
    );
    let children: Vec<_> = (0..20)
        .map(|_| {
            Std::new(env!("CARGO_BIN_EXE_pattern-guard"))
                .env("PATTERN_GUARD_STATE_DIR", f.state())
                .arg("--config")
                .arg(&cfg)
                .args(["--", "true"])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let json = f.status_json(&cfg, "cli");
    assert_eq!(json[0]["events_in_window"], 20, "{json}");
}

#[test]
fn check_records_an_event_and_its_exit_status_tells_the_decision() {
    let f = Fixture::new();
    let codes: Vec<i32> = (0..6)
        .map(|_| {
            f.demo()
                .args(["check", "--actor", "api", "--target", "/x"])
                .output()
                .unwrap()
                .status
                .code()
                .unwrap()
        })
        .collect();
    assert_eq!(codes, [0, 0, 0, 10, 11, 75]);
    let out = f
        .demo()
        .args(["check", "--actor", "api", "--json"])
        .assert()
        .code(75)
        .get_output()
        .stdout
        .clone();
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json["decision"], "block");
    assert_eq!(json["readings"][0]["detector"], "burst");
    assert_eq!(json["readings"][0]["observed"], 7.0);
    assert!(json["retry_after_secs"].as_f64().unwrap() > 0.0);
}

#[test]
fn status_and_reset_show_and_forget_history() {
    let f = Fixture::new();
    for _ in 0..2 {
        f.cmd()
            .args(["--actor", "job-a", "--", "true"])
            .assert()
            .success();
    }
    f.cmd()
        .args(["--actor", "job-b", "--", "true"])
        .assert()
        .success();
    f.cmd()
        .arg("status")
        .assert()
        .success()
        .stdout(predicate::str::contains("job-a").and(predicate::str::contains("job-b")));
    for _ in 0..2 {
        f.demo()
            .args(["--actor", "busy", "--", "true"])
            .assert()
            .success();
    }
    // Two runs in the window, max 3: the next (3rd event) is allowed; after a third run the
    // next (4th event) would warn.
    let json = f.status_json(Path::new(DEMO), "busy");
    assert_eq!(json[0]["next_run"]["decision"], "allow", "{json}");
    f.demo()
        .args(["--actor", "busy", "--", "true"])
        .assert()
        .success();
    let json = f.status_json(Path::new(DEMO), "busy");
    assert_eq!(json[0]["next_run"]["decision"], "warn", "{json}");
    f.demo()
        .args(["status", "busy"])
        .assert()
        .success()
        .stdout(predicate::str::contains("warn (risk 0.33)"));
    f.cmd().args(["reset", "busy"]).assert().success();
    f.cmd()
        .args(["reset", "job-a"])
        .assert()
        .success()
        .stderr("pattern-guard: forgot actor 'job-a'\n");
    let out = f.cmd().args(["status", "--json"]).output().unwrap().stdout;
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["actor"], "job-b");
    f.cmd().args(["reset", "--all"]).assert().success();
    f.cmd()
        .args(["status"])
        .assert()
        .success()
        .stderr(predicate::str::contains("no history"));
    f.cmd().args(["--repeat", "2", "status"]).assert().code(125);
}

#[test]
fn jobs_with_different_actors_do_not_interfere() {
    let f = Fixture::new();
    for _ in 0..5 {
        f.demo()
            .args(["--actor", "noisy", "--", "true"])
            .assert()
            .success();
    }
    f.demo()
        .args(["--actor", "noisy", "--", "true"])
        .assert()
        .code(75);
    f.demo()
        .args(["--actor", "quiet", "--", "true"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn dry_run_reports_but_never_blocks_or_records() {
    let f = Fixture::new();
    for _ in 0..5 {
        f.demo().args(["--", "true"]).assert().success();
    }
    let marker = f.path("ran");
    f.demo()
        .args(["--dry-run", "--", "touch"])
        .arg(&marker)
        .assert()
        .success()
        .stderr(predicate::str::contains("blocked").and(predicate::str::contains("dry run")));
    assert!(marker.exists(), "a dry run runs the command");
    f.demo()
        .args(["--", "true"])
        .assert()
        .code(75)
        .stderr(predicate::str::contains("burst: 6 events"));
}

#[test]
fn hostile_state_directories_are_refused() {
    let f = Fixture::new();
    let real = f.path("real");
    std::fs::create_dir(&real).unwrap();
    let link = f.path("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    f.cmd()
        .env("PATTERN_GUARD_STATE_DIR", &link)
        .args(["--", "true"])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("is a symlink"));
    let open = f.path("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    f.cmd()
        .env("PATTERN_GUARD_STATE_DIR", &open)
        .args(["--", "true"])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("writable by group or others"));
    if nix::unistd::geteuid().is_root() {
        let theirs = f.path("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
        nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
        f.cmd()
            .env("PATTERN_GUARD_STATE_DIR", &theirs)
            .args(["--", "true"])
            .assert()
            .code(125)
            .stderr(predicate::str::contains("not to you"));
    }
}

/// `man/pattern-guard.1` and `completions/` are generated from the clap definition and checked
/// in; this fails when they are out of date (`UPDATE_DOCS=1 cargo test --test cli` rewrites them).
#[test]
fn man_page_and_completions_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let f = Fixture::new();
    let mut stale = vec![];
    let files = [
        (vec!["man"], "man/pattern-guard.1"),
        (
            vec!["completions", "bash"],
            "completions/pattern-guard.bash",
        ),
        (vec!["completions", "zsh"], "completions/_pattern-guard"),
        (
            vec!["completions", "fish"],
            "completions/pattern-guard.fish",
        ),
        (
            vec!["completions", "elvish"],
            "completions/pattern-guard.elv",
        ),
        (
            vec!["completions", "powershell"],
            "completions/_pattern-guard.ps1",
        ),
    ];
    for (args, file) in files {
        let fresh = f
            .cmd()
            .args(&args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        assert!(!fresh.is_empty(), "{file}");
        let path = root.join(file);
        if std::fs::read(&path).ok().as_deref() != Some(&fresh[..]) {
            if std::env::var_os("UPDATE_DOCS").is_some() {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &fresh).unwrap();
            } else {
                stale.push(file);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {stale:?}; run UPDATE_DOCS=1 cargo test --test cli"
    );
}

/// `sh -c SHELL_LINE` on a pseudo-terminal of its own (script(1), from util-linux), within 20 s.
fn in_a_terminal(shell_line: &str) -> Std {
    assert!(
        Std::new("script").arg("--version").output().is_ok(),
        "`script` (util-linux) is needed to give the command a terminal"
    );
    let mut command = Std::new("timeout");
    command.args(["20", "script", "-qec", shell_line, "/dev/null"]);
    command
}

/// What `pattern-guard FLAGS -- sh -c SCRIPT` prints at a terminal given `hello` as input;
/// fails if it does not end with status 0 within the time limit.
fn at_a_terminal(f: &Fixture, flags: &str, script: &str) -> String {
    let inner = format!(
        "PATTERN_GUARD_STATE_DIR={} {} {flags} -- sh -c '{script}'",
        f.state().display(),
        env!("CARGO_BIN_EXE_pattern-guard")
    );
    let mut child = in_a_terminal(&inner)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "timed out or failed: {text}");
    text
}

/// With `--watch-output` at a terminal, the command still reads the terminal (stdin and the
/// foreground group are left alone), writes into pipes (docs/WATCH.md: no pseudo-terminal), and
/// what it writes reaches the terminal.
#[test]
fn a_watched_command_at_a_terminal_reads_it_and_writes_through_pipes() {
    let f = Fixture::new();
    let text = at_a_terminal(
        &f,
        "--watch-output",
        "read line; echo got:$line; [ -t 1 ] && echo out:tty || echo out:pipe; [ -t 0 ] && echo in:tty",
    );
    for expected in ["got:hello", "out:pipe", "in:tty"] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
}

/// At a terminal the command gets the terminal: it can read it (in its own process group it would
/// otherwise be stopped by SIGTTIN, the trap GNU timeout needs --foreground for).
#[test]
fn an_interactive_command_can_read_the_terminal() {
    let f = Fixture::new();
    let text = at_a_terminal(&f, "", "read line; echo got:$line");
    assert!(text.contains("got:hello"), "{text}");
}

/// Starts `pattern-guard ARGS -- sh -c SCRIPT` in the background; returns once the script wrote
/// its ready file.
fn start_background(f: &Fixture, args: &[&str], ready: &Path, rest: &str) -> std::process::Child {
    let script = format!("echo up > {}; {rest}", ready.display());
    let child = Std::new(env!("CARGO_BIN_EXE_pattern-guard"))
        .env("PATTERN_GUARD_STATE_DIR", f.state())
        .env("XDG_CONFIG_HOME", f.path("config"))
        .args(args)
        .args(["--", "sh", "-c", &script])
        .spawn()
        .unwrap();
    wait_for(ready);
    child
}

#[test]
fn overlap_limit_refuses_a_second_run_while_one_is_going() {
    let f = Fixture::new();
    let ready = f.path("ready");
    let first = start_background(&f, &["--max-concurrent", "1"], &ready, "sleep 30");
    let marker = f.path("second-ran");
    f.cmd()
        .args(["--max-concurrent", "1", "--", "touch"])
        .arg(&marker)
        .assert()
        .code(75)
        .stderr(predicate::str::contains(
            "already has 1 run(s) going (max_concurrent 1)",
        ));
    assert!(!marker.exists(), "the refused run must not start");
    f.cmd()
        .args(["status", "cli", "--json"])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("\"pid\":{}", first.id())));
    let pid = nix::unistd::Pid::from_raw(first.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    first.wait_with_output().unwrap();
    f.cmd()
        .args(["--max-concurrent", "1", "--", "touch"])
        .arg(&marker)
        .assert()
        .success();
    assert!(marker.exists(), "the slot is free once the first run ended");
}

#[test]
fn a_crashed_wrapper_does_not_hold_its_slot() {
    let f = Fixture::new();
    let ready = f.path("ready");
    // The command is the wrapper's own child (`exec`): the README's promise is that a child
    // whose pattern-guard is killed outright gets SIGKILL too.
    let child_pid = f.path("child-pid");
    let rest = format!("echo $$ > {}; exec sleep 30", child_pid.display());
    let first = start_background(&f, &["--max-concurrent", "1"], &ready, &rest);
    let child: i32 = wait_for(&child_pid).trim().parse().unwrap();
    let pid = nix::unistd::Pid::from_raw(first.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    first.wait_with_output().unwrap();
    // Gone, or a zombie waiting for whoever adopted it.
    let gone = || {
        std::fs::read_to_string(format!("/proc/{child}/stat")).map_or(true, |stat| {
            stat.rsplit(") ").next().is_some_and(|s| s.starts_with('Z'))
        })
    };
    let start = Instant::now();
    while !gone() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the command outlived its killed wrapper"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    f.cmd()
        .args(["--max-concurrent", "1", "--", "true"])
        .assert()
        .success();
}

#[test]
fn overlap_wait_starts_once_the_running_job_ends() {
    let f = Fixture::new();
    let cfg =
        f.write_config("[guard.actors.\"backup\"]\nmax_concurrent = 1\non_overlap = \"wait\"\n");
    let ready = f.path("ready");
    let done = f.path("first-done");
    let first = Std::new(env!("CARGO_BIN_EXE_pattern-guard"))
        .env("PATTERN_GUARD_STATE_DIR", f.state())
        .arg("--config")
        .arg(&cfg)
        .args(["--actor", "backup", "--", "sh", "-c"])
        .arg(format!(
            "echo up > {}; sleep 1; echo done > {}",
            ready.display(),
            done.display()
        ))
        .spawn()
        .unwrap();
    wait_for(&ready);
    let second_saw = f.path("second-saw");
    f.cmd()
        .arg("--config")
        .arg(&cfg)
        .args(["--actor", "backup", "--", "sh", "-c"])
        .arg(format!(
            "test -e {} && echo yes > {}",
            done.display(),
            second_saw.display()
        ))
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "waiting: actor 'backup' already has 1 run(s)",
        ));
    assert!(
        second_saw.exists(),
        "the second run started only after the first had finished"
    );
    first.wait_with_output().unwrap();
}

#[test]
fn a_signal_during_a_delay_ends_pattern_guard_without_running_the_command() {
    let f = Fixture::new();
    let cfg = f.write_config("[guard]\nallow_below = 0.0\nwarn_below = 0.0\ndelay_secs = 30\n");
    let marker = f.path("ran");
    let child = Std::new(env!("CARGO_BIN_EXE_pattern-guard"))
        .env("PATTERN_GUARD_STATE_DIR", f.state())
        .arg("--config")
        .arg(&cfg)
        .args(["--", "touch"])
        .arg(&marker)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The delay line is written before the wait starts; give it a moment to reach the wait.
    let start = Instant::now();
    while std::fs::read_dir(f.state()).map_or(0, Iterator::count) < 2 {
        assert!(start.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + 15));
    assert!(String::from_utf8_lossy(&out.stderr).contains("delaying"));
    assert!(
        !marker.exists(),
        "the command must not run after an interrupted delay"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_child_does_not_outlive_a_killed_pattern_guard() {
    let f = Fixture::new();
    let pid_file = f.path("child.pid");
    let wrapper = Std::new(env!("CARGO_BIN_EXE_pattern-guard"))
        .env("PATTERN_GUARD_STATE_DIR", f.state())
        .args(["--", "sh", "-c"])
        .arg(format!(
            "echo $$ > {}.tmp; mv {0}.tmp {0}; exec sleep 300",
            pid_file.display()
        ))
        .spawn()
        .unwrap();
    let child_pid: i32 = wait_for(&pid_file).trim().parse().unwrap();
    let pid = nix::unistd::Pid::from_raw(wrapper.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
    wrapper.wait_with_output().unwrap();
    let start = Instant::now();
    while alive(child_pid) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(child_pid),
        "the child ran on after pattern-guard was killed"
    );
}

#[test]
fn repeat_stops_at_a_command_that_cannot_start() {
    let f = Fixture::new();
    f.cmd()
        .args(["--repeat", "5", "--", "no-such-command-here"])
        .assert()
        .code(127)
        .stderr(predicate::function(|s: &str| s.lines().count() == 1));
}

/// At a terminal a delay draws a countdown on stderr; `-q` silences it with the other notes.
#[test]
fn the_delay_countdown_shows_at_a_terminal_and_not_under_quiet() {
    let f = Fixture::new();
    // Every risk falls in the delay band: each run waits a second first.
    let config = f.path("delay.toml");
    std::fs::write(
        &config,
        "[guard]\nallow_below = 0.0\nwarn_below = 0.0\ndelay_below = 1.0\ndelay_secs = 1\n\
         escalation_max_level = 0\n",
    )
    .unwrap();
    let at_terminal = |quiet: &str| {
        let inner = format!(
            "PATTERN_GUARD_STATE_DIR={} {} {quiet} --config {} -- true",
            f.state().display(),
            env!("CARGO_BIN_EXE_pattern-guard"),
            config.display()
        );
        let out = in_a_terminal(&inner).stdin(Stdio::null()).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = at_terminal("");
    assert!(shown.contains("delaying 'true' by 1s"), "{shown}");
    assert!(
        shown.contains("pattern-guard: waiting"),
        "no countdown: {shown}"
    );
    let quiet = at_terminal("-q");
    assert!(!quiet.contains("delaying"), "{quiet}");
    assert!(!quiet.contains("waiting"), "a countdown under -q: {quiet}");
}

/// Once the command ran, its exit status is what the caller gets: a state problem afterwards
/// (here the state directory is gone when the run's overlap slot is released) is reported in one
/// line, not turned into 125.
#[test]
fn a_state_error_after_the_run_keeps_the_commands_exit_status() {
    let f = Fixture::new();
    let state = f.state();
    let out = f
        .cmd()
        .args(["--max-concurrent", "1", "--", "sh", "-c"])
        .arg(format!("rm -rf '{}'; exit 3", state.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("could not take this run off actor 'cli''s running instances"),
        "{stderr}"
    );
}

/// The README's first command walks the whole sequence from a fresh state: allow x3, warn,
/// delay, block (exit 75), with the lines the README shows.
#[test]
fn the_readmes_first_command_shows_every_decision() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let args = "--config guard.toml.demo --explain --repeat 8 -- echo hello";
    assert!(
        readme.contains(&format!("cargo run -- --state-dir \"$(mktemp -d)\" {args}")),
        "the README's first command changed: update this test"
    );
    let f = Fixture::new();
    let out = f
        .std()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["--state-dir"])
        .arg(f.path("fresh"))
        .args(args.split(' '))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(75), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n".repeat(5));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let decisions: Vec<&str> = stderr
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    assert_eq!(
        decisions,
        ["allow", "allow", "allow", "warning:", "delaying", "blocked"],
        "{stderr}"
    );
    for line in stderr.lines().take(5) {
        assert!(readme.contains(line), "the README does not show: {line}");
    }
}

/// `status` says which configuration its NEXT RUN column was evaluated under, and warns when an
/// actor's last run used another one (the runs here block under the demo config; status without
/// it would show "allow").
#[test]
fn status_names_its_configuration_and_warns_when_the_runs_used_another() {
    let f = Fixture::new();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEMO);
    for _ in 0..6 {
        f.cmd()
            .arg("--config")
            .arg(&demo)
            .args(["--", "true"])
            .output()
            .unwrap();
    }
    let under_defaults = f.cmd().arg("status").output().unwrap();
    assert!(under_defaults.status.success());
    let stdout = String::from_utf8_lossy(&under_defaults.stdout);
    let stderr = String::from_utf8_lossy(&under_defaults.stderr);
    assert!(stdout.contains("allow (risk 0.00)"), "{stdout}");
    assert!(
        stdout.contains("(NEXT RUN evaluated under built-in defaults)"),
        "{stdout}"
    );
    let canonical = demo.canonicalize().unwrap();
    assert!(
        stderr.contains(&format!(
            "actor 'cli' last ran under {}, not built-in defaults",
            canonical.display()
        )),
        "{stderr}"
    );
    // Under the runs' own configuration: their view, and no warning.
    let json = f.status_json(&demo, "cli");
    assert_eq!(json[0]["next_run"]["decision"], "block", "{json}");
    assert_eq!(json[0]["config_differs"], false, "{json}");
    let same = f
        .cmd()
        .arg("--config")
        .arg(&demo)
        .arg("status")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&same.stderr).is_empty(), "{same:?}");
    // The same file edited since the runs: said so.
    let copy = f.path("guard.toml");
    std::fs::copy(&demo, &copy).unwrap();
    f.cmd()
        .arg("--config")
        .arg(&copy)
        .args(["--", "true"])
        .output()
        .unwrap();
    std::fs::write(&copy, "[guard]\nburst_max_events = 50\n").unwrap();
    let edited = f
        .cmd()
        .arg("--config")
        .arg(&copy)
        .arg("status")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&edited.stderr);
    assert!(
        stderr.contains("as it was then; the file has changed since"),
        "{stderr}"
    );
}
