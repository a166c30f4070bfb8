// The token endpoint (client credentials) written in plain JavaScript: the twin of the Rust
// Worker's authorization server in Sensedia mode, used by bench/authz.mjs to tell the cost of
// issuing a token from the cost of Rust.
//
// POST /oauth/access-token, `Authorization: Basic base64(client_id:client_secret)`, body
// `grant_type=client_credentials` (form-encoded or JSON, at most 16 KiB)
//   -> app `app:<client_id>` from KV RECORDS through a per-isolate cache (TTL 30 s; absent
//      records cached 5 s), as the Rust Worker reads it
//   -> SHA-256 of the secret compared in constant time with `client_secret_sha256` (an unknown
//      client is compared against a dummy hash, so it costs the same)
//   -> app APPROVED, not revoked, not expired, grant allowed (the app's `grants`, when it
//      narrows them; the narrower lifetime wins)
//   -> a UUIDv4 token (122 random bits), its SHA-256, the record `token:<hex>` written to KV
//      (awaited: the token is stored before the client has it) with the fields the Rust Worker
//      writes, KV metadata {client_id} and a KV expiration a day after the token's
//   -> 201 {"access_token", "token_type": "access_token", "expires_in"} (Sensedia mode).
// Failures answer the RFC 6749 §5.2 JSON error (401 + WWW-Authenticate for invalid_client).
// Every KV call has a time limit (3 s, the Rust Worker's store_timeout_ms default); passing
// requests are not traced (the benchmark's Rust policy samples passing traces out).

const BASE = "/oauth";
const LIFETIME_S = 3600;
const BODY_CAP = 16 * 1024;
const TTL_MS = 30_000;
const NEGATIVE_TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;
const DUMMY_HASH = "0".repeat(64);
const STORE_TIMEOUT_MS = 3000;
const KEEP_EXPIRED_S = 86_400;
const SERVER = "sensedia";

function withTimeout(p, ms, what) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

const cache = new Map(); // key -> { value, expires }

async function record(env, key, now) {
  const hit = cache.get(key);
  if (hit !== undefined && hit.expires > now) return hit.value;
  const value = await withTimeout(env.RECORDS.get(key, { type: "json" }), STORE_TIMEOUT_MS, "KV get");
  if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value);
  cache.set(key, { value, expires: now + (value === null ? NEGATIVE_TTL_MS : TTL_MS) });
  return value;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const enc = new TextEncoder();
async function sha256Hex(text) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(text)));
  let out = "";
  for (let i = 0; i < digest.length; i++) out += HEX[digest[i]];
  return out;
}

// `expires_at` may be absent, epoch seconds or an RFC 3339 string.
function expired(rec, now) {
  const e = rec.expires_at;
  if (e === undefined || e === null) return false;
  const ms = typeof e === "number" ? e * 1000 : Date.parse(e);
  return !(ms > now);
}

function error(status, code, description) {
  const headers = { "content-type": "application/json;charset=UTF-8", "cache-control": "no-store", pragma: "no-cache" };
  if (status === 401) headers["www-authenticate"] = `Basic realm="${SERVER}"`;
  const body = description ? { error: code, error_description: description } : { error: code };
  return new Response(JSON.stringify(body), { status, headers });
}

function basic(header) {
  if (!header || !/^basic /i.test(header)) return null;
  let text;
  try {
    text = atob(header.slice(6).trim());
  } catch {
    return null;
  }
  const i = text.indexOf(":");
  if (i <= 0) return null;
  return { clientId: text.slice(0, i), secret: text.slice(i + 1) };
}

async function params(request) {
  const len = Number(request.headers.get("content-length") ?? "0");
  if (len > BODY_CAP) return null;
  const text = await request.text();
  if (text.length > BODY_CAP) return null;
  const type = (request.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (type === "application/json") {
    try {
      const o = JSON.parse(text);
      return o && typeof o === "object" ? new Map(Object.entries(o).map(([k, v]) => [k, String(v)])) : null;
    } catch {
      return null;
    }
  }
  if (type === "application/x-www-form-urlencoded") return new Map(new URLSearchParams(text));
  return null;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname !== `${BASE}/access-token`) return new Response("Not Found", { status: 404 });
    if (request.method !== "POST") return new Response(null, { status: 405, headers: { allow: "POST" } });
    const p = await params(request);
    if (!p) return error(400, "invalid_request", "malformed body");
    const grant = p.get("grant_type");
    if (!grant) return error(400, "invalid_request", "grant_type is missing");
    if (grant !== "client_credentials") return error(400, "unsupported_grant_type");
    const creds = basic(request.headers.get("authorization"));
    if (!creds) return error(401, "invalid_client");

    const now = Date.now();
    const app = await record(env, "app:" + creds.clientId, now);
    const given = enc.encode(await sha256Hex(creds.secret));
    const stored = enc.encode(
      app && typeof app.client_secret_sha256 === "string" && app.client_secret_sha256.length === 64
        ? app.client_secret_sha256
        : DUMMY_HASH,
    );
    const same = crypto.subtle.timingSafeEqual(given, stored);
    if (!app || !same || app.status !== "APPROVED" || app.revoked === true || expired(app, now)) {
      return error(401, "invalid_client");
    }
    if (app.client_type === "public") return error(401, "invalid_client");
    if (Array.isArray(app.grant_types) && !app.grant_types.includes("client_credentials")) {
      return error(400, "unauthorized_client");
    }
    const lifetime = Number.isInteger(app.access_token_lifetime_seconds)
      ? Math.min(app.access_token_lifetime_seconds, LIFETIME_S)
      : LIFETIME_S;

    const token = crypto.randomUUID();
    const hash = await sha256Hex(token);
    const issuedAt = Math.floor(now / 1000);
    const rec = {
      client_id: creds.clientId,
      revoked: false,
      expires_at: issuedAt + lifetime,
      grant_type: "client_credentials",
      kind: "access_token",
      issued_at: issuedAt,
      server: SERVER,
    };
    if (app.extra_info !== undefined) rec.extra_info = app.extra_info;
    try {
      await withTimeout(
        env.RECORDS.put("token:" + hash, JSON.stringify(rec), {
          metadata: { client_id: creds.clientId },
          expiration: rec.expires_at + KEEP_EXPIRED_S,
        }),
        STORE_TIMEOUT_MS,
        "KV put",
      );
    } catch {
      return new Response("Service Unavailable", { status: 503, headers: { "content-type": "text/plain; charset=utf-8" } });
    }
    return new Response(JSON.stringify({ access_token: token, token_type: "access_token", expires_in: lifetime }), {
      status: 201,
      headers: { "content-type": "application/json;charset=UTF-8", "cache-control": "no-store", pragma: "no-cache" },
    });
  },
};
