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
