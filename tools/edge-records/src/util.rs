//! Small helpers: random credentials, times, reading secrets from standard input.

use super::error::{OpsError, Result};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use edge_interceptors::records;
use std::io::BufRead;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `n` bytes from the operating system's random source.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    b
}

/// A new access token: 32 random bytes (256 bits) as 43 characters of unpadded base64url
/// (`A-Z a-z 0-9 - _`), safe in a header, a query parameter and a cookie.
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes(32))
}

/// A new client secret: same format as a token (256 bits, 43 base64url characters, no `:`).
pub fn new_client_secret() -> String {
    new_token()
}

/// A new client id: a random (version 4) UUID, as the Sensedia API Manager makes them.
pub fn new_client_id() -> String {
    let mut b = random_bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A new HMAC secret: 32 random bytes, standard base64.
pub fn new_hmac_secret_b64() -> String {
    STANDARD.encode(random_bytes(32))
}

/// Now, in epoch seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// 9999-12-31T23:59:59Z, the last instant RFC 3339 can write.
pub const MAX_TIME: i64 = 253_402_300_799;

/// Epoch seconds as RFC 3339 UTC (`2027-12-31T23:59:59Z`).
pub fn format_time(secs: i64) -> String {
    // humantime formats years 1970 to 9999 only.
    if !(0..=MAX_TIME).contains(&secs) {
        return secs.to_string();
    }
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs as u64)).to_string()
}

/// A point in time given on the command line: epoch seconds, or RFC 3339 with a zone
/// (`2027-12-31T23:59:59Z`, `2027-12-31T20:59:59-03:00`).
pub fn parse_time(s: &str) -> Result<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Ok(n);
    }
    records::parse_rfc3339(s).ok_or_else(|| {
        OpsError::bad_input(format!(
            "{s:?} is neither epoch seconds nor RFC 3339 with a zone (e.g. 2027-12-31T23:59:59Z)"
        ))
    })
}

/// A duration given on the command line (`90s`, `12h`, `30d`, `1y 6months`).
pub fn parse_duration(s: &str) -> Result<i64> {
    humantime::parse_duration(s)
        .map(|d| d.as_secs() as i64)
        .map_err(|e| OpsError::bad_input(format!("duration {s:?}: {e} (e.g. 90s, 12h, 30d)")))
}

/// Reads the non-empty lines of `input` (one credential per line; `\n` or `\r\n`). A line with
/// leading or trailing whitespace or a control character is refused (the gateway compares
/// credentials byte for byte, so such a line is almost certainly a copy-and-paste mistake); the
/// error names the line number, never its content.
pub fn read_credential_lines(input: &mut dyn BufRead, what: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut n = 0;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let read = input
            .read_until(b'\n', &mut buf)
            .map_err(|e| OpsError::bad_input(format!("reading standard input: {e}")))?;
        if read == 0 {
            break;
        }
        n += 1;
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        if buf.is_empty() {
            continue;
        }
        let line = String::from_utf8(std::mem::take(&mut buf)).map_err(|_| {
            OpsError::bad_input(format!("standard input line {n}: the {what} is not UTF-8"))
        })?;
        check_credential(&line, what)
            .map_err(|m| OpsError::bad_input(format!("standard input line {n}: the {what} {m}")))?;
        out.push(line);
    }
    Ok(out)
}

/// Reads exactly one credential line from `input`.
pub fn read_one_credential(input: &mut dyn BufRead, what: &str) -> Result<String> {
    let mut lines = read_credential_lines(input, what)?;
    match lines.len() {
        1 => Ok(lines.remove(0)),
        0 => Err(OpsError::bad_input(format!(
            "expected the {what} on standard input; got nothing"
        ))),
        n => Err(OpsError::bad_input(format!(
            "expected one {what} on standard input; got {n} lines"
        ))),
    }
}

/// Why a credential cannot be stored as given (never echoes it).
pub fn check_credential(s: &str, what: &str) -> std::result::Result<(), String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.chars().any(char::is_control) {
        return Err("contains a control character".into());
    }
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err("has leading or trailing whitespace".into());
    }
    if what == "token" && s.len() > records::MAX_TOKEN_BYTES {
        return Err(format!(
            "is longer than {} bytes (the gateway refuses it unread)",
            records::MAX_TOKEN_BYTES
        ));
    }
    Ok(())
}

/// A client id usable as `app:<client_id>`.
pub fn check_client_id(id: &str) -> Result<String> {
    if let Err(m) = check_credential(id, "client id") {
        return Err(OpsError::bad_input(format!("client id {id:?} {m}")));
    }
    records::app_key(id).ok_or_else(|| {
        OpsError::bad_input(format!(
            "client id {:?}… is too long: app:<client_id> must fit in {} bytes",
            id.chars().take(16).collect::<String>(),
            records::MAX_KEY_BYTES
        ))
    })
}

/// `token:<hash>` from a hash given on the command line (64 hex digits, with or without the
/// `token:` prefix; upper case is folded).
pub fn token_key_from_hash(h: &str) -> Result<String> {
    let hex_part = h.strip_prefix(records::TOKEN_PREFIX).unwrap_or(h);
    if hex_part.len() != 64 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(OpsError::bad_input(format!(
            "{h:?} is not a token hash (64 hex digits, as `token list` shows)"
        )));
    }
    Ok(format!(
        "{}{}",
        records::TOKEN_PREFIX,
        hex_part.to_ascii_lowercase()
    ))
}

/// Parses a JSON value given on the command line.
pub fn parse_json_arg(s: &str, what: &str) -> Result<serde_json::Value> {
    serde_json::from_str(s).map_err(|e| {
        OpsError::bad_input(format!(
            "{what} is not JSON: {}",
            super::redact::serde_error(&e)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_have_the_documented_formats() {
        let t = new_token();
        assert_eq!(t.len(), 43);
        assert!(t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(new_token(), t);
        let id = new_client_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_eq!(STANDARD.decode(new_hmac_secret_b64()).unwrap().len(), 32);
    }

    #[test]
    fn times_and_durations() {
        assert_eq!(parse_time("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(parse_time("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000);
        assert_eq!(
            parse_time("2023-11-14T19:13:20-03:00").unwrap(),
            1_700_000_000
        );
        assert_eq!(
            parse_time("2023-11-14T22:13:20").unwrap_err().exit,
            super::super::error::Exit::BadInput
        );
        assert_eq!(format_time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(parse_duration("30d").unwrap(), 30 * 86400);
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn credential_lines_are_read_without_echoing_them() {
        let mut input: &[u8] = b"tok-1\r\n\ntok-2\n";
        assert_eq!(
            read_credential_lines(&mut input, "token").unwrap(),
            vec!["tok-1", "tok-2"]
        );
        let mut input: &[u8] = b"secret-value \n";
        let e = read_one_credential(&mut input, "token").unwrap_err();
        assert!(e.message.contains("line 1") && !e.message.contains("secret-value"));
        let mut input: &[u8] = b"";
        assert!(read_one_credential(&mut input, "token").is_err());
        let mut input: &[u8] = b"a\nb\n";
        assert!(read_one_credential(&mut input, "token").is_err());
    }

    #[test]
    fn token_hashes_and_client_ids() {
        let h = "A".repeat(64);
        assert_eq!(
            token_key_from_hash(&h).unwrap(),
            format!("token:{}", "a".repeat(64))
        );
        assert!(token_key_from_hash(&format!("token:{}", "0".repeat(64))).is_ok());
        assert!(token_key_from_hash("abc").is_err());
        assert_eq!(check_client_id("my-app").unwrap(), "app:my-app");
        assert!(check_client_id(&"x".repeat(600)).is_err());
        assert!(check_client_id(" x").is_err());
    }
}
