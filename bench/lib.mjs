// What the benchmark scripts share (TOOLCHAIN.md "Benchmarks"): the origin in its own process,
// one Miniflare — one workerd process — per Worker, wrk through the async execFile, the CPU time
// of a Worker's own workerd process from /proc, medians and tables.

process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

import { execFile, execFileSync, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const execFileP = promisify(execFile);
export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, "..");

// ---------------------------------------------------------------- settings

/** A positive number from the environment, or `dflt`. */
export function num(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}=${v}: expected a positive number`);
  return n;
}

/** A comma-separated list from the environment, or `dflt`. */
export function list(name, dflt) {
  return process.env[name] ? process.env[name].split(",").filter(Boolean) : dflt;
}

function wranglerToml() {
  try {
    return fs.readFileSync(path.join(REPO, "wrangler.toml"), "utf8");
  } catch {
    return "";
  }
}

/** wrangler.toml's compatibility_date (or COMPAT_DATE), so every Worker runs as deployed. */
export function compatibilityDate() {
  if (process.env.COMPAT_DATE) return process.env.COMPAT_DATE;
  const m = wranglerToml().match(/^\s*compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m);
  return m ? m[1] : "2025-06-01";
}

/** wrangler.toml's compatibility_flags, applied to every Worker alike. */
export function compatibilityFlags() {
  const m = wranglerToml().match(/^\s*compatibility_flags\s*=\s*\[([^\]]*)\]/m);
  return m ? [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]) : [];
}

// ---------------------------------------------------------------- the Rust bundle

/**
 * The deployable bundle: what `wrangler deploy --dry-run --outdir <dir>` wrote (an `index.js` and
 * the hashed `.wasm` beside it), copied to a temporary folder so that a rebuild during the run
 * changes nothing. `dir` defaults to target/dry-run, where scripts/test.sh builds it; with
 * BUILD=1 it is built there first (bash scripts/build.sh, then wrangler's dry run).
 */
export async function rustBundle(dir = process.env.RUST_BUNDLE || path.join(REPO, "target/dry-run")) {
  dir = path.resolve(dir);
  if (process.env.BUILD === "1") {
    console.log("building: bash scripts/build.sh && npx wrangler deploy --dry-run --outdir " + path.relative(REPO, dir));
    await execFileP("bash", ["scripts/build.sh"], { cwd: REPO, maxBuffer: 64 << 20 });
    fs.rmSync(dir, { recursive: true, force: true });
    await execFileP(path.join(REPO, "node_modules/.bin/wrangler"), ["deploy", "--dry-run", "--outdir", dir], {
      cwd: REPO,
      maxBuffer: 64 << 20,
    });
  }
  const entry = path.join(dir, "index.js");
  const wasm = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".wasm")) : [];
  if (!fs.existsSync(entry) || wasm.length !== 1) {
    throw new Error(
      `no deployable bundle in ${dir} (index.js and one .wasm): run\n` +
        `  bash scripts/build.sh && npx wrangler deploy --dry-run --outdir target/dry-run\n` +
        `or set BUILD=1 (or RUST_BUNDLE=<dir>)`,
    );
  }
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), "bench-rust-"));
  for (const f of ["index.js", wasm[0]]) fs.copyFileSync(path.join(dir, f), path.join(copy, f));
  cleanups.push(async () => fs.rmSync(copy, { recursive: true, force: true }));
  const stat = fs.statSync(path.join(dir, wasm[0]));
  return { root: copy, script: path.join(copy, "index.js"), wasm: path.join(copy, wasm[0]), from: dir, builtAt: stat.mtime };
}

/**
 * The build's wasm with its function names: the shipped module has none (scripts/pipeline.sh),
 * so twiggy (size.mjs) and the profiler (profile.mjs) read wasm-bindgen's output the build keeps
 * in target/names/build.wasm, optimised here as the build does (scripts/wasm-opt-flags) but with -g (names kept).
 * Same code, same exports: only the name section differs. Returns its path.
 *
 * `shipped` (a .wasm path) is the module it stands for: every section but the custom ones must
 * be byte for byte the same, or this throws. target/names/ holds the *last* build's module,
 * which need not be the bundle's (another commit, another profile): a module from another build
 * answers the bundle's JavaScript with other function-table indices, so the profiled Worker
 * traps and re-instantiates on most requests (a profile of that, not of the Worker), and
 * twiggy's table describes other code.
 */
export function namedWasm(shipped) {
  const named = path.join(REPO, "target/names/build.wasm");
  if (!fs.existsSync(named)) throw new Error("no target/names/build.wasm: run bash scripts/build.sh (a release build)");
  const out = path.join(REPO, "target/names/build-opt.wasm");
  if (!fs.existsSync(out) || fs.statSync(out).mtimeMs < fs.statSync(named).mtimeMs) {
    const words = (f) => fs.readFileSync(path.join(REPO, "scripts", f), "utf8").trim().split(/\s+/);
    execFileSync(path.join(REPO, "node_modules/.bin/wasm-opt"), [named, "-o", out, ...words("wasm-opt-flags"), "-g", ...words("wasm-features")]);
  }
  if (!withoutCustomSections(fs.readFileSync(out)).equals(withoutCustomSections(fs.readFileSync(shipped)))) {
    throw new Error(
      `target/names/build.wasm is not ${shipped} with names (another build's module): rebuild both ` +
        `(bash scripts/build.sh && npx wrangler deploy --dry-run --outdir target/dry-run), or (bench/profile.mjs) NAMES=0 to profile without names`,
    );
  }
  return out;
}

/** A wasm module's sections, in order: `id` (0 for a custom section, then `name` is its name)
 * and `bytes` (the whole section, header included). */
export function wasmSections(buf) {
  const out = [];
  let i = 8;
  const leb = () => {
    let r = 0;
    let s = 0;
    for (;;) {
      const b = buf[i++];
      r += (b & 0x7f) * 2 ** s;
      s += 7;
      if (!(b & 0x80)) return r;
    }
  };
  while (i < buf.length) {
    const start = i;
    const id = buf[i++];
    const size = leb();
    const body = i;
    let name = null;
    if (id === 0) {
      const n = leb();
      name = buf.subarray(i, i + n).toString("utf8");
    }
    i = body + size;
    out.push({ id, name, bytes: buf.subarray(start, i) });
  }
  return out;
}

/** The module with only the sections `keep` accepts. */
export function keepSections(buf, keep) {
  return Buffer.concat([buf.subarray(0, 8), ...wasmSections(buf).filter(keep).map((s) => s.bytes)]);
}

/** A wasm module's bytes without its custom sections (names, producers, target features):
 * the code, data, imports and exports only. */
export const withoutCustomSections = (buf) => keepSections(buf, (s) => s.id !== 0);

/** Bundles a JavaScript Worker with esbuild (the one wrangler ships), as `wrangler deploy` does by
 * default: bundled, not minified. (The Rust Worker's 22 KB of JavaScript is minified by
 * scripts/pipeline.sh: shorter to parse at start-up, the same code for V8 once running; its
 * functions show with short names in profiles, e.g. glue.js `forward` as `_e`.) */
export async function bundle(entry, outDir) {
  const out = path.join(outDir, path.basename(entry).replace(/\.js$/, ".bundle.mjs"));
  await execFileP(path.join(REPO, "node_modules/.bin/esbuild"), [
    entry,
    "--bundle",
    "--format=esm",
    "--platform=neutral",
    "--main-fields=module,main",
    "--conditions=worker,browser",
    `--outfile=${out}`,
  ]);
  return out;
}

// ---------------------------------------------------------------- /proc

function statFields(pid) {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after "pid (comm) ": comm may hold spaces, so split after the last ')'.
  const close = s.lastIndexOf(")");
  return { comm: s.slice(s.indexOf("(") + 1, close), rest: s.slice(close + 2).split(" ") };
}

export function childPids(ppid = process.pid) {
  const out = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const { comm, rest } = statFields(d);
      if (Number(rest[1]) === ppid) out.push({ pid: Number(d), comm });
    } catch {} // the process went away
  }
  return out;
}

/** utime + stime in clock ticks (all threads of the process). */
export function cpuTicks(pid) {
  const { rest } = statFields(pid);
  return Number(rest[11]) + Number(rest[12]);
}

export const CLK_TCK = Number((await execFileP("getconf", ["CLK_TCK"])).stdout.trim()) || 100;

/** CPU time of all threads of `pid` in nanoseconds (/proc/<pid>/task/<tid>/schedstat). */
export function cpuNs(pid) {
  let ns = 0;
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {} // the thread ended
  }
  return ns;
}

/** CPU µs of `pid` between two tick readings. */
export const ticksToUs = (ticks) => (ticks / CLK_TCK) * 1e6;

/** The machine's load: 1-minute load average and the number of cores. */
export function machineLoad() {
  const [l1, l5] = fs.readFileSync("/proc/loadavg", "utf8").split(" ").map(Number);
  return { load1: l1, load5: l5, cores: os.cpus().length };
}

/** Total CPU jiffies of the machine (all cores): busy and all, from /proc/stat. */
export function machineTicks() {
  const f = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] || 0);
  const all = f.reduce((a, b) => a + b, 0);
  return { busy: all - idle, all };
}

// Inodes of sockets listening on 127.0.0.1:<port> (from /proc/net/tcp).
function listeningInodes(port) {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
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

// ---------------------------------------------------------------- stats and tables

export const median = (xs) => {
  const s = [...xs].filter(Number.isFinite).sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
export const min = (xs) => Math.min(...xs);
export const max = (xs) => Math.max(...xs);
export const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
export const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "-");

/** A Markdown table from rows (the first is the header), columns padded. */
export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const fmt = (r) => "| " + r.map((c, i) => String(c).padEnd(widths[i])).join(" | ") + " |";
  return [fmt(rows[0]), "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|", ...rows.slice(1).map(fmt)].join("\n");
}

// ---------------------------------------------------------------- wrk

const UNIT = { us: 1e-3, ms: 1, s: 1e3, m: 6e4, h: 3.6e6 };

export function parseWrk(out) {
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

/**
 * wrk's Lua script for every workload: requests come from a file, one per line, each
 * `METHOD \t path \t body \t name \t value \t name \t value ...` (no tabs or newlines inside a
 * field). Thread t of T sends lines start+t, start+t+T, ... (wrapping round), so with enough
 * lines every request of a run is distinct; a one-line file repeats one request.
 */
export const REQUESTS_LUA = `-- "tid" is the global that thread:set gives each thread (a chunk-level local of that name,
-- re-run in every thread, would shadow it).
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
local function split(line)
  local out, i = {}, 1
  while true do
    local j = line:find("\\t", i, true)
    if not j then out[#out + 1] = line:sub(i); return out end
    out[#out + 1] = line:sub(i, j - 1)
    i = j + 1
  end
end
function init(args)
  reqs = {}
  for line in io.lines(args[1]) do
    local f = split(line)
    local h = {}
    for k = 4, #f - 1, 2 do h[f[k]] = f[k + 1] end
    local body = nil
    if f[3] ~= "" then body = f[3] end
    reqs[#reqs + 1] = wrk.format(f[1], f[2], h, body)
  end
  idx = tonumber(args[2]) + tid
  step = tonumber(args[3])
  delay_ms = tonumber(args[4] or "0") or 0
end
function request()
  local r = reqs[(idx % #reqs) + 1]
  idx = idx + step
  return r
end
`;

/**
 * Added to REQUESTS_LUA for a paced load (bench/compare.mjs RATE): every connection waits
 * `delay_ms` (wrk's 4th script argument, whole milliseconds) before each request, so C
 * connections send about C × 1000 / (delay_ms + the answer's latency) requests per second
 * whatever the Worker's speed. wrk looks for `delay` once, in the script's chunk: a script
 * without this part sends as fast as the answers come.
 */
export const PACED_LUA = `
function delay() return delay_ms end
`;

/** One request line for REQUESTS_LUA. */
export function requestLine(method, urlPath, body, headers) {
  const fields = [method, urlPath, body ?? ""];
  for (const [k, v] of headers) fields.push(k, v);
  for (const f of fields) if (/[\t\n\r]/.test(f)) throw new Error(`request field ${JSON.stringify(f).slice(0, 80)} holds a tab or newline`);
  return fields.join("\t");
}

/**
 * Runs wrk against `url` for `seconds` with the requests in `file` (REQUESTS_LUA), starting at
 * line `start`; with `delayMs` and a script with PACED_LUA, paced. Returns its figures.
 */
export async function wrk({ url, seconds, threads, connections, lua, file, start = 0, latency = false, delayMs = 0 }) {
  const args = [`-t${threads}`, `-c${connections}`, `-d${seconds}s`];
  if (latency) args.push("--latency");
  args.push("-s", lua, url, "--", file, String(start), String(threads), String(delayMs));
  const { stdout } = await execFileP("wrk", args, { maxBuffer: 1 << 20, timeout: (seconds + 60) * 1000 });
  return parseWrk(stdout);
}

// ---------------------------------------------------------------- processes

export const cleanups = [];
export async function cleanup() {
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

/** The benchmark origin (bench/origin.mjs) in its own process: 200 "ok" to everything. */
export async function startOrigin() {
  const child = spawn(process.execPath, [path.join(HERE, "origin.mjs")], { stdio: ["pipe", "pipe", "inherit"] });
  cleanups.push(async () => child.kill("SIGTERM"));
  const line = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`origin exited (${code})`)));
    setTimeout(() => reject(new Error("origin did not start in 10 s")), 10_000).unref();
  });
  return { url: `http://127.0.0.1:${JSON.parse(line).port}`, pid: child.pid };
}

/**
 * Starts `w` ({ id, script, root, bindings, kv, durableObjects }) in its own Miniflare (one workerd
 * process), seeds its KV namespace RECORDS with `w.kv` ({ key: value }) and returns
 * { mf, pid, base }. Console lines the Worker writes are counted (`w.stdoutLines`) and the last
 * ones kept while `w.keepLines` is an array.
 */
export async function startWorker(w) {
  const { Miniflare } = await import("miniflare");
  w.stdoutLines = 0;
  const before = new Set(childPids().map((c) => c.pid));
  const mf = new Miniflare({
    name: w.id,
    modules: true,
    modulesRoot: w.root ?? path.dirname(w.script),
    scriptPath: w.script,
    modulesRules: [
      { type: "ESModule", include: ["**/*.js", "**/*.mjs"] },
      { type: "CompiledWasm", include: ["**/*.wasm"] },
    ],
    compatibilityDate: compatibilityDate(),
    compatibilityFlags: compatibilityFlags(),
    kvNamespaces: ["RECORDS"],
    ...(w.kvPersist ? { kvPersist: w.kvPersist } : {}),
    bindings: w.bindings ?? {},
    ...(w.durableObjects ? { durableObjects: w.durableObjects } : {}),
    cf: false,
    host: "127.0.0.1",
    port: 0,
    ...(w.inspectorPort ? { inspectorPort: w.inspectorPort } : {}),
    handleRuntimeStdio(stdout, stderr) {
      let partial = "";
      let alarms = 0;
      stdout.on("data", (chunk) => {
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) w.stdoutLines++;
        const text = partial + chunk.toString("utf8");
        const lines = text.split("\n");
        partial = lines.pop();
        for (const l of lines) {
          if (w.keepLines && w.keepLines.length < 1000) w.keepLines.push(l);
          // A trap or a panic is shown (a Worker that stops answering says why here).
          if (/panicked|Critical|RuntimeError|unreachable executed/.test(l) && alarms++ < 5) console.error(`[${w.id} console] ${l.slice(0, 500)}`);
        }
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
  if (fresh.length !== 1) throw new Error(`${w.id}: expected one new workerd child, found ${JSON.stringify(fresh)}`);
  const pid = fresh[0].pid;
  // Cross-check: that workerd process owns the socket listening on the Worker's port.
  if (!ownsSocket(pid, listeningInodes(Number(url.port)))) {
    throw new Error(`${w.id}: workerd pid ${pid} does not own the socket on port ${url.port}`);
  }
  if (w.kv && Object.keys(w.kv).length) {
    const kv = await mf.getKVNamespace("RECORDS");
    const entries = Object.entries(w.kv);
    for (let i = 0; i < entries.length; i += 200) {
      await Promise.all(entries.slice(i, i + 200).map(([k, v]) => kv.put(k, typeof v === "string" ? v : JSON.stringify(v))));
    }
  }
  return { mf, pid, base: url.href.replace(/\/$/, "") };
}

/** A temporary folder removed at the end of the run. */
export function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The FLOOR binding of bench/workers/floor.js for a pass case, from what the Rust Worker did:
 * `client` the client's request headers (pairs or an object), `forwarded` the headers that reached
 * the origin (pairs), `line` its trace line (null when the pass is not traced), `url` where the
 * floor forwards. The floor reads the headers the client sent, `traceparent` and `connection`
 * (and `cf-ray` when it writes a trace line: the request id); deletes what the Rust Worker did
 * not forward; sets what it added (`traceparent`, the `x-edge-` identity headers) or changed —
 * not what the runtime adds on the way to the origin (`host`, `cf-worker`...).
 */
export function floorBinding({ client, forwarded, line, url, sample, timeoutMs = 30000 }) {
  const sent = new Headers(client);
  const fwd = new Map(forwarded.map(([n, v]) => [n.toLowerCase(), v]));
  const runtime = ["host", "cf-worker", "content-length", "accept-encoding", "connection", "cf-connecting-ip", "x-forwarded-proto", "x-real-ip"];
  return {
    reads: [...new Set([...sent.keys(), "traceparent", "connection", ...(line === null ? [] : ["cf-ray"])])],
    remove: [...sent.keys()].filter((n) => !fwd.has(n)),
    set: [...fwd].filter(([n, v]) => (sent.has(n) ? sent.get(n) !== v && !runtime.includes(n) : n === "traceparent" || n.startsWith("x-edge-"))),
    url,
    timeout_ms: timeoutMs,
    line,
    sample,
  };
}

/** The last trace line of a pass a Worker wrote to the console, as it passed it to console.log
 * (from `[{`), or null. */
export function traceLine(lines) {
  for (const l of [...lines].reverse()) {
    const s = l.indexOf("[{");
    if (s !== -1 && l.includes('"outcome":"pass"')) return l.slice(s);
  }
  return null;
}
