//! Service orders: the state machine, entitlement at opening, SLA deadlines,
//! pauses, visits, work and parts.
//!
//! States and the allowed transitions are in [`transition`], the one place
//! that decides. Pausing is a state of its own (`paused`) that remembers the
//! state it came from and returns there on resume.
//!
//! Entitlement at opening, on the opening day in the site's time zone: a
//! contract covering the equipment with `valid_from <= day <= valid_to` (and
//! not terminated on or before that day) → `contract`; else `warranty_end >=
//! day` → `warranty`; else `time_and_material`.
//!
//! SLA deadlines are stamped with
//! [`Calendar::deadline`](fieldhouse_domain::calendar::Calendar::deadline) from the opening
//! instant, using the contract's calendar and its term for the priority.
//! Without a contract (or without a term for the priority) the order uses
//! the default business-hours calendar of the site's time zone (Mon–Fri
//! 08:00–17:00, created on first use and emitted as `calendar_defined`) and
//! [`DEFAULT_TARGETS`]. A priority change recomputes both deadlines from the
//! opening with the pauses so far; a resume recomputes the stored deadlines
//! (the events carry the pauses, so the warehouse replays them).
//!
//! The module is split by concept: the state machine (`state`), the command
//! bodies (`commands`), the stored order and how it is read (`view`),
//! opening with entitlement (`opening`), SLA targets, deadlines and the
//! clock (`sla`), assignment and visits (`visits`) and the end of an order
//! (`closing`). Everything public is re-exported here.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use uuid::Uuid;

use crate::db;
use crate::service::{Ops, Page, SOURCE_OPS, Tx};
use crate::{Error, Result};

mod closing;
mod commands;
mod opening;
mod sla;
mod state;
mod view;
mod visits;

pub use commands::{
    Arrive, AssignOrder, CancelOrder, ChangePriority, CloseOrder, CompleteOrder, ConsumePart, EndVisit, LogWork,
    OpenOrder, OrderFilter, PauseOrder, ReassignOrder, ReopenOrder, ResumeOrder, StartTravel,
};
pub use sla::DEFAULT_TARGETS;
pub use state::{OrderAction, OrderState, transition};
pub use view::{OrderView, PauseInterval};

pub(crate) use closing::close_tx;
pub(crate) use opening::open_order_tx;
pub(crate) use view::load_order;
pub(crate) use visits::{arrive_tx, consume_part_tx, end_visit_tx, log_work_tx, start_travel_tx};

use closing::{cancel_tx, complete_tx, reopen_tx};
use sla::{change_priority_tx, pause_tx, resume_tx};
use view::{load_pauses, map_order};
use visits::{assign_tx, reassign_tx};

impl Ops {
    /// One order.
    pub fn order(&self, order_id: Uuid) -> Result<OrderView> {
        self.read(|c| load_order(c, order_id))
    }

    /// A page of orders by id, optionally filtered.
    pub fn list_orders(&self, filter: &OrderFilter, page: &Page) -> Result<Vec<OrderView>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT * FROM orders WHERE id > ?1 AND (?2 IS NULL OR state = ?2)
                 AND (?3 IS NULL OR technician_id = ?3) AND (?4 IS NULL OR equipment_id = ?4) ORDER BY id LIMIT ?5",
            )?;
            let rows = stmt.query_map(
                params![
                    page.after_str(),
                    filter.state.map(|s| s.as_str()),
                    filter.technician_id.map(db::id),
                    filter.equipment_id.map(db::id),
                    page.limit_i64()
                ],
                map_order,
            )?;
            let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            for o in &mut out {
                o.pauses = load_pauses(c, o.order_id)?;
            }
            Ok(out)
        })
    }

    pub fn open_order(&self, c: OpenOrder) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| open_order_tx(tx, &c, None))
    }

    pub fn change_priority(&self, order_id: Uuid, c: ChangePriority) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| change_priority_tx(tx, order_id, &c))
    }

    pub fn assign(&self, order_id: Uuid, c: AssignOrder) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| assign_tx(tx, order_id, &c))
    }

    pub fn reassign(&self, order_id: Uuid, c: ReassignOrder) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| reassign_tx(tx, order_id, &c))
    }

    pub fn start_travel(&self, order_id: Uuid, c: StartTravel) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| start_travel_tx(tx, order_id, &c))
    }

    pub fn arrive(&self, order_id: Uuid, c: Arrive) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| arrive_tx(tx, order_id, &c))
    }

    pub fn pause(&self, order_id: Uuid, c: PauseOrder) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| pause_tx(tx, order_id, &c))
    }

    pub fn resume(&self, order_id: Uuid, c: ResumeOrder) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| resume_tx(tx, order_id, &c))
    }

    pub fn log_work(&self, order_id: Uuid, c: LogWork) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| log_work_tx(tx, order_id, &c))
    }

    pub fn consume_part(&self, order_id: Uuid, c: ConsumePart) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| consume_part_tx(tx, order_id, &c))
    }

    pub fn end_visit(&self, order_id: Uuid, c: EndVisit) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| end_visit_tx(tx, order_id, &c))
    }

    pub fn complete(&self, order_id: Uuid, c: CompleteOrder) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| complete_tx(tx, order_id, &c))
    }

    pub fn close(&self, order_id: Uuid, c: CloseOrder) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| close_tx(tx, order_id, &c))
    }

    pub fn cancel(&self, order_id: Uuid, c: CancelOrder) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| cancel_tx(tx, order_id, &c))
    }

    pub fn reopen(&self, order_id: Uuid, c: ReopenOrder) -> Result<OrderView> {
        self.write(SOURCE_OPS, |tx| reopen_tx(tx, order_id, &c))
    }
}

// --- the operations, inside a transaction -----------------------------------

/// Load the order and check `action` is allowed; returns the order and the next state.
pub(crate) fn step(conn: &Connection, order_id: Uuid, action: OrderAction) -> Result<(OrderView, OrderState)> {
    let o = load_order(conn, order_id)?;
    let next = transition(o.state, action, o.paused_from).ok_or_else(|| Error::Transition {
        entity: "order",
        action: action.as_str(),
        state: o.state.as_str().to_string(),
    })?;
    Ok((o, next))
}

fn not_before(field: &'static str, at: DateTime<Utc>, earlier: DateTime<Utc>, what: &str) -> Result<()> {
    if at < earlier {
        Err(Error::invalid(field, format!("{} is before {what} ({})", db::ts(at), db::ts(earlier))))
    } else {
        Ok(())
    }
}

fn set_state(tx: &Tx<'_>, order_id: Uuid, state: OrderState, at: DateTime<Utc>) -> Result<()> {
    tx.prepare_cached("UPDATE orders SET state = ?2, updated_at = ?3 WHERE id = ?1")?.execute(params![
        db::id(order_id),
        state.as_str(),
        db::ts(at)
    ])?;
    Ok(())
}
