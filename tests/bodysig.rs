//! Sensedia-style body signatures on the host: each algorithm signed at test time with the
//! committed 2048-bit test key (`tests/fixtures/bodysig/`), base64 in a header, verified with
//! the crate (SHA224withRSA, HmacSHA256) or with a pure-Rust verifier over the key's SPKI DER
//! standing in for WebCrypto (SHA1/256/384/512withRSA), and refused on an altered body, the
//! wrong key, or bad base64.
#![cfg(not(target_arch = "wasm32"))]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use edge_interceptors::crypto::bodysig::{
    decode_signature, verify, BodyAlg, BodyKey, BodySigError, RsaKey,
};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bodysig");
const BODY: &[u8] = br#"{"order": 42, "amount": "10.00"}"#;
const SECRET: &[u8] = b"a shared secret of the application";

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{name}")).unwrap()
}

fn private_key() -> rsa::RsaPrivateKey {
    let pem = read("rsa-2048.pem");
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    rsa::RsaPrivateKey::from_pkcs8_der(&STANDARD.decode(b64).unwrap()).unwrap()
}

/// What a client sends: base64 of the signature over the body.
fn sign(alg: BodyAlg, body: &[u8]) -> String {
    use rsa::pkcs1v15::SigningKey;
    let k = private_key();
    let sig = match alg {
        BodyAlg::Sha1WithRsa => SigningKey::<sha1::Sha1>::new(k).sign(body).to_vec(),
        BodyAlg::Sha224WithRsa => SigningKey::<sha2::Sha224>::new(k).sign(body).to_vec(),
        BodyAlg::Sha256WithRsa => SigningKey::<sha2::Sha256>::new(k).sign(body).to_vec(),
        BodyAlg::Sha384WithRsa => SigningKey::<sha2::Sha384>::new(k).sign(body).to_vec(),
        BodyAlg::Sha512WithRsa => SigningKey::<sha2::Sha512>::new(k).sign(body).to_vec(),
        BodyAlg::HmacSha256 => {
            use hmac::Mac;
            let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
            m.update(body);
            m.finalize().into_bytes().to_vec()
        }
        BodyAlg::Md2WithRsa | BodyAlg::Md5WithRsa => unreachable!(),
    };
    STANDARD.encode(sig)
}

/// The verdict the Worker would reach: Rust for SHA-224 and HMAC, WebCrypto (here the rsa
/// crate over the SPKI DER the caller would import) for the rest.
fn check(alg: BodyAlg, key: &RsaKey, body: &[u8], header: &str) -> Result<bool, BodySigError> {
    let sig = decode_signature(header)?;
    if alg.verified_in_rust() {
        let k = if alg.is_hmac() {
            BodyKey::Secret(SECRET)
        } else {
            BodyKey::Rsa(key)
        };
        return verify(alg, k, body, &sig);
    }
    let wc = alg.webcrypto().expect("WebCrypto parameters");
    assert_eq!(wc.name, "RSASSA-PKCS1-v1_5");
    let pk = rsa::RsaPublicKey::from_public_key_der(&key.spki_der()).unwrap();
    let Ok(s) = rsa::pkcs1v15::Signature::try_from(sig.as_slice()) else {
        return Ok(false);
    };
    use rsa::pkcs1v15::VerifyingKey;
    Ok(match wc.hash.unwrap() {
        "SHA-1" => VerifyingKey::<sha1::Sha1>::new(pk).verify(body, &s),
        "SHA-256" => VerifyingKey::<sha2::Sha256>::new(pk).verify(body, &s),
        "SHA-384" => VerifyingKey::<sha2::Sha384>::new(pk).verify(body, &s),
        "SHA-512" => VerifyingKey::<sha2::Sha512>::new(pk).verify(body, &s),
        h => panic!("unexpected hash {h}"),
    }
    .is_ok())
}

const USABLE: [BodyAlg; 6] = [
    BodyAlg::Sha1WithRsa,
    BodyAlg::Sha224WithRsa,
    BodyAlg::Sha256WithRsa,
    BodyAlg::Sha384WithRsa,
    BodyAlg::Sha512WithRsa,
    BodyAlg::HmacSha256,
];

#[test]
fn every_algorithm_verifies_and_fails_as_it_should() {
    let key = RsaKey::from_pem(&read("rsa-2048.pub.pem")).unwrap();
    let other = RsaKey::from_pem(&read("other-rsa-2048.pub.pem")).unwrap();
    assert_eq!(key.bits(), 2048);
    for alg in USABLE {
        assert_eq!(BodyAlg::configure(alg.name()), Ok(alg));
        let header = sign(alg, BODY);
        assert_eq!(check(alg, &key, BODY, &header), Ok(true), "{}", alg.name());
        // Altered body: one byte changed, one byte added, empty.
        let mut altered = BODY.to_vec();
        altered[3] ^= 0x20;
        assert_eq!(
            check(alg, &key, &altered, &header),
            Ok(false),
            "{}",
            alg.name()
        );
        let mut longer = BODY.to_vec();
        longer.push(b'\n');
        assert_eq!(
            check(alg, &key, &longer, &header),
            Ok(false),
            "{}",
            alg.name()
        );
        assert_eq!(check(alg, &key, b"", &header), Ok(false), "{}", alg.name());
        // Wrong key (RSA): another key pair.
        if !alg.is_hmac() {
            assert_eq!(
                check(alg, &other, BODY, &header),
                Ok(false),
                "{}",
                alg.name()
            );
        }
        // A signature byte changed.
        let mut sig = STANDARD.decode(&header).unwrap();
        sig[0] ^= 1;
        assert_eq!(
            check(alg, &key, BODY, &STANDARD.encode(&sig)),
            Ok(false),
            "{}",
            alg.name()
        );
        // Bad base64: URL-safe alphabet, padding dropped, a line break inside, truncated.
        let url_safe = header.replace('+', "-").replace('/', "_");
        if url_safe != header {
            assert!(matches!(
                check(alg, &key, BODY, &url_safe),
                Err(BodySigError::BadEncoding(_))
            ));
        }
        let unpadded = header.trim_end_matches('=');
        if unpadded != header {
            assert!(matches!(
                check(alg, &key, BODY, unpadded),
                Err(BodySigError::BadEncoding(_))
            ));
        }
        let broken = format!("{}\n{}", &header[..8], &header[8..]);
        assert!(matches!(
            check(alg, &key, BODY, &broken),
            Err(BodySigError::BadEncoding(_))
        ));
        assert!(matches!(
            check(alg, &key, BODY, &header[..header.len() - 1]),
            Err(BodySigError::BadEncoding(_))
        ));
        // Truncated but still valid base64: a shorter signature is refused, not an error.
        assert_eq!(
            check(alg, &key, BODY, &header[..header.len() - 4]),
            Ok(false),
            "{}",
            alg.name()
        );
    }
}

#[test]
fn hmac_with_another_secret_fails() {
    let sig = decode_signature(&sign(BodyAlg::HmacSha256, BODY)).unwrap();
    assert_eq!(
        verify(BodyAlg::HmacSha256, BodyKey::Secret(b"other"), BODY, &sig),
        Ok(false)
    );
}

#[test]
fn keys_in_every_form_agree_and_misuse_is_an_error() {
    let spki = RsaKey::from_pem(&read("rsa-2048.pub.pem")).unwrap();
    let pkcs1 = RsaKey::from_pem(&read("rsa-2048.pkcs1.pub.pem")).unwrap();
    assert_eq!(spki, pkcs1);
    assert_eq!(RsaKey::from_der(&spki.spki_der()).unwrap(), spki);
    let sig = decode_signature(&sign(BodyAlg::Sha224WithRsa, BODY)).unwrap();
    assert_eq!(
        verify(BodyAlg::Sha224WithRsa, BodyKey::Rsa(&pkcs1), BODY, &sig),
        Ok(true)
    );
    assert_eq!(
        verify(BodyAlg::Sha224WithRsa, BodyKey::Secret(SECRET), BODY, &sig),
        Err(BodySigError::WrongKeyType)
    );
    assert_eq!(
        verify(BodyAlg::HmacSha256, BodyKey::Rsa(&spki), BODY, &sig),
        Err(BodySigError::WrongKeyType)
    );
    assert_eq!(
        verify(BodyAlg::Sha256WithRsa, BodyKey::Rsa(&spki), BODY, &sig),
        Err(BodySigError::NeedsWebCrypto(BodyAlg::Sha256WithRsa))
    );
    assert_eq!(
        verify(BodyAlg::Md5WithRsa, BodyKey::Rsa(&spki), BODY, &sig),
        Err(BodySigError::Refused(BodyAlg::Md5WithRsa))
    );
    // A private key is not a public key.
    assert!(RsaKey::from_pem(&read("rsa-2048.pem")).is_err());
}
