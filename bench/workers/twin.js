// The JavaScript twin of the Rust Worker: the interceptors bench/compare.mjs measures, written as
// a JavaScript Worker would write them, on the gateway of ./twin-common.js (routing, record
// cache, forwarding, trace). It reads the same POLICY, RECORDS and LOGGING bindings as the Rust
// Worker and answers the same bytes; the benchmark checks, before measuring, that both write the
// same trace entries (same fields and values but ids, times and latencies) for every case.
// bench/compare.mjs bundles it with esbuild (jose included), as wrangler would.
//
// Interceptors (src/interceptors/): oauth, access_token, client_id, client_id_secret_encoded,
// jwt (KV issuer keys only, no JWKS URL, no identity or forwarded claims) and digital_signature
// (body mode with RSA/HMAC, RFC 9421 without the nonce store). Per interceptor, what the Rust one
// checks, in its order, with its causes; where Rust computes in wasm (SHA-256, HMAC), WebCrypto.

import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK } from "jose";
import {
  Common,
  base64Strict,
  entry,
  fault,
  fingerprint,
  fingerprintOfHash,
  gateway,
  hex,
  identity,
  noAccessDetail,
  quoted,
  readBody,
  record,
  records,
  resolveApp,
  appProblem,
  grantsAccess,
  scopeAllows,
  sha256,
  slotFault,
  tokenFromSlot,
  utf8,
  valueHint,
} from "./twin-common.js";

const MAX_TOKEN_BYTES = 4096;

// ---------------------------------------------------------------- OAuth (src/interceptors/oauth.rs)

function oauth(o, docs) {
  const client = new Common("oauth", "client_id", o, docs, { defaultName: "client_id", fixed: true });
  const tok = client.sibling("access_token", "access_token");
  return {
    async check(call) {
      const c = client.extract(call);
      if (c.check) return c.check;
      const t = tok.extract(call);
      if (t.check) return t.check;
      const clientId = c.value;
      const token = t.value;
      const tooLong = utf8(token).length > MAX_TOKEN_BYTES;
      const hash = tooLong ? null : await sha256(token);
      // Both records in one round, as the Rust interceptor asks for them.
      const tokenKey = tooLong ? null : "token:" + hex(hash);
      if (!tooLong && 4 + utf8(clientId).length <= 512) {
        const app = "app:" + clientId;
        if (call.state.cache.get(app, call.now) === undefined || call.state.cache.get(tokenKey, call.now) === undefined) {
          await records(call, [app, tokenKey]);
        }
      }
      const a = await resolveApp(client, call, clientId, c.place, true);
      if (a.check) return a.check;
      if (tooLong) {
        return tok.deny(t.place, "too_long", `${utf8(token).length} bytes: longer than any token issued, refused without a lookup`, await fingerprint(token));
      }
      const fp = fingerprintOfHash(hash);
      let slot = record(call, tokenKey);
      if (slot instanceof Promise) slot = await slot;
      const r = tokenFromSlot(tok, call, token, tokenKey, slot, t.place, fp);
      if (r.check) return r.check;
      if (r.token.client_id !== clientId) return tok.deny(t.place, "wrong_app", "the token belongs to another app", fp, clientId);
      if (!scopeAllows(r.token, call)) return tok.deny(t.place, "no_access", noAccessDetail(call, "the token's scope"), fp, clientId);
      return tok.pass(call, t.place, fp, identity(clientId, a.app, r.token.extra_info));
    },
  };
}

// ---------------------------------------------------------------- Access Token (access_token.rs)

function accessToken(o, docs) {
  const c = new Common("access_token", "access_token", o, docs, { defaultName: "access_token", locations: ["header", "query", "cookie", "header_or_cookie", "any"] });
  return {
    async check(call) {
      const x = c.extract(call);
      if (x.check) return x.check;
      const { value: token, place } = x;
      if (utf8(token).length > MAX_TOKEN_BYTES) {
        return c.deny(place, "too_long", `${utf8(token).length} bytes: longer than any token issued, refused without a lookup`, await fingerprint(token));
      }
      const hash = await sha256(token);
      const fp = fingerprintOfHash(hash);
      const tokenKey = "token:" + hex(hash);
      let slot = record(call, tokenKey);
      if (slot instanceof Promise) slot = await slot;
      const r = tokenFromSlot(c, call, token, tokenKey, slot, place, fp);
      if (r.check) return r.check;
      const t = r.token;
      const appKey = "app:" + t.client_id;
      if (utf8(appKey).length > 512) return c.deny(place, "app_not_found", "the token's client id cannot be an app key", fp, t.client_id);
      let as = record(call, appKey);
      if (as instanceof Promise) as = await as;
      if (as.absent) return c.deny(place, "app_not_found", "the token's app does not exist", fp, t.client_id);
      const f = slotFault(c.kind, appKey, as);
      if (f) return f;
      const app = as.value;
      if (app.type !== "app") return fault(c.kind, 500, "malformed_record", `${quoted(appKey)} does not hold an app`);
      const p = appProblem(app, call.nowS);
      if (p) return c.deny(place, p[0], `${p[1]} (the token's app)`, fp, t.client_id);
      if (!grantsAccess(app.access, call.api, call.resource)) return c.deny(place, "no_access", noAccessDetail(call, "the token's app"), fp, t.client_id);
      if (!scopeAllows(t, call)) return c.deny(place, "no_access", noAccessDetail(call, "the token's scope"), fp, t.client_id);
      return c.pass(call, place, fp, identity(t.client_id, app, t.extra_info));
    },
  };
}

// ---------------------------------------------------------------- Client ID (client_id.rs)

function clientId(o, docs) {
  const c = new Common("client_id", "client_id", o, docs, { defaultName: "client_id", locations: ["header", "query", "cookie", "header_or_cookie", "any"] });
  return {
    async check(call) {
      const x = c.extract(call);
      if (x.check) return x.check;
      const a = await resolveApp(c, call, x.value, x.place, true);
      if (a.check) return a.check;
      return c.pass(call, x.place, undefined, identity(x.value, a.app, undefined));
    },
  };
}

// ---------------------------------------------------------------- Basic (client_id_secret_encoded.rs)

/** `Basic base64(id:secret)` → [id, secret], or why not. Padding optional, as in Rust. */
function decodeBasic(value) {
  const sp = value.indexOf(" ");
  if (sp === -1) return 'expected "Basic <base64(client_id:client_secret)>"';
  if (value.slice(0, sp).toLowerCase() !== "basic") return "the scheme is not Basic";
  let enc = value.slice(sp + 1);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(enc) || enc.length % 4 === 1) return "the credentials are not valid base64";
  enc = enc.replace(/=+$/, "");
  enc += "=".repeat((4 - (enc.length % 4)) % 4);
  let text;
  try {
    const bin = atob(enc);
    if (btoa(bin) !== enc) return "the credentials are not valid base64";
    text = new TextDecoder("utf-8", { fatal: true }).decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)));
  } catch {
    return "the decoded credentials are not UTF-8";
  }
  const colon = text.indexOf(":");
  if (colon === -1) return "the decoded credentials have no ':' between client id and secret";
  const id = text.slice(0, colon);
  const secret = text.slice(colon + 1);
  if (!id || !secret) return "the client id or the secret is empty";
  return [id, secret];
}

function clientIdSecretEncoded(o, docs) {
  const c = new Common("client_id_secret_encoded", "client_id", o, docs, { defaultName: "Authorization" });
  return {
    async check(call) {
      const x = c.extract(call);
      if (x.check) return x.check;
      const { value, place } = x;
      const fpP = fingerprint(value);
      const pair = decodeBasic(value);
      if (typeof pair === "string") return c.deny(place, "malformed", pair, await fpP);
      const [id, secret] = pair;
      const [a, given, fp] = await Promise.all([resolveApp(c, call, id, place, true), sha256(secret), fpP]);
      if (a.check) return a.check;
      const stored = a.app.client_secret_sha256;
      if (typeof stored !== "string") return c.deny(place, "bad_secret", "the app has no client secret registered", fp, id);
      if (!/^([0-9a-fA-F]{2})*$/.test(stored)) return fault(c.kind, 500, "malformed_record", `app ${quoted(id)}: client_secret_sha256 is not hex`);
      // Constant time over the digest.
      const want = stored.toLowerCase();
      const got = hex(given);
      let d = want.length ^ got.length;
      for (let i = 0; i < got.length; i++) d |= got.charCodeAt(i) ^ want.charCodeAt(i);
      if (d !== 0) return c.deny(place, "bad_secret", "the client secret does not match", fp, id);
      return c.pass(call, place, fp, identity(id, a.app, undefined));
    },
  };
}

// ---------------------------------------------------------------- JWT (jwt/mod.rs) with jose

const JWT_ALGS = ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];
const MAX_JWT_BYTES = 16 * 1024;
const KEEP_WITHOUT_EXP_MS = 300_000;

/**
 * Verdicts per token, as the Rust Worker keeps them (interceptors/jwt/verify.rs): by the token's
 * SHA-256, until its `exp` plus leeway, bounded; the time claims are checked again on every use.
 */
class Verdicts {
  constructor(max) {
    this.max = max;
    this.map = new Map();
  }
  get(h, now) {
    const v = this.map.get(h);
    if (v === undefined) return undefined;
    if (now >= v.until) {
      this.map.delete(h);
      return undefined;
    }
    return v;
  }
  set(h, v, now) {
    if (this.map.size >= this.max) {
      for (const [k, x] of this.map) if (now >= x.until) this.map.delete(k);
      if (this.map.size >= this.max) {
        let drop = Math.max(1, Math.floor(this.max / 10));
        for (const k of this.map.keys()) {
          if (drop-- === 0) break;
          this.map.delete(k);
        }
      }
    }
    this.map.set(h, v);
  }
}

function jwt(o, docs) {
  const c = new Common("jwt", "jwt", o, docs, { defaultName: "Authorization", locations: ["header", "query", "cookie", "header_or_cookie", "any"] });
  const scheme = o.scheme ?? (c.places.includes("header") && c.el.name.toLowerCase() === "authorization" ? "Bearer" : null);
  if (o.identity_claims?.length || o.forward_claims) throw new Error("jwt: identity_claims and forward_claims are not in the twin");
  const issuers = o.issuers.map((i) => {
    if (i.jwks_url) throw new Error("jwt: JWKS URLs are not in the twin");
    return { iss: i.issuer, algorithms: i.algorithms ?? ["RS256"], kvKey: `jwt-issuer:${i.issuer}` };
  });
  const audiences = o.audiences ?? [];
  const leeway = o.leeway_seconds ?? 60;
  const maxLifetime = o.max_lifetime_seconds;
  const requireExp = o.require_exp !== false;
  const checkJti = o.check_jti !== false;
  const required = o.required_claims ?? [];
  const verdicts = new Verdicts(10_000);
  const imported = new Map(); // kid|alg|material → Promise<CryptoKey>

  /** The first problem with the claims of a token whose signature is valid (claims.rs). */
  function claimsProblem(p, iss, nowS) {
    if (p.iss === undefined) return ["missing_claim", "no iss claim"];
    if (p.iss !== iss) return ["wrong_issuer", `issuer ${quoted(p.iss)} is not accepted`];
    if (p.exp !== undefined && typeof p.exp !== "number") return ["malformed", "exp is not a number"];
    if (typeof p.exp === "number" && p.exp + leeway <= nowS) return ["expired", `expired at ${p.exp} (leeway ${leeway} s)`];
    if (p.exp === undefined && requireExp) return ["missing_claim", "no exp claim"];
    if (typeof p.nbf === "number" && p.nbf > nowS + leeway) return ["not_yet_valid", `not valid before ${p.nbf} (leeway ${leeway} s)`];
    if (typeof p.iat === "number" && p.iat > nowS + leeway) return ["not_yet_valid", `issued in the future (${p.iat}; leeway ${leeway} s)`];
    if (maxLifetime !== undefined) {
      const start = p.iat ?? p.nbf;
      if (start === undefined) return ["missing_claim", "no iat (or nbf) claim, needed for the maximum lifetime"];
      if (p.exp === undefined) return ["missing_claim", "no exp claim, needed for the maximum lifetime"];
      if (p.exp - start > maxLifetime) return ["too_long_lived", `lives ${p.exp - start} s; at most ${maxLifetime} s are accepted`];
    }
    if (audiences.length) {
      if (p.aud === undefined) return ["missing_claim", "no aud claim"];
      const aud = Array.isArray(p.aud) ? p.aud : [p.aud];
      if (!aud.some((a) => audiences.includes(a))) return ["wrong_audience", `aud ${quoted(p.aud)} names none of the accepted audiences`];
    }
    for (const name of required) if (p[name] === undefined) return ["missing_claim", `no ${name} claim`];
    return null;
  }

  function cryptoKey(k) {
    const id = `${k.kid}|${k.alg}|${k.k ?? k.n ?? k.x}`;
    let p = imported.get(id);
    if (!p) {
      p = importJWK(k, k.alg);
      imported.set(id, p);
    }
    return p;
  }

  return {
    async check(call) {
      const x = c.extract(call);
      if (x.check) return x.check;
      const { value: raw, place } = x;
      let token = raw;
      if (scheme && place === "header") {
        const ok = raw.length > scheme.length && raw.slice(0, scheme.length).toLowerCase() === scheme.toLowerCase() && raw[scheme.length] === " ";
        token = ok ? raw.slice(scheme.length + 1) : "";
        if (!token) return c.deny(place, "malformed", valueHint(raw, place) ?? `expected "${scheme} <token>"`, await fingerprint(raw));
      }
      const hash = await sha256(token);
      const fp = fingerprintOfHash(hash);
      const deny = (cause, detail) => c.deny(place, cause, detail, fp);
      if (utf8(token).length > MAX_JWT_BYTES) return deny("too_long", `${utf8(token).length} bytes; at most ${MAX_JWT_BYTES} are read`);

      // 1. Parsed, or the verdict on this very token with what was parsed then.
      const h = hex(hash);
      const known = verdicts.get(h, call.now);
      let header, payload;
      if (known) ({ header, payload } = known);
      else {
        try {
          header = decodeProtectedHeader(token);
          payload = decodeJwt(token);
        } catch (e) {
          const hint = valueHint(token, place);
          return deny("malformed", `${e.message}${hint ? "; " + hint : ""}`);
        }
      }
      // 2. The algorithm; 3. the issuer.
      if (!JWT_ALGS.includes(header.alg)) {
        return deny("alg_not_allowed", String(header.alg).toLowerCase() === "none" ? 'alg "none" (an unsigned token) is never accepted' : `alg ${quoted(header.alg)} is not supported`);
      }
      let issuer = issuers[0];
      if (issuers.length > 1) {
        if (payload.iss === undefined) return deny("missing_claim", "no iss claim");
        issuer = issuers.find((i) => i.iss === payload.iss);
        if (!issuer) return deny("wrong_issuer", `issuer ${quoted(payload.iss)} is not accepted`);
      }
      if (!issuer.algorithms.includes(header.alg)) {
        return deny("alg_not_allowed", `${header.alg} is not allowed for issuer ${quoted(issuer.iss)} (allowed: ${issuer.algorithms.join(", ")})`);
      }
      // 4. The key, from the issuer's record (record cache).
      let ks = record(call, issuer.kvKey);
      if (ks instanceof Promise) ks = await ks;
      const kf = slotFault(c.kind, issuer.kvKey, ks);
      if (kf) return kf;
      const keys = ks.value?.keys ?? [];
      const named = header.kid === undefined ? keys.filter((k) => k.alg === header.alg) : keys.filter((k) => k.kid === header.kid);
      if (named.length !== 1) return deny("unknown_key", `issuer ${quoted(issuer.iss)}: no key has kid ${quoted(header.kid)}`);
      const key = named[0];
      if (key.alg !== header.alg) return deny("alg_not_allowed", `key ${quoted(key.kid)} is pinned to ${key.alg}`);

      // 5. The signature (jose), with the revocation flag read at the same time; or the verdict.
      const jtiKey = checkJti && typeof payload.jti === "string" ? `jti:${issuer.iss}:${payload.jti}` : null;
      let valid;
      if (known && known.kid === key.kid) valid = known.valid;
      else {
        const verify = cryptoKey(key)
          .then((k) => compactVerify(token, k, { algorithms: [key.alg] }))
          .then(
            () => true,
            (e) => (e?.code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" ? false : Promise.reject(e)),
          );
        let jtiP = null;
        if (jtiKey !== null && utf8(jtiKey).length <= 512) {
          jtiP = record(call, jtiKey);
        }
        try {
          [valid] = await Promise.all([verify, jtiP]);
        } catch (e) {
          return fault(c.kind, 500, "bad_key", `issuer ${quoted(issuer.iss)} key ${quoted(key.kid)}: ${e?.message ?? e}`);
        }
        const until = typeof payload.exp === "number" ? (payload.exp + leeway) * 1000 : call.now + KEEP_WITHOUT_EXP_MS;
        verdicts.set(h, { header, payload, kid: key.kid, valid, until }, call.now);
      }
      if (!valid) return deny("bad_signature", `the ${header.alg} signature does not verify with key ${quoted(key.kid)}`);

      // 6. The claims.
      const problem = claimsProblem(payload, issuer.iss, call.nowS);
      if (problem) return deny(problem[0], problem[1]);

      // 7. Revocation.
      if (jtiKey !== null) {
        if (utf8(jtiKey).length > 512) return deny("malformed", "jti is too long to be checked for revocation");
        let js = record(call, jtiKey);
        if (js instanceof Promise) js = await js;
        const jf = slotFault(c.kind, jtiKey, js);
        if (jf) return jf;
        if (js.value !== undefined) {
          if (js.value.type !== "jti") return fault(c.kind, 500, "malformed_record", `${quoted(jtiKey)} does not hold a revocation flag`);
          if (js.value.revoked) return deny("revoked", `jti ${quoted(payload.jti)} is revoked`);
        }
      }
      const e = entry(c.kind, "pass");
      e.element = c.el.rendered[place].element;
      e.fingerprint = fp;
      return { kind: "pass", entry: e, identity: null, hide: c.hide(place), headers: [] };
    },
  };
}

// ---------------------------------------------------------------- Digital Signature (digital_signature.rs)

const BODY_HASH = { SHA1withRSA: "SHA-1", SHA256withRSA: "SHA-256", SHA384withRSA: "SHA-384", SHA512withRSA: "SHA-512" };
const HTTPSIG = { ed25519: { alg: "EdDSA", wc: { name: "Ed25519" }, imp: { name: "Ed25519" } }, "ecdsa-p256-sha256": { alg: "ES256", wc: { name: "ECDSA", hash: "SHA-256" }, imp: { name: "ECDSA", namedCurve: "P-256" } } };

/** An app's keys imported once per record (the Rust Worker decodes them once per cached record). */
const appKeys = new WeakMap(); // app record → Map(id → Promise<CryptoKey|null>)
function importOnce(app, id, make) {
  let m = appKeys.get(app);
  if (!m) appKeys.set(app, (m = new Map()));
  let p = m.get(id);
  if (!p) {
    p = make().catch(() => null);
    m.set(id, p);
  }
  return p;
}
function spki(pem) {
  const m = /-----BEGIN PUBLIC KEY-----([A-Za-z0-9+/=\s]+)-----END PUBLIC KEY-----/.exec(pem ?? "");
  return m ? base64Strict(m[1].replace(/\s+/g, "")) : null;
}
function b64any(s) {
  try {
    return Uint8Array.from(atob(s), (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

function digitalSignature(o, docs) {
  const maxBody = o.max_body_bytes ?? 1 << 20;
  const tooLarge = (n) =>
    fault("digital_signature", 413, "body_too_large", n === null ? `the body is larger than max_body_bytes (${maxBody}); reading stopped there` : `the body (${n} bytes) is larger than max_body_bytes (${maxBody}) and cannot be verified`);
  /** The body (read once, at most max_body_bytes; forwarded as these bytes), or the check. */
  async function body(call) {
    if (call.body !== null) return call.body;
    const cl = call.req.headers.get("content-length");
    if (cl !== null && /^\d+$/.test(cl) && Number(cl) > maxBody) return tooLarge(Number(cl));
    let b;
    try {
      b = await readBody(call.req, maxBody, call.state.policy.timeouts.bodyMs);
    } catch (e) {
      const detail = `reading the request body: ${e?.message ?? e}`;
      return e?.name === "TimeoutError" ? fault("digital_signature", 408, "body_timeout", detail) : fault("digital_signature", 400, "malformed", detail);
    }
    if (b === null) return tooLarge(null);
    call.body = b;
    return b;
  }
  const pass = (c, place, fp, clientId, detail) => {
    const e = entry(c.kind, "pass");
    e.element = c.el.rendered[place].element;
    e.fingerprint = fp;
    e.client_id = clientId;
    e.detail = detail;
    return { kind: "pass", entry: e, identity: null, hide: [], headers: [] };
  };
  const needIdentity = () => fault("digital_signature", 500, "bad_policy", "Digital Signature needs an app identified by an earlier interceptor");

  if ((o.mode ?? "body") === "body") {
    const c = new Common("digital_signature", "digital_signature", o, docs, { defaultName: "signature", locations: ["header", "query"] });
    const alg = o.algorithm;
    const hmac = alg === "HmacSHA256";
    if (!hmac && !BODY_HASH[alg]) throw new Error(`digital_signature: ${alg} is not in the twin`);
    const rsaParams = { name: "RSASSA-PKCS1-v1_5", hash: BODY_HASH[alg] };
    const hmacParams = { name: "HMAC", hash: "SHA-256" };
    return {
      async check(call) {
        const id = call.identity;
        if (!id) return needIdentity();
        const x = c.extract(call);
        if (x.check) return x.check;
        const { value, place } = x;
        const fp = await fingerprint(value);
        const deny = (cause, detail) => c.deny(place, cause, detail, fp, id.clientId);
        const sig = base64Strict(value);
        if (!sig) {
          const hint = valueHint(value, place);
          return deny("malformed", `the signature is not standard base64 (with padding)${hint ? "; " + hint : ""}`);
        }
        const b = await body(call);
        if (!(b instanceof Uint8Array)) return b;
        let keys;
        if (hmac) {
          const secrets = (id.app.hmac_secrets ?? []).map((s) => [s.kid, b64any(s.secret_b64)]).filter(([, k]) => k && k.length);
          if (!secrets.length) return deny("unknown_key", "the app has no HMAC signing secret (hmac_secrets)");
          keys = secrets.map(([kid, k]) => importOnce(id.app, "hmac|" + kid, () => crypto.subtle.importKey("raw", k, hmacParams, false, ["verify"])));
        } else {
          const rsa = (id.app.signature_keys ?? []).filter((k) => ["RS256", "RS384", "RS512"].includes(k.alg) && spki(k.pem));
          if (!rsa.length) return deny("unknown_key", "the app has no RSA key for RSASSA-PKCS1-v1_5 (signature_keys with alg RS256/RS384/RS512)");
          keys = rsa.map((k) => importOnce(id.app, `rsa|${alg}|${k.kid}`, () => crypto.subtle.importKey("spki", spki(k.pem), rsaParams, false, ["verify"])));
        }
        const params = hmac ? hmacParams : rsaParams;
        // WebCrypto refusing the signature bytes is a bad signature, not a fault (as the Rust Worker).
        const results = await Promise.all(keys.map((p) => p.then((k) => (k ? crypto.subtle.verify(params, k, sig, b).catch(() => false) : false))));
        if (!results.includes(true)) {
          return deny("bad_signature", `the ${alg} signature over the body (${b.length} bytes) does not verify with any of the app's keys`);
        }
        return pass(c, place, fp, id.clientId, `${alg} over the body`);
      },
    };
  }

  // RFC 9421 (HTTP Message Signatures), without the nonce store.
  if (o.require_nonce !== false) throw new Error("digital_signature: the twin has no nonce store (require_nonce = false only)");
  const c = new Common("digital_signature", "digital_signature", o, docs, { defaultName: "Signature", fixed: true });
  const algorithms = o.algorithms ?? Object.keys(HTTPSIG);
  const requiredComponents = (o.required_components ?? ["@method", "@target-uri"]).map((s) => s.toLowerCase());
  const digestRequired = o.require_content_digest !== false;
  const maxAge = o.max_age_seconds ?? 300;
  const skew = o.clock_skew_seconds ?? 30;
  return {
    async check(call) {
      const id = call.identity;
      if (!id) return needIdentity();
      const place = "header";
      const req = call.req;
      const input = req.headers.get("signature-input");
      const sigField = req.headers.get("signature");
      const deny = (cause, detail, fp) => c.deny(place, cause, detail, fp, id.clientId);
      if (input === null || sigField === null) return deny("missing", "Signature and Signature-Input are both required");
      const fp = await fingerprint(sigField);
      const parsed = parseSignatureInput(input);
      if (!parsed) return deny("malformed", "Signature-Input is not a dictionary of inner lists", fp);
      const signature = dictionaryBytes(sigField, parsed.label);
      if (!signature) return deny("malformed", `no signature ${quoted(parsed.label)} in Signature`, fp);
      const covered = parsed.components;
      const p = parsed.params;
      const method = req.method;
      let bodyPresence;
      if (!digestRequired || covered.includes("content-digest") || method === "GET" || method === "HEAD") bodyPresence = false;
      else {
        const cl = req.headers.get("content-length");
        if (cl !== null) bodyPresence = !/^\d+$/.test(cl) || Number(cl) > 0;
        else bodyPresence = req.headers.get("transfer-encoding") !== null ? true : null;
      }
      const missing = requiredComponents.filter((r) => !covered.includes(r));
      if (bodyPresence === true) missing.push("content-digest");
      if (missing.length) return deny("missing_component", `signature ${quoted(parsed.label)} does not cover ${JSON.stringify(missing)}`, fp);
      const now = call.nowS;
      if (typeof p.created !== "number") return deny("malformed", "the signature has no created parameter", fp);
      if (p.created > now + skew) return deny("clock_skew", `created is ${p.created - now}s in the future (allowed skew ${skew}s)`, fp);
      if (now - p.created > maxAge + skew) return deny("expired", `created ${now - p.created}s ago; max_age_seconds is ${maxAge}`, fp);
      if (typeof p.expires === "number" && p.expires + skew < now) return deny("expired", `expired ${now - p.expires}s ago`, fp);
      if (p.nonce !== undefined && (p.nonce === "" || p.nonce.length > 256)) return deny("malformed", "the nonce must be 1 to 256 characters", fp);
      if (typeof p.keyid !== "string") return deny("unknown_key", "the signature has no keyid", fp);
      const k = (id.app.signature_keys ?? []).find((x) => x.kid === p.keyid);
      const name = k && Object.keys(HTTPSIG).find((n) => HTTPSIG[n].alg === k.alg);
      if (!name) return deny("unknown_key", `the app has no key with kid ${quoted(p.keyid)}`, fp);
      if (p.alg !== undefined && p.alg !== name) return deny("alg_not_allowed", `alg ${quoted(p.alg)} does not match key ${quoted(p.keyid)}, which is pinned to ${name}`, fp);
      if (!algorithms.includes(name)) return deny("alg_not_allowed", `${name} is not among the allowed algorithms`, fp);
      // The signature base.
      let base = "";
      for (const comp of covered) {
        let v;
        if (comp === "@method") v = method;
        else if (comp === "@target-uri") v = req.url.split("#")[0];
        else if (comp.startsWith("@")) return deny("malformed", `${comp} is not supported by the twin`, fp);
        else {
          v = req.headers.get(comp);
          if (v === null) return deny("missing_component", `${quoted(comp)} is covered but absent`, fp);
          v = v.trim();
        }
        base += `"${comp}": ${v}\n`;
      }
      base += `"@signature-params": ${parsed.raw}`;
      // The body (when content-digest covers it) and the verdict, in one round.
      const alg = HTTPSIG[name];
      const keyP = importOnce(id.app, `9421|${k.kid}`, () => crypto.subtle.importKey("spki", spki(k.pem), alg.imp, false, ["verify"]));
      const verdictP = keyP.then((key) => (key ? crypto.subtle.verify(alg.wc, key, signature, utf8(base)).catch(() => false) : Promise.reject(new Error("the key cannot be imported"))));
      const needBody = bodyPresence === null || covered.includes("content-digest");
      let b, valid;
      try {
        [b, valid] = await Promise.all([needBody ? body(call) : null, verdictP]);
      } catch (e) {
        return fault(c.kind, 500, "bad_key", String(e?.message ?? e));
      }
      if (b !== null && !(b instanceof Uint8Array)) return b;
      if (bodyPresence === null && b.length > 0) {
        return deny("missing_component", `signature ${quoted(parsed.label)} does not cover content-digest and the request has a body (${b.length} bytes)`, fp);
      }
      if (covered.includes("content-digest")) {
        const why = await contentDigestProblem(req.headers.get("content-digest") ?? "", b);
        if (why) return deny("digest_mismatch", why, fp);
      }
      if (!valid) return deny("bad_signature", `signature ${quoted(parsed.label)} (${name}) does not verify with key ${quoted(p.keyid)}`, fp);
      return pass(c, place, fp, id.clientId, `${name} signature ${quoted(parsed.label)} by key ${quoted(p.keyid)}`);
    },
  };
}

const KEY = /^[a-z*][a-z0-9_\-.*]*/;
/**
 * The first member of Signature-Input: `label=("c1" "c2");created=1;keyid="k"`: its label,
 * components (plain strings; component parameters are not in the twin), parameters and the raw
 * text after `label=` (the signature base's last line).
 */
function parseSignatureInput(field) {
  const s = field.trim();
  const lm = KEY.exec(s);
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
    if (!m) return null;
    components.push(m[1]);
    i += m[0].length;
    if (s[i] !== " " && s[i] !== ")") return null;
  }
  const params = {};
  while (s[i] === ";") {
    const m = /^;([a-z*][a-z0-9_\-.*]*)=(?:(-?\d{1,15})|"((?:[\x20-\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)")/.exec(s.slice(i));
    if (!m) return null;
    params[m[1]] = m[2] !== undefined ? Number(m[2]) : m[3].replace(/\\(["\\])/g, "$1");
    i += m[0].length;
  }
  const end = s.indexOf(",", i);
  if (s.slice(i, end === -1 ? s.length : end).trim() !== "") return null;
  return { label: lm[0], components, params, raw: s.slice(lm[0].length + 1, i) };
}

/** The byte sequence of member `label` of a dictionary field (`label=:base64:`). */
function dictionaryBytes(field, label) {
  for (const member of field.split(",")) {
    const m = /^\s*([a-z*][a-z0-9_\-.*]*)=:([A-Za-z0-9+/]*={0,2}):\s*$/.exec(member);
    if (m && m[1] === label) return base64Strict(m[2]);
  }
  return null;
}

/** Content-Digest (RFC 9530) against the body: why not, or null. */
async function contentDigestProblem(field, b) {
  let found = false;
  const names = [];
  for (const member of field.split(",")) {
    const m = /^\s*([a-z*][a-z0-9_\-.*]*)=:([A-Za-z0-9+/]*={0,2}):\s*$/.exec(member);
    if (!m) return "malformed Content-Digest: not a dictionary of byte sequences";
    names.push(m[1]);
    const hash = { "sha-256": "SHA-256", "sha-512": "SHA-512" }[m[1]];
    if (!hash) continue;
    const want = base64Strict(m[2]);
    const got = new Uint8Array(await crypto.subtle.digest(hash, b));
    if (!want || want.length !== got.length) return `Content-Digest ${m[1]} does not match the body`;
    let d = 0;
    for (let j = 0; j < got.length; j++) d |= got[j] ^ want[j];
    if (d !== 0) return `Content-Digest ${m[1]} does not match the body`;
    found = true;
  }
  return found ? null : `Content-Digest has no supported algorithm (got ${JSON.stringify(names)}; expected sha-256 or sha-512)`;
}

export default gateway({
  oauth,
  access_token: accessToken,
  client_id: clientId,
  client_id_secret_encoded: clientIdSecretEncoded,
  jwt,
  digital_signature: digitalSignature,
});

