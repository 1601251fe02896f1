//! Who is asking: [`Caller`] and [`Role`], and the row scope of a caller
//! bound to one service agent.
//!
//! A caller with an `agent_id` never sees the raw `events` table: the session
//! registers `events` as [`partner_events_sql`] over the lake (agent bound as
//! the parameter `$agent`), and every view, KPI and ad-hoc query is planned
//! over that. This module is the one place that says what a partner sees.
//!
//! What a service agent may see, in domain terms:
//!
//! - **its own work**: every event carrying its `agent_id`: itself
//!   (`agent_registered`), its technicians, the assignments, travel, arrivals,
//!   work, parts and visit ends of its technicians, completions by them, and
//!   its warranty claims with their decisions and payments;
//! - **its orders**: the order-level events without an agent or technician
//!   (opened, entitlement checked, priority changed, paused, resumed,
//!   completed, closed, cancelled, reopened) of every order it worked on or
//!   filed a claim for; a completion by somebody else shows without that
//!   technician;
//! - **the master data those orders and claims refer to**: their equipment
//!   (installation, decommissioning), sites, customers, products, the
//!   manufacturers of those products, of its claims and of its claim rates,
//!   the contracts its orders were entitled under, the calendars of its orders,
//!   contracts and technicians' shifts, the parts it consumed or claimed;
//! - **its technicians' vans**: those stock locations and their stock
//!   movements.
//!
//! Nothing else: no other agent's rows (an event whose `agent_id` is another
//! agent is dropped whatever order it belongs to), no own-staff visits, no
//! invoices, payments or credit notes (the organisation's billing of its
//! customers), no warehouses' stock, no maintenance plans, no master data no
//! order or claim of its own refers to. Ids of other parties inside payloads
//! are removed: `from_technician_id` of a reassignment, the covered
//! `equipment_ids` of a contract, `from_location_id` of a transfer into a van,
//! and the technician of a completion by somebody else. The dead letters
//! (`rejected_events`) are for unscoped readers only.

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

/// The order-level events of an agent's orders that it sees even when they
/// carry no agent (see the module doc).
const ORDER_LEVEL: &str = "'order_opened', 'entitlement_checked', 'priority_changed', 'order_paused', \
    'order_resumed', 'order_completed', 'order_closed', 'order_cancelled', 'order_reopened'";

/// The sets of ids an agent-bound caller may see, in dependency order: each
/// is a query over the lake's `events` and the sets before it (`$agent`: the
/// agent id as text), computed once per session and kept (a set is read by
/// several later ones and by the branches of [`partner_events_sql`]). Every
/// set is distinct.
pub const PARTNER_SETS: &[(&str, &str)] = &[
    (
        "own",
        "SELECT event_type, order_id, technician_id, equipment_id, manufacturer_id, part_id, calendar_id, payload \
         FROM events WHERE agent_id = $agent",
    ),
    ("agent_orders", "SELECT DISTINCT order_id FROM own WHERE order_id IS NOT NULL"),
    ("agent_techs", "SELECT DISTINCT technician_id FROM own WHERE event_type = 'technician_hired'"),
    (
        "order_refs",
        "SELECT e.event_type, e.customer_id, e.site_id, e.equipment_id, e.product_id, e.calendar_id, e.contract_id \
         FROM events e JOIN agent_orders o ON e.order_id = o.order_id \
         WHERE e.event_type IN ('order_opened', 'entitlement_checked') AND e.agent_id IS NULL",
    ),
    (
        "agent_equipment",
        "SELECT equipment_id FROM order_refs WHERE equipment_id IS NOT NULL \
         UNION SELECT equipment_id FROM own WHERE event_type = 'claim_filed' AND equipment_id IS NOT NULL",
    ),
    (
        "equipment_refs",
        "SELECT e.site_id, e.customer_id, e.product_id \
         FROM events e JOIN agent_equipment q ON e.equipment_id = q.equipment_id \
         WHERE e.event_type = 'equipment_installed'",
    ),
    (
        "agent_sites",
        "SELECT site_id FROM order_refs WHERE site_id IS NOT NULL \
         UNION SELECT site_id FROM equipment_refs WHERE site_id IS NOT NULL",
    ),
    ("agent_contracts", "SELECT DISTINCT contract_id FROM order_refs WHERE contract_id IS NOT NULL"),
    (
        "contract_refs",
        "SELECT e.customer_id, e.calendar_id \
         FROM events e JOIN agent_contracts k ON e.contract_id = k.contract_id \
         WHERE e.event_type = 'contract_signed'",
    ),
    (
        "agent_customers",
        "SELECT customer_id FROM order_refs WHERE customer_id IS NOT NULL \
         UNION SELECT customer_id FROM equipment_refs WHERE customer_id IS NOT NULL \
         UNION SELECT e.customer_id FROM events e JOIN agent_sites s ON e.site_id = s.site_id \
               WHERE e.event_type = 'site_registered' AND e.customer_id IS NOT NULL \
         UNION SELECT customer_id FROM contract_refs WHERE customer_id IS NOT NULL",
    ),
    (
        "agent_products",
        "SELECT product_id FROM order_refs WHERE product_id IS NOT NULL \
         UNION SELECT product_id FROM equipment_refs WHERE product_id IS NOT NULL",
    ),
    (
        "agent_manufacturers",
        "SELECT e.manufacturer_id FROM events e JOIN agent_products p ON e.product_id = p.product_id \
         WHERE e.event_type = 'product_defined' AND e.manufacturer_id IS NOT NULL \
         UNION SELECT manufacturer_id FROM own WHERE event_type = 'claim_filed' AND manufacturer_id IS NOT NULL \
         UNION SELECT CAST(json_str(r, 'manufacturer_id') AS VARCHAR) FROM ( \
             SELECT unnest(json_array(payload, 'claim_rates')) AS r FROM own WHERE event_type = 'agent_registered' \
         ) rates",
    ),
    (
        "agent_calendars",
        "SELECT calendar_id FROM order_refs WHERE calendar_id IS NOT NULL \
         UNION SELECT calendar_id FROM contract_refs WHERE calendar_id IS NOT NULL \
         UNION SELECT calendar_id FROM own WHERE event_type = 'technician_hired' AND calendar_id IS NOT NULL",
    ),
    (
        "agent_parts",
        "SELECT part_id FROM own WHERE event_type = 'part_consumed' AND part_id IS NOT NULL \
         UNION SELECT CAST(json_str(p, 'part_id') AS VARCHAR) FROM ( \
             SELECT unnest(json_array(payload, 'parts')) AS p FROM own WHERE event_type = 'claim_filed' \
         ) claimed",
    ),
    (
        "agent_vans",
        "SELECT DISTINCT e.location_id FROM events e JOIN agent_techs t ON e.technician_id = t.technician_id \
         WHERE e.event_type = 'stock_location_defined' AND e.agent_id IS NULL",
    ),
];

/// The `events` an agent-bound caller sees (see the module doc), with the
/// lake table's `columns` in their order, over `events` and the tables of
/// [`PARTNER_SETS`]; `$agent` is bound to the agent id (text).
pub fn partner_events_sql(columns: &[String]) -> String {
    // One branch per kind of visible event; the branches are disjoint (by
    // agent, then by event type), so UNION ALL keeps every event once.
    let select = |payload: &str, technician: &str| -> String {
        columns
            .iter()
            .map(|c| match c.as_str() {
                "payload" => format!("{payload} AS payload"),
                "technician_id" => format!("{technician} AS technician_id"),
                other => format!("e.\"{other}\""),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let plain = select("e.payload", "e.technician_id");
    let master = |event_types: &str, set: &str, column: &str| -> String {
        format!(
            "SELECT {plain} FROM events e JOIN {set} x ON e.{column} = x.{column} \
             WHERE e.agent_id IS NULL AND e.event_type IN ({event_types})"
        )
    };
    let branches = [
        format!(
            "SELECT {} FROM events e WHERE e.agent_id = $agent",
            select(
                "CASE WHEN e.event_type = 'order_reassigned' THEN json_drop(e.payload, 'from_technician_id') \
                 ELSE e.payload END",
                "e.technician_id"
            )
        ),
        format!(
            "SELECT {} FROM events e JOIN agent_orders o ON e.order_id = o.order_id \
             LEFT JOIN agent_techs t ON e.technician_id = t.technician_id \
             WHERE e.agent_id IS NULL AND e.event_type IN ({ORDER_LEVEL}) \
               AND (e.technician_id IS NULL OR e.event_type = 'order_completed')",
            select(
                "CASE WHEN e.technician_id IS NOT NULL AND t.technician_id IS NULL \
                 THEN json_drop(e.payload, 'technician_id') ELSE e.payload END",
                "CASE WHEN t.technician_id IS NOT NULL THEN e.technician_id END"
            )
        ),
        master("'equipment_installed', 'equipment_decommissioned'", "agent_equipment", "equipment_id"),
        master("'site_registered'", "agent_sites", "site_id"),
        master("'customer_registered'", "agent_customers", "customer_id"),
        master("'product_defined'", "agent_products", "product_id"),
        master("'manufacturer_registered'", "agent_manufacturers", "manufacturer_id"),
        format!(
            "SELECT {} FROM events e JOIN agent_contracts x ON e.contract_id = x.contract_id \
             WHERE e.agent_id IS NULL AND e.event_type IN ('contract_signed', 'contract_terminated')",
            select(
                "CASE WHEN e.event_type = 'contract_signed' THEN json_drop(e.payload, 'equipment_ids') \
                 ELSE e.payload END",
                "e.technician_id"
            )
        ),
        master("'calendar_defined'", "agent_calendars", "calendar_id"),
        master("'part_defined'", "agent_parts", "part_id"),
        master("'technician_left'", "agent_techs", "technician_id"),
        format!(
            "SELECT {} FROM events e JOIN agent_vans x ON e.location_id = x.location_id \
             WHERE e.agent_id IS NULL AND e.event_type IN ('stock_location_defined', 'stock_received', \
             'stock_transferred', 'stock_counted', 'reorder_placed')",
            select(
                "CASE WHEN e.event_type = 'stock_transferred' THEN json_drop(e.payload, 'from_location_id') \
                 ELSE e.payload END",
                "e.technician_id"
            )
        ),
    ];
    branches.join("\nUNION ALL\n")
}
