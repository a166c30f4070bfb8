//! The trace: entries (this file), the W3C trace context ([`context`]), and the shipping
//! buffers and encoders ([`ship`]). Uses [`crate::base`] and [`crate::records`] (fingerprints).
//!
//! The trace of one request, built by the core as plain values and shipped by the adapter.
//!
//! One entry per interceptor that ran, plus a summary entry (`interceptor: "request"`). Every
//! entry carries the request's context (timestamp, request id, method, path, API, resource) so
//! that each can be read alone in a log system. No raw credential or secret is ever stored here:
//! only fingerprints (see [`crate::records::fingerprint`]).

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

pub mod context;
pub mod ship;

use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Deny,
    Fault,
    NoRoute,
}

/// Machine-readable causes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    Missing,
    Empty,
    Duplicated,
    Malformed,
    TooLong,
    NotFound,
    Revoked,
    Expired,
    AppNotFound,
    AppNotApproved,
    AppRevoked,
    AppExpired,
    WrongApp,
    NoAccess,
    BadSecret,
    MalformedRecord,
    StoreUnavailable,
    /// KV or the nonce store did not answer within its time limit (503).
    StoreTimeout,
    OriginUnreachable,
    /// The origin sent no response headers within the API's time limit (504).
    OriginTimeout,
    BadPolicy,
    NoApi,
    NoResource,
    MethodNotAllowed,
    // JWT Validation.
    NotYetValid,
    BadSignature,
    UnknownKey,
    WrongIssuer,
    WrongAudience,
    MissingClaim,
    TooLongLived,
    AlgNotAllowed,
    /// No usable key set: the JWKS URL failed and nothing usable is cached (503).
    KeysUnavailable,
    /// A key the runtime could not import or use (500).
    BadKey,
    // Digital Signature.
    /// The signature does not cover a component the policy requires.
    MissingComponent,
    /// The signature was created in the future, beyond the allowed clock skew.
    ClockSkew,
    /// `Content-Digest` does not match the body.
    DigestMismatch,
    /// The signature's nonce was already used within its window.
    Replayed,
    /// The body is larger than the interceptor reads (413).
    BodyTooLarge,
    /// The client did not send the body an interceptor reads within `timeouts.body_ms` (408).
    BodyTimeout,
    // CSRF and Time Tokens.
    /// A genuine token issued for another app, session or bound value.
    WrongBinding,
    /// A CSRF token bound to a session, and the request has no session cookie/header.
    NoSession,
    /// A Time Token bound to a value, and the request does not carry it.
    NoBindValue,
    // The authorization server (RFC 6749 §5.2 error codes, and what they hide).
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
    /// A spent refresh token presented again: its family is revoked.
    ReusedRefreshToken,
    /// A spent authorization code presented again: what it gave is revoked.
    ReusedCode,
    /// The PKCE code verifier does not match the code's challenge (or one is missing).
    PkceMismatch,
    /// The exchange's redirect URI is not the one grant-code got, or is missing.
    RedirectUriMismatch,
    /// A refresh token whose family was revoked.
    FamilyRevoked,
    /// The resource-owner check endpoint refused the username and password.
    OwnerCheckRefused,
    /// The resource-owner check endpoint did not answer usably (503).
    OwnerCheckUnavailable,
}

/// One step of the decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Entry {
    pub interceptor: &'static str,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// The byte-exact trace line (SPEC §2), for denials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<Arc<str>>,
    /// Human explanation beyond the line (never a credential).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Where the credential was looked for, e.g. `HEADER access_token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The HTTP status answered (summary entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The origin's status, for forwarded requests (summary entry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_status: Option<u16>,
}

impl Entry {
    pub fn new(interceptor: &'static str, outcome: Outcome) -> Entry {
        Entry {
            interceptor,
            outcome,
            cause: None,
            line: None,
            detail: None,
            element: None,
            fingerprint: None,
            client_id: None,
            status: None,
            origin_status: None,
        }
    }
}

/// The whole trace of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub ts_ms: u64,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub api: Option<Arc<str>>,
    pub resource: Option<Arc<str>>,
    pub entries: Vec<Entry>,
    /// Request-level context the adapter adds when the trace is written: the Cloudflare
    /// location, the W3C trace and span ids, and the origin's latency.
    pub colo: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub origin_latency_ms: Option<u64>,
}

#[derive(Serialize)]
struct Flat<'a> {
    ts: u64,
    request_id: &'a str,
    method: &'a str,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    api: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    colo: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    span_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    origin_latency_ms: Option<u64>,
    #[serde(flatten)]
    entry: &'a Entry,
}

impl Trace {
    pub fn new(ts_ms: u64, request_id: String, method: &str, path: &str) -> Trace {
        Trace {
            ts_ms,
            request_id,
            method: method.to_string(),
            path: path.to_string(),
            api: None,
            resource: None,
            entries: Vec::with_capacity(3),
            colo: None,
            trace_id: None,
            span_id: None,
            origin_latency_ms: None,
        }
    }

    fn flat(&self) -> Vec<Flat<'_>> {
        self.entries
            .iter()
            .map(|entry| Flat {
                ts: self.ts_ms,
                request_id: &self.request_id,
                method: &self.method,
                path: &self.path,
                api: self.api.as_deref(),
                resource: self.resource.as_deref(),
                colo: self.colo.as_deref(),
                trace_id: self.trace_id.as_deref(),
                span_id: self.span_id.as_deref(),
                origin_latency_ms: self.origin_latency_ms,
                entry,
            })
            .collect()
    }

    /// Entries as JSON lines, each carrying the request context (what is shipped): written
    /// straight from the structs, with no intermediate JSON tree.
    pub fn to_lines(&self) -> Vec<String> {
        self.flat()
            .iter()
            .filter_map(|f| serde_json::to_string(f).ok())
            .collect()
    }

    /// Entries as a JSON array, each entry carrying the request context.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.flat()).unwrap_or_else(|_| "[]".to_string())
    }

    /// Lines of the denials, in order (what an operator greps for).
    pub fn lines(&self) -> Vec<&str> {
        self.entries
            .iter()
            .filter_map(|e| e.line.as_deref())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_flattens_context_into_each_entry() {
        let mut t = Trace::new(1000, "rid".into(), "GET", "/orders");
        t.api = Some("orders".into());
        let mut e = Entry::new("oauth", Outcome::Deny);
        e.cause = Some(Cause::AppNotApproved);
        e.line = Some("L".into());
        t.entries.push(e);
        let v: serde_json::Value = serde_json::from_str(&t.to_json()).unwrap();
        assert_eq!(v[0]["request_id"], "rid");
        assert_eq!(v[0]["api"], "orders");
        assert_eq!(v[0]["cause"], "app_not_approved");
        assert_eq!(v[0]["outcome"], "deny");
        assert!(v[0].get("resource").is_none());
        assert_eq!(t.lines(), vec!["L"]);
    }
}
