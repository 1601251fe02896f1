//! One hand-written example of every event type, for docs, tests and fuzzing
//! seeds. The ids are fixed so examples are stable.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

use crate::calendar::Calendar;
use crate::event::*;

fn id(n: u128) -> Uuid {
    // A valid v7 layout: version nibble 7, variant bits 10.
    Uuid::from_u128(0x0192_0000_0000_7000_8000_0000_0000_0000 | n)
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, h, m, 0).single().unwrap_or_default()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, d).unwrap_or_default()
}

/// One example payload of every event type, in `EVENT_TYPES` order.
pub fn sample_payloads() -> Vec<Payload> {
    let (customer, site, maker, product, equipment) = (id(1), id(2), id(3), id(4), id(5));
    let (calendar, contract, agent, tech, part, van) = (id(6), id(7), id(8), id(9), id(10), id(11));
    let (order, visit, invoice, claim) = (id(12), id(13), id(14), id(15));
    vec![
        CustomerRegistered {
            customer_id: customer,
            name: "Klinikum Nord".into(),
            segment: Segment::Public,
            payment_terms_days: 30,
        }
        .into(),
        SiteRegistered {
            site_id: site,
            customer_id: customer,
            name: "Haus A".into(),
            region: "North".into(),
            lat: 53.55,
            lon: 9.99,
            time_zone: "Europe/Berlin".into(),
        }
        .into(),
        ManufacturerRegistered { manufacturer_id: maker, name: "Medica AG".into() }.into(),
        ProductDefined {
            product_id: product,
            manufacturer_id: maker,
            model: "CT-500".into(),
            family: "imaging".into(),
            standard_repair_minutes: 120,
            warranty_months: 24,
        }
        .into(),
        EquipmentInstalled {
            equipment_id: equipment,
            product_id: product,
            site_id: site,
            customer_id: customer,
            serial: "CT5-000123".into(),
            installed_on: day(1),
            warranty_end: NaiveDate::from_ymd_opt(2028, 9, 30).unwrap_or_default(),
            firmware: Some("4.2.1".into()),
        }
        .into(),
        EquipmentDecommissioned { equipment_id: equipment, decommissioned_on: day(30) }.into(),
        CalendarDefined { calendar_id: calendar, calendar: Calendar::always(chrono_tz::Europe::Berlin) }.into(),
        ContractSigned {
            contract_id: contract,
            customer_id: customer,
            tier: "gold".into(),
            calendar_id: calendar,
            equipment_ids: vec![equipment],
            sla: vec![SlaTerm { priority: Priority::P1, response_minutes: 240, resolution_minutes: 1440 }],
            labour_rate_cents_per_hour: 9500,
            parts_discount_pct: 15,
            labour_covered: true,
            monthly_fee_cents: 10000,
            currency: "EUR".into(),
            valid_from: day(1),
            valid_to: NaiveDate::from_ymd_opt(2027, 9, 30).unwrap_or_default(),
            pause_on_parts: true,
        }
        .into(),
        ContractTerminated { contract_id: contract, effective_on: day(31) }.into(),
        AgentRegistered {
            agent_id: agent,
            name: "ServicePartner GmbH".into(),
            claim_rates: vec![ClaimRate { manufacturer_id: maker, labour_rate_cents_per_hour: 7000 }],
        }
        .into(),
        TechnicianHired {
            technician_id: tech,
            name: "A. Weber".into(),
            region: "North".into(),
            skills: vec!["imaging".into()],
            agent_id: Some(agent),
            shift_calendar_id: calendar,
            home_lat: 53.6,
            home_lon: 10.0,
        }
        .into(),
        TechnicianLeft { technician_id: tech }.into(),
        PartDefined {
            part_id: part,
            part_number: "P-4711".into(),
            description: "Cooling pump".into(),
            component: "cooling".into(),
            cost_cents: 12000,
            price_cents: 18000,
            currency: "EUR".into(),
        }
        .into(),
        StockLocationDefined {
            location_id: van,
            kind: LocationKind::Van,
            name: "Van A. Weber".into(),
            region: "North".into(),
            technician_id: Some(tech),
        }
        .into(),
        MaintenancePlanDefined { plan_id: id(16), equipment_id: equipment, interval_days: 180, next_due_on: day(15) }
            .into(),
        OrderOpened {
            order_id: order,
            order_type: OrderType::Corrective,
            channel: Channel::Phone,
            customer_id: customer,
            site_id: site,
            equipment_id: equipment,
            product_id: product,
            priority: Priority::P2,
            fault_code: "E-COOL-LEAK".into(),
            reported_fault: "Coolant on the floor".into(),
            calendar_id: calendar,
            response_due_at: at(12, 0),
            resolution_due_at: at(20, 0),
            response_target_minutes: 240,
            resolution_target_minutes: 720,
        }
        .into(),
        EntitlementChecked {
            order_id: order,
            entitlement: Entitlement::Contract,
            contract_id: Some(contract),
            reason: "contract in force".into(),
        }
        .into(),
        PriorityChanged {
            order_id: order,
            from: Priority::P2,
            to: Priority::P1,
            response_due_at: at(10, 0),
            resolution_due_at: at(16, 0),
            response_target_minutes: 120,
            resolution_target_minutes: 480,
        }
        .into(),
        OrderAssigned { order_id: order, technician_id: tech, agent_id: Some(agent) }.into(),
        OrderReassigned {
            order_id: order,
            from_technician_id: tech,
            technician_id: id(17),
            agent_id: None,
            reason: "sick".into(),
        }
        .into(),
        TravelStarted { order_id: order, visit_id: visit, technician_id: tech, agent_id: Some(agent) }.into(),
        Arrived {
            order_id: order,
            visit_id: visit,
            technician_id: tech,
            agent_id: Some(agent),
            lat: 53.5501,
            lon: 9.9902,
        }
        .into(),
        OrderPaused { order_id: order, reason: PauseReason::WaitingForParts }.into(),
        OrderResumed { order_id: order }.into(),
        WorkLogged { order_id: order, visit_id: visit, technician_id: tech, agent_id: Some(agent), minutes: 95 }.into(),
        PartConsumed {
            order_id: order,
            visit_id: visit,
            technician_id: tech,
            agent_id: Some(agent),
            part_id: part,
            location_id: van,
            quantity: 1,
            unit_cost_cents: 12000,
        }
        .into(),
        VisitEnded {
            order_id: order,
            visit_id: visit,
            technician_id: tech,
            agent_id: Some(agent),
            outcome: VisitOutcome::Fixed,
        }
        .into(),
        OrderCompleted { order_id: order, technician_id: Some(tech), agent_id: Some(agent) }.into(),
        OrderClosed { order_id: order, signed_by: "Dr. Krause".into(), csat: Some(5) }.into(),
        OrderCancelled { order_id: order, reason: "duplicate call".into() }.into(),
        OrderReopened { order_id: order, reason: "leak again".into() }.into(),
        InvoiceIssued {
            invoice_id: invoice,
            order_id: Some(order),
            contract_id: Some(contract),
            customer_id: customer,
            bill_to: BillTo::Customer,
            issued_on: day(2),
            due_on: day(31),
            currency: "EUR".into(),
            lines: vec![InvoiceLine {
                kind: LineKind::Part,
                description: "Cooling pump".into(),
                part_id: Some(part),
                quantity_milli: 1000,
                unit_price_cents: 18000,
                discount_cents: 2700,
                amount_cents: 15300,
            }],
            total_cents: 15300,
        }
        .into(),
        PaymentReceived {
            payment_id: id(18),
            invoice_id: invoice,
            customer_id: customer,
            amount_cents: 10000,
            currency: "EUR".into(),
            received_on: day(20),
        }
        .into(),
        CreditNoteIssued {
            credit_note_id: id(19),
            invoice_id: invoice,
            customer_id: customer,
            amount_cents: 5300,
            currency: "EUR".into(),
            issued_on: day(21),
            reason: "goodwill".into(),
        }
        .into(),
        ClaimFiled {
            claim_id: claim,
            order_id: order,
            agent_id: agent,
            manufacturer_id: maker,
            equipment_id: equipment,
            labour_minutes: 95,
            parts: vec![ClaimPart { part_id: part, quantity: 1, amount_cents: 12000 }],
            amount_cents: 23083,
            currency: "EUR".into(),
            arrival_event_id: Some(id(20)),
            photos: 3,
        }
        .into(),
        ClaimApproved {
            claim_id: claim,
            agent_id: agent,
            approved_cents: 20000,
            note: Some("labour capped at standard time".into()),
        }
        .into(),
        ClaimRejected {
            claim_id: claim,
            agent_id: agent,
            reason_code: "no_arrival".into(),
            reason: "no arrival event for the order".into(),
        }
        .into(),
        ClaimPaid { claim_id: claim, agent_id: agent, settlement_id: id(21), amount_cents: 20000 }.into(),
        StockReceived { location_id: van, part_id: part, quantity: 4, unit_cost_cents: 12000 }.into(),
        StockTransferred { from_location_id: id(22), location_id: van, part_id: part, quantity: 2 }.into(),
        StockCounted { location_id: van, part_id: part, counted: 3, previous: 4 }.into(),
        ReorderPlaced { location_id: van, part_id: part, quantity: 5, reorder_point: 1, on_hand: 0 }.into(),
    ]
}

/// One example event of every event type.
pub fn sample_events() -> Vec<Event> {
    sample_payloads()
        .into_iter()
        .enumerate()
        .map(|(i, payload)| Event {
            event_id: id(1000 + i as u128),
            schema_version: SCHEMA_VERSION,
            occurred_at: at(8, 0) + chrono::TimeDelta::minutes(i as i64),
            recorded_at: Some(at(9, 0)),
            source: "ops".into(),
            payload,
        })
        .collect()
}
