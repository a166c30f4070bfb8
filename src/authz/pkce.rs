//! RFC 7636 (PKCE), S256 only: `plain` is refused, since it protects nothing once the request
//! that carried the challenge is seen.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether `s` is 43 to 128 characters of `A-Z a-z 0-9 - . _ ~` (RFC 7636 §4.1, §4.2).
fn unreserved_43_128(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Whether a `code_verifier` has the syntax RFC 7636 §4.1 requires.
pub fn verifier_ok(verifier: &str) -> bool {
    unreserved_43_128(verifier)
}

/// Whether a `code_challenge` has the syntax RFC 7636 §4.2 requires.
pub fn challenge_ok(challenge: &str) -> bool {
    unreserved_43_128(challenge)
}

/// `BASE64URL(SHA256(ASCII(code_verifier)))`.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether the S256 of a verifier equals a stored challenge, compared in constant time.
pub fn matches(challenge: &str, verifier_s256: &str) -> bool {
    challenge.len() == verifier_s256.len()
        && bool::from(challenge.as_bytes().ct_eq(verifier_s256.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifier_ok(verifier) && challenge_ok(challenge));
        assert_eq!(s256(verifier), challenge);
        assert!(matches(challenge, &s256(verifier)));
        assert!(!matches(
            challenge,
            &s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK")
        ));
    }

    #[test]
    fn syntax() {
        assert!(!verifier_ok(&"a".repeat(42)));
        assert!(verifier_ok(&"a".repeat(128)));
        assert!(!verifier_ok(&"a".repeat(129)));
        assert!(!verifier_ok(&format!("{} ", "a".repeat(43))));
        assert!(!verifier_ok(&format!("{}+", "a".repeat(43))));
    }
}
