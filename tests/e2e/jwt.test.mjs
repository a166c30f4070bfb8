// JWT Validation end to end: the built Worker in Miniflare verifies RS/PS/ES/EdDSA signatures in
// workerd's WebCrypto and HMAC in Rust; keys come from local KV or from a local JWKS server
// (rotation, unknown kid, server down). Tokens are signed at test time (jose) with the committed
// test keys in tests/fixtures/jwt-keys.json; the RFC 7515 appendix A and RFC 8037 examples are
// checked as published. Every denial is the one JWT message; the trace says why.

import { CompactSign, importJWK } from 'jose';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  HOOK_TIMEOUT,
  REPO,
  TEST_TIMEOUT,
  appRecord,
  assert,
  assertDenied,
  assertFault,
  assertNotForwarded,
  assertPassed,
  closedPort,
  startGateway,
  startOrigin,
  uniq,
} from './harness.mjs';

const T = { timeout: TEST_TIMEOUT };
const H = { timeout: HOOK_TIMEOUT };

const FIX = JSON.parse(readFileSync(path.join(REPO, 'tests/fixtures/jwt-keys.json'), 'utf8'));
const ALGS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'EdDSA'];
const ISS = 'https://idp.e2e.example';
const ISS_JWKS = 'https://jwks-idp.e2e.example';
const now = () => Math.floor(Date.now() / 1000);

const MSG = (loc = 'HEADER', name = 'Authorization') =>
  `JWT in the request, identified by ${loc} ${name}, is invalid. Check docs.sensedia.com`;
const LINE = (loc = 'HEADER', name = 'Authorization') =>
  `JWT in ${loc} ${name} HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call`;

// RFC 7515 A.1 (HS256), A.2 (RS256), A.3 (ES256): issuer "joe", exp 1300819380. RFC 8037 A.4
// (Ed25519): the payload is the sentence "Example of Ed25519 signing", not a claims set.
const RFC = {
  hs256: 'eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk',
  rs256:
    'eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw',
  es256:
    'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q',
  ed25519:
    'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg',
};
const RFC_KEYS = {
  joe: {
    keys: [
      { kty: 'oct', alg: 'HS256', k: 'AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow' },
      {
        kty: 'RSA',
        alg: 'RS256',
        e: 'AQAB',
        n: 'ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ',
      },
      {
        kty: 'EC',
        alg: 'ES256',
        crv: 'P-256',
        x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
        y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
      },
    ],
  },
  rfc8037: { keys: [{ kty: 'OKP', alg: 'EdDSA', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] },
};

/** The fixture key an algorithm signs with. */
function privateJwk(alg) {
  if (alg.startsWith('HS')) return FIX[alg.toLowerCase()];
  if (alg.startsWith('RS') || alg.startsWith('PS')) return FIX.rsa;
  return alg === 'ES256' ? FIX.p256 : FIX.ed25519;
}

/** A private JWK's public half (oct keys stay as they are). */
function publicJwk(jwk) {
  if (jwk.kty === 'oct') return { ...jwk };
  const { d, p, q, dp, dq, qi, ...pub } = jwk;
  return pub;
}

/** The issuer record in KV: one key per algorithm, kid = the algorithm in lowercase. */
function issuerRecord() {
  return { keys: ALGS.map((alg) => ({ ...publicJwk(privateJwk(alg)), kid: alg.toLowerCase(), alg })) };
}

const b64 = (s) => Buffer.from(s).toString('base64url');

function claims(patch = {}) {
  const c = {
    iss: ISS,
    sub: 'alice',
    aud: 'orders',
    iat: now() - 10,
    exp: now() + 300,
    jti: uniq('jti'),
    client_id: 'jwt-app',
    ...patch,
  };
  for (const [k, v] of Object.entries(c)) if (v === null) delete c[k];
  return c;
}

async function sign(alg, payload = claims(), { kid = alg.toLowerCase(), key = privateJwk(alg), header = {} } = {}) {
  const k = await importJWK(key, alg);
  const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return new CompactSign(new TextEncoder().encode(body)).setProtectedHeader({ alg, kid, typ: 'JWT', ...header }).sign(k);
}

/** A local JWKS server: what it serves can change; counts the fetches. */
async function startJwks() {
  const state = { status: 200, keys: [], hits: 0 };
  const server = http.createServer((req, res) => {
    state.hits += 1;
    if (state.status !== 200) {
      res.writeHead(state.status, { 'content-type': 'text/plain' });
      res.end('unavailable');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    state,
    url: `http://127.0.0.1:${server.address().port}/.well-known/jwks.json`,
    close: () => new Promise((r) => (server.closeAllConnections?.(), server.close(r))),
  };
}

/** Every trace entry the Worker wrote for `requestPath`. */
async function traceFor(gw, requestPath) {
  const ok = await gw.waitForOutput([`"path":"${requestPath}"`], 3000);
  assert.ok(ok, `no trace for ${requestPath}; output: ${gw.output().slice(-800)}`);
  const out = [];
  for (const line of gw.output().split('\n')) {
    const t = line.trim();
    if (!t.startsWith('[{')) continue;
    try {
      out.push(...JSON.parse(t).filter((e) => e.path === requestPath));
    } catch {
      // not a trace line
    }
  }
  return out;
}

async function jwtEntry(gw, requestPath) {
  const e = (await traceFor(gw, requestPath)).find((x) => x.interceptor === 'jwt');
  assert.ok(e, `no jwt entry for ${requestPath}`);
  return e;
}

describe('JWT Validation', H, () => {
  let origin;
  let jwks;
  let gw;
  let downUrl;

  before(async () => {
    origin = await startOrigin();
    jwks = await startJwks();
    downUrl = `http://127.0.0.1:${await closedPort()}/jwks.json`;
    const api = (name, interceptor) => ({ name, base_path: `/${name}`, origin: origin.url, interceptors: [interceptor] });
    const jwt = (fields) => ({ type: 'jwt', ...fields });
    const policy = {
      apis: [
        api(
          'kv',
          jwt({
            audiences: ['orders'],
            required_claims: ['sub'],
            max_lifetime_seconds: 3600,
            identity_claims: ['client_id'],
            forward_claims: { sub: 'x-jwt-sub', scope: 'x-jwt-scope' },
            hide_credential: true,
            issuers: [{ issuer: ISS, algorithms: ALGS }],
          }),
        ),
        api('pem', jwt({ issuers: [{ issuer: 'pem-issuer', algorithms: ['RS256', 'PS512', 'ES256', 'EdDSA'] }] })),
        api(
          'jwks',
          jwt({
            check_jti: false,
            issuers: [
              { issuer: ISS_JWKS, algorithms: ['RS256', 'ES256', 'EdDSA'], jwks_url: jwks.url, jwks_min_refetch_seconds: 2 },
            ],
          }),
        ),
        api(
          'jwks-short',
          jwt({
            check_jti: false,
            issuers: [
              {
                issuer: ISS_JWKS,
                algorithms: ['ES256'],
                jwks_url: `${jwks.url}?short`,
                jwks_ttl_seconds: 1,
                jwks_min_refetch_seconds: 1,
              },
            ],
          }),
        ),
        api('down', jwt({ issuers: [{ issuer: ISS_JWKS, algorithms: ['RS256'], jwks_url: downUrl }] })),
        api('rfc', jwt({ check_jti: false, leeway_seconds: 1_000_000_000, issuers: [{ issuer: 'joe', algorithms: ['HS256', 'RS256', 'ES256'] }] })),
        api('rfc-strict', jwt({ check_jti: false, issuers: [{ issuer: 'joe', algorithms: ['HS256', 'RS256', 'ES256'] }] })),
        api('rfc8037', jwt({ issuers: [{ issuer: 'rfc8037', algorithms: ['EdDSA'] }] })),
        api('query', jwt({ location: 'query', name: 'jwt', format: 'json', issuers: [{ issuer: ISS, algorithms: ['ES256'] }] })),
        api('cookie', jwt({ location: 'cookie', name: 'session', issuers: [{ issuer: ISS, algorithms: ['EdDSA'] }] })),
      ],
    };
    const records = {
      [`jwt-issuer:${ISS}`]: issuerRecord(),
      'jwt-issuer:pem-issuer': {
        keys: [
          { kid: 'r', alg: 'RS256', pem: FIX.pem.rsa },
          { kid: 'p', alg: 'PS512', pem: FIX.pem.rsa },
          { kid: 'e', alg: 'ES256', pem: FIX.pem.p256 },
          { kid: 'd', alg: 'EdDSA', pem: FIX.pem.ed25519, not_after: '2099-01-01T00:00:00Z' },
        ],
      },
      'jwt-issuer:joe': RFC_KEYS.joe,
      'jwt-issuer:rfc8037': RFC_KEYS.rfc8037,
      [`jti:${ISS}:revoked-jti`]: { revoked: true, expires_at: new Date(Date.now() + 3600_000).toISOString() },
      'app:jwt-app': appRecord({ name: 'JWT App', access: [{ api: 'kv' }] }),
      'app:jwt-pending': appRecord({ status: 'PENDING', access: [{ api: 'kv' }] }),
    };
    gw = await startGateway({ policy, records });
  }, H);

  after(async () => {
    await gw?.dispose();
    await jwks?.close();
    await origin?.close();
  }, H);

  const call = (p, token, extra = []) =>
    gw.request(p, { id: p, headers: [['Authorization', `Bearer ${token}`], ...extra] });

  test('every algorithm passes, with the app named by the token and its claims as headers', T, async () => {
    for (const alg of ALGS) {
      const t = await sign(alg, claims({ scope: 'orders:read' }));
      for (const round of [1, 2]) {
        const p = `/kv/${alg}/${round}/${uniq()}`;
        const res = await call(p, t, [['x-jwt-sub', 'forged'], ['x-edge-client-id', 'forged']]);
        const seen = assertPassed(res, origin, p);
        assert.equal(seen.headers.authorization, undefined, 'hide_credential');
        assert.equal(seen.headers['x-jwt-sub'], 'alice');
        assert.equal(seen.headers['x-jwt-scope'], 'orders:read');
        assert.equal(seen.headers['x-edge-client-id'], 'jwt-app');
        assert.equal(seen.headers['x-edge-app-name'], 'JWT App');
        const e = await jwtEntry(gw, p);
        assert.equal(e.outcome, 'pass');
        assert.equal(e.client_id, 'jwt-app');
      }
    }
  });

  test('every algorithm refuses a signature by another key and a changed payload', T, async () => {
    const other = {
      rsa: FIX.rsa_rotated,
      p256: FIX.p256_other,
      ed25519: FIX.ed25519_other,
    };
    for (const alg of ALGS) {
      const key = alg.startsWith('HS')
        ? { kty: 'oct', k: b64('x'.repeat(64)) }
        : alg === 'ES256'
          ? other.p256
          : alg === 'EdDSA'
            ? other.ed25519
            : other.rsa;
      const forged = await sign(alg, claims(), { key });
      const good = (await sign(alg, claims())).split('.');
      const changed = [good[0], b64(JSON.stringify(claims({ sub: 'mallory' }))), good[2]].join('.');
      for (const t of [forged, changed]) {
        const p = `/kv/bad-${alg}/${uniq()}`;
        assertDenied(await call(p, t), MSG());
        assertNotForwarded(origin, p);
        const e = await jwtEntry(gw, p);
        assert.equal(e.cause, 'bad_signature', `${alg}: ${JSON.stringify(e)}`);
        assert.equal(e.line, LINE());
      }
    }
  });

  test('keys given as PEM verify', T, async () => {
    for (const [alg, kid] of [['RS256', 'r'], ['PS512', 'p'], ['ES256', 'e'], ['EdDSA', 'd']]) {
      const p = `/pem/${alg}/${uniq()}`;
      const t = await sign(alg, claims({ iss: 'pem-issuer' }), { kid });
      assertPassed(await call(p, t), origin, p);
    }
  });

  test('each cause: one 401 for the client, its own cause in the trace', T, async () => {
    const none = `${b64(JSON.stringify({ alg: 'none' }))}.${b64(JSON.stringify(claims()))}.`;
    const rsaPublicAsSecret = { kty: 'oct', k: b64(JSON.stringify(publicJwk(FIX.rsa))) };
    const cases = [
      ['expired', await sign('ES256', claims({ exp: now() - 120 }))],
      ['not_yet_valid', await sign('EdDSA', claims({ nbf: now() + 120 }))],
      ['not_yet_valid', await sign('HS256', claims({ iat: now() + 120 }))],
      ['wrong_issuer', await sign('RS256', claims({ iss: 'https://evil.example' }))],
      ['wrong_audience', await sign('PS256', claims({ aud: ['billing'] }))],
      ['missing_claim', await sign('ES256', claims({ sub: null }))],
      ['missing_claim', await sign('ES256', claims({ exp: null }))],
      ['missing_claim', await sign('ES256', claims({ client_id: null }))],
      ['too_long_lived', await sign('EdDSA', claims({ iat: now() - 10, exp: now() + 7200 }))],
      ['revoked', await sign('ES256', claims({ jti: 'revoked-jti' }))],
      ['unknown_key', await sign('ES256', claims(), { kid: 'no-such-kid' })],
      ['alg_not_allowed', none],
      // Algorithm confusion: HS256 with the RSA public key as the secret, naming the RSA key.
      ['alg_not_allowed', await sign('HS256', claims(), { kid: 'rs256', key: rsaPublicAsSecret })],
      ['malformed', 'not.a.jwt'],
      ['malformed', await sign('ES256', 'not json')],
      ['app_not_found', await sign('ES256', claims({ client_id: 'nobody' }))],
      ['app_not_approved', await sign('ES256', claims({ client_id: 'jwt-pending' }))],
    ];
    for (const [cause, t] of cases) {
      const p = `/kv/cause-${cause}/${uniq()}`;
      assertDenied(await call(p, t), MSG());
      assertNotForwarded(origin, p);
      const e = await jwtEntry(gw, p);
      assert.equal(e.cause, cause, JSON.stringify(e));
      assert.equal(e.line, LINE());
      assert.match(e.fingerprint, /^sha256:[0-9a-f]{16}$/);
      const payload = t.split('.')[1] ?? '';
      if (payload.length > 16) assert.ok(!gw.output().includes(payload), 'the token never reaches the trace');
    }
    // No token, another scheme: missing, malformed.
    let p = `/kv/none/${uniq()}`;
    assertDenied(await gw.request(p, { id: p }), MSG());
    assert.equal((await jwtEntry(gw, p)).cause, 'missing');
    p = `/kv/basic/${uniq()}`;
    assertDenied(await gw.request(p, { id: p, headers: [['Authorization', 'Basic dXNlcjpwYXNz']] }), MSG());
    assert.equal((await jwtEntry(gw, p)).cause, 'malformed');
  });

  test('query and cookie locations', T, async () => {
    const es = await sign('ES256', claims());
    let p = `/query/${uniq()}`;
    assertPassed(await gw.request(`${p}?jwt=${es}`, { id: p }), origin, p);
    p = `/query/${uniq()}`;
    assertDenied(await gw.request(`${p}?jwt=${es}x`, { id: p }), MSG('QUERY_PARAM', 'jwt'), 'json');
    const ed = await sign('EdDSA', claims());
    p = `/cookie/${uniq()}`;
    assertPassed(await gw.request(p, { id: p, headers: [['Cookie', `a=1; session=${ed}`]] }), origin, p);
    p = `/cookie/${uniq()}`;
    assertDenied(await gw.request(p, { id: p }), MSG('COOKIE', 'session'));
  });

  test('RFC 7515 appendix A and RFC 8037 examples verify', T, async () => {
    // Verified (WebCrypto for RS256/ES256, Rust for HS256) and accepted under a leeway wide
    // enough for their 2011 expiry...
    for (const t of [RFC.hs256, RFC.rs256, RFC.es256]) {
      const p = `/rfc/${uniq()}`;
      assertPassed(await call(p, t), origin, p);
      // ...expired under the default leeway (checked after the signature)...
      const q = `/rfc-strict/${uniq()}`;
      assertDenied(await call(q, t), MSG());
      assert.equal((await jwtEntry(gw, q)).cause, 'expired');
      // ...and refused with one changed byte.
      const r = `/rfc/${uniq()}`;
      assertDenied(await call(r, t.replace('.eyJpc3MiOiJqb2U', '.eyJpc3MiOiJqb2V')), MSG());
      assert.equal((await jwtEntry(gw, r)).cause, 'bad_signature');
    }
    // RFC 8037: the signature verifies; the payload is not a claims set.
    let p = `/rfc8037/${uniq()}`;
    assertDenied(await call(p, RFC.ed25519), MSG());
    let e = await jwtEntry(gw, p);
    assert.equal(e.cause, 'malformed');
    assert.match(e.detail, /^the signature is valid, but the payload is not a JWT claims set/);
    p = `/rfc8037/${uniq()}`;
    assertDenied(await call(p, RFC.ed25519.replace('.hgyY', '.hgyZ')), MSG());
    e = await jwtEntry(gw, p);
    assert.equal(e.cause, 'bad_signature');
  });

  test('JWKS: fetched once, rotation via an unknown kid at most once per interval, stale when down', T, async () => {
    const jwk = (key, kid, alg) => ({ ...publicJwk(key), kid, alg });
    jwks.state.keys = [jwk(FIX.rsa, 'k1', 'RS256'), jwk(FIX.ed25519, 'k3', 'EdDSA')];
    const tok = (alg, kid, key) => sign(alg, claims({ iss: ISS_JWKS }), { kid, key });
    const pass = async (t) => {
      const p = `/jwks/${uniq()}`;
      assertPassed(await call(p, t), origin, p);
    };
    const deny = async (t, cause) => {
      const p = `/jwks/${uniq()}`;
      assertDenied(await call(p, t), MSG());
      assert.equal((await jwtEntry(gw, p)).cause, cause);
    };
    await pass(await tok('RS256', 'k1', FIX.rsa));
    await pass(await tok('EdDSA', 'k3', FIX.ed25519));
    await pass(await tok('RS256', 'k1', FIX.rsa));
    assert.equal(jwks.state.hits, 1, 'one fetch serves every request');

    // Rotation: the IdP starts signing with k2.
    jwks.state.keys.push(jwk(FIX.rsa_rotated, 'k2', 'RS256'));
    const k2 = await tok('RS256', 'k2', FIX.rsa_rotated);
    await new Promise((r) => setTimeout(r, 2100)); // past the refetch interval
    await pass(k2);
    assert.equal(jwks.state.hits, 2, 'an unknown kid refetched the set');
    // Unknown kids do not hammer the IdP: one fetch per interval at most.
    for (let i = 0; i < 3; i++) await deny(await tok('RS256', `nope-${i}`, FIX.rsa), 'unknown_key');
    assert.equal(jwks.state.hits, 2);

    // The IdP goes down: the keys already fetched keep serving.
    jwks.state.status = 503;
    await new Promise((r) => setTimeout(r, 2100));
    await deny(await tok('RS256', 'nope-x', FIX.rsa), 'unknown_key');
    assert.equal(jwks.state.hits, 3, 'tried again after the interval');
    await pass(k2);
    await pass(await tok('RS256', 'k1', FIX.rsa));
    jwks.state.status = 200;
  });

  test('JWKS: past the TTL a failed refetch serves the old keys (stale-if-error)', T, async () => {
    jwks.state.status = 200;
    jwks.state.keys = [{ ...publicJwk(FIX.p256), kid: 'short', alg: 'ES256' }];
    const t = await sign('ES256', claims({ iss: ISS_JWKS }), { kid: 'short' });
    let p = `/jwks-short/${uniq()}`;
    assertPassed(await call(p, t), origin, p);
    const hits = jwks.state.hits;
    jwks.state.status = 500;
    await new Promise((r) => setTimeout(r, 1100)); // the 1 s TTL has passed
    const t2 = await sign('ES256', claims({ iss: ISS_JWKS }), { kid: 'short' });
    p = `/jwks-short/${uniq()}`;
    assertPassed(await call(p, t2), origin, p);
    assert.equal(jwks.state.hits, hits + 1, 'a refetch was tried');
    jwks.state.status = 200;
  });

  test('a JWKS never fetched and unreachable is a 503, not a 401', T, async () => {
    const p = `/down/${uniq()}`;
    const t = await sign('RS256', claims({ iss: ISS_JWKS }), { kid: 'k1' });
    const res = await call(p, t);
    assertFault(res, 503, [t]);
    assertNotForwarded(origin, p);
    const e = (await traceFor(gw, p)).find((x) => x.interceptor === 'jwt');
    assert.equal(e.outcome, 'fault');
    assert.equal(e.cause, 'keys_unavailable');
  });
});
