//! What the store keeps for one actor: its state (window, escalation, baseline, policy), the
//! table slot that holds it beside the actor's id and hash (three cache lines), and the id itself.

use std::sync::Arc;

use crate::baseline::Baseline;
use crate::escalation::Escalation;
use crate::policy::Policy;
use crate::window::Window;

/// Everything the guard remembers about one actor.
///
/// `repr(C)` keeps the field order: with [`Slot`]'s id in front, the policy and the window's
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

    /// Nothing left to remember at `now`: window passed, escalation cooled down, and no
    /// baseline learned (a learned normal is kept until `max_actors` evicts it: forgetting it
    /// when the actor goes quiet would start its learning over at every pause).
    pub fn forgettable_at(&self, now: u64) -> bool {
        self.window.expired_at(now, &self.policy)
            && self.escalation.is_cold_at(now, &self.policy)
            && self.baseline.count == 0
    }
}

/// One table entry: exactly three cache lines, aligned to them, so a lookup touches as few
/// lines as possible.
#[repr(C, align(64))]
pub(crate) struct Slot {
    pub(super) hash: u64,
    pub id: ActorId,
    pub state: ActorState,
}

impl Slot {
    /// Reads the slot's first line, changing nothing (the value only keeps the read from being
    /// optimized away). See [`Guard::assess_batch`](crate::Guard::assess_batch).
    pub fn warm_head(&self) -> u64 {
        self.hash
    }

    /// Reads the lines a check will need beyond the slot's first (the other two, the window's
    /// records), changing nothing.
    pub fn warm_rest(&self) -> u64 {
        let state = &self.state;
        state.window.warm() ^ state.escalation.since ^ u64::from(state.baseline.count)
    }
}

/// An actor id: up to 22 bytes inline in the slot (user ids, IPv4 addresses), longer on the heap.
/// Comparing an inline id reads no memory beyond the slot, which a lookup has loaded anyway.
pub(crate) enum ActorId {
    Inline { len: u8, bytes: [u8; 22] },
    Heap(Box<str>),
}

impl ActorId {
    pub(super) fn new(id: &str) -> Self {
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

    pub(super) fn is(&self, id: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::ActorId;

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
