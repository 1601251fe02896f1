#!/usr/bin/env bash
# Full order lifecycles per second (open → assign → travel → arrive → part →
# work → end visit → complete → close → invoice → pay: 11 calls) through the
# library (fieldhouse_ops::Ops in-process) and through the HTTP API, in one
# run, with their ratio.
#
#   bench/ops/run.sh [N] [CLIENTS]          # default 2000 lifecycles, 4 concurrent clients
#   bench/ops/run.sh [N] [CLIENTS] serve    # HTTP against a real `fieldhouse serve` instead
#                                           # of the in-process server (both have auth on)
#
# The databases are in a temp dir on disk (SQLite WAL, synchronous=FULL: every
# commit is fsynced, as in production); BENCH_DIR=/dev/shm/... measures without fsync.
set -euo pipefail
N="${1:-2000}"
CLIENTS="${2:-4}"
MODE="${3:-inprocess}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fieldhouse/target}"
work="${BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
export TMPDIR="$work"
pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  [ -n "${BENCH_DIR:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

echo "== building (release)" >&2
"$root/bench/build.sh"
bin="$CARGO_TARGET_DIR/release/examples/ops_lifecycles"

args=(--lifecycles "$N" --clients "$CLIENTS")
if [ "$MODE" = serve ]; then
  "$root/bench/build.sh"
  fh="$CARGO_TARGET_DIR/release/fieldhouse"
  srv="$work/serve"
  mkdir -p "$srv"
  port=$((20000 + RANDOM % 20000))
  export FIELDHOUSE_TOKEN="$("$fh" --data-dir "$srv" token create --role admin --name bench --quiet)"
  "$fh" --data-dir "$srv" serve --addr "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  args+=(--target "http://127.0.0.1:$port")
fi

echo "== running: $bin ${args[*]}" >&2
"$bin" "${args[@]}"
