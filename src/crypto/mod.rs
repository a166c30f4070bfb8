//! Cryptography and the formats it reads: keys (PEM, JWK), RFC 9421 HTTP message signatures
//! and RFC 8941 structured fields, RFC 9530 digests, Sensedia body signatures, the MACed CSRF
//! and Time Tokens, and the signature and nonce jobs handed to the runtime. Uses only [`crate::base`].

// What clients send reaches this layer on every request: nothing here may panic (a panic traps
// the wasm instance; docs/reliability.md). Clippy (run with -D warnings) refuses unchecked
// arithmetic and indexing, unwrap/expect, panic! and unreachable! here, outside tests.
#![cfg_attr(
    not(test),
    warn(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable
    )
)]

pub mod bodysig;
pub mod digest;
pub mod gentoken;
pub mod httpsig;
pub mod jobs;
pub mod keys;
pub mod rsa_pkcs1;
pub mod sfv;

/// The first 8 bytes of `bytes` (a digest) as a big-endian integer; missing bytes count as 0.
pub fn be_u64(bytes: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    for (o, i) in b.iter_mut().zip(bytes) {
        *o = *i;
    }
    u64::from_be_bytes(b)
}
