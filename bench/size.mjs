// The wasm size report: total, gzip (what Cloudflare's limit counts), and where the bytes are —
// per crate (with the direct dependency that brings it in) and per module of this crate — from
// twiggy (crates.io; bash scripts/setup.sh --bench installs it).
//
//   node bench/size.mjs                      # the deployable bundle's wasm (target/dry-run)
//   node bench/size.mjs build/index_bg.wasm  # any wasm
//   node bench/size.mjs --check 360000       # exit 1 when gzip -9 is larger
//   TOP=30 node bench/size.mjs               # also the 30 largest items
//
// The shipped wasm has no "name" custom section (scripts/pipeline.sh drops it). To name every
// function, twiggy reads the same module optimised the same way with -g (names kept): made here
// from wasm-bindgen's output that the build keeps in target/names/. For a wasm that still has
// its names, the report also gives the size without them. A generic function is named after
// the crate that defines it, so code of this crate inside another crate's generic counts there
// (the async fns inside js_sys's future_to_promise get a line of their own). With fat LTO most of the Worker's
// own code is inlined into a few large functions (the pipeline's `decide`, the adapter's entry
// points): per-module figures count each function where its name says it lives. Sizes per group
// are shallow wasm bytes; the gzip column splits the file's gzip size in proportion (an
// estimate: code compresses unevenly).

import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { REPO, f0, keepSections, namedWasm, table, wasmSections } from "./lib.mjs";

const args = process.argv.slice(2);
let check = null;
let file = null;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--check") check = Number(args[++i]);
  else file = args[i];
}
if (!file) {
  const dir = path.join(REPO, "target/dry-run");
  const w = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".wasm")) : [];
  if (w.length !== 1) throw new Error("no wasm in target/dry-run: run bash scripts/build.sh && npx wrangler deploy --dry-run --outdir target/dry-run, or name a .wasm");
  file = path.join(dir, w[0]);
}
const bytes = fs.readFileSync(file);
// `gzip -9` (the figure the docs quote), or zlib's when there is no gzip command.
const gz = (b) => {
  try {
    return execFileSync("gzip", ["-9", "-c"], { input: b, maxBuffer: 64 << 20 }).length;
  } catch {
    return zlib.gzipSync(b, { level: 9 }).length;
  }
};
const br = (b) => zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length;

// The module without its `name` (and `producers`) custom sections.
const customSections = new Set(wasmSections(bytes).filter((s) => s.id === 0).map((s) => s.name));
const stripped = keepSections(bytes, (s) => s.name !== "name" && s.name !== "producers");

const total = { raw: bytes.length, gzip: gz(bytes), brotli: br(bytes), strippedRaw: stripped.length, strippedGzip: gz(stripped) };
console.log(`${path.relative(REPO, file)}`);
console.log(table([
  ["", "raw", "gzip -9", "brotli 11"],
  ["as built", f0(total.raw), f0(total.gzip), f0(total.brotli)],
  ["without the name section", f0(total.strippedRaw), f0(total.strippedGzip), f0(br(stripped))],
]));

// ---------------------------------------------------------------- twiggy

/** The module twiggy reads: `file` itself when it has its names, else the build's named twin
 * (see namedWasm in lib.mjs). */
function namedModule() {
  if (customSections.has("name")) return file;
  const out = namedWasm(file);
  console.log(`per crate and module: ${path.relative(REPO, out)} (the build's wasm with its names, -O -g), ${f0(fs.statSync(out).size)} B`);
  return out;
}

let items;
const shippedHasNames = customSections.has("name");
let named;
try {
  named = namedModule();
} catch (e) {
  console.error(`no per-crate figures: ${e.message}`);
  process.exit(check !== null && total.gzip > check ? 1 : 2);
}
try {
  items = JSON.parse(execFileSync("twiggy", ["top", "--format", "json", named], { maxBuffer: 256 << 20 }).toString());
} catch (e) {
  console.error(`twiggy failed (${e.message.split("\n")[0]}): bash scripts/setup.sh --bench installs it`);
  process.exit(check !== null && total.gzip > check ? 1 : 2);
}

// Crate → the direct dependencies of edge-interceptors that bring it in (cargo tree, wasm32).
const via = new Map();
try {
  const tree = execFileSync("cargo", ["tree", "--target", "wasm32-unknown-unknown", "-e", "normal", "--no-dedupe", "--prefix", "depth", "-p", "edge-interceptors"], { cwd: REPO, stdio: ["ignore", "pipe", "ignore"] }).toString();
  let top = null;
  for (const l of tree.split("\n")) {
    const m = /^(\d+)([A-Za-z0-9_-]+) /.exec(l);
    if (!m) continue;
    const depth = Number(m[1]);
    const crate = m[2].replace(/-/g, "_");
    if (depth === 1) top = crate;
    if (depth >= 1) {
      if (!via.has(crate)) via.set(crate, new Set());
      via.get(crate).add(top);
    }
  }
} catch {}

const STD = new Set(["core", "alloc", "std", "compiler_builtins", "dlmalloc", "panic_abort", "rustc_demangle", "__rustc"]);
function group(name) {
  if (/^"[^"]*" subsection$/.test(name) || name.startsWith("custom section")) return ["(name section: function and data names)", null];
  if (name.startsWith("data segment")) return ["(data segments: strings, tables, constants)", null];
  if (name.startsWith("import ")) return ["(wasm-bindgen glue: shims, exports, tables)", null];
  // A generic is named after the crate that defines it: the async fns this crate hands to
  // wasm-bindgen-futures are compiled (and inlined) into js_sys's future_to_promise closures.
  if (/future_to_promise::\{\{closure\}\}/.test(name)) return ["(this crate's async fns and what wasm-opt inlined into them: mostly the authorization server)", null];
  const m = /([a-z_][a-z0-9_]*)(?:\[[0-9a-f]+\])?::/.exec(name);
  if (!m) return ["(wasm-bindgen glue: shims, exports, tables)", null];
  const crate = m[1];
  if (STD.has(crate)) return ["Rust standard library (core, alloc, std, …)", null];
  return [crate, name];
}
// src/<layer>/<module>(.rs|/): the Worker's layers, and the interceptors one by one.
const isModule = (a, b) => fs.existsSync(path.join(REPO, "src", a, `${b}.rs`)) || fs.existsSync(path.join(REPO, "src", a, b));
function moduleOf(name) {
  const m = /edge_interceptors::([a-z_]+)(?:::([a-z_]+))?/.exec(name);
  if (!m) return "(other)";
  if (m[1] !== "interceptors") return m[1];
  return m[2] && isModule("interceptors", m[2]) ? `interceptors::${m[2]}` : "interceptors (shared)";
}

const byCrate = new Map();
const byModule = new Map();
let sum = 0;
for (const it of items) {
  if (/^Σ|^\.\.\. and/.test(it.name)) continue;
  const [g, name] = group(it.name);
  // The named twin's names are not shipped: left out of the shares.
  if (!shippedHasNames && g.startsWith("(name section")) continue;
  byCrate.set(g, (byCrate.get(g) ?? 0) + it.shallow_size);
  if (g === "edge_interceptors") {
    const mod = moduleOf(name);
    byModule.set(mod, (byModule.get(mod) ?? 0) + it.shallow_size);
  }
  sum += it.shallow_size;
}
const pct = (n) => `${((n / sum) * 100).toFixed(1)} %`;
const estGz = (n) => f0((n / sum) * total.gzip);
const rows = [["crate or part", "bytes", "share", "≈ gzip", "brought in by"]];
for (const [g, n] of [...byCrate].sort((a, b) => b[1] - a[1])) {
  const v = via.get(g);
  rows.push([g, f0(n), pct(n), estGz(n), g === "edge_interceptors" ? "(this crate)" : v ? [...v].filter(Boolean).map((x) => x.replace(/_/g, "-")).join(", ") : ""]);
}
console.log("");
console.log(table(rows));
const mrows = [["edge_interceptors module", "bytes", "share of the wasm"]];
for (const [g, n] of [...byModule].sort((a, b) => b[1] - a[1])) mrows.push([g, f0(n), pct(n)]);
console.log("");
console.log(table(mrows));
const top = Number(process.env.TOP || 0);
if (top > 0) {
  console.log("");
  console.log(table([["item", "bytes"], ...items.filter((it) => !/^Σ|^\.\.\. and/.test(it.name)).slice(0, top).map((it) => [it.name.slice(0, 110), f0(it.shallow_size)])]));
}
console.log("");
console.log(`Sizes: shallow bytes per item (twiggy top), grouped by the crate its name starts with (a trait impl by its type's crate, std types by the trait's); ≈ gzip splits the file's gzip size pro rata.`);
if (check !== null) {
  if (total.gzip > check) {
    console.error(`! wasm gzip ${f0(total.gzip)} B is over ${f0(check)} B`);
    process.exit(1);
  }
  console.log(`gzip ${f0(total.gzip)} B ≤ ${f0(check)} B`);
}
