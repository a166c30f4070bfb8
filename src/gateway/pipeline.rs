//! The sans-I/O core: route a request, run its interceptors in order, and either decide or say
//! which records are still needed.
//!
//! [`decide`] never waits. When something it needs is not known yet it returns [`Step::Need`]:
//! KV records, a JWKS, or a signature for the runtime's WebCrypto to verify ([`Need`]); the
//! adapter gets them and calls again. When everything is cached (the warm path) the first call
//! decides, with no executor involved.

use crate::base::request::{RequestView, Target};
use crate::base::route::under_base;
use crate::gateway::forward::{self, ForwardPlan};
use crate::gateway::policy::{Api, Policy};
use crate::interceptors::{Call, Check, Hide, Identity, Interceptor};
use crate::interceptors::{Need, RecordSource};
use crate::trace::{Cause, Entry, Outcome, Trace};
use std::sync::Arc;

/// A response the gateway writes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Arc<str>,
    /// `Allow` header for 405.
    pub allow: Option<String>,
    /// `WWW-Authenticate` header for a 401 (Bearer mode of Access Token Validation).
    pub challenge: Option<&'static str>,
}

impl Reply {
    /// A plain-text answer for a gateway fault or routing miss; never any detail.
    pub fn plain(status: u16) -> Reply {
        let body = match status {
            400 => "Bad Request",
            404 => "Not Found",
            408 => "Request Timeout",
            413 => "Payload Too Large",
            405 => "Method Not Allowed",
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            503 => "Service Unavailable",
            504 => "Gateway Timeout",
            _ => "Error",
        };
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
            allow: None,
            challenge: None,
        }
    }
}

#[derive(Debug)]
pub enum Answer {
    Forward(ForwardPlan),
    Reply(Reply),
}

#[derive(Debug)]
pub struct Decision {
    pub answer: Answer,
    pub trace: Trace,
    /// Denials, faults and routing misses are always written; passes are sampled.
    pub outcome: Outcome,
}

// A `Decision` is moved once per request; boxing it would add an allocation to every request.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Step {
    Need(Vec<Need>),
    Done(Decision),
}

/// What the adapter knows of the request besides the request itself.
pub struct Input<'a> {
    pub req: &'a dyn RequestView,
    pub now_ms: u64,
    pub request_id: &'a str,
}

/// Decides a request under `policy` with the records known so far.
pub fn decide(policy: &Policy, input: &Input<'_>, records: &dyn RecordSource) -> Step {
    let req = input.req;
    let url = req.url();
    let target = Target::parse(url);
    let mut trace = Trace::new(
        input.now_ms,
        input.request_id.to_string(),
        req.method(),
        target.path,
    );

    let Some((api, rest)) = policy
        .apis
        .iter()
        .find_map(|a| under_base(target.path, &a.base_path).map(|rest| (a, rest)))
    else {
        return Step::Done(no_route(trace, Cause::NoApi, Reply::plain(404)));
    };
    trace.api = Some(api.name.clone());

    let resource = match &api.resources {
        None => None,
        Some(list) => {
            let on_path: Vec<_> = list.iter().filter(|r| r.pattern.matches(rest)).collect();
            match on_path.iter().find(|r| r.allows(req.method())) {
                Some(r) => Some(*r),
                None if on_path.is_empty() => {
                    return Step::Done(no_route(trace, Cause::NoResource, Reply::plain(404)));
                }
                None => {
                    let mut allow: Vec<&str> = on_path
                        .iter()
                        .flat_map(|r| r.methods.iter().map(String::as_str))
                        .collect();
                    allow.sort_unstable();
                    allow.dedup();
                    let mut reply = Reply::plain(405);
                    reply.allow = Some(allow.join(", "));
                    return Step::Done(no_route(trace, Cause::MethodNotAllowed, reply));
                }
            }
        }
    };
    trace.resource = resource.map(|r| r.name.clone());

    let chain = api
        .interceptors
        .iter()
        .chain(resource.into_iter().flat_map(|r| r.interceptors.iter()));
    let mut identity: Option<Identity> = None;
    let mut hides: Vec<Hide> = Vec::new();
    let mut headers: Vec<(Arc<str>, Option<String>)> = Vec::new();
    // Response-flow interceptors (generators), in declared order; empty for most policies.
    let mut generators: Vec<&Interceptor> = Vec::new();
    // What every interceptor sees of the call; only the identity changes along the chain.
    let base = Call {
        req,
        target,
        api: &api.name,
        resource: resource.map(|r| &*r.name),
        now_s: (input.now_ms / 1000) as i64,
        now_ms: input.now_ms,
        records,
        identity: None,
    };
    for interceptor in chain {
        if interceptor.is_response_flow() {
            generators.push(interceptor);
            continue;
        }
        let call = Call {
            identity: identity.as_ref(),
            ..base
        };
        match check(interceptor, &call) {
            Check::Pass(p) => {
                trace.entries.push(p.entry);
                if p.identity.is_some() {
                    identity = p.identity;
                }
                hides.extend(p.hide);
                headers.extend(p.headers);
            }
            Check::Need(keys) => return Step::Need(keys),
            Check::Deny(d) => {
                trace.entries.push(d.entry);
                let reply = Reply {
                    status: 401,
                    content_type: d.content_type,
                    body: d.body,
                    allow: None,
                    challenge: d.challenge,
                };
                return Step::Done(finish(
                    trace,
                    Outcome::Deny,
                    Answer::Reply(reply),
                    identity.as_ref(),
                ));
            }
            Check::Fault(f) => {
                trace.entries.push(f.entry);
                let reply = Reply::plain(f.status);
                return Step::Done(finish(
                    trace,
                    Outcome::Fault,
                    Answer::Reply(reply),
                    identity.as_ref(),
                ));
            }
        }
    }

    // The generators' tokens depend on the request, the identity and the time, never on the
    // response body: they are made now and added to the origin's response as it streams back.
    let mut response_headers: Vec<(String, String)> = Vec::new();
    for generator in generators {
        let call = Call {
            identity: identity.as_ref(),
            ..base
        };
        match generator.issue(&call) {
            Some(Ok(issued)) => {
                trace.entries.push(issued.entry);
                response_headers.extend(issued.headers);
            }
            Some(Err(f)) => {
                trace.entries.push(f.entry);
                return Step::Done(finish(
                    trace,
                    Outcome::Fault,
                    Answer::Reply(Reply::plain(f.status)),
                    identity.as_ref(),
                ));
            }
            None => {}
        }
    }

    let mut plan = forward_plan(req, &target, api, rest, policy, identity.as_ref(), &hides);
    plan.response_headers = response_headers;
    plan.timeout_ms = api.origin_timeout_ms;
    // Headers an interceptor owns (JWT claims): the client's copies never reach the origin. The
    // identity headers are the policy's own and are never overwritten by a claim.
    for (name, value) in headers {
        if policy
            .identity
            .names()
            .any(|n| n.eq_ignore_ascii_case(&name))
        {
            continue;
        }
        plan.remove.push(name.to_string());
        if let Some(v) = value {
            plan.set.push((name.to_string(), forward::header_safe(&v)));
        }
    }
    Step::Done(finish(
        trace,
        Outcome::Pass,
        Answer::Forward(plan),
        identity.as_ref(),
    ))
}

fn check(interceptor: &Interceptor, call: &Call<'_>) -> Check {
    interceptor.check(call)
}

fn forward_plan(
    req: &dyn RequestView,
    target: &Target<'_>,
    api: &Api,
    rest: &str,
    policy: &Policy,
    identity: Option<&Identity>,
    hides: &[Hide],
) -> ForwardPlan {
    forward::plan(
        req,
        target,
        &api.origin,
        rest,
        &policy.identity,
        identity,
        hides,
    )
}

fn no_route(mut trace: Trace, cause: Cause, reply: Reply) -> Decision {
    let mut e = Entry::new("request", Outcome::NoRoute);
    e.cause = Some(cause);
    e.status = Some(reply.status);
    trace.entries.push(e);
    Decision {
        answer: Answer::Reply(reply),
        trace,
        outcome: Outcome::NoRoute,
    }
}

fn finish(
    mut trace: Trace,
    outcome: Outcome,
    answer: Answer,
    identity: Option<&Identity>,
) -> Decision {
    let mut e = Entry::new("request", outcome);
    e.client_id = identity.map(|i| i.client_id.clone());
    if let Answer::Reply(r) = &answer {
        e.status = Some(r.status);
    }
    trace.entries.push(e);
    Decision {
        answer,
        trace,
        outcome,
    }
}

/// The decision for a request when the policy itself did not compile: a 500, traced with every
/// problem, for every request (never a pass).
pub fn bad_policy(input: &Input<'_>, problems: &str) -> Decision {
    let target = Target::parse(input.req.url());
    let mut trace = Trace::new(
        input.now_ms,
        input.request_id.to_string(),
        input.req.method(),
        target.path,
    );
    let mut e = Entry::new("request", Outcome::Fault);
    e.cause = Some(Cause::BadPolicy);
    e.detail = Some(problems.to_string());
    e.status = Some(500);
    trace.entries.push(e);
    Decision {
        answer: Answer::Reply(Reply::plain(500)),
        trace,
        outcome: Outcome::Fault,
    }
}

/// The trace entry for an origin that could not be reached (the adapter adds it after `fetch`
/// failed), and the reply.
pub fn origin_unreachable(detail: String) -> (Entry, Reply) {
    let mut e = Entry::new("forward", Outcome::Fault);
    e.cause = Some(Cause::OriginUnreachable);
    e.detail = Some(detail);
    e.status = Some(502);
    (e, Reply::plain(502))
}

/// The trace entry for an origin that sent no response headers within the API's time limit
/// (the adapter adds it when the limit fired), and the reply: 504.
pub fn origin_timeout(detail: String) -> (Entry, Reply) {
    let mut e = Entry::new("forward", Outcome::Fault);
    e.cause = Some(Cause::OriginTimeout);
    e.detail = Some(detail);
    e.status = Some(504);
    (e, Reply::plain(504))
}
