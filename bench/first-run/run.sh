#!/usr/bin/env bash
# What a new user waits for, from a clean target directory: the release build
# of the README's first command, then each step of `fieldhouse demo` until the
# dashboard is warm and serving. Prints one table.
#
#   bench/first-run/run.sh                 # default size, a fresh target dir in a temp dir
#   bench/first-run/run.sh small           # the one-minute tour
#   TARGET=~/.cache/x bench/first-run/run.sh   # build into this (clean it first to measure a clean build)
#   BIN=path/to/fieldhouse bench/first-run/run.sh   # skip the build, time the demo only
#   KEEP_DATA=/tmp/d bench/first-run/run.sh          # keep the demo's data directory there (for bench/kpi, bench/live)
#
# The dashboard counts as serving when the server has logged "dashboard cache
# warmed" (the home pages of every token holder are computed); then the demo
# is stopped. Figures are wall-clock seconds of one run on this machine.
set -euo pipefail
size="${1:-default}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
pid=""
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; [ -z "${KEEP_DATA:-}" ] || [ ! -d "$work/data" ] || mv "$work/data" "$KEEP_DATA"; rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

build_s="-"
if [ -z "${BIN:-}" ]; then
  target="${TARGET:-$work/target}"
  echo "== clean release build into $target (cargo build --release -p fieldhouse-cli)" >&2
  t0=$(now)
  (cd "$root" && CARGO_TARGET_DIR="$target" cargo build --release --locked -q -p fieldhouse-cli)
  build_s=$(secs "$t0" "$(now)")
  BIN="$target/release/fieldhouse"
fi
bin_mb=$(awk -v b="$(stat -c %s "$BIN")" 'BEGIN { printf "%.0f", b / 1048576 }')

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
echo "== fieldhouse demo --size $size (serving on 127.0.0.1:$port)" >&2
t0=$(now)
"$BIN" --data-dir "$work/data" demo --size "$size" --addr "127.0.0.1:$port" >"$work/log" 2>&1 &
pid=$!
until grep -qs "dashboard cache warmed" "$work/log"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    cat "$work/log" >&2
    echo "the demo stopped before serving" >&2
    exit 1
  fi
  sleep 1
done
serving_s=$(secs "$t0" "$(now)")
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null
kill "$pid"
wait "$pid" 2>/dev/null || true
pid=""

step() { # name in the demo's "time per step" table → seconds
  awk -v n="$1" '$1 == n { v = $2; u = $3; if (u == "s") print v; else { sub("m", "", v); sub("s", "", u); print v * 60 + u } }' "$work/log" | tail -1
}
warm_ms=$(sed -nE 's/.*ms=([0-9]+).*dashboard cache warmed.*/\1/p; s/.*dashboard cache warmed.*ms=([0-9]+).*/\1/p' "$work/log" | head -1)
errors=$(grep -cE ' (ERROR|WARN) ' "$work/log" || true)
printf '\n| step | seconds |\n|---|---|\n'
printf '| release build (clean) | %s |\n' "$build_s"
printf '| binary size | %s MiB |\n' "$bin_mb"
printf '| [1/5] simulation | %s |\n' "$(step simulation)"
printf '| [2/5] ingest | %s |\n' "$(step ingest)"
printf '| [2/5] entity tables | %s |\n' "$(step entities)"
printf '| [3/5] KPIs | %s |\n' "$(step KPIs)"
printf '| [4/5] reports | %s |\n' "$(step reports)"
printf '| [5/5] dashboard warm | %s |\n' "$(awk -v m="${warm_ms:-0}" 'BEGIN { printf "%.1f", m / 1000 }')"
printf '| demo start → dashboard serving | %s |\n' "$serving_s"
printf '| ERROR/WARN log lines | %s |\n' "$errors"
