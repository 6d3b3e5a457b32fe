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
    // Where histories live, the URL without its password.
    let store = &config.store;
    match &store.url {
        Some(url) => print!(
            "\n[store]\nurl = \"{}\"\nprefix = \"{}\"\ntimeout_ms = {}\non_error = \"{}\"\nlease_secs = {}\n",
            pattern_guard::config::redact(url),
            store.prefix,
            store.timeout_ms,
            store.on_error,
            store.lease_secs
        ),
        None => println!("\n# [store]: none; histories are kept in the local state directory"),
    }
    Ok(Exit::Success)
}
