//! `edge-records issuer ...`: the keys of a JWT issuer, in the record the JWT interceptor reads
//! for issuers with `kv_keys` — `jwt-issuer:<issuer>` → `{"keys": [...]}` (docs/records.md):
//!
//! - a JWK: the key's members with `kid` and `alg` (`{"kid", "alg", "kty", "n", "e"}`), public
//!   keys only, or an `oct` HMAC secret (`k`, base64url): HMAC secrets live only here;
//! - a PEM public key: `{"kid", "alg", "pem"}` (SPKI, re-encoded with LF line ends);
//! - optionally `not_after` (RFC 3339): not used from then on.
//!
//! Every key is pinned to one algorithm and must be usable by the Worker: the same checks as
//! `app key add` ([`super::keys`]), then the Worker's own parser. Key ids are unique per
//! issuer, and required as soon as the issuer has more than one key (a token without `kid` is
//! verified only when exactly one key fits its algorithm).
//!
//! Rotation takes two steps: `add` the new key (printed: when every isolate uses it; start
//! signing with it then), later `remove` the old one (printed: when tokens signed with it are
//! refused everywhere).

use super::app::DryRun;
use super::error::{Exit, OpsError, Result};
use super::keys::{self, check_kid, read_input, validate_jwk_value, worker_accepts};
use super::rec::Obj;
use super::redact;
use super::store::{get_one, Entry};
use super::util;
use super::Ctx;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use clap::{Args, Subcommand};
use edge_interceptors::crypto::keys::{Alg, Kind};
use edge_interceptors::records::{self, ISSUER_PREFIX, MAX_KEY_BYTES};
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum IssuerCmd {
    /// Add a key to a JWT issuer (a JWK, every key of a JWK Set, a PEM public key, or an HMAC
    /// secret); prints when every isolate uses it.
    Add(AddArgs),
    /// Remove a key from a JWT issuer, by key id (or every key: --all); prints when tokens
    /// signed with it are refused everywhere.
    Remove {
        /// The issuer, exactly as in the tokens' `iss`.
        issuer: String,
        /// The key id.
        #[arg(long, required_unless_present = "all", conflicts_with = "all")]
        kid: Option<String>,
        /// Remove every key of the issuer (its tokens are then all refused).
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        dry: DryRun,
    },
    /// List the JWT issuers with keys in KV: issuer, number of keys, key ids.
    List,
    /// Show an issuer's keys: key id, algorithm, kind, not_after and whether the Worker uses it
    /// (HMAC secrets are never shown).
    Show {
        /// The issuer, exactly as in the tokens' `iss`.
        issuer: String,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["pem", "jwk", "jwks", "hmac"])))]
pub struct AddArgs {
    /// The issuer, exactly as in the tokens' `iss`.
    pub issuer: String,
    /// The key id (the `kid` tokens name). Required when the issuer has or gets more than one
    /// key; with --jwk it may come from the JWK; with --jwks each key's own `kid` is used.
    #[arg(long)]
    pub kid: Option<String>,
    /// A public key in PEM (`-----BEGIN PUBLIC KEY-----`): a file, or `-` for standard input.
    #[arg(long, value_name = "FILE")]
    pub pem: Option<PathBuf>,
    /// One JWK (JSON): a file, or `-` for standard input. Public keys, or an `oct` HMAC secret.
    #[arg(long, value_name = "FILE")]
    pub jwk: Option<PathBuf>,
    /// A JWK Set (`{"keys": [...]}`): every key is added, each with its own `kid`.
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
    /// An HMAC secret, read from standard input (one line; its bytes are the secret) unless
    /// --generate; needs --alg HS256, HS384 or HS512.
    #[arg(long)]
    pub hmac: bool,
    /// With --hmac: generate a secret of the algorithm's length and print it once (base64url).
    #[arg(long, requires = "hmac")]
    pub generate: bool,
    /// With --hmac: the line on standard input is base64 (standard or URL-safe) of the bytes.
    #[arg(long, requires = "hmac", conflicts_with = "generate")]
    pub base64: bool,
    /// The algorithm the key verifies (HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384,
    /// PS512, ES256, EdDSA). Inferred from EC P-256 and Ed25519 keys and from a JWK's `alg`;
    /// required for RSA keys and HMAC secrets.
    #[arg(long)]
    pub alg: Option<String>,
    /// The key is not used from this instant on (RFC 3339 with a zone, or epoch seconds).
    #[arg(long, value_name = "WHEN")]
    pub not_after: Option<String>,
    /// Replace a key with the same key id instead of refusing.
    #[arg(long)]
    pub replace: bool,
    /// Add the key even if the policy in the configuration reads no keys from KV for this
    /// issuer, or does not accept the key's algorithm from it.
    #[arg(long)]
    pub allow_unknown: bool,
    #[command(flatten)]
    pub dry: DryRun,
}

/// The KV key of an issuer's keys, or why there cannot be one.
pub fn issuer_key(issuer: &str) -> Result<String> {
    if issuer.is_empty() || issuer.chars().any(char::is_control) {
        return Err(OpsError::bad_input(
            "the issuer must be non-empty, without control characters",
        ));
    }
    records::issuer_key(issuer).ok_or_else(|| {
        OpsError::bad_input(format!(
            "jwt-issuer:<issuer> would exceed {MAX_KEY_BYTES} bytes, the longest KV key"
        ))
    })
}

pub fn run(ctx: &mut Ctx, cmd: IssuerCmd) -> Result<()> {
    match cmd {
        IssuerCmd::Add(a) => add(ctx, a),
        IssuerCmd::Remove {
            issuer,
            kid,
            all,
            dry,
        } => remove(ctx, &issuer, kid.as_deref(), all, dry.dry_run),
        IssuerCmd::List => list(ctx),
        IssuerCmd::Show { issuer } => show(ctx, &issuer),
    }
}

/// The stored record's keys (`None`: no record), or why it cannot be edited.
fn load(ctx: &mut Ctx, key: &str) -> Result<Option<(Obj, Vec<Value>)>> {
    let Some(text) = get_one(ctx.store, key)? else {
        return Ok(None);
    };
    let malformed = |why: String| {
        OpsError::new(
            Exit::Malformed,
            format!("{key} is malformed ({why}); fix or replace it (see `edge-records check`)"),
        )
    };
    let v: Value = serde_json::from_str(&text).map_err(|e| malformed(redact::serde_error(&e)))?;
    let Value::Object(mut o) = v else {
        return Err(malformed("not a JSON object".into()));
    };
    let keys = match o.remove("keys") {
        Some(Value::Array(k)) => k,
        None => Vec::new(),
        Some(_) => return Err(malformed("keys is not a list".into())),
    };
    Ok(Some((o, keys)))
}

fn kid_of(k: &Value) -> Option<&str> {
    k.get("kid").and_then(Value::as_str)
}

/// The record text, checked by the Worker's parser. New keys were checked one by one before;
/// a key stored earlier that the Worker skips is reported, not refused (it may be the one being
/// removed, or be fixed next).
fn to_text(ctx: &mut Ctx, key: &str, rest: &Obj, keys: &[Value]) -> Result<String> {
    let mut o = rest.clone();
    o.insert("keys".into(), Value::Array(keys.to_vec()));
    let text = serde_json::to_string(&o).expect("JSON");
    match records::parse(key, &text) {
        Ok(records::Record::Issuer(set)) => {
            if !set.skipped.is_empty() {
                ctx.note(format!(
                    "warning: {} key(s) of {key} are not used by the Worker (see `edge-records issuer show`)",
                    set.skipped.len()
                ));
            }
            Ok(text)
        }
        Ok(_) => Err(OpsError::failure(format!("{key} is not an issuer record"))),
        Err(e) => Err(OpsError::bad_input(format!(
            "the record would not parse in the Worker: {}",
            redact::quoted(&e)
        ))),
    }
}

/// One key to add, built from the input.
struct NewKey {
    kid: Option<String>,
    entry: Value,
}

fn new_keys(ctx: &mut Ctx, a: &AddArgs) -> Result<(Vec<NewKey>, Option<String>)> {
    let mut generated = None;
    let not_after = a
        .not_after
        .as_deref()
        .map(util::parse_time)
        .transpose()?
        .map(util::format_time);
    let mut out = Vec::new();
    let mut push = |kid: Option<String>, mut entry: Obj, alg: String| {
        if let Some(k) = &kid {
            entry.insert("kid".into(), json!(k));
        }
        entry.insert("alg".into(), json!(alg));
        if let Some(t) = &not_after {
            entry.insert("not_after".into(), json!(t));
        }
        // kid and alg first, as in docs/records.md.
        let mut ordered = Obj::new();
        for f in ["kid", "alg"] {
            if let Some(v) = entry.remove(f) {
                ordered.insert(f.into(), v);
            }
        }
        ordered.extend(entry);
        out.push(NewKey {
            kid,
            entry: Value::Object(ordered),
        });
    };
    if let Some(p) = &a.pem {
        let text = read_input(ctx, p, "PEM")?;
        let (pem, alg) = keys::validate_pem(&text, a.alg.as_deref())?;
        let mut o = Obj::new();
        o.insert("pem".into(), json!(pem));
        push(a.kid.clone(), o, alg);
    } else if let Some(p) = &a.jwk {
        let text = read_input(ctx, p, "JWK")?;
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            OpsError::bad_input(format!(
                "malformed JWK: not JSON: {}",
                redact::serde_error(&e)
            ))
        })?;
        let kid = a.kid.clone().or_else(|| kid_of(&v).map(String::from));
        let (jwk, alg) = validate_jwk_value(v, a.kid.as_deref(), a.alg.as_deref(), true)?;
        push(kid, jwk.as_object().cloned().unwrap_or_default(), alg);
    } else if let Some(p) = &a.jwks {
        if a.kid.is_some() {
            return Err(OpsError::bad_input(
                "--kid with --jwks: each key of the set carries its own kid",
            ));
        }
        let text = read_input(ctx, p, "JWK Set")?;
        let v: Value = serde_json::from_str(&text).map_err(|e| {
            OpsError::bad_input(format!(
                "malformed JWK Set: not JSON: {}",
                redact::serde_error(&e)
            ))
        })?;
        let list = v
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| OpsError::bad_input("malformed JWK Set: no \"keys\" list"))?;
        if list.is_empty() {
            return Err(OpsError::bad_input("the JWK Set has no keys"));
        }
        for (i, k) in list.iter().enumerate() {
            let kid = kid_of(k).map(String::from);
            let (jwk, alg) = validate_jwk_value(k.clone(), None, a.alg.as_deref(), true)
                .map_err(|e| OpsError::new(e.exit, format!("keys[{i}]: {}", e.message)))?;
            push(kid, jwk.as_object().cloned().unwrap_or_default(), alg);
        }
    } else {
        let alg = match a.alg.as_deref() {
            Some(x @ ("HS256" | "HS384" | "HS512")) => Alg::parse(x).expect("HMAC algorithm"),
            Some(x) => {
                return Err(OpsError::bad_input(match keys::refused_alg(x) {
                    Some(why) => format!("the Worker cannot use this secret: {why}"),
                    None => format!("--alg {x} with --hmac: use HS256, HS384 or HS512"),
                }))
            }
            None => {
                return Err(OpsError::bad_input(
                    "--hmac needs --alg HS256, HS384 or HS512",
                ))
            }
        };
        let bytes = if a.generate {
            let b = util::random_bytes(alg.min_secret_len());
            generated = Some(URL_SAFE_NO_PAD.encode(&b));
            b
        } else {
            if ctx.stdin_is_tty {
                ctx.note("reading the HMAC secret from standard input; end with Enter and Ctrl-D");
            }
            let line = util::read_one_credential(ctx.stdin, "HMAC secret")?;
            if a.base64 {
                let t = line.trim_end_matches('=');
                URL_SAFE_NO_PAD
                    .decode(t)
                    .or_else(|_| STANDARD.decode(&line))
                    .map_err(|_| {
                        OpsError::bad_input("the HMAC secret on standard input is not base64")
                    })?
            } else {
                line.into_bytes()
            }
        };
        if bytes.len() < alg.min_secret_len() {
            return Err(OpsError::bad_input(format!(
                "the Worker cannot use this secret: an {} secret needs at least {} bytes (RFC 7518), this one has {}",
                alg.name(),
                alg.min_secret_len(),
                bytes.len()
            )));
        }
        let mut o = Obj::new();
        o.insert("kty".into(), json!("oct"));
        o.insert("k".into(), json!(URL_SAFE_NO_PAD.encode(&bytes)));
        push(a.kid.clone(), o, alg.name().to_string());
    }
    for k in &out {
        if let Some(kid) = &k.kid {
            check_kid(kid)?;
        }
        worker_accepts(&k.entry).map_err(|why| {
            OpsError::bad_input(format!(
                "{}: the Worker cannot use it: {why}",
                describe_kid(k.kid.as_deref())
            ))
        })?;
    }
    Ok((out, generated))
}

fn describe_kid(kid: Option<&str>) -> String {
    match kid {
        Some(k) => format!("key {k:?}"),
        None => "the key without kid".into(),
    }
}

/// Warnings (or, without --allow-unknown, refusals) when the policy would not use the keys.
fn check_policy(ctx: &mut Ctx, issuer: &str, keys: &[NewKey], allow: bool) -> Result<()> {
    let Some(issuers) = &ctx.policy.kv_issuers else {
        return Ok(());
    };
    let mut problems = Vec::new();
    match issuers.get(issuer) {
        None => problems.push(format!(
            "the policy ({}) has no JWT issuer {issuer:?} reading keys from KV (kv_keys)",
            ctx.policy.source
        )),
        Some(algs) => {
            for k in keys {
                let alg = k.entry.get("alg").and_then(Value::as_str).unwrap_or("");
                if !algs.contains(alg) {
                    problems.push(format!(
                        "{}: the policy accepts {} from issuer {issuer:?}, not {alg}",
                        describe_kid(k.kid.as_deref()),
                        algs.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    if allow {
        for p in problems {
            ctx.note(format!("warning: {p}"));
        }
        Ok(())
    } else {
        Err(OpsError::bad_input(format!(
            "{}; tokens would not pass with this key (--allow-unknown adds it anyway, e.g. before the policy is deployed)",
            problems.join("; ")
        )))
    }
}

fn add(ctx: &mut Ctx, a: AddArgs) -> Result<()> {
    let key = issuer_key(&a.issuer)?;
    // Input first: a bad key writes nothing and reads nothing.
    let (new, generated) = new_keys(ctx, &a)?;
    check_policy(ctx, &a.issuer, &new, a.allow_unknown)?;
    let existing = load(ctx, &key)?;
    let existed = existing.is_some();
    let (rest, mut list) = existing.unwrap_or_default();
    let old_kids: Vec<String> = list.iter().filter_map(kid_of).map(String::from).collect();
    let mut replaced = Vec::new();
    for n in &new {
        let clash = list
            .iter()
            .position(|k| n.kid.is_some() && kid_of(k) == n.kid.as_deref());
        match clash {
            Some(i) if a.replace => {
                list.remove(i);
                replaced.push(n.kid.clone().unwrap_or_default());
            }
            Some(_) => {
                return Err(OpsError::conflict(format!(
                    "issuer {:?} already has a key {:?}; pass --replace to replace it",
                    a.issuer,
                    n.kid.as_deref().unwrap_or_default()
                )))
            }
            None => {}
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for n in &new {
        if let Some(k) = &n.kid {
            if !seen.insert(k.clone()) {
                return Err(OpsError::conflict(format!(
                    "two keys of the input have kid {k:?}; key ids are unique per issuer"
                )));
            }
        }
    }
    list.extend(new.iter().map(|n| n.entry.clone()));
    if list.len() > 1 && list.iter().any(|k| kid_of(k).is_none()) {
        return Err(OpsError::bad_input(format!(
            "issuer {:?} would have {} keys and one without kid: with several keys every key needs a kid (--kid), since a token without kid is verified only when exactly one key fits",
            a.issuer,
            list.len()
        )));
    }
    let text = to_text(ctx, &key, &rest, &list)?;
    if a.dry.dry_run {
        ctx.say(serde_json::to_string_pretty(&shown(&list)).expect("JSON"))?;
    }
    ctx.write(&[Entry::new(&key, text)], a.dry.dry_run)?;
    if a.dry.dry_run {
        return Ok(());
    }
    let names: Vec<String> = new.iter().map(|n| describe_kid(n.kid.as_deref())).collect();
    let effect = ctx
        .policy
        .key_added_effect(existed, ctx.store.is_remote(), ctx.now);
    ctx.note(format!(
        "{} {} {key} ({} key(s) now); {} {effect}",
        names.join(", "),
        if replaced.is_empty() {
            "added to"
        } else {
            "replaced in"
        },
        list.len(),
        if new.len() == 1 { "it" } else { "they" }
    ));
    let others: Vec<&String> = old_kids
        .iter()
        .filter(|k| !replaced.contains(k) && !new.iter().any(|n| n.kid.as_ref() == Some(*k)))
        .collect();
    if !others.is_empty() {
        ctx.note(format!(
            "rotation: start signing with the new key once it is used everywhere; when no token signed with an old key is in use, remove it: edge-records issuer remove {} --kid {}",
            shell_word(&a.issuer),
            shell_word(others[0])
        ));
    }
    if let Some(s) = generated {
        ctx.say(format!("hmac_secret_b64url={s}"))?;
        ctx.note("the HMAC secret is shown once: give it to the issuer that signs the tokens");
    }
    Ok(())
}

fn remove(ctx: &mut Ctx, issuer: &str, kid: Option<&str>, all: bool, dry_run: bool) -> Result<()> {
    let key = issuer_key(issuer)?;
    let (rest, mut list) = load(ctx, &key)?
        .ok_or_else(|| OpsError::not_found(format!("unknown issuer {issuer:?} (no {key})")))?;
    let before = list.len();
    if all {
        list.clear();
    } else {
        list.retain(|k| kid_of(k) != kid);
    }
    if list.len() == before {
        return Err(OpsError::not_found(match kid {
            Some(k) => format!("issuer {issuer:?} has no key {k:?}"),
            None => format!("issuer {issuer:?} has no keys"),
        }));
    }
    let text = to_text(ctx, &key, &rest, &list)?;
    if dry_run {
        ctx.say(serde_json::to_string_pretty(&shown(&list)).expect("JSON"))?;
    }
    ctx.write(&[Entry::new(&key, text)], dry_run)?;
    if dry_run {
        return Ok(());
    }
    let what = match kid {
        Some(k) => format!("key {k:?} removed from {key}"),
        None => format!("every key removed from {key}"),
    };
    let line = ctx.policy.revocation_effect(ctx.store.is_remote(), ctx.now);
    ctx.note(format!(
        "{what} ({} key(s) left); the removal {line}: tokens signed with it are refused from then on",
        list.len()
    ));
    if list.is_empty() {
        ctx.note(format!(
            "warning: issuer {issuer:?} has no keys left: every token it signs is refused"
        ));
    }
    Ok(())
}

/// Keys fit for display: HMAC secrets replaced by `<redacted>`.
fn shown(list: &[Value]) -> Value {
    let keys: Vec<Value> = list
        .iter()
        .map(|k| {
            let mut k = k.clone();
            if let Some(o) = k.as_object_mut() {
                if o.contains_key("k") {
                    o.insert("k".into(), json!("<redacted>"));
                }
                if let Some(j) = o.get_mut("jwk").and_then(Value::as_object_mut) {
                    if j.contains_key("k") {
                        j.insert("k".into(), json!("<redacted>"));
                    }
                }
            }
            k
        })
        .collect();
    json!({ "keys": keys })
}

fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// One row per key: kid, alg, kind, not_after, and whether the Worker uses it.
fn key_rows(list: &[Value], now: i64) -> Vec<[String; 5]> {
    let mut rows = Vec::new();
    for (i, k) in list.iter().enumerate() {
        let kid = kid_of(k).map_or_else(|| "-".to_string(), String::from);
        let alg = k
            .get("alg")
            .and_then(Value::as_str)
            .filter(|a| Alg::parse(a).is_some())
            .unwrap_or("?")
            .to_string();
        let (kind, state) = match keys::stored_key_usable(k) {
            Ok(parsed) => {
                let kind = match parsed.kind {
                    Kind::Hmac => "hmac",
                    Kind::Rsa => "rsa",
                    Kind::P256 => "ec-p256",
                    Kind::Ed25519 => "ed25519",
                };
                let state = match parsed.not_after {
                    Some(t) if now >= t => "retired (past not_after)".to_string(),
                    _ => "used".to_string(),
                };
                (kind.to_string(), state)
            }
            Err(why) => ("?".to_string(), format!("UNUSABLE (keys[{i}]): {why}")),
        };
        let not_after = k
            .get("not_after")
            .and_then(|v| match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => records::parse_rfc3339(s),
                _ => None,
            })
            .map_or_else(|| "-".to_string(), util::format_time);
        rows.push([kid, alg, kind, not_after, state]);
    }
    rows
}

fn show(ctx: &mut Ctx, issuer: &str) -> Result<()> {
    let key = issuer_key(issuer)?;
    let (_, list) = load(ctx, &key)?
        .ok_or_else(|| OpsError::not_found(format!("unknown issuer {issuer:?} (no {key})")))?;
    let mut rows = vec![[
        "KID".to_string(),
        "ALG".into(),
        "KIND".into(),
        "NOT_AFTER".into(),
        "STATE".into(),
    ]];
    rows.extend(key_rows(&list, ctx.now));
    super::app::print_table(ctx, &rows)?;
    match ctx.policy.kv_issuers.as_ref().map(|m| m.get(issuer)) {
        Some(None) => ctx.note(format!(
            "warning: the policy ({}) reads no keys from KV for this issuer",
            ctx.policy.source
        )),
        Some(Some(algs)) => ctx.note(format!(
            "the policy accepts {} from this issuer",
            algs.iter().cloned().collect::<Vec<_>>().join(", ")
        )),
        None => {}
    }
    Ok(())
}

fn list(ctx: &mut Ctx) -> Result<()> {
    let keys: Vec<String> = ctx
        .store
        .list(ISSUER_PREFIX)?
        .into_iter()
        .map(|k| k.name)
        .collect();
    let values = ctx.store.get_many(&keys)?;
    let mut rows = vec![["ISSUER".to_string(), "KEYS".into(), "KIDS".into()]];
    for (k, text) in values {
        let Some(text) = text else { continue };
        let issuer = k[ISSUER_PREFIX.len()..].to_string();
        match serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("keys").and_then(Value::as_array).cloned())
        {
            Some(list) => {
                let kids: Vec<String> = list
                    .iter()
                    .map(|k| kid_of(k).unwrap_or("-").to_string())
                    .collect();
                rows.push([issuer, list.len().to_string(), kids.join(" ")]);
            }
            None => rows.push([issuer, "?".into(), "malformed".into()]),
        }
    }
    let n = rows.len() - 1;
    super::app::print_table(ctx, &rows)?;
    ctx.note(format!("{n} issuer(s)"));
    Ok(())
}
