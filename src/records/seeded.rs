//! Hash maps keyed by what clients choose (client ids in `app:` keys, token hashes), hashed with
//! SipHash-1-3 under keys drawn once per isolate.
//!
//! On `wasm32-unknown-unknown` the standard library has no source of randomness, so its
//! `RandomState` hashes with fixed keys: a client could then pick client ids that collide and
//! make every lookup in the per-isolate caches walk a long probe sequence (hash flooding). The
//! adapter draws the keys from `crypto.getRandomValues` before it makes any cache
//! ([`set_keys`]); on the host (tests, tools) they come from the standard library's own random
//! keys.

use siphasher::sip::SipHasher13;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

static K0: AtomicU64 = AtomicU64::new(0);
static K1: AtomicU64 = AtomicU64::new(0);

/// Sets this isolate's keys (the adapter, once, from the runtime's random source).
pub fn set_keys(k0: u64, k1: u64) {
    K0.store(k0, Ordering::Relaxed);
    K1.store(k1, Ordering::Relaxed);
}

/// Builds SipHash-1-3 hashers under the isolate's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    k0: u64,
    k1: u64,
}

impl Default for Seeded {
    fn default() -> Seeded {
        let (k0, k1) = (K0.load(Ordering::Relaxed), K1.load(Ordering::Relaxed));
        #[cfg(not(target_arch = "wasm32"))]
        if k0 == 0 && k1 == 0 {
            let s = std::collections::hash_map::RandomState::new();
            return Seeded {
                k0: s.hash_one(0u8),
                k1: s.hash_one(1u8),
            };
        }
        Seeded { k0, k1 }
    }
}

impl BuildHasher for Seeded {
    type Hasher = SipHasher13;
    fn build_hasher(&self) -> SipHasher13 {
        SipHasher13::new_with_keys(self.k0, self.k1)
    }
}

/// A hash map under the isolate's keys.
pub type SeededMap<K, V> = HashMap<K, V, Seeded>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decide_the_hashes() {
        let a = Seeded { k0: 1, k1: 2 };
        let b = Seeded { k0: 3, k1: 4 };
        assert_eq!(a.hash_one("app:x"), a.hash_one("app:x"));
        assert_ne!(a.hash_one("app:x"), b.hash_one("app:x"));
        // Without set_keys the host draws random keys: two states differ.
        if K0.load(Ordering::Relaxed) == 0 {
            assert_ne!(Seeded::default(), Seeded::default());
        }
        let mut m: SeededMap<String, u8> = SeededMap::default();
        m.insert("k".into(), 1);
        assert_eq!(m.get("k"), Some(&1));
    }
}
