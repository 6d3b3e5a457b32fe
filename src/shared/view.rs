//! One process's view of actors whose log lives in the store: the engine's own memory (a
//! [`Guard`]) kept up to date by applying the log's events in order.
//!
//! For each actor the view remembers the last event it applied; a call to the store sends that
//! number (and the escalation after it, the checkpoint) and gets back every event since. Replies
//! to concurrent calls can come back in any order: each applies only the events the view has not
//! applied yet, and a call whose event another reply already applied finds its assessment kept
//! for it. A reply that cannot be applied event by event (the view is new, or the events it
//! lacks were trimmed, or the log started again) rebuilds the actor from the log.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::log::{self, Call, Reply};
use crate::decision::Assessment;
use crate::Guard;

/// What the view knows of one actor.
#[derive(Debug, Default)]
struct ActorView {
    /// The last event applied (0: none).
    applied: u64,
    /// The log's epoch `applied` counts in.
    epoch: String,
    /// The last checkpoint sent.
    sent: u64,
    /// Calls in flight for this actor.
    pending: usize,
    /// Assessments of events applied while other calls were in flight, by number.
    kept: Vec<(u64, Assessment)>,
}

/// The view: which event of each actor's log the guard's memory has reached.
#[derive(Debug, Default)]
pub struct View {
    shards: Box<[Mutex<HashMap<String, ActorView>>]>,
}

const SHARDS: usize = 64;

impl View {
    pub fn new() -> Self {
        View {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, actor: &str) -> MutexGuard<'_, HashMap<String, ActorView>> {
        let h = xxhash_rust::xxh3::xxh3_64(actor.as_bytes()) as usize;
        self.shards[h % self.shards.len()]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Fills in what `call` needs from the view (the last event applied, the checkpoint, the
    /// epoch) and counts the call as in flight. Every `begin` must be followed by one [`end`].
    ///
    /// [`end`]: View::end
    pub fn begin(&self, guard: &Guard, call: &mut Call<'_>, epoch: &mut String) {
        let mut shard = self.shard(call.actor);
        let view = shard.entry(call.actor.to_string()).or_default();
        view.pending += 1;
        // A view that forgot the actor (swept, reset) starts again from the log.
        if view.applied > 0 && !guard.tracks(call.actor) {
            view.applied = 0;
        }
        call.since = view.applied;
        epoch.clone_from(&view.epoch);
        if view.applied > view.sent {
            if let Some((escalation, baseline, last_seen)) = guard.checkpoint_of(call.actor) {
                call.checkpoint = Some((view.applied, escalation, baseline, last_seen));
                view.sent = view.applied;
            }
        }
    }

    /// Applies a reply for `actor`; with `own`, returns the assessment of that event (the
    /// caller's). Ends the call [`begin`](View::begin) started.
    pub fn apply(
        &self,
        guard: &Guard,
        actor: &str,
        reply: &Reply,
        own: Option<u64>,
    ) -> Option<Assessment> {
        let mut shard = self.shard(actor);
        let view = shard.entry(actor.to_string()).or_default();
        let mut mine = None;
        let keep = view.pending > 1;
        if reply.rebuild || reply.epoch != view.epoch {
            let (before, after): (Vec<&log::Logged>, Vec<&log::Logged>) =
                reply.events.iter().partition(|e| e.seq <= reply.base);
            let records: Vec<_> = before.iter().map(|e| e.record).collect();
            guard.rebuild_actor(
                actor,
                reply.escalation,
                reply.baseline,
                reply.last_seen,
                &records,
            );
            view.epoch.clone_from(&reply.epoch);
            view.applied = before.last().map_or(reply.base, |e| e.seq);
            view.sent = reply.base;
            for e in after {
                apply_one(guard, actor, view, e.seq, e.record, own, keep, &mut mine);
            }
        } else {
            let from = view.applied;
            for e in reply.events.iter().filter(|e| e.seq > from) {
                apply_one(guard, actor, view, e.seq, e.record, own, keep, &mut mine);
            }
        }
        if mine.is_none() {
            if let Some(own) = own {
                if let Some(i) = view.kept.iter().position(|(s, _)| *s == own) {
                    mine = Some(view.kept.swap_remove(i).1);
                }
            }
        }
        end(view);
        mine
    }

    /// Ends a call that got no reply; the actor's view is left as it was.
    pub fn end(&self, actor: &str) {
        if let Some(view) = self.shard(actor).get_mut(actor) {
            end(view);
        }
    }

    /// Forgets what the view applied of `actor`: its next call rebuilds it from the log (after
    /// the guard decided on its own while the store was out).
    pub fn diverged(&self, actor: &str) {
        if let Some(view) = self.shard(actor).get_mut(actor) {
            view.applied = 0;
            view.sent = 0;
        }
    }

    /// Forgets every actor's view.
    pub fn clear(&self) {
        for shard in &*self.shards {
            shard.lock().unwrap_or_else(PoisonError::into_inner).clear();
        }
    }
}

fn end(view: &mut ActorView) {
    view.pending = view.pending.saturating_sub(1);
    if view.pending == 0 {
        view.kept.clear();
    }
}

#[allow(clippy::too_many_arguments)]
fn apply_one(
    guard: &Guard,
    actor: &str,
    view: &mut ActorView,
    seq: u64,
    record: crate::window::Record,
    own: Option<u64>,
    keep: bool,
    mine: &mut Option<Assessment>,
) {
    let is_mine = own == Some(seq);
    let outcome = guard.observe_logged(actor, record, is_mine || keep);
    view.applied = seq;
    if is_mine {
        *mine = Some(outcome.into_assessment());
    } else if keep {
        view.kept.push((seq, outcome.into_assessment()));
    }
}
