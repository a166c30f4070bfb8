//! Reading the policy: the object reader that reports unknown fields and wrong types with their
//! path, header-name syntax, and the list of every problem found.

use serde_json::{Map, Value};

/// Every problem found in a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<String>);

impl std::fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid policy ({} problems):", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n- {e}")?;
        }
        Ok(())
    }
}

/// Whether `s` is an HTTP header name (RFC 9110 token).
pub fn is_header_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A JSON object being compiled: remembers which fields were asked for so that any other field
/// is reported as unknown, with the list of known ones.
pub struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub path: String,
    known: Vec<&'static str>,
}

impl<'a> Obj<'a> {
    pub fn new(v: &'a Value, path: &str, errs: &mut Vec<String>) -> Option<Obj<'a>> {
        match v.as_object() {
            Some(map) => Some(Obj {
                map,
                path: path.to_string(),
                known: Vec::new(),
            }),
            None => {
                errs.push(format!("{path}: expected an object, found {}", kind(v)));
                None
            }
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.known.push(key);
        self.map.get(key)
    }

    fn bad(&self, key: &str, want: &str, v: &Value, errs: &mut Vec<String>) {
        errs.push(format!(
            "{}.{key}: expected {want}, found {}",
            self.path,
            kind(v)
        ));
    }

    pub fn opt_str(&mut self, key: &'static str, errs: &mut Vec<String>) -> Option<&'a str> {
        let v = self.get(key)?;
        match v.as_str() {
            Some(s) => Some(s),
            None => {
                self.bad(key, "a string", v, errs);
                None
            }
        }
    }

    pub fn req_str(&mut self, key: &'static str, errs: &mut Vec<String>) -> Option<&'a str> {
        if !self.map.contains_key(key) {
            errs.push(format!("{}: missing field {key:?}", self.path));
        }
        self.opt_str(key, errs)
    }

    pub fn opt_bool(&mut self, key: &'static str, errs: &mut Vec<String>) -> Option<bool> {
        let v = self.get(key)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.bad(key, "true or false", v, errs);
                None
            }
        }
    }

    pub fn opt_u64(&mut self, key: &'static str, errs: &mut Vec<String>) -> Option<u64> {
        let v = self.get(key)?;
        match v.as_u64() {
            Some(n) => Some(n),
            None => {
                self.bad(key, "a whole number of at least 0", v, errs);
                None
            }
        }
    }

    /// A whole number that must lie in `min..=max`: every number a policy can set is bounded
    /// here, so that no setting can make the arithmetic that uses it overflow. Out of range:
    /// reported, and `None` (the caller's default stands in while the policy is refused anyway).
    pub fn opt_u64_in(
        &mut self,
        key: &'static str,
        min: u64,
        max: u64,
        errs: &mut Vec<String>,
    ) -> Option<u64> {
        let n = self.opt_u64(key, errs)?;
        if (min..=max).contains(&n) {
            Some(n)
        } else {
            errs.push(format!(
                "{}.{key}: {n} is out of range; must be between {min} and {max}",
                self.path
            ));
            None
        }
    }

    pub fn opt_f64(&mut self, key: &'static str, errs: &mut Vec<String>) -> Option<f64> {
        let v = self.get(key)?;
        match v.as_f64() {
            Some(n) => Some(n),
            None => {
                self.bad(key, "a number", v, errs);
                None
            }
        }
    }

    pub fn opt_array(&mut self, key: &'static str, errs: &mut Vec<String>) -> Option<&'a [Value]> {
        let v = self.get(key)?;
        match v.as_array() {
            Some(a) => Some(a.as_slice()),
            None => {
                self.bad(key, "an array", v, errs);
                None
            }
        }
    }

    pub fn req_array(&mut self, key: &'static str, errs: &mut Vec<String>) -> Option<&'a [Value]> {
        if !self.map.contains_key(key) {
            errs.push(format!("{}: missing field {key:?}", self.path));
        }
        self.opt_array(key, errs)
    }

    pub fn opt_obj(&mut self, key: &'static str, errs: &mut Vec<String>) -> Option<Obj<'a>> {
        let v = self.get(key)?;
        Obj::new(v, &format!("{}.{key}", self.path), errs)
    }

    /// A string field that must be one of `names`.
    pub fn opt_choice(
        &mut self,
        key: &'static str,
        names: &[&str],
        errs: &mut Vec<String>,
    ) -> Option<&'a str> {
        let s = self.opt_str(key, errs)?;
        if names.contains(&s) {
            Some(s)
        } else {
            errs.push(format!(
                "{}.{key}: unknown value {s:?}; expected one of {names:?}",
                self.path
            ));
            None
        }
    }

    /// Reports every field that was not asked for.
    pub fn finish(self, errs: &mut Vec<String>) {
        for k in self.map.keys() {
            if !self.known.contains(&k.as_str()) {
                let mut known = self.known.clone();
                known.sort_unstable();
                known.dedup();
                errs.push(format!(
                    "{}: unknown field {k:?}; expected one of {known:?}",
                    self.path
                ));
            }
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
