//! An axum server guarded by pattern-guard's HTTP layer.
//!
//! ```sh
//! cargo run --example http_server --features tower -- --config guard.toml.demo --listen 127.0.0.1:8080
//! for i in 1 2 3 4 5 6; do curl -si http://127.0.0.1:8080/ | head -1; done
//! ```
//!
//! Routes: `GET /` and `GET /items/{id}` (one target for every id: the route template).
//! Options: `--config PATH` (default: the built-in defaults), `--listen ADDR` (default
//! 127.0.0.1:8080), `--no-guard` (the same server without the layer, for comparisons).
//! `RUST_LOG=info` shows the layer's warnings, delays and refusals.
//!
//! With `--features tower,metrics`, `GET /metrics` serves the guard's metrics in the Prometheus
//! text format (metrics-exporter-prometheus; not guarded itself):
//!
//! ```sh
//! cargo run --example http_server --features tower,metrics -- --config guard.toml.demo
//! curl -s http://127.0.0.1:8080/metrics | grep pattern_guard_decisions_total
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::Path;
use axum::routing::get;
use axum::Router;
use pattern_guard::tower::GuardLayer;
use pattern_guard::Guard;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colours for a terminal only: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let mut config = None;
    let mut listen: SocketAddr = "127.0.0.1:8080".parse()?;
    let mut guarded = true;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => config = args.next(),
            "--listen" => listen = args.next().ok_or("--listen needs an address")?.parse()?,
            "--no-guard" => guarded = false,
            other => {
                return Err(format!(
                    "unknown option {other}; usage: http_server [--config PATH] [--listen ADDR] [--no-guard]"
                )
                .into())
            }
        }
    }
    // The recorder goes in before the guard's first check (it registers its handles then).
    #[cfg(feature = "metrics")]
    let metrics = {
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
        // Summaries are drained from the recorder's buffers by its upkeep: run it now and then.
        let upkeep = handle.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                upkeep.run_upkeep();
            }
        });
        handle
    };
    let guard = match &config {
        Some(path) => Guard::from_config_path(path)?,
        None => Guard::new(),
    };
    let mut app = Router::new().route("/", get(|| async { "hello\n" })).route(
        "/items/{id}",
        get(|Path(id): Path<String>| async move { format!("item {id}\n") }),
    );
    if guarded {
        app = app.layer(GuardLayer::new(Arc::new(guard)));
    }
    #[cfg(feature = "metrics")]
    {
        // Added after the layer: scrapes are not checked.
        app = app.route("/metrics", get(move || async move { metrics.render() }));
    }
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!(
        "listening on http://{}{}",
        listener.local_addr()?,
        if guarded { "" } else { " (no guard)" }
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}
