//! The Worker adapter: the only code that touches the Workers runtime.
//!
//! `fetch` is a plain synchronous `#[wasm_bindgen]` export (worker-build's shim calls it with
//! the request, env and ctx). On the warm path every record is in the per-isolate cache, the
//! core decides synchronously, and the runtime's own `fetch` promise (or the reply) is returned:
//! no executor, no future. Only when records are missing does the request go async, read KV,
//! fill the cache and ask the core again.

use crate::cache::{Layered, RecordCache, Slot};
use crate::pipeline::{self, Answer, Decision, Input, Reply, Step};
use crate::policy::{self, Policy};
use crate::request::RequestView;
use crate::trace::{Outcome, Trace};
use futures_util::future::join_all;
use js_sys::{Date, Math, Promise, Reflect, JSON};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Headers, Request, Response};

const KV_BINDING: &str = "RECORDS";
const POLICY_BINDING: &str = "POLICY";
/// Rounds of KV reads one request may take (OAuth: 1; Access Token: token, then its app).
const MAX_ROUNDS: usize = 4;

#[wasm_bindgen(module = "/js/glue.js")]
extern "C" {
    /// Header names removed from every forwarded request, once per isolate.
    #[wasm_bindgen(js_name = init)]
    fn glue_init(always_remove: &str);
    /// `fetch(url, { method, headers, body })` with the header changes applied, in one call.
    #[wasm_bindgen(js_name = forward)]
    fn glue_forward(
        req: &Request,
        url: &str,
        remove: &str,
        set: &str,
        on_error: &JsValue,
        slot: u32,
        on_ok: &JsValue,
    ) -> Promise;
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
}
/// Per-isolate state: the compiled policy (or why it did not compile) and the record cache.
struct State {
    policy: Result<Rc<Policy>, Rc<str>>,
    cache: RecordCache,
    counter: u64,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
    static IN_FLIGHT: RefCell<Vec<Option<InFlight>>> = RefCell::new((0..RING).map(|_| None).collect());
    static NEXT_SLOT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    static SETTLE: Settle = Settle {
        ok: Closure::new(|slot: u32, response: JsValue| {
            if let Some(mut trace) = take_in_flight(slot) {
                let status = response.unchecked_ref::<Response>().status();
                if let Some(summary) = trace.entries.last_mut() {
                    summary.origin_status = Some(status);
                }
                write_trace(&trace.to_json());
            }
            response
        }),
        err: Closure::new(|slot: u32, err: JsValue| {
            let detail = err
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .unwrap_or_else(|| "fetch failed".into());
            let (entry, r) = pipeline::origin_unreachable(detail);
            let mut trace = take_in_flight(slot).unwrap_or_else(|| Trace::new(Date::now() as u64, String::new(), "", ""));
            trace.entries.push(entry);
            write_trace(&trace.to_json());
            reply(&r).into()
        }),
    };
}

fn take_in_flight(slot: u32) -> Option<Trace> {
    IN_FLIGHT.with(|ring| {
        let mut ring = ring.borrow_mut();
        let cell = &mut ring[slot as usize % RING];
        match cell {
            Some(f) if f.slot == slot => cell.take().map(|f| f.trace),
            _ => None,
        }
    })
}

fn load_policy(env: &JsValue) -> Result<Rc<Policy>, Rc<str>> {
    let raw = Reflect::get(env, &JsValue::from_str(POLICY_BINDING)).unwrap_or(JsValue::UNDEFINED);
    let text = if let Some(s) = raw.as_string() {
        s
    } else if raw.is_object() {
        JSON::stringify(&raw)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default()
    } else {
        return Err(format!("the {POLICY_BINDING} variable is not set").into());
    };
    policy::compile_str(&text)
        .map(Rc::new)
        .map_err(|e| e.to_string().into())
}

/// Runs `f` with the isolate's state, compiling the policy on first use.
fn with_state<T>(env: &JsValue, f: impl FnOnce(&mut State) -> T) -> T {
    STATE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let state = slot.get_or_insert_with(|| {
            let policy = load_policy(env);
            let settings = policy.as_ref().map(|p| p.cache).unwrap_or_default();
            match &policy {
                Ok(p) => glue_init(&crate::forward::always_removed(&p.identity).join("\n")),
                Err(e) => web_sys::console::error_1(&JsValue::from_str(e)),
            }
            State {
                policy,
                cache: RecordCache::new(settings),
                counter: 0,
            }
        });
        f(state)
    })
}

/// The runtime's request seen through [`RequestView`]: headers are read one by one, on demand.
struct JsRequest {
    req: Request,
    headers: Headers,
    url: String,
    method: String,
}

impl RequestView for JsRequest {
    fn method(&self) -> &str {
        &self.method
    }
    fn url(&self) -> &str {
        &self.url
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }
}

#[wasm_bindgen]
pub fn fetch(req: Request, env: JsValue, _ctx: JsValue) -> Promise {
    let now_ms = Date::now() as u64;
    let view = JsRequest {
        headers: req.headers(),
        url: req.url(),
        method: req.method(),
        req,
    };
    let (request_id, step, sample) = with_state(&env, |state| {
        state.counter += 1;
        let request_id = view.header("cf-ray").unwrap_or_else(|| {
            format!(
                "{now_ms:x}-{:x}-{:04x}",
                state.counter,
                (Math::random() * 65536.0) as u32
            )
        });
        let input = Input {
            req: &view,
            now_ms,
            request_id: &request_id,
        };
        let policy = match &state.policy {
            Ok(p) => p.clone(),
            Err(e) => {
                let e = e.clone();
                return (
                    request_id.clone(),
                    Step::Done(pipeline::bad_policy(&input, &e)),
                    1.0,
                );
            }
        };
        let empty = HashMap::new();
        let source = Layered {
            fetched: &empty,
            cache: &state.cache,
            now_ms,
        };
        let step = pipeline::decide(&policy, &input, &source);
        (request_id, step, policy.sample_passing)
    });
    match step {
        Step::Done(decision) => respond(decision, &view, sample),
        Step::Need(keys) => wasm_bindgen_futures::future_to_promise(cold(
            view, env, keys, now_ms, request_id, sample,
        )),
    }
}

/// The path with KV reads: fetch what the core needs, cache it, decide again.
async fn cold(
    view: JsRequest,
    env: JsValue,
    mut keys: Vec<String>,
    now_ms: u64,
    request_id: String,
    sample: f64,
) -> Result<JsValue, JsValue> {
    let kv = env.clone().unchecked_into::<worker::Env>().kv(KV_BINDING);
    let mut fetched: HashMap<String, Slot> = HashMap::new();
    for _ in 0..MAX_ROUNDS {
        let slots: Vec<Slot> = match &kv {
            Ok(kv) => join_all(keys.iter().map(|k| kv.get(k).text()))
                .await
                .into_iter()
                .zip(&keys)
                .map(|(res, key)| match res {
                    Ok(text) => Slot::from_store(key, text.as_deref()),
                    Err(e) => Slot::Unavailable(e.to_string().into()),
                })
                .collect(),
            Err(e) => keys
                .iter()
                .map(|_| Slot::Unavailable(format!("KV binding {KV_BINDING}: {e}").into()))
                .collect(),
        };
        let step = with_state(&env, |state| {
            for (key, slot) in keys.iter().zip(slots) {
                state.cache.insert(key.clone(), slot.clone(), now_ms);
                fetched.insert(key.clone(), slot);
            }
            let Ok(policy) = state.policy.clone() else {
                unreachable!("a bad policy never needs records")
            };
            let input = Input {
                req: &view,
                now_ms,
                request_id: &request_id,
            };
            let source = Layered {
                fetched: &fetched,
                cache: &state.cache,
                now_ms,
            };
            pipeline::decide(&policy, &input, &source)
        });
        match step {
            Step::Done(decision) => {
                return wasm_bindgen_futures::JsFuture::from(respond(decision, &view, sample))
                    .await;
            }
            Step::Need(more) => keys = more,
        }
    }
    // A pipeline that keeps asking is a bug; fail closed.
    web_sys::console::error_1(&JsValue::from_str(
        "edge-interceptors: too many record rounds",
    ));
    Ok(reply(&Reply::plain(500)).into())
}

/// Turns a decision into the response promise, writing its trace.
fn respond(decision: Decision, view: &JsRequest, sample: f64) -> Promise {
    let Decision {
        answer,
        trace,
        outcome,
    } = decision;
    let log =
        outcome != Outcome::Pass || (sample > 0.0 && (sample >= 1.0 || Math::random() < sample));
    match answer {
        Answer::Reply(r) => {
            if log {
                write_trace(&trace.to_json());
            }
            Promise::resolve(&JsValue::from(reply(&r)))
        }
        Answer::Forward(plan) => {
            let slot = NEXT_SLOT.with(|n| {
                let v = n.get().wrapping_add(1);
                n.set(v);
                v
            });
            IN_FLIGHT.with(|ring| {
                ring.borrow_mut()[slot as usize % RING] = Some(InFlight { slot, trace })
            });
            let mut set = String::new();
            for (i, (name, value)) in plan.set.iter().enumerate() {
                if i > 0 {
                    set.push('\n');
                }
                set.push_str(name);
                set.push('\n');
                set.push_str(value);
            }
            SETTLE.with(|s| {
                let on_ok = if log {
                    s.ok.as_ref().clone()
                } else {
                    JsValue::NULL
                };
                glue_forward(
                    &view.req,
                    &plan.url,
                    &plan.remove.join("\n"),
                    &set,
                    s.err.as_ref(),
                    slot,
                    &on_ok,
                )
            })
        }
    }
}

fn reply(r: &Reply) -> Response {
    glue_reply(r.status, r.content_type, &r.body, r.allow.clone())
}

fn write_trace(json: &str) {
    web_sys::console::log_1(&JsValue::from_str(json));
}
