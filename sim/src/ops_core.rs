//! The real operational core in-process as a [`Backend`](crate::Backend):
//! every [`Call`] goes to the same public method of [`fieldhouse_ops::Ops`]
//! the HTTP handlers call.

use fieldhouse_ops::Ops;

use crate::calls::{Call, CallError, Core, InvoiceReply, Mapped, Reply};

/// [`Ops`] driven by the simulator.
pub type OpsCore = Mapped<Ops>;

impl Mapped<Ops> {
    /// The core being driven.
    pub fn ops(&self) -> &Ops {
        self.core()
    }
}

/// The library's refusals (the kinds the API answers 404, 409 and 422 for)
/// and its failures.
fn call_error(e: fieldhouse_ops::Error) -> CallError {
    use fieldhouse_ops::Error as E;
    match e {
        E::NotFound { .. } | E::Transition { .. } | E::Conflict { .. } | E::Invalid { .. } | E::OutOfStock { .. } => {
            CallError::Refused { code: e.code().to_string(), message: e.to_string() }
        }
        other => CallError::Failed(Box::new(other)),
    }
}

fn order(v: &fieldhouse_ops::orders::OrderView) -> Reply {
    Reply::Order { order_id: v.order_id, response_due_at: v.response_due_at, visit_id: v.visit_id }
}

fn invoice(v: &fieldhouse_ops::billing::InvoiceView) -> InvoiceReply {
    InvoiceReply { invoice_id: v.invoice_id, customer_id: v.customer_id, total_cents: v.total_cents, due_on: v.due_on }
}

impl Core for Ops {
    fn call(&mut self, call: Call) -> Result<Reply, CallError> {
        let ops: &Ops = self;
        let r = match call {
            Call::RegisterCustomer(c) => ops.register_customer(c).map(|v| Reply::Created(v.customer_id)),
            Call::RegisterSite(c) => ops.register_site(c).map(|v| Reply::Created(v.site_id)),
            Call::RegisterManufacturer(c) => ops.register_manufacturer(c).map(|v| Reply::Created(v.manufacturer_id)),
            Call::DefineProduct(c) => ops.define_product(c).map(|v| Reply::Created(v.product_id)),
            Call::InstallEquipment(c) => ops.install_equipment(c).map(|v| Reply::Created(v.equipment_id)),
            Call::DefineCalendar(c) => ops.define_calendar(c).map(|v| Reply::Created(v.calendar_id)),
            Call::SignContract(c) => ops.sign_contract(*c).map(|v| Reply::Created(v.contract_id)),
            Call::RegisterAgent(c) => ops.register_agent(c).map(|v| Reply::Created(v.agent_id)),
            Call::HireTechnician(c) => ops.hire_technician(c).map(|v| Reply::Created(v.technician_id)),
            Call::DefinePart(c) => ops.define_part(c).map(|v| Reply::Created(v.part_id)),
            Call::DefineStockLocation(c) => ops.define_stock_location(c).map(|v| Reply::Created(v.location_id)),
            Call::SetReorderPoint(c) => ops.set_reorder_point(c).map(|_| Reply::Done),
            Call::DefineMaintenancePlan(c) => ops.define_maintenance_plan(c).map(|v| Reply::Created(v.plan_id)),
            Call::OpenOrder(c) => ops.open_order(c).map(|v| order(&v)),
            Call::ChangePriority(id, c) => ops.change_priority(id, c).map(|v| order(&v)),
            Call::Suggest { order_id, at, limit } => ops
                .suggest_technicians(order_id, at, limit)
                .map(|list| Reply::Suggestions(list.iter().map(|s| s.technician_id).collect())),
            Call::Assign(id, c) => ops.assign(id, c).map(|v| order(&v)),
            Call::Reassign(id, c) => ops.reassign(id, c).map(|v| order(&v)),
            Call::StartTravel(id, c) => ops.start_travel(id, c).map(|v| order(&v)),
            Call::Arrive(id, c) => ops.arrive(id, c).map(|v| order(&v)),
            Call::Pause(id, c) => ops.pause(id, c).map(|v| order(&v)),
            Call::Resume(id, c) => ops.resume(id, c).map(|v| order(&v)),
            Call::LogWork(id, c) => ops.log_work(id, c).map(|v| order(&v)),
            Call::ConsumePart(id, c) => ops.consume_part(id, c).map(|v| order(&v)),
            Call::EndVisit(id, c) => ops.end_visit(id, c).map(|v| order(&v)),
            Call::Complete(id, c) => ops.complete(id, c).map(|v| order(&v)),
            Call::Close(id, c) => ops.close(id, c).map(|v| order(&v)),
            Call::Cancel(id, c) => ops.cancel(id, c).map(|v| order(&v)),
            Call::Reopen(id, c) => ops.reopen(id, c).map(|v| order(&v)),
            Call::ReceiveStock(c) => ops.receive_stock(c).map(|_| Reply::Done),
            Call::TransferStock(c) => ops.transfer_stock(c).map(|_| Reply::Done),
            Call::CountStock(c) => ops.count_stock(c).map(|_| Reply::Done),
            Call::SyncMobile(batch) => ops.sync_mobile(&batch).map(|r| Reply::Synced {
                applied: r.applied,
                duplicates: r.duplicates,
                rejected: r.rejected,
            }),
            Call::InvoiceOrder(id, c) => ops.invoice_order(id, c).map(|v| Reply::Invoices(vec![invoice(&v)])),
            Call::RunFeeBilling(c) => ops.run_fee_billing(c).map(|l| Reply::Invoices(l.iter().map(invoice).collect())),
            Call::RecordPayment(id, c) => ops.record_payment(id, c).map(|_| Reply::Done),
            Call::IssueCreditNote(id, c) => ops.issue_credit_note(id, c).map(|_| Reply::Done),
            Call::FileClaim(c) => ops
                .file_claim(c)
                .map(|v| Reply::Claim { claim_id: v.filed.claim_id, amount_cents: v.filed.amount_cents }),
            Call::ApproveClaim(id, c) => ops.approve_claim(id, c).map(|_| Reply::Done),
            Call::RejectClaim(id, c) => ops.reject_claim(id, c).map(|_| Reply::Done),
            Call::SettleClaims(c) => ops.settle_claims(c).map(|_| Reply::Done),
        };
        r.map_err(call_error)
    }

    fn events_written(&self) -> u64 {
        self.outbox_max_seq().map_or(0, |s| u64::try_from(s).unwrap_or(0))
    }
}
