//! Filling a window with many records at once (a restored snapshot, a rebuilt shared actor):
//! the same figures as pushing them one by one, but with the count map touched once per run of
//! equal keys and targets instead of once per record.

use super::{Counts, Layout, Record, Window, SMALL};
use crate::policy::Policy;

/// Consecutive records with one hash, not yet in the count map.
#[derive(Default)]
struct Run {
    hash: u64,
    n: u32,
}

impl Run {
    /// Counts one more when `hash` continues the run.
    fn add(&mut self, hash: u64) -> bool {
        let same = self.n > 0 && self.hash == hash;
        self.n += u32::from(same);
        same
    }

    /// Moves the run into the map; `distinct` counts a target seen for the first time.
    fn flush(&mut self, counts: &mut Counts, distinct: Option<&mut u32>) {
        if self.n == 0 {
            return;
        }
        let c = counts.entry(self.hash).or_insert(0);
        if *c == 0 {
            if let Some(d) = distinct {
                *d += 1;
            }
        }
        *c += self.n;
        self.n = 0;
    }
}

impl Window {
    /// Appends records in time order, exactly like `expire(ts)` then `push` for each (a record
    /// older than the newest counts at the newest time), but with the count map updated once per
    /// run of equal keys and targets: restoring a saved window of one repeated command costs a
    /// few nanoseconds an event.
    pub fn extend(&mut self, records: impl Iterator<Item = Record>, policy: &Policy) {
        // Counting runs of equal keys needs the map; a window left small or uniform drops it at
        // the end.
        if self.uniform() {
            self.leave_uniform();
        }
        if !self.mapped() {
            self.map_counts();
        }
        let mut keys = Run::default();
        let mut targets = Run::default();
        // The running figures live in locals while records only enter (the common case).
        let mut gap_sq_sum = self.gap_sq_sum.get();
        let mut weight_total = self.weight_total.get();
        let (mut interval_hits, mut switches) = (self.interval_hits, self.switches);
        let (mut newest_ts, mut newest_target) = (self.newest_ts, self.newest_target);
        let mut len = self.len();
        let mut expires_at = self.oldest_ts.saturating_add(policy.window_ns);
        for mut rec in records {
            rec.ts = rec.ts.max(newest_ts);
            if len > 0 && (expires_at <= rec.ts || len >= policy.max_events) {
                // Records leave: the figures and counts must be up to date first.
                self.gap_sq_sum.set(gap_sq_sum);
                self.weight_total.set(weight_total);
                (self.interval_hits, self.switches) = (interval_hits, switches);
                keys.flush(self.counts.get_or_insert_with(Box::default), None);
                targets.flush(
                    self.counts.get_or_insert_with(Box::default),
                    Some(&mut self.distinct_targets),
                );
                self.expire(rec.ts, policy);
                while self.len() >= policy.max_events {
                    self.pop_front(policy);
                }
                gap_sq_sum = self.gap_sq_sum.get();
                weight_total = self.weight_total.get();
                (interval_hits, switches) = (self.interval_hits, self.switches);
                len = self.len();
                expires_at = self.oldest_ts.saturating_add(policy.window_ns);
            }
            if len == 0 {
                self.oldest_ts = rec.ts;
                expires_at = rec.ts.saturating_add(policy.window_ns);
            } else {
                let gap = rec.ts - newest_ts;
                gap_sq_sum += u128::from(gap) * u128::from(gap);
                interval_hits += u32::from(policy.interval_hit(gap));
                switches += u32::from(newest_target != rec.target);
            }
            newest_ts = rec.ts;
            newest_target = rec.target;
            weight_total += u128::from(rec.weight);
            if !keys.add(rec.key) {
                keys.flush(self.counts.get_or_insert_with(Box::default), None);
                keys = Run {
                    hash: rec.key,
                    n: 1,
                };
            }
            if !targets.add(rec.target) {
                targets.flush(
                    self.counts.get_or_insert_with(Box::default),
                    Some(&mut self.distinct_targets),
                );
                targets = Run {
                    hash: rec.target,
                    n: 1,
                };
            }
            self.records.push(Layout::Full, rec);
            len += 1;
        }
        self.gap_sq_sum.set(gap_sq_sum);
        self.weight_total.set(weight_total);
        (self.interval_hits, self.switches) = (interval_hits, switches);
        (self.newest_ts, self.newest_target) = (newest_ts, newest_target);
        keys.flush(self.counts.get_or_insert_with(Box::default), None);
        targets.flush(
            self.counts.get_or_insert_with(Box::default),
            Some(&mut self.distinct_targets),
        );
        // One key and one target entry: every record has them, and the window can count
        // without the map (small, or uniform).
        if self.len() <= SMALL || self.counts.as_ref().is_some_and(|c| c.len() == 2) {
            self.unmap_counts();
        }
    }
}
