// The gateway around the checks, written as a JavaScript Worker would write it: the shared half
// of the JavaScript twin (bench/workers/twin.js holds the interceptors). It does what the Rust
// Worker does around an interceptor, read from its sources, so that bench/compare.mjs compares
// like with like:
//
// - the policy from the POLICY binding, compiled once per isolate: APIs sorted by base path,
//   longest first (src/gateway/policy), routed by the first base path the request is under
//   (src/base/route.rs, under_base); `trace.sample_passing`, `cache`, `identity_headers`, `docs`;
// - records from KV `RECORDS`, parsed once per read and kept per isolate (src/records/cache.rs):
//   present for `ttl_seconds` (30), absent or malformed for `negative_ttl_seconds` (5), at most
//   `max_entries` (when full: expired entries dropped, then a tenth); a failed read never kept;
//   each read with a time limit (`timeouts.kv_ms`, 5 s: 503 `store_timeout`), concurrent reads
//   of one key sharing one `get` (src/worker/glue.js kvGet);
// - denials with the Sensedia bytes and trace lines (src/base/message.rs), faults as plain text;
// - the forward (src/gateway/forward.rs, src/worker/glue.js): `fetch(origin + rest + query,
//   { method, headers, body, redirect: "manual" })` with a copy of the client's headers minus the
//   Proxy-* hop-by-hop headers, headers named in Connection, incoming identity headers and hidden
//   credentials, plus the identity headers (values made header-safe) and the gateway's own
//   `traceparent` (src/trace/context.rs: the incoming trace continued or a new one started);
//   the body as the client's stream, or the bytes an interceptor read; 502 when the origin
//   cannot be reached, 504 when it sends no response headers within the API's
//   `origin_timeout_ms` (default `timeouts.origin_ms`, 30 s: an AbortController and a timer per
//   request, as glue.js forward);
// - the trace (src/trace/mod.rs, src/worker/shipper.rs, src/trace/ship.rs): one entry per
//   interceptor and a summary entry, each carrying the request's context, written as one JSON
//   array per request with console.log — denials and faults always, passes with probability
//   `sample_passing`, after the origin answered (its status and latency in the entry) — or, with
//   LOGGING (NDJSON only here), each entry as a line into a per-isolate buffer shipped in batches
//   in ctx.waitUntil (batch_size, flush_ms, max_buffer, timeout_ms, retries, backoff_ms) and the
//   console only when a batch is lost.
// Where the Rust Worker does a thing synchronously in wasm (SHA-256, HMAC), this does what a
// JavaScript Worker would: WebCrypto.

export const HOP_BY_HOP = [
  "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
  "te", "trailer", "transfer-encoding", "upgrade", "host",
];
// The hop-by-hop headers the runtime's fetch drops or sets itself (src/gateway/forward.rs).
const DROPPED_BY_RUNTIME = ["connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "host"];
/** The hop-by-hop headers a Worker deletes itself from every forward (the Proxy-* ones). */
export const DELETED_HOP_BY_HOP = HOP_BY_HOP.filter((h) => !DROPPED_BY_RUNTIME.includes(h));

export const PLACE = { header: "HEADER", query: "QUERY_PARAM", cookie: "COOKIE" };
const LOCATIONS = {
  header: ["header"],
  query: ["query"],
  cookie: ["cookie"],
  header_or_cookie: ["header", "cookie"],
  any: ["header", "query", "cookie"],
};

// ---------------------------------------------------------------- bytes

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
export function hex(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}
const encoder = new TextEncoder();
export const utf8 = (s) => encoder.encode(s);
export async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", typeof data === "string" ? utf8(data) : data));
}
/** `sha256:` and the first 16 hex digits of a SHA-256: how a credential appears in a trace. */
export const fingerprintOfHash = (hash) => "sha256:" + hex(hash.subarray(0, 8));
export const fingerprint = async (credential) => fingerprintOfHash(await sha256(credential));

/** Standard base64 with padding, strictly (as the Rust Worker's decoder): bytes or null. */
export function base64Strict(s) {
  if (!s || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return null;
  let bin;
  try {
    bin = atob(s);
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  // Non-zero trailing bits are refused (a second spelling of the same bytes).
  if (btoa(bin) !== s) return null;
  return out;
}

/** A header value: visible ASCII and spaces kept, every other byte %XX (forward.rs header_safe). */
export function headerSafe(s) {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(s)) return s;
  let out = "";
  for (const b of utf8(s)) {
    out += b >= 0x20 && b < 0x7f && b !== 0x25 ? String.fromCharCode(b) : "%" + HEX[b].toUpperCase();
  }
  return out;
}

/** Rust's `{:?}` of a string, as the trace's details quote names. */
export const quoted = (s) => JSON.stringify(s);

// ---------------------------------------------------------------- messages

const LABELS = {
  access_token: ["Access Token", "Access token"],
  client_id: ["Client Id", "Client id"],
  jwt: ["JWT", "JWT"],
  digital_signature: ["Digital Signature", "Digital signature"],
};

/** A credential element with its 401 body and trace lines rendered once per place. */
export function element(label, name, format, docs) {
  const [msg, tr] = LABELS[label];
  const rendered = {};
  for (const [place, word] of Object.entries(PLACE)) {
    const message = `${msg} in the request, identified by ${word} ${name}, is invalid. Check ${docs}`;
    rendered[place] = {
      body: format === "json" ? `{"status":401,"message":${JSON.stringify(message)}}` : message,
      notFound: `${tr} in ${word} ${name} HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call`,
      noAccess: `${tr} in ${word} ${name} DOES NOT HAVE ACCESS TO THIS RESOURCE; rejecting call`,
      element: `${word} ${name}`,
    };
  }
  return { name, format, contentType: format === "json" ? "application/json" : "text/plain; charset=utf-8", rendered };
}

/** A trace entry, fields in the Rust Worker's order (absent ones left undefined). */
export function entry(interceptor, outcome) {
  return {
    interceptor,
    outcome,
    cause: undefined,
    line: undefined,
    detail: undefined,
    element: undefined,
    fingerprint: undefined,
    client_id: undefined,
    status: undefined,
    origin_status: undefined,
  };
}

/**
 * What every credential-reading interceptor shares (src/interceptors/mod.rs, Common): where the
 * credential is, and how a denial and a pass are written.
 */
export class Common {
  constructor(kind, label, o, docs, { defaultName, locations = ["header"], fixed = false }) {
    this.kind = kind;
    const name = fixed ? defaultName : o.name ?? defaultName;
    this.location = fixed ? "header" : o.location ?? locations[0];
    this.places = LOCATIONS[this.location];
    if (!this.places) throw new Error(`${kind}: location ${this.location} is not supported by the twin`);
    this.format = o.format ?? "text";
    this.docs = o.docs ?? docs;
    this.hideCredential = o.hide_credential === true;
    this.label = label;
    this.el = element(label, name, this.format, this.docs);
  }

  sibling(label, name) {
    const c = Object.create(Common.prototype);
    Object.assign(c, this, { label, location: "header", places: ["header"], el: element(label, name, this.format, this.docs) });
    return c;
  }

  /** { value, place } as sent (never trimmed), or { check } for a missing/empty/duplicated one. */
  extract(call) {
    const name = this.el.name;
    for (const place of this.places) {
      let v;
      if (place === "header") v = call.req.headers.get(name);
      else if (place === "query") {
        const all = call.query === null ? [] : new URLSearchParams(call.query).getAll(name);
        if (all.length > 1) return { check: this.deny(place, "duplicated", `${PLACE[place]} ${name} is given more than once`) };
        v = all.length ? all[0] : null;
      } else {
        const all = cookieValues(call.req.headers.get("cookie"), name);
        if (all.length > 1) return { check: this.deny(place, "duplicated", `${PLACE[place]} ${name} is given more than once`) };
        v = all.length ? all[0] : null;
      }
      if (v === null) continue;
      if (v === "") return { check: this.deny(place, "empty", "the credential is present but empty") };
      return { value: v, place };
    }
    const looked = this.places.map((p) => `${PLACE[p]} ${name}`).join(", ");
    return { check: this.deny(this.places[0], "missing", `no credential in ${looked}`) };
  }

  deny(place, cause, detail, fp, clientId) {
    const r = this.el.rendered[place];
    const e = entry(this.kind, "deny");
    e.cause = cause;
    e.line = cause === "no_access" ? r.noAccess : r.notFound;
    e.detail = detail;
    e.element = r.element;
    e.fingerprint = fp;
    e.client_id = clientId;
    return { kind: "deny", entry: e, body: r.body, contentType: this.el.contentType };
  }

  /** A pass establishing `identity`; denied when an earlier interceptor identified another app. */
  pass(call, place, fp, identity) {
    if (call.identity && call.identity.clientId !== identity.clientId) {
      return this.deny(place, "wrong_app", `an earlier interceptor identified app ${quoted(call.identity.clientId)}`, fp, identity.clientId);
    }
    const e = entry(this.kind, "pass");
    e.element = this.el.rendered[place].element;
    e.fingerprint = fp;
    e.client_id = identity.clientId;
    return { kind: "pass", entry: e, identity, hide: this.hide(place), headers: [] };
  }

  hide(place) {
    return this.hideCredential ? [{ place, name: this.el.name }] : [];
  }
}

/** Values of cookie `name`, exactly as sent (pairs split on ";" and the one space after it). */
function cookieValues(header, name) {
  if (!header) return [];
  const out = [];
  const parts = header.split(";");
  for (let i = 0; i < parts.length; i++) {
    const part = i > 0 && parts[i].startsWith(" ") ? parts[i].slice(1) : parts[i];
    const eq = part.indexOf("=");
    if (eq !== -1 && part.slice(0, eq) === name) out.push(part.slice(eq + 1));
  }
  return out;
}

export function fault(kind, status, cause, detail) {
  const e = entry(kind, "fault");
  e.cause = cause;
  e.detail = detail;
  return { kind: "fault", status, entry: e };
}

// ---------------------------------------------------------------- records

/** Epoch seconds of `expires_at` (seconds or RFC 3339), undefined when absent, NaN when unreadable. */
function expirySeconds(v) {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "number") return Number.isInteger(v) ? v : NaN;
  if (typeof v === "string") return Math.floor(Date.parse(v) / 1000);
  return NaN;
}
export const isExpired = (expiresAt, nowS) => expiresAt !== undefined && nowS >= expiresAt;

/** A record read from KV, checked as the Rust Worker's types are (src/records/mod.rs). */
function parseRecord(key, text) {
  let v;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { malformed: `malformed record ${quoted(key)}: ${e.message}` };
  }
  const bad = (why) => ({ malformed: `malformed record ${quoted(key)}: ${why}` });
  if (typeof v !== "object" || v === null || Array.isArray(v)) return bad("expected an object");
  if (key.startsWith("app:")) {
    if (typeof v.name !== "string" || !["APPROVED", "PENDING", "REJECTED", "CANCELLED"].includes(v.status)) return bad("name or status");
    const exp = expirySeconds(v.expires_at);
    if (Number.isNaN(exp)) return bad("expires_at");
    return { value: { type: "app", ...v, revoked: v.revoked === true, expiresAt: exp, access: Array.isArray(v.access) ? v.access : [] } };
  }
  if (key.startsWith("token:")) {
    if (typeof v.client_id !== "string") return bad("client_id");
    const exp = expirySeconds(v.expires_at);
    if (Number.isNaN(exp)) return bad("expires_at");
    return { value: { type: "token", ...v, revoked: v.revoked === true, expiresAt: exp } };
  }
  if (key.startsWith("jti:")) {
    if (v.revoked !== undefined && v.revoked !== null && typeof v.revoked !== "boolean") return bad("revoked is not true or false");
    return { value: { type: "jti", revoked: v.revoked === true } };
  }
  if (key.startsWith("jwt-issuer:")) {
    if (!Array.isArray(v.keys)) return bad("keys");
    return { value: { type: "issuer", keys: v.keys } };
  }
  return { malformed: `no record type for key ${quoted(key)}` };
}

/** The per-isolate record cache: key → { slot, expires }; a slot is { value } | { absent } | { malformed }. */
export class RecordCache {
  constructor(settings) {
    this.s = settings;
    this.map = new Map();
  }
  get(key, now) {
    const c = this.map.get(key);
    return c !== undefined && now < c.expires ? c.slot : undefined;
  }
  insert(key, slot, now) {
    const ttl = slot.value !== undefined ? this.s.ttlMs : this.s.negativeTtlMs;
    if (ttl === 0 || this.s.maxEntries === 0) return;
    if (this.map.size >= this.s.maxEntries && !this.map.has(key)) {
      for (const [k, c] of this.map) if (!(now < c.expires)) this.map.delete(k);
      if (this.map.size >= this.s.maxEntries) {
        let drop = Math.max(1, Math.floor(this.s.maxEntries / 10));
        for (const k of this.map.keys()) {
          if (drop-- === 0) break;
          this.map.delete(k);
        }
      }
    }
    this.map.set(key, { slot, expires: now + ttl });
  }
}

/**
 * The slots of `keys`: from the cache, the missing ones read from KV at once (one round). A failed
 * read is { unavailable } and is not kept.
 */
export async function records(call, keys) {
  const { cache } = call.state;
  const out = new Array(keys.length);
  let missing = null;
  for (let i = 0; i < keys.length; i++) {
    const s = cache.get(keys[i], call.now);
    if (s === undefined) (missing ??= []).push(i);
    else out[i] = s;
  }
  if (missing !== null) {
    await Promise.all(
      missing.map((i) =>
        kvGet(call.env.RECORDS, keys[i], call.state.policy.timeouts.kvMs).then(
          (text) => {
            const slot = text === null ? { absent: true } : parseRecord(keys[i], text);
            cache.insert(keys[i], slot, call.now);
            out[i] = slot;
          },
          (e) => {
            out[i] = e?.name === "TimeoutError" ? { timedOut: e.message } : { unavailable: `KV binding: ${e?.message ?? e}` };
          },
        ),
      ),
    );
  }
  return out;
}

function timeoutError(what, ms) {
  const e = new Error(`${what} did not answer within ${ms} ms`);
  e.name = "TimeoutError";
  return e;
}

/** `p`, or a rejection with a TimeoutError after `ms` (as glue.js: one promise, one `then`). */
function withTimeout(p, ms, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(timeoutError(what, ms)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/** Reads of one key by concurrent requests share one `get`, each with its own time limit. */
const kvInFlight = new Map();
function kvGet(kv, key, ms) {
  let shared = kvInFlight.get(key);
  if (!shared) {
    shared = Promise.resolve(kv.get(key));
    kvInFlight.set(key, shared);
    const done = () => {
      if (kvInFlight.get(key) === shared) kvInFlight.delete(key);
    };
    shared.then(done, done);
  }
  return withTimeout(shared, ms, "KV read").catch((e) => {
    if (e?.name === "TimeoutError" && kvInFlight.get(key) === shared) kvInFlight.delete(key);
    throw e;
  });
}

/** One record's slot (see `records`): synchronous when cached. */
export function record(call, key) {
  const s = call.state.cache.get(key, call.now);
  return s !== undefined ? s : records(call, [key]).then((r) => r[0]);
}

/** A slot that is neither present nor absent, as the check to return (500 / 503, traced). */
export function slotFault(kind, key, slot) {
  if (slot.malformed !== undefined) return fault(kind, 500, "malformed_record", slot.malformed);
  if (slot.unavailable !== undefined) return fault(kind, 503, "store_unavailable", `reading ${quoted(key)}: ${slot.unavailable}`);
  if (slot.timedOut !== undefined) return fault(kind, 503, "store_timeout", `reading ${quoted(key)}: ${slot.timedOut}`);
  return null;
}

export function grantsAccess(grants, api, resource) {
  for (const g of grants) {
    if (!g || g.api !== api) continue;
    if (!Array.isArray(g.resources)) return true;
    if (resource !== null && g.resources.includes(resource)) return true;
  }
  return false;
}

/** Why an app cannot be used now, if it cannot: [cause, detail]. */
export function appProblem(app, nowS) {
  if (app.status !== "APPROVED") return ["app_not_approved", `APP STATUS IS ${app.status}, NOT APPROVED`];
  if (app.revoked) return ["app_revoked", "the app is revoked"];
  if (isExpired(app.expiresAt, nowS)) return ["app_expired", "the app has expired"];
  return null;
}

export const noAccessDetail = (call, who) =>
  call.resource !== null ? `${who} is not granted API ${quoted(call.api)} resource ${quoted(call.resource)}` : `${who} is not granted API ${quoted(call.api)}`;

/** Why an unknown credential may look altered (never trimmed). */
export function valueHint(value, place) {
  if (/^\s|\s$/.test(value)) {
    return "the value has leading or trailing whitespace or a line break; credentials are compared exactly as sent, never trimmed";
  }
  if (place === "header" && value.includes(", ")) {
    return 'the value contains ", ": a header sent more than once reaches the gateway joined with ", "';
  }
  return null;
}

/** The app `clientId` found at `place`: exists, usable, granted the call. { app } or { check }. */
export async function resolveApp(c, call, clientId, place, checkAccess = true) {
  if (4 + utf8(clientId).length > 512) {
    return { check: c.deny(place, "too_long", `${utf8(clientId).length} bytes: longer than any KV key can hold, refused without a lookup`, await fingerprint(clientId)) };
  }
  const key = "app:" + clientId;
  let slot = record(call, key);
  if (slot instanceof Promise) slot = await slot;
  if (slot.absent) {
    return { check: c.deny(place, "not_found", valueHint(clientId, place) ?? "no app has this client id", await fingerprint(clientId)) };
  }
  const f = slotFault(c.kind, key, slot);
  if (f) return { check: f };
  const app = slot.value;
  if (app.type !== "app") return { check: fault(c.kind, 500, "malformed_record", `${quoted(key)} does not hold an app`) };
  const p = appProblem(app, call.nowS);
  if (p) return { check: c.deny(place, p[0], p[1], await fingerprint(clientId), clientId) };
  if (checkAccess && !grantsAccess(app.access, call.api, call.resource)) {
    return { check: c.deny(place, "no_access", noAccessDetail(call, "the app"), await fingerprint(clientId), clientId) };
  }
  return { app };
}

/** The token record behind `hash` (its SHA-256): exists, not revoked or expired. { token } or { check }. */
export async function resolveToken(c, call, token, hash, place, fp) {
  const key = "token:" + hex(hash);
  let slot = record(call, key);
  if (slot instanceof Promise) slot = await slot;
  return tokenFromSlot(c, call, token, key, slot, place, fp);
}

export function tokenFromSlot(c, call, token, key, slot, place, fp) {
  if (slot.absent) return { check: c.deny(place, "not_found", valueHint(token, place) ?? "no token has this value", fp) };
  const f = slotFault(c.kind, key, slot);
  if (f) return { check: f };
  const t = slot.value;
  if (t.type !== "token") return { check: fault(c.kind, 500, "malformed_record", `${quoted(key)} does not hold a token`) };
  if (t.revoked) return { check: c.deny(place, "revoked", "the token is revoked", fp, t.client_id) };
  if (isExpired(t.expiresAt, call.nowS)) return { check: c.deny(place, "expired", "the token has expired", fp, t.client_id) };
  return { token: t };
}

export const scopeAllows = (t, call) => !Array.isArray(t.scope) || grantsAccess(t.scope, call.api, call.resource);

export const identity = (clientId, app, tokenExtraInfo) => ({ clientId, app, tokenExtraInfo });

// ---------------------------------------------------------------- trace context

const TP = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZEROS = /^0+$/;

/** The incoming traceparent continued (a valid one), or a new trace: { traceId, spanId, flags }. */
export function traceContext(incoming) {
  const random = crypto.getRandomValues(new Uint8Array(24));
  const spanId = hex(random.subarray(16));
  if (incoming !== null) {
    const m = TP.exec(incoming.trim());
    if (m && m[1] !== "ff" && !(m[1] === "00" && m[5] !== undefined) && !ZEROS.test(m[2]) && !ZEROS.test(m[3])) {
      return { traceId: m[2], spanId, flags: m[4] };
    }
  }
  if (random.subarray(0, 16).every((b) => b === 0)) random[15] = 1;
  return { traceId: hex(random.subarray(0, 16)), spanId, flags: "01" };
}

// ---------------------------------------------------------------- the trace

export class Trace {
  constructor(ts, method, path) {
    this.ts = ts;
    this.request_id = "";
    this.method = method;
    this.path = path;
    this.api = undefined;
    this.resource = undefined;
    this.entries = [];
    this.colo = undefined;
    this.trace_id = undefined;
    this.span_id = undefined;
    this.origin_latency_ms = undefined;
  }
  flat(e) {
    return {
      ts: this.ts,
      request_id: this.request_id,
      method: this.method,
      path: this.path,
      api: this.api,
      resource: this.resource,
      colo: this.colo,
      trace_id: this.trace_id,
      span_id: this.span_id,
      origin_latency_ms: this.origin_latency_ms,
      ...e,
    };
  }
  toJson() {
    return JSON.stringify(this.entries.map((e) => this.flat(e)));
  }
  toLines() {
    return this.entries.map((e) => JSON.stringify(this.flat(e)));
  }
}

// ---------------------------------------------------------------- trace shipping (NDJSON)

function shipConfig(env) {
  let v = env.LOGGING;
  if (v === undefined || v === null) return null;
  if (typeof v === "string") v = JSON.parse(v);
  if (!v.endpoint) return null;
  if (v.format && v.format !== "ndjson") throw new Error("the twin ships NDJSON only");
  const headers = { "content-type": "application/x-ndjson", ...(v.headers ?? {}) };
  const tokenHeader = (v.token_header ?? "authorization").toLowerCase();
  if (typeof env.LOGGING_TOKEN === "string") headers[tokenHeader] = tokenHeader === "authorization" ? `Bearer ${env.LOGGING_TOKEN}` : env.LOGGING_TOKEN;
  return {
    endpoint: v.endpoint,
    headers,
    batchSize: v.batch_size ?? 100,
    flushMs: v.flush_ms ?? 1000,
    maxBuffer: v.max_buffer ?? 2000,
    timeoutMs: v.timeout_ms ?? 5000,
    retries: v.retries ?? 2,
    backoffMs: v.backoff_ms ?? 200,
    console: v.console ?? "on_failure",
  };
}

class Shipper {
  constructor(cfg) {
    this.cfg = cfg;
    this.entries = [];
    this.since = null;
    this.dropped = 0;
    this.droppedTotal = 0;
    this.timerArmed = false;
  }
  push(lines, now) {
    for (const l of lines) {
      if (this.entries.length >= this.cfg.maxBuffer) {
        this.entries.shift();
        this.dropped++;
        this.droppedTotal++;
      }
      this.entries.push(l);
    }
    if (this.since === null && this.entries.length) this.since = now;
  }
  due(now) {
    return this.entries.length >= this.cfg.batchSize || (this.since !== null && now - this.since >= this.cfg.flushMs);
  }
  take(now) {
    if (!this.entries.length) return null;
    const entries = this.entries.splice(0, Math.min(this.entries.length, this.cfg.batchSize));
    const reported = this.dropped;
    this.dropped = 0;
    if (reported > 0) {
      entries.push(JSON.stringify({ ts: now, interceptor: "shipper", outcome: "dropped", dropped: reported, detail: "trace entries lost since the last report (buffer full or endpoint unreachable)" }));
    }
    this.since = this.entries.length ? now : null;
    return { entries, reported };
  }
  async deliver(batch) {
    const c = this.cfg;
    let body = "";
    for (const e of batch.entries) body += e + "\n";
    let last = "";
    for (let attempt = 0; attempt <= c.retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, c.backoffMs * 4 ** (attempt - 1)));
      let status = null;
      try {
        const r = await fetch(c.endpoint, { method: "POST", headers: c.headers, body, signal: AbortSignal.timeout(c.timeoutMs) });
        await r.arrayBuffer().catch(() => {});
        status = r.status;
      } catch {}
      if (status !== null && status >= 200 && status < 300) return;
      last = status === null ? "network error or time-out" : `HTTP ${status}`;
      if (!(status === null || status === 408 || status === 429 || status >= 500)) break;
    }
    const real = batch.entries.length - (batch.reported > 0 ? 1 : 0);
    this.dropped += batch.reported + real;
    this.droppedTotal += real;
    console.log(JSON.stringify({ edge_trace_undelivered: batch.entries.map((e) => JSON.parse(e)), reason: last, dropped_total: this.droppedTotal }));
  }
  async flushAll() {
    this.timerArmed = false;
    for (let b = this.take(Date.now()); b; b = this.take(Date.now())) await this.deliver(b);
  }
}

// ---------------------------------------------------------------- the policy

function compilePolicy(raw, factories) {
  const p = typeof raw === "string" ? JSON.parse(raw) : raw;
  if (!p || !Array.isArray(p.apis) || !p.apis.length) throw new Error("the POLICY variable has no apis");
  const docs = p.docs ?? "docs.sensedia.com";
  const ih = p.identity_headers ?? {};
  const identityHeaders = {
    clientId: (ih.client_id ?? "x-edge-client-id").toLowerCase(),
    appName: (ih.app_name ?? "x-edge-app-name").toLowerCase(),
    extraInfo: (ih.extra_info ?? "x-edge-app-extra-info").toLowerCase(),
  };
  const t = p.timeouts ?? {};
  const timeouts = { originMs: t.origin_ms ?? 30_000, kvMs: t.kv_ms ?? 5_000, bodyMs: t.body_ms ?? 30_000 };
  const apis = p.apis.map((a) => {
    if (a.resources) throw new Error(`api ${a.name}: resources are not supported by the twin`);
    return {
      name: a.name,
      basePath: a.base_path,
      origin: a.origin.replace(/\/+$/, ""),
      originTimeoutMs: a.origin_timeout_ms ?? timeouts.originMs,
      interceptors: (a.interceptors ?? []).map((o) => {
        const make = factories[o.type];
        if (!make) throw new Error(`api ${a.name}: interceptor type ${o.type} is not in the twin`);
        return make(o, docs);
      }),
    };
  });
  // Longest base path first (a stable sort, as the Rust Worker's), so the most specific API wins.
  apis.sort((a, b) => b.basePath.length - a.basePath.length);
  const c = p.cache ?? {};
  return {
    apis,
    timeouts,
    sample: p.trace?.sample_passing ?? 1,
    identityHeaders,
    // Deleted from every forwarded request: the Proxy-* hop-by-hop headers and incoming identity headers.
    alwaysRemove: [...DELETED_HOP_BY_HOP, identityHeaders.clientId, identityHeaders.appName, identityHeaders.extraInfo],
    cache: {
      ttlMs: (c.ttl_seconds ?? 30) * 1000,
      negativeTtlMs: (c.negative_ttl_seconds ?? 5) * 1000,
      maxEntries: c.max_entries ?? 10_000,
    },
  };
}

function underBase(path, base) {
  if (base === "/") return path;
  if (!path.startsWith(base)) return null;
  const rest = path.slice(base.length);
  return rest === "" || rest.charCodeAt(0) === 47 ? rest : null;
}

const plain = (status, body) => new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
const PLAIN = { 404: "Not Found", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout", 400: "Bad Request", 408: "Request Timeout", 413: "Payload Too Large" };

// ---------------------------------------------------------------- the Worker

/**
 * The Worker: `factories` maps an interceptor type to `(options, docs) => { check(call) }`, where
 * check returns (or resolves to) { kind: "pass" | "deny" | "fault", entry, ... }.
 */
export function gateway(factories) {
  let state = null; // per isolate: { policy, cache, ship } or { error }

  function init(env) {
    try {
      const policy = compilePolicy(env.POLICY, factories);
      const cfg = shipConfig(env);
      state = { policy, cache: new RecordCache(policy.cache), ship: cfg ? new Shipper(cfg) : null };
    } catch (e) {
      console.error(String(e?.message ?? e));
      state = { error: String(e?.message ?? e) };
    }
    return state;
  }

  function emit(trace, req, ctx) {
    if (!trace.request_id) trace.request_id = req.headers.get("cf-ray") ?? (trace.trace_id ? trace.trace_id.slice(0, 16) : "");
    const cf = req.cf;
    trace.colo = cf && typeof cf.colo === "string" ? cf.colo : undefined;
    const ship = state.ship;
    if (ship === null || ship.cfg.console === "always") console.log(trace.toJson());
    if (ship === null) return;
    const now = Date.now();
    ship.push(trace.toLines(), now);
    if (ship.due(now)) {
      const batch = ship.take(now);
      if (batch) ctx.waitUntil(ship.deliver(batch));
    } else if (!ship.timerArmed) {
      ship.timerArmed = true;
      ctx.waitUntil(new Promise((r) => setTimeout(r, ship.cfg.flushMs)).then(() => ship.flushAll()));
    }
  }

  /** Writes the trace now (replies) and answers. */
  function answer(trace, outcome, response, sample, req, ctx, tc) {
    trace.trace_id = tc.traceId;
    trace.span_id = tc.spanId;
    if (outcome !== "pass" || (sample > 0 && (sample >= 1 || Math.random() < sample))) emit(trace, req, ctx);
    return response;
  }

  function summary(trace, outcome, clientId, status) {
    const e = entry("request", outcome);
    e.client_id = clientId;
    e.status = status;
    trace.entries.push(e);
  }

  async function run(req, env, ctx, call, api, rest, trace, tc) {
    const policy = state.policy;
    let id = null;
    const hides = [];
    const owned = [];
    for (const interceptor of api.interceptors) {
      call.identity = id;
      let r = interceptor.check(call);
      if (r instanceof Promise) r = await r;
      trace.entries.push(r.entry);
      if (r.kind === "deny") {
        summary(trace, "deny", id?.clientId, 401);
        return answer(trace, "deny", new Response(r.body, { status: 401, headers: { "content-type": r.contentType } }), 1, req, ctx, tc);
      }
      if (r.kind === "fault") {
        summary(trace, "fault", id?.clientId, r.status);
        return answer(trace, "fault", plain(r.status, PLAIN[r.status] ?? "Error"), 1, req, ctx, tc);
      }
      if (r.identity) id = r.identity;
      for (const h of r.hide) hides.push(h);
      for (const h of r.headers) owned.push(h);
    }
    summary(trace, "pass", id?.clientId, undefined);

    // The forward (forward.rs plan + glue.js forward).
    const headers = new Headers(req.headers);
    for (const n of policy.alwaysRemove) headers.delete(n);
    const conn = req.headers.get("connection");
    if (conn !== null) {
      for (const t of conn.split(",")) {
        const n = t.trim().toLowerCase();
        if (n && !HOP_BY_HOP.includes(n)) headers.delete(n);
      }
    }
    let query = call.query;
    for (const h of hides) {
      if (h.place === "header") headers.delete(h.name);
      else if (h.place === "query" && query !== null) {
        query = query.split("&").filter((pair) => new URLSearchParams(pair.split("=")[0]).keys().next().value !== h.name).join("&");
      } else if (h.place === "cookie") {
        const kept = (req.headers.get("cookie") ?? "").split(";").map((p, i) => (i > 0 && p.startsWith(" ") ? p.slice(1) : p)).filter((p) => {
          const eq = p.indexOf("=");
          return eq === -1 ? p !== "" : p.slice(0, eq) !== h.name;
        });
        if (kept.length) headers.set("cookie", kept.join("; "));
        else headers.delete("cookie");
      }
    }
    headers.set("traceparent", `00-${tc.traceId}-${tc.spanId}-${tc.flags}`);
    const ih = policy.identityHeaders;
    if (id) {
      headers.set(ih.clientId, headerSafe(id.clientId));
      headers.set(ih.appName, headerSafe(id.app.name));
      if (id.app.extra_info !== undefined || id.tokenExtraInfo !== undefined) {
        headers.set(ih.extraInfo, headerSafe(JSON.stringify({ app: id.app.extra_info, token: id.tokenExtraInfo })));
      }
    }
    for (const [name, value] of owned) {
      if (name === ih.clientId || name === ih.appName || name === ih.extraInfo) continue;
      headers.delete(name);
      if (value !== null) headers.set(name, headerSafe(value));
    }
    const method = req.method;
    const abort = new AbortController();
    const init = { method, headers, redirect: "manual", signal: abort.signal };
    if (method !== "GET" && method !== "HEAD") {
      if (call.body !== null) init.body = call.body;
      else if (req.body) init.body = req.body;
    }
    const url = api.origin + rest + (query ? "?" + query : "");
    trace.trace_id = tc.traceId;
    trace.span_id = tc.spanId;
    const sample = policy.sample;
    const log = sample > 0 && (sample >= 1 || Math.random() < sample);
    const start = call.now;
    const limit = api.originTimeoutMs;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort(timeoutError("the origin", limit));
    }, limit);
    return fetch(url, init).then(
      (r) => {
        clearTimeout(timer);
        if (log) {
          trace.origin_latency_ms = Date.now() - start;
          trace.entries[trace.entries.length - 1].origin_status = r.status;
          emit(trace, req, ctx);
        }
        return r;
      },
      (e) => {
        clearTimeout(timer);
        trace.origin_latency_ms = Date.now() - start;
        const f = entry("forward", "fault");
        f.cause = timedOut ? "origin_timeout" : "origin_unreachable";
        f.detail = timedOut ? timeoutError("the origin", limit).message : String(e?.message ?? "fetch failed");
        f.status = timedOut ? 504 : 502;
        trace.entries.push(f);
        emit(trace, req, ctx);
        return timedOut ? plain(504, "Gateway Timeout") : plain(502, "Bad Gateway");
      },
    );
  }

  return {
    fetch(req, env, ctx) {
      const now = Date.now();
      const tc = traceContext(req.headers.get("traceparent"));
      if (state === null) init(env);
      const url = req.url;
      // Path and query as the client sent them (no URL normalisation), as the Rust Worker reads them.
      const afterScheme = url.indexOf("://") + 3;
      const slash = url.indexOf("/", afterScheme);
      const pathAndQuery = slash === -1 ? "/" : url.slice(slash).split("#")[0];
      const q = pathAndQuery.indexOf("?");
      const path = q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
      const query = q === -1 ? null : pathAndQuery.slice(q + 1);
      const trace = new Trace(now, req.method, path || "/");
      if (state.error !== undefined) {
        const e = entry("request", "fault");
        e.cause = "bad_policy";
        e.detail = state.error;
        e.status = 500;
        trace.entries.push(e);
        return answer(trace, "fault", plain(500, PLAIN[500]), 1, req, ctx, tc);
      }
      let api = null;
      let rest = null;
      for (const a of state.policy.apis) {
        rest = underBase(trace.path, a.basePath);
        if (rest !== null) {
          api = a;
          break;
        }
      }
      if (api === null) {
        const e = entry("request", "no_route");
        e.cause = "no_api";
        e.status = 404;
        trace.entries.push(e);
        return answer(trace, "no_route", plain(404, PLAIN[404]), 1, req, ctx, tc);
      }
      trace.api = api.name;
      const call = {
        req,
        env,
        state,
        query,
        api: api.name,
        resource: null,
        now,
        nowS: Math.floor(now / 1000),
        identity: null,
        body: null, // the bytes, once an interceptor read them
      };
      return run(req, env, ctx, call, api, rest, trace, tc);
    },
  };
}

/**
 * The request body, at most `max` bytes (glue.js readBody), within `ms`: the bytes, or null when
 * there are more; rejects with a TimeoutError past `ms`. A declared length is read in one call
 * (`arrayBuffer`) or refused unread; a chunked body chunk by chunk, reading stopped as soon as it
 * is too large.
 */
export function readBody(req, max, ms) {
  return withTimeout(readUpTo(req, max), ms, "the client");
}

async function readUpTo(req, max) {
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (Number.isSafeInteger(declared) && declared >= 0) {
    if (declared > max) return null;
    const b = await req.arrayBuffer();
    return b.byteLength > max ? null : new Uint8Array(b);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
