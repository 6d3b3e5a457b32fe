//! `pattern-guard replay`: recorded traffic through a guard, and what it would have decided.
//!
//! Events stream from a file or stdin, one line at a time, each judged at its own timestamp: the
//! guard runs on a [`ManualClock`] set to the newest time read so far, so nothing sleeps and the
//! wall clock plays no part. Lines are read by [`pattern_guard::input`]; each event
//! ([`ParsedEvent::to_event`]: actor, action, target, weight, the line's own time) is checked with
//! [`Guard::assess_batch`], which assesses exactly as [`Guard::assess`] (the call `check` makes on
//! the event it builds from its flags) one event after another, so a replay and live checks of the
//! same events agree (a test in `tests/replay.rs` feeds both and compares). Lines are held in a
//! [`batch`] of 64 and checked together, which overlaps the memory waits of many actors; the
//! batch is also checked at the end of every chunk read, so a live stream waits for nothing.
//! Nothing is written to the state directory.
//!
//! Lines are read by the format [`formats`] resolves: JSON Lines, access logs, a preset (sshd,
//! nginx-error, apache-error), `--pattern` regexes or a `[replay.formats.NAME]` of the config;
//! `auto` recognizes the first lines. A line a pattern format does not match is *not an event*
//! (counted apart from malformed lines). `--decisions -` streams each decision to standard output
//! as it is made (flushed per line when the input is a pipe: `tail -F log | pattern-guard replay
//! --format sshd --decisions - --only block`), and the summary goes to standard error.
//!
//! Memory is bounded by the engine's own bounds (`max_actors`, `max_events_per_actor`) and the
//! summary's ([`summary::MAX_TRACKED`]), never by the size of the input. A bad line is counted and
//! reported with its line number (`--strict` makes the first one fatal). Ctrl-C stops reading and
//! prints the summary so far (a second Ctrl-C ends at once).

mod batch;
mod formats;
mod lines;
mod spark;
pub mod summary;

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use indicatif::ProgressBar;
use pattern_guard::input::time::format_rfc3339;
use pattern_guard::input::ParsedEvent;
use pattern_guard::{Assessment, Config, Event, Guard, ManualClock};
use serde_json::{json, Value};

use crate::cli::exit_code::{Exit, Failure};
use crate::cli::options::ReplayPlan;
use crate::cli::output::{delay_secs, human, reasons, Printer};
use crate::cli::progress::{self, Progress};
use batch::Batch;
use formats::{Chosen, Reader, Source};
use lines::{Sink, Stop};
use summary::{Report, Summary};

/// Runs a replay and prints its report.
pub fn run(
    config: Config,
    config_source: &str,
    plan: &ReplayPlan,
    printer: Printer,
) -> Result<Exit, Failure> {
    let input = Input::open(&plan.input, printer)?;
    let source = Source {
        changed: input.changed,
    };
    let chosen = formats::choose(&plan.format, &config.replay, plan.combined, &source)
        .map_err(Failure::Usage)?;
    let to_stdout = plan
        .decisions
        .as_ref()
        .is_some_and(|p| p.as_os_str() == "-");
    let decisions = match &plan.decisions {
        None => None,
        Some(_) if to_stdout => Some(Decisions {
            out: Box::new(BufWriter::new(std::io::stdout())),
            each_line: input.changed.is_none(),
            only: plan.only,
            stdout: true,
        }),
        Some(path) => Some(Decisions {
            out: Box::new(BufWriter::new(File::create(path).map_err(|e| {
                Failure::Usage(format!("cannot write {}: {e}", path.display()))
            })?)),
            each_line: false,
            only: plan.only,
            stdout: false,
        }),
    };
    // With the decisions on standard output, everything else goes to standard error.
    let out: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout().lock())
    };
    let stop = Arc::new(AtomicBool::new(false));
    // The first Ctrl-C asks for the summary so far; a second one ends at once.
    signal_hook::flag::register_conditional_default(
        signal_hook::consts::SIGINT,
        Arc::clone(&stop),
    )?;
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop))?;

    let baseline = baseline_on(&config);
    let clock = ManualClock::new(UNIX_EPOCH);
    let mut replayer = Replayer {
        guard: Guard::from_config(config)?.with_clock(clock.clone()),
        clock,
        plan,
        format: chosen,
        source,
        summary: Summary::default().with_baseline(baseline),
        newest: 0,
        decisions,
        closed: false,
        explained: (plan.json && plan.explain.is_some()).then(Vec::new),
        batch: Batch::default(),
        assessments: Vec::new(),
        out: BufWriter::new(out),
    };
    let started = Instant::now();
    let mut feed = Feed {
        replayer: &mut replayer,
        bar: progress_bar(Progress::new(printer.is_quiet()), input.size),
        sized: input.size.is_some(),
    };
    let mut outcome = lines::read(input.reader, &stop, &mut feed);
    // The lines still held are checked whatever ended the reading, but a refusal.
    if let Ok(None | Some(Stop::Interrupted)) = outcome {
        if let Err(stop) = feed.replayer.check_batch() {
            outcome = Ok(Some(stop));
        }
    }
    progress::finish(feed.bar.as_ref());
    let interrupted_at = match outcome {
        // The end, or the reader of the decisions went away: what was read is summed up.
        Ok(None | Some(Stop::Closed)) => None,
        Ok(Some(Stop::Interrupted)) => Some(replayer.summary.lines),
        Ok(Some(Stop::Refused(why))) => {
            let line = replayer.summary.lines;
            printer.always(format!(
                "{}:{line}: {why} (--strict stops at the first bad line)",
                input.shown
            ));
            return Ok(Exit::Failure);
        }
        Ok(Some(Stop::Unreadable(why))) => {
            return Err(Failure::Usage(format!("{}: {why}", input.shown)))
        }
        Err(e) => return Err(Failure::Usage(format!("cannot read {}: {e}", input.shown))),
    };
    let format_name = replayer.format.name.clone();
    let report = Report {
        input: &input.shown,
        format: &format_name,
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
    /// When it last changed, when it is a regular file (`None`: lines are read as written).
    changed: Option<std::time::SystemTime>,
    /// How messages name it.
    shown: String,
}

impl Input {
    fn open(path: &Path, printer: Printer) -> Result<Input, Failure> {
        if path.as_os_str() == "-" {
            if std::io::stdin().is_terminal() {
                printer.note("reading events from the terminal; end with Ctrl-D (or give a FILE)");
            }
            let changed = regular_stdin();
            return Ok(Input {
                reader: Box::new(std::io::stdin()),
                size: None,
                changed,
                shown: "standard input".into(),
            });
        }
        let file = File::open(path)
            .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))?;
        let meta = file.metadata().ok().filter(std::fs::Metadata::is_file);
        Ok(Input {
            reader: Box::new(file),
            size: meta.as_ref().map(std::fs::Metadata::len),
            changed: meta.and_then(|m| m.modified().ok()),
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
    fn head(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        let r = &mut *self.replayer;
        if r.format.reader.is_none() {
            r.format = formats::recognized(bytes, r.plan.combined, r.plan.format.year, &r.source)
                .map_err(Stop::Unreadable)?;
        }
        Ok(())
    }

    fn line(&mut self, line: &[u8]) -> Result<(), Stop> {
        self.replayer.line(line)
    }

    fn too_long(&mut self) -> Result<(), Stop> {
        let r = &mut *self.replayer;
        // The lines before it first, so rejects stay in line order.
        r.check_batch()?;
        r.summary.lines += 1;
        let why = format!("longer than {} MiB", lines::MAX_LINE >> 20);
        if r.plan.strict {
            return Err(Stop::Refused(why));
        }
        r.summary.reject(r.summary.lines, why);
        Ok(())
    }

    fn progress(&mut self, bytes: u64) -> Result<(), Stop> {
        // What a chunk decided is out before the next read waits (which may be long on a pipe).
        self.replayer.check_batch()?;
        if let Some(d) = self.replayer.decisions.as_mut() {
            if d.stdout && d.out.flush().is_err() {
                self.replayer.closed = true;
            }
        }
        if let Some(bar) = &self.bar {
            bar.set_position(if self.sized {
                bytes
            } else {
                self.replayer.summary.events
            });
        }
        Ok(())
    }
}

/// Where `--decisions` go.
struct Decisions {
    out: Box<dyn Write>,
    /// Flush after each line (standard output, input read as it is written).
    each_line: bool,
    /// Which decisions are written, by severity.
    only: [bool; 4],
    /// It is standard output (its reader may go away).
    stdout: bool,
}

/// The guard and everything a replay accumulates.
struct Replayer<'a> {
    guard: Guard,
    clock: ManualClock,
    plan: &'a ReplayPlan,
    format: Chosen,
    source: Source,
    summary: Summary,
    newest: u64,
    decisions: Option<Decisions>,
    /// The reader of `--decisions -` went away.
    closed: bool,
    explained: Option<Vec<Value>>,
    /// Lines read and not checked yet.
    batch: Batch,
    /// Reused for every batch, so assessing allocates nothing per event.
    assessments: Vec<Assessment>,
    /// The summary and `--explain` (standard error when the decisions take standard output).
    out: BufWriter<Box<dyn Write>>,
}

impl Replayer<'_> {
    /// One line (without its newline), checked with the lines after it once the batch is
    /// full (at once with `--parse-only`). `Err` under `--strict`, or when the decisions'
    /// reader went away.
    fn line(&mut self, line: &[u8]) -> Result<(), Stop> {
        if self.closed {
            return Err(Stop::Closed);
        }
        self.summary.lines += 1;
        let line_no = self.summary.lines;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        if self.plan.parse_only {
            let reader = self.reader()?;
            let parsed = self.parse(&reader, line_no, line).map(|e| e.map(|e| e.ts));
            self.format.reader = Some(reader);
            if let Some(ts) = parsed? {
                self.summary.saw(ts);
            }
            return Ok(());
        }
        if self.batch.push(line_no, line) {
            return self.check_batch();
        }
        Ok(())
    }

    /// Parses and checks the lines held, and empties the batch. `Err` as for [`Self::line`];
    /// the summary then counts the lines up to the one that stopped it.
    fn check_batch(&mut self) -> Result<(), Stop> {
        if self.batch.is_empty() || self.closed {
            return Ok(());
        }
        // Taken out while the batch's events borrow from them.
        let reader = self.reader()?;
        let batch = std::mem::take(&mut self.batch);
        let mut events = Vec::with_capacity(batch::LINES);
        let mut refused = None;
        for (line_no, line) in batch.iter() {
            match self.parse(&reader, line_no, line) {
                Ok(Some(event)) => events.push((line_no, event)),
                Ok(None) => {}
                Err(stop) => {
                    refused = Some((line_no, stop));
                    break;
                }
            }
        }
        let checked = self.check(&events);
        drop(events);
        self.format.reader = Some(reader);
        self.batch = batch;
        self.batch.clear();
        checked?;
        match refused {
            Some((line_no, stop)) => {
                self.summary.lines = line_no;
                Err(stop)
            }
            None => Ok(()),
        }
    }

    /// The format's reader, taken out of `self.format` (put it back after use).
    fn reader(&mut self) -> Result<Reader, Stop> {
        self.format
            .reader
            .take()
            .ok_or_else(|| Stop::Unreadable("no format chosen".into()))
    }

    /// A line's event; `Ok(None)` for a line that holds none (counted as not an event, or as
    /// rejected unless `--strict` refuses it).
    fn parse<'l>(
        &mut self,
        reader: &'l Reader,
        line_no: u64,
        line: &'l [u8],
    ) -> Result<Option<ParsedEvent<'l>>, Stop> {
        let parsed = match std::str::from_utf8(line) {
            Ok(text) => reader.parse(text),
            Err(e) => Err(format!(
                "not UTF-8 (bad byte at column {})",
                e.valid_up_to() + 1
            )),
        };
        match parsed {
            Ok(Some(event)) => Ok(Some(event)),
            Ok(None) => {
                self.summary.not_events += 1;
                Ok(None)
            }
            Err(why) if self.plan.strict => Err(Stop::Refused(why)),
            Err(why) => {
                self.summary.reject(line_no, why);
                Ok(None)
            }
        }
    }

    /// Checks `events` (with their line numbers) in order, and records and writes out what the
    /// guard decided. `Err(Closed)` when the reader of the decisions went away; the summary
    /// then ends with the event whose decision could not be written.
    fn check(&mut self, events: &[(u64, ParsedEvent<'_>)]) -> Result<(), Stop> {
        if events.is_empty() {
            return Ok(());
        }
        // The replay's clock stands at the newest time read. Set once to the batch's newest, it
        // decides nothing differently: the guard reads the clock only to cap events stamped in
        // its future, and no event here is stamped after the batch's newest.
        for (_, event) in events {
            self.newest = self.newest.max(event.ts);
        }
        self.summary.warm(events.iter().map(|(_, e)| &*e.actor));
        self.clock
            .set(UNIX_EPOCH + Duration::from_nanos(self.newest));
        let list: Vec<Event<'_>> = events.iter().map(|(_, e)| e.to_event()).collect();
        let mut assessments = std::mem::take(&mut self.assessments);
        self.guard.assess_batch(&list, &mut assessments);
        let mut written = Ok(());
        for ((line_no, event), a) in events.iter().zip(&assessments) {
            self.summary.saw(event.ts);
            self.summary.record(&event.actor, event.ts, a);
            if let Some(d) = self.decisions.as_mut() {
                if let Err(e) = write_decision(d, *line_no, event, a) {
                    if d.stdout {
                        self.closed = true;
                        self.summary.lines = *line_no;
                        written = Err(Stop::Closed);
                    } else {
                        eprintln!("pattern-guard: cannot write the decisions file: {e}");
                    }
                    self.decisions = None;
                }
            }
            if self.plan.explain.as_deref() == Some(&*event.actor) {
                match self.explained.as_mut() {
                    Some(list) => list.push(decision_line(*line_no, event, a)),
                    None => {
                        let _ = writeln!(self.out, "{}", explain_line(*line_no, event, a));
                    }
                }
            }
            if written.is_err() {
                break;
            }
        }
        self.assessments = assessments;
        written
    }

    /// Prints the report.
    fn finish(mut self, report: &Report<'_>) -> Result<(), Failure> {
        if self.summary.baseline_on() && !report.parse_only {
            let top: std::collections::HashSet<String> = self
                .summary
                .top(report.top)
                .into_iter()
                .map(|(a, _)| a.to_string())
                .collect();
            self.summary.learned = self
                .guard
                .actors(None)
                .into_iter()
                .filter(|s| top.contains(&s.actor))
                .filter_map(|s| Some((s.actor, s.learned_rate?)))
                .collect();
        }
        if let Some(mut d) = self.decisions.take() {
            if let Err(e) = d.out.flush() {
                if !d.stdout {
                    return Err(e.into());
                }
            }
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

/// A `--decisions` line, unless `--only` leaves its decision out.
fn write_decision(
    d: &mut Decisions,
    line_no: u64,
    event: &ParsedEvent<'_>,
    a: &Assessment,
) -> std::io::Result<()> {
    if !d.only[usize::from(a.decision.severity()).min(3)] {
        return Ok(());
    }
    serde_json::to_writer(&mut d.out, &decision_line(line_no, event, a))?;
    d.out.write_all(b"\n")?;
    if d.each_line {
        d.out.flush()?;
    }
    Ok(())
}

/// When standard input is a regular file (`< file`), when it last changed.
fn regular_stdin() -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata("/dev/stdin").ok()?;
    if meta.is_file() {
        meta.modified().ok()
    } else {
        None
    }
}

/// Whether the baseline detector is on for the guard or any actor.
fn baseline_on(config: &Config) -> bool {
    config.guard.baseline_max_z.is_some()
        || config
            .actors
            .keys()
            .any(|a| config.settings_for(a).baseline_max_z.is_some())
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
