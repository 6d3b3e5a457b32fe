#![cfg(feature = "tower")] // the HTTP layer
//! The HTTP layer with a real axum server on 127.0.0.1 and a real HTTP client (hyper).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use pattern_guard::tower::GuardLayer;
use pattern_guard::Guard;

#[cfg(feature = "redis")]
#[path = "support/redis.rs"]
mod redis_server;

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/guard.toml.demo");

/// A server guarded by `layer` (with the peer's address, unless `peer` is false); the handlers
/// count the requests that reach them.
struct Server {
    addr: SocketAddr,
    reached: Arc<AtomicUsize>,
}

async fn serve(layer: GuardLayer, peer: bool) -> Server {
    let reached = Arc::new(AtomicUsize::new(0));
    let (r1, r2) = (Arc::clone(&reached), Arc::clone(&reached));
    let app = Router::new()
        .route(
            "/",
            get(move || async move {
                r1.fetch_add(1, Ordering::SeqCst);
                "hello\n"
            }),
        )
        .route(
            "/items/{id}",
            get(move || async move {
                r2.fetch_add(1, Ordering::SeqCst);
                "item\n"
            }),
        )
        .layer(layer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    if peer {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move { axum::serve(listener, service).await });
    } else {
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    Server { addr, reached }
}

struct Reply {
    status: u16,
    headers: http::HeaderMap,
    body: String,
}

async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Reply {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut req = http::Request::get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = client
        .request(req.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn layer(toml: &str) -> GuardLayer {
    GuardLayer::new(Arc::new(Guard::from_toml_str(toml).unwrap()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_requests_walk_allow_warn_delay_block_and_blocked_ones_never_reach_the_service() {
    let guard = Arc::new(Guard::from_config_path(DEMO).unwrap());
    let server = serve(GuardLayer::new(guard), true).await;
    let mut statuses = Vec::new();
    let mut took = Vec::new();
    for _ in 0..6 {
        let start = Instant::now();
        statuses.push(get_with(server.addr, "/", &[]).await.status);
        took.push(start.elapsed());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    // The fifth waited out its delay (1 s under the demo config) before passing; the fourth (a
    // warn) did not wait: it came back at least half the delay sooner (relative, so a loaded
    // machine slowing both does not fail it).
    assert!(took[4] >= Duration::from_millis(900), "{took:?}");
    assert!(took[3] + Duration::from_millis(500) < took[4], "{took:?}");
    assert_eq!(server.reached.load(Ordering::SeqCst), 5);
    for _ in 0..3 {
        assert_eq!(get_with(server.addr, "/items/7", &[]).await.status, 429);
    }
    assert_eq!(
        server.reached.load(Ordering::SeqCst),
        5,
        "blocked requests reached the service"
    );
}

#[tokio::test]
async fn a_refusal_is_a_429_with_retry_after_and_a_problem_document() {
    let server = serve(
        layer("[guard]\nburst_max_events = 2\nwindow_secs = 30\n[http]\nmax_wait_secs = 0\n"),
        true,
    )
    .await;
    let mut last = None;
    for _ in 0..5 {
        last = Some(get_with(server.addr, "/items/1?page=2", &[]).await);
    }
    let r = last.unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let doc: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(doc["status"], 429);
    assert_eq!(doc["title"], "Too Many Requests");
    assert_eq!(doc["type"], "about:blank");
    assert_eq!(doc["retry_after_secs"], retry);
    assert_eq!(doc["detectors"][0]["detector"], "burst");
    assert_eq!(doc["detectors"][0]["limit"], 2.0);
    assert!(doc["detail"].as_str().unwrap().contains("burst"), "{doc}");
}

#[tokio::test]
async fn a_delay_past_max_wait_is_answered_as_a_block_at_once() {
    let server = serve(
        layer("[guard]\nburst_max_events = 3\ndelay_secs = 30\n[http]\nmax_wait_secs = 10\n"),
        true,
    )
    .await;
    for _ in 0..4 {
        assert_eq!(get_with(server.addr, "/", &[]).await.status, 200);
    }
    let start = Instant::now();
    let r = get_with(server.addr, "/", &[]).await;
    assert_eq!(r.status, 429);
    // Not after waiting max_wait_secs (10 s) first; 5 s leaves room for a loaded machine.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(r.headers["retry-after"], "30");
}

#[tokio::test]
async fn a_spoofed_forwarded_for_is_ignored_without_trusted_proxies() {
    let server = serve(
        layer("[guard]\nburst_max_events = 3\ndelay_secs = 0\n"),
        true,
    )
    .await;
    let mut statuses = Vec::new();
    for i in 0..8 {
        let fake = format!("203.0.113.{i}");
        let r = get_with(
            server.addr,
            "/",
            &[
                ("x-forwarded-for", &fake),
                ("forwarded", &format!("for={fake}")),
            ],
        )
        .await;
        statuses.push(r.status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_the_key() {
    let server = serve(
        layer(
            "[guard]\nburst_max_events = 3\ndelay_secs = 0\n[http]\ntrusted_proxies = [\"127.0.0.0/8\"]\n",
        ),
        true,
    )
    .await;
    // Eight clients behind the proxy: one request each, all pass.
    for i in 0..8 {
        let r = get_with(
            server.addr,
            "/",
            &[("x-forwarded-for", &format!("198.51.100.{i}"))],
        )
        .await;
        assert_eq!(r.status, 200);
    }
    // One client, however it spoofs the left of the header, is one actor.
    let mut statuses = Vec::new();
    for i in 0..8 {
        let xff = format!("6.6.6.{i}, 198.51.100.200");
        statuses.push(
            get_with(server.addr, "/", &[("x-forwarded-for", &xff)])
                .await
                .status,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
}

#[tokio::test]
async fn ipv6_clients_are_one_actor_per_64() {
    let server = serve(
        layer(
            "[guard]\nburst_max_events = 3\ndelay_secs = 0\n[http]\ntrusted_proxies = [\"127.0.0.1\"]\n",
        ),
        true,
    )
    .await;
    // One host rotating through its own /64 is one actor.
    let mut statuses = Vec::new();
    for i in 0..8 {
        let addr = format!("2001:db8:1:2::{:x}", i + 1);
        statuses.push(
            get_with(server.addr, "/", &[("x-forwarded-for", &addr)])
                .await
                .status,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    // Other /64s are other actors.
    for i in 0..8 {
        let addr = format!("2001:db8:1:{:x}::1", i + 100);
        assert_eq!(
            get_with(server.addr, "/", &[("x-forwarded-for", &addr)])
                .await
                .status,
            200
        );
    }
}

#[tokio::test]
async fn header_keys_and_keyless_requests() {
    let toml = "[guard]\nburst_max_events = 3\ndelay_secs = 0\n[http]\nkey = \"header\"\nheader = \"X-Api-Key\"\n";
    let server = serve(layer(toml), true).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            get_with(server.addr, "/", &[("x-api-key", "team-a")])
                .await
                .status,
        );
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
    assert_eq!(
        get_with(server.addr, "/", &[("x-api-key", "team-b")])
            .await
            .status,
        200
    );
    // No key: the shared actor "unknown" (its own budget) ...
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(get_with(server.addr, "/", &[]).await.status);
    }
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    // ... or, when asked, passed unchecked.
    let server = serve(layer(&format!("{toml}unknown = \"pass\"\n")), false).await;
    for _ in 0..10 {
        assert_eq!(get_with(server.addr, "/", &[]).await.status, 200);
    }
}

#[tokio::test]
async fn without_the_peer_address_ip_keyed_requests_share_the_unknown_actor() {
    let server = serve(
        layer("[guard]\nburst_max_events = 3\ndelay_secs = 0\n"),
        false,
    )
    .await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(get_with(server.addr, "/", &[]).await.status);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_pass_while_one_abusive_key_is_blocked() {
    let toml = "[guard]\nburst_max_events = 20\ndelay_secs = 0.01\n[http]\nkey = \"header\"\nheader = \"x-client\"\n";
    let server = serve(layer(toml), true).await;
    let mut tasks = Vec::new();
    for c in 0..64 {
        let addr = server.addr;
        tasks.push(tokio::spawn(async move {
            let key = format!("client-{c}");
            let mut statuses = Vec::new();
            for _ in 0..10 {
                statuses.push(
                    get_with(addr, "/items/3", &[("x-client", &key)])
                        .await
                        .status,
                );
            }
            statuses
        }));
    }
    let addr = server.addr;
    let abuser = tokio::spawn(async move {
        let mut statuses = Vec::new();
        for _ in 0..100 {
            statuses.push(get_with(addr, "/", &[("x-client", "abuser")]).await.status);
        }
        statuses
    });
    for t in tasks {
        assert!(t.await.unwrap().iter().all(|s| *s == 200));
    }
    let abuser_statuses = abuser.await.unwrap();
    assert!(
        abuser_statuses.iter().filter(|s| **s == 429).count() >= 50,
        "{abuser_statuses:?}"
    );
    assert_eq!(
        server.reached.load(Ordering::SeqCst),
        640 + abuser_statuses.iter().filter(|s| **s == 200).count()
    );
}

/// A service whose body cannot be built from bytes (`String`), wrapped with `any_body`: the
/// layer answers `Either`, the service's own body or its 429 document.
#[tokio::test]
async fn any_body_wraps_a_service_whose_body_is_not_built_from_bytes() {
    use http_body_util::Either;
    use std::convert::Infallible;
    use tower_layer::Layer;
    use tower_service::Service;

    #[derive(Clone)]
    struct Text;
    impl Service<http::Request<()>> for Text {
        type Response = http::Response<String>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<http::Response<String>, Infallible>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: http::Request<()>) -> Self::Future {
            std::future::ready(Ok(http::Response::new("text".to_string())))
        }
    }

    let mut svc = layer("[guard]\nburst_max_events = 1\ndelay_secs = 0\n")
        .any_body()
        .layer(Text);
    let mut bodies = Vec::new();
    for _ in 0..3 {
        let mut req = http::Request::get("/").body(()).unwrap();
        req.extensions_mut()
            .insert(SocketAddr::from(([192, 0, 2, 1], 5000)));
        std::future::poll_fn(|cx| svc.poll_ready(cx)).await.unwrap();
        let res = svc.call(req).await.unwrap();
        bodies.push(match res.into_body() {
            Either::Left(text) => text,
            Either::Right(full) => {
                String::from_utf8(full.collect().await.unwrap().to_bytes().to_vec()).unwrap()
            }
        });
    }
    assert_eq!(bodies[0], "text");
    assert!(bodies[2].contains("Too Many Requests"), "{bodies:?}");
}

/// Two replicas of a service behind a load balancer, each with the layer on one shared store,
/// decide as one guard; with a guard each, each sees half the traffic.
#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_on_one_store_decide_as_one_guard() {
    let server = redis_server::RedisServer::start();
    let replica = || {
        let guard = Guard::from_config_path(DEMO).unwrap();
        let mut store = guard.config().store.clone();
        store.url = Some(server.url());
        // Many tests run at once here: the default 50 ms would let a slow check fall back.
        store.timeout_ms = 5000;
        pattern_guard::shared::SharedGuard::new(guard, &store).unwrap()
    };
    let replicas = [
        serve(GuardLayer::with_store(replica()), true).await,
        serve(GuardLayer::with_store(replica()), true).await,
    ];
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(get_with(replicas[i % 2].addr, "/", &[]).await.status);
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 429],
        "one guard's sequence"
    );
    let reached: usize = replicas
        .iter()
        .map(|r| r.reached.load(Ordering::SeqCst))
        .sum();
    assert_eq!(reached, 5, "the blocked request never reached a service");
    // The same two replicas with a guard each: each sees three requests, none refused.
    let alone = [
        serve(
            GuardLayer::new(Arc::new(Guard::from_config_path(DEMO).unwrap())),
            true,
        )
        .await,
        serve(
            GuardLayer::new(Arc::new(Guard::from_config_path(DEMO).unwrap())),
            true,
        )
        .await,
    ];
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(get_with(alone[i % 2].addr, "/", &[]).await.status);
    }
    assert_eq!(statuses, [200; 6]);
}
