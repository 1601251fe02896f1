#!/usr/bin/env bash
# The KPI catalog on one node against Apache Ballista (`fieldhouse cluster`) with 1 and 2 executors,
# side by side in one run, every KPI, one process per KPI and column (wall seconds):
#   (l)  fieldhouse kpi NAME                                           the local engine
#   (b1) fieldhouse kpi NAME --engine ballista --scheduler S           a scheduler and ONE executor
#                                                                       with all the cores' task slots
#   (b2) the same with TWO executors (each with half the slots)
# The three columns run one after the other for each KPI (alternated, so that the machine's noise
# spreads over all three); the answers are compared: every cluster CSV must equal the local one
# (bench/kpi/compare.py: same, same-unordered or close).
#
#   bench/distributed/run.sh [DATA_DIR]     (default ./fieldhouse-data: a demo's data directory,
#                                            e.g. after `fieldhouse demo --no-serve`; for the large
#                                            lake see bench/kpi/run.sh)
#   KPIS="backlog csat" bench/distributed/run.sh D       (a subset)
#
# Before timing: `fieldhouse lake update-entities` (KPIs read the entity tables on every engine).
# The scheduler and the executors are `fieldhouse cluster scheduler|executor` processes of the same
# binary on loopback (free ports), started once per column set and stopped at the end; the executors'
# work directories are under $OUT. Every process includes its start-up (reading the Delta logs on
# the client; on the cluster also submitting the job, planning its stages on the scheduler and
# fetching the results over Arrow Flight).
#
# Read the figures with these in mind: on one 2-core machine the cluster cannot be faster: the same
# cores run the client, the scheduler and the executors, and every exchange between stages is
# written to disk and read back over Flight. What the figures show is the overhead of distributing
# the plan (b1/l) and what a second executor on the same cores changes (b2/b1).
#
# Environment: FIELDHOUSE_BIN (see bench/bin.sh); NOW (default: the lake's last event, rounded up);
# KPIS; SLOTS (task slots in all, default the number of cores); OUT (default a new temp dir).
set -euo pipefail
DATA_DIR=${1:-./fieldhouse-data}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/bench/bin.sh"
need_lake "$DATA_DIR"
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/fieldhouse-distributed.XXXXXX")}
mkdir -p "$OUT"
SLOTS=${SLOTS:-$(nproc)}
fh() { "$BIN" --data-dir "$DATA_DIR" "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

PIDS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
trap 'stop_all' EXIT
trap 'exit 130' INT TERM

fh lake update-entities >/dev/null 2>"$OUT/entities-update.err" || { tail -5 "$OUT/entities-update.err" >&2; exit 1; }
if [ -z "${NOW:-}" ]; then
  NOW=$(fh sql "SELECT max(occurred_at) FROM events" --format csv | tail -1 | python3 -c '
import sys, datetime
t = datetime.datetime.fromisoformat(sys.stdin.read().strip().replace("Z", "+00:00"))
print((t.replace(microsecond=0) + datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"))')
fi
KPIS=${KPIS:-$(fh kpi --list 2>/dev/null | awk 'NF >= 2 && $1 !~ /^(unit|params):/ && substr($0,1,1) != " " { print $1 }')}

# A cluster of N executors: sets SCHED (host:port); the nodes' logs in $OUT.
start_cluster() {
  local n=$1 port eport i
  port=$(free_port)
  "$BIN" cluster scheduler --bind "127.0.0.1:$port" >"$OUT/scheduler-$n.log" 2>&1 &
  PIDS+=($!)
  for i in $(seq 1 "$n"); do
    eport=$(free_port)
    "$BIN" cluster executor --scheduler "127.0.0.1:$port" --bind "127.0.0.1:$eport" \
      --vcores $(( SLOTS / n > 0 ? SLOTS / n : 1 )) --work-dir "$OUT/work-$n-$i" >"$OUT/executor-$n-$i.log" 2>&1 &
    PIDS+=($!)
  done
  SCHED=127.0.0.1:$port
  # Ready when a trivial KPI answers.
  for _ in $(seq 1 100); do
    if fh kpi backlog --engine ballista --scheduler "$SCHED" --now "$NOW" --format csv -o /dev/null 2>/dev/null; then return 0; fi
    sleep 0.3
  done
  echo "the cluster of $n executor(s) did not answer" >&2; exit 1
}

timed() { # FILE CMD...: run, append "seconds" to FILE's .t
  local out=$1; shift
  /usr/bin/time -f '%e' -o "$out.t" "$@" >/dev/null 2>"$out.err" || { tail -3 "$out.err" >&2; echo "failed: $*" >&2; return 1; }
}

echo "lake: $DATA_DIR; now: $NOW; binary: $BIN; slots: $SLOTS; out: $OUT"
# One cluster of each size at a time would give b1 and b2 different moments; both stay up instead,
# and the columns alternate per KPI. A cluster polls for tasks when idle (a little CPU).
start_cluster 1; S1=$SCHED
start_cluster 2; S2=$SCHED
status=0
printf '%-28s %8s %8s %8s %7s %7s  %s\n' kpi l_s b1_s b2_s b1/l b2/b1 agree
tl=0 t1=0 t2=0
for k in $KPIS; do
  timed "$OUT/$k.l" "$BIN" --data-dir "$DATA_DIR" kpi "$k" --now "$NOW" --format csv -o "$OUT/$k.l.csv" || { status=1; continue; }
  timed "$OUT/$k.b1" "$BIN" --data-dir "$DATA_DIR" kpi "$k" --now "$NOW" --format csv -o "$OUT/$k.b1.csv" --engine ballista --scheduler "$S1" || { status=1; continue; }
  timed "$OUT/$k.b2" "$BIN" --data-dir "$DATA_DIR" kpi "$k" --now "$NOW" --format csv -o "$OUT/$k.b2.csv" --engine ballista --scheduler "$S2" || { status=1; continue; }
  a1=$(python3 "$ROOT/bench/kpi/compare.py" "$OUT/$k.l.csv" "$OUT/$k.b1.csv" 2>&1 | head -1)
  a2=$(python3 "$ROOT/bench/kpi/compare.py" "$OUT/$k.l.csv" "$OUT/$k.b2.csv" 2>&1 | head -1)
  case "$a1 $a2" in *differs*|*rows*|*header*) status=1 ;; esac
  l=$(cat "$OUT/$k.l.t"); b1=$(cat "$OUT/$k.b1.t"); b2=$(cat "$OUT/$k.b2.t")
  tl=$(awk -v a="$tl" -v b="$l" 'BEGIN { print a + b }'); t1=$(awk -v a="$t1" -v b="$b1" 'BEGIN { print a + b }'); t2=$(awk -v a="$t2" -v b="$b2" 'BEGIN { print a + b }')
  awk -v k="$k" -v l="$l" -v b1="$b1" -v b2="$b2" -v a="$a1 / $a2" 'BEGIN { printf "%-28s %8.2f %8.2f %8.2f %7.2f %7.2f  %s\n", k, l, b1, b2, b1 / (l > 0 ? l : 0.01), b2 / (b1 > 0 ? b1 : 0.01), a }'
done
awk -v l="$tl" -v b1="$t1" -v b2="$t2" 'BEGIN { printf "%-28s %8.2f %8.2f %8.2f %7.2f %7.2f\n", "total", l, b1, b2, b1 / (l > 0 ? l : 0.01), b2 / (b1 > 0 ? b1 : 0.01) }'
exit "$status"
