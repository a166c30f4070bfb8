//! The gateway: the policy compiler (APIs, resources, their interceptor chains), the sans-I/O
//! pipeline that routes a request and runs its interceptors, and the forwarding plan. Uses
//! every layer below it ([`crate::interceptors`] and down), never [`crate`]'s `worker`.

pub mod forward;
pub mod pipeline;
pub mod policy;
