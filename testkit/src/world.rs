//! [`World`]: the events of a hand-made test world, in the order they are
//! pushed, each with a deterministic id, and a method per piece that the
//! worlds repeat.

use chrono::TimeDelta;
use fieldhouse_domain::event::{
    Arrived, BillTo, Channel, ClaimFiled, ContractSigned, Entitlement, EntitlementChecked, EquipmentInstalled, Event,
    InvoiceIssued, InvoiceLine, LineKind, OrderAssigned, OrderClosed, OrderCompleted, OrderOpened, OrderType,
    PartConsumed, PartDefined, Payload, Priority, ProductDefined, SiteRegistered, TechnicianHired, TravelStarted,
    VisitEnded, VisitOutcome, WorkLogged,
};

use crate::{d, id, t};

/// The events of a test world. The n-th event pushed gets the id
/// `id(0x10_0000 + n)`.
#[derive(Default)]
pub struct World {
    pub events: Vec<Event>,
    pub(crate) next: u128,
}

/// An order to open: what its `order_opened` says, and the contract its
/// entitlement check finds (`None`: time and material).
pub struct OrderSpec<'a> {
    pub n: u128,
    pub order_type: OrderType,
    pub customer: u128,
    pub site: u128,
    pub equipment: u128,
    pub product: u128,
    pub calendar: u128,
    pub contract: Option<u128>,
    pub priority: Priority,
    /// Response and resolution targets, in business minutes.
    pub targets: (i64, i64),
    pub fault: &'a str,
}

/// A visit: travel (when given), arrival at `pos`, at `end` the work logged
/// (when `work` > 0) and the part consumed (when given), then the end of
/// the visit with its outcome.
pub struct VisitSpec<'a> {
    pub order: u128,
    pub visit: u128,
    pub tech: u128,
    pub agent: Option<u128>,
    pub travel: Option<&'a str>,
    pub arrive: &'a str,
    /// Where the technician checked in: (lat, lon).
    pub pos: (f64, f64),
    /// Minutes of work.
    pub work: i64,
    pub part: Option<PartUse>,
    pub end: &'a str,
    pub outcome: VisitOutcome,
}

/// A part consumed on a visit, from a stock location.
pub struct PartUse {
    pub part: u128,
    pub location: u128,
    pub quantity: i64,
    pub unit_cost_cents: i64,
}

impl World {
    pub fn push(&mut self, at: &str, payload: impl Into<Payload>) {
        self.next += 1;
        let mut e = Event::new(t(at), "test", payload);
        e.event_id = id(0x10_0000 + self.next);
        self.events.push(e);
    }

    /// Open an order and check its entitlement, both at `at`.
    pub fn open(&mut self, at: &str, o: &OrderSpec<'_>) {
        let opened = t(at);
        self.push(
            at,
            OrderOpened {
                order_id: id(o.n),
                order_type: o.order_type,
                channel: Channel::Phone,
                customer_id: id(o.customer),
                site_id: id(o.site),
                equipment_id: id(o.equipment),
                product_id: id(o.product),
                priority: o.priority,
                fault_code: o.fault.into(),
                reported_fault: "broken".into(),
                calendar_id: id(o.calendar),
                // Stamped by ops without pauses; the engine recomputes from events.
                response_due_at: opened + TimeDelta::minutes(o.targets.0),
                resolution_due_at: opened + TimeDelta::minutes(o.targets.1),
                response_target_minutes: o.targets.0,
                resolution_target_minutes: o.targets.1,
            },
        );
        let (entitlement, contract_id) = match o.contract {
            Some(c) => (Entitlement::Contract, Some(id(c))),
            None => (Entitlement::TimeAndMaterial, None),
        };
        self.push(at, EntitlementChecked { order_id: id(o.n), entitlement, contract_id, reason: "test".into() });
    }

    pub fn assign(&mut self, at: &str, order: u128, tech: u128, agent: Option<u128>) {
        self.push(at, OrderAssigned { order_id: id(order), technician_id: id(tech), agent_id: agent.map(id) });
    }

    pub fn visit(&mut self, v: &VisitSpec<'_>) {
        let (order_id, visit_id, technician_id, agent_id) = (id(v.order), id(v.visit), id(v.tech), v.agent.map(id));
        if let Some(tr) = v.travel {
            self.push(tr, TravelStarted { order_id, visit_id, technician_id, agent_id });
        }
        self.push(v.arrive, Arrived { order_id, visit_id, technician_id, agent_id, lat: v.pos.0, lon: v.pos.1 });
        if v.work > 0 {
            self.push(v.end, WorkLogged { order_id, visit_id, technician_id, agent_id, minutes: v.work });
        }
        if let Some(p) = &v.part {
            self.push(
                v.end,
                PartConsumed {
                    order_id,
                    visit_id,
                    technician_id,
                    agent_id,
                    part_id: id(p.part),
                    location_id: id(p.location),
                    quantity: p.quantity,
                    unit_cost_cents: p.unit_cost_cents,
                },
            );
        }
        self.push(v.end, VisitEnded { order_id, visit_id, technician_id, agent_id, outcome: v.outcome });
    }

    pub fn complete(&mut self, at: &str, order: u128, tech: u128, agent: Option<u128>) {
        self.push(at, OrderCompleted { order_id: id(order), technician_id: Some(id(tech)), agent_id: agent.map(id) });
    }

    /// Closed, signed by "X", with a CSAT score.
    pub fn close(&mut self, at: &str, order: u128, csat: i32) {
        self.push(at, OrderClosed { order_id: id(order), signed_by: "X".into(), csat: Some(csat) });
    }

    /// An invoice in EUR to `customer` for `order`; the total is the sum of the lines.
    #[allow(clippy::too_many_arguments)]
    pub fn invoice(
        &mut self,
        at: &str,
        inv: u128,
        order: u128,
        customer: u128,
        issued: &str,
        due: &str,
        lines: Vec<InvoiceLine>,
    ) {
        let total = lines.iter().map(|l| l.amount_cents).sum();
        self.push(
            at,
            InvoiceIssued {
                invoice_id: id(inv),
                order_id: Some(id(order)),
                contract_id: None,
                customer_id: id(customer),
                bill_to: BillTo::Customer,
                issued_on: d(issued),
                due_on: d(due),
                currency: "EUR".into(),
                lines,
                total_cents: total,
            },
        );
    }

    /// A warranty claim in EUR without parts, one photo, no arrival event named.
    #[allow(clippy::too_many_arguments)]
    pub fn claim(
        &mut self,
        at: &str,
        claim: u128,
        order: u128,
        agent: u128,
        maker: u128,
        equipment: u128,
        minutes: i64,
        cents: i64,
    ) {
        self.push(
            at,
            ClaimFiled {
                claim_id: id(claim),
                order_id: id(order),
                agent_id: id(agent),
                manufacturer_id: id(maker),
                equipment_id: id(equipment),
                labour_minutes: minutes,
                parts: vec![],
                amount_cents: cents,
                currency: "EUR".into(),
                arrival_event_id: None,
                photos: 1,
            },
        );
    }

    /// A site in time zone UTC at `pos` (lat, lon).
    pub fn site(&mut self, at: &str, site: u128, customer: u128, name: &str, region: &str, pos: (f64, f64)) {
        self.push(
            at,
            SiteRegistered {
                site_id: id(site),
                customer_id: id(customer),
                name: name.into(),
                region: region.into(),
                lat: pos.0,
                lon: pos.1,
                time_zone: "UTC".into(),
            },
        );
    }

    /// A product of family `imaging`: standard repair 120 min, warranty 24 months.
    pub fn product(&mut self, at: &str, product: u128, maker: u128, model: &str) {
        self.push(
            at,
            ProductDefined {
                product_id: id(product),
                manufacturer_id: id(maker),
                model: model.into(),
                family: "imaging".into(),
                standard_repair_minutes: 120,
                warranty_months: 24,
            },
        );
    }

    /// A unit with serial `SN-<equipment>`, under warranty until 2028-01-01, no firmware.
    pub fn equipment(&mut self, at: &str, equipment: u128, product: u128, site: u128, customer: u128, installed: &str) {
        self.push(
            at,
            EquipmentInstalled {
                equipment_id: id(equipment),
                product_id: id(product),
                site_id: id(site),
                customer_id: id(customer),
                serial: format!("SN-{equipment}"),
                installed_on: d(installed),
                warranty_end: d("2028-01-01"),
                firmware: None,
            },
        );
    }

    /// A contract in EUR valid 2025-01-01..2027-12-31: labour 60.00/h billed,
    /// no parts discount, no monthly fee, no SLA terms of its own.
    #[allow(clippy::too_many_arguments)]
    pub fn contract(
        &mut self,
        at: &str,
        contract: u128,
        customer: u128,
        tier: &str,
        calendar: u128,
        equipment: &[u128],
        pause_on_parts: bool,
    ) {
        self.push(
            at,
            ContractSigned {
                contract_id: id(contract),
                customer_id: id(customer),
                tier: tier.into(),
                calendar_id: id(calendar),
                equipment_ids: equipment.iter().copied().map(id).collect(),
                sla: vec![],
                labour_rate_cents_per_hour: 6000,
                parts_discount_pct: 0,
                labour_covered: false,
                monthly_fee_cents: 0,
                currency: "EUR".into(),
                valid_from: d("2025-01-01"),
                valid_to: d("2027-12-31"),
                pause_on_parts,
            },
        );
    }

    /// A technician named `tech <tech>` without skills, living at `home` (lat, lon).
    pub fn technician(
        &mut self,
        at: &str,
        tech: u128,
        region: &str,
        agent: Option<u128>,
        shift_calendar: u128,
        home: (f64, f64),
    ) {
        self.push(
            at,
            TechnicianHired {
                technician_id: id(tech),
                name: format!("tech {tech}"),
                region: region.into(),
                skills: vec![],
                agent_id: agent.map(id),
                shift_calendar_id: id(shift_calendar),
                home_lat: home.0,
                home_lon: home.1,
            },
        );
    }

    /// A part of component `cooling`, priced in EUR.
    pub fn part(&mut self, at: &str, part: u128, number: &str, description: &str, cost_cents: i64, price_cents: i64) {
        self.push(
            at,
            PartDefined {
                part_id: id(part),
                part_number: number.into(),
                description: description.into(),
                component: "cooling".into(),
                cost_cents,
                price_cents,
                currency: "EUR".into(),
            },
        );
    }
}

/// A labour line of `cents`: quantity 1, no discount.
pub fn labour(cents: i64) -> InvoiceLine {
    InvoiceLine {
        kind: LineKind::Labour,
        description: "labour".into(),
        part_id: None,
        quantity_milli: 1000,
        unit_price_cents: cents,
        discount_cents: 0,
        amount_cents: cents,
    }
}
