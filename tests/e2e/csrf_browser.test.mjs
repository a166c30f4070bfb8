// CSRF as a person meets it: Debian's Chromium (driven by playwright-core, which downloads no
// browser) opens a page served by the origin through the gateway on http://localhost:<port>.
// Its script POSTs to the operation that carries the CSRF generator, then submits a form to the
// protected operation: 200 from the origin. A page on another site (http://127.0.0.1:<port>)
// auto-submits a form to the same operation: the browser sends the session cookie (SameSite=None)
// but not the CSRF cookie (SameSite=Strict), and the gateway answers 401 with the exact message.
// A second page uses header mode: the script reads the token from the response header and sends
// it back in a header.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium } from 'playwright-core';
import { HOOK_TIMEOUT, TEST_TIMEOUT, assert, startGateway, uniq } from './harness.mjs';
import { SECRET, traceEntries } from './gentoken.mjs';

const T = { timeout: TEST_TIMEOUT * 2 };
const H = { timeout: HOOK_TIMEOUT };
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const MESSAGE = 'CSRF Token in the request, identified by COOKIE csrf_token, is invalid. Check docs.sensedia.com';

const PAGE = `<!doctype html><html><head><title>shop</title></head><body>
<form id="pay" method="POST" action="/app/transfer"><input name="amount" value="10"></form>
<script>
  fetch('/app/csrf/issue', { method: 'POST' })
    .then((r) => { document.title = 'issued ' + r.status; document.getElementById('pay').submit(); });
</script></body></html>`;

const HEADER_PAGE = `<!doctype html><html><head><title>shop</title></head><body><script>
  (async () => {
    const r = await fetch('/app/hcsrf/issue', { method: 'POST' });
    const token = r.headers.get('x-csrf-token');
    const ok = await fetch('/app/htransfer', { method: 'POST', headers: { 'x-csrf-token': token }, body: 'amount=5' });
    const bad = await fetch('/app/htransfer', { method: 'POST', headers: { 'x-csrf-token': token + 'x' }, body: 'amount=6' });
    document.title = JSON.stringify({ token: !!token, ok: ok.status, bad: bad.status, badText: await bad.text() });
  })();
</script></body></html>`;

const evilPage = (target) => `<!doctype html><html><body>
<form id="f" method="POST" action="${target}"><input name="amount" value="1000000"></form>
<script>document.getElementById('f').submit();</script></body></html>`;

/** The site's origin: the page (and its session cookie), the token operation, the transfer. */
function startSiteOrigin() {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      if (req.url === '/be/page') {
        res.writeHead(200, {
          'content-type': 'text/html',
          // A session cookie that (as in many legacy apps) travels cross-site.
          'set-cookie': `sid=${uniq('sid')}; Path=/; Secure; HttpOnly; SameSite=None`,
        });
        res.end(PAGE);
      } else if (req.url === '/be/hpage') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(HEADER_PAGE);
      } else {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end(`<html><body><h1 id="done">done ${req.method} ${req.url}</h1></body></html>`);
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        seen,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
      }),
    ),
  );
}

function startEvilSite(target) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(evilPage(target));
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}/`,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
      }),
    ),
  );
}

describe('CSRF in a real browser', H, () => {
  let site;
  let gw;
  let evil;
  let context;
  let userDir;
  let base;

  before(async () => {
    site = await startSiteOrigin();
    const session = { cookie: 'sid' };
    gw = await startGateway({
      policy: {
        apis: [
          {
            name: 'app',
            base_path: '/app',
            origin: `${site.url}/be`,
            resources: [
              { name: 'page', path: '/page', methods: ['GET'] },
              { name: 'hpage', path: '/hpage', methods: ['GET'] },
              {
                name: 'issue',
                path: '/csrf/issue',
                methods: ['POST'],
                interceptors: [{ type: 'csrf_generator', location: 'cookie', bind_app: false, session }],
              },
              {
                name: 'transfer',
                path: '/transfer',
                methods: ['POST'],
                interceptors: [{ type: 'csrf', location: 'cookie', bind_app: false, session }],
              },
              {
                name: 'hissue',
                path: '/hcsrf/issue',
                methods: ['POST'],
                interceptors: [{ type: 'csrf_generator', name: 'X-CSRF-Token', bind_app: false, session }],
              },
              {
                name: 'htransfer',
                path: '/htransfer',
                methods: ['POST'],
                interceptors: [{ type: 'csrf', name: 'X-CSRF-Token', bind_app: false, session }],
              },
            ],
          },
        ],
      },
      bindings: { TOKEN_SECRET: SECRET },
    });
    // The site is http://localhost:<port>; the attacker's page is on another site, 127.0.0.1.
    base = `http://localhost:${new URL(gw.url).port}`;
    evil = await startEvilSite(`${base}/app/transfer`);
    userDir = mkdtempSync(path.join(os.tmpdir(), 'csrf-chromium-'));
    context = await chromium.launchPersistentContext(userDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, H);

  after(async () => {
    await context?.close();
    if (userDir) rmSync(userDir, { recursive: true, force: true });
    await evil?.close();
    await gw?.dispose();
    await site?.close();
  }, H);

  test('the page gets a token with a POST and its form submission passes; a cross-site post gets 401', T, async () => {
    const page = await context.newPage();
    const transfer = page.waitForResponse((r) => r.url() === `${base}/app/transfer`, { timeout: 15_000 });
    await page.goto(`${base}/app/page`);
    const res = await transfer;
    assert.equal(res.status(), 200, await res.text());
    await page.waitForSelector('#done', { timeout: 10_000 });
    assert.equal(await page.textContent('#done'), 'done POST /be/transfer');
    const cookies = await context.cookies(base);
    const csrf = cookies.find((c) => c.name === 'csrf_token');
    assert.ok(csrf, JSON.stringify(cookies.map((c) => c.name)));
    assert.equal(csrf.httpOnly, true);
    assert.equal(csrf.secure, true);
    assert.equal(csrf.sameSite, 'Strict');
    const posted = site.seen.filter((r) => r.url === '/be/transfer');
    assert.equal(posted.length, 1);
    assert.equal(posted[0].body, 'amount=10');
    assert.match(posted[0].headers.cookie, /(^|; )csrf_token=v1\./);

    // The attacker's page, on another site, in the same browser (session cookies present).
    const attack = page.waitForResponse((r) => r.url() === `${base}/app/transfer`, { timeout: 15_000 });
    await page.goto(evil.url);
    const denied = await attack;
    assert.equal(denied.status(), 401);
    assert.equal(await denied.text(), MESSAGE);
    assert.equal(site.seen.filter((r) => r.url === '/be/transfer').length, 1, 'the forged post never reached the origin');
    const sent = await denied.request().allHeaders();
    assert.match(sent.cookie ?? '', /(^|; )sid=/, 'the session cookie was sent cross-site');
    assert.doesNotMatch(sent.cookie ?? '', /csrf_token=/, 'the CSRF cookie was not');
    assert.ok(await gw.waitForOutput([/"path":"\/app\/transfer"[^\]]*"outcome":"deny"/]), gw.output().slice(-800));
    const entries = traceEntries(gw.output()).filter((x) => x.path === '/app/transfer' && x.interceptor === 'csrf');
    assert.deepEqual(entries.map((x) => [x.outcome, x.cause ?? null]), [['pass', null], ['deny', 'missing']]);
    await page.close();
  });

  test('header mode: the script reads the token from the response header and sends it back', T, async () => {
    const page = await context.newPage();
    await page.goto(`${base}/app/page`); // a session first
    await page.waitForSelector('#done', { timeout: 10_000 });
    await page.goto(`${base}/app/hpage`);
    // eslint-disable-next-line no-undef -- runs in the page, where `document` is
    await page.waitForFunction(() => document.title.startsWith('{'), null, { timeout: 10_000 });
    const result = JSON.parse(await page.title());
    assert.deepEqual(result, {
      token: true,
      ok: 200,
      bad: 401,
      badText: 'CSRF Token in the request, identified by HEADER X-CSRF-Token, is invalid. Check docs.sensedia.com',
    });
    assert.equal(site.seen.filter((r) => r.url === '/be/htransfer').length, 1);
    await page.close();
  });
});
