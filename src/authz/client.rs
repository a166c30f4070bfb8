//! Client authentication at the endpoints (RFC 6749 §2.3): `Authorization: Basic`, or
//! `client_id` and `client_secret` in the body, or `client_id` alone for a public app.
//!
//! The secret's SHA-256 is compared with the app's `client_secret_sha256` in constant time. An
//! unknown client id, a public app or an app without a secret is compared against a dummy hash
//! instead, so every failure costs what a wrong secret does.

use crate::authz::params::Params;
use crate::base::request::RequestView;
use crate::records::{App, ClientType};
use crate::trace::Cause;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Standard alphabet, padding optional (clients differ).
const B64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Compared against when there is no stored hash (an unknown client): SHA-256 of nothing
/// anyone can send as a secret, in the stored form.
const DUMMY_HEX: &str = "5a6c8d0f0a3b2c1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5";

/// How the client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Basic,
    Post,
    /// `client_id` alone: a public app.
    None,
}

/// What the client presented.
#[derive(Clone, PartialEq, Eq)]
pub struct Presented {
    pub client_id: String,
    /// Secrets to try: as decoded (RFC 6749 §2.3.1) and, when that differs, as sent. Empty for
    /// a public client.
    pub secrets: Vec<String>,
    pub method: Method,
}

impl std::fmt::Debug for Presented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presented")
            .field("client_id", &self.client_id)
            .field("secrets", &format!("<{} redacted>", self.secrets.len()))
            .field("method", &self.method)
            .finish()
    }
}

/// Why presenting failed: `invalid_request` (two methods) or `invalid_client` (anything else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    TwoMethods,
    Invalid(Cause, &'static str),
}

/// Form-decodes a Basic credential part (RFC 6749 §2.3.1).
fn form_decoded(s: &str) -> String {
    if !s.contains(['%', '+']) {
        return s.to_string();
    }
    let mut q = String::with_capacity(s.len().saturating_add(2));
    q.push_str("v=");
    q.push_str(s);
    form_urlencoded::parse(q.as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `Basic base64(id:secret)`: scheme case-insensitive, one space, standard base64.
fn basic(value: &str) -> Result<(String, String), &'static str> {
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err("the Authorization header is not \"Basic <base64(client_id:client_secret)>\"");
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err("the Authorization scheme is not Basic");
    }
    let bytes = B64
        .decode(encoded)
        .map_err(|_| "the Basic credentials are not valid base64")?;
    let text = String::from_utf8(bytes).map_err(|_| "the Basic credentials are not UTF-8")?;
    let (id, secret) = text
        .split_once(':')
        .ok_or("the Basic credentials have no ':' between client id and secret")?;
    Ok((id.to_string(), secret.to_string()))
}

/// What the request presents. `Authorization` with another scheme than Basic is not client
/// authentication and is ignored.
pub fn presented(req: &dyn RequestView, params: &Params) -> Result<Presented, Problem> {
    let header = req.header("authorization").filter(|h| {
        h.split(' ')
            .next()
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("basic"))
    });
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    if let Some(h) = header {
        if body_secret.is_some() {
            return Err(Problem::TwoMethods);
        }
        let (id, secret) = basic(&h).map_err(|why| Problem::Invalid(Cause::Malformed, why))?;
        let id = form_decoded(&id);
        if id.is_empty() {
            return Err(Problem::Invalid(Cause::Malformed, "the client id is empty"));
        }
        if body_id.is_some_and(|b| b != id) {
            return Err(Problem::Invalid(
                Cause::WrongApp,
                "the body's client_id differs from the Basic credentials'",
            ));
        }
        if secret.is_empty() {
            return Ok(Presented {
                client_id: id,
                secrets: Vec::new(),
                method: Method::None,
            });
        }
        let decoded = form_decoded(&secret);
        let secrets = if decoded == secret {
            vec![decoded]
        } else {
            vec![decoded, secret]
        };
        return Ok(Presented {
            client_id: id,
            secrets,
            method: Method::Basic,
        });
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(Presented {
            client_id: id.to_string(),
            secrets: vec![secret.to_string()],
            method: Method::Post,
        }),
        (Some(id), None) => Ok(Presented {
            client_id: id.to_string(),
            secrets: Vec::new(),
            method: Method::None,
        }),
        (None, Some(_)) => Err(Problem::Invalid(
            Cause::Missing,
            "client_secret without client_id",
        )),
        (None, None) => Err(Problem::Invalid(
            Cause::Missing,
            "no client authentication (Basic, client_secret_post or client_id)",
        )),
    }
}

/// Checks what was presented against the app record (`None`: no app has this client id).
/// The error is the trace cause and detail of an `invalid_client`.
pub fn authenticate(app: Option<&App>, p: &Presented) -> Result<(), (Cause, &'static str)> {
    if p.secrets.is_empty() {
        return match app {
            Some(a) if a.client_type == ClientType::Public => Ok(()),
            Some(_) => Err((
                Cause::BadSecret,
                "a confidential app must authenticate with its client secret",
            )),
            None => Err((Cause::NotFound, "no app has this client id")),
        };
    }
    let stored = app
        .filter(|a| a.client_type == ClientType::Confidential)
        .and_then(|a| a.client_secret_sha256.as_deref())
        .and_then(|h| hex::decode(h).ok())
        .filter(|h| h.len() == 32);
    let dummy = hex::decode(DUMMY_HEX).unwrap_or_default();
    let expected: &[u8] = stored.as_deref().unwrap_or(&dummy);
    let mut ok = subtle::Choice::from(0);
    for s in &p.secrets {
        let given = Sha256::digest(s.as_bytes());
        ok |= given.as_slice().ct_eq(expected);
    }
    match (app, stored.is_some(), bool::from(ok)) {
        (_, true, true) => Ok(()),
        (None, _, _) => Err((Cause::NotFound, "no app has this client id")),
        (Some(a), false, _) if a.client_type == ClientType::Public => {
            Err((Cause::BadSecret, "a public app has no client secret"))
        }
        (Some(_), false, _) => Err((
            Cause::BadSecret,
            "the app has no usable client_secret_sha256",
        )),
        (Some(_), true, false) => Err((Cause::BadSecret, "the client secret does not match")),
    }
}

/// The SHA-256 hex of a secret, as `client_secret_sha256` stores it (tests, tools).
pub fn secret_hash(secret: &str) -> String {
    crate::base::hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::request::TestRequest;
    use crate::records::{self, Record};

    fn app(json: serde_json::Value) -> App {
        match records::parse("app:a", &json.to_string()).unwrap() {
            Record::App(a) => a,
            _ => panic!(),
        }
    }

    fn confidential() -> App {
        app(serde_json::json!({"name": "A", "status": "APPROVED",
            "client_secret_sha256": secret_hash("s3cr+t%")}))
    }

    fn basic_header(id: &str, secret: &str) -> String {
        format!("Basic {}", B64.encode(format!("{id}:{secret}")))
    }

    fn req(auth: Option<&str>) -> TestRequest {
        let r = TestRequest::new("POST", "https://gw/oauth/access-token");
        match auth {
            Some(a) => r.with_header("Authorization", a),
            None => r,
        }
    }

    #[test]
    fn basic_post_and_public() {
        let p = presented(
            &req(Some(&basic_header("a", "s3cr%2Bt%25"))),
            &Params::default(),
        )
        .unwrap();
        assert_eq!(p.method, Method::Basic);
        assert_eq!(p.secrets, vec!["s3cr+t%".to_string(), "s3cr%2Bt%25".into()]);
        assert_eq!(authenticate(Some(&confidential()), &p), Ok(()));
        // Sent without form-encoding (Sensedia clients): tried as sent too.
        let p = presented(
            &req(Some(&basic_header("a", "s3cr+t%"))),
            &Params::default(),
        )
        .unwrap();
        assert_eq!(authenticate(Some(&confidential()), &p), Ok(()));
        let p = presented(
            &req(None),
            &Params::from_pairs(&[("client_id", "a"), ("client_secret", "s3cr+t%")]),
        )
        .unwrap();
        assert_eq!(p.method, Method::Post);
        assert_eq!(authenticate(Some(&confidential()), &p), Ok(()));
        let p = presented(&req(None), &Params::from_pairs(&[("client_id", "a")])).unwrap();
        assert_eq!(p.method, Method::None);
        let public =
            app(serde_json::json!({"name": "P", "status": "APPROVED", "client_type": "public"}));
        assert_eq!(authenticate(Some(&public), &p), Ok(()));
        assert_eq!(
            authenticate(Some(&confidential()), &p).unwrap_err().0,
            Cause::BadSecret
        );
        assert!(!format!("{p:?}").contains("s3cr"));
    }

    #[test]
    fn failures() {
        let two = presented(
            &req(Some(&basic_header("a", "x"))),
            &Params::from_pairs(&[("client_secret", "x")]),
        );
        assert_eq!(two, Err(Problem::TwoMethods));
        for h in ["Basic", "Basic !!!", "basic Zm9v", "Basic OnM="] {
            assert!(
                matches!(
                    presented(&req(Some(h)), &Params::default()),
                    Err(Problem::Invalid(Cause::Malformed, _))
                ),
                "{h}"
            );
        }
        // Another scheme is not client authentication.
        assert!(matches!(
            presented(&req(Some("Bearer x")), &Params::default()),
            Err(Problem::Invalid(Cause::Missing, _))
        ));
        let p = presented(&req(Some(&basic_header("a", "wrong"))), &Params::default()).unwrap();
        assert_eq!(
            authenticate(Some(&confidential()), &p),
            Err((Cause::BadSecret, "the client secret does not match"))
        );
        assert_eq!(authenticate(None, &p).unwrap_err().0, Cause::NotFound);
        let no_secret = app(serde_json::json!({"name": "A", "status": "APPROVED"}));
        assert_eq!(
            authenticate(Some(&no_secret), &p).unwrap_err().0,
            Cause::BadSecret
        );
        let bad_hex = app(
            serde_json::json!({"name": "A", "status": "APPROVED", "client_secret_sha256": "zz"}),
        );
        assert_eq!(
            authenticate(Some(&bad_hex), &p).unwrap_err().0,
            Cause::BadSecret
        );
        // A public app never passes with a secret, even one whose hash is stored.
        let public = app(
            serde_json::json!({"name": "P", "status": "APPROVED", "client_type": "public",
            "client_secret_sha256": secret_hash("wrong")}),
        );
        assert_eq!(
            authenticate(Some(&public), &p).unwrap_err().0,
            Cause::BadSecret
        );
        let mismatch = presented(
            &req(Some(&basic_header("a", "x"))),
            &Params::from_pairs(&[("client_id", "b")]),
        );
        assert!(matches!(
            mismatch,
            Err(Problem::Invalid(Cause::WrongApp, _))
        ));
        assert_eq!(DUMMY_HEX.len(), 64);
    }
}
