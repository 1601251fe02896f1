//! Dispatch suggestions and preventive-maintenance runs.
//!
//! A suggestion ranks the active technicians for an order by a score:
//! `+100` if the product family is among their skills, `+10` in the site's
//! region, `-0.5` per km (haversine) from their last known position (last
//! arrival on site, else home), `-15` per open order they hold, and `-40`
//! when the estimated arrival (travel at [`TRAVEL_KMH`] after
//! [`MINUTES_PER_OPEN_ORDER`] per open order) falls after the order's
//! response deadline. Every component is given as a reason.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use fieldhouse_domain::event::{Channel, OrderType, Priority, ProductDefined, SiteRegistered, TechnicianHired};
use rusqlite::params;
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

/// The active technicians, each with the position of their last arrival on
/// site (NULLs when they have none), which every arrival keeps on the
/// technician (see `arrive`). In table order: the ranking orders them (by
/// score, then id).
const ACTIVE_TECHNICIANS: &str = "SELECT id, body, last_lat, last_lon FROM technicians WHERE left_at IS NULL";

/// Open orders per technician: searched by the states an order is open in
/// (every [`OrderState`] but completed, closed and cancelled) in the
/// `(state, technician_id)` index, which answers it alone: only the open
/// orders are read, not every order a technician ever held, and no row of
/// `orders` itself.
const OPEN_ORDERS_BY_TECHNICIAN: &str = "SELECT technician_id, COUNT(*) FROM orders
     WHERE state IN ('open', 'assigned', 'travelling', 'on_site', 'paused', 'visit_ended')
       AND technician_id IS NOT NULL GROUP BY technician_id";

/// A text column, borrowed from the row.
fn text<'r>(r: &'r rusqlite::Row<'_>, i: usize) -> Result<&'r str> {
    r.get_ref(i)?.as_str().map_err(|e| Error::corrupt(format!("technicians column {i}: {e}")))
}

/// Decoded technicians by id, each with the stored body it was decoded
/// from. A suggestion reads every active technician, and decoding their
/// JSON every time was a good part of its cost. An entry is used only while
/// the stored body is byte for byte the one it came from, so it is never
/// stale, whichever connection or snapshot reads the table.
#[derive(Debug, Default)]
pub(crate) struct TechnicianCache {
    by_id: HashMap<String, (String, Arc<TechnicianHired>)>,
}

impl TechnicianCache {
    fn get(&mut self, id: &str, body: &str) -> Result<Arc<TechnicianHired>> {
        if let Some((cached, t)) = self.by_id.get(id)
            && cached == body
        {
            return Ok(Arc::clone(t));
        }
        let t: Arc<TechnicianHired> = Arc::new(serde_json::from_str(body)?);
        self.by_id.insert(id.to_owned(), (body.to_owned(), Arc::clone(&t)));
        Ok(t)
    }
}

/// A technician scored for an order, before the reasons are written.
struct Candidate {
    score: f64,
    t: Arc<TechnicianHired>,
    from: &'static str,
    distance_km: f64,
    skill_match: bool,
    open_orders: i64,
    eta: DateTime<Utc>,
    meets: bool,
}

impl Candidate {
    fn suggestion(self, family: &str, region: &str) -> Suggestion {
        let Candidate { score, t, from, distance_km, skill_match, open_orders, eta, meets } = self;
        let mut reasons = Vec::with_capacity(5);
        if skill_match {
            reasons.push(format!("skilled in {family} (+100)"));
        } else {
            reasons.push(format!("no {family} skill"));
        }
        if t.region == region {
            reasons.push(format!("works in region {region} (+10)"));
        }
        reasons.push(format!("{distance_km:.1} km from {from} (-{:.1})", distance_km * 0.5));
        reasons.push(format!("{open_orders} open orders (-{})", open_orders * 15));
        if meets {
            reasons.push(format!("can arrive by {} within the response deadline", db::ts(eta)));
        } else {
            reasons.push(format!("would arrive {} after the response deadline (-40)", db::ts(eta)));
        }
        Suggestion {
            technician_id: t.technician_id,
            name: t.name.clone(),
            agent_id: t.agent_id,
            score,
            skill_match,
            distance_km: (distance_km * 10.0).round() / 10.0,
            open_orders,
            estimated_arrival_at: eta,
            meets_response_deadline: meets,
            reasons,
        }
    }
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
            // Every active technician with the position of their last arrival, in one query.
            let techs: Vec<(Arc<TechnicianHired>, Option<f64>, Option<f64>)> = {
                let mut cache = self.technician_cache();
                let mut stmt = c.prepare_cached(ACTIVE_TECHNICIANS)?;
                let mut rows = stmt.query([])?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let t = cache.get(text(r, 0)?, text(r, 1)?)?;
                    out.push((t, r.get(2)?, r.get(3)?));
                }
                out
            };
            // Open orders per technician, in one pass over the open orders;
            // this order (open, since it is not finished) is not counted.
            let mut open_counts: HashMap<Uuid, i64> = {
                let mut stmt = c.prepare_cached(OPEN_ORDERS_BY_TECHNICIAN)?;
                let mut rows = stmt.query([])?;
                let mut out = HashMap::new();
                while let Some(r) = rows.next()? {
                    out.insert(r.uuid("technician_id")?, r.get(1)?);
                }
                out
            };
            if let Some(n) = o.technician_id.and_then(|t| open_counts.get_mut(&t)) {
                *n -= 1;
            }
            // Score every technician; write the reasons only for the ones returned.
            let mut ranked = Vec::with_capacity(techs.len());
            for (t, last_lat, last_lon) in techs {
                let (from, (lat, lon)) = match (last_lat, last_lon) {
                    (Some(lat), Some(lon)) => ("last arrival", (lat, lon)),
                    _ => ("home", (t.home_lat, t.home_lon)),
                };
                let open_orders = open_counts.get(&t.technician_id).copied().unwrap_or(0);
                let distance_km = haversine_km(lat, lon, site.lat, site.lon);
                let skill_match = t.skills.iter().any(|s| s.eq_ignore_ascii_case(&product.family));
                let travel_min = (distance_km / TRAVEL_KMH * 60.0).ceil() as i64;
                let eta = at + TimeDelta::minutes(travel_min + open_orders * MINUTES_PER_OPEN_ORDER);
                let meets = o.first_arrival_at.is_some() || o.response_due_at.is_none_or(|d| eta <= d);
                let mut score = 0.0;
                if skill_match {
                    score += 100.0;
                }
                if t.region == site.region {
                    score += 10.0;
                }
                score -= distance_km * 0.5;
                score -= open_orders as f64 * 15.0;
                if !meets {
                    score -= 40.0;
                }
                ranked.push(Candidate {
                    score: (score * 10.0).round() / 10.0,
                    t,
                    from,
                    distance_km,
                    skill_match,
                    open_orders,
                    eta,
                    meets,
                });
            }
            ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.t.technician_id.cmp(&b.t.technician_id)));
            ranked.truncate(limit.max(1));
            let out = ranked.into_iter().map(|k| k.suggestion(&product.family, &site.region)).collect();
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_open_orders_query_lists_exactly_the_open_states() {
        let closed = [OrderState::Completed, OrderState::Closed, OrderState::Cancelled];
        let open: Vec<String> =
            OrderState::ALL.iter().filter(|s| !closed.contains(s)).map(|s| format!("'{}'", s.as_str())).collect();
        assert!(OPEN_ORDERS_BY_TECHNICIAN.contains(&format!("state IN ({})", open.join(", "))));
    }

    /// The plans of the queries every suggestion runs.
    fn plan(sql: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let conn = db::open_writer(&dir.path().join("ops.db")).unwrap();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
        rows.collect::<rusqlite::Result<Vec<_>>>().unwrap().join("\n")
    }

    #[test]
    fn suggestions_read_indexes_not_every_order_or_visit() {
        let open = plan(OPEN_ORDERS_BY_TECHNICIAN);
        assert!(open.contains("USING COVERING INDEX orders_state_technician (state=?"), "{open}");
        assert_eq!(plan(ACTIVE_TECHNICIANS), "SCAN technicians", "one table, nothing else");
    }
}
