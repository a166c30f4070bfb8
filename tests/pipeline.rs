//! The whole pipeline on the host: a policy, an in-memory "KV", a fixed clock, and the same
//! fetch-and-ask-again loop the Worker adapter runs.

mod common;

use common::kv::decide_reading;
use edge_interceptors::base::request::TestRequest;
use edge_interceptors::gateway::forward::always_removed;
use edge_interceptors::gateway::pipeline::{decide, Answer, Decision, Input, Step};
use edge_interceptors::gateway::policy::{compile, Policy};
use edge_interceptors::records::cache::{Layered, RecordCache, Slot};
use edge_interceptors::records::token_key;
use edge_interceptors::trace::{Cause, Outcome};
use serde_json::{json, Value};
use std::collections::HashMap;

const NOW_MS: u64 = 1_800_000_000_000;

/// A gateway over an in-memory store, counting store reads.
struct Gateway {
    policy: Policy,
    store: HashMap<String, String>,
    cache: RecordCache,
    reads: usize,
}

impl Gateway {
    fn new(policy: Value) -> Gateway {
        let policy = compile(&policy).unwrap();
        let cache = RecordCache::new(policy.cache);
        Gateway {
            policy,
            store: HashMap::new(),
            cache,
            reads: 0,
        }
    }

    fn put(&mut self, key: &str, v: Value) -> &mut Self {
        self.store.insert(key.to_string(), v.to_string());
        self
    }

    /// Runs a request the way the adapter does: decide, fetch what is needed, decide again.
    fn run(&mut self, req: &TestRequest, now_ms: u64) -> Decision {
        let (d, reads) = decide_reading(
            &self.policy,
            &mut self.cache,
            &self.store,
            req,
            now_ms,
            "r1",
        );
        self.reads += reads;
        d
    }
}

fn policy() -> Value {
    json!({
        "cache": {"ttl_seconds": 30, "negative_ttl_seconds": 5},
        "identity_headers": {"client_id": "x-edge-client-id", "app_name": "x-edge-app-name"},
        "apis": [
            {"name": "orders", "base_path": "/orders", "origin": "http://origin/o",
             "interceptors": [{"type": "client_id"}],
             "resources": [
                {"name": "list", "path": "/", "methods": ["GET"]},
                {"name": "one", "path": "/{id}", "methods": ["GET", "DELETE"],
                 "interceptors": [{"type": "access_token", "hide_credential": true}]}
             ]},
            {"name": "open", "base_path": "/open", "origin": "http://origin"}
        ]
    })
}

fn gateway() -> Gateway {
    let mut g = Gateway::new(policy());
    g.put(
        "app:a",
        json!({"name": "App A", "status": "APPROVED", "access": [{"api": "orders"}]}),
    )
    .put(
        "app:b",
        json!({"name": "App B", "status": "APPROVED", "access": [{"api": "orders"}]}),
    )
    .put(&token_key("tok-a").unwrap(), json!({"client_id": "a"}))
    .put(&token_key("tok-b").unwrap(), json!({"client_id": "b"}));
    g
}

fn reply(d: &Decision) -> (u16, &str) {
    match &d.answer {
        Answer::Reply(r) => (r.status, &r.body),
        Answer::Forward(_) => (200, "forwarded"),
    }
}

#[test]
fn api_interceptors_run_before_resource_interceptors() {
    let mut g = gateway();
    let r = TestRequest::new("GET", "https://gw/orders/7?x=1")
        .with_header("client_id", "a")
        .with_header("access_token", "tok-a")
        .with_header("x-edge-client-id", "forged");
    let d = g.run(&r, NOW_MS);
    assert_eq!(d.outcome, Outcome::Pass);
    let kinds: Vec<_> = d.trace.entries.iter().map(|e| e.interceptor).collect();
    assert_eq!(kinds, ["client_id", "access_token", "request"]);
    let Answer::Forward(plan) = d.answer else {
        panic!()
    };
    assert_eq!(plan.url, "http://origin/o/7?x=1");
    assert!(always_removed(&g.policy.identity).contains(&"x-edge-client-id".to_string()));
    assert!(plan.remove.contains(&"access_token".to_string()));
    assert!(plan.set.contains(&("x-edge-client-id".into(), "a".into())));
    assert!(plan
        .set
        .contains(&("x-edge-app-name".into(), "App A".into())));
    assert_eq!(d.trace.resource.as_deref(), Some("one"));
}

#[test]
fn a_token_of_another_app_than_the_client_id_is_refused() {
    let mut g = gateway();
    let r = TestRequest::new("GET", "https://gw/orders/7")
        .with_header("client_id", "a")
        .with_header("access_token", "tok-b");
    let d = g.run(&r, NOW_MS);
    assert_eq!(
        reply(&d),
        (401, "Access Token in the request, identified by HEADER access_token, is invalid. Check docs.sensedia.com")
    );
    assert_eq!(d.trace.entries[1].cause, Some(Cause::WrongApp));
}

#[test]
fn unmatched_requests_are_never_let_through() {
    let mut g = gateway();
    let d = g.run(&TestRequest::new("GET", "https://gw/elsewhere"), NOW_MS);
    assert_eq!(reply(&d), (404, "Not Found"));
    assert_eq!(d.trace.entries[0].cause, Some(Cause::NoApi));
    let d = g.run(&TestRequest::new("GET", "https://gw/orders/7/x"), NOW_MS);
    assert_eq!(reply(&d), (404, "Not Found"));
    assert_eq!(d.trace.entries[0].cause, Some(Cause::NoResource));
    let d = g.run(&TestRequest::new("PUT", "https://gw/orders/7"), NOW_MS);
    assert_eq!(reply(&d), (405, "Method Not Allowed"));
    let Answer::Reply(r) = &d.answer else {
        panic!()
    };
    assert_eq!(r.allow.as_deref(), Some("DELETE, GET"));
    assert_eq!(g.reads, 0, "routing misses read nothing");
    // An API without interceptors forwards, still stripping forged identity headers.
    let r = TestRequest::new("GET", "https://gw/open/x").with_header("x-edge-client-id", "forged");
    let d = g.run(&r, NOW_MS);
    let Answer::Forward(plan) = d.answer else {
        panic!()
    };
    assert!(always_removed(&g.policy.identity).contains(&"x-edge-client-id".to_string()));
    assert!(plan.remove.is_empty());
    assert!(plan.set.is_empty());
}

#[test]
fn warm_requests_read_nothing_and_revocation_is_seen_after_the_ttl() {
    let mut g = gateway();
    let r = TestRequest::new("GET", "https://gw/orders/7")
        .with_header("client_id", "a")
        .with_header("access_token", "tok-a");
    assert_eq!(reply(&g.run(&r, NOW_MS)).0, 200);
    // app:a, then the token; the token's app is app:a again, already known: two reads.
    assert_eq!(g.reads, 2);
    // Warm path: no read at all.
    assert_eq!(reply(&g.run(&r, NOW_MS + 1_000)).0, 200);
    assert_eq!(g.reads, 2);
    // Revoke; within the cache TTL the old record still serves, after it the revocation holds.
    g.put(
        &token_key("tok-a").unwrap(),
        json!({"client_id": "a", "revoked": true}),
    );
    assert_eq!(reply(&g.run(&r, NOW_MS + 29_999)).0, 200);
    let d = g.run(&r, NOW_MS + 30_000);
    assert_eq!(reply(&d).0, 401);
    assert_eq!(d.trace.entries[1].cause, Some(Cause::Revoked));
}

#[test]
fn unknown_credentials_are_negatively_cached() {
    let mut g = gateway();
    let r = TestRequest::new("GET", "https://gw/orders/").with_header("client_id", "nobody");
    for i in 0..100 {
        assert_eq!(reply(&g.run(&r, NOW_MS + i)).0, 401);
    }
    assert_eq!(g.reads, 1);
    g.run(&r, NOW_MS + 5_000);
    assert_eq!(
        g.reads, 2,
        "negative entries expire after negative_ttl_seconds"
    );
}

#[test]
fn malformed_records_and_store_faults_fail_closed() {
    let mut g = gateway();
    g.store.insert("app:broken".into(), "{\"name\": 1".into());
    let r = TestRequest::new("GET", "https://gw/orders/").with_header("client_id", "broken");
    let d = g.run(&r, NOW_MS);
    assert_eq!(reply(&d), (500, "Internal Server Error"));
    assert_eq!(d.outcome, Outcome::Fault);
    assert!(d.trace.entries[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("app:broken"));

    // A store that cannot be read: 503, and nothing cached.
    let policy = compile(&policy()).unwrap();
    let cache = RecordCache::new(policy.cache);
    let mut fetched = HashMap::new();
    fetched.insert("app:a".to_string(), Slot::Unavailable("timeout".into()));
    let input = Input {
        req: &TestRequest::new("GET", "https://gw/orders/").with_header("client_id", "a"),
        now_ms: NOW_MS,
        request_id: "r",
    };
    let source = Layered {
        fetched: &fetched,
        cache: &cache,
        now_ms: NOW_MS,
    };
    let Step::Done(d) = decide(&policy, &input, &source) else {
        panic!()
    };
    assert_eq!(reply(&d), (503, "Service Unavailable"));
    assert_eq!(d.trace.entries[0].cause, Some(Cause::StoreUnavailable));

    // A store too slow to answer (the adapter's time limit fired): 503, its own cause.
    fetched.insert(
        "app:a".to_string(),
        Slot::TimedOut("KV read did not answer within 5000 ms".into()),
    );
    let source = Layered {
        fetched: &fetched,
        cache: &cache,
        now_ms: NOW_MS,
    };
    let Step::Done(d) = decide(&policy, &input, &source) else {
        panic!()
    };
    assert_eq!(reply(&d), (503, "Service Unavailable"));
    assert_eq!(d.trace.entries[0].cause, Some(Cause::StoreTimeout));
    assert!(d.trace.entries[0]
        .detail
        .as_deref()
        .unwrap()
        .contains("within 5000 ms"));
}

#[test]
fn each_api_has_its_origin_time_limit() {
    let mut p = policy();
    p["timeouts"] = json!({"origin_ms": 12_000, "kv_ms": 700, "nonce_store_ms": 900});
    p["apis"][0]["origin_timeout_ms"] = json!(2_500);
    p["apis"].as_array_mut().unwrap().push(json!({
        "name": "other", "base_path": "/other", "origin": "https://other.example"
    }));
    let policy = compile(&p).unwrap();
    assert_eq!(
        (policy.timeouts.kv_ms, policy.timeouts.nonce_store_ms),
        (700, 900)
    );
    let cache = RecordCache::new(policy.cache);
    let fetched = HashMap::new();
    let plan_for = |url: &str| {
        let req = TestRequest::new("GET", url);
        let input = Input {
            req: &req,
            now_ms: NOW_MS,
            request_id: "r",
        };
        let source = Layered {
            fetched: &fetched,
            cache: &cache,
            now_ms: NOW_MS,
        };
        match decide(&policy, &input, &source) {
            Step::Done(Decision {
                answer: Answer::Forward(plan),
                ..
            }) => plan.timeout_ms,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(
        plan_for("https://gw/other/x"),
        12_000,
        "the policy's default"
    );
    let own = policy.apis.iter().find(|a| &*a.name == "orders").unwrap();
    assert_eq!(own.origin_timeout_ms, 2_500, "the API's own limit");
    let mut g = Gateway::new(p.clone());
    g.put(
        "app:a",
        json!({"name": "A", "status": "APPROVED", "access": [{"api": "orders"}]}),
    );
    let r = TestRequest::new("GET", "https://gw/orders/").with_header("client_id", "a");
    match g.run(&r, NOW_MS).answer {
        Answer::Forward(plan) => assert_eq!(plan.timeout_ms, 2_500),
        other => panic!("{other:?}"),
    }
    // Bounds: every problem listed.
    p["timeouts"] = json!({"origin_ms": 0, "kv_ms": 60_001, "nonce_store_ms": -1});
    p["apis"][0]["origin_timeout_ms"] = json!(600_001);
    let all = compile(&p).unwrap_err().to_string();
    for want in [
        "policy.timeouts.origin_ms: 0 is out of range; must be between 1 and 600000",
        "policy.timeouts.kv_ms: 60001 is out of range; must be between 1 and 60000",
        "policy.timeouts.nonce_store_ms: expected a whole number of at least 0",
        ".origin_timeout_ms: 600001 is out of range; must be between 1 and 600000",
    ] {
        assert!(all.contains(want), "missing {want:?} in:\n{all}");
    }
}

#[test]
fn the_body_time_limit_is_a_policy_setting() {
    assert_eq!(
        compile(&policy()).unwrap().timeouts.body_ms,
        30_000,
        "the default"
    );
    let mut p = policy();
    p["timeouts"] = json!({"body_ms": 2_000});
    assert_eq!(compile(&p).unwrap().timeouts.body_ms, 2_000);
    p["timeouts"] = json!({"body_ms": 600_001});
    let e = compile(&p).unwrap_err().to_string();
    assert!(
        e.contains("policy.timeouts.body_ms: 600001 is out of range; must be between 1 and 600000"),
        "{e}"
    );
}

#[test]
fn trace_json_has_no_raw_credential() {
    let mut g = gateway();
    for token in ["tok-a", "tok-unknown-secret"] {
        let r = TestRequest::new("GET", "https://gw/orders/7")
            .with_header("client_id", "a")
            .with_header("access_token", token);
        let json = g.run(&r, NOW_MS).trace.to_json();
        assert!(!json.contains(token), "{json}");
        assert!(json.contains("sha256:"), "{json}");
    }
}

#[test]
fn the_shipped_example_policy_compiles() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/wrangler.toml")).unwrap();
    // The policy lives in wrangler.toml under [vars.POLICY]; wrangler hands it to the Worker as
    // JSON. Check it the same way: TOML → JSON → compile.
    let doc: toml::Value = toml::from_str(&text).unwrap();
    let policy = serde_json::to_value(&doc["vars"]["POLICY"]).unwrap();
    let p = compile(&policy).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.apis.len(), 6);
    let servers: Vec<&str> = p.authz.iter().map(|s| &*s.base_path).collect();
    assert_eq!(servers, vec!["/oauth2", "/oauth"]);
}
