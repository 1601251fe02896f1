//! Ops benchmark: full order lifecycles per second through the library
//! (`fieldhouse_ops::Ops` in-process) and through the HTTP API, in one run.
//!
//! A lifecycle is 11 calls: open → assign → travel → arrive → consume a part
//! → log work → end visit (fixed) → complete → close → invoice → pay.
//! Master data (a customer, a site, equipment, a 24x7 calendar, one
//! technician with a stocked van per client, a part) is set up first and
//! not timed. `--clients K` runs K threads, each with its own technician and
//! van; over HTTP each thread is one keep-alive client.
//!
//! HTTP goes to an in-process server on 127.0.0.1:0 (the full API: auth
//! with an admin bearer token, request ids, tracing layer, metrics) unless
//! `--target URL` names a running `fieldhouse serve` (its token from
//! `FIELDHOUSE_TOKEN`; the server needs no fresh data directory).
//!
//! ```sh
//! cargo run --release -p fieldhouse-tests --example ops_lifecycles -- --lifecycles 2000 --clients 4
//! ```

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use fieldhouse_domain::event::{Channel, LocationKind, OrderType, Priority, Segment, VisitOutcome};
use fieldhouse_ops::billing as b;
use fieldhouse_ops::master as m;
use fieldhouse_ops::orders as o;
use fieldhouse_ops::stock as s;
use fieldhouse_ops::{Ops, OpsConfig};
use fieldhouse_sim::calls::{Call, CallError, Core, Reply};
use fieldhouse_sim::http::HttpCore;
use uuid::Uuid;

mod common;
use common::{BoxError, LocalServer};

/// What one client's lifecycles use.
#[derive(Debug, Clone, Copy)]
struct Slot {
    equipment: Uuid,
    technician: Uuid,
    van: Uuid,
    part: Uuid,
}

fn created(r: Reply) -> Result<Uuid, BoxError> {
    match r {
        Reply::Created(id) => Ok(id),
        other => Err(format!("expected a new id, got {other:?}").into()),
    }
}

/// Master data for `clients` slots, each van stocked with `stock` parts.
fn setup<C: Core>(core: &mut C, clients: usize, stock: usize, at: DateTime<Utc>) -> Result<Vec<Slot>, BoxError> {
    let customer = created(core.call(Call::RegisterCustomer(m::RegisterCustomer {
        name: "Bench Clinic".into(),
        segment: Segment::Enterprise,
        payment_terms_days: 30,
        at,
    }))?)?;
    let site = created(core.call(Call::RegisterSite(m::RegisterSite {
        customer_id: customer,
        name: "Mitte".into(),
        region: "north".into(),
        lat: 52.52,
        lon: 13.40,
        time_zone: "Europe/Berlin".into(),
        at,
    }))?)?;
    let maker = created(core.call(Call::RegisterManufacturer(m::RegisterManufacturer { name: "Acme".into(), at }))?)?;
    let product = created(core.call(Call::DefineProduct(m::DefineProduct {
        manufacturer_id: maker,
        model: "X1".into(),
        family: "hvac".into(),
        standard_repair_minutes: 60,
        warranty_months: 12,
        at,
    }))?)?;
    let calendar =
        serde_json::from_value(serde_json::json!({"name": "24x7", "tz": "Europe/Berlin", "always_open": true}))?;
    let calendar = created(core.call(Call::DefineCalendar(m::DefineCalendar { calendar, at }))?)?;
    let part = created(core.call(Call::DefinePart(m::DefinePart {
        part_number: "P-1".into(),
        description: "pump".into(),
        component: "pump".into(),
        cost_cents: 5000,
        price_cents: 10000,
        currency: "EUR".into(),
        at,
    }))?)?;
    let installed_on = NaiveDate::from_ymd_opt(2020, 1, 1).ok_or("date")?;
    let mut slots = Vec::with_capacity(clients);
    for i in 0..clients {
        let equipment = created(core.call(Call::InstallEquipment(m::InstallEquipment {
            product_id: product,
            site_id: site,
            serial: format!("BENCH-{i}-{}", Uuid::now_v7().simple()),
            installed_on,
            warranty_end: None,
            firmware: None,
            at,
        }))?)?;
        let technician = created(core.call(Call::HireTechnician(m::HireTechnician {
            name: format!("Tech {i}"),
            region: "north".into(),
            skills: vec!["hvac".into()],
            agent_id: None,
            shift_calendar_id: calendar,
            home_lat: 52.5,
            home_lon: 13.3,
            at,
        }))?)?;
        let van = created(core.call(Call::DefineStockLocation(m::DefineStockLocation {
            kind: LocationKind::Van,
            name: format!("van {i}"),
            region: "north".into(),
            technician_id: Some(technician),
            at,
        }))?)?;
        core.call(Call::ReceiveStock(s::ReceiveStock {
            location_id: van,
            part_id: part,
            quantity: stock as i64,
            unit_cost_cents: Some(5000),
            at,
        }))?;
        slots.push(Slot { equipment, technician, van, part });
    }
    Ok(slots)
}

/// One full lifecycle starting at `t`.
fn lifecycle<C: Core>(core: &mut C, slot: Slot, t: DateTime<Utc>) -> Result<(), CallError> {
    let at = |min: i64| t + TimeDelta::minutes(min);
    let Reply::Order { order_id: id, .. } = core.call(Call::OpenOrder(o::OpenOrder {
        customer_id: None,
        equipment_id: slot.equipment,
        order_type: OrderType::Corrective,
        channel: Channel::Phone,
        priority: Priority::P2,
        fault_code: "E-1".into(),
        reported_fault: "no cooling".into(),
        at: at(0),
    }))?
    else {
        return Err(CallError::Failed("open_order answered no order".into()));
    };
    core.call(Call::Assign(id, o::AssignOrder { technician_id: slot.technician, at: at(1) }))?;
    core.call(Call::StartTravel(id, o::StartTravel { at: at(2) }))?;
    core.call(Call::Arrive(id, o::Arrive { lat: 52.52, lon: 13.40, at: at(20) }))?;
    let part = o::ConsumePart { part_id: slot.part, location_id: slot.van, quantity: 1, at: at(30) };
    core.call(Call::ConsumePart(id, part))?;
    core.call(Call::LogWork(id, o::LogWork { minutes: 45, at: at(65) }))?;
    core.call(Call::EndVisit(id, o::EndVisit { outcome: VisitOutcome::Fixed, at: at(66) }))?;
    core.call(Call::Complete(id, o::CompleteOrder { at: at(67) }))?;
    core.call(Call::Close(id, o::CloseOrder { signed_by: "Dr. Who".into(), csat: Some(5), at: at(68) }))?;
    let Reply::Invoices(inv) = core.call(Call::InvoiceOrder(id, b::InvoiceOrder { at: at(120) }))? else {
        return Err(CallError::Failed("invoice_order answered no invoice".into()));
    };
    let inv = inv.first().ok_or_else(|| CallError::Failed("no invoice".into()))?;
    let pay = b::RecordPayment { amount_cents: inv.total_cents, received_on: None, at: at(24 * 60) };
    core.call(Call::RecordPayment(inv.invoice_id, pay))?;
    Ok(())
}

/// Run `n` lifecycles over the `cores` (one thread each) and return the wall time.
fn run<C: Core + Send>(cores: Vec<C>, slots: &[Slot], n: usize, t0: DateTime<Utc>) -> Result<Duration, BoxError> {
    let k = cores.len();
    let started = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = cores
            .into_iter()
            .enumerate()
            .map(|(i, mut core)| {
                let slot = slots[i];
                scope.spawn(move || -> Result<(), CallError> {
                    for j in (i..n).step_by(k) {
                        lifecycle(&mut core, slot, t0 + TimeDelta::hours(j as i64))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| "a client thread panicked")??;
        }
        Ok::<_, BoxError>(())
    })?;
    Ok(started.elapsed())
}

fn main() -> Result<(), BoxError> {
    let mut n = 2000usize;
    let mut clients = 4usize;
    let mut target: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--lifecycles" => n = args.next().ok_or("--lifecycles N")?.parse()?,
            "--clients" => clients = args.next().ok_or("--clients K")?.parse()?,
            "--target" => target = Some(args.next().ok_or("--target URL")?),
            other => return Err(format!("unknown argument `{other}`; see the file's header").into()),
        }
    }
    let clients = clients.clamp(1, n.max(1));
    let per_client = n.div_ceil(clients);
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).single().ok_or("time")?;
    let setup_at = t0 - TimeDelta::days(1);

    // Library: one thread, then `clients` threads sharing one `Ops` (it is a cheap clone).
    let dir = tempfile::tempdir()?;
    let ops = Ops::open(&dir.path().join("ops.db"), OpsConfig::default())?;
    // Slot 0 serves the single-threaded run and its share of the threaded one.
    let slots = setup(&mut ops.clone(), clients, n + per_client, setup_at)?;
    let lib1 = run(vec![ops.clone()], &slots[..1], n, t0)?;
    let lib_k = run((0..clients).map(|_| ops.clone()).collect(), &slots, n, t0 + TimeDelta::hours(n as i64))?;
    drop(ops);

    // HTTP: `clients` keep-alive clients.
    let server_dir = tempfile::tempdir()?;
    let local = target.is_none();
    let server = if local { Some(LocalServer::start(server_dir.path(), None)?) } else { None };
    let (base, token) = match (&server, target) {
        (Some(s), _) => (s.base.clone(), Some(s.token.clone())),
        (None, t) => (t.unwrap_or_default(), std::env::var("FIELDHOUSE_TOKEN").ok()),
    };
    let client = || HttpCore::new(&base, token.as_deref());
    let slots = setup(&mut client()?, clients, per_client, setup_at)?;
    let cores = (0..clients).map(|_| client()).collect::<Result<Vec<_>, _>>()?;
    let http = run(cores, &slots, n, t0)?;
    drop(server);

    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let (l1, lk, h) = (rate(lib1), rate(lib_k), rate(http));
    println!(
        "lifecycles={n} calls_per_lifecycle=11 clients={clients} server={}",
        if local { "in-process loopback" } else { base.as_str() }
    );
    println!("library 1 thread   {l1:>9.0} lifecycles/s ({:.2} s)", lib1.as_secs_f64());
    println!("library {clients} threads  {lk:>9.0} lifecycles/s ({:.2} s)", lib_k.as_secs_f64());
    println!(
        "http {clients} clients     {h:>9.0} lifecycles/s ({:.2} s, {:.0} requests/s)",
        http.as_secs_f64(),
        h * 11.0
    );
    println!("ratio http/library(1 thread) = {:.3}; http/library({clients} threads) = {:.3}", h / l1, h / lk);
    Ok(())
}
