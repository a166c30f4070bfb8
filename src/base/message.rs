//! The exact bytes a client gets, and the exact trace lines: one place for both.
//!
//! The 401 text follows the Sensedia template byte for byte:
//! `{Label} in the request, identified by {LOCATION} {name}, is invalid. Check {docs}`.

use crate::base::locate::Place;
use std::sync::Arc;

/// The kind of credential, which names it in messages and trace lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    AccessToken,
    ClientId,
    Jwt,
    CsrfToken,
    TimeToken,
    DigitalSignature,
}

impl Label {
    /// As written in the 401 message.
    pub fn message(self) -> &'static str {
        match self {
            Label::AccessToken => "Access Token",
            Label::ClientId => "Client Id",
            Label::Jwt => "JWT",
            Label::CsrfToken => "CSRF Token",
            Label::TimeToken => "Time Token",
            Label::DigitalSignature => "Digital Signature",
        }
    }

    /// As written at the start of a trace line.
    pub fn trace(self) -> &'static str {
        match self {
            Label::AccessToken => "Access token",
            Label::ClientId => "Client id",
            Label::Jwt => "JWT",
            Label::CsrfToken => "CSRF token",
            Label::TimeToken => "Time token",
            Label::DigitalSignature => "Digital signature",
        }
    }
}

/// Body format of an interceptor's denials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

impl Format {
    pub const NAMES: &'static [&'static str] = &["text", "json"];

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "text" => Some(Format::Text),
            "json" => Some(Format::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; charset=utf-8",
            Format::Json => "application/json",
        }
    }
}

/// The 401 message for a credential of kind `label` at `place` under `name`.
pub fn invalid_message(label: Label, place: Place, name: &str, docs: &str) -> String {
    format!(
        "{} in the request, identified by {} {}, is invalid. Check {}",
        label.message(),
        place.as_str(),
        name,
        docs
    )
}

/// The body for `message` in `format`. JSON is `{"status":401,"message":"..."}`.
pub fn body(format: Format, message: &str) -> String {
    match format {
        Format::Text => message.to_string(),
        // Written by hand so that `status` comes first, as documented; the message is escaped
        // by serde_json.
        Format::Json => format!(
            "{{\"status\":401,\"message\":{}}}",
            serde_json::Value::from(message)
        ),
    }
}

/// Trace line for a credential that is missing, wrong, expired or revoked.
pub fn trace_not_found(label: Label, place: Place, name: &str) -> String {
    format!(
        "{} in {} {} HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call",
        label.trace(),
        place.as_str(),
        name
    )
}

/// Trace line for a valid credential without access to the API or resource.
pub fn trace_no_access(label: Label, place: Place, name: &str) -> String {
    format!(
        "{} in {} {} DOES NOT HAVE ACCESS TO THIS RESOURCE; rejecting call",
        label.trace(),
        place.as_str(),
        name
    )
}

/// A credential element with every answer about it rendered once, when the policy is compiled.
#[derive(Debug, Clone)]
pub struct Element {
    pub label: Label,
    pub name: Arc<str>,
    pub format: Format,
    /// Per [`Place`] (indexed by [`Place::index`]): the 401 body, and the two trace lines.
    rendered: [Rendered; 3],
}

#[derive(Debug, Clone)]
struct Rendered {
    body: Arc<str>,
    not_found: Arc<str>,
    no_access: Arc<str>,
}

impl Element {
    pub fn new(label: Label, name: &str, format: Format, docs: &str) -> Element {
        let rendered = Place::ALL.map(|place| Rendered {
            body: body(format, &invalid_message(label, place, name, docs)).into(),
            not_found: trace_not_found(label, place, name).into(),
            no_access: trace_no_access(label, place, name).into(),
        });
        Element {
            label,
            name: name.into(),
            format,
            rendered,
        }
    }

    fn rendered(&self, place: Place) -> &Rendered {
        let [header, query, cookie] = &self.rendered;
        match place {
            Place::Header => header,
            Place::QueryParam => query,
            Place::Cookie => cookie,
        }
    }

    pub fn body(&self, place: Place) -> Arc<str> {
        self.rendered(place).body.clone()
    }

    pub fn trace_line(&self, place: Place, no_access: bool) -> Arc<str> {
        let r = self.rendered(place);
        if no_access {
            r.no_access.clone()
        } else {
            r.not_found.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_the_documented_bytes() {
        assert_eq!(
            invalid_message(Label::AccessToken, Place::Header, "access_token", "docs.sensedia.com"),
            "Access Token in the request, identified by HEADER access_token, is invalid. Check docs.sensedia.com"
        );
        assert_eq!(
            invalid_message(Label::ClientId, Place::Header, "client_id", "docs.sensedia.com"),
            "Client Id in the request, identified by HEADER client_id, is invalid. Check docs.sensedia.com"
        );
        assert_eq!(
            invalid_message(Label::ClientId, Place::QueryParam, "app_token", "docs.example.org"),
            "Client Id in the request, identified by QUERY_PARAM app_token, is invalid. Check docs.example.org"
        );
    }

    #[test]
    fn trace_lines_match_the_documented_bytes() {
        assert_eq!(
            trace_not_found(Label::AccessToken, Place::Header, "access_token"),
            "Access token in HEADER access_token HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call"
        );
        assert_eq!(
            trace_no_access(Label::AccessToken, Place::Header, "access_token"),
            "Access token in HEADER access_token DOES NOT HAVE ACCESS TO THIS RESOURCE; rejecting call"
        );
        assert_eq!(
            trace_not_found(Label::ClientId, Place::QueryParam, "client_id"),
            "Client id in QUERY_PARAM client_id HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call"
        );
    }

    #[test]
    fn json_body_escapes_and_wraps_the_message() {
        let e = Element::new(
            Label::AccessToken,
            "tok\"en",
            Format::Json,
            "docs.sensedia.com",
        );
        let v: serde_json::Value = serde_json::from_str(&e.body(Place::Cookie)).unwrap();
        assert_eq!(v["status"], 401);
        assert_eq!(
            v["message"],
            "Access Token in the request, identified by COOKIE tok\"en, is invalid. Check docs.sensedia.com"
        );
    }
}
