//! Time Token Generator (response flow) and Time Token Validation (request flow).
//!
//! The generator adds a token to the origin's response in a header or a cookie; the validator
//! accepts only a token the generator issued, from the same location and name under the same
//! API, unaltered, no older than its own `ttl_ms`, and bound to the same value (`bind`: a
//! request header, a query parameter or a field of the identified app's extra info) when one is
//! configured. Failures answer with the `Time Token` message.

use super::generated::{self, validate, Emitter, Issued, Read, Requires, Source};
use super::{Call, Check, Common, Fault};
use crate::base::config::Obj;
use crate::base::message::Label;
use crate::crypto::gentoken::{self, Kind, TokenKeys};
use crate::trace::Cause;
use std::sync::Arc;

pub const DEFAULT_NAME: &str = "time_token";
pub const DEFAULT_TTL_MS: u64 = 30_000;
pub const MAX_TTL_MS: u64 = 86_400_000;
/// How far in the future an issue time may be (clocks of two locations) before the token is
/// refused as `not_yet_valid`.
pub const FUTURE_SKEW_MS: u64 = 5_000;
const BIND_KINDS: &[&str] = &["header", "query", "extra_info"];

fn compile_ttl(o: &mut Obj<'_>, errs: &mut Vec<String>) -> u64 {
    let ttl = o.opt_u64("ttl_ms", errs).unwrap_or(DEFAULT_TTL_MS);
    if !(1..=MAX_TTL_MS).contains(&ttl) {
        errs.push(format!(
            "{}.ttl_ms: must be 1 to {MAX_TTL_MS} (a day)",
            o.path
        ));
    }
    ttl
}

fn compile_bind(o: &mut Obj<'_>, errs: &mut Vec<String>) -> Option<Source> {
    o.opt_obj("bind", errs).and_then(|mut b| {
        let src = Source::compile(&mut b, BIND_KINDS, errs);
        b.finish(errs);
        src
    })
}

/// The bound value of this request: `Ok(None)` without `bind`; `Err(why)` when it is absent.
fn bound(bind: &Option<Source>, call: &Call<'_>) -> Result<Option<String>, String> {
    match bind {
        None => Ok(None),
        Some(s) => match s.read(call) {
            Read::Value(v) => Ok(Some(v)),
            Read::Absent(why) => Err(why),
        },
    }
}

#[derive(Debug)]
pub struct TimeTokenGenerator {
    emitter: Emitter,
    ttl_ms: u64,
    bind: Option<Source>,
    keys: Option<Arc<TokenKeys>>,
}

impl TimeTokenGenerator {
    pub fn compile(o: &mut Obj<'_>, errs: &mut Vec<String>) -> TimeTokenGenerator {
        TimeTokenGenerator {
            emitter: Emitter::compile(o, DEFAULT_NAME, errs),
            ttl_ms: compile_ttl(o, errs),
            bind: compile_bind(o, errs),
            keys: None,
        }
    }

    pub fn attach_keys(&mut self, keys: &Arc<TokenKeys>) {
        self.keys = Some(keys.clone());
    }

    pub fn requires(&self) -> Requires {
        Requires {
            identity: self.bind.as_ref().is_some_and(Source::needs_identity),
            unsafe_method: false,
        }
    }

    pub fn issue(&self, call: &Call<'_>) -> Result<Issued, Fault> {
        const KIND: &str = "time_token_generator";
        let Some(keys) = &self.keys else {
            return Err(generated::missing_keys_fault(KIND));
        };
        let value = match bound(&self.bind, call) {
            Ok(v) => v,
            Err(why) => {
                return Ok(self.emitter.skipped(
                    KIND,
                    Some(Cause::NoBindValue),
                    format!("not issued: {why}"),
                ))
            }
        };
        let scope = self.emitter.scope(Kind::Time, call.api);
        let token = gentoken::issue(keys, &scope, call.now_ms, &[value.as_deref()]);
        let mut issued = self.emitter.issued(
            KIND,
            &token,
            format!("issued; valid for {} ms", self.ttl_ms),
        );
        issued.entry.client_id = call.identity.map(|i| i.client_id.clone());
        issued.headers = self.emitter.headers(&token, self.ttl_ms.div_ceil(1000));
        Ok(issued)
    }
}

#[derive(Debug)]
pub struct TimeToken {
    common: Common,
    ttl_ms: u64,
    bind: Option<Source>,
    keys: Option<Arc<TokenKeys>>,
}

impl TimeToken {
    pub fn compile(o: &mut Obj<'_>, docs: &str, errs: &mut Vec<String>) -> TimeToken {
        TimeToken {
            common: Common::compile(
                o,
                "time_token",
                Label::TimeToken,
                DEFAULT_NAME,
                generated::LOCATIONS,
                docs,
                errs,
            ),
            ttl_ms: compile_ttl(o, errs),
            bind: compile_bind(o, errs),
            keys: None,
        }
    }

    pub fn attach_keys(&mut self, keys: &Arc<TokenKeys>) {
        self.keys = Some(keys.clone());
    }

    pub fn requires(&self) -> Requires {
        Requires {
            identity: self.bind.as_ref().is_some_and(Source::needs_identity),
            unsafe_method: false,
        }
    }

    pub fn check(&self, call: &Call<'_>) -> Check {
        let c = &self.common;
        let (token, place) = match c.extract(call) {
            Ok(v) => v,
            Err(denial) => return *denial,
        };
        let value = match bound(&self.bind, call) {
            Ok(v) => v,
            Err(why) => {
                return c.deny(
                    place,
                    Cause::NoBindValue,
                    Some(format!("the token is bound to a value, but {why}")),
                    Some(crate::records::fingerprint(&token)),
                    None,
                )
            }
        };
        let (now, ttl) = (call.now_ms, self.ttl_ms);
        validate(
            c,
            self.keys.as_deref(),
            Kind::Time,
            call,
            (&token, place),
            &[value.as_deref()],
            &|issued_ms| {
                if issued_ms > now.saturating_add(FUTURE_SKEW_MS) {
                    Err((
                        Cause::NotYetValid,
                        format!("issued {} ms in the future", issued_ms.saturating_sub(now)),
                    ))
                } else if now.saturating_sub(issued_ms) > ttl {
                    Err((
                        Cause::Expired,
                        format!(
                            "issued {} ms ago; ttl_ms is {ttl}",
                            now.saturating_sub(issued_ms)
                        ),
                    ))
                } else {
                    Ok(format!(
                        "issued {} ms ago; ttl_ms is {ttl}",
                        now.saturating_sub(issued_ms)
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

    const SECRET: &str = "time-test-secret-0123456789abcdef";
    const T0: u64 = 1_800_000_000_000;

    fn keyed(v: serde_json::Value) -> Interceptor {
        let mut i = compile(v);
        i.attach_keys(&Arc::new(TokenKeys::new(SECRET, None).unwrap()));
        i
    }

    fn msg(place: &str, name: &str) -> String {
        format!("Time Token in the request, identified by {place} {name}, is invalid. Check docs.sensedia.com")
    }
    fn line(place: &str, name: &str) -> String {
        format!("Time token in {place} {name} HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call")
    }

    fn app_with(extra: serde_json::Value) -> crate::interceptors::Identity {
        let mut a = approved_app();
        a["extra_info"] = extra;
        let rec = crate::records::parse("app:x", &a.to_string()).unwrap();
        identity("app-1", Arc::new(rec), None)
    }

    fn call<'a>(
        req: &'a TestRequest,
        now_ms: u64,
        id: Option<&'a crate::interceptors::Identity>,
        records: &'a std::collections::HashMap<String, crate::records::cache::Slot>,
    ) -> Call<'a> {
        Call {
            req,
            target: Target::parse(&req.url),
            api: "orders",
            resource: None,
            now_s: (now_ms / 1000) as i64,
            now_ms,
            records,
            identity: id,
        }
    }

    fn issue(
        g: &Interceptor,
        req: &TestRequest,
        id: Option<&crate::interceptors::Identity>,
    ) -> Issued {
        let records = std::collections::HashMap::new();
        let Interceptor::TimeTokenGenerator(g) = g else {
            panic!()
        };
        g.issue(&call(req, T0, id, &records)).unwrap()
    }

    fn check(
        v: &Interceptor,
        req: &TestRequest,
        now_ms: u64,
        id: Option<&crate::interceptors::Identity>,
    ) -> Check {
        let records = std::collections::HashMap::new();
        v.check(&call(req, now_ms, id, &records))
    }

    #[test]
    fn ttl_is_the_validators_and_defaults_to_30_s() {
        let g = keyed(json!({"type": "time_token_generator"}));
        let i = issue(&g, &TestRequest::new("GET", "https://gw/orders/a"), None);
        let token = i.headers[0].1.clone();
        assert_eq!(i.headers[0].0, "time_token");
        assert_eq!(
            i.entry.detail.as_deref(),
            Some("issued; valid for 30000 ms")
        );
        let v = keyed(json!({"type": "time_token"}));
        let req = TestRequest::new("POST", "https://gw/orders/b").with_header("time_token", &token);
        let p = expect_pass(check(&v, &req, T0 + 30_000, None));
        assert_eq!(
            p.entry.detail.as_deref(),
            Some("issued 30000 ms ago; ttl_ms is 30000")
        );
        let (m, l) = (msg("HEADER", "time_token"), line("HEADER", "time_token"));
        assert_denied(&check(&v, &req, T0 + 30_001, None), &m, Cause::Expired, &l);
        // A validator with a shorter TTL refuses sooner.
        let short = keyed(json!({"type": "time_token", "ttl_ms": 1000}));
        expect_pass(check(&short, &req, T0 + 1000, None));
        assert_denied(
            &check(&short, &req, T0 + 1001, None),
            &m,
            Cause::Expired,
            &l,
        );
        // Issued in the future beyond the allowed skew.
        assert_denied(
            &check(&v, &req, T0 - FUTURE_SKEW_MS - 1, None),
            &m,
            Cause::NotYetValid,
            &l,
        );
        expect_pass(check(&v, &req, T0 - FUTURE_SKEW_MS, None));
    }

    #[test]
    fn bound_to_a_header_query_or_extra_info_value() {
        for (bind, good, bad, absent) in [
            (
                json!({"header": "x-user"}),
                TestRequest::new("POST", "https://gw/orders/b").with_header("x-user", "alice"),
                TestRequest::new("POST", "https://gw/orders/b").with_header("x-user", "bob"),
                TestRequest::new("POST", "https://gw/orders/b"),
            ),
            (
                json!({"query": "user"}),
                TestRequest::new("POST", "https://gw/orders/b?user=alice"),
                TestRequest::new("POST", "https://gw/orders/b?user=alice%20"),
                TestRequest::new("POST", "https://gw/orders/b?user=alice&user=alice"),
            ),
        ] {
            let g =
                keyed(json!({"type": "time_token_generator", "location": "cookie", "bind": bind}));
            let i = issue(&g, &good, None);
            let cookie = i.headers[0].1.clone();
            assert!(
                cookie.contains("; Max-Age=30; Path=/; Secure; HttpOnly; SameSite=Strict"),
                "{cookie}"
            );
            let token = cookie.split(';').next().unwrap().to_string();
            let v = keyed(json!({"type": "time_token", "location": "cookie", "bind": bind}));
            let with = |r: &TestRequest| r.clone().with_header("cookie", &token);
            let (m, l) = (msg("COOKIE", "time_token"), line("COOKIE", "time_token"));
            expect_pass(check(&v, &with(&good), T0, None));
            assert_denied(
                &check(&v, &with(&bad), T0, None),
                &m,
                Cause::WrongBinding,
                &l,
            );
            assert_denied(
                &check(&v, &with(&absent), T0, None),
                &m,
                Cause::NoBindValue,
                &l,
            );
            // Without the value, nothing is issued.
            let skipped = issue(&g, &absent, None);
            assert!(skipped.headers.is_empty());
            assert_eq!(skipped.entry.cause, Some(Cause::NoBindValue));
        }
        // extra_info: strings as they are, other JSON as its text.
        let g = keyed(json!({"type": "time_token_generator", "bind": {"extra_info": "tenant"}}));
        let v = keyed(json!({"type": "time_token", "bind": {"extra_info": "tenant"}}));
        let req = TestRequest::new("POST", "https://gw/orders/b");
        for (mine, other) in [
            (json!({"tenant": "t1"}), json!({"tenant": "t2"})),
            (json!({"tenant": 7}), json!({"tenant": "7 "})),
        ] {
            let (a, b) = (app_with(mine), app_with(other));
            let token = issue(&g, &req, Some(&a)).headers[0].1.clone();
            let r = req.clone().with_header("time_token", &token);
            expect_pass(check(&v, &r, T0, Some(&a)));
            assert_denied(
                &check(&v, &r, T0, Some(&b)),
                &msg("HEADER", "time_token"),
                Cause::WrongBinding,
                &line("HEADER", "time_token"),
            );
            let none = app_with(json!({"other": 1}));
            assert_denied(
                &check(&v, &r, T0, Some(&none)),
                &msg("HEADER", "time_token"),
                Cause::NoBindValue,
                &line("HEADER", "time_token"),
            );
        }
    }

    #[test]
    fn a_csrf_token_is_not_a_time_token() {
        let mut g = compile(json!({"type": "csrf_generator", "name": "time_token"}));
        g.attach_keys(&Arc::new(TokenKeys::new(SECRET, None).unwrap()));
        let Interceptor::CsrfGenerator(g) = g else {
            panic!()
        };
        let records = std::collections::HashMap::new();
        let post = TestRequest::new("POST", "https://gw/orders/a");
        let a = app_with(json!({}));
        let token = g
            .issue(&call(&post, T0, Some(&a), &records))
            .unwrap()
            .headers[0]
            .1
            .clone();
        let v = keyed(json!({"type": "time_token"}));
        let req = post.with_header("time_token", &token);
        assert_denied(
            &check(&v, &req, T0, Some(&a)),
            &msg("HEADER", "time_token"),
            Cause::BadSignature,
            &line("HEADER", "time_token"),
        );
    }

    #[test]
    fn config_problems_are_listed() {
        let all = compile_errors(json!({"type": "time_token", "ttl_ms": 0, "bind": {"cookie": "c"}, "expiry_seconds": 3})).join("\n");
        for want in [
            "t.ttl_ms: must be 1 to 86400000",
            "t.bind: unknown field \"cookie\"",
            "t.bind: exactly one of [\"header\", \"query\", \"extra_info\"] is needed",
            "t: unknown field \"expiry_seconds\"",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
        let all = compile_errors(
            json!({"type": "time_token_generator", "location": "any", "ttl_ms": -3}),
        )
        .join("\n");
        assert!(all.contains("t.location: unknown value \"any\""), "{all}");
        assert!(all.contains("t.ttl_ms: expected a whole number"), "{all}");
    }
}
