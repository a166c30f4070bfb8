// Benchmark: the Rust Worker against a bare JavaScript pass-through and a
// JavaScript twin of the same OAuth check, all in one run.
//
//   node bench/run.mjs
//
// Environment (all optional):
//   ROUNDS=6 SECONDS=4 CONNECTIONS=10 THREADS=2 WARMUP=2
//   RUST_BUILD=<dir>        worker-build output (default: <repo>/build)
//   BENCH_EXTRA=a.js[,b.js] more Workers to compare (same bindings: ORIGIN, POLICY, RECORDS)
//   ONLY=js-pass,rust       keep only these workers (ids: js-pass js-oauth rust rust-ship x-<name>)
//   SHIP=0                  leave out rust-ship (the Rust Worker tracing everything and shipping it)
//   DENIAL=0                skip the denial workload (unknown token, expect 401s)
//   COMPAT_DATE=YYYY-MM-DD  default: wrangler.toml's compatibility_date, else 2025-06-01
//   BENCH_JSON=<file>       also write every run's raw figures there
//
// See TOOLCHAIN.md "Benchmarks": origin in its own process, each Worker in its own
// workerd process, wrk via async execFile, workers alternated every round, medians
// with their spread, and CPU time per request of each Worker's own workerd process.

process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

import { spawn, execFile } from "node:child_process";
import { promisify } from "node:util";
import { createHash } from "node:crypto";
import { createInterface } from "node:readline";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const { Miniflare } = await import("miniflare");
const execFileP = promisify(execFile);

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..");

const int = (name, dflt) => {
  const v = process.env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`);
  return n;
};
const ROUNDS = int("ROUNDS", 6);
const SECONDS = int("SECONDS", 4);
const CONNECTIONS = int("CONNECTIONS", 10);
const THREADS = Math.min(int("THREADS", 2), CONNECTIONS);
const WARMUP = int("WARMUP", 2);
const DENIAL = process.env.DENIAL !== "0";
const RUST_BUILD = path.resolve(process.env.RUST_BUILD || path.join(REPO, "build"));

const CLIENT_ID = "bench-app";
const TOKEN = "bench-token-0001";
const UNKNOWN_TOKEN = "bench-token-unknown-9999";
const REQ_PATH = "/orders/x";
const DENIAL_BODY =
  "Access Token in the request, identified by HEADER access_token, is invalid. Check docs.sensedia.com";

const sha256hex = (s) => createHash("sha256").update(s).digest("hex");
const RECORDS = {
  [`app:${CLIENT_ID}`]: { name: "Bench", status: "APPROVED", revoked: false, access: [{ api: "orders" }] },
  [`token:${sha256hex(TOKEN)}`]: { client_id: CLIENT_ID, revoked: false },
};

function compatibilityDate() {
  if (process.env.COMPAT_DATE) return process.env.COMPAT_DATE;
  try {
    const toml = fs.readFileSync(path.join(REPO, "wrangler.toml"), "utf8");
    const m = toml.match(/^\s*compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m);
    if (m) return m[1];
  } catch {}
  return "2025-06-01";
}
const COMPAT_DATE = compatibilityDate();
// compatibility_flags from wrangler.toml, if any (applied to every Worker alike).
const COMPAT_FLAGS = (() => {
  try {
    const toml = fs.readFileSync(path.join(REPO, "wrangler.toml"), "utf8");
    const m = toml.match(/^\s*compatibility_flags\s*=\s*\[([^\]]*)\]/m);
    if (m) return [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]);
  } catch {}
  return [];
})();

// ---------------------------------------------------------------- /proc helpers

function statFields(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after "pid (comm) ": comm may hold spaces, so split after the last ')'.
  const close = s.lastIndexOf(")");
  return { comm: s.slice(s.indexOf("(") + 1, close), rest: s.slice(close + 2).split(" ") };
}

function childPids(ppid = process.pid) {
  const out = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const { comm, rest } = statFields(d);
      if (Number(rest[1]) === ppid) out.push({ pid: Number(d), comm });
    } catch {} // process went away
  }
  return out;
}

// utime + stime in clock ticks (all threads of the process).
function cpuTicks(pid) {
  const { rest } = statFields(pid);
  return Number(rest[11]) + Number(rest[12]);
}

// Inodes of sockets listening on 127.0.0.1:<port> (from /proc/net/tcp).
function listeningInodes(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text;
    try { text = fs.readFileSync(file, "utf8"); } catch { continue; }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      if (f[1].endsWith(":" + hexPort) && f[3] === "0A") inodes.add(f[9]);
    }
  }
  return inodes;
}

function ownsSocket(pid, inodes) {
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = fs.readlinkSync(`/proc/${pid}/fd/${fd}`).match(/^socket:\[(\d+)\]$/);
        if (m && inodes.has(m[1])) return true;
      } catch {}
    }
  } catch {}
  return false;
}

// ---------------------------------------------------------------- stats

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const min = (xs) => Math.min(...xs);
const max = (xs) => Math.max(...xs);

// ---------------------------------------------------------------- wrk

function parseDuration(s) {
  const m = s.match(/^([\d.]+)(us|ms|s|m|h)$/);
  if (!m) return NaN;
  return Number(m[1]) * { us: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 }[m[2]];
}

function parseWrk(out) {
  const req = out.match(/(\d+) requests in ([\d.]+)(us|ms|s|m)/);
  const rps = out.match(/Requests\/sec:\s+([\d.]+)/);
  if (!req || !rps) throw new Error("cannot parse wrk output:\n" + out);
  const non2xx = out.match(/Non-2xx or 3xx responses:\s+(\d+)/);
  const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const lat = out.match(/Latency\s+(\S+)\s+(\S+)\s+(\S+)/);
  return {
    requests: Number(req[1]),
    rps: Number(rps[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    latencyAvgMs: lat ? parseDuration(lat[1]) : NaN,
  };
}

async function wrk(url, token, seconds) {
  const args = [
    `-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`,
    "-H", `client_id: ${CLIENT_ID}`, "-H", `access_token: ${token}`,
    url,
  ];
  const { stdout } = await execFileP("wrk", args, { maxBuffer: 1 << 20, timeout: (seconds + 30) * 1000 });
  return parseWrk(stdout);
}

// ---------------------------------------------------------------- processes

const cleanups = [];
async function cleanup() {
  while (cleanups.length) {
    try { await cleanups.pop()(); } catch {}
  }
}
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, async () => {
    console.error(`\n${sig}: stopping`);
    await cleanup();
    process.exit(130);
  });
}

async function startOrigin() {
  const child = spawn(process.execPath, [path.join(HERE, "origin.mjs")], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  cleanups.push(async () => { child.kill("SIGTERM"); });
  const line = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`origin exited (${code})`)));
    setTimeout(() => reject(new Error("origin did not start in 10 s")), 10_000).unref();
  });
  const { port } = JSON.parse(line);
  return { url: `http://127.0.0.1:${port}`, pid: child.pid };
}

function findRustEntry(dir) {
  for (const rel of ["index.js", "worker/shim.mjs", "shim.mjs", "index.mjs"]) {
    const p = path.join(dir, rel);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

async function startWorker(w, originUrl) {
  w.stdoutLines = 0;
  const policy = {
    trace: { sample_passing: w.samplePassing ?? 0 },
    apis: [{ name: "orders", base_path: "/orders", origin: originUrl, interceptors: [{ type: "oauth" }] }],
  };
  const before = new Set(childPids().map((c) => c.pid));
  const mf = new Miniflare({
    name: w.id,
    modules: true,
    modulesRoot: w.root,
    scriptPath: w.script,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: COMPAT_DATE,
    compatibilityFlags: COMPAT_FLAGS,
    kvNamespaces: ["RECORDS"],
    bindings: { ORIGIN: originUrl, POLICY: policy, ...(w.bindings ? w.bindings(originUrl) : {}) },
    cf: false,
    host: "127.0.0.1",
    port: 0,
    // workerd's console output reaches us through pipes: count stdout lines (a Worker's own
    // console.log, e.g. trace lines) instead of printing them, and show stderr (capped).
    handleRuntimeStdio(stdout, stderr) {
      stdout.on("data", (chunk) => {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) w.stdoutLines++;
      });
      let shown = 0;
      createInterface({ input: stderr }).on("line", (line) => {
        if (shown++ < 20) console.error(`[${w.id} stderr] ${line}`);
        else if (shown === 21) console.error(`[${w.id} stderr] ... (more left out)`);
      });
    },
  });
  cleanups.push(() => mf.dispose());
  const url = await mf.ready;
  const fresh = childPids().filter((c) => !before.has(c.pid) && c.comm === "workerd");
  if (fresh.length !== 1) {
    throw new Error(`${w.id}: expected one new workerd child, found ${JSON.stringify(fresh)}`);
  }
  const pid = fresh[0].pid;
  // Cross-check: that workerd process owns the socket listening on the Worker's port.
  if (!ownsSocket(pid, listeningInodes(Number(url.port)))) {
    throw new Error(`${w.id}: workerd pid ${pid} does not own the socket on port ${url.port}`);
  }
  const kv = await mf.getKVNamespace("RECORDS");
  for (const [k, v] of Object.entries(RECORDS)) await kv.put(k, JSON.stringify(v));
  return { mf, pid, url: new URL(REQ_PATH, url).href };
}

async function probe(url, token) {
  const res = await fetch(url, { headers: { client_id: CLIENT_ID, access_token: token } });
  return { status: res.status, body: await res.text() };
}

// ---------------------------------------------------------------- main

const CLK_TCK = Number((await execFileP("getconf", ["CLK_TCK"])).stdout.trim()) || 100;

const workers = [
  { id: "js-pass", label: "JS pass-through", script: path.join(HERE, "workers/passthrough.js"), oauth: false },
  { id: "js-oauth", label: "JS OAuth twin", script: path.join(HERE, "workers/oauth-js.js"), oauth: true },
  { id: "js-oauth-same", label: "JS twin, same forwarding", script: path.join(HERE, "workers/oauth-js-same-work.js"), oauth: true },
];
const rustEntry = findRustEntry(RUST_BUILD);
if (rustEntry) {
  workers.push({ id: "rust", label: "Rust Worker", script: rustEntry, root: RUST_BUILD, oauth: true });
  // The same Worker tracing every request and shipping the entries (NDJSON, batched) to a
  // sink; the origin process doubles as the sink, so its CPU is not counted in the Worker's.
  if (process.env.SHIP !== "0") {
    workers.push({
      id: "rust-ship",
      label: "Rust + trace shipping",
      script: rustEntry,
      root: RUST_BUILD,
      oauth: true,
      samplePassing: 1,
      bindings: (originUrl) => ({ LOGGING: { endpoint: `${originUrl}/sink`, format: "ndjson" } }),
    });
  }
} else {
  console.warn(`! no Rust build in ${RUST_BUILD} (index.js or worker/shim.mjs): benchmarking the JS workers only`);
}
for (const p of (process.env.BENCH_EXTRA || "").split(",").filter(Boolean)) {
  const script = path.resolve(p);
  if (!fs.existsSync(script)) throw new Error(`BENCH_EXTRA: ${script} does not exist`);
  const id = "x-" + path.basename(script).replace(/\.[^.]+$/, "");
  workers.push({ id, label: path.basename(script), script, oauth: "auto" });
}
for (const w of workers) w.root ??= path.dirname(w.script);
// ONLY=js-pass,rust keeps just those workers (ids: js-pass, js-oauth, rust, x-<basename>).
if (process.env.ONLY) {
  const keep = new Set(process.env.ONLY.split(","));
  workers.splice(0, workers.length, ...workers.filter((w) => keep.has(w.id)));
}

let exitCode = 0;
try {
  const origin = await startOrigin();
  console.log(`origin ${origin.url} (pid ${origin.pid}); compatibility date ${COMPAT_DATE}${COMPAT_FLAGS.length ? " flags " + COMPAT_FLAGS.join(",") : ""}; CLK_TCK ${CLK_TCK}`);

  for (const w of workers) {
    Object.assign(w, await startWorker(w, origin.url));
    console.log(`${w.label.padEnd(16)} ${w.url}  workerd pid ${w.pid}  (${path.relative(REPO, w.script)})`);
  }

  // Sanity: a valid token must pass with the origin's "ok"; an unknown one must get the 401.
  const jobs = [];
  for (const w of workers) {
    const ok = await probe(w.url, TOKEN);
    if (ok.status !== 200 || ok.body !== "ok") {
      console.error(`! ${w.label}: valid token got ${ok.status} ${JSON.stringify(ok.body.slice(0, 200))}; left out`);
      exitCode = 1;
      continue;
    }
    jobs.push({ w, workload: "pass", token: TOKEN, runs: [] });
    if (w.oauth) {
      const bad = await probe(w.url, UNKNOWN_TOKEN);
      if (w.oauth === "auto" && bad.status < 400) {
        console.log(`  ${w.label}: lets an unknown token through; no denial workload for it`);
      } else if (bad.status !== 401 || bad.body !== DENIAL_BODY) {
        console.error(`! ${w.label}: unknown token got ${bad.status} ${JSON.stringify(bad.body.slice(0, 200))}`);
        exitCode = 1;
      } else if (DENIAL) {
        jobs.push({ w, workload: "deny", token: UNKNOWN_TOKEN, runs: [] });
      }
    }
  }
  // Denial runs go last in the job list so that the pass runs are the ones interleaved most tightly.
  jobs.sort((a, b) => (a.workload === b.workload ? 0 : a.workload === "pass" ? -1 : 1));

  console.log(`warm-up ${WARMUP}s each; then ${ROUNDS} rounds × ${jobs.length} runs of ${SECONDS}s ` +
    `(wrk -t${THREADS} -c${CONNECTIONS}), order alternating`);
  for (const j of jobs) await wrk(j.w.url, j.token, WARMUP);

  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? jobs : [...jobs].reverse();
    const line = [];
    for (const j of order) {
      const l0 = j.w.stdoutLines;
      const t0 = cpuTicks(j.w.pid), o0 = cpuTicks(origin.pid), n0 = process.cpuUsage();
      const res = await wrk(j.w.url, j.token, SECONDS);
      const t1 = cpuTicks(j.w.pid), o1 = cpuTicks(origin.pid), n1 = process.cpuUsage(n0);
      // Diagnostics (JSON only): the origin's and this process's CPU per request. The latter
      // should be ~0: requests must not pass through Node (Miniflare's loopback).
      res.originCpuUs = ((o1 - o0) / CLK_TCK) * 1e6 / Math.max(res.requests, 1);
      res.benchCpuUs = (n1.user + n1.system) / Math.max(res.requests, 1);
      res.consoleLinesPerReq = (j.w.stdoutLines - l0) / Math.max(res.requests, 1); // read before the pipe drains: approximate
      const cpuUs = ((t1 - t0) / CLK_TCK) * 1e6 / Math.max(res.requests, 1);
      // pass: every response 2xx (wrk counts non-2xx/3xx; the origin never sends 3xx).
      // deny: every response a 4xx from the Worker.
      const valid = res.socketErrors === 0 && res.requests > 0 &&
        (j.workload === "pass" ? res.non2xx === 0 : res.non2xx === res.requests);
      j.runs.push({ round: r, ...res, cpuUs, valid });
      line.push(`${j.w.id}${j.workload === "deny" ? "/deny" : ""} ${Math.round(res.rps)}/s ${Math.round(cpuUs)}µs${valid ? "" : " INVALID"}`);
    }
    console.log(`round ${r + 1}/${ROUNDS}: ${line.join(" | ")}`);
  }

  // Same answers after the load as before it (a Worker that broke mid-run shows here).
  for (const j of jobs) {
    const p = await probe(j.w.url, j.token);
    const good = j.workload === "pass" ? p.status === 200 && p.body === "ok" : p.status === 401 && p.body === DENIAL_BODY;
    if (!good) {
      console.error(`! ${j.w.label} (${j.workload}): after the runs got ${p.status} ${JSON.stringify(p.body.slice(0, 200))}`);
      exitCode = 1;
    }
  }

  // ------------------------------------------------------------ report
  const base = jobs.find((j) => j.w.id === "js-pass" && j.workload === "pass");
  const baseValid = base ? base.runs.filter((x) => x.valid) : [];
  const baseRps = median(baseValid.map((x) => x.rps));
  const baseCpu = median(baseValid.map((x) => x.cpuUs));
  const byRound = (runs) => new Map(runs.map((x) => [x.round, x]));
  const baseByRound = byRound(baseValid);
  const pairedMedian = (runs, key) => {
    const ratios = runs.filter((x) => baseByRound.has(x.round)).map((x) => x[key] / baseByRound.get(x.round)[key]);
    return median(ratios);
  };
  const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toString() : "-");
  const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "-");

  const rows = [[
    "workload", "worker", "valid", "req/s median (min–max)", "req/s ×", "CPU µs/req median (min–max)", "CPU ×",
  ]];
  for (const j of jobs) {
    const v = j.runs.filter((x) => x.valid);
    if (v.length < j.runs.length) exitCode = 1;
    const rps = v.map((x) => x.rps), cpu = v.map((x) => x.cpuUs);
    rows.push([
      j.workload === "pass" ? "pass" : "deny (unknown token)",
      j.w.label,
      `${v.length}/${j.runs.length}`,
      v.length ? `${f0(median(rps))} (${f0(min(rps))}–${f0(max(rps))})` : "-",
      v.length ? `${f2(median(rps) / baseRps)} [${f2(pairedMedian(v, "rps"))}]` : "-",
      v.length ? `${f0(median(cpu))} (${f0(min(cpu))}–${f0(max(cpu))})` : "-",
      v.length ? `${f2(median(cpu) / baseCpu)} [${f2(pairedMedian(v, "cpuUs"))}]` : "-",
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const fmt = (r) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log("");
  console.log(fmt(rows[0]));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const r of rows.slice(1)) console.log(fmt(r));
  console.log("");
  console.log("× = ratio of medians to the JS pass-through (pass workload); [paired] = median of per-round ratios.");
  console.log("CPU = utime+stime of the Worker's own workerd process during the run ÷ requests wrk counted.");
  const allRuns = jobs.flatMap((j) => j.runs);
  console.log(`Other processes per request (median over all runs): origin ${f0(median(allRuns.map((x) => x.originCpuUs)))} µs, ` +
    `benchmark process ${f0(median(allRuns.map((x) => x.benchCpuUs)))} µs.`);
  const logging = jobs.filter((j) => median(j.runs.map((x) => x.consoleLinesPerReq)) > 0.01)
    .map((j) => `${j.w.id}/${j.workload} ${median(j.runs.map((x) => x.consoleLinesPerReq)).toFixed(2)}`);
  if (logging.length) console.log(`Console lines written per request (CPU above includes them): ${logging.join(", ")}.`);
  console.log("A run is invalid (left out) on any socket error, or any non-2xx (pass) / any 2xx-3xx (deny) response.");

  if (process.env.BENCH_JSON) {
    fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify({
      date: new Date().toISOString(), rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS,
      threads: THREADS, compatibilityDate: COMPAT_DATE, clkTck: CLK_TCK,
      jobs: jobs.map((j) => ({ worker: j.w.id, label: j.w.label, script: j.w.script, workload: j.workload, runs: j.runs })),
    }, null, 2));
    console.log(`raw runs written to ${process.env.BENCH_JSON}`);
  }
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await cleanup();
}
process.exit(exitCode);
