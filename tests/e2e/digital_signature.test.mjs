// Digital Signature: the Sensedia-compatible body signature (RSA with SHA-1/224/256/384/512,
// HMAC-SHA256; header or query param) and RFC 9421 HTTP Message Signatures (five algorithms,
// Content-Digest, created/expires window, keyid, nonce replay protection in the nonce store
// Durable Object), through the built Worker. Requests are signed with the client example
// (scripts/sign-request.mjs), and the examples of RFC 9421 Appendix B verify as published.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  HOOK_TIMEOUT,
  REPO,
  TEST_TIMEOUT,
  appKey,
  appRecord,
  assert,
  assertDenied,
  assertFault,
  assertNotForwarded,
  assertPassed,
  startGateway,
  startOrigin,
  traceparent,
  uniq,
} from './harness.mjs';
import { signBody, signRequest } from '../../scripts/sign-request.mjs';

const T = { timeout: TEST_TIMEOUT };
const H = { timeout: HOOK_TIMEOUT };

const FIX = path.join(REPO, 'tests', 'fixtures', 'rfc9421');
const RFC_KEYS = JSON.parse(readFileSync(path.join(FIX, 'keys.json'), 'utf8')).keys;
const VECTORS = JSON.parse(readFileSync(path.join(FIX, 'vectors.json'), 'utf8')).cases;

const DS_MSG = (loc, name) =>
  `Digital Signature in the request, identified by ${loc} ${name}, is invalid. Check docs.sensedia.com`;

// Keys generated for this run (never committed as secrets; the RFC keys are test keys).
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (k) => k.export({ type: 'spki', format: 'pem' });
const privPem = (k) => k.export({ type: 'pkcs8', format: 'pem' });
const hmacSecret = randomBytes(32);

const BODY_ALGS = ['SHA1withRSA', 'SHA224withRSA', 'SHA256withRSA', 'SHA384withRSA', 'SHA512withRSA', 'HmacSHA256'];
const slug = (a) => a.toLowerCase();

// RFC 9421 keys registered on the app, with the algorithm each is pinned to.
const HTTP_KEYS = {
  'test-key-rsa': 'RS256',
  'test-key-rsa-pss': 'PS512',
  'test-key-ecc-p256': 'ES256',
  'test-key-ed25519': 'EdDSA',
};

const CLIENT = uniq('ds-app');

function records(apis) {
  const keys = [
    { kid: 'body-rsa', alg: 'RS256', pem: pem(rsa.publicKey) },
    ...Object.entries(HTTP_KEYS).map(([kid, alg]) => ({ kid, alg, pem: RFC_KEYS[kid].public_spki_pem })),
  ];
  return {
    [appKey(CLIENT)]: appRecord({
      access: apis.map((api) => ({ api })),
      signature_keys: keys,
      hmac_secrets: [
        { kid: 'body-hmac', secret_b64: hmacSecret.toString('base64') },
        { kid: 'test-shared-secret', secret_b64: RFC_KEYS['test-shared-secret'].secret_base64 },
      ],
    }),
  };
}

/** `timeouts.body_ms` of this suite: above the 4.5 s slow upload of the late-claim test. */
const BODY_MS = 7000;

function makePolicy(origin, rfcBases) {
  const api = (name, ds, base = `/${name}`) => ({
    name,
    base_path: base,
    origin: `${origin}/be/${name}`,
    interceptors: [{ type: 'client_id' }, ds],
  });
  return {
    timeouts: { body_ms: BODY_MS },
    apis: [
      ...BODY_ALGS.map((a) => api(`body-${slug(a)}`, { type: 'digital_signature', algorithm: a })),
      api('body-query', { type: 'digital_signature', algorithm: 'SHA256withRSA', location: 'query', name: 'sig' }),
      api('body-small', { type: 'digital_signature', algorithm: 'HmacSHA256', max_body_bytes: 16 }),
      api('hms', { type: 'digital_signature', mode: 'http_message_signatures', nonce_shards: 4 }),
      api('hms-ed', {
        type: 'digital_signature',
        mode: 'http_message_signatures',
        algorithms: ['ed25519'],
        required_components: ['@method', '@path', 'x-tenant'],
        max_age_seconds: 60,
      }),
      api('hms-nononce', { type: 'digital_signature', mode: 'http_message_signatures', require_nonce: false }),
      // A short window (2 s, no skew): nonce expiry and late claims in the real nonce store.
      api('hms-short', { type: 'digital_signature', mode: 'http_message_signatures', max_age_seconds: 2, clock_skew_seconds: 0 }),
      // RFC 9421 Appendix B: signed in 2021, with the components the examples cover.
      ...rfcBases.map((b, i) =>
        api(
          `rfc-${i}`,
          {
            type: 'digital_signature',
            mode: 'http_message_signatures',
            required_components: [],
            require_content_digest: false,
            require_nonce: false,
            max_age_seconds: 1_000_000_000,
          },
          b,
        ),
      ),
    ],
  };
}

const rfcCases = VECTORS.filter((c) => c.request && !c.signature_input.includes('"@status"'));
const rfcBases = [...new Set(rfcCases.map((c) => '/' + new URL(c.request.url).pathname.split('/')[1]))];

let origin;
let gw;

before(async () => {
  origin = await startOrigin();
  const policy = makePolicy(origin.url, rfcBases);
  gw = await startGateway({ policy, records: records(policy.apis.map((a) => a.name)) });
}, H);

after(async () => {
  await gw?.dispose();
  await origin?.close();
}, H);

/**
 * Sends `method url` with [name, value] headers and a body, as given (Host included), and a
 * fresh traceparent unless one is given: `res.traceId` finds this request's trace entries.
 * `bodyDelayMs`: the body is sent that long after the headers (a slow upload).
 */
function send(method, pathAndQuery, headers, body, { bodyDelayMs = 0 } = {}) {
  const u = new URL(gw.url);
  let traceId;
  if (!headers.some(([k]) => k.toLowerCase() === 'traceparent')) {
    const tp = traceparent();
    traceId = tp.traceId;
    headers = [...headers, tp.header];
  }
  return new Promise((resolve, reject) => {
    const flat = headers.flat();
    const req = http.request(
      { host: u.hostname, port: u.port, method, path: pathAndQuery, headers: flat, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          resolve({ status: res.statusCode, headers: res.headers, body: buf, text: buf.toString('utf8'), traceId });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (bodyDelayMs > 0) {
      req.flushHeaders();
      setTimeout(() => {
        if (body != null) req.write(body);
        req.end();
      }, bodyDelayMs);
      return;
    }
    if (body != null) req.write(body);
    req.end();
  });
}

/** The digital_signature entry of that request's own trace. */
const dsEntry = (res) => gw.entryOf(res.traceId, 'digital_signature');

/** A request signed in the body mode. */
async function bodyCall(api, { alg, body, id, key, query = false, tamper }) {
  const sig = signBody({ algorithm: alg, key, body });
  const headers = [['Host', new URL(gw.url).host], ['client_id', CLIENT], ['x-e2e-id', id], ['Content-Type', 'application/json']];
  const sent = tamper ? tamper(body) : body;
  headers.push(['Content-Length', String(Buffer.byteLength(sent))]);
  let p = `/${api}/items`;
  if (query) p += `?sig=${encodeURIComponent(sig)}`;
  else headers.push(['signature', sig]);
  return send('POST', p, headers, sent);
}

const keyFor = (alg) => (alg === 'HmacSHA256' ? hmacSecret : privPem(rsa.privateKey));

describe('Digital Signature, body mode (Sensedia-compatible)', () => {
  for (const alg of BODY_ALGS) {
    test(`${alg}: a valid signature passes and the same bytes reach the origin`, T, async () => {
      const id = uniq('ds');
      const body = JSON.stringify({ order: id, amount: 12.5, note: 'ünïcødé' });
      const res = await bodyCall(`body-${slug(alg)}`, { alg, body, id, key: keyFor(alg) });
      const seen = assertPassed(res, origin, id);
      assert.equal(seen.body.toString('utf8'), body);
    });

    test(`${alg}: an altered body is refused`, T, async () => {
      const id = uniq('ds');
      const res = await bodyCall(`body-${slug(alg)}`, {
        alg,
        body: '{"amount":1}',
        id,
        key: keyFor(alg),
        tamper: () => '{"amount":9}',
      });
      assertDenied(res, DS_MSG('HEADER', 'signature'));
      assertNotForwarded(origin, id);
    });
  }

  test('RSA: a signature by another key is refused; the trace says bad_signature', T, async () => {
    const id = uniq('ds');
    const res = await bodyCall('body-sha256withrsa', { alg: 'SHA256withRSA', body: '{}', id, key: privPem(otherRsa.privateKey) });
    assertDenied(res, DS_MSG('HEADER', 'signature'));
    assert.equal((await dsEntry(res)).cause, 'bad_signature');
  });

  test('RSA: signature bytes of any length are a 401 bad_signature, never a fault (WebCrypto)', T, async () => {
    for (const len of [1, 3, 255, 257, 512]) {
      const id = uniq('ds');
      const headers = [['Host', new URL(gw.url).host], ['client_id', CLIENT], ['x-e2e-id', id], ['Content-Length', '2'], ['signature', randomBytes(len).toString('base64')]];
      for (const api of ['body-sha256withrsa', 'body-sha224withrsa']) {
        const res = await send('POST', `/${api}/items`, headers, '{}');
        assertDenied(res, DS_MSG('HEADER', 'signature'));
        assert.equal((await dsEntry(res)).cause, 'bad_signature', `${api}, ${len} bytes`);
      }
    }
  });

  test('a body that cannot be read is a 400 (never forwarded), traced malformed', T, async () => {
    // A chunked body that breaks off with bytes that are not a chunk: reading it fails.
    const { default: net } = await import('node:net');
    const u = new URL(gw.url);
    const tp = traceparent();
    const sig = signBody({ algorithm: 'HmacSHA256', key: hmacSecret, body: 'hello' });
    const id = uniq('ds');
    const raw = await new Promise((resolve, reject) => {
      const sock = net.connect(Number(u.port), u.hostname);
      let out = '';
      sock.on('data', (d) => {
        out += d;
      });
      sock.on('end', () => resolve(out));
      sock.on('close', () => resolve(out));
      sock.on('error', (e) => (out ? resolve(out) : reject(e)));
      sock.setTimeout(10_000, () => sock.destroy());
      sock.write(
        `POST /body-hmacsha256/items HTTP/1.1\r\nHost: ${u.host}\r\nclient_id: ${CLIENT}\r\nx-e2e-id: ${id}\r\n` +
          `signature: ${sig}\r\n${tp.header[0]}: ${tp.header[1]}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhel`,
      );
      setTimeout(() => sock.write('\r\nnot a chunk size\r\n\r\n'), 200);
    });
    assert.match(raw, /^HTTP\/1\.1 400 /, raw.slice(0, 300));
    assertNotForwarded(origin, id);
    const e = await gw.entryOf(tp.traceId, 'digital_signature');
    assert.equal(e.outcome, 'fault');
    assert.equal(e.cause, 'malformed');
    assert.match(e.detail, /reading the request body/);
  });

  test('an empty body signs the empty string', T, async () => {
    const id = uniq('ds');
    const res = await bodyCall('body-hmacsha256', { alg: 'HmacSHA256', body: '', id, key: hmacSecret });
    assertPassed(res, origin, id);
  });

  test('missing, malformed (not base64), unpadded and URL-safe signatures are refused', T, async () => {
    const good = signBody({ algorithm: 'HmacSHA256', key: hmacSecret, body: 'x' });
    for (const value of [null, '%%%not-base64%%%', good.replace(/=+$/, ''), good.replace(/\+/g, '-').replace(/\//g, '_') + '!']) {
      const id = uniq('ds');
      const headers = [['client_id', CLIENT], ['x-e2e-id', id], ['Content-Length', '1']];
      if (value != null) headers.push(['signature', value]);
      const res = await send('POST', '/body-hmacsha256/items', [['Host', new URL(gw.url).host], ...headers], 'x');
      assertDenied(res, DS_MSG('HEADER', 'signature'));
      assertNotForwarded(origin, id);
    }
  });

  test('nothing is trimmed: a signature with a leading space (query param) is refused', T, async () => {
    const id = uniq('ds');
    const body = '{"q":3}';
    const sig = signBody({ algorithm: 'SHA256withRSA', key: keyFor('SHA256withRSA'), body });
    const headers = [['Host', new URL(gw.url).host], ['client_id', CLIENT], ['x-e2e-id', id], ['Content-Length', String(body.length)]];
    const res = await send('POST', `/body-query/items?sig=%20${encodeURIComponent(sig)}`, headers, body);
    assertDenied(res, DS_MSG('QUERY_PARAM', 'sig'));
    assertNotForwarded(origin, id);
  });

  test('query param location: passes, and the message names QUERY_PARAM', T, async () => {
    const id = uniq('ds');
    const body = '{"q":1}';
    const ok = await bodyCall('body-query', { alg: 'SHA256withRSA', body, id, key: keyFor('SHA256withRSA'), query: true });
    assertPassed(ok, origin, id);
    const id2 = uniq('ds');
    const bad = await bodyCall('body-query', { alg: 'SHA256withRSA', body, id: id2, key: keyFor('SHA256withRSA'), query: true, tamper: () => '{"q":2}' });
    assertDenied(bad, DS_MSG('QUERY_PARAM', 'sig'));
  });

  test('a body over max_body_bytes is answered 413 and not forwarded', T, async () => {
    const id = uniq('ds');
    const res = await bodyCall('body-small', { alg: 'HmacSHA256', body: 'x'.repeat(17), id, key: hmacSecret });
    assertFault(res, 413);
    assertNotForwarded(origin, id);
  });

  test('a chunked body (no Content-Length) over max_body_bytes: reading stops, 413', T, async () => {
    const id = uniq('ds');
    const body = 'y'.repeat(64 * 1024);
    const sig = signBody({ algorithm: 'HmacSHA256', key: hmacSecret, body });
    // No Content-Length header: node sends the body chunked.
    const res = await send('POST', '/body-small/items', [['Host', new URL(gw.url).host], ['client_id', CLIENT], ['x-e2e-id', id], ['signature', sig]], body);
    assertFault(res, 413);
    assertNotForwarded(origin, id);
    // Within the limit, chunked: read, verified, forwarded.
    const id2 = uniq('ds');
    const small = '{"n":1}';
    const ok = await send('POST', '/body-small/items', [['Host', new URL(gw.url).host], ['client_id', CLIENT], ['x-e2e-id', id2], ['signature', signBody({ algorithm: 'HmacSHA256', key: hmacSecret, body: small })]], small);
    const seen = assertPassed(ok, origin, id2);
    assert.equal(seen.body.toString('utf8'), small);
  });

  test('a body not sent within timeouts.body_ms: 408, traced body_timeout, never forwarded', { timeout: 30_000 }, async () => {
    const id = uniq('ds');
    const body = '{"late":true}';
    const sig = signBody({ algorithm: 'HmacSHA256', key: hmacSecret, body });
    const t0 = Date.now();
    const res = await send(
      'POST',
      '/body-hmacsha256/items',
      [['Host', new URL(gw.url).host], ['client_id', CLIENT], ['x-e2e-id', id], ['signature', sig], ['Content-Length', String(body.length)]],
      body,
      { bodyDelayMs: BODY_MS + 2500 },
    );
    const waited = Date.now() - t0;
    assertFault(res, 408);
    assert.ok(waited >= BODY_MS - 200 && waited < BODY_MS + 2500, `answered after ${waited} ms`);
    assertNotForwarded(origin, id);
    const e = await dsEntry(res);
    assert.equal(e.cause, 'body_timeout');
    assert.match(e.detail, new RegExp(`reading the request body: .*within ${BODY_MS} ms`));
  });

  test('without the app identified first the signature is never checked (client id denial)', T, async () => {
    const res = await send('POST', '/body-hmacsha256/items', [['Host', new URL(gw.url).host], ['Content-Length', '2']], '{}');
    assert.equal(res.status, 401);
    assert.match(res.text, /^Client Id in the request/);
  });
});

// ---------------------------------------------------------------------------------------------
// RFC 9421

const RFC_ALGS = {
  'rsa-v1_5-sha256': 'test-key-rsa',
  'rsa-pss-sha512': 'test-key-rsa-pss',
  'ecdsa-p256-sha256': 'test-key-ecc-p256',
  ed25519: 'test-key-ed25519',
  'hmac-sha256': 'test-shared-secret',
};

function rfcKey(kid) {
  const k = RFC_KEYS[kid];
  return k.secret_base64 ? Buffer.from(k.secret_base64, 'base64') : k.private_pem;
}

/** Signs and sends a request to an RFC 9421 API. */
async function hmsCall(api, opts = {}) {
  const id = opts.id ?? uniq('hms');
  const alg = opts.alg ?? 'ed25519';
  const keyid = opts.keyid ?? RFC_ALGS[alg];
  const body = opts.body;
  const url = `${String(gw.url).replace(/\/$/, '')}/${api}/items?x=1`;
  const headers = { 'content-type': 'application/json', 'x-tenant': 't1', ...(opts.headers ?? {}) };
  const signed = signRequest({
    method: opts.method ?? 'POST',
    url,
    headers,
    body,
    alg,
    keyid,
    key: rfcKey(opts.signKid ?? keyid),
    components: opts.components ?? ['@method', '@target-uri', ...(body != null ? ['content-digest'] : [])],
    nonce: opts.nonce === undefined ? randomBytes(12).toString('base64url') : opts.nonce,
    created: opts.created,
    expires: opts.expires,
  });
  const all = { ...headers, ...signed };
  if (opts.after) opts.after(all);
  const list = [['Host', new URL(gw.url).host], ['client_id', CLIENT], ['x-e2e-id', id], ...Object.entries(all)];
  const sentBody = opts.sendBody ?? body;
  if (sentBody != null) list.push(['Content-Length', String(Buffer.byteLength(sentBody))]);
  const u = new URL(url);
  const res = await send(opts.method ?? 'POST', u.pathname + u.search, list, sentBody, { bodyDelayMs: opts.bodyDelayMs });
  return { res, id, headers: all };
}

const HMS_MSG = DS_MSG('HEADER', 'Signature');

describe('Digital Signature, RFC 9421 HTTP Message Signatures', () => {
  for (const alg of Object.keys(RFC_ALGS)) {
    test(`${alg}: a signed request with Content-Digest passes; the same bytes are forwarded`, T, async () => {
      const body = JSON.stringify({ alg, n: randomBytes(4).toString('hex') });
      const { res, id } = await hmsCall('hms', { alg, body });
      const seen = assertPassed(res, origin, id);
      assert.equal(seen.body.toString('utf8'), body);
    });
  }

  test('a replayed request (same nonce) is refused; the trace says replayed', T, async () => {
    const body = '{"pay":100}';
    const first = await hmsCall('hms', { body, nonce: 'fixed-nonce-' + uniq('n') });
    assertPassed(first.res, origin, first.id);
    const id = uniq('replay');
    const again = await send(
      'POST',
      '/hms/items?x=1',
      [['Host', new URL(gw.url).host], ['client_id', CLIENT], ['x-e2e-id', id], ...Object.entries(first.headers), ['Content-Length', String(body.length)]],
      body,
    );
    assertDenied(again, HMS_MSG);
    assertNotForwarded(origin, id);
    assert.equal((await dsEntry(again)).cause, 'replayed');
  });

  test('nonces are independent: many fresh nonces in parallel all pass (sharded store)', T, async () => {
    const results = await Promise.all(Array.from({ length: 12 }, () => hmsCall('hms', { body: '{}' })));
    for (const { res, id } of results) assertPassed(res, origin, id);
  });

  test('one signed request with a fresh nonce sent 8 times at once: exactly one 200', T, async () => {
    const body = '{"pay":1}';
    const nonce = 'burst-' + uniq('n');
    const url = `${String(gw.url).replace(/\/$/, '')}/hms/items?x=1`;
    const signed = signRequest({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      body,
      alg: 'ed25519',
      keyid: 'test-key-ed25519',
      key: rfcKey('test-key-ed25519'),
      components: ['@method', '@target-uri', 'content-digest'],
      nonce,
    });
    const headers = [['Host', new URL(gw.url).host], ['client_id', CLIENT], ['content-type', 'application/json'], ...Object.entries(signed), ['Content-Length', String(body.length)]];
    const results = await Promise.all(Array.from({ length: 8 }, () => send('POST', '/hms/items?x=1', headers, body)));
    const passed = results.filter((r) => r.status === 200);
    assert.equal(passed.length, 1, results.map((r) => r.status).join(' '));
    for (const r of results.filter((x) => x.status !== 200)) {
      assertDenied(r, HMS_MSG);
      assert.equal((await dsEntry(r)).cause, 'replayed');
    }
  });

  test('the nonce store forgets a nonce once its window closed (the Durable Object, not a stand-in)', { timeout: 30_000 }, async () => {
    const nonce = 'expiry-' + uniq('n');
    const created = Math.floor(Date.now() / 1000);
    const first = await hmsCall('hms-short', { body: '{}', nonce, created });
    assertPassed(first.res, origin, first.id);
    const again = await hmsCall('hms-short', { body: '{}', nonce });
    assertDenied(again.res, HMS_MSG);
    assert.equal((await dsEntry(again.res)).cause, 'replayed');
    // The first window ends with the last second of created + max_age_seconds (2 s, no skew).
    while (Date.now() < (created + 3) * 1000 + 200) await new Promise((r) => setTimeout(r, 100));
    const later = await hmsCall('hms-short', { body: '{}', nonce });
    assertPassed(later.res, origin, later.id);
  });

  test('a claim reaching the store after the window closed is refused (slow body; the Durable Object)', { timeout: 30_000 }, async () => {
    // Inside the window at arrival; the body (covered by content-digest, so read before the
    // nonce is claimed) arrives 4.5 s later, past the window's end ((created + 3) s).
    const created = Math.floor(Date.now() / 1000);
    const { res, id } = await hmsCall('hms-short', { body: '{"slow":true}', created, bodyDelayMs: 4500 });
    assertDenied(res, HMS_MSG);
    assertNotForwarded(origin, id);
    const e = await dsEntry(res);
    assert.equal(e.cause, 'expired');
    assert.match(e.detail, /closed before its nonce was recorded/);
  });

  test('the same nonce sent twice at once passes exactly once', T, async () => {
    const nonce = 'race-' + uniq('n');
    const first = await hmsCall('hms', { body: '{}', nonce, id: uniq('race') });
    // first already claimed it; a concurrent pair of replays: both refused.
    const replays = await Promise.all(
      [1, 2].map(() =>
        send('POST', '/hms/items?x=1', [['Host', new URL(gw.url).host], ['client_id', CLIENT], ...Object.entries(first.headers), ['Content-Length', '2']], '{}'),
      ),
    );
    assertPassed(first.res, origin, first.id);
    for (const r of replays) assertDenied(r, HMS_MSG);
  });

  test('a body that does not match Content-Digest is refused (digest_mismatch)', T, async () => {
    const { res, id } = await hmsCall('hms', { body: '{"a":1}', sendBody: '{"a":2}' });
    assertDenied(res, HMS_MSG);
    assertNotForwarded(origin, id);
    assert.equal((await dsEntry(res)).cause, 'digest_mismatch');
  });

  test('a request with a body whose signature does not cover content-digest is refused', T, async () => {
    const { res } = await hmsCall('hms', { body: '{"a":1}', components: ['@method', '@target-uri'] });
    assertDenied(res, HMS_MSG);
  });

  test('a signature not covering a required component is refused (missing_component)', T, async () => {
    const { res } = await hmsCall('hms-ed', { components: ['@method', '@path'], method: 'GET' });
    assertDenied(res, HMS_MSG);
    assert.equal((await dsEntry(res)).cause, 'missing_component');
    const ok = await hmsCall('hms-ed', { components: ['@method', '@path', 'x-tenant'], method: 'GET' });
    assertPassed(ok.res, origin, ok.id);
  });

  test('a covered header changed after signing is refused (bad_signature)', T, async () => {
    const { res } = await hmsCall('hms-ed', {
      components: ['@method', '@path', 'x-tenant'],
      method: 'GET',
      after: (h) => {
        h['x-tenant'] = 't2';
      },
    });
    assertDenied(res, HMS_MSG);
    assert.equal((await dsEntry(res)).cause, 'bad_signature');
  });

  test('signatures of the wrong length are a 401 bad_signature, never a fault (ed25519, ecdsa, rsa-pss)', T, async () => {
    for (const [alg, lens] of [
      ['ed25519', [0, 3, 63, 65, 128]],
      ['ecdsa-p256-sha256', [3, 63, 65, 72]],
      ['rsa-pss-sha512', [3, 255, 257]],
    ]) {
      for (const len of lens) {
        const { res } = await hmsCall('hms', {
          alg,
          body: '{}',
          after: (h) => {
            h.Signature = h.Signature.replace(/:[^:]*:$/, `:${randomBytes(len).toString('base64')}:`);
          },
        });
        assertDenied(res, HMS_MSG);
        assert.equal((await dsEntry(res)).cause, 'bad_signature', `${alg}, ${len} bytes`);
      }
    }
  });

  test('an algorithm the API does not allow is refused (alg_not_allowed)', T, async () => {
    const { res } = await hmsCall('hms-ed', { alg: 'hmac-sha256', components: ['@method', '@path', 'x-tenant'], method: 'GET' });
    assertDenied(res, HMS_MSG);
    assert.equal((await dsEntry(res)).cause, 'alg_not_allowed');
  });

  test('created too long ago (expired) and in the future (clock_skew) are refused', T, async () => {
    const now = Math.floor(Date.now() / 1000);
    const old = await hmsCall('hms-ed', { components: ['@method', '@path', 'x-tenant'], method: 'GET', created: now - 3600 });
    assertDenied(old.res, HMS_MSG);
    assert.equal((await dsEntry(old.res)).cause, 'expired');
    const future = await hmsCall('hms-ed', { components: ['@method', '@path', 'x-tenant'], method: 'GET', created: now + 3600 });
    assertDenied(future.res, HMS_MSG);
    assert.equal((await dsEntry(future.res)).cause, 'clock_skew');
    const expired = await hmsCall('hms', { body: '{}', expires: now - 120 });
    assertDenied(expired.res, HMS_MSG);
    assert.equal((await dsEntry(expired.res)).cause, 'expired');
  });

  test('expires may have passed by at most clock_skew_seconds (30 s, as created in the future)', T, async () => {
    const now = Math.floor(Date.now() / 1000);
    const within = await hmsCall('hms', { body: '{}', created: now - 20, expires: now - 15 });
    assertPassed(within.res, origin, within.id);
    const beyond = await hmsCall('hms', { body: '{}', created: now - 50, expires: now - 45 });
    assertDenied(beyond.res, HMS_MSG);
    const e = await dsEntry(beyond.res);
    assert.equal(e.cause, 'expired');
    assert.match(e.detail, /expired \d+s ago/);
  });

  test('an unknown keyid, a key of another type and a wrong key are refused', T, async () => {
    const unknown = await hmsCall('hms', { body: '{}', keyid: 'no-such-key', signKid: 'test-key-ed25519' });
    assertDenied(unknown.res, HMS_MSG);
    assert.equal((await dsEntry(unknown.res)).cause, 'unknown_key');
    // Signed with ed25519 but naming the ECDSA key (pinned to ecdsa-p256-sha256).
    const wrong = await hmsCall('hms', { body: '{}', alg: 'ed25519', keyid: 'test-key-ecc-p256', signKid: 'test-key-ed25519' });
    assertDenied(wrong.res, HMS_MSG);
    assert.equal((await dsEntry(wrong.res)).cause, 'alg_not_allowed');
  });

  test('no nonce: refused where nonces are required, passes where they are not', T, async () => {
    const a = await hmsCall('hms', { body: '{}', nonce: null });
    assertDenied(a.res, HMS_MSG);
    const b = await hmsCall('hms-nononce', { body: '{}', nonce: null });
    assertPassed(b.res, origin, b.id);
  });

  test('missing or malformed Signature headers are refused', T, async () => {
    const host = ['Host', new URL(gw.url).host];
    for (const extra of [
      [],
      [['Signature-Input', 'sig=("@method");created=1']],
      [['Signature-Input', 'sig=("@method"'], ['Signature', 'sig=:AAAA:']],
      [['Signature-Input', 'sig=("@method");created=1'], ['Signature', 'sig=AAAA']],
    ]) {
      const id = uniq('hms');
      const res = await send('GET', '/hms/items', [host, ['client_id', CLIENT], ['x-e2e-id', id], ...extra]);
      assertDenied(res, HMS_MSG);
      assertNotForwarded(origin, id);
    }
  });
});

describe('RFC 9421 Appendix B examples verify in the Worker', () => {
  const seenNonce = new Set();
  for (const c of rfcCases) {
    const name = `${c.section} ${c.label} (${c.alg})${c.valid ? '' : ' (altered: refused)'}`;
    test(name, T, async () => {
      const id = uniq('rfc');
      const u = new URL(c.request.url);
      const base = rfcBases.indexOf('/' + u.pathname.split('/')[1]);
      assert.ok(base >= 0);
      const headers = [...c.request.headers];
      headers.push(['Signature-Input', c.signature_input], ['Signature', c.signature], ['client_id', CLIENT], ['x-e2e-id', id]);
      const res = await send(c.request.method, u.pathname + u.search, headers, c.request.body ?? null);
      const replay = /nonce=/.test(c.signature_input) && seenNonce.has(c.signature_input);
      if (/nonce=/.test(c.signature_input)) seenNonce.add(c.signature_input);
      if (c.valid && !replay) {
        const seen = assertPassed(res, origin, id);
        if (c.request.body != null) assert.equal(seen.body.toString('utf8'), c.request.body);
      } else {
        assertDenied(res, HMS_MSG);
      }
    });
  }

  test('B.2.1 sent again: its nonce is refused as a replay', T, async () => {
    const c = rfcCases.find((x) => x.section === 'B.2.1');
    const u = new URL(c.request.url);
    const headers = [...c.request.headers, ['Signature-Input', c.signature_input], ['Signature', c.signature], ['client_id', CLIENT]];
    const res = await send(c.request.method, u.pathname + u.search, headers, c.request.body);
    assertDenied(res, HMS_MSG);
  });
});

describe('the nonce store failing', () => {
  let broken;
  before(async () => {
    const policy = makePolicy(origin.url, rfcBases);
    broken = await startGateway({ policy, records: records(policy.apis.map((a) => a.name)), brokenNonces: true });
  }, H);
  after(async () => {
    await broken?.dispose();
  }, H);

  test('fails closed: 503, never forwarded, the trace says store_unavailable', T, async () => {
    const id = uniq('hms');
    const body = '{"a":1}';
    const url = `${String(broken.url).replace(/\/$/, '')}/hms/items?x=1`;
    const signed = signRequest({
      method: 'POST',
      url,
      headers: {},
      body,
      alg: 'ed25519',
      keyid: 'test-key-ed25519',
      key: rfcKey('test-key-ed25519'),
      components: ['@method', '@target-uri', 'content-digest'],
      nonce: randomBytes(12).toString('base64url'),
    });
    const res = await broken.request('/hms/items?x=1', {
      method: 'POST',
      headers: [['client_id', CLIENT], ...Object.entries(signed)],
      body,
      id,
    });
    assertFault(res, 503);
    assertNotForwarded(origin, id);
    assert.equal((await broken.entryOf(res.traceId, 'digital_signature')).cause, 'store_unavailable');
  });
});
