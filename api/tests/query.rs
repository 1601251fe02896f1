//! KPI, SQL, reports, OpenAPI and metrics endpoints end to end: a real
//! server on 127.0.0.1:0 over a real Delta lake holding the hand-made
//! October of `fieldhouse_testkit::october` (agents A and B).
#![allow(clippy::unwrap_used)]

mod support;

use arrow::array::RecordBatch;
use axum::body::Bytes;
use fieldhouse_testkit::october::*;
use fieldhouse_testkit::{World, id, json_rows, s};
use serde_json::Value;
use support::{Resp, Server, request, start_in, test_config, write_report};

async fn server_with(config: fieldhouse_api::ServeConfig) -> Server {
    let dir = tempfile::tempdir().unwrap();
    fieldhouse_engine::testing::write_events(dir.path(), &october().events).await.unwrap();
    start_in(dir, config, &[("partner_a", id(AGENT_A)), ("partner_b", id(AGENT_B))]).await
}

async fn server() -> Server {
    server_with(test_config()).await
}

fn arrow_batches(r: &Resp) -> Vec<RecordBatch> {
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(r.body.clone()), None).unwrap();
    reader.map(|b| b.unwrap()).collect()
}

fn parquet_batches(r: &Resp) -> Vec<RecordBatch> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(Bytes::from(r.body.clone()))
        .unwrap()
        .build()
        .unwrap();
    reader.map(|b| b.unwrap()).collect()
}

const PERIOD: &str = "from=2026-10-01&to=2026-11-01&now=2026-10-20T00:00:00Z";

#[tokio::test]
async fn kpi_catalog_results_in_every_format_errors_and_cache() {
    let srv = server().await;
    // The catalog: what a client needs to build a form, only what the role may read.
    assert_eq!(srv.get("/api/v1/kpis", None).await.status, 401);
    let cat = srv.get("/api/v1/kpis", Some("technician")).await;
    assert_eq!(cat.status, 200, "{}", cat.text());
    let names: Vec<String> =
        cat.json()["kpis"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap().to_string()).collect();
    assert!(names.contains(&"csat".to_string()) && !names.contains(&"dso".to_string()), "{names:?}");
    let csat = cat.json()["kpis"].as_array().unwrap().iter().find(|k| k["name"] == "csat").unwrap().clone();
    assert!(csat["title"].is_string() && csat["unit"].is_string() && csat["dimensions"].is_array(), "{csat}");
    assert_eq!(csat["params"][0]["name"], "from");
    assert_eq!(csat["params"][0]["type"], "timestamp");
    let r = srv.get("/api/v1/kpis?foo=1", Some("technician")).await;
    assert_eq!((r.status, r.error().as_str()), (400, "bad_parameter"));
    assert!(r.message().contains("`foo`"), "{}", r.message());

    // A valid call in every format; all say the same.
    let path = format!("/api/v1/kpis/claim_settlement?{PERIOD}");
    let json = srv.get(&path, Some("finance")).await;
    assert_eq!(json.status, 200, "{}", json.text());
    assert_eq!(json.header("content-type"), Some("application/json"));
    let rows = json.json().as_array().unwrap().clone();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let csv = srv.get(&format!("{path}&format=csv"), Some("finance")).await;
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(csv.text().lines().count(), 3, "{}", csv.text());
    assert!(csv.text().starts_with("agent_id,"), "{}", csv.text());
    let nd = srv.get(&format!("{path}&format=ndjson"), Some("finance")).await;
    assert_eq!(nd.text().lines().count(), 2);
    let arrow = srv.get_with(&path, "finance", &[("Accept", "application/vnd.apache.arrow.stream")]).await;
    assert_eq!(arrow.status, 200);
    assert_eq!(json_rows(&arrow_batches(&arrow)), rows);
    let pq = srv.get_with(&path, "finance", &[("Accept", "application/vnd.apache.parquet")]).await;
    assert_eq!(&pq.body[..4], b"PAR1");
    assert_eq!(json_rows(&parquet_batches(&pq)), rows);
    let uncached = srv.get(&format!("{path}&cache=false"), Some("finance")).await;
    assert_eq!(uncached.json(), json.json());

    // Grouped, and the bad parameters named.
    let r = srv.get(&format!("/api/v1/kpis/csat?{PERIOD}&by=month"), Some("manager")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json()[0]["month"].is_string(), "{}", r.text());
    for (query, param) in [
        ("from=yesterday", "`from`"),
        ("by=planet", "`by`"),
        ("colour=red", "`colour`"),
        ("format=xml", "`format`"),
        ("as_of=soon", "`as_of`"),
        ("now=tomorrow", "`now`"),
        ("cache=maybe", "`cache`"),
        ("as_of=99", "`as_of`"),
    ] {
        let r = srv.get(&format!("/api/v1/kpis/csat?{query}"), Some("manager")).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text());
        assert!(r.message().contains(param), "{query}: {}", r.message());
    }
    let r = srv.get_with("/api/v1/kpis/csat", "manager", &[("Accept", "image/png")]).await;
    assert_eq!(r.status, 406);
    let r = srv.get("/api/v1/kpis/nothing", Some("manager")).await;
    assert_eq!((r.status, r.error().as_str()), (404, "kpi_not_found"));
    // The audience decides: a technician may not read DSO, a finance token may.
    let r = srv.get("/api/v1/kpis/dso", Some("technician")).await;
    assert_eq!((r.status, r.error().as_str()), (403, "forbidden"), "{}", r.text());
    assert_eq!(srv.get("/api/v1/kpis/dso", Some("finance")).await.status, 200);
    assert_eq!(srv.get("/api/v1/kpis/dso", None).await.status, 401);

    // The cache: served from memory until the lake moves on.
    let again = srv.get(&path, Some("finance")).await;
    assert_eq!(again.header("x-computed-at"), json.header("x-computed-at"));
    let v0: i64 = json.header("x-lake-version").unwrap().parse().unwrap();
    let mut w = World::default();
    extra_order(&mut w);
    let v1 = fieldhouse_engine::testing::write_events(srv.dir.path(), &w.events).await.unwrap();
    let fresh = srv.get(&path, Some("finance")).await;
    assert_eq!(fresh.header("x-lake-version").unwrap().parse::<i64>().unwrap(), v1 as i64);
    assert!(v1 as i64 > v0);
    assert_ne!(fresh.header("x-computed-at"), json.header("x-computed-at"));
    // Pinned to the old version: the old answer.
    let old = srv.get(&format!("{path}&as_of={v0}"), Some("finance")).await;
    assert_eq!(old.json(), json.json());
    srv.stop().await;
}

#[tokio::test]
async fn a_partner_never_sees_another_agents_claims_on_any_path() {
    let srv = server().await;
    let (sa, sb) = (s(AGENT_A), s(AGENT_B));
    let leaks = |text: &str| text.contains(&sb) || text.contains(&s(C2)) || text.contains(&s(C4));

    // KPIs, in every format, with and without a crafted agent filter.
    let crafted_filter = format!("&agent={sb}");
    for (kpi, extras) in [
        ("claim_settlement", vec!["", crafted_filter.as_str()]),
        ("suspect_claims", vec!["", crafted_filter.as_str()]),
        ("agent_scorecard", vec![""]),
    ] {
        for extra in extras {
            let path = format!("/api/v1/kpis/{kpi}?{PERIOD}{extra}");
            for format in ["json", "csv", "ndjson"] {
                let r = srv.get(&format!("{path}&format={format}"), Some("partner_a")).await;
                assert_eq!(r.status, 200, "{kpi} {format}: {}", r.text());
                assert!(!leaks(&r.text()), "{kpi} {format} leaks: {}", r.text());
            }
            for format in ["arrow", "parquet"] {
                let r = srv.get(&format!("{path}&format={format}"), Some("partner_a")).await;
                let batches = if format == "arrow" { arrow_batches(&r) } else { parquet_batches(&r) };
                let text = serde_json::to_string(&json_rows(&batches)).unwrap();
                assert!(!leaks(&text), "{kpi} {format} leaks: {text}");
            }
        }
    }
    // The partner does see its own.
    let own = srv.get(&format!("/api/v1/kpis/claim_settlement?{PERIOD}"), Some("partner_a")).await;
    assert!(own.text().contains(&sa), "{}", own.text());
    // And the cache does not hand one agent's answer to another.
    let b = srv.get(&format!("/api/v1/kpis/claim_settlement?{PERIOD}"), Some("partner_b")).await;
    assert!(b.text().contains(&sb) && !b.text().contains(&sa), "{}", b.text());

    // SQL: crafted WHERE and UNION.
    let crafted = [
        format!("SELECT * FROM claims WHERE agent_id = '{sb}'"),
        format!("SELECT claim_id, agent_id FROM claims WHERE agent_id = '{sa}' OR 1 = 1"),
        format!("SELECT agent_id FROM events WHERE agent_id = '{sa}' UNION SELECT agent_id FROM claims"),
        "SELECT * FROM events WHERE event_type LIKE 'claim%'".to_string(),
        "SELECT agent_id, payload FROM events UNION ALL SELECT agent_id, CAST(claim_id AS VARCHAR) FROM claims".into(),
        "SELECT * FROM rejected_events".into(),
    ];
    for (i, q) in crafted.iter().enumerate() {
        let body = serde_json::json!({ "sql": q }).to_string();
        // Each scoped session takes seconds in a debug build: CSV only for the first query.
        let formats: &[&str] = if i == 0 { &["json", "csv"] } else { &["json"] };
        for format in formats {
            let r = request(
                srv.addr,
                "POST",
                "/api/v1/sql",
                Some(srv.token("partner_a")),
                &[("Accept", if *format == "csv" { "text/csv" } else { "application/json" })],
                Some(body.as_bytes()),
            )
            .await;
            assert!(r.status == 200 || r.status == 400, "{q}: {} {}", r.status, r.text());
            assert!(!leaks(&r.text()), "{q} leaks: {}", r.text());
        }
    }
    let r = srv.post("/api/v1/sql", Some("partner_a"), r#"{"sql":"SELECT count(*) AS n FROM claims"}"#).await;
    assert_eq!(r.json()[0]["n"], 3, "{}", r.text());

    // Reports: only its own statement; another agent's looks like nothing at all.
    let dir = srv.dir.path();
    write_report(
        dir,
        "claim_statement",
        "2026-10",
        Some(id(AGENT_A)),
        &["admin", "finance", "partner"],
        "statement.csv",
        "A",
    );
    write_report(
        dir,
        "claim_statement",
        "2026-10",
        Some(id(AGENT_B)),
        &["admin", "finance", "partner"],
        "statement.csv",
        "B",
    );
    write_report(dir, "weekly_pack", "2026-W42", None, &["admin", "manager"], "pack.html", "<html>");
    let list = srv.get("/api/v1/reports", Some("partner_a")).await;
    assert_eq!(list.status, 200, "{}", list.text());
    let reports = list.json()["reports"].as_array().unwrap().clone();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(!list.text().contains(&sb));
    let own = format!("/api/v1/reports/files/claim_statement/2026-10/{sa}/statement.csv");
    let r = srv.get(&own, Some("partner_a")).await;
    assert_eq!((r.status, r.text().as_str()), (200, "A"));
    let theirs =
        srv.get(&format!("/api/v1/reports/files/claim_statement/2026-10/{sb}/statement.csv"), Some("partner_a")).await;
    let missing =
        srv.get(&format!("/api/v1/reports/files/claim_statement/2026-10/{sa}/nothing.csv"), Some("partner_a")).await;
    assert_eq!((theirs.status, theirs.json()), (missing.status, missing.json()));
    assert_eq!(theirs.status, 404);
    for p in [
        "/api/v1/reports/files/weekly_pack/2026-W42/pack.html".to_string(),
        format!("/api/v1/reports/files/claim_statement/2026-10/{sa}/../{sb}/statement.csv"),
        format!("/api/v1/reports/files/claim_statement/2026-10/{sb}/manifest.json"),
    ] {
        assert_eq!(srv.get(&p, Some("partner_a")).await.status, 404, "{p}");
    }
    // Other roles: by the report's audience.
    assert_eq!(srv.get("/api/v1/reports/files/weekly_pack/2026-W42/pack.html", Some("manager")).await.status, 200);
    let r = srv.get("/api/v1/reports/files/weekly_pack/2026-W42/pack.html", Some("technician")).await;
    assert_eq!(r.status, 403);
    let all = srv.get("/api/v1/reports", Some("finance")).await.json();
    assert_eq!(all["reports"].as_array().unwrap().len(), 2, "{all}");
    let r = srv.get("/api/v1/reports?period=../x", Some("finance")).await;
    assert_eq!(r.status, 400);
    assert!(r.message().contains("`period`"));
    assert_eq!(srv.get("/api/v1/reports", None).await.status, 401);
    assert_eq!(srv.get(&own, None).await.status, 401);
    assert_eq!(srv.get(&format!("{own}?x=1"), Some("partner_a")).await.status, 400);
    srv.stop().await;
}

async fn sql(srv: &Server, who: &str, q: &str) -> Resp {
    srv.post("/api/v1/sql", Some(who), &serde_json::json!({ "sql": q }).to_string()).await
}

#[tokio::test]
async fn sql_refuses_writes_files_and_runaway_queries_and_keeps_serving() {
    let srv =
        server_with(fieldhouse_api::ServeConfig { sql_timeout_secs: 3, sql_memory_mib: 16, ..test_config() }).await;
    let r = sql(&srv, "engineer", "SELECT event_type, count(*) AS n FROM events GROUP BY 1 ORDER BY 1").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.json().as_array().unwrap().len() > 10);
    assert_eq!(r.header("x-row-limit"), Some("1000"));
    // Raw SQL text works too, and the row limit applies.
    let r = request(
        srv.addr,
        "POST",
        "/api/v1/sql",
        Some(srv.token("finance")),
        &[("Content-Type", "application/sql")],
        Some(b"SELECT * FROM events"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = srv.post("/api/v1/sql", Some("finance"), r#"{"sql":"SELECT * FROM events","max_rows":3}"#).await;
    assert_eq!(r.json().as_array().unwrap().len(), 3);

    for (q, code) in [
        ("CREATE TABLE t (x INT)", "refused"),
        ("CREATE VIEW v AS SELECT 1", "refused"),
        ("INSERT INTO events SELECT * FROM events", "refused"),
        ("COPY events TO '/tmp/fieldhouse-leak.csv'", "refused"),
        ("DROP TABLE events", "refused"),
        ("CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'", "refused"),
        ("SELECT 1; DROP TABLE events", "refused"),
        ("SET datafusion.execution.batch_size = 1", "refused"),
        ("SELECT * FROM '/etc/passwd'", "bad_query"),
        ("SELECT * FROM nothing_here", "bad_query"),
        ("SELEC 1", "refused"),
    ] {
        let r = sql(&srv, "admin", q).await;
        assert_eq!((r.status, r.error().as_str()), (400, code), "{q}: {}", r.text());
        assert!(
            !r.message().is_empty() && !r.message().contains(&srv.dir.path().display().to_string()),
            "{q}: {}",
            r.message()
        );
        assert!(!r.message().contains("backtrace") && !r.message().contains("github.com"), "{q}: {}", r.message());
    }
    assert!(!std::path::Path::new("/tmp/fieldhouse-leak.csv").exists());
    let r = sql(&srv, "admin", "SELECT no_such_column FROM events").await;
    assert!(r.message().contains("no_such_column"), "{}", r.message());

    // A query that would run (nearly) forever is stopped at the time limit (3 s here).
    let started = std::time::Instant::now();
    let r =
        sql(&srv, "engineer", "SELECT count(*) FROM generate_series(1, 100000000000) AS t(v) WHERE v % 7 = 3").await;
    assert_eq!((r.status, r.error().as_str()), (422, "query_timeout"), "{}", r.text());
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // One that would use unbounded memory is stopped at the memory limit (16 MiB here).
    let r = sql(&srv, "engineer", "SELECT array_agg(v) FROM generate_series(1, 200000000) AS t(v)").await;
    assert_eq!((r.status, r.error().as_str()), (422, "query_too_large"), "{}", r.text());
    let r = sql(
        &srv,
        "engineer",
        "SELECT v, count(*) FROM generate_series(1, 100000000) AS t(v) GROUP BY v ORDER BY 2 DESC",
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text());
    // The server keeps serving.
    assert_eq!(sql(&srv, "engineer", "SELECT 1 AS one").await.json()[0]["one"], 1);
    assert_eq!(srv.get("/healthz", None).await.status, 200);

    // Access and parameters.
    assert_eq!(sql(&srv, "manager", "SELECT 1").await.status, 403);
    assert_eq!(sql(&srv, "dispatcher", "SELECT 1").await.status, 403);
    assert_eq!(srv.post("/api/v1/sql", None, r#"{"sql":"SELECT 1"}"#).await.status, 401);
    for (body, param) in [
        (r#"{"sql":"SELECT 1","max_rows":0}"#, "`max_rows`"),
        (r#"{"sql":"SELECT 1","max_rows":5000}"#, "`max_rows`"),
        (r#"{"query":"SELECT 1"}"#, "`query`"),
        (r#"{"max_rows":1}"#, "`sql`"),
        (r#"{"sql":"  "}"#, "`sql`"),
        (r#"{"sql":"SELECT 1","format":"xls"}"#, "`format`"),
        (r#"{"sql":"SELECT 1","as_of":"never"}"#, "`as_of`"),
    ] {
        let r = srv.post("/api/v1/sql", Some("finance"), body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(r.message().contains(param), "{body}: {}", r.message());
    }
    srv.stop().await;
}

#[tokio::test]
async fn openapi_lists_every_route_and_metrics_count_requests() {
    let srv = server().await;
    let r = srv.get("/api/v1/openapi.json", Some("partner_a")).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().unwrap();
    // Every route of the table is documented, and every documented route is served (401, not 404, without a token).
    for route in fieldhouse_api::routes::all() {
        // The ingest endpoint is merged in by `fieldhouse serve` (fieldhouse-ingest), not by this crate.
        let served = route.tag != "ingest";
        let p = route.path.replace("{*", "{");
        let op = &paths[&p][route.method.as_str().to_ascii_lowercase()];
        assert!(op.is_object(), "{} {p} missing", route.method);
        let concrete = p
            .replace("{id}", "0192e4c8-0000-7000-8000-000000000000")
            .replace("{name}", "csat")
            .replace("{path}", "a/b/c");
        let r = request(srv.addr, route.method.as_str(), &concrete, None, &[], None).await;
        assert_eq!(r.status, if served { 401 } else { 404 }, "{} {concrete}", route.method);
    }
    for k in srv.state.engine.catalog().list() {
        assert!(paths.contains_key(&format!("/api/v1/kpis/{}", k.name)), "{}", k.name);
    }
    // It validates: operation ids unique, path parameters declared, every $ref resolves, responses present.
    let mut ids = std::collections::BTreeSet::new();
    let mut refs = Vec::new();
    fn collect_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| collect_refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
            _ => {}
        }
    }
    collect_refs(&doc, &mut refs);
    for r in &refs {
        let ptr = r.strip_prefix('#').unwrap();
        assert!(doc.pointer(ptr).is_some(), "dangling {r}");
    }
    for (path, item) in paths {
        assert!(path.starts_with('/'));
        for (method, op) in item.as_object().unwrap() {
            assert!(["get", "post", "put", "delete", "patch"].contains(&method.as_str()));
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()), "duplicate id in {path}");
            assert!(!op["responses"].as_object().unwrap().is_empty());
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                assert!(declared.contains(&seg.trim_matches(|c| c == '{' || c == '}')), "{path}: {seg} undeclared");
            }
            for p in op["parameters"].as_array().into_iter().flatten() {
                assert!(p["schema"].is_object() && p["name"].is_string(), "{path}: {p}");
            }
        }
    }
    assert_eq!(srv.get("/api/v1/openapi.json", None).await.status, 401);
    assert_eq!(srv.get("/api/v1/openapi.json?x=1", Some("manager")).await.status, 400);

    // Metrics: requests by route and status, query times, cache.
    let _ = srv.get(&format!("/api/v1/kpis/csat?{PERIOD}"), Some("manager")).await;
    let _ = srv.get("/api/v1/kpis/csat?from=x", Some("manager")).await;
    let m = srv.get("/metrics", Some("admin")).await;
    assert_eq!(m.status, 200);
    let text = m.text();
    assert!(
        text.contains(r#"fieldhouse_http_requests_total{route="/api/v1/kpis/{name}",method="GET",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"fieldhouse_http_requests_total{route="/api/v1/kpis/{name}",method="GET",status="400"} 1"#)
    );
    assert!(text.contains(r#"fieldhouse_query_duration_seconds_count{kind="kpi",outcome="ok"} 1"#));
    assert!(text.contains("fieldhouse_kpi_cache_misses_total 1"));
    assert!(text.contains("fieldhouse_auth_failures_total"));
    assert_eq!(srv.get("/metrics", Some("manager")).await.status, 403);
    assert_eq!(srv.get("/metrics", None).await.status, 401);
    assert_eq!(srv.get("/metrics?x=1", Some("admin")).await.status, 400);
    srv.stop().await;
}
