// The authorization server through the built Worker: Sensedia's endpoints exactly as SPEC §7
// shows them (raw HTTP), the RFC ones (revocation, introspection, metadata), every grant and
// its errors, PKCE, concurrent redemption of one code or refresh token (exactly one wins),
// refresh rotation and reuse, the password grant against a local check endpoint, the failure
// throttle, and the tokens issued passing the OAuth, Access Token (header and Bearer) and Client
// ID interceptors — and failing after <base>/revoke. Codes and refresh tokens live in the
// GRANTS Durable Object (Miniflare runs it with SQLite, as wrangler.toml declares it).

import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  HOOK_TIMEOUT,
  MSG,
  TEST_TIMEOUT,
  appKey,
  appRecord,
  assert,
  assertDenied,
  assertNotForwarded,
  assertPassed,
  sha256hex,
  startGateway,
  startOrigin,
  uniq,
} from './harness.mjs';

const T = { timeout: TEST_TIMEOUT };
const H = { timeout: HOOK_TIMEOUT };

const PROVISION = `pk-${randomBytes(16).toString('hex')}`;
const CHECK_TOKEN = `ct-${randomBytes(16).toString('hex')}`;
const CB = 'https://app.example/cb';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// Apps: each test uses its own, so the throttle and families never mix.
const SECRET = `s-${randomBytes(16).toString('hex')}`;
const apps = {};
function app(name, fields = {}) {
  const id = uniq(name);
  apps[name] = id;
  return [
    appKey(id),
    appRecord({
      access: [{ api: 'orders' }, { api: 'catalog' }, { api: 'reports' }, { api: 'status' }, { api: 'all' }],
      client_secret_sha256: sha256hex(SECRET),
      redirect_uris: [CB, 'https://app.example/cb?tenant=1'],
      extra_info: { plan: 'gold' },
      ...fields,
    }),
  ];
}
const RECORDS = Object.fromEntries([
  app('cc'),
  app('cc2'),
  app('rfc'),
  app('errors'),
  app('errors2'),
  app('code'),
  app('pkce'),
  app('race'),
  app('refresh'),
  app('refresh-race'),
  app('revoke'),
  app('introspect'),
  app('origin', { introspect_any: true }),
  app('password'),
  app('throttle'),
  app('throttle-other'),
  app('public', { client_type: 'public', client_secret_sha256: undefined }),
  app('narrow', { grant_types: ['authorization_code'], access_token_lifetime_seconds: 600 }),
  app('pending', { status: 'PENDING' }),
  app('trace'),
]);

const basic = (id, secret = SECRET) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const form = (o) => new URLSearchParams(o).toString();
const s256 = (v) => createHash('sha256').update(v).digest('base64url');

let origin;
let gw;
let check;

/** The resource-owner check endpoint: alice/wonderland passes, "slow" answers after 8 s. */
async function startCheck() {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ headers: req.headers, body });
      let j = {};
      try {
        j = JSON.parse(body);
      } catch {}
      if (req.headers.authorization !== `Bearer ${CHECK_TOKEN}`) {
        res.writeHead(403).end();
      } else if (j.username === 'slow') {
        const t = setTimeout(() => res.writeHead(200).end('{}'), 8000);
        res.on('close', () => clearTimeout(t));
      } else if (j.username === 'broken') {
        res.writeHead(500).end('down');
      } else if (j.username === 'alice' && j.password === 'wonderland') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ extra_info: { user: 'alice', id: 7 } }));
      } else {
        res.writeHead(401).end();
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/check`,
    seen,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections?.();
        server.close(r);
      }),
  };
}

function policy() {
  const api = (name, interceptors, base = `/${name}`) => ({
    name,
    base_path: base,
    origin: `${origin.url}/be/${name}`,
    interceptors,
  });
  return {
    // Revocations must show at once in this test: no per-isolate record cache.
    cache: { ttl_seconds: 0, negative_ttl_seconds: 0 },
    apis: [
      api('orders', [{ type: 'oauth' }]),
      api('catalog', [{ type: 'access_token' }]),
      api('reports', [{ type: 'access_token', bearer: true }]),
      api('status', [{ type: 'access_token' }, { type: 'client_id' }]),
      // A catch-all API: the servers' endpoints are matched before it.
      api('all', [{ type: 'client_id' }], '/'),
    ],
    authorization_servers: [
      { name: 'sensedia', base_path: '/oauth' },
      {
        name: 'standard',
        base_path: '/oauth2',
        mode: 'rfc',
        grants: ['client_credentials', 'authorization_code', 'refresh_token', 'password'],
        resource_owner_check: { url: check.url, timeout_ms: 1000 },
        login_page: 'https://login.example/authorize',
      },
      { name: 'long', base_path: '/oauth-256', mode: 'rfc', token_format: '256-bit', endpoints: ['access-token'] },
    ],
  };
}

before(async () => {
  origin = await startOrigin();
  check = await startCheck();
  gw = await startGateway({
    policy: policy(),
    records: RECORDS,
    bindings: { AUTHZ_PROVISION_KEY: PROVISION, AUTHZ_CHECK_TOKEN: CHECK_TOKEN },
  });
}, H);

after(async () => {
  await gw?.dispose();
  await origin?.close();
  await check?.close();
}, H);

function post(path, { headers = [], body = '' } = {}) {
  return gw.request(path, { method: 'POST', headers, body });
}

function token(base, params, auth) {
  const headers = [['Content-Type', 'application/x-www-form-urlencoded']];
  if (auth) headers.push(['Authorization', auth]);
  return post(`${base}/access-token`, { headers, body: form(params) });
}

function json(res) {
  return JSON.parse(res.text);
}

function grantCode(base, body, key = PROVISION) {
  const headers = [['Content-Type', 'application/json']];
  if (key) headers.push(['x-provision-key', key]);
  return post(`${base}/grant-code`, { headers, body: JSON.stringify(body) });
}

function codeOf(res) {
  assert.equal(res.status, 200, res.text);
  return new URL(json(res).redirect_uri).searchParams.get('code');
}

/** Calls every validating API with `tok` of app `client`; true when all pass, false when all fail. */
async function validates(client, tok) {
  const id = uniq('v');
  const results = [
    await gw.request('/orders/x', { headers: [['client_id', client], ['access_token', tok]], id: `${id}-o` }),
    await gw.request('/catalog/x', { headers: [['access_token', tok]], id: `${id}-c` }),
    await gw.request('/reports/x', { headers: [['Authorization', `Bearer ${tok}`]], id: `${id}-r` }),
    await gw.request('/status/x', { headers: [['access_token', tok], ['client_id', client]], id: `${id}-s` }),
  ];
  const ok = results.map((r) => r.status === 200);
  assert.ok(ok.every((x) => x === ok[0]), `interceptors disagree: ${results.map((r) => `${r.status} ${r.text}`)}`);
  if (!ok[0]) {
    assertDenied(results[0], MSG.accessToken('HEADER', 'access_token'));
    assertDenied(results[1], MSG.accessToken('HEADER', 'access_token'));
    assertDenied(results[2], MSG.accessToken('HEADER', 'Authorization'));
    assert.equal(results[2].headers['www-authenticate'], 'Bearer error="invalid_token"');
    for (const s of ['o', 'c', 'r', 's']) assertNotForwarded(origin, `${id}-${s}`);
  }
  return ok[0];
}

function assertError(res, status, error) {
  assert.equal(res.status, status, res.text);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const b = json(res);
  assert.equal(b.error, error, res.text);
  assert.deepEqual(Object.keys(b).sort(), ['error', 'error_description']);
  assert.equal(res.headers['cache-control'], 'no-store');
  if (error === 'invalid_client') assert.match(String(res.headers['www-authenticate']), /^Basic realm="/);
}

describe('Sensedia endpoints, raw HTTP exactly as SPEC §7 shows', () => {
  test('client credentials: 201, exactly Sensedia\'s keys, a UUID token that the interceptors accept', T, async () => {
    const res = await post('/oauth/access-token', {
      headers: [
        ['Authorization', basic(apps.cc)],
        ['Content-Type', 'application/x-www-form-urlencoded'],
      ],
      body: 'grant_type=client_credentials',
    });
    assert.equal(res.status, 201, res.text);
    const b = json(res);
    assert.deepEqual(Object.keys(b), ['access_token', 'token_type', 'expires_in']);
    assert.equal(b.token_type, 'access_token');
    assert.equal(b.expires_in, 3600);
    assert.match(b.access_token, UUID);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.ok(await validates(apps.cc, b.access_token));
    // The record is an ordinary token record, stored under the token's SHA-256 only.
    const kv = await gw.mf.getKVNamespace('RECORDS');
    const rec = await kv.getWithMetadata(`token:${sha256hex(b.access_token)}`, 'json');
    assert.equal(rec.value.client_id, apps.cc);
    assert.equal(rec.value.kind, 'access_token');
    assert.equal(rec.value.grant_type, 'client_credentials');
    assert.equal(rec.value.server, 'sensedia');
    assert.deepEqual(rec.metadata, { client_id: apps.cc });
    const { keys } = await kv.list({ prefix: 'token:' });
    assert.ok(!keys.some((k) => k.name.includes(b.access_token)));
  });

  test('client credentials with a JSON body and with client_secret_post', T, async () => {
    let res = await post('/oauth/access-token', {
      headers: [['Authorization', basic(apps.cc2)], ['Content-Type', 'application/json']],
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    assert.equal(res.status, 201, res.text);
    res = await token('/oauth', { grant_type: 'client_credentials', client_id: apps.cc2, client_secret: SECRET });
    assert.equal(res.status, 201, res.text);
    assert.ok(await validates(apps.cc2, json(res).access_token));
  });

  test('grant-code then authorization_code: the code inside the redirect URI, extra_info to the origin', T, async () => {
    const res = await post('/oauth/grant-code', {
      headers: [['Content-Type', 'application/json'], ['x-provision-key', PROVISION]],
      body: JSON.stringify({ client_id: apps.code, redirect_uri: CB, state: 'xyz', extra_info: { user: 'alice' } }),
    });
    assert.equal(res.status, 200, res.text);
    const b = json(res);
    assert.deepEqual(Object.keys(b), ['redirect_uri']);
    const m = /^https:\/\/app\.example\/cb\?code=([0-9a-f-]{36})&state=xyz$/.exec(b.redirect_uri);
    assert.ok(m, b.redirect_uri);
    assert.match(m[1], UUID);
    // Exactly as SPEC §7: grant_type=authorization_code&code=<code>, Basic credentials.
    const t = await post('/oauth/access-token', {
      headers: [['Authorization', basic(apps.code)], ['Content-Type', 'application/x-www-form-urlencoded']],
      body: `grant_type=authorization_code&code=${m[1]}`,
    });
    assert.equal(t.status, 200, t.text);
    const tb = json(t);
    assert.deepEqual(Object.keys(tb), ['access_token', 'refresh_token', 'token_type', 'expires_in']);
    assert.equal(tb.token_type, 'access_token');
    assert.match(tb.refresh_token, UUID);
    assert.ok(await validates(apps.code, tb.access_token));
    const id = uniq('xi');
    const seen = assertPassed(
      await gw.request('/catalog/x', { headers: [['access_token', tb.access_token]], id }),
      origin,
      id,
    );
    assert.deepEqual(JSON.parse(seen.headers['x-edge-app-extra-info']).token, { user: 'alice' });
    // A refresh token never passes an interceptor.
    assert.equal(await validates(apps.code, tb.refresh_token), false);
    // A code with a redirect URI that has a query keeps it.
    const q = await grantCode('/oauth', { client_id: apps.code, redirect_uri: 'https://app.example/cb?tenant=1' });
    assert.match(json(q).redirect_uri, /^https:\/\/app\.example\/cb\?tenant=1&code=[0-9a-f-]{36}$/);
  });

  test('refresh_token: a new pair each time, Sensedia\'s keys', T, async () => {
    const code = codeOf(await grantCode('/oauth', { client_id: apps.refresh, redirect_uri: CB }));
    let t = json(await token('/oauth', { grant_type: 'authorization_code', code }, basic(apps.refresh)));
    const first = t;
    const res = await post('/oauth/access-token', {
      headers: [['Authorization', basic(apps.refresh)], ['Content-Type', 'application/json']],
      body: JSON.stringify({ grant_type: 'refresh_token', refresh_token: t.refresh_token }),
    });
    assert.equal(res.status, 200, res.text);
    t = json(res);
    assert.deepEqual(Object.keys(t), ['access_token', 'refresh_token', 'token_type', 'expires_in']);
    assert.notEqual(t.refresh_token, first.refresh_token);
    assert.ok(await validates(apps.refresh, t.access_token));
    assert.ok(await validates(apps.refresh, first.access_token));
    // The spent refresh token again: invalid_grant, and the whole family is revoked.
    const reuse = await token('/oauth', { grant_type: 'refresh_token', refresh_token: first.refresh_token }, basic(apps.refresh));
    assertError(reuse, 400, 'invalid_grant');
    assert.equal(await validates(apps.refresh, first.access_token), false);
    assert.equal(await validates(apps.refresh, t.access_token), false);
    const newest = await token('/oauth', { grant_type: 'refresh_token', refresh_token: t.refresh_token }, basic(apps.refresh));
    assertError(newest, 400, 'invalid_grant');
    assert.ok(await gw.waitForOutput(['"cause":"reused_refresh_token"', '"cause":"family_revoked"']));
  });
});

describe('RFC mode', () => {
  test('client credentials: 200, Bearer, scope; the token works as a Bearer token', T, async () => {
    const res = await token('/oauth2', { grant_type: 'client_credentials', scope: 'reports catalog' }, basic(apps.rfc));
    assert.equal(res.status, 200, res.text);
    const b = json(res);
    assert.deepEqual(b, { access_token: b.access_token, token_type: 'Bearer', expires_in: 3600, scope: 'reports catalog' });
    assert.equal(res.headers['pragma'], 'no-cache');
    const id = uniq('b');
    assertPassed(await gw.request('/reports/x', { headers: [['Authorization', `Bearer ${b.access_token}`]], id }), origin, id);
    // Without a token: 401 with the challenge of RFC 6750 §3.1.
    const none = await gw.request('/reports/x');
    assertDenied(none, MSG.accessToken('HEADER', 'Authorization'));
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    // Narrowed by its scope: orders is not in it.
    const o = await gw.request('/orders/x', { headers: [['client_id', apps.rfc], ['access_token', b.access_token]] });
    assertDenied(o, MSG.accessToken('HEADER', 'access_token'));
    assertError(await token('/oauth2', { grant_type: 'client_credentials', scope: 'billing' }, basic(apps.rfc)), 400, 'invalid_scope');
  });

  test('token_format 256-bit: 43 base64url characters, validated like any token', T, async () => {
    const res = await token('/oauth-256', { grant_type: 'client_credentials' }, basic(apps.rfc));
    assert.equal(res.status, 200, res.text);
    const t = json(res).access_token;
    assert.match(t, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(await validates(apps.rfc, t));
    assert.equal((await gw.request('/.well-known/oauth-authorization-server/oauth-256')).status, 401, 'metadata not served there');
  });

  test('metadata advertises what is served', T, async () => {
    const res = await gw.request('/.well-known/oauth-authorization-server/oauth2');
    assert.equal(res.status, 200, res.text);
    const m = json(res);
    const base = gw.url.toString().replace(/\/$/, '');
    assert.equal(m.issuer, `${base}/oauth2`);
    assert.equal(m.token_endpoint, `${base}/oauth2/access-token`);
    assert.equal(m.revocation_endpoint, `${base}/oauth2/revoke`);
    assert.equal(m.introspection_endpoint, `${base}/oauth2/introspect`);
    assert.equal(m.authorization_endpoint, 'https://login.example/authorize');
    assert.deepEqual(m.grant_types_supported, ['client_credentials', 'authorization_code', 'refresh_token', 'password']);
    assert.deepEqual(m.code_challenge_methods_supported, ['S256']);
    const s = json(await gw.request('/.well-known/oauth-authorization-server/oauth'));
    assert.equal(s.issuer, `${base}/oauth`);
    assert.ok(!('authorization_endpoint' in s));
    assert.equal((await gw.request('/.well-known/oauth-authorization-server/nope')).status, 401, 'not a server: the catch-all API');
  });

  test('the code exchange with PKCE (S256 only)', T, async () => {
    const verifier = randomBytes(32).toString('base64url');
    const body = { client_id: apps.pkce, redirect_uri: CB, code_challenge: s256(verifier), code_challenge_method: 'S256' };
    const code = codeOf(await grantCode('/oauth2', body));
    // The redirect URI is required in rfc mode, and the verifier must match.
    assertError(await token('/oauth2', { grant_type: 'authorization_code', code, code_verifier: verifier }, basic(apps.pkce)), 400, 'invalid_grant');
    const code2 = codeOf(await grantCode('/oauth2', body));
    assertError(
      await token('/oauth2', { grant_type: 'authorization_code', code: code2, redirect_uri: CB, code_verifier: randomBytes(32).toString('base64url') }, basic(apps.pkce)),
      400,
      'invalid_grant',
    );
    const code3 = codeOf(await grantCode('/oauth2', body));
    const ok = await token('/oauth2', { grant_type: 'authorization_code', code: code3, redirect_uri: CB, code_verifier: verifier }, basic(apps.pkce));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(json(ok).token_type, 'Bearer');
    assert.ok(await validates(apps.pkce, json(ok).access_token));
    // plain, and a challenge without a method (plain by default), are refused at grant-code.
    assertError(await grantCode('/oauth2', { ...body, code_challenge_method: 'plain' }), 400, 'invalid_request');
    const { code_challenge_method, ...noMethod } = body;
    assertError(await grantCode('/oauth2', noMethod), 400, 'invalid_request');
    // A public app: client_id alone, PKCE required.
    const pub = { client_id: apps.public, redirect_uri: CB, code_challenge: s256(verifier), code_challenge_method: 'S256' };
    assertError(await grantCode('/oauth2', { client_id: apps.public, redirect_uri: CB }), 400, 'invalid_request');
    const pc = codeOf(await grantCode('/oauth2', pub));
    const pt = await token('/oauth2', { grant_type: 'authorization_code', client_id: apps.public, code: pc, redirect_uri: CB, code_verifier: verifier });
    assert.equal(pt.status, 200, pt.text);
    assertError(await token('/oauth2', { grant_type: 'client_credentials', client_id: apps.public }), 400, 'unauthorized_client');
  });

  test('the password grant asks the check endpoint; extra_info travels into the token', T, async () => {
    const before = check.seen.length;
    const res = await token('/oauth2', { grant_type: 'password', username: 'alice', password: 'wonderland' }, basic(apps.password));
    assert.equal(res.status, 200, res.text);
    const b = json(res);
    assert.ok(b.refresh_token);
    const sent = check.seen[before];
    assert.equal(sent.headers.authorization, `Bearer ${CHECK_TOKEN}`);
    assert.equal(sent.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(sent.body), { username: 'alice', password: 'wonderland', client_id: apps.password });
    const id = uniq('pw');
    const seen = assertPassed(await gw.request('/catalog/x', { headers: [['access_token', b.access_token]], id }), origin, id);
    assert.deepEqual(JSON.parse(seen.headers['x-edge-app-extra-info']).token, { user: 'alice', id: 7 });
    assertError(await token('/oauth2', { grant_type: 'password', username: 'alice', password: 'nope' }, basic(apps.password)), 400, 'invalid_grant');
    const broken = await token('/oauth2', { grant_type: 'password', username: 'broken', password: 'x' }, basic(apps.password));
    assert.equal(broken.status, 503);
    assert.equal(broken.text, 'Service Unavailable');
    const t0 = Date.now();
    const slow = await token('/oauth2', { grant_type: 'password', username: 'slow', password: 'x' }, basic(apps.password));
    assert.equal(slow.status, 503, 'past timeout_ms: fail closed');
    // timeout_ms is 1000; the check would answer after 8 s (generous for a loaded machine).
    assert.ok(Date.now() - t0 < 6000, `answered after ${Date.now() - t0} ms`);
    // Not allowed on the sensedia server (no check endpoint there).
    assertError(await token('/oauth', { grant_type: 'password', username: 'alice', password: 'wonderland' }, basic(apps.password)), 400, 'unsupported_grant_type');
  });
});

describe('errors (RFC 6749 §5.2 in both modes, never a 5xx)', () => {
  test('client authentication, grants, bodies', T, async () => {
    for (const base of ['/oauth', '/oauth2']) {
      assertError(await token(base, { grant_type: 'client_credentials' }, basic(apps.errors, 'wrong')), 401, 'invalid_client');
      assertError(await token(base, { grant_type: 'client_credentials' }, basic('no-such-app')), 401, 'invalid_client');
      assertError(await token(base, { grant_type: 'client_credentials' }, basic(apps.pending)), 401, 'invalid_client');
      assertError(await token(base, { grant_type: 'client_credentials' }), 401, 'invalid_client');
      assertError(await token(base, { grant_type: 'client_credentials' }, 'Basic !!!'), 401, 'invalid_client');
      assertError(await token(base, { grant_type: 'implicit' }, basic(apps.errors)), 400, 'unsupported_grant_type');
      assertError(await token(base, {}, basic(apps.errors)), 400, 'invalid_request');
      assertError(await token(base, { grant_type: 'client_credentials' }, basic(apps.narrow)), 400, 'unauthorized_client');
      assertError(await token(base, { grant_type: 'authorization_code', code: 'nope' }, basic(apps.errors)), 400, 'invalid_grant');
      assertError(await token(base, { grant_type: 'refresh_token', refresh_token: 'nope' }, basic(apps.errors)), 400, 'invalid_grant');
      assertError(
        await post(`${base}/access-token`, {
          headers: [['Authorization', basic(apps.errors)], ['Content-Type', 'application/x-www-form-urlencoded']],
          body: 'grant_type=client_credentials&grant_type=client_credentials',
        }),
        400,
        'invalid_request',
      );
      assertError(
        await post(`${base}/access-token`, {
          headers: [['Authorization', basic(apps.errors)], ['Content-Type', 'application/json']],
          body: '{"grant_type":',
        }),
        400,
        'invalid_request',
      );
      assertError(
        await post(`${base}/access-token`, {
          headers: [['Authorization', basic(apps.errors)], ['Content-Type', 'application/x-www-form-urlencoded']],
          body: `grant_type=client_credentials&pad=${'x'.repeat(20_000)}`,
        }),
        400,
        'invalid_request',
      );
      const get = await gw.request(`${base}/access-token`);
      assert.equal(get.status, 405);
      assert.equal(get.headers.allow, 'POST');
    }
    // grant-code: provision key, redirect URI, app.
    assertError(await grantCode('/oauth', { client_id: apps.errors2, redirect_uri: CB }, null), 401, 'invalid_client');
    assertError(await grantCode('/oauth', { client_id: apps.errors2, redirect_uri: CB }, 'wrong'), 401, 'invalid_client');
    const evil = await grantCode('/oauth', { client_id: apps.errors2, redirect_uri: 'https://evil.example/cb' });
    assertError(evil, 400, 'invalid_request');
    assert.ok(!evil.text.includes('evil') && !evil.headers.location);
    assertError(await grantCode('/oauth', { client_id: 'no-such-app', redirect_uri: CB }), 401, 'invalid_client');
    assertError(await grantCode('/oauth', { client_id: apps.errors2 }), 400, 'invalid_request');
    await gw.waitForOutput(['"cause":"bad_secret"']);
  });

  test('a server inside a catch-all API: its endpoints first, other paths to the API', T, async () => {
    const res = await token('/oauth', { grant_type: 'client_credentials' }, basic(apps.cc));
    assert.equal(res.status, 201);
    const other = await gw.request('/oauth/other', { headers: [['client_id', apps.cc]], id: uniq('all') });
    assert.equal(other.status, 200, 'the catch-all API takes /oauth/other');
  });
});

describe('single use under concurrency (the GRANTS Durable Object)', () => {
  test('ten concurrent redemptions of one code: exactly one wins', T, async () => {
    const code = codeOf(await grantCode('/oauth', { client_id: apps.race, redirect_uri: CB }));
    const results = await Promise.all(
      Array.from({ length: 10 }, () => token('/oauth', { grant_type: 'authorization_code', code }, basic(apps.race))),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 400, 400, 400, 400, 400, 400, 400, 400, 400], results.map((r) => r.text).join('\n'));
    for (const r of results.filter((r) => r.status === 400)) assertError(r, 400, 'invalid_grant');
    // The code was presented again: what it gave is revoked (RFC 6749 §4.1.2).
    const winner = json(results.find((r) => r.status === 200));
    assert.equal(await validates(apps.race, winner.access_token), false);
  });

  test('ten concurrent refreshes of one refresh token: exactly one wins', T, async () => {
    const code = codeOf(await grantCode('/oauth', { client_id: apps['refresh-race'], redirect_uri: CB }));
    const t = json(await token('/oauth', { grant_type: 'authorization_code', code }, basic(apps['refresh-race'])));
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        token('/oauth', { grant_type: 'refresh_token', refresh_token: t.refresh_token }, basic(apps['refresh-race'])),
      ),
    );
    const ok = results.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, results.map((r) => `${r.status} ${r.text}`).join('\n'));
    assert.equal(results.filter((r) => r.status === 400).length, 9);
  });
});

describe('revocation and introspection', () => {
  test('<base>/revoke: an access token, then a refresh token\'s family', T, async () => {
    const cc = json(await token('/oauth2', { grant_type: 'client_credentials' }, basic(apps.revoke))).access_token;
    assert.ok(await validates(apps.revoke, cc));
    // Another app cannot revoke it, and is not told.
    let r = await post('/oauth2/revoke', {
      headers: [['Authorization', basic(apps.introspect)], ['Content-Type', 'application/x-www-form-urlencoded']],
      body: form({ token: cc }),
    });
    assert.equal(r.status, 200);
    assert.ok(await validates(apps.revoke, cc));
    r = await post('/oauth2/revoke', {
      headers: [['Authorization', basic(apps.revoke)], ['Content-Type', 'application/x-www-form-urlencoded']],
      body: form({ token: cc, token_type_hint: 'access_token' }),
    });
    assert.equal(r.status, 200);
    assert.equal(r.text, '');
    assert.equal(await validates(apps.revoke, cc), false);
    // Sensedia's server revokes too; a refresh token takes its family.
    const code = codeOf(await grantCode('/oauth', { client_id: apps.revoke, redirect_uri: CB }));
    const t = json(await token('/oauth', { grant_type: 'authorization_code', code }, basic(apps.revoke)));
    assert.ok(await validates(apps.revoke, t.access_token));
    r = await post('/oauth/revoke', {
      headers: [['Authorization', basic(apps.revoke)], ['Content-Type', 'application/x-www-form-urlencoded']],
      body: form({ token: t.refresh_token }),
    });
    assert.equal(r.status, 200);
    assert.equal(await validates(apps.revoke, t.access_token), false);
    assertError(await token('/oauth', { grant_type: 'refresh_token', refresh_token: t.refresh_token }, basic(apps.revoke)), 400, 'invalid_grant');
    // An unknown token is fine; bad credentials are not.
    r = await post('/oauth/revoke', {
      headers: [['Authorization', basic(apps.revoke)], ['Content-Type', 'application/x-www-form-urlencoded']],
      body: form({ token: 'nope' }),
    });
    assert.equal(r.status, 200);
    r = await post('/oauth/revoke', {
      headers: [['Authorization', basic(apps.revoke, 'bad')], ['Content-Type', 'application/x-www-form-urlencoded']],
      body: form({ token: 'nope' }),
    });
    assertError(r, 401, 'invalid_client');
  });

  test('<base>/introspect: own tokens, any token with introspect_any', T, async () => {
    const t = json(await token('/oauth2', { grant_type: 'client_credentials', scope: 'catalog' }, basic(apps.introspect))).access_token;
    const ask = (who, tok) =>
      post('/oauth2/introspect', {
        headers: [['Authorization', basic(who)], ['Content-Type', 'application/x-www-form-urlencoded']],
        body: form({ token: tok }),
      });
    let r = await ask(apps.introspect, t);
    assert.equal(r.status, 200);
    let b = json(r);
    assert.equal(b.active, true);
    assert.equal(b.client_id, apps.introspect);
    assert.equal(b.token_type, 'Bearer');
    assert.equal(b.scope, 'catalog');
    assert.ok(b.exp > b.iat);
    assert.deepEqual(json(await ask(apps.cc, t)), { active: false });
    assert.equal(json(await ask(apps.origin, t)).active, true);
    assert.deepEqual(json(await ask(apps.introspect, 'nope')), { active: false });
    await post('/oauth2/revoke', {
      headers: [['Authorization', basic(apps.introspect)], ['Content-Type', 'application/x-www-form-urlencoded']],
      body: form({ token: t }),
    });
    assert.deepEqual(json(await ask(apps.introspect, t)), { active: false });
  });
});

describe('attack surface', () => {
  test('repeated failures of one client id are slowed after a handful, others are not', T, async () => {
    const attempt = async (id, secret) => {
      const t0 = Date.now();
      const r = await token('/oauth', { grant_type: 'client_credentials' }, basic(id, secret));
      return [r.status, Date.now() - t0];
    };
    const fast = [];
    for (let i = 0; i < 5; i++) fast.push(await attempt(apps.throttle, 'wrong'));
    assert.ok(fast.every(([s]) => s === 401));
    // The 6th failure is counted; from the 7th request on (success or not) it waits 250 ms, then 500 ms.
    await attempt(apps.throttle, 'wrong');
    const [s7, ms7] = await attempt(apps.throttle, 'wrong');
    assert.equal(s7, 401);
    assert.ok(ms7 >= 240, `7th failure answered after ${ms7} ms`);
    const [s8, ms8] = await attempt(apps.throttle, SECRET);
    assert.equal(s8, 201, 'the right secret still works, after the delay');
    assert.ok(ms8 >= 490, `the next request waited ${ms8} ms`);
    const [so] = await attempt(apps['throttle-other'], SECRET);
    assert.equal(so, 201);
  });

  test('no secret, code, token or password in the trace', T, async () => {
    gw.clearOutput();
    const code = codeOf(await grantCode('/oauth', { client_id: apps.trace, redirect_uri: CB }));
    const t = json(await token('/oauth', { grant_type: 'authorization_code', code }, basic(apps.trace)));
    await token('/oauth', { grant_type: 'authorization_code', code }, basic(apps.trace));
    await token('/oauth2', { grant_type: 'password', username: 'alice', password: 'wonderland' }, basic(apps.trace));
    await token('/oauth', { grant_type: 'client_credentials' }, basic(apps.trace, 'wrong-secret-x'));
    assert.ok(await gw.waitForOutput(['"cause":"reused_code"', '"cause":"bad_secret"', '"interceptor":"grant-code"']));
    const out = gw.output();
    for (const s of [SECRET, PROVISION, CHECK_TOKEN, code, t.access_token, t.refresh_token, 'wonderland', 'wrong-secret-x']) {
      assert.ok(!out.includes(s), `the trace contains ${s.slice(0, 8)}…`);
    }
    assert.ok(out.includes(`"client_id":"${apps.trace}"`));
  });
});
