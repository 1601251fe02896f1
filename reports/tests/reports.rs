//! The tests: every default report renders from a hand-made dataset
//! with CSV numbers equal to the KPI source's; PNG charts decode at the
//! expected size; reruns are byte-identical; the scheduler catches up a
//! missed period exactly once; a failing report is recorded and retried
//! without stopping the others; a partner cannot list or download another
//! agent's statement.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use fieldhouse_reports::config::Format;
use fieldhouse_reports::render::to_csv;
use fieldhouse_reports::runlog::{RunLog, RunStatus};
use fieldhouse_reports::runner::{compute_sections, output_dir};
use fieldhouse_reports::scheduler::run_due_with;
use fieldhouse_reports::{Config, Error, MemorySource, Period, list_reports, resolve_download, run_report};
use uuid::Uuid;

const AGENT_A: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_000a);
const AGENT_B: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_000b);

enum Col {
    S(Vec<&'static str>),
    Owned(Vec<String>),
    I(Vec<i64>),
    F(Vec<f64>),
    D(Vec<NaiveDate>),
}

fn batch(cols: Vec<(&str, Col)>) -> RecordBatch {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (name, col) in cols {
        let (dt, a): (DataType, ArrayRef) = match col {
            Col::S(v) => (DataType::Utf8, Arc::new(StringArray::from(v))),
            Col::Owned(v) => (DataType::Utf8, Arc::new(StringArray::from(v))),
            Col::I(v) => (DataType::Int64, Arc::new(Int64Array::from(v))),
            Col::F(v) => (DataType::Float64, Arc::new(Float64Array::from(v))),
            Col::D(v) => (
                DataType::Date32,
                Arc::new(Date32Array::from(v.iter().map(|d| (*d - epoch).num_days() as i32).collect::<Vec<_>>())),
            ),
        };
        fields.push(Field::new(name, dt, true));
        arrays.push(a);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

/// A weekly series: one row per ISO week from 2026-W27 to 2026-W46.
fn weekly(value: &str, f: impl Fn(u32) -> f64) -> RecordBatch {
    let mondays: Vec<NaiveDate> =
        (27..=46).map(|w| NaiveDate::from_isoywd_opt(2026, w, chrono::Weekday::Mon).unwrap()).collect();
    batch(vec![
        ("week", Col::Owned(mondays.iter().map(|m| format!("2026-W{:02}", m.iso_week().week())).collect())),
        ("day", Col::D(mondays.clone())),
        ("met", Col::I(mondays.iter().map(|m| i64::from(m.iso_week().week()) * 3).collect())),
        (value, Col::F(mondays.iter().map(|m| f(m.iso_week().week())).collect())),
    ])
}

/// A monthly series from 2026-01 to 2026-12.
fn monthly(value: &str, f: impl Fn(u32) -> f64) -> RecordBatch {
    let firsts: Vec<NaiveDate> = (1..=12).map(|m| d(2026, m, 1)).collect();
    batch(vec![
        ("month", Col::Owned(firsts.iter().map(|m| m.format("%Y-%m").to_string()).collect())),
        ("day", Col::D(firsts.clone())),
        (value, Col::F(firsts.iter().map(|m| f(m.month())).collect())),
    ])
}

fn source(version: i64) -> MemorySource {
    MemorySource::new(version)
        .with_agents(vec![AGENT_B, AGENT_A])
        .with_table("sla_response_compliance", &[], weekly("compliance_pct", |w| 70.0 + f64::from(w % 7) * 3.5))
        .with_table("sla_resolution_compliance", &[], weekly("compliance_pct", |w| 80.0 + f64::from(w % 5) * 2.0))
        .with_table(
            "response_time",
            &["priority"],
            batch(vec![
                ("priority", Col::S(vec!["P1", "P2", "P3"])),
                ("orders", Col::I(vec![40, 120, 300])),
                ("business_median_min", Col::F(vec![95.0, 210.5, 480.0])),
            ]),
        )
        .with_table(
            "first_time_fix_rate",
            &[],
            batch(vec![
                ("region", Col::S(vec!["North", "South", "East"])),
                ("orders", Col::I(vec![50, 40, 30])),
                ("ftf_pct", Col::F(vec![88.0, 80.0, 63.33])),
            ]),
        )
        .with_table(
            "backlog",
            &[],
            batch(vec![
                ("order_id", Col::Owned((0..60).map(|i| format!("order-{i:03}")).collect())),
                (
                    "response_state",
                    Col::Owned((0..60).map(|i| if i % 9 == 0 { "breached" } else { "met" }.into()).collect()),
                ),
                ("age_hours", Col::F((0..60).map(|i| f64::from((i * 37) % 400) / 4.0).collect())),
            ]),
        )
        .with_table("csat", &["week"], weekly("csat_mean", |w| 3.5 + f64::from(w % 3) * 0.4))
        .with_table(
            "csat",
            &[],
            batch(vec![
                ("scored", Col::I(vec![110])),
                ("score_1", Col::I(vec![2])),
                ("score_2", Col::I(vec![3])),
                ("score_3", Col::I(vec![10])),
                ("score_4", Col::I(vec![40])),
                ("score_5", Col::I(vec![55])),
            ]),
        )
        .with_table(
            "failure_rate",
            &["model"],
            batch(vec![
                ("model", Col::S(vec!["XR-100", "XR-200", "HV-9"])),
                ("failures", Col::I(vec![12, 5, 9])),
                ("failures_per_1000_unit_months", Col::F(vec![24.0, 8.5, 15.25])),
            ]),
        )
        .with_table(
            "fault_pareto",
            &[],
            batch(vec![
                ("fault_code", Col::S(vec!["E204", "E310", "E101", "E077"])),
                ("orders", Col::I(vec![48, 25, 12, 6])),
            ]),
        )
        .with_table(
            "mtbf",
            &[],
            batch(vec![("model", Col::S(vec!["XR-100", "HV-9"])), ("mtbf_hours", Col::F(vec![4120.0, 8800.5]))]),
        )
        .with_table("billing_cycle_time", &[], monthly("completion_to_invoice_mean_days", |m| 3.0 + f64::from(m % 4)))
        .with_table(
            "billing_leakage",
            &[],
            batch(vec![
                ("order_id", Col::S(vec!["order-7", "order-9", "order-12"])),
                ("problem", Col::S(vec!["not invoiced", "part missing from invoice", "not invoiced"])),
                ("value_cents", Col::I(vec![12_500, 3_990, 80_000])),
            ]),
        )
        .with_table(
            "receivables_aging",
            &[],
            batch(vec![
                ("bucket", Col::S(vec!["0-30", "31-60", "61-90", "90+"])),
                ("open_cents", Col::I(vec![1_250_000, 430_000, 120_000, 99_900])),
            ]),
        )
        .with_table("dso", &[], batch(vec![("dso_days", Col::F(vec![42.5]))]))
        .with_table(
            "claim_settlement",
            &[],
            batch(vec![
                ("agent_id", Col::Owned([AGENT_A, AGENT_B].iter().map(Uuid::to_string).collect())),
                ("manufacturer_id", Col::S(vec!["m-1", "m-1"])),
                ("filed", Col::I(vec![3, 2])),
                ("approved", Col::I(vec![2, 1])),
                ("rejected", Col::I(vec![1, 1])),
                ("claimed_cents", Col::I(vec![50_050, 16_999])),
                ("approved_cents", Col::I(vec![22_000, 7_000])),
                ("cut_cents", Col::I(vec![3_050, 0])),
                ("payable_cents", Col::I(vec![22_000, 7_000])),
            ]),
        )
        .with_table(
            "claim_list",
            &[],
            batch(vec![
                ("claim_id", Col::S(vec!["c-1", "c-2", "c-3", "c-4", "c-5", "c-6"])),
                (
                    "agent_id",
                    Col::Owned(
                        [AGENT_A, AGENT_A, AGENT_B, AGENT_A, AGENT_B, AGENT_A].iter().map(Uuid::to_string).collect(),
                    ),
                ),
                (
                    "day",
                    Col::D(vec![
                        d(2026, 10, 2),
                        d(2026, 10, 15),
                        d(2026, 10, 16),
                        d(2026, 10, 31),
                        d(2026, 10, 5),
                        d(2026, 11, 1),
                    ]),
                ),
                ("decision", Col::S(vec!["approved", "rejected", "approved", "approved", "rejected", "approved"])),
                ("reason", Col::S(vec!["", "no arrival event", "", "", "duplicate claim", ""])),
                ("claimed_cents", Col::I(vec![10_000, 25_000, 7_000, 15_050, 9_999, 50_000])),
                ("approved_cents", Col::I(vec![10_000, 0, 7_000, 12_000, 0, 50_000])),
                ("rejected_cents", Col::I(vec![0, 25_000, 0, 3_050, 9_999, 0])),
                ("payable_cents", Col::I(vec![10_000, 0, 7_000, 12_000, 0, 50_000])),
            ]),
        )
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

fn period_for(def: &fieldhouse_reports::ReportDef) -> Period {
    match def.period {
        fieldhouse_reports::PeriodKind::LastFullWeek => Period::parse(def.period, "2026-W42").unwrap(),
        fieldhouse_reports::PeriodKind::LastFullMonth => Period::parse(def.period, "2026-10").unwrap(),
    }
}

#[tokio::test]
async fn each_default_report_renders_with_csv_equal_to_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(17);
    let config = Config::defaults().unwrap();
    for def in &config.reports {
        let period = period_for(def);
        let agent = def.per_agent.then_some(AGENT_A);
        let run = run_report(&src, dir.path(), def, period, agent, None).await.unwrap();
        assert_eq!(run.lake_version, 17);
        assert_eq!(run.dir, output_dir(dir.path(), &def.name, &period, agent));
        // Every section's CSV equals the source's rows for the same parameters.
        let sections = compute_sections(&src, def, period, agent, 17).await.unwrap();
        for s in sections.iter().filter(|s| s.def.table && def.has_format(Format::Csv)) {
            let expected = to_csv(Some(&src.rows(&s.def.kpi, &s.params, agent).unwrap())).unwrap();
            let got = read(&run.dir, &format!("{}.csv", s.def.id()));
            assert_eq!(String::from_utf8(got).unwrap(), String::from_utf8(expected).unwrap(), "{}", s.def.id());
        }
        // The HTML is self-contained and says what it is.
        if def.has_format(Format::Html) {
            let html = String::from_utf8(read(&run.dir, "report.html")).unwrap();
            assert!(html.contains("Lake version</td><td><b>17</b>"), "{}", def.name);
            assert!(html.contains(&period.label()));
            assert!(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"));
            let charts = def.sections.iter().filter(|s| s.chart.is_some()).count();
            assert_eq!(html.matches("<svg").count(), charts, "{}: one inline SVG per chart", def.name);
        }
        let manifest: serde_json::Value = serde_json::from_slice(&read(&run.dir, "manifest.json")).unwrap();
        assert_eq!(manifest["lake_version"], 17);
        assert_eq!(manifest["period"], period.label());
    }

    // Hand-checked numbers: the 12-week trend ends with the report's week.
    let mgmt = dir.path().join("reports/management_weekly/2026-W42");
    let trend = String::from_utf8(read(&mgmt, "sla_response_compliance.csv")).unwrap();
    let weeks: Vec<&str> = trend.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(weeks.len(), 12);
    assert_eq!((weeks[0], weeks[11]), ("2026-W31", "2026-W42"));
    // The statement holds agent A's October claims only, and the right totals.
    let stmt = dir.path().join(format!("reports/claim_settlement_monthly/2026-10/{AGENT_A}"));
    let claims = String::from_utf8(read(&stmt, "claim_list.csv")).unwrap();
    let ids: Vec<&str> = claims.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(ids, ["c-1", "c-2", "c-4"]);
    assert!(claims.lines().nth(2).unwrap().contains("rejected,no arrival event"));
    let totals = String::from_utf8(read(&stmt, "claim_list_totals.csv")).unwrap();
    assert_eq!(totals, "claimed_cents,approved_cents,rejected_cents,payable_cents\n50050,22000,28050,22000\n");
    let pdf = read(&stmt, "report.pdf");
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    let html = String::from_utf8(read(&stmt, "report.html")).unwrap();
    assert!(html.contains("500.50") && html.contains("220.00"), "amounts shown in currency units");
    // Finance: the leakage list of October, with its total.
    let fin = dir.path().join("reports/finance_audit_monthly/2026-10");
    assert_eq!(String::from_utf8(read(&fin, "billing_leakage_totals.csv")).unwrap(), "value_cents\n96490\n");
}

#[tokio::test]
async fn png_charts_decode_at_the_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(3);
    let config = Config::defaults().unwrap();
    let mut seen = 0;
    for def in config.reports.iter().filter(|d| d.has_format(Format::Png)) {
        let run = run_report(&src, dir.path(), def, period_for(def), None, None).await.unwrap();
        for s in def.sections.iter().filter(|s| s.chart.is_some()) {
            let bytes = read(&run.dir, &format!("{}.png", s.id()));
            let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
            let mut reader = decoder.read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            assert_eq!((info.width, info.height), (800, 450), "{}", s.id());
            seen += 1;
        }
    }
    assert_eq!(seen, 13, "every chart of the PNG reports");
}

#[tokio::test]
async fn a_rerun_writes_byte_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(5);
    let config = Config::defaults().unwrap();
    for def in &config.reports {
        let period = period_for(def);
        let agent = def.per_agent.then_some(AGENT_B);
        let first = run_report(&src, dir.path(), def, period, agent, None).await.unwrap();
        let before: Vec<Vec<u8>> = first.files.iter().map(|f| read(&first.dir, f)).collect();
        // Rendering again into a fresh data dir gives the same bytes...
        let other = tempfile::tempdir().unwrap();
        let again = run_report(&src, other.path(), def, period, agent, None).await.unwrap();
        assert!(!again.unchanged);
        let fresh: Vec<Vec<u8>> = again.files.iter().map(|f| read(&again.dir, f)).collect();
        assert_eq!(before, fresh, "{}", def.name);
        // ...and a rerun in place finds nothing to change.
        let rerun = run_report(&src, dir.path(), def, period, agent, None).await.unwrap();
        assert!(rerun.unchanged, "{}", def.name);
    }
    // A newer lake version replaces the folder whole; no temp folders remain.
    let def = config.get("finance_audit_monthly").unwrap();
    let run = run_report(&source(6), dir.path(), def, period_for(def), None, None).await.unwrap();
    assert!(!run.unchanged);
    let html = String::from_utf8(read(&run.dir, "report.html")).unwrap();
    assert!(html.contains("Lake version</td><td><b>6</b>"));
    let leftovers: Vec<_> = std::fs::read_dir(run.dir.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty());
}

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn only(config: &Config, name: &str) -> Config {
    Config { reports: vec![config.get(name).unwrap().clone()] }
}

#[tokio::test]
async fn the_scheduler_catches_up_a_missed_period_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(9);
    let config = only(&Config::defaults().unwrap(), "finance_audit_monthly"); // 05:00 on the 1st
    let clock = || at(2026, 1, 1, 0);

    // First start, 1 October 06:00: September is due.
    let recs = run_due_with(&src, dir.path(), &config, at(2026, 10, 1, 6), clock).await.unwrap();
    assert_eq!(recs.iter().map(|r| r.period.as_str()).collect::<Vec<_>>(), ["2026-09"]);
    // Still running an hour later: nothing new.
    assert!(run_due_with(&src, dir.path(), &config, at(2026, 10, 1, 7), clock).await.unwrap().is_empty());
    // Down from 2 October to 15 December: October and November were missed.
    let recs = run_due_with(&src, dir.path(), &config, at(2026, 12, 15, 9), clock).await.unwrap();
    assert_eq!(recs.iter().map(|r| r.period.as_str()).collect::<Vec<_>>(), ["2026-10", "2026-11"]);
    assert!(recs.iter().all(|r| r.status == RunStatus::Ok));
    assert!(run_due_with(&src, dir.path(), &config, at(2026, 12, 15, 10), clock).await.unwrap().is_empty());

    let log = RunLog::open(dir.path()).read_all().unwrap();
    let mut periods: Vec<&str> = log.iter().map(|r| r.period.as_str()).collect();
    periods.sort();
    assert_eq!(periods, ["2026-09", "2026-10", "2026-11"], "each period exactly once");
    for p in ["2026-09", "2026-10", "2026-11"] {
        assert!(dir.path().join("reports/finance_audit_monthly").join(p).join("report.html").is_file());
    }
}

#[tokio::test]
async fn a_manual_run_of_an_old_period_starts_no_catch_up() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(9);
    let config = only(&Config::defaults().unwrap(), "finance_audit_monthly"); // 05:00 on the 1st
    // Run by hand for March (as the demo does for its simulated months), then the server starts in December.
    let def = config.get("finance_audit_monthly").unwrap();
    let march = Period::parse(def.period, "2026-03").unwrap();
    fieldhouse_reports::scheduler::run_now(&src, dir.path(), def, march, None, None).await.unwrap();
    let recs = run_due_with(&src, dir.path(), &config, at(2026, 12, 15, 9), || at(2026, 1, 1, 0)).await.unwrap();
    // Only the newest due period, not April .. November.
    assert_eq!(recs.iter().map(|r| r.period.as_str()).collect::<Vec<_>>(), ["2026-11"]);
    // A period already written by hand is not run again by the schedule.
    let dir = tempfile::tempdir().unwrap();
    let november = Period::parse(def.period, "2026-11").unwrap();
    fieldhouse_reports::scheduler::run_now(&src, dir.path(), def, november, None, None).await.unwrap();
    let recs = run_due_with(&src, dir.path(), &config, at(2026, 12, 15, 9), || at(2026, 1, 1, 0)).await.unwrap();
    assert!(recs.is_empty(), "{recs:?}");
}

#[tokio::test]
async fn a_failing_report_is_recorded_and_retried_without_stopping_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(9);
    let config = Config::defaults().unwrap();
    src.fail_next("dso", 1);
    let now = at(2026, 11, 4, 12);
    let recs = run_due_with(&src, dir.path(), &config, now, move || now).await.unwrap();
    assert_eq!(recs.len(), 4, "all four reports ran");
    let failed: Vec<_> = recs.iter().filter(|r| r.status == RunStatus::Failed).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].report, "finance_audit_monthly");
    assert!(failed[0].error.as_deref().unwrap().contains("dso"), "{:?}", failed[0].error);
    assert!(dir.path().join("reports/management_weekly/2026-W44/report.html").is_file());
    assert!(!dir.path().join("reports/finance_audit_monthly/2026-10").exists());

    // Not retried before the pause, retried after it, then done.
    assert!(
        {
            let t = now + chrono::Duration::minutes(2);
            run_due_with(&src, dir.path(), &config, t, move || t)
        }
        .await
        .unwrap()
        .is_empty()
    );
    let recs = {
        let t = now + chrono::Duration::minutes(6);
        run_due_with(&src, dir.path(), &config, t, move || t)
    }
    .await
    .unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!((recs[0].report.as_str(), recs[0].attempt, recs[0].status), ("finance_audit_monthly", 2, RunStatus::Ok));
    assert!(dir.path().join("reports/finance_audit_monthly/2026-10/report.html").is_file());
    assert!(
        {
            let t = now + chrono::Duration::hours(5);
            run_due_with(&src, dir.path(), &config, t, move || t)
        }
        .await
        .unwrap()
        .is_empty()
    );

    // A report that keeps failing gives up after 1 + retries attempts.
    let dir = tempfile::tempdir().unwrap();
    let config = only(&config, "failure_stats_monthly");
    src.fail_next("mtbf", 100);
    let mut attempts = 0;
    for hour in 0..48 {
        let recs = {
            let t = now + chrono::Duration::hours(hour);
            run_due_with(&src, dir.path(), &config, t, move || t)
        }
        .await
        .unwrap();
        attempts += recs.len();
    }
    assert_eq!(attempts, 4);
}

#[tokio::test]
async fn a_partner_cannot_list_or_download_another_agents_statement() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(11);
    let config = Config::defaults().unwrap();
    let stmt = config.get("claim_settlement_monthly").unwrap();
    let period = period_for(stmt);
    for agent in [AGENT_A, AGENT_B] {
        run_report(&src, dir.path(), stmt, period, Some(agent), None).await.unwrap();
    }
    let mgmt = config.get("management_weekly").unwrap();
    run_report(&src, dir.path(), mgmt, period_for(mgmt), None, None).await.unwrap();

    let mine = list_reports(dir.path(), Some(AGENT_A)).unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].agent, mine[0].path.clone()),
        (Some(AGENT_A), format!("claim_settlement_monthly/2026-10/{AGENT_A}"))
    );
    let all = list_reports(dir.path(), None).unwrap();
    assert_eq!(all.len(), 3);

    let own = format!("claim_settlement_monthly/2026-10/{AGENT_A}/report.pdf");
    let other = format!("claim_settlement_monthly/2026-10/{AGENT_B}/report.pdf");
    assert!(resolve_download(dir.path(), Some(AGENT_A), &own).unwrap().is_file());
    for bad in [
        other.clone(),
        format!("claim_settlement_monthly/2026-10/{AGENT_A}/../{AGENT_B}/report.pdf"),
        "management_weekly/2026-W42/report.html".to_owned(),
        format!("claim_settlement_monthly/2026-10/{}/report.pdf", AGENT_B.simple()),
        "../../etc/passwd".to_owned(),
        format!("/claim_settlement_monthly/2026-10/{AGENT_A}/report.pdf"),
        format!("claim_settlement_monthly/2026-10/{AGENT_A}/missing.pdf"),
        "runs.jsonl".to_owned(),
    ] {
        assert!(matches!(resolve_download(dir.path(), Some(AGENT_A), &bad), Err(Error::NotFound)), "{bad}");
    }
    // Unbound callers (admin, finance) reach any file, still only inside the folder.
    assert!(resolve_download(dir.path(), None, &other).is_ok());
    assert!(resolve_download(dir.path(), None, "management_weekly/2026-W42/report.html").is_ok());
    assert!(resolve_download(dir.path(), None, "management_weekly/../../x").is_err());
}
