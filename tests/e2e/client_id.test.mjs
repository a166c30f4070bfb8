// Client ID Validation (configurable name and location) and Client ID Secret Encoded
// (`Basic base64(client_id:client_secret)` in a header). Every failure answers the Client Id
// message naming where the credential was looked for.

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
  parts,
  sha256hex,
  startGateway,
  startOrigin,
  uniq,
} from './harness.mjs';

const T = { timeout: TEST_TIMEOUT };
const H = { timeout: HOOK_TIMEOUT };
const JSON_DOCS = 'docs.example.net/apps';

const LOCS = [
  { key: 'header', api: 'ci-header', cfg: { type: 'client_id' }, loc: 'header', name: 'client_id' },
  { key: 'custom header', api: 'ci-custom', cfg: { type: 'client_id', name: 'app_token' }, loc: 'header', name: 'app_token' },
  { key: 'query', api: 'ci-query', cfg: { type: 'client_id', location: 'query' }, loc: 'query', name: 'client_id' },
  { key: 'cookie', api: 'ci-cookie', cfg: { type: 'client_id', location: 'cookie', name: 'cid' }, loc: 'cookie', name: 'cid' },
];

const ENC = [
  { key: 'default header (Authorization)', api: 'enc', cfg: { type: 'client_id_secret_encoded' }, name: 'Authorization' },
  { key: 'client_id header', api: 'enc-cid', cfg: { type: 'client_id_secret_encoded', name: 'client_id' }, name: 'client_id' },
  { key: 'authorization', api: 'enc-auth', cfg: { type: 'client_id_secret_encoded', name: 'authorization' }, name: 'authorization' },
];

const EXTRA_APIS = [
  { api: 'ci-hoc', cfg: { type: 'client_id', location: 'header_or_cookie' } },
  { api: 'ci-any', cfg: { type: 'client_id', location: 'any' } },
  { api: 'ci-json', cfg: { type: 'client_id', format: 'json', docs: JSON_DOCS } },
  { api: 'ci-hide-header', cfg: { type: 'client_id', hide_credential: true } },
  { api: 'ci-hide-query', cfg: { type: 'client_id', location: 'query', hide_credential: true } },
  { api: 'ci-hide-cookie', cfg: { type: 'client_id', location: 'cookie', hide_credential: true } },
  { api: 'enc-json', cfg: { type: 'client_id_secret_encoded', name: 'authorization', format: 'json' } },
  { api: 'enc-hide', cfg: { type: 'client_id_secret_encoded', name: 'authorization', hide_credential: true } },
];

const API_NAMES = [...LOCS.map((l) => l.api), ...ENC.map((e) => e.api), ...EXTRA_APIS.map((a) => a.api), 'unrelated'];
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
      ...ENC.map((e) => api(e.api, e.cfg)),
      ...EXTRA_APIS.map((a) => api(a.api, a.cfg)),
      { name: 'unrelated', base_path: '/unrelated', origin: `${originUrl}/be/unrelated`, interceptors: [] },
    ],
  };
}

const DENY = 'deny';

/** 'RESOURCE:x' is shorthand for [{api: <this API>, resources: [x]}]. */
function expandAccess(v, api) {
  if (typeof v === 'string' && v.startsWith('RESOURCE:')) return [{ api, resources: [v.slice(9)] }];
  return v;
}

/** App-record causes shared by both interceptors (the credential itself is well-formed). */
const APP_CAUSES = [
  { name: 'unknown client id', app: null, expect: DENY },
  { name: 'app revoked', app: { revoked: true }, expect: DENY },
  { name: 'app expired (epoch seconds)', app: { expires_at: EXPIRY.pastEpoch() }, expect: DENY },
  { name: 'app expired (RFC 3339)', app: { expires_at: EXPIRY.pastRfc3339() }, expect: DENY },
  { name: 'app expiring in the future (epoch seconds)', app: { expires_at: EXPIRY.futureEpoch() }, expect: 200 },
  { name: 'app expiring in the future (RFC 3339)', app: { expires_at: EXPIRY.futureRfc3339() }, expect: 200 },
  { name: 'app PENDING', app: { status: 'PENDING' }, expect: DENY },
  { name: 'app REJECTED', app: { status: 'REJECTED' }, expect: DENY },
  { name: 'app CANCELLED', app: { status: 'CANCELLED' }, expect: DENY },
  { name: 'app without access to the API', app: { access: [{ api: 'unrelated' }] }, expect: DENY },
  { name: 'app without access to the resource', app: { access: 'RESOURCE:list-orders' }, expect: DENY },
  { name: 'app with access to this resource only', app: { access: 'RESOURCE:list-orders' }, path: '/items', expect: 200 },
  { name: 'unknown fields in the app record are tolerated', app: { brand_new: { a: 1 }, keys: [] }, expect: 200 },
  { name: 'malformed app record (not JSON)', appRaw: '{{{', expect: 500 },
  { name: 'malformed app record (name is a number)', app: { name: 42 }, expect: 500 },
];

/** Credential-form causes for client_id at location L (value = a good client id). */
const ID_CAUSES = [
  { name: 'valid', expect: 200 },
  { name: 'valid, header name in another case', only: ['header'], send: (L, v) => parts({ headers: [[L.name.toUpperCase(), v]] }), expect: 200 },
  { name: 'missing', send: () => parts({ headers: [['x-other', '1']], query: [['other', '1']], cookies: [['other', '1']] }), expect: DENY },
  {
    name: 'only in a location not configured',
    send: (L, v) => (L.loc === 'query' ? parts({ headers: [[L.name, v]], cookies: [[L.name, v]] }) : parts({ query: [[L.name, v]] })),
    expect: DENY,
  },
  { name: 'empty value', send: (L) => credential(L.loc, L.name, ''), expect: DENY },
  {
    name: 'given twice',
    send: (L, v) =>
      L.loc === 'header'
        ? parts({ headers: [[L.name, v], [L.name, v]] })
        : L.loc === 'query'
          ? parts({ query: [[L.name, v], [L.name, v]] })
          : parts({ rawCookie: `${L.name}=${v}; ${L.name}=${v}` }),
    expect: DENY,
  },
  { name: 'trailing space', send: (L, v) => (L.loc === 'cookie' ? parts({ rawCookie: `${L.name}=${v} ; other=1` }) : credential(L.loc, L.name, `${v} `)), expect: DENY },
  { name: 'leading space', only: ['query', 'cookie'], send: (L, v) => (L.loc === 'cookie' ? parts({ rawCookie: `other=1; ${L.name}= ${v}` }) : credential(L.loc, L.name, ` ${v}`)), expect: DENY },
  { name: 'trailing line break', only: ['query'], send: (L, v) => credential(L.loc, L.name, `${v}\r\n`), expect: DENY },
  { name: 'client id of 600 bytes', app: null, send: (L) => credential(L.loc, L.name, 'c'.repeat(600)), expect: DENY },
  ...APP_CAUSES,
];

const b64 = (s) => Buffer.from(s, 'utf8').toString('base64');
const basic = (id, secret) => `Basic ${b64(`${id}:${secret}`)}`;

/** Causes for client_id_secret_encoded (value built from client id c.id and secret c.secret). */
const ENC_CAUSES = [
  { name: 'valid', expect: 200 },
  { name: 'secret containing a colon', secret: 'se:cr:et', expect: 200 },
  { name: 'missing', send: () => [], expect: DENY },
  { name: 'empty value', send: () => '', expect: DENY },
  { name: '"Basic " and nothing else', send: () => 'Basic ', expect: DENY },
  { name: 'scheme is not Basic', send: (c) => `Bearer ${b64(`${c.id}:${c.secret}`)}`, expect: DENY },
  { name: 'no scheme, only base64', send: (c) => b64(`${c.id}:${c.secret}`), expect: DENY },
  { name: 'not base64', send: () => 'Basic !!!*not~base64*!!!', expect: DENY },
  { name: 'base64 without a colon', send: (c) => `Basic ${b64(`${c.id}${c.secret}`)}`, expect: DENY },
  { name: 'wrong secret', send: (c) => basic(c.id, `${c.secret}x`), expect: DENY },
  { name: 'empty secret', send: (c) => basic(c.id, ''), expect: DENY },
  { name: 'secret with a trailing space', send: (c) => basic(c.id, `${c.secret} `), expect: DENY },
  { name: 'client id with a trailing space', send: (c) => basic(`${c.id} `, c.secret), expect: DENY },
  { name: 'trailing space after the base64', send: (c) => `${basic(c.id, c.secret)} `, expect: DENY },
  { name: 'header given twice', send: (c) => [basic(c.id, c.secret), basic(c.id, c.secret)], expect: DENY },
  { name: 'secret of another app', otherSecret: true, expect: DENY },
  { name: 'app record without client_secret_sha256', app: { client_secret_sha256: undefined }, expect: DENY },
  { name: 'client id of 600 bytes', app: null, send: (c) => basic('c'.repeat(600), c.secret), expect: DENY },
  ...APP_CAUSES,
];

function materializeApp(clientId, cs, api, secret) {
  if (cs.appRaw !== undefined) return cs.appRaw;
  if (cs.app === null) return undefined;
  const fields = { ...cs.app };
  if ('access' in fields) fields.access = expandAccess(fields.access, api);
  const rec = appRecord({
    name: `App ${clientId}`,
    access: FULL_ACCESS,
    client_secret_sha256: sha256hex(secret),
    extra_info: { id: clientId },
    ...fields,
  });
  for (const k of Object.keys(rec)) if (rec[k] === undefined) delete rec[k];
  return rec;
}

describe('client_id and client_id_secret_encoded interceptors', H, () => {
  let origin;
  let gw;
  const mats = new Map();
  const good = { clientId: uniq('ci-good'), secret: `s3cret-${uniq('s')}` };
  const goodExtra = { tier: 'gold', flags: ['a', 'b'], nested: { x: 1 } };
  const other = { clientId: uniq('ci-other'), secret: `other-${uniq('s')}` };

  before(async () => {
    origin = await startOrigin();
    const records = {
      [appKey(good.clientId)]: appRecord({
        name: 'Good Client App',
        access: FULL_ACCESS,
        client_secret_sha256: sha256hex(good.secret),
        extra_info: goodExtra,
      }),
      [appKey(other.clientId)]: appRecord({ name: 'Other', access: FULL_ACCESS, client_secret_sha256: sha256hex(other.secret) }),
    };
    for (const L of LOCS) {
      for (const cs of ID_CAUSES) {
        if (cs.only && !cs.only.includes(L.loc)) continue;
        const id = uniq('ci-app');
        const rec = materializeApp(id, cs, L.api, 'unused');
        if (rec !== undefined) records[appKey(id)] = rec;
        mats.set(`${L.key}/${cs.name}`, { id });
      }
    }
    for (const E of ENC) {
      for (const cs of ENC_CAUSES) {
        const id = uniq('enc-app');
        const secret = cs.secret ?? `sec-${uniq('s')}`;
        const rec = materializeApp(id, cs, E.api, secret);
        if (rec !== undefined) records[appKey(id)] = rec;
        // otherSecret: send another app's (valid) secret with this app's id.
        mats.set(`${E.key}/${cs.name}`, { id, secret: cs.otherSecret ? other.secret : secret });
      }
    }
    gw = await startGateway({ policy: makePolicy(origin.url), records });
  }, H);

  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, H);

  for (const L of LOCS) {
    describe(`client_id, location ${L.key} (${LOC_WORD[L.loc]} ${L.name})`, H, () => {
      for (const cs of ID_CAUSES) {
        if (cs.only && !cs.only.includes(L.loc)) continue;
        test(cs.name, T, async () => {
          const m = mats.get(`${L.key}/${cs.name}`);
          const id = uniq('req');
          const p = cs.send ? cs.send(L, m.id) : credential(L.loc, L.name, m.id);
          const res = await gw.request(`/${L.api}${cs.path ?? '/items/9'}`, { p, id });
          const expect = cs.expect === DENY ? { message: MSG.clientId(LOC_WORD[L.loc], L.name) } : cs.expect;
          checkOutcome(res, origin, id, expect);
        });
      }
    });
  }

  for (const E of ENC) {
    describe(`client_id_secret_encoded, header ${E.name}`, H, () => {
      for (const cs of ENC_CAUSES) {
        test(cs.name, T, async () => {
          const m = mats.get(`${E.key}/${cs.name}`);
          const c = { id: m.id, secret: m.secret };
          const sent = cs.send ? cs.send(c) : basic(c.id, c.secret);
          const values = Array.isArray(sent) ? sent : [sent];
          const id = uniq('req');
          const p = parts({ headers: values.map((v) => [E.name, v]) });
          const res = await gw.request(`/${E.api}${cs.path ?? '/items/9'}`, { p, id });
          const expect = cs.expect === DENY ? { message: MSG.clientId('HEADER', E.name) } : cs.expect;
          checkOutcome(res, origin, id, expect);
        });
      }
    });
  }

  const MULTI = [
    { api: 'ci-hoc', where: 'header', valid: true, expect: 200 },
    { api: 'ci-hoc', where: 'cookie', valid: true, expect: 200 },
    { api: 'ci-hoc', where: null, expect: 'HEADER' },
    { api: 'ci-hoc', where: 'cookie', valid: false, expect: 'COOKIE' },
    { api: 'ci-hoc', where: 'query', valid: true, expect: 'HEADER' },
    { api: 'ci-any', where: 'query', valid: true, expect: 200 },
    { api: 'ci-any', where: 'cookie', valid: true, expect: 200 },
    { api: 'ci-any', where: null, expect: 'HEADER' },
    { api: 'ci-any', where: 'query', valid: false, expect: 'QUERY_PARAM' },
    { api: 'ci-any', where: 'cookie', valid: false, expect: 'COOKIE' },
    { api: 'ci-any', where: 'header', valid: false, expect: 'HEADER' },
  ];
  describe('header_or_cookie and any', H, () => {
    for (const c of MULTI) {
      const label = c.where ? `${c.valid ? 'valid' : 'unknown'} client id in ${c.where}` : 'no client id';
      test(`${c.api}: ${label} -> ${c.expect}`, T, async () => {
        const id = uniq('req');
        const p = c.where ? credential(c.where, 'client_id', c.valid ? good.clientId : uniq('nope')) : parts();
        const res = await gw.request(`/${c.api}/items/1`, { p, id });
        checkOutcome(res, origin, id, c.expect === 200 ? 200 : { message: MSG.clientId(c.expect, 'client_id') });
      });
    }
  });

  test('identity headers: client id, app name and the app\'s extra_info; forged ones replaced', T, async () => {
    const id = uniq('req');
    const res = await gw.request('/ci-header/items/5?z=9', {
      id,
      p: credential('header', 'client_id', good.clientId),
      headers: [['x-edge-client-id', 'forged'], ['x-edge-app-name', 'Forged'], ['x-edge-app-extra-info', '{}']],
    });
    const seen = assertPassed(res, origin, id);
    assert.equal(seen.url, '/be/ci-header/items/5?z=9');
    assert.equal(seen.headers['x-edge-client-id'], good.clientId);
    assert.equal(seen.headers['x-edge-app-name'], 'Good Client App');
    assert.deepEqual(JSON.parse(seen.headers['x-edge-app-extra-info']), { app: goodExtra });
    assert.equal(seen.headers.client_id, good.clientId, 'credential kept without hide_credential');
  });

  test('client_id_secret_encoded sets the identity headers', T, async () => {
    const id = uniq('req');
    const res = await gw.request('/enc-auth/items', { id, p: parts({ headers: [['authorization', basic(good.clientId, good.secret)]] }) });
    const seen = assertPassed(res, origin, id);
    assert.equal(seen.headers['x-edge-client-id'], good.clientId);
    assert.equal(seen.headers['x-edge-app-name'], 'Good Client App');
    assert.equal(seen.headers.authorization, basic(good.clientId, good.secret));
  });

  test('format json (client_id, custom docs)', T, async () => {
    const res = await gw.request('/ci-json/items', { id: uniq('req') });
    assertDenied(res, MSG.clientId('HEADER', 'client_id', JSON_DOCS), 'json');
  });

  test('format json (client_id_secret_encoded)', T, async () => {
    const res = await gw.request('/enc-json/items', {
      id: uniq('req'),
      p: parts({ headers: [['authorization', basic(good.clientId, 'wrong')]] }),
    });
    assertDenied(res, MSG.clientId('HEADER', 'authorization'), 'json');
  });

  describe('hide_credential', H, () => {
    test('header', T, async () => {
      const id = uniq('req');
      const res = await gw.request('/ci-hide-header/items', {
        id,
        p: parts({ headers: [['client_id', good.clientId], ['x-keep', 'k']] }),
      });
      const seen = assertPassed(res, origin, id);
      assert.equal(seen.headers.client_id, undefined);
      assert.equal(seen.headers['x-keep'], 'k');
      assert.equal(seen.headers['x-edge-client-id'], good.clientId);
    });

    test('query', T, async () => {
      const id = uniq('req');
      const res = await gw.request('/ci-hide-query/items', {
        id,
        p: parts({ query: [['client_id', good.clientId], ['keep', 'me'], ['and', 'this']] }),
      });
      const seen = assertPassed(res, origin, id);
      const u = new URL(seen.url, 'http://x');
      assert.equal(u.pathname, '/be/ci-hide-query/items');
      assert.deepEqual([...u.searchParams], [['keep', 'me'], ['and', 'this']]);
    });

    test('cookie', T, async () => {
      const id = uniq('req');
      const res = await gw.request('/ci-hide-cookie/items', {
        id,
        p: parts({ rawCookie: `first=1; client_id=${good.clientId}; last=z` }),
      });
      const seen = assertPassed(res, origin, id);
      const cookies = String(seen.headers.cookie ?? '')
        .split(';')
        .map((s) => s.trim())
        .filter(Boolean);
      assert.deepEqual(cookies, ['first=1', 'last=z']);
    });

    test('client_id_secret_encoded', T, async () => {
      const id = uniq('req');
      const res = await gw.request('/enc-hide/items', {
        id,
        p: parts({ headers: [['authorization', basic(good.clientId, good.secret)], ['x-keep', 'k']] }),
      });
      const seen = assertPassed(res, origin, id);
      assert.equal(seen.headers.authorization, undefined);
      assert.equal(seen.headers['x-keep'], 'k');
    });
  });
});
