//! Dispatch suggestions and preventive-maintenance runs.
//!
//! A suggestion ranks the active technicians for an order by a score:
//! `+100` if the product family is among their skills, `+10` in the site's
//! region, `-0.5` per km (haversine) from their last known position (last
//! arrival on site, else home), `-15` per open order they hold, and `-40`
//! when the estimated arrival (travel at [`TRAVEL_KMH`] after
//! [`MINUTES_PER_OPEN_ORDER`] per open order) falls after the order's
//! response deadline. Every component is given as a reason.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use fieldhouse_domain::event::{Channel, OrderType, Priority, ProductDefined, SiteRegistered, TechnicianHired};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::{self, RowExt};
use crate::master::{self, MasterKind};
use crate::orders::{self, OpenOrder, OrderState, OrderView, load_order};
use crate::service::{Ops, SOURCE_OPS};
use crate::{Error, Result};

/// Assumed travel speed for arrival estimates.
pub const TRAVEL_KMH: f64 = 50.0;
/// Assumed time each open order ahead of this one takes.
pub const MINUTES_PER_OPEN_ORDER: i64 = 90;

/// One ranked technician.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub technician_id: Uuid,
    pub name: String,
    pub agent_id: Option<Uuid>,
    pub score: f64,
    pub skill_match: bool,
    pub distance_km: f64,
    pub open_orders: i64,
    pub estimated_arrival_at: DateTime<Utc>,
    pub meets_response_deadline: bool,
    pub reasons: Vec<String>,
}

/// Great-circle distance in km.
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6371.0 * a.sqrt().asin()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunMaintenance {
    pub at: DateTime<Utc>,
}

impl Ops {
    /// Technicians ranked for an order, best first (at most `limit`).
    pub fn suggest_technicians(&self, order_id: Uuid, at: DateTime<Utc>, limit: usize) -> Result<Vec<Suggestion>> {
        self.read(|c| {
            let o = load_order(c, order_id)?;
            if matches!(o.state, OrderState::Completed | OrderState::Closed | OrderState::Cancelled) {
                return Err(Error::Transition {
                    entity: "order",
                    action: "suggest technicians for",
                    state: o.state.as_str().to_string(),
                });
            }
            let site: SiteRegistered = master::body(c, MasterKind::Site, o.site_id)?;
            let product: ProductDefined = master::body(c, MasterKind::Product, o.product_id)?;
            let techs: Vec<String> = {
                let mut stmt = c.prepare_cached("SELECT body FROM technicians WHERE left_at IS NULL ORDER BY id")?;
                stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut out = Vec::new();
            for body in techs {
                let t: TechnicianHired = serde_json::from_str(&body)?;
                let tid = db::id(t.technician_id);
                let last: Option<(f64, f64)> = c
                    .prepare_cached(
                        "SELECT lat, lon FROM visits WHERE technician_id = ?1 AND arrived_at IS NOT NULL
                         ORDER BY arrived_at DESC LIMIT 1",
                    )?
                    .query_row([&tid], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let (from, (lat, lon)) = match last {
                    Some(p) => ("last arrival", p),
                    None => ("home", (t.home_lat, t.home_lon)),
                };
                let open_orders: i64 = c
                    .prepare_cached(
                        "SELECT COUNT(*) FROM orders WHERE technician_id = ?1 AND id != ?2
                         AND state NOT IN ('completed', 'closed', 'cancelled')",
                    )?
                    .query_row(params![tid, db::id(order_id)], |r| r.get(0))?;
                let distance_km = haversine_km(lat, lon, site.lat, site.lon);
                let skill_match = t.skills.iter().any(|s| s.eq_ignore_ascii_case(&product.family));
                let travel_min = (distance_km / TRAVEL_KMH * 60.0).ceil() as i64;
                let eta = at + TimeDelta::minutes(travel_min + open_orders * MINUTES_PER_OPEN_ORDER);
                let meets = o.first_arrival_at.is_some() || o.response_due_at.is_none_or(|d| eta <= d);
                let mut score = 0.0;
                let mut reasons = Vec::new();
                if skill_match {
                    score += 100.0;
                    reasons.push(format!("skilled in {} (+100)", product.family));
                } else {
                    reasons.push(format!("no {} skill", product.family));
                }
                if t.region == site.region {
                    score += 10.0;
                    reasons.push(format!("works in region {} (+10)", site.region));
                }
                score -= distance_km * 0.5;
                reasons.push(format!("{distance_km:.1} km from {from} (-{:.1})", distance_km * 0.5));
                score -= open_orders as f64 * 15.0;
                reasons.push(format!("{open_orders} open orders (-{})", open_orders * 15));
                if meets {
                    reasons.push(format!("can arrive by {} within the response deadline", db::ts(eta)));
                } else {
                    score -= 40.0;
                    reasons.push(format!("would arrive {} after the response deadline (-40)", db::ts(eta)));
                }
                out.push(Suggestion {
                    technician_id: t.technician_id,
                    name: t.name,
                    agent_id: t.agent_id,
                    score: (score * 10.0).round() / 10.0,
                    skill_match,
                    distance_km: (distance_km * 10.0).round() / 10.0,
                    open_orders,
                    estimated_arrival_at: eta,
                    meets_response_deadline: meets,
                    reasons,
                });
            }
            out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.technician_id.cmp(&b.technician_id)));
            out.truncate(limit.max(1));
            Ok(out)
        })
    }

    /// Open a preventive order (priority P4, channel `plan`, fault code `PM`)
    /// for every maintenance plan due on or before the UTC day of `at`, and
    /// move each plan's next due date forward by its interval past that day.
    /// Plans of decommissioned equipment are skipped.
    pub fn run_maintenance(&self, c: RunMaintenance) -> Result<Vec<OrderView>> {
        let today = c.at.date_naive();
        self.write(SOURCE_OPS, |tx| {
            let due: Vec<(String, String, i64, NaiveDate)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT p.id, p.equipment_id, p.interval_days, p.next_due_on FROM maintenance_plans p
                     JOIN equipment e ON e.id = p.equipment_id
                     WHERE p.next_due_on <= ?1 AND e.decommissioned_on IS NULL ORDER BY p.next_due_on, p.id",
                )?;
                stmt.query_map([db::day(today)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.date("next_due_on")?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut out = Vec::new();
            for (plan, equipment, interval, mut next) in due {
                let plan_id = Uuid::parse_str(&plan).map_err(|e| Error::corrupt(e.to_string()))?;
                let equipment_id = Uuid::parse_str(&equipment).map_err(|e| Error::corrupt(e.to_string()))?;
                let open = OpenOrder {
                    customer_id: None,
                    equipment_id,
                    order_type: OrderType::Preventive,
                    channel: Channel::Plan,
                    priority: Priority::P4,
                    fault_code: "PM".into(),
                    reported_fault: format!("preventive maintenance due {next}"),
                    at: c.at,
                };
                out.push(orders::open_order_tx(tx, &open, Some(plan_id))?);
                while next <= today {
                    next = next
                        .checked_add_signed(TimeDelta::days(interval))
                        .ok_or_else(|| Error::invalid("interval_days", "date out of range"))?;
                }
                tx.prepare_cached("UPDATE maintenance_plans SET next_due_on = ?2 WHERE id = ?1")?
                    .execute(params![plan, db::day(next)])?;
            }
            Ok(out)
        })
    }
}
