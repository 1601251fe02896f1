//! Assignment and visits: assigning and reassigning a technician, travel,
//! arrival on site, work logged, parts consumed and the end of a visit.

use chrono::{DateTime, Utc};
use fieldhouse_domain::event::{
    Arrived, OrderAssigned, OrderReassigned, PartConsumed, PartDefined, TravelStarted, VisitEnded, WorkLogged,
};
use rusqlite::{Connection, params};
use uuid::Uuid;

use super::{
    Arrive, AssignOrder, ConsumePart, EndVisit, LogWork, OrderAction, OrderState, OrderView, ReassignOrder,
    StartTravel, load_order, not_before, set_state, step,
};
use crate::db::{self, RowExt};
use crate::master::{self, MasterKind};
use crate::service::Tx;
use crate::{Error, Result, stock};

fn active_technician(conn: &Connection, id: Uuid) -> Result<master::TechRow> {
    let t = master::technician(conn, id)?;
    if t.left {
        return Err(Error::invalid("technician_id", format!("technician {id} has left")));
    }
    Ok(t)
}

/// Move an order to state `next` with `technician_id` (of `agent_id`) as its technician.
fn set_technician(
    tx: &Tx<'_>,
    order_id: Uuid,
    next: &str,
    technician_id: Uuid,
    agent_id: Option<Uuid>,
    at: DateTime<Utc>,
) -> Result<()> {
    tx.prepare_cached(
        "UPDATE orders SET state = ?2, technician_id = ?3, agent_id = ?4, updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![db::id(order_id), next, db::id(technician_id), agent_id.map(db::id), db::ts(at)])?;
    Ok(())
}

pub(super) fn assign_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &AssignOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Assign)?;
    not_before("at", c.at, o.opened_at, "the opening")?;
    let t = active_technician(tx, c.technician_id)?;
    set_technician(tx, order_id, next.as_str(), c.technician_id, t.hired.agent_id, c.at)?;
    tx.emit(c.at, OrderAssigned { order_id, technician_id: c.technician_id, agent_id: t.hired.agent_id })?;
    load_order(tx, order_id)
}

pub(super) fn reassign_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &ReassignOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Reassign)?;
    not_before("at", c.at, o.opened_at, "the opening")?;
    let from = o.technician_id.ok_or_else(|| Error::corrupt("assigned order without technician"))?;
    if from == c.technician_id {
        return Err(Error::invalid("technician_id", "the order is already assigned to this technician"));
    }
    let t = active_technician(tx, c.technician_id)?;
    set_technician(tx, order_id, next.as_str(), c.technician_id, t.hired.agent_id, c.at)?;
    tx.emit(
        c.at,
        OrderReassigned {
            order_id,
            from_technician_id: from,
            technician_id: c.technician_id,
            agent_id: t.hired.agent_id,
            reason: c.reason.clone(),
        },
    )?;
    load_order(tx, order_id)
}

fn assigned_technician(o: &OrderView) -> Result<Uuid> {
    o.technician_id
        .ok_or_else(|| Error::corrupt(format!("order {} has no technician in state {}", o.order_id, o.state)))
}

fn current_visit(o: &OrderView) -> Result<Uuid> {
    o.visit_id.ok_or_else(|| Error::corrupt(format!("order {} has no visit in state {}", o.order_id, o.state)))
}

pub(crate) fn start_travel_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &StartTravel) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::StartTravel)?;
    not_before("at", c.at, o.opened_at, "the opening")?;
    let tech = assigned_technician(&o)?;
    let visit_id = tx.new_id(c.at);
    tx.prepare_cached(
        "INSERT INTO visits (id, order_id, technician_id, agent_id, travel_started_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![db::id(visit_id), db::id(order_id), db::id(tech), o.agent_id.map(db::id), db::ts(c.at)])?;
    tx.prepare_cached("UPDATE orders SET state = ?2, visit_id = ?3, updated_at = ?4 WHERE id = ?1")?
        .execute(params![db::id(order_id), next.as_str(), db::id(visit_id), db::ts(c.at)])?;
    tx.emit(c.at, TravelStarted { order_id, visit_id, technician_id: tech, agent_id: o.agent_id })?;
    load_order(tx, order_id)
}

pub(crate) fn arrive_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &Arrive) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Arrive)?;
    if !(-90.0..=90.0).contains(&c.lat) || !(-180.0..=180.0).contains(&c.lon) {
        return Err(Error::invalid("lat", format!("({}, {}) is not a position", c.lat, c.lon)));
    }
    let visit_id = current_visit(&o)?;
    let started: DateTime<Utc> = tx
        .prepare_cached("SELECT travel_started_at FROM visits WHERE id = ?1")?
        .query_row([db::id(visit_id)], |r| r.instant("travel_started_at"))?;
    not_before("at", c.at, started, "the start of travel")?;
    let tech = assigned_technician(&o)?;
    let event_id = tx.emit(
        c.at,
        Arrived { order_id, visit_id, technician_id: tech, agent_id: o.agent_id, lat: c.lat, lon: c.lon },
    )?;
    tx.prepare_cached("UPDATE visits SET arrived_at = ?2, lat = ?3, lon = ?4, arrival_event_id = ?5 WHERE id = ?1")?
        .execute(params![db::id(visit_id), db::ts(c.at), c.lat, c.lon, db::id(event_id)])?;
    // The technician's last arrival (where suggestions measure from): this
    // one, unless one at a later instant (or a later visit at the same
    // instant) is recorded already, e.g. before an offline batch arrives.
    tx.prepare_cached(
        "UPDATE technicians
         SET last_arrived_at = v.arrived_at, last_arrival_visit = v.rowid, last_lat = v.lat, last_lon = v.lon
         FROM visits v WHERE v.id = ?1 AND technicians.id = v.technician_id
           AND (technicians.last_arrived_at IS NULL
                OR (technicians.last_arrived_at, technicians.last_arrival_visit) < (v.arrived_at, v.rowid))",
    )?
    .execute([db::id(visit_id)])?;
    tx.prepare_cached(
        "UPDATE orders SET state = ?2, first_arrival_at = COALESCE(first_arrival_at, ?3), updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![db::id(order_id), next.as_str(), db::ts(c.at)])?;
    load_order(tx, order_id)
}

pub(crate) fn log_work_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &LogWork) -> Result<OrderView> {
    let (o, _) = step(tx, order_id, OrderAction::LogWork)?;
    if !(1..=24 * 60).contains(&c.minutes) {
        return Err(Error::invalid("minutes", format!("must be 1..=1440, got {}", c.minutes)));
    }
    not_before("at", c.at, o.opened_at, "the opening")?;
    let visit_id = current_visit(&o)?;
    let tech = assigned_technician(&o)?;
    tx.prepare_cached(
        "INSERT INTO work_logs (order_id, visit_id, technician_id, minutes, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![db::id(order_id), db::id(visit_id), db::id(tech), c.minutes, db::ts(c.at)])?;
    set_state(tx, order_id, OrderState::OnSite, c.at)?;
    tx.emit(c.at, WorkLogged { order_id, visit_id, technician_id: tech, agent_id: o.agent_id, minutes: c.minutes })?;
    load_order(tx, order_id)
}

pub(crate) fn consume_part_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &ConsumePart) -> Result<OrderView> {
    let (o, _) = step(tx, order_id, OrderAction::ConsumePart)?;
    if c.quantity <= 0 {
        return Err(Error::invalid("quantity", format!("must be positive, got {}", c.quantity)));
    }
    let part: PartDefined = master::body(tx, MasterKind::Part, c.part_id)?;
    master::require(tx, MasterKind::StockLocation, c.location_id)?;
    let visit_id = current_visit(&o)?;
    let tech = assigned_technician(&o)?;
    stock::take(tx, c.location_id, c.part_id, c.quantity)?;
    tx.prepare_cached(
        "INSERT INTO consumptions (order_id, visit_id, part_id, location_id, quantity, unit_cost_cents, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        db::id(order_id),
        db::id(visit_id),
        db::id(c.part_id),
        db::id(c.location_id),
        c.quantity,
        part.cost_cents,
        db::ts(c.at)
    ])?;
    set_state(tx, order_id, OrderState::OnSite, c.at)?;
    tx.emit(
        c.at,
        PartConsumed {
            order_id,
            visit_id,
            technician_id: tech,
            agent_id: o.agent_id,
            part_id: c.part_id,
            location_id: c.location_id,
            quantity: c.quantity,
            unit_cost_cents: part.cost_cents,
        },
    )?;
    stock::check_reorder(tx, c.location_id, c.part_id, c.at)?;
    load_order(tx, order_id)
}

pub(crate) fn end_visit_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &EndVisit) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::EndVisit)?;
    let visit_id = current_visit(&o)?;
    let tech = assigned_technician(&o)?;
    if let Some(arrived) = o.first_arrival_at {
        // Only the current visit's arrival matters, but the first is a cheap lower bound.
        not_before("at", c.at, arrived, "the arrival")?;
    }
    tx.prepare_cached("UPDATE visits SET ended_at = ?2, outcome = ?3 WHERE id = ?1")?.execute(params![
        db::id(visit_id),
        db::ts(c.at),
        c.outcome.as_str()
    ])?;
    tx.prepare_cached("UPDATE orders SET state = ?2, last_outcome = ?3, updated_at = ?4 WHERE id = ?1")?
        .execute(params![db::id(order_id), next.as_str(), c.outcome.as_str(), db::ts(c.at)])?;
    tx.emit(c.at, VisitEnded { order_id, visit_id, technician_id: tech, agent_id: o.agent_id, outcome: c.outcome })?;
    load_order(tx, order_id)
}
