//! A small hand-made service organisation, October 2026, all UTC, one 24x7
//! calendar (so business time = wall-clock time), whose dashboard numbers
//! are worked out by hand in the dashboard's tests.
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

use fieldhouse_domain::calendar::Calendar;
use fieldhouse_domain::event::{
    AgentRegistered, CalendarDefined, ClaimApproved, ClaimRejected, CustomerRegistered, ManufacturerRegistered,
    OrderType, Priority, Segment, VisitOutcome,
};

use crate::{OrderSpec, PartUse, VisitSpec, World, id, labour};

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

/// An order on the gold contract: corrective, P2 (240/1440 min), fault `E-PUMP`.
fn open(w: &mut World, at: &str, order: u128, equipment: u128, site: u128, product: u128) {
    let spec = OrderSpec {
        n: order,
        order_type: OrderType::Corrective,
        customer: CUST,
        site,
        equipment,
        product,
        calendar: CAL,
        contract: Some(GOLD),
        priority: Priority::P2,
        targets: (240, 1440),
        fault: "E-PUMP",
    };
    w.open(at, &spec);
}

/// A visit: arrive, work 30 min, maybe a part `(part, quantity, unit cost)`
/// from the van, end with `outcome`.
#[allow(clippy::too_many_arguments)]
fn visit(
    w: &mut World,
    order: u128,
    visit: u128,
    tech: u128,
    agent: u128,
    arrive: &str,
    end: &str,
    part: Option<(u128, i64, i64)>,
    outcome: VisitOutcome,
) {
    let part = part.map(|(part, quantity, unit_cost_cents)| PartUse { part, location: VAN, quantity, unit_cost_cents });
    let agent = Some(agent);
    w.visit(&VisitSpec {
        order,
        visit,
        tech,
        agent,
        travel: None,
        arrive,
        pos: (50.0, 10.0),
        work: 30,
        part,
        end,
        outcome,
    });
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
        w.site(at, site, CUST, &format!("site {site}"), region, (50.0, 10.0));
    }
    w.push(at, ManufacturerRegistered { manufacturer_id: id(MAKER), name: "Medica".into() });
    for (p, model) in [(PA, "CT-500"), (PB, "MR-900")] {
        w.product(at, p, MAKER, model);
    }
    for (eq, product, site) in
        [(E1, PA, NORTH), (E2, PB, NORTH), (E3, PA, SOUTH), (E4, PB, SOUTH), (E5, PA, NORTH), (E6, PB, SOUTH)]
    {
        w.equipment(at, eq, product, site, CUST, "2025-06-01");
    }
    w.contract(at, GOLD, CUST, "gold", CAL, &[E1, E2, E3, E4, E5, E6], true);
    for (a, name) in [(AGENT_A, "Alpha Service"), (AGENT_B, "Beta Service")] {
        w.push(at, AgentRegistered { agent_id: id(a), name: name.into(), claim_rates: vec![] });
    }
    for (tech, region, agent) in [(T1, "North", AGENT_A), (T2, "South", AGENT_B)] {
        w.technician(at, tech, region, Some(agent), CAL, (50.0, 10.0));
    }
    for (p, number, cost) in [(P1, "P-100", 10_000), (P2, "P-200", 4_000)] {
        w.part(at, p, number, "part", cost, cost * 3 / 2);
    }
}

/// The October world of the module docs.
pub fn october() -> World {
    use VisitOutcome::*;
    let mut w = World::default();
    master(&mut w);

    open(&mut w, "2026-10-05T08:00:00Z", O1, E1, NORTH, PA);
    w.assign("2026-10-05T08:05:00Z", O1, T1, Some(AGENT_A));
    visit(&mut w, O1, 1001, T1, AGENT_A, "2026-10-05T10:00:00Z", "2026-10-05T11:00:00Z", Some((P1, 1, 10_000)), Fixed);
    w.complete("2026-10-05T11:00:00Z", O1, T1, Some(AGENT_A));

    open(&mut w, "2026-10-06T08:00:00Z", O2, E2, NORTH, PB);
    w.assign("2026-10-06T08:05:00Z", O2, T1, Some(AGENT_A));
    visit(&mut w, O2, 2001, T1, AGENT_A, "2026-10-06T14:00:00Z", "2026-10-06T15:00:00Z", Some((P2, 2, 4_000)), Fixed);
    w.complete("2026-10-06T15:00:00Z", O2, T1, Some(AGENT_A));

    open(&mut w, "2026-10-07T08:00:00Z", O3, E3, SOUTH, PA);
    w.assign("2026-10-07T08:05:00Z", O3, T2, Some(AGENT_B));
    visit(&mut w, O3, 3001, T2, AGENT_B, "2026-10-07T09:00:00Z", "2026-10-07T09:30:00Z", None, NeedsParts);
    visit(&mut w, O3, 3002, T2, AGENT_B, "2026-10-08T10:00:00Z", "2026-10-08T11:00:00Z", Some((P1, 1, 10_000)), Fixed);
    w.complete("2026-10-08T11:00:00Z", O3, T2, Some(AGENT_B));

    open(&mut w, "2026-10-13T08:00:00Z", O4, E4, SOUTH, PB);
    w.assign("2026-10-13T08:05:00Z", O4, T2, Some(AGENT_B));
    visit(&mut w, O4, 4001, T2, AGENT_B, "2026-10-13T11:00:00Z", "2026-10-13T12:00:00Z", None, Fixed);
    w.complete("2026-10-13T12:00:00Z", O4, T2, Some(AGENT_B));

    open(&mut w, "2026-10-20T08:00:00Z", O5, E6, SOUTH, PB);
    w.assign("2026-10-20T08:05:00Z", O5, T2, Some(AGENT_B));

    open(&mut w, "2026-10-21T08:00:00Z", O6, E5, NORTH, PA);

    w.invoice("2026-10-06T12:00:00Z", 201, O1, CUST, "2026-10-06", "2026-10-20", vec![labour(21_000)]);
    w.invoice("2026-10-14T12:00:00Z", 202, O4, CUST, "2026-10-14", "2026-11-13", vec![labour(15_000)]);

    w.claim("2026-10-06T13:00:00Z", 301, O1, AGENT_A, MAKER, E1, 30, 20_000);
    w.push(
        "2026-10-10T09:00:00Z",
        ClaimApproved { claim_id: id(301), agent_id: id(AGENT_A), approved_cents: 15_000, note: None },
    );
    w.claim("2026-10-09T13:00:00Z", 302, O3, AGENT_B, MAKER, E3, 30, 30_000);
    w.push(
        "2026-10-12T09:00:00Z",
        ClaimRejected {
            claim_id: id(302),
            agent_id: id(AGENT_B),
            reason_code: "labour_above_standard".into(),
            reason: "too long".into(),
        },
    );
    w.claim("2026-10-14T13:00:00Z", 303, O4, AGENT_B, MAKER, E4, 30, 10_000);
    w
}

/// One more order, for a later commit: O7 on E1 (PA, North), agent A, opened
/// 10-27 08:00, arrived 09:00 (met), fixed, completed 10:00.
pub fn later(w: &mut World) {
    open(w, "2026-10-27T08:00:00Z", O7, E1, NORTH, PA);
    w.assign("2026-10-27T08:05:00Z", O7, T1, Some(AGENT_A));
    visit(w, O7, 7001, T1, AGENT_A, "2026-10-27T09:00:00Z", "2026-10-27T10:00:00Z", None, VisitOutcome::Fixed);
    w.complete("2026-10-27T10:00:00Z", O7, T1, Some(AGENT_A));
}
