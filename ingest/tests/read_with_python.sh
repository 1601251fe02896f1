#!/usr/bin/env bash
# Read a Fieldhouse lake's `events` table with an outside engine (Python
# `deltalake`, the delta-rs bindings, with pyarrow) and check its row count and
# a checksum: sha256 of the sorted event_ids joined by "\n".
#
#   read_with_python.sh LAKE_DIR EXPECTED_ROWS EXPECTED_SHA256
#
# Installs `deltalake` and `pyarrow` from PyPI into a venv (cached in
# $FIELDHOUSE_PY_VENV, default ~/.cache/fieldhouse/pyvenv).
set -euo pipefail
lake="$1"; rows="$2"; sum="$3"
venv="${FIELDHOUSE_PY_VENV:-$HOME/.cache/fieldhouse/pyvenv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c "import deltalake, pyarrow" 2>/dev/null \
  || "$venv/bin/pip" install --quiet "deltalake>=0.25" "pyarrow>=15" >&2
"$venv/bin/python" - "$lake" "$rows" "$sum" <<'PY'
import hashlib, os, sys
from deltalake import DeltaTable
lake, rows, want = sys.argv[1], int(sys.argv[2]), sys.argv[3]
dt = DeltaTable(f"{lake}/events")
proto = dt.protocol()
assert (proto.min_reader_version, proto.min_writer_version) == (1, 2), proto
t = dt.to_pyarrow_table(columns=["event_id", "event_date", "occurred_at"])
ids = sorted(t.column("event_id").to_pylist())
got = hashlib.sha256("\n".join(ids).encode()).hexdigest()
print(f"python deltalake read {t.num_rows} rows, version {dt.version()}, checksum {got}")
assert t.num_rows == rows, (t.num_rows, rows)
assert got == want, (got, want)
assert str(t.schema.field("occurred_at").type) == "timestamp[us, tz=UTC]", t.schema
print("ok", flush=True)
# The deltalake wheel can abort in its runtime threads at interpreter exit;
# every check has passed here, so leave without running finalizers.
os._exit(0)
PY
