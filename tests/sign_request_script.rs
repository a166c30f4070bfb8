//! The client example `scripts/sign-request.mjs`, run as a CLI with Node (>= 20, which the
//! project needs anyway), checked by this crate: every RFC 9421 algorithm's headers parse, the
//! signature base rebuilt here verifies and the `Content-Digest` matches the body; every body
//! signature algorithm verifies. Fresh output each run (RSA-PSS and ECDSA are randomized).
#![cfg(not(target_arch = "wasm32"))]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use edge_interceptors::base::request::{RequestView, TestRequest};
use edge_interceptors::crypto::bodysig::{
    decode_signature, verify as verify_body, BodyAlg, BodyKey, RsaKey,
};
use edge_interceptors::crypto::digest::{check_content_digest, DigestAlg};
use edge_interceptors::crypto::httpsig::{parse_signatures, signature_base, Algorithm};
use std::process::Command;

mod common;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BODY: &str = "{\"order\": 7, \"note\": \"caf\u{e9} & cr\u{e8}me\"}";

fn node(args: &[&str]) -> Vec<(String, String)> {
    let out = Command::new("node")
        .arg(format!("{ROOT}/scripts/sign-request.mjs"))
        .args(args)
        .output()
        .expect("these tests run scripts/sign-request.mjs: they need Node >= 20 on PATH");
    assert!(
        out.status.success(),
        "sign-request.mjs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (n, v) = l.split_once(": ").expect("Name: value lines");
            (n.to_string(), v.to_string())
        })
        .collect()
}

fn body_file() -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), BODY).unwrap();
    f
}

#[test]
fn rfc9421_headers_from_the_script_verify_here() {
    let keys = common::load("keys.json");
    let body = body_file();
    let url = "https://api.example.com/orders/7?expand=items&Pet=dog";
    for (alg, kid, key_file) in [
        ("rsa-pss-sha512", "test-key-rsa-pss", "test-key-rsa-pss.pem"),
        ("rsa-v1_5-sha256", "test-key-rsa", "test-key-rsa.pem"),
        (
            "hmac-sha256",
            "test-shared-secret",
            "test-shared-secret.b64",
        ),
        (
            "ecdsa-p256-sha256",
            "test-key-ecc-p256",
            "test-key-ecc-p256.pem",
        ),
        ("ed25519", "test-key-ed25519", "test-key-ed25519.pem"),
    ] {
        let key = format!("{ROOT}/tests/fixtures/rfc9421/{key_file}");
        let headers = node(&[
            "rfc9421",
            "--alg",
            alg,
            "--keyid",
            kid,
            "--key",
            &key,
            "--method",
            "POST",
            "--url",
            url,
            "--body-file",
            body.path().to_str().unwrap(),
            "-H",
            "Content-Type: application/json",
            "--components",
            "@method,@target-uri,@authority,@scheme,@request-target,@path,@query,@query-param;name=\"Pet\",content-type,content-digest",
            "--nonce",
            "n-1",
            "--created",
            "1700000000",
            "--expires",
            "1700000300",
            "--tag",
            "edge",
        ]);
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["Content-Digest", "Signature-Input", "Signature"],
            "{alg}"
        );
        let mut req = TestRequest::new("POST", url).with_header("Content-Type", "application/json");
        for (n, v) in &headers {
            req = req.with_header(n, v);
        }
        assert_eq!(
            check_content_digest(&req.header("content-digest").unwrap(), BODY.as_bytes()),
            Ok(DigestAlg::Sha256)
        );
        let sigs = parse_signatures(
            &req.header("signature-input").unwrap(),
            &req.header("signature").unwrap(),
        )
        .unwrap();
        let sig = &sigs[0];
        assert_eq!(sig.label, "sig1");
        assert_eq!(sig.algorithm(), Ok(Some(Algorithm::parse(alg).unwrap())));
        assert_eq!(sig.params.keyid.as_deref(), Some(kid));
        assert_eq!(sig.params.nonce.as_deref(), Some("n-1"));
        assert_eq!(sig.params.tag.as_deref(), Some("edge"));
        assert_eq!(sig.check_time(1700000100, 0, Some(300)), Ok(()));
        let base = signature_base(&req, sig).unwrap();
        let alg = Algorithm::parse(alg).unwrap();
        assert!(
            common::verify(&keys, kid, alg, base.as_bytes(), &sig.signature),
            "{alg:?}: {base}"
        );
        // The same headers on a request to another path do not verify.
        let mut other = req.clone();
        other.url = url.replace("/orders/7", "/orders/8");
        let b = signature_base(&other, sig).unwrap();
        assert!(!common::verify(
            &keys,
            kid,
            alg,
            b.as_bytes(),
            &sig.signature
        ));
    }
}

#[test]
fn body_signatures_from_the_script_verify_here() {
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    let body = body_file();
    let dir = format!("{ROOT}/tests/fixtures/bodysig");
    let key =
        RsaKey::from_pem(&std::fs::read_to_string(format!("{dir}/rsa-2048.pub.pem")).unwrap())
            .unwrap();
    for alg in [
        BodyAlg::Sha1WithRsa,
        BodyAlg::Sha224WithRsa,
        BodyAlg::Sha256WithRsa,
        BodyAlg::Sha384WithRsa,
        BodyAlg::Sha512WithRsa,
        BodyAlg::HmacSha256,
    ] {
        let private = format!("{dir}/rsa-2048.pem");
        let mut args = vec!["body", "--alg", alg.name(), "--body-file"];
        args.push(body.path().to_str().unwrap());
        if alg.is_hmac() {
            args.extend(["--secret", "s3cret"]);
        } else {
            args.extend(["--key", &private]);
        }
        let headers = node(&args);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].0, "Signature");
        let sig = decode_signature(&headers[0].1).unwrap();
        let ok = if alg.verified_in_rust() {
            let k = if alg.is_hmac() {
                BodyKey::Secret(b"s3cret")
            } else {
                BodyKey::Rsa(&key)
            };
            verify_body(alg, k, BODY.as_bytes(), &sig).unwrap()
        } else {
            // WebCrypto's part, done by the rsa crate over the SPKI the caller would import.
            let pk = rsa::RsaPublicKey::from_public_key_der(&key.spki_der()).unwrap();
            let s = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap();
            use rsa::pkcs1v15::VerifyingKey as V;
            let b = BODY.as_bytes();
            match alg.webcrypto().unwrap().hash.unwrap() {
                "SHA-1" => V::<sha1::Sha1>::new(pk).verify(b, &s).is_ok(),
                "SHA-256" => V::<sha2::Sha256>::new(pk).verify(b, &s).is_ok(),
                "SHA-384" => V::<sha2::Sha384>::new(pk).verify(b, &s).is_ok(),
                "SHA-512" => V::<sha2::Sha512>::new(pk).verify(b, &s).is_ok(),
                h => panic!("{h}"),
            }
        };
        assert!(ok, "{}", alg.name());
        assert!(STANDARD.decode(&headers[0].1).is_ok());
    }
}
