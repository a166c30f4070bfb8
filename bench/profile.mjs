// Where a Worker's time goes: a V8 CPU profile of its isolate under load (workerd's inspector,
// through Miniflare), for the Rust Worker (the deployable bundle) and its JavaScript twin, on a
// case of bench/cases.mjs. Prints, per Worker, the share of the isolate's busy samples by kind
// (the Rust code in wasm, JavaScript by file, the runtime's built-ins and native code, garbage
// collection) and the functions with the most self time, with µs per request.
//
//   node bench/profile.mjs                        # case oauth, 8 s of load each
//   CASE=jwt-distinct SECONDS=10 TOP=30 node bench/profile.mjs
//   IMPL=rust node bench/profile.mjs              # one of them
//   PROFILE_DIR=/tmp/prof node bench/profile.mjs  # also keep the .cpuprofile files (Chrome DevTools)
//
// Environment: CASE=oauth, IMPL=rust,twin, SECONDS=8, WARMUP=2, INTERVAL_US=100 (sampling),
// FRESH=40000 (inputs signed per Worker for the distinct-input cases, jwt-distinct and sig-ed25519),
// TOP=25, APIS=15, CONNECTIONS=10, THREADS=2, RUST_BUNDLE / BUILD=1 as bench/compare.mjs.
//
// The profiler samples the Worker's isolate thread: JavaScript and wasm by function, and time
// the thread spends in the runtime's C++ for it as "(program)"; work on workerd's other threads
// (sockets, the KV store, Miniflare's own entry Worker) is not in it, so the µs per request here
// add up to less than bench/compare.mjs's CPU per request. The profiler slows what it samples:
// compare shares, not absolute figures with other runs. With the inspector attached, every
// console.log is also handed to it: in cases that write a trace line to the console, that line
// shows as a large "(anonymous)" built-in here, larger than it costs without a profiler (compare
// oauth with oauth-notrace in bench/compare.mjs for its real cost).

import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

// The inspector speaks WebSocket: Node 22 has it built in, Node 20 behind a flag.
if (typeof globalThis.WebSocket !== "function") {
  const r = spawnSync(process.execPath, ["--experimental-websocket", fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(r.status ?? 1);
}
const L = await import("./lib.mjs");
const { CASES, line, material, policy, prepare, REQ_PATH } = await import("./cases.mjs");


const CASE = process.env.CASE || "oauth";
const IMPLS = L.list("IMPL", ["rust", "twin"]);
const SECONDS = L.num("SECONDS", 8);
const WARMUP = L.num("WARMUP", 2);
const INTERVAL_US = L.num("INTERVAL_US", 100);
const TOP = L.num("TOP", 25);
const APIS = L.num("APIS", 15);
const CONNECTIONS = L.num("CONNECTIONS", 10);
const THREADS = Math.min(L.num("THREADS", 2), CONNECTIONS);
const FRESH = L.num("FRESH", 40_000);

const freePort = () =>
  new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

/** A minimal Chrome DevTools Protocol client over the runtime's WebSocket. */
async function inspector(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot connect to the inspector at ${url}`));
  });
  let id = 0;
  const pending = new Map();
  ws.onmessage = (event) => {
    const msg = JSON.parse(String(event.data));
    if (msg.id && pending.has(msg.id)) {
      const { resolve, reject } = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) reject(new Error(`${msg.error.message}`));
      else resolve(msg.result);
    }
  };
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const n = ++id;
        pending.set(n, { resolve, reject });
        ws.send(JSON.stringify({ id: n, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Self time per node of a V8 .cpuprofile, in µs. */
function selfTimes(profile) {
  const self = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  return self;
}

function kindOf(cf, files) {
  const fn = cf.functionName;
  if (fn === "(idle)") return "idle";
  if (fn === "(garbage collector)") return "garbage collection";
  if (fn === "(program)") return "runtime, native (C++ on the isolate's thread)";
  if (fn === "(root)") return "idle";
  if (fn === "js-to-wasm" || fn.startsWith("js-to-wasm:") || fn === "wasm-to-js") return "wasm↔JavaScript crossings";
  if (cf.url.startsWith("wasm://") || /\.wasm\b/.test(cf.url)) return "Rust code (wasm)";
  for (const [name, test] of files) if (test(cf.url)) return name;
  if (!cf.url) return "runtime built-ins (fetch, Headers, crypto, …)";
  return `other JavaScript (${cf.url.split("/").pop()})`;
}

let exitCode = 0;
try {
  const kase = CASES.find((c) => c.id === CASE);
  if (!kase) throw new Error(`CASE=${CASE}: one of ${CASES.map((c) => c.id).join(", ")}`);
  const rust = await L.rustBundle();
  // The shipped wasm has no function names: profile the same module with its names (NAMES=0:
  // the bundle's own wasm, functions shown as wasm-function[N]).
  if (process.env.NAMES !== "0") {
    fs.copyFileSync(L.namedWasm(rust.wasm), rust.wasm);
    console.log("Rust wasm: the bundle's, with its function names (target/names/build-opt.wasm)");
  }
  const tmp = L.tempDir("bench-profile-");
  const twinScript = await L.bundle(path.join(L.HERE, "workers/twin.js"), tmp);
  const m = material({ manyTokens: kase.id === "oauth-many" ? 1000 : 1, apis: APIS });
  prepare(kase, m);
  let file = path.join(tmp, "requests");
  if (!kase.fresh) {
    const reqs = kase.request ? [kase.request(m)] : Array.from({ length: 4000 }, (_, i) => kase.pool(m, i));
    fs.writeFileSync(file, reqs.map((r) => line(r)).join("\n") + "\n");
  }
  const lua = path.join(tmp, "requests.lua");
  fs.writeFileSync(lua, L.REQUESTS_LUA);
  const origin = await L.startOrigin();
  const bindings = { POLICY: policy(kase, origin.url, APIS) };
  if (kase.logging) bindings.LOGGING = { endpoint: `${origin.url}/sink`, format: "ndjson" };

  for (const impl of IMPLS) {
    const script = impl === "rust" ? rust.script : twinScript;
    const w = { id: `profile-${impl}`, script, root: impl === "rust" ? rust.root : tmp, bindings, kv: kase.kv ? kase.kv(m) : m.kv, inspectorPort: await freePort() };
    Object.assign(w, await L.startWorker(w));
    // A distinct-input case (new JWTs, RFC 9421 signatures over new bodies): FRESH inputs signed
    // for this Worker (the URL is signed too), more than warm-up and profile use, so none repeats.
    if (kase.fresh) {
      file = path.join(tmp, `requests-${impl}`);
      const lines = Array.from({ length: FRESH }, (_, i) => line(kase.fresh(m, i, w.base + REQ_PATH)));
      fs.writeFileSync(file, lines.join("\n") + "\n");
    }
    const targets = await (await fetch(`http://127.0.0.1:${w.inspectorPort}/json`)).json();
    const target = targets.find((t) => t.id === `core:user:${w.id}`);
    if (!target) throw new Error(`${w.id}: no inspector target (found ${targets.map((t) => t.id).join(", ")})`);
    const warm = await L.wrk({ url: w.base + REQ_PATH, seconds: WARMUP, threads: THREADS, connections: CONNECTIONS, lua, file });
    const start = kase.fresh ? warm.requests + CONNECTIONS * 2 : 0;
    const cdp = await inspector(target.webSocketDebuggerUrl);
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: INTERVAL_US });
    await cdp.send("Profiler.start");
    const c0 = L.cpuTicks(w.pid);
    const res = await L.wrk({ url: w.base + REQ_PATH, seconds: SECONDS, threads: THREADS, connections: CONNECTIONS, lua, file, start });
    if (kase.fresh && start + res.requests > FRESH) console.log(`${impl}: ran out of fresh inputs (${start + res.requests} > FRESH=${FRESH}): raise FRESH`);
    const c1 = L.cpuTicks(w.pid);
    const { profile } = await cdp.send("Profiler.stop");
    cdp.close();
    await w.mf.dispose();
    if (process.env.PROFILE_DIR) {
      fs.mkdirSync(process.env.PROFILE_DIR, { recursive: true });
      fs.writeFileSync(path.join(process.env.PROFILE_DIR, `${CASE}-${impl}.cpuprofile`), JSON.stringify(profile));
    }
    const okRuns = res.socketErrors === 0 && (kase.expect === 200 ? res.non2xx === 0 : res.non2xx === res.requests);
    if (!okRuns) {
      console.error(`! ${impl}: ${res.non2xx} unexpected answers, ${res.socketErrors} socket errors`);
      exitCode = 1;
    }

    const files = [
      [impl === "rust" ? "JavaScript: the bundle's entry, shim and glue (index.js)" : "JavaScript: the twin", (u) => u.endsWith(".js") || u.endsWith(".mjs")],
    ];
    const self = selfTimes(profile);
    const parent = new Map();
    for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node);
    const where = (cf) => `${cf.functionName || "(anonymous)"}${cf.url ? ` ${cf.url.split("/").pop()}:${cf.lineNumber + 1}` : ""}`;
    const byKind = new Map();
    const byFn = new Map();
    let busy = 0;
    for (const node of profile.nodes) {
      const t = self.get(node.id) ?? 0;
      if (!t) continue;
      const kind = kindOf(node.callFrame, files);
      byKind.set(kind, (byKind.get(kind) ?? 0) + t);
      if (kind === "idle") continue;
      busy += t;
      const cf = node.callFrame;
      // A built-in is named with its caller (an anonymous native function says nothing alone).
      const up = !cf.url && parent.get(node.id);
      const key = up ? `${where(cf)} ← ${where(up.callFrame)}` : where(cf);
      const f = byFn.get(key) ?? { kind, t: 0 };
      f.t += t;
      byFn.set(key, f);
    }
    const n = Math.max(res.requests, 1);
    const per = (t) => (t / n).toFixed(1);
    console.log(`\n${impl === "rust" ? "Rust Worker" : "JavaScript twin"} — case ${CASE}: ${L.f0(res.requests)} requests in ${SECONDS} s (${L.f0(res.rps)}/s); workerd process CPU ${L.f0(L.ticksToUs(c1 - c0) / n)} µs/request; isolate busy (sampled) ${per(busy)} µs/request`);
    console.log(
      L.table([
        ["kind", "share of busy samples", "µs/request"],
        ...[...byKind].filter(([k]) => k !== "idle").sort((a, b) => b[1] - a[1]).map(([k, t]) => [k, `${((t / busy) * 100).toFixed(1)} %`, per(t)]),
      ]),
    );
    console.log("");
    console.log(
      L.table([
        ["function (self time)", "kind", "share", "µs/request"],
        ...[...byFn].sort((a, b) => b[1].t - a[1].t).slice(0, TOP).map(([k, f]) => [k.slice(0, 110), f.kind.split(" (")[0].split(":")[0], `${((f.t / busy) * 100).toFixed(1)} %`, per(f.t)]),
      ]),
    );
  }
  console.log(`\nSampling every ${INTERVAL_US} µs; self time per function (a built-in with its caller); "busy" = all samples but idle.`);
  console.log(`The profiler's times are the isolate thread's wall time between samples (on a loaded machine they include time the thread waited for a core): read the shares.`);
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await L.cleanup();
}
process.exit(exitCode);
