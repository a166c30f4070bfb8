// The Rust Worker against its JavaScript twin (bench/workers/twin.js) and a bare JavaScript
// pass-through, case by case, in one run: CPU per request and requests/s of each, the ratio
// Rust/twin, and PASS/FAIL against issue 14's targets (item 2).
//
//   node bench/compare.mjs                      # ~20 min: 12 cases × 3 Workers × 6 rounds × 4 s
//   ROUNDS=1 SECONDS=1 WARMUP=1 node bench/compare.mjs          # a smoke test (~3 min)
//   ONLY=oauth,oauth-deny ROUNDS=8 node bench/compare.mjs
//
// Needs wrk (bash scripts/setup.sh --bench) and the deployable bundle in target/dry-run
// (bash scripts/build.sh && npx wrangler deploy --dry-run --outdir target/dry-run, as
// scripts/test.sh builds it; BUILD=1 does it first). Environment (all optional):
//   ROUNDS=6 SECONDS=4 WARMUP=2 CONNECTIONS=10 THREADS=2
//   RATE=0                   req/s to pace every Worker at (0: as fast as each answers)
//   ONLY=<case ids>          (oauth oauth-notrace oauth-many oauth-deny access-token basic
//                            jwt-repeated jwt-distinct sig-rsa sig-hmac sig-ed25519 ship)
//   APIS=15                  APIs in every policy (the tested one last in routing order)
//   TOKENS=1000              tokens of the many-tokens OAuth case
//   JWT_ALG=ES256            HS256, ES256, EdDSA or RS256
//   BODY_BYTES=1024          request body of the signature cases
//   SIG_POOL=12000           distinct signed bodies of the body-signature cases
//   RUST_BUNDLE=<dir>        default target/dry-run; BUILD=1 builds it first
//   BASE_BUNDLE=<dir>        another Rust bundle (e.g. main's) run beside it in every round:
//                            adds a column Rust/base, to measure a change within one run
//   BENCH_JSON=<file>        every run's raw figures
//   FLOOR=1                  the glue-bound passes also run bench/workers/floor.js (the runtime
//                            calls of the pass and nothing else, from the Rust Worker's own
//                            forward and trace line): floor/twin is the least ratio any Worker
//                            doing this work could reach on this machine
//
// Method (TOOLCHAIN.md "Benchmarks"): the origin in its own process; each Worker in its own
// workerd process (a Rust and a twin one per case, one bare pass-through for all); before
// anything is measured, every Worker of a case is probed — the same answers (status and body)
// for a valid and a refused request, the same trace entries (all fields but ids, times and
// latencies), the same headers reaching the origin — and a case whose twin differs is left out
// (exit 1). Then rounds: every case's three Workers in turn, the whole order reversed every
// other round; wrk -t2 -c10 for SECONDS each; CPU per request = utime+stime of that Worker's own
// workerd process during the run ÷ requests wrk counted. A run with a socket error, an
// unexpected status, or a distinct-input workload that ran out of fresh inputs is left out.

import fs from "node:fs";
import path from "node:path";
import * as L from "./lib.mjs";
import { CASES, FLOOR_CASES, REQ_PATH, line, material, policy, prepare } from "./cases.mjs";

const ROUNDS = L.num("ROUNDS", 6);
const SECONDS = L.num("SECONDS", 4);
const WARMUP = L.num("WARMUP", 2);
const CONNECTIONS = L.num("CONNECTIONS", 10);
const THREADS = Math.min(L.num("THREADS", 2), CONNECTIONS);
const APIS = L.num("APIS", 15);
const TOKENS = L.num("TOKENS", 1000);
const SIG_POOL = L.num("SIG_POOL", 12_000);
const JWT_ALG = process.env.JWT_ALG || "ES256";
const BODY_BYTES = L.num("BODY_BYTES", 1024);
const ONLY = L.list("ONLY", null);
// RATE: a paced load instead of wrk's as-fast-as-answered one, so that every Worker runs at
// (about) the same requests/s: each connection waits CONNECTIONS × 1000 / RATE ms (whole ms)
// before each request (bench/lib.mjs PACED_LUA). 0: unpaced (the default, the issue's method).
const RATE = L.num("RATE", 0);
const DELAY_MS = RATE > 0 ? Math.max(1, Math.round((CONNECTIONS * 1000) / RATE)) : 0;

const TARGET = { glue: 0.85, crypto: 0.95 };
const started = Date.now();
const load0 = L.machineLoad();

let exitCode = 0;
const fail = (msg) => {
  console.error("! " + msg);
  exitCode = 1;
};

function selfTicks() {
  // utime, stime, cutime, cstime of this process: the last two cover reaped children (wrk).
  const s = fs.readFileSync("/proc/self/stat", "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ").map(Number);
  return { self: f[11] + f[12], children: f[13] + f[14] };
}

async function send(base, r, p) {
  const res = await fetch(base + p, { method: r.method, headers: r.headers, body: r.method === "GET" ? undefined : r.body, redirect: "manual" });
  return { status: res.status, body: await res.text() };
}

async function waitFor(pred, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pred();
}

/** The trace entries a Worker wrote (console lines holding JSON arrays), with what varies removed. */
function traces(lines, perWorker = false) {
  const out = [];
  for (const l of lines) {
    const s = l.indexOf("[{");
    if (s === -1) continue;
    let v;
    try {
      v = JSON.parse(l.slice(s));
    } catch {
      continue;
    }
    out.push(
      v.map((e) => {
        const { ts, request_id, trace_id, span_id, origin_latency_ms, ...rest } = e;
        const shape = {
          ts: typeof ts === "number" && Math.abs(ts - Date.now()) < 600_000,
          request_id: request_id === (trace_id ?? "").slice(0, 16) || request_id,
          trace_id: /^[0-9a-f]{32}$/.test(trace_id ?? ""),
          span_id: /^[0-9a-f]{16}$/.test(span_id ?? ""),
          origin_latency_ms: origin_latency_ms === undefined ? "absent" : Number.isInteger(origin_latency_ms),
        };
        if (typeof rest.path === "string") rest.path = rest.path.replace(/-(rust|twin)$/, "-ID");
        // A credential signed per Worker: its fingerprint differs, its form must not.
        if (perWorker && rest.fingerprint !== undefined) rest.fingerprint = /^sha256:[0-9a-f]{16}$/.test(rest.fingerprint);
        return { ...rest, ...shape, keys: Object.keys(e).join(",") };
      }),
    );
  }
  return out;
}

/** What the origin got, with what varies removed. */
function forwarded(seen, perWorker = false) {
  if (!seen) return null;
  // cf-worker names the Worker (Miniflare's `name`, which differs by design).
  const { traceparent, "cf-worker": _, ...headers } = seen.headers;
  if (perWorker && headers.signature) headers.signature = "(signed per Worker)";
  return { method: seen.method, url: seen.url.replace(/__probe\/[^/?]+/, "__probe/ID"), bodyLength: seen.bodyLength, headers, traceparent: /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/.test(traceparent ?? "") };
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

try {
  const cases = CASES.filter((c) => !ONLY || ONLY.includes(c.id));
  if (ONLY) for (const id of ONLY) if (!CASES.some((c) => c.id === id)) throw new Error(`ONLY: no case ${id} (cases: ${CASES.map((c) => c.id).join(" ")})`);
  const rust = await L.rustBundle();
  const base = process.env.BASE_BUNDLE ? await L.rustBundle(process.env.BASE_BUNDLE) : null;
  const IMPLS = base ? ["rust", "base", "twin", "bare"] : ["rust", "twin", "bare"];
  const tmp = L.tempDir("bench-compare-");
  const twinScript = await L.bundle(path.join(L.HERE, "workers/twin.js"), tmp);
  const FLOOR = process.env.FLOOR === "1";
  const floorScript = FLOOR ? await L.bundle(path.join(L.HERE, "workers/floor.js"), tmp) : null;
  const luaFile = path.join(tmp, "requests.lua");
  fs.writeFileSync(luaFile, L.REQUESTS_LUA + (DELAY_MS ? L.PACED_LUA : ""));
  if (DELAY_MS) console.log(`paced: every connection waits ${DELAY_MS} ms before each request (RATE=${RATE}: at most ${L.f0((CONNECTIONS * 1000) / DELAY_MS)} req/s)`);
  console.log(`Rust bundle: ${path.relative(L.REPO, rust.from)} (built ${rust.builtAt.toISOString()}, wasm ${L.f0(fs.statSync(rust.wasm).size)} B)`);
  if (base) console.log(`base (BASE_BUNDLE): ${base.from} (built ${base.builtAt.toISOString()}, wasm ${L.f0(fs.statSync(base.wasm).size)} B)`);
  console.log(`twin: bench/workers/twin.js bundled with esbuild (${L.f0(fs.statSync(twinScript).size)} B)`);

  const t0 = Date.now();
  const m = material({ manyTokens: TOKENS, jwtAlg: JWT_ALG, bodyBytes: BODY_BYTES, apis: APIS });
  for (const c of cases) prepare(c, m);
  const origin = await L.startOrigin();

  // Request files: one line for repeated requests, a pool for distinct ones made once.
  for (const c of cases) {
    if (c.request) {
      c.file = path.join(tmp, `${c.id}.req`);
      fs.writeFileSync(c.file, line(c.request(m)) + "\n");
    } else if (c.pool) {
      const size = c.poolSize(m) === "SIG_POOL" ? SIG_POOL : c.poolSize(m);
      c.file = path.join(tmp, `${c.id}.req`);
      const fd = fs.openSync(c.file, "w");
      for (let i = 0; i < size; i += 1000) {
        const chunk = [];
        for (let j = i; j < Math.min(i + 1000, size); j++) chunk.push(line(c.pool(m, j)));
        fs.writeSync(fd, chunk.join("\n") + "\n");
      }
      fs.closeSync(fd);
      c.poolLines = size;
    }
  }
  console.log(`keys, records and request pools made in ${((Date.now() - t0) / 1000).toFixed(1)} s; origin ${origin.url} (pid ${origin.pid})`);

  // Workers.
  const bare = { id: "bare", label: "JS pass-through", script: path.join(L.HERE, "workers/passthrough.js"), bindings: { ORIGIN: `${origin.url}/orders-backend` } };
  Object.assign(bare, await L.startWorker(bare));
  for (const c of cases) {
    const bindings = { POLICY: policy(c, origin.url, APIS) };
    if (c.logging) bindings.LOGGING = { endpoint: `${origin.url}/sink`, format: "ndjson" };
    const kv = c.kv ? c.kv(m) : m.kv;
    c.workers = {
      rust: { id: `${c.id}/rust`, impl: "rust", script: rust.script, root: rust.root, bindings, kv },
      twin: { id: `${c.id}/twin`, impl: "twin", script: twinScript, root: tmp, bindings, kv },
      bare,
    };
    if (base) c.workers.base = { id: `${c.id}/base`, impl: "base", script: base.script, root: base.root, bindings, kv };
    for (const impl of base ? ["rust", "base", "twin"] : ["rust", "twin"]) Object.assign(c.workers[impl], await L.startWorker(c.workers[impl]));
    for (const w of Object.values(c.workers)) w.next ??= 0;
  }
  console.log(`${cases.length * (base ? 3 : 2) + 1} workerd processes started; probing`);

  // ------------------------------------------------------------ probes: same answers, traces, forwards
  const sinkLines = async () => (await (await fetch(`${origin.url}/__sink`)).json()).lines;
  for (const c of cases) {
    const seen = {};
    // The same requests for both (a signature over @target-uri differs with the Worker's port).
    const shared = c.signsUrl ? null : { good: c.request ? c.request(m) : c.pool ? c.pool(m, 0) : c.fresh(m, 0), bad: c.bad(m) };
    for (const impl of ["rust", "twin"]) {
      const w = c.workers[impl];
      const probePath = `/orders/__probe/${c.id}-${impl}`;
      const good = shared ? shared.good : c.fresh(m, 0, w.base + probePath);
      const bad = shared ? shared.bad : c.bad(m, w.base + probePath.replace("__probe", "__refused"));
      w.keepLines = [];
      const sink0 = await sinkLines();
      const a = await send(w.base, good, probePath);
      const b = await send(w.base, bad, probePath.replace("__probe", "__refused"));
      const wantGood = c.expect === 200 ? [200, "ok"] : [401, c.denial];
      if (a.status !== wantGood[0] || a.body !== wantGood[1]) fail(`${w.id}: valid request → ${a.status} ${JSON.stringify(a.body.slice(0, 200))}`);
      if (b.status !== 401 || b.body !== c.denial) fail(`${w.id}: refused request → ${b.status} ${JSON.stringify(b.body.slice(0, 200))}`);
      // Trace lines: denials now, passes once the origin answered; shipping after flush_ms.
      const want = c.logging ? 0 : (c.sample > 0 || c.expect !== 200 ? 2 : 1);
      await waitFor(() => traces(w.keepLines).length >= want, 3000);
      let shipped = 0;
      if (c.logging) {
        await waitFor(async () => (await sinkLines()) - sink0 >= 4, 4000);
        shipped = (await sinkLines()) - sink0;
      }
      const arrived = await (await fetch(`${origin.url}/__seen/${c.id}-${impl}`)).json();
      seen[impl] = {
        answers: [a.status, a.body, b.status, b.body],
        traces: traces(w.keepLines, c.signsUrl),
        forward: forwarded(arrived, c.signsUrl),
        shipped,
      };
      if (impl === "rust") w.probe = { client: good.headers, arrived, lines: w.keepLines };
      w.keepLines = null;
    }
    const r = seen.rust;
    const t = seen.twin;
    const diffs = [];
    if (!same(r.answers, t.answers)) diffs.push(`answers: Rust ${JSON.stringify(r.answers)} twin ${JSON.stringify(t.answers)}`);
    if (!same(r.traces, t.traces)) diffs.push(`trace entries:\n    Rust ${JSON.stringify(r.traces)}\n    twin ${JSON.stringify(t.traces)}`);
    if (c.expect === 200 && !same(r.forward, t.forward)) diffs.push(`forwarded:\n    Rust ${JSON.stringify(r.forward)}\n    twin ${JSON.stringify(t.forward)}`);
    if (r.shipped !== t.shipped) diffs.push(`shipped lines: Rust ${r.shipped}, twin ${t.shipped}`);
    if (c.logging && r.shipped < 4) diffs.push(`shipped lines: Rust ${r.shipped}, expected 4 (2 traces × 2 entries)`);
    if (diffs.length) {
      fail(`${c.id}: the twin does not do what the Rust Worker does; case left out:\n  ${diffs.join("\n  ")}`);
      c.skip = true;
    } else {
      const n = r.traces.reduce((a, x) => a + x.length, 0);
      console.log(`  ${c.id.padEnd(13)} same answers, ${c.logging ? `${r.shipped} shipped entries` : `${r.traces.length} trace lines (${n} entries)`}, same forward`);
    }
  }
  const live = cases.filter((c) => !c.skip);

  // The floors (FLOOR=1), from what the Rust Worker did with the probe: its forward, its trace line.
  for (const c of live) {
    c.impls = [...IMPLS];
    if (!FLOOR || !FLOOR_CASES.includes(c.id)) continue;
    const p = c.workers.rust.probe;
    const floor = L.floorBinding({
      client: p.client,
      forwarded: Object.entries(p.arrived.headers),
      line: c.sample > 0 ? L.traceLine(p.lines) : null,
      url: `${origin.url}/orders-backend${REQ_PATH.slice("/orders".length)}`,
      sample: c.sample,
    });
    if (c.sample > 0 && floor.line === null) throw new Error(`${c.id}: no trace line of a pass from the Rust Worker's probe`);
    const w = (c.workers.floor = { id: `${c.id}/floor`, impl: "floor", script: floorScript, root: tmp, bindings: { FLOOR: floor }, next: 0 });
    Object.assign(w, await L.startWorker(w));
    const r = await send(w.base, c.request ? c.request(m) : c.pool(m, 0), REQ_PATH);
    if (r.status !== 200) fail(`${w.id}: ${r.status} ${r.body.slice(0, 200)}`);
    c.impls.splice(c.impls.indexOf("twin") + 1, 0, "floor");
    console.log(`  ${c.id.padEnd(13)} floor: reads ${floor.reads.length} headers, deletes ${floor.remove.length} (+ the Proxy-* ones), sets ${floor.set.length}, ${floor.line === null ? "no trace line" : `a ${floor.line.length}-byte trace line`}`);
  }

  // ------------------------------------------------------------ runs
  const rate = new Map(); // worker id → highest req/s seen (sizes fresh inputs)
  async function run(c, w, seconds) {
    let file = c.file;
    let start = 0;
    let available = Infinity;
    if (c.fresh) {
      const n = Math.ceil((rate.get(w.id) ?? 4000) * seconds * 1.5 + 2000);
      file = path.join(tmp, `${c.id}-${w.id.replace("/", "-")}.fresh`);
      const fd = fs.openSync(file, "w");
      for (let i = 0; i < n; i += 1000) {
        const chunk = [];
        for (let j = i; j < Math.min(i + 1000, n); j++) chunk.push(line(c.fresh(m, w.next + j, w.base + REQ_PATH)));
        fs.writeSync(fd, chunk.join("\n") + "\n");
      }
      fs.closeSync(fd);
      w.next += n;
      available = n;
    } else if (c.pool) {
      start = (w.poolNext ??= {})[c.id] ?? 0;
    }
    const s0 = selfTicks();
    const m0 = L.machineTicks();
    const o0 = L.cpuTicks(origin.pid);
    const c0 = L.cpuTicks(w.pid);
    const sink0 = c.logging && w.impl ? await sinkLines() : 0;
    const res = await L.wrk({ url: w.base + REQ_PATH, seconds, threads: THREADS, connections: CONNECTIONS, lua: luaFile, file, start, delayMs: DELAY_MS });
    const c1 = L.cpuTicks(w.pid);
    const o1 = L.cpuTicks(origin.pid);
    const m1 = L.machineTicks();
    const s1 = selfTicks();
    if (c.pool) w.poolNext[c.id] = start + res.requests + CONNECTIONS * 2;
    rate.set(w.id, Math.max(rate.get(w.id) ?? 0, res.rps));
    res.cpuUs = L.ticksToUs(c1 - c0) / Math.max(res.requests, 1);
    const ours = c1 - c0 + (o1 - o0) + (s1.self - s0.self) + (s1.children - s0.children);
    res.machineBusy = (m1.busy - m0.busy) / Math.max(m1.all - m0.all, 1); // share of all cores
    res.foreign = Math.max(0, m1.busy - m0.busy - ours) / Math.max(m1.all - m0.all, 1);
    if (c.logging && w.impl) {
      res.shippedPerReq = ((await sinkLines()) - sink0) / Math.max(res.requests, 1);
    }
    res.exhausted = res.requests + THREADS * 2 > available;
    const expect = w === c.workers.bare ? 200 : c.expect;
    res.valid = res.socketErrors === 0 && res.requests > 0 && !res.exhausted && (expect === 200 ? res.non2xx === 0 : res.non2xx === res.requests);
    return res;
  }

  const jobs = [];
  for (const c of live) for (const impl of c.impls) jobs.push({ c, impl, w: c.workers[impl], runs: [] });
  console.log(`warm-up ${WARMUP} s each; then ${ROUNDS} rounds × ${jobs.length} runs of ${SECONDS} s (wrk -t${THREADS} -c${CONNECTIONS}), order reversed every other round`);
  for (const j of jobs) await run(j.c, j.w, WARMUP);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? jobs : [...jobs].reverse();
    const bad = [];
    for (const j of order) {
      const res = await run(j.c, j.w, SECONDS);
      j.runs.push({ round: r, ...res });
      if (!res.valid) bad.push(`${j.c.id}/${j.impl}: ${res.non2xx}/${res.requests} unexpected, ${res.socketErrors} socket errors${res.exhausted ? ", out of fresh inputs" : ""}`);
    }
    const busy = L.median(order.map((j) => j.runs.at(-1).foreign));
    console.log(`round ${r + 1}/${ROUNDS} done (other work on the machine: ${Math.round(busy * 100)} % of its cores)${bad.length ? "; left out: " + bad.join("; ") : ""}`);
  }

  // ------------------------------------------------------------ report
  const stat = (j) => {
    const v = j.runs.filter((x) => x.valid);
    return { n: v.length, of: j.runs.length, cpu: L.median(v.map((x) => x.cpuUs)), rps: L.median(v.map((x) => x.rps)), cpus: v.map((x) => x.cpuUs), v };
  };
  const paired = (a, b, key) => {
    const byRound = new Map(b.v.map((x) => [x.round, x]));
    return L.median(a.v.filter((x) => byRound.has(x.round)).map((x) => x[key] / byRound.get(x.round)[key]));
  };
  const rows = [["case", "target", "CPU µs/req Rust", "twin", "bare", "Rust/twin CPU [paired]", "verdict", "req/s Rust", "twin", "bare", "valid runs R/T/B"]];
  const verdicts = [];
  const results = [];
  // What each target leaves the Rust Worker above a bare pass-through, in µs of this run: the
  // bare Worker forwards the same request with nothing else (no policy, no trace, no time
  // limit), so no Worker that forwards can cost less than it. A negative allowance is a target
  // under the bare pass-through's own cost.
  const gapRows = [["case", "target", "bare µs", "twin − bare", "target × twin − bare (Rust's allowance)", "Rust − bare", "(Rust − bare) / (twin − bare)"]];
  const floorRows = [["case", "target", "CPU µs/req floor", "twin", "Rust", "floor/twin [paired]", "Rust/floor [paired]", "(twin − floor) µs", "Rust − floor", "valid runs F"]];
  const baseRows = [["case", "CPU µs/req Rust", "base", "Rust/base [paired]", "Rust − base µs", "twin", "base/twin [paired]", "Rust/twin [paired]", "valid runs R/base"]];
  for (const c of live) {
    const [R, T, B] = ["rust", "twin", "bare"].map((impl) => stat(jobs.find((j) => j.c === c && j.impl === impl)));
    const ratio = R.cpu / T.cpu;
    const pr = paired(R, T, "cpuUs");
    const target = TARGET[c.kind];
    const ok = ratio <= target && pr <= target;
    const verdict = Number.isFinite(ratio) ? (ok ? "PASS" : "FAIL") : "NO DATA";
    verdicts.push(verdict);
    const range = (s) => (s.n ? `${L.f0(s.cpu)} (${L.f0(L.min(s.cpus))}–${L.f0(L.max(s.cpus))})` : "-");
    rows.push([c.id, `≤ ${target.toFixed(2)} (${c.kind})`, range(R), range(T), range(B), `${L.f2(ratio)} [${L.f2(pr)}]`, verdict, L.f0(R.rps), L.f0(T.rps), L.f0(B.rps), `${R.n}/${T.n}/${B.n} of ${R.of}`]);
    if (c.expect === 200) {
      const allowance = target * T.cpu - B.cpu;
      gapRows.push([c.id, `≤ ${target.toFixed(2)}`, L.f0(B.cpu), L.f0(T.cpu - B.cpu), `${L.f0(allowance)}${allowance < 0 ? " (below bare)" : ""}`, L.f0(R.cpu - B.cpu), L.f2((R.cpu - B.cpu) / (T.cpu - B.cpu))]);
    }
    const res = { case: c.id, label: c.label, kind: c.kind, target, rustCpu: R.cpu, twinCpu: T.cpu, bareCpu: B.cpu, ratio, paired: pr, verdict, rustRps: R.rps, twinRps: T.rps, bareRps: B.rps };
    if (c.bareTarget) {
      const rb = R.cpu / B.cpu;
      const prb = paired(R, B, "cpuUs");
      const okb = rb <= c.bareTarget && prb <= c.bareTarget;
      const vb = Number.isFinite(rb) ? (okb ? "PASS" : "FAIL") : "NO DATA";
      verdicts.push(vb);
      rows.push([`${c.id} vs bare`, `≤ ${c.bareTarget.toFixed(2)} × bare`, range(R), "", range(B), `Rust/bare ${L.f2(rb)} [${L.f2(prb)}]`, vb, "", "", "", ""]);
      Object.assign(res, { rustOverBare: rb, rustOverBarePaired: prb, bareVerdict: vb });
    }
    if (c.impls.includes("floor")) {
      const F = stat(jobs.find((j) => j.c === c && j.impl === "floor"));
      const fr = F.cpu / T.cpu;
      const pfr = paired(F, T, "cpuUs");
      floorRows.push([c.id, `≤ ${target.toFixed(2)}`, range(F), range(T), range(R), `${L.f2(fr)} [${L.f2(pfr)}]${fr > target && pfr > target ? " (over the target)" : ""}`, `${L.f2(R.cpu / F.cpu)} [${L.f2(paired(R, F, "cpuUs"))}]`, L.f0(T.cpu - F.cpu), L.f0(R.cpu - F.cpu), `${F.n} of ${F.of}`]);
      Object.assign(res, { floorCpu: F.cpu, floorOverTwin: fr, floorOverTwinPaired: pfr });
    }
    if (base) {
      const Bs = stat(jobs.find((j) => j.c === c && j.impl === "base"));
      const rb = R.cpu / Bs.cpu;
      const prb = paired(R, Bs, "cpuUs");
      baseRows.push([c.id, range(R), range(Bs), `${L.f2(rb)} [${L.f2(prb)}]`, L.f0(R.cpu - Bs.cpu), range(T), `${L.f2(Bs.cpu / T.cpu)} [${L.f2(paired(Bs, T, "cpuUs"))}]`, `${L.f2(ratio)} [${L.f2(pr)}]`, `${R.n}/${Bs.n} of ${R.of}`]);
      Object.assign(res, { baseCpu: Bs.cpu, rustOverBase: rb, rustOverBasePaired: prb });
    }
    results.push(res);
  }
  console.log("");
  console.log(L.table(rows));
  if (gapRows.length > 1) {
    console.log("");
    console.log("What each target leaves the Rust Worker above the bare pass-through (µs per request, this run; the denial case is left out: the bare Worker forwards those requests):");
    console.log(L.table(gapRows));
  }
  if (floorRows.length > 1) {
    console.log("");
    console.log("The floor (FLOOR=1): the pass's runtime calls and nothing else — what any Worker doing this work spends here. floor/twin is the least Rust/twin could be:");
    console.log(L.table(floorRows));
  }
  if (base) {
    console.log("");
    console.log(`Rust (RUST_BUNDLE) against base (BASE_BUNDLE), same run:`);
    console.log(L.table(baseRows));
  }
  console.log("");
  for (const c of live) console.log(`- ${c.id}: ${c.label}${c.note ? `; ${c.note}` : ""}.`);
  const load1 = L.machineLoad();
  const foreign = L.median(jobs.flatMap((j) => j.runs.map((x) => x.foreign)));
  const busy = L.median(jobs.flatMap((j) => j.runs.map((x) => x.machineBusy)));
  const ship = jobs.filter((j) => j.c.logging && j.impl !== "bare").map((j) => `${j.impl} ${L.f2(L.median(j.runs.map((x) => x.shippedPerReq)))}`);
  console.log("");
  console.log(`CPU = utime+stime of the Worker's own workerd process during a run ÷ requests wrk counted; medians (min–max) of valid runs.`);
  console.log(`Rust/twin: ratio of medians [median of per-round ratios]; PASS needs both ≤ the target (issue 14, item 2).`);
  console.log(`Policy: ${APIS} APIs, the tested one last in routing order; JWT ${JWT_ALG}; bodies ${BODY_BYTES} B; ${TOKENS} tokens in oauth-many.`);
  if (ship.length) console.log(`Trace entries shipped per request (ship): ${ship.join(", ")}.`);
  console.log(`Machine: ${load0.cores} cores; load average ${load0.load1.toFixed(2)} at the start, ${load1.load1.toFixed(2)} at the end; during runs the machine was ${Math.round(busy * 100)} % busy (median), ${Math.round(foreign * 100)} % of it other work than this benchmark.`);
  const pass = verdicts.filter((v) => v === "PASS").length;
  console.log(`${pass} of ${verdicts.length} targets met; ${((Date.now() - started) / 60000).toFixed(1)} min.`);
  if (verdicts.some((v) => v === "NO DATA")) exitCode = 1;

  if (process.env.BENCH_JSON) {
    fs.writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          rounds: ROUNDS,
          seconds: SECONDS,
          connections: CONNECTIONS,
          threads: THREADS,
          apis: APIS,
          jwtAlg: JWT_ALG,
          load: { start: load0, end: load1, busy, foreign },
          results,
          jobs: jobs.map((j) => ({ case: j.c.id, impl: j.impl, runs: j.runs })),
        },
        null,
        2,
      ),
    );
    console.log(`raw runs written to ${process.env.BENCH_JSON}`);
  }
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await L.cleanup();
}
process.exit(exitCode);
