//! `pattern-guard replay`: recorded traffic through a guard, and what it would have decided.
//!
//! Events stream from a file or stdin, one line at a time, each judged at its own timestamp: the
//! guard runs on a [`ManualClock`] set to the newest time read so far, so nothing sleeps and the
//! wall clock plays no part. Each event goes through [`Guard::assess`], the call `check` makes,
//! built the same way, so a replay and live checks of the same events cannot disagree. Nothing is
//! written to the state directory.
//!
//! Memory is bounded by the engine's own bounds (`max_actors`, `max_events_per_actor`) and the
//! summary's ([`summary::MAX_TRACKED`]), never by the size of the input. A bad line is counted and
//! reported with its line number (`--strict` makes the first one fatal). Ctrl-C stops reading and
//! prints the summary so far (a second Ctrl-C ends at once).

pub mod input;
pub mod summary;

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use pattern_guard::{Assessment, Config, Event, Guard, ManualClock};
use serde_json::{json, Value};

use super::args::{Global, InputFormat, ReplayArgs};
use super::exit_code::Exit;
use super::Failure;
use input::{format_rfc3339, CombinedOptions, Parsed};
use summary::{Report, Summary};

/// Lines longer than this are rejected (and skipped up to the next newline) rather than held.
const MAX_LINE: usize = 1024 * 1024;
/// Bytes a read hands over at once; a few are in flight.
const CHUNK: usize = 256 * 1024;

/// Runs a replay and prints its report.
pub fn run(
    global: &Global,
    config: Config,
    config_source: &str,
    args: &ReplayArgs,
) -> Result<Exit, Failure> {
    if args
        .decisions
        .as_ref()
        .is_some_and(|p| p.as_os_str() == "-")
    {
        return Err(Failure::Usage(
            "--decisions needs a file: standard output carries the summary".into(),
        ));
    }
    let from_stdin = args.input.as_os_str() == "-";
    if from_stdin && std::io::stdin().is_terminal() && global.quiet == 0 {
        eprintln!(
            "pattern-guard: reading events from the terminal; end with Ctrl-D (or give a FILE)"
        );
    }
    let (reader, size): (Box<dyn Read + Send>, Option<u64>) = if from_stdin {
        (Box::new(std::io::stdin()), None)
    } else {
        let file = File::open(&args.input)
            .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", args.input.display())))?;
        let size = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        (Box::new(file), size)
    };
    let shown = if from_stdin {
        "standard input".to_string()
    } else {
        args.input.display().to_string()
    };
    let decisions = match &args.decisions {
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
    let stdout = std::io::stdout();
    let mut r = Replayer {
        guard: Guard::from_config(config)?.with_clock(clock.clone()),
        clock,
        args,
        format: args.format,
        opts: CombinedOptions {
            drop_query: args.drop_query,
            weight_from_size: args.weight_from_size,
        },
        summary: Summary::default(),
        newest: 0,
        decisions,
        explained: (args.json && args.explain.is_some()).then(Vec::new),
        out: BufWriter::new(stdout.lock()),
    };
    let progress = progress_bar(global, size);
    let chunks = spawn_reader(reader);
    let mut carry: Vec<u8> = Vec::new();
    let mut skipping = false;
    let mut bytes = 0u64;
    let mut interrupted_at = None;
    let started = Instant::now();
    'read: loop {
        let chunk = match chunks.rx.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(chunk)) => chunk,
            Ok(Err(e)) => {
                finish(&progress);
                return Err(Failure::Usage(format!("cannot read {shown}: {e}")));
            }
            Err(RecvTimeoutError::Timeout) => {
                if stop.load(Ordering::Relaxed) {
                    interrupted_at = Some(r.summary.lines);
                    break;
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if bytes == 0 && r.format == InputFormat::Auto {
            r.format = sniff(&chunk);
        }
        bytes += chunk.len() as u64;
        let mut start = 0;
        while let Some(pos) = memchr::memchr(b'\n', &chunk[start..]) {
            let end = start + pos;
            let outcome = if skipping {
                skipping = false;
                r.summary.lines += 1;
                Ok(())
            } else if carry.is_empty() {
                r.line(&chunk[start..end])
            } else {
                carry.extend_from_slice(&chunk[start..end]);
                let outcome = r.line(&carry);
                carry.clear();
                outcome
            };
            start = end + 1;
            if let Err(why) = outcome {
                return Ok(strict_failure(&progress, &shown, r.summary.lines, &why));
            }
            if stop.load(Ordering::Relaxed) {
                interrupted_at = Some(r.summary.lines);
                break 'read;
            }
        }
        let rest = &chunk[start..];
        if !skipping && carry.len() + rest.len() > MAX_LINE {
            // A line too long to hold: reject it and skip to its end (which counts the line).
            let line_no = r.summary.lines + 1;
            let why = format!("longer than {} MiB", MAX_LINE >> 20);
            if args.strict {
                return Ok(strict_failure(&progress, &shown, line_no, &why));
            }
            r.summary.reject(line_no, why);
            carry.clear();
            skipping = true;
        } else if !skipping {
            carry.extend_from_slice(rest);
        }
        chunks.recycle(chunk);
        if let Some(bar) = &progress {
            bar.set_position(if size.is_some() {
                bytes
            } else {
                r.summary.events
            });
        }
    }
    if skipping {
        r.summary.lines += 1;
    } else if interrupted_at.is_none() && !carry.is_empty() {
        // The last line, without a newline.
        if let Err(why) = r.line(&carry) {
            return Ok(strict_failure(&progress, &shown, r.summary.lines, &why));
        }
    }
    let elapsed = started.elapsed();
    finish(&progress);
    let format_name = match r.format {
        InputFormat::Combined => "combined",
        _ => "jsonl",
    };
    let report = Report {
        input: &shown,
        format: format_name,
        config: config_source,
        elapsed,
        parse_only: args.parse_only,
        interrupted_at,
        top: args.top,
    };
    r.finish(&report)?;
    Ok(match interrupted_at {
        Some(_) => Exit::Interrupted(signal_hook::consts::SIGINT),
        None => Exit::Success,
    })
}

/// Under `--strict`: the first bad line ends the replay (exit 125).
fn strict_failure(
    progress: &Option<indicatif::ProgressBar>,
    shown: &str,
    line: u64,
    why: &str,
) -> Exit {
    finish(progress);
    eprintln!("pattern-guard: {shown}:{line}: {why} (--strict stops at the first bad line)");
    Exit::Failure
}

fn finish(progress: &Option<indicatif::ProgressBar>) {
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
}

/// Reads in a thread, so that a Ctrl-C is noticed while a pipe is quiet.
struct Chunks {
    rx: Receiver<std::io::Result<Vec<u8>>>,
    spare: SyncSender<Vec<u8>>,
}

impl Chunks {
    /// Hands a buffer back for reuse.
    fn recycle(&self, chunk: Vec<u8>) {
        let _ = self.spare.try_send(chunk);
    }
}

fn spawn_reader(mut reader: Box<dyn Read + Send>) -> Chunks {
    let (tx, rx) = sync_channel::<std::io::Result<Vec<u8>>>(4);
    let (spare, spares) = sync_channel::<Vec<u8>>(8);
    std::thread::spawn(move || loop {
        let mut buf = spares.try_recv().unwrap_or_default();
        buf.resize(CHUNK, 0);
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                buf.truncate(n);
                if tx.send(Ok(buf)).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                let _ = tx.send(Err(e));
                break;
            }
        }
    });
    Chunks { rx, spare }
}

/// The guard and everything a replay accumulates.
struct Replayer<'a> {
    guard: Guard,
    clock: ManualClock,
    args: &'a ReplayArgs,
    format: InputFormat,
    opts: CombinedOptions,
    summary: Summary,
    newest: u64,
    decisions: Option<BufWriter<File>>,
    explained: Option<Vec<Value>>,
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
                InputFormat::Combined => input::parse_combined(text, self.opts),
                _ => input::parse_jsonl(text),
            },
            Err(e) => Err(format!(
                "not UTF-8 (bad byte at column {})",
                e.valid_up_to() + 1
            )),
        };
        let event = match parsed {
            Ok(event) => event,
            Err(why) if self.args.strict => return Err(why),
            Err(why) => {
                self.summary.reject(line_no, why);
                return Ok(());
            }
        };
        self.summary.saw(event.ts);
        if self.args.parse_only {
            return Ok(());
        }
        self.newest = self.newest.max(event.ts);
        self.clock
            .set(UNIX_EPOCH + Duration::from_nanos(self.newest));
        let a = assess(&self.guard, &event);
        self.summary.record(&event.actor, event.ts, &a);
        if let Some(w) = self.decisions.as_mut() {
            let written = serde_json::to_writer(&mut *w, &decision_line(line_no, &event, &a))
                .map_err(std::io::Error::from)
                .and_then(|()| w.write_all(b"\n"));
            if let Err(e) = written {
                // A full disk should not go unnoticed: stop writing, say so once.
                eprintln!("pattern-guard: cannot write the decisions file: {e}");
                self.decisions = None;
            }
        }
        if self.args.explain.as_deref() == Some(&*event.actor) {
            match self.explained.as_mut() {
                Some(list) => list.push(decision_line(line_no, &event, &a)),
                None => {
                    let _ = writeln!(self.out, "{}", explain_line(line_no, &event, &a));
                }
            }
        }
        Ok(())
    }

    /// Prints the report.
    fn finish(mut self, report: &Report<'_>) -> Result<(), Failure> {
        if let Some(mut w) = self.decisions.take() {
            w.flush()?;
        }
        if self.args.json {
            let explained = self.explained.take();
            serde_json::to_writer_pretty(&mut self.out, &self.summary.json(report, explained))
                .map_err(std::io::Error::from)?;
            writeln!(self.out)?;
        } else {
            if self.args.explain.is_some() {
                writeln!(self.out)?;
            }
            write!(self.out, "{}", self.summary.text(report))?;
        }
        self.out.flush()?;
        Ok(())
    }
}

/// The one step a replay shares with `check`: the event, as `check` builds it, through
/// [`Guard::assess`].
pub fn assess(guard: &Guard, e: &Parsed<'_>) -> Assessment {
    let mut event = Event::new(
        &*e.actor,
        &*e.action,
        &*e.target,
        UNIX_EPOCH + Duration::from_nanos(e.ts),
    )
    .with_weight(e.weight);
    if !e.metadata.is_empty() {
        event = event.with_metadata(e.metadata.iter().cloned());
    }
    guard.assess(&event)
}

/// JSON Lines or an access log, from the first non-blank character.
fn sniff(head: &[u8]) -> InputFormat {
    match head.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') | None => InputFormat::Jsonl,
        Some(_) => InputFormat::Combined,
    }
}

fn progress_bar(global: &Global, size: Option<u64>) -> Option<indicatif::ProgressBar> {
    if global.quiet > 0 || !std::io::stderr().is_terminal() {
        return None;
    }
    let (bar, template) = match size {
        Some(len) => (
            indicatif::ProgressBar::new(len),
            "replaying {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
        ),
        None => (
            indicatif::ProgressBar::new_spinner(),
            "replaying {spinner} {pos} events",
        ),
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    Some(bar)
}

fn fired(a: &Assessment) -> Vec<&'static str> {
    a.reasons().iter().map(|r| r.detector.name()).collect()
}

/// A `--decisions` line (and a `--explain` entry in JSON).
fn decision_line(line: u64, e: &Parsed<'_>, a: &Assessment) -> Value {
    json!({
        "line": line,
        "actor": &*e.actor,
        "action": &*e.action,
        "target": &*e.target,
        "timestamp": format_rfc3339(e.ts),
        "decision": a.decision.name(),
        "delay_secs": super::delay_secs(a.decision),
        "risk": a.risk,
        "raw_risk": a.raw_risk,
        "escalation_level": a.escalation_level,
        "fired": fired(a),
    })
}

/// A `--explain` timeline line.
fn explain_line(line: u64, e: &Parsed<'_>, a: &Assessment) -> String {
    let decision = match a.decision {
        pattern_guard::Decision::Delay(d) => format!("delay {}", super::supervise::human(d)),
        d => d.name().to_string(),
    };
    format!(
        "{}  line {line}  {} {}  {decision}  risk {:.2}  level {}  {}",
        format_rfc3339(e.ts),
        e.action,
        e.target,
        a.risk,
        a.escalation_level,
        super::reasons(a)
    )
}
