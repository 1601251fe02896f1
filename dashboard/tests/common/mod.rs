//! A small hand-made service organisation, October 2026, all UTC, one 24x7
//! calendar (so business time = wall-clock time), whose dashboard numbers
//! are worked out by hand in the tests.
//!
//! Sites: NORTH (region North) and SOUTH (region South); a third site in
//! region `<b>Ost</b>` without orders (markup that must come out escaped).
//! Products: PA (model CT-500) and PB (model MR-900). Agents: A "Alpha
//! Service" (technician T1, North), B "Beta Service" (T2, South).
//! Parts: P1 (P-100, cost 100.00), P2 (P-200, cost 40.00).
//! Every order is corrective, priority P2: response target 240 min,
//! resolution 1440 min.
//!
//! | order | equipment | region | agent | opened | first arrival | response | visits |
//! |---|---|---|---|---|---|---|---|
//! | O1 | E1 (PA) | North | A | 10-05 08:00 | 10:00 (120 min) | met | 1, fixed, P1×1; completed 11:00 |
//! | O2 | E2 (PB) | North | A | 10-06 08:00 | 14:00 (360 min) | breached | 1, fixed, P2×2; completed 15:00 |
//! | O3 | E3 (PA) | South | B | 10-07 08:00 | 09:00 (60 min) | met | needs parts; 2nd visit 10-08 10:00 fixed, P1×1; completed 11:00 |
//! | O4 | E4 (PB) | South | B | 10-13 08:00 | 11:00 (180 min) | met | 1, fixed; completed 12:00 |
//! | O5 | E6 (PB) | South | B | 10-20 08:00 | — | breached (open, deadline 12:00) | none |
//! | O6 | E5 (PA) | North | — | 10-21 08:00 | — | breached (open, unassigned) | none |
//!
//! Invoices: I1 for O1, issued 10-06, due 10-20, 210.00, unpaid; I2 for O4,
//! issued 10-14, due 11-13, 150.00, unpaid.
//! Claims: C1 (A, O1, 10-06, 200.00) approved 150.00; C2 (B, O3, 10-09,
//! 300.00) rejected `labour_above_standard`; C3 (B, O4, 10-14, 100.00) pending.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use chrono::{DateTime, NaiveDate, Utc};
use fieldhouse_domain::calendar::Calendar;
use fieldhouse_domain::event::*;
use uuid::Uuid;

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 | n)
}

/// The id as the lake writes it.
pub fn s(n: u128) -> String {
    id(n).hyphenated().to_string()
}

pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub const CAL: u128 = 1;
pub const CUST: u128 = 2;
pub const NORTH: u128 = 3;
pub const SOUTH: u128 = 4;
pub const EAST: u128 = 5;
pub const MAKER: u128 = 6;
pub const PA: u128 = 7;
pub const PB: u128 = 8;
pub const E1: u128 = 11;
pub const E2: u128 = 12;
pub const E3: u128 = 13;
pub const E4: u128 = 14;
pub const E5: u128 = 15;
pub const E6: u128 = 16;
pub const GOLD: u128 = 21;
pub const AGENT_A: u128 = 31;
pub const AGENT_B: u128 = 32;
pub const T1: u128 = 41;
pub const T2: u128 = 42;
pub const P1: u128 = 51;
pub const P2: u128 = 52;
pub const VAN: u128 = 53;
pub const O1: u128 = 101;
pub const O2: u128 = 102;
pub const O3: u128 = 103;
pub const O4: u128 = 104;
pub const O5: u128 = 105;
pub const O6: u128 = 106;
pub const O7: u128 = 107;

#[derive(Default)]
pub struct World {
    pub events: Vec<Event>,
    next: u128,
}

impl World {
    pub fn push(&mut self, at: &str, payload: impl Into<Payload>) {
        self.next += 1;
        let mut e = Event::new(t(at), "test", payload);
        e.event_id = id(0x10_0000 + self.next);
        self.events.push(e);
    }

    pub fn open(&mut self, at: &str, order: u128, equipment: u128, site: u128, product: u128) {
        let opened = t(at);
        self.push(
            at,
            OrderOpened {
                order_id: id(order),
                order_type: OrderType::Corrective,
                channel: Channel::Phone,
                customer_id: id(CUST),
                site_id: id(site),
                equipment_id: id(equipment),
                product_id: id(product),
                priority: Priority::P2,
                fault_code: "E-PUMP".into(),
                reported_fault: "broken".into(),
                calendar_id: id(CAL),
                response_due_at: opened + chrono::TimeDelta::minutes(240),
                resolution_due_at: opened + chrono::TimeDelta::minutes(1440),
                response_target_minutes: 240,
                resolution_target_minutes: 1440,
            },
        );
        self.push(
            at,
            EntitlementChecked {
                order_id: id(order),
                entitlement: Entitlement::Contract,
                contract_id: Some(id(GOLD)),
                reason: "test".into(),
            },
        );
    }

    pub fn assign(&mut self, at: &str, order: u128, tech: u128, agent: u128) {
        self.push(at, OrderAssigned { order_id: id(order), technician_id: id(tech), agent_id: Some(id(agent)) });
    }

    /// A visit: arrive, work 30 min, maybe a part, end with `outcome`.
    #[allow(clippy::too_many_arguments)]
    pub fn visit(
        &mut self,
        order: u128,
        visit: u128,
        tech: u128,
        agent: u128,
        arrive: &str,
        end: &str,
        part: Option<(u128, i64, i64)>,
        outcome: VisitOutcome,
    ) {
        let (order_id, visit_id, technician_id, agent_id) = (id(order), id(visit), id(tech), Some(id(agent)));
        self.push(arrive, Arrived { order_id, visit_id, technician_id, agent_id, lat: 50.0, lon: 10.0 });
        self.push(end, WorkLogged { order_id, visit_id, technician_id, agent_id, minutes: 30 });
        if let Some((p, quantity, unit_cost_cents)) = part {
            self.push(
                end,
                PartConsumed {
                    order_id,
                    visit_id,
                    technician_id,
                    agent_id,
                    part_id: id(p),
                    location_id: id(VAN),
                    quantity,
                    unit_cost_cents,
                },
            );
        }
        self.push(end, VisitEnded { order_id, visit_id, technician_id, agent_id, outcome });
    }

    pub fn complete(&mut self, at: &str, order: u128, tech: u128, agent: u128) {
        self.push(at, OrderCompleted { order_id: id(order), technician_id: Some(id(tech)), agent_id: Some(id(agent)) });
    }

    pub fn invoice(&mut self, at: &str, inv: u128, order: u128, issued: &str, due: &str, cents: i64) {
        self.push(
            at,
            InvoiceIssued {
                invoice_id: id(inv),
                order_id: Some(id(order)),
                contract_id: None,
                customer_id: id(CUST),
                bill_to: BillTo::Customer,
                issued_on: d(issued),
                due_on: d(due),
                currency: "EUR".into(),
                lines: vec![InvoiceLine {
                    kind: LineKind::Labour,
                    description: "labour".into(),
                    part_id: None,
                    quantity_milli: 1000,
                    unit_price_cents: cents,
                    discount_cents: 0,
                    amount_cents: cents,
                }],
                total_cents: cents,
            },
        );
    }

    pub fn claim(&mut self, at: &str, claim: u128, order: u128, agent: u128, equipment: u128, cents: i64) {
        self.push(
            at,
            ClaimFiled {
                claim_id: id(claim),
                order_id: id(order),
                agent_id: id(agent),
                manufacturer_id: id(MAKER),
                equipment_id: id(equipment),
                labour_minutes: 30,
                parts: vec![],
                amount_cents: cents,
                currency: "EUR".into(),
                arrival_event_id: None,
                photos: 1,
            },
        );
    }
}

fn master(w: &mut World) {
    let at = "2025-01-01T00:00:00Z";
    w.push(at, CalendarDefined { calendar_id: id(CAL), calendar: Calendar::always(chrono_tz::UTC) });
    w.push(
        at,
        CustomerRegistered {
            customer_id: id(CUST),
            name: "Klinikum".into(),
            segment: Segment::Public,
            payment_terms_days: 14,
        },
    );
    for (site, region) in [(NORTH, "North"), (SOUTH, "South"), (EAST, "<b>Ost</b>")] {
        w.push(
            at,
            SiteRegistered {
                site_id: id(site),
                customer_id: id(CUST),
                name: format!("site {site}"),
                region: region.into(),
                lat: 50.0,
                lon: 10.0,
                time_zone: "UTC".into(),
            },
        );
    }
    w.push(at, ManufacturerRegistered { manufacturer_id: id(MAKER), name: "Medica".into() });
    for (p, model) in [(PA, "CT-500"), (PB, "MR-900")] {
        w.push(
            at,
            ProductDefined {
                product_id: id(p),
                manufacturer_id: id(MAKER),
                model: model.into(),
                family: "imaging".into(),
                standard_repair_minutes: 120,
                warranty_months: 24,
            },
        );
    }
    for (eq, product, site) in
        [(E1, PA, NORTH), (E2, PB, NORTH), (E3, PA, SOUTH), (E4, PB, SOUTH), (E5, PA, NORTH), (E6, PB, SOUTH)]
    {
        w.push(
            at,
            EquipmentInstalled {
                equipment_id: id(eq),
                product_id: id(product),
                site_id: id(site),
                customer_id: id(CUST),
                serial: format!("SN-{eq}"),
                installed_on: d("2025-06-01"),
                warranty_end: d("2028-01-01"),
                firmware: None,
            },
        );
    }
    w.push(
        at,
        ContractSigned {
            contract_id: id(GOLD),
            customer_id: id(CUST),
            tier: "gold".into(),
            calendar_id: id(CAL),
            equipment_ids: [E1, E2, E3, E4, E5, E6].into_iter().map(id).collect(),
            sla: vec![],
            labour_rate_cents_per_hour: 6000,
            parts_discount_pct: 0,
            labour_covered: false,
            monthly_fee_cents: 0,
            currency: "EUR".into(),
            valid_from: d("2025-01-01"),
            valid_to: d("2027-12-31"),
            pause_on_parts: true,
        },
    );
    for (a, name) in [(AGENT_A, "Alpha Service"), (AGENT_B, "Beta Service")] {
        w.push(at, AgentRegistered { agent_id: id(a), name: name.into(), claim_rates: vec![] });
    }
    for (tech, region, agent) in [(T1, "North", AGENT_A), (T2, "South", AGENT_B)] {
        w.push(
            at,
            TechnicianHired {
                technician_id: id(tech),
                name: format!("tech {tech}"),
                region: region.into(),
                skills: vec![],
                agent_id: Some(id(agent)),
                shift_calendar_id: id(CAL),
                home_lat: 50.0,
                home_lon: 10.0,
            },
        );
    }
    for (p, number, cost) in [(P1, "P-100", 10_000), (P2, "P-200", 4_000)] {
        w.push(
            at,
            PartDefined {
                part_id: id(p),
                part_number: number.into(),
                description: "part".into(),
                component: "cooling".into(),
                cost_cents: cost,
                price_cents: cost * 3 / 2,
                currency: "EUR".into(),
            },
        );
    }
}

/// The October world of the module docs.
pub fn october() -> World {
    use VisitOutcome::*;
    let mut w = World::default();
    master(&mut w);

    w.open("2026-10-05T08:00:00Z", O1, E1, NORTH, PA);
    w.assign("2026-10-05T08:05:00Z", O1, T1, AGENT_A);
    w.visit(O1, 1001, T1, AGENT_A, "2026-10-05T10:00:00Z", "2026-10-05T11:00:00Z", Some((P1, 1, 10_000)), Fixed);
    w.complete("2026-10-05T11:00:00Z", O1, T1, AGENT_A);

    w.open("2026-10-06T08:00:00Z", O2, E2, NORTH, PB);
    w.assign("2026-10-06T08:05:00Z", O2, T1, AGENT_A);
    w.visit(O2, 2001, T1, AGENT_A, "2026-10-06T14:00:00Z", "2026-10-06T15:00:00Z", Some((P2, 2, 4_000)), Fixed);
    w.complete("2026-10-06T15:00:00Z", O2, T1, AGENT_A);

    w.open("2026-10-07T08:00:00Z", O3, E3, SOUTH, PA);
    w.assign("2026-10-07T08:05:00Z", O3, T2, AGENT_B);
    w.visit(O3, 3001, T2, AGENT_B, "2026-10-07T09:00:00Z", "2026-10-07T09:30:00Z", None, NeedsParts);
    w.visit(O3, 3002, T2, AGENT_B, "2026-10-08T10:00:00Z", "2026-10-08T11:00:00Z", Some((P1, 1, 10_000)), Fixed);
    w.complete("2026-10-08T11:00:00Z", O3, T2, AGENT_B);

    w.open("2026-10-13T08:00:00Z", O4, E4, SOUTH, PB);
    w.assign("2026-10-13T08:05:00Z", O4, T2, AGENT_B);
    w.visit(O4, 4001, T2, AGENT_B, "2026-10-13T11:00:00Z", "2026-10-13T12:00:00Z", None, Fixed);
    w.complete("2026-10-13T12:00:00Z", O4, T2, AGENT_B);

    w.open("2026-10-20T08:00:00Z", O5, E6, SOUTH, PB);
    w.assign("2026-10-20T08:05:00Z", O5, T2, AGENT_B);

    w.open("2026-10-21T08:00:00Z", O6, E5, NORTH, PA);

    w.invoice("2026-10-06T12:00:00Z", 201, O1, "2026-10-06", "2026-10-20", 21_000);
    w.invoice("2026-10-14T12:00:00Z", 202, O4, "2026-10-14", "2026-11-13", 15_000);

    w.claim("2026-10-06T13:00:00Z", 301, O1, AGENT_A, E1, 20_000);
    w.push(
        "2026-10-10T09:00:00Z",
        ClaimApproved { claim_id: id(301), agent_id: id(AGENT_A), approved_cents: 15_000, note: None },
    );
    w.claim("2026-10-09T13:00:00Z", 302, O3, AGENT_B, E3, 30_000);
    w.push(
        "2026-10-12T09:00:00Z",
        ClaimRejected {
            claim_id: id(302),
            agent_id: id(AGENT_B),
            reason_code: "labour_above_standard".into(),
            reason: "too long".into(),
        },
    );
    w.claim("2026-10-14T13:00:00Z", 303, O4, AGENT_B, E4, 10_000);
    w
}

/// One more order, for a later commit: O7 on E1 (PA, North), agent A, opened
/// 10-27 08:00, arrived 09:00 (met), fixed, completed 10:00.
pub fn later(w: &mut World) {
    w.open("2026-10-27T08:00:00Z", O7, E1, NORTH, PA);
    w.assign("2026-10-27T08:05:00Z", O7, T1, AGENT_A);
    w.visit(O7, 7001, T1, AGENT_A, "2026-10-27T09:00:00Z", "2026-10-27T10:00:00Z", None, VisitOutcome::Fixed);
    w.complete("2026-10-27T10:00:00Z", O7, T1, AGENT_A);
}

/// Tokens of the test authenticator.
pub const MANAGER: &str = "tok-manager";
pub const FINANCE: &str = "tok-finance";
pub const ENGINEER: &str = "tok-engineer";
pub const PARTNER_A: &str = "tok-partner-a";

pub struct Tokens;

impl fieldhouse_dashboard::Authenticate for Tokens {
    fn authenticate(&self, token: &str) -> Option<fieldhouse_engine::Caller> {
        use fieldhouse_engine::{Caller, Role};
        match token {
            MANAGER => Some(Caller::with_role(Role::Manager)),
            FINANCE => Some(Caller::with_role(Role::Finance)),
            ENGINEER => Some(Caller::with_role(Role::Engineer)),
            PARTNER_A => Some(Caller::partner(id(AGENT_A))),
            _ => None,
        }
    }
}

/// A dashboard state over the lake in `dir`.
pub fn state(dir: &std::path::Path) -> fieldhouse_dashboard::DashboardState {
    fieldhouse_dashboard::DashboardState {
        engine: fieldhouse_engine::Engine::open(dir).unwrap(),
        cache: std::sync::Arc::new(fieldhouse_engine::cache::KpiCache::new(256)),
        auth: std::sync::Arc::new(Tokens),
        max_stale: std::time::Duration::ZERO,
    }
}

/// Write the October world into a fresh temp dir (on its own runtime, so
/// it can be called from sync code and from inside a test's runtime).
pub fn october_lake() -> tempfile::TempDir {
    std::thread::spawn(|| {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(fieldhouse_engine::testing::write_events(dir.path(), &october().events)).unwrap();
        dir
    })
    .join()
    .unwrap()
}

/// The text of the element with `id`'s `data-value` attribute in `html`.
pub fn data_value(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let rest = &html[at..];
    let v = rest.find("data-value=\"")? + "data-value=\"".len();
    let end = rest[v..].find('"')?;
    Some(rest[v..v + end].to_string())
}
