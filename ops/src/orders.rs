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
//! SLA deadlines are stamped with [`Calendar::deadline`] from the opening
//! instant, using the contract's calendar and its term for the priority.
//! Without a contract (or without a term for the priority) the order uses
//! the default business-hours calendar of the site's time zone (Mon–Fri
//! 08:00–17:00, created on first use and emitted as `calendar_defined`) and
//! [`DEFAULT_TARGETS`]. A priority change recomputes both deadlines from the
//! opening with the pauses so far; a resume recomputes the stored deadlines
//! (the events carry the pauses, so the warehouse replays them).

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use fieldhouse_domain::calendar::Calendar;
use fieldhouse_domain::event::{
    Arrived, Channel, ContractSigned, Entitlement, EntitlementChecked, EquipmentInstalled, OrderAssigned,
    OrderCancelled, OrderClosed, OrderCompleted, OrderOpened, OrderPaused, OrderReassigned, OrderReopened,
    OrderResumed, OrderType, PartConsumed, PartDefined, PauseReason, Priority, PriorityChanged, SiteRegistered,
    TravelStarted, VisitEnded, VisitOutcome, WorkLogged,
};
use fieldhouse_domain::sla::Pause;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::{self, RowExt};
use crate::master::{self, MasterKind};
use crate::service::{Ops, Page, SOURCE_OPS, Tx};
use crate::{Error, Result, stock};

/// Default SLA targets `(priority, response, resolution)` in business
/// minutes, used when the order has no contract or the contract has no term
/// for its priority.
pub const DEFAULT_TARGETS: &[(Priority, i64, i64)] =
    &[(Priority::P1, 240, 540), (Priority::P2, 480, 1080), (Priority::P3, 1080, 2700), (Priority::P4, 2700, 5400)];

/// The state of a service order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    Open,
    Assigned,
    Travelling,
    OnSite,
    Paused,
    VisitEnded,
    Completed,
    Closed,
    Cancelled,
}

impl OrderState {
    pub const ALL: &'static [OrderState] = &[
        OrderState::Open,
        OrderState::Assigned,
        OrderState::Travelling,
        OrderState::OnSite,
        OrderState::Paused,
        OrderState::VisitEnded,
        OrderState::Completed,
        OrderState::Closed,
        OrderState::Cancelled,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            OrderState::Open => "open",
            OrderState::Assigned => "assigned",
            OrderState::Travelling => "travelling",
            OrderState::OnSite => "on_site",
            OrderState::Paused => "paused",
            OrderState::VisitEnded => "visit_ended",
            OrderState::Completed => "completed",
            OrderState::Closed => "closed",
            OrderState::Cancelled => "cancelled",
        }
    }
}

impl std::str::FromStr for OrderState {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        OrderState::ALL.iter().copied().find(|x| x.as_str() == s).ok_or_else(|| format!("`{s}` is not an order state"))
    }
}

impl std::fmt::Display for OrderState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything that can be done to an order after it is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    ChangePriority,
    Assign,
    Reassign,
    StartTravel,
    Arrive,
    Pause,
    Resume,
    LogWork,
    ConsumePart,
    EndVisit,
    Complete,
    Close,
    Cancel,
    Reopen,
    Invoice,
}

impl OrderAction {
    pub const ALL: &'static [OrderAction] = &[
        OrderAction::ChangePriority,
        OrderAction::Assign,
        OrderAction::Reassign,
        OrderAction::StartTravel,
        OrderAction::Arrive,
        OrderAction::Pause,
        OrderAction::Resume,
        OrderAction::LogWork,
        OrderAction::ConsumePart,
        OrderAction::EndVisit,
        OrderAction::Complete,
        OrderAction::Close,
        OrderAction::Cancel,
        OrderAction::Reopen,
        OrderAction::Invoice,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            OrderAction::ChangePriority => "change the priority of",
            OrderAction::Assign => "assign",
            OrderAction::Reassign => "reassign",
            OrderAction::StartTravel => "start travel on",
            OrderAction::Arrive => "arrive on",
            OrderAction::Pause => "pause",
            OrderAction::Resume => "resume",
            OrderAction::LogWork => "log work on",
            OrderAction::ConsumePart => "consume a part on",
            OrderAction::EndVisit => "end the visit of",
            OrderAction::Complete => "complete",
            OrderAction::Close => "close",
            OrderAction::Cancel => "cancel",
            OrderAction::Reopen => "reopen",
            OrderAction::Invoice => "invoice",
        }
    }
}

/// The state machine: the state after `action` in state `from`, or `None` if
/// the action is not allowed there. `paused_from` is where a paused order
/// returns on resume. (Completion also needs the last visit's outcome to be
/// `fixed` or `not_fixable`; that guard is checked on top.)
pub fn transition(from: OrderState, action: OrderAction, paused_from: Option<OrderState>) -> Option<OrderState> {
    use OrderAction as A;
    use OrderState as S;
    match (from, action) {
        (S::Open | S::Assigned | S::Travelling | S::OnSite | S::Paused | S::VisitEnded, A::ChangePriority) => {
            Some(from)
        }
        (S::Open, A::Assign) => Some(S::Assigned),
        (S::Assigned | S::VisitEnded, A::Reassign) => Some(S::Assigned),
        (S::Assigned | S::VisitEnded, A::StartTravel) => Some(S::Travelling),
        (S::Travelling, A::Arrive) => Some(S::OnSite),
        (S::Open | S::Assigned | S::OnSite | S::VisitEnded, A::Pause) => Some(S::Paused),
        (S::Paused, A::Resume) => paused_from,
        (S::OnSite, A::LogWork | A::ConsumePart) => Some(S::OnSite),
        (S::OnSite, A::EndVisit) => Some(S::VisitEnded),
        (S::VisitEnded, A::Complete) => Some(S::Completed),
        (S::Completed, A::Close) => Some(S::Closed),
        (S::Open | S::Assigned | S::Paused | S::VisitEnded, A::Cancel) => Some(S::Cancelled),
        (S::Completed | S::Closed, A::Reopen) => Some(S::Assigned),
        (S::Completed | S::Closed, A::Invoice) => Some(from),
        _ => None,
    }
}

// --- commands ----------------------------------------------------------------

/// Open a service order for a unit of equipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenOrder {
    /// Checked against the equipment's customer when given.
    #[serde(default)]
    pub customer_id: Option<Uuid>,
    pub equipment_id: Uuid,
    pub order_type: OrderType,
    pub channel: Channel,
    pub priority: Priority,
    pub fault_code: String,
    #[serde(default)]
    pub reported_fault: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangePriority {
    pub priority: Priority,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignOrder {
    pub technician_id: Uuid,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReassignOrder {
    pub technician_id: Uuid,
    #[serde(default)]
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartTravel {
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arrive {
    pub lat: f64,
    pub lon: f64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PauseOrder {
    pub reason: PauseReason,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResumeOrder {
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogWork {
    pub minutes: i64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsumePart {
    pub part_id: Uuid,
    pub location_id: Uuid,
    pub quantity: i64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndVisit {
    pub outcome: VisitOutcome,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompleteOrder {
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloseOrder {
    pub signed_by: String,
    #[serde(default)]
    pub csat: Option<i32>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelOrder {
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReopenOrder {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// Filter for [`Ops::list_orders`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFilter {
    #[serde(default)]
    pub state: Option<OrderState>,
    #[serde(default)]
    pub technician_id: Option<Uuid>,
    #[serde(default)]
    pub equipment_id: Option<Uuid>,
}

// --- views -------------------------------------------------------------------

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
fn map_order(r: &rusqlite::Row<'_>) -> rusqlite::Result<OrderView> {
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

fn load_pauses(conn: &Connection, order_id: Uuid) -> Result<Vec<PauseInterval>> {
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

fn default_targets(priority: Priority) -> (i64, i64) {
    DEFAULT_TARGETS.iter().find(|(p, _, _)| *p == priority).map_or((1080, 2700), |&(_, r, s)| (r, s))
}

/// The default business-hours calendar of time zone `tz`, created on first use.
fn default_calendar(tx: &mut Tx<'_>, tz: Tz, at: DateTime<Utc>) -> Result<(Uuid, Calendar)> {
    let name = format!("default business hours ({})", tz.name());
    let existing: Option<String> = tx
        .prepare_cached("SELECT id FROM calendars WHERE name = ?1 ORDER BY id LIMIT 1")?
        .query_row([&name], |r| r.get(0))
        .optional()?;
    if let Some(id) = existing {
        let id = Uuid::parse_str(&id).map_err(|e| Error::corrupt(e.to_string()))?;
        return Ok((id, master::calendar(tx, id)?));
    }
    let hours = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default();
    let cal = Calendar::weekdays(&name, tz, &[(hours(8), hours(17))]);
    let ev = master::insert_calendar(tx, cal, at)?;
    Ok((ev.calendar_id, ev.calendar))
}

fn deadlines(
    cal: &Calendar,
    opened_at: DateTime<Utc>,
    response: i64,
    resolution: i64,
    pauses: &[Pause],
) -> Result<(DateTime<Utc>, DateTime<Utc>)> {
    let d = |m| {
        cal.deadline(opened_at, TimeDelta::minutes(m), pauses).ok_or_else(|| {
            Error::invalid("calendar", format!("calendar {:?} never accumulates {m} business minutes", cal.name))
        })
    };
    Ok((d(response)?, d(resolution)?))
}

/// Targets `(response, resolution)` for `priority` under `contract`.
fn targets(contract: Option<&ContractSigned>, priority: Priority) -> (i64, i64) {
    contract
        .and_then(|c| c.sla.iter().find(|t| t.priority == priority))
        .map_or_else(|| default_targets(priority), |t| (t.response_minutes, t.resolution_minutes))
}

fn contract_of(conn: &Connection, o: &OrderView) -> Result<Option<ContractSigned>> {
    o.contract_id.map(|id| master::body(conn, MasterKind::Contract, id)).transpose()
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

fn change_priority_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &ChangePriority) -> Result<OrderView> {
    let (o, _) = step(tx, order_id, OrderAction::ChangePriority)?;
    not_before("at", c.at, o.opened_at, "the opening")?;
    if o.priority == c.priority {
        return Err(Error::invalid("priority", format!("the order is already {}", c.priority)));
    }
    let contract = contract_of(tx, &o)?;
    let has_term = contract.as_ref().is_some_and(|k| k.sla.iter().any(|t| t.priority == c.priority));
    let (response, resolution) = targets(contract.as_ref().filter(|_| has_term), c.priority);
    // The calendar stays the order's calendar (stamped at opening).
    let cal = master::calendar(tx, o.calendar_id)?;
    let (response_due_at, resolution_due_at) = deadlines(&cal, o.opened_at, response, resolution, &o.sla_pauses(c.at))?;
    tx.prepare_cached(
        "UPDATE orders SET priority = ?2, response_target_minutes = ?3, resolution_target_minutes = ?4,
            response_due_at = ?5, resolution_due_at = ?6, updated_at = ?7 WHERE id = ?1",
    )?
    .execute(params![
        db::id(order_id),
        c.priority.as_str(),
        response,
        resolution,
        db::ts(response_due_at),
        db::ts(resolution_due_at),
        db::ts(c.at)
    ])?;
    tx.emit(
        c.at,
        PriorityChanged {
            order_id,
            from: o.priority,
            to: c.priority,
            response_due_at,
            resolution_due_at,
            response_target_minutes: response,
            resolution_target_minutes: resolution,
        },
    )?;
    load_order(tx, order_id)
}

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

fn assign_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &AssignOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Assign)?;
    not_before("at", c.at, o.opened_at, "the opening")?;
    let t = active_technician(tx, c.technician_id)?;
    set_technician(tx, order_id, next.as_str(), c.technician_id, t.hired.agent_id, c.at)?;
    tx.emit(c.at, OrderAssigned { order_id, technician_id: c.technician_id, agent_id: t.hired.agent_id })?;
    load_order(tx, order_id)
}

fn reassign_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &ReassignOrder) -> Result<OrderView> {
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

fn pause_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &PauseOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Pause)?;
    not_before("at", c.at, o.opened_at, "the opening")?;
    if c.reason == PauseReason::WaitingForParts {
        let allowed = contract_of(tx, &o)?.is_some_and(|k| k.pause_on_parts);
        if !allowed {
            return Err(Error::invalid(
                "reason",
                "the order's contract does not pause the clock while waiting for parts",
            ));
        }
    }
    tx.prepare_cached("INSERT INTO order_pauses (order_id, start_at, reason) VALUES (?1, ?2, ?3)")?
        .execute(params![db::id(order_id), db::ts(c.at), c.reason.as_str()])?;
    tx.prepare_cached(
        "UPDATE orders SET state = ?2, paused_from = ?3, pause_reason = ?4, updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![db::id(order_id), next.as_str(), o.state.as_str(), c.reason.as_str(), db::ts(c.at)])?;
    tx.emit(c.at, OrderPaused { order_id, reason: c.reason })?;
    load_order(tx, order_id)
}

/// Close the open pause of an order at `at`, if any.
fn end_open_pause(tx: &Tx<'_>, o: &OrderView, at: DateTime<Utc>) -> Result<()> {
    if let Some(p) = o.pauses.iter().find(|p| p.end.is_none()) {
        not_before("at", at, p.start, "the start of the pause")?;
    }
    tx.prepare_cached("UPDATE order_pauses SET end_at = ?2 WHERE order_id = ?1 AND end_at IS NULL")?
        .execute(params![db::id(o.order_id), db::ts(at)])?;
    Ok(())
}

fn resume_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &ResumeOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Resume)?;
    end_open_pause(tx, &o, c.at)?;
    // The stored deadlines move by the business time of the pauses.
    let cal = master::calendar(tx, o.calendar_id)?;
    let (response_due_at, resolution_due_at) =
        deadlines(&cal, o.opened_at, o.response_target_minutes, o.resolution_target_minutes, &o.sla_pauses(c.at))?;
    tx.prepare_cached(
        "UPDATE orders SET state = ?2, paused_from = NULL, pause_reason = NULL, response_due_at = ?3,
            resolution_due_at = ?4, updated_at = ?5 WHERE id = ?1",
    )?
    .execute(params![
        db::id(order_id),
        next.as_str(),
        db::ts(response_due_at),
        db::ts(resolution_due_at),
        db::ts(c.at)
    ])?;
    tx.emit(c.at, OrderResumed { order_id })?;
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

fn complete_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &CompleteOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Complete)?;
    match o.last_outcome {
        Some(VisitOutcome::Fixed | VisitOutcome::NotFixable) => {}
        other => {
            return Err(Error::Transition {
                entity: "order",
                action: OrderAction::Complete.as_str(),
                state: format!("visit_ended ({})", other.map_or("no outcome", |x| x.as_str())),
            });
        }
    }
    not_before("at", c.at, o.opened_at, "the opening")?;
    tx.prepare_cached("UPDATE orders SET state = ?2, completed_at = ?3, updated_at = ?3 WHERE id = ?1")?
        .execute(params![db::id(order_id), next.as_str(), db::ts(c.at)])?;
    tx.emit(c.at, OrderCompleted { order_id, technician_id: o.technician_id, agent_id: o.agent_id })?;
    load_order(tx, order_id)
}

pub(crate) fn close_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &CloseOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Close)?;
    if c.signed_by.trim().is_empty() {
        return Err(Error::invalid("signed_by", "the customer's signer is required"));
    }
    if let Some(s) = c.csat
        && !(1..=5).contains(&s)
    {
        return Err(Error::invalid("csat", format!("must be 1..=5, got {s}")));
    }
    if let Some(done) = o.completed_at {
        not_before("at", c.at, done, "the completion")?;
    }
    tx.prepare_cached(
        "UPDATE orders SET state = ?2, closed_at = ?3, signed_by = ?4, csat = ?5, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![db::id(order_id), next.as_str(), db::ts(c.at), c.signed_by, c.csat])?;
    tx.emit(c.at, OrderClosed { order_id, signed_by: c.signed_by.clone(), csat: c.csat })?;
    load_order(tx, order_id)
}

fn cancel_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &CancelOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Cancel)?;
    if c.reason.trim().is_empty() {
        return Err(Error::invalid("reason", "a cancellation needs a reason"));
    }
    not_before("at", c.at, o.opened_at, "the opening")?;
    end_open_pause(tx, &o, c.at)?;
    tx.prepare_cached(
        "UPDATE orders SET state = ?2, paused_from = NULL, pause_reason = NULL, cancelled_at = ?3, updated_at = ?3
         WHERE id = ?1",
    )?
    .execute(params![db::id(order_id), next.as_str(), db::ts(c.at)])?;
    tx.emit(c.at, OrderCancelled { order_id, reason: c.reason.clone() })?;
    load_order(tx, order_id)
}

fn reopen_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &ReopenOrder) -> Result<OrderView> {
    let (o, next) = step(tx, order_id, OrderAction::Reopen)?;
    if c.reason.trim().is_empty() {
        return Err(Error::invalid("reason", "a reopening needs a reason"));
    }
    if let Some(done) = o.completed_at {
        not_before("at", c.at, done, "the completion")?;
    }
    tx.prepare_cached(
        "UPDATE orders SET state = ?2, completed_at = NULL, closed_at = NULL, signed_by = NULL, csat = NULL,
            last_outcome = NULL, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![db::id(order_id), next.as_str(), db::ts(c.at)])?;
    tx.emit(c.at, OrderReopened { order_id, reason: c.reason.clone() })?;
    load_order(tx, order_id)
}
