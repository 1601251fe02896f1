//! The order state machine against a real database: every (state, action)
//! pair is tried; allowed ones move to the state the table says and write
//! their events, forbidden ones fail with `transition_not_allowed` and leave
//! every table byte-for-byte unchanged.
#![allow(clippy::unwrap_used)]

mod common;

use chrono::{DateTime, TimeDelta, Utc};
use common::*;
use fieldhouse_domain::event::{PauseReason, Priority, VisitOutcome};
use fieldhouse_ops::billing::InvoiceOrder;
use fieldhouse_ops::orders::*;
use uuid::Uuid;

const LAT: f64 = SITE_LAT;
const LON: f64 = SITE_LON;

/// Drive a fresh contract order into `state`; returns its id and the last instant used.
fn order_in(w: &World, state: OrderState) -> (Uuid, DateTime<Utc>) {
    let mut at = t(2026, 3, 10, 8, 0);
    let id = w.open(w.eq_contract, at).order_id;
    let mut next = || {
        at += TimeDelta::minutes(10);
        at
    };
    let ops = &w.ops;
    let path: &[OrderState] = match state {
        OrderState::Open => &[],
        OrderState::Paused => &[OrderState::Paused],
        OrderState::Cancelled => &[OrderState::Cancelled],
        OrderState::Assigned => &[OrderState::Assigned],
        OrderState::Travelling => &[OrderState::Assigned, OrderState::Travelling],
        OrderState::OnSite => &[OrderState::Assigned, OrderState::Travelling, OrderState::OnSite],
        OrderState::VisitEnded => {
            &[OrderState::Assigned, OrderState::Travelling, OrderState::OnSite, OrderState::VisitEnded]
        }
        OrderState::Completed => &[
            OrderState::Assigned,
            OrderState::Travelling,
            OrderState::OnSite,
            OrderState::VisitEnded,
            OrderState::Completed,
        ],
        OrderState::Closed => &[
            OrderState::Assigned,
            OrderState::Travelling,
            OrderState::OnSite,
            OrderState::VisitEnded,
            OrderState::Completed,
            OrderState::Closed,
        ],
    };
    for s in path {
        let at = next();
        match s {
            OrderState::Assigned => drop(ops.assign(id, AssignOrder { technician_id: w.tech, at }).unwrap()),
            OrderState::Travelling => drop(ops.start_travel(id, StartTravel { at }).unwrap()),
            OrderState::OnSite => drop(ops.arrive(id, Arrive { lat: LAT, lon: LON, at }).unwrap()),
            OrderState::VisitEnded => drop(ops.end_visit(id, EndVisit { outcome: VisitOutcome::Fixed, at }).unwrap()),
            OrderState::Completed => drop(ops.complete(id, CompleteOrder { at }).unwrap()),
            OrderState::Closed => {
                drop(ops.close(id, CloseOrder { signed_by: "Dr. Who".into(), csat: Some(5), at }).unwrap())
            }
            OrderState::Paused => {
                drop(ops.pause(id, PauseOrder { reason: PauseReason::WaitingForCustomer, at }).unwrap())
            }
            OrderState::Cancelled => drop(ops.cancel(id, CancelOrder { reason: "duplicate".into(), at }).unwrap()),
            OrderState::Open => {}
        }
    }
    assert_eq!(ops.order(id).unwrap().state, state);
    (id, at)
}

/// Apply `action` with valid arguments; returns the event types it should write.
fn apply(
    w: &World,
    id: Uuid,
    action: OrderAction,
    at: DateTime<Utc>,
) -> fieldhouse_ops::Result<&'static [&'static str]> {
    let ops = &w.ops;
    Ok(match action {
        OrderAction::ChangePriority => {
            ops.change_priority(id, ChangePriority { priority: Priority::P1, at })?;
            &["priority_changed"]
        }
        OrderAction::Assign => {
            ops.assign(id, AssignOrder { technician_id: w.tech, at })?;
            &["order_assigned"]
        }
        OrderAction::Reassign => {
            ops.reassign(id, ReassignOrder { technician_id: w.agent_tech, reason: "load".into(), at })?;
            &["order_reassigned"]
        }
        OrderAction::StartTravel => {
            ops.start_travel(id, StartTravel { at })?;
            &["travel_started"]
        }
        OrderAction::Arrive => {
            ops.arrive(id, Arrive { lat: LAT, lon: LON, at })?;
            &["arrived"]
        }
        OrderAction::Pause => {
            ops.pause(id, PauseOrder { reason: PauseReason::WaitingForParts, at })?;
            &["order_paused"]
        }
        OrderAction::Resume => {
            ops.resume(id, ResumeOrder { at })?;
            &["order_resumed"]
        }
        OrderAction::LogWork => {
            ops.log_work(id, LogWork { minutes: 30, at })?;
            &["work_logged"]
        }
        OrderAction::ConsumePart => {
            ops.consume_part(id, ConsumePart { part_id: w.part, location_id: w.van, quantity: 1, at })?;
            &["part_consumed"]
        }
        OrderAction::EndVisit => {
            ops.end_visit(id, EndVisit { outcome: VisitOutcome::Fixed, at })?;
            &["visit_ended"]
        }
        OrderAction::Complete => {
            ops.complete(id, CompleteOrder { at })?;
            &["order_completed"]
        }
        OrderAction::Close => {
            ops.close(id, CloseOrder { signed_by: "Dr. Who".into(), csat: Some(4), at })?;
            &["order_closed"]
        }
        OrderAction::Cancel => {
            ops.cancel(id, CancelOrder { reason: "customer fixed it".into(), at })?;
            &["order_cancelled"]
        }
        OrderAction::Reopen => {
            ops.reopen(id, ReopenOrder { reason: "fault came back".into(), at })?;
            &["order_reopened"]
        }
        OrderAction::Invoice => {
            ops.invoice_order(id, InvoiceOrder { at })?;
            &["invoice_issued"]
        }
    })
}

#[test]
fn every_state_action_pair_follows_the_table_and_forbidden_ones_change_nothing() {
    let w = world();
    let mut allowed = 0;
    let mut forbidden = 0;
    for &state in OrderState::ALL {
        for &action in OrderAction::ALL {
            let (id, last) = order_in(&w, state);
            let at = last + TimeDelta::minutes(5);
            let before_dump = w.dump();
            let before_seq = w.outbox_len();
            let paused_from = w.ops.order(id).unwrap().paused_from;
            match transition(state, action, paused_from) {
                Some(expected) => {
                    let types = apply(&w, id, action, at).unwrap_or_else(|e| panic!("{state} {action:?}: {e}"));
                    assert_eq!(w.ops.order(id).unwrap().state, expected, "{state} --{action:?}-->");
                    assert_eq!(w.types_after(before_seq), types, "{state} {action:?} events");
                    allowed += 1;
                }
                None => {
                    let err = apply(&w, id, action, at).unwrap_err();
                    assert_eq!(err.code(), "transition_not_allowed", "{state} {action:?}: {err}");
                    assert_eq!(w.outbox_len(), before_seq, "{state} {action:?} wrote events");
                    assert!(w.dump() == before_dump, "{state} {action:?} changed the database");
                    forbidden += 1;
                }
            }
        }
    }
    // The table allows 30 pairs (priority 6, pause 4, cancel 4, reassign, travel, reopen, invoice 2
    // each, the other 7 actions 1 each); the rest of the 9 * 15 are refused.
    assert_eq!(allowed, 30);
    assert_eq!(forbidden, 9 * 15 - 30);
}

#[test]
fn completing_after_a_needs_parts_visit_is_refused_and_the_second_visit_completes() {
    let w = world();
    let (id, mut at) = order_in(&w, OrderState::OnSite);
    let mut tick = || {
        at += TimeDelta::minutes(10);
        at
    };
    w.ops.end_visit(id, EndVisit { outcome: VisitOutcome::NeedsParts, at: tick() }).unwrap();
    let before = w.dump();
    let err = w.ops.complete(id, CompleteOrder { at: tick() }).unwrap_err();
    assert_eq!(err.code(), "transition_not_allowed");
    assert!(w.dump() == before);
    // Waiting for parts pauses the clock (the gold contract allows it), then a second visit fixes it.
    w.ops.pause(id, PauseOrder { reason: PauseReason::WaitingForParts, at: tick() }).unwrap();
    let o = w.ops.resume(id, ResumeOrder { at: tick() }).unwrap();
    assert_eq!(o.state, OrderState::VisitEnded);
    w.ops.start_travel(id, StartTravel { at: tick() }).unwrap();
    w.ops.arrive(id, Arrive { lat: LAT, lon: LON, at: tick() }).unwrap();
    w.ops.end_visit(id, EndVisit { outcome: VisitOutcome::Fixed, at: tick() }).unwrap();
    let o = w.ops.complete(id, CompleteOrder { at: tick() }).unwrap();
    assert_eq!(o.state, OrderState::Completed);
    assert_eq!(o.pauses.len(), 1);
}

#[test]
fn invalid_values_are_refused_without_writing() {
    let w = world();
    let (id, at) = order_in(&w, OrderState::Completed);
    let before = w.dump();
    let at = at + TimeDelta::minutes(1);
    let e = w.ops.close(id, CloseOrder { signed_by: "X".into(), csat: Some(6), at }).unwrap_err();
    assert_eq!(e.code(), "invalid");
    let e = w.ops.close(id, CloseOrder { signed_by: " ".into(), csat: Some(3), at }).unwrap_err();
    assert_eq!(e.code(), "invalid");
    let e = w.ops.close(Uuid::nil(), CloseOrder { signed_by: "X".into(), csat: None, at }).unwrap_err();
    assert_eq!(e.code(), "not_found");
    assert!(w.dump() == before);
    // A T&M order may not pause for parts: the contract decides, and there is none.
    let tm = w.open(w.eq_tm, t(2026, 3, 1, 8, 0)).order_id;
    let before = w.dump();
    let e = w.ops.pause(tm, PauseOrder { reason: PauseReason::WaitingForParts, at: t(2026, 3, 1, 9, 0) }).unwrap_err();
    assert_eq!(e.code(), "invalid");
    assert!(w.dump() == before);
}

#[test]
fn reopen_runs_the_resolution_clock_again_and_agent_technicians_carry_their_agent() {
    let w = world();
    let (id, at) = order_in(&w, OrderState::Assigned);
    let o = w.ops.reassign(id, ReassignOrder { technician_id: w.agent_tech, reason: "closer".into(), at }).unwrap();
    assert_eq!(o.agent_id, Some(w.agent));
    let seq = w.outbox_len();
    w.ops.start_travel(id, StartTravel { at: at + TimeDelta::minutes(1) }).unwrap();
    let rows = w.ops.outbox_after(seq, 10).unwrap();
    let env = rows[0].event.payload.envelope();
    assert_eq!(env.agent_id, Some(w.agent));
    assert_eq!(env.technician_id, Some(w.agent_tech));
}
