//! Vocabulary shared by every layer: the request view, where credentials are, route patterns,
//! the exact 401 messages, the helpers the policy compiler and interceptors use to read their
//! settings, and time parsing. Uses nothing else of the crate.

// What clients send reaches this layer on every request: nothing here may panic (a panic traps
// the wasm instance; docs/reliability.md). Clippy (run with -D warnings) refuses unchecked
// arithmetic and indexing, unwrap/expect, panic! and unreachable! here, outside tests.
#![cfg_attr(
    not(test),
    warn(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable
    )
)]

pub mod config;
pub mod hex;
pub mod locate;
pub mod message;
pub mod request;
pub mod route;
pub mod time;
