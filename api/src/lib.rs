//! The HTTP API (axum): operational endpoints, KPI and SQL endpoints,
//! reports, bearer-token auth, OpenAPI, metrics.
//!
//! - [`server`]: [`ApiState`], [`app`]/[`app_with`] (routes, auth, request
//!   ids, tracing, metrics) and [`serve_on`] with graceful shutdown.
//! - [`routes`]: every route with the roles that may call it (the one table
//!   auth and OpenAPI read).
//! - [`auth`]: [`auth::TokenStore`] (`auth.db`, SHA-256 of each token) and the
//!   authorization middleware.
//! - [`ops_routes`]: the operational core under `/api/v1/`.
//! - [`query_routes`]: `/api/v1/kpis`, `/api/v1/sql`, `/api/v1/reports`,
//!   `/api/v1/openapi.json`, `/metrics`.
//! - [`encode`]: streaming result formats (JSON, NDJSON, CSV, Arrow IPC, Parquet).
//! - [`openapi`]: the OpenAPI 3.1 document, generated from [`routes`] and the KPI catalog.
//! - [`metrics`]: Prometheus text.
//! - [`config`]: [`config::ServeConfig`] from defaults, a TOML file and `FIELDHOUSE_*`.
//! - [`error`]: [`ApiError`], the one error response type
//!   (`{"error": code, "message": ...}`), and the crate's [`Error`].

pub mod auth;
pub mod config;
pub mod encode;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod ops_routes;
pub mod pg;
pub mod query_routes;
pub mod routes;
pub mod server;
pub mod state;

pub use auth::TokenStore;
pub use config::ServeConfig;
pub use error::{ApiError, Error, Result};
/// The dashboard crate, for the server that mounts it beside the API.
pub use fieldhouse_dashboard as dashboard;
pub use ops_routes::AppState;
pub use server::{app, app_with, serve, serve_on};
pub use state::ApiState;
