//! Shipping trace entries to a logging endpoint: configuration, a bounded per-isolate buffer
//! that batches entries across requests, the wire formats (NDJSON and OTLP/HTTP JSON logs), and
//! the retry schedule. The adapter does the I/O (inside `ctx.waitUntil`, after the response).
//!
//! Entries of one request are self-contained (each carries its request id), so batching across
//! the requests of an isolate cannot mix them up.

use crate::base::config::{is_header_name, Obj, PolicyErrors};
use serde_json::{json, Map, Value};
use std::collections::VecDeque;

/// Wire format of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/x-ndjson`: one JSON object per line, exactly the console entries.
    Ndjson,
    /// OTLP/HTTP JSON (`ExportLogsServiceRequest`), accepted by OpenTelemetry collectors.
    Otlp,
}

/// When entries are also written to the Worker's console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// Every traced request (what Cloudflare's own log export reads).
    Always,
    /// Only entries of batches that could not be delivered.
    OnFailure,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ShipConfig {
    /// `None`: no shipping, console only.
    pub endpoint: Option<String>,
    pub format: Format,
    /// Extra request headers (not secret; the token is a Worker secret).
    pub headers: Vec<(String, String)>,
    /// Header carrying the `LOGGING_TOKEN` secret (`authorization` → `Bearer <token>`).
    pub token_header: String,
    pub batch_size: usize,
    pub flush_ms: u64,
    pub max_buffer: usize,
    pub timeout_ms: u64,
    pub retries: u32,
    pub backoff_ms: u64,
    pub console: Console,
    pub service_name: String,
}

impl Default for ShipConfig {
    fn default() -> Self {
        ShipConfig {
            endpoint: None,
            format: Format::Ndjson,
            headers: Vec::new(),
            token_header: "authorization".into(),
            batch_size: 100,
            flush_ms: 1000,
            max_buffer: 2000,
            timeout_ms: 5000,
            retries: 2,
            backoff_ms: 200,
            console: Console::Always,
            service_name: "edge-interceptors".into(),
        }
    }
}

/// Compiles the `LOGGING` variable; every problem is reported with its path.
pub fn compile(v: &Value) -> Result<ShipConfig, PolicyErrors> {
    let mut errs = Vec::new();
    let mut c = ShipConfig::default();
    if let Some(mut o) = Obj::new(v, "LOGGING", &mut errs) {
        c.endpoint = o.opt_str("endpoint", &mut errs).map(str::to_string);
        if let Some(e) = &c.endpoint {
            if !(e.starts_with("https://") || e.starts_with("http://")) || e.contains(' ') {
                errs.push(format!(
                    "LOGGING.endpoint: {e:?} must be an http:// or https:// URL"
                ));
            }
        }
        c.format = match o.opt_choice("format", &["ndjson", "otlp"], &mut errs) {
            Some("otlp") => Format::Otlp,
            _ => Format::Ndjson,
        };
        if let Some(h) = o.opt_obj("headers", &mut errs) {
            for (k, val) in h.map {
                match val.as_str() {
                    Some(s) if is_header_name(k) && !s.contains(['\r', '\n']) => {
                        c.headers.push((k.to_ascii_lowercase(), s.to_string()))
                    }
                    _ => errs.push(format!(
                        "LOGGING.headers.{k}: expected a header name with a one-line string value"
                    )),
                }
            }
        }
        if let Some(t) = o.opt_str("token_header", &mut errs) {
            if is_header_name(t) {
                c.token_header = t.to_ascii_lowercase();
            } else {
                errs.push(format!("LOGGING.token_header: {t:?} is not a header name"));
            }
        }
        let mut num = |o: &mut Obj<'_>, key: &'static str, min: u64, max: u64, slot: &mut u64| {
            if let Some(n) = o.opt_u64(key, &mut errs) {
                if (min..=max).contains(&n) {
                    *slot = n;
                } else {
                    errs.push(format!("LOGGING.{key}: must be between {min} and {max}"));
                }
            }
        };
        let (mut batch, mut buffer, mut retries) =
            (c.batch_size as u64, c.max_buffer as u64, c.retries as u64);
        num(&mut o, "batch_size", 1, 10_000, &mut batch);
        num(&mut o, "flush_ms", 10, 60_000, &mut c.flush_ms);
        num(&mut o, "max_buffer", 1, 100_000, &mut buffer);
        num(&mut o, "timeout_ms", 100, 25_000, &mut c.timeout_ms);
        num(&mut o, "retries", 0, 5, &mut retries);
        num(&mut o, "backoff_ms", 0, 10_000, &mut c.backoff_ms);
        (c.batch_size, c.max_buffer, c.retries) = (batch as usize, buffer as usize, retries as u32);
        c.console = match o.opt_choice("console", &["always", "on_failure"], &mut errs) {
            Some("always") => Console::Always,
            Some(_) => Console::OnFailure,
            // With an endpoint the console is the fallback; without one it is the only output.
            None if c.endpoint.is_some() => Console::OnFailure,
            None => Console::Always,
        };
        if let Some(s) = o.opt_str("service_name", &mut errs) {
            c.service_name = s.to_string();
        }
        if c.max_buffer < c.batch_size {
            errs.push("LOGGING.max_buffer: must be at least batch_size".into());
        }
        o.finish(&mut errs);
    }
    if errs.is_empty() {
        Ok(c)
    } else {
        Err(PolicyErrors(errs))
    }
}

/// Entries waiting to be shipped (each a JSON object on one line), bounded: when full, the
/// oldest are dropped and counted.
#[derive(Debug, Default)]
pub struct Buffer {
    entries: VecDeque<String>,
    /// Time the oldest waiting entry arrived.
    since_ms: Option<u64>,
    /// Entries lost and not yet reported (overflow or undeliverable batches).
    dropped: u64,
    /// Entries lost since the isolate started (for the console).
    pub dropped_total: u64,
}

/// A batch taken from the buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// JSON objects, one per entry.
    pub entries: Vec<String>,
    /// Drops reported by this batch (added back if it is lost too).
    pub dropped_reported: u64,
}

impl Buffer {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn push(&mut self, entries: Vec<String>, now_ms: u64, max: usize) {
        for e in entries {
            if self.entries.len() >= max {
                self.entries.pop_front();
                self.lost(1);
            }
            self.entries.push_back(e);
        }
        if self.since_ms.is_none() && !self.entries.is_empty() {
            self.since_ms = Some(now_ms);
        }
    }

    /// Whether a batch should go now: enough entries, or the oldest waited long enough.
    pub fn due(&self, now_ms: u64, c: &ShipConfig) -> bool {
        self.entries.len() >= c.batch_size
            || self
                .since_ms
                .is_some_and(|t| now_ms.saturating_sub(t) >= c.flush_ms)
    }

    /// Up to `batch_size` entries, plus a report of the drops not yet reported.
    pub fn take(&mut self, now_ms: u64, c: &ShipConfig) -> Option<Batch> {
        if self.entries.is_empty() {
            return None;
        }
        let n = self.entries.len().min(c.batch_size);
        let mut entries: Vec<String> = self.entries.drain(..n).collect();
        let dropped_reported = std::mem::take(&mut self.dropped);
        if dropped_reported > 0 {
            entries.push(json!({
                "ts": now_ms,
                "interceptor": "shipper",
                "outcome": "dropped",
                "dropped": dropped_reported,
                "detail": "trace entries lost since the last report (buffer full or endpoint unreachable)"
            })
            .to_string());
        }
        self.since_ms = if self.entries.is_empty() {
            None
        } else {
            Some(now_ms)
        };
        Some(Batch {
            entries,
            dropped_reported,
        })
    }

    /// A batch that could not be delivered: its entries are lost, its drop report goes back.
    pub fn failed(&mut self, batch: &Batch) {
        let real =
            (batch.entries.len() as u64).saturating_sub(u64::from(batch.dropped_reported > 0));
        self.dropped = self.dropped.saturating_add(batch.dropped_reported);
        self.lost(real);
    }

    fn lost(&mut self, n: u64) {
        self.dropped = self.dropped.saturating_add(n);
        self.dropped_total = self.dropped_total.saturating_add(n);
    }
}

/// The report of what a wasm instance lost when it trapped, from the glue's counts (a JSON
/// object of numbers): an entry of its own (`interceptor` `gateway`, `outcome` `recovered`),
/// shipped and written to the console like a trace entry. `None` when `counts` is not such an
/// object.
pub fn recovery_report(counts: &str, now_ms: u64) -> Option<String> {
    let Ok(Value::Object(counts)) = serde_json::from_str::<Value>(counts) else {
        return None;
    };
    let mut report = Map::new();
    report.insert("ts".into(), Value::from(now_ms));
    report.insert("interceptor".into(), Value::from("gateway"));
    report.insert("outcome".into(), Value::from("recovered"));
    report.insert(
        "detail".into(),
        Value::from(
            "the wasm instance trapped and was started again; what it held is counted here \
             (requests already forwarded got their origin's answer, requests waiting for a \
             record a 503; their trace entries, and those waiting to be shipped, are lost)",
        ),
    );
    for (k, v) in counts {
        if let Some(n) = v.as_u64() {
            report.insert(k, Value::from(n));
        }
    }
    Some(Value::Object(report).to_string())
}

/// Whether a delivery with this HTTP status (or `None`: a network error or time-out) is
/// retried: network errors, 408, 429 and 5xx are; other statuses are final.
pub fn retryable(status: Option<u16>) -> bool {
    match status {
        None => true,
        Some(s) => s == 408 || s == 429 || s >= 500,
    }
}

/// Delay before retry `attempt` (1-based): exponential backoff, `backoff_ms` × 4^(attempt-1).
pub fn backoff(c: &ShipConfig, attempt: u32) -> u64 {
    c.backoff_ms
        .saturating_mul(4u64.saturating_pow(attempt.saturating_sub(1)))
}

/// The body and content type of a batch.
pub fn encode(c: &ShipConfig, batch: &Batch, now_ms: u64) -> (&'static str, String) {
    match c.format {
        Format::Ndjson => {
            let mut out = String::new();
            for e in &batch.entries {
                out.push_str(e);
                out.push('\n');
            }
            ("application/x-ndjson", out)
        }
        Format::Otlp => {
            let values: Vec<Value> = batch
                .entries
                .iter()
                .filter_map(|e| serde_json::from_str(e).ok())
                .collect();
            ("application/json", otlp(c, &values, now_ms).to_string())
        }
    }
}

/// OTLP/HTTP JSON `ExportLogsServiceRequest` (opentelemetry-proto `logs/v1`). Ids are hex, as
/// OTLP/JSON requires; 64-bit integers are strings.
pub fn otlp(c: &ShipConfig, entries: &[Value], now_ms: u64) -> Value {
    let records: Vec<Value> = entries.iter().map(|e| log_record(e, now_ms)).collect();
    json!({
        "resourceLogs": [{
            "resource": {"attributes": [attr("service.name", &Value::from(c.service_name.clone()))]},
            "scopeLogs": [{
                "scope": {"name": "edge-interceptors", "version": env!("CARGO_PKG_VERSION")},
                "logRecords": records
            }]
        }]
    })
}

fn log_record(e: &Value, now_ms: u64) -> Value {
    let empty = Map::new();
    let obj = e.as_object().unwrap_or(&empty);
    let ts_ms = obj.get("ts").and_then(Value::as_u64).unwrap_or(now_ms);
    let (severity, text) = match obj.get("outcome").and_then(Value::as_str) {
        Some("fault") => (17, "ERROR"),
        Some("deny") | Some("dropped") | Some("recovered") => (13, "WARN"),
        _ => (9, "INFO"),
    };
    let body = obj
        .get("line")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| {
            let s = |k: &str| obj.get(k).and_then(Value::as_str).unwrap_or("");
            format!(
                "{} {} {} {}",
                s("interceptor"),
                s("outcome"),
                s("method"),
                s("path")
            )
            .trim()
            .to_string()
        });
    let mut record = Map::new();
    record.insert(
        "timeUnixNano".into(),
        Value::from(u128::from(ts_ms).saturating_mul(1_000_000).to_string()),
    );
    record.insert(
        "observedTimeUnixNano".into(),
        Value::from(u128::from(now_ms).saturating_mul(1_000_000).to_string()),
    );
    record.insert("severityNumber".into(), Value::from(severity));
    record.insert("severityText".into(), Value::from(text));
    record.insert("body".into(), json!({"stringValue": body}));
    let attrs: Vec<Value> = obj
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "ts" | "trace_id" | "span_id"))
        .map(|(k, v)| attr(&format!("edge.{k}"), v))
        .collect();
    record.insert("attributes".into(), Value::Array(attrs));
    for (field, key, len) in [("trace_id", "traceId", 32), ("span_id", "spanId", 16)] {
        if let Some(id) = obj
            .get(field)
            .and_then(Value::as_str)
            .filter(|s| s.len() == len)
        {
            record.insert(key.into(), Value::from(id));
        }
    }
    Value::Object(record)
}

fn attr(key: &str, v: &Value) -> Value {
    let value = match v {
        Value::Bool(b) => json!({"boolValue": b}),
        Value::Number(n) if n.is_u64() || n.is_i64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n.as_f64()}),
        Value::String(s) => json!({"stringValue": s}),
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": key, "value": value})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(v: Value) -> ShipConfig {
        compile(&v).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn defaults_and_console_mode_follow_the_endpoint() {
        let c = cfg(json!({}));
        assert_eq!(c.endpoint, None);
        assert_eq!(c.console, Console::Always);
        let c = cfg(
            json!({"endpoint": "https://logs.example/v1/logs", "format": "otlp",
                           "headers": {"X-Scope": "edge"}, "batch_size": 10}),
        );
        assert_eq!(c.console, Console::OnFailure);
        assert_eq!(c.format, Format::Otlp);
        assert_eq!(c.headers, vec![("x-scope".to_string(), "edge".to_string())]);
        assert_eq!(c.batch_size, 10);
    }

    #[test]
    fn every_problem_is_reported() {
        let e = compile(
            &json!({"endpoint": "ftp://x", "format": "xml", "batch_size": 0,
                                "retries": 9, "headers": {"bad name": "v"}, "extra": 1}),
        )
        .unwrap_err()
        .0
        .join("\n");
        for want in [
            "LOGGING.endpoint",
            "LOGGING.format",
            "LOGGING.batch_size",
            "LOGGING.retries",
            "LOGGING.headers.bad name",
            "unknown field \"extra\"",
        ] {
            assert!(e.contains(want), "{want} missing in {e}");
        }
    }

    #[test]
    fn buffer_batches_by_size_or_age_and_counts_drops() {
        let c = cfg(
            json!({"endpoint": "http://l", "batch_size": 3, "flush_ms": 1000, "max_buffer": 5}),
        );
        let mut b = Buffer::default();
        let line = |n: u64| json!({ "n": n }).to_string();
        let get = |e: &String, k: &str| serde_json::from_str::<Value>(e).unwrap()[k].clone();
        b.push(vec![line(1), line(2)], 0, c.max_buffer);
        assert!(!b.due(999, &c));
        assert!(b.due(1000, &c), "age");
        b.push(vec![line(3)], 10, c.max_buffer);
        assert!(b.due(10, &c), "size");
        // Overflow drops the oldest and counts them.
        b.push((4..=7).map(line).collect(), 20, c.max_buffer);
        assert_eq!(b.len(), 5);
        let batch = b.take(30, &c).unwrap();
        assert_eq!(batch.entries.len(), 4, "3 entries + a drop report");
        assert_eq!(get(&batch.entries[0], "n"), 3);
        assert_eq!(get(&batch.entries[3], "dropped"), 2);
        // The batch is lost: its 3 entries are dropped and the report of 2 comes back.
        b.failed(&batch);
        let next = b.take(40, &c).unwrap();
        assert_eq!(get(next.entries.last().unwrap(), "dropped"), 5);
        assert_eq!(b.dropped_total, 5);
        assert!(b.take(50, &c).is_none());
    }

    #[test]
    fn retry_schedule() {
        let c = cfg(json!({"backoff_ms": 100}));
        assert_eq!(
            (backoff(&c, 1), backoff(&c, 2), backoff(&c, 3)),
            (100, 400, 1600)
        );
        assert!(retryable(None) && retryable(Some(503)) && retryable(Some(429)));
        assert!(!retryable(Some(400)) && !retryable(Some(401)));
    }

    #[test]
    fn ndjson_is_one_entry_per_line() {
        let c = cfg(json!({}));
        let b = Batch {
            entries: vec![
                json!({"a": 1}).to_string(),
                json!({"b": "x\ny"}).to_string(),
            ],
            dropped_reported: 0,
        };
        let (ct, body) = encode(&c, &b, 0);
        assert_eq!(ct, "application/x-ndjson");
        assert_eq!(body, "{\"a\":1}\n{\"b\":\"x\\ny\"}\n");
    }

    #[test]
    fn otlp_maps_entries_to_log_records() {
        let c = cfg(json!({"format": "otlp", "service_name": "gw"}));
        let e = json!({"ts": 1_700_000_000_000u64, "request_id": "r", "interceptor": "oauth",
                       "outcome": "deny", "cause": "revoked", "line": "L", "status": 401,
                       "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"});
        let v = otlp(&c, &[e], 1_700_000_000_005);
        let r = &v["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(
            v["resourceLogs"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "gw"
        );
        assert_eq!(r["timeUnixNano"], "1700000000000000000");
        assert_eq!(r["severityText"], "WARN");
        assert_eq!(r["body"]["stringValue"], "L");
        assert_eq!(r["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        let attrs = r["attributes"].as_array().unwrap();
        assert!(attrs.contains(&json!({"key": "edge.cause", "value": {"stringValue": "revoked"}})));
        assert!(attrs.contains(&json!({"key": "edge.status", "value": {"intValue": "401"}})));
    }
}
