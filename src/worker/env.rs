//! The Worker's environment: variables given as JSON objects in wrangler.toml (or strings).

use js_sys::{Reflect, JSON};
use wasm_bindgen::JsValue;

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
