//! A small service organisation on a real SQLite file, for the tests.
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use fieldhouse_domain::calendar::Calendar;
use fieldhouse_domain::event::{ClaimRate, LocationKind, Priority, Segment, SlaTerm};
use fieldhouse_ops::master::*;
use fieldhouse_ops::orders::*;
use fieldhouse_ops::stock::{ReceiveStock, SetReorderPoint};
use fieldhouse_ops::{Ops, OpsConfig};
use rusqlite::Connection;
use uuid::Uuid;

pub fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

pub fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub struct World {
    pub _dir: tempfile::TempDir,
    pub ops: Ops,
    pub customer: Uuid,
    pub manufacturer: Uuid,
    pub product: Uuid,
    pub cal24: Uuid,
    /// Under the gold contract (labour at 80.00/h not covered, parts -20 %), warranty over.
    pub eq_contract: Uuid,
    /// Under the platinum contract (labour covered, parts 100 % off), warranty over.
    pub eq_covered: Uuid,
    /// In warranty, no contract.
    pub eq_warranty: Uuid,
    /// Neither: time and material.
    pub eq_tm: Uuid,
    pub gold: Uuid,
    pub platinum: Uuid,
    pub agent: Uuid,
    /// Own staff, skilled in hvac, lives near the site.
    pub tech: Uuid,
    /// Another own-staff technician, far away, no skill.
    pub tech2: Uuid,
    /// An agent's technician.
    pub agent_tech: Uuid,
    pub part: Uuid,
    pub van: Uuid,
    pub central: Uuid,
}

pub const SITE_LAT: f64 = 52.52;
pub const SITE_LON: f64 = 13.40;

pub fn world() -> World {
    world_seeded(Some(7))
}

pub fn world_seeded(seed: Option<u64>) -> World {
    let dir = tempfile::tempdir().unwrap();
    let ops = Ops::open(&dir.path().join("ops.db"), OpsConfig { id_seed: seed }).unwrap();
    let at = t(2025, 1, 1, 0, 0);
    let customer = ops
        .register_customer(RegisterCustomer {
            name: "Clinic".into(),
            segment: Segment::Enterprise,
            payment_terms_days: 30,
            at,
        })
        .unwrap()
        .customer_id;
    let site = ops
        .register_site(RegisterSite {
            customer_id: customer,
            name: "Berlin Mitte".into(),
            region: "north".into(),
            lat: SITE_LAT,
            lon: SITE_LON,
            time_zone: "Europe/Berlin".into(),
            at,
        })
        .unwrap()
        .site_id;
    let manufacturer =
        ops.register_manufacturer(RegisterManufacturer { name: "Acme".into(), at }).unwrap().manufacturer_id;
    let product = ops
        .define_product(DefineProduct {
            manufacturer_id: manufacturer,
            model: "X1".into(),
            family: "hvac".into(),
            standard_repair_minutes: 60,
            warranty_months: 24,
            at,
        })
        .unwrap()
        .product_id;
    let install = |serial: &str, installed_on: NaiveDate| {
        ops.install_equipment(InstallEquipment {
            product_id: product,
            site_id: site,
            serial: serial.into(),
            installed_on,
            warranty_end: None,
            firmware: None,
            at,
        })
        .unwrap()
        .equipment_id
    };
    let eq_contract = install("S-1", day(2020, 1, 1));
    let eq_covered = install("S-2", day(2020, 1, 1));
    let eq_warranty = install("S-3", day(2025, 1, 1));
    let eq_tm = install("S-4", day(2020, 1, 1));
    let cal24 = ops
        .define_calendar(DefineCalendar { calendar: Calendar::always(chrono_tz::Europe::Berlin), at })
        .unwrap()
        .calendar_id;
    let sla = vec![
        SlaTerm { priority: Priority::P1, response_minutes: 240, resolution_minutes: 480 },
        SlaTerm { priority: Priority::P2, response_minutes: 480, resolution_minutes: 1440 },
    ];
    let sign = |eq: Uuid, tier: &str, covered: bool, pct: i64| {
        ops.sign_contract(SignContract {
            customer_id: customer,
            tier: tier.into(),
            calendar_id: cal24,
            equipment_ids: vec![eq],
            sla: sla.clone(),
            labour_rate_cents_per_hour: 8000,
            parts_discount_pct: pct,
            labour_covered: covered,
            monthly_fee_cents: 10_000,
            currency: "EUR".into(),
            valid_from: day(2026, 1, 1),
            valid_to: day(2026, 6, 30),
            pause_on_parts: true,
            at,
        })
        .unwrap()
        .contract_id
    };
    let gold = sign(eq_contract, "gold", false, 20);
    let platinum = sign(eq_covered, "platinum", true, 100);
    let agent = ops
        .register_agent(RegisterAgent {
            name: "FixIt GmbH".into(),
            claim_rates: vec![ClaimRate { manufacturer_id: manufacturer, labour_rate_cents_per_hour: 6000 }],
            at,
        })
        .unwrap()
        .agent_id;
    let hire = |name: &str, skills: Vec<String>, agent_id: Option<Uuid>, lat: f64, lon: f64| {
        ops.hire_technician(HireTechnician {
            name: name.into(),
            region: "north".into(),
            skills,
            agent_id,
            shift_calendar_id: cal24,
            home_lat: lat,
            home_lon: lon,
            at,
        })
        .unwrap()
        .technician_id
    };
    let tech = hire("Ada", vec!["hvac".into()], None, 52.50, 13.35);
    let tech2 = hire("Bob", vec!["printers".into()], None, 48.14, 11.58);
    let agent_tech = hire("Cem", vec!["hvac".into()], Some(agent), 52.40, 13.10);
    let part = ops
        .define_part(DefinePart {
            part_number: "P-100".into(),
            description: "pump".into(),
            component: "pump".into(),
            cost_cents: 5000,
            price_cents: 12_345,
            currency: "EUR".into(),
            at,
        })
        .unwrap()
        .part_id;
    let van = ops
        .define_stock_location(DefineStockLocation {
            kind: LocationKind::Van,
            name: "Ada's van".into(),
            region: "north".into(),
            technician_id: Some(tech),
            at,
        })
        .unwrap()
        .location_id;
    let central = ops
        .define_stock_location(DefineStockLocation {
            kind: LocationKind::Central,
            name: "Central".into(),
            region: "north".into(),
            technician_id: None,
            at,
        })
        .unwrap()
        .location_id;
    ops.receive_stock(ReceiveStock { location_id: van, part_id: part, quantity: 100, unit_cost_cents: None, at })
        .unwrap();
    ops.set_reorder_point(SetReorderPoint {
        location_id: central,
        part_id: part,
        reorder_point: 1,
        reorder_quantity: 5,
    })
    .unwrap();
    World {
        _dir: dir,
        ops,
        customer,
        manufacturer,
        product,
        cal24,
        eq_contract,
        eq_covered,
        eq_warranty,
        eq_tm,
        gold,
        platinum,
        agent,
        tech,
        tech2,
        agent_tech,
        part,
        van,
        central,
    }
}

impl World {
    pub fn open(&self, equipment_id: Uuid, at: DateTime<Utc>) -> OrderView {
        self.ops
            .open_order(OpenOrder {
                customer_id: None,
                equipment_id,
                order_type: fieldhouse_domain::event::OrderType::Corrective,
                channel: fieldhouse_domain::event::Channel::Phone,
                priority: Priority::P2,
                fault_code: "E-PUMP".into(),
                reported_fault: "leaks".into(),
                at,
            })
            .unwrap()
    }

    /// Every row of every table, as text: equal dumps = unchanged database.
    pub fn dump(&self) -> String {
        let conn = Connection::open(self.ops.path()).unwrap();
        let tables: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        let mut out = String::new();
        for t in tables {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
            let n = stmt.column_count();
            let mut rows = stmt.query([]).unwrap();
            while let Some(r) = rows.next().unwrap() {
                out.push_str(&t);
                for i in 0..n {
                    let v: rusqlite::types::Value = r.get(i).unwrap();
                    out.push_str(&format!("|{v:?}"));
                }
                out.push('\n');
            }
        }
        out
    }

    pub fn outbox_len(&self) -> i64 {
        self.ops.outbox_max_seq().unwrap()
    }

    pub fn types_after(&self, seq: i64) -> Vec<String> {
        self.ops.outbox_after(seq, 1000).unwrap().into_iter().map(|r| r.event.event_type().to_string()).collect()
    }
}
