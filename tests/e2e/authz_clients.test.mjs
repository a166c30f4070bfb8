// The authorization server against clients no one here wrote, end to end through the built Worker
// in Miniflare (docs/authorization-server.md):
//
// - Sensedia-style raw HTTP, exactly the requests and answers of SPEC §7 (grant-code, the four
//   grants, form and JSON bodies, the token then used in Sensedia's two headers);
// - oauth4webapi (npm, strict about RFC conformance) against the RFC-mode server: RFC 8414
//   discovery, client credentials (client_secret_basic and client_secret_post), the code exchange
//   with PKCE after grant-code (confidential and public apps), refresh with rotation and reuse
//   detection, RFC 7009 revocation, RFC 7662 introspection, the tokens used as RFC 6750 Bearer
//   tokens; and what it says of the Sensedia-mode answers;
// - Authlib (PyPI) doing the same from Python (tests/e2e/authz_python_client.py).
//
// One gateway serves both: `/oauth` in Sensedia mode (with the password grant and a local
// resource-owner check endpoint) and `/oauth2` in RFC mode. Each group of tests uses its own apps,
// so the slowing of repeated failures per client id never delays another group.

import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as oauth from 'oauth4webapi';
import {
  HOOK_TIMEOUT,
  MSG,
  REPO,
  TEST_TIMEOUT,
  appRecord,
  assert,
  assertDenied,
  assertNotForwarded,
  assertPassed,
  rawRequest,
  sha256hex,
  startGateway,
  startOrigin,
  tokenKey,
  uniq,
} from './harness.mjs';

const T = { timeout: TEST_TIMEOUT };
const PROVISION_KEY = 'e2e-provision-key-3b9f0a7c51d24e86';
const CHECK_TOKEN = 'e2e-owner-check-token-8c1d2e3f4a5b';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const INSECURE = { [oauth.allowInsecureRequests]: true };

// Apps: id -> {secret?, record fields}. Secrets look like the tool's (43 base64url characters).
const secretOf = (id) => `${sha256hex(`secret:${id}`).slice(0, 40)}-_x`;
const APPS = {
  // Sensedia raw HTTP
  'sen-app': { redirect_uris: ['https://app.example.com/callback'], extra_info: { plan: 'gold' } },
  'sen-pw': {},
  // oauth4webapi
  'o4w-conf': { redirect_uris: ['https://client.example.org/cb'] },
  'o4w-pub': { client_type: 'public', redirect_uris: ['http://127.0.0.1:9999/cb'], secret: null },
  'o4w-bad': {},
  'o4w-origin': { introspect_any: true },
  // Authlib
  'py-conf': { redirect_uris: ['https://py.example.org/cb'] },
  'py-pub': { client_type: 'public', redirect_uris: ['http://127.0.0.1:8765/callback'], secret: null },
};
// Client ids as Sensedia makes them (UUIDs): oauth4webapi form-encodes the `-` in Basic
// credentials (RFC 6749 §2.3.1), Authlib does not; the server must take both.
const ID = Object.fromEntries(
  Object.keys(APPS).map((k) => {
    const h = sha256hex(`id:${k}`);
    return [k, `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`];
  }),
);
const SECRET = Object.fromEntries(Object.keys(APPS).map((k) => [k, APPS[k].secret === null ? null : secretOf(k)]));

let origin;
let owner;
let gw;
/** Every token and code the tests got, to check none of them reaches the Worker's output. */
const SEEN = new Set();

/** The resource-owner check endpoint of the password grant: alice / wonderland passes. */
async function startOwnerCheck() {
  const calls = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {}
      calls.push({ method: req.method, url: req.url, headers: req.headers, body });
      const authorized = req.headers.authorization === `Bearer ${CHECK_TOKEN}`;
      if (authorized && body?.username === 'alice' && body?.password === 'wonderland') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ extra_info: { user: 'alice', source: 'owner-check' } }));
      } else {
        res.writeHead(authorized ? 401 : 403, { 'content-type': 'application/json' });
        res.end('{"ok":false}');
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    calls,
    close: () => new Promise((r) => server.close(r)),
  };
}

function policy(originUrl, ownerUrl) {
  const api = (name, interceptor) => ({
    name,
    base_path: `/${name}`,
    origin: `${originUrl}/${name}-backend`,
    interceptors: [interceptor],
  });
  return {
    docs: 'docs.sensedia.com',
    // No record cache: a revocation is seen by the next request (the bound is tested elsewhere).
    cache: { ttl_seconds: 0, negative_ttl_seconds: 0 },
    authorization_servers: [
      {
        name: 'sensedia',
        base_path: '/oauth',
        mode: 'sensedia',
        grants: ['client_credentials', 'authorization_code', 'refresh_token', 'password'],
        resource_owner_check: { url: `${ownerUrl}/check`, secret: 'AUTHZ_CHECK_TOKEN', timeout_ms: 3000 },
      },
      {
        name: 'standard',
        base_path: '/oauth2',
        mode: 'rfc',
        login_page: 'https://login.example.com/authorize',
      },
    ],
    apis: [
      api('orders', { type: 'oauth' }),
      api('bearer', { type: 'access_token', bearer: true }),
      api('catalog', { type: 'access_token' }),
      api('status', { type: 'client_id' }),
    ],
  };
}

before(
  async () => {
    origin = await startOrigin();
    owner = await startOwnerCheck();
    const records = {};
    for (const [k, a] of Object.entries(APPS)) {
      const { secret, ...fields } = a;
      records[`app:${ID[k]}`] = appRecord({
        name: `App ${k}`,
        access: [{ api: 'orders' }, { api: 'bearer' }, { api: 'catalog' }, { api: 'status' }],
        client_secret_sha256: SECRET[k] ? sha256hex(SECRET[k]) : undefined,
        ...fields,
      });
      if (!SECRET[k]) delete records[`app:${ID[k]}`].client_secret_sha256;
    }
    gw = await startGateway({
      policy: policy(origin.url, owner.url),
      records,
      bindings: { AUTHZ_PROVISION_KEY: PROVISION_KEY, AUTHZ_CHECK_TOKEN: CHECK_TOKEN },
    });
  },
  { timeout: HOOK_TIMEOUT },
);

after(
  async () => {
    await gw?.dispose();
    await origin?.close();
    await owner?.close();
  },
  { timeout: HOOK_TIMEOUT },
);

// ---------------------------------------------------------------------------------------------
// Helpers

const basic = (id, secret) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;

/** POST with a form or JSON body; returns the raw answer and its parsed JSON (or null). */
async function post(p, { form, json, headers = [] } = {}) {
  let body;
  const hs = [...headers];
  if (form !== undefined) {
    body = typeof form === 'string' ? form : new URLSearchParams(form).toString();
    hs.push(['Content-Type', 'application/x-www-form-urlencoded']);
  } else if (json !== undefined) {
    body = JSON.stringify(json);
    hs.push(['Content-Type', 'application/json']);
  }
  const res = await rawRequest(gw.url, p, { method: 'POST', headers: hs, body });
  let parsed = null;
  try {
    parsed = JSON.parse(res.text);
  } catch {}
  for (const k of ['access_token', 'refresh_token']) if (typeof parsed?.[k] === 'string') SEEN.add(parsed[k]);
  const code = typeof parsed?.redirect_uri === 'string' && /[?&]code=([^&]+)/.exec(parsed.redirect_uri);
  if (code) SEEN.add(decodeURIComponent(code[1]));
  return { ...res, json: parsed };
}

function call(p, headers) {
  const id = uniq('authz-cl');
  return rawRequest(gw.url, p, { headers: [...headers, ['x-e2e-id', id]] }).then((res) => ({ res, id }));
}

/** The token's stored record (only its hash is a key). */
async function storedRecord(token) {
  const kv = await gw.mf.getKVNamespace('RECORDS');
  return kv.get(tokenKey(token), 'json');
}

/** Checks a token reaches the origin through the OAuth, Access Token (header and Bearer) and
 * Client ID interceptors; returns the origin's view of the OAuth call. */
async function usableEverywhere(clientId, token) {
  SEEN.add(token);
  let { res, id } = await call('/orders/x', [['client_id', clientId], ['access_token', token]]);
  const seen = assertPassed(res, origin, id);
  assert.equal(seen.headers['x-edge-client-id'], clientId);
  ({ res, id } = await call('/catalog/x', [['access_token', token]]));
  assertPassed(res, origin, id);
  ({ res, id } = await call('/bearer/x', [['Authorization', `Bearer ${token}`]]));
  assertPassed(res, origin, id);
  ({ res, id } = await call('/status/x', [['client_id', clientId]]));
  assertPassed(res, origin, id);
  return seen;
}

async function refusedEverywhere(clientId, token) {
  let { res, id } = await call('/orders/x', [['client_id', clientId], ['access_token', token]]);
  assertDenied(res, MSG.accessToken('HEADER', 'access_token'));
  assertNotForwarded(origin, id);
  ({ res, id } = await call('/catalog/x', [['access_token', token]]));
  assertDenied(res, MSG.accessToken('HEADER', 'access_token'));
  assertNotForwarded(origin, id);
  ({ res, id } = await call('/bearer/x', [['Authorization', `Bearer ${token}`]]));
  assertDenied(res, MSG.accessToken('HEADER', 'Authorization'));
  assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"');
  assertNotForwarded(origin, id);
}

/** Asserts the exact keys, in order, of a JSON object given as text. */
function assertKeys(text, keys) {
  assert.deepEqual(Object.keys(JSON.parse(text)), keys, `answer keys of ${text}`);
}

// ---------------------------------------------------------------------------------------------
// Sensedia-style raw HTTP, as SPEC §7 shows it

describe('Sensedia clients (raw HTTP as in SPEC §7)', () => {
  const id = () => ID['sen-app'];
  const secret = () => SECRET['sen-app'];
  let refresh;

  test('client credentials, form body: 201 {access_token, token_type "access_token", expires_in 3600}', T, async () => {
    const r = await post('/oauth/access-token', {
      form: 'grant_type=client_credentials',
      headers: [['Authorization', basic(id(), secret())]],
    });
    assert.equal(r.status, 201, r.text);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assertKeys(r.text, ['access_token', 'token_type', 'expires_in']);
    assert.equal(r.json.token_type, 'access_token');
    assert.equal(r.json.expires_in, 3600);
    assert.match(r.json.access_token, UUID);
    assert.equal(r.headers['cache-control'], 'no-store');
    const seen = await usableEverywhere(id(), r.json.access_token);
    assert.deepEqual(JSON.parse(seen.headers['x-edge-app-extra-info']).app, { plan: 'gold' });
    // Stored under its hash only.
    const rec = await storedRecord(r.json.access_token);
    assert.equal(rec.client_id, id());
    assert.equal(rec.grant_type, 'client_credentials');
    assert.ok(!JSON.stringify(rec).includes(r.json.access_token));
  });

  test('client credentials, JSON body: the same answer', T, async () => {
    const r = await post('/oauth/access-token', {
      json: { grant_type: 'client_credentials' },
      headers: [['Authorization', basic(id(), secret())]],
    });
    assert.equal(r.status, 201, r.text);
    assertKeys(r.text, ['access_token', 'token_type', 'expires_in']);
  });

  test('grant-code then authorization_code (code cut out of the redirect URI): 200 with a refresh token; extra_info reaches the origin', T, async () => {
    const g = await post('/oauth/grant-code', {
      json: {
        client_id: id(),
        redirect_uri: 'https://app.example.com/callback',
        state: 'xyz',
        extra_info: { customer: 'c-42' },
      },
      headers: [['x-provision-key', PROVISION_KEY]],
    });
    assert.equal(g.status, 200, g.text);
    assertKeys(g.text, ['redirect_uri']);
    assert.match(g.json.redirect_uri, /^https:\/\/app\.example\.com\/callback\?code=[0-9a-f-]{36}&state=xyz$/);
    // As some Sensedia clients do: a 36-character code cut out of the redirect URI.
    const code = /code=([0-9a-f-]{36})/.exec(g.json.redirect_uri)[1];
    assert.match(code, UUID);

    const r = await post('/oauth/access-token', {
      form: `grant_type=authorization_code&code=${code}`,
      headers: [['Authorization', basic(id(), secret())]],
    });
    assert.equal(r.status, 200, r.text);
    assertKeys(r.text, ['access_token', 'refresh_token', 'token_type', 'expires_in']);
    assert.equal(r.json.token_type, 'access_token');
    assert.equal(r.json.expires_in, 3600);
    assert.match(r.json.access_token, UUID);
    assert.match(r.json.refresh_token, UUID);
    const seen = await usableEverywhere(id(), r.json.access_token);
    assert.deepEqual(JSON.parse(seen.headers['x-edge-app-extra-info']), {
      app: { plan: 'gold' },
      token: { customer: 'c-42' },
    });
    // The refresh token is not an access token.
    const { res } = await call('/orders/x', [['client_id', id()], ['access_token', r.json.refresh_token]]);
    assertDenied(res, MSG.accessToken('HEADER', 'access_token'));
    refresh = r.json.refresh_token;
  });

  test('a code presented again: invalid_grant, and the tokens issued from it are revoked (RFC 6749 §4.1.2)', T, async () => {
    const g = await post('/oauth/grant-code', {
      json: { client_id: id(), redirect_uri: 'https://app.example.com/callback' },
      headers: [['x-provision-key', PROVISION_KEY]],
    });
    assert.equal(g.status, 200, g.text);
    assert.match(g.json.redirect_uri, /^https:\/\/app\.example\.com\/callback\?code=[0-9a-f-]{36}$/, 'no state given, none added');
    const code = /code=([0-9a-f-]{36})/.exec(g.json.redirect_uri)[1];
    const form = `grant_type=authorization_code&code=${code}`;
    const r = await post('/oauth/access-token', { form, headers: [['Authorization', basic(id(), secret())]] });
    assert.equal(r.status, 200, r.text);
    await usableEverywhere(id(), r.json.access_token);
    const again = await post('/oauth/access-token', { form, headers: [['Authorization', basic(id(), secret())]] });
    assert.equal(again.status, 400, again.text);
    assert.equal(again.json.error, 'invalid_grant');
    await refusedEverywhere(id(), r.json.access_token);
  });

  test('refresh_token, JSON body: 200, rotated, same keys', T, async () => {
    assert.ok(refresh, 'needs the previous test');
    const r = await post('/oauth/access-token', {
      json: { grant_type: 'refresh_token', refresh_token: refresh },
      headers: [['Authorization', basic(id(), secret())]],
    });
    assert.equal(r.status, 200, r.text);
    assertKeys(r.text, ['access_token', 'refresh_token', 'token_type', 'expires_in']);
    assert.notEqual(r.json.refresh_token, refresh);
    const seen = await usableEverywhere(id(), r.json.access_token);
    assert.deepEqual(JSON.parse(seen.headers['x-edge-app-extra-info']).token, { customer: 'c-42' }, 'kept across refresh');
  });

  test('password: the check endpoint is called with the Worker secret; 200 with the check\'s extra_info', T, async () => {
    const before = owner.calls.length;
    const r = await post('/oauth/access-token', {
      form: 'grant_type=password&username=alice&password=wonderland',
      headers: [['Authorization', basic(ID['sen-pw'], SECRET['sen-pw'])]],
    });
    assert.equal(r.status, 200, r.text);
    assertKeys(r.text, ['access_token', 'refresh_token', 'token_type', 'expires_in']);
    const calls = owner.calls.slice(before);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].method, 'POST');
    assert.equal(calls[0].headers.authorization, `Bearer ${CHECK_TOKEN}`);
    assert.deepEqual(calls[0].body, { username: 'alice', password: 'wonderland', client_id: ID['sen-pw'] });
    const seen = await usableEverywhere(ID['sen-pw'], r.json.access_token);
    assert.deepEqual(JSON.parse(seen.headers['x-edge-app-extra-info']).token, { user: 'alice', source: 'owner-check' });

    const bad = await post('/oauth/access-token', {
      form: 'grant_type=password&username=alice&password=wrong',
      headers: [['Authorization', basic(ID['sen-pw'], SECRET['sen-pw'])]],
    });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.json.error, 'invalid_grant');
  });

  test('a bare Authorization: Bearer is refused by the default OAuth interceptor', T, async () => {
    const r = await post('/oauth/access-token', {
      form: 'grant_type=client_credentials',
      headers: [['Authorization', basic(id(), secret())]],
    });
    const { res, id: rid } = await call('/orders/x', [['Authorization', `Bearer ${r.json.access_token}`]]);
    assertDenied(res, MSG.clientId('HEADER', 'client_id'));
    assertNotForwarded(origin, rid);
  });

  test('errors are RFC 6749 §5.2 JSON in Sensedia mode too: wrong secret 401 invalid_client + WWW-Authenticate; unknown grant; no provision key', T, async () => {
    const r = await post('/oauth/access-token', {
      form: 'grant_type=client_credentials',
      headers: [['Authorization', basic(id(), 'wrong-secret')]],
    });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json.error, 'invalid_client');
    assert.match(String(r.headers['www-authenticate']), /^Basic realm="sensedia"/);
    const u = await post('/oauth/access-token', {
      form: 'grant_type=urn:example:nothing',
      headers: [['Authorization', basic(id(), secret())]],
    });
    assert.equal(u.status, 400, u.text);
    assert.equal(u.json.error, 'unsupported_grant_type');
    const g = await post('/oauth/grant-code', {
      json: { client_id: id(), redirect_uri: 'https://app.example.com/callback' },
    });
    assert.equal(g.status, 401, g.text);
    assert.equal(g.json.error, 'invalid_client');
    const e = await post('/oauth/grant-code', {
      json: { client_id: id(), redirect_uri: 'https://evil.example.com/callback' },
      headers: [['x-provision-key', PROVISION_KEY]],
    });
    assert.equal(e.status, 400, e.text);
    assert.equal(e.json.error, 'invalid_request');
    assert.ok(!e.text.includes('evil.example.com/callback?code'), 'never a redirect to an unregistered URI');
  });
});

// ---------------------------------------------------------------------------------------------
// oauth4webapi against the RFC-mode server

describe('oauth4webapi 3.8.9 (RFC mode, /oauth2)', () => {
  let as;
  const client = (k) => ({ client_id: ID[k] });
  const tokenAuth = (k) => oauth.ClientSecretBasic(SECRET[k]);

  /** The customer's login backend asks for a code for this authorization request. */
  async function loginBackend(authUrl) {
    const q = new URL(authUrl).searchParams;
    const body = { client_id: q.get('client_id'), redirect_uri: q.get('redirect_uri'), state: q.get('state') };
    if (q.get('code_challenge')) {
      body.code_challenge = q.get('code_challenge');
      body.code_challenge_method = q.get('code_challenge_method');
    }
    const g = await post('/oauth2/grant-code', { json: body, headers: [['x-provision-key', PROVISION_KEY]] });
    assert.equal(g.status, 200, g.text);
    return new URL(g.json.redirect_uri);
  }

  /** An authorization request built by oauth4webapi, through grant-code, to the token answer. */
  async function codeFlow(k, auth, redirectUri) {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const authUrl = new URL(as.authorization_endpoint);
    authUrl.searchParams.set('client_id', ID[k]);
    authUrl.searchParams.set('redirect_uri', redirectUri);
    authUrl.searchParams.set('response_type', 'code');
    authUrl.searchParams.set('state', state);
    authUrl.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
    authUrl.searchParams.set('code_challenge_method', 'S256');
    const callback = await loginBackend(authUrl);
    const params = oauth.validateAuthResponse(as, client(k), callback, state);
    SEEN.add(params.get('code'));
    const res = await oauth.authorizationCodeGrantRequest(as, client(k), auth, params, redirectUri, verifier, INSECURE);
    return oauth.processAuthorizationCodeResponse(as, client(k), res);
  }

  /** An API call as oauth4webapi makes it (Authorization: Bearer); a 401 with a challenge is
   * thrown by oauth4webapi as a WWWAuthenticateChallengeError, returned here as its status. */
  async function bearerCall(token) {
    SEEN.add(token);
    try {
      const res = await oauth.protectedResourceRequest(token, 'GET', new URL('/bearer/x', gw.url), new Headers(), null, INSECURE);
      return { status: res.status, text: await res.text(), challenge: res.headers.get('www-authenticate') };
    } catch (err) {
      if (!(err instanceof oauth.WWWAuthenticateChallengeError)) throw err;
      assert.equal(err.cause[0].scheme, 'bearer');
      return { status: err.status, text: await err.response.text(), challenge: err.response.headers.get('www-authenticate') };
    }
  }

  test('RFC 8414 discovery: the issuer matches, and the metadata lists what is served', T, async () => {
    const issuer = new URL('/oauth2', gw.url);
    const res = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...INSECURE });
    as = await oauth.processDiscoveryResponse(issuer, res);
    assert.equal(as.issuer, issuer.href);
    assert.equal(as.token_endpoint, new URL('/oauth2/access-token', gw.url).href);
    assert.equal(as.revocation_endpoint, new URL('/oauth2/revoke', gw.url).href);
    assert.equal(as.introspection_endpoint, new URL('/oauth2/introspect', gw.url).href);
    assert.equal(as.authorization_endpoint, 'https://login.example.com/authorize');
    assert.deepEqual(as.code_challenge_methods_supported, ['S256']);
    assert.deepEqual([...as.grant_types_supported].sort(), ['authorization_code', 'client_credentials', 'refresh_token']);
    assert.deepEqual(as.response_types_supported, ['code']);
    for (const m of ['client_secret_basic', 'client_secret_post', 'none']) {
      assert.ok(as.token_endpoint_auth_methods_supported.includes(m), m);
    }
    // The Sensedia-mode server has its own metadata, with its own issuer.
    const sen = new URL('/oauth', gw.url);
    const s = await oauth.processDiscoveryResponse(sen, await oauth.discoveryRequest(sen, { algorithm: 'oauth2', ...INSECURE }));
    assert.ok(s.grant_types_supported.includes('password'));
  });

  test('client credentials with client_secret_basic (the UUID client id form-encoded) and client_secret_post', T, async () => {
    assert.ok(as, 'needs discovery');
    for (const auth of [oauth.ClientSecretBasic(SECRET['o4w-conf']), oauth.ClientSecretPost(SECRET['o4w-conf'])]) {
      const res = await oauth.clientCredentialsGrantRequest(as, client('o4w-conf'), auth, new URLSearchParams(), INSECURE);
      const t = await oauth.processClientCredentialsResponse(as, client('o4w-conf'), res);
      assert.equal(t.token_type, 'bearer');
      assert.equal(t.expires_in, 3600);
      assert.equal(t.refresh_token, undefined);
      assert.match(t.access_token, UUID);
      const r = await bearerCall(t.access_token);
      assert.equal(r.status, 200, r.text);
      await usableEverywhere(ID['o4w-conf'], t.access_token);
    }
  });

  test('a wrong secret: 401 with a Basic challenge (WWWAuthenticateChallengeError) and invalid_client', T, async () => {
    const res = await oauth.clientCredentialsGrantRequest(
      as, client('o4w-bad'), oauth.ClientSecretBasic('not-the-secret'), new URLSearchParams(), INSECURE,
    );
    const body = await res.clone().json();
    assert.equal(body.error, 'invalid_client');
    await assert.rejects(oauth.processClientCredentialsResponse(as, client('o4w-bad'), res), (err) => {
      assert.ok(err instanceof oauth.WWWAuthenticateChallengeError, String(err));
      assert.equal(err.status, 401);
      assert.equal(err.cause[0].scheme, 'basic');
      assert.equal(err.cause[0].parameters.realm, 'standard');
      return true;
    });
  });

  let confTokens;
  test('authorization code with PKCE, confidential app: the login backend gets the code at grant-code', T, async () => {
    confTokens = await codeFlow('o4w-conf', tokenAuth('o4w-conf'), 'https://client.example.org/cb');
    assert.equal(confTokens.token_type, 'bearer');
    assert.equal(typeof confTokens.refresh_token, 'string');
    assert.equal((await bearerCall(confTokens.access_token)).status, 200);
  });

  test('authorization code with PKCE, public app (client id alone)', T, async () => {
    const t = await codeFlow('o4w-pub', oauth.None(), 'http://127.0.0.1:9999/cb');
    assert.equal((await bearerCall(t.access_token)).status, 200);
    // A public app cannot use client credentials.
    const res = await oauth.clientCredentialsGrantRequest(as, client('o4w-pub'), oauth.None(), new URLSearchParams(), INSECURE);
    await assert.rejects(oauth.processClientCredentialsResponse(as, client('o4w-pub'), res), (err) => {
      assert.ok(err instanceof oauth.ResponseBodyError || err instanceof oauth.WWWAuthenticateChallengeError, String(err));
      return true;
    });
  });

  test('PKCE: a wrong code_verifier is invalid_grant', T, async () => {
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const u = new URL(as.authorization_endpoint);
    for (const [k, v] of Object.entries({
      client_id: ID['o4w-conf'],
      redirect_uri: 'https://client.example.org/cb',
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    })) u.searchParams.set(k, v);
    const params = oauth.validateAuthResponse(as, client('o4w-conf'), await loginBackend(u), state);
    const res = await oauth.authorizationCodeGrantRequest(
      as, client('o4w-conf'), tokenAuth('o4w-conf'), params, 'https://client.example.org/cb', oauth.generateRandomCodeVerifier(), INSECURE,
    );
    await assert.rejects(oauth.processAuthorizationCodeResponse(as, client('o4w-conf'), res), (err) => {
      assert.ok(err instanceof oauth.ResponseBodyError, String(err));
      assert.equal(err.error, 'invalid_grant');
      assert.equal(err.status, 400);
      return true;
    });
  });

  let rotated;
  test('refresh: rotated on every use; a reused refresh token is invalid_grant and revokes the family', T, async () => {
    assert.ok(confTokens, 'needs the code flow');
    const res = await oauth.refreshTokenGrantRequest(as, client('o4w-conf'), tokenAuth('o4w-conf'), confTokens.refresh_token, INSECURE);
    rotated = await oauth.processRefreshTokenResponse(as, client('o4w-conf'), res);
    assert.notEqual(rotated.refresh_token, confTokens.refresh_token);
    assert.notEqual(rotated.access_token, confTokens.access_token);
    assert.equal((await bearerCall(rotated.access_token)).status, 200);

    const reuse = await oauth.refreshTokenGrantRequest(as, client('o4w-conf'), tokenAuth('o4w-conf'), confTokens.refresh_token, INSECURE);
    await assert.rejects(oauth.processRefreshTokenResponse(as, client('o4w-conf'), reuse), (err) => {
      assert.ok(err instanceof oauth.ResponseBodyError, String(err));
      assert.equal(err.error, 'invalid_grant');
      return true;
    });
    // The whole family goes: the new refresh token and every access token of the family.
    const next = await oauth.refreshTokenGrantRequest(as, client('o4w-conf'), tokenAuth('o4w-conf'), rotated.refresh_token, INSECURE);
    await assert.rejects(oauth.processRefreshTokenResponse(as, client('o4w-conf'), next), (err) => err.error === 'invalid_grant');
    const r = await bearerCall(rotated.access_token);
    assert.equal(r.status, 401);
    assert.equal(r.challenge, 'Bearer error="invalid_token"');
    await refusedEverywhere(ID['o4w-conf'], confTokens.access_token);
  });

  test('introspection (RFC 7662) and revocation (RFC 7009)', T, async () => {
    const cc = await oauth.processClientCredentialsResponse(
      as, client('o4w-conf'),
      await oauth.clientCredentialsGrantRequest(as, client('o4w-conf'), tokenAuth('o4w-conf'), new URLSearchParams(), INSECURE),
    );
    let info = await oauth.processIntrospectionResponse(
      as, client('o4w-conf'),
      await oauth.introspectionRequest(as, client('o4w-conf'), tokenAuth('o4w-conf'), cc.access_token, INSECURE),
    );
    assert.equal(info.active, true);
    assert.equal(info.client_id, ID['o4w-conf']);
    assert.ok(info.exp > Date.now() / 1000);
    // An app introspects its own tokens; an app with introspect_any (an origin) any token.
    info = await oauth.processIntrospectionResponse(
      as, client('o4w-bad'),
      await oauth.introspectionRequest(as, client('o4w-bad'), tokenAuth('o4w-bad'), cc.access_token, INSECURE),
    );
    assert.deepEqual(info, { active: false });
    info = await oauth.processIntrospectionResponse(
      as, client('o4w-origin'),
      await oauth.introspectionRequest(as, client('o4w-origin'), tokenAuth('o4w-origin'), cc.access_token, INSECURE),
    );
    assert.equal(info.active, true);

    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client('o4w-conf'), tokenAuth('o4w-conf'), cc.access_token, INSECURE),
    );
    info = await oauth.processIntrospectionResponse(
      as, client('o4w-conf'),
      await oauth.introspectionRequest(as, client('o4w-conf'), tokenAuth('o4w-conf'), cc.access_token, INSECURE),
    );
    assert.deepEqual(info, { active: false });
    await refusedEverywhere(ID['o4w-conf'], cc.access_token);
    // Revoking an unknown token is a 200 too (RFC 7009 §2.2).
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client('o4w-conf'), tokenAuth('o4w-conf'), 'no-such-token', INSECURE),
    );
    // A public app revokes its own tokens by client id.
    const pub = await codeFlow('o4w-pub', oauth.None(), 'http://127.0.0.1:9999/cb');
    await oauth.processRevocationResponse(
      await oauth.revocationRequest(as, client('o4w-pub'), oauth.None(), pub.refresh_token, INSECURE),
    );
    assert.equal((await bearerCall(pub.access_token)).status, 401, 'revoking a refresh token revokes its family');
  });

  test('the Sensedia-mode answer is not RFC 6749 §5.1: oauth4webapi refuses 201, and token_type "access_token" unless told', T, async () => {
    const sen = { issuer: new URL('/oauth', gw.url).href, token_endpoint: new URL('/oauth/access-token', gw.url).href };
    const cc = await oauth.clientCredentialsGrantRequest(sen, client('o4w-conf'), tokenAuth('o4w-conf'), new URLSearchParams(), INSECURE);
    assert.equal(cc.status, 201);
    await assert.rejects(oauth.processClientCredentialsResponse(sen, client('o4w-conf'), cc), (err) => {
      assert.equal(err.code, oauth.RESPONSE_IS_NOT_CONFORM, String(err));
      return true;
    });
    // A 200 answer (authorization_code / refresh) is accepted once the client recognizes the
    // token type Sensedia clients expect.
    const verifier = oauth.generateRandomCodeVerifier();
    const g = await post('/oauth/grant-code', {
      json: {
        client_id: ID['o4w-conf'],
        redirect_uri: 'https://client.example.org/cb',
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      },
      headers: [['x-provision-key', PROVISION_KEY]],
    });
    assert.equal(g.status, 200, g.text);
    const params = oauth.validateAuthResponse(sen, client('o4w-conf'), new URL(g.json.redirect_uri), oauth.expectNoState);
    const res = await oauth.authorizationCodeGrantRequest(
      sen, client('o4w-conf'), tokenAuth('o4w-conf'), params, 'https://client.example.org/cb', verifier, INSECURE,
    );
    const t = await oauth.processAuthorizationCodeResponse(sen, client('o4w-conf'), res, {
      recognizedTokenTypes: { access_token: () => {} },
    });
    assert.equal(t.token_type, 'access_token');
    await usableEverywhere(ID['o4w-conf'], t.access_token);
  });
});

// ---------------------------------------------------------------------------------------------
// Authlib (Python)

describe('Authlib 1.9.10 (Python)', () => {
  test('client credentials, code + PKCE (confidential and public), refresh, revocation, introspection', { timeout: 120_000 }, async () => {
    const cfg = {
      gateway: gw.url.toString().replace(/\/$/, ''),
      rfc_base: '/oauth2',
      sensedia_base: '/oauth',
      metadata_path: '/.well-known/oauth-authorization-server/oauth2',
      lifetime: 3600,
      provision: { header: 'x-provision-key', key: PROVISION_KEY },
      confidential: { client_id: ID['py-conf'], client_secret: SECRET['py-conf'], redirect_uri: 'https://py.example.org/cb' },
      public: { client_id: ID['py-pub'], redirect_uri: 'http://127.0.0.1:8765/callback' },
      bearer_api: '/bearer/x',
      oauth_api: '/orders/x',
    };
    const out = await new Promise((resolve, reject) => {
      const child = spawn('python3', [path.join(REPO, 'tests', 'e2e', 'authz_python_client.py'), JSON.stringify(cfg)], {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
    assert.equal(out.code, 0, `authz_python_client.py exited ${out.code}\n${out.stdout}\n${out.stderr}`);
    const steps = out.stdout.split('\n').filter((l) => l.startsWith('ok '));
    assert.equal(steps.length, 16, `steps passed:\n${out.stdout}`);
    for (const name of ['metadata (RFC 8414)', 'authorization code with PKCE (public client, no secret)', 'refresh (rotated)',
      'introspection (RFC 7662)', 'revocation (RFC 7009) of an access token', 'client credentials against the Sensedia-mode server']) {
      assert.ok(steps.includes(`ok ${name}`), `step ${name}:\n${out.stdout}`);
    }
    assert.match(out.stdout, /\{"ok": true, "library": "authlib", "steps": 16\}/);
    // Nothing secret in what the client printed.
    for (const s of [SECRET['py-conf'], PROVISION_KEY]) assert.ok(!out.stdout.includes(s) && !out.stderr.includes(s));
  });
});

// ---------------------------------------------------------------------------------------------

test('no raw token, code or secret in the Worker\'s output (trace lines carry fingerprints)', T, async () => {
  const output = gw.output();
  assert.ok(output.length > 0, 'the Worker traced something');
  for (const s of [PROVISION_KEY, CHECK_TOKEN, 'wonderland', ...Object.values(SECRET).filter(Boolean)]) {
    assert.ok(!output.includes(s), `the Worker's output contains a secret (${sha256hex(s).slice(0, 8)})`);
  }
  assert.ok(SEEN.size >= 20, `tokens and codes collected: ${SEEN.size}`);
  for (const t of SEEN) {
    assert.ok(!output.includes(t), `the Worker's output contains a token or code (${sha256hex(t).slice(0, 8)})`);
  }
});
