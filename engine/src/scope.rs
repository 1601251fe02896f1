//! Who is asking: [`Caller`] and [`Role`], and the row scope of a caller
//! bound to one service agent.
//!
//! A caller with an `agent_id` never sees the raw `events` table: the session
//! registers `events` as [`PARTNER_EVENTS_SQL`] over the lake (agent bound as
//! a parameter), and every view, KPI and ad-hoc query is planned over that.
//! What the agent sees:
//!
//! - every event carrying its own `agent_id` (its assignments, visits, work,
//!   parts, claims, its technicians, itself);
//! - events without an agent (`agent_id` NULL) of orders that it ever touched
//!   (opened, entitlement, priority, pauses, completion, closing, invoices);
//! - payments and credit notes of those orders' invoices;
//! - shared reference data (customers, sites, manufacturers, products,
//!   equipment, calendars, contracts, parts, maintenance plans), stock
//!   locations that are not another agent's van, and their stock movements.
//!
//! Never another agent's rows: an event whose `agent_id` is another agent is
//! dropped whatever order it belongs to.

use std::str::FromStr;

use uuid::Uuid;

/// A reader role (see DESIGN.md, "Security").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Manager,
    Dispatcher,
    Technician,
    Engineer,
    Finance,
    Partner,
}

impl Role {
    /// Every role.
    pub const ALL: &'static [Role] =
        &[Role::Admin, Role::Manager, Role::Dispatcher, Role::Technician, Role::Engineer, Role::Finance, Role::Partner];

    /// The lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Dispatcher => "dispatcher",
            Role::Technician => "technician",
            Role::Engineer => "engineer",
            Role::Finance => "finance",
            Role::Partner => "partner",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL.iter().copied().find(|r| r.as_str() == s.trim()).ok_or_else(|| {
            format!("`{s}` is not a role; one of {}", Role::ALL.iter().map(Role::as_str).collect::<Vec<_>>().join(", "))
        })
    }
}

/// Who runs a query. A caller with `agent_id` sees only that agent's rows.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Caller {
    pub role: Role,
    /// The service agent a partner is bound to.
    #[serde(default)]
    pub agent_id: Option<Uuid>,
}

impl Caller {
    /// An unscoped administrator (the CLI on the machine that holds the lake).
    pub fn admin() -> Caller {
        Caller { role: Role::Admin, agent_id: None }
    }

    /// A caller with `role`, not bound to an agent.
    pub fn with_role(role: Role) -> Caller {
        Caller { role, agent_id: None }
    }

    /// A partner bound to `agent_id`.
    pub fn partner(agent_id: Uuid) -> Caller {
        Caller { role: Role::Partner, agent_id: Some(agent_id) }
    }

    /// The agent whose rows are the only ones this caller may see. A partner
    /// without an agent is refused rather than shown everything.
    pub(crate) fn scope(&self) -> crate::Result<Option<Uuid>> {
        match (self.role, self.agent_id) {
            (Role::Partner, None) => {
                Err(crate::Error::Forbidden { message: "a partner caller must be bound to an agent".into() })
            }
            (_, agent) => Ok(agent),
        }
    }
}

/// The `events` an agent-bound caller sees; `$agent` is bound to the agent id
/// (text), the lake table is `events`.
pub const PARTNER_EVENTS_SQL: &str = "
WITH agent_orders AS (
    SELECT DISTINCT order_id FROM events WHERE agent_id = $agent AND order_id IS NOT NULL
), agent_techs AS (
    SELECT DISTINCT technician_id FROM events WHERE event_type = 'technician_hired' AND agent_id = $agent
), agent_invoices AS (
    SELECT DISTINCT i.invoice_id FROM events i JOIN agent_orders o ON i.order_id = o.order_id
    WHERE i.event_type = 'invoice_issued'
), visible_locations AS (
    SELECT DISTINCT l.location_id FROM events l LEFT JOIN agent_techs t ON l.technician_id = t.technician_id
    WHERE l.event_type = 'stock_location_defined' AND (l.technician_id IS NULL OR t.technician_id IS NOT NULL)
)
SELECT e.* FROM events e
LEFT JOIN agent_orders ao ON e.order_id = ao.order_id
LEFT JOIN agent_invoices ai ON e.invoice_id = ai.invoice_id
LEFT JOIN agent_techs atc ON e.technician_id = atc.technician_id
LEFT JOIN visible_locations vl ON e.location_id = vl.location_id
WHERE e.agent_id = $agent
   OR (e.agent_id IS NULL AND (
        e.event_type IN ('customer_registered', 'site_registered', 'manufacturer_registered', 'product_defined',
                         'equipment_installed', 'equipment_decommissioned', 'calendar_defined', 'contract_signed',
                         'contract_terminated', 'part_defined', 'maintenance_plan_defined')
     OR (e.order_id IS NOT NULL AND ao.order_id IS NOT NULL)
     OR (e.event_type IN ('payment_received', 'credit_note_issued') AND ai.invoice_id IS NOT NULL)
     OR (e.event_type = 'technician_left' AND atc.technician_id IS NOT NULL)
     OR (e.event_type IN ('stock_location_defined', 'stock_received', 'stock_transferred', 'stock_counted',
                          'reorder_placed') AND vl.location_id IS NOT NULL)
   ))
";
