//! The grant store's rules: authorization codes and refresh tokens are used once, and a code
//! or refresh token presented again revokes what descended from it (its *family*).
//!
//! The Durable Object (`worker/grant_store.rs`) runs [`handle`] over its SQLite rows ([`Rows`]);
//! the tests here run it over rows in memory. An instance handles one event at a time and
//! `handle` reads and writes with no wait in between, so of two concurrent redemptions of one
//! code exactly one finds it unspent. Everything is keyed by SHA-256 (hex): the store never sees
//! a code or token itself. The answer lists the KV writes (token records) the Worker then makes.

use crate::authz::tokens::{self, Facts, Put};
use crate::records::{Grant, TokenKind};
use crate::trace::Cause;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Codes are kept this long after they expire, so a code presented again still revokes what it
/// gave (RFC 6749 §4.1.2).
pub const KEEP_CODES_MS: u64 = 600_000;

/// What grant-code decided, kept with the code until it is redeemed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    /// The S256 `code_challenge`, when grant-code got one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_info: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<Grant>>,
}

/// The tokens a redemption issues (hashes and expiries; the store writes their records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub family: String,
    pub access: String,
    pub access_expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<String>,
    pub refresh_expires_at: i64,
    pub issued_at: i64,
    pub server: String,
}

/// A token the store keeps: what revoking its family needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenRow {
    pub hash: String,
    pub family: String,
    pub kind: TokenKind,
    pub client_id: String,
    pub expires_at: i64,
    /// A refresh token that was redeemed (rotated).
    #[serde(default)]
    pub used: bool,
    /// The token's KV record, as written.
    pub record: String,
}

/// A code the store keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeRow {
    pub hash: String,
    pub until_ms: u64,
    pub used: bool,
    /// The family its redemption started.
    pub family: Option<String>,
    /// The [`CodeGrant`] as JSON.
    pub grant: String,
}

/// An operation on the grant store (the body of a request to the Durable Object).
/// Externally tagged (`{"revoke": {...}}`): an internally tagged enum would bring serde's
/// buffering of unknown content into the Worker (tens of KB of wasm).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    PutCode {
        code: String,
        until_ms: u64,
        grant: CodeGrant,
    },
    RedeemCode {
        code: String,
        client_id: String,
        redirect_uri: Option<String>,
        redirect_required: bool,
        verifier_s256: Option<String>,
        issue: Issue,
    },
    Rotate {
        refresh: String,
        client_id: String,
        /// The refresh token's KV record says it is revoked (by `edge-records`).
        revoked_in_kv: bool,
        issue: Issue,
    },
    Register {
        rows: Vec<TokenRow>,
    },
    Revoke {
        token: String,
        client_id: String,
    },
    /// After the Worker wrote a new family's records: whether the family was revoked in the
    /// meantime (a reused code or refresh token, a revocation), in which case its records are
    /// written revoked again — the revoking request's writes may have landed before these.
    Confirm {
        family: String,
    },
}

/// Why the store refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    UnknownCode,
    CodeExpired,
    ReusedCode,
    WrongClient,
    RedirectUriMismatch,
    PkceMismatch,
    UnknownRefreshToken,
    RefreshTokenExpired,
    ReusedRefreshToken,
    FamilyRevoked,
    Revoked,
    Exists,
}

impl Why {
    /// The trace cause.
    pub fn cause(self) -> Cause {
        match self {
            Why::UnknownCode | Why::UnknownRefreshToken => Cause::NotFound,
            Why::CodeExpired | Why::RefreshTokenExpired => Cause::Expired,
            Why::ReusedCode => Cause::ReusedCode,
            Why::WrongClient => Cause::WrongApp,
            Why::RedirectUriMismatch => Cause::RedirectUriMismatch,
            Why::PkceMismatch => Cause::PkceMismatch,
            Why::ReusedRefreshToken => Cause::ReusedRefreshToken,
            Why::FamilyRevoked => Cause::FamilyRevoked,
            Why::Revoked => Cause::Revoked,
            Why::Exists => Cause::InvalidRequest,
        }
    }

    /// What the trace says (never a value).
    pub fn detail(self) -> &'static str {
        match self {
            Why::UnknownCode => "no such authorization code",
            Why::CodeExpired => "the authorization code has expired",
            Why::ReusedCode => {
                "the authorization code was already redeemed: every token issued from it is revoked"
            }
            Why::WrongClient => "issued to another client",
            Why::RedirectUriMismatch => {
                "the redirect_uri is missing or differs from the one grant-code got"
            }
            Why::PkceMismatch => {
                "the code_verifier does not match the code_challenge (or one of them is missing)"
            }
            Why::UnknownRefreshToken => "no such refresh token",
            Why::RefreshTokenExpired => "the refresh token has expired",
            Why::ReusedRefreshToken => {
                "the refresh token was already used: its family (refresh and access tokens) is revoked"
            }
            Why::FamilyRevoked => "the refresh token's family was revoked",
            Why::Revoked => "the refresh token is revoked",
            Why::Exists => "the code is already stored",
        }
    }
}

/// The store's answer: the KV writes to make, and why it refused, if it did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Why>,
    /// Token records to write: the issued ones, or the revoked ones of a family.
    #[serde(default)]
    pub puts: Vec<Put>,
    /// The scope of the issued tokens (code redemption).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<Grant>>,
    /// The revocation found nothing of this client to revoke (informational).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Why>,
    /// The family the issued tokens belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
}

/// The rows of one store instance. Errors are the storage's, as text.
pub trait Rows {
    fn code(&mut self, hash: &str) -> Result<Option<CodeRow>, String>;
    fn put_code(&mut self, row: &CodeRow) -> Result<(), String>;
    fn spend_code(&mut self, hash: &str, family: Option<&str>) -> Result<(), String>;
    fn token(&mut self, hash: &str) -> Result<Option<TokenRow>, String>;
    fn put_token(&mut self, row: &TokenRow) -> Result<(), String>;
    fn spend_token(&mut self, hash: &str) -> Result<(), String>;
    fn family_tokens(&mut self, family: &str) -> Result<Vec<TokenRow>, String>;
    fn family_revoked(&mut self, family: &str) -> Result<bool, String>;
    /// Remembers that `family` is revoked until `until_s`.
    fn revoke_family(&mut self, family: &str, until_s: i64) -> Result<(), String>;
    /// Forgets what has expired: codes [`KEEP_CODES_MS`] after expiry, tokens and revoked
    /// families once expired.
    fn sweep(&mut self, now_ms: u64) -> Result<(), String>;
}

fn refused(why: Why, puts: Vec<Put>) -> Answer {
    Answer {
        refused: Some(why),
        puts,
        ..Answer::default()
    }
}

/// Runs one operation at `now_ms` (the store's clock).
pub fn handle(rows: &mut dyn Rows, op: &Op, now_ms: u64) -> Result<Answer, String> {
    let now_s = (now_ms / 1000) as i64;
    match op {
        Op::PutCode {
            code,
            until_ms,
            grant,
        } => {
            if rows.code(code)?.is_some() {
                return Ok(refused(Why::Exists, Vec::new()));
            }
            let grant = serde_json::to_string(grant).map_err(|e| e.to_string())?;
            rows.put_code(&CodeRow {
                hash: code.clone(),
                until_ms: *until_ms,
                used: false,
                family: None,
                grant,
            })?;
            Ok(Answer::default())
        }
        Op::RedeemCode {
            code,
            client_id,
            redirect_uri,
            redirect_required,
            verifier_s256,
            issue,
        } => {
            let Some(row) = rows.code(code)? else {
                return Ok(refused(Why::UnknownCode, Vec::new()));
            };
            if row.used {
                // Presented again: revoke what the first redemption gave.
                let puts = match &row.family {
                    Some(f) => revoke_family(rows, f, now_s)?,
                    None => Vec::new(),
                };
                return Ok(refused(Why::ReusedCode, puts));
            }
            if now_ms >= row.until_ms {
                rows.spend_code(code, None)?;
                return Ok(refused(Why::CodeExpired, Vec::new()));
            }
            let grant: CodeGrant = serde_json::from_str(&row.grant).map_err(|e| e.to_string())?;
            // From here the code is spent, whatever the outcome (one attempt per code).
            let why = if grant.client_id != *client_id {
                Some(Why::WrongClient)
            } else if match redirect_uri {
                Some(r) => *r != grant.redirect_uri,
                None => *redirect_required,
            } {
                Some(Why::RedirectUriMismatch)
            } else {
                match (&grant.challenge, verifier_s256) {
                    (Some(c), Some(v)) if crate::authz::pkce::matches(c, v) => None,
                    (None, None) => None,
                    _ => Some(Why::PkceMismatch),
                }
            };
            if let Some(why) = why {
                rows.spend_code(code, None)?;
                return Ok(refused(why, Vec::new()));
            }
            rows.spend_code(code, Some(&issue.family))?;
            let puts = issue_tokens(
                rows,
                issue,
                &grant.client_id,
                "authorization_code",
                grant.extra_info.as_ref(),
                grant.scope.as_deref(),
            )?;
            Ok(Answer {
                puts,
                scope: grant.scope,
                family: Some(issue.family.clone()),
                ..Answer::default()
            })
        }
        Op::Rotate {
            refresh,
            client_id,
            revoked_in_kv,
            issue,
        } => {
            let row = match rows.token(refresh)? {
                Some(r) if r.kind == TokenKind::RefreshToken => r,
                _ => return Ok(refused(Why::UnknownRefreshToken, Vec::new())),
            };
            if row.client_id != *client_id {
                // Another client's refresh token: refused, and left as it is.
                return Ok(refused(Why::WrongClient, Vec::new()));
            }
            if rows.family_revoked(&row.family)? {
                return Ok(refused(Why::FamilyRevoked, Vec::new()));
            }
            if row.used {
                let puts = revoke_family(rows, &row.family, now_s)?;
                return Ok(refused(Why::ReusedRefreshToken, puts));
            }
            if now_s >= row.expires_at {
                return Ok(refused(Why::RefreshTokenExpired, Vec::new()));
            }
            if *revoked_in_kv {
                return Ok(refused(Why::Revoked, Vec::new()));
            }
            rows.spend_token(refresh)?;
            let (extra, scope) = tokens::inherited(&row.record);
            let issue = Issue {
                family: row.family.clone(),
                ..issue.clone()
            };
            let mut puts = issue_tokens(
                rows,
                &issue,
                client_id,
                "refresh_token",
                extra.as_ref(),
                scope.as_deref(),
            )?;
            // The spent refresh token shows as revoked in KV (`edge-records token list`).
            if let Some(text) = tokens::revoked(&row.record) {
                puts.push(Put {
                    key: format!("{}{}", crate::records::TOKEN_PREFIX, row.hash),
                    value: text,
                    expiration: row.expires_at.saturating_add(tokens::KEEP_EXPIRED_S),
                    client_id: row.client_id.clone(),
                });
            }
            Ok(Answer {
                puts,
                scope,
                family: Some(row.family),
                ..Answer::default()
            })
        }
        Op::Register { rows: new } => {
            let mut puts = Vec::with_capacity(new.len());
            for r in new {
                rows.put_token(r)?;
                puts.push(Put {
                    key: format!("{}{}", crate::records::TOKEN_PREFIX, r.hash),
                    value: r.record.clone(),
                    expiration: r.expires_at.saturating_add(tokens::KEEP_EXPIRED_S),
                    client_id: r.client_id.clone(),
                });
            }
            Ok(Answer {
                puts,
                family: new.first().map(|r| r.family.clone()),
                ..Answer::default()
            })
        }
        Op::Confirm { family } => {
            if rows.family_revoked(family)? {
                let puts = revoke_family(rows, family, now_s)?;
                return Ok(refused(Why::FamilyRevoked, puts));
            }
            Ok(Answer::default())
        }
        Op::Revoke { token, client_id } => {
            let Some(row) = rows.token(token)? else {
                return Ok(Answer::default());
            };
            if row.client_id != *client_id {
                return Ok(Answer {
                    note: Some(Why::WrongClient),
                    ..Answer::default()
                });
            }
            let puts = match row.kind {
                TokenKind::RefreshToken => revoke_family(rows, &row.family, now_s)?,
                TokenKind::AccessToken => revoked_put(&row).into_iter().collect(),
            };
            Ok(Answer {
                puts,
                ..Answer::default()
            })
        }
    }
}

/// Inserts the rows of newly issued tokens and returns their KV writes.
fn issue_tokens(
    rows: &mut dyn Rows,
    issue: &Issue,
    client_id: &str,
    grant_type: &str,
    extra_info: Option<&Value>,
    scope: Option<&[Grant]>,
) -> Result<Vec<Put>, String> {
    let mut wanted = vec![(
        issue.access.as_str(),
        TokenKind::AccessToken,
        issue.access_expires_at,
    )];
    if let Some(r) = &issue.refresh {
        wanted.push((
            r.as_str(),
            TokenKind::RefreshToken,
            issue.refresh_expires_at,
        ));
    }
    let mut puts = Vec::with_capacity(wanted.len());
    for (hash, kind, expires_at) in wanted {
        let facts = Facts {
            client_id,
            kind,
            expires_at,
            grant_type,
            family: Some(&issue.family),
            issued_at: issue.issued_at,
            server: &issue.server,
            extra_info,
            scope,
        };
        let put = tokens::put(hash, &facts);
        rows.put_token(&TokenRow {
            hash: hash.to_string(),
            family: issue.family.clone(),
            kind,
            client_id: client_id.to_string(),
            expires_at,
            used: false,
            record: put.value.clone(),
        })?;
        puts.push(put);
    }
    Ok(puts)
}

fn revoked_put(row: &TokenRow) -> Option<Put> {
    Some(Put {
        key: format!("{}{}", crate::records::TOKEN_PREFIX, row.hash),
        value: tokens::revoked(&row.record)?,
        expiration: row.expires_at.saturating_add(tokens::KEEP_EXPIRED_S),
        client_id: row.client_id.clone(),
    })
}

/// Revokes a family: remembered by the store (so its refresh tokens are refused at once), and
/// the records of its tokens that have not expired rewritten as revoked.
fn revoke_family(rows: &mut dyn Rows, family: &str, now_s: i64) -> Result<Vec<Put>, String> {
    let members = rows.family_tokens(family)?;
    let until = members
        .iter()
        .map(|r| r.expires_at)
        .max()
        .unwrap_or(now_s)
        .max(now_s);
    rows.revoke_family(family, until)?;
    Ok(members
        .iter()
        .filter(|r| r.expires_at > now_s && !r.used)
        .filter_map(revoked_put)
        .collect())
}

/// Rows in memory, for tests (the Durable Object keeps them in SQLite).
#[cfg(test)]
#[derive(Default)]
pub struct MemRows {
    pub codes: std::collections::HashMap<String, CodeRow>,
    pub tokens: std::collections::HashMap<String, TokenRow>,
    pub families: std::collections::HashMap<String, i64>,
}

#[cfg(test)]
impl Rows for MemRows {
    fn code(&mut self, hash: &str) -> Result<Option<CodeRow>, String> {
        Ok(self.codes.get(hash).cloned())
    }
    fn put_code(&mut self, row: &CodeRow) -> Result<(), String> {
        self.codes.insert(row.hash.clone(), row.clone());
        Ok(())
    }
    fn spend_code(&mut self, hash: &str, family: Option<&str>) -> Result<(), String> {
        if let Some(c) = self.codes.get_mut(hash) {
            c.used = true;
            c.family = family.map(String::from);
        }
        Ok(())
    }
    fn token(&mut self, hash: &str) -> Result<Option<TokenRow>, String> {
        Ok(self.tokens.get(hash).cloned())
    }
    fn put_token(&mut self, row: &TokenRow) -> Result<(), String> {
        self.tokens.insert(row.hash.clone(), row.clone());
        Ok(())
    }
    fn spend_token(&mut self, hash: &str) -> Result<(), String> {
        if let Some(t) = self.tokens.get_mut(hash) {
            t.used = true;
        }
        Ok(())
    }
    fn family_tokens(&mut self, family: &str) -> Result<Vec<TokenRow>, String> {
        let mut v: Vec<TokenRow> = self
            .tokens
            .values()
            .filter(|t| t.family == family)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.hash.cmp(&b.hash));
        Ok(v)
    }
    fn family_revoked(&mut self, family: &str) -> Result<bool, String> {
        Ok(self.families.contains_key(family))
    }
    fn revoke_family(&mut self, family: &str, until_s: i64) -> Result<(), String> {
        self.families.insert(family.to_string(), until_s);
        Ok(())
    }
    fn sweep(&mut self, now_ms: u64) -> Result<(), String> {
        let now_s = (now_ms / 1000) as i64;
        self.codes
            .retain(|_, c| c.until_ms.saturating_add(KEEP_CODES_MS) > now_ms);
        self.tokens.retain(|_, t| t.expires_at > now_s);
        self.families.retain(|_, until| *until > now_s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{self, Record};

    const NOW_MS: u64 = 1_800_000_000_000;
    const NOW_S: i64 = 1_800_000_000;

    fn grant(challenge: Option<&str>) -> CodeGrant {
        CodeGrant {
            client_id: "app".into(),
            redirect_uri: "https://app.example/cb".into(),
            challenge: challenge.map(String::from),
            extra_info: Some(serde_json::json!({"user": "alice"})),
            scope: None,
        }
    }

    fn issue(n: u8, refresh: bool) -> Issue {
        Issue {
            family: format!("fam{n}"),
            access: format!("a{n}"),
            access_expires_at: NOW_S + 3600,
            refresh: refresh.then(|| format!("r{n}")),
            refresh_expires_at: NOW_S + 7200,
            issued_at: NOW_S,
            server: "s".into(),
        }
    }

    fn put_code(rows: &mut MemRows, code: &str, challenge: Option<&str>) {
        let a = handle(
            rows,
            &Op::PutCode {
                code: code.into(),
                until_ms: NOW_MS + 60_000,
                grant: grant(challenge),
            },
            NOW_MS,
        )
        .unwrap();
        assert_eq!(a, Answer::default());
    }

    fn redeem(rows: &mut MemRows, code: &str, n: u8, verifier_s256: Option<&str>) -> Answer {
        handle(
            rows,
            &Op::RedeemCode {
                code: code.into(),
                client_id: "app".into(),
                redirect_uri: Some("https://app.example/cb".into()),
                redirect_required: true,
                verifier_s256: verifier_s256.map(String::from),
                issue: issue(n, true),
            },
            NOW_MS + 1000,
        )
        .unwrap()
    }

    fn rotate(rows: &mut MemRows, refresh: &str, n: u8) -> Answer {
        handle(
            rows,
            &Op::Rotate {
                refresh: refresh.into(),
                client_id: "app".into(),
                revoked_in_kv: false,
                issue: issue(n, true),
            },
            NOW_MS + 2000,
        )
        .unwrap()
    }

    fn token_of(put: &Put) -> records::Token {
        match records::parse(&put.key, &put.value).unwrap() {
            Record::Token(t) => t,
            _ => panic!(),
        }
    }

    #[test]
    fn a_code_is_redeemed_once_and_a_second_time_revokes_its_tokens() {
        let mut rows = MemRows::default();
        put_code(&mut rows, "c1", None);
        let a = redeem(&mut rows, "c1", 1, None);
        assert_eq!(a.refused, None);
        assert_eq!(a.puts.len(), 2);
        let access = token_of(&a.puts[0]);
        assert_eq!(access.kind, TokenKind::AccessToken);
        assert_eq!(
            access.extra_info,
            Some(serde_json::json!({"user": "alice"}))
        );
        assert_eq!(access.grant_type.as_deref(), Some("authorization_code"));
        assert_eq!(token_of(&a.puts[1]).kind, TokenKind::RefreshToken);
        assert_eq!(a.puts[0].key, "token:a1");
        // Again: refused, and both tokens rewritten as revoked.
        let b = redeem(&mut rows, "c1", 2, None);
        assert_eq!(b.refused, Some(Why::ReusedCode));
        assert_eq!(b.puts.len(), 2);
        assert!(b.puts.iter().all(|p| token_of(p).revoked));
        // The family's refresh token is refused from now on, by the store itself.
        assert_eq!(rotate(&mut rows, "r1", 3).refused, Some(Why::FamilyRevoked));
    }

    #[test]
    fn what_a_redemption_must_match() {
        let challenge = crate::authz::pkce::s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
        let mut rows = MemRows::default();
        let cases: Vec<(Op, Why)> = vec![
            (
                Op::RedeemCode {
                    code: "x".into(),
                    client_id: "other".into(),
                    redirect_uri: Some("https://app.example/cb".into()),
                    redirect_required: true,
                    verifier_s256: Some(challenge.clone()),
                    issue: issue(1, false),
                },
                Why::WrongClient,
            ),
            (
                Op::RedeemCode {
                    code: "x".into(),
                    client_id: "app".into(),
                    redirect_uri: Some("https://app.example/cb/".into()),
                    redirect_required: true,
                    verifier_s256: Some(challenge.clone()),
                    issue: issue(1, false),
                },
                Why::RedirectUriMismatch,
            ),
            (
                Op::RedeemCode {
                    code: "x".into(),
                    client_id: "app".into(),
                    redirect_uri: None,
                    redirect_required: true,
                    verifier_s256: Some(challenge.clone()),
                    issue: issue(1, false),
                },
                Why::RedirectUriMismatch,
            ),
            (
                Op::RedeemCode {
                    code: "x".into(),
                    client_id: "app".into(),
                    redirect_uri: None,
                    redirect_required: true,
                    verifier_s256: None,
                    issue: issue(1, false),
                },
                Why::RedirectUriMismatch,
            ),
            (
                Op::RedeemCode {
                    code: "x".into(),
                    client_id: "app".into(),
                    redirect_uri: Some("https://app.example/cb".into()),
                    redirect_required: true,
                    verifier_s256: None,
                    issue: issue(1, false),
                },
                Why::PkceMismatch,
            ),
            (
                Op::RedeemCode {
                    code: "x".into(),
                    client_id: "app".into(),
                    redirect_uri: Some("https://app.example/cb".into()),
                    redirect_required: true,
                    verifier_s256: Some(crate::authz::pkce::s256(&"a".repeat(43))),
                    issue: issue(1, false),
                },
                Why::PkceMismatch,
            ),
        ];
        for (op, why) in cases {
            rows.codes.clear();
            put_code(&mut rows, "x", Some(&challenge));
            let a = handle(&mut rows, &op, NOW_MS).unwrap();
            assert_eq!(a.refused, Some(why), "{op:?}");
            assert!(a.puts.is_empty());
            // Spent whatever went wrong: the right request fails too, as a reuse.
            let good = redeem(&mut rows, "x", 9, Some(&challenge));
            assert_eq!(good.refused, Some(Why::ReusedCode));
            assert!(good.puts.is_empty(), "no family was started");
        }
        // The right verifier, no redirect URI where it is optional: issued.
        rows.codes.clear();
        put_code(&mut rows, "x", Some(&challenge));
        let a = handle(
            &mut rows,
            &Op::RedeemCode {
                code: "x".into(),
                client_id: "app".into(),
                redirect_uri: None,
                redirect_required: false,
                verifier_s256: Some(challenge.clone()),
                issue: issue(1, false),
            },
            NOW_MS,
        )
        .unwrap();
        assert_eq!(a.refused, None);
        assert_eq!(a.puts.len(), 1, "no refresh token asked for");
        // A verifier for a code without a challenge is refused (RFC 9700 §2.1.1).
        put_code(&mut rows, "y", None);
        let a = redeem(&mut rows, "y", 2, Some(&challenge));
        assert_eq!(a.refused, Some(Why::PkceMismatch));
    }

    #[test]
    fn unknown_and_expired_codes() {
        let mut rows = MemRows::default();
        assert_eq!(
            redeem(&mut rows, "nope", 1, None).refused,
            Some(Why::UnknownCode)
        );
        put_code(&mut rows, "c", None);
        let a = handle(
            &mut rows,
            &Op::RedeemCode {
                code: "c".into(),
                client_id: "app".into(),
                redirect_uri: Some("https://app.example/cb".into()),
                redirect_required: true,
                verifier_s256: None,
                issue: issue(1, true),
            },
            NOW_MS + 60_000,
        )
        .unwrap();
        assert_eq!(a.refused, Some(Why::CodeExpired));
        // Kept for ten minutes past expiry, then swept.
        rows.sweep(NOW_MS + 60_000 + KEEP_CODES_MS - 1).unwrap();
        assert!(rows.codes.contains_key("c"));
        rows.sweep(NOW_MS + 60_000 + KEEP_CODES_MS).unwrap();
        assert!(!rows.codes.contains_key("c"));
        // The same code twice in put_code: refused (never happens with random codes).
        put_code(&mut rows, "d", None);
        let a = handle(
            &mut rows,
            &Op::PutCode {
                code: "d".into(),
                until_ms: NOW_MS,
                grant: grant(None),
            },
            NOW_MS,
        )
        .unwrap();
        assert_eq!(a.refused, Some(Why::Exists));
    }

    #[test]
    fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
        let mut rows = MemRows::default();
        put_code(&mut rows, "c", None);
        let first = redeem(&mut rows, "c", 1, None);
        assert_eq!(first.refused, None);
        // r1 → a2 + r2; the spent r1 is written revoked.
        let second = rotate(&mut rows, "r1", 2);
        assert_eq!(second.refused, None);
        assert_eq!(second.puts.len(), 3);
        assert_eq!(second.puts[0].key, "token:a2");
        let a2 = token_of(&second.puts[0]);
        assert_eq!(a2.grant_type.as_deref(), Some("refresh_token"));
        assert_eq!(a2.extra_info, Some(serde_json::json!({"user": "alice"})));
        assert_eq!(token_of(&second.puts[1]).kind, TokenKind::RefreshToken);
        assert_eq!(second.puts[2].key, "token:r1");
        assert!(token_of(&second.puts[2]).revoked);
        // The family id stays the code's.
        assert!(second.puts[0].value.contains("\"family\":\"fam1\""));
        // r2 → a3 + r3.
        assert_eq!(rotate(&mut rows, "r2", 3).refused, None);
        // r1 again: reuse. Every live access and refresh token of the family is revoked.
        let reuse = rotate(&mut rows, "r1", 4);
        assert_eq!(reuse.refused, Some(Why::ReusedRefreshToken));
        let keys: Vec<&str> = reuse.puts.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(keys, vec!["token:a1", "token:a2", "token:a3", "token:r3"]);
        assert!(reuse.puts.iter().all(|p| token_of(p).revoked));
        // r3 (the newest) is refused now too.
        assert_eq!(rotate(&mut rows, "r3", 5).refused, Some(Why::FamilyRevoked));
    }

    #[test]
    fn confirm_rewrites_a_family_revoked_meanwhile() {
        let mut rows = MemRows::default();
        put_code(&mut rows, "c", None);
        redeem(&mut rows, "c", 1, None);
        let confirm = |rows: &mut MemRows| {
            handle(
                rows,
                &Op::Confirm {
                    family: "fam1".into(),
                },
                NOW_MS,
            )
            .unwrap()
        };
        assert_eq!(confirm(&mut rows), Answer::default());
        // A second redemption revoked it before the first's writes landed.
        redeem(&mut rows, "c", 2, None);
        let a = confirm(&mut rows);
        assert_eq!(a.refused, Some(Why::FamilyRevoked));
        assert_eq!(a.puts.len(), 2);
        assert!(a.puts.iter().all(|p| token_of(p).revoked));
    }

    #[test]
    fn refresh_rules() {
        let mut rows = MemRows::default();
        put_code(&mut rows, "c", None);
        redeem(&mut rows, "c", 1, None);
        // Unknown, an access token, another client: refused and nothing spent.
        assert_eq!(
            rotate(&mut rows, "nope", 2).refused,
            Some(Why::UnknownRefreshToken)
        );
        assert_eq!(
            rotate(&mut rows, "a1", 2).refused,
            Some(Why::UnknownRefreshToken)
        );
        let other = handle(
            &mut rows,
            &Op::Rotate {
                refresh: "r1".into(),
                client_id: "other".into(),
                revoked_in_kv: false,
                issue: issue(2, true),
            },
            NOW_MS,
        )
        .unwrap();
        assert_eq!(other.refused, Some(Why::WrongClient));
        // Revoked with the tool (KV): refused, not spent.
        let kv = handle(
            &mut rows,
            &Op::Rotate {
                refresh: "r1".into(),
                client_id: "app".into(),
                revoked_in_kv: true,
                issue: issue(2, true),
            },
            NOW_MS,
        )
        .unwrap();
        assert_eq!(kv.refused, Some(Why::Revoked));
        // Expired.
        let late = handle(
            &mut rows,
            &Op::Rotate {
                refresh: "r1".into(),
                client_id: "app".into(),
                revoked_in_kv: false,
                issue: issue(2, true),
            },
            (NOW_S as u64 + 7200) * 1000,
        )
        .unwrap();
        assert_eq!(late.refused, Some(Why::RefreshTokenExpired));
        // Still usable by its client before then.
        assert_eq!(rotate(&mut rows, "r1", 3).refused, None);
    }

    #[test]
    fn revocation_by_token() {
        let mut rows = MemRows::default();
        put_code(&mut rows, "c", None);
        redeem(&mut rows, "c", 1, None);
        let revoke = |rows: &mut MemRows, token: &str, client: &str| {
            handle(
                rows,
                &Op::Revoke {
                    token: token.into(),
                    client_id: client.into(),
                },
                NOW_MS,
            )
            .unwrap()
        };
        assert_eq!(revoke(&mut rows, "nope", "app"), Answer::default());
        let other = revoke(&mut rows, "r1", "other");
        assert_eq!(other.note, Some(Why::WrongClient));
        assert!(other.puts.is_empty());
        // An access token: that one only.
        let a = revoke(&mut rows, "a1", "app");
        assert_eq!(a.puts.len(), 1);
        assert!(token_of(&a.puts[0]).revoked);
        assert!(!rows.family_revoked("fam1").unwrap());
        // A refresh token: the family.
        let r = revoke(&mut rows, "r1", "app");
        assert_eq!(r.puts.len(), 2);
        assert!(rows.family_revoked("fam1").unwrap());
    }

    #[test]
    fn register_keeps_password_grant_families() {
        let mut rows = MemRows::default();
        let facts = |hash: &str, kind| {
            let f = Facts {
                client_id: "app",
                kind,
                expires_at: NOW_S + 3600,
                grant_type: "password",
                family: Some("famp"),
                issued_at: NOW_S,
                server: "s",
                extra_info: None,
                scope: None,
            };
            TokenRow {
                hash: hash.into(),
                family: "famp".into(),
                kind,
                client_id: "app".into(),
                expires_at: NOW_S + 3600,
                used: false,
                record: tokens::record(&f),
            }
        };
        let a = handle(
            &mut rows,
            &Op::Register {
                rows: vec![
                    facts("ap", TokenKind::AccessToken),
                    facts("rp", TokenKind::RefreshToken),
                ],
            },
            NOW_MS,
        )
        .unwrap();
        assert_eq!(a.puts.len(), 2);
        assert_eq!(a.puts[1].key, "token:rp");
        assert_eq!(rotate(&mut rows, "rp", 7).refused, None);
        assert_eq!(
            rotate(&mut rows, "rp", 8).refused,
            Some(Why::ReusedRefreshToken)
        );
    }

    #[test]
    fn ops_travel_as_json() {
        let op = Op::Revoke {
            token: "h".into(),
            client_id: "c".into(),
        };
        let text = serde_json::to_string(&op).unwrap();
        assert_eq!(text, r#"{"revoke":{"token":"h","client_id":"c"}}"#);
        assert_eq!(serde_json::from_str::<Op>(&text).unwrap(), op);
        let a = refused(Why::ReusedRefreshToken, Vec::new());
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(text, r#"{"refused":"reused_refresh_token","puts":[]}"#);
        assert_eq!(serde_json::from_str::<Answer>(&text).unwrap(), a);
    }
}
