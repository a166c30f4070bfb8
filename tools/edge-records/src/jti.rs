//! `edge-records jti revoke`: revoke one JWT by issuer and `jti`.
//!
//! The record, for the JWT interceptor to read: key `jti:<issuer>:<jti>` (the issuer exactly as
//! in the token's `iss`, the id exactly as in its `jti`), value
//! `{"revoked": true, "expires_at": <the JWT's exp, RFC 3339>}` (`expires_at` absent when not
//! given): the record the JWT interceptor reads ([`records::Jti`]). A JWT whose `(iss, jti)` has
//! such a record with `revoked: true` is refused. The KV entry expires a day after `expires_at`
//! (the token is refused as expired by then anyway).

use super::app::DryRun;
use super::error::{OpsError, Result};
use super::store::Entry;
use super::util;
use super::Ctx;
use clap::Subcommand;
use edge_interceptors::records::{self, MAX_KEY_BYTES};
use serde_json::json;

/// How long the KV entry outlives the JWT's own expiry (clock-skew leeway, with room to spare).
pub const KEEP_AFTER_EXPIRY_S: i64 = 86_400;

#[derive(Debug, Subcommand)]
pub enum JtiCmd {
    /// Revoke a JWT: writes jti:<issuer>:<jti> = {"revoked":true,"expires_at":...}.
    Revoke {
        /// The token's `iss`, exactly.
        #[arg(long)]
        issuer: String,
        /// The token's `jti`, exactly.
        #[arg(long)]
        jti: String,
        /// The token's `exp` (RFC 3339 with a zone, or epoch seconds); the record is dropped by
        /// KV a day after it. Without it the record is kept for ever.
        #[arg(long, value_name = "WHEN")]
        expires_at: Option<String>,
        #[command(flatten)]
        dry: DryRun,
    },
}

/// The KV key of a JWT revocation ([`records::jti_key`]), or why there cannot be one.
pub fn jti_key(issuer: &str, jti: &str) -> Result<String> {
    for (what, v) in [("issuer", issuer), ("jti", jti)] {
        if v.is_empty() || v.chars().any(char::is_control) {
            return Err(OpsError::bad_input(format!(
                "{what} must be non-empty, without control characters"
            )));
        }
    }
    records::jti_key(issuer, jti).ok_or_else(|| {
        OpsError::bad_input(format!(
            "jti:<issuer>:<jti> would exceed {MAX_KEY_BYTES} bytes, the longest KV key"
        ))
    })
}

pub fn run(ctx: &mut Ctx, cmd: JtiCmd) -> Result<()> {
    let JtiCmd::Revoke {
        issuer,
        jti,
        expires_at,
        dry,
    } = cmd;
    let key = jti_key(&issuer, &jti)?;
    let exp = expires_at.as_deref().map(util::parse_time).transpose()?;
    let mut v = json!({"revoked": true});
    if let Some(t) = exp {
        v["expires_at"] = json!(util::format_time(t));
    }
    let mut e = Entry::new(&key, v.to_string());
    if let Some(t) = exp {
        let until = t + KEEP_AFTER_EXPIRY_S;
        // KV refuses expirations less than 60 s ahead.
        if until > ctx.now + 60 {
            e.expiration = Some(until);
        } else {
            ctx.note(
                "warning: this JWT expired more than a day ago; it is refused as expired anyway",
            );
        }
    }
    if dry.dry_run {
        ctx.say(serde_json::to_string_pretty(&v).expect("JSON"))?;
    }
    ctx.write(&[e], dry.dry_run)?;
    if !dry.dry_run {
        let line = ctx.policy.revocation_effect(ctx.store.is_remote(), ctx.now);
        ctx.note(format!(
            "revoked {key}; once the JWT interceptor reads it, the revocation {line}"
        ));
    }
    Ok(())
}
