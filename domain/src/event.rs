//! The service-event contract.
//!
//! Every state change in a service organisation is an [`Event`]: an envelope
//! (id, type, times, source) around a typed [`Payload`]. The JSON form is one
//! flat object with a `type` tag, which is what external systems send:
//!
//! ```json
//! {"event_id":"0192…","type":"order_opened","schema_version":1,
//!  "occurred_at":"2026-10-01T08:15:00Z","source":"ops","order_id":"0192…", …}
//! ```
//!
//! Decoding goes through [`Event::from_json`] / [`Event::from_value`], which
//! name the offending field in every error (serde's own internally-tagged
//! decoding loses the field path).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::calendar::Calendar;
use crate::{Error, Result};

/// The schema version this build writes. Readers accept 1..=SCHEMA_VERSION.
pub const SCHEMA_VERSION: i32 = 1;

/// One service event: envelope plus typed payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Unique id of the event, chosen by whoever produced it (UUIDv7 for our own).
    pub event_id: Uuid,
    pub schema_version: i32,
    /// When it happened in the world (e.g. the technician's arrival).
    pub occurred_at: DateTime<Utc>,
    /// When the warehouse received it; set by ingest when absent.
    pub recorded_at: Option<DateTime<Utc>>,
    /// Where it came from: `ops`, `mobile`, `partner:<name>`, `iot`, `file`.
    pub source: String,
    pub payload: Payload,
}

// ----------------------------------------------------------------------------
// Enumerations
// ----------------------------------------------------------------------------

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $s)] $variant),+ }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The wire (JSON and lake) spelling.
            pub fn as_str(&self) -> &'static str { match self { $($name::$variant => $s),+ } }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                match s { $($s => Ok($name::$variant),)+ _ => Err(format!(
                    "`{s}` is not one of {}", [$($s),+].join(", "))) }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

string_enum!(
    /// Order priority; P1 is the most urgent.
    Priority { P1 = "P1", P2 = "P2", P3 = "P3", P4 = "P4" }
);
string_enum!(
    /// Kind of service order.
    OrderType { Corrective = "corrective", Preventive = "preventive", Installation = "installation" }
);
string_enum!(
    /// How the fault was reported.
    Channel { Phone = "phone", Email = "email", Web = "web", Mobile = "mobile", Iot = "iot", Plan = "plan" }
);
string_enum!(
    /// What pays for the work, decided when the order is opened.
    Entitlement { Contract = "contract", Warranty = "warranty", TimeAndMaterial = "time_and_material" }
);
string_enum!(
    /// Why the SLA clock is paused.
    PauseReason { WaitingForCustomer = "waiting_for_customer", WaitingForParts = "waiting_for_parts" }
);
string_enum!(
    /// How a visit ended.
    VisitOutcome { Fixed = "fixed", NeedsParts = "needs_parts", NeedsFollowUp = "needs_follow_up", NotFixable = "not_fixable" }
);
string_enum!(
    /// Kind of stock location.
    LocationKind { Central = "central", Regional = "regional", Van = "van" }
);
string_enum!(
    /// Kind of invoice line.
    LineKind { Labour = "labour", Travel = "travel", Part = "part", Fee = "fee", Credit = "credit" }
);
string_enum!(
    /// Who an invoice is addressed to.
    BillTo { Customer = "customer", Manufacturer = "manufacturer" }
);
string_enum!(
    /// Customer segment; payment behaviour differs by segment.
    Segment { Enterprise = "enterprise", Public = "public", Smb = "smb" }
);

// ----------------------------------------------------------------------------
// Nested records
// ----------------------------------------------------------------------------

/// SLA targets for one priority, in business minutes of the contract's calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaTerm {
    pub priority: Priority,
    /// Opened → first arrival on site.
    pub response_minutes: i64,
    /// Opened → completed.
    pub resolution_minutes: i64,
}

/// One invoice line. `amount_cents = round(quantity_milli * unit_price_cents / 1000) - discount_cents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub kind: LineKind,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_id: Option<Uuid>,
    /// Quantity in thousandths (minutes are billed as hours: 90 min = 1500).
    pub quantity_milli: i64,
    pub unit_price_cents: i64,
    #[serde(default)]
    pub discount_cents: i64,
    pub amount_cents: i64,
}

/// A part on a warranty claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimPart {
    pub part_id: Uuid,
    pub quantity: i64,
    pub amount_cents: i64,
}

/// The claim labour rate an agent charges one manufacturer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRate {
    pub manufacturer_id: Uuid,
    pub labour_rate_cents_per_hour: i64,
}

// ----------------------------------------------------------------------------
// Payloads, one struct per event type
// ----------------------------------------------------------------------------

/// A customer (the company owning equipment) was registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRegistered {
    pub customer_id: Uuid,
    pub name: String,
    pub segment: Segment,
    /// Days from invoice to due date.
    pub payment_terms_days: i64,
}

/// A site (address where equipment stands) was registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteRegistered {
    pub site_id: Uuid,
    pub customer_id: Uuid,
    pub name: String,
    pub region: String,
    pub lat: f64,
    pub lon: f64,
    /// IANA time zone name, e.g. `Europe/Berlin`.
    pub time_zone: String,
}

/// A manufacturer whose products are serviced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManufacturerRegistered {
    pub manufacturer_id: Uuid,
    pub name: String,
}

/// A product model was defined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductDefined {
    pub product_id: Uuid,
    pub manufacturer_id: Uuid,
    pub model: String,
    pub family: String,
    /// Standard labour time for a corrective repair, for claim checks.
    pub standard_repair_minutes: i64,
    /// Months of manufacturer warranty from installation.
    pub warranty_months: i64,
}

/// A unit of equipment was installed at a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquipmentInstalled {
    pub equipment_id: Uuid,
    pub product_id: Uuid,
    pub site_id: Uuid,
    pub customer_id: Uuid,
    pub serial: String,
    pub installed_on: NaiveDate,
    pub warranty_end: NaiveDate,
    #[serde(default)]
    pub firmware: Option<String>,
}

/// A unit of equipment was taken out of service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EquipmentDecommissioned {
    pub equipment_id: Uuid,
    pub decommissioned_on: NaiveDate,
}

/// A business calendar was defined or replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarDefined {
    pub calendar_id: Uuid,
    pub calendar: Calendar,
}

/// A service contract was signed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractSigned {
    pub contract_id: Uuid,
    pub customer_id: Uuid,
    /// Commercial tier, e.g. `gold` (24x7, 4 h on site) or `silver` (business hours, next day).
    pub tier: String,
    pub calendar_id: Uuid,
    pub equipment_ids: Vec<Uuid>,
    pub sla: Vec<SlaTerm>,
    pub labour_rate_cents_per_hour: i64,
    /// Percent off list price for parts (0–100). 100 = parts covered.
    pub parts_discount_pct: i64,
    /// Whether labour is included (covered) or billed at the contract rate.
    pub labour_covered: bool,
    pub monthly_fee_cents: i64,
    pub currency: String,
    pub valid_from: NaiveDate,
    /// Inclusive last day of validity.
    pub valid_to: NaiveDate,
    /// Whether waiting for parts pauses the SLA clock under this contract.
    pub pause_on_parts: bool,
}

/// A contract was ended early.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractTerminated {
    pub contract_id: Uuid,
    pub effective_on: NaiveDate,
}

/// A service agent (partner company) was registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRegistered {
    pub agent_id: Uuid,
    pub name: String,
    pub claim_rates: Vec<ClaimRate>,
}

/// A technician joined, as own staff (`agent_id` null) or employed by an agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TechnicianHired {
    pub technician_id: Uuid,
    pub name: String,
    pub region: String,
    pub skills: Vec<String>,
    #[serde(default)]
    pub agent_id: Option<Uuid>,
    /// The calendar of the technician's scheduled shifts (for utilization).
    pub shift_calendar_id: Uuid,
    pub home_lat: f64,
    pub home_lon: f64,
}

/// A technician left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TechnicianLeft {
    pub technician_id: Uuid,
}

/// A spare part was defined.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartDefined {
    pub part_id: Uuid,
    pub part_number: String,
    pub description: String,
    /// Component of the product it belongs to (for failure statistics).
    pub component: String,
    pub cost_cents: i64,
    pub price_cents: i64,
    pub currency: String,
}

/// A stock location (central/regional warehouse or a technician's van).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StockLocationDefined {
    pub location_id: Uuid,
    pub kind: LocationKind,
    pub name: String,
    pub region: String,
    #[serde(default)]
    pub technician_id: Option<Uuid>,
}

/// A preventive-maintenance plan for one unit of equipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenancePlanDefined {
    pub plan_id: Uuid,
    pub equipment_id: Uuid,
    pub interval_days: i64,
    pub next_due_on: NaiveDate,
}

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

// ----------------------------------------------------------------------------
// The typed columns of the wide table
// ----------------------------------------------------------------------------

/// The ids and measures of one event that KPIs filter and join on: the typed
/// columns of the `events` table. Everything else stays in the JSON payload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelope {
    pub order_id: Option<Uuid>,
    pub visit_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub site_id: Option<Uuid>,
    pub equipment_id: Option<Uuid>,
    pub product_id: Option<Uuid>,
    pub manufacturer_id: Option<Uuid>,
    pub contract_id: Option<Uuid>,
    pub calendar_id: Option<Uuid>,
    pub technician_id: Option<Uuid>,
    pub agent_id: Option<Uuid>,
    pub part_id: Option<Uuid>,
    pub location_id: Option<Uuid>,
    pub invoice_id: Option<Uuid>,
    pub claim_id: Option<Uuid>,
    pub priority: Option<String>,
    pub region: Option<String>,
    /// The event's principal category: order type, entitlement, pause reason,
    /// visit outcome, rejection reason code, segment, location kind, tier...
    pub code: Option<String>,
    pub fault_code: Option<String>,
    pub quantity: Option<i64>,
    pub minutes: Option<i64>,
    pub amount_cents: Option<i64>,
    pub currency: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub csat: Option<i32>,
    pub response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// A business date: invoice due date, payment/received date, install date...
    pub business_date: Option<NaiveDate>,
}

// ----------------------------------------------------------------------------
// The payload enum, generated with its type names and decoders
// ----------------------------------------------------------------------------

macro_rules! payloads {
    ($($variant:ident => $name:literal, $group:literal;)+) => {
        /// Every event type. Serialises internally tagged with `type`.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(tag = "type")]
        pub enum Payload { $(#[serde(rename = $name)] $variant($variant)),+ }

        /// The names of every event type, with their group
        /// (`master`, `order`, `money`, `claim`, `stock`).
        pub const EVENT_TYPES: &[(&str, &str)] = &[$(($name, $group)),+];

        impl Payload {
            /// The `type` tag of this payload.
            pub fn event_type(&self) -> &'static str { match self { $(Payload::$variant(_) => $name),+ } }

            /// Decode a payload of type `event_type` from a JSON object
            /// (extra envelope fields are ignored), naming the field on error.
            pub fn from_type_and_value(event_type: &str, value: Value) -> Result<Payload> {
                match event_type {
                    $($name => Ok(Payload::$variant(decode_struct(value)?)),)+
                    other => Err(Error::UnknownEventType { event_type: other.to_string() }),
                }
            }

            /// Decode a payload of type `event_type` straight from the JSON
            /// text of the whole event (envelope fields are ignored); `None`
            /// on any problem (the caller falls back to
            /// [`Payload::from_type_and_value`] for the precise error).
            fn from_type_and_str(event_type: &str, text: &str) -> Option<Payload> {
                match event_type {
                    $($name => serde_json::from_str::<$variant>(text).ok().map(Payload::$variant),)+
                    _ => None,
                }
            }

            /// Append the payload's JSON object (fields in declaration order) to `out`.
            pub fn write_payload_json(&self, out: &mut Vec<u8>) {
                let written = match self { $(Payload::$variant(p) => serde_json::to_writer(&mut *out, p)),+ };
                if written.is_err() {
                    out.extend_from_slice(b"null");
                }
            }

            fn payload_value(&self) -> Value {
                match self { $(Payload::$variant(p) => serde_json::to_value(p).unwrap_or(Value::Null)),+ }
            }
        }
        $(impl From<$variant> for Payload { fn from(p: $variant) -> Payload { Payload::$variant(p) } })+
    };
}

payloads! {
    CustomerRegistered => "customer_registered", "master";
    SiteRegistered => "site_registered", "master";
    ManufacturerRegistered => "manufacturer_registered", "master";
    ProductDefined => "product_defined", "master";
    EquipmentInstalled => "equipment_installed", "master";
    EquipmentDecommissioned => "equipment_decommissioned", "master";
    CalendarDefined => "calendar_defined", "master";
    ContractSigned => "contract_signed", "master";
    ContractTerminated => "contract_terminated", "master";
    AgentRegistered => "agent_registered", "master";
    TechnicianHired => "technician_hired", "master";
    TechnicianLeft => "technician_left", "master";
    PartDefined => "part_defined", "master";
    StockLocationDefined => "stock_location_defined", "master";
    MaintenancePlanDefined => "maintenance_plan_defined", "master";
    OrderOpened => "order_opened", "order";
    EntitlementChecked => "entitlement_checked", "order";
    PriorityChanged => "priority_changed", "order";
    OrderAssigned => "order_assigned", "order";
    OrderReassigned => "order_reassigned", "order";
    TravelStarted => "travel_started", "order";
    Arrived => "arrived", "order";
    OrderPaused => "order_paused", "order";
    OrderResumed => "order_resumed", "order";
    WorkLogged => "work_logged", "order";
    PartConsumed => "part_consumed", "order";
    VisitEnded => "visit_ended", "order";
    OrderCompleted => "order_completed", "order";
    OrderClosed => "order_closed", "order";
    OrderCancelled => "order_cancelled", "order";
    OrderReopened => "order_reopened", "order";
    InvoiceIssued => "invoice_issued", "money";
    PaymentReceived => "payment_received", "money";
    CreditNoteIssued => "credit_note_issued", "money";
    ClaimFiled => "claim_filed", "claim";
    ClaimApproved => "claim_approved", "claim";
    ClaimRejected => "claim_rejected", "claim";
    ClaimPaid => "claim_paid", "claim";
    StockReceived => "stock_received", "stock";
    StockTransferred => "stock_transferred", "stock";
    StockCounted => "stock_counted", "stock";
    ReorderPlaced => "reorder_placed", "stock";
}

/// Deserialize one payload struct from a JSON object, reporting the path of
/// the first offending field.
fn decode_struct<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        // serde reports a missing field as "missing field `x`" at the parent path.
        if let Some(rest) = msg.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or_default();
            let field = if path == "." || path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
            return Error::MissingField { field };
        }
        let message = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        Error::InvalidField { field: if path.is_empty() { ".".to_string() } else { path }, message }
    })
}

fn uuid_str(u: &Uuid) -> String {
    u.hyphenated().to_string()
}

impl Payload {
    /// The typed columns of this event.
    pub fn envelope(&self) -> Envelope {
        let mut e = Envelope::default();
        match self {
            Payload::CustomerRegistered(p) => {
                e.customer_id = Some(p.customer_id);
                e.code = Some(p.segment.as_str().into());
            }
            Payload::SiteRegistered(p) => {
                e.site_id = Some(p.site_id);
                e.customer_id = Some(p.customer_id);
                e.region = Some(p.region.clone());
                e.lat = Some(p.lat);
                e.lon = Some(p.lon);
            }
            Payload::ManufacturerRegistered(p) => e.manufacturer_id = Some(p.manufacturer_id),
            Payload::ProductDefined(p) => {
                e.product_id = Some(p.product_id);
                e.manufacturer_id = Some(p.manufacturer_id);
                e.minutes = Some(p.standard_repair_minutes);
            }
            Payload::EquipmentInstalled(p) => {
                e.equipment_id = Some(p.equipment_id);
                e.product_id = Some(p.product_id);
                e.site_id = Some(p.site_id);
                e.customer_id = Some(p.customer_id);
                e.business_date = Some(p.installed_on);
            }
            Payload::EquipmentDecommissioned(p) => {
                e.equipment_id = Some(p.equipment_id);
                e.business_date = Some(p.decommissioned_on);
            }
            Payload::CalendarDefined(p) => e.calendar_id = Some(p.calendar_id),
            Payload::ContractSigned(p) => {
                e.contract_id = Some(p.contract_id);
                e.customer_id = Some(p.customer_id);
                e.calendar_id = Some(p.calendar_id);
                e.code = Some(p.tier.clone());
                e.amount_cents = Some(p.monthly_fee_cents);
                e.currency = Some(p.currency.clone());
                e.business_date = Some(p.valid_from);
            }
            Payload::ContractTerminated(p) => {
                e.contract_id = Some(p.contract_id);
                e.business_date = Some(p.effective_on);
            }
            Payload::AgentRegistered(p) => e.agent_id = Some(p.agent_id),
            Payload::TechnicianHired(p) => {
                e.technician_id = Some(p.technician_id);
                e.agent_id = p.agent_id;
                e.region = Some(p.region.clone());
                e.calendar_id = Some(p.shift_calendar_id);
                e.lat = Some(p.home_lat);
                e.lon = Some(p.home_lon);
            }
            Payload::TechnicianLeft(p) => e.technician_id = Some(p.technician_id),
            Payload::PartDefined(p) => {
                e.part_id = Some(p.part_id);
                e.code = Some(p.component.clone());
                e.amount_cents = Some(p.price_cents);
                e.currency = Some(p.currency.clone());
            }
            Payload::StockLocationDefined(p) => {
                e.location_id = Some(p.location_id);
                e.code = Some(p.kind.as_str().into());
                e.region = Some(p.region.clone());
                e.technician_id = p.technician_id;
            }
            Payload::MaintenancePlanDefined(p) => {
                e.equipment_id = Some(p.equipment_id);
                e.business_date = Some(p.next_due_on);
            }
            Payload::OrderOpened(p) => {
                e.order_id = Some(p.order_id);
                e.customer_id = Some(p.customer_id);
                e.site_id = Some(p.site_id);
                e.equipment_id = Some(p.equipment_id);
                e.product_id = Some(p.product_id);
                e.calendar_id = Some(p.calendar_id);
                e.priority = Some(p.priority.as_str().into());
                e.code = Some(p.order_type.as_str().into());
                e.fault_code = Some(p.fault_code.clone());
                e.response_due_at = Some(p.response_due_at);
                e.resolution_due_at = Some(p.resolution_due_at);
            }
            Payload::EntitlementChecked(p) => {
                e.order_id = Some(p.order_id);
                e.contract_id = p.contract_id;
                e.code = Some(p.entitlement.as_str().into());
            }
            Payload::PriorityChanged(p) => {
                e.order_id = Some(p.order_id);
                e.priority = Some(p.to.as_str().into());
                e.response_due_at = Some(p.response_due_at);
                e.resolution_due_at = Some(p.resolution_due_at);
            }
            Payload::OrderAssigned(p) => {
                e.order_id = Some(p.order_id);
                e.technician_id = Some(p.technician_id);
                e.agent_id = p.agent_id;
            }
            Payload::OrderReassigned(p) => {
                e.order_id = Some(p.order_id);
                e.technician_id = Some(p.technician_id);
                e.agent_id = p.agent_id;
            }
            Payload::TravelStarted(p) => {
                e.order_id = Some(p.order_id);
                e.visit_id = Some(p.visit_id);
                e.technician_id = Some(p.technician_id);
                e.agent_id = p.agent_id;
            }
            Payload::Arrived(p) => {
                e.order_id = Some(p.order_id);
                e.visit_id = Some(p.visit_id);
                e.technician_id = Some(p.technician_id);
                e.agent_id = p.agent_id;
                e.lat = Some(p.lat);
                e.lon = Some(p.lon);
            }
            Payload::OrderPaused(p) => {
                e.order_id = Some(p.order_id);
                e.code = Some(p.reason.as_str().into());
            }
            Payload::OrderResumed(p) => e.order_id = Some(p.order_id),
            Payload::WorkLogged(p) => {
                e.order_id = Some(p.order_id);
                e.visit_id = Some(p.visit_id);
                e.technician_id = Some(p.technician_id);
                e.agent_id = p.agent_id;
                e.minutes = Some(p.minutes);
            }
            Payload::PartConsumed(p) => {
                e.order_id = Some(p.order_id);
                e.visit_id = Some(p.visit_id);
                e.technician_id = Some(p.technician_id);
                e.agent_id = p.agent_id;
                e.part_id = Some(p.part_id);
                e.location_id = Some(p.location_id);
                e.quantity = Some(p.quantity);
                e.amount_cents = Some(p.quantity.saturating_mul(p.unit_cost_cents));
            }
            Payload::VisitEnded(p) => {
                e.order_id = Some(p.order_id);
                e.visit_id = Some(p.visit_id);
                e.technician_id = Some(p.technician_id);
                e.agent_id = p.agent_id;
                e.code = Some(p.outcome.as_str().into());
            }
            Payload::OrderCompleted(p) => {
                e.order_id = Some(p.order_id);
                e.technician_id = p.technician_id;
                e.agent_id = p.agent_id;
            }
            Payload::OrderClosed(p) => {
                e.order_id = Some(p.order_id);
                e.csat = p.csat;
            }
            Payload::OrderCancelled(p) => e.order_id = Some(p.order_id),
            Payload::OrderReopened(p) => e.order_id = Some(p.order_id),
            Payload::InvoiceIssued(p) => {
                e.invoice_id = Some(p.invoice_id);
                e.order_id = p.order_id;
                e.contract_id = p.contract_id;
                e.customer_id = Some(p.customer_id);
                e.code = Some(p.bill_to.as_str().into());
                e.amount_cents = Some(p.total_cents);
                e.currency = Some(p.currency.clone());
                e.business_date = Some(p.due_on);
            }
            Payload::PaymentReceived(p) => {
                e.invoice_id = Some(p.invoice_id);
                e.customer_id = Some(p.customer_id);
                e.amount_cents = Some(p.amount_cents);
                e.currency = Some(p.currency.clone());
                e.business_date = Some(p.received_on);
            }
            Payload::CreditNoteIssued(p) => {
                e.invoice_id = Some(p.invoice_id);
                e.customer_id = Some(p.customer_id);
                e.amount_cents = Some(p.amount_cents);
                e.currency = Some(p.currency.clone());
                e.business_date = Some(p.issued_on);
            }
            Payload::ClaimFiled(p) => {
                e.claim_id = Some(p.claim_id);
                e.order_id = Some(p.order_id);
                e.agent_id = Some(p.agent_id);
                e.manufacturer_id = Some(p.manufacturer_id);
                e.equipment_id = Some(p.equipment_id);
                e.minutes = Some(p.labour_minutes);
                e.amount_cents = Some(p.amount_cents);
                e.currency = Some(p.currency.clone());
            }
            Payload::ClaimApproved(p) => {
                e.claim_id = Some(p.claim_id);
                e.agent_id = Some(p.agent_id);
                e.amount_cents = Some(p.approved_cents);
            }
            Payload::ClaimRejected(p) => {
                e.claim_id = Some(p.claim_id);
                e.agent_id = Some(p.agent_id);
                e.code = Some(p.reason_code.clone());
            }
            Payload::ClaimPaid(p) => {
                e.claim_id = Some(p.claim_id);
                e.agent_id = Some(p.agent_id);
                e.amount_cents = Some(p.amount_cents);
            }
            Payload::StockReceived(p) => {
                e.location_id = Some(p.location_id);
                e.part_id = Some(p.part_id);
                e.quantity = Some(p.quantity);
                e.amount_cents = Some(p.quantity.saturating_mul(p.unit_cost_cents));
            }
            Payload::StockTransferred(p) => {
                e.location_id = Some(p.location_id);
                e.part_id = Some(p.part_id);
                e.quantity = Some(p.quantity);
            }
            Payload::StockCounted(p) => {
                e.location_id = Some(p.location_id);
                e.part_id = Some(p.part_id);
                e.quantity = Some(p.counted);
            }
            Payload::ReorderPlaced(p) => {
                e.location_id = Some(p.location_id);
                e.part_id = Some(p.part_id);
                e.quantity = Some(p.quantity);
            }
        }
        e
    }

    /// The payload as a JSON object without the `type` tag (what the
    /// `payload` column of the lake holds).
    pub fn to_payload_json(&self) -> String {
        let mut out = Vec::with_capacity(256);
        self.write_payload_json(&mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Fields of the envelope in the JSON form; they are not part of a payload.
pub const ENVELOPE_FIELDS: &[&str] = &["event_id", "type", "schema_version", "occurred_at", "recorded_at", "source"];

impl Event {
    /// A new event from our own systems, with a fresh UUIDv7 id.
    pub fn new(occurred_at: DateTime<Utc>, source: impl Into<String>, payload: impl Into<Payload>) -> Event {
        Event {
            event_id: crate::ids::new_id(),
            schema_version: SCHEMA_VERSION,
            occurred_at,
            recorded_at: None,
            source: source.into(),
            payload: payload.into(),
        }
    }

    /// The `type` tag.
    pub fn event_type(&self) -> &'static str {
        self.payload.event_type()
    }

    /// The flat JSON form (envelope fields plus payload fields and `type`).
    pub fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("event_id".into(), Value::String(uuid_str(&self.event_id)));
        map.insert("type".into(), Value::String(self.event_type().into()));
        map.insert("schema_version".into(), Value::from(self.schema_version));
        map.insert("occurred_at".into(), Value::String(format_ts(&self.occurred_at)));
        if let Some(r) = &self.recorded_at {
            map.insert("recorded_at".into(), Value::String(format_ts(r)));
        }
        map.insert("source".into(), Value::String(self.source.clone()));
        if let Value::Object(p) = self.payload.payload_value() {
            for (k, v) in p {
                map.insert(k, v);
            }
        }
        Value::Object(map)
    }

    /// The flat JSON form as text.
    pub fn to_json(&self) -> String {
        self.to_value().to_string()
    }

    /// Decode the flat JSON form: the same result as
    /// [`Event::from_value`] of the parsed text.
    ///
    /// Valid events take a fast path that deserialises the envelope and the
    /// typed payload straight from the text (two passes, no intermediate
    /// `Value` tree); anything that path does not take as it stands (escaped
    /// strings in the envelope, duplicate keys, any error) goes the `Value`
    /// way, which names the failing field.
    pub fn from_json(text: &str) -> Result<Event> {
        if let Some(e) = Event::from_json_fast(text) {
            return Ok(e);
        }
        let value: Value = serde_json::from_str(text).map_err(|e| Error::MalformedJson { message: e.to_string() })?;
        Event::from_value(value)
    }

    /// Decode the flat JSON form from a parsed value.
    pub fn from_value(value: Value) -> Result<Event> {
        let Value::Object(mut map) = value else {
            return Err(Error::InvalidField { field: ".".into(), message: "an event must be a JSON object".into() });
        };
        let event_id = take_uuid(&mut map, "event_id")?;
        let event_type = match map.remove("type") {
            Some(Value::String(s)) => s,
            Some(other) => return Err(invalid("type", format!("expected a string, got {}", kind(&other)))),
            None => return Err(Error::MissingField { field: "type".into() }),
        };
        let schema_version = match map.remove("schema_version") {
            None => SCHEMA_VERSION,
            Some(Value::Number(n)) => {
                let v = n.as_i64().ok_or_else(|| invalid("schema_version", "expected an integer".into()))?;
                if v < 1 || v > i64::from(SCHEMA_VERSION) {
                    return Err(Error::UnsupportedSchemaVersion { version: v, supported: SCHEMA_VERSION });
                }
                i32::try_from(v).unwrap_or(SCHEMA_VERSION)
            }
            Some(other) => return Err(invalid("schema_version", format!("expected an integer, got {}", kind(&other)))),
        };
        let occurred_at =
            take_ts(&mut map, "occurred_at")?.ok_or_else(|| Error::MissingField { field: "occurred_at".into() })?;
        let recorded_at = take_ts(&mut map, "recorded_at")?;
        let source = match map.remove("source") {
            Some(Value::String(s)) => s,
            None | Some(Value::Null) => "unknown".to_string(),
            Some(other) => return Err(invalid("source", format!("expected a string, got {}", kind(&other)))),
        };
        let payload = Payload::from_type_and_value(&event_type, Value::Object(map))?;
        // The lake keeps instants in microseconds; truncate here so an event
        // reads back from the lake exactly as it was decoded.
        Ok(Event {
            event_id,
            schema_version,
            occurred_at: truncate_micros(occurred_at),
            recorded_at: recorded_at.map(truncate_micros),
            source,
            payload,
        })
    }
}

/// The envelope read straight from an event's JSON text (borrowed; a string
/// with escapes fails and the slow path takes over).
#[derive(Deserialize)]
struct FastEnvelope<'a> {
    event_id: &'a str,
    #[serde(rename = "type")]
    event_type: &'a str,
    /// Absent: the current version; `null` fails (the slow path rejects it).
    #[serde(default = "absent_version")]
    schema_version: i64,
    occurred_at: &'a str,
    #[serde(default)]
    recorded_at: Option<&'a str>,
    #[serde(default)]
    source: Option<&'a str>,
}

fn absent_version() -> i64 {
    i64::from(SCHEMA_VERSION)
}

impl Event {
    fn from_json_fast(text: &str) -> Option<Event> {
        // serde also reads a struct from a JSON array; an event is an object.
        if !text.trim_start().starts_with('{') {
            return None;
        }
        let env: FastEnvelope<'_> = serde_json::from_str(text).ok()?;
        if env.schema_version < 1 || env.schema_version > i64::from(SCHEMA_VERSION) {
            return None;
        }
        let event_id = Uuid::parse_str(env.event_id).ok()?;
        let occurred_at = parse_ts("occurred_at", env.occurred_at).ok()?;
        let recorded_at = match env.recorded_at {
            Some(s) => Some(parse_ts("recorded_at", s).ok()?),
            None => None,
        };
        let payload = Payload::from_type_and_str(env.event_type, text)?;
        Some(Event {
            event_id,
            schema_version: i32::try_from(env.schema_version).ok()?,
            occurred_at: truncate_micros(occurred_at),
            recorded_at: recorded_at.map(truncate_micros),
            source: env.source.unwrap_or("unknown").to_string(),
            payload,
        })
    }
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.to_value().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Event::from_value(v).map_err(serde::de::Error::custom)
    }
}

fn invalid(field: &str, message: String) -> Error {
    Error::InvalidField { field: field.into(), message }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn take_uuid(map: &mut Map<String, Value>, field: &str) -> Result<Uuid> {
    match map.remove(field) {
        Some(Value::String(s)) => Uuid::parse_str(&s).map_err(|e| invalid(field, format!("not a UUID: {e}"))),
        Some(other) => Err(invalid(field, format!("expected a UUID string, got {}", kind(&other)))),
        None => Err(Error::MissingField { field: field.into() }),
    }
}

/// Parse an RFC 3339 timestamp that carries a zone (`Z` or an offset).
/// Timestamps without a zone are rejected: they are ambiguous.
pub fn parse_ts(field: &str, s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).map_err(|_| {
        if chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").is_ok() {
            invalid(field, format!("timestamp `{s}` has no time zone; add `Z` or an offset like `+01:00`"))
        } else {
            invalid(field, format!("`{s}` is not an RFC 3339 timestamp"))
        }
    })
}

fn take_ts(map: &mut Map<String, Value>, field: &str) -> Result<Option<DateTime<Utc>>> {
    match map.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_ts(field, &s).map(Some),
        Some(other) => Err(invalid(field, format!("expected an RFC 3339 timestamp string, got {}", kind(&other)))),
    }
}

/// RFC 3339 with microseconds and `Z`, the one way we write instants.
pub fn format_ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Drop sub-microsecond precision.
pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}
