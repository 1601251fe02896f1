#!/usr/bin/env bash
# Events per second of the simulator, library path (sim -> fieldhouse_ops::Ops
# -> SQLite outbox) and HTTP path (sim -> HTTP API -> the same core), in one run.
#
#   bench/sim/run.sh [small|default|large] [HTTP_MONTHS]
#   bench/sim/run.sh default 1      # the default: 1 month of the preset both ways, and the ratio
#   FULL=1 bench/sim/run.sh         # also the full preset (12 months) in-process first
#   bench/sim/run.sh small memory   # one backend only: memory | ops | ops-unbatched | http
#   bench/sim/run.sh default batching   # library path as a bulk load vs one commit per operation (MONTHS=1)
#
# The library path is a bulk load (`fieldhouse_ops::Ops::bulk`: operations
# committed in batches, one savepoint each, as `fieldhouse simulate` runs);
# `ops-unbatched` is the same with one durable commit per operation, as the
# HTTP API commits (the same events; the baseline of the batching).
# The HTTP path runs the full API in-process on 127.0.0.1 (bearer-token auth on,
# request ids, tracing and metrics layers). A full default-preset year over
# HTTP takes long on a small machine, so it runs the preset bounded to
# HTTP_MONTHS (default 1) and the library path runs the same bounded preset too
# (events/s of a bounded run is a little higher than a full year's: the
# databases are smaller).
# The CLI measures the same paths:
#   fieldhouse --data-dir DIR simulate --size default
#   fieldhouse simulate --size default --target http://HOST:PORT --token TOKEN
# Databases go to a temp dir on disk (every commit of the HTTP and unbatched paths fsynced, the bulk
# load's log at checkpoints and at the end); BENCH_DIR=/dev/shm/x measures without fsync.
set -euo pipefail
size="${1:-default}"
second="${2:-1}"
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fieldhouse/target}"
dir="${BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$dir"
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$dir"' EXIT
bench/build.sh
bin="$CARGO_TARGET_DIR/release/examples/simulate"
run() { # backend subdir [--months N]
  local backend="$1" sub="$2"
  shift 2
  "$bin" "$size" "$backend" "$dir/$sub" "$@" | tail -1
}
eps() { sed -E 's/.*events_per_second=([0-9]+).*/\1/' <<<"$1"; }
case "$second" in
  memory | ops | ops-unbatched | http) run "$second" one ;;
  batching)
    months="${MONTHS:-1}"
    unbatched="$(run ops-unbatched unbatched --months "$months")"
    bulk="$(run ops bulk --months "$months")"
    echo "$unbatched"
    echo "$bulk"
    awk -v u="$(eps "$unbatched")" -v b="$(eps "$bulk")" 'BEGIN { printf "ratio bulk/unbatched (same %s-month run) = %.1f\n", ARGV[1], b / u }' "$months"
    ;;
  *)
    [ -z "${FULL:-}" ] || run ops full
    lib="$(run ops lib-bounded --months "$second")"
    http="$(run http http-bounded --months "$second")"
    echo "$lib"
    echo "$http"
    awk -v l="$(eps "$lib")" -v h="$(eps "$http")" 'BEGIN { printf "ratio http/library (same %s-month run) = %.3f\n", ARGV[1], h / l }' "$second"
    ;;
esac
