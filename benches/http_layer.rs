//! What the HTTP layer adds to a request, in-process: a tower service that answers at once,
//! 10,000 client addresses, 64 concurrent tasks on a two-thread runtime, three ways in one run:
//!
//! - `bare`: the service alone;
//! - `engine`: the service, after the engine's own check of the same event (`Guard::assess`),
//!   the least any hand-written glue does;
//! - `layer`: the service behind `GuardLayer` (key from the peer address, route, 429 or pass).
//!
//! It prints each one's median and 99th percentile per request, and the layer's cost over the
//! engine's (goal: median at most 1 µs, p99 at most 10 µs).
//!
//! ```sh
//! cargo bench --bench http_layer --features tower
//! ```

use std::convert::Infallible;
use std::future::poll_fn;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use pattern_guard::tower::GuardLayer;
use pattern_guard::{Event, Guard};
use tower_layer::Layer;
use tower_service::Service;

const KEYS: u32 = 10_000;
const TASKS: usize = 64;
const PER_TASK: usize = 20_000;

/// The service being guarded: answers at once.
#[derive(Clone)]
struct Instant200;

impl Service<Request<()>> for Instant200 {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<Full<Bytes>>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        std::future::ready(Ok(Response::new(Full::new(Bytes::new()))))
    }
}

fn peer(i: u32) -> SocketAddr {
    let k = i % KEYS;
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 0, (k >> 8) as u8, k as u8)),
        40_000,
    )
}

fn request(i: u32) -> Request<()> {
    let mut req = Request::get("/items/17?page=2").body(()).unwrap();
    req.extensions_mut().insert(peer(i));
    req
}

/// A guard under which nobody in this bench is refused (10,000 keys, about 130 requests each).
fn guard() -> Arc<Guard> {
    Arc::new(
        Guard::from_toml_str("[guard]\nburst_max_events = 100000\nrepetition_max_count = 100000\n")
            .unwrap(),
    )
}

#[derive(Clone, Copy, PartialEq)]
enum Way {
    Bare,
    Engine,
    Layer,
}

/// Per-request latencies (ns) of `TASKS` tasks sending `PER_TASK` requests each.
async fn run(way: Way) -> Vec<u64> {
    let guard = guard();
    let layer = GuardLayer::new(Arc::clone(&guard));
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let guard = Arc::clone(&guard);
        let layer = layer.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::with_capacity(PER_TASK);
            let mut bare = Instant200;
            let mut guarded = layer.layer(Instant200);
            for n in 0..PER_TASK {
                let i = (t * PER_TASK + n) as u32 * 7919;
                let req = request(i);
                let start = Instant::now();
                match way {
                    Way::Bare => {
                        poll_fn(|cx| bare.poll_ready(cx)).await.unwrap();
                        std::hint::black_box(bare.call(req).await.unwrap());
                    }
                    Way::Engine => {
                        let actor = format!("ip:{}", peer(i).ip());
                        let event = Event::new(
                            actor.as_str(),
                            req.method().as_str(),
                            req.uri().path(),
                            guard.clock().now(),
                        );
                        std::hint::black_box(guard.assess(&event));
                        poll_fn(|cx| bare.poll_ready(cx)).await.unwrap();
                        std::hint::black_box(bare.call(req).await.unwrap());
                    }
                    Way::Layer => {
                        poll_fn(|cx| guarded.poll_ready(cx)).await.unwrap();
                        let res = guarded.call(req).await.unwrap();
                        assert_eq!(res.status(), 200);
                        std::hint::black_box(res);
                    }
                }
                times.push(start.elapsed().as_nanos() as u64);
                if n % 64 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            times
        }));
    }
    let mut all = Vec::with_capacity(TASKS * PER_TASK);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    all
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let mut results = Vec::new();
    // Warm up, then each way; the figures are per request, as the task saw it.
    rt.block_on(run(Way::Layer));
    for way in [Way::Bare, Way::Engine, Way::Layer] {
        let t = Instant::now();
        let times = rt.block_on(run(way));
        results.push((way, pct(&times, 0.5), pct(&times, 0.99), t.elapsed()));
    }
    let name = |w: Way| match w {
        Way::Bare => "bare service",
        Way::Engine => "engine check + service",
        Way::Layer => "GuardLayer + service",
    };
    println!(
        "{} requests, {KEYS} keys, {TASKS} tasks, 2 worker threads",
        TASKS * PER_TASK
    );
    for (way, p50, p99, total) in &results {
        println!(
            "  {:<24} median {:>6} ns  p99 {:>7} ns  ({:.0} k requests/s)",
            name(*way),
            p50,
            p99,
            (TASKS * PER_TASK) as f64 / total.as_secs_f64() / 1e3
        );
    }
    let (engine, layer) = (&results[1], &results[2]);
    println!(
        "  the layer over the engine: median {:+} ns (goal <= +1000), p99 {:+} ns (goal <= +10000)",
        layer.1 as i64 - engine.1 as i64,
        layer.2 as i64 - engine.2 as i64
    );
}
