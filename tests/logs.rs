#![cfg(feature = "cli")] // runs the binary, which needs the `cli` feature
//! Any log in (`replay --format`): presets on real lines, `--pattern` formats, the config's
//! `[replay.formats]`, recognition, and the live decision stream (`--decisions -`), through the
//! real binary.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use serde_json::Value;

mod support;
use support::Fixture;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.demo");

/// Real OpenSSH lines (the loghub corpus, host LabSZ): one scanner's attempts and the noise
/// around them.
const AUTH_LOG: &str = "\
Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!
Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186
Dec 10 06:55:46 LabSZ sshd[24200]: input_userauth_request: invalid user webmaster [preauth]
Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): check pass; user unknown
Dec 10 06:55:46 LabSZ sshd[24200]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=173.234.31.186 
Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2
Dec 10 06:55:48 LabSZ sshd[24200]: Connection closed by 173.234.31.186 [preauth]
Dec 10 07:02:47 LabSZ sshd[24203]: Connection closed by 212.47.254.145 [preauth]
Dec 10 07:27:50 LabSZ sshd[24235]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=112.95.230.3  user=root
Dec 10 07:27:52 LabSZ sshd[24235]: Failed password for root from 112.95.230.3 port 45378 ssh2
Dec 10 07:27:52 LabSZ sshd[24235]: Received disconnect from 112.95.230.3: 11: Bye Bye [preauth]
Dec 10 07:27:53 LabSZ sshd[24237]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=112.95.230.3  user=root
Dec 10 07:27:55 LabSZ sshd[24237]: Failed password for root from 112.95.230.3 port 47068 ssh2
Dec 10 07:27:55 LabSZ sshd[24237]: Received disconnect from 112.95.230.3: 11: Bye Bye [preauth]
Dec 10 07:27:55 LabSZ sshd[24239]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=112.95.230.3  user=root
Dec 10 07:27:58 LabSZ sshd[24239]: Failed password for root from 112.95.230.3 port 49188 ssh2
Dec 10 07:27:58 LabSZ sshd[24239]: Received disconnect from 112.95.230.3: 11: Bye Bye [preauth]
Dec 10 09:32:20 LabSZ sshd[24680]: Accepted password for fztu from 119.137.62.142 port 49116 ssh2
";

impl Fixture {
    /// `replay ARGS --json` under the demo config, parsed; asserts success.
    fn replay_json(&self, args: &[&str]) -> Value {
        let out = self
            .cmd()
            .env("TZ", "UTC")
            .args(["--config", DEMO, "replay", "--json"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `sh -c SCRIPT` (a pipeline into the binary) in a process group of its own, its standard
    /// output piped to the test, its standard error dropped unless the script redirects it.
    fn pipeline(&self, script: &str) -> std::process::Child {
        std::process::Command::new("sh")
            .args(["-c", script])
            .env("PATTERN_GUARD_STATE_DIR", self.state())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap()
    }
}

fn lines_of(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn an_sshd_log_is_recognized_and_its_failures_judged_per_remote_host() {
    let f = Fixture::new();
    let log = f.write("auth.log", AUTH_LOG.as_bytes());
    let s = f.replay_json(&[log.to_str().unwrap(), "--year", "2016"]);
    assert_eq!(s["format"], "sshd");
    assert_eq!(s["lines"], 18);
    assert_eq!(
        (
            s["events"].as_u64(),
            s["not_events"].as_u64(),
            s["rejected"].as_u64()
        ),
        (Some(14), Some(4), Some(0))
    );
    assert_eq!(s["first_event"], "2016-12-10T06:55:46.000Z", "{s:#}");
    // 112.95.230.3: nine events in eight seconds under the demo's burst limit.
    let top = &s["top"][0];
    assert_eq!(top["actor"], "112.95.230.3");
    assert_ne!(top["decisions"]["block"], 0, "{s:#}");
}

#[test]
fn presets_and_common_are_chosen_by_name() {
    let f = Fixture::new();
    let nginx = f.write(
        "error.log",
        br#"2012/04/09 11:53:29 [error] 2865#0: *66647 user "xyz" was not found in "/var/www/.htpasswd", client: 192.0.43.10, server: www.myhost.com, request: "GET / HTTP/1.1", host: "www.myhost.com"
2012/04/09 11:53:36 [error] 2865#0: *66647 user "xyz": password mismatch, client: 192.0.43.10, server: www.myhost.com, request: "GET /private/ HTTP/1.1", host: "www.myhost.com"
2012/04/09 11:53:37 [notice] 1#1: signal process started
"#,
    );
    let s = f.replay_json(&[nginx.to_str().unwrap(), "--format", "nginx-error"]);
    assert_eq!(
        (
            s["format"].as_str(),
            s["events"].as_u64(),
            s["not_events"].as_u64()
        ),
        (Some("nginx-error"), Some(2), Some(1))
    );
    let apache = f.write(
        "error_log",
        b"[Sun Dec 04 05:15:09 2005] [error] [client 222.166.160.184] Directory index forbidden by rule: /var/www/html/
[Fri Sep 30 13:26:51.015401 2022] [proxy_fcgi:error] [pid 2629300] [client 192.168.1.110:41546] AH01071: Got error 'PHP message'
[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties
",
    );
    let s = f.replay_json(&[apache.to_str().unwrap()]);
    assert_eq!(
        (
            s["format"].as_str(),
            s["events"].as_u64(),
            s["not_events"].as_u64()
        ),
        (Some("apache-error"), Some(2), Some(1))
    );
    let common = f.write(
        "access.log",
        b"::1 - - [24/Nov/2026:10:00:00 +0000] \"POST /api HTTP/2.0\" 204 -\n",
    );
    let s = f.replay_json(&[common.to_str().unwrap(), "--format", "common"]);
    assert_eq!(
        (s["format"].as_str(), s["events"].as_u64()),
        (Some("common"), Some(1))
    );
}

#[test]
fn a_pattern_format_reads_named_groups_literals_and_a_time_format() {
    let f = Fixture::new();
    let log = f.write(
        "app.log",
        b"24.11.2026 10:00:00 +0000 LOGIN FAIL user=root ip=10.0.0.1
24.11.2026 10:00:01 +0000 server started
24.11.2026 10:00:02 +0000 LOGIN FAIL user=admin ip=10.0.0.1 cost=3
24.11.2026 99:00:02 +0000 LOGIN FAIL user=admin ip=10.0.0.2
",
    );
    let out = f.path("decisions.jsonl");
    let s = f.replay_json(&[
        log.to_str().unwrap(),
        "--pattern",
        r"^(?P<time>\S+ \S+ \S+) LOGIN FAIL user=(?P<target>\S+) ip=(?P<actor>\S+)(?: cost=(?P<weight>\d+))?$",
        "--time-format",
        "%d.%m.%Y %H:%M:%S %z",
        "--action",
        "login",
        "--decisions",
        out.to_str().unwrap(),
    ]);
    assert_eq!(s["format"], "regex");
    assert_eq!(
        (
            s["events"].as_u64(),
            s["not_events"].as_u64(),
            s["rejected"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert!(
        s["rejected_first"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("is not \"%d.%m.%Y"),
        "{s:#}"
    );
    let d = lines_of(&std::fs::read(&out).unwrap());
    assert_eq!(d[0]["timestamp"], "2026-11-24T10:00:00.000Z");
    assert_eq!(
        (
            d[0]["actor"].as_str(),
            d[0]["action"].as_str(),
            d[0]["target"].as_str()
        ),
        (Some("10.0.0.1"), Some("login"), Some("root"))
    );
    assert_eq!(d[1]["target"], "admin");
}

#[test]
fn bad_patterns_and_formats_exit_125_saying_what_and_where() {
    let f = Fixture::new();
    let log = f.write("x.log", b"2026-11-24T10:00:00Z a\n");
    let run = |args: &[&str]| {
        f.cmd()
            .arg("replay")
            .arg(&log)
            .args(args)
            .assert()
            .code(125)
    };
    run(&["--pattern", r"(?P<actor>\S+"]).stderr(
        predicate::str::contains("--pattern 1")
            .and(predicate::str::contains("unclosed group"))
            .and(predicate::str::contains("^")),
    );
    run(&["--pattern", r"(?P<time>\S+) (\S+)"]).stderr(predicate::str::contains("(?P<actor>...)"));
    run(&["--pattern", r"(?P<time>\S+) (?P<host>\S+)"]).stderr(predicate::str::contains("`host`"));
    run(&["--format", "regex"]).stderr(predicate::str::contains("needs --pattern"));
    run(&["--format", "sshd", "--pattern", "(?P<actor>x)"]).stderr(predicate::str::contains(
        "--pattern goes with --format regex",
    ));
    run(&["--format", "sshd", "--time-format", "%Y"])
        .stderr(predicate::str::contains("--time-format"));
    run(&["--format", "syslog"]).stderr(
        predicate::str::contains("unknown format `syslog`").and(predicate::str::contains("sshd")),
    );
    run(&[
        "--pattern",
        r"^\S+ (?P<actor>\S+)$",
        "--time-format",
        "YYYY",
    ])
    .stderr(predicate::str::contains("no % field"));
    // A pattern without a time group on a file: no time to judge the lines at.
    run(&["--pattern", r"^\S+ (?P<actor>\S+)$"]).stderr(predicate::str::contains("(?P<time>...)"));
    // auto on lines no format fits.
    let odd = f.write("odd.log", b"hello\nworld\n");
    f.cmd()
        .args(["replay"])
        .arg(&odd)
        .assert()
        .code(125)
        .stderr(predicate::str::contains("cannot tell the format"));
}

#[test]
fn a_teams_format_lives_in_the_config() {
    let f = Fixture::new();
    let config = f.write(
        "guard.toml",
        br#"
[guard]
window_secs = 10
burst_max_events = 2

[replay.formats.app]
pattern = ['^(?P<time>\S+) deny (?P<actor>\S+)$', '^(?P<time>\S+) (?P<action>\w+) (?P<actor>\S+) (?P<target>\S+)$']
action = "deny"
"#,
    );
    let log = f.write(
        "app.log",
        b"1795514400 deny 10.0.0.9\n1795514401 get 10.0.0.9 /a\n1795514401 hello\n",
    );
    let out = f
        .cmd()
        .args(["--config"])
        .arg(&config)
        .args(["replay", "--json", "--format", "app", "--decisions", "-"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // --decisions - takes standard output; the summary goes to standard error.
    let d = lines_of(&out.stdout);
    assert_eq!(
        (
            d[0]["action"].as_str(),
            d[1]["action"].as_str(),
            d[1]["target"].as_str()
        ),
        (Some("deny"), Some("get"), Some("/a"))
    );
    let s: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(
        (
            s["format"].as_str(),
            s["events"].as_u64(),
            s["not_events"].as_u64()
        ),
        (Some("app"), Some(2), Some(1))
    );
    let bad = f.write(
        "bad.toml",
        b"[replay.formats.app]\npattern = '(?P<actor>x'\n",
    );
    f.cmd()
        .args(["--config"])
        .arg(&bad)
        .args(["replay", "--format", "app"])
        .arg(&log)
        .assert()
        .code(125)
        .stderr(
            predicate::str::contains("replay.formats.app.pattern")
                .and(predicate::str::contains("unclosed group")),
        );
}

#[test]
fn only_keeps_the_decisions_asked_for() {
    let f = Fixture::new();
    let log = f.write("auth.log", AUTH_LOG.as_bytes());
    let out = f
        .cmd()
        .args([
            "--config",
            DEMO,
            "replay",
            "--year",
            "2016",
            "--decisions",
            "-",
            "--only",
            "delay,block",
        ])
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let d = lines_of(&out.stdout);
    assert!(!d.is_empty());
    assert!(
        d.iter()
            .all(|d| matches!(d["decision"].as_str(), Some("delay" | "block"))),
        "{d:?}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("replay of"));
}

/// A writer appends sshd lines to a log while `tail -F` feeds replay: each decision arrives on
/// standard output as its line is written, long before the writer is done.
#[test]
fn a_live_log_gives_its_decisions_line_by_line() {
    let f = Fixture::new();
    let log = f.path("auth.log");
    std::fs::write(&log, b"").unwrap();
    let bin = assert_cmd::cargo::cargo_bin("pattern-guard");
    let script = format!(
        "tail -n +1 -F {} 2>/dev/null | exec {} --config {DEMO} replay --format sshd --decisions -",
        log.display(),
        bin.display()
    );
    let mut child = f.pipeline(&script);
    let pgid = child.id() as i32;
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let mut file = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let started = Instant::now();
    let mut written = Vec::new();
    for i in 0..10 {
        writeln!(
            file,
            "Nov 24 10:00:{i:02} web1 sshd[{}]: Invalid user u{i} from 198.51.100.7 port 5000{i}",
            100 + i
        )
        .unwrap();
        file.flush().unwrap();
        written.push(Instant::now());
        std::thread::sleep(Duration::from_millis(400));
    }
    let mut got = Vec::new();
    while got.len() < 10 {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(x) => got.push(x),
            Err(_) => break,
        }
    }
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
    let _ = child.wait();
    assert_eq!(
        got.len(),
        10,
        "decisions received: {got:?} ({:?} after the start)",
        started.elapsed()
    );
    let first: Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(
        (first["actor"].as_str(), first["target"].as_str()),
        (Some("198.51.100.7"), Some("u0"))
    );
    // The first decision came before the writer wrote its last line (3.6 s later).
    assert!(
        got[0].0 < written[9],
        "first decision at {:?}, last line written at {:?}",
        got[0].0 - started,
        written[9] - started
    );
}

/// REPLAY.md: "When the script reading the decisions exits, replay stops and sums up what it
/// read." Its input never ends (`yes`), so only that stop can end it.
#[test]
fn replay_stops_and_sums_up_when_the_reader_of_its_decisions_goes_away() {
    let f = Fixture::new();
    let errors = f.path("stderr");
    let bin = assert_cmd::cargo::cargo_bin("pattern-guard");
    let script = format!(
        "yes 'Nov 24 10:00:00 web1 sshd[100]: Invalid user u0 from 198.51.100.7 port 50000' | \
         exec {} --config {DEMO} replay --format sshd --year 2026 --decisions - 2>{}",
        bin.display(),
        errors.display()
    );
    let mut child = f.pipeline(&script);
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader goes away after one decision (the pipe's read end is dropped above).
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    let status = status.expect("replay still running 30 s after the reader went away");
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["actor"].as_str(), Some("198.51.100.7"));
    assert!(status.success(), "exit status {status:?}");
    let summary = std::fs::read_to_string(&errors).unwrap();
    assert!(
        summary.contains("198.51.100.7") && summary.contains("events"),
        "the summary on standard error: {summary}"
    );
}

/// A pattern without a time group stamps each line with the time it is read, for lines piped in
/// as they are written.
#[test]
fn piped_lines_without_a_time_are_judged_as_read() {
    let f = Fixture::new();
    let before = std::time::SystemTime::now();
    let out = f
        .cmd()
        .args([
            "replay",
            "--pattern",
            r"^(?P<actor>\S+) hit$",
            "--decisions",
            "-",
        ])
        .write_stdin("u1 hit\nu2 hit\nnoise\n")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let d = lines_of(&out.stdout);
    assert_eq!(d.len(), 2);
    let at: jiff::Timestamp = d[0]["timestamp"].as_str().unwrap().parse().unwrap();
    let before = jiff::Timestamp::try_from(before).unwrap();
    assert!(
        at >= before
            .checked_sub(jiff::SignedDuration::from_millis(1))
            .unwrap(),
        "{at} < {before}"
    );
}

#[test]
fn a_prefix_reads_the_header_once_for_every_pattern() {
    let f = Fixture::new();
    let log = f.write(
        "fw.log",
        b"2026-11-24T10:00:00Z fw1 kernel: DROP src=10.0.0.1 dport=22
2026-11-24T10:00:01Z fw1 kernel: ACCEPT src=10.0.0.2 dport=443
2026-11-24T10:00:02Z fw1 dhcpd: lease renewed
",
    );
    let s = f.replay_json(&[
        log.to_str().unwrap(),
        "--prefix",
        r"(?P<time>\S+) \S+ kernel: ",
        "--pattern",
        r"^(?P<action>DROP|ACCEPT) src=(?P<actor>\S+) dport=(?P<target>\d+)$",
    ]);
    assert_eq!(
        (s["events"].as_u64(), s["not_events"].as_u64()),
        (Some(2), Some(1)),
        "{s:#}"
    );
    f.cmd()
        .args(["replay", "--format", "sshd", "--prefix", "x"])
        .arg(&log)
        .assert()
        .code(125)
        .stderr(predicate::str::contains("--prefix"));
}

/// The sample docs/REPLAY.md shows: examples/auth.log (real lines) under examples/sshd.toml.
#[test]
fn the_documented_sshd_sample_gives_the_documented_figures() {
    let f = Fixture::new();
    let root = env!("CARGO_MANIFEST_DIR");
    let out = f
        .cmd()
        .env("TZ", "UTC")
        .args([
            "--config",
            &format!("{root}/examples/sshd.toml"),
            "replay",
            "--json",
            "--year",
            "2016",
        ])
        .arg(format!("{root}/examples/auth.log"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (
            s["lines"].as_u64(),
            s["events"].as_u64(),
            s["not_events"].as_u64()
        ),
        (Some(45), Some(34), Some(11))
    );
    let d = &s["decisions"];
    assert_eq!(
        (
            d["allow"].as_u64(),
            d["warn"].as_u64(),
            d["delay"].as_u64(),
            d["block"].as_u64()
        ),
        (Some(27), Some(3), Some(1), Some(3))
    );
    assert_eq!(s["top"][0]["actor"], "112.95.230.3");
    assert_eq!(s["top"][0]["first"]["block"], "2016-12-10T07:28:03.000Z");
}
