//! The typed columns of the wide `events` table: [`Envelope`], taken from a
//! payload by [`Payload::envelope`], and the payload column's JSON.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::Payload;

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
