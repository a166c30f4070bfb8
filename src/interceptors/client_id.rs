//! Client ID Validation: the app named by a client id exists, is usable and may call this
//! API/resource. Name and location are configurable (default header `client_id`).

use super::{identity, resolve_app, Call, Check, Common};
use crate::base::config::Obj;
use crate::base::message::Label;

pub const LOCATIONS: &[&str] = &["header", "query", "cookie", "header_or_cookie", "any"];

#[derive(Debug)]
pub struct ClientId {
    pub common: Common,
}

impl ClientId {
    pub fn compile(o: &mut Obj<'_>, docs: &str, errs: &mut Vec<String>) -> ClientId {
        ClientId {
            common: Common::compile(
                o,
                "client_id",
                Label::ClientId,
                "client_id",
                LOCATIONS,
                docs,
                errs,
            ),
        }
    }

    pub fn check(&self, call: &Call<'_>) -> Check {
        let c = &self.common;
        let (client_id, place) = match c.extract(call) {
            Ok(v) => v,
            Err(denial) => return *denial,
        };
        match resolve_app(c, call, &client_id, place, true) {
            Ok(app) => c.pass(call, place, None, identity(&client_id, app, None)),
            Err(check) => check,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::base::locate::Place;
    use crate::base::request::TestRequest;
    use crate::interceptors::testing::*;
    use crate::interceptors::Check;
    use crate::trace::Cause;
    use serde_json::json;

    const BODY: &str =
        "Client Id in the request, identified by HEADER client_id, is invalid. Check docs.sensedia.com";
    const NOT_FOUND: &str = "Client id in HEADER client_id HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call";
    const NO_ACCESS: &str =
        "Client id in HEADER client_id DOES NOT HAVE ACCESS TO THIS RESOURCE; rejecting call";

    fn world() -> World {
        let mut w = World::new().put("app:good", approved_app());
        for (id, patch) in [
            ("pending", json!({"status": "PENDING"})),
            ("rejected", json!({"status": "REJECTED"})),
            ("cancelled", json!({"status": "CANCELLED"})),
            ("revoked", json!({"revoked": true})),
            ("expired", json!({"expires_at": NOW})),
            ("not-yet-expired", json!({"expires_at": NOW + 1})),
            ("other-api", json!({"access": [{"api": "billing"}]})),
            (
                "one-resource",
                json!({"access": [{"api": "orders", "resources": ["list"]}]}),
            ),
        ] {
            let mut app = approved_app();
            for (k, v) in patch.as_object().unwrap() {
                app[k] = v.clone();
            }
            w = w.put(&format!("app:{id}"), app);
        }
        w.absent("app:nobody")
            .absent("app: good")
            .absent("app:good\n")
            .put_raw("app:broken", "{not json")
            .unavailable("app:down")
    }

    fn req(id: &str) -> TestRequest {
        TestRequest::new("GET", "https://gw/orders").with_header("client_id", id)
    }

    #[test]
    fn usable_app_with_access_passes_and_is_identified() {
        let i = compile(json!({"type": "client_id"}));
        let p = expect_pass(world().check(&i, &req("good"), None));
        let id = p.identity.unwrap();
        assert_eq!(id.client_id, "good");
        assert_eq!(id.app().name, "Demo");
        assert!(p.hide.is_empty());
        let p = expect_pass(world().check(&i, &req("not-yet-expired"), None));
        assert!(p.identity.is_some());
        let p = expect_pass(world().check(&i, &req("one-resource"), Some("list")));
        assert!(p.identity.is_some());
    }

    #[test]
    fn every_failure_cause_is_a_401_with_its_trace() {
        let i = compile(json!({"type": "client_id"}));
        let w = world();
        for (id, cause, line) in [
            ("nobody", Cause::NotFound, NOT_FOUND),
            (" good", Cause::NotFound, NOT_FOUND),
            ("good\n", Cause::NotFound, NOT_FOUND),
            ("pending", Cause::AppNotApproved, NOT_FOUND),
            ("rejected", Cause::AppNotApproved, NOT_FOUND),
            ("cancelled", Cause::AppNotApproved, NOT_FOUND),
            ("revoked", Cause::AppRevoked, NOT_FOUND),
            ("expired", Cause::AppExpired, NOT_FOUND),
            ("other-api", Cause::NoAccess, NO_ACCESS),
            ("one-resource", Cause::NoAccess, NO_ACCESS),
        ] {
            assert_denied(&w.check(&i, &req(id), Some("create")), BODY, cause, line);
        }
        let long = "x".repeat(600);
        assert_denied(
            &w.check(&i, &req(&long), None),
            BODY,
            Cause::TooLong,
            NOT_FOUND,
        );
        let none = TestRequest::new("GET", "https://gw/orders");
        assert_denied(&w.check(&i, &none, None), BODY, Cause::Missing, NOT_FOUND);
        assert_denied(&w.check(&i, &req(""), None), BODY, Cause::Empty, NOT_FOUND);
        // A header sent twice arrives joined and is unknown.
        let twice = req("good").with_header("client_id", "good");
        let c = w.check(&i, &twice, None);
        assert!(matches!(c, Check::Need(ref k) if k == &["app:good, good".to_string()]));
    }

    #[test]
    fn whitespace_is_named_in_the_trace_not_the_response() {
        let i = compile(json!({"type": "client_id"}));
        let Check::Deny(d) = world().check(&i, &req(" good"), None) else {
            panic!()
        };
        assert_eq!(&*d.body, BODY);
        assert!(d.entry.detail.unwrap().contains("whitespace"));
        assert!(
            d.entry.client_id.is_none(),
            "unknown ids are not logged raw"
        );
    }

    #[test]
    fn faults_are_not_401s() {
        let i = compile(json!({"type": "client_id"}));
        expect_fault(
            &world().check(&i, &req("broken"), None),
            500,
            Cause::MalformedRecord,
        );
        expect_fault(
            &world().check(&i, &req("down"), None),
            503,
            Cause::StoreUnavailable,
        );
        assert_eq!(
            expect_need(&World::new().check(&i, &req("x"), None)),
            vec!["app:x"]
        );
    }

    #[test]
    fn query_and_cookie_locations_with_custom_names() {
        let i = compile(
            json!({"type": "client_id", "name": "app_token", "location": "query", "format": "json", "hide_credential": true}),
        );
        let w = world();
        let r = TestRequest::new("GET", "https://gw/orders?app_token=good&x=1");
        let p = expect_pass(w.check(&i, &r, None));
        assert_eq!(p.hide[0].place, Place::QueryParam);
        let r = TestRequest::new("GET", "https://gw/orders?app_token=good&app_token=good");
        let Check::Deny(d) = w.check(&i, &r, None) else {
            panic!()
        };
        assert_eq!(d.content_type, "application/json");
        assert_eq!(
            &*d.body,
            r#"{"status":401,"message":"Client Id in the request, identified by QUERY_PARAM app_token, is invalid. Check docs.sensedia.com"}"#
        );
        assert_eq!(d.entry.cause, Some(Cause::Duplicated));
        let i = compile(json!({"type": "client_id", "location": "cookie"}));
        let r =
            TestRequest::new("GET", "https://gw/orders").with_header("cookie", "client_id=pending");
        assert_denied(
            &w.check(&i, &r, None),
            "Client Id in the request, identified by COOKIE client_id, is invalid. Check docs.sensedia.com",
            Cause::AppNotApproved,
            "Client id in COOKIE client_id HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call",
        );
    }

    #[test]
    fn bad_settings_are_reported() {
        let e = compile_errors(
            json!({"type": "client_id", "name": "a b", "location": "body", "format": "xml", "hide_credential": "yes"}),
        );
        assert_eq!(e.len(), 4, "{e:?}");
    }
}
