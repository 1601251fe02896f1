#!/usr/bin/env python3
"""Translate the KPI catalog to DuckDB, from the very SQL files Fieldhouse runs.

    bench/kpi/translate.py --lake DATA_DIR/lake --now 2026-03-31T23:59:59Z --out DIR [--sql-dir sql]

writes, for every KPI of ``sql/kpi/*.sql``, ``DIR/<kpi>.sql``: one self-contained DuckDB
script (settings, the ``events`` view over the lake's Parquet files, helper macros, every
view of ``sql/views/*.sql`` as a ``CREATE TEMP VIEW``, then the KPI query with its defaults
bound), runnable as ``duckdb < DIR/<kpi>.sql`` or with ``bench/kpi/duck.py run``. It also
writes ``DIR/kpis.tsv`` (kpi, file, ``business`` or ``exact``, the business-time columns or
calls it reads). Python 3.11, standard library only.

How the files are read (the same rules as engine/src/sqlfiles.rs and engine/src/catalog.rs):
views in file-name order, each named after its file without the ``NN_`` prefix, body = the
whole file; a KPI's name is its ``-- name:`` header, its query = the text after the header
comments, ``-- param: NAME TYPE[?] [= DEFAULT] | doc`` declares ``$NAME``. The KPI is
rendered without group-by dimensions (every ``{{...}}`` placeholder becomes nothing, as
``KpiDef::render(&[])`` does) and every parameter is bound to its default as a typed
literal (timestamps as TIMESTAMPTZ, dates as DATE, optional parameters without a default as
typed NULLs).

The lake: ``events`` is a view over
``read_parquet('<lake>/events/event_date=*/*.parquet', hive_partitioning = true)`` with the
partition column typed DATE and every column cast to the type of the Arrow schema in
domain/src/arrow_schema.rs (parsed from that file, so the two cannot drift). This reads
EVERY Parquet data file of the table directory, not the Delta snapshot: the lake must not
have been optimized/compacted (``fieldhouse lake optimize``, or a server's scheduled
compaction) nor hold files of failed commits, or rows would be read twice (bench/kpi/run.sh
checks the Delta log for ``remove`` actions and for files it does not name). The glob is
``event_date=*/`` rather than ``**`` so the Delta checkpoints under ``_delta_log/`` (also
Parquet) are not read as events. DuckDB's ``delta`` extension would read the snapshot but is
not bundled and nothing may be downloaded at run time; the scripts turn extension
auto-install/auto-load off.

Dialect translation (token rewriting; strings, quoted names and comments are left alone):

* ``$name`` -> the parameter's literal; ``fh_now()`` -> ``TIMESTAMPTZ '<--now>'``.
* ``to_unixtime(x)`` -> ``(epoch_us(x) // 1000000)``: whole seconds as BIGINT, as
  DataFusion's to_unixtime (DuckDB's ``epoch()`` would keep the fraction, as a DOUBLE).
* ``json_str(j, 'k')`` -> ``json_extract_string(j, '$."k"')``; ``json_int`` ->
  ``TRY_CAST(json_extract_string(..) AS BIGINT)``; ``json_bool`` -> a CASE on the JSON text
  ``true``/``false``; ``json_array(j, 'k')`` -> ``json_extract_string(j, '$."k"[*]')``.
* ``named_struct('a', x, 'b', y)`` -> ``struct_pack("a" := x, "b" := y)``.
* ``first_value(x ORDER BY ..)`` (the aggregate) -> ``first(x ORDER BY ..)``: DuckDB's
  ``first_value`` is a window function only.
* ``median(x)`` -> ``fh_median(x)``: DuckDB's median, truncated to a whole number when ``x``
  is an integer type: DataFusion's median of integers is an integer (the mean of the two middle values,
  truncated).
* Decimal literals (``100.0``) -> ``CAST(100.0 AS DOUBLE)``: DataFusion reads them as
  Float64, DuckDB as DECIMAL. ``SET integer_division = true`` makes ``/`` of two integers an
  integer division as in DataFusion. ``SET default_null_order =
  'nulls_last_on_asc_first_on_desc'`` is DataFusion's (PostgreSQL's) NULL ordering.
* ``percentile_cont(p) WITHIN GROUP (ORDER BY x)``, ``string_agg(.. ORDER BY ..)``,
  ``array_agg``, ``unnest``, ``FILTER (WHERE ..)``, ``least``/``greatest`` (NULLs skipped in
  both) are the same in DuckDB and pass through.
* Business time. DuckDB has no business calendar: ``business_seconds``, ``sla_deadline``
  and ``sla_state`` become macros (``fh_business_seconds`` ...) that treat EVERY calendar as
  24x7 (every instant is business time; the calendar argument only matters for being
  NULL). Pauses are still honoured as the UDFs do (open pauses closed at the end / at
  now, an open pause leaves no deadline, the at-risk share defaults to 0.2), summed rather
  than merged: the pauses of one order never overlap (10_pauses.sql ends each pause at the
  order's next pause/resume event). So a call whose calendar is the literal 24x7 calendar
  is exact (``resolution_net_seconds`` in 12_orders.sql); any other call is wall-clock time
  and is NOT an exact comparison. The columns such calls define are tracked by name, also
  through later views that pass them through unchanged (a bare ``x``/``t.x`` in a SELECT
  list, or an entry of ``* EXCLUDE (..)``, as ``orders`` does over ``orders_core``); a view
  that uses one in any other way (an expression, a filter, a key) is tracked as a whole.
  Every KPI that reads such a column or view is listed as ``business`` in kpis.tsv and in
  each file's header.

Entity mode (``generate(.., entities=EntitySources(..))``, made by bench/kpi/entities.py,
which reads the Delta log and so needs the ``deltalake`` package): the views with an
``-- entity:`` line are read from the lake's entity tables instead of being translated (their
business-time columns are then Fieldhouse's own values), ``events`` reads the Delta
snapshot's files, and only the other views (``orders``: the SLA states at ``fh_now()``) and the
KPI queries are translated; the classification counts only the calls DuckDB makes itself.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUERY_MARKER = "-- fieldhouse-bench: kpi query"

# ---------------------------------------------------------------------------
# The events schema, from domain/src/arrow_schema.rs
# ---------------------------------------------------------------------------

ARROW_TO_DUCKDB = {
    "Utf8": "VARCHAR",
    "Int32": "INTEGER",
    "Int64": "BIGINT",
    "Float64": "DOUBLE",
    "Date32": "DATE",
    "timestamp_type()": "TIMESTAMPTZ",
}


def events_columns(root: Path = ROOT) -> tuple[list[tuple[str, str]], str]:
    """The columns of the events table as (name, DuckDB type), in schema order, and the
    partition column, read from domain/src/arrow_schema.rs."""
    src = (root / "domain/src/arrow_schema.rs").read_text()
    consts = dict(re.findall(r'pub const (\w+): &str = "(\w+)";', src))
    ids_m = re.search(r"pub const ID_COLUMNS: &\[&str\] = &\[(.*?)\];", src, re.S)
    schema_m = re.search(r"static SCHEMA: LazyLock<SchemaRef>.*?\n\}\);", src, re.S)
    if not ids_m or not schema_m or "PARTITION_COLUMN" not in consts:
        raise SystemExit("translate.py: cannot read the events schema from domain/src/arrow_schema.rs")
    ids = re.findall(r'"(\w+)"', ids_m.group(1))
    body = schema_m.group(0)
    cols: list[tuple[str, str]] = []
    field_re = re.compile(r'Field::new\(\s*(?:"(\w+)"|(\w+))\s*,\s*(?:DataType::(\w+)|(\w+\(\)))')
    pos = 0
    for m in re.finditer(r"for id in ID_COLUMNS|Field::new\(", body):
        if m.start() < pos:
            continue
        if m.group(0).startswith("for id"):
            cols.extend((i, "VARCHAR") for i in ids)
            pos = body.index("}", m.end())
            continue
        f = field_re.match(body, m.start())
        if not f:
            # A field written another way would silently drop a column (as the timestamps were when
            # ts_type() became timestamp_type()): refuse instead.
            line = body[m.start() : body.find("\n", m.start())]
            raise SystemExit(f"translate.py: cannot read the events field `{line.strip()}` in arrow_schema.rs")
        name = f.group(1) or consts.get(f.group(2) or "", "")
        arrow = f.group(3) or f.group(4)
        if arrow not in ARROW_TO_DUCKDB or not name:
            raise SystemExit(f"translate.py: unknown column type {arrow!r} of {name!r} in arrow_schema.rs")
        cols.append((name, ARROW_TO_DUCKDB[arrow]))
    if len(cols) < 20:
        raise SystemExit("translate.py: the events schema parsed from arrow_schema.rs looks wrong")
    return cols, consts["PARTITION_COLUMN"]


# ---------------------------------------------------------------------------
# SQL files (engine/src/sqlfiles.rs, engine/src/catalog.rs)
# ---------------------------------------------------------------------------


def view_name(file: str) -> str:
    stem = file[:-4] if file.endswith(".sql") else file
    trimmed = stem.lstrip("0123456789")
    return trimmed[1:] if trimmed.startswith("_") else trimmed


@dataclass
class Param:
    name: str
    ty: str
    default: str | None
    optional: bool


@dataclass
class Kpi:
    name: str
    file: str
    sql: str
    params: list[Param] = field(default_factory=list)


PARAM_TYPES = {"timestamp", "date", "text", "int", "float", "bool"}


def parse_kpi(file: str, text: str) -> Kpi:
    fields: list[list[str]] = []
    body_start = len(text)
    offset = 0
    for line in text.splitlines(keepends=True):
        trimmed = line.rstrip()
        if trimmed.startswith("--"):
            rest = trimmed[2:]
            if rest.startswith("   ") or rest.startswith("\t"):
                if fields:
                    fields[-1][1] += "\n" + rest.strip()
            elif ":" in rest:
                k, v = rest.split(":", 1)
                fields.append([k.strip(), v.strip()])
            offset += len(line)
        elif not trimmed:
            offset += len(line)
        else:
            body_start = offset
            break
    sql = text[body_start:].strip()
    name = next((v for k, v in fields if k == "name"), None)
    if not name:
        raise SystemExit(f"{file}: header has no `name:` line")
    params = []
    for k, spec in fields:
        if k != "param":
            continue
        decl = spec.split("|", 1)[0].strip()
        default = None
        if "=" in decl:
            decl, default = (s.strip() for s in decl.split("=", 1))
        parts = decl.split()
        if len(parts) < 2:
            raise SystemExit(f"{file}: param `{spec}` has no type")
        ty = parts[1]
        question = ty.endswith("?")
        ty = ty.rstrip("?")
        if ty not in PARAM_TYPES:
            raise SystemExit(f"{file}: param `{spec}`: unknown type `{ty}`")
        params.append(Param(parts[0], ty, default, question or default is not None))
    return Kpi(name, file, sql, params)


def render(sql: str, file: str) -> str:
    """KpiDef::render with no dimensions."""
    for p in ("{{dims}}", "{{dim_exprs}}", "{{group_by}}", "{{order_by_dims}}", "{{order_by}}"):
        sql = sql.replace(p, "")
    if "{{" in sql:
        raise SystemExit(f"{file}: unknown `{{{{...}}}}` token")
    return sql


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def instant_literal(raw: str) -> str:
    """An RFC 3339 instant or a date (midnight UTC) as a TIMESTAMPTZ literal in UTC."""
    raw = raw.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        t = dt.datetime.fromisoformat(raw).replace(tzinfo=dt.timezone.utc)
    else:
        t = dt.datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
        if t.tzinfo is None:
            raise SystemExit(f"`{raw}` is not an RFC 3339 instant (it has no offset)")
    t = t.astimezone(dt.timezone.utc)
    return f"TIMESTAMPTZ '{t.isoformat(sep=' ')}'"


NULLS = {
    "timestamp": "CAST(NULL AS TIMESTAMPTZ)",
    "date": "CAST(NULL AS DATE)",
    "text": "CAST(NULL AS VARCHAR)",
    "int": "CAST(NULL AS BIGINT)",
    "float": "CAST(NULL AS DOUBLE)",
    "bool": "CAST(NULL AS BOOLEAN)",
}


def param_literal(p: Param, value: str | None) -> str:
    if value is None:
        if not p.optional:
            raise SystemExit(f"parameter `{p.name}` is required and has no default")
        return NULLS[p.ty]
    v = value.strip()
    if p.ty == "timestamp":
        return instant_literal(v)
    if p.ty == "date":
        dt.date.fromisoformat(v)
        return f"DATE '{v}'"
    if p.ty == "text":
        return f"CAST({sql_str(v)} AS VARCHAR)"
    if p.ty == "int":
        return f"CAST({int(v)} AS BIGINT)"
    if p.ty == "float":
        return f"CAST({float(v)!r} AS DOUBLE)"
    if v in ("true", "yes", "1"):
        return "true"
    if v in ("false", "no", "0"):
        return "false"
    raise SystemExit(f"parameter `{p.name}`: `{v}` is not a boolean")


# ---------------------------------------------------------------------------
# Tokens and rewriting
# ---------------------------------------------------------------------------

TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<str>'(?:[^']|'')*')
  | (?P<qident>"(?:[^"]|"")*")
  | (?P<param>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<num>\d+\.\d*|\.\d+|\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>::|<>|<=|>=|!=|\|\||.)
    """,
    re.X | re.S,
)


@dataclass
class Tok:
    kind: str
    text: str


def tokenize(sql: str) -> list[Tok]:
    out = []
    pos = 0
    while pos < len(sql):
        m = TOKEN_RE.match(sql, pos)
        if not m:  # an unterminated string or comment: keep the rest as it is
            out.append(Tok("op", sql[pos:]))
            break
        out.append(Tok(m.lastgroup or "op", m.group(0)))
        pos = m.end()
    return out


def next_code(toks: list[Tok], i: int) -> int:
    """Index of the first token at or after i that is not whitespace or a comment."""
    while i < len(toks) and toks[i].kind in ("ws", "comment"):
        i += 1
    return i


def matching_paren(toks: list[Tok], i: int) -> int:
    depth = 0
    for j in range(i, len(toks)):
        if toks[j].kind == "op" and toks[j].text == "(":
            depth += 1
        elif toks[j].kind == "op" and toks[j].text == ")":
            depth -= 1
            if depth == 0:
                return j
    raise SystemExit("unbalanced parentheses in the SQL")


def split_args(toks: list[Tok]) -> list[list[Tok]]:
    args: list[list[Tok]] = [[]]
    depth = 0
    for t in toks:
        if t.kind == "op" and t.text in "([":
            depth += 1
        elif t.kind == "op" and t.text in ")]":
            depth -= 1
        if depth == 0 and t.kind == "op" and t.text == ",":
            args.append([])
        else:
            args[-1].append(t)
    if len(args) == 1 and not "".join(t.text for t in args[0]).strip():
        return []
    return args


PAUSES_TYPE = 'STRUCT("start" TIMESTAMPTZ, "end" TIMESTAMPTZ)[]'
PAUSES_NULL = f"CAST(NULL AS {PAUSES_TYPE})"
BUSINESS_FUNCS = {"business_seconds": 4, "sla_deadline": 4, "sla_state": 7}
HANDLED = {
    "fh_now",
    "to_unixtime",
    "json_str",
    "json_int",
    "json_bool",
    "json_array",
    "named_struct",
    "median",
    "first_value",
}
HANDLED |= set(BUSINESS_FUNCS)


@dataclass
class Translation:
    """What rewriting one SQL text found."""

    inexact_calls: list[str] = field(default_factory=list)  # business-time calls not on the 24x7 calendar
    inexact_aliases: set[str] = field(default_factory=set)  # the columns those calls define
    exact_calls: list[str] = field(default_factory=list)


class Translator:
    def __init__(self, params: dict[str, str], now_literal: str):
        self.params = params
        self.now = now_literal

    def translate(self, sql: str) -> tuple[str, Translation]:
        info = Translation()
        return self._rewrite(tokenize(sql), info).strip(), info

    @staticmethod
    def _is_24x7_literal(arg: list[Tok]) -> bool:
        code = [t for t in arg if t.kind not in ("ws", "comment")]
        return (
            len(code) == 1
            and code[0].kind == "str"
            and re.search(r'"always_open"\s*:\s*true', code[0].text.replace("''", "'")) is not None
        )

    @staticmethod
    def _json_path(key: str, suffix: str = "") -> str:
        key = key.strip()
        if re.fullmatch(r"'(?:[^'\"]|'')*'", key):
            return sql_str('$."' + key[1:-1].replace("''", "'") + '"' + suffix)
        return f"('$.\"' || ({key}) || '\"{suffix}')"

    def _rewrite(self, toks: list[Tok], info: Translation) -> str:
        out: list[str] = []
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "param":
                name = t.text[1:]
                if name not in self.params:
                    raise SystemExit(f"`${name}` is not a declared parameter")
                out.append(self.params[name])
                i += 1
                continue
            if t.kind == "num" and "." in t.text:
                out.append(f"CAST({t.text} AS DOUBLE)")
                i += 1
                continue
            if t.kind == "ident":
                j = next_code(toks, i + 1)
                prev = next((p for p in reversed(out) if p.strip()), "")
                if j < len(toks) and toks[j].text == "(" and prev != ".":
                    k = matching_paren(toks, j)
                    fname = t.text.lower()
                    raw_args = split_args(toks[j + 1 : k])
                    handled = self._call(fname, raw_args, toks, k, info)
                    if handled is not None:
                        out.append(handled)
                        i = k + 1
                        continue
            out.append(t.text)
            i += 1
        return "".join(out)

    def _alias_after(self, toks: list[Tok], k: int) -> str | None:
        j = next_code(toks, k + 1)
        if j < len(toks) and toks[j].kind == "ident" and toks[j].text.upper() == "AS":
            j = next_code(toks, j + 1)
            if j < len(toks) and toks[j].kind in ("ident", "qident"):
                return toks[j].text.strip('"').lower()
        return None

    @staticmethod
    def _is_window(toks: list[Tok], k: int) -> bool:
        """Whether the call closed at ``toks[k]`` is a window call (``.. ) OVER (..``)."""
        j = next_code(toks, k + 1)
        return j < len(toks) and toks[j].text.lower() == "over"

    def _call(self, fname: str, raw_args: list[list[Tok]], toks: list[Tok], k: int, info: Translation) -> str | None:
        if fname not in HANDLED:
            return None
        args = [self._rewrite(a, info).strip() for a in raw_args]
        n = len(args)
        if fname == "fh_now" and n == 0:
            return self.now
        if fname == "first_value" and not self._is_window(toks, k):
            # The ORDER BY list inside the call splits into several "arguments": join them again.
            return "first(" + ", ".join(args) + ")"
        if fname == "to_unixtime" and n == 1:
            return f"(epoch_us({args[0]}) // 1000000)"
        if fname == "json_str" and n == 2:
            return f"json_extract_string({args[0]}, {self._json_path(args[1])})"
        if fname == "json_int" and n == 2:
            return f"TRY_CAST(json_extract_string({args[0]}, {self._json_path(args[1])}) AS BIGINT)"
        if fname == "json_bool" and n == 2:
            return (
                f"(CASE CAST(json_extract({args[0]}, {self._json_path(args[1])}) AS VARCHAR) "
                f"WHEN 'true' THEN true WHEN 'false' THEN false END)"
            )
        if fname == "json_array" and n == 2:
            return f"json_extract_string({args[0]}, {self._json_path(args[1], '[*]')})"
        if fname == "named_struct" and n % 2 == 0:
            pairs = []
            for key, val in zip(args[0::2], args[1::2]):
                if not re.fullmatch(r"'[^'\"]*'", key):
                    raise SystemExit(f"named_struct with a non-literal key {key}")
                pairs.append(f'"{key[1:-1]}" := {val}')
            return f"struct_pack({', '.join(pairs)})"
        if fname == "median" and n == 1:
            x = args[0]
            if re.match(r"(?i)\s*distinct\b", x):
                return None
            return f"fh_median({x})"
        if fname in BUSINESS_FUNCS:
            full = BUSINESS_FUNCS[fname]
            required = {"business_seconds": 3, "sla_deadline": 3, "sla_state": 5}[fname]
            if not required <= n <= full:
                raise SystemExit(f"{fname} takes {required} to {full} arguments, got {n}")
            pauses_at = 5 if fname == "sla_state" else 3
            filled = list(args)
            while len(filled) < full:
                filled.append(PAUSES_NULL if len(filled) == pauses_at else "CAST(NULL AS DOUBLE)")
            # The UDFs' coerce_types: calendar text, instants, whole minutes, a fraction.
            types = {
                "business_seconds": ["VARCHAR", "TIMESTAMPTZ", "TIMESTAMPTZ", PAUSES_TYPE],
                "sla_deadline": ["VARCHAR", "TIMESTAMPTZ", "BIGINT", PAUSES_TYPE],
                "sla_state": ["VARCHAR", "TIMESTAMPTZ", "BIGINT", "TIMESTAMPTZ", "TIMESTAMPTZ", PAUSES_TYPE, "DOUBLE"],
            }[fname]
            filled = [a if a.startswith("CAST(NULL AS") else f"CAST({a} AS {ty})" for a, ty in zip(filled, types)]
            call = f"fh_{fname}({', '.join(filled)})"
            alias = self._alias_after(toks, k)
            label = f"{fname}(..){' AS ' + alias if alias else ''}"
            if self._is_24x7_literal(raw_args[0]):
                info.exact_calls.append(label)
            else:
                info.inexact_calls.append(label)
                if alias:
                    info.inexact_aliases.add(alias)
            return call
        return None


# ---------------------------------------------------------------------------
# The DuckDB prelude
# ---------------------------------------------------------------------------

MACROS = r"""
-- DataFusion's median of integers is an integer (the two middle values' mean, truncated).
CREATE TEMP MACRO fh_median(x) AS
    CASE WHEN typeof(min(x)) IN ('TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT',
                                 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT')
         THEN trunc(median(x)) ELSE median(x) END;
-- Business time as if every calendar were 24x7 (see translate.py): µs since the epoch.
-- Pause spans: [start, end) clipped to [lo, hi) (hi NULL: unbounded), an open pause closed
-- at close_at (NULL: dropped), empty ones dropped, sorted by start.
CREATE TEMP MACRO fh_spans(pauses, lo, hi, close_at) AS
    list_sort(list_filter(list_transform(pauses, lambda p: {
        'ps': CASE WHEN p."start" IS NOT NULL THEN greatest(epoch_us(p."start"), lo) END,
        'pe': CASE WHEN coalesce(epoch_us(p."end"), close_at) IS NOT NULL
                   THEN least(coalesce(epoch_us(p."end"), close_at), hi) END}),
        lambda q: q.ps < q.pe));
CREATE TEMP MACRO fh_spans_us(spans) AS
    CAST(coalesce(list_sum(list_transform(spans, lambda q: q.pe - q.ps)), 0) AS BIGINT);
-- Elapsed µs in [s, e) minus the pauses (pauses of an order are disjoint).
CREATE TEMP MACRO fh_elapsed_us(s_us, e_us, spans) AS
    CASE WHEN e_us <= s_us THEN 0 ELSE e_us - s_us - fh_spans_us(spans) END;
-- The first instant with target µs of running time after s: each pause that begins while
-- the clock has run less than the target pushes the deadline out by its length.
CREATE TEMP MACRO fh_deadline_us(s_us, target_us, spans) AS
    CASE WHEN target_us <= 0 THEN s_us ELSE
        s_us + target_us + CAST(coalesce(list_sum(list_transform(spans, lambda d, i:
            CASE WHEN (d.ps - s_us) - fh_spans_us(list_slice(spans, 1, i - 1)) < target_us
                 THEN d.pe - d.ps ELSE 0 END)), 0) AS BIGINT) END;
CREATE TEMP MACRO fh_business_seconds(cal, s, e, pauses) AS
    CASE WHEN cal IS NULL OR s IS NULL OR e IS NULL THEN NULL
         ELSE CAST(fh_elapsed_us(epoch_us(s), epoch_us(e), fh_spans(pauses, epoch_us(s), epoch_us(e), epoch_us(e)))
                   // 1000000 AS BIGINT) END;
CREATE TEMP MACRO fh_sla_deadline(cal, s, target_min, pauses) AS
    CASE WHEN cal IS NULL OR s IS NULL OR target_min IS NULL THEN NULL
         WHEN list_bool_or(list_transform(pauses, lambda p: p."start" IS NOT NULL AND p."end" IS NULL)) THEN NULL
         ELSE make_timestamptz(fh_deadline_us(epoch_us(s), CAST(target_min AS BIGINT) * 60000000,
                                              fh_spans(pauses, epoch_us(s), NULL, NULL))) END;
CREATE TEMP MACRO fh_sla_state(cal, s, target_min, stopped, now, pauses, at_risk) AS
    CASE WHEN cal IS NULL OR s IS NULL OR target_min IS NULL OR now IS NULL THEN NULL
         WHEN stopped IS NOT NULL AND stopped <= now THEN
              CASE WHEN epoch_us(stopped) > fh_deadline_us(epoch_us(s), CAST(target_min AS BIGINT) * 60000000,
                                                             fh_spans(pauses, epoch_us(s), NULL, epoch_us(now)))
                   THEN 'breached' ELSE 'met' END
         WHEN epoch_us(now) > fh_deadline_us(epoch_us(s), CAST(target_min AS BIGINT) * 60000000,
                                             fh_spans(pauses, epoch_us(s), NULL, epoch_us(now))) THEN 'breached'
         WHEN (CAST(target_min AS DOUBLE) * 60e6
               - fh_elapsed_us(epoch_us(s), epoch_us(now), fh_spans(pauses, epoch_us(s), epoch_us(now), epoch_us(now))))
              / 1e6 < coalesce(at_risk, 0.2) * CAST(target_min AS DOUBLE) * 60 THEN 'at_risk'
         ELSE 'on_track' END;
""".strip()


def prelude(lake: str, root: Path = ROOT, events_from: str | None = None) -> str:
    """Settings, the ``events`` view and the macros. ``events_from``: the ``read_parquet(..)``
    call to read the events from (entity mode: the Delta snapshot's files); default: every
    Parquet file under ``<lake>/events``."""
    cols, part = events_columns(root)
    if events_from is None:
        glob = lake.rstrip("/") + f"/events/{part}=*/*.parquet"
        events_from = f"read_parquet({sql_str(glob)}, hive_partitioning = true, hive_types = {{'{part}': DATE}})"
        what = "Every Parquet file of the events table: the lake must not have been compacted."
    else:
        what = "The events table's active files (its Delta snapshot)."
    select = ",\n       ".join(f'CAST("{c}" AS {t}) AS "{c}"' for c, t in cols)
    return f"""SET autoinstall_known_extensions = false;
SET autoload_known_extensions = false;
SET TimeZone = 'UTC';
SET integer_division = true;
SET default_null_order = 'nulls_last_on_asc_first_on_desc';
-- {what}
CREATE TEMP VIEW events AS
SELECT {select}
FROM {events_from};
{MACROS}"""


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def word_tokens(sql: str) -> set[str]:
    return {t.text.lower() for t in tokenize(sql) if t.kind == "ident"} | {
        t.text.strip('"').lower() for t in tokenize(sql) if t.kind == "qident"
    }


# Keywords that open a clause of a SELECT (the clause an occurrence of a name is in).
CLAUSES = {"select", "from", "join", "on", "using", "where", "group", "having", "qualify", "window", "order", "limit"}
# A `(` after one of these opens a subquery or a parenthesised expression, not a call's arguments.
NOT_CALLS = {"as", "from", "join", "select", "where", "and", "or", "not", "on", "exists", "union", "all",
             "intersect", "except", "lateral", "then", "else", "when", "case", "having", "by"}


def derived_uses(sql: str, names: set[str]) -> set[str]:
    """The names in ``names`` that ``sql`` (a view) uses other than by passing them through
    under their own name: a bare item of a SELECT list (``x`` or ``t.x`` between ``SELECT``/``,``
    and ``,``/``FROM``) or an entry of ``* EXCLUDE (..)``. A passed-through column keeps its
    name, so the KPIs reading it are found by that name; any other use (an expression, a
    filter, a join or grouping key) may change values or rows under other names, so the whole
    view counts as business time."""
    toks = [t for t in tokenize(sql) if t.kind not in ("ws", "comment")]
    # One frame per open parenthesis: what opened it, and the clause the tokens inside are in.
    frames: list[dict[str, str | None]] = [{"kind": "top", "clause": None}]
    found: set[str] = set()

    def text(i: int) -> str:
        return toks[i].text.lower() if 0 <= i < len(toks) else ""

    for i, t in enumerate(toks):
        low = t.text.lower()
        if t.kind == "op" and t.text == "(":
            before = toks[i - 1] if i else None
            if before is not None and before.kind == "ident" and before.text.lower() == "exclude":
                kind = "exclude"
            elif before is not None and before.kind in ("ident", "qident") and before.text.lower() not in NOT_CALLS:
                kind = "call"  # a function's arguments, IN (..), OVER (..), FILTER (..), USING (..)
            else:
                kind = "group"
            frames.append({"kind": kind, "clause": None})
            continue
        if t.kind == "op" and t.text == ")":
            if len(frames) > 1:
                frames.pop()
            continue
        if t.kind == "ident" and low in CLAUSES:
            frames[-1]["clause"] = low
            continue
        name = t.text.strip('"').lower() if t.kind == "qident" else low
        if t.kind not in ("ident", "qident") or name not in names:
            continue
        frame = frames[-1]
        if frame["kind"] == "exclude":
            continue
        prev = i - 1
        if text(prev) == "." and prev - 1 >= 0 and toks[prev - 1].kind in ("ident", "qident"):
            prev -= 2  # a qualified name: t.x
        bare = (
            frame["kind"] in ("top", "group")
            and frame["clause"] == "select"
            and text(prev) in (",", "select", "distinct")
            and (text(i + 1) in (",", "from", "") or (text(i + 1) == ")" and frame["kind"] == "group"))
        )
        if not bare:
            found.add(name)
    return found


@dataclass
class EntitySources:
    """Entity mode (bench/kpi/entities.py): the entity views read from the lake's entity
    tables instead of being computed from the events."""

    views: dict[str, str]  # view name -> a DuckDB SELECT over the table's active Parquet files
    events_from: str  # the read_parquet(..) call for `events` (the Delta snapshot's files)
    note: str  # one line for the files' headers: which manifest state, which versions


def entity_view_names(sql_dir: Path) -> list[str]:
    """The views with an `-- entity:` line (engine/src/entity/defs.rs: entity_defs), in file order."""
    names = []
    for f in sorted(p for p in (sql_dir / "views").iterdir() if p.suffix == ".sql"):
        if any(line.strip().startswith("-- entity:") for line in f.read_text().splitlines()):
            names.append(view_name(f.name))
    return names


def generate(
    lake: str,
    now: str,
    out: Path,
    sql_dir: Path | None = None,
    root: Path = ROOT,
    entities: EntitySources | None = None,
) -> list[tuple[str, bool, str]]:
    """Write the translations. With ``entities``, every view it names is read from its entity
    table (values computed by Fieldhouse, business time included) and only the other views
    (``orders``) are translated; the business-time classification then counts only the calls
    DuckDB makes itself."""
    sql_dir = sql_dir or root / "sql"
    now_lit = instant_literal(now)
    head = prelude(lake, root, entities.events_from if entities else None)
    view_files = sorted(p for p in (sql_dir / "views").iterdir() if p.suffix == ".sql")
    views_sql = []
    inexact_cols: dict[str, str] = {}  # column -> view
    inexact_views: dict[str, str] = {}  # view -> why
    for f in view_files:
        name = view_name(f.name)
        if entities is not None and name in entities.views:
            views_sql.append(
                f"-- view {name}: the entity table lake/entities/{name} (instead of sql/views/{f.name})\n"
                f"CREATE TEMP VIEW {name} AS\n{entities.views[name]};"
            )
            continue
        body, info = Translator({}, now_lit).translate(f.read_text().rstrip().rstrip(";"))
        for c in info.inexact_aliases:
            inexact_cols[c] = name
        # Columns of earlier views passed through keep their name (and stay in inexact_cols);
        # any other use of one makes the whole view inexact.
        used = derived_uses(f.read_text(), set(inexact_cols) - info.inexact_aliases)
        if info.inexact_calls and not info.inexact_aliases or used:
            inexact_views[name] = ", ".join(sorted(used)) or ", ".join(info.inexact_calls)
        views_sql.append(f"-- view {name} (sql/views/{f.name})\nCREATE TEMP VIEW {name} AS\n{body};")
    out.mkdir(parents=True, exist_ok=True)
    kpi_files = sorted(p for p in (sql_dir / "kpi").iterdir() if p.suffix == ".sql")
    listing = []
    for f in kpi_files:
        kpi = parse_kpi(f.name, f.read_text())
        params = {p.name: param_literal(p, p.default) for p in kpi.params}
        query, info = Translator(params, now_lit).translate(render(kpi.sql, f.name))
        words = word_tokens(kpi.sql)
        why = sorted(words & set(inexact_cols)) + sorted(words & set(inexact_views)) + info.inexact_calls
        business = bool(why)
        verdict = (
            "BUSINESS TIME: reads " + ", ".join(why) + " - every calendar taken as 24x7 here, not an exact comparison"
            if business
            else "exact: no business-calendar arithmetic"
        )
        bound = ", ".join(f"{p.name} = {params[p.name]}" for p in kpi.params) or "none"
        source = f"-- {entities.note}\n" if entities else ""
        text = (
            f"-- {kpi.name}: DuckDB translation of sql/kpi/{f.name}, generated by bench/kpi/translate.py "
            f"(do not edit).\n-- Lake: {lake}; fh_now() = {now_lit}; parameters (defaults): {bound}.\n{source}"
            f"-- {verdict}.\n{head}\n\n" + "\n\n".join(views_sql) + f"\n\n{QUERY_MARKER}\n{query};\n"
        )
        (out / f"{kpi.name}.sql").write_text(text)
        listing.append((kpi.name, business, ", ".join(why)))
    with (out / "kpis.tsv").open("w") as fh:
        for name, business, why in listing:
            fh.write(f"{name}\t{name}.sql\t{'business' if business else 'exact'}\t{why}\n")
    return listing


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", required=True, help="the lake directory (DATA_DIR/lake), holding events/")
    ap.add_argument("--now", required=True, help="fh_now(): an RFC 3339 instant, as given to `fieldhouse kpi --now`")
    ap.add_argument("--out", required=True, type=Path, help="directory for <kpi>.sql and kpis.tsv")
    ap.add_argument("--sql-dir", type=Path, help="the sql/ directory (default: the repository's)")
    ap.add_argument("--list", action="store_true", help="print kpi, exact/business and why")
    a = ap.parse_args(argv)
    listing = generate(str(Path(a.lake).resolve()), a.now, a.out, a.sql_dir)
    if a.list:
        print_listing(listing)
    return 0


def print_listing(listing) -> None:
    """One line per KPI: its name, exact or business time, and why."""
    for name, business, why in listing:
        print(f"{name:<28} {'business' if business else 'exact':<9} {why}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
