// The few steps of the hot path that would cost many wasm<->JS crossings if driven from Rust,
// done in one call each. No logic lives here: Rust decides, this applies — with two exceptions
// that only JavaScript can do: time limits (timers), and answering for a wasm instance that is
// gone. This module's state is JavaScript's: it survives a trap of the wasm instance (the
// module is not evaluated again when the instance is re-instantiated).

let alwaysRemove = [];
/** The header names `head` reads (set by the live instance, see setHeadNames). */
let headNames = [];

// ---------------------------------------------------------------------------------------------
// After a trap. A Rust panic aborts the wasm instance; the entry shim starts a new one for the
// next request. Everything the old instance held is gone: its caches, the traces of requests in
// flight, the trace entries waiting to be shipped, and the callbacks it handed out. Requests
// already forwarded still get their origin's answer from here, requests waiting for a record get
// a 503, and what was lost is counted and handed to the next instance to report.

/** What was lost since the last report. */
const lost = {
  traps: 0,
  forwarded_answered_by_glue: 0,
  waiting_answered_503: 0,
  trace_entries_lost: 0,
  trace_entries_in_delivery: 0,
};
/** The shipper's buffer, as the live instance last reported it. */
let tracePending = { buffered: 0, inDelivery: 0 };
/** Whether an instance started before (so a new `init` follows a trap). */
let started = false;
/** The live instance's report callback: `(countsJson) => accepted`. */
let onLoss = null;
let flushQueued = false;

function count(kind, n = 1) {
  lost[kind] += n;
  queueFlush();
}

function queueFlush() {
  if (flushQueued) return;
  flushQueued = true;
  queueMicrotask(flushLosses);
}

function flushLosses() {
  flushQueued = false;
  if (!Object.values(lost).some((n) => n > 0) || !onLoss) return;
  let accepted = false;
  try {
    accepted = onLoss(JSON.stringify(lost)) === true;
  } catch {
    // The instance that gave the callback is gone too: the next one reports.
  }
  if (accepted) for (const k of Object.keys(lost)) lost[k] = 0;
}

/** Called by the Rust panic hook, before the instance aborts. */
export function noteTrap() {
  lost.traps += 1;
}

/** The shipper's entries waiting (`buffered`) and being delivered (`inDelivery`). */
export function traceCounts(buffered, inDelivery) {
  tracePending = { buffered, inDelivery };
}

/**
 * Calls a wasm callback; `undefined` when it could not answer: the instance that made it is
 * gone ("Cannot invoke closure from previous WASM instance", "Module terminated"), the call
 * trapped, or it ran in a new instance that knows nothing of the request (it returns undefined).
 */
function callWasm(f, a, b) {
  try {
    return { value: f(a, b) };
  } catch (e) {
    return { error: e };
  }
}

/**
 * Once per wasm instance: the header names removed from every forwarded request ("\n"-separated)
 * and the instance's report callback. After a trap, what the previous instance held is counted
 * as lost and reported through the new callback.
 */
export function init(names, reportLoss) {
  alwaysRemove = names ? names.split("\n") : [];
  headNames = []; // the new instance learns its own (see setHeadNames)
  onLoss = reportLoss ?? null;
  if (started) {
    lost.trace_entries_lost += tracePending.buffered;
    lost.trace_entries_in_delivery += tracePending.inDelivery;
    tracePending = { buffered: 0, inDelivery: 0 };
  }
  started = true;
  queueFlush();
}

// ---------------------------------------------------------------------------------------------
// Reading the request

/**
 * The header names `head` reads from every request ("\n"-separated), chosen by the live wasm
 * instance: the names its requests asked for (see adapter.rs, `JsRequest`). Set again when the
 * list grows; a new instance starts with none.
 */
export function setHeadNames(names) {
  headNames = names ? names.split("\n") : [];
}

/**
 * What the Worker reads of every request, in one call: the method, the URL, the values of the
 * `headNames` and, when `withColo`, `request.cf.colo` — "\n"-separated, each header value and the
 * colo written `=<value>` when present and empty when absent (a header value never holds a
 * newline: the runtime refuses one; should one come, `null`, and the Worker reads lazily). The
 * colo comes last and runs to the end.
 */
export function head(req, withColo) {
  let out = req.method + "\n" + req.url;
  if (headNames.length !== 0) {
    const h = req.headers;
    for (let i = 0; i < headNames.length; i++) {
      const v = h.get(headNames[i]);
      if (v === null) out += "\n";
      else if (v.indexOf("\n") >= 0) return null;
      else out += "\n=" + v;
    }
  }
  if (withColo) {
    const cf = req.cf;
    out += cf && typeof cf.colo === "string" ? "\n=" + cf.colo : "\n";
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Time limits

function timeoutError(what, ms) {
  const e = new Error(`${what} did not answer within ${ms} ms`);
  e.name = "TimeoutError";
  return e;
}

/**
 * `p`, or a rejection with a `TimeoutError` ("<what> did not answer within <ms> ms") after `ms`
 * milliseconds: one promise and one `then` (a `Promise.race` with a `finally` makes four; the
 * signature body is read this way on every request). Also the authorization server's
 * (authz_glue.js).
 */
export function withTimeout(p, ms, what) {
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

// ---------------------------------------------------------------------------------------------
// KV

/** Reads of one key by concurrent requests of this isolate share one `get` (see kvGet). */
const kvInFlight = new Map();

/**
 * `kv.get(key)`: the text or null; rejects when the binding fails, or with a `TimeoutError`
 * after `ms`. Concurrent reads of one key share one `get` (a burst of requests for one unknown
 * credential costs one read), each with its own time limit; a read past its limit is no longer
 * shared.
 */
export function kvGet(kv, key, ms) {
  let shared = kvInFlight.get(key);
  if (!shared) {
    try {
      shared = Promise.resolve(kv.get(key));
    } catch (e) {
      return Promise.reject(new Error(`KV binding: ${e && e.message ? e.message : e}`));
    }
    kvInFlight.set(key, shared);
    const done = () => {
      if (kvInFlight.get(key) === shared) kvInFlight.delete(key);
    };
    shared.then(done, done);
  }
  return withTimeout(shared, ms, "KV read").catch((e) => {
    // A read that never settles must not hold the key: the next request reads afresh.
    if (e && e.name === "TimeoutError" && kvInFlight.get(key) === shared) kvInFlight.delete(key);
    throw e;
  });
}

// ---------------------------------------------------------------------------------------------
// Waiting for what a request needs

/**
 * Resumes a waiting request once all `promises` have settled: `resume(slot, results)` answers
 * it. When the instance that made `resume` is gone (a trap since), the request gets a 503
 * (500 if its own resumption trapped), counted.
 */
export function whenSettled(promises, resume, slot) {
  return Promise.allSettled(promises).then((results) => {
    const r = callWasm(resume, slot, results);
    if (r.value !== undefined) return r.value;
    count("waiting_answered_503");
    const own = r.error instanceof WebAssembly.RuntimeError;
    return own ? reply(500, TEXT, "Internal Server Error") : reply(503, TEXT, "Service Unavailable");
  });
}

// ---------------------------------------------------------------------------------------------
// Forwarding

const TEXT = "text/plain; charset=utf-8";

/**
 * Forwards `req` to `url` as `fetch(url, { method, headers, body })` with the original body
 * stream, or with `bytes` when an interceptor has read the body. `plan` is four parts
 * separated by NUL (one string out of wasm memory): the URL, the names to remove and the
 * headers to set ("\n"-separated names; name/value pairs), and the headers ("\n"-separated
 * name/value pairs, usually none) added to the origin's response, whose body streams through
 * unread.
 *
 * The origin has `timeoutMs` to send its response headers (the body then streams without a
 * limit); past it the request is aborted and `onError(slot, TimeoutError)` answers. On a
 * network error `onError(slot, error)` supplies the answer; `onOk(slot, status)`, when given,
 * is told the origin's status (it writes the trace) and returns true. Either callback may
 * belong to a wasm instance that is gone by then: the origin's answer is handed back as it is
 * (its generated headers were decided before forwarding and are added here), or a plain
 * 502/504; the lost trace (`entries` entries) is counted.
 *
 * One `then` with both handlers on the runtime's promise (no chain of promises per request).
 */
export function forward(req, plan, onError, slot, onOk, bytes, timeoutMs, entries) {
  const parts = plan.split("\0");
  const url = parts[0];
  const remove = parts[1];
  const set = parts[2];
  const respHeaders = parts[3];
  const headers = new Headers(req.headers);
  const p = set ? set.split("\n") : NONE;
  // A name set below needs no delete first: `set` replaces every value of it (the identity
  // headers of a pass are both always removed and set: one runtime call each, not two).
  for (let i = 0; i < alwaysRemove.length; i++) {
    if (!setsName(p, alwaysRemove[i])) headers.delete(alwaysRemove[i]);
  }
  if (remove) {
    const r = remove.split("\n");
    for (let i = 0; i < r.length; i++) headers.delete(r[i]);
  }
  for (let i = 0; i + 1 < p.length; i += 2) headers.set(p[i], p[i + 1]);
  const method = req.method;
  const abort = new AbortController();
  const init = { method, headers, redirect: "manual", signal: abort.signal };
  if (method !== "GET" && method !== "HEAD") {
    if (bytes) init.body = bytes;
    else if (req.body) init.body = req.body;
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort(timeoutError("the origin", timeoutMs));
  }, timeoutMs);
  const failed = (e) => {
    const out = callWasm(onError, slot, e);
    if (out.value !== undefined) return out.value;
    lostTrace(entries);
    return e && e.name === "TimeoutError" ? reply(504, TEXT, "Gateway Timeout") : reply(502, TEXT, "Bad Gateway");
  };
  return fetch(url, init).then(
    (r) => {
      clearTimeout(timer);
      if (respHeaders) {
        try {
          r = withHeaders(r, respHeaders);
        } catch (e) {
          return failed(e);
        }
      }
      if (onOk && callWasm(onOk, slot, r.status).value !== true) lostTrace(entries);
      return r;
    },
    (e) => {
      clearTimeout(timer);
      return failed(timedOut ? timeoutError("the origin", timeoutMs) : e);
    },
  );
}

const NONE = [];

/** Whether `pairs` (name, value, name, value...) sets `name`. */
function setsName(pairs, name) {
  for (let i = 0; i + 1 < pairs.length; i += 2) if (pairs[i] === name) return true;
  return false;
}

/** A forwarded request whose instance is gone: answered by the glue, its trace lost. */
function lostTrace(entries) {
  count("forwarded_answered_by_glue");
  count("trace_entries_lost", entries);
}

/** The origin's response with headers added: Set-Cookie and Access-Control-Expose-Headers
 * appended, others set. Same status, status text and body stream (never buffered). */
function withHeaders(r, pairs) {
  const out = new Response(r.body, r);
  const p = pairs.split("\n");
  for (let i = 0; i + 1 < p.length; i += 2) {
    const n = p[i];
    if (n === "set-cookie" || n === "access-control-expose-headers") out.headers.append(n, p[i + 1]);
    else out.headers.set(n, p[i + 1]);
  }
  return out;
}

/**
 * Reads the body of `req` (a Request or a Response), at most `max` bytes: resolves to the bytes, or to null when there are more
 * (nothing larger is ever held in memory). A body of declared length (the runtime holds the
 * body to its `Content-Length`) is refused unread when too large, else read in one call
 * (`arrayBuffer`: 20-70 µs less CPU per request than a reader's loop, docs/performance.md);
 * one without (chunked) is read chunk by chunk and reading stops as soon as it is too large.
 * With `ms`, rejects with a `TimeoutError` when the body is not read within `ms` milliseconds
 * (the authorization server, authz_glue.js, gives its own limit). Never throws: rejects.
 */
export function readBody(req, max, ms) {
  let read;
  try {
    const declared = Number(req.headers.get("content-length") ?? NaN);
    if (Number.isSafeInteger(declared) && declared >= 0) {
      if (declared > max) return Promise.resolve(null);
      read = req.arrayBuffer().then((b) => (b.byteLength > max ? null : new Uint8Array(b)));
    } else {
      read = readAtMost(req.body, max);
    }
  } catch (e) {
    return Promise.reject(e);
  }
  return ms > 0 ? withTimeout(read, ms, "the client") : read;
}

/** Reads a stream, at most `max` bytes: the bytes, or null as soon as there are more. */
async function readAtMost(stream, max) {
  if (!stream) return new Uint8Array(0);
  const reader = stream.getReader();
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
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * Claims a nonce in the nonce store (Durable Object namespace `ns`, instance `nonce-<shard>`):
 * resolves to true when the nonce was fresh, false when it was replayed, "late" when the
 * signature's window had closed by the store's clock; rejects when the store cannot answer,
 * and with a `TimeoutError` when it does not answer within `ms`.
 */
export function claimNonce(ns, shard, claim, ms) {
  if (!ns || typeof ns.idFromName !== "function") {
    return Promise.reject(new Error("the NONCES Durable Object binding is missing"));
  }
  let answer;
  try {
    const stub = ns.get(ns.idFromName(`nonce-${shard}`));
    answer = stub.fetch(`https://nonce-store/claim?c=${claim}`, { method: "POST" }).then((r) => {
      if (r.status === 204) return true;
      if (r.status === 409) return false;
      if (r.status === 410) return "late";
      throw new Error(`nonce store answered ${r.status}`);
    });
  } catch (e) {
    return Promise.reject(e);
  }
  return withTimeout(answer, ms, "the nonce store");
}

/**
 * The verdict of `crypto.subtle.verify(...)` over client-supplied signature bytes: true or
 * false. WebCrypto rejects some malformed signatures instead of answering false (workerd:
 * `OperationError: Invalid Ed25519 signature length`); the key was already imported, so such a
 * rejection is the client's bad signature, never a gateway fault.
 */
export function verdict(p) {
  return p.then(
    (v) => v === true,
    () => false,
  );
}

/**
 * A signature over the request body, verified as soon as the body is read: `body` is the
 * bytes or a promise of them (glue `readBody`: null when larger than the limit), `key` a
 * `CryptoKey` or a promise of one. Resolves to true or false — false when there is no body to
 * verify (too large, or reading it failed: the body's own result says why); rejects when the
 * key could not be imported.
 */
export function verifyOver(body, key, params, signature) {
  return Promise.all([Promise.resolve(body).catch(() => null), key]).then(([b, k]) => {
    if (b === null || b === undefined) return false;
    let p;
    try {
      p = crypto.subtle.verify(params, k, signature, b);
    } catch {
      return false;
    }
    return verdict(p);
  });
}

/** A response written by the gateway itself (denials, faults, routing misses). */
export function reply(status, contentType, body, allow) {
  const headers = { "content-type": contentType };
  if (allow) headers.allow = allow;
  return new Response(body, { status, headers });
}

/**
 * POSTs a batch of trace entries; resolves to the HTTP status, rejects on a network error or
 * after `timeoutMs`. `headers` is "\n"-separated name/value pairs.
 */
export function post(url, headers, contentType, body, timeoutMs) {
  const h = { "content-type": contentType };
  if (headers) {
    const p = headers.split("\n");
    for (let i = 0; i + 1 < p.length; i += 2) h[p[i]] = p[i + 1];
  }
  return fetch(url, { method: "POST", headers: h, body, signal: AbortSignal.timeout(timeoutMs) }).then(
    async (r) => {
      await r.arrayBuffer().catch(() => {});
      return r.status;
    },
  );
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `request.cf.colo`, the Cloudflare location that served the request, if known. */
export function colo(req) {
  const cf = req.cf;
  return cf && typeof cf.colo === "string" ? cf.colo : undefined;
}
