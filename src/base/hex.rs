//! Lowercase hexadecimal, written byte by byte from a table: the `hex` crate's `encode` builds
//! its string one `char` at a time through an iterator, which showed in the per-request profile
//! (token keys, fingerprints, trace and span ids are hex on every request).

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` as lowercase hex to `out`.
pub fn push(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len().saturating_mul(2));
    let digit = |n: u8| char::from(DIGITS.get(usize::from(n)).copied().unwrap_or(b'0'));
    for &b in bytes {
        // Both nibbles are below 16: `get` never misses.
        out.push(digit(b >> 4));
        out.push(digit(b & 0x0f));
    }
}

/// `bytes` as lowercase hex (what `hex::encode` gives).
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    push(&mut out, bytes);
    out
}

/// `prefix` followed by `bytes` in lowercase hex, in one allocation.
pub fn prefixed(prefix: &str, bytes: &[u8]) -> String {
    let mut out = String::with_capacity(prefix.len().saturating_add(bytes.len().saturating_mul(2)));
    out.push_str(prefix);
    push(&mut out, bytes);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_hex_crate() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(encode(&all), hex::encode(&all));
        assert_eq!(encode([]), "");
        assert_eq!(prefixed("token:", &[0x00, 0xab, 0xff]), "token:00abff");
        let mut s = String::from("x");
        push(&mut s, &[0x0f, 0xf0]);
        assert_eq!(s, "x0ff0");
    }
}
