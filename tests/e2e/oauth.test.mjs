// OAuth interceptor: headers client_id + access_token (fixed names). The app is checked first
// (any app failure -> the Client Id message), then the token (-> the Access Token message).

import { after, before, describe, test } from 'node:test';
import {
  EXPIRY,
  HOOK_TIMEOUT,
  MSG,
  TEST_TIMEOUT,
  appKey,
  appRecord,
  assert,
  assertDenied,
  assertPassed,
  checkOutcome,
  mergeParts,
  parts,
  startGateway,
  startOrigin,
  tokenKey,
  tokenRecord,
  uniq,
} from './harness.mjs';

const T = { timeout: TEST_TIMEOUT };
const H = { timeout: HOOK_TIMEOUT };

const API_NAMES = ['orders', 'inventory', 'orders-json', 'orders-hide', 'orders-res'];
const FULL_ACCESS = API_NAMES.map((api) => ({ api }));
const JSON_DOCS = 'developers.example.com/oauth';

function makePolicy(originUrl) {
  const ordersResources = [
    { name: 'list-orders', path: '/items', methods: ['GET'], interceptors: [] },
    { name: 'one-order', path: '/items/{id}', methods: ['GET', 'POST'] },
  ];
  return {
    apis: [
      {
        name: 'orders',
        base_path: '/orders',
        origin: `${originUrl}/backend`,
        interceptors: [{ type: 'oauth' }],
        resources: ordersResources,
      },
      { name: 'inventory', base_path: '/inventory', origin: `${originUrl}/inv`, interceptors: [{ type: 'oauth' }] },
      {
        name: 'orders-json',
        base_path: '/orders-json',
        origin: `${originUrl}/json`,
        interceptors: [{ type: 'oauth', format: 'json', docs: JSON_DOCS }],
        resources: ordersResources,
      },
      {
        name: 'orders-hide',
        base_path: '/orders-hide',
        origin: `${originUrl}/hide`,
        interceptors: [{ type: 'oauth', hide_credential: true }],
      },
      {
        name: 'orders-res',
        base_path: '/orders-res',
        origin: `${originUrl}/res`,
        resources: [
          { name: 'guarded', path: '/g', methods: ['GET'], interceptors: [{ type: 'oauth' }] },
          { name: 'open', path: '/o', methods: ['GET'] },
        ],
      },
    ],
  };
}

const CLIENT = { message: MSG.clientId('HEADER', 'client_id') };
const TOKEN = { message: MSG.accessToken('HEADER', 'access_token') };

const both = (clientId, token) => parts({ headers: [['client_id', clientId], ['access_token', token]] });

/**
 * The matrix. Each case gets its own client id and token. Fields:
 *   app: fields over a good app (full access) | null (no record) | appRaw: raw KV string
 *   token: fields over a good token of that app | null | tokenRaw
 *   otherApp: seed a second good app and make the token belong to it
 *   send(c): request parts from {clientId, token} (default: both headers)
 *   path, method, expect: 200 | 500 | CLIENT | TOKEN
 */
const CASES = [
  { name: 'valid app and token', expect: 200 },
  { name: 'valid, POST to a GET/POST resource', method: 'POST', expect: 200 },
  { name: 'missing client_id', send: (c) => parts({ headers: [['access_token', c.token]] }), expect: CLIENT },
  { name: 'missing access_token', send: (c) => parts({ headers: [['client_id', c.clientId]] }), expect: TOKEN },
  { name: 'both missing', send: () => parts(), expect: CLIENT },
  { name: 'empty client_id', send: (c) => both('', c.token), expect: CLIENT },
  { name: 'empty access_token', send: (c) => both(c.clientId, ''), expect: TOKEN },
  { name: 'client_id with a trailing space', send: (c) => both(`${c.clientId} `, c.token), expect: CLIENT },
  { name: 'client_id with a trailing tab', send: (c) => both(`${c.clientId}\t`, c.token), expect: CLIENT },
  { name: 'access_token with a trailing space', send: (c) => both(c.clientId, `${c.token} `), expect: TOKEN },
  {
    name: 'client_id header given twice',
    send: (c) => parts({ headers: [['client_id', c.clientId], ['client_id', c.clientId], ['access_token', c.token]] }),
    expect: CLIENT,
  },
  {
    name: 'access_token header given twice',
    send: (c) => parts({ headers: [['client_id', c.clientId], ['access_token', c.token], ['access_token', c.token]] }),
    expect: TOKEN,
  },
  {
    name: 'credentials in query params instead of headers',
    send: (c) => parts({ query: [['client_id', c.clientId], ['access_token', c.token]] }),
    expect: CLIENT,
  },
  { name: 'unknown client_id', app: null, token: null, send: (c) => both(c.clientId, c.token), expect: CLIENT },
  { name: 'unknown token', token: null, expect: TOKEN },
  { name: 'app revoked', app: { revoked: true }, expect: CLIENT },
  { name: 'app expired (epoch seconds)', app: { expires_at: EXPIRY.pastEpoch() }, expect: CLIENT },
  { name: 'app expired (RFC 3339)', app: { expires_at: EXPIRY.pastRfc3339() }, expect: CLIENT },
  { name: 'app expires in the future (epoch seconds)', app: { expires_at: EXPIRY.futureEpoch() }, expect: 200 },
  { name: 'app expires in the future (RFC 3339)', app: { expires_at: EXPIRY.futureRfc3339() }, expect: 200 },
  { name: 'app PENDING', app: { status: 'PENDING' }, expect: CLIENT },
  { name: 'app REJECTED', app: { status: 'REJECTED' }, expect: CLIENT },
  { name: 'app CANCELLED', app: { status: 'CANCELLED' }, expect: CLIENT },
  // A valid token of an app not granted the call: the Access Token message (the seed's
  // "DOES NOT HAVE ACCESS" case; issue 12).
  { name: 'app without access to the API', app: { access: [{ api: 'inventory' }] }, expect: TOKEN },
  { name: 'app with an empty access list', app: { access: [] }, expect: TOKEN },
  {
    name: 'app without access to the resource',
    app: { access: [{ api: 'orders', resources: ['list-orders'] }] },
    expect: TOKEN,
  },
  { name: 'app without access, token unknown', app: { access: [] }, token: null, expect: TOKEN },
  { name: 'app without access, token revoked', app: { access: [] }, token: { revoked: true }, expect: TOKEN },
  {
    name: 'app with access to that resource only (list)',
    app: { access: [{ api: 'orders', resources: ['list-orders'] }] },
    path: '/orders/items',
    expect: 200,
  },
  {
    name: 'app with access to that resource only (one)',
    app: { access: [{ api: 'orders', resources: ['one-order'] }] },
    expect: 200,
  },
  { name: 'token revoked', token: { revoked: true }, expect: TOKEN },
  { name: 'token expired (epoch seconds)', token: { expires_at: EXPIRY.pastEpoch() }, expect: TOKEN },
  { name: 'token expired (RFC 3339)', token: { expires_at: EXPIRY.pastRfc3339() }, expect: TOKEN },
  { name: 'token expires in the future (epoch seconds)', token: { expires_at: EXPIRY.futureEpoch() }, expect: 200 },
  { name: 'token expires in the future (RFC 3339)', token: { expires_at: EXPIRY.futureRfc3339() }, expect: 200 },
  { name: 'token of another app', otherApp: true, expect: TOKEN },
  {
    name: 'token scope narrowed to another resource',
    token: { scope: [{ api: 'orders', resources: ['list-orders'] }] },
    expect: TOKEN,
  },
  {
    name: 'token scope narrowed to this resource',
    token: { scope: [{ api: 'orders', resources: ['list-orders'] }] },
    path: '/orders/items',
    expect: 200,
  },
  { name: 'token scope covering the whole API', token: { scope: [{ api: 'orders' }] }, expect: 200 },
  { name: 'token scope for another API only', token: { scope: [{ api: 'inventory' }] }, expect: TOKEN },
  {
    name: 'client_id of 600 bytes',
    app: null,
    send: (c) => both('c'.repeat(600), c.token),
    expect: CLIENT,
  },
  { name: 'access_token of 600 bytes', send: (c) => both(c.clientId, 't'.repeat(600)), expect: TOKEN },
  {
    name: 'unknown fields in both records are tolerated',
    app: { future_field: { nested: [1, 2] }, another: 'x' },
    token: { future_field: true, refresh_token_sha256: 'ab' },
    expect: 200,
  },
  { name: 'malformed app record (not JSON)', appRaw: '{"name": "Demo App", "status": ', expect: 500 },
  { name: 'malformed app record (status is a number)', app: { status: 7 }, expect: 500 },
  { name: 'malformed app record (access is a string)', app: { access: 'orders' }, expect: 500 },
  { name: 'malformed token record (not JSON)', tokenRaw: 'not json at all', expect: 500 },
  { name: 'malformed token record (client_id is a number)', token: { client_id: 12345 }, expect: 500 },
  { name: 'malformed token record (revoked is a string)', token: { revoked: 'no' }, expect: 500 },
];

/** Records for one case, and the ids it uses. */
function materialize(cs) {
  const clientId = uniq('oauth-app');
  const token = uniq('oauth-tok');
  const records = {};
  if (cs.appRaw !== undefined) records[appKey(clientId)] = cs.appRaw;
  else if (cs.app !== null) records[appKey(clientId)] = appRecord({ name: `App ${clientId}`, access: FULL_ACCESS, ...cs.app });
  let owner = clientId;
  if (cs.otherApp) {
    owner = uniq('oauth-other');
    records[appKey(owner)] = appRecord({ name: 'Other', access: FULL_ACCESS });
  }
  if (cs.tokenRaw !== undefined) records[tokenKey(token)] = cs.tokenRaw;
  else if (cs.token !== null) records[tokenKey(token)] = tokenRecord({ client_id: owner, ...cs.token });
  return { clientId, token, records };
}

describe('oauth interceptor', H, () => {
  let origin;
  let gw;
  const ids = new Map();
  // Fixed records for the non-matrix tests.
  const good = { clientId: uniq('oauth-good'), token: uniq('oauth-good-tok') };
  const appExtra = { tier: 'gold', region: 'sa-east', n: 3 };
  const tokenExtra = { scope_note: 'from token', user: 'u-1' };

  before(async () => {
    origin = await startOrigin();
    const records = {
      [appKey(good.clientId)]: appRecord({ name: 'Good App', access: FULL_ACCESS, extra_info: appExtra }),
      [tokenKey(good.token)]: tokenRecord({ client_id: good.clientId, extra_info: tokenExtra }),
    };
    for (const cs of CASES) {
      const m = materialize(cs);
      ids.set(cs.name, m);
      Object.assign(records, m.records);
    }
    gw = await startGateway({ policy: makePolicy(origin.url), records });
  }, H);

  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, H);

  describe('matrix', H, () => {
    for (const cs of CASES) {
      test(cs.name, T, async () => {
        const m = ids.get(cs.name);
        const id = uniq('req');
        const p = cs.send ? cs.send(m) : both(m.clientId, m.token);
        const res = await gw.request(cs.path ?? '/orders/items/42', { method: cs.method ?? 'GET', p, id });
        checkOutcome(res, origin, id, cs.expect);
      });
    }
  });

  test('forwards to the origin with the path rewritten and identity headers set', T, async () => {
    const id = uniq('req');
    const res = await gw.request('/orders/items/42?x=1&y=two', {
      id,
      p: both(good.clientId, good.token),
      headers: [
        ['x-edge-client-id', 'forged-client'],
        ['x-edge-app-name', 'Forged App'],
        ['x-edge-app-extra-info', '{"forged":true}'],
      ],
    });
    const seen = assertPassed(res, origin, id);
    assert.equal(seen.url, '/backend/items/42?x=1&y=two');
    assert.equal(seen.headers['x-edge-client-id'], good.clientId);
    assert.equal(seen.headers['x-edge-app-name'], 'Good App');
    // extra_info travels as {"app": <app's extra_info>, "token": <token's extra_info>}.
    assert.deepEqual(JSON.parse(seen.headers['x-edge-app-extra-info']), { app: appExtra, token: tokenExtra });
    // Credentials stay by default (hide_credential defaults to false).
    assert.equal(seen.headers.client_id, good.clientId);
    assert.equal(seen.headers.access_token, good.token);
  });

  test('an API without resources accepts any path under base_path', T, async () => {
    const id = uniq('req');
    const res = await gw.request('/inventory/a/b/c?q=1', { id, p: both(good.clientId, good.token) });
    const seen = assertPassed(res, origin, id);
    assert.equal(seen.url, '/inv/a/b/c?q=1');
  });

  test('format json and a custom docs string', T, async () => {
    const id = uniq('req');
    const res = await gw.request('/orders-json/items', { id, p: parts({ headers: [['access_token', good.token]] }) });
    assertDenied(res, MSG.clientId('HEADER', 'client_id', JSON_DOCS), 'json');
    const res2 = await gw.request('/orders-json/items', { id, p: parts({ headers: [['client_id', good.clientId]] }) });
    assertDenied(res2, MSG.accessToken('HEADER', 'access_token', JSON_DOCS), 'json');
    assert.equal(origin.find(id).length, 0);
  });

  // The access token is the secret; whether client_id is hidden too is left open by the contract.
  test('hide_credential removes the access_token header, keeps the others', T, async () => {
    const id = uniq('req');
    const res = await gw.request('/orders-hide/x', {
      id,
      p: mergeParts(both(good.clientId, good.token), parts({ headers: [['x-keep', 'kept']] })),
    });
    const seen = assertPassed(res, origin, id);
    assert.equal(seen.headers.access_token, undefined, 'access_token header reached the origin');
    assert.equal(seen.headers['x-keep'], 'kept');
    assert.equal(seen.headers['x-edge-client-id'], good.clientId);
  });

  test('resource-level oauth guards only its resource', T, async () => {
    const id1 = uniq('req');
    assertDenied(await gw.request('/orders-res/g', { id: id1 }), CLIENT.message);
    assert.equal(origin.find(id1).length, 0);
    const id2 = uniq('req');
    assertPassed(await gw.request('/orders-res/g', { id: id2, p: both(good.clientId, good.token) }), origin, id2);
    const id3 = uniq('req');
    const seen = assertPassed(await gw.request('/orders-res/o', { id: id3 }), origin, id3);
    assert.equal(seen.url, '/res/o');
  });
});
