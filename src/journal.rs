//! A crash-safe journal of snapshots: one snapshot, then the tails appended after it, each in a
//! checksummed frame. This is the byte layout of the CLI's state files, and anything else that
//! keeps a guard's memory in a file can use it (cargo feature `journal`).
//!
//! # Layout
//! ```text
//! file   = "PGSTATE" version frame+          version: one ASCII digit, JOURNAL_FORMAT
//! frame  = length:u32le checksum:u64le payload
//! payload = snapshot extra                   snapshot: Snapshot::encode_into; extra: the caller's
//! ```
//! The checksum is xxh3-64 of the payload. The first frame holds a whole snapshot
//! ([`Guard::export`]); each later one a tail ([`Guard::export_tail`]) that loading merges on top.
//! `extra` is the rest of the payload, opaque here (the CLI keeps its running instances there).
//!
//! Each layer is versioned once: the framing by the header's digit ([`JOURNAL_FORMAT`]), the
//! snapshot inside by its own format number ([`SNAPSHOT_FORMAT`](crate::SNAPSHOT_FORMAT)).
//!
//! # Crash safety
//! Append a frame in one `write`. A writer killed midway can still leave part of it (Linux copies
//! a write into the file a page at a time and stops between pages when the process is killed),
//! and a power cut can cut an unsynced append short too. Such a save never finished: [`decode`] reads
//! a last frame cut short as [`Journal::unfinished_tail`], not as damage, so the journal holds the
//! state from before that save: the old state, never a torn one. The next save should rewrite the
//! file. A frame whose bytes are all there but wrong (its checksum fails, or it does not decode)
//! is damage: [`decode`] keeps every good frame before it and reports the rest as
//! [`Journal::damaged_tail`], so the history before the damage survives. Rewrite the whole file
//! (temp file, fsync, rename) to compact.

use crate::error::Error;
use crate::guard::Guard;
use crate::snapshot::Snapshot;

/// The framing version this build reads and writes (the digit after `PGSTATE`).
pub const JOURNAL_FORMAT: u8 = 2;
const PREFIX: &[u8; 7] = b"PGSTATE";
const HEADER: usize = PREFIX.len() + 1;
const FRAME_HEADER: usize = 12;

/// One frame: its snapshot and the caller's extra bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// A whole snapshot (the first frame) or a tail (the others).
    pub snapshot: Snapshot,
    /// The caller's bytes after the snapshot.
    pub extra: Vec<u8>,
}

/// One frame, ready to append: length, checksum, payload.
pub fn frame(snapshot: &Snapshot, extra: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = vec![0; FRAME_HEADER];
    snapshot.encode_into(&mut out);
    out.extend_from_slice(extra);
    let payload_len = out.len() - FRAME_HEADER;
    let len = u32::try_from(payload_len).map_err(|_| {
        Error::Snapshot(format!(
            "a journal frame of {payload_len} bytes, over 4 GiB"
        ))
    })?;
    let checksum = xxhash_rust::xxh3::xxh3_64(&out[FRAME_HEADER..]);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..FRAME_HEADER].copy_from_slice(&checksum.to_le_bytes());
    Ok(out)
}

/// A whole journal holding one snapshot: the header and one frame.
pub fn encode(snapshot: &Snapshot, extra: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = PREFIX.to_vec();
    out.push(b'0' + JOURNAL_FORMAT);
    out.extend_from_slice(&frame(snapshot, extra)?);
    Ok(out)
}

/// A journal, parsed.
#[derive(Debug, PartialEq)]
pub struct Journal {
    /// The snapshot frame, then the frames appended after it, in order, each with its size in
    /// bytes.
    pub frames: Vec<(Frame, u64)>,
    /// Bytes after the last good frame, and why they cannot be read.
    pub damaged_tail: Option<(u64, String)>,
    /// Bytes of a last frame cut short: a save that never finished (its writer was killed
    /// mid-`write`, or a power cut came before the append reached the disk). Not damage: the
    /// frames before it are the state as it was before that save.
    pub unfinished_tail: Option<u64>,
}

/// Parses a journal. `Err(why)`: it cannot be used at all (no valid snapshot frame). Damage after
/// the first frame drops the frames from the damaged one on (`damaged_tail`); a last frame cut
/// short is an unfinished save (`unfinished_tail`).
pub fn decode(bytes: &[u8]) -> Result<Journal, String> {
    if bytes.len() < HEADER {
        return Err(format!(
            "truncated: {} bytes, shorter than its header",
            bytes.len()
        ));
    }
    if &bytes[..PREFIX.len()] != PREFIX {
        return Err("not a pattern-guard state file".into());
    }
    let version = bytes[PREFIX.len()];
    if version != b'0' + JOURNAL_FORMAT {
        return Err(format!(
            "written in state format {}, this pattern-guard reads format {JOURNAL_FORMAT}",
            version.escape_ascii(),
        ));
    }
    let mut frames = Vec::new();
    let mut at = HEADER;
    let mut damaged_tail = None;
    let mut unfinished_tail = None;
    while at < bytes.len() {
        match read_frame(&bytes[at..]) {
            Ok((frame, used)) => {
                frames.push((frame, used as u64));
                at += used;
            }
            Err(Bad::CutShort(why) | Bad::Damaged(why)) if frames.is_empty() => return Err(why),
            Err(Bad::CutShort(_)) => {
                unfinished_tail = Some((bytes.len() - at) as u64);
                break;
            }
            Err(Bad::Damaged(why)) => {
                damaged_tail = Some(((bytes.len() - at) as u64, why));
                break;
            }
        }
    }
    if frames.is_empty() {
        return Err("truncated: no snapshot after the header".into());
    }
    Ok(Journal {
        frames,
        damaged_tail,
        unfinished_tail,
    })
}

/// Why a frame could not be read, and what that says about it.
enum Bad {
    /// The bytes end before the frame does (its header, or the length it announces).
    CutShort(String),
    /// All its bytes are there, and wrong.
    Damaged(String),
}

fn read_frame(bytes: &[u8]) -> Result<(Frame, usize), Bad> {
    if bytes.len() < FRAME_HEADER {
        return Err(Bad::CutShort(format!(
            "truncated: a record header cut short at {} bytes",
            bytes.len()
        )));
    }
    let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let mut sum = [0; 8];
    sum.copy_from_slice(&bytes[4..FRAME_HEADER]);
    let Some(payload) = bytes.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return Err(Bad::CutShort(format!(
            "truncated: {} of {len} record bytes",
            bytes.len() - FRAME_HEADER
        )));
    };
    if xxhash_rust::xxh3::xxh3_64(payload) != u64::from_le_bytes(sum) {
        return Err(Bad::Damaged(
            "checksum mismatch: the file is damaged".into(),
        ));
    }
    let mut rest = payload;
    let snapshot =
        Snapshot::decode(&mut rest).map_err(|e| Bad::Damaged(format!("cannot decode it: {e}")))?;
    let frame = Frame {
        snapshot,
        extra: rest.to_vec(),
    };
    Ok((frame, FRAME_HEADER + len))
}

/// What a journal gave when applied to a guard.
#[derive(Debug)]
pub struct Applied {
    /// The extra bytes of the last frame applied.
    pub extra: Vec<u8>,
    /// Frames merged after the snapshot, and their bytes: what a compaction rule counts.
    pub appended: (usize, u64),
    /// Bytes after the last good frame, and why they could not be used.
    pub damaged_tail: Option<(u64, String)>,
    /// Bytes of an unfinished last save ([`Journal::unfinished_tail`]).
    pub unfinished_tail: Option<u64>,
}

impl Journal {
    /// Applies the journal to `guard`: the snapshot restored, the later frames merged on top. A
    /// frame the guard refuses ends the journal there, as damage does. `Err(why)`: the snapshot
    /// itself was refused (the guard may hold part of it: reset it).
    pub fn apply(self, guard: &Guard) -> Result<Applied, String> {
        let mut frames = self.frames.into_iter();
        let (base, _) = frames.next().ok_or("no snapshot")?;
        guard.restore(&base.snapshot).map_err(|e| e.to_string())?;
        let mut applied = Applied {
            extra: base.extra,
            appended: (0, 0),
            damaged_tail: self.damaged_tail,
            unfinished_tail: self.unfinished_tail,
        };
        while let Some((frame, size)) = frames.next() {
            if let Err(e) = guard.merge(&frame.snapshot) {
                let left = size
                    + frames.map(|(_, n)| n).sum::<u64>()
                    + applied.damaged_tail.as_ref().map_or(0, |(n, _)| *n)
                    + applied.unfinished_tail.take().unwrap_or(0);
                applied.damaged_tail = Some((left, e.to_string()));
                break;
            }
            applied.appended.0 += 1;
            applied.appended.1 += size;
            applied.extra = frame.extra;
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Guard, Vec<u8>) {
        let guard = Guard::new();
        guard.check(&guard.event("cli", "run", "true"));
        let bytes = encode(&guard.export(), b"extra").unwrap();
        (guard, bytes)
    }

    #[test]
    fn encode_decode_round_trips_and_rejects_damage() {
        let (guard, bytes) = sample();
        let size = (bytes.len() - HEADER) as u64;
        let frame = Frame {
            snapshot: guard.export(),
            extra: b"extra".to_vec(),
        };
        assert_eq!(
            decode(&bytes).unwrap(),
            Journal {
                frames: vec![(frame, size)],
                damaged_tail: None,
                unfinished_tail: None,
            }
        );
        assert!(decode(&bytes[..bytes.len() - 1])
            .unwrap_err()
            .contains("truncated"));
        assert!(decode(&bytes[..10]).unwrap_err().contains("truncated"));
        assert!(decode(&bytes[..8]).unwrap_err().contains("no snapshot"));
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(decode(&flipped).unwrap_err().contains("checksum"));
        let mut future = bytes.clone();
        future[7] = b'3';
        assert!(decode(&future).unwrap_err().contains("format 3"));
        assert!(decode(b"garbage garbage garbage garbage")
            .unwrap_err()
            .contains("not a pattern-guard"));
    }

    /// [`sample`]'s journal with two one-event tails appended (each carrying `extra`), the
    /// length up to the end of the first, and a tail's length.
    fn two_tails(extra: &[u8]) -> (Vec<u8>, usize, usize) {
        let (guard, mut bytes) = sample();
        guard.check(&guard.event("cli", "run", "true"));
        let tail = frame(&guard.export_tail("cli", 1), extra).unwrap();
        bytes.extend(&tail);
        let whole = bytes.len();
        bytes.extend(&tail);
        (bytes, whole, tail.len())
    }

    #[test]
    fn appended_frames_replay_and_a_damaged_tail_is_dropped_not_fatal() {
        let (bytes, whole, _) = two_tails(b"");

        let restored = Guard::new();
        let a = decode(&bytes).unwrap().apply(&restored).unwrap();
        assert_eq!((a.extra.len(), a.appended.0, a.damaged_tail), (0, 2, None));
        assert_eq!(a.unfinished_tail, None);
        assert_eq!(
            restored.stats().events,
            3,
            "the snapshot's event and two appended"
        );

        // Damage: the last frame's bytes are all there, one of them wrong.
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let restored = Guard::new();
        let a = decode(&flipped).unwrap().apply(&restored).unwrap();
        assert_eq!((a.appended.0, a.unfinished_tail), (1, None));
        let (lost, why) = a.damaged_tail.unwrap();
        assert_eq!(lost, (flipped.len() - whole) as u64);
        assert!(why.contains("checksum"), "{why}");
        assert_eq!(
            restored.stats().events,
            2,
            "everything before the damage is kept"
        );
    }

    #[test]
    fn a_last_frame_cut_short_anywhere_is_an_unfinished_save_not_damage() {
        let (bytes, whole, tail) = two_tails(b"instances");
        // A writer killed mid-`write` leaves any prefix of its frame: every length from one byte
        // to all but the last.
        for kept in 1..tail {
            let cut = &bytes[..whole + kept];
            let restored = Guard::new();
            let a = decode(cut).unwrap().apply(&restored).unwrap();
            assert_eq!(a.damaged_tail, None, "cut after {kept} bytes");
            assert_eq!(
                a.unfinished_tail,
                Some(kept as u64),
                "cut after {kept} bytes"
            );
            assert_eq!((a.appended.0, a.extra.as_slice()), (1, &b"instances"[..]));
            assert_eq!(restored.stats().events, 2, "the state before that save");
        }
    }

    #[test]
    fn a_frame_the_guard_refuses_ends_the_journal_and_what_follows_counts_as_damaged() {
        let (_, mut bytes) = sample();
        // A tail from another guard's memory (another hash seed): refused by the merge.
        let other = Guard::new();
        other.check(&other.event("cli", "run", "true"));
        let foreign = frame(&other.export_tail("cli", 1), b"").unwrap();
        bytes.extend(&foreign);
        bytes.extend(&foreign[..5]);
        let restored = Guard::new();
        let a = decode(&bytes).unwrap().apply(&restored).unwrap();
        assert_eq!((a.appended.0, a.unfinished_tail), (0, None));
        let (lost, why) = a.damaged_tail.unwrap();
        assert_eq!(lost, foreign.len() as u64 + 5, "{why}");
        assert!(why.contains("seed"), "{why}");
    }
}
