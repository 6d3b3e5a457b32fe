//! The `pattern-guard` command: guard a command with the engine, keeping history between runs.
//!
//! - [`args`]: the clap definition (the only module that sees clap);
//! - [`state`]: where history lives, locking, atomic saves, corrupt-state recovery;
//! - [`supervise`]: running the child, forwarding signals, stopping runaways;
//! - [`exit_code`]: the exit codes.
//!
//! This module ties them together: find the configuration, then for each run load-check-save the
//! actor's history and act on the decision.

mod args;
pub mod exit_code;
mod replay;
pub mod state;
pub mod supervise;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use pattern_guard::{Assessment, Config, Decision, Event, Guard, OnOverlap};

use args::{
    Cli, ColorChoice, Command, ConfigCommand, EventArgs, Global, LogFormat, OverlapArg, RunArgs,
};
use exit_code::Exit;
use state::{ActorState, Instance, StateError};
use supervise::{human, Limits, Signals};

/// Everything that makes pattern-guard itself fail (exit 125).
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Config(#[from] pattern_guard::Error),
    #[error("{0}")]
    State(#[from] StateError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Parses the command line, runs, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::parse_args() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                Exit::Failure
            } else {
                Exit::Success
            };
            let _ = e.print();
            return code.into();
        }
    };
    init_logging(&cli.global);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pattern-guard: cannot start: {e}");
            return Exit::Failure.into();
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("pattern-guard: {e}");
            Exit::Failure.into()
        }
    }
}

async fn run(cli: Cli) -> Result<Exit, Failure> {
    // These need no configuration: they must work even when it is broken.
    match cli.command {
        Some(Command::Completions { shell }) => {
            std::io::Write::write_all(&mut std::io::stdout(), &args::completions(shell))?;
            return Ok(Exit::Success);
        }
        Some(Command::Man) => {
            std::io::Write::write_all(&mut std::io::stdout(), &args::man_page()?)?;
            return Ok(Exit::Success);
        }
        _ => {}
    }
    let (config, source) = load_config(cli.global.config.as_deref())?;
    tracing::debug!(config = %source, "configuration loaded");
    match cli.command {
        Some(Command::Config {
            command: ConfigCommand::Check { actor },
        }) => {
            let settings = config.settings_for(&actor);
            let text = toml::to_string(&settings).map_err(|e| Failure::Usage(e.to_string()))?;
            eprintln!("pattern-guard: {source}: valid; effective settings for actor '{actor}':");
            print!("[guard]\n{text}");
            Ok(Exit::Success)
        }
        Some(Command::Check { event, at, json }) => {
            check(&cli.global, config, &event, at, json)
        }
        Some(Command::Status { actor, json }) => status(&cli.global, config, actor, json),
        Some(Command::Reset { actor, all }) => reset(&cli.global, actor, all),
        Some(Command::Replay(args)) => replay::run(&cli.global, config, &source, &args),
        Some(Command::Completions { .. } | Command::Man) => Ok(Exit::Success),
        None if cli.argv.is_empty() => Err(Failure::Usage(
            "nothing to run: give a command after `--` (pattern-guard [OPTIONS] -- COMMAND [ARGS...]), \
             or a subcommand; see --help"
                .into(),
        )),
        None => guard_command(&cli.global, config, &cli.run, &cli.argv).await,
    }
}

/// `--config`/`$PATTERN_GUARD_CONFIG` (clap reads both), then the user's config file, then the
/// built-in defaults. Returns the config and where it came from.
fn load_config(explicit: Option<&Path>) -> Result<(Config, String), Failure> {
    if let Some(path) = explicit {
        return Ok((Config::from_path(path)?, path.display().to_string()));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(path) = base.map(|b| b.join("pattern-guard").join("guard.toml")) {
        if path.exists() {
            return Ok((Config::from_path(&path)?, path.display().to_string()));
        }
    }
    Ok((Config::default(), "built-in defaults".into()))
}

fn init_logging(global: &Global) {
    use tracing_subscriber::filter::{EnvFilter, LevelFilter};
    let level = match (global.quiet, global.verbose) {
        (q, _) if q > 0 => LevelFilter::ERROR,
        (_, 0) => LevelFilter::WARN,
        (_, 1) => LevelFilter::INFO,
        (_, 2) => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let ansi = match global.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    // RUST_LOG wins when it parses; a plain level filter otherwise (no directive parsing, which
    // would cost every run a slice of its start-up).
    match std::env::var("RUST_LOG").map(EnvFilter::try_new) {
        Ok(Ok(filter)) => install_logging(filter, ansi, global.log_format),
        _ => install_logging(level, ansi, global.log_format),
    }
}

fn install_logging<F>(filter: F, ansi: bool, format: LogFormat)
where
    F: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    use tracing_subscriber::prelude::*;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry.with(fmt).try_init(),
        LogFormat::Json => registry.with(fmt.json()).try_init(),
    };
}

fn state_dir(global: &Global) -> Result<PathBuf, Failure> {
    Ok(state::resolve_dir(global.state_dir.as_deref())?)
}

/// Shell-like display of a command line, the default event target.
fn command_line(argv: &[OsString]) -> String {
    argv.iter()
        .map(|a| {
            let s = a.to_string_lossy();
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                s.into_owned()
            } else {
                format!("'{}'", s.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn reasons(a: &Assessment) -> String {
    let r: Vec<String> = a.reasons().iter().map(ToString::to_string).collect();
    if r.is_empty() {
        "no detector fired".into()
    } else {
        r.join("; ")
    }
}

/// The outcome of asking to run under the actor's lock.
enum Gate {
    /// The overlap limit is reached: this many runs are going.
    Busy(usize),
    /// The event was checked (and, with an overlap limit and unless blocked, this run registered).
    Checked(Assessment),
}

/// Under the actor's lock: the overlap limit, then the check; reports a set-aside state file.
fn admit(
    dir: &Path,
    guard: &Guard,
    event: &Event<'_>,
    save: bool,
    max_concurrent: Option<usize>,
) -> Result<Gate, StateError> {
    let store = ActorState::new(dir, event.actor());
    let (gate, notice) = store.transact(guard, save, |txn| {
        if let Some(max) = max_concurrent {
            if txn.running.len() >= max {
                return Gate::Busy(txn.running.len());
            }
        }
        let a = txn.assess(event);
        if save && max_concurrent.is_some() && a.decision != Decision::Block {
            txn.running.push(Instance::me());
        }
        Gate::Checked(a)
    })?;
    report(notice);
    Ok(gate)
}

/// Tells the user what happened to an unusable or damaged state file.
fn report(notice: Option<state::Notice>) {
    if let Some(note) = notice {
        eprintln!("pattern-guard: {note}");
    }
}

/// Takes this run off the actor's list of running instances.
fn release(dir: &Path, guard: &Guard, actor: &str) -> Result<(), StateError> {
    let me = std::process::id();
    ActorState::new(dir, actor)
        .transact(guard, true, |txn| txn.running.retain(|i| i.pid != me))
        .map(drop)
}

/// Records the event under the actor's lock (no overlap limit).
fn record(dir: &Path, guard: &Guard, event: &Event<'_>) -> Result<Assessment, StateError> {
    let store = ActorState::new(dir, event.actor());
    let (a, notice) = store.transact(guard, true, |txn| txn.assess(event))?;
    report(notice);
    Ok(a)
}

async fn guard_command(
    global: &Global,
    config: Config,
    run: &RunArgs,
    argv: &[OsString],
) -> Result<Exit, Failure> {
    let dir = state_dir(global)?;
    let settings = config.settings_for(&run.event.actor);
    let limits = Limits {
        max_runtime: run
            .max_runtime
            .or_else(|| settings.max_runtime_secs.map(Duration::from_secs_f64)),
        kill_after: run
            .kill_after
            .unwrap_or_else(|| Duration::from_secs_f64(settings.kill_grace_secs)),
    };
    let max_concurrent = run
        .max_concurrent
        .or(settings.max_concurrent)
        .map(|m| usize::try_from(m).unwrap_or(usize::MAX));
    let wait_for_slot = match run.on_overlap {
        Some(OverlapArg::Wait) => true,
        Some(OverlapArg::Refuse) => false,
        None => settings.on_overlap == OnOverlap::Wait,
    };
    let guard = Guard::from_config(config)?;
    let mut signals = Signals::install()?;
    let shown = command_line(argv);
    let target = run.event.target.clone().unwrap_or_else(|| shown.clone());
    let mut last = Exit::Success;
    for iteration in 1..=run.repeat {
        if iteration > 1 {
            if let Some(pause) = run.interval {
                let done = iteration - 1;
                if let Some(sig) =
                    supervise::pause_between_runs(pause, done, run.repeat, &mut signals).await
                {
                    return Ok(Exit::Interrupted(sig as i32));
                }
            }
        }
        let event = Event::new(
            run.event.actor.as_str(),
            run.event.action.as_str(),
            target.as_str(),
            SystemTime::now(),
        )
        .with_weight(run.event.weight);
        let mut waited = false;
        let assessment = loop {
            match admit(&dir, &guard, &event, !run.dry_run, max_concurrent)? {
                Gate::Checked(a) => break a,
                Gate::Busy(n) if wait_for_slot && !run.dry_run => {
                    if !waited && global.quiet == 0 {
                        eprintln!(
                            "pattern-guard: waiting: actor '{}' already has {n} run(s) of '{shown}' going (max_concurrent {})",
                            run.event.actor,
                            max_concurrent.unwrap_or(n)
                        );
                    }
                    waited = true;
                    let pause = Duration::from_millis(200);
                    if let Some(sig) = supervise::wait_or_signal(pause, &mut signals).await {
                        return Ok(Exit::Interrupted(sig as i32));
                    }
                }
                Gate::Busy(n) => {
                    if global.quiet < 2 {
                        eprintln!(
                            "pattern-guard: not starting '{shown}': actor '{}' already has {n} run(s) going (max_concurrent {})",
                            run.event.actor,
                            max_concurrent.unwrap_or(n)
                        );
                    }
                    return Ok(Exit::Blocked(run.block_exit_code));
                }
            }
        };
        let registered =
            max_concurrent.is_some() && !run.dry_run && assessment.decision != Decision::Block;
        let acted = act(global, run, &assessment, &shown, &mut signals).await;
        if acted.is_none() {
            let env = [("PATTERN_GUARD_ITERATION", iteration.to_string())];
            last = supervise::run(argv, &env, limits, &mut signals).await;
        }
        if registered {
            release(&dir, &guard, &run.event.actor)?;
        }
        if let Some(exit) = acted {
            return Ok(exit);
        }
        // A command that cannot be started will not start on the next iteration either.
        if matches!(last, Exit::Failure | Exit::NotFound | Exit::CannotRun) {
            return Ok(last);
        }
    }
    Ok(last)
}

/// Reports and enacts a decision before the run; `Some(exit)` when the command must not run.
async fn act(
    global: &Global,
    run: &RunArgs,
    a: &Assessment,
    shown: &str,
    signals: &mut Signals,
) -> Option<Exit> {
    let actor = &run.event.actor;
    let dry = if run.dry_run {
        " (dry run: not enforced)"
    } else {
        ""
    };
    let speak = global.quiet == 0;
    match a.decision {
        Decision::Allow => {
            if run.explain || run.dry_run {
                eprintln!(
                    "pattern-guard: allow '{shown}' for actor '{actor}' (risk {:.2}): {}{dry}",
                    a.risk,
                    reasons(a)
                );
            }
            None
        }
        Decision::Warn => {
            if speak {
                eprintln!(
                    "pattern-guard: warning: unusual runs of '{shown}' for actor '{actor}' (risk {:.2}): {}{dry}",
                    a.risk,
                    reasons(a)
                );
            }
            None
        }
        Decision::Delay(d) => {
            if speak {
                eprintln!(
                    "pattern-guard: delaying '{shown}' by {} for actor '{actor}' (risk {:.2}): {}{dry}",
                    human(d),
                    a.risk,
                    reasons(a)
                );
            }
            if run.dry_run {
                return None;
            }
            supervise::countdown(d, signals)
                .await
                .map(|sig| Exit::Interrupted(sig as i32))
        }
        Decision::Block => {
            if global.quiet < 2 {
                let when = a
                    .retry_after
                    .map(|d| format!("; it may run again in {}", human(d)))
                    .unwrap_or_default();
                eprintln!(
                    "pattern-guard: blocked '{shown}' for actor '{actor}' (risk {:.2}): {}{when}{dry}",
                    a.risk,
                    reasons(a)
                );
            }
            (!run.dry_run).then_some(Exit::Blocked(run.block_exit_code))
        }
    }
}

/// A delay decision's wait in seconds, for JSON output.
fn delay_secs(d: Decision) -> Option<f64> {
    match d {
        Decision::Delay(d) => Some(d.as_secs_f64()),
        _ => None,
    }
}

fn assessment_json(actor: &str, a: &Assessment) -> serde_json::Value {
    serde_json::json!({
        "actor": actor,
        "decision": a.decision.name(),
        "delay_secs": delay_secs(a.decision),
        "risk": a.risk,
        "raw_risk": a.raw_risk,
        "escalation_level": a.escalation_level,
        "retry_after_secs": a.retry_after.map(|d| d.as_secs_f64()),
        "readings": a.readings.iter().map(|r| serde_json::json!({
            "detector": r.detector.name(),
            "observed": r.observed,
            "limit": r.limit,
            "risk": r.risk,
        })).collect::<Vec<_>>(),
    })
}

fn check(
    global: &Global,
    config: Config,
    event: &EventArgs,
    at: Option<SystemTime>,
    json: bool,
) -> Result<Exit, Failure> {
    let dir = state_dir(global)?;
    let guard = Guard::from_config(config)?;
    let target = event.target.clone().unwrap_or_else(|| "-".into());
    let e = Event::new(
        event.actor.as_str(),
        event.action.as_str(),
        target.as_str(),
        at.unwrap_or_else(SystemTime::now),
    )
    .with_weight(event.weight);
    let a = record(&dir, &guard, &e)?;
    if json {
        println!("{}", assessment_json(&event.actor, &a));
    } else {
        let retry = a
            .retry_after
            .map(|d| format!(", retry in {}", human(d)))
            .unwrap_or_default();
        println!(
            "{} (risk {:.2}{retry}): {}",
            a.decision,
            a.risk,
            reasons(&a)
        );
    }
    Ok(match a.decision {
        Decision::Allow => Exit::Success,
        Decision::Warn => Exit::Decision(exit_code::CHECK_WARN),
        Decision::Delay(_) => Exit::Decision(exit_code::CHECK_DELAY),
        Decision::Block => Exit::Blocked(exit_code::BLOCKED),
    })
}

fn status(
    global: &Global,
    config: Config,
    actor: Option<String>,
    json: bool,
) -> Result<Exit, Failure> {
    let dir = state_dir(global)?;
    let files = match &actor {
        Some(a) => vec![ActorState::new(&dir, a).path().to_path_buf()],
        None => state::state_files(&dir)?,
    };
    let mut rows = Vec::new();
    for file in files {
        let guard = Guard::from_config(config.clone())?;
        let store = state::from_state_path(&file);
        let running = match store.read(&guard)? {
            Ok(running) => running,
            Err(problem) => {
                eprintln!("pattern-guard: {}: {problem}", file.display());
                Vec::new()
            }
        };
        rows.extend(guard.actors(None).into_iter().map(|s| {
            let next = guard.preview(&s.actor, None);
            (s, running.clone(), next)
        }));
    }
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|(s, running, next)| {
                serde_json::json!({
                    "next_run": next.as_ref().map(|a| assessment_json(&s.actor, a)),
                    "running": running.iter().map(|i| serde_json::json!({
                        "pid": i.pid,
                        "since_unix": i.since_ns as f64 / 1e9,
                    })).collect::<Vec<_>>(),
                    "actor": s.actor,
                    "events_in_window": s.events,
                    "escalation_level": s.escalation_level,
                    "last_seen_unix": s.last_seen.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
                    "cool_down_in_secs": s.cool_down_in.as_secs_f64(),
                    "window_clears_in_secs": s.window_clears_in.as_secs_f64(),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(Exit::Success);
    }
    if rows.is_empty() {
        eprintln!(
            "pattern-guard: no history{} in {}",
            actor
                .map(|a| format!(" for actor '{a}'"))
                .unwrap_or_default(),
            dir.display()
        );
        return Ok(Exit::Success);
    }
    println!(
        "{:<24} {:>7} {:>6} {:>12} {:>14} {:>10} {:>8}  NEXT RUN",
        "ACTOR", "EVENTS", "LEVEL", "LAST SEEN", "WINDOW CLEARS", "COOL-DOWN", "RUNNING"
    );
    let now = SystemTime::now();
    for (s, running, next) in rows {
        let next = next.map_or_else(
            || "-".into(),
            |a| format!("{} (risk {:.2})", a.decision, a.risk),
        );
        let ago = now.duration_since(s.last_seen).unwrap_or_default();
        println!(
            "{:<24} {:>7} {:>6} {:>12} {:>14} {:>10} {:>8}  {next}",
            s.actor,
            s.events,
            s.escalation_level,
            format!("{} ago", human(ago)),
            human(s.window_clears_in),
            human(s.cool_down_in),
            running.len()
        );
    }
    Ok(Exit::Success)
}

fn reset(global: &Global, actor: Option<String>, all: bool) -> Result<Exit, Failure> {
    let dir = state_dir(global)?;
    if all {
        let files = state::state_files(&dir)?;
        for file in &files {
            state::from_state_path(file).remove()?;
        }
        eprintln!(
            "pattern-guard: forgot {} actor(s) in {}",
            files.len(),
            dir.display()
        );
        return Ok(Exit::Success);
    }
    let actor = actor.unwrap_or_default();
    if ActorState::new(&dir, &actor).remove()? {
        eprintln!("pattern-guard: forgot actor '{actor}'");
    } else {
        eprintln!("pattern-guard: no history for actor '{actor}'");
    }
    Ok(Exit::Success)
}
