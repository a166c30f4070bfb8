//! What every wasm instance does when it starts (wasm-bindgen's start function), in place of the
//! `worker` crate's, which the project no longer links (its own entry module,
//! `src/worker/entry.js`, replaced worker-build's shim, the only user of that crate here):
//!
//! - counts the instance, so that the entry's Durable Object classes know theirs is new;
//! - asks for a new instance after a trap: wasm-bindgen's glue (built with
//!   `--force-enable-abort-handler`) calls the abort handler when a call traps, and
//!   `schedule_reinit` makes the next call into wasm instantiate the module again;
//! - installs the panic hook: the trap is noted for the next instance's `recovered` report
//!   (glue.js) and the panic's message written to the console, as the `worker` crate did.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(
    inline_js = "export function started() { globalThis.__edgeInstance = (globalThis.__edgeInstance | 0) + 1; }"
)]
extern "C" {
    /// Counts wasm instances in `globalThis.__edgeInstance` (read by entry.js).
    fn started();
}

#[wasm_bindgen(module = "/src/worker/glue.js")]
extern "C" {
    /// The panic hook's note that this instance is about to trap.
    #[wasm_bindgen(js_name = noteTrap)]
    fn glue_note_trap();
}

#[wasm_bindgen(start)]
fn start() {
    started();
    wasm_bindgen::handler::set_on_abort(wasm_bindgen::handler::schedule_reinit);
    std::panic::set_hook(Box::new(|info| {
        glue_note_trap();
        let e = js_sys::Error::new(&format!("Rust panic: {info}"));
        web_sys::console::error_2(&JsValue::from_str("Critical"), &e);
    }));
}
