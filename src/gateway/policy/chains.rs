//! What concerns a whole chain of interceptors rather than one: the order rules checked when the
//! policy compiles (a token bound to the app needs an interceptor that identifies one), and the
//! CSRF / Time Token keys attached to a compiled policy once per isolate.

use crate::crypto::gentoken::{TokenKeys, SECRET};
use crate::gateway::policy::{Policy, Resource};
use crate::interceptors::Interceptor;
use std::sync::Arc;

/// Attaches the keys to a compiled policy that needs them (once per isolate, by the adapter).
/// A policy with CSRF or Time Token interceptors and no usable `TOKEN_SECRET` is a
/// misconfiguration: every request gets a 500, like a policy that does not compile.
pub fn attach_token_keys(
    policy: &mut Policy,
    current: Option<&str>,
    previous: Option<&str>,
) -> Result<(), String> {
    if !uses_generated_tokens(policy) {
        return Ok(());
    }
    let current = current.filter(|s| !s.is_empty()).ok_or_else(|| {
        format!("the policy has CSRF or Time Token interceptors but the {SECRET} secret is not set (npx wrangler secret put {SECRET})")
    })?;
    let previous = previous.filter(|s| !s.is_empty());
    let keys = Arc::new(TokenKeys::new(current, previous)?);
    for i in interceptors_mut(policy) {
        i.attach_keys(&keys);
    }
    Ok(())
}

/// Whether any interceptor of the policy issues or checks generated tokens.
pub fn uses_generated_tokens(policy: &Policy) -> bool {
    policy.apis.iter().any(|a| {
        a.interceptors
            .iter()
            .chain(
                a.resources
                    .iter()
                    .flatten()
                    .flat_map(|r| r.interceptors.iter()),
            )
            .any(Interceptor::uses_token_keys)
    })
}

fn interceptors_mut(policy: &mut Policy) -> impl Iterator<Item = &mut Interceptor> {
    policy.apis.iter_mut().flat_map(|a| {
        a.interceptors.iter_mut().chain(
            a.resources
                .iter_mut()
                .flatten()
                .flat_map(|r| r.interceptors.iter_mut()),
        )
    })
}

const IDENTIFIERS: &str =
    "oauth, access_token, client_id, client_id_secret_encoded, or jwt with identity_claims";

/// Checks the token interceptors of an API and its resources against their chains.
pub fn check_chains(
    path: &str,
    api: &[Interceptor],
    resources: Option<&[Resource]>,
    errs: &mut Vec<String>,
) {
    let safe_only =
        |r: &Resource| !r.methods.is_empty() && r.methods.iter().all(|m| m == "GET" || m == "HEAD");
    let resources = resources.unwrap_or(&[]);
    for (k, i) in api.iter().enumerate() {
        let Some(req) = i.requires() else { continue };
        let at = format!("{path} interceptors[{k}] ({})", i.kind());
        if req.identity {
            let before = api.iter().take(k).any(Interceptor::identifies);
            let ok = if i.is_response_flow() {
                api.iter().any(Interceptor::identifies)
                    || !resources.is_empty()
                        && resources
                            .iter()
                            .all(|r| r.interceptors.iter().any(Interceptor::identifies))
            } else {
                before
            };
            if !ok {
                errs.push(identity_error(&at, i.is_response_flow()));
            }
        }
        if req.unsafe_method && !resources.is_empty() && resources.iter().all(safe_only) {
            errs.push(format!(
                "{at}: every resource of the API allows only GET/HEAD, where a CSRF token is never issued"
            ));
        }
    }
    for (j, r) in resources.iter().enumerate() {
        let api_identifies = api.iter().any(Interceptor::identifies);
        for (k, i) in r.interceptors.iter().enumerate() {
            let Some(req) = i.requires() else { continue };
            let at = format!("{path} resources[{j}] interceptors[{k}] ({})", i.kind());
            if req.identity {
                let ok = api_identifies
                    || if i.is_response_flow() {
                        r.interceptors.iter().any(Interceptor::identifies)
                    } else {
                        r.interceptors.iter().take(k).any(Interceptor::identifies)
                    };
                if !ok {
                    errs.push(identity_error(&at, i.is_response_flow()));
                }
            }
            if req.unsafe_method && safe_only(r) {
                errs.push(format!(
                    "{at}: the resource allows only {:?}, where a CSRF token is never issued; put the generator on the operation that creates the session or form (e.g. a POST)",
                    r.methods
                ));
            }
        }
    }
}

fn identity_error(at: &str, generator: bool) -> String {
    let which = if generator { "" } else { "earlier " };
    format!(
        "{at}: binds the identified app, but no {which}interceptor identifies one ({IDENTIFIERS}); add one, or bind a session or value that does not need an app"
    )
}
