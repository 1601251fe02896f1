#!/usr/bin/env bash
# Ingest throughput with and without the entity tables' maintenance, in one run.
#
#   bench/ingest/entities.sh [DATA_DIR]  (default ./fieldhouse-data: a data dir holding the default
#                                       demo; it is not changed: each side runs on a copy)
#   DURATION=60 RATE=100000 bench/ingest/entities.sh D   (bench/ingest/run.sh: NDJSON files → Delta, beside DuckDB)
#
# Each side is bench/live/run.sh on its own copy of DATA_DIR with no readers (CLIENTS=0) and no
# lag probes: one writer POSTs /api/v1/events as fast as the server answers (RATE is far above
# what it takes), MAX_BATCH (10000) events a POST, each POST one durable Delta commit.
#   (a) events only:           `fieldhouse serve --no-entities`
#   (b) with entity upkeep:    `fieldhouse serve` (the entity tables follow every commit, in the
#                              same process, as in production)
# Printed: events/s taken by each, their ratio b/a (issue 19's target: >= 0.8), and for (b) how
# far the entity tables were behind `events` when the writer stopped (a maintenance that fell
# behind would make (b) look faster than it is) and how long the catch-up then took.
# The sides run one after the other (2 cores: side by side they would share them).
set -euo pipefail
DATA_DIR=${1:-./fieldhouse-data}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$ROOT/bench/bin.sh"
need_lake "$DATA_DIR"
export DURATION=${DURATION:-60} RATE=${RATE:-100000} BATCH_SECS=${BATCH_SECS:-0.05} MAX_BATCH=${MAX_BATCH:-10000} CLIENTS=0 PROBE_EVERY=0
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fieldhouse-ingest-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

latest_events() { ls "$1/lake/events/_delta_log" | grep -E '^[0-9]+\.json$' | sort | tail -1 | sed 's/^0*//; s/\.json$//; s/^$/0/'; }
# The events version of the latest entity manifest state (engine/src/entity/manifest.rs): the object
# <version>-<time>.json of lake/entities/_manifest/ with the greatest (version, name); fails when none.
manifest_version() {
  python3 - "$1/lake/entities/_manifest" <<'PY'
import json, os, re, sys
d = sys.argv[1]
keys = [(int(m[1]), n) for n in os.listdir(d) if (m := re.fullmatch(r"([0-9]+)-[0-9]+\.json", n)) and os.path.isfile(os.path.join(d, n))]
with open(os.path.join(d, max(keys)[1])) as f:
    print(json.load(f)["events_version"])
PY
}

side() { # NAME SERVE_ARGS
  local dir=$WORK/$1
  cp -a "$DATA_DIR" "$dir"
  echo "== ($1) fieldhouse serve ${2:-} on a copy of $DATA_DIR" >&2
  SERVE_ARGS=$2 OUT=$WORK/$1-out "$ROOT/bench/live/run.sh" "$dir" >"$WORK/$1.out" 2>&1 || { cat "$WORK/$1.out" >&2; echo "bench/live failed for ($1)" >&2; exit 1; }
  grep -E '^ingest:' "$WORK/$1.out" >&2
}
rate_of() { sed -n 's/^ingest: .* events posted in .* s (\([0-9.]*\)\/s.*/\1/p' "$WORK/$1.out"; }

side a --no-entities
side b ""
ev=$(latest_events "$WORK/b"); mv=$(manifest_version "$WORK/b")
t0=$(date +%s.%N)
"$BIN" --data-dir "$WORK/b" lake update-entities >/dev/null 2>"$WORK/catchup.err"
catchup=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
ra=$(rate_of a); rb=$(rate_of b)
echo
printf '%-44s %10s\n' "side" "events/s"
printf '%-44s %10s\n' "(a) events only (serve --no-entities)" "$ra"
printf '%-44s %10s\n' "(b) with entity maintenance (serve)" "$rb"
awk -v a="$ra" -v b="$rb" 'BEGIN { printf "ratio b/a: %.2f (target >= 0.8)\n", b / a }'
echo "(b) when the server stopped: entity tables at events version $mv of $ev; catching up then took ${catchup} s"
