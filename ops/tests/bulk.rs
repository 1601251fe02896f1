//! Bulk loads (`Ops::bulk`): many operations per transaction, each in a
//! savepoint. A refused operation inside a batch leaves no trace (state,
//! outbox, the ids of later operations), reads see the batch not committed
//! yet, and the same calls give the same database as one transaction per
//! operation.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::TimeDelta;
use common::*;
use fieldhouse_domain::event::VisitOutcome;
use fieldhouse_ops::BulkOptions;
use fieldhouse_ops::mobile::{ActionStatus, MobileAction, MobileActionKind, MobileBatch};
use fieldhouse_ops::orders::*;
use uuid::Uuid;

/// What the scenario saw: the outbox (JSON), the ids of what it opened.
struct Seen {
    outbox: Vec<String>,
    orders: Vec<Uuid>,
}

/// One order worked with refusals in between: a consumption of more than is
/// in the van, a transition that is not allowed, an unknown order, a mobile
/// batch with a rejected action; then another order, whose ids come after the
/// refusals. With `check`, every refusal is checked to leave the state,
/// the outbox and the stock as they were (as the core reads them: during a
/// bulk load that is the batch not committed yet).
fn scenario(w: &World, check: bool) -> Seen {
    let start = t(2026, 3, 10, 8, 0);
    let m = |n| start + TimeDelta::minutes(n);
    let id = w.open(w.eq_contract, start).order_id;
    w.ops.assign(id, AssignOrder { technician_id: w.tech, at: m(5) }).unwrap();
    w.ops.start_travel(id, StartTravel { at: m(10) }).unwrap();
    w.ops.arrive(id, Arrive { lat: SITE_LAT, lon: SITE_LON, at: m(40) }).unwrap();

    let snapshot =
        || (w.ops.outbox_max_seq().unwrap(), w.ops.order(id).unwrap(), w.ops.stock_levels(Some(w.van), None).unwrap());
    let before = snapshot();
    let e = w
        .ops
        .consume_part(id, ConsumePart { part_id: w.part, location_id: w.van, quantity: 500, at: m(50) })
        .unwrap_err();
    assert_eq!(e.code(), "out_of_stock");
    let e = w.ops.complete(id, CompleteOrder { at: m(51) }).unwrap_err();
    assert_eq!(e.code(), "transition_not_allowed");
    let e = w.ops.assign(Uuid::nil(), AssignOrder { technician_id: w.tech, at: m(52) }).unwrap_err();
    assert_eq!(e.code(), "not_found");
    if check {
        assert_eq!(snapshot(), before, "refusals leave no trace");
    }

    let action = |client_id: &str, at, kind| MobileAction { client_id: client_id.into(), order_id: id, at, kind };
    let batch = MobileBatch {
        technician_id: w.tech,
        actions: vec![
            action("m1", m(60), MobileActionKind::WorkLogged { minutes: 45 }),
            action("m2", m(61), MobileActionKind::PartConsumed { part_id: w.part, location_id: w.van, quantity: 1000 }),
            action("m3", m(62), MobileActionKind::PartConsumed { part_id: w.part, location_id: w.van, quantity: 2 }),
            action("m4", m(70), MobileActionKind::VisitEnded { outcome: VisitOutcome::Fixed }),
        ],
    };
    let report = w.ops.sync_mobile(&batch).unwrap();
    let statuses: Vec<_> = report.results.iter().map(|r| r.status).collect();
    use ActionStatus::{Applied, Rejected};
    assert_eq!(statuses, [Applied, Rejected, Applied, Applied]);
    // Sent again: nothing applied twice, the rejected one still rejected.
    let before = snapshot();
    let again = w.ops.sync_mobile(&batch).unwrap();
    assert_eq!((again.duplicates, again.rejected), (3, 1));
    if check {
        assert_eq!(snapshot(), before, "a re-sent batch changes nothing");
    }

    w.ops.complete(id, CompleteOrder { at: m(80) }).unwrap();
    let next = w.open(w.eq_tm, m(90)).order_id;
    let outbox = w.ops.outbox_after(0, 100_000).unwrap().into_iter().map(|r| r.event.to_json()).collect();
    Seen { outbox, orders: vec![id, next] }
}

#[test]
fn a_refused_operation_in_a_bulk_load_leaves_no_trace() {
    let plain = world_seeded(Some(42));
    let expected = scenario(&plain, true);

    // All of it in one batch: every refusal rolls back to its savepoint only.
    let w = world_seeded(Some(42));
    let load = w.ops.bulk(BulkOptions { max_operations: 10_000, ..BulkOptions::default() }).unwrap();
    let seen = scenario(&w, true);
    let stats = load.finish().unwrap();
    assert_eq!(seen.orders, expected.orders, "ids after the refusals are the same");
    assert_eq!(seen.outbox, expected.outbox, "byte for byte the same outbox");
    assert_eq!(w.dump(), plain.dump(), "the same database");
    assert_eq!(stats.batches, 1);
    assert!(stats.rolled_back >= 5, "{stats:?}");

    // Batches of 2 operations: refusals land on batch boundaries too.
    let w = world_seeded(Some(42));
    let load = w.ops.bulk(BulkOptions { max_operations: 2, durable_batches: true, ..BulkOptions::default() }).unwrap();
    let seen = scenario(&w, true);
    let stats = load.finish().unwrap();
    assert_eq!(seen.outbox, expected.outbox);
    assert_eq!(w.dump(), plain.dump());
    assert!(stats.batches > 5, "{stats:?}");
}

#[test]
fn a_bulk_load_commits_in_batches_and_reads_see_the_open_batch() {
    let w = world_seeded(Some(3));
    // Outbox rows another connection sees: the committed ones.
    let committed = || w.dump().lines().filter(|l| l.starts_with("outbox|")).count() as i64;
    let seen = || w.ops.outbox_max_seq().unwrap();
    let start = seen();
    assert_eq!(committed(), start);
    let load = w.ops.bulk(BulkOptions { max_operations: 3, ..BulkOptions::default() }).unwrap();
    assert_eq!(w.ops.bulk(BulkOptions::default()).unwrap_err().code(), "bulk_load_active");
    let at = t(2026, 3, 10, 8, 0);
    let id = w.open(w.eq_contract, at).order_id;
    w.ops.assign(id, AssignOrder { technician_id: w.tech, at }).unwrap();
    assert!(seen() > start, "reads see the open batch");
    assert_eq!(w.ops.order(id).unwrap().state, OrderState::Assigned);
    assert_eq!(committed(), start, "another connection does not");
    w.ops.start_travel(id, StartTravel { at }).unwrap(); // the third operation: committed
    assert_eq!(committed(), seen());
    w.ops.arrive(id, Arrive { lat: SITE_LAT, lon: SITE_LON, at }).unwrap();
    assert!(committed() < seen());
    load.commit().unwrap();
    assert_eq!(committed(), seen());
    assert_eq!(w.ops.complete(id, CompleteOrder { at }).unwrap_err().code(), "transition_not_allowed");
    w.ops.log_work(id, LogWork { minutes: 10, at }).unwrap();
    assert!(committed() < seen());
    // Dropped unfinished: the open batch is committed and the load ends.
    drop(load);
    assert_eq!(committed(), seen());
    // Without a bulk load: one commit per operation again, and a new load may start.
    w.ops.end_visit(id, EndVisit { outcome: VisitOutcome::Fixed, at }).unwrap();
    assert_eq!(committed(), seen());
    let stats = w.ops.bulk(BulkOptions::default()).unwrap().finish().unwrap();
    assert_eq!(stats.operations, 0);
}
