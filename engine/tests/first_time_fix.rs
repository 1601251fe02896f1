//! What spoils a first-time fix: a new *corrective* order for the same
//! equipment within the window (planned maintenance and installations do
//! not), on a hand-made set of orders with the answers worked out by hand.
//!
//! Four corrective orders, each on its own unit, all fixed on their only
//! visit by T3 and completed 2026-10-01 12:00 UTC; then on each unit:
//! - EQ1: a preventive order opened 10-11 12:00 (10 days later);
//! - EQ2: a corrective order opened 10-31 12:00:00, exactly 30 days later (inside the window);
//! - EQ3: a corrective order opened 10-31 12:00:01, 30 days and 1 s later (outside);
//! - EQ4: an installation order opened 10-05 12:00 (4 days later).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldhouse_domain::event::{Event, OrderType, Priority, VisitOutcome};
use fieldhouse_engine::{Caller, Engine, KpiRequest, MaintainOptions, collect, run_kpi};
use serde_json::Value;

const DONE: &str = "2026-10-01T12:00:00Z";

fn open(w: &mut World, at: &str, order: u128, equipment: u128, order_type: OrderType) {
    let spec = OrderSpec {
        n: order,
        order_type,
        customer: CUST,
        site: NORTH,
        equipment,
        product: PROD,
        calendar: CAL24,
        contract: None,
        priority: Priority::P2,
        targets: (240, 1440),
        fault: "E-1",
    };
    w.open(at, &spec);
}

/// A corrective order on `equipment` fixed on its only visit, completed at DONE.
fn fixed_first_time(w: &mut World, order: u128, visit: u128, equipment: u128) {
    open(w, "2026-10-01T08:00:00Z", order, equipment, OrderType::Corrective);
    w.assign("2026-10-01T08:10:00Z", order, T3, None);
    w.visit(&VisitSpec {
        order,
        visit,
        tech: T3,
        agent: None,
        travel: Some("2026-10-01T09:00:00Z"),
        arrive: "2026-10-01T10:00:00Z",
        pos: (53.55, 9.99),
        work: 0,
        part: None,
        end: DONE,
        outcome: VisitOutcome::Fixed,
    });
    w.complete(DONE, order, T3, None);
}

/// The hand-made events: the four fixed orders, then the four orders opened after them.
fn events() -> (Vec<Event>, Vec<Event>) {
    let mut w = World::default();
    master(&mut w);
    for (n, eq) in [(1, EQ1), (2, EQ2), (3, EQ3), (4, EQ4)] {
        fixed_first_time(&mut w, 600 + n, 700 + n, eq);
    }
    let fixed = w.events.len();
    open(&mut w, "2026-10-11T12:00:00Z", 611, EQ1, OrderType::Preventive);
    open(&mut w, "2026-10-31T12:00:00Z", 612, EQ2, OrderType::Corrective);
    open(&mut w, "2026-10-31T12:00:01Z", 613, EQ3, OrderType::Corrective);
    open(&mut w, "2026-10-05T12:00:00Z", 614, EQ4, OrderType::Installation);
    let later = w.events.split_off(fixed);
    (w.events, later)
}

async fn lake() -> tempfile::TempDir {
    let (mut all, later) = events();
    all.extend(later);
    let dir = tempfile::tempdir().unwrap();
    fieldhouse_engine::testing::write_events(dir.path(), &all).await.unwrap();
    dir
}

async fn kpi(engine: &Engine, req: KpiRequest) -> Vec<Value> {
    let req = req.param("from", "2026-10-01").param("to", "2026-10-02").now(t("2026-11-15T00:00:00Z"));
    json_rows(&collect(run_kpi(engine, &req, &Caller::admin()).await.unwrap()).await.unwrap())
}

fn n(v: &Value, key: &str) -> f64 {
    match &v[key] {
        Value::Number(x) => x.as_f64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("{key} is {other:?} in {v}"),
    }
}

const ALL_TYPES: &str = "corrective, preventive, installation";

#[tokio::test]
async fn only_a_corrective_order_within_the_window_spoils_a_fix() {
    let dir = lake().await;
    let engine = Engine::open(dir.path()).unwrap();
    assert_hand_answers(&engine).await;
    // Both KPIs say so in their notes.
    for name in ["first_time_fix_rate", "repeat_visit_rate", "technician_scorecard"] {
        let def = engine.catalog().get(name).unwrap();
        assert!(def.notes.contains("repeat_types"), "{name}: {}", def.notes);
    }
}

/// The same answers from the entity tables, the orders after the fixes committed and maintained in a later
/// pass than the fixes: `order_followups` is keyed by unit, so the pass that lands a new order must
/// recompute the rows of the earlier orders of its unit (found through orders_core's new rows: the new
/// order has no row of its own yet).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_entity_tables_see_a_later_order_of_the_unit() {
    let (fixed, later) = events();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    fieldhouse_engine::testing::write_events(dir.path(), &fixed).await.unwrap();
    engine.maintain_entities(MaintainOptions::default()).await.unwrap();
    let req = KpiRequest::new("first_time_fix_rate").param("repeat_types", ALL_TYPES);
    assert_eq!(n(&kpi(&engine, req).await[0], "first_time_fixed"), 4.0, "nothing followed the fixes yet");
    let version = fieldhouse_engine::testing::write_events(dir.path(), &later).await.unwrap();
    let report = engine.maintain_entities(MaintainOptions::default()).await.unwrap();
    let followups = report.tables.iter().find(|t| t.table == "order_followups").unwrap();
    assert_eq!((followups.mode, followups.keys), ("updated", Some(4)), "the four units: {report:?}");
    assert_eq!(engine.entities_version().await.unwrap(), Some(version), "the KPIs read the entity tables");
    assert_hand_answers(&engine).await;
}

/// The answers worked out by hand (module doc).
async fn assert_hand_answers(engine: &Engine) {
    // Default: EQ1 (preventive after) and EQ4 (installation after) stay fixed; EQ2's corrective order
    // exactly 30 days later spoils it (the boundary is inside); EQ3's, 1 s later, does not → 3 of 4.
    let rows = kpi(engine, KpiRequest::new("first_time_fix_rate")).await;
    assert_eq!((n(&rows[0], "orders"), n(&rows[0], "first_time_fixed")), (4.0, 3.0), "{rows:?}");
    assert_eq!(n(&rows[0], "ftf_pct"), 75.0);

    // The former definition (any order type is a repeat): EQ1 and EQ4 spoilt too → 1 of 4.
    let rows = kpi(engine, KpiRequest::new("first_time_fix_rate").param("repeat_types", ALL_TYPES)).await;
    assert_eq!(n(&rows[0], "first_time_fixed"), 1.0, "{rows:?}");
    // Preventive counted, installation not: EQ1 spoilt, EQ4 fixed → 2 of 4.
    let req = KpiRequest::new("first_time_fix_rate").param("repeat_types", "corrective,preventive");
    assert_eq!(n(&kpi(engine, req).await[0], "first_time_fixed"), 2.0);
    // A 29-day window: EQ2's repeat after 30 days is outside it → all 4 fixed.
    let req = KpiRequest::new("first_time_fix_rate").param("window_days", "29");
    assert_eq!(n(&kpi(engine, req).await[0], "first_time_fixed"), 4.0);

    // Repeat visits, same rule: only EQ2 is followed (at exactly 30 days) by a corrective order.
    let rows = kpi(engine, KpiRequest::new("repeat_visit_rate")).await;
    let r = &rows[0];
    assert_eq!(n(r, "orders"), 4.0);
    assert_eq!((n(r, "repeat_7d"), n(r, "repeat_14d"), n(r, "repeat_30d")), (0.0, 0.0, 1.0), "{r}");
    // Every type: EQ4 after 4 d, EQ1 after 10 d, EQ2 after 30 d.
    let rows = kpi(engine, KpiRequest::new("repeat_visit_rate").param("repeat_types", ALL_TYPES)).await;
    let r = &rows[0];
    assert_eq!((n(r, "repeat_7d"), n(r, "repeat_14d"), n(r, "repeat_30d")), (1.0, 2.0, 3.0), "{r}");

    // The technician scorecard counts first-time fixes as the KPI by technician does.
    let card = kpi(engine, KpiRequest::new("technician_scorecard")).await;
    let t3 = card.iter().find(|r| r["technician_id"] == s(T3)).unwrap();
    assert_eq!((n(t3, "ftf_orders"), n(t3, "first_time_fixed"), n(t3, "ftf_pct")), (4.0, 3.0, 75.0), "{t3}");
    let by_tech = kpi(engine, KpiRequest::new("first_time_fix_rate").by("technician")).await;
    assert_eq!(by_tech.len(), 1, "{by_tech:?}");
    assert_eq!(n(&by_tech[0], "first_time_fixed"), n(t3, "first_time_fixed"));
}
