#!/usr/bin/env bash
# The demo: the gateway under `wrangler dev` on http://127.0.0.1:8787 with demo records seeded in
# local KV by the records tool (edge-records), in front of a local demo origin on 127.0.0.1:8790.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. scripts/env.sh
PORT=${DEMO_PORT:-8787}

echo "[demo] seeding local KV with the records tool (target/debug/edge-records)"
cargo build --quiet -p edge-records
R=target/debug/edge-records
ALL=(--grant orders --grant catalog --grant status --grant partners --grant payments)
# The demo app's RFC 9421 signing secret (a demo value: never use it for anything else).
DEMO_HMAC=ZGVtby1obWFjLXNlY3JldC1mb3ItdGhlLWRlbW8tb25seQ==
# Apps (--replace: every start resets them). The client secret is read from standard input.
printf '%s\n' demo-secret | $R app create --client-id demo-app --name "Demo App" "${ALL[@]}" \
  --extra-info '{"plan":"gold"}' --secret-stdin --replace >/dev/null
printf '%s\n' "$DEMO_HMAC" | $R app key add demo-app --kid demo-hmac --hmac --base64 --replace >/dev/null
$R app create --client-id demo-readonly --name "Read-only App" \
  --grant orders:list-orders,one-order --no-secret --replace >/dev/null
$R app create --client-id demo-pending --name "Pending App" --status PENDING "${ALL[@]}" \
  --no-secret --replace >/dev/null
# Tokens, imported from standard input (never from the command line).
printf '%s\n' demo-token-0001 | $R token import --app demo-app --grant-type client_credentials \
  --extra-info '{"user":"alice"}' --replace
printf '%s\n' demo-token-readonly | $R token import --app demo-readonly \
  --grant-type client_credentials --replace
printf '%s\n' demo-token-revoked | $R token import --app demo-app --grant-type client_credentials \
  --revoked --replace
printf '%s\n' demo-token-expired | $R token import --app demo-app \
  --expires-at 2024-01-01T00:00:00Z --replace

node scripts/demo-origin.mjs &
ORIGIN_PID=$!
trap 'kill $ORIGIN_PID 2>/dev/null || true' EXIT

G="http://127.0.0.1:$PORT"
cat <<MSG

[demo] When wrangler says "Ready", try these in another terminal:

  # 200: OAuth with a valid app and token (the origin echoes what it received; no access_token)
  curl -i $G/orders/ -H 'client_id: demo-app' -H 'access_token: demo-token-0001'
  # 401: revoked token / wrong token / no token
  curl -i $G/orders/ -H 'client_id: demo-app' -H 'access_token: demo-token-revoked'
  curl -i $G/orders/42 -H 'client_id: demo-app' -H 'access_token: demo-token-0001 '
  curl -i $G/orders/ -H 'client_id: demo-app'
  # 401: app PENDING
  curl -i $G/orders/ -H 'client_id: demo-pending' -H 'access_token: demo-token-0001'
  # 401: a read-only app creating an order (no access to the resource); 405: unknown method
  curl -i -X POST $G/orders/ -H 'client_id: demo-readonly' -H 'access_token: demo-token-readonly' -d '{}'
  curl -i -X PATCH $G/orders/42 -H 'client_id: demo-app' -H 'access_token: demo-token-0001'
  # Access Token from a cookie (200) and an expired one (401)
  curl -i $G/catalog/items --cookie 'access_token=demo-token-0001'
  curl -i $G/catalog/items --cookie 'access_token=demo-token-expired'
  # Client ID in a query parameter, JSON denials
  curl -i "$G/status/health?client_id=demo-app"
  curl -i "$G/status/health?client_id=nobody"
  # Basic base64(client_id:client_secret)
  curl -i $G/partners/report -u demo-app:demo-secret
  curl -i $G/partners/report -u demo-app:wrong
  # Digital Signature (RFC 9421, hmac-sha256), signed and sent by the client example: 200 (a
  # fresh nonce each time); the second command fixes the nonce: run it twice, the second run is a
  # replay (401). Without --send the script prints the headers to add.
  node scripts/sign-request.mjs rfc9421 --alg hmac-sha256 --keyid demo-hmac --secret-base64 $DEMO_HMAC \
    --method POST --url $G/payments/ --body '{"amount":10}' -H 'client_id: demo-app' --send
  node scripts/sign-request.mjs rfc9421 --alg hmac-sha256 --keyid demo-hmac --secret-base64 $DEMO_HMAC \
    --method POST --url $G/payments/ --body '{"amount":10}' --nonce once-only -H 'client_id: demo-app' --send

[demo] Each decision's trace is shipped to a local log sink (scripts/demo-sink.mjs), which prints
[demo] one [log-sink] line per entry below.

MSG
node scripts/demo-sink.mjs &
SINK_PID=$!
trap 'kill $ORIGIN_PID $SINK_PID 2>/dev/null || true' EXIT

# Ship the trace to the demo sink (in wrangler.toml, [env.production.vars.LOGGING] does this for a
# deployment). wrangler runs scripts/build.sh at start-up and again when its file watcher is
# ready; the second run finds build/ up to date and does nothing, so the demo builds once.
BUILD_PROFILE=dev npx wrangler dev --ip 127.0.0.1 --port "$PORT" \
  --var 'LOGGING:{"endpoint":"http://127.0.0.1:8791/ingest","format":"ndjson","flush_ms":200}'
