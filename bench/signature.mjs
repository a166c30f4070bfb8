// Benchmark of Digital Signature through the built Worker, beside a bare pass-through, in one run:
//   pass       — bench/workers/passthrough.js (the baseline);
//   cid        — the Rust Worker with only `client_id` (the cost of the Worker without a signature);
//   body mode  — `client_id` + `digital_signature` over a ~1 KB body, same 2048-bit RSA key:
//                SHA256withRSA (WebCrypto), SHA224withRSA (pure Rust, `rsa` crate), HmacSHA256
//                (Rust). Body signatures carry no replay protection and the Worker keeps no
//                verdict across requests (src/jobs.rs), so every request is the same bytes and
//                every one is verified in full;
//   RFC 9421   — ed25519 and ecdsa-p256-sha256 (WebCrypto), each with require_nonce = true (one
//                nonce-store Durable Object round trip per request) and = false (no nonce).
//                Every request needs a fresh created/nonce: N requests are signed before each run
//                (node:crypto, scripts/sign-request.mjs) and wrk's Lua script sends each once;
//   JS twins   — bench/workers/twin.js (bundled with esbuild at start), the JavaScript twin that
//                bench/compare.mjs measures: the same client_id + signature checks and the same
//                gateway work (policy, record cache, forward, trace) in plain JavaScript
//                (WebCrypto), same policy for its APIs, same requests: js-body-sha256 (vs rsa256), js-body-hmac
//                (vs hmac), js-9421-ed25519 (vs ed-none; no nonce store). A third table gives
//                the Rust/JS CPU and req/s ratios of each pair.
//
//   node bench/signature.mjs                   # needs wrk, and scripts/build.sh's output in build/
//   ROUNDS=4 SECONDS=3 node bench/signature.mjs
//
// Environment (all optional):
//   ROUNDS=5 SECONDS=3 LAT_SECONDS=2 CONNECTIONS=10 THREADS=2 WARMUP=1
//   ONLY=pass,cid,rsa256,rsa224,hmac,ed-nonce,ed-none,p256-nonce,p256-none,js-body-sha256,js-body-hmac,js-9421-ed25519
//   BODY_BYTES=1024       request body size (the same JSON body for every variant)
//   RUST_BUILD=<dir>      the Rust Worker (default: the deployable bundle, <repo>/target/dry-run; copied at start, so a
//                         rebuild during the run does not change what is measured)
//   BENCH_JSON=<file>     also write every run's raw figures there
//
// Method as bench/compare.mjs and bench/jwt.mjs (TOOLCHAIN.md "Benchmarks"): origin in its own
// process, each variant in its own Miniflare (one workerd process each; the Rust ones also run
// their nonce-store Durable Object there), wrk via async execFile, runs alternated and reversed
// every round, medians with their spread, and CPU time per request of that variant's own workerd
// process (utime+stime from /proc/<pid>/stat ÷ requests wrk counted). Each round has a loaded run
// (wrk -c CONNECTIONS: req/s, CPU, p50/p99) and an unloaded one (wrk -t1 -c1 for LAT_SECONDS:
// p50/p99 of one request at a time, the latency a client sees without queueing).
// Every variant is probed first (a valid request → the origin's 200 "ok"; a tampered one → 401;
// for the nonce variants a replay → 401); any other answer, and any non-2xx answer during a
// measured run, makes the script exit non-zero.

process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

import { execFile, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const { Miniflare } = await import("miniflare");
const execFileP = promisify(execFile);

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..");
const { signBody, signRequest, contentDigest } = await import(path.join(REPO, "scripts/sign-request.mjs"));

const num = (name, dflt) => {
  const v = process.env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`);
  return n;
};
const ROUNDS = num("ROUNDS", 5);
const SECONDS = num("SECONDS", 3);
const LAT_SECONDS = num("LAT_SECONDS", 2);
const CONNECTIONS = num("CONNECTIONS", 10);
const THREADS = Math.min(num("THREADS", 2), CONNECTIONS);
const WARMUP = num("WARMUP", 1);
const BODY_BYTES = num("BODY_BYTES", 1024);
const RUST_BUILD_SRC = path.resolve(process.env.RUST_BUILD || path.join(REPO, "target/dry-run"));

const CLIENT = "bench-app";
const RFC_KEYS = JSON.parse(fs.readFileSync(path.join(REPO, "tests/fixtures/rfc9421/keys.json"), "utf8")).keys;
const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
const RSA_PRIV = rsa.privateKey.export({ type: "pkcs8", format: "pem" });
const HMAC_SECRET = randomBytes(32);

// One ~1 KB JSON body for every variant.
const BODY = (() => {
  const o = { order: "bench-0001", currency: "BRL", items: [] };
  for (let i = 0; JSON.stringify(o).length < BODY_BYTES - 60; i++) o.items.push({ sku: `SKU-${1000 + i}`, qty: 1 + (i % 3), price: 9.9 + i });
  let s = JSON.stringify(o);
  s = s.slice(0, -1) + `,"pad":"${"x".repeat(Math.max(0, BODY_BYTES - s.length - 9))}"}`;
  return s;
})();

// ---------------------------------------------------------------- variants

const hms = (alg, requireNonce) => ({ type: "digital_signature", mode: "http_message_signatures", algorithms: [alg], require_nonce: requireNonce });
const VARIANTS = [
  { id: "pass", label: "JS pass-through", js: "passthrough.js" },
  { id: "cid", label: "Rust client_id only", ds: null },
  { id: "rsa256", label: "body SHA256withRSA (WebCrypto)", ds: { type: "digital_signature", algorithm: "SHA256withRSA" }, body: "SHA256withRSA" },
  { id: "rsa224", label: "body SHA224withRSA (Rust rsa)", ds: { type: "digital_signature", algorithm: "SHA224withRSA" }, body: "SHA224withRSA" },
  { id: "hmac", label: "body HmacSHA256 (Rust)", ds: { type: "digital_signature", algorithm: "HmacSHA256" }, body: "HmacSHA256" },
  { id: "ed-nonce", label: "9421 ed25519, nonce", ds: hms("ed25519", true), hms: "ed25519", kid: "test-key-ed25519", nonce: true },
  { id: "ed-none", label: "9421 ed25519, no nonce", ds: hms("ed25519", false), hms: "ed25519", kid: "test-key-ed25519", nonce: false },
  { id: "p256-nonce", label: "9421 ecdsa-p256, nonce", ds: hms("ecdsa-p256-sha256", true), hms: "ecdsa-p256-sha256", kid: "test-key-ecc-p256", nonce: true },
  { id: "p256-none", label: "9421 ecdsa-p256, no nonce", ds: hms("ecdsa-p256-sha256", false), hms: "ecdsa-p256-sha256", kid: "test-key-ecc-p256", nonce: false },
  // JavaScript twins (bench/workers/twin.js, policy of the Rust variants they twin): the same checks in
  // plain JS/WebCrypto, the same requests; `twin` names the Rust variant they are compared with.
  { id: "js-body-sha256", label: "JS body SHA256withRSA", js: "twin", body: "SHA256withRSA", twin: "rsa256" },
  { id: "js-body-hmac", label: "JS body HmacSHA256", js: "twin", body: "HmacSHA256", twin: "hmac" },
  { id: "js-9421-ed25519", label: "JS 9421 ed25519, no nonce", js: "twin", hms: "ed25519", kid: "test-key-ed25519", nonce: false, twin: "ed-none" },
];

// The Rust variants' APIs (the twin gets those of the variants it twins: it has no nonce store and
// no SHA-224).
function policy(originUrl, keep = (v) => !v.js) {
  return {
    trace: { sample_passing: 0 },
    apis: VARIANTS.filter(keep).map((v) => ({
      name: v.id,
      base_path: `/${v.id}`,
      origin: `${originUrl}/be/${v.id}`,
      interceptors: [{ type: "client_id" }, ...(v.ds ? [v.ds] : [])],
    })),
  };
}

const APP_RECORD = {
  name: "Bench App",
  status: "APPROVED",
  revoked: false,
  access: VARIANTS.filter((v) => v.id !== "pass").map((v) => ({ api: v.id })),
  client_secret_sha256: "0".repeat(64),
  extra_info: {},
  signature_keys: [
    { kid: "body-rsa", alg: "RS256", pem: rsa.publicKey.export({ type: "spki", format: "pem" }) },
    { kid: "test-key-ed25519", alg: "EdDSA", pem: RFC_KEYS["test-key-ed25519"].public_spki_pem },
    { kid: "test-key-ecc-p256", alg: "ES256", pem: RFC_KEYS["test-key-ecc-p256"].public_spki_pem },
  ],
  hmac_secrets: [{ kid: "body-hmac", secret_b64: HMAC_SECRET.toString("base64") }],
};

// ---------------------------------------------------------------- requests

// A request as [name, value] header pairs (sent verbatim) + the body; `raw` is what wrk sends.
function baseHeaders(w) {
  return [
    ["Host", w.host],
    ["client_id", CLIENT],
    ["Content-Type", "application/json"],
    ["Content-Length", String(Buffer.byteLength(BODY))],
  ];
}
const rawHead = (w, headers) => `POST ${w.path} HTTP/1.1\r\n` + headers.map(([k, v]) => `${k}: ${v}\r\n`).join("");

// RFC 9421: Signature-Input and Signature for one fresh request (created now, a fresh nonce).
function sign9421(w, { nonce = w.v.nonce, created } = {}) {
  const s = signRequest({
    method: "POST",
    url: w.url,
    headers: { "content-type": "application/json" },
    body: BODY,
    alg: w.v.hms,
    keyid: w.v.kid,
    key: RFC_KEYS[w.v.kid].private_pem,
    components: ["@method", "@target-uri", "content-digest"],
    nonce: nonce ? randomBytes(12).toString("base64url") : null,
    created,
  });
  return s;
}

function staticRequest(w) {
  const headers = baseHeaders(w);
  if (w.v.body) {
    const key = w.v.body === "HmacSHA256" ? HMAC_SECRET : RSA_PRIV;
    headers.push(["signature", signBody({ algorithm: w.v.body, key, body: BODY })]);
  }
  return headers;
}

/** Sends one request (header pairs verbatim) and returns { status, text }. */
function send(w, headers, body = BODY) {
  const u = new URL(w.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method: "POST", path: w.path, headers: headers.flat(), agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`probe timed out: ${w.v.id}`)));
    req.on("error", reject);
    req.end(body);
  });
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
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};

// ---------------------------------------------------------------- wrk

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), "bench-sig-"));
// The request is head + (for pre-signed ones) Signature-Input/Signature from the next line of
// the signatures file + blank line + body. Thread t sends lines t, t+THREADS, ... (each once).
// (`tid` is the global set by thread:set; a chunk-level `local tid` would shadow it in init.)
const LUA = path.join(TMP, "req.lua");
fs.writeFileSync(
  LUA,
  `local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
local function slurp(p) local f = assert(io.open(p, "rb")); local s = f:read("*a"); f:close(); return s end
function init(args)
  head = slurp(args[1])
  body = slurp(args[2])
  sigs = {}
  if args[3] ~= "-" then for line in io.lines(args[3]) do sigs[#sigs + 1] = line end end
  idx = tid
  step = tonumber(args[4])
  static = head .. "\\r\\n" .. body
end
function request()
  if #sigs == 0 then return static end
  local line = sigs[(idx % #sigs) + 1]
  idx = idx + step
  local tab = line:find("\\t", 1, true)
  return head .. "Signature-Input: " .. line:sub(1, tab - 1) .. "\\r\\nSignature: " .. line:sub(tab + 1) .. "\\r\\n\\r\\n" .. body
end
`,
);
const BODY_FILE = path.join(TMP, "body");
fs.writeFileSync(BODY_FILE, BODY);

const UNIT = { us: 1e-3, ms: 1, s: 1e3, m: 6e4 };
function parseWrk(out) {
  const req = out.match(/(\d+) requests in ([\d.]+)(us|ms|s|m)/);
  const rps = out.match(/Requests\/sec:\s+([\d.]+)/);
  if (!req || !rps) throw new Error("cannot parse wrk output:\n" + out);
  const non2xx = out.match(/Non-2xx or 3xx responses:\s+(\d+)/);
  const sock = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const pct = (p) => {
    const m = out.match(new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m"));
    return m ? Number(m[1]) * UNIT[m[2]] : NaN;
  };
  return {
    requests: Number(req[1]),
    rps: Number(rps[1]),
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    p50: pct(50),
    p99: pct(99),
  };
}

// Signs `n` fresh RFC 9421 requests into a file (one "Signature-Input\tSignature" line each).
function presign(w, n) {
  const file = path.join(TMP, `${w.v.id}.sigs`);
  const fd = fs.openSync(file, "w");
  for (let i = 0; i < n; i += 2000) {
    const chunk = [];
    for (let j = i; j < Math.min(i + 2000, n); j++) {
      const s = sign9421(w);
      chunk.push(`${s["Signature-Input"]}\t${s.Signature}`);
    }
    fs.writeSync(fd, chunk.join("\n") + "\n");
  }
  fs.closeSync(fd);
  return file;
}

async function wrk(w, seconds, { threads, connections }) {
  let sigFile = "-";
  let signed = 0;
  if (w.v.hms) {
    // Enough for twice the rate seen so far in this mode, plus a margin.
    const rate = (connections === 1 ? w.rate1 : w.rate) ?? 6000;
    signed = Math.ceil(rate * seconds * 2 + 2000);
    sigFile = presign(w, signed);
  }
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`, "--latency", "-s", LUA, w.url, "--", w.headFile, BODY_FILE, sigFile, String(threads)];
  const { stdout } = await execFileP("wrk", args, { maxBuffer: 1 << 20, timeout: (seconds + 60) * 1000 });
  const res = parseWrk(stdout);
  if (w.v.hms) {
    if (connections === 1) w.rate1 = Math.max(w.rate1 ?? 0, res.rps);
    else w.rate = Math.max(w.rate ?? 0, res.rps);
    // Lines per thread are disjoint; a thread that ran past its share would reuse one.
    res.reused = res.requests + threads * 2 > signed;
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

async function startWorker(v, originUrl, rustEntry, rustRoot, twinScript) {
  const before = new Set(childPids().map((c) => c.pid));
  const script = v.js === "twin" ? twinScript : v.js ? path.join(HERE, "workers", v.js) : rustEntry;
  const mf = new Miniflare({
    name: v.id,
    modules: true,
    modulesRoot: v.js ? path.dirname(script) : rustRoot,
    scriptPath: script,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: compatibilityDate(),
    kvNamespaces: ["RECORDS"],
    ...(v.js ? {} : { durableObjects: { NONCES: { className: "NonceStore", useSQLite: true } } }),
    bindings:
      v.js === "twin"
        ? { POLICY: policy(originUrl, (x) => VARIANTS.some((t) => t.js === "twin" && t.twin === x.id)) }
        : v.js
          ? { ORIGIN: `${originUrl}/be/${v.id}` }
          : { ORIGIN: `${originUrl}/be/pass`, POLICY: policy(originUrl) },
    cf: false,
    host: "127.0.0.1",
    port: 0,
    handleRuntimeStdio(stdout, stderr) {
      stdout.resume();
      let shown = 0;
      createInterface({ input: stderr }).on("line", (l) => {
        if (shown++ < 10) console.error(`[${v.id} stderr] ${l}`);
      });
    },
  });
  cleanups.push(() => mf.dispose());
  const base = await mf.ready;
  const fresh = childPids().filter((c) => !before.has(c.pid) && c.comm === "workerd");
  if (fresh.length !== 1) throw new Error(`${v.id}: expected one new workerd child, found ${JSON.stringify(fresh)}`);
  const kv = await mf.getKVNamespace("RECORDS");
  await kv.put(`app:${CLIENT}`, JSON.stringify(APP_RECORD));
  // A twin serves its Rust variant's API (same base path, same policy).
  const url = new URL(`/${v.twin ?? v.id}/items`, base);
  const w = { v, pid: fresh[0].pid, url: url.href, host: url.host, path: url.pathname, runs: [], lat: [] };
  const headers = v.hms ? baseHeaders(w) : staticRequest(w);
  if (v.hms) headers.push(["Content-Digest", contentDigest(BODY)]);
  w.headers = headers;
  w.headFile = path.join(TMP, `${v.id}.head`);
  fs.writeFileSync(w.headFile, rawHead(w, headers));
  return w;
}

// Before measuring: a valid request reaches the origin (200 "ok"), a tampered one does not, and
// (RFC 9421 with nonce) a replay does not; body mode and no-nonce: the same request passes twice.
async function probe(w) {
  const problems = [];
  const expect = async (what, headers, status, body) => {
    const r = await send(w, headers, body);
    const ok = status === 200 ? r.status === 200 && r.text === "ok" : r.status === status;
    if (!ok) problems.push(`${what}: expected ${status}, got ${r.status} ${r.text.slice(0, 160)}`);
  };
  const tampered = BODY.replace("bench-0001", "bench-0002");
  if (!w.v.hms) {
    await expect("valid", w.headers, 200);
    await expect("same request again", w.headers, 200);
    if (w.v.body) await expect("tampered body", w.headers, 401, tampered);
    if (w.v.id !== "pass") await expect("no client_id", w.headers.filter(([k]) => k !== "client_id"), 401);
  } else {
    const s = sign9421(w);
    const h = [...w.headers, ["Signature-Input", s["Signature-Input"]], ["Signature", s.Signature]];
    await expect("valid", h, 200);
    await expect(w.v.nonce ? "replay (same nonce)" : "replay (no nonce: accepted)", h, w.v.nonce ? 401 : 200);
    const s2 = sign9421(w);
    await expect("tampered body", [...w.headers, ["Signature-Input", s2["Signature-Input"]], ["Signature", s2.Signature]], 401, tampered);
    if (w.v.nonce) {
      const s3 = sign9421(w, { nonce: false });
      await expect("no nonce", [...w.headers, ["Signature-Input", s3["Signature-Input"]], ["Signature", s3.Signature]], 401);
    }
    // One line of the file wrk reads, sent as wrk would: passes.
    const file = presign(w, 1);
    const [si, sg] = fs.readFileSync(file, "utf8").trim().split("\t");
    await expect("pre-signed line", [...w.headers, ["Signature-Input", si], ["Signature", sg]], 200);
  }
  return problems;
}

// ---------------------------------------------------------------- main

const CLK_TCK = Number((await execFileP("getconf", ["CLK_TCK"])).stdout.trim()) || 100;
let exitCode = 0;
try {
  // A private copy of the build: other work may rebuild build/ during the run.
  if (!["index.js", "worker/shim.mjs", "shim.mjs"].some((r) => fs.existsSync(path.join(RUST_BUILD_SRC, r)))) {
    throw new Error(`no Rust build in ${RUST_BUILD_SRC}: run bash scripts/build.sh && npx wrangler deploy --dry-run --outdir target/dry-run first`);
  }
  const rustRoot = path.join(TMP, "build");
  fs.cpSync(RUST_BUILD_SRC, rustRoot, { recursive: true });
  const rustEntry = ["index.js", "worker/shim.mjs", "shim.mjs"].map((r) => path.join(rustRoot, r)).find((p) => fs.existsSync(p));
  const twinScript = path.join(TMP, "twin", "twin.bundle.mjs");
  await execFileP(path.join(REPO, "node_modules/.bin/esbuild"), [
    path.join(HERE, "workers/twin.js"),
    "--bundle",
    "--format=esm",
    "--platform=neutral",
    "--main-fields=module,main",
    "--conditions=worker,browser",
    `--outfile=${twinScript}`,
  ]);

  let variants = VARIANTS;
  if (process.env.ONLY) {
    const keep = new Set(process.env.ONLY.split(","));
    variants = variants.filter((v) => keep.has(v.id));
  }
  const origin = await startOrigin();
  const workers = [];
  for (const v of variants) {
    const w = await startWorker(v, origin.url, rustEntry, rustRoot, twinScript);
    workers.push(w);
    console.log(`${v.label.padEnd(32)} ${w.url}  workerd pid ${w.pid}`);
  }
  for (const w of workers) {
    const problems = await probe(w);
    if (problems.length) {
      for (const p of problems) console.error(`! ${w.v.label}: ${p}`);
      throw new Error(`probe failed for ${w.v.id}: nothing measured`);
    }
  }
  console.log(`probes passed (${BODY.length}-byte body); warm-up ${WARMUP}s each; then ${ROUNDS} rounds × ${workers.length} variants × (${SECONDS}s wrk -t${THREADS} -c${CONNECTIONS} + ${LAT_SECONDS}s wrk -t1 -c1), order alternating`);
  const loaded = { threads: THREADS, connections: CONNECTIONS };
  const single = { threads: 1, connections: 1 };
  for (const w of workers) {
    await wrk(w, WARMUP, loaded);
    await wrk(w, WARMUP, single);
  }
  let invalid = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? workers : [...workers].reverse();
    const line = [];
    for (const w of order) {
      const c0 = cpuTicks(w.pid);
      const res = await wrk(w, SECONDS, loaded);
      const c1 = cpuTicks(w.pid);
      const cpuUs = (((c1 - c0) / CLK_TCK) * 1e6) / Math.max(res.requests, 1);
      res.valid = res.socketErrors === 0 && res.requests > 0 && res.non2xx === 0 && !res.reused;
      w.runs.push({ round: r, ...res, cpuUs });
      const lat = await wrk(w, LAT_SECONDS, single);
      lat.valid = lat.socketErrors === 0 && lat.requests > 0 && lat.non2xx === 0 && !lat.reused;
      w.lat.push({ round: r, ...lat });
      for (const [kind, x] of [["loaded", res], ["c1", lat]]) {
        if (!x.valid) {
          invalid++;
          line.push(`${w.v.id}/${kind} INVALID (${x.non2xx} non-2xx, ${x.socketErrors} socket errors${x.reused ? ", signatures reused" : ""})`);
        }
      }
    }
    console.log(`round ${r + 1}/${ROUNDS} done${line.length ? ": " + line.join("; ") : ""}`);
  }

  // ---- report
  const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toString() : "-");
  const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "-");
  const ms = (x) => (Number.isFinite(x) ? x.toFixed(2) : "-");
  const ok = (xs) => xs.filter((x) => x.valid);
  const med = (xs, k) => median(ok(xs).map((x) => x[k]));
  const spread = (xs, k, f) => {
    const v = ok(xs).map((x) => x[k]).filter(Number.isFinite);
    return v.length ? `${f(Math.min(...v))}–${f(Math.max(...v))}` : "-";
  };
  // Median of per-round ratios/differences (both ran in the same round).
  const paired = (a, b, k, op) => {
    const byRound = new Map(ok(b).map((x) => [x.round, x]));
    return median(ok(a).filter((x) => byRound.has(x.round)).map((x) => op(x[k], byRound.get(x.round)[k])));
  };
  const ratio = (x, y) => x / y;
  const diff = (x, y) => x - y;
  const base = workers.find((w) => w.v.id === "pass");
  const rows = [["variant", "req/s (min–max)", "×pass", "CPU µs/req (min–max)", "×pass CPU [paired]", "p50 / p99 ms, c" + CONNECTIONS, "p50 / p99 ms, c1"]];
  for (const w of workers) {
    const rps = med(w.runs, "rps");
    const cpu = med(w.runs, "cpuUs");
    rows.push([
      w.v.label + ` (${ok(w.runs).length}/${w.runs.length})`,
      `${f0(rps)} (${spread(w.runs, "rps", f0)})`,
      base ? f2(rps / med(base.runs, "rps")) : "-",
      `${f0(cpu)} (${spread(w.runs, "cpuUs", f0)})`,
      base ? `${f2(cpu / med(base.runs, "cpuUs"))} [${f2(paired(w.runs, base.runs, "cpuUs", ratio))}]` : "-",
      `${ms(med(w.runs, "p50"))} / ${ms(med(w.runs, "p99"))}`,
      `${ms(med(w.lat, "p50"))} / ${ms(med(w.lat, "p99"))}`,
    ]);
  }
  const table = (rs) => {
    const widths = rs[0].map((_, i) => Math.max(...rs.map((row) => row[i].length)));
    const fmt = (row) => "| " + row.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
    console.log(fmt(rs[0]));
    console.log("|" + widths.map((wd) => "-".repeat(wd + 2)).join("|") + "|");
    for (const row of rs.slice(1)) console.log(fmt(row));
  };
  console.log("");
  table(rows);
  console.log("");
  console.log("Medians over rounds (valid runs/all); CPU = utime+stime of the variant's own workerd process (incl. its nonce-store");
  console.log("Durable Object) ÷ requests wrk counted; ×pass CPU = ratio of medians [median of per-round ratios].");

  // Rust vs its JavaScript twin (bench/workers/twin.js), same requests, same rounds.
  const tw = [["check", "Rust CPU µs/req", "JS CPU µs/req", "CPU Rust/JS [paired]", "req/s Rust/JS [paired]", "p50 ms c1, Rust / JS"]];
  for (const wj of workers.filter((w) => w.v.twin)) {
    const wr = workers.find((w) => w.v.id === wj.v.twin);
    if (!wr) continue;
    const cr = med(wr.runs, "cpuUs");
    const cj = med(wj.runs, "cpuUs");
    const rr = med(wr.runs, "rps");
    const rj = med(wj.runs, "rps");
    tw.push([
      `${wr.v.id} vs ${wj.v.id}`,
      `${f0(cr)} (${spread(wr.runs, "cpuUs", f0)})`,
      `${f0(cj)} (${spread(wj.runs, "cpuUs", f0)})`,
      `${f2(cr / cj)} [${f2(paired(wr.runs, wj.runs, "cpuUs", ratio))}]`,
      `${f2(rr / rj)} [${f2(paired(wr.runs, wj.runs, "rps", ratio))}]`,
      `${ms(med(wr.lat, "p50"))} / ${ms(med(wj.lat, "p50"))}`,
    ]);
  }
  if (tw.length > 1) {
    console.log("");
    console.log("Rust vs JavaScript (same checks; ratio of medians [median of per-round ratios]; CPU < 1 = Rust cheaper, req/s > 1 = Rust faster):");
    table(tw);
  }

  // Replay protection: nonce vs no nonce, same algorithm, same round.
  const pairs = [["ed-nonce", "ed-none", "ed25519"], ["p256-nonce", "p256-none", "ecdsa-p256-sha256"]];
  const rp = [["RFC 9421 alg", "added p50 ms, c1 [min–max]", "added p99 ms, c1", "added p50 ms, c" + CONNECTIONS, "added CPU µs/req", "req/s nonce/none"]];
  for (const [a, b, name] of pairs) {
    const wa = workers.find((w) => w.v.id === a);
    const wb = workers.find((w) => w.v.id === b);
    if (!wa || !wb) continue;
    const byRound = new Map(ok(wb.lat).map((x) => [x.round, x]));
    const d = ok(wa.lat).filter((x) => byRound.has(x.round)).map((x) => x.p50 - byRound.get(x.round).p50);
    rp.push([
      name,
      `${ms(median(d))} [${d.length ? `${ms(Math.min(...d))}–${ms(Math.max(...d))}` : "-"}]`,
      ms(paired(wa.lat, wb.lat, "p99", diff)),
      ms(paired(wa.runs, wb.runs, "p50", diff)),
      f0(paired(wa.runs, wb.runs, "cpuUs", diff)),
      f2(paired(wa.runs, wb.runs, "rps", ratio)),
    ]);
  }
  if (rp.length > 1) {
    console.log("");
    console.log("Replay protection (require_nonce = true vs false; median of per-round differences):");
    table(rp);
    console.log("Miniflare on this machine: the nonce store is in the same process. In production the Durable Object lives in one");
    console.log("location, so a request served far from it also pays that network distance.");
  }
  if (process.env.BENCH_JSON) {
    fs.writeFileSync(
      process.env.BENCH_JSON,
      JSON.stringify({ date: new Date().toISOString(), rounds: ROUNDS, seconds: SECONDS, latSeconds: LAT_SECONDS, bodyBytes: BODY.length, variants: workers.map((w) => ({ id: w.v.id, runs: w.runs, lat: w.lat })) }, null, 2),
    );
  }
  if (invalid) {
    console.error(`! ${invalid} run(s) had a non-2xx answer, a socket error or reused signatures (left out of the medians)`);
    exitCode = 1;
  }
} catch (e) {
  console.error(e);
  exitCode = 1;
} finally {
  await cleanup();
  fs.rmSync(TMP, { recursive: true, force: true });
}
process.exit(exitCode);
