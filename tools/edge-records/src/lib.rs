//! `edge-records`, the records tool: apps, access tokens, signature keys, JWT revocations, the
//! Sensedia import, export and check — against local KV (`wrangler dev`, the demo, the tests) or
//! deployed KV, always through wrangler, so the operator's own Cloudflare login is used and the
//! tool holds no Cloudflare credential. Host only (never part of the Worker).
//!
//! Every command works on a [`store::Store`]: [`store::Wrangler`] shells out to
//! `wrangler kv`, [`store::MemStore`] keeps records in memory for the tests. Records are checked
//! with the Worker's own types ([`edge_interceptors::records::parse`]) before they are written.

pub mod app;
pub mod cli;
pub mod error;
pub mod export;
pub mod grants;
pub mod issuer;
pub mod jti;
pub mod keys;
pub mod policy_info;
pub mod rec;
pub mod redact;
pub mod sensedia;
pub mod store;
pub mod token;
pub mod util;

use error::Result;
use policy_info::PolicyInfo;
use std::io::{BufRead, Write};
use store::{Entry, Store};

/// Everything a command works with. Tests build one over a [`store::MemStore`] and buffers.
pub struct Ctx<'a> {
    pub store: &'a mut dyn Store,
    pub policy: PolicyInfo,
    /// Epoch seconds.
    pub now: i64,
    pub stdin: &'a mut dyn BufRead,
    pub stdin_is_tty: bool,
    /// Results (a generated secret, a record, a list).
    pub out: &'a mut dyn Write,
    /// Notes, warnings, progress (never a secret).
    pub err: &'a mut dyn Write,
    /// Asks a yes/no question (the real one reads /dev/tty; fails when there is none).
    pub confirm: &'a mut dyn FnMut(&str) -> Result<bool>,
    /// The clock: `now` is read again after each write (a long import moves time on). `None`
    /// keeps `now` fixed (tests).
    pub clock: Option<fn() -> i64>,
}

impl Ctx<'_> {
    /// A line on standard error.
    pub fn note(&mut self, msg: impl AsRef<str>) {
        let _ = writeln!(self.err, "{}", msg.as_ref());
    }

    /// A line on standard output.
    pub fn say(&mut self, msg: impl AsRef<str>) -> Result<()> {
        writeln!(self.out, "{}", msg.as_ref())?;
        Ok(())
    }

    /// Writes `entries` (bulk, 10,000 per wrangler run), or with `dry_run` says what would be.
    pub fn write(&mut self, entries: &[Entry], dry_run: bool) -> Result<()> {
        let target = self.store.describe();
        if dry_run {
            let shown: Vec<&str> = entries.iter().take(10).map(|e| e.key.as_str()).collect();
            let more = entries.len().saturating_sub(shown.len());
            self.note(format!(
                "dry run: nothing written; would write {} record(s) to {target}{}{}",
                entries.len(),
                if shown.is_empty() { "" } else { ": " },
                shown.join(", ")
                    + &if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
            ));
            return Ok(());
        }
        if entries.is_empty() {
            return Ok(());
        }
        let total = entries.len();
        let big = total > store::MAX_BULK_PUT;
        let err = &mut *self.err;
        store::put_all(self.store, entries, &mut |done, all| {
            if big {
                let _ = writeln!(err, "wrote {done}/{all}");
            }
        })?;
        if let Some(clock) = self.clock {
            self.now = clock();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
