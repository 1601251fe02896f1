#!/usr/bin/env bash
# A live server under load on loopback: events streamed in through the HTTP ingest endpoint while
# clients read the dashboard and KPIs. Prints p50/p99 latency of the dashboard page and of each
# KPI endpoint, the ingest lag (a POST answered → the event visible), and the server's peak RSS.
#
#   bench/live/run.sh [DATA_DIR]     (default ./fieldhouse-data: a data dir that already holds the
#                                     default demo, after `fieldhouse demo --no-serve` or simulate +
#                                     ingest; a copy is wise: the run adds its events to the lake)
#   DURATION=30 RATE=50 bench/live/run.sh D      (a shorter, lighter run)
#
# What it does:
#   1. `fieldhouse --data-dir D lake update-entities`: the entity tables current before the server
#      starts (a lake from before the entity tables gets them built here; timed and printed).
#   2. two tokens: a manager (the readers: the dashboard and KPIs of its audience) and an admin
#      (event batches and the SQL polls of the lag probe; a manager may do neither); both revoked
#      at the end.
#   3. `fieldhouse --data-dir D serve --addr 127.0.0.1:PORT --relay-latency 3600 --report-tick
#      3600` (a free loopback port; no outbox relay or report runs in the way, scheduled compaction
#      as configured), then waits for /healthz and for the log line "dashboard cache warmed" (the
#      start-up warming of every token holder's home page) so the timed phase does not measure it.
#   4. bench/live/live.py (Python standard library only; see its docstring) for DURATION seconds:
#      one writer POSTs /api/v1/events at RATE events/s, one NDJSON batch every BATCH_SECS with an
#      Idempotency-Key (realistic events on the lake's own master data: orders opened, checked,
#      assigned, travelled to, arrived at, worked on, completed and closed with a CSAT, now and
#      then a new customer; fresh UUIDv7 event ids, occurred_at = the wall clock with its zone);
#      CLIENTS reader threads load in turn the dashboard page PAGE (token in the fh_session
#      cookie) and each of KPIS (/api/v1/kpis/<kpi>, bearer token); every PROBE_EVERY seconds a
#      probe POSTs one order_opened of a fresh order alone and polls POST /api/v1/sql
#      `SELECT count(*) FROM orders WHERE order_id = '<id>'` every POLL seconds until it counts.
#   5. VmHWM of /proc/<server pid>/status, then the server is stopped (SIGTERM, SIGKILL after
#      60 s) and the tokens revoked; also on Ctrl-C or an error (trap).
#
# Reading the output:
# * ingest: batches and events posted, the rate the server actually took (a slow POST delays the
#   next batch, which then carries the events owed), accepted/rejected, POST latency (each batch
#   is one durable Delta commit).
# * ingest lag, per probe, from its POST being answered (durable, lake version V) until
#   (1) the entity manifest (lake/entities/_manifest/) has an object for V or later: the
#       server's entity maintenance covered the commit (the server reads KPIs at that version);
#   (2) any reader's KPI answer carries x-lake-version >= V: what a KPI reader sees (resolution:
#       how often the readers ask; a KPI computed at V is also in this time);
#   (2b) a dashboard page all of whose sections say "at lake version N" with N >= V (a section
#       may show the previous version's answer for up to dashboard_max_stale_secs while the new
#       one is computed);
#   (3) the SQL poll counts the order in `orders` (resolution: POLL plus one query; the poll's
#       own latency is printed beside it). POST /api/v1/sql runs on an engine of its own per query
#       that follows the server's entity maintenance (`Engine::following`), so it reads the version
#       KPIs read: (3) comes after (1).
#   p50/p99/max over the probes (DURATION 120, PROBE_EVERY 10: about 11 probes, so p99 is the max).
# * requests: per target, requests answered in the run, errors (not 2xx, or no answer), p50/p99/max
#   latency from sending to having read the whole answer, the first (warm-up) request's time before
#   the timed phase, and how many lake versions the answers carried (a page: its oldest section's).
#   KPI answers are cached per
#   lake version; every commit moves the version the server reads once the entity tables follow,
#   so under a steady stream most answers are computed, not served from the cache.
# * peak RSS: VmHWM, the server's high-water mark since it started (start-up and warming included;
#   the value before the timed phase is printed too).
# * The load generator runs on the same machine (Python threads; one core's worth at most) and
#   takes CPU from the server: on 2 cores, read the latencies as a loaded machine's.
#
# Environment: FIELDHOUSE_BIN (default $HOME/.cache/fieldhouse/target/release/fieldhouse, then
# target/release/fieldhouse); DURATION (120), RATE (200 events/s), BATCH_SECS (0.5), MAX_BATCH (events
# at most in one POST, 0: no bound), CLIENTS (8),
# PAGE (/), KPIS (space-separated, each with its query string; default "sla_response_compliance?by=week
# first_time_fix_rate?by=region backlog csat?by=month response_time"), PROBE_EVERY (10), POLL (0.25),
# LAG_VIEW (orders), LAG_TIMEOUT (60), SERVE_ARGS (more options of `fieldhouse serve`, e.g.
# --no-entities: ingest without entity maintenance, see bench/ingest/entities.sh), PORT (default: a free one), WARM_TIMEOUT (seconds to wait for
# the start-up warming, 900), OUT (raw samples and the server log; default a new temp dir).
# Exit status 1 when a request failed, an event was rejected or a probe was not seen in time.
set -euo pipefail
DATA_DIR=${1:-./fieldhouse-data}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

. "$ROOT/bench/bin.sh"
need_lake "$DATA_DIR"

DURATION=${DURATION:-120}
RATE=${RATE:-200}
BATCH_SECS=${BATCH_SECS:-0.5}
CLIENTS=${CLIENTS:-8}
PAGE=${PAGE:-/}
KPIS=${KPIS:-sla_response_compliance?by=week first_time_fix_rate?by=region backlog csat?by=month response_time}
PROBE_EVERY=${PROBE_EVERY:-10}
POLL=${POLL:-0.25}
LAG_VIEW=${LAG_VIEW:-orders}
LAG_TIMEOUT=${LAG_TIMEOUT:-60}
WARM_TIMEOUT=${WARM_TIMEOUT:-900}
PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
ADDR=127.0.0.1:$PORT
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/fieldhouse-live-bench.XXXXXX")}
mkdir -p "$OUT"
LOG=$OUT/serve.log
fh() { "$BIN" --data-dir "$DATA_DIR" "$@"; }

# Cleanup, also on Ctrl-C or an error: stop the server we started (by its pid), revoke our tokens.
SERVER="" TOKEN_IDS=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$SERVER" ] && kill -0 "$SERVER" 2>/dev/null; then
    kill -TERM "$SERVER" 2>/dev/null || true
    for _ in $(seq 1 120); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$SERVER" 2>/dev/null; then
      echo "the server did not stop within 60 s of SIGTERM: killing it" >&2
      kill -KILL "$SERVER" 2>/dev/null || true
    fi
    wait "$SERVER" 2>/dev/null || true
  fi
  for id in "${TOKEN_IDS[@]}"; do fh token revoke "$id" >/dev/null 2>&1 || true; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. The entity tables current before the server starts.
t0=$(date +%s.%N)
fh lake update-entities >"$OUT/entities-update.json" 2>"$OUT/entities-update.err" || {
  tail -5 "$OUT/entities-update.err" >&2; echo "fieldhouse lake update-entities failed" >&2; exit 1; }
echo "entity tables brought up to date before the start: $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s ($(tail -1 "$OUT/entities-update.err"))"

# 2. Tokens (named after this run, so that their ids can be found and revoked).
RUN_ID=bench-live-$$-$(date +%s)
make_token() { # ROLE NAME VAR: create a token into $VAR; keep its id for the revocation
  local t id
  t=$(fh token create --role "$1" --name "$2" --quiet)
  id=$(fh token list --json | grep "\"name\":\"$2\"" | tail -1 | sed 's/.*"id":"\([^"]*\)".*/\1/')
  if [ -n "$id" ]; then TOKEN_IDS+=("$id"); fi
  printf -v "$3" '%s' "$t"
}
make_token manager "$RUN_ID-reader" READER
make_token admin "$RUN_ID-writer" WRITER

# 3. The server.
# Started directly (not through `fh`, whose subshell would be the pid): $! is the server itself.
# shellcheck disable=SC2086 # SERVE_ARGS: words, on purpose
"$BIN" --data-dir "$DATA_DIR" serve --addr "$ADDR" --relay-latency 3600 --report-tick 3600 ${SERVE_ARGS:-} >"$LOG" 2>&1 &
SERVER=$!
echo "server pid $SERVER on http://$ADDR ($BIN); log $LOG"
for i in $(seq 1 600); do
  if curl -fsS "http://$ADDR/healthz" >/dev/null 2>&1; then break; fi
  kill -0 "$SERVER" 2>/dev/null || { tail -20 "$LOG" >&2; echo "the server stopped at start-up" >&2; exit 1; }
  [ "$i" -lt 600 ] || { echo "no /healthz answer within 120 s" >&2; exit 1; }
  sleep 0.2
done
t0=$(date +%s.%N)
waited=0
until grep -qs "dashboard cache warmed" "$LOG"; do
  kill -0 "$SERVER" 2>/dev/null || { tail -20 "$LOG" >&2; echo "the server stopped while warming" >&2; exit 1; }
  if [ "$waited" -ge "$WARM_TIMEOUT" ]; then echo "note: no \"dashboard cache warmed\" within ${WARM_TIMEOUT} s; going on" >&2; break; fi
  sleep 1; waited=$((waited + 1))
done
echo "start-up warming done after $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s more"

# 4. The load, and the figures.
status=0
python3 "$HERE/live.py" --base "http://$ADDR" --reader-token "$READER" --writer-token "$WRITER" \
  --data-dir "$DATA_DIR" --pid "$SERVER" --duration "$DURATION" --rate "$RATE" --batch-secs "$BATCH_SECS" --max-batch "${MAX_BATCH:-0}" \
  --clients "$CLIENTS" --page "$PAGE" --kpis "$KPIS" --probe-every "$PROBE_EVERY" --poll "$POLL" \
  --lag-view "$LAG_VIEW" --lag-timeout "$LAG_TIMEOUT" --out "$OUT" || status=$?
warnings=$(grep -cE ' (ERROR|WARN) ' "$LOG" || true)
echo "server log: $warnings ERROR/WARN lines ($LOG)"
# 5. cleanup (the trap) stops the server and revokes the tokens.
exit "$status"
