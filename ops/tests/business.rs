//! Entitlement, SLA deadlines, pricing, stock under concurrency, the outbox,
//! mobile sync, claims, dispatch and maintenance against a real database.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use fieldhouse_domain::event::{BillTo, Entitlement, LineKind, PauseReason, Payload, Priority, VisitOutcome};
use fieldhouse_ops::billing::{InvoiceOrder, IssueCreditNote, RecordPayment, RunFeeBilling};
use fieldhouse_ops::claims::{ApproveClaim, ClaimState, FileClaim, RejectClaim, SettleClaims};
use fieldhouse_ops::dispatch::RunMaintenance;
use fieldhouse_ops::master::DefineMaintenancePlan;
use fieldhouse_ops::mobile::{ActionStatus, MobileAction, MobileActionKind, MobileBatch};
use fieldhouse_ops::orders::*;
use fieldhouse_ops::stock::{ReceiveStock, TransferStock};
use fieldhouse_ops::{OutboxReader, Page};
use uuid::Uuid;

// --- entitlement -------------------------------------------------------------

#[test]
fn entitlement_in_out_and_on_the_boundary_days_of_a_contract() {
    let w = world();
    // The gold contract runs 2026-01-01..=2026-06-30, in the site's zone (Europe/Berlin).
    let cases = [
        (t(2025, 12, 31, 22, 59), Entitlement::TimeAndMaterial), // 23:59 on Dec 31 local: before
        (t(2025, 12, 31, 23, 0), Entitlement::Contract),         // 00:00 on Jan 1 local: first day
        (t(2026, 3, 15, 12, 0), Entitlement::Contract),          // inside
        (t(2026, 6, 30, 21, 59), Entitlement::Contract),         // 23:59 on Jun 30 local (CEST): last day
        (t(2026, 6, 30, 22, 0), Entitlement::TimeAndMaterial),   // 00:00 on Jul 1 local: after
    ];
    for (at, expected) in cases {
        let o = w.open(w.eq_contract, at);
        assert_eq!(o.entitlement, expected, "opened at {at}");
        assert_eq!(o.contract_id.is_some(), expected == Entitlement::Contract);
    }
    // Warranty: installed 2025-01-01 with 24 months → warranty ends 2027-01-01 (inclusive).
    assert_eq!(w.open(w.eq_warranty, t(2026, 12, 31, 22, 59)).entitlement, Entitlement::Warranty);
    assert_eq!(w.open(w.eq_warranty, t(2027, 1, 1, 22, 59)).entitlement, Entitlement::Warranty);
    assert_eq!(w.open(w.eq_warranty, t(2027, 1, 1, 23, 0)).entitlement, Entitlement::TimeAndMaterial);
    // The order says why, in the same transaction as the opening.
    let seq = w.outbox_len();
    let o = w.open(w.eq_contract, t(2026, 2, 2, 9, 0));
    let rows = w.ops.outbox_after(seq, 10).unwrap();
    assert_eq!(rows.len(), 2);
    match &rows[1].event.payload {
        Payload::EntitlementChecked(e) => {
            assert_eq!(e.order_id, o.order_id);
            assert_eq!(e.contract_id, Some(w.gold));
            assert!(e.reason.contains("gold"), "{}", e.reason);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_terminated_contract_no_longer_entitles() {
    let w = world();
    w.ops
        .terminate_contract(
            w.gold,
            fieldhouse_ops::master::TerminateContract { effective_on: day(2026, 4, 1), at: t(2026, 3, 1, 0, 0) },
        )
        .unwrap();
    assert_eq!(w.open(w.eq_contract, t(2026, 3, 31, 12, 0)).entitlement, Entitlement::Contract);
    assert_eq!(w.open(w.eq_contract, t(2026, 4, 1, 12, 0)).entitlement, Entitlement::TimeAndMaterial);
}

// --- SLA deadlines ---------------------------------------------------------------

#[test]
fn deadlines_from_the_contract_calendar_priority_change_and_pauses() {
    let w = world();
    let opened = t(2026, 3, 10, 8, 0);
    let o = w.open(w.eq_contract, opened);
    // Gold is 24x7; P2 = 480 / 1440 minutes.
    assert_eq!(o.response_due_at, Some(opened + TimeDelta::minutes(480)));
    assert_eq!(o.resolution_due_at, Some(opened + TimeDelta::minutes(1440)));
    // Paused 60 min waiting for the customer, then raised to P1 (240 / 480) while running:
    // recomputed from the opening with the pause → opened + 240 + 60.
    w.ops
        .pause(o.order_id, PauseOrder { reason: PauseReason::WaitingForCustomer, at: opened + TimeDelta::minutes(30) })
        .unwrap();
    w.ops.resume(o.order_id, ResumeOrder { at: opened + TimeDelta::minutes(90) }).unwrap();
    let seq = w.outbox_len();
    let o = w
        .ops
        .change_priority(o.order_id, ChangePriority { priority: Priority::P1, at: opened + TimeDelta::minutes(100) })
        .unwrap();
    assert_eq!(o.response_due_at, Some(opened + TimeDelta::minutes(300)));
    assert_eq!(o.resolution_due_at, Some(opened + TimeDelta::minutes(540)));
    match &w.ops.outbox_after(seq, 1).unwrap()[0].event.payload {
        Payload::PriorityChanged(p) => {
            assert_eq!((p.from, p.to), (Priority::P2, Priority::P1));
            assert_eq!(p.response_due_at, opened + TimeDelta::minutes(300));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn without_a_contract_the_default_business_hours_apply() {
    let w = world();
    // Tuesday 2026-03-10 16:00 Berlin (15:00 UTC); Mon–Fri 08:00–17:00; P2 response 480 min:
    // 60 min Tuesday, then 420 min Wednesday from 08:00 → Wed 15:00 Berlin = 14:00 UTC.
    let o = w.open(w.eq_tm, t(2026, 3, 10, 15, 0));
    assert_eq!(o.entitlement, Entitlement::TimeAndMaterial);
    assert_eq!(o.response_due_at, Some(t(2026, 3, 11, 14, 0)));
    assert_eq!(o.response_target_minutes, 480);
    assert_ne!(o.calendar_id, w.cal24);
    // The default calendar is created once and reused.
    let o2 = w.open(w.eq_tm, t(2026, 3, 12, 15, 0));
    assert_eq!(o2.calendar_id, o.calendar_id);
}

// --- invoices --------------------------------------------------------------------

/// Run an order through one visit: 30 min travel, 90 min work, 2 parts, fixed, completed.
fn worked_order(w: &World, equipment: Uuid, tech: Uuid, start: DateTime<Utc>) -> Uuid {
    let id = w.open(equipment, start).order_id;
    let m = |n| start + TimeDelta::minutes(n);
    w.ops.assign(id, AssignOrder { technician_id: tech, at: m(5) }).unwrap();
    w.ops.start_travel(id, StartTravel { at: m(10) }).unwrap();
    w.ops.arrive(id, Arrive { lat: SITE_LAT, lon: SITE_LON, at: m(40) }).unwrap();
    w.ops.log_work(id, LogWork { minutes: 60, at: m(100) }).unwrap();
    w.ops.log_work(id, LogWork { minutes: 30, at: m(130) }).unwrap();
    w.ops.consume_part(id, ConsumePart { part_id: w.part, location_id: w.van, quantity: 2, at: m(131) }).unwrap();
    w.ops.end_visit(id, EndVisit { outcome: VisitOutcome::Fixed, at: m(140) }).unwrap();
    w.ops.complete(id, CompleteOrder { at: m(141) }).unwrap();
    id
}

#[test]
fn invoice_contract_rate_with_discounted_parts() {
    let w = world();
    let id = worked_order(&w, w.eq_contract, w.tech, t(2026, 3, 10, 8, 0));
    let inv = w.ops.invoice_order(id, InvoiceOrder { at: t(2026, 3, 10, 18, 0) }).unwrap();
    // labour 90 min at 80.00/h = 1.5 h * 8000 = 12000
    // travel 30 min at 80.00/h = 0.5 h * 8000 = 4000
    // parts 2 * 12345 = 24690, minus 20 % (4938) = 19752
    // total = 12000 + 4000 + 19752 = 35752
    let amounts: Vec<(LineKind, i64, i64)> =
        inv.lines.iter().map(|l| (l.kind, l.discount_cents, l.amount_cents)).collect();
    assert_eq!(amounts, vec![(LineKind::Labour, 0, 12000), (LineKind::Travel, 0, 4000), (LineKind::Part, 4938, 19752)]);
    assert_eq!(inv.total_cents, 35752);
    assert_eq!(inv.bill_to, BillTo::Customer);
    // Issued 2026-03-10, 30 days' terms → due 2026-04-09.
    assert_eq!(inv.due_on, day(2026, 4, 9));
    // Partial payment, overpayment refused, credit note for the rest.
    let inv = w
        .ops
        .record_payment(
            inv.invoice_id,
            RecordPayment { amount_cents: 20000, received_on: None, at: t(2026, 3, 20, 9, 0) },
        )
        .unwrap();
    assert_eq!(inv.outstanding_cents, 15752); // 35752 - 20000
    let e = w
        .ops
        .record_payment(
            inv.invoice_id,
            RecordPayment { amount_cents: 15753, received_on: None, at: t(2026, 3, 21, 9, 0) },
        )
        .unwrap_err();
    assert_eq!(e.code(), "invalid");
    let inv = w
        .ops
        .issue_credit_note(
            inv.invoice_id,
            IssueCreditNote { amount_cents: 15752, reason: "goodwill".into(), at: t(2026, 3, 22, 9, 0) },
        )
        .unwrap();
    assert_eq!((inv.paid_cents, inv.credited_cents, inv.outstanding_cents), (20000, 15752, 0));
    // Invoicing twice is a conflict.
    let e = w.ops.invoice_order(id, InvoiceOrder { at: t(2026, 3, 23, 0, 0) }).unwrap_err();
    assert_eq!(e.code(), "already_invoiced");
}

#[test]
fn invoice_covered_contract_bills_nothing_but_shows_the_work() {
    let w = world();
    let id = worked_order(&w, w.eq_covered, w.tech, t(2026, 3, 10, 8, 0));
    let inv = w.ops.invoice_order(id, InvoiceOrder { at: t(2026, 3, 10, 18, 0) }).unwrap();
    // labour 12000 - 12000 covered = 0; travel 4000 - 4000 = 0; parts 24690 - 100 % = 0; total 0.
    let amounts: Vec<(i64, i64)> = inv.lines.iter().map(|l| (l.discount_cents, l.amount_cents)).collect();
    assert_eq!(amounts, vec![(12000, 0), (4000, 0), (24690, 0)]);
    assert_eq!(inv.total_cents, 0);
}

#[test]
fn invoice_time_and_material_at_list_prices() {
    let w = world();
    let id = worked_order(&w, w.eq_tm, w.tech, t(2026, 3, 10, 8, 0));
    let inv = w.ops.invoice_order(id, InvoiceOrder { at: t(2026, 3, 10, 18, 0) }).unwrap();
    // labour 1.5 h * 9500 = 14250; travel 0.5 h * 9500 = 4750; parts 2 * 12345 = 24690
    // total = 14250 + 4750 + 24690 = 43690
    assert_eq!(inv.lines.iter().map(|l| l.amount_cents).collect::<Vec<_>>(), vec![14250, 4750, 24690]);
    assert_eq!(inv.total_cents, 43690);
    assert!(inv.contract_id.is_none());
}

#[test]
fn warranty_work_is_never_billed_to_the_customer() {
    let w = world();
    // Own staff: invoiced to the manufacturer at T&M prices: 14250 + 4750 + 24690 = 43690, 30 days.
    let id = worked_order(&w, w.eq_warranty, w.tech, t(2026, 3, 10, 8, 0));
    let inv = w.ops.invoice_order(id, InvoiceOrder { at: t(2026, 3, 10, 18, 0) }).unwrap();
    assert_eq!(inv.bill_to, BillTo::Manufacturer);
    assert_eq!(inv.total_cents, 43690);
    // An agent's technician: a claim, not an invoice.
    let id = worked_order(&w, w.eq_warranty, w.agent_tech, t(2026, 3, 11, 8, 0));
    let before = w.dump();
    let e = w.ops.invoice_order(id, InvoiceOrder { at: t(2026, 3, 11, 18, 0) }).unwrap_err();
    assert_eq!(e.code(), "claim_required");
    assert!(w.dump() == before);
}

#[test]
fn fee_billing_run_bills_each_contract_once_a_month() {
    let w = world();
    let first = w.ops.run_fee_billing(RunFeeBilling { month: None, at: t(2026, 3, 1, 6, 0) }).unwrap();
    // Gold and platinum are in force in March 2026: 2 invoices of 100.00.
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|i| i.total_cents == 10_000 && i.fee_period.as_deref() == Some("2026-03")));
    assert_eq!(first[0].due_on, day(2026, 3, 31));
    let again = w.ops.run_fee_billing(RunFeeBilling { month: None, at: t(2026, 3, 15, 6, 0) }).unwrap();
    assert!(again.is_empty());
    let july = w.ops.run_fee_billing(RunFeeBilling { month: Some(day(2026, 7, 1)), at: t(2026, 7, 1, 6, 0) }).unwrap();
    assert!(july.is_empty(), "the contracts ended in June");
}

// --- stock -------------------------------------------------------------------------

#[test]
fn two_threads_consuming_the_last_unit_exactly_one_succeeds() {
    let w = world();
    // One unit at the central store; two orders on site.
    w.ops
        .receive_stock(ReceiveStock {
            location_id: w.central,
            part_id: w.part,
            quantity: 1,
            unit_cost_cents: None,
            at: t(2026, 3, 1, 0, 0),
        })
        .unwrap();
    let mut ids = Vec::new();
    for (i, tech) in [w.tech, w.tech2].into_iter().enumerate() {
        let start = t(2026, 3, 10, 8, 0) + TimeDelta::hours(i as i64);
        let id = w.open(w.eq_contract, start).order_id;
        w.ops.assign(id, AssignOrder { technician_id: tech, at: start }).unwrap();
        w.ops.start_travel(id, StartTravel { at: start }).unwrap();
        w.ops.arrive(id, Arrive { lat: SITE_LAT, lon: SITE_LON, at: start }).unwrap();
        ids.push(id);
    }
    let seq = w.outbox_len();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = ids
        .iter()
        .map(|&id| {
            let ops = w.ops.clone();
            let (part, loc, barrier) = (w.part, w.central, barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                ops.consume_part(
                    id,
                    ConsumePart { part_id: part, location_id: loc, quantity: 1, at: t(2026, 3, 10, 12, 0) },
                )
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    let err = results.into_iter().find_map(|r| r.err()).unwrap();
    assert_eq!(err.code(), "out_of_stock");
    let level = w.ops.stock_levels(Some(w.central), Some(w.part)).unwrap();
    assert_eq!(level[0].on_hand, 0);
    // One part_consumed and the reorder (point 1 at central) it triggered; nothing from the loser.
    assert_eq!(w.types_after(seq), vec!["part_consumed", "reorder_placed"]);
    // The loser's visit can end "needs parts".
    let loser = ids.iter().find(|id| {
        w.ops.order(**id).unwrap().state == OrderState::OnSite && {
            w.ops.outbox_after(seq, 10).unwrap().iter().all(|r| r.event.payload.envelope().order_id != Some(**id))
        }
    });
    let o = w
        .ops
        .end_visit(*loser.unwrap(), EndVisit { outcome: VisitOutcome::NeedsParts, at: t(2026, 3, 10, 12, 5) })
        .unwrap();
    assert_eq!(o.last_outcome, Some(VisitOutcome::NeedsParts));
}

#[test]
fn transfers_and_counts_keep_quantities_non_negative_and_reorder_once() {
    let w = world();
    let at = t(2026, 3, 1, 0, 0);
    let e = w
        .ops
        .transfer_stock(TransferStock {
            from_location_id: w.central,
            to_location_id: w.van,
            part_id: w.part,
            quantity: 1,
            at,
        })
        .unwrap_err();
    assert_eq!(e.code(), "out_of_stock");
    w.ops
        .receive_stock(ReceiveStock { location_id: w.central, part_id: w.part, quantity: 4, unit_cost_cents: None, at })
        .unwrap();
    let seq = w.outbox_len();
    // 4 → 2 (above the point 1), → 1 (reorder), → 0 (already pending: no second reorder).
    for _ in 0..2 {
        w.ops
            .transfer_stock(TransferStock {
                from_location_id: w.central,
                to_location_id: w.van,
                part_id: w.part,
                quantity: 1,
                at,
            })
            .unwrap();
    }
    w.ops
        .transfer_stock(TransferStock {
            from_location_id: w.central,
            to_location_id: w.van,
            part_id: w.part,
            quantity: 1,
            at,
        })
        .unwrap();
    w.ops
        .transfer_stock(TransferStock {
            from_location_id: w.central,
            to_location_id: w.van,
            part_id: w.part,
            quantity: 1,
            at,
        })
        .unwrap();
    let types = w.types_after(seq);
    assert_eq!(types.iter().filter(|t| *t == "reorder_placed").count(), 1, "{types:?}");
    assert_eq!(w.ops.stock_levels(Some(w.central), Some(w.part)).unwrap()[0].on_hand, 0);
    let lvl = w
        .ops
        .count_stock(fieldhouse_ops::stock::CountStock { location_id: w.van, part_id: w.part, counted: 3, at })
        .unwrap();
    assert_eq!(lvl.on_hand, 3);
}

// --- outbox ------------------------------------------------------------------------

#[test]
fn outbox_is_gap_free_one_event_set_per_success_none_per_failure() {
    let w = world();
    let reader = OutboxReader::open(w.ops.path()).unwrap();
    let start = reader.max_seq().unwrap();
    let id = w.open(w.eq_contract, t(2026, 3, 10, 8, 0)).order_id; // +2
    let _ = w.ops.start_travel(id, StartTravel { at: t(2026, 3, 10, 8, 1) }).unwrap_err(); // +0
    w.ops.assign(id, AssignOrder { technician_id: w.tech, at: t(2026, 3, 10, 8, 2) }).unwrap(); // +1
    let _ = w.ops.assign(id, AssignOrder { technician_id: w.tech, at: t(2026, 3, 10, 8, 3) }).unwrap_err(); // +0
    let _ = w
        .ops
        .close(Uuid::nil(), CloseOrder { signed_by: "x".into(), csat: None, at: t(2026, 3, 10, 8, 3) })
        .unwrap_err();
    w.ops.start_travel(id, StartTravel { at: t(2026, 3, 10, 8, 4) }).unwrap(); // +1
    assert_eq!(reader.max_seq().unwrap(), start + 4);
    let all = reader.read_after(0, 10_000).unwrap();
    for (i, row) in all.iter().enumerate() {
        assert_eq!(row.seq, i as i64 + 1, "gap-free from 1");
    }
    let tail: Vec<_> = reader.read_after(start, 100).unwrap().iter().map(|r| r.event.event_type()).collect();
    assert_eq!(tail, vec!["order_opened", "entitlement_checked", "order_assigned", "travel_started"]);
    assert!(all.iter().all(|r| r.event.source == "ops"));
    // Paging.
    assert_eq!(reader.read_after(start, 2).unwrap().len(), 2);
    assert_eq!(reader.read_after(start + 4, 2).unwrap().len(), 0);
}

#[test]
fn the_same_seed_and_calls_give_an_identical_outbox() {
    let run = || {
        let w = world_seeded(Some(42));
        worked_order(&w, w.eq_contract, w.tech, t(2026, 3, 10, 8, 0));
        // A failing call in between must not shift later ids.
        let _ = w.ops.assign(Uuid::nil(), AssignOrder { technician_id: w.tech, at: t(2026, 3, 10, 9, 0) });
        w.open(w.eq_tm, t(2026, 3, 11, 8, 0));
        w.ops.outbox_after(0, 10_000).unwrap().into_iter().map(|r| r.event.to_json()).collect::<Vec<_>>()
    };
    let (a, b) = (run(), run());
    assert!(a.len() > 30);
    assert_eq!(a, b);
    let c = {
        let w = world_seeded(None);
        w.ops.outbox_after(0, 5).unwrap().into_iter().map(|r| r.event.to_json()).collect::<Vec<_>>()
    };
    assert_ne!(a[..5], c[..]);
}

// --- mobile sync -------------------------------------------------------------------

fn action(client_id: &str, order_id: Uuid, at: DateTime<Utc>, kind: MobileActionKind) -> MobileAction {
    MobileAction { client_id: client_id.into(), order_id, at, kind }
}

#[test]
fn mobile_batch_sent_twice_applies_once() {
    let w = world();
    let start = t(2026, 3, 10, 8, 0);
    let id = w.open(w.eq_contract, start).order_id;
    w.ops.assign(id, AssignOrder { technician_id: w.tech, at: start }).unwrap();
    let m = |n| start + TimeDelta::minutes(n);
    let batch = MobileBatch {
        technician_id: w.tech,
        actions: vec![
            action("a1", id, m(10), MobileActionKind::Travel),
            action("a2", id, m(40), MobileActionKind::Arrive { lat: SITE_LAT, lon: SITE_LON }),
            action(
                "a3",
                id,
                m(50),
                MobileActionKind::PartConsumed { part_id: w.part, location_id: w.van, quantity: 1 },
            ),
            action("a4", id, m(90), MobileActionKind::WorkLogged { minutes: 45 }),
            action("a5", id, m(95), MobileActionKind::VisitEnded { outcome: VisitOutcome::Fixed }),
        ],
    };
    let seq = w.outbox_len();
    let first = w.ops.sync_mobile(&batch).unwrap();
    assert_eq!((first.applied, first.duplicates, first.rejected), (5, 0, 0));
    let events = w.ops.outbox_after(seq, 100).unwrap();
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|r| r.event.source == "mobile"));
    assert_eq!(events[1].event.occurred_at, m(40), "the action's own time");
    let dump = w.dump();
    let second = w.ops.sync_mobile(&batch).unwrap();
    assert_eq!((second.applied, second.duplicates, second.rejected), (0, 5, 0));
    assert!(second.results.iter().all(|r| r.status == ActionStatus::Duplicate));
    assert!(w.dump() == dump, "nothing applied twice");
    assert_eq!(w.ops.order(id).unwrap().state, OrderState::VisitEnded);
}

#[test]
fn mobile_batch_with_one_bad_action_applies_the_good_ones() {
    let w = world();
    let start = t(2026, 3, 10, 8, 0);
    let id = w.open(w.eq_contract, start).order_id;
    w.ops.assign(id, AssignOrder { technician_id: w.tech, at: start }).unwrap();
    let other = w.open(w.eq_tm, start).order_id; // not assigned to this technician
    let m = |n| start + TimeDelta::minutes(n);
    let batch = MobileBatch {
        technician_id: w.tech,
        actions: vec![
            action("b1", id, m(10), MobileActionKind::Travel),
            action("b2", id, m(40), MobileActionKind::Arrive { lat: SITE_LAT, lon: SITE_LON }),
            // 500 pumps are not in the van.
            action(
                "b3",
                id,
                m(50),
                MobileActionKind::PartConsumed { part_id: w.part, location_id: w.van, quantity: 500 },
            ),
            action("b4", other, m(50), MobileActionKind::WorkLogged { minutes: 10 }),
            action("b5", id, m(90), MobileActionKind::WorkLogged { minutes: 45 }),
            action("b6", id, m(95), MobileActionKind::VisitEnded { outcome: VisitOutcome::NeedsParts }),
            action("b7", id, m(96), MobileActionKind::Close { signed_by: "x".into(), csat: Some(3) }),
        ],
    };
    let r = w.ops.sync_mobile(&batch).unwrap();
    let statuses: Vec<_> = r.results.iter().map(|x| (x.client_id.as_str(), x.status, x.error.as_deref())).collect();
    assert_eq!(
        statuses,
        vec![
            ("b1", ActionStatus::Applied, None),
            ("b2", ActionStatus::Applied, None),
            ("b3", ActionStatus::Rejected, Some("out_of_stock")),
            ("b4", ActionStatus::Rejected, Some("invalid")),
            ("b5", ActionStatus::Applied, None),
            ("b6", ActionStatus::Applied, None),
            ("b7", ActionStatus::Rejected, Some("transition_not_allowed")),
        ]
    );
    assert_eq!(w.ops.order(id).unwrap().last_outcome, Some(VisitOutcome::NeedsParts));
    // A rejected action may be re-sent once it can apply; the applied ones stay duplicates.
    let r2 = w.ops.sync_mobile(&batch).unwrap();
    assert_eq!(r2.duplicates, 4);
    assert_eq!(r2.rejected, 3);
}

// --- claims --------------------------------------------------------------------------

#[test]
fn claims_filed_approved_partly_rejected_and_settled() {
    let w = world();
    let id = worked_order(&w, w.eq_warranty, w.agent_tech, t(2026, 3, 10, 8, 0));
    let c = w
        .ops
        .file_claim(FileClaim {
            order_id: id,
            labour_minutes: 90,
            parts: None,
            arrival_event_id: None,
            photos: 3,
            at: t(2026, 3, 11, 8, 0),
        })
        .unwrap();
    // 90 min at the agent's 60.00/h = 9000; parts 2 * 12345 = 24690; total 33690.
    assert_eq!(c.filed.amount_cents, 33690);
    assert_eq!(c.filed.agent_id, w.agent);
    assert!(c.filed.arrival_event_id.is_some(), "the arrival is the evidence");
    let c = w
        .ops
        .approve_claim(
            c.filed.claim_id,
            ApproveClaim { approved_cents: Some(30000), note: None, at: t(2026, 3, 12, 8, 0) },
        )
        .unwrap();
    assert_eq!((c.state, c.approved_cents), (ClaimState::Approved, Some(30000)));
    let e = w
        .ops
        .reject_claim(
            c.filed.claim_id,
            RejectClaim { reason_code: "late".into(), reason: String::new(), at: t(2026, 3, 12, 9, 0) },
        )
        .unwrap_err();
    assert_eq!(e.code(), "transition_not_allowed");
    let dup = w
        .ops
        .file_claim(FileClaim {
            order_id: id,
            labour_minutes: 90,
            parts: Some(vec![]),
            arrival_event_id: None,
            photos: 0,
            at: t(2026, 3, 11, 9, 0),
        })
        .unwrap();
    let dup = w
        .ops
        .reject_claim(
            dup.filed.claim_id,
            RejectClaim { reason_code: "duplicate".into(), reason: "claimed twice".into(), at: t(2026, 3, 12, 9, 0) },
        )
        .unwrap();
    assert_eq!(dup.state, ClaimState::Rejected);
    let paid = w.ops.settle_claims(SettleClaims { agent_id: None, at: t(2026, 3, 31, 0, 0) }).unwrap();
    assert_eq!(paid.len(), 1);
    assert_eq!(paid[0].state, ClaimState::Paid);
    assert!(w.ops.settle_claims(SettleClaims { agent_id: None, at: t(2026, 4, 30, 0, 0) }).unwrap().is_empty());
    // Not a warranty order → refused.
    let tm = worked_order(&w, w.eq_tm, w.agent_tech, t(2026, 3, 13, 8, 0));
    let e = w
        .ops
        .file_claim(FileClaim {
            order_id: tm,
            labour_minutes: 10,
            parts: None,
            arrival_event_id: None,
            photos: 0,
            at: t(2026, 3, 14, 8, 0),
        })
        .unwrap_err();
    assert_eq!(e.code(), "invalid");
    assert_eq!(w.ops.list_claims(Some(w.agent), None, &Page::default()).unwrap().len(), 2);
}

// --- dispatch and maintenance ----------------------------------------------------------

#[test]
fn dispatch_ranks_the_skilled_nearby_technician_first_with_reasons() {
    let w = world();
    let o = w.open(w.eq_contract, t(2026, 3, 10, 8, 0));
    let s = w.ops.suggest_technicians(o.order_id, t(2026, 3, 10, 8, 0), 10).unwrap();
    assert_eq!(s.len(), 3);
    assert_eq!(s[0].technician_id, w.tech, "{s:#?}");
    assert_eq!(s.last().unwrap().technician_id, w.tech2, "far away and unskilled");
    assert!(s[0].skill_match && !s[2].skill_match);
    assert!(s[0].distance_km < 5.0 && s[2].distance_km > 400.0);
    assert!(!s[2].meets_response_deadline, "Munich to Berlin takes longer than 8 h at 50 km/h");
    assert!(s[0].reasons.iter().any(|r| r.contains("skilled in hvac")));
    // Load counts: give Ada three open orders and Cem overtakes her.
    for h in 0..3 {
        let x = w.open(w.eq_contract, t(2026, 3, 10, 8, h)).order_id;
        w.ops.assign(x, AssignOrder { technician_id: w.tech, at: t(2026, 3, 10, 8, 30) }).unwrap();
    }
    let s = w.ops.suggest_technicians(o.order_id, t(2026, 3, 10, 9, 0), 10).unwrap();
    assert_eq!(s[0].technician_id, w.agent_tech, "{s:#?}");
    assert_eq!(s[1].open_orders, 3);
    // The order being dispatched does not count against the technician holding it,
    // and a technician's position is their last arrival.
    w.ops.assign(o.order_id, AssignOrder { technician_id: w.tech, at: t(2026, 3, 10, 9, 0) }).unwrap();
    w.ops.start_travel(o.order_id, StartTravel { at: t(2026, 3, 10, 9, 1) }).unwrap();
    w.ops.arrive(o.order_id, Arrive { lat: SITE_LAT + 0.5, lon: SITE_LON, at: t(2026, 3, 10, 9, 30) }).unwrap();
    let s = w.ops.suggest_technicians(o.order_id, t(2026, 3, 10, 9, 40), 10).unwrap();
    let ada = s.iter().find(|x| x.technician_id == w.tech).unwrap();
    assert_eq!(ada.open_orders, 3, "{ada:#?}");
    assert!((ada.distance_km - 55.6).abs() < 0.1, "{ada:#?}");
    assert!(ada.reasons.iter().any(|r| r.ends_with("km from last arrival (-27.8)")), "{ada:#?}");
    let cem = s.iter().find(|x| x.technician_id == w.agent_tech).unwrap();
    assert!(cem.reasons.iter().any(|r| r.contains("km from home")), "{cem:#?}");
}

#[test]
fn maintenance_run_opens_preventive_orders_when_due() {
    let w = world();
    w.ops
        .define_maintenance_plan(DefineMaintenancePlan {
            equipment_id: w.eq_contract,
            interval_days: 90,
            next_due_on: day(2026, 3, 1),
            at: t(2026, 1, 1, 0, 0),
        })
        .unwrap();
    assert!(w.ops.run_maintenance(RunMaintenance { at: t(2026, 2, 28, 6, 0) }).unwrap().is_empty());
    let opened = w.ops.run_maintenance(RunMaintenance { at: t(2026, 3, 2, 6, 0) }).unwrap();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].order_type, fieldhouse_domain::event::OrderType::Preventive);
    assert_eq!(opened[0].entitlement, Entitlement::Contract);
    assert!(opened[0].plan_id.is_some());
    // Next due 2026-05-30: nothing more until then.
    assert!(w.ops.run_maintenance(RunMaintenance { at: t(2026, 5, 29, 6, 0) }).unwrap().is_empty());
    assert_eq!(w.ops.run_maintenance(RunMaintenance { at: t(2026, 5, 30, 6, 0) }).unwrap().len(), 1);
}

#[test]
fn suggestions_measure_from_the_latest_arrival_even_when_an_earlier_one_is_recorded_later() {
    let w = world();
    let position = |at| {
        let c = w.open(w.eq_tm, at).order_id;
        let s = w.ops.suggest_technicians(c, at, 10).unwrap();
        let ada = s.into_iter().find(|x| x.technician_id == w.tech).unwrap();
        let from = ada.reasons.iter().find(|r| r.contains(" km from ")).cloned().unwrap_or_default();
        (ada.distance_km, from)
    };
    let (a, b) = (w.open(w.eq_contract, t(2026, 3, 10, 7, 0)).order_id, w.open(w.eq_tm, t(2026, 3, 10, 7, 0)).order_id);
    for id in [a, b] {
        w.ops.assign(id, AssignOrder { technician_id: w.tech, at: t(2026, 3, 10, 7, 5) }).unwrap();
        w.ops.start_travel(id, StartTravel { at: t(2026, 3, 10, 7, 10) }).unwrap();
    }
    w.ops.arrive(a, Arrive { lat: SITE_LAT + 0.5, lon: SITE_LON, at: t(2026, 3, 10, 10, 0) }).unwrap();
    let (km, reason) = position(t(2026, 3, 10, 11, 0));
    assert!((km - 55.6).abs() < 0.1 && reason.contains("from last arrival"), "{km} {reason}");
    // An arrival at 08:30, recorded after the one at 10:00 (an offline batch): not the last one.
    w.ops.arrive(b, Arrive { lat: SITE_LAT + 1.0, lon: SITE_LON, at: t(2026, 3, 10, 8, 30) }).unwrap();
    let (km, _) = position(t(2026, 3, 10, 11, 0));
    assert!((km - 55.6).abs() < 0.1, "{km}");
}
