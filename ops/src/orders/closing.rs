//! The end of an order: completion, sign-off (close), cancellation and
//! reopening.

use fieldhouse_domain::event::{OrderCancelled, OrderClosed, OrderCompleted, OrderReopened, VisitOutcome};
use rusqlite::params;
use uuid::Uuid;

use super::sla::end_open_pause;
use super::{
    CancelOrder, CloseOrder, CompleteOrder, OrderAction, OrderView, ReopenOrder, load_order, not_before, step,
};
use crate::db;
use crate::service::Tx;
use crate::{Error, Result};

pub(super) fn complete_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &CompleteOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Complete)?;
    match o.last_outcome {
        Some(VisitOutcome::Fixed | VisitOutcome::NotFixable) => {}
        other => {
            return Err(Error::Transition {
                entity: "order",
                action: OrderAction::Complete.as_str(),
                state: format!("visit_ended ({})", other.map_or("no outcome", |x| x.as_str())),
            });
        }
    }
    not_before("at", c.at, o.opened_at, "the opening")?;
    tx.prepare_cached("UPDATE orders SET state = ?2, completed_at = ?3, updated_at = ?3 WHERE id = ?1")?
        .execute(params![db::id(order_id), next.as_str(), db::ts(c.at)])?;
    tx.emit(c.at, OrderCompleted { order_id, technician_id: o.technician_id, agent_id: o.agent_id })?;
    load_order(tx, order_id)
}

pub(crate) fn close_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &CloseOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Close)?;
    if c.signed_by.trim().is_empty() {
        return Err(Error::invalid("signed_by", "the customer's signer is required"));
    }
    if let Some(s) = c.csat
        && !(1..=5).contains(&s)
    {
        return Err(Error::invalid("csat", format!("must be 1..=5, got {s}")));
    }
    if let Some(done) = o.completed_at {
        not_before("at", c.at, done, "the completion")?;
    }
    tx.prepare_cached(
        "UPDATE orders SET state = ?2, closed_at = ?3, signed_by = ?4, csat = ?5, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![db::id(order_id), next.as_str(), db::ts(c.at), c.signed_by, c.csat])?;
    tx.emit(c.at, OrderClosed { order_id, signed_by: c.signed_by.clone(), csat: c.csat })?;
    load_order(tx, order_id)
}

pub(super) fn cancel_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &CancelOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Cancel)?;
    if c.reason.trim().is_empty() {
        return Err(Error::invalid("reason", "a cancellation needs a reason"));
    }
    not_before("at", c.at, o.opened_at, "the opening")?;
    end_open_pause(tx, &o, c.at)?;
    tx.prepare_cached(
        "UPDATE orders SET state = ?2, paused_from = NULL, pause_reason = NULL, cancelled_at = ?3, updated_at = ?3
         WHERE id = ?1",
    )?
    .execute(params![db::id(order_id), next.as_str(), db::ts(c.at)])?;
    tx.emit(c.at, OrderCancelled { order_id, reason: c.reason.clone() })?;
    load_order(tx, order_id)
}

pub(super) fn reopen_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &ReopenOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Reopen)?;
    if c.reason.trim().is_empty() {
        return Err(Error::invalid("reason", "a reopening needs a reason"));
    }
    if let Some(done) = o.completed_at {
        not_before("at", c.at, done, "the completion")?;
    }
    tx.prepare_cached(
        "UPDATE orders SET state = ?2, completed_at = NULL, closed_at = NULL, signed_by = NULL, csat = NULL,
            last_outcome = NULL, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![db::id(order_id), next.as_str(), db::ts(c.at)])?;
    tx.emit(c.at, OrderReopened { order_id, reason: c.reason.clone() })?;
    load_order(tx, order_id)
}
