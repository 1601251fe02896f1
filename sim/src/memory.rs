//! An in-memory reference core: applies the simulator's operations with the
//! operational core's rules (entitlement, SLA deadlines from the contract's
//! calendar, stock that never goes negative, invoice lines, claim amounts,
//! duplicate mobile actions) and records the events it would write to its
//! outbox. It lets the simulator and its statistics be tested without a
//! database, and documents what the simulator expects of the real core.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, TimeDelta, Utc};
use fieldhouse_domain::calendar::Calendar;
use fieldhouse_domain::event::*;
use fieldhouse_domain::ids::id_at;
use fieldhouse_domain::money::labour_cents;
use uuid::Uuid;

use crate::backend::{Backend, IssuedInvoice, Op, Outcome};
use crate::{Error, Result};

const T_AND_M_RATE: i64 = 12_000;

#[derive(Debug, Clone)]
struct MemOrder {
    opened: DateTime<Utc>,
    priority: Priority,
    calendar: Uuid,
    customer: Uuid,
    equipment: Uuid,
    product: Uuid,
    site: Uuid,
    contract: Option<usize>,
    entitlement: Entitlement,
    tech: Option<Uuid>,
    agent: Option<Uuid>,
    labour_minutes: i64,
    parts: Vec<(Uuid, i64)>,
    arrival_event: Option<Uuid>,
    completed: bool,
    invoiced: bool,
}

#[derive(Debug, Clone)]
struct MemClaim {
    agent: Uuid,
    amount: i64,
    approved: Option<i64>,
    paid: bool,
}

/// The in-memory core. [`MemoryCore::events`] is its outbox, in order.
#[derive(Debug, Default)]
pub struct MemoryCore {
    events: Vec<Event>,
    counter: u64,
    calendars: HashMap<Uuid, Calendar>,
    calendar_order: Vec<Uuid>,
    customers: HashMap<Uuid, i64>,
    sites: HashMap<Uuid, SiteRegistered>,
    products: HashMap<Uuid, ProductDefined>,
    equipment: HashMap<Uuid, EquipmentInstalled>,
    contracts: Vec<ContractSigned>,
    contract_of: HashMap<Uuid, usize>,
    agents: HashMap<Uuid, Vec<ClaimRate>>,
    techs: Vec<TechnicianHired>,
    parts: HashMap<Uuid, PartDefined>,
    stock: HashMap<(Uuid, Uuid), i64>,
    reorder: HashMap<(Uuid, Uuid), (i64, i64)>,
    orders: HashMap<Uuid, MemOrder>,
    invoices: HashMap<Uuid, Uuid>,
    claims: HashMap<Uuid, MemClaim>,
    claim_order: Vec<Uuid>,
    seen_client_ids: HashSet<Uuid>,
}

impl MemoryCore {
    pub fn new() -> MemoryCore {
        MemoryCore::default()
    }

    /// The outbox: every event written, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    fn emit(&mut self, at: DateTime<Utc>, source: &str, payload: impl Into<Payload>) -> Uuid {
        self.counter += 1;
        let mut random = [0u8; 10];
        random[2..].copy_from_slice(&self.counter.to_be_bytes());
        let event_id = id_at(at, random);
        self.events.push(Event {
            event_id,
            schema_version: SCHEMA_VERSION,
            occurred_at: at,
            recorded_at: None,
            source: source.to_string(),
            payload: payload.into(),
        });
        event_id
    }

    fn order(&mut self, op: &'static str, at: DateTime<Utc>, id: Uuid) -> Result<&mut MemOrder> {
        self.orders.get_mut(&id).ok_or_else(|| refused(op, at, format!("unknown order {id}")))
    }

    fn agent_of(&self, tech: Uuid) -> Option<Uuid> {
        self.techs.iter().find(|t| t.technician_id == tech).and_then(|t| t.agent_id)
    }

    /// The calendar of an order without a contract: business hours in the site's zone.
    fn default_calendar(&self, tz: &str) -> Option<Uuid> {
        self.calendar_order.iter().copied().find(|id| {
            self.calendars.get(id).is_some_and(|c| !c.always_open && c.tz.name() == tz && c.name.contains("business"))
        })
    }

    fn apply_op(&mut self, at: DateTime<Utc>, op: Op, source: &str) -> Result<Outcome> {
        let name = op.name();
        match op {
            Op::RegisterCustomer { customer_id, name, segment, payment_terms_days } => {
                self.customers.insert(customer_id, payment_terms_days);
                self.emit(at, source, CustomerRegistered { customer_id, name, segment, payment_terms_days });
            }
            Op::RegisterSite { site_id, customer_id, name, region, lat, lon, time_zone } => {
                let s = SiteRegistered { site_id, customer_id, name, region, lat, lon, time_zone };
                self.sites.insert(site_id, s.clone());
                self.emit(at, source, s);
            }
            Op::RegisterManufacturer { manufacturer_id, name } => {
                self.emit(at, source, ManufacturerRegistered { manufacturer_id, name });
            }
            Op::DefineProduct {
                product_id,
                manufacturer_id,
                model,
                family,
                standard_repair_minutes,
                warranty_months,
            } => {
                let p = ProductDefined {
                    product_id,
                    manufacturer_id,
                    model,
                    family,
                    standard_repair_minutes,
                    warranty_months,
                };
                self.products.insert(product_id, p.clone());
                self.emit(at, source, p);
            }
            Op::InstallEquipment {
                equipment_id,
                product_id,
                site_id,
                serial,
                installed_on,
                warranty_end,
                firmware,
            } => {
                let customer_id =
                    self.sites.get(&site_id).map(|s| s.customer_id).ok_or_else(|| refused(name, at, "unknown site"))?;
                let e = EquipmentInstalled {
                    equipment_id,
                    product_id,
                    site_id,
                    customer_id,
                    serial,
                    installed_on,
                    warranty_end,
                    firmware,
                };
                self.equipment.insert(equipment_id, e.clone());
                self.emit(at, source, e);
            }
            Op::DefineCalendar { calendar_id, calendar } => {
                self.calendars.insert(calendar_id, calendar.clone());
                self.calendar_order.push(calendar_id);
                self.emit(at, source, CalendarDefined { calendar_id, calendar });
            }
            Op::SignContract {
                contract_id,
                customer_id,
                tier,
                calendar_id,
                equipment_ids,
                sla,
                labour_rate_cents_per_hour,
                parts_discount_pct,
                labour_covered,
                monthly_fee_cents,
                currency,
                valid_from,
                valid_to,
                pause_on_parts,
            } => {
                if !self.calendars.contains_key(&calendar_id) {
                    return Err(refused(name, at, "unknown calendar"));
                }
                let c = ContractSigned {
                    contract_id,
                    customer_id,
                    tier,
                    calendar_id,
                    equipment_ids,
                    sla,
                    labour_rate_cents_per_hour,
                    parts_discount_pct,
                    labour_covered,
                    monthly_fee_cents,
                    currency,
                    valid_from,
                    valid_to,
                    pause_on_parts,
                };
                for e in &c.equipment_ids {
                    self.contract_of.insert(*e, self.contracts.len());
                }
                self.contracts.push(c.clone());
                self.emit(at, source, c);
            }
            Op::RegisterAgent { agent_id, name, claim_rates } => {
                self.agents.insert(agent_id, claim_rates.clone());
                self.emit(at, source, AgentRegistered { agent_id, name, claim_rates });
            }
            Op::HireTechnician {
                technician_id,
                name,
                region,
                skills,
                agent_id,
                shift_calendar_id,
                home_lat,
                home_lon,
            } => {
                let t = TechnicianHired {
                    technician_id,
                    name,
                    region,
                    skills,
                    agent_id,
                    shift_calendar_id,
                    home_lat,
                    home_lon,
                };
                self.techs.push(t.clone());
                self.emit(at, source, t);
            }
            Op::DefinePart { part_id, part_number, description, component, cost_cents, price_cents, currency } => {
                let p = PartDefined { part_id, part_number, description, component, cost_cents, price_cents, currency };
                self.parts.insert(part_id, p.clone());
                self.emit(at, source, p);
            }
            Op::DefineStockLocation { location_id, kind, name, region, technician_id } => {
                self.emit(at, source, StockLocationDefined { location_id, kind, name, region, technician_id });
            }
            Op::SetReorderPoint { location_id, part_id, reorder_point, reorder_quantity } => {
                self.reorder.insert((location_id, part_id), (reorder_point, reorder_quantity));
            }
            Op::DefineMaintenancePlan { plan_id, equipment_id, interval_days, next_due_on } => {
                self.emit(at, source, MaintenancePlanDefined { plan_id, equipment_id, interval_days, next_due_on });
            }
            Op::OpenOrder { order_id, order_type, channel, equipment_id, priority, fault_code, reported_fault } => {
                let e =
                    self.equipment.get(&equipment_id).cloned().ok_or_else(|| refused(name, at, "unknown equipment"))?;
                let site = self.sites.get(&e.site_id).cloned().ok_or_else(|| refused(name, at, "unknown site"))?;
                let day = at.date_naive();
                let contract = self
                    .contract_of
                    .get(&equipment_id)
                    .copied()
                    .filter(|&c| self.contracts[c].valid_from <= day && day <= self.contracts[c].valid_to);
                let (entitlement, reason) = match contract {
                    Some(c) => (
                        Entitlement::Contract,
                        format!(
                            "contract {}..{} covers equipment",
                            self.contracts[c].valid_from, self.contracts[c].valid_to
                        ),
                    ),
                    None if e.warranty_end >= day => {
                        (Entitlement::Warranty, format!("warranty until {}", e.warranty_end))
                    }
                    None => (Entitlement::TimeAndMaterial, "no contract or warranty in force".into()),
                };
                let (calendar_id, sla) = match contract {
                    Some(c) => (self.contracts[c].calendar_id, self.contracts[c].sla.clone()),
                    None => (
                        self.default_calendar(&site.time_zone)
                            .ok_or_else(|| refused(name, at, "no default calendar"))?,
                        crate::world::sla_terms(crate::world::Tier::Silver),
                    ),
                };
                let term = sla
                    .iter()
                    .find(|t| t.priority == priority)
                    .cloned()
                    .ok_or_else(|| refused(name, at, "no SLA term"))?;
                let cal = &self.calendars[&calendar_id];
                let far = at + TimeDelta::days(3650);
                let response_due_at = cal.deadline(at, TimeDelta::minutes(term.response_minutes), &[]).unwrap_or(far);
                let resolution_due_at =
                    cal.deadline(at, TimeDelta::minutes(term.resolution_minutes), &[]).unwrap_or(far);
                self.orders.insert(
                    order_id,
                    MemOrder {
                        opened: at,
                        priority,
                        calendar: calendar_id,
                        customer: e.customer_id,
                        equipment: equipment_id,
                        product: e.product_id,
                        site: e.site_id,
                        contract,
                        entitlement,
                        tech: None,
                        agent: None,
                        labour_minutes: 0,
                        parts: Vec::new(),
                        arrival_event: None,
                        completed: false,
                        invoiced: false,
                    },
                );
                self.emit(
                    at,
                    source,
                    OrderOpened {
                        order_id,
                        order_type,
                        channel,
                        customer_id: e.customer_id,
                        site_id: e.site_id,
                        equipment_id,
                        product_id: e.product_id,
                        priority,
                        fault_code,
                        reported_fault,
                        calendar_id,
                        response_due_at,
                        resolution_due_at,
                        response_target_minutes: term.response_minutes,
                        resolution_target_minutes: term.resolution_minutes,
                    },
                );
                let contract_id = contract.map(|c| self.contracts[c].contract_id);
                self.emit(at, source, EntitlementChecked { order_id, entitlement, contract_id, reason });
                return Ok(Outcome::Order { response_due_at: Some(response_due_at) });
            }
            Op::ChangePriority { order_id, priority } => {
                let o = self.order(name, at, order_id)?.clone();
                let sla = match o.contract {
                    Some(c) => self.contracts[c].sla.clone(),
                    None => crate::world::sla_terms(crate::world::Tier::Silver),
                };
                let term = sla
                    .iter()
                    .find(|t| t.priority == priority)
                    .cloned()
                    .ok_or_else(|| refused(name, at, "no SLA term"))?;
                let cal = &self.calendars[&o.calendar];
                let far = at + TimeDelta::days(3650);
                // Deadlines are recomputed from the opening, not from now.
                let response_due_at =
                    cal.deadline(o.opened, TimeDelta::minutes(term.response_minutes), &[]).unwrap_or(far);
                let resolution_due_at =
                    cal.deadline(o.opened, TimeDelta::minutes(term.resolution_minutes), &[]).unwrap_or(far);
                self.order(name, at, order_id)?.priority = priority;
                self.emit(
                    at,
                    source,
                    PriorityChanged {
                        order_id,
                        from: o.priority,
                        to: priority,
                        response_due_at,
                        resolution_due_at,
                        response_target_minutes: term.response_minutes,
                        resolution_target_minutes: term.resolution_minutes,
                    },
                );
                return Ok(Outcome::Order { response_due_at: Some(response_due_at) });
            }
            Op::SuggestTechnicians { order_id } => {
                let o = self.order(name, at, order_id)?.clone();
                let site = self.sites.get(&o.site).cloned().ok_or_else(|| refused(name, at, "unknown site"))?;
                let family = self.products.get(&o.product).map(|p| p.family.clone()).unwrap_or_default();
                let mut ranked: Vec<(i64, Uuid)> = self
                    .techs
                    .iter()
                    .map(|t| {
                        let km = crate::geo::distance_km(t.home_lat, t.home_lon, site.lat, site.lon);
                        let penalty = if t.skills.contains(&family) { 0 } else { 500 }
                            + if t.region == site.region { 0 } else { 1000 };
                        (penalty + km as i64, t.technician_id)
                    })
                    .collect();
                ranked.sort();
                return Ok(Outcome::Suggestions(ranked.into_iter().take(5).map(|(_, id)| id).collect()));
            }
            Op::Assign { order_id, technician_id } => {
                let agent_id = self.agent_of(technician_id);
                let o = self.order(name, at, order_id)?;
                o.tech = Some(technician_id);
                o.agent = agent_id;
                self.emit(at, source, OrderAssigned { order_id, technician_id, agent_id });
            }
            Op::Reassign { order_id, technician_id, reason } => {
                let agent_id = self.agent_of(technician_id);
                let o = self.order(name, at, order_id)?;
                let from = o.tech.ok_or_else(|| refused(name, at, "order not assigned"))?;
                o.tech = Some(technician_id);
                o.agent = agent_id;
                self.emit(
                    at,
                    source,
                    OrderReassigned { order_id, from_technician_id: from, technician_id, agent_id, reason },
                );
            }
            Op::StartTravel { order_id, visit_id, technician_id } => {
                let agent_id = self.order(name, at, order_id)?.agent;
                self.emit(at, source, TravelStarted { order_id, visit_id, technician_id, agent_id });
            }
            Op::Arrive { order_id, visit_id, lat, lon } => {
                let o = self.order(name, at, order_id)?.clone();
                let technician_id = o.tech.ok_or_else(|| refused(name, at, "order not assigned"))?;
                let id =
                    self.emit(at, source, Arrived { order_id, visit_id, technician_id, agent_id: o.agent, lat, lon });
                self.order(name, at, order_id)?.arrival_event = Some(id);
            }
            Op::Pause { order_id, reason } => {
                let contract = self.order(name, at, order_id)?.contract;
                if reason == PauseReason::WaitingForParts && !contract.is_some_and(|c| self.contracts[c].pause_on_parts)
                {
                    return Err(refused(
                        name,
                        at,
                        "the order's contract does not pause the clock while waiting for parts",
                    ));
                }
                self.emit(at, source, OrderPaused { order_id, reason });
            }
            Op::Resume { order_id } => {
                self.order(name, at, order_id)?;
                self.emit(at, source, OrderResumed { order_id });
            }
            Op::LogWork { order_id, visit_id, minutes } => {
                let o = self.order(name, at, order_id)?;
                o.labour_minutes += minutes;
                let (technician_id, agent_id) = (o.tech.unwrap_or_default(), o.agent);
                self.emit(at, source, WorkLogged { order_id, visit_id, technician_id, agent_id, minutes });
            }
            Op::ConsumePart { order_id, visit_id, part_id, location_id, quantity } => {
                let have = self.stock.get(&(location_id, part_id)).copied().unwrap_or(0);
                if have < quantity {
                    return Ok(Outcome::OutOfStock);
                }
                let unit_cost_cents = self.parts.get(&part_id).map_or(0, |p| p.cost_cents);
                let o = self.order(name, at, order_id)?;
                o.parts.push((part_id, quantity));
                let (technician_id, agent_id) = (o.tech.unwrap_or_default(), o.agent);
                self.stock.insert((location_id, part_id), have - quantity);
                self.emit(
                    at,
                    source,
                    PartConsumed {
                        order_id,
                        visit_id,
                        technician_id,
                        agent_id,
                        part_id,
                        location_id,
                        quantity,
                        unit_cost_cents,
                    },
                );
                self.check_reorder(at, location_id, part_id);
            }
            Op::EndVisit { order_id, visit_id, outcome } => {
                let o = self.order(name, at, order_id)?;
                let (technician_id, agent_id) = (o.tech.unwrap_or_default(), o.agent);
                self.emit(at, source, VisitEnded { order_id, visit_id, technician_id, agent_id, outcome });
            }
            Op::Complete { order_id } => {
                let o = self.order(name, at, order_id)?;
                o.completed = true;
                let (technician_id, agent_id) = (o.tech, o.agent);
                self.emit(at, source, OrderCompleted { order_id, technician_id, agent_id });
            }
            Op::Close { order_id, signed_by, csat } => {
                self.order(name, at, order_id)?;
                self.emit(at, source, OrderClosed { order_id, signed_by, csat });
            }
            Op::Cancel { order_id, reason } => {
                self.order(name, at, order_id)?;
                self.emit(at, source, OrderCancelled { order_id, reason });
            }
            Op::Reopen { order_id, reason } => {
                self.order(name, at, order_id)?.completed = false;
                self.emit(at, source, OrderReopened { order_id, reason });
            }
            Op::ReceiveStock { location_id, part_id, quantity, unit_cost_cents } => {
                *self.stock.entry((location_id, part_id)).or_insert(0) += quantity;
                self.emit(at, source, StockReceived { location_id, part_id, quantity, unit_cost_cents });
            }
            Op::TransferStock { from_location_id, location_id, part_id, quantity } => {
                let have = self.stock.get(&(from_location_id, part_id)).copied().unwrap_or(0);
                if have < quantity {
                    return Err(refused(name, at, "not enough stock to transfer"));
                }
                self.stock.insert((from_location_id, part_id), have - quantity);
                *self.stock.entry((location_id, part_id)).or_insert(0) += quantity;
                self.emit(at, source, StockTransferred { from_location_id, location_id, part_id, quantity });
                self.check_reorder(at, from_location_id, part_id);
            }
            Op::CountStock { location_id, part_id, counted } => {
                let previous = self.stock.insert((location_id, part_id), counted).unwrap_or(0);
                self.emit(at, source, StockCounted { location_id, part_id, counted, previous });
            }
            Op::InvoiceOrder { order_id } => return self.invoice_order(at, order_id, source),
            Op::RunFeeBilling => {
                let day = at.date_naive();
                let mut out = Vec::new();
                for c in self.contracts.clone() {
                    if c.valid_from > day || c.valid_to < day || c.monthly_fee_cents <= 0 {
                        continue;
                    }
                    let line = InvoiceLine {
                        kind: LineKind::Fee,
                        description: format!("{} contract fee {}", c.tier, day.format("%Y-%m")),
                        part_id: None,
                        quantity_milli: 1000,
                        unit_price_cents: c.monthly_fee_cents,
                        discount_cents: 0,
                        amount_cents: c.monthly_fee_cents,
                    };
                    out.push(self.issue(
                        at,
                        None,
                        Some(c.contract_id),
                        c.customer_id,
                        BillTo::Customer,
                        vec![line],
                        source,
                    ));
                }
                return Ok(Outcome::Invoices(out));
            }
            Op::ReceivePayment { payment_id, invoice_id, amount_cents } => {
                let customer_id =
                    *self.invoices.get(&invoice_id).ok_or_else(|| refused(name, at, "unknown invoice"))?;
                self.emit(
                    at,
                    source,
                    PaymentReceived {
                        payment_id,
                        invoice_id,
                        customer_id,
                        amount_cents,
                        currency: "EUR".into(),
                        received_on: at.date_naive(),
                    },
                );
            }
            Op::IssueCreditNote { credit_note_id, invoice_id, amount_cents, reason } => {
                let customer_id =
                    *self.invoices.get(&invoice_id).ok_or_else(|| refused(name, at, "unknown invoice"))?;
                self.emit(
                    at,
                    source,
                    CreditNoteIssued {
                        credit_note_id,
                        invoice_id,
                        customer_id,
                        amount_cents,
                        currency: "EUR".into(),
                        issued_on: at.date_naive(),
                        reason,
                    },
                );
            }
            Op::FileClaim { claim_id, order_id, labour_minutes, parts, with_arrival, photos } => {
                let o = self.order(name, at, order_id)?.clone();
                let agent_id = o.agent.ok_or_else(|| refused(name, at, "order not done by an agent"))?;
                let manufacturer_id = self.products.get(&o.product).map(|p| p.manufacturer_id).unwrap_or_default();
                let rate = self
                    .agents
                    .get(&agent_id)
                    .and_then(|r| r.iter().find(|r| r.manufacturer_id == manufacturer_id))
                    .map_or(8000, |r| r.labour_rate_cents_per_hour);
                let claim_parts: Vec<ClaimPart> = parts
                    .iter()
                    .map(|(p, q)| ClaimPart {
                        part_id: *p,
                        quantity: *q,
                        amount_cents: self.parts.get(p).map_or(0, |x| x.cost_cents) * q,
                    })
                    .collect();
                let amount_cents =
                    labour_cents(labour_minutes, rate) + claim_parts.iter().map(|p| p.amount_cents).sum::<i64>();
                self.claims
                    .insert(claim_id, MemClaim { agent: agent_id, amount: amount_cents, approved: None, paid: false });
                self.claim_order.push(claim_id);
                self.emit(
                    at,
                    source,
                    ClaimFiled {
                        claim_id,
                        order_id,
                        agent_id,
                        manufacturer_id,
                        equipment_id: o.equipment,
                        labour_minutes,
                        parts: claim_parts,
                        amount_cents,
                        currency: "EUR".into(),
                        arrival_event_id: if with_arrival { o.arrival_event } else { None },
                        photos,
                    },
                );
                return Ok(Outcome::Claim { claim_id, amount_cents });
            }
            Op::ApproveClaim { claim_id, approved_cents, note } => {
                let c = self.claims.get_mut(&claim_id).ok_or_else(|| refused(name, at, "unknown claim"))?;
                let approved = approved_cents.unwrap_or(c.amount).min(c.amount);
                c.approved = Some(approved);
                let agent_id = c.agent;
                self.emit(at, source, ClaimApproved { claim_id, agent_id, approved_cents: approved, note });
            }
            Op::RejectClaim { claim_id, reason_code, reason } => {
                let c = self.claims.get(&claim_id).ok_or_else(|| refused(name, at, "unknown claim"))?;
                let agent_id = c.agent;
                self.emit(at, source, ClaimRejected { claim_id, agent_id, reason_code, reason });
            }
            Op::RunClaimSettlement => {
                let settlement_id = id_at(at, [7; 10]);
                for id in self.claim_order.clone() {
                    let Some(c) = self.claims.get_mut(&id) else { continue };
                    if let (Some(amount), false) = (c.approved, c.paid) {
                        c.paid = true;
                        let agent_id = c.agent;
                        self.emit(
                            at,
                            source,
                            ClaimPaid { claim_id: id, agent_id, settlement_id, amount_cents: amount },
                        );
                    }
                }
            }
            Op::MobileSync { technician_id: _, batch_id: _, actions } => {
                let mut applied = 0;
                for a in actions {
                    if !self.seen_client_ids.insert(a.client_id) {
                        continue;
                    }
                    self.apply_op(a.at, a.op, "mobile")?;
                    applied += 1;
                }
                return Ok(Outcome::Synced { applied, duplicate: applied == 0, rejected: 0 });
            }
        }
        Ok(Outcome::Done)
    }

    fn check_reorder(&mut self, at: DateTime<Utc>, location_id: Uuid, part_id: Uuid) {
        let on_hand = self.stock.get(&(location_id, part_id)).copied().unwrap_or(0);
        if let Some(&(point, qty)) = self.reorder.get(&(location_id, part_id))
            && on_hand <= point
            && qty > 0
        {
            self.emit(at, "ops", ReorderPlaced { location_id, part_id, quantity: qty, reorder_point: point, on_hand });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn issue(
        &mut self,
        at: DateTime<Utc>,
        order_id: Option<Uuid>,
        contract_id: Option<Uuid>,
        customer_id: Uuid,
        bill_to: BillTo,
        lines: Vec<InvoiceLine>,
        source: &str,
    ) -> IssuedInvoice {
        self.counter += 1;
        let mut random = [1u8; 10];
        random[2..].copy_from_slice(&self.counter.to_be_bytes());
        let invoice_id = id_at(at, random);
        let issued_on = at.date_naive();
        let terms = self.customers.get(&customer_id).copied().unwrap_or(30);
        let due_on = issued_on + TimeDelta::days(terms);
        let total_cents = lines.iter().map(|l| l.amount_cents).sum();
        self.invoices.insert(invoice_id, customer_id);
        self.emit(
            at,
            source,
            InvoiceIssued {
                invoice_id,
                order_id,
                contract_id,
                customer_id,
                bill_to,
                issued_on,
                due_on,
                currency: "EUR".into(),
                lines,
                total_cents,
            },
        );
        IssuedInvoice { invoice_id, customer_id, total_cents, due_on }
    }

    fn invoice_order(&mut self, at: DateTime<Utc>, order_id: Uuid, source: &str) -> Result<Outcome> {
        let o = self.order("invoice_order", at, order_id)?.clone();
        if !o.completed || o.invoiced {
            return Err(refused("invoice_order", at, "order not completed or already invoiced"));
        }
        // Warranty work by an agent is claimed, not invoiced.
        if o.entitlement == Entitlement::Warranty && o.agent.is_some() {
            return Ok(Outcome::Invoices(Vec::new()));
        }
        let contract = o.contract.map(|c| self.contracts[c].clone());
        let (rate, covered, discount) = match (&contract, o.entitlement) {
            (Some(c), _) => (c.labour_rate_cents_per_hour, c.labour_covered, c.parts_discount_pct),
            (None, Entitlement::Warranty) => (T_AND_M_RATE, false, 0),
            (None, _) => (T_AND_M_RATE, false, 0),
        };
        let mut lines = Vec::new();
        if !covered && o.labour_minutes > 0 {
            let amount = labour_cents(o.labour_minutes, rate);
            lines.push(InvoiceLine {
                kind: LineKind::Labour,
                description: format!("{} min labour", o.labour_minutes),
                part_id: None,
                quantity_milli: o.labour_minutes * 1000 / 60,
                unit_price_cents: rate,
                discount_cents: 0,
                amount_cents: amount,
            });
        }
        for (p, q) in &o.parts {
            let price = self.parts.get(p).map_or(0, |x| x.price_cents);
            let gross = price * q;
            let disc = fieldhouse_domain::money::percent_of(gross, discount);
            if gross - disc > 0 {
                lines.push(InvoiceLine {
                    kind: LineKind::Part,
                    description: self.parts.get(p).map(|x| x.description.clone()).unwrap_or_default(),
                    part_id: Some(*p),
                    quantity_milli: q * 1000,
                    unit_price_cents: price,
                    discount_cents: disc,
                    amount_cents: gross - disc,
                });
            }
        }
        if let Some(o2) = self.orders.get_mut(&order_id) {
            o2.invoiced = true;
        }
        if lines.is_empty() {
            return Ok(Outcome::Invoices(Vec::new()));
        }
        let bill_to = if o.entitlement == Entitlement::Warranty { BillTo::Manufacturer } else { BillTo::Customer };
        let contract_id = contract.map(|c| c.contract_id);
        Ok(Outcome::Invoices(vec![self.issue(at, Some(order_id), contract_id, o.customer, bill_to, lines, source)]))
    }
}

fn refused(op: &'static str, at: DateTime<Utc>, message: impl Into<String>) -> Error {
    Error::Refused { op, at: at.to_rfc3339(), message: message.into() }
}

impl Backend for MemoryCore {
    fn apply(&mut self, at: DateTime<Utc>, op: Op) -> Result<Outcome> {
        self.apply_op(at, op, "ops")
    }

    fn events_written(&self) -> u64 {
        self.events.len() as u64
    }
}
