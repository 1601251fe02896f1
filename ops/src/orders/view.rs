//! The stored order: [`OrderView`] with its pauses, and how an order row is
//! read back from the database.

use chrono::{DateTime, Utc};
use fieldhouse_domain::event::{Channel, Entitlement, OrderType, PauseReason, Priority, VisitOutcome};
use fieldhouse_domain::sla::Pause;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::OrderState;
use crate::db::{self, RowExt};
use crate::{Error, Result};

/// One pause of the SLA clock; `end` is `None` while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseInterval {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub reason: PauseReason,
}

/// A service order as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderView {
    pub order_id: Uuid,
    pub order_type: OrderType,
    pub channel: Channel,
    pub customer_id: Uuid,
    pub site_id: Uuid,
    pub equipment_id: Uuid,
    pub product_id: Uuid,
    pub priority: Priority,
    pub fault_code: String,
    pub reported_fault: String,
    pub entitlement: Entitlement,
    pub contract_id: Option<Uuid>,
    pub calendar_id: Uuid,
    pub opened_at: DateTime<Utc>,
    pub response_target_minutes: i64,
    pub resolution_target_minutes: i64,
    pub response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub state: OrderState,
    pub paused_from: Option<OrderState>,
    pub pause_reason: Option<PauseReason>,
    pub technician_id: Option<Uuid>,
    pub agent_id: Option<Uuid>,
    /// The current (or last) visit.
    pub visit_id: Option<Uuid>,
    pub last_outcome: Option<VisitOutcome>,
    pub first_arrival_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub signed_by: Option<String>,
    pub csat: Option<i32>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub plan_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    pub pauses: Vec<PauseInterval>,
}

impl OrderView {
    /// Closed pauses, with an open one ending at `now`.
    pub fn sla_pauses(&self, now: DateTime<Utc>) -> Vec<Pause> {
        self.pauses.iter().map(|p| Pause { start: p.start, end: p.end.unwrap_or(now) }).collect()
    }
}

/// An order row (`SELECT *`), its columns read in table order.
pub(super) fn map_order(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrderView> {
    let mut r = db::Columns::new(r);
    Ok(OrderView {
        order_id: r.uuid("id")?,
        order_type: r.parsed("order_type")?,
        channel: r.parsed("channel")?,
        customer_id: r.uuid("customer_id")?,
        site_id: r.uuid("site_id")?,
        equipment_id: r.uuid("equipment_id")?,
        product_id: r.uuid("product_id")?,
        priority: r.parsed("priority")?,
        fault_code: r.get("fault_code")?,
        reported_fault: r.get("reported_fault")?,
        entitlement: r.parsed("entitlement")?,
        contract_id: r.opt_uuid("contract_id")?,
        calendar_id: r.uuid("calendar_id")?,
        opened_at: r.instant("opened_at")?,
        response_target_minutes: r.get("response_target_minutes")?,
        resolution_target_minutes: r.get("resolution_target_minutes")?,
        response_due_at: r.opt_instant("response_due_at")?,
        resolution_due_at: r.opt_instant("resolution_due_at")?,
        state: r.parsed("state")?,
        paused_from: r.opt_parsed("paused_from")?,
        pause_reason: r.opt_parsed("pause_reason")?,
        technician_id: r.opt_uuid("technician_id")?,
        agent_id: r.opt_uuid("agent_id")?,
        visit_id: r.opt_uuid("visit_id")?,
        last_outcome: r.opt_parsed("last_outcome")?,
        first_arrival_at: r.opt_instant("first_arrival_at")?,
        completed_at: r.opt_instant("completed_at")?,
        closed_at: r.opt_instant("closed_at")?,
        signed_by: r.get("signed_by")?,
        csat: r.get("csat")?,
        cancelled_at: r.opt_instant("cancelled_at")?,
        plan_id: r.opt_uuid("plan_id")?,
        updated_at: r.instant("updated_at")?,
        pauses: Vec::new(),
    })
}

pub(super) fn load_pauses(conn: &Connection, order_id: Uuid) -> Result<Vec<PauseInterval>> {
    let mut stmt =
        conn.prepare_cached("SELECT start_at, end_at, reason FROM order_pauses WHERE order_id = ?1 ORDER BY rowid")?;
    let rows = stmt.query_map([db::id(order_id)], |r| {
        Ok(PauseInterval { start: r.instant("start_at")?, end: r.opt_instant("end_at")?, reason: r.parsed("reason")? })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn load_order(conn: &Connection, order_id: Uuid) -> Result<OrderView> {
    let o = conn
        .prepare_cached("SELECT * FROM orders WHERE id = ?1")?
        .query_row([db::id(order_id)], map_order)
        .optional()?;
    let mut o = o.ok_or_else(|| Error::not_found("order", order_id))?;
    o.pauses = load_pauses(conn, order_id)?;
    Ok(o)
}
