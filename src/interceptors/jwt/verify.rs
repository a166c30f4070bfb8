//! Signature verifications the core hands out, and what an isolate remembers of them.
//!
//! RSA, RSA-PSS, ECDSA and Ed25519 signatures are verified by the runtime's WebCrypto, which is
//! asynchronous: the JWT interceptor returns a [`VerifyJob`] as a need, the adapter runs it,
//! records the verdict here, and asks the core again. A verdict is kept in a bounded
//! [`VerifiedCache`] under the SHA-256 of the whole token and the id of the key that made it, so
//! a token seen again is decided synchronously (no executor, no WebCrypto) while its key is
//! unchanged, and never past its `exp` (plus leeway). The JWKS fetched from a configured URL are
//! kept in a [`JwksCache`] with when they were fetched and last tried, which is what the TTL,
//! the refetch on an unknown `kid` and stale-if-error decide on ([`jwks_view`]).
//!
//! Everything here is plain data driven by the clock it is given; the adapter owns the caches.

use crate::crypto::keys::{Alg, Key, KeySet, Source};
use crate::interceptors::jwt::Parsed;
use crate::interceptors::RecordSource;
use crate::records::cache::Slot;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// A signature for the runtime to verify.
#[derive(Debug)]
pub struct VerifyJob {
    /// SHA-256 of the whole token: the cache key of the verdict.
    pub token_hash: [u8; 32],
    pub alg: Alg,
    pub key: Arc<Key>,
    /// The JWS signing input, `BASE64URL(header) '.' BASE64URL(payload)`.
    pub signing_input: String,
    pub signature: Vec<u8>,
    /// What was read of the token, kept with the verdict so a repeated token is not parsed again.
    pub parsed: Arc<Parsed>,
    /// A valid verdict may be kept until then: the token's `exp` plus leeway (at most a day).
    pub keep_until_ms: u64,
}

/// What the runtime said about a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid,
    Invalid,
    /// The key could not be imported or the runtime failed: a gateway fault, for this request
    /// only (the next one tries again).
    Failed(Arc<str>),
}

/// A verdict on one token under one key.
#[derive(Debug, Clone)]
pub struct Verified {
    /// [`Key::id`] of the key that made the verdict: it holds only for that key.
    pub key_id: u64,
    pub verdict: Verdict,
    pub parsed: Arc<Parsed>,
    until_ms: u64,
}

/// How long an invalid signature is remembered (a client retrying a bad token is not one
/// WebCrypto call each).
pub const INVALID_TTL_MS: u64 = 60_000;
/// Longest a verdict is kept, whatever the token's `exp`.
pub const MAX_KEEP_MS: u64 = 24 * 3600 * 1000;

/// Verdicts by token hash, bounded.
pub struct VerifiedCache {
    /// Keyed by token hashes, which clients can grind: hashed under per-isolate keys.
    map: crate::records::seeded::SeededMap<[u8; 32], Verified>,
    max_entries: usize,
}

impl VerifiedCache {
    /// At least 64 entries, so that the verdicts of one request always fit.
    pub fn new(max_entries: usize) -> VerifiedCache {
        VerifiedCache {
            map: Default::default(),
            max_entries: max_entries.max(64),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn get(&self, hash: &[u8; 32], now_ms: u64) -> Option<&Verified> {
        self.map.get(hash).filter(|v| now_ms < v.until_ms)
    }

    /// Records the verdict on `job` at `now_ms`. It is visible at `now_ms` whatever it is, so the
    /// request that asked sees it when the core is asked again.
    pub fn record(&mut self, job: &VerifyJob, verdict: Verdict, now_ms: u64) {
        self.insert(
            job.token_hash,
            job.key.id,
            &job.parsed,
            job.keep_until_ms,
            verdict,
            now_ms,
        );
    }

    /// Records a verdict made by the core itself (HMAC).
    pub fn insert(
        &mut self,
        token_hash: [u8; 32],
        key_id: u64,
        parsed: &Arc<Parsed>,
        keep_until_ms: u64,
        verdict: Verdict,
        now_ms: u64,
    ) {
        let until = match verdict {
            Verdict::Valid => keep_until_ms.min(now_ms.saturating_add(MAX_KEEP_MS)),
            Verdict::Invalid => keep_until_ms.min(now_ms.saturating_add(INVALID_TTL_MS)),
            Verdict::Failed(_) => now_ms.saturating_add(1),
        }
        .max(now_ms.saturating_add(1));
        if self.map.len() >= self.max_entries && !self.map.contains_key(&token_hash) {
            self.map.retain(|_, v| now_ms < v.until_ms);
            if self.map.len() >= self.max_entries {
                // Still full of live entries: drop about a tenth, arbitrary but bounded work.
                let drop = (self.max_entries / 10).max(1);
                let victims: Vec<[u8; 32]> = self.map.keys().take(drop).copied().collect();
                for k in victims {
                    self.map.remove(&k);
                }
            }
        }
        self.map.insert(
            token_hash,
            Verified {
                key_id,
                verdict,
                parsed: parsed.clone(),
                until_ms: until,
            },
        );
    }

    /// Forgets every verdict (a key set changed).
    pub fn flush(&mut self) {
        self.map.clear();
    }
}

/// A JWKS URL as far as this isolate knows it.
#[derive(Debug, Clone)]
pub struct JwksEntry {
    /// The last usable key set fetched, if any.
    pub keys: Option<Arc<KeySet>>,
    pub fetched_ms: u64,
    /// The last fetch, successful or not.
    pub attempted_ms: u64,
    /// Why the last fetch failed, if it did.
    pub error: Option<Arc<str>>,
}

/// JWKS by URL. URLs come from the compiled policy only (never from a token), so the map is
/// bounded by the policy.
#[derive(Default)]
pub struct JwksCache {
    map: HashMap<String, JwksEntry>,
}

impl JwksCache {
    pub fn get(&self, url: &str) -> Option<&JwksEntry> {
        self.map.get(url)
    }

    /// Records a fetch of `url`: its body, or why it failed. A body that is not a usable JWKS
    /// counts as a failure. A failure keeps the previous keys (served stale, see [`jwks_view`]).
    /// Returns true when the key set changed.
    pub fn record(&mut self, url: &str, result: Result<&str, String>, now_ms: u64) -> bool {
        let parsed = result.and_then(|text| {
            KeySet::parse(text, Source::Jwks).map_err(|e| format!("unusable JWKS: {e}"))
        });
        let entry = self.map.entry(url.to_string()).or_insert(JwksEntry {
            keys: None,
            fetched_ms: 0,
            attempted_ms: 0,
            error: None,
        });
        entry.attempted_ms = now_ms;
        match parsed {
            Ok(set) => {
                let changed = entry.keys.as_ref().is_some_and(|k| k.id != set.id);
                entry.keys = Some(Arc::new(set));
                entry.fetched_ms = now_ms;
                entry.error = None;
                changed
            }
            Err(e) => {
                entry.error = Some(e.into());
                false
            }
        }
    }
}

/// How long JWKS keys are used and how often a URL may be fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksTiming {
    /// Keys are fresh for this long after a fetch.
    pub ttl_ms: u64,
    /// At most one fetch per URL in this interval: an unknown `kid` refetches only after it,
    /// and a failed fetch is retried only after it.
    pub min_refetch_ms: u64,
    /// Past the TTL, when a refetch fails, the old keys are used for up to this long after
    /// they were fetched.
    pub max_stale_ms: u64,
}

impl Default for JwksTiming {
    fn default() -> Self {
        JwksTiming {
            ttl_ms: 600_000,
            min_refetch_ms: 30_000,
            max_stale_ms: 24 * 3600 * 1000,
        }
    }
}

/// What to do with a JWKS URL now.
#[derive(Debug)]
pub enum JwksView {
    /// Fetch it (never fetched, or due).
    Fetch,
    /// Use these keys; with `may_refetch`, an unknown `kid` may fetch the set again.
    Keys {
        set: Arc<KeySet>,
        may_refetch: bool,
        stale: bool,
    },
    /// No usable keys and no fetch allowed yet: why.
    Down(Arc<str>),
}

pub fn jwks_view(entry: Option<&JwksEntry>, t: &JwksTiming, now_ms: u64) -> JwksView {
    let Some(e) = entry else {
        return JwksView::Fetch;
    };
    let tried_recently = now_ms < e.attempted_ms.saturating_add(t.min_refetch_ms);
    match &e.keys {
        Some(set) if now_ms < e.fetched_ms.saturating_add(t.ttl_ms) => JwksView::Keys {
            set: set.clone(),
            may_refetch: !tried_recently,
            stale: false,
        },
        _ if !tried_recently => JwksView::Fetch,
        Some(set) if now_ms < e.fetched_ms.saturating_add(t.max_stale_ms) => JwksView::Keys {
            set: set.clone(),
            may_refetch: false,
            stale: true,
        },
        _ => JwksView::Down(
            e.error
                .clone()
                .unwrap_or_else(|| "the key set is too old to use".into()),
        ),
    }
}

/// The per-isolate JWT state the adapter keeps next to the record cache. The verdicts sit in a
/// `RefCell`: the core records the HMAC verdicts it makes itself while it decides (a memo, not
/// I/O), so that a repeated HS token is not parsed and verified again either.
pub struct JwtCaches {
    pub jwks: JwksCache,
    pub verified: RefCell<VerifiedCache>,
}

impl JwtCaches {
    pub fn new(max_entries: usize) -> JwtCaches {
        JwtCaches {
            jwks: JwksCache::default(),
            verified: RefCell::new(VerifiedCache::new(max_entries)),
        }
    }
}

/// A record source with the JWT caches beside it, seen at one instant.
pub struct WithJwt<'a, S> {
    pub records: S,
    pub jwt: &'a JwtCaches,
    pub now_ms: u64,
}

impl<S: RecordSource> RecordSource for WithJwt<'_, S> {
    fn lookup(&self, key: &str) -> Slot {
        self.records.lookup(key)
    }

    fn jwks(&self, url: &str) -> Option<JwksEntry> {
        self.jwt.jwks.get(url).cloned()
    }

    fn verified(&self, hash: &[u8; 32]) -> Option<Verified> {
        self.jwt.verified.borrow().get(hash, self.now_ms).cloned()
    }

    fn remember(&self, v: Remember<'_>) {
        self.jwt.verified.borrow_mut().insert(
            v.token_hash,
            v.key_id,
            v.parsed,
            v.keep_until_ms,
            v.verdict,
            self.now_ms,
        );
    }
}

/// A verdict the core made itself, to remember (see [`RecordSource::remember`]).
pub struct Remember<'a> {
    pub token_hash: [u8; 32],
    pub key_id: u64,
    pub parsed: &'a Arc<Parsed>,
    pub keep_until_ms: u64,
    pub verdict: Verdict,
}

/// A borrowed source is a source (so a [`WithJwt`] can wrap a borrowed one).
impl<S: RecordSource + ?Sized> RecordSource for &S {
    fn lookup(&self, key: &str) -> Slot {
        (**self).lookup(key)
    }

    fn jwks(&self, url: &str) -> Option<JwksEntry> {
        (**self).jwks(url)
    }

    fn verified(&self, hash: &[u8; 32]) -> Option<Verified> {
        (**self).verified(hash)
    }

    fn remember(&self, v: Remember<'_>) {
        (**self).remember(v)
    }

    fn settled(&self, id: &str) -> Option<crate::crypto::jobs::Settled> {
        (**self).settled(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::keys::{Kind, Material};

    fn key(id: u64) -> Arc<Key> {
        Arc::new(Key {
            kid: None,
            alg: Some(Alg::ES256),
            kind: Kind::P256,
            material: Material::Spki(vec![]),
            not_after: None,
            id,
        })
    }

    fn job(hash: u8, key_id: u64, keep_until_ms: u64) -> VerifyJob {
        VerifyJob {
            token_hash: [hash; 32],
            alg: Alg::ES256,
            key: key(key_id),
            signing_input: String::new(),
            signature: vec![],
            parsed: Arc::new(Parsed::for_tests()),
            keep_until_ms,
        }
    }

    #[test]
    fn verdicts_are_kept_until_exp_and_bound_to_their_key() {
        let mut c = VerifiedCache::new(0);
        c.record(&job(1, 7, 5_000), Verdict::Valid, 1_000);
        assert_eq!(c.get(&[1; 32], 4_999).unwrap().key_id, 7);
        assert!(c.get(&[1; 32], 5_000).is_none(), "never past exp");
        // An invalid signature is remembered for a minute at most.
        c.record(&job(2, 7, u64::MAX), Verdict::Invalid, 1_000);
        assert!(c.get(&[2; 32], 60_999).is_some());
        assert!(c.get(&[2; 32], 61_000).is_none());
        // A failure is seen by the request that asked, not by the next.
        c.record(&job(3, 7, u64::MAX), Verdict::Failed("x".into()), 1_000);
        assert!(c.get(&[3; 32], 1_000).is_some());
        assert!(c.get(&[3; 32], 1_001).is_none());
        // A token already expired still gets its verdict seen at the instant it was asked.
        c.record(&job(4, 7, 10), Verdict::Valid, 1_000);
        assert!(c.get(&[4; 32], 1_000).is_some());
        // At most a day.
        c.record(&job(5, 7, u64::MAX), Verdict::Valid, 0);
        assert!(c.get(&[5; 32], MAX_KEEP_MS).is_none());
        c.flush();
        assert!(c.is_empty());
    }

    #[test]
    fn verdicts_are_bounded() {
        let mut c = VerifiedCache::new(100);
        for i in 0..1000u32 {
            let mut j = job(0, 1, u64::MAX);
            j.token_hash[..4].copy_from_slice(&i.to_be_bytes());
            c.record(&j, Verdict::Valid, 0);
            assert!(c.len() <= 100);
            assert!(
                c.get(&j.token_hash, 0).is_some(),
                "the newest is always kept"
            );
        }
    }

    const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"a","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
    const JWKS2: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"b","alg":"EdDSA","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

    fn timing() -> JwksTiming {
        JwksTiming {
            ttl_ms: 600_000,
            min_refetch_ms: 30_000,
            max_stale_ms: 3_600_000,
        }
    }

    #[test]
    fn jwks_ttl_refetch_interval_and_stale_if_error() {
        let t = timing();
        let mut c = JwksCache::default();
        let url = "https://idp/jwks";
        assert!(matches!(jwks_view(c.get(url), &t, 0), JwksView::Fetch));
        assert!(!c.record(url, Ok(JWKS), 1_000));
        // Fresh; just fetched, so an unknown kid may not refetch yet.
        assert!(matches!(
            jwks_view(c.get(url), &t, 1_000),
            JwksView::Keys {
                may_refetch: false,
                stale: false,
                ..
            }
        ));
        assert!(matches!(
            jwks_view(c.get(url), &t, 31_000),
            JwksView::Keys {
                may_refetch: true,
                stale: false,
                ..
            }
        ));
        // Past the TTL: fetch again.
        assert!(matches!(
            jwks_view(c.get(url), &t, 601_000),
            JwksView::Fetch
        ));
        // The fetch fails: the old keys serve, stale, and no fetch for the interval.
        assert!(!c.record(url, Err("connection refused".into()), 601_000));
        assert!(matches!(
            jwks_view(c.get(url), &t, 601_000),
            JwksView::Keys {
                stale: true,
                may_refetch: false,
                ..
            }
        ));
        assert!(matches!(
            jwks_view(c.get(url), &t, 631_000),
            JwksView::Fetch
        ));
        // Too old to serve stale.
        c.record(url, Err("HTTP 500".into()), 3_601_000);
        assert!(
            matches!(jwks_view(c.get(url), &t, 3_601_000), JwksView::Down(e) if &*e == "HTTP 500")
        );
        // Back: a changed set is reported.
        assert!(c.record(url, Ok(JWKS2), 3_700_000));
        assert!(!c.record(url, Ok(JWKS2), 4_400_000));
        // Garbage counts as a failure and keeps the keys.
        c.record(url, Ok("<html>"), 5_100_000);
        let e = c.get(url).unwrap();
        assert!(e.keys.is_some() && e.error.as_deref().unwrap().starts_with("unusable JWKS"));
    }

    #[test]
    fn a_first_fetch_that_fails_is_down_until_the_interval_passed() {
        let t = timing();
        let mut c = JwksCache::default();
        c.record("u", Err("timeout".into()), 1_000);
        assert!(matches!(
            jwks_view(c.get("u"), &t, 30_999),
            JwksView::Down(_)
        ));
        assert!(matches!(jwks_view(c.get("u"), &t, 31_000), JwksView::Fetch));
    }
}
