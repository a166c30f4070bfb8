// The JWT Validation the Rust Worker does, written in JavaScript with `jose` (WebCrypto
// underneath): the JavaScript twin of the `jwt` interceptor that bench/jwt.mjs measures against.
// bench/jwt.mjs bundles it with esbuild (jose included) before starting it.
//
// Authorization: Bearer <token> -> the issuer's keys from KV `jwt-issuer:<issuer>` (imported once
// per isolate, re-read after 30 s), the key by kid, pinned to its alg -> jwtVerify: signature,
// iss, aud, exp required, nbf/iat with 60 s of leeway -> jti revocation flag from KV
// `jti:<issuer>:<jti>` through a per-isolate cache (30 s, absent 5 s), read while the signature is
// verified -> forward doing what the Rust Worker does around the check (as
// bench/workers/oauth-js-same-work.js): strip hop-by-hop headers, headers named in Connection,
// Host and forged identity headers, continue or start a W3C trace (traceparent to the origin),
// no redirect following, 502 when the origin cannot be reached. Any failure: the 401 with the
// JWT message.

import { decodeJwt, importJWK, jwtVerify } from "jose";

const ISSUER = "https://idp.bench.example";
const AUDIENCE = "orders";
const ALGORITHMS = ["HS256", "ES256", "EdDSA", "RS256"];
const LEEWAY_S = 60;
const TTL_MS = 30_000;
const NEGATIVE_TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;
const DENIAL = "JWT in the request, identified by HEADER Authorization, is invalid. Check docs.sensedia.com";

let keySet = null; // { at, byKid: Map<kid, { alg, key }> }

async function keys(env, now) {
  if (keySet && now < keySet.at + TTL_MS) return keySet.byKid;
  const rec = await env.RECORDS.get(`jwt-issuer:${ISSUER}`, { type: "json" });
  const byKid = new Map();
  for (const k of rec?.keys ?? []) {
    if (ALGORITHMS.includes(k.alg)) byKid.set(k.kid, { alg: k.alg, key: await importJWK(k, k.alg) });
  }
  keySet = { at: now, byKid };
  return byKid;
}

const records = new Map(); // key -> { value, expires }
async function record(env, key, now) {
  const hit = records.get(key);
  if (hit !== undefined && hit.expires > now) return hit.value;
  const value = await env.RECORDS.get(key, { type: "json" });
  if (records.size >= MAX_ENTRIES) records.delete(records.keys().next().value);
  records.set(key, { value, expires: now + (value === null ? NEGATIVE_TTL_MS : TTL_MS) });
  return value;
}

const ALWAYS_REMOVE = [
  "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
  "te", "trailer", "transfer-encoding", "upgrade", "host",
  "x-edge-client-id", "x-edge-app-name", "x-edge-app-extra-info",
];
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const TP = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
function hex(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}
function traceparent(incoming) {
  const span = hex(crypto.getRandomValues(new Uint8Array(8)));
  const m = incoming && TP.exec(incoming);
  if (m && !/^0+$/.test(m[1]) && !/^0+$/.test(m[2])) return `00-${m[1]}-${span}-${m[3]}`;
  return `00-${hex(crypto.getRandomValues(new Uint8Array(16)))}-${span}-01`;
}

function deny() {
  return new Response(DENIAL, { status: 401, headers: { "content-type": "text/plain; charset=utf-8" } });
}

export default {
  async fetch(request, env) {
    const auth = request.headers.get("authorization");
    if (!auth || auth.length < 8 || auth.slice(0, 7).toLowerCase() !== "bearer ") return deny();
    const token = auth.slice(7);
    const now = Date.now();
    try {
      const byKid = await keys(env, now);
      const jti = decodeJwt(token).jti;
      const revocation = typeof jti === "string" ? record(env, `jti:${ISSUER}:${jti}`, now) : null;
      const getKey = (header) => {
        const k = byKid.get(header.kid);
        if (!k || k.alg !== header.alg) throw new Error("unknown key");
        return k.key;
      };
      const [, revoked] = await Promise.all([
        jwtVerify(token, getKey, {
          issuer: ISSUER,
          audience: AUDIENCE,
          algorithms: ALGORITHMS,
          clockTolerance: LEEWAY_S,
          requiredClaims: ["exp"],
        }),
        revocation,
      ]);
      if (revoked && revoked.revoked === true) return deny();
    } catch {
      return deny();
    }
    const url = new URL(request.url);
    const headers = new Headers(request.headers);
    const conn = headers.get("connection");
    if (conn) for (const n of conn.split(",")) headers.delete(n.trim());
    for (const n of ALWAYS_REMOVE) headers.delete(n);
    headers.set("traceparent", traceparent(request.headers.get("traceparent")));
    const method = request.method;
    const init = { method, headers, redirect: "manual" };
    if (method !== "GET" && method !== "HEAD") init.body = request.body;
    return fetch(env.ORIGIN + url.pathname + url.search, init).catch(
      () => new Response("Bad Gateway", { status: 502, headers: { "content-type": "text/plain; charset=utf-8" } }),
    );
  },
};
