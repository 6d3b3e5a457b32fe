//! One actor's part of a snapshot: its escalation, baseline and events, the events packed.
//!
//! `packed-bytes` holds the events, oldest first. Each event is a tag byte, then varints:
//! nanoseconds since the previous event (the first: since the epoch), then only what differs from
//! the previous event (the first is compared with hash #0 and weight 1), as flagged by the tag:
//! bit 0 the index of its (action, target) hash, bit 1 the index of its target hash, bit 2 its
//! weight in millionths. A repeated command costs about 4 bytes an event, and it decodes straight
//! into the window without an intermediate list. (The snapshot's layout is the one postcard gives
//! its serde form, so either reads the other's bytes; a test holds them equal.)

use serde::{Deserialize, Serialize};

use super::varint::{get_varint, put_varint};
use crate::baseline::Baseline;
use crate::escalation::Escalation;
use crate::hash::{HashMap, TARGET_BIT};
use crate::window::Record;

/// One actor; see the module docs for the event encoding. The container (`super`) reads and
/// writes its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ActorSnapshot {
    pub actor: String,
    pub(super) strikes: u32,
    pub(super) strikes_since: u64,
    pub last_seen: u64,
    /// count, allowed, samples, mean bits, variance bits.
    pub(super) baseline: (u32, u32, u32, u64, u32),
    pub(super) hashes: Vec<u64>,
    pub events: usize,
    #[serde(with = "serde_bytes")]
    pub(super) packed: Vec<u8>,
}

impl ActorSnapshot {
    /// Packs `records` (oldest first) with their own hash table.
    pub fn new(
        actor: String,
        escalation: Escalation,
        baseline: Baseline,
        last_seen: u64,
        records: impl ExactSizeIterator<Item = Record>,
    ) -> Self {
        // The hashes are keyed xxh3 output already: no need to hash them again.
        let mut index: HashMap<u32> = HashMap::default();
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
            baseline: (
                baseline.count,
                baseline.allowed,
                baseline.samples,
                baseline.mean.to_bits(),
                baseline.var.to_bits(),
            ),
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

    pub fn baseline(&self) -> Baseline {
        let (count, allowed, samples, mean, var) = self.baseline;
        Baseline {
            mean: f64::from_bits(mean),
            var: f32::from_bits(var),
            count,
            allowed,
            samples,
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
    pub(super) fn validate(&self) -> Result<(), String> {
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
    fn fail(&mut self, why: &str) -> Option<Record> {
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
            return self.fail("events cut short");
        };
        self.at += 1;
        if tag > 7 {
            return self.fail(&format!("an event has an invalid tag {tag:#x}"));
        }
        let Some(delta) = get_varint(bytes, &mut self.at) else {
            return self.fail("events cut short");
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
                return self.fail("events cut short");
            };
            if tag & 1 != 0 {
                let Some(h) = self.hash(key) else {
                    return self.fail(&format!("an event refers to hash #{key}, past its table"));
                };
                self.key = h;
            }
            if tag & 2 != 0 {
                let Some(h) = self.hash(target) else {
                    return self.fail(&format!(
                        "an event refers to hash #{target}, past its table"
                    ));
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
            return self.fail("timestamps overflow");
        };
        self.ts = ts;
        // Also catches an empty hash table (an unchanged index 0 that resolves to nothing).
        if self.key & TARGET_BIT != 0
            || self.target & TARGET_BIT == 0
            || self.actor.hashes.is_empty()
        {
            let (key, target) = (self.key, self.target);
            return self.fail(&format!("an event has invalid hashes {key:#x}/{target:#x}"));
        }
        Some(Record {
            ts,
            key: self.key,
            target: self.target,
            weight: self.last.weight,
        })
    }
}
