#![no_main]
// See fuzz/src/lib.rs: the entry is shared with tests/fuzz_corpora.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| edge_interceptors_fuzz::rsa(data));
