//! The policy: APIs, their resources and the ordered interceptors on each, compiled once per
//! isolate into an immutable structure.
//!
//! Compilation reports every problem at once, each with its path
//! (`apis[0] "orders" interceptors[1] (oauth): unknown field "nme"; expected one of [...]`);
//! unknown fields and unknown interceptor types are errors, never ignored.

pub mod chains;

pub use crate::base::config::PolicyErrors;
use crate::base::config::{is_header_name, Obj};
use crate::base::route::Pattern;
use crate::interceptors::Interceptor;
use crate::records::cache::CacheSettings;
use serde_json::Value;
use std::sync::Arc;

pub const DEFAULT_DOCS: &str = "docs.sensedia.com";
pub const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// Longest record cache TTL (a day): it adds to the revocation bound.
pub const MAX_CACHE_TTL_S: u64 = 86_400;
/// Most records one isolate's cache may hold.
pub const MAX_CACHE_ENTRIES: u64 = 1_000_000;
/// Longest origin time limit (ms): ten minutes. Cloudflare's own limit may be lower (a proxied
/// origin that sends no headers for 100 s is a 524 on most plans).
pub const MAX_ORIGIN_TIMEOUT_MS: u64 = 600_000;
/// Longest KV or nonce-store time limit (ms).
pub const MAX_STORE_TIMEOUT_MS: u64 = 60_000;

/// How long the gateway waits for what it depends on; past it, it answers a fault (fail
/// closed) instead of leaving the client waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Default for each API's `origin_timeout_ms`: the origin's response headers (504).
    pub origin_ms: u64,
    /// One KV read (503).
    pub kv_ms: u64,
    /// One nonce-store claim (503).
    pub nonce_store_ms: u64,
    /// The request body an interceptor reads (Digital Signature), from when reading starts
    /// (408).
    pub body_ms: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            origin_ms: 30_000,
            kv_ms: 5_000,
            nonce_store_ms: 5_000,
            body_ms: 30_000,
        }
    }
}

/// A compiled policy.
#[derive(Debug)]
pub struct Policy {
    pub docs: Arc<str>,
    pub cache: CacheSettings,
    /// Fraction of passing requests whose trace is written (denials and faults always are).
    pub sample_passing: f64,
    pub identity: IdentityHeaders,
    /// Time limits for KV and the nonce store (and the APIs' default origin limit).
    pub timeouts: Timeouts,
    /// Longest base path first, so the most specific API wins.
    pub apis: Vec<Api>,
    /// Authorization servers (docs/authorization-server.md): their paths are matched before
    /// any API's.
    pub authz: Vec<crate::authz::Server>,
}

/// Headers that carry the established identity to the origin. Incoming copies are always
/// removed, so a client can never forge them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityHeaders {
    pub client_id: Option<String>,
    pub app_name: Option<String>,
    pub extra_info: Option<String>,
}

impl Default for IdentityHeaders {
    /// Always on: copies sent by clients are stripped even when no interceptor identifies an app.
    fn default() -> Self {
        IdentityHeaders {
            client_id: Some("x-edge-client-id".into()),
            app_name: Some("x-edge-app-name".into()),
            extra_info: Some("x-edge-app-extra-info".into()),
        }
    }
}

impl IdentityHeaders {
    pub fn names(&self) -> impl Iterator<Item = &str> {
        [&self.client_id, &self.app_name, &self.extra_info]
            .into_iter()
            .flatten()
            .map(String::as_str)
    }
}

#[derive(Debug)]
pub struct Api {
    pub name: Arc<str>,
    pub base_path: String,
    /// Without a trailing slash.
    pub origin: String,
    /// How long the origin may take to send its response headers (ms): past it, a 504.
    pub origin_timeout_ms: u64,
    pub interceptors: Vec<Interceptor>,
    /// `None`: every path under the base path is a call of the API itself.
    pub resources: Option<Vec<Resource>>,
}

#[derive(Debug)]
pub struct Resource {
    pub name: Arc<str>,
    pub pattern: Pattern,
    /// Empty: every method.
    pub methods: Vec<String>,
    pub interceptors: Vec<Interceptor>,
}

impl Resource {
    pub fn allows(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m == method)
    }
}

/// Compiles a policy from JSON text.
pub fn compile_str(text: &str) -> Result<Policy, PolicyErrors> {
    match serde_json::from_str::<Value>(text) {
        Ok(v) => compile(&v),
        Err(e) => Err(PolicyErrors(vec![format!("policy is not JSON: {e}")])),
    }
}

/// Compiles a policy from a JSON value.
pub fn compile(v: &Value) -> Result<Policy, PolicyErrors> {
    let mut errs = Vec::new();
    let policy = compile_root(v, &mut errs);
    match policy {
        Some(p) if errs.is_empty() => Ok(p),
        _ => Err(PolicyErrors(errs)),
    }
}

fn compile_root(v: &Value, errs: &mut Vec<String>) -> Option<Policy> {
    let mut root = Obj::new(v, "policy", errs)?;
    let docs: Arc<str> = root.opt_str("docs", errs).unwrap_or(DEFAULT_DOCS).into();

    let mut cache = CacheSettings::default();
    if let Some(mut c) = root.opt_obj("cache", errs) {
        if let Some(t) = c.opt_u64_in("ttl_seconds", 0, MAX_CACHE_TTL_S, errs) {
            cache.ttl_ms = t.saturating_mul(1000);
        }
        if let Some(t) = c.opt_u64_in("negative_ttl_seconds", 0, MAX_CACHE_TTL_S, errs) {
            cache.negative_ttl_ms = t.saturating_mul(1000);
        }
        if let Some(n) = c.opt_u64_in("max_entries", 1, MAX_CACHE_ENTRIES, errs) {
            cache.max_entries = usize::try_from(n).unwrap_or(usize::MAX);
        }
        c.finish(errs);
    }

    let mut sample_passing = 1.0;
    if let Some(mut t) = root.opt_obj("trace", errs) {
        if let Some(s) = t.opt_f64("sample_passing", errs) {
            if (0.0..=1.0).contains(&s) {
                sample_passing = s;
            } else {
                errs.push(format!(
                    "{}: sample_passing must be between 0 and 1",
                    t.path
                ));
            }
        }
        t.finish(errs);
    }

    let mut timeouts = Timeouts::default();
    if let Some(mut t) = root.opt_obj("timeouts", errs) {
        for (key, max, slot) in [
            ("origin_ms", MAX_ORIGIN_TIMEOUT_MS, &mut timeouts.origin_ms),
            ("kv_ms", MAX_STORE_TIMEOUT_MS, &mut timeouts.kv_ms),
            (
                "nonce_store_ms",
                MAX_STORE_TIMEOUT_MS,
                &mut timeouts.nonce_store_ms,
            ),
            ("body_ms", MAX_ORIGIN_TIMEOUT_MS, &mut timeouts.body_ms),
        ] {
            if let Some(ms) = t.opt_u64_in(key, 1, max, errs) {
                *slot = ms;
            }
        }
        t.finish(errs);
    }

    let mut identity = IdentityHeaders::default();
    if let Some(mut h) = root.opt_obj("identity_headers", errs) {
        for (field, slot) in [
            ("client_id", &mut identity.client_id),
            ("app_name", &mut identity.app_name),
            ("extra_info", &mut identity.extra_info),
        ] {
            if let Some(name) = h.opt_str(field, errs) {
                if is_header_name(name) {
                    *slot = Some(name.to_ascii_lowercase());
                } else {
                    errs.push(format!(
                        "{}.{field}: {name:?} is not a valid header name",
                        h.path
                    ));
                }
            }
        }
        h.finish(errs);
    }

    let authz = root
        .opt_array("authorization_servers", errs)
        .map(|list| crate::authz::config::compile_all(list, errs))
        .unwrap_or_default();

    let mut apis = Vec::new();
    match root.req_array("apis", errs) {
        Some([]) => errs.push("policy.apis: at least one API is needed".into()),
        Some(list) => {
            for (i, a) in list.iter().enumerate() {
                if let Some(api) = compile_api(a, i, &docs, timeouts.origin_ms, errs) {
                    apis.push(api);
                }
            }
        }
        None => {}
    }
    root.finish(errs);

    for (i, a) in apis.iter().enumerate() {
        for b in apis.iter().take(i) {
            if a.name == b.name {
                errs.push(format!("policy.apis: API name {:?} is used twice", a.name));
            }
            if a.base_path == b.base_path {
                errs.push(format!(
                    "policy.apis: base_path {:?} is used twice",
                    a.base_path
                ));
            }
        }
    }
    apis.sort_by_key(|a| std::cmp::Reverse(a.base_path.len()));

    Some(Policy {
        docs,
        cache,
        sample_passing,
        identity,
        timeouts,
        apis,
        authz,
    })
}

fn compile_api(
    v: &Value,
    i: usize,
    docs: &str,
    default_origin_ms: u64,
    errs: &mut Vec<String>,
) -> Option<Api> {
    let label = v
        .get("name")
        .and_then(Value::as_str)
        .map(|n| format!(" {n:?}"))
        .unwrap_or_default();
    let mut o = Obj::new(v, &format!("apis[{i}]{label}"), errs)?;
    let name = o.req_str("name", errs).unwrap_or_default().to_string();
    if name.is_empty() && o.map.contains_key("name") {
        errs.push(format!("{}.name: must not be empty", o.path));
    }
    let base_path = o.req_str("base_path", errs).unwrap_or("/").to_string();
    if !base_path.starts_with('/')
        || base_path.contains(['?', '#', '*', '{'])
        || (base_path.len() > 1 && base_path.ends_with('/'))
    {
        errs.push(format!(
            "{}.base_path: {base_path:?} must start with '/', have no trailing '/', and no '?', '#', '*' or '{{'",
            o.path
        ));
    }
    let origin = o.req_str("origin", errs).unwrap_or_default();
    let origin_ok = (origin.starts_with("http://") || origin.starts_with("https://"))
        && origin.len() > "https://".len()
        && !origin.contains(['?', '#', ' ']);
    if !origin_ok && o.map.contains_key("origin") {
        errs.push(format!(
            "{}.origin: {origin:?} must be an http:// or https:// URL without query or fragment",
            o.path
        ));
    }
    let origin = origin.trim_end_matches('/').to_string();
    let origin_timeout_ms = o
        .opt_u64_in("origin_timeout_ms", 1, MAX_ORIGIN_TIMEOUT_MS, errs)
        .unwrap_or(default_origin_ms);
    let path = o.path.clone();
    let interceptors = o
        .opt_array("interceptors", errs)
        .map(|l| compile_interceptors(l, &path, docs, errs))
        .unwrap_or_default();
    let resources = o.opt_array("resources", errs).map(|list| {
        let mut out: Vec<Resource> = Vec::new();
        for (j, r) in list.iter().enumerate() {
            if let Some(res) = compile_resource(r, &format!("{path} resources[{j}]"), docs, errs) {
                if out.iter().any(|x| x.name == res.name) {
                    errs.push(format!(
                        "{path}: resource name {:?} is used twice",
                        res.name
                    ));
                }
                out.push(res);
            }
        }
        out
    });
    check_order(&interceptors, None, &path, errs);
    if let Some(list) = &resources {
        let identified = interceptors.iter().any(Interceptor::identifies);
        for (j, r) in list.iter().enumerate() {
            check_order(
                &r.interceptors,
                Some(identified),
                &format!("{path} resources[{j}]"),
                errs,
            );
        }
    }
    o.finish(errs);
    crate::gateway::policy::chains::check_chains(&path, &interceptors, resources.as_deref(), errs);
    Some(Api {
        name: name.into(),
        base_path,
        origin,
        origin_timeout_ms,
        interceptors,
        resources,
    })
}

fn compile_resource(v: &Value, path: &str, docs: &str, errs: &mut Vec<String>) -> Option<Resource> {
    let mut o = Obj::new(v, path, errs)?;
    let name = o.req_str("name", errs).unwrap_or_default().to_string();
    let pattern = match o.req_str("path", errs).map(Pattern::parse) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            errs.push(format!("{path}.path: {e}"));
            None
        }
        None => None,
    };
    let mut methods = Vec::new();
    if let Some(list) = o.opt_array("methods", errs) {
        for (k, m) in list.iter().enumerate() {
            match m.as_str() {
                Some(s) if METHODS.contains(&s) => methods.push(s.to_string()),
                _ => errs.push(format!(
                    "{path}.methods[{k}]: unknown method {m}; expected one of {METHODS:?}"
                )),
            }
        }
    }
    let interceptors = o
        .opt_array("interceptors", errs)
        .map(|l| compile_interceptors(l, path, docs, errs))
        .unwrap_or_default();
    o.finish(errs);
    Some(Resource {
        name: name.into(),
        pattern: pattern?,
        methods,
        interceptors,
    })
}

/// Interceptors that need an app identified earlier in the chain (Digital Signature) come after
/// one that identifies it. `identified`: whether the API's own chain identified one (for a
/// resource's chain, which runs after it).
fn check_order(
    chain: &[Interceptor],
    identified: Option<bool>,
    path: &str,
    errs: &mut Vec<String>,
) {
    let mut seen = identified.unwrap_or(false);
    for (k, i) in chain.iter().enumerate() {
        if i.needs_identity() && !seen {
            errs.push(format!(
                "{path} interceptors[{k}]: needs an app identified by an earlier interceptor \
                 (oauth, access_token, client_id, client_id_secret_encoded, or jwt with \
                 identity_claims) in the same API or before it in the resource"
            ));
        }
        seen |= i.identifies();
    }
}

fn compile_interceptors(
    list: &[Value],
    path: &str,
    docs: &str,
    errs: &mut Vec<String>,
) -> Vec<Interceptor> {
    let mut out = Vec::new();
    for (k, v) in list.iter().enumerate() {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or("?");
        let p = format!("{path} interceptors[{k}] ({kind})");
        if let Some(mut o) = Obj::new(v, &p, errs) {
            if let Some(i) = Interceptor::compile(&mut o, docs, errs) {
                out.push(i);
            }
            o.finish(errs);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors(v: Value) -> Vec<String> {
        compile(&v).unwrap_err().0
    }

    #[test]
    fn a_good_policy_compiles_with_defaults() {
        let p = compile(&json!({
            "apis": [
                {"name": "a", "base_path": "/a", "origin": "http://127.0.0.1:1/"},
                {"name": "ab", "base_path": "/a/b", "origin": "https://x.example",
                 "interceptors": [{"type": "oauth"}],
                 "resources": [{"name": "r", "path": "/items/{id}", "methods": ["GET"]}]}
            ]
        }))
        .unwrap();
        assert_eq!(&*p.docs, DEFAULT_DOCS);
        assert_eq!(p.cache, CacheSettings::default());
        assert_eq!(p.sample_passing, 1.0);
        assert_eq!(&*p.apis[0].name, "ab", "longest base path first");
        assert_eq!(p.apis[1].origin, "http://127.0.0.1:1");
        assert_eq!(p.timeouts, Timeouts::default());
        assert_eq!(p.apis[1].origin_timeout_ms, 30_000);
        assert!(p.apis[1].resources.is_none());
        assert!(p.apis[0].resources.as_ref().unwrap()[0].allows("GET"));
        assert!(!p.apis[0].resources.as_ref().unwrap()[0].allows("POST"));
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let e = errors(json!({
            "docs": 3,
            "cache": {"ttl_seconds": -1, "ttl": 3},
            "trace": {"sample_passing": 2},
            "identity_headers": {"client_id": "bad header"},
            "apis": [
                {"name": "orders", "base_path": "orders/", "origin": "ftp://x",
                 "interceptors": [{"type": "oatuh"}, {"type": "access_token", "nme": "x", "location": "body"}],
                 "resources": [{"name": "r", "path": "/a/*/b", "methods": ["FETCH"]}]},
                {"name": "orders", "base_path": "/x", "origin": "http://x", "extra": 1}
            ],
            "unknown": true
        }));
        let all = e.join("\n");
        for want in [
            "policy.docs: expected a string, found a number",
            "policy.cache.ttl_seconds: expected a whole number",
            "policy.cache: unknown field \"ttl\"; expected one of [\"max_entries\", \"negative_ttl_seconds\", \"ttl_seconds\"]",
            "policy.trace: sample_passing must be between 0 and 1",
            "policy.identity_headers.client_id: \"bad header\" is not a valid header name",
            "apis[0] \"orders\".base_path: \"orders/\" must start with '/'",
            "apis[0] \"orders\".origin: \"ftp://x\" must be an http:// or https:// URL",
            "apis[0] \"orders\" interceptors[0] (oatuh).type: unknown value \"oatuh\"; expected one of [\"oauth\", \"access_token\", \"client_id\", \"client_id_secret_encoded\", \"jwt\", \"csrf_generator\", \"csrf\", \"time_token_generator\", \"time_token\", \"digital_signature\"]",
            "apis[0] \"orders\" interceptors[1] (access_token): unknown field \"nme\"",
            "apis[0] \"orders\" interceptors[1] (access_token).location: unknown value \"body\"",
            "apis[0] \"orders\" resources[0].path: path \"/a/*/b\": '*' may only be the last segment",
            "apis[0] \"orders\" resources[0].methods[0]: unknown method \"FETCH\"",
            "apis[1] \"orders\": unknown field \"extra\"",
            "policy.apis: API name \"orders\" is used twice",
            "policy: unknown field \"unknown\"",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
    }

    #[test]
    fn numbers_out_of_range_are_reported_all_at_once() {
        let all = errors(json!({
            "cache": {"ttl_seconds": 86_401, "negative_ttl_seconds": u64::MAX, "max_entries": 0},
            "apis": [{"name": "a", "base_path": "/a", "origin": "http://x", "interceptors": [
                {"type": "client_id"},
                {"type": "digital_signature", "algorithm": "HmacSHA256", "max_body_bytes": 16_777_217u64},
                {"type": "jwt", "leeway_seconds": 1_000_000_001u64, "issuers": [{"issuer": "i", "algorithms": ["HS256"]}]}
            ]}]
        }))
        .join("\n");
        for want in [
            "policy.cache.ttl_seconds: 86401 is out of range; must be between 0 and 86400",
            "policy.cache.negative_ttl_seconds: 18446744073709551615 is out of range; must be between 0 and 86400",
            "policy.cache.max_entries: 0 is out of range; must be between 1 and 1000000",
            "apis[0] \"a\" interceptors[1] (digital_signature).max_body_bytes: 16777217 is out of range; must be between 0 and 16777216",
            "apis[0] \"a\" interceptors[2] (jwt).leeway_seconds: 1000000001 is out of range; must be between 0 and 1000000000",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
    }

    #[test]
    fn missing_pieces_are_reported() {
        let all = errors(json!({})).join("\n");
        assert!(all.contains("policy: missing field \"apis\""), "{all}");
        let all = errors(json!({"apis": []})).join("\n");
        assert!(all.contains("at least one API"), "{all}");
        let all = errors(json!({"apis": [{}]})).join("\n");
        for f in ["name", "base_path", "origin"] {
            assert!(all.contains(&format!("missing field \"{f}\"")), "{all}");
        }
        let all = errors(json!([])).join("\n");
        assert!(
            all.contains("policy: expected an object, found an array"),
            "{all}"
        );
        assert!(compile_str("{").unwrap_err().0[0].starts_with("policy is not JSON"));
    }

    #[test]
    fn errors_display_as_a_list() {
        let e = PolicyErrors(vec!["a".into(), "b".into()]);
        assert_eq!(e.to_string(), "invalid policy (2 problems):\n- a\n- b");
    }
}
