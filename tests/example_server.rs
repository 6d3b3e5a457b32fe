#![cfg(feature = "tower")] // the HTTP layer's example server
//! `examples/http_server.rs` itself, as the README runs it: built with the features of this
//! test build, started under the demo config on a free loopback port, and asked by a real HTTP
//! client. tests/http.rs proves the layer in a server of its own; this proves the example.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.demo");

/// This build's crate features, so the example is built as the tests were (and cargo finds it
/// already built by `cargo test`, which builds the examples too).
fn features() -> String {
    let all = [
        ("cli", cfg!(feature = "cli")),
        ("tower", cfg!(feature = "tower")),
        ("input", cfg!(feature = "input")),
        ("metrics", cfg!(feature = "metrics")),
        ("redis", cfg!(feature = "redis")),
        ("journal", cfg!(feature = "journal")),
    ];
    let on: Vec<&str> = all.iter().filter(|(_, on)| *on).map(|(f, _)| *f).collect();
    on.join(",")
}

/// The example's executable, built by cargo (a no-op when `cargo test` built it already).
fn example() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--example", "http_server"])
        .args(["--no-default-features", "--features", &features()])
        .args(["--message-format", "json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo build --example http_server failed"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["target"]["name"] == "http_server")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the example's executable")
}

/// The example running; killed when dropped.
struct Running {
    child: Child,
    log: BufReader<ChildStderr>,
    addr: SocketAddr,
    /// Its first line.
    banner: String,
}

impl Running {
    /// Starts the example with `args`, on a free port, its log at `RUST_LOG=info`.
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(example())
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the example starts");
        // Held from here on, so a failure below still kills it.
        let mut running = Running {
            log: BufReader::new(child.stderr.take().unwrap()),
            child,
            addr: ([127, 0, 0, 1], 0).into(),
            banner: String::new(),
        };
        // Its first line names the address it listens on: "listening on http://ADDR", then
        // " (no guard)" for a server without the layer.
        running.log.read_line(&mut running.banner).unwrap();
        running.addr = running
            .banner
            .strip_prefix("listening on http://")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("the example's first line: {:?}", running.banner));
        running
    }

    /// Stops it and returns what it logged after its first line.
    fn stop(mut self) -> String {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let mut log = String::new();
        self.log.read_to_string(&mut log).unwrap();
        log
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(addr: SocketAddr, path: &str) -> (u16, http::HeaderMap, String) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let req = http::Request::get(format!("http://{addr}{path}"))
        .body(Empty::new())
        .unwrap();
    let res = client.request(req).await.unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn the_readme_sequence_from_the_example_server() {
    let server = Running::start(&["--config", DEMO]);
    let mut replies = Vec::new();
    let mut took = Vec::new();
    for _ in 0..6 {
        let start = Instant::now();
        replies.push(get(server.addr, "/").await);
        took.push(start.elapsed());
    }
    let statuses: Vec<u16> = replies.iter().map(|r| r.0).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    assert_eq!(replies[0].2, "hello\n");
    // The fifth waited out its delay (1 s under the demo config) before passing.
    assert!(took[4] >= Duration::from_millis(900), "{took:?}");
    let (_, headers, body) = &replies[5];
    assert_eq!(headers["content-type"], "application/problem+json");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "{retry}");
    let doc: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(doc["status"], 429);
    // A blocked client stays blocked on the other route (one actor, the peer address).
    assert_eq!(get(server.addr, "/items/7").await.0, 429);

    #[cfg(feature = "metrics")]
    {
        // Scrapes are not checked, and they count what was decided.
        let (status, _, text) = get(server.addr, "/metrics").await;
        assert_eq!(status, 200);
        for (decision, n) in [("allow", 3), ("warn", 1), ("delay", 1), ("block", 2)] {
            let line = format!("pattern_guard_decisions_total{{decision=\"{decision}\"}} {n}");
            assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
        }
    }

    // The layer's log: a warning, a delay and the refusals, as plain text in a pipe.
    let log = server.stop();
    for what in [
        "unusual requests",
        "delaying a request",
        "refusing a request",
    ] {
        assert!(log.contains(what), "no {what:?} in the log:\n{log}");
    }
    assert!(
        !log.contains('\u{1b}'),
        "colour escapes in a piped log:\n{log}"
    );
}

#[tokio::test]
async fn without_the_guard_every_request_is_served() {
    let server = Running::start(&["--config", DEMO, "--no-guard"]);
    assert!(server.banner.contains("(no guard)"), "{}", server.banner);
    for _ in 0..8 {
        assert_eq!(get(server.addr, "/items/3").await.2, "item 3\n");
    }
}

#[test]
fn a_wrong_option_is_refused_with_its_usage() {
    let out = Command::new(example()).arg("--bogus").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown option --bogus") && err.contains("usage: http_server"),
        "{err}"
    );
}
