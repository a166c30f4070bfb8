//! `edge-records`: the records tool (apps, tokens, keys, JWT revocations, Sensedia import) for
//! local or deployed Workers KV. Everything is in the `edge_records` library beside this file.

fn main() -> std::process::ExitCode {
    edge_records::cli::main()
}
