//! OAuth: headers `client_id` and `access_token` (fixed names). The app must exist and be
//! usable (any failure answers with the Client Id message); the token must exist, not be
//! revoked or expired and belong to that app; then the app must be granted this API/resource
//! and the token's scope (if it narrows) must cover it. Token problems and missing grants
//! answer with the Access Token message, a missing grant traced with the seed's line
//! `Access token in HEADER access_token DOES NOT HAVE ACCESS TO THIS RESOURCE; rejecting call`.
//! `hide_credential` removes the `access_token` header before forwarding.

use super::{
    identity, need_any, resolve_app_keyed, resolve_token_keyed, scope_allows, Call, Check, Common,
};
use crate::base::config::Obj;
use crate::base::message::Label;
use crate::records::{self, Record};
use crate::trace::Cause;

#[derive(Debug)]
pub struct OAuth {
    pub client: Common,
    pub token: Common,
}

impl OAuth {
    pub fn compile(o: &mut Obj<'_>, docs: &str, errs: &mut Vec<String>) -> OAuth {
        let client = Common::fixed(o, "oauth", Label::ClientId, "client_id", docs, errs);
        let token = client.sibling(Label::AccessToken, "access_token");
        OAuth { client, token }
    }

    pub fn check(&self, call: &Call<'_>) -> Check {
        let (client_id, cplace) = match self.client.extract(call) {
            Ok(v) => v,
            Err(denial) => return *denial,
        };
        let (token, tplace) = match self.token.extract(call) {
            Ok(v) => v,
            Err(denial) => return *denial,
        };
        // Each key made once (the token's is a SHA-256) and asked for at once: one round of
        // KV reads, not two.
        let app_key = records::app_key(&client_id);
        let token_keyed = records::token_key_and_fingerprint(&token);
        if let (Some(a), Some((t, _))) = (&app_key, &token_keyed) {
            if let Some(need) = need_any(call, &[a, t]) {
                return need;
            }
        }
        // The app's grant is checked after the token: a valid token of an app not granted the
        // call is the Access Token's "DOES NOT HAVE ACCESS" case (the seed's trace line).
        let app = match resolve_app_keyed(&self.client, call, &client_id, app_key, cplace, false) {
            Ok(a) => a,
            Err(check) => return check,
        };
        let (token_record, fp) =
            match resolve_token_keyed(&self.token, call, &token, token_keyed, tplace) {
                Ok(t) => t,
                Err(check) => return check,
            };
        let Record::Token(t) = &*token_record else {
            // resolve_token returns tokens only.
            return super::fault("oauth", 500, Cause::MalformedRecord, "not a token".into());
        };
        let fp = Some(fp);
        if t.client_id != client_id {
            return self.token.deny(
                tplace,
                Cause::WrongApp,
                Some("the token belongs to another app".into()),
                fp,
                Some(client_id),
            );
        }
        if !super::as_app(&app).is_some_and(|a| super::app_has_access(a, call)) {
            return self.token.deny(
                tplace,
                Cause::NoAccess,
                Some(super::no_access_detail(call, "the app")),
                fp,
                Some(client_id),
            );
        }
        if !scope_allows(&token_record, call) {
            return self.token.deny(
                tplace,
                Cause::NoAccess,
                Some(super::no_access_detail(call, "the token's scope")),
                fp,
                Some(client_id),
            );
        }
        self.token.pass(
            call,
            tplace,
            fp,
            identity(&client_id, app, Some(token_record.clone())),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::base::locate::Place;
    use crate::base::request::TestRequest;
    use crate::interceptors::testing::*;
    use crate::records::token_key;
    use crate::trace::Cause;
    use serde_json::json;

    const CLIENT: &str =
        "Client Id in the request, identified by HEADER client_id, is invalid. Check docs.sensedia.com";
    const TOKEN: &str = "Access Token in the request, identified by HEADER access_token, is invalid. Check docs.sensedia.com";
    const CLIENT_NF: &str = "Client id in HEADER client_id HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call";
    const TOKEN_NF: &str = "Access token in HEADER access_token HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call";
    const TOKEN_NA: &str =
        "Access token in HEADER access_token DOES NOT HAVE ACCESS TO THIS RESOURCE; rejecting call";

    fn world() -> World {
        let mut other = approved_app();
        other["access"] = json!([{"api": "billing"}]);
        let mut expired = approved_app();
        expired["expires_at"] = json!("2020-01-01T00:00:00Z");
        World::new()
            .put("app:good", approved_app())
            .put("app:other", other)
            .put("app:expired", expired)
            .absent("app:nobody")
            .token("t-good", json!({"client_id": "good"}))
            .token("t-other", json!({"client_id": "other"}))
            .token("t-revoked", json!({"client_id": "good", "revoked": true}))
            .token(
                "t-expired",
                json!({"client_id": "good", "expires_at": NOW - 5}),
            )
            .token(
                "t-scoped",
                json!({"client_id": "good", "scope": [{"api": "orders", "resources": ["list"]}]}),
            )
            .absent(&token_key("t-unknown").unwrap())
    }

    fn req(client: Option<&str>, token: Option<&str>) -> TestRequest {
        let mut r = TestRequest::new("POST", "https://gw/orders/items");
        if let Some(c) = client {
            r = r.with_header("client_id", c);
        }
        if let Some(t) = token {
            r = r.with_header("access_token", t);
        }
        r
    }

    #[test]
    fn a_token_of_its_own_app_passes() {
        let i = compile(json!({"type": "oauth", "hide_credential": true}));
        let p = expect_pass(world().check(&i, &req(Some("good"), Some("t-good")), None));
        assert_eq!(p.identity.unwrap().client_id, "good");
        assert_eq!(p.hide.len(), 1);
        assert_eq!(p.hide[0].place, Place::Header);
        assert_eq!(&*p.hide[0].name, "access_token");
        expect_pass(world().check(&i, &req(Some("good"), Some("t-scoped")), Some("list")));
    }

    #[test]
    fn every_cause_answers_with_the_right_element() {
        let i = compile(json!({"type": "oauth"}));
        let w = world();
        for (client, token, resource, body, cause, line) in [
            (
                None,
                Some("t-good"),
                None,
                CLIENT,
                Cause::Missing,
                CLIENT_NF,
            ),
            (
                Some(""),
                Some("t-good"),
                None,
                CLIENT,
                Cause::Empty,
                CLIENT_NF,
            ),
            (
                Some("nobody"),
                Some("t-good"),
                None,
                CLIENT,
                Cause::NotFound,
                CLIENT_NF,
            ),
            (
                Some("expired"),
                Some("t-good"),
                None,
                CLIENT,
                Cause::AppExpired,
                CLIENT_NF,
            ),
            // A valid token of an app not granted the API: the Access Token message and the
            // seed's DOES NOT HAVE ACCESS line (issue 12).
            (
                Some("other"),
                Some("t-other"),
                None,
                TOKEN,
                Cause::NoAccess,
                TOKEN_NA,
            ),
            // An invalid token of that app: the token's own cause comes first.
            (
                Some("other"),
                Some("t-unknown"),
                None,
                TOKEN,
                Cause::NotFound,
                TOKEN_NF,
            ),
            (Some("good"), None, None, TOKEN, Cause::Missing, TOKEN_NF),
            (Some("good"), Some(""), None, TOKEN, Cause::Empty, TOKEN_NF),
            (
                Some("good"),
                Some("t-unknown"),
                None,
                TOKEN,
                Cause::NotFound,
                TOKEN_NF,
            ),
            (
                Some("good"),
                Some("t-revoked"),
                None,
                TOKEN,
                Cause::Revoked,
                TOKEN_NF,
            ),
            (
                Some("good"),
                Some("t-expired"),
                None,
                TOKEN,
                Cause::Expired,
                TOKEN_NF,
            ),
            (
                Some("good"),
                Some("t-other"),
                None,
                TOKEN,
                Cause::WrongApp,
                TOKEN_NF,
            ),
            (
                Some("good"),
                Some("t-scoped"),
                Some("create"),
                TOKEN,
                Cause::NoAccess,
                TOKEN_NA,
            ),
        ] {
            assert_denied(
                &w.check(&i, &req(client, token), resource),
                body,
                cause,
                line,
            );
        }
    }

    #[test]
    fn both_records_are_asked_for_at_once() {
        let i = compile(json!({"type": "oauth"}));
        let keys = expect_need(&World::new().check(&i, &req(Some("a"), Some("t")), None));
        assert_eq!(keys, vec!["app:a".to_string(), token_key("t").unwrap()]);
        // A missing element is denied without any lookup.
        assert_denied(
            &World::new().check(&i, &req(Some("a"), None), None),
            TOKEN,
            Cause::Missing,
            TOKEN_NF,
        );
    }

    #[test]
    fn name_and_location_are_fixed() {
        let e = compile_errors(json!({"type": "oauth", "name": "x"}));
        assert!(e[0].contains("unknown field \"name\""), "{e:?}");
        let i = compile(json!({"type": "oauth", "format": "json", "docs": "docs.example.org"}));
        let c = World::new().check(&i, &req(None, None), None);
        let crate::interceptors::Check::Deny(d) = c else {
            panic!()
        };
        assert!(d.body.contains("Check docs.example.org"));
        assert_eq!(d.content_type, "application/json");
    }
}
