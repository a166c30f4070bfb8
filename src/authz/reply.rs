//! The answers of the authorization server: token answers (Sensedia's exact keys or RFC 6749
//! §5.1), errors (RFC 6749 §5.2 in both modes), grant-code's redirect, introspection (RFC 7662)
//! and metadata (RFC 8414).

use crate::authz::config::{GrantType, Mode, Server};
use crate::authz::Endpoint;
use serde_json::Value;

/// An answer written by the authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// RFC 6749 §5.2 error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthError {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
}

impl OAuthError {
    pub fn code(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant => "invalid_grant",
            OAuthError::UnauthorizedClient => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope => "invalid_scope",
        }
    }

    /// One fixed text per code: it never tells an unknown client from a wrong secret.
    pub fn description(self) -> &'static str {
        match self {
            OAuthError::InvalidRequest => "the request is missing a parameter, repeats one, or is malformed",
            OAuthError::InvalidClient => "client authentication failed",
            OAuthError::InvalidGrant => {
                "the authorization grant or refresh token is invalid, expired, revoked, or was issued to another client"
            }
            OAuthError::UnauthorizedClient => "the client is not allowed to use this grant type",
            OAuthError::UnsupportedGrantType => "the grant type is not supported",
            OAuthError::InvalidScope => "the requested scope is invalid or exceeds what the client is granted",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            OAuthError::InvalidClient => 401,
            _ => 400,
        }
    }
}

/// A JSON object with its keys in the order given.
pub fn object(pairs: &[(&str, Value)]) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::from(*k).to_string());
        out.push(':');
        out.push_str(&v.to_string());
    }
    out.push('}');
    out
}

/// A JSON answer with the headers RFC 6749 §5.1 requires (no caching).
pub fn json(status: u16, body: String) -> Reply {
    Reply {
        status,
        headers: vec![
            ("content-type", "application/json;charset=UTF-8".into()),
            ("cache-control", "no-store".into()),
            ("pragma", "no-cache".into()),
        ],
        body,
    }
}

/// An RFC 6749 §5.2 error; `invalid_client` is a 401 with `WWW-Authenticate`.
pub fn error(server: &Server, e: OAuthError) -> Reply {
    let mut r = json(
        e.status(),
        object(&[
            ("error", e.code().into()),
            ("error_description", e.description().into()),
        ]),
    );
    if e == OAuthError::InvalidClient {
        r.headers.push((
            "www-authenticate",
            format!("Basic realm=\"{}\"", realm(&server.name)),
        ));
    }
    r
}

/// The realm: the server's name with anything that could end the quoted string left out.
fn realm(name: &str) -> String {
    name.chars()
        .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
        .collect()
}

/// A token answer. Sensedia mode: exactly `access_token`, `refresh_token` (when issued),
/// `token_type`, `expires_in`, in that order. RFC mode: the same, then `scope` when given.
pub fn token(
    server: &Server,
    grant: GrantType,
    access_token: &str,
    refresh_token: Option<&str>,
    expires_in: u64,
    scope: Option<&str>,
) -> Reply {
    let mut pairs: Vec<(&str, Value)> = vec![("access_token", access_token.into())];
    if let Some(r) = refresh_token {
        pairs.push(("refresh_token", r.into()));
    }
    pairs.push(("token_type", server.token_type.as_str().into()));
    pairs.push(("expires_in", expires_in.into()));
    if server.mode == Mode::Rfc {
        if let Some(s) = scope {
            pairs.push(("scope", s.into()));
        }
    }
    let status = if grant == GrantType::ClientCredentials {
        server.client_credentials_status
    } else {
        server.success_status
    };
    json(status, object(&pairs))
}

/// grant-code's answer: `{"redirect_uri": "<redirect_uri>?code=<code>[&state=…]"}`.
pub fn grant_code(server: &Server, redirect_uri: &str, code: &str, state: Option<&str>) -> Reply {
    let (base, fragment) = match redirect_uri.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (redirect_uri, None),
    };
    let mut url = String::with_capacity(base.len() + 64);
    url.push_str(base);
    url.push(if base.contains('?') { '&' } else { '?' });
    url.push_str("code=");
    url.push_str(code);
    if let Some(s) = state {
        url.push_str("&state=");
        url.extend(form_urlencoded::byte_serialize(s.as_bytes()));
    }
    if let Some(f) = fragment {
        url.push('#');
        url.push_str(f);
    }
    json(
        server.success_status,
        object(&[("redirect_uri", url.into())]),
    )
}

/// The revocation answer: 200, no body (RFC 7009 §2.2).
pub fn revoked() -> Reply {
    Reply {
        status: 200,
        headers: vec![
            ("cache-control", "no-store".into()),
            ("pragma", "no-cache".into()),
        ],
        body: String::new(),
    }
}

/// A routing answer (405 with `Allow`), plain text like the gateway's own.
pub fn method_not_allowed(allow: &str) -> Reply {
    Reply {
        status: 405,
        headers: vec![
            ("content-type", "text/plain; charset=utf-8".into()),
            ("allow", allow.into()),
        ],
        body: "Method Not Allowed".into(),
    }
}

/// A gateway fault: plain text, nothing leaked (the detail is in the trace).
pub fn fault(status: u16) -> Reply {
    let body = match status {
        400 => "Bad Request",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    Reply {
        status,
        headers: vec![("content-type", "text/plain; charset=utf-8".into())],
        body: body.into(),
    }
}

/// `scheme://host[:port]` of an absolute URL.
pub fn origin_of(url: &str) -> &str {
    match url.find("://") {
        Some(i) => {
            let after = i + 3;
            match url[after..].find(['/', '?', '#']) {
                Some(j) => &url[..after + j],
                None => url,
            }
        }
        None => "",
    }
}

/// The issuer: the configured one, else the request's origin and the base path.
pub fn issuer(server: &Server, request_url: &str) -> String {
    match &server.issuer {
        Some(i) => i.clone(),
        None => {
            let base = if server.base_path == "/" {
                ""
            } else {
                &server.base_path
            };
            format!("{}{base}", origin_of(request_url))
        }
    }
}

/// RFC 8414 metadata: what the server really serves.
pub fn metadata(server: &Server, request_url: &str) -> Reply {
    let issuer = issuer(server, request_url);
    let origin = origin_of(request_url);
    let at = |e: Endpoint| format!("{origin}{}", e.path(&server.base_path));
    let secret_methods = || Value::from(vec!["client_secret_basic", "client_secret_post"]);
    let mut pairs: Vec<(&str, Value)> = vec![("issuer", issuer.into())];
    if let Some(l) = &server.login_page {
        pairs.push(("authorization_endpoint", l.as_str().into()));
    }
    if server.serves(Endpoint::AccessToken) {
        pairs.push(("token_endpoint", at(Endpoint::AccessToken).into()));
        let mut methods = vec!["client_secret_basic", "client_secret_post"];
        if server.allows(GrantType::AuthorizationCode) {
            methods.push("none");
        }
        pairs.push(("token_endpoint_auth_methods_supported", methods.into()));
    }
    if server.serves(Endpoint::Revoke) {
        pairs.push(("revocation_endpoint", at(Endpoint::Revoke).into()));
        pairs.push((
            "revocation_endpoint_auth_methods_supported",
            vec!["client_secret_basic", "client_secret_post", "none"].into(),
        ));
    }
    if server.serves(Endpoint::Introspect) {
        pairs.push(("introspection_endpoint", at(Endpoint::Introspect).into()));
        pairs.push((
            "introspection_endpoint_auth_methods_supported",
            secret_methods(),
        ));
    }
    let grants: Vec<&str> = server.grants().iter().map(|g| g.name()).collect();
    pairs.push(("grant_types_supported", grants.into()));
    let code = server.allows(GrantType::AuthorizationCode);
    pairs.push((
        "response_types_supported",
        if code { vec!["code"] } else { Vec::new() }.into(),
    ));
    if code {
        pairs.push(("code_challenge_methods_supported", vec!["S256"].into()));
    }
    json(200, object(&pairs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sensedia() -> Server {
        Server::with_defaults("sensedia", "/oauth", Mode::Sensedia)
    }
    fn rfc() -> Server {
        Server::with_defaults("std", "/oauth2", Mode::Rfc)
    }

    #[test]
    fn sensedia_answers_have_exactly_its_keys() {
        let r = token(
            &sensedia(),
            GrantType::ClientCredentials,
            "ca81cb16-43e4-4e96-aaea-4861e7791dc7",
            None,
            3600,
            Some("orders"),
        );
        assert_eq!(r.status, 201);
        assert_eq!(
            r.body,
            r#"{"access_token":"ca81cb16-43e4-4e96-aaea-4861e7791dc7","token_type":"access_token","expires_in":3600}"#
        );
        let r = token(
            &sensedia(),
            GrantType::AuthorizationCode,
            "a",
            Some("r"),
            3600,
            None,
        );
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body,
            r#"{"access_token":"a","refresh_token":"r","token_type":"access_token","expires_in":3600}"#
        );
        assert!(r.headers.contains(&("cache-control", "no-store".into())));
    }

    #[test]
    fn rfc_answers() {
        let r = token(
            &rfc(),
            GrantType::ClientCredentials,
            "a",
            None,
            60,
            Some("orders"),
        );
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":60,"scope":"orders"}"#
        );
        let e = error(&rfc(), OAuthError::InvalidClient);
        assert_eq!(e.status, 401);
        assert!(e
            .headers
            .contains(&("www-authenticate", "Basic realm=\"std\"".into())));
        let v: Value = serde_json::from_str(&e.body).unwrap();
        assert_eq!(v["error"], "invalid_client");
        let e = error(&sensedia(), OAuthError::InvalidGrant);
        assert_eq!(e.status, 400);
        assert!(!e.headers.iter().any(|(n, _)| *n == "www-authenticate"));
        assert_eq!(realm("a\"b\\c\nd"), "abcd");
    }

    #[test]
    fn grant_code_redirects() {
        let s = sensedia();
        let r = grant_code(&s, "https://a.example/cb", "c0de", Some("x y&z"));
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body,
            r#"{"redirect_uri":"https://a.example/cb?code=c0de&state=x+y%26z"}"#
        );
        let r = grant_code(&s, "https://a.example/cb?v=1#f", "c", None);
        assert_eq!(
            r.body,
            r#"{"redirect_uri":"https://a.example/cb?v=1&code=c#f"}"#
        );
    }

    #[test]
    fn metadata_advertises_what_is_served() {
        let r = metadata(
            &rfc(),
            "http://127.0.0.1:8787/.well-known/oauth-authorization-server/oauth2",
        );
        let v: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["issuer"], "http://127.0.0.1:8787/oauth2");
        assert_eq!(
            v["token_endpoint"],
            "http://127.0.0.1:8787/oauth2/access-token"
        );
        assert_eq!(
            v["revocation_endpoint"],
            "http://127.0.0.1:8787/oauth2/revoke"
        );
        assert_eq!(
            v["introspection_endpoint"],
            "http://127.0.0.1:8787/oauth2/introspect"
        );
        assert_eq!(
            v["grant_types_supported"],
            serde_json::json!(["client_credentials", "authorization_code", "refresh_token"])
        );
        assert_eq!(
            v["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(v["response_types_supported"], serde_json::json!(["code"]));
        assert!(v.get("authorization_endpoint").is_none());
        assert_eq!(origin_of("https://h:1/x?y"), "https://h:1");
        assert_eq!(origin_of("https://h"), "https://h");
    }
}
