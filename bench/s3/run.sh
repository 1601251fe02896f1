#!/usr/bin/env bash
# Ingest into a lake on S3 beside a local-directory lake, same events, one run:
# the outbox relay (`fieldhouse ingest --no-entities`) of a simulated
# organisation into (a) <data-dir>/lake and (b) s3://bench/<run> on moto, a
# local S3-compatible server on loopback (installed from PyPI into the cached
# venv by cli/tests/moto.sh). Prints events/s of each and their ratio.
#
#   bench/s3/run.sh [MONTHS]     # months of the `small` preset (default 6)
#
# Needs: the release binary ($BIN, default $CARGO_TARGET_DIR/release/fieldhouse;
# bench/build.sh builds it) and python3. Moto is a Python server: the S3 figure measures it as much as us;
# on AWS S3 a commit costs a few round trips of ~10-30 ms instead.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
MONTHS="${1:-6}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fieldhouse/target}"
BIN="${BIN:-$CARGO_TARGET_DIR/release/fieldhouse}"
[ -x "$BIN" ] || { echo "no binary at $BIN (run bench/build.sh)" >&2; exit 1; }
work="$(mktemp -d)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bash "$root/cli/tests/moto.sh" "$port" &
moto=$!
trap 'kill $moto 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
printf 'PUT /bench HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' > /dev/tcp/127.0.0.1/$port
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true
unset FIELDHOUSE_LAKE

echo "== simulating $MONTHS months (small preset)" >&2
"$BIN" --data-dir "$work/sim" simulate --size small --months "$MONTHS" --quiet >/dev/null
events=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from outbox').fetchone()[0])" "$work/sim/ops.db")
echo "== $events events in the outbox" >&2

run() { # run local|s3 N : one relay of the whole outbox into a fresh lake; prints seconds
  local kind="$1" n="$2" d="$work/run-$1-$2"
  mkdir -p "$d"; cp "$work/sim/ops.db" "$d/"
  local lake=()
  [ "$kind" = s3 ] && lake=(--lake "s3://bench/run-$n")
  local t0 t1
  t0=$(date +%s.%N)
  "$BIN" --data-dir "$d" "${lake[@]}" ingest --no-entities >/dev/null 2>&1
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1-$t0:.2f}')"
}
RUNS="${RUNS:-3}"
declare -a L S
for i in $(seq "$RUNS"); do  # alternated, so both see the same machine
  L+=("$(run local "$i")"); S+=("$(run s3 "$i")")
done
python3 - "$events" "${L[*]}" "${S[*]}" <<'PY'
import statistics, sys
n = int(sys.argv[1]); l = [float(x) for x in sys.argv[2].split()]; s = [float(x) for x in sys.argv[3].split()]
ml, ms = statistics.median(l), statistics.median(s)
print(f"events: {n}, runs: {len(l)} each (alternated)")
print(f"local directory: median {ml:.2f} s  ({n/ml:,.0f} events/s)  runs {l}")
print(f"S3 (moto)      : median {ms:.2f} s  ({n/ms:,.0f} events/s)  runs {s}")
print(f"S3 / local time: {ms/ml:.2f}x")
PY
