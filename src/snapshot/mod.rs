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
//! `packed-bytes` is an actor's events, packed by [`actor`]'s encoding (about 4 bytes an event
//! for a repeated command).
//!
//! The codec in three files: this one (the snapshot and its container layout), [`actor`] (one
//! actor's events, packed and unpacked) and [`varint`] (LEB128 integers, used by both).

mod actor;
mod varint;

use serde::{Deserialize, Serialize};

use crate::error::Error;

pub(crate) use actor::ActorSnapshot;
use varint::{get_varint, put_varint};

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
    use crate::baseline::Baseline;
    use crate::escalation::Escalation;
    use crate::hash::TARGET_BIT;
    use crate::window::Record;

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
