//! Where a credential is looked for and found: one extractor shared by every interceptor.
//!
//! Values are returned exactly as sent (never trimmed); a query parameter or cookie given
//! twice is reported as duplicated, since the gateway cannot know which one the client meant.

use crate::base::request::{RequestView, Target};

/// Where an interceptor is configured to look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Header,
    Query,
    Cookie,
    /// The header first, then the cookie of the same name.
    HeaderOrCookie,
    /// Header, then query parameter, then cookie.
    Any,
}

impl Location {
    pub const NAMES: &'static [&'static str] =
        &["header", "query", "cookie", "header_or_cookie", "any"];

    pub fn parse(s: &str) -> Option<Location> {
        Some(match s {
            "header" => Location::Header,
            "query" => Location::Query,
            "cookie" => Location::Cookie,
            "header_or_cookie" => Location::HeaderOrCookie,
            "any" => Location::Any,
            _ => return None,
        })
    }

    /// The places looked in, in order.
    pub fn places(self) -> &'static [Place] {
        match self {
            Location::Header => &[Place::Header],
            Location::Query => &[Place::QueryParam],
            Location::Cookie => &[Place::Cookie],
            Location::HeaderOrCookie => &[Place::Header, Place::Cookie],
            Location::Any => &[Place::Header, Place::QueryParam, Place::Cookie],
        }
    }
}

/// One concrete place of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    Header,
    QueryParam,
    Cookie,
}

impl Place {
    pub const ALL: [Place; 3] = [Place::Header, Place::QueryParam, Place::Cookie];

    /// The word used in messages and trace lines.
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Header => "HEADER",
            Place::QueryParam => "QUERY_PARAM",
            Place::Cookie => "COOKIE",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The result of looking for a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extracted {
    /// Present with a non-empty value, exactly as sent.
    Found { value: String, place: Place },
    /// Present but empty.
    Empty { place: Place },
    /// A query parameter or cookie given more than once.
    Duplicated { place: Place },
    /// Absent from every place looked in; `place` is the first of them.
    Missing { place: Place },
}

impl Extracted {
    pub fn place(&self) -> Place {
        match self {
            Extracted::Found { place, .. }
            | Extracted::Empty { place }
            | Extracted::Duplicated { place }
            | Extracted::Missing { place } => *place,
        }
    }
}

/// Looks for `name` in the places of `location`, stopping at the first place where it is present.
pub fn extract(
    req: &(impl RequestView + ?Sized),
    target: &Target<'_>,
    location: Location,
    name: &str,
) -> Extracted {
    let places = location.places();
    for &place in places {
        let found = match place {
            Place::Header => req.header(name).map(Ok),
            Place::QueryParam => target.query.and_then(|q| query_value(q, name)),
            Place::Cookie => req.header("cookie").and_then(|c| cookie_value(&c, name)),
        };
        match found {
            None => continue,
            Some(Err(Duplicate)) => return Extracted::Duplicated { place },
            Some(Ok(v)) if v.is_empty() => return Extracted::Empty { place },
            Some(Ok(value)) => return Extracted::Found { value, place },
        }
    }
    Extracted::Missing {
        place: places.first().copied().unwrap_or(Place::Header),
    }
}

/// Marker: a name present more than once.
#[derive(Debug, PartialEq, Eq)]
pub struct Duplicate;

/// The decoded value of query parameter `name` (percent-decoding, `+` as space).
pub fn query_value(query: &str, name: &str) -> Option<Result<String, Duplicate>> {
    let mut found: Option<String> = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k == name {
            if found.is_some() {
                return Some(Err(Duplicate));
            }
            found = Some(v.into_owned());
        }
    }
    found.map(Ok)
}

/// The pairs of a `Cookie` header, exactly as sent: pairs are separated by `;` and the single
/// space that follows it (RFC 6265 §4.2.1, `cookie-pair *( ";" SP cookie-pair )`); names and
/// values are never trimmed or decoded, so a value sent with a stray space does not match.
/// (The `cookie` crate trims names and values, which the no-trim rule forbids.)
fn cookie_pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').enumerate().filter_map(|(i, part)| {
        let part = if i > 0 {
            part.strip_prefix(' ').unwrap_or(part)
        } else {
            part
        };
        part.split_once('=')
    })
}

/// The value of cookie `name` in a `Cookie` header, exactly as sent.
pub fn cookie_value(header: &str, name: &str) -> Option<Result<String, Duplicate>> {
    let mut found: Option<String> = None;
    for (k, v) in cookie_pairs(header) {
        if k == name {
            if found.is_some() {
                return Some(Err(Duplicate));
            }
            found = Some(v.to_string());
        }
    }
    found.map(Ok)
}

/// The query without every parameter named `name`; other parameters keep their exact bytes.
pub fn query_without(query: &str, name: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or("");
            form_urlencoded::parse(key.as_bytes())
                .next()
                .map(|(k, _)| k != name)
                .unwrap_or(true)
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The `Cookie` header without every cookie named `name`; `None` when nothing is left. The
/// other cookies keep their exact bytes.
pub fn cookies_without(header: &str, name: &str) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .enumerate()
        .map(|(i, part)| {
            if i > 0 {
                part.strip_prefix(' ').unwrap_or(part)
            } else {
                part
            }
        })
        .filter(|part| {
            part.split_once('=')
                .map(|(k, _)| k != name)
                .unwrap_or(!part.is_empty())
        })
        .collect();
    if kept.is_empty() {
        None
    } else {
        Some(kept.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::request::TestRequest;

    fn get(req: &TestRequest, loc: Location, name: &str) -> Extracted {
        extract(req, &Target::parse(&req.url), loc, name)
    }

    #[test]
    fn header_values_are_never_trimmed() {
        let r = TestRequest::new("GET", "http://h/").with_header("access_token", " abc ");
        assert_eq!(
            get(&r, Location::Header, "access_token"),
            Extracted::Found {
                value: " abc ".into(),
                place: Place::Header
            }
        );
    }

    #[test]
    fn query_parameters_are_decoded_and_duplicates_refused() {
        let r = TestRequest::new("GET", "http://h/?access_token=a%2Bb+c&x=1");
        assert_eq!(
            get(&r, Location::Query, "access_token"),
            Extracted::Found {
                value: "a+b c".into(),
                place: Place::QueryParam
            }
        );
        let r = TestRequest::new("GET", "http://h/?t=a&t=a");
        assert_eq!(
            get(&r, Location::Query, "t"),
            Extracted::Duplicated {
                place: Place::QueryParam
            }
        );
        let r = TestRequest::new("GET", "http://h/?t=");
        assert_eq!(
            get(&r, Location::Query, "t"),
            Extracted::Empty {
                place: Place::QueryParam
            }
        );
    }

    #[test]
    fn cookies_are_found_and_duplicates_refused() {
        let r = TestRequest::new("GET", "http://h/").with_header("cookie", "a=1; tok=xyz; b=2");
        assert_eq!(
            get(&r, Location::Cookie, "tok"),
            Extracted::Found {
                value: "xyz".into(),
                place: Place::Cookie
            }
        );
        let r = TestRequest::new("GET", "http://h/").with_header("cookie", "tok=1; tok=2");
        assert_eq!(
            get(&r, Location::Cookie, "tok"),
            Extracted::Duplicated {
                place: Place::Cookie
            }
        );
    }

    #[test]
    fn cookie_values_are_never_trimmed() {
        for (header, want) in [
            ("sess=tok ; other=1", Some("tok ")),
            ("other=1; sess= tok", Some(" tok")),
            ("other=1;sess=tok", Some("tok")),
            ("a=1;  sess=tok", None),
            ("sess=a=b", Some("a=b")),
            ("xsess=tok", None),
        ] {
            assert_eq!(
                cookie_value(header, "sess").map(Result::unwrap).as_deref(),
                want,
                "{header:?}"
            );
        }
    }

    #[test]
    fn combined_locations_report_where_found_or_first_looked() {
        let r = TestRequest::new("GET", "http://h/?t=q").with_header("cookie", "t=c");
        assert_eq!(
            get(&r, Location::HeaderOrCookie, "t").place(),
            Place::Cookie
        );
        assert_eq!(get(&r, Location::Any, "t").place(), Place::QueryParam);
        let r = TestRequest::new("GET", "http://h/");
        assert_eq!(
            get(&r, Location::Any, "t"),
            Extracted::Missing {
                place: Place::Header
            }
        );
    }

    #[test]
    fn hiding_removes_only_the_credential() {
        assert_eq!(query_without("a=1&tok=x&b=%20&tok=y", "tok"), "a=1&b=%20");
        assert_eq!(query_without("tok=x", "tok"), "");
        assert_eq!(
            cookies_without("a=1; tok=xyz;b=2", "tok").as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(
            cookies_without("a= 1 ; tok=xyz", "tok").as_deref(),
            Some("a= 1 ")
        );
        assert_eq!(cookies_without("tok=xyz", "tok"), None);
    }
}
