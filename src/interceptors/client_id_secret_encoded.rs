//! Client ID Secret Encoded Validation: a header (configurable name, default `Authorization`)
//! holding `Basic base64(client_id:client_secret)`. The app must exist, be usable, have access,
//! and the secret's SHA-256 must equal the stored `client_secret_sha256` (compared in constant
//! time). Failures answer with the Client Id message and the configured header name.

use super::{fault, identity, resolve_app, Call, Check, Common};
use crate::base::config::Obj;
use crate::base::message::Label;
use crate::records::{self, Record};
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

#[derive(Debug)]
pub struct ClientIdSecretEncoded {
    pub common: Common,
}

impl ClientIdSecretEncoded {
    pub fn compile(o: &mut Obj<'_>, docs: &str, errs: &mut Vec<String>) -> ClientIdSecretEncoded {
        ClientIdSecretEncoded {
            common: Common::compile(
                o,
                "client_id_secret_encoded",
                Label::ClientId,
                "Authorization",
                &["header"],
                docs,
                errs,
            ),
        }
    }

    pub fn check(&self, call: &Call<'_>) -> Check {
        let c = &self.common;
        let (value, place) = match c.extract(call) {
            Ok(v) => v,
            Err(denial) => return *denial,
        };
        let fp = Some(records::fingerprint(&value));
        let (client_id, secret) = match decode(&value) {
            Ok(pair) => pair,
            Err(why) => return c.deny(place, Cause::Malformed, Some(why.into()), fp, None),
        };
        let app = match resolve_app(c, call, &client_id, place, true) {
            Ok(a) => a,
            Err(check) => return check,
        };
        let Record::App(a) = &*app else {
            // resolve_app returns apps only.
            return super::fault(c.kind, 500, Cause::MalformedRecord, "not an app".into());
        };
        let Some(stored) = a.client_secret_sha256.as_deref() else {
            return c.deny(
                place,
                Cause::BadSecret,
                Some("the app has no client secret registered".into()),
                fp,
                Some(client_id),
            );
        };
        let Ok(stored) = hex::decode(stored) else {
            return fault(
                c.kind,
                500,
                Cause::MalformedRecord,
                format!("app {client_id:?}: client_secret_sha256 is not hex"),
            );
        };
        let given = Sha256::digest(secret.as_bytes());
        if stored.len() != given.len() || !bool::from(given.as_slice().ct_eq(&stored)) {
            return c.deny(
                place,
                Cause::BadSecret,
                Some("the client secret does not match".into()),
                fp,
                Some(client_id),
            );
        }
        c.pass(call, place, fp, identity(&client_id, app.clone(), None))
    }
}

/// `Basic base64(id:secret)` → (id, secret). The scheme is case-insensitive and followed by
/// exactly one space; nothing else is tolerated.
fn decode(value: &str) -> Result<(String, String), &'static str> {
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err("expected \"Basic <base64(client_id:client_secret)>\"");
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err("the scheme is not Basic");
    }
    let bytes = B64
        .decode(encoded)
        .map_err(|_| "the credentials are not valid base64")?;
    let text = String::from_utf8(bytes).map_err(|_| "the decoded credentials are not UTF-8")?;
    let (id, secret) = text
        .split_once(':')
        .ok_or("the decoded credentials have no ':' between client id and secret")?;
    if id.is_empty() || secret.is_empty() {
        return Err("the client id or the secret is empty");
    }
    Ok((id.to_string(), secret.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::request::TestRequest;
    use crate::interceptors::testing::*;
    use serde_json::json;

    const BODY: &str = "Client Id in the request, identified by HEADER Authorization, is invalid. Check docs.sensedia.com";
    const NF: &str = "Client id in HEADER Authorization HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call";

    fn world() -> World {
        let mut app = approved_app();
        app["client_secret_sha256"] = json!(hex::encode(Sha256::digest(b"s3cret")));
        let mut pending = app.clone();
        pending["status"] = json!("PENDING");
        World::new()
            .put("app:good", app)
            .put("app:pending", pending)
            .put("app:nosecret", approved_app())
            .absent("app:nobody")
    }

    fn basic(s: &str) -> TestRequest {
        let v = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        );
        TestRequest::new("GET", "https://gw/orders").with_header("Authorization", &v)
    }

    #[test]
    fn the_right_secret_passes() {
        let i = compile(json!({"type": "client_id_secret_encoded"}));
        let p = expect_pass(world().check(&i, &basic("good:s3cret"), None));
        assert_eq!(p.identity.unwrap().client_id, "good");
        // Unpadded base64 and a lowercase scheme are accepted.
        let r = TestRequest::new("GET", "https://gw/")
            .with_header("authorization", "basic Z29vZDpzM2NyZXQ");
        expect_pass(world().check(&i, &r, None));
    }

    #[test]
    fn every_cause_is_a_client_id_401() {
        let i = compile(json!({"type": "client_id_secret_encoded"}));
        let w = world();
        for (creds, cause) in [
            ("good:wrong", Cause::BadSecret),
            ("good:s3cret ", Cause::BadSecret),
            ("nosecret:s3cret", Cause::BadSecret),
            ("nobody:s3cret", Cause::NotFound),
            ("pending:s3cret", Cause::AppNotApproved),
            ("good", Cause::Malformed),
            (":s3cret", Cause::Malformed),
        ] {
            assert_denied(&w.check(&i, &basic(creds), None), BODY, cause, NF);
        }
        for raw in [
            "Bearer Z29vZDpzM2NyZXQ=",
            "Basic !!!",
            "Basic",
            "Basic  Z29vZDpzM2NyZXQ=",
        ] {
            let r = TestRequest::new("GET", "https://gw/").with_header("Authorization", raw);
            assert_denied(&w.check(&i, &r, None), BODY, Cause::Malformed, NF);
        }
        let r = TestRequest::new("GET", "https://gw/");
        assert_denied(&w.check(&i, &r, None), BODY, Cause::Missing, NF);
    }

    #[test]
    fn custom_header_name_and_only_header_location() {
        let i = compile(json!({"type": "client_id_secret_encoded", "name": "client_id"}));
        let r = TestRequest::new("GET", "https://gw/").with_header("client_id", "Basic eA==");
        assert_denied(
            &world().check(&i, &r, None),
            "Client Id in the request, identified by HEADER client_id, is invalid. Check docs.sensedia.com",
            Cause::Malformed,
            "Client id in HEADER client_id HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call",
        );
        let e = compile_errors(json!({"type": "client_id_secret_encoded", "location": "query"}));
        assert!(e[0].contains("expected one of [\"header\"]"), "{e:?}");
    }

    #[test]
    fn a_broken_stored_hash_is_a_fault() {
        let mut app = approved_app();
        app["client_secret_sha256"] = json!("zz");
        let w = World::new().put("app:good", app);
        let i = compile(json!({"type": "client_id_secret_encoded"}));
        expect_fault(
            &w.check(&i, &basic("good:s3cret"), None),
            500,
            Cause::MalformedRecord,
        );
    }
}
