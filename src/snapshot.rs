//! Export and restore of the guard's memory, whole or incrementally.
//!
//! A [`Snapshot`] holds tracked actors' windows (timestamp, hashed key and target, weight per
//! event) and escalation, plus the hash seed those hashes were made with. It is plain serde data:
//! the caller picks the format (the CLI keeps it in its state file between invocations).
//!
//! - [`Guard::export`] / [`Guard::restore`]: the whole memory.
//! - [`Guard::export_tail`] / [`Guard::merge`]: one actor's newest events and its escalation now,
//!   applied on top of a restored memory. A journal of such tails after a full snapshot brings a
//!   guard up to date without rewriting the snapshot after every check (the CLI appends one per
//!   run and compacts now and then).
//!
//! Restoring and merging replay the records under the *current* configuration, so a snapshot
//! taken under one configuration restores correctly under an edited one: windows, caps and
//! interval tolerances are recomputed, nothing derived is trusted from the snapshot. `format` is
//! versioned: a snapshot from another format is refused with a clear error rather than misread.
//!
//! # Encoding
//! Per actor: the distinct hashes its events use, then the events packed in one byte string, oldest
//! first, each as four LEB128 integers: nanoseconds since the previous event (the first: since the
//! epoch), the index of its (action, target) hash, the index of its target hash, its weight in
//! millionths. That is about 8 bytes an event, and it decodes straight into the window without an
//! intermediate list.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::escalation::Escalation;
use crate::guard::Guard;
use crate::window::{IdentityHasher, Record, TARGET_BIT};

type IdentityBuild = std::hash::BuildHasherDefault<IdentityHasher>;

/// The snapshot format this version writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 2;

/// The guard's memory (or part of it), ready to serialize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    format: u32,
    seed: u64,
    actors: Vec<ActorSnapshot>,
}

/// One actor; see the module docs for the event encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ActorSnapshot {
    pub actor: String,
    strikes: u32,
    strikes_since: u64,
    pub last_seen: u64,
    hashes: Vec<u64>,
    pub events: usize,
    #[serde(with = "serde_bytes")]
    packed: Vec<u8>,
}

impl ActorSnapshot {
    /// Packs `records` (oldest first) with their own hash table.
    fn new(
        actor: String,
        escalation: Escalation,
        last_seen: u64,
        records: impl ExactSizeIterator<Item = Record>,
    ) -> Self {
        // The hashes are keyed xxh3 output already: no need to hash them again.
        let mut index: hashbrown::HashMap<u64, u32, IdentityBuild> = Default::default();
        let mut hashes = Vec::new();
        let mut intern = |h: u64| {
            *index.entry(h).or_insert_with(|| {
                hashes.push(h);
                (hashes.len() - 1) as u32
            })
        };
        let events = records.len();
        let mut packed = Vec::with_capacity(events * 8);
        let mut previous = 0;
        for r in records {
            // A window is ordered by time; a tail may start after an older event.
            let delta = r.ts.saturating_sub(previous);
            previous = r.ts;
            let (key, target) = (intern(r.key), intern(r.target));
            for v in [delta, u64::from(key), u64::from(target), r.weight] {
                put_varint(&mut packed, v);
            }
        }
        ActorSnapshot {
            actor,
            strikes: escalation.strikes,
            strikes_since: escalation.since,
            last_seen,
            hashes,
            events,
            packed,
        }
    }

    pub fn escalation(&self) -> Escalation {
        Escalation {
            strikes: self.strikes,
            since: self.strikes_since,
        }
    }

    /// The records, decoded lazily.
    fn records(&self) -> Records<'_> {
        Records {
            actor: self,
            at: 0,
            left: self.events,
            ts: 0,
        }
    }

    /// The records of a validated snapshot, oldest first.
    pub fn valid_records(&self) -> impl Iterator<Item = Record> + '_ {
        self.records().map_while(Result::ok)
    }

    /// Decodes every record once, so that applying cannot fail halfway.
    fn validate(&self) -> Result<(), String> {
        let mut records = self.records();
        for r in records.by_ref() {
            r?;
        }
        if records.at != self.packed.len() {
            return Err(format!(
                "actor {:?} has {} bytes after its {} events",
                self.actor,
                self.packed.len() - records.at,
                self.events
            ));
        }
        Ok(())
    }
}

/// Iterator over an actor's packed records.
struct Records<'a> {
    actor: &'a ActorSnapshot,
    at: usize,
    left: usize,
    ts: u64,
}

impl Records<'_> {
    fn damaged(&self, why: &str) -> String {
        format!("actor {:?}: {why}", self.actor.actor)
    }

    fn varint(&mut self) -> Result<u64, String> {
        get_varint(&self.actor.packed, &mut self.at).ok_or_else(|| self.damaged("events cut short"))
    }

    fn hash(&mut self) -> Result<u64, String> {
        let i = self.varint()?;
        usize::try_from(i)
            .ok()
            .and_then(|i| self.actor.hashes.get(i).copied())
            .ok_or_else(|| self.damaged(&format!("an event refers to hash #{i}, past its table")))
    }

    fn next_record(&mut self) -> Result<Record, String> {
        let delta = self.varint()?;
        self.ts = self
            .ts
            .checked_add(delta)
            .ok_or_else(|| self.damaged("timestamps overflow"))?;
        let (key, target) = (self.hash()?, self.hash()?);
        let weight = self.varint()?;
        if key & TARGET_BIT != 0 || target & TARGET_BIT == 0 {
            return Err(self.damaged(&format!(
                "an event has invalid hashes {key:#x}/{target:#x}"
            )));
        }
        Ok(Record {
            ts: self.ts,
            key,
            target,
            weight,
        })
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Record, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let r = self.next_record();
        if r.is_err() {
            self.left = 0;
        }
        Some(r)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        let bits = u64::from(b & 0x7f);
        if shift == 63 && bits > 1 {
            return None;
        }
        v |= bits << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

impl Snapshot {
    /// Actors in the snapshot.
    pub fn actors(&self) -> usize {
        self.actors.len()
    }

    /// Events in the snapshot, all actors together.
    pub fn events(&self) -> usize {
        self.actors.iter().map(|a| a.events).sum()
    }

    /// The format version it was written in.
    pub fn format(&self) -> u32 {
        self.format
    }

    /// Refuses another format version or damaged events, before anything is applied.
    fn validate(&self) -> Result<(), Error> {
        if self.format != SNAPSHOT_FORMAT {
            return Err(Error::Snapshot(format!(
                "it is in format {}, and this pattern-guard reads format {SNAPSHOT_FORMAT}; \
                 use the pattern-guard that wrote it, or reset the state",
                self.format
            )));
        }
        for a in &self.actors {
            a.validate()
                .map_err(|why| Error::Snapshot(format!("{why}; the state is damaged: reset it")))?;
        }
        Ok(())
    }
}

impl Guard {
    /// A copy of everything the guard remembers.
    pub fn export(&self) -> Snapshot {
        let mut actors = Vec::new();
        for shard in self.store().shards() {
            actors.extend(shard.iter().map(|slot| {
                ActorSnapshot::new(
                    slot.id.to_string(),
                    slot.state.escalation,
                    slot.state.last_seen(),
                    slot.state.window.records().copied(),
                )
            }));
        }
        actors.sort_by(|a, b| a.actor.cmp(&b.actor));
        Snapshot {
            format: SNAPSHOT_FORMAT,
            seed: self.seed(),
            actors,
        }
    }

    /// `actor`'s newest `events` events (fewer if its window holds fewer), its escalation and its
    /// last-seen time: after `events` checks of `actor`, what [`Guard::merge`] needs to bring a
    /// guard restored from an earlier snapshot of this one up to date. The snapshot holds no actor
    /// when `actor` is not tracked.
    pub fn export_tail(&self, actor: &str, events: usize) -> Snapshot {
        let actors = self
            .with_actor(actor, |id, state| {
                let window = &state.window;
                let skip = window.len().saturating_sub(events);
                let tail = window.records().skip(skip).copied();
                ActorSnapshot::new(id.to_string(), state.escalation, state.last_seen(), tail)
            })
            .into_iter()
            .collect();
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
        snapshot.validate()?;
        self.replace_memory(snapshot.seed, &snapshot.actors);
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
            self.replace_memory(snapshot.seed, &[]);
        }
        self.merge_memory(&snapshot.actors);
        Ok(())
    }
}
