//! RFC 9421 Appendix B (and §2.5/§3.2) on the host: the signature base built from each example
//! request equals the RFC text byte for byte, each RFC signature verifies (HMAC with the crate's
//! own code; RSA-PSS, ECDSA P-256 and Ed25519 with pure-Rust verifiers standing in for the
//! runtime's WebCrypto), the deterministic ones (Ed25519, HMAC) are reproduced exactly, and
//! changing any covered part of the request, or a signature parameter, makes verification fail.
#![cfg(not(target_arch = "wasm32"))]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use edge_interceptors::base::request::TestRequest;
use edge_interceptors::crypto::httpsig::{
    parse_signatures, signature_base, verify_hmac_sha256, Algorithm, Component, Error, Signature,
};
use serde_json::Value;

mod common;
use common::{load, verify, RFC9421 as DIR};

fn request(v: &Value) -> TestRequest {
    let mut r = TestRequest::new(v["method"].as_str().unwrap(), v["url"].as_str().unwrap());
    for h in v["headers"].as_array().unwrap() {
        r = r.with_header(h[0].as_str().unwrap(), h[1].as_str().unwrap());
    }
    r
}

fn parse_case(c: &Value) -> Signature {
    let mut sigs = parse_signatures(
        c["signature_input"].as_str().unwrap(),
        c["signature"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(sigs.len(), 1);
    let s = sigs.remove(0);
    assert_eq!(s.label, c["label"].as_str().unwrap());
    s
}

/// The request with the value of one covered component changed by one byte.
fn mutate(r: &TestRequest, c: &Component) -> TestRequest {
    let mut m = r.clone();
    let scheme_end = m.url.find("://").unwrap() + 3;
    match c.name.as_str() {
        "@method" => m.method.replace_range(0..1, "X"),
        "@authority" | "@target-uri" => m.url.insert(scheme_end, 'x'),
        "@path" | "@request-target" => {
            let slash = scheme_end + m.url[scheme_end..].find('/').unwrap();
            m.url.insert(slash + 1, 'x');
        }
        "@query" => m.url.push('x'),
        "@query-param" => {
            let at = m
                .url
                .find(&format!("{}=", c.query_name().unwrap()))
                .unwrap();
            let eq = at + m.url[at..].find('=').unwrap();
            m.url.insert(eq + 1, 'x');
        }
        name => {
            let h = m
                .headers
                .iter_mut()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .unwrap();
            let last = h.1.pop().unwrap();
            h.1.push(if last == 'x' { 'y' } else { 'x' });
        }
    }
    m
}

#[test]
fn appendix_b_signature_bases_and_signatures() {
    let keys = load("keys.json");
    let vectors = load("vectors.json");
    let mut checked = 0;
    for c in vectors["cases"].as_array().unwrap() {
        let section = c["section"].as_str().unwrap();
        let sig = parse_case(c);
        let alg = Algorithm::parse(c["alg"].as_str().unwrap()).unwrap();
        let key = c["key"].as_str().unwrap();
        assert_eq!(sig.params.keyid.as_deref(), Some(key), "{section}");
        assert_eq!(sig.params.created, Some(1618884473), "{section}");
        if let Some(len) = alg.signature_len() {
            assert_eq!(sig.signature.len(), len, "{section}");
        }
        if c["response"].as_bool() == Some(true) {
            // B.2.4 signs a response: a request verifier cannot build its base ...
            let r = request(&vectors["cases"][0]["request"]);
            assert!(
                matches!(
                    signature_base(&r, &sig),
                    Err(Error::UnsupportedComponent { ref component, .. }) if component == "\"@status\""
                ),
                "{section}"
            );
            // ... but the RFC's base text and signature check the P-256 key and the r||s form.
            let base = c["base"].as_str().unwrap();
            assert!(verify(&keys, key, alg, base.as_bytes(), &sig.signature));
            assert!(!verify(
                &keys,
                key,
                alg,
                &base.as_bytes()[1..],
                &sig.signature
            ));
            checked += 1;
            continue;
        }
        let r = request(&c["request"]);
        let valid = c["valid"].as_bool().unwrap();
        let built = signature_base(&r, &sig);
        if !valid {
            // B.4's altered messages: the base builds but the signature no longer matches.
            let built = built.unwrap();
            assert!(
                !verify(&keys, key, alg, built.as_bytes(), &sig.signature),
                "{section} variant must not verify"
            );
            checked += 1;
            continue;
        }
        let built = built.unwrap();
        assert_eq!(built, c["base"].as_str().unwrap(), "{section} base");
        assert!(
            verify(&keys, key, alg, built.as_bytes(), &sig.signature),
            "{section} signature"
        );
        // One byte of any covered component changed: the base changes and fails.
        for comp in &sig.components {
            let m = mutate(&r, comp);
            let b = signature_base(&m, &sig).unwrap();
            assert_ne!(b, built, "{section} {}", comp.serialize());
            assert!(
                !verify(&keys, key, alg, b.as_bytes(), &sig.signature),
                "{section} {} altered still verifies",
                comp.serialize()
            );
        }
        // A changed signature parameter (`created`) fails too: it is in the base.
        let altered_input = c["signature_input"]
            .as_str()
            .unwrap()
            .replace("created=1618884473", "created=1618884474");
        let altered = parse_signatures(&altered_input, c["signature"].as_str().unwrap())
            .unwrap()
            .remove(0);
        let b = signature_base(&r, &altered).unwrap();
        assert!(!verify(&keys, key, alg, b.as_bytes(), &sig.signature));
        checked += 1;
    }
    assert_eq!(checked, 14);
}

#[test]
fn ed25519_and_hmac_signatures_are_reproduced_exactly() {
    let keys = load("keys.json");
    let vectors = load("vectors.json");
    let case = |s: &str| {
        vectors["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["section"] == s)
            .unwrap()
            .clone()
    };
    // B.2.6, Ed25519 (deterministic).
    let c = case("B.2.6");
    let sig = parse_case(&c);
    let base = signature_base(&request(&c["request"]), &sig).unwrap();
    let d = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(
            keys["keys"]["test-key-ed25519"]["private_jwk"]["d"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::from_slice(&d).unwrap());
    assert_eq!(kp.sk.sign(base.as_bytes(), None).to_vec(), sig.signature);
    // B.2.5, HMAC-SHA256.
    use hmac::Mac;
    let c = case("B.2.5");
    let sig = parse_case(&c);
    let base = signature_base(&request(&c["request"]), &sig).unwrap();
    let secret = STANDARD
        .decode(
            keys["keys"]["test-shared-secret"]["secret_base64"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
    mac.update(base.as_bytes());
    assert_eq!(mac.finalize().into_bytes().to_vec(), sig.signature);
    // A MAC with one bit flipped, truncated, or under another secret is refused.
    let mut bad = sig.signature.clone();
    bad[31] ^= 1;
    assert!(!verify_hmac_sha256(&secret, base.as_bytes(), &bad));
    assert!(!verify_hmac_sha256(
        &secret,
        base.as_bytes(),
        &sig.signature[..31]
    ));
    assert!(!verify_hmac_sha256(
        b"other",
        base.as_bytes(),
        &sig.signature
    ));
}

#[test]
fn rfc_keys_in_pem_and_jwk_agree() {
    let keys = load("keys.json");
    for (kid, k) in keys["keys"].as_object().unwrap() {
        if kid == "test-shared-secret" {
            continue;
        }
        assert_eq!(k["public_jwk"]["kid"], kid.as_str());
        let pem = std::fs::read_to_string(format!("{DIR}/{kid}.pub.pem")).unwrap();
        assert_eq!(pem, k["public_spki_pem"].as_str().unwrap());
    }
}
