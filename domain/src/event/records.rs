//! Nested records: the structs payloads carry inside them (SLA terms,
//! invoice lines, claim parts, claim rates).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{LineKind, Priority};

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
