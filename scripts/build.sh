#!/usr/bin/env bash
# Builds the Worker into build/ (entry build/index.js). BUILD_PROFILE=dev skips wasm-opt.
#
# Does nothing when build/ is newer than everything it is built from (src/, Cargo.toml,
# Cargo.lock, wrangler.toml, this script, scripts/pipeline.sh and the wasm-opt flags) and was built with the same profile or release:
# `wrangler dev` runs this command at start-up and again when its file watcher becomes ready,
# so the demo builds once. FORCE_BUILD=1 builds anyway.
#
# When wrangler runs it for a deploy (WRANGLER_COMMAND=deploy, not --dry-run), the environment
# being deployed is checked first (scripts/check-deploy.mjs): the demo at the top level of
# wrangler.toml, a placeholder KV id or a 127.0.0.1 origin stop the deploy here.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[build] %s\n' "$*" >&2; }

# The command line of the wrangler that runs this build (wrangler hands a custom build only
# WRANGLER_COMMAND; the environment and --dry-run are on its own command line).
wrangler_command_line() {
  local pid=$PPID n=0 args
  while [ "${pid:-0}" -gt 1 ] && [ $n -lt 10 ]; do
    args=$(ps -o args= -p "$pid" 2>/dev/null) || return 0
    case "$args" in *wrangler*deploy*) printf '%s\n' "$args"; return 0 ;; esac
    pid=$(ps -o ppid= -p "$pid" 2>/dev/null | tr -d ' ') || return 0
    n=$((n + 1))
  done
}

if [ "${WRANGLER_COMMAND:-}" = deploy ]; then
  env_name=${CLOUDFLARE_ENV:-}
  config=wrangler.toml
  dry=${EDGE_DEPLOY_DRY_RUN:-}
  # shellcheck disable=SC2046
  set -- $(wrangler_command_line)
  while [ $# -gt 0 ]; do
    case "$1" in
      --env | -e) env_name=${2:-}; shift ;;
      --env=*) env_name=${1#--env=} ;;
      --config | -c) config=${2:-}; shift ;;
      --config=*) config=${1#--config=} ;;
      --dry-run) dry=1 ;;
    esac
    shift
  done
  if [ -z "$dry" ]; then
    node scripts/check-deploy.mjs --config "$config" ${env_name:+--env "$env_name"}
  fi
fi

profile=${BUILD_PROFILE:-release}
stamp=build/.edge-build
if [ -z "${FORCE_BUILD:-}" ] && [ -f "$stamp" ] && [ -f build/index.js ]; then
  built=$(cat "$stamp")
  if [ "$built" = "$profile" ] || [ "$built" = release ]; then
    newer=$(find src Cargo.toml Cargo.lock wrangler.toml scripts/build.sh scripts/pipeline.sh scripts/wasm-opt-flags scripts/wasm-features -newer "$stamp" -print -quit)
    if [ -z "$newer" ]; then
      say "build/ is up to date ($built build, newer than src/, Cargo.toml, Cargo.lock, wrangler.toml): nothing to do"
      exit 0
    fi
    say "$newer changed since the last build: building"
  fi
fi

bash scripts/setup.sh
. scripts/env.sh
started=$(mktemp)
trap 'rm -f "$started"' EXIT
bash scripts/pipeline.sh build "$profile"
# Stamped with the time the build started: a file changed during the build builds again.
printf '%s\n' "$profile" > "$stamp"
touch -r "$started" "$stamp"
