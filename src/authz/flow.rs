//! The endpoints, sans I/O: [`serve`] takes the request and what is known so far (the body,
//! records, the grant store's answer, the check endpoint's answer) and either answers
//! ([`Step::Done`], with the KV writes to make first) or says what it still needs
//! ([`Step::Need`]). The adapter gets those and calls again; re-running is cheap and, with the
//! request's random bytes drawn once, gives the same tokens.

use crate::authz::client::{self, Method, Presented, Problem};
use crate::authz::config::{GrantCodeAuth, GrantType, RedirectOnExchange, Server};
use crate::authz::params::{self, Params};
use crate::authz::reply::{self, OAuthError, Reply};
use crate::authz::store::{Answer, CodeGrant, Issue, Op, TokenRow};
use crate::authz::tokens::{self, Facts, Put, Random};
use crate::authz::{pkce, Endpoint};
use crate::base::request::RequestView;
use crate::interceptors::{app_problem, RecordSource};
use crate::records::cache::Slot;
use crate::records::{self, App, ClientType, Grant, Record, TokenKind};
use crate::trace::{Cause, Entry, Outcome};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The request, and what the runtime gives every request.
pub struct Input<'a> {
    pub req: &'a dyn RequestView,
    pub now_ms: u64,
    pub random: &'a Random,
    /// A Worker secret, by name.
    pub secret: &'a dyn Fn(&str) -> Option<String>,
}

/// The body as the adapter read it.
#[derive(Debug, Clone)]
pub enum Body {
    Bytes(Vec<u8>),
    /// Larger than `max_body_bytes` (reading stopped there).
    TooLarge,
    /// Could not be read (the client went away).
    Failed(String),
}

/// What the check endpoint answered.
#[derive(Debug, Clone)]
pub struct Checked {
    pub status: u16,
    pub body: String,
}

/// What is known so far.
pub struct Known<'a> {
    pub body: Option<&'a Body>,
    /// App records, through the per-isolate cache.
    pub records: &'a dyn RecordSource,
    /// Token records read fresh from KV, as text (`None`: absent; `Err`: KV failed).
    pub raw: &'a HashMap<String, Result<Option<String>, String>>,
    pub store: Option<&'a Result<Answer, String>>,
    pub check: Option<&'a Result<Checked, String>>,
    /// The throttle was consulted (and waited for).
    pub throttled: bool,
}

/// What the core needs before it can answer.
#[derive(Clone, PartialEq)]
pub enum Need {
    /// The body, at most this many bytes.
    Body(u64),
    /// An app record (cached).
    Kv(String),
    /// A token record, read fresh as text.
    Raw(String),
    /// The throttle's delay for this client id, waited for.
    Throttle(String),
    /// One operation on the grant store instance `instance`.
    Store {
        instance: String,
        op: String,
        timeout_ms: u64,
    },
    /// The resource-owner check endpoint.
    Check {
        url: String,
        bearer: String,
        body: String,
        timeout_ms: u64,
    },
}

/// Never shows the check endpoint's secret or the password it is sent.
impl std::fmt::Debug for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Need::Body(n) => write!(f, "Body({n})"),
            Need::Kv(k) => write!(f, "Kv({k:?})"),
            Need::Raw(k) => write!(f, "Raw({k:?})"),
            Need::Throttle(c) => write!(f, "Throttle({c:?})"),
            Need::Store { instance, .. } => write!(f, "Store({instance:?}, <op>)"),
            Need::Check { url, .. } => write!(f, "Check({url:?}, <redacted>)"),
        }
    }
}

/// The answer, the KV writes to make before it, and the trace.
#[derive(Debug)]
pub struct Done {
    pub reply: Reply,
    /// Written before the answer is sent (a success is sent only if every write succeeded).
    pub puts: Vec<Put>,
    /// The endpoint's entry and the request summary.
    pub entries: Vec<Entry>,
    /// A failure to count against this client id.
    pub failed: Option<String>,
    pub outcome: Outcome,
    /// After the writes, ask the grant store whether the family issued here was revoked
    /// meanwhile ([`confirmed`] then decides the answer).
    pub confirm: Option<Need>,
}

#[derive(Debug)]
pub enum Step {
    Need(Vec<Need>),
    Done(Done),
}

/// The grant store instance of an app: one per client id.
pub fn instance(client_id: &str) -> String {
    format!("client:{client_id}")
}

/// Why the flow stopped short of a success.
enum Stop {
    Need(Vec<Need>),
    Fail(Box<Fail>),
    Fault(u16, Cause, String),
}

struct Fail {
    error: OAuthError,
    cause: Cause,
    detail: String,
    /// A client id known to exist (written raw in the trace).
    client_id: Option<String>,
    /// The client id to count a failure against.
    counts: Option<String>,
    fingerprint: Option<String>,
    /// KV writes even on failure (the revoked records of a family).
    puts: Vec<Put>,
}

fn fail(error: OAuthError, cause: Cause, detail: impl Into<String>) -> Stop {
    Stop::Fail(Box::new(Fail {
        error,
        cause,
        detail: detail.into(),
        client_id: None,
        counts: None,
        fingerprint: None,
        puts: Vec::new(),
    }))
}

/// A failure tied to a client: counted, and the client id traced raw when the app exists.
fn fail_for(c: &Client, error: OAuthError, cause: Cause, detail: impl Into<String>) -> Stop {
    Stop::Fail(failure_for(c, error, cause, detail))
}

/// [`fail_for`]'s failure, for a caller that adds to it (a fingerprint, KV writes).
fn failure_for(
    c: &Client,
    error: OAuthError,
    cause: Cause,
    detail: impl Into<String>,
) -> Box<Fail> {
    Box::new(Fail {
        error,
        cause,
        detail: detail.into(),
        client_id: c.app.as_ref().map(|_| c.id.clone()),
        counts: Some(c.id.clone()),
        fingerprint: (c.app.is_none()).then(|| records::fingerprint(&c.id)),
        puts: Vec::new(),
    })
}

/// A success.
struct Ok_ {
    reply: Reply,
    puts: Vec<Put>,
    /// The family issued, to confirm after the writes.
    family: Option<(String, String)>,
    client_id: Option<String>,
    fingerprint: Option<String>,
    detail: String,
}

/// Answers one request to `endpoint` of `server`.
pub fn serve(server: &Server, endpoint: Endpoint, input: &Input<'_>, known: &Known<'_>) -> Step {
    let method = input.req.method();
    if method != endpoint.method() && !(endpoint == Endpoint::Metadata && method == "HEAD") {
        let allow = if endpoint == Endpoint::Metadata {
            "GET, HEAD"
        } else {
            "POST"
        };
        let mut e = Entry::new(endpoint.name(), Outcome::NoRoute);
        e.cause = Some(Cause::MethodNotAllowed);
        return done(
            endpoint,
            reply::method_not_allowed(allow),
            Vec::new(),
            e,
            None,
            Outcome::NoRoute,
            None,
        );
    }
    let result = match endpoint {
        Endpoint::Metadata => Ok(Ok_ {
            family: None,
            reply: reply::metadata(server, input.req.url()),
            puts: Vec::new(),
            client_id: None,
            fingerprint: None,
            detail: "metadata".into(),
        }),
        Endpoint::AccessToken => access_token(server, input, known),
        Endpoint::GrantCode => grant_code(server, input, known),
        Endpoint::Revoke => revoke(server, input, known),
        Endpoint::Introspect => introspect(server, input, known),
    };
    match result {
        Ok(ok) => {
            let mut e = Entry::new(endpoint.name(), Outcome::Pass);
            e.detail = Some(ok.detail);
            e.client_id = ok.client_id.clone();
            e.fingerprint = ok.fingerprint;
            let confirm = ok.family.and_then(|(client_id, family)| {
                store_need(&client_id, &Op::Confirm { family }, server.store_timeout_ms).ok()
            });
            let mut step = done(
                endpoint,
                ok.reply,
                ok.puts,
                e,
                None,
                Outcome::Pass,
                ok.client_id,
            );
            if let Step::Done(d) = &mut step {
                d.confirm = confirm;
            }
            step
        }
        Err(Stop::Need(n)) => Step::Need(n),
        Err(Stop::Fail(f)) => {
            let mut e = Entry::new(endpoint.name(), Outcome::Deny);
            e.cause = Some(f.cause);
            e.detail = Some(format!("{}: {}", f.error.code(), f.detail));
            e.client_id = f.client_id.clone();
            e.fingerprint = f.fingerprint;
            done(
                endpoint,
                reply::error(server, f.error),
                f.puts,
                e,
                f.counts,
                Outcome::Deny,
                f.client_id,
            )
        }
        Err(Stop::Fault(status, cause, detail)) => {
            let mut e = Entry::new(endpoint.name(), Outcome::Fault);
            e.cause = Some(cause);
            e.detail = Some(detail);
            done(
                endpoint,
                reply::fault(status),
                Vec::new(),
                e,
                None,
                Outcome::Fault,
                None,
            )
        }
    }
}

fn done(
    _endpoint: Endpoint,
    reply: Reply,
    puts: Vec<Put>,
    entry: Entry,
    failed: Option<String>,
    outcome: Outcome,
    client_id: Option<String>,
) -> Step {
    let mut summary = Entry::new("request", outcome);
    summary.status = Some(reply.status);
    summary.client_id = client_id;
    Step::Done(Done {
        reply,
        puts,
        entries: vec![entry, summary],
        failed,
        outcome,
        confirm: None,
    })
}

/// The answer once the grant store confirmed (or not) that the family issued is still live.
/// Revoked meanwhile (a reused code or refresh token, a revocation): the answer stands — this
/// request won the claim, as it would have had the reuse come a second later — and the
/// family's records are written revoked again, after this request's own. No answer from the
/// store: a 503, so tokens that may belong to a revoked family are never handed out.
pub fn confirmed(
    mut d: Done,
    _server: &Server,
    endpoint: Endpoint,
    answer: Result<Answer, String>,
) -> Done {
    d.confirm = None;
    let at = d.entries.len().saturating_sub(1);
    match answer {
        Ok(a) if a.refused.is_none() => {
            d.puts = Vec::new();
            d
        }
        Ok(a) => {
            let mut e = Entry::new(endpoint.name(), Outcome::Pass);
            e.cause = Some(Cause::FamilyRevoked);
            e.detail = Some(format!(
                "the family was revoked while its records were written (a reused code or refresh token, or a revocation): {} record(s) written revoked again",
                a.puts.len()
            ));
            d.entries.insert(at, e);
            d.puts = a.puts;
            d
        }
        Err(e) => {
            let mut entry = Entry::new(endpoint.name(), Outcome::Fault);
            entry.cause = Some(Cause::StoreUnavailable);
            entry.detail = Some(format!("grant store (confirming the family): {e}"));
            d.entries.insert(at, entry);
            d.reply = reply::fault(503);
            d.outcome = Outcome::Fault;
            d.puts = Vec::new();
            if let Some(s) = d.entries.last_mut() {
                s.outcome = Outcome::Fault;
                s.status = Some(503);
            }
            d
        }
    }
}

/// The answer when the KV writes of `done` failed: a success becomes a 503 (the tokens were
/// not stored); a refusal stays a refusal, with the failed revocation traced.
pub fn writes_failed(mut d: Done, endpoint: Endpoint, detail: String) -> Done {
    let mut e = Entry::new(endpoint.name(), Outcome::Fault);
    e.cause = Some(Cause::StoreUnavailable);
    e.detail = Some(format!("writing token records: {detail}"));
    if d.outcome == Outcome::Pass {
        d.reply = reply::fault(503);
        d.outcome = Outcome::Fault;
        if let Some(s) = d.entries.last_mut() {
            s.outcome = Outcome::Fault;
            s.status = Some(503);
        }
    }
    let at = d.entries.len().saturating_sub(1);
    d.entries.insert(at, e);
    d
}

// ---------------------------------------------------------------------------------------------
// What every endpoint shares.

fn body(server: &Server, input: &Input<'_>, known: &Known<'_>) -> Result<Params, Stop> {
    match known.body {
        None => Err(Stop::Need(vec![Need::Body(server.max_body_bytes)])),
        Some(Body::TooLarge) => Err(fail(
            OAuthError::InvalidRequest,
            Cause::BodyTooLarge,
            format!("the body is larger than {} bytes", server.max_body_bytes),
        )),
        Some(Body::Failed(e)) => Err(Stop::Fault(
            400,
            Cause::Malformed,
            format!("reading the request body: {e}"),
        )),
        Some(Body::Bytes(b)) => params::parse(input.req.header("content-type").as_deref(), b)
            .map_err(|e| fail(OAuthError::InvalidRequest, Cause::Malformed, e)),
    }
}

/// A client as far as it is known: its id and, once looked up, its app.
struct Client {
    id: String,
    app: Option<Arc<Record>>,
}

impl Client {
    fn app(&self) -> Option<&App> {
        match self.app.as_deref() {
            Some(Record::App(a)) => Some(a),
            _ => None,
        }
    }
}

/// Looks up the app of `client_id` (with `also`, more keys in the same round).
fn lookup(client_id: &str, known: &Known<'_>, also: &[Need]) -> Result<Client, Stop> {
    let Some(key) = records::app_key(client_id) else {
        return Err(fail(
            OAuthError::InvalidClient,
            Cause::TooLong,
            "the client id is longer than any app key",
        ));
    };
    let mut needs: Vec<Need> = also
        .iter()
        .filter(|n| match n {
            Need::Raw(k) => !known.raw.contains_key(k),
            Need::Kv(k) => matches!(known.records.lookup(k), Slot::Pending),
            _ => true,
        })
        .cloned()
        .collect();
    let app = match known.records.lookup(&key) {
        Slot::Pending => {
            needs.insert(0, Need::Kv(key.clone()));
            None
        }
        Slot::Absent => None,
        Slot::Present(r) => Some(r),
        Slot::Malformed(m) => return Err(Stop::Fault(500, Cause::MalformedRecord, m.to_string())),
        Slot::Unavailable(m) => {
            return Err(Stop::Fault(
                503,
                Cause::StoreUnavailable,
                format!("reading {key:?}: {m}"),
            ))
        }
        Slot::TimedOut(m) => {
            return Err(Stop::Fault(
                503,
                Cause::StoreTimeout,
                format!("reading {key:?}: {m}"),
            ))
        }
    };
    if !needs.is_empty() {
        return Err(Stop::Need(needs));
    }
    if app.as_deref().is_some_and(|r| !matches!(r, Record::App(_))) {
        return Err(Stop::Fault(
            500,
            Cause::MalformedRecord,
            format!("{key:?} does not hold an app"),
        ));
    }
    Ok(Client {
        id: client_id.to_string(),
        app,
    })
}

/// Waits out the throttle for this client id (once per request).
fn throttle(c: &Client, known: &Known<'_>) -> Result<(), Stop> {
    if known.throttled {
        Ok(())
    } else {
        Err(Stop::Need(vec![Need::Throttle(c.id.clone())]))
    }
}

/// Authenticates `p` against the app, which must also be usable; gives the app.
fn authenticate<'c>(c: &'c Client, p: &Presented, now_s: i64) -> Result<&'c App, Stop> {
    if let Err((cause, why)) = client::authenticate(c.app(), p) {
        return Err(fail_for(c, OAuthError::InvalidClient, cause, why));
    }
    // `client::authenticate` refuses a client id with no app (after the same constant-time work
    // as for one with an app); refused here too rather than assumed.
    let Some(app) = c.app() else {
        return Err(fail_for(
            c,
            OAuthError::InvalidClient,
            Cause::NotFound,
            "no app has this client id",
        ));
    };
    if let Some((cause, why)) = app_problem(app, now_s) {
        return Err(fail_for(c, OAuthError::InvalidClient, cause, why));
    }
    Ok(app)
}

fn presented(input: &Input<'_>, params: &Params) -> Result<Presented, Stop> {
    client::presented(input.req, params).map_err(|p| match p {
        Problem::TwoMethods => fail(
            OAuthError::InvalidRequest,
            Cause::Duplicated,
            "more than one client authentication method (RFC 6749 §2.3)",
        ),
        Problem::Invalid(cause, why) => fail(OAuthError::InvalidClient, cause, why),
    })
}

/// Whether the app's own `grant_types` (when it has them) allow `g`.
fn app_allows(app: &App, g: GrantType) -> bool {
    app.grant_types
        .as_ref()
        .is_none_or(|list| list.iter().any(|x| x == g.name()))
}

/// Lifetimes: the server's, or the app's when shorter.
fn lifetimes(server: &Server, app: &App) -> (u64, u64) {
    let narrow = |s: u64, a: Option<u64>| a.map_or(s, |a| a.max(1).min(s));
    (
        narrow(server.access_lifetime_s, app.access_token_lifetime_seconds),
        narrow(
            server.refresh_lifetime_s,
            app.refresh_token_lifetime_seconds,
        ),
    )
}

/// `scope`: space-separated `api` or `api:res1,res2` items, each granted to the app.
fn scope(params: &Params, app: &App, c: &Client) -> Result<Option<(Vec<Grant>, String)>, Stop> {
    let Some(text) = params.get("scope") else {
        return Ok(None);
    };
    let mut grants: Vec<Grant> = Vec::new();
    let mut items = Vec::new();
    for item in text.split(' ').filter(|s| !s.is_empty()) {
        let (api, resources) = match item.split_once(':') {
            Some((a, r)) => (
                a,
                Some(r.split(',').map(str::to_string).collect::<Vec<String>>()),
            ),
            None => (item, None),
        };
        let granted = match &resources {
            None => records::grants_access(&app.access, api, None),
            Some(rs) => {
                !rs.is_empty()
                    && rs
                        .iter()
                        .all(|r| !r.is_empty() && records::grants_access(&app.access, api, Some(r)))
            }
        };
        if api.is_empty() || !granted {
            return Err(fail_for(
                c,
                OAuthError::InvalidScope,
                Cause::InvalidScope,
                "a scope item is not granted to the app",
            ));
        }
        grants.push(Grant {
            api: api.to_string(),
            resources,
        });
        items.push(item);
    }
    if grants.is_empty() {
        return Ok(None);
    }
    Ok(Some((grants, items.join(" "))))
}

fn store_need(client_id: &str, op: &Op, timeout_ms: u64) -> Result<Need, Stop> {
    let op = serde_json::to_string(op)
        .map_err(|e| Stop::Fault(500, Cause::BadPolicy, format!("encoding a store op: {e}")))?;
    Ok(Need::Store {
        instance: instance(client_id),
        op,
        timeout_ms,
    })
}

/// The grant store's answer to `op`, once it has one.
fn store<'k>(
    server: &Server,
    client_id: &str,
    op: &Op,
    known: &Known<'k>,
) -> Result<&'k Answer, Stop> {
    match known.store {
        None => Err(Stop::Need(vec![store_need(
            client_id,
            op,
            server.store_timeout_ms,
        )?])),
        Some(Err(e)) => Err(Stop::Fault(
            503,
            Cause::StoreUnavailable,
            format!("grant store: {e}"),
        )),
        Some(Ok(a)) => Ok(a),
    }
}

/// A token record read fresh: `None` when absent, or not a token.
fn raw_token(key: &str, known: &Known<'_>) -> Result<Option<(records::Token, String)>, Stop> {
    match known.raw.get(key) {
        None => Err(Stop::Need(vec![Need::Raw(key.to_string())])),
        Some(Err(e)) => Err(Stop::Fault(
            503,
            Cause::StoreUnavailable,
            format!("reading {key:?}: {e}"),
        )),
        Some(Ok(None)) => Ok(None),
        Some(Ok(Some(text))) => match records::parse(key, text) {
            Ok(Record::Token(t)) => Ok(Some((t, text.clone()))),
            Ok(_) => Ok(None),
            Err(e) => Err(Stop::Fault(500, Cause::MalformedRecord, e)),
        },
    }
}

fn now_s(input: &Input<'_>) -> i64 {
    (input.now_ms / 1000) as i64
}

// ---------------------------------------------------------------------------------------------
// access-token

/// The grant asked for, with what it alone reads before the app is looked up.
enum Asked<'p> {
    ClientCredentials,
    AuthorizationCode,
    /// The refresh token and its KV key (`None` when too long for one).
    RefreshToken(&'p str, Option<String>),
    Password,
}

fn access_token(server: &Server, input: &Input<'_>, known: &Known<'_>) -> Result<Ok_, Stop> {
    let params = body(server, input, known)?;
    let Some(name) = params.get("grant_type") else {
        return Err(fail(
            OAuthError::InvalidRequest,
            Cause::Missing,
            "grant_type is missing",
        ));
    };
    let grant = match GrantType::parse(name) {
        Some(g) if server.allows(g) => g,
        _ => {
            return Err(fail(
                OAuthError::UnsupportedGrantType,
                Cause::UnsupportedGrantType,
                "the grant type is not one this server allows",
            ))
        }
    };
    let p = presented(input, &params)?;
    let asked = match grant {
        GrantType::ClientCredentials => Asked::ClientCredentials,
        GrantType::AuthorizationCode => Asked::AuthorizationCode,
        GrantType::RefreshToken => match params.get("refresh_token") {
            None => {
                return Err(fail(
                    OAuthError::InvalidRequest,
                    Cause::Missing,
                    "refresh_token is missing",
                ))
            }
            Some(r) => Asked::RefreshToken(r, records::token_key(r)),
        },
        GrantType::Password => Asked::Password,
    };
    // The refresh token's record (for a revocation by the tool) in the same round as the app.
    let also: Vec<Need> = match &asked {
        Asked::RefreshToken(_, Some(k)) => vec![Need::Raw(k.clone())],
        _ => Vec::new(),
    };
    let c = lookup(&p.client_id, known, &also)?;
    throttle(&c, known)?;
    let app = authenticate(&c, &p, now_s(input))?;
    if !app_allows(app, grant) {
        return Err(fail_for(
            &c,
            OAuthError::UnauthorizedClient,
            Cause::UnauthorizedClient,
            "the app's grant_types do not include this grant",
        ));
    }
    if p.method == Method::None
        && !matches!(
            grant,
            GrantType::AuthorizationCode | GrantType::RefreshToken
        )
    {
        return Err(fail_for(
            &c,
            OAuthError::UnauthorizedClient,
            Cause::UnauthorizedClient,
            "a public app may use only authorization_code (with PKCE) and refresh_token",
        ));
    }
    let (access_s, refresh_s) = lifetimes(server, app);
    let now = now_s(input);
    let access = tokens::token(server.token_format, input.random.access());
    let access_hash = tokens::hash_hex(&access);
    let refresh_allowed =
        server.allows(GrantType::RefreshToken) && app_allows(app, GrantType::RefreshToken);
    let new_refresh = tokens::token(server.token_format, input.random.refresh());
    let issue = |with_refresh: bool| Issue {
        family: crate::base::hex::encode(input.random.family()),
        access: access_hash.clone(),
        access_expires_at: now.saturating_add(access_s as i64),
        refresh: with_refresh.then(|| tokens::hash_hex(&new_refresh)),
        refresh_expires_at: now.saturating_add(refresh_s as i64),
        issued_at: now,
        server: server.name.to_string(),
    };
    let access_fp = Some(records::fingerprint(&access));
    match asked {
        Asked::ClientCredentials => {
            let scope = scope(&params, app, &c)?;
            let facts = Facts {
                client_id: &c.id,
                kind: TokenKind::AccessToken,
                expires_at: now.saturating_add(access_s as i64),
                grant_type: grant.name(),
                family: None,
                issued_at: now,
                server: &server.name,
                extra_info: None,
                scope: scope.as_ref().map(|(g, _)| g.as_slice()),
            };
            Ok(Ok_ {
                family: None,
                reply: reply::token(
                    server,
                    grant,
                    &access,
                    None,
                    access_s,
                    scope.as_ref().map(|(_, s)| s.as_str()),
                ),
                puts: vec![tokens::put(&access_hash, &facts)],
                client_id: Some(c.id.clone()),
                fingerprint: access_fp,
                detail: format!("issued client_credentials; expires_in {access_s}"),
            })
        }
        Asked::AuthorizationCode => {
            let Some(code) = params.get("code") else {
                return Err(fail_for(
                    &c,
                    OAuthError::InvalidRequest,
                    Cause::Missing,
                    "code is missing",
                ));
            };
            let verifier = params.get("code_verifier");
            if verifier.is_some_and(|v| !pkce::verifier_ok(v)) {
                return Err(fail_for(
                    &c,
                    OAuthError::InvalidRequest,
                    Cause::Malformed,
                    "code_verifier is not 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
                ));
            }
            if app.client_type == ClientType::Public && verifier.is_none() {
                return Err(fail_for(
                    &c,
                    OAuthError::InvalidRequest,
                    Cause::PkceMismatch,
                    "a public app must send code_verifier",
                ));
            }
            let op = Op::RedeemCode {
                code: tokens::hash_hex(code),
                client_id: c.id.clone(),
                redirect_uri: params.get("redirect_uri").map(String::from),
                redirect_required: server.redirect_on_exchange == RedirectOnExchange::Required,
                verifier_s256: verifier.map(pkce::s256),
                issue: issue(refresh_allowed),
            };
            let answer = store(server, &c.id, &op, known)?;
            let code_fp = records::fingerprint(code);
            if let Some(why) = answer.refused {
                let mut f = failure_for(&c, OAuthError::InvalidGrant, why.cause(), why.detail());
                f.fingerprint = Some(code_fp);
                f.puts = answer.puts.clone();
                return Err(Stop::Fail(f));
            }
            let scope_text = answer.scope.as_ref().map(|g| scope_text(g));
            Ok(Ok_ {
                family: answer.family.clone().map(|f| (c.id.clone(), f)),
                reply: reply::token(
                    server,
                    grant,
                    &access,
                    refresh_allowed.then_some(new_refresh.as_str()),
                    access_s,
                    scope_text.as_deref(),
                ),
                puts: answer.puts.clone(),
                client_id: Some(c.id.clone()),
                fingerprint: access_fp,
                detail: format!(
                    "issued authorization_code (code {code_fp}); expires_in {access_s}{}",
                    if refresh_allowed {
                        "; with a refresh token"
                    } else {
                        ""
                    }
                ),
            })
        }
        Asked::RefreshToken(refresh_token, key) => {
            let refresh_fp = records::fingerprint(refresh_token);
            let refused = |why: &str, cause: Cause| {
                let mut f = failure_for(&c, OAuthError::InvalidGrant, cause, why);
                f.fingerprint = Some(refresh_fp.clone());
                f
            };
            let Some(key) = key else {
                return Err(Stop::Fail(refused("no such refresh token", Cause::TooLong)));
            };
            let mirror = raw_token(&key, known)?;
            if let Some((t, _)) = &mirror {
                if t.kind != TokenKind::RefreshToken {
                    return Err(Stop::Fail(refused(
                        "an access token is not a refresh token",
                        Cause::InvalidGrant,
                    )));
                }
            }
            if !refresh_allowed {
                return Err(fail_for(
                    &c,
                    OAuthError::UnauthorizedClient,
                    Cause::UnauthorizedClient,
                    "the app's grant_types do not include refresh_token",
                ));
            }
            let op = Op::Rotate {
                refresh: tokens::hash_hex(refresh_token),
                client_id: c.id.clone(),
                revoked_in_kv: mirror.as_ref().is_some_and(|(t, _)| t.revoked),
                issue: issue(true),
            };
            let answer = store(server, &c.id, &op, known)?;
            if let Some(why) = answer.refused {
                let mut f = refused(why.detail(), why.cause());
                f.puts = answer.puts.clone();
                return Err(Stop::Fail(f));
            }
            let scope_text = answer.scope.as_ref().map(|g| scope_text(g));
            Ok(Ok_ {
                family: answer.family.clone().map(|f| (c.id.clone(), f)),
                reply: reply::token(
                    server,
                    grant,
                    &access,
                    Some(&new_refresh),
                    access_s,
                    scope_text.as_deref(),
                ),
                puts: answer.puts.clone(),
                client_id: Some(c.id.clone()),
                fingerprint: access_fp,
                detail: format!(
                    "issued refresh_token (refresh token {refresh_fp} spent); expires_in {access_s}"
                ),
            })
        }
        Asked::Password => {
            let (Some(username), Some(password)) = (params.get("username"), params.get("password"))
            else {
                return Err(fail_for(
                    &c,
                    OAuthError::InvalidRequest,
                    Cause::Missing,
                    "username or password is missing",
                ));
            };
            let scope = scope(&params, app, &c)?;
            let user_fp = records::fingerprint(username);
            let Some(check) = &server.owner_check else {
                // The policy compiler refuses password without a check: fail closed all the same.
                return Err(Stop::Fault(
                    500,
                    Cause::BadPolicy,
                    "the password grant is allowed but resource_owner_check is not set".into(),
                ));
            };
            let checked = match known.check {
                Some(Ok(c)) => c,
                Some(Err(e)) => {
                    return Err(Stop::Fault(
                        503,
                        Cause::OwnerCheckUnavailable,
                        format!("resource owner check: {e}"),
                    ))
                }
                None => {
                    let Some(bearer) = (input.secret)(&check.secret) else {
                        return Err(Stop::Fault(
                            500,
                            Cause::BadPolicy,
                            format!(
                                "the {} secret (resource_owner_check.secret) is not set",
                                check.secret
                            ),
                        ));
                    };
                    let body = reply::object(&[
                        ("username", username.into()),
                        ("password", password.into()),
                        ("client_id", c.id.as_str().into()),
                    ]);
                    return Err(Stop::Need(vec![Need::Check {
                        url: check.url.clone(),
                        bearer,
                        body,
                        timeout_ms: check.timeout_ms,
                    }]));
                }
            };
            let extra_info = match checked.status {
                200 => match owner_extra_info(&checked.body) {
                    Ok(x) => x,
                    Err(why) => {
                        return Err(Stop::Fault(503, Cause::OwnerCheckUnavailable, why.into()))
                    }
                },
                400 | 401 | 403 | 404 => {
                    let mut f = failure_for(
                        &c,
                        OAuthError::InvalidGrant,
                        Cause::OwnerCheckRefused,
                        format!(
                            "the resource owner check refused the username and password ({}; user {user_fp})",
                            checked.status
                        ),
                    );
                    f.fingerprint = Some(user_fp);
                    return Err(Stop::Fail(f));
                }
                s => {
                    return Err(Stop::Fault(
                        503,
                        Cause::OwnerCheckUnavailable,
                        format!("the resource owner check answered {s}"),
                    ))
                }
            };
            let family = crate::base::hex::encode(input.random.family());
            let facts = |kind, expires_at| Facts {
                client_id: &c.id,
                kind,
                expires_at,
                grant_type: grant.name(),
                family: refresh_allowed.then_some(family.as_str()),
                issued_at: now,
                server: &server.name,
                extra_info: extra_info.as_ref(),
                scope: scope.as_ref().map(|(g, _)| g.as_slice()),
            };
            let access_put = tokens::put(
                &access_hash,
                &facts(TokenKind::AccessToken, now.saturating_add(access_s as i64)),
            );
            let puts = if refresh_allowed {
                let refresh_expires = now.saturating_add(refresh_s as i64);
                let refresh_put = tokens::put(
                    &tokens::hash_hex(&new_refresh),
                    &facts(TokenKind::RefreshToken, refresh_expires),
                );
                let row = |p: &Put, hash: String, kind, expires_at| TokenRow {
                    hash,
                    family: family.clone(),
                    kind,
                    client_id: c.id.clone(),
                    expires_at,
                    used: false,
                    record: p.value.clone(),
                };
                let op = Op::Register {
                    rows: vec![
                        row(
                            &access_put,
                            access_hash.clone(),
                            TokenKind::AccessToken,
                            now.saturating_add(access_s as i64),
                        ),
                        row(
                            &refresh_put,
                            tokens::hash_hex(&new_refresh),
                            TokenKind::RefreshToken,
                            refresh_expires,
                        ),
                    ],
                };
                store(server, &c.id, &op, known)?.puts.clone()
            } else {
                vec![access_put]
            };
            Ok(Ok_ {
                family: refresh_allowed.then(|| (c.id.clone(), family.clone())),
                reply: reply::token(
                    server,
                    grant,
                    &access,
                    refresh_allowed.then_some(new_refresh.as_str()),
                    access_s,
                    scope.as_ref().map(|(_, s)| s.as_str()),
                ),
                puts,
                client_id: Some(c.id.clone()),
                fingerprint: access_fp,
                detail: format!("issued password (user {user_fp}); expires_in {access_s}"),
            })
        }
    }
}

/// The `extra_info` of the check endpoint's 200: an empty body, or a JSON object with an
/// optional `extra_info` object.
fn owner_extra_info(body: &str) -> Result<Option<serde_json::Value>, &'static str> {
    if body.trim().is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(m)) => match m.get("extra_info") {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v @ serde_json::Value::Object(_)) => Ok(Some(v.clone())),
            Some(_) => Err("the resource owner check's extra_info is not a JSON object"),
        },
        _ => Err("the resource owner check answered 200 with a body that is not a JSON object"),
    }
}

/// A scope as the `scope` parameter writes it.
fn scope_text(grants: &[Grant]) -> String {
    grants
        .iter()
        .map(|g| match &g.resources {
            None => g.api.clone(),
            Some(r) => format!("{}:{}", g.api, r.join(",")),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

// ---------------------------------------------------------------------------------------------
// grant-code

/// Who vouches for the user at grant-code.
enum Vouch<'s> {
    /// The app itself, with its client credentials.
    App(Presented),
    /// The login backend, with the provision key in `header` (the value of secret `secret`).
    ProvisionKey { header: &'s str, secret: &'s str },
}

fn grant_code(server: &Server, input: &Input<'_>, known: &Known<'_>) -> Result<Ok_, Stop> {
    let params = body(server, input, known)?;
    let Some(client_id) = params.get("client_id") else {
        return Err(fail(
            OAuthError::InvalidRequest,
            Cause::Missing,
            "client_id is missing",
        ));
    };
    if let Some(h) = &server.client_id_header {
        if input.req.header(h).as_deref() != Some(client_id) {
            return Err(fail(
                OAuthError::InvalidRequest,
                Cause::WrongApp,
                format!("the {h} header is missing or differs from the body's client_id"),
            ));
        }
    }
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Err(fail(
            OAuthError::InvalidRequest,
            Cause::Missing,
            "redirect_uri is missing",
        ));
    };
    // Who vouches for the user: the login backend's provision key, or the app itself.
    let vouch = match &server.grant_code_auth {
        GrantCodeAuth::ClientCredentials => {
            let p = presented(input, &params)?;
            if p.secrets.is_empty() {
                return Err(fail(
                    OAuthError::InvalidClient,
                    Cause::Missing,
                    "grant-code needs the app's client credentials",
                ));
            }
            Vouch::App(p)
        }
        GrantCodeAuth::ProvisionKey { header, secret } => Vouch::ProvisionKey { header, secret },
    };
    let c = lookup(client_id, known, &[])?;
    throttle(&c, known)?;
    let app = match vouch {
        Vouch::App(p) => authenticate(&c, &p, now_s(input))?,
        Vouch::ProvisionKey { header, secret } => {
            let Some(expected) = (input.secret)(secret) else {
                return Err(Stop::Fault(
                    500,
                    Cause::BadPolicy,
                    format!("the {secret} secret (provision_key_secret) is not set"),
                ));
            };
            let given = input.req.header(header);
            let a = Sha256::digest(given.as_deref().unwrap_or("").as_bytes());
            let b = Sha256::digest(expected.as_bytes());
            let matches = bool::from(a.as_slice().ct_eq(b.as_slice()));
            if given.is_none() || !matches {
                return Err(fail_for(
                    &c,
                    OAuthError::InvalidClient,
                    if given.is_none() {
                        Cause::Missing
                    } else {
                        Cause::BadSecret
                    },
                    format!("the provision key in {header} is missing or wrong"),
                ));
            }
            let Some(app) = c.app() else {
                return Err(fail_for(
                    &c,
                    OAuthError::InvalidClient,
                    Cause::NotFound,
                    "no app has this client id",
                ));
            };
            if let Some((cause, why)) = app_problem(app, now_s(input)) {
                return Err(fail_for(&c, OAuthError::InvalidClient, cause, why));
            }
            app
        }
    };
    if !server.allows(GrantType::AuthorizationCode)
        || !app_allows(app, GrantType::AuthorizationCode)
    {
        return Err(fail_for(
            &c,
            OAuthError::UnauthorizedClient,
            Cause::UnauthorizedClient,
            "authorization_code is not allowed for this app on this server",
        ));
    }
    if !app.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(fail_for(
            &c,
            OAuthError::InvalidRequest,
            Cause::RedirectUriMismatch,
            "the redirect_uri is not one of the app's redirect_uris (never redirected to)",
        ));
    }
    let challenge = match (params.get("code_challenge"), params.get("code_challenge_method")) {
        (None, None) => None,
        (Some(c), Some("S256")) if pkce::challenge_ok(c) => Some(c.to_string()),
        (Some(_), Some("S256")) => {
            return Err(fail_for(
                &c,
                OAuthError::InvalidRequest,
                Cause::Malformed,
                "code_challenge is not 43 to 128 characters of A-Z a-z 0-9 - . _ ~",
            ))
        }
        _ => {
            return Err(fail_for(
                &c,
                OAuthError::InvalidRequest,
                Cause::PkceMismatch,
                "PKCE needs code_challenge with code_challenge_method S256 (plain, or a challenge without a method, is refused)",
            ))
        }
    };
    if app.client_type == ClientType::Public && challenge.is_none() {
        return Err(fail_for(
            &c,
            OAuthError::InvalidRequest,
            Cause::PkceMismatch,
            "a public app must send a PKCE code_challenge",
        ));
    }
    let extra_info = params
        .object("extra_info")
        .map_err(|e| fail_for(&c, OAuthError::InvalidRequest, Cause::Malformed, e))?;
    let scope = scope(&params, app, &c)?;
    let code = tokens::uuid(input.random.code());
    let op = Op::PutCode {
        code: tokens::hash_hex(&code),
        until_ms: input
            .now_ms
            .saturating_add(server.code_lifetime_s.saturating_mul(1000)),
        grant: CodeGrant {
            client_id: c.id.clone(),
            redirect_uri: redirect_uri.to_string(),
            challenge,
            extra_info,
            scope: scope.map(|(g, _)| g),
        },
    };
    let answer = store(server, &c.id, &op, known)?;
    if answer.refused.is_some() {
        return Err(Stop::Fault(
            500,
            Cause::InvalidRequest,
            "the grant store already holds this code".into(),
        ));
    }
    Ok(Ok_ {
        family: None,
        reply: reply::grant_code(server, redirect_uri, &code, params.get("state")),
        puts: Vec::new(),
        client_id: Some(c.id.clone()),
        fingerprint: Some(records::fingerprint(&code)),
        detail: format!("code issued; expires_in {}", server.code_lifetime_s),
    })
}

// ---------------------------------------------------------------------------------------------
// revoke (RFC 7009)

fn revoke(server: &Server, input: &Input<'_>, known: &Known<'_>) -> Result<Ok_, Stop> {
    let params = body(server, input, known)?;
    let Some(token) = params.get("token") else {
        return Err(fail(
            OAuthError::InvalidRequest,
            Cause::Missing,
            "token is missing",
        ));
    };
    let p = presented(input, &params)?;
    let token_fp = records::fingerprint(token);
    let key = records::token_key(token);
    let also: Vec<Need> = key.clone().map(Need::Raw).into_iter().collect();
    let c = lookup(&p.client_id, known, &also)?;
    throttle(&c, known)?;
    authenticate(&c, &p, now_s(input))?;
    let ok = |puts: Vec<Put>, detail: &str| Ok_ {
        family: None,
        reply: reply::revoked(),
        puts,
        client_id: Some(c.id.clone()),
        fingerprint: Some(token_fp.clone()),
        detail: detail.to_string(),
    };
    let Some(key) = key else {
        return Ok(ok(Vec::new(), "no such token (longer than any token)"));
    };
    let op = Op::Revoke {
        token: tokens::hash_hex(token),
        client_id: c.id.clone(),
    };
    let answer = store(server, &c.id, &op, known)?;
    if answer.note == Some(crate::authz::store::Why::WrongClient) {
        return Ok(ok(Vec::new(), "a token of another client: left alone"));
    }
    if !answer.puts.is_empty() {
        let n = answer.puts.len();
        return Ok(ok(
            answer.puts.clone(),
            &format!("revoked {n} token record(s) (the token, or its family)"),
        ));
    }
    // Not in the grant store (client credentials, imported, tool-issued): its KV record.
    match raw_token(&key, known)? {
        None => Ok(ok(Vec::new(), "no such token")),
        Some((t, _)) if t.client_id != c.id => {
            Ok(ok(Vec::new(), "a token of another client: left alone"))
        }
        Some((t, _)) if t.revoked => Ok(ok(Vec::new(), "already revoked")),
        Some((t, text)) => {
            let Some(value) = tokens::revoked(&text) else {
                return Err(Stop::Fault(
                    500,
                    Cause::MalformedRecord,
                    format!("{key:?} is not a JSON object"),
                ));
            };
            let expiration = t
                .expires_at
                .map_or(0, |e| e.saturating_add(tokens::KEEP_EXPIRED_S));
            Ok(ok(
                vec![Put {
                    key,
                    value,
                    expiration,
                    client_id: t.client_id.clone(),
                }],
                "revoked",
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// introspect (RFC 7662)

fn introspect(server: &Server, input: &Input<'_>, known: &Known<'_>) -> Result<Ok_, Stop> {
    let params = body(server, input, known)?;
    let Some(token) = params.get("token") else {
        return Err(fail(
            OAuthError::InvalidRequest,
            Cause::Missing,
            "token is missing",
        ));
    };
    let p = presented(input, &params)?;
    if p.secrets.is_empty() {
        return Err(fail(
            OAuthError::InvalidClient,
            Cause::BadSecret,
            "introspection needs a confidential app's client secret",
        ));
    }
    let token_fp = records::fingerprint(token);
    let key = records::token_key(token);
    let also: Vec<Need> = key.clone().map(Need::Raw).into_iter().collect();
    let c = lookup(&p.client_id, known, &also)?;
    throttle(&c, known)?;
    let now = now_s(input);
    let caller = authenticate(&c, &p, now)?;
    let inactive = |why: &str| Ok_ {
        family: None,
        reply: reply::json(200, r#"{"active":false}"#.into()),
        puts: Vec::new(),
        client_id: Some(c.id.clone()),
        fingerprint: Some(token_fp.clone()),
        detail: format!("inactive: {why}"),
    };
    let Some(key) = key else {
        return Ok(inactive("longer than any token"));
    };
    let Some((t, _)) = raw_token(&key, known)? else {
        return Ok(inactive("no such token"));
    };
    if t.client_id != c.id && !caller.introspect_any {
        return Ok(inactive("a token of another client"));
    }
    if t.revoked {
        return Ok(inactive("revoked (or a spent refresh token)"));
    }
    if records::is_expired(t.expires_at, now) {
        return Ok(inactive("expired"));
    }
    // The token's app must be usable, as the interceptors require.
    let owner = if t.client_id == c.id {
        c.app.clone()
    } else {
        lookup(&t.client_id, known, &[])?.app
    };
    match owner.as_deref() {
        Some(Record::App(a)) if app_problem(a, now).is_none() => {}
        _ => return Ok(inactive("the token's app is unknown or not usable")),
    }
    let mut pairs: Vec<(&str, serde_json::Value)> = vec![
        ("active", true.into()),
        ("client_id", t.client_id.as_str().into()),
        (
            "token_type",
            match t.kind {
                TokenKind::AccessToken => server.token_type.as_str(),
                TokenKind::RefreshToken => "refresh_token",
            }
            .into(),
        ),
    ];
    if let Some(e) = t.expires_at {
        pairs.push(("exp", e.into()));
    }
    if let Some(iat) = raw_issued_at(known.raw.get(&key)) {
        pairs.push(("iat", iat.into()));
    }
    if let Some(s) = &t.scope {
        pairs.push(("scope", scope_text(s).into()));
    }
    if let Some(x) = &t.extra_info {
        pairs.push(("extra_info", x.clone()));
    }
    Ok(Ok_ {
        family: None,
        reply: reply::json(200, reply::object(&pairs)),
        puts: Vec::new(),
        client_id: Some(c.id.clone()),
        fingerprint: Some(token_fp),
        detail: "active".into(),
    })
}

fn raw_issued_at(raw: Option<&Result<Option<String>, String>>) -> Option<i64> {
    let text = raw?.as_ref().ok()?.as_ref()?;
    serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("issued_at")?
        .as_i64()
}

#[cfg(test)]
mod tests;
