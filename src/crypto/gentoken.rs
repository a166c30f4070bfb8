//! Tokens the gateway issues itself (CSRF Tokens, Time Tokens): an HMAC-SHA-256 under the
//! `TOKEN_SECRET` Worker secret, so that no KV write or read is needed to issue or check one.
//!
//! A token is `v1.<time_ms>.<tag>.<mac>` (about 75 characters, URL-, header- and cookie-safe):
//! - `time_ms`: decimal milliseconds since the epoch — the expiry of a CSRF token, the issue time
//!   of a Time Token;
//! - `tag`: base64url of 8 bytes, `HMAC(secret, "edge-interceptors/v1/bind" ‖ kind ‖ bound
//!   values)`: what the token is bound to (a client id, a session, a bound value), keyed so that
//!   it says nothing about those values without the secret;
//! - `mac`: base64url of `HMAC(secret, "edge-interceptors/v1/mac" ‖ kind ‖ API name ‖ location
//!   ‖ element name ‖ time_ms ‖ tag)`.
//!
//! Every variable-length field is length-prefixed, so no two inputs encode alike. A validator
//! first checks the MAC (any change to the time, the tag, the kind, the API, the element or the
//! secret fails it: `bad_signature`), then the time, then compares the tag with the one its own
//! request's bound values give (`wrong_binding`). Both comparisons are constant-time.
//!
//! The secret is at least 32 bytes of text, used as the HMAC key as it is. Validators also
//! accept tokens made under `TOKEN_SECRET_PREVIOUS` (rotation); generators always use
//! `TOKEN_SECRET`.

use crate::base::locate::Place;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The Worker secret holding the key, and the previous one still accepted.
pub const SECRET: &str = "TOKEN_SECRET";
pub const SECRET_PREVIOUS: &str = "TOKEN_SECRET_PREVIOUS";
/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 32;
/// Longest token looked at; anything longer is refused without computing a MAC.
pub const MAX_TOKEN_BYTES: usize = 256;

const TAG_BYTES: usize = 8;
const MAC_BYTES: usize = 32;

/// What a token is for (domain separation: a CSRF token is never a Time Token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Csrf,
    Time,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Csrf => "csrf",
            Kind::Time => "time",
        }
    }
}

/// The HMAC keys, ready to clone (the key pads are computed once per isolate).
pub struct TokenKeys {
    current: HmacSha256,
    previous: Option<HmacSha256>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenKeys {{ current: <redacted>, previous: {} }}",
            if self.previous.is_some() {
                "<redacted>"
            } else {
                "none"
            }
        )
    }
}

impl TokenKeys {
    /// Keys from the secrets' text; every problem names the secret, never its value.
    pub fn new(current: &str, previous: Option<&str>) -> Result<TokenKeys, String> {
        let key = |name: &str, s: &str| {
            if s.len() < MIN_SECRET_BYTES {
                Err(format!(
                    "the {name} secret has {} bytes; at least {MIN_SECRET_BYTES} are needed (e.g. `openssl rand -base64 32`)",
                    s.len()
                ))
            } else {
                HmacSha256::new_from_slice(s.as_bytes()).map_err(|e| format!("{name}: {e}"))
            }
        };
        let current = key(SECRET, current);
        let previous = previous.map(|p| key(SECRET_PREVIOUS, p)).transpose();
        match (current, previous) {
            (Ok(current), Ok(previous)) => Ok(TokenKeys { current, previous }),
            (Err(a), Err(b)) => Err(format!("{a}\n{b}")),
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }
}

/// Where a token belongs: its kind, API and element. All of it is covered by the MAC.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub kind: Kind,
    pub api: &'a str,
    pub place: Place,
    pub name: &'a str,
}

fn put(mac: &mut HmacSha256, field: &[u8]) {
    mac.update(&(field.len() as u32).to_be_bytes());
    mac.update(field);
}

fn tag(key: &HmacSha256, kind: Kind, bound: &[Option<&str>]) -> [u8; TAG_BYTES] {
    let mut m = key.clone();
    m.update(b"edge-interceptors/v1/bind\0");
    put(&mut m, kind.as_str().as_bytes());
    for v in bound {
        match v {
            None => m.update(&[0]),
            Some(v) => {
                m.update(&[1]);
                put(&mut m, v.as_bytes());
            }
        }
    }
    let full = m.finalize().into_bytes();
    let mut out = [0u8; TAG_BYTES];
    for (o, b) in out.iter_mut().zip(full) {
        *o = b;
    }
    out
}

fn mac(key: &HmacSha256, scope: &Scope<'_>, time_ms: u64, tag: &[u8]) -> HmacSha256 {
    let mut m = key.clone();
    m.update(b"edge-interceptors/v1/mac\0");
    put(&mut m, scope.kind.as_str().as_bytes());
    put(&mut m, scope.api.as_bytes());
    put(&mut m, scope.place.as_str().as_bytes());
    put(&mut m, scope.name.as_bytes());
    m.update(&time_ms.to_be_bytes());
    put(&mut m, tag);
    m
}

/// A new token for `scope` at `time_ms`, bound to `bound` (each value present or absent, in an
/// order fixed by the interceptor).
pub fn issue(keys: &TokenKeys, scope: &Scope<'_>, time_ms: u64, bound: &[Option<&str>]) -> String {
    let t = tag(&keys.current, scope.kind, bound);
    let m = mac(&keys.current, scope, time_ms, &t)
        .finalize()
        .into_bytes();
    format!(
        "v1.{time_ms}.{}.{}",
        URL_SAFE_NO_PAD.encode(t),
        URL_SAFE_NO_PAD.encode(m)
    )
}

/// Why a token is not one the gateway issued for this scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Longer than any token issued (bytes).
    TooLong(usize),
    /// Not `v1.<time>.<tag>.<mac>`; says which part.
    Malformed(&'static str),
    /// The MAC does not verify under any accepted key: altered, forged, made under another
    /// secret, or issued for another kind, API or element.
    BadSignature,
}

/// A token whose MAC verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub time_ms: u64,
    /// Its bound values equal the request's.
    pub binding_ok: bool,
    /// Verified under `TOKEN_SECRET_PREVIOUS`.
    pub previous_key: bool,
}

/// Checks `token` for `scope`, and its binding against `bound` (the request's values).
pub fn open(
    keys: &TokenKeys,
    scope: &Scope<'_>,
    token: &str,
    bound: &[Option<&str>],
) -> Result<Opened, Invalid> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Invalid::TooLong(token.len()));
    }
    let mut parts = token.split('.');
    let (Some(version), Some(time), Some(tag_b64), Some(mac_b64), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(Invalid::Malformed(
            "not four dot-separated parts (v1.<time>.<tag>.<mac>)",
        ));
    };
    if version != "v1" {
        return Err(Invalid::Malformed("unknown version (expected v1)"));
    }
    let time_ms = match time.parse::<u64>() {
        Ok(t)
            if !time.is_empty() && time.len() <= 16 && time.bytes().all(|b| b.is_ascii_digit()) =>
        {
            t
        }
        _ => return Err(Invalid::Malformed("the time is not a decimal number")),
    };
    let tag_bytes = match URL_SAFE_NO_PAD.decode(tag_b64) {
        Ok(b) if b.len() == TAG_BYTES => b,
        _ => {
            return Err(Invalid::Malformed(
                "the binding tag is not 8 bytes of base64url",
            ))
        }
    };
    let mac_bytes = match URL_SAFE_NO_PAD.decode(mac_b64) {
        Ok(b) if b.len() == MAC_BYTES => b,
        _ => return Err(Invalid::Malformed("the MAC is not 32 bytes of base64url")),
    };
    let keys_in_order =
        std::iter::once((&keys.current, false)).chain(keys.previous.iter().map(|k| (k, true)));
    for (key, previous_key) in keys_in_order {
        if mac(key, scope, time_ms, &tag_bytes)
            .verify_slice(&mac_bytes)
            .is_ok()
        {
            let expected = tag(key, scope.kind, bound);
            let binding_ok = bool::from(expected.ct_eq(tag_bytes.as_slice()));
            return Ok(Opened {
                time_ms,
                binding_ok,
                previous_key,
            });
        }
    }
    Err(Invalid::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: &str = "0123456789abcdef0123456789abcdef";
    const S2: &str = "fedcba9876543210fedcba9876543210-second";

    fn keys() -> TokenKeys {
        TokenKeys::new(S1, None).unwrap()
    }

    fn scope() -> Scope<'static> {
        Scope {
            kind: Kind::Csrf,
            api: "orders",
            place: Place::Cookie,
            name: "csrf_token",
        }
    }

    #[test]
    fn a_token_opens_for_its_scope_and_binding() {
        let k = keys();
        let t = issue(&k, &scope(), 1_800_000_000_000, &[Some("app-1"), None]);
        assert!(t.starts_with("v1.1800000000000."), "{t}");
        assert_eq!(t.split('.').count(), 4);
        assert!(t.len() <= 80, "{}", t.len());
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        let o = open(&k, &scope(), &t, &[Some("app-1"), None]).unwrap();
        assert_eq!(
            o,
            Opened {
                time_ms: 1_800_000_000_000,
                binding_ok: true,
                previous_key: false
            }
        );
    }

    #[test]
    fn another_binding_opens_but_does_not_match() {
        let k = keys();
        let t = issue(&k, &scope(), 5, &[Some("app-1"), Some("sess-a")]);
        for other in [
            [Some("app-2"), Some("sess-a")],
            [Some("app-1"), Some("sess-b")],
            [None, Some("sess-a")],
            [Some("app-1"), None],
            // The fields are length-prefixed: moving bytes between them changes the tag.
            [Some("app-1s"), Some("ess-a")],
        ] {
            let o = open(&k, &scope(), &t, &other).unwrap();
            assert!(!o.binding_ok, "{other:?}");
        }
    }

    #[test]
    fn any_change_of_scope_time_or_secret_is_a_bad_signature() {
        let k = keys();
        let t = issue(&k, &scope(), 1000, &[Some("a")]);
        let b = [Some("a")];
        for s in [
            Scope {
                kind: Kind::Time,
                ..scope()
            },
            Scope {
                api: "billing",
                ..scope()
            },
            Scope {
                place: Place::Header,
                ..scope()
            },
            Scope {
                name: "csrf",
                ..scope()
            },
        ] {
            assert_eq!(open(&k, &s, &t, &b), Err(Invalid::BadSignature), "{s:?}");
        }
        let later = t.replacen("v1.1000.", "v1.1001.", 1);
        assert_eq!(open(&k, &scope(), &later, &b), Err(Invalid::BadSignature));
        // A tag copied from another token with the same time fails the MAC.
        let other = issue(&k, &scope(), 1000, &[Some("b")]);
        let p: Vec<&str> = t.split('.').collect();
        let q: Vec<&str> = other.split('.').collect();
        let spliced = format!("v1.1000.{}.{}", q[2], p[3]);
        assert_eq!(open(&k, &scope(), &spliced, &b), Err(Invalid::BadSignature));
        // One flipped character of the MAC.
        let mut bytes = t.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap();
        assert_eq!(open(&k, &scope(), &flipped, &b), Err(Invalid::BadSignature));
        let k2 = TokenKeys::new(S2, None).unwrap();
        assert_eq!(open(&k2, &scope(), &t, &b), Err(Invalid::BadSignature));
    }

    #[test]
    fn the_previous_secret_is_accepted_for_rotation() {
        let old = TokenKeys::new(S1, None).unwrap();
        let t = issue(&old, &scope(), 9, &[None]);
        let rotated = TokenKeys::new(S2, Some(S1)).unwrap();
        let o = open(&rotated, &scope(), &t, &[None]).unwrap();
        assert!(o.previous_key && o.binding_ok);
        let fresh = issue(&rotated, &scope(), 9, &[None]);
        assert!(
            !open(&rotated, &scope(), &fresh, &[None])
                .unwrap()
                .previous_key
        );
        assert_eq!(
            open(&old, &scope(), &fresh, &[None]),
            Err(Invalid::BadSignature),
            "generators use the current secret"
        );
    }

    #[test]
    fn malformed_tokens_say_which_part() {
        let k = keys();
        let good = issue(&k, &scope(), 1000, &[None]);
        let p: Vec<&str> = good.split('.').collect();
        for (t, want) in [
            ("abc".to_string(), "not four"),
            (format!("{good}.x"), "not four"),
            (good.replacen("v1.", "v2.", 1), "version"),
            (format!("v1.-5.{}.{}", p[2], p[3]), "time"),
            (format!("v1.+5.{}.{}", p[2], p[3]), "time"),
            (format!("v1..{}.{}", p[2], p[3]), "time"),
            (format!("v1.99999999999999999999.{}.{}", p[2], p[3]), "time"),
            (format!("v1.1000.{}x.{}", p[2], p[3]), "tag"),
            (format!("v1.1000.{}.{}", p[2], &p[3][1..]), "MAC"),
            (format!("v1.1000.{}.{}=", p[2], p[3]), "MAC"),
            (format!("{good} "), "MAC"),
        ] {
            match open(&k, &scope(), &t, &[None]) {
                Err(Invalid::Malformed(m)) => assert!(m.contains(want), "{t:?}: {m}"),
                other => panic!("{t:?}: {other:?}"),
            }
        }
        let long = "v".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            open(&k, &scope(), &long, &[None]),
            Err(Invalid::TooLong(MAX_TOKEN_BYTES + 1))
        );
    }

    #[test]
    fn secrets_must_be_long_enough_and_are_never_shown() {
        let e = TokenKeys::new("short", Some("also-short")).unwrap_err();
        assert!(e.contains("TOKEN_SECRET secret has 5 bytes"), "{e}");
        assert!(
            e.contains("TOKEN_SECRET_PREVIOUS secret has 10 bytes"),
            "{e}"
        );
        assert!(!e.contains("short"), "{e}");
        let d = format!("{:?}", TokenKeys::new(S1, Some(S2)).unwrap());
        assert!(
            !d.contains(S1) && !d.contains(S2) && d.contains("redacted"),
            "{d}"
        );
    }
}
