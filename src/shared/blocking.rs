//! The shared log with blocking calls, for short-lived processes (the CLI): a few calls per
//! run, each bounded by `timeout_ms`, on one connection made on first use.
//!
//! A run loads its actor ([`SharedLog::load`]: the log replayed into a guard, the live leases,
//! the kept bytes), checks its event ([`SharedLog::check`], taking a lease when the overlap limit
//! applies, atomically with the event), renews the lease while its command runs and gives it
//! back after ([`SharedLog::renew`], [`SharedLog::release`]).

use std::cell::{Cell, RefCell};
use std::time::{Duration, SystemTime};

use ::redis::{Client, Connection, Script};

use super::log::{self, Call, Lease, Op, Reply};
use super::view::View;
use super::{describe, open_client, seed_key};
use crate::clock::{from_nanos, to_nanos};
use crate::config::{redact, StoreSettings};
use crate::decision::Assessment;
use crate::error::Error;
use crate::event::Event;
use crate::Guard;

/// One actor as the store holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The actor's live leases (running instances of its job, on any host).
    pub leases: Vec<Lease>,
    /// The notes asked for, in the order asked (empty: none kept).
    pub notes: Vec<Vec<u8>>,
    /// The actor id.
    pub actor: String,
    /// The store's clock when it answered.
    pub now: SystemTime,
}

impl Default for Loaded {
    fn default() -> Self {
        Loaded {
            leases: Vec::new(),
            notes: Vec::new(),
            actor: String::new(),
            now: SystemTime::UNIX_EPOCH,
        }
    }
}

/// A lease to take with an event: the overlap limit across hosts.
#[derive(Debug, Clone, Copy)]
pub struct LeaseRequest<'a> {
    /// This run's id (host, pid, start time).
    pub id: &'a str,
    /// Live leases allowed before this one.
    pub max: usize,
    /// How long it lasts unless renewed.
    pub length: Duration,
}

/// What a check came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Checked {
    /// The event was recorded and assessed (and the lease taken, if one was asked for).
    Assessed(Assessment),
    /// The lease limit was reached: this many are live. Nothing was recorded.
    Busy(usize),
}

/// The shared log of a store, called one request at a time.
pub struct SharedLog {
    client: Client,
    conn: RefCell<Option<Connection>>,
    script: Script,
    settings: StoreSettings,
    url: String,
    view: View,
    seed: RefCell<Option<u64>>,
    /// The last check found many events past the log's checkpoint.
    due: Cell<bool>,
}

/// A process that checked an event past this many events after the log's checkpoint should
/// send its own ([`SharedLog::release`] with nothing else does): the next process to load the
/// actor replays the events after the checkpoint through the detectors, the rest only into the
/// window.
pub const CHECKPOINT_AFTER: u64 = 32;

impl std::fmt::Debug for SharedLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLog")
            .field("store", &self.url)
            .finish_non_exhaustive()
    }
}

impl SharedLog {
    /// The store `settings.url` names. Connects on first use.
    pub fn open(settings: &StoreSettings) -> Result<SharedLog, Error> {
        let url = settings.url.as_deref().unwrap_or_default();
        Ok(SharedLog {
            client: open_client(url)?,
            conn: RefCell::new(None),
            script: Script::new(&log::script()),
            settings: settings.clone(),
            url: redact(url),
            view: View::new(),
            seed: RefCell::new(None),
            due: Cell::new(false),
        })
    }

    /// The store's URL without its password, and the key prefix.
    pub fn location(&self) -> String {
        format!("{} (keys {}*)", self.url, self.settings.prefix)
    }

    /// The settings it was opened with.
    pub fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    fn fail(&self, why: String) -> Error {
        *self.conn.borrow_mut() = None;
        Error::Store {
            url: self.url.clone(),
            why,
        }
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.settings.timeout_ms)
    }

    fn store_error(&self, e: &::redis::RedisError) -> Error {
        Error::Store {
            url: self.url.clone(),
            why: describe(e),
        }
    }

    /// Runs `f` on the connection, made when there is none.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> ::redis::RedisResult<T>,
    ) -> Result<T, Error> {
        let mut slot = self.conn.borrow_mut();
        if slot.is_none() {
            let conn = self
                .client
                .get_connection_with_timeout(self.timeout())
                .map_err(|e| self.store_error(&e))?;
            let t = Some(self.timeout());
            conn.set_read_timeout(t)
                .and_then(|()| conn.set_write_timeout(t))
                .map_err(|e| self.store_error(&e))?;
            *slot = Some(conn);
        }
        let Some(conn) = slot.as_mut() else {
            unreachable!("the connection was just made")
        };
        let result = f(conn);
        drop(slot);
        result.map_err(|e| self.fail(describe(&e)))
    }

    /// Starts from a hash seed known from an earlier run (the CLI keeps it), saving a round
    /// trip; the store refuses a check hashed under another seed than the actor's log, and the
    /// right one is then taken.
    pub fn with_seed(self, seed: u64) -> SharedLog {
        *self.seed.borrow_mut() = Some(seed);
        self
    }

    /// The hash seed in use (after the first call).
    pub fn seed(&self) -> Option<u64> {
        *self.seed.borrow()
    }

    /// The store's hash seed, agreed once per store (`SET NX`) when not known yet.
    fn ensure_seed(&self) -> Result<u64, Error> {
        if let Some(seed) = *self.seed.borrow() {
            return Ok(seed);
        }
        let key = seed_key(&self.settings.prefix);
        let (seed,): (String,) = self.with(|conn| {
            ::redis::pipe()
                .cmd("SET")
                .arg(&key)
                .arg(crate::hash::random_seed().to_string())
                .arg("NX")
                .ignore()
                .cmd("GET")
                .arg(&key)
                .query(conn)
        })?;
        let seed = seed.parse().map_err(|_| {
            self.fail(format!(
                "{key} does not hold a pattern-guard seed: choose another [store] prefix"
            ))
        })?;
        *self.seed.borrow_mut() = Some(seed);
        Ok(seed)
    }

    /// Hashes under the store's seed from now on (forgetting what `guard` held otherwise).
    fn agree(&self, guard: &Guard) -> Result<u64, Error> {
        let seed = self.ensure_seed()?;
        if guard.hash_seed() != seed {
            guard.adopt_seed(seed);
            self.view.clear();
        }
        Ok(seed)
    }

    /// A call of `op` on `actor` with the limits of its policy.
    fn limits(guard: &Guard, actor: &str, op: Op) -> Call<'static> {
        let (future_us, window_us, max_events, ttl_ms) = guard.log_limits(actor);
        Call {
            future_us,
            window_us,
            max_events,
            ttl_ms,
            ..Call::new(op, "")
        }
    }

    /// Calls the script for `actor`: the call `make` builds from the view (its last event, its
    /// checkpoint) and the seed; once more under the log's seed when it was hashed under another.
    fn call<'a>(
        &self,
        guard: &Guard,
        actor: &str,
        make: &dyn Fn(&Guard) -> Call<'a>,
    ) -> Result<Reply, Error> {
        for _ in 0..2 {
            let seed = self.agree(guard)?;
            let mut call: Call<'_> = make(guard);
            call.seed = Some(seed);
            let mut epoch = String::new();
            self.view.begin(guard, &mut call, &mut epoch);
            call.epoch = &epoch;
            let key = log::key(&self.settings.prefix, actor);
            let args = call.args();
            let items = self.with(|conn| {
                let mut inv = self.script.key(&key);
                inv.key(log::log_key(&key));
                for a in args {
                    inv.arg(a);
                }
                inv.invoke::<Vec<Vec<u8>>>(conn)
            });
            let parsed = items.and_then(|items| match Reply::parse(&items) {
                Ok(reply) => Ok(Ok(reply)),
                Err(why) => match log::other_seed(&why) {
                    Some(seed) => Ok(Err(seed)),
                    None => Err(self.fail(why)),
                },
            });
            match parsed {
                Ok(Ok(reply)) => return Ok(reply),
                Ok(Err(seed)) => {
                    self.view.end(actor);
                    *self.seed.borrow_mut() = Some(seed);
                }
                Err(e) => {
                    self.view.end(actor);
                    return Err(e);
                }
            }
        }
        Err(self.fail("the actor's log changed its hash seed twice in a row; try again".into()))
    }

    /// Replays `actor`'s log into `guard` (which then holds the actor as one guard fed every
    /// event would) and returns its leases and the notes named in `read`.
    pub fn load(&self, guard: &Guard, actor: &str, read: &[&str]) -> Result<Loaded, Error> {
        let reply = self.call(guard, actor, &|guard| Call {
            actor,
            read,
            ..Self::limits(guard, actor, Op::Fetch)
        })?;
        self.view.apply(guard, actor, &reply, None);
        Ok(loaded(reply))
    }

    /// Records `event` (stamped with the store's clock, or its own time when `explicit`) and
    /// assesses it, taking `lease` at the same time when given (refused, with nothing
    /// recorded, when `lease.max` are live), and keeps `notes` beside the history.
    pub fn check(
        &self,
        guard: &Guard,
        event: &Event<'_>,
        explicit: bool,
        lease: Option<LeaseRequest<'_>>,
        notes: &[(&str, &[u8])],
    ) -> Result<Checked, Error> {
        self.check_reading(guard, event, explicit, lease, notes, &[])
            .map(|(checked, _)| checked)
    }

    /// [`check`](SharedLog::check), also returning the notes named in `read` (in the order
    /// asked, after this call's own `notes` are written; empty when not kept): what a process
    /// keeps beside the history comes back with the check, in the same round trip.
    pub fn check_reading(
        &self,
        guard: &Guard,
        event: &Event<'_>,
        explicit: bool,
        lease: Option<LeaseRequest<'_>>,
        notes: &[(&str, &[u8])],
        read: &[&str],
    ) -> Result<(Checked, Vec<Vec<u8>>), Error> {
        let actor = event.actor();
        let reply = self.call(guard, actor, &|guard| Call {
            actor,
            at_us: explicit.then(|| to_nanos(event.timestamp()) / 1000),
            record: Some(guard.record_of(event)),
            lease: lease.map(|l| l.id),
            lease_max: lease.map_or(0, |l| l.max as u64),
            lease_us: lease.map_or(0, |l| l.length.as_micros() as u64),
            notes,
            read,
            ..Self::limits(guard, actor, Op::Check)
        })?;
        if !reply.admitted {
            self.view.apply(guard, actor, &reply, None);
            return Ok((Checked::Busy(reply.leases.len()), reply.notes));
        }
        let own = reply.seq;
        self.due
            .set(own.saturating_sub(reply.base) > CHECKPOINT_AFTER);
        let mine = self.view.apply(guard, actor, &reply, Some(own));
        let assessment = mine.unwrap_or_else(|| {
            guard
                .preview(actor, Some(from_nanos(reply.now_us * 1000)))
                .unwrap_or_default()
        });
        Ok((Checked::Assessed(assessment), reply.notes))
    }

    /// Whether the last check left many events past the log's checkpoint: a short-lived
    /// process should then call [`release`](SharedLog::release) (with nothing to give back) to
    /// send its own, once its decision is acted on.
    pub fn checkpoint_due(&self) -> bool {
        self.due.get()
    }

    /// Extends `lease_id`'s lease on `actor` by `length` from now. False when it had ended.
    pub fn renew(&self, actor: &str, lease_id: &str, length: Duration) -> Result<bool, Error> {
        let call = Call {
            lease: Some(lease_id),
            lease_us: length.as_micros() as u64,
            ttl_ms: length.as_millis() as u64 + 1000,
            ..Call::new(Op::Renew, actor)
        };
        let key = log::key(&self.settings.prefix, actor);
        let args = call.args();
        let items: Vec<Vec<u8>> = self.with(|conn| {
            let mut inv = self.script.key(&key);
            inv.key(log::log_key(&key));
            for a in args {
                inv.arg(a);
            }
            inv.invoke(conn)
        })?;
        let reply = Reply::parse(&items).map_err(|why| self.fail(why))?;
        Ok(reply.leases.iter().any(|l| l.id == lease_id))
    }

    /// Gives `lease_id`'s lease back (when given) and keeps `notes`, sending `guard`'s
    /// checkpoint of the actor so later loads replay less.
    pub fn release(
        &self,
        guard: &Guard,
        actor: &str,
        lease_id: Option<&str>,
        notes: &[(&str, &[u8])],
    ) -> Result<(), Error> {
        let reply = self.call(guard, actor, &|guard| Call {
            actor,
            lease: lease_id,
            notes,
            ..Self::limits(guard, actor, Op::Release)
        })?;
        self.view.end(actor);
        drop(reply);
        Ok(())
    }

    /// The keys of every actor's log under the prefix.
    pub fn keys(&self) -> Result<Vec<String>, Error> {
        let pattern = format!("{}{{*}}", escape_glob(&self.settings.prefix));
        let mut keys: Vec<String> = self.with(|conn| {
            let iter = ::redis::cmd("SCAN")
                .cursor_arg(0)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .clone()
                .iter::<String>(conn)?;
            iter.collect::<::redis::RedisResult<Vec<String>>>()
        })?;
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Replays the log at `key` into `guard`, for reading. A key that is not an actor's log
    /// (another program's, under the same prefix) loads as nothing.
    pub fn load_key(&self, guard: &Guard, key: &str, read: &[&str]) -> Result<Loaded, Error> {
        let actor: Option<String> = self.with(|conn| {
            ::redis::cmd("HGET")
                .arg(key)
                .arg("actor")
                .query::<Option<String>>(conn)
        })?;
        let prefix = &self.settings.prefix;
        let Some(actor) = actor.filter(|a| log::key(prefix, a) == key) else {
            return Ok(Loaded::default());
        };
        self.view.diverged(&actor);
        self.load(guard, &actor, read)
    }

    /// Forgets what the view holds of `actor`: the next call replays its whole log (after the
    /// guard was used without the store).
    pub fn forget(&self, actor: &str) {
        self.view.diverged(actor);
    }

    /// The key of `actor`'s log.
    pub fn key(&self, actor: &str) -> String {
        log::key(&self.settings.prefix, actor)
    }

    /// Deletes the log at `key`. True when there was one.
    pub fn remove(&self, key: &str) -> Result<bool, Error> {
        let n: i64 = self.with(|conn| {
            ::redis::cmd("DEL")
                .arg(key)
                .arg(log::log_key(key))
                .query(conn)
        })?;
        Ok(n > 0)
    }
}

fn loaded(reply: Reply) -> Loaded {
    Loaded {
        leases: reply.leases,
        notes: reply.notes,
        actor: reply.actor,
        now: from_nanos(reply.now_us.saturating_mul(1000)),
    }
}

/// `text` with Redis glob characters escaped.
fn escape_glob(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
