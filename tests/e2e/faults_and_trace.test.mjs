// KV unavailable → 503 (fail closed), and the trace the Worker writes to its console:
// byte-exact lines, structured causes, fingerprints, and never a raw credential.
import { describe, test, before, after } from 'node:test';
import {
  assert,
  startOrigin,
  startGateway,
  appRecord,
  tokenRecord,
  appKey,
  tokenKey,
  uniq,
  parts,
  assertFault,
  assertNotForwarded,
  closedPort,
  traceEntries,
  TEST_TIMEOUT,
  HOOK_TIMEOUT,
} from './harness.mjs';

const T = { timeout: TEST_TIMEOUT };
const H = { timeout: HOOK_TIMEOUT };

async function entriesFor(gw, requestPath, count) {
  const ok = await gw.waitForOutput([requestPath], 3000);
  assert.ok(ok, `no trace for ${requestPath}; output: ${gw.output().slice(0, 500)}`);
  const all = traceEntries(gw.output()).filter((e) => e.path === requestPath);
  if (count) assert.equal(all.length, count, JSON.stringify(all));
  return all;
}

describe('KV unavailable', H, () => {
  let origin;
  let gw;
  before(async () => {
    origin = await startOrigin();
    gw = await startGateway({
      brokenKv: true,
      policy: { apis: [{ name: 'orders', base_path: '/orders', origin: origin.url, interceptors: [{ type: 'oauth' }] }] },
    });
  }, H);
  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, H);

  test('503, nothing forwarded, the trace names the store fault', T, async () => {
    const id = uniq('req');
    const res = await gw.request('/orders/kv-down', {
      id,
      p: parts({ headers: [['client_id', 'app-x'], ['access_token', 'secret-token-kv-down']] }),
    });
    assertFault(res, 503, ['secret-token-kv-down', 'RECORDS', 'KvStore']);
    assert.equal(res.text, 'Service Unavailable');
    assertNotForwarded(origin, id);
    const entries = await entriesFor(gw, '/orders/kv-down');
    const fault = entries.find((e) => e.interceptor === 'oauth');
    assert.equal(fault.outcome, 'fault');
    assert.equal(fault.cause, 'store_unavailable');
    assert.ok(!gw.output().includes('secret-token-kv-down'));
  });

  test('a missing credential is still a 401 (no read needed)', T, async () => {
    const res = await gw.request('/orders/kv-down-401', { p: parts({ headers: [['client_id', 'app-x']] }) });
    assert.equal(res.status, 401);
  });
});

describe('trace', H, () => {
  let origin;
  let gw;
  const app = { id: uniq('trace-app'), secret: 'not-used' };
  const token = `tok-${uniq('trace')}-very-secret`;
  const revoked = `tok-${uniq('trace')}-revoked-secret`;
  const scoped = `tok-${uniq('trace')}-scoped-secret`;
  before(async () => {
    origin = await startOrigin();
    gw = await startGateway({
      policy: {
        trace: { sample_passing: 1 },
        apis: [
          {
            name: 'orders',
            base_path: '/orders',
            origin: origin.url,
            interceptors: [{ type: 'oauth' }],
            resources: [
              { name: 'list', path: '/', methods: ['GET'] },
              { name: 'one', path: '/{id}', methods: ['GET'] },
            ],
          },
        ],
      },
      records: {
        [appKey(app.id)]: appRecord({ name: 'Trace App', access: [{ api: 'orders' }] }),
        [tokenKey(token)]: tokenRecord({ client_id: app.id }),
        [tokenKey(revoked)]: tokenRecord({ client_id: app.id, revoked: true }),
        [tokenKey(scoped)]: tokenRecord({ client_id: app.id, scope: [{ api: 'orders', resources: ['list'] }] }),
      },
    });
  }, H);
  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, H);

  const oauth = (tok) => parts({ headers: [['client_id', app.id], ['access_token', tok]] });

  test('a revoked token: the byte-exact HAS NOT BEEN FOUND line, cause revoked, a fingerprint', T, async () => {
    const res = await gw.request('/orders/t-revoked', { p: oauth(revoked) });
    assert.equal(res.status, 401);
    const entries = await entriesFor(gw, '/orders/t-revoked', 2);
    const [e, summary] = entries;
    assert.equal(
      e.line,
      'Access token in HEADER access_token HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call',
    );
    assert.equal(e.cause, 'revoked');
    assert.equal(e.outcome, 'deny');
    assert.equal(e.api, 'orders');
    assert.equal(e.resource, 'one');
    assert.match(e.fingerprint, /^sha256:[0-9a-f]{16}$/);
    assert.equal(e.client_id, app.id);
    assert.ok(e.request_id && typeof e.ts === 'number');
    assert.equal(summary.interceptor, 'request');
    assert.equal(summary.status, 401);
  });

  test('no access: the byte-exact DOES NOT HAVE ACCESS line', T, async () => {
    const res = await gw.request('/orders/t-scoped', { p: oauth(scoped) });
    assert.equal(res.status, 401);
    const [e] = await entriesFor(gw, '/orders/t-scoped', 2);
    assert.equal(e.line, 'Access token in HEADER access_token DOES NOT HAVE ACCESS TO THIS RESOURCE; rejecting call');
    assert.equal(e.cause, 'no_access');
  });

  test('a trailing space: the response says nothing more, the trace says whitespace', T, async () => {
    const res = await gw.request('/orders/t-space', { p: oauth(`${token} `) });
    assert.equal(res.status, 401);
    assert.equal(
      res.text,
      'Access Token in the request, identified by HEADER access_token, is invalid. Check docs.sensedia.com',
    );
    const [e] = await entriesFor(gw, '/orders/t-space', 2);
    assert.equal(e.cause, 'not_found');
    assert.match(e.detail, /whitespace/);
  });

  test('a pass is traced with the origin status once the origin answered', T, async () => {
    const res = await gw.request('/orders/t-pass', { p: oauth(token) });
    assert.equal(res.status, 200);
    const entries = await entriesFor(gw, '/orders/t-pass', 2);
    assert.deepEqual(
      entries.map((e) => [e.interceptor, e.outcome]),
      [
        ['oauth', 'pass'],
        ['request', 'pass'],
      ],
    );
    assert.equal(entries[1].origin_status, 200);
  });

  test('no raw credential anywhere in the console', T, async () => {
    for (const secret of [token, revoked, scoped, `${token} `]) {
      assert.ok(!gw.output().includes(secret.trim()), `console contains ${secret}`);
    }
  });
});

describe('trace sampling at 0', H, () => {
  let origin;
  let gw;
  const app = uniq('sample-app');
  const token = `tok-${uniq('sample')}-secret`;
  before(async () => {
    origin = await startOrigin();
    const down = `http://127.0.0.1:${await closedPort()}`;
    gw = await startGateway({
      policy: {
        trace: { sample_passing: 0 },
        apis: [
          { name: 'orders', base_path: '/orders', origin: origin.url, interceptors: [{ type: 'oauth' }] },
          { name: 'down', base_path: '/down', origin: down, interceptors: [{ type: 'oauth' }] },
        ],
      },
      records: {
        [appKey(app)]: appRecord({ access: [{ api: 'orders' }, { api: 'down' }] }),
        [tokenKey(token)]: tokenRecord({ client_id: app }),
      },
    });
  }, H);
  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, H);

  test('a pass writes no entry; a denial and a fault still do', T, async () => {
    const creds = (tok) => parts({ headers: [['client_id', app], ['access_token', tok]] });
    const pass = await gw.request('/orders/sampled-out', { p: creds(token) });
    assert.equal(pass.status, 200);
    const deny = await gw.request('/orders/denied', { p: creds('unknown-token') });
    assert.equal(deny.status, 401);
    const fault = await gw.request('/down/x', { p: creds(token) });
    assertFault(fault, 502, [token]);
    // The denial and the fault are traced, each in its own trace...
    assert.equal((await gw.entryOf(deny.traceId, 'oauth')).cause, 'not_found');
    const f = await gw.entryOf(fault.traceId, 'forward');
    assert.equal(f.cause, 'origin_unreachable');
    // ...and the pass, answered before both, is not.
    assert.deepEqual(
      traceEntries(gw.output()).filter((e) => e.trace_id === pass.traceId),
      [],
      'a passing request was traced with sample_passing = 0',
    );
    assert.ok(traceEntries(gw.output()).every((e) => e.outcome !== 'pass' || e.trace_id === fault.traceId));
  });
});

describe('OAuth: an app not granted the call', H, () => {
  let origin;
  let gw;
  const app = uniq('nogrant-app');
  const token = `tok-${uniq('nogrant')}-secret`;
  before(async () => {
    origin = await startOrigin();
    gw = await startGateway({
      policy: { apis: [{ name: 'orders', base_path: '/orders', origin: origin.url, interceptors: [{ type: 'oauth' }] }] },
      records: {
        [appKey(app)]: appRecord({ access: [{ api: 'billing' }] }),
        [tokenKey(token)]: tokenRecord({ client_id: app }),
      },
    });
  }, H);
  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, H);

  test('answers with the Access Token message and the seed trace line (issue 12)', T, async () => {
    const res = await gw.request('/orders/x', { p: parts({ headers: [['client_id', app], ['access_token', token]] }) });
    assert.equal(res.status, 401);
    assert.equal(res.text, 'Access Token in the request, identified by HEADER access_token, is invalid. Check docs.sensedia.com');
    const e = await gw.entryOf(res.traceId, 'oauth');
    assert.equal(e.line, 'Access token in HEADER access_token DOES NOT HAVE ACCESS TO THIS RESOURCE; rejecting call');
    assert.equal(e.cause, 'no_access');
    assert.equal(e.element, 'HEADER access_token');
    assert.equal(e.client_id, app);
  });
});
