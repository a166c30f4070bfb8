//! Access Token Validation: the token alone identifies the call. It must exist, not be revoked
//! or expired; its app must be usable; the app (narrowed by the token's scope) must be allowed
//! to call this API/resource. Every failure answers with the Access Token message.
//!
//! Bearer mode (`bearer = true`, RFC 6750 §2.1): the token comes as `Authorization: Bearer
//! <token>` (the scheme case-insensitive, one space, a b64token), so standard OAuth clients can
//! call with what the token endpoint gave them; denials carry `WWW-Authenticate` (RFC 6750 §3).

use super::{
    app_problem, as_app, fault, identity, load, no_access_detail, resolve_token, scope_allows,
    Call, Check, Common, Loaded,
};
use crate::base::config::Obj;
use crate::base::message::Label;
use crate::records::{self, Record};
use crate::trace::Cause;

pub const LOCATIONS: &[&str] = &["header", "query", "cookie", "header_or_cookie", "any"];

#[derive(Debug)]
pub struct AccessToken {
    pub common: Common,
    /// `Authorization: Bearer <token>` (RFC 6750) instead of the bare token.
    pub bearer: bool,
}

/// `WWW-Authenticate` of a Bearer-mode denial: no error code when no token was sent (RFC 6750
/// §3.1), `invalid_token` otherwise.
const CHALLENGE_MISSING: &str = "Bearer";
const CHALLENGE_INVALID: &str = "Bearer error=\"invalid_token\"";

impl AccessToken {
    pub fn compile(o: &mut Obj<'_>, docs: &str, errs: &mut Vec<String>) -> AccessToken {
        let bearer = o.opt_bool("bearer", errs).unwrap_or(false);
        let (name, locations): (&str, &[&str]) = if bearer {
            ("Authorization", &["header"])
        } else {
            ("access_token", LOCATIONS)
        };
        AccessToken {
            common: Common::compile(
                o,
                "access_token",
                Label::AccessToken,
                name,
                locations,
                docs,
                errs,
            ),
            bearer,
        }
    }

    pub fn check(&self, call: &Call<'_>) -> Check {
        match self.check_token(call) {
            Check::Deny(mut d) if self.bearer => {
                d.challenge = Some(if d.entry.cause == Some(Cause::Missing) {
                    CHALLENGE_MISSING
                } else {
                    CHALLENGE_INVALID
                });
                Check::Deny(d)
            }
            other => other,
        }
    }

    fn check_token(&self, call: &Call<'_>) -> Check {
        let c = &self.common;
        let (token, place) = match c.extract(call) {
            Ok(v) => v,
            Err(denial) => return *denial,
        };
        let token = if self.bearer {
            match bearer_token(&token) {
                Ok(t) => t.to_string(),
                Err(why) => {
                    let fp = Some(records::fingerprint(&token));
                    return c.deny(place, Cause::Malformed, Some(why.into()), fp, None);
                }
            }
        } else {
            token
        };
        let (token_record, fp) = match resolve_token(c, call, &token, place) {
            Ok(t) => t,
            Err(check) => return check,
        };
        let Record::Token(t) = &*token_record else {
            // resolve_token returns tokens only.
            return super::fault(c.kind, 500, Cause::MalformedRecord, "not a token".into());
        };
        let fp = Some(fp);
        let client = || Some(t.client_id.clone());
        let Some(app_key) = records::app_key(&t.client_id) else {
            return c.deny(
                place,
                Cause::AppNotFound,
                Some("the token's client id cannot be an app key".into()),
                fp,
                client(),
            );
        };
        let app_record = match load(call, c.kind, &app_key) {
            Loaded::Stop(check) => return check,
            Loaded::Absent => {
                return c.deny(
                    place,
                    Cause::AppNotFound,
                    Some("the token's app does not exist".into()),
                    fp,
                    client(),
                )
            }
            Loaded::Present(r) => r,
        };
        let Some(app) = as_app(&app_record) else {
            return fault(
                c.kind,
                500,
                Cause::MalformedRecord,
                format!("{app_key:?} does not hold an app"),
            );
        };
        if let Some((cause, detail)) = app_problem(app, call.now_s) {
            return c.deny(
                place,
                cause,
                Some(format!("{detail} (the token's app)")),
                fp,
                client(),
            );
        }
        if !super::app_has_access(app, call) {
            return c.deny(
                place,
                Cause::NoAccess,
                Some(no_access_detail(call, "the token's app")),
                fp,
                client(),
            );
        }
        if !scope_allows(&token_record, call) {
            return c.deny(
                place,
                Cause::NoAccess,
                Some(no_access_detail(call, "the token's scope")),
                fp,
                client(),
            );
        }
        c.pass(
            call,
            place,
            fp,
            identity(&t.client_id, app_record.clone(), Some(token_record.clone())),
        )
    }
}

/// The token of `Bearer <b64token>` (RFC 6750 §2.1): the scheme in any case, exactly one space
/// (nothing is trimmed), then `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn bearer_token(value: &str) -> Result<&str, &'static str> {
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err("expected \"Bearer <token>\"");
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err("the scheme is not Bearer");
    }
    let body = token.trim_end_matches('=');
    let ok = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if ok {
        Ok(token)
    } else {
        Err("the token after \"Bearer \" is not a b64token (RFC 6750): a space, a line break or another character where none may be")
    }
}

#[cfg(test)]
mod tests {
    use crate::base::locate::Place;
    use crate::base::request::TestRequest;
    use crate::interceptors::testing::*;
    use crate::interceptors::Check;
    use crate::records::token_key;
    use crate::trace::Cause;
    use serde_json::json;

    fn body(place: &str, name: &str) -> String {
        format!("Access Token in the request, identified by {place} {name}, is invalid. Check docs.sensedia.com")
    }
    fn not_found(place: &str, name: &str) -> String {
        format!("Access token in {place} {name} HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call")
    }
    fn no_access(place: &str, name: &str) -> String {
        format!(
            "Access token in {place} {name} DOES NOT HAVE ACCESS TO THIS RESOURCE; rejecting call"
        )
    }

    fn world() -> World {
        let mut pending = approved_app();
        pending["status"] = json!("PENDING");
        let mut revoked = approved_app();
        revoked["revoked"] = json!(true);
        World::new()
            .put("app:good", approved_app())
            .put("app:pending", pending)
            .put("app:revoked", revoked)
            .absent("app:gone")
            .token(
                "tok-good",
                json!({"client_id": "good", "extra_info": {"user": "u1"}}),
            )
            .token("tok-revoked", json!({"client_id": "good", "revoked": true}))
            .token(
                "tok-refresh",
                json!({"client_id": "good", "kind": "refresh_token"}),
            )
            .token(
                "tok-expired",
                json!({"client_id": "good", "expires_at": NOW - 1}),
            )
            .token(
                "tok-later",
                json!({"client_id": "good", "expires_at": NOW + 60}),
            )
            .token("tok-pending-app", json!({"client_id": "pending"}))
            .token("tok-revoked-app", json!({"client_id": "revoked"}))
            .token("tok-gone-app", json!({"client_id": "gone"}))
            .token(
                "tok-scoped",
                json!({"client_id": "good", "scope": [{"api": "orders", "resources": ["list"]}]}),
            )
            .absent(&token_key("nope").unwrap())
            .absent(&token_key("tok-good ").unwrap())
            .put_raw(&token_key("tok-broken").unwrap(), r#"{"client_id": 7}"#)
    }

    #[test]
    fn a_valid_token_passes_and_binds_its_app() {
        let i = compile(json!({"type": "access_token"}));
        let r =
            TestRequest::new("GET", "https://gw/orders").with_header("access_token", "tok-good");
        let p = expect_pass(world().check(&i, &r, None));
        let id = p.identity.unwrap();
        assert_eq!(id.client_id, "good");
        assert_eq!(id.token_extra_info(), Some(&json!({"user": "u1"})));
        assert!(p.entry.fingerprint.unwrap().starts_with("sha256:"));
        let r =
            TestRequest::new("GET", "https://gw/orders").with_header("access_token", "tok-later");
        expect_pass(world().check(&i, &r, None));
        let r =
            TestRequest::new("GET", "https://gw/orders").with_header("access_token", "tok-scoped");
        expect_pass(world().check(&i, &r, Some("list")));
    }

    #[test]
    fn every_cause_in_every_location() {
        let w = world();
        for (loc, place) in [
            ("header", "HEADER"),
            ("query", "QUERY_PARAM"),
            ("cookie", "COOKIE"),
        ] {
            let i = compile(json!({"type": "access_token", "name": "tk", "location": loc}));
            let make = |v: Option<&str>| {
                let mut url = "https://gw/orders?x=1".to_string();
                let mut r = TestRequest::new("GET", &url);
                if let Some(v) = v {
                    match loc {
                        "header" => r = r.with_header("tk", v),
                        "query" => {
                            url.push_str("&tk=");
                            url.push_str(&v.replace(' ', "%20"));
                            r.url = url;
                        }
                        _ => r = r.with_header("cookie", &format!("a=b; tk={v}")),
                    }
                }
                r
            };
            let (b, nf, na) = (
                body(place, "tk"),
                not_found(place, "tk"),
                no_access(place, "tk"),
            );
            for (value, resource, cause, line) in [
                (None, None, Cause::Missing, &nf),
                (Some(""), None, Cause::Empty, &nf),
                (Some("nope"), None, Cause::NotFound, &nf),
                (Some("tok-revoked"), None, Cause::Revoked, &nf),
                (Some("tok-refresh"), None, Cause::NotFound, &nf),
                (Some("tok-expired"), None, Cause::Expired, &nf),
                (Some("tok-pending-app"), None, Cause::AppNotApproved, &nf),
                (Some("tok-revoked-app"), None, Cause::AppRevoked, &nf),
                (Some("tok-gone-app"), None, Cause::AppNotFound, &nf),
                (Some("tok-scoped"), Some("create"), Cause::NoAccess, &na),
                (Some("tok-scoped"), None, Cause::NoAccess, &na),
            ] {
                let c = w.check(&i, &make(value), resource);
                assert_denied(&c, &b, cause, line);
            }
            expect_pass(w.check(&i, &make(Some("tok-good")), None));
            expect_fault(
                &w.check(&i, &make(Some("tok-broken")), None),
                500,
                Cause::MalformedRecord,
            );
        }
    }

    #[test]
    fn trailing_space_is_not_trimmed_and_the_trace_says_why() {
        let i = compile(json!({"type": "access_token"}));
        let r =
            TestRequest::new("GET", "https://gw/orders").with_header("access_token", "tok-good ");
        let Check::Deny(d) = world().check(&i, &r, None) else {
            panic!()
        };
        assert_eq!(d.entry.cause, Some(Cause::NotFound));
        assert!(d.entry.detail.unwrap().contains("never trimmed"));
    }

    #[test]
    fn header_or_cookie_reports_where_found() {
        let i = compile(
            json!({"type": "access_token", "location": "header_or_cookie", "hide_credential": true}),
        );
        let r =
            TestRequest::new("GET", "https://gw/orders").with_header("cookie", "access_token=nope");
        assert_denied(
            &world().check(&i, &r, None),
            &body("COOKIE", "access_token"),
            Cause::NotFound,
            &not_found("COOKIE", "access_token"),
        );
        let r = TestRequest::new("GET", "https://gw/orders")
            .with_header("cookie", "access_token=tok-good");
        let p = expect_pass(world().check(&i, &r, None));
        assert_eq!(p.hide[0].place, Place::Cookie);
        let r = TestRequest::new("GET", "https://gw/orders");
        assert_denied(
            &world().check(&i, &r, None),
            &body("HEADER", "access_token"),
            Cause::Missing,
            &not_found("HEADER", "access_token"),
        );
    }

    #[test]
    fn bearer_mode_reads_the_authorization_header() {
        let i = compile(json!({"type": "access_token", "bearer": true}));
        let req =
            |v: &str| TestRequest::new("GET", "https://gw/orders").with_header("Authorization", v);
        let p = expect_pass(world().check(&i, &req("Bearer tok-good"), None));
        assert_eq!(p.identity.unwrap().client_id, "good");
        expect_pass(world().check(&i, &req("bearer tok-good"), None));
        let b = body("HEADER", "Authorization");
        let nf = not_found("HEADER", "Authorization");
        for (v, cause) in [
            ("Bearer nope", Cause::NotFound),
            ("Bearer tok-revoked", Cause::Revoked),
            ("Bearer tok-refresh", Cause::NotFound),
            ("Bearer  tok-good", Cause::Malformed),
            ("Bearer tok-good ", Cause::Malformed),
            ("Bearer ", Cause::Malformed),
            ("Basic tok-good", Cause::Malformed),
            ("tok-good", Cause::Malformed),
            ("Bearer tok good", Cause::Malformed),
        ] {
            let c = world().check(&i, &req(v), None);
            assert_denied(&c, &b, cause, &nf);
            let Check::Deny(d) = c else { unreachable!() };
            assert_eq!(d.challenge, Some("Bearer error=\"invalid_token\""), "{v:?}");
        }
        let c = world().check(&i, &TestRequest::new("GET", "https://gw/orders"), None);
        assert_denied(&c, &b, Cause::Missing, &nf);
        let Check::Deny(d) = c else { unreachable!() };
        assert_eq!(d.challenge, Some("Bearer"));
        // Without Bearer mode, no challenge.
        let plain = compile(json!({"type": "access_token"}));
        let r = TestRequest::new("GET", "https://gw/orders");
        let Check::Deny(d) = world().check(&plain, &r, None) else {
            panic!()
        };
        assert_eq!(d.challenge, None);
    }

    #[test]
    fn bearer_mode_is_a_header_and_b64token() {
        let e =
            compile_errors(json!({"type": "access_token", "bearer": true, "location": "query"}));
        assert!(e.iter().any(|e| e.contains("location")), "{e:?}");
        let i = compile(json!({"type": "access_token", "bearer": true, "name": "X-Auth"}));
        let r =
            TestRequest::new("GET", "https://gw/orders").with_header("X-Auth", "Bearer tok-good");
        expect_pass(world().check(&i, &r, None));
        assert_eq!(
            super::bearer_token("Bearer a.b-c_d~e+f/g=="),
            Ok("a.b-c_d~e+f/g==")
        );
        assert!(super::bearer_token("Bearer ==").is_err());
        assert!(super::bearer_token("Bearer a=b").is_err());
    }

    #[test]
    fn lookups_are_token_then_app() {
        let i = compile(json!({"type": "access_token"}));
        let r = TestRequest::new("GET", "https://gw/orders").with_header("access_token", "t");
        let w = World::new();
        assert_eq!(
            expect_need(&w.check(&i, &r, None)),
            vec![token_key("t").unwrap()]
        );
        let w = World::new().token("t", json!({"client_id": "a"}));
        assert_eq!(
            expect_need(&w.check(&i, &r, None)),
            vec!["app:a".to_string()]
        );
        let w = World::new()
            .token("t", json!({"client_id": "a"}))
            .unavailable("app:a");
        expect_fault(&w.check(&i, &r, None), 503, Cause::StoreUnavailable);
        let long = "t".repeat(5000);
        let r = TestRequest::new("GET", "https://gw/orders").with_header("access_token", &long);
        assert!(
            matches!(w.check(&i, &r, None), Check::Deny(d) if d.entry.cause == Some(Cause::TooLong))
        );
    }
}
