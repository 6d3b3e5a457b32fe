//! One module per subcommand; each takes the plain [`Options`] and returns how pattern-guard
//! exits. Adding a subcommand: its clap definition in `args.rs`, its [`Task`] and plan in
//! `options.rs`, its module here and its arm in [`execute`].

mod check;
mod config;
pub mod docs;
mod replay;
mod reset;
mod run;
mod status;

use super::exit_code::{Exit, Failure};
use super::options::{Options, Task};
use super::state::{DirStore, History, SharedStore};

/// Runs the task the options describe.
pub async fn execute(options: Options) -> Result<Exit, Failure> {
    let Options {
        printer,
        state_dir,
        config,
        config_id,
        task,
    } = options;
    let store = || -> Result<Box<dyn History>, Failure> {
        if config.store.url.is_some() {
            return Ok(Box::new(SharedStore::open(
                &config.store,
                state_dir.clone(),
            )?));
        }
        Ok(Box::new(DirStore::open(state_dir.as_deref())?))
    };
    match task {
        Task::Run(plan) => run::run(&*store()?, config, &config_id, &plan, printer).await,
        Task::Check { event, at, json } => {
            check::check(&*store()?, config, &config_id, &event, at, json, printer)
        }
        Task::Status { actor, format } => status::status(
            &*store()?,
            &config,
            &config_id,
            actor.as_deref(),
            format,
            printer,
        ),
        Task::Reset { actor } => reset::reset(&*store()?, actor.as_deref(), printer),
        Task::ConfigCheck { actor } => config::check(&config, &config_id.source, &actor, printer),
        Task::Replay(plan) => replay::run(config, &config_id.source, &plan, printer),
    }
}
