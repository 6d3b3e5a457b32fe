//! `reset ACTOR` / `reset --all`: forget histories.

use crate::cli::exit_code::{Exit, Failure};
use crate::cli::output::Printer;
use crate::cli::state::History;

/// Forgets `actor`'s history, or every actor's when `None`.
pub fn reset(store: &dyn History, actor: Option<&str>, printer: Printer) -> Result<Exit, Failure> {
    let Some(actor) = actor else {
        let entries = store.entries()?;
        for entry in &entries {
            store.remove(entry)?;
        }
        printer.always(format!(
            "forgot {} actor(s) in {}",
            entries.len(),
            store.location()
        ));
        return Ok(Exit::Success);
    };
    if store.remove(&store.entry(actor))? {
        printer.always(format!("forgot actor '{actor}'"));
    } else {
        printer.always(format!("no history for actor '{actor}'"));
    }
    Ok(Exit::Success)
}
