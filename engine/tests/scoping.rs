//! Agent scoping, read-only SQL, parameter errors and time travel.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldhouse_engine::{
    AsOf, Caller, Engine, Error, KpiRequest, SessionOptions, SqlLimits, collect, run_kpi, run_sql,
};
use serde_json::Value;

async fn lake() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fieldhouse_engine::testing::write_events(dir.path(), &october().events).await.unwrap();
    dir
}

/// The equipment ids the October world's orders `orders` were opened for.
fn orders_equipment(orders: &[u128]) -> Vec<String> {
    october()
        .events
        .iter()
        .filter_map(|e| match &e.payload {
            fieldhouse_domain::event::Payload::OrderOpened(o) if orders.iter().any(|n| id(*n) == o.order_id) => {
                Some(o.equipment_id.hyphenated().to_string())
            }
            _ => None,
        })
        .collect()
}

fn now() -> SessionOptions {
    SessionOptions { as_of: AsOf::Latest, now: Some(t(NOW)), ..SessionOptions::default() }
}

async fn sql(engine: &Engine, caller: &Caller, q: &str) -> Result<Vec<Value>, Error> {
    let stream = run_sql(engine, q, caller, SqlLimits::default(), &now()).await?;
    Ok(json_rows(&collect(stream).await?))
}

#[tokio::test]
async fn a_partner_sees_only_its_own_rows_in_sql() {
    let dir = lake().await;
    let engine = Engine::open(dir.path()).unwrap();
    let a = Caller::partner(id(AGENT_A));
    let (sa, sb) = (s(AGENT_A), s(AGENT_B));

    // Unscoped: both agents are in the lake.
    let all = sql(&engine, &Caller::admin(), "SELECT DISTINCT agent_id FROM events WHERE agent_id IS NOT NULL")
        .await
        .unwrap();
    assert_eq!(all.len(), 2);

    // Agent A: every agent_id it can see is its own, however it asks.
    let crafted = [
        "SELECT DISTINCT agent_id FROM events WHERE agent_id IS NOT NULL".to_string(),
        format!("SELECT agent_id FROM events WHERE agent_id = '{sb}'"),
        format!("SELECT agent_id FROM events WHERE agent_id = '{sa}' OR 1 = 1 UNION SELECT agent_id FROM claims"),
        format!("SELECT agent_id FROM claims WHERE agent_id = '{sb}' OR agent_id IS NOT NULL"),
        "SELECT agent_id FROM orders UNION ALL SELECT agent_id FROM visits UNION ALL SELECT agent_id FROM technicians"
            .into(),
    ];
    for q in &crafted {
        let got = sql(&engine, &a, q).await.unwrap();
        for r in &got {
            assert!(r.get("agent_id").is_none_or(|v| v.is_null() || v == &Value::String(sa.clone())), "{q}: {r}");
        }
    }
    // Nothing of agent B's orders O2/O3 (or their claims), nor of own-staff order O4, nor O7/O8.
    let orders = sql(&engine, &a, "SELECT order_id FROM orders ORDER BY order_id").await.unwrap();
    let ids: Vec<&str> = orders.iter().map(|r| r["order_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [s(O1), s(O5), s(O6)]);
    let q = format!("SELECT count(*) AS n FROM events WHERE order_id IN ('{}', '{}')", s(O2), s(O3));
    assert_eq!(sql(&engine, &a, &q).await.unwrap()[0]["n"], 0);
    // The organisation's billing of its customers is not a partner's: no
    // invoice, payment or credit note, not even of its own orders.
    let money = sql(&engine, &a, "SELECT count(*) AS n FROM events WHERE invoice_id IS NOT NULL").await.unwrap();
    assert_eq!(money[0]["n"], 0);
    // The master data its orders refer to is there (the views need it), and
    // no more: the equipment of O1, O5 and O6, not the other units.
    let units = sql(&engine, &a, "SELECT equipment_id FROM equipment ORDER BY equipment_id").await.unwrap();
    let mut expected: Vec<String> = orders_equipment(&[O1, O5, O6]);
    expected.sort();
    expected.dedup();
    let got: Vec<&str> = units.iter().map(|r| r["equipment_id"].as_str().unwrap()).collect();
    assert_eq!(got, expected);
    // Nor the technicians of the other agent or of the organisation.
    let techs = sql(&engine, &a, "SELECT technician_id FROM technicians").await.unwrap();
    assert_eq!(techs.iter().map(|r| r["technician_id"].as_str().unwrap()).collect::<Vec<_>>(), [s(T1)]);
}

#[tokio::test]
async fn a_partner_sees_only_its_own_rows_in_kpis() {
    let dir = lake().await;
    let engine = Engine::open(dir.path()).unwrap();
    let a = Caller::partner(id(AGENT_A));
    // Agent A's orders: O1 met, O5 breached, O6 breached (see kpis.rs).
    let req = KpiRequest::new("sla_response_compliance").by("agent").now(t(NOW));
    let got = json_rows(&collect(run_kpi(&engine, &req, &a).await.unwrap()).await.unwrap());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["agent"], s(AGENT_A));
    assert_eq!((got[0]["met"].as_i64(), got[0]["breached"].as_i64()), (Some(1), Some(2)));
    // Asking for agent B's claims by parameter gives nothing.
    let req = KpiRequest::new("claim_settlement").param("agent", s(AGENT_B)).now(t(NOW));
    let got = json_rows(&collect(run_kpi(&engine, &req, &a).await.unwrap()).await.unwrap());
    assert!(got.is_empty(), "{got:?}");
    // Every KPI a partner may read returns only agent A (or agent-less) rows.
    for def in engine.catalog().list().filter(|k| k.allows(fieldhouse_engine::Role::Partner)) {
        let req = KpiRequest::new(&def.name).now(t(NOW));
        let got = json_rows(&collect(run_kpi(&engine, &req, &a).await.unwrap()).await.unwrap());
        for r in &got {
            for key in ["agent_id", "agent"] {
                if let Some(v) = r.get(key) {
                    assert!(v.is_null() || v == &Value::String(s(AGENT_A)), "{}: {r}", def.name);
                }
            }
        }
    }
    // A partner without an agent is refused.
    let lost = Caller { role: fieldhouse_engine::Role::Partner, agent_id: None };
    let err = run_kpi(&engine, &KpiRequest::new("csat"), &lost).await.err().unwrap();
    assert!(matches!(err, Error::Forbidden { .. }), "{err}");
}

#[tokio::test]
async fn sql_is_read_only() {
    let dir = lake().await;
    let engine = Engine::open(dir.path()).unwrap();
    let admin = Caller::admin();
    let file = dir.path().join("lake/events/_delta_log/00000000000000000000.json");
    let refused = [
        "CREATE TABLE x AS SELECT 1".to_string(),
        "CREATE VIEW v AS SELECT 1".into(),
        "INSERT INTO events SELECT * FROM events".into(),
        "DROP TABLE events".into(),
        "COPY (SELECT 1) TO '/tmp/fieldhouse-copy-test.csv'".into(),
        format!("CREATE EXTERNAL TABLE f STORED AS CSV LOCATION '{}'", file.display()),
        "SET datafusion.execution.batch_size = 1".into(),
        "SELECT 1; SELECT 2".into(),
        format!("SELECT * FROM '{}'", file.display()),
        "EXPLAIN DROP TABLE events".into(),
        "EXPLAIN ANALYZE INSERT INTO events SELECT * FROM events".into(),
        "EXPLAIN CREATE TABLE x AS SELECT 1".into(),
    ];
    for q in &refused {
        let got = sql(&engine, &admin, q).await;
        assert!(got.is_err(), "{q} was not refused: {got:?}");
    }
    // A plain query works, and the row limit holds.
    let limits = SqlLimits { max_rows: 3, timeout: None };
    let stream = run_sql(&engine, "SELECT * FROM events", &admin, limits, &now()).await.unwrap();
    assert_eq!(json_rows(&collect(stream).await.unwrap()).len(), 3);
    // EXPLAIN ANALYZE of a query shows its plan with metrics to an unscoped reader ...
    let q = "EXPLAIN ANALYZE SELECT count(*) FROM orders WHERE status = 'open'";
    let plan =
        json_rows(&collect(run_sql(&engine, q, &admin, SqlLimits::default(), &now()).await.unwrap()).await.unwrap());
    let text = plan.iter().filter_map(|r| r["plan"].as_str()).collect::<Vec<_>>().join("\n");
    assert!(text.contains("output_rows="), "{text}");
    // ... and is refused to a partner (a plan names the lake's files and the scope's SQL).
    let partner = Caller::partner(id(AGENT_A));
    let err = run_sql(&engine, q, &partner, SqlLimits::default(), &now()).await.err().unwrap();
    assert!(matches!(err, Error::Refused { .. }), "{err}");
}

#[tokio::test]
async fn wrong_parameters_and_dimensions_fail_clearly() {
    let dir = lake().await;
    let engine = Engine::open(dir.path()).unwrap();
    let admin = Caller::admin();
    let err = run_kpi(&engine, &KpiRequest::new("csat").param("from", "last tuesday"), &admin).await.err().unwrap();
    assert!(matches!(&err, Error::Parameter { name, .. } if name == "from"), "{err}");
    assert!(err.to_string().contains("`last tuesday` is not a timestamp"), "{err}");
    let err = run_kpi(&engine, &KpiRequest::new("first_time_fix_rate").param("window_days", "3.5"), &admin)
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("window_days") && err.to_string().contains("whole number"), "{err}");
    let err = run_kpi(&engine, &KpiRequest::new("csat").param("colour", "red"), &admin).await.err().unwrap();
    assert!(err.to_string().contains("colour"), "{err}");
    let err = run_kpi(&engine, &KpiRequest::new("csat").by("shoe_size"), &admin).await.err().unwrap();
    assert!(matches!(&err, Error::UnknownDimension { name, .. } if name == "shoe_size"), "{err}");
    assert!(err.to_string().contains("allowed: day, week, month"), "{err}");
    // A dimension that exists but that this KPI does not allow.
    let err = run_kpi(&engine, &KpiRequest::new("dso").by("technician"), &admin).await.err().unwrap();
    assert!(matches!(err, Error::UnknownDimension { .. }), "{err}");
    let err = run_kpi(&engine, &KpiRequest::new("no_such_kpi"), &admin).await.err().unwrap();
    assert!(matches!(err, Error::UnknownKpi { .. }), "{err}");
    // An injection attempt in a text parameter is just a value that matches nothing.
    let req = KpiRequest::new("csat").param("region", "North' OR '1'='1").now(t(NOW));
    let got = json_rows(&collect(run_kpi(&engine, &req, &admin).await.unwrap()).await.unwrap());
    assert_eq!(got[0]["scored"], 0);
}

#[tokio::test]
async fn kpis_can_be_computed_as_of_an_earlier_version() {
    // Version 0: the October world without O5's late arrival and completion... simpler: commit the world,
    // then a second commit with one more order O9 that arrives late (breached) on 10-16.
    let dir = lake().await;
    let mut extra = World::default();
    extra_order(&mut extra);
    let v1 = fieldhouse_engine::testing::write_events(dir.path(), &extra.events).await.unwrap();
    assert_eq!(v1, 2, "create = 0, first write = 1, second write = 2");
    let engine = Engine::open(dir.path()).unwrap();
    let run = |as_of| {
        let engine = engine.clone();
        async move {
            let req = KpiRequest::new("sla_response_compliance").as_of(as_of).now(t(NOW));
            json_rows(&collect(run_kpi(&engine, &req, &Caller::admin()).await.unwrap()).await.unwrap())
        }
    };
    // Latest: the 6 orders of kpis.rs plus O9 breached → met 4, breached 3.
    let latest = run(AsOf::Latest).await;
    assert_eq!((latest[0]["met"].as_i64(), latest[0]["breached"].as_i64()), (Some(4), Some(3)));
    // As of version 1: as before O9 → met 4, breached 2.
    let v1 = run(AsOf::Version(1)).await;
    assert_eq!((v1[0]["met"].as_i64(), v1[0]["breached"].as_i64()), (Some(4), Some(2)));
    // A version that does not exist is an error naming the table.
    let req = KpiRequest::new("csat").as_of(AsOf::Version(99));
    let err = run_kpi(&engine, &req, &Caller::admin()).await.err().unwrap();
    assert!(matches!(&err, Error::Lake { table, .. } if table == "events"), "{err}");
    // As-of parsing.
    assert_eq!("7".parse::<AsOf>().unwrap(), AsOf::Version(7));
    assert_eq!("2026-10-01".parse::<AsOf>().unwrap(), AsOf::Timestamp(t("2026-10-01T00:00:00Z")));
    assert!("yesterday".parse::<AsOf>().is_err());
}
