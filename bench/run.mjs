// The OAuth cases of bench/compare.mjs (OAuth pass with and without the trace, the denial, trace
// shipping): the Rust Worker, its JavaScript twin and the bare pass-through. Kept under this name,
// which older notes cite (Cargo.toml's opt-level measurement); see bench/README.md.
//
//   node bench/run.mjs            # = ONLY=oauth,oauth-notrace,oauth-deny,ship node bench/compare.mjs
process.env.ONLY ||= "oauth,oauth-notrace,oauth-deny,ship";
await import("./compare.mjs");
