//! [`EngineSource`]: the [`KpiSource`] over the real KPI engine
//! (`fieldhouse-engine`), pinned to a Delta version of the lake.
//!
//! Parameters: the report period goes to the KPI parameters the KPI
//! declares — `from`/`to` (instants, or local dates for `date` parameters),
//! `as_of` (the period's last day) — and the engine's clock (`fh_now()`) is
//! set to the end of the period, so lists of open orders and ages are as
//! they were then. Per-agent runs use a caller bound to the agent: the
//! engine scopes every row to it.

use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use async_trait::async_trait;
use chrono::Days;
use fieldhouse_engine::session::{AsOf, SessionOptions};
use fieldhouse_engine::{Caller, Engine, KpiRequest, ParamType, Role, SqlLimits, collect, run_kpi, run_sql};
use uuid::Uuid;

use crate::source::{KpiParams, KpiSource};
use crate::{Error, Result};

/// The engine as a report source.
pub struct EngineSource {
    engine: Engine,
}

impl std::fmt::Debug for EngineSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineSource").finish_non_exhaustive()
    }
}

fn engine_err(kpi: &str) -> impl FnOnce(fieldhouse_engine::Error) -> Error + '_ {
    move |e| Error::Kpi { kpi: kpi.to_owned(), message: crate::scheduler::error_chain(&e) }
}

impl EngineSource {
    /// Over an engine already opened.
    pub fn new(engine: Engine) -> EngineSource {
        EngineSource { engine }
    }

    /// Open the engine over `<data_dir>/lake`.
    pub fn open(data_dir: &Path) -> Result<EngineSource> {
        Ok(EngineSource { engine: Engine::open(data_dir).map_err(engine_err("(engine)"))? })
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine request for one KPI run.
    pub fn request(&self, kpi: &str, params: &KpiParams, as_of_version: i64) -> Result<KpiRequest> {
        let def = self.engine.catalog().get(kpi).map_err(engine_err(kpi))?;
        let version = u64::try_from(as_of_version)
            .map_err(|_| Error::Kpi { kpi: kpi.to_owned(), message: format!("bad lake version {as_of_version}") })?;
        let mut req = KpiRequest::new(kpi).as_of(AsOf::Version(version)).now(params.to);
        for p in &def.params {
            let value = match (p.name.as_str(), p.ty) {
                ("from", ParamType::Date) => params.from_date.to_string(),
                ("from", _) => params.from.to_rfc3339(),
                ("to", ParamType::Date) => params.to_date.to_string(),
                ("to", _) => params.to.to_rfc3339(),
                ("as_of", ParamType::Date) => (params.to_date - Days::new(1)).to_string(),
                ("as_of", _) => params.to.to_rfc3339(),
                _ => continue,
            };
            req = req.param(&p.name, value);
        }
        for (k, v) in &params.filters {
            req = req.param(k, v.clone());
        }
        for d in &params.by {
            req = req.by(d);
        }
        Ok(req)
    }
}

/// A caller that may run every KPI, bound to `agent` when given (the engine
/// then scopes all rows to that agent, as for the agent's partner tokens).
fn caller(agent: Option<Uuid>) -> Caller {
    Caller { role: Role::Admin, agent_id: agent }
}

#[async_trait]
impl KpiSource for EngineSource {
    async fn lake_version(&self) -> Result<i64> {
        let lake = |e: fieldhouse_engine::Error| Error::Kpi { kpi: "(lake)".into(), message: e.to_string() };
        let v = self.engine.events_version().await.map_err(lake)?;
        i64::try_from(v)
            .map_err(|_| Error::Kpi { kpi: "(lake)".into(), message: format!("lake version {v} out of range") })
    }

    async fn run(
        &self,
        kpi: &str,
        params: &KpiParams,
        agent: Option<Uuid>,
        as_of_version: i64,
    ) -> Result<Vec<RecordBatch>> {
        let req = self.request(kpi, params, as_of_version)?;
        let stream = run_kpi(&self.engine, &req, &caller(agent)).await.map_err(engine_err(kpi))?;
        collect(stream).await.map_err(engine_err(kpi))
    }

    async fn agents(&self, as_of_version: i64) -> Result<Vec<Uuid>> {
        let version = u64::try_from(as_of_version).unwrap_or(0);
        let options = SessionOptions { as_of: AsOf::Version(version), ..SessionOptions::default() };
        let limits = SqlLimits { max_rows: 100_000, timeout: None };
        let sql = "SELECT DISTINCT agent_id FROM agents WHERE agent_id IS NOT NULL ORDER BY agent_id";
        let stream =
            run_sql(&self.engine, sql, &Caller::admin(), limits, &options).await.map_err(engine_err("agents"))?;
        let mut out = Vec::new();
        for batch in collect(stream).await.map_err(engine_err("agents"))? {
            let col = arrow::compute::cast(batch.column(0), &arrow::datatypes::DataType::Utf8)?;
            let col = col.as_string::<i32>();
            for i in 0..col.len() {
                if col.is_valid(i)
                    && let Ok(id) = Uuid::parse_str(col.value(i))
                {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }
}
