//! Warranty claims: an agent claims warranty work from the manufacturer;
//! the manufacturer approves (fully or partly) or rejects with a reason
//! code; settlement runs pay approved claims.
//!
//! Claim amount = labour minutes at the agent's claim rate for the product's
//! manufacturer + parts at list price. Claim states: `filed` → `approved` →
//! `paid`, or `filed` → `rejected`. Duplicate claims for one order are
//! accepted (the warehouse flags them as suspect; so does the manufacturer).

use chrono::{DateTime, Utc};
use fieldhouse_domain::event::{
    AgentRegistered, ClaimApproved, ClaimFiled, ClaimPaid, ClaimPart, ClaimRejected, Entitlement, PartDefined,
    ProductDefined,
};
use fieldhouse_domain::money::labour_cents;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::{self, RowExt};
use crate::master::{self, MasterKind};
use crate::orders::{OrderState, load_order};
use crate::service::{Ops, Page, SOURCE_OPS};
use crate::{Error, Result};

/// A part on a claim request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimPartRequest {
    pub part_id: Uuid,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileClaim {
    pub order_id: Uuid,
    pub labour_minutes: i64,
    /// Defaults to the parts consumed on the order.
    #[serde(default)]
    pub parts: Option<Vec<ClaimPartRequest>>,
    /// Defaults to the order's first arrival event.
    #[serde(default)]
    pub arrival_event_id: Option<Uuid>,
    #[serde(default)]
    pub photos: i64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApproveClaim {
    /// Defaults to the full amount claimed.
    #[serde(default)]
    pub approved_cents: Option<i64>,
    #[serde(default)]
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectClaim {
    pub reason_code: String,
    #[serde(default)]
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettleClaims {
    /// Only this agent's claims; all agents when absent.
    #[serde(default)]
    pub agent_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimState {
    Filed,
    Approved,
    Rejected,
    Paid,
}

impl ClaimState {
    pub fn as_str(&self) -> &'static str {
        match self {
            ClaimState::Filed => "filed",
            ClaimState::Approved => "approved",
            ClaimState::Rejected => "rejected",
            ClaimState::Paid => "paid",
        }
    }
}

impl std::str::FromStr for ClaimState {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "filed" => Ok(ClaimState::Filed),
            "approved" => Ok(ClaimState::Approved),
            "rejected" => Ok(ClaimState::Rejected),
            "paid" => Ok(ClaimState::Paid),
            _ => Err(format!("`{s}` is not a claim state")),
        }
    }
}

/// A claim as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimView {
    #[serde(flatten)]
    pub filed: ClaimFiled,
    pub state: ClaimState,
    pub approved_cents: Option<i64>,
    pub reason_code: Option<String>,
    pub reason: Option<String>,
    pub settlement_id: Option<Uuid>,
    pub filed_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
}

fn map_claim(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, ClaimView0)> {
    Ok((
        r.get("body")?,
        ClaimView0 {
            state: r.parsed("state")?,
            approved_cents: r.get("approved_cents")?,
            reason_code: r.get("reason_code")?,
            reason: r.get("reason")?,
            settlement_id: r.opt_uuid("settlement_id")?,
            filed_at: r.instant("filed_at")?,
            decided_at: r.opt_instant("decided_at")?,
            paid_at: r.opt_instant("paid_at")?,
        },
    ))
}

struct ClaimView0 {
    state: ClaimState,
    approved_cents: Option<i64>,
    reason_code: Option<String>,
    reason: Option<String>,
    settlement_id: Option<Uuid>,
    filed_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    paid_at: Option<DateTime<Utc>>,
}

fn finish(v: (String, ClaimView0)) -> Result<ClaimView> {
    let (body, c) = v;
    Ok(ClaimView {
        filed: serde_json::from_str(&body)?,
        state: c.state,
        approved_cents: c.approved_cents,
        reason_code: c.reason_code,
        reason: c.reason,
        settlement_id: c.settlement_id,
        filed_at: c.filed_at,
        decided_at: c.decided_at,
        paid_at: c.paid_at,
    })
}

fn load_claim(conn: &Connection, id: Uuid) -> Result<ClaimView> {
    let row =
        conn.prepare_cached("SELECT * FROM claims WHERE id = ?1")?.query_row([db::id(id)], map_claim).optional()?;
    finish(row.ok_or_else(|| Error::not_found("claim", id))?)
}

fn transition_error(action: &'static str, state: ClaimState) -> Error {
    Error::Transition { entity: "claim", action, state: state.as_str().to_string() }
}

impl Ops {
    /// File a warranty claim for a completed (or closed) warranty order done by an agent.
    pub fn file_claim(&self, c: FileClaim) -> Result<ClaimView> {
        if !(0..=10_000).contains(&c.labour_minutes) {
            return Err(Error::invalid("labour_minutes", "must be 0..=10000"));
        }
        if c.photos < 0 {
            return Err(Error::invalid("photos", "must be >= 0"));
        }
        self.write(SOURCE_OPS, |tx| {
            let o = load_order(tx, c.order_id)?;
            if !matches!(o.state, OrderState::Completed | OrderState::Closed) {
                return Err(Error::Transition {
                    entity: "order",
                    action: "file a claim for",
                    state: o.state.as_str().to_string(),
                });
            }
            if o.entitlement != Entitlement::Warranty {
                return Err(Error::invalid("order_id", format!("the order is {}, not warranty", o.entitlement)));
            }
            let agent_id =
                o.agent_id.ok_or_else(|| Error::invalid("order_id", "own-staff work is not claimed by an agent"))?;
            let agent: AgentRegistered = master::body(tx, MasterKind::Agent, agent_id)?;
            let product: ProductDefined = master::body(tx, MasterKind::Product, o.product_id)?;
            let rate = agent
                .claim_rates
                .iter()
                .find(|r| r.manufacturer_id == product.manufacturer_id)
                .map(|r| r.labour_rate_cents_per_hour)
                .ok_or_else(|| {
                    Error::invalid("order_id", format!("agent {} has no claim rate for the manufacturer", agent.name))
                })?;
            let requested = match &c.parts {
                Some(p) => p.clone(),
                None => {
                    let mut stmt = tx.prepare_cached(
                        "SELECT part_id, SUM(quantity) FROM consumptions WHERE order_id = ?1 GROUP BY part_id ORDER BY MIN(id)",
                    )?;
                    let rows = stmt.query_map([db::id(c.order_id)], |r| {
                        Ok(ClaimPartRequest { part_id: r.uuid("part_id")?, quantity: r.get(1)? })
                    })?;
                    rows.collect::<rusqlite::Result<Vec<_>>>()?
                }
            };
            let mut parts = Vec::new();
            for p in requested {
                if p.quantity <= 0 {
                    return Err(Error::invalid("parts.quantity", "must be positive"));
                }
                let part: PartDefined = master::body(tx, MasterKind::Part, p.part_id)?;
                parts.push(ClaimPart { part_id: p.part_id, quantity: p.quantity, amount_cents: p.quantity * part.price_cents });
            }
            let arrival_event_id = match c.arrival_event_id {
                Some(e) => Some(e),
                None => tx
                    .prepare_cached(
                        "SELECT arrival_event_id FROM visits WHERE order_id = ?1 AND arrival_event_id IS NOT NULL
                         ORDER BY arrived_at LIMIT 1",
                    )?
                    .query_row([db::id(c.order_id)], |r| r.opt_uuid("arrival_event_id"))
                    .optional()?
                    .flatten(),
            };
            let amount_cents = labour_cents(c.labour_minutes, rate) + parts.iter().map(|p| p.amount_cents).sum::<i64>();
            let claim_id = tx.new_id(c.at);
            let ev = ClaimFiled {
                claim_id,
                order_id: c.order_id,
                agent_id,
                manufacturer_id: product.manufacturer_id,
                equipment_id: o.equipment_id,
                labour_minutes: c.labour_minutes,
                parts,
                amount_cents,
                currency: crate::billing::DEFAULT_CURRENCY.to_string(),
                arrival_event_id,
                photos: c.photos,
            };
            tx.prepare_cached(
                "INSERT INTO claims (id, order_id, agent_id, manufacturer_id, state, amount_cents, filed_at, body)
                 VALUES (?1, ?2, ?3, ?4, 'filed', ?5, ?6, ?7)",
            )?
            .execute(params![
                db::id(claim_id),
                db::id(c.order_id),
                db::id(agent_id),
                db::id(product.manufacturer_id),
                amount_cents,
                db::ts(c.at),
                serde_json::to_string(&ev)?
            ])?;
            tx.emit(c.at, ev)?;
            load_claim(tx, claim_id)
        })
    }

    /// The manufacturer approves a filed claim, fully or partly.
    pub fn approve_claim(&self, claim_id: Uuid, c: ApproveClaim) -> Result<ClaimView> {
        self.write(SOURCE_OPS, |tx| {
            let claim = load_claim(tx, claim_id)?;
            if claim.state != ClaimState::Filed {
                return Err(transition_error("approve", claim.state));
            }
            let approved = c.approved_cents.unwrap_or(claim.filed.amount_cents);
            if !(0..=claim.filed.amount_cents).contains(&approved) {
                return Err(Error::invalid(
                    "approved_cents",
                    format!("must be 0..={} (the amount claimed)", claim.filed.amount_cents),
                ));
            }
            tx.prepare_cached(
                "UPDATE claims SET state = 'approved', approved_cents = ?2, reason = ?3, decided_at = ?4 WHERE id = ?1",
            )?
            .execute(params![db::id(claim_id), approved, c.note, db::ts(c.at)])?;
            tx.emit(
                c.at,
                ClaimApproved {
                    claim_id,
                    agent_id: claim.filed.agent_id,
                    approved_cents: approved,
                    note: c.note.clone(),
                },
            )?;
            load_claim(tx, claim_id)
        })
    }

    /// The manufacturer rejects a filed claim with a reason code.
    pub fn reject_claim(&self, claim_id: Uuid, c: RejectClaim) -> Result<ClaimView> {
        if c.reason_code.trim().is_empty() {
            return Err(Error::invalid("reason_code", "required"));
        }
        self.write(SOURCE_OPS, |tx| {
            let claim = load_claim(tx, claim_id)?;
            if claim.state != ClaimState::Filed {
                return Err(transition_error("reject", claim.state));
            }
            tx.prepare_cached(
                "UPDATE claims SET state = 'rejected', reason_code = ?2, reason = ?3, decided_at = ?4 WHERE id = ?1",
            )?
            .execute(params![db::id(claim_id), c.reason_code, c.reason, db::ts(c.at)])?;
            tx.emit(
                c.at,
                ClaimRejected {
                    claim_id,
                    agent_id: claim.filed.agent_id,
                    reason_code: c.reason_code.clone(),
                    reason: c.reason.clone(),
                },
            )?;
            load_claim(tx, claim_id)
        })
    }

    /// Pay every approved claim (of one agent, or all): one settlement id per agent.
    pub fn settle_claims(&self, c: SettleClaims) -> Result<Vec<ClaimView>> {
        self.write(SOURCE_OPS, |tx| {
            let ids: Vec<(String, String, i64)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, agent_id, approved_cents FROM claims WHERE state = 'approved'
                       AND (?1 IS NULL OR agent_id = ?1) ORDER BY agent_id, id",
                )?;
                stmt.query_map([c.agent_id.map(db::id)], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut out = Vec::new();
            let mut current: Option<(String, Uuid)> = None;
            for (id, agent, approved) in ids {
                let settlement_id = match &current {
                    Some((a, s)) if *a == agent => *s,
                    _ => {
                        let s = tx.new_id(c.at);
                        current = Some((agent.clone(), s));
                        s
                    }
                };
                let claim_id = Uuid::parse_str(&id).map_err(|e| Error::corrupt(e.to_string()))?;
                let agent_id = Uuid::parse_str(&agent).map_err(|e| Error::corrupt(e.to_string()))?;
                tx.prepare_cached("UPDATE claims SET state = 'paid', settlement_id = ?2, paid_at = ?3 WHERE id = ?1")?
                    .execute(params![id, db::id(settlement_id), db::ts(c.at)])?;
                tx.emit(c.at, ClaimPaid { claim_id, agent_id, settlement_id, amount_cents: approved })?;
                out.push(load_claim(tx, claim_id)?);
            }
            Ok(out)
        })
    }

    /// One claim.
    pub fn claim(&self, claim_id: Uuid) -> Result<ClaimView> {
        self.read(|c| load_claim(c, claim_id))
    }

    /// A page of claims by id, optionally one agent's and/or in one state.
    pub fn list_claims(
        &self,
        agent_id: Option<Uuid>,
        state: Option<ClaimState>,
        page: &Page,
    ) -> Result<Vec<ClaimView>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT * FROM claims WHERE id > ?1 AND (?2 IS NULL OR agent_id = ?2) AND (?3 IS NULL OR state = ?3)
                 ORDER BY id LIMIT ?4",
            )?;
            let rows = stmt.query_map(
                params![page.after_str(), agent_id.map(db::id), state.map(|s| s.as_str()), page.limit_i64()],
                map_claim,
            )?;
            rows.map(|r| finish(r?)).collect()
        })
    }
}
