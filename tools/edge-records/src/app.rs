//! `edge-records app ...`: create, show, list, set status, revoke / reinstate, set expiry,
//! grant / withdraw, set extra info, and signature keys (`app key ...`, see [`super::keys`]).

use super::error::{OpsError, Result};
use super::grants::{self, G};
use super::rec::{self, Obj};
use super::store::{get_one, Entry};
use super::util;
use super::Ctx;
use clap::{Args, Subcommand};
use edge_interceptors::records::{self, APP_PREFIX};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[derive(Debug, Args, Clone, Copy)]
pub struct DryRun {
    /// Show what would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Subcommand)]
pub enum AppCmd {
    /// Create an app. Prints its client id and, once, its client secret (only the secret's
    /// SHA-256 is stored).
    Create(CreateArgs),
    /// Show an app's record (HMAC secrets redacted) and whether it lets calls through.
    Show {
        /// The app's client id.
        client_id: String,
    },
    /// List apps: client id, status, state, expiry, name.
    List {
        /// Only apps with this status.
        #[arg(long, value_name = "STATUS")]
        status: Option<String>,
    },
    /// Set an app's status: APPROVED, PENDING, REJECTED or CANCELLED (only APPROVED passes).
    SetStatus {
        client_id: String,
        status: String,
        #[command(flatten)]
        dry: DryRun,
    },
    /// Revoke an app: every call with its credentials is refused (its tokens too).
    Revoke {
        client_id: String,
        #[command(flatten)]
        dry: DryRun,
    },
    /// Lift an app's revocation.
    Reinstate {
        client_id: String,
        #[command(flatten)]
        dry: DryRun,
    },
    /// Set when an app expires: RFC 3339 with a zone, epoch seconds, or `never`.
    SetExpiry {
        client_id: String,
        /// `2027-12-31T23:59:59Z`, `1830297599` or `never`.
        when: String,
        #[command(flatten)]
        dry: DryRun,
    },
    /// Grant an app an API, or some resources of an API (`orders`, `orders:list-orders,one-order`).
    Grant {
        client_id: String,
        /// API or API:RESOURCE[,RESOURCE...], as named in the policy.
        #[arg(required = true)]
        grants: Vec<String>,
        /// Grant names the policy in the configuration does not know.
        #[arg(long)]
        allow_unknown: bool,
        #[command(flatten)]
        dry: DryRun,
    },
    /// Withdraw an API, or some resources of an API, from an app.
    Withdraw {
        client_id: String,
        /// API or API:RESOURCE[,RESOURCE...].
        #[arg(required = true)]
        grants: Vec<String>,
        #[command(flatten)]
        dry: DryRun,
    },
    /// Set an app's extra info (any JSON; passed to the origin in the extra-info header).
    SetExtraInfo {
        client_id: String,
        /// JSON, e.g. '{"plan":"gold"}'.
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        json: Option<String>,
        /// Remove the extra info.
        #[arg(long)]
        clear: bool,
        #[command(flatten)]
        dry: DryRun,
    },
    /// Signature keys (PEM or JWK public keys) and HMAC secrets of an app.
    #[command(subcommand)]
    Key(super::keys::KeyCmd),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The app's name (shown to the origin in the app-name header).
    #[arg(long)]
    pub name: String,
    /// The client id; a random UUID when omitted.
    #[arg(long)]
    pub client_id: Option<String>,
    /// APPROVED (the default), PENDING, REJECTED or CANCELLED.
    #[arg(long, default_value = "APPROVED")]
    pub status: String,
    /// An API or API:RESOURCE[,RESOURCE...] the app may call (repeat for more).
    #[arg(long = "grant", value_name = "GRANT")]
    pub grants: Vec<String>,
    /// Grant names the policy in the configuration does not know.
    #[arg(long)]
    pub allow_unknown: bool,
    /// When the app expires: RFC 3339 with a zone, or epoch seconds.
    #[arg(long, value_name = "WHEN")]
    pub expires_at: Option<String>,
    /// Extra info (JSON) passed to the origin.
    #[arg(long, value_name = "JSON")]
    pub extra_info: Option<String>,
    /// Read the client secret from standard input (one line) instead of generating one.
    #[arg(long, conflicts_with = "no_secret")]
    pub secret_stdin: bool,
    /// No client secret (the app cannot use Client ID Secret Encoded).
    #[arg(long)]
    pub no_secret: bool,
    /// Replace an existing app with this client id (every field) instead of refusing.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub dry: DryRun,
}

pub fn run(ctx: &mut Ctx, cmd: AppCmd) -> Result<()> {
    match cmd {
        AppCmd::Create(a) => create(ctx, a),
        AppCmd::Show { client_id } => show(ctx, &client_id),
        AppCmd::List { status } => list(ctx, status.as_deref()),
        AppCmd::SetStatus {
            client_id,
            status,
            dry,
        } => {
            let s = rec::parse_status(&status)?;
            modify(ctx, &client_id, dry.dry_run, |o| {
                Ok(set(o, "status", json!(s)).then(|| format!("status {s}")))
            })
        }
        AppCmd::Revoke { client_id, dry } => {
            modify(ctx, &client_id, dry.dry_run, |o| {
                Ok(set(o, "revoked", json!(true)).then(|| "revoked".to_string()))
            })?;
            if !dry.dry_run {
                let line = ctx.policy.revocation_effect(ctx.store.is_remote(), ctx.now);
                ctx.note(format!("app {client_id}: the revocation {line}"));
            }
            Ok(())
        }
        AppCmd::Reinstate { client_id, dry } => modify(ctx, &client_id, dry.dry_run, |o| {
            Ok(set(o, "revoked", json!(false)).then(|| "reinstated".to_string()))
        }),
        AppCmd::SetExpiry {
            client_id,
            when,
            dry,
        } => {
            let v = if when == "never" {
                Value::Null
            } else {
                json!(util::format_time(util::parse_time(&when)?))
            };
            modify(ctx, &client_id, dry.dry_run, |o| {
                let changed = if v.is_null() {
                    o.remove("expires_at").is_some()
                } else {
                    set(o, "expires_at", v.clone())
                };
                Ok(changed.then(|| format!("expiry {when}")))
            })
        }
        AppCmd::Grant {
            client_id,
            grants: specs,
            allow_unknown,
            dry,
        } => {
            let gs = parse_grants(ctx, &specs, allow_unknown)?;
            modify(ctx, &client_id, dry.dry_run, |o| {
                let mut list = rec::grants_of(o, "access")?;
                let mut changed = false;
                for g in &gs {
                    changed |= grants::grant(&mut list, g);
                }
                o.insert(
                    "access".into(),
                    serde_json::to_value(&list).expect("grants"),
                );
                Ok(changed.then(|| format!("access {}", describe_grants(&list))))
            })
        }
        AppCmd::Withdraw {
            client_id,
            grants: specs,
            dry,
        } => {
            let gs = specs
                .iter()
                .map(|s| grants::parse_spec(s))
                .collect::<Result<Vec<_>>>()?;
            modify(ctx, &client_id, dry.dry_run, |o| {
                let mut list = rec::grants_of(o, "access")?;
                let mut changed = false;
                for g in &gs {
                    changed |= grants::withdraw(&mut list, g)?;
                }
                o.insert(
                    "access".into(),
                    serde_json::to_value(&list).expect("grants"),
                );
                Ok(changed.then(|| format!("access {}", describe_grants(&list))))
            })
        }
        AppCmd::SetExtraInfo {
            client_id,
            json: j,
            clear,
            dry,
        } => {
            let v = match (&j, clear) {
                (_, true) => None,
                (Some(j), false) => Some(util::parse_json_arg(j, "extra info")?),
                (None, false) => unreachable!("clap requires one"),
            };
            modify(ctx, &client_id, dry.dry_run, |o| {
                let changed = match &v {
                    None => o.remove("extra_info").is_some(),
                    Some(v) => set(o, "extra_info", v.clone()),
                };
                Ok(changed.then(|| "extra info set".to_string()))
            })
        }
        AppCmd::Key(k) => super::keys::run(ctx, k),
    }
}

/// Sets `field` to `v`; true when that changed the record.
fn set(o: &mut Obj, field: &str, v: Value) -> bool {
    o.insert(field.into(), v.clone()).as_ref() != Some(&v)
}

pub fn describe_grants(list: &[G]) -> String {
    if list.is_empty() {
        "none".into()
    } else {
        list.iter().map(G::spec).collect::<Vec<_>>().join(" ")
    }
}

fn parse_grants(ctx: &mut Ctx, specs: &[String], allow_unknown: bool) -> Result<Vec<G>> {
    let mut out = Vec::new();
    for s in specs {
        let g = grants::parse_spec(s)?;
        grants::check_known(&g, &ctx.policy, allow_unknown)?;
        if let Some(why) = grants::unknown_in_policy(&g, &ctx.policy) {
            ctx.note(format!("warning: grant {s:?}: {why}"));
        }
        out.push(g);
    }
    Ok(out)
}

/// Reads `app:<client_id>`, applies `f` (which says what changed, or `None` for nothing), checks
/// and writes it back.
pub fn modify(
    ctx: &mut Ctx,
    client_id: &str,
    dry_run: bool,
    f: impl FnOnce(&mut Obj) -> Result<Option<String>>,
) -> Result<()> {
    let key = util::check_client_id(client_id)?;
    let mut obj = load_app(ctx, &key, client_id)?;
    let Some(what) = f(&mut obj)? else {
        ctx.note(format!("app {client_id}: already so; nothing written"));
        return Ok(());
    };
    let text = rec::to_text(&key, &obj)?;
    if dry_run {
        ctx.say(serde_json::to_string_pretty(&rec::redacted(&Value::Object(obj))).expect("JSON"))?;
    }
    ctx.write(&[Entry::new(&key, text)], dry_run)?;
    if !dry_run {
        ctx.note(format!("app {client_id}: {what}"));
    }
    Ok(())
}

/// The app record as a JSON object, or "unknown app".
pub fn load_app(ctx: &mut Ctx, key: &str, client_id: &str) -> Result<Obj> {
    rec::parse_object(key, get_one(ctx.store, key)?)?
        .ok_or_else(|| OpsError::not_found(format!("unknown app {client_id:?} (no {key})")))
}

fn create(ctx: &mut Ctx, a: CreateArgs) -> Result<()> {
    let client_id = match &a.client_id {
        Some(c) => c.clone(),
        None => util::new_client_id(),
    };
    let key = util::check_client_id(&client_id)?;
    if a.name.is_empty() {
        return Err(OpsError::bad_input("--name must not be empty"));
    }
    let status = rec::parse_status(&a.status)?;
    let access = parse_grants(ctx, &a.grants, a.allow_unknown)?;
    let access = grants::normalize(access);
    let mut obj = Obj::new();
    obj.insert("name".into(), json!(a.name));
    obj.insert("status".into(), json!(status));
    obj.insert("revoked".into(), json!(false));
    obj.insert(
        "access".into(),
        serde_json::to_value(&access).expect("grants"),
    );
    if let Some(e) = &a.expires_at {
        obj.insert(
            "expires_at".into(),
            json!(util::format_time(util::parse_time(e)?)),
        );
    }
    if let Some(x) = &a.extra_info {
        obj.insert("extra_info".into(), util::parse_json_arg(x, "extra info")?);
    }
    // The secret: read before anything is checked in KV, so a bad one writes nothing.
    let secret = if a.no_secret {
        None
    } else if a.secret_stdin {
        Some((
            util::read_one_credential(ctx.stdin, "client secret")?,
            false,
        ))
    } else if a.dry.dry_run {
        None
    } else {
        Some((util::new_client_secret(), true))
    };
    if let Some((s, _)) = &secret {
        obj.insert(
            "client_secret_sha256".into(),
            json!(hex::encode(Sha256::digest(s.as_bytes()))),
        );
    }
    let existing = get_one(ctx.store, &key)?;
    if existing.is_some() && !a.replace {
        return Err(OpsError::conflict(format!(
            "app {client_id:?} already exists ({key}); pass --replace to overwrite it"
        )));
    }
    let text = rec::to_text(&key, &obj)?;
    if a.dry.dry_run {
        ctx.say(serde_json::to_string_pretty(&Value::Object(obj)).expect("JSON"))?;
        ctx.write(&[Entry::new(&key, text)], true)?;
        return Ok(());
    }
    ctx.write(&[Entry::new(&key, text)], false)?;
    ctx.say(format!("client_id={client_id}"))?;
    if let Some((s, true)) = &secret {
        ctx.say(format!("client_secret={s}"))?;
    }
    ctx.note(format!(
        "app {client_id} {} in {} ({status}, access {}){}",
        if existing.is_some() {
            "replaced"
        } else {
            "created"
        },
        ctx.store.describe(),
        describe_grants(&access),
        match &secret {
            Some((_, true)) => "; the client secret is shown once: only its SHA-256 is stored",
            Some((_, false)) => "; only the SHA-256 of the client secret is stored",
            None => "; no client secret",
        }
    ));
    Ok(())
}

fn show(ctx: &mut Ctx, client_id: &str) -> Result<()> {
    let key = util::check_client_id(client_id)?;
    let text = get_one(ctx.store, &key)?
        .ok_or_else(|| OpsError::not_found(format!("unknown app {client_id:?} (no {key})")))?;
    let state = match rec::parse_app(&key, &text) {
        Ok(a) => rec::app_state(&a, ctx.now),
        Err(e) => format!("malformed: {e}"),
    };
    let record: Value = serde_json::from_str(&text).unwrap_or(Value::String("<not JSON>".into()));
    let out = json!({"key": key, "client_id": client_id, "state": state, "record": rec::redacted(&record)});
    ctx.say(serde_json::to_string_pretty(&out).expect("JSON"))
}

fn list(ctx: &mut Ctx, status: Option<&str>) -> Result<()> {
    let want = status.map(rec::parse_status).transpose()?;
    let keys: Vec<String> = ctx
        .store
        .list(APP_PREFIX)?
        .into_iter()
        .map(|k| k.name)
        .collect();
    let values = ctx.store.get_many(&keys)?;
    let mut rows = vec![[
        "CLIENT_ID".to_string(),
        "STATUS".into(),
        "STATE".into(),
        "EXPIRES".into(),
        "NAME".into(),
    ]];
    for (key, text) in values {
        let Some(text) = text else { continue };
        let id = key[APP_PREFIX.len()..].to_string();
        match rec::parse_app(&key, &text) {
            Ok(a) => {
                let st = rec::status_str(a.status);
                if want.is_some_and(|w| w != st) {
                    continue;
                }
                rows.push([
                    id,
                    st.into(),
                    rec::app_state(&a, ctx.now),
                    a.expires_at.map_or("-".into(), util::format_time),
                    a.name,
                ]);
            }
            Err(_) if want.is_none() => {
                rows.push([id, "?".into(), "malformed".into(), "-".into(), "-".into()])
            }
            Err(_) => {}
        }
    }
    let n = rows.len() - 1;
    print_table(ctx, &rows)?;
    ctx.note(format!("{n} app(s)"));
    Ok(())
}

/// Columns separated by two spaces, padded to the widest cell.
pub fn print_table<const N: usize>(ctx: &mut Ctx, rows: &[[String; N]]) -> Result<()> {
    let mut w = [0usize; N];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            line.push_str(c);
            if i + 1 < N {
                line.push_str(&" ".repeat(w[i] - c.chars().count() + 2));
            }
        }
        ctx.say(line.trim_end())?;
    }
    Ok(())
}

/// The SHA-256 hex of a client secret, as stored.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether an app key exists; used by token commands.
pub fn require_app(ctx: &mut Ctx, client_id: &str) -> Result<records::App> {
    let key = util::check_client_id(client_id)?;
    let text = get_one(ctx.store, &key)?
        .ok_or_else(|| OpsError::not_found(format!("unknown app {client_id:?} (no {key})")))?;
    rec::parse_app(&key, &text).map_err(|e| {
        OpsError::new(
            super::error::Exit::Malformed,
            format!("{e}; fix the app first"),
        )
    })
}
