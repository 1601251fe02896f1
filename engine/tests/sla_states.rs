//! `orders` takes the final SLA state of a stopped clock from the deadline
//! stored in `orders_core` and runs `sla_state` only for the other orders
//! (`sql/views/13_orders.sql`). On the hand-made October world (pauses over
//! nights and a holiday, a parts wait, reopened and open orders), at
//! reference instants every 18 hours (so at every time of day) across and beyond the month, both
//! states of every order must equal `sla_state` evaluated directly, and both
//! branches must be taken.
#![allow(clippy::unwrap_used)]

mod common;

use arrow::array::{Array, AsArray};
use common::*;
use fieldhouse_engine::{Caller, Engine, SessionOptions, SqlLimits, collect, run_sql};

const SQL: &str = "
SELECT CAST(order_id AS VARCHAR) AS order_id,
       response_state,
       sla_state(calendar_json, opened_at, response_target_minutes, first_arrival_at, fh_now(), pauses) AS response_udf,
       resolution_state,
       sla_state(calendar_json, opened_at, resolution_target_minutes, resolution_stopped_at, fh_now(), pauses)
           AS resolution_udf,
       (first_arrival_at <= fh_now() AND response_deadline IS NOT NULL) AS response_stored,
       (resolution_stopped_at <= fh_now() AND resolution_deadline IS NOT NULL) AS resolution_stored
FROM orders";

#[tokio::test]
async fn stored_final_states_equal_the_calendar_arithmetic() {
    let engine = Engine::open(october_lake()).unwrap();
    let (mut stored, mut computed, mut compared) = (0, 0, 0);
    let mut now = t("2026-09-30T00:00:00Z");
    while now < t("2026-11-10T00:00:00Z") {
        let options = SessionOptions { now: Some(now), ..Default::default() };
        let stream = run_sql(&engine, SQL, &Caller::admin(), SqlLimits::default(), &options).await.unwrap();
        for b in collect(stream).await.unwrap() {
            let text = |c: &str| {
                let a = arrow::compute::cast(b.column_by_name(c).unwrap(), &arrow::datatypes::DataType::Utf8).unwrap();
                a.as_string::<i32>().clone()
            };
            let flag = |c: &str| b.column_by_name(c).unwrap().as_boolean().clone();
            let ids = text("order_id");
            for (state, udf, by_store) in [
                ("response_state", "response_udf", "response_stored"),
                ("resolution_state", "resolution_udf", "resolution_stored"),
            ] {
                let (got, want, took) = (text(state), text(udf), flag(by_store));
                for i in 0..b.num_rows() {
                    let g = (!got.is_null(i)).then(|| got.value(i));
                    let w = (!want.is_null(i)).then(|| want.value(i));
                    assert_eq!(g, w, "{state} of order {} at {now}", ids.value(i));
                    compared += 1;
                    if !took.is_null(i) && took.value(i) {
                        stored += 1;
                    } else {
                        computed += 1;
                    }
                }
            }
        }
        now += chrono::TimeDelta::hours(18);
    }
    assert!(compared > 0);
    assert!(stored > 0, "some states come from the stored deadline");
    assert!(computed > 0, "some states come from sla_state");
}
