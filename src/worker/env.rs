//! The Worker's environment: variables given as JSON objects in wrangler.toml (or strings), and
//! what a time limit of the glue rejects with.

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
