//! The dashboard over HTTP without a socket (`router(state).oneshot(..)`):
//! login, pages per role, sections omitted by audience, a partner's scope,
//! the numbers against the engine and against the hand-made world of
//! `fieldhouse_testkit::board`, escaping, and the cache.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::*;
use fieldhouse_dashboard::router;
use fieldhouse_engine::{Caller, KpiRequest, Role, collect, run_kpi};
use tower::ServiceExt as _;

/// One lake for the read-only tests of this file.
fn lake() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(october_lake).path()
}

const OCT: &str = "from=2026-10-01&until=2026-10-31";

async fn get(state: &fieldhouse_dashboard::DashboardState, path: &str, token: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get(path);
    if let Some(t) = token {
        req = req.header(header::COOKIE, format!("fh_session={t}"));
    }
    let resp = router(state.clone()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 10 << 20).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn value(html: &str, id: &str) -> f64 {
    data_value(html, id).unwrap_or_else(|| panic!("no {id} in page")).parse().unwrap()
}

/// A number from the engine directly, for the same filters, as the caller.
async fn engine_value(req: KpiRequest, caller: &Caller, column: &str) -> f64 {
    let state = state(lake());
    let batches = collect(run_kpi(&state.engine, &req, caller).await.unwrap()).await.unwrap();
    let b = &batches[0];
    let c = arrow::compute::cast(b.column_by_name(column).unwrap(), &arrow::datatypes::DataType::Float64).unwrap();
    arrow::array::AsArray::as_primitive::<arrow::datatypes::Float64Type>(&c).value(0)
}

#[tokio::test]
async fn login_sets_a_strict_http_only_cookie_and_pages_need_it() {
    let state = state(lake());
    let (status, _) = get(&state, "/", None).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, body) = get(&state, "/login", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("name=\"token\"") && body.contains("name=\"viewport\""));

    let post = |token: &str| {
        Request::post("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    };
    let resp = router(state.clone()).oneshot(post("wrong")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.headers().get(header::SET_COOKIE).is_none());

    let resp = router(state.clone()).oneshot(post(MANAGER)).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let cookie = resp.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(cookie.starts_with(&format!("fh_session={MANAGER};")), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");

    // An unknown token in the cookie is no login.
    let (status, _) = get(&state, "/dashboard/management", Some("forged")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    let resp = router(state.clone()).oneshot(Request::post("/logout").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert!(resp.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn management_numbers_match_the_engine_and_the_hand_count() {
    let state = state(lake());
    let (status, html) = get(&state, &format!("/dashboard/management?{OCT}"), Some(MANAGER)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for id in ["sla-trend", "response-time", "first-time-fix", "backlog", "receivables", "claims"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "section {id} missing");
    }
    assert_eq!(html.matches("<svg").count(), 6, "one chart per section");

    // SLA response: O1, O3, O4 met; O2 breached; O5, O6 open past their deadline → 3 / 6 = 50 %.
    let manager = Caller::with_role(Role::Manager);
    let req = KpiRequest::new("sla_response_compliance").param("from", "2026-10-01").param("to", "2026-11-01");
    assert_eq!(value(&html, "sla-trend-value"), engine_value(req.clone(), &manager, "compliance_pct").await);
    assert_eq!(value(&html, "sla-trend-value"), 50.0);
    // Response time, business = wall (24x7): 120, 360, 60, 180 → median 150.
    assert_eq!(value(&html, "response-time-value"), 150.0);
    // First-time fix: O1, O2, O4 of O1–O4 → 75 %.
    assert_eq!(value(&html, "first-time-fix-value"), 75.0);
    // Backlog: O5 and O6 open.
    assert_eq!(value(&html, "backlog-value"), 2.0);
    // Receivables on 10-31: I1 210.00 (11 days past due) + I2 150.00 (not yet due).
    assert_eq!(value(&html, "receivables-value"), 360.0);
    // Claims filed in October: C1, C2, C3.
    assert_eq!(value(&html, "claims-value"), 3.0);
    assert!(html.contains("Alpha Service") && html.contains("Beta Service"));

    // Region South: O3, O4 met, O5 breached → 66.67 %; the engine agrees.
    let (_, south) = get(&state, &format!("/dashboard/management?{OCT}&region=South"), Some(MANAGER)).await;
    let expect = engine_value(req.clone().param("region", "South"), &manager, "compliance_pct").await;
    assert_eq!(value(&south, "sla-trend-value"), expect);
    assert_eq!(expect, 66.67);
    assert_eq!(value(&south, "first-time-fix-value"), 50.0, "O3 needed two visits");
    assert_eq!(value(&south, "receivables-value"), 150.0);
    assert_eq!(value(&south, "backlog-value"), 1.0);

    // Product MR-900 (PB): O2 breached, O4 met, O5 breached → 33.33 %.
    let (_, pb) = get(&state, &format!("/dashboard/management?{OCT}&product={}", s(PB)), Some(MANAGER)).await;
    assert_eq!(value(&pb, "sla-trend-value"), 33.33);
    assert!(pb.contains("cannot be filtered by product"), "the backlog says it does not take a product");

    // Agent B: O3, O4 met, O5 breached → 66.67 %; its claims C2, C3.
    let (_, b) = get(&state, &format!("/dashboard/management?{OCT}&agent={}", s(AGENT_B)), Some(MANAGER)).await;
    assert_eq!(value(&b, "sla-trend-value"), 66.67);
    assert_eq!(value(&b, "claims-value"), 2.0);
    assert_eq!(value(&b, "backlog-value"), 1.0);

    // Engineering: parts P1 ×2 (200.00) + P2 ×2 (80.00).
    let (_, eng) = get(&state, &format!("/dashboard/engineering?{OCT}"), Some(MANAGER)).await;
    assert_eq!(value(&eng, "parts-pareto-value"), 280.0);
    let p100 = eng.find("P-100").unwrap();
    assert!(p100 < eng.rfind("P-200").unwrap(), "Pareto: the costlier part first");
}

#[tokio::test]
async fn sections_follow_the_kpi_audience_and_pages_without_any_are_forbidden() {
    let state = state(lake());
    // Finance reads receivables and claims on the management page, not SLA, response time or backlog.
    let (status, html) = get(&state, &format!("/dashboard/management?{OCT}"), Some(FINANCE)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("id=\"receivables\"") && html.contains("id=\"claims\""));
    for id in ["sla-trend", "response-time", "backlog", "first-time-fix"] {
        assert!(!html.contains(&format!("id=\"{id}\"")), "finance must not see {id}");
    }
    // Nothing on the dispatch page is for finance.
    let (status, _) = get(&state, "/dashboard/dispatch", Some(FINANCE)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!html.contains("href=\"/dashboard/dispatch"), "no link to a forbidden page");
    // `/` is the role's own page.
    let (status, home) = get(&state, &format!("/?{OCT}"), Some(ENGINEER)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(home.contains("<title>Engineering") && home.contains("id=\"parts-pareto\""));
    let (status, _) = get(&state, "/dashboard/nonsense", Some(MANAGER)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&state, "/dashboard/management?from=2026-13-01", Some(MANAGER)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_partner_sees_only_its_agent() {
    let state = state(lake());
    let (status, html) = get(&state, &format!("/?{OCT}"), Some(PARTNER_A)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<title>Partner"));
    // A's orders O1 (met) and O2 (breached).
    assert_eq!(value(&html, "sla-trend-value"), 50.0);
    assert_eq!(value(&html, "first-time-fix-value"), 100.0);
    assert_eq!(value(&html, "parts-pareto-value"), 180.0);
    assert_eq!(value(&html, "claims-value"), 1.0);
    assert_eq!(value(&html, "backlog-value"), 0.0);
    assert!(html.contains("Alpha Service"));
    assert!(!html.contains("Beta Service") && !html.contains(&s(AGENT_B)), "never another agent's name or id");
    assert!(!html.contains("id=\"receivables\""), "receivables are not for partners");

    // Asking for agent B's rows shows nothing, exactly as for an agent that does not exist. (On the
    // finance page: claims and parts for partners, receivables omitted.)
    let finance = |agent: u128| format!("/dashboard/finance?{OCT}&agent={}", s(agent));
    let (status, other) = get(&state, &finance(AGENT_B), Some(PARTNER_A)).await;
    let (_, nobody) = get(&state, &finance(999), Some(PARTNER_A)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!other.contains("id=\"receivables\"") && other.contains("id=\"claims\""));
    assert!(!other.contains("Beta Service"));
    assert_eq!(data_value(&other, "claims-value"), Some("0".into()));
    for id in ["claims-value", "parts-pareto-value"] {
        assert_eq!(data_value(&other, id), data_value(&nobody, id), "{id}");
    }
}

#[tokio::test]
async fn names_from_the_data_are_escaped() {
    let state = state(lake());
    let (_, html) =
        get(&state, &format!("/dashboard/management?{OCT}&region=%3Cb%3EOst%3C%2Fb%3E"), Some(MANAGER)).await;
    assert!(html.contains("&lt;b&gt;Ost&lt;/b&gt;"));
    assert!(!html.contains("<b>Ost"), "markup from the lake or the query string is never raw");
}

#[tokio::test]
async fn a_repaint_is_served_from_memory_until_the_lake_moves_on() {
    let dir = october_lake();
    let state = state(dir.path());
    let path = format!("/dashboard/management?{OCT}&region=North");
    let (_, first) = get(&state, &path, Some(MANAGER)).await;
    // North: O1 met, O2 and O6 breached.
    assert_eq!(value(&first, "sla-trend-value"), 33.33);
    let misses = state.cache.stats().misses;
    assert!(misses > 0);
    let (_, second) = get(&state, &path, Some(MANAGER)).await;
    assert_eq!(state.cache.stats().misses, misses, "nothing changed: no KPI computed again");
    assert_eq!(value(&second, "sla-trend-value"), 33.33);

    // A commit with O7 (North, met): the page is computed again: 2 met of 4 = 50 %.
    let mut w = october();
    let before = w.events.len();
    later(&mut w);
    fieldhouse_engine::testing::write_events(dir.path(), &w.events[before..]).await.unwrap();
    let (_, third) = get(&state, &path, Some(MANAGER)).await;
    assert!(state.cache.stats().misses > misses);
    assert_eq!(value(&third, "sla-trend-value"), 50.0);
}

/// The lake versions the sections of a page say they show.
fn shown_versions(html: &str) -> Vec<i64> {
    html.split("at lake version ").skip(1).filter_map(|s| s.split('.').next()?.trim().parse().ok()).collect()
}

/// Commit O7 (North, met) to the October lake in `dir`.
async fn commit_later(dir: &std::path::Path) {
    let mut w = october();
    let n = w.events.len();
    later(&mut w);
    fieldhouse_engine::testing::write_events(dir, &w.events[n..]).await.unwrap();
}

/// Paint `path` until it shows the answer with O7 (2 met of 4 in North), at most 120 s.
async fn until_newest(state: &fieldhouse_dashboard::DashboardState, path: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (_, html) = get(state, path, Some(MANAGER)).await;
        if value(&html, "sla-trend-value") == 50.0 || std::time::Instant::now() > deadline {
            return html;
        }
    }
}

#[tokio::test]
async fn after_a_commit_a_recent_answer_is_shown_while_the_newest_is_computed() {
    let dir = october_lake();
    let mut state = state(dir.path());
    state.max_stale = std::time::Duration::from_secs(600);
    let path = format!("/dashboard/management?{OCT}&region=North");
    let (_, first) = get(&state, &path, Some(MANAGER)).await;
    assert_eq!(value(&first, "sla-trend-value"), 33.33);
    let before = shown_versions(&first);
    assert!(!before.is_empty(), "the page says which lake version it shows");

    commit_later(dir.path()).await;

    // At once: the answer of the older version, saying so.
    let (_, second) = get(&state, &path, Some(MANAGER)).await;
    assert_eq!(value(&second, "sla-trend-value"), 33.33);
    assert_eq!(shown_versions(&second), before);

    // Meanwhile the newest is computed in the background: a later paint shows it.
    let newest = until_newest(&state, &path).await;
    assert_eq!(value(&newest, "sla-trend-value"), 50.0, "O7 (North, met): 2 met of 4");
    assert!(shown_versions(&newest).iter().any(|v| before.iter().all(|b| v > b)));
}

#[tokio::test]
async fn an_answer_computed_long_ago_but_newest_until_the_commit_is_shown_while_the_newest_is_computed() {
    let dir = october_lake();
    let mut state = state(dir.path());
    state.max_stale = std::time::Duration::from_secs(1);
    let path = format!("/dashboard/management?{OCT}&region=North");
    let (_, first) = get(&state, &path, Some(MANAGER)).await;
    assert_eq!(value(&first, "sla-trend-value"), 33.33);
    let before = shown_versions(&first);

    // Versions further apart than max_stale: the answer is older than that
    // when the next one comes, but a page found it the newest just before.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (_, again) = get(&state, &path, Some(MANAGER)).await;
    assert_eq!(shown_versions(&again), before);
    commit_later(dir.path()).await;

    // Drawn at once from the older version, not waited for.
    let (_, second) = get(&state, &path, Some(MANAGER)).await;
    assert_eq!(value(&second, "sla-trend-value"), 33.33);
    assert_eq!(shown_versions(&second), before);

    // The newest is computed in the background meanwhile.
    assert_eq!(value(&until_newest(&state, &path).await, "sla-trend-value"), 50.0);
}
