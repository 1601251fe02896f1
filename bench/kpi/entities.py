#!/usr/bin/env python3
"""The lake's entity tables for DuckDB (needs the `deltalake` package; not `duckdb`).

    entities.py status LAKE [--sql-dir DIR]
        one line: the events version the entity tables reflect, the events table's latest
        version, the tables and their files; exit 1 when the tables do not reflect the latest
        events version or a table is missing (then `fieldhouse kpi --source auto` computes
        from the raw events, and column (a) of bench/kpi/run.sh would not be what it says)
    entities.py translate --lake LAKE --now T --out DIR [--sql-dir DIR] [--list]
        the DuckDB translations of bench/kpi/translate.py, but every entity view read from
        its entity table: DIR/<kpi>.sql and DIR/kpis.tsv, as translate.py writes them

The entity tables (engine/src/entity/) are the views of sql/views with an `-- entity:` line,
kept as Delta tables at LAKE/entities/<view>. Which version of each is consistent with which
`events` version is said by the manifest, the folder LAKE/entities/_manifest/
(engine/src/entity/manifest.rs: Manifest): one whole JSON object per maintenance pass,
`<events version, 20 digits>-<written at, ns, 20 digits>.json` holding
`{"events_version": E, "tables": {name: version, ..every table}, "sql": {name: digest, ..}}`,
the full state (nothing to replay). Names sort by events version then time: the greatest name
of an events version is its state; other files in the folder are not manifest objects. (A lake
with only the old `_versions.jsonl` has no manifest: the engine rebuilds its tables once.) This
reads the manifest as the engine does and takes the state of the events table's latest
version: the tables Fieldhouse reads with `--source auto`.

The tables are rewritten by Delta `replaceWhere` and compacted by `fieldhouse lake optimize`,
so their directories hold files that the current version removed. The files of a version are
taken from the Delta log (`DeltaTable(path, version=v).file_uris()`), never from a glob. In
the translations, an entity view becomes `SELECT * FROM read_parquet([<its active files>])`
(a table with no file: typed NULLs from its Delta schema, no rows), and `events` reads the
active files of the events table at the same events version (so, unlike translate.py's
default, a compacted lake is fine here; no KPI reads `events` directly anyway). The views
without an `-- entity:` line (`orders`: the SLA states at fh_now() over `orders_core`) are
translated as translate.py translates them, business-time macros included.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from deltalake import DeltaTable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import translate  # noqa: E402
from manifest import manifest_key  # noqa: E402

MANIFEST = "_manifest"  # the folder of the manifest objects under LAKE/entities


# ---------------------------------------------------------------------------
# The manifest (engine/src/entity/manifest.rs: Manifest)
# ---------------------------------------------------------------------------


def manifest(lake: Path) -> list[tuple[int, dict[str, int]]]:
    """The state of each events version in the manifest, in order: (events version, every
    table's version) from the newest object (greatest name) of that version."""
    folder = lake / "entities" / MANIFEST
    if not folder.is_dir():
        return []
    newest: dict[int, str] = {}
    for f in folder.iterdir():
        v = manifest_key(f.name)
        if v is not None and f.is_file() and f.name > newest.get(v, ""):
            newest[v] = f.name
    entries: list[tuple[int, dict[str, int]]] = []
    for v in sorted(newest):
        path = folder / newest[v]
        try:
            m = json.loads(path.read_text())
            int(m["events_version"])  # the engine takes the version from the name, but needs the field
            tables = {str(k): int(t) for k, t in m["tables"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            print(f"warning: {path}: skipping a bad manifest object ({e})", file=sys.stderr)
            continue
        entries.append((v, tables))
    return entries


@dataclass
class Snapshot:
    events_version: int  # the events version the entity tables reflect (the manifest state's)
    events_latest: int  # the events table's latest version
    tables: dict[str, int]  # every entity table's version in that state
    missing: list[str]  # entity views of the SQL that the state does not list

    @property
    def current(self) -> bool:
        return self.events_version == self.events_latest and not self.missing


def snapshot(lake: Path, sql_dir: Path) -> Snapshot:
    """The manifest state Fieldhouse's `--source auto` reads (the one of the latest events
    version) or, when there is none, the latest state (stale: `current` is false)."""
    events_latest = DeltaTable(str(lake / "events")).version()
    entries = manifest(lake)
    if not entries:
        raise SystemExit(
            f"no entity manifest at {lake / 'entities' / MANIFEST}: run `fieldhouse --data-dir D lake update-entities`"
        )
    at_latest = [e for e in entries if e[0] == events_latest]
    events_version, tables = at_latest[-1] if at_latest else entries[-1]
    missing = [v for v in translate.entity_view_names(sql_dir) if v not in tables]
    return Snapshot(events_version, events_latest, tables, missing)


# ---------------------------------------------------------------------------
# Delta tables as DuckDB sources
# ---------------------------------------------------------------------------


def local_path(uri: str) -> str:
    """A file URI of the Delta log as a local path (deltalake gives plain paths for local tables)."""
    if uri.startswith("file:"):
        return unquote(urlparse(uri).path)
    return uri


def duck_type(t) -> str:
    """A Delta schema type (its JSON form) as a DuckDB type."""
    if isinstance(t, str):
        prim = {
            "string": "VARCHAR",
            "long": "BIGINT",
            "integer": "INTEGER",
            "short": "SMALLINT",
            "byte": "TINYINT",
            "float": "FLOAT",
            "double": "DOUBLE",
            "boolean": "BOOLEAN",
            "binary": "BLOB",
            "date": "DATE",
            "timestamp": "TIMESTAMPTZ",
            "timestamp_ntz": "TIMESTAMP",
        }
        if t in prim:
            return prim[t]
        if t.startswith("decimal"):
            return t.upper()
        raise SystemExit(f"entities.py: unknown Delta type {t!r}")
    if t["type"] == "array":
        return duck_type(t["elementType"]) + "[]"
    if t["type"] == "struct":
        return "STRUCT(" + ", ".join(f'"{f["name"]}" {duck_type(f["type"])}' for f in t["fields"]) + ")"
    if t["type"] == "map":
        return f"MAP({duck_type(t['keyType'])}, {duck_type(t['valueType'])})"
    raise SystemExit(f"entities.py: unknown Delta type {t!r}")


def active_files(path: Path, version: int | None) -> tuple[DeltaTable, list[str]]:
    dt = DeltaTable(str(path), version=version)
    return dt, [local_path(u) for u in dt.file_uris()]


def table_select(path: Path, version: int) -> tuple[str, int]:
    """A DuckDB SELECT of the rows of Delta table `path` at `version`, and its number of files."""
    dt, files = active_files(path, version)
    if not files:
        fields = json.loads(dt.schema().to_json())["fields"]
        cols = ", ".join(f'CAST(NULL AS {duck_type(f["type"])}) AS "{f["name"]}"' for f in fields)
        return f"SELECT {cols} WHERE false", 0
    hive = ", hive_partitioning = true" if dt.metadata().partition_columns else ""
    listing = ",\n    ".join(translate.sql_str(f) for f in files)
    return f"SELECT * FROM read_parquet([\n    {listing}]{hive})", len(files)


def sources(lake: Path, snap: Snapshot, sql_dir: Path) -> tuple[translate.EntitySources, int]:
    """The entity views of the SQL and `events` at `snap` as DuckDB sources, and the number of files."""
    views = {}
    nfiles = 0
    for name in translate.entity_view_names(sql_dir):
        version = snap.tables[name]
        path = lake / "entities" / name
        if not (path / "_delta_log").is_dir():
            raise SystemExit(f"the manifest names {path}, which is not a Delta table")
        views[name], n = table_select(path, version)
        nfiles += n
    _, part = translate.events_columns()
    _, files = active_files(lake / "events", snap.events_version)
    if files:
        listing = ",\n    ".join(translate.sql_str(f) for f in files)
        events_from = f"read_parquet([\n    {listing}], hive_partitioning = true, hive_types = {{'{part}': DATE}})"
    else:  # no events: one SELECT of typed NULLs stands in for the file
        cols, _ = translate.events_columns()
        events_from = "(SELECT " + ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in cols) + " WHERE false)"
    versions = ", ".join(f"{k} v{v}" for k, v in sorted(snap.tables.items()))
    note = (
        f"Entity tables of the manifest state for events version {snap.events_version} "
        f"(lake/entities/{MANIFEST}): {versions}."
    )
    return translate.EntitySources(views=views, events_from=events_from, note=note), nfiles


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------


def status(lake: Path, sql_dir: Path) -> int:
    snap = snapshot(lake, sql_dir)
    nfiles = sum(len(active_files(lake / "entities" / n, v)[1]) for n, v in snap.tables.items())
    state = "current" if snap.current else "NOT CURRENT"
    print(
        f"entity tables: {state}: they reflect events version {snap.events_version}, the lake's latest is "
        f"{snap.events_latest}; {len(snap.tables)} tables, {nfiles} active files"
        + (f"; missing: {', '.join(snap.missing)}" if snap.missing else "")
    )
    return 0 if snap.current else 1


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("status", help="do the entity tables reflect the latest events version?")
    st.add_argument("lake", type=Path)
    st.add_argument("--sql-dir", type=Path, default=translate.ROOT / "sql")
    tr = sub.add_parser("translate", help="DuckDB translations over the entity tables")
    tr.add_argument("--lake", required=True, type=Path, help="the lake directory (DATA_DIR/lake)")
    tr.add_argument("--now", required=True, help="fh_now(): an RFC 3339 instant, as given to `fieldhouse kpi --now`")
    tr.add_argument("--out", required=True, type=Path, help="directory for <kpi>.sql and kpis.tsv")
    tr.add_argument("--sql-dir", type=Path, default=translate.ROOT / "sql", help="the sql/ directory")
    tr.add_argument("--list", action="store_true", help="print kpi, exact/business and why")
    a = ap.parse_args(argv)
    lake = a.lake.resolve()
    if a.cmd == "status":
        return status(lake, a.sql_dir)
    snap = snapshot(lake, a.sql_dir)
    if not snap.current:
        raise SystemExit(
            f"the entity tables reflect events version {snap.events_version}, the lake's latest is "
            f"{snap.events_latest}"
            + (f", and the manifest lacks {', '.join(snap.missing)}" if snap.missing else "")
            + ": run `fieldhouse --data-dir D lake update-entities` first"
        )
    src, _ = sources(lake, snap, a.sql_dir)
    listing = translate.generate(str(lake), a.now, a.out, a.sql_dir, entities=src)
    if a.list:
        translate.print_listing(listing)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
