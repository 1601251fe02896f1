//! The reading endpoints: the KPI catalog and KPI results, read-only SQL,
//! written reports and their files, the OpenAPI document and `/metrics`.
//!
//! Every handler gets the [`Caller`] the token stands for; scoping to a
//! partner's agent happens in the engine (KPIs, SQL) and in
//! `fieldhouse_reports::catalog` (reports), never here.

use std::sync::Arc;
use std::time::Instant;

use axum::Extension;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use fieldhouse_engine::{AsOf, Caller, Engine, KpiRequest, Role, SessionOptions, SqlLimits};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::encode::{Batches, OutFormat, first_batch, respond};
use crate::error::{ApiError, engine_error};
use crate::state::ApiState;

type ApiResult<T> = Result<T, ApiError>;

/// The body of `POST /api/v1/sql` (or the SQL text itself with
/// `Content-Type: application/sql`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    /// One read-only query (SELECT or WITH ... SELECT).
    pub sql: String,
    /// Read the lake as of a version number, an RFC 3339 instant or a date.
    #[serde(default)]
    pub as_of: Option<String>,
    /// At most this many rows (default and maximum: the server's `sql_max_rows`).
    #[serde(default)]
    pub max_rows: Option<usize>,
    /// Result format (else by `Accept`).
    #[serde(default)]
    pub format: Option<String>,
}

fn pairs(q: Result<Query<Vec<(String, String)>>, QueryRejection>) -> ApiResult<Vec<(String, String)>> {
    q.map(|Query(v)| v).map_err(|e| ApiError::malformed(e.body_text()))
}

fn only_known(pairs: &[(String, String)], known: &[&str]) -> ApiResult<()> {
    for (k, _) in pairs {
        if !known.contains(&k.as_str()) {
            let allowed = if known.is_empty() { "none".to_string() } else { known.join(", ") };
            return Err(ApiError::bad_parameter(k, format!("unknown parameter; this endpoint takes {allowed}")));
        }
    }
    Ok(())
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

fn parse_as_of(raw: Option<&str>) -> ApiResult<AsOf> {
    match raw {
        None => Ok(AsOf::Latest),
        Some(s) => s.parse::<AsOf>().map_err(|e| engine_error(&e, &[])),
    }
}

impl ApiState {
    fn redact(&self) -> Vec<String> {
        let d = self.data_dir.display().to_string();
        let canon = self.data_dir.canonicalize().map(|p| p.display().to_string()).unwrap_or_default();
        vec![d, canon]
    }

    /// An engine error as a response; a lake error for an explicit as-of is the caller's.
    fn query_error(&self, e: &fieldhouse_engine::Error, as_of: AsOf) -> ApiError {
        if as_of != AsOf::Latest && matches!(e, fieldhouse_engine::Error::Lake { .. }) {
            return ApiError::bad_parameter("as_of", "the lake has no state at that version or instant");
        }
        let r = self.redact();
        let r: Vec<&str> = r.iter().map(String::as_str).collect();
        engine_error(e, &r)
    }
}

/// `GET /api/v1/kpis`: the KPIs the caller's role may read.
async fn list_kpis(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    only_known(&pairs(q)?, &[])?;
    let kpis: Vec<Value> = s
        .engine
        .catalog()
        .list()
        .filter(|k| k.allows(caller.role))
        .map(|k| {
            let mut v = serde_json::to_value(k).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.remove("file");
                m.insert("path".into(), Value::String(format!("/api/v1/kpis/{}", k.name)));
            }
            v
        })
        .collect();
    Ok(Json(json!({
        "kpis": kpis,
        "formats": OutFormat::ALL.iter().map(|f| json!({"format": f.name(), "media_type": f.media_type()})).collect::<Vec<_>>(),
        "common_parameters": {
            "by": "group-by dimensions, comma-separated or repeated, from the KPI's `dimensions`",
            "format": "json (default), ndjson, csv, arrow, parquet; or by Accept",
            "as_of": "lake version number, RFC 3339 instant or date: read the lake as it was",
            "now": "RFC 3339 reference instant for ages and SLA states of open orders (default: now)",
            "cache": "false computes afresh and streams the result instead of serving the cached answer",
        },
    })))
}

/// The parsed query of a KPI request.
struct KpiQuery {
    request: KpiRequest,
    format: Option<String>,
    cache: bool,
}

fn kpi_query(name: &str, pairs: Vec<(String, String)>) -> ApiResult<KpiQuery> {
    let mut request = KpiRequest::new(name);
    let mut format = None;
    let mut cache = true;
    let mut now = None;
    let mut as_of = None;
    for (k, v) in pairs {
        match k.as_str() {
            "by" => request.by.extend(v.split(',').map(str::trim).filter(|d| !d.is_empty()).map(str::to_string)),
            "format" => format = Some(v),
            "as_of" => as_of = Some(v),
            "now" => now = Some(v),
            "cache" => {
                cache = match v.as_str() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    _ => return Err(ApiError::bad_parameter("cache", format!("`{v}` is not true or false"))),
                }
            }
            _ => {
                if request.params.insert(k.clone(), v).is_some() {
                    return Err(ApiError::bad_parameter(&k, "given more than once"));
                }
            }
        }
    }
    request.session.as_of = parse_as_of(as_of.as_deref())?;
    if let Some(n) = now {
        let t = DateTime::parse_from_rfc3339(n.trim())
            .map_err(|_| ApiError::bad_parameter("now", format!("`{n}` is not an RFC 3339 instant")))?;
        request.session.now = Some(t.with_timezone(&Utc));
    }
    Ok(KpiQuery { request, format, cache })
}

/// `GET /api/v1/kpis/{name}`.
async fn get_kpi(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    headers: HeaderMap,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Response> {
    let KpiQuery { request, format, cache } = kpi_query(&name, pairs(q)?)?;
    let out = OutFormat::negotiate(format.as_deref(), accept(&headers))?;
    let as_of = request.session.as_of;
    // Refuse before any work: unknown KPI, audience, parameters, dimensions.
    let def = s.engine.catalog().get(&name).map_err(|e| s.query_error(&e, as_of))?;
    if !def.allows(caller.role) {
        return Err(ApiError::forbidden(format!("role `{}` may not read KPI `{}`", caller.role, def.name)));
    }
    def.bind(&request.params).map_err(|e| s.query_error(&e, as_of))?;
    def.render(&request.by).map_err(|e| s.query_error(&e, as_of))?;

    let started = Instant::now();
    let metrics = s.metrics.clone();
    if cache {
        let answer = match s.cache.run(&s.engine, &request, &caller).await {
            Ok(a) => a,
            Err(e) => {
                metrics.query("kpi", "error", started.elapsed());
                return Err(s.query_error(&e, as_of));
            }
        };
        metrics.query("kpi", "ok", started.elapsed());
        let batches: Batches = futures::stream::iter(answer.batches.clone().into_iter().map(Ok)).boxed();
        let mut r = respond(out, answer.schema.clone(), None, batches, Some(&name), |_, _| {})?;
        let h = r.headers_mut();
        h.insert("x-lake-version", HeaderValue::from(answer.lake_version));
        if let Ok(v) = HeaderValue::from_str(&answer.computed_at.to_rfc3339()) {
            h.insert("x-computed-at", v);
        }
        return Ok(r);
    }
    let stream = match fieldhouse_engine::run_kpi(&s.engine, &request, &caller).await {
        Ok(st) => st,
        Err(e) => {
            metrics.query("kpi", "error", started.elapsed());
            return Err(s.query_error(&e, as_of));
        }
    };
    let schema = stream.schema();
    let (first, rest) = match first_batch(Box::pin(stream)).await {
        Ok(x) => x,
        Err(e) => {
            metrics.query("kpi", "error", started.elapsed());
            return Err(s.query_error(&fieldhouse_engine::Error::Query { context: "KPI".into(), source: e }, as_of));
        }
    };
    metrics.query("kpi", "ok", started.elapsed());
    let kpi = name.clone();
    respond(out, schema, first, rest, Some(&name), move |rows, err| {
        if let Some(e) = err {
            tracing::warn!(%kpi, rows, error = %e, "KPI stream failed");
        }
    })
}

fn parse_sql_body(headers: &HeaderMap, body: &Bytes) -> ApiResult<SqlRequest> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let ct = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if ct == "application/sql" || ct == "text/plain" {
        let sql = std::str::from_utf8(body).map_err(|_| ApiError::malformed("the SQL text is not UTF-8"))?;
        return Ok(SqlRequest { sql: sql.to_string(), as_of: None, max_rows: None, format: None });
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize::<_, SqlRequest>(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let text = inner.to_string();
        if let Some(field) = text.strip_prefix("unknown field `").and_then(|t| t.split('`').next()) {
            ApiError::bad_parameter(field, "unknown field; the body takes sql, as_of, max_rows, format")
        } else if text.starts_with("missing field `sql`") {
            ApiError::bad_parameter("sql", "missing: the body is {\"sql\": \"SELECT ...\"}")
        } else if path != "." {
            ApiError::bad_parameter(&path, text)
        } else {
            ApiError::malformed(format!("the body is not a JSON object {{\"sql\": ...}}: {text}"))
        }
    })
}

/// `POST /api/v1/sql`.
async fn post_sql(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let req = parse_sql_body(&headers, &body)?;
    if req.sql.trim().is_empty() {
        return Err(ApiError::bad_parameter("sql", "empty"));
    }
    let cap = s.config.sql_max_rows;
    let max_rows = req.max_rows.unwrap_or(cap);
    if max_rows == 0 || max_rows > cap {
        return Err(ApiError::bad_parameter("max_rows", format!("must be between 1 and {cap}")));
    }
    let out = OutFormat::negotiate(req.format.as_deref(), accept(&headers))?;
    let as_of = parse_as_of(req.as_of.as_deref())?;
    let permit = s.sql_slots.clone().acquire_owned().await.map_err(|e| ApiError::internal(&e))?;
    // A fresh engine per query: its memory pool bounds this query alone.
    let mut cfg = s.engine.config().clone();
    cfg.memory_limit = s.config.sql_memory_mib << 20;
    cfg.query_timeout = s.config.sql_timeout();
    let engine = Engine::new(cfg).map_err(|e| ApiError::internal(&e))?.following(&s.engine);
    let limits = SqlLimits { max_rows, timeout: Some(s.config.sql_timeout()) };
    let session = SessionOptions { as_of, now: None, ..SessionOptions::default() };
    let started = Instant::now();
    let metrics = s.metrics.clone();
    let stream = match fieldhouse_engine::run_sql(&engine, &req.sql, &caller, limits, &session).await {
        Ok(st) => st,
        Err(e) => {
            metrics.query("sql", "error", started.elapsed());
            tracing::info!(role = %caller.role, error = %e, "SQL refused or failed");
            return Err(s.query_error(&e, as_of));
        }
    };
    let schema = stream.schema();
    let (first, rest) = match first_batch(Box::pin(stream)).await {
        Ok(x) => x,
        Err(e) => {
            metrics.query("sql", "error", started.elapsed());
            tracing::info!(role = %caller.role, error = %e, "SQL failed");
            return Err(s.query_error(&fieldhouse_engine::Error::Query { context: "SQL".into(), source: e }, as_of));
        }
    };
    let mut r = respond(out, schema, first, rest, Some("query"), move |rows, err| {
        let outcome = if err.is_some() { "error" } else { "ok" };
        metrics.query("sql", outcome, started.elapsed());
        if let Some(e) = err {
            tracing::info!(rows, error = %e, "SQL stream stopped");
        }
        drop(permit);
    })?;
    r.headers_mut().insert("x-row-limit", HeaderValue::from(max_rows));
    Ok(r)
}

fn may_read_report(caller: &Caller, audience: &[String]) -> bool {
    caller.role == Role::Admin || audience.iter().any(|a| a == caller.role.as_str())
}

/// `GET /api/v1/reports?report=&period=`.
async fn list_reports(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let pairs = pairs(q)?;
    only_known(&pairs, &["report", "period"])?;
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (report, period) = (get("report"), get("period"));
    for (k, v) in [("report", &report), ("period", &period)] {
        if let Some(v) = v
            && (v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')))
        {
            return Err(ApiError::bad_parameter(k, format!("`{v}` is not a report or period name")));
        }
    }
    let dir = s.data_dir.clone();
    let agent = caller.agent_id;
    let all = tokio::task::spawn_blocking(move || fieldhouse_reports::list_reports(&dir, agent))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    let items: Vec<Value> = all
        .into_iter()
        .filter(|l| may_read_report(&caller, &l.audience))
        .filter(|l| report.as_ref().is_none_or(|r| &l.report == r) && period.as_ref().is_none_or(|p| &l.period == p))
        .map(|l| {
            let downloads: Vec<String> =
                l.files.iter().map(|f| format!("/api/v1/reports/files/{}/{f}", l.path)).collect();
            let mut v = serde_json::to_value(&l).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("downloads".into(), json!(downloads));
            }
            v
        })
        .collect();
    Ok(Json(json!({ "reports": items })))
}

fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).as_deref() {
        Some("csv") => "text/csv; charset=utf-8",
        Some("html") | Some("htm") => "text/html; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("pdf") => "application/pdf",
        Some("json") => "application/json",
        Some("parquet") => "application/vnd.apache.parquet",
        Some("txt") | Some("md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// `GET /api/v1/reports/files/{*path}`: 404 for anything the caller may not
/// know of (another agent's statement looks exactly like a missing file).
async fn download_report(
    State(s): State<ApiState>,
    Extension(caller): Extension<Caller>,
    Path(rel): Path<String>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Response> {
    only_known(&pairs(q)?, &[])?;
    let not_found = || ApiError::not_found("no such report file");
    let dir = s.data_dir.clone();
    let agent = caller.agent_id;
    let rel2 = rel.clone();
    let (path, listing) = tokio::task::spawn_blocking(move || {
        let path = fieldhouse_reports::resolve_download(&dir, agent, &rel2).ok()?;
        let parent = rel2.rsplit_once('/').map(|(p, _)| p.to_string())?;
        let listing = fieldhouse_reports::list_reports(&dir, agent).ok()?.into_iter().find(|l| l.path == parent);
        Some((path, listing))
    })
    .await
    .map_err(|e| ApiError::internal(&e))?
    .ok_or_else(not_found)?;
    // A file outside any manifest's folder is not a report output.
    let listing = listing.ok_or_else(not_found)?;
    if !may_read_report(&caller, &listing.audience) {
        return Err(ApiError::forbidden(format!("role `{}` may not read report `{}`", caller.role, listing.report)));
    }
    let bytes = tokio::fs::read(&path).await.map_err(|_| not_found())?;
    let name = rel.rsplit('/').next().unwrap_or("file").to_string();
    let mut r = (StatusCode::OK, bytes).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&name)));
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    Ok(r)
}

async fn openapi(
    State(s): State<ApiState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Json<Arc<Value>>> {
    only_known(&pairs(q)?, &[])?;
    Ok(Json(s.openapi.clone()))
}

async fn metrics(
    State(s): State<ApiState>,
    q: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> ApiResult<Response> {
    only_known(&pairs(q)?, &[])?;
    let mut text = s.metrics.render(Some(s.cache.stats()));
    for extra in s.extra_metrics.iter() {
        text.push_str(&extra());
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// The reading routes, state applied.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/kpis", get(list_kpis))
        .route("/api/v1/kpis/{name}", get(get_kpi))
        .route("/api/v1/sql", post(post_sql))
        .route("/api/v1/reports", get(list_reports))
        .route("/api/v1/reports/files/{*path}", get(download_report))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .with_state(state)
}
