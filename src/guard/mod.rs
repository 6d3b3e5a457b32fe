//! The guard: observe an event, read the detectors, combine, escalate, decide.
//!
//! ```text
//! Event -> observe (sliding window) -> detectors -> risk -> decision (with escalation)
//! ```
//!
//! A [`Guard`] is `Send + Sync`: share it (`Arc<Guard>` or a `static`) and check from any number of
//! threads; checks on actors in different lanes never wait for each other (see `store`).
//!
//! # Time
//! Engine time is the event's timestamp, in nanoseconds. Per actor:
//! - an event older than the actor's newest is taken as arriving at the newest time (gap 0): late
//!   delivery is neither credited nor allowed to reorder the window;
//! - events with equal timestamps are distinct events with a gap of 0;
//! - a timestamp more than `future_tolerance_secs` ahead of the guard's [`Clock`] is taken as
//!   clock + tolerance, so one wild timestamp cannot expire a window or lock an actor out;
//! - timestamps before 1970 count as 1970, after 2554 as 2554.
//!
//! One approximation: an actor whose window has passed (and whose escalation has cooled down) may
//! be dropped by a sweep; a *late* event for it, stamped before the sweep, then starts a fresh
//! window instead of joining the events that had expired. Events stamped at or after the clock are
//! never affected.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::check::{observe, Outcome, Reasons};
use crate::clock::{from_nanos, to_nanos, Clock, SystemClock};
use crate::config::Config;
use crate::decision::{Assessment, Decision};
use crate::error::Error;
use crate::event::Event;
use crate::hash::{event_hashes, random_seed, weight_micros, ActorKey};
use crate::policy::Policy;
use crate::store::{ActorState, Store};
use crate::window::Record;

#[cfg(feature = "redis")]
mod log_view;
mod memory;

/// The behaviour guard. See the [crate documentation](crate) for an overview.
pub struct Guard {
    config: Config,
    default_policy: Arc<Policy>,
    actor_policies: HashMap<String, Arc<Policy>>,
    clock: Arc<dyn Clock>,
    store: Store,
    seed: AtomicU64,
    /// The latest clock reading: the clock is read again only for an event stamped beyond it plus
    /// the smallest `future_tolerance_secs`, so everyday checks never pay for a clock read.
    clock_floor: AtomicU64,
    /// The smallest `future_tolerance_secs` of any actor, nanoseconds.
    min_future_ns: u64,
    /// The metrics handles, registered at the first check (feature `metrics`).
    #[cfg(feature = "metrics")]
    metrics: std::sync::OnceLock<crate::metrics::Handles>,
    /// Actors with series of their own (feature `metrics`).
    #[cfg(feature = "metrics")]
    metrics_actors: Vec<String>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Default for Guard {
    fn default() -> Self {
        Guard::new()
    }
}

/// Figures about what a guard holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Actors tracked now.
    pub actors: usize,
    /// Events held in all windows now.
    pub events: usize,
    /// Actors evicted because the actor cap was reached, since the guard was built (restoring,
    /// merging and resetting do not clear this count).
    pub evicted: u64,
    /// Heap bytes held by the store (tables, windows, ids), not counting allocator overhead.
    pub heap_bytes: usize,
}

/// What the guard remembers of one actor, without recording anything.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ActorStatus {
    /// The actor id as stored (long ids are shortened, see [`MAX_ACTOR_BYTES`](crate::MAX_ACTOR_BYTES)).
    pub actor: String,
    /// Events in the window at the time asked.
    pub events: usize,
    /// Engine time of the newest event.
    pub last_seen: SystemTime,
    /// Escalation level at the time asked.
    pub escalation_level: u8,
    /// How long until the escalation has fully cooled down (zero when it has).
    pub cool_down_in: Duration,
    /// How long until the whole window has passed.
    pub window_clears_in: Duration,
    /// What the baseline detector has learned of the actor, when it is on for it.
    pub learned_rate: Option<LearnedRate>,
}

/// An actor's normal rate as the baseline detector learned it (as of its newest event).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearnedRate {
    /// Events per bucket, on average.
    pub mean: f64,
    /// The spread counts are measured in (learned, at least `sqrt(mean)` and 1).
    pub spread: f64,
    /// Buckets learned.
    pub buckets: u64,
    /// The bucket's length (`baseline_bucket_secs`).
    pub bucket: Duration,
}

impl Guard {
    /// A guard with the documented defaults and the system clock.
    pub fn new() -> Guard {
        Guard::build(Config::default())
    }

    /// A guard from a validated configuration.
    pub fn from_config(config: Config) -> Result<Guard, Error> {
        config.validate()?;
        Ok(Guard::build(config))
    }

    /// A guard from a TOML configuration file.
    pub fn from_config_path(path: impl AsRef<Path>) -> Result<Guard, Error> {
        Ok(Guard::build(Config::from_path(path)?))
    }

    /// A guard from TOML text.
    pub fn from_toml_str(text: &str) -> Result<Guard, Error> {
        Ok(Guard::build(Config::from_toml_str(text)?))
    }

    pub(crate) fn build(config: Config) -> Guard {
        let default_policy = Arc::new(Policy::new(config.guard.clone()));
        let actor_policies: HashMap<String, Arc<Policy>> = config
            .actors
            .iter()
            .map(|(id, o)| (id.clone(), Arc::new(Policy::new(o.apply_to(&config.guard)))))
            .collect();
        let min_future_ns = actor_policies
            .values()
            .map(|p: &Arc<Policy>| p.future_ns)
            .fold(default_policy.future_ns, u64::min);
        Guard {
            store: Store::new(config.max_actors),
            config,
            default_policy,
            actor_policies,
            clock: Arc::new(SystemClock),
            seed: AtomicU64::new(random_seed()),
            clock_floor: AtomicU64::new(to_nanos(SystemTime::now())),
            min_future_ns,
            #[cfg(feature = "metrics")]
            metrics: std::sync::OnceLock::new(),
            #[cfg(feature = "metrics")]
            metrics_actors: Vec::new(),
        }
    }

    /// The same guard, counting these actors' decisions in a series of their own
    /// (`pattern_guard_actor_decisions_total{actor="..."}`; feature `metrics`). Name only a few
    /// known actors (a cron job, a partner): each is one more series in every scrape.
    #[cfg(feature = "metrics")]
    pub fn with_metrics_actors<I, S>(mut self, actors: I) -> Guard
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.metrics_actors = actors.into_iter().map(Into::into).collect();
        self.metrics = std::sync::OnceLock::new();
        self
    }

    /// One check's metrics: in line (a few tests and one increment), anything rarer out of line.
    #[cfg(feature = "metrics")]
    #[inline]
    fn record_metrics(&self, actor: &str, outcome: &Outcome) {
        match self.metrics.get() {
            Some(handles) => handles.check(actor, outcome),
            // Out of line, so that a check after the first saves no registers for it.
            None => self.first_metrics(actor, outcome),
        }
    }

    /// The first check's metrics: registers the handles, then records the check.
    #[cfg(feature = "metrics")]
    #[cold]
    #[inline(never)]
    fn first_metrics(&self, actor: &str, outcome: &Outcome) {
        self.metrics().check(actor, outcome);
    }

    #[cfg(feature = "metrics")]
    fn metrics(&self) -> &crate::metrics::Handles {
        self.metrics
            .get_or_init(|| crate::metrics::Handles::new(&self.metrics_actors))
    }

    /// The same guard reading time from `clock` (a [`ManualClock`](crate::ManualClock) in tests).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Guard {
        self.clock_floor = AtomicU64::new(to_nanos(clock.now()));
        self.clock = Arc::new(clock);
        self
    }

    /// A clock reading good enough to cap an event stamped `ts`: the cached floor when `ts` is
    /// within every actor's tolerance of it (the cap cannot apply), else a fresh reading.
    ///
    /// Clocks are taken not to step back; if one does, timestamps are capped relative to the
    /// latest reading instead.
    fn clock_for(&self, ts: u64) -> u64 {
        let floor = self.clock_floor.load(Ordering::Relaxed);
        if ts <= floor.saturating_add(self.min_future_ns) {
            return floor;
        }
        let now = to_nanos(self.clock.now());
        self.clock_floor.fetch_max(now, Ordering::Relaxed);
        now.max(floor)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The guard's clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// An event stamped with the guard's clock.
    pub fn event<'a>(
        &self,
        actor: impl Into<std::borrow::Cow<'a, str>>,
        action: impl Into<std::borrow::Cow<'a, str>>,
        target: impl Into<std::borrow::Cow<'a, str>>,
    ) -> Event<'a> {
        Event::new(actor, action, target, self.clock.now())
    }

    /// Records the event and recommends a decision.
    pub fn check(&self, event: &Event<'_>) -> Decision {
        self.evaluate(event, false).decision
    }

    /// Records the event; the decision and the risk it was made from (escalation included).
    pub fn check_with_risk(&self, event: &Event<'_>) -> (Decision, f64) {
        let o = self.evaluate(event, false);
        (o.decision, o.risk)
    }

    /// Records the event; the decision with everything that led to it.
    pub fn assess(&self, event: &Event<'_>) -> Assessment {
        self.evaluate(event, true).into_assessment()
    }

    /// [`assess`](Guard::assess) into `out`, reusing its buffer: a loop that assesses many
    /// events (a replay, a log follower) allocates nothing per event.
    ///
    /// ```
    /// # use pattern_guard::{Assessment, Event, Guard};
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// let (reused, fresh) = (Guard::new(), Guard::new());
    /// let mut a = Assessment::default();
    /// for i in 0..3 {
    ///     let event = Event::new("user:1", "GET", "/", UNIX_EPOCH + Duration::from_secs(i));
    ///     reused.assess_into(&event, &mut a);
    ///     assert_eq!(a, fresh.assess(&event));
    /// }
    /// ```
    pub fn assess_into(&self, event: &Event<'_>, out: &mut Assessment) {
        self.evaluate(event, true).write_into(out);
    }

    fn policy_for(&self, actor: &str) -> Arc<Policy> {
        self.actor_policies
            .get(actor)
            .unwrap_or(&self.default_policy)
            .clone()
    }

    /// `explain`: also work out `retry_after` for a block, which reads deeper into the window.
    pub(crate) fn evaluate(&self, event: &Event<'_>, explain: bool) -> Outcome {
        let actor = ActorKey::new(event.actor(), self.seed());
        let (record, clock_now) = self.record_and_clock(event);
        let churn = |change, evicted| self.actors_churned(change, evicted);
        let mut spot = self.store.spot(
            actor.hash,
            &actor.id,
            record.ts,
            &*self.clock,
            || self.policy_for(event.actor()),
            &churn,
        );
        let outcome = observe(spot.state(), record, clock_now, explain);
        drop(spot);
        self.report(event, &outcome);
        outcome
    }

    /// An event as the window keeps it (before a check caps its time).
    pub(crate) fn record_of(&self, event: &Event<'_>) -> Record {
        let (key, target) = event_hashes(event.action(), event.target(), self.seed());
        Record {
            ts: to_nanos(event.timestamp()),
            key,
            target,
            weight: weight_micros(event.weight()),
        }
    }

    /// [`Guard::record_of`], and the clock reading its timestamp is capped by: worked out
    /// before the lane is locked, so the lock is held for the check alone.
    fn record_and_clock(&self, event: &Event<'_>) -> (Record, u64) {
        let record = self.record_of(event);
        (record, self.clock_for(record.ts))
    }

    /// Runs `f` on `id`'s state under its lane's lock, created with `policy` when new: the
    /// store's `Store::spot` with this guard's clock, and the actors it adds, sweeps or evicts
    /// reported to the metrics.
    fn with_actor<R>(
        &self,
        hash: u64,
        id: &str,
        now: u64,
        policy: impl FnOnce() -> Arc<Policy>,
        f: impl FnOnce(&mut ActorState) -> R,
    ) -> R {
        let mut spot = self
            .store
            .spot(hash, id, now, &*self.clock, policy, &|change, evicted| {
                self.actors_churned(change, evicted);
            });
        f(spot.state())
    }

    /// What a check tells the world once its lane is unlocked: metrics, and a log line for
    /// anything but allow. In line: for an allowed check it is a few tests and one increment.
    #[cfg_attr(not(feature = "metrics"), allow(clippy::unused_self))]
    #[inline]
    fn report(&self, event: &Event<'_>, outcome: &Outcome) {
        #[cfg(feature = "metrics")]
        self.record_metrics(event.actor(), outcome);
        if outcome.decision != Decision::Allow {
            Self::log_unusual(event, outcome);
        }
    }

    /// The log line of a check that was not allowed (out of line: most checks are allowed).
    #[cold]
    #[inline(never)]
    fn log_unusual(event: &Event<'_>, outcome: &Outcome) {
        tracing::info!(
            actor = event.actor(),
            action = event.action(),
            target = event.target(),
            decision = %outcome.decision,
            risk = outcome.risk,
            escalation_level = outcome.level,
            reasons = %Reasons(&outcome.readings),
            metadata = ?event.metadata(),
            "unusual behaviour"
        );
    }

    /// [`assess_into`](Guard::assess_into) for each of `events` in order, into `out` (resized to
    /// `events.len()`, its buffers reused): the same assessments, each event recorded before the
    /// next is checked, for a loop with many events at hand (a replay, a queue consumer).
    ///
    /// Faster when the events come from many actors: the shards they fall in are locked once
    /// for the whole batch, and every actor's state is read from memory before the first check,
    /// so the waits for memory overlap instead of following one another (a replay of 65,536
    /// live actors in batches of 64 takes a third less time; docs/ENGINE.md, "Batches"). Checks
    /// by other threads on those shards wait until the batch is done: keep batches to a few
    /// dozen events.
    ///
    /// ```
    /// # use pattern_guard::{Assessment, Event, Guard};
    /// # use std::time::{Duration, UNIX_EPOCH};
    /// let (batched, one_by_one) = (Guard::new(), Guard::new());
    /// let events: Vec<Event> = (0..8)
    ///     .map(|i| Event::new(["a", "b"][i % 2], "GET", "/", UNIX_EPOCH + Duration::from_secs(i as u64)))
    ///     .collect();
    /// let mut out = Vec::new();
    /// batched.assess_batch(&events, &mut out);
    /// for (event, a) in events.iter().zip(&out) {
    ///     assert_eq!(*a, one_by_one.assess(event));
    /// }
    /// ```
    pub fn assess_batch(&self, events: &[Event<'_>], out: &mut Vec<Assessment>) {
        out.truncate(events.len());
        out.resize_with(events.len(), Assessment::default);
        let seed = self.seed();
        let actors: Vec<(ActorKey<'_>, Record, u64)> = events
            .iter()
            .map(|e| {
                let (record, clock_now) = self.record_and_clock(e);
                (ActorKey::new(e.actor(), seed), record, clock_now)
            })
            .collect();
        let mut shards = self.store.lock_for(actors.iter().map(|(a, ..)| a.hash));
        // Every actor's lines are read before the first check, in passes of loads that do not
        // depend on each other (the tables' control bytes; the slots they point to; the slots'
        // other lines and the windows' records), so the core has many in flight at once instead
        // of one actor's chain at a time; the checks below then find their lines in cache.
        let slots: Vec<_> = actors
            .iter()
            .filter_map(|(a, ..)| shards.candidate(a.hash))
            .collect();
        for slot in &slots {
            std::hint::black_box(slot.warm_head());
        }
        for slot in &slots {
            std::hint::black_box(slot.warm_rest());
        }
        drop(slots);
        let outcomes: Vec<Outcome> = events
            .iter()
            .zip(&actors)
            .map(|(event, (actor, record, clock_now))| {
                let state = shards.actor(
                    actor.hash,
                    &actor.id,
                    record.ts,
                    &*self.clock,
                    || self.policy_for(event.actor()),
                    &|change, evicted| self.actors_churned(change, evicted),
                );
                observe(state, *record, *clock_now, true)
            })
            .collect();
        drop(shards);
        for ((event, outcome), out) in events.iter().zip(outcomes).zip(out) {
            self.report(event, &outcome);
            outcome.write_into(out);
        }
    }

    /// What `actor`'s next event would get if it repeated its latest event (same action and
    /// target, weight 1) at `at` (the clock's time when `None`). Records nothing: the same pipeline
    /// runs on a copy of the actor's memory, so a preview and a real check cannot disagree.
    /// `None` when the actor is not tracked or holds no event.
    pub fn preview(&self, actor: &str, at: Option<SystemTime>) -> Option<Assessment> {
        let at = to_nanos(at.unwrap_or_else(|| self.clock.now()));
        let key = ActorKey::new(actor, self.seed());
        let mut state = self.store.find(key.hash, &key.id, ActorState::clone)?;
        let newest = state.window.newest_record()?;
        let record = Record {
            ts: at,
            weight: weight_micros(1.0),
            ..newest
        };
        // `at` is the time asked about: no future cap applies to it.
        Some(observe(&mut state, record, at, true).into_assessment())
    }

    /// What the guard remembers of `actor` as of `now` (the clock's time when `None`); records
    /// nothing. `None` when the actor is not tracked.
    pub fn status(&self, actor: &str, now: Option<SystemTime>) -> Option<ActorStatus> {
        let now = to_nanos(now.unwrap_or_else(|| self.clock.now()));
        let key = ActorKey::new(actor, self.seed());
        self.store
            .find(key.hash, &key.id, |s| actor_status(&key.id, s, now))
    }

    /// The status of every tracked actor as of `now` (the clock's time when `None`).
    pub fn actors(&self, now: Option<SystemTime>) -> Vec<ActorStatus> {
        let now = to_nanos(now.unwrap_or_else(|| self.clock.now()));
        let mut all: Vec<ActorStatus> = self
            .store
            .shards()
            .flat_map(|shard| {
                shard
                    .iter()
                    .map(|slot| actor_status(&slot.id.to_string(), &slot.state, now))
                    .collect::<Vec<_>>()
            })
            .collect();
        all.sort_by(|a, b| a.actor.cmp(&b.actor));
        all
    }

    /// Forgets one actor: its window and its escalation. True when it was tracked.
    pub fn reset(&self, actor: &str) -> bool {
        let key = ActorKey::new(actor, self.seed());
        let removed = self.store.remove(key.hash, &key.id);
        if removed {
            self.actors_churned(-1, 0);
        }
        removed
    }

    /// Forgets every actor.
    pub fn reset_all(&self) {
        let mut removed = 0;
        for mut shard in self.store.shards() {
            removed += shard.len();
            shard.clear();
        }
        self.actors_churned(-(removed as i64), 0);
    }

    /// Keeps `pattern_guard_actors` and `pattern_guard_actors_evicted_total` right: actors came
    /// (positive `change`) or went, `evicted` of them at the cap. The store calls it from where
    /// that happens (`Store::spot`), and `reset` and `reset_all` do.
    #[allow(clippy::unused_self)]
    fn actors_churned(&self, change: i64, evicted: u64) {
        #[cfg(feature = "metrics")]
        if change != 0 || evicted != 0 {
            self.metrics().actors(change, evicted);
        }
        #[cfg(not(feature = "metrics"))]
        let _ = (change, evicted);
    }

    /// Figures about what the guard holds.
    pub fn stats(&self) -> Stats {
        let mut stats = Stats {
            actors: 0,
            events: 0,
            evicted: 0,
            heap_bytes: 0,
        };
        for shard in self.store.shards() {
            stats.actors += shard.len();
            stats.events += shard.iter().map(|s| s.state.window.len()).sum::<usize>();
            stats.evicted += shard.evicted();
            stats.heap_bytes += shard.heap_bytes();
        }
        stats
    }

    fn seed(&self) -> u64 {
        self.seed.load(Ordering::Relaxed)
    }
}

fn actor_status(id: &str, state: &ActorState, now: u64) -> ActorStatus {
    let policy = &state.policy;
    let events = state
        .window
        .records()
        .filter(|r| r.ts.saturating_add(policy.window_ns) > now)
        .count();
    let mut escalation = state.escalation;
    escalation.cool_down(now, policy);
    let levels_left = u64::from(escalation.level(policy));
    let cool_down_at = if escalation.strikes == 0 {
        now
    } else {
        let periods = u64::from(escalation.strikes)
            .div_ceil(u64::from(policy.strikes_per_level))
            .max(levels_left);
        escalation
            .since
            .saturating_add(periods.saturating_mul(policy.cooldown_ns))
    };
    let clears_at = state
        .window
        .newest_ts()
        .map_or(now, |ts| ts.saturating_add(policy.window_ns));
    ActorStatus {
        actor: id.to_string(),
        events,
        last_seen: from_nanos(state.last_seen()),
        escalation_level: escalation.level(policy),
        cool_down_in: Duration::from_nanos(cool_down_at.saturating_sub(now)),
        window_clears_in: Duration::from_nanos(clears_at.saturating_sub(now)),
        learned_rate: (policy.baseline_max_z > 0.0).then(|| {
            let b = state.baseline.figures();
            LearnedRate {
                mean: b.mean,
                spread: crate::baseline::spread(b.mean, b.var),
                buckets: b.samples,
                bucket: Duration::from_nanos(policy.baseline_bucket.get()),
            }
        }),
    }
}
