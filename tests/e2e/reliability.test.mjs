// Reliability (issue 12): time limits on the origin, KV and the nonce store (504 / 503, fail
// closed, each traced with its cause), concurrent reads of one KV key merged into one, and the
// inputs that turned into 5xx (a JWT with an extreme nbf, signatures of the wrong length), through
// the built Worker with stand-in KV and nonce-store bindings that this process controls.
import { createHash, createHmac, generateKeyPairSync, randomBytes, sign as edSign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  HOOK_TIMEOUT,
  TEST_TIMEOUT,
  appKey,
  appRecord,
  assert,
  assertDenied,
  assertFault,
  assertNotForwarded,
  assertPassed,
  parts,
  startGateway,
  startOrigin,
  tokenKey,
  tokenRecord,
  uniq,
} from './harness.mjs';
import { signRequest } from '../../scripts/sign-request.mjs';

const T = { timeout: TEST_TIMEOUT };
const H = { timeout: HOOK_TIMEOUT };

const APP = uniq('rel-app');
const TOKEN = `rel-${uniq('tok')}-secret`;
const ISS = 'https://idp.reliability.test';
const HS_SECRET = randomBytes(32);
const ED = generateKeyPairSync('ed25519');
const HMAC_SECRET = randomBytes(32);
// Time limits short enough for a quick test, long enough for a loaded 2-core machine.
const KV_MS = 1500;
const NONCE_MS = 1500;
const ORIGIN_MS = 1000;

const b64u = (b) => Buffer.from(b).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function jwt(alg, kid, claims, sig) {
  const input = `${b64u(JSON.stringify({ alg, kid, typ: 'JWT' }))}.${b64u(JSON.stringify(claims))}`;
  let s = sig;
  if (s === undefined && alg === 'HS256') s = createHmac('sha256', HS_SECRET).update(input).digest();
  if (s === undefined && alg === 'EdDSA') s = edSign(null, Buffer.from(input), ED.privateKey);
  return `${input}.${b64u(s)}`;
}
const claims = (extra = {}) => ({ iss: ISS, sub: 'alice', exp: now() + 600, ...extra });

function policy(originUrl) {
  const api = (name, interceptors, extra = {}) => ({ name, base_path: `/${name}`, origin: `${originUrl}/${name}`, interceptors, ...extra });
  return {
    cache: { ttl_seconds: 30, negative_ttl_seconds: 1 },
    timeouts: { kv_ms: KV_MS, nonce_store_ms: NONCE_MS, origin_ms: 20_000 },
    apis: [
      api('orders', [{ type: 'oauth' }], { origin_timeout_ms: ORIGIN_MS }),
      api('slow-ok', [{ type: 'oauth' }]),
      api('tokens', [{ type: 'access_token' }]),
      api('clients', [{ type: 'client_id' }]),
      api('signed', [
        { type: 'client_id' },
        { type: 'digital_signature', mode: 'http_message_signatures', required_components: ['@method', '@target-uri'] },
      ]),
      api('jwt', [{ type: 'jwt', check_jti: false, issuers: [{ issuer: ISS, algorithms: ['HS256', 'EdDSA'] }] }]),
    ],
    // The token endpoint's own time limit on KV (store_timeout_ms).
    authorization_servers: [{ name: 'rel-issuer', base_path: '/oauth', grants: ['client_credentials'], endpoints: ['access-token'], store_timeout_ms: KV_MS }],
  };
}

const RECORDS = {
  [appKey(APP)]: appRecord({
    access: ['orders', 'slow-ok', 'tokens', 'clients', 'signed'].map((api) => ({ api })),
    hmac_secrets: [{ kid: 'rel-hmac', secret_b64: HMAC_SECRET.toString('base64') }],
  }),
  [tokenKey(TOKEN)]: tokenRecord({ client_id: APP }),
  [`jwt-issuer:${ISS}`]: {
    keys: [
      { kty: 'oct', kid: 'h1', alg: 'HS256', k: b64u(HS_SECRET) },
      { ...ED.publicKey.export({ format: 'jwk' }), kid: 'd1', alg: 'EdDSA' },
    ],
  },
};

const oauth = (client = APP, token = TOKEN) => parts({ headers: [['client_id', client], ['access_token', token]] });

async function timed(fn) {
  const t0 = Date.now();
  const res = await fn();
  return { res, ms: Date.now() - t0 };
}

let origin;
let gw;

before(async () => {
  origin = await startOrigin();
  gw = await startGateway({ policy: policy(origin.url), records: RECORDS, standins: { kv: true, nonces: true } });
}, H);

after(async () => {
  await gw?.dispose();
  await origin?.close();
}, H);

describe('the origin has a time limit (per API)', () => {
  test('no response headers within origin_timeout_ms: 504, traced origin_timeout', T, async () => {
    const id = uniq('hang');
    const { res, ms } = await timed(() => gw.request('/orders/hang/1', { id, p: oauth() }));
    assertFault(res, 504, [TOKEN, '127.0.0.1']);
    assert.ok(ms >= ORIGIN_MS - 50 && ms < ORIGIN_MS + 4000, `answered after ${ms} ms`);
    const entries = await gw.traceOf(res.traceId);
    const fwd = entries.find((e) => e.interceptor === 'forward');
    assert.equal(fwd.outcome, 'fault');
    assert.equal(fwd.cause, 'origin_timeout');
    assert.equal(fwd.status, 504);
    assert.match(fwd.detail, new RegExp(`within ${ORIGIN_MS} ms`));
  });

  test('headers within the limit: the answer passes; a body slower than the limit still streams whole', T, async () => {
    const id = uniq('delay');
    assertPassed(await gw.request(`/orders/delay/${ORIGIN_MS / 5}/x`, { id, p: oauth() }), origin, id);
    const id2 = uniq('slowbody');
    const res = await gw.request(`/orders/slowbody/${ORIGIN_MS * 3}/x`, { id: id2, p: oauth() });
    const seen = assertPassed(res, origin, id2);
    assert.ok(seen);
    assert.equal(res.text, 'first;second');
  });

  test('another API keeps the policy default (20 s): a 2.5 s origin passes there, not under the 1 s API', T, async () => {
    const id = uniq('slow');
    assertPassed(await gw.request('/slow-ok/delay/2500/x', { id, p: oauth() }), origin, id);
    assertFault(await gw.request('/orders/delay/2500/x', { p: oauth() }), 504);
  });
});

describe('KV has a time limit and fails closed', () => {
  test('a hanging read: 503 within kv_ms, traced store_timeout; nothing cached, so it passes once KV answers', T, async () => {
    const client = uniq('kv-hang');
    await gw.seed({ [appKey(client)]: appRecord({ access: [{ api: 'clients' }] }) });
    gw.kv.mode = (key) => (key === appKey(client) ? 'hang' : 'pass');
    try {
      const id = uniq('kvh');
      const { res, ms } = await timed(() => gw.request('/clients/x', { id, p: parts({ headers: [['client_id', client]] }) }));
      assertFault(res, 503, [client]);
      assertNotForwarded(origin, id);
      assert.ok(ms >= KV_MS - 50 && ms < KV_MS + 4000, `answered after ${ms} ms`);
      const e = await gw.entryOf(res.traceId, 'client_id');
      assert.equal(e.outcome, 'fault');
      assert.equal(e.cause, 'store_timeout');
      assert.match(e.detail, new RegExp(`within ${KV_MS} ms`));
    } finally {
      gw.kv.mode = () => 'pass';
    }
    const id = uniq('kvh-ok');
    assertPassed(await gw.request('/clients/x', { id, p: parts({ headers: [['client_id', client]] }) }), origin, id);
  });

  test('a failing read: 503, traced store_unavailable', T, async () => {
    const client = uniq('kv-fail');
    gw.kv.mode = (key) => (key === appKey(client) ? 'fail' : 'pass');
    try {
      const res = await gw.request('/clients/x', { p: parts({ headers: [['client_id', client]] }) });
      assertFault(res, 503, [client]);
      const e = await gw.entryOf(res.traceId, 'client_id');
      assert.equal(e.cause, 'store_unavailable');
    } finally {
      gw.kv.mode = () => 'pass';
    }
  });
});

describe('the authorization server: KV has its time limit there too', () => {
  test('a hanging app read at the token endpoint: 503 within store_timeout_ms, traced store_timeout, no token', T, async () => {
    const client = uniq('authz-kv-hang');
    const secret = `s-${randomBytes(8).toString('hex')}`;
    await gw.seed({ [appKey(client)]: appRecord({ client_secret_sha256: createHash('sha256').update(secret).digest('hex') }) });
    const token = () =>
      gw.request('/oauth/access-token', {
        method: 'POST',
        headers: [
          ['Content-Type', 'application/x-www-form-urlencoded'],
          ['Authorization', `Basic ${Buffer.from(`${client}:${secret}`).toString('base64')}`],
        ],
        body: 'grant_type=client_credentials',
      });
    gw.kv.mode = (key) => (key === appKey(client) ? 'hang' : 'pass');
    gw.clearOutput();
    try {
      const { res, ms } = await timed(token);
      assertFault(res, 503, [client, secret]);
      assert.ok(ms >= KV_MS - 50 && ms < KV_MS + 4000, `answered after ${ms} ms`);
      const e = await gw.entryOf(res.traceId, 'access-token');
      assert.equal(e.outcome, 'fault');
      assert.equal(e.cause, 'store_timeout');
      assert.match(e.detail, new RegExp(`${client}.*within ${KV_MS} ms`));
      assert.ok(!e.detail.includes(secret));
    } finally {
      gw.kv.mode = () => 'pass';
    }
    // Nothing of the hanging read was kept: once KV answers, the same request gets its token.
    assert.equal((await token()).status, 201);
  });
});

describe('the nonce store has a time limit and fails closed', () => {
  function signed(id) {
    const url = `${String(gw.url).replace(/\/$/, '')}/signed/items`;
    const headers = signRequest({
      method: 'GET',
      url,
      headers: {},
      alg: 'hmac-sha256',
      keyid: 'rel-hmac',
      key: HMAC_SECRET,
      components: ['@method', '@target-uri'],
      nonce: randomBytes(12).toString('base64url'),
    });
    return gw.request('/signed/items', { id, headers: [['client_id', APP], ...Object.entries(headers)] });
  }

  for (const [mode, status, cause] of [
    ['hang', 503, 'store_timeout'],
    ['fail', 503, 'store_unavailable'],
  ]) {
    test(`a store that ${mode === 'hang' ? 'hangs' : 'fails'}: ${status}, traced ${cause}, not forwarded`, T, async () => {
      gw.nonces.mode = mode;
      try {
        const id = uniq(`nonce-${mode}`);
        const { res, ms } = await timed(() => signed(id));
        assertFault(res, status);
        assertNotForwarded(origin, id);
        if (mode === 'hang') assert.ok(ms >= NONCE_MS - 50 && ms < NONCE_MS + 4000, `answered after ${ms} ms`);
        const e = await gw.entryOf(res.traceId, 'digital_signature');
        assert.equal(e.outcome, 'fault');
        assert.equal(e.cause, cause);
      } finally {
        gw.nonces.mode = 'fresh';
      }
    });
  }

  test('a store that answers: fresh passes, replayed is a 401', T, async () => {
    const id = uniq('nonce-ok');
    assertPassed(await signed(id), origin, id);
    gw.nonces.mode = 'replayed';
    try {
      const res = await signed(uniq('nonce-replayed'));
      assert.equal(res.status, 401);
      assert.equal((await gw.entryOf(res.traceId, 'digital_signature')).cause, 'replayed');
    } finally {
      gw.nonces.mode = 'fresh';
    }
  });
});

describe('concurrent reads of one KV key are merged', () => {
  test('50 requests at once with one unknown token read its key once, again once after the negative entry expires', T, async () => {
    const unknown = `unknown-${uniq('tok')}`;
    const key = tokenKey(unknown);
    gw.kv.mode = () => ({ delayMs: 300 });
    try {
      for (const round of [1, 2]) {
        const results = await Promise.all(
          Array.from({ length: 50 }, () => gw.request('/tokens/x', { p: parts({ headers: [['access_token', unknown]] }), traced: false })),
        );
        for (const r of results) assert.equal(r.status, 401);
        assert.equal(gw.kv.count(key), round, `reads of the token's key after burst ${round}`);
        // The negative entry (negative_ttl_seconds = 1) expires before the next burst.
        await new Promise((r) => setTimeout(r, 1200));
      }
    } finally {
      gw.kv.mode = () => 'pass';
    }
  });

  test('OAuth: a burst for one app and token reads each key once', T, async () => {
    const client = uniq('burst-app');
    const token = `burst-${uniq('tok')}`;
    await gw.seed({
      [appKey(client)]: appRecord({ access: [{ api: 'orders' }] }),
      [tokenKey(token)]: tokenRecord({ client_id: client }),
    });
    gw.kv.mode = () => ({ delayMs: 300 });
    try {
      const results = await Promise.all(Array.from({ length: 30 }, () => gw.request('/orders/b', { p: oauth(client, token), traced: false })));
      for (const r of results) assert.equal(r.status, 200, r.text);
      assert.equal(gw.kv.count(appKey(client)), 1);
      assert.equal(gw.kv.count(tokenKey(token)), 1);
    } finally {
      gw.kv.mode = () => 'pass';
    }
  });
});

describe('credentials longer than any key are refused without a read', () => {
  test('an access token over 4,096 bytes and a client id over 512: 401 too_long, no KV read', T, async () => {
    gw.kv.reset();
    const long = 't'.repeat(4097);
    const res = await gw.request('/tokens/x', { p: parts({ headers: [['access_token', long]] }) });
    assert.equal(res.status, 401);
    assert.equal((await gw.entryOf(res.traceId, 'access_token')).cause, 'too_long');
    const res2 = await gw.request('/clients/x', { p: parts({ headers: [['client_id', 'c'.repeat(600)]] }) });
    assert.equal(res2.status, 401);
    assert.equal((await gw.entryOf(res2.traceId, 'client_id')).cause, 'too_long');
    assert.equal(gw.kv.total, 0, `KV reads: ${JSON.stringify([...gw.kv.reads.keys()].map((k) => k.slice(0, 20)))}`);
    // 4,096 bytes exactly is looked up (and unknown).
    const res3 = await gw.request('/tokens/x', { p: parts({ headers: [['access_token', 't'.repeat(4096)]] }) });
    assert.equal(res3.status, 401);
    assert.equal((await gw.entryOf(res3.traceId, 'access_token')).cause, 'not_found');
    assert.equal(gw.kv.total, 1);
  });
});

describe('inputs that were 5xx (issue 12)', () => {
  const JWT_MSG = 'JWT in the request, identified by HEADER Authorization, is invalid. Check docs.sensedia.com';
  const bearer = (t) => parts({ headers: [['Authorization', `Bearer ${t}`]] });

  test('a signed JWT with an nbf near the smallest time is decided (no trap): mature, passes', T, async () => {
    for (const nbf of [-8334601228800, -8334601228800 + 30, -8334601228800 + 60, -8334601228800 + 3600, -1]) {
      const id = uniq('nbf');
      assertPassed(await gw.request('/jwt/x', { id, p: bearer(jwt('HS256', 'h1', claims({ nbf }))) }), origin, id);
    }
    for (const nbf of [8210266876799, 8210266876799 - 60]) {
      const res = await gw.request('/jwt/x', { p: bearer(jwt('HS256', 'h1', claims({ nbf }))) });
      assertDenied(res, JWT_MSG);
      assert.equal((await gw.entryOf(res.traceId, 'jwt')).cause, 'not_yet_valid');
    }
    for (const nbf of [-1e13, 1e300, -1e300, 9.3e18]) {
      const res = await gw.request('/jwt/x', { p: bearer(jwt('HS256', 'h1', claims({ nbf }))) });
      assertDenied(res, JWT_MSG);
      assert.equal((await gw.entryOf(res.traceId, 'jwt')).cause, 'malformed');
    }
    // The isolate kept its caches: the issuer keys are not read again.
    gw.kv.reset();
    const id = uniq('after');
    assertPassed(await gw.request('/jwt/x', { id, p: bearer(jwt('HS256', 'h1', claims())) }), origin, id);
    assert.equal(gw.kv.count(`jwt-issuer:${ISS}`), 0, 'no trap emptied the caches');
  });

  test('an EdDSA JWT whose signature is not 64 bytes is a 401 bad_signature, not a 500', T, async () => {
    for (const len of [0, 1, 3, 63, 65, 200]) {
      const res = await gw.request('/jwt/x', { p: bearer(jwt('EdDSA', 'd1', claims(), randomBytes(len))) });
      assertDenied(res, JWT_MSG);
      const e = await gw.entryOf(res.traceId, 'jwt');
      assert.equal(e.cause, 'bad_signature', JSON.stringify(e));
    }
    // 64 bytes that do not verify go to WebCrypto: still a 401; a good one passes.
    const bad = await gw.request('/jwt/x', { p: bearer(jwt('EdDSA', 'd1', claims(), randomBytes(64))) });
    assertDenied(bad, JWT_MSG);
    assert.equal((await gw.entryOf(bad.traceId, 'jwt')).cause, 'bad_signature');
    const id = uniq('ed-ok');
    assertPassed(await gw.request('/jwt/x', { id, p: bearer(jwt('EdDSA', 'd1', claims())) }), origin, id);
  });
});
