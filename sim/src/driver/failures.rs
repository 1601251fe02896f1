//! Failures and new orders: when equipment fails (a thinned Poisson process
//! over the bathtub curve, the season and the hour of the week), how it is
//! reported, the orders opened for it, escalations and cancellations.

use chrono::{Datelike, TimeDelta, Timelike, Weekday};
use fieldhouse_domain::event::{Channel, OrderType, PauseReason, Priority};

use super::{At, NewOrder, OrderSt, OrderState, Sim, Task, hm, minutes};
use crate::Result;
use crate::backend::{Backend, Op, Outcome};
use crate::world::{Tier, bathtub, sla_terms};

/// Failure-rate multiplier by local hour of the week: equipment fails when it is used.
fn usage(weekday: Weekday, hour: u32) -> f64 {
    let weekend = matches!(weekday, Weekday::Sat | Weekday::Sun);
    match (weekend, hour) {
        (false, 7..=18) => 1.6,
        (false, 19..=22) => 0.6,
        (false, _) => 0.3,
        (true, 8..=19) => 0.5,
        (true, _) => 0.25,
    }
}
const USAGE_MAX: f64 = 1.6;

impl<B: Backend + ?Sized> Sim<'_, B> {
    fn unit_rate_max(&self, e: usize, from: At) -> f64 {
        let u = &self.w.equipment[e];
        let p = &self.w.products[u.product];
        let fam = &self.w.families[p.family];
        let age0 = (from.date_naive() - u.installed_on).num_days() as f64 / 365.25;
        let age1 = (self.end.date_naive() - u.installed_on).num_days() as f64 / 365.25;
        let season = fam.season.iter().copied().fold(0.0, f64::max);
        // Per day.
        fam.base_rate * p.quality * bathtub(age0).max(bathtub(age1)) * season * USAGE_MAX / 365.25
    }

    fn unit_rate(&self, e: usize, at: At) -> f64 {
        let u = &self.w.equipment[e];
        let p = &self.w.products[u.product];
        let fam = &self.w.families[p.family];
        let age = (at.date_naive() - u.installed_on).num_days() as f64 / 365.25;
        let local = at.with_timezone(&self.w.sites[u.site].tz);
        let season = fam.season[local.month0() as usize];
        fam.base_rate * p.quality * bathtub(age) * season * usage(local.weekday(), local.hour()) / 365.25
    }

    /// Schedule the next candidate failure of unit `e` after `from` (thinning).
    pub(super) fn next_failure(&mut self, e: usize, from: At) {
        let max = self.unit_rate_max(e, from);
        if max <= 0.0 {
            return;
        }
        let gap_days = self.d.exp(1.0 / max);
        let at = from + minutes(gap_days * 1440.0);
        if at < self.end {
            self.push(at, Task::Failure(e));
        }
    }

    pub(super) fn failure(&mut self, at: At, e: usize) -> Result<()> {
        let accept = self.unit_rate(e, at) / self.unit_rate_max(e, at).max(1e-12);
        let real = self.d.chance(accept);
        self.next_failure(e, at);
        if !real || self.open_unit[e] {
            return Ok(());
        }
        let u = self.w.equipment[e].clone();
        let fam = self.w.products[u.product].family;
        let family = self.w.families[fam].clone();
        // About 70 % of incidents need a part; the most common parts dominate.
        let (part, code) = if self.d.chance(0.72) {
            let weights: Vec<f64> = (0..family.parts.len()).map(|i| 1.0 / (i as f64 + 1.0)).collect();
            let p = family.parts[self.d.weighted(&weights)];
            (Some(p), self.w.parts[p].fault_code.clone())
        } else {
            (None, family.no_part_faults[self.d.index(family.no_part_faults.len())].to_string())
        };
        let gold = u.contract.is_some_and(|c| self.w.contracts[c].tier == Tier::Gold);
        let (channel, report_at) = self.report(at, &u, gold);
        let mut prio =
            [Priority::P1, Priority::P2, Priority::P3, Priority::P4][self.d.weighted(&[0.1, 0.28, 0.5, 0.12])];
        if family.name == "elevator" && self.d.chance(0.25) {
            prio = Priority::P1;
        }
        let when = report_at.max(at);
        if when >= self.end {
            return Ok(());
        }
        self.open_unit[e] = true;
        self.push(when, Task::Open(Box::new(NewOrder { unit: e, priority: prio, part, code, channel })));
        Ok(())
    }

    /// How and when a failure at `at` is reported.
    fn report(&mut self, at: At, u: &crate::world::Equipment, gold: bool) -> (Channel, At) {
        if u.iot && self.d.chance(0.85) {
            return (Channel::Iot, at + minutes(self.d.range(1.0, 8.0)));
        }
        let channel =
            [Channel::Phone, Channel::Email, Channel::Web, Channel::Mobile][self.d.weighted(&[0.5, 0.2, 0.2, 0.1])];
        let local = at.with_timezone(&self.w.sites[u.site].tz);
        let working = !matches!(local.weekday(), Weekday::Sat | Weekday::Sun) && (7..19).contains(&local.hour());
        if working || (gold && channel == Channel::Phone) || self.d.chance(0.25) {
            return (channel, at + minutes(self.d.lognormal(25.0, 0.9).min(600.0)));
        }
        // Noticed the next working morning.
        let mut day = local.date_naive() + TimeDelta::days(i64::from(local.hour() >= 7));
        while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            day += TimeDelta::days(1);
        }
        let t = day.and_time(hm(7, 0)).and_local_timezone(local.timezone()).earliest().map_or(at, |t| t.to_utc());
        (channel, t.max(at) + minutes(self.d.exp(70.0)))
    }

    /// The response deadline the core will stamp (same calendars and terms).
    fn response_due(&self, unit: usize, priority: Priority, opened: At) -> At {
        let u = &self.w.equipment[unit];
        let site = &self.w.sites[u.site];
        let tier = u.contract.map_or(Tier::Silver, |c| self.w.contracts[c].tier);
        let target = sla_terms(tier).iter().find(|t| t.priority == priority).map_or(1440, |t| t.response_minutes);
        let cal = match tier {
            Tier::Gold => None,
            Tier::Silver => self.w.business_calendar(site.country),
        };
        match cal {
            Some(c) => c.deadline(opened, TimeDelta::minutes(target), &[]).unwrap_or(opened + TimeDelta::days(3)),
            None => opened + TimeDelta::minutes(target),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn open_order(
        &mut self,
        at: At,
        unit: usize,
        priority: Priority,
        preventive: bool,
        part: Option<usize>,
        code: String,
        channel: Channel,
    ) -> Result<()> {
        let id = self.new_id(at);
        let u = &self.w.equipment[unit];
        let fam = self.w.families[self.w.products[u.product].family].name;
        let reported = if preventive {
            format!("Scheduled maintenance ({fam})")
        } else {
            match part {
                Some(p) => format!("{} fault reported: {}", fam, self.w.parts[p].component),
                None => format!("{fam} malfunction"),
            }
        };
        let equipment_id = u.id;
        let opened = self.call(
            at,
            Op::OpenOrder {
                order_id: id,
                order_type: if preventive { OrderType::Preventive } else { OrderType::Corrective },
                channel,
                equipment_id,
                priority,
                fault_code: code,
                reported_fault: reported,
            },
        )?;
        self.open_unit[unit] = true;
        self.sum.orders += 1;
        if preventive {
            self.sum.preventive_orders += 1;
        }
        let o = self.next_order;
        self.next_order += 1;
        let response_due = match opened {
            Outcome::Order { response_due_at: Some(due) } => due,
            _ => self.response_due(unit, priority, at),
        };
        self.orders.insert(
            o,
            OrderSt {
                id,
                unit,
                priority,
                preventive,
                opened: at,
                part: if preventive { None } else { part },
                tech: None,
                visit: None,
                visits: 0,
                first_arrival: None,
                fixed: false,
                state: OrderState::Open,
                labour_minutes: 0,
                parts_used: Vec::new(),
                buffer: Vec::new(),
                last_outcome: None,
                no_arrival: false,
                far_checkin: false,
                reopened: false,
                paused: false,
                response_due,
            },
        );
        if !preventive && self.d.chance(0.015) {
            let when = at + minutes(self.d.range(15.0, 90.0));
            self.push(when, Task::Cancel(o));
        }
        if !preventive && matches!(priority, Priority::P2 | Priority::P3) && self.d.chance(0.04) {
            let when = at + minutes(self.d.range(20.0, 240.0));
            self.push(when, Task::Escalate(o));
        }
        if !preventive && self.d.chance(0.04) {
            // The customer asks for a later appointment.
            self.call(at + TimeDelta::minutes(3), Op::Pause { order_id: id, reason: PauseReason::WaitingForCustomer })?;
            let when = at + minutes(self.d.range(1.0, 3.0) * 1440.0);
            self.push(when, Task::CustomerResume(o));
            return Ok(());
        }
        let lag = match (preventive, priority) {
            // Planned into a day well before the response deadline.
            (true, _) => self.d.range(0.05, 0.45) * (response_due - at).num_minutes() as f64,
            (_, Priority::P1) => self.d.exp(12.0),
            (_, Priority::P2) => self.d.exp(35.0),
            (_, Priority::P3) => self.d.exp(90.0),
            (_, Priority::P4) => self.d.exp(240.0),
        };
        self.push(at + minutes(lag.min(8000.0)), Task::Dispatch(o));
        Ok(())
    }

    pub(super) fn escalate(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o) else { return Ok(()) };
        if ord.state != OrderState::Open || ord.first_arrival.is_some() {
            return Ok(());
        }
        let to = if ord.priority == Priority::P3 { Priority::P2 } else { Priority::P1 };
        let (id, unit, opened) = (ord.id, ord.unit, ord.opened);
        let due = match self.call(at, Op::ChangePriority { order_id: id, priority: to })? {
            Outcome::Order { response_due_at: Some(due) } => due,
            _ => self.response_due(unit, to, opened),
        };
        if let Some(ord) = self.orders.get_mut(&o) {
            ord.priority = to;
            ord.response_due = due;
        }
        Ok(())
    }

    pub(super) fn cancel(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o) else { return Ok(()) };
        if ord.state != OrderState::Open || ord.visits > 0 || ord.visit.is_some() {
            return Ok(());
        }
        let (id, unit) = (ord.id, ord.unit);
        self.call(at, Op::Cancel { order_id: id, reason: "customer solved it".into() })?;
        self.open_unit[unit] = false;
        self.orders.remove(&o);
        Ok(())
    }
}
