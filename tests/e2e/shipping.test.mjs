// Trace shipping to a real local log sink: NDJSON and OTLP/HTTP JSON (checked with the official
// OpenTelemetry protobuf definitions), traceparent, batching, and a sink that fails, hangs or is
// down — responses unchanged, drops counted.
import { describe, test, before, after } from 'node:test';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  assert,
  REPO,
  startOrigin,
  startGateway,
  appRecord,
  tokenRecord,
  appKey,
  tokenKey,
  uniq,
  parts,
  closedPort,
  TEST_TIMEOUT,
  HOOK_TIMEOUT,
} from './harness.mjs';

const T = { timeout: TEST_TIMEOUT };
const H = { timeout: HOOK_TIMEOUT };

/** A log sink: records every POST; `mode` is 'ok', 'fail' (500) or 'hang' (never answers). */
async function startSink() {
  const posts = [];
  const sink = { posts, mode: 'ok', failures: 0 };
  const hanging = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      if (sink.mode === 'hang') {
        hanging.push(res);
        return;
      }
      if (sink.mode === 'fail') {
        sink.failures++;
        res.writeHead(500).end('sink is failing');
        return;
      }
      posts.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200).end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  sink.url = `http://127.0.0.1:${server.address().port}/ingest`;
  sink.close = async () => {
    for (const r of hanging) r.destroy();
    await new Promise((r) => server.close(r));
  };
  /** All NDJSON entries received so far. */
  sink.entries = () =>
    posts.flatMap((p) =>
      p.body
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
    );
  sink.waitFor = async (pred, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (pred()) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return pred();
  };
  return sink;
}

const APP = uniq('ship-app');
const TOKEN = `ship-${uniq('tok')}-secret-value`;
const REVOKED = `ship-${uniq('tok')}-revoked-value`;

function policy(originUrl, downUrl) {
  return {
    trace: { sample_passing: 1 },
    apis: [
      { name: 'orders', base_path: '/orders', origin: originUrl, interceptors: [{ type: 'oauth' }] },
      { name: 'down', base_path: '/down', origin: downUrl, interceptors: [{ type: 'oauth' }] },
    ],
  };
}

const RECORDS = {
  [appKey(APP)]: appRecord({ name: 'Ship App', access: [{ api: 'orders' }, { api: 'down' }] }),
  [tokenKey(TOKEN)]: tokenRecord({ client_id: APP }),
  [tokenKey(REVOKED)]: tokenRecord({ client_id: APP, revoked: true }),
};

const creds = (tok) => parts({ headers: [['client_id', APP], ['access_token', tok]] });

async function timed(fn) {
  const t0 = Date.now();
  const res = await fn();
  return { res, ms: Date.now() - t0 };
}

describe('shipping NDJSON', H, () => {
  let origin;
  let sink;
  let gw;
  before(async () => {
    origin = await startOrigin();
    sink = await startSink();
    const down = `http://127.0.0.1:${await closedPort()}`;
    gw = await startGateway({
      policy: policy(origin.url, down),
      records: RECORDS,
      bindings: {
        LOGGING: { endpoint: sink.url, format: 'ndjson', batch_size: 50, flush_ms: 100, headers: { 'x-tenant': 'e2e' } },
        LOGGING_TOKEN: 'sink-secret-token',
      },
    });
  }, H);
  after(async () => {
    await gw?.dispose();
    await sink?.close();
    await origin?.close();
  }, H);

  test('passes, each denial cause and faults arrive with their content', T, async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const id = uniq('req');
    const pass = await gw.request('/orders/pass', {
      id,
      p: creds(TOKEN),
      headers: [['traceparent', `00-${traceId}-00f067aa0ba902b7-01`]],
    });
    assert.equal(pass.status, 200);
    assert.equal((await gw.request('/orders/revoked', { p: creds(REVOKED) })).status, 401);
    assert.equal((await gw.request('/orders/missing', { p: parts({ headers: [['client_id', APP]] }) })).status, 401);
    assert.equal((await gw.request('/orders/space', { p: creds(`${TOKEN} `) })).status, 401);
    assert.equal((await gw.request('/nowhere', {})).status, 404);
    assert.equal((await gw.request('/down/x', { p: creds(TOKEN) })).status, 502);

    const byPath = (p) => sink.entries().filter((e) => e.path === p);
    const ok = await sink.waitFor(() => ['/orders/pass', '/orders/revoked', '/orders/missing', '/orders/space', '/nowhere', '/down/x'].every((p) => byPath(p).length > 0));
    assert.ok(ok, `not everything arrived: ${JSON.stringify(sink.entries().map((e) => e.path))}`);

    // The origin got the caller's trace, with the gateway as parent.
    const seen = origin.find(id)[0];
    assert.match(seen.headers.traceparent, new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    assert.ok(!seen.headers.traceparent.includes('00f067aa0ba902b7'));

    const [passEntry, passSummary] = byPath('/orders/pass');
    assert.equal(passEntry.interceptor, 'oauth');
    assert.equal(passEntry.outcome, 'pass');
    assert.equal(passEntry.client_id, APP);
    assert.match(passEntry.fingerprint, /^sha256:[0-9a-f]{16}$/);
    assert.equal(passEntry.trace_id, traceId);
    assert.equal(passSummary.origin_status, 200);
    assert.equal(typeof passSummary.origin_latency_ms, 'number');
    assert.ok(passSummary.request_id);
    assert.equal(passSummary.api, 'orders');

    const revoked = byPath('/orders/revoked')[0];
    assert.equal(revoked.cause, 'revoked');
    assert.equal(revoked.line, 'Access token in HEADER access_token HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call');
    assert.equal(byPath('/orders/missing')[0].cause, 'missing');
    assert.match(byPath('/orders/space')[0].detail, /whitespace/);
    assert.equal(byPath('/nowhere')[0].outcome, 'no_route');
    const down = byPath('/down/x');
    assert.deepEqual(down.map((e) => [e.interceptor, e.outcome]), [['oauth', 'pass'], ['request', 'pass'], ['forward', 'fault']]);
    assert.equal(down[2].cause, 'origin_unreachable');

    // Delivery: NDJSON with the token and the extra header.
    const post = sink.posts[0];
    assert.equal(post.headers['content-type'], 'application/x-ndjson');
    assert.equal(post.headers.authorization, 'Bearer sink-secret-token');
    assert.equal(post.headers['x-tenant'], 'e2e');
  });

  test('no raw credential, secret or cookie value in any payload', T, async () => {
    await gw.request('/orders/cookie', { p: parts({ headers: [['client_id', APP], ['access_token', TOKEN], ['cookie', 'session=cookie-secret-value']] }) });
    await sink.waitFor(() => sink.entries().some((e) => e.path === '/orders/cookie'));
    const all = sink.posts.map((p) => p.body).join('\n');
    for (const secret of [TOKEN, REVOKED, 'cookie-secret-value', 'sink-secret-token']) {
      assert.ok(!all.includes(secret), `payload contains ${secret}`);
    }
  });
});

describe('shipping OTLP/HTTP JSON', H, () => {
  let origin;
  let sink;
  let gw;
  before(async () => {
    origin = await startOrigin();
    sink = await startSink();
    gw = await startGateway({
      policy: policy(origin.url, origin.url),
      records: RECORDS,
      bindings: { LOGGING: { endpoint: sink.url, format: 'otlp', batch_size: 3, flush_ms: 100, service_name: 'edge-e2e' } },
    });
  }, H);
  after(async () => {
    await gw?.dispose();
    await sink?.close();
    await origin?.close();
  }, H);

  test('payloads parse with the official OpenTelemetry protobuf definitions', T, async () => {
    for (let i = 0; i < 4; i++) await gw.request(`/orders/otlp-${i}`, { p: creds(i % 2 ? TOKEN : REVOKED) });
    // 4 requests × 2 entries, in batches of 3 (the last one sent by the flush timer).
    const records = () => sink.posts.map((p) => p.body).join('').split('"severityNumber"').length - 1;
    assert.ok(await sink.waitFor(() => records() >= 8), `records: ${records()}`);
    assert.ok(sink.posts.length >= 3, 'batched');
    assert.equal(sink.posts[0].headers['content-type'], 'application/json');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otlp-'));
    const files = sink.posts.map((p, i) => {
      const f = path.join(dir, `payload-${i}.json`);
      fs.writeFileSync(f, p.body);
      return f;
    });
    const out = execFileSync('python3', [path.join(REPO, 'tests/otlp/check_otlp.py'), ...files], { encoding: 'utf8' });
    const summary = JSON.parse(out);
    assert.ok(summary.records >= 8, out);
    assert.equal(summary.records, summary.with_trace_id, out);
    assert.deepEqual(summary.services, ['edge-e2e']);
    assert.ok(summary.bodies.includes('Access token in HEADER access_token HAS NOT BEEN FOUND (causes: is invalid, expired, or revoked); rejecting call'));
  });
});

describe('a failing, hanging or absent sink changes nothing for clients', H, () => {
  let origin;
  let sink;
  // The same policy without LOGGING: the latency every shipping case is compared with, measured
  // in the same test, request for request, so that a loaded machine slows both alike.
  let baseline;
  before(async () => {
    origin = await startOrigin();
    sink = await startSink();
    baseline = await startGateway({ policy: policy(origin.url, origin.url), records: RECORDS });
  }, H);
  after(async () => {
    await baseline?.dispose();
    await sink?.close();
    await origin?.close();
  }, H);

  async function gateway(logging) {
    return startGateway({ policy: policy(origin.url, origin.url), records: RECORDS, bindings: { LOGGING: logging } });
  }

  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

  /**
   * Sends passes and denials to `gw` and to the baseline in turn; checks every answer and
   * returns both medians. A response that waited for the sink would pay its time-out (300 ms
   * for the hanging sink) on top of the baseline.
   */
  async function load(gw, label) {
    const times = [];
    const base = [];
    for (let i = 0; i < 6; i++) {
      for (const [g, list, tag] of [
        [gw, times, label],
        [baseline, base, `${label}-baseline`],
      ]) {
        const ok = await timed(() => g.request(`/orders/${tag}-${i}`, { p: creds(TOKEN) }));
        assert.equal(ok.res.status, 200);
        const no = await timed(() => g.request(`/orders/${tag}-deny-${i}`, { p: creds(REVOKED) }));
        assert.equal(no.res.status, 401);
        list.push(ok.ms, no.ms);
      }
    }
    return { median: median(times), baseline: median(base) };
  }

  /** Within 100 ms of the run without LOGGING (under the 300 ms a blocked response would add). */
  function assertNotDelayed({ median: m, baseline: b }, what) {
    assert.ok(m <= b + 100, `median latency ${m} ms ${what}, ${b} ms without LOGGING`);
  }

  test('sink answering 500: drops are counted and reported once it recovers', T, async () => {
    sink.mode = 'fail';
    const gw = await gateway({ endpoint: sink.url, batch_size: 2, flush_ms: 50, retries: 1, backoff_ms: 10 });
    try {
      assertNotDelayed(await load(gw, 'fail'), 'with a sink answering 500');
      assert.ok(await sink.waitFor(() => sink.failures >= 4), 'the sink was tried');
      assert.ok(await gw.waitForOutput(['edge_trace_undelivered', 'dropped_total']), 'the console keeps the entries');
      sink.mode = 'ok';
      await gw.request('/orders/after-recovery', { p: creds(TOKEN) });
      await gw.request('/orders/after-recovery-2', { p: creds(TOKEN) });
      const reported = await sink.waitFor(() => sink.entries().some((e) => e.outcome === 'dropped' && e.dropped > 0));
      assert.ok(reported, `no drop report: ${JSON.stringify(sink.entries().slice(-3))}`);
      assert.ok(!gw.output().includes(TOKEN), 'console has no raw token');
    } finally {
      sink.mode = 'ok';
      await gw.dispose();
    }
  });

  test('sink hanging: responses are not delayed; deliveries time out and are counted', T, async () => {
    sink.mode = 'hang';
    const gw = await gateway({ endpoint: sink.url, batch_size: 1, flush_ms: 50, timeout_ms: 300, retries: 0 });
    try {
      assertNotDelayed(await load(gw, 'hang'), 'with a hanging sink');
      assert.ok(await gw.waitForOutput(['edge_trace_undelivered', 'time-out'], 5000), gw.output().slice(-500));
    } finally {
      sink.mode = 'ok';
      await gw.dispose();
    }
  });

  test('sink down: responses unchanged, entries stay in the console', T, async () => {
    const gw = await gateway({ endpoint: `http://127.0.0.1:${await closedPort()}/x`, batch_size: 1, flush_ms: 50, retries: 0 });
    try {
      assertNotDelayed(await load(gw, 'down'), 'with the sink down');
      assert.ok(await gw.waitForOutput(['edge_trace_undelivered', '/orders/down-0'], 5000));
    } finally {
      await gw.dispose();
    }
  });

  test('a bad LOGGING setting fails every request closed, listing every problem', T, async () => {
    const gw = await gateway({ endpoint: 'ftp://x', batch_size: 0, colour: 'blue' });
    try {
      const res = await gw.request('/orders/x', { p: creds(TOKEN) });
      assert.equal(res.status, 500);
      assert.ok(await gw.waitForOutput(['LOGGING.endpoint', 'LOGGING.batch_size', 'unknown field "colour"']));
    } finally {
      await gw.dispose();
    }
  });
});
