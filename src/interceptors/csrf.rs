//! CSRF Generator (response flow) and CSRF Validation (request flow).
//!
//! The generator, on an operation other than GET/HEAD, adds a token to the origin's response in
//! a header or a cookie; the validator accepts only a token the generator issued, unexpired and
//! unaltered, from the same location and name, under the same API, bound to the same app (the
//! client id an interceptor identified, with `bind_app`) and/or the same session (a cookie or
//! header named by `session`). Failures answer with the `CSRF Token` message.

use super::generated::{self, validate, Emitter, Issued, Read, Requires, Source};
use super::{Call, Check, Common, Fault};
use crate::base::config::Obj;
use crate::base::message::Label;
use crate::crypto::gentoken::{self, Kind, TokenKeys};
use crate::trace::Cause;
use std::sync::Arc;

pub const DEFAULT_NAME: &str = "csrf_token";
pub const DEFAULT_EXPIRY_SECONDS: u64 = 3600;
pub const MAX_EXPIRY_SECONDS: u64 = 30 * 86_400;
const SESSION_KINDS: &[&str] = &["cookie", "header"];

/// What a CSRF token is bound to.
#[derive(Debug)]
struct Binding {
    app: bool,
    session: Option<Source>,
}

impl Binding {
    fn compile(o: &mut Obj<'_>, errs: &mut Vec<String>) -> Binding {
        let app = o.opt_bool("bind_app", errs).unwrap_or(true);
        let session = o.opt_obj("session", errs).and_then(|mut s| {
            let src = Source::compile(&mut s, SESSION_KINDS, errs);
            s.finish(errs);
            src
        });
        if !app && session.is_none() && o.map.get("session").is_none() {
            errs.push(format!(
                "{}: a CSRF token must be bound to something: keep bind_app (the identified app) or set a session ({{\"cookie\": \"<name>\"}} or {{\"header\": \"<name>\"}})",
                o.path
            ));
        }
        Binding { app, session }
    }

    /// The request's bound values (client id, session), or why the session is missing.
    fn values(&self, call: &Call<'_>) -> Result<[Option<String>; 2], String> {
        let app = if self.app {
            call.identity.map(|i| i.client_id.clone())
        } else {
            None
        };
        let session = match &self.session {
            None => None,
            Some(s) => match s.read(call) {
                Read::Value(v) => Some(v),
                Read::Absent(why) => return Err(why),
            },
        };
        Ok([app, session])
    }
}

fn as_refs(v: &[Option<String>; 2]) -> [Option<&str>; 2] {
    [v[0].as_deref(), v[1].as_deref()]
}

#[derive(Debug)]
pub struct CsrfGenerator {
    emitter: Emitter,
    expiry_s: u64,
    binding: Binding,
    keys: Option<Arc<TokenKeys>>,
}

impl CsrfGenerator {
    pub fn compile(o: &mut Obj<'_>, errs: &mut Vec<String>) -> CsrfGenerator {
        let emitter = Emitter::compile(o, DEFAULT_NAME, errs);
        let expiry_s = o
            .opt_u64("expiry_seconds", errs)
            .unwrap_or(DEFAULT_EXPIRY_SECONDS);
        if !(1..=MAX_EXPIRY_SECONDS).contains(&expiry_s) {
            errs.push(format!(
                "{}.expiry_seconds: must be 1 to {MAX_EXPIRY_SECONDS} (30 days)",
                o.path
            ));
        }
        CsrfGenerator {
            emitter,
            expiry_s,
            binding: Binding::compile(o, errs),
            keys: None,
        }
    }

    pub fn attach_keys(&mut self, keys: &Arc<TokenKeys>) {
        self.keys = Some(keys.clone());
    }

    pub fn requires(&self) -> Requires {
        Requires {
            identity: self.binding.app,
            unsafe_method: true,
        }
    }

    /// The token for this call's response (decided with the request: it depends on the
    /// request, the identity and the time, never on the response body).
    pub fn issue(&self, call: &Call<'_>) -> Result<Issued, Fault> {
        const KIND: &str = "csrf_generator";
        let Some(keys) = &self.keys else {
            return Err(generated::missing_keys_fault(KIND));
        };
        if matches!(call.req.method(), "GET" | "HEAD") {
            return Ok(self.emitter.skipped(
                KIND,
                None,
                format!("not issued: {} is a safe method", call.req.method()),
            ));
        }
        let values = match self.binding.values(call) {
            Ok(v) => v,
            Err(why) => {
                return Ok(self.emitter.skipped(
                    KIND,
                    Some(Cause::NoSession),
                    format!("not issued: {why}"),
                ))
            }
        };
        let exp_ms = call
            .now_ms
            .saturating_add(self.expiry_s.saturating_mul(1000));
        let scope = self.emitter.scope(Kind::Csrf, call.api);
        let token = gentoken::issue(keys, &scope, exp_ms, &as_refs(&values));
        let mut issued = self.emitter.issued(
            KIND,
            &token,
            format!("issued; expires in {} s", self.expiry_s),
        );
        issued.entry.client_id = call.identity.map(|i| i.client_id.clone());
        issued.headers = self.emitter.headers(&token, self.expiry_s);
        Ok(issued)
    }
}

#[derive(Debug)]
pub struct Csrf {
    common: Common,
    binding: Binding,
    keys: Option<Arc<TokenKeys>>,
}

impl Csrf {
    pub fn compile(o: &mut Obj<'_>, docs: &str, errs: &mut Vec<String>) -> Csrf {
        let common = Common::compile(
            o,
            "csrf",
            Label::CsrfToken,
            DEFAULT_NAME,
            generated::LOCATIONS,
            docs,
            errs,
        );
        Csrf {
            common,
            binding: Binding::compile(o, errs),
            keys: None,
        }
    }

    pub fn attach_keys(&mut self, keys: &Arc<TokenKeys>) {
        self.keys = Some(keys.clone());
    }

    pub fn requires(&self) -> Requires {
        Requires {
            identity: self.binding.app,
            unsafe_method: false,
        }
    }

    pub fn check(&self, call: &Call<'_>) -> Check {
        let c = &self.common;
        let (token, place) = match c.extract(call) {
            Ok(v) => v,
            Err(denial) => return *denial,
        };
        let values = match self.binding.values(call) {
            Ok(v) => v,
            Err(why) => {
                return c.deny(
                    place,
                    Cause::NoSession,
                    Some(format!("the token is bound to a session, but {why}")),
                    Some(crate::records::fingerprint(&token)),
                    None,
                )
            }
        };
        let now_ms = call.now_ms;
        validate(
            c,
            self.keys.as_deref(),
            Kind::Csrf,
            call,
            (&token, place),
            &as_refs(&values),
            &|exp_ms| {
                if now_ms >= exp_ms {
                    Err((
                        Cause::Expired,
                        format!(
                            "the token expired {} s ago",
                            now_ms.saturating_sub(exp_ms) / 1000
                        ),
                    ))
                } else {
                    Ok(format!(
                        "expires in {} s",
                        exp_ms.saturating_sub(now_ms) / 1000
                    ))
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::request::{Target, TestRequest};
    use crate::interceptors::testing::*;
    use crate::interceptors::{identity, Interceptor};
    use serde_json::json;

    const SECRET: &str = "csrf-test-secret-0123456789abcdef";
    const OLD: &str = "csrf-old-secret-0123456789abcdef!";

    fn keys() -> Arc<TokenKeys> {
        Arc::new(TokenKeys::new(SECRET, Some(OLD)).unwrap())
    }

    fn keyed(v: serde_json::Value) -> Interceptor {
        let mut i = compile(v);
        i.attach_keys(&keys());
        i
    }

    fn msg(place: &str, name: &str) -> String {
        format!("CSRF Token in the request, identified by {place} {name}, is invalid. Check docs.sensedia.com")
    }
    fn line(place: &str, name: &str) -> String {
        format!("CSRF token in {place} {name} HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call")
    }

    /// Runs `i` on `req` at `now_ms`, with the app `client` identified (if any).
    fn run(i: &Interceptor, req: &TestRequest, now_ms: u64, client: Option<&str>) -> Check {
        let id = client.map(|c| {
            let rec = crate::records::parse("app:x", &approved_app().to_string()).unwrap();
            identity(c, Arc::new(rec), None)
        });
        let records = std::collections::HashMap::new();
        let call = Call {
            req,
            target: Target::parse(&req.url),
            api: "orders",
            resource: None,
            now_s: (now_ms / 1000) as i64,
            now_ms,
            records: &records,
            identity: id.as_ref(),
        };
        match i {
            Interceptor::CsrfGenerator(g) => match g.issue(&call) {
                Ok(issued) => Check::Pass(super::super::Pass {
                    entry: issued.entry,
                    identity: None,
                    hide: vec![],
                    headers: issued
                        .headers
                        .into_iter()
                        .map(|(n, v)| (Arc::from(n.as_str()), Some(v)))
                        .collect(),
                }),
                Err(f) => Check::Fault(f),
            },
            other => other.check(&call),
        }
    }

    const T0: u64 = 1_800_000_000_000;

    /// The token a generator configured with `cfg` issues for `req` (and its headers).
    fn issue(
        cfg: serde_json::Value,
        req: &TestRequest,
        client: Option<&str>,
    ) -> (String, Vec<(String, String)>) {
        let g = keyed(cfg);
        let p = expect_pass(run(&g, req, T0, client));
        let headers: Vec<(String, String)> = p
            .headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone().unwrap()))
            .collect();
        let token = match headers.iter().find(|(n, _)| n == "set-cookie") {
            Some((_, c)) => c
                .split(';')
                .next()
                .unwrap()
                .split_once('=')
                .unwrap()
                .1
                .to_string(),
            None => headers[0].1.clone(),
        };
        (token, headers)
    }

    #[test]
    fn header_mode_round_trip_bound_to_the_app() {
        let post = TestRequest::new("POST", "https://gw/orders/login");
        let (token, headers) = issue(
            json!({"type": "csrf_generator", "name": "X-CSRF-Token"}),
            &post,
            Some("app-1"),
        );
        assert_eq!(
            headers,
            vec![
                ("x-csrf-token".to_string(), token.clone()),
                (
                    "access-control-expose-headers".to_string(),
                    "X-CSRF-Token".to_string()
                )
            ]
        );
        let v = keyed(json!({"type": "csrf", "name": "X-CSRF-Token"}));
        let req =
            TestRequest::new("POST", "https://gw/orders/pay").with_header("x-csrf-token", &token);
        let p = expect_pass(run(&v, &req, T0 + 1000, Some("app-1")));
        assert_eq!(p.entry.detail.as_deref(), Some("expires in 3599 s"));
        assert!(p.entry.fingerprint.unwrap().starts_with("sha256:"));
        // Another app: genuine but wrong binding.
        assert_denied(
            &run(&v, &req, T0 + 1000, Some("app-2")),
            &msg("HEADER", "X-CSRF-Token"),
            Cause::WrongBinding,
            &line("HEADER", "X-CSRF-Token"),
        );
    }

    #[test]
    fn cookie_mode_with_a_session_and_cookie_attributes() {
        let cfg = json!({"type": "csrf_generator", "location": "cookie", "expiry_seconds": 600,
                         "bind_app": false, "session": {"cookie": "sid"}, "same_site": "lax",
                         "cookie_path": "/orders"});
        let post =
            TestRequest::new("POST", "https://gw/orders/login").with_header("cookie", "sid=s-1");
        let (token, headers) = issue(cfg, &post, None);
        assert_eq!(
            headers,
            vec![(
                "set-cookie".to_string(),
                format!(
                    "csrf_token={token}; Max-Age=600; Path=/orders; Secure; HttpOnly; SameSite=Lax"
                )
            )]
        );
        let v = keyed(
            json!({"type": "csrf", "location": "cookie", "bind_app": false, "session": {"cookie": "sid"}}),
        );
        let with = |cookie: &str| {
            TestRequest::new("POST", "https://gw/orders/pay").with_header("cookie", cookie)
        };
        expect_pass(run(
            &v,
            &with(&format!("sid=s-1; csrf_token={token}")),
            T0,
            None,
        ));
        let (m, l) = (msg("COOKIE", "csrf_token"), line("COOKIE", "csrf_token"));
        for (cookie, now, cause) in [
            (
                format!("sid=s-2; csrf_token={token}"),
                T0,
                Cause::WrongBinding,
            ),
            (format!("csrf_token={token}"), T0, Cause::NoSession),
            (format!("sid=; csrf_token={token}"), T0, Cause::NoSession),
            (
                format!("sid=s-1; csrf_token={token}"),
                T0 + 600_000,
                Cause::Expired,
            ),
            (
                format!("sid=s-1; csrf_token={token}; csrf_token={token}"),
                T0,
                Cause::Duplicated,
            ),
            ("sid=s-1".to_string(), T0, Cause::Missing),
            ("sid=s-1; csrf_token=".to_string(), T0, Cause::Empty),
            (
                "sid=s-1; csrf_token=v1.1.2.3".to_string(),
                T0,
                Cause::Malformed,
            ),
            (
                format!("sid=s-1; csrf_token={}", "x".repeat(300)),
                T0,
                Cause::TooLong,
            ),
        ] {
            assert_denied(&run(&v, &with(&cookie), now, None), &m, cause, &l);
        }
        // Altered: the expiry pushed later.
        let later = token.replacen(
            &format!("v1.{}", T0 + 600_000),
            &format!("v1.{}", T0 + 6_000_000),
            1,
        );
        assert_ne!(later, token);
        assert_denied(
            &run(&v, &with(&format!("sid=s-1; csrf_token={later}")), T0, None),
            &m,
            Cause::BadSignature,
            &l,
        );
        // The same token presented in a header is another element: refused.
        let vh = keyed(json!({"type": "csrf", "bind_app": false, "session": {"cookie": "sid"}}));
        let r = with("sid=s-1").with_header("csrf_token", &token);
        assert_denied(
            &run(&vh, &r, T0, None),
            &msg("HEADER", "csrf_token"),
            Cause::BadSignature,
            &line("HEADER", "csrf_token"),
        );
    }

    #[test]
    fn a_token_made_under_the_previous_secret_passes_and_says_so() {
        let old = Arc::new(TokenKeys::new(OLD, None).unwrap());
        let mut g = compile(json!({"type": "csrf_generator"}));
        g.attach_keys(&old);
        let post = TestRequest::new("POST", "https://gw/orders/login");
        let p = expect_pass(run(&g, &post, T0, Some("a")));
        let token = p.headers[0].1.clone().unwrap();
        let v = keyed(json!({"type": "csrf"}));
        let req =
            TestRequest::new("POST", "https://gw/orders/pay").with_header("csrf_token", &token);
        let p = expect_pass(run(&v, &req, T0, Some("a")));
        assert!(p.entry.detail.unwrap().contains("TOKEN_SECRET_PREVIOUS"));
        let other = Arc::new(TokenKeys::new("a-completely-different-secret-xyz", None).unwrap());
        let mut v2 = compile(json!({"type": "csrf"}));
        v2.attach_keys(&other);
        assert_denied(
            &run(&v2, &req, T0, Some("a")),
            &msg("HEADER", "csrf_token"),
            Cause::BadSignature,
            &line("HEADER", "csrf_token"),
        );
    }

    #[test]
    fn the_generator_skips_safe_methods_and_missing_sessions() {
        let g = keyed(
            json!({"type": "csrf_generator", "bind_app": false, "session": {"header": "x-session"}}),
        );
        for (req, cause, detail) in [
            (
                TestRequest::new("GET", "https://gw/orders/form").with_header("x-session", "s"),
                None,
                "not issued: GET is a safe method",
            ),
            (
                TestRequest::new("HEAD", "https://gw/orders/form"),
                None,
                "not issued: HEAD is a safe method",
            ),
            (
                TestRequest::new("POST", "https://gw/orders/form"),
                Some(Cause::NoSession),
                "not issued: no HEADER x-session",
            ),
        ] {
            let p = expect_pass(run(&g, &req, T0, None));
            assert!(p.headers.is_empty());
            assert_eq!(p.entry.cause, cause);
            assert_eq!(p.entry.detail.as_deref(), Some(detail));
        }
    }

    #[test]
    fn without_keys_both_fault() {
        let g = compile(json!({"type": "csrf_generator"}));
        let post = TestRequest::new("POST", "https://gw/orders/x")
            .with_header("csrf_token", "v1.1.AAAAAAAAAAA.x");
        expect_fault(&run(&g, &post, T0, Some("a")), 500, Cause::BadPolicy);
        let v = compile(json!({"type": "csrf"}));
        expect_fault(&run(&v, &post, T0, Some("a")), 500, Cause::BadPolicy);
    }

    #[test]
    fn config_problems_are_listed() {
        let e = compile_errors(
            json!({"type": "csrf_generator", "location": "query", "expiry_seconds": 0,
                                      "bind_app": false, "same_site": "loose", "name": "a b"}),
        );
        let all = e.join("\n");
        for want in [
            "t.location: unknown value \"query\"; expected one of [\"header\", \"cookie\"]",
            "t.expiry_seconds: must be 1 to 2592000",
            "t: a CSRF token must be bound to something",
            "t.same_site: unknown value \"loose\"",
            "t.name: \"a b\" cannot be a header or cookie name",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
        let all = compile_errors(
            json!({"type": "csrf", "session": {"cookie": "sid", "header": "x"}, "ttl_ms": 5}),
        )
        .join("\n");
        assert!(
            all.contains("t.session: exactly one of [\"cookie\", \"header\"] is needed"),
            "{all}"
        );
        assert!(all.contains("t: unknown field \"ttl_ms\""), "{all}");
        let all = compile_errors(json!({"type": "csrf", "session": {"query": "sid"}})).join("\n");
        assert!(all.contains("t.session: unknown field \"query\""), "{all}");
        let all = compile_errors(json!({"type": "csrf_generator", "cookie_path": "/x"})).join("\n");
        assert!(all.contains("apply to location \"cookie\" only"), "{all}");
        let all = compile_errors(
            json!({"type": "csrf_generator", "location": "cookie", "cookie_path": "/a;b"}),
        )
        .join("\n");
        assert!(all.contains("t.cookie_path"), "{all}");
    }
}
