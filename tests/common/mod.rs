//! Helpers shared by the host tests: pure-Rust verifiers that stand in for the runtime's
//! WebCrypto (RFC 9421 and body signatures), and the adapter's loop over an in-memory KV
//! ([`kv`]).
#![allow(dead_code)]

pub mod kv;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

/// The fixture directory of the RFC 9421 vectors.
pub const RFC9421: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rfc9421");

/// A JSON fixture under `tests/fixtures/rfc9421`.
pub fn load(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(format!("{RFC9421}/{name}")).unwrap()).unwrap()
}

/// The DER inside a PEM block.
pub fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(b64).unwrap()
}

/// Verifies `sig` over `base` with the named RFC 9421 test key, as WebCrypto would (HMAC with
/// the crate's own constant-time check). Host only: its verifiers are host dev-dependencies
/// (the tests that use this module are also checked for wasm32).
#[cfg(not(target_arch = "wasm32"))]
pub fn verify(
    keys: &Value,
    key: &str,
    alg: edge_interceptors::crypto::httpsig::Algorithm,
    base: &[u8],
    sig: &[u8],
) -> bool {
    use edge_interceptors::crypto::httpsig::{verify_hmac_sha256, Algorithm};
    let k = &keys["keys"][key];
    match alg {
        Algorithm::HmacSha256 => {
            let secret = STANDARD
                .decode(k["secret_base64"].as_str().unwrap())
                .unwrap();
            verify_hmac_sha256(&secret, base, sig)
        }
        Algorithm::RsaPssSha512 | Algorithm::RsaV15Sha256 => {
            use rsa::pkcs8::DecodePublicKey;
            use rsa::signature::Verifier;
            let der = pem_der(k["public_spki_pem"].as_str().unwrap());
            let pk = rsa::RsaPublicKey::from_public_key_der(&der).unwrap();
            if alg == Algorithm::RsaPssSha512 {
                let vk = rsa::pss::VerifyingKey::<sha2::Sha512>::new_with_salt_len(pk, 64);
                rsa::pss::Signature::try_from(sig).is_ok_and(|s| vk.verify(base, &s).is_ok())
            } else {
                let vk = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(pk);
                rsa::pkcs1v15::Signature::try_from(sig).is_ok_and(|s| vk.verify(base, &s).is_ok())
            }
        }
        Algorithm::EcdsaP256Sha256 => {
            use p256::ecdsa::signature::Verifier;
            use p256::pkcs8::DecodePublicKey;
            let der = pem_der(k["public_spki_pem"].as_str().unwrap());
            let vk = p256::ecdsa::VerifyingKey::from_public_key_der(&der).unwrap();
            p256::ecdsa::Signature::from_slice(sig).is_ok_and(|s| vk.verify(base, &s).is_ok())
        }
        Algorithm::Ed25519 => {
            let der = pem_der(k["public_spki_pem"].as_str().unwrap());
            let pk = ed25519_compact::PublicKey::from_slice(&der[12..]).unwrap();
            ed25519_compact::Signature::from_slice(sig).is_ok_and(|s| pk.verify(base, &s).is_ok())
        }
    }
}
