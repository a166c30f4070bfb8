//! One authorization server's settings (`policy.authorization_servers[i]`), compiled once per
//! isolate; every problem is reported with its path, like the rest of the policy.

use crate::authz::Endpoint;
use crate::base::config::{is_header_name, Obj};
use serde_json::Value;
use std::sync::Arc;

/// How answers are written: Sensedia's keys and statuses, or RFC 6749's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Sensedia,
    Rfc,
}

/// A grant type of the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    ClientCredentials,
    AuthorizationCode,
    RefreshToken,
    Password,
}

impl GrantType {
    pub const ALL: [GrantType; 4] = [
        GrantType::ClientCredentials,
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::Password,
    ];
    pub const NAMES: &'static [&'static str] = &[
        "client_credentials",
        "authorization_code",
        "refresh_token",
        "password",
    ];

    pub fn name(self) -> &'static str {
        match self {
            GrantType::ClientCredentials => "client_credentials",
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::Password => "password",
        }
    }

    pub fn parse(s: &str) -> Option<GrantType> {
        GrantType::ALL.into_iter().find(|g| g.name() == s)
    }
}

/// The format of issued tokens, codes and refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFormat {
    /// UUIDv4-shaped: 122 random bits, as Sensedia clients expect.
    Uuid,
    /// 256 random bits as 43 base64url characters.
    Bits256,
}

/// How the caller of grant-code proves it authenticated the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantCodeAuth {
    /// A Worker secret the login backend holds, sent in `header`.
    ProvisionKey { header: String, secret: String },
    /// The app's own client credentials (`Authorization: Basic`).
    ClientCredentials,
}

/// Whether the code exchange must repeat grant-code's redirect URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectOnExchange {
    /// RFC 6749 §4.1.3: required, and equal.
    Required,
    /// Equal when sent; may be left out (Sensedia clients send only the code).
    IfSent,
}

/// The resource-owner check endpoint of the `password` grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerCheck {
    pub url: String,
    /// The Worker secret sent as `Authorization: Bearer <value>`.
    pub secret: String,
    pub timeout_ms: u64,
}

/// A compiled authorization server.
#[derive(Debug, Clone)]
pub struct Server {
    pub name: Arc<str>,
    /// `/` or `/segments` without a trailing `/`.
    pub base_path: String,
    pub mode: Mode,
    endpoints: Vec<Endpoint>,
    grants: Vec<GrantType>,
    pub token_type: String,
    pub client_credentials_status: u16,
    pub success_status: u16,
    pub access_lifetime_s: u64,
    pub refresh_lifetime_s: u64,
    pub code_lifetime_s: u64,
    pub max_body_bytes: u64,
    pub token_format: TokenFormat,
    pub grant_code_auth: GrantCodeAuth,
    pub client_id_header: Option<String>,
    pub redirect_on_exchange: RedirectOnExchange,
    pub owner_check: Option<OwnerCheck>,
    pub login_page: Option<String>,
    pub issuer: Option<String>,
    pub store_timeout_ms: u64,
    pub slow_after_failures: u32,
}

pub const DEFAULT_LIFETIME_S: u64 = 3600;
pub const MAX_LIFETIME_S: u64 = 366 * 86_400;
pub const MAX_CODE_LIFETIME_S: u64 = 600;
pub const DEFAULT_BODY_BYTES: u64 = 16_384;
pub const DEFAULT_PROVISION_HEADER: &str = "x-provision-key";
pub const DEFAULT_PROVISION_SECRET: &str = "AUTHZ_PROVISION_KEY";
pub const DEFAULT_CHECK_SECRET: &str = "AUTHZ_CHECK_TOKEN";

impl Server {
    pub fn serves(&self, e: Endpoint) -> bool {
        self.endpoints.contains(&e)
    }

    pub fn allows(&self, g: GrantType) -> bool {
        self.grants.contains(&g)
    }

    pub fn grants(&self) -> &[GrantType] {
        &self.grants
    }

    /// A server with every default, for tests.
    pub fn with_defaults(name: &str, base_path: &str, mode: Mode) -> Server {
        let mut errs = Vec::new();
        let v = serde_json::json!({
            "name": name,
            "base_path": base_path,
            "mode": if mode == Mode::Rfc { "rfc" } else { "sensedia" },
        });
        let s = compile(&v, 0, &mut errs);
        match s {
            Some(s) if errs.is_empty() => s,
            _ => unreachable!("the defaults compile: {errs:?}"),
        }
    }
}

/// Compiles `policy.authorization_servers`: each server, then the overlaps between them.
pub fn compile_all(list: &[Value], errs: &mut Vec<String>) -> Vec<Server> {
    let mut out: Vec<Server> = Vec::new();
    for (i, v) in list.iter().enumerate() {
        if let Some(s) = compile(v, i, errs) {
            for other in &out {
                if other.name == s.name {
                    errs.push(format!(
                        "policy.authorization_servers: name {:?} is used twice",
                        s.name
                    ));
                }
                if overlap(&other.base_path, &s.base_path) {
                    errs.push(format!(
                        "policy.authorization_servers: base_path {:?} ({:?}) overlaps base_path {:?} ({:?}); one server's paths would hide the other's",
                        s.base_path, s.name, other.base_path, other.name
                    ));
                }
            }
            out.push(s);
        }
    }
    // The longest base path first (overlaps are refused, so this only fixes an order).
    out.sort_by_key(|s| std::cmp::Reverse(s.base_path.len()));
    out
}

/// Whether two base paths overlap: equal, or one under the other (`/` is over every path).
fn overlap(a: &str, b: &str) -> bool {
    let under = |x: &str, y: &str| {
        y == "/" || x == y || x.strip_prefix(y).is_some_and(|r| r.starts_with('/'))
    };
    under(a, b) || under(b, a)
}

fn compile(v: &Value, i: usize, errs: &mut Vec<String>) -> Option<Server> {
    let label = v
        .get("name")
        .and_then(Value::as_str)
        .map(|n| format!(" {n:?}"))
        .unwrap_or_default();
    let mut o = Obj::new(v, &format!("authorization_servers[{i}]{label}"), errs)?;
    let path = o.path.clone();
    let name = o.req_str("name", errs).unwrap_or_default().to_string();
    if name.is_empty() && o.map.contains_key("name") {
        errs.push(format!("{path}.name: must not be empty"));
    }
    let base_path = o.req_str("base_path", errs).unwrap_or("/").to_string();
    if !base_path.starts_with('/')
        || base_path.contains(['?', '#', '*', '{', ' ', '%'])
        || (base_path.len() > 1 && base_path.ends_with('/'))
        || base_path.contains("//")
    {
        errs.push(format!(
            "{path}.base_path: {base_path:?} must start with '/', have no trailing '/', no empty segment, and no '?', '#', '*', '{{', '%' or space"
        ));
    }
    let mode = match o.opt_choice("mode", &["sensedia", "rfc"], errs) {
        Some("rfc") => Mode::Rfc,
        _ => Mode::Sensedia,
    };
    let names: Vec<&str> = Endpoint::ALL.iter().map(|e| e.name()).collect();
    let endpoints = match o.opt_array("endpoints", errs) {
        None => Endpoint::ALL.to_vec(),
        Some(list) => {
            let mut out = Vec::new();
            for (k, e) in list.iter().enumerate() {
                match e.as_str().and_then(Endpoint::parse) {
                    Some(e) if !out.contains(&e) => out.push(e),
                    Some(e) => errs.push(format!(
                        "{path}.endpoints[{k}]: {:?} is listed twice",
                        e.name()
                    )),
                    None => errs.push(format!(
                        "{path}.endpoints[{k}]: unknown endpoint {e}; expected one of {names:?}"
                    )),
                }
            }
            if out.is_empty() {
                errs.push(format!("{path}.endpoints: at least one endpoint is needed"));
            }
            out
        }
    };
    let grants = match o.opt_array("grants", errs) {
        None => vec![
            GrantType::ClientCredentials,
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
        ],
        Some(list) => {
            let mut out = Vec::new();
            for (k, g) in list.iter().enumerate() {
                match g.as_str().and_then(GrantType::parse) {
                    Some(g) if !out.contains(&g) => out.push(g),
                    Some(g) => errs.push(format!(
                        "{path}.grants[{k}]: {:?} is listed twice",
                        g.name()
                    )),
                    None => errs.push(format!(
                        "{path}.grants[{k}]: unknown grant type {g}; expected one of {:?}",
                        GrantType::NAMES
                    )),
                }
            }
            if out.is_empty() {
                errs.push(format!("{path}.grants: at least one grant type is needed"));
            }
            out
        }
    };
    let token_type = match o.opt_str("token_type", errs) {
        Some(t) if !t.is_empty() && t.len() <= 64 && is_header_name(t) => t.to_string(),
        Some(t) => {
            errs.push(format!(
                "{path}.token_type: {t:?} must be 1 to 64 letters, digits or !#$%&'*+-.^_`|~"
            ));
            String::new()
        }
        None if mode == Mode::Rfc => "Bearer".into(),
        None => "access_token".into(),
    };
    let mut status =
        |key: &'static str, default: u16, errs: &mut Vec<String>| match o.opt_u64(key, errs) {
            None => default,
            Some(s @ (200 | 201)) => s as u16,
            Some(s) => {
                errs.push(format!("{path}.{key}: {s} must be 200 or 201"));
                default
            }
        };
    let client_credentials_status = status(
        "client_credentials_status",
        if mode == Mode::Rfc { 200 } else { 201 },
        errs,
    );
    let success_status = status("success_status", 200, errs);
    let mut bounded =
        |key: &'static str, default: u64, min: u64, max: u64, errs: &mut Vec<String>| match o
            .opt_u64(key, errs)
        {
            None => default,
            Some(n) if (min..=max).contains(&n) => n,
            Some(n) => {
                errs.push(format!("{path}.{key}: {n} must be between {min} and {max}"));
                default
            }
        };
    let access_lifetime_s = bounded(
        "access_token_lifetime_seconds",
        DEFAULT_LIFETIME_S,
        60,
        MAX_LIFETIME_S,
        errs,
    );
    let refresh_lifetime_s = bounded(
        "refresh_token_lifetime_seconds",
        DEFAULT_LIFETIME_S,
        60,
        MAX_LIFETIME_S,
        errs,
    );
    let code_lifetime_s = bounded("code_lifetime_seconds", 60, 1, MAX_CODE_LIFETIME_S, errs);
    let max_body_bytes = bounded("max_body_bytes", DEFAULT_BODY_BYTES, 256, 1_048_576, errs);
    let store_timeout_ms = bounded("store_timeout_ms", 3000, 100, 30_000, errs);
    let slow_after_failures = bounded("slow_after_failures", 5, 1, 1000, errs) as u32;
    let token_format = match o.opt_choice("token_format", &["uuid", "256-bit"], errs) {
        Some("256-bit") => TokenFormat::Bits256,
        _ => TokenFormat::Uuid,
    };
    let auth_kind = o.opt_choice(
        "grant_code_auth",
        &["provision_key", "client_credentials"],
        errs,
    );
    let header = o.opt_str("provision_key_header", errs);
    let secret = o.opt_str("provision_key_secret", errs);
    let grant_code_auth = match auth_kind {
        Some("client_credentials") => {
            if header.is_some() || secret.is_some() {
                errs.push(format!(
                    "{path}: provision_key_header and provision_key_secret are for grant_code_auth = \"provision_key\""
                ));
            }
            GrantCodeAuth::ClientCredentials
        }
        _ => {
            let header = header.unwrap_or(DEFAULT_PROVISION_HEADER);
            if !is_header_name(header) {
                errs.push(format!(
                    "{path}.provision_key_header: {header:?} is not a valid header name"
                ));
            }
            let secret = secret.unwrap_or(DEFAULT_PROVISION_SECRET);
            check_secret_name(secret, &format!("{path}.provision_key_secret"), errs);
            GrantCodeAuth::ProvisionKey {
                header: header.to_ascii_lowercase(),
                secret: secret.to_string(),
            }
        }
    };
    let client_id_header = o.opt_str("client_id_header", errs).map(|h| {
        if !is_header_name(h) {
            errs.push(format!(
                "{path}.client_id_header: {h:?} is not a valid header name"
            ));
        }
        h.to_ascii_lowercase()
    });
    let redirect_on_exchange =
        match o.opt_choice("redirect_uri_on_exchange", &["required", "if_sent"], errs) {
            Some("required") => RedirectOnExchange::Required,
            Some(_) => RedirectOnExchange::IfSent,
            None if mode == Mode::Rfc => RedirectOnExchange::Required,
            None => RedirectOnExchange::IfSent,
        };
    let owner_check = o.opt_obj("resource_owner_check", errs).map(|mut c| {
        let url = c.req_str("url", errs).unwrap_or_default().to_string();
        if !is_http_url(&url) && c.map.contains_key("url") {
            errs.push(format!(
                "{}.url: {url:?} must be an http:// or https:// URL without fragment",
                c.path
            ));
        }
        let secret = c
            .opt_str("secret", errs)
            .unwrap_or(DEFAULT_CHECK_SECRET)
            .to_string();
        check_secret_name(&secret, &format!("{}.secret", c.path), errs);
        let timeout_ms = match c.opt_u64("timeout_ms", errs) {
            None => 3000,
            Some(t) if (100..=10_000).contains(&t) => t,
            Some(t) => {
                errs.push(format!(
                    "{}.timeout_ms: {t} must be between 100 and 10000",
                    c.path
                ));
                3000
            }
        };
        c.finish(errs);
        OwnerCheck {
            url,
            secret,
            timeout_ms,
        }
    });
    if grants.contains(&GrantType::Password) && owner_check.is_none() {
        errs.push(format!(
            "{path}.grants: \"password\" needs a resource_owner_check endpoint (the gateway never sees user passwords otherwise)"
        ));
    }
    if grants.contains(&GrantType::RefreshToken)
        && !grants.contains(&GrantType::AuthorizationCode)
        && !grants.contains(&GrantType::Password)
    {
        errs.push(format!(
            "{path}.grants: \"refresh_token\" needs \"authorization_code\" or \"password\" (refresh tokens are issued only by those)"
        ));
    }
    let login_page = o.opt_str("login_page", errs).map(|u| {
        if !is_http_url(u) {
            errs.push(format!(
                "{path}.login_page: {u:?} must be an http:// or https:// URL"
            ));
        }
        u.to_string()
    });
    let issuer = o.opt_str("issuer", errs).map(|u| {
        if !is_http_url(u) || u.contains('?') {
            errs.push(format!(
                "{path}.issuer: {u:?} must be an http:// or https:// URL without query or fragment (RFC 8414 §2)"
            ));
        }
        u.to_string()
    });
    o.finish(errs);
    Some(Server {
        name: name.into(),
        base_path,
        mode,
        endpoints,
        grants,
        token_type,
        client_credentials_status,
        success_status,
        access_lifetime_s,
        refresh_lifetime_s,
        code_lifetime_s,
        max_body_bytes,
        token_format,
        grant_code_auth,
        client_id_header,
        redirect_on_exchange,
        owner_check,
        login_page,
        issuer,
        store_timeout_ms,
        slow_after_failures,
    })
}

fn is_http_url(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://"))
        && u.len() > "https://".len()
        && !u.contains(['#', ' '])
}

/// Worker secret names: letters, digits and `_` (what `wrangler secret put` takes).
fn check_secret_name(name: &str, path: &str, errs: &mut Vec<String>) {
    if name.is_empty()
        || name.len() > 64
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        errs.push(format!(
            "{path}: {name:?} is not a Worker secret name (1 to 64 letters, digits or '_')"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(v: Value) -> String {
        let mut errs = Vec::new();
        compile_all(v.as_array().unwrap(), &mut errs);
        errs.join("\n")
    }

    #[test]
    fn defaults_per_mode() {
        let s = Server::with_defaults("s", "/oauth", Mode::Sensedia);
        assert_eq!(s.token_type, "access_token");
        assert_eq!((s.client_credentials_status, s.success_status), (201, 200));
        assert_eq!((s.access_lifetime_s, s.refresh_lifetime_s), (3600, 3600));
        assert_eq!(s.code_lifetime_s, 60);
        assert_eq!(s.token_format, TokenFormat::Uuid);
        assert_eq!(s.redirect_on_exchange, RedirectOnExchange::IfSent);
        assert!(s.allows(GrantType::ClientCredentials) && !s.allows(GrantType::Password));
        assert!(Endpoint::ALL.iter().all(|e| s.serves(*e)));
        assert_eq!(
            s.grant_code_auth,
            GrantCodeAuth::ProvisionKey {
                header: "x-provision-key".into(),
                secret: "AUTHZ_PROVISION_KEY".into()
            }
        );
        let r = Server::with_defaults("r", "/oauth2", Mode::Rfc);
        assert_eq!(r.token_type, "Bearer");
        assert_eq!((r.client_credentials_status, r.success_status), (200, 200));
        assert_eq!(r.redirect_on_exchange, RedirectOnExchange::Required);
    }

    #[test]
    fn every_problem_is_listed_with_its_path() {
        let all = errors(json!([
            {"name": "a", "base_path": "/oauth", "mode": "kong", "endpoints": ["token", "revoke", "revoke"],
             "grants": ["implicit", "password"], "code_lifetime_seconds": 601,
             "access_token_lifetime_seconds": 10, "client_credentials_status": 202,
             "max_body_bytes": 1, "token_format": "jwt", "provision_key_header": "bad header",
             "provision_key_secret": "no-dashes", "login_page": "ftp://x", "issuer": "https://x/?q",
             "nope": 1},
            {"name": "a", "base_path": "/oauth/v2"},
            {"name": "c", "base_path": "oauth3/"},
            {"name": "d", "base_path": "/o", "grants": ["refresh_token"],
             "resource_owner_check": {"url": "x", "timeout_ms": 50, "extra": true}},
            {"name": "e", "base_path": "/p", "grant_code_auth": "client_credentials",
             "provision_key_header": "h"},
        ]));
        for want in [
            "authorization_servers[0] \"a\".mode: unknown value \"kong\"",
            "authorization_servers[0] \"a\".endpoints[0]: unknown endpoint \"token\"",
            "authorization_servers[0] \"a\".endpoints[2]: \"revoke\" is listed twice",
            "authorization_servers[0] \"a\".grants[0]: unknown grant type \"implicit\"",
            "authorization_servers[0] \"a\".code_lifetime_seconds: 601 must be between 1 and 600",
            "authorization_servers[0] \"a\".access_token_lifetime_seconds: 10 must be between 60",
            "authorization_servers[0] \"a\".client_credentials_status: 202 must be 200 or 201",
            "authorization_servers[0] \"a\".max_body_bytes: 1 must be between 256",
            "authorization_servers[0] \"a\".token_format: unknown value \"jwt\"",
            "authorization_servers[0] \"a\".provision_key_header: \"bad header\" is not a valid header name",
            "authorization_servers[0] \"a\".provision_key_secret: \"no-dashes\" is not a Worker secret name",
            "authorization_servers[0] \"a\".login_page: \"ftp://x\"",
            "authorization_servers[0] \"a\".issuer: \"https://x/?q\"",
            "authorization_servers[0] \"a\".grants: \"password\" needs a resource_owner_check",
            "authorization_servers[0] \"a\": unknown field \"nope\"",
            "policy.authorization_servers: name \"a\" is used twice",
            "base_path \"/oauth/v2\" (\"a\") overlaps base_path \"/oauth\" (\"a\")",
            "authorization_servers[2] \"c\".base_path: \"oauth3/\" must start with '/'",
            "authorization_servers[3] \"d\".grants: \"refresh_token\" needs",
            "authorization_servers[3] \"d\".resource_owner_check.url: \"x\" must be an http",
            "authorization_servers[3] \"d\".resource_owner_check.timeout_ms: 50",
            "authorization_servers[3] \"d\".resource_owner_check: unknown field \"extra\"",
            "authorization_servers[4] \"e\": provision_key_header and provision_key_secret are for",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
    }

    #[test]
    fn overlapping_base_paths() {
        assert!(overlap("/oauth", "/oauth"));
        assert!(overlap("/oauth", "/oauth/v2"));
        assert!(overlap("/oauth/v2", "/oauth"));
        assert!(overlap("/", "/oauth"));
        assert!(!overlap("/oauth", "/oauth2"));
        assert!(!overlap("/a/b", "/a/c"));
        assert_eq!(
            errors(
                json!([{"name": "a", "base_path": "/oauth"}, {"name": "b", "base_path": "/oauth2"}])
            ),
            ""
        );
    }

    #[test]
    fn settings_are_read() {
        let mut errs = Vec::new();
        let s = compile(
            &json!({"name": "p", "base_path": "/p", "mode": "rfc",
                    "grants": ["password", "refresh_token"], "token_type": "bearer",
                    "resource_owner_check": {"url": "https://login.example/check", "secret": "CHECK", "timeout_ms": 500},
                    "token_format": "256-bit", "grant_code_auth": "client_credentials",
                    "client_id_header": "Client_Id", "redirect_uri_on_exchange": "if_sent",
                    "success_status": 201, "endpoints": ["access-token"]}),
            0,
            &mut errs,
        )
        .unwrap();
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(s.token_type, "bearer");
        assert_eq!(s.owner_check.as_ref().unwrap().timeout_ms, 500);
        assert_eq!(s.owner_check.as_ref().unwrap().secret, "CHECK");
        assert_eq!(s.token_format, TokenFormat::Bits256);
        assert_eq!(s.grant_code_auth, GrantCodeAuth::ClientCredentials);
        assert_eq!(s.client_id_header.as_deref(), Some("client_id"));
        assert_eq!(s.redirect_on_exchange, RedirectOnExchange::IfSent);
        assert_eq!(s.success_status, 201);
        assert!(s.serves(Endpoint::AccessToken) && !s.serves(Endpoint::GrantCode));
        assert_eq!(s.grants(), &[GrantType::Password, GrantType::RefreshToken]);
    }
}
