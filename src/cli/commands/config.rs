//! `config check`: validate the configuration and print one actor's effective settings.

use pattern_guard::Config;

use crate::cli::exit_code::{Exit, Failure};
use crate::cli::output::Printer;

pub fn check(
    config: &Config,
    source: &str,
    actor: &str,
    printer: Printer,
) -> Result<Exit, Failure> {
    let settings = config.settings_for(actor);
    let text = toml::to_string(&settings).map_err(|e| Failure::Usage(e.to_string()))?;
    printer.always(format!(
        "{source}: valid; effective settings for actor '{actor}':"
    ));
    print!("[guard]\n{text}");
    Ok(Exit::Success)
}
