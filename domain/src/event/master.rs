//! Payloads of the master-data events (group `master`), one struct per
//! event type: customers, sites, products, equipment, calendars, contracts,
//! agents, technicians, parts, stock locations, maintenance plans.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ClaimRate, LocationKind, Segment, SlaTerm};
use crate::calendar::Calendar;

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
