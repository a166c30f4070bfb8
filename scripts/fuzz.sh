#!/usr/bin/env bash
# Fuzz campaigns (cargo-fuzz, libFuzzer, nightly): never part of scripts/test.sh, which only
# replays the committed corpora (tests/fuzz_corpora.rs). See docs/reliability.md ("Fuzzing").
#   bash scripts/fuzz.sh                       # every target, 10,000,000 executions each
#   bash scripts/fuzz.sh --runs 1000000 jwt    # one target, fewer executions
#   bash scripts/fuzz.sh --cmin                # then minimize fuzz/corpus/<target> (cargo fuzz cmin)
#   bash scripts/fuzz.sh --runs 0 --cmin       # only minimize what earlier campaigns found
# Each target starts from fuzz/corpus/<target>, fuzz/regressions/<target> and the seeds of
# fuzz/make_seeds.py, writes what it finds to fuzz/corpus-raw/<target> (not committed) and its
# log to target/fuzz-logs/<target>.log; a crash stops the campaign with the input saved in
# fuzz/artifacts/<target>/. The summary line per target gives executions and wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --fuzz
export PATH="$HOME/.cargo/bin:$PATH"

RUNS=10000000
CMIN=0
TARGETS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --cmin) CMIN=1; shift ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
if [ ${#TARGETS[@]} -eq 0 ]; then
  mapfile -t TARGETS < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^edge-interceptors-fuzz$')
fi

LOGS=target/fuzz-logs
mkdir -p "$LOGS"
python3 fuzz/make_seeds.py fuzz/seeds 2>/dev/null
# Rust is memory-safe here (no unsafe code in src/): AddressSanitizer would only slow the search
# down, so the targets are built without it, with debug assertions and overflow checks on.
FUZZ=(cargo +nightly fuzz)
OPTS=(-s none --debug-assertions)
(cd fuzz && "${FUZZ[@]}" build "${OPTS[@]}")

FAILED=0
[ "$RUNS" = 0 ] && TO_RUN=() || TO_RUN=("${TARGETS[@]}")
for t in "${TO_RUN[@]}"; do
  mkdir -p "fuzz/corpus-raw/$t" "fuzz/corpus/$t"
  dirs=("fuzz/corpus-raw/$t" "fuzz/corpus/$t" "fuzz/seeds/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  start=$(date +%s)
  result="0 crashes"
  if ! (cd fuzz && "${FUZZ[@]}" run "${OPTS[@]}" "$t" "${dirs[@]/#fuzz\//}" -- \
      -runs="$RUNS" -max_len=8192 -timeout=5 -rss_limit_mb=2048 -print_final_stats=1) \
      > "$LOGS/$t.log" 2>&1; then
    result="FAILED (see $LOGS/$t.log and fuzz/artifacts/$t/)"
    FAILED=1
  fi
  end=$(date +%s)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$LOGS/$t.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LOGS/$t.log" | tail -1)
  printf '%-12s %12s executions  %6s s  %8s exec/s  %s\n' "$t" "$execs" "$((end - start))" "$rate" "$result" \
    | tee -a "$LOGS/summary.txt"
done

if [ "$CMIN" = 1 ]; then
  for t in "${TARGETS[@]}"; do
    work=$(mktemp -d)
    cp -n fuzz/corpus/"$t"/* fuzz/corpus-raw/"$t"/* fuzz/seeds/"$t"/* "$work"/ 2>/dev/null || true
    (cd fuzz && "${FUZZ[@]}" cmin "${OPTS[@]}" "$t" "$work" -- -max_len=8192 -timeout=5) > "$LOGS/$t.cmin.log" 2>&1
    rm -rf "fuzz/corpus/$t" && mkdir -p "fuzz/corpus/$t" && cp "$work"/* "fuzz/corpus/$t"/ && rm -rf "$work"
    echo "$t: $(ls "fuzz/corpus/$t" | wc -l) files, $(du -sk "fuzz/corpus/$t" | cut -f1) KB after cmin"
  done
fi
exit "$FAILED"
