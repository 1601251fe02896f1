//! Generating the organisation from the seed: calendars, manufacturers and
//! products, parts, customers, sites, equipment, contracts, agents, stock
//! locations, technicians and their vans, reorder points and preventive
//! plans, with the operations that register them.

use chrono::{DateTime, Datelike, Months, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;
use fieldhouse_domain::calendar::Calendar;
use fieldhouse_domain::event::{ClaimRate, LocationKind, Segment};
use fieldhouse_domain::ids::id_at;
use uuid::Uuid;

use super::calendars::{holidays, sla_terms};
use super::catalogue::{components, families};
use super::{
    Agent, Contract, Customer, Equipment, Location, Manufacturer, Part, Product, Site, Technician, Tier, World,
};
use crate::backend::Op;
use crate::config::SimConfig;
use crate::dist::Dice;
use crate::geo::{self, CITIES};

const SEGMENTS: [Segment; 3] = [Segment::Enterprise, Segment::Public, Segment::Smb];

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()
}

struct Ids {
    dice: Dice,
    at: DateTime<Utc>,
}

impl Ids {
    fn next(&mut self) -> Uuid {
        id_at(self.at, self.dice.bytes10())
    }
}

impl World {
    /// Generate the organisation for `cfg`. Returns the world and the
    /// operations that register it, in order, each with its instant.
    pub fn generate(cfg: &SimConfig) -> (World, Vec<(DateTime<Utc>, Op)>) {
        let mut d = Dice::new(cfg.seed, 0);
        let start = cfg.start.and_time(NaiveTime::MIN).and_utc();
        let t0 = start - TimeDelta::days(1);
        let mut ids = Ids { dice: Dice::new(cfg.seed, 100), at: t0 };
        let mut ops: Vec<(DateTime<Utc>, Op)> = Vec::new();
        let regions = geo::regions();
        let region_ix = |name: &str| regions.iter().position(|r| *r == name).unwrap_or(0);

        // Calendars: 24x7 per zone, business hours and shifts per country.
        let (y0, y1) = (cfg.start.year() - 1, cfg.end().year() + 1);
        let mut cal_247: Vec<(Tz, Uuid)> = Vec::new();
        let mut cal_business: Vec<(&'static str, Uuid)> = Vec::new();
        let mut cal_shift: Vec<(&'static str, Uuid)> = Vec::new();
        let mut business_calendars = Vec::new();
        for c in CITIES {
            if !cal_247.iter().any(|(tz, _)| *tz == c.tz) {
                let id = ids.next();
                cal_247.push((c.tz, id));
                let mut cal = Calendar::always(c.tz);
                cal.name = format!("24x7 {}", c.tz.name());
                ops.push((t0, Op::DefineCalendar { calendar_id: id, calendar: cal }));
            }
            if !cal_business.iter().any(|(k, _)| *k == c.country) {
                let mut cal =
                    Calendar::weekdays(&format!("{} business hours", c.country), c.tz, &[(hm(8, 0), hm(18, 0))]);
                for h in holidays(c.country, y0, y1) {
                    cal = cal.with_holiday(h);
                }
                let id = ids.next();
                cal_business.push((c.country, id));
                business_calendars.push((c.country, cal.clone()));
                ops.push((t0, Op::DefineCalendar { calendar_id: id, calendar: cal.clone() }));
                let mut shift = cal;
                shift.name = format!("{} technician shift", c.country);
                shift.windows = Calendar::weekdays("", c.tz, &[(hm(7, 30), hm(16, 30))]).windows;
                let sid = ids.next();
                cal_shift.push((c.country, sid));
                ops.push((t0, Op::DefineCalendar { calendar_id: sid, calendar: shift }));
            }
        }

        // Manufacturers and products.
        let mut fams = families();
        let makers: [(&str, usize); 8] = [
            ("Medica AG", 0),
            ("Radion Systems", 0),
            ("Klimatec GmbH", 1),
            ("AeroTherm", 1),
            ("Liftwerk AG", 2),
            ("Vertica Lifts", 2),
            ("Printa", 3),
            ("Docuvo", 3),
        ];
        let mut manufacturers = Vec::new();
        let mut products = Vec::new();
        for (mi, (name, fam)) in makers.iter().enumerate() {
            let id = ids.next();
            manufacturers.push(Manufacturer { id, name: (*name).to_string() });
            ops.push((t0, Op::RegisterManufacturer { manufacturer_id: id, name: (*name).to_string() }));
            let prefix: String = name.chars().filter(|c| c.is_ascii_uppercase()).collect();
            for m in 0..3 {
                let pid = ids.next();
                let model = format!("{prefix}-{}{}", ["S", "M", "X"][m], 100 * (m + 1) + 10 * mi);
                let family = &fams[*fam];
                let quality = d.range(0.7, 1.35);
                ops.push((
                    t0,
                    Op::DefineProduct {
                        product_id: pid,
                        manufacturer_id: id,
                        model: model.clone(),
                        family: family.name.to_string(),
                        standard_repair_minutes: family.standard_minutes,
                        warranty_months: family.warranty_months,
                    },
                ));
                products.push(Product { id: pid, manufacturer: mi, family: *fam, model, quality });
            }
        }

        // Parts per family.
        let mut parts = Vec::new();
        for (fi, fam) in fams.iter_mut().enumerate() {
            for (ci, (component, code, euros)) in components(fam.name).iter().enumerate() {
                let pid = ids.next();
                let cost = euros * 100;
                let price = cost * d.int(135, 180) / 100;
                let number = format!("{}-{:04}", &fam.name[..3].to_uppercase(), 1000 + fi * 100 + ci * 7);
                ops.push((
                    t0,
                    Op::DefinePart {
                        part_id: pid,
                        part_number: number.clone(),
                        description: format!("{} ({})", component, fam.name),
                        component: (*component).to_string(),
                        cost_cents: cost,
                        price_cents: price,
                        currency: "EUR".into(),
                    },
                ));
                fam.parts.push(parts.len());
                parts.push(Part {
                    id: pid,
                    family: fi,
                    number,
                    component: (*component).to_string(),
                    fault_code: (*code).to_string(),
                    cost_cents: cost,
                    price_cents: price,
                });
            }
        }

        // Customers, sites, equipment, contracts.
        let units = (cfg.technicians as usize) * (cfg.units_per_technician as usize);
        let n_sites = (units / 4).max(4);
        let n_customers = (n_sites / 3).max(2);
        let city_w: Vec<f64> = CITIES.iter().map(|c| c.weight).collect();
        let name_a = ["Klinikum", "Stadtwerke", "Logistik", "Praxis", "Hotel", "Bürohaus", "Werk", "Campus", "Zentrum"];
        let name_b = ["Nord", "Süd", "Am Park", "Rhein", "Alster", "Isar", "Elbe", "Main", "Spree", "Central"];
        let mut customers = Vec::new();
        for i in 0..n_customers {
            let seg = SEGMENTS[d.weighted(&[0.3, 0.2, 0.5])];
            let (terms, delay, partial) = match seg {
                Segment::Enterprise => (30, d.range(-3.0, 12.0), 0.03),
                Segment::Public => (30, d.range(10.0, 45.0), 0.05),
                Segment::Smb => ([14, 30][d.index(2)], d.range(-5.0, 40.0), 0.12),
            };
            let id = ids.next();
            let name = format!("{} {} {}", name_a[d.index(name_a.len())], name_b[d.index(name_b.len())], i + 1);
            ops.push((
                t0,
                Op::RegisterCustomer { customer_id: id, name: name.clone(), segment: seg, payment_terms_days: terms },
            ));
            customers.push(Customer {
                id,
                name,
                segment: seg,
                terms_days: terms,
                pay_delay_days: delay,
                partial_share: partial,
            });
        }
        let mut sites = Vec::new();
        for i in 0..n_sites {
            let customer = if i < n_customers { i } else { d.index(n_customers) };
            let city = &CITIES[d.weighted(&city_w)];
            let (lat, lon) = geo::offset(city.lat, city.lon, d.exp(9.0).min(60.0), d.range(0.0, std::f64::consts::TAU));
            let id = ids.next();
            ops.push((
                t0,
                Op::RegisterSite {
                    site_id: id,
                    customer_id: customers[customer].id,
                    name: format!(
                        "{} {}",
                        city.name,
                        ["Haus A", "Haus B", "Halle 1", "Standort", "Filiale"][d.index(5)]
                    ),
                    region: city.region.to_string(),
                    lat: round5(lat),
                    lon: round5(lon),
                    time_zone: city.tz.name().to_string(),
                },
            ));
            sites.push(Site {
                id,
                customer,
                region: region_ix(city.region),
                lat,
                lon,
                tz: city.tz,
                country: city.country,
            });
        }

        // Customer contract tier: None = time and material.
        let tiers: Vec<Option<Tier>> = customers
            .iter()
            .map(|c| {
                let w = match c.segment {
                    Segment::Enterprise => [0.55, 0.38, 0.07],
                    Segment::Public => [0.3, 0.6, 0.1],
                    Segment::Smb => [0.12, 0.5, 0.38],
                };
                [Some(Tier::Gold), Some(Tier::Silver), None][d.weighted(&w)]
            })
            .collect();

        let mut equipment = Vec::new();
        let mut later_installs = Vec::new();
        let prod_w: Vec<f64> = products.iter().map(|p| [1.0, 1.6, 1.0, 2.4][p.family]).collect();
        let days_sim = (cfg.end() - cfg.start).num_days().max(1);
        for i in 0..units {
            let site = if i < n_sites { i } else { d.index(n_sites) };
            let product = d.weighted(&prod_w);
            let fam = &fams[products[product].family];
            let new_unit = d.chance(0.06);
            let installed_on = if new_unit {
                cfg.start + TimeDelta::days(d.int(0, days_sim - 1))
            } else {
                cfg.start - TimeDelta::days(d.int(20, 12 * 365))
            };
            let warranty_end =
                installed_on.checked_add_months(Months::new(fam.warranty_months as u32)).unwrap_or(installed_on)
                    - TimeDelta::days(1);
            let plan = if d.chance(0.25) {
                let interval = [180, 365][d.weighted(&[0.4, 0.6])];
                let first = installed_on.max(cfg.start) + TimeDelta::days(d.int(5, interval));
                Some((interval, first))
            } else {
                None
            };
            let id = ids.next();
            let p = &products[product];
            let serial = format!("{}-{:07}", p.model, 1_000_000 + i);
            let op = Op::InstallEquipment {
                equipment_id: id,
                product_id: p.id,
                site_id: sites[site].id,
                serial,
                installed_on,
                warranty_end,
                firmware: Some(format!("{}.{}.{}", d.int(1, 5), d.int(0, 9), d.int(0, 20))),
            };
            if new_unit {
                later_installs.push((installed_on.and_time(hm(10, 0)).and_utc(), op, equipment.len()));
            } else {
                ops.push((t0, op));
            }
            equipment.push(Equipment {
                id,
                product,
                site,
                installed_on,
                warranty_end,
                contract: None,
                iot: d.chance(if fams[p.family].name == "imaging" { 0.5 } else { 0.15 }),
                plan,
            });
        }

        // One contract per customer with a tier, covering its installed base.
        let mut contracts = Vec::new();
        let mut by_customer: Vec<Vec<usize>> = vec![Vec::new(); n_customers];
        for (ei, e) in equipment.iter().enumerate() {
            if e.installed_on < cfg.start {
                by_customer[sites[e.site].customer].push(ei);
            }
        }
        for (ci, tier) in tiers.iter().enumerate() {
            let Some(tier) = *tier else { continue };
            if by_customer[ci].is_empty() {
                continue;
            }
            let first_site = equipment[by_customer[ci][0]].site;
            let (tz, country) = (sites[first_site].tz, sites[first_site].country);
            let calendar = match tier {
                Tier::Gold => cal_247.iter().find(|(z, _)| *z == tz).map(|(_, id)| *id),
                Tier::Silver => cal_business.iter().find(|(c, _)| *c == country).map(|(_, id)| *id),
            }
            .unwrap_or_else(Uuid::nil);
            let id = ids.next();
            let n = by_customer[ci].len() as i64;
            let (rate, discount, covered, fee_per_unit) = match tier {
                Tier::Gold => (11_000, if d.chance(0.5) { 100 } else { 30 }, true, d.int(180, 400) * 100),
                Tier::Silver => (9_500, 15, false, d.int(50, 120) * 100),
            };
            let valid_from = cfg.start - TimeDelta::days(d.int(0, 700));
            let valid_to = valid_from.checked_add_months(Months::new(48)).unwrap_or(valid_from) - TimeDelta::days(1);
            ops.push((
                t0,
                Op::SignContract {
                    contract_id: id,
                    customer_id: customers[ci].id,
                    tier: match tier {
                        Tier::Gold => "gold".into(),
                        Tier::Silver => "silver".into(),
                    },
                    calendar_id: calendar,
                    equipment_ids: by_customer[ci].iter().map(|&e| equipment[e].id).collect(),
                    sla: sla_terms(tier),
                    labour_rate_cents_per_hour: rate,
                    parts_discount_pct: discount,
                    labour_covered: covered,
                    monthly_fee_cents: fee_per_unit * n,
                    currency: "EUR".into(),
                    valid_from,
                    valid_to,
                    pause_on_parts: tier == Tier::Silver,
                },
            ));
            for &e in &by_customer[ci] {
                equipment[e].contract = Some(contracts.len());
            }
            contracts.push(Contract { id, customer: ci, tier, calendar });
        }

        // Agents.
        let agent_names = ["Servicepartner Nord GmbH", "TechniServ Süd", "West Field Services", "Alpine Service KG"];
        let mut agents = Vec::new();
        for name in agent_names {
            let id = ids.next();
            let claim_rates = manufacturers
                .iter()
                .map(|m| ClaimRate { manufacturer_id: m.id, labour_rate_cents_per_hour: d.int(70, 90) * 100 })
                .collect();
            ops.push((t0, Op::RegisterAgent { agent_id: id, name: name.to_string(), claim_rates }));
            agents.push(Agent { id, name: name.to_string() });
        }

        // Stock locations: one central warehouse, one per region.
        let mut locations = Vec::new();
        let central = locations.len();
        let cid = ids.next();
        ops.push((
            t0,
            Op::DefineStockLocation {
                location_id: cid,
                kind: LocationKind::Central,
                name: "Central warehouse Kassel".into(),
                region: "Central".into(),
                technician_id: None,
            },
        ));
        locations.push(Location { id: cid, kind: LocationKind::Central, region: usize::MAX, targets: Vec::new() });
        let mut regional = Vec::new();
        for (ri, r) in regions.iter().enumerate() {
            let id = ids.next();
            ops.push((
                t0,
                Op::DefineStockLocation {
                    location_id: id,
                    kind: LocationKind::Regional,
                    name: format!("Regional warehouse {r}"),
                    region: (*r).to_string(),
                    technician_id: None,
                },
            ));
            regional.push(locations.len());
            locations.push(Location { id, kind: LocationKind::Regional, region: ri, targets: Vec::new() });
        }

        // Technicians, placed in proportion to the installed base per region and skill.
        let mut demand = vec![vec![0.0f64; fams.len()]; regions.len()];
        for e in &equipment {
            demand[sites[e.site].region][products[e.product].family] += 1.0;
        }
        let mut technicians: Vec<Technician> = Vec::new();
        let mut by_region = vec![Vec::new(); regions.len()];
        let first =
            ["Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hannes", "Ida", "Jonas", "Lena", "Milan"];
        let last = ["Schmidt", "Novak", "Jansen", "Weber", "Kaya", "Fischer", "Huber", "Smith", "Peeters", "Wagner"];
        let total: f64 = demand.iter().flatten().sum();
        for t in 0..cfg.technicians as usize {
            // Largest remaining (region, family) demand per technician slot.
            let mut best = (0, 0, f64::MIN);
            for (ri, row) in demand.iter().enumerate() {
                for (fi, v) in row.iter().enumerate() {
                    if *v > best.2 {
                        best = (ri, fi, *v);
                    }
                }
            }
            let (ri, fi) = (best.0, best.1);
            demand[ri][fi] -= total / cfg.technicians as f64;
            let mut skills = vec![fi];
            for p in [0.6, 0.3] {
                let other = d.index(fams.len());
                if d.chance(p) && !skills.contains(&other) {
                    skills.push(other);
                }
            }
            let region_cities: Vec<&geo::City> = CITIES.iter().filter(|c| c.region == regions[ri]).collect();
            let city = region_cities[d.weighted(&region_cities.iter().map(|c| c.weight).collect::<Vec<_>>())];
            let (lat, lon) =
                geo::offset(city.lat, city.lon, d.exp(12.0).min(50.0), d.range(0.0, std::f64::consts::TAU));
            let agent = if d.chance(0.25) { Some((ri + d.index(2)) % agents.len()) } else { None };
            let id = ids.next();
            let name = format!("{} {}", first[d.index(first.len())], last[d.index(last.len())]);
            let shift = cal_shift.iter().find(|(c, _)| *c == city.country).map_or_else(Uuid::nil, |(_, id)| *id);
            ops.push((
                t0,
                Op::HireTechnician {
                    technician_id: id,
                    name: name.clone(),
                    region: regions[ri].to_string(),
                    skills: skills.iter().map(|&f| fams[f].name.to_string()).collect(),
                    agent_id: agent.map(|a| agents[a].id),
                    shift_calendar_id: shift,
                    home_lat: round5(lat),
                    home_lon: round5(lon),
                },
            ));
            let vid = ids.next();
            ops.push((
                t0,
                Op::DefineStockLocation {
                    location_id: vid,
                    kind: LocationKind::Van,
                    name: format!("Van {name}"),
                    region: regions[ri].to_string(),
                    technician_id: Some(id),
                },
            ));
            // Van load-out: every part of each skill, more of the most needed
            // and of the cheap ones (stock-outs on the van are what spoils a
            // first-time fix most).
            let mut targets = Vec::new();
            for &f in &skills {
                for (rank, &p) in fams[f].parts.iter().enumerate() {
                    let common = [6, 5, 4, 3, 3, 2, 2, 2].get(rank).copied().unwrap_or(1);
                    let qty = if parts[p].cost_cents > 150_000 { common.min(2) } else { common };
                    targets.push((p, qty, qty - 1));
                }
            }
            let van = locations.len();
            locations.push(Location { id: vid, kind: LocationKind::Van, region: ri, targets });
            by_region[ri].push(t);
            technicians.push(Technician {
                id,
                name,
                region: ri,
                lat,
                lon,
                tz: city.tz,
                country: city.country,
                skills,
                agent,
                van,
                skill_level: d.range(0.86, 0.99),
                mobile: d.chance(cfg.mobile_share),
            });
        }
        // Regional and central levels follow the technicians they serve.
        let techs_per_region: Vec<i64> = by_region.iter().map(|v| v.len() as i64).collect();
        for (ri, &loc) in regional.iter().enumerate() {
            let n = techs_per_region[ri].max(1);
            locations[loc].targets = (0..parts.len()).map(|p| (p, 2 + n, 1 + n / 2)).collect();
        }
        let nt = cfg.technicians as i64;
        locations[central].targets = (0..parts.len()).map(|p| (p, 10 + 2 * nt, 4 + nt / 2)).collect();
        for loc in &locations {
            for &(p, target, point) in &loc.targets {
                ops.push((
                    t0,
                    Op::SetReorderPoint {
                        location_id: loc.id,
                        part_id: parts[p].id,
                        reorder_point: point,
                        reorder_quantity: target - point,
                    },
                ));
            }
        }

        // Preventive plans.
        for e in &equipment {
            if let Some((interval, first)) = e.plan
                && e.installed_on < cfg.start
            {
                ops.push((
                    t0,
                    Op::DefineMaintenancePlan {
                        plan_id: ids.next(),
                        equipment_id: e.id,
                        interval_days: interval,
                        next_due_on: first,
                    },
                ));
            }
        }

        let world = World {
            regions,
            families: fams,
            manufacturers,
            products,
            customers,
            sites,
            equipment,
            contracts,
            agents,
            technicians,
            parts,
            locations,
            central,
            regional,
            by_region,
            later_installs,
            business_calendars,
        };
        (world, ops)
    }
}

fn round5(x: f64) -> f64 {
    (x * 100_000.0).round() / 100_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Size;

    #[test]
    fn world_is_deterministic_and_consistent() {
        let cfg = SimConfig::preset(Size::Small);
        let (w1, ops1) = World::generate(&cfg);
        let (w2, ops2) = World::generate(&cfg);
        assert_eq!(ops1, ops2);
        assert_eq!(w1.technicians.len(), 20);
        assert_eq!(w1.equipment.len(), w2.equipment.len());
        // Every region has technicians, every technician a van with parts of its skills.
        assert!(w1.by_region.iter().all(|v| !v.is_empty()), "{:?}", w1.by_region);
        for t in &w1.technicians {
            let van = &w1.locations[t.van];
            assert_eq!(van.kind, LocationKind::Van);
            assert!(van.targets.iter().all(|(p, _, _)| t.skills.contains(&w1.parts[*p].family)));
        }
        // Equipment installed later has no contract; contracts have a calendar.
        assert!(w1.contracts.iter().all(|c| !c.calendar.is_nil()));
        let other = SimConfig { seed: 43, ..cfg };
        assert_ne!(World::generate(&other).1, ops1);
    }
}
