//! CSRF and Time Tokens through the whole pipeline on the host: generators in the response flow
//! (their headers in the forwarding plan), validators in the request flow, the chain checks of
//! the policy compiler, and the TOKEN_SECRET handling.

mod common;

use common::kv::decide_reading;
use edge_interceptors::base::request::TestRequest;
use edge_interceptors::gateway::pipeline::{Answer, Decision};
use edge_interceptors::gateway::policy::chains::{
    attach_token_keys as attach, uses_generated_tokens,
};
use edge_interceptors::gateway::policy::{compile, Policy};
use edge_interceptors::records::cache::RecordCache;
use edge_interceptors::trace::{Cause, Outcome};
use serde_json::{json, Value};
use std::collections::HashMap;

const NOW_MS: u64 = 1_800_000_000_000;
const SECRET: &str = "pipeline-secret-0123456789abcdef!!";

struct Gateway {
    policy: Policy,
    store: HashMap<String, String>,
    cache: RecordCache,
}

impl Gateway {
    fn new(policy: Value) -> Gateway {
        let mut policy = compile(&policy).unwrap();
        attach(&mut policy, Some(SECRET), None).unwrap();
        let cache = RecordCache::new(policy.cache);
        let mut store = HashMap::new();
        store.insert(
            "app:a".to_string(),
            json!({"name": "A", "status": "APPROVED", "access": [{"api": "shop"}]}).to_string(),
        );
        store.insert(
            "app:b".to_string(),
            json!({"name": "B", "status": "APPROVED", "access": [{"api": "shop"}]}).to_string(),
        );
        Gateway {
            policy,
            store,
            cache,
        }
    }

    fn run(&mut self, req: &TestRequest, now_ms: u64) -> Decision {
        decide_reading(&self.policy, &mut self.cache, &self.store, req, now_ms, "r").0
    }
}

fn shop() -> Value {
    json!({"apis": [{
        "name": "shop", "base_path": "/shop", "origin": "http://origin",
        "interceptors": [{"type": "client_id"}],
        "resources": [
            {"name": "login", "path": "/login", "methods": ["POST"],
             "interceptors": [
                {"type": "csrf_generator", "location": "cookie", "name": "csrf"},
                {"type": "time_token_generator", "name": "x-time", "ttl_ms": 10000},
                {"type": "access_token"}
             ]},
            {"name": "pay", "path": "/pay", "methods": ["POST"],
             "interceptors": [
                {"type": "csrf", "location": "cookie", "name": "csrf", "hide_credential": true},
                {"type": "time_token", "name": "x-time", "ttl_ms": 10000}
             ]},
            {"name": "form", "path": "/form", "methods": ["GET", "POST"],
             "interceptors": [{"type": "csrf_generator"}]}
        ]
    }]})
}

fn plan(d: &Decision) -> &edge_interceptors::gateway::forward::ForwardPlan {
    match &d.answer {
        Answer::Forward(p) => p,
        Answer::Reply(r) => panic!("expected a forward, got {} {}", r.status, r.body),
    }
}

#[test]
fn generators_run_after_every_request_interceptor_and_in_declared_order() {
    let mut g = Gateway::new(shop());
    g.store.insert(
        edge_interceptors::records::token_key("tok").unwrap(),
        json!({"client_id": "a"}).to_string(),
    );
    let login = TestRequest::new("POST", "https://gw/shop/login")
        .with_header("client_id", "a")
        .with_header("access_token", "tok");
    let d = g.run(&login, NOW_MS);
    let kinds: Vec<_> = d.trace.entries.iter().map(|e| e.interceptor).collect();
    assert_eq!(
        kinds,
        [
            "client_id",
            "access_token",
            "csrf_generator",
            "time_token_generator",
            "request"
        ]
    );
    let rh = &plan(&d).response_headers;
    assert_eq!(rh.len(), 3, "{rh:?}");
    assert_eq!(rh[0].0, "set-cookie");
    assert!(rh[0].1.starts_with("csrf=v1."));
    assert!(rh[0]
        .1
        .ends_with("; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Strict"));
    assert_eq!(rh[1].0, "x-time");
    assert_eq!(
        rh[2],
        ("access-control-expose-headers".into(), "x-time".into())
    );
    let csrf = rh[0].1.split(';').next().unwrap().to_string(); // csrf=<token>
    let time = rh[1].1.clone();
    // No entry carries a token, only fingerprints.
    let json = d.trace.to_json();
    assert!(
        !json.contains(&time) && !json.contains(&csrf[5..]),
        "{json}"
    );

    // The protected operation: both tokens, same app.
    let pay = |client: &str, cookie: &str, time: &str| {
        TestRequest::new("POST", "https://gw/shop/pay")
            .with_header("client_id", client)
            .with_header("cookie", cookie)
            .with_header("x-time", time)
    };
    let d = g.run(
        &pay("a", &format!("{csrf}; other=1"), &time),
        NOW_MS + 10_000,
    );
    let p = plan(&d);
    assert!(p.response_headers.is_empty(), "validators add nothing");
    assert!(
        p.set.contains(&("cookie".into(), "other=1".into())),
        "hide_credential removes the CSRF cookie: {:?}",
        p.set
    );
    // Later than the Time Token's TTL.
    let d = g.run(&pay("a", &csrf, &time), NOW_MS + 10_001);
    assert!(
        matches!(&d.answer, Answer::Reply(r) if r.status == 401 && &*r.body == "Time Token in the request, identified by HEADER x-time, is invalid. Check docs.sensedia.com")
    );
    assert_eq!(d.trace.entries[2].cause, Some(Cause::Expired));
    // Another app: the CSRF token is bound to app a.
    let d = g.run(&pay("b", &csrf, &time), NOW_MS);
    assert!(
        matches!(&d.answer, Answer::Reply(r) if r.status == 401 && &*r.body == "CSRF Token in the request, identified by COOKIE csrf, is invalid. Check docs.sensedia.com")
    );
    assert_eq!(d.trace.entries[1].cause, Some(Cause::WrongBinding));
    // A cross-site post carries no cookie.
    let d = g.run(&pay("a", "other=1", &time), NOW_MS);
    assert_eq!(d.trace.entries[1].cause, Some(Cause::Missing));
    assert_eq!(d.outcome, Outcome::Deny);
}

#[test]
fn gateway_replies_get_nothing_and_safe_methods_get_no_csrf_token() {
    let mut g = Gateway::new(shop());
    // Denied by client_id (unknown app): no generator runs.
    g.store.insert("app:nobody".into(), "null".into());
    let d = g.run(
        &TestRequest::new("POST", "https://gw/shop/form").with_header("client_id", "zzz"),
        NOW_MS,
    );
    assert!(matches!(&d.answer, Answer::Reply(r) if r.status == 401));
    assert!(d
        .trace
        .entries
        .iter()
        .all(|e| e.interceptor != "csrf_generator"));
    let get = TestRequest::new("GET", "https://gw/shop/form").with_header("client_id", "a");
    let d = g.run(&get, NOW_MS);
    assert!(plan(&d).response_headers.is_empty());
    assert_eq!(
        d.trace.entries[1].detail.as_deref(),
        Some("not issued: GET is a safe method")
    );
    let post = TestRequest::new("POST", "https://gw/shop/form").with_header("client_id", "a");
    let d = g.run(&post, NOW_MS);
    assert_eq!(plan(&d).response_headers[0].0, "csrf_token");
}

#[test]
fn the_policy_compiler_checks_chains() {
    let bad = json!({"apis": [{
        "name": "x", "base_path": "/x", "origin": "http://origin.test",
        "interceptors": [{"type": "csrf"}, {"type": "client_id"}],
        "resources": [
            {"name": "r1", "path": "/a", "methods": ["GET", "HEAD"],
             "interceptors": [{"type": "csrf_generator", "bind_app": false, "session": {"cookie": "sid"}}]},
            {"name": "r2", "path": "/b",
             "interceptors": [{"type": "time_token", "bind": {"extra_info": "tenant"}}]}
        ]}, {
        "name": "y", "base_path": "/y", "origin": "http://origin.test",
        "interceptors": [{"type": "csrf_generator"}, {"type": "time_token_generator", "bind": {"extra_info": "t"}}],
        "resources": [{"name": "r", "path": "/", "methods": ["GET"]}]
    }]});
    let all = compile(&bad).unwrap_err().0.join("\n");
    for want in [
        "apis[0] \"x\" interceptors[0] (csrf): binds the identified app, but no earlier interceptor identifies one",
        "apis[0] \"x\" resources[0] interceptors[0] (csrf_generator): the resource allows only [\"GET\", \"HEAD\"], where a CSRF token is never issued",
        "apis[1] \"y\" interceptors[0] (csrf_generator): binds the identified app, but no interceptor identifies one",
        "apis[1] \"y\" interceptors[0] (csrf_generator): every resource of the API allows only GET/HEAD",
        "apis[1] \"y\" interceptors[1] (time_token_generator): binds the identified app",
    ] {
        assert!(all.contains(want), "missing {want:?} in\n{all}");
    }
    // r2's time_token runs after the API's client_id: fine.
    assert!(!all.contains("resources[1]"), "{all}");
    assert_eq!(all.lines().count(), 5, "{all}");
    // An identifying interceptor on every resource serves an API-level generator; a JWT
    // identifies only with identity_claims.
    let ok = json!({"apis": [{
        "name": "z", "base_path": "/z", "origin": "http://origin.test",
        "interceptors": [{"type": "csrf_generator"}],
        "resources": [{"name": "r", "path": "/", "methods": ["POST"], "interceptors": [{"type": "oauth"}]}]
    }]});
    assert!(compile(&ok).is_ok());
    let jwt = |claims: Value| {
        json!({"apis": [{"name": "j", "base_path": "/j", "origin": "http://origin.test",
            "interceptors": [{"type": "jwt", "identity_claims": claims,
                              "issuers": [{"issuer": "i", "algorithms": ["HS256"]}]},
                             {"type": "csrf"}]}]})
    };
    assert!(compile(&jwt(json!(["sub"]))).is_ok());
    assert!(compile(&jwt(json!([]))).is_err());
}

#[test]
fn a_policy_with_token_interceptors_needs_the_secret() {
    let mut p = compile(&shop()).unwrap();
    assert!(uses_generated_tokens(&p));
    let e = attach(&mut p, None, None).unwrap_err();
    assert!(e.contains("TOKEN_SECRET secret is not set"), "{e}");
    assert!(attach(&mut p, Some(""), None).is_err());
    let e = attach(&mut p, Some("short"), None).unwrap_err();
    assert!(e.contains("at least 32"), "{e}");
    let e = attach(&mut p, Some(SECRET), Some("old")).unwrap_err();
    assert!(e.contains("TOKEN_SECRET_PREVIOUS"), "{e}");
    assert!(
        attach(&mut p, Some(SECRET), Some("")).is_ok(),
        "an empty previous is unset"
    );
    // Without the keys attached, the interceptors fail closed (500), never pass.
    let mut g = Gateway::new(shop());
    g.policy = compile(&shop()).unwrap();
    let post = TestRequest::new("POST", "https://gw/shop/form").with_header("client_id", "a");
    let d = g.run(&post, NOW_MS);
    assert!(matches!(&d.answer, Answer::Reply(r) if r.status == 500));
    assert_eq!(d.outcome, Outcome::Fault);
    // A policy without them needs no secret.
    let mut plain = compile(
        &json!({"apis": [{"name": "o", "base_path": "/o", "origin": "http://origin.test",
        "interceptors": [{"type": "client_id"}]}]}),
    )
    .unwrap();
    assert!(!uses_generated_tokens(&plain));
    assert!(attach(&mut plain, None, None).is_ok());
}

#[test]
fn a_bound_value_is_bound_with_its_source() {
    // The generator binds the client-chosen header x-tenant; a validator that reads the same
    // text from a query parameter must not accept the token.
    let policy = json!({"apis": [{
    "name": "shop", "base_path": "/shop", "origin": "http://origin",
    "resources": [
        {"name": "issue", "path": "/issue", "interceptors": [
            {"type": "time_token_generator", "bind": {"header": "x-tenant"}}]},
        {"name": "same", "path": "/same", "interceptors": [
            {"type": "time_token", "bind": {"header": "X-Tenant"}}]},
        {"name": "other", "path": "/other", "interceptors": [
            {"type": "time_token", "bind": {"query": "x-tenant"}}]}
    ]}]});
    let mut gw = Gateway::new(policy);
    let d = gw.run(
        &TestRequest::new("GET", "https://gw/shop/issue").with_header("x-tenant", "acme"),
        NOW_MS,
    );
    let token = plan(&d).response_headers[0].1.clone();
    // The same source (header names are case-insensitive): passes.
    let d = gw.run(
        &TestRequest::new("GET", "https://gw/shop/same")
            .with_header("x-tenant", "acme")
            .with_header("time_token", &token),
        NOW_MS + 10,
    );
    assert_eq!(d.outcome, Outcome::Pass, "{:?}", d.trace);
    // The same text from another source: wrong binding.
    let d = gw.run(
        &TestRequest::new("GET", "https://gw/shop/other?x-tenant=acme")
            .with_header("time_token", &token),
        NOW_MS + 10,
    );
    assert_eq!(d.outcome, Outcome::Deny);
    let e = d
        .trace
        .entries
        .iter()
        .find(|e| e.interceptor == "time_token")
        .unwrap();
    assert_eq!(e.cause, Some(Cause::WrongBinding), "{e:?}");
}
