//! Errors of the records tool, each with its documented exit code.
//!
//! Messages never contain a secret, a raw token or a record value: they name keys, client ids,
//! fingerprints (`sha256:` + 16 hex digits) and file paths.

use std::fmt;

/// Exit codes (documented in `edge-records --help` and docs/operations.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked was done (or, with `--dry-run`, would be).
    Ok = 0,
    /// An unexpected failure (I/O on the terminal, a bug).
    Failure = 1,
    /// Bad command line (unknown option, missing argument): clap's own code.
    Usage = 2,
    /// Bad input: a malformed PEM, JWK, JSON, date or grant, an unreadable or unmappable export.
    BadInput = 3,
    /// An app, token or key that does not exist.
    NotFound = 4,
    /// Already exists (duplicate client id, key id or token), or would clobber another record.
    Conflict = 5,
    /// `check` found records the Worker cannot parse.
    Malformed = 6,
    /// wrangler or KV failed (not logged in, namespace missing, network, local state locked).
    Kv = 7,
    /// A confirmation was refused, or was needed and could not be asked (pass `--yes`).
    NotConfirmed = 8,
}

/// The exit codes as shown after `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  done (or, with --dry-run, would be done)
  1  unexpected failure
  2  bad command line
  3  bad input: malformed PEM/JWK/JSON/date/grant, unreadable or unmappable export
  4  not found: unknown app, token or key id
  5  conflict: duplicate client id, key id or token, or a record of another owner
  6  check: malformed records found
  7  wrangler/KV failure (login, namespace, network, local state)
  8  confirmation refused or needed (pass --yes)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsError {
    pub exit: Exit,
    pub message: String,
}

impl OpsError {
    pub fn new(exit: Exit, message: impl Into<String>) -> Self {
        OpsError {
            exit,
            message: message.into(),
        }
    }
    pub fn bad_input(m: impl Into<String>) -> Self {
        Self::new(Exit::BadInput, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(Exit::NotFound, m)
    }
    pub fn conflict(m: impl Into<String>) -> Self {
        Self::new(Exit::Conflict, m)
    }
    pub fn kv(m: impl Into<String>) -> Self {
        Self::new(Exit::Kv, m)
    }
    pub fn failure(m: impl Into<String>) -> Self {
        Self::new(Exit::Failure, m)
    }
}

impl fmt::Display for OpsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OpsError {}

impl From<std::io::Error> for OpsError {
    fn from(e: std::io::Error) -> Self {
        OpsError::failure(format!("I/O error: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, OpsError>;
