#!/usr/bin/env bash
# Installs what building and testing need, when it is missing. Idempotent; safe to run often.
#   bash scripts/setup.sh          # Rust wasm target, wasm-bindgen-cli, npm packages (esbuild, wasm-opt)
#   bash scripts/setup.sh --bench  # also wrk (load generator, Debian) and twiggy (wasm sizes, crates.io)
#   bash scripts/setup.sh --fuzz   # also the nightly toolchain and cargo-fuzz (scripts/fuzz.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }
export PATH="$HOME/.cargo/bin:$PATH"

# wasm-bindgen-cli must equal the wasm-bindgen library version that Cargo.lock resolved.
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for c in clippy rustfmt; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
    say "adding rustup component $c"
    rustup component add "$c"
  fi
done


if ! wasm-bindgen --version 2>/dev/null | grep -qw "$WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # Not --locked: a locked dependency of the CLI is missing from the registry.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if [ ! -x node_modules/.bin/miniflare ] || [ ! -x node_modules/.bin/wrangler ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (wrangler, miniflare, binaryen)"
  npm ci --no-audit --no-fund
fi

# The OTLP payload test parses with the official OpenTelemetry protobuf definitions.
if ! python3 -c 'import opentelemetry.proto.collector.logs.v1.logs_service_pb2' 2>/dev/null; then
  say "installing opentelemetry-proto (Python)"
  python3 -m pip install --quiet --disable-pip-version-check opentelemetry-proto==1.45.2
fi

# The authorization server's third-party client test (tests/e2e/authz_python_client.py) runs
# Authlib's OAuth 2.0 client (over requests) against the gateway's token endpoints.
if ! python3 -c 'import authlib, requests, sys; sys.exit(authlib.__version__ != "1.9.10")' 2>/dev/null; then
  say "installing authlib 1.9.10 and requests (Python, for the OAuth client test)"
  python3 -m pip install --quiet --disable-pip-version-check authlib==1.9.10 joserfc==1.8.0 'requests>=2.32,<3'
fi

# The CSRF browser test (tests/e2e/csrf_browser.test.mjs) drives Debian's Chromium through
# playwright-core, which never downloads a browser of its own.
if [ ! -x /usr/bin/chromium ]; then
  say "installing chromium (Debian package, for the browser test)"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi
fi

BENCH=0
FUZZ=0
for arg in "$@"; do
  case "$arg" in
    --bench) BENCH=1 ;;
    --fuzz) FUZZ=1 ;;
    *) say "unknown option $arg"; exit 2 ;;
  esac
done

# Fuzzing only (never the default test path): libFuzzer needs the nightly toolchain, which
# rustup installs; cargo-fuzz comes from crates.io at a pinned version.
CARGO_FUZZ_VERSION=0.13.2
if [ "$FUZZ" = 1 ]; then
  if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    say "installing the nightly toolchain (for cargo-fuzz)"
    rustup toolchain install nightly --profile minimal
  fi
  if ! cargo fuzz --version 2>/dev/null | grep -qw "$CARGO_FUZZ_VERSION"; then
    say "installing cargo-fuzz $CARGO_FUZZ_VERSION (a few minutes, once)"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
  fi
fi

# Benchmarks (bench/README.md): wrk, the load generator, from Debian's packages; twiggy, the wasm
# size profiler behind bench/size.mjs, from crates.io.
TWIGGY_VERSION=0.8.0
if [ "$BENCH" = 1 ]; then
  if ! command -v wrk >/dev/null; then
    say "installing wrk"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk; else sudo apt-get update -qq && sudo apt-get install -y -qq wrk; fi
  fi
  if ! twiggy --version 2>/dev/null | grep -qw "$TWIGGY_VERSION"; then
    say "installing twiggy $TWIGGY_VERSION (a few minutes, once)"
    cargo install twiggy --version "$TWIGGY_VERSION" --locked
  fi
fi
