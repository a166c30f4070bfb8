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

    return fetch(env.ORIGIN + path + url.search, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
  },
};
