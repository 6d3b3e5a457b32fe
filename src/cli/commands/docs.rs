//! `completions SHELL` and `man`: generated from the clap definition; they need no configuration,
//! so they work even when it is broken.

use std::io::Write;

use crate::cli::args;
use crate::cli::exit_code::{Exit, Failure};

/// Prints a completion script.
pub fn completions(shell: clap_complete::Shell) -> Result<Exit, Failure> {
    std::io::stdout().write_all(&args::completions(shell))?;
    Ok(Exit::Success)
}

/// Prints the man page.
pub fn man() -> Result<Exit, Failure> {
    std::io::stdout().write_all(&args::man_page()?)?;
    Ok(Exit::Success)
}
