//! What the pipeline knows about records, and the per-isolate cache that keeps it warm.
//!
//! The pipeline asks a [`RecordSource`] for each key it needs; a key that is not known yet is
//! [`Slot::Pending`] and makes the pipeline return the keys to fetch. The adapter fetches them
//! from KV, stores the results here, and runs the pipeline again. Present records are kept for
//! `ttl`, absent ones for `negative_ttl` (so a flood of random tokens is not one KV read each),
//! malformed ones for `negative_ttl` too; a failed read is never cached.

use crate::records::{self, Record};
use std::collections::HashMap;
use std::sync::Arc;

/// The state of one key, as far as this request knows it.
#[derive(Debug, Clone)]
pub enum Slot {
    /// Not fetched yet.
    Pending,
    Absent,
    Present(Arc<Record>),
    /// The stored text does not parse; the message names the key.
    Malformed(Arc<str>),
    /// The store could not be read (fail closed).
    Unavailable(Arc<str>),
    /// The store did not answer within its time limit (fail closed).
    TimedOut(Arc<str>),
}

impl Slot {
    /// The slot for text read from the store under `key`.
    pub fn from_store(key: &str, text: Option<&str>) -> Slot {
        match text {
            None => Slot::Absent,
            Some(t) => match records::parse(key, t) {
                Ok(r) => Slot::Present(Arc::new(r)),
                Err(e) => Slot::Malformed(e.into()),
            },
        }
    }
}

/// Cache settings from the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    pub ttl_ms: u64,
    pub negative_ttl_ms: u64,
    pub max_entries: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl_ms: 30_000,
            negative_ttl_ms: 5_000,
            max_entries: 10_000,
        }
    }
}

struct Cached {
    slot: Slot,
    expires_ms: u64,
}

/// A bounded per-isolate record cache with time-to-live; time is passed in.
pub struct RecordCache {
    settings: CacheSettings,
    /// Keyed by client-chosen text (`app:<client_id>`): hashed under per-isolate keys.
    map: crate::records::seeded::SeededMap<String, Cached>,
}

impl RecordCache {
    pub fn new(settings: CacheSettings) -> RecordCache {
        RecordCache {
            settings,
            map: Default::default(),
        }
    }

    pub fn settings(&self) -> CacheSettings {
        self.settings
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The cached slot for `key` at `now_ms`, or `Pending`.
    pub fn get(&self, key: &str, now_ms: u64) -> Slot {
        match self.map.get(key) {
            Some(c) if now_ms < c.expires_ms => c.slot.clone(),
            _ => Slot::Pending,
        }
    }

    /// Remembers what the store said about `key`. Failed reads and pending slots are ignored.
    pub fn insert(&mut self, key: String, slot: Slot, now_ms: u64) {
        let ttl = match slot {
            Slot::Present(_) => self.settings.ttl_ms,
            Slot::Absent | Slot::Malformed(_) => self.settings.negative_ttl_ms,
            Slot::Pending | Slot::Unavailable(_) | Slot::TimedOut(_) => return,
        };
        if ttl == 0 || self.settings.max_entries == 0 {
            return;
        }
        if self.map.len() >= self.settings.max_entries && !self.map.contains_key(&key) {
            self.map.retain(|_, c| now_ms < c.expires_ms);
            if self.map.len() >= self.settings.max_entries {
                // Still full of live entries: drop about a tenth, arbitrary but bounded work.
                let drop = (self.settings.max_entries / 10).max(1);
                let victims: Vec<String> = self.map.keys().take(drop).cloned().collect();
                for k in victims {
                    self.map.remove(&k);
                }
            }
        }
        self.map.insert(
            key,
            Cached {
                slot,
                expires_ms: now_ms.saturating_add(ttl),
            },
        );
    }
}

/// The cache seen at one instant, with what this request fetched on top (which matters when the
/// cache keeps nothing, e.g. a TTL of 0, or a read failed).
pub struct Layered<'a> {
    pub fetched: &'a HashMap<String, Slot>,
    pub cache: &'a RecordCache,
    pub now_ms: u64,
}

impl Layered<'_> {
    /// What this request fetched, else what the cache holds now.
    pub fn lookup(&self, key: &str) -> Slot {
        match self.fetched.get(key) {
            Some(s) => s.clone(),
            None => self.cache.get(key, self.now_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(max: usize) -> CacheSettings {
        CacheSettings {
            ttl_ms: 1000,
            negative_ttl_ms: 100,
            max_entries: max,
        }
    }

    fn app() -> Slot {
        Slot::from_store("app:a", Some(r#"{"name":"A","status":"APPROVED"}"#))
    }

    #[test]
    fn entries_expire_by_kind() {
        let mut c = RecordCache::new(settings(10));
        c.insert("app:a".into(), app(), 0);
        c.insert("app:b".into(), Slot::Absent, 0);
        c.insert("app:c".into(), Slot::Unavailable("down".into()), 0);
        c.insert("app:d".into(), Slot::TimedOut("slow".into()), 0);
        assert!(matches!(c.get("app:a", 999), Slot::Present(_)));
        assert!(matches!(c.get("app:a", 1000), Slot::Pending));
        assert!(matches!(c.get("app:b", 99), Slot::Absent));
        assert!(matches!(c.get("app:b", 100), Slot::Pending));
        assert!(matches!(c.get("app:c", 0), Slot::Pending));
        assert!(matches!(c.get("app:d", 0), Slot::Pending));
    }

    #[test]
    fn size_is_bounded() {
        let mut c = RecordCache::new(settings(20));
        for i in 0..1000 {
            c.insert(format!("app:{i}"), app(), 0);
            assert!(c.len() <= 20);
        }
        // Expired entries are dropped first.
        let mut c = RecordCache::new(settings(2));
        c.insert("app:old".into(), Slot::Absent, 0);
        c.insert("app:live".into(), app(), 0);
        c.insert("app:new".into(), app(), 500);
        assert!(matches!(c.get("app:live", 500), Slot::Present(_)));
        assert!(matches!(c.get("app:new", 500), Slot::Present(_)));
    }

    #[test]
    fn zero_ttl_keeps_nothing_but_layered_sees_this_request() {
        let mut c = RecordCache::new(CacheSettings {
            ttl_ms: 0,
            negative_ttl_ms: 0,
            max_entries: 10,
        });
        c.insert("app:a".into(), app(), 0);
        assert!(c.is_empty());
        let mut fetched = HashMap::new();
        fetched.insert("app:a".to_string(), app());
        let l = Layered {
            fetched: &fetched,
            cache: &c,
            now_ms: 0,
        };
        assert!(matches!(l.lookup("app:a"), Slot::Present(_)));
        assert!(matches!(l.lookup("app:b"), Slot::Pending));
    }

    #[test]
    fn malformed_text_becomes_a_malformed_slot() {
        assert!(
            matches!(Slot::from_store("token:x", Some("[")), Slot::Malformed(m) if m.contains("token:x"))
        );
        assert!(matches!(Slot::from_store("token:x", None), Slot::Absent));
    }
}
