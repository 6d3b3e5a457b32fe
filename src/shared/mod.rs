//! Shared history (cargo feature `redis`): one guard across processes and hosts, on Redis or
//! Valkey.
//!
//! Every process that points at the same store decides as one guard fed every event recorded
//! there, in the store's order. The history of each actor is a log in the store ((`log.rs`)): a
//! check is one call of a server-side script that stamps the event with the server's clock,
//! appends it and returns what other processes appended since this one last looked; the process
//! applies those events to its own engine, its view of the actor ((`view.rs`)), and decides. One
//! round trip per check, one engine, one set of detectors: the store keeps events, not a second
//! implementation of the rules.
//!
//! ```no_run
//! use pattern_guard::shared::SharedGuard;
//! use pattern_guard::{Config, Guard, StoreSettings};
//!
//! # async fn demo() -> Result<(), pattern_guard::Error> {
//! let mut store = StoreSettings::default();
//! store.url = Some("redis://127.0.0.1:6379/0".into());
//! let shared = SharedGuard::new(Guard::from_config(Config::default())?, &store)?;
//! let a = shared.assess(&shared.guard().event("ip:203.0.113.9", "GET", "/login")).await;
//! println!("{} (risk {:.2})", a.decision, a.risk);
//! # Ok(()) }
//! ```
//!
//! Time: [`SharedGuard::assess`] stamps the event with the store's clock (so hosts whose clocks
//! disagree by seconds decide alike); [`SharedGuard::assess_at`] keeps the event's own time,
//! capped at the store's clock plus `future_tolerance_secs` and never before the actor's
//! previous event.
//!
//! When the store does not answer within `[store] timeout_ms` (or refuses: auth, a key of
//! another type), `[store] on_error` decides: `local` (this process's own memory of the actor;
//! warns once per outage), `allow` or `block`. Failed stores are probed with a back-off
//! (`health.rs`) and used again as soon as they answer.

pub mod blocking;
pub mod health;
mod log;
mod view;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use ::redis::aio::MultiplexedConnection;

use crate::clock::to_nanos;
use crate::config::{redact, OnError, StoreSettings};
use crate::decision::{Assessment, Decision};
use crate::error::Error;
use crate::event::Event;
use crate::Guard;
use health::{Gate, Health};
pub use log::Lease;
use log::{Call, Op, Reply};
use view::View;

/// The key under which the processes sharing a store agree on the hash seed.
pub fn seed_key(prefix: &str) -> String {
    format!("{prefix}seed")
}

/// A guard whose memory is shared through a Redis store. Cheap to clone; share it between tasks.
#[derive(Clone)]
pub struct SharedGuard {
    inner: Arc<Inner>,
}

struct Inner {
    guard: Guard,
    view: View,
    client: ::redis::Client,
    script: ::redis::Script,
    settings: StoreSettings,
    url: String,
    conn: Mutex<Option<MultiplexedConnection>>,
    connecting: tokio::sync::Mutex<()>,
    health: Health,
}

impl std::fmt::Debug for SharedGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedGuard")
            .field("store", &self.inner.url)
            .field("prefix", &self.inner.settings.prefix)
            .finish_non_exhaustive()
    }
}

/// A store failure, for the logs (never holds a password).
#[derive(Debug)]
struct Failure(String);

impl SharedGuard {
    /// A shared guard deciding with `guard`'s configuration, its history in the store `settings`
    /// names (`settings.url` must be set). Connects lazily: a store that is down at start is
    /// handled like any outage.
    pub fn new(guard: Guard, settings: &StoreSettings) -> Result<SharedGuard, Error> {
        let Some(url) = settings.url.as_deref() else {
            return Err(Error::Store {
                url: String::new(),
                why: "no store URL: set [store] url = \"redis://HOST:PORT/DB\"".into(),
            });
        };
        let shown = redact(url);
        let client = open_client(url)?;
        Ok(SharedGuard {
            inner: Arc::new(Inner {
                guard,
                view: View::new(),
                client,
                script: ::redis::Script::new(&log::script()),
                settings: settings.clone(),
                url: shown,
                conn: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(()),
                health: Health::default(),
            }),
        })
    }

    /// The local guard: this process's view of the actors (configuration, [`Guard::status`],
    /// [`Guard::event`]).
    pub fn guard(&self) -> &Guard {
        &self.inner.guard
    }

    /// The store's URL, without its password.
    pub fn store(&self) -> &str {
        &self.inner.url
    }

    /// Whether the store is answering (false during an outage, until a probe succeeds).
    pub fn store_up(&self) -> bool {
        self.inner.health.down_since().is_none()
    }

    /// Records the event, stamped with the store's clock, and recommends a decision, as one
    /// guard fed every event of the store would.
    pub async fn assess(&self, event: &Event<'_>) -> Assessment {
        self.inner.assess(event, false).await
    }

    /// As [`assess`](SharedGuard::assess), keeping the event's own timestamp (within the
    /// future tolerance of the store's clock).
    pub async fn assess_at(&self, event: &Event<'_>) -> Assessment {
        self.inner.assess(event, true).await
    }

    /// The decision alone, for [`assess`](SharedGuard::assess).
    pub async fn check(&self, event: &Event<'_>) -> Decision {
        self.assess(event).await.decision
    }

    /// Forgets `actor`'s shared history (every process's next check of it starts afresh).
    pub async fn reset(&self, actor: &str) -> Result<bool, Error> {
        let inner = &self.inner;
        let key = log::key(&inner.settings.prefix, actor);
        let removed: i64 = inner
            .with_connection(inner.deadline(), |mut conn| async move {
                ::redis::cmd("DEL")
                    .arg(&key)
                    .arg(log::log_key(&key))
                    .query_async(&mut conn)
                    .await
            })
            .await
            .map_err(|f| inner.error(f.0))?;
        inner.guard.reset(actor);
        inner.view.diverged(actor);
        Ok(removed > 0)
    }
}

impl Inner {
    fn timeout(&self) -> Duration {
        Duration::from_millis(self.settings.timeout_ms)
    }

    /// When a call started now must have its answer.
    fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.timeout()
    }

    fn too_late(&self) -> Failure {
        Failure(format!(
            "no answer within {} ms (timeout_ms)",
            self.settings.timeout_ms
        ))
    }

    fn error(&self, why: String) -> Error {
        Error::Store {
            url: self.url.clone(),
            why,
        }
    }

    async fn assess(&self, event: &Event<'_>, explicit: bool) -> Assessment {
        let gate = self.health.gate();
        if gate != Gate::Skip {
            match self.call_check(event, explicit, self.deadline()).await {
                Ok(a) => {
                    if let Some(outage) = self.health.ok() {
                        tracing::warn!(store = %self.url, outage_ms = outage.as_millis() as u64, "store answering again");
                    }
                    return a;
                }
                Err(Failure(why)) => {
                    if self.health.failed() {
                        tracing::warn!(store = %self.url, on_error = %self.settings.on_error, error = %why,
                            "store not answering: deciding without it until it does");
                    }
                }
            }
        }
        self.fallback(event)
    }

    /// The decision while the store is out, as `on_error` says.
    fn fallback(&self, event: &Event<'_>) -> Assessment {
        match self.settings.on_error {
            OnError::Local => {
                self.view.diverged(event.actor());
                self.guard.assess(event)
            }
            OnError::Allow => verdict(Decision::Allow, event.timestamp(), None),
            OnError::Block => verdict(
                Decision::Block,
                event.timestamp(),
                Some(health::FIRST_BACKOFF),
            ),
        }
    }

    async fn call_check(
        &self,
        event: &Event<'_>,
        explicit: bool,
        deadline: tokio::time::Instant,
    ) -> Result<Assessment, Failure> {
        let guard = &self.guard;
        let actor = event.actor();
        let (future_us, window_us, max_events, ttl_ms) = guard.log_limits(actor);
        let mut reply = None;
        for _ in 0..2 {
            self.connection(deadline).await?;
            let mut call = Call {
                at_us: explicit.then(|| to_nanos(event.timestamp()) / 1000),
                future_us,
                window_us,
                max_events,
                ttl_ms,
                record: Some(guard.record_of(event)),
                seed: Some(guard.hash_seed()),
                ..Call::new(Op::Check, actor)
            };
            let mut epoch = String::new();
            self.view.begin(guard, &mut call, &mut epoch);
            call.epoch = &epoch;
            let args = call.args();
            let key = log::key(&self.settings.prefix, actor);
            match self.invoke(&key, args, deadline).await {
                Ok(Ok(r)) => {
                    reply = Some(r);
                    break;
                }
                Ok(Err(seed)) => {
                    // The actor's log is hashed under another seed (the seed key was lost
                    // while the log lived on): hash under the log's, as every process will.
                    self.view.end(actor);
                    self.guard.adopt_seed(seed);
                    self.view.clear();
                }
                Err(e) => {
                    self.view.end(actor);
                    return Err(e);
                }
            }
        }
        let reply =
            reply.ok_or_else(|| Failure("the actor's log changed its hash seed twice".into()))?;
        let own = reply.seq;
        let mine = self.view.apply(guard, actor, &reply, Some(own));
        // The own event was folded into a checkpoint by another process before this reply was
        // applied (only when this view had to be rebuilt meanwhile): what the actor's memory says
        // of an event like it now is the closest answer.
        Ok(mine.unwrap_or_else(|| {
            guard
                .preview(actor, Some(crate::clock::from_nanos(reply.now_us * 1000)))
                .unwrap_or_default()
        }))
    }

    /// One script call. `Ok(Err(seed))`: the log is hashed under `seed`.
    async fn invoke(
        &self,
        key: &str,
        args: Vec<Vec<u8>>,
        deadline: tokio::time::Instant,
    ) -> Result<Result<Reply, u64>, Failure> {
        let script = &self.script;
        let items: Vec<Vec<u8>> = self
            .with_connection(deadline, |mut conn| async move {
                let mut inv = script.key(key);
                inv.key(log::log_key(key));
                for a in args {
                    inv.arg(a);
                }
                inv.invoke_async(&mut conn).await
            })
            .await?;
        match Reply::parse(&items) {
            Ok(reply) => Ok(Ok(reply)),
            Err(why) => log::other_seed(&why).map(Err).ok_or(Failure(why)),
        }
    }

    /// Runs `f` on the connection within the timeout; a failure drops the connection so the next
    /// call (a probe) connects again.
    async fn with_connection<T, F, Fut>(
        &self,
        deadline: tokio::time::Instant,
        f: F,
    ) -> Result<T, Failure>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = ::redis::RedisResult<T>>,
    {
        let conn = self.connection(deadline).await?;
        match tokio::time::timeout_at(deadline, f(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.drop_connection();
                Err(Failure(describe(&e)))
            }
            Err(_) => {
                self.drop_connection();
                Err(self.too_late())
            }
        }
    }

    fn drop_connection(&self) {
        *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The connection, if there is one.
    fn current(&self) -> Option<MultiplexedConnection> {
        self.conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The connection, made (and the hash seed agreed) when there is none.
    async fn connection(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<MultiplexedConnection, Failure> {
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let Ok(_one) = tokio::time::timeout_at(deadline, self.connecting.lock()).await else {
            return Err(self.too_late());
        };
        // Another call may have connected while this one waited.
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let connect = async {
            let config = ::redis::AsyncConnectionConfig::new()
                .set_connection_timeout(Some(self.timeout()))
                .set_response_timeout(Some(self.timeout()));
            let mut conn = self
                .client
                .get_multiplexed_async_connection_with_config(&config)
                .await?;
            let key = seed_key(&self.settings.prefix);
            let proposed = crate::hash::random_seed().to_string();
            let (seed,): (String,) = ::redis::pipe()
                .cmd("SET")
                .arg(&key)
                .arg(proposed)
                .arg("NX")
                .ignore()
                .cmd("GET")
                .arg(&key)
                .query_async(&mut conn)
                .await?;
            Ok::<_, ::redis::RedisError>((conn, seed))
        };
        let (conn, seed) = match tokio::time::timeout_at(deadline, connect).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return Err(Failure(describe(&e))),
            Err(_) => return Err(self.too_late()),
        };
        let seed: u64 = seed.parse().map_err(|_| {
            Failure(format!(
                "{} does not hold a pattern-guard seed",
                seed_key(&self.settings.prefix)
            ))
        })?;
        if seed != self.guard.hash_seed() {
            self.guard.adopt_seed(seed);
            self.view.clear();
        }
        *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        Ok(conn)
    }
}

/// A client for `url`, or why it cannot be one.
pub fn open_client(url: &str) -> Result<::redis::Client, Error> {
    crate::config::check_url(url).map_err(|why| Error::Store {
        url: redact(url),
        why,
    })?;
    let fail = |e: &::redis::RedisError| Error::Store {
        url: redact(url),
        why: describe(e),
    };
    // No `CLIENT SETINFO` after connecting: a round trip every short-lived process would pay
    // (and servers before 7.2 refuse anyway).
    let info = ::redis::IntoConnectionInfo::into_connection_info(url).map_err(|e| fail(&e))?;
    let settings = info.redis_settings().clone().set_skip_set_lib_name();
    ::redis::Client::open(info.set_redis_settings(settings)).map_err(|e| fail(&e))
}

/// A Redis error in words, without anything from the URL.
pub fn describe(e: &::redis::RedisError) -> String {
    if e.is_timeout() {
        return "no answer in time (timeout_ms)".into();
    }
    if e.is_connection_refusal() {
        return "connection refused: is the server running and the address right?".into();
    }
    let text = e.to_string();
    if text.contains("WRONGTYPE") {
        return "a key of the actor's log holds another type of value: another program uses this \
                prefix; choose another [store] prefix"
            .into();
    }
    let lower = text.to_ascii_lowercase();
    if lower.contains("noauth") || lower.contains("wrongpass") || lower.contains("authentication") {
        return "authentication failed: check the user and password in the URL".into();
    }
    text
}

/// An assessment made without the store: `on_error = "allow"` or `"block"`.
fn verdict(decision: Decision, at: SystemTime, retry_after: Option<Duration>) -> Assessment {
    Assessment {
        decision,
        risk: if decision == Decision::Block {
            1.0
        } else {
            0.0
        },
        raw_risk: 0.0,
        escalation_level: 0,
        readings: Vec::new(),
        retry_after,
        at,
    }
}
