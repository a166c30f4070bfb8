//! Request bodies of the endpoints: `application/x-www-form-urlencoded` or `application/json`
//! (without a `Content-Type`, a body starting with `{` is JSON). A parameter given twice is an
//! error (RFC 6749 §3.2); a parameter without a value counts as absent (§3.1); unknown ones are
//! kept and ignored by the endpoints.

use serde_json::Value;

/// The parameters of a request body.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Params {
    strings: Vec<(String, String)>,
    /// JSON-only values that are objects (`extra_info`).
    objects: Vec<(String, Value)>,
}

/// Longest accepted parameter value (a code, a token, a redirect URI, a secret).
pub const MAX_VALUE_BYTES: usize = 8192;

impl Params {
    /// The parameter's value, if present and not empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.strings
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// An object parameter (JSON bodies; a form may carry it as JSON text).
    pub fn object(&self, name: &str) -> Result<Option<Value>, String> {
        if let Some((_, v)) = self.objects.iter().find(|(n, _)| n == name) {
            return Ok(Some(v.clone()));
        }
        match self.get(name) {
            None => Ok(None),
            Some(text) => match serde_json::from_str::<Value>(text) {
                Ok(v @ Value::Object(_)) => Ok(Some(v)),
                _ => Err(format!("{name} must be a JSON object")),
            },
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some() || self.objects.iter().any(|(n, _)| n == name)
    }

    fn push(&mut self, name: String, value: String) -> Result<(), String> {
        if self.has(&name) {
            return Err(format!("parameter {name:?} is given more than once"));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!("parameter {name:?} is too long"));
        }
        if !value.is_empty() {
            self.strings.push((name, value));
        }
        Ok(())
    }

    /// Parameters from plain pairs (tests, tools).
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Params {
        let mut p = Params::default();
        for (n, v) in pairs {
            let _ = p.push(n.to_string(), v.to_string());
        }
        p
    }
}

/// Parses a body by its `Content-Type`; the error says what is wrong (never a value).
pub fn parse(content_type: Option<&str>, body: &[u8]) -> Result<Params, String> {
    let kind = content_type
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let json = match kind.as_str() {
        "application/json" => true,
        "application/x-www-form-urlencoded" => false,
        k if k.starts_with("application/") && k.ends_with("+json") => true,
        "" => body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{'),
        _ => {
            return Err(
                "the body must be application/x-www-form-urlencoded or application/json".into(),
            )
        }
    };
    if json {
        parse_json(body)
    } else {
        parse_form(body)
    }
}

fn parse_form(body: &[u8]) -> Result<Params, String> {
    let mut p = Params::default();
    for (name, value) in form_urlencoded::parse(body) {
        p.push(name.into_owned(), value.into_owned())?;
    }
    Ok(p)
}

fn parse_json(body: &[u8]) -> Result<Params, String> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| "the body is not a JSON object".to_string())?;
    let Value::Object(map) = v else {
        return Err("the body is not a JSON object".into());
    };
    let mut p = Params::default();
    for (name, value) in map {
        match value {
            Value::Null => {}
            Value::String(s) => p.push(name, s)?,
            Value::Object(_) => {
                if p.has(&name) {
                    return Err(format!("parameter {name:?} is given more than once"));
                }
                p.objects.push((name, value));
            }
            // Clients that send numbers or booleans for string parameters are accepted as
            // they would be in a form; arrays are not parameters of these endpoints.
            Value::Number(n) => p.push(name, n.to_string())?,
            Value::Bool(b) => p.push(name, b.to_string())?,
            Value::Array(_) => return Err(format!("parameter {name:?} must not be a list")),
        }
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_and_json() {
        let p = parse(
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"grant_type=client_credentials&scope=a+b&x=%41&empty=",
        )
        .unwrap();
        assert_eq!(p.get("grant_type"), Some("client_credentials"));
        assert_eq!(p.get("scope"), Some("a b"));
        assert_eq!(p.get("x"), Some("A"));
        assert_eq!(p.get("empty"), None);
        let p = parse(
            Some("application/json"),
            br#"{"client_id":"c","extra_info":{"user":"u"},"state":null,"n":3}"#,
        )
        .unwrap();
        assert_eq!(p.get("client_id"), Some("c"));
        assert_eq!(p.get("state"), None);
        assert_eq!(p.get("n"), Some("3"));
        assert_eq!(
            p.object("extra_info").unwrap(),
            Some(serde_json::json!({"user": "u"}))
        );
        // Sniffed without a content type.
        assert_eq!(parse(None, br#" {"a":"1"}"#).unwrap().get("a"), Some("1"));
        assert_eq!(parse(None, b"a=1").unwrap().get("a"), Some("1"));
        // A form may carry extra_info as JSON text.
        let p = parse(None, b"extra_info=%7B%22a%22%3A1%7D").unwrap();
        assert_eq!(
            p.object("extra_info").unwrap(),
            Some(serde_json::json!({"a": 1}))
        );
        let p = parse(None, b"extra_info=nope").unwrap();
        assert!(p.object("extra_info").is_err());
    }

    #[test]
    fn what_is_refused() {
        assert!(parse(None, b"a=1&a=2")
            .unwrap_err()
            .contains("more than once"));
        assert!(parse(Some("text/plain"), b"a=1").is_err());
        assert!(parse(Some("application/json"), b"[1]").is_err());
        assert!(parse(Some("application/json"), b"{").is_err());
        assert!(parse(Some("application/json"), br#"{"a":[1]}"#).is_err());
        let long = format!("a={}", "x".repeat(MAX_VALUE_BYTES + 1));
        assert!(parse(None, long.as_bytes())
            .unwrap_err()
            .contains("too long"));
        // Errors never quote values.
        let e = parse(None, b"secret=hunter2&secret=hunter2").unwrap_err();
        assert!(!e.contains("hunter2"));
    }
}
