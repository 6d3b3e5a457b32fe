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
//! first. Each event is a tag byte, then LEB128 integers: nanoseconds since the previous event (the
//! first: since the epoch), then only what differs from the previous event (the first is compared
//! with hash #0 and weight 1), as flagged by the tag: bit 0 the index of its (action, target) hash,
//! bit 1 the index of its target hash, bit 2 its weight in millionths. A repeated command costs
//! about 4 bytes an event, and it decodes straight into the window without an intermediate list.

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
        let mut last = Fields::START;
        for r in records {
            // A window is ordered by time; a tail may start after an older event.
            let delta = r.ts.saturating_sub(previous);
            previous = r.ts;
            let now = Fields {
                key: u64::from(intern(r.key)),
                target: u64::from(intern(r.target)),
                weight: r.weight,
            };
            let tag = u8::from(now.key != last.key)
                | u8::from(now.target != last.target) << 1
                | u8::from(now.weight != last.weight) << 2;
            packed.push(tag);
            put_varint(&mut packed, delta);
            for (bit, v) in [(1, now.key), (2, now.target), (4, now.weight)] {
                if tag & bit != 0 {
                    put_varint(&mut packed, v);
                }
            }
            last = now;
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

    /// Runs `f` on the records, oldest first, decoded as `f` pulls them; fails when a record is
    /// damaged (the iterator ends there) or bytes are left after the last.
    pub fn decode_with<R>(&self, f: impl FnOnce(&mut Records<'_>) -> R) -> Result<R, String> {
        let mut records = Records::new(self);
        let result = f(&mut records);
        records.by_ref().for_each(drop);
        if let Some(why) = records.error {
            return Err(why);
        }
        if records.at != self.packed.len() {
            return Err(format!(
                "actor {:?} has {} bytes after its {} events",
                self.actor,
                self.packed.len() - records.at,
                self.events
            ));
        }
        Ok(result)
    }

    /// Decodes every record once, so that applying cannot fail halfway.
    fn validate(&self) -> Result<(), String> {
        self.decode_with(|records| records.for_each(drop))
    }
}

/// Decoder of an actor's packed records: yields them oldest first and stops at the first damaged
/// one, keeping why in `error`.
pub(crate) struct Records<'a> {
    actor: &'a ActorSnapshot,
    at: usize,
    left: usize,
    ts: u64,
    /// The previous event's indexes and weight, and the hashes its indexes resolved to.
    last: Fields,
    key: u64,
    target: u64,
    error: Option<String>,
}

/// An event's hash indexes and weight, as the packing compares them with the previous event's.
#[derive(Clone, Copy)]
struct Fields {
    key: u64,
    target: u64,
    weight: u64,
}

impl Fields {
    /// What the first event is compared with: hash #0 for both, weight 1.
    const START: Fields = Fields {
        key: 0,
        target: 0,
        weight: 1_000_000,
    };
}

impl<'a> Records<'a> {
    fn new(actor: &'a ActorSnapshot) -> Self {
        let first = actor.hashes.first().copied().unwrap_or(0);
        Records {
            actor,
            at: 0,
            left: actor.events,
            ts: 0,
            last: Fields::START,
            // Hash #0 as both, checked when first used (an index that did not change).
            key: first,
            target: first,
            error: None,
        }
    }

    #[cold]
    fn fail(&mut self, why: String) -> Option<Record> {
        self.error = Some(format!("actor {:?}: {why}", self.actor.actor));
        self.left = 0;
        None
    }

    fn hash(&self, i: u64) -> Option<u64> {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.actor.hashes.get(i).copied())
    }
}

impl Iterator for Records<'_> {
    type Item = Record;

    #[inline]
    fn next(&mut self) -> Option<Record> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let bytes = &self.actor.packed;
        let Some(&tag) = bytes.get(self.at) else {
            return self.fail("events cut short".into());
        };
        self.at += 1;
        if tag > 7 {
            return self.fail(format!("an event has an invalid tag {tag:#x}"));
        }
        let Some(delta) = get_varint(bytes, &mut self.at) else {
            return self.fail("events cut short".into());
        };
        if tag != 0 {
            let mut read = |bit: u8, last: u64| {
                if tag & bit == 0 {
                    Some(last)
                } else {
                    get_varint(bytes, &mut self.at)
                }
            };
            let (Some(key), Some(target), Some(weight)) = (
                read(1, self.last.key),
                read(2, self.last.target),
                read(4, self.last.weight),
            ) else {
                return self.fail("events cut short".into());
            };
            if tag & 1 != 0 {
                let Some(h) = self.hash(key) else {
                    return self.fail(format!("an event refers to hash #{key}, past its table"));
                };
                self.key = h;
            }
            if tag & 2 != 0 {
                let Some(h) = self.hash(target) else {
                    return self.fail(format!("an event refers to hash #{target}, past its table"));
                };
                self.target = h;
            }
            self.last = Fields {
                key,
                target,
                weight,
            };
        }
        let Some(ts) = self.ts.checked_add(delta) else {
            return self.fail("timestamps overflow".into());
        };
        self.ts = ts;
        // Also catches an empty hash table (an unchanged index 0 that resolves to nothing).
        if self.key & TARGET_BIT != 0
            || self.target & TARGET_BIT == 0
            || self.actor.hashes.is_empty()
        {
            let (key, target) = (self.key, self.target);
            return self.fail(format!("an event has invalid hashes {key:#x}/{target:#x}"));
        }
        Some(Record {
            ts,
            key: self.key,
            target: self.target,
            weight: self.last.weight,
        })
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[inline]
fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let first = *bytes.get(*at)?;
    *at += 1;
    if first < 0x80 {
        return Some(u64::from(first));
    }
    let mut v = u64::from(first & 0x7f);
    for shift in (7..64).step_by(7) {
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
        self.check_format()?;
        for a in &self.actors {
            a.validate()
                .map_err(|why| Error::Snapshot(format!("{why}; the state is damaged: reset it")))?;
        }
        Ok(())
    }

    fn check_format(&self) -> Result<(), Error> {
        if self.format != SNAPSHOT_FORMAT {
            return Err(Error::Snapshot(format!(
                "it is in format {}, and this pattern-guard reads format {SNAPSHOT_FORMAT}; \
                 use the pattern-guard that wrote it, or reset the state",
                self.format
            )));
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
        snapshot.check_format()?;
        self.replace_memory(snapshot.seed, &snapshot.actors)
            .map_err(|why| Error::Snapshot(format!("{why}; the state is damaged: reset it")))
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
            self.set_seed(snapshot.seed);
        }
        self.merge_memory(&snapshot.actors);
        Ok(())
    }
}
