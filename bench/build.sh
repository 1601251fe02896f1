#!/usr/bin/env bash
# The release build every benchmark uses: the `fieldhouse` binary and the
# bench examples, built in ONE cargo invocation over the same packages, so
# that cargo's feature unification gives every script the same dependency
# build (building one package alone would compile DataFusion and delta-rs
# again with another feature set). The simulator's bench examples
# (`simulate`, `ops_lifecycles`) are in fieldhouse-tests (tests/examples/):
# they start the API in-process, a layer above the simulator. With the
# feature `cluster` (`fieldhouse cluster`, `kpi --engine ballista`) for
# bench/distributed.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fieldhouse/target}"
cargo build --release -q -p fieldhouse-cli -p fieldhouse-tests -p fieldhouse-ingest --bins --examples --features fieldhouse-cli/cluster
