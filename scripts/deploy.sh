#!/usr/bin/env bash
# Deploys an environment of wrangler.toml (default: production), never the demo at its top level:
#   bash scripts/deploy.sh [--env NAME] [more wrangler deploy options]
# Checks the environment first (scripts/check-deploy.mjs: no placeholder KV id, no origin, JWKS
# URL or log endpoint on 127.0.0.1 / localhost / an example name), then runs
# `wrangler deploy --env NAME`, whose build (scripts/build.sh) checks again.
set -euo pipefail
cd "$(dirname "$0")/.."
env_name=production
if [ "${1:-}" = --env ] || [ "${1:-}" = -e ]; then
  env_name=${2:?--env needs a name}
  shift 2
fi
bash scripts/setup.sh
. scripts/env.sh
node scripts/check-deploy.mjs --env "$env_name"
exec npx wrangler deploy --env "$env_name" "$@"
