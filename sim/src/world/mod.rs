//! The simulated organisation: customers, sites, products, equipment,
//! contracts, technicians, agents, parts and stock locations, generated
//! deterministically from the seed, and the operations that register them.
//!
//! The types of the organisation are here; the static catalogue of product
//! families and parts (`catalogue`), the holidays and SLA terms
//! (`calendars`) and the generation from the seed (`generate`) are in
//! submodules, their public items re-exported here.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use fieldhouse_domain::calendar::Calendar;
use fieldhouse_domain::event::{LocationKind, Segment};
use uuid::Uuid;

use crate::backend::Op;

mod calendars;
mod catalogue;
mod generate;

pub use calendars::sla_terms;
pub use catalogue::bathtub;

/// A product family: the skill it needs, its parts and how it fails.
#[derive(Debug, Clone)]
pub struct Family {
    pub name: &'static str,
    /// Corrective failures per unit-year at the bottom of the bathtub.
    pub base_rate: f64,
    /// Failure-rate multiplier by month (January first).
    pub season: [f64; 12],
    pub standard_minutes: i64,
    pub warranty_months: i64,
    /// Part indices, most frequently needed first.
    pub parts: Vec<usize>,
    /// Fault codes that need no part (adjustment, software), with the part-free share.
    pub no_part_faults: &'static [&'static str],
}

#[derive(Debug, Clone)]
pub struct Manufacturer {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Product {
    pub id: Uuid,
    pub manufacturer: usize,
    pub family: usize,
    pub model: String,
    /// Model-specific quality factor on the family's failure rate.
    pub quality: f64,
}

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: Uuid,
    pub name: String,
    pub segment: Segment,
    pub terms_days: i64,
    /// Median days paid after the due date (negative: early).
    pub pay_delay_days: f64,
    /// Share of invoices paid in two parts.
    pub partial_share: f64,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub id: Uuid,
    pub customer: usize,
    pub region: usize,
    pub lat: f64,
    pub lon: f64,
    pub tz: Tz,
    pub country: &'static str,
}

#[derive(Debug, Clone)]
pub struct Equipment {
    pub id: Uuid,
    pub product: usize,
    pub site: usize,
    pub installed_on: NaiveDate,
    pub warranty_end: NaiveDate,
    pub contract: Option<usize>,
    /// Remote monitoring reports faults itself.
    pub iot: bool,
    /// Preventive plan: (interval days, first due date).
    pub plan: Option<(i64, NaiveDate)>,
}

/// Contract tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// 24x7, on site within 4 h for P1.
    Gold,
    /// Business hours Mon–Fri 08:00–18:00 with public holidays, next business day.
    Silver,
}

#[derive(Debug, Clone)]
pub struct Contract {
    pub id: Uuid,
    pub customer: usize,
    pub tier: Tier,
    pub calendar: Uuid,
}

#[derive(Debug, Clone)]
pub struct Agent {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Technician {
    pub id: Uuid,
    pub name: String,
    pub region: usize,
    pub lat: f64,
    pub lon: f64,
    pub tz: Tz,
    pub country: &'static str,
    /// Family indices.
    pub skills: Vec<usize>,
    pub agent: Option<usize>,
    /// Index into `locations`.
    pub van: usize,
    /// Probability of fixing when the right part is at hand.
    pub skill_level: f64,
    /// Sends its actions through the mobile-sync path.
    pub mobile: bool,
}

#[derive(Debug, Clone)]
pub struct Part {
    pub id: Uuid,
    pub family: usize,
    pub number: String,
    pub component: String,
    pub fault_code: String,
    pub cost_cents: i64,
    pub price_cents: i64,
}

#[derive(Debug, Clone)]
pub struct Location {
    pub id: Uuid,
    pub kind: LocationKind,
    pub region: usize,
    /// Target quantity per part (van load-out, warehouse level); (part, target, reorder point).
    pub targets: Vec<(usize, i64, i64)>,
}

/// The whole organisation.
#[derive(Debug, Clone)]
pub struct World {
    pub regions: Vec<&'static str>,
    pub families: Vec<Family>,
    pub manufacturers: Vec<Manufacturer>,
    pub products: Vec<Product>,
    pub customers: Vec<Customer>,
    pub sites: Vec<Site>,
    pub equipment: Vec<Equipment>,
    pub contracts: Vec<Contract>,
    pub agents: Vec<Agent>,
    pub technicians: Vec<Technician>,
    pub parts: Vec<Part>,
    pub locations: Vec<Location>,
    /// Index of the central warehouse in `locations`.
    pub central: usize,
    /// Regional warehouse per region.
    pub regional: Vec<usize>,
    /// Technicians by region.
    pub by_region: Vec<Vec<usize>>,
    /// Units installed during the simulated period: their install instant and operation.
    pub later_installs: Vec<(DateTime<Utc>, Op, usize)>,
    /// Business (silver) calendars per country, for holiday-aware scheduling.
    pub business_calendars: Vec<(&'static str, Calendar)>,
}

impl World {
    /// The business calendar of a country (silver tier).
    pub fn business_calendar(&self, country: &str) -> Option<&Calendar> {
        self.business_calendars.iter().find(|(c, _)| *c == country).map(|(_, c)| c)
    }
}
