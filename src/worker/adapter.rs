//! The Worker adapter: the only code that touches the Workers runtime.
//!
//! `fetch` is a plain synchronous `#[wasm_bindgen]` export (the entry module,
//! `src/worker/entry.js`, calls it with the request, env and ctx). On the warm path every record is in the per-isolate cache, the
//! core decides synchronously, and the runtime's own `fetch` promise (or the reply) is returned:
//! no executor, no future. Only when something is missing (a record, a key set, a signature
//! verdict) does the request wait: everything a round needs is started at once and one
//! per-isolate closure resumes it (`wait` / `resume`), fills the caches and asks the core again.

use crate::base::request::RequestView;
use crate::crypto::jobs::Settled;
use crate::gateway::pipeline::{self, Answer, Decision, Input, Reply, Step};
use crate::gateway::policy::{self, Policy, Timeouts};
use crate::interceptors::jwt::verify::WithJwt;
use crate::interceptors::{Need, WithSettled};
use crate::records::cache::{Layered, RecordCache, Slot};
use crate::trace::context::{IdGen, TraceContext};
use crate::trace::{Outcome, Trace};
use crate::worker::env::{js_error, json_var, timed_out};
use crate::worker::shipper::{self, Emit, Known};
use js_sys::{Date, Math, Promise, Reflect};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Request, Response};

const KV_BINDING: &str = "RECORDS";
const POLICY_BINDING: &str = "POLICY";
/// The nonce store's Durable Object namespace (RFC 9421 replay protection).
const NONCE_BINDING: &str = "NONCES";
/// Rounds of KV reads one request may take (OAuth: 1; Access Token: token, then its app).
/// JWT: the issuer's keys (KV and/or JWKS), a JWKS refetch for an unknown kid, the signature
/// (with the token's jti and app records), and what later interceptors read.
const MAX_ROUNDS: usize = 8;

/// JWKS fetches and WebCrypto verifications, and the per-isolate JWT caches.
mod jwt;

#[wasm_bindgen(module = "/src/worker/glue.js")]
extern "C" {
    /// Once per wasm instance: header names removed from every forwarded request, and the
    /// callback through which losses of a trapped instance are reported.
    #[wasm_bindgen(js_name = init)]
    fn glue_init(always_remove: &str, report_loss: &JsValue);
    /// The header names [`glue_head`] reads from every request, "\n"-separated.
    #[wasm_bindgen(js_name = setHeadNames)]
    fn glue_set_head_names(names: &str);
    /// Method, URL, the head names' values and (`with_colo`) `cf.colo` of a request, in one
    /// call (format: [`crate::base::request::Head`]); `None` if a value held a newline.
    #[wasm_bindgen(js_name = head)]
    fn glue_head(req: &Request, with_colo: bool) -> Option<String>;
    /// `fetch(url, { method, headers, body })` with the header changes applied, in one call,
    /// with a time limit on the origin's response headers. `plan`: the URL, the names to
    /// remove, the headers to set and the response's headers as one string
    /// ([`crate::gateway::forward::ForwardPlan::glue_text`]).
    #[wasm_bindgen(js_name = forward)]
    fn glue_forward(
        req: &Request,
        plan: &str,
        on_error: &JsValue,
        slot: u32,
        on_ok: &JsValue,
        body: Option<js_sys::Uint8Array>,
        timeout_ms: f64,
        trace_entries: u32,
    ) -> Promise;
    #[wasm_bindgen(js_name = readBody)]
    fn glue_read_body(req: &Request, max: f64, ms: f64) -> Promise;
    /// Claims a nonce in the nonce store's instance `nonce-<shard>`: resolves to true when it
    /// was fresh, false when replayed; rejects (a `TimeoutError` past `ms`) when it cannot.
    #[wasm_bindgen(js_name = claimNonce)]
    fn glue_claim_nonce(ns: &JsValue, shard: u32, claim: &str, ms: f64) -> Promise;
    /// `kv.get(key)`, shared by concurrent reads of one key, with a time limit.
    #[wasm_bindgen(js_name = kvGet)]
    fn glue_kv_get(kv: &JsValue, key: &str, ms: f64) -> Promise;
    /// `resume(slot, results)` once every promise has settled (a 503 if the instance is gone).
    #[wasm_bindgen(js_name = whenSettled)]
    fn glue_when_settled(promises: &js_sys::Array, resume: &JsValue, slot: u32) -> Promise;
    /// `new Response(body, { status, headers: { content-type, allow? } })`.
    #[wasm_bindgen(js_name = reply)]
    fn glue_reply(status: u16, content_type: &str, body: &str, allow: Option<String>) -> Response;
}

/// Settling a forwarded request: closures made once per isolate (a closure per request would
/// leak when never called), called with the request's slot in `IN_FLIGHT`.
struct Settle {
    ok: Closure<dyn FnMut(u32, JsValue) -> JsValue>,
    err: Closure<dyn FnMut(u32, JsValue) -> JsValue>,
}

/// Traces of forwarded requests awaiting the origin, in a ring indexed by slot: nothing to
/// remove on success, and a ring this size outlives any plausible number of requests in flight
/// in one isolate (an overwritten slot loses only the interceptor entries of a fault's trace).
const RING: usize = 1024;

struct InFlight {
    slot: u32,
    trace: Trace,
    emit: Emit,
    /// What the trace needs of the request that was read already.
    known: Known,
    start_ms: u64,
}
/// Per-isolate state: the compiled policy (or why it did not compile) and the record cache.
struct State {
    policy: Result<Rc<Policy>, Rc<str>>,
    cache: RecordCache,
    ids: IdGen,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
    static IN_FLIGHT: RefCell<Vec<Option<InFlight>>> = RefCell::new((0..RING).map(|_| None).collect());
    /// Slots start at a random number in each wasm instance, so that a request forwarded by an
    /// instance that trapped since never finds a slot of the new one.
    static NEXT_SLOT: std::cell::Cell<u32> = std::cell::Cell::new(random_u32());
    // Both return `undefined` when the request is not known here (its ring slot was reused,
    // or it was forwarded by an instance that trapped since): the glue then hands the origin's
    // answer back itself (or a plain 502/504) and counts the lost trace.
    static SETTLE: Settle = Settle {
        // Told the origin's status (not handed its response: no object crosses), returns true.
        ok: Closure::new(|slot: u32, status: JsValue| {
            let Some(f) = take_in_flight(slot) else {
                return JsValue::UNDEFINED;
            };
            let mut trace = f.trace;
            let status = status.as_f64().map_or(0, |s| s as u16);
            trace.origin_latency_ms = Some((Date::now() as u64).saturating_sub(f.start_ms));
            if let Some(summary) = trace.entries.last_mut() {
                summary.origin_status = Some(status);
            }
            shipper::emit_known(trace, &f.emit, f.known);
            JsValue::TRUE
        }),
        err: Closure::new(|slot: u32, err: JsValue| {
            let Some(f) = take_in_flight(slot) else {
                return JsValue::UNDEFINED;
            };
            let detail = err
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .unwrap_or_else(|| "fetch failed".into());
            let (entry, r) = if timed_out(&err) {
                pipeline::origin_timeout(detail)
            } else {
                pipeline::origin_unreachable(detail)
            };
            let mut trace = f.trace;
            trace.origin_latency_ms = Some((Date::now() as u64).saturating_sub(f.start_ms));
            trace.entries.push(entry);
            shipper::emit_known(trace, &f.emit, f.known);
            reply(&r).into()
        }),
    };
    /// Losses of a trapped instance, reported by the glue to the live one (see glue.js).
    static REPORT_LOSS: Closure<dyn FnMut(String) -> bool> =
        Closure::new(|counts: String| shipper::report_recovery(&counts));
}

fn take_in_flight(slot: u32) -> Option<InFlight> {
    IN_FLIGHT.with(|ring| {
        let mut ring = ring.borrow_mut();
        let cell = ring.get_mut(slot as usize % RING)?;
        match cell {
            Some(f) if f.slot == slot => cell.take(),
            _ => None,
        }
    })
}

fn random_u32() -> u32 {
    (Math::random() * 4_294_967_296.0) as u32
}

/// A panic on purpose, for the end-to-end test of what a trap does to the requests around it.
/// Only in builds with the `trap-trigger` feature (`scripts/build-test.sh`); the deployable
/// bundle is checked not to contain it (tests/e2e/trap.test.mjs).
#[cfg(feature = "trap-trigger")]
fn trap_trigger(view: &JsRequest) {
    if view.header("x-edge-test-trap").is_some() {
        panic!("trap-trigger: the test asked for a trap");
    }
}

/// The size of this instance's wasm linear memory (bytes), answered to a request carrying
/// `x-edge-test-memory`: soak tests watch it over time. Only in builds with the
/// `memory-probe` feature (`scripts/build-test.sh`); checked absent from the deployable bundle.
#[cfg(feature = "memory-probe")]
fn memory_probe(view: &JsRequest) -> Option<Promise> {
    view.header("x-edge-test-memory")?;
    let bytes = (core::arch::wasm32::memory_size(0) as u64).saturating_mul(65_536);
    let r = glue_reply(200, "text/plain; charset=utf-8", &bytes.to_string(), None);
    Some(Promise::resolve(&JsValue::from(r)))
}

/// The policy and the trace shipping settings; any problem in either fails every request.
fn load_config(env: &JsValue) -> Result<Rc<Policy>, Rc<str>> {
    let policy = match json_var(env, POLICY_BINDING) {
        Some(text) => policy::compile_str(&text).map_err(|e| e.to_string()),
        None => Err(format!("the {POLICY_BINDING} variable is not set")),
    };
    // CSRF / Time Tokens: the TOKEN_SECRET keys, handed to the core once per isolate.
    let policy = policy.and_then(|mut p| {
        let secret = |name: &str| {
            Reflect::get(env, &JsValue::from_str(name))
                .ok()?
                .as_string()
        };
        let (current, previous) = (
            secret(crate::crypto::gentoken::SECRET),
            secret(crate::crypto::gentoken::SECRET_PREVIOUS),
        );
        crate::gateway::policy::chains::attach_token_keys(
            &mut p,
            current.as_deref(),
            previous.as_deref(),
        )
        .map(|()| p)
        .map_err(|e| format!("invalid configuration: {e}"))
    });
    let logging = shipper::configure(env);
    match (policy, logging) {
        (Ok(p), Ok(())) => Ok(Rc::new(p)),
        (Err(a), Err(b)) => Err(format!("{a}\n{b}").into()),
        (Err(e), _) | (_, Err(e)) => Err(e.into()),
    }
}

/// Runs `f` with the isolate's state, compiling the policy on first use.
fn with_state<T>(env: &JsValue, f: impl FnOnce(&mut State) -> T) -> T {
    STATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let state = slot.get_or_insert_with(|| {
            // Keys for the caches' hashers, before any cache is made.
            let mut seed = [0u8; 16];
            let ok = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
                .ok()
                .map(|c| c.unchecked_into::<web_sys::Crypto>())
                .is_some_and(|c| c.get_random_values_with_u8_array(&mut seed).is_ok());
            if !ok {
                web_sys::console::error_1(&JsValue::from_str(
                    "edge-interceptors: crypto.getRandomValues failed; cache hash keys from Math.random",
                ));
                for b in &mut seed {
                    *b = (Math::random() * 256.0) as u8;
                }
            }
            let [a0, a1, a2, a3, a4, a5, a6, a7, b0, b1, b2, b3, b4, b5, b6, b7] = seed;
            crate::records::seeded::set_keys(
                u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]),
                u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]),
            );
            let policy = load_config(env);
            let settings = policy.as_ref().map(|p| p.cache).unwrap_or_default();
            let names = match &policy {
                Ok(p) => crate::gateway::forward::always_removed(&p.identity).join("\n"),
                Err(e) => {
                    web_sys::console::error_1(&JsValue::from_str(e));
                    String::new()
                }
            };
            REPORT_LOSS.with(|r| glue_init(&names, r.as_ref()));
            State {
                policy,
                cache: RecordCache::new(settings),
                ids: IdGen::new(
                    (Math::random() * 9_007_199_254_740_991.0) as u64
                        ^ (Date::now() as u64).rotate_left(32),
                ),
            }
        });
        f(state)
    })
}

/// At most this many header names are read from every request in one call (`HEAD_NAMES`).
const MAX_HEAD_NAMES: usize = 16;

thread_local! {
    /// The header names read from every request in one call ([`glue_head`]), learned by this
    /// instance: the names its requests asked for that were read one by one (the credential
    /// headers of the policy's interceptors, `traceparent`, `connection`, `cf-ray`, the
    /// signature headers...). A name is learned only from a request decided without a cold-path
    /// round or passed, and at most [`MAX_HEAD_NAMES`] (a client can at worst fill the list
    /// with the names an RFC 9421 signature covers: docs/choices.md); others are read on demand.
    static HEAD_NAMES: RefCell<Vec<Rc<str>>> = const { RefCell::new(Vec::new()) };
}

/// A header read: its name, its value, and whether it was read on demand (not with the head).
type Seen = (Rc<str>, Value, bool);

/// A header's value as this request knows it.
enum Value {
    Absent,
    /// Bytes `start..end` of the head's text.
    InHead(usize, usize),
    /// Read on demand.
    Read(String),
}

/// The runtime's request seen through [`RequestView`]: the headers this instance learned to
/// need are read with the method and URL in one call; any other is read on demand. The head's
/// text is kept whole: the method, the URL and the header values are ranges of it (one
/// allocation for all of them).
struct JsRequest {
    req: Request,
    /// The glue's `head` text (or, should that fail, "method\nurl").
    head: String,
    /// `head[..method_end]` is the method; `head[url]` the URL.
    method_end: usize,
    url: (usize, usize),
    /// Headers read so far (name, value, read on demand): a request asked again after a
    /// cold-path round reads each header (a JWT is hundreds of bytes) from JavaScript once.
    seen: RefCell<Vec<Seen>>,
    /// `request.cf.colo`, when read with the head.
    colo: Option<Option<String>>,
    /// The body as the glue read it, once an interceptor asked for it: forwarded as this same
    /// array (no copy out of wasm memory), and handed to WebCrypto for signatures over it.
    body_js: std::cell::OnceCell<js_sys::Uint8Array>,
    /// Its bytes in wasm memory, copied from `body_js` the first time the core reads them
    /// (HMAC, digests); a body only WebCrypto verifies is never copied in.
    body: std::cell::OnceCell<Vec<u8>>,
}

/// Where `part` (a slice of `text`) lies in `text`.
fn range_in(text: &str, part: &str) -> Option<(usize, usize)> {
    let start = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= text.len()).then_some((start, end))
}

impl JsRequest {
    /// Reads the request's method, URL and known headers (and the colo when `with_colo`) in
    /// one call; should that fail, the method and URL, and the headers on demand.
    fn new(req: Request, with_colo: bool) -> JsRequest {
        if let Some(text) = glue_head(&req, with_colo) {
            let parsed = HEAD_NAMES.with(|names| {
                let names = names.borrow();
                let head = crate::base::request::Head::parse(&text, names.len(), with_colo)?;
                let url = range_in(&text, head.url)?;
                let mut seen = Vec::with_capacity(names.len().saturating_add(2));
                for (n, v) in names.iter().zip(&head.values) {
                    let v = match v {
                        None => Value::Absent,
                        Some(v) => {
                            let (a, b) = range_in(&text, v)?;
                            Value::InHead(a, b)
                        }
                    };
                    seen.push((n.clone(), v, false));
                }
                let colo = head.colo.map(|c| c.map(str::to_string));
                Some((head.method.len(), url, seen, colo))
            });
            if let Some((method_end, url, seen, colo)) = parsed {
                return JsRequest {
                    head: text,
                    method_end,
                    url,
                    req,
                    seen: RefCell::new(seen),
                    colo,
                    body_js: std::cell::OnceCell::new(),
                    body: std::cell::OnceCell::new(),
                };
            }
        }
        let (method, url) = (req.method(), req.url());
        let head = [method.as_str(), "\n", url.as_str()].concat();
        JsRequest {
            method_end: method.len(),
            url: (method.len().saturating_add(1), head.len()),
            head,
            req,
            seen: RefCell::new(Vec::new()),
            colo: None,
            body_js: std::cell::OnceCell::new(),
            body: std::cell::OnceCell::new(),
        }
    }

    /// Adds the names this request read on demand to the names read with the head.
    fn teach(&self) {
        let seen = self.seen.borrow();
        if !seen.iter().any(|(_, _, lazy)| *lazy) {
            return;
        }
        HEAD_NAMES.with(|cell| {
            let mut names = cell.borrow_mut();
            let before = names.len();
            for (n, _, lazy) in seen.iter() {
                if *lazy && names.len() < MAX_HEAD_NAMES && !names.contains(n) {
                    names.push(n.clone());
                }
            }
            if names.len() != before {
                let joined: Vec<&str> = names.iter().map(|n| &**n).collect();
                glue_set_head_names(&joined.join("\n"));
            }
        });
    }

    /// What the trace needs of the request: `cf-ray` (the request id) and the colo.
    fn known(&self) -> Known {
        Known {
            cf_ray: Some(self.header("cf-ray")),
            colo: self.colo.clone(),
        }
    }
}

impl RequestView for JsRequest {
    fn method(&self) -> &str {
        self.head.get(..self.method_end).unwrap_or_default()
    }
    fn url(&self) -> &str {
        self.head.get(self.url.0..self.url.1).unwrap_or_default()
    }
    fn header(&self, name: &str) -> Option<String> {
        if let Some((_, v, _)) = self.seen.borrow().iter().find(|(n, _, _)| &**n == name) {
            return match v {
                Value::Absent => None,
                Value::InHead(a, b) => self.head.get(*a..*b).map(str::to_string),
                Value::Read(v) => Some(v.clone()),
            };
        }
        let v = self.req.headers().get(name).ok().flatten();
        let kept = match &v {
            Some(v) => Value::Read(v.clone()),
            None => Value::Absent,
        };
        self.seen.borrow_mut().push((Rc::from(name), kept, true));
        v
    }
    fn body(&self) -> Option<&[u8]> {
        let js = self.body_js.get()?;
        Some(self.body.get_or_init(|| js.to_vec()).as_slice())
    }
}

#[wasm_bindgen]
pub fn fetch(req: Request, env: JsValue, ctx: JsValue) -> Promise {
    let now_ms = Date::now() as u64;
    // The authorization servers (if any), and whether passes are always traced (then the
    // colo is read with the head: nearly every request writes it).
    let (authz, with_colo) = with_state(&env, |s| match &s.policy {
        Ok(p) => (
            (!p.authz.is_empty()).then(|| p.clone()),
            p.sample_passing >= 1.0,
        ),
        Err(_) => (None, false),
    });
    let view = JsRequest::new(req, with_colo);
    #[cfg(feature = "trap-trigger")]
    trap_trigger(&view);
    #[cfg(feature = "memory-probe")]
    if let Some(p) = memory_probe(&view) {
        return p;
    }
    // The authorization servers' endpoints come before any API (docs/authorization-server.md).
    if let Some(p) = authz.and_then(|p| {
        super::authz::serve(&view.req, view.url(), view.method(), p, &env, &ctx, now_ms)
    }) {
        return p;
    }
    let incoming = view.header("traceparent");
    let (tc, step, sample, timeouts) = with_state(&env, |state| {
        let tc = TraceContext::from_header(incoming.as_deref(), state.ids.bytes24());
        // The request id is filled in only when the trace is written (it costs a header read).
        let input = Input {
            req: &view,
            now_ms,
            request_id: "",
        };
        let policy = match &state.policy {
            Ok(p) => p.clone(),
            Err(e) => {
                let e = e.clone();
                let step = Step::Done(pipeline::bad_policy(&input, &e));
                return (tc, step, 1.0, Timeouts::default());
            }
        };
        let empty = HashMap::new();
        let records = Layered {
            fetched: &empty,
            cache: &state.cache,
            now_ms,
        };
        let none = HashMap::new();
        let step = jwt::with_caches(state.cache.settings().max_entries, |caches| {
            let source = WithSettled {
                inner: WithJwt {
                    records,
                    jwt: caches,
                    now_ms,
                },
                settled: &none,
            };
            pipeline::decide(&policy, &input, &source)
        });
        (tc, step, policy.sample_passing, policy.timeouts)
    });
    match step {
        Step::Done(decision) => respond(decision, &view, sample, tc, ctx, now_ms, true),
        Step::Need(needs) => {
            let w = Waiting {
                view,
                env,
                ctx,
                tc,
                sample,
                now_ms,
                timeouts,
                fetched: HashMap::new(),
                settled: HashMap::new(),
                asked: Vec::new(),
                rounds: 0,
            };
            wait(w, needs)
        }
    }
}

/// A request waiting for what the core needs (KV records, a JWKS, signature verifications).
struct Waiting {
    view: JsRequest,
    env: JsValue,
    ctx: JsValue,
    tc: TraceContext,
    sample: f64,
    now_ms: u64,
    /// The policy's time limits for KV and the nonce store.
    timeouts: Timeouts,
    /// What this request got so far (the cache may keep nothing, e.g. with a TTL of 0).
    fetched: HashMap<String, Slot>,
    /// What the runtime answered for this request's signatures and nonce claims.
    settled: HashMap<String, Settled>,
    /// What was asked in this round, in the order of the results.
    asked: Vec<Need>,
    rounds: usize,
}

thread_local! {
    static WAITING: RefCell<HashMap<u32, Waiting>> = RefCell::new(HashMap::new());
    /// Random start per wasm instance, as [`NEXT_SLOT`].
    static NEXT_WAITING: std::cell::Cell<u32> = std::cell::Cell::new(random_u32());
    /// Resuming a waiting request: one closure per isolate, called with the request's slot;
    /// `undefined` when the request is not known here (it waited in an instance that trapped
    /// since): the glue answers it 503 and counts it.
    static RESUME: Closure<dyn FnMut(u32, JsValue) -> JsValue> = Closure::new(|slot: u32, settled: JsValue| {
        resume(slot, settled).map_or(JsValue::UNDEFINED, JsValue::from)
    });
}

/// The cold path: starts getting everything the core needs for this round at once — KV reads,
/// JWKS fetches and WebCrypto verifications, one `Promise.allSettled` — and resumes the request
/// when all have settled. No Rust future and no executor: a per-isolate closure continues it,
/// as a JavaScript Worker would.
fn wait(mut w: Waiting, needs: Vec<Need>) -> Promise {
    if w.rounds == MAX_ROUNDS {
        // A pipeline that keeps asking is a bug; fail closed.
        web_sys::console::error_1(&JsValue::from_str(
            "edge-interceptors: too many rounds of needs",
        ));
        return Promise::resolve(&JsValue::from(reply(&Reply::plain(500))));
    }
    w.rounds += 1;
    let mut asked: Vec<Need> = Vec::with_capacity(needs.len());
    for need in needs {
        let repeated = match &need {
            Need::Kv(k) => asked.iter().any(|a| a.kv() == Some(k)),
            // One read of the body, up to the largest limit asked.
            Need::Body(max) => match asked.iter_mut().find(|a| matches!(a, Need::Body(_))) {
                Some(Need::Body(m)) => {
                    *m = (*m).max(*max);
                    true
                }
                _ => false,
            },
            _ => false,
        };
        if !repeated {
            asked.push(need);
        }
    }
    let kv = Reflect::get(&w.env, &JsValue::from_str(KV_BINDING)).unwrap_or(JsValue::UNDEFINED);
    let promises = js_sys::Array::new_with_length(asked.len() as u32);
    // The body: read in this round (signatures over it are verified as soon as it is), or
    // read before.
    let body: Option<JsValue> = match asked.iter().find_map(|n| match n {
        Need::Body(max) => Some(*max),
        _ => None,
    }) {
        Some(max) => {
            Some(glue_read_body(&w.view.req, max as f64, w.timeouts.body_ms as f64).into())
        }
        None if asked
            .iter()
            .any(|n| matches!(n, Need::Signature(job) if job.over_body)) =>
        {
            w.view.body_js.get().map(|b| b.clone().into())
        }
        None => None,
    };
    for (i, need) in asked.iter().enumerate() {
        let p = match need {
            Need::Kv(key) => glue_kv_get(&kv, key, w.timeouts.kv_ms as f64),
            Need::Body(_) => body.clone().map_or_else(
                || Promise::reject(&JsValue::from_str("no body read")),
                Promise::unchecked_from_js,
            ),
            Need::Signature(job) => jwt::verify_signature(job, body.as_ref()),
            Need::Nonce(claim) => glue_claim_nonce(
                &Reflect::get(&w.env, &JsValue::from_str(NONCE_BINDING))
                    .unwrap_or(JsValue::UNDEFINED),
                claim.shard,
                &claim.body(),
                w.timeouts.nonce_store_ms as f64,
            ),
            other => jwt::promise_for(other),
        };
        promises.set(i as u32, p.into());
    }
    w.asked = asked;
    let slot = NEXT_WAITING.with(|n| {
        let v = n.get().wrapping_add(1);
        n.set(v);
        v
    });
    WAITING.with(|m| m.borrow_mut().insert(slot, w));
    RESUME.with(|r| glue_when_settled(&promises, r.as_ref(), slot))
}

/// Records what a round got, asks the core again, and answers or waits for the next round;
/// `None` when no request waits under `slot` in this instance.
fn resume(slot: u32, settled: JsValue) -> Option<Promise> {
    let mut w = WAITING.with(|m| m.borrow_mut().remove(&slot))?;
    let settled: js_sys::Array = settled.unchecked_into();
    let (value_key, reason_key) = (JsValue::from_str("value"), JsValue::from_str("reason"));
    let mut slots: Vec<(String, Slot)> = Vec::new();
    let mut got: Vec<jwt::Got> = Vec::new();
    for (i, need) in std::mem::take(&mut w.asked).into_iter().enumerate() {
        let r = settled.get(i as u32);
        // Nothing asked resolves to undefined: a KV read gives text or null, a JWKS its text, a
        // verification true or false.
        let value = Reflect::get(&r, &value_key).unwrap_or(JsValue::UNDEFINED);
        let outcome = if value.is_undefined() {
            Err(Reflect::get(&r, &reason_key).unwrap_or(JsValue::UNDEFINED))
        } else {
            Ok(value)
        };
        match need {
            Need::Kv(key) => {
                let slot = match outcome {
                    Ok(v) => Slot::from_store(&key, v.as_string().as_deref()),
                    Err(e) if timed_out(&e) => Slot::TimedOut(js_error(e).into()),
                    Err(e) => Slot::Unavailable(js_error(e).into()),
                };
                slots.push((key, slot));
            }
            Need::Body(_) => match outcome {
                Ok(v) if v.is_null() => {
                    w.settled
                        .insert(crate::crypto::jobs::BODY_ID.into(), Settled::TooLarge);
                }
                Ok(v) => {
                    // The glue's `readBody` resolves to a Uint8Array; anything else is copied
                    // into one (`new Uint8Array(v)`), as before.
                    let bytes = match v.dyn_into::<js_sys::Uint8Array>() {
                        Ok(b) => b,
                        Err(v) => js_sys::Uint8Array::new(&v),
                    };
                    let _ = w.view.body_js.set(bytes);
                }
                Err(e) => {
                    let timeout = timed_out(&e);
                    let e = format!("reading the request body: {}", js_error(e)).into();
                    let settled = if timeout {
                        Settled::TimedOut(e)
                    } else {
                        Settled::Failed(e)
                    };
                    w.settled
                        .insert(crate::crypto::jobs::BODY_ID.into(), settled);
                }
            },
            Need::Signature(job) => {
                w.settled.insert(job.id.clone(), settled_from(outcome));
            }
            Need::Nonce(claim) => {
                w.settled.insert(claim.id.clone(), settled_from(outcome));
            }
            other => got.extend(jwt::got(other, outcome)),
        }
    }
    let now_ms = w.now_ms;
    let step = with_state(&w.env, |state| {
        for (key, slot) in slots {
            state.cache.insert(key.clone(), slot.clone(), now_ms);
            w.fetched.insert(key, slot);
        }
        let input = Input {
            req: &w.view,
            now_ms,
            request_id: "",
        };
        // A bad policy never needs anything; should one come here, it fails closed.
        let policy = match state.policy.clone() {
            Ok(p) => p,
            Err(e) => return Step::Done(pipeline::bad_policy(&input, &e)),
        };
        let records = Layered {
            fetched: &w.fetched,
            cache: &state.cache,
            now_ms,
        };
        jwt::with_caches(state.cache.settings().max_entries, |caches| {
            jwt::record(caches, got, now_ms);
            let source = WithSettled {
                inner: WithJwt {
                    records,
                    jwt: caches,
                    now_ms,
                },
                settled: &w.settled,
            };
            pipeline::decide(&policy, &input, &source)
        })
    });
    Some(match step {
        Step::Done(decision) => respond(decision, &w.view, w.sample, w.tc, w.ctx, now_ms, false),
        Step::Need(more) => wait(w, more),
    })
}

/// Turns a decision into the response promise; its trace is written now (replies) or when the
/// origin has answered (forwards). `first_round`: decided without waiting for anything.
fn respond(
    decision: Decision,
    view: &JsRequest,
    sample: f64,
    tc: TraceContext,
    ctx: JsValue,
    start_ms: u64,
    first_round: bool,
) -> Promise {
    let Decision {
        answer,
        mut trace,
        outcome,
    } = decision;
    let log =
        outcome != Outcome::Pass || (sample > 0.0 && (sample >= 1.0 || Math::random() < sample));
    // What a logged trace reads of the request (the origin's errors are always logged).
    // (An unlogged forward whose origin fails reads them then.)
    let known = if log { view.known() } else { Known::default() };
    if first_round || outcome == Outcome::Pass {
        view.teach();
    }
    let traceparent = tc.header();
    trace.trace_id = Some(tc.trace_id);
    trace.span_id = Some(tc.span_id);
    let emit = Emit {
        req: Clone::clone(&view.req),
        ctx,
    };
    match answer {
        Answer::Reply(r) => {
            if log {
                shipper::emit_known(trace, &emit, known);
            }
            Promise::resolve(&JsValue::from(reply(&r)))
        }
        Answer::Forward(plan) => {
            let slot = NEXT_SLOT.with(|n| {
                let v = n.get().wrapping_add(1);
                n.set(v);
                v
            });
            // What a trap before the origin answers would lose: this trace's entries.
            let trace_entries = if log { trace.entries.len() as u32 } else { 0 };
            IN_FLIGHT.with(|ring| {
                if let Some(cell) = ring.borrow_mut().get_mut(slot as usize % RING) {
                    *cell = Some(InFlight {
                        slot,
                        trace,
                        emit,
                        known,
                        start_ms,
                    });
                }
            });
            let plan_text = plan.glue_text(&traceparent);
            SETTLE.with(|s| {
                let on_ok = if log {
                    s.ok.as_ref().clone()
                } else {
                    JsValue::NULL
                };
                glue_forward(
                    &view.req,
                    &plan_text,
                    s.err.as_ref(),
                    slot,
                    &on_ok,
                    view.body_js.get().cloned(),
                    plan.timeout_ms as f64,
                    trace_entries,
                )
            })
        }
    }
}

/// A settled signature verification or nonce claim: true, false, or why there is no answer.
fn settled_from(outcome: Result<JsValue, JsValue>) -> Settled {
    match outcome {
        Ok(v) if v.as_bool() == Some(true) => Settled::Yes,
        Ok(v) if v.as_string().as_deref() == Some("late") => Settled::Late,
        Ok(_) => Settled::No,
        Err(e) if timed_out(&e) => Settled::TimedOut(js_error(e).into()),
        Err(e) => Settled::Failed(js_error(e).into()),
    }
}

fn reply(r: &Reply) -> Response {
    if let Some(challenge) = r.challenge {
        // Access Token Validation in Bearer mode: `WWW-Authenticate` (RFC 6750 §3).
        return super::authz::reply_with(
            r.status,
            &[
                ("content-type", r.content_type),
                ("www-authenticate", challenge),
            ],
            &r.body,
        );
    }
    glue_reply(r.status, r.content_type, &r.body, r.allow.clone())
}
