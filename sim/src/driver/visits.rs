//! Dispatch and visits: choosing and assigning a technician, planning the
//! visit on the technician's shift, travel, arrival, the work and its
//! outcome, mobile batches, the back-office follow-up and parts arriving.

use chrono::{Datelike, NaiveDate, TimeDelta, Timelike, Weekday};
use fieldhouse_domain::event::{PauseReason, VisitOutcome};
use fieldhouse_domain::ids::id_at;
use uuid::Uuid;

use super::{At, OrderState, Sim, Task, TechSt, Visit, hm, minutes};
use crate::Result;
use crate::backend::{Backend, MobileAction, Op, Outcome};
use crate::geo;
use crate::world::Tier;

impl<B: Backend + ?Sized> Sim<'_, B> {
    fn holiday(&self, country: &str, day: NaiveDate) -> bool {
        self.w.business_calendar(country).is_some_and(|c| c.holidays.iter().any(|h| h.contains(day)))
    }

    /// The earliest start at or after `t` inside the technician's shift
    /// (Mon–Fri 07:30, last start 15:30 local, no public holidays).
    fn shift_start(&mut self, tech: usize, t: At) -> At {
        let (tz, country) = (self.w.technicians[tech].tz, self.w.technicians[tech].country);
        let local = t.with_timezone(&tz);
        let mut day = local.date_naive();
        let mins = local.hour() * 60 + local.minute();
        for i in 0..14 {
            let ok = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) && !self.holiday(country, day);
            if ok {
                if i == 0 && (450..=930).contains(&mins) {
                    return t;
                }
                if i > 0 || mins < 450 {
                    let start = day.and_time(hm(7, 30)).and_local_timezone(tz).earliest().map_or(t, |x| x.to_utc());
                    return start + minutes(self.d.range(0.0, 25.0));
                }
            }
            day += TimeDelta::days(1);
        }
        t
    }

    pub(super) fn dispatch(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o).cloned() else { return Ok(()) };
        if ord.state != OrderState::Open {
            return Ok(());
        }
        let unit = self.w.equipment[ord.unit].clone();
        let site = self.w.sites[unit.site].clone();
        let keep_tech = ord.tech.filter(|_| ord.last_outcome == Some(VisitOutcome::NeedsParts) || self.d.chance(0.5));
        let tech = match keep_tech {
            Some(t) => t,
            None => {
                let ranked = match self.call(at, Op::SuggestTechnicians { order_id: ord.id })? {
                    Outcome::Suggestions(v) => v,
                    _ => Vec::new(),
                };
                let mut cands: Vec<usize> =
                    ranked.iter().take(6).filter_map(|id| self.tech_ix.get(id).copied()).collect();
                // Regional teams: a suggestion from another region is taken
                // only when the region has nobody suggested.
                if cands.iter().any(|&t| self.w.technicians[t].region == site.region) {
                    cands.retain(|&t| self.w.technicians[t].region == site.region);
                }
                if cands.is_empty() {
                    cands = self.w.by_region[site.region].clone();
                }
                // The dispatcher takes the skilled suggestion that can be there
                // first when it still makes the response deadline (an hour's
                // margin), else whoever can be there first.
                let eta = |t: usize| {
                    let st = &self.techs[t];
                    let km = geo::distance_km(st.lat, st.lon, site.lat, site.lon);
                    st.free_at.max(at) + minutes(geo::travel_minutes(km))
                };
                let family = self.w.products[unit.product].family;
                let skilled = cands
                    .iter()
                    .copied()
                    .filter(|&t| self.w.technicians[t].skills.contains(&family))
                    .min_by_key(|&t| eta(t))
                    .filter(|&t| eta(t) + TimeDelta::hours(1) <= ord.response_due);
                let Some(best) = skilled.or_else(|| cands.iter().copied().min_by_key(|&t| eta(t))) else {
                    return Ok(());
                };
                let tid = self.w.technicians[best].id;
                match ord.tech {
                    None => {
                        self.call(at, Op::Assign { order_id: ord.id, technician_id: tid })?;
                    }
                    Some(prev) if prev != best => {
                        self.call(
                            at,
                            Op::Reassign {
                                order_id: ord.id,
                                technician_id: tid,
                                reason: "follow-up by another technician".into(),
                            },
                        )?;
                    }
                    Some(_) => {}
                }
                // Now and then the first choice falls ill and the order moves on.
                if ord.tech.is_none() && cands.len() > 1 && self.d.chance(0.03) {
                    let other = cands.iter().copied().find(|&t| t != best).unwrap_or(best);
                    let oid = self.w.technicians[other].id;
                    self.call(
                        at + TimeDelta::minutes(5),
                        Op::Reassign { order_id: ord.id, technician_id: oid, reason: "technician unavailable".into() },
                    )?;
                    other
                } else {
                    best
                }
            }
        };
        // Plan the visit on the technician's calendar.
        let gold = unit.contract.is_some_and(|c| self.w.contracts[c].tier == Tier::Gold);
        let ts = self.techs[tech].clone();
        let mut begin = self.shift_start(tech, at.max(ts.free_at));
        let leg = geo::travel_minutes(geo::distance_km(ts.lat, ts.lon, site.lat, site.lon));
        if gold && !ord.preventive && begin + minutes(leg + 20.0) > ord.response_due {
            // On call: a 24x7 contract is served at night and at weekends,
            // and an urgent order pre-empts the planned day.
            begin = at.max(ts.free_at.min(at + minutes(self.d.range(10.0, 40.0))));
        }
        let (from_lat, from_lon) = if begin - ts.free_at > TimeDelta::hours(4) {
            (self.w.technicians[tech].lat, self.w.technicians[tech].lon)
        } else {
            (ts.lat, ts.lon)
        };
        let km = geo::distance_km(from_lat, from_lon, site.lat, site.lon);
        let travel = geo::travel_minutes(km) * self.d.lognormal(1.0, 0.2);
        let arrive = begin + minutes(travel);
        let fam = &self.w.families[self.w.products[unit.product].family];
        let base = if ord.preventive {
            fam.standard_minutes as f64 * 0.7
        } else if ord.part.is_some() {
            fam.standard_minutes as f64
        } else {
            fam.standard_minutes as f64 * 0.6
        };
        let work = self.d.lognormal(base, 0.4).clamp(15.0, 600.0).round() as i64;
        let end = arrive + TimeDelta::minutes(work);
        self.techs[tech] = TechSt { free_at: end + TimeDelta::minutes(10), lat: site.lat, lon: site.lon };
        let agent = self.w.technicians[tech].agent.is_some();
        let skip_arrival = agent && self.d.chance(0.02);
        let far = agent && !skip_arrival && self.d.chance(0.015);
        let visit_id = self.new_id(begin);
        if let Some(ord) = self.orders.get_mut(&o) {
            ord.tech = Some(tech);
            ord.visit = Some(Visit { id: visit_id, arrive, end, minutes: work, skip_arrival, far });
        }
        self.push(begin, Task::Travel(o));
        Ok(())
    }

    /// Send a technician operation now, or buffer it for the mobile batch.
    fn tech_op(&mut self, at: At, o: u64, op: Op) -> Result<Outcome> {
        let mobile = self.orders.get(&o).and_then(|x| x.tech).is_some_and(|t| self.w.technicians[t].mobile);
        if mobile {
            let client_id = self.new_id(at);
            if let Some(ord) = self.orders.get_mut(&o) {
                ord.buffer.push(MobileAction { client_id, at, op });
            }
            Ok(Outcome::Done)
        } else {
            self.call(at, op)
        }
    }

    pub(super) fn travel(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o) else { return Ok(()) };
        let (Some(tech), Some(v)) = (ord.tech, ord.visit.clone()) else { return Ok(()) };
        if ord.state != OrderState::Open {
            return Ok(());
        }
        let (order_id, technician_id) = (ord.id, self.w.technicians[tech].id);
        self.tech_op(at, o, Op::StartTravel { order_id, visit_id: v.id, technician_id })?;
        self.sum.visits += 1;
        self.push(v.arrive, Task::Arrive(o));
        Ok(())
    }

    pub(super) fn arrive(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o) else { return Ok(()) };
        let Some(v) = ord.visit.clone() else { return Ok(()) };
        let site = &self.w.sites[self.w.equipment[ord.unit].site];
        let (slat, slon, order_id) = (site.lat, site.lon, ord.id);
        let km = if v.far { self.d.range(15.0, 60.0) } else { self.d.range(0.01, 0.25) };
        let (lat, lon) = geo::offset(slat, slon, km, self.d.range(0.0, std::f64::consts::TAU));
        let (lat, lon) = ((lat * 1e5).round() / 1e5, (lon * 1e5).round() / 1e5);
        self.tech_op(at, o, Op::Arrive { order_id, visit_id: v.id, lat, lon })?;
        if let Some(ord) = self.orders.get_mut(&o) {
            ord.first_arrival.get_or_insert(at);
            ord.no_arrival |= v.skip_arrival;
            ord.far_checkin |= v.far;
        }
        self.push(v.end, Task::EndVisit(o));
        Ok(())
    }

    pub(super) fn end_visit(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o).cloned() else { return Ok(()) };
        let (Some(tech), Some(v)) = (ord.tech, ord.visit.clone()) else { return Ok(()) };
        let t = self.w.technicians[tech].clone();
        let family = self.w.products[self.w.equipment[ord.unit].product].family;
        let skilled = t.skills.contains(&family);
        let order_id = ord.id;
        let mut consumed = None;
        let outcome = if ord.preventive {
            VisitOutcome::Fixed
        } else if let Some(p) = ord.part {
            if self.stock[t.van][p] > 0 {
                let (part_id, location_id) = (self.w.parts[p].id, self.w.locations[t.van].id);
                let op = Op::ConsumePart { order_id, visit_id: v.id, part_id, location_id, quantity: 1 };
                let when = v.arrive + TimeDelta::minutes(v.minutes / 2);
                if self.tech_op(when, o, op)? == Outcome::OutOfStock {
                    self.sum.stock_outs += 1;
                    VisitOutcome::NeedsParts
                } else {
                    self.stock[t.van][p] -= 1;
                    self.sum.parts_consumed += 1;
                    consumed = Some(p);
                    let p_fix = if ord.visits > 0 {
                        0.97
                    } else if skilled {
                        t.skill_level
                    } else {
                        0.8
                    };
                    if self.d.chance(p_fix) { VisitOutcome::Fixed } else { VisitOutcome::NeedsFollowUp }
                }
            } else {
                self.sum.stock_outs += 1;
                VisitOutcome::NeedsParts
            }
        } else {
            let p_fix = if skilled { t.skill_level } else { 0.75 };
            if self.d.chance(p_fix) { VisitOutcome::Fixed } else { VisitOutcome::NeedsFollowUp }
        };
        self.tech_op(at - TimeDelta::minutes(1), o, Op::LogWork { order_id, visit_id: v.id, minutes: v.minutes })?;
        self.tech_op(at, o, Op::EndVisit { order_id, visit_id: v.id, outcome })?;
        if outcome == VisitOutcome::Fixed && ord.visits == 0 && !ord.preventive {
            self.sum.first_time_fixes += 1;
        }
        if let Some(ord) = self.orders.get_mut(&o) {
            ord.visits += 1;
            ord.labour_minutes += v.minutes;
            if let Some(p) = consumed {
                ord.parts_used.push((p, 1));
            }
            ord.last_outcome = Some(outcome);
            ord.fixed = outcome == VisitOutcome::Fixed;
        }
        if t.mobile {
            // Synced when the app has a connection again.
            let r = self.d.unit();
            let delay = if r < 0.7 {
                self.d.range(1.0, 20.0)
            } else if r < 0.95 {
                self.d.range(60.0, 240.0)
            } else {
                self.d.range(600.0, 960.0)
            };
            self.push(at + minutes(delay), Task::Deliver(o, t.id));
        } else {
            self.after_visit(at + TimeDelta::minutes(2), o)?;
        }
        Ok(())
    }

    pub(super) fn deliver(&mut self, at: At, o: u64, technician_id: Uuid) -> Result<()> {
        let Some(ord) = self.orders.get_mut(&o) else { return Ok(()) };
        let actions = std::mem::take(&mut ord.buffer);
        if !actions.is_empty() {
            let batch_id = id_at(at, self.ids.bytes10());
            let op = Op::MobileSync { technician_id, batch_id, actions };
            self.sum.mobile_batches += 1;
            if self.d.chance(0.05) {
                let again = at + minutes(self.d.range(5.0, 180.0));
                self.push(again, Task::Resend(Box::new(op.clone())));
            }
            if let Outcome::Synced { rejected, .. } = self.call(at, op)?
                && rejected > 0
            {
                self.sum.refused += rejected as u64;
                self.sum.refusals.entry("mobile_action".into()).or_insert_with(|| (0, "rejected in sync".into())).0 +=
                    rejected as u64;
            }
        }
        self.after_visit(at + TimeDelta::minutes(1), o)
    }

    /// Back-office follow-up of a visit: close, wait for parts, or plan another visit.
    fn after_visit(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o).cloned() else { return Ok(()) };
        match ord.last_outcome {
            Some(VisitOutcome::Fixed) => {
                // The office completes the order once the visit report is in.
                self.call(at, Op::Complete { order_id: ord.id })?;
                if let Some(o2) = self.orders.get_mut(&o) {
                    o2.state = OrderState::Completed;
                }
                self.open_unit[ord.unit] = false;
                let delay = self.d.lognormal(180.0, 1.0).min(4000.0);
                self.push(at + minutes(delay), Task::Close(o));
            }
            Some(VisitOutcome::NeedsParts) => {
                // The clock stops for parts only where the contract says so.
                let pause =
                    self.w.equipment[ord.unit].contract.is_some_and(|c| self.w.contracts[c].tier == Tier::Silver);
                if pause {
                    self.call(at, Op::Pause { order_id: ord.id, reason: PauseReason::WaitingForParts })?;
                }
                if let Some(o2) = self.orders.get_mut(&o) {
                    o2.paused = pause;
                }
                let lead = self.d.lognormal(1.5, 0.5) * 1440.0;
                self.push(at + minutes(lead), Task::PartsArrived(o));
            }
            _ => {
                let lag = self.d.lognormal(600.0, 0.6);
                self.push(at + minutes(lag), Task::Dispatch(o));
            }
        }
        Ok(())
    }

    pub(super) fn parts_arrived(&mut self, at: At, o: u64) -> Result<()> {
        let Some(ord) = self.orders.get(&o).cloned() else { return Ok(()) };
        let (Some(tech), Some(p)) = (ord.tech, ord.part) else { return Ok(()) };
        let van = self.w.technicians[tech].van;
        let regional = self.w.regional[self.w.technicians[tech].region];
        let central = self.w.central;
        if self.stock[van][p] == 0 {
            if self.stock[regional][p] > 0 {
                self.transfer(at, regional, van, p, 1)?;
            } else {
                if self.stock[central][p] == 0 {
                    // Emergency order from the supplier.
                    let (location_id, part_id, cost) =
                        (self.w.locations[central].id, self.w.parts[p].id, self.w.parts[p].cost_cents);
                    self.call(
                        at - TimeDelta::hours(2),
                        Op::ReceiveStock { location_id, part_id, quantity: 2, unit_cost_cents: cost },
                    )?;
                    self.stock[central][p] += 2;
                }
                self.transfer(at, central, van, p, 1)?;
            }
        }
        if ord.paused {
            self.call(at + TimeDelta::minutes(1), Op::Resume { order_id: ord.id })?;
            if let Some(o2) = self.orders.get_mut(&o) {
                o2.paused = false;
            }
        }
        self.push(at + TimeDelta::minutes(5), Task::Dispatch(o));
        Ok(())
    }
}
