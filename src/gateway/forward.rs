//! What reaches the origin: the URL, and the header changes to apply to the client's headers.
//!
//! Method and body pass through untouched (the body is streamed by the adapter). Removed:
//! hop-by-hop headers (RFC 9110 §7.6.1) and any header named in `Connection`, `Host` (the origin
//! gets its own), incoming copies of the identity headers (so a client cannot forge them), and
//! hidden credentials. Set: the identity headers, when an app was identified.

use crate::base::locate::{cookies_without, query_without, Place};
pub use crate::base::request::header_safe;
use crate::base::request::{RequestView, Target, HOP_BY_HOP};
use crate::gateway::policy::IdentityHeaders;
use crate::interceptors::{Hide, Identity};

/// The hop-by-hop headers the runtime's `fetch` already drops or sets itself (forbidden request
/// header names of the Fetch standard; checked end to end in tests/e2e/forwarding.test.mjs), so
/// the adapter does not spend a call deleting them on every request.
pub const DROPPED_BY_RUNTIME: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardPlan {
    pub url: String,
    /// Lowercase header names to delete from this request, besides [`always_removed`].
    pub remove: Vec<String>,
    /// Headers to set (after the deletions).
    pub set: Vec<(String, String)>,
    /// Added to the origin's response by response-flow interceptors (generators): `set-cookie`
    /// and `access-control-expose-headers` appended, others set. Empty for most calls, and then
    /// the origin's response is handed back untouched.
    pub response_headers: Vec<(String, String)>,
    /// How long the origin may take to send its response headers (ms); past it, a 504.
    pub timeout_ms: u64,
}

impl ForwardPlan {
    /// What the glue's `forward` (src/worker/glue.js) is told of the plan, as one string (one
    /// copy out of wasm memory, not four): the URL, the header names to remove, the headers to
    /// set (`traceparent` first) and the headers to add to the origin's response, separated by
    /// NUL; within each part, names and values separated by "\n". Neither can be in a URL, a
    /// header name or a header value (the runtime refuses them in headers; identity values are
    /// made header-safe).
    pub fn glue_text(&self, traceparent: &str) -> String {
        // At least the length, so the string is allocated once (lengths of strings in memory:
        // the sum cannot overflow, saturating all the same).
        let len = [self.url.len(), traceparent.len(), 16]
            .into_iter()
            .chain(self.remove.iter().map(|n| n.len().saturating_add(1)))
            .chain(
                self.set
                    .iter()
                    .chain(&self.response_headers)
                    .map(|(n, v)| n.len().saturating_add(v.len()).saturating_add(2)),
            )
            .fold(0usize, usize::saturating_add);
        let mut out = String::with_capacity(len);
        out.push_str(&self.url);
        out.push('\0');
        for (i, name) in self.remove.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(name);
        }
        out.push_str("\0traceparent\n");
        out.push_str(traceparent);
        for (name, value) in &self.set {
            out.push('\n');
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
        }
        out.push('\0');
        for (i, (name, value)) in self.response_headers.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(name);
            out.push('\n');
            out.push_str(value);
        }
        out
    }
}

/// Headers the adapter deletes from every forwarded request: the hop-by-hop headers the
/// runtime does not drop itself (`Proxy-*`) and incoming copies of the identity headers.
/// Computed once per isolate.
pub fn always_removed(names: &IdentityHeaders) -> Vec<String> {
    HOP_BY_HOP
        .iter()
        .copied()
        .filter(|h| !DROPPED_BY_RUNTIME.contains(h))
        .chain(names.names())
        .map(str::to_string)
        .collect()
}

/// Builds the forwarding plan for a request under an API whose base path left `rest`.
pub fn plan(
    req: &(impl RequestView + ?Sized),
    target: &Target<'_>,
    origin: &str,
    rest: &str,
    names: &IdentityHeaders,
    identity: Option<&Identity>,
    hides: &[Hide],
) -> ForwardPlan {
    let mut query = target.query.map(str::to_string);
    let mut remove: Vec<String> = Vec::new();
    let mut set = Vec::new();

    if let Some(conn) = req.header("connection") {
        for token in conn.split(',') {
            let t = token.trim().to_ascii_lowercase();
            if !t.is_empty() && !HOP_BY_HOP.contains(&t.as_str()) && !remove.contains(&t) {
                remove.push(t);
            }
        }
    }

    for hide in hides {
        match hide.place {
            Place::Header => remove.push(hide.name.to_ascii_lowercase()),
            Place::QueryParam => {
                if let Some(q) = &query {
                    query = Some(query_without(q, &hide.name));
                }
            }
            Place::Cookie => {
                if let Some(c) = req.header("cookie") {
                    match cookies_without(&c, &hide.name) {
                        Some(kept) => set.push(("cookie".to_string(), kept)),
                        None => remove.push("cookie".to_string()),
                    }
                }
            }
        }
    }

    if let Some(id) = identity {
        if let Some(h) = &names.client_id {
            set.push((h.clone(), header_safe(&id.client_id)));
        }
        if let Some(h) = &names.app_name {
            set.push((h.clone(), header_safe(&id.app().name)));
        }
        // `{"app":…,"token":…}` (either may be absent), each part serialized and made
        // header-safe once per cached record.
        if let Some(h) = &names.extra_info {
            let app = id.app().extra_info_header();
            let token = id.token().and_then(|t| t.extra_info_header());
            let value = match (app, token) {
                (Some(a), Some(t)) => Some(["{\"app\":", a, ",\"token\":", t, "}"].concat()),
                (Some(a), None) => Some(["{\"app\":", a, "}"].concat()),
                (None, Some(t)) => Some(["{\"token\":", t, "}"].concat()),
                (None, None) => None,
            };
            if let Some(v) = value {
                set.push((h.clone(), v));
            }
        }
    }

    let mut url = String::with_capacity(
        origin
            .len()
            .saturating_add(rest.len())
            .saturating_add(1)
            .saturating_add(query.as_ref().map_or(0, String::len)),
    );
    url.push_str(origin);
    url.push_str(rest);
    if let Some(q) = query.filter(|q| !q.is_empty()) {
        url.push('?');
        url.push_str(&q);
    }
    ForwardPlan {
        url,
        remove,
        set,
        response_headers: Vec::new(),
        timeout_ms: crate::gateway::policy::Timeouts::default().origin_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glue_text_has_four_parts_the_glue_splits() {
        let plan = ForwardPlan {
            url: "https://origin.example/a?b=c".into(),
            remove: vec!["authorization".into(), "x-key".into()],
            set: vec![
                ("x-client-id".into(), "c1".into()),
                ("x-app".into(), "A".into()),
            ],
            response_headers: vec![],
            timeout_ms: 30_000,
        };
        let text = plan.glue_text("00-aa-bb-01");
        // The estimate holds the whole text (a reallocation would have doubled the capacity).
        assert!(text.capacity() - text.len() <= 16, "allocated once");
        let parts: Vec<&str> = text.split('\0').collect();
        assert_eq!(
            parts,
            [
                "https://origin.example/a?b=c",
                "authorization\nx-key",
                "traceparent\n00-aa-bb-01\nx-client-id\nc1\nx-app\nA",
                "",
            ]
        );
        let plan = ForwardPlan {
            remove: vec![],
            set: vec![],
            response_headers: vec![
                ("set-cookie".into(), "a=1".into()),
                ("x-y".into(), "z".into()),
            ],
            ..plan
        };
        let text = plan.glue_text("t");
        let parts: Vec<&str> = text.split('\0').collect();
        assert_eq!(
            parts[1..],
            ["", "traceparent\nt", "set-cookie\na=1\nx-y\nz"]
        );
    }
    use crate::base::request::TestRequest;
    use std::sync::Arc;

    fn names() -> IdentityHeaders {
        IdentityHeaders {
            client_id: Some("x-edge-client-id".into()),
            app_name: Some("x-edge-app-name".into()),
            extra_info: None,
        }
    }

    #[test]
    fn url_joins_origin_rest_and_query() {
        let r = TestRequest::new("GET", "https://gw/orders/items/1?a=1&b=%20");
        let t = Target::parse(&r.url);
        let p = plan(
            &r,
            &t,
            "http://o:1/backend",
            "/items/1",
            &names(),
            None,
            &[],
        );
        assert_eq!(p.url, "http://o:1/backend/items/1?a=1&b=%20");
        let r = TestRequest::new("GET", "https://gw/orders");
        let p = plan(
            &r,
            &Target::parse(&r.url),
            "http://o:1",
            "",
            &names(),
            None,
            &[],
        );
        assert_eq!(p.url, "http://o:1");
    }

    #[test]
    fn hop_by_hop_connection_named_and_identity_headers_are_removed() {
        let r = TestRequest::new("GET", "https://gw/o")
            .with_header("Connection", "close, X-Secret-Hop");
        let p = plan(
            &r,
            &Target::parse(&r.url),
            "http://o",
            "",
            &names(),
            None,
            &[],
        );
        // Every token of Connection is treated as a header name ("close" names none: harmless).
        assert_eq!(
            p.remove,
            vec!["close".to_string(), "x-secret-hop".to_string()]
        );
        let always = always_removed(&names());
        for h in [
            "proxy-authorization",
            "proxy-connection",
            "proxy-authenticate",
            "x-edge-client-id",
            "x-edge-app-name",
        ] {
            assert!(always.iter().any(|x| x == h), "{h} not removed");
        }
        // The rest of the hop-by-hop headers are the runtime's to drop.
        for h in HOP_BY_HOP {
            assert!(always.iter().any(|x| x == h) || DROPPED_BY_RUNTIME.contains(h));
        }
        assert!(p.set.is_empty(), "no identity, nothing set");
    }

    #[test]
    fn hidden_credentials_leave_the_rest() {
        let r = TestRequest::new("GET", "https://gw/o?a=1&tok=x&b=2")
            .with_header("cookie", "s=1; tok=x");
        let hides = [
            Hide {
                place: Place::QueryParam,
                name: Arc::from("tok"),
            },
            Hide {
                place: Place::Cookie,
                name: Arc::from("tok"),
            },
            Hide {
                place: Place::Header,
                name: Arc::from("Access_Token"),
            },
        ];
        let p = plan(
            &r,
            &Target::parse(&r.url),
            "http://o",
            "",
            &names(),
            None,
            &hides,
        );
        assert_eq!(p.url, "http://o?a=1&b=2");
        assert!(p.set.contains(&("cookie".to_string(), "s=1".to_string())));
        assert!(p.remove.iter().any(|x| x == "access_token"));
    }

    /// The extra-info header is built from parts serialized once per record; it must be what
    /// serializing `{"app": …, "token": …}` as one JSON object and making it header-safe gives.
    #[test]
    fn extra_info_header_is_the_json_object_made_safe() {
        use crate::interceptors::identity;
        use serde_json::{json, Value};
        let rec =
            |key: &str, v: Value| Arc::new(crate::records::parse(key, &v.to_string()).unwrap());
        let app = |extra: Option<Value>| {
            let mut a = json!({"name": "Café", "status": "APPROVED"});
            if let Some(e) = extra {
                a["extra_info"] = e;
            }
            rec("app:c", a)
        };
        let token = |extra: Option<Value>| {
            let mut t = json!({"client_id": "c"});
            if let Some(e) = extra {
                t["extra_info"] = e;
            }
            rec("token:00", t)
        };
        let odd = json!({"z": "100% ñ\r\n", "a": [1, 2.5, null, true], "q": "\"x\""});
        let names = IdentityHeaders {
            extra_info: Some("x-extra".into()),
            ..names()
        };
        let r = TestRequest::new("GET", "https://gw/o");
        for (a, t) in [
            (Some(json!({"tier": "gold"})), None),
            (None, Some(odd.clone())),
            (Some(odd.clone()), Some(json!("just a string"))),
            (Some(json!(7)), Some(json!({"user": "u-7"}))),
            (None, None),
        ] {
            let mut whole = serde_json::Map::new();
            if let Some(a) = &a {
                whole.insert("app".into(), a.clone());
            }
            if let Some(t) = &t {
                whole.insert("token".into(), t.clone());
            }
            let want = (!whole.is_empty()).then(|| header_safe(&Value::Object(whole).to_string()));
            let id = identity("c", app(a.clone()), Some(token(t.clone())));
            for _ in 0..2 {
                // Twice: the second reads the parts kept with the records.
                let p = plan(
                    &r,
                    &Target::parse(&r.url),
                    "http://o",
                    "",
                    &names,
                    Some(&id),
                    &[],
                );
                let got = p
                    .set
                    .iter()
                    .find(|(n, _)| n == "x-extra")
                    .map(|(_, v)| v.clone());
                assert_eq!(got, want, "app {a:?}, token {t:?}");
            }
        }
    }

    #[test]
    fn header_values_are_made_safe() {
        assert_eq!(header_safe("Café 100%"), "Caf%C3%A9 100%25");
        assert_eq!(header_safe("a\r\nb"), "a%0D%0Ab");
    }
}
