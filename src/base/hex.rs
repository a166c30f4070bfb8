//! Lowercase hexadecimal for the hot path (token keys, fingerprints, trace and span ids, job
//! ids): the `hex` crate's table-driven `encode_to_slice` into a stack buffer, appended to a
//! string. Its `encode` builds the string one `char` at a time through an iterator, which
//! showed in the per-request profile; every hex string of this crate goes through here.

/// Appends `bytes` as lowercase hex to `out`.
pub fn push(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len().saturating_mul(2));
    let mut buf = [0u8; 64];
    for chunk in bytes.chunks(buf.len() / 2) {
        // A chunk of at most 32 bytes fills at most the 64 of `buf`: `get_mut` never misses,
        // and hex digits are ASCII: `from_utf8` never fails.
        let Some(dst) = buf.get_mut(..chunk.len().saturating_mul(2)) else {
            continue;
        };
        if hex::encode_to_slice(chunk, dst).is_ok() {
            if let Ok(s) = std::str::from_utf8(dst) {
                out.push_str(s);
            }
        }
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
