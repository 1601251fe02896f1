#!/usr/bin/env bash
# Time every KPI of the catalog over a lake, beside DuckDB running the same KPI on the same
# Parquet files in the same run; one process per KPI and engine, wall seconds and peak RSS.
#
#   bench/kpi/run.sh [DATA_DIR]      (default: ./fieldhouse-data, e.g. after `fieldhouse
#                                     --data-dir D simulate --size large` and `... ingest`)
#
# The `large` preset through the SQLite core takes hours (~3,300 events/s); the in-memory reference
# core makes the same organisation's events at ~34,000 events/s:
#   T=$CARGO_TARGET_DIR/release/examples
#   $T/simulate large memory /tmp/sim --start 2024-11-01 --ndjson /tmp/large.ndjson   # 27 M events, ~13 min, 11 GB RAM
#   $T/bench_ingest ingest /tmp/large.ndjson D/lake 200000                             # ~3 min
#   bench/kpi/run.sh D
# (ingest rejects events more than a day ahead of the clock: a start 24 months back keeps them all.)
#
# For each KPI of `fieldhouse kpi --list`, at its default parameters and no group-by:
#   fieldhouse --data-dir D kpi NAME --now T --sql-dir <repo>/sql --format csv -o FILE
#   duck.py run <translation>/NAME.sql FILE      (Python `duckdb`, default settings: threads = cores)
# both under /usr/bin/time -f '%e %M'. The translations are made at the start of the run by
# bench/kpi/translate.py from the same sql/views and sql/kpi files that --sql-dir makes
# Fieldhouse read (so a binary older than the SQL cannot skew the comparison; see the
# docstring of translate.py for the dialect mapping). Prints per KPI: seconds and peak MiB of
# each, the ratio fieldhouse/duckdb, the rows of each, `B` for a KPI that reads
# business-calendar time, and whether the two outputs agree (bench/kpi/compare.py: same / same-unordered / close:.. / differs:.. / rows);
# then the totals (all KPIs, and the ones without business time) and the total ratio.
#
# Environment: FIELDHOUSE_BIN (default $HOME/.cache/fieldhouse/target/release/fieldhouse, then
# target/release/fieldhouse); NOW, the reference instant for both engines (default: the lake's
# last event, rounded up to the second); OUT, where the CSVs and translations are kept (default:
# a new directory under ${TMPDIR:-/tmp}); KPIS, a space-separated subset. DuckDB is installed
# with `pip install duckdb==$DUCKDB_VERSION` (default 2.0.1) into ${XDG_CACHE_HOME:-$HOME/.cache}/fieldhouse/bench-venv
# if missing or another version.
#
# Read the figures with these in mind:
# * DuckDB reads <lake>/events/event_date=*/*.parquet: every data file, not the Delta snapshot.
#   The script refuses a lake whose Delta log removed files (`fieldhouse lake optimize` or a
#   server's scheduled compaction would make DuckDB count rows twice).
# * Business time (`B`): DuckDB has no business calendar. The translation treats every calendar
#   as 24x7 (pauses still subtracted), so SLA deadlines/states and business-time durations are
#   wall-clock there; those KPIs are timed on different arithmetic and their values differ.
#   Leave them out of any published comparison or say so. Wall-clock columns of the same KPIs
#   (response_time wall_*, time_to_resolve net_*) are computed the same way in both.
# * Fieldhouse computes each view it touches in full and keeps it for the query (CachedView);
#   DuckDB inlines views and prunes columns. Both processes include their start-up (DuckDB:
#   the Python interpreter and `import duckdb`, printed once as a baseline; Fieldhouse: reading
#   the Delta log). Fieldhouse's memory pool is half the machine's memory (--memory-mb), the
#   views it computed counted in it; DuckDB's limit is 80 % of RAM.
# * Last figures (2026-12-03, 2 cores, 24 GiB, DuckDB 2.0.1; `large` preset, --start 2026-01-01 --months 11:
#   12,280,497 events, ingested with files clustered by event type; NOW=2026-12-02T00:00:00Z):
#   all 24 KPIs, fieldhouse 249.1 s vs DuckDB 260.2 s = 0.96x (non-B 129.4 s vs 139.8 s = 0.93x);
#   worst mtbf 1.77x, failure_rate 1.76x, suspect_claims 1.68x, fault_pareto 1.67x, receivables_aging
#   1.66x; best billing_leakage 0.51x; peak 3.2 GiB (technician_scorecard) vs DuckDB 10.8 GiB. All 15
#   non-B KPIs agree exactly. The run before the view rewrites (order_heads/order_openings, first_value
#   instead of row_number over one-row partitions) on the same lake: 285.9 s vs 275.9 s = 1.04x, with
#   mtbf 2.36x, failure_rate 2.06x, receivables_aging 2.06x. On 2026-12-02 (an earlier DuckDB, version not noted): 318.3 s vs
#   287.8 s = 1.11x; before clustering the lake's files: 416.9 s vs 322.7 s = 1.29x.
# * Agreement (small lake, seed 42, NOW = last event; checked with compare.py): all 15 KPIs
#   without business time agree exactly (same rows, same order, same values). The 9 `B` KPIs
#   differ only in their business-time columns (SLA met/breached/compliance, states and
#   deadlines, business_* minutes, shift_hours/utilization); their wall-clock columns
#   (response_time wall_*, time_to_resolve net_*, backlog age_hours, counts) agree. Nothing
#   else is known to differ; if a non-B KPI ever shows `differs`, suspect the translation.
set -euo pipefail
DATA_DIR=${1:-./fieldhouse-data}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAKE=$DATA_DIR/lake

if [ -n "${FIELDHOUSE_BIN:-}" ]; then
  BIN=$FIELDHOUSE_BIN
elif [ -x "$HOME/.cache/fieldhouse/target/release/fieldhouse" ]; then
  BIN=$HOME/.cache/fieldhouse/target/release/fieldhouse
else
  BIN=$ROOT/target/release/fieldhouse
fi
[ -x "$BIN" ] || { echo "no fieldhouse binary at $BIN (bench/build.sh, or set FIELDHOUSE_BIN)" >&2; exit 1; }
[ -d "$LAKE/events/_delta_log" ] || { echo "no lake at $LAKE (simulate and ingest first)" >&2; exit 1; }

VENV=${XDG_CACHE_HOME:-$HOME/.cache}/fieldhouse/bench-venv
# One DuckDB version, so that figures of different days compare (DUCKDB_VERSION overrides).
DUCKDB_VERSION=${DUCKDB_VERSION:-2.0.1}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if [ "$("$VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)' 2>/dev/null)" != "$DUCKDB_VERSION" ]; then
  "$VENV/bin/pip" install --quiet "duckdb==$DUCKDB_VERSION"
fi
PY=$VENV/bin/python

"$PY" "$HERE/duck.py" checklake "$LAKE"
NOW=${NOW:-$("$PY" "$HERE/duck.py" now "$LAKE")}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/fieldhouse-kpi-bench.XXXXXX")}
mkdir -p "$OUT/fieldhouse" "$OUT/duckdb"
python3 "$HERE/translate.py" --lake "$LAKE" --now "$NOW" --out "$OUT/sql"

# Warm the page cache for both engines alike, and measure DuckDB's process start-up.
cat "$LAKE"/events/event_date=*/*.parquet >/dev/null
/usr/bin/time -f '%e %M' -o "$OUT/startup.time" "$PY" -c 'import duckdb' 
read -r start_s start_kib < "$OUT/startup.time"

if [ -n "${KPIS:-}" ]; then
  LIST=$KPIS
else
  LIST=$("$BIN" --data-dir "$DATA_DIR" kpi --list | awk 'NF && substr($0,1,1) != " " {print $1}')
fi
echo "lake $LAKE, now $NOW, fieldhouse $BIN, duckdb $("$PY" -c 'import duckdb; print(duckdb.__version__)') ($(nproc) cores)"
echo "duckdb process start-up (python + import duckdb): ${start_s}s, $((start_kib / 1024)) MiB; outputs in $OUT"
fmt='%-26s %8s %7s %8s %7s %7s %7s %7s %2s %s\n'
printf "$fmt" kpi fh_s fh_mib duck_s duck_mib fh/duck fh_rows dk_rows bt match
tot_f=0 tot_d=0 ex_f=0 ex_d=0 peak_f=0 peak_d=0 failed=0
for k in $LIST; do
  f=$OUT/fieldhouse/$k.csv d=$OUT/duckdb/$k.csv
  bt=$(awk -F'\t' -v k="$k" '$1 == k {print ($3 == "business") ? "B" : ""}' "$OUT/sql/kpis.tsv")
  fs=- fm=- ds=- dm=- ratio=- fr=- dr=- match=-
  if /usr/bin/time -f '%e %M' -o "$f.time" "$BIN" --data-dir "$DATA_DIR" kpi "$k" --now "$NOW" --sql-dir "$ROOT/sql" \
       --format csv -o "$f" \
       >/dev/null 2>"$f.err"; then
    read -r fs fkib < "$f.time"; fm=$((fkib / 1024))
    fr=$("$PY" -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1]))) - 1)' "$f")
  else
    fs=FAIL failed=1; sed 's/^/    /' "$f.err" | tail -3 >&2
  fi
  if [ ! -f "$OUT/sql/$k.sql" ]; then
    ds=none
  elif /usr/bin/time -f '%e %M' -o "$d.time" "$PY" "$HERE/duck.py" run "$OUT/sql/$k.sql" "$d" >/dev/null 2>"$d.err"; then
    read -r ds dkib < "$d.time"; dm=$((dkib / 1024))
  else
    ds=FAIL failed=1; grep -v '^duckdb ' "$d.err" | tail -3 | sed 's/^/    /' >&2
  fi
  if [ -f "$f" ] && [ -f "$d" ] && [ "$fs" != FAIL ] && [ "$ds" != FAIL ]; then
    read -r fr dr match < <(python3 "$HERE/compare.py" "$f" "$d")
    ratio=$(awk -v a="$fs" -v b="$ds" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    tot_f=$(awk -v a="$tot_f" -v b="$fs" 'BEGIN { print a + b }')
    tot_d=$(awk -v a="$tot_d" -v b="$ds" 'BEGIN { print a + b }')
    if [ -z "$bt" ]; then
      ex_f=$(awk -v a="$ex_f" -v b="$fs" 'BEGIN { print a + b }')
      ex_d=$(awk -v a="$ex_d" -v b="$ds" 'BEGIN { print a + b }')
    fi
    [ "$fm" -gt "$peak_f" ] && peak_f=$fm
    [ "$dm" -gt "$peak_d" ] && peak_d=$dm
  fi
  printf "$fmt" "$k" "$fs" "$fm" "$ds" "$dm" "$ratio" "$fr" "$dr" "$bt" "$match"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
printf "$fmt" total "$tot_f" "$peak_f" "$tot_d" "$peak_d" "$(ratio "$tot_f" "$tot_d")" "" "" "" "(peak MiB = the largest of any KPI)"
printf "$fmt" "total without B" "$ex_f" "" "$ex_d" "" "$(ratio "$ex_f" "$ex_d")" "" "" "" "(the exact comparisons)"
echo "B = reads business-calendar time: DuckDB takes every calendar as 24x7, values not comparable (see $OUT/sql/kpis.tsv)"
echo "details of a difference: python3 $HERE/compare.py $OUT/fieldhouse/NAME.csv $OUT/duckdb/NAME.csv --detail 20"
exit $failed
