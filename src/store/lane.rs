//! One lane of a shard: a hash table of actors, its sweeps, and room made at the shard's cap
//! over all of a shard's lanes.

use std::ops::DerefMut;
use std::sync::Arc;

use hashbrown::HashTable;

use super::slot::{ActorId, ActorState, Slot};
use crate::clock::{to_nanos, Clock};
use crate::policy::Policy;

/// One lane of a shard: a hash table of actors, and the housekeeping of the checks that lock it.
/// With its mutex it fills one cache line (tested), so a check reads and writes one line of it:
/// hence the 32-bit sweep counter.
pub(crate) struct Lane {
    table: HashTable<Slot>,
    checks_since_sweep: u32,
    /// Latest engine time seen by this lane.
    latest: u64,
    pub(super) evicted: u64,
}

impl Lane {
    pub(super) fn new() -> Self {
        Lane {
            table: HashTable::new(),
            checks_since_sweep: 0,
            latest: 0,
            evicted: 0,
        }
    }

    /// The housekeeping of a check that locks this lane at time `now`: the lane's latest time,
    /// and a sweep when one is due (`churn` hears how many actors it forgot).
    pub(super) fn tick(&mut self, now: u64, clock: &dyn Clock, churn: &impl Fn(i64, u64)) {
        self.latest = self.latest.max(now);
        // Wraps only past four billion checks in a lane of a billion actors, which then sweeps
        // at the cap instead.
        self.checks_since_sweep = self.checks_since_sweep.wrapping_add(1);
        if self.checks_since_sweep as usize >= (self.table.len() * 4).max(64) {
            churn(-(self.sweep(clock) as i64), 0);
        }
    }

    /// Adds an actor this lane does not hold; returns its slot's index.
    pub(super) fn add(&mut self, hash: u64, id: &str, state: ActorState) -> usize {
        let slot = Slot {
            hash,
            id: ActorId::new(id),
            state,
        };
        self.table
            .insert_unique(hash, slot, |s| s.hash)
            .bucket_index()
    }

    /// The index of `id`'s slot, if this lane holds it.
    pub(super) fn index_of(&self, hash: u64, id: &str) -> Option<usize> {
        self.table.find_bucket_index(hash, |s| s.id.is(id))
    }

    /// The state in slot `index`, which [`Lane::index_of`] or [`Lane::add`] gave while the lane
    /// stayed locked.
    pub(super) fn at(&mut self, index: usize) -> &mut ActorState {
        &mut self
            .table
            .get_bucket_mut(index)
            .expect("a slot index is used only under the lock it was found under")
            .state
    }

    /// The first slot whose hash tag matches `hash`'s, found reading only the table's control
    /// bytes: nearly always the slot of the actor with that hash, if the lane holds it (a
    /// 7-bit tag; the id is not compared). For [`Slot::warm_head`] and [`Slot::warm_rest`],
    /// which only read.
    pub(super) fn candidate(&self, hash: u64) -> Option<&Slot> {
        self.table.find(hash, |_| true)
    }

    pub(super) fn get(&self, hash: u64, id: &str) -> Option<&ActorState> {
        self.table.find(hash, |s| s.id.is(id)).map(|s| &s.state)
    }

    pub(super) fn remove(&mut self, hash: u64, id: &str) -> bool {
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
    /// "Now" is the lane's latest event time, but never past the clock: one event stamped in the
    /// future (within `future_tolerance_secs`) must not make other actors' live windows look
    /// expired.
    pub(super) fn sweep(&mut self, clock: &dyn Clock) -> usize {
        let now = self.latest.min(to_nanos(clock.now()));
        let before = self.table.len();
        self.table.retain(|s| !s.state.forgettable_at(now));
        self.checks_since_sweep = 0;
        before - self.table.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &Slot> + '_ {
        self.table.iter()
    }

    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    pub(super) fn clear(&mut self) {
        self.table = HashTable::new();
        self.checks_since_sweep = 0;
        self.latest = 0;
    }

    /// Heap bytes: the table and every actor's own allocations.
    pub(super) fn heap_bytes(&self) -> usize {
        let slots = self.table.capacity() * (std::mem::size_of::<Slot>() + 1);
        slots
            + self
                .table
                .iter()
                .map(|s| s.id.heap_bytes() + s.state.window.heap_bytes())
                .sum::<usize>()
    }
}

/// Adds `id` to lane `own` of a shard whose lanes are all locked, after making room when the
/// shard already holds `cap` actors; returns its slot's index.
#[allow(clippy::too_many_arguments)]
pub(super) fn add<L: DerefMut<Target = Lane>>(
    lanes: &mut [L],
    own: usize,
    cap: usize,
    hash: u64,
    id: &str,
    clock: &dyn Clock,
    policy: impl FnOnce() -> Arc<Policy>,
    churn: &impl Fn(i64, u64),
) -> usize {
    if lanes.iter().map(|l| l.len()).sum::<usize>() >= cap {
        let (gone, evicted) = make_room(lanes, cap, clock);
        churn(-(gone as i64), evicted);
    }
    churn(1, 0);
    lanes[own].add(hash, id, ActorState::new(policy()))
}

/// Frees at least 1/16 of a shard's `cap` over its (locked) lanes: expired actors first, then
/// the least recently active of the whole shard. Returns how many actors went, and how many of
/// them were evicted.
fn make_room<L: DerefMut<Target = Lane>>(
    lanes: &mut [L],
    cap: usize,
    clock: &dyn Clock,
) -> (usize, u64) {
    let swept: usize = lanes.iter_mut().map(|l| l.sweep(clock)).sum();
    let target = cap - (cap / 16).max(1).min(cap);
    let len: usize = lanes.iter().map(|l| l.len()).sum();
    if len <= target {
        return (swept, 0);
    }
    let excess = len - target;
    let mut seen: Vec<u64> = lanes
        .iter()
        .flat_map(|l| l.iter().map(|s| s.state.last_seen()))
        .collect();
    let (_, &mut threshold, _) = seen.select_nth_unstable(excess - 1);
    let below = seen.iter().filter(|&&t| t < threshold).count();
    let mut ties_to_drop = excess - below;
    let mut evicted = 0;
    for lane in lanes.iter_mut() {
        let before = lane.table.len();
        lane.table.retain(|s| {
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
        let gone = (before - lane.table.len()) as u64;
        lane.evicted += gone;
        evicted += gone;
    }
    (swept + evicted as usize, evicted)
}
