//! Logs on stderr through `tracing`: the level `-q`/`-v` ask for, unless `RUST_LOG` says
//! otherwise; text or JSON lines; colour only where [`options::logging`](super::options::logging)
//! decided.

use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::prelude::*;

use super::options::Logging;

/// Installs the process's log subscriber.
pub fn init(logging: &Logging) {
    // RUST_LOG wins when it parses; a plain level filter otherwise (no directive parsing, which
    // would cost every run a slice of its start-up).
    match std::env::var("RUST_LOG").map(EnvFilter::try_new) {
        Ok(Ok(filter)) => install(filter, logging),
        _ => install(logging.level, logging),
    }
}

fn install<F>(filter: F, logging: &Logging)
where
    F: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(logging.ansi);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = if logging.json {
        registry.with(fmt.json()).try_init()
    } else {
        registry.with(fmt).try_init()
    };
}
