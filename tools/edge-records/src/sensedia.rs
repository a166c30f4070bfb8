//! `edge-records import sensedia`: apps and access tokens from a Sensedia API Manager export
//! (the JSON lists the Manager API v3 returns for `GET /api-manager/api/v3/apps` and
//! `GET /api-manager/api/v3/access-tokens`), so that every token valid there is valid here and
//! every revoked or expired one is not.
//!
//! The mapping (also in docs/operations.md):
//!
//! | Sensedia | here |
//! |---|---|
//! | app `clientId` | the key `app:<clientId>` |
//! | app `name` | `name` |
//! | app `status` APPROVED / PENDING / REJECTED / CANCELLED | `status` (only APPROVED passes) |
//! | app `secret` | `client_secret_sha256` (its SHA-256; the secret is not stored) |
//! | app `apis` | `access`: each API (a name, or an object with `name` and optional `resources`) |
//! | app `extraInfo` | `extra_info` |
//! | token `code` | the key `token:<sha256 of code>` (the code is not stored) |
//! | token `app.clientId` | `client_id` (the app must be in the export or already in KV) |
//! | token `status` ACTIVE / REVOKED / EXPIRED | `revoked: false` / `revoked: true` / `expires_at` in the past |
//! | token `expiredDate` | `expires_at` (RFC 3339, `+0000` offsets too; numbers are epoch ms, or s below 10^11) |
//! | token `creationDate` + `expiresIn` | `expires_at`, only without `expiredDate`, in the unit given by `--expires-in-unit` |
//! | token `apis` and `scope` | `scope` (narrowing): both present → what both allow |
//! | token `extraInfo` | `extra_info` |
//! | token `grantType` | `grant_type` |
//! | token `refreshToken` | not imported (the gateway has no token endpoint) |
//!
//! Imported records carry `"source": "sensedia"`; importing again updates them (idempotent),
//! never lifts a revocation made here, and leaves records of other origin alone unless
//! `--overwrite`.

use super::app::DryRun;
use super::error::{Exit, OpsError, Result};
use super::grants::{self, G};
use super::rec::{self, Obj};
use super::redact;
use super::store::Entry;
use super::util;
use super::Ctx;
use clap::{Args, ValueEnum};
use edge_interceptors::records;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

pub const SOURCE: &str = "sensedia";

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Unit {
    Seconds,
    Milliseconds,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("input").required(true).multiple(true).args(["export", "apps", "tokens"])))]
pub struct SensediaArgs {
    /// One file holding both lists: apps under `apps`, access tokens under `accessTokens` (or
    /// `access_tokens`, `tokens`); each list may be wrapped in a page (`content`, `items`,
    /// `data`). Repeat for several files.
    #[arg(long = "export", value_name = "FILE")]
    pub export: Vec<PathBuf>,
    /// Apps as the Manager API v3 returns them (a JSON list, or an object holding one under
    /// `apps`, or a page's content/items/data); repeat for several pages.
    #[arg(long = "apps", value_name = "FILE")]
    pub apps: Vec<PathBuf>,
    /// Access tokens as the Manager API v3 returns them (a JSON list, or an object holding one
    /// under `accessTokens`, `access_tokens` or `tokens`, or a page's content/items/data);
    /// repeat for several pages.
    #[arg(long = "tokens", value_name = "FILE")]
    pub tokens: Vec<PathBuf>,
    /// The unit of `expiresIn` (Sensedia documents both). Used only for tokens without
    /// `expiredDate`; such tokens are refused when it is not given.
    #[arg(long, value_enum, value_name = "UNIT")]
    pub expires_in_unit: Option<Unit>,
    /// Rename a Sensedia API to its name in the policy: FROM=TO (repeat).
    #[arg(long = "api-map", value_name = "FROM=TO")]
    pub api_map: Vec<String>,
    /// What a token scope value means: VALUE=GRANT[;GRANT...] with GRANT = API[:RESOURCE,...]
    /// (repeat). Values that name an API of the policy need no mapping.
    #[arg(long = "scope-map", value_name = "VALUE=GRANTS")]
    pub scope_map: Vec<String>,
    /// Ignore the tokens' `scope` field (each token is then limited by its `apis` only).
    #[arg(long)]
    pub ignore_scope: bool,
    /// Import what maps and report the rest (default: write nothing when anything fails).
    #[arg(long)]
    pub skip_errors: bool,
    /// Also update records that exist and were not imported from Sensedia.
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub dry: DryRun,
}

struct Opts {
    unit: Option<Unit>,
    api_map: BTreeMap<String, String>,
    scope_map: BTreeMap<String, Vec<G>>,
    ignore_scope: bool,
}

#[derive(Debug)]
struct Problem {
    at: String,
    reason: String,
    conflict: bool,
}

struct MappedApp {
    at: String,
    client_id: String,
    obj: Obj,
}

struct MappedToken {
    at: String,
    key: String,
    client_id: String,
    obj: Obj,
    /// EXPIRED in the export though its date has not passed: stored as expired at import time.
    expired_by_flag: bool,
}

/// Which list of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Apps,
    Tokens,
}

impl ListKind {
    /// The fields that hold this list in an object.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            ListKind::Apps => &["apps"],
            ListKind::Tokens => &["accessTokens", "access_tokens", "tokens"],
        }
    }
    /// A field every entry of this list has.
    fn marker(self) -> &'static str {
        match self {
            ListKind::Apps => "clientId",
            ListKind::Tokens => "code",
        }
    }
    fn flag(self) -> &'static str {
        match self {
            ListKind::Apps => "--apps",
            ListKind::Tokens => "--tokens",
        }
    }
    fn what(self) -> &'static str {
        match self {
            ListKind::Apps => "apps",
            ListKind::Tokens => "access tokens",
        }
    }
    fn other(self) -> ListKind {
        match self {
            ListKind::Apps => ListKind::Tokens,
            ListKind::Tokens => ListKind::Apps,
        }
    }
}

/// Page wrappers around a list (`{"content": [...], "totalElements": …}`).
const PAGE_FIELDS: &[&str] = &["content", "items", "data"];

/// A list read from an export file.
#[derive(Debug)]
pub struct Loaded {
    pub items: Vec<Value>,
    /// Where in the file: `` (the file is the list), `apps`, `accessTokens.content`, `content`.
    pub field: String,
    /// The file.
    pub path: PathBuf,
}

impl Loaded {
    /// Where entry `i` is, for messages: `tokens.json[3]`, `export.json#accessTokens[3]`.
    pub fn at(&self, i: usize) -> String {
        if self.field.is_empty() {
            format!("{}[{i}]", self.path.display())
        } else {
            format!("{}#{}[{i}]", self.path.display(), self.field)
        }
    }
    /// Which list this is, for messages.
    pub fn describe(&self) -> String {
        if self.field.is_empty() {
            format!("the list that is {}", self.path.display())
        } else {
            format!("the list under {:?} in {}", self.field, self.path.display())
        }
    }
}

/// A list value, unwrapped from a page object.
fn as_list(v: Value, field: &str) -> std::result::Result<(Vec<Value>, String), String> {
    match v {
        Value::Array(a) => Ok((a, field.to_string())),
        Value::Object(mut o) => {
            for p in PAGE_FIELDS {
                if let Some(Value::Array(a)) = o.remove(*p) {
                    return Ok((a, format!("{field}.{p}")));
                }
            }
            Err(format!(
                "{field:?} is neither a list nor a page holding one under content, items or data"
            ))
        }
        _ => Err(format!("{field:?} is not a list")),
    }
}

fn read_json(path: &PathBuf) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| OpsError::bad_input(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        OpsError::bad_input(format!(
            "{} is not JSON: {}",
            path.display(),
            redact::serde_error(&e)
        ))
    })
}

/// Reads the `kind` list of an export file. With `export` (a file holding both lists) the list
/// is read only from its own field (`None` when the file has none); otherwise the file may
/// also be the list itself or a page holding it. A list whose entries look like the other
/// kind is refused, naming the list that was read.
pub fn load_list(path: &PathBuf, kind: ListKind, export: bool) -> Result<Option<Loaded>> {
    let v = read_json(path)?;
    load_list_from(v, path, kind, export)
}

fn load_list_from(
    v: Value,
    path: &std::path::Path,
    kind: ListKind,
    export: bool,
) -> Result<Option<Loaded>> {
    let bad = |m: String| OpsError::bad_input(format!("{}: {m}", path.display()));
    let (items, field) = match v {
        Value::Array(_) if export => {
            return Err(bad(format!(
                "a single JSON list; --export takes an object with both lists ({:?} and {:?}): pass a single list with --apps or --tokens",
                ListKind::Apps.fields()[0],
                ListKind::Tokens.fields()[0]
            )))
        }
        Value::Array(a) => (a, String::new()),
        Value::Object(mut o) => {
            let own = kind.fields().iter().find(|f| o.contains_key(**f));
            match own {
                Some(f) => {
                    let f = f.to_string();
                    as_list(o.remove(&f).unwrap_or_default(), &f).map_err(bad)?
                }
                None => {
                    let other = kind
                        .other()
                        .fields()
                        .iter()
                        .find(|f| o.contains_key(**f));
                    if export {
                        return Ok(None);
                    }
                    let page = PAGE_FIELDS
                        .iter()
                        .find_map(|p| match o.remove(*p) {
                            Some(Value::Array(a)) => Some((a, p.to_string())),
                            _ => None,
                        });
                    match (page, other) {
                        (Some(p), _) => p,
                        (None, Some(f)) => {
                            return Err(bad(format!(
                                "holds the {} list ({f:?}) and no {} list ({}): pass it with {}, or with --export when it holds both",
                                kind.other().what(),
                                kind.what(),
                                kind.fields().join(", "),
                                kind.other().flag()
                            )))
                        }
                        (None, None) => {
                            let mut names: Vec<&str> = o.keys().map(String::as_str).collect();
                            names.truncate(12);
                            return Err(bad(format!(
                                "no {} list: expected a JSON list, or an object with one under {}, content, items or data (its fields: {})",
                                kind.what(),
                                kind.fields().join(", "),
                                names.join(", ")
                            )));
                        }
                    }
                }
            }
        }
        _ => return Err(bad("expected a JSON list or object".into())),
    };
    let loaded = Loaded {
        items,
        field,
        path: path.to_path_buf(),
    };
    // Entries of the other kind: the wrong list was given (or read).
    let has = |m: &str| loaded.items.iter().filter(|e| e.get(m).is_some()).count();
    let (mine, theirs) = (has(kind.marker()), has(kind.other().marker()));
    if !loaded.items.is_empty() && mine == 0 && theirs > 0 {
        return Err(OpsError::bad_input(format!(
            "read {} as {}: none of its {} entries has {:?} and {theirs} have {:?}, so it looks like {}: pass it with {}{}",
            loaded.describe(),
            kind.what(),
            loaded.items.len(),
            kind.marker(),
            kind.other().marker(),
            kind.other().what(),
            kind.other().flag(),
            if export { "" } else { " (or a file holding both lists with --export)" }
        )));
    }
    Ok(Some(loaded))
}

fn str_field<'a>(o: &'a Value, name: &str) -> std::result::Result<Option<&'a str>, String> {
    match o.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(format!("{name} is not a string")),
    }
}

/// A Sensedia date: RFC 3339 (also with a `+0000` offset), or a number (epoch milliseconds;
/// values below 10^11 are taken as seconds).
pub fn parse_date(v: &Value, field: &str) -> std::result::Result<i64, String> {
    let t = parse_date_any(v, field)?;
    if !(0..=util::MAX_TIME).contains(&t) {
        return Err(format!("{field} is out of range (1970 to 9999)"));
    }
    Ok(t)
}

fn parse_date_any(v: &Value, field: &str) -> std::result::Result<i64, String> {
    let num = |n: i64| {
        if n.abs() >= 100_000_000_000 {
            n.div_euclid(1000)
        } else {
            n
        }
    };
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f as i64))
            .map(num)
            .ok_or_else(|| format!("{field} is not a time")),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
            .parse::<i64>()
            .map(num)
            .map_err(|_| format!("{field} is not a time")),
        Value::String(s) => {
            let mut t = s.clone();
            // `+0000` / `-0300` → `+00:00` / `-03:00`
            let b = t.as_bytes();
            if b.len() > 5 {
                let tail = &b[b.len() - 5..];
                if (tail[0] == b'+' || tail[0] == b'-') && tail[1..].iter().all(u8::is_ascii_digit)
                {
                    t.insert(t.len() - 2, ':');
                }
            }
            records::parse_rfc3339(&t).ok_or_else(|| {
                format!("{field} is not RFC 3339 with a time zone, nor epoch milliseconds")
            })
        }
        _ => Err(format!("{field} is not a time")),
    }
}

fn map_apis(v: Option<&Value>, opts: &Opts) -> std::result::Result<Option<Vec<G>>, String> {
    let list = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err("apis is not a list".into()),
    };
    let mut out = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let (name, resources) = match a {
            Value::String(s) => (s.clone(), None),
            Value::Object(o) => {
                let name = ["name", "apiName"]
                    .iter()
                    .find_map(|f| o.get(*f).and_then(Value::as_str))
                    .ok_or_else(|| format!("apis[{i}] has no name"))?;
                let res = match o.get("resources") {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(rs)) if rs.is_empty() => None,
                    Some(Value::Array(rs)) => Some(
                        rs.iter()
                            .map(|r| match r {
                                Value::String(s) => Some(s.clone()),
                                Value::Object(ro) => {
                                    ro.get("name").and_then(Value::as_str).map(String::from)
                                }
                                _ => None,
                            })
                            .collect::<Option<Vec<String>>>()
                            .ok_or_else(|| {
                                format!("apis[{i}].resources: a resource without a name")
                            })?,
                    ),
                    Some(_) => return Err(format!("apis[{i}].resources is not a list")),
                };
                (name.to_string(), res)
            }
            _ => return Err(format!("apis[{i}] is neither a name nor an object")),
        };
        if name.is_empty() {
            return Err(format!("apis[{i}] has an empty name"));
        }
        let api = opts.api_map.get(&name).cloned().unwrap_or(name);
        out.push(G { api, resources });
    }
    if out.is_empty() {
        return Ok(None);
    }
    Ok(Some(grants::normalize(out)))
}

fn map_app(v: &Value, opts: &Opts) -> std::result::Result<(String, Obj), String> {
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    let client_id = str_field(v, "clientId")?.ok_or("no clientId")?;
    util::check_credential(client_id, "clientId").map_err(|m| format!("clientId {m}"))?;
    records::app_key(client_id).ok_or("clientId too long for a KV key")?;
    let name = str_field(v, "name")?
        .filter(|n| !n.is_empty())
        .ok_or("no name")?;
    let status = str_field(v, "status")?.ok_or("no status")?;
    let status = match status.to_ascii_uppercase().as_str() {
        "CANCELED" => "CANCELLED",
        s => rec::parse_status(s)
            .map_err(|_| "status: expected APPROVED, PENDING, REJECTED or CANCELLED")?,
    };
    let mut o = Obj::new();
    o.insert("name".into(), json!(name));
    o.insert("status".into(), json!(status));
    o.insert("revoked".into(), json!(false));
    let access = map_apis(v.get("apis"), opts)?.unwrap_or_default();
    o.insert(
        "access".into(),
        serde_json::to_value(access).expect("grants"),
    );
    if let Some(s) = str_field(v, "secret")? {
        if !s.is_empty() {
            o.insert(
                "client_secret_sha256".into(),
                json!(hex::encode(Sha256::digest(s.as_bytes()))),
            );
        }
    }
    if let Some(x) = v.get("extraInfo").filter(|x| !x.is_null()) {
        o.insert("extra_info".into(), x.clone());
    }
    o.insert("source".into(), json!(SOURCE));
    Ok((client_id.to_string(), o))
}

fn map_scope(
    v: Option<&Value>,
    opts: &Opts,
    policy: &super::policy_info::PolicyInfo,
) -> std::result::Result<Option<Vec<G>>, String> {
    if opts.ignore_scope {
        return Ok(None);
    }
    let values: Vec<String> = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| x.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or("scope is a list with a non-string value")?,
        Some(_) => return Err("scope is neither a string nor a list".into()),
    };
    if values.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for val in values {
        if let Some(gs) = opts.scope_map.get(&val) {
            out.extend(gs.iter().cloned());
            continue;
        }
        let hint =
            format!("map it with --scope-map {val}=API[:RESOURCE,...] or pass --ignore-scope");
        let g = grants::parse_spec(&val)
            .map_err(|_| format!("scope value {val:?} is not an API; {hint}"))?;
        if let Some(why) = grants::unknown_in_policy(&g, policy) {
            return Err(format!("scope value {val:?}: {why}; {hint}"));
        }
        out.push(g);
    }
    Ok(Some(grants::normalize(out)))
}

fn map_token(
    v: &Value,
    opts: &Opts,
    policy: &super::policy_info::PolicyInfo,
    now: i64,
) -> std::result::Result<(String, String, String, Obj, bool), String> {
    if !v.is_object() {
        return Err("not a JSON object".into());
    }
    let code = str_field(v, "code")?.ok_or("no code")?;
    util::check_credential(code, "token").map_err(|m| format!("code {m}"))?;
    let fp = records::fingerprint(code);
    let key = records::token_key(code).ok_or("code too long")?;
    let client_id = match v.get("app") {
        Some(a) if a.is_object() => str_field(a, "clientId")?,
        _ => None,
    }
    .or(str_field(v, "clientId")?)
    .ok_or("no app.clientId")?;
    let status = str_field(v, "status")?
        .ok_or("no status")?
        .to_ascii_uppercase();
    let date = |f: &str| -> std::result::Result<Option<i64>, String> {
        match v.get(f) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(x) => parse_date(x, f).map(Some),
        }
    };
    let expiry = match date("expiredDate")? {
        Some(t) => Some(t),
        None => {
            let n = match v.get("expiresIn") {
                None | Some(Value::Null) => None,
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => Some(
                    s.parse::<i64>()
                        .map_err(|_| "expiresIn is not a number".to_string())?,
                ),
                Some(_) => return Err("expiresIn is not a number".into()),
            };
            match n {
                None | Some(0) => None,
                Some(n) if n < 0 => return Err("expiresIn is negative".into()),
                Some(n) => {
                    let unit = opts.unit.ok_or(
                        "has expiresIn but no expiredDate: say its unit with --expires-in-unit seconds|milliseconds (Sensedia documents both)",
                    )?;
                    let created = date("creationDate")?
                        .ok_or("has expiresIn but neither expiredDate nor creationDate")?;
                    let t = created.saturating_add(match unit {
                        Unit::Seconds => n,
                        Unit::Milliseconds => n / 1000,
                    });
                    if t > util::MAX_TIME {
                        return Err("creationDate + expiresIn is out of range (after 9999)".into());
                    }
                    Some(t)
                }
            }
        }
    };
    let by_flag = status == "EXPIRED" && expiry.is_none_or(|e| e > now);
    let (revoked, expires_at) = match status.as_str() {
        "ACTIVE" => (false, expiry),
        "REVOKED" => (true, expiry),
        "EXPIRED" => (false, Some(expiry.map_or(now, |e| e.min(now)))),
        _ => return Err("status: expected ACTIVE, REVOKED or EXPIRED".into()),
    };
    let apis = map_apis(v.get("apis"), opts)?;
    let scope = map_scope(v.get("scope"), opts, policy)?;
    let narrowing = match (apis, scope) {
        (None, None) => None,
        (Some(a), None) | (None, Some(a)) => Some(a),
        (Some(a), Some(b)) => Some(grants::intersect(&a, &b)),
    };
    let mut o = Obj::new();
    o.insert("client_id".into(), json!(client_id));
    o.insert("revoked".into(), json!(revoked));
    if let Some(t) = expires_at {
        o.insert("expires_at".into(), json!(util::format_time(t)));
    }
    if let Some(g) = str_field(v, "grantType")? {
        o.insert("grant_type".into(), json!(g));
    }
    if let Some(s) = narrowing {
        o.insert("scope".into(), serde_json::to_value(s).expect("grants"));
    }
    if let Some(x) = v.get("extraInfo").filter(|x| !x.is_null()) {
        o.insert("extra_info".into(), x.clone());
    }
    o.insert("source".into(), json!(SOURCE));
    Ok((fp, key, client_id.to_string(), o, by_flag))
}

fn parse_opts(a: &SensediaArgs) -> Result<Opts> {
    let mut api_map = BTreeMap::new();
    for m in &a.api_map {
        let (f, t) = m
            .split_once('=')
            .filter(|(f, t)| !f.is_empty() && !t.is_empty())
            .ok_or_else(|| OpsError::bad_input(format!("--api-map {m:?}: expected FROM=TO")))?;
        api_map.insert(f.to_string(), t.to_string());
    }
    let mut scope_map: BTreeMap<String, Vec<G>> = BTreeMap::new();
    for m in &a.scope_map {
        let (f, t) = m
            .split_once('=')
            .filter(|(f, _)| !f.is_empty())
            .ok_or_else(|| {
                OpsError::bad_input(format!(
                    "--scope-map {m:?}: expected VALUE=GRANT[;GRANT...]"
                ))
            })?;
        let gs = t
            .split(';')
            .map(grants::parse_spec)
            .collect::<Result<Vec<_>>>()?;
        scope_map.entry(f.to_string()).or_default().extend(gs);
    }
    Ok(Opts {
        unit: a.expires_in_unit,
        api_map,
        scope_map,
        ignore_scope: a.ignore_scope,
    })
}

/// Every list to import: `--export` files (both lists by their own field names), then
/// `--apps` and `--tokens` files. Says on standard error which list of each file was read.
fn load_all(ctx: &mut Ctx, a: &SensediaArgs) -> Result<(Vec<Loaded>, Vec<Loaded>)> {
    let (mut apps, mut tokens) = (Vec::new(), Vec::new());
    for path in &a.export {
        let v = read_json(path)?;
        let la = load_list_from(v.clone(), path, ListKind::Apps, true)?;
        let lt = load_list_from(v, path, ListKind::Tokens, true)?;
        if la.is_none() && lt.is_none() {
            return Err(OpsError::bad_input(format!(
                "{}: neither an apps list ({}) nor an access tokens list ({})",
                path.display(),
                ListKind::Apps.fields().join(", "),
                ListKind::Tokens.fields().join(", ")
            )));
        }
        for (kind, l) in [(ListKind::Apps, &la), (ListKind::Tokens, &lt)] {
            match l {
                Some(l) => ctx.note(format!(
                    "{}: {} {} from {:?}",
                    path.display(),
                    l.items.len(),
                    kind.what(),
                    l.field
                )),
                None => ctx.note(format!(
                    "{}: no {} list ({})",
                    path.display(),
                    kind.what(),
                    kind.fields().join(", ")
                )),
            }
        }
        apps.extend(la);
        tokens.extend(lt);
    }
    for (paths, kind, out) in [
        (&a.apps, ListKind::Apps, &mut apps),
        (&a.tokens, ListKind::Tokens, &mut tokens),
    ] {
        for path in paths {
            if let Some(l) = load_list(path, kind, false)? {
                if !l.field.is_empty() {
                    ctx.note(format!(
                        "{}: {} {} from {:?}",
                        path.display(),
                        l.items.len(),
                        kind.what(),
                        l.field
                    ));
                }
                out.push(l);
            }
        }
    }
    Ok((apps, tokens))
}

#[derive(Default)]
struct Counts {
    created: usize,
    updated: usize,
    unchanged: usize,
    kept_revoked: usize,
}

pub fn run(ctx: &mut Ctx, a: SensediaArgs) -> Result<()> {
    let opts = parse_opts(&a)?;
    let mut problems: Vec<Problem> = Vec::new();
    let problem = |at: &str, reason: String| Problem {
        at: at.to_string(),
        reason,
        conflict: false,
    };

    // Map apps.
    let mut apps: Vec<MappedApp> = Vec::new();
    let mut failed_apps: BTreeSet<String> = BTreeSet::new();
    let mut n_apps = 0;
    let (app_lists, token_lists) = load_all(ctx, &a)?;
    for list in &app_lists {
        for (i, v) in list.items.iter().enumerate() {
            n_apps += 1;
            let id_hint = v
                .get("clientId")
                .and_then(Value::as_str)
                .filter(|id| util::check_credential(id, "clientId").is_ok());
            let at = match id_hint {
                Some(id) => format!("{} (client id {id:?})", list.at(i)),
                None => list.at(i),
            };
            match map_app(v, &opts) {
                Ok((client_id, obj)) => apps.push(MappedApp { at, client_id, obj }),
                Err(r) => {
                    if let Some(id) = id_hint {
                        failed_apps.insert(id.to_string());
                    }
                    problems.push(problem(&at, r));
                }
            }
        }
    }
    // Duplicate client ids: none of them is imported.
    let mut by_id: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, m) in apps.iter().enumerate() {
        by_id.entry(m.client_id.clone()).or_default().push(i);
    }
    let dup_ids: BTreeSet<String> = by_id
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, _)| k.clone())
        .collect();
    apps.retain(|m| {
        if dup_ids.contains(&m.client_id) {
            problems.push(Problem {
                at: m.at.clone(),
                reason: "duplicate client id in the export".into(),
                conflict: true,
            });
            false
        } else {
            true
        }
    });
    failed_apps.extend(dup_ids);

    // Map tokens.
    let mut tokens: Vec<MappedToken> = Vec::new();
    let mut n_tokens = 0;
    let mut seen_keys: BTreeMap<String, String> = BTreeMap::new();
    for list in &token_lists {
        for (i, v) in list.items.iter().enumerate() {
            n_tokens += 1;
            let base = list.at(i);
            match map_token(v, &opts, &ctx.policy, ctx.now) {
                Ok((fp, key, client_id, obj, expired_by_flag)) => {
                    let at = format!("{base} ({fp})");
                    if let Some(first) = seen_keys.get(&key) {
                        problems.push(Problem {
                            at,
                            reason: format!("the same code as {first}"),
                            conflict: true,
                        });
                        continue;
                    }
                    seen_keys.insert(key.clone(), base);
                    tokens.push(MappedToken {
                        at,
                        key,
                        client_id,
                        obj,
                        expired_by_flag,
                    })
                }
                Err(r) => {
                    let at = match v.get("code").and_then(Value::as_str) {
                        Some(c) => format!("{base} ({})", records::fingerprint(c)),
                        None => base,
                    };
                    problems.push(problem(&at, r));
                }
            }
        }
    }

    // Existing records: apps and tokens of this import, and the apps tokens name that the
    // export lacks.
    let export_ids: BTreeSet<String> = apps.iter().map(|m| m.client_id.clone()).collect();
    let mut keys: Vec<String> = apps
        .iter()
        .map(|m| records::app_key(&m.client_id).expect("checked"))
        .collect();
    let other_owners: BTreeSet<String> = tokens
        .iter()
        .map(|t| t.client_id.clone())
        .filter(|c| !export_ids.contains(c) && !failed_apps.contains(c))
        .collect();
    keys.extend(other_owners.iter().filter_map(|c| records::app_key(c)));
    keys.extend(tokens.iter().map(|t| t.key.clone()));
    if !keys.is_empty() {
        ctx.note(format!(
            "reading {} key(s) from {} to compare",
            keys.len(),
            ctx.store.describe()
        ));
    }
    let existing = ctx.store.get_many(&keys)?;

    let mut entries: Vec<Entry> = Vec::new();
    let mut app_counts = Counts::default();
    let mut imported_apps: BTreeSet<String> = BTreeSet::new();
    for m in apps {
        let key = records::app_key(&m.client_id).expect("checked");
        let old = match rec::parse_object(&key, existing.get(&key).cloned().flatten()) {
            Ok(o) => o,
            Err(e) => {
                problems.push(Problem {
                    at: m.at,
                    reason: format!("the stored {}", e.message),
                    conflict: true,
                });
                continue;
            }
        };
        let new = match old {
            None => {
                app_counts.created += 1;
                m.obj
            }
            Some(old) => {
                if old.get("source").and_then(Value::as_str) != Some(SOURCE) && !a.overwrite {
                    problems.push(Problem {
                        at: m.at,
                        reason: format!(
                            "{key} exists and was not imported from Sensedia (--overwrite merges into it)"
                        ),
                        conflict: true,
                    });
                    continue;
                }
                let mut merged = old.clone();
                for f in [
                    "name",
                    "status",
                    "access",
                    "client_secret_sha256",
                    "extra_info",
                    "source",
                ] {
                    match m.obj.get(f) {
                        Some(v) => {
                            merged.insert(f.into(), v.clone());
                        }
                        None => {
                            merged.remove(f);
                        }
                    }
                }
                if merged == old {
                    app_counts.unchanged += 1;
                    imported_apps.insert(m.client_id);
                    continue;
                }
                app_counts.updated += 1;
                merged
            }
        };
        match rec::to_text(&key, &new) {
            Ok(text) => {
                imported_apps.insert(m.client_id);
                entries.push(Entry::new(key, text));
            }
            Err(e) => problems.push(problem(&m.at, e.message)),
        }
    }
    let known_elsewhere: BTreeSet<String> = other_owners
        .iter()
        .filter(|c| {
            records::app_key(c)
                .and_then(|k| existing.get(&k).cloned().flatten())
                .is_some()
        })
        .cloned()
        .collect();

    let mut tok_counts = Counts::default();
    for t in tokens {
        if !imported_apps.contains(&t.client_id) && !known_elsewhere.contains(&t.client_id) {
            let why = if failed_apps.contains(&t.client_id) || export_ids.contains(&t.client_id) {
                format!("its app {:?} is not imported (see its error)", t.client_id)
            } else {
                format!(
                    "unknown app {:?}: in neither the export nor KV",
                    t.client_id
                )
            };
            problems.push(problem(&t.at, why));
            continue;
        }
        let old = match rec::parse_object(&t.key, existing.get(&t.key).cloned().flatten()) {
            Ok(o) => o,
            Err(e) => {
                problems.push(Problem {
                    at: t.at,
                    reason: format!("the stored {}", e.message),
                    conflict: true,
                });
                continue;
            }
        };
        let mut new = t.obj;
        if let Some(old) = &old {
            let old_owner = old.get("client_id").and_then(Value::as_str);
            if old_owner != Some(t.client_id.as_str()) && !a.overwrite {
                problems.push(Problem {
                    at: t.at,
                    reason: format!(
                        "{} is stored for another app ({old_owner:?}); --overwrite replaces it",
                        t.key
                    ),
                    conflict: true,
                });
                continue;
            }
            if old.get("revoked") == Some(&Value::Bool(true))
                && new.get("revoked") != Some(&Value::Bool(true))
            {
                // A revocation made here is never lifted by an import.
                new.insert("revoked".into(), json!(true));
                tok_counts.kept_revoked += 1;
            }
            if t.expired_by_flag {
                // Expired at the first import: keep that instant, so a re-run changes nothing.
                if let Some(v) = old.get("expires_at") {
                    let parsed = serde_json::from_value::<records::Token>(
                        json!({"client_id": "", "expires_at": v}),
                    );
                    if parsed
                        .ok()
                        .and_then(|t| t.expires_at)
                        .is_some_and(|e| e <= ctx.now)
                    {
                        new.insert("expires_at".into(), v.clone());
                    }
                }
            }
            let mut merged = old.clone();
            for f in [
                "client_id",
                "revoked",
                "expires_at",
                "grant_type",
                "scope",
                "extra_info",
                "source",
            ] {
                match new.get(f) {
                    Some(v) => {
                        merged.insert(f.into(), v.clone());
                    }
                    None => {
                        merged.remove(f);
                    }
                }
            }
            if &merged == old {
                tok_counts.unchanged += 1;
                continue;
            }
            tok_counts.updated += 1;
            new = merged;
        } else {
            tok_counts.created += 1;
        }
        match rec::to_text(&t.key, &new) {
            Ok(text) => {
                let mut e = Entry::new(&t.key, text);
                e.metadata = Some(rec::token_metadata(&t.client_id));
                entries.push(e);
            }
            Err(e) => problems.push(problem(&t.at, e.message)),
        }
    }

    // Grants the policy does not know: reported, not refused.
    let mut unknown: BTreeSet<String> = BTreeSet::new();
    for e in &entries {
        if let Ok(v) = serde_json::from_str::<Value>(&e.value) {
            for f in ["access", "scope"] {
                if let Some(gs) = v
                    .get(f)
                    .and_then(|g| serde_json::from_value::<Vec<G>>(g.clone()).ok())
                {
                    for g in gs {
                        if let Some(why) = grants::unknown_in_policy(&g, &ctx.policy) {
                            unknown.insert(why);
                        }
                    }
                }
            }
        }
    }
    for why in &unknown {
        ctx.note(format!("warning: {why} (map names with --api-map FROM=TO)"));
    }

    for p in &problems {
        ctx.note(format!("error: {}: {}", p.at, p.reason));
    }
    let summary = format!(
        "apps: {n_apps} in the export: {} created, {} updated, {} unchanged\ntokens: {n_tokens} in the export: {} created, {} updated, {} unchanged{}",
        app_counts.created,
        app_counts.updated,
        app_counts.unchanged,
        tok_counts.created,
        tok_counts.updated,
        tok_counts.unchanged,
        if tok_counts.kept_revoked > 0 {
            format!(", {} kept revoked (revoked here)", tok_counts.kept_revoked)
        } else {
            String::new()
        }
    );
    if !problems.is_empty() && !a.skip_errors {
        let all_conflicts = problems.iter().all(|p| p.conflict);
        return Err(OpsError::new(
            if all_conflicts {
                Exit::Conflict
            } else {
                Exit::BadInput
            },
            format!(
                "{} record(s) of the export cannot be imported (listed above); nothing written (--skip-errors imports the others)",
                problems.len()
            ),
        ));
    }
    ctx.write(&entries, a.dry.dry_run)?;
    ctx.say(if a.dry.dry_run {
        format!("dry run, would be:\n{summary}")
    } else {
        summary
    })?;
    if !problems.is_empty() {
        ctx.say(format!(
            "skipped: {} record(s) with errors (listed above)",
            problems.len()
        ))?;
    }
    if !a.dry.dry_run && !entries.is_empty() {
        let line = ctx.policy.revocation_effect(ctx.store.is_remote(), ctx.now);
        ctx.note(format!("the import {line}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensedia_dates() {
        let d = |v: Value| parse_date(&v, "d");
        assert_eq!(d(json!("2023-11-14T22:13:20Z")).unwrap(), 1_700_000_000);
        assert_eq!(
            d(json!("2023-11-14T22:13:20.000+0000")).unwrap(),
            1_700_000_000
        );
        assert_eq!(
            d(json!("2023-11-14T19:13:20.5-0300")).unwrap(),
            1_700_000_000
        );
        assert_eq!(
            d(json!("2023-11-14T19:13:20-03:00")).unwrap(),
            1_700_000_000
        );
        assert_eq!(d(json!(1_700_000_000_000i64)).unwrap(), 1_700_000_000);
        assert_eq!(d(json!(1_700_000_000)).unwrap(), 1_700_000_000);
        assert_eq!(d(json!("1700000000000")).unwrap(), 1_700_000_000);
        assert!(d(json!("2023-11-14T22:13:20"))
            .unwrap_err()
            .contains("time zone"));
        assert!(d(json!(true)).is_err());
    }
}
