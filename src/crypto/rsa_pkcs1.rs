//! RSA public keys and RSASSA-PKCS1-v1_5 signature verification, without a big-integer crate:
//! what `SHA224withRSA` needs (WebCrypto has no SHA-224), and the modulus size of a PEM key.
//!
//! Verification with a public key is `s^e mod n` and a comparison of the result with the
//! expected encoded message (RFC 8017 §8.2.2): here a Montgomery multiplication over 32-bit
//! limbs (CIOS, 64-bit intermediates; at most 4096 bits = 128 limbs) and square-and-multiply
//! over the public exponent (65537: 16 squarings and a multiplication). Everything it handles is
//! public (the key, the signature, the message's digest), so nothing needs to be constant-time.
//!
//! The checks are those of the `rsa` crate (0.9) this replaces, so that the same keys and
//! signatures are accepted: a modulus of at most 4096 bits, odd; an odd exponent from 3 to
//! 2^33 − 1, below the modulus; a signature exactly as long as the modulus and below it; DER
//! read strictly (definite minimal lengths, minimal positive INTEGERs, no trailing bytes; the
//! algorithm identifier `rsaEncryption` with NULL parameters). Host tests compare it with the
//! `rsa` crate (tests at the end); `fuzz/fuzz_targets/rsa.rs` feeds it arbitrary keys and
//! signatures.

/// The largest modulus accepted, in bits (the `rsa` crate's `RsaPublicKey::MAX_SIZE`).
pub const MAX_BITS: usize = 4096;
/// The largest public exponent accepted (the `rsa` crate's bound).
const MAX_EXPONENT: u64 = (1 << 33) - 1;

/// `AlgorithmIdentifier { rsaEncryption, NULL }`, the content of its SEQUENCE.
const RSA_ALGORITHM: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

/// The DER `DigestInfo` prefix of SHA-224 (RFC 8017 §9.2, note 1).
pub const SHA224_PREFIX: &[u8] = &[
    0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05,
    0x00, 0x04, 0x1c,
];

/// An RSA public key, checked (see the module documentation).
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    /// The modulus, big-endian, without leading zeros.
    n: Vec<u8>,
    e: u64,
    /// The modulus as little-endian 32-bit limbs.
    limbs: Vec<u32>,
    /// −n⁻¹ mod 2³² (Montgomery reduction).
    n0inv: u32,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublicKey(<{} bits>, e = {})", self.bits(), self.e)
    }
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let first = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(first..).unwrap_or_default()
}

impl RsaPublicKey {
    /// A key from its modulus and public exponent (big-endian, leading zeros allowed).
    pub fn new(n: &[u8], e: &[u8]) -> Result<RsaPublicKey, &'static str> {
        let n = strip_zeros(n);
        let e = strip_zeros(e);
        let bits = bit_len(n);
        if bits > MAX_BITS {
            return Err("the RSA modulus is larger than 4096 bits");
        }
        if e.len() > 8 {
            return Err("the RSA public exponent is too large");
        }
        let e = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        // n ≤ e: with at most 8 bytes of modulus, compare as numbers (e < 2^64).
        let n_small =
            (n.len() <= 8).then(|| n.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)));
        let odd = |last: Option<&u8>| last.is_some_and(|b| b & 1 == 1);
        if n_small.is_some_and(|n| n <= e) || !odd(n.last()) {
            return Err("the RSA modulus is invalid");
        }
        if e & 1 == 0 {
            return Err("the RSA public exponent is even");
        }
        if e < 2 {
            return Err("the RSA public exponent is too small");
        }
        if e > MAX_EXPONENT {
            return Err("the RSA public exponent is too large");
        }
        let limbs = to_limbs(n, 0);
        let n0 = limbs.first().copied().unwrap_or(1);
        // n0⁻¹ mod 2³² by Newton's iteration (n0 is odd: each step doubles the correct bits).
        let mut inv: u32 = 1;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(inv)));
        }
        Ok(RsaPublicKey {
            n: n.to_vec(),
            e,
            limbs,
            n0inv: inv.wrapping_neg(),
        })
    }

    /// A DER SubjectPublicKeyInfo (`rsaEncryption`).
    pub fn from_spki_der(der: &[u8]) -> Result<RsaPublicKey, &'static str> {
        let bad = "not a DER RSA SubjectPublicKeyInfo";
        let spki = whole(der, SEQUENCE).ok_or(bad)?;
        let (alg, rest) = tlv(spki, SEQUENCE).ok_or(bad)?;
        if alg != RSA_ALGORITHM {
            return Err("not an rsaEncryption key (or its parameters are not NULL)");
        }
        let bits = whole(rest, BIT_STRING).ok_or(bad)?;
        match bits.split_first() {
            Some((0, key)) => RsaPublicKey::from_pkcs1_der(key),
            _ => Err(bad),
        }
    }

    /// A DER PKCS#1 `RSAPublicKey` (`SEQUENCE { modulus, publicExponent }`).
    pub fn from_pkcs1_der(der: &[u8]) -> Result<RsaPublicKey, &'static str> {
        let bad = "not a DER PKCS#1 RSAPublicKey";
        let seq = whole(der, SEQUENCE).ok_or(bad)?;
        let (n, rest) = tlv(seq, INTEGER).ok_or(bad)?;
        let e = whole(rest, INTEGER).ok_or(bad)?;
        RsaPublicKey::new(uint(n).ok_or(bad)?, uint(e).ok_or(bad)?)
    }

    /// The SubjectPublicKeyInfo DER of this key.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let e = self.e.to_be_bytes();
        let mut key = der_uint(&self.n);
        key.extend(der_uint(strip_zeros(&e)));
        let mut bits = vec![0u8];
        bits.extend(der(SEQUENCE, &key));
        let mut spki = der(SEQUENCE, RSA_ALGORITHM);
        spki.extend(der(BIT_STRING, &bits));
        der(SEQUENCE, &spki)
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        bit_len(&self.n)
    }

    /// The modulus size in bytes (the length of every signature).
    pub fn size(&self) -> usize {
        self.n.len()
    }

    /// Whether `sig` is an RSASSA-PKCS1-v1_5 signature of a message whose digest is `hashed`,
    /// `prefix` being the digest's DER `DigestInfo` prefix (e.g. [`SHA224_PREFIX`]).
    pub fn verify_pkcs1v15(&self, prefix: &[u8], hashed: &[u8], sig: &[u8]) -> bool {
        let k = self.size();
        let Some(em) = self.rsavp1(sig) else {
            return false;
        };
        // EM = 0x00 || 0x01 || PS (0xff, at least 8) || 0x00 || prefix || digest.
        let Some(ps_len) =
            k.checked_sub(prefix.len().saturating_add(hashed.len()).saturating_add(3))
        else {
            return false;
        };
        if ps_len < 8 {
            return false;
        }
        let mut expected = Vec::with_capacity(k);
        expected.extend([0u8, 1]);
        expected.resize(ps_len.saturating_add(2), 0xff);
        expected.push(0);
        expected.extend_from_slice(prefix);
        expected.extend_from_slice(hashed);
        em == expected
    }

    /// RSAVP1 (RFC 8017 §5.2.2): `s^e mod n` as k big-endian bytes, k being the modulus
    /// size in bytes; `None` unless the signature `s` is k bytes long and below n.
    pub fn rsavp1(&self, sig: &[u8]) -> Option<Vec<u8>> {
        // Same-length big-endian byte strings compare as the numbers they are.
        if sig.len() != self.size() || sig >= self.n.as_slice() {
            return None;
        }
        let len = self.limbs.len();
        let s = to_limbs(sig, len);
        let mut t = vec![0u32; len.checked_add(2)?];
        // s·R mod n (R = 2^(32·len)) = s · (R² mod n) · R⁻¹. R² mod n, the Montgomery form of
        // R, with few doublings: R mod n (the form of 1) from 2^(bits−1) < n; doubled k times,
        // the form of 2^k; squared j times, the form of 2^(k·2^j) = R, with 32·len = k·2^j.
        let total = len.checked_mul(32)?;
        let high = self.bits().checked_sub(1)?;
        let mut r = vec![0u32; len];
        *r.get_mut(high.checked_div(32)?)? =
            1u32.checked_shl(u32::try_from(high.checked_rem(32)?).ok()?)?;
        let j = total.trailing_zeros();
        let k = total.checked_shr(j)?;
        for _ in 0..total.checked_sub(high)?.checked_add(k)? {
            self.double_mod(&mut r);
        }
        for _ in 0..j {
            r = self.mont_mul(&r, &r, &mut t);
        }
        let s_r = self.mont_mul(&s, &r, &mut t);
        let mut acc = s_r.clone();
        let top = 63u32.checked_sub(self.e.leading_zeros())?;
        for bit in (0..top).rev() {
            acc = self.mont_mul(&acc, &acc, &mut t);
            if (self.e >> bit) & 1 == 1 {
                acc = self.mont_mul(&acc, &s_r, &mut t);
            }
        }
        // Out of the Montgomery form: ·1·R⁻¹.
        let mut one = vec![0u32; len];
        if let Some(first) = one.first_mut() {
            *first = 1;
        }
        let m = self.mont_mul(&acc, &one, &mut t);
        let mut out: Vec<u8> = m.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
        let extra = out.len().checked_sub(self.size())?;
        if out.get(..extra)?.iter().any(|b| *b != 0) {
            return None;
        }
        out.drain(..extra);
        Some(out)
    }

    /// x ← 2x mod n (x < n).
    fn double_mod(&self, x: &mut [u32]) {
        let mut carry = 0u32;
        for l in x.iter_mut() {
            let next = *l >> 31;
            *l = (*l << 1) | carry;
            carry = next;
        }
        if carry == 1 || !less(x, &self.limbs) {
            sub_in_place(x, &self.limbs);
        }
    }

    /// a·b·R⁻¹ mod n (a, b < n), with `t` (len + 2 limbs) as scratch.
    fn mont_mul(&self, a: &[u32], b: &[u32], t: &mut [u32]) -> Vec<u32> {
        let len = self.limbs.len();
        t.fill(0);
        for ai in a {
            // t += ai·b
            mul_add(t, *ai, b);
            // t += m·n, which makes t divisible by 2³²; then t /= 2³².
            let m = t.first().copied().unwrap_or(0).wrapping_mul(self.n0inv);
            mul_add(t, m, &self.limbs);
            t.rotate_left(1);
            if let Some(last) = t.last_mut() {
                *last = 0;
            }
        }
        // t < 2n: one subtraction at most.
        let mut r: Vec<u32> = t.iter().take(len).copied().collect();
        let high = t.get(len).copied().unwrap_or(0);
        if high != 0 || !less(&r, &self.limbs) {
            sub_in_place(&mut r, &self.limbs);
        }
        r
    }
}

/// t += m·v (t has at least v.len() + 2 limbs; the carry runs on into the limbs above).
fn mul_add(t: &mut [u32], m: u32, v: &[u32]) {
    let m = u64::from(m);
    let mut carry = 0u64;
    let mut it = t.iter_mut();
    // `v` first: a zip stops on its first iterator's end without taking a limb from `it`.
    for (vj, tj) in v.iter().zip(it.by_ref()) {
        // (2³²−1) + (2³²−1)² + (2³²−1) = 2⁶⁴ − 1: no overflow.
        let x = u64::from(*tj)
            .wrapping_add(m.wrapping_mul(u64::from(*vj)))
            .wrapping_add(carry);
        *tj = x as u32;
        carry = x >> 32;
    }
    for tj in it {
        if carry == 0 {
            break;
        }
        let x = u64::from(*tj).wrapping_add(carry);
        *tj = x as u32;
        carry = x >> 32;
    }
}

/// x < y, both little-endian limbs of the same length.
fn less(x: &[u32], y: &[u32]) -> bool {
    x.iter().rev().lt(y.iter().rev())
}

/// x ← x − y mod 2^(32·len) (little-endian limbs, same length).
fn sub_in_place(x: &mut [u32], y: &[u32]) {
    let mut borrow = 0u64;
    for (xi, yi) in x.iter_mut().zip(y) {
        let d = u64::from(*xi)
            .wrapping_sub(u64::from(*yi))
            .wrapping_sub(borrow);
        *xi = d as u32;
        borrow = (d >> 63) & 1;
    }
}

/// Big-endian bytes as little-endian 32-bit limbs, at least `len` of them.
fn to_limbs(be: &[u8], len: usize) -> Vec<u32> {
    let mut limbs: Vec<u32> = be
        .rchunks(4)
        .map(|c| c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
        .collect();
    if limbs.len() < len {
        limbs.resize(len, 0);
    }
    limbs
}

/// The size in bits of a big-endian number without leading zeros.
fn bit_len(n: &[u8]) -> usize {
    match n.first() {
        Some(b) => n
            .len()
            .saturating_mul(8)
            .saturating_sub(b.leading_zeros() as usize),
        None => 0,
    }
}

const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const SEQUENCE: u8 = 0x30;

/// The content of the DER element with `tag` at the start of `input`, and what follows it.
/// Definite lengths in their shortest form only (as the `der` crate reads them).
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, rest) = input.split_first()?;
    if *t != tag {
        return None;
    }
    let (first, rest) = rest.split_first()?;
    let (len, rest) = match *first {
        l @ 0..=0x7f => (usize::from(l), rest),
        l @ 0x81..=0x84 => {
            let n = usize::from(l & 0x7f);
            let bytes = rest.get(..n)?;
            if bytes.first() == Some(&0) {
                return None;
            }
            let len = bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            if !(0x80..=0x0fff_ffff).contains(&len) {
                return None;
            }
            (len, rest.get(n..)?)
        }
        _ => return None,
    };
    Some((rest.get(..len)?, rest.get(len..)?))
}

/// The content of the DER element with `tag` that is all of `input`.
fn whole(input: &[u8], tag: u8) -> Option<&[u8]> {
    match tlv(input, tag)? {
        (content, []) => Some(content),
        _ => None,
    }
}

/// The magnitude of a DER INTEGER that must be non-negative, in its minimal encoding.
fn uint(content: &[u8]) -> Option<&[u8]> {
    match content {
        [] => None,
        [0] => Some(content),
        [0, b, ..] if *b < 0x80 => None,
        [0, rest @ ..] => Some(rest),
        [b, ..] if *b >= 0x80 => None,
        _ => Some(content),
    }
}

/// A DER element.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let b = strip_zeros(&bytes);
        out.push(0x80 | b.len() as u8);
        out.extend_from_slice(b);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER of a non-negative big-endian magnitude without leading zeros.
fn der_uint(mag: &[u8]) -> Vec<u8> {
    let mut c = Vec::with_capacity(mag.len().saturating_add(1));
    if mag.first().is_none_or(|b| *b >= 0x80) {
        c.push(0);
    }
    c.extend_from_slice(mag);
    der(INTEGER, &c)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use base64::Engine;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey};
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    use rsa::{BigUint, Pkcs1v15Sign, RsaPrivateKey};
    use sha2::{Digest, Sha224};

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bodysig");

    fn pem_der(name: &str) -> Vec<u8> {
        let pem = std::fs::read_to_string(format!("{DIR}/{name}")).unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap()
    }

    /// The committed test keys (2048 bits as the other tests'; 3072 and 4096 made with
    /// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:<bits>`).
    fn private(name: &str) -> RsaPrivateKey {
        RsaPrivateKey::from_pkcs8_der(&pem_der(name)).unwrap()
    }

    fn ours(k: &rsa::RsaPublicKey) -> RsaPublicKey {
        RsaPublicKey::from_spki_der(k.to_public_key_der().unwrap().as_bytes()).unwrap()
    }

    /// A small deterministic generator (xorshift) for test inputs.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    fn theirs_verify(k: &rsa::RsaPublicKey, hashed: &[u8], sig: &[u8]) -> bool {
        k.verify(Pkcs1v15Sign::new::<Sha224>(), hashed, sig).is_ok()
    }

    #[test]
    fn the_sha224_prefix_is_the_rsa_crates() {
        assert_eq!(Pkcs1v15Sign::new::<Sha224>().prefix.as_ref(), SHA224_PREFIX);
    }

    #[test]
    fn signatures_of_2048_3072_and_4096_bit_keys_verify_as_with_the_rsa_crate() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for name in ["rsa-2048.pem", "rsa-3072.pem", "rsa-4096.pem"] {
            let sk = private(name);
            let pk = sk.to_public_key();
            let key = ours(&pk);
            assert_eq!(key.bits(), pk.n().bits(), "{name}");
            assert_eq!(key.size(), pk.size(), "{name}");
            assert_eq!(
                key.to_spki_der(),
                pk.to_public_key_der().unwrap().as_bytes()
            );
            let from_pkcs1 =
                RsaPublicKey::from_pkcs1_der(pk.to_pkcs1_der().unwrap().as_bytes()).unwrap();
            assert_eq!(from_pkcs1, key);
            for i in 0..4 {
                let body = rng.bytes(10 + i * 37);
                let hashed = Sha224::digest(&body);
                let sig = sk.sign(Pkcs1v15Sign::new::<Sha224>(), &hashed).unwrap();
                assert!(
                    key.verify_pkcs1v15(SHA224_PREFIX, &hashed, &sig),
                    "{name} {i}"
                );
                // Another digest, a flipped bit anywhere, a truncated or extended signature.
                let other = Sha224::digest(b"another body");
                assert!(!key.verify_pkcs1v15(SHA224_PREFIX, &other, &sig));
                for at in [0, 1, sig.len() / 2, sig.len() - 1] {
                    let mut bad = sig.clone();
                    bad[at] ^= 0x10;
                    assert_eq!(
                        key.verify_pkcs1v15(SHA224_PREFIX, &hashed, &bad),
                        theirs_verify(&pk, &hashed, &bad)
                    );
                    assert!(!key.verify_pkcs1v15(SHA224_PREFIX, &hashed, &bad));
                }
                assert!(!key.verify_pkcs1v15(SHA224_PREFIX, &hashed, &sig[1..]));
                let mut longer = vec![0u8];
                longer.extend_from_slice(&sig);
                assert!(!key.verify_pkcs1v15(SHA224_PREFIX, &hashed, &longer));
                assert!(!theirs_verify(&pk, &hashed, &longer));
                // The signature of another key.
                let other_key =
                    RsaPublicKey::from_spki_der(&pem_der("other-rsa-2048.pub.pem")).unwrap();
                assert!(!other_key.verify_pkcs1v15(SHA224_PREFIX, &hashed, &sig));
            }
        }
    }

    #[test]
    fn the_public_operation_is_modpow() {
        let mut rng = Rng(12345);
        for name in ["rsa-2048.pem", "rsa-3072.pem", "rsa-4096.pem"] {
            let pk = private(name).to_public_key();
            let key = ours(&pk);
            for _ in 0..20 {
                let mut s = rng.bytes(key.size());
                s[0] &= 0x7f; // below n (n's top bit is set)
                let want = BigUint::from_bytes_be(&s).modpow(pk.e(), pk.n());
                let mut want = want.to_bytes_be();
                while want.len() < key.size() {
                    want.insert(0, 0);
                }
                assert_eq!(key.rsavp1(&s).unwrap(), want, "{name}");
            }
            // Edge values: 0, 1, n − 1.
            for s in [BigUint::from(0u8), BigUint::from(1u8), pk.n() - 1u8] {
                let mut b = s.to_bytes_be();
                while b.len() < key.size() {
                    b.insert(0, 0);
                }
                let mut want = s.modpow(pk.e(), pk.n()).to_bytes_be();
                while want.len() < key.size() {
                    want.insert(0, 0);
                }
                assert_eq!(key.rsavp1(&b).unwrap(), want);
            }
        }
    }

    #[test]
    fn other_exponents_and_small_odd_moduli() {
        // Against num-bigint's modpow, for exponents other than 65537 and moduli of any length.
        let mut rng = Rng(777);
        for _ in 0..300 {
            let len = 1 + (rng.next() % 70) as usize;
            let mut n = rng.bytes(len);
            n[0] |= 0x80;
            *n.last_mut().unwrap() |= 1;
            let e = if len <= 5 {
                3
            } else {
                ((rng.next() % MAX_EXPONENT) | 1).max(3)
            };
            let nb = BigUint::from_bytes_be(&n);
            let eb = BigUint::from(e);
            if eb >= nb {
                assert!(RsaPublicKey::new(&n, &e.to_be_bytes()).is_err());
                continue;
            }
            let key = RsaPublicKey::new(&n, &e.to_be_bytes()).unwrap();
            let mut s = rng.bytes(len);
            s[0] &= 0x7f;
            let mut want = BigUint::from_bytes_be(&s).modpow(&eb, &nb).to_bytes_be();
            while want.len() < len {
                want.insert(0, 0);
            }
            assert_eq!(key.rsavp1(&s).unwrap(), want, "n={n:02x?} e={e}");
        }
    }

    #[test]
    fn keys_are_checked_as_the_rsa_crate_checks_them() {
        let pk = private("rsa-2048.pem").to_public_key();
        let n = pk.n().to_bytes_be();
        let check = |n: &[u8], e: &[u8]| {
            let theirs =
                rsa::RsaPublicKey::new(BigUint::from_bytes_be(n), BigUint::from_bytes_be(e));
            let mine = RsaPublicKey::new(n, e);
            assert_eq!(
                mine.is_ok(),
                theirs.is_ok(),
                "n {} bytes, e {e:02x?}",
                n.len()
            );
        };
        for e in [
            &[][..],
            &[1],
            &[2],
            &[3],
            &[4],
            &[1, 0, 1],
            &[1, 0, 0],
            &[0, 0, 1, 0, 1],
            &[1, 0xff, 0xff, 0xff, 0xff],
            &[2, 0, 0, 0, 1],
            &[1, 0, 0, 0, 0, 0, 0, 0, 1],
            &[0x80, 0, 0, 0, 0, 0, 0, 1],
        ] {
            check(&n, e);
        }
        let mut even = n.clone();
        *even.last_mut().unwrap() &= 0xfe;
        check(&even, &[1, 0, 1]);
        check(&[], &[1, 0, 1]);
        check(&[0, 0], &[3]);
        check(&[3], &[3]);
        check(&[5], &[3]);
        check(&[1, 0, 1], &[1, 0, 1]);
        check(&[1, 0, 3], &[1, 0, 1]);
        // 4096 bits and one more.
        let mut big = vec![0xffu8; 512];
        check(&big, &[1, 0, 1]);
        big.insert(0, 1);
        check(&big, &[1, 0, 1]);
    }

    #[test]
    fn padding_and_lengths_are_checked() {
        let sk = private("rsa-2048.pem");
        let key = ours(&sk.to_public_key());
        let hashed = Sha224::digest(b"body");
        // Raw private operations on crafted encoded messages: only the exact EM verifies.
        let k = key.size();
        let em = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut em = vec![0u8, 1];
            em.resize(k - SHA224_PREFIX.len() - hashed.len() - 1, 0xff);
            em.push(0);
            em.extend_from_slice(SHA224_PREFIX);
            em.extend_from_slice(&hashed);
            f(&mut em);
            let m = BigUint::from_bytes_be(&em);
            let mut s = m.modpow(sk.d(), sk.n()).to_bytes_be();
            while s.len() < k {
                s.insert(0, 0);
            }
            s
        };
        let good = em(&|_| {});
        assert!(key.verify_pkcs1v15(SHA224_PREFIX, &hashed, &good));
        type Change<'a> = Box<dyn Fn(&mut Vec<u8>) + 'a>;
        let cases: Vec<Change> = vec![
            Box::new(|e| e[1] = 2),
            Box::new(|e| e[5] = 0xfe),
            Box::new(|e| e[0] = 1),
            Box::new(|e| {
                let at = k - SHA224_PREFIX.len() - 29;
                e[at] = 1
            }),
            Box::new(|e| {
                let at = k - 30;
                e[at] ^= 1
            }),
            Box::new(|e| *e.last_mut().unwrap() ^= 1),
            // A SHA-256 prefix with a 224-bit digest's length left as is.
            Box::new(|e| {
                let at = k - hashed.len() - SHA224_PREFIX.len() + 14;
                e[at] = 1
            }),
        ];
        for (i, f) in cases.iter().enumerate() {
            let s = em(f.as_ref());
            assert!(!key.verify_pkcs1v15(SHA224_PREFIX, &hashed, &s), "case {i}");
        }
        // s = n and s > n.
        let n = sk.to_public_key().n().to_bytes_be();
        assert!(!key.verify_pkcs1v15(SHA224_PREFIX, &hashed, &n));
        assert!(!key.verify_pkcs1v15(SHA224_PREFIX, &hashed, &vec![0xff; k]));
        // A digest too long for the modulus.
        assert!(!key.verify_pkcs1v15(SHA224_PREFIX, &vec![0; k], &good));
        assert!(!key.verify_pkcs1v15(&[], &[], &[]));
    }

    #[test]
    fn der_is_read_strictly_as_the_rsa_crate_reads_it() {
        let pk = private("rsa-2048.pem").to_public_key();
        let spki = pk.to_public_key_der().unwrap().as_bytes().to_vec();
        let pkcs1 = pk.to_pkcs1_der().unwrap().as_bytes().to_vec();
        let same = |der: &[u8]| {
            let theirs = rsa::RsaPublicKey::from_public_key_der(der).is_ok();
            assert_eq!(
                RsaPublicKey::from_spki_der(der).is_ok(),
                theirs,
                "{der:02x?}"
            );
        };
        same(&spki);
        let mut rng = Rng(4242);
        // Every truncation, a trailing byte, and single-byte changes in the structure.
        for cut in [0, 1, 2, 3, 10, 20, 24, 30, spki.len() - 1] {
            same(&spki[..cut]);
        }
        let mut longer = spki.clone();
        longer.push(0);
        same(&longer);
        for at in 0..40 {
            for v in [0x00, 0x01, 0x05, 0x30, 0x7f, 0x80, 0x81, 0x82, 0xff] {
                let mut d = spki.clone();
                d[at] = v;
                same(&d);
            }
        }
        for _ in 0..200 {
            let mut d = spki.clone();
            let at = (rng.next() as usize) % d.len();
            d[at] = rng.next() as u8;
            same(&d);
        }
        // Missing NULL parameters; a non-minimal length; a negative or padded INTEGER.
        let no_null: Vec<u8> = {
            let mut alg = der(SEQUENCE, &RSA_ALGORITHM[..11]);
            let mut bits = vec![0];
            bits.extend(&pkcs1);
            alg.extend(der(BIT_STRING, &bits));
            der(SEQUENCE, &alg)
        };
        same(&no_null);
        assert!(RsaPublicKey::from_spki_der(&no_null).is_err());
        let n = pk.n().to_bytes_be();
        let build = |n_int: Vec<u8>, e_int: Vec<u8>| {
            let mut k = n_int;
            k.extend(e_int);
            let key = der(SEQUENCE, &k);
            let mut bits = vec![0];
            bits.extend(&key);
            let mut s = der(SEQUENCE, RSA_ALGORITHM);
            s.extend(der(BIT_STRING, &bits));
            der(SEQUENCE, &s)
        };
        let good = build(der_uint(&n), der_uint(&[1, 0, 1]));
        assert_eq!(good, spki);
        for (n_int, e_int) in [
            (der(INTEGER, &n), der_uint(&[1, 0, 1])),
            (der_uint(&n), der(INTEGER, &[0, 1, 0, 1])),
            (der_uint(&n), der(INTEGER, &[])),
            (der_uint(&n), der(INTEGER, &[0x81])),
            (der_uint(&n), der(INTEGER, &[0, 0x81])),
        ] {
            same(&build(n_int, e_int));
        }
        // Long-form lengths where the short form fits.
        let mut long_len = vec![0x30, 0x81, 0x05];
        long_len.extend(der(INTEGER, &[5]));
        long_len.extend(der(INTEGER, &[3]));
        assert!(RsaPublicKey::from_pkcs1_der(&long_len).is_err());
        // Unused bits in the BIT STRING.
        let mut unused = spki.clone();
        let at = spki
            .windows(2)
            .position(|w| w[0] == 0x03 && w[1] == 0x82)
            .unwrap()
            + 4;
        unused[at] = 1;
        same(&unused);
        assert!(RsaPublicKey::from_spki_der(&unused).is_err());
    }
}
