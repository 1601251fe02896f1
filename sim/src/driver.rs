//! The time loop. A queue of timed tasks (failures, dispatches, visit steps,
//! deliveries of mobile batches, billing, payments, claims, stock runs) is
//! worked off in time order; each task issues operations at its instant.
//!
//! The simulator keeps its own picture of the world (technician calendars,
//! stock on hand, open orders) to make decisions, and the operational core
//! stays the system of record: a refused operation is counted, never hidden.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc, Weekday};
use fieldhouse_domain::event::{Channel, OrderType, PauseReason, Priority, Segment, VisitOutcome};
use fieldhouse_domain::ids::id_at;
use uuid::Uuid;

use crate::backend::{Backend, IssuedInvoice, MobileAction, Op, Outcome};
use crate::config::{Progress, SimConfig, SimSummary};
use crate::dist::Dice;
use crate::geo;
use crate::world::{Tier, World, bathtub, sla_terms};
use crate::{Error, Result};

type At = DateTime<Utc>;

/// Run the simulation `cfg` against `backend`. `progress` is called once per
/// simulated day.
pub fn simulate_with<B: Backend + ?Sized>(
    backend: &mut B,
    cfg: &SimConfig,
    progress: Option<&dyn Fn(Progress)>,
) -> Result<SimSummary> {
    cfg.validate()?;
    let (world, master) = World::generate(cfg);
    let start = cfg.start.and_time(NaiveTime::MIN).and_utc();
    let end = cfg.end().and_time(NaiveTime::MIN).and_utc();
    let n_units = world.equipment.len();
    let mut sim = Sim {
        b: backend,
        d: Dice::new(cfg.seed, 1),
        ids: Dice::new(cfg.seed, 2),
        stock: vec![vec![0; world.parts.len()]; world.locations.len()],
        techs: world.technicians.iter().map(|t| TechSt { free_at: start, lat: t.lat, lon: t.lon }).collect(),
        open_unit: vec![false; n_units],
        supplier_pending: vec![false; world.parts.len()],
        customer_ix: world.customers.iter().enumerate().map(|(i, c)| (c.id, i)).collect(),
        tech_ix: world.technicians.iter().enumerate().map(|(i, t)| (t.id, i)).collect(),
        w: world,
        tasks: BTreeMap::new(),
        seq: 0,
        orders: HashMap::new(),
        next_order: 0,
        start,
        end,
        sum: SimSummary::default(),
        progress,
    };
    let t0 = start - TimeDelta::days(1);
    for (at, op) in master {
        sim.call(at, op)?;
    }
    sim.sum.customers = sim.w.customers.len() as u64;
    sim.sum.equipment = n_units as u64;
    sim.sum.technicians = sim.w.technicians.len() as u64;
    sim.initial_stock(t0 + TimeDelta::hours(1))?;
    sim.schedule_calendar_runs();
    for e in 0..n_units {
        if sim.w.equipment[e].installed_on < cfg.start {
            sim.next_failure(e, start);
            if let Some((_, due)) = sim.w.equipment[e].plan {
                sim.push(due.and_time(NaiveTime::MIN).and_utc() + TimeDelta::hours(6), Task::PlanDue(e));
            }
        }
    }
    let installs = std::mem::take(&mut sim.w.later_installs);
    for (at, op, e) in installs {
        sim.push(at, Task::Install(Box::new(op), e));
    }
    sim.run()?;
    sim.sum.events = sim.b.events_written();
    Ok(sim.sum)
}

#[derive(Debug, Clone)]
struct TechSt {
    /// When the technician's planned work ends.
    free_at: At,
    /// Where the technician is at `free_at`.
    lat: f64,
    lon: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderState {
    Open,
    Completed,
}

#[derive(Debug, Clone)]
struct Visit {
    id: Uuid,
    arrive: At,
    end: At,
    minutes: i64,
    /// The claim for this visit will offer no arrival as evidence (suspect).
    skip_arrival: bool,
    far: bool,
}

#[derive(Debug, Clone)]
struct OrderSt {
    id: Uuid,
    unit: usize,
    priority: Priority,
    preventive: bool,
    opened: At,
    /// The part the repair needs, if any.
    part: Option<usize>,
    tech: Option<usize>,
    visit: Option<Visit>,
    visits: u32,
    first_arrival: Option<At>,
    fixed: bool,
    state: OrderState,
    labour_minutes: i64,
    parts_used: Vec<(usize, i64)>,
    buffer: Vec<MobileAction>,
    last_outcome: Option<VisitOutcome>,
    /// Claim evidence problems on this order.
    no_arrival: bool,
    far_checkin: bool,
    reopened: bool,
    /// Paused waiting for parts.
    paused: bool,
    response_due: At,
}

#[derive(Debug, Clone)]
struct ClaimTask {
    order_id: Uuid,
    unit: usize,
    minutes: i64,
    parts: Vec<(Uuid, i64)>,
    no_arrival: bool,
    far: bool,
    inflated: bool,
    duplicate: bool,
}

#[derive(Debug, Clone)]
struct NewOrder {
    unit: usize,
    priority: Priority,
    part: Option<usize>,
    code: String,
    channel: Channel,
}

#[derive(Debug, Clone)]
enum Task {
    Failure(usize),
    Open(Box<NewOrder>),
    Install(Box<Op>, usize),
    PlanDue(usize),
    Escalate(u64),
    Cancel(u64),
    CustomerResume(u64),
    Dispatch(u64),
    Travel(u64),
    Arrive(u64),
    EndVisit(u64),
    Deliver(u64, Uuid),
    Resend(Box<Op>),
    PartsArrived(u64),
    Close(u64),
    Reopen(u64),
    Invoice(Uuid, usize),
    Pay(Uuid, usize, i64),
    Credit(Uuid, usize, i64),
    FileClaim(Box<ClaimTask>),
    Decide(Uuid, Box<ClaimTask>, i64),
    FeeRun,
    Settlement,
    Replenish,
    Count,
    Supplier(usize),
    Day(u64),
}

struct Sim<'a, B: Backend + ?Sized> {
    b: &'a mut B,
    w: World,
    d: Dice,
    ids: Dice,
    tasks: BTreeMap<(At, u64), Task>,
    seq: u64,
    stock: Vec<Vec<i64>>,
    techs: Vec<TechSt>,
    open_unit: Vec<bool>,
    supplier_pending: Vec<bool>,
    orders: HashMap<u64, OrderSt>,
    customer_ix: HashMap<Uuid, usize>,
    tech_ix: HashMap<Uuid, usize>,
    next_order: u64,
    start: At,
    end: At,
    sum: SimSummary,
    progress: Option<&'a dyn Fn(Progress)>,
}

fn minutes(m: f64) -> TimeDelta {
    TimeDelta::seconds((m * 60.0).round() as i64)
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()
}

/// Failure-rate multiplier by local hour of the week: equipment fails when it is used.
fn usage(weekday: Weekday, hour: u32) -> f64 {
    let weekend = matches!(weekday, Weekday::Sat | Weekday::Sun);
    match (weekend, hour) {
        (false, 7..=18) => 1.6,
        (false, 19..=22) => 0.6,
        (false, _) => 0.3,
        (true, 8..=19) => 0.5,
        (true, _) => 0.25,
    }
}
const USAGE_MAX: f64 = 1.6;

impl<B: Backend + ?Sized> Sim<'_, B> {
    fn push(&mut self, at: At, task: Task) {
        self.seq += 1;
        self.tasks.insert((at, self.seq), task);
    }

    fn new_id(&mut self, at: At) -> Uuid {
        id_at(at, self.ids.bytes10())
    }

    /// Apply an operation the simulator expects to succeed. Refusals are
    /// counted and the run goes on (the core is the judge); backend failures end it.
    fn call(&mut self, at: At, op: Op) -> Result<Outcome> {
        self.sum.operations += 1;
        match self.b.apply(at, op) {
            Ok(o) => Ok(o),
            Err(Error::Refused { op, at, message }) => {
                self.sum.refused += 1;
                tracing::debug!(op, %at, %message, "operation refused");
                self.sum.refusals.entry(op.to_string()).or_insert_with(|| (0, message)).0 += 1;
                Ok(Outcome::Done)
            }
            Err(e) => Err(e),
        }
    }

    fn run(&mut self) -> Result<()> {
        let days = (self.end - self.start).num_days().max(1) as u64;
        for day in 0..=days {
            self.push(self.start + TimeDelta::days(day as i64), Task::Day(day));
        }
        while let Some(((at, _), task)) = self.tasks.pop_first() {
            if at >= self.end {
                break;
            }
            self.task(at, task)?;
        }
        Ok(())
    }

    fn task(&mut self, at: At, task: Task) -> Result<()> {
        match task {
            Task::Day(day) => {
                if let Some(p) = self.progress {
                    let days = (self.end - self.start).num_days().max(1) as u64;
                    p(Progress { day, days, events: self.b.events_written(), orders: self.sum.orders });
                }
            }
            Task::Failure(e) => self.failure(at, e)?,
            Task::Open(n) => {
                let NewOrder { unit, priority, part, code, channel } = *n;
                self.open_order(at, unit, priority, false, part, code, channel)?;
            }
            Task::Install(op, e) => {
                self.call(at, *op)?;
                self.next_failure(e, at);
                if let Some((_, due)) = self.w.equipment[e].plan {
                    let plan_id = self.new_id(at);
                    let (interval, id) = (self.w.equipment[e].plan.map_or(180, |p| p.0), self.w.equipment[e].id);
                    self.call(
                        at,
                        Op::DefineMaintenancePlan {
                            plan_id,
                            equipment_id: id,
                            interval_days: interval,
                            next_due_on: due,
                        },
                    )?;
                    self.push(due.and_time(NaiveTime::MIN).and_utc() + TimeDelta::hours(6), Task::PlanDue(e));
                }
            }
            Task::PlanDue(e) => {
                if let Some((interval, _)) = self.w.equipment[e].plan {
                    self.push(at + TimeDelta::days(interval), Task::PlanDue(e));
                    if !self.open_unit[e] {
                        self.open_order(at, e, Priority::P4, true, None, "PM-SCHEDULED".into(), Channel::Plan)?;
                    }
                }
            }
            Task::Escalate(o) => self.escalate(at, o)?,
            Task::Cancel(o) => self.cancel(at, o)?,
            Task::CustomerResume(o) => {
                if let Some(ord) = self.orders.get(&o)
                    && ord.state == OrderState::Open
                {
                    let id = ord.id;
                    self.call(at, Op::Resume { order_id: id })?;
                    let lag = self.d.exp(30.0);
                    self.push(at + minutes(lag), Task::Dispatch(o));
                }
            }
            Task::Dispatch(o) => self.dispatch(at, o)?,
            Task::Travel(o) => self.travel(at, o)?,
            Task::Arrive(o) => self.arrive(at, o)?,
            Task::EndVisit(o) => self.end_visit(at, o)?,
            Task::Deliver(o, tech) => self.deliver(at, o, tech)?,
            Task::Resend(op) => {
                self.sum.mobile_batches_resent += 1;
                self.call(at, *op)?;
            }
            Task::PartsArrived(o) => self.parts_arrived(at, o)?,
            Task::Close(o) => self.close(at, o)?,
            Task::Reopen(o) => self.reopen(at, o)?,
            Task::Invoice(order_id, customer) => {
                if let Outcome::Invoices(list) = self.call(at, Op::InvoiceOrder { order_id })? {
                    for inv in list {
                        self.collect(at, &inv, customer);
                    }
                }
            }
            Task::Pay(invoice_id, customer, amount) => {
                let payment_id = self.new_id(at);
                let _ = customer;
                self.call(at, Op::ReceivePayment { payment_id, invoice_id, amount_cents: amount })?;
                self.sum.payments += 1;
            }
            Task::Credit(invoice_id, _customer, amount) => {
                let credit_note_id = self.new_id(at);
                let reason =
                    ["disputed labour time", "goodwill after repeat visit", "price correction"][self.d.index(3)];
                self.call(
                    at,
                    Op::IssueCreditNote { credit_note_id, invoice_id, amount_cents: amount, reason: reason.into() },
                )?;
                self.sum.credit_notes += 1;
            }
            Task::FileClaim(c) => self.file_claim(at, *c)?,
            Task::Decide(claim_id, c, amount) => self.decide(at, claim_id, &c, amount)?,
            Task::FeeRun => {
                if let Outcome::Invoices(list) = self.call(at, Op::RunFeeBilling)? {
                    for inv in list {
                        let Some(&customer) = self.customer_ix.get(&inv.customer_id) else { continue };
                        self.collect(at, &inv, customer);
                    }
                }
            }
            Task::Settlement => {
                self.call(at, Op::RunClaimSettlement)?;
            }
            Task::Replenish => self.replenish(at)?,
            Task::Count => self.count(at)?,
            Task::Supplier(p) => {
                let central = self.w.central;
                let (target, cost) =
                    (self.w.locations[central].targets.get(p).map_or(10, |t| t.1), self.w.parts[p].cost_cents);
                let qty = (target - self.stock[central][p]).max(1);
                let (location_id, part_id) = (self.w.locations[central].id, self.w.parts[p].id);
                self.call(at, Op::ReceiveStock { location_id, part_id, quantity: qty, unit_cost_cents: cost })?;
                self.stock[central][p] += qty;
                self.supplier_pending[p] = false;
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------------
    // Failures and orders
    // ------------------------------------------------------------------

    fn unit_rate_max(&self, e: usize, from: At) -> f64 {
        let u = &self.w.equipment[e];
        let p = &self.w.products[u.product];
        let fam = &self.w.families[p.family];
        let age0 = (from.date_naive() - u.installed_on).num_days() as f64 / 365.25;
        let age1 = (self.end.date_naive() - u.installed_on).num_days() as f64 / 365.25;
        let season = fam.season.iter().copied().fold(0.0, f64::max);
        // Per day.
        fam.base_rate * p.quality * bathtub(age0).max(bathtub(age1)) * season * USAGE_MAX / 365.25
    }

    fn unit_rate(&self, e: usize, at: At) -> f64 {
        let u = &self.w.equipment[e];
        let p = &self.w.products[u.product];
        let fam = &self.w.families[p.family];
        let age = (at.date_naive() - u.installed_on).num_days() as f64 / 365.25;
        let local = at.with_timezone(&self.w.sites[u.site].tz);
        let season = fam.season[local.month0() as usize];
        fam.base_rate * p.quality * bathtub(age) * season * usage(local.weekday(), local.hour()) / 365.25
    }

    /// Schedule the next candidate failure of unit `e` after `from` (thinning).
    fn next_failure(&mut self, e: usize, from: At) {
        let max = self.unit_rate_max(e, from);
        if max <= 0.0 {
            return;
        }
        let gap_days = self.d.exp(1.0 / max);
        let at = from + minutes(gap_days * 1440.0);
        if at < self.end {
            self.push(at, Task::Failure(e));
        }
    }

    fn failure(&mut self, at: At, e: usize) -> Result<()> {
        let accept = self.unit_rate(e, at) / self.unit_rate_max(e, at).max(1e-12);
        let real = self.d.chance(accept);
        self.next_failure(e, at);
        if !real || self.open_unit[e] {
            return Ok(());
        }
        let u = self.w.equipment[e].clone();
        let fam = self.w.products[u.product].family;
        let family = self.w.families[fam].clone();
        // About 70 % of incidents need a part; the most common parts dominate.
        let (part, code) = if self.d.chance(0.72) {
            let weights: Vec<f64> = (0..family.parts.len()).map(|i| 1.0 / (i as f64 + 1.0)).collect();
            let p = family.parts[self.d.weighted(&weights)];
            (Some(p), self.w.parts[p].fault_code.clone())
        } else {
            (None, family.no_part_faults[self.d.index(family.no_part_faults.len())].to_string())
        };
        let gold = u.contract.is_some_and(|c| self.w.contracts[c].tier == Tier::Gold);
        let (channel, report_at) = self.report(at, &u, gold);
        let mut prio =
            [Priority::P1, Priority::P2, Priority::P3, Priority::P4][self.d.weighted(&[0.1, 0.28, 0.5, 0.12])];
        if family.name == "elevator" && self.d.chance(0.25) {
            prio = Priority::P1;
        }
        let when = report_at.max(at);
        if when >= self.end {
            return Ok(());
        }
        self.open_unit[e] = true;
        self.push(when, Task::Open(Box::new(NewOrder { unit: e, priority: prio, part, code, channel })));
        Ok(())
    }

    /// How and when a failure at `at` is reported.
    fn report(&mut self, at: At, u: &crate::world::Equipment, gold: bool) -> (Channel, At) {
        if u.iot && self.d.chance(0.85) {
            return (Channel::Iot, at + minutes(self.d.range(1.0, 8.0)));
        }
        let channel =
            [Channel::Phone, Channel::Email, Channel::Web, Channel::Mobile][self.d.weighted(&[0.5, 0.2, 0.2, 0.1])];
        let local = at.with_timezone(&self.w.sites[u.site].tz);
        let working = !matches!(local.weekday(), Weekday::Sat | Weekday::Sun) && (7..19).contains(&local.hour());
        if working || (gold && channel == Channel::Phone) || self.d.chance(0.25) {
            return (channel, at + minutes(self.d.lognormal(25.0, 0.9).min(600.0)));
        }
        // Noticed the next working morning.
        let mut day = local.date_naive() + TimeDelta::days(i64::from(local.hour() >= 7));
        while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            day += TimeDelta::days(1);
        }
        let t = day.and_time(hm(7, 0)).and_local_timezone(local.timezone()).earliest().map_or(at, |t| t.to_utc());
        (channel, t.max(at) + minutes(self.d.exp(70.0)))
    }

    /// The response deadline the core will stamp (same calendars and terms).
    fn response_due(&self, unit: usize, priority: Priority, opened: At) -> At {
        let u = &self.w.equipment[unit];
        let site = &self.w.sites[u.site];
        let tier = u.contract.map_or(Tier::Silver, |c| self.w.contracts[c].tier);
        let target = sla_terms(tier).iter().find(|t| t.priority == priority).map_or(1440, |t| t.response_minutes);
        let cal = match tier {
            Tier::Gold => None,
            Tier::Silver => self.w.business_calendar(site.country),
        };
        match cal {
            Some(c) => c.deadline(opened, TimeDelta::minutes(target), &[]).unwrap_or(opened + TimeDelta::days(3)),
            None => opened + TimeDelta::minutes(target),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn open_order(
        &mut self,
        at: At,
        unit: usize,
        priority: Priority,
        preventive: bool,
        part: Option<usize>,
        code: String,
        channel: Channel,
    ) -> Result<()> {
        let id = self.new_id(at);
        let u = &self.w.equipment[unit];
        let fam = self.w.families[self.w.products[u.product].family].name;
        let reported = if preventive {
            format!("Scheduled maintenance ({fam})")
        } else {
            match part {
                Some(p) => format!("{} fault reported: {}", fam, self.w.parts[p].component),
                None => format!("{fam} malfunction"),
            }
        };
        let equipment_id = u.id;
        let opened = self.call(
            at,
            Op::OpenOrder {
                order_id: id,
                order_type: if preventive { OrderType::Preventive } else { OrderType::Corrective },
                channel,
                equipment_id,
                priority,
                fault_code: code,
                reported_fault: reported,
            },
        )?;
        self.open_unit[unit] = true;
        self.sum.orders += 1;
        if preventive {
            self.sum.preventive_orders += 1;
        }
        let o = self.next_order;
        self.next_order += 1;
        let response_due = match opened {
            Outcome::Order { response_due_at: Some(due) } => due,
            _ => self.response_due(unit, priority, at),
        };
        self.orders.insert(
            o,
            OrderSt {
                id,
                unit,
                priority,
                preventive,
                opened: at,
                part: if preventive { None } else { part },
                tech: None,
                visit: None,
                visits: 0,
                first_arrival: None,
                fixed: false,
                state: OrderState::Open,
                labour_minutes: 0,
                parts_used: Vec::new(),
                buffer: Vec::new(),
                last_outcome: None,
                no_arrival: false,
                far_checkin: false,
                reopened: false,
                paused: false,
                response_due,
            },
        );
        if !preventive && self.d.chance(0.015) {
            let when = at + minutes(self.d.range(15.0, 90.0));
            self.push(when, Task::Cancel(o));
        }
        if !preventive && matches!(priority, Priority::P2 | Priority::P3) && self.d.chance(0.04) {
            let when = at + minutes(self.d.range(20.0, 240.0));
            self.push(when, Task::Escalate(o));
        }
        if !preventive && self.d.chance(0.04) {
            // The customer asks for a later appointment.
            self.call(at + TimeDelta::minutes(3), Op::Pause { order_id: id, reason: PauseReason::WaitingForCustomer })?;
            let when = at + minutes(self.d.range(1.0, 3.0) * 1440.0);
            self.push(when, Task::CustomerResume(o));
            return Ok(());
        }
        let lag = match (preventive, priority) {
            // Planned into a day well before the response deadline.
            (true, _) => self.d.range(0.05, 0.45) * (response_due - at).num_minutes() as f64,
            (_, Priority::P1) => self.d.exp(12.0),
            (_, Priority::P2) => self.d.exp(35.0),
            (_, Priority::P3) => self.d.exp(90.0),
            (_, Priority::P4) => self.d.exp(240.0),
        };
        self.push(at + minutes(lag.min(8000.0)), Task::Dispatch(o));
        Ok(())
    }

    fn escalate(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o) else { return Ok(()) };
        if ord.state != OrderState::Open || ord.first_arrival.is_some() {
            return Ok(());
        }
        let to = if ord.priority == Priority::P3 { Priority::P2 } else { Priority::P1 };
        let (id, unit, opened) = (ord.id, ord.unit, ord.opened);
        let due = match self.call(at, Op::ChangePriority { order_id: id, priority: to })? {
            Outcome::Order { response_due_at: Some(due) } => due,
            _ => self.response_due(unit, to, opened),
        };
        if let Some(ord) = self.orders.get_mut(&o) {
            ord.priority = to;
            ord.response_due = due;
        }
        Ok(())
    }

    fn cancel(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o) else { return Ok(()) };
        if ord.state != OrderState::Open || ord.visits > 0 || ord.visit.is_some() {
            return Ok(());
        }
        let (id, unit) = (ord.id, ord.unit);
        self.call(at, Op::Cancel { order_id: id, reason: "customer solved it".into() })?;
        self.open_unit[unit] = false;
        self.orders.remove(&o);
        Ok(())
    }

    // ------------------------------------------------------------------
    // Dispatch and visits
    // ------------------------------------------------------------------

    fn holiday(&self, country: &str, day: NaiveDate) -> bool {
        self.w.business_calendar(country).is_some_and(|c| c.holidays.iter().any(|h| h.contains(day)))
    }

    /// The earliest start at or after `t` inside the technician's shift
    /// (Mon–Fri 07:30, last start 15:30 local, no public holidays).
    fn shift_start(&mut self, tech: usize, t: At) -> At {
        let (tz, country) = (self.w.technicians[tech].tz, self.w.technicians[tech].country);
        let local = t.with_timezone(&tz);
        let mut day = local.date_naive();
        let mins = local.hour() * 60 + local.minute();
        for i in 0..14 {
            let ok = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holiday(country, day);
            if ok {
                if i == 0 && (450..=930).contains(&mins) {
                    return t;
                }
                if i > 0 || mins < 450 {
                    let start = day.and_time(hm(7, 30)).and_local_timezone(tz).earliest().map_or(t, |x| x.to_utc());
                    return start + minutes(self.d.range(0.0, 25.0));
                }
            }
            day += TimeDelta::days(1);
        }
        t
    }

    fn dispatch(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o).cloned() else { return Ok(()) };
        if ord.state != OrderState::Open {
            return Ok(());
        }
        let unit = self.w.equipment[ord.unit].clone();
        let site = self.w.sites[unit.site].clone();
        let keep_tech = ord.tech.filter(|_| ord.last_outcome == Some(VisitOutcome::NeedsParts) || self.d.chance(0.5));
        let tech = match keep_tech {
            Some(t) => t,
            None => {
                let ranked = match self.call(at, Op::SuggestTechnicians { order_id: ord.id })? {
                    Outcome::Suggestions(v) => v,
                    _ => Vec::new(),
                };
                let mut cands: Vec<usize> =
                    ranked.iter().take(6).filter_map(|id| self.tech_ix.get(id).copied()).collect();
                // Regional teams: a suggestion from another region is taken
                // only when the region has nobody suggested.
                if cands.iter().any(|&t| self.w.technicians[t].region == site.region) {
                    cands.retain(|&t| self.w.technicians[t].region == site.region);
                }
                if cands.is_empty() {
                    cands = self.w.by_region[site.region].clone();
                }
                // The dispatcher takes the skilled suggestion that can be there
                // first when it still makes the response deadline (an hour's
                // margin), else whoever can be there first.
                let eta = |t: usize| {
                    let st = &self.techs[t];
                    let km = geo::distance_km(st.lat, st.lon, site.lat, site.lon);
                    st.free_at.max(at) + minutes(geo::travel_minutes(km))
                };
                let family = self.w.products[unit.product].family;
                let skilled = cands
                    .iter()
                    .copied()
                    .filter(|&t| self.w.technicians[t].skills.contains(&family))
                    .min_by_key(|&t| eta(t))
                    .filter(|&t| eta(t) + TimeDelta::hours(1) <= ord.response_due);
                let Some(best) = skilled.or_else(|| cands.iter().copied().min_by_key(|&t| eta(t))) else {
                    return Ok(());
                };
                let tid = self.w.technicians[best].id;
                match ord.tech {
                    None => {
                        self.call(at, Op::Assign { order_id: ord.id, technician_id: tid })?;
                    }
                    Some(prev) if prev != best => {
                        self.call(
                            at,
                            Op::Reassign {
                                order_id: ord.id,
                                technician_id: tid,
                                reason: "follow-up by another technician".into(),
                            },
                        )?;
                    }
                    Some(_) => {}
                }
                // Now and then the first choice falls ill and the order moves on.
                if ord.tech.is_none() && cands.len() > 1 && self.d.chance(0.03) {
                    let other = cands.iter().copied().find(|&t| t != best).unwrap_or(best);
                    let oid = self.w.technicians[other].id;
                    self.call(
                        at + TimeDelta::minutes(5),
                        Op::Reassign { order_id: ord.id, technician_id: oid, reason: "technician unavailable".into() },
                    )?;
                    other
                } else {
                    best
                }
            }
        };
        // Plan the visit on the technician's calendar.
        let gold = unit.contract.is_some_and(|c| self.w.contracts[c].tier == Tier::Gold);
        let ts = self.techs[tech].clone();
        let mut begin = self.shift_start(tech, at.max(ts.free_at));
        let leg = geo::travel_minutes(geo::distance_km(ts.lat, ts.lon, site.lat, site.lon));
        if gold && !ord.preventive && begin + minutes(leg + 20.0) > ord.response_due {
            // On call: a 24x7 contract is served at night and at weekends,
            // and an urgent order pre-empts the planned day.
            begin = at.max(ts.free_at.min(at + minutes(self.d.range(10.0, 40.0))));
        }
        let (from_lat, from_lon) = if begin - ts.free_at > TimeDelta::hours(4) {
            (self.w.technicians[tech].lat, self.w.technicians[tech].lon)
        } else {
            (ts.lat, ts.lon)
        };
        let km = geo::distance_km(from_lat, from_lon, site.lat, site.lon);
        let travel = geo::travel_minutes(km) * self.d.lognormal(1.0, 0.2);
        let arrive = begin + minutes(travel);
        let fam = &self.w.families[self.w.products[unit.product].family];
        let base = if ord.preventive {
            fam.standard_minutes as f64 * 0.7
        } else if ord.part.is_some() {
            fam.standard_minutes as f64
        } else {
            fam.standard_minutes as f64 * 0.6
        };
        let work = self.d.lognormal(base, 0.4).clamp(15.0, 600.0).round() as i64;
        let end = arrive + TimeDelta::minutes(work);
        self.techs[tech] = TechSt { free_at: end + TimeDelta::minutes(10), lat: site.lat, lon: site.lon };
        let agent = self.w.technicians[tech].agent.is_some();
        let skip_arrival = agent && self.d.chance(0.02);
        let far = agent && !skip_arrival && self.d.chance(0.015);
        let visit_id = self.new_id(begin);
        if let Some(ord) = self.orders.get_mut(&o) {
            ord.tech = Some(tech);
            ord.visit = Some(Visit { id: visit_id, arrive, end, minutes: work, skip_arrival, far });
        }
        self.push(begin, Task::Travel(o));
        Ok(())
    }

    /// Send a technician operation now, or buffer it for the mobile batch.
    fn tech_op(&mut self, at: At, o: u64, op: Op) -> Result<Outcome> {
        let mobile = self.orders.get(&o).and_then(|x| x.tech).is_some_and(|t| self.w.technicians[t].mobile);
        if mobile {
            let client_id = self.new_id(at);
            if let Some(ord) = self.orders.get_mut(&o) {
                ord.buffer.push(MobileAction { client_id, at, op });
            }
            Ok(Outcome::Done)
        } else {
            self.call(at, op)
        }
    }

    fn travel(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o) else { return Ok(()) };
        let (Some(tech), Some(v)) = (ord.tech, ord.visit.clone()) else { return Ok(()) };
        if ord.state != OrderState::Open {
            return Ok(());
        }
        let (order_id, technician_id) = (ord.id, self.w.technicians[tech].id);
        self.tech_op(at, o, Op::StartTravel { order_id, visit_id: v.id, technician_id })?;
        self.sum.visits += 1;
        self.push(v.arrive, Task::Arrive(o));
        Ok(())
    }

    fn arrive(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o) else { return Ok(()) };
        let Some(v) = ord.visit.clone() else { return Ok(()) };
        let site = &self.w.sites[self.w.equipment[ord.unit].site];
        let (slat, slon, order_id) = (site.lat, site.lon, ord.id);
        let km = if v.far { self.d.range(15.0, 60.0) } else { self.d.range(0.01, 0.25) };
        let (lat, lon) = geo::offset(slat, slon, km, self.d.range(0.0, std::f64::consts::TAU));
        let (lat, lon) = ((lat * 1e5).round() / 1e5, (lon * 1e5).round() / 1e5);
        self.tech_op(at, o, Op::Arrive { order_id, visit_id: v.id, lat, lon })?;
        if let Some(ord) = self.orders.get_mut(&o) {
            ord.first_arrival.get_or_insert(at);
            ord.no_arrival |= v.skip_arrival;
            ord.far_checkin |= v.far;
        }
        self.push(v.end, Task::EndVisit(o));
        Ok(())
    }

    fn end_visit(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o).cloned() else { return Ok(()) };
        let (Some(tech), Some(v)) = (ord.tech, ord.visit.clone()) else { return Ok(()) };
        let t = self.w.technicians[tech].clone();
        let family = self.w.products[self.w.equipment[ord.unit].product].family;
        let skilled = t.skills.contains(&family);
        let order_id = ord.id;
        let mut consumed = None;
        let outcome = if ord.preventive {
            VisitOutcome::Fixed
        } else if let Some(p) = ord.part {
            if self.stock[t.van][p] > 0 {
                let (part_id, location_id) = (self.w.parts[p].id, self.w.locations[t.van].id);
                let op = Op::ConsumePart { order_id, visit_id: v.id, part_id, location_id, quantity: 1 };
                let when = v.arrive + TimeDelta::minutes(v.minutes / 2);
                if self.tech_op(when, o, op)? == Outcome::OutOfStock {
                    self.sum.stock_outs += 1;
                    VisitOutcome::NeedsParts
                } else {
                    self.stock[t.van][p] -= 1;
                    self.sum.parts_consumed += 1;
                    consumed = Some(p);
                    let p_fix = if ord.visits > 0 {
                        0.97
                    } else if skilled {
                        t.skill_level
                    } else {
                        0.8
                    };
                    if self.d.chance(p_fix) { VisitOutcome::Fixed } else { VisitOutcome::NeedsFollowUp }
                }
            } else {
                self.sum.stock_outs += 1;
                VisitOutcome::NeedsParts
            }
        } else {
            let p_fix = if skilled { t.skill_level } else { 0.75 };
            if self.d.chance(p_fix) { VisitOutcome::Fixed } else { VisitOutcome::NeedsFollowUp }
        };
        self.tech_op(at - TimeDelta::minutes(1), o, Op::LogWork { order_id, visit_id: v.id, minutes: v.minutes })?;
        self.tech_op(at, o, Op::EndVisit { order_id, visit_id: v.id, outcome })?;
        if outcome == VisitOutcome::Fixed && ord.visits == 0 && !ord.preventive {
            self.sum.first_time_fixes += 1;
        }
        if let Some(ord) = self.orders.get_mut(&o) {
            ord.visits += 1;
            ord.labour_minutes += v.minutes;
            if let Some(p) = consumed {
                ord.parts_used.push((p, 1));
            }
            ord.last_outcome = Some(outcome);
            ord.fixed = outcome == VisitOutcome::Fixed;
        }
        if t.mobile {
            // Synced when the app has a connection again.
            let r = self.d.unit();
            let delay = if r < 0.7 {
                self.d.range(1.0, 20.0)
            } else if r < 0.95 {
                self.d.range(60.0, 240.0)
            } else {
                self.d.range(600.0, 960.0)
            };
            self.push(at + minutes(delay), Task::Deliver(o, t.id));
        } else {
            self.after_visit(at + TimeDelta::minutes(2), o)?;
        }
        Ok(())
    }

    fn deliver(&mut self, at: At, o: u64, technician_id: Uuid) -> Result<()> {
        let Some(ord) = self.orders.get_mut(&o) else { return Ok(()) };
        let actions = std::mem::take(&mut ord.buffer);
        if !actions.is_empty() {
            let batch_id = id_at(at, self.ids.bytes10());
            let op = Op::MobileSync { technician_id, batch_id, actions };
            self.sum.mobile_batches += 1;
            if self.d.chance(0.05) {
                let again = at + minutes(self.d.range(5.0, 180.0));
                self.push(again, Task::Resend(Box::new(op.clone())));
            }
            if let Outcome::Synced { rejected, .. } = self.call(at, op)?
                && rejected > 0
            {
                self.sum.refused += rejected as u64;
                self.sum.refusals.entry("mobile_action".into()).or_insert_with(|| (0, "rejected in sync".into())).0 +=
                    rejected as u64;
            }
        }
        self.after_visit(at + TimeDelta::minutes(1), o)
    }

    /// Back-office follow-up of a visit: close, wait for parts, or plan another visit.
    fn after_visit(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o).cloned() else { return Ok(()) };
        match ord.last_outcome {
            Some(VisitOutcome::Fixed) => {
                // The office completes the order once the visit report is in.
                self.call(at, Op::Complete { order_id: ord.id })?;
                if let Some(o2) = self.orders.get_mut(&o) {
                    o2.state = OrderState::Completed;
                }
                self.open_unit[ord.unit] = false;
                let delay = self.d.lognormal(180.0, 1.0).min(4000.0);
                self.push(at + minutes(delay), Task::Close(o));
            }
            Some(VisitOutcome::NeedsParts) => {
                // The clock stops for parts only where the contract says so.
                let pause =
                    self.w.equipment[ord.unit].contract.is_some_and(|c| self.w.contracts[c].tier == Tier::Silver);
                if pause {
                    self.call(at, Op::Pause { order_id: ord.id, reason: PauseReason::WaitingForParts })?;
                }
                if let Some(o2) = self.orders.get_mut(&o) {
                    o2.paused = pause;
                }
                let lead = self.d.lognormal(1.5, 0.5) * 1440.0;
                self.push(at + minutes(lead), Task::PartsArrived(o));
            }
            _ => {
                let lag = self.d.lognormal(600.0, 0.6);
                self.push(at + minutes(lag), Task::Dispatch(o));
            }
        }
        Ok(())
    }

    fn transfer(&mut self, at: At, from: usize, to: usize, p: usize, qty: i64) -> Result<()> {
        let (f, t, part) = (self.w.locations[from].id, self.w.locations[to].id, self.w.parts[p].id);
        self.call(at, Op::TransferStock { from_location_id: f, location_id: t, part_id: part, quantity: qty })?;
        self.stock[from][p] -= qty;
        self.stock[to][p] += qty;
        Ok(())
    }

    fn parts_arrived(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o).cloned() else { return Ok(()) };
        let (Some(tech), Some(p)) = (ord.tech, ord.part) else { return Ok(()) };
        let van = self.w.technicians[tech].van;
        let regional = self.w.regional[self.w.technicians[tech].region];
        let central = self.w.central;
        if self.stock[van][p] == 0 {
            if self.stock[regional][p] > 0 {
                self.transfer(at, regional, van, p, 1)?;
            } else {
                if self.stock[central][p] == 0 {
                    // Emergency order from the supplier.
                    let (location_id, part_id, cost) =
                        (self.w.locations[central].id, self.w.parts[p].id, self.w.parts[p].cost_cents);
                    self.call(
                        at - TimeDelta::hours(2),
                        Op::ReceiveStock { location_id, part_id, quantity: 2, unit_cost_cents: cost },
                    )?;
                    self.stock[central][p] += 2;
                }
                self.transfer(at, central, van, p, 1)?;
            }
        }
        if ord.paused {
            self.call(at + TimeDelta::minutes(1), Op::Resume { order_id: ord.id })?;
            if let Some(o2) = self.orders.get_mut(&o) {
                o2.paused = false;
            }
        }
        self.push(at + TimeDelta::minutes(5), Task::Dispatch(o));
        Ok(())
    }

    // ------------------------------------------------------------------
    // Closing, billing, payments, claims
    // ------------------------------------------------------------------

    fn close(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o).cloned() else { return Ok(()) };
        // CSAT falls with a late response and with repeat visits.
        let late = ord.first_arrival.is_some_and(|a| a > ord.response_due);
        let wait_h = ord.first_arrival.map_or(24.0, |a| (a - ord.opened).num_minutes() as f64 / 60.0);
        let score = 4.7
            - if late { 1.3 } else { 0.0 }
            - 0.5 * f64::from(ord.visits.saturating_sub(1))
            - (wait_h / 48.0).min(0.8)
            + 0.7 * self.d.normal();
        let csat = if self.d.chance(0.2) { None } else { Some(score.round().clamp(1.0, 5.0) as i32) };
        let signed_by = ["A. Meyer", "Facility desk", "J. de Vries", "Head nurse", "S. Brown"][self.d.index(5)];
        self.call(at, Op::Close { order_id: ord.id, signed_by: signed_by.into(), csat })?;
        let u = self.w.equipment[ord.unit].clone();
        let customer = self.w.sites[u.site].customer;
        // A few faults come back within days: the order is reopened, and
        // billed and claimed only when it is finally closed.
        let will_reopen = !ord.reopened && !ord.preventive && self.d.chance(0.015);
        // Warranty (no contract, within warranty) work by an agent's
        // technician is claimed from the manufacturer, not invoiced.
        let agent = ord.tech.and_then(|t| self.w.technicians[t].agent);
        let warranty = u.contract.is_none() && u.warranty_end >= ord.opened.date_naive();
        let claimed = agent.is_some() && warranty;
        if !will_reopen && !claimed {
            if self.d.chance(0.035) {
                self.sum.never_invoiced += 1;
            } else {
                let delay = self.d.lognormal(3.0, 0.9).min(60.0) * 1440.0;
                self.push(at + minutes(delay), Task::Invoice(ord.id, customer));
            }
        }
        if claimed && !will_reopen {
            let inflated = self.d.chance(0.03);
            let claim = ClaimTask {
                order_id: ord.id,
                unit: ord.unit,
                minutes: if inflated { ord.labour_minutes * self.d.int(2, 3) } else { ord.labour_minutes },
                parts: ord.parts_used.iter().map(|(p, q)| (self.w.parts[*p].id, *q)).collect(),
                no_arrival: ord.no_arrival,
                far: ord.far_checkin,
                inflated,
                duplicate: false,
            };
            let delay = self.d.range(1.0, 12.0) * 1440.0;
            self.push(at + minutes(delay), Task::FileClaim(Box::new(claim)));
        }
        if will_reopen {
            let when = at + minutes(self.d.range(1.0, 7.0) * 1440.0);
            self.push(when, Task::Reopen(o));
        } else {
            self.orders.remove(&o);
        }
        Ok(())
    }

    fn reopen(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get_mut(&o) else { return Ok(()) };
        if self.open_unit[ord.unit] {
            // Another order for the unit is already open.
            self.orders.remove(&o);
            return Ok(());
        }
        ord.reopened = true;
        ord.state = OrderState::Open;
        ord.part = None;
        ord.last_outcome = Some(VisitOutcome::NeedsFollowUp);
        let (id, unit) = (ord.id, ord.unit);
        self.open_unit[unit] = true;
        self.call(at, Op::Reopen { order_id: id, reason: "fault came back".into() })?;
        let when = at + minutes(self.d.range(30.0, 300.0));
        self.push(when, Task::Dispatch(o));
        Ok(())
    }

    /// Schedule payment (and perhaps a credit note) of an issued invoice.
    fn collect(&mut self, at: At, inv: &IssuedInvoice, customer: usize) {
        self.sum.invoices += 1;
        if inv.total_cents <= 0 {
            return;
        }
        let c = self.w.customers[customer].clone();
        let mut remaining = inv.total_cents;
        let mut earliest = at;
        if self.d.chance(0.025) {
            let credit = (remaining as f64 * self.d.range(0.1, 1.0)).round() as i64;
            let when = at + minutes(self.d.range(5.0, 25.0) * 1440.0);
            self.push(when, Task::Credit(inv.invoice_id, customer, credit));
            remaining -= credit;
            earliest = when;
        }
        if remaining <= 0 || (c.segment == Segment::Smb && self.d.chance(0.02)) {
            return;
        }
        let due = inv.due_on.and_time(hm(11, 0)).and_utc();
        let late_days = (c.pay_delay_days + 8.0 * self.d.normal()).max(-(c.terms_days as f64) + 1.0);
        let pay_at = (due + minutes(late_days * 1440.0)).max(earliest + TimeDelta::hours(1));
        if self.d.chance(c.partial_share) {
            let first = (remaining as f64 * self.d.range(0.4, 0.8)).round() as i64;
            self.push(pay_at, Task::Pay(inv.invoice_id, customer, first));
            let later = pay_at + minutes(self.d.range(10.0, 45.0) * 1440.0);
            self.push(later, Task::Pay(inv.invoice_id, customer, remaining - first));
        } else {
            self.push(pay_at, Task::Pay(inv.invoice_id, customer, remaining));
        }
    }

    fn file_claim(&mut self, at: At, c: ClaimTask) -> Result<()> {
        let claim_id = self.new_id(at);
        let photos = if c.no_arrival { 0 } else { self.d.int(1, 4) };
        let out = self.call(
            at,
            Op::FileClaim {
                claim_id,
                order_id: c.order_id,
                labour_minutes: c.minutes,
                parts: c.parts.clone(),
                with_arrival: !c.no_arrival,
                photos,
            },
        )?;
        let Outcome::Claim { claim_id, amount_cents } = out else { return Ok(()) };
        self.sum.claims += 1;
        if c.no_arrival || c.far || c.inflated || c.duplicate {
            self.sum.suspect_claims += 1;
        }
        if !c.duplicate && self.d.chance(0.02) {
            let dup = ClaimTask { duplicate: true, ..c.clone() };
            let when = at + minutes(self.d.range(3.0, 20.0) * 1440.0);
            self.push(when, Task::FileClaim(Box::new(dup)));
        }
        let decide = at + minutes(self.d.range(3.0, 20.0) * 1440.0);
        self.push(decide, Task::Decide(claim_id, Box::new(c), amount_cents));
        Ok(())
    }

    fn decide(&mut self, at: At, claim_id: Uuid, c: &ClaimTask, amount: i64) -> Result<()> {
        let reject = |code: &str, why: &str| Op::RejectClaim { claim_id, reason_code: code.into(), reason: why.into() };
        let op = if c.duplicate {
            reject("duplicate", "a claim for this order was already filed")
        } else if c.no_arrival && self.d.chance(0.85) {
            reject("no_arrival", "no arrival on site recorded for the visit")
        } else if c.far && self.d.chance(0.5) {
            reject("checkin_far_from_site", "check-in position far from the site")
        } else if c.inflated {
            let std = self.w.families[self.w.products[self.w.equipment[c.unit].product].family].standard_minutes;
            let share = (std as f64 / c.minutes.max(1) as f64).clamp(0.2, 1.0);
            Op::ApproveClaim {
                claim_id,
                approved_cents: Some((amount as f64 * share).round() as i64),
                note: Some("labour cut to the standard time".into()),
            }
        } else {
            match self.d.weighted(&[0.88, 0.06, 0.06]) {
                0 => Op::ApproveClaim { claim_id, approved_cents: None, note: None },
                1 => Op::ApproveClaim {
                    claim_id,
                    approved_cents: Some(amount * 8 / 10),
                    note: Some("travel not covered".into()),
                },
                _ => reject("insufficient_documentation", "photos do not show the failed part"),
            }
        };
        self.call(at, op)?;
        Ok(())
    }

    // ------------------------------------------------------------------
    // Stock
    // ------------------------------------------------------------------

    fn initial_stock(&mut self, at: At) -> Result<()> {
        for l in 0..self.w.locations.len() {
            let targets = self.w.locations[l].targets.clone();
            for (p, target, _) in targets {
                let (location_id, part_id, cost) =
                    (self.w.locations[l].id, self.w.parts[p].id, self.w.parts[p].cost_cents);
                self.call(at, Op::ReceiveStock { location_id, part_id, quantity: target, unit_cost_cents: cost })?;
                self.stock[l][p] += target;
            }
        }
        Ok(())
    }

    /// Vans are restocked from the regional warehouse twice a week, regional
    /// warehouses from the central one, and the central one from suppliers.
    fn replenish(&mut self, at: At) -> Result<()> {
        for t in 0..self.w.technicians.len() {
            let van = self.w.technicians[t].van;
            let regional = self.w.regional[self.w.technicians[t].region];
            let targets = self.w.locations[van].targets.clone();
            for (p, target, _) in targets {
                let missing = target - self.stock[van][p];
                let qty = missing.min(self.stock[regional][p]);
                if qty > 0 {
                    self.transfer(at, regional, van, p, qty)?;
                }
            }
        }
        let central = self.w.central;
        for r in self.w.regional.clone() {
            let targets = self.w.locations[r].targets.clone();
            for (p, target, point) in targets {
                if self.stock[r][p] <= point {
                    let qty = (target - self.stock[r][p]).min(self.stock[central][p]);
                    if qty > 0 {
                        self.transfer(at + TimeDelta::minutes(30), central, r, p, qty)?;
                    }
                }
            }
        }
        let targets = self.w.locations[central].targets.clone();
        for (p, _, point) in targets {
            if self.stock[central][p] <= point && !self.supplier_pending[p] {
                self.supplier_pending[p] = true;
                let lead = self.d.range(5.0, 14.0) * 1440.0;
                self.push(at + minutes(lead), Task::Supplier(p));
            }
        }
        Ok(())
    }

    /// A cycle count of a few parts per warehouse; now and then one is missing.
    fn count(&mut self, at: At) -> Result<()> {
        let mut locs = vec![self.w.central];
        locs.extend(self.w.regional.iter().copied());
        for l in locs {
            for _ in 0..3 {
                let p = self.d.index(self.w.parts.len());
                let have = self.stock[l][p];
                let counted = if have > 0 && self.d.chance(0.1) { have - 1 } else { have };
                let (location_id, part_id) = (self.w.locations[l].id, self.w.parts[p].id);
                self.call(at, Op::CountStock { location_id, part_id, counted })?;
                self.stock[l][p] = counted;
            }
        }
        Ok(())
    }

    /// Monthly fee billing (1st), claim settlement (15th), restocking (Mon and
    /// Thu) and cycle counts (every fourth Wednesday).
    fn schedule_calendar_runs(&mut self) {
        let mut day = self.start.date_naive();
        let last = self.end.date_naive();
        let mut wednesdays = 0;
        while day < last {
            let at = |h: u32| day.and_time(hm(h, 0)).and_utc();
            if day.day() == 1 {
                self.push(at(2), Task::FeeRun);
            }
            if day.day() == 15 {
                self.push(at(3), Task::Settlement);
            }
            match day.weekday() {
                Weekday::Mon | Weekday::Thu => self.push(at(4), Task::Replenish),
                Weekday::Wed => {
                    wednesdays += 1;
                    if wednesdays % 4 == 1 {
                        self.push(at(5), Task::Count);
                    }
                }
                _ => {}
            }
            day += TimeDelta::days(1);
        }
    }
}
