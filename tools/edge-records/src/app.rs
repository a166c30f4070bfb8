//! `edge-records app ...`: create, show, list, set status, revoke / reinstate, set expiry,
//! grant / withdraw, set extra info, signature keys (`app key ...`, see [`super::keys`]), and
//! what the authorization server needs of an app (docs/authorization-server.md, "Apps"): client
//! type, redirect URIs, allowed grant types, token lifetimes, introspection of any token.

use super::error::{OpsError, Result};
use super::grants::{self, G};
use super::rec::{self, Obj};
use super::store::{get_one, Entry};
use super::util;
use super::Ctx;
use clap::{Args, Subcommand};
use edge_interceptors::authz::{self, config::GrantType};
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
    /// The redirect URIs the authorization server's grant-code accepts for an app (exact match).
    #[command(subcommand)]
    RedirectUri(RedirectUriCmd),
    /// Make an app confidential (it authenticates with a client secret) or public (a browser or
    /// mobile app: client id alone, PKCE required, no secret). Public drops the stored secret
    /// hash; confidential gives an app without a secret a new one (printed once) or the one on
    /// standard input (--secret-stdin).
    SetClientType {
        client_id: String,
        /// `confidential` or `public`.
        client_type: String,
        /// Read the new client secret from standard input instead of generating one.
        #[arg(long)]
        secret_stdin: bool,
        #[command(flatten)]
        dry: DryRun,
    },
    /// Narrow the grant types the authorization server allows an app (client_credentials,
    /// authorization_code, refresh_token, password): a grant must be allowed by the server and
    /// by the app. --server-default removes the narrowing.
    SetGrantTypes {
        client_id: String,
        #[arg(
            required_unless_present = "server_default",
            conflicts_with = "server_default"
        )]
        grant_types: Vec<String>,
        /// Allow whatever the server allows.
        #[arg(long)]
        server_default: bool,
        #[command(flatten)]
        dry: DryRun,
    },
    /// Shorten the lifetime of the tokens the authorization server issues to an app (the shorter
    /// of this and the server's lifetime wins); `default` removes it.
    SetTokenLifetime {
        client_id: String,
        /// Access tokens: a duration (`900s`, `15m`, `1h`) or `default`.
        #[arg(long, value_name = "DURATION", required_unless_present = "refresh")]
        access: Option<String>,
        /// Refresh tokens: a duration (`12h`, `30d`) or `default`.
        #[arg(long, value_name = "DURATION")]
        refresh: Option<String>,
        #[command(flatten)]
        dry: DryRun,
    },
    /// Whether an app may introspect every app's tokens (an origin checking tokens), not only its
    /// own: `yes` or `no`.
    SetIntrospectAny {
        client_id: String,
        /// `yes` or `no`.
        value: String,
        #[command(flatten)]
        dry: DryRun,
    },
}

#[derive(Debug, Subcommand)]
pub enum RedirectUriCmd {
    /// Register redirect URIs: absolute, no fragment, stored exactly as given (grant-code compares
    /// them byte for byte with what the client sends).
    Add {
        client_id: String,
        #[arg(required = true, value_name = "URI")]
        uris: Vec<String>,
        #[command(flatten)]
        dry: DryRun,
    },
    /// Remove redirect URIs.
    Remove {
        client_id: String,
        #[arg(required = true, value_name = "URI")]
        uris: Vec<String>,
        #[command(flatten)]
        dry: DryRun,
    },
    /// List an app's redirect URIs, one a line.
    List { client_id: String },
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
    /// A public app (a browser or mobile app): no client secret; at the authorization server it
    /// authenticates by client id alone and must use PKCE.
    #[arg(long, conflicts_with = "secret_stdin")]
    pub public: bool,
    /// A redirect URI the authorization server's grant-code accepts (repeat for more).
    #[arg(long = "redirect-uri", value_name = "URI")]
    pub redirect_uris: Vec<String>,
    /// Narrow the authorization server's grant types for this app (repeat for more):
    /// client_credentials, authorization_code, refresh_token, password.
    #[arg(long = "grant-type", value_name = "GRANT")]
    pub grant_types: Vec<String>,
    /// Shorten the lifetime of the access tokens the authorization server issues to the app.
    #[arg(long, value_name = "DURATION")]
    pub access_token_lifetime: Option<String>,
    /// Shorten the lifetime of its refresh tokens.
    #[arg(long, value_name = "DURATION")]
    pub refresh_token_lifetime: Option<String>,
    /// The app may introspect every app's tokens, not only its own.
    #[arg(long)]
    pub introspect_any: bool,
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
        AppCmd::RedirectUri(c) => redirect_uri(ctx, c),
        AppCmd::SetClientType {
            client_id,
            client_type,
            secret_stdin,
            dry,
        } => set_client_type(ctx, &client_id, &client_type, secret_stdin, dry.dry_run),
        AppCmd::SetGrantTypes {
            client_id,
            grant_types,
            server_default,
            dry,
        } => {
            let wanted = if server_default {
                None
            } else {
                Some(parse_grant_types(&grant_types)?)
            };
            let mut notes = Vec::new();
            modify(ctx, &client_id, dry.dry_run, |o| {
                let Some(list) = &wanted else {
                    return Ok(o
                        .remove("grant_types")
                        .is_some()
                        .then(|| "grant types: the server's".to_string()));
                };
                notes = check_grant_types(list, client_type_of(o)?)?;
                Ok(set(o, "grant_types", json!(list))
                    .then(|| format!("grant types {}", list.join(" "))))
            })?;
            for n in notes {
                ctx.note(format!("warning: {n}"));
            }
            Ok(())
        }
        AppCmd::SetTokenLifetime {
            client_id,
            access,
            refresh,
            dry,
        } => {
            let parse = |v: &Option<String>| -> Result<Option<Option<u64>>> {
                match v.as_deref() {
                    None => Ok(None),
                    Some("default") => Ok(Some(None)),
                    Some(d) => Ok(Some(Some(parse_lifetime(d)?))),
                }
            };
            let changes = [
                ("access_token_lifetime_seconds", parse(&access)?),
                ("refresh_token_lifetime_seconds", parse(&refresh)?),
            ];
            modify(ctx, &client_id, dry.dry_run, |o| {
                let mut what = Vec::new();
                for (field, change) in changes {
                    let changed = match change {
                        None => false,
                        Some(None) => o.remove(field).is_some(),
                        Some(Some(secs)) => set(o, field, json!(secs)),
                    };
                    if changed {
                        what.push(match change {
                            Some(Some(secs)) => format!("{field} {secs}"),
                            _ => format!("{field} the server's"),
                        });
                    }
                }
                Ok((!what.is_empty()).then(|| what.join(", ")))
            })?;
            if changes
                .iter()
                .any(|(_, c)| matches!(c, Some(Some(s)) if *s > DEFAULT_LIFETIME_S))
            {
                ctx.note(LONGER_THAN_DEFAULT);
            }
            Ok(())
        }
        AppCmd::SetIntrospectAny {
            client_id,
            value,
            dry,
        } => {
            let any = match value.to_ascii_lowercase().as_str() {
                "yes" | "true" => true,
                "no" | "false" => false,
                _ => {
                    return Err(OpsError::bad_input(format!(
                        "{value:?}: expected yes or no"
                    )))
                }
            };
            modify(ctx, &client_id, dry.dry_run, |o| {
                let changed = if any {
                    set(o, "introspect_any", json!(true))
                } else {
                    o.remove("introspect_any").is_some()
                };
                Ok(changed.then(|| {
                    if any {
                        "may introspect any app's tokens".to_string()
                    } else {
                        "may introspect its own tokens only".to_string()
                    }
                }))
            })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The authorization server's fields of an app record (docs/authorization-server.md, "Apps").

/// The grant types an authorization server knows: the Worker's own list.
pub const GRANT_TYPES: &[&str] = GrantType::NAMES;

/// Grant types a public app (no secret) can never use.
const CONFIDENTIAL_ONLY: &[&str] = &["client_credentials", "password"];

/// The authorization server's default access and refresh token lifetime.
const DEFAULT_LIFETIME_S: u64 = authz::config::DEFAULT_LIFETIME_S;

/// The longest lifetime an authorization server accepts (366 days).
const MAX_LIFETIME_S: u64 = authz::config::MAX_LIFETIME_S;

const LONGER_THAN_DEFAULT: &str = "note: the shorter of the app's and the server's lifetime wins, so a lifetime above the server's (3600 s unless configured) changes nothing";

/// Longest redirect URI accepted (grant-code's answer carries it, with the code and state).
const MAX_REDIRECT_URI_BYTES: usize = 2048;

/// Grant type names given on the command line: known, without repeats, in the order given.
pub fn parse_grant_types(given: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for g in given {
        if GrantType::parse(g).is_none() {
            return Err(OpsError::bad_input(format!(
                "grant type {g:?}: expected one of {}",
                GRANT_TYPES.join(", ")
            )));
        }
        if !out.contains(g) {
            out.push(g.clone());
        }
    }
    Ok(out)
}

/// Refuses grant types a client of this type can never use; returns warnings for combinations
/// that do less than they seem to.
pub fn check_grant_types(list: &[String], public: bool) -> Result<Vec<String>> {
    if public {
        if let Some(g) = list
            .iter()
            .find(|g| CONFIDENTIAL_ONLY.contains(&g.as_str()))
        {
            return Err(OpsError::bad_input(format!(
                "a public app cannot use {g} (it has no client secret); make it confidential first (app set-client-type ID confidential)"
            )));
        }
    }
    let mut notes = Vec::new();
    let has = |g: &str| list.iter().any(|x| x == g);
    if has("refresh_token") && !has("authorization_code") && !has("password") {
        notes.push(
            "refresh_token without authorization_code or password: refresh tokens come only with those grants, so the app never gets one".to_string(),
        );
    }
    if has("password") {
        notes.push(
            "password works only at a server that lists it in `grants` and names a resource_owner_check".to_string(),
        );
    }
    Ok(notes)
}

/// A token lifetime given on the command line, in whole seconds (1 s to 366 days).
pub fn parse_lifetime(d: &str) -> Result<u64> {
    let secs = util::parse_duration(d)?;
    if secs < 1 || secs as u64 > MAX_LIFETIME_S {
        return Err(OpsError::bad_input(format!(
            "lifetime {d:?}: expected 1 s to 366 days"
        )));
    }
    Ok(secs as u64)
}

/// Checks a redirect URI before it is registered: refused when grant-code could never match it
/// or the RFCs forbid it; `Some(warning)` when it is allowed but risky or likely a mistake.
pub fn check_redirect_uri(uri: &str) -> Result<Option<String>> {
    let bad = |why: &str| Err(OpsError::bad_input(format!("redirect URI {uri:?}: {why}")));
    if uri.is_empty() {
        return bad("is empty");
    }
    if uri.len() > MAX_REDIRECT_URI_BYTES {
        return bad(&format!("is longer than {MAX_REDIRECT_URI_BYTES} bytes"));
    }
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad(
            "contains a space, a line break or a control character (it is compared exactly)",
        );
    }
    let parsed = match url::Url::parse(uri) {
        Ok(u) => u,
        Err(e) => {
            return bad(&format!(
                "is not an absolute URI ({e}); RFC 6749 §3.1.2 requires one"
            ))
        }
    };
    if parsed.fragment().is_some() {
        return bad("has a fragment (#...), which RFC 6749 §3.1.2 forbids");
    }
    if uri.contains('*') {
        return Ok(Some(format!(
            "redirect URI {uri:?}: `*` is not a wildcard; the URI is compared exactly"
        )));
    }
    if parsed.scheme() == "http" {
        let loopback = matches!(
            parsed.host(),
            Some(url::Host::Ipv4(a)) if a.is_loopback()
        ) || matches!(parsed.host(), Some(url::Host::Ipv6(a)) if a.is_loopback())
            || parsed.host_str() == Some("localhost");
        if !loopback {
            return Ok(Some(format!(
                "redirect URI {uri:?}: plain http to a host other than loopback; the code travels in clear text (RFC 9700 §2.1 asks for https)"
            )));
        }
    }
    if parsed.as_str() != uri {
        return Ok(Some(format!(
            "redirect URI {uri:?} is stored as given; note that it is usually written {:?}, and clients must send exactly the registered string",
            parsed.as_str()
        )));
    }
    Ok(None)
}

/// Whether the record says `"client_type": "public"`.
fn client_type_of(o: &Obj) -> Result<bool> {
    match o.get("client_type") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::String(s)) if s == "confidential" => Ok(false),
        Some(Value::String(s)) if s == "public" => Ok(true),
        Some(_) => Err(OpsError::new(
            super::error::Exit::Malformed,
            "client_type is neither \"confidential\" nor \"public\"; fix the app first",
        )),
    }
}

/// The stored redirect URIs (an absent field is none).
fn redirect_uris_of(o: &Obj) -> Result<Vec<String>> {
    match o.get("redirect_uris") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            OpsError::new(
                super::error::Exit::Malformed,
                format!("redirect_uris is malformed: {e}"),
            )
        }),
    }
}

fn redirect_uri(ctx: &mut Ctx, cmd: RedirectUriCmd) -> Result<()> {
    match cmd {
        RedirectUriCmd::Add {
            client_id,
            uris,
            dry,
        } => {
            let mut warnings = Vec::new();
            for u in &uris {
                if let Some(w) = check_redirect_uri(u)? {
                    warnings.push(w);
                }
            }
            for w in warnings {
                ctx.note(format!("warning: {w}"));
            }
            modify(ctx, &client_id, dry.dry_run, |o| {
                let mut list = redirect_uris_of(o)?;
                let before = list.len();
                for u in &uris {
                    if !list.contains(u) {
                        list.push(u.clone());
                    }
                }
                let added = list.len() - before;
                o.insert("redirect_uris".into(), json!(list));
                Ok((added > 0)
                    .then(|| format!("{added} redirect URI(s) added; {} in all", list.len())))
            })
        }
        RedirectUriCmd::Remove {
            client_id,
            uris,
            dry,
        } => modify(ctx, &client_id, dry.dry_run, |o| {
            let mut list = redirect_uris_of(o)?;
            if let Some(u) = uris.iter().find(|u| !list.contains(u)) {
                return Err(OpsError::not_found(format!(
                    "redirect URI {u:?} is not registered for app {client_id}"
                )));
            }
            list.retain(|u| !uris.contains(u));
            if list.is_empty() {
                o.remove("redirect_uris");
            } else {
                o.insert("redirect_uris".into(), json!(list));
            }
            Ok(Some(format!(
                "{} redirect URI(s) removed; {} left{}",
                uris.len(),
                list.len(),
                if list.is_empty() {
                    " (grant-code refuses the app)"
                } else {
                    ""
                }
            )))
        }),
        RedirectUriCmd::List { client_id } => {
            let key = util::check_client_id(&client_id)?;
            let o = load_app(ctx, &key, &client_id)?;
            let list = redirect_uris_of(&o)?;
            for u in &list {
                ctx.say(u)?;
            }
            ctx.note(format!("{} redirect URI(s) of app {client_id}", list.len()));
            Ok(())
        }
    }
}

fn set_client_type(
    ctx: &mut Ctx,
    client_id: &str,
    client_type: &str,
    secret_stdin: bool,
    dry_run: bool,
) -> Result<()> {
    let public = match client_type.to_ascii_lowercase().as_str() {
        "public" => true,
        "confidential" => false,
        _ => {
            return Err(OpsError::bad_input(format!(
                "client type {client_type:?}: expected confidential or public"
            )))
        }
    };
    if public && secret_stdin {
        return Err(OpsError::bad_input(
            "--secret-stdin gives a secret to a confidential app; a public app has none",
        ));
    }
    // Read a given secret before anything is read from KV, so a bad one writes nothing.
    let given = if secret_stdin {
        Some(util::read_one_credential(ctx.stdin, "client secret")?)
    } else {
        None
    };
    let mut new_secret = None;
    modify(ctx, client_id, dry_run, |o| {
        if public {
            if let Some(g) = o
                .get("grant_types")
                .and_then(Value::as_array)
                .and_then(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .find(|g| CONFIDENTIAL_ONLY.contains(g))
                })
            {
                return Err(OpsError::bad_input(format!(
                    "the app's grant types include {g}, which a public app cannot use; change them first (app set-grant-types)"
                )));
            }
            let mut what = Vec::new();
            if set(o, "client_type", json!("public")) {
                what.push("public".to_string());
            }
            if o.remove("client_secret_sha256").is_some() {
                what.push("its client secret hash removed".to_string());
            }
            return Ok((!what.is_empty()).then(|| what.join("; ")));
        }
        let mut what = Vec::new();
        if o.remove("client_type").is_some() {
            what.push("confidential".to_string());
        }
        let has_secret = o.get("client_secret_sha256").is_some_and(|v| !v.is_null());
        if given.is_some() || !has_secret {
            let (secret, generated) = match &given {
                Some(s) => (s.clone(), false),
                None => (util::new_client_secret(), true),
            };
            o.insert("client_secret_sha256".into(), json!(secret_hash(&secret)));
            what.push(if generated {
                "a new client secret (shown once; only its SHA-256 is stored)".to_string()
            } else {
                "the client secret from standard input (only its SHA-256 is stored)".to_string()
            });
            if generated && !dry_run {
                new_secret = Some(secret);
            }
        }
        Ok((!what.is_empty()).then(|| what.join("; ")))
    })?;
    if let Some(s) = new_secret {
        ctx.say(format!("client_secret={s}"))?;
    }
    Ok(())
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
    let mut warnings = Vec::new();
    if a.public {
        obj.insert("client_type".into(), json!("public"));
    }
    if !a.redirect_uris.is_empty() {
        let mut list: Vec<String> = Vec::new();
        for u in &a.redirect_uris {
            warnings.extend(check_redirect_uri(u)?);
            if !list.contains(u) {
                list.push(u.clone());
            }
        }
        obj.insert("redirect_uris".into(), json!(list));
    }
    if !a.grant_types.is_empty() {
        let list = parse_grant_types(&a.grant_types)?;
        warnings.extend(check_grant_types(&list, a.public)?);
        obj.insert("grant_types".into(), json!(list));
    }
    for (field, given) in [
        ("access_token_lifetime_seconds", &a.access_token_lifetime),
        ("refresh_token_lifetime_seconds", &a.refresh_token_lifetime),
    ] {
        if let Some(d) = given {
            let secs = parse_lifetime(d)?;
            if secs > DEFAULT_LIFETIME_S {
                warnings.push(LONGER_THAN_DEFAULT.trim_start_matches("note: ").to_string());
            }
            obj.insert(field.into(), json!(secs));
        }
    }
    if a.introspect_any {
        obj.insert("introspect_any".into(), json!(true));
    }
    warnings.dedup();
    for w in warnings {
        ctx.note(format!("warning: {w}"));
    }
    // The secret: read before anything is checked in KV, so a bad one writes nothing.
    let secret = if a.no_secret || a.public {
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
            None if a.public => "; public: no client secret, PKCE required",
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
