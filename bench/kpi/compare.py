#!/usr/bin/env python3
"""Compare a KPI's CSV from `fieldhouse kpi --format csv` with the DuckDB translation's CSV
(or any two such CSVs: Fieldhouse over the entity tables and over the raw events, ...).

    compare.py FIELDHOUSE.csv DUCKDB.csv [--detail N] [--names A,B]

Prints one line: `ROWS_A ROWS_B VERDICT`, VERDICT one of
  same                 same header, same rows in the same order (numbers within 1e-9 relative,
                       instants compared as instants: the two engines format them differently)
  same-unordered       the same rows in another order
  close:COL=DELTA,..   same shape, numbers differ by at most 0.01 (a last-digit rounding of a
                       round(.., 2) after a different summation order); the largest delta per column
  differs:COL,..       same shape, these columns differ
  header               the column names differ
  rows                 the row counts differ
With --detail N, the first N differing cells (or rows) are printed after it, the two sides named
as --names says (default: fieldhouse,duckdb). Standard library only.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import sys

NUM = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
INSTANT = re.compile(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}(?::?\d{2})?)?")


def value(s: str):
    if s == "":
        return None
    if NUM.fullmatch(s):
        return float(s)
    m = INSTANT.fullmatch(s)
    if m:
        off = m.group(3) or "Z"
        if off == "Z":
            off = "+00:00"
        elif len(off) == 3:
            off += ":00"
        elif ":" not in off:
            off = off[:3] + ":" + off[3:]
        frac = m.group(2)
        if "." in frac:
            whole, f = frac.split(".")
            frac = whole + "." + (f + "000000")[:6]
        return dt.datetime.fromisoformat(f"{m.group(1)}T{frac}{off}").astimezone(dt.timezone.utc)
    return s


def read(path: str) -> tuple[list[str], list[list]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return [], []
    return rows[0], [[value(c) for c in r] for r in rows[1:]]


def delta(a, b) -> float | None:
    """0 if equal, the numeric difference if both numbers, None if different otherwise."""
    if a == b:
        return 0.0
    if isinstance(a, float) and isinstance(b, float):
        d = abs(a - b)
        return 0.0 if d <= 1e-9 * max(1.0, abs(a), abs(b)) else d
    return None


def key(row: list) -> tuple:
    return tuple((0, "") if v is None else (1, repr(v)) for v in row)


def main(argv: list[str]) -> int:
    detail = 0
    na, nb = "fieldhouse", "duckdb"
    if "--names" in argv:
        i = argv.index("--names")
        na, nb = argv[i + 1].split(",", 1)
        argv = argv[:i] + argv[i + 2 :]
    if "--detail" in argv:
        i = argv.index("--detail")
        detail = int(argv[i + 1])
        argv = argv[:i] + argv[i + 2 :]
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    ha, a = read(argv[0])
    hb, b = read(argv[1])
    head = f"{len(a)} {len(b)}"
    notes: list[str] = []
    if [h.lower() for h in ha] != [h.lower() for h in hb]:
        print(f"{head} header")
        if detail:
            w = max(len(na), len(nb)) + 1
            print(f"  {na + ':':<{w}} {','.join(ha)}\n  {nb + ':':<{w}} {','.join(hb)}")
        return 0
    if len(a) != len(b):
        print(f"{head} rows")
        if detail:
            sa, sb = {key(r) for r in a}, {key(r) for r in b}
            for r in [r for r in a if key(r) not in sb][:detail]:
                notes.append(f"  only {na}: {r}")
            for r in [r for r in b if key(r) not in sa][:detail]:
                notes.append(f"  only {nb}: {r}")
            print("\n".join(notes))
        return 0

    def diffs(xa, xb):
        worst: dict[str, float | None] = {}
        cells = []
        for ra, rb in zip(xa, xb):
            for h, va, vb in zip(ha, ra, rb):
                d = delta(va, vb)
                if d != 0.0:
                    prev = worst.get(h, 0.0)
                    worst[h] = None if d is None or prev is None else max(prev, d)
                    cells.append(f"  {h}: {na} {va!r} {nb} {vb!r}")
        return worst, cells

    worst, cells = diffs(a, b)
    verdict = "same"
    if worst:
        ws, cs = diffs(sorted(a, key=key), sorted(b, key=key))
        if not ws:
            verdict, cells = "same-unordered", []
        else:
            if len(ws) < len(worst):
                worst, cells = ws, cs
            if all(d is not None and d <= 0.0100001 for d in worst.values()):
                verdict = "close:" + ",".join(f"{h}={d:.2g}" for h, d in worst.items())
            else:
                verdict = "differs:" + ",".join(worst)
    print(f"{head} {verdict}")
    if detail and cells:
        print("\n".join(cells[:detail]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
