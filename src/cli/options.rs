//! Plain options: the command line ([`args`](super::args)) and the configuration merged once, as
//! ripgrep and fd do, into what the commands take. No clap type gets past this file: the commands
//! see a [`Task`] and its plan, with every default and per-actor setting already applied.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use pattern_guard::config::FormatSpec;
use pattern_guard::input::CombinedOptions;
use pattern_guard::{Config, MaxRuntime, OnOverlap};
use tracing_subscriber::filter::LevelFilter;

use super::args::{self, Cli, ColorChoice, Command, ConfigCommand, EventArgs, Global, LogFormat};
use super::exit_code::Failure;
use super::output::Printer;
use super::runtime::AutoRuntime;
use super::state::ConfigId;
use super::supervise::Limits;

/// Everything a command needs.
pub struct Options {
    pub printer: Printer,
    /// `--state-dir`, when given.
    pub state_dir: Option<PathBuf>,
    pub config: Config,
    /// Where the configuration came from and a hash of its text: for messages, and kept with
    /// each actor's history so `status` can tell when it answers under another configuration.
    pub config_id: ConfigId,
    pub task: Task,
}

/// How `status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFormat {
    /// A table for people.
    Table,
    /// JSON on stdout.
    Json,
    /// The Prometheus text format on stdout.
    Prometheus,
}

/// What to do.
pub enum Task {
    /// Guard a command.
    Run(RunPlan),
    /// Record one event and print the decision.
    Check {
        event: EventSpec,
        at: Option<SystemTime>,
        json: bool,
    },
    /// Show what is remembered, of one actor or all.
    Status {
        actor: Option<String>,
        format: StatusFormat,
    },
    /// Forget one actor's history, or every actor's (`None`).
    Reset { actor: Option<String> },
    /// Validate the configuration and print an actor's effective settings.
    ConfigCheck { actor: String },
    /// Replay recorded events.
    Replay(ReplayPlan),
}

/// The event a run or a check records.
#[derive(Debug, Clone)]
pub struct EventSpec {
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub weight: f64,
}

/// Guarding a command.
pub struct RunPlan {
    pub argv: Vec<OsString>,
    /// The command line as a shell would show it: messages and the default target.
    pub shown: String,
    pub event: EventSpec,
    pub repeat: u64,
    pub interval: Option<Duration>,
    pub limits: Limits,
    /// `max_runtime = "auto"`: the limit learned from the job's recent runs (`limits` holds the
    /// explicit ceiling, if any).
    pub auto_runtime: Option<AutoRuntime>,
    pub overlap: Overlap,
    pub dry_run: bool,
    pub explain: bool,
    pub block_exit_code: u8,
    /// Watch the command's output for loops (`--watch-output`, or `watch_output` for the actor).
    pub watch_output: bool,
    /// Where to write the last run's metrics (`--metrics-file`, or `metrics_file`).
    pub metrics_file: Option<PathBuf>,
}

impl RunPlan {
    /// The event's target: `--target`, else the command line.
    pub fn target(&self) -> &str {
        self.event.target.as_deref().unwrap_or(&self.shown)
    }
}

/// The overlap limit: at most `max` runs of the actor's job at once; at the limit, wait or refuse.
#[derive(Debug, Clone, Copy)]
pub struct Overlap {
    pub max: Option<usize>,
    pub wait: bool,
}

/// The input format replay was asked for, as given (resolved against the config's
/// `[replay.formats]` by the replay command).
pub struct FormatRequest {
    /// `--format` (`auto` unless given).
    pub name: String,
    /// `--pattern`s, `--prefix`, `--time-format` and the literals, in the config table's shape.
    pub flags: FormatSpec,
    /// `--year`.
    pub year: Option<i16>,
}

/// Replaying recorded events.
pub struct ReplayPlan {
    /// The events: a file, or `-` for standard input.
    pub input: PathBuf,
    pub format: FormatRequest,
    pub json: bool,
    pub decisions: Option<PathBuf>,
    /// `--only`: the decisions written to `decisions`, by severity (all when not given).
    pub only: [bool; 4],
    pub explain: Option<String>,
    pub strict: bool,
    pub top: usize,
    pub combined: CombinedOptions,
    pub parse_only: bool,
}

/// How logs are written on stderr.
pub struct Logging {
    pub level: LevelFilter,
    pub ansi: bool,
    pub json: bool,
}

/// Logging as `-q`/`-v`, `--color` and `--log-format` ask (`RUST_LOG` is read when installing).
pub fn logging(global: &Global) -> Logging {
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
    Logging {
        level,
        ansi,
        json: global.log_format == LogFormat::Json,
    }
}

/// Loads the configuration and merges it with the command line. `cli.command` must not be
/// `completions` or `man` (they need no configuration and are served before).
pub fn resolve(cli: Cli) -> Result<Options, Failure> {
    let (mut config, config_id) = load_config(cli.global.config.as_deref())?;
    if let Some(url) = cli.global.store {
        pattern_guard::config::check_url(&url)
            .map_err(|why| Failure::Usage(format!("--store: {why}")))?;
        config.store.url = Some(url);
    }
    tracing::debug!(config = %config_id.source, "configuration loaded");
    let task =
        match cli.command {
            Some(Command::Check { event, at, json }) => Task::Check {
                event: event_spec(event),
                at,
                json,
            },
            Some(Command::Status {
                actor,
                json,
                prometheus,
            }) => Task::Status {
                actor,
                format: if prometheus {
                    StatusFormat::Prometheus
                } else if json {
                    StatusFormat::Json
                } else {
                    StatusFormat::Table
                },
            },
            Some(Command::Reset { actor, all }) => Task::Reset {
                actor: if all {
                    None
                } else {
                    Some(actor.unwrap_or_default())
                },
            },
            Some(Command::Config {
                command: ConfigCommand::Check { actor },
            }) => Task::ConfigCheck { actor },
            Some(Command::Replay(r)) => Task::Replay(ReplayPlan {
                input: r.input,
                format: FormatRequest {
                    name: r.format,
                    flags: {
                        let mut flags = FormatSpec::default();
                        flags.patterns = r.pattern;
                        flags.prefix = r.prefix;
                        flags.time_format = r.time_format;
                        flags.action = r.action;
                        flags.target = r.target;
                        flags.weight = r.weight;
                        flags
                    },
                    year: r.year,
                },
                json: r.json,
                decisions: r.decisions,
                only: if r.only.is_empty() {
                    [true; 4]
                } else {
                    let mut only = [false; 4];
                    for d in r.only {
                        only[d as usize] = true;
                    }
                    only
                },
                explain: r.explain,
                strict: r.strict,
                top: r.top,
                combined: CombinedOptions {
                    drop_query: r.drop_query,
                    weight_from_size: r.weight_from_size,
                },
                parse_only: r.parse_only,
            }),
            Some(Command::Completions { .. } | Command::Man) => {
                return Err(Failure::Usage(
                    "completions and man need no configuration".into(),
                ))
            }
            None if cli.argv.is_empty() => return Err(Failure::Usage(
                "nothing to run: give a command after `--` (pattern-guard [OPTIONS] -- COMMAND \
                 [ARGS...]), or a subcommand; see --help"
                    .into(),
            )),
            None => Task::Run(run_plan(&config, cli.run, cli.argv)),
        };
    Ok(Options {
        printer: Printer::new(cli.global.quiet),
        state_dir: cli.global.state_dir,
        config,
        config_id,
        task,
    })
}

fn event_spec(e: EventArgs) -> EventSpec {
    EventSpec {
        actor: e.actor,
        action: e.action,
        target: e.target,
        weight: e.weight,
    }
}

/// Flags first, then the actor's settings, then the built-in defaults.
fn run_plan(config: &Config, run: args::RunArgs, argv: Vec<OsString>) -> RunPlan {
    let settings = config.settings_for(&run.event.actor);
    let configured = settings.max_runtime_secs.map(Duration::from_secs_f64);
    let (max_runtime, auto) = match run.max_runtime {
        Some(args::RuntimeArg::Fixed(d)) => (Some(d), false),
        Some(args::RuntimeArg::Auto) => (configured, true),
        None => (configured, settings.max_runtime == MaxRuntime::Auto),
    };
    let limits = Limits {
        max_runtime,
        kill_after: run
            .kill_after
            .unwrap_or_else(|| Duration::from_secs_f64(settings.kill_grace_secs)),
        learned: None,
    };
    let auto_runtime = auto.then(|| AutoRuntime {
        min_runs: usize::try_from(settings.runtime_min_runs).unwrap_or(usize::MAX),
        factor: settings.runtime_factor,
        floor: Duration::from_secs_f64(settings.runtime_floor_secs),
    });
    let overlap = Overlap {
        max: run
            .max_concurrent
            .or(settings.max_concurrent)
            .map(|m| usize::try_from(m).unwrap_or(usize::MAX)),
        wait: match run.on_overlap {
            Some(args::OverlapArg::Wait) => true,
            Some(args::OverlapArg::Refuse) => false,
            None => settings.on_overlap == OnOverlap::Wait,
        },
    };
    RunPlan {
        shown: command_line(&argv),
        argv,
        event: event_spec(run.event),
        repeat: run.repeat,
        interval: run.interval,
        limits,
        auto_runtime,
        overlap,
        dry_run: run.dry_run,
        explain: run.explain,
        block_exit_code: run.block_exit_code,
        watch_output: run.watch_output || settings.watch_output,
        metrics_file: run
            .metrics_file
            .or_else(|| settings.metrics_file.clone().map(PathBuf::from)),
    }
}

/// `--config`/`$PATTERN_GUARD_CONFIG` (clap reads both), then the user's config file, then the
/// built-in defaults. Returns the config and which it is.
fn load_config(explicit: Option<&Path>) -> Result<(Config, ConfigId), Failure> {
    if let Some(path) = explicit {
        return read_config(path);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(path) = base.map(|b| b.join("pattern-guard").join("guard.toml")) {
        if path.exists() {
            return read_config(&path);
        }
    }
    let id = ConfigId {
        source: "built-in defaults".into(),
        hash: 0,
    };
    Ok((Config::default(), id))
}

/// Reads and validates a configuration file; its id hashes the text read.
fn read_config(path: &Path) -> Result<(Config, ConfigId), Failure> {
    let text =
        std::fs::read_to_string(path).map_err(|source| pattern_guard::Error::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
    let config =
        Config::parse(&text, &path.display().to_string()).map_err(pattern_guard::Error::from)?;
    // The full path, so that status can name it from any directory.
    let source = std::fs::canonicalize(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .display()
        .to_string();
    let hash = xxhash_rust::xxh3::xxh3_64(text.as_bytes());
    Ok((config, ConfigId { source, hash }))
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

#[cfg(test)]
mod tests {
    use super::command_line;

    #[test]
    fn command_lines_are_quoted_as_a_shell_would_need() {
        let argv = ["echo", "hi there", "it's", "a=b", ""].map(std::ffi::OsString::from);
        assert_eq!(command_line(&argv), "echo 'hi there' 'it'\\''s' a=b ''");
    }
}
