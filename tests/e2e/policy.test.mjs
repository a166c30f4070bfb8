// The policy: routing (404 / 405), bad policies (every request 500, all problems in the
// console), and the optional sections (docs, identity header names, cache TTL 0, POLICY as a
// string). One Miniflare, re-configured with setOptions (which resets its in-memory KV).

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
  assertFault,
  assertNotForwarded,
  assertPassed,
  checkOutcome,
  credential,
  startGateway,
  startOrigin,
  tokenKey,
  tokenRecord,
  uniq,
} from './harness.mjs';

const T = { timeout: TEST_TIMEOUT };
const H = { timeout: HOOK_TIMEOUT };

function routingPolicy(originUrl) {
  return {
    apis: [
      {
        name: 'orders',
        base_path: '/orders',
        origin: `${originUrl}/backend`,
        interceptors: [{ type: 'client_id' }],
        resources: [
          { name: 'list-orders', path: '/items', methods: ['GET'] },
          { name: 'one-order', path: '/items/{id}', methods: ['GET', 'POST'] },
          { name: 'drop-order', path: '/items/{id}', methods: ['DELETE'] },
          { name: 'order-line', path: '/items/{id}/lines/{line}', methods: ['GET'] },
        ],
      },
      { name: 'open', base_path: '/open', origin: `${originUrl}/open`, interceptors: [] },
      { name: 'deep', base_path: '/v1/deep', origin: `${originUrl}/deep` },
    ],
  };
}

/** A small valid policy used as the base of the bad ones. */
function basePolicy(originUrl) {
  return {
    apis: [
      {
        name: 'orders',
        base_path: '/orders',
        origin: `${originUrl}/backend`,
        interceptors: [{ type: 'client_id' }],
        resources: [{ name: 'one-order', path: '/items/{id}', methods: ['GET', 'POST'] }],
      },
      { name: 'open', base_path: '/open', origin: `${originUrl}/open`, interceptors: [] },
    ],
  };
}

/** Apply `mutate` to a deep copy of the base policy. */
function bad(originUrl, mutate) {
  const p = structuredClone(basePolicy(originUrl));
  mutate(p);
  return p;
}

/**
 * Bad policies. Each: policy(originUrl) -> object or string; leak: strings from the problem that
 * must not appear in the 500 body.
 */
const BAD_POLICIES = [
  { name: 'POLICY string is not JSON', policy: () => '{"apis": [', leak: ['apis'] },
  { name: 'POLICY string holds a JSON array', policy: () => '[]' },
  { name: 'POLICY string holds null', policy: () => 'null' },
  { name: 'apis missing', policy: () => ({}) },
  { name: 'apis is not an array', policy: (o) => ({ apis: basePolicy(o).apis[0] }) },
  { name: 'unknown top-level field', policy: (o) => bad(o, (p) => { p.bogus_top_field = 1; }), leak: ['bogus_top_field'] },
  { name: 'unknown API field', policy: (o) => bad(o, (p) => { p.apis[0].timeout_ms_bogus = 5; }), leak: ['timeout_ms_bogus'] },
  { name: 'API without origin', policy: (o) => bad(o, (p) => { delete p.apis[0].origin; }) },
  { name: 'API origin is not a URL', policy: (o) => bad(o, (p) => { p.apis[0].origin = 'not a url'; }), leak: ['not a url'] },
  { name: 'API without base_path', policy: (o) => bad(o, (p) => { delete p.apis[1].base_path; }) },
  { name: 'API interceptors is not an array', policy: (o) => bad(o, (p) => { p.apis[0].interceptors = { type: 'client_id' }; }) },
  { name: 'unknown interceptor type', policy: (o) => bad(o, (p) => { p.apis[0].interceptors = [{ type: 'oauth2_bogus' }]; }), leak: ['oauth2_bogus'] },
  { name: 'interceptor without type', policy: (o) => bad(o, (p) => { p.apis[0].interceptors = [{ name: 'client_id' }]; }) },
  { name: 'unknown interceptor field', policy: (o) => bad(o, (p) => { p.apis[0].interceptors = [{ type: 'access_token', locaton: 'query' }]; }), leak: ['locaton'] },
  { name: 'bad location value', policy: (o) => bad(o, (p) => { p.apis[0].interceptors = [{ type: 'access_token', location: 'body_bogus' }]; }), leak: ['body_bogus'] },
  { name: 'bad format value', policy: (o) => bad(o, (p) => { p.apis[0].interceptors = [{ type: 'client_id', format: 'xml' }]; }) },
  { name: 'hide_credential is not a boolean', policy: (o) => bad(o, (p) => { p.apis[0].interceptors = [{ type: 'client_id', hide_credential: 'yes' }]; }) },
  { name: 'name is not a string', policy: (o) => bad(o, (p) => { p.apis[0].interceptors = [{ type: 'client_id', name: 5 }]; }) },
  { name: 'empty name', policy: (o) => bad(o, (p) => { p.apis[0].interceptors = [{ type: 'client_id', name: '' }]; }) },
  { name: 'oauth given a name (its names are fixed)', policy: (o) => bad(o, (p) => { p.apis[0].interceptors = [{ type: 'oauth', name: 'my_token' }]; }) },
  {
    name: 'client_id_secret_encoded in a query param (header only)',
    policy: (o) => bad(o, (p) => { p.apis[0].interceptors = [{ type: 'client_id_secret_encoded', location: 'query' }]; }),
  },
  { name: 'docs is not a string', policy: (o) => bad(o, (p) => { p.apis[0].interceptors = [{ type: 'client_id', docs: 5 }]; }) },
  { name: 'resource methods is not an array', policy: (o) => bad(o, (p) => { p.apis[0].resources[0].methods = 'GET'; }) },
  { name: 'resource without path', policy: (o) => bad(o, (p) => { delete p.apis[0].resources[0].path; }) },
  { name: 'unknown resource field', policy: (o) => bad(o, (p) => { p.apis[0].resources[0].verb_bogus = 'GET'; }), leak: ['verb_bogus'] },
  { name: 'negative cache ttl', policy: (o) => bad(o, (p) => { p.cache = { ttl_seconds: -1 }; }) },
  { name: 'cache ttl is a string', policy: (o) => bad(o, (p) => { p.cache = { ttl_seconds: '30' }; }) },
  { name: 'unknown cache field', policy: (o) => bad(o, (p) => { p.cache = { ttl_seconds: 30, ttl_bogus: 1 }; }) },
  { name: 'trace sample_passing above 1', policy: (o) => bad(o, (p) => { p.trace = { sample_passing: 1.5 }; }) },
  { name: 'unknown identity_headers key', policy: (o) => bad(o, (p) => { p.identity_headers = { client_id: 'x-a', user_bogus: 'x-b' }; }) },
  { name: 'identity header name that is not a header name', policy: (o) => bad(o, (p) => { p.identity_headers = { client_id: 'bad header:name' }; }) },
  { name: 'top-level docs is not a string', policy: (o) => bad(o, (p) => { p.docs = ['docs.example.com']; }) },
  // Every number is bounded (issue 12: a leeway of 1e13 made every token with nbf panic).
  {
    name: 'a JWT leeway past its bound',
    policy: (o) => bad(o, (p) => { p.apis[0].interceptors = [{ type: 'jwt', leeway_seconds: 1e13, issuers: [{ issuer: 'i', algorithms: ['HS256'] }] }]; }),
  },
  { name: 'an origin time limit of 0', policy: (o) => bad(o, (p) => { p.apis[0].origin_timeout_ms = 0; }) },
  { name: 'a KV time limit past its bound', policy: (o) => bad(o, (p) => { p.timeouts = { kv_ms: 60_001 }; }) },
  { name: 'unknown timeouts field', policy: (o) => bad(o, (p) => { p.timeouts = { origin_bogus_ms: 1 }; }), leak: ['origin_bogus_ms'] },
  { name: 'cache ttl past a day', policy: (o) => bad(o, (p) => { p.cache = { ttl_seconds: 86_401 }; }) },
];

describe('policy', H, () => {
  let origin;
  let gw;
  const client = uniq('pol-app');
  const clientRecords = () => ({
    [appKey(client)]: appRecord({ name: 'Policy App', access: [{ api: 'orders' }, { api: 'open' }, { api: 'deep' }] }),
  });

  before(async () => {
    origin = await startOrigin();
    gw = await startGateway({ policy: routingPolicy(origin.url), records: clientRecords() });
  }, H);

  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, H);

  describe('routing', H, () => {
    // creds: send a valid client_id header. expect: status or {path} for a pass.
    const ROUTES = [
      { method: 'GET', path: '/', creds: true, expect: 404 },
      { method: 'GET', path: '/nothing/here', creds: true, expect: 404 },
      { method: 'GET', path: '/ordersX/items', creds: true, expect: 404 },
      { method: 'GET', path: '/order', creds: true, expect: 404 },
      { method: 'GET', path: '/ORDERS/items', creds: true, expect: 404 },
      { method: 'GET', path: '/orders', creds: true, expect: 404 },
      { method: 'GET', path: '/orders/unknown', creds: true, expect: 404 },
      { method: 'GET', path: '/orders/items/1/2', creds: true, expect: 404 },
      { method: 'GET', path: '/orders/items/1/lines', creds: true, expect: 404 },
      { method: 'DELETE', path: '/orders/items', creds: true, expect: 405, allow: 'GET' },
      { method: 'POST', path: '/orders/items', creds: true, expect: 405, allow: 'GET' },
      // Two resources on the path: Allow lists the methods of both, sorted.
      { method: 'PUT', path: '/orders/items/1', creds: true, expect: 405, allow: 'DELETE, GET, POST' },
      { method: 'PATCH', path: '/orders/items/1/lines/2', creds: true, expect: 405, allow: 'GET' },
      { method: 'DELETE', path: '/orders/items/1', creds: true, expect: { path: '/backend/items/1' } },
      { method: 'GET', path: '/orders/unknown', creds: false, expect: 404 },
      { method: 'DELETE', path: '/orders/items', creds: false, expect: 405, allow: 'GET' },
      { method: 'GET', path: '/orders/items', creds: false, expect: 401 },
      { method: 'GET', path: '/orders/items?x=1', creds: true, expect: { path: '/backend/items?x=1' } },
      { method: 'GET', path: '/orders/items/42', creds: true, expect: { path: '/backend/items/42' } },
      { method: 'POST', path: '/orders/items/42', creds: true, expect: { path: '/backend/items/42' } },
      { method: 'GET', path: '/orders/items/42/lines/7', creds: true, expect: { path: '/backend/items/42/lines/7' } },
      { method: 'GET', path: '/v1/deep/x', creds: false, expect: { path: '/deep/x' } },
      { method: 'GET', path: '/v1', creds: false, expect: 404 },
      { method: 'GET', path: '/v1/deeper', creds: false, expect: 404 },
      { method: 'DELETE', path: '/open/anything/at/all', creds: false, expect: { path: '/open/anything/at/all' } },
    ];
    for (const r of ROUTES) {
      test(`${r.method} ${r.path} ${r.creds ? 'with' : 'without'} credentials -> ${JSON.stringify(r.expect)}`, T, async () => {
        const id = uniq('req');
        const res = await gw.request(r.path, {
          method: r.method,
          id,
          p: r.creds ? credential('header', 'client_id', client) : undefined,
          body: r.method === 'POST' ? '{}' : undefined,
        });
        if (typeof r.expect === 'object') {
          const seen = assertPassed(res, origin, id);
          assert.equal(seen.url, r.expect.path);
        } else if (r.expect === 401) {
          assertDenied(res, MSG.clientId('HEADER', 'client_id'));
          assertNotForwarded(origin, id);
        } else {
          // 404 / 405: the exact plain body; a 405 says which methods the path has (Allow).
          assertFault(res, r.expect);
          assert.equal(res.headers.allow, r.allow, `Allow of ${r.method} ${r.path}`);
          assertNotForwarded(origin, id);
          const summary = await gw.entryOf(res.traceId, 'request');
          assert.equal(summary.outcome, 'no_route');
          if (r.expect === 405) assert.equal(summary.cause, 'method_not_allowed');
          else assert.ok(['no_api', 'no_resource'].includes(summary.cause), JSON.stringify(summary));
        }
      });
    }
  });

  describe('bad policies answer 500 to every request', H, () => {
    for (const b of BAD_POLICIES) {
      test(b.name, T, async () => {
        await gw.setPolicy(b.policy(origin.url));
        await gw.seed(clientRecords());
        const reqs = [
          { method: 'GET', path: '/orders/items/1', creds: true },
          { method: 'POST', path: '/orders/items/1', creds: true, body: '{"a":1}' },
          { method: 'GET', path: '/open/x' },
          { method: 'GET', path: '/not/under/any/api' },
        ];
        for (const r of reqs) {
          const id = uniq('req');
          const res = await gw.request(r.path, {
            method: r.method,
            id,
            p: r.creds ? credential('header', 'client_id', client) : undefined,
            body: r.body,
          });
          assertFault(res, 500, b.leak ?? []);
          assertNotForwarded(origin, id);
        }
      });
    }

    test('POLICY binding missing', T, async () => {
      await gw.setPolicy(undefined, { omit: true });
      const id = uniq('req');
      const res = await gw.request('/open/x', { id });
      assertFault(res, 500);
      assertNotForwarded(origin, id);
    });

    test('the console names every problem of a policy', T, async () => {
      const p = bad(origin.url, (x) => {
        x.zz_unknown_top = true;
        x.apis[0].interceptors = [{ type: 'zz_bad_type' }];
        x.apis[1].interceptors = [{ type: 'access_token', location: 'zz_bad_location' }];
      });
      gw.clearOutput();
      await gw.setPolicy(p);
      const res = await gw.request('/open/x', { id: uniq('req') });
      assertFault(res, 500, ['zz_unknown_top', 'zz_bad_type', 'zz_bad_location']);
      const seen = await gw.waitForOutput(['zz_unknown_top', 'zz_bad_type', 'zz_bad_location'], 3000);
      assert.ok(seen, `the Worker's console output does not name all three problems:\n${gw.output().slice(-3000)}`);
    });
  });

  describe('valid policies', H, () => {
    test('POLICY given as a string holding JSON', T, async () => {
      await gw.setPolicy(JSON.stringify(routingPolicy(origin.url)));
      await gw.seed(clientRecords());
      const id = uniq('req');
      const seen = assertPassed(await gw.request('/orders/items', { id, p: credential('header', 'client_id', client) }), origin, id);
      assert.equal(seen.url, '/backend/items');
    });

    test('every optional section given', T, async () => {
      const p = routingPolicy(origin.url);
      Object.assign(p, {
        docs: 'docs.sensedia.com',
        cache: { ttl_seconds: 30, negative_ttl_seconds: 5, max_entries: 10000 },
        trace: { sample_passing: 0.0 },
        identity_headers: { client_id: 'x-edge-client-id', app_name: 'x-edge-app-name', extra_info: 'x-edge-app-extra-info' },
      });
      await gw.setPolicy(p);
      await gw.seed(clientRecords());
      const id = uniq('req');
      assertPassed(await gw.request('/orders/items', { id, p: credential('header', 'client_id', client) }), origin, id);
    });

    test('top-level docs, overridden per interceptor', T, async () => {
      const p = routingPolicy(origin.url);
      p.docs = 'help.example.com/api';
      p.apis.push({
        name: 'own-docs',
        base_path: '/own-docs',
        origin: `${origin.url}/own`,
        interceptors: [{ type: 'access_token', docs: 'tokens.example.com' }],
      });
      await gw.setPolicy(p);
      assertDenied(await gw.request('/orders/items', { id: uniq('req') }), MSG.clientId('HEADER', 'client_id', 'help.example.com/api'));
      assertDenied(await gw.request('/own-docs/x', { id: uniq('req') }), MSG.accessToken('HEADER', 'access_token', 'tokens.example.com'));
    });

    test('custom identity header names: set on passes, stripped from clients', T, async () => {
      const p = routingPolicy(origin.url);
      p.identity_headers = { client_id: 'x-my-client', app_name: 'x-my-app', extra_info: 'x-my-extra' };
      await gw.setPolicy(p);
      await gw.seed({
        [appKey(client)]: appRecord({ name: 'Policy App', access: [{ api: 'orders' }], extra_info: { k: 'v' } }),
      });
      const forged = [['x-my-client', 'forged'], ['x-my-app', 'forged'], ['x-my-extra', '{}']];
      const id1 = uniq('req');
      const s1 = assertPassed(await gw.request('/open/a', { id: id1, headers: forged }), origin, id1);
      assert.equal(s1.headers['x-my-client'], undefined);
      assert.equal(s1.headers['x-my-app'], undefined);
      assert.equal(s1.headers['x-my-extra'], undefined);
      const id2 = uniq('req');
      const s2 = assertPassed(
        await gw.request('/orders/items', { id: id2, headers: forged, p: credential('header', 'client_id', client) }),
        origin,
        id2,
      );
      assert.equal(s2.headers['x-my-client'], client);
      assert.equal(s2.headers['x-my-app'], 'Policy App');
      assert.deepEqual(JSON.parse(s2.headers['x-my-extra']), { app: { k: 'v' } });
    });

    test('cache ttl 0: record changes take effect on the next request', T, async () => {
      const p = {
        cache: { ttl_seconds: 0, negative_ttl_seconds: 0 },
        apis: [
          { name: 'tok', base_path: '/tok', origin: `${origin.url}/tok`, interceptors: [{ type: 'access_token' }] },
        ],
      };
      await gw.setPolicy(p);
      const owner = uniq('cache-app');
      const token = uniq('cache-tok');
      const goodApp = appRecord({ name: 'Cache App', access: [{ api: 'tok' }] });
      const goodTok = tokenRecord({ client_id: owner });
      const deny = { message: MSG.accessToken('HEADER', 'access_token') };
      const steps = [
        { label: 'unknown token', records: {}, expect: deny },
        { label: 'token created', records: { [appKey(owner)]: goodApp, [tokenKey(token)]: goodTok }, expect: 200 },
        { label: 'token revoked', records: { [tokenKey(token)]: { ...goodTok, revoked: true } }, expect: deny },
        { label: 'token un-revoked', records: { [tokenKey(token)]: goodTok }, expect: 200 },
        { label: 'token expired', records: { [tokenKey(token)]: { ...goodTok, expires_at: EXPIRY.pastEpoch() } }, expect: deny },
        { label: 'token renewed', records: { [tokenKey(token)]: { ...goodTok, expires_at: EXPIRY.futureEpoch() } }, expect: 200 },
        { label: 'app set PENDING', records: { [appKey(owner)]: { ...goodApp, status: 'PENDING' } }, expect: deny },
        { label: 'app approved again', records: { [appKey(owner)]: goodApp }, expect: 200 },
        { label: 'app revoked', records: { [appKey(owner)]: { ...goodApp, revoked: true } }, expect: deny },
        { label: 'app restored', records: { [appKey(owner)]: goodApp }, expect: 200 },
        { label: 'token deleted', del: tokenKey(token), expect: deny },
      ];
      for (const s of steps) {
        if (s.del) await gw.del(s.del);
        else await gw.seed(s.records);
        const id = uniq('req');
        const res = await gw.request('/tok/x', { id, p: credential('header', 'access_token', token) });
        try {
          checkOutcome(res, origin, id, s.expect);
        } catch (e) {
          e.message = `step "${s.label}": ${e.message}`;
          throw e;
        }
      }
    });
  });
});
