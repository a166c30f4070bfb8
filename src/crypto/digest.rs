//! RFC 9530 `Content-Digest`: checking the digest a client sent against the body received.
//!
//! The field is a Dictionary of algorithm → Byte Sequence (`sha-256=:...:, sha-512=:...:`).
//! `sha-256` and `sha-512` are supported; other algorithms (`md5`, `sha`, `unixsum`, unknown
//! ones) are ignored when a supported one is present. Every supported digest present must
//! match (compared in constant time); there is no "any one of them" shortcut.

use crate::crypto::sfv::{self, BareItem, Item, Member};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// A supported digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlg {
    /// `sha-256`
    Sha256,
    /// `sha-512`
    Sha512,
}

impl DigestAlg {
    /// The registry name (`sha-256`, `sha-512`).
    pub fn name(self) -> &'static str {
        match self {
            DigestAlg::Sha256 => "sha-256",
            DigestAlg::Sha512 => "sha-512",
        }
    }

    /// The algorithm with registry name `name` (lowercase, as dictionary keys are).
    pub fn parse(name: &str) -> Option<DigestAlg> {
        match name {
            "sha-256" => Some(DigestAlg::Sha256),
            "sha-512" => Some(DigestAlg::Sha512),
            _ => None,
        }
    }

    /// The digest of `body`.
    pub fn digest(self, body: &[u8]) -> Vec<u8> {
        match self {
            DigestAlg::Sha256 => Sha256::digest(body).to_vec(),
            DigestAlg::Sha512 => Sha512::digest(body).to_vec(),
        }
    }
}

/// Why a `Content-Digest` check failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestError {
    /// The field is not a Dictionary, or a supported algorithm's value is not a bare Byte
    /// Sequence.
    Malformed(String),
    /// No supported algorithm is present; holds the algorithms that were.
    Unsupported(Vec<String>),
    /// A supported digest does not match the body.
    Mismatch(DigestAlg),
}

impl std::fmt::Display for DigestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DigestError::Malformed(m) => write!(f, "malformed Content-Digest: {m}"),
            DigestError::Unsupported(algs) => write!(
                f,
                "Content-Digest has no supported algorithm (got {algs:?}; expected sha-256 or sha-512)"
            ),
            DigestError::Mismatch(a) => {
                write!(f, "Content-Digest {} does not match the body", a.name())
            }
        }
    }
}

impl std::error::Error for DigestError {}

/// Checks a `Content-Digest` field value against the body bytes as received.
///
/// Returns the strongest supported algorithm checked (all supported ones present must match).
/// An algorithm key repeated in the field is [`DigestError::Malformed`].
pub fn check_content_digest(field: &str, body: &[u8]) -> Result<DigestAlg, DigestError> {
    let dict = sfv::parse_dictionary_raw(field.trim_matches([' ', '\t']))
        .map_err(|e| DigestError::Malformed(e.to_string()))?;
    let mut best: Option<DigestAlg> = None;
    for (i, (name, member)) in dict.iter().enumerate() {
        if dict.iter().take(i).any(|(n, _)| n == name) {
            return Err(DigestError::Malformed(format!("{name} occurs twice")));
        }
        let Some(alg) = DigestAlg::parse(name) else {
            continue;
        };
        let expected = match member {
            Member::Item(Item {
                bare: BareItem::ByteSeq(b),
                params,
            }) if params.is_empty() => b,
            _ => {
                return Err(DigestError::Malformed(format!(
                    "{name} is not a byte sequence"
                )))
            }
        };
        let actual = alg.digest(body);
        if !bool::from(actual.ct_eq(expected)) {
            return Err(DigestError::Mismatch(alg));
        }
        if best != Some(DigestAlg::Sha512) {
            best = Some(alg);
        }
    }
    best.ok_or_else(|| DigestError::Unsupported(dict.into_iter().map(|(n, _)| n).collect()))
}

/// The `Content-Digest` field value a sender would send for `body` (`sha-256=:...:`).
pub fn content_digest(alg: DigestAlg, body: &[u8]) -> String {
    let mut out = String::from(alg.name());
    out.push('=');
    sfv::write_bare(&mut out, &BareItem::ByteSeq(alg.digest(body)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 9530 Appendix D ("Sample Digest Values") for the JSON object {"hello": "world"}.
    const BODY: &[u8] = br#"{"hello": "world"}"#;
    const SHA256: &str = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
    const SHA512: &str =
        "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";

    #[test]
    fn rfc9530_sample_values() {
        assert_eq!(check_content_digest(SHA256, BODY), Ok(DigestAlg::Sha256));
        assert_eq!(check_content_digest(SHA512, BODY), Ok(DigestAlg::Sha512));
        assert_eq!(content_digest(DigestAlg::Sha256, BODY), SHA256);
        assert_eq!(content_digest(DigestAlg::Sha512, BODY), SHA512);
        // The same object followed by LF (RFC 9530 §B.2 and following).
        assert_eq!(
            check_content_digest(
                "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:",
                b"{\"hello\": \"world\"}\n"
            ),
            Ok(DigestAlg::Sha256)
        );
    }

    #[test]
    fn several_algorithms() {
        let both = format!("{SHA256}, {SHA512}");
        assert_eq!(check_content_digest(&both, BODY), Ok(DigestAlg::Sha512));
        // Unknown and deprecated ones are ignored next to a supported one.
        let with_md5 = format!("md5=:Sd/dVLAcvNLSq16eXua5uQ==:, unixsum=1, {SHA256}");
        assert_eq!(check_content_digest(&with_md5, BODY), Ok(DigestAlg::Sha256));
        // Every supported one present must match.
        let one_bad = format!("{SHA256}, sha-512=:AAAA:");
        assert_eq!(
            check_content_digest(&one_bad, BODY),
            Err(DigestError::Mismatch(DigestAlg::Sha512))
        );
    }

    #[test]
    fn failures() {
        assert_eq!(
            check_content_digest(SHA256, b"{\"hello\": \"World\"}"),
            Err(DigestError::Mismatch(DigestAlg::Sha256))
        );
        assert_eq!(
            check_content_digest(SHA256, b""),
            Err(DigestError::Mismatch(DigestAlg::Sha256))
        );
        assert_eq!(
            check_content_digest("md5=:Sd/dVLAcvNLSq16eXua5uQ==:", BODY),
            Err(DigestError::Unsupported(vec!["md5".into()]))
        );
        assert_eq!(
            check_content_digest("", BODY),
            Err(DigestError::Unsupported(vec![]))
        );
        for bad in [
            "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
            "sha-256=\"X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=\"",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:;p=1",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:,",
            "SHA-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-256=:AAAA:",
        ] {
            assert!(
                matches!(
                    check_content_digest(bad, BODY),
                    Err(DigestError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }
}
