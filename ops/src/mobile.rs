//! Mobile sync: a technician's app uploads the actions it recorded offline.
//!
//! Each action carries a client-generated id and the instant it happened.
//! Actions are applied in the order given, each in its own transaction
//! together with the record of its client id, so re-sending a batch applies
//! nothing twice (`duplicate`), a rejected action changes nothing and does
//! not stop the others, and a rejected action may be sent again later.
//! Events from this path have source `mobile`.

use chrono::{DateTime, Utc};
use fieldhouse_domain::event::VisitOutcome;
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db;
use crate::orders::{self, Arrive, CloseOrder, ConsumePart, EndVisit, LogWork, StartTravel, load_order};
use crate::service::{Ops, SOURCE_MOBILE};
use crate::{Error, Result};

/// A batch from one technician's device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MobileBatch {
    pub technician_id: Uuid,
    pub actions: Vec<MobileAction>,
}

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MobileAction {
    /// Unique per device action (e.g. a UUID the app generated).
    pub client_id: String,
    pub order_id: Uuid,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub kind: MobileActionKind,
}

/// What the technician did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MobileActionKind {
    Travel,
    Arrive { lat: f64, lon: f64 },
    PartConsumed { part_id: Uuid, location_id: Uuid, quantity: i64 },
    WorkLogged { minutes: i64 },
    VisitEnded { outcome: VisitOutcome },
    Close { signed_by: String, csat: Option<i32> },
}

impl MobileActionKind {
    fn name(&self) -> &'static str {
        match self {
            MobileActionKind::Travel => "travel",
            MobileActionKind::Arrive { .. } => "arrive",
            MobileActionKind::PartConsumed { .. } => "part_consumed",
            MobileActionKind::WorkLogged { .. } => "work_logged",
            MobileActionKind::VisitEnded { .. } => "visit_ended",
            MobileActionKind::Close { .. } => "close",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Applied,
    Duplicate,
    Rejected,
}

/// The result of one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionResult {
    pub client_id: String,
    pub status: ActionStatus,
    /// Error code when rejected (`transition_not_allowed`, `out_of_stock`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Per-action results, in the batch's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    pub applied: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub results: Vec<ActionResult>,
}

impl Ops {
    /// Apply a batch of offline actions; see the module docs.
    pub fn sync_mobile(&self, batch: &MobileBatch) -> Result<SyncReport> {
        let mut writer = self.writer();
        let mut results = Vec::with_capacity(batch.actions.len());
        for a in &batch.actions {
            let result = writer.transact(SOURCE_MOBILE, |tx| {
                if a.client_id.trim().is_empty() || a.client_id.len() > 200 {
                    return Err(Error::invalid("client_id", "must be 1..=200 characters"));
                }
                let seen = tx
                    .prepare_cached("SELECT 1 FROM mobile_actions WHERE client_id = ?1")?
                    .query_row([&a.client_id], |_| Ok(()))
                    .optional()?;
                if seen.is_some() {
                    return Ok(ActionStatus::Duplicate);
                }
                let o = load_order(tx, a.order_id)?;
                if o.technician_id != Some(batch.technician_id) {
                    return Err(Error::invalid("order_id", "the order is not assigned to this technician"));
                }
                let (id, at) = (a.order_id, a.at);
                match &a.kind {
                    MobileActionKind::Travel => orders::start_travel_tx(tx, id, &StartTravel { at })?,
                    MobileActionKind::Arrive { lat, lon } => orders::arrive_tx(tx, id, &Arrive { lat: *lat, lon: *lon, at })?,
                    MobileActionKind::PartConsumed { part_id, location_id, quantity } => orders::consume_part_tx(
                        tx,
                        id,
                        &ConsumePart { part_id: *part_id, location_id: *location_id, quantity: *quantity, at },
                    )?,
                    MobileActionKind::WorkLogged { minutes } => {
                        orders::log_work_tx(tx, id, &LogWork { minutes: *minutes, at })?
                    }
                    MobileActionKind::VisitEnded { outcome } => {
                        orders::end_visit_tx(tx, id, &EndVisit { outcome: *outcome, at })?
                    }
                    MobileActionKind::Close { signed_by, csat } => {
                        orders::close_tx(tx, id, &CloseOrder { signed_by: signed_by.clone(), csat: *csat, at })?
                    }
                };
                tx.prepare_cached(
                    "INSERT INTO mobile_actions (client_id, technician_id, action_type, applied_at) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![a.client_id, db::id(batch.technician_id), a.kind.name(), db::ts(a.at)])?;
                Ok(ActionStatus::Applied)
            });
            results.push(match result {
                Ok(status) => ActionResult { client_id: a.client_id.clone(), status, error: None, reason: None },
                Err(e) if e.code() == "internal" => return Err(e),
                Err(e) => ActionResult {
                    client_id: a.client_id.clone(),
                    status: ActionStatus::Rejected,
                    error: Some(e.code().to_string()),
                    reason: Some(e.to_string()),
                },
            });
        }
        let count = |s| results.iter().filter(|r| r.status == s).count();
        Ok(SyncReport {
            applied: count(ActionStatus::Applied),
            duplicates: count(ActionStatus::Duplicate),
            rejected: count(ActionStatus::Rejected),
            results,
        })
    }
}
