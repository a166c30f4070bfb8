// The authorization server's calls into the runtime, one call each, every wait with a time
// limit. No logic lives here: Rust (src/authz/) decides, this applies.

import { readBody, withTimeout } from "./glue.js";

/** The request body, at most `max` bytes (null when larger), within `ms`: glue.js's. */
export { readBody };

function kv(ns) {
  if (!ns || typeof ns.get !== "function") throw new Error("the RECORDS KV binding is missing");
  return ns;
}

/** A KV read: the text, or null when absent. */
export function kvGet(ns, key, ms) {
  try {
    return withTimeout(kv(ns).get(key), ms, `KV get ${key.slice(0, 12)}…`);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** A KV write with metadata (JSON text) and an expiration (epoch seconds; 0: none). */
export function kvPut(ns, key, value, expiration, metadata, ms) {
  try {
    const opts = { metadata: JSON.parse(metadata) };
    // KV needs an expiration at least 60 s ahead.
    if (expiration > 0) opts.expiration = Math.max(expiration, Math.floor(Date.now() / 1000) + 120);
    return withTimeout(kv(ns).put(key, value, opts), ms, `KV put ${key.slice(0, 12)}…`);
  } catch (e) {
    return Promise.reject(e);
  }
}

/** One operation on the grant store instance `name`: resolves to its answer (JSON text). */
export function grantStore(ns, name, op, ms) {
  if (!ns || typeof ns.idFromName !== "function") {
    return Promise.reject(new Error("the GRANTS Durable Object binding is missing"));
  }
  const stub = ns.get(ns.idFromName(name));
  const call = stub.fetch("https://grant-store/op", { method: "POST", body: op }).then(async (r) => {
    const text = await r.text();
    if (r.status !== 200) throw new Error(`grant store answered ${r.status}`);
    return text;
  });
  return withTimeout(call, ms, "grant store");
}

/**
 * POSTs the username and password to the resource-owner check endpoint with
 * `Authorization: Bearer <bearer>`, following no redirect: resolves to [status, body text]
 * (at most 64 KiB of it) or rejects on a network error or after `ms`.
 */
export function ownerCheck(url, bearer, body, ms) {
  const call = fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
    body,
    redirect: "manual",
    signal: AbortSignal.timeout(ms),
  }).then(async (r) => {
    const bytes = await readBody(r, 65536);
    return [r.status, bytes ? new TextDecoder().decode(bytes) : ""];
  });
  return withTimeout(call, ms, "resource owner check");
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A response with "\n"-separated header name/value pairs. */
export function replyWith(status, headers, body) {
  const h = new Headers();
  if (headers) {
    const p = headers.split("\n");
    for (let i = 0; i + 1 < p.length; i += 2) h.append(p[i], p[i + 1]);
  }
  return new Response(body === "" ? null : body, { status, headers: h });
}
