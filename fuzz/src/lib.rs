//! The fuzz entry functions: one per target in `fuzz/fuzz_targets/`, each taking the raw bytes
//! libFuzzer hands out. `tests/fuzz_corpora.rs` includes this same file and calls the same
//! functions over every file of `fuzz/corpus/<target>/` on the stable toolchain, so every input
//! that ever crashed stays a test of the ordinary `cargo test`.
//!
//! An entry returns normally for any input; a panic is a finding. Besides "does not panic", each
//! checks what must hold of its parser's output (round trips, a hidden credential really gone, a
//! token the gateway issued opens again), since a wrong answer at the edge is as bad as a crash.
//!
//! Inputs are text split into fields at `\n` (see [`fields`]), so corpus files can be read and
//! written by hand.

use edge_interceptors::base::locate::{
    cookie_value, cookies_without, extract, query_value, query_without, Extracted, Location,
};
use edge_interceptors::base::request::{RequestView, Target, TestRequest};
use edge_interceptors::crypto::digest::{check_content_digest, content_digest, DigestAlg};
use edge_interceptors::crypto::gentoken::{self, Invalid, Kind, Scope, TokenKeys};
use edge_interceptors::crypto::httpsig::{self, Algorithm};
use edge_interceptors::crypto::rsa_pkcs1::{RsaPublicKey, SHA224_PREFIX};
use edge_interceptors::crypto::sfv::{self, SfType};
use edge_interceptors::interceptors::client_id_secret_encoded;
use edge_interceptors::interceptors::jwt::claims::{self, ClaimRules, Registered};
use edge_interceptors::records::cache::Slot;
use edge_interceptors::records::{self, Record};
use edge_interceptors::trace::context::TraceContext;

/// A target's entry function.
pub type Entry = fn(&[u8]);

/// The names of the targets, as in `fuzz/Cargo.toml` and `fuzz/corpus/`.
pub const TARGETS: &[(&str, Entry)] = &[
    ("locate", locate),
    ("basic", basic),
    ("jwt", jwt),
    ("sfv", sfv),
    ("httpsig", httpsig),
    ("digest", digest),
    ("gentoken", gentoken),
    ("traceparent", traceparent),
    ("records", records),
    ("rsa", rsa),
];

/// The first `n - 1` lines of `text` and the rest (which may hold more newlines); missing
/// fields are empty.
pub fn fields(text: &str, n: usize) -> Vec<&str> {
    let mut out: Vec<&str> = text.splitn(n, '\n').collect();
    out.resize(n, "");
    out
}

/// The input as text; `None` (input skipped) when it is not UTF-8, as no request value that
/// reaches these parsers is anything else (the runtime hands headers and URLs over as strings).
fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Eight bytes of `data` from `at` as a number (missing bytes are zero).
fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    for (i, x) in b.iter_mut().enumerate() {
        *x = at
            .checked_add(i)
            .and_then(|j| data.get(j))
            .copied()
            .unwrap_or(0);
    }
    u64::from_le_bytes(b)
}

// ---------------------------------------------------------------------------------------------
// Credential location: headers, query parameters, cookies (src/base/locate.rs).

/// Lines: credential name, its header value, what follows the host in the request URL (path,
/// query), the `Cookie` header. The runtime hands over absolute URLs only.
pub fn locate(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let f = fields(s, 4);
    let (name, header, rest, cookie) = (f[0], f[1], f[2], f[3]);
    let url = format!("https://gw.example{rest}");
    let mut req = TestRequest::new("GET", &url);
    if !header.is_empty() {
        req = req.with_header(name, header);
    }
    if !cookie.is_empty() {
        req = req.with_header("cookie", cookie);
    }
    let target = Target::parse(req.url());
    assert!(target.path.starts_with('/'), "path {:?}", target.path);
    for loc in Location::NAMES.iter().filter_map(|n| Location::parse(n)) {
        let got = extract(&req, &target, loc, name);
        assert!(loc.places().contains(&got.place()), "{loc:?} {got:?}");
        if let Extracted::Found { value, .. } = &got {
            assert!(!value.is_empty());
        }
    }
    if name.is_empty() {
        return;
    }
    // What is forwarded must not hold the credential any more.
    if let Some(q) = target.query {
        let rest = query_without(q, name);
        assert!(
            query_value(&rest, name).is_none(),
            "{name:?} still in {rest:?} (from {q:?})"
        );
    }
    if let Some(rest) = cookies_without(cookie, name) {
        assert!(
            cookie_value(&rest, name).is_none(),
            "{name:?} still in {rest:?} (from {cookie:?})"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Base64 credentials: `Basic` (src/interceptors/client_id_secret_encoded.rs) and the body
// signature header of the Sensedia Digital Signature (src/crypto/bodysig.rs).

/// The whole input is the `Authorization` header value (and a body signature header value).
pub fn basic(data: &[u8]) {
    let Some(s) = text(data) else { return };
    if let Ok(sig) = edge_interceptors::crypto::bodysig::decode_signature(s) {
        use base64::Engine as _;
        assert_eq!(base64::engine::general_purpose::STANDARD.encode(sig), s);
    }
    if let Ok((id, secret)) = client_id_secret_encoded::decode(s) {
        assert!(!id.is_empty() && !secret.is_empty() && !id.contains(':'));
        use base64::Engine as _;
        let again = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        );
        assert_eq!(
            client_id_secret_encoded::decode(&again),
            Ok((id, secret)),
            "{s:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// JWT: the compact JWS, its header and claims, and the claim rules with adversarial numbers
// (src/interceptors/jwt/claims.rs).

/// Numbers that have broken time code before: the ends of i64, of chrono's range (about
/// ±8.2e12 s) and of what f64 holds exactly, JavaScript's `Date` limit, zero and its neighbours.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-0.0",
    "1",
    "-1",
    "0.5",
    "1e3",
    "1.8e9",
    "1800000000",
    "1800000000.999",
    "8640000000000",
    "-8640000000000",
    "8210266876799",
    "-8334601228800",
    "-8334601228799",
    "-8334601228740",
    "8334601228800",
    "9007199254740993",
    "-9007199254740993",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "1e19",
    "-1e19",
    "1e300",
    "-1e300",
    "1e400",
    "-1e400",
    "4.9e-324",
    "\"1800000000\"",
    "null",
    "true",
    "[]",
    "{}",
];

/// A number for a JSON claim, chosen by `sel` among [`NUMBERS`] or made of `raw`.
fn number(sel: u8, raw: u64) -> Option<String> {
    let n = NUMBERS.len();
    match usize::from(sel) {
        i if i < n => Some(NUMBERS[i].to_string()),
        i if i < n + 20 => Some((raw as i64).to_string()),
        i if i < n + 30 => {
            let f = f64::from_bits(raw);
            f.is_finite().then(|| format!("{f:e}"))
        }
        // 1.8e9 plus or minus a little: near the clock.
        i if i < n + 60 => Some((1_800_000_000i64 + (raw as i16) as i64).to_string()),
        _ => None,
    }
}

/// Interesting values for the clock and the policy's numbers.
const CLOCK: &[i64] = &[
    1_800_000_000,
    0,
    -1,
    i64::MIN,
    i64::MAX,
    -8_334_601_228_800,
    8_210_266_876_799,
    8_210_266_876_800,
];

/// Leeways a policy may set: up to ten years (policy numbers are bounded at compile time).
const MAX_LEEWAY_S: i64 = 10 * 366 * 86_400;

/// Known bug, fixed on rel-core's branch (issue 12, item 1): jwt-compact 0.8's
/// `validate_maturity` computes `nbf - leeway`, which panics in chrono when `nbf` lies within
/// `leeway` of chrono's minimum. Until that fix is merged, the harness leaves out exactly these
/// inputs (the input that shows the bug is kept in the corpus: `fuzz/corpus/jwt/known-nbf-min`).
/// Set to `false` once the fix has landed.
pub const SKIP_KNOWN_NBF_BUG: bool = false;

fn hits_known_nbf_bug(c: &jwt_compact::Claims<Registered>, leeway_s: i64) -> bool {
    c.not_before.is_some_and(|nbf| {
        nbf.checked_sub_signed(chrono::Duration::seconds(leeway_s))
            .is_none()
    })
}

/// Byte 0: mode. Even: the rest is a token, checked under rules read from its first bytes.
/// Odd: bytes 1..4 choose `exp`, `nbf`, `iat` (see [`number`]), 4..28 their raw values, 28..36
/// the clock, 36..44 the leeway, 44..52 the maximum lifetime, and the rest (text) the
/// issuer; the token is built from them.
pub fn jwt(data: &[u8]) {
    jwt_with(data, SKIP_KNOWN_NBF_BUG)
}

/// [`jwt`], with the known `nbf` bug's inputs left out or not.
pub fn jwt_with(data: &[u8], skip_known_nbf_bug: bool) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token;
    let token_ref = if mode % 2 == 0 {
        let Some(s) = text(rest) else { return };
        s
    } else {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let mut claims = vec![];
        for (i, name) in ["exp", "nbf", "iat"].iter().enumerate() {
            let sel = data.get(1 + i).copied().unwrap_or(255);
            if let Some(n) = number(sel, u64_at(data, 4 + 8 * i)) {
                claims.push(format!("\"{name}\":{n}"));
            }
        }
        let iss = data.get(52..).and_then(text).unwrap_or("");
        claims.push(format!("\"iss\":{}", serde_json::Value::from(iss)));
        let payload = format!("{{{}}}", claims.join(","));
        token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#),
            b64(&payload),
            b64("signature")
        );
        &token
    };
    let Ok(parsed) = claims::parse(token_ref) else {
        return;
    };
    let Ok(c) = &parsed.claims else { return };
    let pick = |at: usize| {
        let r = u64_at(data, at);
        let table = CLOCK[(r % CLOCK.len() as u64) as usize];
        if r & 0x100 == 0 {
            table
        } else {
            r as i64
        }
    };
    let now_s = pick(28);
    let leeway_s = (u64_at(data, 36) % (MAX_LEEWAY_S as u64 + 1)) as i64;
    let lifetime = u64_at(data, 44);
    let max_lifetime_s = (lifetime & 1 == 1).then_some((lifetime >> 1) as i64 % MAX_LEEWAY_S);
    if skip_known_nbf_bug && hits_known_nbf_bug(c, leeway_s) {
        return;
    }
    let expected_iss = c.custom.iss.clone().unwrap_or_default();
    let rules = ClaimRules {
        audiences: vec!["api".into()],
        required_claims: vec!["exp".into(), "sub".into(), "scope".into()],
        leeway_s,
        max_lifetime_s,
        require_exp: mode & 2 == 0,
    };
    let _ = rules.problem(c, &expected_iss, now_s);
    let open = ClaimRules {
        audiences: vec![],
        required_claims: vec![],
        leeway_s,
        max_lifetime_s: None,
        require_exp: false,
    };
    let _ = open.problem(c, &expected_iss, now_s);
}

// ---------------------------------------------------------------------------------------------
// RFC 8941 structured fields (src/crypto/sfv.rs).

/// The whole input is a field value, read as an Item, a List and a Dictionary. What parses must
/// serialize to text that parses to the same value and serializes to the same text again.
pub fn sfv(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let _ = sfv::parse_item_raw(s);
    let _ = sfv::parse_list_raw(s);
    if let Ok(d) = sfv::parse_dictionary_raw(s) {
        for (_, m) in &d {
            if let sfv::Member::Item(it) = m {
                let _ = sfv::has_duplicate_keys(&it.params);
            }
        }
    }
    if let Ok(it) = sfv::parse_item(s) {
        let mut out = String::new();
        sfv::write_item(&mut out, &it);
        assert_eq!(sfv::parse_item(&out).as_ref(), Ok(&it), "{s:?} -> {out:?}");
    }
    if let Ok(l) = sfv::parse_list(s) {
        let mut out = String::new();
        sfv::write_list(&mut out, &l);
        assert_eq!(sfv::parse_list(&out).as_ref(), Ok(&l), "{s:?} -> {out:?}");
    }
    if let Ok(d) = sfv::parse_dictionary(s) {
        let mut out = String::new();
        sfv::write_dictionary(&mut out, &d);
        assert_eq!(
            sfv::parse_dictionary(&out).as_ref(),
            Ok(&d),
            "{s:?} -> {out:?}"
        );
    }
    for ty in [SfType::Item, SfType::List, SfType::Dictionary] {
        if let Ok(once) = sfv::reserialize(s, ty) {
            assert_eq!(sfv::reserialize(&once, ty).as_ref(), Ok(&once), "{s:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 9421 Signature-Input / Signature and the signature base (src/crypto/httpsig.rs).

/// Lines: `Signature-Input`, `Signature`, method, URL, then `name: value` header lines.
pub fn httpsig(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let f = fields(s, 5);
    let Ok(sigs) = httpsig::parse_signatures(f[0], f[1]) else {
        return;
    };
    assert!(sigs.len() <= httpsig::MAX_SIGNATURES);
    let mut req = TestRequest::new(f[2], f[3]);
    for line in f[4].lines() {
        if let Some((n, v)) = line.split_once(": ") {
            req = req.with_header(n, v);
        }
    }
    for sig in &sigs {
        assert!(sig.components.len() <= httpsig::MAX_COMPONENTS);
        let _ = sig.algorithm();
        let _ = sig.resolve_algorithm(Algorithm::Ed25519);
        let _ = sig.covers("content-digest");
        for c in &sig.components {
            let _ = (c.serialize(), c.key(), c.query_name(), c.is_derived());
        }
        for (now, leeway, max_age) in [
            (1_800_000_000, 60, Some(300)),
            (i64::MIN, i64::MAX, Some(i64::MAX)),
            (i64::MAX, i64::MIN, Some(i64::MIN)),
            (0, 0, None),
        ] {
            let _ = sig.check_time(now, leeway, max_age);
        }
        if let Ok(base) = httpsig::signature_base_with(&req, sig, &[("x-dict", SfType::Dictionary)])
        {
            assert!(base.is_ascii());
            let last = base.lines().last().unwrap_or_default();
            assert_eq!(
                last,
                format!("\"@signature-params\": {}", sig.signature_params)
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Content-Digest (src/crypto/digest.rs).

/// Line 1: the `Content-Digest` field value; the rest: the body.
pub fn digest(data: &[u8]) {
    let (field, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if let Some(field) = text(field) {
        let _ = check_content_digest(field, body);
    }
    for alg in [DigestAlg::Sha256, DigestAlg::Sha512] {
        let good = content_digest(alg, body);
        assert_eq!(check_content_digest(&good, body), Ok(alg));
    }
}

// ---------------------------------------------------------------------------------------------
// Generated CSRF / Time Tokens (src/crypto/gentoken.rs).

const SECRET: &str = "fuzzing-secret-0123456789abcdefghij";
const PREVIOUS: &str = "fuzzing-previous-secret-0123456789abcdef";

/// Line 1: a token as a client sends it; line 2: the value bound to it (absent when empty);
/// bytes 0..8 also serve as a time for a token issued here, which must open again.
pub fn gentoken(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let f = fields(s, 2);
    let keys = match TokenKeys::new(SECRET, Some(PREVIOUS)) {
        Ok(k) => k,
        Err(e) => panic!("test keys: {e}"),
    };
    let scope = Scope {
        kind: Kind::Csrf,
        api: "orders",
        place: edge_interceptors::base::locate::Place::Header,
        name: "x-csrf-token",
    };
    let bound = [(!f[1].is_empty()).then_some(f[1])];
    match gentoken::open(&keys, &scope, f[0], &bound) {
        Ok(_) | Err(Invalid::BadSignature | Invalid::Malformed(_)) => {}
        Err(Invalid::TooLong(n)) => assert!(n > gentoken::MAX_TOKEN_BYTES),
    }
    // A token issued here opens, for its own scope and binding only.
    let time_ms = u64_at(data, 0) % 10_000_000_000_000_000;
    let issued = gentoken::issue(&keys, &scope, time_ms, &bound);
    assert!(issued.len() <= gentoken::MAX_TOKEN_BYTES);
    let opened = gentoken::open(&keys, &scope, &issued, &bound);
    assert_eq!(
        opened.map(|o| (o.time_ms, o.binding_ok, o.previous_key)),
        Ok((time_ms, true, false))
    );
    let other = [Some("something else")];
    if bound != other {
        assert_eq!(
            gentoken::open(&keys, &scope, &issued, &other).map(|o| o.binding_ok),
            Ok(false)
        );
    }
    let time_scope = Scope {
        kind: Kind::Time,
        ..scope
    };
    assert_eq!(
        gentoken::open(&keys, &time_scope, &issued, &bound),
        Err(Invalid::BadSignature)
    );
}

// ---------------------------------------------------------------------------------------------
// W3C traceparent (src/trace/context.rs).

/// The whole input is an incoming `traceparent`. What the gateway sends on must be a valid
/// `traceparent` of the same trace with the gateway's span as parent.
pub fn traceparent(data: &[u8]) {
    let Some(s) = text(data) else { return };
    let mut random = [0u8; 24];
    for (i, b) in random.iter_mut().enumerate() {
        *b = data.get(i).copied().unwrap_or(0);
    }
    let ctx = TraceContext::from_header(Some(s), random);
    let sent = ctx.header();
    let next = TraceContext::from_header(Some(&sent), [7; 24]);
    assert_eq!(next.trace_id, ctx.trace_id, "{s:?} -> {sent:?}");
    assert_eq!(next.parent_span_id.as_deref(), Some(ctx.span_id.as_str()));
    assert_eq!(next.flags, ctx.flags);
}

// ---------------------------------------------------------------------------------------------
// Record JSON (src/records): what KV holds for apps, tokens, JWT issuers and revocations.

const KEYS: &[&str] = &[
    "app:fuzz",
    "token:abc",
    "jti:iss:1",
    "jwt-issuer:iss",
    "other:",
];

/// Byte 0 chooses the kind of record; the rest is the stored text.
pub fn records(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Some(s) = text(rest) else { return };
    let key = KEYS[usize::from(sel) % KEYS.len()];
    if let Slot::Present(r) = Slot::from_store(key, Some(s)) {
        match &*r {
            Record::App(app) => {
                let keys = app.keys();
                for k in &keys.public {
                    let _ = k.to_string();
                }
                let _ = records::grants_access(&app.access, "orders", Some("list"));
                let _ = records::is_expired(app.expires_at, 1_800_000_000);
            }
            Record::Token(t) => {
                let _ = records::is_expired(t.expires_at, i64::MAX);
            }
            _ => {}
        }
    }
    let _ = edge_interceptors::base::time::parse_rfc3339(s);
    let _ = edge_interceptors::crypto::keys::parse_pem(s);
    let _ = records::token_key_and_fingerprint(s);
    let _ = records::app_key(s);
}

// ---------------------------------------------------------------------------------------------
// RSA public keys and PKCS#1 v1.5 verification (src/crypto/rsa_pkcs1.rs), against the `rsa`
// crate it replaced: the same keys accepted, the same public operation.

/// Binary. The first byte chooses what the rest is: 0 — a DER SubjectPublicKeyInfo; 1 — a DER
/// PKCS#1 RSAPublicKey; otherwise `<n length: 2 bytes, big-endian, at most 520><n><e: 8
/// bytes><signature>`, and the signature is also checked as a SHA-224 one over an empty body.
pub fn rsa(data: &[u8]) {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::traits::PublicKeyParts;
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let (ours, theirs, sig) = match mode {
        0 => (
            RsaPublicKey::from_spki_der(rest),
            rsa::RsaPublicKey::from_public_key_der(rest).ok(),
            &[][..],
        ),
        1 => (
            RsaPublicKey::from_pkcs1_der(rest),
            rsa::RsaPublicKey::from_pkcs1_der(rest).ok(),
            &[][..],
        ),
        _ => {
            let Some((len, rest)) = rest.split_first_chunk::<2>() else {
                return;
            };
            let len = usize::from(u16::from_be_bytes(*len))
                .min(520)
                .min(rest.len());
            let (n, rest) = rest.split_at(len);
            let Some((e, sig)) = rest.split_first_chunk::<8>() else {
                return;
            };
            let theirs = rsa::RsaPublicKey::new(
                rsa::BigUint::from_bytes_be(n),
                rsa::BigUint::from_bytes_be(e),
            );
            (RsaPublicKey::new(n, e), theirs.ok(), sig)
        }
    };
    assert_eq!(ours.is_ok(), theirs.is_some(), "{ours:?}");
    let (Ok(key), Some(theirs)) = (ours, theirs) else {
        return;
    };
    assert_eq!(key.bits(), theirs.n().bits());
    assert_eq!(key.size(), theirs.size());
    assert_eq!(
        RsaPublicKey::from_spki_der(&key.to_spki_der()).as_ref(),
        Ok(&key)
    );
    // The public operation, on the input's signature and on a value from it below n.
    let mut s = sig.to_vec();
    s.resize(key.size(), 0);
    if let Some(first) = s.first_mut() {
        *first = 0;
    }
    for s in [sig, &s[..]] {
        let want =
            (s.len() == theirs.size() && rsa::BigUint::from_bytes_be(s) < *theirs.n()).then(|| {
                let m = rsa::BigUint::from_bytes_be(s).modpow(theirs.e(), theirs.n());
                let m = m.to_bytes_be();
                let mut out = vec![0u8; theirs.size().saturating_sub(m.len())];
                out.extend(m);
                out
            });
        assert_eq!(key.rsavp1(s), want);
        let hashed = [0u8; 28];
        assert_eq!(
            key.verify_pkcs1v15(SHA224_PREFIX, &hashed, s),
            theirs
                .verify(
                    rsa::Pkcs1v15Sign::new_unprefixed(),
                    &[SHA224_PREFIX, &hashed].concat(),
                    s
                )
                .is_ok()
        );
    }
}
