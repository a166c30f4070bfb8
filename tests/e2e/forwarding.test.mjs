// Forwarding: what reaches the origin (method, rewritten path, query, headers, body; no
// hop-by-hop headers; identity headers that a client cannot forge) and what comes back (the
// origin's answer unchanged; 502 when the origin is down).

import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  HOOK_TIMEOUT,
  MSG,
  TEST_TIMEOUT,
  appKey,
  appRecord,
  assert,
  assertDenied,
  assertFault,
  assertNotForwarded,
  assertPassed,
  closedPort,
  credential,
  parts,
  sha256hex,
  startGateway,
  startOrigin,
  uniq,
} from './harness.mjs';

const T = { timeout: TEST_TIMEOUT };
const H = { timeout: HOOK_TIMEOUT };

function makePolicy(originUrl, downPort) {
  const down = `http://127.0.0.1:${downPort}/x`;
  return {
    apis: [
      { name: 'open', base_path: '/open', origin: `${originUrl}/up`, interceptors: [] },
      { name: 'root', base_path: '/root', origin: originUrl },
      { name: 'down', base_path: '/down', origin: down, interceptors: [] },
      { name: 'down-auth', base_path: '/down-auth', origin: down, interceptors: [{ type: 'client_id' }] },
      { name: 'ci', base_path: '/ci', origin: `${originUrl}/ci`, interceptors: [{ type: 'client_id' }] },
    ],
  };
}

describe('forwarding', H, () => {
  let origin;
  let gw;
  let downPort;
  const app = { clientId: uniq('fw-app'), extra: { team: 'payments', limits: [1, 2] } };

  before(async () => {
    origin = await startOrigin();
    downPort = await closedPort();
    gw = await startGateway({
      policy: makePolicy(origin.url, downPort),
      records: {
        [appKey(app.clientId)]: appRecord({
          name: 'Forwarding App',
          access: [{ api: 'ci' }, { api: 'down-auth' }],
          extra_info: app.extra,
        }),
      },
    });
  }, H);

  after(async () => {
    await gw?.dispose();
    await origin?.close();
  }, H);

  describe('methods and bodies', H, () => {
    const METHODS = [
      { method: 'GET' },
      { method: 'HEAD' },
      { method: 'DELETE' },
      { method: 'OPTIONS' },
      { method: 'POST', body: '{"order":1,"items":["a","b"]}', type: 'application/json' },
      { method: 'PUT', body: 'plain text body\nwith two lines', type: 'text/plain' },
      { method: 'PATCH', body: 'a=1&b=%20x', type: 'application/x-www-form-urlencoded' },
      { method: 'DELETE', body: '{"reason":"dup"}', type: 'application/json', label: 'DELETE with a body' },
    ];
    for (const m of METHODS) {
      test(m.label ?? m.method, T, async () => {
        const id = uniq('req');
        const headers = m.type ? [['content-type', m.type]] : [];
        const res = await gw.request(`/open/m/${m.method.toLowerCase()}?k=v`, {
          method: m.method,
          id,
          headers,
          body: m.body,
        });
        const seen = assertPassed(res, origin, id);
        assert.equal(seen.method, m.method);
        assert.equal(seen.url, `/up/m/${m.method.toLowerCase()}?k=v`);
        assert.equal(seen.body.toString('utf8'), m.body ?? '');
        if (m.body) {
          assert.equal(seen.headers['content-type'], m.type);
          assert.equal(res.text, m.body, 'echoed body');
          assert.equal(res.headers['content-type'], m.type);
        }
      });
    }

    test('a 1 MiB binary POST body arrives byte for byte', T, async () => {
      const body = randomBytes(1024 * 1024);
      const id = uniq('req');
      const res = await gw.request('/open/upload', {
        method: 'POST',
        id,
        headers: [['content-type', 'application/octet-stream']],
        body,
      });
      const seen = assertPassed(res, origin, id);
      assert.equal(seen.body.length, body.length);
      assert.equal(sha256hex(seen.body), sha256hex(body));
      assert.equal(res.body.length, body.length, 'echoed body length');
      assert.equal(sha256hex(res.body), sha256hex(body), 'echoed body bytes');
    });
  });

  describe('path and query', H, () => {
    const PATHS = [
      { req: '/open/a/b/c', origin: '/up/a/b/c' },
      { req: '/open', origin: '/up' },
      { req: '/open/', origin: '/up/' },
      { req: '/open?only=query', origin: '/up?only=query' },
      { req: '/open/q?x=1&y=%20z&x=2&empty=&flag&plus=a+b&enc=%2F%3F%26', origin: '/up/q?x=1&y=%20z&x=2&empty=&flag&plus=a+b&enc=%2F%3F%26' },
      { req: '/open/%E2%9C%93/sp%20ace', origin: '/up/%E2%9C%93/sp%20ace' },
      { req: '/root/a/b?c=d', origin: '/a/b?c=d' },
    ];
    for (const c of PATHS) {
      test(`${c.req} -> ${c.origin}`, T, async () => {
        const id = uniq('req');
        const seen = assertPassed(await gw.request(c.req, { id }), origin, id);
        assert.equal(seen.url, c.origin);
      });
    }
  });

  test('end-to-end headers arrive intact', T, async () => {
    const id = uniq('req');
    const sent = [
      ['Authorization', 'Bearer not-checked-here'],
      ['Accept', 'application/json, text/plain;q=0.5'],
      ['User-Agent', 'e2e-test/1.0'],
      ['X-Custom-A', 'value with  two spaces inside'],
      ['x-multi', 'one'],
      ['x-multi', 'two'],
      ['Cookie', 'a=1; b=2'],
      ['x-json', '{"k":[1,2]}'],
      ['client_id', 'looks-like-a-credential'],
    ];
    const seen = assertPassed(await gw.request('/open/h', { id, headers: sent }), origin, id);
    assert.equal(seen.headers.authorization, 'Bearer not-checked-here');
    assert.equal(seen.headers.accept, 'application/json, text/plain;q=0.5');
    assert.equal(seen.headers['user-agent'], 'e2e-test/1.0');
    assert.equal(seen.headers['x-custom-a'], 'value with  two spaces inside');
    assert.equal(seen.headers['x-multi'], 'one, two');
    assert.equal(seen.headers.cookie, 'a=1; b=2');
    assert.equal(seen.headers['x-json'], '{"k":[1,2]}');
    assert.equal(seen.headers.client_id, 'looks-like-a-credential');
  });

  test('hop-by-hop headers are removed, including those named in Connection', T, async () => {
    const id = uniq('req');
    const res = await gw.request('/open/hop', {
      id,
      headers: [
        ['Connection', 'keep-alive, X-Hop-Custom'],
        ['Keep-Alive', 'timeout=5, max=100'],
        ['TE', 'trailers'],
        ['Upgrade', 'example/1'],
        ['Proxy-Authorization', 'Basic cHJveHk6c2VjcmV0'],
        ['X-Hop-Custom', 'must-not-pass'],
        ['X-Keep-Me', 'kept'],
      ],
    });
    const seen = assertPassed(res, origin, id);
    for (const h of ['keep-alive', 'te', 'upgrade', 'proxy-authorization', 'x-hop-custom']) {
      assert.equal(seen.headers[h], undefined, `hop-by-hop header ${h} reached the origin: ${seen.headers[h]}`);
    }
    assert.ok(!/x-hop-custom/i.test(String(seen.headers.connection ?? '')), `Connection: ${seen.headers.connection}`);
    assert.equal(seen.headers['x-keep-me'], 'kept');
  });

  describe("the origin's response comes back unchanged", H, () => {
    for (const code of [503, 500, 404, 418, 429]) {
      test(`status ${code}`, T, async () => {
        const id = uniq('req');
        const res = await gw.request(`/open/status/${code}`, { id });
        assert.equal(res.status, code);
        assert.equal(res.text, `origin says ${code}`);
        assert.equal(res.headers['x-origin-header'], 'yes');
        assert.equal(res.headers['x-custom-resp'], 'abc');
        assert.equal(res.headers['content-type'], 'text/plain');
        assert.equal(origin.find(id).length, 1);
      });
    }

    test('status 201 with two Set-Cookie headers and Cache-Control', T, async () => {
      const res = await gw.request('/open/resp-headers', { id: uniq('req') });
      assert.equal(res.status, 201);
      assert.equal(res.text, '{"created":true}');
      assert.deepEqual(res.headers['set-cookie'], ['a=1; Path=/', 'b=2; Path=/; HttpOnly']);
      assert.equal(res.headers['cache-control'], 'max-age=17');
      assert.equal(res.headers['x-multi'], 'one');
      assert.equal(res.headers['content-type'], 'application/json');
    });

    test('a redirect is passed back, not followed', T, async () => {
      const id = uniq('req');
      const res = await gw.request('/open/redirect', { id });
      assert.equal(res.status, 302);
      assert.equal(res.headers.location, '/elsewhere');
      assert.equal(res.text, 'moved');
      assert.equal(origin.find(id).length, 1);
      assert.ok(!origin.requests.some((r) => r.url === '/elsewhere'), 'the gateway followed the redirect');
    });
  });

  describe('identity headers', H, () => {
    const FORGED = [
      ['x-edge-client-id', 'forged-client'],
      ['X-Edge-App-Name', 'Forged Name'],
      ['x-edge-app-extra-info', '{"admin":true}'],
    ];

    test('forged identity headers never reach the origin on an API without interceptors', T, async () => {
      const id = uniq('req');
      const seen = assertPassed(await gw.request('/open/id', { id, headers: FORGED }), origin, id);
      assert.equal(seen.headers['x-edge-client-id'], undefined);
      assert.equal(seen.headers['x-edge-app-name'], undefined);
      assert.equal(seen.headers['x-edge-app-extra-info'], undefined);
    });

    test('forged identity headers given twice are all stripped', T, async () => {
      const id = uniq('req');
      const seen = assertPassed(
        await gw.request('/open/id2', { id, headers: [...FORGED, ['X-EDGE-CLIENT-ID', 'again']] }),
        origin,
        id,
      );
      assert.equal(seen.headers['x-edge-client-id'], undefined);
    });

    test('identity established by client_id replaces forged values', T, async () => {
      const id = uniq('req');
      const res = await gw.request('/ci/x', { id, p: credential('header', 'client_id', app.clientId), headers: FORGED });
      const seen = assertPassed(res, origin, id);
      assert.equal(seen.url, '/ci/x');
      assert.equal(seen.headers['x-edge-client-id'], app.clientId);
      assert.equal(seen.headers['x-edge-app-name'], 'Forwarding App');
      assert.deepEqual(JSON.parse(seen.headers['x-edge-app-extra-info']), { app: app.extra });
    });
  });

  describe('trace context reaching the origin', H, () => {
    const WELL_FORMED = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
    for (const [label, incoming] of [
      ['no traceparent', null],
      ['a malformed traceparent', 'not-a-traceparent'],
      ['an all-zero trace id', '00-00000000000000000000000000000000-00f067aa0ba902b7-01'],
      ['an all-zero parent id', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01'],
      ['version ff', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
      ['uppercase hex', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01'],
      ['a short trace id', '00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01'],
    ]) {
      test(`${label} in: a fresh, well-formed traceparent reaches the origin`, T, async () => {
        const seen = [];
        for (let i = 0; i < 2; i++) {
          const id = uniq('tp');
          const res = await gw.request('/open/tp', { id, traced: false, headers: incoming ? [['traceparent', incoming]] : [] });
          const got = assertPassed(res, origin, id).headers.traceparent;
          const m = WELL_FORMED.exec(String(got));
          assert.ok(m, `not a well-formed traceparent: ${got}`);
          assert.notEqual(m[1], '0'.repeat(32));
          assert.notEqual(m[2], '0'.repeat(16));
          const inId = incoming?.split('-')[1]?.toLowerCase();
          if (inId && inId.length >= 16) assert.ok(!got.includes(inId), `${got} continues ${incoming}`);
          seen.push(m[1]);
        }
        assert.notEqual(seen[0], seen[1], 'each request starts its own trace');
      });
    }

    test('a valid traceparent: the same trace continues, with the gateway as parent', T, async () => {
      const id = uniq('tp');
      const res = await gw.request('/open/tp', { id, headers: [['traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00']] });
      const got = assertPassed(res, origin, id).headers.traceparent;
      assert.match(got, /^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/);
      assert.ok(!got.includes('00f067aa0ba902b7'));
    });
  });

  describe('origin down', H, () => {
    test('no interceptor: 502 with a generic body', T, async () => {
      const res = await gw.request('/down/a?b=c', { id: uniq('req') });
      assertFault(res, 502, ['127.0.0.1', String(downPort), 'ECONNREFUSED']);
    });

    test('valid credentials (KV fine): 502 with a generic body', T, async () => {
      const res = await gw.request('/down-auth/a', { id: uniq('req'), p: credential('header', 'client_id', app.clientId) });
      assertFault(res, 502, ['127.0.0.1', String(downPort), 'ECONNREFUSED', app.clientId]);
    });

    test('invalid credentials: still the 401, the origin is never tried', T, async () => {
      const id = uniq('req');
      const res = await gw.request('/down-auth/a', { id, p: parts() });
      assertDenied(res, MSG.clientId('HEADER', 'client_id'));
      assertNotForwarded(origin, id);
    });
  });
});
