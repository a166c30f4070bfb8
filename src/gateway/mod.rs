//! The gateway: the policy compiler (APIs, resources, their interceptor chains), the sans-I/O
//! pipeline that routes a request and runs its interceptors, and the forwarding plan. Uses
//! every layer below it ([`crate::interceptors`] and down), never [`crate`]'s `worker`.

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

pub mod forward;
pub mod pipeline;
pub mod policy;
