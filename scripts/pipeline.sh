#!/usr/bin/env bash
# The Worker's build pipeline, shared by scripts/build.sh (build/, deployable) and
# scripts/build-test.sh (build-test/, test features):
#   cargo build (wasm32) -> wasm-bindgen -> wasm-opt -> esbuild (src/worker/entry.js)
# Usage: bash scripts/pipeline.sh <out dir> <release|dev> [cargo features]
# dev skips wasm-opt. Needs the tools scripts/setup.sh installs (and scripts/env.sh sourced).
#
# Why not worker-build: its generated entry shim constructs a `WorkerEntrypoint` subclass and
# Proxies around it and each method on every request (about a tenth of the isolate's time on a
# cached OAuth pass); our entry (src/worker/entry.js) is a plain module object. The trap
# recovery worker-build gets from wasm-bindgen's --experimental-reset-state-function and
# --force-enable-abort-handler is kept: the same flags are passed here.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:?out dir}
profile=${2:-release}
features=${3:-}
say() { printf '[pipeline] %s\n' "$*" >&2; }

target_dir=${CARGO_TARGET_DIR:-$PWD/target}
cargo build --lib --release --target wasm32-unknown-unknown -p edge-interceptors \
  ${features:+--features "$features"}
wasm="$target_dir/wasm32-unknown-unknown/release/edge_interceptors.wasm"

# Assemble in a staging folder next to the output, then swap it in: wrangler's watcher and a
# running test never see a half-written build.
stage="$out.tmp"
rm -rf "$stage"
mkdir -p "$stage/wbg"
"$WASM_BINDGEN_BIN" --target module --no-typescript \
  --experimental-reset-state-function --force-enable-abort-handler \
  --out-dir "$stage/wbg" --out-name index "$wasm"
# workerd imports a compiled module with `import`, not the source-phase `import source`.
sed -i 's/^import source \([A-Za-z_$][A-Za-z0-9_$]*\) from /import \1 from /' "$stage/wbg/index.js"
if grep -q '^import source ' "$stage/wbg/index.js"; then
  say "wasm-bindgen's output still has an 'import source' line: update the sed above"
  exit 1
fi

if [ "$profile" = dev ]; then
  mv "$stage/wbg/index_bg.wasm" "$stage/index_bg.wasm"
else
  # scripts/wasm-opt-flags: -O as worker-build ran it, but no function inlined only because it
  # has one caller (wasm-opt's default inlines every such function, whatever its size: the
  # pipeline's `decide` grew to ~117 KB with every interceptor in it, and V8 compiled all of it
  # on the first request; without it the first request of a cold isolate costs ~40 % less CPU
  # and the wasm is ~5 KB gzip smaller, warm requests the same: docs/performance.md, Cold
  # start). Without -g: the shipped module has no name section (function names, ~30 KB gzip;
  # a panic's message comes from the panic hook, not from a symbolised stack). wasm-bindgen's
  # output, names included, is kept in target/names/ for bench/size.mjs and bench/profile.mjs,
  # which optimise it the same way with -g to name what twiggy and the profiler count.
  named="$target_dir/names/$(basename "$out").wasm"
  mkdir -p "$(dirname "$named")"
  cp "$stage/wbg/index_bg.wasm" "$named"
  "$WASM_OPT_BIN" "$stage/wbg/index_bg.wasm" -o "$stage/index_bg.wasm" $(cat scripts/wasm-opt-flags) --strip-producers $(cat scripts/wasm-features)
  rm "$stage/wbg/index_bg.wasm"
fi

cp src/worker/entry.js "$stage/entry.js"
# The wasm stays a separate module (wrangler and Miniflare load it as CompiledWasm). esbuild
# keeps an external import as written ("./index_bg.wasm" in wbg/index.js), which is where the
# wasm is put beside the bundle: checked, not rewritten.
"$ESBUILD_BIN" "$stage/entry.js" --bundle --format=esm --minify \
  --external:'*.wasm' --external:'cloudflare:*' --outfile="$stage/index.js" --log-level=warning \
  --log-override:duplicate-object-key=silent
if ! grep -q 'from *"\./index_bg\.wasm"' "$stage/index.js"; then
  say "the bundle does not import ./index_bg.wasm: check wasm-bindgen's output and esbuild's"
  exit 1
fi
rm -rf "$stage/wbg" "$stage/entry.js"

rm -rf "$out.old"
if [ -e "$out" ]; then mv "$out" "$out.old"; fi
mv "$stage" "$out"
rm -rf "$out.old"
say "$out: $(wc -c < "$out/index.js") B of JavaScript, $(wc -c < "$out/index_bg.wasm") B of wasm"
