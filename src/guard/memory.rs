//! The guard's memory in and out: [`Snapshot`]s of every actor ([`Guard::export`],
//! [`Guard::restore`]) and of one actor's newest events ([`Guard::export_tail`],
//! [`Guard::merge`]), for the CLI's state file, a shared store's checkpoints and tests.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Guard;
use crate::error::Error;
use crate::hash::{id_hash, ActorKey};
use crate::snapshot::{damaged, ActorSnapshot, Snapshot};
use crate::store::ActorState;

impl Guard {
    /// A copy of everything the guard remembers.
    pub fn export(&self) -> Snapshot {
        let mut actors = Vec::new();
        for shard in self.store.shards() {
            actors.extend(shard.iter().map(|slot| {
                ActorSnapshot::new(
                    slot.id.to_string(),
                    slot.state.escalation,
                    slot.state.baseline,
                    slot.state.last_seen(),
                    slot.state.window.records(),
                )
            }));
        }
        actors.sort_by(|a, b| a.actor.cmp(&b.actor));
        Snapshot::new(self.seed(), actors)
    }

    /// `actor`'s newest `events` events (fewer if its window holds fewer), its escalation and its
    /// last-seen time: after `events` checks of `actor`, what [`Guard::merge`] needs to bring a
    /// guard restored from an earlier snapshot of this one up to date. The snapshot holds no actor
    /// when `actor` is not tracked.
    pub fn export_tail(&self, actor: &str, events: usize) -> Snapshot {
        let key = ActorKey::new(actor, self.seed());
        let actors = self.store.find(key.hash, &key.id, |state| {
            let window = &state.window;
            let skip = window.len().saturating_sub(events);
            let tail = window.records().skip(skip);
            ActorSnapshot::new(
                key.id.to_string(),
                state.escalation,
                state.baseline,
                state.last_seen(),
                tail,
            )
        });
        Snapshot::new(self.seed(), actors.into_iter().collect())
    }

    /// Replaces the guard's memory with a snapshot's.
    ///
    /// Restoring replays the records under the *current* configuration, so a snapshot taken
    /// under one configuration restores correctly under an edited one: windows, caps and interval
    /// tolerances are recomputed, nothing derived is trusted from the snapshot.
    ///
    /// The snapshot is checked first; when it is refused the memory is left as it was: every
    /// actor's memory is built, in one decoding pass, before anything is replaced. Checks that
    /// run on other threads while a restore is under way may land before or after it.
    pub fn restore(&self, snapshot: &Snapshot) -> Result<(), Error> {
        snapshot.check_format()?;
        let mut built = Vec::with_capacity(snapshot.actors.len());
        for a in &snapshot.actors {
            let mut state = ActorState::new(self.policy_for(&a.actor));
            state.window.reserve(a.events.min(state.policy.max_events));
            apply_actor(&mut state, a).map_err(|why| damaged(&why))?;
            built.push((a, state));
        }
        self.reset_all();
        self.seed.store(snapshot.seed, Ordering::Relaxed);
        for (a, state) in built {
            let hash = id_hash(&a.actor, snapshot.seed);
            let policy = Arc::clone(&state.policy);
            self.with_actor(hash, &a.actor, a.last_seen, || policy, |s| *s = state);
        }
        Ok(())
    }

    /// Applies a snapshot on top of the memory: each of its actors gets the snapshot's events
    /// appended to its window (replayed like checks: expiry and caps apply, an event older than
    /// the actor's newest counts at the newest time), and takes the snapshot's escalation and
    /// last-seen time. Made for [`Guard::export_tail`] output, in the order it was exported.
    ///
    /// The snapshot must come from a guard whose memory this one restored (same hash seed),
    /// unless this guard remembers nothing yet; otherwise it is refused and nothing changes.
    pub fn merge(&self, snapshot: &Snapshot) -> Result<(), Error> {
        snapshot.validate()?;
        if snapshot.seed != self.seed() {
            if self.stats().actors != 0 {
                return Err(Error::Snapshot(
                    "it was hashed under another seed than this guard's memory: merge only \
                     what a guard restored from the same history exported"
                        .into(),
                ));
            }
            self.reset_all();
            self.seed.store(snapshot.seed, Ordering::Relaxed);
        }
        for a in &snapshot.actors {
            let hash = id_hash(&a.actor, snapshot.seed);
            self.with_actor(
                hash,
                &a.actor,
                a.last_seen,
                || self.policy_for(&a.actor),
                // Validated above: decoding cannot fail here.
                |state| {
                    let _ = apply_actor(state, a);
                },
            );
        }
        Ok(())
    }
}

/// Appends a snapshot actor's events to `state`'s window (as checks would: expiry and caps
/// apply) and takes its escalation and last-seen time. `Err` when its events are damaged.
fn apply_actor(state: &mut ActorState, a: &ActorSnapshot) -> Result<(), String> {
    let policy = Arc::clone(&state.policy);
    a.decode_with(|records| state.window.extend(records, &policy))?;
    state.escalation = a.escalation();
    state.baseline = a.baseline();
    state.window.set_last_ts(a.last_seen);
    Ok(())
}
