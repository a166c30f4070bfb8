//! `edge-records token ...`: issue, import (from standard input), revoke, show, list.
//!
//! Tokens are stored under `token:<sha256 hex of the token>` only; the raw token is printed
//! once by `issue` and never written anywhere else, nor read from the command line.

use super::app::{describe_grants, print_table, require_app, DryRun};
use super::error::{Exit, OpsError, Result};
use super::grants::{self, G};
use super::rec::{self, Obj};
use super::store::Entry;
use super::util;
use super::Ctx;
use clap::{Args, Subcommand};
use edge_interceptors::records::{self, TOKEN_PREFIX};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Issue a new token for an app: 256 random bits as 43 base64url characters, printed once
    /// on standard output; only its SHA-256 is stored.
    Issue(IssueArgs),
    /// Import existing tokens, read from standard input (one per line; never from the command
    /// line, where shell history would keep them).
    Import(ImportArgs),
    /// Revoke tokens: read from standard input (one per line), or given by hash (--hash), or
    /// every token of an app (--app). Prints when the revocation takes effect everywhere.
    Revoke(RevokeArgs),
    /// Show a token's record and state: the token read from standard input, or --hash.
    Show {
        /// The token's SHA-256 (64 hex digits, as `token list` shows) instead of the token.
        #[arg(long)]
        hash: Option<String>,
    },
    /// List an app's tokens: hash, state, expiry, grant type, scope.
    List {
        /// The app's client id.
        #[arg(long)]
        app: String,
    },
}

#[derive(Debug, Args)]
pub struct TokenFields {
    /// The owning app's client id.
    #[arg(long)]
    pub app: String,
    /// Lifetime from now (`3600s`, `12h`, `30d`); no expiry when neither this nor --expires-at.
    #[arg(long, value_name = "DURATION", conflicts_with = "expires_at")]
    pub expires_in: Option<String>,
    /// Expiry: RFC 3339 with a zone, or epoch seconds.
    #[arg(long, value_name = "WHEN")]
    pub expires_at: Option<String>,
    /// Narrow the token to an API or API:RESOURCE[,RESOURCE...] (repeat for more); a call must
    /// be granted by the app and by the token's scope.
    #[arg(long = "scope", value_name = "GRANT")]
    pub scope: Vec<String>,
    /// Scope names the policy in the configuration does not know.
    #[arg(long)]
    pub allow_unknown: bool,
    /// Extra info (JSON) passed to the origin.
    #[arg(long, value_name = "JSON")]
    pub extra_info: Option<String>,
    /// Grant type recorded with the token (informational).
    #[arg(long, value_name = "TYPE")]
    pub grant_type: Option<String>,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    #[command(flatten)]
    pub fields: TokenFields,
    #[command(flatten)]
    pub dry: DryRun,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub fields: TokenFields,
    /// Store the tokens as revoked.
    #[arg(long)]
    pub revoked: bool,
    /// Replace tokens that are already stored instead of refusing.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub dry: DryRun,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// A token's SHA-256 (64 hex digits); repeat for more.
    #[arg(long = "hash", value_name = "SHA256")]
    pub hashes: Vec<String>,
    /// Every token of this app; repeat for more apps.
    #[arg(long = "app", value_name = "CLIENT_ID")]
    pub apps: Vec<String>,
    /// Do not ask before revoking the tokens of more than one app.
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub dry: DryRun,
}

pub fn run(ctx: &mut Ctx, cmd: TokenCmd) -> Result<()> {
    match cmd {
        TokenCmd::Issue(a) => issue(ctx, a),
        TokenCmd::Import(a) => import(ctx, a),
        TokenCmd::Revoke(a) => revoke(ctx, a),
        TokenCmd::Show { hash } => show(ctx, hash.as_deref()),
        TokenCmd::List { app } => list(ctx, &app),
    }
}

/// The token record the fields describe (without `revoked`'s final value).
fn build_record(ctx: &mut Ctx, f: &TokenFields, default_grant_type: Option<&str>) -> Result<Obj> {
    let app = require_app(ctx, &f.app)?;
    let state = rec::app_state(&app, ctx.now);
    if state != "usable" {
        ctx.note(format!(
            "warning: app {} is {state}: its tokens are refused until it is usable",
            f.app
        ));
    }
    let mut o = Obj::new();
    o.insert("client_id".into(), json!(f.app));
    o.insert("revoked".into(), json!(false));
    if let Some(g) = f.grant_type.as_deref().or(default_grant_type) {
        o.insert("grant_type".into(), json!(g));
    }
    let expires = match (&f.expires_in, &f.expires_at) {
        (Some(d), _) => Some(ctx.now + util::parse_duration(d)?),
        (None, Some(t)) => Some(util::parse_time(t)?),
        (None, None) => None,
    };
    if let Some(t) = expires {
        if t <= ctx.now {
            ctx.note(format!(
                "warning: the expiry {} has passed: the token is refused",
                util::format_time(t)
            ));
        }
        o.insert("expires_at".into(), json!(util::format_time(t)));
    }
    if !f.scope.is_empty() {
        let mut scope = Vec::new();
        for s in &f.scope {
            let g = grants::parse_spec(s)?;
            grants::check_known(&g, &ctx.policy, f.allow_unknown)?;
            scope.push(g);
        }
        let scope = grants::normalize(scope);
        let app_grants: Vec<G> = app
            .access
            .iter()
            .map(|g| G {
                api: g.api.clone(),
                resources: g.resources.clone(),
            })
            .collect();
        let usable = grants::intersect(&scope, &app_grants);
        if grants::normalize(usable.clone()) != scope {
            ctx.note(format!(
                "warning: the app is not granted all of the scope ({}); calls need both, so the token can call only: {}",
                describe_grants(&scope),
                describe_grants(&usable)
            ));
        }
        o.insert(
            "scope".into(),
            serde_json::to_value(&scope).expect("grants"),
        );
    }
    if let Some(x) = &f.extra_info {
        o.insert("extra_info".into(), util::parse_json_arg(x, "extra info")?);
    }
    Ok(o)
}

fn issue(ctx: &mut Ctx, a: IssueArgs) -> Result<()> {
    let obj = build_record(ctx, &a.fields, Some("client_credentials"))?;
    if a.dry.dry_run {
        ctx.say(serde_json::to_string_pretty(&Value::Object(obj)).expect("JSON"))?;
        ctx.note("dry run: no token generated, nothing written");
        return Ok(());
    }
    let token = util::new_token();
    let key = records::token_key(&token).expect("short token");
    let text = rec::to_text(&key, &obj)?;
    let mut e = Entry::new(&key, text);
    e.metadata = Some(rec::token_metadata(&a.fields.app));
    ctx.write(&[e], false)?;
    ctx.say(&token)?;
    let line = ctx.policy.creation_effect(ctx.store.is_remote(), ctx.now);
    ctx.note(format!(
        "token {} issued for app {} ({key}); it is shown once: only its SHA-256 is stored; {line}",
        records::fingerprint(&token),
        a.fields.app
    ));
    Ok(())
}

fn import(ctx: &mut Ctx, a: ImportArgs) -> Result<()> {
    if ctx.stdin_is_tty {
        ctx.note("reading tokens from standard input, one per line; end with Ctrl-D");
    }
    let tokens = util::read_credential_lines(ctx.stdin, "token")?;
    if tokens.is_empty() {
        return Err(OpsError::bad_input(
            "no token on standard input (one per line)",
        ));
    }
    let mut obj = build_record(ctx, &a.fields, None)?;
    if a.revoked {
        obj.insert("revoked".into(), json!(true));
    }
    let mut keys: Vec<String> = Vec::with_capacity(tokens.len());
    let mut seen = BTreeSet::new();
    for (i, t) in tokens.iter().enumerate() {
        let k = records::token_key(t).expect("checked length");
        if !seen.insert(k.clone()) {
            return Err(OpsError::bad_input(format!(
                "standard input line {}: the same token as an earlier line ({})",
                i + 1,
                records::fingerprint(t)
            )));
        }
        keys.push(k);
    }
    let existing = ctx.store.get_many(&keys)?;
    let present: Vec<&String> = keys
        .iter()
        .filter(|k| existing.get(*k).is_some_and(Option::is_some))
        .collect();
    if !present.is_empty() && !a.replace {
        return Err(OpsError::conflict(format!(
            "{} token(s) already stored ({}); pass --replace to overwrite them",
            present.len(),
            present
                .iter()
                .take(3)
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let text = rec::to_text(&keys[0], &obj)?;
    let entries: Vec<Entry> = keys
        .iter()
        .map(|k| {
            let mut e = Entry::new(k, text.clone());
            e.metadata = Some(rec::token_metadata(&a.fields.app));
            e
        })
        .collect();
    if a.dry.dry_run {
        ctx.say(serde_json::to_string_pretty(&Value::Object(obj)).expect("JSON"))?;
    }
    ctx.write(&entries, a.dry.dry_run)?;
    if !a.dry.dry_run {
        ctx.note(format!(
            "{} token(s) imported for app {} ({} new, {} replaced){}",
            entries.len(),
            a.fields.app,
            entries.len() - present.len(),
            present.len(),
            if a.revoked { ", revoked" } else { "" }
        ));
    }
    Ok(())
}

/// Every token of `client_id`: `(key, value)`. KV metadata names the owner of tokens this tool
/// wrote, so only the others are read to find out.
pub fn tokens_of_app(ctx: &mut Ctx, client_id: &str) -> Result<Vec<(String, String)>> {
    let listed = ctx.store.list(TOKEN_PREFIX)?;
    let mut wanted = Vec::new();
    let mut unknown_owner = Vec::new();
    for k in listed {
        match k
            .metadata
            .as_ref()
            .and_then(|m| m.get("client_id"))
            .and_then(Value::as_str)
        {
            Some(c) if c == client_id => wanted.push(k.name),
            Some(_) => {}
            None => unknown_owner.push(k.name),
        }
    }
    wanted.extend(unknown_owner);
    let values = ctx.store.get_many(&wanted)?;
    let mut out = Vec::new();
    for (k, v) in values {
        let Some(v) = v else { continue };
        let owner = serde_json::from_str::<Value>(&v)
            .ok()
            .and_then(|o| o.get("client_id").and_then(Value::as_str).map(String::from));
        if owner.as_deref() == Some(client_id) {
            out.push((k, v));
        }
    }
    Ok(out)
}

fn revoke(ctx: &mut Ctx, a: RevokeArgs) -> Result<()> {
    // key -> how to name it in messages (never the token)
    let mut targets: BTreeMap<String, String> = BTreeMap::new();
    let mut known: BTreeMap<String, Option<String>> = BTreeMap::new();
    if a.hashes.is_empty() && a.apps.is_empty() {
        if ctx.stdin_is_tty {
            ctx.note("reading tokens from standard input, one per line; end with Ctrl-D");
        }
        let tokens = util::read_credential_lines(ctx.stdin, "token")?;
        if tokens.is_empty() {
            return Err(OpsError::bad_input(
                "no token to revoke: give tokens on standard input (one per line), --hash or --app",
            ));
        }
        for (i, t) in tokens.iter().enumerate() {
            let k = records::token_key(t).expect("checked length");
            targets.insert(
                k,
                format!("the token on line {} ({})", i + 1, records::fingerprint(t)),
            );
        }
    }
    for h in &a.hashes {
        let k = util::token_key_from_hash(h)?;
        targets.insert(k.clone(), k);
    }
    for app in &a.apps {
        util::check_client_id(app)?;
        let found = tokens_of_app(ctx, app)?;
        if found.is_empty() {
            let key = records::app_key(app).expect("checked");
            if super::store::get_one(ctx.store, &key)?.is_none() {
                return Err(OpsError::not_found(format!(
                    "unknown app {app:?} (no {key}, no tokens)"
                )));
            }
            ctx.note(format!("app {app} has no tokens"));
        }
        for (k, v) in found {
            targets.insert(k.clone(), k.clone());
            known.insert(k, Some(v));
        }
    }
    let to_read: Vec<String> = targets
        .keys()
        .filter(|k| !known.contains_key(*k))
        .cloned()
        .collect();
    known.extend(ctx.store.get_many(&to_read)?);
    let missing: Vec<&String> = targets
        .iter()
        .filter(|(k, _)| known.get(*k).is_none_or(Option::is_none))
        .map(|(_, name)| name)
        .collect();
    if !missing.is_empty() {
        return Err(OpsError::not_found(format!(
            "{} token(s) not found, nothing revoked: {}",
            missing.len(),
            missing
                .iter()
                .take(5)
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut owners: BTreeMap<String, usize> = BTreeMap::new();
    let mut entries = Vec::new();
    let mut already = 0;
    for key in targets.keys() {
        let text = known[key].clone().expect("present");
        let t = rec::parse_token(key, &text).map_err(|e| OpsError::new(Exit::Malformed, e))?;
        let mut obj = rec::parse_object(key, Some(text))?.expect("present");
        *owners.entry(t.client_id.clone()).or_default() += 1;
        if t.revoked {
            already += 1;
            continue;
        }
        obj.insert("revoked".into(), json!(true));
        let mut e = Entry::new(key, rec::to_text(key, &obj)?);
        e.metadata = Some(rec::token_metadata(&t.client_id));
        entries.push(e);
    }
    let apps_list = owners.keys().cloned().collect::<Vec<_>>().join(", ");
    if owners.len() > 1 && !a.yes && !a.dry.dry_run {
        let q = format!(
            "Revoke {} token(s) of {} apps ({apps_list})?",
            entries.len(),
            owners.len()
        );
        if !(ctx.confirm)(&q)? {
            return Err(OpsError::new(
                Exit::NotConfirmed,
                "not confirmed; nothing revoked",
            ));
        }
    }
    ctx.write(&entries, a.dry.dry_run)?;
    if a.dry.dry_run {
        return Ok(());
    }
    let mut msg = format!("revoked {} token(s) of app(s) {apps_list}", entries.len());
    if already > 0 {
        msg.push_str(&format!("; {already} already revoked"));
    }
    ctx.note(msg);
    if !entries.is_empty() {
        let line = ctx.policy.revocation_effect(ctx.store.is_remote(), ctx.now);
        ctx.note(format!("the revocation {line}"));
    }
    Ok(())
}

fn show(ctx: &mut Ctx, hash: Option<&str>) -> Result<()> {
    let (key, name) = match hash {
        Some(h) => {
            let k = util::token_key_from_hash(h)?;
            (k.clone(), k)
        }
        None => {
            if ctx.stdin_is_tty {
                ctx.note("reading the token from standard input; end with Ctrl-D");
            }
            let t = util::read_one_credential(ctx.stdin, "token")?;
            (
                records::token_key(&t).expect("checked length"),
                format!("the token {}", records::fingerprint(&t)),
            )
        }
    };
    let text = super::store::get_one(ctx.store, &key)?
        .ok_or_else(|| OpsError::not_found(format!("{name} is not stored ({key})")))?;
    let (state, app_state) = match rec::parse_token(&key, &text) {
        Ok(t) => {
            let app_key = records::app_key(&t.client_id);
            let app_state = match app_key {
                Some(k) => match super::store::get_one(ctx.store, &k)? {
                    None => "unknown app".to_string(),
                    Some(v) => match rec::parse_app(&k, &v) {
                        Ok(a) => rec::app_state(&a, ctx.now),
                        Err(e) => format!("malformed: {e}"),
                    },
                },
                None => "unknown app".into(),
            };
            (rec::token_state(&t, ctx.now), app_state)
        }
        Err(e) => (format!("malformed: {e}"), "-".into()),
    };
    let record: Value = serde_json::from_str(&text).unwrap_or(Value::String("<not JSON>".into()));
    let out = json!({"key": key, "state": state, "app_state": app_state, "record": record});
    ctx.say(serde_json::to_string_pretty(&out).expect("JSON"))
}

fn list(ctx: &mut Ctx, client_id: &str) -> Result<()> {
    util::check_client_id(client_id)?;
    let found = tokens_of_app(ctx, client_id)?;
    if found.is_empty() {
        let key = records::app_key(client_id).expect("checked");
        if super::store::get_one(ctx.store, &key)?.is_none() {
            return Err(OpsError::not_found(format!(
                "unknown app {client_id:?} (no {key}, no tokens)"
            )));
        }
    }
    let mut rows = vec![[
        "HASH".to_string(),
        "STATE".into(),
        "EXPIRES".into(),
        "GRANT_TYPE".into(),
        "SCOPE".into(),
    ]];
    for (k, v) in &found {
        let hash = k[TOKEN_PREFIX.len()..].to_string();
        match rec::parse_token(k, v) {
            Ok(t) => rows.push([
                hash,
                rec::token_state(&t, ctx.now),
                t.expires_at.map_or("-".into(), util::format_time),
                t.grant_type.clone().unwrap_or_else(|| "-".into()),
                t.scope.as_ref().map_or("-".into(), |s| {
                    s.iter()
                        .map(|g| match &g.resources {
                            None => g.api.clone(),
                            Some(r) => format!("{}:{}", g.api, r.join(",")),
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                }),
            ]),
            Err(_) => rows.push([hash, "malformed".into(), "-".into(), "-".into(), "-".into()]),
        }
    }
    print_table(ctx, &rows)?;
    ctx.note(format!("{} token(s) of app {client_id}", found.len()));
    Ok(())
}
