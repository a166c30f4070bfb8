// The OAuth twin doing everything the Rust Worker does around the check, so that the two can
// be compared like for like: besides the check of oauth-js.js, it strips hop-by-hop headers,
// headers named in Connection, Host and forged identity headers, sets the identity headers
// (client id, app name, extra info when there is any), continues or starts a W3C trace
// (traceparent to the origin), and answers 502 when the origin cannot be reached.

// The OAuth check written in plain JavaScript: the twin of the Rust Worker's
// `oauth` interceptor, used to tell the cost of the check from the cost of Rust.
//
// client_id + access_token headers -> SHA-256(token) -> records `app:<client_id>`
// and `token:<hex>` from KV RECORDS through a per-isolate cache (TTL 30 s;
// absent records are cached for 5 s) -> app APPROVED, not revoked, not expired;
// token not revoked, not expired, issued to that app; app.access grants the API
// -> forward like the pass-through. Any failure: 401 with the fixed message.

const TTL_MS = 30_000;
const NEGATIVE_TTL_MS = 5_000;
const API = { name: "orders", basePath: "/orders" };
const DENIAL =
  "Access Token in the request, identified by HEADER access_token, is invalid. Check docs.sensedia.com";

const cache = new Map(); // key -> { value, expires }
const MAX_ENTRIES = 10_000;

async function record(env, key, now) {
  const hit = cache.get(key);
  if (hit !== undefined && hit.expires > now) return hit.value;
  const value = await env.RECORDS.get(key, { type: "json" });
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value);
  cache.set(key, { value, expires: now + (value === null ? NEGATIVE_TTL_MS : TTL_MS) });
  return value;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
async function sha256Hex(text) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  let out = "";
  for (let i = 0; i < digest.length; i++) out += HEX[digest[i]];
  return out;
}

// `expires_at` may be absent, epoch seconds, epoch milliseconds or an RFC 3339 string.
function expired(rec, now) {
  const e = rec.expires_at;
  if (e === undefined || e === null) return false;
  const ms = typeof e === "number" ? (e < 1e12 ? e * 1000 : e) : Date.parse(e);
  return !(ms > now);
}

const ALWAYS_REMOVE = [
  "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
  "te", "trailer", "transfer-encoding", "upgrade", "host",
  "x-edge-client-id", "x-edge-app-name", "x-edge-app-extra-info",
];

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
  return new Response(DENIAL, { status: 401, headers: { "content-type": "text/plain" } });
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const path = url.pathname;
    if (!(path === API.basePath || path.startsWith(API.basePath + "/"))) return deny();

    const clientId = request.headers.get("client_id");
    const token = request.headers.get("access_token");
    if (!clientId || !token) return deny();

    const now = Date.now();
    const [app, tok] = await Promise.all([
      record(env, "app:" + clientId, now),
      sha256Hex(token).then((h) => record(env, "token:" + h, now)),
    ]);
    if (
      !app || app.status !== "APPROVED" || app.revoked === true || expired(app, now) ||
      !tok || tok.revoked === true || expired(tok, now) || tok.client_id !== clientId ||
      !Array.isArray(app.access) || !app.access.some((a) => a && a.api === API.name)
    ) {
      return deny();
    }

    const headers = new Headers(request.headers);
    const conn = headers.get("connection");
    if (conn) for (const n of conn.split(",")) headers.delete(n.trim());
    for (const n of ALWAYS_REMOVE) headers.delete(n);
    headers.set("traceparent", traceparent(request.headers.get("traceparent")));
    headers.set("x-edge-client-id", clientId);
    headers.set("x-edge-app-name", app.name);
    if (app.extra_info !== undefined || tok.extra_info !== undefined) {
      headers.set("x-edge-app-extra-info", JSON.stringify({ app: app.extra_info, token: tok.extra_info }));
    }
    const method = request.method;
    const init = { method, headers, redirect: "manual" };
    if (method !== "GET" && method !== "HEAD") init.body = request.body;
    return fetch(env.ORIGIN + path + url.search, init).catch(
      () => new Response("Bad Gateway", { status: 502, headers: { "content-type": "text/plain; charset=utf-8" } }),
    );
  },
};
