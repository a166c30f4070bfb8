//! The claims of a JWT: reading a compact JWS into what the gateway checks ([`parse`],
//! [`Parsed`], [`Registered`]), and the rules the claims must meet once the signature is valid
//! ([`ClaimRules`]: issuer, `exp`, `nbf`, `iat` with leeway, maximum lifetime, audience, required
//! claims). Times come from the injected clock, never from the system.
//!
//! The time checks are saturating integer arithmetic on epoch seconds. They do not call
//! jwt-compact 0.8's `Claims::validate_maturity`, which computes `nbf - leeway` in chrono
//! without a check and panics for an `nbf` near chrono's minimum (a client-chosen number).

use crate::trace::Cause;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, TimeZone, Utc};
use jwt_compact::Claims;
use serde_json::{Map, Value};

/// What a token's claims must meet, from the policy.
#[derive(Debug)]
pub struct ClaimRules {
    /// Accepted `aud` values; empty: `aud` is not checked.
    pub audiences: Vec<String>,
    pub required_claims: Vec<String>,
    pub leeway_s: i64,
    pub max_lifetime_s: Option<i64>,
    pub require_exp: bool,
}

impl ClaimRules {
    /// The first problem with the claims of a token whose signature is valid.
    pub fn problem(
        &self,
        claims: &Claims<Registered>,
        expected_iss: &str,
        now_s: i64,
    ) -> Option<(Cause, String)> {
        match &claims.custom.iss {
            None => return Some((Cause::MissingClaim, "no iss claim".into())),
            Some(iss) if iss != expected_iss => {
                return Some((
                    Cause::WrongIssuer,
                    format!("issuer {iss:?} is not accepted"),
                ))
            }
            Some(_) => {}
        }
        let at = |t: DateTime<Utc>| t.timestamp();
        let leeway = self.leeway_s;
        // Expired: now > exp + leeway; not yet valid: now < nbf - leeway (jwt-compact's rules,
        // saturating: every i64 a client can send is decided, none overflows).
        match claims.expiration.map(at) {
            Some(exp) if now_s > exp.saturating_add(leeway) => {
                return Some((
                    Cause::Expired,
                    format!("expired at {exp} (leeway {leeway} s)"),
                ))
            }
            None if self.require_exp => return Some((Cause::MissingClaim, "no exp claim".into())),
            _ => {}
        }
        if let Some(nbf) = claims.not_before.map(at) {
            if now_s < nbf.saturating_sub(leeway) {
                return Some((
                    Cause::NotYetValid,
                    format!("not valid before {nbf} (leeway {leeway} s)"),
                ));
            }
        }
        if let Some(iat) = claims.issued_at {
            if at(iat) > now_s.saturating_add(leeway) {
                return Some((
                    Cause::NotYetValid,
                    format!(
                        "issued in the future ({}; leeway {} s)",
                        at(iat),
                        self.leeway_s
                    ),
                ));
            }
        }
        if let Some(max) = self.max_lifetime_s {
            let start = claims.issued_at.or(claims.not_before);
            match (start, claims.expiration) {
                (Some(s), Some(e)) if at(e).saturating_sub(at(s)) > max => {
                    return Some((
                        Cause::TooLongLived,
                        format!(
                            "lives {} s; at most {max} s are accepted",
                            at(e).saturating_sub(at(s))
                        ),
                    ))
                }
                (None, _) => {
                    return Some((
                        Cause::MissingClaim,
                        "no iat (or nbf) claim, needed for the maximum lifetime".into(),
                    ))
                }
                (_, None) => {
                    return Some((
                        Cause::MissingClaim,
                        "no exp claim, needed for the maximum lifetime".into(),
                    ))
                }
                _ => {}
            }
        }
        if !self.audiences.is_empty() {
            match &claims.custom.aud {
                None => return Some((Cause::MissingClaim, "no aud claim".into())),
                Some(aud) if !aud.contains_any(&self.audiences) => {
                    return Some((
                        Cause::WrongAudience,
                        format!("aud {aud:?} names none of the accepted audiences"),
                    ))
                }
                Some(_) => {}
            }
        }
        for name in &self.required_claims {
            let present = match name.as_str() {
                "exp" => claims.expiration.is_some(),
                "nbf" => claims.not_before.is_some(),
                "iat" => claims.issued_at.is_some(),
                "iss" => claims.custom.iss.is_some(),
                "sub" => claims.custom.sub.is_some(),
                "aud" => claims.custom.aud.is_some(),
                "jti" => claims.custom.jti.is_some(),
                other => claims.custom.other.get(other).is_some_and(|v| !v.is_null()),
            };
            if !present {
                return Some((Cause::MissingClaim, format!("no {name} claim")));
            }
        }
        None
    }
}

/// Registered claims besides the times, which jwt-compact's [`Claims`] holds.
#[derive(Debug, Clone)]
pub struct Registered {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Option<Audience>,
    pub jti: Option<String>,
    /// Every other claim.
    pub other: Map<String, Value>,
}

/// `aud`: one string or a list of them.
#[derive(Debug, Clone)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains_any(&self, wanted: &[String]) -> bool {
        match self {
            Audience::One(a) => wanted.contains(a),
            Audience::Many(list) => list.iter().any(|a| wanted.contains(a)),
        }
    }
}

/// What the gateway reads from a token before trusting it. Kept with a signature verdict, so a
/// repeated token is not parsed again.
#[derive(Debug)]
pub struct Parsed {
    /// `alg` as sent.
    pub alg: String,
    pub kid: Option<String>,
    /// A header the gateway cannot honour (`crit`, `b64`, a nested or non-JSON `cty`).
    pub header_problem: Option<String>,
    pub claims: Result<Claims<Registered>, String>,
}

impl Parsed {
    #[cfg(test)]
    pub(crate) fn for_tests() -> Parsed {
        Parsed {
            alg: "ES256".into(),
            kid: None,
            header_problem: None,
            claims: Err("none".into()),
        }
    }
}

/// Decodes one part of a compact JWS: base64url without padding, strictly.
fn part(b64: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| "a part is not base64url (without padding)".to_string())
}

/// JSON text as a value. Through `&str`, like every other JSON the Worker reads, so the Worker
/// holds one copy of serde_json's value parser, not a second one for byte slices.
fn json(bytes: &[u8]) -> Result<Value, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8".to_string())?;
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// Parses a compact JWS: the JOSE header (a JSON object with `alg`), the payload (a JWT claims
/// set, or why not) and the signature (base64url).
///
/// Header and payload are read as `serde_json::Value`s and then checked field by field, not
/// through typed serde structs with flattened fields (as jwt-compact's `UntrustedToken` does):
/// that machinery added about 40 KB to the Worker for the same result. The time claims then go
/// into jwt-compact's [`Claims`], whose checks ([`Claims::validate_expiration`],
/// [`Claims::validate_maturity`]) decide expiry and maturity with the injected clock.
pub fn parse(token: &str) -> Result<Parsed, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS (three base64url parts separated by dots)".into());
    };
    part(sig)?;
    let header = match json(&part(h)?) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err("the header is not a JSON object".into()),
        Err(e) => return Err(format!("the header is not JSON: {e}")),
    };
    let payload = part(p)?;
    let Some(Value::String(alg)) = header.get("alg") else {
        return Err("the header has no alg".into());
    };
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err("kid is not a string".into()),
    };
    let header_problem = if header.contains_key("crit") {
        Some("the header has \"crit\" extensions, which the gateway does not understand".into())
    } else if header.contains_key("b64") {
        Some("the header has \"b64\" (RFC 7797 unencoded payload), which is not accepted".into())
    } else {
        match header.get("cty") {
            None => None,
            Some(Value::String(c)) if c.eq_ignore_ascii_case("json") => None,
            Some(c) => Some(format!(
                "cty {c} (nested or non-JSON content) is not accepted"
            )),
        }
    };
    Ok(Parsed {
        alg: alg.clone(),
        kid,
        header_problem,
        claims: claims_of(&payload).map_err(|e| format!("not a JWT claims set: {e}")),
    })
}

/// The claims of a JWT payload.
fn claims_of(payload: &[u8]) -> Result<Claims<Registered>, String> {
    let mut m = match json(payload) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err("not a JSON object".into()),
        Err(e) => return Err(e),
    };
    fn time(m: &mut Map<String, Value>, name: &str) -> Result<Option<DateTime<Utc>>, String> {
        match m.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .and_then(|s| Utc.timestamp_opt(s, 0).single())
                .map(Some)
                .ok_or_else(|| format!("{name} is out of range")),
            Some(_) => Err(format!("{name} is not a number of seconds")),
        }
    }
    fn string(m: &mut Map<String, Value>, name: &str) -> Result<Option<String>, String> {
        match m.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("{name} is not a string")),
        }
    }
    // A claim set to null counts as absent.
    let aud = match m.remove("aud") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Audience::One(s)),
        Some(Value::Array(list)) => Some(Audience::Many(
            list.into_iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s),
                    _ => Err("aud holds something else than strings".to_string()),
                })
                .collect::<Result<_, _>>()?,
        )),
        Some(_) => return Err("aud is neither a string nor a list of strings".into()),
    };
    let expiration = time(&mut m, "exp")?;
    let not_before = time(&mut m, "nbf")?;
    let issued_at = time(&mut m, "iat")?;
    let custom = Registered {
        iss: string(&mut m, "iss")?,
        sub: string(&mut m, "sub")?,
        jti: string(&mut m, "jti")?,
        aud,
        other: m,
    };
    let mut claims = Claims::new(custom);
    claims.expiration = expiration;
    claims.not_before = not_before;
    claims.issued_at = issued_at;
    Ok(claims)
}

/// A claim as a header value: strings as they are, anything else as JSON; `None` when absent.
pub(crate) fn claim_text(claims: &Claims<Registered>, name: &str) -> Option<String> {
    let r = &claims.custom;
    let v = match name {
        "exp" => return claims.expiration.map(|t| t.timestamp().to_string()),
        "nbf" => return claims.not_before.map(|t| t.timestamp().to_string()),
        "iat" => return claims.issued_at.map(|t| t.timestamp().to_string()),
        "iss" => return r.iss.clone(),
        "sub" => return r.sub.clone(),
        "jti" => return r.jti.clone(),
        "aud" => match &r.aud {
            None => return None,
            Some(Audience::One(a)) => return Some(a.clone()),
            Some(Audience::Many(list)) => return Some(Value::from(list.clone()).to_string()),
        },
        other => r.other.get(other)?,
    };
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}
