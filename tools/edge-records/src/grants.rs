//! Grants as the records store them (`{"api": name}` or `{"api": name, "resources": [...]}`),
//! the command-line spelling `api` / `api:resource[,resource...]`, and set operations on them.

use super::error::{OpsError, Result};
use super::policy_info::PolicyInfo;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// One grant, as stored in `access` (apps) and `scope` (tokens).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct G {
    pub api: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
}

impl G {
    pub fn api(api: &str) -> G {
        G {
            api: api.into(),
            resources: None,
        }
    }
    pub fn spec(&self) -> String {
        match &self.resources {
            None => self.api.clone(),
            Some(r) => format!("{}:{}", self.api, r.join(",")),
        }
    }
}

/// Parses `api` or `api:res1,res2`.
pub fn parse_spec(s: &str) -> Result<G> {
    let (api, res) = match s.split_once(':') {
        None => (s, None),
        Some((a, r)) => (a, Some(r)),
    };
    if api.is_empty() || api.chars().any(char::is_control) {
        return Err(OpsError::bad_input(format!(
            "grant {s:?}: expected API or API:RESOURCE[,RESOURCE...]"
        )));
    }
    let resources = match res {
        None => None,
        Some(r) => {
            let list: Vec<String> = r.split(',').map(str::to_string).collect();
            if list.iter().any(|x| x.is_empty()) {
                return Err(OpsError::bad_input(format!(
                    "grant {s:?}: empty resource name"
                )));
            }
            Some(list)
        }
    };
    Ok(normalize_one(G {
        api: api.into(),
        resources,
    }))
}

fn normalize_one(mut g: G) -> G {
    if let Some(r) = &mut g.resources {
        r.sort();
        r.dedup();
    }
    g
}

/// What the policy does not know in `g` (`None`: all known, or no policy to ask).
pub fn unknown_in_policy(g: &G, policy: &PolicyInfo) -> Option<String> {
    let apis = policy.apis.as_ref()?;
    let Some(res) = apis.get(&g.api) else {
        return Some(format!(
            "API {:?} is not in the policy (its APIs: {})",
            g.api,
            apis.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    };
    let wanted = g.resources.as_ref()?;
    let Some(known) = res else {
        return Some(format!(
            "API {:?} has no resources in the policy; grant the whole API",
            g.api
        ));
    };
    let missing: Vec<&String> = wanted.iter().filter(|r| !known.contains(*r)).collect();
    if missing.is_empty() {
        None
    } else {
        Some(format!(
            "API {:?} has no resource {} (its resources: {})",
            g.api,
            missing
                .iter()
                .map(|m| format!("{m:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            known.iter().cloned().collect::<Vec<_>>().join(", ")
        ))
    }
}

/// Refuses a grant the policy does not know, unless `allow_unknown`.
pub fn check_known(g: &G, policy: &PolicyInfo, allow_unknown: bool) -> Result<()> {
    match unknown_in_policy(g, policy) {
        Some(why) if !allow_unknown => Err(OpsError::bad_input(format!(
            "grant {:?}: {why} (pass --allow-unknown to grant it anyway)",
            g.spec()
        ))),
        _ => Ok(()),
    }
}

/// One grant per API: a whole-API grant absorbs resource grants; resources are merged.
pub fn normalize(list: Vec<G>) -> Vec<G> {
    let mut by: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
    let mut order = Vec::new();
    for g in list {
        if !by.contains_key(&g.api) {
            order.push(g.api.clone());
        }
        let slot = by
            .entry(g.api.clone())
            .or_insert_with(|| Some(BTreeSet::new()));
        match (slot.as_mut(), g.resources) {
            (None, _) => {}
            (Some(_), None) => *slot = None,
            (Some(set), Some(rs)) => set.extend(rs),
        }
    }
    order
        .into_iter()
        .map(|api| {
            let resources = by.remove(&api).flatten().map(|s| s.into_iter().collect());
            G { api, resources }
        })
        .collect()
}

/// Adds `g` to `list`; false when `list` already allowed everything `g` allows.
pub fn grant(list: &mut Vec<G>, g: &G) -> bool {
    let before = normalize(list.clone());
    let after = normalize(before.iter().cloned().chain([g.clone()]).collect());
    let changed = before != after;
    *list = after;
    changed
}

/// Removes `g` from `list`: the whole API, or some of its resources. Withdrawing a resource
/// from a whole-API grant is refused (say which resources remain instead). False when there
/// was nothing to withdraw.
pub fn withdraw(list: &mut Vec<G>, g: &G) -> Result<bool> {
    let mut cur = normalize(list.clone());
    let Some(i) = cur.iter().position(|x| x.api == g.api) else {
        return Ok(false);
    };
    let changed = match (&g.resources, &mut cur[i].resources) {
        (None, _) => {
            cur.remove(i);
            true
        }
        (Some(_), None) => {
            return Err(OpsError::bad_input(format!(
                "API {:?} is granted whole: withdraw the API, then grant the resources that should remain",
                g.api
            )))
        }
        (Some(drop), Some(have)) => {
            let n = have.len();
            have.retain(|r| !drop.contains(r));
            let changed = have.len() != n;
            if have.is_empty() {
                cur.remove(i);
            }
            changed
        }
    };
    *list = cur;
    Ok(changed)
}

/// What both lists allow (a call allowed by the result is allowed by `a` and by `b`).
pub fn intersect(a: &[G], b: &[G]) -> Vec<G> {
    let a = normalize(a.to_vec());
    let b = normalize(b.to_vec());
    let mut out = Vec::new();
    for x in &a {
        let Some(y) = b.iter().find(|y| y.api == x.api) else {
            continue;
        };
        let resources = match (&x.resources, &y.resources) {
            (None, None) => None,
            (None, Some(r)) | (Some(r), None) => Some(r.clone()),
            (Some(r), Some(s)) => {
                let both: Vec<String> = r.iter().filter(|v| s.contains(v)).cloned().collect();
                if both.is_empty() {
                    continue;
                }
                Some(both)
            }
        };
        out.push(G {
            api: x.api.clone(),
            resources,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gs(specs: &[&str]) -> Vec<G> {
        specs.iter().map(|s| parse_spec(s).unwrap()).collect()
    }

    #[test]
    fn specs_parse_and_print() {
        assert_eq!(parse_spec("orders").unwrap(), G::api("orders"));
        let g = parse_spec("orders:one,list,one").unwrap();
        assert_eq!(g.resources.as_deref().unwrap(), ["list", "one"]);
        assert_eq!(g.spec(), "orders:list,one");
        assert!(parse_spec("").is_err());
        assert!(parse_spec("orders:").is_err());
        assert!(parse_spec("orders:a,,b").is_err());
        assert_eq!(
            serde_json::to_value(gs(&["a", "b:x"])).unwrap(),
            json!([{"api": "a"}, {"api": "b", "resources": ["x"]}])
        );
    }

    #[test]
    fn grant_and_withdraw() {
        let mut l = gs(&["orders:list"]);
        assert!(grant(&mut l, &parse_spec("orders:one").unwrap()));
        assert_eq!(l, gs(&["orders:list,one"]));
        assert!(!grant(&mut l, &parse_spec("orders:one").unwrap()));
        assert!(grant(&mut l, &parse_spec("orders").unwrap()));
        assert_eq!(l, gs(&["orders"]));
        assert!(!grant(&mut l, &parse_spec("orders:list").unwrap()));
        assert!(withdraw(&mut l, &parse_spec("orders:list").unwrap()).is_err());
        assert!(grant(&mut l, &parse_spec("catalog:a,b").unwrap()));
        assert!(withdraw(&mut l, &parse_spec("catalog:a").unwrap()).unwrap());
        assert_eq!(l, gs(&["orders", "catalog:b"]));
        assert!(withdraw(&mut l, &parse_spec("catalog:b").unwrap()).unwrap());
        assert!(!withdraw(&mut l, &parse_spec("catalog").unwrap()).unwrap());
        assert!(withdraw(&mut l, &parse_spec("orders").unwrap()).unwrap());
        assert!(l.is_empty());
    }

    #[test]
    fn intersections() {
        assert_eq!(
            intersect(
                &gs(&["a", "b:x,y", "c:z"]),
                &gs(&["a:q", "b:y,w", "c:k", "d"])
            ),
            gs(&["a:q", "b:y"])
        );
        assert_eq!(intersect(&gs(&["a"]), &gs(&["a"])), gs(&["a"]));
    }

    #[test]
    fn grants_are_checked_against_the_policy() {
        let p = PolicyInfo::from_policy_value(&json!({"apis": [
            {"name": "orders", "base_path": "/orders", "origin": "http://127.0.0.1:1",
             "interceptors": [{"type": "oauth"}],
             "resources": [{"name": "list", "path": "/"}]},
            {"name": "catalog", "base_path": "/catalog", "origin": "http://127.0.0.1:1",
             "interceptors": [{"type": "access_token"}]}]}));
        assert!(check_known(&parse_spec("orders:list").unwrap(), &p, false).is_ok());
        let e = check_known(&parse_spec("ordres").unwrap(), &p, false).unwrap_err();
        assert!(e.message.contains("not in the policy"), "{e}");
        assert!(check_known(&parse_spec("ordres").unwrap(), &p, true).is_ok());
        assert!(check_known(&parse_spec("orders:nope").unwrap(), &p, false).is_err());
        assert!(check_known(&parse_spec("catalog:x").unwrap(), &p, false).is_err());
        assert!(check_known(&parse_spec("x").unwrap(), &PolicyInfo::default(), false).is_ok());
    }
}
