//! The commands on orders: the request bodies of opening an order and of
//! every action after it, and the filter of the order list.

use chrono::{DateTime, Utc};
use fieldhouse_domain::event::{Channel, OrderType, PauseReason, Priority, VisitOutcome};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::OrderState;

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

/// Filter for [`Ops::list_orders`](crate::Ops::list_orders).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFilter {
    #[serde(default)]
    pub state: Option<OrderState>,
    #[serde(default)]
    pub technician_id: Option<Uuid>,
    #[serde(default)]
    pub equipment_id: Option<Uuid>,
}
