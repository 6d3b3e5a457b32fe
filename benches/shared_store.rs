//! The shared store's cost against a real `redis-server` it starts on a free loopback port:
//!
//! 1. latency: one caller, checks one after another over 1,000 actors: median, p99, max;
//! 2. throughput: CALLERS concurrent tasks (default 64) on one `SharedGuard` (one multiplexed
//!    connection), over 10,000 actors, and all on one actor;
//! 3. memory in Redis: `used_memory` per actor (one event each) and per event (one actor).
//!
//! `cargo bench --bench shared_store --features redis` (scripts/bench-store.sh adds the CLI).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pattern_guard::shared::SharedGuard;
use pattern_guard::{Guard, StoreSettings};

const CONFIG: &str = "[guard]\nburst_max_events = 50000\nrepetition_max_count = 1000000\n\
                      weight_max_total = 1e15\nmax_events_per_actor = 100000\n";

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_server() -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (apt-get install redis-server)");
    let server = Server(child, port);
    let client = redis::Client::open(url(&server)).unwrap();
    for _ in 0..200 {
        if client.get_connection().is_ok() {
            return server;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("redis-server did not start");
}

fn url(server: &Server) -> String {
    format!("redis://127.0.0.1:{}/0", server.1)
}

fn shared(server: &Server, prefix: &str) -> SharedGuard {
    let mut s = StoreSettings::default();
    s.url = Some(url(server));
    s.prefix = prefix.into();
    s.timeout_ms = 1000;
    SharedGuard::new(Guard::from_toml_str(CONFIG).unwrap(), &s).unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn latency(g: &SharedGuard, checks: usize) {
    let mut times = Vec::with_capacity(checks);
    for i in 0..checks {
        let actor = format!("user:{}", i % 1000);
        let event = g.guard().event(actor.as_str(), "GET", "/items");
        let start = Instant::now();
        std::hint::black_box(g.assess(&event).await);
        times.push(start.elapsed());
    }
    assert!(g.store_up(), "the store failed during the bench");
    times.sort_unstable();
    println!(
        "latency, 1 caller, {checks} checks over 1,000 actors: median {:.1} us, p99 {:.1} us, max {:.1} us",
        percentile(&times, 0.5).as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6,
        times[times.len() - 1].as_secs_f64() * 1e6
    );
}

async fn throughput(g: &SharedGuard, callers: usize, checks: usize, actors: usize) -> f64 {
    let start = Instant::now();
    let per = checks / callers;
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let g = g.clone();
            tokio::spawn(async move {
                let mut x = (c as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                for _ in 0..per {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let actor = format!("client:{}", x % actors as u64);
                    let event = g.guard().event(actor.as_str(), "GET", "/items");
                    std::hint::black_box(g.assess(&event).await);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert!(g.store_up(), "the store failed during the bench");
    (per * callers) as f64 / start.elapsed().as_secs_f64()
}

fn used_memory(conn: &mut redis::Connection) -> i64 {
    let info: String = redis::cmd("INFO").arg("memory").query(conn).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

async fn memory(server: &Server) {
    let client = redis::Client::open(url(server)).unwrap();
    let mut conn = client.get_connection().unwrap();
    let g = shared(server, "mem-actors:");
    g.assess(&g.guard().event("warm", "GET", "/")).await;
    let before = used_memory(&mut conn);
    let n = 10_000;
    for i in 0..n {
        let actor = format!("ip:10.0.{}.{}", i / 256, i % 256);
        g.assess(&g.guard().event(actor.as_str(), "GET", "/login"))
            .await;
    }
    let per_actor = (used_memory(&mut conn) - before) as f64 / f64::from(n);
    let g = shared(server, "mem-events:");
    g.assess(&g.guard().event("one", "GET", "/")).await;
    let before = used_memory(&mut conn);
    let events = 10_000;
    for i in 0..events {
        let target = format!("/items/{}", i % 100);
        g.assess(&g.guard().event("one", "GET", target.as_str()))
            .await;
    }
    let per_event = (used_memory(&mut conn) - before) as f64 / f64::from(events);
    println!(
        "memory in Redis (used_memory): {per_actor:.0} bytes per actor with one event, \
         {per_event:.0} bytes per further event"
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("shared_store: bench");
        return;
    }
    let callers: usize = std::env::var("CALLERS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64);
    let server = start_server();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let g = shared(&server, "lat:");
        latency(&g, 2_000).await; // warm-up
        latency(&g, 20_000).await;
        let g = Arc::new(shared(&server, "tp:"));
        throughput(&g, callers, 20_000, 10_000).await; // warm-up
        let wide = throughput(&g, callers, 200_000, 10_000).await;
        println!("throughput, {callers} callers, one process, 10,000 actors: {wide:.0} checks/s");
        let g = shared(&server, "hot:");
        let hot = throughput(&g, callers, 100_000, 1).await;
        println!("throughput, {callers} callers, one process, one actor: {hot:.0} checks/s");
        memory(&server).await;
    });
}
