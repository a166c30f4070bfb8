//! Per-request work the core hands to the runtime besides KV reads and JWT needs: the request
//! body, a signature for the runtime's WebCrypto, and a nonce to claim in the nonce Durable
//! Object. Their results belong to one request only (a body signature or a nonce is never
//! valid for another request), so they are kept beside the request ([`WithSettled`]), not in a
//! per-isolate cache.

use crate::crypto::keys::{Key, WebCrypto};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// A signature for the runtime to verify with an app's public key.
#[derive(Debug)]
pub struct SigJob {
    /// Where the verdict is found again ([`RecordSource::settled`]).
    pub id: String,
    pub key: Arc<Key>,
    /// Import and verify parameters (the hash is bound at import for RSA, so the imported key
    /// is kept under [`SigJob::crypto_key_id`]).
    pub wc: WebCrypto,
    /// The signed bytes (empty when [`SigJob::over_body`]).
    pub data: Vec<u8>,
    pub signature: Vec<u8>,
    /// The signed bytes are the request body: the runtime verifies over the body it reads in
    /// the same round (or has read), so a body signature takes one round, not two.
    pub over_body: bool,
}

impl SigJob {
    pub fn new(key: Arc<Key>, wc: WebCrypto, data: Vec<u8>, signature: Vec<u8>) -> SigJob {
        SigJob::with_id(key, wc, data, signature, false)
    }

    /// A signature over the request body, asked before or after the body is read. Its id
    /// names the key, the parameters and the signature, and says "body" (a request has one
    /// body: the verdict is kept beside this request only, never shared), so it is known
    /// before the body is, and the body is not hashed for it.
    pub fn over_body(key: Arc<Key>, wc: WebCrypto, signature: Vec<u8>) -> SigJob {
        SigJob::with_id(key, wc, Vec::new(), signature, true)
    }

    /// The job, its id hashed from the key, the parameters, the signed bytes (the word "body"
    /// for a job over the body, whose prefix differs) and the signature.
    fn with_id(
        key: Arc<Key>,
        wc: WebCrypto,
        data: Vec<u8>,
        signature: Vec<u8>,
        over_body: bool,
    ) -> SigJob {
        let (prefix, signed): (&str, &[u8]) = if over_body {
            ("sig:body:", b"body")
        } else {
            ("sig:", &data)
        };
        let digest = length_prefixed_sha256(&[
            &key.id.to_be_bytes(),
            wc.name.as_bytes(),
            wc.hash.unwrap_or("").as_bytes(),
            signed,
            &signature,
        ]);
        SigJob {
            id: crate::base::hex::prefixed(prefix, &digest),
            key,
            wc,
            data,
            signature,
            over_body,
        }
    }

    /// The id an imported `CryptoKey` is kept under: the key's material and its import
    /// parameters (an RSA key imported for SHA-256 cannot verify SHA-1).
    pub fn crypto_key_id(&self) -> u64 {
        let mut h = Sha256::new();
        h.update(self.key.id.to_be_bytes());
        h.update(self.wc.name.as_bytes());
        h.update([0]);
        h.update(self.wc.hash.unwrap_or("").as_bytes());
        h.update([0]);
        h.update(self.wc.named_curve.unwrap_or("").as_bytes());
        crate::crypto::be_u64(&h.finalize())
    }
}

/// SHA-256 over `parts`, each preceded by its length (two different lists never hash the same
/// input).
fn length_prefixed_sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// A nonce to remember in the nonce store: fresh once, replayed after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceClaim {
    /// Where the answer is found again ([`RecordSource::settled`]).
    pub id: String,
    /// Which Durable Object instance keeps it (`nonce-<shard>`).
    pub shard: u32,
    /// What is stored: hex SHA-256 of the signing key's scope and the nonce (never the
    /// client's raw text).
    pub key: String,
    /// Until when (epoch ms, exclusive) the nonce must be remembered: the end of the
    /// signature's window. The store refuses a claim that arrives at or after it.
    pub until_ms: u64,
}

impl NonceClaim {
    /// The claim for `nonce` under a signing key (`scope`: what identifies the key itself, so
    /// that two apps sharing a key share its nonces), spread over `shards` stores by its hash (so
    /// no single app or key maps to one store).
    pub fn new(scope: &[u8], nonce: &str, until_ms: u64, shards: u32) -> Self {
        let d = length_prefixed_sha256(&[scope, nonce.as_bytes()]);
        // The first 4 bytes of the digest, spread over at least one shard.
        let shard = u32::try_from(crate::crypto::be_u64(&d) >> 32)
            .unwrap_or_default()
            .checked_rem(shards.max(1))
            .unwrap_or_default();
        let key = crate::base::hex::encode(d);
        NonceClaim {
            id: format!("nonce:{key}"),
            shard,
            key,
            until_ms,
        }
    }
}

impl NonceClaim {
    /// What is sent to the nonce store (in its URL): `<until_ms>.<key>`.
    pub fn body(&self) -> String {
        format!("{}.{}", self.until_ms, self.key)
    }
}

/// Reads a claim sent to the nonce store: `<until_ms>.<key>` with a 64-hex-digit key.
pub fn parse_claim_body(body: &str) -> Option<(u64, &str)> {
    let (until, key) = body.split_once('.')?;
    let until = until.parse().ok()?;
    (key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit())).then_some((until, key))
}

/// The settled id under which a failure to read the request body is reported.
pub const BODY_ID: &str = "body";

/// What the runtime answered for a signature (valid?) or a nonce claim (fresh?).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    Yes,
    No,
    /// A nonce claim that reached the store after the signature's window closed.
    Late,
    /// A body larger than the reader's limit (it stopped reading).
    TooLarge,
    /// The runtime could not answer (key import failed, store unreachable): a fault.
    Failed(Arc<str>),
    /// The nonce store did not answer within its time limit: a fault (503).
    TimedOut(Arc<str>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_claims_spread_over_shards_and_hide_the_nonce() {
        let mut shards = std::collections::HashSet::new();
        for i in 0..64 {
            let c = NonceClaim::new(b"k1", &format!("n{i}"), 1, 8);
            assert!(c.shard < 8);
            assert!(!c.key.contains(&format!("n{i}")));
            assert_eq!(c.key.len(), 64);
            shards.insert(c.shard);
        }
        assert!(shards.len() >= 6, "one key's nonces reach most shards");
        assert_eq!(
            NonceClaim::new(b"k1", "n", 1, 8),
            NonceClaim::new(b"k1", "n", 1, 8)
        );
        assert_ne!(
            NonceClaim::new(b"k1", "n", 1, 8).key,
            NonceClaim::new(b"k2", "n", 1, 8).key
        );
        assert_eq!(NonceClaim::new(b"k", "n", 1, 0).shard, 0);
    }

    #[test]
    fn claim_bodies_round_trip_and_reject_anything_else() {
        let c = NonceClaim::new(b"k1", "n", 1_700_000_000_000, 4);
        assert_eq!(
            parse_claim_body(&c.body()),
            Some((1_700_000_000_000, &*c.key))
        );
        for bad in [
            "",
            "1",
            "x.abc",
            "1.abc",
            &format!("1.{}", "g".repeat(64)),
            &format!("1\n{}", "a".repeat(64)),
            &format!("-1.{}", "a".repeat(64)),
        ] {
            assert_eq!(parse_claim_body(bad), None, "{bad:?}");
        }
    }
}
