//! W3C Trace Context (`traceparent`): the trace id of an incoming request is kept, the gateway
//! becomes a child span, and the origin receives the gateway's `traceparent`.

/// The trace context of one request through the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// The gateway's own span, 16 lowercase hex digits.
    pub span_id: String,
    /// The caller's span, when a valid `traceparent` came in.
    pub parent_span_id: Option<String>,
    /// Trace flags, 2 hex digits (`01` = sampled; a trace the gateway starts has these).
    pub flags: std::borrow::Cow<'static, str>,
}

impl TraceContext {
    /// Continues the incoming `traceparent` if it is valid, else starts a trace. `random` gives
    /// 24 random bytes: 16 for a new trace id (used only when starting), 8 for the span id.
    pub fn from_header(header: Option<&str>, mut random: [u8; 24]) -> TraceContext {
        if random[16..].iter().all(|b| *b == 0) {
            random[23] = 1; // an all-zero span id is invalid as the origin's parent id
        }
        let span_id = crate::base::hex::encode(&random[16..]);
        if let Some((trace_id, parent, flags)) = header.and_then(parse) {
            return TraceContext {
                trace_id: trace_id.to_string(),
                span_id,
                parent_span_id: Some(parent.to_string()),
                flags: flags.to_string().into(),
            };
        }
        let mut id = random;
        if id[..16].iter().all(|b| *b == 0) {
            id[15] = 1; // an all-zero trace id is invalid
        }
        TraceContext {
            trace_id: crate::base::hex::encode(&id[..16]),
            span_id,
            parent_span_id: None,
            flags: "01".into(),
        }
    }

    /// The `traceparent` to send to the origin: same trace, the gateway's span as parent.
    pub fn header(&self) -> String {
        let mut h = String::with_capacity(
            6usize
                .saturating_add(self.trace_id.len())
                .saturating_add(self.span_id.len())
                .saturating_add(self.flags.len()),
        );
        for part in ["00-", &self.trace_id, "-", &self.span_id, "-", &self.flags] {
            h.push_str(part);
        }
        h
    }
}

/// `version-traceid-parentid-flags` (version 00; higher versions are read by their first four
/// fields, as the specification asks). Invalid values are ignored, never an error.
fn parse(h: &str) -> Option<(&str, &str, &str)> {
    let mut parts = h.trim().split('-');
    let (version, trace_id, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let rest_ok = version != "00" || parts.next().is_none();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !rest_ok
        || !hex(version, 2)
        || version == "ff"
        || !hex(trace_id, 32)
        || trace_id.bytes().all(|b| b == b'0')
        || !hex(parent, 16)
        || parent.bytes().all(|b| b == b'0')
        || !hex(flags, 2)
    {
        return None;
    }
    Some((trace_id, parent, flags))
}

/// A small per-isolate generator for trace and span ids (not for secrets): splitmix64,
/// seeded once per isolate by the adapter.
pub struct IdGen(u64);

impl IdGen {
    pub fn new(seed: u64) -> IdGen {
        IdGen(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn bytes24(&mut self) -> [u8; 24] {
        let mut out = [0u8; 24];
        for chunk in out.chunks_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: [u8; 24] = [7; 24];

    #[test]
    fn a_valid_traceparent_is_continued() {
        let c = TraceContext::from_header(
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            R,
        );
        assert_eq!(c.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
        assert_eq!(c.span_id, "0707070707070707");
        assert_eq!(
            c.header(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0707070707070707-01"
        );
        // A future version with more fields is read by its first four.
        let c = TraceContext::from_header(
            Some("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra"),
            R,
        );
        assert_eq!(c.flags, "00");
    }

    #[test]
    fn invalid_traceparents_start_a_new_trace() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        ] {
            let c = TraceContext::from_header(Some(bad), R);
            assert_eq!(c.parent_span_id, None, "{bad:?}");
            assert_eq!(c.trace_id, "07070707070707070707070707070707");
            assert_eq!(c.flags, "01");
        }
        assert_ne!(
            TraceContext::from_header(None, [0; 24]).trace_id,
            "0".repeat(32)
        );
    }

    #[test]
    fn the_gateway_span_id_is_never_all_zero() {
        // Found by the traceparent fuzz target: eight zero random bytes made the gateway send
        // `00-<trace>-0000000000000000-01`, which the origin must ignore (W3C Trace Context).
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        for header in [None, Some(incoming)] {
            let c = TraceContext::from_header(header, [0; 24]);
            assert_eq!(c.span_id, "0000000000000001");
            let next = TraceContext::from_header(Some(&c.header()), R);
            assert_eq!(next.parent_span_id.as_deref(), Some("0000000000000001"));
            assert_eq!(next.trace_id, c.trace_id);
        }
    }

    #[test]
    fn ids_differ() {
        let mut g = IdGen::new(42);
        assert_ne!(g.bytes24(), g.bytes24());
    }
}
