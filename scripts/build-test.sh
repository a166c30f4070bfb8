#!/usr/bin/env bash
# Builds a test-only variant of the Worker (never deployed) into build-test/: the cargo
# features that only tests use, `trap-trigger` (tests/e2e/trap.test.mjs) and `memory-probe`
# (the wasm linear memory's size, for soak tests). It has its own
# cargo target folder (target/test-build), so it never invalidates the deployable build, and
# skips wasm-opt (the tests check behaviour, not size).
#   bash scripts/build-test.sh                    # features: trap-trigger, memory-probe
#   BUILD_TEST_FEATURES=a,b bash scripts/build-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
export CARGO_TARGET_DIR="$PWD/target/test-build"
bash scripts/pipeline.sh build-test dev "${BUILD_TEST_FEATURES:-trap-trigger,memory-probe}"
