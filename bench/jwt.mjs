// Benchmark of JWT Validation: the Rust Worker's `jwt` interceptor against its JavaScript twin
// (bench/workers/twin.js: the same validation with `jose`, the same verdict cache per token, the
// same gateway work), beside a bare pass-through, in one run, for HS256, ES256, EdDSA and RS256
// under two workloads:
//   repeated — every request carries the same token (clients reuse a token for many calls);
//   distinct — every request carries a token never seen before (every signature verified cold).
//
//   node bench/jwt.mjs                     # needs wrk, and worker-build's output in build/
//   ALGS=ES256,RS256 WORKLOADS=distinct ROUNDS=4 node bench/jwt.mjs
//
// Environment (all optional):
//   ROUNDS=5 SECONDS=3 CONNECTIONS=10 THREADS=2 WARMUP=1
//   ALGS=HS256,ES256,EdDSA,RS256  WORKLOADS=repeated,distinct  ONLY=js-pass,rust,jose
//   TOKENS=<n>            distinct tokens signed per algorithm (default: enough for the run at
//                         4000 req/s; RS256 signing takes ~1 ms each)
//   JTI=0                 tokens without jti (no revocation lookup in either Worker)
//   RUST_BUILD=<dir>      the Rust Worker (default: the deployable bundle in <repo>/target/dry-run,
//                         from npx wrangler deploy --dry-run --outdir target/dry-run; build/ works too)
//   BENCH_JSON=<file>     also write every run's raw figures there
//
// Method as bench/compare.mjs (TOOLCHAIN.md "Benchmarks"): origin in its own process, each Worker in
// its own workerd process, wrk via async execFile, runs alternated every round, medians with
// their spread, and CPU time per request of each Worker's own workerd process (utime+stime from
// /proc/<pid>/stat ÷ requests wrk counted). For the distinct workload each Worker gets fresh
// tokens on every run (a token it has seen would be decided from its verdict cache); a run that
// had to reuse tokens is flagged.

process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

import { execFile, spawn } from "node:child_process";
import { createHmac, createPrivateKey, randomUUID, sign as cryptoSign } from "node:crypto";
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
const list = (name, dflt) => (process.env[name] ? process.env[name].split(",").filter(Boolean) : dflt);
const ROUNDS = num("ROUNDS", 5);
const SECONDS = num("SECONDS", 3);
const CONNECTIONS = num("CONNECTIONS", 10);
const THREADS = Math.min(num("THREADS", 2), CONNECTIONS);
const WARMUP = num("WARMUP", 1);
const ALGS = list("ALGS", ["HS256", "ES256", "EdDSA", "RS256"]);
const WORKLOADS = list("WORKLOADS", ["repeated", "distinct"]);
const WITH_JTI = process.env.JTI !== "0";
const RUST_BUILD = path.resolve(process.env.RUST_BUILD || path.join(REPO, "target/dry-run"));
const TOKENS = num("TOKENS", Math.ceil(4000 * SECONDS * (ROUNDS + 1) + 4000 * WARMUP + 1000));

const ISSUER = "https://idp.bench.example";
const REQ_PATH = "/orders/x";
const DENIAL = "JWT in the request, identified by HEADER Authorization, is invalid. Check docs.sensedia.com";
const FIX = JSON.parse(fs.readFileSync(path.join(REPO, "tests/fixtures/jwt-keys.json"), "utf8"));

// ---------------------------------------------------------------- keys and tokens

const FIXTURE = { HS256: FIX.hs256, ES256: FIX.p256, EdDSA: FIX.ed25519, RS256: FIX.rsa };
function publicJwk(jwk) {
  if (jwk.kty === "oct") return { ...jwk };
  const { d, p, q, dp, dq, qi, ...pub } = jwk;
  return pub;
}
const ISSUER_RECORD = {
  keys: ALGS.map((alg) => ({ ...publicJwk(FIXTURE[alg]), kid: alg.toLowerCase(), alg })),
};

const b64 = (x) => Buffer.from(x).toString("base64url");
// Key objects made once (createPrivateKey per token would dominate the signing time).
const keyObjects = {
  ES256: createPrivateKey({ key: FIX.p256, format: "jwk" }),
  EdDSA: createPrivateKey({ key: FIX.ed25519, format: "jwk" }),
  RS256: createPrivateKey({ key: FIX.rsa, format: "jwk" }),
};
const HS256_KEY = Buffer.from(FIX.hs256.k, "base64url");
const signers = {
  HS256: (input) => createHmac("sha256", HS256_KEY).update(input).digest(),
  ES256: (input) => cryptoSign("sha256", Buffer.from(input), { key: keyObjects.ES256, dsaEncoding: "ieee-p1363" }),
  EdDSA: (input) => cryptoSign(null, Buffer.from(input), keyObjects.EdDSA),
  RS256: (input) => cryptoSign("sha256", Buffer.from(input), keyObjects.RS256),
};

function token(alg, i) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64(JSON.stringify({ alg, typ: "JWT", kid: alg.toLowerCase() }));
  const claims = { iss: ISSUER, sub: `user-${i}`, aud: "orders", iat: now, exp: now + 3600 };
  if (WITH_JTI) claims.jti = `${alg}-${i}-${randomUUID()}`;
  const input = `${header}.${b64(JSON.stringify(claims))}`;
  return `${input}.${b64(signers[alg](input))}`;
}

// ---------------------------------------------------------------- /proc helpers (as bench/lib.mjs)

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
function cpuTicks(pid) {
  const { rest } = statFields(pid);
  return Number(rest[11]) + Number(rest[12]);
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

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

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "bench-jwt-"));
// wrk script: each thread sends tokens start+tid, start+tid+THREADS, ... from a file.
const LUA = path.join(TMP, "distinct.lua");
fs.writeFileSync(
  LUA,
  `-- "tid" is the global thread:set gives each thread; the counter must have another name, or
-- (as a chunk-level local, re-run in every thread) it would shadow "tid" in init and every
-- thread would send the same tokens.
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
function init(args)
  tokens = {}
  for line in io.lines(args[1]) do tokens[#tokens + 1] = line end
  idx = tonumber(args[2]) + tid
  step = tonumber(args[3])
end
function request()
  local t = tokens[(idx % #tokens) + 1]
  idx = idx + step
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. t })
end
`,
);

async function wrk(url, seconds, job) {
  const args = [`-t${THREADS}`, `-c${CONNECTIONS}`, `-d${seconds}s`];
  if (job.workload === "distinct") {
    args.push("-s", LUA, url, "--", job.tokenFile, String(job.w.used[job.alg] ?? 0), String(THREADS));
  } else {
    if (job.token) args.push("-H", `Authorization: Bearer ${job.token}`);
    args.push(url);
  }
  const { stdout } = await execFileP("wrk", args, { maxBuffer: 1 << 20, timeout: (seconds + 60) * 1000 });
  const res = parseWrk(stdout);
  if (job.workload === "distinct") {
    const start = job.w.used[job.alg] ?? 0;
    // In flight at the end, and per-thread interleaving: leave a margin.
    job.w.used[job.alg] = start + res.requests + CONNECTIONS * 2 + THREADS;
    res.reused = start + res.requests > job.tokenCount;
  }
  return res;
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
    await cleanup();
    process.exit(130);
  });
}

async function startOrigin() {
  const child = spawn(process.execPath, [path.join(HERE, "origin.mjs")], { stdio: ["pipe", "pipe", "inherit"] });
  cleanups.push(async () => child.kill("SIGTERM"));
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`origin exited (${code})`)));
  });
  return { url: `http://127.0.0.1:${JSON.parse(line).port}`, pid: child.pid };
}

function compatibilityDate() {
  try {
    const toml = fs.readFileSync(path.join(REPO, "wrangler.toml"), "utf8");
    const m = toml.match(/^\s*compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m);
    if (m) return m[1];
  } catch {}
  return "2025-06-01";
}

function policy(originUrl) {
  return {
    trace: { sample_passing: 0 },
    apis: [
      {
        name: "orders",
        base_path: "/orders",
        origin: originUrl,
        interceptors: [
          {
            type: "jwt",
            audiences: ["orders"],
            check_jti: WITH_JTI,
            issuers: [{ issuer: ISSUER, algorithms: ALGS }],
          },
        ],
      },
    ],
  };
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
    compatibilityDate: compatibilityDate(),
    kvNamespaces: ["RECORDS"],
    bindings: { ORIGIN: originUrl, POLICY: policy(originUrl) },
    cf: false,
    host: "127.0.0.1",
    port: 0,
    handleRuntimeStdio(stdout, stderr) {
      // Console lines are not shown, except a trap or panic (a Worker that stops answering).
      let alarms = 0;
      createInterface({ input: stdout }).on("line", (l) => {
        if (/panicked|Critical|RuntimeError|unreachable/.test(l) && alarms++ < 5) console.error(`[${w.id} console] ${l.slice(0, 500)}`);
      });
      let shown = 0;
      createInterface({ input: stderr }).on("line", (l) => {
        if (shown++ < 10) console.error(`[${w.id} stderr] ${l}`);
      });
    },
  });
  cleanups.push(() => mf.dispose());
  const url = await mf.ready;
  const fresh = childPids().filter((c) => !before.has(c.pid) && c.comm === "workerd");
  if (fresh.length !== 1) throw new Error(`${w.id}: expected one new workerd child, found ${JSON.stringify(fresh)}`);
  const kv = await mf.getKVNamespace("RECORDS");
  await kv.put(`jwt-issuer:${ISSUER}`, JSON.stringify(ISSUER_RECORD));
  return { pid: fresh[0].pid, url: new URL(REQ_PATH, url).href, used: {} };
}

async function probe(url, t) {
  const res = await fetch(url, { headers: t ? { authorization: `Bearer ${t}` } : {} });
  return { status: res.status, body: await res.text() };
}

async function bundleTwin() {
  const out = path.join(TMP, "twin.bundle.mjs");
  const esbuild = path.join(REPO, "node_modules/.bin/esbuild");
  await execFileP(esbuild, [
    path.join(HERE, "workers/twin.js"),
    "--bundle",
    "--format=esm",
    "--platform=neutral",
    "--main-fields=module,main",
    "--conditions=worker,browser",
    `--outfile=${out}`,
  ]);
  return out;
}

// ---------------------------------------------------------------- main

const CLK_TCK = Number((await execFileP("getconf", ["CLK_TCK"])).stdout.trim()) || 100;
let exitCode = 0;
try {
  const rustEntry = ["index.js", "worker/shim.mjs", "shim.mjs"].map((r) => path.join(RUST_BUILD, r)).find((p) => fs.existsSync(p));
  if (!rustEntry) throw new Error(`no Rust build in ${RUST_BUILD}: run bash scripts/build.sh && npx wrangler deploy --dry-run --outdir target/dry-run first`);
  let workers = [
    { id: "js-pass", label: "JS pass-through", script: path.join(HERE, "workers/passthrough.js") },
    { id: "rust", label: "Rust jwt", script: rustEntry, root: RUST_BUILD, jwt: true },
    { id: "jose", label: "JS twin (jose)", script: await bundleTwin(), jwt: true },
  ];
  for (const w of workers) w.root ??= path.dirname(w.script);
  if (process.env.ONLY) {
    const keep = new Set(process.env.ONLY.split(","));
    workers = workers.filter((w) => keep.has(w.id));
  }

  // Tokens.
  const repeated = Object.fromEntries(ALGS.map((a) => [a, token(a, 0)]));
  const files = {};
  if (WORKLOADS.includes("distinct")) {
    for (const alg of ALGS) {
      const t0 = Date.now();
      const file = path.join(TMP, `${alg}.tokens`);
      const fd = fs.openSync(file, "w");
      for (let i = 1; i <= TOKENS; i += 1000) {
        const chunk = [];
        for (let j = i; j < Math.min(i + 1000, TOKENS + 1); j++) chunk.push(token(alg, j));
        fs.writeSync(fd, chunk.join("\n") + "\n");
      }
      fs.closeSync(fd);
      files[alg] = file;
      console.log(`${TOKENS} distinct ${alg} tokens signed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
  }

  const origin = await startOrigin();
  for (const w of workers) {
    Object.assign(w, await startWorker(w, origin.url));
    console.log(`${w.label.padEnd(16)} ${w.url}  workerd pid ${w.pid}`);
  }

  const jobs = [];
  for (const w of workers) {
    if (!w.jwt) {
      const ok = await probe(w.url);
      if (ok.status !== 200) throw new Error(`${w.label}: ${ok.status}`);
      jobs.push({ w, alg: "-", workload: "pass-through", token: "", runs: [] });
      continue;
    }
    for (const alg of ALGS) {
      const ok = await probe(w.url, repeated[alg]);
      const bad = await probe(w.url, repeated[alg].slice(0, -4) + "AAAA");
      if (ok.status !== 200 || ok.body !== "ok" || bad.status !== 401 || bad.body !== DENIAL) {
        console.error(`! ${w.label} ${alg}: valid → ${ok.status} ${ok.body.slice(0, 120)}; forged → ${bad.status} ${bad.body.slice(0, 120)}`);
        exitCode = 1;
        continue;
      }
      for (const workload of WORKLOADS) {
        jobs.push({ w, alg, workload, token: repeated[alg], tokenFile: files[alg], tokenCount: TOKENS, runs: [] });
      }
    }
  }

  console.log(`warm-up ${WARMUP}s each; then ${ROUNDS} rounds × ${jobs.length} runs of ${SECONDS}s (wrk -t${THREADS} -c${CONNECTIONS}), order alternating; jti ${WITH_JTI ? "checked" : "absent"}`);
  for (const j of jobs) await wrk(j.w.url, WARMUP, j);
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? jobs : [...jobs].reverse();
    const line = [];
    for (const j of order) {
      const c0 = cpuTicks(j.w.pid);
      const res = await wrk(j.w.url, SECONDS, j);
      const c1 = cpuTicks(j.w.pid);
      const cpuUs = (((c1 - c0) / CLK_TCK) * 1e6) / Math.max(res.requests, 1);
      const valid = res.socketErrors === 0 && res.requests > 0 && res.non2xx === 0;
      j.runs.push({ round: r, ...res, cpuUs, valid });
      if (!valid) line.push(`${j.w.id}/${j.alg}/${j.workload} INVALID (${res.non2xx} non-2xx, ${res.socketErrors} socket errors)`);
    }
    console.log(`round ${r + 1}/${ROUNDS} done${line.length ? ": " + line.join("; ") : ""}`);
  }

  // Report: per algorithm and workload, Rust beside jose; ratios to the pass-through.
  const base = jobs.find((j) => j.workload === "pass-through");
  const bv = base ? base.runs.filter((x) => x.valid) : [];
  const baseRps = median(bv.map((x) => x.rps));
  const baseCpu = median(bv.map((x) => x.cpuUs));
  const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toString() : "-");
  const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "-");
  const stat = (j) => {
    const v = j ? j.runs.filter((x) => x.valid) : [];
    return {
      n: v.length,
      rps: median(v.map((x) => x.rps)),
      cpu: median(v.map((x) => x.cpuUs)),
      reused: v.some((x) => x.reused),
    };
  };
  // Median of the per-round ratios (both ran in the same round): steadier than a ratio of
  // medians when the machine's load drifts.
  const paired = (a, b, key) => {
    const byRound = new Map((b ? b.runs.filter((x) => x.valid) : []).map((x) => [x.round, x]));
    return median((a ? a.runs.filter((x) => x.valid) : []).filter((x) => byRound.has(x.round)).map((x) => x[key] / byRound.get(x.round)[key]));
  };
  const rows = [["alg", "workload", "Rust req/s", "jose req/s", "Rust CPU µs/req", "jose CPU µs/req", "Rust/jose CPU [paired]", "Rust ×pass CPU", "jose ×pass CPU"]];
  for (const alg of ALGS) {
    for (const workload of WORKLOADS) {
      const rj = jobs.find((j) => j.w.id === "rust" && j.alg === alg && j.workload === workload);
      const sj = jobs.find((j) => j.w.id === "jose" && j.alg === alg && j.workload === workload);
      const r = stat(rj);
      const s = stat(sj);
      const flag = r.reused || s.reused ? " (tokens reused!)" : "";
      rows.push([
        alg,
        workload + flag,
        f0(r.rps),
        f0(s.rps),
        f0(r.cpu),
        f0(s.cpu),
        `${f2(r.cpu / s.cpu)} [${f2(paired(rj, sj, "cpuUs"))}]`,
        f2(r.cpu / baseCpu),
        f2(s.cpu / baseCpu),
      ]);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const fmt = (row) => "| " + row.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  console.log("");
  console.log(fmt(rows[0]));
  console.log("|" + widths.map((wd) => "-".repeat(wd + 2)).join("|") + "|");
  for (const row of rows.slice(1)) console.log(fmt(row));
  console.log("");
  console.log(`JS pass-through: ${f0(baseRps)} req/s, ${f0(baseCpu)} CPU µs/req (medians of ${bv.length} runs).`);
  console.log("Medians over rounds; CPU = utime+stime of the Worker's own workerd process ÷ requests wrk counted.");
  if (process.env.BENCH_JSON) {
    fs.writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify({ date: new Date().toISOString(), rounds: ROUNDS, seconds: SECONDS, jti: WITH_JTI, jobs: jobs.map((j) => ({ worker: j.w.id, alg: j.alg, workload: j.workload, runs: j.runs })) }, null, 2),
    );
  }
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await cleanup();
  fs.rmSync(TMP, { recursive: true, force: true });
}
process.exit(exitCode);
