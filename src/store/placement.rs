//! Which lane of its shard an actor lives in, and which lane a thread adds to: the shard's hint
//! bytes, the store-wide "one lane so far" shortcut, the thread's usual lane ([`usual`]) and
//! its number. The store locks what this names; nothing here locks anything.
//!
//! Rules:
//! - a hint byte is 1 + the lane of the actor added last whose hash falls on it (0: none yet);
//!   it is only a hint, as actors whose hashes share the byte overwrite it;
//! - while actors have been added to one lane alone ([`Placement::sole_lane`]), every actor is
//!   in it and no hint is read; once a second lane gets one, checks go by the hints;
//! - a thread that trusts its usual lane looks there first without reading the hint;
//! - a thread adds new actors to its usual lane once it leans on one, else to its number's.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use super::usual;

/// [`Placement::solo`] once more than one lane has had actors added.
pub(super) const MANY: usize = usize::MAX;

pub(super) struct Placement {
    /// Lanes a shard: a power of two.
    lanes: usize,
    /// Indexed by the hash's bits from 32 on, so the shard's own bits come first and a shard's
    /// hints sit together (none with one lane).
    pub(super) hints: Box<[AtomicU8]>,
    hints_mask: usize,
    /// 1 + the one lane actors have been added to so far (0: none yet; [`MANY`]: more than one
    /// has). Until a second lane gets one, checks need no hint: a guard used by one thread
    /// reads one line fewer a check.
    pub(super) solo: AtomicUsize,
}

impl Placement {
    /// `lanes` lanes a shard (a power of two) over `shards` shards, with `hints_per_shard` hint
    /// bytes each (a power of two; none are kept with one lane).
    pub fn new(shards: usize, lanes: usize, hints_per_shard: usize) -> Placement {
        let hints = if lanes == 1 {
            0
        } else {
            shards * hints_per_shard
        };
        Placement {
            lanes,
            hints: (0..hints).map(|_| AtomicU8::new(0)).collect(),
            hints_mask: hints.saturating_sub(1),
            solo: AtomicUsize::new(0),
        }
    }

    /// Lanes a shard.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    fn hint(&self, hash: u64) -> &AtomicU8 {
        &self.hints[(hash >> 32) as usize & self.hints_mask]
    }

    /// The lane to look in first: the one lane every actor is in (see
    /// [`Placement::sole_lane`]), else the hinted one, else `own`'s.
    #[inline]
    pub fn first_lane(&self, hash: u64, own: impl FnOnce() -> usize) -> usize {
        self.sole_lane()
            .or_else(|| self.hinted(hash))
            .unwrap_or_else(own)
    }

    /// The lane a check looks in first, and why: [`Placement::first_lane`], except that a
    /// thread whose checks have kept finding their actors in one lane (see [`usual`]) goes
    /// straight there without reading the hint.
    #[inline]
    pub fn check_lane(&self, hash: u64, own: impl FnOnce() -> usize) -> (usize, Way) {
        if let Some(k) = self.sole_lane() {
            return (k, Way::Known);
        }
        if let Some(k) = usual::trusted() {
            return (k & (self.lanes - 1), Way::Usual);
        }
        match self.hinted(hash) {
            Some(k) => (k, Way::Hinted),
            None => (own(), Way::Known),
        }
    }

    /// The lane every actor of every shard is in, when no hint is needed to know it: the only
    /// lane, or the one lane actors have been added to so far ([`Placement::solo`]).
    #[inline]
    fn sole_lane(&self) -> Option<usize> {
        if self.lanes == 1 {
            return Some(0);
        }
        match self.solo.load(Ordering::Relaxed) {
            0 | MANY => None,
            solo => Some(solo - 1),
        }
    }

    /// The lane the hint names, if any actor has been added under it.
    pub fn hinted(&self, hash: u64) -> Option<usize> {
        if self.lanes == 1 {
            return None;
        }
        match self.hint(hash).load(Ordering::Relaxed) {
            0 => None,
            k => Some(usize::from(k - 1)),
        }
    }

    /// Notes that an actor with `hash` was added to lane `own`: its hint names `own`, and
    /// [`Placement::solo`] hears of it. Called with every lane of the shard locked.
    pub fn added(&self, hash: u64, own: usize) {
        if self.lanes == 1 {
            return;
        }
        // At most 8 lanes: the number fits.
        self.hint(hash).store(own as u8 + 1, Ordering::Relaxed);
        let solo = self.solo.load(Ordering::Relaxed);
        if solo == own + 1 || solo == MANY {
            return;
        }
        if solo != 0
            || self
                .solo
                .compare_exchange(0, own + 1, Ordering::Relaxed, Ordering::Relaxed)
                .is_err_and(|now| now != own + 1)
        {
            self.solo.store(MANY, Ordering::Relaxed);
        }
    }

    /// The hinted lane (or the first), then the shard's others.
    pub fn search_order(&self, hash: u64) -> impl Iterator<Item = usize> + use<> {
        let first = self.first_lane(hash, || 0);
        let lanes = self.lanes;
        std::iter::once(first).chain((0..lanes).filter(move |&k| k != first))
    }

    /// The lane the calling thread adds new actors to: its usual lane once it leans on one (so
    /// a thread's actors stay together, whatever number it was given), else its number's.
    pub fn own_lane(&self) -> usize {
        usual::leaning().unwrap_or_else(thread_number) & (self.lanes - 1)
    }
}

/// The calling thread's number, given on first use: a thread adds the actors it is the first to
/// check to lane `number % lanes` of their shard.
pub(super) fn thread_number() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static NUMBER: usize = NEXT.fetch_add(1, Ordering::Relaxed));
    // During the thread's own teardown its number is gone: any lane will do.
    NUMBER.try_with(|n| *n).unwrap_or(0)
}

/// How a check chose the lane it looked in first, which tells [`usual`] what its finding means.
#[derive(Clone, Copy)]
pub(super) enum Way {
    /// One lane holds every actor (or the hint named none): nothing to learn.
    Known,
    /// The thread's trusted usual lane, without reading the hint.
    Usual,
    /// The lane the hint named.
    Hinted,
}
