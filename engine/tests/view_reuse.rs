//! Views are computed only for the columns their readers need, and a view set
//! is reused by later sessions of the same lake version and instant (see
//! `engine/src/cached.rs`). Whatever the order KPIs and SQL ask for columns,
//! every answer must equal the answer of a fresh engine that computes
//! everything for that one request.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldhouse_engine::{Caller, Engine, KpiRequest, SessionOptions, SqlLimits, collect, run_kpi, run_sql};

fn lake() -> &'static std::path::Path {
    october_lake()
}

/// The answer as sorted text lines (order-insensitive, exact values).
fn lines(batches: &[arrow::array::RecordBatch]) -> Vec<String> {
    let text = arrow::util::pretty::pretty_format_batches(batches).unwrap().to_string();
    let mut out: Vec<String> = text.lines().map(str::to_string).collect();
    out.sort();
    out
}

async fn kpi(engine: &Engine, name: &str) -> Vec<String> {
    let req = KpiRequest::new(name).now(t(NOW));
    let stream = run_kpi(engine, &req, &Caller::admin()).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    lines(&collect(stream).await.unwrap())
}

async fn sql(engine: &Engine, q: &str) -> Vec<String> {
    let opts = SessionOptions { now: Some(t(NOW)), ..Default::default() };
    let stream = run_sql(engine, q, &Caller::admin(), SqlLimits::default(), &opts).await.unwrap();
    lines(&collect(stream).await.unwrap())
}

#[tokio::test]
async fn reused_views_answer_as_fresh_ones_in_any_order() {
    let shared = Engine::open(lake()).unwrap();
    let names: Vec<String> = shared.catalog().list().map(|d| d.name.clone()).collect();
    assert!(names.len() >= 20, "{names:?}");
    let mut fresh = Vec::new();
    for n in &names {
        fresh.push(kpi(&Engine::open(lake()).unwrap(), n).await);
    }
    // Narrow first: the views start with a few columns and must grow when a
    // later KPI reads more (order_id alone, then everything).
    assert_eq!(
        sql(&shared, "SELECT count(*) AS n FROM orders").await,
        sql(&Engine::open(lake()).unwrap(), "SELECT count(*) AS n FROM orders").await
    );
    let narrow = sql(&shared, "SELECT order_id FROM orders ORDER BY order_id").await;
    assert_eq!(narrow.len(), 8 + 4, "eight orders, and the table frame: {narrow:?}");
    for (n, want) in names.iter().zip(&fresh) {
        assert_eq!(&kpi(&shared, n).await, want, "{n} after the ones before it, views reused");
    }
    // The other way round in another engine.
    let shared = Engine::open(lake()).unwrap();
    for (n, want) in names.iter().zip(&fresh).rev() {
        assert_eq!(&kpi(&shared, n).await, want, "{n} after the ones after it, views reused");
    }
    let all = "SELECT * FROM orders ORDER BY order_id";
    assert_eq!(sql(&shared, all).await, sql(&Engine::open(lake()).unwrap(), all).await);
}
