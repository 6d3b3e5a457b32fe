//! The `pattern-guard` command; everything but the entry point lives in [`cli`].

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
