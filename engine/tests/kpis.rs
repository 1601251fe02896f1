//! Every KPI against the hand-made October world of `fieldhouse_testkit::october`, with
//! the expected numbers worked out by hand beside each assertion.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldhouse_domain::event::{CreditNoteIssued, PaymentReceived};
use fieldhouse_engine::{Caller, Engine, KpiRequest, Role, collect, run_kpi};
use serde_json::Value;

/// One lake for all tests of this file (read-only).
fn lake() -> &'static std::path::Path {
    october_lake()
}

fn engine() -> Engine {
    Engine::open(lake()).unwrap()
}

async fn kpi_as(req: KpiRequest, caller: &Caller) -> Vec<Value> {
    let req = req.now(t(NOW));
    let stream = run_kpi(&engine(), &req, caller).await.unwrap();
    json_rows(&collect(stream).await.unwrap())
}

/// As [`kpi`], at the reference instant `now` instead of NOW.
async fn kpi_now(req: KpiRequest, now: chrono::DateTime<chrono::Utc>) -> Vec<Value> {
    let stream = run_kpi(&engine(), &req.now(now), &Caller::admin()).await.unwrap();
    json_rows(&collect(stream).await.unwrap())
}

async fn kpi(req: KpiRequest) -> Vec<Value> {
    kpi_as(req, &Caller::admin()).await
}

fn oct(req: KpiRequest) -> KpiRequest {
    req.param("from", "2026-10-01").param("to", "2026-11-01")
}

fn num(v: &Value, key: &str) -> f64 {
    match &v[key] {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) => s.parse().unwrap(),
        other => panic!("{key} is {other:?} in {v}"),
    }
}

fn by<'a>(rows: &'a [Value], key: &str, value: &str) -> &'a Value {
    rows.iter().find(|r| r[key] == value).unwrap_or_else(|| panic!("no row with {key} = {value} in {rows:?}"))
}

#[tokio::test]
async fn sla_response_compliance_by_hand() {
    // O1 met (arrived after 2 h of 4 h, 24x7).
    // O2 met: silver calendar Mon–Fri 08–18; opened Mon 16:00, paused Mon 17:00 → Wed 09:00, arrived Wed
    //    11:00: 1 h (Mon) + 2 h (Wed) = 3 business hours ≤ 8 h. (Tue is a holiday and inside the pause anyway.)
    // O3 met: opened on the holiday Tue 10:00, so the clock starts Wed 08:00; arrived Wed 10:00 = 2 h ≤ 8 h.
    // O4 met: priority changed to P1 (2 h); arrived 1.5 h after opening.
    // O5 breached: 6 h > 4 h.
    // O6 breached while open: P1 2 h deadline (10-15 10:00) passed before NOW, never arrived.
    // O7 on track (excluded), O8 cancelled (excluded).
    // → met 4, breached 2, 66.67 %.
    let rows = kpi(oct(KpiRequest::new("sla_response_compliance"))).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(num(&rows[0], "met"), 4.0);
    assert_eq!(num(&rows[0], "breached"), 2.0);
    assert_eq!(num(&rows[0], "compliance_pct"), 66.67);

    // By region: North = O1, O4 met; O5, O6 breached → 50 %. South = O2, O3 met → 100 %.
    let rows = kpi(oct(KpiRequest::new("sla_response_compliance")).by("region")).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(num(by(&rows, "region", "North"), "compliance_pct"), 50.0);
    assert_eq!(num(by(&rows, "region", "South"), "compliance_pct"), 100.0);
    // The groups add up to the total.
    let total: f64 = rows.iter().map(|r| num(r, "met") + num(r, "breached")).sum();
    assert_eq!(total, 6.0);

    // Filter by priority P1 (bound parameter): O4 (after its change) met, O6 breached → 50 %.
    let rows = kpi(oct(KpiRequest::new("sla_response_compliance")).param("priority", "P1")).await;
    assert_eq!((num(&rows[0], "met"), num(&rows[0], "breached")), (1.0, 1.0));
}

#[tokio::test]
async fn sla_resolution_compliance_by_hand() {
    // O1 met (3 h ≤ 24 h).
    // O2 breached: business time Mon 16–17 (1 h) + Wed 09–18 (9 h) + Thu 08–15 (7 h) = 17 h > 16 h; the parts
    //    wait Wed 12:00 → Thu 10:00 does not pause under silver (pause_on_parts = false).
    // O3 met: Wed 08–11 = 3 h ≤ 16 h.
    // O4 breached: reopened, final completion 17:00 = 9 h after opening > 8 h (P1 after the priority change;
    //    under the original P3 target of 48 h it would have been met).
    // O5 met (7 h ≤ 24 h). O6 breached open (deadline 10-15 16:00). O7 on track, O8 cancelled.
    // → met 3, breached 3, 50 %.
    let rows = kpi(oct(KpiRequest::new("sla_resolution_compliance"))).await;
    assert_eq!(num(&rows[0], "met"), 3.0);
    assert_eq!(num(&rows[0], "breached"), 3.0);
    assert_eq!(num(&rows[0], "compliance_pct"), 50.0);
}

#[tokio::test]
async fn response_time_by_hand() {
    // Business minutes: O1 120, O2 180, O3 120, O4 90, O5 360 → mean 870/5 = 174, median 120,
    //   p90 = sorted[3] + 0.6 × (sorted[4] − sorted[3]) = 180 + 0.6 × 180 = 288.
    // Wall minutes: O1 120, O2 Mon 16:00 → Wed 11:00 = 2580, O3 Tue 10:00 → Wed 10:00 = 1440, O4 90, O5 360
    //   → mean 4590/5 = 918, median 360, p90 = 1440 + 0.6 × 1140 = 2124.
    let rows = kpi(oct(KpiRequest::new("response_time"))).await;
    let r = &rows[0];
    assert_eq!(num(r, "orders"), 5.0);
    assert_eq!(num(r, "business_mean_min"), 174.0);
    assert_eq!(num(r, "business_median_min"), 120.0);
    assert_eq!(num(r, "business_p90_min"), 288.0);
    assert_eq!(num(r, "wall_mean_min"), 918.0);
    assert_eq!(num(r, "wall_median_min"), 360.0);
    assert_eq!(num(r, "wall_p90_min"), 2124.0);
}

#[tokio::test]
async fn time_to_resolve_by_hand() {
    // Net of pauses (wall clock): O1 180; O2 Mon 16:00 → Thu 15:00 = 4260 − customer pause 2400 = 1860 (the
    //   parts wait is no SLA pause under silver); O3 Tue 10:00 → Wed 11:00 = 1500; O4 540 (to the final
    //   completion after the reopening); O5 420 → mean 4500/5 = 900.
    // Business: O1 180, O2 1020, O3 180, O4 540, O5 420 → mean 2340/5 = 468, median 420.
    let rows = kpi(oct(KpiRequest::new("time_to_resolve"))).await;
    let r = &rows[0];
    assert_eq!(num(r, "orders"), 5.0);
    assert_eq!(num(r, "net_mean_min"), 900.0);
    assert_eq!(num(r, "business_mean_min"), 468.0);
    assert_eq!(num(r, "business_median_min"), 420.0);
}

#[tokio::test]
async fn first_time_fix_and_repeat_visits_by_hand() {
    // Completed corrective orders with a visit: O1..O5.
    // O1: fixed on its only visit, but O4 opened on EQ1 6 d 20 h after its completion → not FTF.
    // O2: two visits → no. O3: one visit, fixed, no later order on EQ2 → FTF.
    // O4: reopened, two visits → no. O5: one visit, fixed, nothing later on EQ3 → FTF.
    // → 2 / 5 = 40 %.
    let rows = kpi(oct(KpiRequest::new("first_time_fix_rate"))).await;
    assert_eq!(num(&rows[0], "orders"), 5.0);
    assert_eq!(num(&rows[0], "first_time_fixed"), 2.0);
    assert_eq!(num(&rows[0], "ftf_pct"), 40.0);

    // Repeats: O1 followed by O4 within 7 d; O4 (completed 10-12 17:00) followed by O7 (10-19 22:00) after
    // 7 d 5 h → within 14 and 30 d, not 7. O2/O3 (EQ2): no order opened after their completion. O5: none.
    let rows = kpi(oct(KpiRequest::new("repeat_visit_rate"))).await;
    let r = &rows[0];
    assert_eq!(num(r, "orders"), 5.0);
    assert_eq!((num(r, "repeat_7d"), num(r, "repeat_14d"), num(r, "repeat_30d")), (1.0, 2.0, 2.0));
    assert_eq!(num(r, "repeat_14d_pct"), 40.0);
}

#[tokio::test]
async fn parts_kpis_by_hand() {
    // P1 consumed: O1 ×1, O2 ×2, O5 ×1 = 4 pieces, cost 4 × 100.00 = 40000 cents, list 4 × 150.00.
    let rows = kpi(oct(KpiRequest::new("parts_consumption")).by("part")).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(num(&rows[0], "quantity"), 4.0);
    assert_eq!(num(&rows[0], "cost_cents"), 40_000.0);
    assert_eq!(num(&rows[0], "list_value_cents"), 60_000.0);
    assert_eq!(num(&rows[0], "orders"), 3.0);

    // Attach rate: completed O1..O5, with parts O1, O2, O5 → 60 %.
    let rows = kpi(oct(KpiRequest::new("parts_attach_rate"))).await;
    assert_eq!(num(&rows[0], "attach_pct"), 60.0);
    // All five are corrective: the type filter keeps them all, or none.
    let rows = kpi(oct(KpiRequest::new("parts_attach_rate").param("order_type", "corrective"))).await;
    assert_eq!((num(&rows[0], "orders"), num(&rows[0], "attach_pct")), (5.0, 60.0));
    let rows = kpi(oct(KpiRequest::new("parts_attach_rate").param("order_type", "preventive"))).await;
    assert_eq!(num(&rows[0], "orders"), 0.0);

    // Stockout delays: O2 waited for parts Wed 12:00 → Thu 10:00 = 22 h.
    let rows = kpi(oct(KpiRequest::new("stockout_delays"))).await;
    assert_eq!(num(&rows[0], "orders_delayed"), 1.0);
    assert_eq!(num(&rows[0], "wait_hours"), 22.0);
}

#[tokio::test]
async fn csat_by_hand() {
    // Closed with a score: O1 5, O3 3, O5 4 → mean 4.0.
    let rows = kpi(oct(KpiRequest::new("csat"))).await;
    assert_eq!(num(&rows[0], "scored"), 3.0);
    assert_eq!(num(&rows[0], "csat_mean"), 4.0);
    assert_eq!((num(&rows[0], "score_3"), num(&rows[0], "score_4"), num(&rows[0], "score_5")), (1.0, 1.0, 1.0));
}

#[tokio::test]
async fn backlog_by_hand() {
    // Open at NOW: O6 (response deadline 10-15 10:00, passed → breached) and O7 (opened 10-19 22:00, 2 h of
    // 8 h used → on track, response deadline 10-20 06:00, 6 h away). Next to breach first: O6, then O7.
    let rows = kpi(KpiRequest::new("backlog")).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["order_id"], s(O6));
    assert_eq!(rows[0]["response_state"], "breached");
    assert_eq!(rows[1]["order_id"], s(O7));
    assert_eq!(rows[1]["response_state"], "on_track");
    assert_eq!(num(&rows[1], "hours_to_deadline"), 6.0);
    assert_eq!(num(&rows[1], "age_hours"), 2.0);
    // Within 8 hours of a deadline (or past it): both; within_hours is a bound float parameter.
    let rows = kpi(KpiRequest::new("backlog").param("within_hours", "1")).await;
    assert_eq!(rows.len(), 1, "only O6 (already breached) is within 1 h");
}

#[tokio::test]
async fn billing_kpis_by_hand() {
    // Leakage at NOW (after_days 7): O3 completed 10-07 with 45 min work, no invoice → no_invoice.
    // O2 invoiced (labour only) but consumed P1 ×2 → parts_not_invoiced, 2 × 150.00 = 30000 cents.
    // O4 has no work or parts recorded → not listed. O1 and O5 invoiced their part.
    let rows = kpi(KpiRequest::new("billing_leakage")).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let o3 = by(&rows, "order_id", &s(O3));
    assert_eq!(o3["problem"], "no_invoice");
    let o2 = by(&rows, "order_id", &s(O2));
    assert_eq!(o2["problem"], "parts_not_invoiced");
    assert_eq!(num(o2, "missing_quantity"), 2.0);
    assert_eq!(num(o2, "value_cents"), 30_000.0);

    // Cycle time: completion → invoice: O1 1 d, O2 Thu 15:00 → Sat 15:00 = 2 d, O5 1 d → mean 1.33.
    // Invoice → full payment: only I1 (10-06 → 10-10 = 4 d); I2 is partly paid, I5 only credited.
    let rows = kpi(oct(KpiRequest::new("billing_cycle_time"))).await;
    assert_eq!(num(&rows[0], "invoices"), 3.0);
    assert_eq!(num(&rows[0], "completion_to_invoice_mean_days"), 1.33);
    assert_eq!(num(&rows[0], "invoices_settled"), 1.0);
    assert_eq!(num(&rows[0], "invoice_to_payment_mean_days"), 4.0);
}

#[tokio::test]
async fn receivables_and_dso_by_hand() {
    // As of 10-20: I1 paid in full (gone). I2: 120.00 − 50.00 partial payment = 70.00, due 10-19 → 1 day
    // past due → bucket 0-30. I5: 230.00 − 30.00 credit note = 200.00, due 10-25 → current.
    let rows = kpi(KpiRequest::new("receivables_aging").param("as_of", "2026-10-20")).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["bucket"], "current");
    assert_eq!(num(&rows[0], "open_cents"), 20_000.0);
    assert_eq!(rows[1]["bucket"], "0-30");
    assert_eq!(num(&rows[1], "open_cents"), 7_000.0);

    // DSO for [10-01, 10-21): receivables 27000, credit sales 21000 + 12000 + 23000 = 56000, 20 days
    // → 27000 / 56000 × 20 = 9.642857… → 9.64.
    let rows = kpi(KpiRequest::new("dso").param("from", "2026-10-01").param("to", "2026-10-21")).await;
    assert_eq!(num(&rows[0], "receivables_cents"), 27_000.0);
    assert_eq!(num(&rows[0], "credit_sales_cents"), 56_000.0);
    assert_eq!(num(&rows[0], "dso_days"), 9.64);

    // Without a period: the 90 days up to and including the date of NOW (10-20): [07-23, 10-21). The same
    // receivables and sales (every invoice is from October) over 90 days → 27000 / 56000 × 90 = 43.39.
    let rows = kpi(KpiRequest::new("dso")).await;
    assert_eq!(num(&rows[0], "days"), 90.0);
    assert_eq!(num(&rows[0], "credit_sales_cents"), 56_000.0);
    assert_eq!(num(&rows[0], "dso_days"), 43.39);
}

#[tokio::test]
async fn claims_by_hand() {
    // Agent A: C1 (200.00, partially approved 150.00, paid 150.00), C3 (200.00 pending), C5 (100.00 pending)
    //   → filed 3, approved 1 (partially), claimed 50000, approved 15000, cut 5000, paid 15000, payable 0.
    // Agent B: C2 (400.00 rejected labour_above_standard), C4 (100.00 pending) → filed 2, rejected 1.
    let rows = kpi(oct(KpiRequest::new("claim_settlement"))).await;
    assert_eq!(rows.len(), 2);
    let a = by(&rows, "agent_id", &s(AGENT_A));
    assert_eq!((num(a, "filed"), num(a, "approved"), num(a, "partially_approved")), (3.0, 1.0, 1.0));
    assert_eq!((num(a, "claimed_cents"), num(a, "approved_cents"), num(a, "cut_cents")), (50_000.0, 15_000.0, 5_000.0));
    assert_eq!((num(a, "paid_cents"), num(a, "payable_cents")), (15_000.0, 0.0));
    let b = by(&rows, "agent_id", &s(AGENT_B));
    assert_eq!((num(b, "filed"), num(b, "rejected"), num(b, "pending")), (2.0, 1.0, 1.0));
    assert_eq!(b["rejected_reasons"], "labour_above_standard×1");

    // Suspects: C3 duplicate (second claim for O1); C4 far_from_site (O3 check-in in Berlin, site in Munich,
    // ≈ 500 km); C2 labour_above_standard (300 > 120 × 1.5 = 180); C5 no_arrival (O6 never visited).
    let rows = kpi(oct(KpiRequest::new("suspect_claims"))).await;
    let rules: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r["claim_id"].as_str().unwrap().to_string(), r["rule"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        rules,
        vec![
            (s(C3), "duplicate".into()),
            (s(C4), "far_from_site".into()),
            (s(C2), "labour_above_standard".into()),
            (s(C5), "no_arrival".into()),
        ]
    );
}

#[tokio::test]
async fn claim_list_by_hand() {
    // Filed in October, by filing time: C1 10-06, C3 10-07, C4 10-08, C2 10-09, C5 10-16.
    // C1: approved 150.00 of 200.00 → rejected (cut) 50.00, paid 150.00, payable 0.
    // C2: rejected labour_above_standard → approved 0, rejected 400.00, payable 0.
    // C3, C4, C5: pending → rejected 0, payable 0 (nothing approved yet).
    let rows = kpi(oct(KpiRequest::new("claim_list"))).await;
    let ids: Vec<&str> = rows.iter().map(|r| r["claim_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![s(C1), s(C3), s(C4), s(C2), s(C5)]);
    let c1 = by(&rows, "claim_id", &s(C1));
    assert_eq!(c1["decision"], "approved");
    assert_eq!(
        (num(c1, "claimed_cents"), num(c1, "approved_cents"), num(c1, "rejected_cents")),
        (20_000.0, 15_000.0, 5_000.0)
    );
    assert_eq!((num(c1, "paid_cents"), num(c1, "payable_cents")), (15_000.0, 0.0));
    let c2 = by(&rows, "claim_id", &s(C2));
    assert_eq!(
        (c2["decision"].as_str(), c2["reject_code"].as_str()),
        (Some("rejected"), Some("labour_above_standard"))
    );
    assert_eq!((num(c2, "approved_cents"), num(c2, "rejected_cents")), (0.0, 40_000.0));
    assert_eq!(by(&rows, "claim_id", &s(C5))["decision"], "pending");
    assert_eq!(num(by(&rows, "claim_id", &s(C5)), "rejected_cents"), 0.0);

    // Agent B's statement: its own claims only, whether by filter or by a partner caller.
    let rows = kpi(oct(KpiRequest::new("claim_list")).param("agent", s(AGENT_B))).await;
    let ids: Vec<&str> = rows.iter().map(|r| r["claim_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![s(C4), s(C2)]);
    let rows = kpi_as(oct(KpiRequest::new("claim_list")), &Caller::partner(id(AGENT_B))).await;
    let ids: Vec<&str> = rows.iter().map(|r| r["claim_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![s(C4), s(C2)]);
}

#[tokio::test]
async fn failure_statistics_by_hand() {
    // October: 31 days; every unit was in service all month (EQ3 installed 10-01) → 4 × 31 / 30.4375
    // = 4.0739 unit-months. Corrective orders opened: O1..O8 = 8 (the cancelled O8 too: a reported fault).
    // → 8 / 4.0739 × 1000 = 1963.71.
    // October has ended at the reference instant 11-01 (at NOW, 10-20, it would still be running).
    let nov = t("2026-11-01T00:00:00Z");
    let rows = kpi_now(oct(KpiRequest::new("failure_rate")), nov).await;
    assert_eq!(num(&rows[0], "failures"), 8.0);
    assert_eq!(num(&rows[0], "unit_months"), 4.0739);
    assert_eq!(num(&rows[0], "failures_per_1000_unit_months"), 1963.71);

    // MTBF: 4 units × 744 h = 2976 operating hours ÷ 8 failures = 372 h.
    let rows = kpi_now(oct(KpiRequest::new("mtbf")).by("model"), nov).await;
    assert_eq!(num(&rows[0], "operating_hours"), 2976.0);
    assert_eq!(num(&rows[0], "mtbf_hours"), 372.0);
    // At NOW (10-20 00:00) October is still running: 4 units × 19 days × 24 h = 1824 h, and the 8 failures were
    // all opened before NOW (O7 the latest, 10-19 22:00) → 228 h. The future is not time in service.
    let rows = kpi(oct(KpiRequest::new("mtbf")).by("model")).await;
    assert_eq!(num(&rows[0], "operating_hours"), 1824.0);
    assert_eq!(num(&rows[0], "mtbf_hours"), 228.0);

    // Pareto: E-PUMP O1, O2, O4, O6, O8 = 5; E-FAN O3, O7 = 2; E-BELT O5 = 1 → 62.5 %, 87.5 %, 100 %.
    let rows = kpi(oct(KpiRequest::new("fault_pareto"))).await;
    let codes: Vec<&str> = rows.iter().map(|r| r["fault_code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["E-PUMP", "E-FAN", "E-BELT"]);
    assert_eq!(num(&rows[0], "share_pct"), 62.5);
    assert_eq!(num(&rows[1], "cumulative_pct"), 87.5);
    assert_eq!(num(&rows[2], "cumulative_pct"), 100.0);
}

#[tokio::test]
async fn audience_is_enforced() {
    let err = run_kpi(&engine(), &KpiRequest::new("dso"), &Caller::with_role(Role::Technician)).await.err().unwrap();
    assert!(matches!(err, fieldhouse_engine::Error::Forbidden { .. }), "{err}");
}

#[tokio::test]
async fn technician_utilization_by_hand() {
    // Monday 10-05 only. Every technician's shift calendar is Mon–Fri 08–18 → 10 h each.
    // T1: O1 visit: travel 10:00 → 11:00 (1 h) and 60 min work logged on the visit that ended 12:00 → 2 h of
    //   10 h = 20 %. T2: O2 was assigned on Monday but visited only on Wednesday → 0 %. T3: nothing → 0 %.
    // All three: 2 h / 30 h = 6.67 %.
    let req = || KpiRequest::new("technician_utilization").param("from", "2026-10-05").param("to", "2026-10-06");
    let rows = kpi(req().by("technician")).await;
    assert_eq!(rows.len(), 3);
    let t1 = by(&rows, "technician", &s(T1));
    assert_eq!((num(t1, "shift_hours"), num(t1, "work_hours"), num(t1, "travel_hours")), (10.0, 1.0, 1.0));
    assert_eq!(num(t1, "utilization_pct"), 20.0);
    assert_eq!(num(by(&rows, "technician", &s(T2)), "utilization_pct"), 0.0);
    let rows = kpi(req()).await;
    assert_eq!(num(&rows[0], "utilization_pct"), 6.67);
    // Tuesday 10-06 is a holiday of the shift calendar: no shift time, utilization NULL (not a division by 0).
    let rows =
        kpi(KpiRequest::new("technician_utilization").param("from", "2026-10-06").param("to", "2026-10-07")).await;
    assert_eq!(num(&rows[0], "shift_hours"), 0.0);
    assert!(rows[0].get("utilization_pct").is_none_or(Value::is_null));
}

#[tokio::test]
async fn scorecards_by_hand() {
    // T1 holds O1, O5 (completed, each fixed on its only visit) and O6 (open, breached): response met 1 (O1),
    // breached 2 (O5, O6) → 33.33 %; visits 2, work 60 + 30 min = 1.5 h; CSAT (5 + 4) / 2 = 4.5.
    // T2 holds O2 (two visits) and O3 (one, fixed): fixed_first_visit 1; visits 3; work 120 + 45 = 2.75 h.
    // T3 holds O4: reopened → not fixed first visit; 2 visits; response met.
    let rows = kpi(oct(KpiRequest::new("technician_scorecard"))).await;
    let t1 = by(&rows, "technician_id", &s(T1));
    assert_eq!((num(t1, "completed"), num(t1, "fixed_first_visit"), num(t1, "visits")), (2.0, 2.0, 2.0));
    assert_eq!((num(t1, "work_hours"), num(t1, "response_compliance_pct"), num(t1, "csat_mean")), (1.5, 33.33, 4.5));
    let t2 = by(&rows, "technician_id", &s(T2));
    assert_eq!((num(t2, "fixed_first_visit"), num(t2, "visits"), num(t2, "work_hours")), (1.0, 3.0, 2.75));
    let t3 = by(&rows, "technician_id", &s(T3));
    assert_eq!((num(t3, "fixed_first_visit"), num(t3, "visits")), (0.0, 2.0));

    // Agent A: O1, O5, O6 → opened 3, completed 2, response 1/3 = 33.33 %, resolution O1 met, O5 met, O6
    // breached = 66.67 %; claims C1, C3, C5: filed 3, approved 1, claimed 50000, approved 15000, paid 15000.
    // Agent B: O2, O3 → response 100 %, resolution 50 % (O2 breached); claims C2 rejected, C4 pending.
    let rows = kpi(oct(KpiRequest::new("agent_scorecard"))).await;
    assert_eq!(rows.len(), 2);
    let a = by(&rows, "agent_id", &s(AGENT_A));
    assert_eq!((num(a, "opened"), num(a, "completed")), (3.0, 2.0));
    assert_eq!((num(a, "response_compliance_pct"), num(a, "resolution_compliance_pct")), (33.33, 66.67));
    assert_eq!((num(a, "claims_filed"), num(a, "claims_approved"), num(a, "approved_cents")), (3.0, 1.0, 15_000.0));
    let b = by(&rows, "agent_id", &s(AGENT_B));
    assert_eq!((num(b, "response_compliance_pct"), num(b, "resolution_compliance_pct")), (100.0, 50.0));
    assert_eq!((num(b, "claims_rejected"), num(b, "claimed_cents")), (1.0, 50_000.0));
}

#[tokio::test]
async fn every_catalog_kpi_plans_and_runs_with_every_dimension() {
    let engine = engine();
    let names: Vec<String> = engine.catalog().list().map(|k| k.name.clone()).collect();
    assert_eq!(names.len(), 24, "the 23 KPIs of the issue and the statement lines `claim_list`: {names:?}");
    // One session for all: each KPI alone, grouped by each of its dimensions, and by two at once.
    let opts = fieldhouse_engine::SessionOptions { now: Some(t(NOW)), ..Default::default() };
    let ctx = engine.session(&Caller::admin(), &opts).await.unwrap();
    for def in engine.catalog().list() {
        let mut runs = vec![KpiRequest::new(&def.name)];
        runs.extend(def.dimensions.iter().map(|d| KpiRequest::new(&def.name).by(d)));
        if def.dimensions.len() >= 2 {
            runs.push(KpiRequest::new(&def.name).by(&def.dimensions[0]).by(&def.dimensions[1]));
        }
        // Each run is planned down to a physical plan; the first (no dimension) and the last are executed.
        let last = runs.len() - 1;
        for (i, req) in runs.into_iter().enumerate() {
            let df = fieldhouse_engine::plan_kpi(&ctx, def, &req).await;
            let df = df.unwrap_or_else(|e| panic!("{} by {:?}: {e:?}", def.name, req.by));
            if i == 0 || i == last {
                df.collect().await.unwrap_or_else(|e| panic!("{} by {:?}: {e:?}", def.name, req.by));
            } else {
                df.create_physical_plan().await.unwrap_or_else(|e| panic!("{} by {:?}: {e:?}", def.name, req.by));
            }
        }
    }
}

/// The full-payment date of `billing_cycle_time`: the first date by which the
/// payments and credit notes dated up to it cover the total, on a world of its
/// own (three invoices of 100.00 issued 11-02, no orders).
#[tokio::test]
async fn billing_cycle_time_full_payment_date_by_hand() {
    let mut w = World::default();
    master(&mut w);
    for inv in [901, 902, 903] {
        w.invoice("2026-11-02T09:00:00Z", inv, 0x9900 + inv, CUST, "2026-11-02", "2026-12-02", vec![labour(10_000)]);
    }
    let pay = |w: &mut World, n: u128, inv: u128, cents: i64, on: &str| {
        w.push(
            &format!("{on}T12:00:00Z"),
            PaymentReceived {
                payment_id: id(n),
                invoice_id: id(inv),
                customer_id: id(CUST),
                amount_cents: cents,
                currency: "EUR".into(),
                received_on: d(on),
            },
        );
    };
    // 901: 40.00 on 11-05, 60.00 on 11-12 → settled 11-12: 10 days.
    pay(&mut w, 9101, 901, 4_000, "2026-11-05");
    pay(&mut w, 9102, 901, 6_000, "2026-11-12");
    // 902: 70.00 paid on 11-04 and a 30.00 credit note of 11-06 → settled 11-06: 4 days.
    pay(&mut w, 9103, 902, 7_000, "2026-11-04");
    w.push(
        "2026-11-06T12:00:00Z",
        CreditNoteIssued {
            credit_note_id: id(9201),
            invoice_id: id(902),
            customer_id: id(CUST),
            amount_cents: 3_000,
            currency: "EUR".into(),
            issued_on: d("2026-11-06"),
            reason: "goodwill".into(),
        },
    );
    // 903: 50.00 twice on 11-08 (the same date) → settled 11-08: 6 days.
    pay(&mut w, 9104, 903, 5_000, "2026-11-08");
    pay(&mut w, 9105, 903, 5_000, "2026-11-08");

    let dir = tempfile::tempdir().unwrap();
    fieldhouse_engine::testing::write_events(dir.path(), &w.events).await.unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let req = KpiRequest::new("billing_cycle_time").param("from", "2026-11-01").param("to", "2026-12-01");
    let stream = run_kpi(&engine, &req.now(t("2026-11-30T00:00:00Z")), &Caller::admin()).await.unwrap();
    let rows = json_rows(&collect(stream).await.unwrap());
    // Settled: 10, 4 and 6 days → mean 6.67, median 6.
    assert_eq!(num(&rows[0], "invoices"), 3.0);
    assert_eq!(num(&rows[0], "invoices_settled"), 3.0);
    assert_eq!(num(&rows[0], "invoice_to_payment_mean_days"), 6.67);
    assert_eq!(num(&rows[0], "invoice_to_payment_median_days"), 6.0);
}
