//! JWT Validation: a JSON Web Token (JWS compact serialization) signed by a configured issuer.
//!
//! In order, each failure a 401 with the `JWT` message and its own trace cause:
//! 1. the token, where configured (default `Authorization: Bearer <token>`) — `missing`,
//!    `empty`, `duplicated`, `malformed` (no `Bearer `, not three base64url parts, a header that
//!    is not JSON, `crit` or `b64`), `too_long`;
//! 2. its `alg`: `none` and unknown names never pass, and the issuer must allow it —
//!    `alg_not_allowed`;
//! 3. the issuer: the only one configured, or the one named by `iss` — `wrong_issuer`;
//! 4. the key: from the issuer's KV record and/or JWKS, by `kid` (without `kid`, only when exactly
//!    one key fits), each key pinned to one algorithm — `unknown_key`, `alg_not_allowed` (a `kid`
//!    pinned to another algorithm: no algorithm confusion);
//! 5. the signature: HMAC here (jwt-compact), RSA/RSA-PSS/ECDSA/Ed25519 in the runtime's WebCrypto
//!    through a [`VerifyJob`], its verdict cached per token — `bad_signature`;
//! 6. the claims (jwt-compact): a JSON object (`malformed`), `iss` (`wrong_issuer`), `exp`
//!    (`expired`), `nbf` and `iat` (`not_yet_valid`) with leeway, the maximum lifetime
//!    (`too_long_lived`), the audience (`wrong_audience`), required claims (`missing_claim`);
//! 7. revocation: `jti:<issuer>:<jti>` in KV with `"revoked": true` — `revoked`;
//! 8. the app named by the identity claim, if configured: exists, usable, granted the call.
//!
//! Gateway faults: a KV record that does not parse (500), KV unreadable (503), no usable key set
//! because the JWKS URL failed and nothing usable is cached (503, `keys_unavailable`), a key the
//! runtime cannot use (500, `bad_key`).

pub mod claims;
pub mod verify;

use claims::claim_text;
pub use claims::{parse, Audience, ClaimRules, Parsed, Registered};

use super::{identity, load, resolve_app, value_hint, Call, Check, Common, Loaded, Pass};
use crate::base::config::{is_header_name, Obj};
use crate::base::locate::Place;
use crate::base::message::Label;
use crate::crypto::keys::{self, Alg, Kind, Material, Selected};
use crate::interceptors::jwt::verify::{
    jwks_view, JwksTiming, JwksView, Remember, Verdict, VerifyJob,
};
use crate::interceptors::Need;
use crate::records::{app_key, issuer_key, jti_key, Record};
use crate::trace::{Cause, Entry, Outcome};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_compact::alg::{Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key};
use jwt_compact::{Algorithm, AlgorithmSignature, Claims};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub const LOCATIONS: &[&str] = &["header", "query", "cookie", "header_or_cookie", "any"];
pub const DEFAULT_LEEWAY_S: u64 = 60;
/// Largest `leeway_seconds` (about 31 years, as Digital Signature's `max_age_seconds`: enough to
/// verify the RFCs' 2011 example tokens in tests, small enough that no time arithmetic with any
/// client-sent claim overflows). RFC 7519 speaks of "a few minutes"; the default is 60 s.
pub const MAX_LEEWAY_S: u64 = 1_000_000_000;
/// Largest `max_lifetime_seconds` (about ten years).
pub const MAX_LIFETIME_LIMIT_S: u64 = 315_360_000;
/// Largest JWKS timing setting (`jwks_ttl_seconds`, `jwks_min_refetch_seconds`,
/// `jwks_max_stale_seconds`): a week.
pub const MAX_JWKS_SECONDS: u64 = 604_800;
/// Longest token accepted (bounds parsing and hashing work).
pub const MAX_JWT_BYTES: usize = 16 * 1024;
/// A verdict on a token without `exp` is kept this long.
const KEEP_WITHOUT_EXP_MS: u64 = 300_000;

#[derive(Debug)]
pub struct Jwt {
    pub common: Common,
    /// The authorization scheme before the token in a header (`Bearer`), if any.
    scheme: Option<String>,
    issuers: Vec<Issuer>,
    rules: ClaimRules,
    check_jti: bool,
    identity_claims: Vec<String>,
    /// (claim, lowercase header name)
    forward_claims: Vec<(String, Arc<str>)>,
}

#[derive(Debug)]
struct Issuer {
    iss: String,
    algorithms: Vec<Alg>,
    /// `jwt-issuer:<iss>` when keys are read from KV.
    kv_key: Option<String>,
    jwks: Option<Jwks>,
}

#[derive(Debug)]
struct Jwks {
    url: String,
    timing: JwksTiming,
}

/// The trace fingerprint (`sha256:` + 16 hex digits, as [`crate::records::fingerprint`]) from a
/// token's SHA-256, written without the formatting machinery (this runs on every request).
fn fingerprint_of(hash: &[u8; 32]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(23);
    out.push_str("sha256:");
    for b in hash.iter().take(8) {
        for nibble in [b >> 4, b & 15] {
            out.push(char::from(
                HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
            ));
        }
    }
    out
}

/// The signing input and the decoded signature of a compact JWS.
fn signed_parts(token: &str) -> Option<(&str, Vec<u8>)> {
    let (input, sig) = token.rsplit_once('.')?;
    Some((input, URL_SAFE_NO_PAD.decode(sig).ok()?))
}

/// Verifies an HMAC signature (constant-time comparison, in jwt-compact).
fn hmac_valid(alg: Alg, secret: &[u8], input: &[u8], sig: &[u8]) -> bool {
    fn check<A: Algorithm>(a: A, key: &A::VerifyingKey, input: &[u8], sig: &[u8]) -> bool {
        match A::Signature::try_from_slice(sig) {
            Ok(s) => a.verify_signature(&s, key, input),
            Err(_) => false,
        }
    }
    // jwt-compact's HMAC signatures take a slice of exactly the hash length.
    if Some(sig.len()) != alg.signature_len() {
        return false;
    }
    match alg {
        Alg::HS256 => check(Hs256, &Hs256Key::new(secret), input, sig),
        Alg::HS384 => check(Hs384, &Hs384Key::new(secret), input, sig),
        Alg::HS512 => check(Hs512, &Hs512Key::new(secret), input, sig),
        _ => false,
    }
}

fn str_list(o: &mut Obj<'_>, key: &'static str, errs: &mut Vec<String>) -> Vec<String> {
    let Some(list) = o.opt_array(key, errs) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, v) in list.iter().enumerate() {
        match v.as_str() {
            Some(s) if !s.is_empty() => out.push(s.to_string()),
            _ => errs.push(format!(
                "{}.{key}[{i}]: expected a non-empty string",
                o.path
            )),
        }
    }
    out
}

impl Jwt {
    pub fn compile(o: &mut Obj<'_>, docs: &str, errs: &mut Vec<String>) -> Jwt {
        let common = Common::compile(o, "jwt", Label::Jwt, "Authorization", LOCATIONS, docs, errs);
        let reads_header = common.location.places().contains(&Place::Header);
        let scheme = match o.opt_str("scheme", errs) {
            Some("") => None,
            Some(s) if is_header_name(s) => Some(s.to_string()),
            Some(s) => {
                errs.push(format!(
                    "{}.scheme: {s:?} is not an authorization scheme (letters, digits and !#$%&'*+-.^_`|~ only)",
                    o.path
                ));
                None
            }
            None if reads_header && common.element.name.eq_ignore_ascii_case("authorization") => {
                Some("Bearer".into())
            }
            None => None,
        };

        let mut issuers: Vec<Issuer> = Vec::new();
        match o.req_array("issuers", errs) {
            Some([]) => errs.push(format!("{}.issuers: at least one issuer is needed", o.path)),
            Some(list) => {
                for (i, v) in list.iter().enumerate() {
                    let label = v
                        .get("issuer")
                        .and_then(Value::as_str)
                        .map(|s| format!(" {s:?}"))
                        .unwrap_or_default();
                    let path = format!("{}.issuers[{i}]{label}", o.path);
                    if let Some(mut io) = Obj::new(v, &path, errs) {
                        if let Some(issuer) = compile_issuer(&mut io, errs) {
                            if issuers.iter().any(|x| x.iss == issuer.iss) {
                                errs.push(format!("{path}: issuer is listed twice"));
                            }
                            issuers.push(issuer);
                        }
                        io.finish(errs);
                    }
                }
            }
            None => {}
        }

        let audiences = str_list(o, "audiences", errs);
        let required_claims = str_list(o, "required_claims", errs);
        // Bounded, so that no arithmetic on them (with a client's times) can overflow.
        let leeway_s = o
            .opt_u64_in("leeway_seconds", 0, MAX_LEEWAY_S, errs)
            .unwrap_or(DEFAULT_LEEWAY_S);
        let max_lifetime_s = o.opt_u64_in("max_lifetime_seconds", 1, MAX_LIFETIME_LIMIT_S, errs);
        let (leeway_s, max_lifetime_s) = (
            i64::try_from(leeway_s).unwrap_or_default(),
            max_lifetime_s.and_then(|s| i64::try_from(s).ok()),
        );
        let require_exp = o.opt_bool("require_exp", errs).unwrap_or(true);
        let check_jti = o.opt_bool("check_jti", errs).unwrap_or(true);
        let identity_claims = str_list(o, "identity_claims", errs);
        let mut forward_claims = Vec::new();
        if let Some(f) = o.opt_obj("forward_claims", errs) {
            for (claim, header) in f.map {
                match header.as_str() {
                    Some(h)
                        if crate::base::request::HOP_BY_HOP
                            .contains(&h.to_ascii_lowercase().as_str())
                            || ["traceparent", "cookie", "authorization"]
                                .contains(&h.to_ascii_lowercase().as_str()) =>
                    {
                        errs.push(format!(
                            "{}.{claim}: {h:?} is not a header a claim may be forwarded in",
                            f.path
                        ))
                    }
                    Some(h) if is_header_name(h) => {
                        forward_claims.push((claim.clone(), h.to_ascii_lowercase().into()))
                    }
                    _ => errs.push(format!(
                        "{}.{claim}: expected a header name, found {header}",
                        f.path
                    )),
                }
            }
            // A free-form map (claim → header): no unknown fields to report.
        }
        Jwt {
            common,
            scheme,
            issuers,
            rules: ClaimRules {
                audiences,
                required_claims,
                leeway_s,
                max_lifetime_s,
                require_exp,
            },
            check_jti,
            identity_claims,
            forward_claims,
        }
    }

    /// Whether a pass names an app (`identity_claims`).
    pub fn identifies(&self) -> bool {
        !self.identity_claims.is_empty()
    }

    pub fn check(&self, call: &Call<'_>) -> Check {
        let c = &self.common;
        let (raw, place) = match c.extract(call) {
            Ok(v) => v,
            Err(denial) => return *denial,
        };
        let token: &str = match (&self.scheme, place) {
            (Some(scheme), Place::Header) => match strip_scheme(&raw, scheme) {
                Some(t) if !t.is_empty() => t,
                _ => {
                    let detail = value_hint(&raw, place)
                        .unwrap_or_else(|| format!("expected \"{scheme} <token>\""));
                    let fp = Some(crate::records::fingerprint(&raw));
                    return c.deny(place, Cause::Malformed, Some(detail), fp, None);
                }
            },
            _ => &raw,
        };
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let fp = Some(fingerprint_of(&hash));
        let deny =
            |cause: Cause, detail: String| c.deny(place, cause, Some(detail), fp.clone(), None);
        if token.len() > MAX_JWT_BYTES {
            return deny(
                Cause::TooLong,
                format!("{} bytes; at most {MAX_JWT_BYTES} are read", token.len()),
            );
        }

        // 1. Parsed (or the verdict on this very token, with what was parsed then).
        let known = call.records.verified(&hash);
        let parsed = match &known {
            Some(v) => v.parsed.clone(),
            None => match parse(token) {
                Ok(p) => Arc::new(p),
                Err(e) => {
                    let hint = value_hint(token, place).map(|h| format!("; {h}"));
                    return deny(Cause::Malformed, format!("{e}{}", hint.unwrap_or_default()));
                }
            },
        };
        if let Some(p) = &parsed.header_problem {
            return deny(Cause::Malformed, p.clone());
        }

        // 2. The algorithm.
        let Some(alg) = Alg::parse(&parsed.alg) else {
            let why = if parsed.alg.eq_ignore_ascii_case("none") {
                "alg \"none\" (an unsigned token) is never accepted".to_string()
            } else {
                format!("alg {:?} is not supported", parsed.alg)
            };
            return deny(Cause::AlgNotAllowed, why);
        };

        // 3. The issuer.
        let issuer = if let [only] = self.issuers.as_slice() {
            only
        } else {
            let claims = match &parsed.claims {
                Ok(cl) => cl,
                Err(e) => return deny(Cause::Malformed, e.clone()),
            };
            let Some(iss) = &claims.custom.iss else {
                return deny(Cause::MissingClaim, "no iss claim".into());
            };
            match self.issuers.iter().find(|i| &i.iss == iss) {
                Some(i) => i,
                None => {
                    return deny(
                        Cause::WrongIssuer,
                        format!("issuer {iss:?} is not accepted"),
                    )
                }
            }
        };
        if !issuer.algorithms.contains(&alg) {
            return deny(
                Cause::AlgNotAllowed,
                format!(
                    "{} is not allowed for issuer {:?} (allowed: {})",
                    alg.name(),
                    issuer.iss,
                    issuer
                        .algorithms
                        .iter()
                        .map(|a| a.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }

        // 4. The key.
        let sets = match self.key_sets(call, issuer) {
            Ok(s) => s,
            Err(check) => return check,
        };
        let key = match keys::select(
            &sets.sets,
            alg,
            &issuer.algorithms,
            parsed.kid.as_deref(),
            call.now_s,
        ) {
            Selected::Key(k) => k,
            Selected::WrongAlg(d) => return deny(Cause::AlgNotAllowed, d),
            Selected::Unknown(d) => {
                if let Some(url) = sets.refetch {
                    return Check::Need(vec![Need::Jwks(url)]);
                }
                if let Some(why) = sets.down {
                    return super::fault(
                        c.kind,
                        503,
                        Cause::KeysUnavailable,
                        format!(
                            "issuer {:?}: {d}, and the JWKS is unavailable: {why}",
                            issuer.iss
                        ),
                    );
                }
                let note = keys::skipped_note(&sets.sets)
                    .map(|n| format!("; {n}"))
                    .unwrap_or_default();
                return deny(
                    Cause::UnknownKey,
                    format!("issuer {:?}: {d}{note}", issuer.iss),
                );
            }
        };

        // 5. The signature.
        // A verdict on this very token under this very key holds (HMAC and WebCrypto alike).
        let verdict = match known.as_ref().filter(|v| v.key_id == key.id) {
            Some(v) => v.verdict.clone(),
            None if key.kind == Kind::Hmac => {
                let Material::Secret(secret) = &key.material else {
                    // HMAC keys hold secrets; anything else cannot verify an HMAC.
                    return super::fault(c.kind, 500, Cause::BadKey, format!("{key}: no secret"));
                };
                let valid = signed_parts(token)
                    .is_some_and(|(input, sig)| hmac_valid(alg, secret, input.as_bytes(), &sig));
                let verdict = if valid {
                    Verdict::Valid
                } else {
                    Verdict::Invalid
                };
                call.records.remember(Remember {
                    token_hash: hash,
                    key_id: key.id,
                    parsed: &parsed,
                    keep_until_ms: self.keep_until_ms(&parsed, call.now_ms),
                    verdict: verdict.clone(),
                });
                verdict
            }
            None => {
                let Some((input, signature)) = signed_parts(token) else {
                    return deny(Cause::Malformed, "the signature is not base64url".into());
                };
                // ES256 and EdDSA signatures have one length; anything else is a bad signature
                // here, never handed to WebCrypto (which rejects a wrong-length Ed25519
                // signature instead of answering false).
                if let Some(n) = alg.signature_len().filter(|n| *n != signature.len()) {
                    return deny(
                        Cause::BadSignature,
                        format!(
                            "the {} signature is {} bytes; a valid one is {n}",
                            alg.name(),
                            signature.len()
                        ),
                    );
                }
                let job = VerifyJob {
                    token_hash: hash,
                    alg,
                    key: key.clone(),
                    signing_input: input.to_string(),
                    signature,
                    keep_until_ms: self.keep_until_ms(&parsed, call.now_ms),
                    parsed: parsed.clone(),
                };
                let mut needs = vec![Need::Verify(Arc::new(job))];
                needs.extend(self.prefetch(call, issuer, &parsed));
                return Check::Need(needs);
            }
        };
        match verdict {
            Verdict::Valid => {}
            Verdict::Invalid => {
                return deny(
                    Cause::BadSignature,
                    format!("the {} signature does not verify with {key}", alg.name()),
                )
            }
            Verdict::Failed(e) => {
                return super::fault(
                    c.kind,
                    500,
                    Cause::BadKey,
                    format!("issuer {:?} {key}: {e}", issuer.iss),
                )
            }
        }

        // 6. The claims.
        let claims = match &parsed.claims {
            Ok(cl) => cl,
            Err(e) => {
                return deny(
                    Cause::Malformed,
                    format!("the signature is valid, but the payload is {e}"),
                )
            }
        };
        if let Some((cause, detail)) = self.rules.problem(claims, &issuer.iss, call.now_s) {
            return deny(cause, detail);
        }

        // 7. Revocation.
        if self.check_jti {
            if let Some(jti) = &claims.custom.jti {
                let Some(k) = jti_key(&issuer.iss, jti) else {
                    return deny(
                        Cause::Malformed,
                        "jti is too long to be checked for revocation".into(),
                    );
                };
                match load(call, c.kind, &k) {
                    Loaded::Stop(check) => return check,
                    Loaded::Absent => {}
                    Loaded::Present(r) => match &*r {
                        Record::Jti(j) if j.revoked => {
                            return deny(Cause::Revoked, format!("jti {jti:?} is revoked"))
                        }
                        Record::Jti(_) => {}
                        _ => {
                            return super::fault(
                                c.kind,
                                500,
                                Cause::MalformedRecord,
                                format!("{k:?} does not hold a revocation flag"),
                            )
                        }
                    },
                }
            }
        }

        // 8. The app.
        let headers: Vec<(Arc<str>, Option<String>)> = self
            .forward_claims
            .iter()
            .map(|(claim, header)| (header.clone(), claim_text(claims, claim)))
            .collect();
        if self.identity_claims.is_empty() {
            let mut entry = Entry::new(c.kind, Outcome::Pass);
            entry.element = Some([place.as_str(), " ", &c.element.name].concat());
            entry.fingerprint = fp;
            return Check::Pass(Pass {
                entry,
                identity: None,
                hide: c.hide(place),
                headers,
            });
        }
        let Some((claim, client_id)) = self.identity_value(claims) else {
            return deny(
                Cause::MissingClaim,
                format!("none of the identity claims {:?}", self.identity_claims),
            );
        };
        match resolve_app(c, call, client_id, place, true) {
            Ok(app) => match c.pass(call, place, fp, identity(client_id, app, None)) {
                Check::Pass(mut p) => {
                    p.headers = headers;
                    Check::Pass(p)
                }
                other => other,
            },
            Err(Check::Deny(mut d)) => {
                if d.entry.cause == Some(Cause::NotFound) {
                    d.entry.cause = Some(Cause::AppNotFound);
                    d.entry.detail = Some(format!("claim {claim} names no app"));
                }
                d.entry.fingerprint = fp;
                Check::Deny(d)
            }
            Err(other) => other,
        }
    }

    /// The key sets of `issuer` as far as they are known, or what to get first, or a fault.
    fn key_sets(&self, call: &Call<'_>, issuer: &Issuer) -> Result<KeySets, Check> {
        let mut out = KeySets {
            sets: Vec::new(),
            refetch: None,
            down: None,
        };
        let mut needs = Vec::new();
        if let Some(k) = &issuer.kv_key {
            match load(call, self.common.kind, k) {
                Loaded::Present(r) => match &*r {
                    Record::Issuer(set) => out.sets.push(set.clone()),
                    _ => {
                        return Err(super::fault(
                            self.common.kind,
                            500,
                            Cause::MalformedRecord,
                            format!("{k:?} does not hold keys"),
                        ))
                    }
                },
                Loaded::Absent => {}
                Loaded::Stop(Check::Need(n)) => needs.extend(n),
                Loaded::Stop(other) => return Err(other),
            }
        }
        if let Some(j) = &issuer.jwks {
            match jwks_view(call.records.jwks(&j.url).as_ref(), &j.timing, call.now_ms) {
                JwksView::Fetch => needs.push(Need::Jwks(j.url.clone())),
                JwksView::Keys {
                    set, may_refetch, ..
                } => {
                    out.sets.push(set);
                    if may_refetch {
                        out.refetch = Some(j.url.clone());
                    }
                }
                JwksView::Down(why) => out.down = Some(why),
            }
        }
        if needs.is_empty() {
            Ok(out)
        } else {
            Err(Check::Need(needs))
        }
    }

    /// KV records the token will need once its signature is verified (its revocation flag, its
    /// app), fetched along with the verification.
    fn prefetch(&self, call: &Call<'_>, issuer: &Issuer, parsed: &Parsed) -> Vec<Need> {
        let Ok(claims) = &parsed.claims else {
            return Vec::new();
        };
        let mut keys = Vec::new();
        if self.check_jti {
            if let Some(k) = claims
                .custom
                .jti
                .as_deref()
                .and_then(|j| jti_key(&issuer.iss, j))
            {
                keys.push(k);
            }
        }
        if let Some(k) = self.identity_value(claims).and_then(|(_, id)| app_key(id)) {
            keys.push(k);
        }
        keys.into_iter()
            .filter(|k| matches!(call.records.lookup(k), crate::records::cache::Slot::Pending))
            .map(Need::Kv)
            .collect()
    }

    fn identity_value<'c>(&self, claims: &'c Claims<Registered>) -> Option<(&str, &'c str)> {
        self.identity_claims.iter().find_map(|name| {
            let v = match name.as_str() {
                "sub" => claims.custom.sub.as_deref(),
                "iss" => claims.custom.iss.as_deref(),
                "jti" => claims.custom.jti.as_deref(),
                other => claims.custom.other.get(other).and_then(Value::as_str),
            };
            v.filter(|s| !s.is_empty()).map(|v| (name.as_str(), v))
        })
    }

    fn keep_until_ms(&self, parsed: &Parsed, now_ms: u64) -> u64 {
        match parsed.claims.as_ref().ok().and_then(|c| c.expiration) {
            Some(exp) => (exp.timestamp().saturating_add(self.rules.leeway_s).max(0) as u64)
                .saturating_mul(1000),
            None => now_ms.saturating_add(KEEP_WITHOUT_EXP_MS),
        }
    }
}

struct KeySets {
    sets: Vec<Arc<keys::KeySet>>,
    /// A JWKS URL that may be fetched again for an unknown `kid`.
    refetch: Option<String>,
    /// Why the issuer's JWKS is unusable, if it is.
    down: Option<Arc<str>>,
}

fn compile_issuer(o: &mut Obj<'_>, errs: &mut Vec<String>) -> Option<Issuer> {
    let iss = o.req_str("issuer", errs).unwrap_or_default().to_string();
    if iss.is_empty() && o.map.contains_key("issuer") {
        errs.push(format!("{}.issuer: must not be empty", o.path));
    }
    let mut algorithms = Vec::new();
    if !o.map.contains_key("algorithms") {
        errs.push(format!(
            "{}: missing field \"algorithms\"; expected some of {:?}",
            o.path,
            Alg::NAMES
        ));
    }
    for (i, name) in str_list(o, "algorithms", errs).iter().enumerate() {
        match Alg::parse(name) {
            Some(a) if !algorithms.contains(&a) => algorithms.push(a),
            Some(_) => {}
            None if name.eq_ignore_ascii_case("none") => errs.push(format!(
                "{}.algorithms[{i}]: \"none\" (unsigned tokens) is never accepted",
                o.path
            )),
            None => errs.push(format!(
                "{}.algorithms[{i}]: unknown algorithm {name:?}; expected one of {:?}",
                o.path,
                Alg::NAMES
            )),
        }
    }
    let jwks_url = o.opt_str("jwks_url", errs);
    let kv_keys = o.opt_bool("kv_keys", errs).unwrap_or(jwks_url.is_none());
    let mut timing = JwksTiming::default();
    if let Some(s) = o.opt_u64_in("jwks_ttl_seconds", 0, MAX_JWKS_SECONDS, errs) {
        timing.ttl_ms = s.saturating_mul(1000);
    }
    if let Some(s) = o.opt_u64_in("jwks_min_refetch_seconds", 1, MAX_JWKS_SECONDS, errs) {
        timing.min_refetch_ms = s.saturating_mul(1000);
    }
    if let Some(s) = o.opt_u64_in("jwks_max_stale_seconds", 0, MAX_JWKS_SECONDS, errs) {
        timing.max_stale_ms = s.saturating_mul(1000);
    }
    if let Some(url) = jwks_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(' ') {
            errs.push(format!(
                "{}.jwks_url: {url:?} must be an http:// or https:// URL",
                o.path
            ));
        }
    } else {
        for k in [
            "jwks_ttl_seconds",
            "jwks_min_refetch_seconds",
            "jwks_max_stale_seconds",
        ] {
            if o.map.contains_key(k) {
                errs.push(format!("{}.{k}: only with jwks_url", o.path));
            }
        }
    }
    if !kv_keys && jwks_url.is_none() {
        errs.push(format!(
            "{}: no key source; set jwks_url and/or kv_keys = true",
            o.path
        ));
    }
    if !kv_keys && algorithms.iter().any(|a| a.kind() == Kind::Hmac) {
        errs.push(format!(
            "{}.algorithms: HMAC secrets come from KV only (a public JWKS never holds them); set kv_keys = true",
            o.path
        ));
    }
    let kv_key = if kv_keys {
        let k = issuer_key(&iss);
        if k.is_none() {
            errs.push(format!("{}.issuer: too long for a KV key", o.path));
        }
        k
    } else {
        None
    };
    Some(Issuer {
        iss,
        algorithms,
        kv_key,
        jwks: jwks_url.map(|url| Jwks {
            url: url.to_string(),
            timing,
        }),
    })
}

/// The token after `<scheme> ` (scheme case-insensitive, exactly one space; nothing trimmed).
fn strip_scheme<'v>(value: &'v str, scheme: &str) -> Option<&'v str> {
    let head = value.get(..scheme.len())?;
    let rest = value.get(scheme.len()..)?;
    if head.eq_ignore_ascii_case(scheme) {
        rest.strip_prefix(' ')
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::request::{Target, TestRequest};
    use crate::interceptors::jwt::verify::{JwtCaches, WithJwt};
    use crate::interceptors::testing::{
        approved_app, assert_denied, compile, compile_errors, expect_fault, expect_pass, NOW,
    };
    use crate::interceptors::{Call, Interceptor};
    use crate::records::cache::Slot;
    use serde_json::json;
    use std::collections::HashMap;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
    const OTHER_SECRET: &[u8] = b"fedcba9876543210fedcba9876543210";
    const BODY: &str =
        "JWT in the request, identified by HEADER Authorization, is invalid. Check docs.sensedia.com";
    const LINE: &str = "JWT in HEADER Authorization HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call";

    fn b64(bytes: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A token over `header` and `claims`, signed with an HMAC secret.
    fn hs(alg: Alg, secret: &[u8], header: Value, claims: Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let sig = match alg {
            Alg::HS256 => Hs256
                .sign(&Hs256Key::new(secret), input.as_bytes())
                .as_bytes()
                .to_vec(),
            Alg::HS384 => Hs384
                .sign(&Hs384Key::new(secret), input.as_bytes())
                .as_bytes()
                .to_vec(),
            Alg::HS512 => Hs512
                .sign(&Hs512Key::new(secret), input.as_bytes())
                .as_bytes()
                .to_vec(),
            _ => unreachable!(),
        };
        format!("{input}.{}", b64(sig))
    }

    fn claims() -> Value {
        json!({"iss": "https://idp", "sub": "alice", "aud": "orders-api", "exp": NOW + 600,
               "iat": NOW - 10, "jti": "j-1", "client_id": "good", "scope": "read"})
    }

    fn with(mut v: Value, patch: Value) -> Value {
        for (k, x) in patch.as_object().unwrap() {
            if x.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = x.clone();
            }
        }
        v
    }

    fn token(patch: Value) -> String {
        hs(
            Alg::HS256,
            SECRET,
            json!({"alg": "HS256", "kid": "h1"}),
            with(claims(), patch),
        )
    }

    fn policy(patch: Value) -> Interceptor {
        let base = json!({"type": "jwt",
            "issuers": [{"issuer": "https://idp", "algorithms": ["HS256", "HS512", "ES256", "RS256"]}]});
        compile(with(base, patch))
    }

    fn issuer_keys() -> Value {
        json!({"keys": [
            {"kty": "oct", "kid": "h1", "alg": "HS256", "k": b64(SECRET)},
            {"kty": "oct", "kid": "h5", "alg": "HS512", "k": b64([7u8; 64])},
            {"kty": "EC", "kid": "e1", "alg": "ES256", "crv": "P-256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]})
    }

    /// Records, JWT caches, JWKS bodies and a verdict for verification jobs, at a fixed clock.
    struct World {
        records: HashMap<String, Slot>,
        jwt: JwtCaches,
        jwks: HashMap<String, Result<String, String>>,
        verdict: Verdict,
        now_ms: u64,
        /// Needs handed out, in order.
        asked: Vec<String>,
    }

    impl World {
        fn new() -> World {
            World {
                records: HashMap::new(),
                jwt: JwtCaches::new(100),
                jwks: HashMap::new(),
                verdict: Verdict::Valid,
                now_ms: NOW as u64 * 1000,
                asked: Vec::new(),
            }
        }

        fn put(mut self, key: &str, v: Value) -> World {
            let text = v.to_string();
            self.records
                .insert(key.into(), Slot::from_store(key, Some(&text)));
            self
        }

        fn standard() -> World {
            World::new()
                .put("jwt-issuer:https://idp", issuer_keys())
                .put("app:good", approved_app())
                .put(
                    "jti:https://idp:revoked",
                    json!({"revoked": true, "expires_at": "2030-01-01T00:00:00Z"}),
                )
                .put("jti:https://idp:kept", json!({"revoked": false}))
        }

        fn once(&self, i: &Interceptor, req: &TestRequest) -> Check {
            let source = WithJwt {
                records: &self.records,
                jwt: &self.jwt,
                now_ms: self.now_ms,
            };
            let call = Call {
                req,
                target: Target::parse(&req.url),
                api: "orders",
                resource: None,
                now_s: (self.now_ms / 1000) as i64,
                now_ms: self.now_ms,
                records: &source,
                identity: None,
            };
            i.check(&call)
        }

        /// Checks, meeting every need as the adapter would, until decided.
        fn run(&mut self, i: &Interceptor, req: &TestRequest) -> Check {
            for _ in 0..8 {
                let Check::Need(needs) = self.once(i, req) else {
                    return self.once(i, req);
                };
                for need in needs {
                    match need {
                        Need::Kv(k) => {
                            self.asked.push(format!("kv {k}"));
                            self.records.entry(k).or_insert(Slot::Absent);
                        }
                        Need::Jwks(url) => {
                            self.asked.push(format!("jwks {url}"));
                            let body = self.jwks.get(&url).cloned().unwrap_or(Err("down".into()));
                            self.jwt.jwks.record(
                                &url,
                                body.as_deref().map_err(Clone::clone),
                                self.now_ms,
                            );
                        }
                        Need::Verify(job) => {
                            self.asked.push(format!("verify {}", job.alg.name()));
                            self.jwt.verified.borrow_mut().record(
                                &job,
                                self.verdict.clone(),
                                self.now_ms,
                            );
                        }
                        other => panic!("a JWT check needs no {other:?}"),
                    }
                }
            }
            panic!("too many rounds: {:?}", self.asked);
        }
    }

    fn bearer(t: &str) -> TestRequest {
        TestRequest::new("GET", "https://gw/orders")
            .with_header("Authorization", &format!("Bearer {t}"))
    }

    fn denied(c: &Check, cause: Cause) -> String {
        assert_denied(c, BODY, cause, LINE);
        match c {
            Check::Deny(d) => {
                if cause != Cause::Missing {
                    assert!(d
                        .entry
                        .fingerprint
                        .as_deref()
                        .unwrap()
                        .starts_with("sha256:"));
                }
                d.entry.detail.clone().unwrap_or_default()
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_valid_hs256_token_passes_after_its_issuer_keys_are_read() {
        let i = policy(json!({}));
        let mut w = World::standard();
        w.records.remove("jwt-issuer:https://idp");
        w = w.put("jwt-issuer:https://idp", issuer_keys());
        let p = expect_pass(w.run(&i, &bearer(&token(json!({})))));
        assert_eq!(p.entry.interceptor, "jwt");
        assert_eq!(p.entry.element.as_deref(), Some("HEADER Authorization"));
        assert!(p.identity.is_none());
        assert!(p.headers.is_empty());
        // The jti record was looked up (absent: not revoked), and nothing else.
        assert_eq!(w.asked, ["kv jti:https://idp:j-1"]);
        // The scheme is case-insensitive.
        let r = TestRequest::new("GET", "https://gw/orders")
            .with_header("Authorization", &format!("bearer {}", token(json!({}))));
        expect_pass(w.run(&i, &r));
        let w = World::new();
        let c = w.once(&i, &bearer(&token(json!({}))));
        assert_eq!(
            crate::interceptors::testing::expect_need(&c),
            ["jwt-issuer:https://idp"]
        );
    }

    #[test]
    fn the_rfc_7515_a1_hs256_example_verifies() {
        const TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        const KEY: &str = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
        let i = compile(json!({"type": "jwt", "check_jti": false,
            "issuers": [{"issuer": "joe", "algorithms": ["HS256"]}]}));
        let mut w = World::new().put(
            "jwt-issuer:joe",
            json!({"keys": [{"kty": "oct", "alg": "HS256", "k": KEY}]}),
        );
        w.now_ms = 1_300_819_000_000;
        expect_pass(w.run(&i, &bearer(TOKEN)));
        w.now_ms = 1_300_819_441_000; // exp + 61 s: past the 60 s leeway
        assert!(
            denied(&w.run(&i, &bearer(TOKEN)), Cause::Expired).contains("expired at 1300819380")
        );
        w.now_ms = 1_300_819_000_000;
        let tampered = TOKEN.replace(".dBj", ".dBk");
        denied(&w.run(&i, &bearer(&tampered)), Cause::BadSignature);
    }

    #[test]
    fn where_the_token_is_read() {
        let i = policy(json!({}));
        let mut w = World::standard();
        let t = token(json!({}));
        let r = TestRequest::new("GET", "https://gw/orders");
        assert_eq!(
            denied(&w.run(&i, &r), Cause::Missing),
            "no credential in HEADER Authorization"
        );
        for bad in [
            format!("Basic {t}"),
            format!("Bearer  {t}"),
            "Bearer".into(),
            t.clone(),
            format!("Bearer {t} "),
        ] {
            let r = TestRequest::new("GET", "https://gw/orders").with_header("Authorization", &bad);
            denied(&w.run(&i, &r), Cause::Malformed);
        }
        // Query and cookie: the token alone, named as configured.
        let q = policy(json!({"location": "query", "name": "jwt"}));
        let r = TestRequest::new("GET", &format!("https://gw/orders?jwt={t}"));
        expect_pass(w.run(&q, &r));
        let r = TestRequest::new("GET", "https://gw/orders?jwt=x.y.z");
        assert_denied(
            &w.run(&q, &r),
            "JWT in the request, identified by QUERY_PARAM jwt, is invalid. Check docs.sensedia.com",
            Cause::Malformed,
            "JWT in QUERY_PARAM jwt HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call",
        );
        let k = policy(json!({"location": "cookie", "name": "session", "hide_credential": true}));
        let r = TestRequest::new("GET", "https://gw/orders")
            .with_header("cookie", &format!("a=1; session={t}"));
        let p = expect_pass(w.run(&k, &r));
        assert_eq!(p.hide[0].place, Place::Cookie);
        // A custom header carries the bare token unless a scheme is set.
        let h = policy(json!({"name": "x-jwt"}));
        let r = TestRequest::new("GET", "https://gw/orders").with_header("x-jwt", &t);
        expect_pass(w.run(&h, &r));
        let h = policy(json!({"name": "x-jwt", "scheme": "JWT"}));
        let r =
            TestRequest::new("GET", "https://gw/orders").with_header("x-jwt", &format!("jwt {t}"));
        expect_pass(w.run(&h, &r));
        let long = format!("Bearer {}", "a".repeat(MAX_JWT_BYTES + 1));
        let r = TestRequest::new("GET", "https://gw/orders").with_header("Authorization", &long);
        denied(&w.run(&i, &r), Cause::TooLong);
    }

    #[test]
    fn every_cause() {
        let i = policy(
            json!({"audiences": ["orders-api", "other"], "required_claims": ["scope"],
                              "max_lifetime_seconds": 3600}),
        );
        let mut w = World::standard();
        let hdr = |alg: &str, kid: &str| json!({"alg": alg, "kid": kid});
        let cases: Vec<(String, Cause, &str)> = vec![
            (
                hs(Alg::HS256, OTHER_SECRET, hdr("HS256", "h1"), claims()),
                Cause::BadSignature,
                "does not verify with key \"h1\"",
            ),
            (
                format!(
                    "{}.{}.",
                    b64(r#"{"alg":"none"}"#),
                    b64(claims().to_string())
                ),
                Cause::AlgNotAllowed,
                "never accepted",
            ),
            (
                format!(
                    "{}.{}.",
                    b64(r#"{"alg":"nOnE"}"#),
                    b64(claims().to_string())
                ),
                Cause::AlgNotAllowed,
                "never accepted",
            ),
            (
                hs(Alg::HS384, &[1; 48], hdr("HS384", "h1"), claims()),
                Cause::AlgNotAllowed,
                "HS384 is not allowed for issuer",
            ),
            (
                hs(Alg::HS256, SECRET, hdr("HS257", "h1"), claims()),
                Cause::AlgNotAllowed,
                "\"HS257\" is not supported",
            ),
            // Algorithm confusion: an HMAC token naming the ES256 key, and the other way round.
            (
                hs(Alg::HS256, SECRET, hdr("HS256", "e1"), claims()),
                Cause::AlgNotAllowed,
                "pinned to ES256",
            ),
            (
                hs(Alg::HS256, SECRET, hdr("ES256", "h1"), claims()),
                Cause::AlgNotAllowed,
                "pinned to HS256",
            ),
            (
                hs(Alg::HS256, SECRET, hdr("HS256", "nope"), claims()),
                Cause::UnknownKey,
                "no key has kid \"nope\"",
            ),
            // No kid: the only HS256 key is used.
            (
                hs(Alg::HS256, OTHER_SECRET, json!({"alg": "HS256"}), claims()),
                Cause::BadSignature,
                "key \"h1\"",
            ),
            (
                token(json!({"iss": "https://evil"})),
                Cause::WrongIssuer,
                "\"https://evil\" is not accepted",
            ),
            (
                token(json!({"iss": null})),
                Cause::MissingClaim,
                "no iss claim",
            ),
            (
                token(json!({"aud": ["x", "y"]})),
                Cause::WrongAudience,
                "names none",
            ),
            (
                token(json!({"aud": null})),
                Cause::MissingClaim,
                "no aud claim",
            ),
            (
                token(json!({"scope": null})),
                Cause::MissingClaim,
                "no scope claim",
            ),
            (
                token(json!({"exp": null})),
                Cause::MissingClaim,
                "no exp claim",
            ),
            (
                token(json!({"exp": NOW - 61})),
                Cause::Expired,
                "leeway 60 s",
            ),
            (
                token(json!({"nbf": NOW + 61})),
                Cause::NotYetValid,
                "not valid before",
            ),
            (
                token(json!({"iat": NOW + 61})),
                Cause::NotYetValid,
                "issued in the future",
            ),
            (
                token(json!({"iat": NOW - 10, "exp": NOW + 3591})),
                Cause::TooLongLived,
                "lives 3601 s",
            ),
            (
                token(json!({"iat": null, "exp": NOW + 60})),
                Cause::MissingClaim,
                "no iat (or nbf)",
            ),
            (
                token(json!({"jti": "revoked"})),
                Cause::Revoked,
                "jti \"revoked\" is revoked",
            ),
            (
                token(json!({"iss": 7})),
                Cause::Malformed,
                "not a JWT claims set",
            ),
            (
                token(json!({"exp": "tomorrow"})),
                Cause::Malformed,
                "not a JWT claims set",
            ),
            ("a.b".into(), Cause::Malformed, "not a compact JWS"),
            ("a.b.c.d".into(), Cause::Malformed, "not a compact JWS"),
            ("e30.e30.a+b".into(), Cause::Malformed, "not base64url"),
            (format!("{}.e30.AA", b64("not json")), Cause::Malformed, ""),
            (
                hs(
                    Alg::HS256,
                    SECRET,
                    json!({"alg": "HS256", "kid": "h1", "crit": ["exp"]}),
                    claims(),
                ),
                Cause::Malformed,
                "\"crit\"",
            ),
            (
                hs(
                    Alg::HS256,
                    SECRET,
                    json!({"alg": "HS256", "kid": "h1", "b64": false}),
                    claims(),
                ),
                Cause::Malformed,
                "\"b64\"",
            ),
        ];
        for (t, cause, want) in cases {
            let detail = denied(&w.run(&i, &bearer(&t)), cause);
            assert!(
                detail.contains(want),
                "{cause:?}: {detail:?} lacks {want:?}"
            );
            assert!(!detail.contains(&t), "the token is never in the trace");
        }
        // Within the leeway, and a jti that is not revoked, pass; HS512 with its own key too.
        for t in [
            token(json!({"exp": NOW - 59, "iat": NOW - 100})),
            token(json!({"nbf": NOW + 59})),
            token(json!({"jti": "kept", "aud": ["x", "other"]})),
            hs(Alg::HS512, &[7; 64], hdr("HS512", "h5"), claims()),
            // No kid: exactly one HS512 key fits.
            hs(Alg::HS512, &[7; 64], json!({"alg": "HS512"}), claims()),
        ] {
            expect_pass(w.run(&i, &bearer(&t)));
        }
        // With a whitespace, the trace says why.
        let r = TestRequest::new("GET", "https://gw/orders")
            .with_header("Authorization", &format!("Bearer {} ", token(json!({}))));
        assert!(denied(&w.run(&i, &r), Cause::Malformed).contains("whitespace"));
    }

    #[test]
    fn optional_checks_can_be_turned_off() {
        let i = policy(json!({"require_exp": false, "check_jti": false, "leeway_seconds": 0}));
        let mut w = World::standard();
        expect_pass(w.run(&i, &bearer(&token(json!({"exp": null, "jti": "revoked"})))));
        denied(
            &w.run(&i, &bearer(&token(json!({"exp": NOW - 1})))),
            Cause::Expired,
        );
    }

    #[test]
    fn the_identity_claim_names_the_app_and_claims_become_headers() {
        let i = policy(json!({"identity_claims": ["azp", "client_id"],
                              "forward_claims": {"sub": "X-JWT-Sub", "scope": "x-jwt-scope", "roles": "x-jwt-roles", "exp": "x-jwt-exp"}}));
        let mut w = World::standard();
        let mut pending = approved_app();
        pending["status"] = json!("PENDING");
        let mut other_api = approved_app();
        other_api["access"] = json!([{"api": "billing"}]);
        w = w.put("app:pending", pending).put("app:other", other_api);
        let p = expect_pass(w.run(&i, &bearer(&token(json!({"roles": ["a", "b"]})))));
        let id = p.identity.unwrap();
        assert_eq!(id.client_id, "good");
        assert_eq!(p.entry.client_id.as_deref(), Some("good"));
        let h: HashMap<&str, Option<&str>> = p
            .headers
            .iter()
            .map(|(k, v)| (&**k, v.as_deref()))
            .collect();
        assert_eq!(h["x-jwt-sub"], Some("alice"));
        assert_eq!(h["x-jwt-scope"], Some("read"));
        assert_eq!(h["x-jwt-roles"], Some(r#"["a","b"]"#));
        assert_eq!(h["x-jwt-exp"], Some(&*(NOW + 600).to_string()));
        // An absent claim still claims its header (the client's copy is removed).
        let p = expect_pass(w.run(&i, &bearer(&token(json!({})))));
        assert!(p.headers.contains(&("x-jwt-roles".into(), None)));
        // azp wins over client_id when both are there.
        let c = w.run(&i, &bearer(&token(json!({"azp": "pending"}))));
        assert_eq!(
            denied(&c, Cause::AppNotApproved),
            "APP STATUS IS PENDING, NOT APPROVED"
        );
        assert!(denied(
            &w.run(&i, &bearer(&token(json!({"client_id": "ghost"})))),
            Cause::AppNotFound
        )
        .contains("client_id"));
        assert_denied(
            &w.run(&i, &bearer(&token(json!({"client_id": "other"})))),
            BODY,
            Cause::NoAccess,
            "JWT in HEADER Authorization DOES NOT HAVE ACCESS TO THIS RESOURCE; rejecting call",
        );
        denied(
            &w.run(&i, &bearer(&token(json!({"client_id": null})))),
            Cause::MissingClaim,
        );
    }

    #[test]
    fn asymmetric_signatures_are_verification_jobs_and_their_verdicts_are_cached() {
        // RFC 7515 appendix A.3 (ES256), issuer "joe", exp 1300819380.
        const ES: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
        let i = compile(json!({"type": "jwt", "identity_claims": ["iss"],
            "issuers": [{"issuer": "joe", "algorithms": ["ES256"]}]}));
        let mut keys = issuer_keys();
        keys["keys"]
            .as_array_mut()
            .unwrap()
            .retain(|k| k["kid"] == "e1");
        let mut w = World::new().put("jwt-issuer:joe", keys);
        w.now_ms = 1_300_819_000_000;
        let Check::Need(needs) = w.once(&i, &bearer(ES)) else {
            panic!()
        };
        w = w.put("app:joe", approved_app());
        assert!(
            matches!(&needs[..], [Need::Verify(_), Need::Kv(k)] if k == "app:joe"),
            "{needs:?}"
        );
        let Need::Verify(job) = &needs[0] else {
            unreachable!()
        };
        assert_eq!(job.alg, Alg::ES256);
        assert_eq!(job.key.kid.as_deref(), Some("e1"));
        assert_eq!(job.signing_input, ES.rsplit_once('.').unwrap().0);
        assert_eq!(job.signature.len(), 64);
        assert_eq!(job.keep_until_ms, (1_300_819_380 + 60) * 1000);

        let p = expect_pass(w.run(&i, &bearer(ES)));
        assert_eq!(p.identity.unwrap().client_id, "joe");
        assert_eq!(
            w.asked,
            ["verify ES256"],
            "the app was fetched with the verification"
        );
        // Seen again: decided at once from the verdict, nothing parsed or verified.
        expect_pass(w.once(&i, &bearer(ES)));
        // The same token under a changed key (same kid, other material) is verified again.
        let mut keys = issuer_keys();
        keys["keys"]
            .as_array_mut()
            .unwrap()
            .retain(|k| k["kid"] == "e1");
        let x = keys["keys"][0]["x"].clone();
        keys["keys"][0]["x"] = keys["keys"][0]["y"].clone();
        keys["keys"][0]["y"] = x;
        w = w.put("jwt-issuer:joe", keys);
        assert!(
            matches!(w.once(&i, &bearer(ES)), Check::Need(n) if matches!(n[0], Need::Verify(_)))
        );

        let mut w = World::new()
            .put("jwt-issuer:joe", issuer_keys())
            .put("app:joe", approved_app());
        w.now_ms = 1_300_819_000_000;
        w.verdict = Verdict::Invalid;
        denied(&w.run(&i, &bearer(ES)), Cause::BadSignature);
        let mut w = World::new().put("jwt-issuer:joe", issuer_keys());
        w.now_ms = 1_300_819_000_000;
        w.verdict = Verdict::Failed("DataError: bad key".into());
        expect_fault(&w.run(&i, &bearer(ES)), 500, Cause::BadKey);
    }

    #[test]
    fn the_signature_is_verified_before_the_payload_is_judged() {
        // RFC 8037 appendix A.4: an Ed25519 JWS whose payload is a sentence, not claims.
        const ED: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
        let i = compile(
            json!({"type": "jwt", "issuers": [{"issuer": "rfc8037", "algorithms": ["EdDSA"]}]}),
        );
        let mut w = World::new().put(
            "jwt-issuer:rfc8037",
            json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}),
        );
        let d = denied(&w.run(&i, &bearer(ED)), Cause::Malformed);
        assert!(
            d.starts_with("the signature is valid, but the payload is not a JWT claims set"),
            "{d}"
        );
        assert_eq!(w.asked, ["verify EdDSA"]);
        // With several issuers, iss must be read first, so such a token is malformed at once.
        let i = compile(json!({"type": "jwt", "issuers": [
            {"issuer": "rfc8037", "algorithms": ["EdDSA"]}, {"issuer": "b", "algorithms": ["EdDSA"]}]}));
        denied(&w.once(&i, &bearer(ED)), Cause::Malformed);
    }

    #[test]
    fn jwks_keys_are_fetched_refetched_for_an_unknown_kid_and_served_stale() {
        const URL: &str = "https://idp/jwks";
        let es_key = |kid: &str| {
            json!({"kty": "EC", "kid": kid, "crv": "P-256",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})
        };
        let es = |kid: &str| {
            // Signature bytes do not matter here: the verdict is the world's.
            format!(
                "{}.{}.{}",
                b64(json!({"alg": "ES256", "kid": kid}).to_string()),
                b64(claims().to_string()),
                b64([0u8; 64])
            )
        };
        let i = compile(
            json!({"type": "jwt", "check_jti": false, "issuers": [{"issuer": "https://idp",
            "algorithms": ["ES256"], "jwks_url": URL, "jwks_ttl_seconds": 300, "jwks_min_refetch_seconds": 60}]}),
        );
        let mut w = World::new();
        w.jwks
            .insert(URL.into(), Ok(json!({"keys": [es_key("k1")]}).to_string()));
        expect_pass(w.run(&i, &bearer(&es("k1"))));
        assert_eq!(
            w.asked,
            ["jwks https://idp/jwks", "verify ES256"],
            "no KV read without kv_keys"
        );
        // Rotation: k2 appears at the IdP. Just fetched, so k2 is unknown for now...
        w.jwks.insert(
            URL.into(),
            Ok(json!({"keys": [es_key("k1"), es_key("k2")]}).to_string()),
        );
        assert!(denied(&w.run(&i, &bearer(&es("k2"))), Cause::UnknownKey)
            .contains("no key has kid \"k2\""));
        // ...and after the refetch interval an unknown kid fetches the set again, once.
        w.now_ms += 60_000;
        w.asked.clear();
        expect_pass(w.run(&i, &bearer(&es("k2"))));
        assert_eq!(w.asked, ["jwks https://idp/jwks", "verify ES256"]);
        w.asked.clear();
        w.now_ms += 60_000;
        denied(&w.run(&i, &bearer(&es("k3"))), Cause::UnknownKey);
        denied(&w.run(&i, &bearer(&es("k4"))), Cause::UnknownKey);
        assert_eq!(
            w.asked,
            ["jwks https://idp/jwks"],
            "at most one fetch per interval"
        );
        // The IdP goes down: past the TTL the keys are served stale.
        w.jwks.insert(URL.into(), Err("connection refused".into()));
        w.now_ms += 300_000;
        expect_pass(w.run(&i, &bearer(&es("k1"))));
        // A first fetch that fails is a 503 (no key known), not a 401.
        let mut w = World::new();
        expect_fault(&w.run(&i, &bearer(&es("k1"))), 503, Cause::KeysUnavailable);
    }

    /// Issue 12: a signed token with `nbf` near chrono's minimum made jwt-compact's
    /// `validate_maturity` overflow (`nbf - leeway`) and panic, trapping the isolate. Every
    /// time claim an i64 (or a float) can hold is now decided, at the smallest and the largest
    /// leeway a policy can set.
    #[test]
    fn extreme_time_claims_are_decided_never_a_panic() {
        const MIN: i64 = -8_334_601_228_800; // chrono's smallest timestamp (year -262143)
        const MAX: i64 = 8_210_266_876_799; // and its largest
        for leeway in [0, DEFAULT_LEEWAY_S, MAX_LEEWAY_S] {
            let i = policy(json!({"check_jti": false, "leeway_seconds": leeway}));
            let l = leeway as i64;
            let mut w = World::standard();
            // Long before now (less the leeway): mature, whatever the leeway.
            for nbf in [MIN, MIN + 1, MIN + 59, MIN + 60, MIN + 3_600, -1, 0] {
                expect_pass(w.run(&i, &bearer(&token(json!({"nbf": nbf})))));
            }
            for nbf in [MAX, MAX - 60, NOW + l + 7_200] {
                let d = denied(
                    &w.run(&i, &bearer(&token(json!({"nbf": nbf})))),
                    Cause::NotYetValid,
                );
                assert!(d.contains(&format!("not valid before {nbf}")), "{d}");
            }
            for exp in [MIN, MIN + 60, -1, 0, NOW - l - 7_200] {
                denied(
                    &w.run(&i, &bearer(&token(json!({"exp": exp})))),
                    Cause::Expired,
                );
            }
            expect_pass(w.run(&i, &bearer(&token(json!({"exp": MAX})))));
            for iat in [MAX, NOW + l + 7_200] {
                denied(
                    &w.run(&i, &bearer(&token(json!({"iat": iat})))),
                    Cause::NotYetValid,
                );
            }
            // Beyond chrono's range, or not a whole number: a malformed payload, decided.
            for v in [
                json!(i64::MIN),
                json!(i64::MAX),
                json!(1e300),
                json!(-1e300),
                json!(MAX + 1),
            ] {
                for claim in ["nbf", "exp", "iat"] {
                    let t = token(json!({ claim: v.clone() }));
                    denied(&w.run(&i, &bearer(&t)), Cause::Malformed);
                }
            }
        }
        // The maximum lifetime with both ends at the extremes.
        let i = policy(json!({"check_jti": false, "max_lifetime_seconds": MAX_LIFETIME_LIMIT_S}));
        let mut w = World::standard();
        let d = denied(
            &w.run(&i, &bearer(&token(json!({"iat": MIN, "exp": MAX})))),
            Cause::TooLongLived,
        );
        assert!(d.contains(&format!("lives {} s", MAX - MIN)), "{d}");
    }

    #[test]
    fn every_number_in_the_policy_is_bounded() {
        for (setting, value, want) in [
            (
                "leeway_seconds",
                json!(10_000_000_000_000u64),
                "t.leeway_seconds: 10000000000000 is out of range; must be between 0 and 1000000000",
            ),
            (
                "leeway_seconds",
                json!(100_000_000_000_000_000u64),
                "t.leeway_seconds: 100000000000000000 is out of range; must be between 0 and 1000000000",
            ),
            (
                "max_lifetime_seconds",
                json!(0),
                "t.max_lifetime_seconds: 0 is out of range; must be between 1 and 315360000",
            ),
            (
                "max_lifetime_seconds",
                json!(u64::MAX),
                "t.max_lifetime_seconds: 18446744073709551615 is out of range",
            ),
        ] {
            let all = compile_errors(json!({"type": "jwt", setting: value,
                "issuers": [{"issuer": "a", "algorithms": ["HS256"]}]}))
            .join("\n");
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
        for setting in [
            "jwks_ttl_seconds",
            "jwks_min_refetch_seconds",
            "jwks_max_stale_seconds",
        ] {
            let all = compile_errors(json!({"type": "jwt", "issuers": [
                {"issuer": "a", "algorithms": ["ES256"], "jwks_url": "https://a/jwks", setting: 604_801}]}))
            .join("\n");
            assert!(
                all.contains(&format!(
                    "t.issuers[0] \"a\".{setting}: 604801 is out of range; must be between"
                )),
                "{all}"
            );
        }
        // The largest values compile.
        compile(json!({"type": "jwt", "leeway_seconds": MAX_LEEWAY_S,
            "max_lifetime_seconds": MAX_LIFETIME_LIMIT_S,
            "issuers": [{"issuer": "a", "algorithms": ["ES256"], "jwks_url": "https://a/jwks",
              "jwks_ttl_seconds": MAX_JWKS_SECONDS, "jwks_min_refetch_seconds": MAX_JWKS_SECONDS,
              "jwks_max_stale_seconds": MAX_JWKS_SECONDS}]}));
    }

    /// Issue 12: an ES256 or EdDSA signature of the wrong length is a bad signature (401),
    /// never handed to WebCrypto (which rejects a wrong-length Ed25519 signature with an
    /// error the adapter took for an unusable key: 500).
    #[test]
    fn asymmetric_signatures_of_the_wrong_length_are_bad_signatures() {
        const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"; // RFC 8037 A.2
        let i = policy(json!({"check_jti": false,
            "issuers": [{"issuer": "https://idp", "algorithms": ["ES256", "EdDSA"]}]}));
        let mut w = World::new().put(
            "jwt-issuer:https://idp",
            json!({"keys": [
                issuer_keys()["keys"][2].clone(),
                {"kty": "OKP", "crv": "Ed25519", "kid": "d1", "alg": "EdDSA", "x": ED_X}
            ]}),
        );
        for (alg, kid) in [("ES256", "e1"), ("EdDSA", "d1")] {
            let input = format!(
                "{}.{}",
                b64(json!({"alg": alg, "kid": kid}).to_string()),
                b64(claims().to_string())
            );
            for len in [0usize, 1, 3, 32, 63, 65, 96, 256] {
                let t = format!("{input}.{}", b64(vec![1u8; len]));
                let d = denied(&w.run(&i, &bearer(&t)), Cause::BadSignature);
                assert!(
                    d.contains(&format!("is {len} bytes; a valid one is 64")),
                    "{d}"
                );
            }
            assert!(
                !w.asked.iter().any(|a| a.starts_with("verify")),
                "{:?}",
                w.asked
            );
            // 64 bytes go to WebCrypto, whose verdict decides.
            w.verdict = Verdict::Invalid;
            let t = format!("{input}.{}", b64([1u8; 64]));
            denied(&w.run(&i, &bearer(&t)), Cause::BadSignature);
            assert_eq!(
                w.asked.last().map(String::as_str),
                Some(&*format!("verify {alg}"))
            );
            w.verdict = Verdict::Valid;
            w.asked.clear();
        }
    }

    #[test]
    fn the_fingerprint_is_the_common_one() {
        let t = token(json!({}));
        let hash: [u8; 32] = Sha256::digest(t.as_bytes()).into();
        assert_eq!(fingerprint_of(&hash), crate::records::fingerprint(&t));
    }

    #[test]
    fn policy_problems_are_reported() {
        let all = compile_errors(json!({"type": "jwt", "issuers": [
            {"issuer": "a", "algorithms": ["HS265", "none"]},
            {"issuer": "b", "algorithms": ["RS256"], "kv_keys": false},
            {"issuer": "c", "algorithms": ["HS256"], "jwks_url": "https://c/jwks"},
            {"issuer": "d", "algorithms": ["ES256"], "jwks_url": "ftp://d", "jwks_min_refetch_seconds": 0},
            {"issuer": "e", "algorithms": ["ES256"], "jwks_ttl_seconds": 5, "kid": "x"},
            {"issuer": "a", "algorithms": ["EdDSA"]},
            {"algorithms": []}
        ], "forward_claims": {"sub": "bad header", "iss": "Host"}, "leeway_seconds": -1, "scheme": "Bear er", "audience": "x"})).join("\n");
        for want in [
            "t.issuers[0] \"a\".algorithms[0]: unknown algorithm \"HS265\"; expected one of [\"HS256\", \"HS384\", \"HS512\", \"RS256\", \"RS384\", \"RS512\", \"PS256\", \"PS384\", \"PS512\", \"ES256\", \"EdDSA\"]",
            "t.issuers[0] \"a\".algorithms[1]: \"none\" (unsigned tokens) is never accepted",
            "t.issuers[1] \"b\": no key source",
            "t.issuers[2] \"c\".algorithms: HMAC secrets come from KV only",
            "t.issuers[3] \"d\".jwks_url: \"ftp://d\" must be an http:// or https:// URL",
            "t.issuers[3] \"d\".jwks_min_refetch_seconds: 0 is out of range; must be between 1 and 604800",
            "t.issuers[4] \"e\".jwks_ttl_seconds: only with jwks_url",
            "t.issuers[4] \"e\": unknown field \"kid\"",
            "t.issuers[5] \"a\": issuer is listed twice",
            "t.issuers[6]: missing field \"issuer\"",
            "t.forward_claims.sub: expected a header name",
            "t.forward_claims.iss: \"Host\" is not a header a claim may be forwarded in",
            "t.leeway_seconds: expected a whole number",
            "t.scheme: \"Bear er\" is not an authorization scheme",
            "t: unknown field \"audience\"",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
        assert!(compile_errors(json!({"type": "jwt"}))
            .join("\n")
            .contains("missing field \"issuers\""));
        assert!(compile_errors(json!({"type": "jwt", "issuers": []}))
            .join("\n")
            .contains("at least one issuer"));
    }
}
