#!/usr/bin/env python3
"""The load of bench/live/run.sh against a running `fieldhouse serve` on loopback (standard library only).

    live.py --base http://127.0.0.1:PORT --reader-token T --writer-token T --data-dir D --pid PID
            [--duration 120] [--rate 200] [--batch-secs 0.5] [--clients 8] [--page /]
            [--kpis "csat?by=month backlog ..."] [--probe-every 10] [--poll 0.25] [--lag-view orders]
            [--lag-timeout 60] [--request-timeout 300] [--out DIR]

For --duration seconds, all at once:

* one writer streams events at --rate events/s through POST /api/v1/events, one NDJSON batch
  every --batch-secs (an Idempotency-Key per batch; one Delta commit each). The events are a
  service organisation at work on the lake's own master data: orders opened on equipment that
  recent orders were opened on (order_heads), each with its entitlement check, then assigned to
  a technician of the lake, travel, arrival, work, visit end, completion and closing with a
  CSAT; now and then a new customer. Every event has a fresh UUIDv7 `event_id` and an
  `occurred_at` of the wall clock with its zone. Schedule: a batch is due every --batch-secs
  from the start; a batch that is late (the POST before it took longer) is sent at once, so
  the rate printed is what the server took.
* --clients reader threads, each on its own keep-alive connection, load in turn the dashboard
  page (--page, with the reader token in the `fh_session` cookie, as a browser after /login)
  and the KPI endpoints (/api/v1/kpis/<kpi>, bearer token), one request after the other.
* a prober, every --probe-every seconds: POST one `order_opened` of a fresh order id alone,
  and from the moment that POST is answered (the commit is durable), poll every --poll s
  `POST /api/v1/sql` `SELECT count(*) FROM <lag-view> WHERE order_id = '<id>'` until it
  counts 1 (at most --lag-timeout s).
* a watcher of the entity manifest, the folder <data-dir>/lake/entities/_manifest/
  (engine/src/entity/manifest.rs: one whole `<events version>-<time>.json` object per pass):
  when a manifest object for an events version appears (the server's entity maintenance
  finished a pass); after the timed phase it goes on until the objects cover every probe (at
  most --lag-timeout s).

Ingest lag, per probe, from the answered POST (its BatchReport gives the commit's lake
version V) to: (1) a manifest object for version >= V (the entity tables reflect the commit);
(2) the first KPI answer of any reader with `x-lake-version` >= V (what a KPI reader sees;
resolution: how often the readers ask); (2b) the first dashboard page whose every section says
"at lake version N" with N >= V; (3) the SQL poll that counts the order (resolution:
--poll plus one SQL query). Latencies are from sending a request to having read the whole
answer. Peak RSS is VmHWM of /proc/PID/status (the server's high-water mark since it started:
start-up and cache warming included, so it is also printed before the timed phase).

Writes the raw samples to --out (requests.csv, probes.csv, batches.csv) when given. Exit status
1 when a request failed (not 2xx, or no answer), an event was rejected, or a probe timed out.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import io
import json
import os
import random
import re
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "kpi"))
from manifest import manifest_key  # noqa: E402

# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------


class Client:
    """One keep-alive HTTP/1.1 connection to the server; reconnects after a failure."""

    def __init__(self, host: str, port: int, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None = None):
        """(status, headers, body); status 0 when there was no answer (refused, reset, timeout)."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.getheader("connection", "").lower() == "close":
                    self.close()
                return resp.status, resp, data
            except (OSError, http.client.HTTPException) as e:
                self.close()
                # A keep-alive connection the server closed meanwhile: one retry on a new one.
                if attempt == 0 and isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)):
                    continue
                return 0, None, str(e).encode()
        return 0, None, b"unreachable"

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of `values`; None when empty."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def ms(v: float | None) -> str:
    return "-" if v is None else f"{v * 1000:.0f}"


def secs(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------


def uuid7() -> str:
    """A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, version 7, variant 10, random bits."""
    value = (time.time_ns() // 1_000_000 & ((1 << 48) - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return str(uuid.UUID(int=value))


def instant(t: datetime) -> str:
    """RFC 3339 with the zone, to the microsecond (the contract refuses an instant without one)."""
    return t.isoformat(timespec="microseconds")


# SLA targets per priority (business minutes), as a contract might give them.
TARGETS = {"P1": (120, 480), "P2": (240, 1440), "P3": (480, 2880), "P4": (1440, 7200)}
FAULTS = ["E-COOL-LEAK", "E-PUMP-NOISE", "E-BOOT-FAIL", "E-SENSOR-DRIFT", "E-POWER-TRIP"]
STEPS = ["order_assigned", "travel_started", "arrived", "work_logged", "visit_ended", "order_completed", "order_closed"]


@dataclass
class Order:
    order_id: str
    where: dict[str, str]  # customer_id, site_id, equipment_id, product_id, calendar_id, fault_code, lat, lon
    step: int = 0  # index into STEPS of the next event
    technician: dict[str, str] = field(default_factory=dict)
    visit_id: str = ""


class EventStream:
    """A service organisation at work on the lake's master data (see the module docstring)."""

    def __init__(self, places: list[dict[str, str]], technicians: list[dict[str, str]], seed: int):
        self.places, self.technicians = places, technicians
        self.rng = random.Random(seed)
        self.open: list[Order] = []
        self.pending: list[dict] = []  # events due next (an opening's entitlement check)

    def envelope(self, kind: str, source: str, **payload) -> dict:
        e = {"event_id": uuid7(), "type": kind, "schema_version": 1,
             "occurred_at": instant(datetime.now(timezone.utc)), "source": source}
        e.update(payload)
        return e

    def opening(self, order_id: str | None = None) -> tuple[dict, Order]:
        """An `order_opened` of a new order on a place of the lake."""
        rng = self.rng
        where = rng.choice(self.places)
        order = Order(order_id or uuid7(), where)
        priority = rng.choice(["P1", "P2", "P2", "P3", "P3", "P4"])
        response, resolution = TARGETS[priority]
        now = datetime.now(timezone.utc)
        e = self.envelope(
            "order_opened", "ops",
            order_id=order.order_id,
            order_type=rng.choice(["corrective"] * 4 + ["preventive"]),
            channel=rng.choice(["phone", "email", "web", "mobile", "iot"]),
            customer_id=where["customer_id"], site_id=where["site_id"], equipment_id=where["equipment_id"],
            product_id=where["product_id"], priority=priority,
            fault_code=where.get("fault_code") or rng.choice(FAULTS),
            reported_fault="reported by bench/live",
            calendar_id=where["calendar_id"],
            response_due_at=instant(now + timedelta(minutes=response)),
            resolution_due_at=instant(now + timedelta(minutes=resolution)),
            response_target_minutes=response, resolution_target_minutes=resolution,
        )
        return e, order

    def advance(self, o: Order) -> dict:
        """The next event of an open order."""
        rng = self.rng
        kind = STEPS[o.step]
        o.step += 1
        if kind == "order_assigned":
            o.technician = rng.choice(self.technicians)
        t = o.technician
        who = {"technician_id": t["technician_id"], "agent_id": t.get("agent_id") or None}
        if kind == "order_assigned":
            return self.envelope(kind, "ops", order_id=o.order_id, **who)
        if kind == "travel_started":
            o.visit_id = uuid7()
            return self.envelope(kind, "mobile", order_id=o.order_id, visit_id=o.visit_id, **who)
        if kind == "arrived":
            lat = float(o.where.get("lat") or 51.0) + rng.uniform(-0.001, 0.001)
            lon = float(o.where.get("lon") or 10.0) + rng.uniform(-0.001, 0.001)
            return self.envelope(kind, "mobile", order_id=o.order_id, visit_id=o.visit_id, lat=lat, lon=lon, **who)
        if kind == "work_logged":
            return self.envelope(kind, "mobile", order_id=o.order_id, visit_id=o.visit_id,
                                 minutes=rng.randint(20, 240), **who)
        if kind == "visit_ended":
            return self.envelope(kind, "mobile", order_id=o.order_id, visit_id=o.visit_id, outcome="fixed", **who)
        if kind == "order_completed":
            return self.envelope(kind, "mobile", order_id=o.order_id, **who)
        return self.envelope(kind, "ops", order_id=o.order_id, signed_by="bench/live", csat=rng.randint(1, 5))

    def next(self) -> dict:
        rng = self.rng
        if self.pending:
            return self.pending.pop()
        if rng.random() < 0.03:
            return self.envelope("customer_registered", "ops", customer_id=uuid7(), name="Bench customer",
                                 segment=rng.choice(["enterprise", "public", "smb"]), payment_terms_days=30)
        # About one opening per order's 9 events keeps the number of open orders steady.
        if len(self.open) < 20 or (len(self.open) < 5000 and rng.random() < 1 / 9):
            e, order = self.opening()
            self.open.append(order)
            self.pending.append(self.envelope(
                "entitlement_checked", "ops", order_id=order.order_id, entitlement="time_and_material",
                contract_id=None, reason="no contract or warranty covers the equipment (bench/live)"))
            return e
        i = rng.randrange(len(self.open))
        o = self.open[i]
        e = self.advance(o)
        if o.step == len(STEPS):
            self.open[i] = self.open[-1]
            self.open.pop()
        return e

    def batch(self, n: int) -> bytes:
        return "".join(json.dumps(self.next(), separators=(",", ":")) + "\n" for _ in range(n)).encode()


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------


def manifest_names(folder: Path) -> dict[str, int]:
    """The manifest objects in `folder` (the entity manifest, lake/entities/_manifest) and their
    events versions; other files are ignored, and a missing folder has none."""
    try:
        names = os.listdir(folder)
    except OSError:
        return {}
    return {n: v for n in names if (v := manifest_key(n)) is not None}


def vm_status(pid: int) -> dict[str, int]:
    """VmHWM and VmRSS of process `pid` in KiB (empty when it is gone)."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            m = re.match(r"(VmHWM|VmRSS):\s+(\d+) kB", line)
            if m:
                out[m.group(1)] = int(m.group(2))
    except OSError:
        pass
    return out


class Run:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        u = urlparse(a.base)
        if u.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"--base must be a loopback address, not {a.base}")
        self.host, self.port = u.hostname, u.port or 80
        self.reader_bearer = {"Authorization": f"Bearer {a.reader_token}"}
        self.reader_cookie = {"Cookie": f"fh_session={a.reader_token}"}
        self.writer = {"Authorization": f"Bearer {a.writer_token}"}
        self.targets = [a.page] + [f"/api/v1/kpis/{k}" for k in a.kpis.split()]
        self.lock = threading.Lock()
        self.requests: list[tuple[str, float, float, int, int | None]] = []  # target, start, secs, status, version
        self.batches: list[tuple[float, float, int, int, int, int, int | None]] = []  # start, secs, status, n, accepted, rejected, version
        self.probes: list[dict] = []
        self.manifest: list[tuple[float, int]] = []  # (time seen, events version)
        self.rejections: list[str] = []
        self.t0 = 0.0
        self.deadline = 0.0

    def client(self) -> Client:
        return Client(self.host, self.port, self.a.request_timeout)

    def sql(self, c: Client, query: str) -> tuple[int, list[list[str]], float]:
        body = json.dumps({"sql": query, "format": "csv"}).encode()
        t = time.monotonic()
        status, _, data = c.request("POST", "/api/v1/sql", {**self.writer, "Content-Type": "application/json"}, body)
        took = time.monotonic() - t
        rows = list(csv.reader(io.StringIO(data.decode(errors="replace")))) if status == 200 else []
        return status, rows, took

    def reference_data(self) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
        """Places (customer, site, equipment, product, calendar of recent orders) and active technicians."""
        c = self.client()
        q_places = (
            "SELECT h.customer_id, h.site_id, h.equipment_id, h.product_id, h.calendar_id, h.fault_code, s.lat, s.lon "
            "FROM order_heads h LEFT JOIN sites s ON h.site_id = s.site_id "
            "WHERE h.customer_id IS NOT NULL AND h.site_id IS NOT NULL AND h.equipment_id IS NOT NULL "
            "AND h.product_id IS NOT NULL AND h.calendar_id IS NOT NULL ORDER BY h.opened_at DESC LIMIT 2000"
        )
        q_techs = "SELECT technician_id, agent_id FROM technicians WHERE left_at IS NULL LIMIT 2000"
        out = []
        for q in (q_places, q_techs):
            status, rows, _ = self.sql(c, q)
            if status != 200 or len(rows) < 2:
                raise SystemExit(f"reading the lake's master data failed (HTTP {status}, {max(len(rows) - 1, 0)} rows): {q}")
            out.append([dict(zip(rows[0], r)) for r in rows[1:]])
        c.close()
        return out[0], out[1]

    def post_events(self, c: Client, body: bytes) -> tuple[int, dict, float]:
        headers = {**self.writer, "Content-Type": "application/x-ndjson", "Idempotency-Key": f"bench-live-{uuid7()}"}
        t = time.monotonic()
        status, _, data = c.request("POST", "/api/v1/events", headers, body)
        took = time.monotonic() - t
        try:
            report = json.loads(data) if status == 200 else {}
        except ValueError:
            report = {}
        return status, report, took

    def note_rejections(self, report: dict):
        if report.get("rejected"):
            for o in report.get("outcomes", []):
                if o.get("status") == "rejected":
                    with self.lock:
                        if len(self.rejections) < 5:
                            self.rejections.append(json.dumps(o)[:300])

    # -- threads -------------------------------------------------------------

    def writer_loop(self, stream: EventStream):
        c = self.client()
        interval = self.a.batch_secs
        owed = 0.0  # events due and not sent yet (fractions carry over)
        due = self.t0  # when the next interval's events are due
        while True:
            now = time.monotonic()
            if now >= self.deadline or due >= self.deadline:
                break
            if due > now:
                time.sleep(due - now)
                continue
            # Every interval that came due since the last batch adds its events: after a slow
            # POST the events owed go out in one batch, as a client that buffers would send them.
            while due <= now and due < self.deadline:
                owed += self.a.rate * interval
                due += interval
            n = int(owed)
            if self.a.max_batch:
                n = min(n, self.a.max_batch)  # at most this many a POST; the rest stays owed
            owed -= n
            if n == 0:
                continue
            start = time.monotonic()
            status, report, took = self.post_events(c, stream.batch(n))
            self.note_rejections(report)
            with self.lock:
                self.batches.append((start - self.t0, took, status, n, report.get("accepted", 0),
                                     report.get("rejected", 0), report.get("lake_version")))
        c.close()

    def reader_loop(self, i: int):
        c = self.client()
        n = i  # each client starts at another target
        while time.monotonic() < self.deadline:
            target = self.targets[n % len(self.targets)]
            n += 1
            headers = self.reader_cookie if target == self.a.page else self.reader_bearer
            start = time.monotonic()
            status, resp, body = c.request("GET", target, headers)
            took = time.monotonic() - start
            version = resp.getheader("x-lake-version") if resp is not None else None
            if target == self.a.page and status == 200:
                # A page shows several answers, each saying "at lake version N": its oldest one.
                shown = [int(v) for v in re.findall(rb"at lake version (\d+)", body)]
                version = str(min(shown)) if shown else None
            with self.lock:
                self.requests.append((target, start - self.t0, took, status,
                                      int(version) if version and version.isdigit() else None))
        c.close()

    def probe_loop(self, stream: EventStream):
        if self.a.probe_every == 0:  # no probes (bench/ingest/entities.sh)
            return
        c = self.client()
        next_probe = self.t0 + min(self.a.probe_every, max(self.a.duration / 4, 0.5))
        # No probe in the last seconds: the readers stop at the deadline, and a probe needs them to see it.
        last = self.deadline - min(5.0, self.a.duration / 4)
        while True:
            now = time.monotonic()
            if next_probe >= last:
                break
            if next_probe > now:
                time.sleep(next_probe - now)
            next_probe += self.a.probe_every
            event, order = stream.opening()
            body = (json.dumps(event, separators=(",", ":")) + "\n").encode()
            start = time.monotonic()
            status, report, took = self.post_events(c, body)
            accepted_at = time.monotonic()
            p = {"order_id": order.order_id, "posted": start - self.t0, "post_secs": took, "status": status,
                 "version": report.get("lake_version"), "accepted": report.get("accepted", 0)}
            self.note_rejections(report)
            if status != 200 or p["accepted"] != 1:
                p["sql_lag"] = None
                with self.lock:
                    self.probes.append(p)
                continue
            p["accepted_at"] = accepted_at - self.t0
            # Poll until the order counts (bounded by --lag-timeout), each poll one query.
            query = f"SELECT count(*) AS n FROM {self.a.lag_view} WHERE order_id = '{order.order_id}'"
            p["sql_lag"], p["polls"], p["poll_secs"] = None, 0, []
            while time.monotonic() - accepted_at < self.a.lag_timeout:
                status, rows, q_secs = self.sql(c, query)
                p["polls"] += 1
                p["poll_secs"].append(q_secs)
                if status == 200 and len(rows) >= 2 and rows[1] and rows[1][0].strip() not in ("", "0"):
                    p["sql_lag"] = time.monotonic() - accepted_at
                    break
                if status != 200:
                    p["sql_error"] = status
                time.sleep(self.a.poll)
            with self.lock:
                self.probes.append(p)
        c.close()

    def manifest_loop(self, stop: threading.Event):
        """Note when each manifest object appears (one per maintenance pass; the objects there
        at the start are not noted). An object is put whole (a rename), and its events version
        is in its name, as the engine reads it."""
        folder = Path(self.a.data_dir) / "lake" / "entities" / "_manifest"
        known = set(manifest_names(folder))
        while not stop.is_set():
            new = manifest_names(folder)
            fresh = sorted((v, n) for n, v in new.items() if n not in known)
            if fresh:
                seen = time.monotonic() - self.t0
                known.update(n for _, n in fresh)
                with self.lock:
                    self.manifest.extend((seen, v) for v, _ in fresh)
            stop.wait(0.05)

    # -- the whole run -------------------------------------------------------

    def warm(self):
        """One request per target before the timed phase (the first may compute); their times."""
        c = self.client()
        first = {}
        for target in self.targets:
            headers = self.reader_cookie if target == self.a.page else self.reader_bearer
            t = time.monotonic()
            status, _, body = c.request("GET", target, headers)
            first[target] = (time.monotonic() - t, status)
            if status != 200:
                print(f"warning: warm-up GET {target}: HTTP {status} {body[:200]!r}")
        c.close()
        return first

    def run(self) -> int:
        a = self.a
        places, techs = self.reference_data()
        stream = EventStream(places, techs, seed=a.seed)
        probe_stream = EventStream(places, techs, seed=a.seed + 1)
        first = self.warm()
        before = vm_status(a.pid)
        print(f"server pid {a.pid}: VmHWM {before.get('VmHWM', 0) // 1024} MiB, VmRSS {before.get('VmRSS', 0) // 1024} MiB "
              f"before the timed phase; {len(places)} places and {len(techs)} technicians of the lake to write events on")
        print(f"timed phase: {a.duration:g} s, {a.rate:g} events/s in batches every {a.batch_secs:g} s, {a.clients} "
              f"clients on {len(self.targets)} targets, a lag probe every {a.probe_every:g} s ...", flush=True)

        self.t0 = time.monotonic()
        self.deadline = self.t0 + a.duration
        stop = threading.Event()
        watcher = threading.Thread(target=self.manifest_loop, args=(stop,), daemon=True)
        watcher.start()
        threads = [threading.Thread(target=self.writer_loop, args=(stream,)),
                   threading.Thread(target=self.probe_loop, args=(probe_stream,))]
        threads += [threading.Thread(target=self.reader_loop, args=(i,)) for i in range(a.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - self.t0
        # Keep watching the manifest until it covers every accepted probe (at most --lag-timeout more).
        versions = [p["version"] for p in self.probes if p.get("accepted_at") is not None and p.get("version") is not None]
        until = time.monotonic() + a.lag_timeout
        while versions and time.monotonic() < until:
            with self.lock:
                done = max((v for _, v in self.manifest), default=-1)
            if done >= max(versions):
                break
            time.sleep(0.1)
        stop.set()
        watcher.join()
        after = vm_status(a.pid)
        return self.report(first, elapsed, before, after)

    # -- figures -------------------------------------------------------------

    def report(self, first, elapsed, before, after) -> int:
        a = self.a
        bad = 0
        # Ingest.
        ok = [b for b in self.batches if b[2] == 200]
        posted = sum(b[3] for b in self.batches)
        accepted = sum(b[4] for b in ok)
        rejected = sum(b[5] for b in ok)
        failed = len(self.batches) - len(ok)
        span = max((b[0] + b[1] for b in self.batches), default=0.0)
        lat = [b[1] for b in self.batches]
        print(f"\ningest: {len(self.batches)} batches, {posted} events posted in {span:.1f} s "
              f"({posted / span if span else 0:.1f}/s, asked {a.rate:g}/s), {accepted} accepted, {rejected} rejected, "
              f"{failed} batches failed; POST p50 {ms(percentile(lat, 50))} ms, p99 {ms(percentile(lat, 99))} ms, "
              f"max {ms(max(lat, default=None))} ms")
        for r in self.rejections:
            print(f"  rejected: {r}")
        bad += rejected + failed

        # Lag per probe.
        rows = []
        for p in self.probes:
            v, t_acc = p.get("version"), p.get("accepted_at")
            p["entity_lag"] = p["kpi_lag"] = p["page_lag"] = None
            if v is not None and t_acc is not None:
                # An object for version >= V is written only after commit V: the first one is the lag.
                seen = [t for t, ev in self.manifest if ev >= v]
                p["entity_lag"] = max(0.0, min(seen) - t_acc) if seen else None
                kpi = [s + d for tgt, s, d, st, ver in self.requests
                       if tgt != a.page and ver is not None and ver >= v and s + d >= t_acc]
                p["kpi_lag"] = min(kpi) - t_acc if kpi else None
                page = [s + d for tgt, s, d, st, ver in self.requests
                        if tgt == a.page and ver is not None and ver >= v and s + d >= t_acc]
                p["page_lag"] = min(page) - t_acc if page else None
            rows.append(p)
        done = [p for p in rows if p.get("accepted_at") is not None]
        print(f"\ningest lag: {len(rows)} probes (one order_opened alone each, from its answered POST), "
              f"{len(rows) - len(done)} not accepted")
        fmt = "  {:<58} {:>7} {:>7} {:>7} {:>7} {:>8}"
        print(fmt.format("until", "p50 s", "p99 s", "max s", "seen", "not seen"))
        polls = [q for p in done for q in p.get("poll_secs", [])]
        for key, label in (
            ("entity_lag", "a manifest object for its version (entity tables current)"),
            ("kpi_lag", "a KPI answer of a reader with x-lake-version >= it"),
            ("page_lag", "a dashboard page whose every section is at >= it"),
            ("sql_lag", f"SQL counts it in {a.lag_view} (polled every {a.poll:g} s)"),
        ):
            vals = [p[key] for p in done if p.get(key) is not None]
            print(fmt.format(label, secs(percentile(vals, 50)), secs(percentile(vals, 99)),
                             secs(max(vals, default=None)), len(vals), len(done) - len(vals)))
        print(f"  (one SQL poll took p50 {ms(percentile(polls, 50))} ms, p99 {ms(percentile(polls, 99))} ms; "
              f"manifest objects seen during the run: {len(self.manifest)})")
        bad += len(rows) - len(done) + sum(1 for p in done if p.get("sql_lag") is None)

        # Latency per target.
        print(f"\nrequests: {a.clients} clients for {elapsed:.1f} s")
        fmt = "  {:<52} {:>8} {:>6} {:>8} {:>8} {:>8} {:>9} {:>9}"
        print(fmt.format("target", "requests", "errors", "p50 ms", "p99 ms", "max ms", "first ms", "versions"))
        for target in self.targets:
            rs = [r for r in self.requests if r[0] == target]
            good = [r[2] for r in rs if 200 <= r[3] < 300]
            errors = len(rs) - len(good)
            bad += errors
            versions = len({r[4] for r in rs if r[4] is not None})
            name = f"{target} (dashboard)" if target == a.page else target
            f_secs, f_status = first.get(target, (None, 0))
            print(fmt.format(name, len(rs), errors, ms(percentile(good, 50)), ms(percentile(good, 99)),
                             ms(max(good, default=None)), ms(f_secs) if f_status == 200 else f"HTTP {f_status}",
                             versions))
        statuses = sorted({r[3] for r in self.requests if not 200 <= r[3] < 300})
        if statuses:
            print(f"  failed requests' statuses: {', '.join('no answer' if s == 0 else str(s) for s in statuses)}")

        print(f"\nserver peak RSS (VmHWM): {after.get('VmHWM', 0) // 1024} MiB "
              f"(before the timed phase: {before.get('VmHWM', 0) // 1024} MiB); VmRSS at the end "
              f"{after.get('VmRSS', 0) // 1024} MiB")
        if a.out:
            self.write_samples(Path(a.out))
        return 1 if bad else 0

    def write_samples(self, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        with (out / "requests.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["target", "start_s", "secs", "status", "lake_version"])
            w.writerows(self.requests)
        with (out / "batches.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["start_s", "secs", "status", "events", "accepted", "rejected", "lake_version"])
            w.writerows(self.batches)
        with (out / "probes.csv").open("w", newline="") as f:
            w = csv.writer(f)
            cols = ["order_id", "posted", "post_secs", "status", "version", "accepted_at", "entity_lag", "kpi_lag", "page_lag",
                    "sql_lag", "polls"]
            w.writerow(cols)
            for p in self.probes:
                w.writerow([p.get(c) for c in cols])
        with (out / "manifest.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["seen_s", "events_version"])
            w.writerows(self.manifest)
        print(f"samples: {out}/requests.csv, batches.csv, probes.csv, manifest.csv")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", required=True, help="http://127.0.0.1:PORT of the server")
    ap.add_argument("--reader-token", required=True, help="token of the dashboard and KPI readers (manager)")
    ap.add_argument("--writer-token", required=True, help="token for POST /api/v1/events and /api/v1/sql (admin)")
    ap.add_argument("--data-dir", required=True, help="the server's data directory (for the entity manifest)")
    ap.add_argument("--pid", required=True, type=int, help="the server's process id (for /proc/PID/status)")
    ap.add_argument("--duration", type=float, default=120.0)
    ap.add_argument("--rate", type=float, default=200.0, help="events per second")
    ap.add_argument("--batch-secs", type=float, default=0.5, help="seconds between event batches")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--page", default="/", help="the dashboard page the readers load")
    ap.add_argument("--kpis", default="sla_response_compliance?by=week first_time_fix_rate?by=region backlog "
                    "csat?by=month response_time", help="space-separated KPI names, each with its query string")
    ap.add_argument("--max-batch", type=int, default=0,
                    help="events at most in one POST (0: all owed; bench/ingest/entities.sh caps them so that a "
                         "writer far behind its rate posts full batches back to back)")
    ap.add_argument("--probe-every", type=float, default=10.0, help="seconds between lag probes (0: none)")
    ap.add_argument("--poll", type=float, default=0.25, help="seconds between SQL polls of a probe")
    ap.add_argument("--lag-view", default="orders", help="the view the SQL poll counts the probe's order in")
    ap.add_argument("--lag-timeout", type=float, default=60.0)
    ap.add_argument("--request-timeout", type=float, default=300.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", help="directory for the raw samples")
    a = ap.parse_args()
    if not re.fullmatch(r"[a-z_]+", a.lag_view):
        raise SystemExit("--lag-view: a view name")
    if a.duration <= 0 or a.rate < 0 or a.batch_secs <= 0 or a.clients < 0 or a.probe_every < 0 or a.poll <= 0:
        raise SystemExit("--duration, --batch-secs and --poll must be positive, --probe-every not negative")
    return Run(a).run()


if __name__ == "__main__":
    raise SystemExit(main())
