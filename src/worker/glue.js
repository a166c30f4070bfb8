// The few steps of the hot path that would cost many wasm<->JS crossings if driven from Rust,
// done in one call each. No logic lives here: Rust decides, this applies.

let alwaysRemove = [];

/** Once per isolate: header names removed from every forwarded request ("\n"-separated). */
export function init(names) {
  alwaysRemove = names ? names.split("\n") : [];
}

/**
 * Forwards `req` to `url` as `fetch(url, { method, headers, body })` with the original body
 * stream, or with `bytes` when an interceptor has read the body. `remove` and `set` are
 * "\n"-separated (names; name/value pairs). `respHeaders` ("\n"-separated name/value pairs,
 * usually empty) are added to the origin's response, whose body streams through unread. On a
 * network error `onError(slot, error)` supplies the answer; `onOk(slot, response)`, when given,
 * sees the origin's response and returns it.
 */
export function forward(req, url, remove, set, respHeaders, onError, slot, onOk, bytes) {
  const headers = new Headers(req.headers);
  for (const n of alwaysRemove) headers.delete(n);
  if (remove) for (const n of remove.split("\n")) headers.delete(n);
  if (set) {
    const p = set.split("\n");
    for (let i = 0; i + 1 < p.length; i += 2) headers.set(p[i], p[i + 1]);
  }
  const method = req.method;
  const init = { method, headers, redirect: "manual" };
  if (method !== "GET" && method !== "HEAD") {
    if (bytes) init.body = bytes;
    else if (req.body) init.body = req.body;
  }
  let p = fetch(url, init);
  if (respHeaders) p = p.then((r) => withHeaders(r, respHeaders));
  return p.then(onOk ? (r) => onOk(slot, r) : undefined, (e) => onError(slot, e));
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
 * Reads `req`'s body, at most `max` bytes: resolves to the bytes, or to null as soon as there
 * are more (reading stops there; nothing larger is ever held in memory).
 */
export async function readBody(req, max) {
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
 * signature's window had closed by the store's clock; rejects when the store cannot answer.
 */
export function claimNonce(ns, shard, claim) {
  if (!ns || typeof ns.idFromName !== "function") {
    return Promise.reject(new Error("the NONCES Durable Object binding is missing"));
  }
  const stub = ns.get(ns.idFromName(`nonce-${shard}`));
  return stub.fetch(`https://nonce-store/claim?c=${claim}`, { method: "POST" }).then((r) => {
    if (r.status === 204) return true;
    if (r.status === 409) return false;
    if (r.status === 410) return "late";
    throw new Error(`nonce store answered ${r.status}`);
  });
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
