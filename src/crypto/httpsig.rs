//! RFC 9421 HTTP Message Signatures, verifier side, for requests.
//!
//! 1. [`parse_signatures`] reads the `Signature-Input` and `Signature` fields into
//!    [`Signature`]s: label, covered components, signature parameters, the exact
//!    `@signature-params` value and the signature bytes.
//! 2. [`signature_base`] rebuilds the signature base (RFC 9421 §2.5) of one of them from a
//!    [`RequestView`].
//! 3. The caller checks the base with the key: [`verify_hmac_sha256`] here (constant time), the
//!    other [`Algorithm`]s in the runtime's WebCrypto ([`Algorithm::webcrypto`]).
//!
//! Everything is plain data; nothing reads the clock ([`Signature::check_time`] takes it).
//!
//! ```
//! use edge_interceptors::crypto::httpsig::{parse_signatures, signature_base, verify_hmac_sha256, Algorithm};
//! use edge_interceptors::base::request::{RequestView, TestRequest};
//! # use base64::Engine as _;
//! // RFC 9421 B.2.5 (hmac-sha256 with the RFC's test secret).
//! let req = TestRequest::new("POST", "https://example.com/foo?param=Value&Pet=dog")
//!     .with_header("Date", "Tue, 20 Apr 2021 02:07:55 GMT")
//!     .with_header("Content-Type", "application/json")
//!     .with_header("Signature-Input", r#"sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret""#)
//!     .with_header("Signature", "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:");
//! let sigs = parse_signatures(
//!     &req.header("signature-input").unwrap(),
//!     &req.header("signature").unwrap(),
//! )?;
//! let sig = &sigs[0];
//! assert_eq!(sig.params.keyid.as_deref(), Some("test-shared-secret"));
//! sig.check_time(1618884480, 5, Some(300))?;               // the caller's clock
//! let alg = sig.resolve_algorithm(Algorithm::HmacSha256)?; // the key's algorithm
//! let base = signature_base(&req, sig)?;
//! let secret = base64::engine::general_purpose::STANDARD.decode(
//!     "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==",
//! ).unwrap();
//! assert!(alg.webcrypto().is_none()); // HMAC: verified here; others go to WebCrypto
//! assert!(verify_hmac_sha256(&secret, base.as_bytes(), &sig.signature));
//! # Ok::<(), edge_interceptors::crypto::httpsig::Error>(())
//! ```
//!
//! Deliberate limits, each an error value rather than a guess:
//! - `@status`, `;req` and `;tr` (responses and trailers) are [`Error::UnsupportedComponent`].
//! - `@request-target` is the origin form (`/path?query`): what a Worker receives.
//! - Field values come combined (`", "`-joined) from the runtime, so `;bs` wraps the combined
//!   value as one field line: a field sent as several lines fails verification (never passes
//!   wrongly).
//! - `;sf` needs the field's structured type: [`KNOWN_SF_TYPES`], plus any the caller passes to
//!   [`signature_base_with`]. `;key` parses the field as a Dictionary, whatever its name.

use crate::base::request::{RequestView, Target};
use crate::crypto::sfv::{self, BareItem, Item, Member, Params, SfType};
use base64::Engine;

/// Why a signature could not be read or its base could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// `Signature-Input` or `Signature` is not what RFC 9421 §4 allows (syntax, types).
    Malformed(String),
    /// A label occurs twice in `Signature-Input` or in `Signature`.
    DuplicateLabel(String),
    /// A label is in one of the two fields and not in the other.
    LabelMismatch(String),
    /// A component identifier occurs twice in one signature (RFC 9421 §2).
    DuplicateComponent(String),
    /// A covered field, query parameter or dictionary key is not in the request; holds the
    /// serialized component identifier (`"content-digest"`, `"@query-param";name="Pet"`).
    MissingComponent(String),
    /// A component that cannot apply to a request here (`@status`, `;req`, `;tr`, an unknown
    /// derived component or parameter, `;sf` on a field of unknown type, `;bs` with `;sf`).
    UnsupportedComponent {
        /// The serialized component identifier.
        component: String,
        /// Why.
        reason: &'static str,
    },
    /// A covered component's value cannot go into a signature base (not ASCII, a newline, not
    /// the structured type `;sf`/`;key` needs, a query parameter that occurs twice).
    InvalidComponentValue {
        /// The serialized component identifier.
        component: String,
        /// Why.
        reason: &'static str,
    },
    /// The `alg` parameter (or a configured name) is not one of [`Algorithm::NAMES`].
    UnknownAlgorithm(String),
    /// The `alg` parameter names another algorithm than the key's (RFC 9421 §3.2 step 6.4).
    AlgorithmMismatch {
        /// The algorithm of the configured key.
        expected: Algorithm,
        /// What the signature's `alg` parameter says.
        stated: String,
    },
    /// `created` is later than now (plus leeway).
    CreatedInFuture,
    /// `expires` is past (minus leeway).
    Expired,
    /// `created` is older than the accepted age.
    TooOld,
    /// A `created` was required and is absent.
    MissingCreated,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Malformed(m) => write!(f, "malformed signature fields: {m}"),
            Error::DuplicateLabel(l) => write!(f, "signature label {l:?} occurs twice"),
            Error::LabelMismatch(l) => write!(
                f,
                "signature label {l:?} is not in both Signature-Input and Signature"
            ),
            Error::DuplicateComponent(c) => write!(f, "component {c} is covered twice"),
            Error::MissingComponent(c) => write!(f, "covered component {c} is not in the request"),
            Error::UnsupportedComponent { component, reason } => {
                write!(f, "component {component} is not supported: {reason}")
            }
            Error::InvalidComponentValue { component, reason } => {
                write!(f, "component {component} has an unusable value: {reason}")
            }
            Error::UnknownAlgorithm(a) => write!(
                f,
                "unknown signature algorithm {a:?}; expected one of {:?}",
                Algorithm::NAMES
            ),
            Error::AlgorithmMismatch { expected, stated } => write!(
                f,
                "signature alg {stated:?} does not match the key's algorithm {:?}",
                expected.name()
            ),
            Error::CreatedInFuture => write!(f, "signature created in the future"),
            Error::Expired => write!(f, "signature expired"),
            Error::TooOld => write!(f, "signature too old"),
            Error::MissingCreated => write!(f, "signature has no created parameter"),
        }
    }
}

impl std::error::Error for Error {}

/// The derived components of a request that take no parameter (what a policy may require by
/// name); `@query-param` needs `;name` and is not among them.
pub const REQUEST_DERIVED: &[&str] = &[
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@request-target",
    "@path",
    "@query",
];

/// RFC 9421 §6.2 algorithms this verifier knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `rsa-pss-sha512`: RSASSA-PSS, SHA-512, MGF1-SHA-512, 64-byte salt.
    RsaPssSha512,
    /// `rsa-v1_5-sha256`: RSASSA-PKCS1-v1_5 with SHA-256.
    RsaV15Sha256,
    /// `hmac-sha256`: verified in Rust ([`verify_hmac_sha256`]).
    HmacSha256,
    /// `ecdsa-p256-sha256`: signature is raw `r || s` (64 bytes), as WebCrypto takes it.
    EcdsaP256Sha256,
    /// `ed25519`: 64-byte signature.
    Ed25519,
}

impl Algorithm {
    /// Every algorithm, in [`Algorithm::NAMES`] order.
    pub const ALL: [Algorithm; 5] = [
        Algorithm::RsaPssSha512,
        Algorithm::RsaV15Sha256,
        Algorithm::HmacSha256,
        Algorithm::EcdsaP256Sha256,
        Algorithm::Ed25519,
    ];
    /// The registry names (RFC 9421 §6.2.2).
    pub const NAMES: [&'static str; 5] = [
        "rsa-pss-sha512",
        "rsa-v1_5-sha256",
        "hmac-sha256",
        "ecdsa-p256-sha256",
        "ed25519",
    ];

    /// The algorithm with registry name `name` (exact, case-sensitive).
    pub fn parse(name: &str) -> Result<Algorithm, Error> {
        Algorithm::NAMES
            .iter()
            .zip(Algorithm::ALL)
            .find(|(n, _)| **n == name)
            .map(|(_, a)| a)
            .ok_or_else(|| Error::UnknownAlgorithm(name.to_string()))
    }

    /// The registry name.
    pub fn name(self) -> &'static str {
        Algorithm::ALL
            .iter()
            .zip(Algorithm::NAMES)
            .find(|(a, _)| **a == self)
            .map_or("?", |(_, n)| n)
    }

    /// The signature length where it is fixed (HMAC 32, ECDSA `r||s` 64, Ed25519 64).
    pub fn signature_len(self) -> Option<usize> {
        match self {
            Algorithm::HmacSha256 => Some(32),
            Algorithm::EcdsaP256Sha256 | Algorithm::Ed25519 => Some(64),
            Algorithm::RsaPssSha512 | Algorithm::RsaV15Sha256 => None,
        }
    }

    /// WebCrypto `importKey`/`verify` parameters; `None` for HMAC, which Rust verifies.
    ///
    /// RSA-PSS: `{name: "RSA-PSS", hash: "SHA-512"}` to import, `saltLength: 64` to verify.
    /// ECDSA: `{name: "ECDSA", namedCurve: "P-256"}` to import, `hash: "SHA-256"` to verify;
    /// the RFC 9421 signature is already WebCrypto's raw `r||s`.
    pub fn webcrypto(self) -> Option<crate::crypto::keys::WebCrypto> {
        use crate::crypto::keys::WebCrypto;
        let none = WebCrypto {
            name: "",
            hash: None,
            named_curve: None,
            salt_length: None,
        };
        Some(match self {
            Algorithm::HmacSha256 => return None,
            Algorithm::RsaPssSha512 => WebCrypto {
                name: "RSA-PSS",
                hash: Some("SHA-512"),
                salt_length: Some(64),
                ..none
            },
            Algorithm::RsaV15Sha256 => WebCrypto {
                name: "RSASSA-PKCS1-v1_5",
                hash: Some("SHA-256"),
                ..none
            },
            Algorithm::EcdsaP256Sha256 => WebCrypto {
                name: "ECDSA",
                hash: Some("SHA-256"),
                named_curve: Some("P-256"),
                ..none
            },
            Algorithm::Ed25519 => WebCrypto {
                name: "Ed25519",
                ..none
            },
        })
    }
}

/// One covered component identifier: a name and its parameters, in the order received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// A lowercase field name, or a derived component name starting with `@`.
    pub name: String,
    /// Parameters (`sf`, `key`, `bs`, `req`, `tr`, `name`, ...), in order.
    pub params: Params,
}

impl Component {
    /// The identifier as it appears in a signature base: `"name";param...`.
    pub fn serialize(&self) -> String {
        let mut out = String::new();
        sfv::write_bare(&mut out, &BareItem::String(self.name.clone()));
        sfv::write_params(&mut out, &self.params);
        out
    }

    /// Whether it names a derived component (`@...`).
    pub fn is_derived(&self) -> bool {
        self.name.starts_with('@')
    }

    fn param(&self, key: &str) -> Option<&BareItem> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Whether flag `key` (`sf`, `bs`, `req`, `tr`) is present (with any value).
    pub fn has(&self, key: &str) -> bool {
        self.param(key).is_some()
    }

    /// The `key` parameter (dictionary member), if it is a String.
    pub fn key(&self) -> Option<&str> {
        match self.param("key") {
            Some(BareItem::String(s)) => Some(s),
            _ => None,
        }
    }

    /// The `name` parameter (`@query-param`), if it is a String.
    pub fn query_name(&self) -> Option<&str> {
        match self.param("name") {
            Some(BareItem::String(s)) => Some(s),
            _ => None,
        }
    }

    /// Same identifier: same name and same parameters, in any order (RFC 9421 §2).
    fn same_as(&self, other: &Component) -> bool {
        self.name == other.name
            && self.params.len() == other.params.len()
            && self.params.iter().all(|p| other.params.contains(p))
    }
}

/// The signature parameters RFC 9421 §2.3 defines (others are kept in
/// [`Signature::signature_params`] only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureParams {
    /// `created`, Unix seconds.
    pub created: Option<i64>,
    /// `expires`, Unix seconds.
    pub expires: Option<i64>,
    /// `nonce`.
    pub nonce: Option<String>,
    /// `alg`, as sent (see [`Signature::algorithm`]).
    pub alg: Option<String>,
    /// `keyid`.
    pub keyid: Option<String>,
    /// `tag`.
    pub tag: Option<String>,
}

/// One signature of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Its label in both fields (`sig1`).
    pub label: String,
    /// Covered components, in order.
    pub components: Vec<Component>,
    /// The known signature parameters.
    pub params: SignatureParams,
    /// The `@signature-params` value: the strict serialization of the inner list with its
    /// parameters (RFC 9421 §2.3), as the last line of the signature base uses it.
    pub signature_params: String,
    /// The signature (or MAC) bytes.
    pub signature: Vec<u8>,
}

impl Signature {
    /// The `alg` parameter as an [`Algorithm`]: `Ok(None)` when absent, an error when unknown.
    pub fn algorithm(&self) -> Result<Option<Algorithm>, Error> {
        self.params.alg.as_deref().map(Algorithm::parse).transpose()
    }

    /// The algorithm to verify with, given the one the key is configured for: `expected`,
    /// unless the `alg` parameter names another one ([`Error::AlgorithmMismatch`], also for an
    /// unknown name).
    pub fn resolve_algorithm(&self, expected: Algorithm) -> Result<Algorithm, Error> {
        match self.params.alg.as_deref() {
            Some(stated) if stated != expected.name() => Err(Error::AlgorithmMismatch {
                expected,
                stated: stated.to_string(),
            }),
            _ => Ok(expected),
        }
    }

    /// Whether a component with this name (any parameters) is covered.
    pub fn covers(&self, name: &str) -> bool {
        self.components.iter().any(|c| c.name == name)
    }

    /// Checks `created`/`expires` against `now_s` (Unix seconds): `created` not after
    /// `now + leeway`, `expires` not before `now - leeway`, and when `max_age_s` is given,
    /// `created` present and not older than `max_age_s + leeway`.
    pub fn check_time(
        &self,
        now_s: i64,
        leeway_s: i64,
        max_age_s: Option<i64>,
    ) -> Result<(), Error> {
        if let Some(c) = self.params.created {
            if c > now_s.saturating_add(leeway_s) {
                return Err(Error::CreatedInFuture);
            }
        }
        if let Some(e) = self.params.expires {
            if e < now_s.saturating_sub(leeway_s) {
                return Err(Error::Expired);
            }
        }
        if let Some(max) = max_age_s {
            let c = self.params.created.ok_or(Error::MissingCreated)?;
            if now_s.saturating_sub(c) > max.saturating_add(leeway_s) {
                return Err(Error::TooOld);
            }
        }
        Ok(())
    }
}

/// Most signatures [`parse_signatures`] accepts in one request (a bound on the work an
/// untrusted header can cause).
pub const MAX_SIGNATURES: usize = 16;
/// Most covered components in one signature.
pub const MAX_COMPONENTS: usize = 64;
/// Most parameters on one component, or signature parameters on one signature.
pub const MAX_PARAMS: usize = 16;

fn is_tchar(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn malformed(what: impl std::fmt::Display) -> Error {
    Error::Malformed(what.to_string())
}

/// Parses the `Signature-Input` and `Signature` field values (each already combined) into
/// the signatures they carry, in `Signature-Input` order.
///
/// Errors: [`Error::Malformed`] for syntax or types (a member of `Signature-Input` must be an
/// inner list of Strings, of `Signature` a Byte Sequence; `created`/`expires` Integers;
/// `nonce`/`alg`/`keyid`/`tag` Strings; no repeated parameter; lowercase field names;
/// no `@signature-params` among the components), [`Error::DuplicateLabel`],
/// [`Error::LabelMismatch`] and [`Error::DuplicateComponent`].
pub fn parse_signatures(signature_input: &str, signature: &str) -> Result<Vec<Signature>, Error> {
    let inputs = sfv::parse_dictionary_raw(signature_input.trim_matches([' ', '\t']))
        .map_err(|e| malformed(format_args!("Signature-Input: {e}")))?;
    let sigs = sfv::parse_dictionary_raw(signature.trim_matches([' ', '\t']))
        .map_err(|e| malformed(format_args!("Signature: {e}")))?;
    if inputs.len() > MAX_SIGNATURES || sigs.len() > MAX_SIGNATURES {
        return Err(malformed(format_args!(
            "more than {MAX_SIGNATURES} signatures"
        )));
    }
    for d in [&inputs, &sigs] {
        let mut seen = std::collections::HashSet::with_capacity(d.len());
        if let Some((label, _)) = d.iter().find(|(l, _)| !seen.insert(l.as_str())) {
            return Err(Error::DuplicateLabel(label.clone()));
        }
    }
    if let Some((label, _)) = sigs
        .iter()
        .find(|(l, _)| !inputs.iter().any(|(il, _)| il == l))
    {
        return Err(Error::LabelMismatch(label.clone()));
    }
    let mut out = Vec::with_capacity(inputs.len());
    for (label, member) in &inputs {
        let bytes = match sigs.iter().find(|(l, _)| l == label) {
            None => return Err(Error::LabelMismatch(label.clone())),
            Some((
                _,
                Member::Item(Item {
                    bare: BareItem::ByteSeq(b),
                    params,
                }),
            )) if params.is_empty() => b.clone(),
            Some(_) => {
                return Err(malformed(format_args!(
                    "Signature {label:?} is not a byte sequence"
                )))
            }
        };
        let Member::InnerList(list) = member else {
            return Err(malformed(format_args!(
                "Signature-Input {label:?} is not an inner list"
            )));
        };
        if list.items.len() > MAX_COMPONENTS {
            return Err(malformed(format_args!(
                "Signature-Input {label:?}: more than {MAX_COMPONENTS} components"
            )));
        }
        if list.params.len() > MAX_PARAMS || list.items.iter().any(|i| i.params.len() > MAX_PARAMS)
        {
            return Err(malformed(format_args!(
                "Signature-Input {label:?}: more than {MAX_PARAMS} parameters"
            )));
        }
        let mut components: Vec<Component> = Vec::with_capacity(list.items.len());
        for item in &list.items {
            let BareItem::String(name) = &item.bare else {
                return Err(malformed(format_args!(
                    "Signature-Input {label:?}: component identifiers must be strings"
                )));
            };
            if sfv::has_duplicate_keys(&item.params) {
                return Err(malformed(format_args!(
                    "Signature-Input {label:?}: repeated parameter on {name:?}"
                )));
            }
            let body = name.strip_prefix('@').unwrap_or(name);
            if body.is_empty() || !body.bytes().all(|c| is_tchar(c) && !c.is_ascii_uppercase()) {
                return Err(malformed(format_args!(
                    "Signature-Input {label:?}: component name {name:?} is not a lowercase field or derived name"
                )));
            }
            if name == "@signature-params" {
                return Err(malformed(format_args!(
                    "Signature-Input {label:?}: @signature-params cannot be covered"
                )));
            }
            let c = Component {
                name: name.clone(),
                params: item.params.clone(),
            };
            if components.iter().any(|o| o.same_as(&c)) {
                return Err(Error::DuplicateComponent(c.serialize()));
            }
            components.push(c);
        }
        if sfv::has_duplicate_keys(&list.params) {
            return Err(malformed(format_args!(
                "Signature-Input {label:?}: repeated signature parameter"
            )));
        }
        let mut params = SignatureParams::default();
        for (k, v) in &list.params {
            match (k.as_str(), v) {
                ("created", BareItem::Integer(n)) => params.created = Some(*n),
                ("expires", BareItem::Integer(n)) => params.expires = Some(*n),
                ("nonce", BareItem::String(s)) => params.nonce = Some(s.clone()),
                ("alg", BareItem::String(s)) => params.alg = Some(s.clone()),
                ("keyid", BareItem::String(s)) => params.keyid = Some(s.clone()),
                ("tag", BareItem::String(s)) => params.tag = Some(s.clone()),
                ("created" | "expires" | "nonce" | "alg" | "keyid" | "tag", _) => {
                    return Err(malformed(format_args!(
                        "Signature-Input {label:?}: parameter {k:?} has the wrong type"
                    )))
                }
                _ => {} // extension parameters: only part of @signature-params
            }
        }
        let mut serialized = String::new();
        sfv::write_inner_list(&mut serialized, list);
        out.push(Signature {
            label: label.clone(),
            components,
            params,
            signature_params: serialized,
            signature: bytes,
        });
    }
    Ok(out)
}

/// Fields whose structured type is known, for `;sf` (RFC 8941 and RFC 9421/9530/9209/9211/
/// 9218/9440 registrations). Names are lowercase.
pub const KNOWN_SF_TYPES: &[(&str, SfType)] = &[
    ("accept-signature", SfType::Dictionary),
    ("cache-status", SfType::List),
    ("cdn-cache-control", SfType::Dictionary),
    ("client-cert", SfType::Item),
    ("client-cert-chain", SfType::List),
    ("content-digest", SfType::Dictionary),
    ("priority", SfType::Dictionary),
    ("proxy-status", SfType::List),
    ("repr-digest", SfType::Dictionary),
    ("signature", SfType::Dictionary),
    ("signature-input", SfType::Dictionary),
    ("want-content-digest", SfType::Dictionary),
    ("want-repr-digest", SfType::Dictionary),
];

/// Builds the signature base (RFC 9421 §2.5) of `sig` over `req`, with [`KNOWN_SF_TYPES`].
///
/// The result ends with the `"@signature-params"` line and no final newline; it is what the
/// signature is checked against.
pub fn signature_base(req: &(impl RequestView + ?Sized), sig: &Signature) -> Result<String, Error> {
    signature_base_with(req, sig, &[])
}

/// [`signature_base`] with more fields whose structured type is known (for `;sf`); they are
/// consulted before [`KNOWN_SF_TYPES`]. Names are lowercase.
pub fn signature_base_with(
    req: &(impl RequestView + ?Sized),
    sig: &Signature,
    sf_types: &[(&str, SfType)],
) -> Result<String, Error> {
    let url = req.url();
    let mut out = String::new();
    for (i, c) in sig.components.iter().enumerate() {
        let id = c.serialize();
        if sig.components.iter().take(i).any(|o| o.same_as(c)) {
            return Err(Error::DuplicateComponent(id));
        }
        let value = if c.is_derived() {
            derived_value(req.method(), url, c, &id)?
        } else {
            field_value(req, c, &id, sf_types)?
        };
        out.push_str(&id);
        out.push_str(": ");
        out.push_str(&value);
        out.push('\n');
    }
    out.push_str("\"@signature-params\": ");
    out.push_str(&sig.signature_params);
    if !out.is_ascii() {
        // Unreachable through the checks above; kept as the RFC's last step.
        return Err(Error::InvalidComponentValue {
            component: "\"@signature-params\"".into(),
            reason: "signature base is not ASCII",
        });
    }
    Ok(out)
}

fn unsupported(component: &str, reason: &'static str) -> Error {
    Error::UnsupportedComponent {
        component: component.to_string(),
        reason,
    }
}

fn invalid(component: &str, reason: &'static str) -> Error {
    Error::InvalidComponentValue {
        component: component.to_string(),
        reason,
    }
}

fn derived_value(method: &str, url: &str, c: &Component, id: &str) -> Result<String, Error> {
    if c.has("req") {
        return Err(unsupported(id, "`req` does not apply to a request"));
    }
    let allowed: &[&str] = if c.name == "@query-param" {
        &["name"]
    } else {
        &[]
    };
    if c.params.iter().any(|(k, _)| !allowed.contains(&k.as_str())) {
        return Err(unsupported(id, "parameter not defined for this component"));
    }
    let url = url.split('#').next().unwrap_or("");
    let target = Target::parse(url);
    let value = match c.name.as_str() {
        "@method" => method.to_string(),
        "@target-uri" => url.to_string(),
        "@authority" => authority(url).ok_or_else(|| invalid(id, "URL has no authority"))?,
        "@scheme" => match url.find("://") {
            Some(i) => url[..i].to_ascii_lowercase(),
            None => return Err(invalid(id, "URL has no scheme")),
        },
        "@request-target" => match target.query {
            Some(q) => format!("{}?{}", target.path, q),
            None => target.path.to_string(),
        },
        "@path" => target.path.to_string(),
        "@query" => format!("?{}", target.query.unwrap_or("")),
        "@query-param" => {
            let Some(name) = c.query_name() else {
                return Err(invalid(id, "`name` parameter missing or not a string"));
            };
            let mut found: Option<String> = None;
            for (k, v) in form_urlencoded::parse(target.query.unwrap_or("").as_bytes()) {
                if percent_encode_form(k.as_bytes()) == name {
                    if found.is_some() {
                        return Err(invalid(id, "query parameter occurs more than once"));
                    }
                    found = Some(percent_encode_form(v.as_bytes()));
                }
            }
            found.ok_or_else(|| Error::MissingComponent(id.to_string()))?
        }
        "@status" => return Err(unsupported(id, "`@status` applies to responses only")),
        "@signature-params" => return Err(unsupported(id, "cannot be covered")),
        _ => return Err(unsupported(id, "unknown derived component")),
    };
    check_value(&value, id)?;
    Ok(value)
}

/// Host and port of an absolute URL, lowercased, without userinfo or the scheme's default
/// port (RFC 9110 §4.2.3).
fn authority(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let mut auth = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if let Some((_, host)) = auth.rsplit_once('@') {
        auth = host;
    }
    if auth.is_empty() {
        return None;
    }
    let auth = auth.to_ascii_lowercase();
    // A port follows the last ':' unless that ':' is inside an IPv6 literal (`[::1]`).
    if let Some((host, port)) = auth.rsplit_once(':').filter(|(_, p)| !p.contains(']')) {
        let default = matches!((scheme.as_str(), port), ("https", "443") | ("http", "80"));
        if default || port.is_empty() {
            return Some(host.to_string());
        }
    }
    Some(auth)
}

/// WHATWG "percent-encode after encoding" with the application/x-www-form-urlencoded set,
/// spaces as `%20` (RFC 9421 §2.2.8 and its examples).
fn percent_encode_form(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn check_value(v: &str, id: &str) -> Result<(), Error> {
    if v.bytes().any(|c| c == b'\n' || c == b'\r') {
        return Err(invalid(id, "contains a newline"));
    }
    if !v.bytes().all(|c| c == b'\t' || (0x20..0x7f).contains(&c)) {
        return Err(invalid(id, "not ASCII"));
    }
    Ok(())
}

fn field_value(
    req: &(impl RequestView + ?Sized),
    c: &Component,
    id: &str,
    sf_types: &[(&str, SfType)],
) -> Result<String, Error> {
    for (k, v) in &c.params {
        match k.as_str() {
            "req" => return Err(unsupported(id, "`req` does not apply to a request")),
            "tr" => return Err(unsupported(id, "trailers are not available")),
            "sf" | "bs" => {
                if *v != BareItem::Boolean(true) {
                    return Err(unsupported(id, "flag parameter with a value"));
                }
            }
            "key" => {
                if !matches!(v, BareItem::String(_)) {
                    return Err(unsupported(id, "`key` must be a string"));
                }
            }
            _ => return Err(unsupported(id, "unknown parameter")),
        }
    }
    let bs = c.has("bs");
    if bs && (c.has("sf") || c.has("key")) {
        return Err(unsupported(
            id,
            "`bs` cannot be combined with `sf` or `key`",
        ));
    }
    let raw = req
        .header(&c.name)
        .ok_or_else(|| Error::MissingComponent(id.to_string()))?;
    // Field values carry no leading/trailing whitespace; obs-fold becomes one space.
    let value = unfold(raw.trim_matches([' ', '\t']));
    if bs {
        let mut out = String::from(":");
        out.push_str(&base64::engine::general_purpose::STANDARD.encode(value.as_bytes()));
        out.push(':');
        return Ok(out);
    }
    let value = if let Some(key) = c.key() {
        let dict = sfv::parse_dictionary(&value)
            .map_err(|_| invalid(id, "field is not a valid Dictionary"))?;
        let member = dict
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, m)| m)
            .ok_or_else(|| Error::MissingComponent(id.to_string()))?;
        let mut out = String::new();
        sfv::write_member(&mut out, member);
        out
    } else if c.has("sf") {
        let ty = sf_types
            .iter()
            .chain(KNOWN_SF_TYPES)
            .find(|(n, _)| *n == c.name)
            .map(|(_, t)| *t)
            .ok_or_else(|| unsupported(id, "structured type of this field is not known"))?;
        sfv::reserialize(&value, ty)
            .map_err(|_| invalid(id, "field is not a valid structured field of its type"))?
    } else {
        value
    };
    check_value(&value, id)?;
    Ok(value)
}

/// Replaces obsolete line folding (CRLF or LF followed by spaces/tabs) with one space.
fn unfold(v: &str) -> String {
    if !v.contains(['\r', '\n']) {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == '\r' && chars.peek() == Some(&'\n') {
            continue;
        }
        if ch == '\n' && matches!(chars.peek(), Some(' ' | '\t')) {
            while matches!(chars.peek(), Some(' ' | '\t')) {
                chars.next();
            }
            while out.ends_with([' ', '\t']) {
                out.pop();
            }
            out.push(' ');
            continue;
        }
        out.push(ch);
    }
    out
}

/// Verifies an `hmac-sha256` signature over the signature base, in constant time: the same
/// HMAC-SHA-256 check as the body signatures' ([`crate::crypto::bodysig::verify_hmac_sha256`]).
pub use crate::crypto::bodysig::verify_hmac_sha256;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::request::TestRequest;

    fn one(input: &str) -> Result<Signature, Error> {
        parse_signatures(&format!("s={input}"), "s=:AAAA:").map(|mut v| v.remove(0))
    }

    fn base_of(req: &TestRequest, input: &str) -> Result<String, Error> {
        signature_base(req, &one(input).unwrap())
    }

    fn lines(base: &str) -> Vec<&str> {
        base.lines().collect()
    }

    #[test]
    fn parses_labels_components_and_params() {
        let sigs = parse_signatures(
            "a=(\"@method\" \"example-dict\";key=\"x\";sf \"@query-param\";name=\"Pet\");created=1;expires=2;nonce=\"n\";alg=\"ed25519\";keyid=\"k\";tag=\"t\";ext=?0, b=()",
            "b=:AAAA:, a=:AQID:",
        )
        .unwrap();
        assert_eq!(sigs.len(), 2);
        let a = &sigs[0];
        assert_eq!(a.label, "a");
        assert_eq!(a.signature, vec![1, 2, 3]);
        assert_eq!(a.components.len(), 3);
        assert_eq!(a.components[1].key(), Some("x"));
        assert!(a.components[1].has("sf"));
        assert_eq!(a.components[2].query_name(), Some("Pet"));
        assert_eq!(a.params.created, Some(1));
        assert_eq!(a.params.expires, Some(2));
        assert_eq!(a.params.nonce.as_deref(), Some("n"));
        assert_eq!(a.algorithm().unwrap(), Some(Algorithm::Ed25519));
        assert_eq!(a.params.keyid.as_deref(), Some("k"));
        assert_eq!(a.params.tag.as_deref(), Some("t"));
        assert!(a.signature_params.ends_with(";tag=\"t\";ext=?0"));
        assert_eq!(sigs[1].signature_params, "()");
    }

    #[test]
    fn signature_params_are_strictly_reserialized() {
        let s = one("(  \"@method\"   \"date\" );created=1618884473;keyid=\"k\"").unwrap();
        assert_eq!(
            s.signature_params,
            "(\"@method\" \"date\");created=1618884473;keyid=\"k\""
        );
    }

    #[test]
    fn malformed_and_inconsistent_inputs_are_errors() {
        let cases: &[(&str, &str)] = &[
            ("s=(\"@method\"", "s=:AAAA:"),
            ("s=\"@method\"", "s=:AAAA:"),
            ("s=(@method)", "s=:AAAA:"),
            ("s=(\"Date\")", "s=:AAAA:"),
            ("s=(\"\")", "s=:AAAA:"),
            ("s=(\"@signature-params\")", "s=:AAAA:"),
            ("s=();created=\"1\"", "s=:AAAA:"),
            ("s=();keyid=k", "s=:AAAA:"),
            ("s=();created=1;created=2", "s=:AAAA:"),
            ("s=(\"a\";sf;sf)", "s=:AAAA:"),
            ("s=()", "s=\"AAAA\""),
            ("s=()", "s=:AAAA:;x"),
            ("s=()", "s=:AA!A:"),
            ("s=()", ""),
            ("", "s=:AAAA:"),
            ("s=(), s=()", "s=:AAAA:"),
            ("s=()", "s=:AAAA:, s=:AAAA:"),
            ("s=()", "s=:AAAA:, t=:AAAA:"),
            ("s=(\"a\" \"a\")", "s=:AAAA:"),
            ("s=(\"a\";sf;key=\"x\" \"a\";key=\"x\";sf)", "s=:AAAA:"),
            ("s=()é", "s=:AAAA:"),
            ("s=(\"content type\")", "s=:AAAA:"),
            ("s=(\"a:b\")", "s=:AAAA:"),
            ("s=(\"@\")", "s=:AAAA:"),
        ];
        for (i, s) in cases {
            assert!(parse_signatures(i, s).is_err(), "{i:?} / {s:?}");
        }
        assert_eq!(
            parse_signatures("s=(), s=()", "s=:AAAA:"),
            Err(Error::DuplicateLabel("s".into()))
        );
        // Bounded work for untrusted input.
        let many: Vec<String> = (0..=MAX_SIGNATURES).map(|i| format!("s{i}=()")).collect();
        let sigs: Vec<String> = (0..=MAX_SIGNATURES)
            .map(|i| format!("s{i}=:AAAA:"))
            .collect();
        assert!(matches!(
            parse_signatures(&many.join(", "), &sigs.join(", ")),
            Err(Error::Malformed(_))
        ));
        assert!(parse_signatures(&many[1..].join(", "), &sigs[1..].join(", ")).is_ok());
        let comps: Vec<String> = (0..=MAX_COMPONENTS).map(|i| format!("\"h{i}\"")).collect();
        assert!(matches!(
            parse_signatures(&format!("s=({})", comps.join(" ")), "s=:AAAA:"),
            Err(Error::Malformed(_))
        ));
        let params: Vec<String> = (0..=MAX_PARAMS).map(|i| format!(";p{i}=1")).collect();
        assert!(matches!(
            parse_signatures(&format!("s=(){}", params.concat()), "s=:AAAA:"),
            Err(Error::Malformed(_))
        ));
        assert_eq!(
            parse_signatures("s=()", "t=:AAAA:"),
            Err(Error::LabelMismatch("t".into()))
        );
        assert_eq!(
            parse_signatures("s=(), t=()", "t=:AAAA:"),
            Err(Error::LabelMismatch("s".into()))
        );
        assert_eq!(
            parse_signatures("s=(\"a\" \"a\")", "s=:AAAA:"),
            Err(Error::DuplicateComponent("\"a\"".into()))
        );
        assert_eq!(
            one("();alg=\"hs256\"").unwrap().algorithm(),
            Err(Error::UnknownAlgorithm("hs256".into()))
        );
    }

    #[test]
    fn derived_components_of_a_request() {
        let req = TestRequest::new(
            "POST",
            "https://WWW.Example.com:443/p%41th?param=value&foo=bar&baz=bat%2Dman#frag",
        );
        let b = base_of(
            &req,
            "(\"@method\" \"@target-uri\" \"@authority\" \"@scheme\" \"@request-target\" \"@path\" \"@query\")",
        )
        .unwrap();
        assert_eq!(
            lines(&b)[..7],
            [
                "\"@method\": POST",
                "\"@target-uri\": https://WWW.Example.com:443/p%41th?param=value&foo=bar&baz=bat%2Dman",
                "\"@authority\": www.example.com",
                "\"@scheme\": https",
                "\"@request-target\": /p%41th?param=value&foo=bar&baz=bat%2Dman",
                "\"@path\": /p%41th",
                "\"@query\": ?param=value&foo=bar&baz=bat%2Dman",
            ]
        );
        let req = TestRequest::new("GET", "http://h.example:8080");
        let b = base_of(
            &req,
            "(\"@authority\" \"@path\" \"@query\" \"@request-target\")",
        )
        .unwrap();
        assert_eq!(
            lines(&b)[..4],
            [
                "\"@authority\": h.example:8080",
                "\"@path\": /",
                "\"@query\": ?",
                "\"@request-target\": /"
            ]
        );
    }

    #[test]
    fn query_params_rfc9421_2_2_8() {
        let req = TestRequest::new(
            "GET",
            "https://www.example.com/parameters?var=this%20is%20a%20big%0Amultiline%20value&bar=with+plus+whitespace&fa%C3%A7ade%22%3A%20=something&qux=&d=1&d=2",
        );
        let b = base_of(
            &req,
            "(\"@query-param\";name=\"var\" \"@query-param\";name=\"bar\" \"@query-param\";name=\"fa%C3%A7ade%22%3A%20\" \"@query-param\";name=\"qux\")",
        )
        .unwrap();
        assert_eq!(
            lines(&b)[..4],
            [
                "\"@query-param\";name=\"var\": this%20is%20a%20big%0Amultiline%20value",
                "\"@query-param\";name=\"bar\": with%20plus%20whitespace",
                "\"@query-param\";name=\"fa%C3%A7ade%22%3A%20\": something",
                "\"@query-param\";name=\"qux\": ",
            ]
        );
        assert_eq!(
            base_of(&req, "(\"@query-param\";name=\"nope\")"),
            Err(Error::MissingComponent(
                "\"@query-param\";name=\"nope\"".into()
            ))
        );
        assert!(matches!(
            base_of(&req, "(\"@query-param\";name=\"d\")"),
            Err(Error::InvalidComponentValue { .. })
        ));
        assert!(matches!(
            base_of(&req, "(\"@query-param\")"),
            Err(Error::InvalidComponentValue { .. })
        ));
    }

    #[test]
    fn fields_rfc9421_2_1() {
        let req = TestRequest::new("GET", "https://www.example.com/")
            .with_header("X-OWS-Header", "   Leading and trailing whitespace.  ")
            .with_header("X-Obs-Fold-Header", "Obsolete\r\n    line folding.")
            .with_header("Cache-Control", "max-age=60")
            .with_header("Cache-Control", "must-revalidate")
            .with_header("Example-Dict", " a=1,    b=2;x=1;y=2,   c=(a   b   c), d")
            .with_header("X-Empty-Header", "");
        let b = signature_base_with(
            &req,
            &one("(\"x-ows-header\" \"x-obs-fold-header\" \"cache-control\" \"example-dict\" \"x-empty-header\" \"example-dict\";sf \"example-dict\";key=\"a\" \"example-dict\";key=\"d\" \"example-dict\";key=\"b\" \"example-dict\";key=\"c\")").unwrap(),
            &[("example-dict", SfType::Dictionary)],
        )
        .unwrap();
        assert_eq!(
            lines(&b)[..10],
            [
                "\"x-ows-header\": Leading and trailing whitespace.",
                "\"x-obs-fold-header\": Obsolete line folding.",
                "\"cache-control\": max-age=60, must-revalidate",
                "\"example-dict\": a=1,    b=2;x=1;y=2,   c=(a   b   c), d",
                "\"x-empty-header\": ",
                "\"example-dict\";sf: a=1, b=2;x=1;y=2, c=(a b c), d",
                "\"example-dict\";key=\"a\": 1",
                "\"example-dict\";key=\"d\": ?1",
                "\"example-dict\";key=\"b\": 2;x=1;y=2",
                "\"example-dict\";key=\"c\": (a b c)",
            ]
        );
        // Without the extra type, `;sf` on an unknown field is unsupported.
        assert!(matches!(
            base_of(&req, "(\"example-dict\";sf)"),
            Err(Error::UnsupportedComponent { .. })
        ));
        assert_eq!(
            base_of(&req, "(\"example-dict\";key=\"zz\")"),
            Err(Error::MissingComponent(
                "\"example-dict\";key=\"zz\"".into()
            ))
        );
        assert!(matches!(
            base_of(&req, "(\"x-ows-header\";key=\"a\")"),
            Err(Error::InvalidComponentValue { .. })
        ));
    }

    #[test]
    fn byte_sequence_wrapping_rfc9421_2_1_3() {
        let req = TestRequest::new("GET", "https://h/")
            .with_header("Example-Header", "value, with, lots, of, commas");
        let b = base_of(&req, "(\"example-header\";bs)").unwrap();
        assert_eq!(
            lines(&b)[0],
            "\"example-header\";bs: :dmFsdWUsIHdpdGgsIGxvdHMsIG9mLCBjb21tYXM=:"
        );
        assert!(matches!(
            base_of(&req, "(\"example-header\";bs;sf)"),
            Err(Error::UnsupportedComponent { .. })
        ));
    }

    #[test]
    fn what_cannot_apply_to_a_request_is_refused() {
        let req = TestRequest::new("GET", "https://h/").with_header("Date", "x");
        for input in [
            "(\"@status\")",
            "(\"@method\";req)",
            "(\"date\";req)",
            "(\"date\";tr)",
            "(\"date\";foo)",
            "(\"@method\";name=\"x\")",
            "(\"@path\";sf)",
            "(\"@bogus\")",
            "(\"date\";sf=?0)",
        ] {
            assert!(
                matches!(
                    base_of(&req, input),
                    Err(Error::UnsupportedComponent { .. })
                ),
                "{input}"
            );
        }
        assert_eq!(
            base_of(&req, "(\"content-type\")"),
            Err(Error::MissingComponent("\"content-type\"".into()))
        );
        let req = TestRequest::new("GET", "https://h/").with_header("X", "caf\u{e9}");
        assert!(matches!(
            base_of(&req, "(\"x\")"),
            Err(Error::InvalidComponentValue { .. })
        ));
    }

    #[test]
    fn arbitrary_input_is_an_error_never_a_panic() {
        let input = "sig1=(\"@method\" \"@query-param\";name=\"a\" \"x\";key=\"k\" \"y\";sf \"z\";bs);created=1618884473;keyid=\"k\";alg=\"hmac-sha256\";d=1.5, sig2=()";
        let sig = "sig1=:AQID:, sig2=:BAU=:";
        let req = TestRequest::new("GET", "https://h/p?a=1&b=%ZZ&c")
            .with_header("x", "k=(1 2);p, j=?0")
            .with_header("y", "1, 2")
            .with_header("z", "caf");
        let alphabet: Vec<char> = " \t\"\\();=,:?*@-.%é1aAZ/+".chars().collect();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut tried = 0;
        for (field, other, first) in [(input, sig, true), (sig, input, false)] {
            let chars: Vec<char> = field.chars().collect();
            for cut in 0..=chars.len() {
                let mut variants = vec![chars[..cut].iter().collect::<String>()];
                for _ in 0..8 {
                    let mut m = chars.clone();
                    if cut < m.len() {
                        m[cut] = alphabet[next(alphabet.len())];
                    }
                    variants.push(m.into_iter().collect());
                }
                for v in variants {
                    let (i, s) = if first {
                        (v.as_str(), other)
                    } else {
                        (other, v.as_str())
                    };
                    if let Ok(sigs) = parse_signatures(i, s) {
                        for one in &sigs {
                            let _ = signature_base(&req, one);
                            let _ = one.algorithm();
                        }
                    }
                    let _ = crate::crypto::digest::check_content_digest(&v, b"body");
                    tried += 1;
                }
            }
        }
        assert!(tried > 1000);
    }

    #[test]
    fn time_checks() {
        let s = one("();created=1000;expires=2000").unwrap();
        assert_eq!(s.check_time(1500, 0, None), Ok(()));
        assert_eq!(s.check_time(999, 0, None), Err(Error::CreatedInFuture));
        assert_eq!(s.check_time(999, 5, None), Ok(()));
        assert_eq!(s.check_time(2001, 0, None), Err(Error::Expired));
        assert_eq!(s.check_time(1500, 0, Some(100)), Err(Error::TooOld));
        assert_eq!(
            one("()").unwrap().check_time(1500, 0, Some(100)),
            Err(Error::MissingCreated)
        );
    }

    #[test]
    fn algorithm_resolution() {
        let s = one("();alg=\"ed25519\"").unwrap();
        assert_eq!(
            s.resolve_algorithm(Algorithm::Ed25519),
            Ok(Algorithm::Ed25519)
        );
        assert_eq!(
            s.resolve_algorithm(Algorithm::HmacSha256),
            Err(Error::AlgorithmMismatch {
                expected: Algorithm::HmacSha256,
                stated: "ed25519".into()
            })
        );
        let s = one("()").unwrap();
        assert_eq!(
            s.resolve_algorithm(Algorithm::HmacSha256),
            Ok(Algorithm::HmacSha256)
        );
    }

    #[test]
    fn algorithms_round_trip() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.name()), Ok(a));
        }
        assert!(Algorithm::parse("ED25519").is_err());
        let pss = Algorithm::RsaPssSha512.webcrypto().unwrap();
        assert_eq!(
            (pss.name, pss.hash, pss.salt_length),
            ("RSA-PSS", Some("SHA-512"), Some(64))
        );
        assert!(Algorithm::HmacSha256.webcrypto().is_none());
    }
}
