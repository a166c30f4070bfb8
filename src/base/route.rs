//! Path patterns of resources and the matching of a request to an API and resource.
//!
//! A pattern is relative to the API's base path and made of `/`-separated segments: a literal,
//! `{name}` (exactly one non-empty segment) or, as the last segment only, `*` (any rest, even
//! empty). Matching is exact and case-sensitive; a trailing slash is significant only for
//! literals (`/items` does not match `/items/`).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param,
    Rest,
}

/// A compiled resource path pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    segments: Vec<Segment>,
}

impl Pattern {
    /// Compiles a pattern; the error says what is wrong with it.
    pub fn parse(s: &str) -> Result<Pattern, String> {
        if !s.starts_with('/') {
            return Err(format!("path {s:?} must start with '/'"));
        }
        if s == "/" {
            return Ok(Pattern {
                segments: Vec::new(),
            });
        }
        let parts: Vec<&str> = s[1..].split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, p) in parts.iter().enumerate() {
            let seg = if *p == "*" {
                if i.saturating_add(1) != parts.len() {
                    return Err(format!("path {s:?}: '*' may only be the last segment"));
                }
                Segment::Rest
            } else if p.starts_with('{') && p.ends_with('}') && p.len() > 2 {
                Segment::Param
            } else if p.contains(['{', '}', '*', '?', '#']) {
                return Err(format!("path {s:?}: bad segment {p:?}"));
            } else {
                Segment::Literal((*p).to_string())
            };
            segments.push(seg);
        }
        Ok(Pattern { segments })
    }

    /// Whether `rest` (the request path after the base path, `""` or starting with `/`) matches.
    pub fn matches(&self, rest: &str) -> bool {
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let parts: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        if self.segments.is_empty() {
            return parts.is_empty();
        }
        let mut parts = parts.into_iter();
        for seg in &self.segments {
            match (seg, parts.next()) {
                (Segment::Rest, _) => return true,
                (Segment::Param, Some(p)) if !p.is_empty() => {}
                (Segment::Literal(l), Some(p)) if p == l.as_str() => {}
                _ => return false,
            }
        }
        parts.next().is_none()
    }
}

/// The part of `path` under `base`, or `None` when `path` is not under it. A base path matches
/// whole segments only: `/orders` is under `/orders` and `/orders/1`, not `/ordersx`.
pub fn under_base<'p>(path: &'p str, base: &str) -> Option<&'p str> {
    if base == "/" {
        return Some(path);
    }
    let rest = path.strip_prefix(base)?;
    if rest.is_empty() || rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_segments() {
        let p = Pattern::parse("/items/{id}").unwrap();
        assert!(p.matches("/items/42"));
        assert!(!p.matches("/items"));
        assert!(!p.matches("/items/"));
        assert!(!p.matches("/items/42/x"));
        let root = Pattern::parse("/").unwrap();
        assert!(root.matches("") && root.matches("/"));
        assert!(!root.matches("/a"));
        let rest = Pattern::parse("/files/*").unwrap();
        assert!(rest.matches("/files") && rest.matches("/files/a/b"));
        assert!(!rest.matches("/other"));
        let lit = Pattern::parse("/items").unwrap();
        assert!(lit.matches("/items") && !lit.matches("/items/"));
    }

    #[test]
    fn bad_patterns_are_reported() {
        assert!(Pattern::parse("items").is_err());
        assert!(Pattern::parse("/*/x").is_err());
        assert!(Pattern::parse("/a{b").is_err());
    }

    #[test]
    fn base_paths_match_whole_segments() {
        assert_eq!(under_base("/orders", "/orders"), Some(""));
        assert_eq!(under_base("/orders/1", "/orders"), Some("/1"));
        assert_eq!(under_base("/ordersx", "/orders"), None);
        assert_eq!(under_base("/x", "/"), Some("/x"));
    }
}
