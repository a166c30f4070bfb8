//! The grant store: a Durable Object (`GRANTS`, class `GrantStore`, SQLite-backed) that keeps
//! authorization codes and refresh-token families, so each code and refresh token is used once
//! even when two requests race (docs/authorization-server.md, "The grant store").
//!
//! KV cannot do this (eventually consistent, no compare-and-set). An instance (one per app,
//! `client:<client_id>`) handles one event at a time, and [`crate::authz::store::handle`] —
//! the rules, tested on the host — reads and writes its rows with synchronous SQL and no wait in
//! between: of two concurrent redemptions exactly one finds the code unspent, and the writes of
//! one operation are committed together (a Durable Object coalesces the writes made without an
//! intervening await).
//!
//! The request is `POST /op` with an [`crate::authz::store::Op`] as JSON; the answer is 200 with
//! an [`crate::authz::store::Answer`], 400 for an operation that does not parse, 500 when the
//! storage fails.

use crate::authz::store::{self, CodeRow, Op, Rows, TokenRow};
use crate::records::TokenKind;
use crate::worker::env::js_error;
use js_sys::{Array, Function, Promise, Reflect};
use std::cell::Cell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{Request, Response, ResponseInit};

/// How often (ms) an instance forgets what has expired.
const SWEEP_EVERY_MS: f64 = 60_000.0;

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS codes (hash TEXT PRIMARY KEY, until_ms INTEGER NOT NULL, \
     used INTEGER NOT NULL DEFAULT 0, family TEXT, grant_json TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, family TEXT NOT NULL, \
     kind TEXT NOT NULL, client_id TEXT NOT NULL, expires_at INTEGER NOT NULL, \
     used INTEGER NOT NULL DEFAULT 0, record TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS tokens_family ON tokens (family)",
    "CREATE TABLE IF NOT EXISTS families (family TEXT PRIMARY KEY, until INTEGER NOT NULL)",
];

#[wasm_bindgen]
pub struct GrantStore {
    sql: Sql,
    last_sweep_ms: Rc<Cell<f64>>,
}

/// `state.storage.sql` and its `exec`.
#[derive(Clone)]
struct Sql {
    sql: JsValue,
    exec: Option<Function>,
}

#[wasm_bindgen]
impl GrantStore {
    #[wasm_bindgen(constructor)]
    pub fn new(state: JsValue, _env: JsValue) -> GrantStore {
        let storage = Reflect::get(&state, &JsValue::from_str("storage")).unwrap_or_default();
        let sql = Reflect::get(&storage, &JsValue::from_str("sql")).unwrap_or_default();
        let exec = Reflect::get(&sql, &JsValue::from_str("exec"))
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok());
        let sql = Sql { sql, exec };
        // Errors surface on the first operation (every operation runs SQL too).
        for q in SCHEMA {
            let _ = sql.run(q, &[]);
        }
        GrantStore {
            sql,
            last_sweep_ms: Rc::new(Cell::new(0.0)),
        }
    }

    pub fn fetch(&self, req: Request) -> Promise {
        let sql = self.sql.clone();
        let last_sweep = self.last_sweep_ms.clone();
        let text = req.text();
        future_to_promise(async move {
            let text = match text {
                Ok(p) => JsFuture::from(p).await.ok().and_then(|v| v.as_string()),
                Err(_) => None,
            };
            let Some(op) = text.and_then(|t| serde_json::from_str::<Op>(&t).ok()) else {
                return Ok(status(400, None).into());
            };
            // From here to the answer: synchronous SQL only, so this operation is atomic.
            let now = js_sys::Date::now();
            let mut rows = SqlRows { sql: &sql };
            if now - last_sweep.get() >= SWEEP_EVERY_MS {
                last_sweep.set(now);
                if let Err(e) = rows.sweep(now as u64) {
                    web_sys::console::error_1(&JsValue::from_str(&format!("grant store: {e}")));
                }
            }
            match store::handle(&mut rows, &op, now as u64) {
                Ok(answer) => {
                    let body = serde_json::to_string(&answer).unwrap_or_default();
                    Ok(status(200, Some(&body)).into())
                }
                Err(e) => {
                    web_sys::console::error_1(&JsValue::from_str(&format!("grant store: {e}")));
                    Ok(status(500, None).into())
                }
            }
        })
    }
}

impl Sql {
    /// `sql.exec(query, ...bindings)`: the cursor.
    fn run(&self, query: &str, bindings: &[JsValue]) -> Result<JsValue, String> {
        let Some(exec) = &self.exec else {
            return Err("no SQLite storage: declare GrantStore in new_sqlite_classes".into());
        };
        let args = Array::new();
        args.push(&JsValue::from_str(query));
        for b in bindings {
            args.push(b);
        }
        exec.apply(&self.sql, &args).map_err(js_error)
    }

    /// The rows of a query, as objects.
    fn rows(&self, query: &str, bindings: &[JsValue]) -> Result<Vec<JsValue>, String> {
        let cursor = self.run(query, bindings)?;
        let to_array: Function = Reflect::get(&cursor, &JsValue::from_str("toArray"))
            .map_err(js_error)?
            .dyn_into()
            .map_err(|_| "the cursor has no toArray".to_string())?;
        let arr: Array = to_array.call0(&cursor).map_err(js_error)?.unchecked_into();
        Ok(arr.iter().collect())
    }
}

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

fn n(v: f64) -> JsValue {
    JsValue::from_f64(v)
}

fn field_str(row: &JsValue, name: &str) -> Option<String> {
    Reflect::get(row, &s(name)).ok()?.as_string()
}

fn field_num(row: &JsValue, name: &str) -> Option<f64> {
    Reflect::get(row, &s(name)).ok()?.as_f64()
}

fn kind_name(k: TokenKind) -> &'static str {
    k.as_str()
}

fn token_row(r: &JsValue) -> Result<TokenRow, String> {
    let get = |n: &str| field_str(r, n).ok_or_else(|| format!("tokens.{n} is missing"));
    Ok(TokenRow {
        hash: get("hash")?,
        family: get("family")?,
        kind: if get("kind")? == "refresh_token" {
            TokenKind::RefreshToken
        } else {
            TokenKind::AccessToken
        },
        client_id: get("client_id")?,
        expires_at: field_num(r, "expires_at").unwrap_or(0.0) as i64,
        used: field_num(r, "used").unwrap_or(0.0) != 0.0,
        record: get("record")?,
    })
}

/// The rows of this instance, in its SQLite storage.
struct SqlRows<'a> {
    sql: &'a Sql,
}

impl Rows for SqlRows<'_> {
    fn code(&mut self, hash: &str) -> Result<Option<CodeRow>, String> {
        let rows = self.sql.rows(
            "SELECT hash, until_ms, used, family, grant_json FROM codes WHERE hash = ?",
            &[s(hash)],
        )?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(CodeRow {
            hash: hash.to_string(),
            until_ms: field_num(r, "until_ms").unwrap_or(0.0) as u64,
            used: field_num(r, "used").unwrap_or(0.0) != 0.0,
            family: field_str(r, "family"),
            grant: field_str(r, "grant_json").ok_or("codes.grant_json is missing")?,
        }))
    }

    fn put_code(&mut self, row: &CodeRow) -> Result<(), String> {
        self.sql.run(
            "INSERT INTO codes (hash, until_ms, used, family, grant_json) VALUES (?, ?, 0, NULL, ?)",
            &[s(&row.hash), n(row.until_ms as f64), s(&row.grant)],
        )?;
        Ok(())
    }

    fn spend_code(&mut self, hash: &str, family: Option<&str>) -> Result<(), String> {
        self.sql.run(
            "UPDATE codes SET used = 1, family = ? WHERE hash = ?",
            &[family.map_or(JsValue::NULL, s), s(hash)],
        )?;
        Ok(())
    }

    fn token(&mut self, hash: &str) -> Result<Option<TokenRow>, String> {
        let rows = self.sql.rows(
            "SELECT hash, family, kind, client_id, expires_at, used, record FROM tokens WHERE hash = ?",
            &[s(hash)],
        )?;
        rows.first().map(token_row).transpose()
    }

    fn put_token(&mut self, row: &TokenRow) -> Result<(), String> {
        self.sql.run(
            "INSERT OR REPLACE INTO tokens (hash, family, kind, client_id, expires_at, used, record) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            &[
                s(&row.hash),
                s(&row.family),
                s(kind_name(row.kind)),
                s(&row.client_id),
                n(row.expires_at as f64),
                n(if row.used { 1.0 } else { 0.0 }),
                s(&row.record),
            ],
        )?;
        Ok(())
    }

    fn spend_token(&mut self, hash: &str) -> Result<(), String> {
        self.sql
            .run("UPDATE tokens SET used = 1 WHERE hash = ?", &[s(hash)])?;
        Ok(())
    }

    fn family_tokens(&mut self, family: &str) -> Result<Vec<TokenRow>, String> {
        self.sql
            .rows(
                "SELECT hash, family, kind, client_id, expires_at, used, record FROM tokens \
                 WHERE family = ? ORDER BY hash",
                &[s(family)],
            )?
            .iter()
            .map(token_row)
            .collect()
    }

    fn family_revoked(&mut self, family: &str) -> Result<bool, String> {
        Ok(!self
            .sql
            .rows("SELECT family FROM families WHERE family = ?", &[s(family)])?
            .is_empty())
    }

    fn revoke_family(&mut self, family: &str, until_s: i64) -> Result<(), String> {
        self.sql.run(
            "INSERT INTO families (family, until) VALUES (?, ?) \
             ON CONFLICT (family) DO UPDATE SET until = max(until, excluded.until)",
            &[s(family), n(until_s as f64)],
        )?;
        Ok(())
    }

    fn sweep(&mut self, now_ms: u64) -> Result<(), String> {
        let now_s = (now_ms / 1000) as f64;
        self.sql.run(
            "DELETE FROM codes WHERE until_ms + ? <= ?",
            &[n(store::KEEP_CODES_MS as f64), n(now_ms as f64)],
        )?;
        self.sql
            .run("DELETE FROM tokens WHERE expires_at <= ?", &[n(now_s)])?;
        self.sql
            .run("DELETE FROM families WHERE until <= ?", &[n(now_s)])?;
        Ok(())
    }
}

fn status(code: u16, body: Option<&str>) -> Response {
    let init = ResponseInit::new();
    init.set_status(code);
    Response::new_with_opt_str_and_init(body, &init).unwrap_or_else(|_| {
        Response::new().unwrap_or_else(|_| unreachable!("an empty Response can always be made"))
    })
}
