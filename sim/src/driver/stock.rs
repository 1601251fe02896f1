//! Stock: the initial stock, transfers between locations, replenishment
//! (vans from regional warehouses, those from the central one, the central
//! one from suppliers) and cycle counts.

use chrono::TimeDelta;

use super::{At, Sim, Task, minutes};
use crate::Result;
use crate::backend::{Backend, Op};

impl<B: Backend + ?Sized> Sim<'_, B> {
    pub(super) fn initial_stock(&mut self, at: At) -> Result<()> {
        for l in 0..self.w.locations.len() {
            let targets = self.w.locations[l].targets.clone();
            for (p, target, _) in targets {
                let (location_id, part_id, cost) =
                    (self.w.locations[l].id, self.w.parts[p].id, self.w.parts[p].cost_cents);
                self.call(at, Op::ReceiveStock { location_id, part_id, quantity: target, unit_cost_cents: cost })?;
                self.stock[l][p] += target;
            }
        }
        Ok(())
    }

    /// Vans are restocked from the regional warehouse twice a week, regional
    /// warehouses from the central one, and the central one from suppliers.
    pub(super) fn replenish(&mut self, at: At) -> Result<()> {
        for t in 0..self.w.technicians.len() {
            let van = self.w.technicians[t].van;
            let regional = self.w.regional[self.w.technicians[t].region];
            let targets = self.w.locations[van].targets.clone();
            for (p, target, _) in targets {
                let missing = target - self.stock[van][p];
                let qty = missing.min(self.stock[regional][p]);
                if qty > 0 {
                    self.transfer(at, regional, van, p, qty)?;
                }
            }
        }
        let central = self.w.central;
        for r in self.w.regional.clone() {
            let targets = self.w.locations[r].targets.clone();
            for (p, target, point) in targets {
                if self.stock[r][p] <= point {
                    let qty = (target - self.stock[r][p]).min(self.stock[central][p]);
                    if qty > 0 {
                        self.transfer(at + TimeDelta::minutes(30), central, r, p, qty)?;
                    }
                }
            }
        }
        let targets = self.w.locations[central].targets.clone();
        for (p, _, point) in targets {
            if self.stock[central][p] <= point && !self.supplier_pending[p] {
                self.supplier_pending[p] = true;
                let lead = self.d.range(5.0, 14.0) * 1440.0;
                self.push(at + minutes(lead), Task::Supplier(p));
            }
        }
        Ok(())
    }

    /// A cycle count of a few parts per warehouse; now and then one is missing.
    pub(super) fn count(&mut self, at: At) -> Result<()> {
        let mut locs = vec![self.w.central];
        locs.extend(self.w.regional.iter().copied());
        for l in locs {
            for _ in 0..3 {
                let p = self.d.index(self.w.parts.len());
                let have = self.stock[l][p];
                let counted = if have > 0 && self.d.chance(0.1) { have - 1 } else { have };
                let (location_id, part_id) = (self.w.locations[l].id, self.w.parts[p].id);
                self.call(at, Op::CountStock { location_id, part_id, counted })?;
                self.stock[l][p] = counted;
            }
        }
        Ok(())
    }

    pub(super) fn transfer(&mut self, at: At, from: usize, to: usize, p: usize, qty: i64) -> Result<()> {
        let (f, t, part) = (self.w.locations[from].id, self.w.locations[to].id, self.w.parts[p].id);
        self.call(at, Op::TransferStock { from_location_id: f, location_id: t, part_id: part, quantity: qty })?;
        self.stock[from][p] -= qty;
        self.stock[to][p] += qty;
        Ok(())
    }
}
