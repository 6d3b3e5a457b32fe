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
use crate::window::{IdentityHasher, Record, TARGET_BIT};

type IdentityBuild = std::hash::BuildHasherDefault<IdentityHasher>;

/// The snapshot format this version writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// The guard's memory, ready to serialize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    format: u32,
    seed: u64,
    actors: Vec<ActorSnapshot>,
}

/// One actor, compactly: the distinct hashes its events use, then per event (oldest first) the
/// time since the previous event (the first: since the epoch), two indexes into `hashes` and the
/// weight in millionths. Encoded with variable-length integers this is about 10 bytes an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ActorSnapshot {
    actor: String,
    strikes: u32,
    strikes_since: u64,
    last_seen: u64,
    hashes: Vec<u64>,
    events: Vec<(u64, u32, u32, u64)>,
}

impl ActorSnapshot {
    fn records(&self) -> Result<Vec<Record>, String> {
        let mut ts = 0u64;
        let hash = |i: u32| {
            self.hashes.get(i as usize).copied().ok_or_else(|| {
                format!("actor {:?} refers to hash #{i}, past its table", self.actor)
            })
        };
        self.events
            .iter()
            .map(|&(delta, key, target, weight)| {
                ts = ts.checked_add(delta).ok_or("timestamps overflow")?;
                let (key, target) = (hash(key)?, hash(target)?);
                if key & TARGET_BIT != 0 || target & TARGET_BIT == 0 {
                    return Err(format!(
                        "actor {:?} has an event with invalid hashes {key:#x}/{target:#x}",
                        self.actor
                    ));
                }
                Ok(Record {
                    ts,
                    key,
                    target,
                    weight,
                })
            })
            .collect()
    }
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
                // The hashes are keyed xxh3 output already: no need to hash them again.
                let mut index: hashbrown::HashMap<u64, u32, IdentityBuild> = Default::default();
                let mut hashes = Vec::new();
                let mut intern = |h: u64| {
                    *index.entry(h).or_insert_with(|| {
                        hashes.push(h);
                        (hashes.len() - 1) as u32
                    })
                };
                let mut previous = 0;
                let events = slot
                    .state
                    .window
                    .records()
                    .map(|r| {
                        let delta = r.ts - previous;
                        previous = r.ts;
                        (delta, intern(r.key), intern(r.target), r.weight)
                    })
                    .collect();
                ActorSnapshot {
                    actor: slot.id.to_string(),
                    strikes: slot.state.escalation.strikes,
                    strikes_since: slot.state.escalation.since,
                    last_seen: slot.state.last_seen(),
                    hashes,
                    events,
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
        let mut actors = Vec::with_capacity(snapshot.actors.len());
        for a in &snapshot.actors {
            let records = a
                .records()
                .map_err(|why| Error::Snapshot(format!("{why}; the state is damaged: reset it")))?;
            let escalation = Escalation {
                strikes: a.strikes,
                since: a.strikes_since,
            };
            actors.push((a.actor.clone(), escalation, a.last_seen, records));
        }
        self.replace_memory(snapshot.seed, actors);
        Ok(())
    }
}
