// Benchmark of the authorization server: the Rust Worker's token endpoint (client credentials,
// Sensedia mode) against a JavaScript Worker doing the same (bench/workers/authz-js.js:
// authenticate, issue, hash, write the record), and the OAuth interceptor validating a token the
// endpoint issued against one imported as the records tool imports it — beside the bare
// JavaScript pass-through, in one run.
//
//   node bench/authz.mjs                   # needs wrk, and worker-build's output in build/
//   ROUNDS=8 SECONDS=4 node bench/authz.mjs
//
// Environment (all optional):
//   ROUNDS=6 SECONDS=4 CONNECTIONS=10 THREADS=2 WARMUP=2
//   ONLY=pass,rust-token,js-token,kv-floor,rust-imported,rust-issued   keep only these jobs
//   RUST_BUILD=<dir>      worker-build output (default: <repo>/build); copied at start
//   BENCH_JSON=<file>     also write every run's raw figures there
//
// Method as bench/run.mjs (TOOLCHAIN.md "Benchmarks"): origin in its own process, each Worker in
// its own workerd process (Miniflare), wrk via async execFile, jobs alternated and their order
// reversed every round, medians with their spread, and CPU time per request of each Worker's own
// workerd process (utime+stime from /proc/<pid>/stat ÷ requests wrk counted). The KV of each
// Worker lives in its own workerd process too, so the cost of each record write is in that
// Worker's figure, for Rust and JavaScript alike.

process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createInterface } from "node:readline";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const { Miniflare } = await import("miniflare");
const execFileP = promisify(execFile);

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..");

const num = (name, dflt) => {
  const v = process.env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`);
  return n;
};
const ROUNDS = num("ROUNDS", 6);
const SECONDS = num("SECONDS", 4);
const CONNECTIONS = num("CONNECTIONS", 10);
const THREADS = Math.min(num("THREADS", 2), CONNECTIONS);
const WARMUP = num("WARMUP", 2);
const ONLY = process.env.ONLY ? new Set(process.env.ONLY.split(",").filter(Boolean)) : null;

const CLIENT_ID = "8f14e45f-ceea-4e7a-9d1e-bench0000001";
const CLIENT_SECRET = "bench-secret-5f0c3b2a9d8e7f6a1b2c3d4e5f6a7b8c";
const IMPORTED = "c81e728d-9d4c-4f63-8f1a-bench0imported";
const REQ_PATH = "/orders/x";
const TOKEN_PATH = "/oauth/access-token";
const TOKEN_BODY = "grant_type=client_credentials";
const BASIC = "Basic " + Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64");

const sha256hex = (s) => createHash("sha256").update(s).digest("hex");
const APP = {
  name: "Bench",
  status: "APPROVED",
  revoked: false,
  access: [{ api: "orders" }],
  client_secret_sha256: sha256hex(CLIENT_SECRET),
};
// The imported token, as `edge-records import sensedia` / `token import` writes it.
const IMPORTED_RECORD = {
  client_id: CLIENT_ID,
  revoked: false,
  grant_type: "client_credentials",
  expires_at: new Date(Date.now() + 24 * 3600_000).toISOString().replace(/\.\d{3}Z$/, "Z"),
  source: "sensedia",
};

function compat() {
  const toml = fs.readFileSync(path.join(REPO, "wrangler.toml"), "utf8");
  const date = toml.match(/^\s*compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m)?.[1] ?? "2025-06-01";
  const flags = [...(toml.match(/^\s*compatibility_flags\s*=\s*\[([^\]]*)\]/m)?.[1] ?? "").matchAll(/"([^"]+)"/g)].map(
    (x) => x[1],
  );
  return { date, flags };
}
const COMPAT = compat();

// The Rust Worker's policy: the OAuth interceptor on /orders and a Sensedia-mode authorization
// server at /oauth (client credentials answered 201, token_type "access_token", UUID tokens,
// 3600 s), trace of passing requests sampled out as in bench/run.mjs.
function rustPolicy(originUrl) {
  return {
    trace: { sample_passing: 0 },
    authorization_servers: [{ name: "sensedia", base_path: "/oauth", mode: "sensedia" }],
    apis: [{ name: "orders", base_path: "/orders", origin: originUrl, interceptors: [{ type: "oauth" }] }],
  };
}
// The Rust Worker's Durable Objects, SQLite-backed as in wrangler.toml (client credentials
// touches neither; they are bound as in a deployment).
const RUST_DURABLE_OBJECTS = {
  NONCES: { className: "NonceStore", useSQLite: true },
  GRANTS: { className: "GrantStore", useSQLite: true },
};

// ---------------------------------------------------------------- /proc helpers

function statFields(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
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
    } catch {}
  }
  return out;
}
const cpuTicks = (pid) => {
  const { rest } = statFields(pid);
  return Number(rest[11]) + Number(rest[12]);
};
function loadavg() {
  return fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

// ---------------------------------------------------------------- stats

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toString() : "-");
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "-");

// ---------------------------------------------------------------- wrk

function parseWrk(out) {
  const req = out.match(/(\d+) requests in ([\d.]+)(us|ms|s|m)/);
  const rps = out.match(/Requests\/sec:\s+([\d.]+)/);
  if (!req || !rps) throw new Error("cannot parse wrk output:\n" + out);
  const non2xx = out.match(/Non-2xx or 3xx responses:\s+(\d+)/);
  const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  return {
    requests: Number(req[1]),
    rps: Number(rps[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "bench-authz-"));
const TOKEN_LUA = path.join(TMP, "token.lua");
fs.writeFileSync(
  TOKEN_LUA,
  [
    'wrk.method = "POST"',
    `wrk.body = ${JSON.stringify(TOKEN_BODY)}`,
    'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"',
    `wrk.headers["Authorization"] = ${JSON.stringify(BASIC)}`,
    "",
  ].join("\n"),
);

async function wrk(job, seconds) {
  // --timeout 10s: wrk's 2 s default counts a token request that waits on a slow local KV write
  // (SQLite, on a loaded machine) as a socket error; every job gets the same limit.
  const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`, "--timeout", "10s"];
  if (job.kind === "token") args.push("-s", TOKEN_LUA);
  else if (job.token) args.push("-H", `client_id: ${CLIENT_ID}`, "-H", `access_token: ${job.token}`);
  args.push(job.url);
  const { stdout } = await execFileP("wrk", args, { maxBuffer: 1 << 20, timeout: (seconds + 30) * 1000 });
  return parseWrk(stdout);
}

// ---------------------------------------------------------------- processes

const cleanups = [];
async function cleanup() {
  while (cleanups.length) {
    try {
      await cleanups.pop()();
    } catch {}
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
  const child = spawn(process.execPath, [path.join(HERE, "origin.mjs")], { stdio: ["pipe", "pipe", "inherit"] });
  cleanups.push(async () => child.kill("SIGTERM"));
  const line = await new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout });
    rl.once("line", resolve);
    child.once("exit", (code) => reject(new Error(`origin exited (${code})`)));
    setTimeout(() => reject(new Error("origin did not start in 10 s")), 10_000).unref();
  });
  return { url: `http://127.0.0.1:${JSON.parse(line).port}`, pid: child.pid };
}

function copyRustBuild() {
  const src = path.resolve(process.env.RUST_BUILD || path.join(REPO, "build"));
  const dst = path.join(TMP, "rust-build");
  fs.cpSync(src, dst, { recursive: true });
  for (const rel of ["index.js", "worker/shim.mjs", "shim.mjs", "index.mjs"]) {
    if (fs.existsSync(path.join(dst, rel))) return { root: dst, script: path.join(dst, rel) };
  }
  throw new Error(`no Rust build in ${src} (index.js or worker/shim.mjs): run bash scripts/build.sh`);
}

async function startWorker(w, originUrl) {
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
    compatibilityDate: COMPAT.date,
    compatibilityFlags: COMPAT.flags,
    kvNamespaces: ["RECORDS"],
    durableObjects: w.durableObjects ?? {},
    bindings: { ORIGIN: originUrl, ...(w.bindings ? w.bindings(originUrl) : {}) },
    cf: false,
    host: "127.0.0.1",
    port: 0,
    handleRuntimeStdio(stdout, stderr) {
      stdout.resume();
      let shown = 0;
      createInterface({ input: stderr }).on("line", (line) => {
        if (shown++ < 20) console.error(`[${w.id} stderr] ${line}`);
      });
    },
  });
  cleanups.push(() => mf.dispose());
  const url = await mf.ready;
  const fresh = childPids().filter((c) => !before.has(c.pid) && c.comm === "workerd");
  if (fresh.length !== 1) throw new Error(`${w.id}: expected one new workerd child, found ${JSON.stringify(fresh)}`);
  const kv = await mf.getKVNamespace("RECORDS");
  await kv.put(`app:${CLIENT_ID}`, JSON.stringify(APP));
  await kv.put(`token:${sha256hex(IMPORTED)}`, JSON.stringify(IMPORTED_RECORD), { metadata: { client_id: CLIENT_ID } });
  return { mf, pid: fresh[0].pid, base: url };
}

async function issue(base) {
  const res = await fetch(new URL(TOKEN_PATH, base), {
    method: "POST",
    headers: { authorization: BASIC, "content-type": "application/x-www-form-urlencoded" },
    body: TOKEN_BODY,
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, text, json };
}

async function validate(base, token) {
  const res = await fetch(new URL(REQ_PATH, base), { headers: { client_id: CLIENT_ID, access_token: token } });
  return { status: res.status, body: await res.text() };
}

// ---------------------------------------------------------------- main

const CLK_TCK = Number((await execFileP("getconf", ["CLK_TCK"])).stdout.trim()) || 100;
let exitCode = 0;
try {
  const rust = copyRustBuild();
  const origin = await startOrigin();
  console.log(`origin ${origin.url} (pid ${origin.pid}); compatibility date ${COMPAT.date}; CLK_TCK ${CLK_TCK}; load average ${loadavg()}`);

  // The floor under any token endpoint here: one KV write per request and a JSON answer, nothing
  // else (no app read, no hashing, no authentication). Miniflare's KV runs in the Worker's own
  // workerd process, so this is mostly the local KV's cost, which a deployment does not bill as
  // the Worker's CPU.
  const floorScript = path.join(TMP, "kv-write-floor.js");
  fs.writeFileSync(
    floorScript,
    `export default { async fetch(request, env) {
  await request.text();
  const token = crypto.randomUUID();
  const now = Math.floor(Date.now() / 1000);
  await env.RECORDS.put("token:" + token, JSON.stringify({ client_id: "x", revoked: false, expires_at: now + 3600 }),
    { metadata: { client_id: "x" }, expiration: now + 3600 + 86400 });
  return new Response(JSON.stringify({ access_token: token, token_type: "access_token", expires_in: 3600 }),
    { status: 201, headers: { "content-type": "application/json" } });
} };
`,
  );
  const workers = [
    { id: "js-pass", label: "JS pass-through", script: path.join(HERE, "workers/passthrough.js") },
    { id: "kv-floor", label: "JS KV write only", script: floorScript },
    { id: "js-token", label: "JS token endpoint twin", script: path.join(HERE, "workers/authz-js.js") },
    {
      id: "rust",
      label: "Rust Worker",
      ...rust,
      durableObjects: RUST_DURABLE_OBJECTS,
      bindings: (originUrl) => ({ POLICY: rustPolicy(originUrl) }),
    },
  ];
  for (const w of workers) {
    w.root ??= path.dirname(w.script);
    Object.assign(w, await startWorker(w, origin.url));
    console.log(`${w.label.padEnd(24)} ${w.base}  workerd pid ${w.pid}  (${path.relative(REPO, w.script)})`);
  }
  const byId = Object.fromEntries(workers.map((w) => [w.id, w]));

  // Probes: each Worker answers as it must before anything is measured.
  const probeIssue = async (w) => {
    const r = await issue(w.base);
    const keys = r.json ? Object.keys(r.json).sort().join(",") : "";
    if (r.status !== 201 || keys !== "access_token,expires_in,token_type" || r.json.token_type !== "access_token" ||
        r.json.expires_in !== 3600 || !/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(r.json.access_token)) {
      throw new Error(`${w.id}: token endpoint answered ${r.status} ${r.text.slice(0, 200)}`);
    }
    return r.json.access_token;
  };
  const issuedByRust = await probeIssue(byId.rust);
  const issuedByJs = await probeIssue(byId["js-token"]);
  for (const [w, t] of [[byId.rust, issuedByRust], [byId.rust, IMPORTED]]) {
    const v = await validate(w.base, t);
    if (v.status !== 200 || v.body !== "ok") throw new Error(`${w.id}: validating a token got ${v.status} ${v.body.slice(0, 200)}`);
  }
  // The JS twin's token is a real record too (its KV is its own, so check it there).
  const jsRecord = await (await byId["js-token"].mf.getKVNamespace("RECORDS")).get(`token:${sha256hex(issuedByJs)}`, "json");
  if (!jsRecord || jsRecord.client_id !== CLIENT_ID) throw new Error("js-token: no record for the token it issued");
  const pass = await validate(byId["js-pass"].base, "x");
  if (pass.status !== 200 || pass.body !== "ok") throw new Error(`js-pass: ${pass.status}`);

  let jobs = [
    { id: "pass", w: byId["js-pass"], kind: "get", url: new URL(REQ_PATH, byId["js-pass"].base).href, label: "JS pass-through (GET /orders/x)" },
    { id: "rust-token", w: byId.rust, kind: "token", url: new URL(TOKEN_PATH, byId.rust.base).href, label: "Rust token endpoint (client credentials)" },
    { id: "js-token", w: byId["js-token"], kind: "token", url: new URL(TOKEN_PATH, byId["js-token"].base).href, label: "JS token endpoint twin" },
    { id: "kv-floor", w: byId["kv-floor"], kind: "token", url: new URL(TOKEN_PATH, byId["kv-floor"].base).href, label: "JS KV write only (floor)" },
    { id: "rust-imported", w: byId.rust, kind: "get", token: IMPORTED, url: new URL(REQ_PATH, byId.rust.base).href, label: "Rust OAuth, imported token" },
    { id: "rust-issued", w: byId.rust, kind: "get", token: issuedByRust, url: new URL(REQ_PATH, byId.rust.base).href, label: "Rust OAuth, endpoint-issued token" },
  ];
  if (ONLY) jobs = jobs.filter((j) => ONLY.has(j.id));
  for (const j of jobs) j.runs = [];

  console.log(`warm-up ${WARMUP}s each; then ${ROUNDS} rounds × ${jobs.length} runs of ${SECONDS}s (wrk -t${THREADS} -c${CONNECTIONS}), order reversed every round`);
  for (const j of jobs) await wrk(j, WARMUP);
  const loads = [loadavg()];
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? jobs : [...jobs].reverse();
    const line = [];
    for (const j of order) {
      const t0 = cpuTicks(j.w.pid);
      const res = await wrk(j, SECONDS);
      const t1 = cpuTicks(j.w.pid);
      const cpuUs = (((t1 - t0) / CLK_TCK) * 1e6) / Math.max(res.requests, 1);
      const valid = res.socketErrors === 0 && res.requests > 0 && res.non2xx === 0;
      j.runs.push({ round: r, ...res, cpuUs, valid });
      line.push(`${j.id} ${Math.round(res.rps)}/s ${Math.round(cpuUs)}µs${valid ? "" : " INVALID"}`);
    }
    loads.push(loadavg());
    console.log(`round ${r + 1}/${ROUNDS}: ${line.join(" | ")}  [load ${loads.at(-1)}]`);
  }

  // After the load: the endpoint still issues tokens that validate; the records were written.
  const after = await probeIssue(byId.rust);
  const v = await validate(byId.rust.base, after);
  if (v.status !== 200) {
    console.error(`! rust: a token issued after the runs got ${v.status} when used`);
    exitCode = 1;
  }
  for (const j of jobs.filter((x) => x.kind === "token" && x.id !== "kv-floor")) {
    const kv = await j.w.mf.getKVNamespace("RECORDS");
    let n = 0;
    let cursor;
    do {
      const page = await kv.list({ prefix: "token:", cursor });
      n += page.keys.length;
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    const issued = j.runs.reduce((a, x) => a + x.requests, 0);
    console.log(`${j.id}: ${n} token records in KV after ${issued} measured token requests (plus warm-up and probes)`);
    if (n < issued) {
      console.error(`! ${j.id}: fewer records than tokens issued`);
      exitCode = 1;
    }
  }

  // ------------------------------------------------------------ report
  const stats = (j) => {
    const v = j.runs.filter((x) => x.valid);
    if (v.length < j.runs.length) exitCode = 1;
    return { v, rps: median(v.map((x) => x.rps)), cpu: median(v.map((x) => x.cpuUs)) };
  };
  const S = Object.fromEntries(jobs.map((j) => [j.id, stats(j)]));
  const base = S.pass;
  const paired = (a, b, key) => {
    const bm = new Map(b.v.map((x) => [x.round, x]));
    return median(a.v.filter((x) => bm.has(x.round)).map((x) => x[key] / bm.get(x.round)[key]));
  };
  const rows = [["job", "valid", "req/s median (min–max)", "CPU µs/req median (min–max)", "CPU × pass-through"]];
  for (const j of jobs) {
    const s = S[j.id];
    const rps = s.v.map((x) => x.rps);
    const cpu = s.v.map((x) => x.cpuUs);
    rows.push([
      j.label,
      `${s.v.length}/${j.runs.length}`,
      s.v.length ? `${f0(s.rps)} (${f0(Math.min(...rps))}–${f0(Math.max(...rps))})` : "-",
      s.v.length ? `${f0(s.cpu)} (${f0(Math.min(...cpu))}–${f0(Math.max(...cpu))})` : "-",
      base && s.v.length ? `${f2(s.cpu / base.cpu)} [${f2(paired(s, base, "cpuUs"))}]` : "-",
    ]);
  }
  const table = (rs) => {
    const widths = rs[0].map((_, i) => Math.max(...rs.map((r) => r[i].length)));
    const fmt = (r) => "| " + r.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
    console.log(fmt(rs[0]));
    console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
    for (const r of rs.slice(1)) console.log(fmt(r));
  };
  console.log("");
  table(rows);
  const cmp = [["comparison", "req/s ratio", "CPU ratio"]];
  const pair = (label, a, b) => {
    if (S[a]?.v.length && S[b]?.v.length) {
      cmp.push([label, `${f2(S[a].rps / S[b].rps)} [${f2(paired(S[a], S[b], "rps"))}]`, `${f2(S[a].cpu / S[b].cpu)} [${f2(paired(S[a], S[b], "cpuUs"))}]`]);
    }
  };
  pair("token endpoint: Rust / JS twin", "rust-token", "js-token");
  pair("token endpoint: Rust / KV write floor", "rust-token", "kv-floor");
  pair("token endpoint: JS twin / KV write floor", "js-token", "kv-floor");
  pair("validation: endpoint-issued / imported token (Rust)", "rust-issued", "rust-imported");
  if (cmp.length > 1) {
    console.log("");
    table(cmp);
  }
  // What each token endpoint costs over the KV-write floor, from the runs of the same round.
  const overFloor = (id) => {
    if (!S[id]?.v.length || !S["kv-floor"]?.v.length) return null;
    const fm = new Map(S["kv-floor"].v.map((x) => [x.round, x]));
    const d = S[id].v.filter((x) => fm.has(x.round)).map((x) => x.cpuUs - fm.get(x.round).cpuUs);
    return d.length ? `${f0(median(d))} (${f0(Math.min(...d))}–${f0(Math.max(...d))}) over ${d.length} rounds` : null;
  };
  for (const id of ["rust-token", "js-token"]) {
    const o = overFloor(id);
    if (o) console.log(`${id}: CPU µs/req above the KV-write floor, median of per-round differences (min–max): ${o}`);
  }
  console.log("");
  console.log("ratio of medians, and [median of per-round ratios]. CPU = utime+stime of the Worker's own workerd process ÷ requests wrk counted.");
  console.log(`load average (1, 5, 15 min) at start and after each round: ${loads.join(" / ")}`);

  if (process.env.BENCH_JSON) {
    fs.writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify({ date: new Date().toISOString(), rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, threads: THREADS, loads, jobs: jobs.map((j) => ({ id: j.id, label: j.label, runs: j.runs })) }, null, 2),
    );
    console.log(`raw runs written to ${process.env.BENCH_JSON}`);
  }
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await cleanup();
  fs.rmSync(TMP, { recursive: true, force: true });
}
process.exit(exitCode);
