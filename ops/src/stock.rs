//! Stock: quantities per part and location, receipts, transfers, counts and
//! reorder points.
//!
//! On-hand never goes below zero: every decrement runs in the single writer
//! after a check, and the `stock.on_hand >= 0` CHECK constraint backs it up.
//! When on-hand falls to or below the reorder point of a part at a location,
//! one `reorder_placed` is emitted and the line is marked pending until the
//! next receipt (so each consumption below the point does not reorder again).
//! Setting a reorder point is configuration and emits no event.

use chrono::{DateTime, Utc};
use fieldhouse_domain::event::{PartDefined, ReorderPlaced, StockCounted, StockReceived, StockTransferred};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::{self, RowExt};
use crate::master::{self, MasterKind};
use crate::service::{Ops, SOURCE_OPS, Tx};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiveStock {
    pub location_id: Uuid,
    pub part_id: Uuid,
    pub quantity: i64,
    /// Defaults to the part's cost.
    #[serde(default)]
    pub unit_cost_cents: Option<i64>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransferStock {
    pub from_location_id: Uuid,
    pub to_location_id: Uuid,
    pub part_id: Uuid,
    pub quantity: i64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountStock {
    pub location_id: Uuid,
    pub part_id: Uuid,
    pub counted: i64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetReorderPoint {
    pub location_id: Uuid,
    pub part_id: Uuid,
    /// Reorder when on-hand falls to or below this.
    pub reorder_point: i64,
    /// How many to reorder.
    pub reorder_quantity: i64,
}

/// On-hand of one part at one location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub location_id: Uuid,
    pub part_id: Uuid,
    pub on_hand: i64,
    pub reorder_point: Option<i64>,
    pub reorder_quantity: Option<i64>,
    pub reorder_pending: bool,
}

fn on_hand(conn: &rusqlite::Connection, location_id: Uuid, part_id: Uuid) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT on_hand FROM stock WHERE location_id = ?1 AND part_id = ?2")?
        .query_row(params![db::id(location_id), db::id(part_id)], |r| r.get(0))
        .optional()?
        .unwrap_or(0))
}

fn add(tx: &Tx<'_>, location_id: Uuid, part_id: Uuid, quantity: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO stock (location_id, part_id, on_hand) VALUES (?1, ?2, ?3)
         ON CONFLICT (location_id, part_id) DO UPDATE SET on_hand = on_hand + excluded.on_hand",
    )?
    .execute(params![db::id(location_id), db::id(part_id), quantity])?;
    Ok(())
}

/// Take `quantity` of a part from a location, or fail with `OutOfStock`.
pub(crate) fn take(tx: &Tx<'_>, location_id: Uuid, part_id: Uuid, quantity: i64) -> Result<()> {
    let have = on_hand(tx, location_id, part_id)?;
    if have < quantity {
        return Err(Error::OutOfStock { part_id, location_id, on_hand: have, requested: quantity });
    }
    tx.prepare_cached("UPDATE stock SET on_hand = on_hand - ?3 WHERE location_id = ?1 AND part_id = ?2")?
        .execute(params![db::id(location_id), db::id(part_id), quantity])?;
    Ok(())
}

/// Emit `reorder_placed` if on-hand fell to or below the reorder point and no reorder is pending.
pub(crate) fn check_reorder(tx: &mut Tx<'_>, location_id: Uuid, part_id: Uuid, at: DateTime<Utc>) -> Result<()> {
    let row: Option<(i64, Option<i64>, Option<i64>, bool)> = tx
        .prepare_cached(
            "SELECT on_hand, reorder_point, reorder_quantity, reorder_pending FROM stock
             WHERE location_id = ?1 AND part_id = ?2",
        )?
        .query_row(params![db::id(location_id), db::id(part_id)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    if let Some((on_hand, Some(point), qty, false)) = row
        && on_hand <= point
    {
        let quantity = qty.unwrap_or(1).max(1);
        tx.prepare_cached("UPDATE stock SET reorder_pending = 1 WHERE location_id = ?1 AND part_id = ?2")?
            .execute(params![db::id(location_id), db::id(part_id)])?;
        tx.emit(at, ReorderPlaced { location_id, part_id, quantity, reorder_point: point, on_hand })?;
    }
    Ok(())
}

fn positive(field: &'static str, v: i64) -> Result<()> {
    if v <= 0 { Err(Error::invalid(field, format!("must be positive, got {v}"))) } else { Ok(()) }
}

impl Ops {
    pub fn receive_stock(&self, c: ReceiveStock) -> Result<StockLevel> {
        positive("quantity", c.quantity)?;
        self.write(SOURCE_OPS, |tx| {
            master::require(tx, MasterKind::StockLocation, c.location_id)?;
            let part: PartDefined = master::body(tx, MasterKind::Part, c.part_id)?;
            let unit_cost_cents = c.unit_cost_cents.unwrap_or(part.cost_cents);
            if unit_cost_cents < 0 {
                return Err(Error::invalid("unit_cost_cents", "must be >= 0"));
            }
            add(tx, c.location_id, c.part_id, c.quantity)?;
            tx.prepare_cached("UPDATE stock SET reorder_pending = 0 WHERE location_id = ?1 AND part_id = ?2")?
                .execute(params![db::id(c.location_id), db::id(c.part_id)])?;
            tx.emit(
                c.at,
                StockReceived { location_id: c.location_id, part_id: c.part_id, quantity: c.quantity, unit_cost_cents },
            )?;
            level(tx, c.location_id, c.part_id)
        })
    }

    pub fn transfer_stock(&self, c: TransferStock) -> Result<StockLevel> {
        positive("quantity", c.quantity)?;
        if c.from_location_id == c.to_location_id {
            return Err(Error::invalid("to_location_id", "same as from_location_id"));
        }
        self.write(SOURCE_OPS, |tx| {
            master::require(tx, MasterKind::StockLocation, c.from_location_id)?;
            master::require(tx, MasterKind::StockLocation, c.to_location_id)?;
            master::require(tx, MasterKind::Part, c.part_id)?;
            take(tx, c.from_location_id, c.part_id, c.quantity)?;
            add(tx, c.to_location_id, c.part_id, c.quantity)?;
            tx.emit(
                c.at,
                StockTransferred {
                    from_location_id: c.from_location_id,
                    location_id: c.to_location_id,
                    part_id: c.part_id,
                    quantity: c.quantity,
                },
            )?;
            check_reorder(tx, c.from_location_id, c.part_id, c.at)?;
            level(tx, c.to_location_id, c.part_id)
        })
    }

    pub fn count_stock(&self, c: CountStock) -> Result<StockLevel> {
        if c.counted < 0 {
            return Err(Error::invalid("counted", "must be >= 0"));
        }
        self.write(SOURCE_OPS, |tx| {
            master::require(tx, MasterKind::StockLocation, c.location_id)?;
            master::require(tx, MasterKind::Part, c.part_id)?;
            let previous = on_hand(tx, c.location_id, c.part_id)?;
            add(tx, c.location_id, c.part_id, 0)?;
            tx.prepare_cached("UPDATE stock SET on_hand = ?3 WHERE location_id = ?1 AND part_id = ?2")?
                .execute(params![db::id(c.location_id), db::id(c.part_id), c.counted])?;
            tx.emit(
                c.at,
                StockCounted { location_id: c.location_id, part_id: c.part_id, counted: c.counted, previous },
            )?;
            check_reorder(tx, c.location_id, c.part_id, c.at)?;
            level(tx, c.location_id, c.part_id)
        })
    }

    pub fn set_reorder_point(&self, c: SetReorderPoint) -> Result<StockLevel> {
        if c.reorder_point < 0 {
            return Err(Error::invalid("reorder_point", "must be >= 0"));
        }
        positive("reorder_quantity", c.reorder_quantity)?;
        self.write(SOURCE_OPS, |tx| {
            master::require(tx, MasterKind::StockLocation, c.location_id)?;
            master::require(tx, MasterKind::Part, c.part_id)?;
            add(tx, c.location_id, c.part_id, 0)?;
            tx.prepare_cached(
                "UPDATE stock SET reorder_point = ?3, reorder_quantity = ?4 WHERE location_id = ?1 AND part_id = ?2",
            )?
            .execute(params![
                db::id(c.location_id),
                db::id(c.part_id),
                c.reorder_point,
                c.reorder_quantity
            ])?;
            level(tx, c.location_id, c.part_id)
        })
    }

    /// Stock levels, optionally for one location and/or one part.
    pub fn stock_levels(&self, location_id: Option<Uuid>, part_id: Option<Uuid>) -> Result<Vec<StockLevel>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT * FROM stock WHERE (?1 IS NULL OR location_id = ?1) AND (?2 IS NULL OR part_id = ?2)
                 ORDER BY location_id, part_id",
            )?;
            let rows = stmt.query_map(params![location_id.map(db::id), part_id.map(db::id)], map_level)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }
}

fn map_level(r: &rusqlite::Row<'_>) -> rusqlite::Result<StockLevel> {
    Ok(StockLevel {
        location_id: r.uuid("location_id")?,
        part_id: r.uuid("part_id")?,
        on_hand: r.get("on_hand")?,
        reorder_point: r.get("reorder_point")?,
        reorder_quantity: r.get("reorder_quantity")?,
        reorder_pending: r.get("reorder_pending")?,
    })
}

fn level(conn: &rusqlite::Connection, location_id: Uuid, part_id: Uuid) -> Result<StockLevel> {
    let l = conn
        .prepare_cached("SELECT * FROM stock WHERE location_id = ?1 AND part_id = ?2")?
        .query_row(params![db::id(location_id), db::id(part_id)], map_level)
        .optional()?;
    Ok(l.unwrap_or(StockLevel {
        location_id,
        part_id,
        on_hand: 0,
        reorder_point: None,
        reorder_quantity: None,
        reorder_pending: false,
    }))
}
