//! What a shared store's view of the actors needs from the guard (feature `redis`): the
//! events of the store's log carry their hashes, final times and weights, so they are applied as
//! records, under the seed every process sharing the store agreed on. Kept apart from the
//! guard's public API; `shared::view` is its only caller.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Guard;
use crate::check::{observe, Outcome};
use crate::hash::ActorKey;
use crate::store::ActorState;
use crate::window::Record;

impl Guard {
    /// The seed the guard hashes under.
    pub(crate) fn hash_seed(&self) -> u64 {
        self.seed()
    }

    /// Forgets everything and hashes under `seed` from now on.
    pub(crate) fn adopt_seed(&self, seed: u64) {
        self.reset_all();
        self.seed.store(seed, Ordering::Relaxed);
    }

    /// What the store's log of `actor` needs from its policy: the future tolerance and the window
    /// (microseconds), the window's cap, and how long the log outlives its last event (the
    /// window or a full cool-down from the highest level, whichever is longer; milliseconds).
    pub(crate) fn log_limits(&self, actor: &str) -> (u64, u64, u64, u64) {
        let p = self.policy_for(actor);
        let levels = u64::from(p.max_strikes.div_ceil(p.strikes_per_level.max(1)));
        let keep_ns = p.window_ns.max(p.cooldown_ns.saturating_mul(levels));
        (
            p.future_ns / 1000,
            p.window_ns / 1000,
            p.max_events as u64,
            keep_ns / 1_000_000 + 1000,
        )
    }

    /// Whether the guard holds memory of `actor`.
    pub(crate) fn tracks(&self, actor: &str) -> bool {
        let key = ActorKey::new(actor, self.seed());
        self.store.find(key.hash, &key.id, |_| ()).is_some()
    }

    /// One logged event of `actor`, checked: its time is final (capped and ordered by the store).
    pub(crate) fn observe_logged(&self, actor: &str, record: Record, explain: bool) -> Outcome {
        let key = ActorKey::new(actor, self.seed());
        self.with_actor(
            key.hash,
            &key.id,
            record.ts,
            || self.policy_for(actor),
            |state| observe(state, record, record.ts, explain),
        )
    }

    /// Replaces `actor`'s memory: `records` (oldest first) only fill the window, then the
    /// escalation and last-seen time are set, as a restore does.
    pub(crate) fn rebuild_actor(
        &self,
        actor: &str,
        escalation: crate::escalation::Escalation,
        baseline: crate::baseline::Baseline,
        last_seen: u64,
        records: &[Record],
    ) {
        let key = ActorKey::new(actor, self.seed());
        let mut state = ActorState::new(self.policy_for(actor));
        let policy = Arc::clone(&state.policy);
        state.window.extend(records.iter().copied(), &policy);
        state.escalation = escalation;
        state.baseline = baseline;
        state.window.set_last_ts(last_seen);
        self.with_actor(key.hash, &key.id, last_seen, || policy, |s| *s = state);
    }

    /// `actor`'s escalation, learned baseline and last-seen time, when tracked: what a
    /// checkpoint in the shared store keeps.
    pub(crate) fn checkpoint_of(
        &self,
        actor: &str,
    ) -> Option<(
        crate::escalation::Escalation,
        crate::baseline::Baseline,
        u64,
    )> {
        let key = ActorKey::new(actor, self.seed());
        self.store.find(key.hash, &key.id, |s| {
            (s.escalation, s.baseline, s.last_seen())
        })
    }
}
