// Access Token Validation: the token alone (and the app it belongs to), at a configurable name
// and location. Every failure answers the Access Token message naming where it was looked for.

import { after, before, describe, test } from 'node:test';
import {
  EXPIRY,
  HOOK_TIMEOUT,
  LOC_WORD,
  MSG,
  TEST_TIMEOUT,
  appKey,
  appRecord,
  assert,
  assertDenied,
  assertPassed,
  checkOutcome,
  credential,
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
const JSON_DOCS = 'docs.example.org/tokens';

/** The locations of the matrix, one API each. */
const LOCS = [
  { key: 'header', api: 'at-header', cfg: { type: 'access_token' }, loc: 'header', name: 'access_token' },
  {
    key: 'custom header',
    api: 'at-custom',
    cfg: { type: 'access_token', name: 'x-api-token', location: 'header' },
    loc: 'header',
    name: 'x-api-token',
  },
  { key: 'query', api: 'at-query', cfg: { type: 'access_token', location: 'query' }, loc: 'query', name: 'access_token' },
  { key: 'cookie', api: 'at-cookie', cfg: { type: 'access_token', location: 'cookie', name: 'sess' }, loc: 'cookie', name: 'sess' },
];

const EXTRA_APIS = [
  { api: 'at-hoc', cfg: { type: 'access_token', location: 'header_or_cookie' } },
  { api: 'at-any', cfg: { type: 'access_token', location: 'any' } },
  { api: 'at-json', cfg: { type: 'access_token', location: 'query', format: 'json', docs: JSON_DOCS } },
  { api: 'at-hide-header', cfg: { type: 'access_token', hide_credential: true } },
  { api: 'at-hide-query', cfg: { type: 'access_token', location: 'query', hide_credential: true } },
  { api: 'at-hide-cookie', cfg: { type: 'access_token', location: 'cookie', name: 'sess', hide_credential: true } },
];

const API_NAMES = [...LOCS.map((l) => l.api), ...EXTRA_APIS.map((a) => a.api), 'unrelated'];
const FULL_ACCESS = API_NAMES.map((api) => ({ api }));

function makePolicy(originUrl) {
  const resources = [
    { name: 'list-orders', path: '/items', methods: ['GET'] },
    { name: 'one-order', path: '/items/{id}', methods: ['GET', 'POST'] },
  ];
  const api = (name, cfg) => ({
    name,
    base_path: `/${name}`,
    origin: `${originUrl}/be/${name}`,
    interceptors: [cfg],
    resources,
  });
  return {
    apis: [
      ...LOCS.map((l) => api(l.api, l.cfg)),
      ...EXTRA_APIS.map((a) => api(a.api, a.cfg)),
      { name: 'unrelated', base_path: '/unrelated', origin: `${originUrl}/be/unrelated`, interceptors: [] },
    ],
  };
}

/** The same credential twice, in the location's own way. */
function duplicated(L, v) {
  if (L.loc === 'header') return parts({ headers: [[L.name, v], [L.name, v]] });
  if (L.loc === 'query') return parts({ query: [[L.name, v], [L.name, v]] });
  return parts({ rawCookie: `${L.name}=${v}; ${L.name}=${v}` });
}

/** The credential somewhere this interceptor does not look. */
function elsewhere(L, v) {
  if (L.loc === 'query') return parts({ headers: [[L.name, v]], cookies: [[L.name, v]] });
  return parts({ query: [[L.name, v]] });
}

const DENY = 'deny';

/**
 * Cause table. send(L, token) builds the request parts (default: the token at L). token/app are
 * fields over a good token/app; null = no record; tokenRaw/appRaw = raw KV text. `only` limits
 * a cause to some locations (for forms a location cannot carry).
 */
const CAUSES = [
  { name: 'valid', expect: 200 },
  { name: 'valid, header name in another case', only: ['header'], send: (L, t) => parts({ headers: [[L.name.toUpperCase(), t]] }), expect: 200 },
  { name: 'missing', send: () => parts({ headers: [['x-other', '1']], query: [['other', '1']], cookies: [['other', '1']] }), expect: DENY },
  { name: 'only in a location not configured', send: elsewhere, expect: DENY },
  { name: 'empty value', send: (L) => credential(L.loc, L.name, ''), expect: DENY },
  { name: 'given twice', send: duplicated, expect: DENY },
  { name: 'trailing space', send: (L, t) => (L.loc === 'cookie' ? parts({ rawCookie: `${L.name}=${t} ; other=1` }) : credential(L.loc, L.name, `${t} `)), expect: DENY },
  { name: 'leading space', only: ['query', 'cookie'], send: (L, t) => (L.loc === 'cookie' ? parts({ rawCookie: `other=1; ${L.name}= ${t}` }) : credential(L.loc, L.name, ` ${t}`)), expect: DENY },
  { name: 'trailing line break', only: ['query'], send: (L, t) => credential(L.loc, L.name, `${t}\n`), expect: DENY },
  { name: 'unknown token', token: null, expect: DENY },
  { name: 'token revoked', token: { revoked: true }, expect: DENY },
  { name: 'token expired (epoch seconds)', token: { expires_at: EXPIRY.pastEpoch() }, expect: DENY },
  { name: 'token expired (RFC 3339)', token: { expires_at: EXPIRY.pastRfc3339() }, expect: DENY },
  { name: 'token expiring in the future', token: { expires_at: EXPIRY.futureEpoch() }, expect: 200 },
  { name: 'app record missing', app: null, expect: DENY },
  { name: 'app revoked', app: { revoked: true }, expect: DENY },
  { name: 'app expired (epoch seconds)', app: { expires_at: EXPIRY.pastEpoch() }, expect: DENY },
  { name: 'app expired (RFC 3339)', app: { expires_at: EXPIRY.pastRfc3339() }, expect: DENY },
  { name: 'app PENDING', app: { status: 'PENDING' }, expect: DENY },
  { name: 'app REJECTED', app: { status: 'REJECTED' }, expect: DENY },
  { name: 'app CANCELLED', app: { status: 'CANCELLED' }, expect: DENY },
  { name: 'app without access to the API', app: { access: [{ api: 'unrelated' }] }, expect: DENY },
  { name: 'app without access to the resource', app: { access: 'RESOURCE:list-orders' }, expect: DENY },
  { name: 'app with access to this resource only', app: { access: 'RESOURCE:list-orders' }, path: '/items', expect: 200 },
  { name: 'token scope narrowed to another resource', token: { scope: 'RESOURCE:list-orders' }, expect: DENY },
  { name: 'token scope narrowed to this resource', token: { scope: 'RESOURCE:list-orders' }, path: '/items', expect: 200 },
  { name: 'token scope for another API only', token: { scope: [{ api: 'unrelated' }] }, expect: DENY },
  { name: 'token of 600 bytes', send: (L) => credential(L.loc, L.name, 'x'.repeat(600)), expect: DENY },
  { name: 'malformed token record (not JSON)', tokenRaw: '{"client_id":', expect: 500 },
  { name: 'malformed token record (expires_at is a list)', token: { expires_at: [1, 2] }, expect: 500 },
  { name: 'malformed app record (not JSON)', appRaw: 'garbage', expect: 500 },
  { name: 'malformed app record (revoked is a string)', app: { revoked: 'false' }, expect: 500 },
];

/** 'RESOURCE:x' is shorthand for [{api: <this location's API>, resources: [x]}]. */
function expandAccess(v, L) {
  if (typeof v === 'string' && v.startsWith('RESOURCE:')) return [{ api: L.api, resources: [v.slice(9)] }];
  return v;
}

function materialize(L, cs) {
  const clientId = uniq('at-app');
  const token = uniq('at-tok');
  const records = {};
  if (cs.appRaw !== undefined) records[appKey(clientId)] = cs.appRaw;
  else if (cs.app !== null) {
    const fields = { ...cs.app };
    if ('access' in fields) fields.access = expandAccess(fields.access, L);
    records[appKey(clientId)] = appRecord({ name: `App ${clientId}`, access: FULL_ACCESS, ...fields });
  }
  if (cs.tokenRaw !== undefined) records[tokenKey(token)] = cs.tokenRaw;
  else if (cs.token !== null) {
    const fields = { ...cs.token };
    if ('scope' in fields) fields.scope = expandAccess(fields.scope, L);
    records[tokenKey(token)] = tokenRecord({ client_id: clientId, ...fields });
  }
  return { clientId, token, records };
}

describe('access_token interceptor', H, () => {
  let origin;
  let gw;
  const mats = new Map();
  const good = { clientId: uniq('at-good'), token: uniq('at-good-tok') };
  const goodApp = appRecord({ name: 'Token Owner App', access: FULL_ACCESS, extra_info: { plan: 'pro' } });
  const goodToken = tokenRecord({ client_id: good.clientId, extra_info: { user: 'u-7' } });

  before(async () => {
    origin = await startOrigin();
    const records = { [appKey(good.clientId)]: goodApp, [tokenKey(good.token)]: goodToken };
    for (const L of LOCS) {
      for (const cs of CAUSES) {
        if (cs.only && !cs.only.includes(L.loc)) continue;
        const m = materialize(L, cs);
        mats.set(`${L.key}/${cs.name}`, m);
        Object.assign(records, m.records);
      }
    }
    gw = await startGateway({ policy: makePolicy(origin.url), records });
  }, H);

  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, H);

  for (const L of LOCS) {
    describe(`location ${L.key} (${LOC_WORD[L.loc]} ${L.name})`, H, () => {
      for (const cs of CAUSES) {
        if (cs.only && !cs.only.includes(L.loc)) continue;
        test(cs.name, T, async () => {
          const m = mats.get(`${L.key}/${cs.name}`);
          const id = uniq('req');
          const p = cs.send ? cs.send(L, m.token) : credential(L.loc, L.name, m.token);
          const res = await gw.request(`/${L.api}${cs.path ?? '/items/7'}`, { p, id });
          const expect = cs.expect === DENY ? { message: MSG.accessToken(LOC_WORD[L.loc], L.name) } : cs.expect;
          checkOutcome(res, origin, id, expect);
        });
      }
    });
  }

  // header_or_cookie and any: where the token is found decides the location in the message.
  const MULTI = [
    { api: 'at-hoc', where: 'header', valid: true, expect: 200 },
    { api: 'at-hoc', where: 'cookie', valid: true, expect: 200 },
    { api: 'at-hoc', where: null, expect: 'HEADER' },
    { api: 'at-hoc', where: 'header', valid: false, expect: 'HEADER' },
    { api: 'at-hoc', where: 'cookie', valid: false, expect: 'COOKIE' },
    { api: 'at-hoc', where: 'query', valid: true, expect: 'HEADER' },
    { api: 'at-any', where: 'header', valid: true, expect: 200 },
    { api: 'at-any', where: 'query', valid: true, expect: 200 },
    { api: 'at-any', where: 'cookie', valid: true, expect: 200 },
    { api: 'at-any', where: null, expect: 'HEADER' },
    { api: 'at-any', where: 'header', valid: false, expect: 'HEADER' },
    { api: 'at-any', where: 'query', valid: false, expect: 'QUERY_PARAM' },
    { api: 'at-any', where: 'cookie', valid: false, expect: 'COOKIE' },
  ];
  describe('header_or_cookie and any', H, () => {
    for (const c of MULTI) {
      const label = c.where ? `${c.valid ? 'valid' : 'unknown'} token in ${c.where}` : 'no token';
      test(`${c.api}: ${label} -> ${c.expect}`, T, async () => {
        const id = uniq('req');
        const p = c.where ? credential(c.where, 'access_token', c.valid ? good.token : uniq('nope')) : parts();
        const res = await gw.request(`/${c.api}/items/1`, { p, id });
        checkOutcome(res, origin, id, c.expect === 200 ? 200 : { message: MSG.accessToken(c.expect, 'access_token') });
      });
    }
  });

  test('identity headers carry the token\'s app; forged ones are replaced', T, async () => {
    const id = uniq('req');
    const res = await gw.request('/at-header/items/1', {
      id,
      p: credential('header', 'access_token', good.token),
      headers: [['x-edge-client-id', 'forged'], ['X-Edge-App-Name', 'Forged']],
    });
    const seen = assertPassed(res, origin, id);
    assert.equal(seen.url, '/be/at-header/items/1');
    assert.equal(seen.headers['x-edge-client-id'], good.clientId);
    assert.equal(seen.headers['x-edge-app-name'], 'Token Owner App');
    assert.deepEqual(JSON.parse(seen.headers['x-edge-app-extra-info']), { app: { plan: 'pro' }, token: { user: 'u-7' } });
    // The credential stays by default.
    assert.equal(seen.headers.access_token, good.token);
  });

  test('format json with its own docs', T, async () => {
    const id = uniq('req');
    const res = await gw.request('/at-json/items', { id });
    assertDenied(res, MSG.accessToken('QUERY_PARAM', 'access_token', JSON_DOCS), 'json');
    const ok = await gw.request('/at-json/items', { id: uniq('req'), p: credential('query', 'access_token', good.token) });
    assert.equal(ok.status, 200);
  });

  describe('hide_credential', H, () => {
    test('header: removed, other headers kept', T, async () => {
      const id = uniq('req');
      const res = await gw.request('/at-hide-header/items', {
        id,
        p: parts({ headers: [['access_token', good.token], ['x-keep', 'yes']] }),
      });
      const seen = assertPassed(res, origin, id);
      assert.equal(seen.headers.access_token, undefined);
      assert.equal(seen.headers['x-keep'], 'yes');
    });

    test('query: removed, other params kept', T, async () => {
      const id = uniq('req');
      const res = await gw.request('/at-hide-query/items', {
        id,
        p: parts({ query: [['a', '1'], ['access_token', good.token], ['b', 'two words']] }),
      });
      const seen = assertPassed(res, origin, id);
      const u = new URL(seen.url, 'http://x');
      assert.equal(u.pathname, '/be/at-hide-query/items');
      assert.deepEqual([...u.searchParams], [['a', '1'], ['b', 'two words']]);
    });

    test('cookie: removed, other cookies kept', T, async () => {
      const id = uniq('req');
      const res = await gw.request('/at-hide-cookie/items', {
        id,
        p: parts({ rawCookie: `a=1; sess=${good.token}; b=2` }),
      });
      const seen = assertPassed(res, origin, id);
      const cookies = String(seen.headers.cookie ?? '')
        .split(';')
        .map((s) => s.trim())
        .filter(Boolean);
      assert.deepEqual(cookies, ['a=1', 'b=2']);
    });

    test('without hide_credential the query param reaches the origin', T, async () => {
      const id = uniq('req');
      const res = await gw.request('/at-query/items', {
        id,
        p: mergeParts(parts({ query: [['a', '1']] }), credential('query', 'access_token', good.token)),
      });
      const seen = assertPassed(res, origin, id);
      assert.equal(seen.url, `/be/at-query/items?a=1&access_token=${good.token}`);
    });
  });
});
