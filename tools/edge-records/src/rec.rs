//! Reading and writing record JSON: records are edited as JSON objects so that fields other
//! tools added survive, and checked with the Worker's own types before every write.

use super::error::{Exit, OpsError, Result};
use super::grants::G;
use super::redact;
use edge_interceptors::records::{self, App, AppStatus, Record, Token};
use serde_json::{Map, Value};

pub type Obj = Map<String, Value>;

/// A stored record as a JSON object (`None`: absent).
pub fn parse_object(key: &str, text: Option<String>) -> Result<Option<Obj>> {
    let Some(text) = text else { return Ok(None) };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(o)) => Ok(Some(o)),
        _ => Err(OpsError::new(
            Exit::Malformed,
            format!("{key} is not a JSON object; fix it (see `edge-records check`) or replace it"),
        )),
    }
}

/// The JSON text to store under `key`, after checking the Worker parses it.
pub fn to_text(key: &str, obj: &Obj) -> Result<String> {
    let text = serde_json::to_string(obj).expect("JSON");
    records::parse(key, &text).map_err(|e| {
        OpsError::bad_input(format!(
            "the record would not parse in the Worker: {}",
            record_error(key, &text, &e)
        ))
    })?;
    Ok(text)
}

/// Why the Worker does not parse the record under `key` (its error was `worker_err`), naming
/// the field and the position but never a value: `app:a: at status (line 1, column 30):
/// unknown variant, expected one of `APPROVED`, …`.
pub fn record_error(key: &str, text: &str, worker_err: &str) -> String {
    let typed = if key.starts_with(records::APP_PREFIX) {
        redact::typed_error::<App>(text)
    } else if key.starts_with(records::TOKEN_PREFIX) {
        redact::typed_error::<Token>(text)
    } else {
        None
    };
    let why = typed.unwrap_or_else(|| {
        // The Worker's own readers (JWT issuers and revocations): its message, values blanked.
        let prefix = format!("malformed record {key:?}: ");
        let msg = worker_err.strip_prefix(&prefix).unwrap_or(worker_err);
        match serde_json::from_str::<Value>(text) {
            Err(e) => redact::serde_error(&e),
            Ok(v)
                if key.starts_with(records::ISSUER_PREFIX)
                    && !v.get("keys").is_some_and(Value::is_array) =>
            {
                "expected an object with a \"keys\" list".into()
            }
            Ok(_) => redact::quoted(msg),
        }
    });
    format!("{key}: {why}")
}

/// A copy fit for display: HMAC secrets replaced by `<redacted>`.
pub fn redacted(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(list) = v.get_mut("hmac_secrets").and_then(Value::as_array_mut) {
        for s in list {
            if let Some(o) = s.as_object_mut() {
                if o.contains_key("secret_b64") {
                    o.insert("secret_b64".into(), Value::String("<redacted>".into()));
                }
            }
        }
    }
    v
}

/// Grants stored under `field` (`access` or `scope`).
pub fn grants_of(obj: &Obj, field: &str) -> Result<Vec<G>> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            OpsError::new(
                Exit::Malformed,
                format!("{field} is malformed: {}", redact::serde_message(&e)),
            )
        }),
    }
}

pub fn status_str(s: AppStatus) -> &'static str {
    match s {
        AppStatus::Approved => "APPROVED",
        AppStatus::Pending => "PENDING",
        AppStatus::Rejected => "REJECTED",
        AppStatus::Cancelled => "CANCELLED",
    }
}

/// Parses an app status (any case).
pub fn parse_status(s: &str) -> Result<&'static str> {
    match s.to_ascii_uppercase().as_str() {
        "APPROVED" => Ok("APPROVED"),
        "PENDING" => Ok("PENDING"),
        "REJECTED" => Ok("REJECTED"),
        "CANCELLED" => Ok("CANCELLED"),
        _ => Err(OpsError::bad_input(format!(
            "status {s:?}: expected APPROVED, PENDING, REJECTED or CANCELLED"
        ))),
    }
}

/// Whether an app lets calls through, and if not why.
pub fn app_state(a: &App, now: i64) -> String {
    if a.status != AppStatus::Approved {
        format!("not usable: status {}", status_str(a.status))
    } else if a.revoked {
        "not usable: revoked".into()
    } else if records::is_expired(a.expires_at, now) {
        "not usable: expired".into()
    } else {
        "usable".into()
    }
}

/// Whether a token passes (its app aside), and if not why.
pub fn token_state(t: &Token, now: i64) -> String {
    if t.revoked {
        "revoked".into()
    } else if records::is_expired(t.expires_at, now) {
        "expired".into()
    } else {
        "valid".into()
    }
}

/// The app under `key`, or why not (values redacted: [`record_error`]).
pub fn parse_app(key: &str, text: &str) -> std::result::Result<App, String> {
    match records::parse(key, text).map_err(|e| record_error(key, text, &e))? {
        Record::App(a) => Ok(a),
        _ => Err(format!("{key} is not an app")),
    }
}

/// The token under `key`, or why not (values redacted: [`record_error`]).
pub fn parse_token(key: &str, text: &str) -> std::result::Result<Token, String> {
    match records::parse(key, text).map_err(|e| record_error(key, text, &e))? {
        Record::Token(t) => Ok(t),
        _ => Err(format!("{key} is not a token")),
    }
}

/// KV metadata of a token record: its owner, so `token list --app` needs no value reads.
pub fn token_metadata(client_id: &str) -> Value {
    serde_json::json!({ "client_id": client_id })
}
