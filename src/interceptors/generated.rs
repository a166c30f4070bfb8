//! What the CSRF and Time Token interceptors share: where a generator puts its token (a response
//! header or a cookie, with its attributes), where bound values come from (a header, a query
//! parameter, a cookie, a field of the app's extra info), the checking of a token a validator
//! found, and the policy-level checks of a chain (an identity to bind, a method to issue on).
//! The token itself is [`crate::crypto::gentoken`].

use super::{Call, Check, Common, Fault, Pass};
use crate::base::config::{is_header_name, Obj};
use crate::base::locate::{cookie_value, query_value, Place};
use crate::crypto::gentoken::{self, Invalid, Kind, Scope, TokenKeys};
use crate::records;
use crate::trace::{Cause, Entry, Outcome};
use std::sync::Arc;

/// Where generated tokens travel (both ways).
pub const LOCATIONS: &[&str] = &["header", "cookie"];
pub const SAME_SITE: &[&str] = &["strict", "lax", "none"];

/// What a generator adds to the origin's response, and its trace entry.
#[derive(Debug)]
pub struct Issued {
    pub entry: Entry,
    /// `(name, value)`: `Set-Cookie` and `Access-Control-Expose-Headers` are appended to what
    /// the origin sent, any other header is set.
    pub headers: Vec<(String, String)>,
}

/// Where a generator puts its token.
#[derive(Debug)]
pub struct Emitter {
    pub place: Place,
    pub name: Arc<str>,
    /// Cookie attributes after `Max-Age` (`; Path=/; Secure; HttpOnly; SameSite=Strict`).
    cookie_attributes: String,
}

impl Emitter {
    /// Reads `name`, `location`, `same_site` and `cookie_path`.
    pub fn compile(o: &mut Obj<'_>, default_name: &str, errs: &mut Vec<String>) -> Emitter {
        let name = o.opt_str("name", errs).unwrap_or(default_name);
        if !is_header_name(name) || name.len() > 256 {
            errs.push(format!(
                "{}.name: {name:?} cannot be a header or cookie name (1 to 256 letters, digits and !#$%&'*+-.^_`|~)",
                o.path
            ));
        }
        let place = match o.opt_choice("location", LOCATIONS, errs) {
            Some("cookie") => Place::Cookie,
            _ => Place::Header,
        };
        let same_site = o.opt_choice("same_site", SAME_SITE, errs);
        let path = o.opt_str("cookie_path", errs);
        if place != Place::Cookie && (same_site.is_some() || path.is_some()) {
            errs.push(format!(
                "{}: same_site and cookie_path apply to location \"cookie\" only",
                o.path
            ));
        }
        let path = path.unwrap_or("/");
        if !path.starts_with('/')
            || path
                .bytes()
                .any(|b| b == b';' || !(0x21..0x7f).contains(&b))
        {
            errs.push(format!(
                "{}.cookie_path: {path:?} must start with '/' and hold visible ASCII without ';'",
                o.path
            ));
        }
        let same_site = match same_site.unwrap_or("strict") {
            "lax" => "Lax",
            "none" => "None",
            _ => "Strict",
        };
        Emitter {
            place,
            name: name.into(),
            cookie_attributes: format!("; Path={path}; Secure; HttpOnly; SameSite={same_site}"),
        }
    }

    pub fn scope<'a>(&'a self, kind: Kind, api: &'a str) -> Scope<'a> {
        Scope {
            kind,
            api,
            place: self.place,
            name: &self.name,
        }
    }

    pub fn element(&self) -> String {
        format!("{} {}", self.place.as_str(), self.name)
    }

    /// The response headers carrying `token`, which a client should keep `max_age_s` seconds.
    pub fn headers(&self, token: &str, max_age_s: u64) -> Vec<(String, String)> {
        match self.place {
            Place::Cookie => vec![(
                "set-cookie".into(),
                format!(
                    "{}={token}; Max-Age={max_age_s}{}",
                    self.name, self.cookie_attributes
                ),
            )],
            // A script on another origin may read the header only when it is exposed (CORS).
            _ => vec![
                (self.name.to_ascii_lowercase(), token.to_string()),
                (
                    "access-control-expose-headers".into(),
                    self.name.to_string(),
                ),
            ],
        }
    }

    /// The entry of a token issued now.
    pub fn issued(&self, kind: &'static str, token: &str, detail: String) -> Issued {
        let mut entry = Entry::new(kind, Outcome::Pass);
        entry.element = Some(self.element());
        entry.fingerprint = Some(records::fingerprint(token));
        entry.detail = Some(detail);
        Issued {
            entry,
            headers: Vec::new(),
        }
    }

    /// The entry of a generator that issued nothing, and why.
    pub fn skipped(&self, kind: &'static str, cause: Option<Cause>, detail: String) -> Issued {
        let mut entry = Entry::new(kind, Outcome::Pass);
        entry.element = Some(self.element());
        entry.cause = cause;
        entry.detail = Some(detail);
        Issued {
            entry,
            headers: Vec::new(),
        }
    }
}

/// Where a bound value (a CSRF session, a Time Token's `bind`) is read.
#[derive(Debug, Clone)]
pub enum Source {
    Header(Arc<str>),
    Query(Arc<str>),
    Cookie(Arc<str>),
    /// A top-level field of the identified app's `extra_info`.
    ExtraInfo(Arc<str>),
}

/// A bound value as read from a request.
pub enum Read {
    Value(String),
    /// Absent, empty, duplicated, or no app identified: why.
    Absent(String),
}

impl Source {
    /// An object with exactly one of `kinds` (`header`, `query`, `cookie`, `extra_info`).
    pub fn compile(
        o: &mut Obj<'_>,
        kinds: &[&'static str],
        errs: &mut Vec<String>,
    ) -> Option<Source> {
        let mut found = Vec::new();
        for &k in kinds {
            if let Some(name) = o.opt_str(k, errs) {
                found.push((k, name));
            }
        }
        let [(kind, name)] = found.as_slice() else {
            errs.push(format!("{}: exactly one of {kinds:?} is needed", o.path));
            return None;
        };
        if name.is_empty() || name.len() > 256 {
            errs.push(format!("{}.{kind}: must be 1 to 256 characters", o.path));
            return None;
        }
        if matches!(*kind, "header" | "cookie") && !is_header_name(name) {
            errs.push(format!(
                "{}.{kind}: {name:?} cannot be a header or cookie name",
                o.path
            ));
            return None;
        }
        let name: Arc<str> = (*name).into();
        Some(match *kind {
            "header" => Source::Header(name),
            "query" => Source::Query(name),
            "cookie" => Source::Cookie(name),
            _ => Source::ExtraInfo(name),
        })
    }

    /// Whether the value comes from the app an earlier interceptor identified.
    pub fn needs_identity(&self) -> bool {
        matches!(self, Source::ExtraInfo(_))
    }

    pub fn describe(&self) -> String {
        match self {
            Source::Header(n) => format!("HEADER {n}"),
            Source::Query(n) => format!("QUERY_PARAM {n}"),
            Source::Cookie(n) => format!("COOKIE {n}"),
            Source::ExtraInfo(n) => format!("the app's extra_info.{n}"),
        }
    }

    /// The source as it is bound into a token: `header:<lowercase name>`, `query:<name>`,
    /// `cookie:<name>` or `extra_info:<field>`.
    fn bind_key(&self) -> String {
        match self {
            Source::Header(n) => format!("header:{}", n.to_ascii_lowercase()),
            Source::Query(n) => format!("query:{n}"),
            Source::Cookie(n) => format!("cookie:{n}"),
            Source::ExtraInfo(n) => format!("extra_info:{n}"),
        }
    }

    /// The value in this request, exactly as sent (never trimmed), as it is bound into a
    /// token: `<length of the source>:<source><value>`, so that a token bound to a header's
    /// value never passes a validator that reads the same text from somewhere else (a client
    /// chooses its headers; it does not choose its app's extra info).
    pub fn read(&self, call: &Call<'_>) -> Read {
        let found = match self {
            Source::Header(n) => call.req.header(n).map(Ok),
            Source::Query(n) => call.target.query.and_then(|q| query_value(q, n)),
            Source::Cookie(n) => call.req.header("cookie").and_then(|c| cookie_value(&c, n)),
            Source::ExtraInfo(field) => {
                let Some(id) = call.identity else {
                    return Read::Absent("no app was identified".into());
                };
                match id.app().extra_info.as_ref().and_then(|e| e.get(&**field)) {
                    None | Some(serde_json::Value::Null) => None,
                    Some(serde_json::Value::String(s)) => Some(Ok(s.clone())),
                    Some(other) => Some(Ok(other.to_string())),
                }
            }
        };
        match found {
            Some(Ok(v)) if !v.is_empty() => {
                let key = self.bind_key();
                Read::Value(format!("{}:{key}{v}", key.len()))
            }
            Some(Ok(_)) => Read::Absent(format!("{} is empty", self.describe())),
            Some(Err(_)) => Read::Absent(format!("{} is given more than once", self.describe())),
            None => Read::Absent(format!("no {}", self.describe())),
        }
    }
}

/// A validator's token check: `bound` are the request's values, `time` judges the token's time
/// (a CSRF expiry, a Time Token's age) and says why it fails (a `dyn` closure: one copy of this
/// function in the Worker, not one per interceptor).
pub fn validate(
    c: &Common,
    keys: Option<&TokenKeys>,
    kind: Kind,
    call: &Call<'_>,
    (token, place): (&str, Place),
    bound: &[Option<&str>],
    time: &dyn Fn(u64) -> Result<String, (Cause, String)>,
) -> Check {
    let Some(keys) = keys else {
        return missing_keys(c.kind);
    };
    let fp = Some(records::fingerprint(token));
    let scope = Scope {
        kind,
        api: call.api,
        place,
        name: &c.element.name,
    };
    let opened = match gentoken::open(keys, &scope, token, bound) {
        Ok(o) => o,
        Err(Invalid::TooLong(n)) => {
            return c.deny(
                place,
                Cause::TooLong,
                Some(format!(
                    "{n} bytes: longer than any token the gateway issues"
                )),
                fp,
                None,
            )
        }
        Err(Invalid::Malformed(why)) => {
            let detail = super::value_hint(token, place).unwrap_or_else(|| why.to_string());
            return c.deny(place, Cause::Malformed, Some(detail), fp, None);
        }
        Err(Invalid::BadSignature) => {
            return c.deny(
                place,
                Cause::BadSignature,
                Some(format!(
                    "the MAC does not verify: the token was altered, forged, made under another secret, or issued for another API or element than API {:?} {} {}",
                    call.api,
                    place.as_str(),
                    c.element.name
                )),
                fp,
                None,
            )
        }
    };
    let age = match time(opened.time_ms) {
        Ok(ok) => ok,
        Err((cause, detail)) => return c.deny(place, cause, Some(detail), fp, None),
    };
    if !opened.binding_ok {
        return c.deny(
            place,
            Cause::WrongBinding,
            Some("the token is genuine but was issued for another binding (app, session or bound value) than this request's".into()),
            fp,
            None,
        );
    }
    let mut entry = Entry::new(c.kind, Outcome::Pass);
    entry.element = Some([place.as_str(), " ", &c.element.name].concat());
    entry.fingerprint = fp;
    entry.client_id = call.identity.map(|i| i.client_id.clone());
    entry.detail = Some(if opened.previous_key {
        format!("{age}; made under {}", gentoken::SECRET_PREVIOUS)
    } else {
        age
    });
    Check::Pass(Pass {
        entry,
        identity: None,
        hide: c.hide(place),
        headers: Vec::new(),
    })
}

/// The fault of a token interceptor without keys (the adapter attaches them when the policy is
/// loaded; without `TOKEN_SECRET` the policy never gets this far).
pub fn missing_keys(kind: &'static str) -> Check {
    Check::Fault(missing_keys_fault(kind))
}

pub fn missing_keys_fault(kind: &'static str) -> Fault {
    let mut entry = Entry::new(kind, Outcome::Fault);
    entry.cause = Some(Cause::BadPolicy);
    entry.detail = Some(format!(
        "no {} attached to this interceptor",
        gentoken::SECRET
    ));
    Fault { status: 500, entry }
}

/// What a token interceptor needs from the rest of its chain.
pub struct Requires {
    /// Binds the identified app (its client id or its extra info): an interceptor that
    /// identifies an app must run before it (validators) or anywhere in the request flow
    /// (generators).
    pub identity: bool,
    /// A CSRF generator: issues only on methods other than GET and HEAD.
    pub unsafe_method: bool,
}
