//! `POST /api/v1/events`: external batches over HTTP.
//!
//! - Body: NDJSON (`Content-Type: application/x-ndjson`, the default), a JSON
//!   array (`application/json`) or CSV (`text/csv`); `?format=` overrides.
//! - `Idempotency-Key` header (optional, recommended): the first answer for a
//!   key is stored durably (SQLite `ingest.db` beside the lake) together with a
//!   SHA-256 of the body. The same key with the same body gets the stored
//!   answer again (header `Idempotency-Replayed: true`); with a different body,
//!   422. Keys are written after the commit; if the process dies between the
//!   commit and storing the key, a retry is answered afresh and the events the
//!   first attempt committed are reported as `duplicate` (never written twice).
//! - 200 with a [`BatchReport`] once the batch is durable, even when every
//!   record was rejected; 400 for a malformed body; 413 above the body limit.
//! - Batches are committed one at a time per process (a mutex around the
//!   [`Ingestor`]), so the duplicate check and the commit are atomic with
//!   respect to other HTTP batches.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rusqlite::{Connection, OptionalExtension};
use sha2::Digest;
use tracing::{error, warn};

use crate::batch::{BatchReport, IngestOptions, Ingestor};
use crate::decode::Format;
use crate::error::{Error, Result};
use crate::lake::Lake;
use crate::metrics::Metrics;

/// Durable store of idempotency keys and their first answers.
#[derive(Debug)]
pub struct IdempotencyStore {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub body_sha256: String,
    pub status: u16,
    pub response: String,
}

impl IdempotencyStore {
    /// Open (or create) the store at `path` (e.g. `<data-dir>/ingest.db`).
    pub fn open(path: &Path) -> Result<IdempotencyStore> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
        }
        let conn = Connection::open(path).map_err(Error::sqlite(path))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS idempotency (
                 key TEXT PRIMARY KEY,
                 body_sha256 TEXT NOT NULL,
                 status INTEGER NOT NULL,
                 response TEXT NOT NULL,
                 created_at TEXT NOT NULL)",
        )
        .map_err(Error::sqlite(path))?;
        Ok(IdempotencyStore { conn: Mutex::new(conn), path: path.to_path_buf() })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The stored answer for `key`.
    pub fn get(&self, key: &str) -> Result<Option<StoredAnswer>> {
        self.lock()
            .query_row("SELECT body_sha256, status, response FROM idempotency WHERE key = ?1", [key], |r| {
                Ok(StoredAnswer { body_sha256: r.get(0)?, status: r.get(1)?, response: r.get(2)? })
            })
            .optional()
            .map_err(Error::sqlite(&self.path))
    }

    /// Store the first answer for `key` (a second store of the same key is ignored).
    pub fn put(&self, key: &str, answer: &StoredAnswer) -> Result<()> {
        self.lock()
            .execute(
                "INSERT OR IGNORE INTO idempotency (key, body_sha256, status, response, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                (key, &answer.body_sha256, answer.status, &answer.response, chrono::Utc::now().to_rfc3339()),
            )
            .map_err(Error::sqlite(&self.path))?;
        Ok(())
    }
}

/// Shared state of the ingest endpoint.
#[derive(Debug, Clone)]
pub struct HttpState {
    ingestor: Arc<tokio::sync::Mutex<Ingestor>>,
    keys: Arc<IdempotencyStore>,
    body_limit: usize,
    metrics: Arc<Metrics>,
}

impl HttpState {
    /// State over `lake`, keeping idempotency keys in `keys_db` (e.g. `<data-dir>/ingest.db`).
    pub fn new(lake: Lake, keys_db: &Path, options: IngestOptions, metrics: Arc<Metrics>) -> Result<HttpState> {
        let body_limit = options.limits.max_body_bytes;
        let ingestor =
            Ingestor::new(lake, IngestOptions { keep_records: true, ..options }).with_metrics(metrics.clone());
        Ok(HttpState {
            ingestor: Arc::new(tokio::sync::Mutex::new(ingestor)),
            keys: Arc::new(IdempotencyStore::open(keys_db)?),
            body_limit,
            metrics,
        })
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}

/// The ingest routes: `POST /api/v1/events`.
pub fn router(state: HttpState) -> Router {
    let limit = state.body_limit;
    Router::new().route("/api/v1/events", post(post_events)).layer(DefaultBodyLimit::max(limit)).with_state(state)
}

#[derive(Debug, serde::Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

fn error_response(status: StatusCode, code: &str, message: String) -> Response {
    (status, axum::Json(serde_json::json!({"error": code, "message": message}))).into_response()
}

fn json_response(status: StatusCode, body: String, replayed: bool) -> Response {
    let mut resp = (status, body).into_response();
    let headers = resp.headers_mut();
    headers.insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if replayed {
        headers.insert("idempotency-replayed", HeaderValue::from_static("true"));
    }
    resp
}

fn sha256_hex(body: &[u8]) -> String {
    sha2::Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect()
}

async fn post_events(
    State(state): State<HttpState>,
    Query(q): Query<FormatQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let format = match q.format.as_deref() {
        Some(f) => match f.parse::<Format>() {
            Ok(f) => f,
            Err(e) => return error_response(StatusCode::BAD_REQUEST, "unknown_format", e.to_string()),
        },
        None => headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(Format::from_content_type)
            .unwrap_or(Format::Ndjson),
    };
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let hash = sha256_hex(&body);
    if let Some(key) = &key {
        if key.is_empty() || key.len() > 256 {
            return error_response(StatusCode::BAD_REQUEST, "bad_idempotency_key", "1 to 256 characters".into());
        }
        match state.keys.get(key) {
            Ok(Some(stored)) if stored.body_sha256 == hash => {
                let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
                return json_response(status, stored.response, true);
            }
            Ok(Some(_)) => {
                let e = Error::IdempotencyMismatch { key: key.clone() };
                return error_response(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", e.to_string());
            }
            Ok(None) => {}
            Err(e) => {
                error!(error = %e, "idempotency store read failed");
                return error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error".into());
            }
        }
    }
    let batch_id = key.clone().unwrap_or_else(|| format!("http:{}", uuid::Uuid::now_v7()));
    let result: Result<BatchReport> = {
        let mut ingestor = state.ingestor.lock().await;
        // Re-check under the lock: a concurrent request with the same key may have finished.
        if let Some(key) = &key
            && let Ok(Some(stored)) = state.keys.get(key)
        {
            if stored.body_sha256 == hash {
                let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
                return json_response(status, stored.response, true);
            }
            return error_response(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused", key.clone());
        }
        ingestor.ingest_body(format, &body, &batch_id, "http").await
    };
    match result {
        Ok(report) => {
            let text = serde_json::to_string(&report).unwrap_or_else(|_| "{}".into());
            if let Some(key) = &key {
                let answer = StoredAnswer { body_sha256: hash, status: 200, response: text.clone() };
                if let Err(e) = state.keys.put(key, &answer) {
                    warn!(error = %e, key, "could not store idempotency key");
                }
            }
            json_response(StatusCode::OK, text, false)
        }
        Err(e @ Error::MalformedBody { .. }) | Err(e @ Error::UnknownFormat(_)) => {
            error_response(StatusCode::BAD_REQUEST, "malformed_body", e.to_string())
        }
        Err(e @ Error::BodyTooLarge { .. }) => {
            error_response(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", e.to_string())
        }
        Err(e) => {
            error!(error = ?e, "ingest failed");
            error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error".into())
        }
    }
}
