//! [`ApiState`]: what every handler shares (the operational core, the
//! engine and its KPI cache, tokens, metrics, settings), opened once.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fieldhouse_engine::cache::KpiCache;
use fieldhouse_engine::{Engine, EngineConfig};
use fieldhouse_ops::{Ops, OpsConfig};

use crate::auth::TokenStore;
use crate::config::ServeConfig;
use crate::error::{Error, Result};
use crate::metrics::ApiMetrics;

/// Extra Prometheus text appended to `/metrics` (e.g. the ingest counters).
pub type MetricsText = Arc<dyn Fn() -> String + Send + Sync>;

/// Everything the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub ops: Ops,
    pub engine: Engine,
    pub cache: Arc<KpiCache>,
    pub tokens: Arc<TokenStore>,
    pub metrics: Arc<ApiMetrics>,
    pub config: Arc<ServeConfig>,
    pub data_dir: PathBuf,
    /// Bounds the SQL queries running at once.
    pub sql_slots: Arc<tokio::sync::Semaphore>,
    pub extra_metrics: Vec<MetricsText>,
    pub openapi: Arc<serde_json::Value>,
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState").field("data_dir", &self.data_dir).field("config", &self.config).finish()
    }
}

impl ApiState {
    /// Open the operational core (`ops.db`), the token store (`auth.db`) and
    /// the engine over the lake at `lake` (see [`EngineConfig::lake`]).
    pub fn open(data_dir: &Path, config: ServeConfig, lake: url::Url) -> Result<ApiState> {
        let ops = Ops::open(&data_dir.join("ops.db"), OpsConfig::default())?;
        let tokens = TokenStore::open_in(data_dir).map_err(Error::Tokens)?;
        let mut ec = EngineConfig::new(data_dir);
        ec.lake = lake;
        ec.memory_limit = config.memory_limit_mib << 20;
        ec.query_timeout = Duration::from_secs(config.kpi_timeout_secs);
        ec.cluster = config.cluster_scheduler.clone();
        let engine = Engine::new(ec).map_err(|e| Error::Engine(Box::new(e)))?;
        Ok(ApiState::new(ops, engine, Arc::new(tokens), data_dir, config))
    }

    /// State over parts opened by the caller.
    pub fn new(ops: Ops, engine: Engine, tokens: Arc<TokenStore>, data_dir: &Path, config: ServeConfig) -> ApiState {
        let cache = KpiCache::new(config.kpi_cache_entries)
            .with_max_bytes(config.kpi_cache_mib << 20)
            .with_concurrency(config.kpi_concurrency);
        let openapi = Arc::new(crate::openapi::document(engine.catalog()));
        ApiState {
            ops,
            engine,
            cache: Arc::new(cache),
            tokens,
            metrics: Arc::new(ApiMetrics::default()),
            sql_slots: Arc::new(tokio::sync::Semaphore::new(config.sql_concurrency)),
            config: Arc::new(config),
            data_dir: data_dir.to_path_buf(),
            extra_metrics: Vec::new(),
            openapi,
        }
    }

    /// Append `text()` to every `/metrics` answer.
    #[must_use]
    pub fn with_metrics_text(mut self, text: MetricsText) -> ApiState {
        self.extra_metrics.push(text);
        self
    }
}
