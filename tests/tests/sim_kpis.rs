//! The simulator's small preset over the real operational core
//! (`fieldhouse_ops::Ops`), read back by the KPI engine: the stream lands in
//! the preset's bands and keeps the core's invariants, and the engine,
//! reading the same events from a lake, computes the same figures. (The
//! simulator's own tests, in `sim/tests/`, stay below the engine.)
#![allow(clippy::unwrap_used)]

mod common;

use chrono::NaiveTime;
use common::{outbox, scratch};
use fieldhouse_engine::KpiRequest;
use fieldhouse_sim::metrics::{invariant_violations, stream_stats};
use fieldhouse_sim::{SimConfig, Size, simulate};

#[test]
fn small_preset_lands_in_the_bands_and_keeps_the_invariants() {
    let cfg = SimConfig { months: 2, ..SimConfig::preset(Size::Small) };
    let dir = scratch();
    let summary = simulate(dir.path(), &cfg, None).unwrap();
    let events = outbox(dir.path());
    let stats = stream_stats(&events, cfg.end().and_time(NaiveTime::MIN).and_utc());
    eprintln!("{summary:#?}\n{stats:#?}");
    assert_eq!(summary.events, events.len() as u64);
    assert!(stats.orders >= 1000, "orders {}", stats.orders);
    assert!((0.65..=0.85).contains(&stats.first_time_fix_rate), "first-time fix {}", stats.first_time_fix_rate);
    assert!((0.60..=0.80).contains(&stats.part_attach_rate), "part attach {}", stats.part_attach_rate);
    assert!((0.05..=0.30).contains(&stats.response_breach_share), "breach {}", stats.response_breach_share);
    assert!(summary.mobile_batches > 0 && summary.mobile_batches_resent > 0, "offline batches, some sent twice");
    let violations = invariant_violations(&events);
    assert!(
        violations.is_empty(),
        "{} violations, first: {:?}",
        violations.len(),
        &violations[..violations.len().min(5)]
    );

    // The KPI engine, reading the same events from a lake, counts the same.
    let lake = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (ftf, attach) = rt.block_on(async {
        fieldhouse_engine::testing::write_events(lake.path(), &events).await.unwrap();
        let engine = fieldhouse_engine::Engine::open(lake.path()).unwrap();
        let ftf = kpi_number(&engine, KpiRequest::new("first_time_fix_rate"), "ftf_pct").await;
        let attach =
            kpi_number(&engine, KpiRequest::new("parts_attach_rate").param("order_type", "corrective"), "attach_pct")
                .await;
        // Every opened order is in `orders` and in `order_heads` (which the KPIs that need only what the
        // opening said read instead), each placed in a region and a model, and the two views agree on them.
        let placement = "SELECT (SELECT count(*) FROM order_heads) AS heads, (SELECT count(*) FROM orders) AS orders,
                (SELECT count(*) FROM order_heads WHERE region IS NULL OR model IS NULL) AS unplaced,
                (SELECT count(*) FROM order_heads h JOIN orders o ON h.order_id = o.order_id
                 WHERE h.opened_at = o.opened_at AND h.site_id = o.site_id AND h.region = o.region
                   AND h.product_id = o.product_id AND h.model = o.model AND h.customer_id = o.customer_id) AS agree";
        let opts = fieldhouse_engine::SessionOptions::default();
        let caller = fieldhouse_engine::Caller::admin();
        let limits = fieldhouse_engine::SqlLimits::default();
        let stream = fieldhouse_engine::run_sql(&engine, placement, &caller, limits, &opts).await.unwrap();
        let batches = fieldhouse_engine::collect(stream).await.unwrap();
        let counts: Vec<i64> = ["heads", "orders", "unplaced", "agree"]
            .iter()
            .map(|c| {
                let col = batches[0].column_by_name(c).unwrap();
                col.as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().value(0)
            })
            .collect();
        let n = stats.orders as i64;
        assert_eq!(counts, [n, n, 0, n], "order_heads, orders, unplaced heads, heads agreeing with orders");
        (ftf, attach)
    });
    assert!((ftf - 100.0 * stats.first_time_fix_rate).abs() < 0.5, "engine FTF {ftf} %, stream {stats:?}");
    assert!((attach - 100.0 * stats.part_attach_rate).abs() < 0.5, "engine attach {attach} %, stream {stats:?}");
}

/// The one number `column` of an ungrouped KPI.
async fn kpi_number(engine: &fieldhouse_engine::Engine, request: KpiRequest, column: &str) -> f64 {
    let stream = fieldhouse_engine::run_kpi(engine, &request, &fieldhouse_engine::Caller::admin()).await.unwrap();
    let batches = fieldhouse_engine::collect(stream).await.unwrap();
    let batch = batches.iter().find(|b| b.num_rows() > 0).unwrap();
    let col =
        arrow::compute::cast(batch.column_by_name(column).unwrap(), &arrow::datatypes::DataType::Float64).unwrap();
    col.as_any().downcast_ref::<arrow::array::Float64Array>().unwrap().value(0)
}
