//! The KPI catalog on Apache Ballista (issue 22): a scheduler and two
//! executors started in this process on loopback (`fieldhouse_engine::cluster`),
//! a lake of a simulated month with its entity tables, and every KPI of the
//! catalog computed by the local engine and by the cluster: the answers are
//! the same. Also: a partner-scoped caller of a cluster engine is served
//! locally, with its own rows only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{lines, same_row};
use fieldhouse_engine::entity::MaintainOptions;
use fieldhouse_engine::{AsOf, Caller, Engine, KpiRequest, SessionOptions, Source, cluster, collect, run_kpi};

async fn answer(engine: &Engine, request: &KpiRequest, caller: &Caller) -> Vec<String> {
    let stream = run_kpi(engine, request, caller).await.unwrap_or_else(|e| panic!("{}: {}", request.name, e.chain()));
    lines(&collect(stream).await.unwrap_or_else(|e| panic!("{}: {}", request.name, e.chain())))
}

#[test]
fn every_kpi_answers_the_same_on_a_ballista_cluster_of_two_executors() {
    // Deep plans are encoded and decoded recursively: the stack of a cluster's runtime.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .thread_stack_size(cluster::STACK_BYTES)
        .enable_all()
        .build()
        .unwrap()
        .block_on(on_a_cluster());
}

async fn on_a_cluster() {
    let month = common::simulated_month().await;
    let local = Engine::open(month.dir.path()).unwrap();
    local.maintain_entities(MaintainOptions::default()).await.unwrap();
    let version = u64::try_from(local.lake_version().await.unwrap()).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let scheduler = cluster::start_scheduler(listener).await.unwrap();
    cluster::start_executors(scheduler, 2, 1).await.unwrap();
    let mut config = local.config().clone();
    config.cluster = Some(scheduler.to_string());
    let remote = Engine::new(config).unwrap();

    let session = |source| SessionOptions { as_of: AsOf::Version(version), now: Some(month.now), source };
    let kpis: Vec<_> = local.catalog().list().cloned().collect();
    assert_eq!(kpis.len(), 24);
    let mut rows = 0;
    for def in &kpis {
        // Over the entity tables (what KPIs read), and for two KPIs also over the raw
        // events, whose inlined views make the deepest plans the cluster receives.
        let mut sources = vec![Source::Auto];
        if ["first_time_fix_rate", "sla_response_compliance"].contains(&def.name.as_str()) {
            sources.push(Source::Events);
        }
        for source in sources {
            let request = KpiRequest { name: def.name.clone(), session: session(source), ..KpiRequest::default() };
            let a = answer(&local, &request, &Caller::admin()).await;
            let b = answer(&remote, &request, &Caller::admin()).await;
            let what = format!("KPI `{}` from {source:?}, local vs cluster", def.name);
            assert_eq!(a.len(), b.len(), "{what}: row counts");
            for (x, y) in a.iter().zip(&b) {
                same_row(x, y, &what);
            }
            rows += a.len();
        }
    }
    assert!(rows > 24, "the catalog gave answers ({rows} rows)");

    // The cluster engine really leaves the process: with no scheduler at its address it fails
    // (it does not fall back to computing locally).
    let mut config = local.config().clone();
    let unused = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    config.cluster = Some(unused.to_string());
    let nowhere = Engine::new(config).unwrap();
    let request = KpiRequest { name: "backlog".into(), session: session(Source::Auto), ..KpiRequest::default() };
    let failed = match run_kpi(&nowhere, &request, &Caller::admin()).await {
        Err(_) => true,
        Ok(stream) => collect(stream).await.is_err(),
    };
    assert!(failed, "a KPI on a cluster without a scheduler fails");

    // A partner's slice is planned locally, even on a cluster engine: the same rows as the local engine's.
    let agent = month
        .events
        .iter()
        .find_map(|e| e.get("agent_id").and_then(|v| v.as_str()).map(str::to_string))
        .and_then(|a| a.parse().ok())
        .expect("the month has a service agent");
    let request =
        KpiRequest { name: "claim_settlement".into(), session: session(Source::Auto), ..KpiRequest::default() };
    let partner = Caller::partner(agent);
    assert_eq!(answer(&local, &request, &partner).await, answer(&remote, &request, &partner).await);
}
