// The Worker's own work per request, without the network: each Worker's `fetch` handler called in
// a loop inside its own workerd process, with the runtime's `fetch` (the origin, the log sink)
// replaced by a stub that answers at once. What compare.mjs measures includes the runtime's
// connections to the client and the origin (about a third of the process's CPU, the same for
// every Worker, docs/performance.md "Where the time goes"), and its noise; this leaves them out and
// measures what each Worker's code costs: the records, the checks, the trace, the forward's
// headers and time limit — everything but the sockets. A complement to compare.mjs (whose
// figures are issue 14's), not a replacement.
//
//   node bench/inproc.mjs                              # every case of bench/cases.mjs (~10 min idle)
//   ONLY=oauth,oauth-notrace ITER=4000 ROUNDS=8 node bench/inproc.mjs
//
// Environment: ROUNDS=6, ITER=3000 (requests per loop), ONLY=<case ids> (bench/cases.mjs),
// APIS=15, TOKENS=1000, BODY_BYTES=1024, RUST_BUNDLE=<dir> (default target/dry-run),
// BASE_BUNDLE=<dir> (a second Rust bundle beside it), DEBUG_THREADS=1 (each loop's CPU per
// request by thread: workerd's main thread, which runs the isolate, and V8's helper threads),
// FLOOR=1 (the glue-bound passes also run bench/workers/floor.js: the runtime calls of the pass
// and nothing else, with the Rust Worker's own forward and trace line; floor/twin is the least
// ratio any Worker doing this work could reach here).
//
// Method: every Worker of a case in its own workerd process (Miniflare), the same policy, records
// and requests as compare.mjs; its entry module wrapped by a loop module (below) that, on
// `POST /__inproc`, swaps `globalThis.fetch` for the stub, calls the Worker's own `fetch(request,
// env, ctx)` ITER times in sequence (a new `Request` each time, read from the case's pool in
// turn; a case of distinct inputs gets ITER new ones per loop, made per Worker), awaits each
// answer and reads its body, checks every status, and puts `fetch` back.
// KV is the real local KV (read once, then the Workers' caches). The trace lines go to the
// console as usual. CPU = utime+stime of that workerd process around the loop request ÷ ITER,
// minus nothing: the bare pass-through under the same loop (its `fetch` stubbed too) shows
// what the loop itself costs. Rounds alternate the Workers, the order reversed every other round;
// medians. One warm-up loop per Worker first.

import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { CASES, FLOOR_CASES, REQ_PATH, material, policy, prepare } from "./cases.mjs";
import * as L from "./lib.mjs";

const ROUNDS = L.num("ROUNDS", 6);
const ITER = L.num("ITER", 3000);
const APIS = L.num("APIS", 15);
const ONLY = L.list("ONLY", null);
/** POST on a new connection each time: a kept-alive one that workerd closed while it sat idle
 * through the other Workers' loops fails the write (EPIPE), and a POST is not retried. */
function post(url, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", agent: false, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

function threads(pid) {
  const out = {};
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      out[t] = { comm: fs.readFileSync(`/proc/${pid}/task/${t}/comm`, "utf8").trim() + (t === String(pid) ? "(main)" : ""), ns: Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]) };
    } catch {}
  }
  return out;
}
const URL_BASE = "http://inproc.example";

/** The loop module: wraps a Worker's entry (`./<entry>`), exports what it exports. */
function loopModule(entry) {
  return `import worker from "./${entry}";
export * from "./${entry}";
let calls = {};
let sample = null;
const stub = (input, init) => {
  const url = typeof input === "string" ? input : input.url;
  const host = new URL(url).host;
  calls[host] = (calls[host] ?? 0) + 1;
  if (sample === null && host === "origin.invalid") {
    sample = { url, method: init?.method ?? input.method, headers: [...new Headers(init?.headers ?? input.headers)] };
  }
  return Promise.resolve(new Response("origin says ok", { status: 200, headers: { "content-type": "text/plain" } }));
};
export default {
  async fetch(req, env, ctx) {
    if (new URL(req.url).pathname !== "/__inproc") return worker.fetch(req, env, ctx);
    const { iter, requests, expect } = await req.json();
    const real = globalThis.fetch;
    globalThis.fetch = stub;
    calls = {};
    sample = null;
    let wrong = 0;
    let last = "";
    try {
      for (let i = 0; i < iter; i++) {
        const r = requests[i % requests.length];
        const init = { method: r.method, headers: r.headers };
        if (r.method !== "GET" && r.method !== "HEAD") init.body = r.body;
        const res = await worker.fetch(new Request(r.url, init), env, ctx);
        const text = await res.text();
        if (res.status !== expect) { wrong++; last = res.status + " " + text.slice(0, 200); }
      }
    } finally {
      globalThis.fetch = real;
    }
    return Response.json({ wrong, last, calls, sample });
  },
};
`;
}

const cases = CASES.filter((c) => !ONLY || ONLY.includes(c.id));
if (ONLY) for (const id of ONLY) if (!CASES.some((c) => c.id === id)) throw new Error(`ONLY: no case ${id}`);

try {
  const rust = await L.rustBundle();
  const base = process.env.BASE_BUNDLE ? await L.rustBundle(process.env.BASE_BUNDLE) : null;
  const tmp = L.tempDir("bench-inproc-");
  const twinScript = await L.bundle(path.join(L.HERE, "workers/twin.js"), tmp);
  fs.copyFileSync(path.join(L.HERE, "workers/passthrough.js"), path.join(tmp, "passthrough.js"));
  fs.writeFileSync(path.join(tmp, "loop-twin.mjs"), loopModule(path.basename(twinScript)));
  fs.writeFileSync(path.join(tmp, "loop-bare.mjs"), loopModule("passthrough.js"));
  for (const b of [rust, base].filter(Boolean)) fs.writeFileSync(path.join(b.root, "loop.mjs"), loopModule("index.js"));
  console.log(`Rust bundle: ${path.relative(L.REPO, rust.from) || rust.from} (wasm ${L.f0(fs.statSync(rust.wasm).size)} B)${base ? `; base: ${base.from}` : ""}`);

  const m = material({ manyTokens: L.num("TOKENS", 1000), bodyBytes: L.num("BODY_BYTES", 1024), apis: APIS });
  const impls = base ? ["rust", "base", "twin", "bare"] : ["rust", "twin", "bare"];
  const FLOOR = process.env.FLOOR === "1";
  if (FLOOR) fs.writeFileSync(path.join(tmp, "loop-floor.mjs"), loopModule(path.basename(await L.bundle(path.join(L.HERE, "workers/floor.js"), tmp))));
  for (const c of cases) {
    prepare(c, m);
    const pool = c.request ? [c.request(m)] : c.pool ? Array.from({ length: Math.min(ITER, c.poolSize(m) === "SIG_POOL" ? ITER : c.poolSize(m)) }, (_, i) => c.pool(m, i)) : null;
    const make = (r) => ({ method: r.method, url: URL_BASE + REQ_PATH, headers: r.headers, body: r.body });
    // Distinct inputs made per Worker (a verdict cache must not see one twice): ROUNDS+1 loops.
    c.requests = pool ? () => pool.map(make) : (w) => Array.from({ length: ITER }, () => make(c.fresh(m, w.next++, URL_BASE + REQ_PATH)));
    const bindings = { POLICY: policy(c, "http://origin.invalid", APIS) };
    if (c.logging) bindings.LOGGING = { endpoint: "http://sink.invalid/sink", format: "ndjson" };
    const kv = c.kv ? c.kv(m) : m.kv;
    c.workers = {
      rust: { id: `${c.id}/rust`, script: path.join(rust.root, "loop.mjs"), root: rust.root, bindings, kv },
      twin: { id: `${c.id}/twin`, script: path.join(tmp, "loop-twin.mjs"), root: tmp, bindings, kv },
      bare: { id: `${c.id}/bare`, script: path.join(tmp, "loop-bare.mjs"), root: tmp, bindings: { ORIGIN: "http://origin.invalid/orders-backend" }, kv: {} },
    };
    if (base) c.workers.base = { id: `${c.id}/base`, script: path.join(base.root, "loop.mjs"), root: base.root, bindings, kv };
    c.impls = [...impls];
    // The floor for the passes whose work is the glue's (one request, every answer 200).
    if (FLOOR && FLOOR_CASES.includes(c.id)) {
      c.impls.push("floor");
      c.workers.rust.keepLines = [];
    }
    for (const impl of impls) {
      const w = c.workers[impl];
      w.next = 0;
      w.cpu = [];
      Object.assign(w, await L.startWorker(w));
    }
  }

  async function loop(c, impl) {
    const w = c.workers[impl];
    const requests = c.requests(w);
    const expect = impl === "bare" ? 200 : c.expect;
    const body = JSON.stringify({ iter: ITER, requests, expect });
    const before = L.cpuNs(w.pid);
    const t0 = threads(w.pid);
    const res = await post(`${w.base}/__inproc`, body);
    let out;
    try {
      out = JSON.parse(res.text);
    } catch {
      throw new Error(`${w.id}: HTTP ${res.status}, not the loop's report: ${res.text.slice(0, 200)}`);
    }
    const us = (L.cpuNs(w.pid) - before) / 1000 / ITER;
    const t1 = threads(w.pid);
    w.calls = out.calls;
    w.sample = out.sample;
    if (process.env.DEBUG_THREADS) console.log(w.id, Object.entries(t1).map(([tid, t]) => [t.comm, ((t.ns - (t0[tid]?.ns ?? 0)) / 1000 / ITER).toFixed(1)]).filter(([, v]) => v > 0.5).map((x) => x.join("=")).join(" "));
    if (res.status !== 200 || out.wrong) throw new Error(`${w.id}: ${out.wrong} of ${ITER} answers were not ${expect} (last: ${out.last})`);
    return us;
  }

  for (const c of cases) for (const impl of impls) await loop(c, impl); // warm-up
  // The floors, from what the Rust Worker did in its warm-up: its forward and its trace line.
  for (const c of cases.filter((c) => c.impls.includes("floor"))) {
    const rust = c.workers.rust;
    const floor = L.floorBinding({ client: c.requests(rust)[0].headers, forwarded: rust.sample.headers, line: (c.sample ?? 1) > 0 ? L.traceLine(rust.keepLines) : null, url: rust.sample.url, sample: c.sample ?? 1 });
    const w = (c.workers.floor = { id: `${c.id}/floor`, script: path.join(tmp, "loop-floor.mjs"), root: tmp, bindings: { FLOOR: floor }, kv: {}, next: 0, cpu: [] });
    Object.assign(w, await L.startWorker(w));
    await loop(c, "floor");
    // The same forward as the Rust Worker's (the traceparent's value aside: the floor's is fixed).
    const norm = (x) => JSON.stringify({ ...x, headers: x.headers.map(([n, v]) => [n, n === "traceparent" ? "(set)" : v]).sort() });
    if (norm(w.sample) !== norm(rust.sample)) {
      console.error(`! ${c.id}: the floor does not forward what the Rust Worker forwards:\n  Rust  ${norm(rust.sample)}\n  floor ${norm(w.sample)}`);
      process.exitCode = 1;
    }
    console.log(`${c.id}/floor: reads ${floor.reads.length} headers, deletes ${floor.remove.length} (+ the Proxy-* ones), sets ${floor.set.length}, ${floor.line === null ? "no trace line" : `a ${floor.line.length}-byte trace line`}`);
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of cases) {
      const order = r % 2 ? [...c.impls].reverse() : c.impls;
      for (const impl of order) c.workers[impl].cpu.push(await loop(c, impl));
    }
    console.log(`round ${r + 1}/${ROUNDS} done`);
  }

  const anyFloor = cases.some((c) => c.impls.includes("floor"));
  const rows = [["case", "Rust µs/req", "twin", "bare (the loop alone)", "Rust/twin [paired]", "(Rust − bare) / (twin − bare)", ...(base ? ["Rust/base [paired]"] : []), ...(anyFloor ? ["floor", "floor/twin [paired]", "Rust/floor [paired]"] : [])]];
  for (const c of cases) {
    const med = (impl) => L.median(c.workers[impl].cpu);
    const paired = (a, b) => L.median(c.workers[a].cpu.map((x, i) => x / c.workers[b].cpu[i]));
    const [R, T, B] = [med("rust"), med("twin"), med("bare")];
    rows.push([
      c.label ?? c.id,
      `${L.f0(R)} (${L.f0(L.min(c.workers.rust.cpu))}–${L.f0(L.max(c.workers.rust.cpu))})`,
      `${L.f0(T)} (${L.f0(L.min(c.workers.twin.cpu))}–${L.f0(L.max(c.workers.twin.cpu))})`,
      L.f0(B),
      `${L.f2(R / T)} [${L.f2(paired("rust", "twin"))}]`,
      L.f2((R - B) / (T - B)),
      ...(base ? [`${L.f2(R / med("base"))} [${L.f2(paired("rust", "base"))}]`] : []),
      ...(!anyFloor ? [] : c.impls.includes("floor") ? [L.f0(med("floor")), `${L.f2(med("floor") / T)} [${L.f2(paired("floor", "twin"))}]`, `${L.f2(R / med("floor"))} [${L.f2(paired("rust", "floor"))}]`] : ["", "", ""]),
    ]);
  }
  for (const c of cases) {
    const per = (impl) => JSON.stringify(Object.fromEntries(Object.entries(c.workers[impl].calls ?? {}).map(([h, n]) => [h, +(n / ITER).toFixed(3)])));
    if (c.impls.includes("floor") && per("floor") !== per("rust")) {
      console.error(`! ${c.id}: the floor fetches differently from the Rust Worker: ${per("floor")} vs ${per("rust")}`);
      process.exitCode = 1;
    }
    if (per("rust") !== per("twin")) {
      console.error(`! ${c.id}: the Workers' fetches per request differ (not the same work): Rust ${per("rust")}, twin ${per("twin")}`);
      process.exitCode = 1;
    }
  }
  console.log(`\nITER=${ITER} requests per loop, ${ROUNDS} rounds; CPU of each Worker's workerd process per request, medians (min–max)`);
  console.log(L.table(rows));
  console.log(`Machine: load average ${L.machineLoad().load1} at the end.`);
} finally {
  await L.cleanup();
}
