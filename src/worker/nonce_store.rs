//! The nonce store: a Durable Object that remembers the nonces of RFC 9421 signatures until
//! their window closes, so that a signed request is accepted once.
//!
//! KV cannot do this (eventually consistent across locations, one write per second per key);
//! a Durable Object is strongly consistent: each instance handles one event at a time, so the
//! single SQL upsert below either claims a nonce or finds it claimed, never both. Nonces are
//! spread over `nonce-<n>` instances by their hash ([`crate::crypto::jobs::NonceClaim`]), so one hot
//! app or key cannot make one instance the bottleneck. Rows past their `until` are swept on
//! access, at most every few seconds.
//!
//! Like the Worker's own `fetch`, the class is a plain synchronous `#[wasm_bindgen]` export:
//! the claim travels in the URL, SQLite storage is synchronous in a Durable Object, so a claim
//! is answered without a future or an executor.

use crate::crypto::jobs::parse_claim_body;
use js_sys::{Array, Function, Reflect};
use std::cell::Cell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Request, Response, ResponseInit};

/// How often (ms) an instance deletes the nonces whose window has closed.
const SWEEP_EVERY_MS: f64 = 5_000.0;

#[wasm_bindgen]
pub struct NonceStore {
    /// `state.storage.sql` and its `exec`.
    sql: JsValue,
    exec: Option<Function>,
    last_sweep_ms: Cell<f64>,
}

#[wasm_bindgen]
impl NonceStore {
    #[wasm_bindgen(constructor)]
    pub fn new(state: JsValue, _env: JsValue) -> NonceStore {
        let storage = Reflect::get(&state, &JsValue::from_str("storage")).unwrap_or_default();
        let sql = Reflect::get(&storage, &JsValue::from_str("sql")).unwrap_or_default();
        let exec = Reflect::get(&sql, &JsValue::from_str("exec"))
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok());
        let store = NonceStore {
            sql,
            exec,
            last_sweep_ms: Cell::new(0.0),
        };
        // Errors surface on the first claim (every claim runs SQL too).
        let _ = store.run(
            "CREATE TABLE IF NOT EXISTS nonces (key TEXT PRIMARY KEY, until INTEGER NOT NULL)",
            &[],
        );
        let _ = store.run(
            "CREATE INDEX IF NOT EXISTS nonces_until ON nonces (until)",
            &[],
        );
        store
    }

    /// `POST /claim?c=<until_ms>.<key>`: 204 when the nonce was fresh (now claimed), 409 when
    /// it is claimed and its window is still open, 410 when the window closed before the claim
    /// arrived (by this store's clock), 400 for a malformed claim, 500 when the storage fails.
    pub fn fetch(&self, req: Request) -> Response {
        let url = req.url();
        let claim = url.split_once("?c=").map(|(_, c)| c);
        let Some((until_ms, key)) = claim.and_then(parse_claim_body) else {
            return status(400);
        };
        match self.claim(until_ms, key) {
            Ok(Claim::Fresh) => status(204),
            Ok(Claim::Replayed) => status(409),
            Ok(Claim::Late) => status(410),
            Err(e) => {
                web_sys::console::error_2(&JsValue::from_str("nonce store:"), &e);
                status(500)
            }
        }
    }
}

impl NonceStore {
    /// Claims `key` until `until_ms` unless a live claim holds it (an expired one is taken
    /// over). A claim whose window has already closed is refused: accepting it would let a
    /// request that reached the store late (a slow body) be replayed, since no live row would
    /// remember it.
    fn claim(&self, until_ms: u64, key: &str) -> Result<Claim, JsValue> {
        let now = js_sys::Date::now();
        if until_ms as f64 <= now {
            return Ok(Claim::Late);
        }
        if now - self.last_sweep_ms.get() >= SWEEP_EVERY_MS {
            self.last_sweep_ms.set(now);
            self.run(
                "DELETE FROM nonces WHERE until <= ?",
                &[JsValue::from_f64(now)],
            )?;
        }
        let cursor = self.run(
            "INSERT INTO nonces (key, until) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET until = excluded.until \
             WHERE nonces.until <= ? RETURNING key",
            &[
                JsValue::from_str(key),
                JsValue::from_f64(until_ms as f64),
                JsValue::from_f64(now),
            ],
        )?;
        // The cursor yields the key when this call claimed it.
        let next: Function = Reflect::get(&cursor, &JsValue::from_str("next"))?.dyn_into()?;
        let first = next.call0(&cursor)?;
        let done = Reflect::get(&first, &JsValue::from_str("done"))?;
        Ok(if done.is_truthy() {
            Claim::Replayed
        } else {
            Claim::Fresh
        })
    }

    /// `sql.exec(query, ...bindings)`: the cursor.
    fn run(&self, query: &str, bindings: &[JsValue]) -> Result<JsValue, JsValue> {
        let Some(exec) = &self.exec else {
            return Err(JsValue::from_str(
                "no SQLite storage: declare NonceStore in new_sqlite_classes",
            ));
        };
        let args = Array::new();
        args.push(&JsValue::from_str(query));
        for b in bindings {
            args.push(b);
        }
        exec.apply(&self.sql, &args)
    }
}

enum Claim {
    Fresh,
    Replayed,
    Late,
}

fn status(code: u16) -> Response {
    let init = ResponseInit::new();
    init.set_status(code);
    Response::new_with_opt_str_and_init(None, &init)
        .unwrap_or_else(|_| Response::new().expect("an empty Response can always be made"))
}
