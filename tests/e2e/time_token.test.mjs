// Time Token Generator / Time Token Validation in Miniflare: a token issued on the origin's
// response (header or cookie) passes while younger than the validator's ttl_ms and bound to the
// same value; every cause is a 401 with the Time Token message and a precise trace cause.
import { after, before, describe, test } from 'node:test';
import {
  HOOK_TIMEOUT,
  TEST_TIMEOUT,
  appKey,
  appRecord,
  assert,
  assertDenied,
  assertNotForwarded,
  assertPassed,
  parts,
  startGateway,
  startOrigin,
  uniq,
} from './harness.mjs';
import { OTHER, PREVIOUS, SECRET, bound, cookieFrom, entryFor, makeToken, setCookies, tokenTime } from './gentoken.mjs';

const T = { timeout: TEST_TIMEOUT };
const H = { timeout: HOOK_TIMEOUT };
const MSG = (loc, name) => `Time Token in the request, identified by ${loc} ${name}, is invalid. Check docs.sensedia.com`;

function makePolicy(originUrl) {
  const api = (name, interceptors, resources) => ({ name, base_path: `/${name}`, origin: `${originUrl}/be/${name}`, interceptors, resources });
  const bindUser = { header: 'x-user' };
  return {
    apis: [
      // Header mode, default name and TTL, bound to the x-user header.
      api('tt', [], [
        { name: 'issue', path: '/issue/*', interceptors: [{ type: 'time_token_generator', bind: bindUser }] },
        { name: 'use', path: '/use/*', methods: ['POST'], interceptors: [{ type: 'time_token', bind: bindUser }] },
        { name: 'use-short', path: '/short/*', methods: ['POST'], interceptors: [{ type: 'time_token', bind: bindUser, ttl_ms: 1000 }] },
      ]),
      // Cookie mode, bound to a query parameter.
      api('ttc', [], [
        { name: 'issue', path: '/issue/*', interceptors: [{ type: 'time_token_generator', location: 'cookie', name: 'tt', ttl_ms: 4500, bind: { query: 'order' } }] },
        { name: 'use', path: '/use/*', interceptors: [{ type: 'time_token', location: 'cookie', name: 'tt', ttl_ms: 4500, bind: { query: 'order' } }] },
      ]),
      // Bound to a field of the identified app's extra info.
      api('tte', [{ type: 'client_id' }], [
        { name: 'issue', path: '/issue/*', interceptors: [{ type: 'time_token_generator', bind: { extra_info: 'tenant' } }] },
        { name: 'use', path: '/use/*', interceptors: [{ type: 'time_token', bind: { extra_info: 'tenant' } }] },
      ]),
    ],
  };
}

describe('Time Token Generator and Time Token Validation', H, () => {
  let origin;
  let gw;
  const appT1 = uniq('tt-app');
  const appT1b = uniq('tt-app');
  const appT2 = uniq('tt-app');

  before(async () => {
    origin = await startOrigin();
    const rec = (tenant) => appRecord({ access: [{ api: 'tte' }], extra_info: { tenant } });
    gw = await startGateway({
      policy: makePolicy(origin.url),
      records: { [appKey(appT1)]: rec('t1'), [appKey(appT1b)]: rec('t1'), [appKey(appT2)]: rec('t2') },
      bindings: { TOKEN_SECRET: SECRET, TOKEN_SECRET_PREVIOUS: PREVIOUS },
    });
  }, H);

  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, H);

  const issue = async (user = 'alice') => {
    const res = await gw.request(`/tt/issue/${uniq('i')}`, { p: parts({ headers: [['x-user', user]] }) });
    assert.equal(res.status, 200, res.text);
    return res.headers.time_token;
  };
  const use = (token, { user = 'alice', base = '/tt/use' } = {}) => {
    const id = uniq('req');
    const path = `${base}/${uniq('u')}`;
    const headers = [];
    if (user !== null) headers.push(['x-user', user]);
    if (token !== undefined) headers.push(['time_token', token]);
    return gw.request(path, { method: 'POST', p: parts({ headers }), body: 'b', id }).then((res) => ({ res, id, path }));
  };
  const forged = (secret, fields = {}) =>
    makeToken(secret, { kind: 'time', api: 'tt', place: 'HEADER', name: 'time_token', time: Date.now(), bound: [bound('header:x-user', 'alice')], ...fields });

  test('issued on the response as documented; passes within the TTL', T, async () => {
    const path = `/tt/issue/${uniq('i')}`;
    const t0 = Date.now();
    const res = await gw.request(path, { p: parts({ headers: [['x-user', 'alice']] }) });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text), { ok: true, path: `/be/tt${path.slice(3)}` });
    const token = res.headers.time_token;
    const iat = tokenTime(token);
    assert.ok(iat >= t0 - 5 && iat <= Date.now() + 5, `issue time ${iat}`);
    assert.equal(token, makeToken(SECRET, { kind: 'time', api: 'tt', place: 'HEADER', name: 'time_token', time: iat, bound: [bound('header:x-user', 'alice')] }));
    const g = await entryFor(gw, path, 'time_token_generator');
    assert.equal(g.detail, 'issued; valid for 30000 ms');
    const { res: ok, id, path: p2 } = await use(token);
    assertPassed(ok, origin, id);
    const e = await entryFor(gw, p2, 'time_token');
    assert.match(e.detail, /^issued \d+ ms ago; ttl_ms is 30000$/);
    assert.ok(!gw.output().includes(token));
  });

  test('expired after the validator\'s ttl_ms (1000 ms, waited for)', T, async () => {
    const token = await issue();
    const first = await use(token, { base: '/tt/short' });
    assertPassed(first.res, origin, first.id);
    await new Promise((r) => setTimeout(r, 1100));
    const late = await use(token, { base: '/tt/short' });
    assertDenied(late.res, MSG('HEADER', 'time_token'));
    assert.equal((await entryFor(gw, late.path, 'time_token')).cause, 'expired');
  });

  const CAUSES = [
    ['missing', () => undefined, {}, 'missing'],
    ['malformed', () => 'v1.1.2', {}, 'malformed'],
    ['altered issue time', async () => {
      const [v, time, tag, mac] = (await issue()).split('.');
      return [v, String(Number(time) + 1), tag, mac].join('.');
    }, {}, 'bad_signature'],
    ['made under an unrelated secret', () => forged(OTHER), {}, 'bad_signature'],
    ['a CSRF token', () => forged(SECRET, { kind: 'csrf' }), {}, 'bad_signature'],
    ['older than 30 s', () => forged(SECRET, { time: Date.now() - 30_500 }), {}, 'expired'],
    ['issued in the future', () => forged(SECRET, { time: Date.now() + 60_000 }), {}, 'not_yet_valid'],
    ['bound to another user', () => issue('bob'), {}, 'wrong_binding'],
    ['no bound value in the request', () => issue(), { user: null }, 'no_bind_value'],
  ];
  for (const [name, make, opts, cause] of CAUSES) {
    test(`401 and cause ${cause}: ${name}`, T, async () => {
      const { res, id, path } = await use(await make(), opts);
      assertDenied(res, MSG('HEADER', 'time_token'));
      assertNotForwarded(origin, id);
      const e = await entryFor(gw, path, 'time_token');
      assert.equal(e.cause, cause, JSON.stringify(e));
      assert.equal(e.line, 'Time token in HEADER time_token HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call');
    });
  }

  test('rotation: made under TOKEN_SECRET_PREVIOUS passes', T, async () => {
    const { res, id } = await use(forged(PREVIOUS));
    assertPassed(res, origin, id);
  });

  test('cookie mode: Max-Age from ttl_ms, bound to a query parameter', T, async () => {
    const res = await gw.request('/ttc/issue/resp-headers?order=42', {});
    assert.equal(res.status, 201);
    const cookies = setCookies(res);
    assert.equal(cookies.length, 3);
    const token = cookieFrom(res, 'tt');
    assert.equal(cookies[2], `tt=${token}; Max-Age=5; Path=/; Secure; HttpOnly; SameSite=Strict`, 'Max-Age: 4500 ms rounded up');
    const send = (q, cookie) => {
      const id = uniq('req');
      const path = `/ttc/use/${uniq('u')}`;
      return gw.request(`${path}?${q}`, { p: parts({ rawCookie: cookie }), id }).then((r) => ({ res: r, id, path }));
    };
    const ok = await send('order=42', `tt=${token}`);
    assertPassed(ok.res, origin, ok.id);
    for (const [q, cause] of [['order=43', 'wrong_binding'], ['x=1', 'no_bind_value'], ['order=42&order=42', 'no_bind_value']]) {
      const r = await send(q, `tt=${token}`);
      assertDenied(r.res, MSG('COOKIE', 'tt'));
      assert.equal((await entryFor(gw, r.path, 'time_token')).cause, cause, q);
    }
  });

  test('bound to the app\'s extra_info.tenant: another app of the same tenant passes, another tenant does not', T, async () => {
    const res = await gw.request(`/tte/issue/${uniq('i')}`, { p: parts({ headers: [['client_id', appT1]] }) });
    const token = res.headers.time_token;
    assert.ok(token);
    const send = (clientId) => {
      const id = uniq('req');
      const path = `/tte/use/${uniq('u')}`;
      return gw.request(path, { p: parts({ headers: [['client_id', clientId], ['time_token', token]] }), id }).then((r) => ({ res: r, id, path }));
    };
    const same = await send(appT1b);
    assertPassed(same.res, origin, same.id);
    const other = await send(appT2);
    assertDenied(other.res, MSG('HEADER', 'time_token'));
    assert.equal((await entryFor(gw, other.path, 'time_token')).cause, 'wrong_binding');
  });
});
