//! Digital Signature through the whole pipeline on the host: a Client ID interceptor identifies
//! the app, then the signature is checked — the body mode (each algorithm, signed at test time
//! with the committed test key) and RFC 9421 (the Appendix B requests as published, under a
//! fixed clock). The loop is the adapter's: decide, get what is needed (KV records, signature
//! verifications — here pure-Rust verifiers stand in for WebCrypto — and nonce claims in an
//! in-memory store), decide again.
#![cfg(not(target_arch = "wasm32"))]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use edge_interceptors::base::request::TestRequest;
use edge_interceptors::crypto::jobs::{Settled, SigJob, BODY_ID};
use edge_interceptors::crypto::keys::Material;
use edge_interceptors::gateway::pipeline::{decide, Answer, Decision, Input, Step};
use edge_interceptors::gateway::policy::{compile, Policy};
use edge_interceptors::interceptors::{Need, WithSettled};
use edge_interceptors::records::cache::{Layered, RecordCache, Slot};
use edge_interceptors::trace::{Cause, Entry, Outcome};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use serde_json::{json, Value};
use std::collections::HashMap;

const CLIENT: &str = "ds-app";
const OTHER: &str = "ds-app-2";
const RFC_CREATED: i64 = 1_618_884_473;
const BODY_MSG: &str =
    "Digital Signature in the request, identified by HEADER signature, is invalid. Check docs.sensedia.com";
const HMS_MSG: &str =
    "Digital Signature in the request, identified by HEADER Signature, is invalid. Check docs.sensedia.com";
const HMAC_SECRET: &[u8] = b"a signing secret of the application";

fn read(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn rfc_keys() -> Value {
    serde_json::from_str::<Value>(&read("rfc9421/keys.json")).unwrap()["keys"].clone()
}

fn rfc_case(section: &str) -> Value {
    let v: Value = serde_json::from_str(&read("rfc9421/vectors.json")).unwrap();
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["section"] == section)
        .unwrap()
        .clone()
}

fn app_record() -> String {
    let k = rfc_keys();
    let pem = |kid: &str| k[kid]["public_spki_pem"].as_str().unwrap().to_string();
    json!({
        "name": "Signer",
        "status": "APPROVED",
        "access": [{"api": "pay"}],
        "signature_keys": [
            {"kid": "body-rsa", "alg": "RS256", "pem": read("bodysig/rsa-2048.pub.pem")},
            {"kid": "body-rsa-jwk", "alg": "RS384", "jwk": k["test-key-rsa"]["public_jwk"]},
            {"kid": "test-key-rsa", "alg": "RS256", "pem": pem("test-key-rsa")},
            {"kid": "test-key-rsa-pss", "alg": "PS512", "pem": pem("test-key-rsa-pss")},
            {"kid": "test-key-ecc-p256", "alg": "ES256", "pem": pem("test-key-ecc-p256")},
            {"kid": "test-key-ed25519", "alg": "EdDSA", "pem": pem("test-key-ed25519")},
        ],
        "hmac_secrets": [
            {"kid": "body-hmac", "secret_b64": STANDARD.encode(HMAC_SECRET)},
            {"kid": "test-shared-secret", "secret_b64": k["test-shared-secret"]["secret_base64"]},
        ]
    })
    .to_string()
}

/// One verification as WebCrypto would do it; `body` is the request body as read so far (a
/// job over the body is verified over it, as the adapter does once it has read it).
fn host_verify(job: &SigJob, body: Option<&[u8]>) -> bool {
    let der = match &job.key.material {
        Material::Spki(der) => der.clone(),
        Material::Jwk(m) => {
            let get = |n: &str| {
                let v = &m.iter().find(|(k, _)| *k == n).unwrap().1;
                rsa::BigUint::from_bytes_be(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(v)
                        .unwrap(),
                )
            };
            use rsa::pkcs8::EncodePublicKey;
            rsa::RsaPublicKey::new(get("n"), get("e"))
                .unwrap()
                .to_public_key_der()
                .unwrap()
                .into_vec()
        }
        Material::Secret(_) => panic!("HMAC is verified by the core"),
    };
    let der = &der;
    let data = match (job.over_body, body) {
        (false, _) => &job.data[..],
        (true, Some(b)) => b,
        // The body could not be read (too large, failed): the adapter answers false.
        (true, None) => return false,
    };
    let sig = &job.signature[..];
    match (job.wc.name, job.wc.hash) {
        ("RSASSA-PKCS1-v1_5", Some(h)) => {
            let key = rsa::RsaPublicKey::from_public_key_der(der).unwrap();
            let Ok(s) = rsa::pkcs1v15::Signature::try_from(sig) else {
                return false;
            };
            match h {
                "SHA-1" => rsa::pkcs1v15::VerifyingKey::<sha1::Sha1>::new(key).verify(data, &s),
                "SHA-256" => rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(key).verify(data, &s),
                "SHA-384" => rsa::pkcs1v15::VerifyingKey::<sha2::Sha384>::new(key).verify(data, &s),
                "SHA-512" => rsa::pkcs1v15::VerifyingKey::<sha2::Sha512>::new(key).verify(data, &s),
                other => panic!("hash {other}"),
            }
            .is_ok()
        }
        ("RSA-PSS", Some("SHA-512")) => {
            assert_eq!(job.wc.salt_length, Some(64));
            let key = rsa::RsaPublicKey::from_public_key_der(der).unwrap();
            let Ok(s) = rsa::pss::Signature::try_from(sig) else {
                return false;
            };
            rsa::pss::VerifyingKey::<sha2::Sha512>::new(key)
                .verify(data, &s)
                .is_ok()
        }
        ("ECDSA", Some("SHA-256")) => {
            use p256::ecdsa::signature::Verifier as _;
            let key =
                <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(
                    der,
                )
                .unwrap();
            let Ok(s) = p256::ecdsa::Signature::from_slice(sig) else {
                return false;
            };
            key.verify(data, &s).is_ok()
        }
        ("Ed25519", None) => {
            let key = ed25519_compact::PublicKey::from_slice(&der[12..]).unwrap();
            let Ok(s) = ed25519_compact::Signature::from_slice(sig) else {
                return false;
            };
            key.verify(data, &s).is_ok()
        }
        other => panic!("unexpected WebCrypto parameters {other:?}"),
    }
}

/// A gateway over an in-memory KV and nonce store.
struct Gateway {
    policy: Policy,
    store: HashMap<String, String>,
    cache: RecordCache,
    /// The nonce store: key → until (ms, exclusive), with the Durable Object's rules.
    nonces: HashMap<String, u64>,
    /// How much later than the request's arrival the store sees a claim (a slow body).
    store_delay_ms: u64,
    /// The nonce store does not answer in time (the adapter's limit fired).
    store_times_out: bool,
    /// The client does not send its body in time (the adapter's limit, `timeouts.body_ms`).
    body_times_out: bool,
    body_reads: usize,
    verifications: usize,
    /// Rounds of needs the last request took (what the adapter would wait for).
    rounds: usize,
}

impl Gateway {
    fn new(ds: Value) -> Gateway {
        let policy = compile(&json!({"apis": [{
            "name": "pay", "base_path": "/", "origin": "https://origin.example",
            "interceptors": [{"type": "client_id"}, ds]
        }]}))
        .unwrap_or_else(|e| panic!("{e}"));
        let mut store = HashMap::new();
        store.insert(format!("app:{CLIENT}"), app_record());
        // Another app of the same organisation, registered with the same keys.
        store.insert(format!("app:{OTHER}"), app_record());
        Gateway {
            cache: RecordCache::new(policy.cache),
            policy,
            store,
            nonces: HashMap::new(),
            store_delay_ms: 0,
            store_times_out: false,
            body_times_out: false,
            body_reads: 0,
            verifications: 0,
            rounds: 0,
        }
    }

    /// Runs a request; `body` is what the adapter would read when asked.
    fn run(&mut self, req: &TestRequest, body: Option<&[u8]>, now_s: i64) -> Decision {
        let now_ms = now_s as u64 * 1000;
        let mut req = req.clone();
        let mut fetched: HashMap<String, Slot> = HashMap::new();
        let mut settled: HashMap<String, Settled> = HashMap::new();
        self.rounds = 0;
        for _ in 0..8 {
            let input = Input {
                req: &req,
                now_ms,
                request_id: "r",
            };
            let source = WithSettled {
                inner: Layered {
                    fetched: &fetched,
                    cache: &self.cache,
                    now_ms,
                },
                settled: &settled,
            };
            let needs = match decide(&self.policy, &input, &source) {
                Step::Done(d) => return d,
                Step::Need(n) => n,
            };
            self.rounds += 1;
            for need in needs {
                match need {
                    Need::Kv(k) => {
                        let slot = Slot::from_store(&k, self.store.get(&k).map(String::as_str));
                        fetched.insert(k, slot);
                    }
                    Need::Body(max) => {
                        self.body_reads += 1;
                        let b = body.unwrap_or_default();
                        if self.body_times_out {
                            settled.insert(
                                BODY_ID.into(),
                                Settled::TimedOut(
                                    "reading the request body: the client did not answer \
                                     within 30000 ms"
                                        .into(),
                                ),
                            );
                        } else if b.len() as u64 > max {
                            // The reader stops beyond the limit.
                            settled.insert(BODY_ID.into(), Settled::TooLarge);
                        } else {
                            req.body = Some(b.to_vec());
                        }
                    }
                    Need::Signature(job) => {
                        self.verifications += 1;
                        let v = if host_verify(&job, req.body.as_deref()) {
                            Settled::Yes
                        } else {
                            Settled::No
                        };
                        settled.insert(job.id.clone(), v);
                    }
                    Need::Nonce(claim) => {
                        assert!(claim.shard < 1024);
                        // As nonce_store.rs: late when the window has closed by the store's
                        // clock; replayed while a live claim holds the key; else claimed.
                        let store_now = now_ms + self.store_delay_ms;
                        let answer = if self.store_times_out {
                            Settled::TimedOut("did not answer within 5000 ms".into())
                        } else if claim.until_ms <= store_now {
                            Settled::Late
                        } else if self.nonces.get(&claim.key).is_some_and(|&u| u > store_now) {
                            Settled::No
                        } else {
                            self.nonces.insert(claim.key.clone(), claim.until_ms);
                            Settled::Yes
                        };
                        settled.insert(claim.id.clone(), answer);
                    }
                    other => panic!("unexpected need {other:?}"),
                }
            }
        }
        panic!("too many rounds")
    }
}

/// The Digital Signature interceptor's trace entry of a decision.
fn ds_entry(d: &Decision) -> &Entry {
    d.trace
        .entries
        .iter()
        .find(|e| e.interceptor == "digital_signature")
        .expect("a digital_signature entry")
}

fn denied(d: &Decision, body: &str, cause: Cause) {
    match &d.answer {
        Answer::Reply(r) => {
            assert_eq!((r.status, &*r.body), (401, body), "{:?}", d.trace);
        }
        Answer::Forward(_) => panic!("passed: {:?}", d.trace),
    }
    let e = ds_entry(d);
    assert_eq!(e.cause, Some(cause), "{e:?}");
}

fn passed(d: &Decision) {
    assert!(
        matches!(d.answer, Answer::Forward(_)),
        "expected a pass: {:?}",
        d.trace
    );
    assert_eq!(d.outcome, Outcome::Pass);
}

// ---------------------------------------------------------------------------------------------
// Body mode

fn private_key() -> rsa::RsaPrivateKey {
    let pem = read("bodysig/rsa-2048.pem");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    rsa::RsaPrivateKey::from_pkcs8_der(&STANDARD.decode(b64).unwrap()).unwrap()
}

fn sign_body(alg: &str, body: &[u8]) -> String {
    use rsa::pkcs1v15::SigningKey;
    let k = private_key();
    let sig = match alg {
        "SHA1withRSA" => SigningKey::<sha1::Sha1>::new(k).sign(body).to_vec(),
        "SHA224withRSA" => SigningKey::<sha2::Sha224>::new(k).sign(body).to_vec(),
        "SHA256withRSA" => SigningKey::<sha2::Sha256>::new(k).sign(body).to_vec(),
        "SHA384withRSA" => SigningKey::<sha2::Sha384>::new(k).sign(body).to_vec(),
        "SHA512withRSA" => SigningKey::<sha2::Sha512>::new(k).sign(body).to_vec(),
        "HmacSHA256" => {
            use hmac::Mac;
            let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(HMAC_SECRET).unwrap();
            m.update(body);
            m.finalize().into_bytes().to_vec()
        }
        other => panic!("{other}"),
    };
    STANDARD.encode(sig)
}

fn body_req(sig: Option<&str>, len: usize) -> TestRequest {
    let mut r = TestRequest::new("POST", "https://gw.example/orders")
        .with_header("client_id", CLIENT)
        .with_header("content-length", &len.to_string());
    if let Some(s) = sig {
        r = r.with_header("signature", s);
    }
    r
}

const ALGS: [&str; 6] = [
    "SHA1withRSA",
    "SHA224withRSA",
    "SHA256withRSA",
    "SHA384withRSA",
    "SHA512withRSA",
    "HmacSHA256",
];

#[test]
fn body_mode_every_algorithm_passes_and_refuses_an_altered_body() {
    let body = br#"{"order":42,"amount":"10.00"}"#;
    for alg in ALGS {
        let mut gw = Gateway::new(json!({"type": "digital_signature", "algorithm": alg}));
        let sig = sign_body(alg, body);
        passed(&gw.run(&body_req(Some(&sig), body.len()), Some(body), 0));
        assert_eq!(gw.body_reads, 1, "{alg}");
        let altered = br#"{"order":42,"amount":"99.00"}"#;
        let d = gw.run(&body_req(Some(&sig), altered.len()), Some(altered), 0);
        denied(&d, BODY_MSG, Cause::BadSignature);
        // WebCrypto only for the algorithms it has.
        let rust = alg == "SHA224withRSA" || alg == "HmacSHA256";
        assert_eq!(gw.verifications == 0, rust, "{alg}");
    }
}

#[test]
fn body_mode_reads_and_verifies_in_one_round() {
    // Two rounds: the app's record (this harness keeps no cache), then the body. A signature
    // that WebCrypto verifies is asked with the body and verified over it as soon as it is
    // read (it took a third round before); one verified in Rust needs only the body.
    let body = br#"{"order":42}"#;
    for alg in ALGS {
        let mut gw = Gateway::new(json!({"type": "digital_signature", "algorithm": alg}));
        let sig = sign_body(alg, body);
        passed(&gw.run(&body_req(Some(&sig), body.len()), Some(body), 0));
        assert_eq!(gw.rounds, 2, "{alg}");
        let d = gw.run(&body_req(Some(&sig), 3), Some(b"{ }"), 0);
        denied(&d, BODY_MSG, Cause::BadSignature);
        assert_eq!(gw.rounds, 2, "{alg}");
    }
    // A body too large for the limit, read without a Content-Length: the verification asked
    // with it never counts (the 413 comes first).
    let mut gw = Gateway::new(
        json!({"type": "digital_signature", "algorithm": "SHA256withRSA", "max_body_bytes": 4}),
    );
    let sig = sign_body("SHA256withRSA", b"12345");
    let r = TestRequest::new("POST", "https://gw.example/orders")
        .with_header("client_id", CLIENT)
        .with_header("signature", &sig);
    let d = gw.run(&r, Some(b"12345"), 0);
    assert!(
        matches!(&d.answer, Answer::Reply(r) if r.status == 413),
        "{:?}",
        d.trace
    );
}

#[test]
fn body_mode_refuses_missing_malformed_and_untrimmed_signatures() {
    let mut gw = Gateway::new(json!({"type": "digital_signature", "algorithm": "HmacSHA256"}));
    let d = gw.run(&body_req(None, 1), Some(b"x"), 0);
    denied(&d, BODY_MSG, Cause::Missing);
    let good = sign_body("HmacSHA256", b"x");
    for bad in [
        "%%%".to_string(),
        format!(" {good}"),
        format!("{good} "),
        good.trim_end_matches('=').to_string(),
        good.replace('+', "-").replace('/', "_"),
    ] {
        if bad == good {
            continue;
        }
        let d = gw.run(&body_req(Some(&bad), 1), Some(b"x"), 0);
        denied(&d, BODY_MSG, Cause::Malformed);
    }
    assert_eq!(
        gw.body_reads, 0,
        "a malformed signature never reads the body"
    );
    passed(&gw.run(&body_req(Some(&good), 1), Some(b"x"), 0));
}

#[test]
fn body_mode_with_a_wrong_key_an_empty_body_and_the_query() {
    // Signed by a key the app does not have.
    let other = {
        use rsa::pkcs1v15::SigningKey;
        let k = rsa::RsaPrivateKey::new(&mut rand_core_os(), 1024).unwrap();
        STANDARD.encode(SigningKey::<sha2::Sha256>::new(k).sign(b"{}").to_vec())
    };
    let mut gw = Gateway::new(json!({"type": "digital_signature", "algorithm": "SHA256withRSA"}));
    denied(
        &gw.run(&body_req(Some(&other), 2), Some(b"{}"), 0),
        BODY_MSG,
        Cause::BadSignature,
    );
    // The empty body signs the empty string.
    let mut gw = Gateway::new(json!({"type": "digital_signature", "algorithm": "HmacSHA256"}));
    passed(&gw.run(
        &body_req(Some(&sign_body("HmacSHA256", b"")), 0),
        Some(b""),
        0,
    ));
    // Query parameter.
    let mut gw = Gateway::new(
        json!({"type": "digital_signature", "algorithm": "SHA384withRSA", "location": "query", "name": "sig"}),
    );
    let sig = sign_body("SHA384withRSA", b"{}");
    let url = format!(
        "https://gw.example/orders?sig={}",
        form_urlencoded::byte_serialize(sig.as_bytes()).collect::<String>()
    );
    let r = TestRequest::new("POST", &url).with_header("client_id", CLIENT);
    passed(&gw.run(&r, Some(b"{}"), 0));
    let d = gw.run(&r, Some(b"{ }"), 0);
    denied(
        &d,
        "Digital Signature in the request, identified by QUERY_PARAM sig, is invalid. Check docs.sensedia.com",
        Cause::BadSignature,
    );
}

fn rand_core_os() -> impl rsa::rand_core::CryptoRngCore {
    // A deterministic generator is enough for a key that only has to differ from the app's.
    struct Xs(u64);
    impl rsa::rand_core::RngCore for Xs {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = self.next_u64() as u8;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rsa::rand_core::CryptoRng for Xs {}
    Xs(0x9e37_79b9_7f4a_7c15)
}

#[test]
fn body_mode_limits_the_body_and_fails_closed() {
    let mut gw = Gateway::new(
        json!({"type": "digital_signature", "algorithm": "HmacSHA256", "max_body_bytes": 4}),
    );
    let sig = sign_body("HmacSHA256", b"12345");
    // Content-Length says too much: refused before reading.
    let d = gw.run(&body_req(Some(&sig), 5), Some(b"12345"), 0);
    assert!(matches!(&d.answer, Answer::Reply(r) if r.status == 413));
    assert_eq!(gw.body_reads, 0);
    // No Content-Length (chunked): read, then refused.
    let r = TestRequest::new("POST", "https://gw.example/x")
        .with_header("client_id", CLIENT)
        .with_header("signature", &sig);
    let d = gw.run(&r, Some(b"12345"), 0);
    assert!(matches!(&d.answer, Answer::Reply(r) if r.status == 413));
}

#[test]
fn body_mode_a_body_not_sent_in_time_is_a_408_and_never_passes() {
    for alg in ["HmacSHA256", "SHA256withRSA"] {
        let mut gw = Gateway::new(json!({"type": "digital_signature", "algorithm": alg}));
        let body = b"{\"amount\": 10}";
        let sig = sign_body(alg, body);
        gw.body_times_out = true;
        let d = gw.run(&body_req(Some(&sig), body.len()), Some(body), 0);
        match &d.answer {
            Answer::Reply(r) => assert_eq!((r.status, &*r.body), (408, "Request Timeout"), "{alg}"),
            Answer::Forward(_) => panic!("{alg}: passed: {:?}", d.trace),
        }
        let e = ds_entry(&d);
        assert_eq!(e.cause, Some(Cause::BodyTimeout), "{alg}");
        assert_eq!(d.outcome, Outcome::Fault, "{alg}");
        assert!(
            e.detail.as_deref().unwrap().contains("within 30000 ms"),
            "{alg}"
        );
        // Sent in time, the same request passes.
        gw.body_times_out = false;
        passed(&gw.run(&body_req(Some(&sig), body.len()), Some(body), 0));
    }
}

#[test]
fn body_mode_configuration_errors_are_listed() {
    for (cfg, want) in [
        (
            json!({"type": "digital_signature", "algorithm": "MD5withRSA"}),
            "MD5 collisions",
        ),
        (
            json!({"type": "digital_signature", "algorithm": "MD2withRSA"}),
            "MD2 is broken",
        ),
        (
            json!({"type": "digital_signature", "algorithm": "SHA256WithRSA"}),
            "SHA256withRSA",
        ),
        (
            json!({"type": "digital_signature"}),
            "missing field \"algorithm\"",
        ),
        (
            json!({"type": "digital_signature", "algorithm": "HmacSHA256", "location": "cookie"}),
            "unknown value \"cookie\"",
        ),
        (
            json!({"type": "digital_signature", "algorithm": "HmacSHA256", "nonce_shards": 4}),
            "only for mode \"http_message_signatures\"",
        ),
        (
            json!({"type": "digital_signature", "mode": "http_message_signatures", "algorithm": "HmacSHA256"}),
            "only for mode \"body\"",
        ),
        (
            json!({"type": "digital_signature", "mode": "http_message_signatures", "algorithms": ["hs256"]}),
            "unknown algorithm",
        ),
        (
            json!({"type": "digital_signature", "mode": "http_message_signatures", "required_components": ["@status"]}),
            "is not a request component",
        ),
        (
            json!({"type": "digital_signature", "mode": "http_message_signatures", "max_age_seconds": 9_223_372_036_854_775_000u64}),
            "max_age_seconds: must be 1 to 1000000000",
        ),
        (
            json!({"type": "digital_signature", "mode": "http_message_signatures", "clock_skew_seconds": 86_400}),
            "clock_skew_seconds: must be at most 3600",
        ),
    ] {
        let e = compile(
            &json!({"apis": [{"name": "a", "base_path": "/a", "origin": "https://o",
            "interceptors": [{"type": "client_id"}, cfg]}]}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(want), "{want:?} not in {e}");
    }
}

#[test]
fn digital_signature_needs_an_identified_app_before_it() {
    let ds = json!({"type": "digital_signature", "algorithm": "HmacSHA256"});
    let e = compile(
        &json!({"apis": [{"name": "a", "base_path": "/a", "origin": "https://o",
        "interceptors": [ds, {"type": "client_id"}]}]}),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("interceptors[0]: needs an app identified by an earlier interceptor"),
        "{e}"
    );
    // A JWT without identity claims identifies nobody.
    let e = compile(&json!({"apis": [{"name": "a", "base_path": "/a", "origin": "https://o",
        "interceptors": [{"type": "jwt", "issuers": [{"issuer": "i", "kv_keys": true, "algorithms": ["HS256"]}]}, ds]}]}))
    .unwrap_err()
    .to_string();
    assert!(e.contains("needs an app identified"), "{e}");
    // An API-level identification covers its resources.
    compile(
        &json!({"apis": [{"name": "a", "base_path": "/a", "origin": "https://o",
        "interceptors": [{"type": "oauth"}],
        "resources": [{"name": "r", "path": "/", "methods": ["POST"], "interceptors": [ds]}]}]}),
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// RFC 9421

fn hms(extra: Value) -> Value {
    let mut v = json!({
        "type": "digital_signature",
        "mode": "http_message_signatures",
        "required_components": [],
        "require_content_digest": false,
        "require_nonce": false,
        "max_age_seconds": 300
    });
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

/// The Appendix B request of `section`, with its signature and our client id.
fn rfc_request(section: &str) -> (TestRequest, Option<Vec<u8>>) {
    let c = rfc_case(section);
    let r = &c["request"];
    let mut t = TestRequest::new(r["method"].as_str().unwrap(), r["url"].as_str().unwrap());
    for h in r["headers"].as_array().unwrap() {
        t = t.with_header(h[0].as_str().unwrap(), h[1].as_str().unwrap());
    }
    t = t
        .with_header("Signature-Input", c["signature_input"].as_str().unwrap())
        .with_header("Signature", c["signature"].as_str().unwrap())
        .with_header("client_id", CLIENT);
    let body = r["body"].as_str().map(|b| b.as_bytes().to_vec());
    (t, body)
}

fn replace_header(r: &TestRequest, name: &str, value: &str) -> TestRequest {
    let mut r = r.clone();
    for h in &mut r.headers {
        if h.0.eq_ignore_ascii_case(name) {
            h.1 = value.to_string();
        }
    }
    r
}

const NOW: i64 = RFC_CREATED + 60;

#[test]
fn rfc9421_appendix_b_requests_verify_through_the_pipeline() {
    for section in ["B.2.1", "B.2.2", "B.2.3", "B.2.5", "B.2.6", "3.2", "B.3"] {
        let mut gw = Gateway::new(hms(json!({})));
        let (r, body) = rfc_request(section);
        passed(&gw.run(&r, body.as_deref(), NOW));
        let hmac = section == "B.2.5";
        assert_eq!(gw.verifications, usize::from(!hmac), "{section}");
        // The body is read only when content-digest is covered.
        let covers_digest = rfc_case(section)["signature_input"]
            .as_str()
            .unwrap()
            .contains("\"content-digest\"");
        assert_eq!(gw.body_reads, usize::from(covers_digest), "{section}");
    }
}

#[test]
fn rfc9421_b_2_4_response_signature_is_refused_for_a_request() {
    // B.2.4 covers @status: a request cannot carry it.
    let mut gw = Gateway::new(hms(json!({})));
    let c = rfc_case("B.2.4");
    let r = TestRequest::new("POST", "https://example.com/foo")
        .with_header("client_id", CLIENT)
        .with_header("Signature-Input", c["signature_input"].as_str().unwrap())
        .with_header("Signature", c["signature"].as_str().unwrap());
    denied(&gw.run(&r, None, NOW), HMS_MSG, Cause::Malformed);
}

#[test]
fn rfc9421_every_cause() {
    // Altered covered header: bad signature (HMAC in Rust, Ed25519 in "WebCrypto").
    for section in ["B.2.5", "B.2.6"] {
        let mut gw = Gateway::new(hms(json!({})));
        let (r, body) = rfc_request(section);
        let r = replace_header(&r, "Date", "Tue, 20 Apr 2021 02:07:56 GMT");
        denied(
            &gw.run(&r, body.as_deref(), NOW),
            HMS_MSG,
            Cause::BadSignature,
        );
    }
    // Replay: B.2.1 carries a nonce.
    let mut gw = Gateway::new(hms(json!({})));
    let (r, body) = rfc_request("B.2.1");
    passed(&gw.run(&r, body.as_deref(), NOW));
    denied(&gw.run(&r, body.as_deref(), NOW), HMS_MSG, Cause::Replayed);
    // A nonce is claimed only by a valid signature.
    let mut gw = Gateway::new(hms(json!({})));
    let bad = replace_header(
        &r,
        "Signature",
        &rfc_case("B.2.2")["signature"]
            .as_str()
            .unwrap()
            .replace("sig-b22", "sig-b21"),
    );
    denied(
        &gw.run(&bad, body.as_deref(), NOW),
        HMS_MSG,
        Cause::BadSignature,
    );
    assert!(gw.nonces.is_empty());
    passed(&gw.run(&r, body.as_deref(), NOW));
    // Nonce required: B.2.2 has none.
    let mut gw = Gateway::new(hms(json!({"require_nonce": true})));
    let (r, body) = rfc_request("B.2.2");
    denied(&gw.run(&r, body.as_deref(), NOW), HMS_MSG, Cause::Missing);
    // Digest mismatch: B.2.2 covers content-digest; another body.
    let mut gw = Gateway::new(hms(json!({})));
    denied(
        &gw.run(&r, Some(b"{\"hello\": \"World\"}"), NOW),
        HMS_MSG,
        Cause::DigestMismatch,
    );
    // A body without content-digest covered (B.2.5 has a body, covers no digest).
    let mut gw = Gateway::new(hms(json!({"require_content_digest": true})));
    let (r5, body5) = rfc_request("B.2.5");
    denied(
        &gw.run(&r5, body5.as_deref(), NOW),
        HMS_MSG,
        Cause::MissingComponent,
    );
    // Required component not covered.
    let mut gw = Gateway::new(hms(json!({"required_components": ["@method"]})));
    denied(
        &gw.run(&r5, body5.as_deref(), NOW),
        HMS_MSG,
        Cause::MissingComponent,
    );
    // Too old, from the future, past expires.
    let mut gw = Gateway::new(hms(json!({})));
    denied(
        &gw.run(&r5, None, RFC_CREATED + 3600),
        HMS_MSG,
        Cause::Expired,
    );
    denied(
        &gw.run(&r5, None, RFC_CREATED - 3600),
        HMS_MSG,
        Cause::ClockSkew,
    );
    passed(&gw.run(&r5, None, RFC_CREATED - 10)); // within the skew
                                                  // Algorithm not allowed, and an alg parameter that contradicts the key.
    let mut gw = Gateway::new(hms(json!({"algorithms": ["ed25519"]})));
    denied(&gw.run(&r5, None, NOW), HMS_MSG, Cause::AlgNotAllowed);
    let mut gw = Gateway::new(hms(json!({})));
    let (r6, _) = rfc_request("B.2.6");
    let input = rfc_case("B.2.6")["signature_input"]
        .as_str()
        .unwrap()
        .to_string()
        + ";alg=\"hmac-sha256\"";
    let r6b = replace_header(&r6, "Signature-Input", &input);
    denied(&gw.run(&r6b, None, NOW), HMS_MSG, Cause::AlgNotAllowed);
    // Unknown key.
    let input = rfc_case("B.2.6")["signature_input"]
        .as_str()
        .unwrap()
        .replace("test-key-ed25519", "nope");
    denied(
        &gw.run(&replace_header(&r6, "Signature-Input", &input), None, NOW),
        HMS_MSG,
        Cause::UnknownKey,
    );
    // A body key (RS256, not pinned to an RFC 9421 algorithm it could verify) is usable only
    // for rsa-v1_5-sha256; RS384 never.
    let input = rfc_case("B.2.6")["signature_input"]
        .as_str()
        .unwrap()
        .replace("test-key-ed25519", "body-rsa-jwk");
    denied(
        &gw.run(&replace_header(&r6, "Signature-Input", &input), None, NOW),
        HMS_MSG,
        Cause::UnknownKey,
    );
    // Missing and malformed headers.
    let plain = TestRequest::new("GET", "https://example.com/").with_header("client_id", CLIENT);
    denied(&gw.run(&plain, None, NOW), HMS_MSG, Cause::Missing);
    for (i, s) in [
        ("sig=(\"@method\"", "sig=:AAAA:"),
        ("sig=(\"@method\");created=1", "sig=AAAA"),
        ("sig=(\"@method\");created=1", "other=:AAAA:"),
        ("sig=();keyid=\"test-shared-secret\"", "sig=:AAAA:"),
    ] {
        let r = plain
            .clone()
            .with_header("Signature-Input", i)
            .with_header("Signature", s);
        let d = gw.run(&r, None, NOW);
        let e = ds_entry(&d);
        assert!(
            matches!(e.cause, Some(Cause::Malformed | Cause::Missing)),
            "{i} {s}: {e:?}"
        );
        assert!(matches!(&d.answer, Answer::Reply(r) if r.status == 401));
    }
}

#[test]
fn rfc9421_nonces_spread_over_shards() {
    let mut gw = Gateway::new(hms(json!({"nonce_shards": 8})));
    let (r, body) = rfc_request("B.2.1");
    passed(&gw.run(&r, body.as_deref(), NOW));
    assert_eq!(gw.nonces.len(), 1);
}

fn without_header(r: &TestRequest, name: &str) -> TestRequest {
    let mut r = r.clone();
    r.headers.retain(|h| !h.0.eq_ignore_ascii_case(name));
    r
}

#[test]
fn rfc9421_a_body_of_unknown_length_is_read_to_see_whether_it_must_be_covered() {
    // B.2.5 covers date, @authority and content-type, not content-digest.
    let (r, body) = rfc_request("B.2.5");
    let chunked = without_header(&r, "Content-Length");
    // No Content-Length and a body: read, then refused.
    let mut gw = Gateway::new(hms(json!({"require_content_digest": true})));
    denied(
        &gw.run(&chunked, body.as_deref(), NOW),
        HMS_MSG,
        Cause::MissingComponent,
    );
    assert_eq!(gw.body_reads, 1);
    // No Content-Length and an empty body: read, nothing to cover, passes.
    let mut gw = Gateway::new(hms(json!({"require_content_digest": true})));
    passed(&gw.run(&chunked, Some(b""), NOW));
    assert_eq!(gw.body_reads, 1);
    // Content-Length: 0 — nothing read.
    let mut gw = Gateway::new(hms(json!({"require_content_digest": true})));
    passed(&gw.run(&replace_header(&r, "Content-Length", "0"), Some(b""), NOW));
    assert_eq!(gw.body_reads, 0);
    // A GET's body is never forwarded: nothing read, nothing required.
    let mut get = chunked.clone();
    get.method = "GET".into();
    let c = rfc_case("B.2.5");
    assert!(!c["signature_input"].as_str().unwrap().contains("@method"));
    passed(&gw.run(&get, body.as_deref(), NOW));
    assert_eq!(gw.body_reads, 0);
}

#[test]
fn rfc9421_replays_are_refused_up_to_the_last_instant_of_the_window() {
    // B.2.1 carries a nonce; created + 300 s + 30 s skew is its last accepted second.
    let (r, body) = rfc_request("B.2.1");
    let last = RFC_CREATED + 330;
    let mut gw = Gateway::new(hms(json!({})));
    // First use in the last second, 500 ms before it ends: accepted; the same request in the
    // same second: a replay (the claim is kept until the second has passed).
    let at = |gw: &mut Gateway| gw.run(&r, body.as_deref(), last);
    passed(&at(&mut gw));
    denied(&at(&mut gw), HMS_MSG, Cause::Replayed);
    let claimed: Vec<u64> = gw.nonces.values().copied().collect();
    assert_eq!(claimed, vec![(last as u64 + 1) * 1000]);
    // A second later the window itself refuses it.
    denied(
        &gw.run(&r, body.as_deref(), last + 1),
        HMS_MSG,
        Cause::Expired,
    );
}

#[test]
fn rfc9421_a_claim_that_reaches_the_store_after_the_window_is_refused() {
    // A slow body: the request arrived inside the window, its claim reached the store after it.
    let (r, body) = rfc_request("B.2.1");
    let mut gw = Gateway::new(hms(json!({})));
    gw.store_delay_ms = 2_000;
    denied(
        &gw.run(&r, body.as_deref(), RFC_CREATED + 330),
        HMS_MSG,
        Cause::Expired,
    );
    assert!(gw.nonces.is_empty());
}

#[test]
fn rfc9421_a_nonce_store_too_slow_to_answer_fails_closed() {
    let (r, body) = rfc_request("B.2.1");
    let mut gw = Gateway::new(hms(json!({})));
    gw.store_times_out = true;
    let d = gw.run(&r, body.as_deref(), NOW);
    match &d.answer {
        Answer::Reply(r) => assert_eq!((r.status, &*r.body), (503, "Service Unavailable")),
        Answer::Forward(_) => panic!("passed: {:?}", d.trace),
    }
    let e = ds_entry(&d);
    assert_eq!(e.cause, Some(Cause::StoreTimeout));
    assert_eq!(d.outcome, Outcome::Fault);
    // Once the store answers, the same request passes (nothing was claimed or cached).
    gw.store_times_out = false;
    passed(&gw.run(&r, body.as_deref(), NOW));
}

#[test]
fn rfc9421_nonces_belong_to_the_key_not_to_the_app_presenting_it() {
    // Two apps registered with the same key: a request replayed under the other client id
    // (client_id is not covered) is still a replay.
    let (r, body) = rfc_request("B.2.1");
    let mut gw = Gateway::new(hms(json!({})));
    passed(&gw.run(&r, body.as_deref(), NOW));
    let as_other = replace_header(&r, "client_id", OTHER);
    denied(
        &gw.run(&as_other, body.as_deref(), NOW),
        HMS_MSG,
        Cause::Replayed,
    );
}

#[test]
fn rfc9421_a_keyed_content_digest_does_not_count_as_covering_the_body() {
    use edge_interceptors::crypto::digest::{content_digest, DigestAlg};
    use edge_interceptors::crypto::httpsig::{parse_signatures, signature_base};
    use hmac::Mac;
    let secret = STANDARD
        .decode(
            rfc_keys()["test-shared-secret"]["secret_base64"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let body = br#"{"amount":1}"#;
    let input = format!(
        "sig=(\"@method\" \"@target-uri\" \"content-digest\";key=\"sha-256\");created={NOW};keyid=\"test-shared-secret\""
    );
    let mut r = TestRequest::new("POST", "https://example.com/pay")
        .with_header("client_id", CLIENT)
        .with_header("content-length", &body.len().to_string())
        .with_header("Content-Digest", &content_digest(DigestAlg::Sha256, body))
        .with_header("Signature-Input", &input)
        .with_header("Signature", "sig=:AAAA:");
    let sig = parse_signatures(&input, "sig=:AAAA:").unwrap().remove(0);
    let base = signature_base(&r, &sig).unwrap();
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
    m.update(base.as_bytes());
    let value = format!("sig=:{}:", STANDARD.encode(m.finalize().into_bytes()));
    r = replace_header(&r, "Signature", &value);
    // Not required to cover the body: the signature itself is valid.
    let mut gw = Gateway::new(hms(json!({"require_content_digest": false})));
    passed(&gw.run(&r, Some(body), NOW));
    // Required: a member of the field is not the field.
    let mut gw = Gateway::new(hms(json!({"require_content_digest": true})));
    denied(
        &gw.run(&r, Some(body), NOW),
        HMS_MSG,
        Cause::MissingComponent,
    );
}

/// Issue 12: WebCrypto rejects an Ed25519 signature of the wrong length (instead of answering
/// false), which the adapter took for an unusable key (500). Signatures of a fixed-length
/// algorithm (ed25519, ecdsa-p256-sha256) with another length are bad signatures (401),
/// decided without handing them to the runtime.
#[test]
fn rfc9421_a_signature_of_the_wrong_length_is_a_bad_signature_not_a_fault() {
    for (section, valid_len) in [("B.2.6", 64usize), ("B.2.5", 32)] {
        let (r, body) = rfc_request(section);
        for len in [0usize, 1, 3, 63, 65, 128, 512] {
            if len == valid_len {
                continue;
            }
            let mut gw = Gateway::new(hms(json!({})));
            let label = rfc_case(section)["signature"]
                .as_str()
                .unwrap()
                .split('=')
                .next()
                .unwrap()
                .to_string();
            let sig = format!("{label}=:{}:", STANDARD.encode(vec![7u8; len]));
            let d = gw.run(&replace_header(&r, "Signature", &sig), body.as_deref(), NOW);
            denied(&d, HMS_MSG, Cause::BadSignature);
            assert_eq!(
                gw.verifications, 0,
                "{section} {len}: nothing for WebCrypto"
            );
            let e = ds_entry(&d);
            if section == "B.2.6" {
                assert!(
                    e.detail
                        .as_deref()
                        .unwrap()
                        .contains(&format!("is {len} bytes; a valid one is 64")),
                    "{e:?}"
                );
            }
        }
    }
}
