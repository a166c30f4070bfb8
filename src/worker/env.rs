//! The Worker's environment: variables given as JSON objects in wrangler.toml (or strings), and
//! what the runtime rejects with (a time limit of the glue, any error as text).

use js_sys::{Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};

/// A variable that is a JSON object in wrangler.toml (or a string holding JSON), as text.
pub fn json_var(env: &JsValue, name: &str) -> Option<String> {
    let raw = Reflect::get(env, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED);
    if let Some(s) = raw.as_string() {
        Some(s)
    } else if raw.is_object() {
        JSON::stringify(&raw).ok().and_then(|s| s.as_string())
    } else {
        None
    }
}

/// Whether a rejection is a time limit of the glue (glue.js `withTimeout`: a `TimeoutError`),
/// for the validation path (adapter.rs) and the authorization server (authz.rs) alike.
pub fn timed_out(e: &JsValue) -> bool {
    e.dyn_ref::<js_sys::Error>()
        .is_some_and(|e| e.name() == "TimeoutError")
}

/// A JavaScript error (or rejection reason) as text: `name: message` (`TimeoutError: ...`), a
/// thrown string as it is. One helper for the adapter, the authorization server and the grant
/// store, so that a trace's `detail` reads the same whichever part met the error.
pub fn js_error(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| format!("{}: {}", String::from(e.name()), String::from(e.message())))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| "unknown error".into())
}
