//! Reports over the real KPI engine: a small Delta lake built in a temp dir
//! from the domain's sample events (one of each type), every default report
//! that the engine's catalog fully serves rendered from it, and each CSV
//! equal to what the engine returns for the same KPI request.

#![cfg(feature = "engine")]
#![allow(clippy::unwrap_used)]

use fieldhouse_domain::samples::sample_events;
use fieldhouse_reports::config::Format;
use fieldhouse_reports::render::to_csv;
use fieldhouse_reports::runner::compute_sections;
use fieldhouse_reports::{Config, EngineSource, KpiSource, Period, run_report};

/// The sample events in a new lake under `data_dir` (create + one append).
async fn write_lake(data_dir: &std::path::Path) {
    fieldhouse_engine::testing::write_events(data_dir, &sample_events()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_reports_render_from_a_real_lake_with_the_engines_numbers() {
    let dir = tempfile::tempdir().unwrap();
    write_lake(dir.path()).await;
    let source = EngineSource::open(dir.path()).unwrap();
    let version = source.lake_version().await.unwrap();
    assert_eq!(version, 1, "create + one append");
    let agents = source.agents(version).await.unwrap();
    assert_eq!(agents.len(), 1, "the samples register one agent");

    let config = Config::defaults().unwrap();
    let catalog = source.engine().catalog();
    let mut rendered = 0;
    for def in &config.reports {
        // Reports naming a KPI the catalog lacks cannot run yet (see the note).
        if def.sections.iter().any(|s| catalog.get(&s.kpi).is_err()) {
            continue;
        }
        let period = match def.period {
            fieldhouse_reports::PeriodKind::LastFullWeek => Period::parse(def.period, "2026-W40").unwrap(),
            fieldhouse_reports::PeriodKind::LastFullMonth => Period::parse(def.period, "2026-10").unwrap(),
        };
        let agent = def.per_agent.then(|| agents[0]);
        let run = run_report(&source, dir.path(), def, period, agent, None).await.unwrap();
        assert_eq!(run.lake_version, version);
        let html = std::fs::read_to_string(run.dir.join("report.html")).unwrap();
        assert!(html.contains(&format!("Lake version</td><td><b>{version}</b>")));
        for s in compute_sections(&source, def, period, agent, version).await.unwrap() {
            if !(s.def.table && def.has_format(Format::Csv)) {
                continue;
            }
            let engine_rows = source.run(&s.def.kpi, &s.params, agent, version).await.unwrap();
            let expected = match engine_rows.first() {
                Some(b) => to_csv(Some(&arrow::compute::concat_batches(&b.schema(), &engine_rows).unwrap())).unwrap(),
                None => Vec::new(),
            };
            let got = std::fs::read(run.dir.join(format!("{}.csv", s.def.id()))).unwrap();
            assert_eq!(got, expected, "{} / {}", def.name, s.def.id());
        }
        rendered += 1;
    }
    assert!(rendered >= 3, "management, failure statistics and finance run on the engine");
}

/// The settlement statement on the real engine with the catalog's
/// `claim_list` KPI: it plans and runs, and the statement holds only the
/// agent's claims.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_settlement_statement_lists_only_the_agents_claims() {
    let dir = tempfile::tempdir().unwrap();
    write_lake(dir.path()).await;
    let source = EngineSource::new(fieldhouse_engine::Engine::open(dir.path()).unwrap());
    let version = source.lake_version().await.unwrap();
    let agents = source.agents(version).await.unwrap();
    let def = Config::defaults().unwrap().get("claim_settlement_monthly").unwrap().clone();
    let period = Period::parse(def.period, "2026-10").unwrap();
    let run = run_report(&source, dir.path(), &def, period, Some(agents[0]), None).await.unwrap();
    let claims = std::fs::read_to_string(run.dir.join("claim_list.csv")).unwrap();
    assert!(claims.starts_with("claim_id,order_id,manufacturer_id,filed_at,decision,"), "{claims}");
    assert_eq!(claims.lines().count(), 2, "the sample's one claim: {claims}");
    assert!(std::fs::read(run.dir.join("report.pdf")).unwrap().starts_with(b"%PDF-"));
    // Another agent's statement has no claims.
    let other = uuid::Uuid::from_u128(42);
    let run = run_report(&source, dir.path(), &def, period, Some(other), None).await.unwrap();
    let claims = std::fs::read_to_string(run.dir.join("claim_list.csv")).unwrap();
    assert!(claims.lines().count() <= 1, "{claims}");
}
