//! The output guard of one run: each line of the command's output is an event (actor the run's
//! actor, action `stdout` or `stderr`, target the [normalized](super::normalize) line, weight
//! its length in bytes) checked by a [`Guard`] built from `[output]`, and the decision turned
//! into what the watcher does.
//!
//! A decision above allow is acted on only while [`loops`](super::loops) says the output loops,
//! and a line reaches the guard only from its second appearance among the recent lines (the
//! rules and why are there). Reports are rate-limited: one warning and one throttle notice per
//! window at most.

use std::time::{Duration, SystemTime};

use pattern_guard::{Assessment, Config, Decision, Detector, Event, Guard, ManualClock};

use super::loops::Recent;
use super::normalize::normalize;

/// Bytes of a line read for its target; the rest only counts in its length.
pub const MAX_TARGET_BYTES: usize = 4096;
/// Characters of a line quoted in a message.
const QUOTED_CHARS: usize = 160;

/// Which of the command's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout = 0,
    Stderr = 1,
}

impl Stream {
    /// The event's action, and how messages name the stream.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A repeated line: where, what, how often in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Repeated {
    pub stream: Stream,
    /// The line as the command wrote it (lossy UTF-8, cut to a readable length).
    pub line: String,
    /// Its occurrences (masked form) in the window, this one included.
    pub count: u64,
    /// The window's length.
    pub window: Duration,
    /// The risk the decision came from.
    pub risk: f64,
}

impl std::fmt::Display for Repeated {
    /// `"connection refused" 370 times in 1m on stderr`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\"{}\" {} times in {} on {}",
            self.line,
            self.count,
            crate::cli::output::human(self.window),
            self.stream.name()
        )
    }
}

/// What to do about a line.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Nothing.
    Pass,
    /// Say so on stderr (the first warning in a window; later ones are quiet).
    Warn(Repeated),
    /// Stop reading the command's output for this long. `report`: the first throttle in a
    /// window, to be reported.
    Throttle {
        pause: Duration,
        repeated: Repeated,
        report: bool,
    },
    /// The run loops: stop it.
    Stop(Repeated),
}

impl Verdict {
    /// How much it asks of the watcher: pass < warn < throttle < stop.
    fn severity(&self) -> u8 {
        match self {
            Verdict::Pass => 0,
            Verdict::Warn(_) => 1,
            Verdict::Throttle { .. } => 2,
            Verdict::Stop(_) => 3,
        }
    }

    /// The more severe of two verdicts (the first on a tie).
    pub fn max(self, other: Verdict) -> Verdict {
        if other.severity() > self.severity() {
            other
        } else {
            self
        }
    }
}

/// The output guard of one run and what it remembers besides.
pub struct Monitor {
    guard: Guard,
    /// The guard's clock, set to each line's time: the watch's clock may run faster than the
    /// system's (in tests), and the guard must not take its lines for the future.
    clock: ManualClock,
    actor: String,
    window: Duration,
    /// The recent lines, for the loop rules.
    recent: Recent,
    /// When the last warning / throttle notice was given.
    warned_at: Option<SystemTime>,
    throttled_at: Option<SystemTime>,
    masked: Vec<u8>,
    scratch: Vec<u8>,
    assessment: Assessment,
}

impl Monitor {
    /// The output guard of a run of `actor`, from `config`'s `[output]` section.
    pub fn new(config: &Config, actor: &str) -> Result<Monitor, pattern_guard::Error> {
        let output = config.output_config();
        let window = Duration::from_secs_f64(output.settings_for(actor).window_secs);
        let clock = ManualClock::new(SystemTime::now());
        Ok(Monitor {
            guard: Guard::from_config(output)?.with_clock(clock.clone()),
            clock,
            actor: actor.to_string(),
            window,
            recent: Recent::new(),
            warned_at: None,
            throttled_at: None,
            masked: Vec::with_capacity(MAX_TARGET_BYTES + 8),
            scratch: Vec::with_capacity(MAX_TARGET_BYTES + 9),
            assessment: Assessment::default(),
        })
    }

    /// One line at `now`: `head` is its start (at most [`MAX_TARGET_BYTES`], without the
    /// newline), `len` its whole length in bytes.
    pub fn line(&mut self, stream: Stream, head: &[u8], len: usize, now: SystemTime) -> Verdict {
        normalize(
            &head[..head.len().min(MAX_TARGET_BYTES)],
            &mut self.masked,
            &mut self.scratch,
        );
        let hash = xxhash_rust::xxh3::xxh3_64_with_seed(&self.masked, stream as u64);
        let seen = self.recent.see(hash, now);
        if !seen.again {
            return Verdict::Pass;
        }
        let target = match std::str::from_utf8(&self.masked) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(&self.masked),
        };
        self.clock.set(now);
        let event = Event::new(&*self.actor, stream.name(), &*target, now).with_weight(len as f64);
        self.guard.assess_into(&event, &mut self.assessment);
        let a = &self.assessment;
        if a.decision == Decision::Allow || !seen.looping {
            return Verdict::Pass;
        }
        let repeated = Repeated {
            stream,
            line: quote(head),
            count: a
                .readings
                .iter()
                .find(|r| r.detector == Detector::Repetition)
                .map_or(0, |r| r.observed as u64),
            window: self.window,
            risk: a.risk,
        };
        let fresh = |last: Option<SystemTime>| {
            last.is_none_or(|t| now.duration_since(t).unwrap_or_default() >= self.window)
        };
        match a.decision {
            Decision::Warn if fresh(self.warned_at) => {
                self.warned_at = Some(now);
                Verdict::Warn(repeated)
            }
            Decision::Allow | Decision::Warn => Verdict::Pass,
            Decision::Delay(pause) => {
                let report = fresh(self.throttled_at);
                if report {
                    self.throttled_at = Some(now);
                }
                Verdict::Throttle {
                    pause,
                    repeated,
                    report,
                }
            }
            Decision::Block => Verdict::Stop(repeated),
        }
    }
}

/// A line for a message: lossy UTF-8, without trailing whitespace, cut at [`QUOTED_CHARS`].
fn quote(head: &[u8]) -> String {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_end();
    match text.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn monitor(toml: &str) -> Monitor {
        Monitor::new(&Config::from_toml_str(toml).unwrap(), "job").unwrap()
    }

    fn at(secs: f64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000) + Duration::from_secs_f64(secs)
    }

    /// Feeds `(time, stream, line)`; the verdicts that were not a pass, with the line's index.
    fn feed<'a>(
        m: &mut Monitor,
        lines: impl IntoIterator<Item = (f64, Stream, &'a str)>,
    ) -> Vec<(usize, Verdict)> {
        lines
            .into_iter()
            .enumerate()
            .map(|(i, (t, s, l))| (i, m.line(s, l.as_bytes(), l.len(), at(t))))
            .filter(|(_, v)| *v != Verdict::Pass)
            .collect()
    }

    type Lines<'a> = Vec<(f64, Stream, &'a str)>;

    fn first_stop(verdicts: &[(usize, Verdict)]) -> Option<(usize, &Repeated)> {
        verdicts.iter().find_map(|(i, v)| match v {
            Verdict::Stop(r) => Some((*i, r)),
            _ => None,
        })
    }

    #[test]
    fn a_tight_loop_warns_throttles_then_stops_at_the_documented_counts() {
        let mut m = monitor("");
        let lines = (0..1000).map(|i| {
            (
                f64::from(i) * 0.01,
                Stream::Stderr,
                "connection refused, retrying",
            )
        });
        let v = feed(&mut m, lines);
        // Risk (count - 200) / 200: warn from 260 (0.3), delay from 320 (0.6), block from 370.
        // The first line is counted from its second turn: the 261st line is the 260th counted.
        assert!(
            matches!(&v[0], (260, Verdict::Warn(r)) if r.count == 260),
            "{v:?}"
        );
        assert!(
            matches!(&v[1], (320, Verdict::Throttle { report: true, pause, .. }) if *pause == Duration::from_secs(2)),
            "{v:?}"
        );
        let (i, r) = first_stop(&v).unwrap();
        assert_eq!((i, r.count, r.stream), (370, 370, Stream::Stderr));
        assert_eq!(r.line, "connection refused, retrying");
        // One warning per window; the warn band in between is quiet.
        assert_eq!(
            v.iter()
                .filter(|(_, v)| matches!(v, Verdict::Warn(_)))
                .count(),
            1
        );
    }

    #[test]
    fn made_up_loops_are_stopped() {
        let counter: Vec<String> = (0..2000)
            .map(|i| {
                format!(
                    "2026-11-26T00:00:{:02}Z attempt {i} failed after {}ms (req {:08x})",
                    i % 60,
                    i * 7,
                    i * 2_654_435_761_u64 % (1 << 32)
                )
            })
            .collect();
        let traceback = [
            "Traceback (most recent call last):",
            "  File \"/srv/app/worker.py\", line 42, in run",
            "    conn = connect(host, port)",
            "  File \"/srv/app/net.py\", line 17, in connect",
            "    raise ConnectionError(f\"refused by {host}:{port}\")",
            "ConnectionError: refused by db:5432",
        ];
        let cases: Vec<(&str, Lines)> = vec![
            (
                "a counter, a time and an id that change each turn",
                counter
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (i as f64 * 0.01, Stream::Stdout, l.as_str()))
                    .collect(),
            ),
            (
                "a traceback repeated",
                (0..3000_usize)
                    .map(|i| {
                        (
                            i as f64 * 0.002,
                            Stream::Stderr,
                            traceback[i % traceback.len()],
                        )
                    })
                    .collect(),
            ),
            (
                "two messages alternating",
                (0..2000_u32)
                    .map(|i| {
                        (
                            f64::from(i) * 0.005,
                            Stream::Stdout,
                            if i % 2 == 0 {
                                "polling queue"
                            } else {
                                "queue empty"
                            },
                        )
                    })
                    .collect(),
            ),
        ];
        for (name, lines) in cases {
            let mut m = monitor("");
            let v = feed(&mut m, lines);
            assert!(first_stop(&v).is_some(), "{name}: {v:?}");
        }
    }

    #[test]
    fn stderr_storming_while_stdout_is_quiet_is_stopped_and_named() {
        let mut m = monitor("");
        let mut lines = vec![(0.0, Stream::Stdout, "starting")];
        lines.extend((0..1000).map(|i| (0.1 + f64::from(i) * 0.001, Stream::Stderr, "EAGAIN")));
        let v = feed(&mut m, lines);
        let (_, r) = first_stop(&v).unwrap();
        assert_eq!(r.stream, Stream::Stderr);
    }

    #[test]
    fn an_hour_of_status_lines_every_five_seconds_is_normal() {
        let lines: Vec<String> = (0..720)
            .map(|i| {
                format!(
                    "[{:02}:{:02}:{:02}] processed {} records, {} MB, lag {}ms",
                    i * 5 / 3600,
                    i * 5 / 60 % 60,
                    i * 5 % 60,
                    i * 137,
                    i / 3,
                    i % 17
                )
            })
            .collect();
        let mut m = monitor("");
        let v = feed(
            &mut m,
            lines
                .iter()
                .enumerate()
                .map(|(i, l)| (i as f64 * 5.0, Stream::Stdout, l.as_str())),
        );
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn a_tight_loop_is_stopped_once_it_has_gone_on_for_min_loop_or_min_loop_lines() {
        let mut m = monitor("");
        let lines = (0..100_000).map(|i| (f64::from(i) * 1e-4, Stream::Stdout, "spin"));
        let v = feed(&mut m, lines);
        // 10,000 lines a second: past every limit in a few hundredths of a second, stopped after
        // MIN_LOOP.
        let (i, _) = first_stop(&v).unwrap();
        assert!((5_000..5_100).contains(&i), "{i}");
        assert!(
            matches!(v[0], (_, Verdict::Stop(_))),
            "nothing before the stop: {:?}",
            v[0]
        );
    }

    #[test]
    fn a_burst_of_numbered_names_in_a_listing_is_not_a_loop() {
        // `find /usr`: 400 release notes named alike, among thousands of other paths, all
        // printed within a tenth of a second.
        let mut lines: Vec<String> = (0..3000)
            .map(|i| {
                format!(
                    "/usr/lib/{}",
                    ["a", "b", "c", "d", "e", "f", "g", "h"]
                        .map(|w| w.repeat(1 + i % 7))
                        .join(["x", "y", "z"][i % 3])
                )
            })
            .collect();
        lines.extend(
            (0..400).map(|i| format!("/usr/share/doc/git/RelNotes/2.{}.{}.txt", i / 10, i % 10)),
        );
        lines.extend((0..3000).map(|i| {
            format!(
                "/usr/share/{}",
                ["p", "q", "r", "s"]
                    .map(|w| w.repeat(1 + i % 11))
                    .join(["-", "_", "."][i % 3])
            )
        }));
        let mut m = monitor("");
        let v = feed(
            &mut m,
            lines
                .iter()
                .enumerate()
                .map(|(i, l)| (i as f64 * 1e-5, Stream::Stdout, l.as_str())),
        );
        assert!(v.is_empty(), "{:?}", &v[..v.len().min(3)]);
    }

    #[test]
    fn a_long_listing_that_repeats_some_lines_is_not_a_loop() {
        // `ls -lR` of a tree of small directories, all at once: `total N`, the same two file
        // lines and a blank line repeat once per directory, thousands of times.
        let mut lines = Vec::new();
        let words = [
            "lib", "python", "utils", "common", "data", "perl", "gnu", "ssl", "x", "font",
        ];
        for d in 0..5000 {
            let name: String = [d % 10, d / 10 % 10, d / 100 % 10, d / 1000]
                .map(|i| words[i])
                .join("-");
            lines.push(format!("/usr/share/doc/{name}:"));
            lines.push("total 12".into());
            lines.push("-rw-r--r-- 1 root root  1234 Mar  3  2024 changelog.Debian.gz".into());
            lines.push("-rw-r--r-- 1 root root  5678 Mar  3  2024 copyright".into());
            lines.push(String::new());
        }
        let mut m = monitor("");
        let v = feed(
            &mut m,
            lines.iter().map(|l| (0.5, Stream::Stdout, l.as_str())),
        );
        assert!(v.is_empty(), "{:?}", &v[..v.len().min(3)]);
    }

    #[test]
    fn a_slow_loop_is_stopped_when_its_window_says_so() {
        let line = "waiting for lock /var/lib/app.lock";
        // One line a second never reaches 370 in a minute.
        let mut m = monitor("");
        assert!(feed(
            &mut m,
            (0..3600).map(|i| (f64::from(i), Stream::Stdout, line))
        )
        .is_empty());
        // With a ten-minute window and a limit of 100, it is stopped at 185 in the window.
        let mut m = monitor("[output]\nwindow_secs = 600\nrepetition_max_count = 100\n");
        let v = feed(
            &mut m,
            (0..3600).map(|i| (f64::from(i), Stream::Stdout, line)),
        );
        assert_eq!(first_stop(&v).map(|(i, r)| (i, r.count)), Some((185, 185)));
    }

    #[test]
    fn per_actor_output_settings_apply() {
        let config =
            Config::from_toml_str("[output.actors.job]\nrepetition_max_count = 1000\n").unwrap();
        let mut m = Monitor::new(&config, "job").unwrap();
        let v = feed(
            &mut m,
            (0..1500).map(|i| (f64::from(i) * 0.001, Stream::Stdout, "tick")),
        );
        assert!(first_stop(&v).is_none(), "{v:?}");
        let mut m = Monitor::new(&config, "other").unwrap();
        let v = feed(
            &mut m,
            (0..1500).map(|i| (f64::from(i) * 0.001, Stream::Stdout, "tick")),
        );
        assert!(first_stop(&v).is_some());
    }

    #[test]
    fn a_quoted_line_is_cut_to_a_readable_length() {
        let long = "x".repeat(1000);
        assert_eq!(quote(long.as_bytes()).chars().count(), QUOTED_CHARS + 3);
        assert_eq!(quote(b"ok \r"), "ok");
        assert_eq!(quote(&[0xff, b'a']), "\u{fffd}a");
    }
}
