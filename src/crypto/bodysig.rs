//! Sensedia-compatible body signatures: a signature over the raw request body bytes, sent
//! base64-encoded in a header (the header name is the caller's choice, `Signature` by default).
//!
//! Algorithms use the Java names Sensedia's configuration uses ([`BodyAlg::NAMES`]):
//! - `SHA1withRSA`, `SHA256withRSA`, `SHA384withRSA`, `SHA512withRSA` (RSASSA-PKCS1-v1_5): the
//!   caller verifies them in the runtime's WebCrypto ([`BodyAlg::webcrypto`]);
//! - `SHA224withRSA`: WebCrypto has no SHA-224, so it is verified here ([`verify_rsa_sha224`]);
//! - `HmacSHA256`: verified here, in constant time ([`verify_hmac_sha256`]);
//! - `MD2withRSA`, `MD5withRSA`: recognised only to be refused at configuration time
//!   ([`BodyAlg::refusal`]).
//!
//! The signature value ([`decode_signature`]) is standard base64 (RFC 4648 §4 alphabet `A-Z a-z
//! 0-9 + /`) with `=` padding required, no whitespace or line breaks inside, and no non-zero
//! trailing bits. Nothing is trimmed: a value with a space, tab or line break around it is
//! refused (credentials are compared exactly as sent). URL-safe base64 and unpadded values are
//! refused.
//!
//! RSA keys ([`RsaKey`]) are read from PEM (`PUBLIC KEY` = SubjectPublicKeyInfo, or
//! `RSA PUBLIC KEY` = PKCS#1) or DER, and can give their SPKI DER (encoded on demand).

use crate::crypto::rsa_pkcs1::{RsaPublicKey, SHA224_PREFIX};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha224, Sha256};

/// A body-signature algorithm, by its Java name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyAlg {
    /// `MD2withRSA`: refused.
    Md2WithRsa,
    /// `MD5withRSA`: refused.
    Md5WithRsa,
    /// `SHA1withRSA`: WebCrypto.
    Sha1WithRsa,
    /// `SHA224withRSA`: verified in Rust.
    Sha224WithRsa,
    /// `SHA256withRSA`: WebCrypto.
    Sha256WithRsa,
    /// `SHA384withRSA`: WebCrypto.
    Sha384WithRsa,
    /// `SHA512withRSA`: WebCrypto.
    Sha512WithRsa,
    /// `HmacSHA256`: verified in Rust.
    HmacSha256,
}

/// Why a body signature could not be checked (a configuration or request problem; a signature
/// that simply does not match is `false` from the verify functions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySigError {
    /// Not one of [`BodyAlg::NAMES`].
    UnknownAlgorithm(String),
    /// A recognised algorithm that is refused (MD2/MD5); see [`BodyAlg::refusal`].
    Refused(BodyAlg),
    /// The signature header is not standard padded base64 (or is empty).
    BadEncoding(&'static str),
    /// The key is not a usable RSA public key in PEM or DER.
    BadKey(String),
    /// The key kind does not fit the algorithm (a secret for RSA, an RSA key for HMAC).
    WrongKeyType,
    /// The algorithm is verified by the runtime's WebCrypto, not here.
    NeedsWebCrypto(BodyAlg),
}

impl std::fmt::Display for BodySigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodySigError::UnknownAlgorithm(a) => write!(
                f,
                "unknown body signature algorithm {a:?}; expected one of {:?}",
                BodyAlg::SUPPORTED
            ),
            BodySigError::Refused(a) => f.write_str(a.refusal().unwrap_or("refused algorithm")),
            BodySigError::BadEncoding(why) => write!(f, "signature is not valid base64: {why}"),
            BodySigError::BadKey(why) => write!(f, "unusable RSA public key: {why}"),
            BodySigError::WrongKeyType => f.write_str("key type does not fit the algorithm"),
            BodySigError::NeedsWebCrypto(a) => {
                write!(f, "{} is verified by WebCrypto, not in Rust", a.name())
            }
        }
    }
}

impl std::error::Error for BodySigError {}

impl BodyAlg {
    /// Every algorithm, in [`BodyAlg::NAMES`] order.
    pub const ALL: [BodyAlg; 8] = [
        BodyAlg::Md2WithRsa,
        BodyAlg::Md5WithRsa,
        BodyAlg::Sha1WithRsa,
        BodyAlg::Sha224WithRsa,
        BodyAlg::Sha256WithRsa,
        BodyAlg::Sha384WithRsa,
        BodyAlg::Sha512WithRsa,
        BodyAlg::HmacSha256,
    ];
    /// The Java names recognised (exact, case-sensitive).
    pub const NAMES: [&'static str; 8] = [
        "MD2withRSA",
        "MD5withRSA",
        "SHA1withRSA",
        "SHA224withRSA",
        "SHA256withRSA",
        "SHA384withRSA",
        "SHA512withRSA",
        "HmacSHA256",
    ];
    /// The names a configuration may use (what error messages list).
    pub const SUPPORTED: [&'static str; 6] = [
        "SHA1withRSA",
        "SHA224withRSA",
        "SHA256withRSA",
        "SHA384withRSA",
        "SHA512withRSA",
        "HmacSHA256",
    ];

    /// The algorithm named `name`, MD2/MD5 included (check [`BodyAlg::refusal`] next, or use
    /// [`BodyAlg::configure`]).
    pub fn parse(name: &str) -> Result<BodyAlg, BodySigError> {
        BodyAlg::NAMES
            .iter()
            .zip(BodyAlg::ALL)
            .find(|(n, _)| **n == name)
            .map(|(_, a)| a)
            .ok_or_else(|| BodySigError::UnknownAlgorithm(name.to_string()))
    }

    /// What a configuration compiler calls: the algorithm named `name`, or the error to report
    /// (unknown name with the supported list, or the MD2/MD5 refusal).
    pub fn configure(name: &str) -> Result<BodyAlg, BodySigError> {
        let alg = BodyAlg::parse(name)?;
        match alg.refusal() {
            Some(_) => Err(BodySigError::Refused(alg)),
            None => Ok(alg),
        }
    }

    /// The Java name.
    pub fn name(self) -> &'static str {
        BodyAlg::ALL
            .iter()
            .zip(BodyAlg::NAMES)
            .find(|(a, _)| **a == self)
            .map_or("?", |(_, n)| n)
    }

    /// Why the algorithm is refused, as configuration error text; `None` when it is usable.
    pub fn refusal(self) -> Option<&'static str> {
        match self {
            BodyAlg::Md2WithRsa => Some(
                "MD2withRSA is not supported: MD2 is broken (preimage and collision attacks, \
                 RFC 6149 retired it) and no runtime here implements it; re-sign with \
                 SHA256withRSA or stronger",
            ),
            BodyAlg::Md5WithRsa => Some(
                "MD5withRSA is not supported: MD5 collisions are practical (RFC 6151), so a \
                 signature over MD5 proves nothing about the body; re-sign with SHA256withRSA \
                 or stronger",
            ),
            _ => None,
        }
    }

    /// Whether the key is a shared secret (HMAC) rather than an RSA public key.
    pub fn is_hmac(self) -> bool {
        self == BodyAlg::HmacSha256
    }

    /// Whether this crate verifies it ([`verify`]): `SHA224withRSA` and `HmacSHA256`.
    pub fn verified_in_rust(self) -> bool {
        matches!(self, BodyAlg::Sha224WithRsa | BodyAlg::HmacSha256)
    }

    /// WebCrypto parameters (`RSASSA-PKCS1-v1_5` and its hash) for the algorithms the runtime
    /// verifies; `None` for those verified in Rust and the refused ones.
    pub fn webcrypto(self) -> Option<crate::crypto::keys::WebCrypto> {
        let hash = match self {
            BodyAlg::Sha1WithRsa => "SHA-1",
            BodyAlg::Sha256WithRsa => "SHA-256",
            BodyAlg::Sha384WithRsa => "SHA-384",
            BodyAlg::Sha512WithRsa => "SHA-512",
            _ => return None,
        };
        Some(crate::crypto::keys::WebCrypto {
            name: "RSASSA-PKCS1-v1_5",
            hash: Some(hash),
            named_curve: None,
            salt_length: None,
        })
    }
}

/// Standard alphabet, padding required, trailing bits rejected (the base64 crate's default
/// `STANDARD` engine).
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Decodes a body-signature header value: standard base64 with `=` padding required, nothing
/// around it (never trimmed). See the module documentation.
pub fn decode_signature(value: &str) -> Result<Vec<u8>, BodySigError> {
    let v = value;
    if v.is_empty() {
        return Err(BodySigError::BadEncoding("empty"));
    }
    B64.decode(v).map_err(|e| {
        BodySigError::BadEncoding(match e {
            base64::DecodeError::InvalidByte(..) => "character outside the standard alphabet",
            base64::DecodeError::InvalidLength(_) => {
                "length is not a multiple of 4 (padding required)"
            }
            base64::DecodeError::InvalidLastSymbol(..) => "non-zero trailing bits",
            base64::DecodeError::InvalidPadding => "missing or misplaced padding",
        })
    })
}

/// An RSA public key for body signatures.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaKey {
    key: RsaPublicKey,
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaKey(<{} bits>)", self.bits())
    }
}

impl RsaKey {
    /// Reads a PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1) block.
    pub fn from_pem(pem: &str) -> Result<RsaKey, BodySigError> {
        let pem = pem.trim();
        let (label, der) = pem_decode(pem).ok_or_else(|| BodySigError::BadKey("not PEM".into()))?;
        match label {
            "PUBLIC KEY" => RsaKey::from_der(&der),
            "RSA PUBLIC KEY" => RsaKey::from_key(RsaPublicKey::from_pkcs1_der(&der)),
            other => Err(BodySigError::BadKey(format!(
                "PEM label {other:?}; expected PUBLIC KEY or RSA PUBLIC KEY"
            ))),
        }
    }

    /// Reads a DER SubjectPublicKeyInfo (rsaEncryption).
    pub fn from_der(der: &[u8]) -> Result<RsaKey, BodySigError> {
        RsaKey::from_key(RsaPublicKey::from_spki_der(der))
    }

    /// An RSA key from its modulus and public exponent (big-endian bytes, as in a JWK's `n`
    /// and `e`).
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<RsaKey, BodySigError> {
        RsaKey::from_key(RsaPublicKey::new(n, e))
    }

    fn from_key(key: Result<RsaPublicKey, &'static str>) -> Result<RsaKey, BodySigError> {
        key.map(|key| RsaKey { key })
            .map_err(|e| BodySigError::BadKey(e.into()))
    }

    /// The SubjectPublicKeyInfo DER (encoded on demand: verification never needs it).
    pub fn spki_der(&self) -> Vec<u8> {
        self.key.to_spki_der()
    }

    /// The modulus size in bits (its size in bytes × 8).
    pub fn bits(&self) -> usize {
        self.key.size().saturating_mul(8)
    }
}

/// The label and bytes of the first PEM block in `pem`.
fn pem_decode(pem: &str) -> Option<(&str, Vec<u8>)> {
    let (_, rest) = pem.split_once("-----BEGIN ")?;
    let (label, body) = rest.split_once("-----")?;
    let (b64, _) = body.split_once(&format!("-----END {label}-----"))?;
    let b64: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = B64.decode(b64).ok()?;
    Some((label, der))
}

/// Verifies an `SHA224withRSA` (RSASSA-PKCS1-v1_5, SHA-224) signature over `body`.
pub fn verify_rsa_sha224(key: &RsaKey, body: &[u8], signature: &[u8]) -> bool {
    let hashed = Sha224::digest(body);
    key.key.verify_pkcs1v15(SHA224_PREFIX, &hashed, signature)
}

/// Verifies an `HmacSHA256` signature over `body` with `secret`, in constant time.
pub fn verify_hmac_sha256(secret: &[u8], body: &[u8], signature: &[u8]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(signature).is_ok()
}

/// The key a body signature is checked with.
#[derive(Debug, Clone, Copy)]
pub enum BodyKey<'a> {
    /// An RSA public key.
    Rsa(&'a RsaKey),
    /// An HMAC shared secret (its bytes as configured).
    Secret(&'a [u8]),
}

/// Verifies in Rust what [`BodyAlg::verified_in_rust`] covers: `Ok(true)` valid, `Ok(false)`
/// not matching; errors for refused algorithms, those WebCrypto verifies, and a key that does
/// not fit.
pub fn verify(
    alg: BodyAlg,
    key: BodyKey<'_>,
    body: &[u8],
    signature: &[u8],
) -> Result<bool, BodySigError> {
    if alg.refusal().is_some() {
        return Err(BodySigError::Refused(alg));
    }
    match (alg, key) {
        (BodyAlg::Sha224WithRsa, BodyKey::Rsa(k)) => Ok(verify_rsa_sha224(k, body, signature)),
        (BodyAlg::HmacSha256, BodyKey::Secret(s)) => Ok(verify_hmac_sha256(s, body, signature)),
        (BodyAlg::Sha224WithRsa | BodyAlg::HmacSha256, _) => Err(BodySigError::WrongKeyType),
        _ => Err(BodySigError::NeedsWebCrypto(alg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_md2_md5_are_refused() {
        for a in BodyAlg::ALL {
            assert_eq!(BodyAlg::parse(a.name()), Ok(a));
        }
        assert!(BodyAlg::parse("sha256withrsa").is_err());
        assert_eq!(
            BodyAlg::configure("MD5withRSA"),
            Err(BodySigError::Refused(BodyAlg::Md5WithRsa))
        );
        assert!(BodyAlg::configure("MD2withRSA")
            .unwrap_err()
            .to_string()
            .contains("MD2 is broken"));
        let e = BodyAlg::configure("SHA256withECDSA")
            .unwrap_err()
            .to_string();
        assert!(e.contains("SHA224withRSA") && !e.contains("MD5"), "{e}");
        assert_eq!(BodyAlg::configure("HmacSHA256"), Ok(BodyAlg::HmacSha256));
        assert_eq!(
            BodyAlg::Sha384WithRsa.webcrypto().unwrap().hash,
            Some("SHA-384")
        );
        assert!(BodyAlg::Sha224WithRsa.webcrypto().is_none());
        assert!(BodyAlg::Md5WithRsa.webcrypto().is_none());
    }

    #[test]
    fn base64_rules() {
        assert_eq!(decode_signature("aGk=").unwrap(), b"hi");
        for bad in [
            "", " aGk=", "aGk= ", "\taGk=", "aGk", "aGk=\n", "aG k=", "a-_=", "aGl=", "aGk==",
            "=aGk",
        ] {
            assert!(
                matches!(decode_signature(bad), Err(BodySigError::BadEncoding(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bad_keys_are_errors() {
        for bad in [
            "",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----",
        ] {
            assert!(RsaKey::from_pem(bad).is_err(), "{bad:?}");
        }
        assert!(RsaKey::from_der(&[0x30, 0x00]).is_err());
    }
}
