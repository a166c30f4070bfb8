// The records tool and the authorization server on the same local KV: `edge-records` writes
// through wrangler (`--persist-to <dir>`), the built Worker in Miniflare reads and writes the same
// folder (`kvPersist`), as in ops.test.mjs.
//
// - apps made with `edge-records app` (client type, redirect URIs, grant types, lifetimes) are
//   what the token endpoints obey;
// - a token issued by the endpoint is listed, shown and revoked by `edge-records token`, and then
//   refused (after the bound the tool prints);
// - a refresh token revoked with the tool is refused by the token endpoint.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import {
  BUILD_DIR,
  MSG,
  REPO,
  assert,
  assertDenied,
  assertNotForwarded,
  assertPassed,
  findEntry,
  rawRequest,
  sha256hex,
  startOrigin,
  uniq,
} from './harness.mjs';

const { Miniflare } = await import('miniflare');

const NAMESPACE_ID = 'e2e000000000000000000000authzrec';
const BIN = process.env.EDGE_RECORDS_BIN ?? path.join(REPO, 'target', 'debug', 'edge-records');
const STEP = { timeout: 60_000 };
const PROVISION_KEY = 'e2e-records-provision-key-71c4';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let dir;
let config;
let origin;
let mf;
let url;
let toolStderr = '';

function policy(originUrl) {
  return {
    docs: 'docs.sensedia.com',
    cache: { ttl_seconds: 1, negative_ttl_seconds: 0 },
    authorization_servers: [{ name: 'sensedia', base_path: '/oauth', mode: 'sensedia' }],
    apis: [
      {
        name: 'orders',
        base_path: '/orders',
        origin: `${originUrl}/orders-backend`,
        interceptors: [{ type: 'oauth' }],
      },
    ],
  };
}

function tool(args, input = '') {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, ['--persist-to', dir, '--config', config, ...args], {
      cwd: REPO,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      toolStderr += stderr;
      resolve({ code, stdout, stderr });
    });
    // A tool that exits before reading its input (a refused command) closes the pipe: the
    // write's EPIPE is not a failure, the exit code and output are what is checked.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

async function ok(args, input) {
  const r = await tool(args, input);
  assert.equal(r.code, 0, `edge-records ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return r;
}

/** Waits until the instant the tool printed ("takes effect everywhere by <RFC 3339> (within N s"). */
async function waitForEffect(stderr) {
  const m = /takes effect everywhere by (\S+) \(within (\d+) s/.exec(stderr);
  assert.ok(m, `no revocation bound in: ${stderr}`);
  const until = Date.parse(m[1]) + 1000;
  await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 200));
}

/** The record cache keeps what it read for cache.ttl_seconds (1 s): let a tool write be seen. */
const cacheTurn = () => new Promise((r) => setTimeout(r, 1300));

async function post(p, { form, json, headers = [] }) {
  const hs = [...headers];
  let body;
  if (form !== undefined) {
    body = form;
    hs.push(['Content-Type', 'application/x-www-form-urlencoded']);
  } else {
    body = JSON.stringify(json);
    hs.push(['Content-Type', 'application/json']);
  }
  const res = await rawRequest(url, p, { method: 'POST', headers: hs, body });
  let parsed = null;
  try {
    parsed = JSON.parse(res.text);
  } catch {}
  return { ...res, json: parsed };
}

const basic = (id, secret) => ['Authorization', `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`];

function call(clientId, token) {
  const id = uniq('authz-rec');
  return rawRequest(url, '/orders/x', {
    headers: [['client_id', clientId], ['access_token', token], ['x-e2e-id', id]],
  }).then((res) => ({ res, id }));
}

before(
  async () => {
    if (!process.env.EDGE_RECORDS_BIN) {
      execFileSync('cargo', ['build', '--quiet', '-p', 'edge-records'], { cwd: REPO, stdio: 'inherit' });
    }
    assert.ok(existsSync(BIN), `no ${BIN}`);
    dir = mkdtempSync(path.join(os.tmpdir(), 'edge-records-authz-'));
    origin = await startOrigin();
    const pol = policy(origin.url);
    config = path.join(dir, 'wrangler.toml');
    writeFileSync(
      config,
      [
        'name = "edge-records-authz-e2e"',
        'compatibility_date = "2025-09-01"',
        '[[kv_namespaces]]',
        'binding = "RECORDS"',
        `id = "${NAMESPACE_ID}"`,
        '[vars]',
        `POLICY = '${JSON.stringify(pol)}'`,
        '',
      ].join('\n'),
    );
    mf = new Miniflare({
      modules: true,
      modulesRoot: BUILD_DIR,
      scriptPath: findEntry(),
      modulesRules: [
        { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
        { type: 'CompiledWasm', include: ['**/*.wasm'] },
      ],
      compatibilityDate: '2025-01-01',
      kvNamespaces: { RECORDS: NAMESPACE_ID },
      kvPersist: path.join(dir, 'v3', 'kv'),
      durableObjects: {
        NONCES: { className: 'NonceStore', useSQLite: true },
        GRANTS: { className: 'GrantStore', useSQLite: true },
      },
      bindings: { POLICY: pol, AUTHZ_PROVISION_KEY: PROVISION_KEY },
      cf: false,
      host: '127.0.0.1',
      port: 0,
      handleRuntimeStdio(stdout, stderr) {
        stdout.on('data', (d) => process.env.E2E_VERBOSE && process.stdout.write(`[workerd] ${d}`));
        stderr.on('data', (d) => process.env.E2E_VERBOSE && process.stderr.write(`[workerd] ${d}`));
      },
    });
    url = await mf.ready;
  },
  { timeout: 300_000 },
);

after(
  async () => {
    await mf?.dispose();
    await origin?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  },
  { timeout: 30_000 },
);

let secret;
let issued;

test('an app made with the tool gets a token at the endpoint; the token passes the OAuth interceptor', STEP, async () => {
  const created = await ok([
    'app', 'create', '--client-id', 'rec-app', '--name', 'Records App', '--grant', 'orders',
    '--redirect-uri', 'https://rec.example.com/cb', '--access-token-lifetime', '10m',
  ]);
  secret = /client_secret=(\S+)/.exec(created.stdout)[1];
  const r = await post('/oauth/access-token', { form: 'grant_type=client_credentials', headers: [basic('rec-app', secret)] });
  assert.equal(r.status, 201, r.text);
  assert.equal(r.json.expires_in, 600, "the app's shorter lifetime wins");
  assert.match(r.json.access_token, UUID);
  issued = r.json.access_token;
  const { res, id } = await call('rec-app', issued);
  assertPassed(res, origin, id);
});

test('token list / show see the endpoint-issued token', STEP, async () => {
  const hash = sha256hex(issued);
  const listed = await ok(['token', 'list', '--app', 'rec-app']);
  const row = listed.stdout.split('\n').find((l) => l.startsWith(hash));
  assert.ok(row, `token list --app rec-app has no row for the issued token:\n${listed.stdout}`);
  assert.match(row, /\bvalid\b/);
  assert.match(row, /\bclient_credentials\b/);
  const shown = JSON.parse((await ok(['token', 'show'], `${issued}\n`)).stdout);
  assert.equal(shown.key, `token:${hash}`);
  assert.equal(shown.state, 'valid');
  assert.equal(shown.app_state, 'usable');
  assert.equal(shown.record.client_id, 'rec-app');
  assert.equal(shown.record.server, 'sensedia');
  const byHash = JSON.parse((await ok(['token', 'show', '--hash', hash])).stdout);
  assert.deepEqual(byHash.record, shown.record);
});

test('token revoke with the tool: the endpoint-issued token is refused once the printed bound has passed', STEP, async () => {
  const revoked = await ok(['token', 'revoke'], `${issued}\n`);
  assert.match(revoked.stderr, /revoked 1 token\(s\) of app\(s\) rec-app/);
  await waitForEffect(revoked.stderr);
  const { res, id } = await call('rec-app', issued);
  assertDenied(res, MSG.accessToken('HEADER', 'access_token'));
  assertNotForwarded(origin, id);
  const shown = JSON.parse((await ok(['token', 'show', '--hash', sha256hex(issued)])).stdout);
  assert.equal(shown.state, 'revoked');
});

test('a refresh token revoked with the tool is refused by the token endpoint', STEP, async () => {
  const g = await post('/oauth/grant-code', {
    json: { client_id: 'rec-app', redirect_uri: 'https://rec.example.com/cb' },
    headers: [['x-provision-key', PROVISION_KEY]],
  });
  assert.equal(g.status, 200, g.text);
  const code = new URL(g.json.redirect_uri).searchParams.get('code');
  const t = await post('/oauth/access-token', { form: `grant_type=authorization_code&code=${code}`, headers: [basic('rec-app', secret)] });
  assert.equal(t.status, 200, t.text);
  const listed = await ok(['token', 'list', '--app', 'rec-app']);
  assert.ok(listed.stdout.includes(sha256hex(t.json.refresh_token)), 'the refresh token is listed');
  const revoked = await ok(['token', 'revoke', '--hash', sha256hex(t.json.refresh_token)]);
  await waitForEffect(revoked.stderr);
  const r = await post('/oauth/access-token', {
    form: `grant_type=refresh_token&refresh_token=${t.json.refresh_token}`,
    headers: [basic('rec-app', secret)],
  });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, 'invalid_grant');
});

test('app set-grant-types narrows what the endpoint issues; redirect-uri remove stops grant-code', STEP, async () => {
  await ok(['app', 'set-grant-types', 'rec-app', 'authorization_code', 'refresh_token']);
  await cacheTurn();
  let r = await post('/oauth/access-token', { form: 'grant_type=client_credentials', headers: [basic('rec-app', secret)] });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, 'unauthorized_client');
  await ok(['app', 'set-grant-types', 'rec-app', '--server-default']);
  await ok(['app', 'redirect-uri', 'remove', 'rec-app', 'https://rec.example.com/cb']);
  await cacheTurn();
  r = await post('/oauth/access-token', { form: 'grant_type=client_credentials', headers: [basic('rec-app', secret)] });
  assert.equal(r.status, 201, r.text);
  r = await post('/oauth/grant-code', {
    json: { client_id: 'rec-app', redirect_uri: 'https://rec.example.com/cb' },
    headers: [['x-provision-key', PROVISION_KEY]],
  });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.error, 'invalid_request');
});

test('a public app made with the tool: code + PKCE with its client id alone', STEP, async () => {
  const created = await ok(['app', 'create', '--client-id', 'rec-spa', '--name', 'SPA', '--grant', 'orders', '--public',
    '--redirect-uri', 'http://127.0.0.1:5173/cb']);
  assert.equal(created.stdout, 'client_id=rec-spa\n', 'no secret for a public app');
  const verifier = 'v'.repeat(20) + sha256hex('verifier').slice(0, 30);
  const challenge = Buffer.from(sha256hex(verifier), 'hex').toString('base64url');
  const g = await post('/oauth/grant-code', {
    json: { client_id: 'rec-spa', redirect_uri: 'http://127.0.0.1:5173/cb', code_challenge: challenge, code_challenge_method: 'S256' },
    headers: [['x-provision-key', PROVISION_KEY]],
  });
  assert.equal(g.status, 200, g.text);
  const code = new URL(g.json.redirect_uri).searchParams.get('code');
  const t = await post('/oauth/access-token', {
    form: new URLSearchParams({ grant_type: 'authorization_code', code, client_id: 'rec-spa', code_verifier: verifier }).toString(),
  });
  assert.equal(t.status, 200, t.text);
  const { res, id } = await call('rec-spa', t.json.access_token);
  assertPassed(res, origin, id);
  // Confidential again (a secret printed once): client credentials works with it.
  const conf = await ok(['app', 'set-client-type', 'rec-spa', 'confidential']);
  const s2 = /client_secret=(\S+)/.exec(conf.stdout)[1];
  await cacheTurn();
  const cc = await post('/oauth/access-token', { form: 'grant_type=client_credentials', headers: [basic('rec-spa', s2)] });
  assert.equal(cc.status, 201, cc.text);
});

test('the tool never printed a secret, token or code on standard error', STEP, async () => {
  assert.ok(toolStderr.length > 0);
  for (const s of [secret, issued]) assert.ok(!toolStderr.includes(s));
});
