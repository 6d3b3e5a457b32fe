//! One actor's sliding window and the running figures every detector reads.
//!
//! The window holds one 32-byte [`Record`] per event, oldest first (8 bytes, the time alone,
//! while it is uniform and every weight is 1: see below and `ring.rs`). Every figure a detector needs
//! (events, occurrences per key, distinct targets, target switches, interval hits, total weight and
//! the sum of squared gaps) is kept up to date as records enter at the back and leave at the front,
//! so a check costs O(1) amortized whatever the window holds. All sums are exact integers
//! (nanoseconds, micro-units of weight), so adding and removing never drifts: the figures equal a
//! recomputation from the raw records, which the reference engine in the tests checks.
//!
//! An event is in the window while `now - ts < window`: at exactly `ts + window` it has expired.
//!
//! Occurrences per key and per target live in a count map once a window holds more than
//! [`SMALL`] records. Below that (most actors, most of the time, when many are live) the window
//! keeps no map at all: a check counts by scanning the few records, which sit together in one
//! buffer, instead of probing a map in memory of its own: a cache miss or two fewer per check,
//! and less memory per actor.
//!
//! A window whose records all share one (action, target) key (a cron job's one command, a client
//! polling one route) keeps no map either, however long it grows: every count is then the
//! window's length. The first record with another key builds the map from the records, once:
//! the next push that finds one key left drops the map again, and by then every record the
//! build counted has left, so each record is counted into a map at most once: O(1) amortized
//! per push.
//!
//! A uniform window whose records all have weight 1 keeps them as times alone (a quarter of
//! the memory, and of the cache lines a check writes when many actors are live): it turns
//! compact when it turns uniform (a scan of the records for their weights), and whole again when
//! a record of another key or weight arrives or it shrinks to [`SMALL`]. A record is made compact
//! only while it is newer than every record of another key or weight, and made whole again only
//! by the arrival of such a record, which cannot leave before it: so each record is converted at
//! most twice while it is in the window, and a push stays O(1) amortized.

use crate::hash::{HashMap, TARGET_BIT};
use crate::policy::Policy;

mod restore;
mod ring;

pub(crate) use ring::WEIGHT_ONE;
use ring::{Layout, Ring};

/// One event as the engine keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    /// Engine time, nanoseconds since the Unix epoch.
    pub ts: u64,
    /// Keyed hash of (action, target); top bit clear.
    pub key: u64,
    /// Keyed hash of target; top bit set, so it never equals a `key`.
    pub target: u64,
    /// Weight in millionths.
    pub weight: u64,
}

type Counts = HashMap<u32>;

/// Windows of at most this many records count by scanning them, without a count map.
const SMALL: usize = 8;

/// A u128 sum stored as two u64, so it does not force 16-byte alignment on the window.
#[derive(Debug, Default, Clone, Copy)]
struct Sum([u64; 2]);

impl Sum {
    fn get(self) -> u128 {
        (u128::from(self.0[1]) << 64) | u128::from(self.0[0])
    }
    fn set(&mut self, v: u128) {
        self.0 = [v as u64, (v >> 64) as u64];
    }
}

/// An actor's events in its window, with running figures.
///
/// Timestamps of the oldest and newest record and the newest record's target are kept beside the
/// figures: a check that expires nothing then never reads the record buffer, only writes to it,
/// which saves the cache misses that dominate a check over many actors. Field order (`repr(C)`)
/// keeps the buffer header first and the figures a check reads next to each other.
#[derive(Debug, Default, Clone)]
#[repr(C)]
pub(crate) struct Window {
    /// The records, oldest first: a time and nothing else for each while [`Window::compact`].
    records: Ring,
    /// Occurrences per (action, target) key and per target, in the window, past [`SMALL`]
    /// records; `None` while the window counts by scanning (at most [`SMALL`] records) or while
    /// every record has one key (more than [`SMALL`]: see [`Window::uniform`]). Boxed: a map's
    /// header is 32 bytes, a pointer 8, and most windows have no map (the slot stays at three
    /// cache lines).
    counts: Option<Box<Counts>>,
    /// Timestamp of the newest record ever pushed: kept when the window empties.
    newest_ts: u64,
    oldest_ts: u64,
    newest_target: u64,
    /// Distinct targets in the window. While the window is uniform this and `switches` are
    /// known (1 and 0) and the two words hold the window's one key instead
    /// ([`Window::uniform_key`]): a check then tells that its record continues the window from
    /// these lines alone, without reading a record (a cache miss per check).
    distinct_targets: u32,
    /// Consecutive pairs in the window whose targets differ (see `distinct_targets`).
    switches: u32,
    /// Consecutive pairs whose gap matches `interval_secs` within the tolerance.
    interval_hits: u32,
    /// The records are kept as times alone ([`Layout::Times`]): the window is uniform and every
    /// record has weight 1. Sits in what would be padding: the slot stays at three lines.
    compact: bool,
    weight_total: Sum,
    gap_sq_sum: Sum,
}

/// The figures of a window, as the detectors read them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Figures {
    pub events: u64,
    pub key_count: u64,
    pub distinct_targets: u64,
    pub switches: u64,
    pub interval_hits: u64,
    pub gaps: u64,
    /// Sum of the gaps, nanoseconds (= newest - oldest).
    pub gap_sum: u64,
    pub gap_sq_sum: u128,
    pub weight_total: u128,
    /// The actor's baseline (kept beside the window, see `baseline.rs`).
    pub baseline: crate::baseline::Figures,
}

impl Window {
    pub fn new() -> Self {
        Window {
            records: Ring::new(),
            ..Window::default()
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// How the records are kept: times alone while compact (the window's one key and target
    /// fill in the rest), else whole.
    fn layout(&self) -> Layout {
        if self.compact {
            Layout::Times {
                key: self.uniform_key(),
                target: self.newest_target,
            }
        } else {
            Layout::Full
        }
    }

    pub fn records(&self) -> impl ExactSizeIterator<Item = Record> + '_ {
        self.records.iter(self.layout())
    }

    /// The record `i` places from the oldest.
    pub fn get(&self, i: usize) -> Option<Record> {
        self.records.get(self.layout(), i)
    }

    /// Makes room for `additional` more records at once (restoring a long window).
    pub fn reserve(&mut self, additional: usize) {
        self.records.reserve(self.layout(), additional);
    }

    /// Reads what the next check reads (the figures, and the records it scans: every one while
    /// the window counts by scanning, else the oldest and newest), changing nothing.
    pub fn warm(&self) -> u64 {
        let ends = |r: &Record| r.ts ^ r.key;
        let layout = self.layout();
        let records = if self.counts.is_none() && self.len() <= SMALL {
            self.records.iter(layout).fold(0, |x, r| x ^ ends(&r))
        } else {
            self.records.front(layout).map_or(0, |r| ends(&r))
                ^ self.records.back(layout).map_or(0, |r| ends(&r))
        };
        records ^ self.gap_sq_sum.0[1] ^ u64::from(self.switches)
    }

    /// Timestamp of the newest record.
    pub fn newest_ts(&self) -> Option<u64> {
        (!self.records.is_empty()).then_some(self.newest_ts)
    }

    /// The newest record in the window.
    pub fn newest_record(&self) -> Option<Record> {
        self.records.back(self.layout())
    }

    /// Timestamp of the newest record ever pushed, also once the window has emptied.
    pub fn last_ts(&self) -> u64 {
        self.newest_ts
    }

    /// Restores the last-seen time of an actor whose window is empty.
    pub fn set_last_ts(&mut self, ts: u64) {
        if self.records.is_empty() {
            self.newest_ts = self.newest_ts.max(ts);
        }
    }

    /// Drops every record that has expired at `now`.
    pub fn expire(&mut self, now: u64, policy: &Policy) {
        while !self.records.is_empty() && self.oldest_ts.saturating_add(policy.window_ns) <= now {
            self.pop_front(policy);
        }
    }

    /// Whether every record has expired at `now`.
    pub fn expired_at(&self, now: u64, policy: &Policy) -> bool {
        self.newest_ts()
            .is_none_or(|ts| ts.saturating_add(policy.window_ns) <= now)
    }

    /// Appends a record no older than the newest; past the cap the oldest are forgotten first.
    /// Returns how often the record's (action, target) key is now in the window.
    pub fn push(&mut self, rec: Record, policy: &Policy) -> u32 {
        while self.len() >= policy.max_events {
            self.pop_front(policy);
        }
        if self.counts.as_ref().is_some_and(|c| c.len() == 2) {
            // One key and one target are left: every record has them.
            self.unmap_counts();
        }
        if self.uniform() {
            if self.uniform_key() == rec.key && self.newest_target == rec.target {
                // Its key and target again: no switch, no new target, every record counts.
                self.add_gap(rec.ts, policy);
                self.newest_ts = rec.ts;
                self.weight_total
                    .set(self.weight_total.get() + u128::from(rec.weight));
                if rec.weight != WEIGHT_ONE {
                    // Another weight: the records are kept whole from here on.
                    self.expand();
                }
                self.records.push(self.layout(), rec);
                return self.len() as u32;
            }
            self.leave_uniform();
        }
        // At exactly SMALL records, all of this one's key: the window turns uniform.
        let turns_uniform = !self.mapped()
            && self.len() == SMALL
            && self
                .records
                .full()
                .all(|r| r.key == rec.key && r.target == rec.target);
        if self.records.is_empty() {
            self.oldest_ts = rec.ts;
        } else {
            self.add_gap(rec.ts, policy);
            self.switches += u32::from(self.newest_target != rec.target);
        }
        self.newest_ts = rec.ts;
        self.newest_target = rec.target;
        self.weight_total
            .set(self.weight_total.get() + u128::from(rec.weight));
        if !self.mapped() && self.len() >= SMALL && !turns_uniform {
            self.map_counts();
        }
        let key_count = if let Some(counts) = self.counts.as_deref_mut() {
            let key_count = counts.entry(rec.key).or_insert(0);
            *key_count += 1;
            let key_count = *key_count;
            let targets = counts.entry(rec.target).or_insert(0);
            *targets += 1;
            if *targets == 1 {
                self.distinct_targets += 1;
            }
            key_count
        } else {
            let (mut same_key, mut seen_target) = (1, false);
            for r in self.records.full() {
                same_key += u32::from(r.key == rec.key);
                seen_target |= r.target == rec.target;
            }
            self.distinct_targets += u32::from(!seen_target);
            same_key
        };
        debug_assert!(!self.compact, "a compact window is uniform");
        self.records.push(Layout::Full, rec);
        if turns_uniform {
            self.set_uniform_key(rec.key);
            self.compact_if_unit_weights();
        }
        key_count
    }

    /// The gap from the newest record to one at `ts`, added to the gap figures.
    fn add_gap(&mut self, ts: u64, policy: &Policy) {
        let gap = ts - self.newest_ts;
        self.gap_sq_sum
            .set(self.gap_sq_sum.get() + u128::from(gap) * u128::from(gap));
        self.interval_hits += u32::from(policy.interval_hit(gap));
    }

    /// Whether the window counts without a map past [`SMALL`] records: then every record has
    /// one key and one target, and `distinct_targets` and `switches` hold that key.
    fn uniform(&self) -> bool {
        !self.mapped() && self.len() > SMALL
    }

    /// The one key of a uniform window.
    fn uniform_key(&self) -> u64 {
        u64::from(self.distinct_targets) | (u64::from(self.switches) << 32)
    }

    /// Keeps `key` as the window's one key, in the words of the figures it makes known.
    fn set_uniform_key(&mut self, key: u64) {
        self.distinct_targets = key as u32;
        self.switches = (key >> 32) as u32;
    }

    /// Keeps the records of a uniform window as times alone when every one has weight 1: a
    /// scan of the records, made when the window turns uniform (see the module doc).
    fn compact_if_unit_weights(&mut self) {
        debug_assert!(self.uniform() && !self.compact);
        if self.records().all(|r| r.weight == WEIGHT_ONE) {
            let times = Layout::Times {
                key: self.uniform_key(),
                target: self.newest_target,
            };
            self.records.relayout(Layout::Full, times);
            self.compact = true;
        }
    }

    /// Keeps the records whole again: a compact window that takes a record of another weight,
    /// or stops being uniform ([`Window::leave_uniform`]).
    fn expand(&mut self) {
        if self.compact {
            self.records.relayout(self.layout(), Layout::Full);
            self.compact = false;
        }
    }

    /// Before a window stops being uniform: its records whole (while its key is still readable
    /// from the figures' words), and the figures back in their words.
    fn leave_uniform(&mut self) {
        self.expand();
        self.distinct_targets = 1;
        self.switches = 0;
    }

    /// Moves to counting with the map: every record's key and target counted once.
    fn map_counts(&mut self) {
        let mut counts = Counts::default();
        debug_assert!(!self.compact, "a compact window keeps no map");
        for r in self.records.full() {
            *counts.entry(r.key).or_insert(0) += 1;
            *counts.entry(r.target).or_insert(0) += 1;
        }
        self.counts = Some(Box::new(counts));
    }

    /// Back to counting without the map, once the window is small again or has one key left
    /// (`distinct_targets` and `switches` are already right; past [`SMALL`] records they make
    /// way for the key).
    fn unmap_counts(&mut self) {
        let Some(counts) = self.counts.take() else {
            return;
        };
        if self.len() > SMALL {
            let key = counts.keys().find(|&&h| h & TARGET_BIT == 0);
            self.set_uniform_key(*key.expect("a uniform window's map holds its key"));
            self.compact_if_unit_weights();
        }
    }

    /// Whether the count map holds the counts: it is never empty while it does, since every
    /// record counts its key and its target.
    fn mapped(&self) -> bool {
        self.counts.is_some()
    }

    fn pop_front(&mut self, policy: &Policy) {
        let was_uniform = self.uniform();
        let layout = self.layout();
        let Some(old) = self.records.pop_front(layout) else {
            return;
        };
        self.weight_total
            .set(self.weight_total.get() - u128::from(old.weight));
        if self.mapped() {
            self.decrement(old.key);
            if self.decrement(old.target) {
                self.distinct_targets -= 1;
            }
        } else if was_uniform {
            // The records left all have its target.
        } else if !self.records.full().any(|r| r.target == old.target) {
            self.distinct_targets -= 1;
        }
        if let Some(next) = self.records.front(layout) {
            self.oldest_ts = next.ts;
            let gap = next.ts - old.ts;
            self.gap_sq_sum
                .set(self.gap_sq_sum.get() - u128::from(gap) * u128::from(gap));
            self.interval_hits -= u32::from(policy.interval_hit(gap));
            if !was_uniform {
                self.switches -= u32::from(old.target != next.target);
            }
        }
        if was_uniform && !self.uniform() {
            // SMALL records left: counted by scanning.
            self.leave_uniform();
        }
        if self.records.is_empty() {
            // Give back the memory of a burst once it has passed.
            self.records.shrink();
            self.unmap_counts();
        }
    }

    /// Lowers a count; true when it reached zero (the entry is removed).
    fn decrement(&mut self, hash: u64) -> bool {
        let Some(counts) = self.counts.as_deref_mut() else {
            return false;
        };
        match counts.get_mut(&hash) {
            Some(c) if *c > 1 => {
                *c -= 1;
                false
            }
            Some(_) => {
                counts.remove(&hash);
                true
            }
            None => false,
        }
    }

    /// The window's figures, with `key_count` the occurrences of the checked event's key.
    pub fn figures(&self, key_count: u32) -> Figures {
        let gap_sum = if self.records.is_empty() {
            0
        } else {
            self.newest_ts - self.oldest_ts
        };
        let uniform = self.uniform();
        Figures {
            events: self.len() as u64,
            key_count: u64::from(key_count),
            distinct_targets: if uniform {
                1
            } else {
                u64::from(self.distinct_targets)
            },
            switches: if uniform { 0 } else { u64::from(self.switches) },
            interval_hits: u64::from(self.interval_hits),
            gaps: self.len().saturating_sub(1) as u64,
            gap_sum,
            gap_sq_sum: self.gap_sq_sum.get(),
            weight_total: self.weight_total.get(),
            baseline: crate::baseline::Figures::default(),
        }
    }

    /// Heap bytes held by this window (records and count map), for memory accounting.
    pub fn heap_bytes(&self) -> usize {
        self.records.heap_bytes()
            + self.counts.as_ref().map_or(0, |c| {
                std::mem::size_of::<Counts>()
                    + c.capacity() * (std::mem::size_of::<(u64, u32)>() + 1)
            })
    }
}

#[cfg(test)]
mod tests;
