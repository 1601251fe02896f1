//! The views over registrations that can repeat: a site, customer, unit or
//! contract registered again is what its latest registration says (ties at
//! the same instant: the larger event id, the one recorded later); an invoice
//! issued twice (a partner system resending it under a new event id) is what
//! its first issue said. Checked through the views themselves, by SQL, on the
//! October master data with a second registration of each.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldhouse_domain::event::*;
use fieldhouse_engine::{Caller, Engine, SessionOptions, SqlLimits, collect, run_sql};

/// One row of `q` as text cells.
async fn row(engine: &Engine, q: &str) -> Vec<String> {
    let opts = SessionOptions { now: Some(t(NOW)), ..Default::default() };
    let stream = run_sql(engine, q, &Caller::admin(), SqlLimits::default(), &opts).await.unwrap();
    let batches = collect(stream).await.unwrap();
    let batch = batches.iter().find(|b| b.num_rows() > 0).unwrap_or_else(|| panic!("no row: {q}"));
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1, "{q}");
    (0..batch.num_columns()).map(|c| arrow::util::display::array_value_to_string(batch.column(c), 0).unwrap()).collect()
}

#[tokio::test]
async fn latest_registration_wins_and_first_issue_wins() {
    let mut w = World::default();
    master(&mut w);
    let later = "2026-06-01T00:00:00Z";
    // The North site moves to another region; the customer's terms change twice at the same instant.
    w.push(
        later,
        SiteRegistered {
            site_id: id(NORTH),
            customer_id: id(CUST),
            name: "North-East".into(),
            region: "NorthEast".into(),
            lat: 54.0,
            lon: 10.0,
            time_zone: "UTC".into(),
        },
    );
    for days in [45, 60] {
        w.push(
            later,
            CustomerRegistered {
                customer_id: id(CUST),
                name: "Klinikum".into(),
                segment: Segment::Public,
                payment_terms_days: days,
            },
        );
    }
    // EQ1 is reinstalled at the South site.
    w.push(
        later,
        EquipmentInstalled {
            equipment_id: id(EQ1),
            product_id: id(PROD),
            site_id: id(SOUTH),
            customer_id: id(CUST),
            serial: "SN-11-B".into(),
            installed_on: d("2026-06-01"),
            warranty_end: d("2028-06-01"),
            firmware: None,
        },
    );
    // An earlier-dated re-registration recorded later does not win: the latest by time does.
    w.push(
        "2025-06-01T00:00:00Z",
        EquipmentInstalled {
            equipment_id: id(EQ1),
            product_id: id(PROD),
            site_id: id(NORTH),
            customer_id: id(CUST),
            serial: "SN-11-OLD".into(),
            installed_on: d("2025-06-01"),
            warranty_end: d("2027-06-01"),
            firmware: None,
        },
    );
    // The invoice I1 issued twice: 210.00 first, 999.00 resent an hour later.
    w.invoice("2026-10-06T12:00:00Z", I1, O1, CUST, "2026-10-06", "2026-11-05", vec![labour(21_000)]);
    w.invoice("2026-10-06T13:00:00Z", I1, O1, CUST, "2026-10-07", "2026-11-06", vec![labour(99_900)]);

    let dir = tempfile::tempdir().unwrap();
    fieldhouse_engine::testing::write_events(dir.path(), &w.events).await.unwrap();
    let engine = Engine::open(dir.path()).unwrap();

    let q = format!("SELECT count(*), max(region), max(name), max(lat) FROM sites WHERE site_id = '{}'", s(NORTH));
    assert_eq!(row(&engine, &q).await, ["1", "NorthEast", "North-East", "54.0"]);
    assert_eq!(row(&engine, "SELECT count(*) FROM sites").await, ["2"]);
    let q = "SELECT count(*), max(payment_terms_days) FROM customers";
    assert_eq!(row(&engine, q).await, ["1", "60"], "two registrations at one instant: the later event id");
    let q = format!(
        "SELECT count(*), max(site_id), max(serial), max(CAST(installed_on AS VARCHAR)), \
         max(CAST(warranty_end AS VARCHAR)) FROM equipment WHERE equipment_id = '{}'",
        s(EQ1)
    );
    assert_eq!(row(&engine, &q).await, ["1", &s(SOUTH), "SN-11-B", "2026-06-01", "2028-06-01"]);
    assert_eq!(row(&engine, "SELECT count(*) FROM equipment").await, ["4"]);
    let q = format!(
        "SELECT count(*), max(total_cents), max(CAST(issued_on AS VARCHAR)), max(CAST(due_on AS VARCHAR)), \
         max(CAST(issued_at AS VARCHAR)) FROM invoices WHERE invoice_id = '{}'",
        s(I1)
    );
    let got = row(&engine, &q).await;
    assert_eq!(got[..4], ["1", "21000", "2026-10-06", "2026-11-05"], "the first issue wins");
    assert!(got[4].starts_with("2026-10-06T12:00:00"), "issued_at of the first issue: {got:?}");
    // Orders read the latest site: none are opened here, so the heads are empty and placed nowhere.
    assert_eq!(row(&engine, "SELECT count(*) FROM order_heads").await, ["0"]);
}
