#!/usr/bin/env bash
# The release build every benchmark uses: the `fieldhouse` binary and the
# bench examples, built in ONE cargo invocation over the same packages, so
# that cargo's feature unification gives every script the same dependency
# build (building one package alone would compile DataFusion and delta-rs
# again with another feature set).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/fieldhouse/target}"
cargo build --release -q -p fieldhouse-cli -p fieldhouse-sim -p fieldhouse-ingest --bins --examples
