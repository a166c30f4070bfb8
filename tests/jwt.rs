//! JWT Validation through the whole pipeline on the host: tokens signed at test time with the
//! committed test keys (`tests/fixtures/jwt-keys.json`) under a fixed clock, an in-memory KV and
//! JWKS server, and pure-Rust verification standing in for the runtime's WebCrypto — the same
//! decide / get what is needed / decide again loop the Worker adapter runs.
#![cfg(not(target_arch = "wasm32"))]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use edge_interceptors::base::request::TestRequest;
use edge_interceptors::crypto::keys::{Alg, Kind, Material};
use edge_interceptors::gateway::pipeline::{decide, Answer, Decision, Input, Step};
use edge_interceptors::gateway::policy::{compile, Policy};
use edge_interceptors::interceptors::jwt::verify::{JwtCaches, Verdict, VerifyJob, WithJwt};
use edge_interceptors::interceptors::Need;
use edge_interceptors::records::cache::{Layered, RecordCache, Slot};
use edge_interceptors::trace::{Cause, Outcome};
use jwt_compact::alg::{Ed25519, Es256, Hs256, Hs256Key, Hs384, Hs384Key, Hs512, Hs512Key, Rsa};
use jwt_compact::alg::{RsaPrivateKey, RsaPublicKey};
use jwt_compact::jwk::JsonWebKey;
use jwt_compact::{Algorithm, AlgorithmSignature};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::OnceLock;

const NOW_S: i64 = 1_800_000_000;
const NOW_MS: u64 = NOW_S as u64 * 1000;
const ISS: &str = "https://idp.example";
const JWKS_URL: &str = "https://idp.example/jwks";
const BODY: &str =
    "JWT in the request, identified by HEADER Authorization, is invalid. Check docs.sensedia.com";

fn fixtures() -> &'static Value {
    static F: OnceLock<Value> = OnceLock::new();
    F.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/jwt-keys.json"
        ))
        .unwrap();
        serde_json::from_str(&text).unwrap()
    })
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The fixture key (private JWK) an algorithm signs with.
fn private_jwk(alg: Alg) -> &'static Value {
    let f = fixtures();
    match alg.kind() {
        Kind::Rsa => &f["rsa"],
        Kind::P256 => &f["p256"],
        Kind::Ed25519 => &f["ed25519"],
        Kind::Hmac => match alg {
            Alg::HS256 => &f["hs256"],
            Alg::HS384 => &f["hs384"],
            _ => &f["hs512"],
        },
    }
}

/// The public half of a private JWK (an oct key stays as it is).
fn public(jwk: &Value) -> Value {
    let mut v = jwk.clone();
    let m = v.as_object_mut().unwrap();
    if m["kty"] != "oct" {
        for k in ["d", "p", "q", "dp", "dq", "qi"] {
            m.remove(k);
        }
    }
    v
}

fn kid(alg: Alg) -> String {
    alg.name().to_ascii_lowercase()
}

/// The issuer's KV record: one key per algorithm, kid = the algorithm's name in lowercase. The
/// RSA material is the same for RS* and PS*, each entry pinned to its own algorithm.
fn issuer_record() -> Value {
    let keys: Vec<Value> = Alg::ALL
        .iter()
        .map(|&a| {
            let mut k = public(private_jwk(a));
            k["kid"] = json!(kid(a));
            k["alg"] = json!(a.name());
            k
        })
        .collect();
    json!({ "keys": keys })
}

fn sign_with(alg: Alg, jwk: &Value, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let msg = input.as_bytes();
    let k: JsonWebKey<'_> = serde_json::from_value(jwk.clone()).unwrap();
    let secret = || match &k {
        JsonWebKey::Symmetric { secret } => secret.to_vec(),
        _ => panic!("not an oct key"),
    };
    let sig: Vec<u8> = match alg {
        Alg::HS256 => Hs256
            .sign(&Hs256Key::new(secret()), msg)
            .as_bytes()
            .to_vec(),
        Alg::HS384 => Hs384
            .sign(&Hs384Key::new(secret()), msg)
            .as_bytes()
            .to_vec(),
        Alg::HS512 => Hs512
            .sign(&Hs512Key::new(secret()), msg)
            .as_bytes()
            .to_vec(),
        Alg::ES256 => {
            let key = p256::ecdsa::SigningKey::try_from(&k).unwrap();
            Es256.sign(&key, msg).as_bytes().to_vec()
        }
        Alg::EdDSA => {
            let key = ed25519_compact::SecretKey::try_from(&k).unwrap();
            Ed25519.sign(&key, msg).as_bytes().to_vec()
        }
        rsa => {
            let key = RsaPrivateKey::try_from(&k).unwrap();
            Rsa::with_name(rsa.name())
                .sign(&key, msg)
                .as_bytes()
                .to_vec()
        }
    };
    format!("{input}.{}", b64(sig))
}

fn claims() -> Value {
    json!({"iss": ISS, "sub": "alice", "aud": "orders", "iat": NOW_S - 30, "exp": NOW_S + 300,
           "jti": "t-1", "client_id": "app-a"})
}

fn sign(alg: Alg, patch: Value) -> String {
    let mut c = claims();
    for (k, v) in patch.as_object().unwrap() {
        c[k] = v.clone();
    }
    let header = json!({"alg": alg.name(), "typ": "JWT", "kid": kid(alg)});
    sign_with(alg, private_jwk(alg), &header, &c)
}

/// Pure-Rust verification of a job, standing in for WebCrypto on the host.
fn host_verify(job: &VerifyJob) -> Verdict {
    fn jwk(material: &Material) -> Option<JsonWebKey<'static>> {
        match material {
            Material::Jwk(members) => {
                let m: serde_json::Map<String, Value> = members
                    .iter()
                    .map(|(k, v)| (k.to_string(), json!(v)))
                    .collect();
                Some(serde_json::from_value(Value::Object(m)).unwrap())
            }
            _ => None,
        }
    }
    fn check<A: Algorithm>(a: A, key: &A::VerifyingKey, job: &VerifyJob) -> Verdict {
        match A::Signature::try_from_slice(&job.signature) {
            Ok(s) if a.verify_signature(&s, key, job.signing_input.as_bytes()) => Verdict::Valid,
            _ => Verdict::Invalid,
        }
    }
    let m = &job.key.material;
    match job.alg.kind() {
        Kind::Rsa => {
            let key = match m {
                Material::Spki(der) => {
                    <RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(der).unwrap()
                }
                _ => RsaPublicKey::try_from(&jwk(m).unwrap()).unwrap(),
            };
            check(Rsa::with_name(job.alg.name()), &key, job)
        }
        Kind::P256 => {
            let key = match m {
                Material::Spki(der) => {
                    <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(der)
                        .unwrap()
                }
                _ => p256::ecdsa::VerifyingKey::try_from(&jwk(m).unwrap()).unwrap(),
            };
            check(Es256, &key, job)
        }
        Kind::Ed25519 => {
            let key = match m {
                Material::Spki(der) => ed25519_compact::PublicKey::from_slice(&der[12..]).unwrap(),
                _ => ed25519_compact::PublicKey::try_from(&jwk(m).unwrap()).unwrap(),
            };
            check(Ed25519, &key, job)
        }
        Kind::Hmac => unreachable!("HMAC is verified by the core"),
    }
}

/// A gateway over an in-memory KV and JWKS server, counting what it had to get.
struct Gateway {
    policy: Policy,
    store: HashMap<String, String>,
    jwks: HashMap<String, Result<String, String>>,
    cache: RecordCache,
    jwt: JwtCaches,
    kv_reads: usize,
    jwks_fetches: usize,
    verifications: usize,
}

impl Gateway {
    fn new(policy: Value) -> Gateway {
        let policy = compile(&policy).unwrap_or_else(|e| panic!("{e}"));
        Gateway {
            cache: RecordCache::new(policy.cache),
            jwt: JwtCaches::new(policy.cache.max_entries),
            policy,
            store: HashMap::new(),
            jwks: HashMap::new(),
            kv_reads: 0,
            jwks_fetches: 0,
            verifications: 0,
        }
    }

    fn put(&mut self, key: &str, v: Value) -> &mut Self {
        self.store.insert(key.to_string(), v.to_string());
        self
    }

    fn run(&mut self, req: &TestRequest, now_ms: u64) -> Decision {
        let mut fetched: HashMap<String, Slot> = HashMap::new();
        for _ in 0..8 {
            let input = Input {
                req,
                now_ms,
                request_id: "r1",
            };
            let source = WithJwt {
                records: Layered {
                    fetched: &fetched,
                    cache: &self.cache,
                    now_ms,
                },
                jwt: &self.jwt,
                now_ms,
            };
            let needs = match decide(&self.policy, &input, &source) {
                Step::Done(d) => return d,
                Step::Need(needs) => needs,
            };
            for need in needs {
                match need {
                    Need::Kv(k) => {
                        self.kv_reads += 1;
                        let slot = Slot::from_store(&k, self.store.get(&k).map(String::as_str));
                        self.cache.insert(k.clone(), slot.clone(), now_ms);
                        fetched.insert(k, slot);
                    }
                    Need::Jwks(url) => {
                        self.jwks_fetches += 1;
                        let body = self
                            .jwks
                            .get(&url)
                            .cloned()
                            .unwrap_or(Err("refused".into()));
                        if self
                            .jwt
                            .jwks
                            .record(&url, body.as_deref().map_err(Clone::clone), now_ms)
                        {
                            self.jwt.verified.borrow_mut().flush();
                        }
                    }
                    Need::Verify(job) => {
                        self.verifications += 1;
                        let verdict = host_verify(&job);
                        self.jwt.verified.borrow_mut().record(&job, verdict, now_ms);
                    }
                    other => panic!("a JWT policy needs no {other:?}"),
                }
            }
        }
        panic!("too many rounds");
    }

    fn call(&mut self, token: &str) -> Decision {
        self.call_at(token, NOW_MS)
    }

    fn call_at(&mut self, token: &str, now_ms: u64) -> Decision {
        let r = TestRequest::new("GET", "https://gw/orders/1")
            .with_header("Authorization", &format!("Bearer {token}"));
        self.run(&r, now_ms)
    }
}

fn policy(jwt: Value) -> Value {
    let mut i = json!({"type": "jwt", "audiences": ["orders"],
        "issuers": [{"issuer": ISS, "algorithms": Alg::NAMES}]});
    for (k, v) in jwt.as_object().unwrap() {
        i[k] = v.clone();
    }
    json!({"apis": [{"name": "orders", "base_path": "/orders", "origin": "http://origin",
                     "interceptors": [i]}]})
}

fn gateway() -> Gateway {
    let mut g = Gateway::new(policy(json!({})));
    g.put(&format!("jwt-issuer:{ISS}"), issuer_record());
    g
}

fn forwarded(d: &Decision) -> bool {
    matches!(d.answer, Answer::Forward(_))
}

/// The JWT entry's cause, after checking the client got the one documented 401.
fn denied(d: &Decision) -> Cause {
    match &d.answer {
        Answer::Reply(r) => assert_eq!((r.status, &*r.body), (401, BODY), "{:?}", d.trace),
        Answer::Forward(_) => panic!("forwarded; expected a 401"),
    }
    d.trace.entries[0].cause.unwrap()
}

#[test]
fn every_algorithm_verifies_and_a_repeated_token_is_decided_at_once() {
    let mut g = gateway();
    for (i, alg) in Alg::ALL.into_iter().enumerate() {
        let t = sign(alg, json!({"jti": format!("j-{}", alg.name())}));
        let before = (g.kv_reads, g.verifications);
        let d = g.call(&t);
        assert!(forwarded(&d), "{}: {:?}", alg.name(), d.trace);
        let want = if alg.kind() == Kind::Hmac { 0 } else { 1 };
        assert_eq!(g.verifications - before.1, want, "{}", alg.name());
        // Every verdict is remembered, HMAC ones (made by the core) too.
        assert_eq!(g.jwt.verified.borrow().len(), i + 1);
        // Seen again: no KV read, no verification.
        let before = (g.kv_reads, g.verifications);
        assert!(forwarded(&g.call(&t)));
        assert_eq!((g.kv_reads, g.verifications), before, "{}", alg.name());
    }
}

#[test]
fn every_algorithm_refuses_a_bad_signature_and_a_foreign_key() {
    let f = fixtures();
    for alg in Alg::ALL {
        let mut g = gateway();
        // Signed by another key under the same kid.
        let other = match alg.kind() {
            Kind::Rsa => f["rsa_rotated"].clone(),
            Kind::Hmac => json!({"kty": "oct", "k": b64([9u8; 64])}),
            Kind::P256 => f["p256_other"].clone(),
            Kind::Ed25519 => f["ed25519_other"].clone(),
        };
        let header = json!({"alg": alg.name(), "kid": kid(alg)});
        let forged = sign_with(alg, &other, &header, &claims());
        assert_eq!(
            denied(&g.call(&forged)),
            Cause::BadSignature,
            "{}",
            alg.name()
        );
        // A valid token with one byte of its payload changed.
        let t = sign(alg, json!({}));
        let mut parts: Vec<String> = t.split('.').map(String::from).collect();
        parts[1] = b64(claims().to_string().replace("alice", "alicf"));
        assert_eq!(
            denied(&g.call(&parts.join("."))),
            Cause::BadSignature,
            "{}",
            alg.name()
        );
        // Refused again from the remembered verdict (asymmetric) or at once (HMAC).
        let v = g.verifications;
        assert_eq!(denied(&g.call(&forged)), Cause::BadSignature);
        assert_eq!(g.verifications, v);
    }
}

#[test]
fn algorithm_confusion_is_impossible() {
    let mut g = gateway();
    let f = fixtures();
    // The classic attack: an HS256 token whose HMAC secret is the issuer's RSA public key, naming
    // the RSA key. The key is pinned to RS256.
    let rsa_public = serde_json::to_vec(&public(&f["rsa"])).unwrap();
    let attack = sign_with(
        Alg::HS256,
        &json!({"kty": "oct", "k": b64(&rsa_public)}),
        &json!({"alg": "HS256", "kid": "rs256"}),
        &claims(),
    );
    assert_eq!(denied(&g.call(&attack)), Cause::AlgNotAllowed);
    // PS256 over the RS256 key, ES256 over the EdDSA key: pinned.
    let header = json!({"alg": "PS256", "kid": "rs256"});
    let t = sign_with(Alg::PS256, &f["rsa"], &header, &claims());
    assert_eq!(denied(&g.call(&t)), Cause::AlgNotAllowed);
    // alg none, any spelling.
    for none in ["none", "None", "NONE"] {
        let t = format!(
            "{}.{}.",
            b64(json!({"alg": none}).to_string()),
            b64(claims().to_string())
        );
        assert_eq!(denied(&g.call(&t)), Cause::AlgNotAllowed);
    }
    // No kid: only when exactly one key fits — the RSA material is listed for six algorithms,
    // but each under its own alg, so an RS256 token without kid finds exactly one.
    let t = sign_with(Alg::RS256, &f["rsa"], &json!({"alg": "RS256"}), &claims());
    assert!(forwarded(&g.call(&t)));
    // An issuer allowing only RS256 refuses ES256 whatever the keys.
    let mut g = Gateway::new(policy(
        json!({"issuers": [{"issuer": ISS, "algorithms": ["RS256"]}]}),
    ));
    g.put(&format!("jwt-issuer:{ISS}"), issuer_record());
    assert_eq!(
        denied(&g.call(&sign(Alg::ES256, json!({})))),
        Cause::AlgNotAllowed
    );
    assert!(forwarded(&g.call(&sign(Alg::RS256, json!({})))));
}

#[test]
fn every_claim_cause() {
    let mut g = Gateway::new(policy(
        json!({"required_claims": ["sub"], "max_lifetime_seconds": 3600}),
    ));
    g.put(&format!("jwt-issuer:{ISS}"), issuer_record());
    g.put(
        &format!("jti:{ISS}:gone"),
        json!({"revoked": true, "expires_at": NOW_S + 300}),
    );
    for alg in [Alg::HS256, Alg::ES256, Alg::EdDSA, Alg::RS256, Alg::PS256] {
        for (patch, cause) in [
            (json!({"exp": NOW_S - 61}), Cause::Expired),
            (json!({"nbf": NOW_S + 61}), Cause::NotYetValid),
            (json!({"iat": NOW_S + 61}), Cause::NotYetValid),
            (json!({"iss": "https://evil"}), Cause::WrongIssuer),
            (json!({"aud": ["billing"]}), Cause::WrongAudience),
            (json!({"sub": null}), Cause::MissingClaim),
            (json!({"iat": NOW_S - 4000}), Cause::TooLongLived),
            (json!({"jti": "gone"}), Cause::Revoked),
        ] {
            let d = g.call(&sign(alg, patch.clone()));
            assert_eq!(denied(&d), cause, "{} {patch}", alg.name());
            assert_eq!(d.outcome, Outcome::Deny);
        }
        // Inside the 60 s leeway.
        assert!(forwarded(&g.call(&sign(alg, json!({"exp": NOW_S - 59})))));
    }
}

#[test]
fn the_rfc_examples_verify() {
    // RFC 7515 A.2 (RS256) and A.3 (ES256): issuer "joe", exp 1300819380.
    const RS: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
    const ES: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
    // RFC 8037 A.4 (Ed25519): the payload is a sentence, not claims.
    const ED: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    const RSA_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
    let rfc = json!({"apis": [{"name": "orders", "base_path": "/orders", "origin": "http://origin",
        "interceptors": [{"type": "jwt", "check_jti": false, "issuers": [
            {"issuer": "joe", "algorithms": ["RS256", "ES256"]}]}]},
        {"name": "ed", "base_path": "/ed", "origin": "http://origin",
        "interceptors": [{"type": "jwt", "issuers": [{"issuer": "rfc8037", "algorithms": ["EdDSA"]}]}]}]});
    let mut g = Gateway::new(rfc);
    g.put("jwt-issuer:joe", json!({"keys": [
        {"kty": "RSA", "alg": "RS256", "n": RSA_N, "e": "AQAB"},
        {"kty": "EC", "alg": "ES256", "crv": "P-256",
         "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}));
    g.put("jwt-issuer:rfc8037", json!({"keys": [
        {"kty": "OKP", "alg": "EdDSA", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}));
    let at = 1_300_819_000_000;
    for t in [RS, ES] {
        assert!(forwarded(&g.call_at(t, at)), "{t}");
        let tampered = t.replace("eyJpc3MiOiJqb2U", "eyJpc3MiOiJqb2V");
        assert_eq!(denied(&g.call_at(&tampered, at)), Cause::BadSignature);
    }
    let r = TestRequest::new("GET", "https://gw/ed")
        .with_header("Authorization", &format!("Bearer {ED}"));
    let d = g.run(&r, at);
    assert_eq!(denied(&d), Cause::Malformed);
    let detail = d.trace.entries[0].detail.as_deref().unwrap();
    assert!(
        detail.starts_with("the signature is valid, but the payload is not a JWT claims set"),
        "{detail}"
    );
    let bad = ED.replace("hgyY", "hgyZ");
    let r = TestRequest::new("GET", "https://gw/ed")
        .with_header("Authorization", &format!("Bearer {bad}"));
    assert_eq!(denied(&g.run(&r, at)), Cause::BadSignature);
}

#[test]
fn pem_keys_verify() {
    let f = fixtures();
    let mut g = Gateway::new(policy(json!({})));
    g.put(
        &format!("jwt-issuer:{ISS}"),
        json!({"keys": [
        {"kid": "ps384", "alg": "PS384", "pem": f["pem"]["rsa"]},
        {"kid": "es256", "alg": "ES256", "pem": f["pem"]["p256"]},
        {"kid": "eddsa", "alg": "EdDSA", "pem": f["pem"]["ed25519"]}]}),
    );
    for alg in [Alg::PS384, Alg::ES256, Alg::EdDSA] {
        assert!(forwarded(&g.call(&sign(alg, json!({})))), "{}", alg.name());
    }
}

#[test]
fn jwks_rotation_unknown_kid_and_a_server_down() {
    let f = fixtures();
    let jwk = |k: &Value, kid: &str| {
        let mut p = public(k);
        p["kid"] = json!(kid);
        p["alg"] = json!("RS256");
        p
    };
    let mut g = Gateway::new(policy(
        json!({"issuers": [{"issuer": ISS, "algorithms": ["RS256"],
        "jwks_url": JWKS_URL, "jwks_ttl_seconds": 600, "jwks_min_refetch_seconds": 30}]}),
    ));
    g.jwks.insert(
        JWKS_URL.into(),
        Ok(json!({"keys": [jwk(&f["rsa"], "2024")]}).to_string()),
    );
    let old = sign_with(
        Alg::RS256,
        &f["rsa"],
        &json!({"alg": "RS256", "kid": "2024"}),
        &claims(),
    );
    assert!(forwarded(&g.call(&old)));
    assert_eq!(
        (g.jwks_fetches, g.kv_reads),
        (1, 1),
        "the JWKS once, the jti record once"
    );
    // The IdP rotates: 2025 signs, 2024 is still published for a while.
    g.jwks.insert(
        JWKS_URL.into(),
        Ok(json!({"keys": [jwk(&f["rsa_rotated"], "2025"), jwk(&f["rsa"], "2024")]}).to_string()),
    );
    let new = sign_with(
        Alg::RS256,
        &f["rsa_rotated"],
        &json!({"alg": "RS256", "kid": "2025"}),
        &claims(),
    );
    // An unknown kid refetches, but at most once per 30 s.
    assert_eq!(denied(&g.call_at(&new, NOW_MS + 10_000)), Cause::UnknownKey);
    assert_eq!(g.jwks_fetches, 1);
    assert!(forwarded(&g.call_at(&new, NOW_MS + 30_000)));
    assert_eq!(g.jwks_fetches, 2);
    for i in 0..5 {
        let stranger = sign_with(
            Alg::RS256,
            &f["rsa"],
            &json!({"alg": "RS256", "kid": format!("x{i}")}),
            &claims(),
        );
        assert_eq!(
            denied(&g.call_at(&stranger, NOW_MS + 40_000)),
            Cause::UnknownKey
        );
    }
    assert_eq!(g.jwks_fetches, 2, "unknown kids do not hammer the IdP");
    // The key set changed: the old token's verdict was flushed and is verified again.
    let v = g.verifications;
    assert!(forwarded(&g.call_at(&old, NOW_MS + 40_000)));
    assert_eq!(g.verifications, v + 1);
    // A token valid at `ms`, signed with `key` under `kid`.
    let at = |ms: u64, key: &str, kid: &str| {
        let mut c = claims();
        c["iat"] = json!(ms / 1000 - 10);
        c["exp"] = json!(ms / 1000 + 300);
        sign_with(
            Alg::RS256,
            &f[key],
            &json!({"alg": "RS256", "kid": kid}),
            &c,
        )
    };
    // 2024 is withdrawn; seen at the next fetch, once the TTL has passed.
    g.jwks.insert(
        JWKS_URL.into(),
        Ok(json!({"keys": [jwk(&f["rsa_rotated"], "2025")]}).to_string()),
    );
    let t = NOW_MS + 620_000;
    assert!(forwarded(&g.call_at(&at(t, "rsa", "2024"), t)));
    let t = NOW_MS + 631_000;
    assert_eq!(
        denied(&g.call_at(&at(t, "rsa", "2024"), t)),
        Cause::UnknownKey
    );
    // The IdP goes down: keys are served stale past the TTL, tokens keep passing.
    g.jwks
        .insert(JWKS_URL.into(), Err("connection refused".into()));
    let later = NOW_MS + 1_300_000;
    let fetches = g.jwks_fetches;
    assert!(forwarded(
        &g.call_at(&at(later, "rsa_rotated", "2025"), later)
    ));
    assert_eq!(g.jwks_fetches, fetches + 1, "tried once");
    let later = later + 1000;
    assert!(forwarded(
        &g.call_at(&at(later, "rsa_rotated", "2025"), later)
    ));
    assert_eq!(
        g.jwks_fetches,
        fetches + 1,
        "and not again within the interval"
    );
    // Never fetched and down: 503, not 401.
    let mut g = Gateway::new(policy(
        json!({"issuers": [{"issuer": ISS, "algorithms": ["RS256"], "jwks_url": JWKS_URL}]}),
    ));
    let d = g.call(&old);
    match &d.answer {
        Answer::Reply(r) => assert_eq!(r.status, 503),
        _ => panic!(),
    }
    assert_eq!(d.trace.entries[0].cause, Some(Cause::KeysUnavailable));
}

#[test]
fn the_app_named_by_the_token_is_the_identity_for_later_interceptors() {
    let p = json!({"apis": [{"name": "orders", "base_path": "/orders", "origin": "http://origin",
        "interceptors": [
            {"type": "jwt", "identity_claims": ["client_id"], "hide_credential": true,
             "forward_claims": {"sub": "x-jwt-sub", "scope": "x-jwt-scope"},
             "issuers": [{"issuer": ISS, "algorithms": ["ES256"]}]},
            {"type": "client_id"}]}]});
    let mut g = Gateway::new(p);
    g.put(&format!("jwt-issuer:{ISS}"), issuer_record());
    for id in ["app-a", "app-b"] {
        g.put(
            &format!("app:{id}"),
            json!({"name": id.to_uppercase(), "status": "APPROVED", "access": [{"api": "orders"}]}),
        );
    }
    let t = sign(Alg::ES256, json!({}));
    let r = TestRequest::new("GET", "https://gw/orders/1")
        .with_header("Authorization", &format!("Bearer {t}"))
        .with_header("client_id", "app-a")
        .with_header("x-jwt-scope", "forged");
    let d = g.run(&r, NOW_MS);
    let Answer::Forward(plan) = &d.answer else {
        panic!("{:?}", d.trace)
    };
    assert!(plan.remove.contains(&"authorization".to_string()), "hidden");
    assert!(
        plan.remove.contains(&"x-jwt-scope".to_string()),
        "the client's copy never reaches the origin"
    );
    assert!(plan.set.contains(&("x-jwt-sub".into(), "alice".into())));
    assert!(
        !plan.set.iter().any(|(k, _)| k == "x-jwt-scope"),
        "absent claim, no header"
    );
    assert!(plan
        .set
        .contains(&("x-edge-client-id".into(), "app-a".into())));
    assert_eq!(d.trace.entries[0].client_id.as_deref(), Some("app-a"));
    // A client id of another app than the token's: refused.
    let r = TestRequest::new("GET", "https://gw/orders/1")
        .with_header("Authorization", &format!("Bearer {t}"))
        .with_header("client_id", "app-b");
    let d = g.run(&r, NOW_MS);
    assert_eq!(d.trace.entries[1].cause, Some(Cause::WrongApp));
}

#[test]
fn a_revoked_jti_is_refused_within_the_cache_ttl_even_with_a_cached_verdict() {
    let mut g = gateway();
    let t = sign(Alg::EdDSA, json!({"jti": "to-revoke"}));
    assert!(forwarded(&g.call(&t)));
    g.put(&format!("jti:{ISS}:to-revoke"), json!({"revoked": true}));
    // Absent records are remembered for negative_ttl_seconds (5 s).
    assert!(forwarded(&g.call_at(&t, NOW_MS + 4_999)));
    assert_eq!(denied(&g.call_at(&t, NOW_MS + 5_000)), Cause::Revoked);
}

#[test]
fn the_trace_never_holds_the_token() {
    let mut g = gateway();
    for t in [
        sign(Alg::RS256, json!({})),
        sign(Alg::RS256, json!({"exp": 1})),
    ] {
        let json = g.call(&t).trace.to_json();
        for part in t.split('.') {
            assert!(!json.contains(part), "{json}");
        }
        assert!(json.contains("sha256:"), "{json}");
    }
    let json = g.call("not-a-jwt").trace.to_json();
    assert!(
        !json.contains("not-a-jwt") && json.contains("sha256:"),
        "{json}"
    );
}

#[test]
fn a_claim_never_overwrites_an_identity_header() {
    let p = json!({"apis": [{"name": "orders", "base_path": "/orders", "origin": "http://origin",
        "interceptors": [{"type": "jwt", "identity_claims": ["client_id"],
            "forward_claims": {"sub": "X-Edge-Client-Id"},
            "issuers": [{"issuer": ISS, "algorithms": ["EdDSA"]}]}]}]});
    let mut g = Gateway::new(p);
    g.put(&format!("jwt-issuer:{ISS}"), issuer_record());
    g.put(
        "app:app-a",
        json!({"name": "A", "status": "APPROVED", "access": [{"api": "orders"}]}),
    );
    let d = g.call(&sign(Alg::EdDSA, json!({"sub": "mallory"})));
    let Answer::Forward(plan) = &d.answer else {
        panic!("{:?}", d.trace)
    };
    let ids: Vec<_> = plan
        .set
        .iter()
        .filter(|(k, _)| k == "x-edge-client-id")
        .collect();
    assert_eq!(
        ids,
        [&("x-edge-client-id".to_string(), "app-a".to_string())]
    );
}
