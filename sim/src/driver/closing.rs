//! Closing orders and what follows: sign-off with CSAT, reopening,
//! invoices and their payments and credit notes, warranty claims and the
//! manufacturer's decisions.

use chrono::TimeDelta;
use fieldhouse_domain::event::{Segment, VisitOutcome};
use uuid::Uuid;

use super::{At, ClaimTask, OrderState, Sim, Task, hm, minutes};
use crate::Result;
use crate::backend::{Backend, IssuedInvoice, Op, Outcome};

impl<B: Backend + ?Sized> Sim<'_, B> {
    pub(super) fn close(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o).cloned() else { return Ok(()) };
        // CSAT falls with a late response and with repeat visits.
        let late = ord.first_arrival.is_some_and(|a| a > ord.response_due);
        let wait_h = ord.first_arrival.map_or(24.0, |a| (a - ord.opened).num_minutes() as f64 / 60.0);
        let score = 4.7
            - if late { 1.3 } else { 0.0 }
            - 0.5 * f64::from(ord.visits.saturating_sub(1))
            - (wait_h / 48.0).min(0.8)
            + 0.7 * self.d.normal();
        let csat = if self.d.chance(0.2) { None } else { Some(score.round().clamp(1.0, 5.0) as i32) };
        let signed_by = ["A. Meyer", "Facility desk", "J. de Vries", "Head nurse", "S. Brown"][self.d.index(5)];
        self.call(at, Op::Close { order_id: ord.id, signed_by: signed_by.into(), csat })?;
        let u = self.w.equipment[ord.unit].clone();
        let customer = self.w.sites[u.site].customer;
        // A few faults come back within days: the order is reopened, and
        // billed and claimed only when it is finally closed.
        let will_reopen = !ord.reopened && !ord.preventive && self.d.chance(0.015);
        // Warranty (no contract, within warranty) work by an agent's
        // technician is claimed from the manufacturer, not invoiced.
        let agent = ord.tech.and_then(|t| self.w.technicians[t].agent);
        let warranty = u.contract.is_none() && u.warranty_end >= ord.opened.date_naive();
        let claimed = agent.is_some() && warranty;
        if !will_reopen && !claimed {
            if self.d.chance(0.035) {
                self.sum.never_invoiced += 1;
            } else {
                let delay = self.d.lognormal(3.0, 0.9).min(60.0) * 1440.0;
                self.push(at + minutes(delay), Task::Invoice(ord.id, customer));
            }
        }
        if claimed && !will_reopen {
            let inflated = self.d.chance(0.03);
            let claim = ClaimTask {
                order_id: ord.id,
                unit: ord.unit,
                minutes: if inflated { ord.labour_minutes * self.d.int(2, 3) } else { ord.labour_minutes },
                parts: ord.parts_used.iter().map(|(p, q)| (self.w.parts[*p].id, *q)).collect(),
                no_arrival: ord.no_arrival,
                far: ord.far_checkin,
                inflated,
                duplicate: false,
            };
            let delay = self.d.range(1.0, 12.0) * 1440.0;
            self.push(at + minutes(delay), Task::FileClaim(Box::new(claim)));
        }
        if will_reopen {
            let when = at + minutes(self.d.range(1.0, 7.0) * 1440.0);
            self.push(when, Task::Reopen(o));
        } else {
            self.orders.remove(&o);
        }
        Ok(())
    }

    pub(super) fn reopen(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get_mut(&o) else { return Ok(()) };
        if self.open_unit[ord.unit] {
            // Another order for the unit is already open.
            self.orders.remove(&o);
            return Ok(());
        }
        ord.reopened = true;
        ord.state = OrderState::Open;
        ord.part = None;
        ord.last_outcome = Some(VisitOutcome::NeedsFollowUp);
        let (id, unit) = (ord.id, ord.unit);
        self.open_unit[unit] = true;
        self.call(at, Op::Reopen { order_id: id, reason: "fault came back".into() })?;
        let when = at + minutes(self.d.range(30.0, 300.0));
        self.push(when, Task::Dispatch(o));
        Ok(())
    }

    /// Schedule payment (and perhaps a credit note) of an issued invoice.
    pub(super) fn collect(&mut self, at: At, inv: &IssuedInvoice, customer: usize) {
        self.sum.invoices += 1;
        if inv.total_cents <= 0 {
            return;
        }
        let c = self.w.customers[customer].clone();
        let mut remaining = inv.total_cents;
        let mut earliest = at;
        if self.d.chance(0.025) {
            let credit = (remaining as f64 * self.d.range(0.1, 1.0)).round() as i64;
            let when = at + minutes(self.d.range(5.0, 25.0) * 1440.0);
            self.push(when, Task::Credit(inv.invoice_id, customer, credit));
            remaining -= credit;
            earliest = when;
        }
        if remaining <= 0 || (c.segment == Segment::Smb && self.d.chance(0.02)) {
            return;
        }
        let due = inv.due_on.and_time(hm(11, 0)).and_utc();
        let late_days = (c.pay_delay_days + 8.0 * self.d.normal()).max(-(c.terms_days as f64) + 1.0);
        let pay_at = (due + minutes(late_days * 1440.0)).max(earliest + TimeDelta::hours(1));
        if self.d.chance(c.partial_share) {
            let first = (remaining as f64 * self.d.range(0.4, 0.8)).round() as i64;
            self.push(pay_at, Task::Pay(inv.invoice_id, customer, first));
            let later = pay_at + minutes(self.d.range(10.0, 45.0) * 1440.0);
            self.push(later, Task::Pay(inv.invoice_id, customer, remaining - first));
        } else {
            self.push(pay_at, Task::Pay(inv.invoice_id, customer, remaining));
        }
    }

    pub(super) fn file_claim(&mut self, at: At, c: ClaimTask) -> Result<()> {
        let claim_id = self.new_id(at);
        let photos = if c.no_arrival { 0 } else { self.d.int(1, 4) };
        let out = self.call(
            at,
            Op::FileClaim {
                claim_id,
                order_id: c.order_id,
                labour_minutes: c.minutes,
                parts: c.parts.clone(),
                with_arrival: !c.no_arrival,
                photos,
            },
        )?;
        let Outcome::Claim { claim_id, amount_cents } = out else { return Ok(()) };
        self.sum.claims += 1;
        if c.no_arrival || c.far || c.inflated || c.duplicate {
            self.sum.suspect_claims += 1;
        }
        if !c.duplicate && self.d.chance(0.02) {
            let dup = ClaimTask { duplicate: true, ..c.clone() };
            let when = at + minutes(self.d.range(3.0, 20.0) * 1440.0);
            self.push(when, Task::FileClaim(Box::new(dup)));
        }
        let decide = at + minutes(self.d.range(3.0, 20.0) * 1440.0);
        self.push(decide, Task::Decide(claim_id, Box::new(c), amount_cents));
        Ok(())
    }

    pub(super) fn decide(&mut self, at: At, claim_id: Uuid, c: &ClaimTask, amount: i64) -> Result<()> {
        let reject = |code: &str, why: &str| Op::RejectClaim { claim_id, reason_code: code.into(), reason: why.into() };
        let op = if c.duplicate {
            reject("duplicate", "a claim for this order was already filed")
        } else if c.no_arrival && self.d.chance(0.85) {
            reject("no_arrival", "no arrival on site recorded for the visit")
        } else if c.far && self.d.chance(0.5) {
            reject("checkin_far_from_site", "check-in position far from the site")
        } else if c.inflated {
            let std = self.w.families[self.w.products[self.w.equipment[c.unit].product].family].standard_minutes;
            let share = (std as f64 / c.minutes.max(1) as f64).clamp(0.2, 1.0);
            Op::ApproveClaim {
                claim_id,
                approved_cents: Some((amount as f64 * share).round() as i64),
                note: Some("labour cut to the standard time".into()),
            }
        } else {
            match self.d.weighted(&[0.88, 0.06, 0.06]) {
                0 => Op::ApproveClaim { claim_id, approved_cents: None, note: None },
                1 => Op::ApproveClaim {
                    claim_id,
                    approved_cents: Some(amount * 8 / 10),
                    note: Some("travel not covered".into()),
                },
                _ => reject("insufficient_documentation", "photos do not show the failed part"),
            }
        };
        self.call(at, op)?;
        Ok(())
    }
}
