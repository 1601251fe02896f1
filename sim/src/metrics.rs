//! Statistics and invariants computed from an event stream (the outbox in
//! sequence order). Tests use them to check that the simulated organisation
//! looks like the business it models and breaks none of the core's rules.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use fieldhouse_domain::event::{Event, OrderType, Payload, VisitOutcome};
use uuid::Uuid;

/// Headline statistics of a simulated stream.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStats {
    pub events: u64,
    pub orders: u64,
    pub corrective_orders: u64,
    /// As the `first_time_fix_rate` KPI counts it: completed corrective
    /// orders with exactly one visit, ended `fixed`, never reopened, and no
    /// other corrective order for the same equipment opened within 30 days
    /// after the completion (a planned maintenance or installation order is
    /// no repeat) ÷ completed corrective orders with a visit.
    pub first_time_fix_rate: f64,
    /// Corrective orders whose first visit ended `fixed` ÷ corrective orders
    /// with a visit (the technician's view: later repeats not counted).
    pub first_visit_fix_rate: f64,
    /// Completed corrective orders with a part consumed ÷ completed corrective orders.
    pub part_attach_rate: f64,
    /// Orders whose response deadline passed before the first arrival (or
    /// passed with no arrival) ÷ orders whose response deadline is before
    /// the horizon. Cancelled orders and orders completed without any
    /// arrival are left out.
    pub response_breach_share: f64,
    pub mean_csat: f64,
    pub invoices: u64,
    pub payments: u64,
    pub claims: u64,
    pub claims_rejected: u64,
    pub mobile_events: u64,
    pub by_type: BTreeMap<String, u64>,
}

#[derive(Default)]
struct OrderFacts {
    corrective: bool,
    equipment: Uuid,
    opened: Option<DateTime<Utc>>,
    visits: u32,
    reopened: bool,
    completed_at: Option<DateTime<Utc>>,
    due: Option<DateTime<Utc>>,
    first_arrival: Option<DateTime<Utc>>,
    first_visit_end: Option<(DateTime<Utc>, VisitOutcome)>,
    completed: bool,
    cancelled: bool,
    parts: bool,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Statistics of `events` (in outbox order); `horizon` is the end of the simulated period.
pub fn stream_stats(events: &[Event], horizon: DateTime<Utc>) -> StreamStats {
    let mut s = StreamStats { events: events.len() as u64, ..StreamStats::default() };
    let mut orders: HashMap<Uuid, OrderFacts> = HashMap::new();
    let (mut csat_sum, mut csat_n) = (0i64, 0i64);
    for e in events {
        *s.by_type.entry(e.event_type().to_string()).or_insert(0) += 1;
        if e.source == "mobile" {
            s.mobile_events += 1;
        }
        let at = e.occurred_at;
        match &e.payload {
            Payload::OrderOpened(p) => {
                let f = orders.entry(p.order_id).or_default();
                f.corrective = p.order_type == OrderType::Corrective;
                f.due = Some(p.response_due_at);
                f.equipment = p.equipment_id;
                f.opened = Some(at);
            }
            Payload::PriorityChanged(p) => {
                if let Some(f) = orders.get_mut(&p.order_id) {
                    f.due = Some(p.response_due_at);
                }
            }
            Payload::Arrived(p) => {
                if let Some(f) = orders.get_mut(&p.order_id) {
                    f.first_arrival = Some(f.first_arrival.map_or(at, |a| a.min(at)));
                }
            }
            Payload::VisitEnded(p) => {
                if let Some(f) = orders.get_mut(&p.order_id) {
                    f.visits += 1;
                    if f.first_visit_end.is_none_or(|(t, _)| at < t) {
                        f.first_visit_end = Some((at, p.outcome));
                    }
                }
            }
            Payload::OrderReopened(p) => {
                if let Some(f) = orders.get_mut(&p.order_id) {
                    f.reopened = true;
                    f.completed = false;
                }
            }
            Payload::PartConsumed(p) => {
                if let Some(f) = orders.get_mut(&p.order_id) {
                    f.parts = true;
                }
            }
            Payload::OrderCompleted(p) => {
                if let Some(f) = orders.get_mut(&p.order_id) {
                    f.completed = true;
                    f.completed_at = Some(at);
                }
            }
            Payload::OrderCancelled(p) => {
                if let Some(f) = orders.get_mut(&p.order_id) {
                    f.cancelled = true;
                }
            }
            Payload::OrderClosed(p) => {
                if let Some(c) = p.csat {
                    csat_sum += i64::from(c);
                    csat_n += 1;
                }
            }
            Payload::InvoiceIssued(_) => s.invoices += 1,
            Payload::PaymentReceived(_) => s.payments += 1,
            Payload::ClaimFiled(_) => s.claims += 1,
            Payload::ClaimRejected(_) => s.claims_rejected += 1,
            _ => {}
        }
    }
    s.orders = orders.len() as u64;
    // Openings of corrective orders per equipment, for the 30-day repeat rule.
    let mut openings: HashMap<Uuid, Vec<DateTime<Utc>>> = HashMap::new();
    for f in orders.values().filter(|f| f.corrective) {
        if let Some(t) = f.opened {
            openings.entry(f.equipment).or_default().push(t);
        }
    }
    let window = chrono::TimeDelta::days(30);
    let (mut visited, mut first_fixed, mut done_visited, mut ftf) = (0, 0, 0, 0);
    let (mut completed, mut attached, mut due_n, mut breached) = (0, 0, 0, 0);
    for f in orders.values() {
        if f.corrective {
            s.corrective_orders += 1;
            if let Some((_, outcome)) = f.first_visit_end {
                visited += 1;
                if outcome == VisitOutcome::Fixed {
                    first_fixed += 1;
                }
            }
            if f.completed && !f.cancelled {
                completed += 1;
                if f.parts {
                    attached += 1;
                }
                if let (Some(done), Some((_, outcome))) = (f.completed_at, f.first_visit_end) {
                    done_visited += 1;
                    let repeat =
                        openings.get(&f.equipment).is_some_and(|ts| ts.iter().any(|&t| t > done && t - done <= window));
                    if f.visits == 1 && outcome == VisitOutcome::Fixed && !f.reopened && !repeat {
                        ftf += 1;
                    }
                }
            }
        }
        let Some(due) = f.due else { continue };
        if f.cancelled && f.first_arrival.is_none() || f.completed && f.first_arrival.is_none() || due >= horizon {
            continue;
        }
        due_n += 1;
        if f.first_arrival.is_none_or(|a| a > due) {
            breached += 1;
        }
    }
    s.first_time_fix_rate = ratio(ftf, done_visited);
    s.first_visit_fix_rate = ratio(first_fixed, visited);
    s.part_attach_rate = ratio(attached, completed);
    s.response_breach_share = ratio(breached, due_n);
    s.mean_csat = if csat_n == 0 { 0.0 } else { csat_sum as f64 / csat_n as f64 };
    s
}

/// Violations of the operational core's invariants in `events` (outbox
/// order): stock on hand never negative; no order event before the order
/// was opened (in sequence and in time); no visit event before its travel
/// started; event ids unique. Empty when all hold.
pub fn invariant_violations(events: &[Event]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stock: HashMap<(Uuid, Uuid), i64> = HashMap::new();
    let mut opened: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    let mut visits: HashSet<Uuid> = HashSet::new();
    let mut ids: HashSet<Uuid> = HashSet::new();
    for (seq, e) in events.iter().enumerate() {
        if !ids.insert(e.event_id) {
            out.push(format!("#{seq}: duplicate event id {}", e.event_id));
        }
        let mut change = |loc: Uuid, part: Uuid, delta: Option<i64>, set: Option<i64>| {
            let q = stock.entry((loc, part)).or_insert(0);
            if let Some(v) = set {
                *q = v;
            }
            if let Some(d) = delta {
                *q += d;
            }
            *q
        };
        let negative = match &e.payload {
            Payload::StockReceived(p) => change(p.location_id, p.part_id, Some(p.quantity), None) < 0,
            Payload::StockTransferred(p) => {
                let a = change(p.from_location_id, p.part_id, Some(-p.quantity), None);
                let b = change(p.location_id, p.part_id, Some(p.quantity), None);
                a < 0 || b < 0
            }
            Payload::PartConsumed(p) => change(p.location_id, p.part_id, Some(-p.quantity), None) < 0,
            Payload::StockCounted(p) => change(p.location_id, p.part_id, None, Some(p.counted)) < 0,
            _ => false,
        };
        if negative {
            out.push(format!("#{seq}: negative stock after {}", e.event_type()));
        }
        if let Payload::OrderOpened(p) = &e.payload {
            opened.insert(p.order_id, e.occurred_at);
            continue;
        }
        if let Payload::TravelStarted(p) = &e.payload {
            visits.insert(p.visit_id);
        }
        let env = e.payload.envelope();
        if let Some(order) = env.order_id {
            match opened.get(&order) {
                None => out.push(format!("#{seq}: {} for order {order} before it was opened", e.event_type())),
                Some(t) if e.occurred_at < *t => {
                    out.push(format!("#{seq}: {} for order {order} dated before its opening", e.event_type()))
                }
                _ => {}
            }
        }
        if let Some(v) = env.visit_id
            && !visits.contains(&v)
        {
            out.push(format!("#{seq}: {} for visit {v} before its travel started", e.event_type()));
        }
    }
    out
}
