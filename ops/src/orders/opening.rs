//! Opening an order: entitlement on the opening day (contract, warranty or
//! time and material), the SLA deadlines stamped, `order_opened` and
//! `entitlement_checked` emitted.

use chrono::NaiveDate;
use chrono_tz::Tz;
use fieldhouse_domain::event::{
    ContractSigned, Entitlement, EntitlementChecked, EquipmentInstalled, OrderOpened, SiteRegistered,
};
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use super::sla::{deadlines, default_calendar, targets};
use super::{OpenOrder, OrderView, load_order};
use crate::db;
use crate::master::{self, MasterKind};
use crate::service::Tx;
use crate::{Error, Result};

/// Entitlement of `equipment` on local day `day`: the contract (latest
/// `valid_from` first) or warranty or time-and-material, with the reason.
pub(crate) fn entitlement(
    conn: &Connection,
    equipment: &EquipmentInstalled,
    day: NaiveDate,
) -> Result<(Entitlement, Option<ContractSigned>, String)> {
    let d = db::day(day);
    let body: Option<String> = conn
        .prepare_cached(
            "SELECT c.body FROM contracts c JOIN contract_equipment ce ON ce.contract_id = c.id
             WHERE ce.equipment_id = ?1 AND c.valid_from <= ?2 AND c.valid_to >= ?2
               AND (c.terminated_on IS NULL OR c.terminated_on > ?2)
             ORDER BY c.valid_from DESC, c.id LIMIT 1",
        )?
        .query_row(params![db::id(equipment.equipment_id), d], |r| r.get(0))
        .optional()?;
    if let Some(b) = body {
        let c: ContractSigned = serde_json::from_str(&b)?;
        let reason = format!("contract {} ({}..={}) covers the equipment on {d}", c.tier, c.valid_from, c.valid_to);
        return Ok((Entitlement::Contract, Some(c), reason));
    }
    if equipment.warranty_end >= day {
        return Ok((Entitlement::Warranty, None, format!("warranty until {} covers {d}", equipment.warranty_end)));
    }
    Ok((
        Entitlement::TimeAndMaterial,
        None,
        format!("no contract in force on {d} and warranty ended {}", equipment.warranty_end),
    ))
}

pub(crate) fn open_order_tx(tx: &mut Tx<'_>, c: &OpenOrder, plan_id: Option<Uuid>) -> Result<OrderView> {
    if c.fault_code.trim().is_empty() {
        return Err(Error::invalid("fault_code", "must not be empty"));
    }
    let eq: EquipmentInstalled = master::body(tx, MasterKind::Equipment, c.equipment_id)?;
    if let Some(cust) = c.customer_id
        && cust != eq.customer_id
    {
        return Err(Error::invalid(
            "customer_id",
            format!("equipment {} belongs to another customer", eq.equipment_id),
        ));
    }
    let decommissioned: Option<String> = tx
        .prepare_cached("SELECT decommissioned_on FROM equipment WHERE id = ?1")?
        .query_row([db::id(eq.equipment_id)], |r| r.get(0))?;
    if decommissioned.is_some() {
        return Err(Error::invalid("equipment_id", "the equipment is decommissioned"));
    }
    let site: SiteRegistered = master::body(tx, MasterKind::Site, eq.site_id)?;
    let tz: Tz = site.time_zone.parse().map_err(|_| Error::corrupt(format!("site time zone {}", site.time_zone)))?;
    let day = c.at.with_timezone(&tz).date_naive();
    let (entitlement, contract, reason) = entitlement(tx, &eq, day)?;
    let term = contract.as_ref().and_then(|k| k.sla.iter().find(|t| t.priority == c.priority));
    let (calendar_id, cal) = match (&contract, term) {
        (Some(k), Some(_)) => (k.calendar_id, master::calendar(tx, k.calendar_id)?),
        _ => default_calendar(tx, tz, c.at)?,
    };
    let (response, resolution) = targets(contract.as_ref().filter(|_| term.is_some()), c.priority);
    let at = fieldhouse_domain::event::truncate_micros(c.at);
    let (response_due_at, resolution_due_at) = deadlines(&cal, at, response, resolution, &[])?;
    let order_id = tx.new_id(at);
    tx.prepare_cached(
        "INSERT INTO orders (id, order_type, channel, customer_id, site_id, equipment_id, product_id, priority,
            fault_code, reported_fault, entitlement, contract_id, calendar_id, opened_at, response_target_minutes,
            resolution_target_minutes, response_due_at, resolution_due_at, state, plan_id, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, 'open', ?19, ?14)",
    )?
    .execute(params![
        db::id(order_id),
        c.order_type.as_str(),
        c.channel.as_str(),
        db::id(eq.customer_id),
        db::id(eq.site_id),
        db::id(eq.equipment_id),
        db::id(eq.product_id),
        c.priority.as_str(),
        c.fault_code,
        c.reported_fault,
        entitlement.as_str(),
        contract.as_ref().map(|k| db::id(k.contract_id)),
        db::id(calendar_id),
        db::ts(at),
        response,
        resolution,
        db::ts(response_due_at),
        db::ts(resolution_due_at),
        plan_id.map(db::id),
    ])?;
    tx.emit(
        at,
        OrderOpened {
            order_id,
            order_type: c.order_type,
            channel: c.channel,
            customer_id: eq.customer_id,
            site_id: eq.site_id,
            equipment_id: eq.equipment_id,
            product_id: eq.product_id,
            priority: c.priority,
            fault_code: c.fault_code.clone(),
            reported_fault: c.reported_fault.clone(),
            calendar_id,
            response_due_at,
            resolution_due_at,
            response_target_minutes: response,
            resolution_target_minutes: resolution,
        },
    )?;
    tx.emit(at, EntitlementChecked { order_id, entitlement, contract_id: contract.map(|k| k.contract_id), reason })?;
    load_order(tx, order_id)
}
