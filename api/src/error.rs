//! The API's one error type, rendered as `{"error": "<code>", "message": "..."}`.
//!
//! Status codes: 400 malformed request (bad JSON, wrong shape, bad id or
//! query), 404 unknown id or route, 409 not allowed in the current state (or
//! a conflict such as out of stock / already invoiced), 413 body too large,
//! 422 semantically invalid values or a query stopped by its time or memory
//! limit, 401 no valid token, 403 a role that may not read a thing, 406 no
//! acceptable format, 500 internal (no internal text in the body; the cause
//! is logged).
//!
//! [`engine_error`] is the one function that maps engine and DataFusion
//! errors to status codes.

use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Errors of the token store.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The SQLite file could not be opened or queried.
    #[error("token store `{path}`")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// A creation request that makes no sense (partner without agent, ...).
    #[error("{0}")]
    Invalid(String),
    /// No token with that id (or id prefix).
    #[error("no token `{0}`")]
    NotFound(String),
}

/// Errors of the API crate itself (starting the server).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The server failed while running.
    #[error("server")]
    Serve(#[source] std::io::Error),
    /// The operational core could not be opened.
    #[error("ops database")]
    Ops(#[from] fieldhouse_ops::Error),
    /// The token store could not be opened.
    #[error("token store")]
    Tokens(#[source] TokenError),
    /// The KPI engine could not be set up.
    #[error("KPI engine")]
    Engine(#[source] Box<fieldhouse_engine::Error>),
}

/// `Result` with the API [`Error`] by default.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}

/// An error response: status, stable code word, safe message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError { status, code: code.into(), message: message.into() }
    }

    /// 400 `malformed`.
    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 400 `bad_parameter`: the message names the parameter.
    pub fn bad_parameter(name: &str, message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_parameter", format!("parameter `{name}`: {message}"))
    }

    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 500 `internal`: logs `cause`, never shows it.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> ApiError {
        let mut chain = cause.to_string();
        let mut src = cause.source();
        while let Some(s) = src {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            src = s.source();
        }
        tracing::error!(error = %chain, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the server log")
    }
}

impl From<fieldhouse_ops::Error> for ApiError {
    fn from(e: fieldhouse_ops::Error) -> ApiError {
        use fieldhouse_ops::Error as E;
        let status = match &e {
            E::NotFound { .. } => StatusCode::NOT_FOUND,
            E::Transition { .. } | E::Conflict { .. } | E::OutOfStock { .. } => StatusCode::CONFLICT,
            E::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            E::Sqlite(_) | E::Corrupt { .. } | E::Domain(_) | E::Json(_) => return ApiError::internal(&e),
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

/// The first engine error other than a query wrapper in the source chain of `e`.
fn find_engine_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a fieldhouse_engine::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(found) = c.downcast_ref::<fieldhouse_engine::Error>()
            && !matches!(found, fieldhouse_engine::Error::Query { .. })
        {
            return Some(found);
        }
        cur = c.source();
    }
    None
}

/// The DataFusion error at the root of `e`'s chain, if any.
fn find_datafusion<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a datafusion::error::DataFusionError> {
    let mut cur: Option<&'a (dyn std::error::Error + 'static)> = Some(e);
    let mut last = None;
    while let Some(c) = cur {
        if let Some(d) = c.downcast_ref::<datafusion::error::DataFusionError>() {
            last = Some(d.find_root());
        }
        cur = c.source();
    }
    last
}

/// Keep a query error message safe to show: first line only, no file paths
/// of the server, bounded length.
fn safe_message(text: &str, redact: &[&str]) -> String {
    let mut m = text.lines().next().unwrap_or_default().to_string();
    for r in redact.iter().filter(|r| !r.is_empty()) {
        m = m.replace(r, "<data-dir>");
    }
    if m.contains("file://") || m.contains("s3://") || m.contains("s3a://") || m.contains("/lake/") {
        return "the query could not be run".into();
    }
    if m.len() > 500 {
        let mut cut = 500;
        while !m.is_char_boundary(cut) {
            cut -= 1;
        }
        m.truncate(cut);
        m.push('…');
    }
    m
}

/// Map an engine error (or a stream error wrapping one) to a response.
/// `redact` are strings (the data directory) never to show.
pub fn engine_error(e: &(dyn std::error::Error + 'static), redact: &[&str]) -> ApiError {
    use datafusion::error::DataFusionError as D;
    use fieldhouse_engine::Error as E;
    let engine = find_engine_error(e);
    match engine {
        Some(E::UnknownKpi { name }) => {
            return ApiError::new(
                StatusCode::NOT_FOUND,
                "kpi_not_found",
                format!("no KPI `{name}`; GET /api/v1/kpis lists them"),
            );
        }
        Some(E::Parameter { name, message }) => return ApiError::bad_parameter(name, message),
        Some(E::UnknownDimension { kpi, name, allowed }) => {
            return ApiError::bad_parameter("by", format!("KPI `{kpi}` has no dimension `{name}`; allowed: {allowed}"));
        }
        Some(E::Forbidden { message }) => return ApiError::forbidden(message.clone()),
        Some(E::Refused { message }) => {
            return ApiError::new(StatusCode::BAD_REQUEST, "refused", safe_message(message, redact));
        }
        Some(E::Timeout { seconds }) => {
            return ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "query_timeout",
                format!(
                    "the query was stopped after its time limit of {seconds} s; narrow it (a shorter period, fewer rows)"
                ),
            );
        }
        _ => {}
    }
    let Some(root) = find_datafusion(e) else { return ApiError::internal(e) };
    let message = |d: &D| safe_message(&d.message(), redact);
    match root {
        D::ResourcesExhausted(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "query_too_large",
            "the query needs more memory than its limit; aggregate or filter more, or ask for fewer rows",
        ),
        D::Plan(_) | D::SchemaError(..) | D::Execution(_) | D::ArrowError(..) => {
            ApiError::new(StatusCode::BAD_REQUEST, "bad_query", message(root))
        }
        D::SQL(p, _) => ApiError::new(StatusCode::BAD_REQUEST, "bad_query", safe_message(&p.to_string(), redact)),
        D::NotImplemented(_) => {
            ApiError::new(StatusCode::BAD_REQUEST, "unsupported", format!("not supported: {}", message(root)))
        }
        _ => ApiError::internal(e),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.code, message: self.message })).into_response()
    }
}
