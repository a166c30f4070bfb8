//! Keys that verify JWT signatures: parsed once (from a KV record or a JWKS) into an immutable
//! [`KeySet`], each key pinned to one algorithm, selected by `kid`.
//!
//! JWK members are read from the JSON value and base64url-decoded here (jwt-compact's
//! `JsonWebKey`, an internally tagged serde enum, added about 20 KB to the Worker for the same
//! checks). A key that cannot be used (an encryption key, an
//! unsupported type, a private key, an RSA modulus under 2048 bits, an HMAC secret shorter than
//! its hash, a symmetric key in a public JWKS) is skipped with the reason kept in
//! [`KeySet::skipped`], so that one bad key never disables an issuer's other keys and the trace
//! can say why a `kid` was not found.
//!
//! Key formats (documented in docs/records.md and docs/interceptors/jwt.md):
//! - a JWK: `{"kty":"RSA","kid":"k1","alg":"RS256","n":"…","e":"AQAB"}` (also EC P-256, OKP
//!   Ed25519, and `oct` for HMAC secrets — KV records only), optionally wrapped as
//!   `{"kid":"k1","alg":"RS256","jwk":{…}}`;
//! - a PEM public key: `{"kid":"k2","alg":"ES256","pem":"-----BEGIN PUBLIC KEY-----…"}`;
//! - either with an optional `not_after` (epoch seconds or RFC 3339): not used from then on.

use crate::base::time::parse_rfc3339;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The signature algorithms the gateway accepts. `none` is not one of them, ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    EdDSA,
}

/// What kind of key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Hmac,
    Rsa,
    P256,
    Ed25519,
}

/// How the runtime's WebCrypto names an algorithm (import and verify parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebCrypto {
    /// `name` of the algorithm, for importKey and verify.
    pub name: &'static str,
    /// `hash` for importKey (RSA) or verify (ECDSA).
    pub hash: Option<&'static str>,
    /// `namedCurve` for importKey (ECDSA).
    pub named_curve: Option<&'static str>,
    /// `saltLength` for verify (RSA-PSS): the hash length.
    pub salt_length: Option<u32>,
}

impl Alg {
    pub const ALL: [Alg; 11] = [
        Alg::HS256,
        Alg::HS384,
        Alg::HS512,
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::EdDSA,
    ];
    pub const NAMES: &'static [&'static str] = &[
        "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
        "EdDSA",
    ];

    /// The algorithm named `s` in a JOSE header or a key (exact, case-sensitive).
    pub fn parse(s: &str) -> Option<Alg> {
        Alg::NAMES
            .iter()
            .zip(Alg::ALL)
            .find(|(n, _)| **n == s)
            .map(|(_, a)| a)
    }

    pub fn name(self) -> &'static str {
        Alg::ALL
            .iter()
            .zip(Alg::NAMES)
            .find(|(a, _)| **a == self)
            .map_or("?", |(_, n)| n)
    }

    pub fn kind(self) -> Kind {
        match self {
            Alg::HS256 | Alg::HS384 | Alg::HS512 => Kind::Hmac,
            Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
                Kind::Rsa
            }
            Alg::ES256 => Kind::P256,
            Alg::EdDSA => Kind::Ed25519,
        }
    }

    fn hash_len(self) -> usize {
        match self {
            Alg::HS256 | Alg::RS256 | Alg::PS256 | Alg::ES256 => 32,
            Alg::HS384 | Alg::RS384 | Alg::PS384 => 48,
            Alg::HS512 | Alg::RS512 | Alg::PS512 | Alg::EdDSA => 64,
        }
    }

    /// Shortest HMAC secret accepted: the hash output size (RFC 7518 §3.2).
    pub fn min_secret_len(self) -> usize {
        self.hash_len()
    }

    /// The signature's exact length where it is fixed (HMAC, ES256 `r||s`, Ed25519).
    pub fn signature_len(self) -> Option<usize> {
        match self.kind() {
            Kind::Hmac => Some(self.hash_len()),
            Kind::P256 | Kind::Ed25519 => Some(64),
            Kind::Rsa => None,
        }
    }

    fn hash_name(self) -> &'static str {
        match self.hash_len() {
            32 => "SHA-256",
            48 => "SHA-384",
            _ => "SHA-512",
        }
    }

    /// WebCrypto parameters; `None` for HMAC, which the core verifies itself.
    pub fn webcrypto(self) -> Option<WebCrypto> {
        let none = WebCrypto {
            name: "",
            hash: None,
            named_curve: None,
            salt_length: None,
        };
        Some(match self {
            Alg::HS256 | Alg::HS384 | Alg::HS512 => return None,
            Alg::RS256 | Alg::RS384 | Alg::RS512 => WebCrypto {
                name: "RSASSA-PKCS1-v1_5",
                hash: Some(self.hash_name()),
                ..none
            },
            Alg::PS256 | Alg::PS384 | Alg::PS512 => WebCrypto {
                name: "RSA-PSS",
                hash: Some(self.hash_name()),
                salt_length: Some(self.hash_len() as u32),
                ..none
            },
            Alg::ES256 => WebCrypto {
                name: "ECDSA",
                hash: Some("SHA-256"),
                named_curve: Some("P-256"),
                ..none
            },
            Alg::EdDSA => WebCrypto {
                name: "Ed25519",
                ..none
            },
        })
    }
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Hmac => "oct",
            Kind::Rsa => "RSA",
            Kind::P256 => "EC P-256",
            Kind::Ed25519 => "OKP Ed25519",
        }
    }
}

/// Key material in the form its verifier takes.
#[derive(Clone, PartialEq, Eq)]
pub enum Material {
    /// An HMAC secret (KV records only), verified by the core.
    Secret(Vec<u8>),
    /// The public members of a JWK (`kty`, `crv`, `n`, `e`, `x`, `y`), for WebCrypto's `jwk`
    /// import.
    Jwk(Vec<(&'static str, String)>),
    /// A DER SubjectPublicKeyInfo (from PEM), for WebCrypto's `spki` import.
    Spki(Vec<u8>),
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Material::Secret(s) => write!(f, "Secret(<{} bytes>)", s.len()),
            Material::Jwk(m) => f.debug_tuple("Jwk").field(m).finish(),
            Material::Spki(d) => write!(f, "Spki(<{} bytes>)", d.len()),
        }
    }
}

/// One usable key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub kid: Option<String>,
    /// The algorithm the key is pinned to. `None` only for a JWKS key published without `alg`:
    /// it is then pinned by the issuer's allowed algorithms, when exactly one fits its type.
    pub alg: Option<Alg>,
    pub kind: Kind,
    pub material: Material,
    /// Not used from this instant (epoch seconds) on.
    pub not_after: Option<i64>,
    /// Identifies the key's material and algorithm: verifications are cached, and imported
    /// CryptoKeys kept, under this id, so a changed key never reuses an old result.
    pub id: u64,
}

impl Key {
    /// The algorithm this key verifies under an issuer allowing `allowed`.
    pub fn pinned(&self, allowed: &[Alg]) -> Option<Alg> {
        if self.alg.is_some() {
            return self.alg;
        }
        let mut fits = allowed.iter().filter(|a| a.kind() == self.kind);
        match (fits.next(), fits.next()) {
            (Some(a), None) => Some(*a),
            _ => None,
        }
    }

    fn label(&self) -> String {
        match &self.kid {
            Some(k) => format!("key {k:?}"),
            None => "the key without kid".into(),
        }
    }
}

/// Where a key set comes from: a KV record may hold HMAC secrets and must pin every key; a
/// public JWKS may not hold secrets and may leave `alg` out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Kv,
    Jwks,
}

/// The keys of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    pub keys: Vec<Arc<Key>>,
    /// Keys left out, with why (never any key material).
    pub skipped: Vec<String>,
    /// SHA-256 prefix of the source text: tells a changed key set from a refreshed one.
    pub id: u64,
}

/// Largest key set text accepted (a JWKS is a few KB).
pub const MAX_KEY_SET_BYTES: usize = 512 * 1024;

impl KeySet {
    /// Parses `{"keys": [...]}`. Unusable keys are skipped (see [`KeySet::skipped`]); only a text
    /// that is not such an object is an error.
    pub fn parse(text: &str, source: Source) -> Result<KeySet, String> {
        if text.len() > MAX_KEY_SET_BYTES {
            return Err(format!(
                "{} bytes: larger than {MAX_KEY_SET_BYTES}",
                text.len()
            ));
        }
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let list = v
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("expected an object with a \"keys\" array")?;
        let mut keys = Vec::with_capacity(list.len());
        let mut skipped = Vec::new();
        for (i, k) in list.iter().enumerate() {
            match parse_key(k, source) {
                Ok(key) => keys.push(Arc::new(key)),
                Err(e) => {
                    let kid = k
                        .get("kid")
                        .and_then(Value::as_str)
                        .map(|s| format!(" (kid {s:?})"))
                        .unwrap_or_default();
                    skipped.push(format!("keys[{i}]{kid}: {e}"));
                }
            }
        }
        Ok(KeySet {
            keys,
            skipped,
            id: id_of(&[text.as_bytes()]),
        })
    }
}

fn id_of(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p);
    }
    crate::crypto::be_u64(&h.finalize())
}

fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn strip_leading_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|x| **x == 0).count();
    b.get(n..).unwrap_or_default()
}

/// One key of a set.
pub fn parse_key(v: &Value, source: Source) -> Result<Key, String> {
    let obj = v.as_object().ok_or("not an object")?;
    let kid = match obj.get("kid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("kid is not a string".into()),
    };
    if let Some(u) = obj.get("use") {
        if u != "sig" {
            return Err(format!("use is {u}, not \"sig\""));
        }
    }
    if let Some(ops) = obj.get("key_ops") {
        let verify = ops
            .as_array()
            .is_some_and(|a| a.iter().any(|o| o == "verify"));
        if !verify {
            return Err("key_ops does not include \"verify\"".into());
        }
    }
    let alg = match obj.get("alg") {
        None if source == Source::Kv => {
            return Err("alg is required (every key is pinned to one algorithm)".into())
        }
        None => None,
        Some(Value::String(s)) => Some(Alg::parse(s).ok_or_else(|| {
            format!(
                "alg {s:?} is not supported; expected one of {:?}",
                Alg::NAMES
            )
        })?),
        Some(_) => return Err("alg is not a string".into()),
    };
    let not_after = match obj.get("not_after") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_i64().ok_or("not_after is not whole seconds")?),
        Some(Value::String(s)) => {
            Some(parse_rfc3339(s).ok_or_else(|| format!("not_after {s:?} is not RFC 3339"))?)
        }
        Some(_) => return Err("not_after is neither epoch seconds nor RFC 3339".into()),
    };

    let (kind, material) = if let Some(pem) = obj.get("pem") {
        let pem = pem.as_str().ok_or("pem is not a string")?;
        let alg = alg.ok_or("a PEM key needs alg")?;
        let der = parse_pem(pem)?;
        let kind = spki_kind(&der).ok_or("the PEM key is not an RSA, P-256 or Ed25519 key")?;
        if kind != alg.kind() {
            return Err(format!(
                "alg {} does not fit a {} key",
                alg.name(),
                kind.as_str()
            ));
        }
        if kind == Kind::Rsa {
            let bits = spki_rsa_bits(&der)?;
            if bits < 2048 {
                return Err(format!(
                    "RSA modulus of {bits} bits; at least 2048 are required"
                ));
            }
        }
        (kind, Material::Spki(der))
    } else {
        let jwk = obj.get("jwk").unwrap_or(v);
        if jwk.get("d").is_some() || jwk.get("p").is_some() {
            return Err("holds a private key; publish the public key only".into());
        }
        jwk_material(jwk, alg, source)?
    };
    if let Some(a) = alg {
        if a.kind() != kind {
            return Err(format!(
                "alg {} does not fit a {} key",
                a.name(),
                kind.as_str()
            ));
        }
    }
    let alg_name = alg.map_or("", Alg::name);
    let id = match &material {
        Material::Secret(s) => id_of(&[b"oct", alg_name.as_bytes(), s]),
        Material::Spki(d) => id_of(&[b"spki", alg_name.as_bytes(), d]),
        Material::Jwk(members) => {
            let mut parts: Vec<&[u8]> = vec![b"jwk", alg_name.as_bytes()];
            for (k, val) in members {
                parts.push(k.as_bytes());
                parts.push(val.as_bytes());
            }
            id_of(&parts)
        }
    };
    Ok(Key {
        kid,
        alg,
        kind,
        material,
        not_after,
        id,
    })
}

/// A base64url JWK member (padding tolerated).
fn member(jwk: &Value, name: &str) -> Result<Vec<u8>, String> {
    let s = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no {name:?} member"))?;
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| format!("{name:?} is not base64url"))
}

fn jwk_material(jwk: &Value, alg: Option<Alg>, source: Source) -> Result<(Kind, Material), String> {
    let crv = || jwk.get("crv").and_then(Value::as_str).unwrap_or("");
    Ok(match jwk.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let (n, e) = (member(jwk, "n")?, member(jwk, "e")?);
            let bits = strip_leading_zeros(&n).len().saturating_mul(8);
            if bits < 2048 {
                return Err(format!(
                    "RSA modulus of {bits} bits; at least 2048 are required"
                ));
            }
            if e.is_empty() || e.len() > 8 {
                return Err("RSA exponent out of range".into());
            }
            (
                Kind::Rsa,
                Material::Jwk(vec![
                    ("kty", "RSA".into()),
                    ("n", b64url(strip_leading_zeros(&n))),
                    ("e", b64url(strip_leading_zeros(&e))),
                ]),
            )
        }
        Some("EC") => {
            if crv() != "P-256" {
                return Err(format!(
                    "EC curve {:?} is not supported (P-256 only)",
                    crv()
                ));
            }
            let (x, y) = (member(jwk, "x")?, member(jwk, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err("a P-256 key has 32-byte x and y".into());
            }
            (
                Kind::P256,
                Material::Jwk(vec![
                    ("kty", "EC".into()),
                    ("crv", "P-256".into()),
                    ("x", b64url(&x)),
                    ("y", b64url(&y)),
                ]),
            )
        }
        Some("OKP") => {
            if crv() != "Ed25519" {
                return Err(format!(
                    "OKP curve {:?} is not supported (Ed25519 only)",
                    crv()
                ));
            }
            let x = member(jwk, "x")?;
            if x.len() != 32 {
                return Err("an Ed25519 key has a 32-byte x".into());
            }
            (
                Kind::Ed25519,
                Material::Jwk(vec![
                    ("kty", "OKP".into()),
                    ("crv", "Ed25519".into()),
                    ("x", b64url(&x)),
                ]),
            )
        }
        Some("oct") => {
            if source == Source::Jwks {
                return Err(
                    "a symmetric (oct) key in a public JWKS is never used: anyone could sign with it"
                        .into(),
                );
            }
            let alg = alg.ok_or("an oct key needs alg")?;
            if alg.kind() != Kind::Hmac {
                return Err(format!("alg {} does not fit an oct key", alg.name()));
            }
            let secret = member(jwk, "k")?;
            if secret.len() < alg.min_secret_len() {
                return Err(format!(
                    "an {} secret needs at least {} bytes, this one has {}",
                    alg.name(),
                    alg.min_secret_len(),
                    secret.len()
                ));
            }
            (Kind::Hmac, Material::Secret(secret))
        }
        Some(other) => return Err(format!("kty {other:?} is not supported")),
        None => return Err("no kty (a JWK) and no pem".into()),
    })
}

/// The DER of a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
pub fn parse_pem(pem: &str) -> Result<Vec<u8>, String> {
    const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
    const END: &str = "-----END PUBLIC KEY-----";
    let pem = pem.trim();
    let body = pem
        .strip_prefix(BEGIN)
        .and_then(|b| b.strip_suffix(END))
        .ok_or("pem must be one \"-----BEGIN PUBLIC KEY-----\" block (SubjectPublicKeyInfo)")?;
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(b64)
        .map_err(|_| "pem is not valid base64".to_string())
}

/// The size in bits of the modulus of an RSA SubjectPublicKeyInfo (the same check as for JWKs:
/// a PEM key is no way around it).
fn spki_rsa_bits(der: &[u8]) -> Result<usize, String> {
    let key = crate::crypto::rsa_pkcs1::RsaPublicKey::from_spki_der(der)
        .map_err(|_| "the PEM key is not a valid RSA public key".to_string())?;
    Ok(key.bits())
}

/// The kind of key a DER SubjectPublicKeyInfo holds, by its algorithm identifier.
fn spki_kind(der: &[u8]) -> Option<Kind> {
    const RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    const EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const ED25519: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];
    let head = der.get(..32).unwrap_or(der);
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if der.first() != Some(&0x30) {
        None
    } else if has(RSA) {
        Some(Kind::Rsa)
    } else if has(EC) && has(P256) {
        Some(Kind::P256)
    } else if has(ED25519) && der.len() == 44 {
        Some(Kind::Ed25519)
    } else {
        None
    }
}

/// The outcome of choosing a key for a token.
#[derive(Debug)]
pub enum Selected {
    Key(Arc<Key>),
    /// No key fits: with why (for the trace).
    Unknown(String),
    /// The `kid` names a key pinned to another algorithm: an algorithm-confusion attempt or a
    /// misconfigured issuer.
    WrongAlg(String),
}

/// Chooses the key for a token signed with `alg` (allowed for the issuer) and carrying `kid`,
/// among `sets`, at `now_s`. With a `kid`, the key with that `kid`; without one, only when
/// exactly one key fits the algorithm.
pub fn select(
    sets: &[Arc<KeySet>],
    alg: Alg,
    allowed: &[Alg],
    kid: Option<&str>,
    now_s: i64,
) -> Selected {
    let all = sets.iter().flat_map(|s| s.keys.iter());
    let live = |k: &&Arc<Key>| k.not_after.is_none_or(|t| now_s < t);
    // The common case, without allocating: exactly one candidate, and it fits.
    let mut only: Option<&Arc<Key>> = None;
    let mut candidates: usize = 0;
    for k in all.clone() {
        let candidate = match kid {
            Some(kid) => k.kid.as_deref() == Some(kid),
            None => k.pinned(allowed) == Some(alg) && live(&k),
        };
        if candidate {
            candidates = candidates.saturating_add(1);
            only = Some(k);
        }
    }
    if let (1, Some(k)) = (candidates, only) {
        if k.pinned(allowed) == Some(alg) && live(&k) {
            return Selected::Key(k.clone());
        }
    }
    match kid {
        Some(kid) => {
            let named: Vec<&Arc<Key>> = all.filter(|k| k.kid.as_deref() == Some(kid)).collect();
            if named.is_empty() {
                return Selected::Unknown(format!("no key has kid {kid:?}"));
            }
            let fit: Vec<&Arc<Key>> = named
                .iter()
                .copied()
                .filter(|k| k.pinned(allowed) == Some(alg))
                .collect();
            if fit.is_empty() {
                let pinned: Vec<&str> = named
                    .iter()
                    .map(|k| k.pinned(allowed).map_or("no single algorithm", Alg::name))
                    .collect();
                return Selected::WrongAlg(format!(
                    "kid {kid:?} is pinned to {}, the token says {}",
                    pinned.join(", "),
                    alg.name()
                ));
            }
            let live: Vec<&Arc<Key>> = fit.into_iter().filter(live).collect();
            match live.as_slice() {
                [k] => Selected::Key((*k).clone()),
                [] => Selected::Unknown(format!("key {kid:?} is past its not_after")),
                many => Selected::Unknown(format!(
                    "{} keys have kid {kid:?} and alg {}; kids must be unique",
                    many.len(),
                    alg.name()
                )),
            }
        }
        None => {
            let fit: Vec<&Arc<Key>> = all
                .filter(|k| k.pinned(allowed) == Some(alg))
                .filter(live)
                .collect();
            match fit.as_slice() {
                [k] => Selected::Key((*k).clone()),
                [] => Selected::Unknown(format!("no kid, and no key for {}", alg.name())),
                many => Selected::Unknown(format!(
                    "no kid, and {} keys fit {}: the token must name one",
                    many.len(),
                    alg.name()
                )),
            }
        }
    }
}

/// Why a key set did not have a key, for the trace: the skipped keys, if any.
pub fn skipped_note(sets: &[Arc<KeySet>]) -> Option<String> {
    let skipped: Vec<&str> = sets
        .iter()
        .flat_map(|s| s.skipped.iter().map(String::as_str))
        .collect();
    if skipped.is_empty() {
        None
    } else {
        Some(format!("skipped keys: {}", skipped.join("; ")))
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // RFC 7515 appendix A.2's RSA key (public part) and A.3's P-256 key; RFC 8037 A.1's
    // Ed25519 key; RFC 7515 A.1's HMAC key.
    pub const RSA_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    const P256_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const P256_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const HS_K: &str =
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

    fn set(keys: Value, source: Source) -> KeySet {
        KeySet::parse(&json!({ "keys": keys }).to_string(), source).unwrap()
    }

    #[test]
    fn every_key_type_parses_and_is_pinned() {
        let s = set(
            json!([
                {"kty": "RSA", "kid": "r", "alg": "RS256", "n": RSA_N, "e": "AQAB"},
                {"kty": "EC", "kid": "e", "alg": "ES256", "crv": "P-256", "x": P256_X, "y": P256_Y},
                {"kty": "OKP", "kid": "d", "alg": "EdDSA", "crv": "Ed25519", "x": ED_X},
                {"kty": "oct", "kid": "h", "alg": "HS256", "k": HS_K},
                {"kid": "w", "alg": "PS384", "jwk": {"kty": "RSA", "n": RSA_N, "e": "AQAB"}, "not_after": "2030-01-01T00:00:00Z"}
            ]),
            Source::Kv,
        );
        assert!(s.skipped.is_empty(), "{:?}", s.skipped);
        let kinds: Vec<_> = s.keys.iter().map(|k| (k.kind, k.alg.unwrap())).collect();
        assert_eq!(
            kinds,
            [
                (Kind::Rsa, Alg::RS256),
                (Kind::P256, Alg::ES256),
                (Kind::Ed25519, Alg::EdDSA),
                (Kind::Hmac, Alg::HS256),
                (Kind::Rsa, Alg::PS384)
            ]
        );
        assert_eq!(s.keys[4].not_after, Some(1_893_456_000));
        assert_eq!(
            s.keys[2].material,
            Material::Jwk(vec![
                ("kty", "OKP".into()),
                ("crv", "Ed25519".into()),
                ("x", ED_X.into())
            ])
        );
        // Same material, other alg: another id.
        assert_ne!(s.keys[0].id, s.keys[4].id);
        assert!(
            !format!("{:?}", s.keys[3]).contains(HS_K),
            "secrets never printed"
        );
    }

    #[test]
    fn a_pem_rsa_key_under_2048_bits_is_refused_like_a_jwk_one() {
        const RSA_1024: &str = "-----BEGIN PUBLIC KEY-----\nMIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQD10tl6aQFeG4WLH2K9HrJgeXmQ\nUM6UiCKK7jXPx5HTzGqy5Vr7cFSkJLCF/q306nNLzDyfKe8ilwgTiBl4lIclY7Hq\n3yVm62E4wCIjdSYvD4sjoNJHGi64GIYX21IA+EtmA92+S3QvVBOXl65HBJXq7g4k\nqxvIJgf7ulX6t6vtzQIDAQAB\n-----END PUBLIC KEY-----\n";
        let short = parse_key(
            &json!({"kid": "k", "alg": "RS256", "pem": RSA_1024}),
            Source::Kv,
        );
        assert_eq!(
            short.unwrap_err(),
            "RSA modulus of 1024 bits; at least 2048 are required"
        );
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bodysig/rsa-2048.pub.pem"
        ))
        .unwrap();
        let ok = parse_key(&json!({"kid": "k", "alg": "RS256", "pem": pem}), Source::Kv).unwrap();
        assert_eq!(ok.kind, Kind::Rsa);
    }

    #[test]
    fn unusable_keys_are_skipped_with_a_reason() {
        let short_n = &RSA_N[..100];
        let s = set(
            json!([
                {"kty": "RSA", "kid": "enc", "use": "enc", "alg": "RS256", "n": RSA_N, "e": "AQAB"},
                {"kty": "RSA", "kid": "short", "alg": "RS256", "n": short_n, "e": "AQAB"},
                {"kty": "RSA", "kid": "noalg", "n": RSA_N, "e": "AQAB"},
                {"kty": "EC", "kid": "conf", "alg": "HS256", "crv": "P-256", "x": P256_X, "y": P256_Y},
                {"kty": "oct", "kid": "weak", "alg": "HS512", "k": "c2hvcnQ"},
                {"kty": "OKP", "kid": "priv", "alg": "EdDSA", "crv": "Ed25519", "x": ED_X, "d": ED_X},
                {"kty": "RSA", "kid": "none", "alg": "none", "n": RSA_N, "e": "AQAB"},
                {"kty": "EC", "kid": "k1", "alg": "ES256", "crv": "secp256k1", "x": P256_X, "y": P256_Y}
            ]),
            Source::Kv,
        );
        assert!(s.keys.is_empty());
        let all = s.skipped.join("\n");
        for want in [
            "(kid \"enc\"): use is \"enc\"",
            "(kid \"short\"): RSA modulus of 600 bits",
            "(kid \"noalg\"): alg is required",
            "(kid \"conf\"): alg HS256 does not fit",
            "(kid \"weak\"): an HS512 secret needs at least 64 bytes",
            "(kid \"priv\"): holds a private key",
            "(kid \"none\"): alg \"none\" is not supported",
            "(kid \"k1\"): EC curve \"secp256k1\" is not supported",
        ] {
            assert!(all.contains(want), "{want:?} not in\n{all}");
        }
        // A JWKS may leave alg out but never publishes secrets.
        let s = set(
            json!([
                {"kty": "RSA", "kid": "noalg", "n": RSA_N, "e": "AQAB"},
                {"kty": "oct", "kid": "h", "alg": "HS256", "k": HS_K}
            ]),
            Source::Jwks,
        );
        assert_eq!(s.keys.len(), 1);
        assert!(s.skipped[0].contains("symmetric"), "{:?}", s.skipped);
        assert!(KeySet::parse("[]", Source::Jwks).is_err());
        assert!(KeySet::parse("{", Source::Jwks).is_err());
    }

    #[test]
    fn pem_public_keys_parse() {
        // RFC 8410 §10.1's Ed25519 public key.
        let pem = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
        let s = set(
            json!([{"kid": "p", "alg": "EdDSA", "pem": pem}]),
            Source::Kv,
        );
        assert_eq!(s.keys[0].kind, Kind::Ed25519);
        assert!(matches!(&s.keys[0].material, Material::Spki(d) if d.len() == 44));
        let s = set(
            json!([{"kid": "p", "alg": "RS256", "pem": pem}]),
            Source::Kv,
        );
        assert!(s.skipped[0].contains("does not fit"), "{:?}", s.skipped);
        let s = set(
            json!([{"kid": "p", "alg": "RS256", "pem": "-----BEGIN RSA PUBLIC KEY-----\nAAAA\n-----END RSA PUBLIC KEY-----"}]),
            Source::Kv,
        );
        assert!(
            s.skipped[0].contains("SubjectPublicKeyInfo"),
            "{:?}",
            s.skipped
        );
    }

    #[test]
    fn selection_by_kid_and_pinning() {
        let s = Arc::new(set(
            json!([
                {"kty": "RSA", "kid": "r1", "alg": "RS256", "n": RSA_N, "e": "AQAB"},
                {"kty": "RSA", "kid": "r2", "alg": "RS256", "n": RSA_N, "e": "AQAB", "not_after": 100},
                {"kty": "oct", "kid": "h1", "alg": "HS256", "k": HS_K},
                {"kty": "EC", "kid": "e1", "alg": "ES256", "crv": "P-256", "x": P256_X, "y": P256_Y}
            ]),
            Source::Kv,
        ));
        let sets = [s];
        let all = Alg::ALL;
        let pick = |alg, kid, now| select(&sets, alg, &all, kid, now);
        assert!(
            matches!(pick(Alg::RS256, Some("r1"), 0), Selected::Key(k) if k.kid.as_deref() == Some("r1"))
        );
        assert!(matches!(pick(Alg::RS256, Some("r2"), 99), Selected::Key(_)));
        assert!(
            matches!(pick(Alg::RS256, Some("r2"), 100), Selected::Unknown(d) if d.contains("not_after"))
        );
        assert!(matches!(
            pick(Alg::RS256, Some("zz"), 0),
            Selected::Unknown(_)
        ));
        // HS256 with the kid of an RSA key: algorithm confusion.
        assert!(
            matches!(pick(Alg::HS256, Some("r1"), 0), Selected::WrongAlg(d) if d.contains("pinned to RS256"))
        );
        assert!(matches!(
            pick(Alg::RS256, Some("h1"), 0),
            Selected::WrongAlg(_)
        ));
        // No kid: only when exactly one key fits.
        assert!(
            matches!(pick(Alg::HS256, None, 0), Selected::Key(k) if k.kid.as_deref() == Some("h1"))
        );
        assert!(matches!(pick(Alg::ES256, None, 0), Selected::Key(_)));
        assert!(matches!(pick(Alg::RS256, None, 0), Selected::Unknown(d) if d.contains("2 keys")));
        assert!(
            matches!(pick(Alg::RS256, None, 100), Selected::Key(k) if k.kid.as_deref() == Some("r1"))
        );
        assert!(matches!(pick(Alg::EdDSA, None, 0), Selected::Unknown(_)));
    }

    #[test]
    fn jwks_keys_without_alg_are_pinned_by_the_issuer_when_unambiguous() {
        let s = Arc::new(set(
            json!([{"kty": "RSA", "kid": "r", "n": RSA_N, "e": "AQAB"}]),
            Source::Jwks,
        ));
        let sets = [s];
        assert!(matches!(
            select(&sets, Alg::RS256, &[Alg::RS256, Alg::ES256], Some("r"), 0),
            Selected::Key(_)
        ));
        assert!(matches!(
            select(&sets, Alg::RS256, &[Alg::RS256, Alg::PS256], Some("r"), 0),
            Selected::WrongAlg(_)
        ));
    }

    #[test]
    fn names_and_webcrypto_parameters() {
        for a in Alg::ALL {
            assert_eq!(Alg::parse(a.name()), Some(a));
        }
        assert_eq!(Alg::parse("none"), None);
        assert_eq!(Alg::parse("hs256"), None);
        assert_eq!(Alg::HS256.webcrypto(), None);
        assert_eq!(Alg::PS384.webcrypto().unwrap().salt_length, Some(48));
        assert_eq!(Alg::RS512.webcrypto().unwrap().hash, Some("SHA-512"));
        assert_eq!(Alg::ES256.webcrypto().unwrap().named_curve, Some("P-256"));
        assert_eq!(Alg::EdDSA.webcrypto().unwrap().name, "Ed25519");
    }
}
