//! Payloads of the operational events, one struct per event type: orders
//! and visits (group `order`), invoices and payments (`money`), warranty
//! claims (`claim`) and stock movements (`stock`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{BillTo, Channel, ClaimPart, Entitlement, InvoiceLine, OrderType, PauseReason, Priority, VisitOutcome};

/// A service order was opened. Deadlines are stamped from the contract's calendar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderOpened {
    pub order_id: Uuid,
    pub order_type: OrderType,
    pub channel: Channel,
    pub customer_id: Uuid,
    pub site_id: Uuid,
    pub equipment_id: Uuid,
    pub product_id: Uuid,
    pub priority: Priority,
    /// Coded fault (for the Pareto), e.g. `E-PUMP-LEAK`.
    pub fault_code: String,
    pub reported_fault: String,
    pub calendar_id: Uuid,
    pub response_due_at: DateTime<Utc>,
    pub resolution_due_at: DateTime<Utc>,
    pub response_target_minutes: i64,
    pub resolution_target_minutes: i64,
}

/// Entitlement was checked when the order opened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntitlementChecked {
    pub order_id: Uuid,
    pub entitlement: Entitlement,
    #[serde(default)]
    pub contract_id: Option<Uuid>,
    /// Why, e.g. `contract 2026-01-01..2026-12-31 covers equipment`.
    pub reason: String,
}

/// The order's priority changed; deadlines recomputed from the opening.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorityChanged {
    pub order_id: Uuid,
    pub from: Priority,
    pub to: Priority,
    pub response_due_at: DateTime<Utc>,
    pub resolution_due_at: DateTime<Utc>,
    pub response_target_minutes: i64,
    pub resolution_target_minutes: i64,
}

/// The order was assigned to a technician.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderAssigned {
    pub order_id: Uuid,
    pub technician_id: Uuid,
    #[serde(default)]
    pub agent_id: Option<Uuid>,
}

/// The order moved to another technician.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderReassigned {
    pub order_id: Uuid,
    pub from_technician_id: Uuid,
    pub technician_id: Uuid,
    #[serde(default)]
    pub agent_id: Option<Uuid>,
    pub reason: String,
}

/// The technician set off; this opens a visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TravelStarted {
    pub order_id: Uuid,
    pub visit_id: Uuid,
    pub technician_id: Uuid,
    #[serde(default)]
    pub agent_id: Option<Uuid>,
}

/// The technician checked in on site (GPS position).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Arrived {
    pub order_id: Uuid,
    pub visit_id: Uuid,
    pub technician_id: Uuid,
    #[serde(default)]
    pub agent_id: Option<Uuid>,
    pub lat: f64,
    pub lon: f64,
}

/// The SLA clock paused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderPaused {
    pub order_id: Uuid,
    pub reason: PauseReason,
}

/// The SLA clock resumed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderResumed {
    pub order_id: Uuid,
}

/// Minutes of work logged on a visit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkLogged {
    pub order_id: Uuid,
    pub visit_id: Uuid,
    pub technician_id: Uuid,
    #[serde(default)]
    pub agent_id: Option<Uuid>,
    pub minutes: i64,
}

/// A spare part was consumed from a stock location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartConsumed {
    pub order_id: Uuid,
    pub visit_id: Uuid,
    pub technician_id: Uuid,
    #[serde(default)]
    pub agent_id: Option<Uuid>,
    pub part_id: Uuid,
    pub location_id: Uuid,
    pub quantity: i64,
    pub unit_cost_cents: i64,
}

/// A visit ended with an outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitEnded {
    pub order_id: Uuid,
    pub visit_id: Uuid,
    pub technician_id: Uuid,
    #[serde(default)]
    pub agent_id: Option<Uuid>,
    pub outcome: VisitOutcome,
}

/// The work is done (stops the resolution clock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCompleted {
    pub order_id: Uuid,
    #[serde(default)]
    pub technician_id: Option<Uuid>,
    #[serde(default)]
    pub agent_id: Option<Uuid>,
}

/// The customer signed off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderClosed {
    pub order_id: Uuid,
    pub signed_by: String,
    /// Customer satisfaction 1–5, if given.
    #[serde(default)]
    pub csat: Option<i32>,
}

/// The order was cancelled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCancelled {
    pub order_id: Uuid,
    pub reason: String,
}

/// A completed or closed order was reopened; the resolution clock runs again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderReopened {
    pub order_id: Uuid,
    pub reason: String,
}

/// An invoice was issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceIssued {
    pub invoice_id: Uuid,
    #[serde(default)]
    pub order_id: Option<Uuid>,
    #[serde(default)]
    pub contract_id: Option<Uuid>,
    pub customer_id: Uuid,
    pub bill_to: BillTo,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    pub currency: String,
    pub lines: Vec<InvoiceLine>,
    pub total_cents: i64,
}

/// A payment arrived (possibly partial).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentReceived {
    pub payment_id: Uuid,
    pub invoice_id: Uuid,
    pub customer_id: Uuid,
    pub amount_cents: i64,
    pub currency: String,
    pub received_on: NaiveDate,
}

/// A credit note reduced what is owed on an invoice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreditNoteIssued {
    pub credit_note_id: Uuid,
    pub invoice_id: Uuid,
    pub customer_id: Uuid,
    pub amount_cents: i64,
    pub currency: String,
    pub issued_on: NaiveDate,
    pub reason: String,
}

/// An agent filed a warranty claim to a manufacturer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimFiled {
    pub claim_id: Uuid,
    pub order_id: Uuid,
    pub agent_id: Uuid,
    pub manufacturer_id: Uuid,
    pub equipment_id: Uuid,
    pub labour_minutes: i64,
    pub parts: Vec<ClaimPart>,
    pub amount_cents: i64,
    pub currency: String,
    /// The arrival event offered as evidence, if any.
    #[serde(default)]
    pub arrival_event_id: Option<Uuid>,
    pub photos: i64,
}

/// The manufacturer approved a claim, fully or partly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimApproved {
    pub claim_id: Uuid,
    pub agent_id: Uuid,
    pub approved_cents: i64,
    #[serde(default)]
    pub note: Option<String>,
}

/// The manufacturer rejected a claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRejected {
    pub claim_id: Uuid,
    pub agent_id: Uuid,
    /// Reason code, e.g. `no_arrival`, `duplicate`, `labour_above_standard`, `out_of_warranty`.
    pub reason_code: String,
    pub reason: String,
}

/// An approved claim was paid in a settlement run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimPaid {
    pub claim_id: Uuid,
    pub agent_id: Uuid,
    pub settlement_id: Uuid,
    pub amount_cents: i64,
}

/// Parts were received into a location.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockReceived {
    pub location_id: Uuid,
    pub part_id: Uuid,
    pub quantity: i64,
    pub unit_cost_cents: i64,
}

/// Parts moved between locations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockTransferred {
    pub from_location_id: Uuid,
    pub location_id: Uuid,
    pub part_id: Uuid,
    pub quantity: i64,
}

/// A stock count set the quantity on hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockCounted {
    pub location_id: Uuid,
    pub part_id: Uuid,
    pub counted: i64,
    pub previous: i64,
}

/// On-hand fell to or below the reorder point; a reorder was placed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReorderPlaced {
    pub location_id: Uuid,
    pub part_id: Uuid,
    pub quantity: i64,
    pub reorder_point: i64,
    pub on_hand: i64,
}
