// CSRF Generator / CSRF Validation in Miniflare: the generator adds its token to the origin's
// response (header or cookie, the origin's own headers and body kept), the validator accepts
// only that token, and every cause is a 401 with the CSRF Token message and a precise trace
// cause. Tokens are also forged here from the documented format (tests/e2e/gentoken.mjs).
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
const MSG = (loc, name) => `CSRF Token in the request, identified by ${loc} ${name}, is invalid. Check docs.sensedia.com`;
const HDR = 'X-CSRF-Token';

function makePolicy(originUrl) {
  const api = (name, interceptors, resources) => ({
    name,
    base_path: `/${name}`,
    origin: `${originUrl}/be/${name}`,
    interceptors,
    resources,
  });
  return {
    apis: [
      // Header mode, bound to the app that client_id identifies.
      api('csrf-h', [{ type: 'client_id' }], [
        { name: 'token', path: '/token/*', methods: ['GET', 'POST'], interceptors: [{ type: 'csrf_generator', name: HDR, expiry_seconds: 600 }] },
        { name: 'pay', path: '/pay/*', methods: ['POST'], interceptors: [{ type: 'csrf', name: HDR, format: 'json' }] },
      ]),
      // Cookie mode, bound to a session cookie only.
      api('csrf-c', [], [
        {
          name: 'token',
          path: '/token/*',
          methods: ['POST'],
          interceptors: [{ type: 'csrf_generator', location: 'cookie', bind_app: false, session: { cookie: 'sid' }, same_site: 'lax', cookie_path: '/csrf-c' }],
        },
        {
          name: 'pay',
          path: '/pay/*',
          methods: ['POST'],
          interceptors: [{ type: 'csrf', location: 'cookie', bind_app: false, session: { cookie: 'sid' }, hide_credential: true }],
        },
      ]),
    ],
  };
}

describe('CSRF Generator and CSRF Validation', H, () => {
  let origin;
  let gw;
  const app = uniq('csrf-app');
  const other = uniq('csrf-other');

  before(async () => {
    origin = await startOrigin();
    const access = [{ api: 'csrf-h' }];
    gw = await startGateway({
      policy: makePolicy(origin.url),
      records: { [appKey(app)]: appRecord({ access }), [appKey(other)]: appRecord({ access }) },
      bindings: { TOKEN_SECRET: SECRET, TOKEN_SECRET_PREVIOUS: PREVIOUS },
    });
  }, H);

  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, H);

  const headerToken = async (clientId = app) => {
    const res = await gw.request(`/csrf-h/token/${uniq('t')}`, { method: 'POST', p: parts({ headers: [['client_id', clientId]] }), body: 'x' });
    assert.equal(res.status, 200, res.text);
    return res.headers['x-csrf-token'];
  };
  const pay = (token, { clientId = app, path = `/csrf-h/pay/${uniq('p')}`, id = uniq('req'), extra = [] } = {}) => {
    const headers = [['client_id', clientId], ...extra];
    if (token !== undefined) headers.push([HDR, token]);
    return gw.request(path, { method: 'POST', p: parts({ headers }), body: '{"amount":1}', id }).then((res) => ({ res, id, path }));
  };

  test('header mode: issued on the origin response, body and headers intact, format as documented', T, async () => {
    const path = `/csrf-h/token/${uniq('t')}`;
    const before = Date.now();
    const res = await gw.request(path, { method: 'POST', p: parts({ headers: [['client_id', app]] }), body: 'hello body' });
    assert.equal(res.status, 200);
    assert.equal(res.text, 'hello body', 'the origin body streams through');
    assert.equal(res.headers['x-origin-len'], '10', "the origin's headers are kept");
    const token = res.headers['x-csrf-token'];
    assert.match(token, /^v1\.\d{13}\.[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{43}$/);
    assert.equal(res.headers['access-control-expose-headers'], HDR);
    const exp = tokenTime(token);
    assert.ok(exp >= before + 600_000 - 5 && exp <= Date.now() + 600_000 + 5, `expiry ${exp}`);
    // Byte for byte the documented construction.
    assert.equal(token, makeToken(SECRET, { kind: 'csrf', api: 'csrf-h', place: 'HEADER', name: HDR, time: exp, bound: [app, null] }));
    const e = await entryFor(gw, path, 'csrf_generator');
    assert.equal(e.outcome, 'pass');
    assert.equal(e.element, `HEADER ${HDR}`);
    assert.equal(e.detail, 'issued; expires in 600 s');
    assert.match(e.fingerprint, /^sha256:[0-9a-f]{16}$/);
    assert.ok(!gw.output().includes(token), 'the token is never written to the trace');
  });

  test('the token passes on the protected operation', T, async () => {
    const token = await headerToken();
    const { res, id, path } = await pay(token);
    const seen = assertPassed(res, origin, id);
    assert.equal(seen.headers['x-csrf-token'], token, 'kept without hide_credential');
    assert.equal(res.headers['x-csrf-token'], undefined, 'a validator issues nothing');
    const e = await entryFor(gw, path, 'csrf');
    assert.equal(e.outcome, 'pass');
    assert.match(e.detail, /^expires in (59\d|600) s$/);
  });

  test('GET on the generator operation issues nothing; a denied call gets nothing', T, async () => {
    const res = await gw.request(`/csrf-h/token/${uniq('t')}`, { p: parts({ headers: [['client_id', app]] }) });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-csrf-token'], undefined);
    const denied = await gw.request(`/csrf-h/token/${uniq('t')}`, { method: 'POST', body: 'x' });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers['x-csrf-token'], undefined);
  });

  const exp = () => Date.now() + 600_000;
  const forged = (secret, fields = {}) =>
    makeToken(secret, { kind: 'csrf', api: 'csrf-h', place: 'HEADER', name: HDR, time: exp(), bound: [app, null], ...fields });

  // [name, token (function), options, trace cause]
  const CAUSES = [
    ['missing', () => undefined, {}, 'missing'],
    ['empty', () => '', {}, 'empty'],
    ['malformed', () => 'v1.abc', {}, 'malformed'],
    ['trailing space', async () => `${await headerToken()} `, {}, 'malformed'],
    ['sent twice (joined by the runtime)', async () => undefined, { twice: true }, 'malformed'],
    ['altered expiry', async () => {
      const t = await headerToken();
      const [v, time, tag, mac] = t.split('.');
      return [v, String(Number(time) + 86_400_000), tag, mac].join('.');
    }, {}, 'bad_signature'],
    ['made under an unrelated secret', () => forged(OTHER), {}, 'bad_signature'],
    ['issued for another API', () => forged(SECRET, { api: 'csrf-c' }), {}, 'bad_signature'],
    ['a Time Token', () => forged(SECRET, { kind: 'time' }), {}, 'bad_signature'],
    ['expired', () => forged(SECRET, { time: Date.now() - 1 }), {}, 'expired'],
    ['issued to another app', async () => headerToken(other), {}, 'wrong_binding'],
    ['600 bytes', () => 'x'.repeat(600), {}, 'too_long'],
  ];
  for (const [name, make, opts, cause] of CAUSES) {
    test(`401 and cause ${cause}: ${name}`, T, async () => {
      const token = await make();
      const extra = opts.twice ? [[HDR, await headerToken()], [HDR, await headerToken()]] : [];
      const { res, id, path } = await pay(token, { extra });
      assertDenied(res, MSG('HEADER', HDR), 'json');
      assertNotForwarded(origin, id);
      const e = await entryFor(gw, path, 'csrf');
      assert.equal(e.outcome, 'deny');
      assert.equal(e.cause, cause, JSON.stringify(e));
      if (opts.twice) assert.match(e.detail, /sent more than once/);
      assert.equal(e.line, `CSRF token in HEADER ${HDR} HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call`);
    });
  }

  test('rotation: a token made under TOKEN_SECRET_PREVIOUS still passes', T, async () => {
    const { res, id, path } = await pay(forged(PREVIOUS));
    assertPassed(res, origin, id);
    const e = await entryFor(gw, path, 'csrf');
    assert.match(e.detail, /made under TOKEN_SECRET_PREVIOUS/);
  });

  test('cookie mode: Set-Cookie appended to the origin\'s, attributes, session binding', T, async () => {
    const sid = uniq('sid');
    const res = await gw.request('/csrf-c/token/resp-headers', { method: 'POST', p: parts({ cookies: [['sid', sid]] }), body: 'x' });
    assert.equal(res.status, 201, "the origin's status is kept");
    assert.equal(res.text, '{"created":true}');
    assert.equal(res.headers['cache-control'], 'max-age=17');
    const cookies = setCookies(res);
    assert.equal(cookies.length, 3, JSON.stringify(cookies));
    assert.deepEqual(cookies.slice(0, 2), ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
    const token = cookieFrom(res, 'csrf_token');
    assert.equal(cookies[2], `csrf_token=${token}; Max-Age=3600; Path=/csrf-c; Secure; HttpOnly; SameSite=Lax`);
    assert.equal(token, makeToken(SECRET, { kind: 'csrf', api: 'csrf-c', place: 'COOKIE', name: 'csrf_token', time: tokenTime(token), bound: [null, bound('cookie:sid', sid)] }));

    const send = (cookie) => {
      const id = uniq('req');
      const path = `/csrf-c/pay/${uniq('p')}`;
      return gw.request(path, { method: 'POST', p: parts({ rawCookie: cookie }), body: 'y', id }).then((r) => ({ res: r, id, path }));
    };
    const ok = await send(`sid=${sid}; csrf_token=${token}; keep=1`);
    const seen = assertPassed(ok.res, origin, ok.id);
    assert.equal(seen.headers.cookie, `sid=${sid}; keep=1`, 'hide_credential removes only the CSRF cookie');
    for (const [cookie, cause] of [
      [`sid=${uniq('sid')}; csrf_token=${token}`, 'wrong_binding'],
      [`csrf_token=${token}`, 'no_session'],
      [`sid=${sid}`, 'missing'],
      [`sid=${sid}; csrf_token=${token}; csrf_token=${token}`, 'duplicated'],
    ]) {
      const r = await send(cookie);
      assertDenied(r.res, MSG('COOKIE', 'csrf_token'));
      assertNotForwarded(origin, r.id);
      assert.equal((await entryFor(gw, r.path, 'csrf')).cause, cause, cookie);
    }
    // Without a session the generator issues nothing and says why.
    const path = `/csrf-c/token/${uniq('t')}`;
    const none = await gw.request(path, { method: 'POST', body: 'x' });
    assert.equal(none.status, 200);
    assert.equal(cookieFrom(none, 'csrf_token'), undefined);
    const e = await entryFor(gw, path, 'csrf_generator');
    assert.equal(e.cause, 'no_session');
    assert.ok(!gw.output().includes(sid), 'the session value is never written to the trace');
  });
});

describe('CSRF without TOKEN_SECRET', H, () => {
  let origin;
  let gw;
  before(async () => {
    origin = await startOrigin();
    gw = await startGateway({ policy: makePolicy(origin.url) });
  }, H);
  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, H);

  test('every request is a 500 and the console names the missing secret', T, async () => {
    const id = uniq('req');
    const res = await gw.request('/csrf-c/pay/x', { method: 'POST', body: 'x', id, p: parts({ cookies: [['sid', 's'], ['csrf_token', 'v1.1.2.3']] }) });
    assert.equal(res.status, 500);
    assert.equal(res.text, 'Internal Server Error');
    assertNotForwarded(origin, id);
    assert.ok(await gw.waitForOutput(['TOKEN_SECRET secret is not set']), gw.output().slice(-500));
  });
});
