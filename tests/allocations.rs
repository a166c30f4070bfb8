//! Heap allocations on the warm path, counted: what the Worker's core does for one request whose
//! records are cached — decide, the forward's plan handed to the glue, the trace context and the
//! trace line. The profile of an OAuth pass (docs/performance.md, "Where the time goes") puts a
//! quarter of the wasm's time in the allocator (`malloc`, `free`, and the clones and drops that
//! call them); this counts what the code asks of it, which a benchmark cannot do without noise.
//!
//! The budgets are today's counts: a change that allocates more on the warm path fails here and
//! has to say why (raise the budget in the same commit), one that allocates less lowers it.
//! `cargo test --test allocations -- --nocapture` prints the counts. A test binary of its own:
//! the counting allocator is the global allocator of the whole binary.

mod common;

use base64::Engine;
use common::kv::decide_reading;
use edge_interceptors::base::request::TestRequest;
use edge_interceptors::gateway::pipeline::{decide, Answer, Decision, Input, Step};
use edge_interceptors::gateway::policy::{compile, Policy};
use edge_interceptors::records::cache::{Layered, RecordCache};
use edge_interceptors::records::token_key;
use edge_interceptors::trace::context::TraceContext;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;

/// The system allocator, counting the allocations (and reallocations) of the thread that asked
/// for counting; other test threads run uncounted.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator may be called while the thread's locals are torn down.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|c| c.set(c.get().saturating_add(1)));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn count<T>(f: impl FnOnce() -> T) -> (T, usize) {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|on| on.set(true));
    let out = f();
    COUNTING.with(|on| on.set(false));
    (out, COUNT.with(Cell::get))
}

const NOW_MS: u64 = 1_800_000_000_000;
const TOKEN: &str = "bench-token-0123456789abcdef";
const SECRET: &str = "bench-secret";

/// The benchmark's OAuth case (bench/cases.mjs): 15 APIs, the measured one last, an app with
/// extra info and 15 grants, a token without.
fn policy(interceptors: Value, sample: f64) -> Policy {
    let mut apis: Vec<Value> = (1..15)
        .map(|i| {
            json!({"name": format!("filler-{i}"), "base_path": format!("/filler-{i}"),
                   "origin": format!("http://origin/filler-{i}"),
                   "interceptors": [{"type": "client_id"}]})
        })
        .collect();
    apis.push(json!({"name": "orders", "base_path": "/orders",
                     "origin": "http://origin/orders-backend", "interceptors": interceptors}));
    compile(&json!({"trace": {"sample_passing": sample}, "apis": apis})).unwrap()
}

fn records() -> HashMap<String, String> {
    let mut access = vec![json!({"api": "orders"})];
    access.extend((1..15).map(|i| json!({"api": format!("filler-{i}")})));
    let secret = Sha256::digest(SECRET.as_bytes());
    let app = json!({"name": "Bench", "status": "APPROVED", "revoked": false, "access": access,
                     "client_secret_sha256": hex::encode(secret), "extra_info": {"tier": "gold"}});
    let token = json!({"client_id": "bench-client", "revoked": false});
    HashMap::from([
        ("app:bench-client".to_string(), app.to_string()),
        (token_key(TOKEN).unwrap(), token.to_string()),
    ])
}

/// Decides `req` until done, filling `cache` from `store` (the cold path, not counted).
fn warm(
    policy: &Policy,
    cache: &mut RecordCache,
    store: &HashMap<String, String>,
    req: &TestRequest,
) {
    decide_reading(policy, cache, store, req, NOW_MS, "");
}

/// What the Worker's core does for one warm request (src/worker/adapter.rs, `fetch` and
/// `respond`): decide from the cache, make the trace context, hand the plan to the glue and,
/// when `traced`, write the trace line.
fn one_request(policy: &Policy, cache: &RecordCache, req: &TestRequest, traced: bool) -> u16 {
    let tc = TraceContext::from_header(None, [7; 24]);
    let empty = HashMap::new();
    let source = Layered {
        fetched: &empty,
        cache,
        now_ms: NOW_MS,
    };
    let input = Input {
        req,
        now_ms: NOW_MS,
        request_id: "",
    };
    let Step::Done(Decision {
        answer, mut trace, ..
    }) = decide(policy, &input, &source)
    else {
        panic!("a warm request needs nothing")
    };
    let traceparent = tc.header();
    trace.trace_id = Some(tc.trace_id);
    trace.span_id = Some(tc.span_id);
    let status = match answer {
        Answer::Forward(plan) => {
            std::hint::black_box(plan.glue_text(&traceparent));
            200
        }
        Answer::Reply(r) => r.status,
    };
    if traced {
        std::hint::black_box(trace.to_json());
    }
    status
}

/// The allocations of a warm request of each case, after a first request filled the cache.
fn measure(interceptors: Value, req: TestRequest, traced: bool) -> (u16, usize) {
    let policy = policy(interceptors, if traced { 1.0 } else { 0.0 });
    let mut cache = RecordCache::new(policy.cache);
    warm(&policy, &mut cache, &records(), &req);
    // Twice: the first warm request may still fill lazily made parts of a record.
    let _ = one_request(&policy, &cache, &req, traced);
    count(|| one_request(&policy, &cache, &req, traced))
}

fn oauth_request(token: &str) -> TestRequest {
    TestRequest::new("GET", "https://gw.example/orders/list?x=1")
        .with_header("client_id", "bench-client")
        .with_header("access_token", token)
}

fn request(name: &str, value: &str) -> TestRequest {
    TestRequest::new("GET", "https://gw.example/orders/list?x=1").with_header(name, value)
}

#[test]
fn warm_requests_allocate_within_budget() {
    let oauth = || json!([{"type": "oauth"}]);
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("bench-client:{SECRET}"))
    );
    let cases = [
        (
            "OAuth pass, traced",
            measure(oauth(), oauth_request(TOKEN), true),
            200,
            30,
        ),
        (
            "OAuth pass, untraced",
            measure(oauth(), oauth_request(TOKEN), false),
            200,
            25,
        ),
        (
            "OAuth deny, unknown token",
            measure(oauth(), oauth_request("nope"), true),
            401,
            18,
        ),
        (
            "Access Token pass, traced",
            measure(
                json!([{"type": "access_token"}]),
                request("access_token", TOKEN),
                true,
            ),
            200,
            29,
        ),
        (
            "Basic (Client ID Secret Encoded) pass, traced",
            measure(
                json!([{"type": "client_id_secret_encoded"}]),
                request("authorization", &basic),
                true,
            ),
            200,
            34,
        ),
    ];
    let mut over = Vec::new();
    for (name, (status, n), want, budget) in cases {
        println!("{name}: {n} allocations (budget {budget})");
        assert_eq!(status, want, "{name}");
        if n > budget {
            over.push(format!("{name}: {n} > {budget}"));
        }
    }
    assert!(over.is_empty(), "over budget: {over:?}");
}
