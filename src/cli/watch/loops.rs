//! What a loop is, beside the engine's count: the rules that keep listings and builds from
//! counting as loops, over the recent lines' hashes.
//!
//! The output guard counts repetitions over its window, but listings repeat lines too: `ls -lR`
//! prints `total N` once per directory, thousands of times a second, and `find /usr` prints
//! `.../RelNotes/2.38.0.txt` and 400 like it (the same line, once numbers are masked) in a few
//! milliseconds. So the output **loops** only
//! - while the last [`RECENT`] lines are repetitive: at most one in [`MAX_DISTINCT_SHARE`] of
//!   them distinct. A loop's body, up to 64 different lines, passes that test; a listing, a build
//!   log or a `find` does not;
//! - and once they have been so for [`MIN_LOOP`] of the watch's time or [`MIN_LOOP_LINES`]
//!   lines, whichever comes first: a loop goes on, a run of numbered files in a listing is over
//!   in milliseconds and a few hundred lines. (The count bounds what a loop printing millions of
//!   lines a second gets through before it qualifies.)
//!
//! A line is worth showing to the guard from its second appearance among the last [`RECENT`]
//! lines: one not seen there cannot be part of a loop these rules let through (when they do, at
//! least seven lines in eight are repeats), and leaving it out keeps a stream of varied output as
//! cheap as masking and hashing its lines. So a loop's lines are counted from their second turn,
//! and the guard's burst, hopping and weight figures count only repeated lines.
//!
//! Memory: [`RECENT`] hashes and their counts, whatever the output.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use hashbrown::HashTable;

/// Lines the repetitiveness test looks back over.
pub const RECENT: usize = 512;
/// The recent lines are repetitive while at most one in this many is distinct.
pub const MAX_DISTINCT_SHARE: usize = 8;
/// How long the recent lines must have been repetitive before the output loops.
pub const MIN_LOOP: Duration = Duration::from_millis(500);
/// How many lines in a row, if sooner, the recent lines must have been repetitive.
pub const MIN_LOOP_LINES: u64 = 10_000;

/// What one more line tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The line was among the recent ones already.
    pub again: bool,
    /// The output loops (both rules hold).
    pub looping: bool,
}

/// The hashes of the last [`RECENT`] lines (each line's stream and masked form), how often each
/// occurs among them, and since when they have been repetitive.
pub struct Recent {
    lines: VecDeque<u64>,
    /// (hash, occurrences among `lines`); the keys are xxh3 hashes, their own hash in the table.
    counts: HashTable<(u64, u32)>,
    /// Since when, and for how many lines, the recent lines have been repetitive.
    repetitive_since: Option<(SystemTime, u64)>,
}

impl Recent {
    pub fn new() -> Recent {
        Recent {
            lines: VecDeque::with_capacity(RECENT),
            counts: HashTable::with_capacity(RECENT),
            repetitive_since: None,
        }
    }

    /// One more line, by its hash, at `now`.
    pub fn see(&mut self, hash: u64, now: SystemTime) -> Seen {
        if self.lines.len() == RECENT {
            if let Some(old) = self.lines.pop_front() {
                if let Ok(mut entry) = self.counts.find_entry(old, |e| e.0 == old) {
                    entry.get_mut().1 -= 1;
                    if entry.get().1 == 0 {
                        entry.remove();
                    }
                }
            }
        }
        self.lines.push_back(hash);
        let count = &mut self
            .counts
            .entry(hash, |e| e.0 == hash, |e| e.0)
            .or_insert((hash, 0))
            .into_mut()
            .1;
        *count += 1;
        let again = *count > 1;
        let repetitive = self.counts.len() * MAX_DISTINCT_SHARE <= self.lines.len();
        let looping = if repetitive {
            let (since, lines) = self.repetitive_since.get_or_insert((now, 0));
            *lines += 1;
            *lines >= MIN_LOOP_LINES || now.duration_since(*since).unwrap_or_default() >= MIN_LOOP
        } else {
            self.repetitive_since = None;
            false
        };
        Seen { again, looping }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(secs: f64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs_f64(1e9 + secs)
    }

    #[test]
    fn a_repeated_line_loops_after_min_loop_and_a_varied_stream_never() {
        let mut r = Recent::new();
        let first = r.see(7, at(0.0));
        assert_eq!(
            first,
            Seen {
                again: false,
                looping: false
            }
        );
        // Repetitive from the 8th line on; looping once that has held for MIN_LOOP.
        let mut looped_at = None;
        for i in 1..200 {
            let seen = r.see(7, at(f64::from(i) * 0.01));
            assert!(seen.again);
            if seen.looping && looped_at.is_none() {
                looped_at = Some(i);
            }
        }
        assert_eq!(looped_at, Some(57), "0.5 s after the 8th line (0.07 s)");
        // A varied stream: never seen again; it still loops while the loop's lines hold the
        // recent ones, and stops looping once more than one in eight is distinct.
        let mut first_varied = None;
        for (i, h) in (1_000..3_000u64).enumerate() {
            let seen = r.see(h, at(10.0));
            assert!(!seen.again);
            if !seen.looping && first_varied.is_none() {
                first_varied = Some(i);
            }
            if let Some(first) = first_varied {
                assert!(!seen.looping, "looping again at {i} after {first}");
            }
        }
        assert!(
            first_varied.unwrap() < RECENT / MAX_DISTINCT_SHARE,
            "{first_varied:?}"
        );
    }

    #[test]
    fn min_loop_lines_qualifies_a_fast_loop_before_min_loop() {
        let mut r = Recent::new();
        let looped = (0..20_000u32)
            .position(|i| r.see(1, at(f64::from(i) * 1e-7)).looping)
            .unwrap();
        // Repetitive from line 8 (index 7); the 10,000th repetitive line qualifies.
        assert_eq!(looped as u64, 7 + MIN_LOOP_LINES - 1);
    }

    #[test]
    fn memory_is_the_last_recent_lines_only() {
        let mut r = Recent::new();
        for h in 0..10_000u64 {
            r.see(h, at(0.0));
        }
        assert_eq!((r.lines.len(), r.counts.len()), (RECENT, RECENT));
        // A line seen more than RECENT lines ago is not seen again.
        assert!(!r.see(0, at(0.0)).again);
        assert!(r.see(9_999, at(0.0)).again);
    }
}
