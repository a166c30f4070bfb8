//! edge-interceptors: Sensedia-compatible token validation interceptors at the edge.
//!
//! The folders are the layers, lowest first; a module may use the layers above it in this list
//! and its own folder, never one below (checked by `tests/layers.rs`):
//!
//! 1. [`base`] — vocabulary: the request view, where credentials are, route patterns, the exact
//!    messages, policy-compiling helpers, time parsing.
//! 2. [`crypto`] — keys, RFC 9421 and structured fields, digests, body signatures, generated
//!    tokens, the signature and nonce jobs handed to the runtime.
//! 3. [`records`] — KV records, their per-isolate cache, per-isolate hashing.
//! 4. [`trace`] — trace entries, trace context, shipping buffers and encoders.
//! 5. [`interceptors`] — one file per interceptor, and what they ask of the runtime.
//! 6. [`authz`] — the authorization server's endpoints (Sensedia's token endpoints and the RFC
//!    ones), sans I/O, and the grant store's rules.
//! 7. [`gateway`] — the policy compiler, the sans-I/O pipeline, the forwarding plan.
//! 8. `worker` — wasm32 only: the adapter to the Workers runtime, the trace shipper, the nonce
//!    store Durable Object and the JavaScript glue beside them.
//!
//! Everything but `worker` is plain Rust, tested on the host with `cargo test`.

pub mod authz;
pub mod base;
pub mod crypto;
pub mod gateway;
pub mod interceptors;
pub mod records;
pub mod trace;

#[cfg(target_arch = "wasm32")]
mod worker;
