//! A window's records, oldest first, in one buffer of 64-bit words, in one of two layouts:
//!
//! - [`Layout::Full`]: four words a record (time, key, target, weight): 32 bytes.
//! - [`Layout::Times`]: one word a record, its time, for a window whose records all have one
//!   key, one target and weight 1 (a client polling one route, a cron job's one command, a
//!   flood of one request): 8 bytes. The key and target are the window's own (it keeps them
//!   anyway), so every record reads back whole.
//!
//! The layout is the window's to choose and to keep (it knows when its records stop sharing
//! a key); the ring only stores and converts. A quarter of the memory for the common case is
//! also a quarter of the cache lines a check writes and expires when many actors are live.

use super::Record;

/// Weight 1 in the records' millionths: the weight of every record in [`Layout::Times`].
pub(crate) const WEIGHT_ONE: u64 = 1_000_000;

/// How a ring's words make records.
#[derive(Debug, Clone, Copy)]
pub(super) enum Layout {
    /// Time, key, target, weight.
    Full,
    /// Time only; every record has this key and target, and weight 1.
    Times { key: u64, target: u64 },
}

impl Layout {
    /// Words a record, as a shift.
    #[inline]
    fn shift(self) -> u32 {
        match self {
            Layout::Full => 2,
            Layout::Times { .. } => 0,
        }
    }

    /// Whether `rec` can be kept in this layout.
    #[inline]
    pub fn holds(self, rec: &Record) -> bool {
        match self {
            Layout::Full => true,
            Layout::Times { key, target } => {
                rec.key == key && rec.target == target && rec.weight == WEIGHT_ONE
            }
        }
    }
}

/// A ring of records whose capacity is a power of two. In [`Layout::Times`] each record slot
/// holds four times (its four words), so the same buffer serves both layouts: a full record is
/// one slot, read and written whole, and never wraps.
#[derive(Debug, Clone)]
pub(super) struct Ring {
    slots: Box<[Record]>,
    /// Index of the oldest word (a multiple of four in [`Layout::Full`]).
    head: usize,
    /// Records held.
    len: usize,
}

impl Default for Ring {
    fn default() -> Self {
        Ring::new()
    }
}

const EMPTY: Record = Record {
    ts: 0,
    key: 0,
    target: 0,
    weight: 0,
};

/// Word `i` (0 to 3) of a slot holding times.
#[inline]
fn word(slot: &Record, i: usize) -> u64 {
    match i {
        0 => slot.ts,
        1 => slot.key,
        2 => slot.target,
        _ => slot.weight,
    }
}

#[inline]
fn word_mut(slot: &mut Record, i: usize) -> &mut u64 {
    match i {
        0 => &mut slot.ts,
        1 => &mut slot.key,
        2 => &mut slot.target,
        _ => &mut slot.weight,
    }
}

impl Ring {
    /// An empty ring with room for one full record.
    pub fn new() -> Self {
        Ring::with_slots(1)
    }

    /// An empty ring with room for `slots` slots (rounded up to a power of two).
    fn with_slots(slots: usize) -> Self {
        let cap = slots.max(1).checked_next_power_of_two().unwrap_or(slots);
        Ring {
            slots: vec![EMPTY; cap].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    /// Mask of a word index.
    #[inline]
    fn word_mask(&self) -> usize {
        self.slots.len() * 4 - 1
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The record `i` places from the oldest.
    #[inline]
    pub fn get(&self, layout: Layout, i: usize) -> Option<Record> {
        (i < self.len).then(|| self.at(layout, i))
    }

    /// The record `i` places from the oldest, `i` below the length.
    #[inline]
    fn at(&self, layout: Layout, i: usize) -> Record {
        let at = (self.head + (i << layout.shift())) & self.word_mask();
        match layout {
            Layout::Full => self.slots[at >> 2],
            Layout::Times { key, target } => Record {
                ts: word(&self.slots[at >> 2], at & 3),
                key,
                target,
                weight: WEIGHT_ONE,
            },
        }
    }

    #[inline]
    pub fn front(&self, layout: Layout) -> Option<Record> {
        self.get(layout, 0)
    }

    #[inline]
    pub fn back(&self, layout: Layout) -> Option<Record> {
        self.get(layout, self.len.checked_sub(1)?)
    }

    /// The records, oldest first.
    #[inline]
    pub fn iter(&self, layout: Layout) -> impl ExactSizeIterator<Item = Record> + '_ {
        (0..self.len).map(move |i| self.at(layout, i))
    }

    /// The records of a ring in [`Layout::Full`] (only: in [`Layout::Times`] a slot holds four
    /// times), oldest first: the window's scans of its few records, as two runs of slots.
    #[inline]
    pub fn full(&self) -> impl Iterator<Item = &Record> + '_ {
        debug_assert!(
            self.len <= self.slots.len(),
            "a ring of times read as full records"
        );
        let (wrapped, from_head) = self.slots.split_at(self.head >> 2);
        let run = from_head.len().min(self.len);
        from_head[..run].iter().chain(&wrapped[..self.len - run])
    }

    /// Appends `rec`, which the layout must hold (in [`Layout::Times`] only its time is kept).
    #[inline]
    pub fn push(&mut self, layout: Layout, rec: Record) {
        debug_assert!(layout.holds(&rec), "{rec:?} does not fit {layout:?}");
        if (self.len + 1) << layout.shift() > self.slots.len() * 4 {
            self.grow(layout);
        }
        let at = (self.head + (self.len << layout.shift())) & self.word_mask();
        match layout {
            Layout::Full => self.slots[at >> 2] = rec,
            Layout::Times { .. } => *word_mut(&mut self.slots[at >> 2], at & 3) = rec.ts,
        }
        self.len += 1;
    }

    /// Removes and returns the oldest record.
    #[inline]
    pub fn pop_front(&mut self, layout: Layout) -> Option<Record> {
        if self.len == 0 {
            return None;
        }
        let mask = self.word_mask();
        let rec = match layout {
            Layout::Full => {
                let rec = self.slots[self.head >> 2];
                self.head = (self.head + 4) & mask;
                rec
            }
            Layout::Times { key, target } => {
                let ts = word(&self.slots[self.head >> 2], self.head & 3);
                self.head = (self.head + 1) & mask;
                Record {
                    ts,
                    key,
                    target,
                    weight: WEIGHT_ONE,
                }
            }
        };
        self.len -= 1;
        Some(rec)
    }

    /// Doubles the room, from at least four slots (as `Vec` grows).
    #[cold]
    #[inline(never)]
    fn grow(&mut self, layout: Layout) {
        self.regrow(layout, (self.slots.len() * 2).max(4));
    }

    /// The same records in `slots` slots (room for at least the records held), oldest first.
    fn regrow(&mut self, layout: Layout, slots: usize) {
        let words = self.len << layout.shift();
        let mut next = Ring::with_slots(slots.max(words.div_ceil(4)));
        if self.head % 4 == 0 && words % 4 == 0 {
            // Whole slots (always, for full records): copied as the two runs they sit in.
            let (wrapped, from_head) = self.slots.split_at(self.head >> 2);
            let run = from_head.len().min(words / 4);
            next.slots[..run].copy_from_slice(&from_head[..run]);
            next.slots[run..words / 4].copy_from_slice(&wrapped[..words / 4 - run]);
        } else {
            let mask = self.word_mask();
            for i in 0..words {
                let at = (self.head + i) & mask;
                *word_mut(&mut next.slots[i >> 2], i & 3) = word(&self.slots[at >> 2], at & 3);
            }
        }
        next.len = self.len;
        *self = next;
    }

    /// Rewrites every record from one layout into another, which must hold them all: once, when
    /// a window's records start or stop sharing one key (see the window's amortized bound).
    pub fn relayout(&mut self, from: Layout, to: Layout) {
        let words = self.len << to.shift();
        let mut next = Ring::with_slots(words.div_ceil(4));
        for rec in self.iter(from) {
            next.push(to, rec);
        }
        *self = next;
    }

    /// Makes room for `additional` more records at once (restoring a long window).
    pub fn reserve(&mut self, layout: Layout, additional: usize) {
        let words = additional
            .checked_add(self.len)
            .and_then(|n| n.checked_mul(1 << layout.shift()));
        match words {
            Some(words) if words > self.slots.len() * 4 => {
                self.regrow(layout, words.div_ceil(4));
            }
            _ => {}
        }
    }

    /// Gives back the memory of an empty ring but room for one full record.
    pub fn shrink(&mut self) {
        if self.len == 0 && self.slots.len() > 1 {
            *self = Ring::new();
        }
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Record>()
    }
}
