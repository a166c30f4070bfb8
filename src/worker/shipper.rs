//! Trace output of the Worker (wasm32 only): the console, and shipping to the logging endpoint
//! in `ctx.waitUntil`, after the response. What to send, when, and how to retry is decided by
//! [`crate::trace::ship`]; this module only does the I/O.

use crate::trace::ship::{self, Batch, Buffer, Console, ShipConfig};
use crate::trace::Trace;
use js_sys::{Date, Promise, Reflect};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::Request;

const LOGGING_VAR: &str = "LOGGING";
const TOKEN_SECRET: &str = "LOGGING_TOKEN";

#[wasm_bindgen(module = "/src/worker/glue.js")]
extern "C" {
    fn post(url: &str, headers: &str, content_type: &str, body: &str, timeout_ms: u32) -> Promise;
    fn sleep(ms: u32) -> Promise;
    fn colo(req: &Request) -> Option<String>;
    /// Tells the glue how many entries wait and are being delivered, so that a trap's loss
    /// can be counted by the next instance.
    #[wasm_bindgen(js_name = traceCounts)]
    fn trace_counts(buffered: u32, in_delivery: u32);
}

#[wasm_bindgen]
extern "C" {
    type ExecutionContext;
    #[wasm_bindgen(method, catch, js_name = waitUntil)]
    fn wait_until(this: &ExecutionContext, p: &Promise) -> Result<(), JsValue>;
}

/// What writing a request's trace needs from the request.
pub struct Emit {
    pub req: Request,
    pub ctx: JsValue,
}

/// What the trace needs of the request that the caller read already (`None`: not read; then
/// [`emit_known`] reads it from the request).
#[derive(Default)]
pub struct Known {
    /// The `cf-ray` header, the request id.
    pub cf_ray: Option<Option<String>>,
    /// `request.cf.colo`.
    pub colo: Option<Option<String>>,
}

struct Shipping {
    cfg: ShipConfig,
    /// Request headers for the endpoint, "\n"-separated pairs (the token included).
    headers: String,
    buf: Buffer,
    timer_armed: bool,
    /// Entries taken from the buffer whose delivery has not finished.
    in_delivery: usize,
}

impl Shipping {
    /// Mirrors the counts into the glue (JavaScript state, which outlives a trap).
    fn mirror(&self) {
        trace_counts(
            u32::try_from(self.buf.len()).unwrap_or(u32::MAX),
            u32::try_from(self.in_delivery).unwrap_or(u32::MAX),
        );
    }
}

thread_local! {
    static SHIPPING: RefCell<Option<Shipping>> = const { RefCell::new(None) };
}

/// Reads `LOGGING` (and the `LOGGING_TOKEN` secret) once per isolate.
pub fn configure(env: &JsValue) -> Result<(), String> {
    let cfg = match crate::worker::env::json_var(env, LOGGING_VAR) {
        None => ShipConfig::default(),
        Some(text) => {
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("LOGGING is not JSON: {e}"))?;
            ship::compile(&v).map_err(|e| {
                e.to_string()
                    .replacen("invalid policy", "invalid LOGGING", 1)
            })?
        }
    };
    let token = Reflect::get(env, &JsValue::from_str(TOKEN_SECRET))
        .ok()
        .and_then(|v| v.as_string());
    let mut headers: Vec<String> = Vec::new();
    for (k, v) in &cfg.headers {
        headers.push(k.clone());
        headers.push(v.clone());
    }
    if let Some(t) = token {
        headers.push(cfg.token_header.clone());
        headers.push(if cfg.token_header == "authorization" {
            format!("Bearer {t}")
        } else {
            t
        });
    }
    SHIPPING.with(|s| {
        *s.borrow_mut() = Some(Shipping {
            cfg,
            headers: headers.join("\n"),
            buf: Buffer::default(),
            timer_armed: false,
            in_delivery: 0,
        })
    });
    Ok(())
}

/// The glue's report of what an instance lost to a trap (`counts`: a JSON object of counts):
/// written to the console, and shipped with the next batch. `false` when it cannot be taken
/// now (no configuration yet): the glue keeps the counts for later.
pub fn report_recovery(counts: &str) -> bool {
    let now = Date::now() as u64;
    let Some(line) = ship::recovery_report(counts, now) else {
        return true; // not counts: nothing to report
    };
    SHIPPING.with(|s| {
        let mut s = s.borrow_mut();
        let Some(sh) = s.as_mut() else {
            return false;
        };
        // Always in the console: the loss must be visible even where nothing is shipped.
        console(&line);
        if sh.cfg.endpoint.is_some() {
            sh.buf.push(vec![line], now, sh.cfg.max_buffer);
            sh.mirror();
        }
        true
    })
}

/// Writes one request's trace: to the console and/or into the shipping buffer, and schedules
/// a delivery in `ctx.waitUntil` when a batch is due.
pub fn emit(trace: Trace, emit: &Emit) {
    emit_known(trace, emit, Known::default());
}

/// [`emit`], with what the caller already read of the request.
pub fn emit_known(mut trace: Trace, emit: &Emit, known: Known) {
    if trace.request_id.is_empty() {
        let cf_ray = match known.cf_ray {
            Some(v) => v,
            None => emit.req.headers().get("cf-ray").ok().flatten(),
        };
        trace.request_id = cf_ray
            .or_else(|| {
                trace
                    .trace_id
                    .as_ref()
                    .and_then(|t| t.get(..16))
                    .map(str::to_string)
            })
            .unwrap_or_default();
    }
    trace.colo = match known.colo {
        Some(c) => c,
        None => colo(&emit.req),
    };
    let to_send = SHIPPING.with(|s| {
        let mut s = s.borrow_mut();
        let sh = s.as_mut()?;
        if sh.cfg.console == Console::Always || sh.cfg.endpoint.is_none() {
            console(&trace.to_json());
        }
        sh.cfg.endpoint.as_ref()?;
        let now = Date::now() as u64;
        sh.buf.push(trace.to_lines(), now, sh.cfg.max_buffer);
        let work = if sh.buf.due(now, &sh.cfg) {
            let batch = sh.buf.take(now, &sh.cfg);
            if let Some(b) = &batch {
                sh.in_delivery = sh.in_delivery.saturating_add(b.entries.len());
            }
            batch.map(Work::Deliver)
        } else if !sh.timer_armed {
            sh.timer_armed = true;
            Some(Work::Timer(sh.cfg.flush_ms))
        } else {
            None
        };
        sh.mirror();
        work
    });
    let promise = match to_send {
        None => return,
        Some(Work::Deliver(batch)) => future_to_promise(async move {
            deliver(batch).await;
            Ok(JsValue::UNDEFINED)
        }),
        Some(Work::Timer(ms)) => future_to_promise(async move {
            let _ = JsFuture::from(sleep(ms as u32)).await;
            flush_all().await;
            Ok(JsValue::UNDEFINED)
        }),
    };
    if emit
        .ctx
        .unchecked_ref::<ExecutionContext>()
        .wait_until(&promise)
        .is_err()
    {
        console("edge-interceptors: waitUntil unavailable; trace delivery may be cut short");
    }
}

enum Work {
    Deliver(Batch),
    Timer(u64),
}

/// The timer fired: send everything waiting.
async fn flush_all() {
    loop {
        let batch = SHIPPING.with(|s| {
            let mut s = s.borrow_mut();
            let sh = s.as_mut()?;
            sh.timer_armed = false;
            let now = Date::now() as u64;
            let batch = sh.buf.take(now, &sh.cfg);
            if let Some(b) = &batch {
                sh.in_delivery = sh.in_delivery.saturating_add(b.entries.len());
                sh.mirror();
            }
            batch
        });
        match batch {
            Some(b) => deliver(b).await,
            None => return,
        }
    }
}

/// POSTs a batch with retries; a batch that cannot be delivered is counted as dropped (and
/// written to the console, so the entries are not lost from sight).
async fn deliver(batch: Batch) {
    let Some((cfg, headers)) = SHIPPING.with(|s| {
        s.borrow()
            .as_ref()
            .map(|sh| (sh.cfg.clone(), sh.headers.clone()))
    }) else {
        return;
    };
    let Some(url) = cfg.endpoint.as_deref() else {
        delivered(&batch);
        return;
    };
    let (content_type, body) = ship::encode(&cfg, &batch, Date::now() as u64);
    let mut last = String::new();
    for attempt in 0..=cfg.retries {
        if attempt > 0 {
            let _ = JsFuture::from(sleep(ship::backoff(&cfg, attempt) as u32)).await;
        }
        let status = JsFuture::from(post(
            url,
            &headers,
            content_type,
            &body,
            cfg.timeout_ms as u32,
        ))
        .await
        .ok()
        .and_then(|v| v.as_f64())
        .map(|n| n as u16);
        match status {
            Some(s) if (200..300).contains(&s) => {
                delivered(&batch);
                return;
            }
            Some(s) => last = format!("HTTP {s}"),
            None => last = "network error or time-out".into(),
        }
        if !ship::retryable(status) {
            break;
        }
    }
    delivered(&batch);
    let total = SHIPPING.with(|s| {
        let mut s = s.borrow_mut();
        let sh = s.as_mut()?;
        sh.buf.failed(&batch);
        Some(sh.buf.dropped_total)
    });
    let entries: Vec<serde_json::Value> = batch
        .entries
        .iter()
        .filter_map(|e| serde_json::from_str(e).ok())
        .collect();
    let report = serde_json::json!({
        "edge_trace_undelivered": entries,
        "reason": last,
        "dropped_total": total,
    });
    console(&report.to_string());
}

/// A batch's delivery is over (delivered, or given up and counted as dropped).
fn delivered(batch: &Batch) {
    SHIPPING.with(|s| {
        if let Some(sh) = s.borrow_mut().as_mut() {
            sh.in_delivery = sh.in_delivery.saturating_sub(batch.entries.len());
            sh.mirror();
        }
    });
}

fn console(line: &str) {
    web_sys::console::log_1(&JsValue::from_str(line));
}
