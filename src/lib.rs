//! edge-interceptors: Sensedia-compatible token validation interceptors at the edge.
//!
//! Everything except [`adapter`] is plain Rust, tested on the host with `cargo test`:
//! the request view ([`request`]), where credentials are found ([`locate`]), the policy and
//! its compiler ([`policy`], [`route`]), the KV records ([`records`]) and their per-isolate
//! cache ([`cache`]), the interceptors ([`interceptors`]), the sans-I/O pipeline
//! ([`pipeline`]), the exact 401 bytes ([`message`]), the forwarding plan ([`forward`]),
//! the trace ([`trace`]), and for JWT the keys ([`keys`]) and the signature verifications the
//! runtime performs with their caches ([`verify`]). The adapter, compiled only for `wasm32`, is
//! the one place that touches the Workers runtime.

pub mod bodysig;
pub mod cache;
pub mod digest;
pub mod forward;
pub mod gentoken;
pub mod httpsig;
pub mod interceptors;
pub mod jobs;
pub mod keys;
pub mod locate;
pub mod message;
pub mod pipeline;
pub mod policy;
pub mod records;
pub mod request;
pub mod route;
pub mod seeded;
pub mod ship;
pub mod trace;
pub mod tracectx;
pub mod verify;

#[cfg(not(target_arch = "wasm32"))]
pub mod ops;

#[cfg(target_arch = "wasm32")]
mod adapter;
#[cfg(target_arch = "wasm32")]
mod nonce_store;
#[cfg(target_arch = "wasm32")]
mod shipper;
