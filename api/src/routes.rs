//! Every route of the API with who may call it: the one table the
//! authorization middleware reads ([`rule`]) and the OpenAPI document is
//! generated from ([`crate::openapi`]). A route missing here admits nobody.
//!
//! Role rules (`/healthz` is open; everything else needs a bearer token):
//!
//! | routes | roles |
//! |---|---|
//! | `GET /api/v1/kpis`, `GET /api/v1/kpis/{name}` | every role; each KPI's `audience` decides (403 otherwise) |
//! | `POST /api/v1/sql` | admin, engineer, finance, partner (scoped to its agent) |
//! | `GET /api/v1/reports`, `GET /api/v1/reports/files/{path}` | every role; each report's audience, a partner only its agent's files |
//! | `GET /api/v1/openapi.json` | every role |
//! | `GET /metrics`, `GET /api/v1/outbox` | admin |
//! | `POST /api/v1/events` (event batches) | admin, dispatcher |
//! | operational reads (`GET` master data, orders, stock, invoices, claims) | every role but partner |
//! | master data writes | admin, manager |
//! | orders, order actions, dispatch, maintenance, stock, mobile sync | admin, manager, dispatcher, technician |
//! | invoices, payments, credit notes, fee runs, claims | admin, finance |
//!
//! Partners never reach the operational endpoints: those answer for every
//! agent, and the engine's scoping applies to the lake, not to `ops.db`.

use std::sync::LazyLock;

use axum::http::Method;
use fieldhouse_engine::Role;

use Role::*;

pub const EVERY_ROLE: &[Role] = Role::ALL;
pub const STAFF: &[Role] = &[Admin, Manager, Dispatcher, Technician, Engineer, Finance];
pub const MASTER_WRITE: &[Role] = &[Admin, Manager];
pub const FIELD_WRITE: &[Role] = &[Admin, Manager, Dispatcher, Technician];
pub const MONEY_WRITE: &[Role] = &[Admin, Finance];
pub const SQL: &[Role] = &[Admin, Engineer, Finance, Partner];
pub const INGEST: &[Role] = &[Admin, Dispatcher];
pub const ADMIN: &[Role] = &[Admin];

/// What the request body of a route is, for the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    /// A JSON command object of the operational core.
    Command,
    /// `SqlRequest`.
    Sql,
    /// NDJSON, a JSON array or CSV of events.
    Events,
}

/// One route.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    pub method: Method,
    /// The axum path pattern (`{id}`, `{*path}`).
    pub path: String,
    pub roles: &'static [Role],
    pub summary: String,
    pub tag: &'static str,
    pub body: Body,
}

fn r(method: Method, path: &str, roles: &'static [Role], tag: &'static str, summary: &str, body: Body) -> RouteDoc {
    RouteDoc { method, path: path.to_string(), roles, summary: summary.to_string(), tag, body }
}

/// The master-data collections: path segment, noun.
pub const MASTER: &[(&str, &str)] = &[
    ("customers", "customer"),
    ("sites", "site"),
    ("manufacturers", "manufacturer"),
    ("products", "product"),
    ("equipment", "equipment"),
    ("calendars", "business calendar"),
    ("contracts", "contract"),
    ("agents", "service agent"),
    ("technicians", "technician"),
    ("parts", "part"),
    ("stock-locations", "stock location"),
    ("maintenance-plans", "maintenance plan"),
];

/// The order actions under `/api/v1/orders/{id}/`.
pub const ORDER_ACTIONS: &[&str] = &[
    "priority",
    "assign",
    "reassign",
    "travel",
    "arrive",
    "pause",
    "resume",
    "work",
    "parts",
    "end-visit",
    "complete",
    "close",
    "cancel",
    "reopen",
];

static ROUTES: LazyLock<Vec<RouteDoc>> = LazyLock::new(build);

fn build() -> Vec<RouteDoc> {
    use Body as B;
    let (get, post) = (Method::GET, Method::POST);
    let mut v = vec![
        r(get.clone(), "/api/v1/kpis", EVERY_ROLE, "kpi", "The KPI catalog the caller may read", B::None),
        r(get.clone(), "/api/v1/kpis/{name}", EVERY_ROLE, "kpi", "Compute one KPI", B::None),
        r(post.clone(), "/api/v1/sql", SQL, "sql", "Run a read-only SQL query", B::Sql),
        r(get.clone(), "/api/v1/reports", EVERY_ROLE, "reports", "Written reports the caller may read", B::None),
        r(get.clone(), "/api/v1/reports/files/{*path}", EVERY_ROLE, "reports", "Download a report file", B::None),
        r(get.clone(), "/api/v1/openapi.json", EVERY_ROLE, "meta", "This OpenAPI document", B::None),
        r(get.clone(), "/metrics", ADMIN, "meta", "Prometheus metrics", B::None),
        r(post.clone(), "/api/v1/events", INGEST, "ingest", "Ingest a batch of events", B::Events),
        r(get.clone(), "/api/v1/outbox", ADMIN, "ops", "Read the operational outbox", B::None),
    ];
    for (seg, noun) in MASTER {
        let base = format!("/api/v1/{seg}");
        v.push(r(post.clone(), &base, MASTER_WRITE, "master", &format!("Register a {noun}"), B::Command));
        v.push(r(get.clone(), &base, STAFF, "master", &format!("List {noun} records"), B::None));
        v.push(r(get.clone(), &format!("{base}/{{id}}"), STAFF, "master", &format!("One {noun}"), B::None));
    }
    for (path, summary) in [
        ("/api/v1/equipment/{id}/decommission", "Decommission equipment"),
        ("/api/v1/contracts/{id}/terminate", "Terminate a contract"),
        ("/api/v1/technicians/{id}/leave", "A technician leaves"),
    ] {
        v.push(r(post.clone(), path, MASTER_WRITE, "master", summary, B::Command));
    }
    v.push(r(post.clone(), "/api/v1/orders", FIELD_WRITE, "orders", "Open a service order", B::Command));
    v.push(r(get.clone(), "/api/v1/orders", STAFF, "orders", "List service orders", B::None));
    v.push(r(get.clone(), "/api/v1/orders/{id}", STAFF, "orders", "One service order", B::None));
    v.push(r(get.clone(), "/api/v1/orders/{id}/suggestions", STAFF, "orders", "Technicians to dispatch", B::None));
    for a in ORDER_ACTIONS {
        let path = format!("/api/v1/orders/{{id}}/{a}");
        v.push(r(post.clone(), &path, FIELD_WRITE, "orders", &format!("Order action `{a}`"), B::Command));
    }
    type Row<'a> = (&'a Method, &'a str, &'static [Role], &'static str, &'a str, Body);
    let more: &[Row<'_>] = &[
        (&post, "/api/v1/orders/{id}/invoice", MONEY_WRITE, "billing", "Invoice a completed order", B::Command),
        (&post, "/api/v1/maintenance/run", FIELD_WRITE, "orders", "Open due preventive orders", B::Command),
        (&get, "/api/v1/stock", STAFF, "stock", "Stock levels", B::None),
        (&post, "/api/v1/stock/receipts", FIELD_WRITE, "stock", "Receive stock", B::Command),
        (&post, "/api/v1/stock/transfers", FIELD_WRITE, "stock", "Transfer stock", B::Command),
        (&post, "/api/v1/stock/counts", FIELD_WRITE, "stock", "Count stock", B::Command),
        (&post, "/api/v1/stock/reorder-points", FIELD_WRITE, "stock", "Set a reorder point", B::Command),
        (&get, "/api/v1/invoices", STAFF, "billing", "List invoices", B::None),
        (&get, "/api/v1/invoices/{id}", STAFF, "billing", "One invoice", B::None),
        (&post, "/api/v1/invoices/{id}/payments", MONEY_WRITE, "billing", "Record a payment", B::Command),
        (&post, "/api/v1/invoices/{id}/credit-notes", MONEY_WRITE, "billing", "Issue a credit note", B::Command),
        (&post, "/api/v1/billing/fee-runs", MONEY_WRITE, "billing", "Bill contract fees", B::Command),
        (&post, "/api/v1/claims", MONEY_WRITE, "claims", "File a warranty claim", B::Command),
        (&get, "/api/v1/claims", STAFF, "claims", "List warranty claims", B::None),
        (&get, "/api/v1/claims/{id}", STAFF, "claims", "One warranty claim", B::None),
        (&post, "/api/v1/claims/{id}/approve", MONEY_WRITE, "claims", "Approve a claim", B::Command),
        (&post, "/api/v1/claims/{id}/reject", MONEY_WRITE, "claims", "Reject a claim", B::Command),
        (&post, "/api/v1/claims/settlements", MONEY_WRITE, "claims", "Settle approved claims", B::Command),
        (&post, "/api/v1/mobile/sync", FIELD_WRITE, "orders", "Apply a mobile app batch", B::Command),
    ];
    for (m, path, roles, tag, summary, body) in more {
        v.push(r((*m).clone(), path, roles, tag, summary, *body));
    }
    v
}

/// Every protected route.
pub fn all() -> &'static [RouteDoc] {
    &ROUTES
}

/// The rule for `method` on the matched path `path`.
pub fn rule(method: &Method, path: &str) -> Option<&'static RouteDoc> {
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_unique_and_partners_never_reach_ops() {
        let mut seen = std::collections::BTreeSet::new();
        for r in all() {
            assert!(seen.insert((r.method.to_string(), r.path.clone())), "duplicate {} {}", r.method, r.path);
            let ops = !["kpi", "sql", "reports", "meta"].contains(&r.tag);
            assert!(!(ops && r.roles.contains(&Role::Partner)), "partner reaches {} {}", r.method, r.path);
        }
        assert!(rule(&Method::GET, "/api/v1/kpis").is_some());
        assert!(rule(&Method::DELETE, "/api/v1/kpis").is_none());
    }
}
