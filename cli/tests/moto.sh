#!/usr/bin/env bash
# Start moto, a local S3-compatible server, on 127.0.0.1:PORT (for tests/s3.rs).
#
#   moto.sh PORT
#
# Installs moto[server] from PyPI into a venv (cached in $FIELDHOUSE_PY_VENV,
# default ~/.cache/fieldhouse/pyvenv, shared with the other Python checks).
# Exits 3 when the venv cannot be made or moto cannot be installed.
set -euo pipefail
port="$1"
venv="${FIELDHOUSE_PY_VENV:-$HOME/.cache/fieldhouse/pyvenv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2 || exit 3
fi
"$venv/bin/python" -c "import moto.server, flask" 2>/dev/null \
  || "$venv/bin/pip" install --quiet "moto[server]==5.2.6" >&2 || exit 3
exec "$venv/bin/python" -m moto.server -H 127.0.0.1 -p "$port" >/dev/null 2>&1
