//! `edge-records app key ...`: an app's signature keys and HMAC secrets, stored on its record:
//!
//! - `signature_keys: [{"kid", "alg", "pem"}]` — a `PUBLIC KEY` (SPKI) PEM, re-encoded with LF
//!   line ends — or `[{"kid", "alg", "jwk"}]` — a public JWK object as given;
//! - `hmac_secrets: [{"kid", "secret_b64"}]` — standard base64 of the secret's bytes.
//!
//! Key ids are unique within an app (across both lists). Private keys are refused.

use super::app::{modify, print_table, DryRun};
use super::error::{OpsError, Result};
use super::util;
use super::Ctx;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use spki::der::asn1::ObjectIdentifier;
use spki::der::pem::LineEnding;
use spki::der::{DecodePem, EncodePem};
use spki::SubjectPublicKeyInfoOwned;
use std::path::PathBuf;

/// Signature algorithms a public key may be registered for.
pub const SIGNATURE_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];
/// Shortest HMAC secret accepted without --allow-short-secret (RFC 7518 §3.2 for HS256).
pub const MIN_HMAC_BYTES: usize = 32;

#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Add a public key (--pem or --jwk) or an HMAC secret (--hmac) to an app.
    Add(AddArgs),
    /// Remove a key or HMAC secret from an app, by key id.
    Remove {
        client_id: String,
        /// The key id.
        #[arg(long)]
        kid: String,
        #[command(flatten)]
        dry: DryRun,
    },
    /// List an app's keys: key id, kind, algorithm (never a secret).
    List { client_id: String },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["pem", "jwk", "hmac"])))]
pub struct AddArgs {
    pub client_id: String,
    /// The key id (the `kid` a JWT or signature names).
    #[arg(long)]
    pub kid: String,
    /// A public key in PEM (`-----BEGIN PUBLIC KEY-----`): a file, or `-` for standard input.
    #[arg(long, value_name = "FILE")]
    pub pem: Option<PathBuf>,
    /// A public JWK (one key, JSON): a file, or `-` for standard input.
    #[arg(long, value_name = "FILE")]
    pub jwk: Option<PathBuf>,
    /// An HMAC secret, read from standard input (one line; its bytes are the secret) unless
    /// --generate.
    #[arg(long)]
    pub hmac: bool,
    /// With --hmac: generate 32 random bytes and print them once, base64.
    #[arg(long, requires = "hmac")]
    pub generate: bool,
    /// With --hmac: the line on standard input is standard base64 of the secret's bytes.
    #[arg(long, requires = "hmac", conflicts_with = "generate")]
    pub base64: bool,
    /// With --hmac: accept a secret shorter than 32 bytes.
    #[arg(long, requires = "hmac")]
    pub allow_short_secret: bool,
    /// The signature algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512,
    /// EdDSA). Inferred from EC and Ed25519 keys and from a JWK's `alg`; required for RSA PEMs.
    #[arg(long)]
    pub alg: Option<String>,
    /// Replace a key with the same key id instead of refusing.
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub dry: DryRun,
}

pub fn run(ctx: &mut Ctx, cmd: KeyCmd) -> Result<()> {
    match cmd {
        KeyCmd::Add(a) => add(ctx, a),
        KeyCmd::Remove {
            client_id,
            kid,
            dry,
        } => modify(ctx, &client_id, dry.dry_run, |o| {
            let mut removed = false;
            for field in ["signature_keys", "hmac_secrets"] {
                if let Some(list) = o.get_mut(field).and_then(Value::as_array_mut) {
                    let n = list.len();
                    list.retain(|k| k.get("kid").and_then(Value::as_str) != Some(kid.as_str()));
                    removed |= list.len() != n;
                }
            }
            if !removed {
                return Err(OpsError::not_found(format!(
                    "app {client_id} has no key {kid:?}"
                )));
            }
            Ok(Some(format!("key {kid} removed")))
        }),
        KeyCmd::List { client_id } => list(ctx, &client_id),
    }
}

fn check_kid(kid: &str) -> Result<()> {
    if kid.is_empty() || kid.len() > 256 || kid.chars().any(char::is_control) {
        return Err(OpsError::bad_input(format!(
            "key id {kid:?}: expected 1 to 256 characters, no control characters"
        )));
    }
    Ok(())
}

fn read_input(ctx: &mut Ctx, path: &PathBuf, what: &str) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        ctx.stdin.read_to_string(&mut s).map_err(|e| {
            OpsError::bad_input(format!("reading the {what} from standard input: {e}"))
        })?;
        Ok(s)
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| OpsError::bad_input(format!("cannot read {what} {}: {e}", path.display())))
    }
}

fn add(ctx: &mut Ctx, a: AddArgs) -> Result<()> {
    check_kid(&a.kid)?;
    let mut generated = None;
    let (field, entry) = if let Some(p) = &a.pem {
        let text = read_input(ctx, p, "PEM")?;
        let (pem, alg) = validate_pem(&text, a.alg.as_deref())?;
        (
            "signature_keys",
            json!({"kid": a.kid, "alg": alg, "pem": pem}),
        )
    } else if let Some(p) = &a.jwk {
        let text = read_input(ctx, p, "JWK")?;
        let (jwk, alg) = validate_jwk(&text, &a.kid, a.alg.as_deref())?;
        (
            "signature_keys",
            json!({"kid": a.kid, "alg": alg, "jwk": jwk}),
        )
    } else {
        if a.alg.as_deref().is_some_and(|x| !x.starts_with("HS")) {
            return Err(OpsError::bad_input(
                "--alg with --hmac: HMAC secrets serve HS256, HS384 and HS512; leave --alg out",
            ));
        }
        let bytes = if a.generate {
            let b = util::random_bytes(32);
            generated = Some(STANDARD.encode(&b));
            b
        } else {
            if ctx.stdin_is_tty {
                ctx.note("reading the HMAC secret from standard input; end with Enter and Ctrl-D");
            }
            let line = util::read_one_credential(ctx.stdin, "HMAC secret")?;
            if a.base64 {
                STANDARD.decode(line.as_bytes()).map_err(|_| {
                    OpsError::bad_input("the HMAC secret on standard input is not standard base64")
                })?
            } else {
                line.into_bytes()
            }
        };
        if bytes.len() < MIN_HMAC_BYTES && !a.allow_short_secret {
            return Err(OpsError::bad_input(format!(
                "the HMAC secret has {} bytes; at least {MIN_HMAC_BYTES} are needed (RFC 7518), or pass --allow-short-secret",
                bytes.len()
            )));
        }
        (
            "hmac_secrets",
            json!({"kid": a.kid, "secret_b64": STANDARD.encode(&bytes)}),
        )
    };
    let kid = a.kid.clone();
    let client_id = a.client_id.clone();
    modify(ctx, &a.client_id, a.dry.dry_run, |o| {
        let mut clash = false;
        for f in ["signature_keys", "hmac_secrets"] {
            if let Some(list) = o.get_mut(f).and_then(Value::as_array_mut) {
                let n = list.len();
                list.retain(|k| k.get("kid").and_then(Value::as_str) != Some(kid.as_str()));
                clash |= list.len() != n;
            }
        }
        if clash && !a.replace {
            return Err(OpsError::conflict(format!(
                "app {client_id} already has a key {kid:?}; pass --replace to replace it"
            )));
        }
        let list = o.entry(field).or_insert_with(|| Value::Array(Vec::new()));
        if !list.is_array() {
            return Err(OpsError::new(
                super::error::Exit::Malformed,
                format!("{field} of app {client_id} is not a list"),
            ));
        }
        list.as_array_mut().expect("array").push(entry);
        Ok(Some(format!(
            "key {kid} {} ({field})",
            if clash { "replaced" } else { "added" }
        )))
    })?;
    if let Some(s) = generated {
        if !a.dry.dry_run {
            ctx.say(format!("hmac_secret_b64={s}"))?;
            ctx.note("the HMAC secret is shown once");
        }
    }
    Ok(())
}

fn list(ctx: &mut Ctx, client_id: &str) -> Result<()> {
    let key = util::check_client_id(client_id)?;
    let o = super::app::load_app(ctx, &key, client_id)?;
    let mut rows = vec![["KID".to_string(), "KIND".into(), "ALG".into()]];
    for k in o
        .get("signature_keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = if k.get("pem").is_some() { "pem" } else { "jwk" };
        rows.push([
            k.get("kid").and_then(Value::as_str).unwrap_or("?").into(),
            kind.into(),
            k.get("alg").and_then(Value::as_str).unwrap_or("?").into(),
        ]);
    }
    for k in o
        .get("hmac_secrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        rows.push([
            k.get("kid").and_then(Value::as_str).unwrap_or("?").into(),
            "hmac".into(),
            "HS256/HS384/HS512".into(),
        ]);
    }
    print_table(ctx, &rows)?;
    Ok(())
}

/// The kind of public key, from its SPKI algorithm or its JWK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    RsaPss,
    Ec(&'static str),
    Ed25519,
    Ed448,
}

fn algs_for(kind: KeyKind) -> &'static [&'static str] {
    match kind {
        KeyKind::Rsa => &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
        KeyKind::RsaPss => &["PS256", "PS384", "PS512"],
        KeyKind::Ec("P-256") => &["ES256"],
        KeyKind::Ec("P-384") => &["ES384"],
        KeyKind::Ec(_) => &["ES512"],
        KeyKind::Ed25519 | KeyKind::Ed448 => &["EdDSA"],
    }
}

fn pick_alg(kind: KeyKind, given: Option<&str>, what: &str) -> Result<String> {
    let allowed = algs_for(kind);
    match given {
        Some(a) if allowed.contains(&a) => Ok(a.to_string()),
        Some(a) if !SIGNATURE_ALGS.contains(&a) => Err(OpsError::bad_input(format!(
            "algorithm {a:?}: expected one of {}",
            SIGNATURE_ALGS.join(", ")
        ))),
        Some(a) => Err(OpsError::bad_input(format!(
            "algorithm {a} does not fit this {what} ({kind:?}): use {}",
            allowed.join(", ")
        ))),
        None if allowed.len() == 1 => Ok(allowed[0].to_string()),
        None => Err(OpsError::bad_input(format!(
            "say which algorithm this {what} ({kind:?}) verifies: --alg {}",
            allowed.join("|")
        ))),
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";

/// Checks a PEM public key; returns it re-encoded (LF line ends) and its algorithm.
pub fn validate_pem(text: &str, alg: Option<&str>) -> Result<(String, String)> {
    let label = spki::der::pem::decode_label(text.trim().as_bytes())
        .map_err(|_| OpsError::bad_input("malformed PEM: no -----BEGIN ...----- block"))?;
    if label.contains("PRIVATE KEY") {
        return Err(OpsError::bad_input(format!(
            "the PEM is a private key ({label}); give the public key (openssl pkey -pubout)"
        )));
    }
    match label {
        "PUBLIC KEY" => {}
        "RSA PUBLIC KEY" => {
            return Err(OpsError::bad_input(
                "the PEM is a PKCS#1 RSA PUBLIC KEY; convert it to SPKI: openssl rsa -RSAPublicKey_in -pubout",
            ))
        }
        "CERTIFICATE" => {
            return Err(OpsError::bad_input(
                "the PEM is a certificate; extract its public key: openssl x509 -pubkey -noout",
            ))
        }
        other => {
            return Err(OpsError::bad_input(format!(
                "the PEM holds a {other:?}; expected a PUBLIC KEY"
            )))
        }
    }
    let spki = SubjectPublicKeyInfoOwned::from_pem(text.trim().as_bytes())
        .map_err(|e| OpsError::bad_input(format!("malformed PEM public key: {e}")))?;
    let kind = match spki.algorithm.oid.to_string().as_str() {
        OID_RSA => KeyKind::Rsa,
        OID_RSA_PSS => KeyKind::RsaPss,
        OID_EC => {
            let curve: ObjectIdentifier = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as().ok())
                .ok_or_else(|| {
                    OpsError::bad_input("malformed PEM: EC key without a named curve")
                })?;
            KeyKind::Ec(match curve.to_string().as_str() {
                "1.2.840.10045.3.1.7" => "P-256",
                "1.3.132.0.34" => "P-384",
                "1.3.132.0.35" => "P-521",
                other => {
                    return Err(OpsError::bad_input(format!(
                        "EC curve {other} is not supported (P-256, P-384, P-521)"
                    )))
                }
            })
        }
        OID_ED25519 => KeyKind::Ed25519,
        OID_ED448 => KeyKind::Ed448,
        other => {
            return Err(OpsError::bad_input(format!(
                "public key algorithm {other} is not supported (RSA, EC, Ed25519)"
            )))
        }
    };
    let alg = pick_alg(kind, alg, "key")?;
    let pem = spki
        .to_pem(LineEnding::LF)
        .map_err(|e| OpsError::bad_input(format!("malformed PEM public key: {e}")))?;
    Ok((pem, alg))
}

/// Checks a public JWK; returns it and its algorithm.
pub fn validate_jwk(text: &str, kid: &str, alg: Option<&str>) -> Result<(Value, String)> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| OpsError::bad_input(format!("malformed JWK: not JSON: {e}")))?;
    let o = v
        .as_object()
        .ok_or_else(|| OpsError::bad_input("malformed JWK: not a JSON object"))?;
    if o.contains_key("keys") {
        return Err(OpsError::bad_input(
            "that is a JWK Set; add its keys one at a time",
        ));
    }
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        if o.contains_key(private) {
            return Err(OpsError::bad_input(format!(
                "the JWK has private member {private:?}; give the public key only (HMAC secrets: --hmac)"
            )));
        }
    }
    let s = |name: &str| -> Result<&str> {
        o.get(name).and_then(Value::as_str).ok_or_else(|| {
            OpsError::bad_input(format!(
                "malformed JWK: member {name:?} missing or not a string"
            ))
        })
    };
    let b64 = |name: &str| -> Result<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(s(name)?.as_bytes()).map_err(|_| {
            OpsError::bad_input(format!("malformed JWK: {name:?} is not unpadded base64url"))
        })
    };
    let kind = match s("kty")? {
        "RSA" => {
            let n = b64("n")?;
            b64("e")?;
            if n.len() < 256 {
                return Err(OpsError::bad_input(format!(
                    "the RSA key has {} bits; at least 2048 are required",
                    n.len() * 8
                )));
            }
            KeyKind::Rsa
        }
        "EC" => {
            let (crv, len) = match s("crv")? {
                "P-256" => ("P-256", 32),
                "P-384" => ("P-384", 48),
                "P-521" => ("P-521", 66),
                c => {
                    return Err(OpsError::bad_input(format!(
                        "JWK curve {c:?} is not supported (P-256, P-384, P-521)"
                    )))
                }
            };
            if b64("x")?.len() != len || b64("y")?.len() != len {
                return Err(OpsError::bad_input(format!(
                    "malformed JWK: x and y of a {crv} key have {len} bytes"
                )));
            }
            KeyKind::Ec(crv)
        }
        "OKP" => match s("crv")? {
            "Ed25519" => {
                if b64("x")?.len() != 32 {
                    return Err(OpsError::bad_input(
                        "malformed JWK: x of an Ed25519 key has 32 bytes",
                    ));
                }
                KeyKind::Ed25519
            }
            "Ed448" => {
                b64("x")?;
                KeyKind::Ed448
            }
            c => {
                return Err(OpsError::bad_input(format!(
                    "JWK curve {c:?} is not a signature curve (Ed25519, Ed448)"
                )))
            }
        },
        "oct" => {
            return Err(OpsError::bad_input(
                "a symmetric (oct) JWK is a secret: add it with --hmac",
            ))
        }
        k => {
            return Err(OpsError::bad_input(format!(
                "JWK key type {k:?} is not supported (RSA, EC, OKP)"
            )))
        }
    };
    if let Some(u) = o.get("use") {
        if u != "sig" {
            return Err(OpsError::bad_input(format!(
                "the JWK's \"use\" is {u}, not \"sig\""
            )));
        }
    }
    if let Some(k) = o.get("kid") {
        if k.as_str() != Some(kid) {
            return Err(OpsError::bad_input(format!(
                "the JWK's kid {k} differs from --kid {kid:?}"
            )));
        }
    }
    let jwk_alg = o.get("alg").and_then(Value::as_str);
    if let (Some(a), Some(b)) = (alg, jwk_alg) {
        if a != b {
            return Err(OpsError::bad_input(format!(
                "--alg {a} differs from the JWK's alg {b}"
            )));
        }
    }
    let alg = pick_alg(kind, alg.or(jwk_alg), "JWK")?;
    Ok((v, alg))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Public keys (generated with openssl for these tests).
    pub const EC_P256_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEH6thZ0VFYD9UdZuNl2j2sA1C31lb
osY8KkHTH9KQmoxsNOB++r9zP3NA1dSO1SJryY3ILOIXE/zdXJ+KKWPSnw==
-----END PUBLIC KEY-----
";
    pub const ED25519_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA2bkpgj+wEor0E9btBnz3uhzZgG6ZtFlb3dSfj9TPkX8=
-----END PUBLIC KEY-----
";

    #[test]
    fn pem_keys_are_checked_and_algorithms_inferred() {
        let (pem, alg) = validate_pem(EC_P256_PEM, None).unwrap();
        assert_eq!(alg, "ES256");
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(validate_pem(EC_P256_PEM, Some("ES384")).is_err());
        assert!(validate_pem(EC_P256_PEM, Some("XX")).is_err());
        assert_eq!(validate_pem(ED25519_PEM, None).unwrap().1, "EdDSA");
        let priv_pem =
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
        assert!(validate_pem(priv_pem, None)
            .unwrap_err()
            .message
            .contains("private key"));
        assert!(validate_pem("hello", None).is_err());
        let broken = EC_P256_PEM.replace("MFkwEwYH", "MFkwEwYI");
        assert!(validate_pem(&broken, None).is_err());
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(validate_pem(cert, None)
            .unwrap_err()
            .message
            .contains("openssl x509"));
    }

    #[test]
    fn jwks_are_checked() {
        let x = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let jwk = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"k1"}}"#);
        let (v, alg) = validate_jwk(&jwk, "k1", None).unwrap();
        assert_eq!(alg, "EdDSA");
        assert_eq!(v["x"], x.as_str());
        assert!(validate_jwk(&jwk, "other", None).is_err());
        let ec = format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{x}","alg":"ES256"}}"#);
        assert_eq!(validate_jwk(&ec, "k", None).unwrap().1, "ES256");
        assert!(validate_jwk(&ec, "k", Some("ES512")).is_err());
        let d = format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{x}","d":"{x}"}}"#);
        assert!(validate_jwk(&d, "k", None)
            .unwrap_err()
            .message
            .contains("private"));
        let n = URL_SAFE_NO_PAD.encode([1u8; 256]);
        let rsa = format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#);
        assert!(validate_jwk(&rsa, "k", None)
            .unwrap_err()
            .message
            .contains("--alg"));
        assert_eq!(validate_jwk(&rsa, "k", Some("PS256")).unwrap().1, "PS256");
        let small = r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#;
        assert!(validate_jwk(small, "k", Some("RS256")).is_err());
        assert!(validate_jwk(r#"{"keys":[]}"#, "k", None).is_err());
        assert!(validate_jwk(r#"{"kty":"oct","k":"AAAA"}"#, "k", None).is_err());
        assert!(validate_jwk("nope", "k", None).is_err());
    }
}
