#!/usr/bin/env bash
# Time every KPI of the catalog over a lake, one process per KPI, with peak memory.
#
#   bench/kpi/run.sh [DATA_DIR]      (default: ./fieldhouse-data, e.g. after `fieldhouse sim --size large`)
#
# Prints one line per KPI: name, wall seconds, peak RSS (MiB), rows; then the total.
# With DuckDB on PATH it also runs bench/kpi/duckdb/<name>.sql (the same KPI translated,
# over <lake>/events/**/*.parquet) when such a file exists and prints the ratio.
# Not done yet: the DuckDB translations (business-time KPIs cannot be compared: DuckDB has
# no business calendar; say so in any published figure).
set -euo pipefail
DATA_DIR=${1:-./fieldhouse-data}
BIN=${FIELDHOUSE_BIN:-target/release/fieldhouse}
HERE=$(cd "$(dirname "$0")" && pwd)
[ -x "$BIN" ] || cargo build --release -p fieldhouse-cli
KPIS=$("$BIN" --data-dir "$DATA_DIR" kpi --list | awk 'NF && $1 !~ /^(unit|params):/ && substr($0,1,1) != " " {print $1}')
total=0
printf '%-28s %10s %10s %8s %10s\n' kpi seconds peak_mib rows duckdb_x
for k in $KPIS; do
  out=$(mktemp)
  /usr/bin/time -f '%e %M' -o "$out.time" "$BIN" --data-dir "$DATA_DIR" kpi "$k" --format csv -o "$out" >/dev/null
  read -r secs kib < "$out.time"
  rows=$(( $(wc -l < "$out") - 1 ))
  ratio=-
  if command -v duckdb >/dev/null && [ -f "$HERE/duckdb/$k.sql" ]; then
    d0=$(date +%s.%N)
    sed "s|{{lake}}|$DATA_DIR/lake|g" "$HERE/duckdb/$k.sql" | duckdb >/dev/null
    d1=$(date +%s.%N)
    ratio=$(echo "$secs / ($d1 - $d0)" | bc -l | xargs printf '%.2f')
  fi
  printf '%-28s %10s %10d %8d %10s\n' "$k" "$secs" $((kib / 1024)) "$rows" "$ratio"
  total=$(echo "$total + $secs" | bc -l)
  rm -f "$out" "$out.time"
done
printf '%-28s %10.2f\n' total "$total"
