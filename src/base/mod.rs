//! Vocabulary shared by every layer: the request view, where credentials are, route patterns,
//! the exact 401 messages, the helpers the policy compiler and interceptors use to read their
//! settings, and time parsing. Uses nothing else of the crate.

pub mod config;
pub mod locate;
pub mod message;
pub mod request;
pub mod route;
pub mod time;
