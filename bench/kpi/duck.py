#!/usr/bin/env python3
"""Run the DuckDB translations made by bench/kpi/translate.py (needs the `duckdb` package).

    duck.py run FILE.sql OUT.csv     run one KPI file, write its result as CSV (header, NULL = empty)
    duck.py now LAKE                 the lake's last event instant (RFC 3339, whole seconds, rounded up)
    duck.py checklake LAKE           exit 1 if the events table's Delta log removed files (an optimize/compaction:
                                     reading every Parquet file would double rows); warn about data files the
                                     log does not add (failed commits)
    duck.py selftest                 translate every KPI against an empty lake (one empty Parquet file
                                     with the events schema of domain/src/arrow_schema.rs) and check
                                     that each file parses, plans (EXPLAIN) and runs in DuckDB

`run` executes the file's settings, views and macros, then the KPI query (the text after the
translate.QUERY_MARKER line), with DuckDB's defaults otherwise (threads = cores, memory_limit
= 80 % of RAM). It prints the in-process query seconds on stderr.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import translate  # noqa: E402


def split(text: str) -> tuple[str, str]:
    setup, marker, query = text.partition(translate.QUERY_MARKER)
    if not marker:
        raise SystemExit(f"no `{translate.QUERY_MARKER}` line: not a translate.py file")
    return setup, query.strip().rstrip(";")


def run(file: str, out: str) -> int:
    setup, query = split(Path(file).read_text())
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(setup)
    con.sql(query).write_csv(out, header=True)
    print(f"duckdb {Path(file).stem}: {time.perf_counter() - t0:.3f} s in process", file=sys.stderr)
    return 0


def now(lake: str) -> int:
    glob = str(Path(lake).resolve() / "events" / "event_date=*" / "*.parquet")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    t = con.execute(f"SELECT epoch_us(max(occurred_at)) FROM read_parquet({translate.sql_str(glob)})").fetchone()[0]
    if t is None:
        raise SystemExit(f"no events under {glob}")
    secs = math.ceil(t / 1_000_000)
    print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(secs)))
    return 0


def checklake(lake: str) -> int:
    import json
    from urllib.parse import unquote

    table = Path(lake) / "events"
    log = table / "_delta_log"
    if not log.is_dir():
        raise SystemExit(f"{table} is not a Delta table (no _delta_log/)")
    added, removed = set(), set()
    for f in sorted(log.glob("*.json")):
        for line in f.read_text().splitlines():
            if not line.strip():
                continue
            action = json.loads(line)
            if "add" in action:
                added.add(unquote(action["add"]["path"]))
            if "remove" in action:
                removed.add(unquote(action["remove"]["path"]))
    on_disk = {str(p.relative_to(table)) for p in table.glob("event_date=*/*.parquet")}
    if removed:
        print(f"{table}: the Delta log removes {len(removed)} file(s) (optimize/compaction?): reading every Parquet "
              "file would count their rows twice. Benchmark a lake that was never compacted.", file=sys.stderr)
        return 1
    stray = on_disk - added
    if stray and not (log / "_last_checkpoint").exists():
        print(f"warning: {len(stray)} Parquet file(s) under {table} are not in the Delta log (failed commits?); "
              "DuckDB reads them, Fieldhouse does not", file=sys.stderr)
    return 0


def empty_lake(root: Path) -> Path:
    cols, part = translate.events_columns()
    d = root / "lake" / "events" / f"{part}=2026-01-01"
    d.mkdir(parents=True)
    select = ", ".join(f'CAST(NULL AS {t}) AS "{c}"' for c, t in cols if c != part)
    duckdb.connect().execute(f"COPY (SELECT {select} WHERE false) TO '{d / 'part-00000.parquet'}' (FORMAT parquet)")
    return root / "lake"


def selftest() -> int:
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        lake = empty_lake(Path(tmp))
        out = Path(tmp) / "sql"
        listing = translate.generate(str(lake), "2026-03-31T23:59:59Z", out)
        for name, business, _ in listing:
            setup, query = split((out / f"{name}.sql").read_text())
            try:
                con = duckdb.connect()
                con.execute(setup)
                con.execute(f"EXPLAIN {query}").fetchall()
                rel = con.sql(query)
                rows = rel.fetchall()
                print(f"ok   {name:<28} {len(rel.columns):>2} columns, {len(rows)} rows on the empty lake"
                      f"{'  (business time)' if business else ''}")
            except duckdb.Error as e:
                bad += 1
                print(f"FAIL {name:<28} {str(e).splitlines()[0]}")
    print(f"{len(listing) - bad} of {len(listing)} KPI files parse, plan and run")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "run":
        return run(argv[1], argv[2])
    if len(argv) == 2 and argv[0] == "now":
        return now(argv[1])
    if len(argv) == 2 and argv[0] == "checklake":
        return checklake(argv[1])
    if argv == ["selftest"]:
        return selftest()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
