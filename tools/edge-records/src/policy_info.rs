//! What the tool needs from the Worker's policy in `wrangler.toml`: the cache TTLs (to say when a
//! revocation takes effect everywhere) and the API and resource names (to check grants).
//!
//! The policy is compiled with the Worker's own compiler ([`edge_interceptors::gateway::policy::compile`]), so the
//! TTLs are exactly the ones the Worker uses.

use edge_interceptors::gateway::policy;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Up to how long a KV write takes to be visible at every location (Cloudflare's figure).
pub const KV_PROPAGATION_S: u64 = 60;

/// API name → its resource names (`None`: the API has no resources).
pub type ApiNames = BTreeMap<String, Option<BTreeSet<String>>>;

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInfo {
    /// `cache.ttl_seconds`: how long an isolate keeps a record it found.
    pub ttl_s: u64,
    /// `cache.negative_ttl_seconds`: how long an isolate remembers a credential was not found.
    pub negative_ttl_s: u64,
    /// The APIs of the policy; `None` when no policy could be read.
    pub apis: Option<ApiNames>,
    /// JWT issuers whose keys the Worker reads from KV (`kv_keys`), with the algorithms the
    /// policy accepts from each (union over the interceptors naming it); `None` when no policy
    /// could be read.
    pub kv_issuers: Option<BTreeMap<String, BTreeSet<String>>>,
    /// Where the policy came from (`wrangler.toml [vars.POLICY]`).
    pub source: String,
    /// Why the defaults or a partial reading are used, if they are.
    pub warning: Option<String>,
}

impl Default for PolicyInfo {
    fn default() -> Self {
        PolicyInfo {
            ttl_s: 30,
            negative_ttl_s: 5,
            apis: None,
            kv_issuers: None,
            source: "defaults".into(),
            warning: None,
        }
    }
}

impl PolicyInfo {
    /// Reads `[vars.POLICY]` (or `[env.<env>.vars.POLICY]`) from a wrangler configuration.
    /// Never fails: problems become a warning and the Worker's defaults are used.
    pub fn load(config: &Path, env: Option<&str>) -> PolicyInfo {
        let where_ = match env {
            Some(e) => format!("{} [env.{e}.vars.POLICY]", config.display()),
            None => format!("{} [vars.POLICY]", config.display()),
        };
        let fallback = |why: String| PolicyInfo {
            warning: Some(format!(
                "{why}; assuming the Worker's default cache TTLs (30 s, 5 s)"
            )),
            ..PolicyInfo::default()
        };
        let text = match std::fs::read_to_string(config) {
            Ok(t) => t,
            Err(e) => return fallback(format!("cannot read {}: {e}", config.display())),
        };
        let doc: toml::Value = match toml::from_str(&text) {
            Ok(d) => d,
            Err(e) => {
                // toml's message shows the offending line: keep the position only.
                let at = e
                    .span()
                    .map(|r| {
                        let before = &text[..r.start.min(text.len())];
                        format!(
                            " at line {}, column {}",
                            before.matches('\n').count() + 1,
                            before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1
                        )
                    })
                    .unwrap_or_default();
                return fallback(format!("{} is not TOML{at}", config.display()));
            }
        };
        let mut node = Some(&doc);
        if let Some(e) = env {
            node = node.and_then(|n| n.get("env")).and_then(|n| n.get(e));
        }
        let raw = node
            .and_then(|n| n.get("vars"))
            .and_then(|n| n.get("POLICY"));
        let value: Value = match raw {
            None => return fallback(format!("no policy at {where_}")),
            Some(toml::Value::String(s)) => match serde_json::from_str(s) {
                Ok(v) => v,
                Err(e) => {
                    return fallback(format!(
                        "the policy at {where_} is not JSON: {}",
                        super::redact::serde_error(&e)
                    ))
                }
            },
            Some(t) => match serde_json::to_value(t) {
                Ok(v) => v,
                Err(e) => return fallback(format!("the policy at {where_}: {e}")),
            },
        };
        let mut info = Self::from_policy_value(&value);
        info.source = where_;
        info
    }

    /// From the policy as the Worker receives it (JSON).
    pub fn from_policy_value(v: &Value) -> PolicyInfo {
        match policy::compile(v) {
            Ok(p) => {
                let mut apis = ApiNames::new();
                for a in &p.apis {
                    let res = a
                        .resources
                        .as_ref()
                        .map(|rs| rs.iter().map(|r| r.name.to_string()).collect());
                    apis.insert(a.name.to_string(), res);
                }
                PolicyInfo {
                    ttl_s: p.cache.ttl_ms / 1000,
                    negative_ttl_s: p.cache.negative_ttl_ms / 1000,
                    apis: Some(apis),
                    kv_issuers: Some(kv_issuers(v)),
                    source: "policy".into(),
                    warning: None,
                }
            }
            Err(errs) => {
                // The Worker answers 500 to everything with this policy; still read the TTLs.
                let cache = v.get("cache");
                let secs = |k: &str, d: u64| {
                    cache
                        .and_then(|c| c.get(k))
                        .and_then(Value::as_u64)
                        .unwrap_or(d)
                };
                PolicyInfo {
                    ttl_s: secs("ttl_seconds", 30),
                    negative_ttl_s: secs("negative_ttl_seconds", 5),
                    apis: None,
                    kv_issuers: None,
                    source: "policy".into(),
                    warning: Some(format!(
                        "the policy does not compile (the Worker answers 500 to every request until it does): {}",
                        errs.0.first().map(String::as_str).unwrap_or("")
                    )),
                }
            }
        }
    }

    /// The sentence printed after a key is added to a JWT issuer: when tokens signed with it
    /// pass everywhere. An isolate keeps the issuer's record `cache.ttl_seconds` once read, or
    /// remembers it absent `cache.negative_ttl_seconds` (a new issuer).
    pub fn key_added_effect(&self, issuer_existed: bool, remote: bool, now: i64) -> String {
        let (ttl, name) = if issuer_existed {
            (self.ttl_s, "cache.ttl_seconds")
        } else {
            (self.negative_ttl_s, "cache.negative_ttl_seconds")
        };
        let (total, why) = if remote {
            (
                KV_PROPAGATION_S + ttl,
                format!("up to {KV_PROPAGATION_S} s of KV propagation + {ttl} s {name}"),
            )
        } else {
            (
                ttl,
                format!("{ttl} s {name}; local KV has no propagation delay"),
            )
        };
        format!(
            "is used everywhere by {} (within {total} s: {why})",
            super::util::format_time(now + total as i64)
        )
    }

    /// The sentence printed after a revocation: when it takes effect everywhere.
    pub fn revocation_effect(&self, remote: bool, now: i64) -> String {
        let (total, why) = if remote {
            (
                KV_PROPAGATION_S + self.ttl_s,
                format!(
                    "up to {KV_PROPAGATION_S} s of KV propagation + {} s cache.ttl_seconds",
                    self.ttl_s
                ),
            )
        } else {
            (
                self.ttl_s,
                format!(
                    "{} s cache.ttl_seconds; local KV has no propagation delay",
                    self.ttl_s
                ),
            )
        };
        format!(
            "takes effect everywhere by {} (within {total} s: {why})",
            super::util::format_time(now + total as i64)
        )
    }

    /// The sentence printed after creating a credential: when every location accepts it.
    pub fn creation_effect(&self, remote: bool, now: i64) -> String {
        let (total, why) = if remote {
            (
                KV_PROPAGATION_S + self.negative_ttl_s,
                format!(
                    "up to {KV_PROPAGATION_S} s of KV propagation + {} s cache.negative_ttl_seconds",
                    self.negative_ttl_s
                ),
            )
        } else {
            (
                self.negative_ttl_s,
                format!(
                    "{} s cache.negative_ttl_seconds, if it was tried before",
                    self.negative_ttl_s
                ),
            )
        };
        format!(
            "accepted everywhere by {} (within {total} s: {why})",
            super::util::format_time(now + total as i64)
        )
    }
}

/// The issuers of the policy's JWT interceptors that read keys from KV, with their algorithms.
/// Reads the policy as written (it compiled, so every value has its type).
fn kv_issuers(policy: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let apis = policy.get("apis").and_then(Value::as_array);
    for api in apis.into_iter().flatten() {
        let mut chains: Vec<&Value> = vec![api];
        chains.extend(
            api.get("resources")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
        for chain in chains {
            let steps = chain.get("interceptors").and_then(Value::as_array);
            for step in steps.into_iter().flatten() {
                if step.get("type").and_then(Value::as_str) != Some("jwt") {
                    continue;
                }
                let issuers = step.get("issuers").and_then(Value::as_array);
                for i in issuers.into_iter().flatten() {
                    let Some(iss) = i.get("issuer").and_then(Value::as_str) else {
                        continue;
                    };
                    let jwks = i.get("jwks_url").is_some_and(|u| !u.is_null());
                    let kv = i.get("kv_keys").and_then(Value::as_bool).unwrap_or(!jwks);
                    if !kv {
                        continue;
                    }
                    let algs = i.get("algorithms").and_then(Value::as_array);
                    out.entry(iss.to_string()).or_default().extend(
                        algs.into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(String::from),
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_repository_policy_is_read_from_wrangler_toml() {
        let p = PolicyInfo::load(
            &Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("wrangler.toml"),
            None,
        );
        assert_eq!(p.warning, None);
        assert_eq!((p.ttl_s, p.negative_ttl_s), (30, 5));
        let apis = p.apis.unwrap();
        assert!(apis["orders"].as_ref().unwrap().contains("list-orders"));
        assert_eq!(apis["catalog"], None);
    }

    #[test]
    fn policies_as_tables_strings_and_environments() {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("w.toml");
        std::fs::write(
            &c,
            r#"
name = "x"
[vars]
POLICY = '{"cache": {"ttl_seconds": 2, "negative_ttl_seconds": 0}, "apis": [{"name": "a", "base_path": "/a", "origin": "http://127.0.0.1:1", "interceptors": [{"type": "oauth"}]}]}'
[env.prod.vars.POLICY]
cache = { ttl_seconds = 45 }
apis = []
"#,
        )
        .unwrap();
        let p = PolicyInfo::load(&c, None);
        assert_eq!((p.ttl_s, p.negative_ttl_s), (2, 0));
        assert!(p.apis.unwrap().contains_key("a"));
        let p = PolicyInfo::load(&c, Some("prod"));
        assert_eq!((p.ttl_s, p.negative_ttl_s), (45, 5), "{:?}", p.warning);
        let p = PolicyInfo::load(&c, Some("nope"));
        assert_eq!(p.ttl_s, 30);
        assert!(p.warning.unwrap().contains("no policy"));
        let p = PolicyInfo::load(&d.path().join("missing.toml"), None);
        assert!(p.warning.unwrap().contains("cannot read"));
    }

    #[test]
    fn the_production_environment_has_its_own_policy_that_compiles() {
        let p = PolicyInfo::load(
            &Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("wrangler.toml"),
            Some("production"),
        );
        assert_eq!(p.warning, None, "the production policy must compile");
        assert!(p.source.contains("[env.production.vars.POLICY]"));
        assert!(p.apis.unwrap().contains_key("orders"));
    }

    #[test]
    fn jwt_issuers_reading_kv_are_found_in_apis_and_resources() {
        let p = PolicyInfo::from_policy_value(&json!({"apis": [{
            "name": "a", "base_path": "/a", "origin": "http://127.0.0.1:1",
            "interceptors": [{"type": "jwt", "issuers": [
                {"issuer": "kv", "algorithms": ["RS256"]},
                {"issuer": "jwks", "algorithms": ["ES256"], "jwks_url": "https://x/keys"}
            ]}],
            "resources": [{"name": "r", "path": "/r", "methods": ["GET"],
                "interceptors": [{"type": "jwt", "issuers": [{"issuer": "kv", "algorithms": ["HS256"]}]}]}]
        }]}));
        assert_eq!(p.warning, None);
        let iss = p.kv_issuers.unwrap();
        assert_eq!(iss.keys().collect::<Vec<_>>(), ["kv"]);
        assert_eq!(
            iss["kv"].iter().map(String::as_str).collect::<Vec<_>>(),
            ["HS256", "RS256"]
        );
    }

    #[test]
    fn a_broken_policy_still_gives_its_ttls() {
        let p = PolicyInfo::from_policy_value(&json!({"cache": {"ttl_seconds": 7}, "apis": 3}));
        assert_eq!(p.ttl_s, 7);
        assert!(p.apis.is_none() && p.warning.is_some());
    }

    #[test]
    fn revocation_bounds_match_the_readme() {
        let p = PolicyInfo::default();
        let s = p.revocation_effect(true, 0);
        assert!(
            s.contains("1970-01-01T00:01:30Z") && s.contains("within 90 s"),
            "{s}"
        );
        let s = p.revocation_effect(false, 0);
        assert!(s.contains("within 30 s"), "{s}");
        assert!(p.creation_effect(true, 0).contains("within 65 s"));
    }
}
