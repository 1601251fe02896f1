#!/usr/bin/env bash
# Read every entity table of a Fieldhouse lake with an outside engine (Python
# `deltalake`, the delta-rs bindings over the Delta kernel, with pyarrow) and
# print one line per table: `NAME ROWS VERSION`.
#
#   read_entities.sh LAKE_DIR
#
# Installs `deltalake` and `pyarrow` from PyPI into a venv (cached in
# $FIELDHOUSE_PY_VENV, default ~/.cache/fieldhouse/pyvenv), as
# ingest/tests/read_with_python.sh does.
set -euo pipefail
lake="$1"
venv="${FIELDHOUSE_PY_VENV:-$HOME/.cache/fieldhouse/pyvenv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -c "import deltalake, pyarrow" 2>/dev/null \
  || "$venv/bin/pip" install --quiet "deltalake>=0.25" "pyarrow>=15" >&2
"$venv/bin/python" - "$lake" <<'PY'
import os, sys
from deltalake import DeltaTable
root = os.path.join(sys.argv[1], "entities")
for name in sorted(os.listdir(root)):
    if not os.path.isdir(os.path.join(root, name, "_delta_log")):
        continue
    dt = DeltaTable(os.path.join(root, name))
    proto = dt.protocol()
    assert (proto.min_reader_version, proto.min_writer_version) == (1, 2), (name, proto)
    print(name, dt.to_pyarrow_table().num_rows, dt.version(), flush=True)
# The deltalake wheel can abort in its runtime threads at interpreter exit.
os._exit(0)
PY
