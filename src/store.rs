//! The actor store: every tracked actor's window and escalation, sharded so that checks on
//! different actors run in parallel.
//!
//! Actors are spread over up to 64 shards by a keyed hash of their id. Each shard has:
//! - **slots**, one per tracked actor, in an arena of doubling chunks that are never moved or
//!   freed while the store lives (a forgotten actor's slot is reused through a free list). Each
//!   slot is three cache lines and carries its own lock: an actor's state is only ever read or
//!   written with its slot locked;
//! - an **index** from the hash to the slot number, open addressing over atomic words, that a
//!   check reads without any shard-wide lock;
//! - a **mutex**, the authority for everything that changes which actors the shard holds:
//!   inserting, sweeping, evicting, clearing, and every write to the index.
//!
//! A check of a known actor probes the index, locks the actor's slot and confirms under that
//! lock that the slot still holds the actor; it writes no line that another actor's check
//! writes, so two threads on different actors do not slow each other down. Anything else (a new
//! actor; a slot recycled or an index changing under the probe; one check in sixteen, which keeps
//! the shard's housekeeping going) takes the shard's mutex and looks again there. Nothing a probe
//! can reach is ever freed while the store lives (a grown index keeps the old one until then),
//! so a stale probe reads valid memory and its answer is only ever a hint.
//!
//! Memory stays bounded two ways:
//! - **expiry**: actors whose window has passed and whose escalation has cooled down are dropped by
//!   a sweep that each shard runs after about four times as many checks as it holds actors (at
//!   least 64), which costs O(1) amortized per check;
//! - **the actor cap** (`max_actors`, split evenly over the shards): a new actor arriving at a full
//!   shard first triggers a sweep; if that frees less than 1/16 of the shard, the least recently
//!   active actors are evicted until 1/16 is free. Eviction is therefore by shard, not global, and
//!   in batches: the cap holds exactly, and the actors evicted are the least recently active of
//!   their shard.
//!
//! A shard's slots and index keep the size of the most actors it held at once (at most its cap)
//! until the store drops; hashbrown's tables behaved the same way.
//!
//! Locks are taken in one order: a shard's mutex, then its slots, one at a time. A check on the
//! fast path holds one slot lock and waits for nothing else while holding it.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use crate::baseline::Baseline;
use crate::clock::{to_nanos, Clock};
use crate::escalation::Escalation;
use crate::policy::Policy;
use crate::window::Window;

/// Everything the guard remembers about one actor.
///
/// `repr(C)` keeps the field order: with [`Tracked`]'s id in front, the policy and the window's
/// record buffer header share the slot's first cache line, the running figures its second.
#[derive(Debug, Clone)]
#[repr(C)]
pub(crate) struct ActorState {
    pub policy: Arc<Policy>,
    pub window: Window,
    pub escalation: Escalation,
    pub baseline: Baseline,
}

impl ActorState {
    pub fn new(policy: Arc<Policy>) -> Self {
        ActorState {
            policy,
            window: Window::new(),
            escalation: Escalation::default(),
            baseline: Baseline::default(),
        }
    }

    /// Engine time of the actor's latest event.
    pub fn last_seen(&self) -> u64 {
        self.window.last_ts()
    }

    /// From when on the actor has nothing left to remember: window passed, escalation cooled
    /// down, and no baseline learned (`u64::MAX`: a learned normal is kept until `max_actors`
    /// evicts it; forgetting it when the actor goes quiet would start its learning over at every
    /// pause). A check can only move it later.
    pub fn forgettable_from(&self) -> u64 {
        if self.baseline.count != 0 {
            return u64::MAX;
        }
        let window = self
            .window
            .newest_ts()
            .map_or(0, |ts| ts.saturating_add(self.policy.window_ns));
        window.max(self.escalation.cold_from(&self.policy))
    }
}

/// A tracked actor: its id and its state.
pub(crate) struct Tracked {
    pub id: ActorId,
    pub state: ActorState,
}

/// One actor's place in a shard's arena: exactly three cache lines, aligned to them, the lock
/// (one byte: std's mutex would take eight and push the slot to four lines) sharing the first
/// with the id and the start of the state. `None` while the slot is free.
#[repr(align(64))]
pub(crate) struct Slot(parking_lot::Mutex<Option<Tracked>>);

impl Slot {
    fn empty() -> Self {
        Slot(parking_lot::Mutex::new(None))
    }

    /// The slot locked, when it holds `id` (or any actor, for `None`); unlocked otherwise.
    /// `wait`: wait for the lock rather than give up when it is held.
    fn lock_if(&self, id: Option<&str>, wait: bool) -> Option<SlotGuard<'_>> {
        let guard = if wait {
            self.0.lock()
        } else {
            self.0.try_lock()?
        };
        match &*guard {
            Some(t) if id.is_none_or(|id| t.id.is(id)) => Some(SlotGuard(guard)),
            _ => None,
        }
    }

    /// Asks the core to bring the slot's three lines into cache, reading nothing. See
    /// [`Guard::assess_batch`](crate::Guard::assess_batch).
    pub fn prefetch(&self) {
        let start = std::ptr::from_ref(self).cast::<u8>();
        for line in 0..3 {
            prefetch(start.wrapping_add(line * 64));
        }
    }

    /// Asks the core for the lines of the actor's window records a check reads, when the slot is
    /// free to lock now (a busy one is being checked, so its lines are on their way anyway).
    pub fn prefetch_records(&self) {
        if let Some(guard) = self.lock_if(None, false) {
            guard.state.window.prefetch(prefetch);
        }
    }
}

/// A hint to the core that `p` will be read soon. Not a memory access: any address will do.
#[inline]
#[allow(unsafe_code)] // the library's one unsafe block: a hint, explained at the block
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the only requirement is the target feature, SSE, which every x86_64 target has.
    // A prefetch reads no memory in the language's sense and cannot fault, whatever `p` is.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A locked slot that holds an actor; unlocks on drop.
pub(crate) struct SlotGuard<'s>(parking_lot::MutexGuard<'s, Option<Tracked>>);

impl Deref for SlotGuard<'_> {
    type Target = Tracked;
    fn deref(&self) -> &Tracked {
        match &*self.0 {
            Some(t) => t,
            None => unreachable!("a slot guard is only made for a slot holding an actor"),
        }
    }
}

impl DerefMut for SlotGuard<'_> {
    fn deref_mut(&mut self) -> &mut Tracked {
        match &mut *self.0 {
            Some(t) => t,
            None => unreachable!("a slot guard is only made for a slot holding an actor"),
        }
    }
}

impl SlotGuard<'_> {
    /// Empties the slot (the caller then unfiles it), returning what it held.
    fn take(mut self) -> Option<Tracked> {
        self.0.take()
    }
}

/// An actor id: up to 22 bytes inline in the slot (user ids, IPv4 addresses), longer on the heap.
/// Comparing an inline id reads no memory beyond the slot, which a lookup has loaded anyway.
pub(crate) enum ActorId {
    Inline { len: u8, bytes: [u8; 22] },
    Heap(Box<str>),
}

impl ActorId {
    fn new(id: &str) -> Self {
        match u8::try_from(id.len()) {
            Ok(len) if id.len() <= 22 => {
                let mut bytes = [0; 22];
                bytes[..id.len()].copy_from_slice(id.as_bytes());
                ActorId::Inline { len, bytes }
            }
            _ => ActorId::Heap(id.into()),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            ActorId::Inline { len, bytes } => &bytes[..usize::from(*len)],
            ActorId::Heap(s) => s.as_bytes(),
        }
    }

    fn is(&self, id: &str) -> bool {
        self.as_bytes() == id.as_bytes()
    }

    pub fn heap_bytes(&self) -> usize {
        match self {
            ActorId::Inline { .. } => 0,
            ActorId::Heap(s) => s.len(),
        }
    }
}

impl std::fmt::Display for ActorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Always valid: copied whole from a `str`.
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// Slots in a shard's first chunk; chunk `k` holds `FIRST_CHUNK << k`.
const FIRST_CHUNK: usize = 16;
/// Chunks a shard can have: room for 16 * (2^28 - 1) slots, just under `u32::MAX`.
const CHUNKS: usize = 28;
/// The most slots a shard can number.
const MAX_SLOTS: usize = FIRST_CHUNK * ((1 << CHUNKS) - 1);
/// Sizes an index can grow through: 16 entries, doubling, up to past `2 * MAX_SLOTS`.
const INDEX_SIZES: usize = 30;

/// The chunk of slot `n`, and its place there.
fn locate(n: usize) -> (usize, usize) {
    let q = n / FIRST_CHUNK + 1;
    let k = q.ilog2() as usize;
    (k, n - FIRST_CHUNK * ((1 << k) - 1))
}

/// A shard's index: open addressing with linear probing over words holding a hash tag (high
/// half) and a slot number plus one (low half; 0 is an empty entry). At most half full; entries
/// are removed by shifting the ones after them back, so there are no tombstones. Written only
/// under the shard's mutex, read by anyone.
struct Index {
    mask: usize,
    entries: Box<[AtomicU64]>,
}

impl Index {
    fn with_len(len: usize) -> Self {
        Index {
            mask: len - 1,
            entries: (0..len).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn entry(tag: u32, slot: usize) -> u64 {
        (u64::from(tag) << 32) | (slot as u64 + 1)
    }

    fn home(&self, entry: u64) -> usize {
        (entry >> 32) as usize & self.mask
    }

    /// Files `entry`, which is not in the index; the index has room.
    fn insert(&self, entry: u64) {
        let mut pos = self.home(entry);
        while self.entries[pos].load(Ordering::Relaxed) != 0 {
            pos = (pos + 1) & self.mask;
        }
        self.entries[pos].store(entry, Ordering::Release);
    }

    /// Unfiles `entry`, which is in the index.
    fn remove(&self, entry: u64) {
        let mut hole = self.home(entry);
        while self.entries[hole].load(Ordering::Relaxed) != entry {
            hole = (hole + 1) & self.mask;
        }
        let mut next = hole;
        loop {
            next = (next + 1) & self.mask;
            let e = self.entries[next].load(Ordering::Relaxed);
            if e == 0 {
                break;
            }
            // `e` may fill the hole when the hole lies between its home and where it is.
            let wanted = self.home(e);
            if next.wrapping_sub(wanted) & self.mask >= next.wrapping_sub(hole) & self.mask {
                self.entries[hole].store(e, Ordering::Release);
                hole = next;
            }
        }
        self.entries[hole].store(0, Ordering::Release);
    }

    fn filed(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries
            .iter()
            .map(|e| e.load(Ordering::Relaxed))
            .filter(|&e| e != 0)
    }

    /// The first slot number filed under `tag`.
    fn first(&self, tag: u32) -> Option<usize> {
        let mut pos = tag as usize;
        for _ in 0..=self.mask {
            pos &= self.mask;
            match self.entries[pos].load(Ordering::Relaxed) {
                0 => return None,
                e if (e >> 32) as u32 == tag => return Some((e as u32 - 1) as usize),
                _ => pos += 1,
            }
        }
        None
    }
}

/// What only the holder of a shard's mutex reads or writes.
struct Books {
    len: usize,
    cap: usize,
    /// Slot numbers handed out so far: the arena's slots `0..tags.len()` exist.
    tags: Vec<u32>,
    free: Vec<u32>,
    checks_since_sweep: usize,
    /// Latest engine time seen by the checks that took the mutex.
    latest: u64,
    /// No actor of the shard can be forgotten before this time: the earliest
    /// [`ActorState::forgettable_from`] seen by the last sweep, or the time a newer actor
    /// arrived. Checks only move actors' times later, so it stays a lower bound without them
    /// telling the books, and a sweep before it is skipped.
    forget_from: u64,
    evicted: u64,
}

/// The books on a line of their own: the mutex's word is written by every locked check; the
/// index and chunks beside it are read by every check.
#[repr(align(64))]
struct PaddedBooks(Mutex<Books>);

/// One shard: what a check reads without locking, and the books behind the mutex.
///
/// Chunks and indexes are set once and never moved or dropped before the shard: a probe that
/// read an index about to be replaced, or a slot number about to be recycled, reads valid
/// memory, and the slot's lock and id tell it whether it found its actor.
#[repr(align(128))]
struct ShardCell {
    /// Which of `indexes` is current (the newest).
    current: AtomicUsize,
    indexes: [OnceLock<Index>; INDEX_SIZES],
    chunks: [OnceLock<Box<[Slot]>>; CHUNKS],
    books: PaddedBooks,
}

impl ShardCell {
    fn new(cap: usize) -> Self {
        let cell = ShardCell {
            current: AtomicUsize::new(0),
            indexes: std::array::from_fn(|_| OnceLock::new()),
            chunks: std::array::from_fn(|_| OnceLock::new()),
            books: PaddedBooks(Mutex::new(Books {
                len: 0,
                cap,
                tags: Vec::new(),
                free: Vec::new(),
                checks_since_sweep: 0,
                latest: 0,
                forget_from: u64::MAX,
                evicted: 0,
            })),
        };
        let _ = cell.indexes[0].set(Index::with_len(16));
        cell
    }

    #[inline]
    fn index(&self) -> &Index {
        let current = self.current.load(Ordering::Acquire);
        self.indexes[current]
            .get()
            .expect("an index is set before it becomes current")
    }

    /// Slot `n`, which must have been handed out (its chunk exists).
    #[inline]
    fn slot(&self, n: usize) -> &Slot {
        let (chunk, at) = locate(n);
        &self.chunks[chunk]
            .get()
            .expect("a chunk is set before any slot number in it is handed out")[at]
    }

    /// The slot holding `id`, locked. `None` when the index does not lead to it: under the
    /// shard's mutex that means the shard does not hold `id`; without it, look again under it.
    #[inline]
    fn find(&self, hash: u64, id: &str) -> Option<(usize, SlotGuard<'_>)> {
        let tag = hash as u32;
        let index = self.index();
        let mut pos = tag as usize;
        // Bounded: without the mutex, the index may change under the probe.
        for _ in 0..=index.mask {
            pos &= index.mask;
            let e = index.entries[pos].load(Ordering::Acquire);
            if e == 0 {
                return None;
            }
            if (e >> 32) as u32 == tag {
                let n = (e as u32 - 1) as usize;
                if let Some(guard) = self.slot(n).lock_if(Some(id), true) {
                    return Some((n, guard));
                }
            }
            pos += 1;
        }
        None
    }
}

/// A shard with its mutex held.
pub(crate) struct Shard<'s> {
    cell: &'s ShardCell,
    books: MutexGuard<'s, Books>,
}

impl<'s> Shard<'s> {
    /// The state of `id`, created with `policy` when new, after housekeeping at time `now`.
    ///
    /// The housekeeping (the shard's latest time, the sweep count) is done for new actors and
    /// for the checks whose turn it is ([`housekeeping_turn`]), each standing for sixteen; any
    /// other check of a known actor finds the same slot here or on the fast path
    /// ([`Store::fast_check`]) and counts for nothing. So a check does the same either way, and a
    /// run repeats exactly. A sweep skips the slot returned locked: it is getting an event.
    pub fn actor(
        &mut self,
        hash: u64,
        id: &str,
        now: u64,
        clock: &dyn Clock,
        policy: impl FnOnce() -> Arc<Policy>,
    ) -> SlotGuard<'s> {
        if let Some((_, guard)) = self.cell.find(hash, id) {
            if housekeeping_turn(hash, now, &guard.state) {
                self.count_checks(HOUSEKEEPING_SHARE, now, clock);
            }
            return guard;
        }
        self.count_checks(1, now, clock);
        if self.books.len >= self.books.cap {
            self.make_room(clock);
        }
        // The new actor's first event is at `now` or later (a window never goes back).
        self.books.forget_from = self.books.forget_from.min(now);
        self.insert(hash, id, policy())
    }

    /// Counts `checks` checks at `now`, and sweeps when their count is due.
    fn count_checks(&mut self, checks: usize, now: u64, clock: &dyn Clock) {
        self.books.latest = self.books.latest.max(now);
        self.books.checks_since_sweep += checks;
        if self.books.checks_since_sweep >= (self.books.len * 4).max(64) {
            self.sweep(clock);
        }
    }

    fn insert(&mut self, hash: u64, id: &str, policy: Arc<Policy>) -> SlotGuard<'s> {
        let tag = hash as u32;
        let n = self.slot_number(tag);
        let mut guard = self.cell.slot(n).0.lock();
        *guard = Some(Tracked {
            id: ActorId::new(id),
            state: ActorState::new(policy),
        });
        self.books.len += 1;
        if self.books.len * 2 > self.cell.index().entries.len() {
            self.grow_index();
        }
        self.cell.index().insert(Index::entry(tag, n));
        SlotGuard(guard)
    }

    /// A free slot's number, for an actor filed under `tag`: a recycled one, or the next, its
    /// chunk allocated when new.
    fn slot_number(&mut self, tag: u32) -> usize {
        if let Some(n) = self.books.free.pop() {
            self.books.tags[n as usize] = tag;
            return n as usize;
        }
        let n = self.books.tags.len();
        let (chunk, at) = locate(n);
        if at == 0 {
            let slots = (0..FIRST_CHUNK << chunk).map(|_| Slot::empty()).collect();
            let _ = self.cell.chunks[chunk].set(slots);
        }
        self.books.tags.push(tag);
        n
    }

    /// Makes an index twice the size current; the old one stays for probes reading it.
    fn grow_index(&mut self) {
        let old = self.cell.index();
        let new = Index::with_len(old.entries.len() * 2);
        for e in old.filed() {
            new.insert(e);
        }
        let next = self.cell.current.load(Ordering::Relaxed) + 1;
        let _ = self.cell.indexes[next].set(new);
        self.cell.current.store(next, Ordering::Release);
    }

    /// Forgets the actor in slot `n` (locked by `guard`).
    fn unfile(&mut self, n: usize, guard: SlotGuard<'s>) {
        drop(guard.take());
        let tag = self.books.tags[n];
        self.cell.index().remove(Index::entry(tag, n));
        self.books.free.push(n as u32);
        self.books.len -= 1;
    }

    /// `id`'s state, locked.
    pub fn get(&self, hash: u64, id: &str) -> Option<SlotGuard<'s>> {
        self.cell.find(hash, id).map(|(_, guard)| guard)
    }

    pub fn remove(&mut self, hash: u64, id: &str) -> bool {
        match self.cell.find(hash, id) {
            Some((n, guard)) => {
                self.unfile(n, guard);
                true
            }
            None => false,
        }
    }

    /// The slots handed out, with their numbers, each locked in turn when it holds an actor
    /// (`wait`: waiting for a check holding it; else skipping it).
    fn each(&self, wait: bool) -> impl Iterator<Item = (usize, SlotGuard<'s>)> + use<'s> {
        let cell = self.cell;
        (0..self.books.tags.len()).filter_map(move |n| Some((n, cell.slot(n).lock_if(None, wait)?)))
    }

    /// Drops the actors with nothing left to remember, unless none can be yet (`forget_from`):
    /// then no slot is touched, so a sweep costs the threads checking this shard's actors
    /// nothing. A slot locked by a check is skipped: it is getting an event, so it has
    /// something to remember.
    ///
    /// "Now" is the shard's latest event time, but never past the clock: one event stamped in the
    /// future (within `future_tolerance_secs`) must not make other actors' live windows look
    /// expired.
    fn sweep(&mut self, clock: &dyn Clock) {
        self.books.checks_since_sweep = 0;
        let now = self.books.latest.min(to_nanos(clock.now()));
        if now < self.books.forget_from {
            return;
        }
        let mut forget_from = u64::MAX;
        for n in 0..self.books.tags.len() {
            let Some(guard) = self.cell.slot(n).lock_if(None, false) else {
                // Free, or busy: a busy one's time is unknown, so the next sweep looks again.
                if self.cell.slot(n).0.is_locked() {
                    forget_from = now;
                }
                continue;
            };
            let from = guard.state.forgettable_from();
            if from <= now {
                self.unfile(n, guard);
            } else {
                forget_from = forget_from.min(from);
            }
        }
        self.books.forget_from = forget_from;
    }

    /// Frees at least 1/16 of the cap: expired actors first, then the least recently active
    /// (as of when each was looked at: a check meanwhile does not save it, so the cap holds
    /// exactly; between equals, the lower slot number goes first).
    fn make_room(&mut self, clock: &dyn Clock) {
        self.sweep(clock);
        let cap = self.books.cap;
        let target = cap - (cap / 16).max(1).min(cap);
        if self.books.len <= target {
            return;
        }
        let excess = self.books.len - target;
        let mut seen: Vec<(u64, usize)> = self
            .each(true)
            .map(|(n, guard)| (guard.state.last_seen(), n))
            .collect();
        seen.select_nth_unstable(excess - 1);
        for &(_, n) in &seen[..excess] {
            // Live: only the holder of the mutex, this thread, forgets actors.
            if let Some(guard) = self.cell.slot(n).lock_if(None, true) {
                self.unfile(n, guard);
            }
        }
        self.books.evicted += excess as u64;
    }

    /// Every tracked actor, each locked while it is looked at.
    pub fn iter(&self) -> impl Iterator<Item = SlotGuard<'s>> + use<'s> {
        self.each(true).map(|(_, guard)| guard)
    }

    pub fn len(&self) -> usize {
        self.books.len
    }

    pub fn evicted(&self) -> u64 {
        self.books.evicted
    }

    /// Forgets every actor; the slots and the index keep their size.
    pub fn clear(&mut self) {
        for (n, guard) in self.each(true) {
            self.unfile(n, guard);
        }
        self.books.checks_since_sweep = 0;
        self.books.latest = 0;
        self.books.forget_from = u64::MAX;
    }

    /// The first slot whose tag matches `hash`'s, found reading only the index: nearly always
    /// the slot of the actor with that hash, if the shard holds it (no id is compared). For
    /// [`Slot::prefetch`] and [`Slot::prefetch_records`].
    pub fn candidate(&self, hash: u64) -> Option<&'s Slot> {
        let cell = self.cell;
        cell.index().first(hash as u32).map(|n| cell.slot(n))
    }

    /// Heap bytes: the arena, the indexes and every actor's own allocations.
    pub fn heap_bytes(&self) -> usize {
        let slots = self.cell.chunks.iter().filter_map(OnceLock::get);
        let indexes = self.cell.indexes.iter().filter_map(OnceLock::get);
        slots.map(|c| std::mem::size_of_val(&**c)).sum::<usize>()
            + indexes.map(|i| i.entries.len() * 8).sum::<usize>()
            + (self.books.tags.capacity() + self.books.free.capacity()) * 4
            + self
                .iter()
                .map(|t| t.id.heap_bytes() + t.state.window.heap_bytes())
                .sum::<usize>()
    }
}

/// All shards.
pub(crate) struct Store {
    shards: Box<[ShardCell]>,
    mask: usize,
}

impl Store {
    /// A store that holds at most `max_actors` actors.
    pub fn new(max_actors: u64) -> Self {
        let max_actors = usize::try_from(max_actors).unwrap_or(usize::MAX).max(1);
        // Small caps get few shards, so the cap is not split into slivers.
        let shards = (max_actors / 1024).clamp(1, 64).next_power_of_two().min(64);
        let cap = max_actors.div_ceil(shards).min(MAX_SLOTS);
        Store {
            shards: (0..shards).map(|_| ShardCell::new(cap)).collect(),
            mask: shards - 1,
        }
    }

    /// A check's fast path, for an event at `now`: the slot of `id`, locked, when its shard's
    /// index leads to it without the shard's mutex. `None`: take the mutex ([`Store::shard`])
    /// and look there ([`Shard::actor`]). One check in sixteen of a known actor takes the mutex
    /// whatever happens, to keep the shard's housekeeping going ([`housekeeping_turn`]).
    pub fn fast_check(&self, hash: u64, id: &str, now: u64) -> Option<SlotGuard<'_>> {
        let (_, guard) = self.shards[self.index(hash)].find(hash, id)?;
        (!housekeeping_turn(hash, now, &guard.state)).then_some(guard)
    }

    /// The shard of an actor hash, locked. A poisoned lock (a panic elsewhere while holding it)
    /// is recovered: the shard's books are always consistent between operations.
    pub fn shard(&self, hash: u64) -> Shard<'_> {
        lock(&self.shards[self.index(hash)])
    }

    pub fn shards(&self) -> impl Iterator<Item = Shard<'_>> + '_ {
        self.shards.iter().map(lock)
    }

    /// The shards of all of `hashes`, each locked once, in ascending order (so two batches
    /// never wait for each other in a circle; a single check holds one lock at a time).
    pub fn lock_for(&self, hashes: impl Iterator<Item = u64>) -> Locked<'_> {
        // At most 64 shards: one bit each.
        let wanted = hashes.fold(0u64, |bits, hash| bits | 1 << self.index(hash));
        Locked {
            store: self,
            held: (0..self.shards.len())
                .map(|i| (wanted & 1 << i != 0).then(|| lock(&self.shards[i])))
                .collect(),
        }
    }

    /// Bits 32 and up: the index uses the low 32 as its tag.
    fn index(&self, hash: u64) -> usize {
        (hash >> 32) as usize & self.mask
    }
}

/// Whether a check of the known actor with `hash` and `state`, at `now`, is one of the one in
/// sixteen that take the shard's mutex whatever happens. A function of the event and of the
/// actor's memory alone, so that a batch and single checks, or a run and its replay, keep house
/// at the same checks; the window's length varies it between events stamped alike.
fn housekeeping_turn(hash: u64, now: u64, state: &ActorState) -> bool {
    let events = (state.window.len() as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    (hash ^ now ^ events).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60 == 0
}

/// How many checks one that takes the mutex on its turn stands for in its shard's sweep count.
const HOUSEKEEPING_SHARE: usize = 16;

/// Shards locked together by [`Store::lock_for`], released on drop.
pub(crate) struct Locked<'a> {
    store: &'a Store,
    held: Vec<Option<Shard<'a>>>,
}

impl<'a> Locked<'a> {
    /// The shard of `hash`, if `lock_for` was told of it.
    pub fn get(&self, hash: u64) -> Option<&Shard<'a>> {
        self.held[self.store.index(hash)].as_ref()
    }

    /// The shard of `hash`, which `lock_for` must have been told of: locking another one now,
    /// out of the ascending order, could wait in a circle with another batch.
    pub fn shard(&mut self, hash: u64) -> &mut Shard<'a> {
        let index = self.store.index(hash);
        self.held[index]
            .as_mut()
            .expect("Store::lock_for was told of every hash the batch checks")
    }
}

fn lock(cell: &ShardCell) -> Shard<'_> {
    Shard {
        cell,
        books: cell
            .books
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    }
}

#[cfg(test)]
mod tests {
    use super::ActorId;

    #[test]
    fn an_actor_is_forgettable_from_when_its_window_has_passed_and_it_is_cold() {
        use crate::config::Settings;
        use crate::window::Record;
        const SEC: u64 = 1_000_000_000;
        let policy = std::sync::Arc::new(crate::policy::Policy::new(Settings {
            window_secs: 10.0,
            escalation_strikes: 2,
            escalation_cooldown_secs: 30.0,
            ..Settings::default()
        }));
        let mut state = super::ActorState::new(policy.clone());
        assert_eq!(state.forgettable_from(), 0, "nothing in it yet");
        let record = |ts| Record {
            ts,
            key: 1,
            target: 1 << 63,
            weight: 1_000_000,
        };
        state.window.push(record(100 * SEC), &policy);
        assert_eq!(state.forgettable_from(), 110 * SEC, "the window passes");
        for strikes in 1..4 {
            state.escalation.strike(100 * SEC, &policy);
            assert_eq!(state.escalation.strikes, strikes);
        }
        // Three strikes at two a level: two cool-downs of 30 s from the last.
        assert_eq!(state.forgettable_from(), 160 * SEC);
        for now in [0, 110 * SEC, 159 * SEC, 160 * SEC, 500 * SEC] {
            let parts =
                state.window.expired_at(now, &policy) && state.escalation.is_cold_at(now, &policy);
            assert_eq!(now >= state.forgettable_from(), parts, "at {now}");
        }
        state.baseline.count = 1;
        assert_eq!(
            state.forgettable_from(),
            u64::MAX,
            "a learned baseline is kept"
        );
    }

    #[test]
    fn a_slot_is_three_cache_lines() {
        assert_eq!(std::mem::size_of::<super::Slot>(), 192);
    }

    #[test]
    fn ids_round_trip_inline_and_on_the_heap() {
        for id in [
            "",
            "user:1",
            "exactly-twenty-two-b:x",
            "twenty-three-bytes-long",
            "ü".repeat(40).as_str(),
        ] {
            let stored = ActorId::new(id);
            assert!(stored.is(id));
            assert_eq!(stored.to_string(), id);
            assert_eq!(
                matches!(stored, ActorId::Inline { .. }),
                id.len() <= 22,
                "{id}"
            );
        }
        assert!(!ActorId::new("user:1").is("user:12"));
    }
}
