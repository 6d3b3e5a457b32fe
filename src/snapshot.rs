//! The snapshot codec: an actor's memory (window and escalation) to bytes and back.
//!
//! A [`Snapshot`] holds tracked actors' windows (timestamp, hashed key and target, weight per
//! event) and escalation, plus the hash seed those hashes were made with. The guard makes and
//! applies them ([`Guard::export`](crate::Guard::export), [`Guard::restore`](crate::Guard::restore),
//! [`Guard::export_tail`](crate::Guard::export_tail), [`Guard::merge`](crate::Guard::merge)); this
//! module only encodes and decodes, and knows nothing of the guard.
//!
//! A snapshot is plain serde data (the caller may pick any format), and it has one binary
//! encoding of its own, [`Snapshot::encode_into`] / [`Snapshot::decode`], whose layout is fixed
//! here and versioned by [`SNAPSHOT_FORMAT`] (the CLI's state file embeds it). A snapshot of
//! another format is refused with a clear error rather than misread.
//!
//! # Binary layout
//! Integers are unsigned LEB128 varints; strings and byte strings are a varint length then the
//! bytes; lists are a varint count then the items.
//!
//! ```text
//! snapshot = format seed actor-count actor*
//! actor    = id strikes strikes-since last-seen baseline hash-count hash* event-count packed-bytes
//! baseline = count allowed samples mean-bits variance-bits
//! ```
//!
//! `baseline` is the learned rate (see `baseline.rs`): the current bucket's counts, buckets
//! learned, the mean as the bits of an `f64` and the variance as the bits of an `f32`. Format 2
//! (before the baseline) is still read: its actors have learned nothing yet.
//!
//! `packed-bytes` holds the events, oldest first. Each event is a tag byte, then varints:
//! nanoseconds since the previous event (the first: since the epoch), then only what differs from
//! the previous event (the first is compared with hash #0 and weight 1), as flagged by the tag:
//! bit 0 the index of its (action, target) hash, bit 1 the index of its target hash, bit 2 its
//! weight in millionths. A repeated command costs about 4 bytes an event, and it decodes straight
//! into the window without an intermediate list. (The layout is the one postcard gives the serde
//! form, so either reads the other's bytes; a test holds them equal.)

use serde::{Deserialize, Serialize};

use crate::baseline::Baseline;
use crate::error::Error;
use crate::escalation::Escalation;
use crate::hash::{HashMap, TARGET_BIT};
use crate::window::Record;

/// The snapshot format this version writes and reads.
pub const SNAPSHOT_FORMAT: u32 = 3;

/// The format before the baseline, still read.
const FORMAT_WITHOUT_BASELINE: u64 = 2;

/// The guard's memory (or part of it), ready to serialize.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    format: u32,
    pub(crate) seed: u64,
    pub(crate) actors: Vec<ActorSnapshot>,
}

/// One actor; see the module docs for the event encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ActorSnapshot {
    pub actor: String,
    strikes: u32,
    strikes_since: u64,
    pub last_seen: u64,
    /// count, allowed, samples, mean bits, variance bits.
    baseline: (u32, u32, u32, u64, u32),
    hashes: Vec<u64>,
    pub events: usize,
    #[serde(with = "serde_bytes")]
    packed: Vec<u8>,
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
    /// A snapshot in this version's format.
    pub(crate) fn new(seed: u64, actors: Vec<ActorSnapshot>) -> Self {
        Snapshot {
            format: SNAPSHOT_FORMAT,
            seed,
            actors,
        }
    }

    /// Appends the binary encoding (see the module docs) to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        put_varint(out, u64::from(self.format));
        put_varint(out, self.seed);
        put_varint(out, self.actors.len() as u64);
        for a in &self.actors {
            put_bytes(out, a.actor.as_bytes());
            put_varint(out, u64::from(a.strikes));
            put_varint(out, a.strikes_since);
            put_varint(out, a.last_seen);
            let (count, allowed, samples, mean, var) = a.baseline;
            for v in [count, allowed, samples] {
                put_varint(out, u64::from(v));
            }
            put_varint(out, mean);
            put_varint(out, u64::from(var));
            put_varint(out, a.hashes.len() as u64);
            for &h in &a.hashes {
                put_varint(out, h);
            }
            put_varint(out, a.events as u64);
            put_bytes(out, &a.packed);
        }
    }

    /// The binary encoding, on its own.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.actors.iter().map(|a| a.packed.len() + 64).sum());
        self.encode_into(&mut out);
        out
    }

    /// Reads one encoded snapshot from the front of `bytes` and advances past it (what follows
    /// is the caller's). Refuses another format before reading further, and anything cut short;
    /// the events themselves are checked when applied.
    pub fn decode(bytes: &mut &[u8]) -> Result<Snapshot, Error> {
        let format = read_varint(bytes)?;
        if format != u64::from(SNAPSHOT_FORMAT) && format != FORMAT_WITHOUT_BASELINE {
            return Err(wrong_format(format));
        }
        let seed = read_varint(bytes)?;
        let count = read_len(bytes, 8)?;
        let mut actors = Vec::with_capacity(count);
        for _ in 0..count {
            let actor = String::from_utf8(read_bytes(bytes)?.to_vec())
                .map_err(|_| damaged("an actor id is not UTF-8"))?;
            let strikes = u32::try_from(read_varint(bytes)?)
                .map_err(|_| damaged("a strike count is out of range"))?;
            let strikes_since = read_varint(bytes)?;
            let last_seen = read_varint(bytes)?;
            let baseline = if format == FORMAT_WITHOUT_BASELINE {
                (0, 0, 0, 0, 0)
            } else {
                let mut small = || {
                    u32::try_from(read_varint(bytes)?)
                        .map_err(|_| damaged("a baseline figure is out of range"))
                };
                let (count, allowed, samples) = (small()?, small()?, small()?);
                let mean = read_varint(bytes)?;
                let var = u32::try_from(read_varint(bytes)?)
                    .map_err(|_| damaged("a baseline figure is out of range"))?;
                (count, allowed, samples, mean, var)
            };
            let n = read_len(bytes, 1)?;
            let hashes = (0..n)
                .map(|_| read_varint(bytes))
                .collect::<Result<Vec<u64>, Error>>()?;
            let events = usize::try_from(read_varint(bytes)?)
                .map_err(|_| damaged("an event count is out of range"))?;
            let packed = read_bytes(bytes)?.to_vec();
            actors.push(ActorSnapshot {
                actor,
                strikes,
                strikes_since,
                last_seen,
                baseline,
                hashes,
                events,
                packed,
            });
        }
        Ok(Snapshot {
            format: SNAPSHOT_FORMAT,
            seed,
            actors,
        })
    }

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
    pub(crate) fn validate(&self) -> Result<(), Error> {
        self.check_format()?;
        for a in &self.actors {
            a.validate().map_err(|why| damaged(&why))?;
        }
        Ok(())
    }

    pub(crate) fn check_format(&self) -> Result<(), Error> {
        if self.format != SNAPSHOT_FORMAT {
            return Err(wrong_format(u64::from(self.format)));
        }
        Ok(())
    }
}

fn wrong_format(format: u64) -> Error {
    Error::Snapshot(format!(
        "it is in format {format}, and this pattern-guard reads format {SNAPSHOT_FORMAT}; \
         use the pattern-guard that wrote it, or reset the state"
    ))
}

/// A snapshot refused as damaged, with what was wrong and what to do.
pub(crate) fn damaged(why: &str) -> Error {
    Error::Snapshot(format!("{why}; the state is damaged: reset it"))
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn read_varint(bytes: &mut &[u8]) -> Result<u64, Error> {
    let mut at = 0;
    let v = get_varint(bytes, &mut at).ok_or_else(|| damaged("it is cut short"))?;
    *bytes = &bytes[at..];
    Ok(v)
}

/// A count of items at least `min_size` bytes each: never more than the bytes left could hold,
/// so a damaged count cannot make the decoder reserve gigabytes.
fn read_len(bytes: &mut &[u8], min_size: usize) -> Result<usize, Error> {
    let n = read_varint(bytes)?;
    match usize::try_from(n) {
        Ok(n) if n <= bytes.len() / min_size => Ok(n),
        _ => Err(damaged("a count runs past its end")),
    }
}

fn read_bytes<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8], Error> {
    let n = read_len(bytes, 1)?;
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Snapshot {
        let records = (0..50u32).map(u64::from).map(|i| Record {
            ts: 1_700_000_000_000_000_000 + i * 1_000_000_000,
            key: 0x1234 + (i % 3),
            target: TARGET_BIT | (0x99 + (i % 2)),
            weight: if i == 7 { 2_500_000 } else { 1_000_000 },
        });
        let a = ActorSnapshot::new(
            "user:1".into(),
            Escalation {
                strikes: 4,
                since: 77,
            },
            Baseline {
                mean: 3.25,
                var: 1.5,
                count: 7,
                allowed: 5,
                samples: 40,
            },
            1_700_000_049_000_000_000,
            records,
        );
        let b = ActorSnapshot::new(
            "ü".repeat(30),
            Escalation::default(),
            Baseline::default(),
            5,
            std::iter::empty(),
        );
        Snapshot::new(0xfeed_beef, vec![a, b])
    }

    #[test]
    fn the_binary_encoding_round_trips_and_leaves_what_follows() {
        let snapshot = sample();
        let mut bytes = snapshot.to_bytes();
        bytes.extend_from_slice(b"rest");
        let mut input = &bytes[..];
        assert_eq!(Snapshot::decode(&mut input).unwrap(), snapshot);
        assert_eq!(input, b"rest");
        snapshot.validate().unwrap();
    }

    #[test]
    fn the_binary_encoding_is_the_serde_form_under_postcard() {
        // State files written before the codec was explicit used postcard on the serde form.
        let snapshot = sample();
        assert_eq!(snapshot.to_bytes(), postcard::to_stdvec(&snapshot).unwrap());
    }

    #[test]
    fn damaged_or_foreign_bytes_are_refused_not_misread() {
        let bytes = sample().to_bytes();
        for cut in 0..bytes.len() {
            assert!(
                Snapshot::decode(&mut &bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut future = bytes.clone();
        future[0] = 9;
        let e = Snapshot::decode(&mut &future[..]).unwrap_err().to_string();
        assert!(e.contains("format 9"), "{e}");
        // A count of 2^40 actors in a few bytes is refused before anything is reserved.
        let mut huge = vec![3, 1];
        huge.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
        assert!(Snapshot::decode(&mut &huge[..]).is_err());
    }

    #[test]
    fn format_two_from_before_the_baseline_is_still_read() {
        // Format 2's layout: this one's without the five baseline varints.
        let snapshot = sample();
        let mut old = Vec::new();
        put_varint(&mut old, 2);
        put_varint(&mut old, snapshot.seed);
        put_varint(&mut old, snapshot.actors.len() as u64);
        for a in &snapshot.actors {
            put_bytes(&mut old, a.actor.as_bytes());
            put_varint(&mut old, u64::from(a.strikes));
            put_varint(&mut old, a.strikes_since);
            put_varint(&mut old, a.last_seen);
            put_varint(&mut old, a.hashes.len() as u64);
            for &h in &a.hashes {
                put_varint(&mut old, h);
            }
            put_varint(&mut old, a.events as u64);
            put_bytes(&mut old, &a.packed);
        }
        let read = Snapshot::decode(&mut &old[..]).unwrap();
        assert_eq!(read.format(), SNAPSHOT_FORMAT);
        assert_eq!(read.actors[0].baseline(), Baseline::default());
        assert_eq!(read.actors[0].escalation(), snapshot.actors[0].escalation());
        assert_eq!(read.actors[0].packed, snapshot.actors[0].packed);
        read.validate().unwrap();
    }
}
