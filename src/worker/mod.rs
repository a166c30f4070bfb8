//! The Workers runtime, compiled for wasm32 only: the adapter (the `fetch` export, KV reads,
//! WebCrypto, forwarding), the trace shipper, the nonce store Durable Object, the authorization
//! server's runtime side and its grant store Durable Object, and the JavaScript glue
//! (`glue.js`, `authz_glue.js`) they call. The one layer that may name `js_sys`, `web_sys` or `wasm_bindgen`.

pub mod adapter;
pub mod authz;
pub mod env;
pub mod grant_store;
pub mod nonce_store;
pub mod shipper;
pub mod start;
