//! Master data: customers, sites, manufacturers, products, equipment,
//! calendars, contracts, agents, technicians, parts, stock locations and
//! maintenance plans. Each write emits its master-data event; each record is
//! stored with its event payload as `body` (what `get`/`list` return).

use chrono::{DateTime, Months, NaiveDate, Utc};
use fieldhouse_domain::calendar::Calendar;
use fieldhouse_domain::event::{
    AgentRegistered, CalendarDefined, ClaimRate, ContractSigned, ContractTerminated, CustomerRegistered,
    EquipmentDecommissioned, EquipmentInstalled, LocationKind, MaintenancePlanDefined, ManufacturerRegistered,
    PartDefined, ProductDefined, Segment, SiteRegistered, SlaTerm, StockLocationDefined, TechnicianHired,
    TechnicianLeft,
};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::db::{self, RowExt};
use crate::service::{Ops, Page, SOURCE_OPS, Tx};
use crate::{Error, Result};

/// The kinds of master data, each with its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MasterKind {
    Customer,
    Site,
    Manufacturer,
    Product,
    Equipment,
    Calendar,
    Contract,
    Agent,
    Technician,
    Part,
    StockLocation,
    MaintenancePlan,
}

impl MasterKind {
    fn table(self) -> &'static str {
        match self {
            MasterKind::Customer => "customers",
            MasterKind::Site => "sites",
            MasterKind::Manufacturer => "manufacturers",
            MasterKind::Product => "products",
            MasterKind::Equipment => "equipment",
            MasterKind::Calendar => "calendars",
            MasterKind::Contract => "contracts",
            MasterKind::Agent => "agents",
            MasterKind::Technician => "technicians",
            MasterKind::Part => "parts",
            MasterKind::StockLocation => "stock_locations",
            MasterKind::MaintenancePlan => "maintenance_plans",
        }
    }

    /// The entity name used in errors.
    pub fn entity(self) -> &'static str {
        match self {
            MasterKind::Customer => "customer",
            MasterKind::Site => "site",
            MasterKind::Manufacturer => "manufacturer",
            MasterKind::Product => "product",
            MasterKind::Equipment => "equipment",
            MasterKind::Calendar => "calendar",
            MasterKind::Contract => "contract",
            MasterKind::Agent => "agent",
            MasterKind::Technician => "technician",
            MasterKind::Part => "part",
            MasterKind::StockLocation => "stock location",
            MasterKind::MaintenancePlan => "maintenance plan",
        }
    }
}

// --- commands ----------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterCustomer {
    pub name: String,
    pub segment: Segment,
    pub payment_terms_days: i64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterSite {
    pub customer_id: Uuid,
    pub name: String,
    pub region: String,
    pub lat: f64,
    pub lon: f64,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub time_zone: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterManufacturer {
    pub name: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefineProduct {
    pub manufacturer_id: Uuid,
    pub model: String,
    pub family: String,
    pub standard_repair_minutes: i64,
    pub warranty_months: i64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallEquipment {
    pub product_id: Uuid,
    pub site_id: Uuid,
    pub serial: String,
    pub installed_on: NaiveDate,
    /// Defaults to `installed_on` + the product's warranty months.
    #[serde(default)]
    pub warranty_end: Option<NaiveDate>,
    #[serde(default)]
    pub firmware: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecommissionEquipment {
    pub decommissioned_on: NaiveDate,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefineCalendar {
    pub calendar: Calendar,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignContract {
    pub customer_id: Uuid,
    pub tier: String,
    pub calendar_id: Uuid,
    pub equipment_ids: Vec<Uuid>,
    pub sla: Vec<SlaTerm>,
    pub labour_rate_cents_per_hour: i64,
    pub parts_discount_pct: i64,
    pub labour_covered: bool,
    pub monthly_fee_cents: i64,
    pub currency: String,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    pub pause_on_parts: bool,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerminateContract {
    /// First day the contract is no longer in force.
    pub effective_on: NaiveDate,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisterAgent {
    pub name: String,
    #[serde(default)]
    pub claim_rates: Vec<ClaimRate>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HireTechnician {
    pub name: String,
    pub region: String,
    pub skills: Vec<String>,
    #[serde(default)]
    pub agent_id: Option<Uuid>,
    pub shift_calendar_id: Uuid,
    pub home_lat: f64,
    pub home_lon: f64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TechnicianLeaves {
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefinePart {
    pub part_number: String,
    pub description: String,
    pub component: String,
    pub cost_cents: i64,
    pub price_cents: i64,
    pub currency: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefineStockLocation {
    pub kind: LocationKind,
    pub name: String,
    pub region: String,
    #[serde(default)]
    pub technician_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DefineMaintenancePlan {
    pub equipment_id: Uuid,
    pub interval_days: i64,
    pub next_due_on: NaiveDate,
    pub at: DateTime<Utc>,
}

// --- helpers -----------------------------------------------------------------

fn non_empty(field: &'static str, s: &str) -> Result<()> {
    if s.trim().is_empty() { Err(Error::invalid(field, "must not be empty")) } else { Ok(()) }
}

fn non_negative(field: &'static str, v: i64) -> Result<()> {
    if v < 0 { Err(Error::invalid(field, format!("must be >= 0, got {v}"))) } else { Ok(()) }
}

fn lat_lon(lat: f64, lon: f64) -> Result<()> {
    if !(-90.0..=90.0).contains(&lat) {
        return Err(Error::invalid("lat", format!("{lat} is not a latitude")));
    }
    if !(-180.0..=180.0).contains(&lon) {
        return Err(Error::invalid("lon", format!("{lon} is not a longitude")));
    }
    Ok(())
}

fn currency(c: &str) -> Result<()> {
    if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(Error::invalid("currency", format!("`{c}` is not an ISO 4217 code")))
    }
}

/// Fail with NotFound unless `id` exists in `kind`'s table.
pub(crate) fn require(conn: &Connection, kind: MasterKind, id: Uuid) -> Result<()> {
    let sql = format!("SELECT 1 FROM {} WHERE id = ?1", kind.table());
    let found = conn.prepare_cached(&sql)?.query_row([db::id(id)], |_| Ok(())).optional()?;
    found.ok_or_else(|| Error::not_found(kind.entity(), id))
}

/// The stored body (event payload) of a master record, decoded.
pub(crate) fn body<T: serde::de::DeserializeOwned>(conn: &Connection, kind: MasterKind, id: Uuid) -> Result<T> {
    let sql = format!("SELECT body FROM {} WHERE id = ?1", kind.table());
    let text: Option<String> = conn.prepare_cached(&sql)?.query_row([db::id(id)], |r| r.get(0)).optional()?;
    let text = text.ok_or_else(|| Error::not_found(kind.entity(), id))?;
    Ok(serde_json::from_str(&text)?)
}

pub(crate) fn calendar(conn: &Connection, id: Uuid) -> Result<Calendar> {
    let d: CalendarDefined = body(conn, MasterKind::Calendar, id)?;
    Ok(d.calendar)
}

/// Insert a calendar row and emit `CalendarDefined`.
pub(crate) fn insert_calendar(tx: &mut Tx<'_>, calendar: Calendar, at: DateTime<Utc>) -> Result<CalendarDefined> {
    calendar.validate()?;
    let id = tx.new_id(at);
    let ev = CalendarDefined { calendar_id: id, calendar };
    tx.prepare_cached("INSERT INTO calendars (id, name, body) VALUES (?1, ?2, ?3)")?.execute(params![
        db::id(id),
        ev.calendar.name,
        serde_json::to_string(&ev)?
    ])?;
    tx.emit(at, ev.clone())?;
    Ok(ev)
}

impl Ops {
    /// One master record (its event payload as JSON).
    pub fn master(&self, kind: MasterKind, id: Uuid) -> Result<Value> {
        self.read(|c| body(c, kind, id))
    }

    /// A page of master records, by id.
    pub fn list_master(&self, kind: MasterKind, page: &Page) -> Result<Vec<Value>> {
        self.read(|c| {
            let sql = format!("SELECT body FROM {} WHERE id > ?1 ORDER BY id LIMIT ?2", kind.table());
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![page.after_str(), page.limit_i64()], |r| r.get::<_, String>(0))?;
            let mut out = Vec::new();
            for r in rows {
                out.push(serde_json::from_str(&r?)?);
            }
            Ok(out)
        })
    }

    pub fn register_customer(&self, c: RegisterCustomer) -> Result<CustomerRegistered> {
        non_empty("name", &c.name)?;
        non_negative("payment_terms_days", c.payment_terms_days)?;
        self.write(SOURCE_OPS, |tx| {
            let id = tx.new_id(c.at);
            let ev = CustomerRegistered {
                customer_id: id,
                name: c.name,
                segment: c.segment,
                payment_terms_days: c.payment_terms_days,
            };
            tx.prepare_cached("INSERT INTO customers (id, payment_terms_days, body) VALUES (?1, ?2, ?3)")?
                .execute(params![db::id(id), ev.payment_terms_days, serde_json::to_string(&ev)?])?;
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn register_site(&self, c: RegisterSite) -> Result<SiteRegistered> {
        non_empty("name", &c.name)?;
        lat_lon(c.lat, c.lon)?;
        c.time_zone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| Error::invalid("time_zone", format!("`{}` is not an IANA time zone", c.time_zone)))?;
        self.write(SOURCE_OPS, |tx| {
            require(tx, MasterKind::Customer, c.customer_id)?;
            let id = tx.new_id(c.at);
            let ev = SiteRegistered {
                site_id: id,
                customer_id: c.customer_id,
                name: c.name,
                region: c.region,
                lat: c.lat,
                lon: c.lon,
                time_zone: c.time_zone,
            };
            tx.prepare_cached(
                "INSERT INTO sites (id, customer_id, region, lat, lon, time_zone, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                db::id(id),
                db::id(ev.customer_id),
                ev.region,
                ev.lat,
                ev.lon,
                ev.time_zone,
                serde_json::to_string(&ev)?
            ])?;
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn register_manufacturer(&self, c: RegisterManufacturer) -> Result<ManufacturerRegistered> {
        non_empty("name", &c.name)?;
        self.write(SOURCE_OPS, |tx| {
            let id = tx.new_id(c.at);
            let ev = ManufacturerRegistered { manufacturer_id: id, name: c.name };
            tx.prepare_cached("INSERT INTO manufacturers (id, body) VALUES (?1, ?2)")?
                .execute(params![db::id(id), serde_json::to_string(&ev)?])?;
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn define_product(&self, c: DefineProduct) -> Result<ProductDefined> {
        non_empty("model", &c.model)?;
        non_empty("family", &c.family)?;
        non_negative("standard_repair_minutes", c.standard_repair_minutes)?;
        non_negative("warranty_months", c.warranty_months)?;
        self.write(SOURCE_OPS, |tx| {
            require(tx, MasterKind::Manufacturer, c.manufacturer_id)?;
            let id = tx.new_id(c.at);
            let ev = ProductDefined {
                product_id: id,
                manufacturer_id: c.manufacturer_id,
                model: c.model,
                family: c.family,
                standard_repair_minutes: c.standard_repair_minutes,
                warranty_months: c.warranty_months,
            };
            tx.prepare_cached("INSERT INTO products (id, manufacturer_id, family, body) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![db::id(id), db::id(ev.manufacturer_id), ev.family, serde_json::to_string(&ev)?])?;
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn install_equipment(&self, c: InstallEquipment) -> Result<EquipmentInstalled> {
        non_empty("serial", &c.serial)?;
        self.write(SOURCE_OPS, |tx| {
            let product: ProductDefined = body(tx, MasterKind::Product, c.product_id)?;
            let site: SiteRegistered = body(tx, MasterKind::Site, c.site_id)?;
            let taken = tx
                .prepare_cached("SELECT 1 FROM equipment WHERE serial = ?1")?
                .query_row([&c.serial], |_| Ok(()))
                .optional()?
                .is_some();
            if taken {
                return Err(Error::conflict("duplicate_serial", format!("serial {} is already installed", c.serial)));
            }
            let months = u32::try_from(product.warranty_months).unwrap_or(0);
            let warranty_end = match c.warranty_end {
                Some(d) => d,
                None => c
                    .installed_on
                    .checked_add_months(Months::new(months))
                    .ok_or_else(|| Error::invalid("installed_on", "warranty end out of range"))?,
            };
            if warranty_end < c.installed_on {
                return Err(Error::invalid("warranty_end", "before installed_on"));
            }
            let id = tx.new_id(c.at);
            let ev = EquipmentInstalled {
                equipment_id: id,
                product_id: c.product_id,
                site_id: c.site_id,
                customer_id: site.customer_id,
                serial: c.serial,
                installed_on: c.installed_on,
                warranty_end,
                firmware: c.firmware,
            };
            tx.prepare_cached(
                "INSERT INTO equipment (id, product_id, site_id, customer_id, serial, warranty_end, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                db::id(id),
                db::id(ev.product_id),
                db::id(ev.site_id),
                db::id(ev.customer_id),
                ev.serial,
                db::day(ev.warranty_end),
                serde_json::to_string(&ev)?
            ])?;
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn decommission_equipment(
        &self,
        equipment_id: Uuid,
        c: DecommissionEquipment,
    ) -> Result<EquipmentDecommissioned> {
        self.write(SOURCE_OPS, |tx| {
            let done: Option<Option<String>> = tx
                .prepare_cached("SELECT decommissioned_on FROM equipment WHERE id = ?1")?
                .query_row([db::id(equipment_id)], |r| r.get(0))
                .optional()?;
            match done {
                None => return Err(Error::not_found("equipment", equipment_id)),
                Some(Some(_)) => {
                    return Err(Error::Transition {
                        entity: "equipment",
                        action: "decommission",
                        state: "decommissioned".into(),
                    });
                }
                Some(None) => {}
            }
            tx.prepare_cached("UPDATE equipment SET decommissioned_on = ?2 WHERE id = ?1")?
                .execute(params![db::id(equipment_id), db::day(c.decommissioned_on)])?;
            let ev = EquipmentDecommissioned { equipment_id, decommissioned_on: c.decommissioned_on };
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn define_calendar(&self, c: DefineCalendar) -> Result<CalendarDefined> {
        non_empty("calendar.name", &c.calendar.name)?;
        c.calendar.validate().map_err(|e| Error::invalid("calendar", e.to_string()))?;
        self.write(SOURCE_OPS, |tx| insert_calendar(tx, c.calendar, c.at))
    }

    pub fn sign_contract(&self, c: SignContract) -> Result<ContractSigned> {
        non_empty("tier", &c.tier)?;
        currency(&c.currency)?;
        non_negative("labour_rate_cents_per_hour", c.labour_rate_cents_per_hour)?;
        non_negative("monthly_fee_cents", c.monthly_fee_cents)?;
        if !(0..=100).contains(&c.parts_discount_pct) {
            return Err(Error::invalid("parts_discount_pct", "must be 0..=100"));
        }
        if c.valid_to < c.valid_from {
            return Err(Error::invalid("valid_to", "before valid_from"));
        }
        for t in &c.sla {
            if t.response_minutes <= 0 || t.resolution_minutes <= 0 {
                return Err(Error::invalid("sla", format!("targets for {} must be positive", t.priority)));
            }
        }
        let mut seen = std::collections::HashSet::new();
        if !c.sla.iter().all(|t| seen.insert(t.priority)) {
            return Err(Error::invalid("sla", "one term per priority"));
        }
        self.write(SOURCE_OPS, |tx| {
            require(tx, MasterKind::Customer, c.customer_id)?;
            require(tx, MasterKind::Calendar, c.calendar_id)?;
            for eq in &c.equipment_ids {
                let e: EquipmentInstalled = body(tx, MasterKind::Equipment, *eq)?;
                if e.customer_id != c.customer_id {
                    return Err(Error::invalid("equipment_ids", format!("equipment {eq} belongs to another customer")));
                }
            }
            let id = tx.new_id(c.at);
            let ev = ContractSigned {
                contract_id: id,
                customer_id: c.customer_id,
                tier: c.tier,
                calendar_id: c.calendar_id,
                equipment_ids: c.equipment_ids,
                sla: c.sla,
                labour_rate_cents_per_hour: c.labour_rate_cents_per_hour,
                parts_discount_pct: c.parts_discount_pct,
                labour_covered: c.labour_covered,
                monthly_fee_cents: c.monthly_fee_cents,
                currency: c.currency,
                valid_from: c.valid_from,
                valid_to: c.valid_to,
                pause_on_parts: c.pause_on_parts,
            };
            tx.prepare_cached(
                "INSERT INTO contracts (id, customer_id, calendar_id, valid_from, valid_to, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                db::id(id),
                db::id(ev.customer_id),
                db::id(ev.calendar_id),
                db::day(ev.valid_from),
                db::day(ev.valid_to),
                serde_json::to_string(&ev)?
            ])?;
            for eq in &ev.equipment_ids {
                tx.prepare_cached(
                    "INSERT OR IGNORE INTO contract_equipment (contract_id, equipment_id) VALUES (?1, ?2)",
                )?
                .execute(params![db::id(id), db::id(*eq)])?;
            }
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn terminate_contract(&self, contract_id: Uuid, c: TerminateContract) -> Result<ContractTerminated> {
        self.write(SOURCE_OPS, |tx| {
            let row: Option<Option<String>> = tx
                .prepare_cached("SELECT terminated_on FROM contracts WHERE id = ?1")?
                .query_row([db::id(contract_id)], |r| r.get(0))
                .optional()?;
            match row {
                None => return Err(Error::not_found("contract", contract_id)),
                Some(Some(_)) => {
                    return Err(Error::Transition {
                        entity: "contract",
                        action: "terminate",
                        state: "terminated".into(),
                    });
                }
                Some(None) => {}
            }
            tx.prepare_cached("UPDATE contracts SET terminated_on = ?2 WHERE id = ?1")?
                .execute(params![db::id(contract_id), db::day(c.effective_on)])?;
            let ev = ContractTerminated { contract_id, effective_on: c.effective_on };
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn register_agent(&self, c: RegisterAgent) -> Result<AgentRegistered> {
        non_empty("name", &c.name)?;
        for r in &c.claim_rates {
            non_negative("claim_rates.labour_rate_cents_per_hour", r.labour_rate_cents_per_hour)?;
        }
        self.write(SOURCE_OPS, |tx| {
            for r in &c.claim_rates {
                require(tx, MasterKind::Manufacturer, r.manufacturer_id)?;
            }
            let id = tx.new_id(c.at);
            let ev = AgentRegistered { agent_id: id, name: c.name, claim_rates: c.claim_rates };
            tx.prepare_cached("INSERT INTO agents (id, body) VALUES (?1, ?2)")?
                .execute(params![db::id(id), serde_json::to_string(&ev)?])?;
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn hire_technician(&self, c: HireTechnician) -> Result<TechnicianHired> {
        non_empty("name", &c.name)?;
        lat_lon(c.home_lat, c.home_lon)?;
        self.write(SOURCE_OPS, |tx| {
            if let Some(a) = c.agent_id {
                require(tx, MasterKind::Agent, a)?;
            }
            require(tx, MasterKind::Calendar, c.shift_calendar_id)?;
            let id = tx.new_id(c.at);
            let ev = TechnicianHired {
                technician_id: id,
                name: c.name,
                region: c.region,
                skills: c.skills,
                agent_id: c.agent_id,
                shift_calendar_id: c.shift_calendar_id,
                home_lat: c.home_lat,
                home_lon: c.home_lon,
            };
            tx.prepare_cached("INSERT INTO technicians (id, agent_id, body) VALUES (?1, ?2, ?3)")?.execute(params![
                db::id(id),
                ev.agent_id.map(db::id),
                serde_json::to_string(&ev)?
            ])?;
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn technician_leaves(&self, technician_id: Uuid, c: TechnicianLeaves) -> Result<TechnicianLeft> {
        self.write(SOURCE_OPS, |tx| {
            let left: Option<Option<String>> = tx
                .prepare_cached("SELECT left_at FROM technicians WHERE id = ?1")?
                .query_row([db::id(technician_id)], |r| r.get(0))
                .optional()?;
            match left {
                None => return Err(Error::not_found("technician", technician_id)),
                Some(Some(_)) => {
                    return Err(Error::Transition { entity: "technician", action: "leave", state: "left".into() });
                }
                Some(None) => {}
            }
            tx.prepare_cached("UPDATE technicians SET left_at = ?2 WHERE id = ?1")?
                .execute(params![db::id(technician_id), db::ts(c.at)])?;
            let ev = TechnicianLeft { technician_id };
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn define_part(&self, c: DefinePart) -> Result<PartDefined> {
        non_empty("part_number", &c.part_number)?;
        currency(&c.currency)?;
        non_negative("cost_cents", c.cost_cents)?;
        non_negative("price_cents", c.price_cents)?;
        self.write(SOURCE_OPS, |tx| {
            let taken = tx
                .prepare_cached("SELECT 1 FROM parts WHERE part_number = ?1")?
                .query_row([&c.part_number], |_| Ok(()))
                .optional()?
                .is_some();
            if taken {
                return Err(Error::conflict("duplicate_part_number", format!("part {} exists", c.part_number)));
            }
            let id = tx.new_id(c.at);
            let ev = PartDefined {
                part_id: id,
                part_number: c.part_number,
                description: c.description,
                component: c.component,
                cost_cents: c.cost_cents,
                price_cents: c.price_cents,
                currency: c.currency,
            };
            tx.prepare_cached("INSERT INTO parts (id, part_number, body) VALUES (?1, ?2, ?3)")?.execute(params![
                db::id(id),
                ev.part_number,
                serde_json::to_string(&ev)?
            ])?;
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn define_stock_location(&self, c: DefineStockLocation) -> Result<StockLocationDefined> {
        non_empty("name", &c.name)?;
        if c.kind == LocationKind::Van && c.technician_id.is_none() {
            return Err(Error::invalid("technician_id", "a van belongs to a technician"));
        }
        self.write(SOURCE_OPS, |tx| {
            if let Some(t) = c.technician_id {
                require(tx, MasterKind::Technician, t)?;
            }
            let id = tx.new_id(c.at);
            let ev = StockLocationDefined {
                location_id: id,
                kind: c.kind,
                name: c.name,
                region: c.region,
                technician_id: c.technician_id,
            };
            tx.prepare_cached("INSERT INTO stock_locations (id, body) VALUES (?1, ?2)")?
                .execute(params![db::id(id), serde_json::to_string(&ev)?])?;
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }

    pub fn define_maintenance_plan(&self, c: DefineMaintenancePlan) -> Result<MaintenancePlanDefined> {
        if c.interval_days <= 0 {
            return Err(Error::invalid("interval_days", "must be positive"));
        }
        self.write(SOURCE_OPS, |tx| {
            require(tx, MasterKind::Equipment, c.equipment_id)?;
            let id = tx.new_id(c.at);
            let ev = MaintenancePlanDefined {
                plan_id: id,
                equipment_id: c.equipment_id,
                interval_days: c.interval_days,
                next_due_on: c.next_due_on,
            };
            tx.prepare_cached(
                "INSERT INTO maintenance_plans (id, equipment_id, interval_days, next_due_on, body)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                db::id(id),
                db::id(ev.equipment_id),
                ev.interval_days,
                db::day(ev.next_due_on),
                serde_json::to_string(&ev)?
            ])?;
            tx.emit(c.at, ev.clone())?;
            Ok(ev)
        })
    }
}

/// Technician facts the order lifecycle needs.
#[derive(Debug, Clone)]
pub(crate) struct TechRow {
    pub(crate) hired: TechnicianHired,
    pub(crate) left: bool,
}

pub(crate) fn technician(conn: &Connection, id: Uuid) -> Result<TechRow> {
    let row = conn
        .prepare_cached("SELECT body, left_at FROM technicians WHERE id = ?1")?
        .query_row([db::id(id)], |r| Ok((r.get::<_, String>("body")?, r.opt_instant("left_at")?)))
        .optional()?;
    let (body, left) = row.ok_or_else(|| Error::not_found("technician", id))?;
    Ok(TechRow { hired: serde_json::from_str(&body)?, left: left.is_some() })
}
