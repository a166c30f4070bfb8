// The records tool end to end: `edge-records` writes local KV through wrangler
// (`--persist-to <dir>`), and the built Worker in Miniflare reads the same folder (`kvPersist:
// <dir>/v3/kv`, the same namespace id), so what the tool writes is what the gateway reads.
//
// create app + issue token (tool) → 200 → token revoke (tool) → 401 after the printed bound
// (cache TTL 1 s) → app revoke → 401 → import the Sensedia sample → imported valid tokens 200,
// revoked / expired / pending-app / out-of-scope ones 401 → the same export as one file
// (--export) → JWT issuer keys: add a key → a token it signs passes; rotate (add the new key,
// then remove the old one) → the new key's tokens pass, the old key's fail after the printed
// bound → check. Then the deploy guard: the production environment with its placeholders, the
// demo at the top level and a 127.0.0.1 origin are refused (scripts/check-deploy.mjs, and
// `wrangler deploy` itself through scripts/build.sh), a filled-in environment passes the check.
//
// The tool is target/debug/edge-records (built here with cargo if needed; EDGE_RECORDS_BIN
// overrides it).

import { spawn, execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { CompactSign, importJWK } from 'jose';
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
  startOrigin,
  uniq,
} from './harness.mjs';

const { Miniflare } = await import('miniflare');

const ISS = 'https://idp.ops.e2e/';
const JWT_KEYS = JSON.parse(readFileSync(path.join(REPO, 'tests/fixtures/jwt-keys.json'), 'utf8'));
const JWT_MSG = 'JWT in the request, identified by HEADER Authorization, is invalid. Check docs.sensedia.com';

const NAMESPACE_ID = 'e2e00000000000000000000000000ops';
const FIXTURES = path.join(REPO, 'tests', 'fixtures', 'sensedia');
const BIN = process.env.EDGE_RECORDS_BIN ?? path.join(REPO, 'target', 'debug', 'edge-records');
const STEP = { timeout: 60_000 };

const A1 = '3b1c6f0e-5a52-4c0e-9d1a-0a1b2c3d4e01'; // APPROVED: orders, catalog
const A2 = '3b1c6f0e-5a52-4c0e-9d1a-0a1b2c3d4e02'; // APPROVED: orders list/one only
const A3 = '3b1c6f0e-5a52-4c0e-9d1a-0a1b2c3d4e03'; // PENDING
const SENSEDIA = {
  active: 'c0ffee00-0001-4a5b-8c9d-active000001',
  noExpiry: 'c0ffee00-0002-4a5b-8c9d-noexpiry0002',
  revoked: 'c0ffee00-0003-4a5b-8c9d-revoked00003',
  expiredByFlag: 'c0ffee00-0004-4a5b-8c9d-expflag00004',
  expiredByDate: 'c0ffee00-0005-4a5b-8c9d-expdate00005',
  scoped: 'c0ffee00-0006-4a5b-8c9d-scoped000006',
  expiresIn: 'c0ffee00-0007-4a5b-8c9d-expiresin007',
  pendingApp: 'c0ffee00-0008-4a5b-8c9d-pendingapp08',
};

let dir;
let config;
let origin;
let mf;
let url;
/** Everything the tool printed on standard error, to check no secret ever appears there. */
let toolStderr = '';

function policy(originUrl) {
  return {
    docs: 'docs.sensedia.com',
    cache: { ttl_seconds: 1, negative_ttl_seconds: 0 },
    apis: [
      {
        name: 'orders',
        base_path: '/orders',
        origin: `${originUrl}/orders-backend`,
        interceptors: [{ type: 'oauth' }],
        resources: [
          { name: 'list-orders', path: '/', methods: ['GET'] },
          { name: 'create-order', path: '/', methods: ['POST'] },
          { name: 'one-order', path: '/{id}', methods: ['GET'] },
        ],
      },
      {
        name: 'catalog',
        base_path: '/catalog',
        origin: `${originUrl}/catalog-backend`,
        interceptors: [{ type: 'access_token' }],
      },
      {
        name: 'reports',
        base_path: '/reports',
        origin: `${originUrl}/reports-backend`,
        // Keys from KV jwt-issuer:<ISS>, written by `edge-records issuer`.
        interceptors: [{ type: 'jwt', issuers: [{ issuer: ISS, algorithms: ['ES256', 'RS256'] }] }],
      },
    ],
  };
}

/** Runs the tool against the test's local KV; resolves {code, stdout, stderr}. */
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

function call(p, { method = 'GET', headers = [] } = {}) {
  const id = uniq('ops');
  return rawRequest(url, p, { method, headers: [...headers, ['x-e2e-id', id]] }).then((res) => ({ res, id }));
}

const oauth = (clientId, token) => [
  ['client_id', clientId],
  ['access_token', token],
];

/** Waits until the instant the tool printed ("takes effect everywhere by <RFC 3339> (within N s"). */
async function waitForEffect(stderr, { re = /takes effect everywhere by (\S+) \(within (\d+) s/, within = '1' } = {}) {
  const m = re.exec(stderr);
  assert.ok(m, `no bound in: ${stderr}`);
  assert.equal(m[2], within, 'the bound comes from the policy: cache.ttl_seconds = 1, no KV propagation locally');
  const until = Date.parse(m[1]) + 1000; // printed to the second
  await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now()) + 200));
}

before(
  async () => {
    if (!process.env.EDGE_RECORDS_BIN) {
      execFileSync('cargo', ['build', '--quiet', '-p', 'edge-records'], { cwd: REPO, stdio: 'inherit' });
    }
    assert.ok(existsSync(BIN), `no ${BIN}`);
    dir = mkdtempSync(path.join(os.tmpdir(), 'edge-records-e2e-'));
    origin = await startOrigin();
    const pol = policy(origin.url);
    config = path.join(dir, 'wrangler.toml');
    writeFileSync(
      config,
      [
        'name = "edge-records-e2e"',
        'compatibility_date = "2025-09-01"',
        '[[kv_namespaces]]',
        'binding = "RECORDS"',
        `id = "${NAMESPACE_ID}"`,
        '[vars]',
        `POLICY = '${JSON.stringify(pol)}'`,
        '',
      ].join('\n'),
    );
    findEntry();
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
      // Where `wrangler kv ... --local --persist-to <dir>` keeps the namespace.
      kvPersist: path.join(dir, 'v3', 'kv'),
      bindings: { POLICY: pol },
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

let appSecret;
let token;

test('app create + token issue with the tool: the gateway passes the call (200)', STEP, async () => {
  const created = await ok(['app', 'create', '--client-id', 'e2e-app', '--name', 'E2E App', '--grant', 'orders']);
  assert.match(created.stdout, /^client_id=e2e-app\nclient_secret=[A-Za-z0-9_-]{43}\n$/);
  appSecret = /client_secret=(\S+)/.exec(created.stdout)[1];
  const issued = await ok(['token', 'issue', '--app', 'e2e-app', '--expires-in', '1h']);
  token = issued.stdout.trim();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);

  const { res, id } = await call('/orders/', { headers: oauth('e2e-app', token) });
  const seen = assertPassed(res, origin, id);
  assert.equal(seen.headers['x-edge-client-id'], 'e2e-app');

  // Only hashes reached KV.
  const kv = await mf.getKVNamespace('RECORDS');
  const { keys } = await kv.list();
  for (const k of keys) {
    const v = await kv.get(k.name);
    assert.ok(!k.name.includes(token) && !v.includes(token), `raw token in ${k.name}`);
    assert.ok(!v.includes(appSecret), `raw client secret in ${k.name}`);
  }
});

test('token revoke with the tool: 401 once the printed bound has passed', STEP, async () => {
  const revoked = await ok(['token', 'revoke'], `${token}\n`);
  await waitForEffect(revoked.stderr);
  const { res, id } = await call('/orders/', { headers: oauth('e2e-app', token) });
  assertDenied(res, MSG.accessToken('HEADER', 'access_token'));
  assertNotForwarded(origin, id);
});

test('app revoke with the tool: every call of the app is refused', STEP, async () => {
  const t2 = (await ok(['token', 'issue', '--app', 'e2e-app'])).stdout.trim();
  let { res, id } = await call('/orders/42', { headers: oauth('e2e-app', t2) });
  assertPassed(res, origin, id);
  const revoked = await ok(['app', 'revoke', 'e2e-app']);
  await waitForEffect(revoked.stderr);
  ({ res, id } = await call('/orders/42', { headers: oauth('e2e-app', t2) }));
  assertDenied(res, MSG.clientId('HEADER', 'client_id'));
  assertNotForwarded(origin, id);
});

test('import the Sensedia sample: valid tokens pass, revoked and expired ones do not', STEP, async () => {
  const imported = await ok([
    'import',
    'sensedia',
    '--apps',
    path.join(FIXTURES, 'apps.json'),
    '--tokens',
    path.join(FIXTURES, 'tokens.json'),
    '--expires-in-unit',
    'seconds',
    '--api-map',
    'Catalog API=catalog',
    '--scope-map',
    'read=orders:list-orders,one-order',
  ]);
  assert.match(imported.stdout, /apps: 5 in the export: 5 created/);
  assert.match(imported.stdout, /tokens: 9 in the export: 9 created/);

  const pass = async (p, headers, method = 'GET') => {
    const { res, id } = await call(p, { headers, method });
    return assertPassed(res, origin, id);
  };
  const deny = async (p, headers, message, method = 'GET') => {
    const { res, id } = await call(p, { headers, method });
    assertDenied(res, message);
    assertNotForwarded(origin, id);
  };
  const tokenMsg = MSG.accessToken('HEADER', 'access_token');

  // Valid in Sensedia: valid here, with the app's extra info and the token's.
  const seen = await pass('/orders/', oauth(A1, SENSEDIA.active));
  assert.deepEqual(JSON.parse(seen.headers['x-edge-app-extra-info']), {
    app: { partnerId: 'p-001', tier: 'gold' },
    token: { user: 'alice' },
  });
  await pass('/catalog/items', [['access_token', SENSEDIA.noExpiry]]); // "Catalog API" → catalog
  await pass('/orders/7', oauth(A2, SENSEDIA.expiresIn)); // creationDate + expiresIn (seconds)
  await pass('/orders/', oauth(A1, SENSEDIA.scoped)); // scope "read" → list-orders, one-order

  // Revoked, expired (by flag and by date), out of scope, app not approved: refused.
  await deny('/orders/', oauth(A1, SENSEDIA.revoked), tokenMsg);
  await deny('/orders/', oauth(A1, SENSEDIA.expiredByFlag), tokenMsg);
  await deny('/orders/', oauth(A1, SENSEDIA.expiredByDate), tokenMsg);
  await deny('/orders/', oauth(A1, SENSEDIA.scoped), tokenMsg, 'POST');
  await deny('/catalog/items', [['access_token', SENSEDIA.scoped]], tokenMsg);
  await deny('/orders/', oauth(A3, SENSEDIA.pendingApp), MSG.clientId('HEADER', 'client_id'));
});

test('import sensedia --export: one file with both lists, each picked by its own field', STEP, async () => {
  const imported = await ok([
    'import',
    'sensedia',
    '--export',
    path.join(FIXTURES, 'export.json'),
    '--expires-in-unit',
    'seconds',
    '--api-map',
    'Catalog API=catalog',
    '--scope-map',
    'read=orders:list-orders,one-order',
  ]);
  // The same records as the two files: nothing to change.
  assert.match(imported.stdout, /apps: 5 in the export: 0 created, 0 updated, 5 unchanged/);
  assert.match(imported.stdout, /tokens: 9 in the export: 0 created, 0 updated, 9 unchanged/);
  assert.match(imported.stderr, /export\.json: 9 access tokens from "accessTokens\.content"/);
  // The apps list given as tokens: refused, naming the list it read.
  const wrong = await tool(['import', 'sensedia', '--tokens', path.join(FIXTURES, 'apps.json')]);
  assert.equal(wrong.code, 3, wrong.stderr);
  assert.match(wrong.stderr, /apps\.json as access tokens: none of its 5 entries has "code".*pass it with --apps/);
});

/** A compact JWS signed now with a test key. */
async function signJwt(keyName, alg, kid, claims = {}) {
  const key = await importJWK(JWT_KEYS[keyName], alg);
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: ISS, sub: 'ops', iat: now - 5, exp: now + 600, ...claims };
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);
}

/** The public half of a test key, as a JWK file's text. */
function publicJwk(keyName) {
  const { d, p, q, dp, dq, qi, ...pub } = JWT_KEYS[keyName];
  return JSON.stringify(pub);
}

const bearer = (jwt) => [['authorization', `Bearer ${jwt}`]];
const KEY_ADDED = /is used everywhere by (\S+) \(within (\d+) s/;

test('issuer keys written by the tool: rotation in two steps, the old key refused after the printed bound', STEP, async () => {
  // A new issuer: its record was never cached, so the key is used at once (negative TTL 0).
  const added = await ok(['issuer', 'add', ISS, '--kid', 'ec-old', '--jwk', '-'], publicJwk('p256'));
  assert.match(added.stderr, /key "ec-old" added to jwt-issuer:https:\/\/idp\.ops\.e2e\/ \(1 key\(s\) now\)/);
  await waitForEffect(added.stderr, { re: KEY_ADDED, within: '0' });
  const oldJwt = await signJwt('p256', 'ES256', 'ec-old');
  let { res, id } = await call('/reports/q1', { headers: bearer(oldJwt) });
  assertPassed(res, origin, id);

  // A key the Worker cannot use is refused with the reason, and nothing is written.
  const p384 = { kty: 'EC', crv: 'P-384', x: 'A'.repeat(64), y: 'A'.repeat(64) };
  const refused = await tool(['issuer', 'add', ISS, '--kid', 'p384', '--jwk', '-'], JSON.stringify(p384));
  assert.equal(refused.code, 3, refused.stderr);
  assert.match(refused.stderr, /the Worker verifies ECDSA on P-256 only \(ES256\)/);

  // Rotation, step 1: the new key; once the printed bound has passed, its tokens pass.
  const rotated = await ok(['issuer', 'add', ISS, '--kid', 'rsa-new', '--alg', 'RS256', '--jwk', '-'], publicJwk('rsa'));
  assert.match(rotated.stderr, /edge-records issuer remove https:\/\/idp\.ops\.e2e\/ --kid ec-old/);
  await waitForEffect(rotated.stderr, { re: KEY_ADDED });
  const newJwt = await signJwt('rsa', 'RS256', 'rsa-new');
  ({ res, id } = await call('/reports/q2', { headers: bearer(newJwt) }));
  assertPassed(res, origin, id);
  ({ res, id } = await call('/reports/q3', { headers: bearer(oldJwt) }));
  assertPassed(res, origin, id);

  // Step 2: the old key goes; after the printed bound its tokens (even one verified and cached
  // before) are refused, the new key's still pass.
  const removed = await ok(['issuer', 'remove', ISS, '--kid', 'ec-old']);
  await waitForEffect(removed.stderr);
  ({ res, id } = await call('/reports/q4', { headers: bearer(oldJwt) }));
  assertDenied(res, JWT_MSG);
  assertNotForwarded(origin, id);
  const fresh = await signJwt('p256', 'ES256', 'ec-old');
  ({ res, id } = await call('/reports/q5', { headers: bearer(fresh) }));
  assertDenied(res, JWT_MSG);
  assertNotForwarded(origin, id);
  ({ res, id } = await call('/reports/q6', { headers: bearer(newJwt) }));
  assertPassed(res, origin, id);

  const shown = await ok(['issuer', 'show', ISS]);
  assert.match(shown.stdout, /rsa-new\s+RS256\s+rsa\s+-\s+used/);
  assert.doesNotMatch(shown.stdout, /ec-old/);
});

test('check: every record written parses under the Worker types; no secret was printed', STEP, async () => {
  const checked = await ok(['check']);
  assert.match(checked.stdout, /checked 18 record\(s\).*0 malformed/);
  for (const s of [token, appSecret, ...Object.values(SENSEDIA), '7f3e9a51-approved-secret', 'r-0001-not-imported']) {
    assert.ok(!toolStderr.includes(s), 'a secret was printed on standard error');
  }
});

// ---------------------------------------------------------------------------------------------
// The deploy guard

const CHECK = path.join(REPO, 'scripts', 'check-deploy.mjs');
const quiet = { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' };

function checkDeploy(args) {
  return spawnSync('node', [CHECK, ...args], { cwd: REPO, env: quiet, encoding: 'utf8', timeout: 60_000 });
}

/** wrangler.toml with the production placeholders filled in (and `edit` applied). */
function filledConfig(edit = (t) => t) {
  const text = readFileSync(path.join(REPO, 'wrangler.toml'), 'utf8');
  const [top, prod] = text.split('[env.production]');
  const filled = prod
    .replace('id = "00000000000000000000000000000000"', 'id = "0123456789abcdef0123456789abcdef"')
    .replace('https://orders.origin.example.com', 'https://orders.internal.acme.net')
    .replace('https://otel-collector.example.com/v1/logs', 'https://otel.acme.net/v1/logs');
  const file = path.join(dir, `wrangler-${uniq('deploy')}.toml`);
  // main and build stay relative to the repository.
  writeFileSync(file, edit(`${top.replace('main = "build/index.js"', `main = "${path.join(REPO, 'build/index.js')}"`)}[env.production]${filled}`));
  return file;
}

test('deploy guard: the production placeholders, the demo and 127.0.0.1 origins are refused', STEP, () => {
  let r = checkDeploy(['--env', 'production']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /REFUSING TO DEPLOY environment production/);
  assert.match(r.stderr, /KV namespace RECORDS: id "0{32}" is the placeholder/);
  assert.match(r.stderr, /origin https:\/\/orders\.origin\.example\.com is a reserved example name/);

  r = checkDeploy([]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /top level of wrangler\.toml is the demo/);
  assert.match(r.stderr, /origin http:\/\/127\.0\.0\.1:8790\/orders-backend is a loopback address/);

  const ok = filledConfig();
  r = checkDeploy(['--env', 'production', '--config', ok]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /has no placeholder left/);

  for (const [what, edit] of [
    ['origin', (t) => t.replace('https://orders.internal.acme.net', 'http://127.0.0.1:8790/orders')],
    ['origin', (t) => t.replace('https://orders.internal.acme.net', 'http://localhost:9000')],
    ['LOGGING endpoint', (t) => t.replace('https://otel.acme.net/v1/logs', 'http://127.0.0.1:8791/ingest')],
  ]) {
    r = checkDeploy(['--env', 'production', '--config', filledConfig(edit)]);
    assert.equal(r.status, 1, `${what}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${what} .* is (a loopback address|localhost)`));
  }
});

test('deploy guard: `wrangler deploy` itself stops in the build, before anything is sent', { timeout: 180_000 }, () => {
  const wrangler = path.join(REPO, 'node_modules', '.bin', 'wrangler');
  for (const args of [['deploy', '--env', 'production'], ['deploy']]) {
    // No Cloudflare credentials: were the guard missing, wrangler would fail on the login instead.
    const r = spawnSync(wrangler, args, {
      cwd: REPO,
      env: { ...quiet, CLOUDFLARE_API_TOKEN: '', CLOUDFLARE_ACCOUNT_ID: '' },
      encoding: 'utf8',
      timeout: 170_000,
    });
    const out = r.stdout + r.stderr;
    assert.notEqual(r.status, 0, out);
    assert.match(out, /REFUSING TO DEPLOY/, `wrangler ${args.join(' ')}:\n${out}`);
    assert.match(out, /Running custom build `bash scripts\/build\.sh` failed/);
  }
  // The dry run scripts/test.sh makes of the demo still builds its bundle.
  const outdir = path.join(dir, 'dry-run');
  const r = spawnSync(wrangler, ['deploy', '--dry-run', '--outdir', outdir], { cwd: REPO, env: quiet, encoding: 'utf8', timeout: 170_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.ok(existsSync(path.join(outdir, 'index.js')));
});
