//! The operations the simulator issues, and the [`Backend`] trait that
//! carries them to an operational core.
//!
//! Every operation names its instant (`at`): the core never reads the clock,
//! so months can be simulated in minutes. The simulator chooses every id
//! itself (deterministic UUIDv7 from the seed), like an offline mobile client
//! does; a backend whose core assigns its own ids maps them.

use chrono::{DateTime, NaiveDate, Utc};
use fieldhouse_domain::calendar::Calendar;
use fieldhouse_domain::event::{
    Channel, ClaimRate, LocationKind, OrderType, PauseReason, Priority, Segment, SlaTerm, VisitOutcome,
};
use serde::Serialize;
use uuid::Uuid;

use crate::Result;

/// One operation on the operational core.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    RegisterCustomer {
        customer_id: Uuid,
        name: String,
        segment: Segment,
        payment_terms_days: i64,
    },
    RegisterSite {
        site_id: Uuid,
        customer_id: Uuid,
        name: String,
        region: String,
        lat: f64,
        lon: f64,
        time_zone: String,
    },
    RegisterManufacturer {
        manufacturer_id: Uuid,
        name: String,
    },
    DefineProduct {
        product_id: Uuid,
        manufacturer_id: Uuid,
        model: String,
        family: String,
        standard_repair_minutes: i64,
        warranty_months: i64,
    },
    InstallEquipment {
        equipment_id: Uuid,
        product_id: Uuid,
        site_id: Uuid,
        serial: String,
        installed_on: NaiveDate,
        warranty_end: NaiveDate,
        firmware: Option<String>,
    },
    DefineCalendar {
        calendar_id: Uuid,
        calendar: Calendar,
    },
    SignContract {
        contract_id: Uuid,
        customer_id: Uuid,
        tier: String,
        calendar_id: Uuid,
        equipment_ids: Vec<Uuid>,
        sla: Vec<SlaTerm>,
        labour_rate_cents_per_hour: i64,
        parts_discount_pct: i64,
        labour_covered: bool,
        monthly_fee_cents: i64,
        currency: String,
        valid_from: NaiveDate,
        valid_to: NaiveDate,
        pause_on_parts: bool,
    },
    RegisterAgent {
        agent_id: Uuid,
        name: String,
        claim_rates: Vec<ClaimRate>,
    },
    HireTechnician {
        technician_id: Uuid,
        name: String,
        region: String,
        skills: Vec<String>,
        agent_id: Option<Uuid>,
        shift_calendar_id: Uuid,
        home_lat: f64,
        home_lon: f64,
    },
    DefinePart {
        part_id: Uuid,
        part_number: String,
        description: String,
        component: String,
        cost_cents: i64,
        price_cents: i64,
        currency: String,
    },
    DefineStockLocation {
        location_id: Uuid,
        kind: LocationKind,
        name: String,
        region: String,
        technician_id: Option<Uuid>,
    },
    SetReorderPoint {
        location_id: Uuid,
        part_id: Uuid,
        reorder_point: i64,
        reorder_quantity: i64,
    },
    DefineMaintenancePlan {
        plan_id: Uuid,
        equipment_id: Uuid,
        interval_days: i64,
        next_due_on: NaiveDate,
    },
    OpenOrder {
        order_id: Uuid,
        order_type: OrderType,
        channel: Channel,
        equipment_id: Uuid,
        priority: Priority,
        fault_code: String,
        reported_fault: String,
    },
    ChangePriority {
        order_id: Uuid,
        priority: Priority,
    },
    /// Ask for ranked technicians; answered with [`Outcome::Suggestions`].
    SuggestTechnicians {
        order_id: Uuid,
    },
    Assign {
        order_id: Uuid,
        technician_id: Uuid,
    },
    Reassign {
        order_id: Uuid,
        technician_id: Uuid,
        reason: String,
    },
    StartTravel {
        order_id: Uuid,
        visit_id: Uuid,
        technician_id: Uuid,
    },
    Arrive {
        order_id: Uuid,
        visit_id: Uuid,
        lat: f64,
        lon: f64,
    },
    Pause {
        order_id: Uuid,
        reason: PauseReason,
    },
    Resume {
        order_id: Uuid,
    },
    LogWork {
        order_id: Uuid,
        visit_id: Uuid,
        minutes: i64,
    },
    /// May be answered with [`Outcome::OutOfStock`].
    ConsumePart {
        order_id: Uuid,
        visit_id: Uuid,
        part_id: Uuid,
        location_id: Uuid,
        quantity: i64,
    },
    EndVisit {
        order_id: Uuid,
        visit_id: Uuid,
        outcome: VisitOutcome,
    },
    Complete {
        order_id: Uuid,
    },
    Close {
        order_id: Uuid,
        signed_by: String,
        csat: Option<i32>,
    },
    Cancel {
        order_id: Uuid,
        reason: String,
    },
    Reopen {
        order_id: Uuid,
        reason: String,
    },
    ReceiveStock {
        location_id: Uuid,
        part_id: Uuid,
        quantity: i64,
        unit_cost_cents: i64,
    },
    TransferStock {
        from_location_id: Uuid,
        location_id: Uuid,
        part_id: Uuid,
        quantity: i64,
    },
    CountStock {
        location_id: Uuid,
        part_id: Uuid,
        counted: i64,
    },
    /// Invoice a completed order; answered with [`Outcome::Invoices`] (empty: nothing billable).
    InvoiceOrder {
        order_id: Uuid,
    },
    /// Bill every contract's monthly fee for the month of `at`; answered with [`Outcome::Invoices`].
    RunFeeBilling,
    ReceivePayment {
        payment_id: Uuid,
        invoice_id: Uuid,
        amount_cents: i64,
    },
    IssueCreditNote {
        credit_note_id: Uuid,
        invoice_id: Uuid,
        amount_cents: i64,
        reason: String,
    },
    /// Answered with [`Outcome::Claim`].
    FileClaim {
        claim_id: Uuid,
        order_id: Uuid,
        labour_minutes: i64,
        parts: Vec<(Uuid, i64)>,
        /// Offer the visit's arrival as evidence.
        with_arrival: bool,
        photos: i64,
    },
    /// `approved_cents: None` approves the full amount.
    ApproveClaim {
        claim_id: Uuid,
        approved_cents: Option<i64>,
        note: Option<String>,
    },
    RejectClaim {
        claim_id: Uuid,
        reason_code: String,
        reason: String,
    },
    RunClaimSettlement,
    /// A batch of technician actions recorded offline on the mobile app.
    MobileSync {
        technician_id: Uuid,
        batch_id: Uuid,
        actions: Vec<MobileAction>,
    },
}

/// One action recorded on the mobile app, with its own client id and instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MobileAction {
    pub client_id: Uuid,
    pub at: DateTime<Utc>,
    /// One of the technician operations: start travel, arrive, consume
    /// part, log work, end visit, close.
    pub op: Op,
}

impl Op {
    /// The operation's name (for errors and metrics).
    pub fn name(&self) -> &'static str {
        match self {
            Op::RegisterCustomer { .. } => "register_customer",
            Op::RegisterSite { .. } => "register_site",
            Op::RegisterManufacturer { .. } => "register_manufacturer",
            Op::DefineProduct { .. } => "define_product",
            Op::InstallEquipment { .. } => "install_equipment",
            Op::DefineCalendar { .. } => "define_calendar",
            Op::SignContract { .. } => "sign_contract",
            Op::RegisterAgent { .. } => "register_agent",
            Op::HireTechnician { .. } => "hire_technician",
            Op::DefinePart { .. } => "define_part",
            Op::DefineStockLocation { .. } => "define_stock_location",
            Op::SetReorderPoint { .. } => "set_reorder_point",
            Op::DefineMaintenancePlan { .. } => "define_maintenance_plan",
            Op::OpenOrder { .. } => "open_order",
            Op::ChangePriority { .. } => "change_priority",
            Op::SuggestTechnicians { .. } => "suggest_technicians",
            Op::Assign { .. } => "assign",
            Op::Reassign { .. } => "reassign",
            Op::StartTravel { .. } => "start_travel",
            Op::Arrive { .. } => "arrive",
            Op::Pause { .. } => "pause",
            Op::Resume { .. } => "resume",
            Op::LogWork { .. } => "log_work",
            Op::ConsumePart { .. } => "consume_part",
            Op::EndVisit { .. } => "end_visit",
            Op::Complete { .. } => "complete",
            Op::Close { .. } => "close",
            Op::Cancel { .. } => "cancel",
            Op::Reopen { .. } => "reopen",
            Op::ReceiveStock { .. } => "receive_stock",
            Op::TransferStock { .. } => "transfer_stock",
            Op::CountStock { .. } => "count_stock",
            Op::InvoiceOrder { .. } => "invoice_order",
            Op::RunFeeBilling => "run_fee_billing",
            Op::ReceivePayment { .. } => "receive_payment",
            Op::IssueCreditNote { .. } => "issue_credit_note",
            Op::FileClaim { .. } => "file_claim",
            Op::ApproveClaim { .. } => "approve_claim",
            Op::RejectClaim { .. } => "reject_claim",
            Op::RunClaimSettlement => "run_claim_settlement",
            Op::MobileSync { .. } => "mobile_sync",
        }
    }
}

/// An invoice the core issued, as far as the simulator needs to pay it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedInvoice {
    pub invoice_id: Uuid,
    pub customer_id: Uuid,
    pub total_cents: i64,
    pub due_on: NaiveDate,
}

/// What the core answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// An order was opened or its priority changed: its response deadline as stamped by the core.
    Order {
        response_due_at: Option<DateTime<Utc>>,
    },
    /// Ranked technicians, best first.
    Suggestions(Vec<Uuid>),
    /// Not enough stock at the location; nothing was consumed.
    OutOfStock,
    Invoices(Vec<IssuedInvoice>),
    Claim {
        claim_id: Uuid,
        amount_cents: i64,
    },
    /// A mobile batch: actions applied, and whether the whole batch was a
    /// duplicate of one already received.
    Synced {
        applied: usize,
        duplicate: bool,
        rejected: usize,
    },
}

/// An operational core the simulator can drive.
pub trait Backend {
    /// Apply one operation at instant `at`.
    fn apply(&mut self, at: DateTime<Utc>, op: Op) -> Result<Outcome>;
    /// Events in the outbox so far.
    fn events_written(&self) -> u64;
}
