//! The interceptors: a closed set, dispatched by `match`.
//!
//! Each file holds one interceptor's configuration, its configuration checks, its check and its
//! tests. What they share lives here: where the credential is read ([`Common::extract`]), how a
//! record is loaded ([`load`]), what makes an app usable ([`app_problem`]), and how a denial is
//! written ([`Common::deny`]). Denials are values, never errors.

// What clients send reaches this layer on every request: nothing here may panic (a panic traps
// the wasm instance; docs/reliability.md). Clippy (run with -D warnings) refuses unchecked
// arithmetic and indexing, unwrap/expect, panic! and unreachable! here, outside tests.
#![cfg_attr(
    not(test),
    warn(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable
    )
)]
// A `Check` is a few hundred bytes, made at most once per interceptor per request and moved,
// not copied around; boxing it would add an allocation to every denial for nothing.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

pub mod access_token;
pub mod client_id;
pub mod client_id_secret_encoded;
pub mod csrf;
pub mod digital_signature;
pub mod generated;
pub mod jwt;
pub mod oauth;
pub mod time_token;

use crate::base::config::{is_header_name, Obj};
use crate::base::locate::{extract, Extracted, Location, Place};
use crate::base::message::{Element, Format, Label};
use crate::base::request::{RequestView, Target};
use crate::crypto::jobs::{NonceClaim, Settled, SigJob};
use crate::interceptors::jwt::verify::VerifyJob;
use crate::records::cache::{Layered, Slot};
use crate::records::{self, is_expired, App, AppStatus, Record};
use crate::trace::{Cause, Entry, Outcome};
use std::collections::HashMap;
use std::sync::Arc;

/// Interceptor type names, as written in a policy.
pub const TYPES: &[&str] = &[
    "oauth",
    "access_token",
    "client_id",
    "client_id_secret_encoded",
    "jwt",
    "csrf_generator",
    "csrf",
    "time_token_generator",
    "time_token",
    "digital_signature",
];

#[derive(Debug)]
pub enum Interceptor {
    OAuth(oauth::OAuth),
    AccessToken(access_token::AccessToken),
    ClientId(client_id::ClientId),
    ClientIdSecretEncoded(client_id_secret_encoded::ClientIdSecretEncoded),
    Jwt(jwt::Jwt),
    DigitalSignature(digital_signature::DigitalSignature),
    CsrfGenerator(csrf::CsrfGenerator),
    Csrf(csrf::Csrf),
    TimeTokenGenerator(time_token::TimeTokenGenerator),
    TimeToken(time_token::TimeToken),
}

impl Interceptor {
    /// Compiles one interceptor declaration; problems go to `errs`.
    pub fn compile(o: &mut Obj<'_>, docs: &str, errs: &mut Vec<String>) -> Option<Interceptor> {
        if !o.map.contains_key("type") {
            errs.push(format!(
                "{}: missing field \"type\"; expected one of {TYPES:?}",
                o.path
            ));
        }
        let kind = o.opt_choice("type", TYPES, errs)?;
        Some(match kind {
            "oauth" => Interceptor::OAuth(oauth::OAuth::compile(o, docs, errs)),
            "access_token" => {
                Interceptor::AccessToken(access_token::AccessToken::compile(o, docs, errs))
            }
            "client_id" => Interceptor::ClientId(client_id::ClientId::compile(o, docs, errs)),
            "jwt" => Interceptor::Jwt(jwt::Jwt::compile(o, docs, errs)),
            "digital_signature" => Interceptor::DigitalSignature(
                digital_signature::DigitalSignature::compile(o, docs, errs),
            ),
            "csrf_generator" => Interceptor::CsrfGenerator(csrf::CsrfGenerator::compile(o, errs)),
            "csrf" => Interceptor::Csrf(csrf::Csrf::compile(o, docs, errs)),
            "time_token_generator" => {
                Interceptor::TimeTokenGenerator(time_token::TimeTokenGenerator::compile(o, errs))
            }
            "time_token" => Interceptor::TimeToken(time_token::TimeToken::compile(o, docs, errs)),
            _ => Interceptor::ClientIdSecretEncoded(
                client_id_secret_encoded::ClientIdSecretEncoded::compile(o, docs, errs),
            ),
        })
    }

    pub fn check(&self, call: &Call<'_>) -> Check {
        match self {
            Interceptor::OAuth(i) => i.check(call),
            Interceptor::AccessToken(i) => i.check(call),
            Interceptor::ClientId(i) => i.check(call),
            Interceptor::ClientIdSecretEncoded(i) => i.check(call),
            Interceptor::Jwt(i) => i.check(call),
            Interceptor::DigitalSignature(i) => i.check(call),
            Interceptor::Csrf(i) => i.check(call),
            Interceptor::TimeToken(i) => i.check(call),
            Interceptor::CsrfGenerator(_) | Interceptor::TimeTokenGenerator(_) => fault(
                self.kind(),
                500,
                Cause::BadPolicy,
                "a response-flow interceptor was run in the request flow".into(),
            ),
        }
    }

    /// The type name, as written in a policy.
    pub fn kind(&self) -> &'static str {
        match self {
            Interceptor::OAuth(_) => "oauth",
            Interceptor::AccessToken(_) => "access_token",
            Interceptor::ClientId(_) => "client_id",
            Interceptor::ClientIdSecretEncoded(_) => "client_id_secret_encoded",
            Interceptor::Jwt(_) => "jwt",
            Interceptor::DigitalSignature(_) => "digital_signature",
            Interceptor::CsrfGenerator(_) => "csrf_generator",
            Interceptor::Csrf(_) => "csrf",
            Interceptor::TimeTokenGenerator(_) => "time_token_generator",
            Interceptor::TimeToken(_) => "time_token",
        }
    }

    /// Generators act on the origin's response (response flow), after every request-flow
    /// interceptor of the call has passed.
    pub fn is_response_flow(&self) -> bool {
        matches!(
            self,
            Interceptor::CsrfGenerator(_) | Interceptor::TimeTokenGenerator(_)
        )
    }

    /// A generator's additions to the origin's response; `None` for request-flow interceptors.
    pub fn issue(&self, call: &Call<'_>) -> Option<Result<generated::Issued, Fault>> {
        match self {
            Interceptor::CsrfGenerator(g) => Some(g.issue(call)),
            Interceptor::TimeTokenGenerator(g) => Some(g.issue(call)),
            _ => None,
        }
    }

    /// Whether a pass of this interceptor establishes the call's app.
    pub fn identifies(&self) -> bool {
        match self {
            Interceptor::OAuth(_)
            | Interceptor::AccessToken(_)
            | Interceptor::ClientId(_)
            | Interceptor::ClientIdSecretEncoded(_) => true,
            Interceptor::Jwt(j) => j.identifies(),
            _ => false,
        }
    }

    /// Whether this interceptor issues or checks tokens under `TOKEN_SECRET`.
    pub fn uses_token_keys(&self) -> bool {
        self.requires().is_some()
    }

    /// What a CSRF / Time Token interceptor needs from its chain; `None` for the others.
    pub fn requires(&self) -> Option<generated::Requires> {
        match self {
            Interceptor::CsrfGenerator(i) => Some(i.requires()),
            Interceptor::Csrf(i) => Some(i.requires()),
            Interceptor::TimeTokenGenerator(i) => Some(i.requires()),
            Interceptor::TimeToken(i) => Some(i.requires()),
            _ => None,
        }
    }

    /// Hands the `TOKEN_SECRET` keys to a CSRF / Time Token interceptor (once per isolate).
    pub fn attach_keys(&mut self, keys: &Arc<crate::crypto::gentoken::TokenKeys>) {
        match self {
            Interceptor::CsrfGenerator(i) => i.attach_keys(keys),
            Interceptor::Csrf(i) => i.attach_keys(keys),
            Interceptor::TimeTokenGenerator(i) => i.attach_keys(keys),
            Interceptor::TimeToken(i) => i.attach_keys(keys),
            _ => {}
        }
    }

    /// Whether this interceptor needs an app identified by an earlier one.
    pub fn needs_identity(&self) -> bool {
        matches!(self, Interceptor::DigitalSignature(_))
    }
}

/// What an interceptor sees of the call.
pub struct Call<'a> {
    pub req: &'a dyn RequestView,
    pub target: Target<'a>,
    pub api: &'a str,
    pub resource: Option<&'a str>,
    pub now_s: i64,
    pub now_ms: u64,
    pub records: &'a dyn RecordSource,
    /// The identity an earlier interceptor established, if any.
    pub identity: Option<&'a Identity>,
}

/// The identity an interceptor established.
#[derive(Debug, Clone)]
pub struct Identity {
    pub client_id: String,
    app: Arc<Record>,
    /// The token record that identified the app, if a token did (OAuth, Access Token): its
    /// extra info goes to the origin. The cached record itself, not a copy of its parts.
    token: Option<Arc<Record>>,
}

impl Identity {
    /// The identified app ([`identity`] is given app records only; anything else would read as
    /// [`records::NO_APP`], which is granted nothing).
    pub fn app(&self) -> &App {
        match &*self.app {
            Record::App(a) => a,
            _ => &records::NO_APP,
        }
    }

    /// The identifying token's record, when a token identified the app.
    pub fn token(&self) -> Option<&records::Token> {
        match self.token.as_deref() {
            Some(Record::Token(t)) => Some(t),
            _ => None,
        }
    }

    /// The identifying token's `extra_info`, if any.
    pub fn token_extra_info(&self) -> Option<&serde_json::Value> {
        self.token().and_then(|t| t.extra_info.as_ref())
    }
}

/// A credential to remove before forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hide {
    pub place: Place,
    pub name: Arc<str>,
}

#[derive(Debug)]
pub struct Pass {
    pub entry: Entry,
    pub identity: Option<Identity>,
    pub hide: Vec<Hide>,
    /// Headers this interceptor owns toward the origin: each is removed from the client's
    /// request and, with a value, set (JWT claims forwarded as headers).
    pub headers: Vec<(Arc<str>, Option<String>)>,
}

#[derive(Debug)]
pub struct Denial {
    pub body: Arc<str>,
    pub content_type: &'static str,
    pub entry: Entry,
    /// `WWW-Authenticate` for the 401 (Access Token Validation in Bearer mode, RFC 6750 §3).
    pub challenge: Option<&'static str>,
}

#[derive(Debug)]
pub struct Fault {
    pub status: u16,
    pub entry: Entry,
}

/// The result of one interceptor.
#[derive(Debug)]
pub enum Check {
    Pass(Pass),
    Deny(Denial),
    /// What to get (records, key sets, signature verifications) before the check can be
    /// decided.
    Need(Vec<Need>),
    Fault(Fault),
}

/// The settings every credential-reading interceptor has.
#[derive(Debug)]
pub struct Common {
    pub kind: &'static str,
    pub element: Element,
    pub location: Location,
    pub hide: bool,
    pub docs: Arc<str>,
}

impl Common {
    /// Reads `name`, `location`, `format`, `docs` and `hide_credential`; `locations` lists the
    /// locations this interceptor supports (the first is the default). With `fixed_name`, the
    /// name and location are not configurable.
    pub fn compile(
        o: &mut Obj<'_>,
        kind: &'static str,
        label: Label,
        default_name: &str,
        locations: &[&str],
        docs: &str,
        errs: &mut Vec<String>,
    ) -> Common {
        let name = o.opt_str("name", errs).unwrap_or(default_name);
        let location = o
            .opt_choice("location", locations, errs)
            .and_then(Location::parse)
            .or_else(|| locations.first().and_then(|l| Location::parse(l)))
            .unwrap_or(Location::Header);
        Common::finish(o, kind, label, name, location, docs, errs)
    }

    /// For interceptors whose element is fixed (OAuth).
    pub fn fixed(
        o: &mut Obj<'_>,
        kind: &'static str,
        label: Label,
        name: &str,
        docs: &str,
        errs: &mut Vec<String>,
    ) -> Common {
        Common::finish(o, kind, label, name, Location::Header, docs, errs)
    }

    fn finish(
        o: &mut Obj<'_>,
        kind: &'static str,
        label: Label,
        name: &str,
        location: Location,
        docs: &str,
        errs: &mut Vec<String>,
    ) -> Common {
        let format = o
            .opt_choice("format", Format::NAMES, errs)
            .and_then(Format::parse)
            .unwrap_or(Format::Text);
        let docs = o.opt_str("docs", errs).unwrap_or(docs);
        let hide = o.opt_bool("hide_credential", errs).unwrap_or(false);
        if name.is_empty() || name.len() > 256 {
            errs.push(format!("{}.name: must be 1 to 256 characters", o.path));
        } else if location.places().contains(&Place::Header) && !is_header_name(name)
            || location.places().contains(&Place::Cookie) && !is_header_name(name)
        {
            errs.push(format!(
                "{}.name: {name:?} cannot be a header or cookie name (letters, digits and !#$%&'*+-.^_`|~ only)",
                o.path
            ));
        }
        Common {
            kind,
            element: Element::new(label, name, format, docs),
            location,
            hide,
            docs: docs.into(),
        }
    }

    /// A second element of the same interceptor (OAuth reads two headers), with the same
    /// format, docs and hiding.
    pub fn sibling(&self, label: Label, name: &str) -> Common {
        Common {
            kind: self.kind,
            element: Element::new(label, name, self.element.format, &self.docs),
            location: Location::Header,
            hide: self.hide,
            docs: self.docs.clone(),
        }
    }

    /// The credential as sent, or the denial for a missing, empty or duplicated one.
    pub fn extract(&self, call: &Call<'_>) -> Result<(String, Place), Box<Check>> {
        match extract(call.req, &call.target, self.location, &self.element.name) {
            Extracted::Found { value, place } => Ok((value, place)),
            Extracted::Empty { place } => Err(Box::new(self.deny(
                place,
                Cause::Empty,
                Some("the credential is present but empty".into()),
                None,
                None,
            ))),
            Extracted::Duplicated { place } => Err(Box::new(self.deny(
                place,
                Cause::Duplicated,
                Some(format!(
                    "{} {} is given more than once",
                    place.as_str(),
                    self.element.name
                )),
                None,
                None,
            ))),
            Extracted::Missing { place } => Err(Box::new(self.deny(
                place,
                Cause::Missing,
                Some(format!("no credential in {}", self.where_looked())),
                None,
                None,
            ))),
        }
    }

    fn where_looked(&self) -> String {
        self.location
            .places()
            .iter()
            .map(|p| format!("{} {}", p.as_str(), self.element.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// A 401 for this element at `place`, with its trace entry.
    pub fn deny(
        &self,
        place: Place,
        cause: Cause,
        detail: Option<String>,
        fingerprint: Option<String>,
        client_id: Option<String>,
    ) -> Check {
        let mut entry = Entry::new(self.kind, Outcome::Deny);
        entry.cause = Some(cause);
        entry.line = Some(self.element.trace_line(place, cause == Cause::NoAccess));
        entry.detail = detail;
        entry.element = Some([place.as_str(), " ", &self.element.name].concat());
        entry.fingerprint = fingerprint;
        entry.client_id = client_id;
        Check::Deny(Denial {
            body: self.element.body(place),
            content_type: self.element.format.content_type(),
            entry,
            challenge: None,
        })
    }

    /// A pass that establishes `identity`; denied when an earlier interceptor identified
    /// another app (a client id of one app with a token of another never passes).
    pub fn pass(
        &self,
        call: &Call<'_>,
        place: Place,
        fingerprint: Option<String>,
        identity: Identity,
    ) -> Check {
        let client_id = Some(identity.client_id.clone());
        if let Some(earlier) = call.identity {
            if earlier.client_id != identity.client_id {
                return self.deny(
                    place,
                    Cause::WrongApp,
                    Some(format!(
                        "an earlier interceptor identified app {:?}",
                        earlier.client_id
                    )),
                    fingerprint,
                    client_id,
                );
            }
        }
        let mut entry = Entry::new(self.kind, Outcome::Pass);
        entry.element = Some([place.as_str(), " ", &self.element.name].concat());
        entry.fingerprint = fingerprint;
        entry.client_id = client_id;
        Check::Pass(Pass {
            entry,
            identity: Some(identity),
            hide: self.hide(place),
            headers: Vec::new(),
        })
    }

    /// What to hide for a credential found at `place`.
    pub fn hide(&self, place: Place) -> Vec<Hide> {
        if self.hide {
            vec![Hide {
                place,
                name: self.element.name.clone(),
            }]
        } else {
            Vec::new()
        }
    }
}

/// Explains the likely cause of an unknown credential when the value looks altered.
pub fn value_hint(value: &str, place: Place) -> Option<String> {
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        Some("the value has leading or trailing whitespace or a line break; credentials are compared exactly as sent, never trimmed".into())
    } else if place == Place::Header && value.contains(", ") {
        Some("the value contains \", \": a header sent more than once reaches the gateway joined with \", \"".into())
    } else {
        None
    }
}

/// A record lookup reduced to what an interceptor acts on.
pub enum Loaded {
    Present(Arc<Record>),
    Absent,
    /// Not decidable now: a `Need` or a `Fault` to return as is.
    Stop(Check),
}

/// Looks `key` up; malformed records are a 500 and an unreadable or too slow store a 503, all
/// traced.
pub fn load(call: &Call<'_>, kind: &'static str, key: &str) -> Loaded {
    match call.records.lookup(key) {
        Slot::Present(r) => Loaded::Present(r),
        Slot::Absent => Loaded::Absent,
        Slot::Pending => Loaded::Stop(Check::Need(vec![Need::Kv(key.to_string())])),
        Slot::Malformed(msg) => {
            Loaded::Stop(fault(kind, 500, Cause::MalformedRecord, msg.to_string()))
        }
        Slot::Unavailable(msg) => Loaded::Stop(fault(
            kind,
            503,
            Cause::StoreUnavailable,
            format!("reading {key:?}: {msg}"),
        )),
        Slot::TimedOut(msg) => Loaded::Stop(fault(
            kind,
            503,
            Cause::StoreTimeout,
            format!("reading {key:?}: {msg}"),
        )),
    }
}

/// The keys among `keys` that are not known yet, as a `Need`.
pub fn need_any(call: &Call<'_>, keys: &[&str]) -> Option<Check> {
    let pending: Vec<Need> = keys
        .iter()
        .filter(|k| matches!(call.records.lookup(k), Slot::Pending))
        .map(|k| Need::Kv(k.to_string()))
        .collect();
    if pending.is_empty() {
        None
    } else {
        Some(Check::Need(pending))
    }
}

/// A gateway fault with its trace entry.
pub fn fault(kind: &'static str, status: u16, cause: Cause, detail: String) -> Check {
    let mut entry = Entry::new(kind, Outcome::Fault);
    entry.cause = Some(cause);
    entry.detail = Some(detail);
    Check::Fault(Fault { status, entry })
}

/// Why an app cannot be used at `now_s`, if it cannot.
pub fn app_problem(app: &App, now_s: i64) -> Option<(Cause, String)> {
    if app.status != AppStatus::Approved {
        return Some((
            Cause::AppNotApproved,
            format!("app status is {:?}, not APPROVED", app.status).to_uppercase(),
        ));
    }
    if app.revoked {
        return Some((Cause::AppRevoked, "the app is revoked".into()));
    }
    if is_expired(app.expires_at, now_s) {
        return Some((Cause::AppExpired, "the app has expired".into()));
    }
    None
}

/// Whether the app may call this API/resource.
pub fn app_has_access(app: &App, call: &Call<'_>) -> bool {
    records::grants_access(&app.access, call.api, call.resource)
}

/// The app record behind `record`, if it is one (a token under an `app:` key is malformed).
pub fn as_app(record: &Record) -> Option<&App> {
    match record {
        Record::App(a) => Some(a),
        _ => None,
    }
}

/// Loads and checks the app `client_id` found at `place`: it must exist and be usable, and
/// with `check_access` it must be allowed to call this API/resource.
pub fn resolve_app(
    c: &Common,
    call: &Call<'_>,
    client_id: &str,
    place: Place,
    check_access: bool,
) -> Result<Arc<Record>, Check> {
    resolve_app_keyed(
        c,
        call,
        client_id,
        records::app_key(client_id),
        place,
        check_access,
    )
}

/// [`resolve_app`] with the app's KV key already made (`records::app_key(client_id)`), for an
/// interceptor that made it to ask for the record. The fingerprint (a SHA-256 of the client
/// id) is made only for a denial: a pass does not trace it.
pub fn resolve_app_keyed(
    c: &Common,
    call: &Call<'_>,
    client_id: &str,
    key: Option<String>,
    place: Place,
    check_access: bool,
) -> Result<Arc<Record>, Check> {
    let fp = || Some(records::fingerprint(client_id));
    let Some(key) = key else {
        return Err(c.deny(
            place,
            Cause::TooLong,
            Some(format!(
                "{} bytes: longer than any KV key can hold, refused without a lookup",
                client_id.len()
            )),
            fp(),
            None,
        ));
    };
    let record = match load(call, c.kind, &key) {
        Loaded::Stop(check) => return Err(check),
        Loaded::Absent => {
            let detail =
                value_hint(client_id, place).unwrap_or_else(|| "no app has this client id".into());
            return Err(c.deny(place, Cause::NotFound, Some(detail), fp(), None));
        }
        Loaded::Present(r) => r,
    };
    let Some(app) = as_app(&record) else {
        return Err(fault(
            c.kind,
            500,
            Cause::MalformedRecord,
            format!("{key:?} does not hold an app"),
        ));
    };
    let client = || Some(client_id.to_string());
    if let Some((cause, detail)) = app_problem(app, call.now_s) {
        return Err(c.deny(place, cause, Some(detail), fp(), client()));
    }
    if check_access && !app_has_access(app, call) {
        return Err(c.deny(
            place,
            Cause::NoAccess,
            Some(no_access_detail(call, "the app")),
            fp(),
            client(),
        ));
    }
    Ok(record)
}

/// Loads and checks the access token found at `place`: it must exist, not be revoked and not be
/// expired. Returns the token record and its fingerprint.
pub fn resolve_token(
    c: &Common,
    call: &Call<'_>,
    token: &str,
    place: Place,
) -> Result<(Arc<Record>, String), Check> {
    resolve_token_keyed(
        c,
        call,
        token,
        records::token_key_and_fingerprint(token),
        place,
    )
}

/// [`resolve_token`] with the token's KV key and fingerprint already made
/// (`records::token_key_and_fingerprint(token)`: one SHA-256 of the token serves the lookup,
/// the trace and the interceptor that asked for the record).
pub fn resolve_token_keyed(
    c: &Common,
    call: &Call<'_>,
    token: &str,
    keyed: Option<(String, String)>,
    place: Place,
) -> Result<(Arc<Record>, String), Check> {
    let Some((key, fp)) = keyed else {
        let fp = records::fingerprint(token);
        return Err(c.deny(
            place,
            Cause::TooLong,
            Some(format!(
                "{} bytes: longer than any token issued, refused without a lookup",
                token.len()
            )),
            Some(fp),
            None,
        ));
    };
    let record = match load(call, c.kind, &key) {
        Loaded::Stop(check) => return Err(check),
        Loaded::Absent => {
            let detail =
                value_hint(token, place).unwrap_or_else(|| "no token has this value".into());
            return Err(c.deny(place, Cause::NotFound, Some(detail), Some(fp), None));
        }
        Loaded::Present(r) => r,
    };
    let Record::Token(t) = &*record else {
        return Err(fault(
            c.kind,
            500,
            Cause::MalformedRecord,
            format!("{key:?} does not hold a token"),
        ));
    };
    let client = || Some(t.client_id.clone());
    if t.kind == records::TokenKind::RefreshToken {
        // A refresh token is for the token endpoint only (docs/authorization-server.md).
        return Err(c.deny(
            place,
            Cause::NotFound,
            Some("a refresh token is not an access token".into()),
            Some(fp),
            client(),
        ));
    }
    if t.revoked {
        return Err(c.deny(
            place,
            Cause::Revoked,
            Some("the token is revoked".into()),
            Some(fp),
            client(),
        ));
    }
    if is_expired(t.expires_at, call.now_s) {
        return Err(c.deny(
            place,
            Cause::Expired,
            Some("the token has expired".into()),
            Some(fp),
            client(),
        ));
    }
    Ok((record, fp))
}

/// Whether a token's scope (if it narrows) covers this API/resource.
pub fn scope_allows(record: &Record, call: &Call<'_>) -> bool {
    match record {
        Record::Token(t) => t
            .scope
            .as_deref()
            .is_none_or(|s| records::grants_access(s, call.api, call.resource)),
        _ => false,
    }
}

pub fn no_access_detail(call: &Call<'_>, who: &str) -> String {
    match call.resource {
        Some(r) => format!("{who} is not granted API {:?} resource {r:?}", call.api),
        None => format!("{who} is not granted API {:?}", call.api),
    }
}

/// The identity of `client_id`'s `app` (an app record), established by `token` (a token
/// record) when a token did.
pub fn identity(client_id: &str, app: Arc<Record>, token: Option<Arc<Record>>) -> Identity {
    Identity {
        client_id: client_id.to_string(),
        app,
        token,
    }
}

/// Something the core needs before it can decide.
#[derive(Debug, Clone)]
pub enum Need {
    /// A KV record, by key.
    Kv(String),
    /// The JWKS at this URL: fetch it (again).
    Jwks(String),
    /// A signature to verify (RSA, RSA-PSS, ECDSA, Ed25519: the runtime's WebCrypto).
    Verify(Arc<VerifyJob>),
    /// The request body (read once, then forwarded as the same bytes), at most this many
    /// bytes: the reader stops beyond it ([`crate::crypto::jobs::Settled::TooLarge`]).
    Body(u64),
    /// A signature over request data, verified with an app's key in WebCrypto.
    Signature(Arc<SigJob>),
    /// A nonce to claim in the nonce store (replay protection).
    Nonce(Arc<NonceClaim>),
}

impl Need {
    /// The KV key, for a record need.
    pub fn kv(&self) -> Option<&str> {
        match self {
            Need::Kv(k) => Some(k),
            _ => None,
        }
    }
}

/// A record need equals its key (tests compare needs with key lists).
impl PartialEq<String> for Need {
    fn eq(&self, other: &String) -> bool {
        self.kv() == Some(other.as_str())
    }
}
/// Where the pipeline looks records up.
pub trait RecordSource {
    fn lookup(&self, key: &str) -> Slot;

    /// What is known of the JWKS at `url`; `None` when it was never fetched.
    fn jwks(&self, _url: &str) -> Option<crate::interceptors::jwt::verify::JwksEntry> {
        None
    }

    /// The signature verdict on the token whose SHA-256 is `hash`, if one is known.
    fn verified(&self, _hash: &[u8; 32]) -> Option<crate::interceptors::jwt::verify::Verified> {
        None
    }

    /// Keeps a verdict the core made itself (HMAC), where the source can keep one.
    fn remember(&self, _verdict: crate::interceptors::jwt::verify::Remember<'_>) {}

    /// What the runtime answered for this request's signature job or nonce claim, by id.
    fn settled(&self, _id: &str) -> Option<crate::crypto::jobs::Settled> {
        None
    }
}

impl RecordSource for HashMap<String, Slot> {
    fn lookup(&self, key: &str) -> Slot {
        self.get(key).cloned().unwrap_or(Slot::Pending)
    }
}

impl RecordSource for Layered<'_> {
    fn lookup(&self, key: &str) -> Slot {
        Layered::lookup(self, key)
    }
}

/// A record source with this request's settled jobs beside it.
pub struct WithSettled<'a, S> {
    pub inner: S,
    pub settled: &'a HashMap<String, Settled>,
}

impl<S: RecordSource> RecordSource for WithSettled<'_, S> {
    fn lookup(&self, key: &str) -> Slot {
        self.inner.lookup(key)
    }
    fn jwks(&self, url: &str) -> Option<crate::interceptors::jwt::verify::JwksEntry> {
        self.inner.jwks(url)
    }
    fn verified(&self, hash: &[u8; 32]) -> Option<crate::interceptors::jwt::verify::Verified> {
        self.inner.verified(hash)
    }
    fn remember(&self, v: crate::interceptors::jwt::verify::Remember<'_>) {
        self.inner.remember(v)
    }
    fn settled(&self, id: &str) -> Option<Settled> {
        self.settled.get(id).cloned()
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A small world for interceptor tests: records by key and a fixed clock.
    use super::*;
    use crate::base::request::TestRequest;
    use crate::records::cache::Slot;
    use std::collections::HashMap;

    pub const NOW: i64 = 1_800_000_000;

    pub struct World {
        pub records: HashMap<String, Slot>,
    }

    impl World {
        pub fn new() -> World {
            World {
                records: HashMap::new(),
            }
        }

        pub fn put(mut self, key: &str, json: serde_json::Value) -> World {
            let text = json.to_string();
            self.records
                .insert(key.to_string(), Slot::from_store(key, Some(&text)));
            self
        }

        pub fn put_raw(mut self, key: &str, text: &str) -> World {
            self.records
                .insert(key.to_string(), Slot::from_store(key, Some(text)));
            self
        }

        pub fn absent(mut self, key: &str) -> World {
            self.records.insert(key.to_string(), Slot::Absent);
            self
        }

        pub fn unavailable(mut self, key: &str) -> World {
            self.records
                .insert(key.to_string(), Slot::Unavailable("KV timed out".into()));
            self
        }

        pub fn token(self, token: &str, json: serde_json::Value) -> World {
            let key = crate::records::token_key(token).unwrap();
            self.put(&key, json)
        }

        pub fn check(&self, i: &Interceptor, req: &TestRequest, resource: Option<&str>) -> Check {
            let call = Call {
                req,
                target: Target::parse(&req.url),
                api: "orders",
                resource,
                now_s: NOW,
                now_ms: NOW as u64 * 1000,
                records: &self.records,
                identity: None,
            };
            i.check(&call)
        }
    }

    pub fn compile(v: serde_json::Value) -> Interceptor {
        let mut errs = Vec::new();
        let mut o = Obj::new(&v, "t", &mut errs).unwrap();
        let i = Interceptor::compile(&mut o, "docs.sensedia.com", &mut errs);
        o.finish(&mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        i.unwrap()
    }

    pub fn compile_errors(v: serde_json::Value) -> Vec<String> {
        let mut errs = Vec::new();
        let mut o = Obj::new(&v, "t", &mut errs).unwrap();
        let _ = Interceptor::compile(&mut o, "docs.sensedia.com", &mut errs);
        o.finish(&mut errs);
        errs
    }

    pub fn approved_app() -> serde_json::Value {
        serde_json::json!({"name": "Demo", "status": "APPROVED", "access": [{"api": "orders"}],
                           "extra_info": {"tier": "gold"}})
    }

    /// Asserts a denial: body, cause and trace line.
    pub fn assert_denied(c: &Check, body: &str, cause: Cause, line: &str) {
        match c {
            Check::Deny(d) => {
                assert_eq!(&*d.body, body);
                assert_eq!(d.entry.cause, Some(cause), "{:?}", d.entry);
                assert_eq!(d.entry.line.as_deref(), Some(line));
                assert_eq!(d.entry.outcome, Outcome::Deny);
            }
            other => panic!("expected a denial with cause {cause:?}, got {other:?}"),
        }
    }

    pub fn expect_pass(c: Check) -> Pass {
        match c {
            Check::Pass(p) => p,
            other => panic!("expected a pass, got {other:?}"),
        }
    }

    pub fn expect_fault(c: &Check, status: u16, cause: Cause) {
        match c {
            Check::Fault(f) => {
                assert_eq!(f.status, status);
                assert_eq!(f.entry.cause, Some(cause));
            }
            other => panic!("expected a fault, got {other:?}"),
        }
    }

    /// The record keys of a need (a need for anything else fails the test).
    pub fn expect_need(c: &Check) -> Vec<String> {
        match c {
            Check::Need(k) => k
                .iter()
                .map(|n| n.kv().expect("a record need").to_string())
                .collect(),
            other => panic!("expected a need, got {other:?}"),
        }
    }
}
