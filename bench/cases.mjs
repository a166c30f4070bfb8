// The cases bench/compare.mjs (and bench/cold.mjs) measure: for each, the policy both Workers run,
// the KV records they share, and the requests wrk sends. Every Worker of a case gets the same
// policy of APIS APIs (default 15): APIS-1 filler APIs with the four identifying interceptors in
// turn, then the tested API `orders` — whose base path is the shortest, so it comes LAST in the
// order both Workers try APIs (longest base path first).

import { createHash, createHmac, createPrivateKey, generateKeyPairSync, randomBytes, randomUUID, sign as cryptoSign } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { REPO, requestLine } from "./lib.mjs";

const { signBody, signRequest } = await import(path.join(REPO, "scripts/sign-request.mjs"));

export const CLIENT_ID = "bench-app";
export const CLIENT_SECRET = "bench-secret-0001";
export const TOKEN = "bench-token-0001";
export const UNKNOWN_TOKEN = "bench-token-unknown-9999";
export const ISSUER = "https://idp.bench.example";
export const REQ_PATH = "/orders/x";
/** The cases with a floor (FLOOR=1, bench/workers/floor.js): passes whose work is the glue's. */
export const FLOOR_CASES = ["oauth", "oauth-notrace", "oauth-many", "access-token", "basic", "jwt-repeated"];
const sha256hex = (s) => createHash("sha256").update(s).digest("hex");
const b64url = (x) => Buffer.from(x).toString("base64url");

export const DENIALS = {
  token: "Access Token in the request, identified by HEADER access_token, is invalid. Check docs.sensedia.com",
  jwt: "JWT in the request, identified by HEADER Authorization, is invalid. Check docs.sensedia.com",
  basic: "Client Id in the request, identified by HEADER Authorization, is invalid. Check docs.sensedia.com",
  signature: "Digital Signature in the request, identified by HEADER signature, is invalid. Check docs.sensedia.com",
  signature9421: "Digital Signature in the request, identified by HEADER Signature, is invalid. Check docs.sensedia.com",
};

/**
 * Keys, records and the pools of distinct inputs, made once per benchmark run.
 * `opts`: { manyTokens, jwtAlg, bodyBytes }.
 */
export function material({ manyTokens = 1000, jwtAlg = "ES256", bodyBytes = 1024, apis = 15 } = {}) {
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const rfc = JSON.parse(fs.readFileSync(path.join(REPO, "tests/fixtures/rfc9421/keys.json"), "utf8")).keys;
  const jwtKeys = JSON.parse(fs.readFileSync(path.join(REPO, "tests/fixtures/jwt-keys.json"), "utf8"));
  const fixture = { HS256: jwtKeys.hs256, ES256: jwtKeys.p256, EdDSA: jwtKeys.ed25519, RS256: jwtKeys.rsa };
  if (!fixture[jwtAlg]) throw new Error(`JWT_ALG=${jwtAlg}: one of ${Object.keys(fixture).join(", ")}`);
  const hmacSecret = randomBytes(32);
  const manyTokenList = Array.from({ length: manyTokens }, (_, i) => `bench-token-m-${String(i).padStart(6, "0")}-${randomUUID()}`);
  const { d, p, q, dp, dq, qi, ...publicJwk } = fixture[jwtAlg];
  const kv = {
    [`app:${CLIENT_ID}`]: {
      name: "Bench",
      status: "APPROVED",
      revoked: false,
      access: [{ api: "orders" }, ...Array.from({ length: apis - 1 }, (_, i) => ({ api: filler(i + 1).name }))],
      client_secret_sha256: sha256hex(CLIENT_SECRET),
      extra_info: { tier: "gold" },
      signature_keys: [
        { kid: "body-rsa", alg: "RS256", pem: rsa.publicKey.export({ type: "spki", format: "pem" }) },
        { kid: "test-key-ed25519", alg: "EdDSA", pem: rfc["test-key-ed25519"].public_spki_pem },
      ],
      hmac_secrets: [{ kid: "body-hmac", secret_b64: hmacSecret.toString("base64") }],
    },
    [`token:${sha256hex(TOKEN)}`]: { client_id: CLIENT_ID, revoked: false },
    [`jwt-issuer:${ISSUER}`]: { keys: [{ ...publicJwk, kid: jwtAlg.toLowerCase(), alg: jwtAlg }] },
  };
  // The many-tokens case's records, seeded only where that case runs.
  const manyKv = {};
  for (const t of manyTokenList) manyKv[`token:${sha256hex(t)}`] = { client_id: CLIENT_ID, revoked: false };

  const jwtSigner = {
    HS256: (input) => createHmac("sha256", Buffer.from(fixture.HS256.k, "base64url")).update(input).digest(),
    ES256: ((k) => (input) => cryptoSign("sha256", Buffer.from(input), { key: k, dsaEncoding: "ieee-p1363" }))(jwtAlg === "ES256" ? createPrivateKey({ key: fixture.ES256, format: "jwk" }) : null),
    EdDSA: ((k) => (input) => cryptoSign(null, Buffer.from(input), k))(jwtAlg === "EdDSA" ? createPrivateKey({ key: fixture.EdDSA, format: "jwk" }) : null),
    RS256: ((k) => (input) => cryptoSign("sha256", Buffer.from(input), k))(jwtAlg === "RS256" ? createPrivateKey({ key: fixture.RS256, format: "jwk" }) : null),
  }[jwtAlg];
  /** A JWT the issuer signed now: valid for an hour, with a jti (read for revocation). */
  const jwt = (i) => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: jwtAlg, typ: "JWT", kid: jwtAlg.toLowerCase() }));
    const claims = { iss: ISSUER, sub: `user-${i}`, aud: "orders", iat: now, exp: now + 3600, jti: `${i}-${randomUUID()}` };
    const input = `${header}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${b64url(jwtSigner(input))}`;
  };

  /** A ~bodyBytes JSON body, distinct by `n`. */
  const body = (n) => {
    const o = { order: `bench-${n}`, currency: "BRL", items: [] };
    for (let i = 0; JSON.stringify(o).length < bodyBytes - 60; i++) o.items.push({ sku: `SKU-${1000 + i}`, qty: 1 + (i % 3), price: 9.9 + i });
    let s = JSON.stringify(o);
    s = s.slice(0, -1) + `,"pad":"${"x".repeat(Math.max(0, bodyBytes - s.length - 9))}"}`;
    return s;
  };
  // Key objects made once (parsing a PEM per signature would dominate the signing time).
  const ed25519 = createPrivateKey(rfc["test-key-ed25519"].private_pem);
  return {
    kv,
    manyKv,
    manyTokenList,
    jwtAlg,
    jwt,
    body,
    signBody: (alg, b) => signBody({ algorithm: alg, key: alg === "HmacSHA256" ? hmacSecret : rsa.privateKey, body: b }),
    sign9421: (url, b) =>
      signRequest({
        method: "POST",
        url,
        headers: { "content-type": "application/json" },
        body: b,
        alg: "ed25519",
        keyid: "test-key-ed25519",
        key: ed25519,
        components: ["@method", "@target-uri", "content-digest"],
        nonce: null,
      }),
  };
}

/** Filler API `i` (1-based): base paths longer than /orders, the four identifying types in turn. */
export function filler(i) {
  const types = ["oauth", "access_token", "client_id", "client_id_secret_encoded"];
  const n = String(i).padStart(2, "0");
  return { name: `catalog-${n}`, base_path: `/catalog-${n}`, type: types[i % types.length] };
}

/** The policy of a case: APIS-1 fillers, then the tested API `orders` (last in routing order). */
export function policy(kase, originUrl, apis = 15) {
  const list = [];
  for (let i = 1; i < apis; i++) {
    const f = filler(i);
    list.push({ name: f.name, base_path: f.base_path, origin: `${originUrl}/${f.name}-backend`, interceptors: [{ type: f.type }] });
  }
  list.push({ name: "orders", base_path: "/orders", origin: `${originUrl}/orders-backend`, interceptors: kase.interceptors });
  return { trace: { sample_passing: kase.sample ?? 1 }, apis: list };
}

const GET = (headers) => ({ method: "GET", body: "", headers });
const oauthHeaders = (token) => [["client_id", CLIENT_ID], ["access_token", token]];
const basic = (id, secret) => "Basic " + Buffer.from(`${id}:${secret}`).toString("base64");

/**
 * The cases. Each: id, label, kind ("glue" | "crypto": the item-2 target ≤ 0.85× / ≤ 0.95× the
 * twin's CPU), interceptors, sample (sample_passing), logging (LOGGING to the sink), expect (the
 * status every measured answer has), denial (the 401 body), and how its requests are made:
 *  - `request(m)`: one request, repeated (records cached: the warm path);
 *  - `pool(m, i)`: request i of a pool made once (distinct inputs; wrapping round is harmless:
 *    neither Worker keeps anything per input beyond the record cache, see `note`);
 *  - `fresh(m, i, url)`: request i made just before each run (every request of a run distinct,
 *    never reused across runs: a token seen before would be decided from a verdict cache);
 *  - `bad(m)`: a request that must be refused (the probe checks both refuse it alike).
 */
export const CASES = [
  {
    id: "oauth",
    label: "OAuth pass, trace on (default)",
    kind: "glue",
    bareTarget: 1.2,
    interceptors: [{ type: "oauth" }],
    sample: 1,
    expect: 200,
    denial: DENIALS.token,
    request: () => GET(oauthHeaders(TOKEN)),
    bad: () => GET(oauthHeaders(TOKEN + "x")),
  },
  {
    id: "oauth-notrace",
    label: "OAuth pass, sample_passing = 0",
    kind: "glue",
    interceptors: [{ type: "oauth" }],
    sample: 0,
    expect: 200,
    denial: DENIALS.token,
    request: () => GET(oauthHeaders(TOKEN)),
    bad: () => GET(oauthHeaders(TOKEN + "x")),
  },
  {
    id: "oauth-many",
    label: "OAuth pass, many tokens in turn (TOKENS, default 1,000), trace on",
    kind: "glue",
    interceptors: [{ type: "oauth" }],
    sample: 1,
    expect: 200,
    denial: DENIALS.token,
    kv: (m) => ({ ...m.kv, ...m.manyKv }),
    poolSize: (m) => m.manyTokenList.length,
    pool: (m, i) => GET(oauthHeaders(m.manyTokenList[i % m.manyTokenList.length])),
    note: "records cached (30 s TTL: each token's record is read again every 30 s on both sides)",
    bad: () => GET(oauthHeaders(TOKEN + "x")),
  },
  {
    id: "oauth-deny",
    label: "OAuth deny, unknown token",
    kind: "glue",
    interceptors: [{ type: "oauth" }],
    sample: 1,
    expect: 401,
    denial: DENIALS.token,
    request: () => GET(oauthHeaders(UNKNOWN_TOKEN)),
    bad: () => GET(oauthHeaders(UNKNOWN_TOKEN)),
  },
  {
    id: "access-token",
    label: "Access Token pass",
    kind: "glue",
    interceptors: [{ type: "access_token" }],
    sample: 1,
    expect: 200,
    denial: DENIALS.token,
    request: () => GET([["access_token", TOKEN]]),
    bad: () => GET([["access_token", UNKNOWN_TOKEN]]),
  },
  {
    id: "basic",
    label: "Basic (Client ID Secret Encoded) pass",
    kind: "glue",
    interceptors: [{ type: "client_id_secret_encoded" }],
    sample: 1,
    expect: 200,
    denial: DENIALS.basic,
    request: () => GET([["Authorization", basic(CLIENT_ID, CLIENT_SECRET)]]),
    bad: () => GET([["Authorization", basic(CLIENT_ID, CLIENT_SECRET + "x")]]),
  },
  {
    id: "jwt-repeated",
    label: "JWT pass, one token repeated (both keep verdicts)",
    kind: "glue",
    interceptors: [{ type: "jwt", audiences: ["orders"], check_jti: true, issuers: [{ issuer: ISSUER, algorithms: null }] }],
    sample: 1,
    expect: 200,
    denial: DENIALS.jwt,
    request: (m) => GET([["Authorization", `Bearer ${(m.repeatedJwt ??= m.jwt(0))}`]]),
    bad: (m) => GET([["Authorization", `Bearer ${m.jwt(0).slice(0, -4)}AAAA`]]),
  },
  {
    id: "jwt-distinct",
    label: "JWT pass, every token new (jose vs WebCrypto)",
    kind: "crypto",
    interceptors: [{ type: "jwt", audiences: ["orders"], check_jti: true, issuers: [{ issuer: ISSUER, algorithms: null }] }],
    sample: 1,
    expect: 200,
    denial: DENIALS.jwt,
    fresh: (m, i) => GET([["Authorization", `Bearer ${m.jwt(i + 1)}`]]),
    bad: (m) => GET([["Authorization", `Bearer ${m.jwt(0).slice(0, -4)}AAAA`]]),
  },
  {
    id: "sig-rsa",
    label: "Digital Signature body SHA256withRSA, distinct bodies",
    kind: "crypto",
    interceptors: [{ type: "client_id" }, { type: "digital_signature", algorithm: "SHA256withRSA" }],
    sample: 1,
    expect: 200,
    denial: DENIALS.signature,
    poolSize: () => "SIG_POOL",
    pool: (m, i) => signedBody(m, "SHA256withRSA", i),
    note: "distinct bodies from a pool (neither Worker keeps a verdict on a body signature)",
    bad: (m) => {
      const r = signedBody(m, "SHA256withRSA", 0);
      r.body = r.body.replace("bench-0", "bench-X");
      return r;
    },
  },
  {
    id: "sig-hmac",
    label: "Digital Signature body HmacSHA256, distinct bodies",
    kind: "glue",
    interceptors: [{ type: "client_id" }, { type: "digital_signature", algorithm: "HmacSHA256" }],
    sample: 1,
    expect: 200,
    denial: DENIALS.signature,
    poolSize: () => "SIG_POOL",
    pool: (m, i) => signedBody(m, "HmacSHA256", i),
    note: "distinct bodies from a pool (neither Worker keeps a verdict on a body signature)",
    bad: (m) => {
      const r = signedBody(m, "HmacSHA256", 0);
      r.body = r.body.replace("bench-0", "bench-X");
      return r;
    },
  },
  {
    id: "sig-ed25519",
    label: "Digital Signature RFC 9421 ed25519, no nonce store, distinct",
    kind: "crypto",
    interceptors: [
      { type: "client_id" },
      { type: "digital_signature", mode: "http_message_signatures", algorithms: ["ed25519"], require_nonce: false },
    ],
    sample: 1,
    expect: 200,
    denial: DENIALS.signature9421,
    fresh: (m, i, url) => signed9421(m, url, i),
    signsUrl: true,
    bad: (m, url) => {
      const r = signed9421(m, url, 0);
      r.body = r.body.replace("bench-0", "bench-X");
      return r;
    },
  },
  {
    id: "ship",
    label: "OAuth pass, trace shipped (LOGGING NDJSON to a local sink)",
    kind: "glue",
    interceptors: [{ type: "oauth" }],
    sample: 1,
    logging: true,
    expect: 200,
    denial: DENIALS.token,
    request: () => GET(oauthHeaders(TOKEN)),
    bad: () => GET(oauthHeaders(TOKEN + "x")),
  },
];

function signedBody(m, alg, i) {
  const body = m.body(i);
  return {
    method: "POST",
    body,
    headers: [["client_id", CLIENT_ID], ["content-type", "application/json"], ["signature", m.signBody(alg, body)]],
  };
}

function signed9421(m, url, i) {
  const body = m.body(i);
  const s = m.sign9421(url, body);
  return {
    method: "POST",
    body,
    headers: [
      ["client_id", CLIENT_ID],
      ["content-type", "application/json"],
      ["content-digest", s["Content-Digest"]],
      ["signature-input", s["Signature-Input"]],
      ["signature", s.Signature],
    ],
  };
}

/** Fills in what depends on the run's settings (the JWT algorithm). */
export function prepare(kase, m) {
  for (const i of kase.interceptors) if (i.type === "jwt") i.issuers[0].algorithms = [m.jwtAlg];
  return kase;
}

/** A request as one REQUESTS_LUA line, for a Worker at `url` (path `p`). */
export function line(r, p = REQ_PATH) {
  return requestLine(r.method, p, r.body, r.headers);
}
