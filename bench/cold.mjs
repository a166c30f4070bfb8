// Cold start: a fresh workerd process per try, for the Rust Worker (the deployable bundle), its
// JavaScript twin and the bare pass-through, alternated: how long until the Worker is ready and
// answers its first request, and the CPU that first request costs (then the second's, warm).
//
//   node bench/cold.mjs                    # 10 tries each (~3 min)
//   TRIES=20 CASE=jwt-repeated node bench/cold.mjs
//
// Environment: TRIES=10, CASE=oauth (a case of bench/cases.mjs: its policy of APIS=15 APIs and
// its request), RUST_BUNDLE / BUILD=1 as bench/compare.mjs. The records are in a persisted local
// KV (written once before the tries), so a fresh process reads them from disk like any cold
// isolate reads KV, and nothing is written through the Worker's process before its first request.
//
// Figures per try, of the Worker's own workerd process: "ready" = from `new Miniflare()` to the
// runtime listening (process start, config, every module compiled — workerd compiles a Worker's
// modules, wasm included, when it loads it); "first answer" = ready + the first request's round
// trip (the isolate's first request: policy compiled, records read, the origin called); CPU of
// the process until ready, and during the first and the second request (ns from
// /proc/<pid>/task/*/schedstat). Medians with min–max.

import fs from "node:fs";
import path from "node:path";
import * as L from "./lib.mjs";
import { CASES, REQ_PATH, material, policy, prepare } from "./cases.mjs";

const TRIES = L.num("TRIES", 10);
const APIS = L.num("APIS", 15);
const CASE = process.env.CASE || "oauth";

let exitCode = 0;
try {
  const kase = CASES.find((c) => c.id === CASE);
  if (!kase || !kase.request) throw new Error(`CASE=${CASE}: one of ${CASES.filter((c) => c.request).map((c) => c.id).join(", ")}`);
  const rust = await L.rustBundle();
  const tmp = L.tempDir("bench-cold-");
  const twinScript = await L.bundle(path.join(L.HERE, "workers/twin.js"), tmp);
  const m = material({ manyTokens: 1, apis: APIS });
  prepare(kase, m);
  const req = kase.request(m);
  const origin = await L.startOrigin();

  // The records, persisted once.
  const kvDir = path.join(tmp, "kv");
  const seed = { id: "seed", script: path.join(L.HERE, "workers/passthrough.js"), kvPersist: kvDir, kv: m.kv, bindings: { ORIGIN: origin.url } };
  const s = await L.startWorker(seed);
  await s.mf.dispose();

  const bindings = { POLICY: policy(kase, origin.url, APIS) };
  const impls = [
    { impl: "rust", label: "Rust Worker", script: rust.script, root: rust.root, bytes: fs.statSync(rust.script).size + fs.statSync(rust.wasm).size },
    { impl: "twin", label: "JavaScript twin", script: twinScript, root: tmp, bytes: fs.statSync(twinScript).size },
    { impl: "bare", label: "bare pass-through", script: path.join(L.HERE, "workers/passthrough.js"), bytes: fs.statSync(path.join(L.HERE, "workers/passthrough.js")).size, bare: true },
  ];
  for (const x of impls) x.tries = [];

  const ask = async (base) => {
    const t = performance.now();
    const r = await fetch(base + REQ_PATH, { method: req.method, headers: req.headers, body: req.method === "GET" ? undefined : req.body });
    const body = await r.text();
    return { ms: performance.now() - t, status: r.status, body };
  };

  console.log(`${TRIES} tries × ${impls.length} Workers, a fresh workerd each; case ${CASE} (${APIS} APIs); order alternating`);
  for (let i = 0; i < TRIES; i++) {
    const order = i % 2 === 0 ? impls : [...impls].reverse();
    for (const x of order) {
      const w = {
        id: `cold-${x.impl}-${i}`,
        script: x.script,
        root: x.root,
        kvPersist: kvDir,
        bindings: x.bare ? { ORIGIN: `${origin.url}/orders-backend` } : bindings,
      };
      const t0 = performance.now();
      Object.assign(w, await L.startWorker(w));
      const ready = performance.now() - t0;
      const c0 = L.cpuNs(w.pid);
      const a = await ask(w.base);
      const c1 = L.cpuNs(w.pid);
      const b = await ask(w.base);
      const c2 = L.cpuNs(w.pid);
      await w.mf.dispose();
      const ok = a.status === 200 && a.body === "ok" && b.status === 200;
      if (!ok) {
        console.error(`! ${x.label}: first answers ${a.status} ${a.body.slice(0, 120)} / ${b.status}`);
        exitCode = 1;
      }
      x.tries.push({ ok, ready, first: ready + a.ms, firstMs: a.ms, secondMs: b.ms, cpuReady: c0 / 1e3, cpuFirst: (c1 - c0) / 1e3, cpuSecond: (c2 - c1) / 1e3 });
    }
    process.stdout.write(`try ${i + 1}/${TRIES} done\n`);
  }

  const med = (x, k) => {
    const v = x.tries.filter((t) => t.ok).map((t) => t[k]);
    return v.length ? `${L.f0(L.median(v))} (${L.f0(L.min(v))}–${L.f0(L.max(v))})` : "-";
  };
  const medMs = (x, k) => {
    const v = x.tries.filter((t) => t.ok).map((t) => t[k]);
    return v.length ? `${L.median(v).toFixed(1)} (${L.min(v).toFixed(1)}–${L.max(v).toFixed(1)})` : "-";
  };
  console.log("");
  console.log(
    L.table([
      ["Worker", "script bytes", "ready, ms", "first answer, ms", "first request alone, ms", "CPU until ready, µs", "CPU of request 1, µs", "CPU of request 2, µs"],
      ...impls.map((x) => [x.label, L.f0(x.bytes), medMs(x, "ready"), medMs(x, "first"), medMs(x, "firstMs"), med(x, "cpuReady"), med(x, "cpuFirst"), med(x, "cpuSecond")]),
    ]),
  );
  console.log("");
  console.log("Medians (min–max) over tries; CPU of the Worker's own workerd process (all threads). 'ready' includes starting the process, which all three pay alike.");
  const load = L.machineLoad();
  console.log(`Machine: ${load.cores} cores, load average ${load.load1.toFixed(2)} at the end.`);
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await L.cleanup();
}
process.exit(exitCode);
