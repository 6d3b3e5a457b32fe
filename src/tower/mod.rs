//! The HTTP layer (cargo feature `tower`): a [`GuardLayer`] that checks every request with one
//! shared [`Guard`] before the service it wraps sees it. It wraps any
//! `tower::Service<http::Request<B>>`: an axum `Router` (`.layer(...)`), a hyper service
//! (through `hyper_util::service::TowerToHyperService`), a tonic server. Its refusal is built in
//! the service's own response body type when that body is made from bytes (axum's `Body`,
//! `Full<Bytes>`); [`GuardLayer::any_body`] serves any other body as an `Either`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{routing::get, Router};
//! use pattern_guard::{tower::GuardLayer, Guard};
//!
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = Arc::new(Guard::from_config_path("guard.toml")?);
//! let app: Router = Router::new()
//!     .route("/items/{id}", get(|| async { "item" }))
//!     .layer(GuardLayer::new(guard));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
//! axum::serve(listener, service).await?;
//! # Ok(()) }
//! ```
//!
//! Each request is one event: actor from the key ([`key`]: the client IP by default, an IPv6
//! client's /64, a header, or a closure), action the method, target the matched route template
//! (axum's `MatchedPath`, so `/items/{id}` is one target) or else the path without its query,
//! weight 1 or from a closure. Then:
//!
//! | decision | the layer |
//! |---|---|
//! | allow | calls the service |
//! | warn | calls the service, and logs the reasons (`tracing`, WARN) |
//! | delay | waits the delay, then calls the service; a delay longer than `max_wait_secs` is answered as a block |
//! | block | answers `429 Too Many Requests` with `Retry-After` (whole seconds) and an `application/problem+json` body (RFC 9457) naming the detectors that fired; the service is not called |
//!
//! The peer address is read from axum's `ConnectInfo<SocketAddr>` (serve with
//! `into_make_service_with_connect_info::<SocketAddr>()`) or from a `SocketAddr` request
//! extension (plain hyper: insert the connection's address). A request with no key (no peer
//! address, no header) is checked as the one actor `unknown`, or passed unchecked, as
//! `[http] unknown` says. There is no background task: forgetting old clients is the engine's
//! own bounded expiry.
//!
//! Replicas behind a load balancer share one history with [`GuardLayer::with_store`] (feature
//! `redis`): every check goes through the store, and they decide as one guard.
//!
//! For gRPC (tonic), a 429 carries no `grpc-status`, so clients see `UNAVAILABLE` (the gRPC
//! specification's mapping of HTTP statuses); services that want `RESOURCE_EXHAUSTED` call
//! [`Guard::assess`] from an interceptor and answer it themselves.

pub mod key;
mod problem;

use std::future::Future;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Extensions, HeaderMap, Method, Request, Response, Uri};
use http_body_util::{Either, Full};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::config::{HttpKey, HttpSettings, UnknownKey};
use crate::{Assessment, Decision, Event, Guard};
use key::ClientKey;

/// What the layer's closures see of a request.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub extensions: &'a Extensions,
    /// The connection's peer, when the server says.
    pub peer: Option<SocketAddr>,
}

type KeyFn = dyn Fn(&RequestInfo<'_>) -> Option<String> + Send + Sync;
type WeightFn = dyn Fn(&RequestInfo<'_>) -> f64 + Send + Sync;

/// What every clone of the layer and its services shares.
#[derive(Clone)]
struct Shared {
    guard: Arc<Guard>,
    /// Checks go through a shared store (feature `redis`): every replica decides as one.
    #[cfg(feature = "redis")]
    store: Option<crate::shared::SharedGuard>,
    settings: HttpSettings,
    key_fn: Option<Arc<KeyFn>>,
    weight_fn: Option<Arc<WeightFn>>,
}

/// How a refusal's body is made: the service's own body type built from the problem document's
/// bytes ([`FromBytes`], the default), or either the service's body or ours ([`AnyBody`]).
pub trait RefusalBody {}

/// The service's response body type is built from bytes (`R: From<Bytes>`: axum's `Body`,
/// `http_body_util::Full<Bytes>`): responses pass through as they are, with nothing wrapped.
#[derive(Debug, Clone, Copy)]
pub struct FromBytes;
/// Any response body: the layer answers `Either<R, Full<Bytes>>` ([`GuardedBody`]).
#[derive(Debug, Clone, Copy)]
pub struct AnyBody;
impl RefusalBody for FromBytes {}
impl RefusalBody for AnyBody {}

/// A tower [`Layer`] that guards the service it wraps with one shared [`Guard`].
///
/// `M` says how a refusal's body is made: [`FromBytes`] by default (the service's own body type,
/// built from the bytes of the problem document: nothing is wrapped, which is what costs least
/// in axum); [`GuardLayer::any_body`] for a service whose body cannot be built from bytes.
pub struct GuardLayer<M = FromBytes> {
    shared: Arc<Shared>,
    body: PhantomData<M>,
}

impl<M> Clone for GuardLayer<M> {
    fn clone(&self) -> Self {
        GuardLayer {
            shared: Arc::clone(&self.shared),
            body: PhantomData,
        }
    }
}

impl GuardLayer {
    /// A layer with the guard's own `[http]` settings.
    pub fn new(guard: Arc<Guard>) -> GuardLayer {
        let settings = guard.config().http.clone();
        GuardLayer {
            shared: Arc::new(Shared {
                guard,
                #[cfg(feature = "redis")]
                store: None,
                settings,
                key_fn: None,
                weight_fn: None,
            }),
            body: PhantomData,
        }
    }

    /// A layer whose checks go through a shared store (feature `redis`): the replicas of a
    /// service behind a load balancer, each with this layer on the same store, decide as one
    /// guard fed every replica's requests. The store guard's own `[http]` settings apply; a
    /// store that does not answer is handled as its `[store] on_error` says.
    #[cfg(feature = "redis")]
    pub fn with_store(store: crate::shared::SharedGuard) -> GuardLayer {
        let settings = store.guard().config().http.clone();
        GuardLayer {
            shared: Arc::new(Shared {
                // Only its configuration and clock are read: checks go to the store.
                guard: Arc::new(Guard::build(store.guard().config().clone())),
                store: Some(store),
                settings,
                key_fn: None,
                weight_fn: None,
            }),
            body: PhantomData,
        }
    }
}

impl<M: RefusalBody> GuardLayer<M> {
    /// This layer with one thing changed (layers already handed out keep what they had).
    fn with(self, change: impl FnOnce(&mut Shared)) -> GuardLayer<M> {
        let mut shared = (*self.shared).clone();
        change(&mut shared);
        GuardLayer {
            shared: Arc::new(shared),
            body: PhantomData,
        }
    }

    /// For a service whose response body cannot be built from bytes: the layer answers
    /// `Either<R, Full<Bytes>>` instead of `R`.
    #[must_use]
    pub fn any_body(self) -> GuardLayer<AnyBody> {
        GuardLayer {
            shared: self.shared,
            body: PhantomData,
        }
    }

    /// Replaces the `[http]` settings.
    #[must_use]
    pub fn settings(self, settings: HttpSettings) -> GuardLayer<M> {
        self.with(|s| s.settings = settings)
    }

    /// Keys requests by the value of this header (`key:VALUE`).
    #[must_use]
    pub fn key_header(self, name: &str) -> GuardLayer<M> {
        let name = name.to_ascii_lowercase();
        self.with(|s| s.settings.key = HttpKey::Header(name))
    }

    /// Keys requests by a closure; `None` is a request without a key.
    #[must_use]
    pub fn key_fn(
        self,
        f: impl Fn(&RequestInfo<'_>) -> Option<String> + Send + Sync + 'static,
    ) -> GuardLayer<M> {
        self.with(|s| s.key_fn = Some(Arc::new(f)))
    }

    /// Weighs requests by a closure (default 1).
    #[must_use]
    pub fn weight_fn(
        self,
        f: impl Fn(&RequestInfo<'_>) -> f64 + Send + Sync + 'static,
    ) -> GuardLayer<M> {
        self.with(|s| s.weight_fn = Some(Arc::new(f)))
    }

    /// The longest delay waited out; a longer one is answered as a block.
    #[must_use]
    pub fn max_wait(self, wait: Duration) -> GuardLayer<M> {
        self.with(|s| s.settings.max_wait_secs = wait.as_secs_f64())
    }

    /// What to do with requests that have no key.
    #[must_use]
    pub fn unknown(self, unknown: UnknownKey) -> GuardLayer<M> {
        self.with(|s| s.settings.unknown = unknown)
    }
}

impl<S, M> Layer<S> for GuardLayer<M> {
    type Service = GuardService<S, M>;

    fn layer(&self, inner: S) -> GuardService<S, M> {
        GuardService {
            inner,
            shared: Arc::clone(&self.shared),
            body: PhantomData,
        }
    }
}

/// The service [`GuardLayer`] makes: checks each request, then calls, delays or answers 429.
pub struct GuardService<S, M = FromBytes> {
    inner: S,
    shared: Arc<Shared>,
    body: PhantomData<M>,
}

impl<S: Clone, M> Clone for GuardService<S, M> {
    fn clone(&self) -> Self {
        GuardService {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
            body: PhantomData,
        }
    }
}

/// What a layer made with [`GuardLayer::any_body`] answers: the service's response, or its 429.
pub type GuardedBody<B> = Either<B, Full<Bytes>>;

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

pin_project! {
    /// The future of a guarded call, answering `Response<T>` (`T` the service's body `R`, or
    /// [`GuardedBody<R>`]). A request that passes at once runs the service's own future `F`,
    /// and a refused one answers its 429 as it stands: neither allocates. A delayed request
    /// (and any request checked through a shared store) is one boxed future.
    pub struct ResponseFuture<F, R, T, E> {
        #[pin]
        state: State<F, R, T, E>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, R, T, E> {
        Passed { #[pin] future: F, passed: fn(R) -> T },
        Refused { response: Option<Response<T>> },
        Later { future: BoxFuture<Response<T>, E> },
    }
}

impl<F, R, T, E> ResponseFuture<F, R, T, E> {
    fn passed(future: F, passed: fn(R) -> T) -> Self {
        ResponseFuture {
            state: State::Passed { future, passed },
        }
    }

    fn refused(response: Response<T>) -> Self {
        ResponseFuture {
            state: State::Refused {
                response: Some(response),
            },
        }
    }

    fn later(future: BoxFuture<Response<T>, E>) -> Self {
        ResponseFuture {
            state: State::Later { future },
        }
    }
}

impl<F, R, T, E> Future for ResponseFuture<F, R, T, E>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<T>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Passed { future, passed } => {
                let passed = *passed;
                future
                    .poll(cx)
                    .map(|r| r.map(|response| response.map(passed)))
            }
            // Polled again after it answered: a misuse of any future; it stays pending.
            StateProj::Refused { response } => response
                .take()
                .map_or(Poll::Pending, |r| Poll::Ready(Ok(r))),
            StateProj::Later { future } => future.as_mut().poll(cx),
        }
    }
}

impl<S, B, R> Service<Request<B>> for GuardService<S, FromBytes>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: From<Bytes> + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, R, R, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        guarded_call(&self.shared, &mut self.inner, req, |r| r, R::from)
    }
}

impl<S, B, R> Service<Request<B>> for GuardService<S, AnyBody>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: 'static,
{
    type Response = Response<GuardedBody<R>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, R, GuardedBody<R>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        guarded_call(&self.shared, &mut self.inner, req, Either::Left, |bytes| {
            Either::Right(Full::new(bytes))
        })
    }
}

/// One guarded call: judge the request, then call the ready service now, later, or not at all;
/// `passed` and `refused` make the response body.
fn guarded_call<S, B, R, T>(
    shared: &Shared,
    ready: &mut S,
    req: Request<B>,
    passed: fn(R) -> T,
    refused: fn(Bytes) -> T,
) -> ResponseFuture<S::Future, R, T, S::Error>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: 'static,
    T: 'static,
{
    #[cfg(feature = "redis")]
    if let Some(store) = &shared.store {
        return ResponseFuture::later(stored_call(
            shared,
            store.clone(),
            ready,
            req,
            passed,
            refused,
        ));
    }
    match shared.judge(&req) {
        // The service was made ready for this call: call it now.
        Verdict::Pass => ResponseFuture::passed(ready.call(req), passed),
        // Called later: the ready service goes with the call, a clone takes its place.
        Verdict::Wait(pause) => {
            let clone = ready.clone();
            let mut inner = std::mem::replace(ready, clone);
            ResponseFuture::later(Box::pin(async move {
                tokio::time::sleep(pause).await;
                inner.call(req).await.map(|r| r.map(passed))
            }))
        }
        Verdict::Refuse(response) => ResponseFuture::refused(response.map(refused)),
    }
}

/// [`guarded_call`] through the shared store: the check is awaited, so the ready service goes
/// with the call and a clone takes its place.
#[cfg(feature = "redis")]
fn stored_call<S, B, R, T>(
    shared: &Shared,
    store: crate::shared::SharedGuard,
    ready: &mut S,
    req: Request<B>,
    passed: fn(R) -> T,
    refused: fn(Bytes) -> T,
) -> BoxFuture<Response<T>, S::Error>
where
    S: Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: 'static,
    T: 'static,
{
    let Some(event) = shared.event_of(&req) else {
        let future = ready.call(req);
        return Box::pin(async move { future.await.map(|r| r.map(passed)) });
    };
    // The check is awaited: the event goes with the call, so it owns its strings.
    let event = (
        event.actor.into_string(),
        event.route.to_owned(),
        event.weight,
    );
    let clone = ready.clone();
    let mut inner = std::mem::replace(ready, clone);
    let shared = shared.clone();
    Box::pin(async move {
        let (actor, route, weight) = event;
        let e = Event::new(
            actor.as_str(),
            req.method().as_str(),
            route.as_str(),
            store.guard().clock().now(),
        )
        .with_weight(weight);
        let a = store.assess(&e).await;
        match shared.verdict(&a, &actor, req.method(), &route) {
            Verdict::Pass => inner.call(req).await.map(|r| r.map(passed)),
            Verdict::Wait(pause) => {
                tokio::time::sleep(pause).await;
                inner.call(req).await.map(|r| r.map(passed))
            }
            Verdict::Refuse(response) => Ok(response.map(refused)),
        }
    })
}

/// A request's event as the layer reads it: the actor's key, and the route borrowed from the
/// request.
struct RequestEvent<'r> {
    actor: ClientKey,
    route: &'r str,
    weight: f64,
}

/// What the layer does with a request.
enum Verdict {
    Pass,
    Wait(Duration),
    Refuse(Response<Bytes>),
}

impl Shared {
    /// The request's actor, route and weight; `None`: pass it unchecked (no key, and
    /// `[http] unknown = "pass"`).
    fn event_of<'r, B>(&self, req: &'r Request<B>) -> Option<RequestEvent<'r>> {
        // Two lookups in the request's extensions, made only when something reads the peer.
        let wants_peer = self.key_fn.is_some()
            || self.weight_fn.is_some()
            || matches!(self.settings.key, HttpKey::Ip);
        let peer = wants_peer
            .then(|| {
                req.extensions()
                    .get::<axum::extract::ConnectInfo<SocketAddr>>()
                    .map(|c| c.0)
                    .or_else(|| req.extensions().get::<SocketAddr>().copied())
            })
            .flatten();
        let info = RequestInfo {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            extensions: req.extensions(),
            peer,
        };
        let actor = match self.key(&info) {
            Some(actor) => actor,
            None if self.settings.unknown == UnknownKey::Pass => return None,
            None => ClientKey::literal("unknown"),
        };
        let route = req
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map_or_else(|| req.uri().path(), |m| m.as_str());
        let weight = self.weight_fn.as_ref().map_or(1.0, |f| f(&info));
        Some(RequestEvent {
            actor,
            route,
            weight,
        })
    }

    fn judge<B>(&self, req: &Request<B>) -> Verdict {
        let Some(RequestEvent {
            actor,
            route,
            weight,
        }) = self.event_of(req)
        else {
            return Verdict::Pass;
        };
        let actor = actor.as_str();
        let event = Event::new(
            actor,
            req.method().as_str(),
            route,
            self.guard.clock().now(),
        )
        .with_weight(weight);
        // The engine's check, with what a refusal needs worked out; turned into an Assessment
        // (an allocation) only when it is not an allow.
        let outcome = self.guard.evaluate(&event, true);
        if outcome.decision == Decision::Allow {
            return Verdict::Pass;
        }
        self.verdict(&outcome.into_assessment(), actor, req.method(), route)
    }

    /// What a decision comes to for a request.
    fn verdict(&self, a: &Assessment, actor: &str, method: &Method, route: &str) -> Verdict {
        match a.decision {
            Decision::Allow => Verdict::Pass,
            Decision::Warn => {
                tracing::warn!(actor, %method, route, risk = a.risk, reasons = %reasons(a), "unusual requests");
                Verdict::Pass
            }
            Decision::Delay(pause) if pause.as_secs_f64() <= self.settings.max_wait_secs => {
                tracing::info!(actor, %method, route, risk = a.risk, delay = ?pause, "delaying a request");
                Verdict::Wait(pause)
            }
            Decision::Delay(pause) => {
                tracing::info!(actor, %method, route, risk = a.risk, delay = ?pause, "refusing a request: its delay is past max_wait_secs");
                Verdict::Refuse(problem::too_many_requests(a, pause))
            }
            Decision::Block => {
                tracing::info!(actor, %method, route, risk = a.risk, reasons = %reasons(a), "refusing a request");
                let retry = a.retry_after.unwrap_or(Duration::from_secs(1));
                Verdict::Refuse(problem::too_many_requests(a, retry))
            }
        }
    }

    fn key(&self, info: &RequestInfo<'_>) -> Option<ClientKey> {
        if let Some(f) = &self.key_fn {
            return f(info).map(ClientKey::from);
        }
        match &self.settings.key {
            HttpKey::Ip => {
                let peer = info.peer?;
                let ip = key::client_ip(peer.ip(), info.headers, &self.settings)?;
                Some(ClientKey::ip(ip, self.settings.ipv6_prefix))
            }
            HttpKey::Header(name) => {
                let value = info.headers.get(name.as_str())?;
                Some(ClientKey::header(value.as_bytes()))
            }
        }
    }
}

/// The detectors that fired, in words.
fn reasons(a: &Assessment) -> String {
    let fired: Vec<String> = a.reasons().iter().map(ToString::to_string).collect();
    fired.join("; ")
}
