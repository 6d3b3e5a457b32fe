#![cfg(feature = "cli")] // runs the binary, which needs the `cli` feature
//! `--watch-output` through the real binary: output passes through byte for byte, real tools'
//! output is never taken for a loop, made-up loops are stopped, throttling is back-pressure.

use std::fmt::Write;
use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::Fixture;

impl Fixture {
    /// `pattern-guard [ARGS] -- sh -c SCRIPT`, its output captured.
    fn watched(&self, args: &[&str], script: &str) -> Output {
        self.std()
            .args(args)
            .args(["--", "sh", "-c", script])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

/// `sh -c SCRIPT` unwrapped, its output captured.
fn unwrapped(script: &str) -> Output {
    Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The lines pattern-guard itself wrote on stderr.
fn own_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains("pattern-guard: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn output_passes_through_byte_for_byte_on_both_streams() {
    let f = Fixture::new();
    // Varied text (on both streams), binary data, a 3 MB line, CRLF, no final newline.
    let words = [
        "alpha",
        "beta",
        "gamma",
        "delta",
        "served",
        "GET",
        "/api/items",
        "ok",
        "timeout",
    ];
    let mut text = String::new();
    for i in 0..20_000usize {
        let line: Vec<&str> = (0..2 + i % 5)
            .map(|k| words[(i * 7 + k * 13 + i / 9) % words.len()])
            .collect();
        // A word of its own (the line's number in letters: numbers are masked), so no two
        // lines are the same to the watch.
        let mut id = String::new();
        let mut n = i;
        loop {
            id.push(char::from(b'a' + (n % 26) as u8));
            n /= 26;
            if n == 0 {
                break;
            }
        }
        let _ = writeln!(text, "{} {id} #{}", line.join(" "), i % 97);
    }
    let text = f.write("text", text.as_bytes());
    let data = f.write(
        "binary",
        &(0..2_000_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect::<Vec<u8>>(),
    );
    let script = format!(
        "while read -r l; do echo \"$l\" >&2; done < '{text}'; cat '{text}' '{data}'; \
         printf 'dos line\\r\\n'; head -c 3000000 /dev/zero | tr '\\0' 'a'; \
         echo; echo 'err tail' >&2; printf 'no newline at the end'",
        text = text.display(),
        data = data.display()
    );
    let plain = unwrapped(&script);
    let watched = f.watched(&["--watch-output"], &script);
    assert!(watched.status.success(), "{:?}", own_lines(&watched.stderr));
    assert_eq!(watched.stdout.len(), plain.stdout.len());
    assert!(
        watched.stdout == plain.stdout,
        "stdout differs from the unwrapped command's"
    );
    assert_eq!(watched.stderr, plain.stderr, "stderr differs");
    assert!(plain.stdout.len() > 5_000_000);
}

#[test]
fn off_the_command_keeps_our_streams_on_the_command_gets_pipes() {
    let f = Fixture::new();
    let out_file = f.path("out.txt");
    let fd1 = |args: &[&str]| {
        let status = f
            .std()
            .args(args)
            .args(["--", "sh", "-c", "readlink /proc/self/fd/1"])
            .stdout(std::fs::File::create(&out_file).unwrap())
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read_to_string(&out_file).unwrap()
    };
    assert_eq!(fd1(&[]).trim(), out_file.display().to_string());
    assert!(fd1(&["--watch-output"]).starts_with("pipe:"));
    // The config key turns it on too, per actor.
    let config = f.write("guard.toml", b"[guard.actors.job]\nwatch_output = true\n");
    let config = config.to_str().unwrap();
    assert!(fd1(&["--config", config, "--actor", "job"]).starts_with("pipe:"));
    assert!(!fd1(&["--config", config, "--actor", "other"]).starts_with("pipe:"));
}

#[test]
fn made_up_loops_are_stopped_with_124_and_say_so() {
    let cases = [
        (
            "the same message forever",
            "while :; do echo 'connection refused, retrying'; done",
            "stdout",
        ),
        (
            "a counter and a duration",
            "i=0; while :; do i=$((i+1)); echo \"attempt $i failed after $((i*3))ms\"; done",
            "stdout",
        ),
        (
            "a traceback repeated",
            "while :; do printf 'Traceback (most recent call last):\\n  File \"w.py\", line 4, in run\\nConnectionError: refused\\n'; done",
            "stdout",
        ),
        (
            "two messages alternating",
            "while :; do echo 'polling queue'; echo 'queue empty'; done",
            "stdout",
        ),
        (
            "stderr storming, stdout quiet",
            "echo starting; while :; do echo 'EAGAIN: resource temporarily unavailable' >&2; done",
            "stderr",
        ),
    ];
    for (name, script, stream) in cases {
        let f = Fixture::new();
        let started = Instant::now();
        let out = f.watched(&["--watch-output"], script);
        let own = own_lines(&out.stderr);
        assert_eq!(out.status.code(), Some(124), "{name}: {own:?}");
        assert!(
            own.iter().any(|l| l.contains("looped: \"")
                && l.contains(&format!("times in 1m on {stream}; sending SIGTERM"))),
            "{name}: {own:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(20), "{name}");
        // status remembers it.
        let status = f.std().args(["status", "--json"]).output().unwrap();
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        assert_eq!(status[0]["last_stop"]["why"], "looped", "{name}");
        assert_eq!(status[0]["last_stop"]["exit"], 124, "{name}");
    }
}

#[test]
fn a_loop_that_ignores_sigterm_is_killed_with_137() {
    let f = Fixture::new();
    let out = f.watched(
        &["--watch-output", "--kill-after", "1s"],
        "trap '' TERM; while :; do echo 'stuck'; done",
    );
    assert_eq!(out.status.code(), Some(137), "{:?}", own_lines(&out.stderr));
}

#[test]
fn a_dry_run_reports_the_loop_and_never_acts() {
    let f = Fixture::new();
    let out = f.watched(
        &["--watch-output", "--dry-run"],
        "i=0; while [ $i -lt 3000 ]; do echo 'same line'; i=$((i+1)); [ $((i % 100)) = 0 ] && sleep 0.05; done; true",
    );
    assert!(out.status.success());
    let own = own_lines(&out.stderr);
    assert!(
        own.iter()
            .any(|l| l.contains("it would be stopped (dry run: not enforced)")),
        "{own:?}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3000);
}

#[test]
fn throttling_blocks_the_commands_writes_then_lets_it_finish() {
    let f = Fixture::new();
    // Repetition can reach the delay band but never block (its weight caps the risk at 0.7).
    let config = f.write(
        "guard.toml",
        b"[output]\nrepetition_max_count = 20\nrisk_weight_repetition = 0.7\ndelay_secs = 2\n",
    );
    let progress = f.path("progress");
    // 4 KB lines, 200 of them, a few milliseconds apart: throttled after half a second, when
    // more than the pipe holds (64 KiB, 16 lines) is still to come, so `echo` blocks.
    let script = format!(
        "line=$(head -c 4000 /dev/zero | tr '\\0' 'x'); i=0; \
         while [ $i -lt 200 ]; do echo \"$line\"; i=$((i+1)); date +%s.%N >> '{}'; sleep 0.001; done",
        progress.display()
    );
    let out = f.watched(
        &["--config", config.to_str().unwrap(), "--watch-output"],
        &script,
    );
    assert!(out.status.success(), "{:?}", own_lines(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 200);
    let own = own_lines(&out.stderr);
    assert!(
        own.iter()
            .any(|l| l.contains("throttling 'sh'") && l.contains("not reading its output for 2s")),
        "{own:?}"
    );
    // The command's own record of its writes stalls while nobody reads.
    let times: Vec<f64> = std::fs::read_to_string(&progress)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let longest = times.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(
        longest >= 1.0,
        "the writes never stalled: longest gap {longest:.3}s"
    );
}

#[test]
fn closing_our_stdout_early_ends_the_command_as_unwrapped() {
    let f = Fixture::new();
    let script = "find /usr -print";
    let run = |wrapped: bool| {
        let mut c = if wrapped {
            let mut c = f.std();
            c.args(["--watch-output", "--", "sh", "-c", script]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", script]);
            c
        };
        let mut child = c
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 5];
        child.stdout.take().unwrap().read_exact(&mut first).unwrap();
        // Our end of the pipe is dropped here, as `| head -c 5` would.
        let started = Instant::now();
        let out = child.wait_with_output().unwrap();
        (
            first,
            out.status.code(),
            out.status,
            started.elapsed(),
            own_lines(&out.stderr),
        )
    };
    let (plain_first, plain_code, plain_status, _, _) = run(false);
    let (first, code, status, took, own) = run(true);
    assert_eq!(first, plain_first);
    assert!(took < Duration::from_secs(5), "{took:?}");
    // Unwrapped, `sh` reports find's SIGPIPE as its status (141) or dies of it; wrapped, the
    // same status comes back as an exit code.
    assert_eq!(
        code.unwrap_or(-1),
        plain_code.unwrap_or(141),
        "{status:?} vs {plain_status:?}; {own:?}"
    );
    assert!(own.is_empty(), "{own:?}");
}

/// Real tools, run as they are on this machine: none is throttled or stopped, and each passes
/// through unchanged.
#[test]
fn real_tools_output_is_never_taken_for_a_loop() {
    let f = Fixture::new();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let krate = f.path("krate");
    std::fs::create_dir_all(krate.join("src")).unwrap();
    std::fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"krate\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    let mut main = String::from("fn main() {\n");
    for i in 0..200 {
        let _ = writeln!(main, "    let v{i} = {i};");
    }
    main.push_str("}\n");
    std::fs::write(krate.join("src/main.rs"), main).unwrap();
    let corpus = [
        ("find /usr", "find /usr".to_string()),
        ("ls -lR /usr/share", "ls -lR /usr/share".to_string()),
        ("ls -lR /usr/lib", "ls -lR /usr/lib".to_string()),
        (
            "dpkg -L of a few packages",
            "dpkg -L coreutils bash libc6 util-linux dpkg".to_string(),
        ),
        ("dpkg -l", "dpkg -l".to_string()),
        (
            "apt-get, simulated",
            "apt-get -s -o Debug::NoLocking=1 install --reinstall coreutils bash dpkg 2>&1".to_string(),
        ),
        (
            "a cargo build, warnings and all",
            format!(
                "cd '{}' && rm -rf target && '{cargo}' build --offline --color never -v 2>&1",
                krate.display()
            ),
        ),
        (
            "a progress bar redrawn with carriage returns",
            "i=0; while [ $i -le 2000 ]; do printf '\\rdownloading %d%% [%d/2000]' $((i/20)) $i; i=$((i+1)); done; echo".to_string(),
        ),
    ];
    for (name, script) in corpus {
        let plain = unwrapped(&script);
        let watched = f.watched(&["--watch-output"], &script);
        let own = own_lines(&watched.stderr);
        assert!(own.is_empty(), "{name}: {own:?}");
        assert_eq!(watched.status.code(), plain.status.code(), "{name}");
        // A build says how long it took; everything else prints the same bytes each time.
        if name.contains("cargo") {
            let lines = |b: &[u8]| String::from_utf8_lossy(b).lines().count();
            assert_eq!(lines(&watched.stdout), lines(&plain.stdout), "{name}");
        } else {
            assert!(
                watched.stdout == plain.stdout,
                "{name}: stdout differs ({} vs {} bytes)",
                watched.stdout.len(),
                plain.stdout.len()
            );
        }
        assert!(!plain.stdout.is_empty(), "{name} printed nothing");
    }
}

#[test]
fn an_hour_of_status_lines_is_normal_and_a_slow_loop_is_stopped_when_its_window_says_so() {
    let f = Fixture::new();
    // The output guard's clock runs 1000 times faster: a line every 5 ms is one every 5 s.
    let hour = "i=0; while [ $i -lt 720 ]; do echo \"[$(date +%T)] processed $((i*137)) records, lag $((i%17))ms\"; i=$((i+1)); sleep 0.005; done";
    let out = f
        .std()
        .env("PATTERN_GUARD_WATCH_TIME_SCALE", "1000")
        .args(["--watch-output", "--", "sh", "-c", hour])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", own_lines(&out.stderr));
    assert!(own_lines(&out.stderr).is_empty());
    // One line every half second or so of the watch's time (100 times faster), under an hour's
    // window and a limit of 100: stopped once 185 are in the window (however slow the machine,
    // 185 lines take less than an hour of the watch's time).
    let config = f.write(
        "guard.toml",
        b"[output]\nwindow_secs = 3600\nrepetition_max_count = 100\n",
    );
    let slow =
        "i=0; while [ $i -lt 1000 ]; do echo 'waiting for lock'; i=$((i+1)); sleep 0.005; done";
    let out = f
        .std()
        .env("PATTERN_GUARD_WATCH_TIME_SCALE", "100")
        .args([
            "--config",
            config.to_str().unwrap(),
            "--watch-output",
            "--",
            "sh",
            "-c",
            slow,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(124), "{:?}", own_lines(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout).lines().count();
    assert!(
        (185..1000).contains(&printed),
        "{printed} lines got through"
    );
}

#[test]
fn info_logging_records_each_output_decision() {
    let f = Fixture::new();
    let out = f
        .std()
        .env("RUST_LOG", "info")
        .args([
            "--watch-output",
            "--",
            "sh",
            "-c",
            "while :; do echo 'again'; done",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(124));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("unusual behaviour") && log.contains("action=\"stdout\""),
        "{log}"
    );
    assert!(log.contains("output loops"), "{log}");
}

#[test]
fn output_settings_that_steer_runs_are_refused() {
    let f = Fixture::new();
    let config = f.write("guard.toml", b"[output]\nmax_runtime_secs = 5\n");
    let out = f
        .std()
        .args(["--config", config.to_str().unwrap(), "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("output.max_runtime_secs") && err.contains("[guard]"),
        "{err}"
    );
}

#[test]
fn a_background_process_holding_the_pipe_does_not_keep_us_waiting() {
    let f = Fixture::new();
    let started = Instant::now();
    let out = f.watched(
        &["--watch-output"],
        "sleep 8 & echo started; echo 'background still holds stdout'",
    );
    assert!(out.status.success(), "{:?}", own_lines(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "started\nbackground still holds stdout\n"
    );
    // Drained until quiet for a second, then given up: not the background's 8 s.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}
