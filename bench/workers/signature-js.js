// The Digital Signature check the Rust Worker does (after `client_id`), written in plain
// JavaScript with WebCrypto: the JavaScript twin that bench/signature.mjs measures beside the
// Rust variants `rsa256`, `hmac` and `ed-none`. Bindings: RECORDS (KV), ORIGIN, API (the name
// the app must be granted), MODE (`SHA256withRSA`, `HmacSHA256` or `ed25519`).
//
// 1. `client_id` header -> the app record `app:<id>` from KV (JSON, parsed once and kept per
//    isolate for 30 s, absent for 5 s): status APPROVED, not revoked, not expired, granted API.
// 2. Body mode (`SHA256withRSA`, `HmacSHA256`): the raw body bytes against the standard base64
//    signature in header `signature`: RSASSA-PKCS1-v1_5 SHA-256 with the app's RS256 keys
//    (SPKI PEM, imported once per isolate), or HMAC-SHA256 with the app's `hmac_secrets`
//    (crypto.subtle.verify); any key that verifies passes.
//    RFC 9421 (`ed25519`, no nonce store: this twin serves only the require_nonce = false
//    variant, and refuses a signature carrying a nonce rather than pretend to check it):
//    Signature-Input / Signature parsed for the first label; @method, @target-uri covered, and
//    content-digest when the request has a body; `created` required, at most 30 s in the future
//    and at most 300 + 30 s old, `expires` not past; the key named by `keyid`, its alg EdDSA
//    matching `alg`; the signature base rebuilt from the covered components; Content-Digest
//    checked against the body (sha-256 / sha-512 members); Ed25519 verified by WebCrypto.
// 3. Forward: fetch(ORIGIN + path + search, { method, headers, body: the bytes read }).
//    Any failure: 401 text with the Sensedia message.

const TTL_MS = 30_000;
const NEGATIVE_TTL_MS = 5_000;
const MAX_ENTRIES = 10_000;
const MAX_AGE_S = 300;
const SKEW_S = 30;
const REQUIRED = ["@method", "@target-uri"];
const CLIENT_DENIAL = "Client Id in the request, identified by HEADER client_id, is invalid. Check docs.sensedia.com";
const SIG_DENIAL = "Digital Signature in the request, identified by HEADER signature, is invalid. Check docs.sensedia.com";

const deny = (msg) => new Response(msg, { status: 401, headers: { "content-type": "text/plain; charset=utf-8" } });

// ---- records: parsed app per client id, per isolate
const records = new Map(); // key -> { value, expires }
async function app(env, id, now) {
  const key = `app:${id}`;
  const hit = records.get(key);
  if (hit !== undefined && hit.expires > now) return hit.value;
  const value = await env.RECORDS.get(key, { type: "json" });
  if (records.size >= MAX_ENTRIES) records.delete(records.keys().next().value);
  records.set(key, { value, expires: now + (value === null ? NEGATIVE_TTL_MS : TTL_MS) });
  return value;
}

function usable(a, api, nowS) {
  if (!a || a.status !== "APPROVED" || a.revoked === true) return false;
  if (a.expires_at !== undefined && a.expires_at !== null) {
    const t = typeof a.expires_at === "number" ? a.expires_at : Date.parse(a.expires_at) / 1000;
    if (!(nowS < t)) return false;
  }
  return Array.isArray(a.access) && a.access.some((g) => g.api === api && !g.resources);
}

// ---- keys: imported once per isolate (by key material)
const imported = new Map(); // "<kind>|<material>" -> Promise<CryptoKey | null>
function b64bytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function pemDer(pem) {
  const m = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(pem);
  return m ? b64bytes(m[1].replace(/\s+/g, "")) : null;
}
function importOnce(kind, material, make) {
  const k = `${kind}|${material}`;
  let p = imported.get(k);
  if (!p) {
    p = make().catch(() => null);
    imported.set(k, p);
  }
  return p;
}
const RSA = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
const HMAC = { name: "HMAC", hash: "SHA-256" };
const ED = { name: "Ed25519" };
const rsaKey = (pem) => importOnce("rsa", pem, () => crypto.subtle.importKey("spki", pemDer(pem), RSA, false, ["verify"]));
const hmacKey = (b64) => importOnce("hmac", b64, () => crypto.subtle.importKey("raw", b64bytes(b64), HMAC, false, ["verify"]));
const edKey = (pem) => importOnce("ed", pem, () => crypto.subtle.importKey("spki", pemDer(pem), ED, false, ["verify"]));

// Standard base64, padded (as the Rust Worker's decode_signature).
function decodeSignature(s) {
  if (!s || s.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(s)) return null;
  try {
    return b64bytes(s);
  } catch {
    return null;
  }
}

async function verifyBody(mode, a, body, header) {
  const sig = decodeSignature(header?.trim());
  if (!sig) return false;
  const keys =
    mode === "HmacSHA256"
      ? (a.hmac_secrets ?? []).map((s) => hmacKey(s.secret_b64).then((k) => [k, HMAC]))
      : (a.signature_keys ?? []).filter((k) => k.alg === "RS256" && k.pem).map((k) => rsaKey(k.pem).then((c) => [c, RSA]));
  const results = await Promise.all(keys.map((p) => p.then(([k, alg]) => (k ? crypto.subtle.verify(alg, k, sig, body) : false))));
  return results.some(Boolean);
}

// ---- RFC 9421: the structured fields the bench sends (one label; components as plain strings)
const TOKEN = /^[a-z*][a-z0-9_\-.*]*/;
function parseInput(field) {
  // label=("c1" "c2" ...);created=1;keyid="k";alg="ed25519" [, other=...]
  const s = field.trim();
  const lm = TOKEN.exec(s);
  if (!lm || s[lm[0].length] !== "=" || s[lm[0].length + 1] !== "(") return null;
  let i = lm[0].length + 2;
  const components = [];
  for (;;) {
    while (s[i] === " ") i++;
    if (s[i] === ")") {
      i++;
      break;
    }
    const m = /^"([\x20-\x21\x23-\x5b\x5d-\x7e]*)"/.exec(s.slice(i));
    if (!m) return null; // component parameters (;key, ;sf ...) are not needed by this bench
    components.push(m[1]);
    i += m[0].length;
    if (s[i] !== " " && s[i] !== ")") return null;
  }
  const params = [];
  while (s[i] === ";") {
    const m = /^;([a-z*][a-z0-9_\-.*]*)=(?:(-?\d{1,15})|"((?:[\x20-\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)")/.exec(s.slice(i));
    if (!m) return null;
    params.push([m[1], m[2] !== undefined ? Number(m[2]) : m[3].replace(/\\(["\\])/g, "$1")]);
    i += m[0].length;
  }
  if (i < s.length && !/^\s*,/.test(s.slice(i))) return null;
  return { label: lm[0], components, params };
}
function parseSignature(field, label) {
  for (const member of field.split(",")) {
    const m = /^\s*([a-z*][a-z0-9_\-.*]*)=:([A-Za-z0-9+/]*={0,2}):\s*$/.exec(member);
    if (m && m[1] === label) return b64bytes(m[2]);
  }
  return null;
}
const sfString = (v) => `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

async function checkContentDigest(field, body) {
  let found = false;
  for (const member of field.split(",")) {
    const m = /^\s*([a-z*][a-z0-9_\-.*]*)=:([A-Za-z0-9+/]*={0,2}):\s*$/.exec(member);
    if (!m) return false;
    const hash = { "sha-256": "SHA-256", "sha-512": "SHA-512" }[m[1]];
    if (!hash) continue;
    const want = b64bytes(m[2]);
    const got = new Uint8Array(await crypto.subtle.digest(hash, body));
    if (want.length !== got.length) return false;
    let d = 0;
    for (let j = 0; j < got.length; j++) d |= got[j] ^ want[j];
    if (d !== 0) return false;
    found = true;
  }
  return found;
}

async function verify9421(request, a, body, nowS) {
  const input = request.headers.get("signature-input");
  const sigField = request.headers.get("signature");
  if (!input || !sigField) return false;
  const parsed = parseInput(input);
  if (!parsed) return false;
  const sig = parseSignature(sigField, parsed.label);
  if (!sig) return false;
  const p = Object.fromEntries(parsed.params);
  const covered = parsed.components;
  const hasBody = Number(request.headers.get("content-length") ?? "0") > 0;
  for (const r of REQUIRED) if (!covered.includes(r)) return false;
  if (hasBody && !covered.includes("content-digest")) return false;
  if (typeof p.created !== "number") return false;
  if (p.created > nowS + SKEW_S || nowS - p.created > MAX_AGE_S + SKEW_S) return false;
  if (typeof p.expires === "number" && p.expires + SKEW_S < nowS) return false;
  if (p.nonce !== undefined) return false; // no nonce store in this twin (see the top)
  if (typeof p.keyid !== "string") return false;
  const k = (a.signature_keys ?? []).find((x) => x.kid === p.keyid);
  if (!k || k.alg !== "EdDSA" || !k.pem) return false;
  if (p.alg !== undefined && p.alg !== "ed25519") return false;
  // The signature base.
  const lines = [];
  for (const c of covered) {
    let v;
    if (c === "@method") v = request.method;
    else if (c === "@target-uri") v = request.url;
    else if (c.startsWith("@")) return false;
    else {
      v = request.headers.get(c);
      if (v === null) return false;
    }
    lines.push(`${sfString(c)}: ${v}`);
  }
  const sp = `(${covered.map(sfString).join(" ")})` + parsed.params.map(([n, v]) => `;${n}=${typeof v === "number" ? v : sfString(v)}`).join("");
  lines.push(`"@signature-params": ${sp}`);
  if (covered.includes("content-digest")) {
    const cd = request.headers.get("content-digest");
    if (!cd || !(await checkContentDigest(cd, body))) return false;
  }
  const key = await edKey(k.pem);
  if (!key) return false;
  return crypto.subtle.verify(ED, key, sig, new TextEncoder().encode(lines.join("\n")));
}

export default {
  async fetch(request, env) {
    const id = request.headers.get("client_id");
    if (!id) return deny(CLIENT_DENIAL);
    const now = Date.now();
    const nowS = Math.floor(now / 1000);
    const a = await app(env, id, now);
    if (!usable(a, env.API, nowS)) return deny(CLIENT_DENIAL);
    const body = new Uint8Array(await request.arrayBuffer());
    let ok = false;
    try {
      ok = env.MODE === "ed25519" ? await verify9421(request, a, body, nowS) : await verifyBody(env.MODE, a, body, request.headers.get("signature"));
    } catch {
      ok = false;
    }
    if (!ok) return deny(SIG_DENIAL);
    const url = new URL(request.url);
    const method = request.method;
    return fetch(env.ORIGIN + url.pathname + url.search, { method, headers: request.headers, body: method === "GET" || method === "HEAD" ? undefined : body });
  },
};
