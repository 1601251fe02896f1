#!/usr/bin/env bash
# Time every KPI of the catalog over a lake four ways, side by side in one run; one process per
# KPI and column, wall seconds and peak RSS:
#   (a) ent   Fieldhouse over the entity tables (`fieldhouse kpi --source auto`, the default path)
#   (b) ev    Fieldhouse over the raw events (`--source events`: the views computed from `events`)
#   (c) dk    DuckDB running the translated KPI over the raw events' Parquet files
#   (d) dke   DuckDB running the same translation over the same entity tables as (a)
#
#   bench/kpi/run.sh [DATA_DIR]      (default: ./fieldhouse-data, e.g. after `fieldhouse
#                                     --data-dir D simulate --size large` and `... ingest`)
#   SKIP=ad bench/kpi/run.sh D       (the columns to leave out, any of a b c d: `SKIP=ad` is the
#                                     old Fieldhouse-vs-DuckDB comparison over raw events)
#
# The `large` preset through the SQLite core takes hours (~3,300 events/s); the in-memory reference
# core makes the same organisation's events at ~34,000 events/s:
#   T=$CARGO_TARGET_DIR/release/examples
#   $T/simulate large memory /tmp/sim --start 2024-11-01 --ndjson /tmp/large.ndjson   # 27 M events, ~13 min, 11 GB RAM
#   $T/bench_ingest ingest /tmp/large.ndjson D/lake 200000                             # ~3 min
#   bench/kpi/run.sh D
# The 12-month large lake of the README's figures (13.5 M events; 386 s to simulate, 48 s to
# ingest, 66 s and 6 GiB for `lake rebuild-entities`, measured 2026-12-06):
#   $T/simulate large memory /tmp/sim --start 2025-12-01 --months 12 --ndjson /tmp/large.ndjson
#   $T/bench_ingest ingest /tmp/large.ndjson D/lake 200000 && SKIP=bc bench/kpi/run.sh D
# (ingest rejects events more than a day ahead of the clock: a start 24 months back keeps them all.)
#
# Before timing, unless (a) and (d) are both skipped, the entity tables are brought up to the lake's
# latest version once: `fieldhouse --data-dir D lake update-entities` (REBUILD=1: `lake
# rebuild-entities`, every table recomputed), timed and printed, its JSON report kept in
# $OUT/entities-update.json; then bench/kpi/entities.py checks the manifest
# (lake/entities/_manifest/) and the run stops unless the tables reflect the latest events
# version and every entity view of sql/views (else `--source auto` would quietly compute from
# the raw events and (a) would be (b) again). For each KPI of `fieldhouse kpi --list`, at its
# default parameters and no group-by:
#   (a) fieldhouse --data-dir D kpi NAME --now T --sql-dir <repo>/sql --format csv -o FILE --source auto
#   (b) the same with --source events
#   (c) duck.py run $OUT/sql/NAME.sql FILE            (Python `duckdb`, default settings: threads = cores)
#   (d) duck.py run $OUT/sql-entities/NAME.sql FILE
# each under /usr/bin/time -f '%e %M'. The translations are made at the start of the run from the
# same sql/views and sql/kpi files that --sql-dir makes Fieldhouse read (so a binary older than the
# SQL cannot skew the comparison): (c) by bench/kpi/translate.py (see its docstring for the
# dialect mapping); (d) by bench/kpi/entities.py, the same translation with every entity view
# replaced by `read_parquet([..])` over the active files of lake/entities/<view> at the versions
# of the manifest state Fieldhouse reads (the file list comes from the Delta log via the Python
# `deltalake` package: the directories also hold files that replaceWhere removed), and `orders`
# (13_orders.sql, computed at read time) translated over `orders_core`.
#
# Prints per KPI: seconds and peak MiB of each column; the ratios ev/ent = (b)/(a) (what the entity
# tables save), dk/ent = (c)/(a), ent/dke = (a)/(d) (Fieldhouse against DuckDB on the same
# materialised inputs) and ev/dk = (b)/(c) (the old fieldhouse/duckdb figure); the rows of
# Fieldhouse's answer; `bt`, the DuckDB columns that compute business time as 24x7 (`cd`: both,
# `c`: (c) only); and the agreement checks of bench/kpi/compare.py (same / same-unordered /
# close:.. / differs:.. / rows / header): a=b (Fieldhouse over the entity tables against over the
# raw events: must be `same`), d~a (DuckDB over the entity tables against (a)) and c~b (DuckDB over
# raw events against (b), the old check). Then the totals over the KPIs every column computed (all
# of them, and those without `bt`), with the peak MiB of any KPI, and the ratios of the totals.
# Exit status 1 when a run failed or (a) and (b) disagree (anything but same/same-unordered/close).
#
# RUNS=N: each KPI and column runs N times back to back; its seconds are the median (the p50 of a
# cold-cache-free run), its MiB the largest peak (default 1: one run, as the figures before 2026-12-06
# evening were taken).
#
# Environment: FIELDHOUSE_BIN (default $HOME/.cache/fieldhouse/target/release/fieldhouse, then
# target/release/fieldhouse); NOW, the reference instant for every column (default: the lake's
# last event, rounded up to the second); OUT, where the CSVs and translations are kept (default:
# a new directory under ${TMPDIR:-/tmp}); KPIS, a space-separated subset; SKIP, columns to leave
# out (letters a b c d, e.g. `SKIP=cd` for Fieldhouse only); REBUILD=1, rebuild the entity tables
# instead of updating them. DuckDB and deltalake are installed with `pip install
# duckdb==$DUCKDB_VERSION deltalake==$DELTALAKE_VERSION` (defaults 2.0.1 and 1.6.6) into
# ${XDG_CACHE_HOME:-$HOME/.cache}/fieldhouse/bench-venv if missing or another version.
#
# Read the figures with these in mind:
# * (c) reads <lake>/events/event_date=*/*.parquet: every data file, not the Delta snapshot.
#   Unless (c) is skipped, the script refuses a lake whose Delta log removed files (`fieldhouse
#   lake optimize` or a server's scheduled compaction would make DuckDB count rows twice). (d)
#   reads the Delta snapshots (entity tables and, for any view that would read it, `events`), so
#   compaction does not matter there.
# * What each column computes. (b) and (c) compute every view a KPI touches from the raw events.
#   (a) and (d) read those views from the entity tables (materialised by the maintenance pass,
#   which is not timed; its time for this lake's last gap is printed once above the table) and
#   compute only `orders` (the SLA states at fh_now() over `orders_core`) and the KPI. So ev/ent
#   is what a reader gains from the entity tables, and ent/dke compares the two engines on the
#   same inputs, start-up included.
# * Business time (`bt`): DuckDB has no business calendar. The translation treats every calendar
#   as 24x7 (pauses still subtracted), so SLA deadlines/states and business-time durations are
#   wall-clock there; those values differ from Fieldhouse's, and the timing is of different
#   arithmetic. In (d) the business-time columns stored in `orders_core` (deadlines,
#   response/resolution business seconds) are Fieldhouse's own values, so only the SLA states
#   (`orders`, at read time) and KPIs that call a business-time function themselves
#   (technician_utilization) stay 24x7: `bt` = `cd` for those, `c` for the ones (d) computes
#   exactly (response_time, time_to_resolve). Leave `bt` KPIs out of any published DuckDB
#   comparison or say so. Wall-clock columns of the same KPIs (response_time wall_*,
#   time_to_resolve net_*) are computed the same way everywhere.
# * The entity tables are written with the views of <repo>/sql too (`FIELDHOUSE_SQL_DIR=<repo>/sql
#   fieldhouse lake update-entities`), the SQL (a) and (b) read. When sql/views changed since the
#   tables were last written, the update rebuilds the tables whose view changed (their manifest
#   digest differs).
# * Fieldhouse computes each view it touches in full and keeps it for the query (CachedView);
#   DuckDB inlines views and prunes columns. Every process includes its start-up (DuckDB: the
#   Python interpreter and `import duckdb`, printed once as a baseline; Fieldhouse: reading the
#   Delta logs, in (a) also the manifest and one log per entity table read). Fieldhouse's memory
#   pool is half the machine's memory (--memory-mb), the views it computed counted in it;
#   DuckDB's limit is 80 % of RAM. The page cache is warmed for all columns alike (events and
#   entity files read once before the first KPI).
# * Last figures of (b) against (c) (2026-12-03, before the entity tables; 2 cores, 24 GiB,
#   DuckDB 2.0.1; `large` preset, --start 2026-01-01 --months 11: 12,280,497 events, ingested with
#   files clustered by event type; NOW=2026-12-02T00:00:00Z): all 24 KPIs, fieldhouse 249.1 s vs
#   DuckDB 260.2 s = 0.96x (non-B 129.4 s vs 139.8 s = 0.93x); worst mtbf 1.77x, failure_rate 1.76x,
#   suspect_claims 1.68x, fault_pareto 1.67x, receivables_aging 1.66x; best billing_leakage 0.51x;
#   peak 3.2 GiB (technician_scorecard) vs DuckDB 10.8 GiB. All 15 non-B KPIs agree exactly. The
#   run before the view rewrites (order_heads/order_openings, first_value instead of row_number
#   over one-row partitions) on the same lake: 285.9 s vs 275.9 s = 1.04x, with mtbf 2.36x,
#   failure_rate 2.06x, receivables_aging 2.06x. On 2026-12-02 (an earlier DuckDB, version not
#   noted): 318.3 s vs 287.8 s = 1.11x; before clustering the lake's files: 416.9 s vs 322.7 s =
#   1.29x. No figures of (a) and (d) yet.
# * Agreement (small lake, seed 42, NOW = last event; checked with compare.py): all KPIs without
#   business time agree exactly between (b) and (c) (same rows, same order, same values). The `bt`
#   KPIs differ only in their business-time columns (SLA met/breached/compliance, states and
#   deadlines, business_* minutes, shift_hours/utilization); their wall-clock columns
#   (response_time wall_*, time_to_resolve net_*, backlog age_hours, counts) agree. Nothing else
#   is known to differ; if a KPI without `bt` ever shows `differs`, suspect the translation. a=b
#   must be `same` for every KPI (tests/tests/entities.rs checks the same on simulated lakes).
set -euo pipefail
DATA_DIR=${1:-./fieldhouse-data}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAKE=$DATA_DIR/lake
SKIP=${SKIP:-}
case "$SKIP" in *[!abcd\ ,]*) echo "SKIP takes the letters a b c d (got '$SKIP')" >&2; exit 2 ;; esac
want() { case "$SKIP" in *"$1"*) return 1 ;; esac; return 0; }

. "$ROOT/bench/bin.sh"
[ -d "$LAKE/events/_delta_log" ] || { echo "no lake at $LAKE (simulate and ingest first)" >&2; exit 1; }
# A binary from before the entity tables has no --source: it computes from the events, which is (b).
kpi_help=$("$BIN" kpi --help 2>/dev/null || true)
if [[ $kpi_help != *--source* ]]; then
  echo "note: $BIN has no \`kpi --source\` (built before the entity tables): (a) skipped, (b) runs without the flag" >&2
  SKIP="${SKIP}a"; SOURCE_EVENTS=()
else
  SOURCE_EVENTS=(--source events)
fi

VENV=${XDG_CACHE_HOME:-$HOME/.cache}/fieldhouse/bench-venv
# One DuckDB and one deltalake version, so that figures of different days compare.
DUCKDB_VERSION=${DUCKDB_VERSION:-2.0.1}
DELTALAKE_VERSION=${DELTALAKE_VERSION:-1.6.6}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if [ "$("$VENV/bin/python" -c 'import duckdb; print(duckdb.__version__)' 2>/dev/null)" != "$DUCKDB_VERSION" ]; then
  "$VENV/bin/pip" install --quiet "duckdb==$DUCKDB_VERSION"
fi
if [ "$("$VENV/bin/python" -c 'import deltalake; print(deltalake.__version__)' 2>/dev/null)" != "$DELTALAKE_VERSION" ]; then
  "$VENV/bin/pip" install --quiet "deltalake==$DELTALAKE_VERSION"
fi
PY=$VENV/bin/python

if want c; then "$PY" "$HERE/duck.py" checklake "$LAKE"; fi
NOW=${NOW:-$("$PY" "$HERE/duck.py" now "$LAKE")}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/fieldhouse-kpi-bench.XXXXXX")}
mkdir -p "$OUT/fh-entities" "$OUT/fh-events" "$OUT/duckdb" "$OUT/duckdb-entities"

# The entity tables at the lake's latest version, once, before any timing.
entity_note=""
if want a || want d; then
  cmd=update-entities
  [ "${REBUILD:-0}" = 1 ] && cmd=rebuild-entities
  if ! /usr/bin/time -f '%e %M' -o "$OUT/entities-update.time" \
       env FIELDHOUSE_SQL_DIR="$ROOT/sql" "$BIN" --data-dir "$DATA_DIR" lake "$cmd" >"$OUT/entities-update.json" 2>"$OUT/entities-update.err"; then
    echo "fieldhouse lake $cmd failed (a binary from before the entity tables: SKIP=ad):" >&2
    tail -5 "$OUT/entities-update.err" | sed 's/^/    /' >&2; exit 1
  fi
  read -r upd_s upd_kib < "$OUT/entities-update.time"
  entity_note="\`fieldhouse lake $cmd\` before timing: ${upd_s}s, $((upd_kib / 1024)) MiB (report: $OUT/entities-update.json)"
  status=$("$PY" "$HERE/entities.py" status "$LAKE" --sql-dir "$ROOT/sql") || {
    echo "$entity_note" >&2; echo "$status" >&2
    echo "the entity tables do not reflect the lake's latest version after \`lake $cmd\`: (a) would read raw events" >&2
    exit 1
  }
  entity_note+=$'\n'$status
fi

# The translations: (c) always (its kpis.tsv also says which KPIs read business time), (d) when wanted.
python3 "$HERE/translate.py" --lake "$LAKE" --now "$NOW" --out "$OUT/sql"
if want d; then "$PY" "$HERE/entities.py" translate --lake "$LAKE" --now "$NOW" --out "$OUT/sql-entities"; fi

# Warm the page cache for every column alike, and measure DuckDB's process start-up.
if want b || want c; then cat "$LAKE"/events/event_date=*/*.parquet >/dev/null; fi
if want a || want d; then find "$LAKE/entities" -name '*.parquet' -exec cat {} + >/dev/null; fi
/usr/bin/time -f '%e %M' -o "$OUT/startup.time" "$PY" -c 'import duckdb'
read -r start_s start_kib < "$OUT/startup.time"

if [ -n "${KPIS:-}" ]; then
  LIST=$KPIS
else
  LIST=$("$BIN" --data-dir "$DATA_DIR" kpi --list | awk 'NF && substr($0,1,1) != " " {print $1}')
fi
echo "lake $LAKE, now $NOW, fieldhouse $BIN, duckdb $("$PY" -c 'import duckdb; print(duckdb.__version__)'), deltalake $DELTALAKE_VERSION ($(nproc) cores)"
[ -z "$entity_note" ] || echo "$entity_note"
echo "duckdb process start-up (python + import duckdb): ${start_s}s, $((start_kib / 1024)) MiB; outputs in $OUT"
echo "columns: (a) ent = fieldhouse --source auto (entity tables), (b) ev = fieldhouse --source events, (c) dk = duckdb over raw events, (d) dke = duckdb over the entity tables${SKIP:+; skipped: $SKIP}"

# A ratio x/y of two figures, `-` when either is missing or failed.
ratio() {
  case "$1$2" in *[!0-9.]* | "") echo - ; return ;; esac
  awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }
rows_of() { "$PY" -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1]))) - 1)' "$1"; }
# compare.py's verdict on two CSVs (`-` unless both exist).
verdict() { # A.csv B.csv NAMES
  if [ -f "$1" ] && [ -f "$2" ]; then python3 "$HERE/compare.py" "$1" "$2" --names "$3" | awk 'NR == 1 {print $3}'; else echo -; fi
}

declare -A S M FILE
# Time one column of one KPI: COL OUTFILE COMMAND...; sets S[COL] (seconds or FAIL) and M[COL] (peak MiB).
measure() {
  # RUNS times (back to back): the median seconds, the largest peak.
  local col=$1 file=$2 secs kib run all=() peak=0
  shift 2
  for ((run = 1; run <= ${RUNS:-1}; run++)); do
    if /usr/bin/time -f '%e %M' -o "$file.time" "$@" >/dev/null 2>"$file.err"; then
      read -r secs kib < "$file.time"
      all+=("$secs"); if [ "$kib" -gt "$peak" ]; then peak=$kib; fi
    else
      S[$col]=FAIL; failed=1
      grep -v '^duckdb ' "$file.err" | tail -3 | sed "s/^/    ($col) /" >&2
      return
    fi
  done
  S[$col]=$(printf '%s\n' "${all[@]}" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : sprintf("%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2)}')
  M[$col]=$((peak / 1024)); FILE[$col]=$file
}

fmt='%-26s %8s %7s %8s %7s %8s %7s %8s %7s %7s %7s %7s %7s %7s %-3s %-15s %-15s %s\n'
printf "$fmt" kpi ent_s ent_mib ev_s ev_mib dk_s dk_mib dke_s dke_mib ev/ent dk/ent ent/dke ev/dk rows bt a=b d~a c~b
declare -A TOT EXT PEAK
for c in a b c d; do TOT[$c]=0; EXT[$c]=0; PEAK[$c]=0; done
failed=0 disagree=0 complete=0
for k in $LIST; do
  S=([a]=- [b]=- [c]=- [d]=-); M=([a]=- [b]=- [c]=- [d]=-); FILE=()
  bt=$(awk -F'\t' -v k="$k" '$1 == k && $3 == "business" {print "c"}' "$OUT/sql/kpis.tsv")
  if want d && [ -f "$OUT/sql-entities/kpis.tsv" ]; then
    bt+=$(awk -F'\t' -v k="$k" '$1 == k && $3 == "business" {print "d"}' "$OUT/sql-entities/kpis.tsv")
  fi
  fa=$OUT/fh-entities/$k.csv fb=$OUT/fh-events/$k.csv fc=$OUT/duckdb/$k.csv fd=$OUT/duckdb-entities/$k.csv
  fh=("$BIN" --data-dir "$DATA_DIR" kpi "$k" --now "$NOW" --sql-dir "$ROOT/sql" --format csv)
  if want a; then measure a "$fa" "${fh[@]}" -o "$fa" --source auto; fi
  if want b; then measure b "$fb" "${fh[@]}" -o "$fb" "${SOURCE_EVENTS[@]}"; fi
  if want c; then
    if [ -f "$OUT/sql/$k.sql" ]; then measure c "$fc" "$PY" "$HERE/duck.py" run "$OUT/sql/$k.sql" "$fc"; else S[c]=none; fi
  fi
  if want d; then
    if [ -f "$OUT/sql-entities/$k.sql" ]; then measure d "$fd" "$PY" "$HERE/duck.py" run "$OUT/sql-entities/$k.sql" "$fd"; else S[d]=none; fi
  fi

  rows=-
  if [ -n "${FILE[a]:-}" ]; then rows=$(rows_of "$fa"); elif [ -n "${FILE[b]:-}" ]; then rows=$(rows_of "$fb"); fi
  ab=$(verdict "${FILE[a]:-/nonexistent}" "${FILE[b]:-/nonexistent}" entities,events)
  da=$(verdict "${FILE[a]:-/nonexistent}" "${FILE[d]:-/nonexistent}" fieldhouse,duckdb)
  cb=$(verdict "${FILE[b]:-/nonexistent}" "${FILE[c]:-/nonexistent}" fieldhouse,duckdb)
  case "$ab" in -|same|same-unordered|close:*) ;; *) disagree=1 ;; esac

  # Totals over the KPIs every wanted column computed, so that the ratios of the totals compare alike.
  ok=1
  for c in a b c d; do
    if want "$c" && [ -z "${FILE[$c]:-}" ]; then ok=0; fi
  done
  if [ "$ok" = 1 ]; then
    complete=$((complete + 1))
    for c in a b c d; do
      want "$c" || continue
      TOT[$c]=$(add "${TOT[$c]}" "${S[$c]}")
      if [ -z "$bt" ]; then EXT[$c]=$(add "${EXT[$c]}" "${S[$c]}"); fi
      if [ "${M[$c]}" -gt "${PEAK[$c]}" ]; then PEAK[$c]=${M[$c]}; fi
    done
  fi
  printf "$fmt" "$k" "${S[a]}" "${M[a]}" "${S[b]}" "${M[b]}" "${S[c]}" "${M[c]}" "${S[d]}" "${M[d]}" \
    "$(ratio "${S[b]}" "${S[a]}")" "$(ratio "${S[c]}" "${S[a]}")" "$(ratio "${S[a]}" "${S[d]}")" \
    "$(ratio "${S[b]}" "${S[c]}")" "$rows" "$bt" "$ab" "$da" "$cb"
done

# Skipped columns show `-` in the totals too.
for c in a b c d; do
  if ! want "$c"; then TOT[$c]=-; EXT[$c]=-; PEAK[$c]=-; fi
done
printf "$fmt" total "${TOT[a]}" "${PEAK[a]}" "${TOT[b]}" "${PEAK[b]}" "${TOT[c]}" "${PEAK[c]}" "${TOT[d]}" "${PEAK[d]}" \
  "$(ratio "${TOT[b]}" "${TOT[a]}")" "$(ratio "${TOT[c]}" "${TOT[a]}")" "$(ratio "${TOT[a]}" "${TOT[d]}")" \
  "$(ratio "${TOT[b]}" "${TOT[c]}")" "" "" "($complete KPIs every column computed; MiB = the peak of any KPI)"
printf "$fmt" "total without bt" "${EXT[a]}" "" "${EXT[b]}" "" "${EXT[c]}" "" "${EXT[d]}" "" \
  "$(ratio "${EXT[b]}" "${EXT[a]}")" "$(ratio "${EXT[c]}" "${EXT[a]}")" "$(ratio "${EXT[a]}" "${EXT[d]}")" \
  "$(ratio "${EXT[b]}" "${EXT[c]}")" "" "" "(the exact DuckDB comparisons)"
echo "bt = the DuckDB columns that take every calendar as 24x7 (c: over raw events, d: over the entity tables); their values differ there (see $OUT/sql/kpis.tsv, $OUT/sql-entities/kpis.tsv)"
echo "details of a difference: python3 $HERE/compare.py $OUT/fh-entities/NAME.csv $OUT/fh-events/NAME.csv --names entities,events --detail 20"
echo "                    (or $OUT/fh-events/NAME.csv $OUT/duckdb/NAME.csv, $OUT/fh-entities/NAME.csv $OUT/duckdb-entities/NAME.csv)"
if [ "$disagree" = 1 ]; then echo "(a) and (b) disagree on some KPI (column a=b): the entity tables do not give the raw events' answers" >&2; fi
[ "$failed" = 0 ] && [ "$disagree" = 0 ]
