//! The authorization server: Sensedia's token endpoints (`grant-code`, `access-token`) and the
//! RFC ones (revocation, introspection, metadata), as plain Rust with no I/O. Uses
//! [`crate::base`], [`crate::crypto`], [`crate::records`], [`crate::trace`] and
//! [`crate::interceptors`] (what makes an app usable); the gateway compiles its settings, the
//! Worker adapter drives it.
//!
//! - [`config`]: one server's settings, compiled from the policy with every problem listed.
//! - [`params`]: request bodies (form or JSON) into parameters.
//! - [`client`]: client authentication (Basic, `client_secret_post`, public), constant time.
//! - [`pkce`]: RFC 7636 S256.
//! - [`tokens`]: token and code formats from the runtime's random bytes, and token records.
//! - [`store`]: the grant store's rules (codes and refresh tokens used once, families), run by
//!   the Durable Object over its SQLite rows and tested here over rows in memory.
//! - [`reply`]: the answers (Sensedia's keys, RFC 6749 errors, metadata, introspection).
//! - [`throttle`]: slowing repeated failures of one client id.
//! - [`flow`]: each endpoint, as a function of the request and what is known so far that
//!   either answers or says what it still needs (like [`crate::gateway::pipeline`]).
//!
//! docs/authorization-server.md describes the behaviour.

pub mod client;
pub mod config;
pub mod flow;
pub mod params;
pub mod pkce;
pub mod reply;
pub mod store;
pub mod throttle;
pub mod tokens;

pub use config::Server;

/// The path of the RFC 8414 metadata, before the server's base path.
pub const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";

/// An endpoint of an authorization server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    GrantCode,
    AccessToken,
    Revoke,
    Introspect,
    Metadata,
}

impl Endpoint {
    pub const ALL: [Endpoint; 5] = [
        Endpoint::GrantCode,
        Endpoint::AccessToken,
        Endpoint::Revoke,
        Endpoint::Introspect,
        Endpoint::Metadata,
    ];

    /// The name in the policy, the last path segment, and the trace's `interceptor`.
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::GrantCode => "grant-code",
            Endpoint::AccessToken => "access-token",
            Endpoint::Revoke => "revoke",
            Endpoint::Introspect => "introspect",
            Endpoint::Metadata => "metadata",
        }
    }

    pub fn parse(s: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.name() == s)
    }

    /// The path of this endpoint on a server with `base_path`.
    pub fn path(self, base_path: &str) -> String {
        let base = if base_path == "/" { "" } else { base_path };
        match self {
            Endpoint::Metadata => format!("{WELL_KNOWN}{base}"),
            e => format!("{base}/{}", e.name()),
        }
    }

    /// The one method it answers (others get 405); metadata also answers HEAD.
    pub fn method(self) -> &'static str {
        match self {
            Endpoint::Metadata => "GET",
            _ => "POST",
        }
    }
}

/// The server and endpoint that a request's path names, if any. Servers are matched before
/// APIs; an endpoint a server does not serve is not its path.
pub fn route<'a>(servers: &'a [Server], path: &str) -> Option<(&'a Server, Endpoint)> {
    if servers.is_empty() {
        return None;
    }
    for s in servers {
        let base = if s.base_path == "/" {
            ""
        } else {
            s.base_path.as_str()
        };
        let endpoint = if let Some(rest) = path.strip_prefix(WELL_KNOWN) {
            (rest == base).then_some(Endpoint::Metadata)
        } else {
            path.strip_prefix(base)
                .and_then(|rest| rest.strip_prefix('/'))
                .and_then(Endpoint::parse)
                .filter(|e| *e != Endpoint::Metadata)
        };
        if let Some(e) = endpoint.filter(|e| s.serves(*e)) {
            return Some((s, e));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn servers(v: serde_json::Value) -> Vec<Server> {
        let mut errs = Vec::new();
        let list = config::compile_all(v.as_array().unwrap(), &mut errs);
        assert!(errs.is_empty(), "{errs:?}");
        list
    }

    #[test]
    fn paths_name_a_server_and_an_endpoint() {
        let s = servers(json!([
            {"name": "s", "base_path": "/oauth"},
            {"name": "r", "base_path": "/oauth2", "mode": "rfc", "endpoints": ["access-token", "metadata"]},
        ]));
        let r = |p: &str| route(&s, p).map(|(s, e)| (&*s.name, e));
        assert_eq!(r("/oauth/grant-code"), Some(("s", Endpoint::GrantCode)));
        assert_eq!(r("/oauth/access-token"), Some(("s", Endpoint::AccessToken)));
        assert_eq!(r("/oauth/revoke"), Some(("s", Endpoint::Revoke)));
        assert_eq!(r("/oauth/introspect"), Some(("s", Endpoint::Introspect)));
        assert_eq!(
            r("/.well-known/oauth-authorization-server/oauth"),
            Some(("s", Endpoint::Metadata))
        );
        assert_eq!(
            r("/oauth2/access-token"),
            Some(("r", Endpoint::AccessToken))
        );
        assert_eq!(
            r("/.well-known/oauth-authorization-server/oauth2"),
            Some(("r", Endpoint::Metadata))
        );
        // Not served by r: the path is no server's (the APIs get it).
        assert_eq!(r("/oauth2/grant-code"), None);
        for p in [
            "/oauth",
            "/oauth/",
            "/oauth/access-token/",
            "/oauth/access-tokenx",
            "/oauth/metadata",
            "/oauthx/access-token",
            "/oauth/x/access-token",
            "/.well-known/oauth-authorization-server",
            "/.well-known/oauth-authorization-server/oauth/x",
        ] {
            assert_eq!(r(p), None, "{p}");
        }
    }

    #[test]
    fn a_server_at_the_root() {
        let s = servers(json!([{"name": "root", "base_path": "/"}]));
        assert_eq!(
            route(&s, "/access-token").map(|x| x.1),
            Some(Endpoint::AccessToken)
        );
        assert_eq!(
            route(&s, "/.well-known/oauth-authorization-server").map(|x| x.1),
            Some(Endpoint::Metadata)
        );
        assert_eq!(Endpoint::Metadata.path("/"), WELL_KNOWN);
        assert_eq!(Endpoint::Revoke.path("/"), "/revoke");
        assert_eq!(Endpoint::Revoke.path("/o"), "/o/revoke");
    }
}
