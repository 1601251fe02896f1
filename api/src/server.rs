//! Assembling the application and serving it with graceful shutdown.
//!
//! Layers, outermost first: request id (`x-request-id`, kept from the client
//! or a new UUIDv7, echoed in the response), tracing (one span per request
//! with the id, method, path, status and latency), metrics (by matched
//! route), then routing; every route but `/healthz` (and the public extra
//! routes such as the dashboard's own cookie login) passes the bearer-token
//! check of [`crate::auth::authorize`].

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Uri};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::AuthState;
use crate::config::ServeConfig;
use crate::error::{ApiError, Error, Result};
use crate::metrics::ApiMetrics;
use crate::ops_routes::AppState;

pub use crate::state::{ApiState, MetricsText};

/// Request ids: UUIDv7.
#[derive(Debug, Clone, Copy, Default)]
struct MakeUuid7;

impl MakeRequestId for MakeUuid7 {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string()).ok().map(RequestId::new)
    }
}

async fn track(State(metrics): State<Arc<ApiMetrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    metrics.request(route.as_deref().unwrap_or("unmatched"), &method, response.status().as_u16(), started.elapsed());
    response
}

async fn healthz(State(s): State<AppState>) -> std::result::Result<axum::Json<serde_json::Value>, ApiError> {
    let ops = s.ops.clone();
    let seq = tokio::task::spawn_blocking(move || ops.outbox_max_seq())
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(ApiError::from)?;
    Ok(axum::Json(serde_json::json!({ "status": "ok", "outbox_seq": seq })))
}

/// The whole application: `protected` routes (e.g. the ingest endpoint)
/// join the API's behind the token check; `public` routes (e.g. the
/// dashboard, which has its own login) are merged as they are.
pub fn app_with(state: ApiState, protected: Router, public: Router) -> Router {
    let auth = AuthState { tokens: state.tokens.clone(), metrics: state.metrics.clone() };
    let metrics = state.metrics.clone();
    let ops_state = AppState { ops: state.ops.clone() };
    let request_id = HeaderName::from_static("x-request-id");
    crate::ops_routes::router(ops_state.clone())
        .merge(crate::query_routes::router(state))
        .merge(protected)
        .route_layer(from_fn_with_state(auth, crate::auth::authorize))
        .merge(Router::new().route("/healthz", axum::routing::get(healthz)).with_state(ops_state))
        .merge(public)
        .fallback(|uri: Uri| async move { ApiError::not_found(format!("no route for {}", uri.path())) })
        .layer(from_fn_with_state(metrics, track))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &axum::http::Request<axum::body::Body>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
                })
                .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeUuid7))
}

/// [`app_with`] without extra routes.
pub fn app(state: ApiState) -> Router {
    app_with(state, Router::new(), Router::new())
}

/// Open the data directory, listen on the configured address and serve until
/// `shutdown` completes, letting requests in flight finish.
pub async fn serve(
    data_dir: &Path,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let addr = config.addr;
    let grace = Duration::from_secs(config.shutdown_grace_secs);
    let state = ApiState::open(data_dir, config, fieldhouse_engine::local_lake(data_dir))?;
    let listener = TcpListener::bind(addr).await.map_err(|source| Error::Bind { addr: addr.to_string(), source })?;
    serve_on(listener, app(state), shutdown, grace).await
}

/// Serve `app` on an already bound listener (tests bind `127.0.0.1:0`).
/// After `shutdown`, requests in flight get `grace` to finish.
pub async fn serve_on(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> Result<()> {
    let local = listener.local_addr().map_err(Error::Serve)?;
    tracing::info!(%local, "fieldhouse API listening");
    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        tracing::info!("stop requested: finishing requests in flight");
        let _ = stopping_tx.send(());
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(signal).into_future();
    tokio::pin!(server);
    let deadline = async move {
        if stopping_rx.await.is_ok() {
            tokio::time::sleep(grace).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        r = &mut server => r.map_err(Error::Serve)?,
        () = deadline => tracing::warn!(grace_secs = grace.as_secs(), "requests still running after the grace period: stopping"),
    }
    tracing::info!("fieldhouse API stopped");
    Ok(())
}
