//! Records: what Workers KV holds (this file), the per-isolate cache that keeps it warm
//! ([`cache`]), and the per-isolate keyed hashing of client-chosen keys ([`seeded`]). Uses
//! [`crate::base`] and [`crate::crypto`].
//!
//! The records kept in Workers KV: apps by client id, access tokens by the SHA-256 of the token.
//!
//! Key layout (documented in docs/records.md):
//! - `app:<client_id>` → [`App`]
//! - `token:<lowercase hex SHA-256 of the raw token>` → [`Token`]
//! - `jwt-issuer:<issuer>` → the keys of a JWT issuer ([`crate::crypto::keys::KeySet`])
//! - `jti:<issuer>:<jti>` → [`Jti`], a JWT revocation flag
//!
//! Unknown fields are tolerated so that tools can add their own; a record that does not parse is
//! reported with its key and never treated as absent.

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

pub mod cache;
pub mod seeded;

use crate::base::request::header_safe;
pub use crate::base::time::parse_rfc3339;
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};

/// KV keys are at most 512 bytes.
pub const MAX_KEY_BYTES: usize = 512;
pub const APP_PREFIX: &str = "app:";
pub const TOKEN_PREFIX: &str = "token:";
pub const ISSUER_PREFIX: &str = "jwt-issuer:";
pub const JTI_PREFIX: &str = "jti:";
/// Longest token accepted (it is hashed, so the KV limit does not apply; this bounds the work).
pub const MAX_TOKEN_BYTES: usize = 4096;

/// The KV key of an app, or `None` when the client id is too long to be one.
pub fn app_key(client_id: &str) -> Option<String> {
    if APP_PREFIX.len().saturating_add(client_id.len()) > MAX_KEY_BYTES {
        return None;
    }
    let mut k = String::with_capacity(APP_PREFIX.len().saturating_add(client_id.len()));
    k.push_str(APP_PREFIX);
    k.push_str(client_id);
    Some(k)
}

/// The KV key of a JWT issuer's keys, or `None` when the issuer is too long to be one.
pub fn issuer_key(issuer: &str) -> Option<String> {
    let k = format!("{ISSUER_PREFIX}{issuer}");
    (k.len() <= MAX_KEY_BYTES).then_some(k)
}

/// The KV key of a JWT's revocation flag, or `None` when it would be too long.
pub fn jti_key(issuer: &str, jti: &str) -> Option<String> {
    let k = format!("{JTI_PREFIX}{issuer}:{jti}");
    (k.len() <= MAX_KEY_BYTES).then_some(k)
}

/// SHA-256 of a token, the only form in which tokens are stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The KV key of a token, or `None` when the token is too long to be one.
pub fn token_key(token: &str) -> Option<String> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    Some(crate::base::hex::prefixed(TOKEN_PREFIX, &token_hash(token)))
}

/// A short, non-reversible fingerprint of a credential for logs: `sha256:` and 16 hex digits.
pub fn fingerprint(credential: &str) -> String {
    fingerprint_of_hash(&Sha256::digest(credential.as_bytes()))
}

/// The fingerprint from an already computed SHA-256 (a token's, which its key needs anyway).
pub fn fingerprint_of_hash(hash: &[u8]) -> String {
    crate::base::hex::prefixed("sha256:", hash.get(..8).unwrap_or(hash))
}

/// A token's KV key and fingerprint from one SHA-256; `None` when the token is too long.
pub fn token_key_and_fingerprint(token: &str) -> Option<(String, String)> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let hash = token_hash(token);
    Some((
        crate::base::hex::prefixed(TOKEN_PREFIX, &hash),
        fingerprint_of_hash(&hash),
    ))
}

/// App status, as in the Sensedia API Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AppStatus {
    Approved,
    Pending,
    Rejected,
    Cancelled,
}

/// Permission to call an API, or only some of its resources.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct Grant {
    pub api: String,
    /// Resource names of that API; absent means the whole API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
}

/// Whether `grants` allow a call to `api` (and `resource`, when the route has one).
pub fn grants_access(grants: &[Grant], api: &str, resource: Option<&str>) -> bool {
    grants.iter().any(|g| {
        g.api == api
            && match (&g.resources, resource) {
                (None, _) => true,
                (Some(list), Some(r)) => list.iter().any(|x| x == r),
                (Some(_), None) => false,
            }
    })
}

/// An app (a client), stored under `app:<client_id>`.
#[derive(Debug, Clone, Deserialize)]
pub struct App {
    pub name: String,
    pub status: AppStatus,
    #[serde(default)]
    pub revoked: bool,
    /// Epoch seconds or an RFC 3339 string; absent means no expiry.
    #[serde(default, deserialize_with = "expiry")]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub access: Vec<Grant>,
    /// Lowercase hex SHA-256 of the client secret (the secret itself is never stored).
    #[serde(default)]
    pub client_secret_sha256: Option<String>,
    #[serde(default)]
    pub extra_info: Option<serde_json::Value>,
    /// Public keys that verify the app's signatures (JWT / Digital Signature interceptors).
    #[serde(default)]
    pub signature_keys: Vec<SignatureKey>,
    /// Shared secrets for HMAC signatures (HS256/384/512).
    #[serde(default)]
    pub hmac_secrets: Vec<HmacSecret>,
    /// The authorization server's view of the app (docs/authorization-server.md, "Apps"):
    /// confidential (a client secret) or public (PKCE, no secret).
    #[serde(default)]
    pub client_type: ClientType,
    /// Redirect URIs that grant-code accepts, compared exactly.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Narrows the authorization server's grants for this app.
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// Shortens the authorization server's access token lifetime for this app.
    #[serde(default)]
    pub access_token_lifetime_seconds: Option<u64>,
    /// Shortens the refresh token lifetime for this app.
    #[serde(default)]
    pub refresh_token_lifetime_seconds: Option<u64>,
    /// May introspect any app's tokens (RFC 7662), not only its own.
    #[serde(default)]
    pub introspect_any: bool,
    /// `signature_keys` and `hmac_secrets` decoded, once per record (records are cached per
    /// isolate, so not once per request): see [`App::keys`].
    #[serde(skip)]
    decoded: std::sync::OnceLock<AppKeys>,
    /// `extra_info` as the forward's header carries it, made once per record: see
    /// [`extra_info_header`].
    #[serde(skip)]
    extra_header: std::sync::OnceLock<Option<Box<str>>>,
}

/// An app's keys, decoded: public keys that parse (pinned to their `alg`) and HMAC secrets
/// that decode to at least one byte. Unusable entries are left out (`edge-records check`
/// reports them).
#[derive(Clone, Default)]
pub struct AppKeys {
    pub public: Vec<std::sync::Arc<crate::crypto::keys::Key>>,
    /// (kid, secret bytes).
    pub hmac: Vec<(String, std::sync::Arc<[u8]>)>,
}

impl std::fmt::Debug for AppKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppKeys")
            .field("public", &self.public)
            .field("hmac", &format!("<{} redacted>", self.hmac.len()))
            .finish()
    }
}

/// An app that can do nothing (`REJECTED`, no grants, no keys): what an identity shows should
/// it ever hold something else than an app record — never a panic, never a grant.
pub static NO_APP: std::sync::LazyLock<App> = std::sync::LazyLock::new(|| App {
    name: String::new(),
    status: AppStatus::Rejected,
    revoked: true,
    expires_at: None,
    access: Vec::new(),
    client_secret_sha256: None,
    extra_info: None,
    signature_keys: Vec::new(),
    hmac_secrets: Vec::new(),
    client_type: ClientType::default(),
    redirect_uris: Vec::new(),
    grant_types: Some(Vec::new()),
    access_token_lifetime_seconds: None,
    refresh_token_lifetime_seconds: None,
    introspect_any: false,
    decoded: std::sync::OnceLock::new(),
    extra_header: std::sync::OnceLock::new(),
});

/// `extra_info` as compact JSON made header-safe ([`header_safe`]): what the forward puts in
/// the extra-info identity header, inside `{"app":…,"token":…}`. Kept in the record's `cell`, so
/// made once per cached record, not once per request (header-safe, byte by byte, composes).
pub fn extra_info_header<'a>(
    extra_info: Option<&serde_json::Value>,
    cell: &'a std::sync::OnceLock<Option<Box<str>>>,
) -> Option<&'a str> {
    cell.get_or_init(|| extra_info.map(|v| header_safe(&v.to_string()).into_boxed_str()))
        .as_deref()
}

impl App {
    /// `extra_info` as the forward's header carries it ([`extra_info_header`]).
    pub fn extra_info_header(&self) -> Option<&str> {
        extra_info_header(self.extra_info.as_ref(), &self.extra_header)
    }

    /// The app's keys, decoded on first use and kept with the record.
    pub fn keys(&self) -> &AppKeys {
        self.decoded.get_or_init(|| {
            use base64::Engine;
            let public = self
                .signature_keys
                .iter()
                .filter_map(|k| {
                    let mut v = serde_json::Map::new();
                    v.insert("kid".into(), k.kid.clone().into());
                    v.insert("alg".into(), k.alg.clone().into());
                    if let Some(p) = &k.pem {
                        v.insert("pem".into(), p.clone().into());
                    }
                    if let Some(j) = &k.jwk {
                        v.insert("jwk".into(), j.clone());
                    }
                    crate::crypto::keys::parse_key(
                        &serde_json::Value::Object(v),
                        crate::crypto::keys::Source::Kv,
                    )
                    .ok()
                })
                .map(std::sync::Arc::new)
                .collect();
            let hmac = self
                .hmac_secrets
                .iter()
                .filter_map(|s| {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(&s.secret_b64)
                        .ok()?;
                    (!bytes.is_empty()).then(|| (s.kid.clone(), bytes.into()))
                })
                .collect();
            AppKeys { public, hmac }
        })
    }
}

/// Whether an app holds a client secret (confidential) or cannot keep one (public: a browser or
/// mobile app, which authenticates by client id alone and must use PKCE).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    #[default]
    Confidential,
    Public,
}

/// A public key of an app: `{"kid", "alg", "pem"}` (SPKI `PUBLIC KEY`) or `{"kid", "alg", "jwk"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct SignatureKey {
    pub kid: String,
    pub alg: String,
    #[serde(default)]
    pub pem: Option<String>,
    #[serde(default)]
    pub jwk: Option<serde_json::Value>,
}

/// An HMAC signing secret of an app: `{"kid", "secret_b64"}` (standard base64 of the bytes).
#[derive(Clone, Deserialize)]
pub struct HmacSecret {
    pub kid: String,
    pub secret_b64: String,
}

impl std::fmt::Debug for HmacSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HmacSecret")
            .field("kid", &self.kid)
            .field("secret_b64", &"<redacted>")
            .finish()
    }
}

/// An access token, stored under `token:<sha256 hex>`.
#[derive(Debug, Clone, Deserialize)]
pub struct Token {
    pub client_id: String,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default, deserialize_with = "expiry")]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub grant_type: Option<String>,
    /// Narrows what the token may call below what its app may call.
    #[serde(default)]
    pub scope: Option<Vec<Grant>>,
    #[serde(default)]
    pub extra_info: Option<serde_json::Value>,
    /// An access token (the default: every record without the field) or a refresh token, which
    /// only the token endpoint accepts and no interceptor ever does.
    #[serde(default)]
    pub kind: TokenKind,
    /// `extra_info` as the forward's header carries it ([`extra_info_header`]).
    #[serde(skip)]
    extra_header: std::sync::OnceLock<Option<Box<str>>>,
}

impl Token {
    /// `extra_info` as the forward's header carries it ([`extra_info_header`]).
    pub fn extra_info_header(&self) -> Option<&str> {
        extra_info_header(self.extra_info.as_ref(), &self.extra_header)
    }
}

/// What a token record is for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    #[default]
    AccessToken,
    RefreshToken,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::AccessToken => "access_token",
            TokenKind::RefreshToken => "refresh_token",
        }
    }
}

/// A JWT revocation flag, stored under `jti:<issuer>:<jti>`:
/// `{"revoked": true, "expires_at": <epoch seconds or RFC 3339>}`.
#[derive(Debug, Clone)]
pub struct Jti {
    pub revoked: bool,
    /// When the token expires anyway (the record may be deleted from then on); informational.
    pub expires_at: Option<i64>,
}

impl Jti {
    /// Read through `serde_json::Value` (a derived deserializer costs the Worker a few KB).
    fn parse(text: &str) -> Result<Jti, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let o = v.as_object().ok_or("expected an object")?;
        let revoked = match o.get("revoked") {
            None | Some(serde_json::Value::Null) => false,
            Some(serde_json::Value::Bool(b)) => *b,
            Some(_) => return Err("revoked is not true or false".into()),
        };
        let expires_at = match o.get("expires_at") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::Number(n)) => {
                Some(n.as_i64().ok_or("expires_at is not whole seconds")?)
            }
            Some(serde_json::Value::String(t)) => Some(parse_rfc3339(t).ok_or_else(|| {
                format!("expires_at {t:?} is neither epoch seconds nor RFC 3339")
            })?),
            Some(_) => return Err("expires_at is neither epoch seconds nor RFC 3339".into()),
        };
        Ok(Jti {
            revoked,
            expires_at,
        })
    }
}

/// A parsed record.
#[derive(Debug, Clone)]
pub enum Record {
    App(App),
    Token(Token),
    /// The keys of a JWT issuer, parsed once (see [`crate::crypto::keys`]).
    Issuer(std::sync::Arc<crate::crypto::keys::KeySet>),
    Jti(Jti),
}

/// Parses the text stored under `key`; the error says what is wrong (never the value itself,
/// which may hold a secret hash).
pub fn parse(key: &str, text: &str) -> Result<Record, String> {
    let res = if key.starts_with(APP_PREFIX) {
        serde_json::from_str::<App>(text).map(Record::App)
    } else if key.starts_with(TOKEN_PREFIX) {
        serde_json::from_str::<Token>(text).map(Record::Token)
    } else if key.starts_with(JTI_PREFIX) {
        return Jti::parse(text)
            .map(Record::Jti)
            .map_err(|e| format!("malformed record {key:?}: {e}"));
    } else if key.starts_with(ISSUER_PREFIX) {
        return crate::crypto::keys::KeySet::parse(text, crate::crypto::keys::Source::Kv)
            .map(|s| Record::Issuer(std::sync::Arc::new(s)))
            .map_err(|e| format!("malformed record {key:?}: {e}"));
    } else {
        return Err(format!("no record type for key {key:?}"));
    };
    res.map_err(|e| format!("malformed record {key:?}: {e}"))
}

/// True when an expiry (epoch seconds) has passed at `now` (epoch seconds).
pub fn is_expired(expires_at: Option<i64>, now: i64) -> bool {
    matches!(expires_at, Some(t) if now >= t)
}

fn expiry<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(i64),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Secs(s)) => Ok(Some(s)),
        Some(Raw::Text(t)) => parse_rfc3339(&t).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expires_at {t:?} is neither epoch seconds nor RFC 3339"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_layout() {
        assert_eq!(app_key("abc").unwrap(), "app:abc");
        assert_eq!(
            token_key("abc").unwrap(),
            "token:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(app_key(&"x".repeat(508)).is_some());
        assert!(app_key(&"x".repeat(509)).is_none());
        assert!(token_key(&"x".repeat(MAX_TOKEN_BYTES + 1)).is_none());
    }

    #[test]
    fn apps_parse_with_defaults_and_unknown_fields() {
        let r = parse(
            "app:a",
            r#"{"name":"A","status":"APPROVED","access":[{"api":"orders"}],"future":1}"#,
        )
        .unwrap();
        let Record::App(a) = r else { panic!() };
        assert!(!a.revoked);
        assert_eq!(a.expires_at, None);
        assert!(grants_access(&a.access, "orders", Some("x")));
        assert!(!grants_access(&a.access, "other", None));
    }

    #[test]
    fn expiry_accepts_seconds_and_rfc3339() {
        let Record::Token(t) =
            parse("token:x", r#"{"client_id":"a","expires_at":1700000000}"#).unwrap()
        else {
            panic!()
        };
        assert_eq!(t.expires_at, Some(1_700_000_000));
        let Record::Token(t) = parse(
            "token:x",
            r#"{"client_id":"a","expires_at":"2023-11-14T22:13:20Z"}"#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(t.expires_at, Some(1_700_000_000));
        let Record::Token(t) = parse(
            "token:x",
            r#"{"client_id":"a","expires_at":"2023-11-14T19:13:20-03:00"}"#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(t.expires_at, Some(1_700_000_000));
        assert!(parse(
            "token:x",
            r#"{"client_id":"a","expires_at":"2023-11-14T22:13:20"}"#
        )
        .is_err());
        assert!(is_expired(Some(10), 10));
        assert!(!is_expired(Some(10), 9));
        assert!(!is_expired(None, 9));
    }

    #[test]
    fn authorization_server_fields_parse_with_defaults() {
        let Record::App(a) = parse("app:a", r#"{"name":"A","status":"APPROVED"}"#).unwrap() else {
            panic!()
        };
        assert_eq!(a.client_type, ClientType::Confidential);
        assert!(a.redirect_uris.is_empty() && a.grant_types.is_none() && !a.introspect_any);
        let Record::App(a) = parse(
            "app:a",
            r#"{"name":"A","status":"APPROVED","client_type":"public",
                "redirect_uris":["https://app.example/cb"],"grant_types":["authorization_code"],
                "access_token_lifetime_seconds":600,"introspect_any":true}"#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(a.client_type, ClientType::Public);
        assert_eq!(a.redirect_uris, vec!["https://app.example/cb"]);
        assert_eq!(a.access_token_lifetime_seconds, Some(600));
        assert!(a.introspect_any);
        assert!(parse(
            "app:a",
            r#"{"name":"A","status":"APPROVED","client_type":"secret"}"#
        )
        .is_err());

        let Record::Token(t) = parse("token:x", r#"{"client_id":"a"}"#).unwrap() else {
            panic!()
        };
        assert_eq!(t.kind, TokenKind::AccessToken);
        let Record::Token(t) = parse(
            "token:x",
            r#"{"client_id":"a","kind":"refresh_token","family":"f","issued_at":1}"#,
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(t.kind, TokenKind::RefreshToken);
        assert!(parse("token:x", r#"{"client_id":"a","kind":"id_token"}"#).is_err());
    }

    #[test]
    fn malformed_records_name_their_key() {
        for (key, text) in [
            ("app:a", "{"),
            ("app:a", r#"{"name":"A","status":"ACTIVE"}"#),
            (
                "app:a",
                r#"{"name":"A","status":"APPROVED","revoked":"no"}"#,
            ),
            ("token:h", r#"{"revoked":false}"#),
            ("token:h", r#"{"client_id":"a","scope":"orders"}"#),
        ] {
            let e = parse(key, text).unwrap_err();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn grants_narrow_to_resources() {
        let g = vec![Grant {
            api: "orders".into(),
            resources: Some(vec!["list".into()]),
        }];
        assert!(grants_access(&g, "orders", Some("list")));
        assert!(!grants_access(&g, "orders", Some("create")));
        assert!(!grants_access(&g, "orders", None));
    }

    #[test]
    fn key_and_fingerprint_come_from_one_hash() {
        let (key, fp) = token_key_and_fingerprint("abc").unwrap();
        assert_eq!(Some(key), token_key("abc"));
        assert_eq!(fp, fingerprint("abc"));
        assert!(token_key_and_fingerprint(&"x".repeat(MAX_TOKEN_BYTES + 1)).is_none());
    }

    #[test]
    fn fingerprints_do_not_contain_the_credential() {
        let f = fingerprint("secret-token");
        assert!(f.starts_with("sha256:") && f.len() == 23 && !f.contains("secret"));
    }
}
