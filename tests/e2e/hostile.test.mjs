// Hostile requests end to end: a seeded generator of well over 1,000 requests an attacker could
// send — oversized and duplicated headers, odd encodings, ids past KV's 512-byte key limit,
// malformed Basic credentials, JWTs and signatures of every algorithm and length, pathological
// structured fields, bodies over limits, path tricks — against one gateway that runs every
// interceptor. For each request: never a 5xx (every answer is one the docs list for a client's
// mistake), never a pass without valid credentials, the origin untouched; and valid requests of
// every kind still pass between the batches and at the end.
//
// Deterministic: the cases come from a seeded PRNG (HOSTILE_SEED, default below); a failure
// names its seed, case number, category and what was sent, so it reproduces with
// `HOSTILE_SEED=<seed> node --test tests/e2e/hostile.test.mjs`. HOSTILE_ONLY=<category> runs one
// category.

import { createHmac, createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { CompactSign, importJWK } from 'jose';
import {
  HOOK_TIMEOUT,
  REPO,
  appKey,
  appRecord,
  assert,
  sha256hex,
  startGateway,
  startOrigin,
  tokenKey,
  tokenRecord,
} from './harness.mjs';
import { SECRET, makeToken } from './gentoken.mjs';
import { contentDigest, signBody, signRequest } from '../../scripts/sign-request.mjs';

const SEED = Number(process.env.HOSTILE_SEED ?? 20261207);
const ONLY = process.env.HOSTILE_ONLY ?? null;
const H = { timeout: HOOK_TIMEOUT };

// ---------------------------------------------------------------------------------------------
// A seeded PRNG (mulberry32): the same seed, the same requests.

function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (n) => Math.floor(next() * n),
    pick: (list) => list[Math.floor(next() * list.length)],
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
      return b;
    },
    /** Printable ASCII (no control characters), as a header value may hold. */
    ascii: (n) => {
      let s = '';
      for (let i = 0; i < n; i++) s += String.fromCharCode(0x20 + Math.floor(next() * 95));
      return s;
    },
    /** Latin-1 text (node:http writes header strings as Latin-1 bytes). */
    latin1: (n) => {
      let s = '';
      for (let i = 0; i < n; i++) {
        const c = Math.floor(next() * 0xe0) + 0x20;
        s += String.fromCharCode(c === 0x7f ? 0x7e : c);
      }
      return s;
    },
  };
  return r;
}

// ---------------------------------------------------------------------------------------------
// Keys, records and the policy

const FIX = JSON.parse(readFileSync(path.join(REPO, 'tests/fixtures/jwt-keys.json'), 'utf8'));
const RFC_KEYS = JSON.parse(readFileSync(path.join(REPO, 'tests/fixtures/rfc9421/keys.json'), 'utf8')).keys;
const JWT_ALGS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'EdDSA'];
const BODY_ALGS = ['SHA1withRSA', 'SHA224withRSA', 'SHA256withRSA', 'SHA384withRSA', 'SHA512withRSA', 'HmacSHA256'];
const RFC_ALGS = {
  'rsa-v1_5-sha256': 'test-key-rsa',
  'rsa-pss-sha512': 'test-key-rsa-pss',
  'ecdsa-p256-sha256': 'test-key-ecc-p256',
  ed25519: 'test-key-ed25519',
  'hmac-sha256': 'test-shared-secret',
};
const ISS = 'https://idp.hostile.example';
const APP = 'hostile-app';
const APP_SECRET = 'hostile-secret-0123';
const TOKEN = 'hostile-token-0123456789';
const BODY_HMAC = Buffer.from('hostile-body-hmac-secret-0123456789abcdef');
const BODY_RSA = createPrivateKey({ key: FIX.rsa, format: 'jwk' });
const BODY_RSA_PEM = createPublicKey(BODY_RSA).export({ type: 'spki', format: 'pem' });

const privateJwk = (alg) =>
  alg.startsWith('HS') ? FIX[alg.toLowerCase()] : alg.startsWith('RS') || alg.startsWith('PS') ? FIX.rsa : alg === 'ES256' ? FIX.p256 : FIX.ed25519;
const publicJwk = (jwk) => {
  if (jwk.kty === 'oct') return { ...jwk };
  const { d, p, q, dp, dq, qi, ...pub } = jwk;
  return pub;
};

const slug = (a) => a.toLowerCase();
const APIS = {
  oauth: [{ type: 'oauth' }],
  at: [{ type: 'access_token', location: 'any' }],
  cid: [{ type: 'client_id', location: 'any' }],
  basic: [{ type: 'client_id_secret_encoded' }],
  jwt: [{ type: 'jwt', issuers: [{ issuer: ISS, algorithms: JWT_ALGS }], audiences: ['hostile'] }],
  hms: [{ type: 'client_id' }, { type: 'digital_signature', mode: 'http_message_signatures', max_body_bytes: 4096 }],
  'body-small': [{ type: 'client_id' }, { type: 'digital_signature', algorithm: 'HmacSHA256', max_body_bytes: 64 }],
  csrf: [{ type: 'client_id' }, { type: 'csrf' }],
  tt: [{ type: 'time_token' }],
  ...Object.fromEntries(BODY_ALGS.map((a) => [`body-${slug(a)}`, [{ type: 'client_id' }, { type: 'digital_signature', algorithm: a }]])),
};

function makePolicy(originUrl) {
  const apis = Object.entries(APIS).map(([name, interceptors]) => ({
    name,
    base_path: `/${name}`,
    origin: `${originUrl}/be/${name}`,
    interceptors,
  }));
  // An API whose app is granted one resource only: path tricks must not reach the others.
  apis.push({
    name: 'orders',
    base_path: '/orders',
    origin: `${originUrl}/be/orders`,
    interceptors: [{ type: 'oauth' }],
    resources: [
      { name: 'list', path: '/list', methods: ['GET'] },
      { name: 'admin', path: '/admin/*' },
      { name: 'one', path: '/{id}', methods: ['GET', 'DELETE'] },
    ],
  });
  return { apis };
}

function records() {
  const access = [...Object.keys(APIS).map((api) => ({ api })), { api: 'orders', resources: ['list'] }];
  return {
    [appKey(APP)]: appRecord({
      access,
      client_secret_sha256: sha256hex(APP_SECRET),
      signature_keys: [
        { kid: 'body-rsa', alg: 'RS256', pem: BODY_RSA_PEM },
        ...Object.entries(RFC_ALGS)
          .filter(([, kid]) => RFC_KEYS[kid].public_spki_pem)
          .map(([alg, kid]) => ({ kid, alg: { 'rsa-v1_5-sha256': 'RS256', 'rsa-pss-sha512': 'PS512', 'ecdsa-p256-sha256': 'ES256', ed25519: 'EdDSA' }[alg], pem: RFC_KEYS[kid].public_spki_pem })),
      ],
      hmac_secrets: [
        { kid: 'body-hmac', secret_b64: BODY_HMAC.toString('base64') },
        { kid: 'test-shared-secret', secret_b64: RFC_KEYS['test-shared-secret'].secret_base64 },
      ],
    }),
    [tokenKey(TOKEN)]: tokenRecord({ client_id: APP }),
    [`jwt-issuer:${ISS}`]: { keys: JWT_ALGS.map((alg) => ({ ...publicJwk(privateJwk(alg)), kid: slug(alg), alg })) },
  };
}

// ---------------------------------------------------------------------------------------------
// Credentials, valid and not

const b64u = (b) => Buffer.from(b).toString('base64url');
const nowS = () => Math.floor(Date.now() / 1000);
const basic = (s) => `Basic ${Buffer.from(s).toString('base64')}`;

/** An HS* JWT over `header`/`payload` (objects or raw text), signed with the issuer's key. */
function hsJwt(alg, payload, header = { alg, kid: slug(alg), typ: 'JWT' }) {
  const h = b64u(typeof header === 'string' ? header : JSON.stringify(header));
  const p = b64u(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const key = Buffer.from(FIX[slug(alg)].k, 'base64url');
  const sig = createHmac(`sha${alg.slice(2)}`, key).update(`${h}.${p}`).digest();
  return `${h}.${p}.${b64u(sig)}`;
}
const goodClaims = (patch = {}) => ({ iss: ISS, aud: 'hostile', sub: 'alice', iat: nowS() - 5, exp: nowS() + 600, ...patch });

async function asymJwt(alg, payload) {
  const k = await importJWK(privateJwk(alg), alg);
  return new CompactSign(Buffer.from(JSON.stringify(payload))).setProtectedHeader({ alg, kid: slug(alg), typ: 'JWT' }).sign(k);
}

function rfcKey(kid) {
  const k = RFC_KEYS[kid];
  return k.secret_base64 ? Buffer.from(k.secret_base64, 'base64') : k.private_pem;
}

const csrfToken = () =>
  makeToken(SECRET, { kind: 'csrf', api: 'csrf', place: 'HEADER', name: 'csrf_token', time: Date.now() + 600_000, bound: [APP, null] });
const timeToken = () => makeToken(SECRET, { kind: 'time', api: 'tt', place: 'HEADER', name: 'time_token', time: Date.now(), bound: [null] });

// ---------------------------------------------------------------------------------------------
// Sending

let origin;
let gw;
let host;

/** One raw HTTP/1.1 request; resolves to {status, text} or {error}. Never rejects. */
function send({ method = 'GET', path: p, headers = [], body, chunked = false }) {
  const flat = [];
  for (const [k, v] of [['Host', host], ...headers]) flat.push(k, v);
  if (body != null && !chunked) flat.push('Content-Length', String(Buffer.byteLength(body)));
  const u = new URL(gw.url);
  return new Promise((resolve) => {
    let req;
    try {
      req = http.request({ host: u.hostname, port: u.port, method, path: p, headers: flat, agent: false, insecureHTTPParser: true }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', (e) => resolve({ error: String(e) }));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      });
    } catch (e) {
      resolve({ error: `not sendable: ${e.message}` });
      return;
    }
    req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
    req.on('error', (e) => resolve({ error: String(e) }));
    if (body != null) req.write(body);
    req.end();
  });
}

/** The valid requests: every kind of credential, each must still pass. */
async function validRequests() {
  const hmsUrl = `http://${host}/hms/items?x=1`;
  const hmsBody = '{"valid":true}';
  const hmsHeaders = { 'content-type': 'application/json' };
  const signed = signRequest({
    method: 'POST', url: hmsUrl, headers: hmsHeaders, body: hmsBody, alg: 'ed25519', keyid: 'test-key-ed25519',
    key: rfcKey('test-key-ed25519'), nonce: randomBytes(12).toString('base64url'),
  });
  const bodyMsg = '{"order":1}';
  return [
    { what: 'oauth', path: '/oauth/x', headers: [['client_id', APP], ['access_token', TOKEN]] },
    { what: 'access token in the query', path: `/at/x?access_token=${TOKEN}` },
    { what: 'client id in a cookie', path: '/cid/x', headers: [['Cookie', `client_id=${APP}`]] },
    { what: 'basic', path: '/basic/x', headers: [['Authorization', basic(`${APP}:${APP_SECRET}`)]] },
    { what: 'jwt HS256', path: '/jwt/x', headers: [['Authorization', `Bearer ${hsJwt('HS256', goodClaims())}`]] },
    { what: 'jwt EdDSA', path: '/jwt/x', headers: [['Authorization', `Bearer ${await asymJwt('EdDSA', goodClaims())}`]] },
    { what: 'granted resource', path: '/orders/list', headers: [['client_id', APP], ['access_token', TOKEN]] },
    {
      what: 'RFC 9421 ed25519',
      method: 'POST',
      path: '/hms/items?x=1',
      headers: [['client_id', APP], ...Object.entries({ ...hmsHeaders, ...signed })],
      body: hmsBody,
    },
    {
      what: 'body signature HmacSHA256',
      method: 'POST',
      path: '/body-small/x',
      headers: [['client_id', APP], ['Signature', signBody({ algorithm: 'HmacSHA256', key: BODY_HMAC, body: bodyMsg })]],
      body: bodyMsg,
    },
    {
      what: 'body signature SHA256withRSA',
      method: 'POST',
      path: '/body-sha256withrsa/x',
      headers: [['client_id', APP], ['Signature', signBody({ algorithm: 'SHA256withRSA', key: BODY_RSA, body: bodyMsg })]],
      body: bodyMsg,
    },
    { what: 'csrf', method: 'POST', path: '/csrf/x', headers: [['client_id', APP], ['csrf_token', csrfToken()]] },
    { what: 'time token', path: '/tt/x', headers: [['time_token', timeToken()]] },
  ];
}

// ---------------------------------------------------------------------------------------------
// The generator. Each case: {cat, desc, method, path, headers, body, chunked, mayPass}.
// mayPass: the request does carry valid credentials (odd but valid); it may pass (then the
// origin must see it exactly once) or be refused, never a 5xx.

const CREDENTIAL_APIS = ['oauth', 'at', 'cid', 'basic', 'jwt', 'hms', 'csrf', 'tt', 'orders'];
const LENGTHS = [0, 1, 2, 3, 15, 16, 31, 32, 33, 47, 48, 63, 64, 65, 96, 127, 128, 129, 255, 256, 257, 383, 384, 511, 512, 513, 1023, 1024];

async function generate(r) {
  const cases = [];
  const add = (cat, desc, req) => cases.push({ cat, desc, method: 'GET', headers: [], ...req });
  const junk = () => r.pick([r.ascii(r.int(40) + 1), r.latin1(r.int(40) + 1), b64u(r.bytes(r.int(64))), `${TOKEN}${r.ascii(3)}`, '', ' ', '%00', '\t']);

  // --- oversized headers
  for (const size of [4095, 4096, 4097, 8192, 16_384, 32_768, 65_000]) {
    add('oversized headers', `client_id of ${size} bytes`, { path: '/cid/x', headers: [['client_id', 'a'.repeat(size)]] });
    add('oversized headers', `access_token of ${size} bytes`, { path: '/oauth/x', headers: [['client_id', APP], ['access_token', r.ascii(size).replace(/ /g, 'x')]] });
    add('oversized headers', `Bearer token of ${size} bytes`, { path: '/jwt/x', headers: [['Authorization', `Bearer ${'e'.repeat(size)}`]] });
    add('oversized headers', `Basic of ${size} bytes`, { path: '/basic/x', headers: [['Authorization', basic(`${APP}:${'s'.repeat(size)}`)]] });
    add('oversized headers', `Signature-Input of ${size} bytes`, {
      method: 'POST', path: '/hms/x', body: '{}',
      headers: [['client_id', APP], ['Signature-Input', `sig1=(${'"a" '.repeat(size / 4)});keyid="test-key-ed25519"`], ['Signature', 'sig1=:AAAA:']],
    });
    add('oversized headers', `Cookie of ${size} bytes`, { path: '/cid/x', headers: [['Cookie', `${'x=y; '.repeat(size / 5)}client_id=nobody`]] });
    add('oversized headers', `unrelated header of ${size} bytes, no credential`, { path: '/oauth/x', headers: [['x-big', 'b'.repeat(size)]] });
    add('oversized headers', `traceparent of ${size} bytes`, { path: '/at/x', headers: [['traceparent', `00-${'a'.repeat(size)}-01`], ['access_token', 'nope']] });
  }
  for (const n of [100, 500, 1000]) {
    add('oversized headers', `${n} headers, no valid credential`, {
      path: '/oauth/x',
      headers: [...Array.from({ length: n }, (_, i) => [`x-h-${i}`, r.ascii(20)]), ['client_id', APP]],
    });
  }
  add('oversized headers', 'URL of 16 KB', { path: `/at/x?access_token=${'t'.repeat(16_000)}` });
  add('oversized headers', 'query with 2,000 parameters', { path: `/at/x?${Array.from({ length: 2000 }, (_, i) => `p${i}=${i}`).join('&')}&access_token=nope` });

  // --- duplicated headers, parameters and cookies (a valid value twice is still refused)
  const dupPairs = [
    ['client_id', APP, APP], ['client_id', APP, 'other'], ['client_id', 'other', APP],
    ['access_token', TOKEN, TOKEN], ['access_token', TOKEN, 'x'], ['access_token', 'x', TOKEN],
  ];
  for (const [name, a, b] of dupPairs) {
    const other = name === 'client_id' ? ['access_token', TOKEN] : ['client_id', APP];
    add('duplicated headers', `${name} header twice (${a === b ? 'same' : 'different'} values)`, { path: '/oauth/x', headers: [[name, a], [name, b], other] });
    add('duplicated headers', `${name} header, three times`, { path: '/oauth/x', headers: [[name, a], [name, b], [name, a], other] });
    add('duplicated headers', `${name} in the query twice`, { path: `/${name === 'client_id' ? 'cid' : 'at'}/x?${name}=${a}&${name}=${b}` });
    add('duplicated headers', `${name} cookie twice`, { path: `/${name === 'client_id' ? 'cid' : 'at'}/x`, headers: [['Cookie', `${name}=${a}; ${name}=${b}`]] });
    add('duplicated headers', `${name} cookie twice in two Cookie headers`, { path: `/${name === 'client_id' ? 'cid' : 'at'}/x`, headers: [['Cookie', `${name}=${a}`], ['Cookie', `${name}=${b}`]] });
    // Location "any": the query is looked at before the cookie; an odd value there decides.
    add('duplicated headers', `${name} odd in the query, ${b === APP || b === TOKEN ? 'valid' : 'odd'} in a cookie`, { path: `/${name === 'client_id' ? 'cid' : 'at'}/x?${name}=${a}x`, headers: [['Cookie', `${name}=${b}`]] });
  }
  add('duplicated headers', 'Authorization: two valid Basic values', { path: '/basic/x', headers: [['Authorization', basic(`${APP}:${APP_SECRET}`)], ['Authorization', basic(`${APP}:${APP_SECRET}`)]] });
  add('duplicated headers', 'Authorization: two valid Bearer JWTs', { path: '/jwt/x', headers: [['Authorization', `Bearer ${hsJwt('HS256', goodClaims())}`], ['Authorization', `Bearer ${hsJwt('HS256', goodClaims())}`]] });
  add('duplicated headers', 'two csrf_token headers', { method: 'POST', path: '/csrf/x', headers: [['client_id', APP], ['csrf_token', csrfToken()], ['csrf_token', csrfToken()]] });
  add('duplicated headers', 'two time_token headers', { path: '/tt/x', headers: [['time_token', timeToken()], ['time_token', timeToken()]] });
  for (let i = 0; i < 20; i++) {
    // The credential at least twice (valid values among them), other headers at random.
    const n = r.int(30) + 2;
    const cred = r.pick(['client_id', 'access_token']);
    add('duplicated headers', `${cred} twice among ${n} random credential headers`, {
      path: `/${cred === 'client_id' ? 'cid' : 'at'}/x`,
      headers: [
        [cred, r.pick([APP, TOKEN, junk()])],
        ...Array.from({ length: n }, () => [r.pick(['client_id', 'access_token', 'traceparent', 'x-other']), r.pick([APP, TOKEN, junk()])]),
        [cred, r.pick([APP, TOKEN, junk()])],
      ],
    });
  }

  // --- odd encodings
  const encodings = [
    '%ff', '%c0%af', '%ed%a0%80', '%f4%90%80%80', '%00', '%', '%%', '%zz', '%2', '+', '%2B', '%20', '%e2%80%ae',
    '%ef%bb%bf', '%c3%a9', 'e%cc%81', '%ef%bc%a1', '%u0041', '%252B', '\u00e9', '%0d%0aX-Injected:%201',
  ];
  for (const e of encodings) {
    add('odd encodings', `access_token query ${JSON.stringify(e)} + valid token`, { path: `/at/x?access_token=${encodeURI(e).replace(/%25/g, '%')}${TOKEN}` });
    add('odd encodings', `valid token + ${JSON.stringify(e)}`, { path: `/at/x?access_token=${TOKEN}${encodeURI(e).replace(/%25/g, '%')}` });
    add('odd encodings', `client_id query name with ${JSON.stringify(e)}`, { path: `/cid/x?client${encodeURI(e).replace(/%25/g, '%')}id=${APP}` });
    add('odd encodings', `cookie value with ${JSON.stringify(e)}`, { path: '/cid/x', headers: [['Cookie', `client_id=${e}${APP}`]] });
  }
  for (const [desc, value] of [
    ['the token upper-cased', TOKEN.toUpperCase()],
    ['the token percent-encoded in a header', [...TOKEN].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')],
    ['the token in full-width letters', [...TOKEN].map((c) => (/[a-z]/.test(c) ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c)).join('')],
    ['the token base64-encoded', Buffer.from(TOKEN).toString('base64')],
    ['the token with a NUL-like %00 suffix', `${TOKEN}%00`],
    ['the token with Latin-1 bytes', `${TOKEN}\u00ff\u00fe`],
    ['the token with a trailing tab inside quotes', `"${TOKEN}\t"`],
    ['the token quoted', `"${TOKEN}"`],
  ]) {
    let v = value;
    // eslint-disable-next-line no-control-regex -- any character outside Latin-1, NUL included in the range
    if (/[^\u0000-\u00ff]/.test(v)) v = Buffer.from(v, 'utf8').toString('latin1');
    add('odd encodings', `access_token header: ${desc}`, { path: '/oauth/x', headers: [['client_id', APP], ['access_token', v]] });
    add('odd encodings', `access_token cookie: ${desc}`, { path: '/at/x', headers: [['Cookie', `access_token=${v}`]] });
  }
  // Random Latin-1 text as the credential each API reads (the other credentials valid).
  const credentialOf = {
    oauth: 'access_token', at: 'access_token', cid: 'client_id', basic: 'Authorization', jwt: 'Authorization',
    csrf: 'csrf_token', tt: 'time_token', hms: 'Signature-Input', orders: 'access_token',
  };
  for (let i = 0; i < 80; i++) {
    const api = r.pick(CREDENTIAL_APIS);
    const name = credentialOf[api];
    const value = r.pick([r.latin1(r.int(200) + 1), `${r.pick(['Basic ', 'Bearer ', 'sig1=', ''])}${r.latin1(r.int(60) + 1)}`]);
    const others = name === 'client_id' ? [] : [['client_id', APP], ...(name === 'access_token' ? [] : [['access_token', TOKEN]])];
    add('odd encodings', `random Latin-1 ${name} on /${api}`, {
      method: api === 'csrf' || api === 'hms' ? 'POST' : 'GET',
      path: api === 'orders' ? '/orders/list' : `/${api}/x`,
      headers: [[name, value], ['traceparent', r.latin1(55)], ...others],
    });
  }
  for (let i = 0; i < 30; i++) {
    const raw = [...r.bytes(r.int(60) + 1)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
    add('odd encodings', 'random percent-encoded bytes in the query', { path: `/${r.pick(['at', 'cid'])}/x?${r.pick(['access_token', 'client_id'])}=${raw}` });
  }

  // --- long ids past KV's 512-byte key limit (app:<id>, token:<hash>, jwt-issuer:<iss>, jti:<iss>:<jti>)
  for (const n of [505, 506, 507, 508, 509, 510, 511, 512, 513, 600, 1024, 4096]) {
    add('long ids', `client_id of ${n} bytes`, { path: '/cid/x', headers: [['client_id', 'c'.repeat(n)]] });
    add('long ids', `client_id of ${n} bytes in the query (UTF-8)`, { path: `/cid/x?client_id=${'%C3%A9'.repeat(Math.ceil(n / 2))}` });
    add('long ids', `Basic id of ${n} bytes`, { path: '/basic/x', headers: [['Authorization', basic(`${'i'.repeat(n)}:${APP_SECRET}`)]] });
    add('long ids', `JWT kid of ${n} bytes`, { path: '/jwt/x', headers: [['Authorization', `Bearer ${hsJwt('HS256', goodClaims(), { alg: 'HS256', kid: 'k'.repeat(n) })}`]] });
    add('long ids', `JWT iss of ${n} bytes (no such issuer)`, { path: '/jwt/x', headers: [['Authorization', `Bearer ${hsJwt('HS256', goodClaims({ iss: `${ISS}/${'i'.repeat(n)}` }))}`]] });
    add('long ids', `valid JWT with a jti of ${n} bytes`, { path: '/jwt/x', mayPass: true, headers: [['Authorization', `Bearer ${hsJwt('HS256', goodClaims({ jti: 'j'.repeat(n) }))}`]] });
    add('long ids', `RFC 9421 keyid of ${n} bytes`, {
      method: 'POST', path: '/hms/x', body: '{}',
      headers: [['client_id', APP], ['Content-Digest', contentDigest('{}')], ['Signature-Input', `sig1=("@method" "@target-uri" "content-digest");created=${nowS()};keyid="${'k'.repeat(n)}";nonce="n"`], ['Signature', `sig1=:${b64u(r.bytes(64))}:`]],
    });
  }
  for (const n of [4095, 4096, 4097, 5000]) {
    add('long ids', `access token of ${n} bytes`, { path: '/oauth/x', headers: [['client_id', APP], ['access_token', 't'.repeat(n)]] });
    add('long ids', `access token of ${n} bytes in a cookie`, { path: '/at/x', headers: [['Cookie', `access_token=${'t'.repeat(n)}`]] });
    add('long ids', `valid JWT of ${n} bytes (no length limit for JWTs)`, { path: '/jwt/x', mayPass: true, headers: [['Authorization', `Bearer ${hsJwt('HS256', goodClaims({ pad: 'p'.repeat(Math.max(0, Math.floor((n - 250) * 0.75))) }))}`]] });
  }

  // --- malformed Basic
  const basicBodies = [
    '', ':', `${APP}`, `${APP}:`, `:${APP_SECRET}`, `${APP}:${APP_SECRET}x`, `${APP}:${APP_SECRET.slice(0, -1)}`, `${APP}x:${APP_SECRET}`,
    `${APP.toUpperCase()}:${APP_SECRET}`, `${APP}::${APP_SECRET}`, `${APP}:${APP_SECRET}\u0000`, `\u00e9\u00e8:${APP_SECRET}`, `${APP} :${APP_SECRET}`,
  ];
  for (const b of basicBodies) {
    const enc = Buffer.from(b).toString('base64');
    for (const [form, value] of [
      ['Basic', `Basic ${enc}`], ['basic', `basic ${enc}`], ['unpadded', `Basic ${enc.replace(/=+$/, '')}`],
      ['url-safe', `Basic ${Buffer.from(b).toString('base64url')}`], ['two spaces', `Basic  ${enc}`], ['trailing data', `Basic ${enc} x`],
    ]) add('malformed Basic', `${form} of ${JSON.stringify(b)}`, { path: '/basic/x', headers: [['Authorization', value]] });
  }
  for (const value of [
    'Basic', 'Basic ', 'Basic =', 'Basic ====', 'Basic !!!!', 'Basic a', 'Basic ab', 'Basic abc', 'Basic YQ', 'Basic YQ=', 'Basic YQ===',
    `Bearer ${Buffer.from(`${APP}:${APP_SECRET}`).toString('base64')}`, `Digest ${Buffer.from(`${APP}:${APP_SECRET}`).toString('base64')}`,
    `Basic${Buffer.from(`${APP}:${APP_SECRET}`).toString('base64')}`, `Basic\t${Buffer.from(`${APP}:${APP_SECRET}`).toString('base64')}`,
    `Basic ${Buffer.from(`${APP}:${APP_SECRET}`).toString('base64')}%3D`, `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0x80]).toString('base64')}`,
  ]) add('malformed Basic', JSON.stringify(value.slice(0, 40)), { path: '/basic/x', headers: [['Authorization', value]] });
  for (let i = 0; i < 30; i++) {
    add('malformed Basic', 'random bytes', { path: '/basic/x', headers: [['Authorization', `Basic ${r.bytes(r.int(200)).toString('base64')}`]] });
  }

  // --- malformed JWTs of every algorithm and signature length
  const jwtAlgs = [...JWT_ALGS, 'none', 'None', 'HS1', 'RS1', 'ES384', 'ES512', 'ES256K', 'Ed25519', 'EdDSA ', ''];
  for (const alg of jwtAlgs) {
    for (const len of LENGTHS) {
      const h = b64u(JSON.stringify({ alg, kid: JWT_ALGS.includes(alg) ? slug(alg) : 'x', typ: 'JWT' }));
      const p = b64u(JSON.stringify(goodClaims()));
      const sig = b64u(r.bytes(len));
      add('malformed JWT', `${alg || '(empty alg)'} with a ${len}-byte signature${alg === 'EdDSA' && len !== 64 ? ' [rel-core fix: Ed25519 wrong length]' : ''}`, {
        path: '/jwt/x',
        headers: [['Authorization', `Bearer ${h}.${p}.${sig}`]],
      });
    }
  }
  const hs = hsJwt('HS256', goodClaims());
  const [hh, hp, hsig] = hs.split('.');
  for (const [desc, token] of [
    ['one part', hh], ['two parts', `${hh}.${hp}`], ['four parts', `${hs}.x`], ['five parts', `${hs}.x.y`], ['empty parts', '..'],
    ['padded base64', `${hh}=.${hp}.${hsig}`], ['standard base64', `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'hs256' })).toString('base64')}.${hp}.${hsig}`],
    ['header not JSON', `${b64u('{alg:HS256}')}.${hp}.${hsig}`], ['header an array', `${b64u('["HS256"]')}.${hp}.${hsig}`],
    ['header with crit', hsJwt('HS256', goodClaims(), { alg: 'HS256', kid: 'hs256', crit: ['exp'] })],
    ['header with b64 false', hsJwt('HS256', goodClaims(), { alg: 'HS256', kid: 'hs256', b64: false })],
    ['nested cty', hsJwt('HS256', goodClaims(), { alg: 'HS256', kid: 'hs256', cty: 'JWT' })],
    ['kid a number', hsJwt('HS256', goodClaims(), { alg: 'HS256', kid: 7 })], ['kid of another algorithm', hsJwt('HS256', goodClaims(), { alg: 'HS256', kid: 'hs384' })],
    ['payload not JSON', hsJwt('HS256', 'not json')], ['payload an array', hsJwt('HS256', '[1,2]')], ['payload a string', hsJwt('HS256', '"x"')],
    ['payload deeply nested', hsJwt('HS256', `${'['.repeat(2000)}${']'.repeat(2000)}`)],
    ['payload with 10,000 claims', hsJwt('HS256', JSON.stringify(Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`c${i}`, i]))))],
    ['signature of the HS384 key under HS256', hsJwt('HS384', goodClaims(), { alg: 'HS256', kid: 'hs256' })],
    ['alg confusion: HS256 with the RSA public key as secret', `${b64u(JSON.stringify({ alg: 'HS256', kid: 'rs256' }))}.${hp}.${b64u(createHmac('sha256', JSON.stringify(publicJwk(FIX.rsa))).update('x').digest())}`],
    ['Bearer with two spaces', null], ['lower-case bearer scheme', null], ['no scheme', null],
  ]) {
    const value = token == null ? { 'Bearer with two spaces': `Bearer  ${hs}`, 'lower-case bearer scheme': `bearer ${hs}x`, 'no scheme': hs }[desc] : `Bearer ${token}`;
    add('malformed JWT', desc, { path: '/jwt/x', headers: [['Authorization', value]] });
  }
  // Adversarial numbers in correctly signed tokens: refused (or, when the token is in fact
  // valid, passed), never a fault.
  const numbers = [
    // eslint-disable-next-line no-loss-of-precision -- 2^53 + 1 on purpose: what a JSON parser rounds
    0, -1, 1e300, -1e300, 9007199254740993, -9007199254740993, 8640000000000, -8640000000000, 8210266876799, -8334601228800,
    -8334601228799, -8334601228740, 1.5, '1e400', '-1e400', '"soon"', 'null', 'true', '[]', '9223372036854775808', '-9223372036854775809',
  ];
  for (const claim of ['exp', 'nbf', 'iat']) {
    for (const n of numbers) {
      const payload = JSON.stringify(goodClaims()).replace(/}$/, `,"${claim}":${n}}`).replace(new RegExp(`"${claim}":-?\\d+,`), '');
      const bug = claim === 'nbf' && typeof n === 'number' && n <= -8334601228740 ? ' [rel-core fix: extreme nbf]' : '';
      add('malformed JWT', `HS256 signed, ${claim} = ${n}${bug}`, { path: '/jwt/x', mayPass: true, headers: [['Authorization', `Bearer ${hsJwt('HS256', payload)}`]] });
    }
  }

  // --- malformed signatures: Sensedia body signatures of every algorithm and length
  for (const alg of BODY_ALGS) {
    const api = `/body-${slug(alg)}/x`;
    for (const len of LENGTHS) {
      const sig = r.bytes(len);
      add('malformed signatures', `${alg} body signature of ${len} bytes`, { method: 'POST', path: api, body: '{"a":1}', headers: [['client_id', APP], ['Signature', sig.toString('base64')]] });
    }
    for (const [desc, value] of [
      ['empty', ''], ['url-safe alphabet', b64u(r.bytes(256))], ['unpadded', r.bytes(100).toString('base64').replace(/=+$/, '')],
      ['with spaces', ` ${r.bytes(30).toString('base64')} `], ['not base64', '!!!!'], ['signature of another body', signBody({ algorithm: alg, key: alg === 'HmacSHA256' ? BODY_HMAC : BODY_RSA, body: 'other' })],
    ]) add('malformed signatures', `${alg} body signature: ${desc}`, { method: 'POST', path: api, body: '{"a":1}', headers: [['client_id', APP], ['Signature', value]] });
  }
  // RFC 9421: every algorithm, its key, and signatures of every length.
  const created = nowS();
  for (const [alg, kid] of Object.entries(RFC_ALGS)) {
    for (const len of LENGTHS) {
      const body = '{"a":1}';
      add('malformed signatures', `RFC 9421 ${alg} signature of ${len} bytes${alg === 'ed25519' && len !== 64 ? ' [rel-core fix: Ed25519 wrong length]' : ''}`, {
        method: 'POST', path: '/hms/items', body,
        headers: [
          ['client_id', APP], ['Content-Digest', contentDigest(body)],
          ['Signature-Input', `sig1=("@method" "@target-uri" "content-digest");created=${created};keyid="${kid}";nonce="${b64u(r.bytes(9))}";alg="${alg}"`],
          ['Signature', `sig1=:${r.bytes(len).toString('base64')}:`],
        ],
      });
    }
    add('malformed signatures', `RFC 9421 ${alg}: alg parameter of another algorithm`, {
      method: 'POST', path: '/hms/items', body: '{}',
      headers: [['client_id', APP], ['Content-Digest', contentDigest('{}')], ['Signature-Input', `sig1=("@method" "@target-uri" "content-digest");created=${created};keyid="${kid}";nonce="n1";alg="${alg === 'ed25519' ? 'hmac-sha256' : 'ed25519'}"`], ['Signature', `sig1=:${r.bytes(64).toString('base64')}:`]],
    });
  }

  // --- pathological structured fields (Signature-Input, Signature, Content-Digest)
  const sfCases = [
    ['empty Signature-Input', '', 'sig1=:AAAA:'],
    ['only commas', ',,,,', ',,,'],
    ['unterminated inner list', 'sig1=("@method"', 'sig1=:AAAA:'],
    ['unterminated string', 'sig1=("@method);keyid="k', 'sig1=:AAAA:'],
    ['unterminated byte sequence', 'sig1=("@method");keyid="test-key-ed25519"', 'sig1=:AAAA'],
    ['uppercase label', 'SIG1=("@method");keyid="test-key-ed25519"', 'SIG1=:AAAA:'],
    ['labels differ', 'sig1=("@method");keyid="test-key-ed25519"', 'sig2=:AAAA:'],
    ['duplicate labels', 'sig1=("@method");keyid="test-key-ed25519", sig1=("@path");keyid="test-key-ed25519"', 'sig1=:AAAA:, sig1=:AAAA:'],
    ['17 signatures', Array.from({ length: 17 }, (_, i) => `s${i}=("@method");keyid="test-key-ed25519"`).join(', '), Array.from({ length: 17 }, (_, i) => `s${i}=:AAAA:`).join(', ')],
    ['1,000 components', `sig1=(${Array.from({ length: 1000 }, (_, i) => `"h${i}"`).join(' ')});keyid="test-key-ed25519"`, 'sig1=:AAAA:'],
    ['1,000 parameters', `sig1=("@method")${Array.from({ length: 1000 }, (_, i) => `;p${i}=${i}`).join('')}`, 'sig1=:AAAA:'],
    ['a component with 1,000 parameters', `sig1=("x"${Array.from({ length: 1000 }, (_, i) => `;p${i}`).join('')});keyid="test-key-ed25519"`, 'sig1=:AAAA:'],
    ['repeated parameter', 'sig1=("@method");keyid="a";keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['integer of 16 digits', 'sig1=("@method");created=1234567890123456;keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['negative created', 'sig1=("@method");created=-999999999999999;keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['decimal created', 'sig1=("@method");created=1.5;keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['expires far past', 'sig1=("@method");created=1;expires=2;keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['expires at the end of i64', 'sig1=("@method");created=1;expires=999999999999999;keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['keyid a token', 'sig1=("@method");keyid=test-key-ed25519', 'sig1=:AAAA:'],
    ['component a token', 'sig1=(@method);keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['@signature-params covered', 'sig1=("@signature-params");keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['uppercase component', 'sig1=("Content-Digest");keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['unknown derived component', 'sig1=("@nothing");keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['@query-param without name', 'sig1=("@query-param");keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['@status on a request', 'sig1=("@status");keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['component ;sf of a non-structured field', 'sig1=("x-plain";sf);keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['component ;key of a missing dictionary', 'sig1=("x-dict";key="a");keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['component ;bs and ;sf together', 'sig1=("content-digest";bs;sf);keyid="test-key-ed25519"', 'sig1=:AAAA:'],
    ['signature an integer', 'sig1=("@method");keyid="test-key-ed25519"', 'sig1=1'],
    ['signature an inner list', 'sig1=("@method");keyid="test-key-ed25519"', 'sig1=(:AAAA:)'],
    ['signature not base64', 'sig1=("@method");keyid="test-key-ed25519"', 'sig1=:!!!!:'],
    ['a tab in a string', 'sig1=("@method");keyid="test-key\ted25519"', 'sig1=:AAAA:'],
    ['non-ASCII', 'sig1=("@method");keyid="t\u00e9st"', 'sig1=:AAAA:'],
    ['deep nesting attempt', `sig1=${'('.repeat(5000)}`, 'sig1=:AAAA:'],
    ['64 KB of commas', `sig1=("@method"),${' ,'.repeat(30_000)}`, 'sig1=:AAAA:'],
    ['a 60 KB string', `sig1=("@method");keyid="${'k'.repeat(60_000)}"`, 'sig1=:AAAA:'],
    ['a 60 KB byte sequence', 'sig1=("@method");keyid="test-key-ed25519"', `sig1=:${'A'.repeat(60_000)}:`],
  ];
  for (const [desc, input, sig] of sfCases) {
    add('pathological structured fields', desc, {
      method: 'POST', path: '/hms/items', body: '{}',
      headers: [['client_id', APP], ['Content-Digest', contentDigest('{}')], ['x-plain', 'a b'], ['Signature-Input', input], ['Signature', sig]],
    });
  }
  for (const [desc, digest] of [
    ['Content-Digest not a dictionary', '(((('], ['Content-Digest sha-256 an integer', 'sha-256=1'], ['Content-Digest sha-256 twice', `${contentDigest('{}')}, ${contentDigest('{}')}`],
    ['Content-Digest of another body', contentDigest('{"b":2}')], ['Content-Digest unknown algorithms only', 'md5=:AAAA:, unixsum=:AAAA:'],
    ['Content-Digest with parameters', `${contentDigest('{}')};a=1`], ['Content-Digest with 6,000 distinct keys', Array.from({ length: 6000 }, (_, i) => `k${i.toString(36)}=:AA==:`).join(',')],
  ]) {
    const body = '{}';
    const signed = signRequest({
      method: 'POST', url: `http://${host}/hms/items`, headers: { 'content-digest': digest }, body, alg: 'ed25519', keyid: 'test-key-ed25519', key: rfcKey('test-key-ed25519'), nonce: b64u(r.bytes(9)),
    });
    add('pathological structured fields', `signed, ${desc}`, { method: 'POST', path: '/hms/items', body, headers: [['client_id', APP], ['content-digest', digest], ...Object.entries(signed)] });
  }
  for (let i = 0; i < 40; i++) {
    const alphabet = ['(', ')', '"', ':', ';', '=', ',', ' ', '*', '?', '1', 'a', '-', '.', '\\', 'sig1', '@method', 'keyid', 'AAAA'];
    let s = '';
    for (let j = r.int(80); j >= 0; j--) s += r.pick(alphabet);
    add('pathological structured fields', `random field text ${JSON.stringify(s.slice(0, 30))}`, {
      method: 'POST', path: '/hms/items', body: '{}', headers: [['client_id', APP], ['Content-Digest', r.pick([s, contentDigest('{}')])], ['Signature-Input', r.pick([s, `sig1=${s}`])], ['Signature', r.pick([s, 'sig1=:AAAA:'])]],
    });
  }

  // --- bodies over limits
  for (const n of [65, 100, 1000, 65_536, 1_048_576]) {
    const body = 'b'.repeat(n);
    add('bodies over limits', `body of ${n} bytes, limit 64`, { method: 'POST', path: '/body-small/x', body, headers: [['client_id', APP], ['Signature', signBody({ algorithm: 'HmacSHA256', key: BODY_HMAC, body })]] });
    add('bodies over limits', `chunked body of ${n} bytes, limit 64`, { method: 'POST', path: '/body-small/x', body, chunked: true, headers: [['client_id', APP], ['Transfer-Encoding', 'chunked'], ['Signature', signBody({ algorithm: 'HmacSHA256', key: BODY_HMAC, body })]] });
    add('bodies over limits', `RFC 9421 body of ${n} bytes past 4096`, {
      method: 'POST', path: '/hms/items', body: 'b'.repeat(n + 4096),
      headers: [['client_id', APP], ['Content-Digest', contentDigest('b'.repeat(n + 4096))], ['Signature-Input', `sig1=("@method" "@target-uri" "content-digest");created=${created};keyid="test-key-ed25519";nonce="n"`], ['Signature', `sig1=:${r.bytes(64).toString('base64')}:`]],
    });
  }
  add('bodies over limits', 'a body on GET with an unsigned body API', { method: 'GET', path: '/body-sha256withrsa/x', body: 'x'.repeat(5000), headers: [['client_id', APP], ['Signature', 'AAAA']] });
  add('bodies over limits', 'RFC 9421 request with a body its signature does not cover', {
    method: 'POST', path: '/hms/items', body: 'x'.repeat(100),
    headers: [['client_id', APP], ...Object.entries(signRequest({ method: 'POST', url: `http://${host}/hms/items`, headers: {}, alg: 'ed25519', keyid: 'test-key-ed25519', key: rfcKey('test-key-ed25519'), components: ['@method', '@target-uri'], nonce: 'nb1' }))],
  });

  // --- path tricks: none of these reaches the origin without valid credentials; the app's
  // own credentials reach /orders/list only.
  const tricks = [
    '/OAUTH/x', '//oauth/x', '/oauth%2fx', '/%6fauth/x', '/oauth/../cid/x', '/oauth/%2e%2e/cid/x', '/oauth/%2E%2E%2Fcid/x', '/oauth;x=1/x', '/oauth%00/x',
    '/oauth\\x', '/oauthx', '/oauth/./x', '/./oauth/x', '/oauth//x', '/oauth%20/x', '/oauth%09/x', '/ oauth/x', '/oauth?/x', '/oauth#/x', '/oauth/x#frag',
    '/cid/..%2f..%2foauth', '/at/%252e%252e/x', '/%2e%2e/at/x', '/..;/at/x', '/\u00e5uth/x', '/oauth/x/' + 'a/'.repeat(1000),
  ];
  for (const t of tricks) {
    add('path tricks', `${t.slice(0, 60)} without credentials`, { path: encodeURI(t).replace(/%25/g, '%') });
  }
  const orderTricks = [
    '/orders/admin/x', '/orders/list/../admin/x', '/orders/list/%2e%2e/admin/x', '/orders/admin%2fx', '/orders/ADMIN/x', '/orders//admin/x', '/orders/./admin/x',
    '/orders/list%2f..%2fadmin/x', '/orders/list/..%2fadmin', '/orders/list;/../admin/x', '/orders/%61dmin/x', '/orders/admin', '/orders/42', '/orders/list/x',
    '/orders/list%00', '/orders/list%20', '/orders/LIST', '/orders/list/', '/orders/list?x=/../admin', '/orders/admin/../list', '/orders/./list', '/orders/x/../list',
  ];
  for (const t of orderTricks) {
    for (const method of ['GET', 'DELETE', 'POST', 'OPTIONS']) {
      const normalized = new URL(t, 'http://h').pathname;
      add('path tricks', `${method} ${t} with credentials granted /orders/list only`, {
        method,
        path: t,
        mayPass: method === 'GET' && normalized === '/orders/list',
        headers: [['client_id', APP], ['access_token', TOKEN]],
      });
    }
  }
  // workerd itself answers these two 500 before any Worker runs (a plain JavaScript Worker gets
  // the same: "invalid URL"; docs/reliability.md, "Hostile requests end to end"): allowed, and
  // still never forwarded.
  for (const [desc, p] of [['absolute-form target on another host', 'http://evil.example/oauth/x'], ['asterisk target', '*']]) {
    add('path tricks', desc, { method: p === '*' ? 'OPTIONS' : 'GET', path: p, runtimeStatus: 500, headers: [['client_id', APP], ['access_token', TOKEN]] });
  }
  for (const [desc, method, p] of [
    ['lower-case method', 'get', '/oauth/x'],
    ['custom method', 'PROPFIND', '/oauth/x'], ['TRACE', 'TRACE', '/oauth/x'], ['a path of 8 KB', 'GET', `/oauth/${'p'.repeat(8000)}`],
    ['1,000 segments', 'GET', `/oauth${'/s'.repeat(1000)}`], ['query only', 'GET', '/?oauth'], ['empty base path', 'GET', '/'],
  ]) {
    add('path tricks', desc, { method, path: p, headers: [['client_id', 'nobody'], ['access_token', 'nothing']] });
  }

  // --- generated tokens: CSRF and Time Tokens, malformed and forged
  for (const [desc, t] of [
    ['empty', ''], ['v2', 'v2.1.AAAAAAAAAAA.AAAA'], ['bad time', 'v1.x.AAAAAAAAAAA.AAAA'], ['time of 20 digits', `v1.${'9'.repeat(20)}.AAAAAAAAAAA.${b64u(r.bytes(32))}`],
    ['time 0', `v1.0.${b64u(r.bytes(8))}.${b64u(r.bytes(32))}`], ['too long', `v1.1.${'A'.repeat(300)}`], ['five parts', 'v1.1.a.b.c'],
    ['another kind', makeToken(SECRET, { kind: 'time', api: 'csrf', place: 'HEADER', name: 'csrf_token', time: Date.now() + 600_000, bound: [APP, null] })],
    ['another api', makeToken(SECRET, { kind: 'csrf', api: 'tt', place: 'HEADER', name: 'csrf_token', time: Date.now() + 600_000, bound: [APP, null] })],
    ['another app', makeToken(SECRET, { kind: 'csrf', api: 'csrf', place: 'HEADER', name: 'csrf_token', time: Date.now() + 600_000, bound: ['other', null] })],
    ['expired', makeToken(SECRET, { kind: 'csrf', api: 'csrf', place: 'HEADER', name: 'csrf_token', time: Date.now() - 1000, bound: [APP, null] })],
    ['max time', makeToken(SECRET, { kind: 'csrf', api: 'csrf', place: 'HEADER', name: 'csrf_token', time: '18446744073709551615', bound: [APP, null] })],
    ['a valid token with a flipped last character', csrfToken().replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))],
  ]) {
    add('generated tokens', `CSRF token: ${desc}`, { method: 'POST', path: '/csrf/x', headers: [['client_id', APP], ['csrf_token', t]] });
  }
  for (const len of LENGTHS) {
    add('generated tokens', `Time Token MAC of ${len} bytes`, { path: '/tt/x', headers: [['time_token', `v1.${Date.now()}.${b64u(r.bytes(8))}.${b64u(r.bytes(len))}`]] });
    add('generated tokens', `Time Token tag of ${len} bytes`, { path: '/tt/x', headers: [['time_token', `v1.${Date.now()}.${b64u(r.bytes(len))}.${b64u(r.bytes(32))}`]] });
  }
  add('generated tokens', 'Time Token from the future (year 2500)', { path: '/tt/x', headers: [['time_token', makeToken(SECRET, { kind: 'time', api: 'tt', place: 'HEADER', name: 'time_token', time: 16_725_225_600_000, bound: [null] })]] });
  add('generated tokens', 'Time Token older than its TTL', { path: '/tt/x', headers: [['time_token', makeToken(SECRET, { kind: 'time', api: 'tt', place: 'HEADER', name: 'time_token', time: Date.now() - 31_000, bound: [null] })]] });

  return cases;
}

// ---------------------------------------------------------------------------------------------

/** Answers the docs list for a client's mistake (docs/configuration.md, docs/interceptors.md,
 * docs/reliability.md): 400 unreadable body, 401 denial, 404/405 routing, 413 body over a limit;
 * and what the runtime itself answers before the Worker runs (docs/reliability.md, "Hostile
 * requests": 400 for a request line or header it cannot parse, 413/414/431 for one too large). */
const DOCUMENTED = new Set([400, 401, 404, 405, 413, 414, 431]);

before(async () => {
  origin = await startOrigin();
  gw = await startGateway({ policy: makePolicy(origin.url), records: records(), bindings: { TOKEN_SECRET: SECRET } });
  host = new URL(gw.url).host;
}, H);

after(async () => {
  await gw?.dispose();
  await origin?.close();
}, H);

async function checkValid(when, failures) {
  for (const v of await validRequests()) {
    const id = `valid-${randomBytes(6).toString('hex')}`;
    const res = await send({ ...v, headers: [...(v.headers ?? []), ['x-e2e-id', id]] });
    const seen = origin.find(id).length;
    if (res.status !== 200 || seen !== 1) {
      failures.push(`${when}: the valid request "${v.what}" got ${res.status ?? res.error} (origin saw it ${seen} times): ${String(res.text ?? '').slice(0, 200)}`);
    }
  }
}

test(`hostile requests (seed ${SEED}): never a 5xx, never a pass without credentials, origin untouched`, { timeout: 900_000 }, async () => {
  const r = prng(SEED);
  let cases = await generate(r);
  assert.ok(cases.length >= 1000, `only ${cases.length} cases`);
  const categories = new Set(cases.map((c) => c.cat));
  for (const c of ['oversized headers', 'duplicated headers', 'odd encodings', 'long ids', 'malformed Basic', 'malformed JWT', 'malformed signatures', 'pathological structured fields', 'bodies over limits', 'path tricks', 'generated tokens']) {
    assert.ok(categories.has(c), `no case of category ${c}`);
  }
  if (ONLY) cases = cases.filter((c) => c.cat === ONLY);

  const failures = [];
  const statuses = {};
  let passedOdd = 0;
  await checkValid('before', failures);
  const BATCH = 8;
  for (let i = 0; i < cases.length; i += BATCH) {
    const batch = cases.slice(i, i + BATCH);
    await Promise.all(
      batch.map(async (c, j) => {
        const n = i + j;
        const id = `hostile-${SEED}-${n}`;
        const res = await send({ ...c, headers: [...c.headers, ['x-e2e-id', id]] });
        const seen = origin.find(id).length;
        const where = `#${n} [${c.cat}] ${c.method} ${c.path.slice(0, 80)}: ${c.desc}`;
        const tally = (statuses[c.cat] ??= {});
        tally[res.status ?? 'no answer'] = (tally[res.status ?? 'no answer'] ?? 0) + 1;
        if (res.error) {
          failures.push(`${where}: no answer (${res.error})`);
        } else if (c.mayPass && res.status === 200) {
          passedOdd += 1;
          if (seen !== 1) failures.push(`${where}: 200 but the origin saw it ${seen} times`);
        } else if (!DOCUMENTED.has(res.status) && res.status !== c.runtimeStatus) {
          failures.push(`${where}: ${res.status} ${JSON.stringify(res.text.slice(0, 160))}`);
        } else if (seen !== 0) {
          failures.push(`${where}: answered ${res.status} but the origin saw it ${seen} times`);
        }
      }),
    );
    if ((i / BATCH) % 25 === 24) await checkValid(`after case ${i + BATCH}`, failures);
  }
  await checkValid('at the end', failures);
  const hostileForwards = origin.requests.filter((q) => String(q.headers['x-e2e-id'] ?? '').startsWith('hostile-')).length;
  if (hostileForwards !== passedOdd) {
    failures.push(`the origin saw ${hostileForwards} hostile requests; only the ${passedOdd} with valid credentials that passed may reach it`);
  }
  console.log(`# hostile: ${cases.length} requests (seed ${SEED}); ${passedOdd} with odd but valid credentials passed; statuses by category:`);
  for (const [cat, tally] of Object.entries(statuses)) console.log(`#   ${cat}: ${JSON.stringify(tally)}`);
  // Cases tagged "[rel-core fix: ...]" hit the bugs issue 12 item 1 fixes (Ed25519 signatures of
  // the wrong length, extreme nbf); they are listed apart so that any other failure stands out.
  const known = failures.filter((f) => f.includes('[rel-core fix:'));
  const other = failures.filter((f) => !f.includes('[rel-core fix:'));
  const report = [...other.slice(0, 60), ...(known.length ? [`... and ${known.length} of the known bugs:`, ...known.slice(0, 10)] : [])];
  assert.deepEqual(failures, [], `${other.length} failures, ${known.length} known-bug failures (seed ${SEED}):\n${report.join('\n')}`);
});
