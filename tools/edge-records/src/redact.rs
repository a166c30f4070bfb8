//! Errors that quote nothing: what the tool prints about a record, an export or a key names
//! fields and positions, never a value read from them.
//!
//! serde's messages quote the offending value (`invalid type: string "s3cr3t", expected a
//! boolean`, `unknown variant `ACTIVE``), and so do some of the Worker's own reasons
//! (`expires_at "…" is neither …`). Everything the tool prints about such input goes through
//! here: [`serde_error`] keeps serde's category, the kind of value found and what was expected
//! (which comes from the type, not from the input) plus the line and column; [`quoted`] blanks
//! every quoted string of any other message.

/// What a serde_json error says, without the value it may quote: `line 1, column 30: invalid
/// type: string, expected a boolean`.
pub fn serde_error(e: &serde_json::Error) -> String {
    let what = serde_message(e);
    if e.line() == 0 {
        what
    } else {
        format!("line {}, column {}: {what}", e.line(), e.column())
    }
}

/// [`serde_error`] without the position.
pub fn serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = text.strip_suffix(&suffix).unwrap_or(&text);
    match e.classify() {
        // Syntax and end-of-input messages are fixed texts (`expected value`, `EOF while
        // parsing a string`, `invalid escape`, ...): they never quote the input.
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => msg.to_string(),
        serde_json::error::Category::Io => "cannot read the input".to_string(),
        serde_json::error::Category::Data => data_message(msg),
    }
}

/// A serde data error (`invalid type: …, expected …`, `unknown variant …`, `missing field …`)
/// without the value it quotes. Unknown shapes (custom messages) become `invalid value`.
pub fn data_message(msg: &str) -> String {
    // What was expected comes from the type (`a boolean`, `one of `APPROVED`, `PENDING``): the
    // last ", expected " starts it, even when a quoted value contains that text.
    let (head, expected) = match msg.rfind(", expected ") {
        Some(i) => (&msg[..i], Some(&msg[i + ", expected ".len()..])),
        None => (msg, None),
    };
    let tail = expected
        .map(|x| format!(", expected {x}"))
        .unwrap_or_default();
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(found) = head.strip_prefix(prefix) {
            return format!(
                "{}{}{tail}",
                prefix.trim_end_matches([':', ' ']),
                value_kind(found)
            );
        }
    }
    if head.starts_with("unknown variant ") {
        return format!("unknown variant{tail}");
    }
    if head.starts_with("unknown field ") {
        return format!("unknown field{tail}");
    }
    if let Some(n) = head.strip_prefix("invalid length ") {
        if n.bytes().all(|b| b.is_ascii_digit()) {
            return format!("invalid length {n}{tail}");
        }
    }
    for prefix in ["missing field ", "duplicate field "] {
        if let Some(name) = head.strip_prefix(prefix) {
            // The type's own field names: `name`, `client_id`.
            let bare = name.trim_matches('`');
            if expected.is_none()
                && !bare.is_empty()
                && bare.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return format!("{}`{bare}`", prefix);
            }
            return prefix.trim_end().to_string();
        }
    }
    format!("invalid value{tail}")
}

/// ` string`, ` integer`, ` null`… — the kind of value serde found, without the value.
fn value_kind(found: &str) -> String {
    const KINDS: &[&str] = &[
        "string",
        "integer",
        "floating point",
        "boolean",
        "character",
        "null",
        "unit value",
        "map",
        "sequence",
        "byte array",
        "Option value",
        "newtype struct",
        "enum",
        "unit variant",
        "newtype variant",
        "tuple variant",
        "struct variant",
    ];
    let kind: String = found
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == ' ')
        .collect();
    let kind = kind.trim();
    if KINDS.contains(&kind) {
        format!(": {kind}")
    } else {
        String::new()
    }
}

/// `msg` with the content of every double-quoted string (Rust `{:?}` or JSON quoting, with
/// backslash escapes) and every backquoted span replaced by `…`: for messages of other code
/// that may quote a value (`alg "X" is not supported`).
pub fn quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut chars = msg.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push_str("\"…\"");
                let mut escaped = false;
                for d in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if d == '\\' {
                        escaped = true;
                    } else if d == '"' {
                        break;
                    }
                }
            }
            '`' => {
                out.push_str("`…`");
                for d in chars.by_ref() {
                    if d == '`' {
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// Where a JSON text fails to deserialize as `T`, naming the field: `at access[0].api (line 1,
/// column 52): invalid type: integer, expected a string`. `None` when it deserializes.
pub fn typed_error<T: serde::de::DeserializeOwned>(text: &str) -> Option<String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let res: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    match res {
        Ok(_) => de.end().err().map(|e| serde_error(&e)),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.inner();
            let pos = format!("line {}, column {}", inner.line(), inner.column());
            let msg = serde_message(inner);
            Some(if path.is_empty() || path == "." || path == "?" {
                format!("{pos}: {msg}")
            } else {
                format!("at {path} ({pos}): {msg}")
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err_of<T: serde::de::DeserializeOwned + std::fmt::Debug>(text: &str) -> String {
        typed_error::<T>(text).unwrap_or_else(|| panic!("{text} parsed"))
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct R {
        name: String,
        revoked: Option<bool>,
        status: Option<S>,
        n: Option<u8>,
        list: Option<Vec<String>>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "UPPERCASE")]
    enum S {
        Approved,
        Pending,
    }

    const CANARY: &str = "s3cr3t-CANARY";

    #[test]
    fn serde_errors_name_the_field_and_never_the_value() {
        let cases = [
            (
                format!(r#"{{"name":"a","revoked":"{CANARY}"}}"#),
                "at revoked (line 1, column 37): invalid type: string, expected a boolean",
            ),
            (
                format!(r#"{{"name":"a","status":"{CANARY}"}}"#),
                "at status (line 1, column 36): unknown variant, expected `APPROVED` or `PENDING`",
            ),
            (
                r#"{"name":"a","n":70000}"#.to_string(),
                "at n (line 1, column 21): invalid value: integer, expected u8",
            ),
            (
                r#"{"name":"a","list":["x", 12345678]}"#.to_string(),
                "at list[1] (line 1, column 33): invalid type: integer, expected a string",
            ),
            (
                r#"{"revoked":true}"#.to_string(),
                "line 1, column 16: missing field `name`",
            ),
            (
                format!(r#"{{"name":"{CANARY}", "#),
                "line 1, column 25: EOF while parsing a value",
            ),
            (
                format!(r#"{{"name":"a"}} {CANARY}"#),
                "line 1, column 14: trailing characters",
            ),
            (
                // A value that imitates serde's own wording.
                format!(r#"{{"name":"a","revoked":"x\", expected {CANARY}"}}"#),
                "at revoked (line 1, column 51): invalid type: string, expected a boolean",
            ),
        ];
        for (text, want) in cases {
            let got = err_of::<R>(&text);
            assert_eq!(got, want, "for {text}");
            assert!(!got.contains("CANARY"), "{got}");
        }
    }

    #[test]
    fn custom_messages_and_quotes_are_blanked() {
        assert_eq!(
            data_message(&format!("expires_at {CANARY:?} is neither epoch seconds")),
            "invalid value"
        );
        assert_eq!(
            quoted(&format!(
                r#"alg "{CANARY}\"x" is not supported; kty `{CANARY}`"#
            )),
            r#"alg "…" is not supported; kty `…`"#
        );
        assert_eq!(data_message("missing field `a b`"), "missing field");
    }
}
