#![cfg(feature = "cli")] // runs the binary, which needs the `cli` feature
//! Hardening through the real binary: concurrency, crashes, orphans, hostile state, arguments and
//! configuration. Bounded versions of what `scripts/reliability.sh` runs at full size (figures in
//! docs/RELIABILITY.md).

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Std, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::assert::OutputAssertExt;
use predicates::prelude::*;

mod support;
use support::Fixture;

/// Limits no test run reaches: every run is allowed and recorded.
const OPEN: &str = "[guard]\nwindow_secs = 3600\nburst_max_events = 1000000\nrepetition_max_count = 1000000\nhopping_max_targets = 1000000\nmax_events_per_actor = 2000000\nweight_max_total = 1e12\n";

/// A fixture with `open.toml` written.
fn fixture() -> Fixture {
    let f = Fixture::new();
    f.write("open.toml", OPEN.as_bytes());
    f
}

impl Fixture {
    /// A wrapped `true` under limits that allow everything.
    fn open_run(&self) -> Std {
        let mut c = self.std();
        c.arg("--config")
            .arg(self.path("open.toml"))
            .args(["--", "true"]);
        c
    }

    /// Events in actor `cli`'s window; panics if the state cannot be read cleanly.
    fn events(&self) -> u64 {
        let out = self
            .cmd()
            .arg("--config")
            .arg(self.path("open.toml"))
            .args(["status", "cli", "--json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert!(
            out.stderr.is_empty(),
            "status complained: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json[0]["events_in_window"].as_u64().unwrap_or(0)
    }

    fn files_containing(&self, part: &str) -> Vec<PathBuf> {
        std::fs::read_dir(self.state())
            .map(|d| {
                d.map(|e| e.unwrap().path())
                    .filter(|p| p.to_string_lossy().contains(part))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn state_file(&self) -> PathBuf {
        self.files_containing(".state")
            .into_iter()
            .find(|p| p.extension().is_some_and(|x| x == "state"))
            .expect("a state file")
    }
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
}

fn wait_gone(pid: i32) -> bool {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

fn wait_for_file(path: &Path) -> String {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            if text.ends_with('\n') {
                return text;
            }
        }
        assert!(Instant::now() < end, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn kill(child: &Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

#[test]
fn sixty_four_wrappers_at_once_lose_no_event_round_after_round() {
    let f = fixture();
    for round in 1..=3u64 {
        let children: Vec<Child> = (0..64)
            .map(|_| f.open_run().stdout(Stdio::null()).spawn().unwrap())
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        assert_eq!(f.events(), 64 * round, "after round {round}");
    }
    assert!(f.files_containing(".bad-").is_empty());
}

#[test]
fn killed_at_random_moments_the_state_is_always_the_old_or_the_new() {
    let f = fixture();
    let seeded = f
        .std()
        .arg("--config")
        .arg(f.path("open.toml"))
        .args(["--repeat", "300", "--", "true"])
        .status()
        .unwrap();
    assert!(seeded.success());
    let mut before = f.events();
    assert_eq!(before, 300);
    // Deterministic "random" moments, from 0 to 8 ms after the start.
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..40 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let child = f.open_run().stdout(Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_micros(x % 8000));
        kill(&child);
        let mut child = child;
        let _ = child.wait();
        let after = f.events();
        assert!(
            after == before || after == before + 1,
            "kill {i}: {before} events before, {after} after"
        );
        before = after;
    }
    assert!(
        f.files_containing(".bad-").is_empty(),
        "no state was ever unreadable"
    );
    // A killed compaction may leave its temp file; the next compaction removes it.
    for _ in 0..33 {
        assert!(f.open_run().status().unwrap().success());
    }
    assert!(f.files_containing(".tmp-").is_empty());
    assert_eq!(f.events(), before + 33);
}

#[test]
fn the_child_never_outlives_a_killed_pattern_guard() {
    let f = fixture();
    for i in 0..10 {
        let pidfile = f.path(&format!("child-{i}"));
        let script = format!("echo $$ > {}; exec sleep 300", pidfile.display());
        let wrapper = f
            .open_run_with(&["sh", "-c", &script])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let pid: i32 = wait_for_file(&pidfile).trim().parse().unwrap();
        kill(&wrapper);
        let mut wrapper = wrapper;
        let _ = wrapper.wait();
        assert!(
            wait_gone(pid),
            "run {i}: child {pid} outlived its SIGKILLed wrapper"
        );
    }
}

#[test]
fn a_runaway_and_its_grandchildren_are_gone_after_the_stop_sequence() {
    let f = fixture();
    for i in 0..5 {
        let pids = f.path(&format!("pids-{i}"));
        let script = format!(
            "sleep 300 & a=$!; (trap '' TERM; sleep 300) & b=$!; echo \"$$ $a $b\" > {}; wait",
            pids.display()
        );
        let mut c = f.std();
        c.arg("--config")
            .arg(f.path("open.toml"))
            .args([
                "--max-runtime",
                "0.3s",
                "--kill-after",
                "0.3s",
                "--",
                "sh",
                "-c",
                &script,
            ])
            .stderr(Stdio::null());
        let status = c.status().unwrap();
        assert!(
            matches!(status.code(), Some(124 | 137)),
            "run {i}: {status:?}"
        );
        for pid in wait_for_file(&pids).split_whitespace() {
            let pid: i32 = pid.parse().unwrap();
            assert!(wait_gone(pid), "run {i}: {pid} left behind");
        }
    }
}

impl Fixture {
    fn open_run_with(&self, argv: &[&str]) -> Std {
        let mut c = self.std();
        c.arg("--config")
            .arg(self.path("open.toml"))
            .arg("--")
            .args(argv);
        c
    }
}

/// One way of damaging a state file.
type Damage<'a> = Box<dyn Fn() + 'a>;

#[test]
fn hostile_state_files_are_set_aside_in_one_line_and_never_followed() {
    let f = fixture();
    assert!(f.open_run().status().unwrap().success());
    let state = f.state_file();
    let outside = f.path("precious.txt");
    let cases: Vec<(&str, Damage)> = vec![
        (
            "symlink",
            Box::new(|| {
                std::fs::write(&outside, "do not touch").unwrap();
                std::fs::remove_file(&state).unwrap();
                std::os::unix::fs::symlink(&outside, &state).unwrap();
            }),
        ),
        (
            "not a pattern-guard state file",
            Box::new(|| std::fs::write(&state, b"\x8f\x00random\xffbytes at all").unwrap()),
        ),
        (
            "truncated",
            Box::new(|| {
                let bytes = std::fs::read(&state).unwrap();
                std::fs::write(&state, &bytes[..bytes.len().min(20)]).unwrap();
            }),
        ),
        (
            "format 9",
            Box::new(|| {
                let mut bytes = std::fs::read(&state).unwrap();
                bytes[7] = b'9';
                std::fs::write(&state, bytes).unwrap();
            }),
        ),
        (
            "over the 64 MiB limit",
            Box::new(|| {
                let file = std::fs::File::create(&state).unwrap();
                file.set_len(1 << 30).unwrap(); // 1 GiB, sparse: never read
            }),
        ),
    ];
    for (says, damage) in cases {
        damage();
        f.open_run().assert().success().stderr(
            predicate::str::contains(says)
                .and(predicate::str::contains("kept it as"))
                .and(predicate::function(|s: &str| s.lines().count() == 1)),
        );
        assert_eq!(
            f.events(),
            1,
            "{says}: a fresh history holds the new run only"
        );
        for bad in f.files_containing(".bad-") {
            std::fs::remove_file(bad).unwrap();
        }
    }
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "do not touch",
        "the symlink's target was neither read into the state nor written"
    );

    // A symlinked lock file is refused, not followed.
    let lock = state.with_extension("lock");
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&outside, &lock).unwrap();
    f.open_run()
        .assert()
        .code(125)
        .stderr(predicate::str::contains("symlink"));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "do not touch");
}

#[test]
fn hostile_arguments_get_clear_errors_or_bounded_storage() {
    use std::os::unix::ffi::OsStrExt;
    let f = fixture();
    let marker = f.path("ran");
    let touch = format!("touch {}", marker.display());
    // Bad weights and times are refused before anything runs.
    for bad in ["nan", "-1", "inf", "lots"] {
        f.cmd()
            .args(["--weight", bad, "--", "sh", "-c", &touch])
            .assert()
            .code(125)
            .stderr(predicate::str::contains("invalid weight"));
    }
    let not_utf8 = std::ffi::OsStr::from_bytes(b"\xff\xfe");
    f.cmd()
        .arg("--actor")
        .arg(not_utf8)
        .args(["--", "sh", "-c", &touch])
        .assert()
        .code(125)
        .stderr(predicate::str::contains("UTF-8"));
    assert!(!marker.exists());

    // The command's own arguments are passed through byte for byte.
    f.cmd()
        .args([
            "--",
            "sh",
            "-c",
            "test \"$1\" = \"$(printf '\\377\\376')\"",
            "_",
        ])
        .arg(not_utf8)
        .assert()
        .success();

    // A 100 KB actor (argv's limit is 128 KB a string) is stored bounded.
    let huge = "a".repeat(100_000);
    f.cmd()
        .args(["--actor", &huge, "--target", &huge, "--", "true"])
        .assert()
        .success();
    let big = std::fs::read_dir(f.state())
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.file_name().to_string_lossy().ends_with(".state"))
        .unwrap();
    assert!(big.file_name().len() < 80, "{:?}", big.file_name());
    assert!(big.metadata().unwrap().len() < 2_000);

    // Times at the epoch and far in the future.
    for at in [
        "0",
        "1970-01-01T00:00:00Z",
        "9999999999",
        "2554-07-21T23:34:33Z",
    ] {
        f.cmd()
            .args(["check", "--actor", "time-traveller", "--at", at])
            .assert()
            .success();
    }
    for (at, says) in [
        ("-5", "not a time"),
        ("99999999999999", "too far in the future"),
        ("9999-12-31T23:59:59Z", "too far in the future"),
    ] {
        f.cmd()
            .args(["check", "--at", at])
            .assert()
            .code(125)
            .stderr(predicate::str::contains(says));
    }
}

#[test]
fn hostile_configs_fail_with_their_location_and_run_nothing() {
    let f = fixture();
    let marker = f.path("ran");
    let touch = format!("touch {}", marker.display());
    let mut cases: Vec<(String, String)> = Vec::new();
    for k in pattern_guard::KEYS {
        let wrong = if k.range.type_name() == "string" {
            "42"
        } else {
            "\"lots\""
        };
        cases.push((format!("[guard]\n{} = {wrong}\n", k.name), ":2:".into()));
    }
    for (text, at) in [
        ("[guard]\nno_such_key = 1\n", ":2:"),
        ("[gaurd]\nburst_max_events = 3\n", ":1:"),
        ("[guard]\nallow_below = 0.8\nwarn_below = 0.5\n", ":3:"),
        ("[guard]\nburst_max_events = 0\n", ":2:"),
        (
            "[guard]\nburst_max_events = 99999999999999999999999\n",
            ":2:",
        ),
        ("[guard]\nwindow_secs = 1e400\n", ":2:"),
        ("[guard]\nwindow_secs = -5\n", ":2:"),
        ("[guard]\nmax_events_per_actor = 100000000000\n", ":2:"),
        ("[guard.actors.\"x\"]\nmax_actors = 5\n", ":2:"),
        ("[guard\n", ":1:"),
    ] {
        cases.push((text.into(), at.into()));
    }
    // 10 MiB: comments, then one bad line at the end.
    let mut big = String::from("[guard]\n");
    while big.len() < 10 << 20 {
        big.push_str("# a comment line to make the file large, as a runaway generator might\n");
    }
    let last = big.lines().count() + 1;
    big.push_str("burst_max_events = \"many\"\n");
    cases.push((big, format!(":{last}:")));

    for (text, at) in &cases {
        let path = f.path("bad.toml");
        std::fs::write(&path, text).unwrap();
        f.cmd()
            .arg("--config")
            .arg(&path)
            .args(["--", "sh", "-c", &touch])
            .assert()
            .code(125)
            .stderr(predicate::str::contains(format!("bad.toml{at}")));
        assert!(
            !marker.exists(),
            "ran under {}",
            &text[..text.len().min(80)]
        );
    }
}
