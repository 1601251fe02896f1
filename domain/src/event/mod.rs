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
//!
//! The contract is split by concept: the string enumerations (`enums`), the
//! records nested in payloads (`records`), the payload structs of master data
//! (`master`) and of operations (`operations`), the typed columns of the wide
//! table (`envelope`) and the flat JSON form (`json`). Everything is
//! re-exported here, so every item keeps its path `event::Item`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::{Error, Result};

mod enums;
mod envelope;
mod json;
mod master;
mod operations;
mod records;

pub use enums::{
    BillTo, Channel, Entitlement, LineKind, LocationKind, OrderType, PauseReason, Priority, Segment, VisitOutcome,
};
pub use envelope::Envelope;
pub use json::{ENVELOPE_FIELDS, format_ts, json_kind, parse_ts, truncate_micros};
pub use master::{
    AgentRegistered, CalendarDefined, ContractSigned, ContractTerminated, CustomerRegistered, EquipmentDecommissioned,
    EquipmentInstalled, MaintenancePlanDefined, ManufacturerRegistered, PartDefined, ProductDefined, SiteRegistered,
    StockLocationDefined, TechnicianHired, TechnicianLeft,
};
pub use operations::{
    Arrived, ClaimApproved, ClaimFiled, ClaimPaid, ClaimRejected, CreditNoteIssued, EntitlementChecked, InvoiceIssued,
    OrderAssigned, OrderCancelled, OrderClosed, OrderCompleted, OrderOpened, OrderPaused, OrderReassigned,
    OrderReopened, OrderResumed, PartConsumed, PaymentReceived, PriorityChanged, ReorderPlaced, StockCounted,
    StockReceived, StockTransferred, TravelStarted, VisitEnded, WorkLogged,
};
pub use records::{ClaimPart, ClaimRate, InvoiceLine, SlaTerm};

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
