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
        let after_scheme = match url.split_once("://") {
            Some((_, rest)) => rest,
            None => url,
        };
        let rest = if url.contains("://") {
            match after_scheme.find(['/', '?']) {
                Some(i) => &after_scheme[i..],
                None => "",
            }
        } else {
            after_scheme
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
    fn repeated_headers_are_joined_like_the_runtime() {
        let r = TestRequest::new("GET", "http://h/")
            .with_header("client_id", "a")
            .with_header("Client_Id", "b");
        assert_eq!(r.header("CLIENT_ID").as_deref(), Some("a, b"));
    }
}
