//! `edge-records export` (every record to a file, in the format `wrangler kv bulk put` reads
//! back) and `edge-records check` (every record parses under the Worker's own types).

use super::error::{Exit, OpsError, Result};
use super::rec;
use super::store;
use super::Ctx;
use clap::Args;
use edge_interceptors::records::{APP_PREFIX, ISSUER_PREFIX, TOKEN_PREFIX};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where to write: a new file (mode 0600: it holds secret hashes and HMAC secrets), or `-`
    /// for standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: PathBuf,
    /// Only keys starting with this.
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Overwrite the file if it exists.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Only keys starting with this.
    #[arg(long, default_value = "")]
    pub prefix: String,
}

pub fn export(ctx: &mut Ctx, a: ExportArgs) -> Result<()> {
    let to_stdout = a.out.as_os_str() == "-";
    if !to_stdout && a.out.exists() && !a.force {
        return Err(OpsError::conflict(format!(
            "{} exists; pass --force to overwrite it",
            a.out.display()
        )));
    }
    let listed = ctx.store.list(&a.prefix)?;
    let keys: Vec<String> = listed.iter().map(|k| k.name.clone()).collect();
    let values = ctx.store.get_many(&keys)?;
    let mut items = Vec::with_capacity(listed.len());
    for k in listed {
        let Some(Some(v)) = values.get(&k.name) else {
            continue; // deleted meanwhile
        };
        let mut o = json!({"key": k.name, "value": v});
        if let Some(m) = k.metadata {
            o["metadata"] = m;
        }
        items.push(o);
    }
    let text = serde_json::to_string_pretty(&items).expect("JSON") + "\n";
    if to_stdout {
        ctx.out.write_all(text.as_bytes())?;
    } else {
        if a.force && a.out.exists() {
            std::fs::remove_file(&a.out).map_err(|e| {
                OpsError::failure(format!("cannot replace {}: {e}", a.out.display()))
            })?;
        }
        store::write_private(&a.out, text.as_bytes())?;
    }
    ctx.note(format!(
        "exported {} record(s) from {}{}; restore with: npx wrangler kv bulk put <file> --binding RECORDS --local|--remote",
        items.len(),
        ctx.store.describe(),
        if to_stdout {
            String::new()
        } else {
            format!(" to {}", a.out.display())
        }
    ));
    Ok(())
}

/// Keys of a JWT issuer the Worker skips: by position and kid, with the reason (no value).
fn issuer_warnings(key: &str, issuer: &str, text: &str, warnings: &mut Vec<String>) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return;
    };
    for (i, k) in v
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Err(why) = super::keys::stored_key_usable(k) {
            let kid = k.get("kid").and_then(Value::as_str).unwrap_or("-");
            warnings.push(format!(
                "{key}: keys[{i}] (kid {kid:?}): {why} (edge-records issuer remove {issuer:?} --kid ...)"
            ));
        }
    }
}

/// Signature keys of an app the Worker skips.
fn app_key_warnings(key: &str, text: &str, warnings: &mut Vec<String>) {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return;
    };
    for (i, k) in v
        .get("signature_keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Err(why) = super::keys::stored_key_usable(k) {
            let kid = k.get("kid").and_then(Value::as_str).unwrap_or("-");
            warnings.push(format!("{key}: signature_keys[{i}] (kid {kid:?}): {why}"));
        }
    }
}

pub fn check(ctx: &mut Ctx, a: CheckArgs) -> Result<()> {
    let listed = ctx.store.list(&a.prefix)?;
    let keys: Vec<String> = listed.iter().map(|k| k.name.clone()).collect();
    let values = ctx.store.get_many(&keys)?;
    let mut malformed = Vec::new();
    let mut warnings = Vec::new();
    let mut other = 0usize;
    let (mut apps, mut tokens, mut jtis) = (0usize, 0usize, 0usize);
    let app_ids: BTreeSet<&str> = keys
        .iter()
        .filter_map(|k| k.strip_prefix(APP_PREFIX))
        .collect();
    let whole_apps = APP_PREFIX.starts_with(&a.prefix);
    for k in &listed {
        let Some(Some(text)) = values.get(&k.name) else {
            continue;
        };
        if k.name.starts_with(APP_PREFIX) {
            apps += 1;
            match rec::parse_app(&k.name, text) {
                Err(e) => malformed.push(e),
                Ok(_) => app_key_warnings(&k.name, text, &mut warnings),
            }
        } else if let Some(hash) = k.name.strip_prefix(TOKEN_PREFIX) {
            tokens += 1;
            if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                warnings.push(format!(
                    "{}: not a lowercase SHA-256 hex key, so no token can ever match it",
                    k.name
                ));
            }
            match rec::parse_token(&k.name, text) {
                Err(e) => malformed.push(e),
                Ok(t) => {
                    if whole_apps && !app_ids.contains(t.client_id.as_str()) {
                        warnings.push(format!(
                            "{}: its app {:?} does not exist, so it is refused",
                            k.name, t.client_id
                        ));
                    }
                    let meta = k
                        .metadata
                        .as_ref()
                        .and_then(|m| m.get("client_id"))
                        .and_then(Value::as_str);
                    if meta.is_some_and(|m| m != t.client_id) {
                        warnings.push(format!(
                            "{}: KV metadata names app {:?} but the record names {:?} (token list would miss it)",
                            k.name,
                            meta.unwrap_or_default(),
                            t.client_id
                        ));
                    }
                }
            }
        } else {
            // Other record types the Worker knows (JWT issuers, JWT revocations, ...).
            let res = match edge_interceptors::records::parse(&k.name, text) {
                Err(e) if e.starts_with("no record type") => {
                    other += 1;
                    continue;
                }
                r => r.map(|_| ()),
            };
            jtis += 1;
            if let Err(e) = res {
                malformed.push(rec::record_error(&k.name, text, &e));
            }
            if let Some(issuer) = k.name.strip_prefix(ISSUER_PREFIX) {
                issuer_warnings(&k.name, issuer, text, &mut warnings);
            }
        }
    }
    for w in &warnings {
        ctx.note(format!("warning: {w}"));
    }
    for m in &malformed {
        ctx.say(format!("malformed: {m}"))?;
    }
    ctx.say(format!(
        "checked {} record(s) in {}: {apps} app(s), {tokens} token(s), {jtis} other record(s) (JWT issuers, revocations), {other} key(s) of no known type; {} malformed, {} warning(s)",
        apps + tokens + jtis + other,
        ctx.store.describe(),
        malformed.len(),
        warnings.len()
    ))?;
    if !malformed.is_empty() {
        return Err(OpsError::new(
            Exit::Malformed,
            format!(
                "{} malformed record(s): the Worker answers 500 to calls that read them",
                malformed.len()
            ),
        ));
    }
    Ok(())
}
