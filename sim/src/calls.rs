//! The operational core's public calls, as both real backends carry them.
//!
//! [`Mapped`] turns a simulator [`Op`] into a [`Call`] of the core's API (the
//! command structs of `fieldhouse_ops`, the simulator's ids replaced by the
//! core's) and the core's [`Reply`] back into an [`Outcome`]. A [`Core`]
//! executes calls: [`fieldhouse_ops::Ops`] in-process ([`crate::ops_core`])
//! or the HTTP API ([`crate::http`]). Since the translation is shared, both
//! paths send the core the same commands in the same order, and a refusal
//! maps to the same [`Error::Refused`] on either.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use fieldhouse_ops::billing as b;
use fieldhouse_ops::claims as cl;
use fieldhouse_ops::master as m;
use fieldhouse_ops::mobile as mo;
use fieldhouse_ops::orders as o;
use fieldhouse_ops::stock as s;
use uuid::Uuid;

use crate::backend::{Backend, IssuedInvoice, Op, Outcome};
use crate::{Error, Result};

/// How many technicians the simulator asks the core to rank.
pub const SUGGESTIONS: usize = 5;

/// One call of the core's public API, ids already the core's.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    RegisterCustomer(m::RegisterCustomer),
    RegisterSite(m::RegisterSite),
    RegisterManufacturer(m::RegisterManufacturer),
    DefineProduct(m::DefineProduct),
    InstallEquipment(m::InstallEquipment),
    DefineCalendar(m::DefineCalendar),
    SignContract(Box<m::SignContract>),
    RegisterAgent(m::RegisterAgent),
    HireTechnician(m::HireTechnician),
    DefinePart(m::DefinePart),
    DefineStockLocation(m::DefineStockLocation),
    SetReorderPoint(s::SetReorderPoint),
    DefineMaintenancePlan(m::DefineMaintenancePlan),
    OpenOrder(o::OpenOrder),
    ChangePriority(Uuid, o::ChangePriority),
    Suggest { order_id: Uuid, at: DateTime<Utc>, limit: usize },
    Assign(Uuid, o::AssignOrder),
    Reassign(Uuid, o::ReassignOrder),
    StartTravel(Uuid, o::StartTravel),
    Arrive(Uuid, o::Arrive),
    Pause(Uuid, o::PauseOrder),
    Resume(Uuid, o::ResumeOrder),
    LogWork(Uuid, o::LogWork),
    ConsumePart(Uuid, o::ConsumePart),
    EndVisit(Uuid, o::EndVisit),
    Complete(Uuid, o::CompleteOrder),
    Close(Uuid, o::CloseOrder),
    Cancel(Uuid, o::CancelOrder),
    Reopen(Uuid, o::ReopenOrder),
    ReceiveStock(s::ReceiveStock),
    TransferStock(s::TransferStock),
    CountStock(s::CountStock),
    SyncMobile(mo::MobileBatch),
    InvoiceOrder(Uuid, b::InvoiceOrder),
    RunFeeBilling(b::RunFeeBilling),
    RecordPayment(Uuid, b::RecordPayment),
    IssueCreditNote(Uuid, b::IssueCreditNote),
    FileClaim(cl::FileClaim),
    ApproveClaim(Uuid, cl::ApproveClaim),
    RejectClaim(Uuid, cl::RejectClaim),
    SettleClaims(cl::SettleClaims),
}

/// An invoice as the core answered it (the customer id is the core's).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct InvoiceReply {
    pub invoice_id: Uuid,
    pub customer_id: Uuid,
    pub total_cents: i64,
    pub due_on: NaiveDate,
}

/// What the core answered, as far as the simulator needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Done,
    /// Master data created under this id.
    Created(Uuid),
    /// An order after the call: its id, response deadline and current visit.
    Order {
        order_id: Uuid,
        response_due_at: Option<DateTime<Utc>>,
        visit_id: Option<Uuid>,
    },
    /// Technician ids, best first.
    Suggestions(Vec<Uuid>),
    Invoices(Vec<InvoiceReply>),
    Claim {
        claim_id: Uuid,
        amount_cents: i64,
    },
    Synced {
        applied: usize,
        duplicates: usize,
        rejected: usize,
    },
}

/// Why a call failed.
#[derive(Debug)]
pub enum CallError {
    /// The core refused the call (unknown id, not allowed in this state,
    /// conflict, invalid value, out of stock) and changed nothing. `code` is
    /// the core's stable code word (`fieldhouse_ops::Error::code`), `message`
    /// its text.
    Refused { code: String, message: String },
    /// Storage or transport failed.
    Failed(Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Refused { code, message } => write!(f, "refused ({code}): {message}"),
            CallError::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Refused { .. } => None,
            CallError::Failed(e) => e.source(),
        }
    }
}

/// An operational core that executes [`Call`]s.
pub trait Core {
    fn call(&mut self, call: Call) -> std::result::Result<Reply, CallError>;
    /// Events in the core's outbox so far.
    fn events_written(&self) -> u64;
}

/// A [`Core`] driven by the simulator: maps the simulator's ids to the
/// core's (the core assigns its own ids; seeded, they are reproducible).
#[derive(Debug)]
pub struct Mapped<C> {
    core: C,
    /// Simulator id → core id.
    ids: HashMap<Uuid, Uuid>,
    /// Core id → simulator id (technicians in suggestions, customers on invoices).
    rev: HashMap<Uuid, Uuid>,
}

impl<C: Core> Mapped<C> {
    /// Drive `core`.
    pub fn new(core: C) -> Mapped<C> {
        Mapped { core, ids: HashMap::new(), rev: HashMap::new() }
    }

    /// The core being driven.
    pub fn core(&self) -> &C {
        &self.core
    }

    fn id(&self, sim: Uuid) -> Uuid {
        self.ids.get(&sim).copied().unwrap_or(sim)
    }

    fn opt(&self, sim: Option<Uuid>) -> Option<Uuid> {
        sim.map(|x| self.id(x))
    }

    fn map(&mut self, sim: Uuid, core: Uuid) {
        self.ids.insert(sim, core);
        self.rev.insert(core, sim);
    }

    fn sim_id(&self, core: Uuid) -> Uuid {
        self.rev.get(&core).copied().unwrap_or(core)
    }

    fn issued(&self, v: &InvoiceReply) -> IssuedInvoice {
        IssuedInvoice {
            invoice_id: v.invoice_id,
            customer_id: self.sim_id(v.customer_id),
            total_cents: v.total_cents,
            due_on: v.due_on,
        }
    }

    /// The call for `op`, and the simulator id a created record is known by.
    fn translate(&self, at: DateTime<Utc>, op: Op) -> Result<(Call, Option<Uuid>)> {
        let call = match op {
            Op::RegisterCustomer { customer_id, name, segment, payment_terms_days } => {
                let c = m::RegisterCustomer { name, segment, payment_terms_days, at };
                return Ok((Call::RegisterCustomer(c), Some(customer_id)));
            }
            Op::RegisterSite { site_id, customer_id, name, region, lat, lon, time_zone } => {
                let c = m::RegisterSite { customer_id: self.id(customer_id), name, region, lat, lon, time_zone, at };
                return Ok((Call::RegisterSite(c), Some(site_id)));
            }
            Op::RegisterManufacturer { manufacturer_id, name } => {
                return Ok((Call::RegisterManufacturer(m::RegisterManufacturer { name, at }), Some(manufacturer_id)));
            }
            Op::DefineProduct {
                product_id,
                manufacturer_id,
                model,
                family,
                standard_repair_minutes,
                warranty_months,
            } => {
                let c = m::DefineProduct {
                    manufacturer_id: self.id(manufacturer_id),
                    model,
                    family,
                    standard_repair_minutes,
                    warranty_months,
                    at,
                };
                return Ok((Call::DefineProduct(c), Some(product_id)));
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
                let c = m::InstallEquipment {
                    product_id: self.id(product_id),
                    site_id: self.id(site_id),
                    serial,
                    installed_on,
                    warranty_end: Some(warranty_end),
                    firmware,
                    at,
                };
                return Ok((Call::InstallEquipment(c), Some(equipment_id)));
            }
            Op::DefineCalendar { calendar_id, calendar } => {
                return Ok((Call::DefineCalendar(m::DefineCalendar { calendar, at }), Some(calendar_id)));
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
                let c = m::SignContract {
                    customer_id: self.id(customer_id),
                    tier,
                    calendar_id: self.id(calendar_id),
                    equipment_ids: equipment_ids.iter().map(|e| self.id(*e)).collect(),
                    sla,
                    labour_rate_cents_per_hour,
                    parts_discount_pct,
                    labour_covered,
                    monthly_fee_cents,
                    currency,
                    valid_from,
                    valid_to,
                    pause_on_parts,
                    at,
                };
                return Ok((Call::SignContract(Box::new(c)), Some(contract_id)));
            }
            Op::RegisterAgent { agent_id, name, claim_rates } => {
                let claim_rates = claim_rates
                    .into_iter()
                    .map(|mut r| {
                        r.manufacturer_id = self.id(r.manufacturer_id);
                        r
                    })
                    .collect();
                return Ok((Call::RegisterAgent(m::RegisterAgent { name, claim_rates, at }), Some(agent_id)));
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
                let c = m::HireTechnician {
                    name,
                    region,
                    skills,
                    agent_id: self.opt(agent_id),
                    shift_calendar_id: self.id(shift_calendar_id),
                    home_lat,
                    home_lon,
                    at,
                };
                return Ok((Call::HireTechnician(c), Some(technician_id)));
            }
            Op::DefinePart { part_id, part_number, description, component, cost_cents, price_cents, currency } => {
                let c = m::DefinePart { part_number, description, component, cost_cents, price_cents, currency, at };
                return Ok((Call::DefinePart(c), Some(part_id)));
            }
            Op::DefineStockLocation { location_id, kind, name, region, technician_id } => {
                let c = m::DefineStockLocation { kind, name, region, technician_id: self.opt(technician_id), at };
                return Ok((Call::DefineStockLocation(c), Some(location_id)));
            }
            Op::SetReorderPoint { location_id, part_id, reorder_point, reorder_quantity } => {
                Call::SetReorderPoint(s::SetReorderPoint {
                    location_id: self.id(location_id),
                    part_id: self.id(part_id),
                    reorder_point,
                    reorder_quantity,
                })
            }
            Op::DefineMaintenancePlan { plan_id, equipment_id, interval_days, next_due_on } => {
                let c =
                    m::DefineMaintenancePlan { equipment_id: self.id(equipment_id), interval_days, next_due_on, at };
                return Ok((Call::DefineMaintenancePlan(c), Some(plan_id)));
            }
            Op::OpenOrder { order_id, order_type, channel, equipment_id, priority, fault_code, reported_fault } => {
                let c = o::OpenOrder {
                    customer_id: None,
                    equipment_id: self.id(equipment_id),
                    order_type,
                    channel,
                    priority,
                    fault_code,
                    reported_fault,
                    at,
                };
                return Ok((Call::OpenOrder(c), Some(order_id)));
            }
            Op::ChangePriority { order_id, priority } => {
                Call::ChangePriority(self.id(order_id), o::ChangePriority { priority, at })
            }
            Op::SuggestTechnicians { order_id } => {
                Call::Suggest { order_id: self.id(order_id), at, limit: SUGGESTIONS }
            }
            Op::Assign { order_id, technician_id } => {
                Call::Assign(self.id(order_id), o::AssignOrder { technician_id: self.id(technician_id), at })
            }
            Op::Reassign { order_id, technician_id, reason } => Call::Reassign(
                self.id(order_id),
                o::ReassignOrder { technician_id: self.id(technician_id), reason, at },
            ),
            Op::StartTravel { order_id, visit_id, .. } => {
                return Ok((Call::StartTravel(self.id(order_id), o::StartTravel { at }), Some(visit_id)));
            }
            Op::Arrive { order_id, lat, lon, .. } => Call::Arrive(self.id(order_id), o::Arrive { lat, lon, at }),
            Op::Pause { order_id, reason } => Call::Pause(self.id(order_id), o::PauseOrder { reason, at }),
            Op::Resume { order_id } => Call::Resume(self.id(order_id), o::ResumeOrder { at }),
            Op::LogWork { order_id, minutes, .. } => Call::LogWork(self.id(order_id), o::LogWork { minutes, at }),
            Op::ConsumePart { order_id, part_id, location_id, quantity, .. } => Call::ConsumePart(
                self.id(order_id),
                o::ConsumePart { part_id: self.id(part_id), location_id: self.id(location_id), quantity, at },
            ),
            Op::EndVisit { order_id, outcome, .. } => Call::EndVisit(self.id(order_id), o::EndVisit { outcome, at }),
            Op::Complete { order_id } => Call::Complete(self.id(order_id), o::CompleteOrder { at }),
            Op::Close { order_id, signed_by, csat } => {
                Call::Close(self.id(order_id), o::CloseOrder { signed_by, csat, at })
            }
            Op::Cancel { order_id, reason } => Call::Cancel(self.id(order_id), o::CancelOrder { reason, at }),
            Op::Reopen { order_id, reason } => Call::Reopen(self.id(order_id), o::ReopenOrder { reason, at }),
            Op::ReceiveStock { location_id, part_id, quantity, unit_cost_cents } => {
                Call::ReceiveStock(s::ReceiveStock {
                    location_id: self.id(location_id),
                    part_id: self.id(part_id),
                    quantity,
                    unit_cost_cents: Some(unit_cost_cents),
                    at,
                })
            }
            Op::TransferStock { from_location_id, location_id, part_id, quantity } => {
                Call::TransferStock(s::TransferStock {
                    from_location_id: self.id(from_location_id),
                    to_location_id: self.id(location_id),
                    part_id: self.id(part_id),
                    quantity,
                    at,
                })
            }
            Op::CountStock { location_id, part_id, counted } => Call::CountStock(s::CountStock {
                location_id: self.id(location_id),
                part_id: self.id(part_id),
                counted,
                at,
            }),
            Op::MobileSync { technician_id, actions, .. } => {
                let mut list = Vec::with_capacity(actions.len());
                for a in actions {
                    let (order_id, kind) = match a.op {
                        Op::StartTravel { order_id, .. } => (order_id, mo::MobileActionKind::Travel),
                        Op::Arrive { order_id, lat, lon, .. } => (order_id, mo::MobileActionKind::Arrive { lat, lon }),
                        Op::ConsumePart { order_id, part_id, location_id, quantity, .. } => (
                            order_id,
                            mo::MobileActionKind::PartConsumed {
                                part_id: self.id(part_id),
                                location_id: self.id(location_id),
                                quantity,
                            },
                        ),
                        Op::LogWork { order_id, minutes, .. } => {
                            (order_id, mo::MobileActionKind::WorkLogged { minutes })
                        }
                        Op::EndVisit { order_id, outcome, .. } => {
                            (order_id, mo::MobileActionKind::VisitEnded { outcome })
                        }
                        Op::Close { order_id, signed_by, csat } => {
                            (order_id, mo::MobileActionKind::Close { signed_by, csat })
                        }
                        other => {
                            return Err(Error::Refused {
                                op: other.name(),
                                at: a.at.to_rfc3339(),
                                message: "not a mobile action".into(),
                            });
                        }
                    };
                    list.push(mo::MobileAction {
                        client_id: a.client_id.to_string(),
                        order_id: self.id(order_id),
                        at: a.at,
                        kind,
                    });
                }
                Call::SyncMobile(mo::MobileBatch { technician_id: self.id(technician_id), actions: list })
            }
            Op::InvoiceOrder { order_id } => Call::InvoiceOrder(self.id(order_id), b::InvoiceOrder { at }),
            Op::RunFeeBilling => Call::RunFeeBilling(b::RunFeeBilling { month: None, at }),
            Op::ReceivePayment { invoice_id, amount_cents, .. } => {
                Call::RecordPayment(self.id(invoice_id), b::RecordPayment { amount_cents, received_on: None, at })
            }
            Op::IssueCreditNote { invoice_id, amount_cents, reason, .. } => {
                Call::IssueCreditNote(self.id(invoice_id), b::IssueCreditNote { amount_cents, reason, at })
            }
            Op::FileClaim { claim_id, order_id, labour_minutes, parts, with_arrival: _, photos } => {
                // The core offers the order's first arrival as evidence by
                // default; it has no way to file a claim without it.
                let c = cl::FileClaim {
                    order_id: self.id(order_id),
                    labour_minutes,
                    parts: Some(
                        parts
                            .iter()
                            .map(|(p, q)| cl::ClaimPartRequest { part_id: self.id(*p), quantity: *q })
                            .collect(),
                    ),
                    arrival_event_id: None,
                    photos,
                    at,
                };
                return Ok((Call::FileClaim(c), Some(claim_id)));
            }
            Op::ApproveClaim { claim_id, approved_cents, note } => {
                Call::ApproveClaim(self.id(claim_id), cl::ApproveClaim { approved_cents, note, at })
            }
            Op::RejectClaim { claim_id, reason_code, reason } => {
                Call::RejectClaim(self.id(claim_id), cl::RejectClaim { reason_code, reason, at })
            }
            Op::RunClaimSettlement => Call::SettleClaims(cl::SettleClaims { agent_id: None, at }),
        };
        Ok((call, None))
    }

    fn apply_op(&mut self, at: DateTime<Utc>, op: Op) -> Result<Outcome> {
        let name = op.name();
        let (call, sim) = self.translate(at, op)?;
        let consume = matches!(call, Call::ConsumePart(..));
        let reply = match self.core.call(call) {
            Ok(r) => r,
            Err(CallError::Refused { code, .. }) if consume && code == "out_of_stock" => {
                return Ok(Outcome::OutOfStock);
            }
            Err(CallError::Refused { message, .. }) => {
                return Err(Error::Refused { op: name, at: at.to_rfc3339(), message });
            }
            Err(CallError::Failed(source)) => return Err(Error::Backend { op: name, source }),
        };
        let outcome = match reply {
            Reply::Done => Outcome::Done,
            Reply::Created(core) => {
                if let Some(sim) = sim {
                    self.map(sim, core);
                }
                Outcome::Done
            }
            Reply::Order { order_id, response_due_at, visit_id } => match name {
                "open_order" => {
                    if let Some(sim) = sim {
                        self.map(sim, order_id);
                    }
                    Outcome::Order { response_due_at }
                }
                "change_priority" => Outcome::Order { response_due_at },
                "start_travel" => {
                    if let (Some(sim), Some(core)) = (sim, visit_id) {
                        self.map(sim, core);
                    }
                    Outcome::Done
                }
                _ => Outcome::Done,
            },
            Reply::Suggestions(list) => Outcome::Suggestions(list.into_iter().map(|t| self.sim_id(t)).collect()),
            Reply::Invoices(list) => Outcome::Invoices(list.iter().map(|v| self.issued(v)).collect()),
            Reply::Claim { claim_id, amount_cents } => {
                if let Some(sim) = sim {
                    self.map(sim, claim_id);
                }
                Outcome::Claim { claim_id, amount_cents }
            }
            Reply::Synced { applied, duplicates, rejected } => {
                Outcome::Synced { applied, duplicate: applied == 0 && duplicates > 0, rejected }
            }
        };
        Ok(outcome)
    }
}

impl<C: Core> Backend for Mapped<C> {
    fn apply(&mut self, at: DateTime<Utc>, op: Op) -> Result<Outcome> {
        self.apply_op(at, op)
    }

    fn events_written(&self) -> u64 {
        self.core.events_written()
    }
}
