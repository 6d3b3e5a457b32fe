//! Export and restore of the guard's memory.
//!
//! A [`Snapshot`] holds every tracked actor's window (timestamp, hashed key and target, weight per
//! event) and escalation, plus the hash seed those hashes were made with. It is plain serde data:
//! the caller picks the format (the CLI keeps it in its state file between invocations).
//!
//! Restoring replays the records under the *current* configuration, so a snapshot taken under one
//! configuration restores correctly under an edited one: windows, caps and interval tolerances are
//! recomputed, nothing derived is trusted from the file. `format` is versioned: a snapshot from a
//! newer format is refused with a clear error rather than misread.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::escalation::Escalation;
use crate::guard::Guard;
use crate::window::{Record, TARGET_BIT};

/// The snapshot format this version writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// The guard's memory, ready to serialize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    format: u32,
    seed: u64,
    actors: Vec<ActorSnapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ActorSnapshot {
    actor: String,
    strikes: u32,
    strikes_since: u64,
    last_seen: u64,
    /// `[timestamp ns, key hash, target hash, weight micros]` per event, oldest first.
    events: Vec<[u64; 4]>,
}

impl Snapshot {
    /// Actors in the snapshot.
    pub fn actors(&self) -> usize {
        self.actors.len()
    }

    /// Events in the snapshot, all actors together.
    pub fn events(&self) -> usize {
        self.actors.iter().map(|a| a.events.len()).sum()
    }

    /// The format version it was written in.
    pub fn format(&self) -> u32 {
        self.format
    }
}

impl Guard {
    /// A copy of everything the guard remembers.
    pub fn export(&self) -> Snapshot {
        let mut actors = Vec::new();
        for shard in self.store().shards() {
            actors.extend(shard.iter().map(|slot| {
                ActorSnapshot {
                    actor: slot.id.to_string(),
                    strikes: slot.state.escalation.strikes,
                    strikes_since: slot.state.escalation.since,
                    last_seen: slot.state.last_seen(),
                    events: slot
                        .state
                        .window
                        .records()
                        .map(|r| [r.ts, r.key, r.target, r.weight])
                        .collect(),
                }
            }));
        }
        actors.sort_by(|a, b| a.actor.cmp(&b.actor));
        Snapshot {
            format: SNAPSHOT_FORMAT,
            seed: self.seed(),
            actors,
        }
    }

    /// Replaces the guard's memory with a snapshot's.
    ///
    /// The snapshot is checked first; when it is refused the memory is left as it was. Checks that
    /// run on other threads while a restore is under way may land before or after it.
    pub fn restore(&self, snapshot: &Snapshot) -> Result<(), Error> {
        if snapshot.format != SNAPSHOT_FORMAT {
            return Err(Error::Snapshot(format!(
                "it is in format {}, and this pattern-guard reads format {SNAPSHOT_FORMAT}; \
                 upgrade pattern-guard, or reset the state",
                snapshot.format
            )));
        }
        for a in &snapshot.actors {
            if let Some(bad) = a
                .events
                .iter()
                .find(|[_, key, target, _]| key & TARGET_BIT != 0 || target & TARGET_BIT == 0)
            {
                return Err(Error::Snapshot(format!(
                    "actor {:?} has an event with invalid hashes {:#x}/{:#x}; the state is \
                     damaged: reset it",
                    a.actor, bad[1], bad[2]
                )));
            }
        }
        self.replace_memory(
            snapshot.seed,
            snapshot.actors.iter().map(|a| {
                let records = a
                    .events
                    .iter()
                    .map(|&[ts, key, target, weight]| Record {
                        ts,
                        key,
                        target,
                        weight,
                    })
                    .collect();
                let escalation = Escalation {
                    strikes: a.strikes,
                    since: a.strikes_since,
                };
                (a.actor.clone(), escalation, a.last_seen, records)
            }),
        );
        Ok(())
    }
}
