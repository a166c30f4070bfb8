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
    /// An RFC 9421 signature over a message's signature base, under the id
    /// [`SigJob::message_id`] made of the same key, parameters and signature. The id does not
    /// name the base (within one request a label has one base), so after the round the verdict
    /// is found without building the base again.
    pub fn over_message(
        id: MessageId,
        key: Arc<Key>,
        wc: WebCrypto,
        base: Vec<u8>,
        signature: Vec<u8>,
    ) -> SigJob {
        SigJob {
            id: id.0,
            key,
            wc,
            data: base,
            signature,
            over_body: false,
        }
    }

    /// The id of an RFC 9421 signature's job ([`SigJob::over_message`]): the key, the
    /// parameters, the signature's label and the signature, known before the base is built.
    pub fn message_id(key: &Key, wc: &WebCrypto, label: &str, signature: &[u8]) -> MessageId {
        MessageId(job_id("sig:message:", key, wc, label.as_bytes(), signature))
    }

    /// A signature over the request body, asked before or after the body is read. Its id
    /// names the key, the parameters and the signature, and says "body" (a request has one
    /// body: the verdict is kept beside this request only, never shared), so it is known
    /// before the body is, and the body is not hashed for it.
    pub fn over_body(key: Arc<Key>, wc: WebCrypto, signature: Vec<u8>) -> SigJob {
        SigJob {
            id: job_id("sig:body:", &key, &wc, b"body", &signature),
            key,
            wc,
            data: Vec::new(),
            signature,
            over_body: true,
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

/// The id of an RFC 9421 signature's job, made once per pass: looked up after the round, and
/// given to the job asked in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageId(String);

impl MessageId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A job's id: `prefix` and the hex SHA-256 of the key, the parameters, what names the signed
/// bytes within the request (`tag`) and the signature.
fn job_id(prefix: &str, key: &Key, wc: &WebCrypto, tag: &[u8], signature: &[u8]) -> String {
    let digest = length_prefixed_sha256(&[
        &key.id.to_be_bytes(),
        wc.name.as_bytes(),
        wc.hash.unwrap_or("").as_bytes(),
        tag,
        signature,
    ]);
    crate::base::hex::prefixed(prefix, &digest)
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
    use crate::crypto::keys::{Alg, Kind, Material};

    fn key(id: u64) -> Arc<Key> {
        Arc::new(Key {
            kid: Some("k".into()),
            alg: Some(Alg::EdDSA),
            kind: Kind::Ed25519,
            material: Material::Spki(vec![1, 2, 3]),
            not_after: None,
            id,
        })
    }

    #[test]
    fn a_message_signature_is_found_again_without_its_base_and_by_nothing_else() {
        let wc = Alg::EdDSA.webcrypto().expect("WebCrypto verifies EdDSA");
        let es = Alg::ES256.webcrypto().expect("WebCrypto verifies ES256");
        let id = SigJob::message_id(&key(1), &wc, "sig1", &[7; 64]);
        let job = SigJob::over_message(id.clone(), key(1), wc, b"base".to_vec(), vec![7; 64]);
        // After the round the verdict is looked up before the base is built, by the same id.
        assert_eq!(
            job.id,
            SigJob::message_id(&key(1), &wc, "sig1", &[7; 64]).as_str()
        );
        assert_eq!(job.id, id.as_str());
        assert_eq!(job.data, b"base");
        // Another label (another base in the same request), signature, key or algorithm is
        // another job; a body signature never shares an id with a message signature.
        for other in [
            SigJob::message_id(&key(1), &wc, "sig2", &[7; 64]),
            SigJob::message_id(&key(1), &wc, "sig1", &[8; 64]),
            SigJob::message_id(&key(2), &wc, "sig1", &[7; 64]),
            SigJob::message_id(&key(1), &es, "sig1", &[7; 64]),
        ] {
            assert_ne!(job.id, other.as_str());
        }
        assert_ne!(job.id, SigJob::over_body(key(1), wc, vec![7; 64]).id);
        // Lengths are part of what is hashed: moving a byte between label and signature
        // changes the id.
        assert_ne!(
            SigJob::message_id(&key(1), &wc, "ab", b"c"),
            SigJob::message_id(&key(1), &wc, "a", b"bc")
        );
    }

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
