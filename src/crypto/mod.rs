//! Cryptography and the formats it reads: keys (PEM, JWK), RFC 9421 HTTP message signatures
//! and RFC 8941 structured fields, RFC 9530 digests, Sensedia body signatures, the MACed CSRF
//! and Time Tokens, and the signature and nonce jobs handed to the runtime. Uses only [`crate::base`].

pub mod bodysig;
pub mod digest;
pub mod gentoken;
pub mod httpsig;
pub mod jobs;
pub mod keys;
pub mod sfv;
