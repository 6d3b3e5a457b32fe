//! A shard with all its lanes locked together (in ascending order): what adding an actor, a
//! whole-guard reader ([`Store::shards`]) and a batch ([`Store::lock_for`]) need, so none of them
//! sees an actor in two lanes or a shard over its cap.

use std::sync::{Arc, MutexGuard};

use super::lane::{add, Lane};
use super::{ActorState, Slot, Store};
use crate::clock::Clock;
use crate::policy::Policy;

/// One shard with every lane locked (in ascending order), as adding an actor or reading the
/// whole shard needs.
pub(crate) struct Held<'a> {
    pub(super) store: &'a Store,
    pub(super) lanes: Vec<MutexGuard<'a, Lane>>,
}

impl Held<'_> {
    /// Every actor of the shard.
    pub fn iter(&self) -> impl Iterator<Item = &Slot> + '_ {
        self.lanes.iter().flat_map(|l| l.iter())
    }

    pub fn len(&self) -> usize {
        self.lanes.iter().map(|l| l.len()).sum()
    }

    /// Actors evicted at the cap, ever.
    pub fn evicted(&self) -> u64 {
        self.lanes.iter().map(|l| l.evicted).sum()
    }

    /// Heap bytes: the tables and every actor's own allocations.
    pub fn heap_bytes(&self) -> usize {
        self.lanes.iter().map(|l| l.heap_bytes()).sum()
    }

    pub fn clear(&mut self) {
        for lane in &mut self.lanes {
            lane.clear();
        }
    }

    /// Which lane holds `id` (`first` looked in first) and its slot's index there; when none
    /// does, it is added to lane `own`, which the hint then names.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn locate(
        &mut self,
        first: usize,
        own: usize,
        hash: u64,
        id: &str,
        clock: &dyn Clock,
        policy: impl FnOnce() -> Arc<Policy>,
        churn: &impl Fn(i64, u64),
    ) -> (usize, usize) {
        let order = std::iter::once(first).chain((0..self.lanes.len()).filter(|&k| k != first));
        for k in order {
            if let Some(index) = self.lanes[k].index_of(hash, id) {
                return (k, index);
            }
        }
        self.store.placement.added(hash, own);
        let index = add(
            &mut self.lanes,
            own,
            self.store.cap,
            hash,
            id,
            clock,
            policy,
            churn,
        );
        (own, index)
    }
}

/// Shards locked together by [`Store::lock_for`], released on drop.
pub(crate) struct Locked<'a> {
    pub(super) store: &'a Store,
    pub(super) held: Vec<Option<Held<'a>>>,
}

impl Locked<'_> {
    /// The slot a check of `hash` will most likely use (see [`Lane::candidate`]), if `lock_for`
    /// was told of it.
    pub fn candidate(&self, hash: u64) -> Option<&Slot> {
        let shard = self.store.shard_of(hash);
        let held = self.held[shard].as_ref()?;
        held.lanes[self.store.placement.first_lane(hash, || 0)].candidate(hash)
    }

    /// [`Store::spot`]'s state, for a batch: `lock_for` must have been told of `hash` (locking
    /// another shard now, out of the ascending order, could wait in a circle with another batch).
    pub fn actor(
        &mut self,
        hash: u64,
        id: &str,
        now: u64,
        clock: &dyn Clock,
        policy: impl FnOnce() -> Arc<Policy>,
        churn: &impl Fn(i64, u64),
    ) -> &mut ActorState {
        let store = self.store;
        let shard = store.shard_of(hash);
        let own = || store.placement.own_lane();
        let first = store.placement.first_lane(hash, own);
        let held = self.held[shard]
            .as_mut()
            .expect("Store::lock_for was told of every hash the batch checks");
        held.lanes[first].tick(now, clock, churn);
        let (k, index) = held.locate(first, own(), hash, id, clock, policy, churn);
        held.lanes[k].at(index)
    }
}
