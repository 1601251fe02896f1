#!/usr/bin/env bash
# KPIs over the PostgreSQL protocol against the same KPIs over HTTP, in one run, on one server:
#
#   bench/pg/run.sh [DATA_DIR]      (default ./fieldhouse-data, e.g. after `fieldhouse demo --no-serve`)
#
# 1. `fieldhouse lake update-entities` (the entity tables current, as a serving server keeps them);
# 2. an admin token (revoked at the end);
# 3. `fieldhouse serve --addr 127.0.0.1:P --pg-addr 127.0.0.1:Q` (relay and reports idle);
# 4. bench/pg/pg.py: for each KPI of KPIS, one first read over pg (cold: the KPI is computed and
#    kept in the server's KPI cache), then N reads over pg (`SELECT * FROM kpi.<name>` through
#    psycopg, one connection, extended protocol) and N reads over HTTP (`GET /api/v1/kpis/<name>`,
#    one keep-alive connection) alternating, so both see the same machine; prints p50/p99 of each
#    and the ratio of the p50s, and checks that both gave the same number of rows.
#
# Environment: FIELDHOUSE_BIN (see bench/bin.sh), N (200), KPIS (default: the 24 of the catalog),
# psycopg is installed into ${XDG_CACHE_HOME:-$HOME/.cache}/fieldhouse/bench-venv when missing.
set -euo pipefail
DATA_DIR=${1:-./fieldhouse-data}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/bench/bin.sh"
need_lake "$DATA_DIR"
N=${N:-200}
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HTTP=127.0.0.1:$(free_port)
PG=127.0.0.1:$(free_port)
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/fieldhouse-pg-bench.XXXXXX")}
fh() { "$BIN" --data-dir "$DATA_DIR" "$@"; }

VENV=${XDG_CACHE_HOME:-$HOME/.cache}/fieldhouse/bench-venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c 'import psycopg' 2>/dev/null || "$VENV/bin/pip" install --quiet "psycopg[binary]==3.3.9"

SERVER="" TOKEN_ID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$SERVER" ]; then kill -TERM "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
  if [ -n "$TOKEN_ID" ]; then fh token revoke "$TOKEN_ID" >/dev/null 2>&1 || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fh lake update-entities >"$OUT/entities-update.json" 2>"$OUT/entities-update.err"
NAME=bench-pg-$$-$(date +%s)
TOKEN=$(fh token create --role admin --name "$NAME" --quiet)
TOKEN_ID=$(fh token list --json | grep "\"name\":\"$NAME\"" | tail -1 | sed 's/.*"id":"\([^"]*\)".*/\1/')
KPIS=${KPIS:-$(fh kpi --list | awk '/^[a-z_]+ / { print $1 }' | tr '\n' ' ')}

"$BIN" --data-dir "$DATA_DIR" serve --addr "$HTTP" --pg-addr "$PG" --relay-latency 3600 --report-tick 3600 \
  >"$OUT/serve.log" 2>&1 &
SERVER=$!
for i in $(seq 1 600); do
  curl -fsS "http://$HTTP/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { tail -20 "$OUT/serve.log" >&2; exit 1; }
  [ "$i" -lt 600 ] || { echo "no /healthz answer within 120 s" >&2; exit 1; }
  sleep 0.2
done
echo "server $BIN, http://$HTTP, pg $PG, N=$N, $(nproc) cores, $(date -u +%F)"
"$VENV/bin/python" "$HERE/pg.py" --http "$HTTP" --pg "$PG" --token "$TOKEN" --n "$N" $KPIS
