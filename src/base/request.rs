//! The request as the core sees it: a method, an absolute URL and headers read on demand.
//!
//! The Worker adapter implements [`RequestView`] over the runtime's request so that only the
//! headers a compiled policy names ever cross from JavaScript; tests use [`TestRequest`].

/// What the pipeline may read from an incoming request.
pub trait RequestView {
    /// The method, as sent (`GET`, `POST`, ...).
    fn method(&self) -> &str;
    /// The absolute request URL (`https://host/path?query`).
    fn url(&self) -> &str;
    /// One header's value; repeated headers arrive joined with `", "` by the runtime.
    fn header(&self, name: &str) -> Option<String>;
    /// The request body, once read. Bodies are read only when an interceptor asks for them
    /// ([`crate::gateway::pipeline::Need::Body`]); until then (and for requests never asked) `None`.
    fn body(&self) -> Option<&[u8]> {
        None
    }
}

/// Path and query of an absolute URL, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// Always starts with `/`.
    pub path: &'a str,
    /// The raw query without `?`, if the URL has one (possibly empty).
    pub query: Option<&'a str>,
}

impl<'a> Target<'a> {
    /// Splits an absolute URL (or an origin-form path) into path and query; the fragment, which
    /// a client never sends, is dropped.
    pub fn parse(url: &'a str) -> Target<'a> {
        let url = url.split('#').next().unwrap_or("");
        // One search for "://" (a substring search sets up a searcher each time: this runs on
        // every request).
        let rest = match url.split_once("://") {
            Some((_, after_scheme)) => match after_scheme.find(['/', '?']) {
                Some(i) => after_scheme.get(i..).unwrap_or(""),
                None => "",
            },
            None => url,
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        Target {
            path: if path.is_empty() { "/" } else { path },
            query,
        }
    }
}

/// A request built from plain values, for tests and tools.
#[derive(Debug, Clone, Default)]
pub struct TestRequest {
    pub method: String,
    pub url: String,
    /// Header names are matched case-insensitively, as the runtime does.
    pub headers: Vec<(String, String)>,
    /// The body, as if already read (`None`: not read yet).
    pub body: Option<Vec<u8>>,
}

impl TestRequest {
    pub fn new(method: &str, url: &str) -> Self {
        TestRequest {
            method: method.to_string(),
            url: url.to_string(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// Sets the body, as the adapter does once it has read it.
    pub fn with_body(mut self, body: &[u8]) -> Self {
        self.body = Some(body.to_vec());
        self
    }

    /// Adds a header; adding the same name twice joins the values with `", "` like the runtime.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Some(h) = self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            h.1.push_str(", ");
            h.1.push_str(value);
        } else {
            self.headers.push((name.to_string(), value.to_string()));
        }
        self
    }
}

impl RequestView for TestRequest {
    fn method(&self) -> &str {
        &self.method
    }
    fn url(&self) -> &str {
        &self.url
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
    fn body(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }
}

/// What the Worker reads of every request in one call to JavaScript (the glue's `head`):
/// `method \n url \n v1 \n ... \n vN [\n colo]`, each header value and the colo written
/// `=<value>` when present and empty when absent. The colo, when asked for, runs to the end
/// (it is the only part that could hold a newline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// One per name asked, in order.
    pub values: Vec<Option<&'a str>>,
    /// `Some` when the colo was asked for.
    pub colo: Option<Option<&'a str>>,
}

impl<'a> Head<'a> {
    /// Parses the glue's answer for `names` header names (and the colo when `with_colo`);
    /// `None` unless it has exactly that many parts, each well formed.
    pub fn parse(text: &'a str, names: usize, with_colo: bool) -> Option<Head<'a>> {
        let value = |part: &'a str| -> Option<Option<&'a str>> {
            if part.is_empty() {
                Some(None)
            } else {
                part.strip_prefix('=').map(Some)
            }
        };
        let mut parts = text.splitn(names.checked_add(3)?, '\n');
        let method = parts.next()?;
        let url = parts.next()?;
        let mut values = Vec::with_capacity(names);
        for _ in 0..names {
            values.push(value(parts.next()?)?);
        }
        let colo = if with_colo {
            Some(value(parts.next()?)?)
        } else {
            None
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Head {
            method,
            url,
            values,
            colo,
        })
    }
}

/// Headers never forwarded.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// A header value: visible ASCII and spaces kept, every other byte percent-encoded (`%XX`), so
/// that names and extra info in any language survive as valid header values. Byte by byte:
/// the header-safe form of a concatenation is the concatenation of the header-safe forms.
pub fn header_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_absolute_urls() {
        let t = Target::parse("https://api.example.com/orders/1?a=1&b=2#frag");
        assert_eq!(t.path, "/orders/1");
        assert_eq!(t.query, Some("a=1&b=2"));
        let t = Target::parse("http://h:8080");
        assert_eq!((t.path, t.query), ("/", None));
        let t = Target::parse("http://h?x");
        assert_eq!((t.path, t.query), ("/", Some("x")));
        let t = Target::parse("/p?");
        assert_eq!((t.path, t.query), ("/p", Some("")));
    }

    #[test]
    fn head_parses_values_absent_empty_and_the_colo() {
        let h = Head::parse("GET\nhttps://h/p?q\n=abc\n\n=\n=FRA", 3, true).unwrap();
        assert_eq!(h.method, "GET");
        assert_eq!(h.url, "https://h/p?q");
        assert_eq!(h.values, vec![Some("abc"), None, Some("")]);
        assert_eq!(h.colo, Some(Some("FRA")));
        // Values may hold "=" and ", "; the colo runs to the end.
        let h = Head::parse("POST\nhttps://h/\n==a, b=\n=X\nY", 1, true).unwrap();
        assert_eq!(h.values, vec![Some("=a, b=")]);
        assert_eq!(h.colo, Some(Some("X\nY")));
        let h = Head::parse("GET\nhttps://h/", 0, false).unwrap();
        assert_eq!((h.values.len(), h.colo), (0, None));
        let h = Head::parse("GET\nhttps://h/\n", 0, true).unwrap();
        assert_eq!(h.colo, Some(None));
    }

    #[test]
    fn head_refuses_a_miscounted_or_malformed_answer() {
        // Too few parts, too many, a value without its "=" mark.
        assert_eq!(Head::parse("GET\nhttps://h/\n=a", 2, false), None);
        assert_eq!(Head::parse("GET\nhttps://h/\n=a\n=b", 1, false), None);
        assert_eq!(Head::parse("GET\nhttps://h/\na", 1, false), None);
        assert_eq!(Head::parse("GET", 0, false), None);
        assert_eq!(Head::parse("", 0, false), None);
        assert_eq!(Head::parse("GET\nhttps://h/\n=a", usize::MAX, false), None);
    }

    #[test]
    fn repeated_headers_are_joined_like_the_runtime() {
        let r = TestRequest::new("GET", "http://h/")
            .with_header("client_id", "a")
            .with_header("Client_Id", "b");
        assert_eq!(r.header("CLIENT_ID").as_deref(), Some("a, b"));
    }
}
