//! SLA targets, deadlines and the clock: the default targets and calendar,
//! deadlines from a calendar, priority changes, pauses and resumes.

use chrono::{DateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use fieldhouse_domain::calendar::Calendar;
use fieldhouse_domain::event::{ContractSigned, OrderPaused, OrderResumed, PauseReason, Priority, PriorityChanged};
use fieldhouse_domain::sla::Pause;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::{ChangePriority, OrderAction, OrderView, PauseOrder, ResumeOrder, load_order, not_before, step};
use crate::db;
use crate::master::{self, MasterKind};
use crate::service::Tx;
use crate::{Error, Result};

/// Default SLA targets `(priority, response, resolution)` in business
/// minutes, used when the order has no contract or the contract has no term
/// for its priority.
pub const DEFAULT_TARGETS: &[(Priority, i64, i64)] =
    &[(Priority::P1, 240, 540), (Priority::P2, 480, 1080), (Priority::P3, 1080, 2700), (Priority::P4, 2700, 5400)];

fn default_targets(priority: Priority) -> (i64, i64) {
    DEFAULT_TARGETS.iter().find(|(p, _, _)| *p == priority).map_or((1080, 2700), |&(_, r, s)| (r, s))
}

/// The default business-hours calendar of time zone `tz`, created on first use.
pub(super) fn default_calendar(tx: &mut Tx<'_>, tz: Tz, at: DateTime<Utc>) -> Result<(Uuid, Calendar)> {
    let name = format!("default business hours ({})", tz.name());
    let existing: Option<String> = tx
        .prepare_cached("SELECT id FROM calendars WHERE name = ?1 ORDER BY id LIMIT 1")?
        .query_row([&name], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        let id = Uuid::parse_str(&id).map_err(|e| Error::corrupt(e.to_string()))?;
        return Ok((id, master::calendar(tx, id)?));
    }
    let hours = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default();
    let cal = Calendar::weekdays(&name, tz, &[(hours(8), hours(17))]);
    let ev = master::insert_calendar(tx, cal, at)?;
    Ok((ev.calendar_id, ev.calendar))
}

pub(super) fn deadlines(
    cal: &Calendar,
    opened_at: DateTime<Utc>,
    response: i64,
    resolution: i64,
    pauses: &[Pause],
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let d = |m| {
        cal.deadline(opened_at, TimeDelta::minutes(m), pauses).ok_or_else(|| {
            Error::invalid("calendar", format!("calendar {:?} never accumulates {m} business minutes", cal.name))
        })
    };
    Ok((d(response)?, d(resolution)?))
}

/// Targets `(response, resolution)` for `priority` under `contract`.
pub(super) fn targets(contract: Option<&ContractSigned>, priority: Priority) -> (i64, i64) {
    contract
        .and_then(|c| c.sla.iter().find(|t| t.priority == priority))
        .map_or_else(|| default_targets(priority), |t| (t.response_minutes, t.resolution_minutes))
}

fn contract_of(conn: &Connection, o: &OrderView) -> Result<Option<ContractSigned>> {
    o.contract_id.map(|id| master::body(conn, MasterKind::Contract, id)).transpose()
}

pub(super) fn change_priority_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &ChangePriority) -> Result<OrderView> {
    let (o, _) = step(tx, order_id, OrderAction::ChangePriority)?;
    not_before("at", c.at, o.opened_at, "the opening")?;
    if o.priority == c.priority {
        return Err(Error::invalid("priority", format!("the order is already {}", c.priority)));
    }
    let contract = contract_of(tx, &o)?;
    let has_term = contract.as_ref().is_some_and(|k| k.sla.iter().any(|t| t.priority == c.priority));
    let (response, resolution) = targets(contract.as_ref().filter(|_| has_term), c.priority);
    // The calendar stays the order's calendar (stamped at opening).
    let cal = master::calendar(tx, o.calendar_id)?;
    let (response_due_at, resolution_due_at) = deadlines(&cal, o.opened_at, response, resolution, &o.sla_pauses(c.at))?;
    tx.prepare_cached(
        "UPDATE orders SET priority = ?2, response_target_minutes = ?3, resolution_target_minutes = ?4,
            response_due_at = ?5, resolution_due_at = ?6, updated_at = ?7 WHERE id = ?1",
    )?
    .execute(params![
        db::id(order_id),
        c.priority.as_str(),
        response,
        resolution,
        db::ts(response_due_at),
        db::ts(resolution_due_at),
        db::ts(c.at)
    ])?;
    tx.emit(
        c.at,
        PriorityChanged {
            order_id,
            from: o.priority,
            to: c.priority,
            response_due_at,
            resolution_due_at,
            response_target_minutes: response,
            resolution_target_minutes: resolution,
        },
    )?;
    load_order(tx, order_id)
}

pub(super) fn pause_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &PauseOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Pause)?;
    not_before("at", c.at, o.opened_at, "the opening")?;
    if c.reason == PauseReason::WaitingForParts {
        let allowed = contract_of(tx, &o)?.is_some_and(|k| k.pause_on_parts);
        if !allowed {
            return Err(Error::invalid(
                "reason",
                "the order's contract does not pause the clock while waiting for parts",
            ));
        }
    }
    tx.prepare_cached("INSERT INTO order_pauses (order_id, start_at, reason) VALUES (?1, ?2, ?3)")?
        .execute(params![db::id(order_id), db::ts(c.at), c.reason.as_str()])?;
    tx.prepare_cached(
        "UPDATE orders SET state = ?2, paused_from = ?3, pause_reason = ?4, updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![db::id(order_id), next.as_str(), o.state.as_str(), c.reason.as_str(), db::ts(c.at)])?;
    tx.emit(c.at, OrderPaused { order_id, reason: c.reason })?;
    load_order(tx, order_id)
}

/// Close the open pause of an order at `at`, if any.
pub(super) fn end_open_pause(tx: &Tx<'_>, o: &OrderView, at: DateTime<Utc>) -> Result<()> {
    if let Some(p) = o.pauses.iter().find(|p| p.end.is_none()) {
        not_before("at", at, p.start, "the start of the pause")?;
    }
    tx.prepare_cached("UPDATE order_pauses SET end_at = ?2 WHERE order_id = ?1 AND end_at IS NULL")?
        .execute(params![db::id(o.order_id), db::ts(at)])?;
    Ok(())
}

pub(super) fn resume_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &ResumeOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Resume)?;
    end_open_pause(tx, &o, c.at)?;
    // The stored deadlines move by the business time of the pauses.
    let cal = master::calendar(tx, o.calendar_id)?;
    let (response_due_at, resolution_due_at) =
        deadlines(&cal, o.opened_at, o.response_target_minutes, o.resolution_target_minutes, &o.sla_pauses(c.at))?;
    tx.prepare_cached(
        "UPDATE orders SET state = ?2, paused_from = NULL, pause_reason = NULL, response_due_at = ?3,
            resolution_due_at = ?4, updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![
        db::id(order_id),
        next.as_str(),
        db::ts(response_due_at),
        db::ts(resolution_due_at),
        db::ts(c.at)
    ])?;
    tx.emit(c.at, OrderResumed { order_id })?;
    load_order(tx, order_id)
}
