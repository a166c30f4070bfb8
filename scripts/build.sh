#!/usr/bin/env bash
# Builds the Worker into build/ (entry build/index.js). BUILD_PROFILE=dev skips wasm-opt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
if [ "${BUILD_PROFILE:-release}" = dev ]; then
  worker-build --release --no-opt
else
  worker-build --release
fi
