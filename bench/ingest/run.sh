#!/usr/bin/env bash
# NDJSON → committed Delta rows per second, beside DuckDB's
#   COPY (SELECT * FROM read_json(...)) TO '...parquet'
# on the same file in the same run, with the peak memory (max RSS) of both.
#
#   bench/ingest/run.sh [N]        # N events, default 5000000
#
# Input (GEN):
#   GEN=sim (default)  the first N events of the simulator's `large` preset, in the order the
#                      operational core writes them (the in-memory reference core: `simulate
#                      large memory --ndjson`), so a commit holds a few days of events, as a live
#                      ingest does. ~100 s to generate 6 M events.
#   GEN=samples        the contract's sample events cycled, with times spread evenly over a
#                      year: every commit touches ~365 `event_date` partitions (a worst case for
#                      the Delta writer: many small files per commit).
# FLUSH_ROWS: records per commit (default 500000).
#
# Needs: cargo, python3 (DuckDB is pip-installed into a venv), /usr/bin/time.
# Work files go to $BENCH_DIR (default: a fresh temp dir, removed at the end).
set -euo pipefail
N="${1:-5000000}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fieldhouse/target}"
work="${BENCH_DIR:-$(mktemp -d)}"
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
venv="${FIELDHOUSE_PY_VENV:-$HOME/.cache/fieldhouse/pyvenv}"

echo "== building (release)" >&2
"$root/bench/build.sh"
bin="$CARGO_TARGET_DIR/release/examples/bench_ingest"

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# One DuckDB version, so that figures of different days compare (DUCKDB_VERSION overrides).
DUCKDB_VERSION=${DUCKDB_VERSION:-2.0.1}
if [ "$("$venv/bin/python" -c 'import duckdb; print(duckdb.__version__)' 2>/dev/null)" != "$DUCKDB_VERSION" ]; then
  "$venv/bin/pip" install --quiet "duckdb==$DUCKDB_VERSION" >&2
fi

file="$work/events.ndjson"
GEN="${GEN:-sim}"
FLUSH_ROWS="${FLUSH_ROWS:-500000}"
echo "== generating $N events ($GEN)" >&2
case "$GEN" in
  samples) "$bin" gen "$N" "$file" ;;
  sim)
    # 2000 technicians make ~1.2 M events a month: enough months for N events.
    months=$(( N / 1000000 + 1 ))
    "$CARGO_TARGET_DIR/release/examples/simulate" large memory "$work/sim" --months "$months" \
      --ndjson "$work/all.ndjson" > "$work/sim.log"
    head -n "$N" "$work/all.ndjson" > "$file"
    rm -f "$work/all.ndjson"
    [ "$(wc -l < "$file")" -eq "$N" ] || { echo "the simulator made fewer than $N events" >&2; exit 1; }
    ;;
  *) echo "GEN must be sim or samples" >&2; exit 1 ;;
esac
size=$(stat -c %s "$file")

timev() { # timev OUTFILE cmd... : run with /usr/bin/time -v, print max RSS in MiB
  local out="$1"; shift
  /usr/bin/time -v "$@" > "$out.stdout" 2> "$out.time"
  awk -F: '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$out.time"
}

sync
echo "== fieldhouse: NDJSON -> Delta (events, partitioned by event_date, fsynced commits)" >&2
fh_rss=$(timev "$work/fh" "$bin" ingest "$file" "$work/lake" "$FLUSH_ROWS")
fh_json=$(cat "$work/fh.stdout")
fh_secs=$(echo "$fh_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
fh_rows=$(echo "$fh_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows"])')

echo "== duckdb: COPY (SELECT * FROM read_json(...)) TO parquet" >&2
cat > "$work/duck.py" <<PY
import duckdb, time, json
con = duckdb.connect()
t = time.time()
con.execute("COPY (SELECT * FROM read_json('$file', format='newline_delimited', union_by_name=true, sample_size=-1)) TO '$work/duck.parquet' (FORMAT parquet)")
secs = time.time() - t
rows = con.execute("SELECT count(*) FROM read_parquet('$work/duck.parquet')").fetchone()[0]
print(json.dumps({"rows": rows, "seconds": secs}))
PY
dk_rss=$(timev "$work/dk" "$venv/bin/python" "$work/duck.py")
dk_secs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$work/dk.stdout")
dk_rows=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows"])' "$work/dk.stdout")

python3 - "$N" "$size" "$fh_rows" "$fh_secs" "$fh_rss" "$dk_rows" "$dk_secs" "$dk_rss" "$(nproc)" "$GEN, $FLUSH_ROWS rows per commit" <<'PY'
import sys
n, size, fr, fs, fm, dr, ds, dm, cores, what = sys.argv[1:]
n, size, fr, dr = int(n), int(size), int(fr), int(dr)
fs, ds, fm, dm = float(fs), float(ds), int(fm), int(dm)
print(f"input: {n} events ({what}), {size/2**20:.0f} MiB NDJSON, {cores} cores")
print(f"fieldhouse  {fr:>9} rows  {fs:7.1f} s  {fr/fs:>10,.0f} rows/s  peak RSS {fm:>6} MiB")
print(f"duckdb      {dr:>9} rows  {ds:7.1f} s  {dr/ds:>10,.0f} rows/s  peak RSS {dm:>6} MiB")
print(f"ratio fieldhouse/duckdb rows/s: {(fr/fs)/(dr/ds):.2f}")
PY
