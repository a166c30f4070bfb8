//! The nonce store: a Durable Object that remembers the nonces of RFC 9421 signatures until
//! their window closes, so that a signed request is accepted once.
//!
//! KV cannot do this (eventually consistent across locations, one write per second per key);
//! a Durable Object is strongly consistent: each instance handles one event at a time, so the
//! single SQL upsert below either claims a nonce or finds it claimed, never both. Nonces are
//! spread over `nonce-<n>` instances by their hash ([`crate::jobs::NonceClaim`]), so one hot
//! app or key cannot make one instance the bottleneck. Rows past their `until` are swept on
//! access, at most every few seconds.

use crate::jobs::parse_claim_body;
use std::cell::Cell;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

/// How often (ms) an instance deletes the nonces whose window has closed.
const SWEEP_EVERY_MS: f64 = 5_000.0;

#[durable_object]
pub struct NonceStore {
    state: State,
    last_sweep_ms: Cell<f64>,
}

impl DurableObject for NonceStore {
    fn new(state: State, _env: Env) -> Self {
        let sql = state.storage().sql();
        // Errors surface on the first claim (every claim runs SQL too).
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS nonces (key TEXT PRIMARY KEY, until INTEGER NOT NULL)",
            None,
        );
        let _ = sql.exec(
            "CREATE INDEX IF NOT EXISTS nonces_until ON nonces (until)",
            None,
        );
        NonceStore {
            state,
            last_sweep_ms: Cell::new(0.0),
        }
    }

    /// `POST` with body `<until_ms>\n<key>`: 204 when the nonce was fresh (now claimed), 409
    /// when it is claimed and its window is still open, 400 for a malformed claim.
    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let body = req.text().await?;
        let Some((until_ms, key)) = parse_claim_body(&body) else {
            return Response::error("malformed nonce claim", 400);
        };
        let now = js_sys::Date::now();
        let sql = self.state.storage().sql();
        if now - self.last_sweep_ms.get() >= SWEEP_EVERY_MS {
            self.last_sweep_ms.set(now);
            sql.exec_raw(
                "DELETE FROM nonces WHERE until <= ?",
                vec![wasm_bindgen::JsValue::from_f64(now)],
            )?;
        }
        // Claims the key unless a live claim holds it (an expired one is taken over).
        let claimed = sql
            .exec_raw(
                "INSERT INTO nonces (key, until) VALUES (?, ?) \
                 ON CONFLICT (key) DO UPDATE SET until = excluded.until \
                 WHERE nonces.until <= ? RETURNING key",
                vec![
                    wasm_bindgen::JsValue::from_str(key),
                    wasm_bindgen::JsValue::from_f64(until_ms as f64),
                    wasm_bindgen::JsValue::from_f64(now),
                ],
            )?
            .raw()
            .next()
            .is_some();
        if claimed {
            Ok(Response::empty()?.with_status(204))
        } else {
            Ok(Response::empty()?.with_status(409))
        }
    }
}
