#!/usr/bin/env bash
# Requests per second and p50/p99 latency of the API on loopback, 32 concurrent clients (wrk):
# a cached KPI (GET /api/v1/kpis/{name}) and a dashboard page, each for a bounded time.
#
#   bench/api/run.sh [DATA_DIR]
#
# DATA_DIR defaults to a fresh `fieldhouse demo --size small --no-serve` in a temp dir.
# Environment: DURATION (default 10s per target), CONNECTIONS (32), THREADS (2), PORT (18080),
# KPI (default csat), PAGE (dashboard page, default management), WARMUP (seconds to let the
# server's start-up cache warming finish, default 5), FIELDHOUSE_BIN.
# Installs wrk from Debian's packages when missing. Fails when any request errors or is not 2xx.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/fieldhouse/target}
TARGET_DIR=$CARGO_TARGET_DIR
BIN=${FIELDHOUSE_BIN:-$TARGET_DIR/release/fieldhouse}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
KPI=${KPI:-csat}
PAGE=${PAGE:-management}
ADDR=127.0.0.1:$PORT

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
[ -n "${FIELDHOUSE_BIN:-}" ] || "$ROOT/bench/build.sh"

DATA_DIR=${1:-}
if [ -z "$DATA_DIR" ]; then
  DATA_DIR=$(mktemp -d)/data
  "$BIN" --data-dir "$DATA_DIR" demo --size small --no-serve >/dev/null
fi
TOKEN=$("$BIN" --data-dir "$DATA_DIR" token create --role manager --name bench-api --quiet)
TOKEN_ID=$("$BIN" --data-dir "$DATA_DIR" token list --json | grep '"name":"bench-api"' | tail -1 | sed 's/.*"id":"\([^"]*\)".*/\1/')

"$BIN" --data-dir "$DATA_DIR" serve --addr "$ADDR" --relay-latency 3600 --report-tick 3600 >/dev/null 2>"$DATA_DIR/bench-serve.log" &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; "$BIN" --data-dir "$DATA_DIR" token revoke "$TOKEN_ID" >/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 100); do curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

KPI_PATH="/api/v1/kpis/$KPI?by=month"
# Warm both: the first request computes, the measured ones are served from the cache.
curl -fsS -H "Authorization: Bearer $TOKEN" "http://$ADDR$KPI_PATH" >/dev/null
curl -fsS -o /dev/null -H "Cookie: fh_session=$TOKEN" "http://$ADDR/dashboard/$PAGE" || echo "note: dashboard page /dashboard/$PAGE did not answer 2xx" >&2
sleep "${WARMUP:-5}"

run() { # name path header
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency -H "$3" "http://$ADDR$2")
  local rps p50 p99 non2xx errors
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
  errors=$(awk '/Socket errors/ {gsub(",", ""); s=0; for (i=1;i<=NF;i++) if ($i ~ /^[0-9]+$/) s+=$i; print s}' <<<"$out"); errors=${errors:-0}
  printf '%-12s %10s %10s %10s %8s %8s\n' "$1" "$rps" "$p50" "$p99" "$non2xx" "$errors"
  [ "$non2xx" = 0 ] && [ "$errors" = 0 ]
}
printf '%-12s %10s %10s %10s %8s %8s   (%s clients, %s each, %s)\n' target req/s p50 p99 non2xx errors "$CONNECTIONS" "$DURATION" "$ADDR"
status=0
run "kpi:$KPI" "$KPI_PATH" "Authorization: Bearer $TOKEN" || status=1
run "dashboard" "/dashboard/$PAGE" "Cookie: fh_session=$TOKEN" || status=1
exit $status
