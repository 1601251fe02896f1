//! The KPI cache: answers are reused while the lake version stays, computed
//! again after a commit, kept apart per caller scope, and never cached when
//! they fail.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use fieldhouse_engine::cache::KpiCache;
use fieldhouse_engine::{Caller, Engine, KpiRequest, Role};

fn met_breached(a: &fieldhouse_engine::cache::CachedKpi) -> (i64, i64) {
    let b = &a.batches[0];
    let col = |name: &str| {
        let c = arrow::compute::cast(b.column_by_name(name).unwrap(), &arrow::datatypes::DataType::Int64).unwrap();
        arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&c).value(0)
    };
    (col("met"), col("breached"))
}

#[tokio::test]
async fn answers_are_reused_per_lake_version_and_recomputed_after_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let mut world = october();
    let v0 = fieldhouse_engine::testing::write_events(dir.path(), &world.events).await.unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    assert_eq!(engine.lake_version().await.unwrap(), v0 as i64);
    let cache = KpiCache::new(16);
    let req = KpiRequest::new("sla_response_compliance").param("from", "2026-10-01").param("to", "2026-11-01");
    let req = req.now(t(NOW));

    // Computed once: met 4, breached 2 (worked out in kpis.rs).
    let a = cache.run(&engine, &req, &Caller::admin()).await.unwrap();
    assert_eq!(met_breached(&a), (4, 2));
    assert_eq!(a.lake_version, v0 as i64);
    let b = cache.run(&engine, &req, &Caller::admin()).await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b), "the second call is served from the cache");
    let s = cache.stats();
    assert_eq!((s.hits, s.misses, s.entries), (1, 1, 1));

    // Another scope is another answer: a manager is not an admin's cache entry.
    let m = cache.run(&engine, &req, &Caller::with_role(Role::Manager)).await.unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &m));
    assert_eq!(met_breached(&m), (4, 2));

    // A new commit: O9 opened 10-16 08:00 (P1, 2 h), arrived 12:00 → breached; the cache sees the new version.
    let before = world.events.len();
    extra_order(&mut world);
    let v1 = fieldhouse_engine::testing::write_events(dir.path(), &world.events[before..]).await.unwrap();
    assert!(v1 > v0);
    let c = cache.run(&engine, &req, &Caller::admin()).await.unwrap();
    assert!(!std::sync::Arc::ptr_eq(&a, &c));
    assert_eq!(c.lake_version, v1 as i64);
    assert_eq!(met_breached(&c), (4, 3));
    // The old version's answer for the same request and caller was dropped.
    assert_eq!(cache.stats().entries, 2, "admin at v1 and manager at v0");

    // Pinned to the old version: computed for that version, not the latest.
    let old = cache.run(&engine, &req.clone().as_of(fieldhouse_engine::AsOf::Version(v0)), &Caller::admin()).await;
    assert_eq!(met_breached(&old.unwrap()), (4, 2));
}

#[tokio::test]
async fn failures_and_forbidden_requests_are_not_cached() {
    let dir = tempfile::tempdir().unwrap();
    fieldhouse_engine::testing::write_events(dir.path(), &october().events).await.unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let cache = KpiCache::new(16);
    let bad = KpiRequest::new("sla_response_compliance").param("from", "not a date");
    let e = cache.run(&engine, &bad, &Caller::admin()).await.unwrap_err();
    assert!(e.to_string().contains("from"), "{e}");
    let e = cache.run(&engine, &KpiRequest::new("no_such_kpi"), &Caller::admin()).await.unwrap_err();
    assert!(e.to_string().contains("no_such_kpi"), "{e}");
    // A KPI whose audience leaves out technicians.
    let def = engine.catalog().list().find(|d| !d.allows(Role::Technician)).unwrap().name.clone();
    let e = cache.run(&engine, &KpiRequest::new(&def), &Caller::with_role(Role::Technician)).await.unwrap_err();
    assert!(e.to_string().contains("forbidden"), "{e}");
    assert_eq!(cache.stats().entries, 0);
}

/// Sessions of one engine share computed views when their lake version,
/// scope and reference instant agree; a partner after an admin (same
/// instant) must still see only its agent's rows, and an admin after the
/// partner everything.
#[tokio::test]
async fn shared_views_never_cross_caller_scopes() {
    let dir = tempfile::tempdir().unwrap();
    fieldhouse_engine::testing::write_events(dir.path(), &october().events).await.unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    let req = KpiRequest::new("claim_list").param("from", "2026-10-01").param("to", "2026-11-01").now(t(NOW));
    let ids = |callers: &Caller| {
        let engine = engine.clone();
        let req = req.clone();
        let caller = callers.clone();
        async move {
            let stream = fieldhouse_engine::run_kpi(&engine, &req, &caller).await.unwrap();
            let batches = fieldhouse_engine::collect(stream).await.unwrap();
            batches.iter().map(|b| b.num_rows()).sum::<usize>()
        }
    };
    // Five claims in October; agent B filed two of them (C2, C4).
    assert_eq!(ids(&Caller::admin()).await, 5);
    assert_eq!(ids(&Caller::partner(id(AGENT_B))).await, 2);
    assert_eq!(ids(&Caller::admin()).await, 5);
    assert_eq!(ids(&Caller::partner(id(AGENT_A))).await, 3);
    assert_eq!(ids(&Caller::partner(id(AGENT_B))).await, 2);
}
