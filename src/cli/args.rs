//! The command line, defined once with clap: help, the man page and shell completions all come
//! from [`Cli`]. Only [`options`](super::options) reads these types: it turns them, with the
//! configuration, into the plain options the commands take.

// The doc comments below are the --help text and the man page: plain words, no Markdown.
#![allow(clippy::doc_markdown)]
// Flags are booleans; clap wants them as fields.
#![allow(clippy::struct_excessive_bools)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Behaviour guard for commands: is this run normal right now?
///
/// Each run of COMMAND is an event (actor `cli`, action `run`, target the command line by
/// default) kept in a state file, so history survives between invocations. Before running,
/// pattern-guard checks the event and acts: allow runs it silently, warn runs it with one line on
/// stderr, delay waits first, block does not run it (exit 75).
#[derive(Debug, Parser)]
#[command(
    name = "pattern-guard",
    version,
    after_help = "Exit codes: the command's own; 128+N if it died of signal N; 75 blocked; \
                  124 stopped (SIGTERM) as a runaway; 137 killed after the grace period; \
                  125 pattern-guard failed; 126 command not runnable; 127 command not found."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(flatten)]
    pub run: RunArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// The command to guard, after `--`.
    #[arg(last = true, value_name = "COMMAND", num_args = 1..)]
    pub argv: Vec<OsString>,
}

/// Options for every form.
#[derive(Debug, Args)]
pub struct Global {
    /// Configuration file (default: $XDG_CONFIG_HOME/pattern-guard/guard.toml, else built-in).
    #[arg(
        short,
        long,
        value_name = "PATH",
        env = "PATTERN_GUARD_CONFIG",
        global = true
    )]
    pub config: Option<PathBuf>,

    /// Where history is kept (default: $XDG_RUNTIME_DIR/pattern-guard).
    #[arg(
        long,
        value_name = "DIR",
        env = "PATTERN_GUARD_STATE_DIR",
        global = true
    )]
    pub state_dir: Option<PathBuf>,

    /// Share histories through a Redis store: redis://[:PASSWORD@]HOST:PORT/DB, rediss://...,
    /// redis+unix:///PATH (default: [store] url; without one, the state directory).
    #[arg(
        long,
        value_name = "URL",
        env = "PATTERN_GUARD_STORE",
        hide_env_values = true,
        global = true
    )]
    pub store: Option<String>,

    /// Print less: only errors (twice: nothing of pattern-guard's own but errors).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,

    /// Log more (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// When to colour messages.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Log line format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
}

/// Describes the event a run or a check records.
#[derive(Debug, Args, Clone)]
pub struct EventArgs {
    /// Who runs it: history and limits are per actor.
    #[arg(long, env = "PATTERN_GUARD_ACTOR", default_value = "cli")]
    pub actor: String,

    /// What is done.
    #[arg(long, env = "PATTERN_GUARD_ACTION", default_value = "run")]
    pub action: String,

    /// What it is done to (default for a run: the command line).
    #[arg(long, env = "PATTERN_GUARD_TARGET")]
    pub target: Option<String>,

    /// Cost of the event, summed against weight_max_total.
    #[arg(long, env = "PATTERN_GUARD_WEIGHT", default_value_t = 1.0, value_parser = parse_weight, allow_negative_numbers = true)]
    pub weight: f64,
}

/// Options for guarding a command.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub event: EventArgs,

    /// Run the command N times in this process, each run one event.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub repeat: u64,

    /// Wait this long between repeated runs (30s, 5m, 1h30m, or seconds).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub interval: Option<Duration>,

    /// Stop the command (SIGTERM to its process group) after it has run this long; `auto`
    /// learns the limit from the job's recent runs (runtime_factor x their 90th percentile).
    #[arg(long, value_name = "DURATION|auto", value_parser = parse_max_runtime)]
    pub max_runtime: Option<RuntimeArg>,

    /// After SIGTERM, wait this long before SIGKILL.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub kill_after: Option<Duration>,

    /// At most N runs of this actor's job at once (across invocations).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_concurrent: Option<u64>,

    /// At the --max-concurrent limit: refuse (exit 75) or wait for a run to end.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub on_overlap: Option<OverlapArg>,

    /// Decide and report, but never delay, block or kill, and record nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Print the decision and its reasons on stderr for every run.
    #[arg(long)]
    pub explain: bool,

    /// Watch the command's output and stop it when it loops (the same lines over and over):
    /// warn, throttle, then stop as a runaway. Its stdout and stderr become pipes.
    #[arg(long)]
    pub watch_output: bool,

    /// After each run, write the actor's last run and its runs by decision in the window to
    /// PATH in the Prometheus text format (atomically), for node_exporter's textfile collector.
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<PathBuf>,

    /// Exit code when blocked.
    #[arg(
        long,
        value_name = "CODE",
        env = "PATTERN_GUARD_BLOCK_EXIT_CODE",
        default_value_t = 75
    )]
    pub block_exit_code: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record one event and print the decision (exit 0 allow, 10 warn, 11 delay, 75 block).
    Check {
        #[command(flatten)]
        event: EventArgs,
        /// When the event happened (RFC 3339, or seconds since the Unix epoch; default now), to
        /// feed events that were queued or logged.
        #[arg(long, value_name = "TIME", value_parser = parse_time, allow_negative_numbers = true)]
        at: Option<std::time::SystemTime>,
        /// Print the assessment as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Show what is remembered per actor: recent events, escalation, cool-down, running instances
    /// and what its next run would get.
    Status {
        /// Only this actor.
        actor: Option<String>,
        /// Print as JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Print in the Prometheus text format on stdout (for node_exporter's textfile
        /// collector or a scrape-by-cron setup).
        #[arg(long, conflicts_with = "json")]
        prometheus: bool,
    },
    /// Forget the history of one actor, or of all with --all.
    Reset {
        /// The actor to forget.
        #[arg(required_unless_present = "all")]
        actor: Option<String>,
        /// Forget every actor.
        #[arg(long, conflicts_with = "actor")]
        all: bool,
    },
    /// Work with the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Replay recorded events (JSON Lines or an access log) through the guard, each at its own
    /// time, and report what it would have decided. Nothing is recorded in the state.
    Replay(ReplayArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

/// Options of `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The events: a file, or - for standard input.
    #[arg(value_name = "FILE", default_value = "-")]
    pub input: PathBuf,

    /// The input's format: auto (recognized from the first lines), jsonl, combined, common,
    /// sshd, nginx-error, apache-error, regex (with --pattern), or NAME from
    /// [replay.formats.NAME] in the config.
    #[arg(long, value_name = "FORMAT", default_value = "auto")]
    pub format: String,

    /// A regex with named groups: actor (required), time, action, target, weight. Repeat it for
    /// several; the first that matches a line wins. Implies --format regex.
    #[arg(long, value_name = "REGEX")]
    pub pattern: Vec<String>,

    /// What every line starts with, as a regex (groups time, action, target, weight; not
    /// actor), matched once before the --pattern regexes, which then read the rest of the line.
    #[arg(long, value_name = "REGEX")]
    pub prefix: Option<String>,

    /// How the time group is written, strftime-style ("%b %d %H:%M:%S", "%Y-%m-%d %H:%M:%S
    /// %z"); default: RFC 3339, epoch seconds, access-log or syslog times. Times without an
    /// offset are local (TZ).
    #[arg(long, value_name = "FORMAT")]
    pub time_format: Option<String>,

    /// The year of times written without one (syslog's); default: the year the file was last
    /// changed (this year for standard input). Rolls over at New Year.
    #[arg(long, value_name = "YEAR", value_parser = clap::value_parser!(i16).range(1970..=9999))]
    pub year: Option<i16>,

    /// --pattern formats: the action of lines without an action group (default "event").
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,

    /// --pattern formats: the target of lines without a target group (default "-").
    #[arg(long, value_name = "TARGET")]
    pub target: Option<String>,

    /// --pattern formats: the weight of lines without a weight group (default 1).
    #[arg(long, value_name = "WEIGHT", value_parser = parse_weight)]
    pub weight: Option<f64>,

    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,

    /// Write every event's decision and risk to FILE, as JSON Lines; `-` streams them to
    /// standard output, a line as each is decided (the summary then goes to standard error).
    #[arg(long, value_name = "FILE")]
    pub decisions: Option<PathBuf>,

    /// Write only these decisions to --decisions (comma-separated: allow, warn, delay, block).
    #[arg(
        long,
        value_name = "DECISIONS",
        value_delimiter = ',',
        requires = "decisions"
    )]
    pub only: Vec<DecisionName>,

    /// Print ACTOR's timeline: every event with its decision, risk and reasons.
    #[arg(long, value_name = "ACTOR")]
    pub explain: Option<String>,

    /// Stop at the first bad line (exit 125) instead of counting it and going on.
    #[arg(long)]
    pub strict: bool,

    /// How many actors the summary lists.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,

    /// Access logs: drop the query string from the path (`/search?q=x` counts as `/search`).
    #[arg(long)]
    pub drop_query: bool,

    /// Access logs: weigh each request by its response size in bytes (set weight_max_total to
    /// match).
    #[arg(long)]
    pub weight_from_size: bool,

    /// Read and check the input without running the guard (validates a file; times the parser).
    #[arg(long)]
    pub parse_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DecisionName {
    Allow,
    Warn,
    Delay,
    Block,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print the effective settings for an actor.
    Check {
        /// The actor whose effective settings to print.
        #[arg(long, default_value = "cli")]
        actor: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OverlapArg {
    Refuse,
    Wait,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Options that only make sense when guarding a command.
const RUN_ONLY: [&str; 15] = [
    "max_concurrent",
    "on_overlap",
    "actor",
    "action",
    "target",
    "weight",
    "repeat",
    "interval",
    "max_runtime",
    "kill_after",
    "dry_run",
    "explain",
    "block_exit_code",
    "watch_output",
    "metrics_file",
];

impl Cli {
    /// Parses the process arguments; a usage error names what was wrong.
    pub fn parse_args() -> Result<Cli, clap::Error> {
        use clap::{CommandFactory, FromArgMatches};
        let mut command = Cli::command();
        let matches = command.try_get_matches_from_mut(std::env::args_os())?;
        if let Some((name, _)) = matches.subcommand() {
            for id in RUN_ONLY {
                if matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine) {
                    return Err(command.error(
                        clap::error::ErrorKind::ArgumentConflict,
                        format!(
                            "--{} guards a command and does not go with `{name}`; \
                             put it after the subcommand if it takes it (see {name} --help)",
                            id.replace('_', "-")
                        ),
                    ));
                }
            }
        }
        Cli::from_arg_matches(&matches)
    }
}

/// The man page, generated from the definition above.
pub fn man_page() -> std::io::Result<Vec<u8>> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out)?;
    Ok(out)
}

/// A completion script for `shell`, generated from the definition above.
pub fn completions(shell: clap_complete::Shell) -> Vec<u8> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "pattern-guard", &mut out);
    out
}

/// Parses an event time: RFC 3339 or seconds (from 10^11 on, milliseconds) since the epoch.
fn parse_time(s: &str) -> Result<std::time::SystemTime, String> {
    pattern_guard::input::time::event_time(s)
        .map(|ns| std::time::UNIX_EPOCH + Duration::from_nanos(ns))
}

/// `30s`, `5m`, `1h30m`, `250ms`, `2d`, `1.5h`, `1 hour 30 minutes` (jiff's friendly format;
/// a day is 24 hours), or plain (fractional) seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || {
        format!(
            "invalid duration `{text}`: use seconds (90, 2.5) or units like 30s, 5m, 1h30m, 250ms"
        )
    };
    let secs = match t.parse::<f64>() {
        Ok(secs) => secs,
        Err(_) => t
            .parse::<jiff::Span>()
            .and_then(|span| {
                span.total((
                    jiff::Unit::Second,
                    jiff::SpanRelativeTo::days_are_24_hours(),
                ))
            })
            .map_err(|_| bad())?,
    };
    if secs.is_finite() && (0.0..=1e9).contains(&secs) {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err(bad())
    }
}

/// `--max-runtime`: a duration, or `auto`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RuntimeArg {
    Fixed(Duration),
    Auto,
}

fn parse_max_runtime(text: &str) -> Result<RuntimeArg, String> {
    if text.trim() == "auto" {
        return Ok(RuntimeArg::Auto);
    }
    parse_duration(text)
        .map(RuntimeArg::Fixed)
        .map_err(|e| format!("{e}, or auto (learned from the job's recent runs)"))
}

fn parse_weight(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(w) if w.is_finite() && w >= 0.0 => Ok(w),
        _ => Err(format!("invalid weight `{text}`: use a finite number >= 0")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_accept_units_and_plain_seconds() {
        let d = |s| parse_duration(s).unwrap();
        assert_eq!(d("30s"), Duration::from_secs(30));
        assert_eq!(d("5m"), Duration::from_secs(300));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("250ms"), Duration::from_millis(250));
        assert_eq!(d("2.5"), Duration::from_millis(2500));
        assert_eq!(d("90"), Duration::from_secs(90));
        assert_eq!(d("2d"), Duration::from_secs(2 * 86_400));
        assert_eq!(d("1.5h"), Duration::from_secs(5400));
        assert_eq!(d("1 hour 30 minutes"), Duration::from_secs(5400));
        for bad in [
            "", "abc", "5x", "-1", "-5m", "1h30", "nan", "inf", "1e300", "40000d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
