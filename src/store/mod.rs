//! The actor store: every tracked actor's window and escalation, sharded so that checks on
//! different actors run in parallel, and laned so that threads checking different actors do not
//! write the same memory.
//!
//! Actors are spread over up to 64 shards by a keyed hash of their id. A shard is split into
//! lanes, one for each core the machine has (at most 8): each lane is a hash table behind its own
//! mutex, padded to its own cache lines. An actor lives in exactly one lane of its shard, the
//! lane of the thread that first checked it, and a shard's hints (one byte per hash bucket,
//! written when an actor is added) say which. A check reads the hint, locks that one lane for a
//! few hundred nanoseconds, and never anything else; a thread whose checks keep finding their
//! actors in one lane goes there without reading the hint ([`usual`]); [`placement`] holds those
//! choices, this module the shards, their locks and the ways in. So threads that each
//! check their own actors (a consumer per partition, a worker per connection, the engine bench's
//! threads) each write only their own lanes' lines, and never wait for a cache line the other
//! core wrote; checks of one actor from any thread still meet in its one lane, and cost what
//! they did before lanes.
//!
//! Rules that keep an actor in one lane:
//! - it is added only while every lane of its shard is locked (in ascending order), after a
//!   search of all of them; it never moves to another lane;
//! - a hint is only a hint: a check that misses in the hinted lane (two actors whose hashes share
//!   a hint byte, or an actor forgotten since) looks in the shard's other lanes, one lock at a
//!   time, before adding it.
//!
//! Memory stays bounded two ways:
//! - **expiry**: actors whose window has passed and whose escalation has cooled down are dropped by
//!   a sweep that each lane runs after four times as many checks as it holds actors (at least
//!   64), which costs O(1) amortized per check;
//! - **the actor cap** (`max_actors`, split evenly over the shards): a new actor arriving at a full
//!   shard first triggers a sweep of its lanes; if that frees less than 1/16 of the shard, the
//!   least recently active actors of the shard (all its lanes) are evicted until 1/16 is free.
//!   Eviction is therefore by shard, not global, and in batches: the cap holds exactly, and the
//!   actors evicted are the least recently active of their shard.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock::Clock;
use crate::policy::Policy;

mod held;
mod lane;
mod placement;
mod slot;
mod usual;

pub(crate) use held::{Held, Locked};
use lane::Lane;
use placement::{Placement, Way};
pub(crate) use slot::{ActorState, Slot};

/// A lane's mutex on its own cache lines, so lanes used by different threads do not slow each
/// other (128 bytes: the adjacent-line prefetcher fetches lines in pairs).
#[repr(align(128))]
struct Padded(Mutex<Lane>);

/// The most lanes a shard has, whatever the core count: adding an actor locks them all.
const MAX_LANES: usize = 8;

/// All shards.
pub(crate) struct Store {
    /// Shard `s`'s lanes are `lanes[s << lane_bits..][..placement.lanes()]`.
    lanes: Box<[Padded]>,
    lane_bits: u32,
    /// Which lane each actor is in, and which a thread adds to.
    placement: Placement,
    shard_mask: usize,
    /// Actors per shard.
    cap: usize,
}

impl Store {
    /// A store that holds at most `max_actors` actors, with a lane per core (at most 8).
    pub fn new(max_actors: u64) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::with_lanes(max_actors, cores, None)
    }

    /// [`Store::new`] with `lanes` lanes a shard (1 to 8, rounded down to a power of two) and,
    /// for tests, `hints` hint bytes a shard (rounded up to a power of two; `None`: the shard's
    /// cap, 64 to 65,536).
    pub(crate) fn with_lanes(max_actors: u64, lanes: usize, hints: Option<usize>) -> Self {
        let max_actors = usize::try_from(max_actors).unwrap_or(usize::MAX).max(1);
        // Small caps get few shards, so the cap is not split into slivers.
        let shards = (max_actors / 1024).clamp(1, 64).next_power_of_two().min(64);
        let cap = max_actors.div_ceil(shards);
        // A power of two, so a lane's number is a shift away: 6 cores get 4 lanes.
        let per_shard = 1 << lanes.clamp(1, MAX_LANES).ilog2();
        let hints_per_shard = match hints {
            Some(n) => n.max(1).next_power_of_two(),
            None => cap.clamp(64, 1 << 16).next_power_of_two(),
        };
        Store {
            lanes: (0..shards * per_shard)
                .map(|_| Padded(Mutex::new(Lane::new())))
                .collect(),
            lane_bits: per_shard.ilog2(),
            placement: Placement::new(shards, per_shard, hints_per_shard),
            shard_mask: shards - 1,
            cap,
        }
    }

    /// Where `id` is, created with `policy` when new, after the housekeeping of a check at time
    /// `now`: the lane's latest time and sweep, and room made when a new actor finds its shard
    /// full. The actor's lane stays locked while the [`Spot`] lives.
    ///
    /// `churn(change, evicted)` hears of every change to the actors held, where it happens: an
    /// actor added (`+1, 0`), a sweep (`-forgotten, 0`), room made at the cap (`-gone,
    /// evicted`). Only those rare paths call it, so a check of a known actor pays nothing for it.
    #[inline]
    pub fn spot(
        &self,
        hash: u64,
        id: &str,
        now: u64,
        clock: &dyn Clock,
        policy: impl FnOnce() -> Arc<Policy>,
        churn: &impl Fn(i64, u64),
    ) -> Spot<'_> {
        self.spot_as(None, hash, id, now, clock, policy, churn)
    }

    /// [`Store::spot`] as if called on a thread whose lane is `own` (`None`: the calling
    /// thread's). The common case, a known actor in its hinted lane, is this function; the rest
    /// is [`Store::spot_slow`], out of line.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn spot_as(
        &self,
        own: Option<usize>,
        hash: u64,
        id: &str,
        now: u64,
        clock: &dyn Clock,
        policy: impl FnOnce() -> Arc<Policy>,
        churn: &impl Fn(i64, u64),
    ) -> Spot<'_> {
        let shard = self.shard_of(hash);
        let (first, way) = self
            .placement
            .check_lane(hash, || own.unwrap_or_else(|| self.placement.own_lane()));
        let mut lane = self.lane(shard, first);
        lane.tick(now, clock, churn);
        if let Some(index) = lane.index_of(hash, id) {
            match way {
                Way::Known => {}
                Way::Usual => usual::confirmed(),
                Way::Hinted => usual::found_in(first),
            }
            return Spot {
                locks: Locks::Lane(lane),
                index,
            };
        }
        drop(lane);
        self.spot_slow(shard, first, own, hash, id, clock, policy, churn)
    }

    /// An actor not in its hinted lane: in another one (its hint was overwritten by an actor
    /// whose hash shares the byte), or new, or forgotten since; then added to the calling
    /// thread's lane, which the hint names from then on.
    #[allow(clippy::too_many_arguments)]
    #[cold]
    #[inline(never)]
    fn spot_slow(
        &self,
        shard: usize,
        first: usize,
        own: Option<usize>,
        hash: u64,
        id: &str,
        clock: &dyn Clock,
        policy: impl FnOnce() -> Arc<Policy>,
        churn: &impl Fn(i64, u64),
    ) -> Spot<'_> {
        // The hinted lane next (when the usual lane was tried first), then the others.
        let hinted = self.placement.hinted(hash);
        let others = (0..self.placement.lanes()).filter(|&k| Some(k) != hinted);
        for k in hinted.into_iter().chain(others).filter(|&k| k != first) {
            let lane = self.lane(shard, k);
            if let Some(index) = lane.index_of(hash, id) {
                if self.placement.lanes() > 1 {
                    usual::found_in(k);
                }
                return Spot {
                    locks: Locks::Lane(lane),
                    index,
                };
            }
        }
        let own = own.unwrap_or_else(|| self.placement.own_lane());
        let mut held = self.lock_shard(shard);
        let (k, index) = held.locate(first, own, hash, id, clock, policy, churn);
        Spot {
            locks: Locks::Shard(held, k),
            index,
        }
    }

    /// `f` of `id`'s state, if the store holds it (the shard's lanes locked one at a time, the
    /// hinted one first).
    pub fn find<R>(&self, hash: u64, id: &str, f: impl FnOnce(&ActorState) -> R) -> Option<R> {
        let shard = self.shard_of(hash);
        for k in self.placement.search_order(hash) {
            if let Some(state) = self.lane(shard, k).get(hash, id) {
                return Some(f(state));
            }
        }
        None
    }

    /// Forgets `id`; true when the store held it.
    pub fn remove(&self, hash: u64, id: &str) -> bool {
        let shard = self.shard_of(hash);
        self.placement
            .search_order(hash)
            .any(|k| self.lane(shard, k).remove(hash, id))
    }

    /// Every shard, each with all its lanes locked while the iterator is on it: a whole-guard
    /// reader sees each shard as one (its lanes read at different times could count an actor
    /// moved out by an eviction in one lane and a newcomer in another, over the cap).
    pub fn shards(&self) -> impl Iterator<Item = Held<'_>> + '_ {
        (0..=self.shard_mask).map(|s| self.lock_shard(s))
    }

    /// Every lane, each locked while the iterator is on it.
    #[cfg(test)]
    fn lanes(&self) -> impl Iterator<Item = MutexGuard<'_, Lane>> + '_ {
        self.lanes.iter().map(|p| lock(&p.0))
    }

    /// The shards of all of `hashes`, each with all its lanes locked, in ascending order (so two
    /// batches never wait for each other in a circle; a single check holds one lock at a time,
    /// or a whole shard's taken in the same order).
    pub fn lock_for(&self, hashes: impl Iterator<Item = u64>) -> Locked<'_> {
        // At most 64 shards: one bit each.
        let wanted = hashes.fold(0u64, |bits, hash| bits | 1 << self.shard_of(hash));
        Locked {
            store: self,
            held: (0..=self.shard_mask)
                .map(|s| (wanted & 1 << s != 0).then(|| self.lock_shard(s)))
                .collect(),
        }
    }

    /// Middle bits: hashbrown uses the low bits for buckets and the top seven for tags (and the
    /// hints these bits and the ones above).
    fn shard_of(&self, hash: u64) -> usize {
        (hash >> 32) as usize & self.shard_mask
    }

    fn lane(&self, shard: usize, k: usize) -> MutexGuard<'_, Lane> {
        lock(&self.lanes[shard << self.lane_bits | k].0)
    }

    fn lock_shard(&self, shard: usize) -> Held<'_> {
        Held {
            store: self,
            lanes: (0..self.placement.lanes())
                .map(|k| self.lane(shard, k))
                .collect(),
        }
    }
}

/// Where a check's actor is: its lane, locked (with the rest of its shard when it was just
/// added), and its slot there. See [`Store::spot`].
pub(crate) struct Spot<'a> {
    locks: Locks<'a>,
    index: usize,
}

enum Locks<'a> {
    /// The actor's lane alone: every check of a known actor.
    Lane(MutexGuard<'a, Lane>),
    /// Every lane of the shard, and which one holds the actor.
    Shard(Held<'a>, usize),
}

impl Spot<'_> {
    /// The actor's state.
    #[inline]
    pub fn state(&mut self) -> &mut ActorState {
        match &mut self.locks {
            Locks::Lane(lane) => lane.at(self.index),
            Locks::Shard(held, k) => held.lanes[*k].at(self.index),
        }
    }
}

fn lock(m: &Mutex<Lane>) -> MutexGuard<'_, Lane> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::Store;
    use crate::clock::ManualClock;
    use crate::config::Settings;
    use crate::policy::Policy;
    use crate::window::Record;

    #[test]
    fn a_locked_lane_is_one_cache_line_on_its_own() {
        // The lock and every field a check reads or writes: one line, and no other lane's in
        // its 128-byte pair.
        assert!(std::mem::size_of::<std::sync::Mutex<super::Lane>>() <= 64);
        assert_eq!(std::mem::align_of::<super::Padded>(), 128);
    }

    #[test]
    fn a_cap_past_the_address_space_is_held_as_the_largest_a_shard_can_have() {
        assert_eq!(Store::new(u64::MAX).cap, usize::MAX.div_ceil(64));
        assert_eq!(Store::new(640).cap, 640);
    }

    /// Checks `id` at `now` as a thread whose lane is `own`; true when it was new.
    fn check(store: &Store, own: usize, id: &str, now: u64) -> bool {
        check_as(store, Some(own), id, now)
    }

    /// [`check`] as the calling thread (`None`) or as lane `own`.
    fn check_as(store: &Store, own: Option<usize>, id: &str, now: u64) -> bool {
        let added = std::cell::Cell::new(false);
        let hash = crate::hash::id_hash(id, 7);
        let policy = || Arc::new(Policy::new(Settings::default()));
        let (key, target) = crate::hash::event_hashes("GET", "/", 7);
        let record = Record {
            ts: now,
            key,
            target,
            weight: 1_000_000,
        };
        let churn = |change: i64, _| added.set(added.get() || change > 0);
        let clock = ManualClock::new(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(now));
        let mut spot = store.spot_as(own, hash, id, now, &clock, policy, &churn);
        crate::check::observe(spot.state(), record, now, false);
        added.get()
    }

    fn lane_lens(store: &Store) -> Vec<usize> {
        store.lanes().map(|l| l.len()).collect()
    }

    #[test]
    fn an_actor_stays_in_the_lane_of_the_thread_that_added_it() {
        // One shard (a cap under 1,024), four lanes.
        let store = Store::with_lanes(100, 4, None);
        assert!(check(&store, 2, "a", 1));
        assert!(check(&store, 3, "b", 1));
        assert_eq!(lane_lens(&store), [0, 0, 1, 1]);
        // Checked from every other lane: found where it is, never added twice.
        for own in 0..4 {
            assert!(!check(&store, own, "a", 2));
            assert!(!check(&store, own, "b", 2));
        }
        assert_eq!(lane_lens(&store), [0, 0, 1, 1]);
        let hash = crate::hash::id_hash("a", 7);
        assert_eq!(store.find(hash, "a", super::ActorState::last_seen), Some(2));
        assert!(store.remove(hash, "a"));
        assert!(!store.remove(hash, "a"));
        assert_eq!(lane_lens(&store), [0, 0, 0, 1]);
    }

    #[test]
    fn actors_whose_hints_collide_are_each_found_and_held_once() {
        // One hint byte for the whole shard: every actor's hint is overwritten by the next.
        let store = Store::with_lanes(1000, 2, Some(1));
        let ids: Vec<String> = (0..200).map(|i| format!("user:{i}")).collect();
        for (i, id) in ids.iter().enumerate() {
            assert!(check(&store, i % 2, id, 1), "{id} is new");
        }
        for round in 0..3 {
            for (i, id) in ids.iter().enumerate() {
                assert!(!check(&store, (i + round) % 2, id, 2), "{id} is known");
            }
        }
        assert_eq!(lane_lens(&store), [100, 100]);
        for id in &ids {
            let hash = crate::hash::id_hash(id, 7);
            assert_eq!(
                store.find(hash, id, super::ActorState::last_seen),
                Some(2),
                "{id}"
            );
        }
    }

    #[test]
    fn with_one_lane_a_shard_is_one_table_and_keeps_its_cap() {
        // A one-core machine: no hints at all.
        let store = Store::with_lanes(64, 1, None);
        assert!(store.placement.hints.is_empty());
        for i in 0..64 {
            assert!(check(&store, 0, &format!("a:{i}"), 1_000 + i));
        }
        assert!(!check(&store, 0, "a:0", 2_000));
        assert!(check(&store, 0, "late", 3_000));
        assert_eq!(lane_lens(&store), [61]);
        let hash = crate::hash::id_hash("late", 7);
        assert!(store.remove(hash, "late"));
        assert_eq!(store.find(hash, "late", |_| ()), None);
    }

    #[test]
    fn checks_read_no_hint_while_one_lane_has_all_the_actors() {
        use std::sync::atomic::Ordering::Relaxed;
        let store = Store::with_lanes(1000, 2, Some(1));
        assert_eq!(store.placement.solo.load(Relaxed), 0);
        for i in 0..50 {
            assert!(check(&store, 1, &format!("a:{i}"), 1));
        }
        assert_eq!(
            store.placement.solo.load(Relaxed),
            2,
            "lane 1 alone has added"
        );
        // Its actors are found from the other lane without a hint (the one hint byte names the
        // last actor added, which is every actor's).
        let first = store
            .placement
            .first_lane(crate::hash::id_hash("a:0", 7), || 0);
        assert_eq!(first, 1);
        for i in 0..50 {
            assert!(!check(&store, 0, &format!("a:{i}"), 2));
        }
        // A second lane adds: from then on checks go by the hints, and find every actor.
        assert!(check(&store, 0, "b", 3));
        assert_eq!(store.placement.solo.load(Relaxed), super::placement::MANY);
        for own in 0..2 {
            assert!(!check(&store, own, "b", 4));
            for i in 0..50 {
                assert!(!check(&store, own, &format!("a:{i}"), 4));
            }
        }
        assert_eq!(lane_lens(&store), [1, 50]);
    }

    #[test]
    fn a_thread_that_trusts_its_usual_lane_still_finds_every_other_actor_once() {
        // Four lanes, 30 actors each, and one hint byte for the shard, so the hint is wrong for
        // all but the last actor added: every path past the usual lane is taken.
        let store = Store::with_lanes(1000, 4, Some(1));
        for lane in 0..4 {
            for i in 0..30 {
                assert!(check(&store, lane, &format!("{lane}:{i}"), 1));
            }
        }
        assert_eq!(lane_lens(&store), [30, 30, 30, 30]);
        std::thread::spawn(move || {
            // This thread's checks keep finding lane 2's actors in lane 2: it comes to trust it.
            for round in 0..4 {
                for i in 0..30 {
                    assert!(!check(&store, 0, &format!("2:{i}"), 2 + round));
                }
            }
            assert_eq!(super::usual::trusted(), Some(2));
            // Going to lane 2 first, it still finds every other lane's actor, once.
            for lane in [0, 1, 3] {
                for i in 0..30 {
                    assert!(!check(&store, 0, &format!("{lane}:{i}"), 10));
                }
            }
            assert_eq!(lane_lens(&store), [30, 30, 30, 30]);
            // Those finds elsewhere spent the trust; lane 2's actors earn it back.
            assert_ne!(super::usual::trusted(), Some(2));
            for round in 0..4 {
                for i in 0..30 {
                    assert!(!check(&store, 0, &format!("2:{i}"), 11 + round));
                }
            }
            assert_eq!(super::usual::trusted(), Some(2));
            // A new actor goes to the thread's usual lane, where its other actors are (whatever
            // its number, which a pool's new thread gets afresh).
            assert!(check_as(&store, None, "new", 20));
            assert_eq!(lane_lens(&store), [30, 30, 31, 30]);
            assert!(!check(&store, 3, "new", 21));
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_new_thread_adds_where_its_first_checks_found_their_actors() {
        std::thread::spawn(|| {
            // The actors live in the lane that is not this thread's number's; the hint byte
            // (one for the shard) names the other lane, added last, so each check below finds
            // its actor by the slow path.
            let mine = super::placement::thread_number() & 1;
            let theirs = 1 - mine;
            let store = Store::with_lanes(1000, 2, Some(1));
            for i in 0..20 {
                assert!(check(&store, theirs, &format!("a:{i}"), 1));
            }
            assert!(check(&store, mine, "b", 1));
            for i in 0..=usize::from(super::usual::LEANING) {
                assert!(!check_as(&store, None, &format!("a:{i}"), 2));
            }
            // Not trusted yet, but a newcomer joins its fellows, not its number's lane.
            assert_eq!(super::usual::trusted(), None);
            assert!(check_as(&store, None, "c", 3));
            let mut lens = [1, 1];
            lens[theirs] = 21;
            assert_eq!(lane_lens(&store), lens);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn the_cap_holds_over_a_shards_lanes_and_evicts_the_least_recent_of_all() {
        // One shard of 64 actors in two lanes, filled unevenly; every actor stays in its window
        // (times in nanoseconds), so only eviction can make room.
        let store = Store::with_lanes(64, 2, None);
        for i in 0..48 {
            check(&store, 0, &format!("old:{i}"), 1_000 + i);
        }
        for i in 0..16 {
            check(&store, 1, &format!("new:{i}"), 2_000 + i);
        }
        assert_eq!(lane_lens(&store), [48, 16]);
        // The 65th actor: room for 1/16 of the cap (4) is made, the four least recently seen go,
        // all from lane 0, though lane 1 is where the newcomer is added.
        assert!(check(&store, 1, "late", 3_000));
        assert_eq!(lane_lens(&store), [44, 17]);
        for i in 0..4 {
            let id = format!("old:{i}");
            assert_eq!(store.find(crate::hash::id_hash(&id, 7), &id, |_| ()), None);
        }
        let evicted: u64 = store.lanes().map(|l| l.evicted).sum();
        assert_eq!(evicted, 4);
    }
}
