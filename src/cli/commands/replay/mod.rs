//! `pattern-guard replay`: recorded traffic through a guard, and what it would have decided.
//!
//! Events stream from a file or stdin, one line at a time, each judged at its own timestamp: the
//! guard runs on a [`ManualClock`] set to the newest time read so far, so nothing sleeps and the
//! wall clock plays no part. Lines are read by [`pattern_guard::input`]; each event
//! ([`ParsedEvent::to_event`]: actor, action, target, weight, the line's own time) is checked with
//! [`Guard::assess`], the call `check` makes on the event it builds from its flags, so a replay and
//! live checks of the same events agree (a test in `tests/replay.rs` feeds both and compares).
//! Nothing is written to the state directory.
//!
//! Memory is bounded by the engine's own bounds (`max_actors`, `max_events_per_actor`) and the
//! summary's ([`summary::MAX_TRACKED`]), never by the size of the input. A bad line is counted and
//! reported with its line number (`--strict` makes the first one fatal). Ctrl-C stops reading and
//! prints the summary so far (a second Ctrl-C ends at once).

mod lines;
pub mod summary;

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use indicatif::ProgressBar;
use pattern_guard::input::time::format_rfc3339;
use pattern_guard::input::{self, ParsedEvent};
use pattern_guard::{Assessment, Config, Guard, ManualClock};
use serde_json::{json, Value};

use crate::cli::exit_code::{Exit, Failure};
use crate::cli::options::{InputFormat, ReplayPlan};
use crate::cli::output::{delay_secs, human, reasons, Printer};
use crate::cli::progress::{self, Progress};
use lines::{Sink, Stop};
use summary::{Report, Summary};

/// Runs a replay and prints its report.
pub fn run(
    config: Config,
    config_source: &str,
    plan: &ReplayPlan,
    printer: Printer,
) -> Result<Exit, Failure> {
    if plan
        .decisions
        .as_ref()
        .is_some_and(|p| p.as_os_str() == "-")
    {
        return Err(Failure::Usage(
            "--decisions needs a file: standard output carries the summary".into(),
        ));
    }
    let input = Input::open(&plan.input, printer)?;
    let decisions = match &plan.decisions {
        Some(path) => Some(BufWriter::new(File::create(path).map_err(|e| {
            Failure::Usage(format!("cannot write {}: {e}", path.display()))
        })?)),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    // The first Ctrl-C asks for the summary so far; a second one ends at once.
    signal_hook::flag::register_conditional_default(
        signal_hook::consts::SIGINT,
        Arc::clone(&stop),
    )?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))?;

    let clock = ManualClock::new(UNIX_EPOCH);
    let mut replayer = Replayer {
        guard: Guard::from_config(config)?.with_clock(clock.clone()),
        clock,
        plan,
        format: plan.format,
        summary: Summary::default(),
        newest: 0,
        decisions,
        explained: (plan.json && plan.explain.is_some()).then(Vec::new),
        assessment: Assessment::default(),
        out: BufWriter::new(std::io::stdout().lock()),
    };
    let started = Instant::now();
    let mut feed = Feed {
        replayer: &mut replayer,
        bar: progress_bar(Progress::new(printer.is_quiet()), input.size),
        sized: input.size.is_some(),
    };
    let outcome = lines::read(input.reader, &stop, &mut feed);
    progress::finish(feed.bar.as_ref());
    let interrupted_at = match outcome {
        Ok(None) => None,
        Ok(Some(Stop::Interrupted)) => Some(replayer.summary.lines),
        Ok(Some(Stop::Refused(why))) => {
            let line = replayer.summary.lines;
            printer.always(format!(
                "{}:{line}: {why} (--strict stops at the first bad line)",
                input.shown
            ));
            return Ok(Exit::Failure);
        }
        Err(e) => return Err(Failure::Usage(format!("cannot read {}: {e}", input.shown))),
    };
    let report = Report {
        input: &input.shown,
        format: match replayer.format {
            InputFormat::Combined => "combined",
            _ => "jsonl",
        },
        config: config_source,
        elapsed: started.elapsed(),
        parse_only: plan.parse_only,
        interrupted_at,
        top: plan.top,
    };
    replayer.finish(&report)?;
    Ok(match interrupted_at {
        Some(_) => Exit::Interrupted(signal_hook::consts::SIGINT),
        None => Exit::Success,
    })
}

/// The events' source.
struct Input {
    reader: Box<dyn Read + Send>,
    /// Its size, when it is a regular file (for the progress bar).
    size: Option<u64>,
    /// How messages name it.
    shown: String,
}

impl Input {
    fn open(path: &Path, printer: Printer) -> Result<Input, Failure> {
        if path.as_os_str() == "-" {
            if std::io::stdin().is_terminal() {
                printer.note("reading events from the terminal; end with Ctrl-D (or give a FILE)");
            }
            return Ok(Input {
                reader: Box::new(std::io::stdin()),
                size: None,
                shown: "standard input".into(),
            });
        }
        let file = File::open(path)
            .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
        let size = file
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .map(|m| m.len());
        Ok(Input {
            reader: Box::new(file),
            size,
            shown: path.display().to_string(),
        })
    }
}

/// The replayer as the line reader's sink, with the progress bar.
struct Feed<'r, 'a> {
    replayer: &'r mut Replayer<'a>,
    bar: Option<ProgressBar>,
    sized: bool,
}

impl Sink for Feed<'_, '_> {
    fn head(&mut self, bytes: &[u8]) {
        if self.replayer.format == InputFormat::Auto {
            self.replayer.format = sniff(bytes);
        }
    }

    fn line(&mut self, line: &[u8]) -> Result<(), String> {
        self.replayer.line(line)
    }

    fn too_long(&mut self) -> Result<(), String> {
        let r = &mut *self.replayer;
        r.summary.lines += 1;
        let why = format!("longer than {} MiB", lines::MAX_LINE >> 20);
        if r.plan.strict {
            return Err(why);
        }
        r.summary.reject(r.summary.lines, why);
        Ok(())
    }

    fn progress(&mut self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(if self.sized {
                bytes
            } else {
                self.replayer.summary.events
            });
        }
    }
}

/// The guard and everything a replay accumulates.
struct Replayer<'a> {
    guard: Guard,
    clock: ManualClock,
    plan: &'a ReplayPlan,
    format: InputFormat,
    summary: Summary,
    newest: u64,
    decisions: Option<BufWriter<File>>,
    explained: Option<Vec<Value>>,
    /// Reused for every event, so assessing allocates nothing.
    assessment: Assessment,
    out: BufWriter<std::io::StdoutLock<'static>>,
}

impl Replayer<'_> {
    /// One line (without its newline). `Err(why)` only under `--strict`.
    fn line(&mut self, line: &[u8]) -> Result<(), String> {
        self.summary.lines += 1;
        let line_no = self.summary.lines;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let parsed = match std::str::from_utf8(line) {
            Ok(text) => match self.format {
                InputFormat::Combined => input::parse_combined(text, self.plan.combined),
                _ => input::parse_jsonl(text),
            },
            Err(e) => Err(format!(
                "not UTF-8 (bad byte at column {})",
                e.valid_up_to() + 1
            )),
        };
        let event = match parsed {
            Ok(event) => event,
            Err(why) if self.plan.strict => return Err(why),
            Err(why) => {
                self.summary.reject(line_no, why);
                return Ok(());
            }
        };
        self.summary.saw(event.ts);
        if self.plan.parse_only {
            return Ok(());
        }
        self.newest = self.newest.max(event.ts);
        self.clock
            .set(UNIX_EPOCH + Duration::from_nanos(self.newest));
        let mut a = std::mem::take(&mut self.assessment);
        self.guard.assess_into(&event.to_event(), &mut a);
        self.summary.record(&event.actor, event.ts, &a);
        self.write_decision(line_no, &event, &a);
        if self.plan.explain.as_deref() == Some(&*event.actor) {
            match self.explained.as_mut() {
                Some(list) => list.push(decision_line(line_no, &event, &a)),
                None => {
                    let _ = writeln!(self.out, "{}", explain_line(line_no, &event, &a));
                }
            }
        }
        self.assessment = a;
        Ok(())
    }

    /// A `--decisions` line; a full disk is reported once and stops the writing.
    fn write_decision(&mut self, line_no: u64, event: &ParsedEvent<'_>, a: &Assessment) {
        let Some(w) = self.decisions.as_mut() else {
            return;
        };
        let written = serde_json::to_writer(&mut *w, &decision_line(line_no, event, a))
            .map_err(std::io::Error::from)
            .and_then(|()| w.write_all(b"\n"));
        if let Err(e) = written {
            eprintln!("pattern-guard: cannot write the decisions file: {e}");
            self.decisions = None;
        }
    }

    /// Prints the report.
    fn finish(mut self, report: &Report<'_>) -> Result<(), Failure> {
        if let Some(mut w) = self.decisions.take() {
            w.flush()?;
        }
        if self.plan.json {
            let explained = self.explained.take();
            serde_json::to_writer_pretty(&mut self.out, &self.summary.json(report, explained))
                .map_err(std::io::Error::from)?;
            writeln!(self.out)?;
        } else {
            if self.plan.explain.is_some() {
                writeln!(self.out)?;
            }
            write!(self.out, "{}", self.summary.text(report))?;
        }
        self.out.flush()?;
        Ok(())
    }
}

/// JSON Lines or an access log, from the first non-blank character.
fn sniff(head: &[u8]) -> InputFormat {
    match head.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => InputFormat::Jsonl,
        Some(_) => InputFormat::Combined,
    }
}

fn progress_bar(progress: Progress, size: Option<u64>) -> Option<ProgressBar> {
    match size {
        Some(len) => progress.bar(
            len,
            "replaying {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        ),
        None => progress.spinner("replaying {spinner} {pos} events"),
    }
}

fn fired(a: &Assessment) -> Vec<&'static str> {
    a.reasons().iter().map(|r| r.detector.name()).collect()
}

/// A `--decisions` line (and a `--explain` entry in JSON).
fn decision_line(line: u64, e: &ParsedEvent<'_>, a: &Assessment) -> Value {
    json!({
        "line": line,
        "actor": &*e.actor,
        "action": &*e.action,
        "target": &*e.target,
        "timestamp": format_rfc3339(e.ts),
        "decision": a.decision.name(),
        "delay_secs": delay_secs(a.decision),
        "risk": a.risk,
        "raw_risk": a.raw_risk,
        "escalation_level": a.escalation_level,
        "fired": fired(a),
    })
}

/// A `--explain` timeline line.
fn explain_line(line: u64, e: &ParsedEvent<'_>, a: &Assessment) -> String {
    let decision = match a.decision {
        pattern_guard::Decision::Delay(d) => format!("delay {}", human(d)),
        d => d.name().to_string(),
    };
    format!(
        "{}  line {line}  {} {}  {decision}  risk {:.2}  level {}  {}",
        format_rfc3339(e.ts),
        e.action,
        e.target,
        a.risk,
        a.escalation_level,
        reasons(a)
    )
}
