//! The authorization server's runtime side: routes a request to [`crate::authz::flow`] and gets
//! what it needs — the body, KV records, the grant store's answer, the resource-owner check —
//! each within a time limit, then writes the token records and answers. The endpoints are not
//! the validation hot path: they run as one future (`future_to_promise`), which keeps this
//! short.

use crate::authz::flow::{self, Body, Checked, Done, Input, Known, Need, Step};
use crate::authz::store::Answer;
use crate::authz::throttle::Throttle;
use crate::authz::tokens::{Random, RANDOM_BYTES};
use crate::authz::Endpoint;
use crate::base::request::{RequestView, Target};
use crate::gateway::policy::Policy;
use crate::records::cache::{Layered, RecordCache, Slot};
use crate::trace::context::TraceContext;
use crate::trace::{Outcome, Trace};
use crate::worker::env::{js_error, timed_out};
use crate::worker::shipper::{self, Emit};
use js_sys::{Array, Date, Math, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Request, Response};

const KV_BINDING: &str = "RECORDS";
/// The grant store's Durable Object namespace.
const GRANTS_BINDING: &str = "GRANTS";
/// Rounds of needs one request may take (body, app and token records, throttle, store or
/// check); more is a bug, answered with a 500.
const MAX_ROUNDS: usize = 8;

#[wasm_bindgen(module = "/src/worker/authz_glue.js")]
extern "C" {
    #[wasm_bindgen(js_name = readBody)]
    fn glue_read_body(req: &Request, max: f64, ms: f64) -> Promise;
    #[wasm_bindgen(js_name = kvGet)]
    fn glue_kv_get(ns: &JsValue, key: &str, ms: f64) -> Promise;
    #[wasm_bindgen(js_name = kvPut)]
    fn glue_kv_put(
        ns: &JsValue,
        key: &str,
        value: &str,
        expiration: f64,
        metadata: &str,
        ms: f64,
    ) -> Promise;
    #[wasm_bindgen(js_name = grantStore)]
    fn glue_grant_store(ns: &JsValue, name: &str, op: &str, ms: f64) -> Promise;
    #[wasm_bindgen(js_name = ownerCheck)]
    fn glue_owner_check(url: &str, bearer: &str, body: &str, ms: f64) -> Promise;
    #[wasm_bindgen(js_name = sleep)]
    fn glue_sleep(ms: f64) -> Promise;
    #[wasm_bindgen(js_name = replyWith)]
    fn glue_reply_with(status: u16, headers: &str, body: &str) -> Response;
}

thread_local! {
    /// App records for client authentication, per isolate (the policy's cache settings).
    static CACHE: RefCell<Option<RecordCache>> = const { RefCell::new(None) };
    static THROTTLE: RefCell<Throttle> = RefCell::new(Throttle::new());
}

/// A response with extra headers (used by the adapter for `WWW-Authenticate`).
pub fn reply_with(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    let mut h = String::new();
    for (n, v) in headers {
        if !h.is_empty() {
            h.push('\n');
        }
        h.push_str(n);
        h.push('\n');
        h.push_str(v);
    }
    glue_reply_with(status, &h, body)
}

/// The request seen through [`RequestView`]: headers read on demand.
struct View {
    req: Request,
    headers: web_sys::Headers,
    url: String,
    method: String,
}

impl RequestView for View {
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

/// Answers the request when its path is an authorization server's endpoint; `None` lets the
/// APIs have it.
pub fn serve(
    req: &Request,
    url: &str,
    method: &str,
    policy: Rc<Policy>,
    env: &JsValue,
    ctx: &JsValue,
    now_ms: u64,
) -> Option<Promise> {
    let (server, endpoint) = crate::authz::route(&policy.authz, Target::parse(url).path)?;
    let idx = policy.authz.iter().position(|s| std::ptr::eq(s, server))?;
    let view = View {
        headers: req.headers(),
        req: Clone::clone(req),
        url: url.to_string(),
        method: method.to_string(),
    };
    let (env, ctx) = (env.clone(), ctx.clone());
    Some(future_to_promise(async move {
        let r = run(&policy, idx, endpoint, &view, &env, ctx, now_ms).await;
        Ok(r.into())
    }))
}

fn random() -> Random {
    let mut bytes = [0u8; RANDOM_BYTES];
    let ok = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .ok()
        .map(|c| c.unchecked_into::<web_sys::Crypto>())
        .is_some_and(|c| c.get_random_values_with_u8_array(&mut bytes).is_ok());
    if !ok {
        // Never issue a token from a weak source: an all-zero draw is refused below.
        bytes = [0u8; RANDOM_BYTES];
    }
    Random(bytes)
}

async fn wait(p: Promise) -> Result<JsValue, String> {
    JsFuture::from(p).await.map_err(js_error)
}

async fn run(
    policy: &Policy,
    idx: usize,
    endpoint: Endpoint,
    view: &View,
    env: &JsValue,
    ctx: JsValue,
    now_ms: u64,
) -> Response {
    let server = &policy.authz[idx];
    let random = random();
    let path = Target::parse(&view.url).path.to_string();
    let kv = Reflect::get(env, &JsValue::from_str(KV_BINDING)).unwrap_or(JsValue::UNDEFINED);
    let timeout = server.store_timeout_ms as f64;
    let secret = |name: &str| {
        Reflect::get(env, &JsValue::from_str(name))
            .ok()?
            .as_string()
            .filter(|s| !s.is_empty())
    };
    let mut body: Option<Body> = None;
    let mut fetched: HashMap<String, Slot> = HashMap::new();
    let mut raw: HashMap<String, Result<Option<String>, String>> = HashMap::new();
    let mut store: Option<Result<Answer, String>> = None;
    let mut check: Option<Result<Checked, String>> = None;
    let mut throttled = false;
    if random.0.iter().all(|b| *b == 0) {
        web_sys::console::error_1(&JsValue::from_str(
            "edge-interceptors: crypto.getRandomValues failed; nothing issued",
        ));
        return reply_with(
            500,
            &[("content-type", "text/plain; charset=utf-8")],
            "Internal Server Error",
        );
    }
    for _ in 0..MAX_ROUNDS {
        let input = Input {
            req: view,
            now_ms,
            random: &random,
            secret: &secret,
        };
        let step = CACHE.with(|c| {
            let mut c = c.borrow_mut();
            let cache = c.get_or_insert_with(|| RecordCache::new(policy.cache));
            let records = Layered {
                fetched: &fetched,
                cache,
                now_ms,
            };
            let known = Known {
                body: body.as_ref(),
                records: &records,
                raw: &raw,
                store: store.as_ref(),
                check: check.as_ref(),
                throttled,
            };
            flow::serve(server, endpoint, &input, &known)
        });
        let needs = match step {
            Step::Done(done) => {
                return finish(
                    done,
                    server,
                    endpoint,
                    view,
                    &path,
                    env,
                    &kv,
                    ctx,
                    now_ms,
                    &random,
                    policy.sample_passing,
                )
                .await
            }
            Step::Need(needs) => needs,
        };
        // Start everything this round needs at once, then collect.
        let mut pending: Vec<(Need, Promise)> = Vec::new();
        for need in needs {
            let p = match &need {
                Need::Body(max) => glue_read_body(&view.req, *max as f64, timeout),
                Need::Kv(key) | Need::Raw(key) => glue_kv_get(&kv, key, timeout),
                Need::Throttle(client_id) => {
                    let delay = THROTTLE.with(|t| {
                        t.borrow().delay_ms(
                            client_id,
                            Date::now() as u64,
                            server.slow_after_failures,
                        )
                    });
                    if delay == 0 {
                        throttled = true;
                        continue;
                    }
                    glue_sleep(delay as f64)
                }
                Need::Store {
                    instance,
                    op,
                    timeout_ms,
                } => {
                    let ns = Reflect::get(env, &JsValue::from_str(GRANTS_BINDING))
                        .unwrap_or(JsValue::UNDEFINED);
                    glue_grant_store(&ns, instance, op, *timeout_ms as f64)
                }
                Need::Check {
                    url,
                    bearer,
                    body,
                    timeout_ms,
                } => glue_owner_check(url, bearer, body, *timeout_ms as f64),
            };
            pending.push((need, p));
        }
        for (need, p) in pending {
            let settled = JsFuture::from(p).await;
            // A KV read past its time limit is traced as such (`store_timeout`), not as a
            // store that failed; both answer 503.
            let kv_timed_out = settled.as_ref().err().is_some_and(timed_out);
            let got = settled.map_err(js_error);
            match need {
                Need::Body(_) => {
                    body = Some(match got {
                        Ok(v) if v.is_null() => Body::TooLarge,
                        Ok(v) => Body::Bytes(Uint8Array::new(&v).to_vec()),
                        Err(e) => Body::Failed(e),
                    });
                }
                Need::Kv(key) => {
                    let slot = match got {
                        Ok(v) => Slot::from_store(&key, v.as_string().as_deref()),
                        Err(e) if kv_timed_out => Slot::TimedOut(e.into()),
                        Err(e) => Slot::Unavailable(e.into()),
                    };
                    CACHE.with(|c| {
                        if let Some(c) = c.borrow_mut().as_mut() {
                            c.insert(key.clone(), slot.clone(), now_ms);
                        }
                    });
                    fetched.insert(key, slot);
                }
                Need::Raw(key) => {
                    raw.insert(key, got.map(|v| v.as_string()));
                }
                Need::Throttle(_) => throttled = true,
                Need::Store { .. } => {
                    store = Some(got.and_then(|v| {
                        let text = v.as_string().unwrap_or_default();
                        serde_json::from_str::<Answer>(&text)
                            .map_err(|e| format!("unreadable grant store answer: {e}"))
                    }));
                }
                Need::Check { .. } => {
                    check = Some(got.map(|v| {
                        let a: Array = v.unchecked_into();
                        Checked {
                            status: a.get(0).as_f64().unwrap_or(0.0) as u16,
                            body: a.get(1).as_string().unwrap_or_default(),
                        }
                    }));
                }
            }
        }
    }
    web_sys::console::error_1(&JsValue::from_str(
        "edge-interceptors: the authorization server kept asking; answered 500",
    ));
    reply_with(
        500,
        &[("content-type", "text/plain; charset=utf-8")],
        "Internal Server Error",
    )
}

/// Writes the token records, then answers (a success only if every write succeeded), counts a
/// failure for the throttle, and writes the trace.
#[allow(clippy::too_many_arguments)]
async fn finish(
    mut done: Done,
    server: &crate::authz::Server,
    endpoint: Endpoint,
    view: &View,
    path: &str,
    env: &JsValue,
    kv: &JsValue,
    ctx: JsValue,
    now_ms: u64,
    random: &Random,
    sample: f64,
) -> Response {
    if !done.puts.is_empty() {
        let timeout = server.store_timeout_ms as f64;
        let all = Array::new();
        for p in &done.puts {
            all.push(&glue_kv_put(
                kv,
                &p.key,
                &p.value,
                p.expiration as f64,
                &p.metadata(),
                timeout,
            ));
        }
        let mut failed = Vec::new();
        if let Ok(settled) = wait(Promise::all_settled(&all)).await {
            let settled: Array = settled.unchecked_into();
            for r in settled.iter() {
                let status = Reflect::get(&r, &JsValue::from_str("status"))
                    .ok()
                    .and_then(|s| s.as_string());
                if status.as_deref() != Some("fulfilled") {
                    let reason = Reflect::get(&r, &JsValue::from_str("reason"))
                        .unwrap_or(JsValue::UNDEFINED);
                    failed.push(js_error(reason));
                }
            }
        } else {
            failed.push("the writes could not be awaited".into());
        }
        if !failed.is_empty() {
            let n = failed.len();
            let first = failed.swap_remove(0);
            done = flow::writes_failed(done, endpoint, format!("{n} failed; {first}"));
            done.confirm = None;
        }
    }
    // A family issued here: was it revoked while these records were written? Then they are
    // written revoked again, after ours (docs/authorization-server.md, "The grant store").
    if let Some(Need::Store {
        instance,
        op,
        timeout_ms,
    }) = done.confirm.take()
    {
        let ns =
            Reflect::get(env, &JsValue::from_str(GRANTS_BINDING)).unwrap_or(JsValue::UNDEFINED);
        let answer = wait(glue_grant_store(&ns, &instance, &op, timeout_ms as f64))
            .await
            .and_then(|v| {
                serde_json::from_str::<Answer>(&v.as_string().unwrap_or_default())
                    .map_err(|e| format!("unreadable grant store answer: {e}"))
            });
        done = flow::confirmed(done, server, endpoint, answer);
        let timeout = server.store_timeout_ms as f64;
        for p in &done.puts {
            if let Err(e) = wait(glue_kv_put(
                kv,
                &p.key,
                &p.value,
                p.expiration as f64,
                &p.metadata(),
                timeout,
            ))
            .await
            {
                web_sys::console::error_1(&JsValue::from_str(&format!(
                    "edge-interceptors: rewriting a revoked family's record failed: {e}"
                )));
            }
        }
    }
    if let Some(client_id) = &done.failed {
        THROTTLE.with(|t| t.borrow_mut().failed(client_id, Date::now() as u64));
    }
    let log = done.outcome != Outcome::Pass
        || (sample > 0.0 && (sample >= 1.0 || Math::random() < sample));
    if log {
        let mut trace = Trace::new(now_ms, String::new(), &view.method, path);
        trace.api = Some(server.name.clone());
        let tc = TraceContext::from_header(view.header("traceparent").as_deref(), random.trace());
        trace.trace_id = Some(tc.trace_id);
        trace.span_id = Some(tc.span_id);
        trace.entries = std::mem::take(&mut done.entries);
        shipper::emit(
            trace,
            &Emit {
                req: Clone::clone(&view.req),
                ctx,
            },
        );
    }
    let headers: Vec<(&str, &str)> = done
        .reply
        .headers
        .iter()
        .map(|(n, v)| (*n, v.as_str()))
        .collect();
    reply_with(done.reply.status, &headers, &done.reply.body)
}
