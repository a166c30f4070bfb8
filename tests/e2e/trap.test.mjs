// A trap must not take others down (issue 12). A test build (scripts/build-test.sh, cargo feature
// `trap-trigger`) panics on a request carrying `x-edge-test-trap`; around that panic: requests
// already forwarded still get their origin's answer (with the headers a generator decided for
// them), a request waiting for a KV record gets a 503, the next requests are served by a new
// instance, and what the trapped instance lost is counted in a `recovered` report. What this
// checks is behaviour seen from outside, not how the entry shim re-instantiates the module.
// And the deployable bundle (`wrangler deploy --dry-run`, target/dry-run) has no trigger in it.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  BUILD_TIMEOUT,
  HOOK_TIMEOUT,
  REPO,
  TEST_TIMEOUT,
  appKey,
  appRecord,
  assert,
  assertFault,
  parts,
  sha256hex,
  startGateway,
  startOrigin,
  testBuild,
  tokenKey,
  tokenRecord,
  uniq,
} from './harness.mjs';

const T = { timeout: TEST_TIMEOUT };
const TRIGGER = 'x-edge-test-trap';
/** The memory probe's header (feature memory-probe), checked the same way. */
const PROBE = 'x-edge-test-memory';
const APP = uniq('trap-app');
const SLOW_APP = uniq('trap-slow');
const TOKEN = `trap-${uniq('tok')}-secret`;
const SECRET = 'trap-test-token-secret-0123456789abcdef';

/** Every `recovered` report the Worker wrote to its console. */
function reports(output) {
  const out = [];
  for (const line of output.split('\n')) {
    const i = line.indexOf('{"');
    if (i < 0 || !line.includes('"outcome":"recovered"')) continue;
    try {
      out.push(JSON.parse(line.slice(i)));
    } catch {
      // not a report
    }
  }
  return out;
}

function wasmFiles(dir) {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.wasm'))
    .map((f) => path.join(dir, f));
}

let buildDir;

before(async () => {
  buildDir = await testBuild();
}, { timeout: BUILD_TIMEOUT });

describe('the deployable bundle has no test trigger', () => {
  test('target/dry-run (wrangler deploy --dry-run) contains neither test hook; the test build has both', T, () => {
    const dryRun = path.join(REPO, 'target', 'dry-run');
    assert.ok(
      existsSync(dryRun) && wasmFiles(dryRun).length > 0,
      'no wasm in target/dry-run: run `npx wrangler deploy --dry-run --outdir target/dry-run` first (scripts/test.sh does)',
    );
    for (const marker of [TRIGGER, PROBE]) {
      for (const f of wasmFiles(dryRun)) {
        assert.ok(!readFileSync(f).includes(marker), `${f} contains ${marker}`);
      }
      for (const f of readdirSync(dryRun).filter((x) => x.endsWith('.js'))) {
        assert.ok(!readFileSync(path.join(dryRun, f)).includes(marker), `${f} contains ${marker}`);
      }
      // The check can fail: the marker is in the test build's wasm.
      const testWasm = wasmFiles(buildDir);
      assert.ok(testWasm.length > 0, `no wasm in ${buildDir}`);
      assert.ok(testWasm.some((f) => readFileSync(f).includes(marker)), `the test build has no ${marker}: this check would prove nothing`);
    }
  });
});

describe('a trap does not take the requests around it down', () => {
  let origin;
  let gw;

  before(async () => {
    origin = await startOrigin();
    gw = await startGateway({
      buildDir,
      standins: { kv: true },
      policy: {
        timeouts: { kv_ms: 10_000 },
        apis: [
          { name: 'orders', base_path: '/orders', origin: `${origin.url}/orders`, interceptors: [{ type: 'oauth' }] },
          {
            name: 'forms',
            base_path: '/forms',
            origin: `${origin.url}/forms`,
            interceptors: [{ type: 'client_id' }, { type: 'csrf_generator', location: 'header', name: 'x-csrf-token' }],
          },
        ],
      },
      records: {
        [appKey(APP)]: appRecord({ access: [{ api: 'orders' }, { api: 'forms' }] }),
        [appKey(SLOW_APP)]: appRecord({ access: [{ api: 'orders' }] }),
        [tokenKey(TOKEN)]: tokenRecord({ client_id: APP }),
        [tokenKey(`${TOKEN}-slow`)]: tokenRecord({ client_id: SLOW_APP }),
      },
      bindings: {
        TOKEN_SECRET: SECRET,
        // Entries stay buffered (a big batch, a long flush): a trap loses them, and says so.
        LOGGING: { endpoint: 'http://127.0.0.1:9/never', batch_size: 1000, max_buffer: 1000, flush_ms: 60_000, console: 'always' },
      },
    });
  }, { timeout: HOOK_TIMEOUT });

  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, { timeout: HOOK_TIMEOUT });

  test('forwarded requests keep their origin answer, a waiting one gets a 503, the next ones pass; the loss is reported', { timeout: 60_000 }, async () => {
    const oauth = (client = APP, token = TOKEN) => parts({ headers: [['client_id', client], ['access_token', token]] });
    // Warm up (caches, policy) and leave trace entries in the shipper's buffer: 3 denials.
    assert.equal((await gw.request('/orders/warm', { p: oauth() })).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await gw.request(`/orders/deny-${i}`, { p: oauth(APP, 'nope') })).status, 401);

    // Five requests forwarded and held by the origin (one with a CSRF token decided for it).
    const held = [
      ...Array.from({ length: 4 }, (_, i) => gw.request(`/orders/hold/${i}`, { p: oauth() })),
      gw.request('/forms/hold/submit', { method: 'POST', body: '{}', p: parts({ headers: [['client_id', APP]] }) }),
    ];
    await origin.waitHeld(5);
    // One request waiting for its records: KV answers once the trap has happened.
    let answerKv;
    const kvGate = new Promise((r) => {
      answerKv = r;
    });
    gw.kv.mode = (key) => (key === appKey(SLOW_APP) ? kvGate.then(() => 'pass') : 'pass');
    const waiting = gw.request('/orders/slow', { p: oauth(SLOW_APP, `${TOKEN}-slow`) });
    for (let t = 0; gw.kv.count(appKey(SLOW_APP)) === 0; t++) {
      assert.ok(t < 500, 'the waiting request never read KV');
      await new Promise((r) => setTimeout(r, 20));
    }

    // The trap.
    const trapped = await gw.request('/orders/trap', { p: oauth(), headers: [[TRIGGER, '1']] });
    assert.equal(trapped.status, 500, 'the request that trapped gets a 500');
    assert.ok(!trapped.text.includes(TOKEN), 'no credential in the 500');

    // The origin answers the forwarded requests: each gets that answer.
    origin.release();
    const answers = await Promise.all(held);
    for (const res of answers) {
      assert.equal(res.status, 200, `a forwarded request lost its origin's answer: ${res.status} ${res.text}`);
      assert.equal(res.headers['x-origin-held'], 'yes');
      assert.equal(JSON.parse(res.text).held, true);
    }
    // The generator's token was decided with the request: it is still there.
    assert.match(String(answers[4].headers['x-csrf-token']), /^v1\./, JSON.stringify(answers[4].headers));

    // The waiting request: its instance is gone; a 503, never a pass, never a hang.
    answerKv();
    const w = await waiting;
    assertFault(w, 503, [TOKEN]);
    gw.kv.mode = () => 'pass';

    // The next requests are served (by a new instance).
    for (let i = 0; i < 3; i++) {
      const res = await gw.request(`/orders/after-${i}`, { p: oauth() });
      assert.equal(res.status, 200, `after the trap: ${res.status} ${res.text}`);
    }

    // What the trapped instance lost, counted.
    assert.ok(await gw.waitForOutput(['"outcome":"recovered"'], 5000), gw.output().slice(-1500));
    const total = (k) => reports(gw.output()).reduce((n, r) => n + (r[k] ?? 0), 0);
    // Counts may come in more than one report (as the losses happen).
    const deadline = Date.now() + 5000;
    while (total('forwarded_answered_by_glue') < 5 || total('waiting_answered_503') < 1) {
      if (Date.now() > deadline) break;
      await gw.request('/orders/poll', { p: oauth() });
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(total('traps'), 1, JSON.stringify(reports(gw.output())));
    assert.equal(total('forwarded_answered_by_glue'), 5, JSON.stringify(reports(gw.output())));
    assert.equal(total('waiting_answered_503'), 1, JSON.stringify(reports(gw.output())));
    // The 3 denials' entries (2 each) were buffered, and each forwarded request's trace (2) lost.
    assert.ok(total('trace_entries_lost') >= 6 + 5 * 2, JSON.stringify(reports(gw.output())));
    assert.ok(!gw.output().includes(TOKEN), 'no raw credential in the console');
    // The panic's message, written by the panic hook (src/worker/start.rs) before the trap.
    assert.ok(gw.output().includes('Rust panic: panicked at'), gw.output().slice(-1500));
  });

  test('the memory probe answers the size of the wasm linear memory', T, async () => {
    const res = await gw.request('/anything', { headers: [[PROBE, '1']] });
    assert.equal(res.status, 200);
    const bytes = Number(res.text);
    assert.ok(Number.isInteger(bytes) && bytes > 0 && bytes % 65_536 === 0, res.text);
  });

  test('without the trigger, the same build behaves as the deployable one', T, async () => {
    const res = await gw.request('/orders/plain', { p: parts({ headers: [['client_id', APP], ['access_token', TOKEN]] }) });
    assert.equal(res.status, 200);
    assert.equal(reports(gw.output()).length > 0, true);
  });
});

// The Durable Object classes hold a Rust object each (src/worker/entry.js). A trap replaces the
// wasm instance, and with it every Rust object: a Durable Object made before the trap must
// still answer after it (its state is in its storage, not in wasm memory).
describe('a Durable Object made before a trap answers after it', () => {
  const DO_APP = uniq('trap-do');
  const DO_SECRET = `s-${uniq('secret')}`;
  const PROVISION = `pk-${uniq('provision')}`;
  const CB = 'https://app.example/cb';
  let origin;
  let gw;

  before(async () => {
    origin = await startOrigin();
    gw = await startGateway({
      buildDir,
      policy: {
        apis: [{ name: 'orders', base_path: '/orders', origin: `${origin.url}/orders`, interceptors: [{ type: 'oauth' }] }],
        authorization_servers: [{ name: 'sensedia', base_path: '/oauth' }],
      },
      records: {
        [appKey(DO_APP)]: appRecord({
          access: [{ api: 'orders' }],
          client_secret_sha256: sha256hex(DO_SECRET),
          redirect_uris: [CB],
        }),
      },
      bindings: { AUTHZ_PROVISION_KEY: PROVISION },
    });
  }, { timeout: HOOK_TIMEOUT });

  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, { timeout: HOOK_TIMEOUT });

  /** grant-code, then the code redeemed: both go through the app's GRANTS instance. */
  async function codeFlow() {
    const g = await gw.request('/oauth/grant-code', {
      method: 'POST',
      headers: [['Content-Type', 'application/json'], ['x-provision-key', PROVISION]],
      body: JSON.stringify({ client_id: DO_APP, redirect_uri: CB }),
    });
    assert.equal(g.status, 200, g.text);
    const code = new URL(JSON.parse(g.text).redirect_uri).searchParams.get('code');
    const basic = `Basic ${Buffer.from(`${DO_APP}:${DO_SECRET}`).toString('base64')}`;
    const t = await gw.request('/oauth/access-token', {
      method: 'POST',
      headers: [['Authorization', basic], ['Content-Type', 'application/x-www-form-urlencoded']],
      body: `grant_type=authorization_code&code=${code}`,
    });
    return t;
  }

  test('the grant store redeems a code before and after a trap', T, async () => {
    const before1 = await codeFlow();
    assert.equal(before1.status, 200, before1.text);
    const trapped = await gw.request('/orders/trap', { headers: [[TRIGGER, '1']] });
    assert.equal(trapped.status, 500, 'the request that trapped gets a 500');
    const after1 = await codeFlow();
    assert.equal(after1.status, 200, `after the trap: ${after1.status} ${after1.text}`);
    const tok = JSON.parse(after1.text).access_token;
    const res = await gw.request('/orders/after', { p: parts({ headers: [['client_id', DO_APP], ['access_token', tok]] }) });
    assert.equal(res.status, 200, res.text);
  });
});
