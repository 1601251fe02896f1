//! One tiny service organisation, recorded by hand through every layer, with
//! answers computed by hand:
//!
//! 1. **API server** (`fieldhouse-api`, dashboard mounted as `fieldhouse
//!    serve` mounts it) in-process on 127.0.0.1:0 over a fresh data directory
//!    (a real SQLite `ops.db`, a real Delta lake under `lake/`), with an admin
//!    token in its token store.
//! 2. **HTTP → operational core** (`fieldhouse-ops`): master data and three
//!    service orders, only through the API's JSON endpoints; every write puts
//!    its events in the `ops.db` outbox.
//! 3. **Outbox → lake** (`fieldhouse-ingest`'s relay, as `serve` and `demo`
//!    run it): every outbox event lands exactly once in `lake/events`; a
//!    second pass adds nothing.
//! 4. **Lake → engine → HTTP** (`fieldhouse-engine` behind
//!    `/api/v1/kpis/{name}` and `/api/v1/sql`): KPIs with the hand-computed
//!    answers below.
//! 5. **Engine → dashboard** (`fieldhouse-dashboard`, `GET /` with the
//!    `fh_session` cookie): the first-time-fix headline shows the same figure.
//! 6. **Engine → reports** (`fieldhouse-reports`, the runner the scheduler
//!    calls): the weekly management pack's CSV and HTML show it too, and the
//!    server serves the written file.
//! 7. The server stops cleanly and lets go of its port.
//!
//! The organisation: one customer with one site (region North, UTC), three
//! units of one product, all under one contract whose calendar is 24x7 UTC
//! (so business time = wall-clock time) with a P2 term of 240 min response
//! and 2,880 min resolution; one technician. All in ISO week 2026-W10
//! (Mon 2026-03-02 .. Sun 2026-03-08):
//!
//! - **A** (unit 1, corrective, P2): opened Mon 08:00, assigned, one visit
//!   (arrives 09:00) ends `fixed`; completed Mon 10:00, closed 10:30 with CSAT 5.
//! - **B** (unit 2, corrective, P2): opened Mon 09:00; visit 1 (arrives 11:00)
//!   ends `needs_follow_up`; visit 2 on Tue (arrives 09:30) ends `fixed`;
//!   completed Tue 10:00, not closed.
//! - **C** (unit 3, corrective, P2): opened Thu 2026-03-05 08:00, nothing else:
//!   still open.
//!
//! Each order has a unit of its own, so no order is a "new order for the same
//! equipment within 30 days" of another: the fix of A stands both under
//! `sql/kpi/first_time_fix_rate.sql` (only a new corrective order spoils it)
//! and under DOMAIN.md's wording (any new order spoils it).
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../api/tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;

use arrow::array::{AsArray, RecordBatch};
use chrono::NaiveDate;
use fieldhouse_ingest::lake::{EVENTS, version_of};
use fieldhouse_ingest::{Lake, Relay};
use serde_json::{Value, json};
use support::{Resp, Server};

/// The week everything happens in, as KPI `from`/`to` (end exclusive).
const FROM: &str = "2026-03-02";
const TO: &str = "2026-03-09";
/// The reference instant for open orders: the end of the week.
const NOW: &str = "2026-03-09T00:00:00Z";

/// POST `body` as the admin, check the status, return the JSON answer.
async fn post(srv: &Server, path: &str, status: u16, body: Value) -> Value {
    let r = srv.post(path, Some("admin"), &body.to_string()).await;
    assert_eq!(r.status, status, "POST {path} {body}: {}", r.text());
    r.json()
}

/// Register one master record (`201 Created`) and return its id (`key`).
async fn create(srv: &Server, path: &str, key: &str, body: Value) -> String {
    let v = post(srv, path, 201, body).await;
    v[key].as_str().unwrap_or_else(|| panic!("POST {path}: no `{key}` in {v}")).to_string()
}

/// Order action `action` on `order`; returns the order's state afterwards.
async fn act(srv: &Server, order: &str, action: &str, body: Value) -> String {
    let v = post(srv, &format!("/api/v1/orders/{order}/{action}"), 200, body).await;
    v["state"].as_str().unwrap_or_else(|| panic!("{action}: no state in {v}")).to_string()
}

/// A GET as the admin that must answer 200.
async fn get_ok(srv: &Server, path: &str) -> Resp {
    let r = srv.get(path, Some("admin")).await;
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r
}

/// The rows of KPI `name` with `query`, as the admin, and the response.
async fn kpi(srv: &Server, name: &str, query: &str) -> (Vec<Value>, Resp) {
    let r = get_ok(srv, &format!("/api/v1/kpis/{name}?{query}")).await;
    let rows = r.json().as_array().cloned().unwrap_or_else(|| panic!("{name}: not a JSON array: {}", r.text()));
    (rows, r)
}

/// The rows of a read-only SQL query, as the admin.
async fn sql(srv: &Server, q: &str) -> Vec<Value> {
    let r = post(srv, "/api/v1/sql", 200, json!({ "sql": q })).await;
    r.as_array().cloned().unwrap_or_else(|| panic!("{q}: not a JSON array: {r}"))
}

fn num(row: &Value, key: &str) -> f64 {
    row[key].as_f64().unwrap_or_else(|| panic!("`{key}` is not a number in {row}"))
}

/// Every event id of the `ops.db` outbox, read page by page over `GET /api/v1/outbox`.
async fn outbox_ids(srv: &Server) -> Vec<String> {
    let (mut ids, mut after) = (Vec::new(), 0i64);
    loop {
        let page = get_ok(srv, &format!("/api/v1/outbox?after={after}&limit=1000")).await.json();
        let items = page["items"].as_array().cloned().unwrap_or_default();
        let Some(last) = items.last() else { break };
        after = last["seq"].as_i64().unwrap();
        ids.extend(items.iter().map(|i| i["event"]["event_id"].as_str().unwrap().to_string()));
    }
    ids
}

/// The `event_id` of every row of `batches` (read from `lake/events`).
fn event_ids(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let ids = b.column_by_name("event_id").unwrap().as_string::<i32>();
        out.extend(ids.iter().map(|id| id.unwrap().to_string()));
    }
    out
}

/// The text of every `<tag ...>text</tag>` in `html`, in order.
fn cells(html: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        // `<th>` or `<th class=...>`, not `<thead>`.
        if !(after.starts_with('>') || after.starts_with(' ')) {
            rest = after;
            continue;
        }
        let Some(gt) = after.find('>') else { break };
        let body = &after[gt + 1..];
        let Some(end) = body.find(&close) else { break };
        out.push(body[..end].to_string());
        rest = &body[end + close.len()..];
    }
    out
}

/// The values of column `column` of a CSV text (no quoting needed here).
fn csv_column(csv: &str, column: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let i = header.iter().position(|h| *h == column).unwrap_or_else(|| panic!("no `{column}` in {header:?}"));
    lines.map(|l| l.split(',').nth(i).unwrap_or_default().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_recorded_orders_flow_through_outbox_lake_kpis_dashboard_and_reports() {
    // --- 1. The server over a fresh data directory, the lake's tables created first (as `serve` does).
    let dir = common::scratch();
    let lake_dir = dir.path().join("lake");
    let lake = Lake::open(&lake_dir.display().to_string()).await.unwrap();
    let config = fieldhouse_api::ServeConfig { kpi_timeout_secs: 600, ..support::test_config() };
    // Tokens for every role (the admin's is used throughout), the dashboard mounted.
    let srv = support::start_with(dir, config, &[], true).await;
    let health = srv.get("/healthz", None).await;
    assert_eq!((health.status, health.json()["outbox_seq"].as_i64()), (200, Some(0)), "{}", health.text());

    // --- 2. Master data, through HTTP only.
    let t0 = "2026-03-01T08:00:00Z";
    let customer = create(
        &srv,
        "/api/v1/customers",
        "customer_id",
        json!({"name": "Northwind Clinic", "segment": "enterprise", "payment_terms_days": 30, "at": t0}),
    )
    .await;
    let site = create(
        &srv,
        "/api/v1/sites",
        "site_id",
        json!({"customer_id": customer, "name": "Northwind Main", "region": "North",
               "lat": 53.55, "lon": 9.99, "time_zone": "UTC", "at": t0}),
    )
    .await;
    let maker =
        create(&srv, "/api/v1/manufacturers", "manufacturer_id", json!({"name": "Acme Imaging", "at": t0})).await;
    let product = create(
        &srv,
        "/api/v1/products",
        "product_id",
        json!({"manufacturer_id": maker, "model": "AX-1", "family": "imaging",
               "standard_repair_minutes": 90, "warranty_months": 12, "at": t0}),
    )
    .await;
    let mut units = Vec::new();
    for serial in ["AX1-0001", "AX1-0002", "AX1-0003"] {
        let body = json!({"product_id": product, "site_id": site, "serial": serial,
                          "installed_on": "2025-06-01", "at": t0});
        units.push(create(&srv, "/api/v1/equipment", "equipment_id", body).await);
    }
    let calendar = create(
        &srv,
        "/api/v1/calendars",
        "calendar_id",
        json!({"calendar": {"name": "24x7 UTC", "tz": "UTC", "always_open": true}, "at": t0}),
    )
    .await;
    let contract = create(
        &srv,
        "/api/v1/contracts",
        "contract_id",
        json!({"customer_id": customer, "tier": "gold", "calendar_id": calendar, "equipment_ids": units,
               "sla": [{"priority": "P2", "response_minutes": 240, "resolution_minutes": 2880}],
               "labour_rate_cents_per_hour": 9000, "parts_discount_pct": 10, "labour_covered": true,
               "monthly_fee_cents": 50000, "currency": "EUR", "valid_from": "2026-01-01",
               "valid_to": "2026-12-31", "pause_on_parts": false, "at": t0}),
    )
    .await;
    let tech = create(
        &srv,
        "/api/v1/technicians",
        "technician_id",
        json!({"name": "Tess Field", "region": "North", "skills": ["imaging"], "shift_calendar_id": calendar,
               "home_lat": 53.5, "home_lon": 10.0, "at": t0}),
    )
    .await;

    // --- Orders. Opening one answers 201 with the order, under the contract.
    let open = |unit: &str, fault: &str, at: &str| {
        json!({"customer_id": customer, "equipment_id": unit, "order_type": "corrective", "channel": "phone",
               "priority": "P2", "fault_code": fault, "reported_fault": "no image", "at": at})
    };
    let a = post(&srv, "/api/v1/orders", 201, open(&units[0], "E-101", "2026-03-02T08:00:00Z")).await;
    assert_eq!((a["entitlement"].as_str(), a["contract_id"].as_str()), (Some("contract"), Some(contract.as_str())));
    let a = a["order_id"].as_str().unwrap().to_string();
    let b = post(&srv, "/api/v1/orders", 201, open(&units[1], "E-202", "2026-03-02T09:00:00Z")).await;
    let b = b["order_id"].as_str().unwrap().to_string();

    let arrive = |at: &str| json!({"lat": 53.55, "lon": 9.99, "at": at});
    // A: one visit, fixed; completed and signed off.
    assert_eq!(act(&srv, &a, "assign", json!({"technician_id": tech, "at": "2026-03-02T08:10:00Z"})).await, "assigned");
    assert_eq!(act(&srv, &a, "travel", json!({"at": "2026-03-02T08:30:00Z"})).await, "travelling");
    assert_eq!(act(&srv, &a, "arrive", arrive("2026-03-02T09:00:00Z")).await, "on_site");
    act(&srv, &a, "work", json!({"minutes": 60, "at": "2026-03-02T10:00:00Z"})).await;
    let fixed = |at: &str| json!({"outcome": "fixed", "at": at});
    assert_eq!(act(&srv, &a, "end-visit", fixed("2026-03-02T10:00:00Z")).await, "visit_ended");
    assert_eq!(act(&srv, &a, "complete", json!({"at": "2026-03-02T10:00:00Z"})).await, "completed");
    let close = json!({"signed_by": "Dr. Ada Byron", "csat": 5, "at": "2026-03-02T10:30:00Z"});
    assert_eq!(act(&srv, &a, "close", close).await, "closed");

    // B: the first visit does not fix it, the second (next day) does; completed, not signed off.
    act(&srv, &b, "assign", json!({"technician_id": tech, "at": "2026-03-02T09:15:00Z"})).await;
    act(&srv, &b, "travel", json!({"at": "2026-03-02T10:30:00Z"})).await;
    act(&srv, &b, "arrive", arrive("2026-03-02T11:00:00Z")).await;
    act(&srv, &b, "work", json!({"minutes": 45, "at": "2026-03-02T11:45:00Z"})).await;
    let follow_up = json!({"outcome": "needs_follow_up", "at": "2026-03-02T11:45:00Z"});
    assert_eq!(act(&srv, &b, "end-visit", follow_up).await, "visit_ended");
    // Not fixed: the order cannot be completed yet.
    let path = format!("/api/v1/orders/{b}/complete");
    let refused = srv.post(&path, Some("admin"), r#"{"at": "2026-03-02T12:00:00Z"}"#).await;
    assert_eq!(refused.status, 409, "completing an unfixed order: {}", refused.text());
    assert_eq!(act(&srv, &b, "travel", json!({"at": "2026-03-03T09:00:00Z"})).await, "travelling");
    act(&srv, &b, "arrive", arrive("2026-03-03T09:30:00Z")).await;
    act(&srv, &b, "work", json!({"minutes": 30, "at": "2026-03-03T10:00:00Z"})).await;
    act(&srv, &b, "end-visit", fixed("2026-03-03T10:00:00Z")).await;
    assert_eq!(act(&srv, &b, "complete", json!({"at": "2026-03-03T10:00:00Z"})).await, "completed");

    // C: opened and left open (the backlog).
    let c = post(&srv, "/api/v1/orders", 201, open(&units[2], "E-303", "2026-03-05T08:00:00Z")).await;
    let c = c["order_id"].as_str().unwrap().to_string();

    // --- 3. The relay: the outbox into `lake/events`, exactly once.
    let outbox = outbox_ids(&srv).await;
    let health = srv.get("/healthz", None).await;
    assert_eq!(health.json()["outbox_seq"].as_i64(), Some(outbox.len() as i64), "a gap-free outbox");
    let unique: BTreeSet<String> = outbox.iter().cloned().collect();
    assert_eq!(unique.len(), outbox.len(), "outbox event ids are unique");
    // One event per master record: customer, site, manufacturer, product, 3 units, calendar, contract,
    // technician = 10. An opening writes `order_opened` + `entitlement_checked` (the contract has a P2
    // term, so no default calendar is defined): 3 × 2 = 6. One event per action: A assign, travel,
    // arrive, work, end-visit, complete, close = 7; B assign, 2 × (travel, arrive, work, end-visit),
    // complete = 10. 10 + 6 + 7 + 10 = 33.
    assert_eq!(outbox.len(), 33, "outbox events");

    let relay = Relay::new(srv.dir.path().join("ops.db"), lake.clone());
    let first = relay.run_once().await.unwrap();
    assert_eq!(first.events, outbox.len() as u64, "{first:?}");
    assert_eq!((first.rejected, first.conflicts, first.start_version), (0, 0, 0), "{first:?}");
    assert_eq!(first.end_version, outbox.len() as i64, "the txn version is the last outbox seq: {first:?}");
    let landed = event_ids(&lake.read_all(EVENTS).await.unwrap());
    assert_eq!(landed.len(), outbox.len(), "one row per outbox event");
    assert_eq!(landed.iter().cloned().collect::<BTreeSet<_>>(), unique, "the same events");
    let version = version_of(&lake.load(EVENTS).await.unwrap()).unwrap();

    // Again: nothing new, no commit, the same rows.
    let second = relay.run_once().await.unwrap();
    assert_eq!((second.events, second.commits), (0, 0), "{second:?}");
    assert_eq!((second.start_version, second.end_version), (first.end_version, first.end_version));
    assert_eq!(version_of(&lake.load(EVENTS).await.unwrap()), Some(version), "no new Delta commit");
    assert_eq!(lake.read_all(EVENTS).await.unwrap().iter().map(|b| b.num_rows()).sum::<usize>(), outbox.len());

    // The engine behind the API reads the same lake.
    let counts = sql(&srv, "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events").await;
    assert_eq!((num(&counts[0], "n"), num(&counts[0], "ids")), (outbox.len() as f64, outbox.len() as f64));
    // Visits: A has 1, B has 2 (C none) = 3; ended `fixed`: A's and B's second = 2.
    let q = "SELECT count(*) AS n, count(*) FILTER (WHERE outcome = 'fixed') AS n_fixed, \
             max(visit_seq) AS max_seq FROM visits";
    let visits = sql(&srv, q).await;
    assert_eq!(
        (num(&visits[0], "n"), num(&visits[0], "n_fixed"), num(&visits[0], "max_seq")),
        (3.0, 2.0, 2.0),
        "{visits:?}"
    );

    // --- 4. KPIs over HTTP, for the week.
    let period = format!("from={FROM}&to={TO}&now={NOW}");
    // First-time fix: the corrective orders completed in the week with a visit are A and B (C is not
    // completed) = 2. A had exactly one visit, ended `fixed`, never reopened, and no other order was
    // opened for its unit afterwards: fixed first time. B needed two visits: not. 1 ÷ 2 = 50.00 %.
    let (ftf, r) = kpi(&srv, "first_time_fix_rate", &period).await;
    assert_eq!(ftf.len(), 1, "one row without a group: {ftf:?}");
    assert_eq!(
        (num(&ftf[0], "orders"), num(&ftf[0], "first_time_fixed"), num(&ftf[0], "ftf_pct")),
        (2.0, 1.0, 50.0),
        "{ftf:?}"
    );
    assert_eq!(
        r.header("x-lake-version").map(|v| v.parse::<i64>().unwrap()),
        Some(version),
        "answered at the relay's version"
    );
    // Time to resolve (opened → completed, no pauses; 24x7 calendar, so business = wall clock):
    // A 08:00 → 10:00 = 120 min; B Mon 09:00 → Tue 10:00 = 25 h = 1,500 min; mean (120 + 1500) ÷ 2 = 810.
    let (ttr, _) = kpi(&srv, "time_to_resolve", &period).await;
    assert_eq!(
        (num(&ttr[0], "orders"), num(&ttr[0], "net_mean_min"), num(&ttr[0], "business_mean_min")),
        (2.0, 810.0, 810.0),
        "{ttr:?}"
    );
    // CSAT: only A was closed, with a 5: one scored closing, mean 5.
    let (csat, _) = kpi(&srv, "csat", &period).await;
    assert_eq!((num(&csat[0], "scored"), num(&csat[0], "unscored"), num(&csat[0], "csat_mean")), (1.0, 0.0, 5.0));
    // Backlog at the end of the week: only C is open (A closed, B completed). Its age: Thu 08:00 → Mon
    // 00:00 = 88 h. Nobody arrived and the response deadline (opened + 240 min = Thu 12:00) has passed.
    let (backlog, _) = kpi(&srv, "backlog", &format!("now={NOW}")).await;
    assert_eq!(backlog.len(), 1, "{backlog:?}");
    assert_eq!(backlog[0]["order_id"].as_str(), Some(c.as_str()));
    assert_eq!(num(&backlog[0], "age_hours"), 88.0, "{backlog:?}");
    assert_eq!(backlog[0]["response_state"].as_str(), Some("breached"), "{backlog:?}");

    // --- 5. The dashboard: the admin's home page (Management) for the same week, by cookie.
    let cookie = format!("fh_session={}", srv.token("admin"));
    let page = srv.get_with(&format!("/?from={FROM}&until=2026-03-08"), "admin", &[("Cookie", &cookie)]).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    // The headline: `pct(1, 2)` = 50 (data-value), shown with two decimals.
    assert!(html.contains(r#"id="first-time-fix-value" data-value="50""#), "no 50 % headline:\n{html}");
    assert!(html.contains("50.00 %") && html.contains("(1 of 2 orders)"), "{html}");

    // --- 6. The weekly management pack for 2026-W10, written by the report runner as the scheduler does.
    let source = fieldhouse_reports::EngineSource::open(srv.dir.path()).unwrap();
    let reports = fieldhouse_reports::Config::defaults().unwrap();
    let def = reports.get("management_weekly").unwrap();
    let week = fieldhouse_reports::Period::containing(def.period, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
    assert_eq!(week.label(), "2026-W10");
    let run = fieldhouse_reports::run_report(&source, srv.dir.path(), def, week, None, None).await.unwrap();
    assert_eq!(run.lake_version, version);
    assert!(run.files.iter().any(|f| f == "first_time_fix_rate.csv") && run.files.iter().any(|f| f == "report.html"));
    // The CSV: one region (North) with the same numbers.
    let csv = std::fs::read_to_string(run.dir.join("first_time_fix_rate.csv")).unwrap();
    assert_eq!(csv_column(&csv, "region"), ["North"], "{csv}");
    assert_eq!(csv_column(&csv, "orders"), ["2"], "{csv}");
    let pct = csv_column(&csv, "ftf_pct");
    assert_eq!(pct.iter().map(|p| p.parse::<f64>().unwrap()).collect::<Vec<_>>(), [50.0], "{csv}");
    // The HTML: the section's table shows the same cell.
    let report_html = std::fs::read_to_string(run.dir.join("report.html")).unwrap();
    let start = report_html.find(r#"<section id="first_time_fix_rate">"#).unwrap();
    let section = &report_html[start..];
    let table = &section[section.find(r#"<table class="data">"#).unwrap()..section.find("</table>").unwrap()];
    let (heads, row) = (cells(table, "th"), cells(table, "td"));
    let col = heads.iter().position(|h| h == "ftf pct").unwrap_or_else(|| panic!("{heads:?}"));
    assert_eq!(row[col].parse::<f64>().unwrap(), 50.0, "{table}");
    // The backlog section, clock at the end of the week: C alone.
    let backlog_csv = std::fs::read_to_string(run.dir.join("backlog.csv")).unwrap();
    assert_eq!(csv_column(&backlog_csv, "order_id"), std::slice::from_ref(&c), "{backlog_csv}");
    // The server lists the written report and serves the very same file.
    let listing = get_ok(&srv, "/api/v1/reports").await.json();
    let url = listing["reports"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["downloads"].as_array().cloned().unwrap_or_default())
        .filter_map(|u| u.as_str().map(str::to_string))
        .find(|u| u.ends_with("/first_time_fix_rate.csv"))
        .unwrap_or_else(|| panic!("not listed: {listing}"));
    assert_eq!(get_ok(&srv, &url).await.text(), csv);

    // --- 7. Stop: requests finish, the serve task returns Ok, the port is released.
    let addr = srv.addr;
    srv.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "still listening on {addr}");
}
