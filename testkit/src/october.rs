//! A small hand-made service organisation, October 2026, whose KPIs are
//! worked out by hand in the engine's and the API's tests. All times UTC. 2026-10-05 is a Monday.
//!
//! Calendars: `CAL24` = 24x7 UTC. `CALBH` = Mon–Fri 08:00–18:00 UTC with a
//! holiday on Tue 2026-10-06.
//! Contracts: GOLD (CAL24, pause_on_parts = true) covers EQ1, EQ3, EQ4;
//! SILVER (CALBH, pause_on_parts = false) covers EQ2.
//! Sites: NORTH (53.55, 9.99) holds EQ1, EQ3, EQ4; SOUTH (48.14, 11.58) holds EQ2.
//! Technicians: T1 of agent A (North), T2 of agent B (South), T3 own staff.
//! Part P1: cost 100.00, price 150.00. Product PROD: standard repair 120 min.
//!
//! Orders (targets response/resolution in business minutes):
//! - O1 GOLD EQ1 P2 (240/1440): opened Mon 10-05 09:00, T1, travel 10:00, arrived 11:00, 60 min work,
//!   P1×1, fixed 12:00, completed 12:00, closed 12:30 csat 5. Invoice I1 (issued 10-06 12:00, due 11-05):
//!   labour 60.00 + part P1 150.00 = 210.00; paid in full 10-10.
//! - O2 SILVER EQ2 P3 (480/960): opened Mon 10-05 16:00, T2; paused waiting_for_customer Mon 17:00 → Wed
//!   10-07 09:00 (overnight and over the holiday); travel Wed 10:00, arrived 11:00, needs_parts 12:00;
//!   paused waiting_for_parts Wed 12:00 → Thu 10-08 10:00 (silver does not pause on parts); visit 2: travel
//!   Thu 13:00, arrived 14:00, P1×2, 120 min work, fixed 15:00, completed 15:00. Invoice I2 (issued 10-10
//!   15:00, due 10-19): labour only 120.00 — the two parts are not invoiced. Partial payment 50.00 on 10-15.
//! - O3 SILVER EQ2 P3 (480/960): opened on the holiday Tue 10-06 10:00, T2, arrived Wed 10-07 10:00 at
//!   (52.52, 13.40) — about 500 km from the site — 45 min work, fixed 11:00, completed 11:00, closed 12:00
//!   csat 3. Never invoiced.
//! - O4 GOLD EQ1 P3 (480/2880) → priority changed to P1 (120/480) at 09:00: opened Mon 10-12 08:00, T3,
//!   arrived 09:30, fixed 10:00, completed 10:00, reopened 11:00, visit 2 travel 12:00, arrived 13:00,
//!   fixed 17:00, completed 17:00.
//! - O5 no contract (time and material), CAL24, EQ3 P2 (240/1440): opened Wed 10-14 08:00, T1, travel
//!   13:00, arrived 14:00, 30 min work, P1×1, fixed 15:00, completed 15:00, closed 16:00 csat 4. Invoice I5
//!   (issued 10-15 15:00, due 10-25): labour 80.00 + part 150.00 = 230.00; credit note 30.00 on 10-16.
//! - O6 GOLD EQ4 P1 (120/480): opened Thu 10-15 08:00, T1, never visited (open, breached).
//! - O7 GOLD EQ1 P3 (480/2880): opened Mon 10-19 22:00, no assignment yet (open, on track at NOW).
//! - O8 GOLD EQ4 P2: opened Fri 10-16 09:00, cancelled 10:00.
//!
//! Claims: C1 agent A for O1 filed 10-06 (60 min, 200.00), approved 150.00 (partial) 10-10, paid 150.00
//! 10-15. C3 agent A for O1 filed 10-07 (duplicate, 200.00), pending. C2 agent B for O2 filed 10-09 (300
//! min, 400.00), rejected `labour_above_standard` 10-12. C4 agent B for O3 filed 10-08 (60 min, 100.00),
//! pending. C5 agent A for O6 filed 10-16 (60 min, 100.00), pending — O6 has no arrival.
//!
//! NOW = 2026-10-20T00:00:00Z.

use chrono::NaiveTime;
use fieldhouse_domain::calendar::{Calendar, Holiday};
use fieldhouse_domain::event::{
    AgentRegistered, CalendarDefined, ClaimApproved, ClaimPaid, ClaimRejected, CreditNoteIssued, CustomerRegistered,
    InvoiceLine, LineKind, ManufacturerRegistered, OrderCancelled, OrderPaused, OrderReopened, OrderResumed, OrderType,
    PauseReason, PaymentReceived, Priority, PriorityChanged, Segment, VisitOutcome,
};

use crate::{OrderSpec, PartUse, VisitSpec, World, d, id, labour, t};

pub const NOW: &str = "2026-10-20T00:00:00Z";

// Ids.
pub const CAL24: u128 = 1;
pub const CALBH: u128 = 2;
pub const CUST: u128 = 3;
pub const NORTH: u128 = 4;
pub const SOUTH: u128 = 5;
pub const MAKER: u128 = 6;
pub const PROD: u128 = 7;
pub const EQ1: u128 = 11;
pub const EQ2: u128 = 12;
pub const EQ3: u128 = 13;
pub const EQ4: u128 = 14;
pub const GOLD: u128 = 21;
pub const SILVER: u128 = 22;
pub const AGENT_A: u128 = 31;
pub const AGENT_B: u128 = 32;
pub const T1: u128 = 41;
pub const T2: u128 = 42;
pub const T3: u128 = 43;
pub const P1: u128 = 51;
pub const VAN: u128 = 52;
pub const O1: u128 = 101;
pub const O2: u128 = 102;
pub const O3: u128 = 103;
pub const O4: u128 = 104;
pub const O5: u128 = 105;
pub const O6: u128 = 106;
pub const O7: u128 = 107;
pub const O8: u128 = 108;
pub const I1: u128 = 201;
pub const I2: u128 = 202;
pub const I5: u128 = 205;
pub const C1: u128 = 301;
pub const C2: u128 = 302;
pub const C3: u128 = 303;
pub const C4: u128 = 304;
pub const C5: u128 = 305;

/// An October order: corrective, of the customer's product PROD.
struct Order {
    n: u128,
    contract: Option<u128>,
    calendar: u128,
    equipment: u128,
    site: u128,
    priority: Priority,
    targets: (i64, i64),
}

fn open(w: &mut World, at: &str, o: &Order, fault: &str) {
    let spec = OrderSpec {
        n: o.n,
        order_type: OrderType::Corrective,
        customer: CUST,
        site: o.site,
        equipment: o.equipment,
        product: PROD,
        calendar: o.calendar,
        contract: o.contract,
        priority: o.priority,
        targets: o.targets,
        fault,
    };
    w.open(at, &spec);
}

/// A visit; `parts` of P1 from the van at 100.00 each.
#[allow(clippy::too_many_arguments)]
fn visit(
    w: &mut World,
    order: u128,
    visit: u128,
    tech: u128,
    agent: Option<u128>,
    travel: Option<&str>,
    arrive: &str,
    pos: (f64, f64),
    work: i64,
    parts: i64,
    end: &str,
    outcome: VisitOutcome,
) {
    let part = (parts > 0).then_some(PartUse { part: P1, location: VAN, quantity: parts, unit_cost_cents: 10_000 });
    w.visit(&VisitSpec { order, visit, tech, agent, travel, arrive, pos, work, part, end, outcome });
}

fn part_line(qty: i64) -> InvoiceLine {
    InvoiceLine {
        kind: LineKind::Part,
        description: "pump".into(),
        part_id: Some(id(P1)),
        quantity_milli: qty * 1000,
        unit_price_cents: 15_000,
        discount_cents: 0,
        amount_cents: qty * 15_000,
    }
}

/// Master data only.
pub fn master(w: &mut World) {
    let utc = chrono_tz::UTC;
    let hm = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_else(|| panic!("{h}:00 is a time of day"));
    let bh =
        Calendar::weekdays("office", utc, &[(hm(8), hm(18))]).with_holiday(Holiday::day("holiday", d("2026-10-06")));
    let at = "2025-01-01T00:00:00Z";
    w.push(at, CalendarDefined { calendar_id: id(CAL24), calendar: Calendar::always(utc) });
    w.push(at, CalendarDefined { calendar_id: id(CALBH), calendar: bh });
    w.push(
        at,
        CustomerRegistered {
            customer_id: id(CUST),
            name: "Klinikum".into(),
            segment: Segment::Public,
            payment_terms_days: 30,
        },
    );
    for (site, region, lat, lon) in [(NORTH, "North", 53.55, 9.99), (SOUTH, "South", 48.14, 11.58)] {
        w.site(at, site, CUST, region, region, (lat, lon));
    }
    w.push(at, ManufacturerRegistered { manufacturer_id: id(MAKER), name: "Medica".into() });
    w.product(at, PROD, MAKER, "CT-500");
    for (eq, site, installed) in
        [(EQ1, NORTH, "2025-10-01"), (EQ2, SOUTH, "2026-04-01"), (EQ3, NORTH, "2026-10-01"), (EQ4, NORTH, "2026-01-01")]
    {
        w.equipment(at, eq, PROD, site, CUST, installed);
    }
    for (c, tier, cal, eqs, pause) in
        [(GOLD, "gold", CAL24, vec![EQ1, EQ3, EQ4], true), (SILVER, "silver", CALBH, vec![EQ2], false)]
    {
        w.contract(at, c, CUST, tier, cal, &eqs, pause);
    }
    for a in [AGENT_A, AGENT_B] {
        w.push(at, AgentRegistered { agent_id: id(a), name: format!("agent {a}"), claim_rates: vec![] });
    }
    for (tech, region, agent) in [(T1, "North", Some(AGENT_A)), (T2, "South", Some(AGENT_B)), (T3, "North", None)] {
        w.technician(at, tech, region, agent, CALBH, (53.0, 10.0));
    }
    w.part(at, P1, "P-1", "pump", 10_000, 15_000);
}

/// The whole October world.
pub fn october() -> World {
    let mut w = World::default();
    master(&mut w);
    let (a, b) = (Some(AGENT_A), Some(AGENT_B));
    let north = (53.55, 9.99);
    let south = (48.14, 11.58);
    use VisitOutcome::*;

    // O1
    let o1 = Order {
        n: O1,
        contract: Some(GOLD),
        calendar: CAL24,
        equipment: EQ1,
        site: NORTH,
        priority: Priority::P2,
        targets: (240, 1440),
    };
    open(&mut w, "2026-10-05T09:00:00Z", &o1, "E-PUMP");
    w.assign("2026-10-05T09:10:00Z", O1, T1, a);
    visit(
        &mut w,
        O1,
        1001,
        T1,
        a,
        Some("2026-10-05T10:00:00Z"),
        "2026-10-05T11:00:00Z",
        north,
        60,
        1,
        "2026-10-05T12:00:00Z",
        Fixed,
    );
    w.complete("2026-10-05T12:00:00Z", O1, T1, a);
    w.close("2026-10-05T12:30:00Z", O1, 5);
    w.invoice("2026-10-06T12:00:00Z", I1, O1, CUST, "2026-10-06", "2026-11-05", vec![labour(6_000), part_line(1)]);
    w.push(
        "2026-10-10T09:00:00Z",
        PaymentReceived {
            payment_id: id(401),
            invoice_id: id(I1),
            customer_id: id(CUST),
            amount_cents: 21_000,
            currency: "EUR".into(),
            received_on: d("2026-10-10"),
        },
    );

    // O2: paused overnight and over the holiday; a parts wait that silver does not pause for.
    let o2 = Order {
        n: O2,
        contract: Some(SILVER),
        calendar: CALBH,
        equipment: EQ2,
        site: SOUTH,
        priority: Priority::P3,
        targets: (480, 960),
    };
    open(&mut w, "2026-10-05T16:00:00Z", &o2, "E-PUMP");
    w.assign("2026-10-05T16:05:00Z", O2, T2, b);
    w.push("2026-10-05T17:00:00Z", OrderPaused { order_id: id(O2), reason: PauseReason::WaitingForCustomer });
    w.push("2026-10-07T09:00:00Z", OrderResumed { order_id: id(O2) });
    visit(
        &mut w,
        O2,
        2001,
        T2,
        b,
        Some("2026-10-07T10:00:00Z"),
        "2026-10-07T11:00:00Z",
        south,
        0,
        0,
        "2026-10-07T12:00:00Z",
        NeedsParts,
    );
    w.push("2026-10-07T12:00:00Z", OrderPaused { order_id: id(O2), reason: PauseReason::WaitingForParts });
    w.push("2026-10-08T10:00:00Z", OrderResumed { order_id: id(O2) });
    visit(
        &mut w,
        O2,
        2002,
        T2,
        b,
        Some("2026-10-08T13:00:00Z"),
        "2026-10-08T14:00:00Z",
        south,
        120,
        2,
        "2026-10-08T15:00:00Z",
        Fixed,
    );
    w.complete("2026-10-08T15:00:00Z", O2, T2, b);
    w.invoice("2026-10-10T15:00:00Z", I2, O2, CUST, "2026-10-10", "2026-10-19", vec![labour(12_000)]);
    w.push(
        "2026-10-15T09:00:00Z",
        PaymentReceived {
            payment_id: id(402),
            invoice_id: id(I2),
            customer_id: id(CUST),
            amount_cents: 5_000,
            currency: "EUR".into(),
            received_on: d("2026-10-15"),
        },
    );

    // O3: opened on the holiday; checked in far from the site; never invoiced.
    let o3 = Order {
        n: O3,
        contract: Some(SILVER),
        calendar: CALBH,
        equipment: EQ2,
        site: SOUTH,
        priority: Priority::P3,
        targets: (480, 960),
    };
    open(&mut w, "2026-10-06T10:00:00Z", &o3, "E-FAN");
    w.assign("2026-10-06T10:05:00Z", O3, T2, b);
    visit(&mut w, O3, 3001, T2, b, None, "2026-10-07T10:00:00Z", (52.52, 13.40), 45, 0, "2026-10-07T11:00:00Z", Fixed);
    w.complete("2026-10-07T11:00:00Z", O3, T2, b);
    w.close("2026-10-07T12:00:00Z", O3, 3);

    // O4: priority change P3 → P1, reopened.
    let o4 = Order {
        n: O4,
        contract: Some(GOLD),
        calendar: CAL24,
        equipment: EQ1,
        site: NORTH,
        priority: Priority::P3,
        targets: (480, 2880),
    };
    open(&mut w, "2026-10-12T08:00:00Z", &o4, "E-PUMP");
    w.assign("2026-10-12T08:05:00Z", O4, T3, None);
    let opened = t("2026-10-12T08:00:00Z");
    w.push(
        "2026-10-12T09:00:00Z",
        PriorityChanged {
            order_id: id(O4),
            from: Priority::P3,
            to: Priority::P1,
            response_due_at: opened + chrono::TimeDelta::minutes(120),
            resolution_due_at: opened + chrono::TimeDelta::minutes(480),
            response_target_minutes: 120,
            resolution_target_minutes: 480,
        },
    );
    visit(&mut w, O4, 4001, T3, None, None, "2026-10-12T09:30:00Z", north, 0, 0, "2026-10-12T10:00:00Z", Fixed);
    w.complete("2026-10-12T10:00:00Z", O4, T3, None);
    w.push("2026-10-12T11:00:00Z", OrderReopened { order_id: id(O4), reason: "again".into() });
    visit(
        &mut w,
        O4,
        4002,
        T3,
        None,
        Some("2026-10-12T12:00:00Z"),
        "2026-10-12T13:00:00Z",
        north,
        0,
        0,
        "2026-10-12T17:00:00Z",
        Fixed,
    );
    w.complete("2026-10-12T17:00:00Z", O4, T3, None);

    // O5: time and material, late arrival, partial credit.
    let o5 = Order {
        n: O5,
        contract: None,
        calendar: CAL24,
        equipment: EQ3,
        site: NORTH,
        priority: Priority::P2,
        targets: (240, 1440),
    };
    open(&mut w, "2026-10-14T08:00:00Z", &o5, "E-BELT");
    w.assign("2026-10-14T08:05:00Z", O5, T1, a);
    visit(
        &mut w,
        O5,
        5001,
        T1,
        a,
        Some("2026-10-14T13:00:00Z"),
        "2026-10-14T14:00:00Z",
        north,
        30,
        1,
        "2026-10-14T15:00:00Z",
        Fixed,
    );
    w.complete("2026-10-14T15:00:00Z", O5, T1, a);
    w.close("2026-10-14T16:00:00Z", O5, 4);
    w.invoice("2026-10-15T15:00:00Z", I5, O5, CUST, "2026-10-15", "2026-10-25", vec![labour(8_000), part_line(1)]);
    w.push(
        "2026-10-16T09:00:00Z",
        CreditNoteIssued {
            credit_note_id: id(501),
            invoice_id: id(I5),
            customer_id: id(CUST),
            amount_cents: 3_000,
            currency: "EUR".into(),
            issued_on: d("2026-10-16"),
            reason: "goodwill".into(),
        },
    );

    // O6: open, breached.
    let o6 = Order {
        n: O6,
        contract: Some(GOLD),
        calendar: CAL24,
        equipment: EQ4,
        site: NORTH,
        priority: Priority::P1,
        targets: (120, 480),
    };
    open(&mut w, "2026-10-15T08:00:00Z", &o6, "E-PUMP");
    w.assign("2026-10-15T08:05:00Z", O6, T1, a);

    // O7: open, on track.
    let o7 = Order {
        n: O7,
        contract: Some(GOLD),
        calendar: CAL24,
        equipment: EQ1,
        site: NORTH,
        priority: Priority::P3,
        targets: (480, 2880),
    };
    open(&mut w, "2026-10-19T22:00:00Z", &o7, "E-FAN");

    // O8: cancelled.
    let o8 = Order {
        n: O8,
        contract: Some(GOLD),
        calendar: CAL24,
        equipment: EQ4,
        site: NORTH,
        priority: Priority::P2,
        targets: (240, 1440),
    };
    open(&mut w, "2026-10-16T09:00:00Z", &o8, "E-PUMP");
    w.push("2026-10-16T10:00:00Z", OrderCancelled { order_id: id(O8), reason: "duplicate call".into() });

    // Claims.
    w.claim("2026-10-06T09:00:00Z", C1, O1, AGENT_A, MAKER, EQ1, 60, 20_000);
    w.push(
        "2026-10-10T09:00:00Z",
        ClaimApproved {
            claim_id: id(C1),
            agent_id: id(AGENT_A),
            approved_cents: 15_000,
            note: Some("parts cut".into()),
        },
    );
    w.push(
        "2026-10-15T09:00:00Z",
        ClaimPaid { claim_id: id(C1), agent_id: id(AGENT_A), settlement_id: id(601), amount_cents: 15_000 },
    );
    w.claim("2026-10-07T09:00:00Z", C3, O1, AGENT_A, MAKER, EQ1, 60, 20_000);
    w.claim("2026-10-09T09:00:00Z", C2, O2, AGENT_B, MAKER, EQ2, 300, 40_000);
    w.push(
        "2026-10-12T09:00:00Z",
        ClaimRejected {
            claim_id: id(C2),
            agent_id: id(AGENT_B),
            reason_code: "labour_above_standard".into(),
            reason: "300 min for a 120 min repair".into(),
        },
    );
    w.claim("2026-10-08T09:00:00Z", C4, O3, AGENT_B, MAKER, EQ2, 60, 10_000);
    w.claim("2026-10-16T09:00:00Z", C5, O6, AGENT_A, MAKER, EQ4, 60, 10_000);
    w
}

/// One more order, committed separately: O9 GOLD EQ4 P1 (120/480) opened 10-16 08:00, arrived 12:00 → 4 h > 2 h,
/// response breached.
pub fn extra_order(w: &mut World) {
    let o9 = Order {
        n: 109,
        contract: Some(GOLD),
        calendar: CAL24,
        equipment: EQ4,
        site: NORTH,
        priority: Priority::P1,
        targets: (120, 480),
    };
    w.next = 5000;
    open(w, "2026-10-16T08:00:00Z", &o9, "E-PUMP");
    w.assign("2026-10-16T08:05:00Z", 109, T3, None);
    visit(
        w,
        109,
        9001,
        T3,
        None,
        None,
        "2026-10-16T12:00:00Z",
        (53.55, 9.99),
        0,
        0,
        "2026-10-16T13:00:00Z",
        VisitOutcome::Fixed,
    );
}
