//! The actor store: every tracked actor's window and escalation, sharded so that checks on
//! different actors run in parallel.
//!
//! Actors are spread over up to 64 shards by a keyed hash of their id; each shard is a hash table
//! behind its own mutex, padded to its own cache line. A check locks one shard for a few hundred
//! nanoseconds and never anything else.
//!
//! Memory stays bounded two ways:
//! - **expiry**: actors whose window has passed and whose escalation has cooled down are dropped by
//!   a sweep that each shard runs after four times as many checks as it holds actors (at least
//!   64), which costs O(1) amortized per check;
//! - **the actor cap** (`max_actors`, split evenly over the shards): a new actor arriving at a full
//!   shard first triggers a sweep; if that frees less than 1/16 of the shard, the least recently
//!   active actors are evicted until 1/16 is free. Eviction is therefore by shard, not global, and
//!   in batches: the cap holds exactly, and the actors evicted are the least recently active of
//!   their shard.

use std::sync::{Arc, Mutex, MutexGuard};

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use crate::baseline::Baseline;
use crate::clock::{to_nanos, Clock};
use crate::escalation::Escalation;
use crate::policy::Policy;
use crate::window::Window;

/// Everything the guard remembers about one actor.
///
/// `repr(C)` keeps the field order: with [`Slot`]'s id in front, the policy and the window's
/// record buffer header share the slot's first cache line, the running figures its second.
#[derive(Debug, Clone)]
#[repr(C)]
pub(crate) struct ActorState {
    pub policy: Arc<Policy>,
    pub window: Window,
    pub escalation: Escalation,
    pub baseline: Baseline,
}

impl ActorState {
    pub fn new(policy: Arc<Policy>) -> Self {
        ActorState {
            policy,
            window: Window::new(),
            escalation: Escalation::default(),
            baseline: Baseline::default(),
        }
    }

    /// Engine time of the actor's latest event.
    pub fn last_seen(&self) -> u64 {
        self.window.last_ts()
    }

    /// Nothing left to remember at `now`: window passed, escalation cooled down, and no
    /// baseline learned (a learned normal is kept until `max_actors` evicts it: forgetting it
    /// when the actor goes quiet would start its learning over at every pause).
    pub fn forgettable_at(&self, now: u64) -> bool {
        self.window.expired_at(now, &self.policy)
            && self.escalation.is_cold_at(now, &self.policy)
            && self.baseline.count == 0
    }
}

/// One table entry: exactly three cache lines, aligned to them, so a lookup touches as few
/// lines as possible.
#[repr(C, align(64))]
pub(crate) struct Slot {
    hash: u64,
    pub id: ActorId,
    pub state: ActorState,
}

impl Slot {
    /// Reads the slot's first line, changing nothing (the value only keeps the read from being
    /// optimized away). See [`Guard::assess_batch`](crate::Guard::assess_batch).
    pub fn warm_head(&self) -> u64 {
        self.hash
    }

    /// Reads the lines a check will need beyond the slot's first (the other two, the window's
    /// records), changing nothing.
    pub fn warm_rest(&self) -> u64 {
        let state = &self.state;
        state.window.warm() ^ state.escalation.since ^ u64::from(state.baseline.count)
    }
}

/// An actor id: up to 22 bytes inline in the slot (user ids, IPv4 addresses), longer on the heap.
/// Comparing an inline id reads no memory beyond the slot, which a lookup has loaded anyway.
pub(crate) enum ActorId {
    Inline { len: u8, bytes: [u8; 22] },
    Heap(Box<str>),
}

impl ActorId {
    fn new(id: &str) -> Self {
        match u8::try_from(id.len()) {
            Ok(len) if id.len() <= 22 => {
                let mut bytes = [0; 22];
                bytes[..id.len()].copy_from_slice(id.as_bytes());
                ActorId::Inline { len, bytes }
            }
            _ => ActorId::Heap(id.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            ActorId::Inline { len, bytes } => &bytes[..usize::from(*len)],
            ActorId::Heap(s) => s.as_bytes(),
        }
    }

    fn is(&self, id: &str) -> bool {
        self.as_bytes() == id.as_bytes()
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            ActorId::Inline { .. } => 0,
            ActorId::Heap(s) => s.len(),
        }
    }
}

impl std::fmt::Display for ActorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Always valid: copied whole from a `str`.
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// One shard. With its mutex it fills exactly one cache line (tested), so a check reads and
/// writes one line of it: hence the 32-bit cap (a shard of four billion actors would be 800 GB)
/// and sweep counter.
pub(crate) struct Shard {
    table: HashTable<Slot>,
    cap: u32,
    checks_since_sweep: u32,
    /// Latest engine time seen by this shard.
    latest: u64,
    pub evicted: u64,
}

impl Shard {
    fn new(cap: usize) -> Self {
        Shard {
            table: HashTable::new(),
            cap: u32::try_from(cap).unwrap_or(u32::MAX),
            checks_since_sweep: 0,
            latest: 0,
            evicted: 0,
        }
    }

    /// The state of `id`, created with `policy` when new, after housekeeping at time `now`.
    ///
    /// `churn(change, evicted)` hears of every change to the actors held, where it happens: an
    /// actor added (`+1, 0`), a sweep (`-forgotten, 0`), room made at the cap (`-gone, evicted`).
    /// Only those rare paths call it, so a check of a known actor pays nothing for it.
    pub fn actor(
        &mut self,
        hash: u64,
        id: &str,
        now: u64,
        clock: &dyn Clock,
        policy: impl FnOnce() -> Arc<Policy>,
        churn: impl Fn(i64, u64),
    ) -> &mut ActorState {
        self.latest = self.latest.max(now);
        // Wraps only past four billion checks in a shard of a billion actors, which then sweeps
        // when full instead.
        self.checks_since_sweep = self.checks_since_sweep.wrapping_add(1);
        if self.checks_since_sweep as usize >= (self.table.len() * 4).max(64) {
            churn(-(self.sweep(clock) as i64), 0);
        }
        // One lookup on the common path; the extra probe only when the shard is full.
        if self.table.len() >= self.cap as usize && self.table.find(hash, |s| s.id.is(id)).is_none()
        {
            let (gone, evicted) = self.make_room(clock);
            churn(-(gone as i64), evicted);
        }
        let slot = match self.table.entry(hash, |s| s.id.is(id), |s| s.hash) {
            Entry::Occupied(slot) => slot,
            Entry::Vacant(room) => {
                churn(1, 0);
                room.insert(Slot {
                    hash,
                    id: ActorId::new(id),
                    state: ActorState::new(policy()),
                })
            }
        };
        &mut slot.into_mut().state
    }

    /// The first slot whose hash tag matches `hash`'s, found reading only the table's control
    /// bytes: nearly always the slot of the actor with that hash, if the shard holds it (a
    /// 7-bit tag; the id is not compared). For [`Slot::warm_head`] and [`Slot::warm_rest`],
    /// which only read.
    pub fn candidate(&self, hash: u64) -> Option<&Slot> {
        self.table.find(hash, |_| true)
    }

    pub fn get(&self, hash: u64, id: &str) -> Option<&ActorState> {
        self.table.find(hash, |s| s.id.is(id)).map(|s| &s.state)
    }

    pub fn remove(&mut self, hash: u64, id: &str) -> bool {
        match self.table.find_entry(hash, |s| s.id.is(id)) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// Drops the actors with nothing left to remember.
    ///
    /// "Now" is the shard's latest event time, but never past the clock: one event stamped in the
    /// future (within `future_tolerance_secs`) must not make other actors' live windows look
    /// expired.
    fn sweep(&mut self, clock: &dyn Clock) -> usize {
        let now = self.latest.min(to_nanos(clock.now()));
        let before = self.table.len();
        self.table.retain(|s| !s.state.forgettable_at(now));
        self.checks_since_sweep = 0;
        before - self.table.len()
    }

    /// Frees at least 1/16 of the cap: expired actors first, then the least recently active.
    /// Returns how many actors went, and how many of them were evicted.
    fn make_room(&mut self, clock: &dyn Clock) -> (usize, u64) {
        let swept = self.sweep(clock);
        let cap = self.cap as usize;
        let target = cap - (cap / 16).max(1).min(cap);
        if self.table.len() <= target {
            return (swept, 0);
        }
        let excess = self.table.len() - target;
        let mut seen: Vec<u64> = self.table.iter().map(|s| s.state.last_seen()).collect();
        let (_, &mut threshold, _) = seen.select_nth_unstable(excess - 1);
        let below = seen.iter().filter(|&&t| t < threshold).count();
        let mut ties_to_drop = excess - below;
        let before = self.table.len();
        self.table.retain(|s| {
            let t = s.state.last_seen();
            if t < threshold {
                return false;
            }
            if t == threshold && ties_to_drop > 0 {
                ties_to_drop -= 1;
                return false;
            }
            true
        });
        let evicted = (before - self.table.len()) as u64;
        self.evicted += evicted;
        (swept + evicted as usize, evicted)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Slot> + '_ {
        self.table.iter()
    }

    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn clear(&mut self) {
        self.table = HashTable::new();
        self.checks_since_sweep = 0;
        self.latest = 0;
    }

    /// Heap bytes: the table and every actor's own allocations.
    pub fn heap_bytes(&self) -> usize {
        let slots = self.table.capacity() * (std::mem::size_of::<Slot>() + 1);
        slots
            + self
                .table
                .iter()
                .map(|s| s.id.heap_bytes() + s.state.window.heap_bytes())
                .sum::<usize>()
    }
}

/// A mutex on its own cache lines, so shards used by different threads do not slow each other.
#[repr(align(128))]
struct Padded(Mutex<Shard>);

/// All shards.
pub(crate) struct Store {
    shards: Box<[Padded]>,
    mask: usize,
}

impl Store {
    /// A store that holds at most `max_actors` actors.
    pub fn new(max_actors: u64) -> Self {
        let max_actors = usize::try_from(max_actors).unwrap_or(usize::MAX).max(1);
        // Small caps get few shards, so the cap is not split into slivers.
        let shards = (max_actors / 1024).clamp(1, 64).next_power_of_two().min(64);
        let cap = max_actors.div_ceil(shards);
        Store {
            shards: (0..shards)
                .map(|_| Padded(Mutex::new(Shard::new(cap))))
                .collect(),
            mask: shards - 1,
        }
    }

    /// The shard of an actor hash, locked. A poisoned lock (a panic elsewhere while holding it)
    /// is recovered: the shard's data is always consistent between operations.
    pub fn shard(&self, hash: u64) -> MutexGuard<'_, Shard> {
        lock(&self.shards[self.index(hash)].0)
    }

    pub fn shards(&self) -> impl Iterator<Item = MutexGuard<'_, Shard>> + '_ {
        self.shards.iter().map(|p| lock(&p.0))
    }

    /// The shards of all of `hashes`, each locked once, in ascending order (so two batches
    /// never wait for each other in a circle; a single check holds one lock at a time).
    pub fn lock_for(&self, hashes: impl Iterator<Item = u64>) -> Locked<'_> {
        // At most 64 shards: one bit each.
        let wanted = hashes.fold(0u64, |bits, hash| bits | 1 << self.index(hash));
        Locked {
            store: self,
            held: (0..self.shards.len())
                .map(|i| (wanted & 1 << i != 0).then(|| lock(&self.shards[i].0)))
                .collect(),
        }
    }

    /// Middle bits: hashbrown uses the low bits for buckets and the top seven for tags.
    fn index(&self, hash: u64) -> usize {
        (hash >> 32) as usize & self.mask
    }
}

/// Shards locked together by [`Store::lock_for`], released on drop.
pub(crate) struct Locked<'a> {
    store: &'a Store,
    held: Vec<Option<MutexGuard<'a, Shard>>>,
}

impl Locked<'_> {
    /// The shard of `hash`, if `lock_for` was told of it.
    pub fn get(&self, hash: u64) -> Option<&Shard> {
        self.held[self.store.index(hash)].as_deref()
    }

    /// The shard of `hash`, which `lock_for` must have been told of: locking another one now,
    /// out of the ascending order, could wait in a circle with another batch.
    pub fn shard(&mut self, hash: u64) -> &mut Shard {
        let index = self.store.index(hash);
        self.held[index]
            .as_deref_mut()
            .expect("Store::lock_for was told of every hash the batch checks")
    }
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::ActorId;

    #[test]
    fn a_slot_is_three_cache_lines() {
        assert_eq!(std::mem::size_of::<super::Slot>(), 192);
    }

    #[test]
    fn a_locked_shard_is_one_cache_line_on_its_own() {
        // The lock and every field a check reads or writes: one line, and no other shard's in
        // its 128-byte pair.
        assert!(std::mem::size_of::<std::sync::Mutex<super::Shard>>() <= 64);
        assert_eq!(std::mem::align_of::<super::Padded>(), 128);
    }

    #[test]
    fn a_cap_past_32_bits_is_held_as_the_largest_a_shard_can_have() {
        let store = super::Store::new(u64::MAX);
        assert_eq!(store.shard(0).cap, u32::MAX);
        let store = super::Store::new(640);
        assert_eq!(store.shard(0).cap, 640);
    }

    #[test]
    fn ids_round_trip_inline_and_on_the_heap() {
        for id in [
            "",
            "user:1",
            "exactly-twenty-two-b:x",
            "twenty-three-bytes-long",
            "ü".repeat(40).as_str(),
        ] {
            let stored = ActorId::new(id);
            assert!(stored.is(id));
            assert_eq!(stored.to_string(), id);
            assert_eq!(
                matches!(stored, ActorId::Inline { .. }),
                id.len() <= 22,
                "{id}"
            );
        }
        assert!(!ActorId::new("user:1").is("user:12"));
    }
}
