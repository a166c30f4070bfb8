//! Digital Signature: the request is signed with a key registered for the app that an earlier
//! interceptor identified.
//!
//! Two modes:
//! - `body` (Sensedia-compatible): the signature, standard base64, in a header or query param,
//!   is over the raw request body bytes exactly as received (an empty body signs the empty
//!   string), with RSASSA-PKCS1-v1_5 and SHA-1/224/256/384/512 (`SHA256withRSA`, ...) under one
//!   of the app's RSA keys, or HMAC-SHA256 (`HmacSHA256`) under one of the app's signing
//!   secrets. RSA goes to the runtime's WebCrypto except SHA-224, which WebCrypto lacks (Rust).
//! - `http_message_signatures` (RFC 9421): `Signature-Input` / `Signature`, covered components
//!   checked against the policy, `Content-Digest` (RFC 9530) checked against the body when
//!   covered, a `created`/`expires` window, `keyid` naming one of the app's keys, and a nonce
//!   accepted once within the window (the nonce store, a Durable Object).
//!
//! The body is read only when the signature covers it, and the same bytes are forwarded.

use super::{fault, Call, Check, Common, Pass};
use crate::base::config::Obj;
use crate::base::locate::Place;
use crate::base::message::Label;
use crate::crypto::bodysig::{self, BodyAlg, RsaKey};
use crate::crypto::digest;
use crate::crypto::httpsig::{self, Algorithm as HttpSigAlg};
use crate::crypto::jobs::{NonceClaim, Settled, SigJob, BODY_ID};
use crate::crypto::keys::{Alg, Key, Kind, Material};
use crate::interceptors::Need;
use crate::records::{self, App};
use crate::trace::{Cause, Entry, Outcome};
use std::sync::Arc;

pub const MODES: &[&str] = &["body", "http_message_signatures"];
/// Largest body read to check a signature (bytes), unless the policy says otherwise.
pub const DEFAULT_MAX_BODY: u64 = 1 << 20;
/// Largest `max_body_bytes` (16 MiB): the body is held in memory twice (JavaScript and wasm)
/// while it is checked, in an isolate limited to 128 MB.
pub const MAX_BODY_LIMIT: u64 = 16 << 20;
/// Largest `max_age_seconds` (about 31 years: enough to verify the RFC's 2021 examples in
/// tests, small enough that no window arithmetic can overflow).
pub const MAX_AGE_LIMIT_S: u64 = 1_000_000_000;
/// Largest `clock_skew_seconds`.
pub const MAX_SKEW_S: u64 = 3_600;

#[derive(Debug)]
pub struct DigitalSignature {
    pub common: Common,
    mode: Mode,
    max_body: u64,
}

#[derive(Debug)]
enum Mode {
    Body(BodyAlg),
    Http(HttpRules),
}

/// What an RFC 9421 signature must satisfy.
#[derive(Debug)]
struct HttpRules {
    algorithms: Vec<HttpSigAlg>,
    /// Components every accepted signature covers (lowercase, as written in the policy).
    required: Vec<String>,
    /// A request with a body must cover `content-digest`.
    digest_required_with_body: bool,
    label: Option<String>,
    max_age_s: i64,
    skew_s: i64,
    require_nonce: bool,
    shards: u32,
}

impl DigitalSignature {
    pub fn compile(o: &mut Obj<'_>, docs: &str, errs: &mut Vec<String>) -> DigitalSignature {
        let mode = o.opt_choice("mode", MODES, errs).unwrap_or("body");
        let max_body = o
            .opt_u64_in("max_body_bytes", 0, MAX_BODY_LIMIT, errs)
            .unwrap_or(DEFAULT_MAX_BODY);
        if mode == "body" {
            let common = Common::compile(
                o,
                "digital_signature",
                Label::DigitalSignature,
                "signature",
                &["header", "query"],
                docs,
                errs,
            );
            let alg = match o.req_str("algorithm", errs) {
                Some(name) => match BodyAlg::configure(name) {
                    Ok(a) => a,
                    Err(why) => {
                        errs.push(format!("{}.algorithm: {why}", o.path));
                        BodyAlg::HmacSha256
                    }
                },
                None => BodyAlg::HmacSha256,
            };
            for k in [
                "algorithms",
                "required_components",
                "max_age_seconds",
                "clock_skew_seconds",
                "require_nonce",
                "nonce_shards",
                "label",
                "require_content_digest",
            ] {
                if o.map.contains_key(k) {
                    errs.push(format!(
                        "{}.{k}: only for mode \"http_message_signatures\"",
                        o.path
                    ));
                }
            }
            return DigitalSignature {
                common,
                mode: Mode::Body(alg),
                max_body,
            };
        }
        // RFC 9421: the element is the Signature header.
        let common = Common::fixed(
            o,
            "digital_signature",
            Label::DigitalSignature,
            "Signature",
            docs,
            errs,
        );
        let algorithms = match o.opt_array("algorithms", errs) {
            None => HttpSigAlg::ALL.to_vec(),
            Some(list) => {
                let mut out = Vec::new();
                for (i, v) in list.iter().enumerate() {
                    match v.as_str().and_then(|n| HttpSigAlg::parse(n).ok()) {
                        Some(a) => out.push(a),
                        None => errs.push(format!(
                            "{}.algorithms[{i}]: unknown algorithm {v}; expected one of {:?}",
                            o.path,
                            HttpSigAlg::NAMES
                        )),
                    }
                }
                if list.is_empty() {
                    errs.push(format!("{}.algorithms: must not be empty", o.path));
                }
                out
            }
        };
        let required = match o.opt_array("required_components", errs) {
            None => vec!["@method".to_string(), "@target-uri".to_string()],
            Some(list) => {
                let mut out = Vec::new();
                for (i, v) in list.iter().enumerate() {
                    match v.as_str() {
                        Some(s) if is_request_component(s) => out.push(s.to_ascii_lowercase()),
                        _ => errs.push(format!(
                            "{}.required_components[{i}]: {v} is not a request component \
                             (a derived component such as \"@method\", \"@target-uri\", \
                             \"@authority\", \"@path\", \"@query\", or a header name)",
                            o.path
                        )),
                    }
                }
                out
            }
        };
        let digest_required_with_body = o.opt_bool("require_content_digest", errs).unwrap_or(true);
        let label = o.opt_str("label", errs).map(str::to_string);
        let max_age_s = o.opt_u64("max_age_seconds", errs).unwrap_or(300);
        if !(1..=MAX_AGE_LIMIT_S).contains(&max_age_s) {
            errs.push(format!(
                "{}.max_age_seconds: must be 1 to {MAX_AGE_LIMIT_S}",
                o.path
            ));
        }
        let skew_s = o.opt_u64("clock_skew_seconds", errs).unwrap_or(30);
        if skew_s > MAX_SKEW_S {
            errs.push(format!(
                "{}.clock_skew_seconds: must be at most {MAX_SKEW_S}",
                o.path
            ));
        }
        let (max_age_s, skew_s) = (
            max_age_s.clamp(1, MAX_AGE_LIMIT_S) as i64,
            skew_s.min(MAX_SKEW_S) as i64,
        );
        let require_nonce = o.opt_bool("require_nonce", errs).unwrap_or(true);
        let shards = o.opt_u64("nonce_shards", errs).unwrap_or(16);
        if !(1..=1024).contains(&shards) {
            errs.push(format!("{}.nonce_shards: must be 1 to 1024", o.path));
        }
        if o.map.contains_key("algorithm") {
            errs.push(format!(
                "{}.algorithm: only for mode \"body\" (RFC 9421 signatures name their key; \
                 use \"algorithms\" to restrict them)",
                o.path
            ));
        }
        DigitalSignature {
            common,
            mode: Mode::Http(HttpRules {
                algorithms,
                required,
                digest_required_with_body,
                label,
                max_age_s,
                skew_s,
                require_nonce,
                shards: shards.clamp(1, 1024) as u32,
            }),
            max_body,
        }
    }

    pub fn check(&self, call: &Call<'_>) -> Check {
        let Some(identity) = call.identity else {
            // The policy compiler refuses this order; a fault, never a pass.
            return fault(
                self.common.kind,
                500,
                Cause::BadPolicy,
                "Digital Signature needs an app identified by an earlier interceptor".into(),
            );
        };
        match &self.mode {
            Mode::Body(alg) => self.check_body(call, identity.app(), &identity.client_id, *alg),
            Mode::Http(rules) => self.check_http(call, identity.app(), &identity.client_id, rules),
        }
    }

    /// The body, or what to do until it is known.
    fn body<'a>(&self, call: &'a Call<'_>) -> Result<&'a [u8], Check> {
        if let Some(b) = call.req.body() {
            if b.len() as u64 > self.max_body {
                return Err(self.too_large(Some(b.len() as u64)));
            }
            return Ok(b);
        }
        match call.records.settled(BODY_ID) {
            Some(Settled::Failed(e)) => {
                return Err(fault(
                    self.common.kind,
                    400,
                    Cause::Malformed,
                    e.to_string(),
                ))
            }
            Some(Settled::TimedOut(e)) => {
                return Err(fault(
                    self.common.kind,
                    408,
                    Cause::BodyTimeout,
                    e.to_string(),
                ))
            }
            Some(Settled::TooLarge) => return Err(self.too_large(None)),
            _ => {}
        }
        if let Some(n) = call
            .req
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok())
        {
            if n > self.max_body {
                return Err(self.too_large(Some(n)));
            }
        }
        Err(Check::Need(vec![Need::Body(self.max_body)]))
    }

    /// The 413 for a body of `n` bytes (or more than the limit, when reading stopped there).
    fn too_large(&self, n: Option<u64>) -> Check {
        fault(
            self.common.kind,
            413,
            Cause::BodyTooLarge,
            match n {
                Some(n) => format!(
                    "the body ({n} bytes) is larger than max_body_bytes ({}) and cannot be verified",
                    self.max_body
                ),
                None => format!(
                    "the body is larger than max_body_bytes ({}); reading stopped there",
                    self.max_body
                ),
            },
        )
    }

    fn check_body(&self, call: &Call<'_>, app: &App, client_id: &str, alg: BodyAlg) -> Check {
        let (value, place) = match self.common.extract(call) {
            Ok(v) => v,
            Err(c) => return *c,
        };
        let fp = Some(records::fingerprint(&value));
        let deny = |cause: Cause, detail: String| {
            self.common.deny(
                place,
                cause,
                Some(detail),
                fp.clone(),
                Some(client_id.to_string()),
            )
        };
        let Ok(signature) = bodysig::decode_signature(&value) else {
            let mut why = "the signature is not standard base64 (with padding)".to_string();
            if let Some(h) = super::value_hint(&value, place) {
                why = format!("{why}; {h}");
            }
            return deny(Cause::Malformed, why);
        };
        // The body, or the needs that read it (`Err`).
        let body = match self.body(call) {
            Ok(b) => Ok(b),
            Err(Check::Need(needs)) => Err(needs),
            Err(c) => return c,
        };
        // A signature WebCrypto verifies is asked together with the body: the runtime verifies
        // over the body as soon as it is read, so the request takes one round, not two.
        let body = match (body, alg.webcrypto()) {
            (Ok(b), _) => b,
            (Err(mut needs), Some(wc)) => {
                let keys = app_keys(app, |k| k.kind == Kind::Rsa && is_pkcs1(k.alg));
                needs.extend(keys.into_iter().map(|k| {
                    Need::Signature(Arc::new(SigJob::over_body(k, wc, signature.clone())))
                }));
                return Check::Need(needs);
            }
            (Err(needs), None) => return Check::Need(needs),
        };
        let valid = match alg {
            BodyAlg::HmacSha256 => {
                let secrets = &app.keys().hmac;
                if secrets.is_empty() {
                    return deny(
                        Cause::UnknownKey,
                        "the app has no HMAC signing secret (hmac_secrets)".into(),
                    );
                }
                secrets
                    .iter()
                    .any(|(_, s)| bodysig::verify_hmac_sha256(s, body, &signature))
            }
            rsa => {
                let keys = app_keys(app, |k| k.kind == Kind::Rsa && is_pkcs1(k.alg));
                if keys.is_empty() {
                    return deny(
                        Cause::UnknownKey,
                        "the app has no RSA key for RSASSA-PKCS1-v1_5 (signature_keys with alg RS256/RS384/RS512)".into(),
                    );
                }
                match rsa.webcrypto() {
                    // SHA-224: WebCrypto has none; verified here.
                    None => keys.iter().any(|k| match rsa_key(k) {
                        Some(key) => bodysig::verify_rsa_sha224(&key, body, &signature),
                        None => false,
                    }),
                    Some(wc) => {
                        let jobs: Vec<SigJob> = keys
                            .into_iter()
                            .map(|k| SigJob::over_body(k, wc, signature.clone()))
                            .collect();
                        match settle(call, jobs) {
                            Ok(v) => v,
                            Err(c) => return c,
                        }
                    }
                }
            }
        };
        if !valid {
            return deny(
                Cause::BadSignature,
                format!(
                    "the {} signature over the body ({} bytes) does not verify with any of the app's keys",
                    alg.name(),
                    body.len()
                ),
            );
        }
        self.pass(
            place,
            fp,
            client_id,
            format!("{} over the body", alg.name()),
        )
    }

    fn check_http(&self, call: &Call<'_>, app: &App, client_id: &str, rules: &HttpRules) -> Check {
        let place = Place::Header;
        let deny = |cause: Cause, detail: String, fp: Option<String>| {
            self.common
                .deny(place, cause, Some(detail), fp, Some(client_id.to_string()))
        };
        let (Some(input), Some(sig_header)) = (
            call.req.header("signature-input"),
            call.req.header("signature"),
        ) else {
            return deny(
                Cause::Missing,
                "Signature and Signature-Input are both required".into(),
                None,
            );
        };
        let fp = Some(records::fingerprint(&sig_header));
        let sigs = match httpsig::parse_signatures(&input, &sig_header) {
            Ok(s) => s,
            Err(e) => return deny(Cause::Malformed, e.to_string(), fp),
        };
        // The signature to verify: the configured label, or the first one.
        let chosen = match &rules.label {
            Some(l) => sigs.iter().find(|s| &s.label == l),
            None => sigs.first(),
        };
        let Some(sig) = chosen else {
            return deny(
                Cause::Missing,
                match &rules.label {
                    Some(l) => format!("no signature labelled {l:?}"),
                    None => "no signature".into(),
                },
                fp,
            );
        };
        let params = &sig.params;
        // A component counts as covered only whole: `;key` narrows a field to one member
        // (`"content-digest";key="md5"` would leave the sha-256 member unsigned).
        let covered: Vec<&str> = sig
            .components
            .iter()
            .filter(|c| !c.has("key"))
            .map(|c| c.name.as_str())
            .collect();
        // A body must be covered by content-digest (when the policy says so). Whether there is
        // one: GET/HEAD bodies are never forwarded; Content-Length says; without it (chunked,
        // HTTP/2) the body is read below to see.
        let digest_needed = rules.digest_required_with_body && !covered.contains(&"content-digest");
        let body_presence = if !digest_needed || matches!(call.req.method(), "GET" | "HEAD") {
            Some(false)
        } else {
            match call.req.header("content-length") {
                Some(v) => Some(v.parse::<u64>().map_or(true, |n| n > 0)),
                None if call.req.header("transfer-encoding").is_some() => Some(true),
                None => None,
            }
        };
        let mut missing: Vec<&str> = rules
            .required
            .iter()
            .filter(|r| !covered.contains(&r.as_str()))
            .map(String::as_str)
            .collect();
        if body_presence == Some(true) {
            missing.push("content-digest");
        }
        if !missing.is_empty() {
            return deny(
                Cause::MissingComponent,
                format!("signature {:?} does not cover {missing:?}", sig.label),
                fp,
            );
        }

        // Time window.
        let now = call.now_s;
        let Some(created) = params.created else {
            return deny(
                Cause::Malformed,
                "the signature has no created parameter".into(),
                fp,
            );
        };
        if created > now.saturating_add(rules.skew_s) {
            return deny(
                Cause::ClockSkew,
                format!(
                    "created is {}s in the future (allowed skew {}s)",
                    created.saturating_sub(now),
                    rules.skew_s
                ),
                fp,
            );
        }
        if now.saturating_sub(created) > rules.max_age_s.saturating_add(rules.skew_s) {
            return deny(
                Cause::Expired,
                format!(
                    "created {}s ago; max_age_seconds is {}",
                    now.saturating_sub(created),
                    rules.max_age_s
                ),
                fp,
            );
        }
        if let Some(exp) = params.expires {
            if exp.saturating_add(rules.skew_s) < now {
                return deny(
                    Cause::Expired,
                    format!("expired {}s ago", now.saturating_sub(exp)),
                    fp,
                );
            }
        }
        let nonce = match (&params.nonce, rules.require_nonce) {
            (Some(n), _) if n.is_empty() || n.len() > 256 => {
                return deny(
                    Cause::Malformed,
                    "the nonce must be 1 to 256 characters".into(),
                    fp,
                )
            }
            (Some(n), _) => Some(n.as_str()),
            (None, true) => {
                return deny(
                    Cause::Missing,
                    "the signature has no nonce (require_nonce)".into(),
                    fp,
                )
            }
            (None, false) => None,
        };

        // The key, and the algorithm it is pinned to.
        let Some(keyid) = params.keyid.as_deref() else {
            return deny(Cause::UnknownKey, "the signature has no keyid".into(), fp);
        };
        let key = match find_key(app, keyid) {
            Some(k) => k,
            None => {
                return deny(
                    Cause::UnknownKey,
                    format!("the app has no key with kid {keyid:?}"),
                    fp,
                )
            }
        };
        let alg = key.alg();
        let nonce_scope = key.nonce_scope();
        if let Some(named) = params.alg.as_deref() {
            if HttpSigAlg::parse(named).ok() != Some(alg) {
                return deny(
                    Cause::AlgNotAllowed,
                    format!(
                        "alg {named:?} does not match key {keyid:?}, which is pinned to {}",
                        alg.name()
                    ),
                    fp,
                );
            }
        }
        if !rules.algorithms.contains(&alg) {
            return deny(
                Cause::AlgNotAllowed,
                format!("{} is not among the allowed algorithms", alg.name()),
                fp,
            );
        }

        // After the round, an asymmetric signature's verdict is found by an id that does not
        // depend on the signature base (SigJob::message_id): the base is not built again.
        let webcrypto = match &key {
            AppKey::Public(..) => alg.webcrypto(),
            AppKey::Hmac(_) => None,
        };
        let message_id = match (&key, &webcrypto) {
            (AppKey::Public(k, _), Some(wc)) => {
                Some(SigJob::message_id(k, wc, &sig.label, &sig.signature))
            }
            _ => None,
        };
        let known = message_id
            .as_ref()
            .and_then(|id| call.records.settled(id.as_str()));
        let base = match known {
            // Built in the round before, or the verdict would not be known.
            Some(_) => String::new(),
            None => match httpsig::signature_base(call.req, sig) {
                Ok(b) => b,
                Err(e) => {
                    let cause = match e {
                        httpsig::Error::MissingComponent(_) => Cause::MissingComponent,
                        _ => Cause::Malformed,
                    };
                    return deny(cause, e.to_string(), fp);
                }
            },
        };
        if covered.contains(&"content-digest") && call.req.header("content-digest").is_none() {
            return deny(
                Cause::MissingComponent,
                "content-digest is covered but absent".into(),
                fp,
            );
        }

        // What must come from the runtime — the body (for Content-Digest, or to see whether
        // there is one) and the verdict of an asymmetric signature — is asked for together, in
        // one round.
        let mut pending: Vec<Need> = Vec::new();
        let body = if body_presence.is_none() || covered.contains(&"content-digest") {
            match self.body(call) {
                Ok(b) => Some(b),
                Err(Check::Need(n)) => {
                    pending.extend(n);
                    None
                }
                Err(c) => return c,
            }
        } else {
            None
        };
        let mut wrong_length = None;
        let verdict = match key {
            AppKey::Hmac(secret) => Some(httpsig::verify_hmac_sha256(
                &secret,
                base.as_bytes(),
                &sig.signature,
            )),
            // ECDSA P-256 and Ed25519 signatures have one length: anything else is a bad
            // signature, decided here (WebCrypto rejects a wrong-length Ed25519 signature
            // instead of answering false).
            AppKey::Public(..)
                if alg
                    .signature_len()
                    .is_some_and(|n| n != sig.signature.len()) =>
            {
                wrong_length = alg.signature_len();
                Some(false)
            }
            AppKey::Public(k, _) => {
                let (Some(wc), Some(id)) = (webcrypto, message_id) else {
                    return fault(
                        self.common.kind,
                        500,
                        Cause::BadKey,
                        "no WebCrypto algorithm".into(),
                    );
                };
                let verdict = match known {
                    Some(settled) => verdict_of(settled),
                    None => Err(Check::Need(vec![Need::Signature(Arc::new(
                        SigJob::over_message(id, k, wc, base.into_bytes(), sig.signature.clone()),
                    ))])),
                };
                match verdict {
                    Ok(v) => Some(v),
                    Err(Check::Need(n)) => {
                        pending.extend(n);
                        None
                    }
                    Err(c) => return c,
                }
            }
        };
        if !pending.is_empty() {
            return Check::Need(pending);
        }

        // A body of unknown length: it must be empty unless content-digest covers it.
        if body_presence.is_none() {
            if let Some(b @ [_, ..]) = body {
                return deny(
                    Cause::MissingComponent,
                    format!(
                        "signature {:?} does not cover content-digest and the request has a body ({} bytes)",
                        sig.label,
                        b.len()
                    ),
                    fp,
                );
            }
        }
        // Content-Digest, when covered: against the body as received.
        if covered.contains(&"content-digest") {
            let header = call.req.header("content-digest").unwrap_or_default();
            if let Err(e) = digest::check_content_digest(&header, body.unwrap_or_default()) {
                return deny(Cause::DigestMismatch, e.to_string(), fp);
            }
        }
        let valid = verdict.unwrap_or(false);
        if !valid {
            let why = match wrong_length {
                Some(n) => format!(
                    "signature {:?} ({}) is {} bytes; a valid one is {n}",
                    sig.label,
                    alg.name(),
                    sig.signature.len()
                ),
                None => format!(
                    "signature {:?} ({}) does not verify with key {keyid:?}",
                    sig.label,
                    alg.name()
                ),
            };
            return deny(Cause::BadSignature, why, fp);
        }

        // Replay: the nonce is claimed only for a valid signature (an attacker cannot burn
        // the nonces of others with forged requests).
        if let Some(nonce) = nonce {
            // The last second this signature is accepted in; the nonce is kept until that
            // second has passed (the end is exclusive), and the store refuses a claim that
            // reaches it later (a slow body must not outlive the window).
            let last_s = params
                .expires
                .unwrap_or(i64::MAX)
                .min(created.saturating_add(rules.max_age_s))
                .saturating_add(rules.skew_s);
            let until_ms = (last_s.max(0) as u64)
                .saturating_add(1)
                .saturating_mul(1000);
            // Nonces are per key, not per app: two apps sharing a key share its nonces, so a
            // request replayed under another client id is still a replay.
            let claim = NonceClaim::new(&nonce_scope, nonce, until_ms, rules.shards);
            match call.records.settled(&claim.id) {
                None => return Check::Need(vec![Need::Nonce(Arc::new(claim))]),
                Some(Settled::Yes) => {}
                Some(Settled::No) => {
                    return deny(
                        Cause::Replayed,
                        format!("nonce of signature {:?} was already used", sig.label),
                        fp,
                    )
                }
                Some(Settled::Late) => {
                    return deny(
                        Cause::Expired,
                        format!(
                            "the window of signature {:?} closed before its nonce was recorded",
                            sig.label
                        ),
                        fp,
                    )
                }
                Some(Settled::Failed(e)) => {
                    return fault(
                        self.common.kind,
                        503,
                        Cause::StoreUnavailable,
                        format!("nonce store: {e}"),
                    )
                }
                Some(Settled::TimedOut(e)) => {
                    return fault(
                        self.common.kind,
                        503,
                        Cause::StoreTimeout,
                        format!("nonce store: {e}"),
                    )
                }
                Some(Settled::TooLarge) => {
                    return fault(
                        self.common.kind,
                        503,
                        Cause::StoreUnavailable,
                        "nonce store: unexpected answer".into(),
                    )
                }
            }
        }
        self.pass(
            place,
            fp,
            client_id,
            format!("{} signature {:?} by key {keyid:?}", alg.name(), sig.label),
        )
    }

    fn pass(&self, place: Place, fp: Option<String>, client_id: &str, detail: String) -> Check {
        let mut entry = Entry::new(self.common.kind, Outcome::Pass);
        entry.element = Some([place.as_str(), " ", &self.common.element.name].concat());
        entry.fingerprint = fp;
        entry.client_id = Some(client_id.to_string());
        entry.detail = Some(detail);
        Check::Pass(Pass {
            entry,
            identity: None,
            hide: self.common.hide(place),
            headers: Vec::new(),
        })
    }
}

/// One job's answer from the runtime: whether its signature was valid, or the fault.
fn verdict_of(settled: Settled) -> Result<bool, Check> {
    match settled {
        Settled::Yes => Ok(true),
        Settled::No | Settled::Late | Settled::TooLarge => Ok(false),
        Settled::Failed(e) | Settled::TimedOut(e) => Err(verify_fault(&e)),
    }
}

fn verify_fault(e: &str) -> Check {
    fault(
        "digital_signature",
        500,
        Cause::BadKey,
        format!("verifying with an app key: {e}"),
    )
}

/// All jobs verified by the runtime: whether any signature was valid, or what to do first.
fn settle(call: &Call<'_>, jobs: Vec<SigJob>) -> Result<bool, Check> {
    let mut pending = Vec::new();
    let mut failed = None;
    for job in jobs {
        match call.records.settled(&job.id) {
            Some(Settled::Yes) => return Ok(true),
            // Only a nonce claim is late and only a body too large: never a valid signature.
            Some(Settled::No | Settled::Late | Settled::TooLarge) => {}
            Some(Settled::Failed(e) | Settled::TimedOut(e)) => failed = Some(e),
            None => pending.push(Need::Signature(Arc::new(job))),
        }
    }
    if !pending.is_empty() {
        return Err(Check::Need(pending));
    }
    if let Some(e) = failed {
        return Err(verify_fault(&e));
    }
    Ok(false)
}

/// RSASSA-PKCS1-v1_5 keys (RS256/384/512): a PS key is never used for v1.5 signatures.
fn is_pkcs1(alg: Option<Alg>) -> bool {
    matches!(alg, Some(Alg::RS256 | Alg::RS384 | Alg::RS512))
}

/// The app's public keys that satisfy `keep` (decoded once per record).
fn app_keys(app: &App, keep: impl Fn(&Key) -> bool) -> Vec<Arc<Key>> {
    app.keys()
        .public
        .iter()
        .filter(|k| keep(k))
        .cloned()
        .collect()
}

/// An RSA key for verification in Rust (SHA-224), from SPKI or a JWK's `n` and `e`.
fn rsa_key(k: &Key) -> Option<RsaKey> {
    use base64::Engine;
    match &k.material {
        Material::Spki(der) => RsaKey::from_der(der).ok(),
        Material::Jwk(members) => {
            let get = |name: &str| {
                let v = members.iter().find(|(k, _)| *k == name)?;
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(v.1.trim_end_matches('='))
                    .ok()
            };
            RsaKey::from_components(&get("n")?, &get("e")?).ok()
        }
        Material::Secret(_) => None,
    }
}

/// Whether `s` names a component a request can have: a derived one or a field name.
fn is_request_component(s: &str) -> bool {
    httpsig::REQUEST_DERIVED.contains(&s)
        || (!s.starts_with('@') && crate::base::config::is_header_name(s))
}

enum AppKey {
    Hmac(Arc<[u8]>),
    Public(Arc<Key>, Alg),
}

impl AppKey {
    /// What a nonce is unique within: the key itself (its material and algorithm), whichever
    /// app or key id presents it.
    fn nonce_scope(&self) -> Vec<u8> {
        use sha2::{Digest, Sha256};
        match self {
            AppKey::Hmac(secret) => Sha256::new()
                .chain_update(b"hmac\0")
                .chain_update(secret)
                .finalize()
                .to_vec(),
            AppKey::Public(k, alg) => {
                let mut v = b"public\0".to_vec();
                v.extend_from_slice(&k.id.to_be_bytes());
                v.extend_from_slice(alg.name().as_bytes());
                v
            }
        }
    }

    /// The RFC 9421 algorithm this key is pinned to.
    fn alg(&self) -> HttpSigAlg {
        match self {
            AppKey::Hmac(_) => HttpSigAlg::HmacSha256,
            AppKey::Public(_, a) => match a {
                Alg::EdDSA => HttpSigAlg::Ed25519,
                Alg::ES256 => HttpSigAlg::EcdsaP256Sha256,
                Alg::PS512 => HttpSigAlg::RsaPssSha512,
                _ => HttpSigAlg::RsaV15Sha256,
            },
        }
    }
}

/// The key with kid `keyid`: an HMAC secret or a public key pinned to an algorithm RFC 9421
/// defines (EdDSA → ed25519, ES256 → ecdsa-p256-sha256, PS512 → rsa-pss-sha512, RS256 →
/// rsa-v1_5-sha256). Other keys never verify an HTTP message signature.
fn find_key(app: &App, keyid: &str) -> Option<AppKey> {
    let keys = app.keys();
    if let Some((_, secret)) = keys.hmac.iter().find(|(kid, _)| kid == keyid) {
        return Some(AppKey::Hmac(secret.clone()));
    }
    let key = keys
        .public
        .iter()
        .find(|k| k.kid.as_deref() == Some(keyid))?;
    let alg = key.alg?;
    matches!(alg, Alg::EdDSA | Alg::ES256 | Alg::PS512 | Alg::RS256)
        .then(|| AppKey::Public(key.clone(), alg))
}
