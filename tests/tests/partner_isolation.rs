//! A partner (a service agent's token) sees its own orders, visits, parts and
//! claims and the master data those refer to, and nothing else, on every
//! path: SQL over `events` and every view, every KPI with every dimension,
//! per-agent reports and their files, the dashboard, and the API's list and
//! get endpoints; two partners asking in turn (through the shared KPI cache)
//! never see each other's rows.
//!
//! The allowed set is computed here, independently of the engine's SQL, from
//! the simulator's raw events (the rule of `fieldhouse_engine::scope`, written
//! again in Rust over the events' JSON form). A row of any answer "refers to"
//! an id when the id appears anywhere in its text, so an id hidden in a
//! payload counts as much as one in a column.
#![allow(clippy::unwrap_used)]

mod common;
#[path = "../../api/tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};

use fieldhouse_engine::{AsOf, Caller, Engine, KpiRequest, Role, SessionOptions, SqlLimits, collect, run_kpi, run_sql};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Every UUID written in `text` (lower case, hyphenated).
fn uuids(text: &str) -> BTreeSet<String> {
    let b = text.as_bytes();
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i + 36 <= b.len() {
        let w = &b[i..i + 36];
        let ok = w.iter().enumerate().all(|(k, c)| match k {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
        if ok {
            out.insert(String::from_utf8_lossy(w).to_ascii_lowercase());
            i += 36;
        } else {
            i += 1;
        }
    }
    out
}

fn get<'a>(e: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    e.get(k).and_then(Value::as_str)
}

const ORDER_LEVEL: &[&str] = &[
    "order_opened",
    "entitlement_checked",
    "priority_changed",
    "order_paused",
    "order_resumed",
    "order_completed",
    "order_closed",
    "order_cancelled",
    "order_reopened",
];
const STOCK: &[&str] =
    &["stock_location_defined", "stock_received", "stock_transferred", "stock_counted", "reorder_placed"];

/// What agent `agent` may see: the visible events (by id, with the payload
/// keys it may not see removed) and every id those events name.
struct Allowed {
    events: BTreeMap<String, Map<String, Value>>,
    ids: BTreeSet<String>,
}

fn allowed(all: &[Map<String, Value>], agent: &str) -> Allowed {
    let ty = |e: &Map<String, Value>| get(e, "type").unwrap_or_default().to_string();
    let no_agent = |e: &Map<String, Value>| get(e, "agent_id").is_none();
    let own: Vec<&Map<String, Value>> = all.iter().filter(|e| get(e, "agent_id") == Some(agent)).collect();
    let set =
        |it: &mut dyn Iterator<Item = Option<&str>>| -> BTreeSet<String> { it.flatten().map(str::to_string).collect() };
    let orders = set(&mut own.iter().map(|e| get(e, "order_id")));
    let techs = set(&mut own.iter().filter(|e| ty(e) == "technician_hired").map(|e| get(e, "technician_id")));
    let order_refs: Vec<&Map<String, Value>> = all
        .iter()
        .filter(|e| {
            ["order_opened", "entitlement_checked"].contains(&ty(e).as_str())
                && no_agent(e)
                && get(e, "order_id").is_some_and(|o| orders.contains(o))
        })
        .collect();
    let mut equipment = set(&mut order_refs.iter().map(|e| get(e, "equipment_id")));
    equipment.extend(set(&mut own.iter().filter(|e| ty(e) == "claim_filed").map(|e| get(e, "equipment_id"))));
    let equipment_refs: Vec<&Map<String, Value>> = all
        .iter()
        .filter(|e| ty(e) == "equipment_installed" && get(e, "equipment_id").is_some_and(|q| equipment.contains(q)))
        .collect();
    let mut sites = set(&mut order_refs.iter().map(|e| get(e, "site_id")));
    sites.extend(set(&mut equipment_refs.iter().map(|e| get(e, "site_id"))));
    let contracts = set(&mut order_refs.iter().map(|e| get(e, "contract_id")));
    let contract_refs: Vec<&Map<String, Value>> = all
        .iter()
        .filter(|e| ty(e) == "contract_signed" && get(e, "contract_id").is_some_and(|k| contracts.contains(k)))
        .collect();
    let mut customers = set(&mut order_refs.iter().map(|e| get(e, "customer_id")));
    customers.extend(set(&mut equipment_refs.iter().map(|e| get(e, "customer_id"))));
    customers.extend(set(&mut contract_refs.iter().map(|e| get(e, "customer_id"))));
    customers.extend(set(&mut all
        .iter()
        .filter(|e| ty(e) == "site_registered" && get(e, "site_id").is_some_and(|s| sites.contains(s)))
        .map(|e| get(e, "customer_id"))));
    let mut products = set(&mut order_refs.iter().map(|e| get(e, "product_id")));
    products.extend(set(&mut equipment_refs.iter().map(|e| get(e, "product_id"))));
    let mut makers = set(&mut all
        .iter()
        .filter(|e| ty(e) == "product_defined" && get(e, "product_id").is_some_and(|p| products.contains(p)))
        .map(|e| get(e, "manufacturer_id")));
    makers.extend(set(&mut own.iter().filter(|e| ty(e) == "claim_filed").map(|e| get(e, "manufacturer_id"))));
    let mut calendars = set(&mut order_refs.iter().map(|e| get(e, "calendar_id")));
    calendars.extend(set(&mut contract_refs.iter().map(|e| get(e, "calendar_id"))));
    calendars.extend(set(&mut own.iter().filter(|e| ty(e) == "technician_hired").map(|e| get(e, "shift_calendar_id"))));
    let mut parts = set(&mut own.iter().filter(|e| ty(e) == "part_consumed").map(|e| get(e, "part_id")));
    let items = |e: &Map<String, Value>, k: &str, f: &str| -> Vec<String> {
        e.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|x| x.get(f).and_then(Value::as_str).map(str::to_string)).collect())
            .unwrap_or_default()
    };
    for e in &own {
        match ty(e).as_str() {
            "claim_filed" => parts.extend(items(e, "parts", "part_id")),
            "agent_registered" => makers.extend(items(e, "claim_rates", "manufacturer_id")),
            _ => {}
        }
    }
    let vans = set(&mut all
        .iter()
        .filter(|e| ty(e) == "stock_location_defined" && get(e, "technician_id").is_some_and(|t| techs.contains(t)))
        .map(|e| get(e, "location_id")));

    let mut events = BTreeMap::new();
    for e in all {
        let t = ty(e);
        let within = |k: &str, s: &BTreeSet<String>| get(e, k).is_some_and(|v| s.contains(v));
        let mut drop: Vec<&str> = Vec::new();
        let visible = if get(e, "agent_id") == Some(agent) {
            if t == "order_reassigned" {
                drop.push("from_technician_id");
            }
            true
        } else if !no_agent(e) {
            false
        } else if ORDER_LEVEL.contains(&t.as_str()) {
            let ok = within("order_id", &orders) && (get(e, "technician_id").is_none() || t == "order_completed");
            if ok && get(e, "technician_id").is_some() && !within("technician_id", &techs) {
                drop.push("technician_id");
            }
            ok
        } else {
            match t.as_str() {
                "equipment_installed" | "equipment_decommissioned" => within("equipment_id", &equipment),
                "site_registered" => within("site_id", &sites),
                "customer_registered" => within("customer_id", &customers),
                "product_defined" => within("product_id", &products),
                "manufacturer_registered" => within("manufacturer_id", &makers),
                "contract_signed" | "contract_terminated" => {
                    drop.push("equipment_ids");
                    within("contract_id", &contracts)
                }
                "calendar_defined" => within("calendar_id", &calendars),
                "part_defined" => within("part_id", &parts),
                "technician_left" => within("technician_id", &techs),
                s if STOCK.contains(&s) => {
                    drop.push("from_location_id");
                    within("location_id", &vans)
                }
                _ => false,
            }
        };
        if visible {
            let mut e = e.clone();
            for k in drop {
                e.remove(k);
            }
            events.insert(get(&e, "event_id").unwrap().to_string(), e);
        }
    }
    let mut ids = BTreeSet::new();
    for e in events.values() {
        ids.extend(uuids(&Value::Object(e.clone()).to_string()));
    }
    Allowed { events, ids }
}

/// The ids in `text` outside `allowed` (the first few, for the message).
fn strangers(text: &str, allowed: &BTreeSet<String>) -> Vec<String> {
    uuids(text).into_iter().filter(|u| !allowed.contains(u)).take(5).collect()
}

fn json_text(batches: &[arrow::array::RecordBatch]) -> String {
    let mut w = arrow::json::LineDelimitedWriter::new(Vec::new());
    for b in batches {
        w.write(b).unwrap();
    }
    w.finish().unwrap();
    String::from_utf8(w.into_inner()).unwrap()
}

struct World {
    dir: tempfile::TempDir,
    events: Vec<Map<String, Value>>,
    /// The two agents with the most events, and what each may see.
    agents: Vec<(Uuid, Allowed)>,
    now: chrono::DateTime<chrono::Utc>,
}

async fn world() -> World {
    let common::Month { dir, events, now } = common::simulated_month().await;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &events {
        if get(e, "type") != Some("agent_registered")
            && let Some(a) = get(e, "agent_id")
        {
            *counts.entry(a).or_default() += 1;
        }
    }
    let mut busiest: Vec<(&str, usize)> = counts.into_iter().collect();
    busiest.sort_by_key(|(a, n)| (std::cmp::Reverse(*n), *a));
    assert!(busiest.len() >= 2, "the simulation needs two agents with work, got {busiest:?}");
    let agents = busiest[..2].iter().map(|(a, _)| (Uuid::parse_str(a).unwrap(), allowed(&events, a))).collect();
    World { dir, events, agents, now }
}

fn options(now: chrono::DateTime<chrono::Utc>) -> SessionOptions {
    SessionOptions { as_of: AsOf::Latest, now: Some(now), ..SessionOptions::default() }
}

async fn sql(engine: &Engine, caller: &Caller, q: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    let limits = SqlLimits { max_rows: 10_000_000, timeout: None };
    let stream = run_sql(engine, q, caller, limits, &options(now)).await.unwrap_or_else(|e| panic!("{q}: {e}"));
    json_text(&collect(stream).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_sees_exactly_its_own_slice_on_every_engine_path() {
    let w = world().await;
    let engine = Engine::open(w.dir.path()).unwrap();
    let started = std::time::Instant::now();
    for (agent, allowed) in &w.agents {
        let caller = Caller::partner(*agent);
        // `events`: exactly the visible events, payloads included.
        let got = sql(&engine, &caller, "SELECT * FROM events", w.now).await;
        let mut seen = BTreeSet::new();
        for line in got.lines() {
            let row: Map<String, Value> = serde_json::from_str(line).unwrap();
            let id = get(&row, "event_id").unwrap().to_string();
            let payload = get(&row, "payload").unwrap_or_default();
            let bad = strangers(line, &allowed.ids);
            assert!(
                bad.is_empty(),
                "agent {agent}: event {id} ({:?}) names {bad:?}: {payload}",
                get(&row, "event_type")
            );
            seen.insert(id);
        }
        let expected: BTreeSet<String> = allowed.events.keys().cloned().collect();
        let missing: Vec<_> = expected.difference(&seen).take(5).map(|id| &allowed.events[id]).collect();
        let extra: Vec<_> = seen.difference(&expected).take(5).collect();
        assert!(missing.is_empty() && extra.is_empty(), "agent {agent}: missing {missing:?}, extra {extra:?}");
        assert!(seen.len() > 100 && seen.len() < w.events.len() / 2, "agent {agent} sees {} events", seen.len());
        eprintln!("agent {agent}: {} of {} events, {:?}", seen.len(), w.events.len(), started.elapsed());

        // Every view: no row names an id outside the set.
        for view in engine.view_names().collect::<Vec<_>>() {
            let got = sql(&engine, &caller, &format!("SELECT * FROM {view}"), w.now).await;
            let bad = strangers(&got, &allowed.ids);
            assert!(bad.is_empty(), "agent {agent}: view {view} names {bad:?}");
        }
        // The dead letters and the information schema are not there at all.
        for q in ["SELECT * FROM rejected_events", "SELECT * FROM information_schema.tables"] {
            let limits = SqlLimits::default();
            assert!(run_sql(&engine, q, &caller, limits, &options(w.now)).await.is_err(), "{q} answered");
        }

        // Every KPI it may read, as it is and by every dimension, and with
        // the other agent's id as a filter.
        let other = w.agents.iter().find(|(a, _)| a != agent).unwrap().0.to_string();
        for def in engine.catalog().list().filter(|k| k.allows(Role::Partner)) {
            let mut requests = vec![KpiRequest::new(&def.name).now(w.now)];
            for d in &def.dimensions {
                requests.push(KpiRequest::new(&def.name).by(d).now(w.now));
            }
            if def.params.iter().any(|p| p.name == "agent") {
                requests.push(KpiRequest::new(&def.name).param("agent", other.clone()).now(w.now));
            }
            for req in requests {
                let got = json_text(&collect(run_kpi(&engine, &req, &caller).await.unwrap()).await.unwrap());
                let bad = strangers(&got, &allowed.ids);
                assert!(bad.is_empty(), "agent {agent}: {req:?} names {bad:?}");
            }
        }
        eprintln!("agent {agent}: KPIs checked, {:?}", started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_partners_in_turn_see_only_their_own_through_api_dashboard_and_reports() {
    let w = world().await;
    let [(a, allowed_a), (b, allowed_b)] = &w.agents[..] else { panic!("two agents") };
    let (a, b) = (*a, *b);
    // Per-agent reports, written by the report runner as the scheduler does.
    let source = fieldhouse_reports::EngineSource::open(w.dir.path()).unwrap();
    let config = fieldhouse_reports::Config::defaults().unwrap();
    // Only for the two agents under test (the others' runs would only cost time).
    let skip: Vec<Uuid> = w
        .events
        .iter()
        .filter(|e| get(e, "type") == Some("agent_registered"))
        .filter_map(|e| get(e, "agent_id").and_then(|a| Uuid::parse_str(a).ok()))
        .filter(|x| *x != a && *x != b)
        .collect();
    let started = std::time::Instant::now();
    let mut per_agent = 0;
    for def in config.reports.iter().filter(|d| d.per_agent) {
        let period = fieldhouse_reports::Period::containing(def.period, (w.now - chrono::Days::new(1)).date_naive());
        let runs = fieldhouse_reports::runner::run_report_agents(&source, w.dir.path(), def, period, None, &skip);
        for (_, run) in runs.await.unwrap() {
            run.unwrap();
            per_agent += 1;
        }
    }
    assert_eq!(per_agent, 2, "per-agent reports written");
    eprintln!("reports written: {:?}", started.elapsed());

    // Two KPI computations at once: the dashboard's sections are computed side by side.
    let config = fieldhouse_api::ServeConfig { kpi_concurrency: 2, kpi_timeout_secs: 600, ..support::test_config() };
    let server = support::start_with(w.dir, config, &[("a", a), ("b", b)], true).await;
    let now = w.now.to_rfc3339();
    let catalog: Vec<String> =
        server.state.engine.catalog().list().filter(|k| k.allows(Role::Partner)).map(|k| k.name.clone()).collect();

    let check = |who: &str, what: &str, body: &str| {
        let allowed = if who == "a" { &allowed_a.ids } else { &allowed_b.ids };
        let bad = strangers(body, allowed);
        assert!(bad.is_empty(), "partner {who}: {what} names {bad:?}");
    };
    // A, then B, then A again: the second A is served from the KPI cache.
    for who in ["a", "b", "a"] {
        let list = server.get("/api/v1/kpis", Some(who)).await;
        assert_eq!(list.status, 200, "{}", list.text());
        for kpi in &catalog {
            let path = format!("/api/v1/kpis/{kpi}?now={}", now.replace('+', "%2B"));
            let r = server.get(&path, Some(who)).await;
            assert_eq!(r.status, 200, "{path}: {}", r.text());
            check(who, &path, &r.text());
        }
        eprintln!("{who}: KPIs {:?}", started.elapsed());
        let r = server.post("/api/v1/sql", Some(who), r#"{"sql": "SELECT * FROM events"}"#).await;
        assert_eq!(r.status, 200, "{}", r.text());
        check(who, "SELECT * FROM events", &r.text());
        // A partner's home page is the partner page.
        for page in ["/"] {
            let cookie = format!("fh_session={}", server.token(who));
            let r = server.get_with(page, who, &[("Cookie", &cookie)]).await;
            assert_eq!(r.status, 200, "{page}: {}", r.text());
            check(who, page, &r.text());
        }
        eprintln!("{who}: SQL and dashboard {:?}", started.elapsed());
        let reports = server.get("/api/v1/reports", Some(who)).await;
        assert_eq!(reports.status, 200, "{}", reports.text());
        check(who, "/api/v1/reports", &reports.text());
        let mut files = 0;
        for rep in reports.json()["reports"].as_array().cloned().unwrap_or_default() {
            for f in rep["downloads"].as_array().cloned().unwrap_or_default() {
                let Some(url) = f.as_str() else { continue };
                if url.ends_with(".pdf") || url.ends_with(".png") {
                    // Binary: the same numbers as the CSV/HTML beside it.
                    continue;
                }
                let r = server.get(url, Some(who)).await;
                assert_eq!(r.status, 200, "{url}: {}", r.text());
                check(who, url, &r.text());
                files += 1;
            }
        }
        assert!(files > 0, "partner {who} downloaded no report file: {}", reports.text());
        // Operational reads are not a partner's.
        for path in ["/api/v1/orders", "/api/v1/customers", "/api/v1/equipment"] {
            let r = server.get(path, Some(who)).await;
            assert!(r.status == 403 || r.status == 404, "{path}: {} {}", r.status, r.text());
            check(who, path, &r.text());
        }
    }
    server.stop().await;
}
