//! Invoicing: order invoices priced by entitlement, the monthly contract-fee
//! run, payments (partial allowed) and credit notes. Money is integer cents.
//!
//! Pricing of an order invoice (lines follow `InvoiceLine`'s rule
//! `amount = round(quantity_milli * unit_price / 1000) - discount`):
//!
//! - labour: the minutes of work logged, as hours (`quantity_milli =
//!   round(minutes * 1000 / 60)`); travel: the minutes from travel start to
//!   arrival of every visit, at the same hourly rate as labour.
//! - contract: the contract's labour rate; when `labour_covered`, labour and
//!   travel lines carry a 100 % discount (amount 0, so the work stays
//!   visible on the invoice); parts at list price minus `parts_discount_pct`
//!   (rounded half away from zero).
//! - time and material: [`TM_LABOUR_RATE_CENTS_PER_HOUR`] and list prices.
//! - warranty: never billed to the customer. Work by an agent's technician
//!   is paid through a warranty claim (invoicing it is a 409
//!   `claim_required`); work by own staff is invoiced to the manufacturer
//!   (`bill_to = manufacturer`) at time-and-material prices, due in
//!   [`MANUFACTURER_TERMS_DAYS`].
//!
//! Due date = issue date (UTC day of `at`) + the customer's payment terms.
//! The fee run bills every contract in force on any day of the month a full
//! monthly fee once (no proration).

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};
use fieldhouse_domain::event::{
    BillTo, ContractSigned, CreditNoteIssued, CustomerRegistered, Entitlement, InvoiceIssued, InvoiceLine, LineKind,
    PartDefined, PaymentReceived,
};
use fieldhouse_domain::money::percent_of;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::db::{self, RowExt};
use crate::master::{self, MasterKind};
use crate::orders::{self, OrderAction};
use crate::service::{Ops, Page, SOURCE_OPS, Tx};
use crate::{Error, Result};

/// Hourly labour (and travel) rate for time-and-material work, in cents.
pub const TM_LABOUR_RATE_CENTS_PER_HOUR: i64 = 9_500;
/// Payment terms of invoices to manufacturers, in days.
pub const MANUFACTURER_TERMS_DAYS: i64 = 30;
/// Currency when nothing else names one.
pub const DEFAULT_CURRENCY: &str = "EUR";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvoiceOrder {
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFeeBilling {
    /// Any day of the month to bill; defaults to the UTC day of `at`.
    #[serde(default)]
    pub month: Option<NaiveDate>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordPayment {
    pub amount_cents: i64,
    /// Defaults to the UTC day of `at`.
    #[serde(default)]
    pub received_on: Option<NaiveDate>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueCreditNote {
    pub amount_cents: i64,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// An invoice with what has been paid and credited against it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceView {
    pub invoice_id: Uuid,
    pub order_id: Option<Uuid>,
    pub contract_id: Option<Uuid>,
    pub customer_id: Uuid,
    pub bill_to: BillTo,
    pub issued_on: NaiveDate,
    pub due_on: NaiveDate,
    pub currency: String,
    pub lines: Vec<InvoiceLine>,
    pub total_cents: i64,
    pub paid_cents: i64,
    pub credited_cents: i64,
    pub outstanding_cents: i64,
    /// `YYYY-MM` for a contract-fee invoice.
    pub fee_period: Option<String>,
}

/// Lines priced by the hour: `minutes` at `rate`, fully discounted when `covered`.
pub fn time_line(kind: LineKind, description: String, minutes: i64, rate: i64, covered: bool) -> InvoiceLine {
    let quantity_milli = (minutes * 1000 + 30) / 60;
    let gross = (i128::from(quantity_milli) * i128::from(rate) + 500) / 1000;
    let gross = i64::try_from(gross).unwrap_or(i64::MAX);
    let discount_cents = if covered { gross } else { 0 };
    InvoiceLine {
        kind,
        description,
        part_id: None,
        quantity_milli,
        unit_price_cents: rate,
        discount_cents,
        amount_cents: gross - discount_cents,
    }
}

/// A part line: `quantity` at list `price` minus `discount_pct` percent.
pub fn part_line(part: &PartDefined, quantity: i64, discount_pct: i64) -> InvoiceLine {
    let gross = quantity * part.price_cents;
    let discount_cents = percent_of(gross, discount_pct);
    InvoiceLine {
        kind: LineKind::Part,
        description: format!("{} {}", part.part_number, part.description),
        part_id: Some(part.part_id),
        quantity_milli: quantity * 1000,
        unit_price_cents: part.price_cents,
        discount_cents,
        amount_cents: gross - discount_cents,
    }
}

fn map_invoice(r: &rusqlite::Row<'_>) -> rusqlite::Result<(InvoiceView, String)> {
    let total: i64 = r.get("total_cents")?;
    let paid: i64 = r.get("paid_cents")?;
    let credited: i64 = r.get("credited_cents")?;
    Ok((
        InvoiceView {
            invoice_id: r.uuid("id")?,
            order_id: r.opt_uuid("order_id")?,
            contract_id: r.opt_uuid("contract_id")?,
            customer_id: r.uuid("customer_id")?,
            bill_to: r.parsed("bill_to")?,
            issued_on: r.date("issued_on")?,
            due_on: r.date("due_on")?,
            currency: r.get("currency")?,
            lines: Vec::new(),
            total_cents: total,
            paid_cents: paid,
            credited_cents: credited,
            outstanding_cents: total - paid - credited,
            fee_period: r.get("fee_period")?,
        },
        r.get("body")?,
    ))
}

fn finish(v: (InvoiceView, String)) -> Result<InvoiceView> {
    let (mut view, body) = v;
    let issued: InvoiceIssued = serde_json::from_str(&body)?;
    view.lines = issued.lines;
    Ok(view)
}

pub(crate) fn load_invoice(conn: &Connection, id: Uuid) -> Result<InvoiceView> {
    let row =
        conn.prepare_cached("SELECT * FROM invoices WHERE id = ?1")?.query_row([db::id(id)], map_invoice).optional()?;
    finish(row.ok_or_else(|| Error::not_found("invoice", id))?)
}

fn insert_invoice(
    tx: &mut Tx<'_>,
    ev: InvoiceIssued,
    fee_period: Option<String>,
    at: DateTime<Utc>,
) -> Result<InvoiceView> {
    tx.prepare_cached(
        "INSERT INTO invoices (id, order_id, contract_id, customer_id, bill_to, issued_on, due_on, currency,
            total_cents, fee_period, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        db::id(ev.invoice_id),
        ev.order_id.map(db::id),
        ev.contract_id.map(db::id),
        db::id(ev.customer_id),
        ev.bill_to.as_str(),
        db::day(ev.issued_on),
        db::day(ev.due_on),
        ev.currency,
        ev.total_cents,
        fee_period,
        serde_json::to_string(&ev)?
    ])?;
    let id = ev.invoice_id;
    tx.emit(at, ev)?;
    load_invoice(tx, id)
}

fn add_days(d: NaiveDate, days: i64) -> Result<NaiveDate> {
    d.checked_add_signed(TimeDelta::days(days)).ok_or_else(|| Error::invalid("at", "date out of range"))
}

fn invoice_order_tx(tx: &mut Tx<'_>, order_id: Uuid, c: &InvoiceOrder) -> Result<InvoiceView> {
    let (o, _) = orders::step(tx, order_id, OrderAction::Invoice)?;
    let existing: Option<String> = tx
        .prepare_cached("SELECT id FROM invoices WHERE order_id = ?1")?
        .query_row([db::id(order_id)], |r| r.get(0))
        .optional()?;
    if let Some(inv) = existing {
        return Err(Error::conflict("already_invoiced", format!("order {order_id} is already on invoice {inv}")));
    }
    let customer: CustomerRegistered = master::body(tx, MasterKind::Customer, o.customer_id)?;
    let contract: Option<ContractSigned> =
        o.contract_id.map(|id| master::body(tx, MasterKind::Contract, id)).transpose()?;
    let (bill_to, rate, covered, discount, terms) = match o.entitlement {
        Entitlement::Contract => {
            let k = contract.as_ref().ok_or_else(|| Error::corrupt("contract order without contract"))?;
            (
                BillTo::Customer,
                k.labour_rate_cents_per_hour,
                k.labour_covered,
                k.parts_discount_pct,
                customer.payment_terms_days,
            )
        }
        Entitlement::TimeAndMaterial => {
            (BillTo::Customer, TM_LABOUR_RATE_CENTS_PER_HOUR, false, 0, customer.payment_terms_days)
        }
        Entitlement::Warranty => {
            if let Some(agent) = o.agent_id {
                return Err(Error::conflict(
                    "claim_required",
                    format!("warranty work by agent {agent} is paid through a warranty claim, not an invoice"),
                ));
            }
            (BillTo::Manufacturer, TM_LABOUR_RATE_CENTS_PER_HOUR, false, 0, MANUFACTURER_TERMS_DAYS)
        }
    };
    let labour_minutes: i64 = tx
        .prepare_cached("SELECT COALESCE(SUM(minutes), 0) FROM work_logs WHERE order_id = ?1")?
        .query_row([db::id(order_id)], |r| r.get(0))?;
    let travel_minutes: i64 = {
        let mut stmt = tx.prepare_cached(
            "SELECT travel_started_at, arrived_at FROM visits WHERE order_id = ?1 AND arrived_at IS NOT NULL",
        )?;
        let rows =
            stmt.query_map([db::id(order_id)], |r| Ok((r.instant("travel_started_at")?, r.instant("arrived_at")?)))?;
        let mut total = 0;
        for row in rows {
            let (s, e) = row?;
            total += (e - s).num_minutes().max(0);
        }
        total
    };
    let mut lines = Vec::new();
    if labour_minutes > 0 {
        lines.push(time_line(LineKind::Labour, format!("labour {labour_minutes} min"), labour_minutes, rate, covered));
    }
    if travel_minutes > 0 {
        lines.push(time_line(LineKind::Travel, format!("travel {travel_minutes} min"), travel_minutes, rate, covered));
    }
    let mut currency = contract.as_ref().map(|k| k.currency.clone());
    let parts: Vec<(String, i64)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT part_id, SUM(quantity) FROM consumptions WHERE order_id = ?1 GROUP BY part_id ORDER BY MIN(id)",
        )?;
        stmt.query_map([db::id(order_id)], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?
    };
    for (part_id, qty) in parts {
        let part_id = Uuid::parse_str(&part_id).map_err(|e| Error::corrupt(e.to_string()))?;
        let part: PartDefined = master::body(tx, MasterKind::Part, part_id)?;
        currency.get_or_insert_with(|| part.currency.clone());
        lines.push(part_line(&part, qty, discount));
    }
    let issued_on = c.at.date_naive();
    let customer_id = o.customer_id;
    let ev = InvoiceIssued {
        invoice_id: tx.new_id(c.at),
        order_id: Some(order_id),
        contract_id: o.contract_id,
        customer_id,
        bill_to,
        issued_on,
        due_on: add_days(issued_on, terms)?,
        currency: currency.unwrap_or_else(|| DEFAULT_CURRENCY.to_string()),
        total_cents: lines.iter().map(|l| l.amount_cents).sum(),
        lines,
    };
    insert_invoice(tx, ev, None, c.at)
}

fn month_bounds(d: NaiveDate) -> Result<(NaiveDate, NaiveDate)> {
    let first = d.with_day(1).ok_or_else(|| Error::invalid("month", "bad date"))?;
    let last = first
        .checked_add_months(Months::new(1))
        .and_then(|n| n.pred_opt())
        .ok_or_else(|| Error::invalid("month", "date out of range"))?;
    Ok((first, last))
}

impl Ops {
    /// Invoice a completed or closed order (once).
    pub fn invoice_order(&self, order_id: Uuid, c: InvoiceOrder) -> Result<InvoiceView> {
        self.write(SOURCE_OPS, |tx| invoice_order_tx(tx, order_id, &c))
    }

    /// Bill the monthly fee of every contract in force in the month not yet billed for it.
    pub fn run_fee_billing(&self, c: RunFeeBilling) -> Result<Vec<InvoiceView>> {
        let (first, last) = month_bounds(c.month.unwrap_or(c.at.date_naive()))?;
        let period = first.format("%Y-%m").to_string();
        self.write(SOURCE_OPS, |tx| {
            let bodies: Vec<String> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT body FROM contracts c WHERE valid_from <= ?2 AND valid_to >= ?1
                       AND (terminated_on IS NULL OR terminated_on > ?1)
                       AND NOT EXISTS (SELECT 1 FROM invoices i WHERE i.contract_id = c.id AND i.fee_period = ?3)
                     ORDER BY id",
                )?;
                stmt.query_map(params![db::day(first), db::day(last), period], |r| r.get(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            let mut out = Vec::new();
            for b in bodies {
                let k: ContractSigned = serde_json::from_str(&b)?;
                if k.monthly_fee_cents <= 0 {
                    continue;
                }
                let customer: CustomerRegistered = master::body(tx, MasterKind::Customer, k.customer_id)?;
                let issued_on = c.at.date_naive();
                let line = InvoiceLine {
                    kind: fieldhouse_domain::event::LineKind::Fee,
                    description: format!("{} contract fee {period}", k.tier),
                    part_id: None,
                    quantity_milli: 1000,
                    unit_price_cents: k.monthly_fee_cents,
                    discount_cents: 0,
                    amount_cents: k.monthly_fee_cents,
                };
                let ev = InvoiceIssued {
                    invoice_id: tx.new_id(c.at),
                    order_id: None,
                    contract_id: Some(k.contract_id),
                    customer_id: k.customer_id,
                    bill_to: BillTo::Customer,
                    issued_on,
                    due_on: add_days(issued_on, customer.payment_terms_days)?,
                    currency: k.currency.clone(),
                    total_cents: k.monthly_fee_cents,
                    lines: vec![line],
                };
                out.push(insert_invoice(tx, ev, Some(period.clone()), c.at)?);
            }
            Ok(out)
        })
    }

    /// Record a (possibly partial) payment; more than is outstanding is refused.
    pub fn record_payment(&self, invoice_id: Uuid, c: RecordPayment) -> Result<InvoiceView> {
        if c.amount_cents <= 0 {
            return Err(Error::invalid("amount_cents", "must be positive"));
        }
        self.write(SOURCE_OPS, |tx| {
            let inv = load_invoice(tx, invoice_id)?;
            if c.amount_cents > inv.outstanding_cents {
                return Err(Error::invalid(
                    "amount_cents",
                    format!("{} exceeds the outstanding {}", c.amount_cents, inv.outstanding_cents),
                ));
            }
            let received_on = c.received_on.unwrap_or(c.at.date_naive());
            let payment_id = tx.new_id(c.at);
            tx.prepare_cached(
                "INSERT INTO payments (id, invoice_id, amount_cents, received_on) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                db::id(payment_id),
                db::id(invoice_id),
                c.amount_cents,
                db::day(received_on)
            ])?;
            tx.prepare_cached("UPDATE invoices SET paid_cents = paid_cents + ?2 WHERE id = ?1")?
                .execute(params![db::id(invoice_id), c.amount_cents])?;
            tx.emit(
                c.at,
                PaymentReceived {
                    payment_id,
                    invoice_id,
                    customer_id: inv.customer_id,
                    amount_cents: c.amount_cents,
                    currency: inv.currency.clone(),
                    received_on,
                },
            )?;
            load_invoice(tx, invoice_id)
        })
    }

    /// Issue a credit note against an invoice (at most what is outstanding).
    pub fn issue_credit_note(&self, invoice_id: Uuid, c: IssueCreditNote) -> Result<InvoiceView> {
        if c.amount_cents <= 0 {
            return Err(Error::invalid("amount_cents", "must be positive"));
        }
        if c.reason.trim().is_empty() {
            return Err(Error::invalid("reason", "a credit note needs a reason"));
        }
        self.write(SOURCE_OPS, |tx| {
            let inv = load_invoice(tx, invoice_id)?;
            if c.amount_cents > inv.outstanding_cents {
                return Err(Error::invalid(
                    "amount_cents",
                    format!("{} exceeds the outstanding {}", c.amount_cents, inv.outstanding_cents),
                ));
            }
            let issued_on = c.at.date_naive();
            let credit_note_id = tx.new_id(c.at);
            tx.prepare_cached(
                "INSERT INTO credit_notes (id, invoice_id, amount_cents, issued_on, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                db::id(credit_note_id),
                db::id(invoice_id),
                c.amount_cents,
                db::day(issued_on),
                c.reason
            ])?;
            tx.prepare_cached("UPDATE invoices SET credited_cents = credited_cents + ?2 WHERE id = ?1")?
                .execute(params![db::id(invoice_id), c.amount_cents])?;
            tx.emit(
                c.at,
                CreditNoteIssued {
                    credit_note_id,
                    invoice_id,
                    customer_id: inv.customer_id,
                    amount_cents: c.amount_cents,
                    currency: inv.currency.clone(),
                    issued_on,
                    reason: c.reason.clone(),
                },
            )?;
            load_invoice(tx, invoice_id)
        })
    }

    /// One invoice.
    pub fn invoice(&self, invoice_id: Uuid) -> Result<InvoiceView> {
        self.read(|c| load_invoice(c, invoice_id))
    }

    /// A page of invoices by id, optionally one customer's or only those with money outstanding.
    pub fn list_invoices(&self, customer_id: Option<Uuid>, unpaid_only: bool, page: &Page) -> Result<Vec<InvoiceView>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT * FROM invoices WHERE id > ?1 AND (?2 IS NULL OR customer_id = ?2)
                   AND (?3 = 0 OR total_cents - paid_cents - credited_cents > 0) ORDER BY id LIMIT ?4",
            )?;
            let rows = stmt.query_map(
                params![page.after_str(), customer_id.map(db::id), unpaid_only, page.limit_i64()],
                map_invoice,
            )?;
            rows.map(|r| finish(r?)).collect()
        })
    }
}
