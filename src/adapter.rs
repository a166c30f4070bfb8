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
use js_sys::{Date, Function, Math, Promise, Reflect, JSON};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Headers, Request, RequestInit, RequestRedirect, Response, ResponseInit};

const KV_BINDING: &str = "RECORDS";
const POLICY_BINDING: &str = "POLICY";
/// Rounds of KV reads one request may take (OAuth: 1; Access Token: token, then its app).
const MAX_ROUNDS: usize = 4;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &RequestInit) -> Promise;

    /// A promise seen as something with `then(onFulfilled, onRejected)` taking plain functions.
    type Thenable;
    #[wasm_bindgen(method, js_name = then)]
    fn then2(this: &Thenable, ok: &Function, err: &Function) -> Promise;
}

/// Settling a forwarded request: two closures made once per isolate and bound per request to
/// the request's slot in `IN_FLIGHT` (a per-request closure would leak when never called).
struct Settle {
    ok: Closure<dyn FnMut(u32, JsValue) -> JsValue>,
    err: Closure<dyn FnMut(u32, JsValue) -> JsValue>,
}

/// Per-isolate state: the compiled policy (or why it did not compile) and the record cache.
struct State {
    policy: Result<Rc<Policy>, Rc<str>>,
    cache: RecordCache,
    counter: u64,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
    /// Traces of forwarded requests awaiting the origin, by slot number.
    /// With each: whether a pass is to be written (sampling); a fault always is.
    static IN_FLIGHT: RefCell<HashMap<u32, (Trace, bool)>> = RefCell::new(HashMap::new());
    static NEXT_SLOT: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    static SETTLE: Settle = Settle {
        ok: Closure::new(|slot: u32, response: JsValue| {
            if let Some((mut trace, true)) = IN_FLIGHT.with(|m| m.borrow_mut().remove(&slot)) {
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
            if let Some((mut trace, _)) = IN_FLIGHT.with(|m| m.borrow_mut().remove(&slot)) {
                trace.entries.push(entry);
                write_trace(&trace.to_json());
            }
            reply(&r).into()
        }),
    };
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
            if let Err(e) = &policy {
                web_sys::console::error_1(&JsValue::from_str(e));
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
        Answer::Forward(plan) => match forward(view, &plan) {
            Ok(p) => {
                let slot = NEXT_SLOT.with(|n| {
                    let v = n.get().wrapping_add(1);
                    n.set(v);
                    v
                });
                IN_FLIGHT.with(|m| m.borrow_mut().insert(slot, (trace, log)));
                let slot = JsValue::from(slot);
                SETTLE.with(|s| {
                    let ok: Function =
                        s.ok.as_ref()
                            .unchecked_ref::<Function>()
                            .bind1(&JsValue::NULL, &slot)
                            .unchecked_into();
                    let err: Function = s
                        .err
                        .as_ref()
                        .unchecked_ref::<Function>()
                        .bind1(&JsValue::NULL, &slot)
                        .unchecked_into();
                    p.unchecked_ref::<Thenable>().then2(&ok, &err)
                })
            }
            Err(e) => {
                web_sys::console::error_2(
                    &JsValue::from_str("edge-interceptors: cannot forward"),
                    &e,
                );
                Promise::resolve(&JsValue::from(reply(&Reply::plain(500))))
            }
        },
    }
}

fn forward(view: &JsRequest, plan: &crate::forward::ForwardPlan) -> Result<Promise, JsValue> {
    let headers = Headers::new_with_headers(&view.headers)?;
    for name in &plan.remove {
        headers.delete(name)?;
    }
    for (name, value) in &plan.set {
        headers.set(name, value)?;
    }
    let init = RequestInit::new();
    init.set_method(&view.method);
    init.set_headers(&headers);
    init.set_redirect(RequestRedirect::Manual);
    if view.method != "GET" && view.method != "HEAD" {
        if let Some(body) = view.req.body() {
            init.set_body(&body);
        }
    }
    Ok(global_fetch(&plan.url, &init))
}

fn reply(r: &Reply) -> Response {
    let headers = Headers::new().expect("Headers");
    let _ = headers.set("content-type", r.content_type);
    if let Some(allow) = &r.allow {
        let _ = headers.set("allow", allow);
    }
    let init = ResponseInit::new();
    init.set_status(r.status);
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(Some(&r.body), &init).expect("Response")
}

fn write_trace(json: &str) {
    web_sys::console::log_1(&JsValue::from_str(json));
}
