"""Time KPI reads over the PostgreSQL protocol and over HTTP on one server (see run.sh)."""
import argparse
import http.client
import json
import statistics
import time

import psycopg


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--http", required=True)
    ap.add_argument("--pg", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("kpis", nargs="+")
    a = ap.parse_args()
    host, port = a.pg.split(":")
    conn = psycopg.connect(host=host, port=int(port), user="fh", password=a.token, dbname="fieldhouse",
                           sslmode="disable", autocommit=True)
    h, p = a.http.split(":")
    web = http.client.HTTPConnection(h, int(p))
    headers = {"Authorization": f"Bearer {a.token}"}

    def over_pg(name):
        t = time.perf_counter()
        with conn.cursor() as cur:
            cur.execute(f"SELECT * FROM kpi.{name}")
            rows = cur.fetchall()
        return time.perf_counter() - t, len(rows)

    def over_http(name):
        t = time.perf_counter()
        web.request("GET", f"/api/v1/kpis/{name}", headers=headers)
        r = web.getresponse()
        body = r.read()
        if r.status != 200:
            raise SystemExit(f"{name}: HTTP {r.status}: {body[:200]!r}")
        return time.perf_counter() - t, len(json.loads(body))

    print(f"{'kpi':28} {'rows':>7} {'cold_ms':>8} {'pg_p50':>7} {'pg_p99':>7} {'http_p50':>8} {'http_p99':>8} {'pg/http':>7}")
    all_pg, all_http, ratios, bad = [], [], [], 0
    for name in a.kpis:
        cold, rows = over_pg(name)
        pg, web_t = [], []
        for _ in range(a.n):
            t, n1 = over_pg(name)
            pg.append(t)
            t, n2 = over_http(name)
            web_t.append(t)
            if n1 != rows or n2 != rows:
                bad += 1
        p50, h50 = statistics.median(pg), statistics.median(web_t)
        all_pg += pg
        all_http += web_t
        ratios.append(p50 / h50)
        print(f"{name:28} {rows:7d} {cold * 1e3:8.1f} {p50 * 1e3:7.2f} {pct(pg, 99) * 1e3:7.2f} "
              f"{h50 * 1e3:8.2f} {pct(web_t, 99) * 1e3:8.2f} {p50 / h50:7.2f}")
    print(f"{'all':28} {'':7} {'':8} {statistics.median(all_pg) * 1e3:7.2f} {pct(all_pg, 99) * 1e3:7.2f} "
          f"{statistics.median(all_http) * 1e3:8.2f} {pct(all_http, 99) * 1e3:8.2f} "
          f"{statistics.median(ratios):7.2f}  (median of the per-KPI ratios)")
    if bad:
        raise SystemExit(f"{bad} reads gave another row count than the first")


main()
