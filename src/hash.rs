//! Hashing: how actor ids, (action, target) pairs and weights become the fixed-size numbers the
//! engine stores.
//!
//! Every hash is keyed xxh3 under the guard's seed (random per guard, carried in snapshots), so
//! an outsider cannot aim ids at one shard or forge colliding targets. The window's count map
//! keys on these hashes as they are ([`IdentityHasher`]): hashing them again would only cost time.

use std::borrow::Cow;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::time::SystemTime;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::clock::to_nanos;

/// Actor ids longer than this many bytes are stored as a prefix plus a hash of the whole id.
pub const MAX_ACTOR_BYTES: usize = 256;

/// Largest weight one event can carry; larger weights count as this.
pub const MAX_EVENT_WEIGHT: f64 = 1e12;

/// The top bit marks target hashes, so keys and targets share one count map without colliding.
pub(crate) const TARGET_BIT: u64 = 1 << 63;

/// An actor as the store keys it: the id it is stored under, and that id's keyed hash.
pub(crate) struct ActorKey<'a> {
    pub id: Cow<'a, str>,
    pub hash: u64,
}

impl<'a> ActorKey<'a> {
    pub fn new(actor: &'a str, seed: u64) -> Self {
        let id = bounded_id(actor, seed);
        let hash = id_hash(&id, seed);
        ActorKey { id, hash }
    }
}

/// The keyed hash of an id that is already bounded (as snapshots store them).
pub(crate) fn id_hash(id: &str, seed: u64) -> u64 {
    xxh3_64_with_seed(id.as_bytes(), seed)
}

/// The id an actor is stored under: itself, or for ids over [`MAX_ACTOR_BYTES`], a prefix and a
/// hash of the whole, so a megabyte-long id costs a few hundred bytes and stays distinct.
fn bounded_id(actor: &str, seed: u64) -> Cow<'_, str> {
    if actor.len() <= MAX_ACTOR_BYTES {
        return Cow::Borrowed(actor);
    }
    let mut end = MAX_ACTOR_BYTES - 24;
    while !actor.is_char_boundary(end) {
        end -= 1;
    }
    let hash = xxh3_64_with_seed(actor.as_bytes(), seed);
    Cow::Owned(format!("{}…#{hash:016x}", &actor[..end]))
}

/// Keyed hashes of (action, target) and of target. The target is hashed once; the key mixes it
/// with the action's hash (a 64-bit finalizer, so distinct pairs collide with probability 2^-63).
pub(crate) fn event_hashes(action: &str, target: &str, seed: u64) -> (u64, u64) {
    let target_h = xxh3_64_with_seed(target.as_bytes(), seed ^ 0xc2b2_ae3d_27d4_eb4f);
    let action_h = xxh3_64_with_seed(action.as_bytes(), seed ^ 0x9e37_79b9_7f4a_7c15);
    let key = mix64(action_h ^ target_h.rotate_left(29).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    (key & !TARGET_BIT, target_h | TARGET_BIT)
}

/// The murmur3 64-bit finalizer: every input bit affects every output bit.
fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Weight in millionths; NaN, infinite and negative weights count as 0.
pub(crate) fn weight_micros(weight: f64) -> u64 {
    if weight.is_nan() || weight <= 0.0 {
        return 0;
    }
    (weight.min(MAX_EVENT_WEIGHT) * 1e6).round() as u64
}

/// Weight in millionths as a weight.
pub(crate) fn weight_units(micros: u128) -> f64 {
    micros as f64 / 1e6
}

/// A fresh hash seed for a new guard.
pub(crate) fn random_seed() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(to_nanos(SystemTime::now()));
    h.finish()
}

/// Hash values are already keyed xxh3 output: the count map uses them as they are.
#[derive(Default, Clone)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A hash map keyed by these hashes, without hashing them again.
pub(crate) type HashMap<V> = hashbrown::HashMap<u64, V, BuildHasherDefault<IdentityHasher>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_targets_never_collide_and_pairs_stay_apart() {
        let (key, target) = event_hashes("GET", "/a", 7);
        assert_eq!(key & TARGET_BIT, 0);
        assert_ne!(target & TARGET_BIT, 0);
        assert_ne!(
            event_hashes("GET", "/a", 7).0,
            event_hashes("/a", "GET", 7).0
        );
        assert_ne!(event_hashes("GET", "/a", 7), event_hashes("GET", "/a", 8));
    }

    #[test]
    fn long_ids_are_bounded_and_distinct() {
        let a = "a".repeat(10_000);
        let b = format!("{}b", "a".repeat(9_999));
        let (ka, kb) = (ActorKey::new(&a, 1), ActorKey::new(&b, 1));
        assert!(ka.id.len() <= MAX_ACTOR_BYTES);
        assert_ne!(ka.id, kb.id);
        assert_eq!(ActorKey::new("user:1", 1).id, "user:1");
    }

    #[test]
    fn weights_are_exact_millionths_and_bad_weights_count_zero() {
        assert_eq!(weight_micros(1.5), 1_500_000);
        for bad in [f64::NAN, -1.0, 0.0, f64::NEG_INFINITY] {
            assert_eq!(weight_micros(bad), 0);
        }
        assert_eq!(
            weight_micros(f64::INFINITY),
            weight_micros(MAX_EVENT_WEIGHT)
        );
        assert_eq!(weight_units(2_500_000), 2.5);
    }
}
