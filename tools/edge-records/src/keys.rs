//! `edge-records app key ...`: an app's signature keys and HMAC secrets, stored on its record:
//!
//! - `signature_keys: [{"kid", "alg", "pem"}]` — a `PUBLIC KEY` (SPKI) PEM, re-encoded with LF
//!   line ends — or `[{"kid", "alg", "jwk"}]` — a public JWK object as given;
//! - `hmac_secrets: [{"kid", "secret_b64"}]` — standard base64 of the secret's bytes.
//!
//! Key ids are unique within an app (across both lists). Private keys are refused.
//!
//! Also the checks that JWT issuer keys share ([`super::issuer`]): PEM and JWK input is read
//! here (labels, structure, curve, RSA modulus size: what the tool can explain), and whether
//! the Worker can use the key is decided by the Worker's own parser
//! ([`edge_interceptors::crypto::keys::parse_key`], see [`worker_accepts`]): a key the tool
//! stores is a key the Worker uses.

use super::app::{modify, print_table, DryRun};
use super::error::{OpsError, Result};
use super::redact;
use super::util;
use super::Ctx;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use clap::{Args, Subcommand};
use edge_interceptors::crypto::keys::{self as worker_keys, Alg, Source};
use serde_json::{json, Value};
use spki::der::asn1::ObjectIdentifier;
use spki::der::pem::LineEnding;
use spki::der::{Decode, DecodePem, EncodePem};
use spki::SubjectPublicKeyInfoOwned;
use std::path::PathBuf;

/// Signature algorithms a public key may be registered for: the Worker's own list
/// ([`Alg::NAMES`]) without the HMAC ones.
pub const SIGNATURE_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA",
];
/// Shortest HMAC secret accepted without --allow-short-secret (RFC 7518 §3.2 for HS256).
pub const MIN_HMAC_BYTES: usize = 32;
/// Shortest RSA modulus the Worker uses.
pub const MIN_RSA_BITS: usize = 2048;

/// JOSE algorithm names the tool may print back (a name from this list is vocabulary, not a
/// value): the ones the Worker verifies and the ones it refuses with a reason.
const KNOWN_ALG_NAMES: &[&str] = &[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "ES512", "ES256K", "EdDSA", "Ed25519", "Ed448", "none",
];

/// Why the Worker refuses an algorithm by name, if it does.
pub fn refused_alg(alg: &str) -> Option<String> {
    Some(match alg {
        "none" => "alg none (unsigned tokens) is never accepted".into(),
        "ES384" | "ES512" => format!(
            "{alg} (ECDSA on {}): the Worker verifies ECDSA on P-256 only (ES256)",
            if alg == "ES384" { "P-384" } else { "P-521" }
        ),
        "Ed448" => "Ed448: the Worker verifies EdDSA with Ed25519 only".into(),
        a if Alg::parse(a).is_some() => return None,
        a if KNOWN_ALG_NAMES.contains(&a) => format!(
            "{a} is not an algorithm the Worker verifies ({})",
            Alg::NAMES.join(", ")
        ),
        _ => format!(
            "the algorithm is not one the Worker verifies ({})",
            Alg::NAMES.join(", ")
        ),
    })
}

/// Whether the Worker uses this stored key object (`{"kid", "alg", "pem"}`, `{"kid", "alg",
/// "jwk"}` or a JWK with `kid` and `alg`), decided by the Worker's own parser for KV keys; the
/// reason quotes no value.
pub fn worker_accepts(entry: &Value) -> std::result::Result<worker_keys::Key, String> {
    if let Some(a) = entry.get("alg").and_then(Value::as_str) {
        if let Some(why) = refused_alg(a) {
            return Err(why);
        }
    }
    worker_keys::parse_key(entry, Source::Kv).map_err(|e| redact::quoted(&e))
}

/// Whether a stored key can be used, and if not why: [`worker_accepts`] (`the Worker skips it:
/// …`), and for a PEM key the tool's own reading too (`edge-records refuses it: …`): the
/// Worker's PEM reader identifies the key type only, so an RSA modulus under 2048 bits or a
/// malformed DER in a key written by hand is caught here.
pub fn stored_key_usable(entry: &Value) -> std::result::Result<worker_keys::Key, String> {
    let key = worker_accepts(entry).map_err(|why| format!("the Worker skips it: {why}"))?;
    if let Some(pem) = entry.get("pem").and_then(Value::as_str) {
        let alg = entry.get("alg").and_then(Value::as_str);
        validate_pem(pem, alg).map_err(|e| {
            let why = e.message;
            let why = why
                .strip_prefix("the Worker cannot use this key: ")
                .unwrap_or(&why);
            format!("edge-records refuses it: {why} (remove or replace it)")
        })?;
    }
    Ok(key)
}

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
    /// The signature algorithm (RS256, RS384, RS512, PS256, PS384, PS512, ES256, EdDSA: what the
    /// Worker verifies). Inferred from EC P-256 and Ed25519 keys and from a JWK's `alg`;
    /// required for RSA keys.
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

pub fn check_kid(kid: &str) -> Result<()> {
    if kid.is_empty() || kid.len() > 256 || kid.chars().any(char::is_control) {
        return Err(OpsError::bad_input(format!(
            "key id {kid:?}: expected 1 to 256 characters, no control characters"
        )));
    }
    Ok(())
}

pub fn read_input(ctx: &mut Ctx, path: &PathBuf, what: &str) -> Result<String> {
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
        let (jwk, alg) = validate_jwk(&text, Some(&a.kid), a.alg.as_deref(), false)?;
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
    if field == "signature_keys" {
        // The Digital Signature interceptor reads app keys with the Worker's own parser.
        worker_accepts(&entry).map_err(|why| {
            OpsError::bad_input(format!("key {}: the Worker cannot use it: {why}", a.kid))
        })?;
    }
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

impl KeyKind {
    fn name(self) -> &'static str {
        match self {
            KeyKind::Rsa => "RSA",
            KeyKind::RsaPss => "RSA-PSS",
            KeyKind::Ec("P-256") => "EC P-256",
            KeyKind::Ec("P-384") => "EC P-384",
            KeyKind::Ec(_) => "EC P-521",
            KeyKind::Ed25519 => "Ed25519",
            KeyKind::Ed448 => "Ed448",
        }
    }
}

/// The algorithms the Worker verifies with a key of this kind, or why it verifies none.
fn algs_for(kind: KeyKind) -> std::result::Result<&'static [&'static str], String> {
    match kind {
        KeyKind::Rsa => Ok(&["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]),
        KeyKind::RsaPss => Ok(&["PS256", "PS384", "PS512"]),
        KeyKind::Ec("P-256") => Ok(&["ES256"]),
        KeyKind::Ec("P-384") => Err(refused_alg("ES384").unwrap_or_default()),
        KeyKind::Ec(_) => Err(refused_alg("ES512").unwrap_or_default()),
        KeyKind::Ed25519 => Ok(&["EdDSA"]),
        KeyKind::Ed448 => Err(refused_alg("Ed448").unwrap_or_default()),
    }
}

fn pick_alg(kind: KeyKind, given: Option<&str>, what: &str) -> Result<String> {
    let allowed = algs_for(kind)
        .map_err(|why| OpsError::bad_input(format!("the Worker cannot use this {what}: {why}")))?;
    match given {
        Some(a) if allowed.contains(&a) => Ok(a.to_string()),
        Some(a) => Err(OpsError::bad_input(match refused_alg(a) {
            Some(why) => format!("the Worker cannot use this {what}: {why}"),
            None => format!(
                "algorithm {a} does not fit this {what} ({}): use {}",
                kind.name(),
                allowed.join(", ")
            ),
        })),
        None if allowed.len() == 1 => Ok(allowed[0].to_string()),
        None => Err(OpsError::bad_input(format!(
            "say which algorithm this {what} ({}) verifies: --alg {}",
            kind.name(),
            allowed.join("|")
        ))),
    }
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_ED25519: &str = "1.3.101.112";
const OID_ED448: &str = "1.3.101.113";

/// Bits of an RSA modulus given big-endian (leading zero bytes ignored, as the Worker counts).
fn rsa_bits(n: &[u8]) -> usize {
    n.iter().skip_while(|b| **b == 0).count() * 8
}

fn check_rsa_bits(bits: usize) -> Result<()> {
    if bits < MIN_RSA_BITS {
        return Err(OpsError::bad_input(format!(
            "the Worker cannot use this key: an RSA key of {bits} bits; at least {MIN_RSA_BITS} are required"
        )));
    }
    Ok(())
}

/// Checks a PEM public key; returns it re-encoded (LF line ends) and its algorithm.
pub fn validate_pem(text: &str, alg: Option<&str>) -> Result<(String, String)> {
    let label = spki::der::pem::decode_label(text.trim().as_bytes())
        .map_err(|_| OpsError::bad_input("malformed PEM: no -----BEGIN ...----- block"))?;
    if label.contains("PRIVATE KEY") {
        return Err(OpsError::bad_input(
            "the PEM is a private key; give the public key (openssl pkey -pubout)",
        ));
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
        _ => {
            return Err(OpsError::bad_input(
                "the PEM holds something else than a PUBLIC KEY",
            ))
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
                        "EC curve {other} is not supported (the Worker verifies P-256)"
                    )))
                }
            })
        }
        OID_ED25519 => KeyKind::Ed25519,
        OID_ED448 => KeyKind::Ed448,
        other => {
            return Err(OpsError::bad_input(format!(
                "public key algorithm {other} is not supported (RSA, EC P-256, Ed25519)"
            )))
        }
    };
    if matches!(kind, KeyKind::Rsa | KeyKind::RsaPss) {
        let key_bytes = spki.subject_public_key.raw_bytes();
        let rsa = pkcs1::RsaPublicKey::from_der(key_bytes)
            .map_err(|e| OpsError::bad_input(format!("malformed RSA public key: {e}")))?;
        check_rsa_bits(rsa_bits(rsa.modulus.as_bytes()))?;
    }
    let alg = pick_alg(kind, alg, "key")?;
    let pem = spki
        .to_pem(LineEnding::LF)
        .map_err(|e| OpsError::bad_input(format!("malformed PEM public key: {e}")))?;
    Ok((pem, alg))
}

/// JWK members that hold private key material.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Checks a public JWK (or, with `allow_secret`, an `oct` HMAC secret: JWT issuers only);
/// returns it and its algorithm. `kid`: the key id it must carry if it has one.
pub fn validate_jwk(
    text: &str,
    kid: Option<&str>,
    alg: Option<&str>,
    allow_secret: bool,
) -> Result<(Value, String)> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        OpsError::bad_input(format!(
            "malformed JWK: not JSON: {}",
            redact::serde_error(&e)
        ))
    })?;
    validate_jwk_value(v, kid, alg, allow_secret)
}

/// [`validate_jwk`] on a parsed value.
pub fn validate_jwk_value(
    v: Value,
    kid: Option<&str>,
    alg: Option<&str>,
    allow_secret: bool,
) -> Result<(Value, String)> {
    let o = v
        .as_object()
        .ok_or_else(|| OpsError::bad_input("malformed JWK: not a JSON object"))?;
    if o.contains_key("keys") {
        return Err(OpsError::bad_input(if allow_secret {
            "that is a JWK Set; give it with --jwks"
        } else {
            "that is a JWK Set; add its keys one at a time"
        }));
    }
    for private in PRIVATE_MEMBERS {
        if o.contains_key(*private) {
            return Err(OpsError::bad_input(format!(
                "the JWK has private member {private:?}; give the public key only"
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
    if let Some(u) = o.get("use") {
        if u != "sig" {
            return Err(OpsError::bad_input(
                "the JWK's \"use\" is not \"sig\": it is not a signature key",
            ));
        }
    }
    if let (Some(want), Some(k)) = (kid, o.get("kid")) {
        if k.as_str() != Some(want) {
            return Err(OpsError::bad_input(format!(
                "the JWK's kid differs from --kid {want:?}"
            )));
        }
    }
    let jwk_alg = match o.get("alg") {
        None => None,
        Some(Value::String(a)) => Some(a.as_str()),
        Some(_) => return Err(OpsError::bad_input("malformed JWK: alg is not a string")),
    };
    if let (Some(a), Some(b)) = (alg, jwk_alg) {
        if a != b {
            return Err(OpsError::bad_input(format!(
                "--alg {a} differs from the JWK's alg{}",
                if KNOWN_ALG_NAMES.contains(&b) {
                    format!(" {b}")
                } else {
                    String::new()
                }
            )));
        }
    }
    let given = alg.or(jwk_alg);
    let kind =
        match s("kty")? {
            "RSA" => {
                let n = b64("n")?;
                b64("e")?;
                check_rsa_bits(rsa_bits(&n))?;
                KeyKind::Rsa
            }
            "EC" => {
                let (crv, len) = match s("crv")? {
                    "P-256" => ("P-256", 32),
                    "P-384" => ("P-384", 48),
                    "P-521" => ("P-521", 66),
                    _ => {
                        return Err(OpsError::bad_input(
                            "the JWK's EC curve is not supported (the Worker verifies P-256)",
                        ))
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
                "Ed448" => KeyKind::Ed448,
                _ => return Err(OpsError::bad_input(
                    "the JWK's OKP curve is not a signature curve the Worker verifies (Ed25519)",
                )),
            },
            "oct" if allow_secret => {
                b64("k")?;
                let a = match given {
                    Some(a @ ("HS256" | "HS384" | "HS512")) => a,
                    Some(a) => {
                        return Err(OpsError::bad_input(match refused_alg(a) {
                            Some(why) => format!("the Worker cannot use this JWK: {why}"),
                            None => format!(
                            "algorithm {a} does not fit an HMAC secret: use HS256, HS384 or HS512"
                        ),
                        }))
                    }
                    None => return Err(OpsError::bad_input(
                        "say which algorithm this HMAC secret verifies: --alg HS256|HS384|HS512",
                    )),
                };
                return Ok((v.clone(), a.to_string()));
            }
            "oct" => {
                return Err(OpsError::bad_input(
                    "a symmetric (oct) JWK is a secret: add it with --hmac",
                ))
            }
            _ => {
                return Err(OpsError::bad_input(
                    "the JWK's key type is not supported (RSA, EC, OKP)",
                ))
            }
        };
    let alg = pick_alg(kind, given, "JWK")?;
    Ok((v.clone(), alg))
}

#[cfg(test)]
pub mod tests {
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
        let (v, alg) = validate_jwk(&jwk, Some("k1"), None, false).unwrap();
        assert_eq!(alg, "EdDSA");
        assert_eq!(v["x"], x.as_str());
        assert!(validate_jwk(&jwk, Some("other"), None, false).is_err());
        let ec = format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{x}","alg":"ES256"}}"#);
        assert_eq!(
            validate_jwk(&ec, Some("k"), None, false).unwrap().1,
            "ES256"
        );
        assert!(validate_jwk(&ec, Some("k"), Some("ES512"), false).is_err());
        let d = format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{x}","d":"{x}"}}"#);
        assert!(validate_jwk(&d, Some("k"), None, false)
            .unwrap_err()
            .message
            .contains("private"));
        let n = URL_SAFE_NO_PAD.encode([1u8; 256]);
        let rsa = format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#);
        assert!(validate_jwk(&rsa, Some("k"), None, false)
            .unwrap_err()
            .message
            .contains("--alg"));
        assert_eq!(
            validate_jwk(&rsa, Some("k"), Some("PS256"), false)
                .unwrap()
                .1,
            "PS256"
        );
        let small = r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#;
        assert!(validate_jwk(small, Some("k"), Some("RS256"), false).is_err());
        assert!(validate_jwk(r#"{"keys":[]}"#, Some("k"), None, false).is_err());
        assert!(validate_jwk(r#"{"kty":"oct","k":"AAAA"}"#, Some("k"), None, false).is_err());
        assert_eq!(
            validate_jwk(
                r#"{"kty":"oct","k":"AAAA"}"#,
                Some("k"),
                Some("HS384"),
                true
            )
            .unwrap()
            .1,
            "HS384"
        );
        assert!(validate_jwk("nope", Some("k"), None, false).is_err());
    }

    pub const EC_P384_PEM: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAE/JIr9Z2KhEiDY+UX7qlbALdX+JEcapyk
5JxXJfhom+yHi/TH2XYyVFE3N61BJBsWmLProCvFfLVDwHbIG/J2s6QYFub1jCvi
UwTQtpnIZo4hDop2iOGqwvc2p9BFpjLI
-----END PUBLIC KEY-----
";
    pub const ED448_PEM: &str = "-----BEGIN PUBLIC KEY-----
MEMwBQYDK2VxAzoARYGIbzIUfrMlW3Jjl6qJ9SdudkIWxvuFiuQ/Mg6CDrCdIKIH
2TBue9hZkizEjtXg40CC0WRy4/QA
-----END PUBLIC KEY-----
";
    pub const RSA_1024_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDDcMYSFdKnhHSXA0QRuqIwoDMo
uLq06Z40q3h2A/SI/Mwi5Agx7ju3SyCU+BkIIQuqfEN/lsINMSjByH2sJvZhv0S0
g7nstd5GjsEusRFcsinQPpIHLgZS8vlyX0+acFkovX6GfTZlbTARg72ZLzGJF/iu
LuOnbCI+LIOGayUepQIDAQAB
-----END PUBLIC KEY-----
";

    /// What the Worker cannot use is refused with the reason, for PEM and JWK alike.
    #[test]
    fn keys_the_worker_cannot_use_are_refused_with_the_reason() {
        let refused = |r: Result<(String, String)>| r.unwrap_err().message;
        assert!(refused(validate_pem(EC_P384_PEM, None)).contains("P-256 only (ES256)"));
        assert!(refused(validate_pem(EC_P384_PEM, Some("ES384"))).contains("ES384"));
        assert!(refused(validate_pem(ED448_PEM, None)).contains("Ed25519 only"));
        assert!(refused(validate_pem(RSA_1024_PEM, Some("RS256")))
            .contains("RSA key of 1024 bits; at least 2048"));
        let rsa = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/bodysig/rsa-2048.pub.pem"
        ))
        .unwrap();
        assert_eq!(validate_pem(&rsa, Some("PS256")).unwrap().1, "PS256");
        assert!(refused(validate_pem(&rsa, Some("none"))).contains("never accepted"));
        let refused_jwk = |j: &str, alg| validate_jwk(j, None, alg, true).unwrap_err().message;
        let x48 = URL_SAFE_NO_PAD.encode([7u8; 48]);
        let p384 = format!(r#"{{"kty":"EC","crv":"P-384","x":"{x48}","y":"{x48}"}}"#);
        assert!(refused_jwk(&p384, None).contains("P-256 only"));
        let x = URL_SAFE_NO_PAD.encode([7u8; 32]);
        let p256 = format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{x}","alg":"ES512"}}"#);
        assert!(refused_jwk(&p256, None).contains("ES512 (ECDSA on P-521)"));
        let ed448 = format!(r#"{{"kty":"OKP","crv":"Ed448","x":"{x48}"}}"#);
        assert!(refused_jwk(&ed448, None).contains("Ed25519 only"));
        let n = URL_SAFE_NO_PAD.encode([1u8; 255]);
        let rsa2040 = format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB","alg":"RS256"}}"#);
        assert!(refused_jwk(&rsa2040, None).contains("2040 bits"));
        let n = URL_SAFE_NO_PAD.encode([1u8; 256]);
        let none = format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB","alg":"none"}}"#);
        assert!(refused_jwk(&none, None).contains("alg none"));
        // An unknown name is not echoed (it is a value of the file).
        let odd = format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB","alg":"CANARY-alg"}}"#);
        let m = refused_jwk(&odd, None);
        assert!(
            !m.contains("CANARY") && m.contains("not one the Worker verifies"),
            "{m}"
        );

        // The final word is the Worker's parser: an HMAC secret shorter than its hash.
        let short = json!({"kid": "h", "alg": "HS512", "kty": "oct", "k": URL_SAFE_NO_PAD.encode([1u8; 32])});
        assert!(worker_accepts(&short)
            .unwrap_err()
            .contains("at least 64 bytes"));
        let ok = json!({"kid": "h", "alg": "HS256", "kty": "oct", "k": URL_SAFE_NO_PAD.encode([1u8; 32])});
        assert!(worker_accepts(&ok).is_ok());
        let odd = json!({"kid": "h", "alg": "RS256", "kty": "CANARY", "n": "x"});
        let m = worker_accepts(&odd).unwrap_err();
        assert!(!m.contains("CANARY"), "{m}");
    }
}
