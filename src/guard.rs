//! The guard: observe an event, read the detectors, combine, escalate, decide.
//!
//! ```text
//! Event -> observe (sliding window) -> detectors -> risk -> decision (with escalation)
//! ```
//!
//! A [`Guard`] is `Send + Sync`: share it (`Arc<Guard>` or a `static`) and check from any number of
//! threads; checks on actors in different shards never wait for each other.
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

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::clock::{from_nanos, to_nanos, Clock, SystemClock};
use crate::config::Config;
use crate::decision::{Assessment, Decision, Detector, Reading};
use crate::detectors::{self, ratio_risk, Policy};
use crate::error::Error;
use crate::escalation::Escalation;
use crate::event::Event;
use crate::snapshot::ActorSnapshot;
use crate::store::{ActorState, Store};
use crate::window::{Record, TARGET_BIT};

/// Actor ids longer than this many bytes are stored as a prefix plus a hash of the whole id.
pub const MAX_ACTOR_BYTES: usize = 256;

/// Largest weight one event can carry; larger weights count as this.
pub const MAX_EVENT_WEIGHT: f64 = 1e12;

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
    /// The actor id as stored (long ids are shortened, see [`MAX_ACTOR_BYTES`]).
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
}

struct Outcome {
    decision: Decision,
    risk: f64,
    raw_risk: f64,
    level: u8,
    readings: [Reading; 7],
    /// Only filled in when asked to explain.
    retry_after: Option<Duration>,
    at: u64,
    /// Which readings the actor's policy reports (in [`Detector::ALL`] order); only filled in
    /// when asked to explain, so a plain check never computes it.
    reported: [bool; 7],
}

impl Outcome {
    fn into_assessment(self) -> Assessment {
        Assessment {
            decision: self.decision,
            risk: self.risk,
            raw_risk: self.raw_risk,
            escalation_level: self.level,
            readings: self
                .readings
                .into_iter()
                .zip(self.reported)
                .filter_map(|(r, shown)| shown.then_some(r))
                .collect(),
            retry_after: self.retry_after,
            at: from_nanos(self.at),
        }
    }
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

    fn build(config: Config) -> Guard {
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
        }
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

    fn policy_for(&self, actor: &str) -> Arc<Policy> {
        self.actor_policies
            .get(actor)
            .unwrap_or(&self.default_policy)
            .clone()
    }

    /// `explain`: also work out `retry_after` for a block, which reads deeper into the window.
    fn evaluate(&self, event: &Event<'_>, explain: bool) -> Outcome {
        let seed = self.seed.load(Ordering::Relaxed);
        let id = bounded_id(event.actor(), seed);
        let actor_hash = xxh3_64_with_seed(id.as_bytes(), seed);
        let (key, target) = event_hashes(event.action(), event.target(), seed);
        let record = Record {
            ts: to_nanos(event.timestamp()),
            key,
            target,
            weight: weight_micros(event.weight()),
        };
        let clock_now = self.clock_for(record.ts);
        let mut shard = self.store.shard(actor_hash);
        let state = shard.actor(actor_hash, &id, record.ts, &*self.clock, || {
            self.policy_for(event.actor())
        });
        let outcome = observe(state, record, clock_now, explain);
        drop(shard);
        if outcome.decision != Decision::Allow {
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
        outcome
    }

    /// What `actor`'s next event would get if it repeated its latest event (same action and
    /// target, weight 1) at `at` (the clock's time when `None`). Records nothing: the same pipeline
    /// runs on a copy of the actor's memory, so a preview and a real check cannot disagree.
    /// `None` when the actor is not tracked or holds no event.
    pub fn preview(&self, actor: &str, at: Option<SystemTime>) -> Option<Assessment> {
        let at = to_nanos(at.unwrap_or_else(|| self.clock.now()));
        let seed = self.seed.load(Ordering::Relaxed);
        let id = bounded_id(actor, seed);
        let hash = xxh3_64_with_seed(id.as_bytes(), seed);
        let mut state = self.store.shard(hash).get(hash, &id)?.clone();
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
        let seed = self.seed.load(Ordering::Relaxed);
        let id = bounded_id(actor, seed);
        let hash = xxh3_64_with_seed(id.as_bytes(), seed);
        let shard = self.store.shard(hash);
        shard.get(hash, &id).map(|s| actor_status(&id, s, now))
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
        let seed = self.seed.load(Ordering::Relaxed);
        let id = bounded_id(actor, seed);
        let hash = xxh3_64_with_seed(id.as_bytes(), seed);
        self.store.shard(hash).remove(hash, &id)
    }

    /// Forgets every actor.
    pub fn reset_all(&self) {
        for mut shard in self.store.shards() {
            shard.clear();
        }
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
            stats.evicted += shard.evicted;
            stats.heap_bytes += shard.heap_bytes();
        }
        stats
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed.load(Ordering::Relaxed)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Runs `f` on `actor`'s memory (with its id as stored); `None` when it is not tracked.
    pub(crate) fn with_actor<R>(
        &self,
        actor: &str,
        f: impl FnOnce(&str, &ActorState) -> R,
    ) -> Option<R> {
        let seed = self.seed();
        let id = bounded_id(actor, seed);
        let hash = xxh3_64_with_seed(id.as_bytes(), seed);
        let shard = self.store.shard(hash);
        shard.get(hash, &id).map(|state| f(&id, state))
    }

    /// Replaces the memory with a snapshot's actors, under its hash seed. Every actor's memory
    /// is built before anything is replaced, in one decoding pass: a damaged snapshot leaves the
    /// memory as it was.
    pub(crate) fn replace_memory(&self, seed: u64, actors: &[ActorSnapshot]) -> Result<(), String> {
        let mut built = Vec::with_capacity(actors.len());
        for a in actors {
            let mut state = ActorState::new(self.policy_for(&a.actor));
            let policy = Arc::clone(&state.policy);
            state.window.reserve(a.events.min(policy.max_events));
            a.decode_with(|records| state.window.extend(records, &policy))?;
            state.escalation = a.escalation();
            state.window.set_last_ts(a.last_seen);
            built.push((a, state));
        }
        self.reset_all();
        self.set_seed(seed);
        for (a, state) in built {
            let hash = xxh3_64_with_seed(a.actor.as_bytes(), seed);
            let policy = Arc::clone(&state.policy);
            let mut shard = self.store.shard(hash);
            *shard.actor(hash, &a.actor, a.last_seen, &*self.clock, || policy) = state;
        }
        Ok(())
    }

    pub(crate) fn set_seed(&self, seed: u64) {
        self.seed.store(seed, Ordering::Relaxed);
    }

    /// Appends validated snapshot actors' events to their windows (replayed like checks) and
    /// takes their escalation and last-seen time.
    pub(crate) fn merge_memory(&self, actors: &[ActorSnapshot]) {
        let seed = self.seed();
        for a in actors {
            let hash = xxh3_64_with_seed(a.actor.as_bytes(), seed);
            let mut shard = self.store.shard(hash);
            let state = shard.actor(hash, &a.actor, a.last_seen, &*self.clock, || {
                self.policy_for(&a.actor)
            });
            let policy = Arc::clone(&state.policy);
            // Validated beforehand: decoding cannot fail here.
            let _ = a.decode_with(|records| state.window.extend(records, &policy));
            state.escalation = a.escalation();
            state.window.set_last_ts(a.last_seen);
        }
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
    }
}

/// The per-actor heart of a check, under the shard lock.
fn observe(state: &mut ActorState, mut record: Record, clock_now: u64, explain: bool) -> Outcome {
    // Borrow the fields apart: cloning the policy Arc would bounce its shared refcount between
    // every thread on every check.
    let ActorState {
        policy,
        window,
        escalation,
    } = state;
    record.ts = record.ts.min(clock_now.saturating_add(policy.future_ns));
    if let Some(newest) = window.newest_ts() {
        record.ts = record.ts.max(newest);
    }
    let now = record.ts;
    window.expire(now, policy);
    let key_count = window.push(record, policy);

    let readings = detectors::readings(policy, &window.figures(key_count));
    let raw_risk = detectors::combine(policy, &readings);
    escalation.cool_down(now, policy);
    let level = escalation.level(policy);
    let risk = Escalation::raise(raw_risk, level, policy);
    let decision = policy.band(risk, level);
    if decision != Decision::Allow {
        escalation.strike(now, policy);
    }
    let retry_after = match decision {
        Decision::Delay(d) => Some(d),
        Decision::Block if explain => Some(block_retry_after(state, &readings, now)),
        _ => None,
    };
    let reported = if explain {
        Detector::ALL.map(|d| state.policy.enabled(d))
    } else {
        [false; 7]
    };
    Outcome {
        decision,
        risk,
        raw_risk,
        level,
        readings,
        retry_after,
        at: now,
        reported,
    }
}

/// How long until the next event of this actor would not be blocked, if it sends nothing meanwhile.
///
/// The next event is not blocked when its raw risk is below `allow_below` or below
/// `delay_below - level * step`. When only the burst detector stands at or above that, the answer
/// is exact: the time at which enough of the window's oldest events have expired. Otherwise it is
/// the time at which the whole window has passed, an upper bound.
fn block_retry_after(state: &ActorState, readings: &[Reading; 7], now: u64) -> Duration {
    let policy = &state.policy;
    let level = state.escalation.level(policy);
    let threshold = policy
        .allow_below()
        .max(policy.delay_below() - f64::from(level) * policy.escalation_step);
    let window_passes = state
        .window
        .newest_ts()
        .map_or(now, |ts| ts.saturating_add(policy.window_ns));
    let burst_only = policy.combine() == crate::config::Combine::Max
        && readings
            .iter()
            .all(|r| r.detector == Detector::Burst || r.risk < threshold);
    let exact = if burst_only && threshold > 0.0 {
        let max = policy.burst_max();
        // Largest count (the next event included) whose burst risk is below the threshold.
        let mut allowed = (max * (1.0 + threshold)).floor() as u64;
        while allowed > 0 && ratio_risk(allowed as f64, max) >= threshold {
            allowed -= 1;
        }
        while ratio_risk((allowed + 1) as f64, max) < threshold {
            allowed += 1;
        }
        let may_remain = usize::try_from(allowed.saturating_sub(1)).unwrap_or(usize::MAX);
        let len = state.window.len();
        if len <= may_remain {
            Some(now)
        } else {
            state
                .window
                .get(len - may_remain - 1)
                .map(|r| r.ts.saturating_add(policy.window_ns))
        }
    } else {
        None
    };
    Duration::from_nanos(exact.unwrap_or(window_passes).saturating_sub(now))
}

struct Reasons<'a>(&'a [Reading; 7]);

impl fmt::Display for Reasons<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for r in self.0.iter().filter(|r| r.fired()) {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Keyed hashes of (action, target) and of target. The target is hashed once; the key mixes it
/// with the action's hash (a 64-bit finalizer, so distinct pairs collide with probability 2^-63).
pub(crate) fn event_hashes(action: &str, target: &str, seed: u64) -> (u64, u64) {
    let target_h = xxh3_64_with_seed(target.as_bytes(), seed ^ 0xc2b2_ae3d_27d4_eb4f);
    let action_h = xxh3_64_with_seed(action.as_bytes(), seed ^ 0x9e37_79b9_7f4a_7c15);
    let key = mix64(action_h ^ target_h.rotate_left(29).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (key & !TARGET_BIT, target_h | TARGET_BIT)
}

/// The murmur3 64-bit finalizer: every input bit affects every output bit.
fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Weight in millionths; NaN, infinite and negative weights count as 0.
pub(crate) fn weight_micros(weight: f64) -> u64 {
    if weight.is_nan() || weight <= 0.0 {
        return 0;
    }
    (weight.min(MAX_EVENT_WEIGHT) * 1e6).round() as u64
}

/// The id an actor is stored under: itself, or for ids over [`MAX_ACTOR_BYTES`], a prefix and a
/// hash of the whole, so a megabyte-long id costs a few hundred bytes and stays distinct.
pub(crate) fn bounded_id(actor: &str, seed: u64) -> std::borrow::Cow<'_, str> {
    if actor.len() <= MAX_ACTOR_BYTES {
        return std::borrow::Cow::Borrowed(actor);
    }
    let mut end = MAX_ACTOR_BYTES - 24;
    while !actor.is_char_boundary(end) {
        end -= 1;
    }
    let hash = xxh3_64_with_seed(actor.as_bytes(), seed);
    std::borrow::Cow::Owned(format!("{}…#{hash:016x}", &actor[..end]))
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(to_nanos(SystemTime::now()));
    h.finish()
}
