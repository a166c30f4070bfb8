//! `edge-records`: the records tool (apps, tokens, keys, JWT revocations, Sensedia import) for
//! local or deployed Workers KV. Everything is in `edge_interceptors::ops` (host only).

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    edge_interceptors::ops::cli::main()
}

/// The tool runs on the host only; on wasm32 (where the Worker is built) it is an empty program.
#[cfg(target_arch = "wasm32")]
fn main() {}
