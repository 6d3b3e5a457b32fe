//! The `pattern-guard` command: guard a command with the engine, keeping history between runs.
//!
//! One module per concern, dependencies running down the list:
//! - [`args`]: the clap definition (only `options` reads its types);
//! - [`options`]: flags and configuration merged once into plain options and a [`Task`];
//! - [`commands`]: one module per subcommand (run, check, status, reset, replay, config,
//!   completions and man);
//! - [`state`]: where history lives, behind the [`History`](state::History) seam (today a
//!   private directory of journal files), its lock and its load-check-save transaction;
//! - [`supervise`] and [`signals`]: running the child, forwarding signals, stopping runaways;
//! - [`output`] and [`progress`]: messages at the verbosity asked for, bars on a terminal;
//! - [`logging`]: tracing on stderr; [`exit_code`]: how pattern-guard ends.
//!
//! This module is the entry point: parse, start logging and the runtime, run the task.
//!
//! [`Task`]: options::Task

mod args;
mod commands;
mod exit_code;
mod logging;
mod options;
mod output;
mod progress;
mod runtime;
mod signals;
mod state;
mod supervise;
mod textfile;
mod watch;

use std::process::ExitCode;

use args::{Cli, Command};
use exit_code::{Exit, Failure};

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
    logging::init(&options::logging(&cli.global));
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
        Some(Command::Completions { shell }) => return commands::docs::completions(shell),
        Some(Command::Man) => return commands::docs::man(),
        _ => {}
    }
    commands::execute(options::resolve(cli)?).await
}
