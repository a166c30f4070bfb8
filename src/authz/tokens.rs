//! What the endpoints issue: tokens, refresh tokens and codes made from the runtime's random
//! bytes, and the token records written to KV (the format every token has:
//! docs/records.md, docs/authorization-server.md "Tokens").

use crate::authz::config::TokenFormat;
use crate::records::{self, Grant, TokenKind};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Random bytes drawn once per request (`crypto.getRandomValues`): re-running an endpoint
/// with what it learned since gives the same tokens.
pub const RANDOM_BYTES: usize = 128;

/// A request's random bytes, cut into the pieces it may need.
#[derive(Clone)]
pub struct Random(pub [u8; RANDOM_BYTES]);

impl Random {
    /// `N` bytes from `AT`; a piece outside the bytes does not compile.
    fn piece<const AT: usize, const N: usize>(&self) -> [u8; N] {
        const {
            assert!(
                matches!(AT.checked_add(N), Some(end) if end <= RANDOM_BYTES),
                "a piece of the random bytes lies outside them"
            )
        };
        // The zeros are never used: the assertion above holds for every piece that compiles.
        self.0
            .get(AT..)
            .and_then(<[u8]>::first_chunk::<N>)
            .copied()
            .unwrap_or([0; N])
    }
    pub fn access(&self) -> [u8; 32] {
        self.piece::<0, _>()
    }
    pub fn refresh(&self) -> [u8; 32] {
        self.piece::<32, _>()
    }
    pub fn family(&self) -> [u8; 16] {
        self.piece::<64, _>()
    }
    pub fn code(&self) -> [u8; 16] {
        self.piece::<80, _>()
    }
    /// For the trace context (W3C trace and span ids).
    pub fn trace(&self) -> [u8; 24] {
        self.piece::<96, _>()
    }
}

impl std::fmt::Debug for Random {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Random(<redacted>)")
    }
}

/// A version 4 UUID from 16 random bytes: 122 of them kept, lowercase, 8-4-4-4-12.
pub fn uuid(b: [u8; 16]) -> String {
    let mut b = b;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = crate::base::hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A token in the server's format: a UUID from the first 16 bytes, or all 32 as base64url.
pub fn token(format: TokenFormat, bytes: [u8; 32]) -> String {
    match format {
        TokenFormat::Uuid => {
            let mut b = [0u8; 16];
            b.copy_from_slice(&bytes[..16]);
            uuid(b)
        }
        TokenFormat::Bits256 => URL_SAFE_NO_PAD.encode(bytes),
    }
}

/// The lowercase hex SHA-256 of a token, code or refresh token (the only form stored).
pub fn hash_hex(secret: &str) -> String {
    crate::base::hex::encode(records::token_hash(secret))
}

/// Records stay in KV this long after they expire (for `edge-records token list/show`).
pub const KEEP_EXPIRED_S: i64 = 86_400;

/// A KV write: `key` ← `value`, with KV metadata `{"client_id": …}` and an expiration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Put {
    pub key: String,
    pub value: String,
    /// Epoch seconds when KV deletes the record (a day after the token expires).
    pub expiration: i64,
    pub client_id: String,
}

impl Put {
    /// KV metadata, as `edge-records` writes it (so `token list --app` needs no value reads).
    pub fn metadata(&self) -> String {
        serde_json::json!({ "client_id": self.client_id }).to_string()
    }
}

/// What a token record says.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub client_id: &'a str,
    pub kind: TokenKind,
    pub expires_at: i64,
    pub grant_type: &'a str,
    pub family: Option<&'a str>,
    pub issued_at: i64,
    pub server: &'a str,
    pub extra_info: Option<&'a Value>,
    pub scope: Option<&'a [Grant]>,
}

/// The record text of a token (the same fields as every token record, plus informational ones).
pub fn record(f: &Facts<'_>) -> String {
    let mut m = Map::new();
    m.insert("client_id".into(), f.client_id.into());
    m.insert("revoked".into(), false.into());
    m.insert("expires_at".into(), f.expires_at.into());
    m.insert("grant_type".into(), f.grant_type.into());
    m.insert("kind".into(), f.kind.as_str().into());
    if let Some(fam) = f.family {
        m.insert("family".into(), fam.into());
    }
    m.insert("issued_at".into(), f.issued_at.into());
    m.insert("server".into(), f.server.into());
    if let Some(x) = f.extra_info {
        m.insert("extra_info".into(), x.clone());
    }
    if let Some(s) = f.scope {
        m.insert(
            "scope".into(),
            serde_json::to_value(s).unwrap_or(Value::Null),
        );
    }
    Value::Object(m).to_string()
}

/// The KV write of a token record.
pub fn put(hash_hex: &str, f: &Facts<'_>) -> Put {
    Put {
        key: format!("{}{hash_hex}", records::TOKEN_PREFIX),
        value: record(f),
        expiration: f.expires_at.saturating_add(KEEP_EXPIRED_S),
        client_id: f.client_id.to_string(),
    }
}

/// The same record, revoked; `None` when `text` is not a JSON object.
pub fn revoked(text: &str) -> Option<String> {
    let mut v: Value = serde_json::from_str(text).ok()?;
    v.as_object_mut()?.insert("revoked".into(), true.into());
    Some(v.to_string())
}

/// What successors of a token keep from its record: extra info and scope.
pub fn inherited(text: &str) -> (Option<Value>, Option<Vec<Grant>>) {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let extra = v.get("extra_info").filter(|x| !x.is_null()).cloned();
    let scope = v
        .get("scope")
        .and_then(|s| serde_json::from_value::<Vec<Grant>>(s.clone()).ok());
    (extra, scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_random_pieces_are_the_bytes_in_order() {
        let mut bytes = [0u8; RANDOM_BYTES];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        let r = Random(bytes);
        assert_eq!(r.access().to_vec(), bytes[0..32].to_vec());
        assert_eq!(r.refresh().to_vec(), bytes[32..64].to_vec());
        assert_eq!(r.family().to_vec(), bytes[64..80].to_vec());
        assert_eq!(r.code().to_vec(), bytes[80..96].to_vec());
        assert_eq!(r.trace().to_vec(), bytes[96..120].to_vec());
    }

    #[test]
    fn uuids_have_122_random_bits() {
        let u = uuid([0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let u = uuid([0; 16]);
        assert_eq!(u, "00000000-0000-4000-8000-000000000000");
        assert_eq!(token(TokenFormat::Uuid, [7; 32]).len(), 36);
        let t = token(TokenFormat::Bits256, [7; 32]);
        assert_eq!(t.len(), 43);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    #[test]
    fn randomness_is_cut_into_distinct_pieces() {
        let mut b = [0u8; RANDOM_BYTES];
        for (i, x) in b.iter_mut().enumerate() {
            *x = i as u8;
        }
        let r = Random(b);
        assert_eq!(r.access()[0], 0);
        assert_eq!(r.refresh()[0], 32);
        assert_eq!(r.family()[0], 64);
        assert_eq!(r.code()[0], 80);
        assert_eq!(r.trace()[0], 96);
        assert_eq!(format!("{r:?}"), "Random(<redacted>)");
    }

    #[test]
    fn records_parse_in_the_worker_and_revoke() {
        let extra = serde_json::json!({"user": "alice"});
        let scope = vec![Grant {
            api: "orders".into(),
            resources: None,
        }];
        let f = Facts {
            client_id: "app",
            kind: TokenKind::RefreshToken,
            expires_at: 2_000_000_000,
            grant_type: "authorization_code",
            family: Some("fam"),
            issued_at: 1_999_996_400,
            server: "s",
            extra_info: Some(&extra),
            scope: Some(&scope),
        };
        let p = put(&hash_hex("t"), &f);
        assert_eq!(p.key, records::token_key("t").unwrap());
        assert_eq!(p.expiration, 2_000_086_400);
        assert_eq!(p.metadata(), r#"{"client_id":"app"}"#);
        let records::Record::Token(t) = records::parse(&p.key, &p.value).unwrap() else {
            panic!()
        };
        assert_eq!(t.kind, TokenKind::RefreshToken);
        assert!(!t.revoked);
        assert_eq!(t.extra_info, Some(extra.clone()));
        assert_eq!(t.scope, Some(scope.clone()));
        let r = revoked(&p.value).unwrap();
        let records::Record::Token(t) = records::parse(&p.key, &r).unwrap() else {
            panic!()
        };
        assert!(t.revoked);
        assert_eq!(inherited(&r), (Some(extra), Some(scope)));
        assert_eq!(revoked("[]"), None);
    }
}
