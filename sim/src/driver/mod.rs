//! The time loop. A queue of timed tasks (failures, dispatches, visit steps,
//! deliveries of mobile batches, billing, payments, claims, stock runs) is
//! worked off in time order; each task issues operations at its instant.
//!
//! The simulator keeps its own picture of the world (technician calendars,
//! stock on hand, open orders) to make decisions, and the operational core
//! stays the system of record: a refused operation is counted, never hidden.
//!
//! The loop, the task queue and the simulator's picture of the world are
//! here; the tasks' work is split by concept: failures and new orders
//! (`failures`), dispatch and visits (`visits`), closing, billing, payments
//! and claims (`closing`) and stock (`stock`).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, Utc, Weekday};
use fieldhouse_domain::event::{Channel, Priority, VisitOutcome};
use fieldhouse_domain::ids::id_at;
use uuid::Uuid;

use crate::backend::{Backend, MobileAction, Op, Outcome};
use crate::config::{Progress, SimConfig, SimSummary};
use crate::dist::Dice;
use crate::world::World;
use crate::{Error, Result};

mod closing;
mod failures;
mod stock;
mod visits;

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
